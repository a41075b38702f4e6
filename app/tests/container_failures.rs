//! Failure modes and hardening of containers, through the real binary: hostile rootfs
//! symlinks, fd leaks, CVE-2024-21626, 64 parallel runs, `--init`, StopSignal, logs flags,
//! restart, Docker's error messages, security flags, a container outliving its CLI.
//! Root only (real namespaces, overlayfs, cgroups).

mod common;

use common::{with_busybox, Cleanup, Rdesk};
use rdesk_testkit::fixtures::{
    busybox_layer, Compression, Format, ImageFixture, ImageOptions, TarBuilder,
};
use rdesk_testkit::registry::Registry;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Pushes `img` as `library/NAME` to `reg` and pulls it into `rd`; returns its reference.
fn with_image(reg: &Registry, rd: &Rdesk, name: &str, img: &ImageFixture) -> String {
    reg.push(&format!("library/{name}"), "latest", img);
    let image = format!("{}/library/{name}", reg.addr());
    rd.run(&["pull", "-q", &image]).ok();
    image
}

/// The store's cgroup parent name (`rdesk-rd` + 4 hex of the root path), as the engine
/// derives it (engine/src/container/mod.rs `cgroup_parent`).
fn cgroup_parent(rd: &Rdesk) -> String {
    let d = rdesk_testkit::sha256_digest(rd.root().as_os_str().as_encoded_bytes());
    format!("rdesk-rd{}", &d["sha256:".len().."sha256:".len() + 4])
}

/// Every `/sys/fs/cgroup/*/rdesk-rdXXXX` of this store that exists now.
fn cgroup_dirs(rd: &Rdesk) -> Vec<String> {
    let name = cgroup_parent(rd);
    let mut found = Vec::new();
    for h in std::fs::read_dir("/sys/fs/cgroup").unwrap().flatten() {
        for p in [h.path().join(&name), h.path().join("unified").join(&name)] {
            if common::exists(&p) {
                found.push(p.display().to_string());
            }
        }
    }
    found
}

fn store_mounts(rd: &Rdesk) -> Vec<String> {
    let root = rd.root().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(&root))
        .map(str::to_string)
        .collect()
}

/// Nothing of the store is left behind: no container, no mount, no cgroup, no container dir.
#[track_caller]
fn assert_clean(rd: &Rdesk) {
    assert_eq!(rd.run(&["ps", "-aq"]).ok().stdout, "", "no container left");
    assert_eq!(store_mounts(rd), Vec::<String>::new(), "no mount left");
    assert_eq!(cgroup_dirs(rd), Vec::<String>::new(), "no cgroup left");
    let left: Vec<_> = std::fs::read_dir(rd.root().join("containers"))
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "container dirs left: {left:?}");
}

fn inspect(rd: &Rdesk, name: &str) -> serde_json::Value {
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["inspect", name]).ok().stdout).expect("inspect prints JSON");
    v[0].clone()
}

