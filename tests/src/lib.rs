//! rdesk's test harness.
//!
//! * [`fixtures`]: OCI / Docker images built in memory from the host's busybox-static
//!   ([`fixtures::busybox_image`], [`fixtures::multilayer_image`],
//!   [`fixtures::multiplatform_image`]) and a byte-level [`fixtures::TarBuilder`] for
//!   well-formed and hostile layers.
//! * [`registry`]: the real registry (Debian's `docker-registry`) on a random loopback port,
//!   plain, with htpasswd basic auth, or with TLS and a throwaway CA; pushes fixtures over the
//!   real distribution protocol.
//! * [`fake`]: a small fault-injecting registry for what a real one cannot do (wrong bytes,
//!   truncation, throttling, redirects, bearer tokens), recording every request.
//!
//! Everything cleans up in `Drop` (child processes are killed by PID, temp dirs removed), so a
//! panicking test leaves nothing behind.
//!
//! The harness uses blocking HTTP but may be called from inside a tokio runtime
//! (`#[tokio::test]`): every blocking request runs on a short-lived helper thread.
//!
//! ```no_run
//! use rdesk_testkit::{fixtures, registry::Registry};
//! let reg = Registry::start();
//! let img = fixtures::busybox_image();
//! let digest = reg.push("library/busybox", "latest", &img);
//! assert_eq!(digest, img.manifest_digest);
//! let reference = format!("{}/library/busybox:latest", reg.addr());
//! # let _ = reference;
//! ```

#![warn(missing_docs)]

pub mod fake;
pub mod fixtures;
pub mod registry;

use sha2::{Digest, Sha256};

/// `sha256:<lowercase hex>` of `bytes`: an OCI digest.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// A loopback port that was free a moment ago (bound to `127.0.0.1:0`, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot bind 127.0.0.1:0 to find a free port")
        .port()
}

/// Runs `f` on a fresh thread and returns its result (re-raising its panic).
///
/// reqwest's blocking client panics when created, used or dropped on a thread that is inside
/// a tokio runtime; running it on a plain thread makes the harness usable from
/// `#[tokio::test]` too.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}
