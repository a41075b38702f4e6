//! Tests of the fault-injecting fake registry, driven by a raw reqwest client.

use rdesk_testkit::fake::{AuthMode, FakeConfig, FakeRegistry, Fault};
use rdesk_testkit::fixtures::{self, media_types};
use rdesk_testkit::registry::{build_client, MANIFEST_ACCEPT};
use rdesk_testkit::sha256_digest;
use reqwest::blocking::Client;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn client() -> Client {
    build_client(None, Duration::from_secs(30))
}

fn client_no_redirects() -> Client {
    Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Parses `Bearer realm="...",service="...",scope="..."` into (realm, service, scope).
fn parse_challenge(h: &str) -> (String, String, Option<String>) {
    let rest = h.strip_prefix("Bearer ").expect("a Bearer challenge");
    let mut realm = String::new();
    let mut service = String::new();
    let mut scope = None;
    for part in rest.split("\",") {
        let (k, v) = part.split_once('=').unwrap();
        let v = v.trim_matches('"').to_string();
        match k {
            "realm" => realm = v,
            "service" => service = v,
            "scope" => scope = Some(v),
            _ => {}
        }
    }
    (realm, service, scope)
}

#[test]
fn serves_images_without_auth() {
    let fake = FakeRegistry::start(FakeConfig::default());
    assert_eq!(fake.url(), format!("http://{}", fake.addr()));
    let img = fixtures::busybox_image();
    fake.add_image("library/busybox", "latest", &img);
    let c = client();

    let base = c.get(format!("{}/v2/", fake.url())).send().unwrap();
    assert_eq!(base.status(), 200);
    assert_eq!(
        base.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    for reference in ["latest", img.manifest_digest.as_str()] {
        let r = c
            .get(format!(
                "{}/v2/library/busybox/manifests/{reference}",
                fake.url()
            ))
            .header("Accept", MANIFEST_ACCEPT)
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], media_types::DOCKER_MANIFEST);
        assert_eq!(
            r.headers()["docker-content-digest"],
            img.manifest_digest.as_str()
        );
        assert_eq!(r.bytes().unwrap(), img.manifest);
    }
    let head = c
        .head(format!(
            "{}/v2/library/busybox/blobs/{}",
            fake.url(),
            img.layers[0].digest
        ))
        .send()
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["content-length"],
        img.layers[0].size.to_string().as_str()
    );
    let blob = c
        .get(format!(
            "{}/v2/library/busybox/blobs/{}",
            fake.url(),
            img.layers[0].digest
        ))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(sha256_digest(&blob), img.layers[0].digest);

    let range = c
        .get(format!(
            "{}/v2/library/busybox/blobs/{}",
            fake.url(),
            img.config_digest
        ))
        .header("Range", "bytes=10-")
        .send()
        .unwrap();
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().unwrap(), img.config[10..]);

    let missing = c
        .get(format!("{}/v2/library/busybox/manifests/nope", fake.url()))
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().unwrap().contains("MANIFEST_UNKNOWN"));

    let tags: serde_json::Value = c
        .get(format!("{}/v2/library/busybox/tags/list", fake.url()))
        .send()
        .unwrap()
        .json_value();
    assert_eq!(tags["tags"], serde_json::json!(["latest"]));

    let reqs = fake.requests();
    assert!(reqs.iter().any(|r| r.method == "HEAD" && r.status == 200));
    assert!(reqs
        .iter()
        .any(|r| r.path == "/v2/library/busybox/manifests/nope" && r.status == 404));
    let m = reqs
        .iter()
        .find(|r| r.path.ends_with("/manifests/latest"))
        .unwrap();
    assert_eq!(m.header("Accept"), Some(MANIFEST_ACCEPT));
}

trait JsonValue {
    fn json_value(self) -> serde_json::Value;
}

