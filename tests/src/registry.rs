//! The real registry: Debian's `docker-registry` (distribution v2) on a random loopback port.
//!
//! ```no_run
//! use rdesk_testkit::{fixtures, registry::Registry};
//! let reg = Registry::start();                       // http://127.0.0.1:PORT
//! let img = fixtures::busybox_image();
//! let digest = reg.push("library/busybox", "latest", &img);
//! let (media_type, bytes) = reg.get_manifest("library/busybox", &digest);
//! assert_eq!(bytes, img.manifest);
//! # let _ = media_type;
//! ```
//!
//! Each [`Registry`] owns a temp dir (config, storage, TLS files, log) and its child process;
//! `Drop` kills the child by PID, reaps it and removes the dir. The child also gets
//! `PR_SET_PDEATHSIG(SIGKILL)` tied to a supervisor thread that lives as long as the
//! `Registry`, so even a test binary killed with SIGKILL leaves no registry behind.

use crate::fixtures::{ImageFixture, IndexFixture};
use crate::{free_port, off_runtime, sha256_digest};
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::{Method, StatusCode, Url};
use std::fmt;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The registry binary from Debian's `docker-registry` package.
pub const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The `Accept` header listing every manifest type the fixtures produce.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.docker.distribution.manifest.v2+json";

const INSTANCE_HEADER: &str = "X-Rdesk-Testkit-Instance";
const READY_TIMEOUT: Duration = Duration::from_secs(20);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// How to start a [`Registry`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// Require HTTP basic auth with this `(user, password)` (an htpasswd file, bcrypt).
    pub htpasswd: Option<(String, String)>,
    /// Serve HTTPS with a server certificate (SANs `127.0.0.1`, `localhost`) signed by a
    /// throwaway CA; see [`Registry::ca_cert_path`].
    pub tls: bool,
}

