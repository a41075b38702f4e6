//! A fault-injecting fake registry for what a real registry cannot do.
//!
//! A small multithreaded HTTP/1.1 server (std `TcpListener` on `127.0.0.1:0`, one thread per
//! connection, keep-alive) serving the pull side of the distribution API:
//! `GET/HEAD /v2/`, `GET/HEAD /v2/<name>/manifests/<reference>`,
//! `GET/HEAD /v2/<name>/blobs/<digest>` (with `Range: bytes=N-[M]`), `GET /v2/<name>/tags/list`
//! and, in bearer mode, a token endpoint at `/token` (GET with basic auth, or POST form).
//! Pushes are not supported (405).
//!
//! Per-blob / per-manifest [`Fault`]s and server-wide [`AuthMode`]s; every request is recorded
//! ([`FakeRegistry::requests`]) with its headers and the status it got.
//!
//! ```no_run
//! use rdesk_testkit::{fake::{AuthMode, FakeConfig, FakeRegistry, Fault}, fixtures};
//! let fake = FakeRegistry::start(FakeConfig { auth: AuthMode::Bearer { user_pass: None } });
//! let img = fixtures::busybox_image();
//! fake.add_image("library/busybox", "latest", &img);
//! fake.set_fault(&img.layers[0].digest, Fault::Truncate(1000));
//! // ... pull from fake.addr() and assert the error, then:
//! assert!(fake.requests().iter().any(|r| r.path == "/token"));
//! ```

use crate::fixtures::{ImageFixture, IndexFixture};
use crate::sha256_digest;
use base64::Engine as _;
use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A fault injected on one blob (by digest) or one manifest (by tag or digest).
///
/// Faults apply to GET; `Status`, `RedirectTo` and `Delay` also apply to HEAD.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Serve different bytes under the same digest and `Content-Length`: blobs get their
    /// middle byte flipped; manifests get a `\n` appended (still valid JSON, another digest)
    /// while `Docker-Content-Digest` keeps claiming the original digest.
    WrongBytes,
    /// Serve these bytes instead (with their own length), still claiming the original digest.
    Replace(Vec<u8>),
    /// Announce the full `Content-Length` but close the connection after this many bytes.
    Truncate(usize),
    /// Answer with this status (e.g. 404, 500, 429) and a distribution-style JSON error.
    Status(u16),
    /// Send the body at about this rate (in ~50 ms slices), so a test can kill a pull
    /// mid-blob.
    Throttle {
        /// Bytes per second.
        bytes_per_sec: u64,
    },
    /// Answer `302 Found` with `Location: <base><same path and query>`, where `base` is
    /// e.g. another fake's [`FakeRegistry::url`]. Auth is checked before redirecting.
    RedirectTo(String),
    /// Wait this long before answering normally.
    Delay(Duration),
}

/// Server-wide authentication of the fake.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AuthMode {
    /// No auth.
    #[default]
    None,
    /// HTTP basic: 401 with `WWW-Authenticate: Basic realm="fake-registry"` unless the request
    /// carries these credentials.
    Basic {
        /// User name.
        user: String,
        /// Password.
        pass: String,
    },
    /// Docker token auth: 401 with `WWW-Authenticate: Bearer
    /// realm="http://127.0.0.1:PORT/token",service="fake",scope="repository:<name>:pull"`;
    /// `/token` issues `{"token", "access_token", "expires_in", "issued_at"}` for the requested
    /// scopes (requiring these basic credentials when set), and API requests need
    /// `Authorization: Bearer <token>` with a token whose scopes grant pull on the repository.
    Bearer {
        /// Credentials the token endpoint requires, or `None` for anonymous tokens.
        user_pass: Option<(String, String)>,
    },
}

/// How to start a [`FakeRegistry`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FakeConfig {
    /// Server-wide auth.
    pub auth: AuthMode,
}

