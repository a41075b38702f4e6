//! A container's mounts: resolved at create (named volumes created on first use, anonymous
//! ones generated, the image's VOLUMEs added), set up at start (volumes populated from the
//! image, local-driver mounts made, every target resolved inside the rootfs), released when
//! the container stops, and shown by inspect in Docker's shape.
//!
//! Mount targets: each destination is resolved in the merged rootfs with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` from a descriptor of the rootfs, missing
//! components are created with `mkdirat` on the descriptor of their resolved parent, and the
//! runtime is given the *resolved* in-root path, which contains no symlink. The runtime then
//! resolves it again inside the rootfs and mounts on a descriptor (libcontainer: pathrs +
//! `move_mount`; runc: securejoin + `/proc/self/fd`), so a symlink swapped in meanwhile by
//! another container sharing a volume still resolves inside the rootfs (see docs/volumes.md).

use super::spec::{self, MountKind, MountPoint};
use super::{VolumeMeta, VolumeStore, ANONYMOUS_LABEL};
use crate::container::{rootfs, ContainerRecord, ContainerSpec, ContainerStore};
use crate::error::{Error, Result};
use crate::store::fsutil::FileLock;
use crate::store::Store;
use bollard_stubs::models::{MountPoint as ApiMountPoint, MountPointTypeEnum};
use libcontainer::oci_spec::runtime::{Mount, MountBuilder};
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::mount::MsFlags;
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, Gid, Uid};
use std::collections::{BTreeMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

// ---------------------------------------------------------------------------------------
// create

/// The image's `VOLUME`s (config `Volumes` keys). An entry with a `..` component is refused
/// (CVE-2022-23648: such a path could point the volume outside the rootfs).
pub(crate) fn image_volumes(image_config: &serde_json::Value) -> Result<Vec<String>> {
    let mut out: Vec<String> = image_config
        .get("Volumes")
        .and_then(|v| v.as_object())
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    out.sort();
    for v in &out {
        if v.split('/').any(|c| c == "..") {
            return Err(Error::InvalidArgument(format!(
                "the image's VOLUME {v:?} is invalid: a volume path must not contain \"..\""
            )));
        }
    }
    Ok(out)
}

/// Validates and resolves what create was asked for (binds, anonymous volumes, --mount, the
/// image's VOLUMEs) into mount points, creating the volumes they name. Returns the volumes
/// lock, to hold until the container record is written (so a prune cannot take a volume in
/// between), and the anonymous volumes it created (to remove if create fails after all).
pub(crate) fn prepare(
    store: &Store,
    spec: &ContainerSpec,
    image_config: &serde_json::Value,
) -> Result<(Vec<MountPoint>, Option<FileLock>, Vec<String>)> {
    let mut points: Vec<MountPoint> = Vec::new();
    let mut seen: HashSet<String> = HashSet::new();
    let duplicate = |d: &str| Error::InvalidArgument(format!("Duplicate mount point: {d}"));
    for b in &spec.binds {
        let mp = spec::parse_bind(b)?;
        if !seen.insert(mp.destination.clone()) {
            return Err(duplicate(&mp.destination));
        }
        points.push(mp);
    }
    for m in &spec.mounts {
        let mp = spec::parse_mount(m)?;
        if !seen.insert(mp.destination.clone()) {
            return Err(duplicate(&mp.destination));
        }
        points.push(mp);
    }
    // Config.Volumes and the image's: anonymous volumes where nothing else is mounted.
    let mut anon_targets: Vec<String> = spec.volumes.clone();
    for v in image_volumes(image_config)? {
        anon_targets.push(if v.starts_with('/') {
            v
        } else {
            format!("/{v}")
        });
    }
    for t in &anon_targets {
        let mp = spec::parse_anonymous(t)?;
        if seen.insert(mp.destination.clone()) {
            points.push(mp);
        }
    }
    for mp in &points {
        if mp.kind == MountKind::Volume && !mp.anonymous && !spec::valid_volume_name(&mp.name) {
            return Err(spec::invalid_name_error(&mp.name));
        }
    }
    if points.is_empty() {
        return Ok((points, None, vec![]));
    }
    let vs = VolumeStore::new(store);
    let lock = vs.lock()?;
    let mut created_anon = Vec::new();
    for mp in points.iter_mut().filter(|m| m.kind == MountKind::Volume) {
        let made = if mp.anonymous {
            mp.name = crate::store::fsutil::random_hex(32);
            let mut labels: BTreeMap<String, String> =
                mp.volume_labels.clone().into_iter().collect();
            labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
            vs.create_locked(&mp.name, labels, BTreeMap::new())
                .map(|_| created_anon.push(mp.name.clone()))
        } else if vs.meta(&mp.name).is_err() {
            let labels = mp.volume_labels.clone().into_iter().collect();
            vs.create_locked(&mp.name, labels, BTreeMap::new())
                .map(|_| crate::events::append(store, "volume", "create", &mp.name, &mp.name, ""))
        } else {
            Ok(())
        };
        if let Err(e) = made {
            for n in &created_anon {
                let _ = vs.remove_locked(n);
            }
            return Err(e);
        }
    }
    Ok((points, Some(lock), created_anon))
}

/// Removes anonymous volumes `prepare` made for a container whose create failed later.
pub(crate) fn discard(store: &Store, names: &[String]) {
    let vs = VolumeStore::new(store);
    for n in names {
        let _ = vs.remove_locked(n);
    }
}

// ---------------------------------------------------------------------------------------
// start

fn owned(fd: RawFd) -> OwnedFd {
    super::owned(fd)
}

/// openat2 of `path` under `root` (symlinks and `..` resolve inside it), retried on EAGAIN.
pub(super) fn open_in_root(
    root: &OwnedFd,
    path: &str,
    flags: OFlag,
) -> std::result::Result<OwnedFd, Errno> {
    let p = path.trim_start_matches('/');
    let p = if p.is_empty() { "." } else { p };
    let how = OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
    let mut tries = 0;
    loop {
        match fcntl::openat2(root.as_raw_fd(), p, how) {
            Ok(fd) => return Ok(owned(fd)),
            Err(Errno::EAGAIN) if tries < 16 => tries += 1,
            Err(e) => return Err(e),
        }
    }
}

/// The path inside `root_path` of an open descriptor (from /proc/self/fd), symlink-free.
fn in_root_path(fd: &OwnedFd, root_path: &Path, dest: &str) -> Result<String> {
    let host = std::fs::read_link(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .map_err(|e| internal(&format!("cannot resolve the mount target {dest}"), e))?;
    let rel = host.strip_prefix(root_path).map_err(|_| {
        Error::InvalidArgument(format!(
            "the mount target {dest} resolves outside the container's root filesystem \
             ({}): refusing to mount there",
            host.display()
        ))
    })?;
    Ok(format!("/{}", rel.display()))
}

/// Resolves `dest` inside the rootfs (symlinks followed *inside* it), creating what is
/// missing (directories; the last component as an empty file when `make_file`), and returns
/// the symlink-free in-root path to give the runtime.
pub(crate) fn resolve_target(
    root: &OwnedFd,
    root_path: &Path,
    dest: &str,
    make_file: bool,
) -> Result<String> {
    let fail = |e: Errno| internal(&format!("cannot create the mount target {dest}"), e);
    let mut path = spec::clean_path(dest);
    'resolve: for _ in 0..40 {
        let comps: Vec<String> = path
            .split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        let mut cur = open_in_root(root, "/", OFlag::O_PATH | OFlag::O_DIRECTORY).map_err(fail)?;
        let mut i = 0;
        let mut created_here = 0;
        while i < comps.len() {
            let prefix = comps[..=i].join("/");
            match open_in_root(root, &prefix, OFlag::O_PATH) {
                Ok(fd) => {
                    cur = fd;
                    i += 1;
                    continue;
                }
                Err(Errno::ENOENT) => {}
                Err(Errno::ENOTDIR) => {
                    return Err(Error::InvalidArgument(format!(
                        "cannot mount on {dest}: a component of the path is not a directory \
                         in the container's filesystem"
                    )))
                }
                Err(e) => return Err(fail(e)),
            }
            let name = comps[i].as_str();
            // A dangling symlink: continue at its target, still inside the root.
            match fcntl::readlinkat(Some(cur.as_raw_fd()), name) {
                Ok(target) => {
                    let parent = in_root_path(&cur, root_path, dest)?;
                    let target = target.to_string_lossy().into_owned();
                    let base = if target.starts_with('/') {
                        target
                    } else {
                        format!("{}/{target}", parent.trim_end_matches('/'))
                    };
                    let rest = comps[i + 1..].join("/");
                    path = spec::clean_path(&format!("{base}/{rest}"));
                    continue 'resolve;
                }
                Err(Errno::ENOENT) => {}
                Err(Errno::EINVAL) => {
                    // Appeared meanwhile as something else: resolve it again.
                    created_here += 1;
                    if created_here > 8 {
                        return Err(fail(Errno::EAGAIN));
                    }
                    continue;
                }
                Err(e) => return Err(fail(e)),
            }
            let made = if i + 1 == comps.len() && make_file {
                fcntl::openat(
                    Some(cur.as_raw_fd()),
                    name,
                    OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_WRONLY
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o755),
                )
                .map(|fd| drop(owned(fd)))
            } else {
                stat::mkdirat(Some(cur.as_raw_fd()), name, Mode::from_bits_truncate(0o755))
            };
            match made {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(e) => return Err(fail(e)),
            }
            created_here += 1;
            if created_here > 64 {
                return Err(fail(Errno::EAGAIN));
            }
        }
        let resolved = in_root_path(&cur, root_path, dest)?;
        if resolved == "/" {
            return Err(Error::InvalidArgument(format!(
                "the mount target {dest} resolves to the container's root directory: \
                 refusing to mount over it"
            )));
        }
        return Ok(resolved);
    }
    Err(Error::InvalidArgument(format!(
        "cannot mount on {dest}: too many levels of symbolic links"
    )))
}

