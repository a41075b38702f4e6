//! Operations on an existing container: pause/unpause (cgroup freezer through the runtime),
//! top (the container's cgroup PIDs, rows of the host's `ps`), diff (the overlay upper dir),
//! export and cp (tar streams of the merged root filesystem), rename.
//!
//! Security: every container-side path is resolved inside the merged root with
//! `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` (symlinks, absolute or `..`, cannot
//! leave the root), and trees are walked with `*at` calls on directory descriptors, never
//! through a path string the container could swap for a symlink.

use crate::container::{names, rootfs, ContainerRecord, ContainerStore, Status};
use crate::error::{Error, Result};
use crate::models::{ChangeType, ContainerTopResponse, FilesystemChange};
use crate::store::fsutil::FileLock;
use crate::store::Store;
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{self, Mode, SFlag};
use nix::unistd::{self, UnlinkatFlags};
use std::collections::{BTreeMap, HashMap};
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What `stat` of a path inside a container found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerPathStat {
    pub is_dir: bool,
    pub size: u64,
    pub mode: u32,
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// Takes ownership of a descriptor just returned by a successful open call.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open/openat/openat2 and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

// ---------------------------------------------------------------------------------------
// pause / unpause

/// The external OCI runtime binary, or `None` for the in-process libcontainer.
fn external_runtime(record: &ContainerRecord) -> Option<&str> {
    match record.spec.runtime.as_deref() {
        None | Some("") | Some("rdesk") => None,
        Some(bin) => Some(bin),
    }
}

fn freeze(store: &Store, record: &ContainerRecord, pause: bool) -> Result<()> {
    let runtime_root = store.runroot().join("runtime");
    let id = &record.id;
    match external_runtime(record) {
        None => {
            let mut c = libcontainer::container::Container::load(runtime_root.join(id))
                .map_err(|e| internal("cannot load the container's runtime state", e))?;
            if pause {
                c.pause().map_err(|e| internal("cannot pause", e))
            } else {
                c.resume().map_err(|e| internal("cannot unpause", e))
            }
        }
        Some(bin) => {
            let out = std::process::Command::new(bin)
                .arg("--root")
                .arg(runtime_root.join(bin.replace('/', "_")))
                .arg(if pause { "pause" } else { "resume" })
                .arg(id)
                .output()
                .map_err(|e| internal(&format!("cannot run {bin}"), e))?;
            if !out.status.success() {
                return Err(Error::Internal(format!(
                    "{bin} {}: {}",
                    if pause { "pause" } else { "resume" },
                    String::from_utf8_lossy(&out.stderr).trim()
                )));
            }
            Ok(())
        }
    }
}

pub(crate) fn pause(store: &Store, id: &str) -> Result<()> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    let _lock = cs.lock(id)?;
    let record = cs.record(id)?;
    let mut state = cs.state(id)?;
    match state.status {
        Status::Running => {}
        Status::Paused => {
            return Err(Error::InvalidArgument(format!(
                "Container {id} is already paused"
            )))
        }
        _ => {
            return Err(Error::InvalidArgument(format!(
                "Container {id} is not running"
            )))
        }
    }
    freeze(store, &record, true)?;
    state.status = Status::Paused;
    cs.save_state(id, &state)?;
    crate::events::append(
        store,
        "container",
        "pause",
        id,
        &record.name,
        &record.spec.image,
    );
    Ok(())
}

pub(crate) fn unpause(store: &Store, id: &str) -> Result<()> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    let _lock = cs.lock(id)?;
    let record = cs.record(id)?;
    let state = cs.state(id)?;
    if state.status != Status::Paused {
        return Err(Error::InvalidArgument(format!(
            "Container {id} is not paused"
        )));
    }
    thaw_locked(store, &cs, &record)?;
    crate::events::append(
        store,
        "container",
        "unpause",
        id,
        &record.name,
        &record.spec.image,
    );
    Ok(())
}

fn thaw_locked(store: &Store, cs: &ContainerStore, record: &ContainerRecord) -> Result<()> {
    freeze(store, record, false)?;
    let mut state = cs.state(&record.id)?;
    if state.status == Status::Paused {
        state.status = Status::Running;
        cs.save_state(&record.id, &state)?;
    }
    Ok(())
}

/// Thaws a paused container (a frozen task does not act on signals, not even SIGKILL on
/// cgroup v1), so `kill`/`stop`/`rm -f` of a paused container work, as in Docker.
pub(crate) fn thaw_if_paused(store: &Store, id: &str) -> Result<()> {
    let cs = ContainerStore::new(store);
    let _lock = cs.lock(id)?;
    if cs.state(id)?.status != Status::Paused {
        return Ok(());
    }
    let record = cs.record(id)?;
    thaw_locked(store, &cs, &record)
}

// ---------------------------------------------------------------------------------------
// top

