//! Named volumes of the local driver, and the mounts of containers (see docs/volumes.md).
//!
//! ```text
//! <root>/volumes/                 0700
//! <root>/volumes/<name>/meta.json what `volume create` recorded (labels, driver options)
//! <root>/volumes/<name>/_data     the volume's content: its Mountpoint
//! <root>/locks/volumes            the volumes lock: create, remove, prune, populate
//! ```
//!
//! A volume is published whole: it is built as `volumes/.tmp-<random>/` and renamed to its
//! name, so a crash never leaves a half-made volume that `ls` shows. "In use" means named in
//! the mount points of any container record, whatever its state (Docker refuses to remove a
//! volume that a stopped container uses too). The volumes lock is the last in the store's
//! lock order: taken after the metadata, names and container locks, never before them.

pub(crate) mod mounts;
pub mod spec;

use crate::container::ContainerStore;
use crate::error::{Error, Result};
use crate::store::fsutil::{self, FileLock};
use crate::store::{io_err, Store};
use bollard_stubs::models::{Volume, VolumeListResponse, VolumePruneResponse, VolumeScopeEnum};
use nix::errno::Errno;
use nix::fcntl::{self, AtFlags, OFlag};
use nix::sys::stat::{self, Mode, SFlag};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The label Docker (23+) puts on anonymous volumes; `volume prune` without `-a` removes
/// only volumes that carry it.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// `create_volume` (bollard's `CreateVolumeOptions`): an empty name generates one.
#[derive(Debug, Clone, Default)]
pub struct CreateVolumeOptions {
    pub name: String,
    /// Only "local" (or empty).
    pub driver: String,
    /// The local driver's options: `type`, `device`, `o` (as `mount -t TYPE -o O DEVICE`).
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// `list_volumes` filters, Docker's: `dangling`, `name` (substring), `label` (`k` or `k=v`),
/// `driver`. Each given filter must match.
#[derive(Debug, Clone, Default)]
pub struct ListVolumesOptions {
    pub dangling: Option<bool>,
    pub name: Vec<String>,
    pub label: Vec<String>,
    pub driver: Vec<String>,
}

/// `prune_volumes`: `all` removes unused named volumes too (Docker 23+'s `-a`); `label`
/// filters as in `list_volumes`.
#[derive(Debug, Clone, Default)]
pub struct PruneVolumesOptions {
    pub all: bool,
    pub label: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct RemoveVolumeOptions {
    /// Docker's `-f`: a missing volume is not an error (a used one still is).
    pub force: bool,
}

/// A container that uses a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeUser {
    pub id: String,
    pub name: String,
    /// Where it is mounted in that container.
    pub destination: String,
    pub running: bool,
}

/// A volume with what the volume pane shows beside it: its size and the containers using it.
#[derive(Debug, Clone)]
pub struct VolumeUsage {
    pub volume: Volume,
    /// Bytes of the regular files under `_data` (each inode once), as Docker's `system df`.
    pub size: u64,
    pub users: Vec<VolumeUser>,
}

/// One entry of a directory inside a volume (`volume_read_dir`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VolumeDirEntry {
    pub name: String,
    /// "dir", "file", "symlink", "fifo", "socket", "char", "block".
    pub kind: &'static str,
    pub size: u64,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Seconds since the epoch.
    pub mtime: i64,
    /// A symlink's target, as stored (never followed).
    pub link_target: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub(crate) struct VolumeMeta {
    pub name: String,
    pub created_at: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

impl VolumeMeta {
    pub(crate) fn anonymous(&self) -> bool {
        self.labels.contains_key(ANONYMOUS_LABEL)
    }
    /// A volume the local driver mounts (tmpfs, a device, a bind) rather than a plain dir.
    pub(crate) fn mounted(&self) -> bool {
        self.options.contains_key("type") || self.options.contains_key("device")
    }
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful open/openat/openat2 and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

pub(crate) fn no_such_volume(name: &str) -> Error {
    Error::NoSuchVolume(name.to_string())
}

#[derive(Debug, Clone)]
pub(crate) struct VolumeStore {
    dir: PathBuf,
    lock_path: PathBuf,
}

impl VolumeStore {
    pub(crate) fn new(store: &Store) -> Self {
        Self::at(store.root(), &store.locks_dir())
    }

    /// The volumes of the store at `root` whose locks are in `locks`.
    pub(crate) fn at(root: &Path, locks: &Path) -> Self {
        VolumeStore {
            dir: root.join("volumes"),
            lock_path: locks.join("volumes"),
        }
    }

    pub(crate) fn ensure_dir(&self) -> Result<()> {
        fsutil::mkdir_private(&self.dir).map_err(io_err("cannot create", &self.dir))?;
        // Never world-writable, whatever made it before (0700, as the store root).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io_err("cannot set mode of", &self.dir))?;
        Ok(())
    }

    /// The volumes lock (create, remove, prune, populate, local-driver mounts).
    pub(crate) fn lock(&self) -> Result<FileLock> {
        self.ensure_dir()?;
        FileLock::exclusive(&self.lock_path)
            .map_err(|e| io_err("cannot lock", &self.lock_path)(e).into())
    }

    pub(crate) fn data(&self, name: &str) -> PathBuf {
        self.dir.join(name).join("_data")
    }

    pub(crate) fn meta(&self, name: &str) -> Result<VolumeMeta> {
        if !spec::valid_volume_name(name) {
            return Err(no_such_volume(name));
        }
        let p = self.dir.join(name).join("meta.json");
        let bytes = match std::fs::read(&p) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such_volume(name)),
            other => other.map_err(io_err("cannot read", &p))?,
        };
        serde_json::from_slice(&bytes).map_err(|e| {
            crate::store::StoreError::Corrupt {
                path: p,
                message: e.to_string(),
            }
            .into()
        })
    }

    pub(crate) fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| spec::valid_volume_name(n))
                    .filter(|n| self.dir.join(n).join("meta.json").is_file())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// Creates the volume (the caller holds the volumes lock); an existing one is returned
    /// as it is, as Docker's local driver does.
    pub(crate) fn create_locked(
        &self,
        name: &str,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<VolumeMeta> {
        if !spec::valid_volume_name(name) {
            return Err(spec::invalid_name_error(name));
        }
        if let Ok(m) = self.meta(name) {
            return Ok(m);
        }
        validate_driver_options(&options)?;
        self.ensure_dir()?;
        let tmp = self.dir.join(format!(".tmp-{}", fsutil::random_hex(8)));
        let meta = VolumeMeta {
            name: name.to_string(),
            created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            labels,
            options,
        };
        let built = (|| -> std::io::Result<()> {
            fsutil::mkdir_private(&tmp)?;
            std::fs::DirBuilder::new().create(tmp.join("_data"))?;
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(tmp.join("_data"), std::fs::Permissions::from_mode(0o755))?;
            let json = serde_json::to_vec_pretty(&meta).map_err(std::io::Error::other)?;
            fsutil::write_atomic(&tmp.join("meta.json"), &json)?;
            std::fs::rename(&tmp, self.dir.join(name))?;
            fsutil::sync_dir(&self.dir)
        })();
        if let Err(e) = built {
            let _ = fsutil::remove_tree(&tmp);
            return Err(io_err("cannot create volume", &self.dir.join(name))(e).into());
        }
        Ok(meta)
    }

    /// Removes the volume's directory (the caller holds the lock and checked it is unused).
    pub(crate) fn remove_locked(&self, name: &str) -> Result<u64> {
        let meta = self.meta(name)?;
        let data = self.data(name);
        if meta.mounted() {
            mounts::unmount_volume(&data);
        }
        // Never delete through a mount (a bound host directory, a device): only the
        // volume's own directory, on the store's filesystem.
        use std::os::unix::fs::MetadataExt;
        let dev = |p: &Path| std::fs::symlink_metadata(p).map(|m| m.dev()).ok();
        if crate::container::rootfs::is_mountpoint(&data)
            || dev(&data).is_some_and(|d| Some(d) != dev(&self.dir))
        {
            return Err(Error::Conflict(format!(
                "volume {name}: {} is still mounted; unmount it first",
                data.display()
            )));
        }
        let size = dir_size(&data);
        // Renamed away first, so a crash mid-removal never leaves a half-empty volume.
        let trash = self.dir.join(format!(".tmp-{}", fsutil::random_hex(8)));
        let from = self.dir.join(name);
        std::fs::rename(&from, &trash).map_err(io_err("cannot remove volume", &from))?;
        fsutil::remove_tree(&trash).map_err(io_err("cannot remove volume", &from))?;
        Ok(size)
    }

    /// Leftovers of interrupted creations and removals (only when nobody holds the lock).
    pub(crate) fn sweep_locked(&self) {
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                if e.file_name().to_string_lossy().starts_with(".tmp-") {
                    let _ = fsutil::remove_tree(&e.path());
                }
            }
        }
    }

    pub(crate) fn to_api(&self, meta: &VolumeMeta) -> Volume {
        Volume {
            name: meta.name.clone(),
            driver: "local".into(),
            mountpoint: self.data(&meta.name).display().to_string(),
            created_at: Some(meta.created_at.clone()),
            status: None,
            labels: meta.labels.clone().into_iter().collect(),
            scope: Some(VolumeScopeEnum::LOCAL),
            cluster_volume: None,
            options: meta.options.clone().into_iter().collect(),
            usage_data: None,
        }
    }
}

