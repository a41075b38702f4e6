//! Runs the real `rdesk` binary against a private store (temp root and run dir), with a
//! private config and HOME so nothing on the machine leaks in.

#![allow(dead_code)]

use rdesk_testkit::fixtures;
use rdesk_testkit::registry::Registry;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Rdesk {
    pub dir: tempfile::TempDir,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    pub fn fails(self, code: i32, stderr_has: &str) -> Run {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(stderr_has),
            "stderr should contain {stderr_has:?}:\n{}",
            self.stderr
        );
        self
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        }
    }
}

impl Rdesk {
    pub fn new() -> Rdesk {
        let dir = tempfile::Builder::new()
            .prefix("rdesk-test-")
            .tempdir()
            .expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::write(dir.path().join("config.toml"), "").unwrap();
        Rdesk { dir }
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    pub fn set_config(&self, toml: &str) {
        std::fs::write(self.dir.path().join("config.toml"), toml).unwrap();
    }
    /// Writes `~/.docker/config.json` with credentials for `registry`.
    pub fn login(&self, registry: &str, user: &str, pass: &str) {
        let d = self.home().join(".docker");
        std::fs::create_dir_all(&d).unwrap();
        let cfg = serde_json::json!({"auths": {registry: {"username": user, "password": pass}}});
        std::fs::write(d.join("config.json"), cfg.to_string()).unwrap();
    }
    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rdesk"));
        c.arg("--root")
            .arg(self.root())
            .arg("--runroot")
            .arg(self.dir.path().join("run"));
        c.args(args);
        c.env("RDESK_CONFIG", self.dir.path().join("config.toml"))
            .env("HOME", self.home())
            .env_remove("DOCKER_CONFIG")
            .env_remove("RDESK_ROOT")
            .env_remove("RDESK_RUNROOT")
            .stdin(Stdio::null());
        c
    }
    pub fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("run rdesk").into()
    }
    /// Entries left in the ingest area (must be none after any command).
    pub fn ingest_entries(&self) -> Vec<String> {
        std::fs::read_dir(self.root().join("ingest"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn layer_dirs(&self) -> Vec<String> {
        std::fs::read_dir(self.root().join("layers"))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.len() == 64)
                    .collect()
            })
            .unwrap_or_default()
    }
    pub fn images_json(&self) -> serde_json::Value {
        std::fs::read(self.root().join("images.json"))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(serde_json::json!({"images": []}))
    }
    pub fn image_count(&self) -> usize {
        self.images_json()["images"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    }
    pub fn diff_dir(&self, chain_id: &str) -> PathBuf {
        self.root()
            .join("layers")
            .join(chain_id.trim_start_matches("sha256:"))
            .join("diff")
    }
}

pub fn exists(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok()
}

/// A store with the project's busybox image pulled from a real local registry; returns the
/// registry (keep it alive), the store and the image reference.
pub fn with_busybox() -> (Registry, Rdesk, String) {
    let reg = Registry::start();
    reg.push("library/busybox", "latest", &fixtures::busybox_image());
    let rd = Rdesk::new();
    let image = format!("{}/library/busybox", reg.addr());
    rd.run(&["pull", "-q", &image]).ok();
    (reg, rd, image)
}

/// Removes every container of the store (they may still run after a failed assertion).
pub struct Cleanup<'a>(pub &'a Rdesk);
impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        let ids = self.0.run(&["ps", "-aq", "--no-trunc"]).stdout;
        for id in ids.lines() {
            let _ = self.0.run(&["rm", "-f", id]);
        }
    }
}

/// A tmux server of our own (a real terminal, its own socket, no user config), killed
/// at the end even on failure.
pub struct Tmux {
    socket: String,
    /// The socket file (tmux leaves it behind after kill-server).
    socket_path: Option<PathBuf>,
}

impl Tmux {
    /// `cmd` in a 100x30 pane.
    pub fn new(cmd: &str) -> Tmux {
        Tmux::start(cmd, 100, 30)
    }

    /// `cmd` in a `width`x`height` pane.
    pub fn start(cmd: &str, width: u16, height: u16) -> Tmux {
        let socket = format!(
            "rdesk-ct-{}-{}",
            std::process::id(),
            rdesk_testkit::free_port()
        );
        let mut t = Tmux {
            socket,
            socket_path: None,
        };
        let out = t.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            cmd,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let path = t.format("#{socket_path}");
        t.socket_path = (!path.is_empty()).then(|| path.into());
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux")
    }

    /// Keys by tmux name (`Enter`, `Escape`, `q`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }

