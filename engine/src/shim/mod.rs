//! `rdesk shim`: the per-container monitor (podman's conmon, containerd's shim).
//!
//! Started by fork+exec from the CLI or TUI; never forked from a threaded process. It forks
//! once more and the first process exits, so the monitor is re-parented away from its caller;
//! it `setsid`s, becomes a child subreaper, creates and starts the container while still
//! single-threaded (libcontainer's `build()` clones and blocks), then serves: the container's
//! output into the log file (Docker's json-file lines), the exit status (written atomically),
//! `--rm` cleanup. No async runtime runs here: one `poll(2)` loop, so the monitor stays small.
//!
//! Report protocol: the caller gives the shim a pipe as stdout. The monitor writes one line,
//! `ok <pid>` or `error <exit-code> <message>`, then closes it.

mod logfile;

use crate::container::{self, rootfs, ContainerState, ContainerStore, Status};
use crate::store::Store;
use logfile::LogWriter;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{fork, pipe, setsid, ForkResult, Pid};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct ShimArgs {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub id: String,
}

impl ShimArgs {
    /// `start --root R --runroot RR ID`
    pub fn parse(args: &[String]) -> Result<ShimArgs, String> {
        let mut it = args.iter();
        match it.next().map(String::as_str) {
            Some("start") => {}
            other => return Err(format!("unknown shim mode {other:?}")),
        }
        let (mut root, mut runroot, mut id) = (None, None, None);
        while let Some(a) = it.next() {
            match a.as_str() {
                "--root" => root = it.next().map(PathBuf::from),
                "--runroot" => runroot = it.next().map(PathBuf::from),
                other if id.is_none() => id = Some(other.to_string()),
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        Ok(ShimArgs {
            root: root.ok_or("--root missing")?,
            runroot: runroot.ok_or("--runroot missing")?,
            id: id.ok_or("container id missing")?,
        })
    }
}

/// Entry point of `rdesk shim ...`; returns the process exit code. Must be called before any
/// thread is started.
pub fn main(args: &[String]) -> i32 {
    let args = match ShimArgs::parse(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rdesk shim: {e}");
            return 2;
        }
    };
    // SAFETY: the shim process is single-threaded here (no runtime was started), so the child
    // may run arbitrary code after fork.
    match unsafe { fork() } {
        Ok(ForkResult::Parent { .. }) => return 0,
        Ok(ForkResult::Child) => {}
        Err(e) => {
            report(&format!("error 125 cannot fork the container monitor: {e}"));
            return 1;
        }
    }
    let _ = setsid();
    let _ = nix::sys::prctl::set_child_subreaper(true);
    match monitor(&args) {
        Ok(()) => 0,
        Err(e) => {
            report(&format!("error {} {}", e.code, e.message));
            1
        }
    }
}

/// Writes the report line to fd 1 (the caller's pipe), then points fd 1 at /dev/null so the
/// caller sees EOF.
fn report(line: &str) {
    // SAFETY: fd 1 is owned by this process for its whole life; we write one line and then
    // replace it, never closing it twice.
    let mut out = std::mem::ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    let _ = writeln!(out, "{line}");
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}

struct ShimError {
    code: i32,
    message: String,
}

fn fail(code: i32, message: impl Into<String>) -> ShimError {
    ShimError {
        code,
        message: message.into().replace('\n', " "),
    }
}

/// Maps a runtime's start error to Docker's exit codes: 127 command not found, 126 cannot
/// invoke, 125 anything else.
fn start_error_code(message: &str) -> i32 {
    let m = message.to_ascii_lowercase();
    if m.contains("not found") || m.contains("no such file") {
        127
    } else if m.contains("permission")
        || m.contains("not executable")
        || m.contains("is a directory")
    {
        126
    } else {
        125
    }
}

enum Runtime {
    Libcontainer(Box<libcontainer::container::Container>),
    External(String),
}

fn monitor(args: &ShimArgs) -> Result<(), ShimError> {
    let store = Store::open(&args.root, &args.runroot).map_err(|e| fail(125, e.to_string()))?;
    let containers = ContainerStore::new(&store);
    let id = args.id.as_str();
    let record = containers
        .record(id)
        .map_err(|e| fail(125, e.to_string()))?;
    let bundle = containers.bundle(id);
    let run_dir = containers.run_dir(id);
    let _ = std::fs::create_dir_all(&run_dir);
    let runtime_root = args.runroot.join("runtime");
    let _ = std::fs::create_dir_all(&runtime_root);

    let (out_r, out_w) = pipe().map_err(|e| fail(125, format!("pipe: {e}")))?;
    let (err_r, err_w) = pipe().map_err(|e| fail(125, format!("pipe: {e}")))?;
    let stdin: OwnedFd = File::open("/dev/null")
        .map_err(|e| fail(125, format!("/dev/null: {e}")))?
        .into();

    let runtime_name = record
        .spec
        .runtime
        .clone()
        .filter(|r| !r.is_empty() && r != "rdesk");
    let (runtime, pid) = match runtime_name {
        None => {
            let built = libcontainer::container::builder::ContainerBuilder::new(
                id.to_string(),
                libcontainer::syscall::syscall::SyscallType::default(),
            )
            .with_root_path(&runtime_root)
            .map_err(|e| fail(125, e.to_string()))?
            .with_stdin(stdin)
            .with_stdout(out_w)
            .with_stderr(err_w)
            .as_init(&bundle)
            .with_systemd(false)
            .with_detach(true)
            .build();
            let mut c = match built {
                Ok(c) => c,
                Err(e) => {
                    let msg = crate::registry::error_chain(&e);
                    cleanup_failed_start(&runtime_root, id);
                    container::remove_cgroups(&store, id);
                    return Err(fail(start_error_code(&msg), msg));
                }
            };
            if let Err(e) = c.start() {
                let msg = crate::registry::error_chain(&e);
                let _ = c.delete(true);
                container::remove_cgroups(&store, id);
                return Err(fail(start_error_code(&msg), msg));
            }
            let pid = c.pid().map(|p| p.as_raw()).unwrap_or(0);
            (Runtime::Libcontainer(Box::new(c)), pid)
        }
        Some(bin) => {
            let pid_file = run_dir.join("init.pid");
            let ext_root = external_root(&runtime_root, &bin);
            let status = std::process::Command::new(&bin)
                .args(["--root"])
                .arg(&ext_root)
                .args(["create", "--bundle"])
                .arg(&bundle)
                .arg("--pid-file")
                .arg(&pid_file)
                .arg(id)
                .stdin(std::process::Stdio::from(stdin))
                .stdout(std::process::Stdio::from(out_w))
                .stderr(std::process::Stdio::from(err_w))
                .status()
                .map_err(|e| fail(125, format!("cannot run the OCI runtime {bin:?}: {e}")))?;
            if !status.success() {
                let mut msg = String::new();
                let _ = File::from(err_r.try_clone().map_err(|e| fail(125, e.to_string()))?)
                    .read_to_string(&mut msg);
                return Err(fail(
                    start_error_code(&msg),
                    format!("{bin} create failed: {}", msg.trim()),
                ));
            }
            let pid: i32 = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            let started = std::process::Command::new(&bin)
                .args(["--root"])
                .arg(&ext_root)
                .args(["start", id])
                .status();
            if !started.is_ok_and(|s| s.success()) {
                let _ = std::process::Command::new(&bin)
                    .args(["--root"])
                    .arg(&ext_root)
                    .args(["delete", "--force", id])
                    .status();
                return Err(fail(125, format!("{bin} start failed")));
            }
            (Runtime::External(bin), pid)
        }
    };

    // Running: record it, then tell the caller.
    let shim_pid = std::process::id() as i64;
    {
        let _lock = containers.lock(id).map_err(|e| fail(125, e.to_string()))?;
        let mut state = containers.state(id).unwrap_or_default();
        state.status = Status::Running;
        state.pid = pid as i64;
        state.shim_pid = shim_pid;
        state.shim_start_time = container::process_start_time(shim_pid);
        state.exit_code = 0;
        state.error.clear();
        state.started_at = Some(crate::now_rfc3339());
        state.finished_at = None;
        state.boot_id = container::boot_id();
        containers
            .save_state(id, &state)
            .map_err(|e| fail(125, e.to_string()))?;
    }
    crate::events::append(
        &store,
        "container",
        "start",
        id,
        &record.name,
        &record.spec.image,
    );
    report(&format!("ok {pid}"));

    let exit_code = serve(pid, out_r, err_r, &containers.log_path(id));

    // The container is gone: release it, record the exit, clean up.
    match runtime {
        Runtime::Libcontainer(mut c) => {
            let _ = c.delete(true);
        }
        Runtime::External(bin) => {
            let ext_root = external_root(&runtime_root, &bin);
            let _ = std::process::Command::new(&bin)
                .args(["--root"])
                .arg(&ext_root)
                .args(["delete", "--force", id])
                .status();
        }
    }
    rootfs::unmount(&containers.rootfs(id));
    let _ = crate::store::fsutil::remove_tree(&run_dir);
    container::remove_cgroups(&store, id);
    {
        let _lock = containers.lock(id).ok();
        let mut state: ContainerState = containers.state(id).unwrap_or_default();
        state.status = Status::Exited;
        state.exit_code = exit_code as i64;
        state.pid = 0;
        state.finished_at = Some(crate::now_rfc3339());
        let _ = containers.save_state(id, &state);
    }
    crate::events::append(
        &store,
        "container",
        "die",
        id,
        &record.name,
        &record.spec.image,
    );
    if record.spec.auto_remove {
        crate::containers::record_exit(&store, id, exit_code as i64);
        rootfs::unmount(&containers.rootfs(id));
        let _ = crate::store::fsutil::remove_tree(&containers.dir(id));
        crate::events::append(
            &store,
            "container",
            "destroy",
            id,
            &record.name,
            &record.spec.image,
        );
    }
    Ok(())
}

/// An external runtime keeps its state under its own root, apart from libcontainer's.
fn external_root(runtime_root: &std::path::Path, bin: &str) -> PathBuf {
    runtime_root.join(bin.replace('/', "_"))
}

fn cleanup_failed_start(runtime_root: &std::path::Path, id: &str) {
    if let Ok(mut c) = libcontainer::container::Container::load(runtime_root.join(id)) {
        let _ = c.delete(true);
    }
    let _ = crate::store::fsutil::remove_tree(&runtime_root.join(id));
}

/// The monitor loop: copies output to the log until the container's init exits and its
/// output is drained; reaps every child (we are a subreaper). Returns the exit code.
fn serve(init: i32, out: OwnedFd, err: OwnedFd, log: &std::path::Path) -> i32 {
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let _ = mask.thread_block();
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
    let mut log = LogWriter::open(log);
    let mut out = Some(out);
    let mut err = Some(err);
    let mut exit: Option<i32> = reap(init);
    let mut drain_deadline: Option<Instant> = exit.map(|_| Instant::now() + Duration::from_secs(2));
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        if exit.is_some()
            && (out.is_none() && err.is_none()
                || drain_deadline.is_some_and(|d| Instant::now() >= d))
        {
            break;
        }
        let mut fds: Vec<PollFd> = Vec::with_capacity(3);
        let mut which = Vec::with_capacity(3);
        if let Some(f) = &out {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            which.push(0);
        }
        if let Some(f) = &err {
            fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
            which.push(1);
        }
        if let Some(s) = &sfd {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            which.push(2);
        }
        let timeout = if exit.is_some() {
            PollTimeout::from(100u16)
        } else if sfd.is_none() {
            PollTimeout::from(200u16)
        } else {
            PollTimeout::NONE
        };
        match poll(&mut fds, timeout) {
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let ready: Vec<(usize, PollFlags)> = fds
            .iter()
            .zip(&which)
            .map(|(f, w)| (*w, f.revents().unwrap_or(PollFlags::empty())))
            .collect();
        drop(fds);
        for (w, rev) in ready {
            if rev.is_empty() {
                continue;
            }
            match w {
                0 | 1 => {
                    let slot = if w == 0 { &mut out } else { &mut err };
                    let stream = if w == 0 { "stdout" } else { "stderr" };
                    if let Some(fd) = slot {
                        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                            Ok(0) | Err(nix::errno::Errno::EBADF) => {
                                log.flush_partial(stream);
                                *slot = None;
                            }
                            Ok(n) => log.write(stream, &buf[..n]),
                            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                            Err(_) => *slot = None,
                        }
                    }
                }
                _ => {
                    if let Some(s) = &sfd {
                        while let Ok(Some(_)) = s.read_signal() {}
                    }
                }
            }
        }
        if exit.is_none() {
            exit = reap(init);
            if exit.is_some() {
                drain_deadline = Some(Instant::now() + Duration::from_secs(2));
            }
        } else {
            reap(init);
        }
    }
    log.flush_partial("stdout");
    log.flush_partial("stderr");
    exit.unwrap_or(255)
}

/// Reaps every exited child; returns the init's exit code if it was among them.
fn reap(init: i32) -> Option<i32> {
    let mut code = None;
    loop {
        match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, c)) if pid.as_raw() == init => code = Some(c),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init => {
                code = Some(128 + sig as i32)
            }
            Ok(WaitStatus::StillAlive) | Err(_) => break,
            Ok(_) => {}
        }
    }
    code
}
