//! Volumes and mounts through the real binary: named volumes, binds, tmpfs, populate from
//! the image, anonymous volumes, prune, Docker's errors, and the symlink-exchange race.
//! Needs root (namespaces, overlayfs, mounts).

mod common;

use common::{with_busybox, Cleanup, Rdesk};
use std::path::{Path, PathBuf};

/// Unmounts whatever is still mounted under the test store (a local-driver volume left
/// mounted by a failed assertion), so the temp dir can go and no mount is left behind.
struct MountGuard(PathBuf);
impl Drop for MountGuard {
    fn drop(&mut self) {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let root = self.0.display().to_string();
        let mut points: Vec<String> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
            .filter(|p| p.starts_with(&root))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
        }
    }
}

fn mounts_under(p: &Path) -> Vec<String> {
    let root = p.display().to_string();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&root))
        .collect()
}

fn volume_names(rd: &Rdesk) -> Vec<String> {
    let mut v: Vec<String> = rd
        .run(&["volume", "ls", "-q"])
        .ok()
        .stdout
        .lines()
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn todo_flow_named_volume_outlives_its_containers() {
    let (_reg, rd, image) = with_busybox();
    let _c = Cleanup(&rd);
    let _m = MountGuard(rd.root());
    assert_eq!(
        rd.run(&["volume", "create", "--label", "app=todo", "todo-db"])
            .ok()
            .stdout,
        "todo-db\n"
    );
    // Write from one container, remove it, read from a new one.
    rd.run(&[
        "run",
        "--name",
        "writer",
        "-v",
        "todo-db:/etc/todos",
        &image,
        "sh",
        "-c",
        "echo 'buy milk' > /etc/todos/list.txt",
    ])
    .ok();
    rd.run(&["rm", "writer"]).ok();
    let out = rd
        .run(&[
            "run",
            "--rm",
            "-v",
            "todo-db:/data",
            &image,
            "cat",
            "/data/list.txt",
        ])
        .ok();
    assert_eq!(out.stdout, "buy milk\n");

    // Docker's inspect JSON.
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["volume", "inspect", "todo-db"]).ok().stdout).unwrap();
    let v = &v[0];
    assert_eq!(v["Name"], "todo-db");
    assert_eq!(v["Driver"], "local");
    assert_eq!(v["Scope"], "local");
    assert_eq!(v["Labels"]["app"], "todo");
    let mountpoint = v["Mountpoint"].as_str().unwrap();
    assert_eq!(
        mountpoint,
        rd.root()
            .join("volumes/todo-db/_data")
            .display()
            .to_string()
    );
    assert!(v["CreatedAt"].as_str().unwrap().ends_with('Z'));
    // `inspect` without a type finds volumes too (after containers, images, networks).
    let generic = rd
        .run(&["inspect", "-f", "{{.Mountpoint}}", "todo-db"])
        .ok();
    assert_eq!(generic.stdout.trim(), mountpoint);
    rd.run(&["inspect", "--type", "container", "todo-db"])
        .fails(1, "No such container: todo-db");
    assert_eq!(
        std::fs::read_to_string(Path::new(mountpoint).join("list.txt")).unwrap(),
        "buy milk\n"
    );
    // The store's volume dir is not world-writable.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(rd.root().join("volumes"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o002, 0);

    // ls: table, -q, filters, json.
    let ls = rd.run(&["volume", "ls"]).ok().stdout;
    assert!(ls.starts_with("DRIVER    VOLUME NAME\n"), "{ls}");
    assert!(ls.contains("local     todo-db\n"), "{ls}");
    rd.run(&["volume", "create", "other"]).ok();
    assert_eq!(
        rd.run(&["volume", "ls", "-q", "--filter", "label=app=todo"])
            .ok()
            .stdout,
        "todo-db\n"
    );
    assert_eq!(
        rd.run(&["volume", "ls", "-q", "-f", "name=oth"])
            .ok()
            .stdout,
        "other\n"
    );
    assert_eq!(
        rd.run(&["volume", "ls", "-q", "-f", "dangling=true"])
            .ok()
            .stdout,
        "other\ntodo-db\n"
    );
    let json = rd.run(&["volume", "ls", "--format", "json"]).ok().stdout;
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["Name"], "other");
    assert_eq!(first["Driver"], "local");
    assert_eq!(
        rd.run(&[
            "volume",
            "inspect",
            "-f",
            "{{.Name}} {{.Driver}}",
            "todo-db"
        ])
        .ok()
        .stdout,
        "todo-db local\n"
    );
    rd.run(&["volume", "inspect", "nope"])
        .fails(1, "get nope: no such volume");
    rd.run(&["volume", "create", "bad/name"]).fails(
        1,
        "\"bad/name\" includes invalid characters for a local volume name",
    );
}