impl FakeConfig {
    /// Basic auth with `user:pass`.
    pub fn basic(user: &str, pass: &str) -> FakeConfig {
        FakeConfig {
            auth: AuthMode::Basic {
                user: user.to_string(),
                pass: pass.to_string(),
            },
        }
    }

    /// Bearer token auth; the token endpoint requires `user:pass` when given.
    pub fn bearer(user_pass: Option<(&str, &str)>) -> FakeConfig {
        FakeConfig {
            auth: AuthMode::Bearer {
                user_pass: user_pass.map(|(u, p)| (u.to_string(), p.to_string())),
            },
        }
    }
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The percent-decoded path, without the query (`/v2/library/busybox/manifests/latest`).
    pub path: String,
    /// The raw query string without `?` (empty if none).
    pub query: String,
    /// The headers in arrival order, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The status the fake answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of query parameter `name`, percent-decoded (e.g. each `scope`).
    pub fn query_params(&self, name: &str) -> Vec<String> {
        parse_query(&self.query)
            .into_iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v)
            .collect()
    }
}

#[derive(Clone)]
struct ManifestEntry {
    media_type: String,
    bytes: Arc<Vec<u8>>,
    digest: String,
}

struct FaultSlot {
    fault: Fault,
    remaining: Option<usize>,
}

#[derive(Default)]
struct State {
    manifests: HashMap<(String, String), ManifestEntry>,
    blobs: HashMap<String, Arc<Vec<u8>>>,
    faults: HashMap<String, FaultSlot>,
    tokens: HashMap<String, Vec<String>>,
    next_token: u64,
    requests: Vec<RecordedRequest>,
}

struct Shared {
    state: Mutex<State>,
    stop: AtomicBool,
    auth: AuthMode,
    port: u16,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake registry on `127.0.0.1:<random port>`; stops and joins its threads on
/// `Drop`.
pub struct FakeRegistry {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl std::fmt::Debug for FakeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeRegistry")
            .field("url", &self.url())
            .field("auth", &self.shared.auth)
            .finish()
    }
}