/// PIDs (host namespace) of every process in the container's cgroup.
fn container_pids(store: &Store, id: &str, init: i64) -> Vec<i64> {
    let cs = ContainerStore::new(store);
    let cgroups_path = std::fs::read(cs.bundle(id).join("config.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["linux"]["cgroupsPath"].as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{}/{id}", crate::container::cgroup_parent(store)));
    let rel = cgroups_path.trim_start_matches('/');
    for base in [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/freezer",
        "/sys/fs/cgroup/cpu",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ] {
        if let Ok(s) = std::fs::read_to_string(Path::new(base).join(rel).join("cgroup.procs")) {
            let pids: Vec<i64> = s.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if !pids.is_empty() {
                return pids;
            }
        }
    }
    if init > 0 {
        vec![init]
    } else {
        Vec::new()
    }
}

/// Docker's `top`: the host's `ps` with `ps_args` (default `-ef`), rows of the container's PIDs.
pub(crate) fn top(store: &Store, id: &str, ps_args: &str) -> Result<ContainerTopResponse> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    let state = cs.state(id)?;
    if !state.status.is_live() {
        return Err(Error::InvalidArgument(format!(
            "Container {id} is not running"
        )));
    }
    let pids = container_pids(store, id, state.pid);
    let args: Vec<&str> = if ps_args.trim().is_empty() {
        vec!["-ef"]
    } else {
        ps_args.split_whitespace().collect()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| internal("cannot run ps", e))?;
    if !out.status.success() {
        return Err(Error::InvalidArgument(format!(
            "ps: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_ps(&String::from_utf8_lossy(&out.stdout), &pids)
}

fn parse_ps(output: &str, pids: &[i64]) -> Result<ContainerTopResponse> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let Some(pid_index) = titles.iter().position(|t| t == "PID") else {
        return Err(Error::InvalidArgument(
            "Couldn't find PID field in ps output".into(),
        ));
    };
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() <= pid_index {
            continue;
        }
        let Ok(pid) = fields[pid_index].parse::<i64>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let n = titles.len().max(1);
        let mut row: Vec<String> = fields.iter().take(n - 1).map(|s| s.to_string()).collect();
        if fields.len() >= n {
            row.push(fields[n - 1..].join(" "));
        }
        processes.push(row);
    }
    Ok(ContainerTopResponse {
        titles: Some(titles),
        processes: Some(processes),
    })
}

// ---------------------------------------------------------------------------------------
// diff

fn is_whiteout(md: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    md.file_type().is_char_device() && md.rdev() == 0
}

/// Changes of the container's writable layer against its image, sorted by path.
pub(crate) fn changes(store: &Store, id: &str) -> Result<Vec<FilesystemChange>> {
    let cs = ContainerStore::new(store);
    let record = cs.record(id)?;
    let ls = store.layers();
    let mut lowers = Vec::new();
    // Topmost layer first: the first layer that has the path (or its whiteout) decides.
    for chain in record.layers.iter().rev() {
        let meta = ls.meta(chain)?;
        let dir = ls.links_dir().join(&meta.link);
        let fd = fcntl::open(
            &dir,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| internal(&format!("cannot open {}", dir.display()), e))?;
        lowers.push(owned(fd));
    }
    let mut out = BTreeMap::new();
    walk_upper(&cs.dir(id).join("upper"), "", &lowers, &mut out)?;
    Ok(out
        .into_iter()
        .map(|(path, kind)| FilesystemChange { path, kind })
        .collect())
}

fn in_lower(lowers: &[OwnedFd], rel: &str) -> bool {
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_SYMLINKS);
    let rel = rel.trim_start_matches('/');
    for fd in lowers {
        if let Ok(f) = fcntl::openat2(fd.as_raw_fd(), rel, how) {
            let f = owned(f);
            return match stat::fstat(f.as_raw_fd()) {
                // A whiteout in a higher layer: deleted in the image.
                Ok(st) => {
                    !(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR
                        && st.st_rdev == 0)
                }
                Err(_) => false,
            };
        }
    }
    false
}

/// Mountpoints the engine creates for its bind mounts when the image lacks them: Docker
/// keeps these in an init layer, so `diff` never shows them.
const MOUNTPOINTS: [&str; 4] = [
    "/etc/hostname",
    "/etc/hosts",
    "/etc/resolv.conf",
    "/.dockerenv",
];