#[test]
fn cp_reaches_volumes_and_binds_of_a_running_container() {
    let (_reg, rd, img) = with_busybox();
    let _c = Cleanup(&rd);
    let host = rd.dir.path().join("bindsrc");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("from-host.txt"), "bound\n").unwrap();
    let bind = format!("{}:/src", host.display());
    rd.run(&[
        "run",
        "-d",
        "--name",
        "cv",
        "-v",
        "cpvol:/data",
        "-v",
        &bind,
        &img,
        "sleep",
        "1000",
    ])
    .ok();
    let file = rd.dir.path().join("in.txt");
    std::fs::write(&file, "into the volume\n").unwrap();
    rd.run(&["cp", file.to_str().unwrap(), "cv:/data/"]).ok();
    // In the volume itself, so the container and a later one see it.
    let seen = rd.run(&["exec", "cv", "cat", "/data/in.txt"]).ok().stdout;
    assert_eq!(seen, "into the volume\n");
    rd.run(&["rm", "-f", "cv"]).ok();
    let later = rd.run(&[
        "run",
        "--rm",
        "-v",
        "cpvol:/data",
        &img,
        "cat",
        "/data/in.txt",
    ]);
    assert_eq!(later.ok().stdout, "into the volume\n");
    // Out of a bind mount of a running container, and `/` without the kernel's files.
    rd.run(&[
        "run", "-d", "--name", "cv2", "-v", &bind, &img, "sleep", "1000",
    ])
    .ok();
    let out = rd.dir.path().join("out.txt");
    rd.run(&["cp", "cv2:/src/from-host.txt", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "bound\n");
    let all = rd.command(&["cp", "cv2:/", "-"]).output().unwrap();
    assert!(all.status.success());
    let names: Vec<String> = tar::Archive::new(&all.stdout[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "src/from-host.txt"), "{names:?}");
    assert!(names.iter().any(|n| n == "proc/"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.starts_with("proc/1/")),
        "no /proc content"
    );
}