/// The local driver's options: `type`, `device`, `o` (Docker's `validateOpts`).
fn validate_driver_options(options: &BTreeMap<String, String>) -> Result<()> {
    for k in options.keys() {
        if !matches!(k.as_str(), "type" | "device" | "o") {
            return Err(Error::InvalidArgument(format!("invalid option key: {k:?}")));
        }
    }
    if !options.is_empty() && !options.contains_key("type") {
        return Err(Error::InvalidArgument(
            "missing required option: \"type\"".into(),
        ));
    }
    if options
        .get("type")
        .is_some_and(|t| t != "tmpfs" && t != "none")
        && !options.contains_key("device")
    {
        return Err(Error::InvalidArgument(
            "missing required option: \"device\"".into(),
        ));
    }
    if options.get("type").map(String::as_str) == Some("none") {
        let o = options.get("o").map(String::as_str).unwrap_or("");
        if !o.split(',').any(|x| x == "bind" || x == "rbind") || !options.contains_key("device") {
            return Err(Error::InvalidArgument(
                "type \"none\" needs o=bind and a device (the host directory to bind)".into(),
            ));
        }
    }
    Ok(())
}

/// Every container's mount points: (id, name, running, mount point).
fn users_by_volume(store: &Store) -> HashMap<String, Vec<VolumeUser>> {
    let cs = ContainerStore::new(store);
    let mut out: HashMap<String, Vec<VolumeUser>> = HashMap::new();
    for id in cs.ids() {
        let Ok(record) = cs.record(&id) else { continue };
        let running = cs.state(&id).map(|s| s.status.is_live()).unwrap_or(false);
        for mp in &record.mount_points {
            if mp.kind == spec::MountKind::Volume && !mp.name.is_empty() {
                out.entry(mp.name.clone()).or_default().push(VolumeUser {
                    id: record.id.clone(),
                    name: record.name.clone(),
                    destination: mp.destination.clone(),
                    running,
                });
            }
        }
    }
    out
}

