//! What background tasks tell the app (`Notification`, over a tokio mpsc channel) and what
//! the app asks the runner to do (`Effect`). The app never shares state with the tasks: they
//! get owned inputs and send owned results.

use rdesk_engine::models::{
    ContainerStatsResponse, ContainerSummary, CreateImageInfo, HistoryResponseItem,
    ImageDeleteResponseItem, ImagePruneResponse, ImageSummary,
};
use rdesk_engine::VolumeUsage;
use rdesk_widgets::{FileEntry, LogLine};

#[derive(Debug)]
pub enum Notification {
    ImagesLoaded(Result<Vec<ImageSummary>, String>),
    /// The store changed on disk (this process or another one): re-read it.
    StoreChanged,
    ContainersLoaded(Result<Vec<ContainerSummary>, String>),
    /// The event journal has container events: re-read the list.
    ContainersChanged,
    /// Every volume with its size and users (`volumes_usage`).
    VolumesLoaded(Result<Vec<VolumeUsage>, String>),
    /// The journal has volume events, or containers came or went (volumes' users).
    VolumesChanged,
    /// Every network with its containers (`network_usage`).
    NetworksLoaded(Result<Vec<rdesk_engine::network::NetworkUse>, String>),
    /// The journal has network events, or containers started, stopped, came or went.
    NetworksChanged,
    /// A network verb (create, remove, prune, connect, disconnect) finished: what to say,
    /// or why it failed; `select` is a network to select (a new one).
    NetworkDone {
        what: String,
        result: Result<String, String>,
        select: Option<String>,
    },
    /// A volume verb (create, remove, prune) finished: what to say, or why it failed;
    /// `select` is a volume to select (a new one).
    VolumeDone {
        what: String,
        result: Result<String, String>,
        select: Option<String>,
    },
    /// A directory inside a volume, listed.
    VolumeDir {
        volume: String,
        path: String,
        result: Result<Vec<FileEntry>, String>,
    },
    /// The first bytes of a file inside a volume.
    VolumeFile {
        volume: String,
        path: String,
        result: Result<Vec<u8>, String>,
    },
    HistoryLoaded {
        id: String,
        result: Result<Vec<HistoryResponseItem>, String>,
    },
    /// `docker inspect` of an image or a container (IDs of the two never collide).
    InspectLoaded {
        id: String,
        result: Result<serde_json::Value, String>,
    },
    PullProgress(CreateImageInfo),
    /// The reference pulled, or why the pull failed.
    PullDone(Result<String, String>),
    Removed {
        reference: String,
        result: Result<Vec<ImageDeleteResponseItem>, String>,
    },
    Pruned(Result<ImagePruneResponse, String>),
    /// A container verb finished: what to say, or why it failed.
    ContainerDone {
        what: String,
        result: Result<String, String>,
    },
    /// Lines of a followed log; `reset` replaces what the view holds (the first read).
    LogLines {
        id: String,
        lines: Vec<LogLine>,
        reset: bool,
    },
    LogFailed {
        id: String,
        error: String,
    },
    Stats {
        id: String,
        result: Result<Box<ContainerStatsResponse>, String>,
    },
    /// A run from the form: the new container's ID (to select), or why it failed.
    RunDone(Result<String, String>),
    /// An interactive run created its container: start it attached and hand over.
    RunCreated(String),
    /// Back from attach/exec: what happened there.
    HandoverDone(Result<String, String>),
    /// Output of the terminal pane's process.
    TermOutput {
        id: String,
        bytes: Vec<u8>,
    },
    /// The terminal pane's process ended (or never started): how.
    TermEnded {
        id: String,
        how: String,
    },
    /// A line for the status bar.
    Status(String),
    Error(String),
}

impl Notification {
    /// Part of a stream that may come many times a second (drawn at most once per frame
    /// interval); anything else is drawn at once.
    pub fn is_stream(&self) -> bool {
        matches!(
            self,
            Notification::PullProgress(_)
                | Notification::LogLines { .. }
                | Notification::TermOutput { .. }
                | Notification::Stats { .. }
        )
    }
}

/// What a container verb does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerOp {
    Start,
    Stop,
    Restart,
    Remove { force: bool },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    LoadImages,
    LoadContainers,
    LoadHistory(String),
    LoadInspect(String),
    LoadContainerInspect(String),
    /// Every volume with its size and users (walks them all: on demand only).
    LoadVolumes,
    /// `volume inspect` of this volume (reported as `InspectLoaded` with id `volume:NAME`).
    LoadVolumeInspect(String),
    /// `volume create NAME` (empty: a generated name).
    CreateVolume(String),
    RemoveVolume(String),
    /// `volume prune` (`-a` with `all`).
    PruneVolumes {
        all: bool,
    },
    /// List `path` inside the volume.
    VolumeReadDir {
        volume: String,
        path: String,
    },
    /// Read at most `[tui] file_max_bytes` of `path` inside the volume.
    VolumeReadFile {
        volume: String,
        path: String,
    },
    /// Every network with its containers.
    LoadNetworks,
    /// `network inspect` (reported as `InspectLoaded` with id `network:NAME`).
    LoadNetworkInspect(String),
    CreateNetwork(super::popups::connect::NetworkSpec),
    RemoveNetwork(String),
    PruneNetworks,
    /// `network connect [--alias ALIAS] NETWORK CONTAINER` (empty alias: none).
    /// The container by full ID; `name` for the messages.
    ConnectNetwork {
        network: String,
        container: String,
        name: String,
        alias: String,
    },
    DisconnectNetwork {
        network: String,
        container: String,
        name: String,
    },
    Pull(String),
    RemoveImage(String),
    PruneImages,
    Container {
        op: ContainerOp,
        id: String,
        name: String,
    },
    /// Remove these (ID, name) stopped containers: what the prune dialog listed.
    PruneContainers(Vec<(String, String)>),
    /// Follow this container's log (replacing any other), or stop following.
    FollowLogs(Option<String>),
    /// Sample this container's stats every `[tui] refresh_ms`, or stop.
    SampleStats(Option<String>),
    SaveLogs {
        path: std::path::PathBuf,
        text: String,
    },
    /// Leave the screen to the container's terminal until detach or exit.
    Attach(String),
    Exec(String),
    /// Start a created interactive container attached (`run -it`) and hand over.
    StartAttached(String),
    /// `run` with these Docker arguments (`-it`/`-d`, `--name`, `-e`, ..., IMAGE,
    /// COMMAND), parsed by the CLI's own parser.
    Run(Vec<String>),
    /// A shell in the terminal pane, in this container, at this size (rows, cols).
    TermOpen {
        id: String,
        rows: u16,
        cols: u16,
    },
    TermInput(Vec<u8>),
    TermResize(u16, u16),
    /// The pane closed: the shell's stdin ends.
    TermClose,
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    SetMouse(bool),
    Quit,
}