#[test]
fn volume_in_use_is_not_removed_and_prune_takes_only_unused_ones() {
    let (_reg, rd, image) = with_busybox();
    let _c = Cleanup(&rd);
    let _m = MountGuard(rd.root());
    rd.run(&["volume", "create", "kept"]).ok();
    rd.run(&["volume", "create", "unused"]).ok();
    // A stopped (never started) container still uses its volumes, as in Docker.
    let id = rd
        .run(&[
            "create",
            "--name",
            "user",
            "-v",
            "kept:/data",
            "-v",
            "/anon",
            &image,
            "true",
        ])
        .ok()
        .stdout
        .trim()
        .to_string();
    rd.run(&["volume", "rm", "kept"])
        .fails(1, &format!("remove kept: volume is in use - [{id}]"));
    // The anonymous volume create made for /anon, and one left dangling by `rm` without -v.
    let anon_of = |rd: &Rdesk, c: &str| -> String {
        let j: serde_json::Value =
            serde_json::from_str(&rd.run(&["inspect", c]).ok().stdout).unwrap();
        let mounts = j[0]["Mounts"].as_array().unwrap().clone();
        mounts.iter().find(|m| m["Destination"] == "/anon").unwrap()["Name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let anon_used = anon_of(&rd, "user");
    rd.run(&["create", "--name", "gone", "-v", "/anon", &image, "true"])
        .ok();
    let anon_dangling = anon_of(&rd, "gone");
    rd.run(&["rm", "gone"]).ok();
    assert!(volume_names(&rd).contains(&anon_dangling));
    std::fs::write(
        rd.root()
            .join("volumes")
            .join(&anon_dangling)
            .join("_data/f"),
        vec![0u8; 2000],
    )
    .unwrap();

    // Without -a: only unused anonymous volumes.
    let out = rd.run(&["volume", "prune", "-f"]).ok().stdout;
    assert_eq!(
        out,
        format!("Deleted Volumes:\n{anon_dangling}\n\nTotal reclaimed space: 2kB\n")
    );
    let mut expect = vec![anon_used.clone(), "kept".to_string(), "unused".to_string()];
    expect.sort();
    assert_eq!(volume_names(&rd), expect);
    // -a: unused named ones too; never a used one.
    let out = rd.run(&["volume", "prune", "-a", "-f"]).ok().stdout;
    assert_eq!(
        out,
        "Deleted Volumes:\nunused\n\nTotal reclaimed space: 0B\n"
    );
    let mut expect = vec![anon_used.clone(), "kept".to_string()];
    expect.sort();
    assert_eq!(volume_names(&rd), expect);

    // rm -v takes the container's anonymous volumes, not named ones.
    rd.run(&["rm", "-v", &id]).ok();
    assert_eq!(volume_names(&rd), ["kept"]);
    rd.run(&["volume", "rm", "kept"]).ok();
    rd.run(&["volume", "rm", "kept"])
        .fails(1, "get kept: no such volume");
    rd.run(&["volume", "rm", "-f", "kept"]).ok();

    // --rm removes the anonymous volumes with the container.
    rd.run(&[
        "run",
        "--rm",
        "-v",
        "/scratch",
        &image,
        "sh",
        "-c",
        "echo x > /scratch/f",
    ])
    .ok();
    assert!(volume_names(&rd).is_empty(), "{:?}", volume_names(&rd));
}

#[test]
fn binds_both_ways_readonly_and_docker_errors() {
    let (_reg, rd, image) = with_busybox();
    let _c = Cleanup(&rd);
    let _m = MountGuard(rd.root());
    let host = rd.dir.path().join("shared");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("from-host"), "hello from the host\n").unwrap();
    let bind = format!("{}:/work", host.display());
    let out = rd
        .run(&[
            "run",
            "--rm",
            "-v",
            &bind,
            &image,
            "sh",
            "-c",
            "cat /work/from-host; echo 'hello from the container' > /work/from-ctr",
        ])
        .ok();
    assert_eq!(out.stdout, "hello from the host\n");
    assert_eq!(
        std::fs::read_to_string(host.join("from-ctr")).unwrap(),
        "hello from the container\n"
    );
    // A running container sees host changes live, and the host sees its writes.
    rd.run(&[
        "run", "-d", "--name", "live", "-v", &bind, &image, "sleep", "60",
    ])
    .ok();
    std::fs::write(host.join("later"), "later\n").unwrap();
    assert_eq!(
        rd.run(&["exec", "live", "cat", "/work/later"]).ok().stdout,
        "later\n"
    );
    rd.run(&["exec", "live", "sh", "-c", "echo back > /work/back"])
        .ok();
    assert_eq!(
        std::fs::read_to_string(host.join("back")).unwrap(),
        "back\n"
    );
    let j: serde_json::Value =
        serde_json::from_str(&rd.run(&["inspect", "live"]).ok().stdout).unwrap();
    assert_eq!(j[0]["HostConfig"]["Binds"][0], bind.as_str());
    let m = &j[0]["Mounts"][0];
    assert_eq!(m["Type"], "bind");
    assert_eq!(m["Source"], host.display().to_string());
    assert_eq!(m["Destination"], "/work");
    assert_eq!(m["RW"], true);
    assert_eq!(m["Propagation"], "rprivate");
    rd.run(&["rm", "-f", "live"]).ok();

    // :ro and --mount readonly refuse writes.
    let ro = format!("{}:/work:ro", host.display());
    let r = rd.run(&[
        "run",
        "--rm",
        "-v",
        &ro,
        &image,
        "sh",
        "-c",
        "echo x > /work/nope",
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("Read-only file system"), "{}", r.stderr);
    let mnt = format!("type=bind,source={},target=/work,readonly", host.display());
    let r = rd.run(&[
        "run",
        "--rm",
        "--mount",
        &mnt,
        &image,
        "touch",
        "/work/nope",
    ]);
    assert_ne!(r.code, 0);
    assert!(!host.join("nope").exists());

    // A single file, onto a path that does not exist in the image yet.
    let file = format!("{}:/etc/app/conf.ini:ro", host.join("from-host").display());
    assert_eq!(
        rd.run(&[
            "run",
            "--rm",
            "-v",
            &file,
            &image,
            "cat",
            "/etc/app/conf.ini"
        ])
        .ok()
        .stdout,
        "hello from the host\n"
    );

    // -v creates a missing host directory; --mount refuses it (Docker's message).
    let missing = rd.dir.path().join("made-by-v");
    rd.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/m", missing.display()),
        &image,
        "true",
    ])
    .ok();
    assert!(missing.is_dir());
    let absent = rd.dir.path().join("absent");
    rd.run(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={},dst=/m", absent.display()),
        &image,
        "true",
    ])
    .fails(
        125,
        &format!(
            "invalid mount config for type \"bind\": bind mount source path does not exist: {}",
            absent.display()
        ),
    );
    assert!(!absent.exists());

    // Docker's errors for bad specs, exit 125, nothing created.
    rd.run(&["run", "--rm", "-v", "a::/b", &image, "true"])
        .fails(125, "invalid spec: a::/b: empty section between colons");
    rd.run(&["run", "--rm", "-v", "myvol:x", &image, "true"]).fails(
        125,
        "invalid mount config for type \"volume\": invalid mount path: 'x' mount path must be absolute",
    );
    rd.run(&[
        "run", "--rm", "-v", "v1:/data", "-v", "v2:/data", &image, "true",
    ])
    .fails(125, "Duplicate mount point: /data");
    rd.run(&["run", "--rm", "-v", "/h:/x:bogus", &image, "true"])
        .fails(125, "invalid mode: bogus");
    rd.run(&[
        "run",
        "--rm",
        "--mount",
        "type=bind,dst=/x,foo=1",
        &image,
        "true",
    ])
    .fails(125, "unexpected key 'foo' in 'foo=1'");
    rd.run(&["run", "--rm", "-v", "bad name:/x", &image, "true"])
        .fails(
            125,
            "\"bad name\" includes invalid characters for a local volume name",
        );
    assert!(volume_names(&rd).is_empty());
    assert_eq!(rd.run(&["ps", "-aq"]).ok().stdout, "");
    // A volume over a file of the image: Docker's refusal, and the anonymous volume goes
    // with --rm.
    rd.run(&["run", "--rm", "-v", "/bin/busybox", &image, "true"])
        .fails(
            125,
            "cannot mount volume over existing file, file exists /bin/busybox",
        );
    assert!(volume_names(&rd).is_empty());
}

