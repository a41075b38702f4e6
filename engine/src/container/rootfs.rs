//! The container's root filesystem: overlayfs over the image's layer diffs (lowest last in
//! `lowerdir`, through the short `layers/l/` links) with a per-container upper and work dir.

use crate::error::{Error, Result};
use crate::store::Store;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::path::Path;

/// The kernel caps mount options at one page.
const MAX_OPTIONS: usize = 4000;

pub fn mount_overlay(
    store: &Store,
    layers: &[crate::digest::Digest],
    container_dir: &Path,
) -> Result<()> {
    let ls = store.layers();
    let mut lower = Vec::with_capacity(layers.len());
    for chain in layers.iter().rev() {
        let meta = ls.meta(chain)?;
        lower.push(ls.links_dir().join(&meta.link).display().to_string());
    }
    let (upper, work, target) = (
        container_dir.join("upper"),
        container_dir.join("work"),
        container_dir.join("rootfs"),
    );
    for d in [&upper, &work, &target] {
        std::fs::create_dir_all(d)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", d.display())))?;
    }
    if lower.is_empty() {
        // An image without layers (FROM scratch with nothing added): an empty lower dir.
        let empty = container_dir.join("empty");
        std::fs::create_dir_all(&empty)
            .map_err(|e| Error::Internal(format!("cannot create {}: {e}", empty.display())))?;
        lower.push(empty.display().to_string());
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        upper.display(),
        work.display()
    );
    if options.len() > MAX_OPTIONS {
        return Err(Error::InvalidArgument(format!(
            "the image has too many layers ({}) for one overlay mount",
            layers.len()
        )));
    }
    mount(
        Some("overlay"),
        &target,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| {
        Error::Internal(format!(
            "cannot mount the container's overlay root filesystem at {}: {e}",
            target.display()
        ))
    })
}

/// Unmounts (lazily, so a process still inside cannot keep it) if mounted.
pub fn unmount(target: &Path) {
    if is_mountpoint(target) {
        let _ = umount2(target, MntFlags::MNT_DETACH);
    }
}

pub fn is_mountpoint(p: &Path) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let want = p.display().to_string();
    info.lines()
        .any(|l| l.split(' ').nth(4).is_some_and(|m| unescape(m) == want))
}

fn unescape(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}
