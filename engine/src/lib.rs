//! rdesk's engine: a daemonless container engine as a library. Every rdesk process (TUI or
//! CLI) opens the store and acts on it directly; processes coordinate through file locks
//! and atomic writes. The API follows bollard's method names and the Docker Engine API's
//! models, so `rdesk inspect` prints what a `docker inspect` reader expects.

pub mod archive;
pub mod attach;
pub mod config;
pub mod container;
mod container_ops;
mod containers;
pub mod digest;
pub mod error;
pub mod events;
mod images;
mod layer;
pub mod network;
pub mod oci;
pub mod options;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod runtime;
pub mod shim;
pub mod stats;
pub mod store;
pub mod unpack;
pub mod volumes;

pub use bollard_stubs::models;
pub use config::EngineConfig;
pub use container::ContainerSpec as ContainerConfig;
pub use container_ops::{extract_tar_to_host, tar_host_path, ContainerPathStat};
pub use containers::{status_text, LogReader, LogRecord};
pub use error::{Error, Result};
pub use network::{
    ConnectNetworkOptions, CreateNetworkOptions, DisconnectNetworkOptions, NetworkFilters,
};
pub use options::*;
pub use pull::PullStream;
pub use reference::Reference;
pub use volumes::{
    CreateVolumeOptions, ListVolumesOptions, PruneVolumesOptions, RemoveVolumeOptions,
    VolumeDirEntry, VolumeUsage, VolumeUser,
};

use models::{
    HistoryResponseItem, ImageDeleteResponseItem, ImageInspect, ImagePruneResponse, ImageSummary,
};
use oci::Platform;
use std::sync::Arc;
use store::Store;

pub(crate) struct EngineInner {
    pub(crate) config: EngineConfig,
    pub(crate) store: Store,
}

/// The handle the TUI and the CLI share. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

pub(crate) fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
}

impl Engine {
    /// Opens (creating if needed) the store; sweeps what crashed processes left.
    pub async fn open(config: EngineConfig) -> Result<Engine> {
        if !nix::unistd::geteuid().is_root() {
            return Err(Error::NotRoot);
        }
        Self::open_unchecked(config).await
    }

    /// As `open`, without the root check: for the image store alone, which needs no
    /// privilege (unit tests run it as any user).
    pub async fn open_unchecked(config: EngineConfig) -> Result<Engine> {
        let (root, run, sync) = (
            config.root.clone(),
            config.runroot.clone(),
            config.sync_layers,
        );
        let store = blocking(move || {
            let store = Store::open(&root, &run)?.with_sync_layers(sync);
            container::ContainerStore::new(&store).ensure_dirs()?;
            containers::sweep_exits(&store);
            Ok(store)
        })
        .await?;
        Ok(Engine {
            inner: Arc::new(EngineInner { config, store }),
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Pulls an image; the stream yields Docker-shaped progress messages.
    pub fn create_image(&self, options: CreateImageOptions) -> PullStream {
        let parsed = (|| {
            let mut name = options.from_image.clone();
            if !options.tag.is_empty() {
                name = format!("{name}:{}", options.tag);
            }
            let reference = Reference::parse(&name)?;
            let platform = if options.platform.is_empty() {
                Platform::host()
            } else {
                parse_platform(&options.platform)?
            };
            Ok::<_, Error>((reference, platform))
        })();
        match parsed {
            Ok((reference, platform)) => pull::start(self.inner.clone(), reference, platform),
            Err(e) => pull::failed(e),
        }
    }

    pub async fn list_images(&self, options: ListImagesOptions) -> Result<Vec<ImageSummary>> {
        let store = self.inner.store.clone();
        blocking(move || images::list(&store, &options)).await
    }

    pub async fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || images::inspect(&store, &name)).await
    }

    pub async fn image_history(&self, name: &str) -> Result<Vec<HistoryResponseItem>> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || images::history(&store, &name)).await
    }

    pub async fn tag_image(&self, name: &str, options: TagImageOptions) -> Result<()> {
        let target = if options.tag.is_empty() {
            options.repo.clone()
        } else {
            format!("{}:{}", options.repo, options.tag)
        };
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || images::tag(&store, &name, &target)).await
    }

    pub async fn remove_image(
        &self,
        name: &str,
        options: RemoveImageOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || images::remove(&store, &name, options.force)).await
    }

    pub async fn prune_images(&self, options: PruneImagesOptions) -> Result<ImagePruneResponse> {
        let store = self.inner.store.clone();
        blocking(move || images::prune(&store, options.all)).await
    }

    /// Writes the images as a docker-archive tar (also readable as an OCI layout).
    pub async fn export_images(
        &self,
        names: Vec<String>,
        mut out: Box<dyn std::io::Write + Send>,
    ) -> Result<()> {
        let store = self.inner.store.clone();
        blocking(move || archive::save(&store, &names, &mut out)).await
    }

    /// Loads a docker-archive tar or an OCI image layout tar; returns the loaded references
    /// (or image IDs for untagged images).
    pub async fn import_image_archive(&self, input: std::path::PathBuf) -> Result<Vec<String>> {
        let inner = self.inner.clone();
        blocking(move || archive::load(&inner.store, &inner.config, &input)).await
    }

    /// Creates a one-layer image from a rootfs tarball (`docker import`); returns its ID.
    pub async fn import_image(
        &self,
        input: std::path::PathBuf,
        options: ImportImageOptions,
    ) -> Result<String> {
        let inner = self.inner.clone();
        blocking(move || archive::import(&inner.store, &inner.config, &input, &options)).await
    }
}

