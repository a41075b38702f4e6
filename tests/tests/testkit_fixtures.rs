//! Tests of the image fixtures themselves: determinism, layer contents, config and manifest
//! shapes, the index.

use rdesk_testkit::fixtures::{
    self, media_types, Compression, EntryKind, Format, ImageFixture, ImageOptions, Meta, Platform,
    TarBuilder, TarEntry,
};
use rdesk_testkit::sha256_digest;
use std::collections::BTreeMap;
use std::io::Read;

/// One parsed tar entry: (kind byte, path, link name, mode, uid, gid, content).
#[derive(Debug, Clone, PartialEq)]
struct Parsed {
    kind: u8,
    path: Vec<u8>,
    link: Option<Vec<u8>>,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    data: Vec<u8>,
    dev: Option<(u32, u32)>,
}

/// Reads a tar with the `tar` crate (an independent parser that checks header checksums).
fn parse_tar(tar: &[u8]) -> Vec<Parsed> {
    let mut archive = tar::Archive::new(tar);
    archive
        .entries()
        .expect("tar entries")
        .map(|e| {
            let mut e = e.expect("tar entry");
            let h = e.header().clone();
            let path = e.path_bytes().into_owned();
            let link = e.link_name_bytes().map(|l| l.into_owned());
            let mut data = Vec::new();
            e.read_to_end(&mut data).expect("tar entry data");
            Parsed {
                kind: h.entry_type().as_byte(),
                path,
                link,
                mode: h.mode().expect("mode"),
                uid: h.uid().expect("uid"),
                gid: h.gid().expect("gid"),
                mtime: h.mtime().expect("mtime"),
                data,
                dev: h
                    .device_major()
                    .ok()
                    .flatten()
                    .zip(h.device_minor().ok().flatten()),
            }
        })
        .collect()
}

fn find<'a>(entries: &'a [Parsed], path: &str) -> &'a Parsed {
    entries
        .iter()
        .find(|e| e.path == path.as_bytes())
        .unwrap_or_else(|| panic!("no entry {path}"))
}

#[test]
fn busybox_image_is_deterministic() {
    let a = fixtures::busybox_image();
    let b = fixtures::busybox_image();
    // (assert! rather than assert_eq!: a failure would print megabytes of layer bytes.)
    assert!(a == b, "two busybox_image() calls differ");
    assert_eq!(a.manifest_digest, sha256_digest(&a.manifest));
    assert_eq!(a.config_digest, sha256_digest(&a.config));
    let m1 = fixtures::multilayer_image();
    let m2 = fixtures::multilayer_image();
    assert_eq!(m1.manifest_digest, m2.manifest_digest);
    assert!(m1 == m2, "two multilayer_image() calls differ");
    // The multilayer base is the very same blob as busybox's layer.
    assert_eq!(m1.layers[0].digest, a.layers[0].digest);
    assert_eq!(m1.layers[0].diff_id, a.layers[0].diff_id);
}

#[test]
fn busybox_layer_contents() {
    let img = fixtures::busybox_image();
    assert_eq!(img.layers.len(), 1);
    let layer = &img.layers[0];
    assert_eq!(layer.media_type, media_types::DOCKER_LAYER_GZIP);
    assert_eq!(layer.digest, sha256_digest(&layer.data));
    assert_eq!(layer.size, layer.data.len() as u64);
    // gzip header: magic, deflate, no flags, mtime 0.
    assert_eq!(&layer.data[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0]);
    let tar = layer.decompress();
    assert_eq!(layer.diff_id, sha256_digest(&tar));
    let entries = parse_tar(&tar);

    let bb = find(&entries, "bin/busybox");
    assert_eq!(bb.kind, b'0');
    assert_eq!(bb.mode, 0o755);
    assert_eq!(bb.data, std::fs::read("/bin/busybox").unwrap());
    assert_eq!(bb.mtime, fixtures::FIXED_MTIME);
    for applet in fixtures::REQUIRED_APPLETS {
        let e = find(&entries, &format!("bin/{applet}"));
        assert_eq!(e.kind, b'2', "{applet} is a symlink");
        assert_eq!(e.link.as_deref(), Some(&b"busybox"[..]));
    }
    assert_eq!(find(&entries, "tmp/").mode, 0o1777);
    assert_eq!(find(&entries, "tmp/").kind, b'5');
    assert_eq!(find(&entries, "root/").mode, 0o700);
    for d in ["proc/", "sys/", "dev/", "etc/"] {
        assert_eq!(find(&entries, d).kind, b'5');
    }
    let passwd = String::from_utf8(find(&entries, "etc/passwd").data.clone()).unwrap();
    assert!(passwd.starts_with("root:x:0:0:"));
    assert!(passwd.contains("\nnobody:x:65534:65534:"));
    let group = String::from_utf8(find(&entries, "etc/group").data.clone()).unwrap();
    assert!(group.contains("root:x:0:") && group.contains("nobody:x:65534:"));
    assert!(!entries.iter().any(|e| e.path == b"etc/hosts"));
    assert!(entries.iter().all(|e| e.uid == 0 && e.gid == 0));
}