#[test]
fn tmpfs_mounts_and_tmpfs_volumes() {
    let (_reg, rd, image) = with_busybox();
    let _c = Cleanup(&rd);
    let _m = MountGuard(rd.root());
    let out = rd
        .run(&[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=1770",
            &image,
            "sh",
            "-c",
            "echo x > /scratch/f && grep ' /scratch ' /proc/mounts && stat -c %a /scratch",
        ])
        .ok()
        .stdout;
    assert!(
        out.starts_with("tmpfs /scratch tmpfs rw,nosuid,nodev,noexec"),
        "{out}"
    );
    assert!(out.contains("size=1024k"), "{out}");
    assert!(out.ends_with("1770\n"), "{out}");
    // Gone with the container: a new one starts with an empty tmpfs.
    assert_eq!(
        rd.run(&[
            "run",
            "--rm",
            "--mount",
            "type=tmpfs,dst=/scratch",
            &image,
            "ls",
            "-A",
            "/scratch"
        ])
        .ok()
        .stdout,
        ""
    );
    // A local-driver tmpfs volume: mounted while a container uses it, unmounted after.
    rd.run(&[
        "volume",
        "create",
        "-o",
        "type=tmpfs",
        "-o",
        "device=tmpfs",
        "-o",
        "o=size=2m",
        "tv",
    ])
    .ok();
    let inspect: serde_json::Value =
        serde_json::from_str(&rd.run(&["volume", "inspect", "tv"]).ok().stdout).unwrap();
    assert_eq!(inspect[0]["Options"]["type"], "tmpfs");
    let out = rd
        .run(&[
            "run",
            "--rm",
            "-v",
            "tv:/t",
            &image,
            "sh",
            "-c",
            "grep ' /t ' /proc/mounts",
        ])
        .ok()
        .stdout;
    assert!(out.starts_with("tmpfs /t tmpfs"), "{out}");
    assert!(out.contains("size=2048k"), "{out}");
    assert!(
        mounts_under(&rd.root().join("volumes")).is_empty(),
        "released after the container: {:?}",
        mounts_under(&rd.root())
    );
    // Its monitor killed: the next look at the container (reconcile) releases the mount.
    let id = rd
        .run(&["run", "-d", "-v", "tv:/t", &image, "sleep", "100"])
        .ok()
        .stdout
        .trim()
        .to_string();
    assert_eq!(mounts_under(&rd.root().join("volumes")).len(), 1);
    let state: serde_json::Value = serde_json::from_slice(
        &std::fs::read(rd.root().join("containers").join(&id).join("state.json")).unwrap(),
    )
    .unwrap();
    let shim = state["shim_pid"].as_i64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shim as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(rd.run(&["ps", "-a"]).ok().stdout.contains("Exited (137)"));
    assert!(mounts_under(&rd.root().join("volumes")).is_empty());
    rd.run(&["rm", &id]).ok();

    // A start that fails after the tmpfs volume was mounted leaves it unmounted again.
    let src = rd.dir.path().join("vanishing");
    std::fs::create_dir(&src).unwrap();
    rd.run(&[
        "create",
        "--name",
        "fails",
        "-v",
        "tv:/t",
        "--mount",
        &format!("type=bind,src={},dst=/b", src.display()),
        &image,
        "true",
    ])
    .ok();
    std::fs::remove_dir(&src).unwrap();
    let r = rd.run(&["start", "fails"]);
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("bind mount source path does not exist"),
        "{}",
        r.stderr
    );
    assert!(mounts_under(&rd.root().join("volumes")).is_empty());
    rd.run(&["rm", "fails"]).ok();
    // A local-driver bind volume (type=none,o=bind,device=DIR) shows the host directory; its
    // removal never deletes what is in that directory.
    let dev = rd.dir.path().join("device-dir");
    std::fs::create_dir(&dev).unwrap();
    std::fs::write(dev.join("precious"), "keep me\n").unwrap();
    rd.run(&[
        "volume",
        "create",
        "-o",
        "type=none",
        "-o",
        "o=bind",
        "-o",
        &format!("device={}", dev.display()),
        "bv",
    ])
    .ok();
    assert_eq!(
        rd.run(&["run", "--rm", "-v", "bv:/b", &image, "cat", "/b/precious"])
            .ok()
            .stdout,
        "keep me\n"
    );
    rd.run(&["volume", "rm", "bv"]).ok();
    assert_eq!(
        std::fs::read_to_string(dev.join("precious")).unwrap(),
        "keep me\n"
    );

    rd.run(&["volume", "create", "-o", "bogus=1", "bad"])
        .fails(1, "invalid option key: \"bogus\"");
    rd.run(&["volume", "rm", "tv"]).ok();
}

