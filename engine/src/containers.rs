//! Container verbs over the store and the shim: create, start, stop, kill, remove, list,
//! inspect, wait, logs. Blocking functions; `Engine` runs them off the async runtime.

use crate::container::{
    self, rootfs, ContainerRecord, ContainerSpec, ContainerState, ContainerStore, Status,
};
use crate::error::{Error, Result};
use crate::images;
use crate::reference::Reference;
use crate::runtime::spec::{build_spec, BundleInput, ImageRuntimeConfig, RunOptions};
use crate::store::fsutil;
use crate::store::Store;
use bollard_stubs::models::{
    ContainerConfig, ContainerInspectResponse, ContainerState as ApiState,
    ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum, DriverData, HostConfig,
};
use std::collections::HashMap;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where exit codes of auto-removed containers wait for `run --rm` to read them.
fn exits_dir(store: &Store) -> PathBuf {
    store.runroot().join("exits")
}

pub(crate) fn record_exit(store: &Store, id: &str, code: i64) {
    let d = exits_dir(store);
    let _ = fsutil::mkdir_private(&d);
    let _ = fsutil::write_atomic(&d.join(id), code.to_string().as_bytes());
}

pub(crate) fn create(store: &Store, name: Option<&str>, spec: ContainerSpec) -> Result<String> {
    let cs = ContainerStore::new(store);
    cs.ensure_dirs()?;
    if let Some(n) = name {
        if !container::names::valid(n) {
            return Err(Error::InvalidArgument(format!(
                "Invalid container name ({n}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
            )));
        }
    }
    // Image and layers under the metadata lock, so rmi cannot free them meanwhile.
    let _meta = store.lock_meta()?;
    let records = store.images().load()?;
    let (i, _) = images::find(&records, &spec.image).map_err(|e| match e {
        Error::NoSuchImage(_) => Error::NoSuchImage(
            Reference::parse(&spec.image)
                .map(|r| r.familiar())
                .unwrap_or_else(|_| spec.image.clone()),
        ),
        other => other,
    })?;
    let image = &records[i];
    let (config, _) = images::load_config(store, &image.id)?;
    let _names = cs.lock_names()?;
    let all = cs.all();
    let name = match name {
        Some(n) => {
            if let Some((r, _)) = all.iter().find(|(r, _)| r.name == n) {
                return Err(Error::Conflict(format!(
                    "Conflict. The container name \"/{n}\" is already in use by container \"{}\". You have to remove (or rename) that container to be able to reuse that name.",
                    r.id
                )));
            }
            n.to_string()
        }
        None => {
            let rnd = fsutil::random_hex(4);
            let bytes = hex::decode(rnd).unwrap_or_default();
            container::names::generate(&|n| all.iter().any(|(r, _)| r.name == n), &bytes)
        }
    };
    let id = container::new_id();
    let mut record = ContainerRecord {
        id: id.clone(),
        name: name.clone(),
        created: crate::now_rfc3339(),
        image_id: image.id.clone(),
        layers: image.layers.clone(),
        image_config: config.config.clone().unwrap_or(serde_json::Value::Null),
        spec,
        mount_points: vec![],
    };
    crate::network::validate(store, &record.spec.network)?;
    // Fail now on what start would refuse (no command, bad user syntax, bad caps).
    let image_rt = ImageRuntimeConfig::from_config_json(&record.image_config);
    crate::runtime::spec::process_args(&image_rt, &run_options(&record.spec, None))?;
    let (points, _volumes_lock, new_anonymous) =
        crate::volumes::mounts::prepare(store, &record.spec, &record.image_config)?;
    record.mount_points = points;
    let written = create_files(&cs, &id, &record);
    if written.is_err() {
        crate::volumes::mounts::discard(store, &new_anonymous);
        let _ = fsutil::remove_tree(&cs.dir(&id));
    }
    written?;
    crate::events::append(store, "container", "create", &id, &name, &record.spec.image);
    Ok(id)
}

/// The container's directory, state, log and record (the record last: it makes it exist).
fn create_files(cs: &ContainerStore, id: &str, record: &ContainerRecord) -> Result<()> {
    let dir = cs.dir(id);
    fsutil::mkdir_private(&dir).map_err(crate::store::io_err("cannot create", &dir))?;
    let state = ContainerState {
        status: Status::Created,
        ..Default::default()
    };
    cs.save_state(id, &state)?;
    let log = cs.log_path(id);
    std::fs::File::create(&log).map_err(crate::store::io_err("cannot create", &log))?;
    cs.save_record(record)
}

