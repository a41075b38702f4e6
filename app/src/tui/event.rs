//! What background tasks tell the app (`Notification`, over a tokio mpsc channel) and what
//! the app asks the runner to do (`Effect`). The app never shares state with the tasks: they
//! get owned inputs and send owned results.

use rdesk_engine::models::{
    CreateImageInfo, HistoryResponseItem, ImageDeleteResponseItem, ImagePruneResponse, ImageSummary,
};

#[derive(Debug)]
pub enum Notification {
    ImagesLoaded(Result<Vec<ImageSummary>, String>),
    /// The store changed on disk (this process or another one): re-read it.
    StoreChanged,
    HistoryLoaded {
        id: String,
        result: Result<Vec<HistoryResponseItem>, String>,
    },
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
    Error(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    LoadImages,
    LoadHistory(String),
    LoadInspect(String),
    Pull(String),
    RemoveImage(String),
    PruneImages,
    /// Put this text on the clipboard (OSC 52).
    Copy(String),
    SetMouse(bool),
    Quit,
}