/// An image with content at /app (modes, owners, a symlink) and `VOLUME /app`.
fn app_image(rd: &Rdesk, base: &str) -> String {
    rd.run(&["create", "--name", "base", base, "true"]).ok();
    let tar = rd.dir.path().join("base.tar");
    rd.run(&["export", "-o", tar.to_str().unwrap(), "base"])
        .ok();
    rd.run(&["rm", "base"]).ok();
    let dir = rd.dir.path().join("app-rootfs");
    std::fs::create_dir(&dir).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&dir)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::create_dir_all(dir.join("app/conf")).unwrap();
    std::fs::write(dir.join("app/conf/settings"), "answer=42\n").unwrap();
    std::os::unix::fs::symlink("conf/settings", dir.join("app/current")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        dir.join("app/conf/settings"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    std::fs::set_permissions(dir.join("app"), std::fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::chown(dir.join("app/conf/settings"), Some(1000), Some(1000)).unwrap();
    let out = rd.dir.path().join("app.tar");
    let st = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&out)
        .arg("-C")
        .arg(&dir)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    rd.run(&[
        "import",
        "-c",
        "VOLUME /app",
        "-c",
        "CMD [\"sh\"]",
        out.to_str().unwrap(),
        "app:1",
    ])
    .ok();
    "app:1".into()
}

#[test]
fn empty_volumes_are_populated_from_the_image() {
    let (_reg, rd, base) = with_busybox();
    let _c = Cleanup(&rd);
    let _m = MountGuard(rd.root());
    let image = app_image(&rd, &base);
    let show =
        "cat /app/current; stat -c '%a %u:%g' /app /app/conf/settings; readlink /app/current";
    // A named volume over /app gets the image's content, modes, owners and symlinks.
    let out = rd
        .run(&[
            "run",
            "--rm",
            "-v",
            "appdata:/app",
            &image,
            "sh",
            "-c",
            show,
        ])
        .ok()
        .stdout;
    assert_eq!(out, "answer=42\n750 0:0\n640 1000:1000\nconf/settings\n");
    let data = rd.root().join("volumes/appdata/_data");
    assert_eq!(
        std::fs::read_to_string(data.join("conf/settings")).unwrap(),
        "answer=42\n"
    );
    // Not empty any more: not populated again (the volume's own content wins).
    std::fs::write(data.join("conf/settings"), "answer=43\n").unwrap();
    assert_eq!(
        rd.run(&[
            "run",
            "--rm",
            "-v",
            "appdata:/app",
            &image,
            "cat",
            "/app/conf/settings"
        ])
        .ok()
        .stdout,
        "answer=43\n"
    );
    // volume-nocopy / :nocopy: left empty.
    assert_eq!(
        rd.run(&[
            "run",
            "--rm",
            "--mount",
            "src=bare,dst=/app,volume-nocopy",
            &image,
            "ls",
            "-A",
            "/app"
        ])
        .ok()
        .stdout,
        ""
    );
    assert_eq!(
        rd.run(&[
            "run",
            "--rm",
            "-v",
            "bare2:/app:nocopy",
            &image,
            "ls",
            "-A",
            "/app"
        ])
        .ok()
        .stdout,
        ""
    );
    // The image's VOLUME: an anonymous volume, populated, removed with --rm.
    let before = volume_names(&rd);
    rd.run(&["run", "--name", "appv", &image, "cat", "/app/conf/settings"])
        .ok();
    let j: serde_json::Value =
        serde_json::from_str(&rd.run(&["inspect", "appv"]).ok().stdout).unwrap();
    assert!(j[0]["Config"]["Volumes"].get("/app").is_some());
    let m = &j[0]["Mounts"][0];
    assert_eq!(m["Type"], "volume");
    assert_eq!(m["Destination"], "/app");
    assert_eq!(m["Driver"], "local");
    let anon = m["Name"].as_str().unwrap().to_string();
    assert_eq!(anon.len(), 64);
    assert_eq!(rd.run(&["logs", "appv"]).ok().stdout, "answer=42\n");
    assert!(volume_names(&rd).contains(&anon));
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["volume", "inspect", &anon]).ok().stdout).unwrap();
    assert!(v[0]["Labels"].get("com.docker.volume.anonymous").is_some());
    rd.run(&["rm", "-v", "appv"]).ok();
    assert_eq!(volume_names(&rd), before);
    rd.run(&["run", "--rm", &image, "true"]).ok();
    assert_eq!(volume_names(&rd), before);
}

