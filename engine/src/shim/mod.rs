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
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct ShimArgs {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub id: String,
    /// Start the container only once a client attached (`run -it`), so it misses nothing.
    pub wait_attach: bool,
    /// `exec` mode: the exec's ID (its process is in `<run dir>/exec-<id>.json`).
    pub exec_id: Option<String>,
}

impl ShimArgs {
    /// `start --root R --runroot RR ID`
    pub fn parse(args: &[String]) -> Result<ShimArgs, String> {
        let mut it = args.iter();
        let exec = match it.next().map(String::as_str) {
            Some("start") => false,
            Some("exec") => true,
            other => return Err(format!("unknown shim mode {other:?}")),
        };
        let (mut root, mut runroot, mut id, mut exec_id) = (None, None, None, None);
        let mut wait_attach = false;
        while let Some(a) = it.next() {
            match a.as_str() {
                "--wait-attach" => wait_attach = true,
                "--root" => root = it.next().map(PathBuf::from),
                "--runroot" => runroot = it.next().map(PathBuf::from),
                other if id.is_none() => id = Some(other.to_string()),
                other if exec && exec_id.is_none() => exec_id = Some(other.to_string()),
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        Ok(ShimArgs {
            root: root.ok_or("--root missing")?,
            runroot: runroot.ok_or("--runroot missing")?,
            id: id.ok_or("container id missing")?,
            wait_attach,
            exec_id: if exec {
                Some(exec_id.ok_or("exec id missing")?)
            } else {
                None
            },
        })
    }
}

/// Entry point of `rdesk shim ...`; returns the process exit code. Must be called before any
/// thread is started.
pub fn main(args: &[String]) -> i32 {
    // The network helpers (DNS responder, port forwarder) run from the same binary.
    if let Some(code) = crate::network::helper_main(args) {
        return code;
    }
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
    let result = match &args.exec_id {
        Some(exec_id) => monitor_exec(&args, exec_id),
        None => monitor(&args),
    };
    match result {
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

/// The container's end of its standard streams, as the monitor holds them.
struct Streams {
    out: Option<OwnedFd>,
    err: Option<OwnedFd>,
    /// The PTY master (`-t`): output and input both.
    master: Option<OwnedFd>,
    /// Write end of the container's stdin pipe (`-i` without `-t`).
    stdin: Option<OwnedFd>,
}

/// The process's side of its streams (stdin, stdout, stderr), unless it gets a PTY.
type ChildIo = (OwnedFd, OwnedFd, OwnedFd);

/// With `tty`: a console socket the runtime sends the PTY master to. Else pipes (and a stdin
/// pipe with `open_stdin`, /dev/null without): our ends in `Streams`, the process's apart.
fn open_streams(
    tty: bool,
    open_stdin: bool,
    console_path: &std::path::Path,
) -> Result<(Option<UnixListener>, Streams, Option<ChildIo>), ShimError> {
    let mut streams = Streams {
        out: None,
        err: None,
        master: None,
        stdin: None,
    };
    if tty {
        return Ok((Some(bind_socket(console_path)?), streams, None));
    }
    let (out_r, out_w) = pipe().map_err(|e| fail(125, format!("pipe: {e}")))?;
    let (err_r, err_w) = pipe().map_err(|e| fail(125, format!("pipe: {e}")))?;
    let stdin_r: OwnedFd = if open_stdin {
        let (r, w) = pipe().map_err(|e| fail(125, format!("pipe: {e}")))?;
        streams.stdin = Some(w);
        r
    } else {
        File::open("/dev/null")
            .map_err(|e| fail(125, format!("/dev/null: {e}")))?
            .into()
    };
    streams.out = Some(out_r);
    streams.err = Some(err_r);
    Ok((None, streams, Some((stdin_r, out_w, err_w))))
}

fn bind_socket(path: &std::path::Path) -> Result<UnixListener, ShimError> {
    let _ = std::fs::remove_file(path);
    if path.as_os_str().len() > 107 {
        return Err(fail(
            125,
            format!(
                "socket path {} is longer than unix sockets allow; use a shorter --runroot",
                path.display()
            ),
        ));
    }
    let l = UnixListener::bind(path)
        .map_err(|e| fail(125, format!("cannot listen on {}: {e}", path.display())))?;
    let _ = std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600));
    Ok(l)
}

/// Receives the PTY master the container's init sends over the console socket.
fn receive_master(listener: &UnixListener) -> Result<OwnedFd, ShimError> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let _ = listener.set_nonblocking(false);
    let (conn, _) = listener
        .accept()
        .map_err(|e| fail(125, format!("console socket: {e}")))?;
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| fail(125, format!("console socket: {e}")))?;
    for cmsg in msg
        .cmsgs()
        .map_err(|e| fail(125, format!("console socket: {e}")))?
    {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just gave us this descriptor (SCM_RIGHTS); we own it now.
                return Ok(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    Err(fail(
        125,
        "the container sent no terminal over the console socket",
    ))
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
    let sock_dir = args.runroot.join("sock");
    let _ = crate::store::fsutil::mkdir_private(&sock_dir);
    let attach_path = crate::attach::socket_path(&args.runroot, id, "attach");
    let console_path = crate::attach::socket_path(&args.runroot, id, "console");
    let tty = record.spec.tty;

    // The container's streams: a PTY through the console socket, or pipes.
    let (console, mut streams, mut child_io) =
        open_streams(tty, record.spec.open_stdin, &console_path)?;

    let runtime_name = record
        .spec
        .runtime
        .clone()
        .filter(|r| !r.is_empty() && r != "rdesk");
    let (mut runtime, pid) = match &runtime_name {
        None => {
            let mut builder = libcontainer::container::builder::ContainerBuilder::new(
                id.to_string(),
                libcontainer::syscall::syscall::SyscallType::default(),
            )
            .with_root_path(&runtime_root)
            .map_err(|e| fail(125, e.to_string()))?;
            match child_io.take() {
                Some((i, o, e)) => builder = builder.with_stdin(i).with_stdout(o).with_stderr(e),
                None => builder = builder.with_console_socket(Some(&console_path)),
            }
            let built = builder
                .as_init(&bundle)
                .with_systemd(false)
                .with_detach(true)
                .build();
            let c = match built {
                Ok(c) => c,
                Err(e) => {
                    let msg = crate::registry::error_chain(&e);
                    cleanup_failed_start(&runtime_root, id);
                    container::remove_cgroups(&store, id);
                    return Err(fail(start_error_code(&msg), msg));
                }
            };
            let pid = c.pid().map(|p| p.as_raw()).unwrap_or(0);
            (Runtime::Libcontainer(Box::new(c)), pid)
        }
        Some(bin) => {
            let pid_file = run_dir.join("init.pid");
            let ext_root = external_root(&runtime_root, bin);
            let mut cmd = std::process::Command::new(bin);
            cmd.arg("--root")
                .arg(&ext_root)
                .args(["create", "--bundle"])
                .arg(&bundle)
                .arg("--pid-file")
                .arg(&pid_file);
            let (err_capture_r, err_capture_w) =
                pipe().map_err(|e| fail(125, format!("pipe: {e}")))?;
            match child_io.take() {
                Some((i, o, e)) => {
                    cmd.stdin(std::process::Stdio::from(i))
                        .stdout(std::process::Stdio::from(o))
                        .stderr(std::process::Stdio::from(e));
                    drop(err_capture_w);
                }
                None => {
                    cmd.arg("--console-socket").arg(&console_path);
                    cmd.stdin(std::process::Stdio::null())
                        .stdout(std::process::Stdio::null())
                        .stderr(std::process::Stdio::from(err_capture_w));
                }
            }
            let status = cmd
                .arg(id)
                .status()
                .map_err(|e| fail(125, format!("cannot run the OCI runtime {bin:?}: {e}")))?;
            if !status.success() {
                let mut msg = String::new();
                let source = if tty {
                    err_capture_r
                } else {
                    streams.err.take().unwrap_or(err_capture_r)
                };
                let _ = File::from(source).read_to_string(&mut msg);
                container::remove_cgroups(&store, id);
                return Err(fail(
                    start_error_code(&msg),
                    format!("{bin} create failed: {}", msg.trim()),
                ));
            }
            let pid: i32 = std::fs::read_to_string(&pid_file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            (Runtime::External(bin.clone()), pid)
        }
    };
    if let Some(listener) = &console {
        streams.master = Some(receive_master(listener)?);
        let _ = std::fs::remove_file(&console_path);
    }
    let attach = bind_socket(&attach_path)?;

    // Created: record it as running (the PID is known), tell the caller, maybe wait for it to
    // attach, then release the container's process.
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
    report(&format!("ok {pid}"));
    let mut first_client = None;
    let mut died_waiting = None;
    if args.wait_attach {
        // Up to 30 s for the caller to attach; a container killed meanwhile (rm -f) ends it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let mut pfd = [PollFd::new(attach.as_fd(), PollFlags::POLLIN)];
            if matches!(poll(&mut pfd, PollTimeout::from(100u16)), Ok(n) if n > 0) {
                first_client = attach.accept().ok().map(|(c, _)| c);
                break;
            }
            died_waiting = reap(pid);
            if died_waiting.is_some() {
                break;
            }
        }
    }
    let started = match (&mut runtime, died_waiting) {
        (_, Some(code)) => Err(format!(
            "the container was stopped before it started (exit {code})"
        )),
        (Runtime::Libcontainer(c), None) => c.start().map_err(|e| crate::registry::error_chain(&e)),
        (Runtime::External(bin), None) => {
            let ok = std::process::Command::new(bin.as_str())
                .arg("--root")
                .arg(external_root(&runtime_root, bin))
                .args(["start", id])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                Ok(())
            } else {
                Err(format!("{bin} start failed"))
            }
        }
    };
    let exit_code = match started {
        Ok(()) => {
            crate::events::append(
                &store,
                "container",
                "start",
                id,
                &record.name,
                &record.spec.image,
            );
            serve(
                pid,
                streams,
                attach,
                first_client,
                Some(containers.log_path(id).as_path()),
            )
        }
        Err(msg) => {
            // Released too late to tell the caller: record it as the exit.
            let mut log = LogWriter::open(&containers.log_path(id));
            log.write(
                "stderr",
                format!("rdesk: cannot start the container: {msg}\n").as_bytes(),
            );
            reap(pid);
            died_waiting.unwrap_or_else(|| start_error_code(&msg))
        }
    };
    let _ = std::fs::remove_file(&attach_path);

    // The container is gone: release it, record the exit, clean up.
    match runtime {
        Runtime::Libcontainer(mut c) => {
            let _ = c.delete(true);
        }
        Runtime::External(bin) => {
            let _ = std::process::Command::new(&bin)
                .arg("--root")
                .arg(external_root(&runtime_root, &bin))
                .args(["delete", "--force", id])
                .status();
        }
    }
    crate::network::release(&store, id);
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
    crate::volumes::mounts::release(&store, &record);
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
        // Its anonymous volumes go with it, before it does: `run --rm` returns once it is gone.
        crate::volumes::remove_anonymous(&store, id, &record.mount_points);
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
    // Bridges left without endpoints go last: deleting a link is slow and nobody waits.
    crate::network::collect_idle_bridges(&store);
    Ok(())
}

/// What `exec` asks for, written by the engine next to the container's run state.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct ExecRequest {
    /// An OCI `process` object (args, env, cwd, user, terminal, capabilities, ...).
    pub process: serde_json::Value,
    pub open_stdin: bool,
}

