//! Containers through the real binary: the shim, libcontainer (and runc), overlayfs,
//! namespaces, cgroups, Docker's security profile. Root only.

mod common;

use common::{rdesk_cmd, with_busybox, Cleanup, Rdesk, Tmux};
use std::time::{Duration, Instant};

#[test]
fn run_prints_output_and_returns_the_exit_code() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let out = rd
        .run(&["run", "--rm", &img, "echo", "hello from rdesk"])
        .ok();
    assert_eq!(out.stdout, "hello from rdesk\n");
    let out = rd.run(&[
        "run",
        "--rm",
        &img,
        "sh",
        "-c",
        "echo out; echo err >&2; exit 3",
    ]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    assert_eq!(rd.run(&["ps", "-aq"]).ok().stdout, "", "--rm removed them");
}

#[test]
fn exit_codes_for_commands_that_cannot_run() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let out = rd.run(&["run", "--rm", &img, "no-such-command"]);
    assert_eq!(out.code, 127, "not found: {}", out.stderr);
    let out = rd.run(&["run", "--rm", &img, "/etc"]);
    assert_eq!(out.code, 126, "not executable: {}", out.stderr);
    let out = rd.run(&["run", "--rm", "no.such.registry.invalid:1/nope", "true"]);
    assert_eq!(out.code, 125, "{}", out.stderr);
    let out = rd.run(&["run", "--rm", "--bogus-flag", &img]);
    assert_eq!(out.code, 125, "{}", out.stderr);
}

#[test]
fn detached_container_lives_on_and_stops() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    // PID 1 ignores SIGTERM: stop must fall back to SIGKILL after the timeout.
    let id = rd
        .run(&[
            "run",
            "-d",
            "--name",
            "stubborn",
            &img,
            "sh",
            "-c",
            "trap '' TERM; echo ready; while true; do sleep 1; done",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(id.len(), 64);
    // The CLI that started it has exited; the container still runs.
    let ps = rd.run(&["ps"]).ok().stdout;
    assert!(ps.contains("stubborn") && ps.contains("Up "), "{ps}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !rd.run(&["logs", "stubborn"]).ok().stdout.contains("ready") {
        assert!(Instant::now() < deadline, "no output in the log");
        std::thread::sleep(Duration::from_millis(100));
    }
    rd.run(&["rm", "stubborn"]).fails(
        1,
        "container is running: stop the container before removing or force remove",
    );
    rd.run(&["run", "-d", "--name", "stubborn", &img, "true"])
        .fails(125, "is already in use by container");
    let t = Instant::now();
    rd.run(&["stop", "-t", "1", "stubborn"]).ok();
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "stop took {:?}",
        t.elapsed()
    );
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["inspect", "stubborn"]).ok().stdout).unwrap();
    assert_eq!(v[0]["State"]["Status"], "exited");
    assert_eq!(v[0]["State"]["ExitCode"], 137);
    assert_eq!(v[0]["Name"], "/stubborn");
    assert_eq!(v[0]["Id"], id.as_str());
    let ps = rd
        .run(&[
            "ps",
            "-a",
            "--filter",
            "status=exited",
            "--format",
            "{{.Names}} {{.Status}}",
        ])
        .ok()
        .stdout;
    assert!(ps.starts_with("stubborn Exited (137)"), "{ps}");
    assert!(
        !rdesk_rootfs_mounted(&rd),
        "the rootfs is unmounted after the stop"
    );
    rd.run(&["rm", "stubborn"]).ok();
    assert_eq!(rd.run(&["ps", "-aq"]).ok().stdout, "");
}

fn rdesk_rootfs_mounted(rd: &Rdesk) -> bool {
    let root = rd.root().display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(&root))
}

