//! Pull from the real local registry (Debian's docker-registry), then the image verbs.

mod common;

use common::Rdesk;
use rdesk_testkit::fixtures::{self, Format};
use rdesk_testkit::registry::Registry;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

#[test]
fn pull_lists_inspects_and_shows_history() {
    let reg = Registry::start();
    let img = fixtures::busybox_image();
    reg.push("library/busybox", "latest", &img);
    let rd = Rdesk::new();
    let name = format!("{}/library/busybox", reg.addr());

    let out = rd.run(&["pull", &name]).ok();
    assert!(
        out.stdout
            .starts_with("Using default tag: latest\nlatest: Pulling from library/busybox\n"),
        "{}",
        out.stdout
    );
    let short = &img.layers[0].digest[7..19];
    assert!(
        out.stdout.contains(&format!("{short}: Pull complete")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("Digest: {}", img.manifest_digest)),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("Status: Downloaded newer image for {name}:latest")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with(&format!("{name}:latest\n")),
        "{}",
        out.stdout
    );

    // images: one row with Docker's columns.
    let out = rd.run(&["images"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(
        lines[0].starts_with("REPOSITORY")
            && lines[0].contains("IMAGE ID")
            && lines[0].ends_with("SIZE")
    );
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cols[0], name);
    assert_eq!(cols[1], "latest");
    assert_eq!(cols[2], &img.image_id()[7..19]);
    assert_eq!(
        rd.run(&["images", "-q"]).ok().stdout,
        format!("{}\n", &img.image_id()[7..19])
    );
    let json: serde_json::Value =
        serde_json::from_str(rd.run(&["images", "--format", "json"]).ok().stdout.trim()).unwrap();
    assert_eq!(json["Repository"], name.as_str());
    assert_eq!(json["Tag"], "latest");
    let out = rd
        .run(&[
            "images",
            "--digests",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Digest}}",
        ])
        .ok();
    assert_eq!(
        out.stdout,
        format!("{name}:latest {}\n", img.manifest_digest)
    );

    // inspect: Docker's shape.
    let out = rd.run(&["image", "inspect", &name]).ok();
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let i = &v[0];
    assert_eq!(i["Id"], img.image_id());
    assert_eq!(i["RepoTags"][0], format!("{name}:latest"));
    assert_eq!(
        i["RepoDigests"][0],
        format!("{name}@{}", img.manifest_digest)
    );
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["Architecture"], fixtures::host_architecture());
    assert_eq!(i["RootFS"]["Type"], "layers");
    assert_eq!(i["RootFS"]["Layers"], serde_json::json!(img.diff_ids()));
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(i["GraphDriver"]["Name"], "overlay2");
    assert!(
        i["Size"].as_i64().unwrap() > 500_000,
        "busybox is big: {}",
        i["Size"]
    );
    let out = rd
        .run(&[
            "inspect",
            "--format",
            "{{.Id}} {{json .Config.Cmd}}",
            &img.image_id()[7..19],
        ])
        .ok();
    assert_eq!(out.stdout, format!("{} [\"sh\"]\n", img.image_id()));

    // history: newest first, the top row carries the ID.
    let out = rd.run(&["history", &name]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    );
    let history = img.config_json()["history"].as_array().unwrap().len();
    assert_eq!(lines.len(), 1 + history);
    assert!(lines[1].starts_with(&img.image_id()[7..19]));

    // Pulling again downloads nothing.
    let out = rd.run(&["pull", &format!("{name}:latest")]).ok();
    assert!(
        out.stdout.contains(&format!("{short}: Already exists")),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Status: Image is up to date for"),
        "{}",
        out.stdout
    );
    assert!(rd.ingest_entries().is_empty());

    // -q prints only the reference.
    assert_eq!(
        rd.run(&["pull", "-q", &name]).ok().stdout,
        format!("{name}:latest\n")
    );
}