/// Records the changes under `dir`; returns how many it recorded and whether it skipped
/// an engine-made mountpoint (a directory holding only those did not change for the user).
fn walk_upper(
    dir: &Path,
    prefix: &str,
    lowers: &[OwnedFd],
    out: &mut BTreeMap<String, ChangeType>,
) -> Result<(usize, bool)> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, false)),
        Err(e) => return Err(internal(&format!("cannot read {}", dir.display()), e)),
    };
    let (mut recorded, mut skipped) = (0, false);
    for entry in rd.flatten() {
        let name = entry.file_name();
        let rel = format!("{prefix}/{}", name.to_string_lossy());
        let Ok(md) = entry.metadata() else { continue };
        if is_whiteout(&md) {
            out.insert(rel, ChangeType::_2);
            recorded += 1;
            continue;
        }
        let kind = if in_lower(lowers, &rel) {
            ChangeType::_0
        } else {
            ChangeType::_1
        };
        if kind == ChangeType::_1
            && md.file_type().is_file()
            && md.len() == 0
            && MOUNTPOINTS.contains(&rel.as_str())
        {
            skipped = true;
            continue;
        }
        out.insert(rel.clone(), kind);
        recorded += 1;
        if md.file_type().is_dir() {
            let (n, only_mountpoints) = walk_upper(&entry.path(), &rel, lowers, out)?;
            if kind == ChangeType::_0 && n == 0 && only_mountpoints {
                // Copied up only to hold the engine's mountpoints.
                out.remove(&rel);
                recorded -= 1;
            }
        }
    }
    Ok((recorded, skipped))
}

// ---------------------------------------------------------------------------------------
// the merged root filesystem, mounted for the time of an operation

/// The container's merged root, open as a directory descriptor. A stopped container's
/// overlay is mounted for the operation (holding the container's lock, so `start` waits)
/// and unmounted when this is dropped.
pub(crate) struct MergedRoot {
    path: PathBuf,
    temporary: bool,
    fd: OwnedFd,
    _lock: Option<FileLock>,
}

impl Drop for MergedRoot {
    fn drop(&mut self) {
        if self.temporary {
            rootfs::unmount(&self.path);
        }
    }
}

impl MergedRoot {
    /// What the container's processes see for `cp` (Docker's archive API): for a running
    /// container its own mount tree through `/proc/<init>/root`, so volumes, binds and the
    /// hosts/resolv.conf files mounted into it are reached; otherwise the overlay root.
    pub(crate) fn open_view(store: &Store, id: &str) -> Result<MergedRoot> {
        let cs = ContainerStore::new(store);
        cs.reconcile(id)?;
        let state = cs.state(id)?;
        if state.status.is_live() && state.pid > 0 {
            let proc_root = PathBuf::from(format!("/proc/{}/root", state.pid));
            let start = crate::container::process_start_time(state.pid);
            if let Ok(fd) = fcntl::open(
                &proc_root,
                OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                // The same process still (not a PID reused since the state was read).
                let same = start != 0 && crate::container::process_start_time(state.pid) == start;
                if same && cs.state(id).is_ok_and(|s| s.pid == state.pid) {
                    return Ok(MergedRoot {
                        path: proc_root,
                        temporary: false,
                        fd: owned(fd),
                        _lock: None,
                    });
                }
            }
        }
        MergedRoot::open(store, id)
    }

    pub(crate) fn open(store: &Store, id: &str) -> Result<MergedRoot> {
        let cs = ContainerStore::new(store);
        cs.reconcile(id)?;
        let record = cs.record(id)?;
        let lock = cs.lock(id)?;
        let state = cs.state(id)?;
        let path = cs.rootfs(id);
        let mounted = rootfs::is_mountpoint(&path);
        let (temporary, lock) = if state.status.is_live() && mounted {
            drop(lock);
            (false, None)
        } else if mounted {
            (false, Some(lock))
        } else {
            rootfs::mount_overlay(store, &record.layers, &cs.dir(id))?;
            (true, Some(lock))
        };
        let fd = match fcntl::open(
            &path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => owned(fd),
            Err(e) => {
                if temporary {
                    rootfs::unmount(&path);
                }
                return Err(internal(&format!("cannot open {}", path.display()), e));
            }
        };
        Ok(MergedRoot {
            path,
            temporary,
            fd,
            _lock: lock,
        })
    }

    /// openat2 inside the root: symlinks and `..` resolve as they would in the container.
    fn resolve(&self, path: &str, flags: OFlag) -> std::result::Result<OwnedFd, Errno> {
        let p = path.trim_start_matches('/');
        let p = if p.is_empty() { "." } else { p };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let mut tries = 0;
        loop {
            match fcntl::openat2(self.fd.as_raw_fd(), p, how) {
                Ok(fd) => return Ok(owned(fd)),
                Err(Errno::EAGAIN) if tries < 16 => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }
}

/// `/a/b/` -> ("/a", Some("b")); `/` -> ("/", None). Lexical, `.` and `..` dropped/applied
/// (clamped at the root, as RESOLVE_IN_ROOT would).
fn split_path(path: &str) -> (String, Option<String>) {
    let mut comps: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                comps.pop();
            }
            c => comps.push(c),
        }
    }
    match comps.pop() {
        None => ("/".into(), None),
        Some(last) => (format!("/{}", comps.join("/")), Some(last.to_string())),
    }
}

fn not_found(path: &str, name: &str) -> Error {
    Error::InvalidArgument(format!(
        "Could not find the file {path} in container {name}"
    ))
}

