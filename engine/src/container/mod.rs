//! Containers in the store: their records (what was asked at create), their state (what the
//! shim reports), names, and reconciliation of containers whose shim died.
//!
//! ```text
//! <root>/containers/<id>/config.json   ContainerRecord (written at create, rename)
//! <root>/containers/<id>/state.json    ContainerState (engine and shim, under the ctr lock)
//! <root>/containers/<id>/bundle/       the OCI bundle: config.json (rootfs = ../rootfs)
//! <root>/containers/<id>/{rootfs,upper,work}/   the overlay mount and its writable layer
//! <root>/containers/<id>/ctr.log       JSON lines {"log","stream","time"} (Docker's json-file)
//! <root>/containers/<id>/{hosts,hostname,resolv.conf}
//! <runroot>/containers/<id>/           sockets (attach), the shim's pid file
//! ```

pub mod names;
pub mod rootfs;

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::store::fsutil::{self, FileLock};
use crate::store::{io_err, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What `create` was asked for; kept so `start` can rebuild the bundle.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerSpec {
    pub image: String,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub auto_remove: bool,
    pub read_only: bool,
    pub privileged: bool,
    pub init: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub memory: Option<i64>,
    pub cpus: Option<f64>,
    pub pids_limit: Option<i64>,
    pub security_opt: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    /// `None` or "rdesk": the in-process runtime; else an OCI runtime binary (runc, crun).
    pub runtime: Option<String>,
    /// `-v SRC:DST[:MODE]` (Docker's `HostConfig.Binds`; see `volumes::spec`).
    pub binds: Vec<String>,
    /// `-v DST`: anonymous volumes (Docker's `Config.Volumes`).
    pub volumes: Vec<String>,
    /// `--mount` (Docker's `HostConfig.Mounts`).
    pub mounts: Vec<bollard_stubs::models::Mount>,
    /// `--network`, `--network-alias`, `--ip`, `--dns`, `--add-host`, `-p`, `-P`, `--expose`.
    pub network: crate::network::NetworkSpec,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub created: String,
    pub image_id: Digest,
    /// ChainIDs of the image's layers, bottom first.
    pub layers: Vec<Digest>,
    /// The image's `config` object when the container was created.
    pub image_config: serde_json::Value,
    pub spec: ContainerSpec,
    /// The mounts create resolved (volumes named, anonymous ones generated).
    #[serde(default)]
    pub mount_points: Vec<crate::volumes::spec::MountPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }
    pub fn is_live(self) -> bool {
        matches!(self, Status::Running | Status::Paused | Status::Restarting)
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    pub status: Status,
    pub pid: i64,
    pub shim_pid: i64,
    /// The shim's start time (field 22 of /proc/PID/stat), so a reused PID is not taken for it.
    pub shim_start_time: u64,
    pub exit_code: i64,
    pub oom_killed: bool,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub error: String,
    pub boot_id: String,
    pub restart_count: i64,
}

#[derive(Debug, Clone)]
pub struct ContainerStore {
    dir: PathBuf,
    run_dir: PathBuf,
    locks: PathBuf,
    cgroup_parent: String,
}

/// The cgroup parent of this store's containers: `/rdesk` for the default store, else
/// `/rdesk-rd<4 hex of the root path>` so test stores never collide (DESIGN: kernel names).
pub fn cgroup_parent(store: &Store) -> String {
    if store.root() == Path::new(crate::config::DEFAULT_ROOT) {
        "/rdesk".into()
    } else {
        format!(
            "/rdesk-rd{}",
            &Digest::of(store.root().as_os_str().as_encoded_bytes()).hex()[..4]
        )
    }
}

/// Removes the container's cgroup in every hierarchy, and the store's parent cgroup once it
/// is empty. True when the container's cgroup is gone everywhere.
pub fn remove_cgroups(store: &Store, id: &str) -> bool {
    remove_cgroups_at(&cgroup_parent(store), id)
}

fn remove_cgroups_at(parent: &str, id: &str) -> bool {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let parent = parent.trim_start_matches('/');
    let mut all_gone = true;
    for line in info.lines() {
        let fs_type = line.split(" - ").nth(1).and_then(|r| r.split(' ').next());
        if !matches!(fs_type, Some("cgroup") | Some("cgroup2")) {
            continue;
        }
        let Some(mountpoint) = line.split(' ').nth(4) else {
            continue;
        };
        let base = Path::new(mountpoint).join(parent);
        let own = base.join(id);
        if own.exists() && std::fs::remove_dir(&own).is_err() {
            all_gone = false;
        }
        // Fails while other containers of the store still use it: fine.
        let _ = std::fs::remove_dir(&base);
    }
    all_gone
}

pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Start time of a process in clock ticks since boot (0 if it does not exist).
pub fn process_start_time(pid: i64) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name (field 2) may contain spaces and parens: split after the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // A zombie (its parent has not reaped it yet) is as dead as a missing process.
    if matches!(fields.first(), Some(&"Z") | Some(&"X")) {
        return 0;
    }
    fields.get(19).and_then(|v| v.parse().ok()).unwrap_or(0)
}