#[test]
fn docker_security_defaults_hold_inside() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let sh = |script: &str| rd.run(&["run", "--rm", &img, "sh", "-c", script]);
    let out = sh("grep CapEff /proc/self/status").ok();
    assert_eq!(
        out.stdout.split_whitespace().nth(1),
        Some("00000000a80425fb"),
        "{}",
        out.stdout
    );
    let out = sh("cat /proc/timer_list | wc -c").ok();
    assert_eq!(out.stdout.trim(), "0", "/proc/timer_list is masked");
    let out = sh("echo 1 > /proc/sys/kernel/printk_ratelimit && echo WROTE || echo REFUSED");
    assert!(
        out.stdout.contains("REFUSED"),
        "/proc/sys is read-only: {}",
        out.stdout
    );
    let out = sh("mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && echo MOUNTED || echo REFUSED");
    assert!(
        out.stdout.contains("REFUSED"),
        "mount must fail: {}",
        out.stdout
    );
    // User namespaces need no capability: only seccomp stops this one.
    let out = sh("unshare -U true && echo UNSHARED || echo REFUSED");
    assert!(
        out.stdout.contains("REFUSED"),
        "seccomp blocks unshare: {}",
        out.stdout
    );
    let out = rd.run(&[
        "run",
        "--rm",
        "--security-opt",
        "seccomp=unconfined",
        &img,
        "sh",
        "-c",
        "unshare -U true && echo UNSHARED || echo REFUSED",
    ]);
    assert!(
        out.stdout.contains("UNSHARED"),
        "without seccomp the same call passes: {} {}",
        out.stdout,
        out.stderr
    );
    let out = sh("hostname; cat /etc/hostname").ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], lines[1]);
    assert_eq!(lines[0].len(), 12);
}

#[test]
fn memory_limit_is_enforced() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    // 64 MiB of data in a shell variable cannot fit in 16 MiB.
    let out = rd.run(&[
        "run",
        "--rm",
        "-m",
        "16m",
        &img,
        "sh",
        "-c",
        "x=$(head -c 67108864 /dev/zero | tr '\\0' a); echo SURVIVED",
    ]);
    assert!(
        !out.stdout.contains("SURVIVED"),
        "the limit was not enforced"
    );
    assert_eq!(out.code, 137, "OOM-killed: {}", out.stderr);
}

#[test]
fn each_container_has_its_own_scratch_filesystem() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "run",
        "--name",
        "first",
        &img,
        "sh",
        "-c",
        "echo hi > /data.txt",
    ])
    .ok();
    let out = rd
        .run(&[
            "run",
            "--rm",
            &img,
            "sh",
            "-c",
            "cat /data.txt || echo MISSING",
        ])
        .ok();
    assert!(out.stdout.contains("MISSING"), "{}", out.stdout);
    // Its own file is still there when it runs again.
    let out = rd.run(&["start", "-a", "first"]).ok();
    assert_eq!(out.stdout, "");
    rd.run(&["rm", "first"]).ok();
    rd.run(&["run", "--name", "a", &img, "true"])
        .fails(125, "Invalid container name (a)");
}

#[test]
fn a_killed_shim_is_reconciled() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let id = rd
        .run(&["run", "-d", &img, "sleep", "1000"])
        .ok()
        .stdout
        .trim()
        .to_string();
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(rd.root().join("containers").join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let shim = state["shim_pid"].as_i64().unwrap() as i32;
    // SAFETY: kill(2) of the shim this test's container got, by PID.
    assert_eq!(unsafe { libc::kill(shim, libc::SIGKILL) }, 0);
    std::thread::sleep(Duration::from_millis(200));
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["inspect", &id]).ok().stdout).unwrap();
    assert_eq!(v[0]["State"]["Status"], "exited");
    assert!(!rdesk_rootfs_mounted(&rd), "mounts released");
}

#[test]
fn runc_runs_the_same_bundle() {
    if !std::path::Path::new("/usr/sbin/runc").exists()
        && !std::path::Path::new("/usr/bin/runc").exists()
    {
        panic!("runc is not installed: scripts/deps.sh installs it");
    }
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let out = rd.run(&[
        "run",
        "--rm",
        "--runtime",
        "runc",
        &img,
        "sh",
        "-c",
        "grep CapEff /proc/self/status; exit 4",
    ]);
    assert_eq!(out.code, 4, "{}", out.stderr);
    assert!(out.stdout.contains("00000000a80425fb"), "{}", out.stdout);
}

