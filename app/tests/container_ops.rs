//! pause/unpause, top, diff, export, cp, rename through the real binary. Root only.

mod common;

use common::{with_busybox, Cleanup, Rdesk};
use std::io::Write as _;
use std::process::Stdio;
use std::time::{Duration, Instant};

fn log_lines(rd: &Rdesk, name: &str) -> usize {
    rd.run(&["logs", name]).ok().stdout.lines().count()
}

/// Waits until `cond` holds (5 s at most).
#[track_caller]
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn pause_freezes_unpause_resumes_and_a_paused_container_stops() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "run",
        "-d",
        "--name",
        "ticker",
        &img,
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo $i; sleep 0.05; done",
    ])
    .ok();
    wait_for("output", || log_lines(&rd, "ticker") > 2);
    assert_eq!(rd.run(&["pause", "ticker"]).ok().stdout, "ticker\n");
    assert!(rd.run(&["ps"]).ok().stdout.contains("(Paused)"));
    rd.run(&["pause", "ticker"]).fails(1, "is already paused");
    std::thread::sleep(Duration::from_millis(200));
    let frozen = log_lines(&rd, "ticker");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(log_lines(&rd, "ticker"), frozen, "no output while paused");
    assert_eq!(rd.run(&["unpause", "ticker"]).ok().stdout, "ticker\n");
    rd.run(&["unpause", "ticker"]).fails(1, "is not paused");
    wait_for("output after unpause", || {
        log_lines(&rd, "ticker") > frozen + 2
    });
    assert!(!rd.run(&["ps"]).ok().stdout.contains("(Paused)"));

    // A paused container still stops (its processes are thawed to take the signal).
    rd.run(&["pause", "ticker"]).ok();
    let t = Instant::now();
    rd.run(&["stop", "-t", "2", "ticker"]).ok();
    assert!(t.elapsed() < Duration::from_secs(5));
    assert!(rd.run(&["ps", "-a"]).ok().stdout.contains("Exited"));
    rd.run(&["pause", "ticker"]).fails(1, "is not running");

    // And `rm -f` of a paused one.
    rd.run(&["run", "-d", "--name", "sleeper", &img, "sleep", "1000"])
        .ok();
    rd.run(&["pause", "sleeper"]).ok();
    rd.run(&["rm", "-f", "sleeper"]).ok();
    rd.run(&["inspect", "sleeper"]).fails(1, "No such");
}

#[test]
fn top_lists_the_container_processes_only() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&["run", "-d", "--name", "tp", &img, "sleep", "4321"])
        .ok();
    let out = rd.run(&["top", "tp"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    for col in ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"] {
        assert!(lines[0].contains(col), "{out}");
    }
    assert!(lines[1].ends_with("sleep 4321"), "{out}");
    let pid: i64 = lines[1].split_whitespace().nth(1).unwrap().parse().unwrap();
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_eq!(comm.trim(), "sleep", "the PID column is the host PID");

    let out = rd.run(&["top", "tp", "-o", "pid,comm"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("PID") && lines[0].contains("COMMAND"),
        "{out}"
    );
    assert!(lines[1].contains(&pid.to_string()) && lines[1].ends_with("sleep"));

    rd.run(&["stop", "-t", "0", "tp"]).ok();
    rd.run(&["top", "tp"]).fails(1, "is not running");
    rd.run(&["top", "nope"]).fails(1, "No such container");
}

#[test]
fn diff_and_export_of_a_stopped_container() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&[
        "run",
        "--name",
        "dd",
        &img,
        "sh",
        "-c",
        "mkdir /newdir && echo exported > /newdir/f && echo x >> /etc/passwd && rm /bin/tar",
    ])
    .ok();
    let out = rd.run(&["diff", "dd"]).ok().stdout;
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "A /newdir",
        "A /newdir/f",
        "C /etc",
        "C /etc/passwd",
        "C /bin",
        "D /bin/tar",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in:\n{out}");
    }
    assert!(
        !out.contains("/etc/hosts"),
        "the engine's mountpoints are not changes:\n{out}"
    );
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| &l[2..]);
    assert_eq!(lines, sorted, "sorted by path");

    let file = rd.dir.path().join("d.tar");
    rd.run(&["export", "-o", file.to_str().unwrap(), "dd"]).ok();
    let mut archive = tar::Archive::new(std::fs::File::open(&file).unwrap());
    let mut found = false;
    let mut names = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().display().to_string();
        if p == "newdir/f" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut e, &mut s).unwrap();
            assert_eq!(s, "exported\n");
            found = true;
        }
        names.push(p);
    }
    assert!(found, "newdir/f in {names:?}");
    assert!(
        !names.iter().any(|n| n == "bin/tar"),
        "deleted file exported"
    );
    assert!(names.iter().any(|n| n == "bin/sh"));
    // The temporary mount is gone again.
    rd.run(&["start", "dd"]).ok();

    // To stdout (not a terminal here): the same archive.
    let out = rd.command(&["export", "dd"]).output().unwrap();
    assert!(out.status.success());
    let mut archive = tar::Archive::new(&out.stdout[..]);
    assert!(archive
        .entries()
        .unwrap()
        .any(|e| e.unwrap().path().unwrap().to_str() == Some("newdir/f")));
}