    /// Text typed literally.
    pub fn type_text(&self, text: &str) {
        assert!(self
            .tmux(&["send-keys", "-t", "t", "-l", text])
            .status
            .success());
    }

    pub fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-J", "-t", "t", "-p"]).stdout)
            .into_owned()
    }

    /// A tmux format of the pane (`#{pane_pid}`, `#{alternate_on}`).
    pub fn format(&self, f: &str) -> String {
        String::from_utf8_lossy(&self.tmux(&["display-message", "-p", "-t", "t", f]).stdout)
            .trim()
            .to_string()
    }

    #[track_caller]
    pub fn wait_for(&self, text: &str) {
        self.wait_count(text, 1);
    }

    /// Waits until `text` is on the screen `n` times (a prompt also named in the command line).
    #[track_caller]
    pub fn wait_count(&self, text: &str, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.screen().matches(text).count() < n {
            assert!(
                Instant::now() < deadline,
                "{text:?} never appeared; screen:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Polls the pane until `ok` holds; on timeout fails showing the screen.
    #[track_caller]
    pub fn wait_until(&self, what: &str, timeout: Duration, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            if start.elapsed() > timeout {
                panic!("timed out after {timeout:?} waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
        if let Some(p) = &self.socket_path {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The store's kernel-object prefix (`rd` + 4 hex of its root), as the engine derives it.
pub fn prefix(rd: &Rdesk) -> String {
    let store = rdesk_engine::store::Store::open(&rd.root(), &rd.dir.path().join("run")).unwrap();
    rdesk_engine::network::kernel_prefix(&store)
}

pub fn links_with(prefix: &str) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with(prefix))
        .collect()
}

pub fn nft_has_table(prefix: &str) -> bool {
    let out = std::process::Command::new("nft")
        .args(["list", "tables"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == format!("table ip {prefix}"))
}

pub fn netns_files(rd: &Rdesk) -> Vec<String> {
    std::fs::read_dir(rd.dir.path().join("run/net/ns"))
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Removes the store's containers and networks, then asserts (and, on failure, cleans up)
/// that no veth, bridge, namespace or nft table of the store is left. Points the store's
/// DNS upstream at 127.0.0.1 meanwhile.
pub struct NetCleanup<'a> {
    rd: &'a Rdesk,
    pub prefix: String,
}

impl<'a> NetCleanup<'a> {
    pub fn new(rd: &'a Rdesk) -> Self {
        rd.set_config("[network]\ndns_upstream = [\"127.0.0.1\"]\n");
        NetCleanup {
            rd,
            prefix: prefix(rd),
        }
    }
    fn leftovers(&self) -> Vec<String> {
        let mut v: Vec<String> = links_with(&self.prefix)
            .into_iter()
            .map(|l| format!("link {l}"))
            .collect();
        if nft_has_table(&self.prefix) {
            v.push(format!("nft table ip {}", self.prefix));
        }
        v.extend(
            netns_files(self.rd)
                .into_iter()
                .map(|n| format!("netns {n}")),
        );
        v
    }
}

impl Drop for NetCleanup<'_> {
    fn drop(&mut self) {
        let ids = self.rd.run(&["ps", "-aq", "--no-trunc"]).stdout;
        for id in ids.lines() {
            let _ = self.rd.run(&["rm", "-f", id]);
        }
        let _ = self.rd.run(&["network", "prune", "-f"]);
        // Helpers exit on their own once idle; the kernel drops a namespace's veth lazily.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut left = self.leftovers();
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = self.leftovers();
        }
        // Force the machine clean whatever happened, then fail if something was left.
        for l in links_with(&self.prefix) {
            let _ = std::process::Command::new("ip")
                .args(["link", "del", &l])
                .status();
        }
        let _ = std::process::Command::new("nft")
            .args(["delete", "table", "ip", &self.prefix])
            .stderr(std::process::Stdio::null())
            .status();
        for n in netns_files(self.rd) {
            let p = self.rd.dir.path().join("run/net/ns").join(n);
            let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
        }
        if !std::thread::panicking() {
            assert!(left.is_empty(), "left behind: {left:?}");
        }
    }
}

pub fn rdesk_cmd(rd: &Rdesk, args: &str) -> String {
    format!(
        "RDESK_CONFIG={} HOME={} {} --root {} --runroot {} {args}",
        rd.dir.path().join("config.toml").display(),
        rd.home().display(),
        env!("CARGO_BIN_EXE_rdesk"),
        rd.root().display(),
        rd.dir.path().join("run").display()
    )
}