impl FakeRegistry {
    /// Starts serving on a fresh loopback port.
    pub fn start(config: FakeConfig) -> FakeRegistry {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("fake registry: cannot bind 127.0.0.1:0");
        let addr = listener
            .local_addr()
            .expect("fake registry: no local address");
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            auth: config.auth,
            port: addr.port(),
        });
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (s, c) = (Arc::clone(&shared), Arc::clone(&conns));
        let accept = std::thread::Builder::new()
            .name(format!("fake-registry-{}", addr.port()))
            .spawn(move || accept_loop(listener, s, c))
            .expect("fake registry: cannot spawn the accept thread");
        FakeRegistry {
            shared,
            addr,
            accept: Some(accept),
            conns,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `127.0.0.1:PORT`: the registry host for image references.
    pub fn addr(&self) -> String {
        self.addr.to_string()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Serves `image` as `repo:tag` and `repo@<manifest digest>`, with its config and layers.
    pub fn add_image(&self, repo: &str, tag: &str, image: &ImageFixture) {
        for (digest, bytes) in image.blobs() {
            self.add_blob_raw(digest, bytes);
        }
        self.add_manifest_raw(repo, tag, &image.manifest_media_type, &image.manifest);
    }

    /// Serves every platform image of `index` by digest and the index as `repo:tag` (and by
    /// its digest).
    pub fn add_index(&self, repo: &str, tag: &str, index: &IndexFixture) {
        for (_, img) in &index.manifests {
            self.add_image(repo, &img.manifest_digest, img);
        }
        self.add_manifest_raw(repo, tag, &index.media_type, &index.index);
    }

    /// Serves `bytes` as manifest `repo:reference` with `Content-Type: media_type`, and also
    /// under its real digest. `Docker-Content-Digest` is the real digest of `bytes`.
    pub fn add_manifest_raw(&self, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) {
        let digest = sha256_digest(bytes);
        let entry = ManifestEntry {
            media_type: media_type.to_string(),
            bytes: Arc::new(bytes.to_vec()),
            digest: digest.clone(),
        };
        let mut st = self.shared.lock();
        st.manifests
            .insert((repo.to_string(), digest), entry.clone());
        st.manifests
            .insert((repo.to_string(), reference.to_string()), entry);
    }

    /// Serves `bytes` as blob `digest` in every repository (the digest is not checked: a
    /// lying registry is allowed).
    pub fn add_blob_raw(&self, digest: &str, bytes: &[u8]) {
        self.shared
            .lock()
            .blobs
            .insert(digest.to_string(), Arc::new(bytes.to_vec()));
    }

    /// Injects `fault` for every request of the blob digest or manifest tag/digest `key`.
    pub fn set_fault(&self, key: &str, fault: Fault) {
        self.insert_fault(key, fault, None);
    }

    /// Injects `fault` for the next `times` requests it applies to, then serves normally
    /// (e.g. a retry succeeds).
    pub fn set_fault_times(&self, key: &str, fault: Fault, times: usize) {
        self.insert_fault(key, fault, Some(times));
    }

    /// Removes the fault on `key`.
    pub fn clear_fault(&self, key: &str) {
        self.shared.lock().faults.remove(key);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    fn insert_fault(&self, key: &str, fault: Fault, remaining: Option<usize>) {
        self.shared
            .lock()
            .faults
            .insert(key.to_string(), FaultSlot { fault, remaining });
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// Waits up to `timeout` for a recorded request matching `pred` (e.g. "the GET of that
    /// blob has started", before a `kill -9`).
    pub fn wait_for_request(
        &self,
        timeout: Duration,
        pred: impl Fn(&RecordedRequest) -> bool,
    ) -> Option<RecordedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(r) = self.shared.lock().requests.iter().find(|r| pred(r)) {
                return Some(r.clone());
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The tokens issued so far by `/token` (bearer mode).
    pub fn issued_tokens(&self) -> Vec<String> {
        let mut t: Vec<String> = self.shared.lock().tokens.keys().cloned().collect();
        t.sort();
        t
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept().
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        if let Some(t) = self.accept.take() {
            if woke {
                let _ = t.join();
            }
        }
        let handles: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.conns.lock().unwrap_or_else(|p| p.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, conns: Arc<Mutex<Vec<JoinHandle<()>>>>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let s = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name(format!("fake-registry-conn-{}", shared.port))
            .spawn(move || serve_conn(stream, s));
        let mut list = conns.lock().unwrap_or_else(|p| p.into_inner());
        // Join what has finished, keep the rest.
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut *list)
            .into_iter()
            .partition(|h| h.is_finished());
        *list = running;
        for h in done {
            let _ = h.join();
        }
        if let Ok(h) = handle {
            list.push(h);
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

enum Delivery {
    Normal,
    TruncateAt(usize),
    Throttle(u64),
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Arc<Vec<u8>>,
    head_only: bool,
    delivery: Delivery,
}

impl Response {
    fn new(status: u16) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: Arc::new(Vec::new()),
            head_only: false,
            delivery: Delivery::Normal,
        }
    }

    fn json(status: u16, body: serde_json::Value) -> Response {
        let mut r = Response::new(status);
        r.body = Arc::new(body.to_string().into_bytes());
        r.header("Content-Type", "application/json")
    }

    fn error(status: u16, code: &str, message: &str) -> Response {
        Response::json(
            status,
            serde_json::json!({"errors": [{"code": code, "message": message, "detail": null}]}),
        )
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

fn serve_conn(mut stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut buf = Vec::new();
    loop {
        let req = match read_request(&mut stream, &mut buf, &shared.stop) {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => {
                let resp = Response::error(400, "UNSUPPORTED", &e.to_string());
                let _ = write_response(&mut stream, &shared, None, resp, true);
                return;
            }
        };
        let close = req.close;
        let resp = handle(&shared, &req);
        match write_response(&mut stream, &shared, Some(&req), resp, close) {
            Ok(true) if !shared.stop.load(Ordering::SeqCst) => continue,
            _ => {
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>, stop: &AtomicBool) -> io::Result<bool> {
    let mut tmp = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut tmp) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                buf.extend_from_slice(&tmp[..n]);
                return Ok(true);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) =>
            {
                if stop.load(Ordering::SeqCst) {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Reads one request; `Ok(None)` on a clean EOF or shutdown.
fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    stop: &AtomicBool,
) -> io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too large",
            ));
        }
        if !read_more(stream, buf, stop)? {
            return Ok(None);
        }
        // A TLS ClientHello (a client trying HTTPS first) is answered at once with a 400, as
        // Go's net/http server does, instead of waiting for a request head that never comes.
        if buf.first().is_some_and(|b| !b.is_ascii_uppercase()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "not an HTTP request (TLS handshake to a plain HTTP server?)",
            ));
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (method, target, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(t), Some(v)) => (m.to_string(), t.to_string(), v.to_string()),
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad request line {request_line:?}"),
            ))
        }
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("transfer-encoding").is_some() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "chunked request bodies are not supported by the fake registry",
        ));
    }
    let len: usize = get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < len {
        if !read_more(stream, buf, stop)? {
            return Ok(None);
        }
    }
    let body: Vec<u8> = buf.drain(..len).collect();
    let connection = get("connection").unwrap_or_default().to_ascii_lowercase();
    let close = connection.contains("close") || version == "HTTP/1.0";
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    Ok(Some(Request {
        method,
        path: percent_decode(&path),
        query,
        headers,
        body,
        close,
    }))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Writes the response; `Ok(true)` if the connection may be reused.