pub fn exec_request_path(run_dir: &std::path::Path, exec_id: &str) -> PathBuf {
    run_dir.join(format!("exec-{exec_id}.json"))
}

/// `exec`: one more process in a running container, served like the container itself
/// (output to attached clients, input, window size, exit code), but not logged.
fn monitor_exec(args: &ShimArgs, exec_id: &str) -> Result<(), ShimError> {
    let store = Store::open(&args.root, &args.runroot).map_err(|e| fail(125, e.to_string()))?;
    let containers = ContainerStore::new(&store);
    let id = args.id.as_str();
    let record = containers
        .record(id)
        .map_err(|e| fail(125, e.to_string()))?;
    let run_dir = containers.run_dir(id);
    let request_path = exec_request_path(&run_dir, exec_id);
    let request: ExecRequest = std::fs::read(&request_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| fail(125, "the exec request is missing"))?;
    let process_path = run_dir.join(format!("exec-{exec_id}.process.json"));
    std::fs::write(
        &process_path,
        serde_json::to_vec(&request.process).unwrap_or_default(),
    )
    .map_err(|e| fail(125, e.to_string()))?;
    let tty = request
        .process
        .get("terminal")
        .and_then(|t| t.as_bool())
        .unwrap_or(false);
    let runtime_root = args.runroot.join("runtime");
    let attach_path = crate::attach::socket_path(&args.runroot, exec_id, "attach");
    let console_path = crate::attach::socket_path(&args.runroot, exec_id, "console");
    let cleanup = || {
        let _ = std::fs::remove_file(&request_path);
        let _ = std::fs::remove_file(&process_path);
        let _ = std::fs::remove_file(&attach_path);
        let _ = std::fs::remove_file(&console_path);
    };

    let (console, mut streams, mut child_io) =
        open_streams(tty, request.open_stdin, &console_path)?;
    let attach = bind_socket(&attach_path)?;
    // Attached: report first, start once the client is there (nothing missed).
    let mut first_client = None;
    if args.wait_attach {
        report("ok 0");
        let mut pfd = [PollFd::new(attach.as_fd(), PollFlags::POLLIN)];
        if matches!(poll(&mut pfd, PollTimeout::from(30_000u16)), Ok(n) if n > 0) {
            first_client = attach.accept().ok().map(|(c, _)| c);
        }
    }
    let spawned: Result<i32, String> = match record
        .spec
        .runtime
        .clone()
        .filter(|r| !r.is_empty() && r != "rdesk")
    {
        None => {
            let mut builder = libcontainer::container::builder::ContainerBuilder::new(
                id.to_string(),
                libcontainer::syscall::syscall::SyscallType::default(),
            )
            .with_root_path(&runtime_root)
            .map_err(|e| fail(125, e.to_string()))?;
            match child_io.take() {
                Some((i, o, e)) => builder = builder.with_stdin(i).with_stdout(o).with_stderr(e),
                None => builder = builder.with_console_socket(Some(&console_path)),
            }
            builder
                .as_tenant()
                .with_process(Some(&process_path))
                .with_detach(true)
                .build()
                .map(|p| p.as_raw())
                .map_err(|e| crate::registry::error_chain(&e))
        }
        Some(bin) => {
            let pid_file = run_dir.join(format!("exec-{exec_id}.pid"));
            let mut cmd = std::process::Command::new(&bin);
            cmd.arg("--root")
                .arg(external_root(&runtime_root, &bin))
                .arg("exec")
                .arg("--process")
                .arg(&process_path)
                .arg("--detach")
                .arg("--pid-file")
                .arg(&pid_file);
            match child_io.take() {
                Some((i, o, e)) => {
                    cmd.stdin(std::process::Stdio::from(i))
                        .stdout(std::process::Stdio::from(o))
                        .stderr(std::process::Stdio::from(e));
                }
                None => {
                    cmd.arg("--console-socket").arg(&console_path);
                }
            }
            match cmd.arg(id).status() {
                Ok(s) if s.success() => {
                    let pid = std::fs::read_to_string(&pid_file)
                        .ok()
                        .and_then(|s| s.trim().parse().ok())
                        .unwrap_or(0);
                    let _ = std::fs::remove_file(&pid_file);
                    Ok(pid)
                }
                Ok(_) => Err(format!("{bin} exec failed")),
                Err(e) => Err(format!("cannot run {bin}: {e}")),
            }
        }
    };
    let pid = match spawned {
        Ok(pid) => pid,
        Err(msg) => {
            let code = start_error_code(&msg);
            cleanup();
            if args.wait_attach {
                let mut clients = Vec::new();
                if let Some(c) = first_client {
                    add_client(&mut clients, c);
                }
                broadcast(
                    &mut clients,
                    crate::attach::STDERR,
                    format!("rdesk: exec failed: {msg}\n").as_bytes(),
                );
                broadcast(&mut clients, crate::attach::EXIT, &code.to_be_bytes());
                return Ok(());
            }
            return Err(fail(code, msg));
        }
    };
    if let Some(listener) = &console {
        match receive_master(listener) {
            Ok(m) => streams.master = Some(m),
            Err(e) => {
                cleanup();
                return Err(e);
            }
        }
    }
    if !args.wait_attach {
        report(&format!("ok {pid}"));
    }
    crate::events::append(
        &store,
        "container",
        "exec_start",
        id,
        &record.name,
        &record.spec.image,
    );
    serve(pid, streams, attach, first_client, None);
    cleanup();
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

/// Drops the resident pages of our own binary's read-only mappings (code and constants).
/// Creating a container runs a lot of code once (store, libcontainer, spec parsing) that the
/// monitor loop never needs again; the pages stay in the page cache and fault back in if
/// used. Only non-writable, file-backed mappings are touched: for those MADV_DONTNEED just
/// forgets clean copies. This is what keeps the monitor's VmRSS near conmon's.
fn release_startup_pages() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let exe = exe.display().to_string();
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    // (start, end, eligible): a read-only mapping of our binary with no copied-on-write
    // pages. Relocated read-only data (RELRO) has anonymous copies and must stay.
    let mut current: Option<(usize, usize, bool)> = None;
    let mut targets = Vec::new();
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if let Some((a, b)) = first
            .split_once('-')
            .filter(|(a, _)| a.chars().all(|c| c.is_ascii_hexdigit()) && !a.is_empty())
        {
            if let Some((s0, e0, true)) = current.take() {
                targets.push((s0, e0));
            }
            let perms = line.split_whitespace().nth(1).unwrap_or("");
            let ro = perms.as_bytes().get(1) == Some(&b'-');
            if let (Ok(s0), Ok(e0)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16)) {
                current = Some((s0, e0, ro && line.ends_with(exe.as_str())));
            }
        } else if let Some(rest) = line.strip_prefix("Anonymous:") {
            let anon: u64 = rest
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .unwrap_or(1);
            if anon > 0 {
                if let Some(c) = current.as_mut() {
                    c.2 = false;
                }
            }
        }
    }
    if let Some((s0, e0, true)) = current {
        targets.push((s0, e0));
    }
    for (start, end) in targets {
        // SAFETY: a read-only, file-backed private mapping of our own binary without any
        // copied-on-write page; MADV_DONTNEED only drops clean resident pages, which refault
        // from the file on next use.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

/// One attached client.
struct Client {
    stream: UnixStream,
    frames: crate::attach::FrameReader,
}

fn broadcast(clients: &mut Vec<Client>, kind: u8, data: &[u8]) {
    // A client that cannot take output within its send timeout is dropped, never waited on.
    clients.retain_mut(|c| crate::attach::write_frame(&mut c.stream, kind, data).is_ok());
}

fn add_client(clients: &mut Vec<Client>, stream: UnixStream) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    clients.push(Client {
        stream,
        frames: Default::default(),
    });
}

