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

/// Reads the journal from byte `offset`: the complete events there and the offset after them.
/// A rotated journal (shorter than `offset`) is read from its start.
pub fn read_from(store: &Store, offset: u64) -> (Vec<EventMessage>, u64) {
    use std::io::{BufRead, Seek};
    let path = journal_path(store);
    let Ok(mut f) = std::fs::File::open(&path) else {
        return (Vec::new(), 0);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = if offset > len { 0 } else { offset };
    if f.seek(std::io::SeekFrom::Start(start)).is_err() {
        return (Vec::new(), start);
    }
    let mut reader = std::io::BufReader::new(f);
    let mut out = Vec::new();
    let mut pos = start;
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(n) if line.ends_with('\n') => {
                pos += n as u64;
                if let Ok(ev) = serde_json::from_str::<EventMessage>(&line) {
                    out.push(ev);
                }
            }
            // A line still being written: read it next time.
            Ok(_) => break,
        }
    }
    (out, pos)
}

/// The journal's current end, to follow only what happens from now on.
pub fn end_offset(store: &Store) -> u64 {
    std::fs::metadata(journal_path(store))
        .map(|m| m.len())
        .unwrap_or(0)
}

/// Blocks until the journal changes past `offset` or `timeout` passes (inotify on the run
/// dir: no polling while nothing happens).
pub fn wait_for_change(store: &Store, offset: u64, timeout: std::time::Duration) {
    use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
    if end_offset(store) != offset {
        return;
    }
    let Ok(ino) = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK) else {
        std::thread::sleep(timeout.min(std::time::Duration::from_millis(200)));
        return;
    };
    if ino
        .add_watch(
            store.runroot(),
            AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
        )
        .is_err()
    {
        std::thread::sleep(timeout.min(std::time::Duration::from_millis(200)));
        return;
    }
    // Re-check: an event may have landed between the first look and the watch.
    if end_offset(store) != offset {
        return;
    }
    use std::os::fd::AsFd;
    let mut fds = [nix::poll::PollFd::new(
        ino.as_fd(),
        nix::poll::PollFlags::POLLIN,
    )];
    let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
    let _ = nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_appends_reads_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("r"), &dir.path().join("u")).unwrap();
        append(&store, "container", "start", "abc", "web", "busybox");
        let (evs, off) = read_from(&store, 0);
        assert_eq!(evs.len(), 1);
        assert_eq!(evs[0].action, "start");
        assert_eq!(evs[0].actor.attributes["name"], "web");
        append(&store, "container", "die", "abc", "web", "busybox");
        let (evs, off2) = read_from(&store, off);
        assert_eq!(
            evs.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
            ["die"]
        );
        assert!(off2 > off);
        // Rotation: a shorter file than our offset is read from its start.
        std::fs::write(journal_path(&store), b"").unwrap();
        append(&store, "image", "pull", "x", "", "");
        let (evs, _) = read_from(&store, off2);
        assert_eq!(evs[0].action, "pull");
    }
}
