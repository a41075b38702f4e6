//! Networks on disk: `<root>/networks/<name>.json` (the network, its IPAM and its live
//! endpoints), changed only under the `networks` lock (one lock for every network, so an
//! address is never handed out twice by two rdesk processes). Per container, run-time state
//! in `<runroot>/net/ctr/<id>.json` (its namespace, veths, port forwarder) and what it is
//! attached to in `<root>/containers/<id>/networks.json` (changed by connect/disconnect).

use super::NetworkError;
use crate::store::fsutil::{self, FileLock};
use crate::store::Store;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub name: String,
    pub id: String,
    pub created: String,
    pub subnet: String,
    pub gateway: Ipv4Addr,
    #[serde(default)]
    pub ip_range: Option<String>,
    #[serde(default)]
    pub internal: bool,
    /// The subnet was given by the user (`--ip` is only allowed then, as in Docker).
    #[serde(default)]
    pub user_subnet: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// The kernel bridge (exists while the network has endpoints).
    pub bridge: String,
    /// The last address handed out (the next allocation starts after it).
    #[serde(default)]
    pub last_ip: Option<Ipv4Addr>,
    /// Live endpoints by container ID.
    #[serde(default)]
    pub endpoints: BTreeMap<String, Endpoint>,
}

impl NetworkRecord {
    /// The default `bridge` network has no embedded DNS (as Docker's).
    pub fn is_default(&self) -> bool {
        self.name == "bridge"
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Endpoint {
    pub container_name: String,
    pub endpoint_id: String,
    pub ip: Ipv4Addr,
    pub mac: String,
    /// Network-scoped aliases (`--network-alias`, `connect --alias`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Names the embedded DNS answers for this endpoint: the container's name, its short
    /// ID, its hostname and its aliases.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// The host-side veth.
    pub veth: String,
    /// `--dns` of the container: its upstream resolvers (else the host's).
    #[serde(default)]
    pub dns_servers: Vec<String>,
}

/// One network a container is attached to (what connect/disconnect change).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Attachment {
    pub network: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
}

/// A running container's network state, for teardown.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RuntimeState {
    /// The bind-mounted namespace we own (none when joining another container's).
    pub netns: Option<PathBuf>,
    /// Network names with an endpoint of this container.
    pub networks: Vec<String>,
    pub proxy_pid: i64,
    pub proxy_start_time: u64,
    /// Published ports as bound: (container port "80/tcp", host ip, host port).
    pub ports: Vec<BoundPort>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BoundPort {
    pub container_port: u16,
    pub proto: String,
    pub host_ip: String,
    pub host_port: u16,
}

pub fn networks_dir(store: &Store) -> PathBuf {
    store.root().join("networks")
}

pub fn runtime_dir(store: &Store) -> PathBuf {
    store.runroot().join("net")
}

pub fn lock(store: &Store) -> Result<FileLock, NetworkError> {
    let p = store.locks_dir().join("networks");
    FileLock::exclusive(&p)
        .map_err(|e| NetworkError::Io(format!("cannot lock {}: {e}", p.display())))
}

fn read_json<T: serde::de::DeserializeOwned>(p: &Path) -> Result<Option<T>, NetworkError> {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| NetworkError::Io(format!("{} is corrupt: {e}", p.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(NetworkError::Io(format!(
            "cannot read {}: {e}",
            p.display()
        ))),
    }
}

fn write_json<T: Serialize>(p: &Path, v: &T) -> Result<(), NetworkError> {
    let bytes = serde_json::to_vec_pretty(v).map_err(|e| NetworkError::Io(e.to_string()))?;
    if let Some(d) = p.parent() {
        fsutil::mkdir_private(d)
            .map_err(|e| NetworkError::Io(format!("cannot create {}: {e}", d.display())))?;
    }
    fsutil::write_atomic(p, &bytes)
        .map_err(|e| NetworkError::Io(format!("cannot write {}: {e}", p.display())))
}

pub fn load_all(store: &Store) -> Result<Vec<NetworkRecord>, NetworkError> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(networks_dir(store)) else {
        return Ok(out);
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "json") {
            if let Some(r) = read_json::<NetworkRecord>(&p)? {
                out.push(r);
            }
        }
    }
    out.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
    Ok(out)
}

pub fn save(store: &Store, r: &NetworkRecord) -> Result<(), NetworkError> {
    write_json(&networks_dir(store).join(format!("{}.json", r.name)), r)
}

pub fn delete(store: &Store, name: &str) -> Result<(), NetworkError> {
    let p = networks_dir(store).join(format!("{name}.json"));
    std::fs::remove_file(&p)
        .map_err(|e| NetworkError::Io(format!("cannot remove {}: {e}", p.display())))
}

/// By exact name, full ID, or unique ID prefix (Docker's lookup order).
pub fn find<'a>(all: &'a [NetworkRecord], name: &str) -> Result<&'a NetworkRecord, NetworkError> {
    if let Some(r) = all.iter().find(|r| r.name == name || r.id == name) {
        return Ok(r);
    }
    let hits: Vec<&NetworkRecord> =
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            all.iter().filter(|r| r.id.starts_with(name)).collect()
        } else {
            vec![]
        };
    match hits.len() {
        1 => Ok(hits[0]),
        0 => Err(NetworkError::NotFound(name.to_string())),
        _ => Err(NetworkError::Ambiguous(name.to_string())),
    }
}

fn runtime_path(store: &Store, id: &str) -> PathBuf {
    runtime_dir(store).join("ctr").join(format!("{id}.json"))
}

pub fn load_runtime(store: &Store, id: &str) -> Option<RuntimeState> {
    read_json(&runtime_path(store, id)).ok().flatten()
}

pub fn save_runtime(store: &Store, id: &str, st: &RuntimeState) -> Result<(), NetworkError> {
    write_json(&runtime_path(store, id), st)
}

pub fn remove_runtime(store: &Store, id: &str) {
    let _ = std::fs::remove_file(runtime_path(store, id));
}

fn attachments_path(store: &Store, id: &str) -> PathBuf {
    store
        .root()
        .join("containers")
        .join(id)
        .join("networks.json")
}

pub fn load_attachments(store: &Store, id: &str) -> Option<Vec<Attachment>> {
    read_json(&attachments_path(store, id)).ok().flatten()
}

pub fn save_attachments(store: &Store, id: &str, a: &[Attachment]) -> Result<(), NetworkError> {
    write_json(&attachments_path(store, id), &a)
}