/// Bytes of the regular files under `dir` (each inode once), not following symlinks nor
/// crossing into other filesystems.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    fn walk(fd: RawFd, seen: &mut std::collections::HashSet<(u64, u64)>, dev: u64) -> u64 {
        let Ok(mut d) = nix::dir::Dir::openat(
            Some(fd),
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) else {
            return 0;
        };
        let dfd = d.as_raw_fd();
        let names: Vec<Vec<u8>> = d
            .iter()
            .flatten()
            .map(|e| e.file_name().to_bytes().to_vec())
            .filter(|n| n != b"." && n != b"..")
            .collect();
        let mut total = 0;
        for n in names {
            let name = OsStr::from_bytes(&n);
            let Ok(st) = stat::fstatat(Some(dfd), name, AtFlags::AT_SYMLINK_NOFOLLOW) else {
                continue;
            };
            match SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT {
                SFlag::S_IFREG if seen.insert((st.st_dev, st.st_ino)) => {
                    total += st.st_size.max(0) as u64;
                }
                SFlag::S_IFDIR if st.st_dev == dev => {
                    if let Ok(c) = fcntl::openat(
                        Some(dfd),
                        name,
                        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::empty(),
                    ) {
                        let c = owned(c);
                        total += walk(c.as_raw_fd(), seen, dev);
                    }
                }
                _ => {}
            }
        }
        total
    }
    let Ok(fd) = fcntl::open(
        dir,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) else {
        return 0;
    };
    let fd = owned(fd);
    let dev = stat::fstat(fd.as_raw_fd()).map(|s| s.st_dev).unwrap_or(0);
    walk(fd.as_raw_fd(), &mut Default::default(), dev)
}