/// Waits until `rdesk logs NAME` contains `text`.
#[track_caller]
fn wait_logs(rd: &Rdesk, name: &str, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rd.run(&["logs", name]).stdout.contains(text) {
        assert!(
            Instant::now() < deadline,
            "{text:?} never in the logs of {name}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the container has exited; returns its exit code.
#[track_caller]
fn wait_exited(rd: &Rdesk, name: &str) -> i64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = inspect(rd, name);
        if v["State"]["Status"] == "exited" {
            return v["State"]["ExitCode"].as_i64().unwrap();
        }
        assert!(Instant::now() < deadline, "{name} never exited: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mountinfo_points() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .collect()
}

#[test]
fn a_proc_symlink_in_the_rootfs_fails_closed() {
    let (reg, rd, _busybox) = with_busybox();
    let _c = Cleanup(&rd);
    for (name, target) in [("proctmp", "/tmp"), ("procroot", "/"), ("procrel", "../..")] {
        let mut t = TarBuilder::new();
        t.symlink("proc", target);
        let img = ImageFixture::build(
            vec![busybox_layer(), t.layer(Compression::Gzip)],
            &ImageOptions::with_cmd(&["true"]),
            Format::Oci,
        );
        let image = with_image(&reg, &rd, name, &img);
        let host_proc_mounts = |pts: &[String]| {
            pts.iter()
                .filter(|p| p.as_str() == "/" || p.as_str() == "/tmp")
                .count()
        };
        let before = host_proc_mounts(&mountinfo_points());
        let out = rd.run(&["run", "--rm", &image]);
        assert_eq!(out.code, 125, "{name}: must fail closed: {}", out.stderr);
        assert!(
            out.stderr
                .contains(&format!("the image's /proc is a symlink to {target}: proc must be mounted on an ordinary directory")),
            "{name}: a clear error: {}",
            out.stderr
        );
        assert_eq!(
            host_proc_mounts(&mountinfo_points()),
            before,
            "{name}: nothing mounted on the host"
        );
        assert_clean(&rd);
    }
}

#[test]
fn a_dev_null_symlink_in_the_rootfs_never_clobbers_the_target() {
    let (reg, rd, _busybox) = with_busybox();
    let _c = Cleanup(&rd);
    let mut t = TarBuilder::new();
    t.dir("dev", 0o755)
        .symlink("dev/null", "/etc/passwd")
        .file("etc/marker", "keep\n", 0o644)
        .symlink("dev/zero", "/etc/marker");
    let img = ImageFixture::build(
        vec![busybox_layer(), t.layer(Compression::Gzip)],
        &ImageOptions::with_cmd(&["sh"]),
        Format::Oci,
    );
    let image = with_image(&reg, &rd, "devnull", &img);
    let host_passwd = std::fs::read("/etc/passwd").unwrap();
    let out = rd.run(&[
        "run",
        "--rm",
        &image,
        "sh",
        "-c",
        "test -c /dev/null && echo CHAR; echo clobbered > /dev/null; echo clobbered > /dev/zero; \
         cat /etc/passwd /etc/marker",
    ]);
    if out.code == 0 {
        // Started: /dev is the runtime's own tmpfs, /dev/null the real device.
        assert!(out.stdout.starts_with("CHAR\n"), "{}", out.stdout);
        assert!(!out.stdout.contains("clobbered"), "{}", out.stdout);
        assert!(out.stdout.contains("root:x:0:0:"), "{}", out.stdout);
        assert!(out.stdout.ends_with("keep\n"), "{}", out.stdout);
    } else {
        assert_eq!(out.code, 125, "fails closed: {}", out.stderr);
    }
    assert_eq!(std::fs::read("/etc/passwd").unwrap(), host_passwd);
    assert_clean(&rd);
}

/// Opens `path` without O_CLOEXEC: every child this process spawns inherits it.
fn leaky_fd(path: &str) -> i32 {
    let c = std::ffi::CString::new(path).unwrap();
    // SAFETY: open(2) of a valid C string; the fd is closed by the caller.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY) };
    assert!(fd >= 0);
    fd
}

#[test]
fn no_host_fd_leaks_into_a_container() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let fds: Vec<i32> = ["/etc/passwd", "/etc/hostname", "/", "/proc/self/mountinfo"]
        .iter()
        .map(|p| leaky_fd(p))
        .collect();
    // The leaky fds really reach the CLI (else this test proves nothing).
    let probe = std::process::Command::new("/bin/sh")
        .args(["-c", "ls /proc/$$/fd"])
        .output()
        .unwrap();
    let seen = String::from_utf8_lossy(&probe.stdout).to_string();
    assert!(
        fds.iter().all(|f| seen.lines().any(|l| l == f.to_string())),
        "{seen}"
    );

    // `ls` is PID 1 here: it sees its own fds and the one it opens to read the dir.
    let out = rd.run(&["run", "--rm", &img, "ls", "/proc/self/fd"]).ok();
    let mut names: Vec<&str> = out.stdout.split_whitespace().collect();
    names.sort();
    assert_eq!(names, ["0", "1", "2", "3"], "{}", out.stdout);
    let out = rd
        .run(&["run", "--rm", &img, "sh", "-c", "ls /proc/1/fd; true"])
        .ok();
    let names: Vec<&str> = out.stdout.split_whitespace().collect();
    assert_eq!(names, ["0", "1", "2"], "{}", out.stdout);

    // Walk a live container's init from the host, as runc's test does.
    rd.run(&["run", "-d", "--name", "walk", &img, "sleep", "1000"])
        .ok();
    let pid = inspect(&rd, "walk")["State"]["Pid"].as_i64().unwrap();
    assert!(pid > 0);
    let mut fds_of_init: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    fds_of_init.sort();
    assert_eq!(fds_of_init, ["0", "1", "2"]);
    for fd in ["0", "1", "2"] {
        let target = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        let t = target.display().to_string();
        assert!(
            t.starts_with("pipe:") || t == "/dev/null" || t.starts_with("/dev/pts"),
            "fd {fd} -> {t}"
        );
    }
    rd.run(&["rm", "-f", "walk"]).ok();
    for fd in fds {
        // SAFETY: closing the fds this test opened.
        unsafe { libc::close(fd) };
    }
    assert_clean(&rd);
}

#[test]
fn a_proc_fd_working_directory_is_refused() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    for w in ["/proc/self/fd/7", "/proc/1/cwd", "/proc/thread-self/fd/3"] {
        rd.run(&["run", "--rm", "-w", w, &img, "pwd"])
            .fails(125, "CVE-2024-21626");
    }
    assert_clean(&rd);
}

#[test]
fn sixty_four_parallel_runs_leave_nothing_behind() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    // The cgroup naming this test checks is the one the engine really uses.
    rd.run(&["run", "-d", "--name", "probe", &img, "sleep", "1000"])
        .ok();
    let pid = inspect(&rd, "probe")["State"]["Pid"].as_i64().unwrap();
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(cg.contains(&format!("/{}/", cgroup_parent(&rd))), "{cg}");
    assert!(!cgroup_dirs(&rd).is_empty());
    rd.run(&["rm", "-f", "probe"]).ok();
    assert_clean(&rd);

    let results: Vec<common::Run> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..64)
            .map(|_| s.spawn(|| rd.run(&["run", "--rm", &img, "true"])))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.code, 0, "run {i}: {}", r.stderr);
    }
    assert_clean(&rd);
}