impl JsonValue for reqwest::blocking::Response {
    fn json_value(self) -> serde_json::Value {
        serde_json::from_slice(&self.bytes().unwrap()).unwrap()
    }
}

#[test]
fn bearer_token_flow() {
    let fake = FakeRegistry::start(FakeConfig::bearer(Some(("alice", "pw"))));
    let img = fixtures::busybox_image();
    fake.add_image("team/app", "v1", &img);
    let c = client();
    let manifest_url = format!("{}/v2/team/app/manifests/v1", fake.url());

    // 1. Anonymous request: 401 with the challenge naming realm, service and scope.
    let r = c.get(&manifest_url).send().unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    let (realm, service, scope) = parse_challenge(&challenge);
    assert_eq!(realm, format!("{}/token", fake.url()));
    assert_eq!(service, "fake");
    assert_eq!(scope.as_deref(), Some("repository:team/app:pull"));

    // 2. The token endpoint wants the credentials.
    let token_url = reqwest::Url::parse_with_params(
        &realm,
        &[
            ("service", service.as_str()),
            ("scope", "repository:team/app:pull"),
        ],
    )
    .unwrap();
    assert_eq!(c.get(token_url.clone()).send().unwrap().status(), 401);
    assert_eq!(
        c.get(token_url.clone())
            .basic_auth("alice", Some("wrong"))
            .send()
            .unwrap()
            .status(),
        401
    );
    let tok = c
        .get(token_url)
        .basic_auth("alice", Some("pw"))
        .send()
        .unwrap()
        .json_value();
    let token = tok["token"].as_str().unwrap().to_string();
    assert_eq!(tok["access_token"], token.as_str());
    assert_eq!(fake.issued_tokens(), vec![token.clone()]);

    // 3. The token opens the repository it was issued for, and no other.
    let r = c.get(&manifest_url).bearer_auth(&token).send().unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().unwrap(), img.manifest);
    let blob = c
        .get(format!(
            "{}/v2/team/app/blobs/{}",
            fake.url(),
            img.config_digest
        ))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(blob.status(), 200);
    let other = c
        .get(format!("{}/v2/team/other/manifests/v1", fake.url()))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(other.status(), 401);
    let bogus = c.get(&manifest_url).bearer_auth("forged").send().unwrap();
    assert_eq!(bogus.status(), 401);

    // 4. POST (OAuth2 password grant) works too.
    let form = c
        .post(format!("{}/token", fake.url()))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=password&service=fake&client_id=rdesk&username=alice&password=pw&scope=repository%3Ateam%2Fapp%3Apull")
        .send()
        .unwrap();
    assert_eq!(form.status(), 200);

    // The recorded requests show the scope asked for.
    let token_reqs: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/token" && r.method == "GET")
        .collect();
    assert_eq!(token_reqs.len(), 3);
    assert_eq!(
        token_reqs[2].query_params("scope"),
        vec!["repository:team/app:pull".to_string()]
    );
    assert!(token_reqs[2]
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
}