#[test]
fn busybox_config_and_manifest_shapes() {
    let img = fixtures::busybox_image();
    assert_eq!(img.manifest_media_type, media_types::DOCKER_MANIFEST);
    let m = img.manifest_json();
    assert_eq!(m["schemaVersion"], 2);
    assert_eq!(m["mediaType"], media_types::DOCKER_MANIFEST);
    assert_eq!(m["config"]["mediaType"], media_types::DOCKER_CONFIG);
    assert_eq!(m["config"]["digest"], img.config_digest.as_str());
    assert_eq!(m["config"]["size"], img.config.len());
    assert_eq!(m["layers"][0]["digest"], img.layers[0].digest.as_str());
    assert_eq!(m["layers"][0]["size"], img.layers[0].size);

    let c = img.config_json();
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    assert_eq!(c["architecture"], arch);
    assert_eq!(c["os"], "linux");
    assert_eq!(c["config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(c["config"]["Env"][0], fixtures::DEFAULT_PATH);
    assert_eq!(c["rootfs"]["type"], "layers");
    assert_eq!(
        c["rootfs"]["diff_ids"],
        serde_json::json!([img.layers[0].diff_id])
    );
    let history = c["history"].as_array().unwrap();
    assert_eq!(
        history
            .iter()
            .filter(|h| h["empty_layer"] != serde_json::json!(true))
            .count(),
        1
    );

    let oci = fixtures::busybox_image_format(Format::Oci);
    let m = oci.manifest_json();
    assert_eq!(m["mediaType"], media_types::OCI_MANIFEST);
    assert_eq!(m["config"]["mediaType"], media_types::OCI_CONFIG);
    assert_eq!(m["layers"][0]["mediaType"], media_types::OCI_LAYER_GZIP);
    // Same layer bytes, same config: only the manifest differs.
    assert_eq!(oci.layers[0].digest, img.layers[0].digest);
    assert_eq!(oci.config_digest, img.config_digest);
    assert_ne!(oci.manifest_digest, img.manifest_digest);
}

#[test]
fn multilayer_layers_and_history() {
    let img = fixtures::multilayer_image();
    assert_eq!(img.manifest_media_type, media_types::OCI_MANIFEST);
    let types: Vec<&str> = img.layers.iter().map(|l| l.media_type.as_str()).collect();
    assert_eq!(
        types,
        [
            media_types::OCI_LAYER_GZIP,
            media_types::OCI_LAYER_GZIP,
            media_types::OCI_LAYER_GZIP,
            media_types::OCI_LAYER_ZSTD
        ]
    );
    assert_eq!(&img.layers[3].data[..4], &[0x28, 0xb5, 0x2f, 0xfd]); // zstd magic
    for l in &img.layers {
        assert_eq!(l.diff_id, sha256_digest(&l.decompress()));
    }

    let l2 = parse_tar(&img.layers[1].decompress());
    assert_eq!(find(&l2, "data/a.txt").data, fixtures::ML_A_TXT.as_bytes());
    assert_eq!(find(&l2, "data/rel").link.as_deref(), Some(&b"a.txt"[..]));
    assert_eq!(
        find(&l2, "data/abs").link.as_deref(),
        Some(&b"/etc/motd"[..])
    );
    assert_eq!(find(&l2, "opaque/old.txt").data, b"old\n");

    let l3 = parse_tar(&img.layers[2].decompress());
    assert_eq!(find(&l3, "data/.wh.b.txt").kind, b'0');
    let hard = find(&l3, "data/hard");
    assert_eq!(hard.kind, b'1');
    assert_eq!(hard.link.as_deref(), Some(&b"data/a.txt"[..]));
    let paths: Vec<&[u8]> = l3.iter().map(|e| e.path.as_slice()).collect();
    let new_pos = paths.iter().position(|p| *p == b"opaque/new.txt").unwrap();
    let opq_pos = paths
        .iter()
        .position(|p| *p == b"opaque/.wh..wh..opq")
        .unwrap();
    assert!(new_pos < opq_pos, "the opaque marker comes after new.txt");

    let l4 = parse_tar(&img.layers[3].decompress());
    assert_eq!(
        find(&l4, "etc/zstd-layer").data,
        fixtures::ML_ZSTD_CONTENT.as_bytes()
    );

    let c = img.config_json();
    let history = c["history"].as_array().unwrap();
    let empty = history
        .iter()
        .filter(|h| h["empty_layer"] == serde_json::json!(true))
        .count();
    assert!(empty >= 1);
    assert_eq!(history.len() - empty, 4);
    assert!(history.iter().all(|h| h["created_by"].is_string()));
    assert_eq!(c["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);
    assert!(c["config"]["Env"]
        .as_array()
        .unwrap()
        .contains(&serde_json::json!(fixtures::ML_ENV)));

    let chain = img.chain_ids();
    assert_eq!(chain[0], img.layers[0].diff_id);
    assert_eq!(
        chain[1],
        sha256_digest(format!("{} {}", chain[0], img.layers[1].diff_id).as_bytes())
    );
}

#[test]
fn index_has_three_platforms_and_the_host() {
    for format in [Format::Oci, Format::DockerV2] {
        let idx = fixtures::multiplatform_image(format);
        assert_eq!(idx.media_type, format.index_media_type());
        assert_eq!(idx.digest, sha256_digest(&idx.index));
        let platforms: Vec<String> = idx.platforms().iter().map(|p| p.to_string()).collect();
        for p in ["linux/amd64", "linux/arm64/v8", "linux/arm/v7"] {
            assert!(platforms.contains(&p.to_string()), "{p} in {platforms:?}");
        }
        let host = idx.host().expect("the host platform is listed");
        assert_eq!(
            host.config_json()["architecture"],
            Platform::host().architecture
        );

        let v = idx.index_json();
        assert_eq!(v["schemaVersion"], 2);
        assert_eq!(v["mediaType"], format.index_media_type());
        let manifests = v["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), idx.manifests.len());
        for (desc, (platform, img)) in manifests.iter().zip(&idx.manifests) {
            assert_eq!(desc["digest"], img.manifest_digest.as_str());
            assert_eq!(desc["size"], img.manifest.len());
            assert_eq!(desc["mediaType"], format.manifest_media_type());
            assert_eq!(desc["platform"]["architecture"], platform.architecture);
            let cfg = img.config_json();
            assert_eq!(cfg["architecture"], platform.architecture);
            assert_eq!(
                cfg["config"]["Labels"][fixtures::PLATFORM_LABEL],
                platform.to_string()
            );
        }
        let arm = idx.get(&Platform::parse("linux/arm/v7")).unwrap();
        assert_eq!(arm.config_json()["variant"], "v7");
        let marker = parse_tar(&arm.layers[1].decompress());
        assert_eq!(
            find(&marker, "etc/rdesk-platform").data,
            b"linux/arm/v7\n".to_vec()
        );
    }
}

#[test]
fn tar_builder_writes_every_kind() {
    let mut t = TarBuilder::new();
    t.dir_with("/srv", Meta::mode(0o750).owner(1000, 1001).mtime(42))
        .file_with(
            "/srv/x",
            "x",
            Meta::mode(0o4755).owner(1000, 1001).mtime(43),
        )
        .symlink("/srv/l", "../etc/passwd")
        .hardlink("/srv/h", "/srv/x")
        .whiteout("/srv/gone")
        .whiteout("top")
        .opaque("/srv")
        .char_device("/dev/null", 1, 3, 0o666)
        .block_device("/dev/loop9", 7, 9, 0o660)
        .fifo("/srv/fifo", 0o600);
    let e = parse_tar(&t.to_tar());
    let srv = find(&e, "srv/");
    assert_eq!(
        (srv.kind, srv.mode, srv.uid, srv.gid, srv.mtime),
        (b'5', 0o750, 1000, 1001, 42)
    );
    let x = find(&e, "srv/x");
    assert_eq!(
        (x.kind, x.mode, x.data.as_slice()),
        (b'0', 0o4755, &b"x"[..])
    );
    assert_eq!(
        find(&e, "srv/l").link.as_deref(),
        Some(&b"../etc/passwd"[..])
    );
    assert_eq!(find(&e, "srv/h").link.as_deref(), Some(&b"srv/x"[..]));
    assert_eq!(find(&e, "srv/.wh.gone").kind, b'0');
    assert_eq!(find(&e, ".wh.top").kind, b'0');
    assert_eq!(find(&e, "srv/.wh..wh..opq").kind, b'0');
    let null = find(&e, "dev/null");
    assert_eq!(
        (null.kind, null.dev, null.mode),
        (b'3', Some((1, 3)), 0o666)
    );
    assert_eq!(find(&e, "dev/loop9").dev, Some((7, 9)));
    assert_eq!(find(&e, "srv/fifo").kind, b'6');
}

#[test]
fn tar_builder_writes_hostile_and_long_names() {
    let long_dir = "d".repeat(120);
    let long_name = format!("{long_dir}/{}", "f".repeat(120)); // needs PAX
    let split_name = format!("{}/{}", "p".repeat(140), "n".repeat(90)); // fits ustar prefix
    let long_target = "t/".repeat(80);
    let mut t = TarBuilder::new();
    t.raw_file("../escape", "up")
        .raw_file("/abs", "abs")
        .raw_file("a/../../x", "deep")
        .raw_symlink("link", "/")
        .raw_hardlink("hl", "/etc/shadow")
        .raw_dir("../dir/")
        .file(&long_name, "long", 0o644)
        .file(&split_name, "split", 0o644)
        .symlink("longlink", &long_target);
    let mut xattr = TarEntry::new("withxattr", EntryKind::File);
    xattr
        .pax
        .push(("SCHILY.xattr.user.k".into(), b"v".to_vec()));
    xattr.uid = 1 << 30; // beyond ustar's 7 octal digits: PAX uid
    t.entry(xattr);
    let e = parse_tar(&t.to_tar());
    assert_eq!(find(&e, "../escape").data, b"up");
    assert_eq!(find(&e, "/abs").data, b"abs");
    assert_eq!(find(&e, "a/../../x").data, b"deep");
    assert_eq!(find(&e, "link").link.as_deref(), Some(&b"/"[..]));
    assert_eq!(find(&e, "hl").link.as_deref(), Some(&b"/etc/shadow"[..]));
    assert_eq!(find(&e, "../dir/").kind, b'5');
    assert_eq!(find(&e, &long_name).data, b"long");
    assert_eq!(find(&e, &split_name).data, b"split");
    assert_eq!(
        find(&e, "longlink").link.as_deref(),
        Some(long_target.as_bytes())
    );
    assert_eq!(find(&e, "withxattr").uid, 1 << 30);

    // The PAX xattr record is there for extractors that read it.
    let bytes = t.to_tar();
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut found = false;
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path_bytes().as_ref() == b"withxattr" {
            let ext = entry.pax_extensions().unwrap().expect("pax records");
            found = ext
                .map(|x| x.unwrap())
                .any(|x| x.key() == Ok("SCHILY.xattr.user.k") && x.value_bytes() == b"v");
        }
    }
    assert!(found, "xattr PAX record");

    // GNU tar agrees that the archive is well formed.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.tar");
    std::fs::write(&path, t.to_tar()).unwrap();
    let out = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&path)
        .output()
        .expect("run tar");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&long_name));
}

#[test]
fn compression_variants_and_custom_images() {
    let mut t = TarBuilder::new();
    t.file("hello", "hi\n", 0o644);
    let tar = t.to_tar();
    for c in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Uncompressed,
    ] {
        let l = t.layer(c);
        assert_eq!(l.media_type, c.oci_media_type());
        assert_eq!(l.diff_id, sha256_digest(&tar));
        assert_eq!(l.decompress(), tar);
    }
    assert_eq!(
        t.layer(Compression::Uncompressed).digest,
        sha256_digest(&tar)
    );

    let mut labels = BTreeMap::new();
    labels.insert("a".to_string(), "b".to_string());
    let options = ImageOptions {
        entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
        working_dir: Some("/srv".into()),
        user: Some("65534:65534".into()),
        labels,
        exposed_ports: vec!["80/tcp".into()],
        volumes: vec!["/data".into()],
        config_extra: serde_json::json!({"OnBuild": null}),
        extra: serde_json::json!({"author": "rdesk"}),
        ..ImageOptions::with_cmd(&["echo", "hi"])
    };
    let img = ImageFixture::build(vec![t.layer(Compression::Gzip)], &options, Format::DockerV2);
    assert_eq!(img.layers[0].media_type, media_types::DOCKER_LAYER_GZIP);
    let c = img.config_json();
    assert_eq!(
        c["config"]["Entrypoint"],
        serde_json::json!(["/bin/sh", "-c"])
    );
    assert_eq!(c["config"]["Cmd"], serde_json::json!(["echo", "hi"]));
    assert_eq!(c["config"]["WorkingDir"], "/srv");
    assert_eq!(c["config"]["User"], "65534:65534");
    assert_eq!(c["config"]["Labels"]["a"], "b");
    assert_eq!(c["config"]["ExposedPorts"]["80/tcp"], serde_json::json!({}));
    assert_eq!(c["config"]["Volumes"]["/data"], serde_json::json!({}));
    assert!(c["config"]["OnBuild"].is_null());
    assert_eq!(c["author"], "rdesk");

    // An inconsistent config (no diff_ids) with from_config.
    let bogus = ImageFixture::from_config(
        br#"{"rootfs":{"type":"layers","diff_ids":[]}}"#.to_vec(),
        img.layers.clone(),
        Format::Oci,
        &BTreeMap::new(),
    );
    assert_eq!(bogus.layers[0].media_type, media_types::OCI_LAYER_GZIP);
    assert_eq!(
        bogus.manifest_json()["config"]["mediaType"],
        media_types::OCI_CONFIG
    );
}

#[test]
fn busybox_layer_runs_in_a_chroot() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: chroot needs root (CI runs as root)");
        return;
    }
    let img = fixtures::busybox_image();
    let dir = tempfile::tempdir().unwrap();
    let tar_path = dir.path().join("layer.tar");
    std::fs::write(&tar_path, img.layers[0].decompress()).unwrap();
    let root = dir.path().join("rootfs");
    std::fs::create_dir(&root).unwrap();
    let st = std::process::Command::new("tar")
        .arg("-xpf")
        .arg(&tar_path)
        .arg("-C")
        .arg(&root)
        .status()
        .unwrap();
    assert!(st.success());
    let out = std::process::Command::new("/usr/sbin/chroot")
        .arg(&root)
        .args([
            "/bin/sh",
            "-c",
            "echo hi from $(id -u) && ls /bin/busybox && cat /etc/passwd | wc -l",
        ])
        .env_clear()
        .env("PATH", "/bin")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hi from 0\n/bin/busybox\n2\n"
    );
}