#[test]
fn a_symlink_swapped_on_a_mount_target_never_lands_outside_the_rootfs() {
    // CVE-2021-30465's shape: a container that shares a volume swaps a path of it between a
    // directory and a symlink to "/" while other containers start with a mount under it.
    let (_reg, rd, image) = with_busybox();
    let _c = Cleanup(&rd);
    let _m = MountGuard(rd.root());
    rd.run(&["volume", "create", "shared"]).ok();
    let marker = rd.dir.path().join("host-marker");
    std::fs::create_dir(&marker).unwrap();
    std::fs::write(marker.join("keep"), "host file\n").unwrap();
    // busybox has no renameat2(RENAME_EXCHANGE): remove and recreate, as fast as it goes,
    // so the target is now a directory, now a symlink to "/", now one to a host directory.
    let swap = format!(
        "cd /shared; while true; do mkdir t; usleep 3000; rm -rf t; ln -s / t; usleep 1000; \
         rm -f t; ln -s ../../../../../../../../..{} t; usleep 1000; rm -f t; done",
        marker.display()
    );
    rd.run(&[
        "run",
        "-d",
        "--name",
        "swapper",
        "-v",
        "shared:/shared",
        &image,
        "sh",
        "-c",
        &swap,
    ])
    .ok();
    let (mut ran, mut refused) = (0, 0);
    // Where each container's tmpfs landed (as the container sees its mounts).
    let mut landed: std::collections::BTreeMap<String, usize> = Default::default();
    for i in 0..20 {
        let r = rd.run(&[
            "run", "--rm", "-v", "shared:/shared", "--mount", "type=tmpfs,dst=/shared/t",
            &image, "sh", "-c",
            "test -x /bin/busybox && echo root-intact && awk '$3 == \"tmpfs\" && $2 !~ /^\\/(proc|sys|dev)/ { print $2 }' /proc/mounts",
        ]);
        if r.code == 0 {
            // It ran: its own root is intact, and the tmpfs is somewhere inside it.
            let mut lines = r.stdout.lines();
            assert_eq!(lines.next(), Some("root-intact"), "run {i}: {}", r.stdout);
            for l in lines {
                *landed.entry(l.to_string()).or_default() += 1;
            }
            ran += 1;
        } else {
            // Refused by the runtime (the target changed under it), or the tmpfs hid the
            // container's own root: either way nothing left the rootfs.
            assert!(
                matches!(r.code, 1 | 125 | 126 | 127),
                "run {i}: {} {}",
                r.stdout,
                r.stderr
            );
            refused += 1;
        }
    }
    eprintln!("tmpfs landed at (inside the containers): {landed:?}");
    rd.run(&["rm", "-f", "swapper"]).ok();
    // Nothing mounted on the host (the marker dir untouched, no extra mounts).
    assert_eq!(
        std::fs::read_to_string(marker.join("keep")).unwrap(),
        "host file\n"
    );
    assert!(mounts_under(&marker).is_empty());
    assert!(
        mounts_under(rd.dir.path()).is_empty(),
        "{:?}",
        mounts_under(rd.dir.path())
    );
    eprintln!(
        "with the swap loop running: {ran} containers ran, {refused} refused or failed inside"
    );
}