#[test]
fn ps_lists_newest_first_within_one_second() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let names = ["first", "second", "third", "fourth"];
    for n in names {
        rd.run(&["create", "--name", n, &img, "true"]).ok();
    }
    let out = rd.run(&["ps", "-a", "--format", "{{.Names}}"]).ok().stdout;
    let listed: Vec<&str> = out.lines().collect();
    assert_eq!(listed, ["fourth", "third", "second", "first"]);
}

#[test]
fn rmi_refuses_an_image_a_container_uses() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&["create", "--name", "user1", &img, "true"]).ok();
    rd.run(&["rmi", &img])
        .fails(1, "image is being used by stopped container");
    rd.run(&["image", "prune", "-a", "-f"]).ok();
    assert_eq!(rd.image_count(), 1, "prune keeps an image a container uses");
    // -f untags it; the image stays for the container (dangling), as Docker.
    rd.run(&["rmi", "-f", &img]).ok();
    let out = rd.run(&["images", "-q"]).ok();
    assert_eq!(out.stdout.lines().count(), 1);
    rd.run(&["start", "-a", "user1"]).ok();
    rd.run(&["rm", "user1"]).ok();
    rd.run(&["image", "prune", "-f"]).ok();
    assert_eq!(rd.image_count(), 0);
}

#[test]
fn interactive_shell_through_a_real_pty_then_detach_and_reattach() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let t = Tmux::new("sh");
    t.keys(&[
        &format!(
            "{}; echo EXITED=$?",
            rdesk_cmd(&rd, &format!("run -it --rm -e PS1=IN- {img} sh"))
        ),
        "Enter",
    ]);
    t.wait_count("IN-", 2);
    // Typed into the container's shell, answered by it; the PTY has our window size.
    t.keys(&["echo hi$((40+2)); stty size", "Enter"]);
    t.wait_for("hi42");
    t.wait_for("30 100");
    t.keys(&["exit 7", "Enter"]);
    t.wait_for("EXITED=7");
    assert_eq!(rd.run(&["ps", "-aq"]).ok().stdout, "", "--rm removed it");

    // ctrl-p ctrl-q detaches; the container keeps running; attach takes it back.
    let seen = t.screen().matches("IN-").count();
    t.keys(&[
        &format!(
            "{}; echo DETACHED=$?",
            rdesk_cmd(&rd, &format!("run -it --name sess -e PS1=IN- {img} sh"))
        ),
        "Enter",
    ]);
    t.wait_count("IN-", seen + 2);
    t.keys(&["C-p", "C-q"]);
    t.wait_for("DETACHED=0");
    let ps = rd
        .run(&["ps", "--format", "{{.Names}} {{.State}}"])
        .ok()
        .stdout;
    assert_eq!(ps, "sess running\n");
    t.keys(&[
        &format!("{}; echo ATTACH=$?", rdesk_cmd(&rd, "attach sess")),
        "Enter",
    ]);
    std::thread::sleep(Duration::from_millis(500));
    t.keys(&["echo back$((1+1))", "Enter"]);
    t.wait_for("back2");
    t.keys(&["exit 3", "Enter"]);
    t.wait_for("ATTACH=3");
    // The session is in the log too.
    assert!(rd.run(&["logs", "sess"]).ok().stdout.contains("back2"));
    rd.run(&["rm", "sess"]).ok();
}

#[test]
fn interactive_stdin_without_a_tty_is_a_pipe() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let mut child = rd
        .command(&["run", "-i", "--rm", &img, "sh", "-c", "cat; echo done >&2"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"line one\nline two\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "line one\nline two\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "done\n");
}

