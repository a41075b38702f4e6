//! Background followers for the container detail pane, each a task the runner aborts when
//! its tab closes or the selection moves on:
//!
//! - the log: the last `[tui] log_tail` records of the container's json-file log, then
//!   whatever is appended, woken by inotify on the log's directory (no polling, no thread
//!   held while the container is quiet);
//! - the stats: one cgroup sample every `[tui] refresh_ms`, only while the Stats tab shows.

use super::event::Notification;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use rdesk_engine::{Engine, LogRecord};
use rdesk_widgets::LogLine;
use std::io::{self, BufRead, Read, Seek};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc::UnboundedSender;

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

fn line_of(raw: &str) -> Option<LogLine> {
    let r: LogRecord = serde_json::from_str(raw).ok()?;
    Some(LogLine::new(&r.time, &r.log, r.stream == "stderr"))
}

/// The log from its start: the last `tail` records, the offset after the last complete
/// line.
fn read_tail(path: &Path, tail: usize) -> io::Result<(Vec<LogLine>, u64)> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
        Err(e) => return Err(e),
    };
    let mut reader = io::BufReader::with_capacity(256 * 1024, f);
    let mut last: std::collections::VecDeque<String> = Default::default();
    let mut pos = 0u64;
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line)?;
        if n == 0 || !line.ends_with('\n') {
            break;
        }
        pos += n as u64;
        if last.len() == tail {
            last.pop_front();
        }
        last.push_back(std::mem::take(&mut line));
    }
    Ok((last.iter().filter_map(|l| line_of(l)).collect(), pos))
}

/// Complete lines appended since `pos`.
fn read_more(path: &Path, pos: &mut u64) -> io::Result<Vec<LogLine>> {
    let mut f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    f.seek(io::SeekFrom::Start(*pos))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    let end = buf
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    *pos += end as u64;
    Ok(String::from_utf8_lossy(&buf[..end])
        .lines()
        .filter_map(line_of)
        .collect())
}

pub async fn follow_log(
    engine: Engine,
    id: String,
    tail: usize,
    tx: UnboundedSender<Notification>,
) {
    let failed = |error: String| {
        let _ = tx.send(Notification::LogFailed {
            id: id.clone(),
            error,
        });
    };
    let path: PathBuf = match engine.container_log_path(&id).await {
        Ok(p) => p,
        Err(e) => return failed(super::text(e)),
    };
    let (dir, name) = match (path.parent(), path.file_name()) {
        (Some(d), Some(n)) => (d.to_path_buf(), n.to_os_string()),
        _ => return failed(format!("bad log path {}", path.display())),
    };
    // Watch first, read second: nothing appended in between is missed.
    let watch = (|| -> io::Result<AsyncFd<Fd>> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        ino.add_watch(&dir, AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CREATE)?;
        // SAFETY: `Fd` owns the inotify descriptor and always returns that same one.
        Ok(unsafe { AsyncFd::register_with_interest(Fd(ino), Interest::READABLE) }?)
    })();
    let p = path.clone();
    let (lines, mut pos) =
        match tokio::task::spawn_blocking(move || read_tail(&p, tail.max(1))).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return failed(format!("cannot read {}: {e}", path.display())),
            Err(e) => return failed(e.to_string()),
        };
    if tx
        .send(Notification::LogLines {
            id: id.clone(),
            lines,
            reset: true,
        })
        .is_err()
    {
        return;
    }
    let fd = watch.ok();
    loop {
        match &fd {
            Some(fd) => {
                let mut guard = tokio::select! {
                    g = fd.readable() => match g { Ok(g) => g, Err(_) => return },
                    _ = tx.closed() => return,
                };
                match guard.try_io(|i| i.get_ref().0.read_events().map_err(io::Error::from)) {
                    Ok(Ok(evs)) => {
                        if !evs
                            .iter()
                            .any(|e| e.name.as_deref() == Some(name.as_os_str()))
                        {
                            continue;
                        }
                    }
                    Ok(Err(_)) => return,
                    Err(_) => continue,
                }
            }
            // No inotify: look once a second.
            None => tokio::time::sleep(Duration::from_secs(1)).await,
        }
        match read_more(&path, &mut pos) {
            Ok(lines) if lines.is_empty() => {}
            Ok(lines) => {
                if tx
                    .send(Notification::LogLines {
                        id: id.clone(),
                        lines,
                        reset: false,
                    })
                    .is_err()
                {
                    return;
                }
            }
            Err(e) => return failed(format!("cannot read {}: {e}", path.display())),
        }
    }
}

pub async fn sample_stats(
    engine: Engine,
    id: String,
    every: Duration,
    tx: UnboundedSender<Notification>,
) {
    let mut tick = tokio::time::interval(every.max(Duration::from_millis(250)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let result = engine.stats(&id).await.map(Box::new).map_err(super::text);
        let stop = result.is_err();
        if tx
            .send(Notification::Stats {
                id: id.clone(),
                result,
            })
            .is_err()
            || stop
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_tail_then_what_is_appended() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.log");
        let rec = |i: usize, s: &str| {
            format!(
                "{{\"log\":\"line {i}\\n\",\"stream\":\"{s}\",\"time\":\"2024-05-01T12:00:00Z\"}}\n"
            )
        };
        let mut text: String = (0..10).map(|i| rec(i, "stdout")).collect();
        text.push_str("{\"log\":\"partial");
        std::fs::write(&p, &text).unwrap();
        let (lines, mut pos) = read_tail(&p, 3).unwrap();
        assert_eq!(
            lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["line 7", "line 8", "line 9"]
        );
        // The partial line is read once it is complete.
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        use std::io::Write;
        f.write_all(b"\\n\",\"stream\":\"stderr\",\"time\":\"t\"}\n")
            .unwrap();
        f.write_all(rec(11, "stdout").as_bytes()).unwrap();
        let more = read_more(&p, &mut pos).unwrap();
        assert_eq!(more.len(), 2);
        assert_eq!(more[0].text, "partial");
        assert!(more[0].stderr);
        assert!(read_more(&p, &mut pos).unwrap().is_empty());
        assert_eq!(read_tail(&dir.path().join("none"), 3).unwrap().0, vec![]);
    }
}
