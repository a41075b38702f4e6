//! The terminal pane's process: a shell exec'd in a container (`/bin/bash` when the
//! container has it, else `/bin/sh`) with a TTY, attached through the monitor's socket as the
//! CLI's client is, but with its output going to the pane (vt100) instead of our terminal.
//! Two plain threads per pane: one copies the socket's frames out as notifications, one
//! writes keys and window sizes in; closing the pane ends the shell's stdin.

use super::event::Notification;
use rdesk_engine::attach;
use rdesk_engine::Engine;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc as std_mpsc;
use tokio::sync::mpsc::UnboundedSender;

pub enum TermMsg {
    Input(Vec<u8>),
    Resize(u16, u16),
    Close,
}

/// The shell the container has: bash, else sh.
pub async fn shell_of(engine: &Engine, id: &str) -> &'static str {
    match engine.stat_container_path(id, "/bin/bash", true).await {
        Ok(Some(_)) => "/bin/bash",
        _ => "/bin/sh",
    }
}

pub async fn open(
    engine: Engine,
    id: String,
    size: (u16, u16),
    input: std_mpsc::Receiver<TermMsg>,
    tx: UnboundedSender<Notification>,
) {
    let shell = shell_of(&engine, &id).await;
    let config = rdesk_engine::ExecConfig {
        cmd: vec![shell.to_string()],
        env: Vec::new(),
        working_dir: None,
        user: None,
        tty: true,
        attach_stdin: true,
        detach: false,
    };
    let socket = match engine.exec(&id, config).await {
        Ok((_, socket)) => socket,
        Err(e) => {
            let _ = tx.send(Notification::TermEnded {
                id,
                how: format!("cannot exec {shell}: {}", super::text(e)),
            });
            return;
        }
    };
    let _ = tokio::task::spawn_blocking(move || {
        let how = session(&socket, size, input, &tx, &id)
            .unwrap_or_else(|e| format!("the connection failed: {e}"));
        let _ = tx.send(Notification::TermEnded { id, how });
    })
    .await;
}

fn session(
    socket: &Path,
    (rows, cols): (u16, u16),
    input: std_mpsc::Receiver<TermMsg>,
    tx: &UnboundedSender<Notification>,
    id: &str,
) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(socket)?;
    let mut w = stream.try_clone()?;
    attach::write_frame(&mut w, attach::RESIZE, &attach::resize_payload(rows, cols))?;
    std::thread::Builder::new()
        .name("rdesk-pane-in".into())
        .spawn(move || {
            // Until the pane closes (its sender dropped or Close).
            while let Ok(msg) = input.recv() {
                let r = match msg {
                    TermMsg::Input(bytes) => attach::write_frame(&mut w, attach::STDIN, &bytes),
                    TermMsg::Resize(rows, cols) => attach::write_frame(
                        &mut w,
                        attach::RESIZE,
                        &attach::resize_payload(rows, cols),
                    ),
                    TermMsg::Close => break,
                };
                if r.is_err() {
                    return;
                }
            }
            let _ = attach::write_frame(&mut w, attach::CLOSE_STDIN, &[]);
            let _ = w.flush();
        })?;
    let mut frames = attach::FrameReader::default();
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return Ok("the connection closed".into()),
            Ok(n) => n,
        };
        frames.push(&buf[..n]);
        while let Ok(Some((kind, data))) = frames.next_frame() {
            if kind == attach::EXIT && data.len() == 4 {
                let code = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
                return Ok(format!("exited with code {code}"));
            }
            let output = kind == attach::STDOUT || kind == attach::STDERR;
            if output
                && tx
                    .send(Notification::TermOutput {
                        id: id.to_string(),
                        bytes: data,
                    })
                    .is_err()
            {
                return Ok("the workstation closed".into());
            }
        }
    }
}