#[test]
fn init_is_pid_one_and_forwards_stop() {
    assert!(
        Path::new("/usr/bin/tini-static").exists(),
        "/usr/bin/tini-static is missing: scripts/deps.sh installs Debian's tini"
    );
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let out = rd.run(&["run", "--rm", "--init", &img, "ps"]).ok();
    let pid1 = out
        .stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some("1"))
        .unwrap_or_else(|| panic!("no PID 1 in {}", out.stdout));
    assert!(
        pid1.contains("docker-init") || pid1.contains("tini"),
        "{}",
        out.stdout
    );
    rd.run(&[
        "run", "-d", "--init", "--name", "initc", &img, "sleep", "1000",
    ])
    .ok();
    let t = Instant::now();
    rd.run(&["stop", "initc"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "stop took {:?}: SIGTERM was not forwarded",
        t.elapsed()
    );
    let code = inspect(&rd, "initc")["State"]["ExitCode"].as_i64().unwrap();
    assert_eq!(code, 143, "sleep died of the forwarded SIGTERM");
    rd.run(&["rm", "initc"]).ok();
    assert_clean(&rd);
}

#[test]
fn the_image_stop_signal_is_used() {
    let (reg, rd, _busybox) = with_busybox();
    let _c = Cleanup(&rd);
    let img = ImageFixture::build(
        vec![busybox_layer()],
        &ImageOptions {
            stop_signal: Some("SIGUSR1".into()),
            ..ImageOptions::with_cmd(&[
                "sh",
                "-c",
                "trap 'exit 42' USR1; echo ready; while true; do sleep 0.1; done",
            ])
        },
        Format::Oci,
    );
    let image = with_image(&reg, &rd, "usr1", &img);
    rd.run(&["run", "-d", "--name", "sig", &image]).ok();
    assert_eq!(inspect(&rd, "sig")["Config"]["StopSignal"], "SIGUSR1");
    wait_logs(&rd, "sig", "ready");
    let t = Instant::now();
    rd.run(&["stop", "sig"]).ok();
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(inspect(&rd, "sig")["State"]["ExitCode"], 42);

    rd.run(&["start", "sig"]).ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rd.run(&["logs", "sig"]).stdout.matches("ready").count() < 2 {
        assert!(Instant::now() < deadline, "no second start");
        std::thread::sleep(Duration::from_millis(50));
    }
    rd.run(&["kill", "-s", "BOGUS", "sig"])
        .fails(1, "Invalid signal: BOGUS");
    rd.run(&["kill", "-s", "USR1", "sig"]).ok();
    assert_eq!(wait_exited(&rd, "sig"), 42);
    rd.run(&["rm", "sig"]).ok();
    assert_clean(&rd);
}