fn run_options(spec: &ContainerSpec, init: Option<PathBuf>) -> RunOptions {
    RunOptions {
        entrypoint: spec.entrypoint.clone(),
        cmd: spec.cmd.clone(),
        env: spec.env.clone(),
        working_dir: spec.working_dir.clone(),
        user: spec.user.clone(),
        hostname: spec.hostname.clone(),
        tty: spec.tty,
        open_stdin: spec.open_stdin,
        read_only: spec.read_only,
        privileged: spec.privileged,
        cap_add: spec.cap_add.clone(),
        cap_drop: spec.cap_drop.clone(),
        memory: spec.memory,
        cpus: spec.cpus,
        pids_limit: spec.pids_limit,
        init,
        security_opt: spec.security_opt.clone(),
        ..Default::default()
    }
}

/// Docker's static init for `--init` (tini-static), looked up where Debian puts it.
fn find_init() -> Result<PathBuf> {
    [
        "/usr/bin/tini-static",
        "/usr/libexec/docker/docker-init",
        "/usr/bin/docker-init",
        "/usr/bin/catatonit",
        "/usr/libexec/podman/catatonit",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
    .ok_or_else(|| {
        Error::InvalidArgument(
            "--init needs a static init binary: install Debian's tini package (tini-static)".into(),
        )
    })
}

/// As runc: proc and sysfs are only mounted on ordinary directories of the image, never
/// through a symlink (an image's `/proc -> /tmp` must not redirect the mount) or onto a file.
/// The runtime refuses these too, but only with an opaque "failed to prepare rootfs".
fn check_special_mountpoints(rootfs: &Path) -> Result<()> {
    for (dir, fs) in [("proc", "proc"), ("sys", "sysfs")] {
        let p = rootfs.join(dir);
        let kind = match std::fs::symlink_metadata(&p) {
            Err(_) => continue, // missing: the runtime creates it inside the rootfs
            Ok(m) if m.is_dir() => continue,
            Ok(m) if m.file_type().is_symlink() => match std::fs::read_link(&p) {
                Ok(t) => format!("a symlink to {}", t.display()),
                Err(_) => "a symlink".to_string(),
            },
            Ok(_) => "not a directory".to_string(),
        };
        return Err(Error::InvalidArgument(format!(
            "the image's /{dir} is {kind}: {fs} must be mounted on an ordinary directory, \
             refusing to start the container"
        )));
    }
    Ok(())
}

/// Prepares rootfs and bundle, starts the shim, waits for its report. Returns the init PID.
pub(crate) fn start(store: &Store, shim_binary: &Path, id: &str, wait_attach: bool) -> Result<i64> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    let record = cs.record(id)?;
    {
        let _lock = cs.lock(id)?;
        let state = cs.state(id)?;
        if state.status.is_live() {
            return Ok(state.pid);
        }
        let dir = cs.dir(id);
        let rootfs_dir = cs.rootfs(id);
        if !rootfs::is_mountpoint(&rootfs_dir) {
            rootfs::mount_overlay(store, &record.layers, &dir)?;
        }
        let prepared = (|| -> Result<()> {
            check_special_mountpoints(&rootfs_dir)?;
            let hostname = record
                .spec
                .hostname
                .clone()
                .unwrap_or_else(|| id[..12].to_string());
            let write = |name: &str, content: &str| -> Result<PathBuf> {
                let p = dir.join(name);
                std::fs::write(&p, content).map_err(crate::store::io_err("cannot write", &p))?;
                Ok(p)
            };
            let net = crate::network::setup(store, shim_binary, &record, &hostname)?;
            let hosts = write("hosts", &net.hosts)?;
            let hostname_path = write("hostname", &format!("{hostname}\n"))?;
            let resolv = write("resolv.conf", &net.resolv)?;
            let init = if record.spec.init {
                Some(find_init()?)
            } else {
                None
            };
            let image_rt = ImageRuntimeConfig::from_config_json(&record.image_config);
            let mut options = run_options(&record.spec, init);
            options.hostname = Some(hostname);
            options.mounts = crate::volumes::mounts::setup(store, &record, &rootfs_dir)?;
            let input = BundleInput {
                id,
                rootfs: &rootfs_dir,
                image: &image_rt,
                options: &options,
                etc_hosts: &hosts,
                etc_resolv_conf: &resolv,
                etc_hostname: &hostname_path,
                cgroups_path: format!("{}/{id}", container::cgroup_parent(store)),
                netns_path: net.netns_path.clone(),
            };
            let spec = build_spec(&input)?;
            let bundle = cs.bundle(id);
            std::fs::create_dir_all(&bundle)
                .map_err(crate::store::io_err("cannot create", &bundle))?;
            let json =
                serde_json::to_vec_pretty(&spec).map_err(|e| Error::Internal(e.to_string()))?;
            fsutil::write_atomic(&bundle.join("config.json"), &json)
                .map_err(crate::store::io_err("cannot write", &bundle))?;
            Ok(())
        })();
        if let Err(e) = prepared {
            crate::network::teardown(store, id);
            rootfs::unmount(&rootfs_dir);
            return Err(e);
        }
    }
    let mut args = vec!["start"];
    if wait_attach {
        args.push("--wait-attach");
    }
    let (code, message) = match run_monitor(store, shim_binary, &args, &[id], 125)? {
        Ok(pid) => return Ok(pid),
        Err(failure) => failure,
    };
    // Failed: no process; back to created, with the error and Docker's exit code.
    crate::network::teardown(store, id);
    rootfs::unmount(&cs.rootfs(id));
    crate::volumes::mounts::release(store, &record);
    container::remove_cgroups(store, id);
    if let Ok(_lock) = cs.lock(id) {
        if let Ok(mut st) = cs.state(id) {
            st.status = Status::Created;
            st.exit_code = code as i64;
            st.error = message.clone();
            let _ = cs.save_state(id, &st);
        }
    }
    Err(Error::StartFailed { code, message })
}

