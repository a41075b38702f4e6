//! Bad input and failure during pulls: each gives a clear error and a non-zero exit, leaves no
//! partial image, no ingest entry and no layer behind; the store stays usable.

mod common;

use common::Rdesk;
use rdesk_testkit::fake::{FakeConfig, FakeRegistry, Fault};
use rdesk_testkit::fixtures::{self, Format, ImageFixture};
use rdesk_testkit::registry::Registry;
use std::collections::BTreeMap;
use std::time::Duration;

fn fake_with_busybox(config: FakeConfig) -> (FakeRegistry, ImageFixture) {
    let fake = FakeRegistry::start(config);
    let img = fixtures::busybox_image();
    fake.add_image("library/busybox", "latest", &img);
    (fake, img)
}

#[track_caller]
fn assert_clean(rd: &Rdesk) {
    assert_eq!(rd.image_count(), 0, "no partial image in the index");
    assert!(
        rd.ingest_entries().is_empty(),
        "ingest left: {:?}",
        rd.ingest_entries()
    );
    let out = rd.run(&["images", "-q"]).ok();
    assert_eq!(out.stdout, "", "no image listed");
}

#[test]
fn wrong_bytes_are_refused() {
    let (fake, img) = fake_with_busybox(FakeConfig::default());
    fake.set_fault(&img.layers[0].digest, Fault::WrongBytes);
    let rd = Rdesk::new();
    rd.run(&["pull", &format!("{}/library/busybox", fake.addr())])
        .fails(1, "does not match its digest");
    assert_clean(&rd);
    assert!(rd.layer_dirs().is_empty());
    // The same store then pulls fine once the registry behaves.
    fake.clear_faults();
    rd.run(&["pull", "-q", &format!("{}/library/busybox", fake.addr())])
        .ok();
    assert_eq!(rd.image_count(), 1);
}

#[test]
fn truncated_blob_is_refused() {
    let (fake, img) = fake_with_busybox(FakeConfig::default());
    fake.set_fault(&img.layers[0].digest, Fault::Truncate(1000));
    let rd = Rdesk::new();
    let out = rd.run(&["pull", &format!("{}/library/busybox", fake.addr())]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("layer sha256:"), "{}", out.stderr);
    assert_clean(&rd);
    assert!(rd.layer_dirs().is_empty());
}

#[test]
fn wrong_config_blob_is_refused() {
    let (fake, img) = fake_with_busybox(FakeConfig::default());
    fake.set_fault(&img.config_digest, Fault::WrongBytes);
    let rd = Rdesk::new();
    rd.run(&["pull", &format!("{}/library/busybox", fake.addr())])
        .fails(1, "does not match its digest");
    assert_clean(&rd);
}

#[test]
fn diff_id_mismatch_is_refused() {
    let img = fixtures::busybox_image();
    let mut config = img.config_json();
    config["rootfs"]["diff_ids"][0] = serde_json::json!(format!("sha256:{}", "ab".repeat(32)));
    let bad = ImageFixture::from_config(
        serde_json::to_vec(&config).unwrap(),
        img.layers.clone(),
        Format::Oci,
        &BTreeMap::new(),
    );
    let fake = FakeRegistry::start(FakeConfig::default());
    fake.add_image("x/bad", "v1", &bad);
    let rd = Rdesk::new();
    rd.run(&["pull", &format!("{}/x/bad:v1", fake.addr())])
        .fails(1, "does not match the diff_id");
    assert_clean(&rd);
    assert!(rd.layer_dirs().is_empty());
}

#[test]
fn manifests_that_cannot_be_used_are_refused_clearly() {
    let fake = FakeRegistry::start(FakeConfig::default());
    let schema1 = br#"{"schemaVersion":1,"name":"x/old","tag":"v1","architecture":"amd64","fsLayers":[],"history":[]}"#;
    fake.add_manifest_raw(
        "x/old",
        "v1",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        schema1,
    );
    fake.add_manifest_raw(
        "x/odd",
        "v1",
        "application/vnd.example.thing+json",
        br#"{"schemaVersion":2,"mediaType":"application/vnd.example.thing+json"}"#,
    );
    let mut huge = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"pad":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 5 << 20));
    huge.extend(br#""}}"#);
    fake.add_manifest_raw(
        "x/huge",
        "v1",
        "application/vnd.oci.image.manifest.v1+json",
        &huge,
    );
    let img = fixtures::busybox_image();
    let mut manifest: serde_json::Value = serde_json::from_slice(&img.manifest).unwrap();
    manifest["layers"][0]["mediaType"] = "application/vnd.example.layer.v1.rar".into();
    fake.add_manifest_raw(
        "x/rar",
        "v1",
        &img.manifest_media_type,
        &serde_json::to_vec(&manifest).unwrap(),
    );

    let rd = Rdesk::new();
    let a = fake.addr();
    rd.run(&["pull", &format!("{a}/x/old:v1")])
        .fails(1, "schema 1");
    rd.run(&["pull", &format!("{a}/x/odd:v1")])
        .fails(1, "unsupported manifest media type");
    rd.run(&["pull", &format!("{a}/x/huge:v1")])
        .fails(1, "larger than the 4194304-byte limit");
    rd.run(&["pull", &format!("{a}/x/rar:v1")])
        .fails(1, "unsupported layer media type");
    rd.run(&["pull", &format!("{a}/x/missing:v1")])
        .fails(1, "not found: manifest unknown");
    rd.run(&["pull", "Not/A:Ref!"])
        .fails(1, "invalid reference format");
    assert_clean(&rd);
}

