//! Live updates across processes without polling: inotify on the store root, reporting
//! `StoreChanged` when `images.json` is replaced (the store writes it atomically: temp file
//! then rename, so a rename onto the name is the signal). No event, no wake-up, no CPU.
//! Where inotify is unavailable (some network filesystems, exhausted watch limits) it
//! falls back to comparing the file's mtime every `[tui] refresh_ms`.
//!
//! Containers change through the engine's event journal (`<runroot>/events.log`, one JSON
//! line per event, appended by every rdesk process and by the monitors): `watch_journal`
//! wakes on inotify when it grows, reads the new events from its offset and reports
//! `ContainersChanged` when one is about a container, `VolumesChanged` when one is about a
//! volume or a container came or went (a volume's users). Images keep the `images.json` watch
//! (their index is the source of truth and is replaced atomically).

use super::event::Notification;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc::UnboundedSender;

/// The file whose replacement means "the image list changed".
pub const WATCHED: &str = "images.json";

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Runs until the app's channel closes.
pub async fn watch(root: PathBuf, tx: UnboundedSender<Notification>, fallback: Duration) {
    if let Err(e) = watch_inotify(&root, &tx).await {
        if tx.is_closed() {
            return;
        }
        let _ = e; // No inotify here: poll instead (quietly; this is not the user's problem).
        poll_mtime(
            &root.join(WATCHED),
            &tx,
            fallback.max(Duration::from_millis(100)),
        )
        .await;
    }
}

async fn watch_inotify(root: &Path, tx: &UnboundedSender<Notification>) -> io::Result<()> {
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    ino.add_watch(
        root,
        AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_CLOSE_WRITE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM,
    )?;
    // SAFETY: `Fd` owns the inotify descriptor (an OwnedFd inside `Inotify`) and always
    // returns that same descriptor; it stays open until the AsyncFd drops it.
    let fd = unsafe { AsyncFd::register_with_interest(Fd(ino), Interest::READABLE) }?;
    loop {
        let mut guard = tokio::select! {
            g = fd.readable() => g?,
            _ = tx.closed() => return Ok(()),
        };
        match guard.try_io(|inner| inner.get_ref().0.read_events().map_err(io::Error::from)) {
            Ok(Ok(events)) => {
                if events
                    .iter()
                    .any(|e| e.name.as_deref() == Some(OsStr::new(WATCHED)))
                    && tx.send(Notification::StoreChanged).is_err()
                {
                    return Ok(());
                }
            }
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => continue,
        }
    }
}

/// Follows the event journal until the app's channel closes.
pub async fn watch_journal(
    engine: rdesk_engine::Engine,
    tx: UnboundedSender<Notification>,
    fallback: Duration,
) {
    let runroot = engine.store().runroot().to_path_buf();
    let mut offset = engine.events_end();
    // What the new events change: (the container list, the volumes, the networks).
    // Containers that come or go change the volumes' users; containers that start, stop,
    // come or go change the containers on a network (endpoints live while they run); a
    // network event (connect, disconnect) changes a container's networks too.
    let wake = |offset: &mut u64| -> (bool, bool, bool) {
        let (events, next) = engine.events_from(*offset);
        *offset = next;
        (
            events
                .iter()
                .any(|e| e.typ == "container" || (e.typ == "network" && e.action != "create")),
            events.iter().any(|e| {
                e.typ == "volume"
                    || (e.typ == "container" && matches!(e.action.as_str(), "create" | "destroy"))
            }),
            events.iter().any(|e| {
                e.typ == "network"
                    || (e.typ == "container"
                        && matches!(
                            e.action.as_str(),
                            "create" | "start" | "die" | "destroy" | "rename"
                        ))
            }),
        )
    };
    let send = |(containers, volumes, networks): (bool, bool, bool)| -> bool {
        (!containers || tx.send(Notification::ContainersChanged).is_ok())
            && (!volumes || tx.send(Notification::VolumesChanged).is_ok())
            && (!networks || tx.send(Notification::NetworksChanged).is_ok())
    };
    let watched = (|| -> io::Result<AsyncFd<Fd>> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        ino.add_watch(
            &runroot,
            AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO,
        )?;
        // SAFETY: as in `watch_inotify`: `Fd` owns the descriptor it returns.
        Ok(unsafe { AsyncFd::register_with_interest(Fd(ino), Interest::READABLE) }?)
    })();
    let fd = match watched {
        Ok(fd) => fd,
        Err(_) => {
            // No inotify: look at the journal every `fallback`.
            let mut tick = tokio::time::interval(fallback.max(Duration::from_millis(100)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = tx.closed() => return,
                }
                if !send(wake(&mut offset)) {
                    return;
                }
            }
        }
    };
    // Anything that happened between reading the end and the watch.
    if !send(wake(&mut offset)) {
        return;
    }
    loop {
        let mut guard = tokio::select! {
            g = fd.readable() => match g { Ok(g) => g, Err(_) => return },
            _ = tx.closed() => return,
        };
        match guard.try_io(|inner| inner.get_ref().0.read_events().map_err(io::Error::from)) {
            Ok(Ok(events)) => {
                let journal = events.iter().any(|e| {
                    e.name
                        .as_deref()
                        .is_some_and(|n| n.to_string_lossy().starts_with("events.log"))
                });
                if journal && !send(wake(&mut offset)) {
                    return;
                }
            }
            Ok(Err(_)) => return,
            Err(_would_block) => continue,
        }
    }
}

