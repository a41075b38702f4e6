//! Named network namespaces: a namespace kept alive by a bind mount of its nsfs file under
//! the run dir (as `ip netns add` does under /run/netns), created before the runtime starts
//! so the container's init joins it (the bundle's network namespace `path`).
//!
//! The engine process has threads (tokio): a namespace is created with `unshare(CLONE_NEWNET)`
//! on a dedicated short-lived thread, which is safe (unshare of the network namespace acts
//! on the calling thread only and needs no single-threaded process, unlike CLONE_NEWUSER or
//! fork), and that thread exits right after, so no thread of the pool is ever left inside.

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

fn on_thread<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    std::thread::Builder::new()
        .name("rdesk-netns".into())
        .spawn(f)?
        .join()
        .map_err(|_| std::io::Error::other("the network namespace thread panicked"))?
}

/// Creates a new network namespace bound at `path` (a new empty file), its loopback up.
pub fn create(path: &Path) -> std::io::Result<()> {
    std::fs::File::create(path)?;
    let target = path.to_path_buf();
    let made = on_thread(move || {
        unshare(CloneFlags::CLONE_NEWNET)?;
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        let own = PathBuf::from(format!("/proc/self/task/{tid}/ns/net"));
        mount(
            Some(&own),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )?;
        let mut nl = super::netlink::Netlink::open()?;
        if let Some(lo) = nl.link_index("lo")? {
            nl.set_up(lo)?;
        }
        Ok(())
    });
    if made.is_err() {
        remove(path);
    }
    made
}

/// Binds an existing namespace file (e.g. the host's, for `--network host`) at `path`.
pub fn bind_existing(source: &Path, path: &Path) -> std::io::Result<()> {
    std::fs::File::create(path)?;
    mount(
        Some(source),
        path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .inspect_err(|_| {
        let _ = std::fs::remove_file(path);
    })?;
    Ok(())
}

/// Unbinds and removes it; the namespace (and the veths in it) goes once no process is in it.
pub fn remove(path: &Path) {
    let _ = umount2(path, MntFlags::MNT_DETACH);
    let _ = std::fs::remove_file(path);
}

/// Runs `f` on a thread inside the namespace at `path` (e.g. to open a netlink socket there).
pub fn run_in<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    let file = std::fs::File::open(path)?;
    on_thread(move || {
        setns(file.as_fd(), CloneFlags::CLONE_NEWNET)?;
        f()
    })
}

/// Is something mounted at `path` (still a live namespace binding)?
pub fn is_bound(path: &Path) -> bool {
    nix::sys::statfs::statfs(path)
        .map(|s| s.filesystem_type().0 == 0x6e73_6673) // NSFS_MAGIC
        .unwrap_or(false)
}