fn write_response(
    stream: &mut TcpStream,
    shared: &Shared,
    req: Option<&Request>,
    resp: Response,
    close: bool,
) -> io::Result<bool> {
    if let Some(req) = req {
        shared.lock().requests.push(RecordedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            headers: req.headers.clone(),
            status: resp.status,
        });
    }
    let close = close || !matches!(resp.delivery, Delivery::Normal);
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
    for (k, v) in &resp.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    head.push_str("Docker-Distribution-API-Version: registry/2.0\r\n");
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if resp.head_only {
        stream.flush()?;
        return Ok(!close);
    }
    match resp.delivery {
        Delivery::Normal => stream.write_all(&resp.body)?,
        Delivery::TruncateAt(n) => {
            stream.write_all(&resp.body[..n.min(resp.body.len())])?;
            stream.flush()?;
            return Ok(false);
        }
        Delivery::Throttle(bytes_per_sec) => {
            let slice = usize::try_from((bytes_per_sec / 20).max(1)).unwrap_or(usize::MAX);
            for chunk in resp.body.chunks(slice) {
                if shared.stop.load(Ordering::SeqCst) {
                    return Ok(false);
                }
                stream.write_all(chunk)?;
                stream.flush()?;
                std::thread::sleep(Duration::from_millis(50));
            }
            return Ok(false);
        }
    }
    stream.flush()?;
    Ok(!close)
}

fn handle(shared: &Shared, req: &Request) -> Response {
    if req.path == "/token" {
        return token_endpoint(shared, req);
    }
    if req.path != "/v2" && !req.path.starts_with("/v2/") {
        return Response::error(404, "NOT_FOUND", "not a registry API path");
    }
    let route = Route::parse(&req.path);
    if let Err(resp) = check_auth(shared, req, route.repo()) {
        return resp;
    }
    let head_only = req.method == "HEAD";
    if req.method != "GET" && !head_only {
        return Response::error(
            405,
            "UNSUPPORTED",
            "the fake registry serves pulls only (GET/HEAD)",
        );
    }
    let mut resp = match route {
        Route::Base => Response::json(200, serde_json::json!({})),
        Route::Manifest(repo, reference) => manifest(shared, req, &repo, &reference),
        Route::Blob(repo, digest) => blob(shared, req, &repo, &digest),
        Route::Tags(repo) => tags(shared, &repo),
        Route::Unknown => Response::error(404, "NOT_FOUND", "unknown registry API path"),
    };
    resp.head_only = head_only;
    resp
}