#[test]
fn cp_both_directions_and_never_out_of_the_root() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let host = rd.dir.path().join("host");
    std::fs::create_dir_all(&host).unwrap();
    // A host file the container must neither read nor overwrite through its symlinks.
    let sentinel = rd.dir.path().join("sentinel");
    std::fs::write(&sentinel, "host secret\n").unwrap();
    let s = sentinel.to_str().unwrap().to_string();
    rd.run(&[
        "run",
        "-d",
        "--name",
        "cc",
        &img,
        "sh",
        "-c",
        // Idempotent: the container is started a second time below.
        "mkdir -p /data/sub && echo hello > /data/sub/a.txt && ln -sfn / /evil && ln -sfn ../../../.. /data/up && ln -sfn /data/sub/a.txt /data/link && touch /ready && sleep 1000",
    ])
    .ok();
    wait_for("the container's files", || {
        rd.run(&["cp", "cc:/ready", host.join("ready").to_str().unwrap()])
            .code
            == 0
    });
    let h = |p: &str| host.join(p).to_str().unwrap().to_string();

    // Container -> host: a file, a directory (new name), contents of a directory.
    rd.run(&["cp", "cc:/data/sub/a.txt", &h("a.txt")]).ok();
    assert_eq!(
        std::fs::read_to_string(host.join("a.txt")).unwrap(),
        "hello\n"
    );
    rd.run(&["cp", "cc:/data", &h("out")]).ok();
    assert_eq!(
        std::fs::read_to_string(host.join("out/sub/a.txt")).unwrap(),
        "hello\n"
    );
    assert!(
        host.join("out/link").is_symlink(),
        "symlinks copied as such"
    );
    std::fs::create_dir_all(host.join("existing")).unwrap();
    rd.run(&["cp", "cc:/data", &h("existing")]).ok();
    assert!(host.join("existing/data/sub/a.txt").exists());
    rd.run(&["cp", "cc:/data/.", &h("existing")]).ok();
    assert!(host.join("existing/sub/a.txt").exists());
    rd.run(&["cp", "cc:/nope", &h("x")])
        .fails(1, "Could not find the file /nope in container cc");

    // Host -> container: a file into a directory, a directory, a new name.
    std::fs::write(host.join("in.txt"), "from host\n").unwrap();
    std::fs::create_dir_all(host.join("tree/deep")).unwrap();
    std::fs::write(host.join("tree/deep/t.txt"), "tree\n").unwrap();
    rd.run(&["cp", &h("in.txt"), "cc:/data/"]).ok();
    rd.run(&["cp", &h("tree"), "cc:/data/newtree"]).ok();
    rd.run(&["cp", &h("in.txt"), "cc:/renamed.txt"]).ok();
    // Read back as the container's own processes see it.
    let cat = |p: &str| rd.run(&["exec", "cc", "cat", p]).ok().stdout;
    assert_eq!(cat("/data/in.txt"), "from host\n");
    assert_eq!(cat("/data/newtree/deep/t.txt"), "tree\n");
    assert_eq!(cat("/renamed.txt"), "from host\n");
    rd.run(&["cp", &h("in.txt"), "cc:/no/such/dir/x"])
        .fails(1, "Could not find the file");

    // `-`: tar streams.
    let out = rd.command(&["cp", "cc:/data/sub", "-"]).output().unwrap();
    assert!(out.status.success());
    let names: Vec<String> = tar::Archive::new(&out.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"sub/a.txt".to_string()), "{names:?}");
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_size(9);
    hd.set_mode(0o644);
    b.append_data(&mut hd, "streamed.txt", &b"streamed\n"[..])
        .unwrap();
    let stream = b.into_inner().unwrap();
    let mut child = rd
        .command(&["cp", "-", "cc:/data"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(cat("/data/streamed.txt"), "streamed\n");

    // Owners: root's by default, the archive's with -a; extended attributes kept.
    let mut b = tar::Builder::new(Vec::new());
    b.append_pax_extensions([("SCHILY.xattr.user.rdesk", &b"kept"[..])])
        .unwrap();
    let mut hd = tar::Header::new_ustar();
    hd.set_size(6);
    hd.set_mode(0o640);
    hd.set_uid(1234);
    hd.set_gid(5678);
    b.append_data(&mut hd, "owned.txt", &b"owned\n"[..])
        .unwrap();
    let stream = b.into_inner().unwrap();
    for (flags, owner) in [(&[][..], "0:0 640"), (&["-a"][..], "1234:5678 640")] {
        let mut args = vec!["cp"];
        args.extend_from_slice(flags);
        args.extend(["-", "cc:/data"]);
        let mut child = rd.command(&args).stdin(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(&stream).unwrap();
        assert!(child.wait().unwrap().success());
        let st = rd.run(&["exec", "cc", "stat", "-c", "%u:%g %a", "/data/owned.txt"]);
        assert_eq!(st.ok().stdout.trim(), owner, "cp {flags:?}");
    }
    let out = rd
        .command(&["cp", "cc:/data/owned.txt", "-"])
        .output()
        .unwrap();
    let mut ar = tar::Archive::new(&out.stdout[..]);
    let mut entry = ar.entries().unwrap().next().unwrap().unwrap();
    let xattrs: Vec<(String, Vec<u8>)> = entry
        .pax_extensions()
        .unwrap()
        .map(|exts| {
            exts.map(|e| e.unwrap())
                .map(|e| (e.key().unwrap().to_string(), e.value_bytes().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    assert!(
        xattrs.contains(&("SCHILY.xattr.user.rdesk".into(), b"kept".to_vec())),
        "{xattrs:?}"
    );

    // Symlinks resolve inside the container, never to the host.
    rd.run(&["cp", &format!("cc:/evil{s}"), &h("leak")])
        .fails(1, "Could not find the file");
    rd.run(&["cp", &format!("cc:/data/up{s}"), &h("leak")])
        .fails(1, "Could not find the file");
    assert!(!host.join("leak").exists());
    rd.run(&["cp", &h("in.txt"), &format!("cc:/evil{s}")])
        .fails(1, "Could not find the file");
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "host secret\n");
    // /data/up/ is the container's root: the file lands there, not in the host's /.
    std::fs::write(host.join("escape-probe-rdesk"), "probe\n").unwrap();
    rd.run(&["cp", &h("escape-probe-rdesk"), "cc:/data/up/"])
        .ok();
    assert_eq!(cat("/escape-probe-rdesk"), "probe\n");
    assert!(!std::path::Path::new("/escape-probe-rdesk").exists());
    // Into a directory the container turned into a symlink to `/`: still inside.
    let sentinel_dir = sentinel.parent().unwrap().to_str().unwrap().to_string();
    rd.run(&[
        "cp",
        &h("in.txt"),
        &format!("cc:/evil{sentinel_dir}/sentinel"),
    ])
    .fails(1, "Could not find the file");
    assert_eq!(std::fs::read_to_string(&sentinel).unwrap(), "host secret\n");
    // A symlink copied out is the link itself, not the host file it would name.
    let mut b = tar::Builder::new(Vec::new());
    let mut hd = tar::Header::new_gnu();
    hd.set_entry_type(tar::EntryType::Symlink);
    hd.set_size(0);
    hd.set_mode(0o777);
    b.append_link(&mut hd, "hostlink", &s).unwrap();
    let stream = b.into_inner().unwrap();
    let mut child = rd
        .command(&["cp", "-", "cc:/"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    rd.run(&["cp", "cc:/hostlink", &h("hostlink")]).ok();
    assert!(host.join("hostlink").is_symlink());
    // And with -L it is followed inside the container (where it names nothing).
    rd.run(&["cp", "-L", "cc:/hostlink", &h("followed")])
        .fails(1, "Could not find the file");

    // A stopped container: its filesystem is mounted for the copy.
    rd.run(&["stop", "-t", "0", "cc"]).ok();
    rd.run(&["cp", "cc:/data/in.txt", &h("after-stop.txt")])
        .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("after-stop.txt")).unwrap(),
        "from host\n"
    );
    rd.run(&["cp", &h("in.txt"), "cc:/stopped.txt"]).ok();
    rd.run(&["start", "cc"]).ok();
    assert_eq!(cat("/stopped.txt"), "from host\n");
}

#[test]
fn rename_and_its_errors() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    rd.run(&["create", "--name", "old", &img, "true"]).ok();
    rd.run(&["create", "--name", "other", &img, "true"]).ok();
    rd.run(&["rename", "old", "new"]).ok();
    rd.run(&["inspect", "old"]).fails(1, "No such");
    let names = rd.run(&["ps", "-a"]).ok().stdout;
    assert!(names.contains("new") && !names.contains(" old"), "{names}");
    rd.run(&["start", "new"]).ok();
    rd.run(&["rename", "new", "other"])
        .fails(1, "The container name \"/other\" is already in use");
    rd.run(&["rename", "new", "bad name"])
        .fails(1, "Invalid container name (bad name)");
    rd.run(&["rename", "missing", "x1"])
        .fails(1, "No such container: missing");
    // The freed name can be used again.
    rd.run(&["create", "--name", "old", &img, "true"]).ok();
}