#[test]
fn concurrent_creates_and_prunes_never_lose_a_volume_in_use() {
    let (_reg, rd, image) = with_busybox();
    let _c = Cleanup(&rd);
    let _m = MountGuard(rd.root());
    // Many processes create the same volume at once: one volume, each prints its name.
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..12)
            .map(|_| s.spawn(|| rd.run(&["volume", "create", "same"])))
            .collect();
        for r in runs {
            assert_eq!(r.join().unwrap().ok().stdout, "same\n");
        }
    });
    assert_eq!(volume_names(&rd), ["same"]);
    // `volume prune -a` in a loop while containers are created with new named and anonymous
    // volumes: a container's volumes are never pruned between their creation and its record.
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                rd.run(&["volume", "prune", "-a", "-f"]).ok();
            }
        });
        for i in 0..10 {
            rd.run(&[
                "create",
                "--name",
                &format!("c{i}"),
                "-v",
                &format!("vol{i}:/d"),
                "-v",
                "/anon",
                &image,
                "true",
            ])
            .ok();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    for i in 0..10 {
        let j: serde_json::Value =
            serde_json::from_str(&rd.run(&["inspect", &format!("c{i}")]).ok().stdout).unwrap();
        for m in j[0]["Mounts"].as_array().unwrap() {
            let name = m["Name"].as_str().unwrap();
            rd.run(&["volume", "inspect", name]).ok();
        }
    }
    // One more start of each works (its volumes are all there) and nothing half-made is left.
    rd.run(&["start", "-a", "c3"]).ok();
    let leftovers: Vec<String> = std::fs::read_dir(rd.root().join("volumes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
