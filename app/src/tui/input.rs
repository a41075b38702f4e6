//! The terminal's input, read on a thread of our own instead of crossterm's `EventStream`,
//! so that a handover (attach, exec, an interactive run) can stop it for certain: the thread
//! sleeps in poll(2) on stdin and a control pipe; `pause` wakes it, and it acknowledges
//! before the container's client starts, so no keystroke meant for the container is taken
//! (and later replayed into the workstation). Only when stdin is readable does it let
//! crossterm read and parse what is there. Window size changes come from SIGWINCH in the
//! main loop. Nothing polls on a timer: idle, the thread is asleep.

use crossterm::event::Event;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

pub struct Input {
    pub events: UnboundedReceiver<io::Result<Event>>,
    ctl: OwnedFd,
    acks: std_mpsc::Receiver<()>,
    resume: std_mpsc::Sender<()>,
}

const PAUSE: u8 = b'p';
const QUIT: u8 = b'q';

impl Input {
    pub fn start() -> io::Result<Input> {
        let (ctl_r, ctl_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        let (tx, events) = unbounded_channel();
        let (ack_tx, acks) = std_mpsc::channel();
        let (resume, resume_rx) = std_mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("rdesk-input".into())
            .spawn(move || {
                let stdin = io::stdin();
                loop {
                    let mut fds = [
                        PollFd::new(stdin.as_fd(), PollFlags::POLLIN),
                        PollFd::new(ctl_r.as_fd(), PollFlags::POLLIN),
                    ];
                    match poll(&mut fds, PollTimeout::NONE) {
                        Ok(_) => {}
                        Err(nix::errno::Errno::EINTR) => continue,
                        Err(e) => {
                            let _ = tx.send(Err(e.into()));
                            return;
                        }
                    }
                    let ready = |f: &PollFd| {
                        f.revents().is_some_and(|r| {
                            r.intersects(
                                PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR,
                            )
                        })
                    };
                    if ready(&fds[1]) {
                        let mut b = [0u8; 1];
                        match nix::unistd::read(ctl_r.as_raw_fd(), &mut b) {
                            Ok(1) if b[0] == PAUSE => {
                                if ack_tx.send(()).is_err() || resume_rx.recv().is_err() {
                                    return;
                                }
                                continue;
                            }
                            _ => return,
                        }
                    }
                    if ready(&fds[0]) {
                        // Everything crossterm can parse from what arrived.
                        loop {
                            match crossterm::event::poll(Duration::ZERO) {
                                Ok(true) => {
                                    let ev = crossterm::event::read();
                                    let failed = ev.is_err();
                                    if tx.send(ev).is_err() || failed {
                                        return;
                                    }
                                }
                                Ok(false) => break,
                                Err(e) => {
                                    let _ = tx.send(Err(e));
                                    return;
                                }
                            }
                        }
                        if fds[0]
                            .revents()
                            .is_some_and(|r| r.intersects(PollFlags::POLLHUP | PollFlags::POLLERR))
                        {
                            // The terminal is gone: the loop sees the channel end.
                            return;
                        }
                    }
                }
            })?;
        Ok(Input {
            events,
            ctl: ctl_w,
            acks,
            resume,
        })
    }

    /// Stops reading; returns once the reader is asleep away from stdin. Events crossterm
    /// had already parsed (typed before the handover) are dropped, not replayed later.
    pub fn pause(&mut self) -> io::Result<()> {
        nix::unistd::write(&self.ctl, &[PAUSE])?;
        self.acks
            .recv_timeout(Duration::from_secs(2))
            .map_err(|_| io::Error::other("the input reader did not pause"))?;
        while let Ok(true) = crossterm::event::poll(Duration::ZERO) {
            let _ = crossterm::event::read();
        }
        while self.events.try_recv().is_ok() {}
        Ok(())
    }

    pub fn resume(&mut self) {
        // Whatever crossterm parsed while the container had the terminal is not ours.
        while let Ok(true) = crossterm::event::poll(Duration::ZERO) {
            let _ = crossterm::event::read();
        }
        let _ = self.resume.send(());
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        let _ = nix::unistd::write(&self.ctl, &[QUIT]);
        let _ = self.resume.send(());
    }
}