#[test]
fn registry_down_is_a_clear_error() {
    let port = rdesk_testkit::free_port();
    let rd = Rdesk::new();
    rd.run(&["pull", &format!("127.0.0.1:{port}/library/busybox")])
        .fails(1, "cannot reach registry");
    assert_clean(&rd);
}

#[test]
fn basic_auth_uses_docker_config_credentials() {
    let (fake, _) = fake_with_busybox(FakeConfig::basic("alice", "s3cret"));
    let rd = Rdesk::new();
    let name = format!("{}/library/busybox", fake.addr());
    rd.run(&["pull", &name]).fails(1, "pull access denied");
    assert_clean(&rd);
    rd.login(&fake.addr(), "alice", "wrong");
    rd.run(&["pull", &name]).fails(1, "pull access denied");
    rd.login(&fake.addr(), "alice", "s3cret");
    rd.run(&["pull", "-q", &name]).ok();
}

#[test]
fn bearer_token_flow_anonymous_and_with_credentials() {
    let (fake, _) = fake_with_busybox(FakeConfig::bearer(None));
    let rd = Rdesk::new();
    rd.run(&["pull", "-q", &format!("{}/library/busybox", fake.addr())])
        .ok();
    let token_req = fake
        .requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .expect("a token was requested");
    assert_eq!(
        token_req.query_params("scope"),
        vec!["repository:library/busybox:pull".to_string()]
    );
    assert_eq!(token_req.query_params("service"), vec!["fake".to_string()]);

    let (fake, _) = fake_with_busybox(FakeConfig::bearer(Some(("bob", "pw"))));
    let rd = Rdesk::new();
    let name = format!("{}/library/busybox", fake.addr());
    rd.run(&["pull", &name]).fails(1, "pull access denied");
    rd.login(&fake.addr(), "bob", "pw");
    rd.run(&["pull", "-q", &name]).ok();
}

#[test]
fn authorization_is_not_sent_across_a_redirect_to_another_host() {
    let (fake, img) = fake_with_busybox(FakeConfig::basic("alice", "s3cret"));
    let cdn = FakeRegistry::start(FakeConfig::default());
    cdn.add_image("library/busybox", "latest", &img);
    fake.set_fault(&img.layers[0].digest, Fault::RedirectTo(cdn.url()));
    let rd = Rdesk::new();
    rd.login(&fake.addr(), "alice", "s3cret");
    rd.run(&["pull", "-q", &format!("{}/library/busybox", fake.addr())])
        .ok();
    let at_cdn: Vec<_> = cdn
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/blobs/"))
        .collect();
    assert!(!at_cdn.is_empty(), "the blob came from the redirect target");
    assert!(
        at_cdn.iter().all(|r| r.header("authorization").is_none()),
        "credentials leaked to another host: {at_cdn:?}"
    );
}

#[test]
fn kill_9_during_a_pull_then_pull_again_succeeds() {
    let (fake, img) = fake_with_busybox(FakeConfig::default());
    fake.set_fault(
        &img.layers[0].digest,
        Fault::Throttle {
            bytes_per_sec: 64 * 1024,
        },
    );
    let rd = Rdesk::new();
    let name = format!("{}/library/busybox", fake.addr());
    let mut child = rd
        .command(&["pull", &name])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let digest = img.layers[0].digest.clone();
    fake.wait_for_request(Duration::from_secs(20), |r| r.path.ends_with(&digest))
        .expect("the blob download started");
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill(2) of our own child, by its PID.
    let rc = unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    assert_eq!(rc, 0);
    let _ = child.wait();
    assert!(
        !rd.ingest_entries().is_empty(),
        "the killed pull left its ingest entry (to be swept)"
    );
    assert_eq!(rd.image_count(), 0);

    fake.clear_faults();
    rd.run(&["pull", "-q", &name]).ok();
    assert_eq!(rd.image_count(), 1);
    assert!(
        rd.ingest_entries().is_empty(),
        "the next open swept the dead pull's entry"
    );
}

#[test]
fn real_registry_with_htpasswd() {
    let reg = Registry::start_with_htpasswd("carol", "pa55");
    reg.push("library/busybox", "latest", &fixtures::busybox_image());
    let rd = Rdesk::new();
    let name = format!("{}/library/busybox", reg.addr());
    rd.run(&["pull", &name]).fails(1, "pull access denied");
    rd.login(&reg.addr(), "carol", "pa55");
    rd.run(&["pull", "-q", &name]).ok();
}

#[test]
fn real_registry_over_tls() {
    let (reg, _ca) = Registry::start_tls();
    reg.push("library/busybox", "latest", &fixtures::busybox_image());
    let rd = Rdesk::new();
    rd.run(&["pull", "-q", &format!("{}/library/busybox", reg.addr())])
        .ok();
    assert_eq!(rd.image_count(), 1);
}

#[test]
fn docker_hub_names_are_pulled_through_a_configured_mirror() {
    let (fake, img) = fake_with_busybox(FakeConfig::default());
    let rd = Rdesk::new();
    rd.set_config(&format!(
        "[registries]\nmirrors = {{ \"docker.io\" = [\"{}\"] }}\n",
        fake.url()
    ));
    let out = rd.run(&["pull", "busybox"]).ok();
    assert!(
        out.stdout.ends_with("docker.io/library/busybox:latest\n"),
        "{}",
        out.stdout
    );
    assert!(fake
        .requests()
        .iter()
        .any(|r| r.path == "/v2/library/busybox/manifests/latest"));
    let v: serde_json::Value =
        serde_json::from_str(&rd.run(&["image", "inspect", "busybox"]).ok().stdout).unwrap();
    assert_eq!(v[0]["RepoTags"][0], "busybox:latest");
    assert_eq!(v[0]["Id"], img.image_id());
}