fn label_matches(labels: &BTreeMap<String, String>, filter: &str) -> bool {
    match filter.split_once('=') {
        Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
        None => labels.contains_key(filter),
    }
}

// ---------------------------------------------------------------------------------------
// the verbs

pub(crate) fn create(store: &Store, opts: CreateVolumeOptions) -> Result<Volume> {
    if !opts.driver.is_empty() && opts.driver != "local" {
        let d = &opts.driver;
        return Err(Error::InvalidArgument(format!(
            "create {}: error looking up volume plugin {d}: plugin \"{d}\" not found",
            opts.name
        )));
    }
    let vs = VolumeStore::new(store);
    let _lock = vs.lock()?;
    let name = if opts.name.is_empty() {
        fsutil::random_hex(32)
    } else {
        opts.name.clone()
    };
    let existed = vs.meta(&name).is_ok();
    let meta = vs.create_locked(&name, opts.labels, opts.driver_opts)?;
    if !existed {
        crate::events::append(store, "volume", "create", &name, &name, "");
    }
    Ok(vs.to_api(&meta))
}

pub(crate) fn inspect(store: &Store, name: &str) -> Result<Volume> {
    let vs = VolumeStore::new(store);
    let meta = vs.meta(name)?;
    Ok(vs.to_api(&meta))
}

pub(crate) fn list(store: &Store, opts: &ListVolumesOptions) -> Result<VolumeListResponse> {
    let vs = VolumeStore::new(store);
    let users = users_by_volume(store);
    let mut out = Vec::new();
    for name in vs.names() {
        let Ok(meta) = vs.meta(&name) else { continue };
        if let Some(d) = opts.dangling {
            if users.contains_key(&name) == d {
                continue;
            }
        }
        if !opts.name.is_empty() && !opts.name.iter().any(|n| name.contains(n.as_str())) {
            continue;
        }
        if !opts.label.iter().all(|l| label_matches(&meta.labels, l)) {
            continue;
        }
        if !opts.driver.is_empty() && !opts.driver.iter().any(|d| d == "local") {
            continue;
        }
        out.push(vs.to_api(&meta));
    }
    Ok(VolumeListResponse {
        volumes: Some(out),
        warnings: Some(vec![]),
    })
}

/// Every volume with its size and users (for the volume pane).
pub(crate) fn usage(store: &Store) -> Result<Vec<VolumeUsage>> {
    let vs = VolumeStore::new(store);
    let mut users = users_by_volume(store);
    let mut out = Vec::new();
    for name in vs.names() {
        let Ok(meta) = vs.meta(&name) else { continue };
        let mut volume = vs.to_api(&meta);
        let size = dir_size(&vs.data(&name));
        let users = users.remove(&name).unwrap_or_default();
        volume.usage_data = Some(bollard_stubs::models::VolumeUsageData {
            size: size as i64,
            ref_count: users.len() as i64,
        });
        out.push(VolumeUsage {
            volume,
            size,
            users,
        });
    }
    Ok(out)
}