pub(crate) fn signal_number(s: &str) -> Result<i32> {
    let up = s.trim().to_ascii_uppercase();
    if let Ok(n) = up.parse::<i32>() {
        if (1..=64).contains(&n) {
            return Ok(n);
        }
    }
    let name = if up.starts_with("SIG") {
        up.clone()
    } else {
        format!("SIG{up}")
    };
    name.parse::<nix::sys::signal::Signal>()
        .map(|s| s as i32)
        .map_err(|_| Error::InvalidArgument(format!("Invalid signal: {s}")))
}

pub(crate) fn kill(store: &Store, id: &str, signal: &str) -> Result<()> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    let sig = signal_number(signal)?;
    let state = cs.state(id)?;
    if !state.status.is_live() || state.pid <= 0 {
        return Err(Error::Conflict(format!(
            "cannot kill container: {}: container {} is not running",
            short(id),
            short(id)
        )));
    }
    // SAFETY: kill(2) of the container's init, whose PID its live shim recorded.
    let rc = unsafe { libc::kill(state.pid as i32, sig) };
    if rc != 0 {
        return Err(Error::Internal(format!(
            "cannot signal container {}: {}",
            short(id),
            std::io::Error::last_os_error()
        )));
    }
    // A paused (frozen) container acts on no signal until thawed, not even SIGKILL on
    // cgroup v1: thaw it once signalled, as Docker does, so stop/kill/rm -f work.
    if state.status == Status::Paused {
        let _ = crate::container_ops::thaw_if_paused(store, id);
    }
    Ok(())
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

/// Waits until the container is not live; `None` on timeout.
fn wait_exit(cs: &ContainerStore, id: &str, timeout: Option<Duration>) -> Option<ContainerState> {
    let start = Instant::now();
    let mut idle = Duration::from_millis(1);
    loop {
        let _ = cs.reconcile(id);
        match cs.state(id) {
            Ok(s) if !s.status.is_live() => return Some(s),
            Err(_) => {
                return Some(ContainerState {
                    status: Status::Exited,
                    ..Default::default()
                })
            }
            _ => {}
        }
        if timeout.is_some_and(|t| start.elapsed() >= t) {
            return None;
        }
        std::thread::sleep(idle);
        idle = (idle * 2).min(Duration::from_millis(50));
    }
}

pub(crate) fn stop(store: &Store, id: &str, timeout: Option<i64>) -> Result<()> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    let record = cs.record(id)?;
    let state = cs.state(id)?;
    if !state.status.is_live() {
        return Ok(());
    }
    let image_rt = ImageRuntimeConfig::from_config_json(&record.image_config);
    let sig = match &record.spec.stop_signal {
        Some(s) => signal_number(s)?,
        None => crate::runtime::spec::stop_signal(&image_rt).unwrap_or(libc::SIGTERM),
    };
    let secs = timeout.or(record.spec.stop_timeout).unwrap_or(10);
    let _ = kill(store, id, &sig.to_string());
    if secs >= 0 && wait_exit(&cs, id, Some(Duration::from_secs(secs as u64))).is_some() {
        return Ok(());
    }
    let _ = kill(store, id, "KILL");
    wait_exit(&cs, id, Some(Duration::from_secs(30)));
    Ok(())
}