/// The multi-layer image, mounted the way the containers issue will mount it (overlayfs over
/// the layers' diff dirs), shows the final filesystem the layers describe.
#[test]
fn multilayer_layers_stack_as_overlay_lowerdirs() {
    let reg = Registry::start();
    let img = fixtures::multilayer_image();
    reg.push("app/multi", "v1", &img);
    let rd = Rdesk::new();
    rd.run(&["pull", "-q", &format!("{}/app/multi:v1", reg.addr())])
        .ok();

    let chains = img.chain_ids();
    // Whiteouts are stored in overlay form.
    let wh = std::fs::symlink_metadata(rd.diff_dir(&chains[2]).join("data/b.txt")).unwrap();
    assert!(
        wh.file_type().is_char_device() && wh.rdev() == 0,
        "b.txt whiteout is a 0:0 char device"
    );

    let merged = tempfile::tempdir().unwrap();
    let lower: Vec<String> = chains
        .iter()
        .rev()
        .map(|c| rd.diff_dir(c).display().to_string())
        .collect();
    let status = std::process::Command::new("mount")
        .args([
            "-t",
            "overlay",
            "overlay",
            "-o",
            &format!("lowerdir={}", lower.join(":")),
        ])
        .arg(merged.path())
        .status()
        .unwrap();
    assert!(status.success(), "overlay mount");
    let m = merged.path();
    let check = || -> Result<(), String> {
        let read = |p: &str| std::fs::read_to_string(m.join(p)).map_err(|e| format!("{p}: {e}"));
        if m.join("data/b.txt").exists() {
            return Err("data/b.txt should be whited out".into());
        }
        let mut opaque: Vec<String> = std::fs::read_dir(m.join("opaque"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into())
            .collect();
        opaque.sort();
        if opaque != ["new.txt"] {
            return Err(format!("opaque/ should hold only new.txt, has {opaque:?}"));
        }
        if read("data/a.txt")? != read("data/hard")? {
            return Err("hard link content differs".into());
        }
        if std::fs::read_link(m.join("data/abs")).map_err(|e| e.to_string())?
            != std::path::Path::new("/etc/motd")
        {
            return Err("absolute symlink target changed".into());
        }
        if read("data/rel")? != read("data/a.txt")? {
            return Err("relative symlink broken".into());
        }
        if !m.join("etc/zstd-layer").exists() || !m.join("bin/busybox").exists() {
            return Err("zstd layer or base layer missing".into());
        }
        Ok(())
    };
    let result = check();
    let _ = std::process::Command::new("umount").arg(m).status();
    result.unwrap();
}

#[test]
fn platform_is_picked_from_an_index() {
    let reg = Registry::start();
    let index = fixtures::multiplatform_image(Format::Oci);
    reg.push_index("multi/arch", "latest", &index);
    let rd = Rdesk::new();
    // This store also takes the durable path: one syncfs per layer.
    rd.set_config("[store]\nsync_layers = true\n");
    let name = format!("{}/multi/arch", reg.addr());
    rd.run(&["pull", "-q", &name]).ok();
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["image", "inspect", &name]).ok().stdout).unwrap();
    assert_eq!(v[0]["Architecture"], fixtures::host_architecture());
    assert_eq!(v[0]["Id"], index.host().unwrap().image_id());
    // The repo digest is the index's, as Docker's.
    assert_eq!(v[0]["RepoDigests"][0], format!("{name}@{}", index.digest));

    let rd2 = Rdesk::new();
    rd2.run(&["pull", "-q", "--platform", "linux/s390x", &name])
        .fails(1, "no matching manifest for linux/s390x");
    assert_eq!(rd2.image_count(), 0);
}