/// An HTTP failure talking to a registry: the status (if any answer came) and the body or
/// the transport error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpError {
    /// The HTTP status, or `None` when no response arrived.
    pub status: Option<u16>,
    /// What was being done, and the response body or transport error.
    pub message: String,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.status {
            Some(s) => write!(f, "HTTP {s}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl std::error::Error for HttpError {}

/// A running `docker-registry serve` on `127.0.0.1:<random port>`.
pub struct Registry {
    // Declared before `dir`: the child is killed before its files are removed.
    child: Supervised,
    port: u16,
    credentials: Option<(String, String)>,
    ca_pem: Option<Vec<u8>>,
    ca_path: Option<PathBuf>,
    dir: tempfile::TempDir,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("url", &self.url())
            .field("pid", &self.child.pid)
            .field("auth", &self.credentials.is_some())
            .field("dir", &self.dir.path())
            .finish()
    }
}

impl Registry {
    /// A plain-HTTP registry without auth.
    pub fn start() -> Registry {
        Registry::start_with(RegistryOptions::default())
    }

    /// A plain-HTTP registry requiring basic auth `user:pass` (htpasswd file, bcrypt cost 4
    /// written with the `bcrypt` crate, so no `apache2-utils` needed).
    pub fn start_with_htpasswd(user: &str, pass: &str) -> Registry {
        Registry::start_with(RegistryOptions {
            htpasswd: Some((user.to_string(), pass.to_string())),
            tls: false,
        })
    }

    /// An HTTPS registry; returns it and the path of the CA certificate (PEM) that signed its
    /// server certificate (SANs `IP:127.0.0.1`, `DNS:localhost`). The file lives as long as
    /// the registry.
    pub fn start_tls() -> (Registry, PathBuf) {
        let reg = Registry::start_with(RegistryOptions {
            htpasswd: None,
            tls: true,
        });
        let ca = reg
            .ca_cert_path()
            .expect("a TLS registry has a CA")
            .to_path_buf();
        (reg, ca)
    }

    /// A registry with any combination of [`RegistryOptions`].
    pub fn start_with(options: RegistryOptions) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} not found: install Debian's docker-registry package \
             (apt-get install docker-registry)"
        );
        let dir = tempfile::Builder::new()
            .prefix("rdesk-registry-")
            .tempdir()
            .expect("cannot create a temp dir for the registry");
        let root = dir.path().to_path_buf();
        fs::create_dir(root.join("data")).expect("cannot create the registry storage dir");

        let htpasswd = options.htpasswd.as_ref().map(|(user, pass)| {
            let hash = bcrypt::hash_with_result(pass, 4)
                .expect("bcrypt hashing failed")
                .format_for_version(bcrypt::Version::TwoY);
            let path = root.join("htpasswd");
            fs::write(&path, format!("{user}:{hash}\n")).expect("cannot write the htpasswd file");
            path
        });
        let tls = options.tls.then(|| make_tls_files(&root));
        let ca_pem = tls
            .as_ref()
            .map(|t| fs::read(&t.ca_cert).expect("cannot read the generated CA certificate"));

        let mut last_failure = String::new();
        for _attempt in 0..5 {
            let port = free_port();
            let instance = instance_id();
            let config = registry_config(&root, port, &instance, htpasswd.as_deref(), tls.as_ref());
            let config_path = root.join("config.yml");
            fs::write(&config_path, config).expect("cannot write the registry config");
            let log_path = root.join("registry.log");
            let log = fs::File::create(&log_path).expect("cannot create the registry log");
            let mut cmd = Command::new(REGISTRY_BIN);
            cmd.arg("serve")
                .arg(&config_path)
                .current_dir(&root)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("cannot dup the registry log fd"))
                .stderr(log);
            let child = Supervised::spawn(cmd)
                .unwrap_or_else(|e| panic!("cannot start {REGISTRY_BIN}: {e}"));
            let scheme = if tls.is_some() { "https" } else { "http" };
            let base = format!("{scheme}://127.0.0.1:{port}");
            match wait_ready(&base, &instance, ca_pem.as_deref(), &child) {
                Ok(()) => {
                    return Registry {
                        child,
                        port,
                        credentials: options.htpasswd.clone(),
                        ca_path: tls.map(|t| t.ca_cert),
                        ca_pem,
                        dir,
                    }
                }
                Err(Ready::Exited(status)) => {
                    last_failure = format!(
                        "registry exited with {status}; log:\n{}",
                        fs::read_to_string(&log_path).unwrap_or_default()
                    );
                    // Most likely the port was taken in the meantime: try another one.
                }
                Err(Ready::Timeout(why)) => {
                    drop(child);
                    panic!(
                        "{REGISTRY_BIN} did not answer on {base}/v2/ within {READY_TIMEOUT:?} \
                         ({why}); log:\n{}",
                        fs::read_to_string(&log_path).unwrap_or_default()
                    );
                }
            }
        }
        panic!("{REGISTRY_BIN} failed to start 5 times; last failure: {last_failure}");
    }

    /// `127.0.0.1:PORT`: the registry host for image references (`127.0.0.1:PORT/repo:tag`).
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Whether it serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.ca_pem.is_some()
    }

    /// The basic-auth credentials it requires, if any.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The CA certificate (PEM file) that signed the server certificate, for TLS registries.
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.ca_path.as_deref()
    }

    /// The CA certificate's PEM bytes, for TLS registries.
    pub fn ca_pem(&self) -> Option<&[u8]> {
        self.ca_pem.as_deref()
    }

    /// The registry's temp dir (config, `data/` storage, `registry.log`, TLS files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The registry process's PID.
    pub fn pid(&self) -> u32 {
        self.child.pid
    }

    /// What the registry logged so far (level `error` only).
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes `image` (its blobs, then its manifest as `repo:reference` with the manifest's
    /// media type) and returns the manifest digest. Panics with the registry's answer on error.
    pub fn push(&self, repo: &str, reference: &str, image: &ImageFixture) -> String {
        off_runtime(|| {
            let c = self.client();
            self.push_image_with(&c, repo, reference, image)
        })
        .unwrap_or_else(|e| panic!("pushing {repo}:{reference} to {}: {e}", self.url()))
    }

    /// Pushes every platform image of `index` (blobs, then each manifest by digest), then the
    /// index as `repo:tag`; returns the index digest.
    pub fn push_index(&self, repo: &str, tag: &str, index: &IndexFixture) -> String {
        off_runtime(|| {
            let c = self.client();
            for (_, img) in &index.manifests {
                self.push_image_with(&c, repo, &img.manifest_digest, img)?;
            }
            self.put_manifest(&c, repo, tag, &index.media_type, &index.index)
        })
        .unwrap_or_else(|e| panic!("pushing index {repo}:{tag} to {}: {e}", self.url()))
    }

    /// Uploads one blob (monolithic POST + PUT) and returns its digest.
    pub fn push_blob(&self, repo: &str, bytes: &[u8]) -> String {
        let digest = sha256_digest(bytes);
        off_runtime(|| {
            let c = self.client();
            self.upload_blob(&c, repo, &digest, bytes)
        })
        .unwrap_or_else(|e| panic!("pushing blob {digest} to {}/{repo}: {e}", self.url()));
        digest
    }

    /// PUTs arbitrary manifest bytes as `repo:reference` with `media_type`; returns the digest
    /// the registry reports. Panics if the registry refuses; see
    /// [`Registry::try_push_raw_manifest`].
    pub fn push_raw_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        self.try_push_raw_manifest(repo, reference, media_type, bytes)
            .unwrap_or_else(|e| panic!("pushing a raw manifest {repo}:{reference}: {e}"))
    }

    /// Like [`Registry::push_raw_manifest`], returning the registry's refusal (a real registry
    /// validates manifests: unknown blobs, bad JSON, ...) instead of panicking.
    pub fn try_push_raw_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, HttpError> {
        off_runtime(|| {
            let c = self.client();
            self.put_manifest(&c, repo, reference, media_type, bytes)
        })
    }

    /// GETs a manifest (by tag or digest) accepting every fixture media type; returns its
    /// `Content-Type` and bytes.
    pub fn get_manifest(&self, repo: &str, reference: &str) -> (String, Vec<u8>) {
        off_runtime(|| {
            let c = self.client();
            let url = format!("{}/v2/{repo}/manifests/{reference}", self.url());
            let resp = self
                .request(&c, Method::GET, &url)
                .header("Accept", MANIFEST_ACCEPT)
                .send()
                .map_err(|e| transport("GET manifest", &url, e))?;
            let resp = expect_status(resp, &[StatusCode::OK], "GET manifest", &url)?;
            let ct = header(&resp, "content-type").unwrap_or_default();
            let body = resp
                .bytes()
                .map_err(|e| transport("reading manifest", &url, e))?;
            Ok::<_, HttpError>((ct, body.to_vec()))
        })
        .unwrap_or_else(|e| panic!("getting manifest {repo}:{reference}: {e}"))
    }

    /// GETs a blob's bytes.
    pub fn get_blob(&self, repo: &str, digest: &str) -> Vec<u8> {
        off_runtime(|| {
            let c = self.client();
            let url = format!("{}/v2/{repo}/blobs/{digest}", self.url());
            let resp = self
                .request(&c, Method::GET, &url)
                .send()
                .map_err(|e| transport("GET blob", &url, e))?;
            let resp = expect_status(resp, &[StatusCode::OK], "GET blob", &url)?;
            let body = resp
                .bytes()
                .map_err(|e| transport("reading blob", &url, e))?;
            Ok::<_, HttpError>(body.to_vec())
        })
        .unwrap_or_else(|e| panic!("getting blob {repo}@{digest}: {e}"))
    }

    /// Whether the registry has the blob in `repo` (HEAD).
    pub fn has_blob(&self, repo: &str, digest: &str) -> bool {
        off_runtime(|| {
            let c = self.client();
            self.blob_exists(&c, repo, digest)
        })
        .unwrap_or_else(|e| panic!("HEAD blob {repo}@{digest}: {e}"))
    }

    /// The repository's tags (`GET /v2/<repo>/tags/list`), sorted.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        off_runtime(|| {
            let c = self.client();
            let url = format!("{}/v2/{repo}/tags/list", self.url());
            let resp = self
                .request(&c, Method::GET, &url)
                .send()
                .map_err(|e| transport("GET tags", &url, e))?;
            let resp = expect_status(resp, &[StatusCode::OK], "GET tags", &url)?;
            let body = resp
                .bytes()
                .map_err(|e| transport("reading tags", &url, e))?;
            let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| HttpError {
                status: None,
                message: format!("tags list is not JSON: {e}"),
            })?;
            let mut tags: Vec<String> = v["tags"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|t| t.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            tags.sort();
            Ok::<_, HttpError>(tags)
        })
        .unwrap_or_else(|e| panic!("listing tags of {repo}: {e}"))
    }

    /// Deletes a manifest by digest (`storage.delete.enabled` is on).
    pub fn delete_manifest(&self, repo: &str, digest: &str) {
        off_runtime(|| {
            let c = self.client();
            let url = format!("{}/v2/{repo}/manifests/{digest}", self.url());
            let resp = self
                .request(&c, Method::DELETE, &url)
                .send()
                .map_err(|e| transport("DELETE manifest", &url, e))?;
            expect_status(resp, &[StatusCode::ACCEPTED], "DELETE manifest", &url).map(drop)
        })
        .unwrap_or_else(|e| panic!("deleting manifest {repo}@{digest}: {e}"))
    }

    /// A blocking client for this registry (trusts only its CA when TLS; no proxy). Must be
    /// created, used and dropped outside a tokio runtime (see [`crate::off_runtime`]).
    pub fn blocking_client(&self) -> Client {
        self.client()
    }

    fn client(&self) -> Client {
        build_client(self.ca_pem.as_deref(), REQUEST_TIMEOUT)
    }

    fn request(&self, c: &Client, method: Method, url: &str) -> RequestBuilder {
        let rb = c.request(method, url);
        match &self.credentials {
            Some((u, p)) => rb.basic_auth(u, Some(p)),
            None => rb,
        }
    }

    fn push_image_with(
        &self,
        c: &Client,
        repo: &str,
        reference: &str,
        image: &ImageFixture,
    ) -> Result<String, HttpError> {
        for (digest, bytes) in image.blobs() {
            self.upload_blob(c, repo, digest, bytes)?;
        }
        self.put_manifest(
            c,
            repo,
            reference,
            &image.manifest_media_type,
            &image.manifest,
        )
    }

    fn blob_exists(&self, c: &Client, repo: &str, digest: &str) -> Result<bool, HttpError> {
        let url = format!("{}/v2/{repo}/blobs/{digest}", self.url());
        let resp = self
            .request(c, Method::HEAD, &url)
            .send()
            .map_err(|e| transport("HEAD blob", &url, e))?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(resp, "HEAD blob", &url)),
        }
    }

    fn upload_blob(
        &self,
        c: &Client,
        repo: &str,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(), HttpError> {
        if self.blob_exists(c, repo, digest)? {
            return Ok(());
        }
        let start = format!("{}/v2/{repo}/blobs/uploads/", self.url());
        let resp = self
            .request(c, Method::POST, &start)
            .header("Content-Length", "0")
            .send()
            .map_err(|e| transport("POST upload", &start, e))?;
        let resp = expect_status(resp, &[StatusCode::ACCEPTED], "POST upload", &start)?;
        let location = header(&resp, "location").ok_or_else(|| HttpError {
            status: Some(202),
            message: format!("POST {start}: no Location header"),
        })?;
        let mut url = resolve(&start, &location)?;
        url.query_pairs_mut().append_pair("digest", digest);
        let resp = self
            .request(c, Method::PUT, url.as_str())
            .header("Content-Type", "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .map_err(|e| transport("PUT blob", url.as_str(), e))?;
        expect_status(resp, &[StatusCode::CREATED], "PUT blob", url.as_str())?;
        Ok(())
    }

    fn put_manifest(
        &self,
        c: &Client,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<String, HttpError> {
        let url = format!("{}/v2/{repo}/manifests/{reference}", self.url());
        let resp = self
            .request(c, Method::PUT, &url)
            .header("Content-Type", media_type)
            .body(bytes.to_vec())
            .send()
            .map_err(|e| transport("PUT manifest", &url, e))?;
        let resp = expect_status(resp, &[StatusCode::CREATED], "PUT manifest", &url)?;
        let ours = sha256_digest(bytes);
        match header(&resp, "docker-content-digest") {
            Some(theirs) if theirs != ours => Err(HttpError {
                status: Some(201),
                message: format!("PUT {url}: registry says digest {theirs}, we computed {ours}"),
            }),
            _ => Ok(ours),
        }
    }
}

/// A blocking reqwest client that ignores proxy settings and, given a CA PEM, trusts only it.
/// Create, use and drop it outside a tokio runtime (see [`crate::off_runtime`]).
pub fn build_client(ca_pem: Option<&[u8]>, timeout: Duration) -> Client {
    let mut b = Client::builder()
        .no_proxy()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .redirect(reqwest::redirect::Policy::limited(5));
    if let Some(pem) = ca_pem {
        let cert =
            reqwest::Certificate::from_pem(pem).expect("the generated CA is not a valid PEM cert");
        b = b.tls_built_in_root_certs(false).add_root_certificate(cert);
    }
    b.build().expect("cannot build a reqwest blocking client")
}

fn header(resp: &reqwest::blocking::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn resolve(base: &str, location: &str) -> Result<Url, HttpError> {
    let base = Url::parse(base).map_err(|e| HttpError {
        status: None,
        message: format!("bad base URL {base}: {e}"),
    })?;
    // `join` handles absolute URLs, absolute paths and relative references alike.
    base.join(location).map_err(|e| HttpError {
        status: None,
        message: format!("bad Location header {location:?}: {e}"),
    })
}

fn transport(what: &str, url: &str, e: reqwest::Error) -> HttpError {
    HttpError {
        status: None,
        message: format!("{what} {url}: {e}"),
    }
}

fn status_error(resp: reqwest::blocking::Response, what: &str, url: &str) -> HttpError {
    let status = resp.status().as_u16();
    let body = resp.text().unwrap_or_default();
    HttpError {
        status: Some(status),
        message: format!("{what} {url}: {}", body.trim()),
    }
}

fn expect_status(
    resp: reqwest::blocking::Response,
    ok: &[StatusCode],
    what: &str,
    url: &str,
) -> Result<reqwest::blocking::Response, HttpError> {
    if ok.contains(&resp.status()) {
        Ok(resp)
    } else {
        Err(status_error(resp, what, url))
    }
}

fn instance_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

struct TlsFiles {
    ca_cert: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
}

fn registry_config(
    root: &Path,
    port: u16,
    instance: &str,
    htpasswd: Option<&Path>,
    tls: Option<&TlsFiles>,
) -> String {
    let mut c = format!(
        r#"version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: "{data}"
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
health:
  storagedriver:
    enabled: false
http:
  addr: "127.0.0.1:{port}"
  secret: "rdesk-testkit-{instance}"
  headers:
    {INSTANCE_HEADER}: ["{instance}"]
"#,
        data = root.join("data").display(),
    );
    if let Some(t) = tls {
        c.push_str(&format!(
            "  tls:\n    certificate: \"{}\"\n    key: \"{}\"\n",
            t.server_cert.display(),
            t.server_key.display()
        ));
    }
    if let Some(h) = htpasswd {
        c.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: rdesk-testkit\n    path: \"{}\"\n",
            h.display()
        ));
    }
    c
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run openssl ({e}): install Debian's openssl package"));
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A throwaway CA and a server certificate for 127.0.0.1 / localhost signed by it (P-256).
fn make_tls_files(root: &Path) -> TlsFiles {
    let dir = root.join("tls");
    fs::create_dir(&dir).expect("cannot create the TLS dir");
    fs::write(
        dir.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n\
         [dn]\nCN = rdesk-testkit throwaway CA\n\
         [v3_ca]\nbasicConstraints = critical,CA:TRUE\nkeyUsage = critical,keyCertSign,cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )
    .expect("cannot write ca.cnf");
    fs::write(
        dir.join("server.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = 127.0.0.1\n\
         [v3_server]\nbasicConstraints = critical,CA:FALSE\n\
         keyUsage = critical,digitalSignature\nextendedKeyUsage = serverAuth\n\
         subjectAltName = IP:127.0.0.1,DNS:localhost\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid\n",
    )
    .expect("cannot write server.cnf");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca_args = vec!["req", "-x509", "-config", "ca.cnf", "-days", "7"];
    ca_args.extend(ec);
    ca_args.extend(["-keyout", "ca.key", "-out", "ca.pem"]);
    openssl(&dir, &ca_args);
    let mut csr_args = vec!["req", "-new", "-config", "server.cnf"];
    csr_args.extend(ec);
    csr_args.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(&dir, &csr_args);
    openssl(
        &dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "7",
            "-extfile",
            "server.cnf",
            "-extensions",
            "v3_server",
            "-out",
            "server.pem",
        ],
    );
    TlsFiles {
        ca_cert: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
    }
}

enum Ready {
    Exited(ExitStatus),
    Timeout(String),
}

/// Polls `GET /v2/` until *our* registry (its instance header) answers 200 or 401.
fn wait_ready(
    base: &str,
    instance: &str,
    ca_pem: Option<&[u8]>,
    child: &Supervised,
) -> Result<(), Ready> {
    off_runtime(|| {
        let client = build_client(ca_pem, Duration::from_secs(2));
        let url = format!("{base}/v2/");
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last;
        loop {
            if let Some(status) = child.exit_status() {
                return Err(Ready::Exited(status));
            }
            match client.get(&url).send() {
                Ok(resp) => {
                    let ours = resp
                        .headers()
                        .get(INSTANCE_HEADER)
                        .and_then(|v| v.to_str().ok())
                        == Some(instance);
                    let status = resp.status();
                    if ours && (status == StatusCode::OK || status == StatusCode::UNAUTHORIZED) {
                        return Ok(());
                    }
                    last = format!("answered {status} (ours: {ours})");
                }
                Err(e) => last = e.to_string(),
            }
            if Instant::now() > deadline {
                return Err(Ready::Timeout(last));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    })
}

/// A child process owned by a supervisor thread: the child gets `PR_SET_PDEATHSIG(SIGKILL)`
/// (tied to that thread, which lives as long as this value), and `Drop` kills it by PID and
/// reaps it.
struct Supervised {
    pid: u32,
    exited: Arc<Mutex<Option<ExitStatus>>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Supervised {
    fn spawn(mut cmd: Command) -> std::io::Result<Supervised> {
        // SAFETY: prctl and getppid are async-signal-safe; nothing else runs between fork and
        // exec.
        let parent = std::process::id() as libc::pid_t;
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(
                    libc::PR_SET_PDEATHSIG,
                    libc::SIGKILL as libc::c_ulong,
                    0,
                    0,
                    0,
                ) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died before prctl took effect.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let (pid_tx, pid_rx) = mpsc::channel::<std::io::Result<u32>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let exited = Arc::new(Mutex::new(None));
        let exited2 = Arc::clone(&exited);
        let thread = std::thread::Builder::new()
            .name("rdesk-testkit-supervisor".into())
            .spawn(move || {
                let mut child = match cmd.spawn() {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = pid_tx.send(Err(e));
                        return;
                    }
                };
                let _ = pid_tx.send(Ok(child.id()));
                loop {
                    match stop_rx.recv_timeout(Duration::from_millis(20)) {
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            if let Ok(Some(status)) = child.try_wait() {
                                *exited2.lock().unwrap_or_else(|p| p.into_inner()) = Some(status);
                                // Reaped: nothing left to kill. Wait for the owner to go.
                                let _ = stop_rx.recv();
                                return;
                            }
                        }
                        _ => {
                            // Stop requested (or owner gone): kill our own child by PID.
                            let _ = child.kill();
                            let _ = child.wait();
                            return;
                        }
                    }
                }
            })?;
        let pid = pid_rx
            .recv()
            .expect("the supervisor thread died before spawning the child")?;
        Ok(Supervised {
            pid,
            exited,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        *self.exited.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
