//! Tests of the real-registry harness: they start Debian's `docker-registry` for real.

use rdesk_testkit::fixtures::{self, media_types, Format};
use rdesk_testkit::registry::{build_client, Registry, RegistryOptions};
use rdesk_testkit::{off_runtime, sha256_digest};
use std::time::Duration;

fn process_alive(pid: u32) -> bool {
    // After Drop the child is killed *and reaped*, so kill(pid, 0) fails with ESRCH.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

#[test]
fn push_busybox_and_get_it_back_by_digest() {
    let reg = Registry::start();
    assert!(reg.addr().starts_with("127.0.0.1:"));
    assert_eq!(reg.url(), format!("http://{}", reg.addr()));
    let img = fixtures::busybox_image();
    let digest = reg.push("library/busybox", "latest", &img);
    assert_eq!(digest, img.manifest_digest);

    let (ct, bytes) = reg.get_manifest("library/busybox", &digest);
    assert_eq!(ct, media_types::DOCKER_MANIFEST);
    assert!(bytes == img.manifest, "manifest bytes round-trip");
    let (_, by_tag) = reg.get_manifest("library/busybox", "latest");
    assert_eq!(sha256_digest(&by_tag), digest);

    let layer = reg.get_blob("library/busybox", &img.layers[0].digest);
    assert!(layer == img.layers[0].data, "layer bytes round-trip");
    assert_eq!(
        reg.get_blob("library/busybox", &img.config_digest),
        img.config
    );
    assert_eq!(reg.tags("library/busybox"), vec!["latest".to_string()]);

    // Pushing again is idempotent (blobs are skipped by HEAD).
    assert_eq!(reg.push("library/busybox", "v1", &img), digest);
    assert_eq!(reg.tags("library/busybox"), vec!["latest", "v1"]);
}

#[test]
fn push_multilayer_oci_with_zstd() {
    let reg = Registry::start();
    let img = fixtures::multilayer_image();
    let digest = reg.push("test/multilayer", "latest", &img);
    let (ct, bytes) = reg.get_manifest("test/multilayer", "latest");
    assert_eq!(ct, media_types::OCI_MANIFEST);
    assert_eq!(sha256_digest(&bytes), digest);
    for l in &img.layers {
        assert!(reg.has_blob("test/multilayer", &l.digest));
    }
    let zstd = reg.get_blob("test/multilayer", &img.layers[3].digest);
    assert_eq!(sha256_digest(&zstd), img.layers[3].digest);

    reg.delete_manifest("test/multilayer", &digest);
    let missing = reg.try_push_raw_manifest(
        "test/multilayer",
        "again",
        &img.manifest_media_type,
        &img.manifest,
    );
    assert!(missing.is_ok(), "re-put after delete works: {missing:?}");
}

#[test]
fn push_index_with_three_platforms() {
    let reg = Registry::start();
    for (format, repo) in [
        (Format::Oci, "multi/oci"),
        (Format::DockerV2, "multi/docker"),
    ] {
        let idx = fixtures::multiplatform_image(format);
        let digest = reg.push_index(repo, "latest", &idx);
        assert_eq!(digest, idx.digest);
        let (ct, bytes) = reg.get_manifest(repo, "latest");
        assert_eq!(ct, format.index_media_type());
        assert!(bytes == idx.index);
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(v["manifests"].as_array().unwrap().len() >= 3);
        for (_, img) in &idx.manifests {
            let (ct, m) = reg.get_manifest(repo, &img.manifest_digest);
            assert_eq!(ct, format.manifest_media_type());
            assert!(m == img.manifest);
        }
    }
}

#[test]
fn raw_manifests_and_refusals() {
    let reg = Registry::start();
    let img = fixtures::busybox_image();
    // A manifest whose blobs were never pushed is refused by a real registry.
    let err = reg
        .try_push_raw_manifest("hostile/x", "v1", &img.manifest_media_type, &img.manifest)
        .expect_err("unknown blobs are refused");
    assert_eq!(err.status, Some(400), "{err}");
    assert!(
        err.message.contains("BLOB_UNKNOWN") || err.message.contains("blob unknown"),
        "{err}"
    );

    // Push the blobs by hand, then the very same bytes pass.
    for (digest, bytes) in img.blobs() {
        assert_eq!(reg.push_blob("hostile/x", bytes), digest);
    }
    let d = reg.push_raw_manifest("hostile/x", "v1", &img.manifest_media_type, &img.manifest);
    assert_eq!(d, img.manifest_digest);
}

#[test]
fn htpasswd_registry_requires_basic_auth() {
    let reg = Registry::start_with_htpasswd("tester", "s3cret");
    assert_eq!(reg.credentials(), Some(("tester", "s3cret")));
    let img = fixtures::busybox_image();
    let digest = reg.push("private/busybox", "latest", &img);
    assert_eq!(digest, img.manifest_digest);

    let url = format!("{}/v2/private/busybox/manifests/latest", reg.url());
    let (anon, wrong, right) = off_runtime(|| {
        let c = reg.blocking_client();
        let anon = c.get(&url).send().unwrap();
        let challenge = anon
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap().to_string());
        let wrong = c
            .get(&url)
            .basic_auth("tester", Some("nope"))
            .send()
            .unwrap()
            .status();
        let right = c
            .get(&url)
            .basic_auth("tester", Some("s3cret"))
            .header("Accept", media_types::DOCKER_MANIFEST)
            .send()
            .unwrap()
            .status();
        ((anon.status(), challenge), wrong, right)
    });
    assert_eq!(anon.0, 401);
    assert!(anon.1.unwrap_or_default().starts_with("Basic realm="));
    assert_eq!(wrong, 401);
    assert_eq!(right, 200);
}