#[test]
fn tag_rmi_and_prune_free_what_nothing_uses() {
    let reg = Registry::start();
    reg.push("library/busybox", "latest", &fixtures::busybox_image());
    reg.push("app/multi", "v1", &fixtures::multilayer_image());
    let rd = Rdesk::new();
    let bb = format!("{}/library/busybox", reg.addr());
    let multi = format!("{}/app/multi:v1", reg.addr());
    rd.run(&["pull", "-q", &bb]).ok();
    rd.run(&["pull", "-q", &multi]).ok();
    assert_eq!(rd.layer_dirs().len(), 4, "the busybox layer is shared");

    rd.run(&["tag", &bb, "mine:1"]).ok();
    let out = rd
        .run(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .ok();
    assert!(out.stdout.contains("mine:1\n"), "{}", out.stdout);
    // By tag with another tag left: only untags.
    assert_eq!(rd.run(&["rmi", "mine:1"]).ok().stdout, "Untagged: mine:1\n");
    rd.run(&["tag", &bb, "mine:1"]).ok();
    // By ID while two repositories name it: refused without -f.
    let id = fixtures::busybox_image().image_id()[7..19].to_string();
    rd.run(&["rmi", &id]).fails(1, "must be forced");
    rd.run(&["rmi", "nosuch:tag"])
        .fails(1, "No such image: nosuch:tag");

    // Removing multi frees its 3 own layers, not the shared base.
    let out = rd.run(&["rmi", &multi]).ok();
    assert!(
        out.stdout.starts_with(&format!("Untagged: {multi}\n")),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("Deleted: ").count(),
        4,
        "image + 3 layers: {}",
        out.stdout
    );
    assert_eq!(rd.layer_dirs().len(), 1);

    // A tag moved away leaves a dangling image, which prune removes.
    rd.run(&["rmi", "mine:1"]).ok();
    rd.run(&["pull", "-q", &multi]).ok();
    rd.run(&["tag", &multi, &format!("{bb}:latest")]).ok();
    let out = rd.run(&["images", "--filter", "dangling=true", "-q"]).ok();
    assert_eq!(out.stdout.trim(), id);
    let out = rd.run(&["image", "prune", "-f"]).ok();
    assert!(
        out.stdout.contains(&format!(
            "deleted: {}",
            fixtures::busybox_image().image_id()
        )),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Total reclaimed space:"));
    assert_eq!(rd.image_count(), 1);
    let out = rd.run(&["image", "prune", "-a", "-f"]).ok();
    assert!(out.stdout.contains("untagged:"), "{}", out.stdout);
    assert_eq!(rd.image_count(), 0);
    assert!(rd.layer_dirs().is_empty());
    assert_eq!(
        std::fs::read_dir(rd.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        0,
        "no blob left"
    );
}

#[test]
fn save_load_roundtrip_and_import() {
    let reg = Registry::start();
    let img = fixtures::multilayer_image();
    reg.push("app/multi", "v1", &img);
    let rd = Rdesk::new();
    let name = format!("{}/app/multi:v1", reg.addr());
    rd.run(&["pull", "-q", &name]).ok();
    let tar = rd.dir.path().join("multi.tar");
    rd.run(&["save", "-o", tar.to_str().unwrap(), &name]).ok();
    rd.run(&["rmi", &name]).ok();
    assert!(rd.layer_dirs().is_empty());
    let out = rd.run(&["load", "-i", tar.to_str().unwrap()]).ok();
    assert_eq!(out.stdout, format!("Loaded image: {name}\n"));
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["image", "inspect", &name]).ok().stdout).unwrap();
    assert_eq!(v[0]["Id"], img.image_id(), "same image ID after save/load");

    // The same tar is an OCI layout too: without manifest.json it loads through index.json.
    let rd2 = Rdesk::new();
    let oci = rd.dir.path().join("oci.tar");
    {
        let mut a = tar::Archive::new(std::fs::File::open(&tar).unwrap());
        let mut b = tar::Builder::new(std::fs::File::create(&oci).unwrap());
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let path = e.path().unwrap().into_owned();
            if path.to_str() == Some("manifest.json") {
                continue;
            }
            let mut h = e.header().clone();
            b.append_data(&mut h, &path, &mut e).unwrap();
        }
        b.finish().unwrap();
    }
    rd2.run(&["load", "-i", oci.to_str().unwrap()]).ok();
    let v: serde_json::Value =
        serde_json::from_str(&rd2.run(&["image", "inspect", &name]).ok().stdout).unwrap();
    assert_eq!(v[0]["Id"], img.image_id());

    // import: a rootfs tarball becomes a one-layer image.
    let rootfs = rd.dir.path().join("rootfs.tar");
    {
        let mut b = tar::Builder::new(std::fs::File::create(&rootfs).unwrap());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, "hello.txt", &b"hi\n"[..]).unwrap();
        b.finish().unwrap();
    }
    let out = rd
        .run(&[
            "import",
            "-c",
            "CMD [\"cat\", \"/hello.txt\"]",
            "-m",
            "from a test",
            rootfs.to_str().unwrap(),
            "imported:v1",
        ])
        .ok();
    assert!(out.stdout.starts_with("sha256:"), "{}", out.stdout);
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["image", "inspect", "imported:v1"]).ok().stdout).unwrap();
    assert_eq!(
        v[0]["Config"]["Cmd"],
        serde_json::json!(["cat", "/hello.txt"])
    );
    assert_eq!(v[0]["Comment"], "from a test");
    let out = rd.run(&["history", "imported:v1"]).ok();
    assert!(out.stdout.contains("from a test"), "{}", out.stdout);
    rd.run(&[
        "import",
        rd.dir.path().join("missing.tar").to_str().unwrap(),
    ])
    .fails(1, "no such file");
    rd.run(&["load", "-i", rootfs.to_str().unwrap()])
        .fails(1, "neither a docker-archive");
}