#[test]
fn logs_tail_timestamps_since_and_follow() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "run",
        "--name",
        "logs1",
        &img,
        "sh",
        "-c",
        "for i in 1 2 3 4 5; do echo line$i; done",
    ])
    .ok();
    assert_eq!(
        rd.run(&["logs", "--tail", "2", "logs1"]).ok().stdout,
        "line4\nline5\n"
    );
    let out = rd.run(&["logs", "-t", "logs1"]).ok().stdout;
    assert_eq!(out.lines().count(), 5, "{out}");
    for (i, line) in out.lines().enumerate() {
        let (ts, text) = line.split_once(' ').unwrap();
        chrono::DateTime::parse_from_rfc3339(ts)
            .unwrap_or_else(|e| panic!("{ts:?} is not RFC 3339: {e}"));
        assert_eq!(text, format!("line{}", i + 1));
    }
    assert_eq!(
        rd.run(&["logs", "--since", "2100-01-01T00:00:00Z", "logs1"])
            .ok()
            .stdout,
        ""
    );
    assert_eq!(
        rd.run(&["logs", "--since", "1h", "logs1"])
            .ok()
            .stdout
            .lines()
            .count(),
        5
    );

    // -f follows until the container exits, then ends by itself.
    rd.run(&[
        "run",
        "-d",
        "--name",
        "follow",
        &img,
        "sh",
        "-c",
        "for i in 1 2 3 4; do echo f$i; sleep 0.3; done",
    ])
    .ok();
    let mut child = rd
        .command(&["logs", "-f", "follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("logs -f did not end when the container exited");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert_eq!(out, "f1\nf2\nf3\nf4\n");
    rd.run(&["rm", "logs1", "follow"]).ok();
    assert_clean(&rd);
}

#[test]
fn restart_runs_the_container_again_in_its_own_filesystem() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "run",
        "-d",
        "--name",
        "restarter",
        &img,
        "sh",
        "-c",
        "trap 'exit 0' TERM; echo x >> /count; echo started=$(wc -l < /count); \
         while true; do sleep 0.1; done",
    ])
    .ok();
    wait_logs(&rd, "restarter", "started=1");
    rd.run(&["restart", "-t", "5", "restarter"]).ok();
    wait_logs(&rd, "restarter", "started=2");
    assert_eq!(inspect(&rd, "restarter")["State"]["Running"], true);
    assert_eq!(
        rd.run(&["exec", "restarter", "wc", "-l", "/count"])
            .ok()
            .stdout,
        "2 /count\n"
    );
    // restart of a stopped container starts it.
    rd.run(&["stop", "restarter"]).ok();
    assert_eq!(inspect(&rd, "restarter")["State"]["Status"], "exited");
    rd.run(&["restart", "restarter"]).ok();
    wait_logs(&rd, "restarter", "started=3");
    assert_eq!(inspect(&rd, "restarter")["State"]["Status"], "running");
    rd.run(&["rm", "-f", "restarter"]).ok();
    assert_clean(&rd);
}