/// The monitor loop: copies output to the log and to attached clients until the container's
/// init exits and its output is drained; takes input and window sizes from clients; reaps
/// every child (we are a subreaper). Returns the exit code.
fn serve(
    init: i32,
    mut streams: Streams,
    attach: UnixListener,
    first: Option<UnixStream>,
    log: Option<&std::path::Path>,
) -> i32 {
    release_startup_pages();
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    let _ = mask.thread_block();
    let sfd = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).ok();
    let _ = attach.set_nonblocking(true);
    // An exec's output is not logged (as Docker's).
    let mut log = log.map(LogWriter::open).unwrap_or_else(LogWriter::disabled);
    let mut clients: Vec<Client> = Vec::new();
    if let Some(c) = first {
        add_client(&mut clients, c);
    }
    let mut exit: Option<i32> = reap(init);
    let mut drain_deadline: Option<Instant> = exit.map(|_| Instant::now() + Duration::from_secs(2));
    let mut buf = vec![0u8; 32 * 1024];
    // Poll slots: 0 stdout, 1 stderr, 2 pty master, 3 signals, 4 listener, 5.. clients.
    loop {
        let outputs_open =
            streams.out.is_some() || streams.err.is_some() || streams.master.is_some();
        if exit.is_some() && (!outputs_open || drain_deadline.is_some_and(|d| Instant::now() >= d))
        {
            break;
        }
        let mut fds: Vec<PollFd> = Vec::with_capacity(5 + clients.len());
        let mut slots: Vec<usize> = Vec::with_capacity(5 + clients.len());
        for (slot, fd) in [(0, &streams.out), (1, &streams.err), (2, &streams.master)] {
            if let Some(f) = fd {
                fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                slots.push(slot);
            }
        }
        if let Some(s) = &sfd {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
            slots.push(3);
        }
        fds.push(PollFd::new(attach.as_fd(), PollFlags::POLLIN));
        slots.push(4);
        for (i, c) in clients.iter().enumerate() {
            fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
            slots.push(5 + i);
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
            .zip(&slots)
            .map(|(f, s)| (*s, f.revents().unwrap_or(PollFlags::empty())))
            .collect();
        drop(fds);
        let mut gone_clients = Vec::new();
        for (slot, rev) in ready {
            if rev.is_empty() {
                continue;
            }
            match slot {
                0..=2 => {
                    let (stream_name, kind) = if slot == 1 {
                        ("stderr", crate::attach::STDERR)
                    } else {
                        ("stdout", crate::attach::STDOUT)
                    };
                    let fd_slot = match slot {
                        0 => &mut streams.out,
                        1 => &mut streams.err,
                        _ => &mut streams.master,
                    };
                    if let Some(fd) = fd_slot {
                        match nix::unistd::read(fd.as_raw_fd(), &mut buf) {
                            // EIO: the PTY's last slave closed.
                            Ok(0) | Err(nix::errno::Errno::EBADF | nix::errno::Errno::EIO) => {
                                log.flush_partial(stream_name);
                                *fd_slot = None;
                            }
                            Ok(n) => {
                                log.write(stream_name, &buf[..n]);
                                broadcast(&mut clients, kind, &buf[..n]);
                            }
                            Err(nix::errno::Errno::EINTR | nix::errno::Errno::EAGAIN) => {}
                            Err(_) => *fd_slot = None,
                        }
                    }
                }
                3 => {
                    if let Some(s) = &sfd {
                        while let Ok(Some(_)) = s.read_signal() {}
                    }
                }
                4 => {
                    while let Ok((c, _)) = attach.accept() {
                        add_client(&mut clients, c);
                    }
                }
                n => {
                    let i = n - 5;
                    let Some(client) = clients.get_mut(i) else {
                        continue;
                    };
                    let _ = client.stream.set_nonblocking(true);
                    let read = std::io::Read::read(&mut client.stream, &mut buf);
                    let _ = client.stream.set_nonblocking(false);
                    match read {
                        Ok(0) => gone_clients.push(i),
                        Ok(k) => {
                            client.frames.push(&buf[..k]);
                            loop {
                                match client.frames.next_frame() {
                                    Ok(Some((kind, data))) => {
                                        handle_input(&mut streams, kind, &data)
                                    }
                                    Ok(None) => break,
                                    Err(_) => {
                                        gone_clients.push(i);
                                        break;
                                    }
                                }
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                        Err(_) => gone_clients.push(i),
                    }
                }
            }
        }
        gone_clients.sort_unstable();
        gone_clients.dedup();
        for i in gone_clients.into_iter().rev() {
            clients.remove(i);
        }
        if exit.is_none() {
            exit = reap(init);
            if exit.is_some() {
                drain_deadline = Some(Instant::now() + Duration::from_secs(2));
                // Nobody writes to the container any more.
                streams.stdin = None;
            }
        } else {
            reap(init);
        }
    }
    log.flush_partial("stdout");
    log.flush_partial("stderr");
    let code = exit.unwrap_or(255);
    broadcast(&mut clients, crate::attach::EXIT, &code.to_be_bytes());
    code
}

/// Input from a client: into the PTY or the stdin pipe; window sizes onto the PTY.
fn handle_input(streams: &mut Streams, kind: u8, data: &[u8]) {
    match kind {
        crate::attach::STDIN => {
            let target = streams.master.as_ref().or(streams.stdin.as_ref());
            if let Some(fd) = target {
                let _ = nix::unistd::write(fd, data);
            }
        }
        crate::attach::RESIZE if data.len() == 4 => {
            if let Some(master) = &streams.master {
                let ws = libc::winsize {
                    ws_row: u16::from_be_bytes([data[0], data[1]]),
                    ws_col: u16::from_be_bytes([data[2], data[3]]),
                    ws_xpixel: 0,
                    ws_ypixel: 0,
                };
                // SAFETY: TIOCSWINSZ on our PTY master with a valid winsize; no memory is retained.
                unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
            }
        }
        crate::attach::CLOSE_STDIN => {
            streams.stdin = None;
        }
        _ => {}
    }
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
