//! Engine configuration: store locations, registries (insecure list, docker.io mirrors,
//! certificate dirs) and unpack bounds. Read from `/etc/rdesk/config.toml`, then the user's
//! `$XDG_CONFIG_HOME/rdesk/config.toml` (or `$RDESK_CONFIG`), then environment variables.
//! Every key is documented in `assets/config.toml`.

use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

pub const DEFAULT_ROOT: &str = "/var/lib/rdesk";
pub const DEFAULT_RUNROOT: &str = "/run/rdesk";
pub const SYSTEM_CONFIG: &str = "/etc/rdesk/config.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub root: PathBuf,
    pub runroot: PathBuf,
    pub registries: RegistriesConfig,
    pub limits: LimitsConfig,
    /// Docker's client config (for `auths`); `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
    /// The binary that serves `shim start` (the running rdesk binary).
    pub shim_binary: PathBuf,
    /// `syncfs` every unpacked layer before marking it complete (durable against power loss,
    /// at the cost of waiting for the disk). Off by default, as Docker and containerd.
    pub sync_layers: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistriesConfig {
    /// Registries reached over plain HTTP (or HTTPS without verification), as Docker's
    /// `insecure-registries`. Loopback registries are always insecure, as in Docker.
    pub insecure: Vec<String>,
    /// Mirrors per registry; only `docker.io` is consulted, as in Docker.
    pub mirrors: HashMap<String, Vec<String>>,
    /// Per-registry CA certificates: `<certs_dir>/<host[:port]>/*.crt`, as `/etc/docker/certs.d`.
    pub certs_dir: PathBuf,
    /// Layers downloaded at once per pull (Docker's max-concurrent-downloads).
    pub max_concurrent_downloads: usize,
}

impl Default for RegistriesConfig {
    fn default() -> Self {
        RegistriesConfig {
            insecure: Vec::new(),
            mirrors: HashMap::new(),
            certs_dir: PathBuf::from("/etc/rdesk/certs.d"),
            max_concurrent_downloads: 3,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest manifest or index accepted (Docker: 4 MiB).
    pub max_manifest_bytes: u64,
    /// Largest image config accepted.
    pub max_config_bytes: u64,
    /// Largest uncompressed layer (sum of file sizes).
    pub max_layer_bytes: u64,
    /// Most entries in one layer.
    pub max_layer_entries: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_manifest_bytes: 4 << 20,
            max_config_bytes: 8 << 20,
            max_layer_bytes: 64 << 30,
            max_layer_entries: 5_000_000,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FileConfig {
    registries: Option<RegistriesConfig>,
    limits: Option<LimitsConfig>,
    // Sections owned by other parts of rdesk; parsed where they are used.
    network: Option<toml::Value>,
    tui: Option<toml::Value>,
    store: Option<StoreSection>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct StoreSection {
    root: Option<PathBuf>,
    runroot: Option<PathBuf>,
    sync_layers: Option<bool>,
}

impl EngineConfig {
    /// Defaults, then config files, then `RDESK_ROOT` / `RDESK_RUNROOT`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut cfg = EngineConfig::with_root(DEFAULT_ROOT, DEFAULT_RUNROOT);
        for path in config_files() {
            if path.exists() {
                cfg.apply_file(&path)?;
            }
        }
        if let Some(root) = std::env::var_os("RDESK_ROOT").filter(|v| !v.is_empty()) {
            cfg.root = PathBuf::from(root);
        }
        if let Some(run) = std::env::var_os("RDESK_RUNROOT").filter(|v| !v.is_empty()) {
            cfg.runroot = PathBuf::from(run);
        }
        Ok(cfg)
    }

    /// Defaults with the given store locations (tests, `--root`).
    pub fn with_root(root: impl Into<PathBuf>, runroot: impl Into<PathBuf>) -> Self {
        EngineConfig {
            root: root.into(),
            runroot: runroot.into(),
            registries: RegistriesConfig::default(),
            limits: LimitsConfig::default(),
            docker_config: docker_config_path(),
            shim_binary: default_shim_binary(),
            sync_layers: false,
        }
    }

    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let file: FileConfig = toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        if let Some(r) = file.registries {
            self.registries = r;
        }
        if let Some(l) = file.limits {
            self.limits = l;
        }
        if let Some(s) = file.store {
            if let Some(root) = s.root {
                self.root = root;
            }
            if let Some(run) = s.runroot {
                self.runroot = run;
            }
            if let Some(sync) = s.sync_layers {
                self.sync_layers = sync;
            }
        }
        let _ = (file.network, file.tui);
        Ok(())
    }
}

/// The config files in the order they apply: `$RDESK_CONFIG` alone when set, else the
/// system file then the user's (`$XDG_CONFIG_HOME` or `~/.config`).
pub fn config_files() -> Vec<PathBuf> {
    if let Some(explicit) = std::env::var_os("RDESK_CONFIG").filter(|v| !v.is_empty()) {
        return vec![PathBuf::from(explicit)];
    }
    let mut files = vec![PathBuf::from(SYSTEM_CONFIG)];
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = xdg {
        files.push(dir.join("rdesk/config.toml"));
    }
    files
}

/// The companion `rdesk-shim` next to the running binary, else the running binary itself
/// (`rdesk shim ...` serves the same role).
fn default_shim_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("rdesk"));
    match exe.parent().map(|d| d.join("rdesk-shim")) {
        Some(companion) if companion.is_file() => companion,
        _ => exe,
    }
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_overrides_defaults_and_rejects_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(
            &p,
            "[registries]\ninsecure = [\"reg.local:5000\"]\nmirrors = { \"docker.io\" = [\"http://127.0.0.1:1\"] }\n[limits]\nmax_manifest_bytes = 1024\n",
        )
        .unwrap();
        let mut cfg = EngineConfig::with_root("/r", "/run/r");
        cfg.apply_file(&p).unwrap();
        assert_eq!(cfg.registries.insecure, vec!["reg.local:5000"]);
        assert_eq!(
            cfg.registries.mirrors["docker.io"],
            vec!["http://127.0.0.1:1"]
        );
        assert_eq!(cfg.limits.max_manifest_bytes, 1024);
        assert_eq!(
            cfg.limits.max_config_bytes,
            LimitsConfig::default().max_config_bytes
        );
        assert!(!cfg.sync_layers);
        std::fs::write(&p, "[store]\nsync_layers = true\n").unwrap();
        cfg.apply_file(&p).unwrap();
        assert!(cfg.sync_layers);

        std::fs::write(&p, "[registries]\ninsecur = []\n").unwrap();
        let err = cfg.apply_file(&p).unwrap_err().to_string();
        assert!(err.contains("insecur"), "{err}");
    }
}