pub(crate) fn wait(store: &Store, id: &str) -> Result<i64> {
    let cs = ContainerStore::new(store);
    let full = match cs.find(id) {
        Ok(f) => f,
        Err(e) => {
            // Already auto-removed: its monitor left the exit code behind.
            return match std::fs::read_to_string(exits_dir(store).join(id)) {
                Ok(code) => Ok(code.trim().parse().unwrap_or(0)),
                Err(_) => Err(e),
            };
        }
    };
    let auto_remove = cs
        .record(&full)
        .map(|r| r.spec.auto_remove)
        .unwrap_or(false);
    let state = wait_exit(&cs, &full, None).unwrap_or_default();
    if auto_remove {
        // As `docker run --rm`: done once the container is gone, not merely stopped.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut idle = Duration::from_millis(1);
        while cs.dir(&full).exists() && Instant::now() < deadline {
            std::thread::sleep(idle);
            idle = (idle * 2).min(Duration::from_millis(50));
        }
    }
    if cs.state(&full).is_err() {
        // Auto-removed: its monitor left the exit code behind.
        if let Ok(code) = std::fs::read_to_string(exits_dir(store).join(&full)) {
            return Ok(code.trim().parse().unwrap_or(0));
        }
    }
    Ok(state.exit_code)
}

pub(crate) fn remove(store: &Store, id: &str, force: bool, volumes: bool) -> Result<()> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    let record = cs.record(id)?;
    let state = cs.state(id)?;
    if state.status.is_live() {
        if !force {
            return Err(Error::Conflict(format!(
                "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
                record.name,
                state.status.as_str()
            )));
        }
        let _ = kill(store, id, "KILL");
        wait_exit(&cs, id, Some(Duration::from_secs(30)));
    }
    let _names = cs.lock_names()?;
    let _lock = cs.lock(id)?;
    crate::network::teardown(store, id);
    rootfs::unmount(&cs.rootfs(id));
    // A killed init whose monitor died is reaped by PID 1, maybe only now: retry a moment.
    for _ in 0..100 {
        if container::remove_cgroups(store, id) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    fsutil::remove_tree(&cs.dir(id)).map_err(crate::store::io_err("cannot remove", &cs.dir(id)))?;
    let _ = fsutil::remove_tree(&cs.run_dir(id));
    if volumes {
        crate::volumes::remove_anonymous(store, id, &record.mount_points);
    }
    crate::events::append(
        store,
        "container",
        "destroy",
        id,
        &record.name,
        &record.spec.image,
    );
    Ok(())
}

fn command_string(record: &ContainerRecord) -> (String, Vec<String>) {
    let image_rt = ImageRuntimeConfig::from_config_json(&record.image_config);
    let args = crate::runtime::spec::process_args(&image_rt, &run_options(&record.spec, None))
        .unwrap_or_default();
    match args.split_first() {
        Some((p, rest)) => (p.clone(), rest.to_vec()),
        None => (String::new(), vec![]),
    }
}

/// Docker's STATUS column: "Up 5 minutes", "Exited (0) 2 hours ago", "Created".
pub fn status_text(state: &ContainerState) -> String {
    let ago = |t: &Option<String>| {
        let secs = t
            .as_deref()
            .map(|s| (chrono::Utc::now().timestamp() - images::unix_time(Some(s))).max(0))
            .unwrap_or(0);
        human_duration(secs)
    };
    match state.status {
        Status::Running => format!("Up {}", ago(&state.started_at)),
        Status::Paused => format!("Up {} (Paused)", ago(&state.started_at)),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            state.exit_code,
            ago(&state.finished_at)
        ),
        Status::Created => "Created".into(),
        Status::Restarting => "Restarting".into(),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
    }
}

fn human_duration(s: i64) -> String {
    let (m, h) = (s / 60, (s as f64 / 3600.0).round() as i64);
    match () {
        _ if s < 1 => "Less than a second".into(),
        _ if s == 1 => "1 second".into(),
        _ if s < 60 => format!("{s} seconds"),
        _ if m == 1 => "About a minute".into(),
        _ if m < 60 => format!("{m} minutes"),
        _ if h == 1 => "About an hour".into(),
        _ if h < 48 => format!("{h} hours"),
        _ if h < 24 * 14 => format!("{} days", h / 24),
        _ if h < 24 * 60 => format!("{} weeks", h / 24 / 7),
        _ if h < 24 * 730 => format!("{} months", h / 24 / 30),
        _ => format!("{} years", h / 24 / 365),
    }
}

