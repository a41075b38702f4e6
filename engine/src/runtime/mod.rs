//! The container runtime side of the engine: what a container's OCI bundle says.

pub mod seccomp;
pub mod spec;
pub mod user;

pub use seccomp::{default_profile, default_seccomp, load_profile, parse_profile, SeccompProfile};
pub use spec::{
    build_spec, docker_capabilities, stop_signal, BundleInput, ImageRuntimeConfig, RunOptions,
    SpecError,
};
pub use user::{resolve_user, ResolvedUser};
