//! The cross-process event journal: no daemon, so changes travel through the run dir. Every
//! rdesk process appends one JSON line per event (Docker's event shape) to
//! `<runroot>/events.log`; the TUI and `rdesk events` watch it. Events only say what to
//! re-read: state always comes from the store. The journal is bounded: past 1 MiB it is
//! rotated to `events.log.1`.

use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;

const MAX_JOURNAL: u64 = 1 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes", default)]
    pub attributes: BTreeMap<String, String>,
}

/// Docker's `events.Message`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EventMessage {
    #[serde(rename = "Type")]
    pub typ: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

pub fn journal_path(store: &Store) -> std::path::PathBuf {
    store.runroot().join("events.log")
}

/// Appends an event; failures are ignored (events are hints, never the source of truth).
pub fn append(store: &Store, typ: &str, action: &str, id: &str, name: &str, image: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut attributes = BTreeMap::new();
    if !name.is_empty() {
        attributes.insert("name".to_string(), name.to_string());
    }
    if !image.is_empty() {
        attributes.insert("image".to_string(), image.to_string());
    }
    let msg = EventMessage {
        typ: typ.into(),
        action: action.into(),
        actor: Actor {
            id: id.into(),
            attributes,
        },
        scope: "local".into(),
        time: now.as_secs() as i64,
        time_nano: now.as_nanos() as i64,
    };
    let path = journal_path(store);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_JOURNAL) {
        let _ = std::fs::rename(&path, path.with_extension("log.1"));
    }
    if let (Ok(mut line), Ok(mut f)) = (
        serde_json::to_vec(&msg),
        std::fs::File::options()
            .create(true)
            .append(true)
            .open(&path),
    ) {
        line.push(b'\n');
        // One write(2) per line on an O_APPEND file: lines from several processes never
        // interleave.
        let _ = f.write_all(&line);
    }
}