#[test]
fn exec_runs_in_the_running_container() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "run",
        "-d",
        "--name",
        "host",
        "-e",
        "FROM_RUN=1",
        &img,
        "sh",
        "-c",
        "echo created > /tmp/mark; sleep 1000",
    ])
    .ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rd.run(&["exec", "host", "cat", "/tmp/mark"]).stdout != "created\n" {
        assert!(
            Instant::now() < deadline,
            "exec never saw the container's file"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        rd.run(&["exec", "host", "sh", "-c", "echo $FROM_RUN $X"])
            .stdout,
        "1\n"
    );
    assert_eq!(
        rd.run(&["exec", "-e", "X=2", "host", "sh", "-c", "echo $FROM_RUN $X"])
            .ok()
            .stdout,
        "1 2\n"
    );
    assert_eq!(
        rd.run(&["exec", "-w", "/tmp", "host", "pwd"]).ok().stdout,
        "/tmp\n"
    );
    assert_eq!(
        rd.run(&["exec", "-u", "nobody", "host", "id", "-u"])
            .ok()
            .stdout,
        "65534\n"
    );
    assert_eq!(rd.run(&["exec", "host", "sh", "-c", "exit 5"]).code, 5);
    assert_eq!(rd.run(&["exec", "host", "no-such-command"]).code, 127);
    // Same PID namespace: the container's sleep is visible.
    assert!(rd
        .run(&["exec", "host", "ps"])
        .ok()
        .stdout
        .contains("sleep 1000"));
    rd.run(&["exec", "-d", "host", "sh", "-c", "echo bg > /tmp/bg"])
        .ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while rd.run(&["exec", "host", "cat", "/tmp/bg"]).stdout != "bg\n" {
        assert!(Instant::now() < deadline, "exec -d never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    rd.run(&["stop", "-t", "0", "host"]).ok();
    rd.run(&["exec", "host", "true"]).fails(1, "is not running");

    // exec -it: a shell in a real terminal.
    rd.run(&["start", "host"]).ok();
    let t = Tmux::new("sh");
    t.keys(&[
        &format!(
            "{}; echo EXEC=$?",
            rdesk_cmd(&rd, "exec -it -e PS1=EX- host sh")
        ),
        "Enter",
    ]);
    t.wait_count("EX-", 2);
    t.keys(&["echo hi", "Enter"]);
    t.wait_for("\nhi");
    t.keys(&["exit 4", "Enter"]);
    t.wait_for("EXEC=4");
    rd.run(&["rm", "-f", "host"]).ok();
}

#[test]
fn stats_come_from_the_cgroup_and_events_from_the_journal() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "run",
        "-d",
        "--name",
        "watched",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        &img,
        "sleep",
        "1000",
    ])
    .ok();
    let out = rd
        .run(&["stats", "--no-stream", "--format", "json", "watched"])
        .ok();
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["Name"], "watched");
    assert!(v["MemUsage"].as_str().unwrap().ends_with("/ 64MiB"), "{v}");
    assert_eq!(v["PIDs"], "1");
    let table = rd.run(&["stats", "--no-stream"]).ok().stdout;
    assert!(
        table.starts_with("CONTAINER ID") && table.contains("watched"),
        "{table}"
    );
    rd.run(&["rm", "-f", "watched"]).ok();
    let out = rd
        .run(&[
            "events",
            "--since",
            "5m",
            "--until",
            "0s",
            "--filter",
            "container=watched",
        ])
        .ok();
    let actions: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().nth(2).unwrap_or(""))
        .collect();
    assert_eq!(
        actions,
        ["create", "start", "die", "destroy"],
        "{}",
        out.stdout
    );
    let out = rd
        .run(&[
            "events",
            "--since",
            "5m",
            "--until",
            "0s",
            "--filter",
            "type=image",
            "--format",
            "json",
        ])
        .ok();
    let first: serde_json::Value =
        serde_json::from_str(out.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["Type"], "image");
    assert_eq!(first["Action"], "pull");
}

#[test]
fn start_ai_attaches_a_created_interactive_container() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "create", "-it", "--name", "later", "-e", "PS1=LT-", &img, "sh",
    ])
    .ok();
    let t = Tmux::new("sh");
    t.keys(&[
        &format!("{}; echo RC=$?", rdesk_cmd(&rd, "start -ai later")),
        "Enter",
    ]);
    t.wait_for("LT-");
    t.keys(&["echo inside$((2*3))", "Enter"]);
    t.wait_for("inside6");
    t.keys(&["exit 2", "Enter"]);
    t.wait_for("RC=2");
    rd.run(&["rm", "later"]).ok();
}