#[test]
fn tls_registry_with_its_own_ca() {
    let (reg, ca) = Registry::start_tls();
    assert!(reg.is_tls());
    assert!(reg.url().starts_with("https://127.0.0.1:"));
    let pem = std::fs::read_to_string(&ca).unwrap();
    assert!(pem.contains("BEGIN CERTIFICATE"));
    let img = fixtures::busybox_image();
    let digest = reg.push("tls/busybox", "latest", &img);
    assert_eq!(reg.get_manifest("tls/busybox", &digest).1, img.manifest);

    // Through "localhost" too (the SAN), and refused without the CA.
    let port = reg.port();
    let (with_ca, without_ca) = off_runtime(|| {
        let c = build_client(reg.ca_pem(), Duration::from_secs(10));
        let with_ca = c
            .get(format!("https://localhost:{port}/v2/"))
            .send()
            .map(|r| r.status().as_u16());
        let plain = reqwest::blocking::Client::builder()
            .no_proxy()
            .build()
            .unwrap();
        let without_ca = plain.get(format!("https://127.0.0.1:{port}/v2/")).send();
        (with_ca, without_ca.is_err())
    });
    assert_eq!(with_ca.expect("TLS with the CA"), 200);
    assert!(without_ca, "an untrusted CA must fail the handshake");
}

#[test]
fn tls_and_htpasswd_together() {
    let reg = Registry::start_with(RegistryOptions {
        htpasswd: Some(("u".into(), "p".into())),
        tls: true,
    });
    let img = fixtures::busybox_image_format(Format::Oci);
    assert_eq!(reg.push("both/busybox", "1", &img), img.manifest_digest);
}

#[test]
fn drop_kills_and_reaps_the_registry() {
    let reg = Registry::start();
    let pid = reg.pid();
    let dir = reg.dir().to_path_buf();
    assert!(process_alive(pid));
    assert!(dir.join("config.yml").exists());
    drop(reg);
    assert!(!process_alive(pid), "registry {pid} survived Drop");
    assert!(!dir.exists(), "temp dir removed");
}

#[test]
fn drop_on_panic_cleans_up() {
    let mut seen = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let reg = Registry::start();
        seen = Some((reg.pid(), reg.dir().to_path_buf()));
        panic!("test failure inside");
    }));
    assert!(result.is_err());
    let (pid, dir) = seen.unwrap();
    assert!(!process_alive(pid));
    assert!(!dir.exists());
}

#[tokio::test(flavor = "current_thread")]
async fn usable_from_inside_a_tokio_runtime() {
    let reg = Registry::start();
    let img = fixtures::busybox_image();
    let digest = reg.push("async/busybox", "latest", &img);
    assert_eq!(reg.get_manifest("async/busybox", &digest).1, img.manifest);
    drop(reg);
}