async fn poll_mtime(path: &Path, tx: &UnboundedSender<Notification>, every: Duration) {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
    };
    let mut last = stamp(path);
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tx.closed() => return,
        }
        let now = stamp(path);
        if now != last {
            last = now;
            if tx.send(Notification::StoreChanged).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reports_replacement_of_the_index_only() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let root = dir.path().to_path_buf();
        let task = tokio::spawn(watch(root.clone(), tx, Duration::from_secs(1)));
        // Let the watch start before changing anything.
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::write(root.join("other.json"), "{}").unwrap();
        std::fs::write(root.join(".tmp-1"), "{}").unwrap();
        std::fs::rename(root.join(".tmp-1"), root.join(WATCHED)).unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("a change notification")
            .unwrap();
        assert!(matches!(n, Notification::StoreChanged));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err(), "one change, one notification");
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .expect("the watcher ends with the app")
            .unwrap();
    }

    /// A volume created by another handle on the store (another process's CLI) reaches the
    /// journal follower as `VolumesChanged`, and not as a container change.
    /// The next notification (within 2 s), and no other after it (`why` says which).
    async fn sole_notification(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Notification>,
        why: &str,
    ) -> Notification {
        let n = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .expect("a notification")
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(rx.try_recv().is_err(), "{why}");
        n
    }

    #[tokio::test]
    async fn journal_volume_events_reload_the_volumes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg =
            rdesk_engine::EngineConfig::with_root(dir.path().join("root"), dir.path().join("run"));
        let engine = rdesk_engine::Engine::open_unchecked(cfg.clone())
            .await
            .unwrap();
        let other = rdesk_engine::Engine::open_unchecked(cfg).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(watch_journal(engine, tx, Duration::from_secs(1)));
        tokio::time::sleep(Duration::from_millis(100)).await;
        other
            .create_volume(rdesk_engine::CreateVolumeOptions {
                name: "data".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        let n = sole_notification(&mut rx, "no container change").await;
        assert!(matches!(n, Notification::VolumesChanged), "{n:?}");
        // A network created by the other handle: the networks reload, nothing else.
        other
            .create_network(rdesk_engine::CreateNetworkOptions {
                name: "todo-app".into(),
                driver: "bridge".into(),
                subnet: Some("10.231.77.0/24".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let n = sole_notification(&mut rx, "no container or volume change").await;
        assert!(matches!(n, Notification::NetworksChanged), "{n:?}");
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn polling_fallback_sees_changes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(WATCHED);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let p = path.clone();
        let task =
            tokio::spawn(async move { poll_mtime(&p, &tx, Duration::from_millis(50)).await });
        tokio::time::sleep(Duration::from_millis(80)).await;
        std::fs::write(&path, "{\"images\": []}").unwrap();
        let n = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(n, Notification::StoreChanged));
        drop(rx);
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap()
            .unwrap();
    }
}