/// The descriptor of the parent directory and the final name of `path` inside the root;
/// a path ending in `/` or `/.` is the directory itself (as `(fd, ".")`), following a
/// final symlink inside the root.
fn locate(root: &MergedRoot, path: &str) -> std::result::Result<(OwnedFd, OsString), Errno> {
    let (parent, last) = split_path(path);
    let follow = path.ends_with('/') || path.ends_with("/.") || last.is_none();
    if follow {
        let fd = root.resolve(path, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        return Ok((fd, OsString::from(".")));
    }
    let fd = root.resolve(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    let last = last.unwrap_or_default();
    stat::fstatat(
        Some(fd.as_raw_fd()),
        last.as_str(),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    Ok((fd, OsString::from(last)))
}

/// Follows a final symlink (a chain of them) inside the root: the path it names there.
fn follow_final(root: &MergedRoot, path: &str) -> std::result::Result<String, Errno> {
    let mut p = path.to_string();
    for _ in 0..40 {
        let (parent, last) = split_path(&p);
        let Some(last) = last else { return Ok(p) };
        let pfd = root.resolve(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
        match fcntl::readlinkat(Some(pfd.as_raw_fd()), last.as_str()) {
            Ok(t) => {
                let t = t.to_string_lossy().into_owned();
                p = if t.starts_with('/') {
                    t
                } else {
                    format!("{}/{t}", parent.trim_end_matches('/'))
                };
            }
            Err(Errno::EINVAL) => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(Errno::ELOOP)
}

pub(crate) fn stat_path(
    store: &Store,
    id: &str,
    path: &str,
    follow_link: bool,
) -> Result<Option<ContainerPathStat>> {
    let root = MergedRoot::open_view(store, id)?;
    let located = if follow_link {
        follow_final(&root, path).and_then(|p| locate(&root, &p))
    } else {
        locate(&root, path)
    };
    let (fd, name) = match located {
        Ok(x) => x,
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Ok(None),
        Err(e) => return Err(internal(&format!("cannot stat {path}"), e)),
    };
    let st = stat::fstatat(
        Some(fd.as_raw_fd()),
        name.as_os_str(),
        AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| internal(&format!("cannot stat {path}"), e))?;
    Ok(Some(ContainerPathStat {
        is_dir: SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR,
        size: st.st_size as u64,
        mode: st.st_mode,
    }))
}

// ---------------------------------------------------------------------------------------
// tar out: export and copy from the container

/// The extended attributes of an open file (not `trusted.overlay.*`, the overlay's own).
fn fd_xattrs(fd: RawFd) -> Vec<(String, Vec<u8>)> {
    // SAFETY: flistxattr(2) with a null buffer of size 0 only reports the size needed.
    let len = unsafe { libc::flistxattr(fd, std::ptr::null_mut(), 0) };
    if len <= 0 {
        return Vec::new();
    }
    let mut names = vec![0u8; len as usize];
    // SAFETY: the buffer is valid for `names.len()` bytes.
    let len = unsafe { libc::flistxattr(fd, names.as_mut_ptr().cast(), names.len()) };
    if len <= 0 {
        return Vec::new();
    }
    names.truncate(len as usize);
    let mut out = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.overlay.") {
            continue;
        }
        let Ok(cname) = std::ffi::CString::new(name) else {
            continue;
        };
        // SAFETY: size query with a null buffer; `cname` is NUL-terminated.
        let n = unsafe { libc::fgetxattr(fd, cname.as_ptr(), std::ptr::null_mut(), 0) };
        if n < 0 {
            continue;
        }
        let mut value = vec![0u8; n as usize];
        // SAFETY: the buffer is valid for `value.len()` bytes; `cname` is NUL-terminated.
        let n =
            unsafe { libc::fgetxattr(fd, cname.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        if n < 0 {
            continue;
        }
        value.truncate(n as usize);
        out.push((String::from_utf8_lossy(name).into_owned(), value));
    }
    out
}

struct TarOut<W: Write> {
    b: tar::Builder<W>,
    /// (dev, ino) of multiply-linked files already written -> their name in the archive.
    links: HashMap<(u64, u64), String>,
}

impl<W: Write> TarOut<W> {
    fn new(w: W) -> Self {
        let mut b = tar::Builder::new(w);
        b.follow_symlinks(false);
        TarOut {
            b,
            links: HashMap::new(),
        }
    }

    /// Writes `name` (an entry of the directory `dirfd`) as `arcname`, and what is under it.
    fn add(&mut self, dirfd: RawFd, name: &OsStr, arcname: &str) -> Result<()> {
        let st = match stat::fstatat(Some(dirfd), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            // Removed meanwhile (a running container): skip it.
            Err(Errno::ENOENT) => return Ok(()),
            Err(e) => return Err(internal(&format!("cannot stat {arcname}"), e)),
        };
        let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
        let mut h = tar::Header::new_gnu();
        h.set_mode(st.st_mode & 0o7777);
        h.set_uid(st.st_uid as u64);
        h.set_gid(st.st_gid as u64);
        h.set_mtime(st.st_mtime.max(0) as u64);
        h.set_size(0);
        let werr = |e: io::Error| internal(&format!("cannot write {arcname} to the archive"), e);
        match kind {
            SFlag::S_IFDIR => {
                let dir = match nix::dir::Dir::openat(
                    Some(dirfd),
                    name,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(d) => d,
                    Err(Errno::ENOENT) | Err(Errno::ELOOP) | Err(Errno::ENOTDIR) => return Ok(()),
                    Err(e) => return Err(internal(&format!("cannot open {arcname}"), e)),
                };
                if !arcname.is_empty() {
                    self.xattrs(dir.as_raw_fd(), arcname)?;
                    h.set_entry_type(tar::EntryType::Directory);
                    let dname = format!("{}/", arcname.trim_end_matches('/'));
                    self.b
                        .append_data(&mut h, &dname, io::empty())
                        .map_err(werr)?;
                }
                if is_kernel_mount(dir.as_raw_fd()) {
                    // /proc, /sys, /dev, tmpfs of a running container: not its files (Docker's
                    // `cp` cannot copy them either); the directory itself is archived empty.
                    return Ok(());
                }
                let mut dir = dir;
                let fd = dir.as_raw_fd();
                let mut children: Vec<OsString> = dir
                    .iter()
                    .flatten()
                    .map(|e| OsStr::from_bytes(e.file_name().to_bytes()).to_os_string())
                    .filter(|n| n != "." && n != "..")
                    .collect();
                children.sort();
                for c in children {
                    let child = if arcname.is_empty() {
                        c.to_string_lossy().into_owned()
                    } else {
                        format!("{}/{}", arcname.trim_end_matches('/'), c.to_string_lossy())
                    };
                    self.add(fd, &c, &child)?;
                }
                Ok(())
            }
            SFlag::S_IFREG => {
                if st.st_nlink > 1 {
                    let key = (st.st_dev, st.st_ino);
                    if let Some(target) = self.links.get(&key).cloned() {
                        h.set_entry_type(tar::EntryType::Link);
                        return self.b.append_link(&mut h, arcname, target).map_err(werr);
                    }
                    self.links.insert(key, arcname.to_string());
                }
                let fd = match fcntl::openat(
                    Some(dirfd),
                    name,
                    OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                    Mode::empty(),
                ) {
                    Ok(fd) => owned(fd),
                    Err(Errno::ENOENT) | Err(Errno::ELOOP) => return Ok(()),
                    Err(e) => return Err(internal(&format!("cannot open {arcname}"), e)),
                };
                let st = stat::fstat(fd.as_raw_fd())
                    .map_err(|e| internal(&format!("cannot stat {arcname}"), e))?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
                    return Ok(());
                }
                let size = st.st_size.max(0) as u64;
                self.xattrs(fd.as_raw_fd(), arcname)?;
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(size);
                // A file that shrinks meanwhile is padded, one that grows cut: the header holds.
                let data = File::from(fd).take(size).chain(io::repeat(0)).take(size);
                self.b.append_data(&mut h, arcname, data).map_err(werr)
            }
            SFlag::S_IFLNK => {
                let target = match fcntl::readlinkat(Some(dirfd), name) {
                    Ok(t) => t,
                    Err(Errno::ENOENT) | Err(Errno::EINVAL) => return Ok(()),
                    Err(e) => return Err(internal(&format!("cannot read link {arcname}"), e)),
                };
                h.set_entry_type(tar::EntryType::Symlink);
                self.b
                    .append_link(&mut h, arcname, Path::new(&target))
                    .map_err(werr)
            }
            SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
                h.set_entry_type(match kind {
                    SFlag::S_IFCHR => tar::EntryType::Char,
                    SFlag::S_IFBLK => tar::EntryType::Block,
                    _ => tar::EntryType::Fifo,
                });
                if kind != SFlag::S_IFIFO {
                    let _ = h.set_device_major(nix::sys::stat::major(st.st_rdev) as u32);
                    let _ = h.set_device_minor(nix::sys::stat::minor(st.st_rdev) as u32);
                }
                self.b
                    .append_data(&mut h, arcname, io::empty())
                    .map_err(werr)
            }
            // Sockets are not archived (as tar and Docker).
            _ => Ok(()),
        }
    }

    /// PAX `SCHILY.xattr.*` records for the entry that follows (GNU tar's and Docker's form).
    fn xattrs(&mut self, fd: RawFd, arcname: &str) -> Result<()> {
        let attrs = fd_xattrs(fd);
        if attrs.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = attrs
            .iter()
            .map(|(k, _)| format!("SCHILY.xattr.{k}"))
            .collect();
        self.b
            .append_pax_extensions(
                keys.iter()
                    .zip(attrs.iter())
                    .map(|(k, (_, v))| (k.as_str(), v.as_slice())),
            )
            .map_err(|e| internal(&format!("cannot write {arcname} to the archive"), e))
    }

    fn finish(mut self) -> Result<()> {
        self.b
            .finish()
            .map_err(|e| internal("cannot write the archive", e))?;
        self.b
            .get_mut()
            .flush()
            .map_err(|e| internal("cannot write the archive", e))
    }
}

/// `export`: a tar of the container's merged root filesystem.
pub(crate) fn export(store: &Store, id: &str, w: Box<dyn Write + Send>) -> Result<()> {
    let root = MergedRoot::open(store, id)?;
    let mut out = TarOut::new(w);
    out.add(root.fd.as_raw_fd(), OsStr::new("."), "")?;
    out.finish()
}

/// Docker's `GET /containers/{id}/archive`: a tar of `path` whose top entry is its base name.
pub(crate) fn copy_from(
    store: &Store,
    id: &str,
    path: &str,
    follow_link: bool,
    w: Box<dyn Write + Send>,
) -> Result<()> {
    let name = ContainerStore::new(store).record(id)?.name;
    let root = MergedRoot::open_view(store, id)?;
    let located = if follow_link {
        follow_final(&root, path).and_then(|p| locate(&root, &p))
    } else {
        locate(&root, path)
    };
    let (fd, entry) = match located {
        Ok(x) => x,
        Err(Errno::ENOENT) | Err(Errno::ENOTDIR) => return Err(not_found(path, &name)),
        Err(e) => return Err(internal(&format!("cannot open {path}"), e)),
    };
    let base = split_path(path).1.unwrap_or_else(|| ".".into());
    let mut out = TarOut::new(w);
    out.add(fd.as_raw_fd(), &entry, &base)?;
    out.finish()
}

// ---------------------------------------------------------------------------------------
// tar in: copy to the container

/// Docker's `PUT /containers/{id}/archive`: extracts a tar into the existing directory `path`.
/// Every entry's parent is resolved inside the root; ownership is root's (as `docker cp`
/// without `-a`), or the archive's with `copy_uid_gid`. Extended attributes in the archive
/// (PAX `SCHILY.xattr.*`, as Docker and GNU tar write them) are applied to files and dirs.
pub(crate) fn copy_to(
    store: &Store,
    id: &str,
    path: &str,
    copy_uid_gid: bool,
    r: Box<dyn Read + Send>,
) -> Result<()> {
    let name = ContainerStore::new(store).record(id)?.name;
    let root = MergedRoot::open_view(store, id)?;
    match root.resolve(path, OFlag::O_PATH | OFlag::O_DIRECTORY) {
        Ok(_) => {}
        Err(Errno::ENOENT) => return Err(not_found(path, &name)),
        Err(Errno::ENOTDIR) => {
            return Err(Error::InvalidArgument(format!(
                "extraction point is not a directory: {path}"
            )))
        }
        Err(e) => return Err(internal(&format!("cannot open {path}"), e)),
    }
    let mut archive = tar::Archive::new(r);
    let entries = archive
        .entries()
        .map_err(|e| internal("cannot read the archive", e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| internal("cannot read the archive", e))?;
        let raw = entry.path_bytes().into_owned();
        let rel = String::from_utf8_lossy(&raw).into_owned();
        let full = format!("{}/{}", path.trim_end_matches('/'), rel);
        let (parent, last) = split_path(&full);
        let Some(last) = last else { continue };
        let eerr = |e: Errno| internal(&format!("cannot write {full} in the container"), e);
        let pfd = root
            .resolve(&parent, OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(eerr)?;
        let p = Some(pfd.as_raw_fd());
        let mode = Mode::from_bits_truncate(entry.header().mode().unwrap_or(0o644) & 0o7777);
        let kind = entry.header().entry_type();
        let owner = if copy_uid_gid {
            let h = entry.header();
            (
                h.uid().unwrap_or(0) as libc::uid_t,
                h.gid().unwrap_or(0) as libc::gid_t,
            )
        } else {
            (0, 0)
        };
        let xattrs = entry_xattrs(&mut entry);
        match kind {
            tar::EntryType::Directory => {
                match stat::mkdirat(p, last.as_str(), mode) {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {}
                    Err(e) => return Err(eerr(e)),
                }
                let dfd = fcntl::openat(
                    p,
                    last.as_str(),
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map(owned)
                .map_err(eerr)?;
                set_owner_mode_xattrs(dfd.as_raw_fd(), owner, mode, &xattrs).map_err(eerr)?;
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let open = || {
                    fcntl::openat(
                        p,
                        last.as_str(),
                        OFlag::O_WRONLY
                            | OFlag::O_CREAT
                            | OFlag::O_TRUNC
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        mode,
                    )
                };
                let fd = match open() {
                    Ok(fd) => fd,
                    // An existing symlink (or fifo, device) is replaced, never followed.
                    Err(Errno::ELOOP) | Err(Errno::ENXIO) => {
                        let _ = unistd::unlinkat(p, last.as_str(), UnlinkatFlags::NoRemoveDir);
                        open().map_err(eerr)?
                    }
                    Err(e) => return Err(eerr(e)),
                };
                let fd = owned(fd);
                let st = stat::fstat(fd.as_raw_fd()).map_err(eerr)?;
                if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
                    return Err(eerr(Errno::EINVAL));
                }
                let mut f = File::from(fd);
                io::copy(&mut entry, &mut f)
                    .map_err(|e| internal(&format!("cannot write {full} in the container"), e))?;
                set_owner_mode_xattrs(f.as_raw_fd(), owner, mode, &xattrs).map_err(eerr)?;
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| OsStr::from_bytes(&b).to_os_string())
                    .unwrap_or_default();
                let _ = unistd::unlinkat(p, last.as_str(), UnlinkatFlags::NoRemoveDir);
                unistd::symlinkat(target.as_os_str(), p, last.as_str()).map_err(eerr)?;
                if copy_uid_gid {
                    unistd::fchownat(
                        p,
                        last.as_str(),
                        Some(unistd::Uid::from_raw(owner.0)),
                        Some(unistd::Gid::from_raw(owner.1)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(eerr)?;
                }
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let tfull = format!("{}/{}", path.trim_end_matches('/'), target);
                let (tparent, tlast) = split_path(&tfull);
                let Some(tlast) = tlast else { continue };
                let tfd = root
                    .resolve(&tparent, OFlag::O_PATH | OFlag::O_DIRECTORY)
                    .map_err(eerr)?;
                let _ = unistd::unlinkat(p, last.as_str(), UnlinkatFlags::NoRemoveDir);
                unistd::linkat(
                    Some(tfd.as_raw_fd()),
                    tlast.as_str(),
                    p,
                    last.as_str(),
                    AtFlags::empty(),
                )
                .map_err(eerr)?;
            }
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                let sflag = match kind {
                    tar::EntryType::Char => SFlag::S_IFCHR,
                    tar::EntryType::Block => SFlag::S_IFBLK,
                    _ => SFlag::S_IFIFO,
                };
                let h = entry.header();
                let dev = nix::sys::stat::makedev(
                    h.device_major().ok().flatten().unwrap_or(0) as u64,
                    h.device_minor().ok().flatten().unwrap_or(0) as u64,
                );
                let _ = unistd::unlinkat(p, last.as_str(), UnlinkatFlags::NoRemoveDir);
                stat::mknodat(p, last.as_str(), sflag, mode, dev).map_err(eerr)?;
                if copy_uid_gid {
                    unistd::fchownat(
                        p,
                        last.as_str(),
                        Some(unistd::Uid::from_raw(owner.0)),
                        Some(unistd::Gid::from_raw(owner.1)),
                        AtFlags::AT_SYMLINK_NOFOLLOW,
                    )
                    .map_err(eerr)?;
                }
            }
            // PAX and GNU long-name headers are consumed by the reader; others skipped.
            _ => {}
        }
    }
    Ok(())
}

/// A directory on a pseudo or memory filesystem (proc, sysfs, devpts, mqueue, cgroup, tmpfs).
fn is_kernel_mount(fd: RawFd) -> bool {
    // SAFETY: fstatfs(2) on an fd we hold, into a zeroed struct it fills.
    let mut sfs: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: as above; the pointer is to a live, properly sized statfs.
    if unsafe { libc::fstatfs(fd, &mut sfs) } != 0 {
        return false;
    }
    [
        libc::PROC_SUPER_MAGIC,
        libc::SYSFS_MAGIC,
        libc::DEVPTS_SUPER_MAGIC,
        libc::CGROUP_SUPER_MAGIC,
        libc::CGROUP2_SUPER_MAGIC,
        libc::TMPFS_MAGIC,
        0x1980_2000, // mqueue
    ]
    .contains(&sfs.f_type)
}

/// The entry's `SCHILY.xattr.NAME` PAX records.
fn entry_xattrs<R: Read>(entry: &mut tar::Entry<R>) -> Vec<(CString, Vec<u8>)> {
    let Ok(Some(exts)) = entry.pax_extensions() else {
        return Vec::new();
    };
    exts.filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.key().ok()?.strip_prefix("SCHILY.xattr.")?;
            Some((CString::new(name).ok()?, e.value_bytes().to_vec()))
        })
        .collect()
}

/// Owner first (chown clears set-id bits), then the mode, then extended attributes.
fn set_owner_mode_xattrs(
    fd: RawFd,
    owner: (libc::uid_t, libc::gid_t),
    mode: Mode,
    xattrs: &[(CString, Vec<u8>)],
) -> std::result::Result<(), Errno> {
    unistd::fchown(
        fd,
        Some(unistd::Uid::from_raw(owner.0)),
        Some(unistd::Gid::from_raw(owner.1)),
    )?;
    stat::fchmod(fd, mode)?;
    for (name, value) in xattrs {
        // SAFETY: fsetxattr(2) on an fd we own with a NUL-terminated name and a live buffer.
        let rc =
            unsafe { libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0) };
        if rc != 0 {
            return Err(Errno::last());
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// the host side of `cp` (the host's own files, with the invoking user's authority)

/// Strips the archive's top entry and joins the rest onto `target`; rejects `..` and `/`.
fn rebase(p: &Path, target: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let mut out = target.to_path_buf();
    for (i, c) in p.components().enumerate() {
        match c {
            Component::Normal(n) if i > 0 => out.push(n),
            Component::Normal(_) | Component::CurDir => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "invalid path in the archive: {}",
                    p.display()
                )))
            }
        }
    }
    Ok(out)
}

/// Extracts a `copy_from_container` archive on the host: its top entry becomes `target`.
pub fn extract_tar_to_host(reader: impl Read, target: &Path) -> Result<()> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_overwrite(true);
    let rerr = |e: io::Error| internal("cannot read the archive", e);
    for entry in archive.entries().map_err(rerr)? {
        let mut entry = entry.map_err(rerr)?;
        let path = entry.path().map_err(rerr)?.into_owned();
        let dest = rebase(&path, target)?;
        let werr = |e: io::Error| internal(&format!("cannot write {}", dest.display()), e);
        match entry.header().entry_type() {
            tar::EntryType::Directory => {
                std::fs::create_dir_all(&dest).map_err(werr)?;
                if let Ok(mode) = entry.header().mode() {
                    use std::os::unix::fs::PermissionsExt;
                    let _ = std::fs::set_permissions(
                        &dest,
                        std::fs::Permissions::from_mode(mode & 0o7777),
                    );
                }
            }
            tar::EntryType::Link => {
                let link = entry
                    .link_name()
                    .map_err(rerr)?
                    .map(|l| l.into_owned())
                    .unwrap_or_default();
                let src = rebase(&link, target)?;
                let _ = std::fs::remove_file(&dest);
                std::fs::hard_link(&src, &dest).map_err(werr)?;
            }
            _ => {
                // Never write through a symlink already there: replace it.
                if std::fs::symlink_metadata(&dest).is_ok_and(|m| !m.is_dir()) {
                    let _ = std::fs::remove_file(&dest);
                }
                entry.unpack(&dest).map_err(werr)?;
            }
        }
    }
    Ok(())
}