#[test]
fn anonymous_bearer_and_basic_modes() {
    let anon = FakeRegistry::start(FakeConfig {
        auth: AuthMode::Bearer { user_pass: None },
    });
    let c = client();
    let tok = c
        .get(format!(
            "{}/token?service=fake&scope=repository:a:pull",
            anon.url()
        ))
        .send()
        .unwrap()
        .json_value();
    assert!(tok["token"].is_string());
    let ping = c.get(format!("{}/v2/", anon.url())).send().unwrap();
    assert_eq!(ping.status(), 401);
    let (_, _, scope) = parse_challenge(ping.headers()["www-authenticate"].to_str().unwrap());
    assert_eq!(scope, None, "the /v2/ ping challenge has no scope");

    let basic = FakeRegistry::start(FakeConfig::basic("bob", "pw"));
    let r = c.get(format!("{}/v2/", basic.url())).send().unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.headers()["www-authenticate"],
        "Basic realm=\"fake-registry\""
    );
    let ok = c
        .get(format!("{}/v2/", basic.url()))
        .basic_auth("bob", Some("pw"))
        .send()
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[test]
fn faults_wrong_bytes_truncate_status_and_counted() {
    let fake = FakeRegistry::start(FakeConfig::default());
    let img = fixtures::busybox_image();
    fake.add_image("f/x", "latest", &img);
    let layer = &img.layers[0];
    let blob_url = format!("{}/v2/f/x/blobs/{}", fake.url(), layer.digest);
    let c = client();

    fake.set_fault(&layer.digest, Fault::WrongBytes);
    let r = c.get(&blob_url).send().unwrap();
    assert_eq!(r.headers()["docker-content-digest"], layer.digest.as_str());
    let body = r.bytes().unwrap();
    assert_eq!(body.len() as u64, layer.size);
    assert_ne!(sha256_digest(&body), layer.digest);

    fake.set_fault(&layer.digest, Fault::Truncate(1000));
    let r = c.get(&blob_url).send().unwrap();
    assert_eq!(
        r.headers()["content-length"],
        layer.size.to_string().as_str()
    );
    assert!(r.bytes().is_err(), "a truncated body is an error");

    fake.set_fault(&layer.digest, Fault::Status(500));
    assert_eq!(c.get(&blob_url).send().unwrap().status(), 500);
    // HEAD sees status faults too.
    assert_eq!(c.head(&blob_url).send().unwrap().status(), 500);

    // Twice 503, then served: a retry loop succeeds on the third try.
    fake.set_fault_times(&layer.digest, Fault::Status(503), 2);
    assert_eq!(c.get(&blob_url).send().unwrap().status(), 503);
    assert_eq!(c.get(&blob_url).send().unwrap().status(), 503);
    assert_eq!(c.get(&blob_url).send().unwrap().status(), 200);

    // Manifest faults by tag, and WrongBytes on a manifest keeps claiming the digest.
    fake.set_fault("latest", Fault::WrongBytes);
    let r = c
        .get(format!("{}/v2/f/x/manifests/latest", fake.url()))
        .send()
        .unwrap();
    assert_eq!(
        r.headers()["docker-content-digest"],
        img.manifest_digest.as_str()
    );
    let bytes = r.bytes().unwrap();
    assert_ne!(sha256_digest(&bytes), img.manifest_digest);
    serde_json::from_slice::<serde_json::Value>(&bytes).expect("still JSON");
    // ... and a fault set by digest applies to a pull by tag too.
    fake.clear_faults();
    fake.set_fault(&img.manifest_digest, Fault::Status(404));
    let r = c
        .get(format!("{}/v2/f/x/manifests/latest", fake.url()))
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(r.text().unwrap().contains("MANIFEST_UNKNOWN"));

    fake.clear_fault(&img.manifest_digest);
    fake.set_fault(&img.config_digest, Fault::Replace(b"{}".to_vec()));
    let r = c
        .get(format!("{}/v2/f/x/blobs/{}", fake.url(), img.config_digest))
        .send()
        .unwrap();
    assert_eq!(r.bytes().unwrap().as_ref(), b"{}");
}

