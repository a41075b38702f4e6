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

/// A tmux server of our own (a real terminal), killed at the end even on failure.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn new(cmd: &str) -> Tmux {
        let socket = format!(
            "rdesk-ct-{}-{}",
            std::process::id(),
            rdesk_testkit::free_port()
        );
        let t = Tmux { socket };
        let ok = std::process::Command::new("tmux")
            .args([
                "-L",
                &t.socket,
                "new-session",
                "-d",
                "-s",
                "t",
                "-x",
                "100",
                "-y",
                "30",
                cmd,
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "tmux starts");
        t
    }
    pub fn keys(&self, keys: &[&str]) {
        let mut c = std::process::Command::new("tmux");
        c.args(["-L", &self.socket, "send-keys", "-t", "t"])
            .args(keys);
        assert!(c.status().unwrap().success());
    }
    pub fn screen(&self) -> String {
        let out = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-J", "-t", "t", "-p"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
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
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = std::process::Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
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