/// A tar of a host path for `copy_to_container`: as `name` (a directory with what is under
/// it), or with `None` the directory's contents only. Symlinks are archived, not followed.
pub fn tar_host_path(writer: impl Write, src: &Path, name: Option<&str>) -> Result<()> {
    let mut b = tar::Builder::new(writer);
    b.follow_symlinks(false);
    let is_dir = std::fs::symlink_metadata(src).is_ok_and(|m| m.is_dir());
    match name {
        Some(n) if is_dir => b.append_dir_all(n, src),
        Some(n) => b.append_path_with_name(src, n),
        None => b.append_dir_all(".", src),
    }
    .map_err(|e| internal(&format!("cannot read {}", src.display()), e))?;
    b.finish()
        .map_err(|e| internal("cannot write the archive", e))
}

// ---------------------------------------------------------------------------------------
// rename

pub(crate) fn rename(store: &Store, name: &str, new_name: &str) -> Result<()> {
    let cs = ContainerStore::new(store);
    let _names = cs.lock_names()?;
    let id = cs.find(name)?;
    let mut record = cs.record(&id)?;
    let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
    if !names::valid(new_name) {
        return Err(Error::InvalidArgument(format!(
            "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    if record.name == new_name {
        return Err(Error::InvalidArgument(
            "Renaming a container with the same name as its current name".into(),
        ));
    }
    if let Some((other, _)) = cs.all().into_iter().find(|(r, _)| r.name == new_name) {
        return Err(Error::InvalidArgument(format!(
            "Error when allocating new name: Conflict. The container name \"/{new_name}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
            other.id
        )));
    }
    record.name = new_name.to_string();
    cs.save_record(&record)?;
    crate::events::append(
        store,
        "container",
        "rename",
        &id,
        new_name,
        &record.spec.image,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_paths() {
        assert_eq!(split_path("/"), ("/".into(), None));
        assert_eq!(split_path("/a/b/"), ("/a".into(), Some("b".into())));
        assert_eq!(split_path("a/../../b"), ("/".into(), Some("b".into())));
        assert_eq!(split_path("/a/."), ("/".into(), Some("a".into())));
    }

    #[test]
    fn ps_rows_of_the_container_only() {
        let out = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 /sbin/init splash\nroot 42 1 0 10:01 ? 00:00:00 sleep 100\n";
        let top = parse_ps(out, &[42]).unwrap();
        assert_eq!(top.titles.unwrap().len(), 8);
        let rows = top.processes.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0][1], "42");
        assert_eq!(rows[0][7], "sleep 100");
    }
}