#[test]
fn throttle_and_delay() {
    let fake = FakeRegistry::start(FakeConfig::default());
    fake.add_blob_raw("sha256:slow", &[7u8; 2000]);
    fake.set_fault(
        "sha256:slow",
        Fault::Throttle {
            bytes_per_sec: 8000,
        },
    );
    let c = client();
    let t = Instant::now();
    let body = c
        .get(format!("{}/v2/any/blobs/sha256:slow", fake.url()))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let took = t.elapsed();
    assert_eq!(body.len(), 2000);
    assert!(took >= Duration::from_millis(200), "throttled: {took:?}");

    // A client that goes away mid-blob does not wedge the server.
    fake.set_fault("sha256:slow", Fault::Throttle { bytes_per_sec: 100 });
    let mut s = std::net::TcpStream::connect(fake.addr()).unwrap();
    s.write_all(b"GET /v2/any/blobs/sha256:slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 64];
    let n = s.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).starts_with("HTTP/1.1 200"));
    assert!(fake
        .wait_for_request(Duration::from_secs(2), |r| r.path.ends_with("sha256:slow")
            && r.status == 200)
        .is_some());
    drop(s);

    fake.set_fault("sha256:slow", Fault::Delay(Duration::from_millis(300)));
    let t = Instant::now();
    assert_eq!(
        c.get(format!("{}/v2/any/blobs/sha256:slow", fake.url()))
            .send()
            .unwrap()
            .status(),
        200
    );
    assert!(t.elapsed() >= Duration::from_millis(300));

    // Drop returns promptly even with a throttled transfer and an idle keep-alive open.
    fake.set_fault("sha256:slow", Fault::Throttle { bytes_per_sec: 10 });
    let mut s = std::net::TcpStream::connect(fake.addr()).unwrap();
    s.write_all(b"GET /v2/any/blobs/sha256:slow HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _idle = std::net::TcpStream::connect(fake.addr()).unwrap();
    fake.wait_for_request(Duration::from_secs(2), |r| r.path.ends_with("sha256:slow"))
        .unwrap();
    let t = Instant::now();
    drop(fake);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        t.elapsed()
    );
}

#[test]
fn redirect_to_another_host_drops_the_authorization_header() {
    let blob_host = FakeRegistry::start(FakeConfig::default());
    let fake = FakeRegistry::start(FakeConfig::basic("u", "p"));
    let img = fixtures::busybox_image();
    fake.add_image("r/x", "latest", &img);
    blob_host.add_blob_raw(&img.layers[0].digest, &img.layers[0].data);
    fake.set_fault(&img.layers[0].digest, Fault::RedirectTo(blob_host.url()));
    let url = format!("{}/v2/r/x/blobs/{}", fake.url(), img.layers[0].digest);

    // Auth is checked before redirecting.
    let raw = client_no_redirects();
    assert_eq!(raw.get(&url).send().unwrap().status(), 401);
    let r = raw.get(&url).basic_auth("u", Some("p")).send().unwrap();
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{}/v2/r/x/blobs/{}", blob_host.url(), img.layers[0].digest)
    );

    // A client following the redirect must not carry the credentials to the other port.
    let body = client()
        .get(&url)
        .basic_auth("u", Some("p"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert_eq!(sha256_digest(&body), img.layers[0].digest);
    let reqs = blob_host.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].header("authorization"), None);
}

#[test]
fn index_and_raw_manifests() {
    let fake = FakeRegistry::start(FakeConfig::default());
    let idx = fixtures::multiplatform_image(fixtures::Format::Oci);
    fake.add_index("multi/app", "latest", &idx);
    fake.add_manifest_raw("multi/app", "garbage", "application/json", b"not json");
    let c = client();
    let r = c
        .get(format!("{}/v2/multi/app/manifests/latest", fake.url()))
        .send()
        .unwrap();
    assert_eq!(r.headers()["content-type"], media_types::OCI_INDEX);
    assert_eq!(r.bytes().unwrap(), idx.index);
    for (_, img) in &idx.manifests {
        let r = c
            .get(format!(
                "{}/v2/multi/app/manifests/{}",
                fake.url(),
                img.manifest_digest
            ))
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let g = c
        .get(format!("{}/v2/multi/app/manifests/garbage", fake.url()))
        .send()
        .unwrap();
    assert_eq!(g.bytes().unwrap().as_ref(), b"not json");
    // Pushes are refused.
    let p = c
        .post(format!("{}/v2/multi/app/blobs/uploads/", fake.url()))
        .send()
        .unwrap();
    assert_eq!(p.status(), 405);
}