pub(crate) fn list(
    store: &Store,
    opts: &crate::options::ListContainersOptions,
) -> Result<Vec<ContainerSummary>> {
    let cs = ContainerStore::new(store);
    for id in cs.ids() {
        let _ = cs.reconcile(&id);
    }
    let mut out = Vec::new();
    // Newest first by the full creation time: the summary's `Created` has whole seconds only.
    let mut created: HashMap<String, String> = HashMap::new();
    for (record, state) in cs.all() {
        if !opts.all && !state.status.is_live() {
            continue;
        }
        if !opts.filters_match(&record, &state) {
            continue;
        }
        let (path, args) = command_string(&record);
        let command = std::iter::once(path)
            .chain(args)
            .collect::<Vec<_>>()
            .join(" ");
        let (ports, network_settings) =
            crate::network::summary_parts(store, &record, state.status.is_live());
        created.insert(record.id.clone(), record.created.clone());
        out.push(ContainerSummary {
            id: Some(record.id.clone()),
            names: Some(vec![format!("/{}", record.name)]),
            image: Some(record.spec.image.clone()),
            image_id: Some(record.image_id.to_string()),
            command: Some(command),
            created: Some(images::unix_time(Some(&record.created))),
            labels: Some(record.spec.labels.clone().into_iter().collect()),
            state: Some(match state.status {
                Status::Created => ContainerSummaryStateEnum::CREATED,
                Status::Running => ContainerSummaryStateEnum::RUNNING,
                Status::Paused => ContainerSummaryStateEnum::PAUSED,
                Status::Restarting => ContainerSummaryStateEnum::RESTARTING,
                Status::Removing => ContainerSummaryStateEnum::REMOVING,
                Status::Exited => ContainerSummaryStateEnum::EXITED,
                Status::Dead => ContainerSummaryStateEnum::DEAD,
            }),
            status: Some(status_text(&state)),
            ports: Some(ports),
            network_settings: Some(network_settings),
            ..Default::default()
        });
    }
    let when = |c: &ContainerSummary| c.id.as_ref().and_then(|id| created.get(id));
    out.sort_by(|a, b| when(b).cmp(&when(a)).then(a.id.cmp(&b.id)));
    if let Some(n) = opts.limit {
        out.truncate(n);
    }
    Ok(out)
}