impl Engine {
    /// Runs `f` off the async runtime on the container `name` (name, ID or prefix) resolves to.
    async fn on_container<T: Send + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&Store, &str) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || {
            let id = container::ContainerStore::new(&store).find(&name)?;
            f(&store, &id)
        })
        .await
    }

    /// Creates a container (not started); returns its ID.
    pub async fn create_container(
        &self,
        options: Option<CreateContainerOptions>,
        config: ContainerConfig,
    ) -> Result<String> {
        let store = self.inner.store.clone();
        let name = options.map(|o| o.name).filter(|n| !n.is_empty());
        blocking(move || containers::create(&store, name.as_deref(), config)).await
    }

    /// Starts it under its own monitor (`rdesk shim`); returns the init's PID.
    pub async fn start_container(&self, name: &str) -> Result<i64> {
        let (store, shim) = (
            self.inner.store.clone(),
            self.inner.config.shim_binary.clone(),
        );
        let name = name.to_string();
        blocking(move || {
            let id = container::ContainerStore::new(&store).find(&name)?;
            containers::start(&store, &shim, &id, false)
        })
        .await
    }

    /// Starts it so that it runs only once a client is attached to its socket (`run -it`):
    /// returns the PID and the attach socket to connect to within 30 s.
    pub async fn start_container_attached(&self, name: &str) -> Result<(i64, std::path::PathBuf)> {
        let (store, shim) = (
            self.inner.store.clone(),
            self.inner.config.shim_binary.clone(),
        );
        let name = name.to_string();
        blocking(move || {
            let id = container::ContainerStore::new(&store).find(&name)?;
            let pid = containers::start(&store, &shim, &id, true)?;
            Ok((pid, attach::socket_path(store.runroot(), &id, "attach")))
        })
        .await
    }

    /// Runs a command in a running container (bollard's create_exec + start_exec): the PID
    /// (0 until a client attaches) and the socket to attach to.
    pub async fn exec(&self, name: &str, config: ExecConfig) -> Result<(i64, std::path::PathBuf)> {
        let (store, shim) = (
            self.inner.store.clone(),
            self.inner.config.shim_binary.clone(),
        );
        let name = name.to_string();
        blocking(move || {
            let id = container::ContainerStore::new(&store).find(&name)?;
            containers::exec(&store, &shim, &id, &config)
        })
        .await
    }

    /// One sample of a running container's CPU, memory and pids usage from its cgroup
    /// (bollard's `stats` with `stream: false`; call it again for the next sample).
    pub async fn stats(&self, name: &str) -> Result<models::ContainerStatsResponse> {
        self.on_container(name, stats::sample).await
    }

    /// The event journal's end: follow from here for what happens from now on.
    pub fn events_end(&self) -> u64 {
        events::end_offset(&self.inner.store)
    }

    /// Events journaled at or after `offset`, and the offset to continue from.
    pub fn events_from(&self, offset: u64) -> (Vec<events::EventMessage>, u64) {
        events::read_from(&self.inner.store, offset)
    }

    /// Waits (inotify, no polling) until an event lands after `offset`, at most `timeout`.
    pub async fn wait_for_events(&self, offset: u64, timeout: std::time::Duration) {
        let store = self.inner.store.clone();
        let _ =
            tokio::task::spawn_blocking(move || events::wait_for_change(&store, offset, timeout))
                .await;
    }

    /// The attach socket of a running container, and whether it has a TTY and open stdin.
    pub async fn attach_target(&self, name: &str) -> Result<(std::path::PathBuf, bool, bool)> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || {
            let cs = container::ContainerStore::new(&store);
            let id = cs.find(&name)?;
            cs.reconcile(&id)?;
            let record = cs.record(&id)?;
            if !cs.state(&id)?.status.is_live() {
                return Err(Error::Conflict(
                    "You cannot attach to a stopped container, start it first".into(),
                ));
            }
            Ok((
                attach::socket_path(store.runroot(), &id, "attach"),
                record.spec.tty,
                record.spec.open_stdin,
            ))
        })
        .await
    }

    /// The stop signal (the image's StopSignal, else SIGTERM), then SIGKILL after `timeout` s.
    pub async fn stop_container(&self, name: &str, timeout: Option<i64>) -> Result<()> {
        self.on_container(name, move |store, id| containers::stop(store, id, timeout))
            .await
    }

    pub async fn restart_container(&self, name: &str, timeout: Option<i64>) -> Result<()> {
        self.stop_container(name, timeout).await?;
        self.start_container(name).await.map(|_| ())
    }

    pub async fn kill_container(&self, name: &str, signal: &str) -> Result<()> {
        let (store, name, signal) = (
            self.inner.store.clone(),
            name.to_string(),
            signal.to_string(),
        );
        blocking(move || {
            let id = container::ContainerStore::new(&store).find(&name)?;
            containers::kill(&store, &id, &signal)
        })
        .await
    }

    pub async fn remove_container(
        &self,
        name: &str,
        options: RemoveContainerOptions,
    ) -> Result<()> {
        self.on_container(name, move |store, id| {
            containers::remove(store, id, options.force, options.v)
        })
        .await
    }

    pub async fn list_containers(
        &self,
        options: ListContainersOptions,
    ) -> Result<Vec<models::ContainerSummary>> {
        let store = self.inner.store.clone();
        blocking(move || containers::list(&store, &options)).await
    }

    pub async fn inspect_container(&self, name: &str) -> Result<models::ContainerInspectResponse> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || containers::inspect(&store, &name)).await
    }

    /// Blocks until the container is not running; its exit code.
    pub async fn wait_container(&self, name: &str) -> Result<i64> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || containers::wait(&store, &name)).await
    }

    /// The container's log records; with `follow`, until it stops. `sink` returns false to stop.
    pub async fn logs(
        &self,
        name: &str,
        options: LogsOptions,
        sink: impl FnMut(LogRecord) -> bool + Send + 'static,
    ) -> Result<()> {
        let log = self.open_logs(name).await?;
        self.read_logs(log, options, sink).await
    }

    /// Opens a container's log now (before `start`, for `run`), to read it later.
    pub async fn open_logs(&self, name: &str) -> Result<LogReader> {
        self.on_container(name, containers::open_log).await
    }

    /// The container's log file (JSON lines in Docker's json-file shape: `log`, `stream`,
    /// `time`), for a viewer that watches it (inotify) instead of holding a following reader.
    pub async fn container_log_path(&self, name: &str) -> Result<std::path::PathBuf> {
        self.on_container(name, |store, id| {
            Ok(container::ContainerStore::new(store).log_path(id))
        })
        .await
    }

    /// Reads an opened log (see `logs`).
    pub async fn read_logs(
        &self,
        mut log: LogReader,
        options: LogsOptions,
        mut sink: impl FnMut(LogRecord) -> bool + Send + 'static,
    ) -> Result<()> {
        let store = self.inner.store.clone();
        blocking(move || containers::read_logs(&store, &mut log, &options, &mut sink)).await
    }

    /// Freezes every process of the container (`docker pause`).
    pub async fn pause_container(&self, name: &str) -> Result<()> {
        self.on_container(name, container_ops::pause).await
    }

    pub async fn unpause_container(&self, name: &str) -> Result<()> {
        self.on_container(name, container_ops::unpause).await
    }

    /// The container's processes as the host's `ps` shows them (`ps_args`, default `-ef`).
    pub async fn top_processes(
        &self,
        name: &str,
        options: TopOptions,
    ) -> Result<models::ContainerTopResponse> {
        self.on_container(name, move |store, id| {
            container_ops::top(store, id, &options.ps_args)
        })
        .await
    }

    /// Changes of the container's filesystem against its image (`docker diff`).
    pub async fn container_changes(&self, name: &str) -> Result<Vec<models::FilesystemChange>> {
        self.on_container(name, container_ops::changes).await
    }

    /// Writes a tar of the container's root filesystem.
    pub async fn export_container(
        &self,
        name: &str,
        writer: Box<dyn std::io::Write + Send>,
    ) -> Result<()> {
        self.on_container(name, move |store, id| {
            container_ops::export(store, id, writer)
        })
        .await
    }

    /// `stat` of a path inside the container (`None`: not found); a final symlink is
    /// followed (inside the container) only with `follow_link` or a path ending in `/`.
    pub async fn stat_container_path(
        &self,
        name: &str,
        path: &str,
        follow_link: bool,
    ) -> Result<Option<ContainerPathStat>> {
        let (store, name, path) = (self.inner.store.clone(), name.to_string(), path.to_string());
        blocking(move || {
            let id = container::ContainerStore::new(&store).find(&name)?;
            container_ops::stat_path(&store, &id, &path, follow_link)
        })
        .await
    }

    /// Writes a tar of `options.path` in the container, its base name as the top entry.
    pub async fn copy_from_container(
        &self,
        name: &str,
        options: CopyFromContainerOptions,
        writer: Box<dyn std::io::Write + Send>,
    ) -> Result<()> {
        self.on_container(name, move |store, id| {
            container_ops::copy_from(store, id, &options.path, options.follow_link, writer)
        })
        .await
    }

    /// Extracts a tar into the existing directory `options.path` of the container.
    pub async fn copy_to_container(
        &self,
        name: &str,
        options: CopyToContainerOptions,
        reader: Box<dyn std::io::Read + Send>,
    ) -> Result<()> {
        self.on_container(name, move |store, id| {
            container_ops::copy_to(store, id, &options.path, options.copy_uid_gid, reader)
        })
        .await
    }

    pub async fn rename_container(
        &self,
        name: &str,
        options: RenameContainerOptions,
    ) -> Result<()> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || container_ops::rename(&store, &name, &options.name)).await
    }

    /// Resolves a name or ID prefix to the full container ID.
    pub async fn container_id(&self, name: &str) -> Result<String> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || container::ContainerStore::new(&store).find(&name)).await
    }
}

/// `linux/arm64/v8` -> Platform.
pub fn parse_platform(s: &str) -> Result<Platform> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
            os: os.to_string(),
            architecture: arch.to_string(),
            variant: parts.get(2).map(|v| v.to_string()),
            os_version: None,
        }),
        _ => Err(Error::InvalidArgument(format!(
            "invalid platform {s:?}: expected os/arch[/variant], e.g. linux/amd64"
        ))),
    }
}