enum Route {
    Base,
    Manifest(String, String),
    Blob(String, String),
    Tags(String),
    Unknown,
}

impl Route {
    fn parse(path: &str) -> Route {
        let rest = path.trim_start_matches("/v2").trim_start_matches('/');
        if rest.is_empty() {
            return Route::Base;
        }
        if let Some((name, reference)) = rest.rsplit_once("/manifests/") {
            return Route::Manifest(name.to_string(), reference.to_string());
        }
        if let Some((name, digest)) = rest.rsplit_once("/blobs/") {
            return Route::Blob(name.to_string(), digest.to_string());
        }
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return Route::Tags(name.to_string());
        }
        Route::Unknown
    }

    fn repo(&self) -> Option<&str> {
        match self {
            Route::Manifest(r, _) | Route::Blob(r, _) | Route::Tags(r) => Some(r),
            Route::Base | Route::Unknown => None,
        }
    }
}

/// Takes the fault for the first of `keys` that has one applying to `method`, counting it.
fn take_fault(shared: &Shared, keys: &[&str], method: &str) -> Option<Fault> {
    let mut st = shared.lock();
    for key in keys {
        let Some(slot) = st.faults.get_mut(*key) else {
            continue;
        };
        let applies = method == "GET"
            || matches!(
                slot.fault,
                Fault::Status(_) | Fault::RedirectTo(_) | Fault::Delay(_)
            );
        if !applies {
            continue;
        }
        let fault = slot.fault.clone();
        if let Some(n) = slot.remaining.as_mut() {
            *n = n.saturating_sub(1);
            if *n == 0 {
                st.faults.remove(*key);
            }
        }
        return Some(fault);
    }
    None
}

fn sleep_unless_stopped(shared: &Shared, d: Duration) {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline && !shared.stop.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(10).min(deadline - Instant::now()));
    }
}

/// Applies a fault common to manifests and blobs; returns the response if it replaces the
/// normal answer, or the delivery/bytes changes otherwise.
fn apply_fault(
    shared: &Shared,
    req: &Request,
    fault: Option<Fault>,
    unknown_code: &str,
) -> Result<(Option<Fault>, Delivery), Response> {
    match fault {
        Some(Fault::Status(code)) => Err(Response::error(
            code,
            if code == 404 { unknown_code } else { "UNKNOWN" },
            &format!("injected fault: status {code}"),
        )),
        Some(Fault::RedirectTo(base)) => {
            let mut location = format!("{}{}", base.trim_end_matches('/'), req.path);
            if !req.query.is_empty() {
                location.push('?');
                location.push_str(&req.query);
            }
            Err(Response::new(302).header("Location", location))
        }
        Some(Fault::Delay(d)) => {
            sleep_unless_stopped(shared, d);
            Ok((None, Delivery::Normal))
        }
        Some(Fault::Truncate(n)) => Ok((None, Delivery::TruncateAt(n))),
        Some(Fault::Throttle { bytes_per_sec }) => Ok((None, Delivery::Throttle(bytes_per_sec))),
        other => Ok((other, Delivery::Normal)),
    }
}