impl ContainerStore {
    pub fn new(store: &Store) -> Self {
        ContainerStore {
            dir: store.root().join("containers"),
            run_dir: store.runroot().join("containers"),
            locks: store.locks_dir(),
            cgroup_parent: cgroup_parent(store),
        }
    }
    pub fn ensure_dirs(&self) -> Result<()> {
        for d in [&self.dir, &self.run_dir] {
            fsutil::mkdir_private(d).map_err(io_err("cannot create", d))?;
        }
        Ok(())
    }
    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }
    pub fn run_dir(&self, id: &str) -> PathBuf {
        self.run_dir.join(id)
    }
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join("ctr.log")
    }
    pub fn rootfs(&self, id: &str) -> PathBuf {
        self.dir(id).join("rootfs")
    }
    pub fn bundle(&self, id: &str) -> PathBuf {
        self.dir(id).join("bundle")
    }

    /// Guards names: create, rename and remove. Taken after the metadata lock, if both.
    pub fn lock_names(&self) -> Result<FileLock> {
        let p = self.locks.join("containers");
        FileLock::exclusive(&p).map_err(|e| io_err("cannot lock", &p)(e).into())
    }
    /// Guards one container's state transitions.
    pub fn lock(&self, id: &str) -> Result<FileLock> {
        let p = self.locks.join(format!("ctr-{id}"));
        FileLock::exclusive(&p).map_err(|e| io_err("cannot lock", &p)(e).into())
    }

    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.len() == 64 && n.bytes().all(|b| b.is_ascii_hexdigit()))
                    .collect()
            })
            .unwrap_or_default();
        ids.sort();
        ids
    }

    pub fn record(&self, id: &str) -> Result<ContainerRecord> {
        read_json(&self.dir(id).join("config.json"))
    }
    pub fn save_record(&self, r: &ContainerRecord) -> Result<()> {
        write_json(&self.dir(&r.id).join("config.json"), r)
    }
    pub fn state(&self, id: &str) -> Result<ContainerState> {
        read_json(&self.dir(id).join("state.json"))
    }
    pub fn save_state(&self, id: &str, s: &ContainerState) -> Result<()> {
        write_json(&self.dir(id).join("state.json"), s)
    }

    /// Every container that has a complete record.
    pub fn all(&self) -> Vec<(ContainerRecord, ContainerState)> {
        self.ids()
            .into_iter()
            .filter_map(|id| Some((self.record(&id).ok()?, self.state(&id).ok()?)))
            .collect()
    }

    /// Finds a container by full ID, name (with or without `/`), or unique ID prefix.
    pub fn find(&self, name_or_id: &str) -> Result<String> {
        let name = name_or_id.strip_prefix('/').unwrap_or(name_or_id);
        let ids = self.ids();
        if ids.iter().any(|i| i == name) {
            return Ok(name.to_string());
        }
        for id in &ids {
            if self.record(id).is_ok_and(|r| r.name == name) {
                return Ok(id.clone());
            }
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hits: Vec<&String> = ids.iter().filter(|i| i.starts_with(name)).collect();
            match hits.len() {
                1 => return Ok(hits[0].clone()),
                n if n > 1 => {
                    return Err(Error::Conflict(format!(
                        "multiple IDs found with provided prefix: {name}"
                    )))
                }
                _ => {}
            }
        }
        Err(Error::NoSuchContainer(name_or_id.to_string()))
    }

    /// A shim that died (crash, kill -9, reboot) leaves a container marked running: mark it
    /// exited and release its mounts, as the next `open` must.
    pub fn reconcile(&self, id: &str) -> Result<()> {
        let _lock = self.lock(id)?;
        let Ok(mut state) = self.state(id) else {
            return Ok(());
        };
        if !state.status.is_live() {
            return Ok(());
        }
        let rebooted = !state.boot_id.is_empty() && state.boot_id != boot_id();
        let shim_alive = !rebooted
            && state.shim_pid > 0
            && process_start_time(state.shim_pid) == state.shim_start_time
            && state.shim_start_time != 0;
        if shim_alive {
            return Ok(());
        }
        if !rebooted && state.pid > 0 {
            // The container's init may outlive a killed shim: it has no monitor now.
            // SAFETY: kill(2) with a pid we recorded for this container; no memory is involved.
            unsafe { libc::kill(state.pid as i32, libc::SIGKILL) };
        }
        rootfs::unmount(&self.rootfs(id));
        let _ = fsutil::remove_tree(&self.run_dir(id));
        if let (Some(root), Some(run)) = (self.dir.parent(), self.run_dir.parent()) {
            if let Ok(store) = Store::open(root, run) {
                crate::network::teardown(&store, id);
            }
        }
        if !rebooted {
            // The init was just killed: give the kernel a moment to empty its cgroup.
            for _ in 0..50 {
                if remove_cgroups_at(&self.cgroup_parent, id) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        state.status = Status::Exited;
        if state.exit_code == 0 {
            state.exit_code = 137;
        }
        state.finished_at = Some(crate::now_rfc3339());
        state.error = if rebooted {
            "the machine rebooted while it ran".into()
        } else {
            "its monitor (rdesk shim) died".into()
        };
        state.pid = 0;
        let saved = self.save_state(id, &state);
        // Local-driver volume mounts (tmpfs, devices) its monitor would have released.
        if let (Ok(record), Some(root)) = (self.record(id), self.dir.parent()) {
            crate::volumes::mounts::release_in(root, &self.locks, self, &record);
        }
        saved
    }
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<T> {
    let bytes = std::fs::read(p).map_err(io_err("cannot read", p))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        crate::store::StoreError::Corrupt {
            path: p.to_path_buf(),
            message: e.to_string(),
        }
        .into()
    })
}

fn write_json<T: Serialize>(p: &Path, v: &T) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| Error::Internal(e.to_string()))?;
    fsutil::write_atomic(p, &bytes).map_err(|e| io_err("cannot write", p)(e).into())
}

/// A fresh 64-hex container ID.
pub fn new_id() -> String {
    fsutil::random_hex(32)
}
