//! Safe OCI layer unpacker.
//!
//! [`unpack_layer`] writes one (already decompressed) layer tar into an empty directory in the
//! overlayfs "diff" form: `.wh.NAME` whiteouts become 0:0 character devices and `.wh..wh..opq`
//! markers become the `trusted.overlay.opaque=y` xattr on their directory.
//!
//! Security model: the image is hostile. No entry may create, change or delete anything outside
//! the destination. The defence is not string checking: the destination is opened once, every
//! entry's parent directory is resolved with `openat2(RESOLVE_IN_ROOT)` relative to it (so `..`
//! and symlinks, absolute or relative, are clamped to the destination by the kernel), and the
//! final component is acted upon with `*at` calls relative to that parent fd without following
//! it (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`, `O_CREAT|O_EXCL` on a freshly unlinked name). Trees are
//! removed through directory fds opened with `O_NOFOLLOW`. Names are normalised lexically first
//! (leading `/` and `./` stripped, `..` clamped at the root) only so that the kernel sees plain
//! relative paths.
//!
//! Requires Linux 5.6 or newer (openat2); there is no fallback.

mod tarstream;

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{self, FchmodatFlags, FileStat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{self, Gid, Uid, UnlinkatFlags};

use tarstream::{EntryHeader, Kind, TarStream, Time};

/// Limits applied while unpacking one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackLimits {
    /// Maximum total size of regular-file contents.
    pub max_bytes: u64,
    /// Maximum number of tar entries (extension headers not counted).
    pub max_entries: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_bytes: 64 << 30,
            max_entries: 5_000_000,
        }
    }
}

/// What an unpack wrote.
#[derive(Debug, Default, Clone)]
pub struct UnpackStats {
    /// Sum of the sizes of the regular files written (logical size for sparse files).
    pub size: u64,
    /// Number of tar entries processed.
    pub entries: u64,
}

/// Why an unpack failed. Entry paths are shown as they appear in the tar.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error(
        "openat2(2) is not available (Linux 5.6 or newer is required to unpack layers safely)"
    )]
    Openat2Unsupported,
    #[error("unpack destination {}: {source}", path.display())]
    Destination {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("unpack destination {} is not an empty directory", path.display())]
    DestinationNotEmpty { path: PathBuf },
    #[error("malformed or truncated layer tar (after {entries} entries): {source}")]
    Tar {
        entries: u64,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: {what}: {source}")]
    Io {
        path: String,
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("layer entry {path:?}: {reason}")]
    Invalid { path: String, reason: String },
    #[error(
        "layer entry {path:?}: parent {component:?} is not a directory \
         (or is a symlink to a missing directory)"
    )]
    ParentNotDirectory { path: String, component: String },
    #[error("layer entry {path:?}: regular files exceed the layer size limit of {limit} bytes")]
    SizeLimit { path: String, limit: u64 },
    #[error("layer entry {path:?}: the layer exceeds the limit of {limit} entries")]
    EntryLimit { path: String, limit: u64 },
}

/// Unpack one layer tar stream (already decompressed) into `dest`, an existing empty directory,
/// producing the overlayfs "diff" form.
///
/// Reads up to the tar end-of-archive marker; the caller drains and hashes the rest of the
/// stream. On error, `dest` holds a partial result and should be removed by the caller.
pub fn unpack_layer<R: Read>(
    reader: R,
    dest: &Path,
    limits: &UnpackLimits,
) -> Result<UnpackStats, UnpackError> {
    let mut u = Unpacker::open(dest, limits)?;
    let mut tar = TarStream::new(reader);
    loop {
        let header = match tar.next_header() {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(source) => {
                return Err(UnpackError::Tar {
                    entries: u.stats.entries,
                    source,
                })
            }
        };
        u.entry(&header, &mut tar.data())?;
    }
    u.finish()
}