pub(crate) fn inspect(store: &Store, name: &str) -> Result<ContainerInspectResponse> {
    let cs = ContainerStore::new(store);
    let id = cs.find(name)?;
    cs.reconcile(&id)?;
    let record = cs.record(&id)?;
    let state = cs.state(&id)?;
    let (path, args) = command_string(&record);
    let image_rt = ImageRuntimeConfig::from_config_json(&record.image_config);
    let dir = cs.dir(&id);
    let s = |p: PathBuf| Some(p.display().to_string());
    let layers = store.layers();
    let lower: Vec<String> = record
        .layers
        .iter()
        .rev()
        .map(|c| layers.diff_dir(c).display().to_string())
        .collect();
    let mut gd = HashMap::new();
    gd.insert("LowerDir".to_string(), lower.join(":"));
    gd.insert(
        "UpperDir".to_string(),
        dir.join("upper").display().to_string(),
    );
    gd.insert(
        "WorkDir".to_string(),
        dir.join("work").display().to_string(),
    );
    gd.insert(
        "MergedDir".to_string(),
        dir.join("rootfs").display().to_string(),
    );
    let mut env = image_rt.env.clone();
    for e in &record.spec.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    let (binds, host_mounts, config_volumes) = crate::volumes::mounts::inspect_config(&record);
    let (network_settings, network_mode, port_bindings) =
        crate::network::inspect_parts(store, &record, state.status.is_live());
    Ok(ContainerInspectResponse {
        id: Some(record.id.clone()),
        created: Some(record.created.clone()),
        path: Some(path),
        args: Some(args),
        state: Some(ApiState {
            status: Some(match state.status {
                Status::Created => ContainerStateStatusEnum::CREATED,
                Status::Running => ContainerStateStatusEnum::RUNNING,
                Status::Paused => ContainerStateStatusEnum::PAUSED,
                Status::Restarting => ContainerStateStatusEnum::RESTARTING,
                Status::Removing => ContainerStateStatusEnum::REMOVING,
                Status::Exited => ContainerStateStatusEnum::EXITED,
                Status::Dead => ContainerStateStatusEnum::DEAD,
            }),
            running: Some(state.status == Status::Running || state.status == Status::Paused),
            paused: Some(state.status == Status::Paused),
            restarting: Some(state.status == Status::Restarting),
            oom_killed: Some(state.oom_killed),
            dead: Some(state.status == Status::Dead),
            pid: Some(state.pid),
            exit_code: Some(state.exit_code),
            error: Some(state.error.clone()),
            started_at: Some(
                state
                    .started_at
                    .clone()
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            ),
            finished_at: Some(
                state
                    .finished_at
                    .clone()
                    .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            ),
            health: None,
        }),
        image: Some(record.image_id.to_string()),
        resolv_conf_path: s(dir.join("resolv.conf")),
        hostname_path: s(dir.join("hostname")),
        hosts_path: s(dir.join("hosts")),
        log_path: s(cs.log_path(&id)),
        name: Some(format!("/{}", record.name)),
        restart_count: Some(state.restart_count),
        driver: Some("overlay2".into()),
        platform: Some("linux".into()),
        mount_label: Some(String::new()),
        process_label: Some(String::new()),
        app_armor_profile: Some(String::new()),
        host_config: Some(HostConfig {
            auto_remove: Some(record.spec.auto_remove),
            privileged: Some(record.spec.privileged),
            readonly_rootfs: Some(record.spec.read_only),
            cap_add: Some(record.spec.cap_add.clone()),
            cap_drop: Some(record.spec.cap_drop.clone()),
            memory: Some(record.spec.memory.unwrap_or(0)),
            nano_cpus: Some(record.spec.cpus.map(|c| (c * 1e9) as i64).unwrap_or(0)),
            pids_limit: record.spec.pids_limit,
            init: Some(record.spec.init),
            security_opt: Some(record.spec.security_opt.clone()),
            runtime: Some(
                record
                    .spec
                    .runtime
                    .clone()
                    .unwrap_or_else(|| "rdesk".into()),
            ),
            network_mode: Some(network_mode),
            port_bindings: Some(port_bindings),
            binds,
            mounts: host_mounts,
            ..Default::default()
        }),
        network_settings: Some(network_settings),
        graph_driver: Some(DriverData {
            name: "overlay2".into(),
            data: gd,
        }),
        mounts: Some(crate::volumes::mounts::inspect_mounts(store, &record)),
        config: Some(ContainerConfig {
            hostname: Some(
                record
                    .spec
                    .hostname
                    .clone()
                    .unwrap_or_else(|| id[..12].to_string()),
            ),
            domainname: Some(String::new()),
            user: Some(
                record
                    .spec
                    .user
                    .clone()
                    .or(image_rt.user.clone())
                    .unwrap_or_default(),
            ),
            attach_stdin: Some(record.spec.open_stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            tty: Some(record.spec.tty),
            open_stdin: Some(record.spec.open_stdin),
            stdin_once: Some(record.spec.open_stdin),
            env: Some(env),
            cmd: record
                .spec
                .cmd
                .clone()
                .or(if record.spec.entrypoint.is_some() {
                    None
                } else {
                    image_rt.cmd.clone()
                }),
            image: Some(record.spec.image.clone()),
            working_dir: Some(
                record
                    .spec
                    .working_dir
                    .clone()
                    .or(image_rt.working_dir.clone())
                    .unwrap_or_default(),
            ),
            entrypoint: record
                .spec
                .entrypoint
                .clone()
                .or(image_rt.entrypoint.clone()),
            labels: Some(record.spec.labels.clone().into_iter().collect()),
            // Docker merges the image's StopSignal into the container's config.
            stop_signal: record
                .spec
                .stop_signal
                .clone()
                .or(image_rt.stop_signal.clone()),
            volumes: config_volumes,
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// One log record of Docker's json-file.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct LogRecord {
    pub log: String,
    pub stream: String,
    pub time: String,
}

/// An open container log. Opened before `start`, so nothing is missed even if the container
/// is auto-removed before the reader gets to it (the open file outlives the unlink).
pub struct LogReader {
    id: String,
    path: PathBuf,
    reader: std::io::BufReader<std::fs::File>,
}

impl LogReader {
    /// Skips what the log already holds (`start -a` shows only the new run's output).
    pub fn skip_to_end(&mut self) -> Result<()> {
        use std::io::Seek;
        self.reader
            .seek(std::io::SeekFrom::End(0))
            .map(|_| ())
            .map_err(|e| crate::store::io_err("cannot read", &self.path)(e).into())
    }
}

pub(crate) fn open_log(store: &Store, id: &str) -> Result<LogReader> {
    let cs = ContainerStore::new(store);
    let path = cs.log_path(id);
    let file = std::fs::File::options()
        .create(true)
        .append(true)
        .read(true)
        .open(&path)
        .map_err(crate::store::io_err("cannot open", &path))?;
    Ok(LogReader {
        id: id.to_string(),
        path,
        reader: std::io::BufReader::new(file),
    })
}

/// Reads the log, then (follow) waits for more until the container stops; calls `sink` per
/// record, stopping when it returns false.
pub(crate) fn read_logs(
    store: &Store,
    log: &mut LogReader,
    opts: &crate::options::LogsOptions,
    sink: &mut dyn FnMut(LogRecord) -> bool,
) -> Result<()> {
    let cs = ContainerStore::new(store);
    let (id, path, reader) = (log.id.clone(), log.path.clone(), &mut log.reader);
    let since = opts.since.unwrap_or(i64::MIN);
    let wanted = |r: &LogRecord| {
        (r.stream == "stdout" && opts.stdout || r.stream == "stderr" && opts.stderr)
            && images::unix_time(Some(&r.time)) >= since
    };
    // The backlog (with --tail: only the last N records).
    let mut backlog: std::collections::VecDeque<LogRecord> = Default::default();
    let mut line = String::new();
    let mut pending = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(crate::store::io_err("cannot read", &path))?;
        if n == 0 {
            break;
        }
        if !line.ends_with('\n') {
            pending = line.clone();
            break;
        }
        if let Ok(r) = serde_json::from_str::<LogRecord>(&line) {
            if wanted(&r) {
                backlog.push_back(r);
                if let Some(t) = opts.tail {
                    while backlog.len() > t {
                        backlog.pop_front();
                    }
                }
            }
        }
    }
    for r in backlog {
        if !sink(r) {
            return Ok(());
        }
    }
    if !opts.follow {
        return Ok(());
    }
    let mut idle = Duration::from_millis(1);
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(crate::store::io_err("cannot read", &path))?;
        if n > 0 {
            idle = Duration::from_millis(1);
            pending.push_str(&line);
            if pending.ends_with('\n') {
                if let Ok(r) = serde_json::from_str::<LogRecord>(&pending) {
                    if wanted(&r) && !sink(r) {
                        return Ok(());
                    }
                }
                pending.clear();
            }
            continue;
        }
        let _ = cs.reconcile(&id);
        // Gone (auto-removed) counts as stopped.
        let live = cs.state(&id).map(|s| s.status.is_live()).unwrap_or(false);
        if !live {
            // One last read: the monitor flushes the log before it records the exit.
            line.clear();
            if reader
                .read_line(&mut line)
                .map_err(crate::store::io_err("cannot read", &path))?
                > 0
            {
                pending.push_str(&line);
                continue;
            }
            return Ok(());
        }
        // Short waits first: most `run`s of short commands end within milliseconds.
        std::thread::sleep(idle);
        idle = (idle * 2).min(Duration::from_millis(50));
    }
}

/// Drops the exit codes of auto-removed containers older than an hour.
pub(crate) fn sweep_exits(store: &Store) {
    if let Ok(rd) = std::fs::read_dir(exits_dir(store)) {
        for e in rd.flatten() {
            if e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(3600))
            {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// Starts `exec` in a running container under its own monitor. Attached (`detach` false):
/// returns the socket to attach to; the process starts once a client is there.
pub(crate) fn exec(
    store: &Store,
    shim_binary: &Path,
    id: &str,
    cfg: &crate::options::ExecConfig,
) -> Result<(i64, PathBuf)> {
    let cs = ContainerStore::new(store);
    cs.reconcile(id)?;
    cs.record(id)?;
    if !cs.state(id)?.status.is_live() {
        return Err(Error::Conflict(format!("container {id} is not running")));
    }
    if cfg.cmd.is_empty() {
        return Err(Error::InvalidArgument(
            "no command specified: rdesk exec CONTAINER COMMAND [ARG...]".into(),
        ));
    }
    let bundle_cfg = cs.bundle(id).join("config.json");
    let spec: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&bundle_cfg).map_err(crate::store::io_err("cannot read", &bundle_cfg))?,
    )
    .map_err(|e| Error::Internal(format!("bundle config: {e}")))?;
    let mut process = spec
        .get("process")
        .cloned()
        .unwrap_or_else(|| serde_json::json!({}));
    // The container's environment, overridden key by key.
    let mut env: Vec<String> = process
        .get("env")
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    for e in &cfg.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    if cfg.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
        env.push("TERM=xterm".into());
    }
    process["args"] = serde_json::json!(cfg.cmd);
    process["env"] = serde_json::json!(env);
    process["terminal"] = serde_json::json!(cfg.tty);
    process.as_object_mut().map(|p| p.remove("consoleSize"));
    if let Some(w) = &cfg.working_dir {
        if !w.starts_with('/') {
            return Err(Error::InvalidArgument(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
        process["cwd"] = serde_json::json!(w);
    }
    if let Some(u) = &cfg.user {
        let user = crate::runtime::resolve_user(&cs.rootfs(id), u)?;
        process["user"] = serde_json::json!({"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids});
    }
    let exec_id = crate::container::new_id();
    let request = crate::shim::ExecRequest {
        process,
        open_stdin: cfg.attach_stdin,
    };
    let path = crate::shim::exec_request_path(&cs.run_dir(id), &exec_id);
    let launched = (|| -> Result<i64> {
        let run_dir = cs.run_dir(id);
        fsutil::mkdir_private(&run_dir).map_err(crate::store::io_err("cannot create", &run_dir))?;
        fsutil::write_atomic(
            &path,
            &serde_json::to_vec(&request).map_err(|e| Error::Internal(e.to_string()))?,
        )
        .map_err(crate::store::io_err("cannot write", &path))?;
        let mut args = vec!["exec"];
        if !cfg.detach {
            args.push("--wait-attach");
        }
        match run_monitor(store, shim_binary, &args, &[id, &exec_id], 126)? {
            Ok(pid) => Ok(pid),
            Err((code, message)) => Err(Error::StartFailed { code, message }),
        }
    })();
    match launched {
        Ok(pid) => Ok((
            pid,
            crate::attach::socket_path(store.runroot(), &exec_id, "attach"),
        )),
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            // The container may have exited since the check above (its monitor then removes
            // the run dir): say so as Docker does, not with what failed because of it.
            let _ = cs.reconcile(id);
            // Its monitor may not have recorded the exit yet: the init's PID tells.
            let running = cs
                .state(id)
                .is_ok_and(|s| s.status.is_live() && container::process_start_time(s.pid) != 0);
            if !running {
                return Err(Error::Conflict(format!("container {id} is not running")));
            }
            Err(e)
        }
    }
}

/// Starts `rdesk shim MODE ...` (fork+exec; the monitor forks again and detaches) and reads
/// its one-line report: `Ok(Ok(pid))`, or `Ok(Err((exit code, message)))` when it refused.
fn run_monitor(
    store: &Store,
    shim_binary: &Path,
    mode: &[&str],
    ids: &[&str],
    default_code: i32,
) -> Result<std::result::Result<i64, (i32, String)>> {
    let mut child = std::process::Command::new(shim_binary)
        .arg("shim")
        .arg(mode[0])
        .arg("--root")
        .arg(store.root())
        .arg("--runroot")
        .arg(store.runroot())
        .args(&mode[1..])
        .args(ids)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            Error::Internal(format!(
                "cannot start the container monitor {}: {e}",
                shim_binary.display()
            ))
        })?;
    let mut report = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut report);
    }
    let _ = child.wait();
    let line = report.lines().next().unwrap_or("").to_string();
    if let Some(pid) = line.strip_prefix("ok ") {
        return Ok(Ok(pid.trim().parse().unwrap_or(0)));
    }
    Ok(Err(
        match line.strip_prefix("error ").and_then(|r| r.split_once(' ')) {
            Some((c, m)) => (c.parse().unwrap_or(default_code), m.to_string()),
            None if line.is_empty() => (
                default_code,
                "the container monitor exited without a report".to_string(),
            ),
            None => (
                default_code,
                format!("the container monitor exited without a report: {line}"),
            ),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_and_sys_must_be_ordinary_directories() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        // Missing or directories: fine (the runtime creates missing ones inside the rootfs).
        check_special_mountpoints(root).unwrap();
        std::fs::create_dir(root.join("proc")).unwrap();
        std::fs::create_dir(root.join("sys")).unwrap();
        check_special_mountpoints(root).unwrap();
        std::fs::remove_dir(root.join("proc")).unwrap();
        std::os::unix::fs::symlink("/tmp", root.join("proc")).unwrap();
        assert_eq!(
            check_special_mountpoints(root).unwrap_err().to_string(),
            "the image's /proc is a symlink to /tmp: proc must be mounted on an ordinary \
             directory, refusing to start the container"
        );
        std::fs::remove_file(root.join("proc")).unwrap();
        std::fs::create_dir(root.join("proc")).unwrap();
        std::fs::remove_dir(root.join("sys")).unwrap();
        std::fs::write(root.join("sys"), "").unwrap();
        assert!(check_special_mountpoints(root)
            .unwrap_err()
            .to_string()
            .contains("/sys is not a directory: sysfs must be mounted"));
    }
}