fn in_use_error(name: &str, users: &[VolumeUser]) -> Error {
    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    Error::VolumeInUse {
        name: name.to_string(),
        containers: ids.join(", "),
    }
}

pub(crate) fn remove(store: &Store, name: &str, opts: RemoveVolumeOptions) -> Result<()> {
    let vs = VolumeStore::new(store);
    let _lock = vs.lock()?;
    if let Err(e) = vs.meta(name) {
        return match e {
            Error::NoSuchVolume(_) if opts.force => Ok(()),
            e => Err(e),
        };
    }
    if let Some(users) = users_by_volume(store).get(name) {
        return Err(in_use_error(name, users));
    }
    vs.remove_locked(name)?;
    crate::events::append(store, "volume", "destroy", name, name, "");
    Ok(())
}

pub(crate) fn prune(store: &Store, opts: &PruneVolumesOptions) -> Result<VolumePruneResponse> {
    let vs = VolumeStore::new(store);
    let _lock = vs.lock()?;
    vs.sweep_locked();
    let users = users_by_volume(store);
    let mut deleted = Vec::new();
    let mut reclaimed = 0u64;
    for name in vs.names() {
        let Ok(meta) = vs.meta(&name) else { continue };
        if users.contains_key(&name) || (!opts.all && !meta.anonymous()) {
            continue;
        }
        if !opts.label.iter().all(|l| label_matches(&meta.labels, l)) {
            continue;
        }
        reclaimed += vs.remove_locked(&name)?;
        crate::events::append(store, "volume", "destroy", &name, &name, "");
        deleted.push(name);
    }
    Ok(VolumePruneResponse {
        volumes_deleted: Some(deleted),
        space_reclaimed: Some(reclaimed as i64),
    })
}

/// Removes the anonymous volumes of a removed container (`rm -v`, `--rm`) that no other
/// container uses. Failures are reported, not fatal: the container is gone already.
pub(crate) fn remove_anonymous(
    store: &Store,
    container_id: &str,
    points: &[spec::MountPoint],
) -> Vec<String> {
    let vs = VolumeStore::new(store);
    let Ok(_lock) = vs.lock() else {
        return vec![];
    };
    let mut users = users_by_volume(store);
    for list in users.values_mut() {
        list.retain(|u| u.id != container_id);
    }
    users.retain(|_, l| !l.is_empty());
    let mut removed = Vec::new();
    for mp in points {
        if mp.kind != spec::MountKind::Volume || !mp.anonymous || users.contains_key(&mp.name) {
            continue;
        }
        if vs.meta(&mp.name).is_ok() && vs.remove_locked(&mp.name).is_ok() {
            crate::events::append(store, "volume", "destroy", &mp.name, &mp.name, "");
            removed.push(mp.name.clone());
        }
    }
    removed
}

// ---------------------------------------------------------------------------------------
// browsing a volume without leaving it

/// Opens `rel` inside the volume's `_data`: every symlink (absolute or `..`) resolves inside
/// the volume, never on the host (`openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`).
fn open_in_volume(store: &Store, name: &str, rel: &str, flags: OFlag) -> Result<OwnedFd> {
    let vs = VolumeStore::new(store);
    vs.meta(name)?;
    let data = vs.data(name);
    let root = fcntl::open(
        &data,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::Internal(format!("cannot open {}: {e}", data.display())))?;
    let root = owned(root);
    match mounts::open_in_root(&root, rel, flags) {
        Ok(fd) => Ok(fd),
        Err(Errno::ENOENT) => Err(Error::InvalidArgument(format!(
            "{rel}: no such file or directory in volume {name}"
        ))),
        Err(Errno::ENOTDIR) => Err(Error::InvalidArgument(format!(
            "{rel}: not a directory in volume {name}"
        ))),
        Err(e) => Err(Error::Internal(format!(
            "cannot open {rel} in volume {name}: {e}"
        ))),
    }
}