#[test]
fn docker_messages_for_missing_and_conflicting_things() {
    let (reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let missing = format!("{}/library/no-such-image", reg.addr());
    let out = rd.run(&["run", "--rm", &missing, "true"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    for want in [
        format!("Unable to find image '{missing}:latest' locally"),
        format!("manifest for {missing}:latest not found"),
        // The hint: what to check and how to see why.
        "Is the image name right?".to_string(),
    ] {
        assert!(out.stderr.contains(&want), "{want:?} in {}", out.stderr);
    }
    rd.run(&["rm", "nope"]).fails(1, "No such container: nope");
    rd.run(&["start", "nope"])
        .fails(1, "No such container: nope");
    rd.run(&["create", "--name", "twice", &img, "true"]).ok();
    rd.run(&["create", "--name", "twice", &img, "true"]).fails(
        125,
        "The container name \"/twice\" is already in use by container",
    );
    rd.run(&["rm", "twice"]).ok();
    assert_clean(&rd);
}

#[test]
fn security_flags_do_what_docker_does() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    std::thread::scope(|s| {
        let ro = s.spawn(|| {
            rd.run(&[
                "run",
                "--rm",
                "--read-only",
                &img,
                "sh",
                "-c",
                "touch /x && echo W1 || echo R1; touch /tmp/x && echo W2 || echo R2; \
                 echo ok > /dev/shm/x && echo W3",
            ])
            .ok()
            .stdout
        });
        let drop_all = s.spawn(|| {
            rd.run(&[
                "run",
                "--rm",
                "--cap-drop",
                "ALL",
                &img,
                "grep",
                "CapEff",
                "/proc/self/status",
            ])
            .ok()
            .stdout
        });
        let add = s.spawn(|| {
            rd.run(&[
                "run",
                "--rm",
                "--cap-add",
                "NET_ADMIN",
                &img,
                "grep",
                "CapEff",
                "/proc/self/status",
            ])
            .ok()
            .stdout
        });
        let privileged = s.spawn(|| {
            rd.run(&[
                "run",
                "--rm",
                "--privileged",
                &img,
                "sh",
                "-c",
                "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && echo MOUNTED",
            ])
            .ok()
            .stdout
        });
        let pids = s.spawn(|| {
            rd.run(&[
                "run",
                "--rm",
                "--pids-limit",
                "10",
                &img,
                "sh",
                "-c",
                "for i in $(seq 30); do sleep 2 & done; wait; echo FINISHED",
            ])
        });
        let out = ro.join().unwrap();
        assert!(out.contains("R1") && out.contains("R2"), "{out}");
        assert!(out.contains("W3"), "/dev/shm stays writable: {out}");
        let out = drop_all.join().unwrap();
        assert_eq!(out.split_whitespace().nth(1), Some("0000000000000000"));
        let out = add.join().unwrap();
        // Docker's 14 (0xa80425fb) plus NET_ADMIN (bit 12).
        assert_eq!(out.split_whitespace().nth(1), Some("00000000a80435fb"));
        assert!(privileged.join().unwrap().contains("MOUNTED"));
        let out = pids.join().unwrap();
        // busybox sh gives up (exit 2) at the first fork the limit refuses.
        assert_ne!(out.code, 0, "{}", out.stderr);
        assert!(!out.stdout.contains("FINISHED"), "{}", out.stdout);
        assert!(
            out.stderr
                .contains("can't fork: Resource temporarily unavailable"),
            "the pids limit stops the forks: {}",
            out.stderr
        );
    });
    // The host still forks fine.
    assert!(std::process::Command::new("true")
        .status()
        .unwrap()
        .success());
    assert_clean(&rd);
}

#[test]
fn a_container_outlives_the_cli_that_started_it() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let mut child = rd
        .command(&[
            "run",
            "--name",
            "orphan",
            &img,
            "sh",
            "-c",
            "sleep 2; echo done",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // Started (under load that may take longer than the 0.5 s).
    let deadline = Instant::now() + Duration::from_secs(10);
    while inspect(&rd, "orphan")["State"]["Status"] != "running" {
        assert!(Instant::now() < deadline, "the container never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SIGKILL to the CLI's whole process group (as a terminal's hangup would reach it): the
    // shim has its own session, so the container is not in it.
    let pgid = child.id() as i32;
    // SAFETY: kill(2) of the process group this test created for the CLI.
    assert_eq!(unsafe { libc::kill(-pgid, libc::SIGKILL) }, 0);
    child.wait().unwrap();
    assert_eq!(inspect(&rd, "orphan")["State"]["Status"], "running");
    assert_eq!(wait_exited(&rd, "orphan"), 0);
    assert_eq!(rd.run(&["logs", "orphan"]).ok().stdout, "done\n");
    // Detached: the CLI is gone at once, the container runs to its end.
    rd.run(&[
        "run",
        "-d",
        "--name",
        "detached",
        &img,
        "sh",
        "-c",
        "sleep 1; echo bg-done",
    ])
    .ok();
    assert_eq!(wait_exited(&rd, "detached"), 0);
    assert_eq!(rd.run(&["logs", "detached"]).ok().stdout, "bg-done\n");
    rd.run(&["rm", "orphan", "detached"]).ok();
    assert_clean(&rd);
}
