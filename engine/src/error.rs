//! The engine's top-level error: each module has its own enum; this wraps them and adds
//! the conditions callers map to exit codes (not found, conflict, bad argument).

use crate::config::ConfigError;
use crate::digest::DigestError;
use crate::oci::ManifestError;
use crate::reference::ReferenceError;
use crate::registry::RegistryError;
use crate::store::StoreError;
use crate::unpack::UnpackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Spec(#[from] crate::runtime::spec::SpecError),
    #[error("layer {layer}: {source}")]
    Unpack { layer: String, source: UnpackError },
    #[error("layer {layer}: {message}")]
    Layer { layer: String, message: String },
    #[error(transparent)]
    Network(crate::network::NetworkError),
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// Docker's message for a volume that does not exist.
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    /// `volume rm` of a volume some container (any state) still uses.
    #[error("remove {name}: volume is in use - [{containers}]")]
    VolumeInUse { name: String, containers: String },
    /// The container could not be started; `code` is Docker's run exit code (125, 126, 127).
    #[error("{message}")]
    StartFailed { code: i32, message: String },
    /// The message is Docker's whole text (its own "conflict: " or "Conflict. " prefix).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{what}: {message}")]
    Archive { what: String, message: String },
    #[error("rdesk needs root until its rootless mode exists: run it with sudo (sudo rdesk ...)")]
    NotRoot,
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// True for "no such image/object" conditions (Docker's 404s).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Error::NoSuchImage(_)
                | Error::NoSuchContainer(_)
                | Error::NoSuchVolume(_)
                | Error::Network(crate::network::NetworkError::NotFound(_))
                | Error::Registry(RegistryError::ManifestNotFound { .. })
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