const OPAQUE_XATTR: &CStr = c"trusted.overlay.opaque";
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
const WHITEOUT_PREFIX: &[u8] = b".wh.";
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";
/// How many times an openat2 that reports a concurrent rename (EAGAIN) is retried.
const OPENAT2_RETRIES: usize = 32;

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn errno_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Takes ownership of a descriptor just returned by a successful open call.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open/openat/openat2 and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Splits a tar path into plain components: drops empty and `.` components, resolves `..`
/// lexically, clamped at the root (as RESOLVE_IN_ROOT would).
fn normalize(raw: &[u8]) -> Vec<&[u8]> {
    let mut out: Vec<&[u8]> = Vec::new();
    for c in raw.split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

fn join(comps: &[&[u8]]) -> Vec<u8> {
    comps.join(&b'/')
}

fn file_kind(st: &FileStat) -> u32 {
    st.st_mode & libc::S_IFMT
}

fn is_dir(st: &FileStat) -> bool {
    file_kind(st) == libc::S_IFDIR
}

/// A 0:0 character device: an overlayfs whiteout.
fn is_whiteout(st: &FileStat) -> bool {
    file_kind(st) == libc::S_IFCHR && st.st_rdev == 0
}

fn timespec(t: Time) -> TimeSpec {
    TimeSpec::new(t.sec as libc::time_t, i64::from(t.nsec) as libc::c_long)
}

/// xattrs the image may not set: they would forge overlayfs whiteouts, opaque dirs, redirects.
fn xattr_forbidden(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

/// Errors from setting an image xattr that are not worth failing the pull for.
fn xattr_error_ignorable(name: &CStr, e: Errno, special_file: bool) -> bool {
    let n = name.to_bytes();
    match e {
        // The filesystem has no xattr support (or not for this namespace).
        Errno::EOPNOTSUPP => true,
        // The kernel refuses this name to us (LSM labels, user.* on symlinks and devices).
        Errno::EPERM => {
            n.starts_with(b"security.")
                || n.starts_with(b"trusted.")
                || (special_file && n.starts_with(b"user."))
        }
        _ => false,
    }
}

/// Metadata of one entry, ready for syscalls.
struct Meta {
    uid: Uid,
    gid: Gid,
    mode: Mode,
    atime: TimeSpec,
    mtime: TimeSpec,
    xattrs: Vec<(CString, Vec<u8>)>,
}

struct Unpacker {
    dest: PathBuf,
    root: OwnedFd,
    limits: UnpackLimits,
    stats: UnpackStats,
    /// Directory times, applied at the end (creating children changes them).
    dir_times: HashMap<Vec<u8>, (TimeSpec, TimeSpec)>,
    /// Last resolved parent directory (entries are mostly grouped by directory).
    cache: Option<(Vec<u8>, OwnedFd)>,
    /// Set when a directory or symlink was removed: the cached resolution may be stale.
    cache_dirty: bool,
    buf: Vec<u8>,
}

impl Unpacker {
    fn open(dest: &Path, limits: &UnpackLimits) -> Result<Self, UnpackError> {
        let dest_err = |e: Errno| UnpackError::Destination {
            path: dest.to_path_buf(),
            source: errno_io(e),
        };
        let root = fcntl::open(
            dest,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(owned)
        .map_err(dest_err)?;
        let u = Unpacker {
            dest: dest.to_path_buf(),
            root,
            limits: *limits,
            stats: UnpackStats::default(),
            dir_times: HashMap::new(),
            cache: None,
            cache_dirty: false,
            buf: vec![0; 256 * 1024],
        };
        // Probe openat2 once: refuse to run without it.
        match u.open_in_root(b".", OFlag::O_PATH | OFlag::O_DIRECTORY) {
            Ok(_) => {}
            Err(Errno::ENOSYS) => return Err(UnpackError::Openat2Unsupported),
            Err(e) => return Err(dest_err(e)),
        }
        // The whiteout rules rely on everything in `dest` coming from this layer.
        let mut dir = Dir::openat(
            Some(u.root.as_raw_fd()),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(dest_err)?;
        for e in dir.iter() {
            let e = e.map_err(dest_err)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                return Err(UnpackError::DestinationNotEmpty {
                    path: u.dest.clone(),
                });
            }
        }
        Ok(u)
    }

    /// openat2 relative to the root with RESOLVE_IN_ROOT: `..` and symlinks (absolute ones
    /// included) cannot leave the root.
    fn open_in_root(&self, path: &[u8], flags: OFlag) -> Result<OwnedFd, Errno> {
        let path: &[u8] = if path.is_empty() { b"." } else { path };
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let mut tries = 0;
        loop {
            match fcntl::openat2(self.root.as_raw_fd(), path, how) {
                Ok(fd) => return Ok(owned(fd)),
                Err(Errno::EAGAIN) if tries < OPENAT2_RETRIES => tries += 1,
                Err(e) => return Err(e),
            }
        }
    }

    fn io_err(path: &str, what: impl Into<String>, e: Errno) -> UnpackError {
        UnpackError::Io {
            path: path.to_string(),
            what: what.into(),
            source: errno_io(e),
        }
    }

    fn invalid(path: &str, reason: impl Into<String>) -> UnpackError {
        UnpackError::Invalid {
            path: path.to_string(),
            reason: reason.into(),
        }
    }

    fn entry<R: Read>(&mut self, h: &EntryHeader, data: &mut R) -> Result<(), UnpackError> {
        let p = lossy(&h.path);
        let p = p.as_str();
        self.stats.entries += 1;
        if self.stats.entries > self.limits.max_entries {
            return Err(UnpackError::EntryLimit {
                path: p.to_string(),
                limit: self.limits.max_entries,
            });
        }
        let comps = normalize(&h.path);
        let Some((&name, parent)) = comps.split_last() else {
            // The root itself: only a directory entry means something (its metadata).
            if h.kind == Kind::Directory {
                let meta = self.meta(h, p)?;
                let fd = self.root.as_raw_fd();
                self.apply_fd_meta(fd, &meta, None, p)?;
                self.dir_times.insert(Vec::new(), (meta.atime, meta.mtime));
            }
            return Ok(());
        };
        // aufs metadata directories (`.wh..wh.plnk`, `.wh..wh.orph`) at the layer root, and
        // everything in them, mean nothing to overlayfs.
        if comps[0].starts_with(AUFS_META_PREFIX) && !(comps.len() == 1 && name == OPAQUE_MARKER) {
            return Ok(());
        }
        if name.starts_with(WHITEOUT_PREFIX) {
            return self.whiteout(parent, name, p);
        }
        let meta = self.meta(h, p)?;
        match h.kind {
            Kind::Regular => self.regular(h, parent, name, &meta, data, p),
            Kind::Directory => self.directory(&comps, parent, name, &meta, p),
            Kind::Symlink => self.symlink(h, parent, name, &meta, p),
            Kind::Hardlink => self.hardlink(h, parent, name, &meta, p),
            Kind::Char | Kind::Block | Kind::Fifo => self.special(h, parent, name, &meta, p),
            Kind::Other(t) => Err(Self::invalid(
                p,
                format!("unsupported tar entry type {:?}", t as char),
            )),
        }
    }

    fn meta(&self, h: &EntryHeader, p: &str) -> Result<Meta, UnpackError> {
        let mut xattrs = Vec::with_capacity(h.xattrs.len());
        for (name, value) in &h.xattrs {
            if xattr_forbidden(name) {
                continue;
            }
            let name = CString::new(name.clone()).map_err(|_| {
                Self::invalid(p, format!("xattr name {:?} contains NUL", lossy(name)))
            })?;
            xattrs.push((name, value.clone()));
        }
        let mtime = timespec(h.mtime);
        // Like containerd: atime is the later of atime and mtime.
        let atime = match h.atime {
            Some(a) if (a.sec, a.nsec) > (h.mtime.sec, h.mtime.nsec) => timespec(a),
            _ => mtime,
        };
        Ok(Meta {
            uid: Uid::from_raw(h.uid),
            gid: Gid::from_raw(h.gid),
            mode: Mode::from_bits_truncate((h.mode & 0o7777) as libc::mode_t),
            atime,
            mtime,
            xattrs,
        })
    }

    /// The directory that holds `parent`'s last component's children, created as needed.
    /// The returned fd stays valid until the next call.
    fn parent_fd(&mut self, parent: &[&[u8]], p: &str) -> Result<RawFd, UnpackError> {
        if self.cache_dirty {
            self.cache = None;
            self.cache_dirty = false;
        }
        let key = join(parent);
        if let Some((k, fd)) = &self.cache {
            if *k == key {
                return Ok(fd.as_raw_fd());
            }
        }
        let fd = self.ensure_dir(parent, &key, p)?;
        let raw = fd.as_raw_fd();
        self.cache = Some((key, fd));
        Ok(raw)
    }

    /// Resolves `parent` inside the root, creating missing directories one component at a time.
    fn ensure_dir(
        &mut self,
        parent: &[&[u8]],
        key: &[u8],
        p: &str,
    ) -> Result<OwnedFd, UnpackError> {
        let dirflags = OFlag::O_PATH | OFlag::O_DIRECTORY;
        match self.open_in_root(key, dirflags) {
            Ok(fd) => return Ok(fd),
            Err(Errno::ENOENT | Errno::ENOTDIR) => {}
            Err(e) => {
                return Err(Self::io_err(
                    p,
                    format!("resolving directory {:?}", lossy(key)),
                    e,
                ))
            }
        }
        let mut cur = self
            .open_in_root(b".", dirflags)
            .map_err(|e| Self::io_err(p, "opening the layer root", e))?;
        for i in 0..parent.len() {
            let prefix = join(&parent[..=i]);
            match self.open_in_root(&prefix, dirflags) {
                Ok(fd) => {
                    cur = fd;
                    continue;
                }
                Err(Errno::ENOENT | Errno::ENOTDIR) => {}
                Err(e) => {
                    return Err(Self::io_err(
                        p,
                        format!("resolving directory {:?}", lossy(&prefix)),
                        e,
                    ))
                }
            }
            let comp = parent[i];
            let not_dir = || UnpackError::ParentNotDirectory {
                path: p.to_string(),
                component: lossy(&prefix),
            };
            let mut opaque = false;
            match stat::fstatat(Some(cur.as_raw_fd()), comp, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Err(Errno::ENOENT) => {}
                Ok(st) if is_whiteout(&st) => {
                    // A whiteout from this layer: the real directory wins; it hides the lower
                    // layers' directory like the whiteout did, so it becomes opaque.
                    unistd::unlinkat(Some(cur.as_raw_fd()), comp, UnlinkatFlags::NoRemoveDir)
                        .map_err(|e| {
                            Self::io_err(p, format!("replacing whiteout {:?}", lossy(&prefix)), e)
                        })?;
                    opaque = true;
                }
                Ok(st) if is_dir(&st) => {}
                Ok(_) => return Err(not_dir()),
                Err(e) => {
                    return Err(Self::io_err(
                        p,
                        format!("inspecting {:?}", lossy(&prefix)),
                        e,
                    ))
                }
            }
            let created =
                match stat::mkdirat(Some(cur.as_raw_fd()), comp, Mode::from_bits_truncate(0o755)) {
                    Ok(()) => true,
                    Err(Errno::EEXIST) => false,
                    Err(e) => {
                        return Err(Self::io_err(
                            p,
                            format!("creating directory {:?}", lossy(&prefix)),
                            e,
                        ))
                    }
                };
            let fd = fcntl::openat(
                Some(cur.as_raw_fd()),
                comp,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(owned)
            .map_err(|e| match e {
                Errno::ENOTDIR | Errno::ELOOP => not_dir(),
                e => Self::io_err(p, format!("opening directory {:?}", lossy(&prefix)), e),
            })?;
            if created {
                // mkdirat applied the umask.
                stat::fchmod(fd.as_raw_fd(), Mode::from_bits_truncate(0o755))
                    .map_err(|e| Self::io_err(p, format!("chmod {:?}", lossy(&prefix)), e))?;
            }
            if opaque {
                set_opaque(fd.as_raw_fd())
                    .map_err(|e| Self::io_err(p, "setting the opaque xattr", e))?;
            }
            cur = fd;
        }
        Ok(cur)
    }

    /// Makes room for a new `name` in `dirfd`: unlinks a non-directory, removes a directory tree
    /// unless `keep_dir`. Returns what was there before.
    fn clear(
        &mut self,
        dirfd: RawFd,
        name: &[u8],
        keep_dir: bool,
        p: &str,
    ) -> Result<Option<FileStat>, UnpackError> {
        let st = match stat::fstatat(Some(dirfd), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(Self::io_err(p, "inspecting the existing entry", e)),
        };
        if is_dir(&st) {
            if !keep_dir {
                remove_tree(dirfd, name).map_err(|source| UnpackError::Io {
                    path: p.to_string(),
                    what: "removing the existing directory".into(),
                    source,
                })?;
                self.cache_dirty = true;
            }
        } else {
            unistd::unlinkat(Some(dirfd), name, UnlinkatFlags::NoRemoveDir)
                .map_err(|e| Self::io_err(p, "removing the existing entry", e))?;
            if file_kind(&st) == libc::S_IFLNK {
                self.cache_dirty = true;
            }
        }
        Ok(Some(st))
    }

    fn whiteout(&mut self, parent: &[&[u8]], name: &[u8], p: &str) -> Result<(), UnpackError> {
        if name == OPAQUE_MARKER {
            // The marker hides the lower layers' contents of its directory, never this layer's
            // own entries: only the xattr is set, wherever the marker sits in the tar.
            let dirfd = match self.parent_fd(parent, p) {
                Ok(fd) => fd,
                // Under a non-directory of this layer, which already hides the lower layers.
                Err(UnpackError::ParentNotDirectory { .. }) => return Ok(()),
                Err(e) => return Err(e),
            };
            let fd = fcntl::openat(
                Some(dirfd),
                ".",
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(owned)
            .map_err(|e| Self::io_err(p, "opening the directory", e))?;
            return set_opaque(fd.as_raw_fd())
                .map_err(|e| Self::io_err(p, "setting the opaque xattr", e));
        }
        if name.starts_with(AUFS_META_PREFIX) {
            return Ok(()); // aufs metadata (.wh..wh.plnk, .wh..wh.aufs): meaningless here
        }
        let real = &name[WHITEOUT_PREFIX.len()..];
        if real.is_empty() || real == b"." || real == b".." {
            return Err(Self::invalid(p, "invalid whiteout name"));
        }
        let dirfd = match self.parent_fd(parent, p) {
            Ok(fd) => fd,
            Err(UnpackError::ParentNotDirectory { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        match stat::fstatat(Some(dirfd), real, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => stat::mknodat(
                Some(dirfd),
                real,
                SFlag::S_IFCHR,
                Mode::empty(),
                stat::makedev(0, 0),
            )
            .map_err(|e| Self::io_err(p, "creating the whiteout device", e)),
            // A directory of this layer: the whiteout still hides the lower layers' one.
            Ok(st) if is_dir(&st) => {
                let fd = fcntl::openat(
                    Some(dirfd),
                    real,
                    OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                    Mode::empty(),
                )
                .map(owned)
                .map_err(|e| Self::io_err(p, "opening the whited-out directory", e))?;
                set_opaque(fd.as_raw_fd())
                    .map_err(|e| Self::io_err(p, "setting the opaque xattr", e))
            }
            // A non-directory of this layer (or an earlier whiteout): it wins.
            Ok(_) => Ok(()),
            Err(e) => Err(Self::io_err(p, "inspecting the whited-out entry", e)),
        }
    }

    fn regular<R: Read>(
        &mut self,
        h: &EntryHeader,
        parent: &[&[u8]],
        name: &[u8],
        meta: &Meta,
        data: &mut R,
        p: &str,
    ) -> Result<(), UnpackError> {
        let limit = self.limits.max_bytes;
        let declared = h.file_size();
        if declared > limit || self.stats.size.saturating_add(declared) > limit {
            return Err(UnpackError::SizeLimit {
                path: p.to_string(),
                limit,
            });
        }
        let dirfd = self.parent_fd(parent, p)?;
        self.clear(dirfd, name, false, p)?;
        let fd = fcntl::openat(
            Some(dirfd),
            name,
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map(owned)
        .map_err(|e| Self::io_err(p, "creating the file", e))?;
        let mut file = File::from(fd);
        let whole = [tarstream::Chunk {
            offset: 0,
            length: h.size,
        }];
        let chunks: &[tarstream::Chunk] = match &h.sparse {
            Some((chunks, _)) => chunks,
            None => &whole,
        };
        for c in chunks {
            if h.sparse.is_some() {
                file.seek(SeekFrom::Start(c.offset))
                    .map_err(|e| UnpackError::Io {
                        path: p.to_string(),
                        what: "seeking".into(),
                        source: e,
                    })?;
            }
            self.copy(data, &mut file, c.length, p)?;
        }
        if h.sparse.is_some() {
            file.set_len(declared).map_err(|e| UnpackError::Io {
                path: p.to_string(),
                what: "sizing the sparse file".into(),
                source: e,
            })?;
        }
        self.stats.size += declared;
        self.apply_fd_meta(file.as_raw_fd(), meta, None, p)?;
        stat::futimens(file.as_raw_fd(), &meta.atime, &meta.mtime)
            .map_err(|e| Self::io_err(p, "setting times", e))
    }

    fn copy<R: Read>(
        &mut self,
        data: &mut R,
        file: &mut File,
        mut n: u64,
        p: &str,
    ) -> Result<(), UnpackError> {
        let io = |what: &str, e: io::Error| UnpackError::Io {
            path: p.to_string(),
            what: what.into(),
            source: e,
        };
        while n > 0 {
            let want = n.min(self.buf.len() as u64) as usize;
            let got = match data.read(&mut self.buf[..want]) {
                Ok(0) => return Err(io("reading file data", io::ErrorKind::UnexpectedEof.into())),
                Ok(k) => k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io("reading file data", e)),
            };
            file.write_all(&self.buf[..got])
                .map_err(|e| io("writing file data", e))?;
            n -= got as u64;
        }
        Ok(())
    }

    fn directory(
        &mut self,
        comps: &[&[u8]],
        parent: &[&[u8]],
        name: &[u8],
        meta: &Meta,
        p: &str,
    ) -> Result<(), UnpackError> {
        let dirfd = self.parent_fd(parent, p)?;
        let old = self.clear(dirfd, name, true, p)?;
        let existing_dir = old.as_ref().is_some_and(is_dir);
        if !existing_dir {
            stat::mkdirat(Some(dirfd), name, Mode::from_bits_truncate(0o700))
                .map_err(|e| Self::io_err(p, "creating the directory", e))?;
        }
        let fd = fcntl::openat(
            Some(dirfd),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map(owned)
        .map_err(|e| Self::io_err(p, "opening the directory", e))?;
        if old.as_ref().is_some_and(is_whiteout) {
            // Replacing this layer's whiteout: the directory must still hide the lower one.
            set_opaque(fd.as_raw_fd())
                .map_err(|e| Self::io_err(p, "setting the opaque xattr", e))?;
        }
        self.apply_fd_meta(fd.as_raw_fd(), meta, None, p)?;
        self.dir_times.insert(join(comps), (meta.atime, meta.mtime));
        Ok(())
    }

    fn symlink(
        &mut self,
        h: &EntryHeader,
        parent: &[&[u8]],
        name: &[u8],
        meta: &Meta,
        p: &str,
    ) -> Result<(), UnpackError> {
        let target = match &h.link {
            Some(t) if !t.is_empty() => t.as_slice(),
            _ => return Err(Self::invalid(p, "symlink without a target")),
        };
        let dirfd = self.parent_fd(parent, p)?;
        self.clear(dirfd, name, false, p)?;
        // The target is stored verbatim: it is only ever resolved inside the container's root.
        unistd::symlinkat(target, Some(dirfd), name)
            .map_err(|e| Self::io_err(p, "creating the symlink", e))?;
        self.apply_at_meta(dirfd, name, meta, true, p)
    }

    fn hardlink(
        &mut self,
        h: &EntryHeader,
        parent: &[&[u8]],
        name: &[u8],
        meta: &Meta,
        p: &str,
    ) -> Result<(), UnpackError> {
        let raw = match &h.link {
            Some(t) if !t.is_empty() => t.as_slice(),
            _ => return Err(Self::invalid(p, "hardlink without a target")),
        };
        let tcomps = normalize(raw);
        let Some((&tname, tparent)) = tcomps.split_last() else {
            return Err(Self::invalid(p, "hardlink to the layer root"));
        };
        let t = lossy(raw);
        let tdir = self
            .open_in_root(&join(tparent), OFlag::O_PATH | OFlag::O_DIRECTORY)
            .map_err(|e| match e {
                Errno::ENOENT | Errno::ENOTDIR => Self::invalid(
                    p,
                    format!("hardlink target {t:?} does not exist in the layer"),
                ),
                e => Self::io_err(p, format!("resolving hardlink target {t:?}"), e),
            })?;
        let tst = match stat::fstatat(Some(tdir.as_raw_fd()), tname, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(Errno::ENOENT) => {
                return Err(Self::invalid(
                    p,
                    format!("hardlink target {t:?} does not exist in the layer"),
                ))
            }
            Err(e) => {
                return Err(Self::io_err(
                    p,
                    format!("inspecting hardlink target {t:?}"),
                    e,
                ))
            }
        };
        if is_dir(&tst) {
            return Err(Self::invalid(
                p,
                format!("hardlink target {t:?} is a directory"),
            ));
        }
        let dirfd = self.parent_fd(parent, p)?;
        let same = match stat::fstatat(Some(dirfd), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st.st_dev == tst.st_dev && st.st_ino == tst.st_ino,
            Err(_) => false,
        };
        if !same {
            self.clear(dirfd, name, false, p)?;
            // No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
            unistd::linkat(
                Some(tdir.as_raw_fd()),
                tname,
                Some(dirfd),
                name,
                AtFlags::empty(),
            )
            .map_err(|e| Self::io_err(p, format!("linking to {t:?}"), e))?;
        }
        // The header's metadata applies to the shared inode (as in Docker), never through a
        // symlink.
        if file_kind(&tst) == libc::S_IFREG {
            let fd = fcntl::openat(
                Some(dirfd),
                name,
                OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(owned)
            .map_err(|e| Self::io_err(p, "opening the linked file", e))?;
            let st = stat::fstat(fd.as_raw_fd())
                .map_err(|e| Self::io_err(p, "inspecting the linked file", e))?;
            if st.st_ino != tst.st_ino || file_kind(&st) != libc::S_IFREG {
                return Err(Self::invalid(p, "the linked file changed while unpacking"));
            }
            self.apply_fd_meta(fd.as_raw_fd(), meta, Some(&st), p)?;
            stat::futimens(fd.as_raw_fd(), &meta.atime, &meta.mtime)
                .map_err(|e| Self::io_err(p, "setting times", e))
        } else {
            self.apply_at_meta(dirfd, name, meta, file_kind(&tst) == libc::S_IFLNK, p)
        }
    }

    fn special(
        &mut self,
        h: &EntryHeader,
        parent: &[&[u8]],
        name: &[u8],
        meta: &Meta,
        p: &str,
    ) -> Result<(), UnpackError> {
        let (kind, dev) = match h.kind {
            Kind::Char => (
                SFlag::S_IFCHR,
                stat::makedev(h.dev_major.into(), h.dev_minor.into()),
            ),
            Kind::Block => (
                SFlag::S_IFBLK,
                stat::makedev(h.dev_major.into(), h.dev_minor.into()),
            ),
            _ => (SFlag::S_IFIFO, 0),
        };
        let dirfd = self.parent_fd(parent, p)?;
        self.clear(dirfd, name, false, p)?;
        stat::mknodat(
            Some(dirfd),
            name,
            kind,
            Mode::from_bits_truncate(0o600),
            dev,
        )
        .map_err(|e| Self::io_err(p, "creating the device node or fifo", e))?;
        self.apply_at_meta(dirfd, name, meta, false, p)
    }

    /// Owner, mode and xattrs through an fd (regular files, directories). Times are separate.
    /// With `current`, chown is skipped when the owner is already right: chown clears file
    /// capabilities, which a hardlink's header may not repeat.
    fn apply_fd_meta(
        &self,
        fd: RawFd,
        meta: &Meta,
        current: Option<&FileStat>,
        p: &str,
    ) -> Result<(), UnpackError> {
        let owned_right = current
            .is_some_and(|st| st.st_uid == meta.uid.as_raw() && st.st_gid == meta.gid.as_raw());
        if !owned_right {
            unistd::fchown(fd, Some(meta.uid), Some(meta.gid))
                .map_err(|e| Self::io_err(p, "chown", e))?;
        }
        // After chown, which clears setuid/setgid.
        stat::fchmod(fd, meta.mode).map_err(|e| Self::io_err(p, "chmod", e))?;
        for (name, value) in &meta.xattrs {
            // SAFETY: `fd` is open; `name` is NUL-terminated; `value` is valid for its length.
            let r = unsafe {
                libc::fsetxattr(fd, name.as_ptr(), value.as_ptr().cast(), value.len(), 0)
            };
            if let Err(e) = Errno::result(r) {
                if !xattr_error_ignorable(name, e, false) {
                    return Err(Self::io_err(p, format!("setting xattr {name:?}"), e));
                }
            }
        }
        Ok(())
    }

    /// Metadata for `name` in `dirfd` without opening it for I/O: symlinks, devices, fifos and
    /// hardlinks to them. The entry was just created by us and is never followed.
    fn apply_at_meta(
        &self,
        dirfd: RawFd,
        name: &[u8],
        meta: &Meta,
        is_symlink: bool,
        p: &str,
    ) -> Result<(), UnpackError> {
        unistd::fchownat(
            Some(dirfd),
            name,
            Some(meta.uid),
            Some(meta.gid),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .map_err(|e| Self::io_err(p, "chown", e))?;
        if !meta.xattrs.is_empty() {
            // Pin the inode with an O_PATH fd and reach it through its /proc magic link, which
            // designates exactly that inode (a symlink itself, not its target).
            let pinned = fcntl::openat(
                Some(dirfd),
                name,
                OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map(owned)
            .map_err(|e| Self::io_err(p, "opening for xattrs", e))?;
            let st =
                stat::fstat(pinned.as_raw_fd()).map_err(|e| Self::io_err(p, "inspecting", e))?;
            if (file_kind(&st) == libc::S_IFLNK) != is_symlink
                || is_dir(&st)
                || file_kind(&st) == libc::S_IFREG
            {
                return Err(Self::invalid(p, "the entry changed while unpacking"));
            }
            let proc = CString::new(format!("/proc/self/fd/{}", pinned.as_raw_fd()))
                .map_err(|_| Self::invalid(p, "fd path"))?;
            for (xname, value) in &meta.xattrs {
                // SAFETY: `proc` and `xname` are NUL-terminated; `value` is valid for its length.
                let r = unsafe {
                    libc::setxattr(
                        proc.as_ptr(),
                        xname.as_ptr(),
                        value.as_ptr().cast(),
                        value.len(),
                        0,
                    )
                };
                if let Err(e) = Errno::result(r) {
                    if !xattr_error_ignorable(xname, e, true) {
                        return Err(Self::io_err(p, format!("setting xattr {xname:?}"), e));
                    }
                }
            }
        }
        if !is_symlink {
            // Not a symlink (checked by the caller from an lstat of the inode it created or
            // linked), so following is moot; there is no lchmod.
            stat::fchmodat(Some(dirfd), name, meta.mode, FchmodatFlags::FollowSymlink)
                .map_err(|e| Self::io_err(p, "chmod", e))?;
        }
        stat::utimensat(
            Some(dirfd),
            name,
            &meta.atime,
            &meta.mtime,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| Self::io_err(p, "setting times", e))
    }

    /// Applies the directory times, then returns the stats.
    fn finish(mut self) -> Result<UnpackStats, UnpackError> {
        self.cache = None;
        let times = std::mem::take(&mut self.dir_times);
        for (path, (atime, mtime)) in times {
            let p = lossy(&path);
            let comps = normalize(&path);
            let Some((&name, parent)) = comps.split_last() else {
                stat::futimens(self.root.as_raw_fd(), &atime, &mtime)
                    .map_err(|e| Self::io_err(&p, "setting directory times", e))?;
                continue;
            };
            let dirfd = match self.open_in_root(&join(parent), OFlag::O_PATH | OFlag::O_DIRECTORY) {
                Ok(fd) => fd,
                Err(Errno::ENOENT | Errno::ENOTDIR) => continue, // replaced later in the layer
                Err(e) => return Err(Self::io_err(&p, "resolving directory", e)),
            };
            match stat::fstatat(Some(dirfd.as_raw_fd()), name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(st) if is_dir(&st) => {}
                Ok(_) | Err(Errno::ENOENT) => continue,
                Err(e) => return Err(Self::io_err(&p, "inspecting directory", e)),
            }
            stat::utimensat(
                Some(dirfd.as_raw_fd()),
                name,
                &atime,
                &mtime,
                UtimensatFlags::NoFollowSymlink,
            )
            .map_err(|e| Self::io_err(&p, "setting directory times", e))?;
        }
        Ok(self.stats)
    }
}

fn set_opaque(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: `fd` is an open directory (not O_PATH); name and value are valid for the call.
    let r = unsafe { libc::fsetxattr(fd, OPAQUE_XATTR.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    Errno::result(r).map(drop)
}

/// Deepest tree `remove_tree` walks (it holds one directory fd per level).
const MAX_REMOVE_DEPTH: usize = 512;

/// One directory being emptied by `remove_tree`.
struct RemoveFrame {
    dir: Dir,
    name: Vec<u8>,
    children: Vec<(Vec<u8>, Option<Type>)>,
}

impl RemoveFrame {
    fn open(dirfd: RawFd, name: &[u8]) -> io::Result<RemoveFrame> {
        let mut dir = Dir::openat(
            Some(dirfd),
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno_io)?;
        let mut children = Vec::new();
        for e in dir.iter() {
            let e = e.map_err(errno_io)?;
            let n = e.file_name().to_bytes();
            if n != b"." && n != b".." {
                children.push((n.to_vec(), e.file_type()));
            }
        }
        Ok(RemoveFrame {
            dir,
            name: name.to_vec(),
            children,
        })
    }
}

/// Removes the directory `name` in `dirfd` and everything under it, walking through directory
/// fds opened with O_NOFOLLOW (a symlink inside is unlinked, never traversed). Iterative, so
/// a deep tree cannot exhaust the stack.
fn remove_tree(dirfd: RawFd, name: &[u8]) -> io::Result<()> {
    let mut stack = vec![RemoveFrame::open(dirfd, name)?];
    while let Some(top) = stack.last_mut() {
        let fd = top.dir.as_raw_fd();
        if let Some((child, ty)) = top.children.pop() {
            let child_is_dir = match ty {
                Some(Type::Directory) => true,
                Some(_) => false,
                None => is_dir(
                    &stat::fstatat(Some(fd), child.as_slice(), AtFlags::AT_SYMLINK_NOFOLLOW)
                        .map_err(errno_io)?,
                ),
            };
            if !child_is_dir {
                unistd::unlinkat(Some(fd), child.as_slice(), UnlinkatFlags::NoRemoveDir)
                    .map_err(errno_io)?;
            } else if stack.len() >= MAX_REMOVE_DEPTH {
                return Err(io::Error::other(format!(
                    "directory tree is more than {MAX_REMOVE_DEPTH} levels deep"
                )));
            } else {
                let frame = RemoveFrame::open(fd, &child)?;
                stack.push(frame);
            }
            continue;
        }
        // Empty now: close it and remove it from its parent.
        let Some(done) = stack.pop() else { break };
        let parent = stack.last().map_or(dirfd, |f| f.dir.as_raw_fd());
        drop(done.dir);
        unistd::unlinkat(Some(parent), done.name.as_slice(), UnlinkatFlags::RemoveDir)
            .map_err(errno_io)?;
    }
    Ok(())
}
