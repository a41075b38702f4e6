//! The client side of attaching, shared by the CLI (`attach`, `exec`, `run -it`, `start
//! -ai`) and the workstation's attach/exec handover: the terminal in raw mode (with `-t`),
//! input through the detach-key state machine (the client runs it, not the monitor),
//! window sizes forwarded, output copied out, the container's exit code at the end.

use rdesk_engine::attach::{self, Detach, DetachMatcher};
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const DEFAULT_DETACH_KEYS: &str = "ctrl-p,ctrl-q";

pub enum AttachEnd {
    Exited(i32),
    Detached,
    /// The monitor went away without an exit code.
    Closed,
}

/// Restores the terminal however the session ends.
struct RawMode(bool);
impl Drop for RawMode {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

fn window_size() -> Option<(u16, u16)> {
    crossterm::terminal::size()
        .ok()
        .map(|(cols, rows)| (rows, cols))
}

/// Runs one attach session (blocking).
pub fn session(
    socket: &Path,
    tty: bool,
    forward_stdin: bool,
    detach_keys: &[u8],
) -> anyhow::Result<AttachEnd> {
    let stream = connect(socket)?;
    let interactive_tty = tty && std::io::stdin().is_terminal();
    let _raw = RawMode(interactive_tty && crossterm::terminal::enable_raw_mode().is_ok());
    let mut writer = stream.try_clone()?;
    if tty {
        if let Some((rows, cols)) = window_size() {
            attach::write_frame(
                &mut writer,
                attach::RESIZE,
                &attach::resize_payload(rows, cols),
            )?;
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let detached = Arc::new(AtomicBool::new(false));
    let input = if forward_stdin || tty {
        let (stop, detached, keys) = (stop.clone(), detached.clone(), detach_keys.to_vec());
        let shutdown = stream.try_clone()?;
        Some(std::thread::spawn(move || {
            pump_input(writer, shutdown, forward_stdin, tty, keys, stop, detached)
        }))
    } else {
        None
    };
    let end = pump_output(stream);
    stop.store(true, Ordering::SeqCst);
    if let Some(t) = input {
        let _ = t.join();
    }
    if detached.load(Ordering::SeqCst) {
        return Ok(AttachEnd::Detached);
    }
    Ok(end)
}

fn connect(socket: &Path) -> anyhow::Result<UnixStream> {
    UnixStream::connect(socket).map_err(|e| {
        anyhow::anyhow!(
            "cannot attach to the container (socket {}): {e}",
            socket.display()
        )
    })
}

fn pump_output(mut stream: UnixStream) -> AttachEnd {
    let mut frames = attach::FrameReader::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return AttachEnd::Closed,
            Ok(n) => n,
        };
        frames.push(&buf[..n]);
        while let Ok(Some((kind, data))) = frames.next_frame() {
            match kind {
                attach::STDOUT => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&data);
                    let _ = out.flush();
                }
                attach::STDERR => {
                    let _ = std::io::stderr().write_all(&data);
                }
                attach::EXIT if data.len() == 4 => {
                    return AttachEnd::Exited(i32::from_be_bytes([
                        data[0], data[1], data[2], data[3],
                    ]))
                }
                _ => {}
            }
        }
    }
}

/// Reads our stdin (polling, so a held detach prefix is released after a moment and window
/// size changes are noticed), forwards it, detaches on the key sequence.
fn pump_input(
    mut w: UnixStream,
    shutdown: UnixStream,
    forward_stdin: bool,
    tty: bool,
    keys: Vec<u8>,
    stop: Arc<AtomicBool>,
    detached: Arc<AtomicBool>,
) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut matcher = DetachMatcher::new(keys);
    let mut size = window_size();
    let mut held_since: Option<Instant> = None;
    let stdin = std::io::stdin();
    let mut stdin_open = forward_stdin;
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let ready = if stdin_open {
            let mut fds = [PollFd::new(stdin.as_fd(), PollFlags::POLLIN)];
            matches!(poll(&mut fds, PollTimeout::from(100u16)), Ok(n) if n > 0)
        } else {
            std::thread::sleep(Duration::from_millis(100));
            false
        };
        if tty {
            let now = window_size();
            if now != size {
                size = now;
                if let Some((rows, cols)) = now {
                    let _ = attach::write_frame(
                        &mut w,
                        attach::RESIZE,
                        &attach::resize_payload(rows, cols),
                    );
                }
            }
        }
        // A lone detach prefix is only held back briefly.
        if matcher.holding() && held_since.is_some_and(|t| t.elapsed() > Duration::from_millis(300))
        {
            let _ = attach::write_frame(&mut w, attach::STDIN, &matcher.flush());
            held_since = None;
        }
        if !ready {
            continue;
        }
        let n = match stdin.lock().read(&mut buf) {
            Ok(0) | Err(_) => {
                // Our input ended: the container's stdin ends too (`echo x | rdesk run -i`).
                let _ = attach::write_frame(&mut w, attach::CLOSE_STDIN, &[]);
                stdin_open = false;
                continue;
            }
            Ok(n) => n,
        };
        let data = if tty {
            matcher.feed(&buf[..n])
        } else {
            Detach::Forward(buf[..n].to_vec())
        };
        match data {
            Detach::Detached => {
                detached.store(true, Ordering::SeqCst);
                let _ = shutdown.shutdown(std::net::Shutdown::Both);
                return;
            }
            Detach::Forward(bytes) => {
                held_since = if matcher.holding() {
                    Some(Instant::now())
                } else {
                    None
                };
                if !bytes.is_empty() && attach::write_frame(&mut w, attach::STDIN, &bytes).is_err()
                {
                    return;
                }
            }
        }
    }
}