fn manifest(shared: &Shared, req: &Request, repo: &str, reference: &str) -> Response {
    let entry = shared
        .lock()
        .manifests
        .get(&(repo.to_string(), reference.to_string()))
        .cloned();
    let Some(entry) = entry else {
        return Response::error(404, "MANIFEST_UNKNOWN", "manifest unknown");
    };
    let fault = take_fault(shared, &[reference, &entry.digest], &req.method);
    let (bytes_fault, delivery) = match apply_fault(shared, req, fault, "MANIFEST_UNKNOWN") {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let body = match bytes_fault {
        Some(Fault::WrongBytes) => {
            let mut b = (*entry.bytes).clone();
            b.push(b'\n');
            Arc::new(b)
        }
        Some(Fault::Replace(b)) => Arc::new(b),
        _ => Arc::clone(&entry.bytes),
    };
    let mut r = Response::new(200)
        .header("Content-Type", entry.media_type.clone())
        .header("Docker-Content-Digest", entry.digest.clone())
        .header("ETag", format!("\"{}\"", entry.digest));
    r.body = body;
    r.delivery = delivery;
    r
}

fn blob(shared: &Shared, req: &Request, _repo: &str, digest: &str) -> Response {
    if digest.starts_with("uploads") {
        return Response::error(
            405,
            "UNSUPPORTED",
            "the fake registry does not accept pushes",
        );
    }
    let data = shared.lock().blobs.get(digest).cloned();
    let Some(data) = data else {
        return Response::error(404, "BLOB_UNKNOWN", "blob unknown to registry");
    };
    let fault = take_fault(shared, &[digest], &req.method);
    let (bytes_fault, delivery) = match apply_fault(shared, req, fault, "BLOB_UNKNOWN") {
        Ok(x) => x,
        Err(resp) => return resp,
    };
    let data = match bytes_fault {
        Some(Fault::WrongBytes) => {
            let mut b = (*data).clone();
            if !b.is_empty() {
                let mid = b.len() / 2;
                b[mid] ^= 0xff;
            } else {
                b.push(0);
            }
            Arc::new(b)
        }
        Some(Fault::Replace(b)) => Arc::new(b),
        _ => data,
    };
    let total = data.len();
    let mut r = Response::new(200);
    if let Some(range) = req.header("range") {
        match parse_range(range, total) {
            Some((start, end)) => {
                r = Response::new(206)
                    .header("Content-Range", format!("bytes {start}-{end}/{total}"));
                r.body = Arc::new(data[start..=end].to_vec());
            }
            None => {
                return Response::new(416).header("Content-Range", format!("bytes */{total}"));
            }
        }
    } else {
        r.body = data;
    }
    r.delivery = delivery;
    r.header("Content-Type", "application/octet-stream")
        .header("Docker-Content-Digest", digest)
        .header("Accept-Ranges", "bytes")
        .header("ETag", format!("\"{digest}\""))
}

/// `bytes=N-` or `bytes=N-M` (inclusive), clamped; `None` if unsatisfiable.
fn parse_range(range: &str, total: usize) -> Option<(usize, usize)> {
    let spec = range.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let start: usize = a.trim().parse().ok()?;
    let end: usize = if b.trim().is_empty() {
        total.checked_sub(1)?
    } else {
        b.trim().parse::<usize>().ok()?.min(total.checked_sub(1)?)
    };
    (start <= end && start < total).then_some((start, end))
}

fn tags(shared: &Shared, repo: &str) -> Response {
    let st = shared.lock();
    let mut tags: Vec<String> = st
        .manifests
        .keys()
        .filter(|(r, reference)| r == repo && !reference.contains(':'))
        .map(|(_, t)| t.clone())
        .collect();
    drop(st);
    if tags.is_empty() {
        return Response::error(404, "NAME_UNKNOWN", "repository name not known to registry");
    }
    tags.sort();
    Response::json(200, serde_json::json!({"name": repo, "tags": tags}))
}

fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let value = req.header("authorization")?;
    let (scheme, b64) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (u, p) = decoded.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

fn bearer_token(req: &Request) -> Option<&str> {
    let value = req.header("authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn scope_grants_pull(scope: &str, repo: &str) -> bool {
    let Some(rest) = scope.strip_prefix("repository:") else {
        return false;
    };
    let Some((name, actions)) = rest.rsplit_once(':') else {
        return false;
    };
    name == repo && actions.split(',').any(|a| a == "pull" || a == "*")
}

fn check_auth(shared: &Shared, req: &Request, repo: Option<&str>) -> Result<(), Response> {
    match &shared.auth {
        AuthMode::None => Ok(()),
        AuthMode::Basic { user, pass } => {
            if basic_credentials(req).as_ref() == Some(&(user.clone(), pass.clone())) {
                Ok(())
            } else {
                Err(
                    Response::error(401, "UNAUTHORIZED", "authentication required")
                        .header("WWW-Authenticate", "Basic realm=\"fake-registry\""),
                )
            }
        }
        AuthMode::Bearer { .. } => {
            let granted = bearer_token(req).is_some_and(|t| {
                shared
                    .lock()
                    .tokens
                    .get(t)
                    .is_some_and(|scopes| match repo {
                        None => true,
                        Some(repo) => scopes.iter().any(|s| scope_grants_pull(s, repo)),
                    })
            });
            if granted {
                return Ok(());
            }
            let mut challenge = format!(
                "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"fake\"",
                shared.port
            );
            if let Some(repo) = repo {
                challenge.push_str(&format!(",scope=\"repository:{repo}:pull\""));
            }
            Err(
                Response::error(401, "UNAUTHORIZED", "authentication required")
                    .header("WWW-Authenticate", challenge),
            )
        }
    }
}

fn token_endpoint(shared: &Shared, req: &Request) -> Response {
    let AuthMode::Bearer { user_pass } = &shared.auth else {
        return Response::error(404, "NOT_FOUND", "no token endpoint: bearer auth is off");
    };
    let (params, creds) = match req.method.as_str() {
        "GET" => (parse_query(&req.query), basic_credentials(req)),
        "POST" => {
            let form = parse_query(&String::from_utf8_lossy(&req.body));
            let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let creds = match (field("username"), field("password")) {
                (Some(u), Some(p)) => Some((u, p)),
                _ => basic_credentials(req),
            };
            (form, creds)
        }
        _ => return Response::error(405, "UNSUPPORTED", "token endpoint: GET or POST"),
    };
    if let Some(expected) = user_pass {
        if creds.as_ref() != Some(expected) {
            return Response::json(
                401,
                serde_json::json!({"details": "incorrect username or password"}),
            )
            .header("WWW-Authenticate", "Basic realm=\"fake-token\"");
        }
    }
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let token = {
        let mut st = shared.lock();
        st.next_token += 1;
        let token = format!("fake-token-{}-{}", shared.port, st.next_token);
        st.tokens.insert(token.clone(), scopes);
        token
    };
    Response::json(
        200,
        serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": 300,
            "issued_at": crate::fixtures::FIXED_CREATED,
        }),
    )
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=b&c=d` (form-encoded: `+` is a space) into decoded pairs.
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("repository%3Alibrary%2Fbusybox%3Apull"),
            "repository:library/busybox:pull"
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-", 10), Some((0, 9)));
        assert_eq!(parse_range("bytes=5-7", 10), Some((5, 7)));
        assert_eq!(parse_range("bytes=5-100", 10), Some((5, 9)));
        assert_eq!(parse_range("bytes=10-", 10), None);
    }

    #[test]
    fn scopes() {
        assert!(scope_grants_pull("repository:a/b:pull", "a/b"));
        assert!(scope_grants_pull("repository:a/b:push,pull", "a/b"));
        assert!(!scope_grants_pull("repository:a/b:push", "a/b"));
        assert!(!scope_grants_pull("repository:a/c:pull", "a/b"));
    }

    #[test]
    fn routes() {
        assert!(matches!(Route::parse("/v2/"), Route::Base));
        assert!(
            matches!(Route::parse("/v2/a/b/manifests/latest"), Route::Manifest(r, t) if r == "a/b" && t == "latest")
        );
        assert!(
            matches!(Route::parse("/v2/a/blobs/sha256:00"), Route::Blob(r, d) if r == "a" && d == "sha256:00")
        );
        assert!(matches!(Route::parse("/v2/a/tags/list"), Route::Tags(r) if r == "a"));
    }
}