fn kind_of(mode: u32) -> &'static str {
    match SFlag::from_bits_truncate(mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => "dir",
        SFlag::S_IFREG => "file",
        SFlag::S_IFLNK => "symlink",
        SFlag::S_IFIFO => "fifo",
        SFlag::S_IFSOCK => "socket",
        SFlag::S_IFCHR => "char",
        SFlag::S_IFBLK => "block",
        _ => "other",
    }
}

/// The entries of the directory `rel` of the volume, sorted by name.
pub(crate) fn read_dir(store: &Store, name: &str, rel: &str) -> Result<Vec<VolumeDirEntry>> {
    let fd = open_in_volume(store, name, rel, OFlag::O_RDONLY | OFlag::O_DIRECTORY)?;
    let mut dir = nix::dir::Dir::from_fd(fd.as_raw_fd())
        .map_err(|e| Error::Internal(format!("cannot list {rel} in volume {name}: {e}")))?;
    std::mem::forget(fd); // the Dir owns it now
    let dfd = dir.as_raw_fd();
    let names: Vec<Vec<u8>> = dir
        .iter()
        .flatten()
        .map(|e| e.file_name().to_bytes().to_vec())
        .filter(|n| n != b"." && n != b"..")
        .collect();
    let mut out = Vec::new();
    for n in names {
        let name_os = OsStr::from_bytes(&n);
        let Ok(st) = stat::fstatat(Some(dfd), name_os, AtFlags::AT_SYMLINK_NOFOLLOW) else {
            continue;
        };
        let kind = kind_of(st.st_mode);
        let link_target = (kind == "symlink")
            .then(|| fcntl::readlinkat(Some(dfd), name_os).ok())
            .flatten()
            .map(|t| t.to_string_lossy().into_owned());
        out.push(VolumeDirEntry {
            name: String::from_utf8_lossy(&n).into_owned(),
            kind,
            size: st.st_size.max(0) as u64,
            mode: st.st_mode & 0o7777,
            uid: st.st_uid,
            gid: st.st_gid,
            mtime: st.st_mtime,
            link_target,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// At most `max_bytes` of the regular file `rel` of the volume.
pub(crate) fn read_file(store: &Store, name: &str, rel: &str, max_bytes: u64) -> Result<Vec<u8>> {
    let fd = open_in_volume(store, name, rel, OFlag::O_RDONLY | OFlag::O_NONBLOCK)?;
    let st = stat::fstat(fd.as_raw_fd())
        .map_err(|e| Error::Internal(format!("cannot stat {rel}: {e}")))?;
    if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(Error::InvalidArgument(format!(
            "{rel} in volume {name} is not a regular file ({})",
            kind_of(st.st_mode)
        )));
    }
    let mut buf = Vec::new();
    std::fs::File::from(fd)
        .take(max_bytes)
        .read_to_end(&mut buf)
        .map_err(|e| Error::Internal(format!("cannot read {rel} in volume {name}: {e}")))?;
    Ok(buf)
}

// ---------------------------------------------------------------------------------------
// the engine API (bollard's names)

impl crate::Engine {
    /// `volume create`: an empty name generates one; an existing volume is returned as is.
    pub async fn create_volume(&self, options: CreateVolumeOptions) -> Result<Volume> {
        let store = self.inner.store.clone();
        crate::blocking(move || create(&store, options)).await
    }

    /// `volume ls`: Docker's list response, filtered.
    pub async fn list_volumes(&self, options: ListVolumesOptions) -> Result<VolumeListResponse> {
        let store = self.inner.store.clone();
        crate::blocking(move || list(&store, &options)).await
    }

    /// Every volume with its size (`UsageData` filled too) and the containers using it:
    /// what a volume pane shows. Walks every volume: call it on demand, not per frame.
    pub async fn volumes_usage(&self) -> Result<Vec<VolumeUsage>> {
        let store = self.inner.store.clone();
        crate::blocking(move || usage(&store)).await
    }

    /// `volume inspect`.
    pub async fn inspect_volume(&self, name: &str) -> Result<Volume> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        crate::blocking(move || inspect(&store, &name)).await
    }

    /// `volume rm`: refused while any container (whatever its state) uses the volume.
    pub async fn remove_volume(&self, name: &str, options: RemoveVolumeOptions) -> Result<()> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        crate::blocking(move || remove(&store, &name, options)).await
    }

    /// `volume prune`: unused anonymous volumes (all unused ones with `all`).
    pub async fn prune_volumes(&self, options: PruneVolumesOptions) -> Result<VolumePruneResponse> {
        let store = self.inner.store.clone();
        crate::blocking(move || prune(&store, &options)).await
    }

    /// The entries of directory `rel_path` inside the volume, sorted by name. Symlinks are
    /// listed, never followed out of the volume (see `volume_read_file`).
    pub async fn volume_read_dir(&self, name: &str, rel_path: &str) -> Result<Vec<VolumeDirEntry>> {
        let (store, name, rel) = (
            self.inner.store.clone(),
            name.to_string(),
            rel_path.to_string(),
        );
        crate::blocking(move || read_dir(&store, &name, &rel)).await
    }

    /// At most `max_bytes` of the regular file `rel_path` inside the volume; symlinks resolve
    /// inside the volume (`openat2(RESOLVE_IN_ROOT)`), so `/etc/passwd` or `../../x` there
    /// never reads a host file.
    pub async fn volume_read_file(
        &self,
        name: &str,
        rel_path: &str,
        max_bytes: u64,
    ) -> Result<Vec<u8>> {
        let (store, name, rel) = (
            self.inner.store.clone(),
            name.to_string(),
            rel_path.to_string(),
        );
        crate::blocking(move || read_file(&store, &name, &rel, max_bytes)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("root"), &d.path().join("run")).unwrap();
        (d, s)
    }

    #[test]
    fn create_inspect_list_remove_prune() {
        let (_d, s) = store();
        let mut labels = BTreeMap::new();
        labels.insert("app".to_string(), "todo".to_string());
        let v = create(
            &s,
            CreateVolumeOptions {
                name: "todo-db".into(),
                labels,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(v.driver, "local");
        assert!(v.mountpoint.ends_with("/volumes/todo-db/_data"));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(s.root().join("volumes"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o002, 0, "the volumes dir is not world-writable");
        let anon = create(&s, CreateVolumeOptions::default()).unwrap();
        assert_eq!(anon.name.len(), 64);
        assert_eq!(
            create(
                &s,
                CreateVolumeOptions {
                    name: "../evil".into(),
                    ..Default::default()
                }
            )
            .unwrap_err()
            .to_string(),
            spec::invalid_name_error("../evil").to_string()
        );
        assert!(!s.root().join("evil").exists());
        let l = list(
            &s,
            &ListVolumesOptions {
                label: vec!["app=todo".into()],
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(l.volumes.unwrap().len(), 1);
        assert!(matches!(
            inspect(&s, "nope").unwrap_err(),
            Error::NoSuchVolume(_)
        ));
        // Prune without -a keeps named volumes that lack the anonymous label.
        let p = prune(&s, &PruneVolumesOptions::default()).unwrap();
        assert!(p.volumes_deleted.unwrap().is_empty());
        std::fs::write(PathBuf::from(&v.mountpoint).join("f"), b"hello").unwrap();
        let p = prune(
            &s,
            &PruneVolumesOptions {
                all: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(p.volumes_deleted.unwrap().len(), 2);
        assert_eq!(p.space_reclaimed, Some(5));
        remove(&s, "todo-db", RemoveVolumeOptions { force: true }).unwrap();
        assert!(matches!(
            remove(&s, "todo-db", RemoveVolumeOptions::default()).unwrap_err(),
            Error::NoSuchVolume(_)
        ));
    }

    /// A container record (no container behind it) that mounts `points`.
    fn fake_container(s: &Store, name: &str, points: Vec<spec::MountPoint>) -> String {
        let cs = ContainerStore::new(s);
        cs.ensure_dirs().unwrap();
        let id = crate::container::new_id();
        std::fs::create_dir(cs.dir(&id)).unwrap();
        cs.save_state(&id, &Default::default()).unwrap();
        cs.save_record(&crate::container::ContainerRecord {
            id: id.clone(),
            name: name.into(),
            created: crate::now_rfc3339(),
            image_id: crate::digest::Digest::of(b"x"),
            layers: vec![],
            image_config: serde_json::Value::Null,
            spec: Default::default(),
            mount_points: points,
        })
        .unwrap();
        id
    }

    #[test]
    fn users_block_removal_and_prune_and_show_in_usage() {
        let (_d, s) = store();
        let named = create(
            &s,
            CreateVolumeOptions {
                name: "todo-db".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let mut labels = BTreeMap::new();
        labels.insert(ANONYMOUS_LABEL.to_string(), String::new());
        let anon = create(
            &s,
            CreateVolumeOptions {
                labels,
                ..Default::default()
            },
        )
        .unwrap();
        let point = |name: &str, anonymous: bool| spec::MountPoint {
            kind: spec::MountKind::Volume,
            name: name.into(),
            destination: "/data".into(),
            anonymous,
            ..Default::default()
        };
        let id = fake_container(
            &s,
            "app",
            vec![point(&named.name, false), point(&anon.name, true)],
        );
        let err = remove(&s, "todo-db", RemoveVolumeOptions { force: true }).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("remove todo-db: volume is in use - [{id}]")
        );
        let p = prune(
            &s,
            &PruneVolumesOptions {
                all: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(p.volumes_deleted.unwrap().is_empty());
        let dangling = list(
            &s,
            &ListVolumesOptions {
                dangling: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(dangling.volumes.unwrap().is_empty());
        let u = usage(&s).unwrap();
        let todo = u.iter().find(|v| v.volume.name == "todo-db").unwrap();
        assert_eq!(todo.users.len(), 1);
        assert_eq!(todo.users[0].name, "app");
        assert_eq!(todo.users[0].destination, "/data");
        assert_eq!(todo.volume.usage_data.as_ref().unwrap().ref_count, 1);
        // The container going away takes its anonymous volume, never the named one.
        let removed = remove_anonymous(
            &s,
            &id,
            &[point(&named.name, false), point(&anon.name, true)],
        );
        assert_eq!(removed, vec![anon.name]);
        assert!(inspect(&s, "todo-db").is_ok());
    }

    #[test]
    fn browsing_stays_inside_the_volume() {
        let (_d, s) = store();
        let v = create(
            &s,
            CreateVolumeOptions {
                name: "web".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let data = PathBuf::from(&v.mountpoint);
        std::fs::create_dir(data.join("sub")).unwrap();
        std::fs::write(data.join("sub/a.txt"), b"inside").unwrap();
        std::os::unix::fs::symlink("/etc", data.join("etc")).unwrap();
        std::os::unix::fs::symlink("../../../../../../etc/hostname", data.join("up")).unwrap();
        let entries = read_dir(&s, "web", "/").unwrap();
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["etc", "sub", "up"]);
        assert_eq!(entries[0].kind, "symlink");
        assert_eq!(entries[0].link_target.as_deref(), Some("/etc"));
        assert_eq!(read_file(&s, "web", "sub/a.txt", 3).unwrap(), b"ins");
        // /etc of the host is not reachable through the volume's symlinks.
        assert!(read_dir(&s, "web", "etc").is_err());
        assert!(read_file(&s, "web", "up", 100).is_err());
        assert!(read_file(&s, "web", "../../../../etc/hostname", 100).is_err());
        assert!(read_file(&s, "web", "sub", 100).is_err());
        let u = usage(&s).unwrap();
        assert_eq!(u[0].size, 6);
        assert!(u[0].users.is_empty());
    }
}