fn is_empty_dir(p: &Path) -> bool {
    std::fs::read_dir(p)
        .map(|mut rd| rd.next().is_none())
        .unwrap_or(false)
}

/// Copies the image's content at `dest` (resolved inside the rootfs) into an empty volume:
/// modes, ownership, times, symlinks (as links), devices, fifos and hard links are kept;
/// the volume's root takes the mode and owner of the image's directory (Docker's
/// `copyExistingContents` + `copyOwnership`).
fn populate(root: &OwnedFd, dest: &str, data: &Path) -> Result<()> {
    if !is_empty_dir(data) {
        return Ok(());
    }
    let src = match open_in_root(root, dest, OFlag::O_RDONLY | OFlag::O_DIRECTORY) {
        Ok(fd) => fd,
        // Nothing there (or not a directory) in the image: nothing to copy.
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(()),
        Err(e) => return Err(internal(&format!("cannot open {dest} in the image"), e)),
    };
    let dst = fcntl::open(
        data,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(owned)
    .map_err(|e| internal(&format!("cannot open {}", data.display()), e))?;
    let mut links = std::collections::HashMap::new();
    copy_dir(src.as_raw_fd(), dst.as_raw_fd(), &dst, "", &mut links).map_err(|e| {
        internal(
            &format!("cannot copy {dest} of the image into the volume"),
            e,
        )
    })?;
    let st = stat::fstat(src.as_raw_fd()).map_err(|e| internal("cannot stat", e))?;
    let _ = unistd::fchown(
        dst.as_raw_fd(),
        Some(Uid::from_raw(st.st_uid)),
        Some(Gid::from_raw(st.st_gid)),
    );
    let _ = stat::fchmod(
        dst.as_raw_fd(),
        Mode::from_bits_truncate(st.st_mode & 0o7777),
    );
    Ok(())
}

fn entries(fd: RawFd) -> std::result::Result<Vec<OsString>, Errno> {
    let mut d = nix::dir::Dir::openat(
        Some(fd),
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    Ok(d.iter()
        .flatten()
        .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
        .filter(|n| n != "." && n != "..")
        .collect())
}

fn copy_dir(
    src: RawFd,
    dst: RawFd,
    dst_root: &OwnedFd,
    rel: &str,
    links: &mut std::collections::HashMap<(u64, u64), String>,
) -> std::result::Result<(), Errno> {
    for name in entries(src)? {
        let st = match stat::fstatat(Some(src), name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => continue,
            Err(e) => return Err(e),
        };
        let child_rel = format!("{rel}/{}", name.to_string_lossy());
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let perm = Mode::from_bits_truncate(st.st_mode & 0o7777);
        let n = name.as_os_str();
        match kind {
            SFlag::S_IFDIR => {
                stat::mkdirat(Some(dst), n, Mode::from_bits_truncate(0o700))?;
                let s = owned(fcntl::openat(
                    Some(src),
                    n,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?);
                let d = owned(fcntl::openat(
                    Some(dst),
                    n,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?);
                copy_dir(s.as_raw_fd(), d.as_raw_fd(), dst_root, &child_rel, links)?;
                stat::fchmod(d.as_raw_fd(), perm)?;
            }
            SFlag::S_IFREG => {
                if st.st_nlink > 1 {
                    if let Some(first) = links.get(&(st.st_dev, st.st_ino)) {
                        unistd::linkat(
                            Some(dst_root.as_raw_fd()),
                            OsStr::new(first.trim_start_matches('/')),
                            Some(dst),
                            n,
                            AtFlags::empty(),
                        )?;
                        continue;
                    }
                    links.insert((st.st_dev, st.st_ino), child_rel.clone());
                }
                let s = owned(fcntl::openat(
                    Some(src),
                    n,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )?);
                let d = owned(fcntl::openat(
                    Some(dst),
                    n,
                    OFlag::O_WRONLY
                        | OFlag::O_CREAT
                        | OFlag::O_EXCL
                        | OFlag::O_NOFOLLOW
                        | OFlag::O_CLOEXEC,
                    Mode::from_bits_truncate(0o600),
                )?);
                let (mut sf, mut df) = (std::fs::File::from(s), std::fs::File::from(d));
                std::io::copy(&mut sf, &mut df)
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO)))?;
                stat::fchmod(df.as_raw_fd(), perm)?;
            }
            SFlag::S_IFLNK => {
                let target = fcntl::readlinkat(Some(src), n)?;
                unistd::symlinkat(target.as_os_str(), Some(dst), n)?;
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                stat::mknodat(Some(dst), n, kind, perm, st.st_rdev)?;
                stat::fchmodat(Some(dst), n, perm, stat::FchmodatFlags::FollowSymlink)?;
            }
            _ => continue, // sockets are not copied
        }
        unistd::fchownat(
            Some(dst),
            n,
            Some(Uid::from_raw(st.st_uid)),
            Some(Gid::from_raw(st.st_gid)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
        if kind != SFlag::S_IFREG || st.st_nlink <= 1 || links.contains_key(&(st.st_dev, st.st_ino))
        {
            let times = (
                nix::sys::time::TimeSpec::new(st.st_atime, st.st_atime_nsec),
                nix::sys::time::TimeSpec::new(st.st_mtime, st.st_mtime_nsec),
            );
            let _ = stat::utimensat(
                Some(dst),
                n,
                &times.0,
                &times.1,
                stat::UtimensatFlags::NoFollowSymlink,
            );
        }
        // (setuid/setgid bits are cleared by fchown: set the mode again after it.)
        if kind == SFlag::S_IFDIR || kind == SFlag::S_IFREG {
            let _ = stat::fchmodat(Some(dst), n, perm, stat::FchmodatFlags::FollowSymlink);
        }
    }
    Ok(())
}

/// Mounts a local-driver volume with options (`type`, `device`, `o`) on its `_data`, once:
/// it stays while a running container uses it (Docker's local driver does the same).
fn mount_volume(meta: &VolumeMeta, data: &Path) -> Result<()> {
    if rootfs::is_mountpoint(data) {
        return Ok(());
    }
    let typ = meta.options.get("type").cloned().unwrap_or_default();
    let device = meta
        .options
        .get("device")
        .cloned()
        .unwrap_or_else(|| typ.clone());
    let mut flags = MsFlags::empty();
    let mut rest = Vec::new();
    for o in meta
        .options
        .get("o")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
    {
        match o {
            "" => {}
            "ro" => flags |= MsFlags::MS_RDONLY,
            "rw" => flags &= !MsFlags::MS_RDONLY,
            "nosuid" => flags |= MsFlags::MS_NOSUID,
            "nodev" => flags |= MsFlags::MS_NODEV,
            "noexec" => flags |= MsFlags::MS_NOEXEC,
            "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
            "noatime" => flags |= MsFlags::MS_NOATIME,
            "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
            "relatime" => flags |= MsFlags::MS_RELATIME,
            "bind" => flags |= MsFlags::MS_BIND,
            "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
            "suid" | "dev" | "exec" | "async" | "atime" | "diratime" | "defaults" => {}
            other => rest.push(other),
        }
    }
    let data_opts = rest.join(",");
    let fstype = if typ == "none" {
        None
    } else {
        Some(typ.as_str())
    };
    nix::mount::mount(
        Some(device.as_str()),
        data,
        fstype,
        flags,
        (!data_opts.is_empty()).then_some(data_opts.as_str()),
    )
    .map_err(|e| {
        Error::InvalidArgument(format!(
            "error while mounting volume '{}': failed to mount local volume: mount {device}:{} (type {typ}, o={}): {e}",
            data.display(),
            data.display(),
            meta.options.get("o").map(String::as_str).unwrap_or(""),
        ))
    })?;
    // A bind with flags needs a remount to apply them (as mount(8) does).
    if flags.contains(MsFlags::MS_BIND) && flags.intersects(MsFlags::MS_RDONLY) {
        let _ = nix::mount::mount(
            None::<&str>,
            data,
            None::<&str>,
            flags | MsFlags::MS_REMOUNT,
            None::<&str>,
        );
    }
    Ok(())
}

pub(crate) fn unmount_volume(data: &Path) {
    rootfs::unmount(data);
}

fn oci_mount(dest: &str, typ: &str, source: &str, options: Vec<String>) -> Result<Mount> {
    MountBuilder::default()
        .destination(dest)
        .typ(typ)
        .source(source)
        .options(options)
        .build()
        .map_err(|e| internal("cannot build a mount", e))
}

/// Prepares every mount of the container for the runtime, the rootfs being mounted: the
/// OCI mounts to add to the bundle, destinations resolved inside the rootfs.
pub(crate) fn setup(
    store: &Store,
    record: &ContainerRecord,
    rootfs_dir: &Path,
) -> Result<Vec<Mount>> {
    if record.mount_points.is_empty() {
        return Ok(vec![]);
    }
    let vs = VolumeStore::new(store);
    let _lock = vs.lock()?;
    let mut mounted_now: Vec<std::path::PathBuf> = Vec::new();
    let result = setup_locked(&vs, record, rootfs_dir, &mut mounted_now);
    if result.is_err() {
        // Nothing half-done: the local-driver mounts this start made go again.
        for p in &mounted_now {
            unmount_volume(p);
        }
    }
    result
}

fn setup_locked(
    vs: &VolumeStore,
    record: &ContainerRecord,
    rootfs_dir: &Path,
    mounted_now: &mut Vec<std::path::PathBuf>,
) -> Result<Vec<Mount>> {
    let root_path = std::fs::canonicalize(rootfs_dir)
        .map_err(|e| internal(&format!("cannot resolve {}", rootfs_dir.display()), e))?;
    let root = fcntl::open(
        &root_path,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map(owned)
    .map_err(|e| internal(&format!("cannot open {}", root_path.display()), e))?;
    let mut out = Vec::new();
    for mp in &record.mount_points {
        let mut opts: Vec<String>;
        let (typ, source, make_file) = match mp.kind {
            MountKind::Volume => {
                let meta = vs.meta(&mp.name)?;
                let data = vs.data(&mp.name);
                if meta.mounted() && !rootfs::is_mountpoint(&data) {
                    mount_volume(&meta, &data)?;
                    mounted_now.push(data.clone());
                }
                if mp.copy_data {
                    populate(&root, &mp.destination, &data)?;
                }
                opts = vec!["rbind".into(), "rprivate".into()];
                ("bind", data.display().to_string(), false)
            }
            MountKind::Bind => {
                let src = Path::new(&mp.source);
                if std::fs::symlink_metadata(src).is_err() {
                    if !mp.from_bind_flag {
                        return Err(Error::InvalidArgument(format!(
                            "invalid mount config for type \"bind\": bind mount source path does not exist: {}",
                            mp.source
                        )));
                    }
                    // `-v /host:/x` creates a missing host directory, as Docker does.
                    std::fs::create_dir_all(src).map_err(|e| {
                        internal(
                            &format!("error while creating mount source path '{}'", mp.source),
                            e,
                        )
                    })?;
                }
                let is_dir = std::fs::metadata(src).map(|m| m.is_dir()).unwrap_or(true);
                let bind = if mp.non_recursive { "bind" } else { "rbind" };
                opts = vec![bind.into(), mp.propagation.clone()];
                ("bind", mp.source.clone(), !is_dir)
            }
            MountKind::Tmpfs => {
                opts = spec::tmpfs_options(mp);
                ("tmpfs", "tmpfs".to_string(), false)
            }
        };
        if !mp.rw && mp.kind != MountKind::Tmpfs {
            opts.push("ro".into());
        }
        let dest = resolve_target(&root, &root_path, &mp.destination, make_file)?;
        if mp.kind == MountKind::Volume {
            let is_dir = open_in_root(&root, &dest, OFlag::O_PATH)
                .and_then(|fd| stat::fstat(fd.as_raw_fd()))
                .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR)
                .unwrap_or(true);
            if !is_dir {
                // Docker's message (it names the host path; the container's is clearer).
                return Err(Error::InvalidArgument(format!(
                    "cannot mount volume over existing file, file exists {}",
                    mp.destination
                )));
            }
        }
        out.push(oci_mount(&dest, typ, &source, opts)?);
    }
    Ok(out)
}

/// The container stopped: unmount its local-driver volumes (tmpfs, devices) that no other
/// running container uses, as Docker's local driver does when the last user goes.
pub(crate) fn release(store: &Store, record: &ContainerRecord) {
    release_with(
        &VolumeStore::new(store),
        &ContainerStore::new(store),
        record,
    );
}

/// `release` for the container store's reconcile (a monitor that died cannot release).
pub(crate) fn release_in(root: &Path, locks: &Path, cs: &ContainerStore, record: &ContainerRecord) {
    release_with(&VolumeStore::at(root, locks), cs, record);
}

fn release_with(vs: &VolumeStore, cs: &ContainerStore, record: &ContainerRecord) {
    let with_mounts: Vec<&MountPoint> = record
        .mount_points
        .iter()
        .filter(|m| {
            m.kind == MountKind::Volume && vs.meta(&m.name).map(|v| v.mounted()).unwrap_or(false)
        })
        .collect();
    if with_mounts.is_empty() {
        return;
    }
    let Ok(_lock) = vs.lock() else { return };
    for mp in with_mounts {
        let used = cs.ids().into_iter().any(|id| {
            id != record.id
                && cs.state(&id).map(|s| s.status.is_live()).unwrap_or(false)
                && cs
                    .record(&id)
                    .map(|r| {
                        r.mount_points
                            .iter()
                            .any(|m| m.kind == MountKind::Volume && m.name == mp.name)
                    })
                    .unwrap_or(false)
        });
        if !used {
            unmount_volume(&vs.data(&mp.name));
        }
    }
}

// ---------------------------------------------------------------------------------------
// inspect

/// Docker's `Mounts` of a container.
pub(crate) fn inspect_mounts(store: &Store, record: &ContainerRecord) -> Vec<ApiMountPoint> {
    let vs = VolumeStore::new(store);
    record
        .mount_points
        .iter()
        .map(|mp| match mp.kind {
            MountKind::Volume => ApiMountPoint {
                typ: Some(MountPointTypeEnum::VOLUME),
                name: Some(mp.name.clone()),
                source: Some(vs.data(&mp.name).display().to_string()),
                destination: Some(mp.destination.clone()),
                driver: Some("local".into()),
                mode: Some(if mp.from_bind_flag && mp.mode.is_empty() {
                    "z".into()
                } else {
                    mp.mode.clone()
                }),
                rw: Some(mp.rw),
                propagation: Some(String::new()),
            },
            MountKind::Bind => ApiMountPoint {
                typ: Some(MountPointTypeEnum::BIND),
                name: None,
                source: Some(mp.source.clone()),
                destination: Some(mp.destination.clone()),
                driver: None,
                mode: Some(mp.mode.clone()),
                rw: Some(mp.rw),
                propagation: Some(mp.propagation.clone()),
            },
            MountKind::Tmpfs => ApiMountPoint {
                typ: Some(MountPointTypeEnum::TMPFS),
                name: None,
                source: Some(String::new()),
                destination: Some(mp.destination.clone()),
                driver: None,
                mode: Some(String::new()),
                rw: Some(mp.rw),
                propagation: Some(String::new()),
            },
        })
        .collect()
}

/// `Config.Volumes`' type in the Docker API models.
type ConfigVolumes = std::collections::HashMap<String, std::collections::HashMap<(), ()>>;
/// `HostConfig.Binds`, `HostConfig.Mounts`, `Config.Volumes`.
pub(crate) type InspectConfig = (
    Option<Vec<String>>,
    Option<Vec<bollard_stubs::models::Mount>>,
    Option<ConfigVolumes>,
);

/// `HostConfig.Binds`, `HostConfig.Mounts` and `Config.Volumes` as Docker fills them.
pub(crate) fn inspect_config(record: &ContainerRecord) -> InspectConfig {
    let spec = &record.spec;
    let binds = (!spec.binds.is_empty()).then(|| spec.binds.clone());
    let mounts = (!spec.mounts.is_empty()).then(|| spec.mounts.clone());
    let mut volumes: ConfigVolumes = spec
        .volumes
        .iter()
        .map(|v| (v.clone(), Default::default()))
        .collect();
    for v in image_volumes(&record.image_config).unwrap_or_default() {
        volumes.insert(v, Default::default());
    }
    (binds, mounts, (!volumes.is_empty()).then_some(volumes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn root(t: &tempfile::TempDir) -> (OwnedFd, PathBuf) {
        let p = std::fs::canonicalize(t.path()).unwrap();
        let fd = fcntl::open(&p, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).unwrap();
        (owned(fd), p)
    }

    #[test]
    fn targets_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let (fd, p) = root(&t);
        std::fs::create_dir_all(p.join("var/data")).unwrap();
        std::os::unix::fs::symlink("/var/data", p.join("data")).unwrap();
        std::os::unix::fs::symlink("/", p.join("escape")).unwrap();
        std::os::unix::fs::symlink("../../../../../../tmp", p.join("up")).unwrap();
        std::os::unix::fs::symlink("/nonexistent/deeper", p.join("dangling")).unwrap();
        // Symlinks are followed inside the root; the result has none.
        assert_eq!(
            resolve_target(&fd, &p, "/data/x", false).unwrap(),
            "/var/data/x"
        );
        assert!(p.join("var/data/x").is_dir());
        assert_eq!(
            resolve_target(&fd, &p, "/escape/etc/y", false).unwrap(),
            "/etc/y"
        );
        assert!(p.join("etc/y").is_dir());
        assert_eq!(resolve_target(&fd, &p, "/up/z", false).unwrap(), "/tmp/z");
        assert!(p.join("tmp/z").is_dir());
        assert_eq!(
            resolve_target(&fd, &p, "/dangling/f", true).unwrap(),
            "/nonexistent/deeper/f"
        );
        assert!(p.join("nonexistent/deeper/f").is_file());
        // Onto the root itself through a symlink: refused.
        assert!(resolve_target(&fd, &p, "/escape", false).is_err());
        std::fs::write(p.join("file"), b"").unwrap();
        assert!(resolve_target(&fd, &p, "/file/below", false).is_err());
    }

    #[test]
    fn populate_keeps_modes_links_and_owners() {
        let t = tempfile::tempdir().unwrap();
        let (fd, p) = root(&t);
        let src = p.join("app");
        std::fs::create_dir_all(src.join("sub")).unwrap();
        std::fs::write(src.join("sub/f"), b"content").unwrap();
        std::fs::hard_link(src.join("sub/f"), src.join("hard")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(src.join("sub/f"), std::fs::Permissions::from_mode(0o640))
            .unwrap();
        std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o751)).unwrap();
        let vol = tempfile::tempdir().unwrap();
        let data = vol.path().join("_data");
        std::fs::create_dir(&data).unwrap();
        populate(&fd, "/app", &data).unwrap();
        assert_eq!(std::fs::read(data.join("sub/f")).unwrap(), b"content");
        assert_eq!(
            std::fs::metadata(data.join("sub/f"))
                .unwrap()
                .permissions()
                .mode()
                & 0o7777,
            0o640
        );
        assert_eq!(
            std::fs::metadata(&data).unwrap().permissions().mode() & 0o7777,
            0o751
        );
        assert_eq!(
            std::fs::read_link(data.join("link")).unwrap(),
            PathBuf::from("/etc/passwd")
        );
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            std::fs::metadata(data.join("hard")).unwrap().ino(),
            std::fs::metadata(data.join("sub/f")).unwrap().ino()
        );
        // Not empty any more: a second populate copies nothing over it.
        std::fs::write(data.join("sub/f"), b"changed").unwrap();
        populate(&fd, "/app", &data).unwrap();
        assert_eq!(std::fs::read(data.join("sub/f")).unwrap(), b"changed");
    }

    #[test]
    fn image_volumes_with_dotdot_are_refused() {
        let ok = serde_json::json!({"Volumes": {"/data": {}, "/var/log": {}}});
        assert_eq!(image_volumes(&ok).unwrap(), ["/data", "/var/log"]);
        let bad = serde_json::json!({"Volumes": {"/../../etc": {}}});
        assert!(image_volumes(&bad)
            .unwrap_err()
            .to_string()
            .contains("must not contain \"..\""));
    }
}
