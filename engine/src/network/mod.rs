//! Networks: bridge networks with IPAM, a network namespace and veth per container, an
//! embedded DNS for names and aliases on user-defined networks, published ports, outbound
//! access (NAT). Design and decisions: docs/networks.md.
//!
//! - `store`: the records (`<root>/networks/<name>.json`) and per-container state.
//! - `ipam`: subnets and addresses; `netlink`: links, addresses, routes; `netns`: named
//!   namespaces; `nat`: rdesk's nftables table.
//! - `dns`: the per-network responder; `portproxy`: the per-container port forwarder. Both
//!   are helper processes (fork+exec of the shim binary), started on demand.

mod api;
pub mod dns;
pub mod ipam;
pub mod nat;
pub mod netlink;
pub mod netns;
pub mod portproxy;
pub mod store;

use crate::container::{ContainerRecord, ContainerStore};
use crate::store::fsutil;
use crate::store::Store;
pub use api::{ConnectNetworkOptions, DisconnectNetworkOptions};
use ipam::Cidr;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use store::{Attachment, BoundPort, Endpoint, NetworkRecord, RuntimeState};

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("network {0} not found")]
    NotFound(String),
    #[error("network {0} is ambiguous (multiple networks with this ID prefix)")]
    Ambiguous(String),
    #[error("network with name {0} already exists")]
    Exists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Io(String),
    #[error("{0}")]
    Kernel(String),
}

impl From<NetworkError> for crate::Error {
    fn from(e: NetworkError) -> Self {
        match e {
            NetworkError::Invalid(m) => crate::Error::InvalidArgument(m),
            other => crate::Error::Network(other),
        }
    }
}

type Result<T, E = NetworkError> = std::result::Result<T, E>;

fn kernel(what: &str) -> impl Fn(std::io::Error) -> NetworkError + '_ {
    move |e| NetworkError::Kernel(format!("{what}: {e}"))
}

/// What `create`/`run` asked for about networking (part of the container's spec).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct NetworkSpec {
    /// `--network`: bridge (default), none, host, container:NAME, or a network name.
    pub mode: Option<String>,
    /// `--network-alias`
    pub aliases: Vec<String>,
    /// `--ip`
    pub ip: Option<String>,
    /// `--dns`, `--dns-search`, `--dns-option`
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    /// `--add-host host:ip`
    pub extra_hosts: Vec<String>,
    /// `-p` specs as given (validated at create).
    pub publish: Vec<String>,
    /// `-P`: publish every exposed port on a random host port.
    pub publish_all: bool,
    /// `--expose`
    pub expose: Vec<String>,
}

/// `[network]` of the config files.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetworkConfig {
    /// Upstream resolvers for the embedded DNS (else the host's resolv.conf).
    pub dns_upstream: Vec<String>,
    /// Subnets `network create` picks from when none is given (else Docker's pools).
    pub default_subnet_pool: Vec<String>,
}

impl NetworkConfig {
    /// From the config files (the same ones `EngineConfig::from_env` reads).
    pub fn load() -> NetworkConfig {
        let mut cfg = NetworkConfig::default();
        for p in crate::config::config_files() {
            let Ok(text) = std::fs::read_to_string(&p) else {
                continue;
            };
            let Ok(v) = text.parse::<toml::Table>() else {
                continue;
            };
            if let Some(n) = v.get("network").cloned() {
                if let Ok(c) = n.try_into::<NetworkConfig>() {
                    cfg = c;
                }
            }
        }
        cfg
    }
    fn pool(&self) -> Vec<Cidr> {
        let own: Vec<Cidr> = self
            .default_subnet_pool
            .iter()
            .filter_map(|s| Cidr::parse(s).ok())
            .collect();
        if own.is_empty() {
            ipam::default_pool()
        } else {
            own
        }
    }
}

/// The prefix of this store's kernel objects: `rdesk` for the default store, else `rd` and
/// 4 hex of its root (the same derivation as the cgroup parent), so test stores never clash.
pub fn kernel_prefix(store: &Store) -> String {
    crate::container::cgroup_parent(store)
        .trim_start_matches('/')
        .trim_start_matches("rdesk-")
        .to_string()
}

fn bridge_name(store: &Store, name: &str, id: &str) -> String {
    let p = kernel_prefix(store);
    if name == "bridge" {
        format!("{p}0")
    } else {
        format!("{p}b{}", &id[..8])
    }
}

fn short(id: &str) -> &str {
    &id[..12.min(id.len())]
}

/// Docker's rule for network names (and aliases): `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn valid_name(n: &str) -> bool {
    crate::container::names::valid(n)
}

/// Options of `network create`.
#[derive(Debug, Clone, Default)]
pub struct CreateNetworkOptions {
    pub name: String,
    pub driver: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// Machine-wide mutual exclusion for picking subnets and creating bridges, across stores:
/// an abstract unix socket only one process can bind (no file outside the store; released
/// when the process exits, even killed).
pub(crate) struct HostLock(#[allow(dead_code)] std::os::unix::net::UnixListener);

fn host_lock() -> Result<HostLock> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(b"rdesk-network-ipam")
        .map_err(|e| NetworkError::Io(e.to_string()))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match std::os::unix::net::UnixListener::bind_addr(&addr) {
            Ok(l) => return Ok(HostLock(l)),
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrInUse
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(2))
            }
            Err(e) => {
                return Err(NetworkError::Io(format!(
                    "cannot take the network lock: {e}"
                )))
            }
        }
    }
}

/// Subnets the host routes itself (never picked for a network).
fn host_routes() -> Vec<Cidr> {
    let mut out = Vec::new();
    if let Ok(mut nl) = netlink::Netlink::open() {
        if let Ok(routes) = nl.ipv4_routes() {
            out.extend(routes.into_iter().map(|(a, p)| Cidr { addr: a, prefix: p }));
        }
    }
    out
}

fn new_record(
    store: &Store,
    all: &[NetworkRecord],
    o: &CreateNetworkOptions,
    cfg: &NetworkConfig,
) -> Result<NetworkRecord> {
    let in_use: Vec<Cidr> = all
        .iter()
        .filter_map(|r| Cidr::parse(&r.subnet).ok())
        .collect();
    let (subnet, user_subnet) = match &o.subnet {
        Some(s) => {
            let c = Cidr::parse(s).map_err(NetworkError::Invalid)?;
            if c.prefix > 30 {
                return Err(NetworkError::Invalid(format!(
                    "invalid subnet {s}: a bridge network needs at least /30"
                )));
            }
            if let Some(o) = all
                .iter()
                .find(|r| Cidr::parse(&r.subnet).is_ok_and(|x| x.overlaps(&c)))
            {
                return Err(NetworkError::Conflict(format!(
                    "invalid pool request: Pool overlaps with other one on this address space (network {})",
                    o.name
                )));
            }
            (c.canonical(), true)
        }
        None => {
            // Never a subnet another network has, nor one the host routes.
            let mut taken = in_use.clone();
            taken.extend(host_routes());
            let picked = ipam::pick_subnet(&cfg.pool(), &taken).ok_or_else(|| {
                NetworkError::Conflict(
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                )
            })?;
            (picked, false)
        }
    };
    let gateway = match &o.gateway {
        Some(g) => {
            let ip: Ipv4Addr = g
                .parse()
                .map_err(|_| NetworkError::Invalid(format!("invalid gateway address {g}")))?;
            if o.subnet.is_none() {
                return Err(NetworkError::Invalid(
                    "no matching subnet for gateway ".to_string() + g,
                ));
            }
            if !subnet.contains(ip) || ip == subnet.network() || ip == subnet.broadcast() {
                return Err(NetworkError::Invalid(format!(
                    "no matching subnet for gateway {g}"
                )));
            }
            ip
        }
        None => subnet.first_host(),
    };
    let ip_range = match &o.ip_range {
        Some(r) => {
            let c = Cidr::parse(r).map_err(NetworkError::Invalid)?;
            if o.subnet.is_none() || !subnet.contains(c.network()) || c.prefix < subnet.prefix {
                return Err(NetworkError::Invalid(format!(
                    "no matching subnet for range {r}"
                )));
            }
            Some(c.canonical().to_string())
        }
        None => None,
    };
    let id = crate::container::new_id();
    Ok(NetworkRecord {
        name: o.name.clone(),
        bridge: bridge_name(store, &o.name, &id),
        id,
        created: crate::now_rfc3339(),
        subnet: subnet.to_string(),
        gateway,
        ip_range,
        internal: o.internal,
        user_subnet,
        labels: o.labels.clone(),
        options: o.options.clone(),
        last_ip: None,
        endpoints: BTreeMap::new(),
    })
}

/// The default `bridge` network, created in the store on first use.
fn ensure_default(store: &Store, cfg: &NetworkConfig) -> Result<()> {
    let _l = store::lock(store)?;
    let all = store::load_all(store)?;
    if all.iter().any(|r| r.name == "bridge") {
        return Ok(());
    }
    let rec = new_record(
        store,
        &all,
        &CreateNetworkOptions {
            name: "bridge".into(),
            ..Default::default()
        },
        cfg,
    )?;
    store::save(store, &rec)
}

pub(crate) fn create_network(store: &Store, o: CreateNetworkOptions) -> Result<String> {
    let cfg = NetworkConfig::load();
    ensure_default(store, &cfg)?;
    if !o.driver.is_empty() && o.driver != "bridge" {
        return Err(NetworkError::Invalid(format!(
            "plugin \"{}\" not found: rdesk supports the bridge driver",
            o.driver
        )));
    }
    if o.name == "bridge" {
        return Err(NetworkError::Exists(o.name));
    }
    if matches!(o.name.as_str(), "host" | "none" | "default") {
        return Err(NetworkError::Conflict(
            format!(
                "operation is not permitted on predefined {} network ",
                o.name
            )
            .trim_end()
            .to_string(),
        ));
    }
    if !valid_name(&o.name) {
        return Err(NetworkError::Invalid(format!(
            "invalid network name \"{}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
            o.name
        )));
    }
    let _l = store::lock(store)?;
    let all = store::load_all(store)?;
    if all.iter().any(|r| r.name == o.name) {
        return Err(NetworkError::Exists(o.name));
    }
    let rec = new_record(store, &all, &o, &cfg)?;
    store::save(store, &rec)?;
    crate::events::append(store, "network", "create", &rec.id, &rec.name, "");
    Ok(rec.id)
}

fn to_model(r: &NetworkRecord) -> bollard_stubs::models::Network {
    use bollard_stubs::models::{Ipam, IpamConfig, Network, NetworkContainer};
    let prefix = Cidr::parse(&r.subnet).map(|c| c.prefix).unwrap_or(16);
    let containers: HashMap<String, NetworkContainer> = r
        .endpoints
        .iter()
        .map(|(id, e)| {
            (
                id.clone(),
                NetworkContainer {
                    name: Some(e.container_name.clone()),
                    endpoint_id: Some(e.endpoint_id.clone()),
                    mac_address: Some(e.mac.clone()),
                    ipv4_address: Some(format!("{}/{prefix}", e.ip)),
                    ipv6_address: Some(String::new()),
                },
            )
        })
        .collect();
    let mut options: HashMap<String, String> = r.options.clone().into_iter().collect();
    options
        .entry("com.docker.network.bridge.name".into())
        .or_insert_with(|| r.bridge.clone());
    Network {
        name: Some(r.name.clone()),
        id: Some(r.id.clone()),
        created: Some(r.created.clone()),
        scope: Some("local".into()),
        driver: Some("bridge".into()),
        enable_ipv4: Some(true),
        enable_ipv6: Some(false),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(vec![IpamConfig {
                subnet: Some(r.subnet.clone()),
                ip_range: r.ip_range.clone(),
                gateway: Some(r.gateway.to_string()),
                auxiliary_addresses: None,
            }]),
            options: Some(HashMap::new()),
        }),
        internal: Some(r.internal),
        attachable: Some(false),
        ingress: Some(false),
        config_only: Some(false),
        containers: Some(containers),
        options: Some(options),
        labels: Some(r.labels.clone().into_iter().collect()),
        ..Default::default()
    }
}

/// Docker's pre-defined `host` and `none` networks (no records: nothing to manage).
fn predefined(name: &str) -> bollard_stubs::models::Network {
    use bollard_stubs::models::{Ipam, Network};
    let id = crate::digest::Digest::of(format!("rdesk-predefined-{name}").as_bytes())
        .hex()
        .to_string();
    Network {
        name: Some(name.into()),
        id: Some(id.to_string()),
        created: Some("0001-01-01T00:00:00Z".into()),
        scope: Some("local".into()),
        driver: Some(if name == "host" { "host" } else { "null" }.into()),
        enable_ipv4: Some(true),
        enable_ipv6: Some(false),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(vec![]),
            options: None,
        }),
        internal: Some(false),
        attachable: Some(false),
        ingress: Some(false),
        config_only: Some(false),
        containers: Some(HashMap::new()),
        options: Some(HashMap::new()),
        labels: Some(HashMap::new()),
        ..Default::default()
    }
}

/// Filters of `network ls` / `prune`: name=, id=, label=KEY[=VALUE], driver=, type=custom|builtin.
#[derive(Debug, Clone, Default)]
pub struct NetworkFilters {
    pub name: Vec<String>,
    pub id: Vec<String>,
    pub label: Vec<String>,
    pub driver: Vec<String>,
    pub kind: Vec<String>,
}

fn matches(f: &NetworkFilters, n: &bollard_stubs::models::Network) -> bool {
    let name = n.name.as_deref().unwrap_or("");
    let id = n.id.as_deref().unwrap_or("");
    let builtin = matches!(name, "bridge" | "host" | "none");
    (f.name.is_empty() || f.name.iter().any(|x| name.contains(x.as_str())))
        && (f.id.is_empty() || f.id.iter().any(|x| id.starts_with(x.as_str())))
        && (f.driver.is_empty()
            || f.driver
                .iter()
                .any(|x| Some(x.as_str()) == n.driver.as_deref()))
        && (f.kind.is_empty() || f.kind.iter().any(|k| (k == "builtin") == builtin))
        && f.label.iter().all(|l| {
            let labels = n.labels.clone().unwrap_or_default();
            match l.split_once('=') {
                Some((k, v)) => labels.get(k).is_some_and(|x| x == v),
                None => labels.contains_key(l),
            }
        })
}

pub(crate) fn list_networks(
    store: &Store,
    filters: &NetworkFilters,
) -> Result<Vec<bollard_stubs::models::Network>> {
    ensure_default(store, &NetworkConfig::load())?;
    let mut out: Vec<_> = store::load_all(store)?.iter().map(to_model).collect();
    out.push(predefined("host"));
    out.push(predefined("none"));
    out.retain(|n| matches(filters, n));
    Ok(out)
}

pub(crate) fn inspect_network(store: &Store, name: &str) -> Result<bollard_stubs::models::Network> {
    ensure_default(store, &NetworkConfig::load())?;
    if matches!(name, "host" | "none") {
        return Ok(predefined(name));
    }
    let all = store::load_all(store)?;
    let r = store::find(&all, name)?;
    Ok(to_model(r))
}

pub(crate) fn remove_network(store: &Store, name: &str) -> Result<()> {
    if matches!(name, "host" | "none" | "bridge") {
        return Err(NetworkError::Conflict(format!(
            "{name} is a pre-defined network and cannot be removed"
        )));
    }
    let _l = store::lock(store)?;
    let all = store::load_all(store)?;
    let r = store::find(&all, name)?.clone();
    if r.name == "bridge" {
        return Err(NetworkError::Conflict(
            "bridge is a pre-defined network and cannot be removed".into(),
        ));
    }
    if let Some((id, e)) = r.endpoints.iter().next() {
        return Err(NetworkError::Conflict(format!(
            "error while removing network: network {} has active endpoints (name:\"{}\" id:\"{}\")",
            r.name,
            e.container_name,
            short(id)
        )));
    }
    // No endpoints: its bridge is already gone (kept only while in use); be sure.
    if let Ok(mut nl) = netlink::Netlink::open() {
        let _ = nl.delete_link(&r.bridge);
    }
    store::delete(store, &r.name)?;
    crate::events::append(store, "network", "destroy", &r.id, &r.name, "");
    Ok(())
}

/// Removes user-defined networks no container uses (no live endpoint and no container
/// attached to them); returns their names.
pub(crate) fn prune_networks(store: &Store, filters: &NetworkFilters) -> Result<Vec<String>> {
    let attached: BTreeSet<String> = ContainerStore::new(store)
        .all()
        .iter()
        .flat_map(|(r, _)| attachments(store, r).into_iter().map(|a| a.network))
        .collect();
    let candidates: Vec<String> = store::load_all(store)?
        .iter()
        .filter(|r| r.name != "bridge" && r.endpoints.is_empty() && !attached.contains(&r.name))
        .filter(|r| matches(filters, &to_model(r)))
        .map(|r| r.name.clone())
        .collect();
    let mut removed = Vec::new();
    for n in candidates {
        if remove_network(store, &n).is_ok() {
            removed.push(n);
        }
    }
    Ok(removed)
}

/// How a container is networked.
enum Mode {
    None,
    Host,
    Container(String),
    Networks(Vec<Attachment>),
}

fn mode_name(spec: &NetworkSpec) -> &str {
    match spec.mode.as_deref() {
        None | Some("") | Some("default") => "bridge",
        Some(m) => m,
    }
}

/// The networks a container is attached to (connect/disconnect change them).
pub fn attachments(store: &Store, record: &ContainerRecord) -> Vec<Attachment> {
    let mut atts = stored_attachments(store, record);
    // `--network` may name a network by ID or ID prefix: Docker keys it by name.
    if let Ok(all) = store::load_all(store) {
        for a in &mut atts {
            if let Ok(r) = store::find(&all, &a.network) {
                a.network = r.name.clone();
            }
        }
    }
    atts
}

fn stored_attachments(store: &Store, record: &ContainerRecord) -> Vec<Attachment> {
    if let Some(a) = store::load_attachments(store, &record.id) {
        return a;
    }
    let spec = &record.spec.network;
    match mode_name(spec) {
        "none" | "host" => vec![],
        m if m.starts_with("container:") => vec![],
        m => vec![Attachment {
            network: m.to_string(),
            aliases: spec.aliases.clone(),
            ip: spec.ip.as_deref().and_then(|i| i.parse().ok()),
        }],
    }
}

fn mode_of(store: &Store, record: &ContainerRecord) -> Mode {
    match mode_name(&record.spec.network) {
        "none" => Mode::None,
        "host" => Mode::Host,
        m if m.starts_with("container:") => Mode::Container(m["container:".len()..].to_string()),
        _ => Mode::Networks(attachments(store, record)),
    }
}

/// Checks a container's network options at create, with Docker's messages.
pub(crate) fn validate(store: &Store, spec: &NetworkSpec) -> Result<()> {
    let mode = mode_name(spec);
    for p in &spec.publish {
        portproxy::parse_publish(p).map_err(NetworkError::Invalid)?;
    }
    for h in &spec.extra_hosts {
        parse_extra_host(h).map_err(NetworkError::Invalid)?;
    }
    for d in &spec.dns {
        d.parse::<std::net::IpAddr>()
            .map_err(|_| NetworkError::Invalid(format!("{d} is not an ip address")))?;
    }
    if let Some(ip) = &spec.ip {
        ip.parse::<Ipv4Addr>()
            .map_err(|_| NetworkError::Invalid(format!("invalid IPv4 address: {ip}")))?;
    }
    match mode {
        "none" | "host" => {
            if !spec.aliases.is_empty() || spec.ip.is_some() {
                return Err(NetworkError::Invalid(
                    "network-scoped alias or --ip are supported only for containers in user defined networks".into(),
                ));
            }
            if mode == "none" && !spec.publish.is_empty() {
                return Err(NetworkError::Invalid(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            Ok(())
        }
        m if m.starts_with("container:") => {
            if !spec.publish.is_empty() || spec.publish_all {
                return Err(NetworkError::Invalid(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            if !spec.dns.is_empty() || !spec.extra_hosts.is_empty() {
                return Err(NetworkError::Invalid(
                    "conflicting options: dns and the network mode".into(),
                ));
            }
            Ok(())
        }
        m => {
            ensure_default(store, &NetworkConfig::load())?;
            let all = store::load_all(store)?;
            let r = store::find(&all, m)?;
            if r.is_default() && (!spec.aliases.is_empty() || spec.ip.is_some()) {
                return Err(NetworkError::Invalid(if spec.ip.is_some() {
                    "user specified IP address is supported on user defined networks only".into()
                } else {
                    "network-scoped alias is supported only for containers in user defined networks"
                        .into()
                }));
            }
            if let Some(ip) = &spec.ip {
                check_pinned(r, ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED))?;
            }
            for a in &spec.aliases {
                if !valid_name(a) {
                    return Err(NetworkError::Invalid(format!("invalid alias \"{a}\"")));
                }
            }
            Ok(())
        }
    }
}

fn check_pinned(r: &NetworkRecord, ip: Ipv4Addr) -> Result<()> {
    if !r.user_subnet {
        return Err(NetworkError::Invalid(
            "user specified IP address is supported only when connecting to networks with user configured subnets".into(),
        ));
    }
    let subnet = Cidr::parse(&r.subnet).map_err(NetworkError::Invalid)?;
    if !subnet.contains(ip) || ip == subnet.network() || ip == subnet.broadcast() || ip == r.gateway
    {
        return Err(NetworkError::Invalid(format!(
            "no configured subnet or ip-range contain the IP address {ip}"
        )));
    }
    Ok(())
}

fn parse_extra_host(h: &str) -> Result<(String, String), String> {
    // host:ip or host=ip (ip may be IPv6 with colons, or host-gateway).
    let (name, ip) = h
        .split_once('=')
        .or_else(|| h.split_once(':'))
        .ok_or_else(|| format!("bad format for add-host: \"{h}\""))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if name.is_empty() || (ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err()) {
        return Err(format!("invalid IP address in add-host: \"{ip}\""));
    }
    Ok((name.to_string(), ip.to_string()))
}

const HOSTS_BASE: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// The host's resolv.conf, through systemd-resolved's real one when it lists only the stub.
fn host_resolv_conf() -> String {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let servers = nameservers(&host);
    if !servers.is_empty() && servers.iter().all(|s| s.starts_with("127.")) {
        if let Ok(real) = std::fs::read_to_string("/run/systemd/resolve/resolv.conf") {
            return real;
        }
    }
    host
}

fn nameservers(conf: &str) -> Vec<String> {
    conf.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver")).then(|| w.next().map(str::to_string))?
        })
        .collect()
}

/// Upstream resolvers: `[network] dns_upstream`, else the host's (no loopback ones).
pub fn upstream_servers(cfg: &NetworkConfig) -> Vec<String> {
    if !cfg.dns_upstream.is_empty() {
        return cfg.dns_upstream.clone();
    }
    nameservers(&host_resolv_conf())
        .into_iter()
        .filter(|s| !s.starts_with("127.") && s != "::1")
        .collect()
}

/// A container's resolv.conf: `nameservers` plus the host's (or the given) search/options.
fn resolv_conf(spec: &NetworkSpec, nameservers: &[String]) -> String {
    let host = host_resolv_conf();
    let mut s = String::new();
    for n in nameservers {
        s.push_str(&format!("nameserver {n}\n"));
    }
    if spec.dns_search.is_empty() {
        for l in host
            .lines()
            .filter(|l| l.starts_with("search ") || l.starts_with("domain "))
        {
            s.push_str(l);
            s.push('\n');
        }
    } else {
        s.push_str(&format!("search {}\n", spec.dns_search.join(" ")));
    }
    if spec.dns_option.is_empty() {
        for l in host.lines().filter(|l| l.starts_with("options ")) {
            s.push_str(l);
            s.push('\n');
        }
    } else {
        s.push_str(&format!("options {}\n", spec.dns_option.join(" ")));
    }
    s
}

/// What `start` needs from the network setup.
pub struct NetSetup {
    /// The namespace the container joins (None: the runtime makes a new one; never here).
    pub netns_path: Option<PathBuf>,
    pub hosts: String,
    pub resolv: String,
}

fn netns_path(store: &Store, id: &str) -> PathBuf {
    store::runtime_dir(store).join("ns").join(id)
}

fn ensure_runtime_dirs(store: &Store) -> Result<()> {
    for d in [
        store::runtime_dir(store),
        store::runtime_dir(store).join("ns"),
        store::runtime_dir(store).join("ctr"),
        store::runtime_dir(store).join("dns"),
    ] {
        fsutil::mkdir_private(&d)
            .map_err(|e| NetworkError::Io(format!("cannot create {}: {e}", d.display())))?;
    }
    Ok(())
}

/// Sets up the container's networking before the runtime starts: its namespace, an
/// endpoint (veth, address, DNS names) on each of its networks, published ports. Undone by
/// `teardown` (the shim calls it when the container exits). Returns what the bundle needs.
pub fn setup(
    store: &Store,
    shim_binary: &Path,
    record: &ContainerRecord,
    hostname: &str,
) -> crate::Result<NetSetup> {
    let r = setup_inner(store, shim_binary, record, hostname);
    if r.is_err() {
        teardown(store, &record.id);
    }
    r
}

fn setup_inner(
    store: &Store,
    shim_binary: &Path,
    record: &ContainerRecord,
    hostname: &str,
) -> crate::Result<NetSetup> {
    let id = record.id.as_str();
    let spec = &record.spec.network;
    ensure_runtime_dirs(store)?;
    // Leftovers of an earlier run that was not torn down (a crash): release them first.
    teardown(store, id);
    let cfg = NetworkConfig::load();
    let mut extra_hosts = String::new();
    let mut rt = RuntimeState::default();
    let ns = netns_path(store, id);
    let (hosts_own, resolv) = match mode_of(store, record) {
        Mode::Host => {
            netns::bind_existing(Path::new("/proc/self/ns/net"), &ns)
                .map_err(kernel("cannot bind the host's network namespace"))?;
            rt.netns = Some(ns.clone());
            store::save_runtime(store, id, &rt)?;
            let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_else(|_| HOSTS_BASE.into());
            for h in &spec.extra_hosts {
                let (n, ip) = parse_extra_host(h).map_err(NetworkError::Invalid)?;
                extra_hosts.push_str(&format!("{ip}\t{n}\n"));
            }
            return Ok(NetSetup {
                netns_path: Some(ns),
                hosts: format!("{hosts}{extra_hosts}"),
                resolv: if spec.dns.is_empty() {
                    host_resolv_conf()
                } else {
                    resolv_conf(spec, &spec.dns)
                },
            });
        }
        Mode::Container(other) => {
            let cs = ContainerStore::new(store);
            let oid = cs.find(&other)?;
            cs.reconcile(&oid)?;
            let live = cs.state(&oid).map(|s| s.status.is_live()).unwrap_or(false);
            let theirs = store::load_runtime(store, &oid).and_then(|r| r.netns);
            let path = match theirs {
                Some(p) if live && netns::is_bound(&p) => p,
                _ => {
                    return Err(crate::Error::Conflict(format!(
                        "cannot join network namespace of a non running container: container {} is not running",
                        short(&oid)
                    )))
                }
            };
            store::save_runtime(store, id, &rt)?;
            let dir = cs.dir(&oid);
            return Ok(NetSetup {
                netns_path: Some(path),
                hosts: std::fs::read_to_string(dir.join("hosts"))
                    .unwrap_or_else(|_| HOSTS_BASE.into()),
                resolv: std::fs::read_to_string(dir.join("resolv.conf")).unwrap_or_default(),
            });
        }
        Mode::None => {
            netns::create(&ns).map_err(kernel("cannot create the network namespace"))?;
            rt.netns = Some(ns.clone());
            store::save_runtime(store, id, &rt)?;
            (
                String::new(),
                resolv_conf(
                    spec,
                    &if spec.dns.is_empty() {
                        upstream_servers(&cfg)
                    } else {
                        spec.dns.clone()
                    },
                ),
            )
        }
        Mode::Networks(atts) => {
            netns::create(&ns).map_err(kernel("cannot create the network namespace"))?;
            rt.netns = Some(ns.clone());
            store::save_runtime(store, id, &rt)?;
            let mut own = String::new();
            let mut dns_server = None;
            let mut first_ip = None;
            let mut gateway = None;
            for (i, a) in atts.iter().enumerate() {
                let (net, ep) = attach(store, shim_binary, record, hostname, a, &ns, i, i == 0)?;
                rt.networks.push(net.name.clone());
                store::save_runtime(store, id, &rt)?;
                own.push_str(&format!("{}\t{hostname}\n", ep.ip));
                if !net.is_default() && dns_server.is_none() {
                    dns_server = Some(net.gateway.to_string());
                }
                first_ip.get_or_insert(ep.ip);
                gateway.get_or_insert(net.gateway);
            }
            for h in &spec.extra_hosts {
                let (n, ip) = parse_extra_host(h).map_err(NetworkError::Invalid)?;
                let ip = if ip == "host-gateway" {
                    gateway.map(|g| g.to_string()).unwrap_or(ip)
                } else {
                    ip
                };
                extra_hosts.push_str(&format!("{ip}\t{n}\n"));
            }
            let servers = match dns_server {
                // User-defined networks: the embedded DNS (which forwards to --dns or the host's).
                Some(gw) => vec![gw],
                None if !spec.dns.is_empty() => spec.dns.clone(),
                None => upstream_servers(&cfg),
            };
            if let Some(ip) = first_ip {
                publish_ports(store, shim_binary, record, ip, &mut rt)?;
                store::save_runtime(store, id, &rt)?;
            }
            (own, resolv_conf(spec, &servers))
        }
    };
    Ok(NetSetup {
        netns_path: Some(ns),
        hosts: format!("{HOSTS_BASE}{extra_hosts}{hosts_own}"),
        resolv,
    })
}

/// Joins the container (its namespace at `ns`) to a network: address, veth, routes, DNS.
#[allow(clippy::too_many_arguments)]
fn attach(
    store: &Store,
    shim_binary: &Path,
    record: &ContainerRecord,
    hostname: &str,
    a: &Attachment,
    ns: &Path,
    index: usize,
    default_route: bool,
) -> Result<(NetworkRecord, Endpoint)> {
    let id = record.id.as_str();
    let (net, ep) = {
        let _l = store::lock(store)?;
        let all = store::load_all(store)?;
        let mut net = store::find(&all, &a.network)?.clone();
        if net.endpoints.contains_key(id) {
            return Err(NetworkError::Conflict(format!(
                "endpoint with name {} already exists in network {}",
                record.name, net.name
            )));
        }
        let mut nl = netlink::Netlink::open().map_err(kernel("netlink"))?;
        let bridge_index = ensure_bridge(store, &mut nl, &mut net, &all)?;
        let build = |net: &mut NetworkRecord, nl: &mut netlink::Netlink| -> Result<Endpoint> {
            let subnet = Cidr::parse(&net.subnet).map_err(NetworkError::Invalid)?;
            let used: BTreeSet<Ipv4Addr> = net.endpoints.values().map(|e| e.ip).collect();
            let ip = match a.ip {
                Some(ip) => {
                    check_pinned(net, ip)?;
                    if used.contains(&ip) {
                        return Err(NetworkError::Conflict(format!(
                            "Address already in use: {ip} on network {}",
                            net.name
                        )));
                    }
                    ip
                }
                None => {
                    let range = net
                        .ip_range
                        .as_deref()
                        .and_then(|r| Cidr::parse(r).ok())
                        .unwrap_or(subnet);
                    let ip = ipam::allocate(&subnet, &range, net.gateway, &used, net.last_ip)
                        .ok_or_else(|| {
                            NetworkError::Conflict(format!(
                                "no available IPv4 addresses on this network's address pools: {} ({})",
                                net.name, net.subnet
                            ))
                        })?;
                    net.last_ip = Some(ip);
                    ip
                }
            };
            let veth = loop {
                let v = format!("{}v{}", kernel_prefix(store), fsutil::random_hex(4));
                if nl.link_index(&v).map_err(kernel("netlink"))?.is_none() {
                    break v;
                }
            };
            let mac = ipam::mac_for(ip);
            let ifname = format!("eth{index}");
            let ns_file = std::fs::File::open(ns)
                .map_err(|e| NetworkError::Io(format!("cannot open {}: {e}", ns.display())))?;
            use std::os::fd::AsRawFd;
            nl.create_veth(&veth, bridge_index, &ifname, ns_file.as_raw_fd(), mac, 1500)
                .map_err(kernel("cannot create the veth pair"))?;
            let configured = (|| {
                let vi = nl
                    .link_index(&veth)?
                    .ok_or_else(|| std::io::Error::other("the new veth vanished"))?;
                nl.set_up(vi)?;
                let (gw, internal, prefix) = (net.gateway, net.internal, subnet.prefix);
                let ifname = ifname.clone();
                netns::run_in(ns, move || {
                    let mut inner = netlink::Netlink::open()?;
                    let idx = inner.link_index(&ifname)?.ok_or_else(|| {
                        std::io::Error::other("the container's interface vanished")
                    })?;
                    inner.add_address(idx, ip, prefix)?;
                    inner.set_up(idx)?;
                    if default_route && !internal {
                        inner.add_default_route(gw)?;
                    }
                    Ok(())
                })
            })();
            if let Err(e) = configured {
                let _ = nl.delete_link(&veth);
                return Err(NetworkError::Kernel(format!(
                    "cannot configure the container's interface: {e}"
                )));
            }
            let mut dns_names = vec![record.name.clone(), short(id).to_string()];
            if record.spec.hostname.is_some() {
                dns_names.push(hostname.to_string());
            }
            dns_names.extend(a.aliases.iter().cloned());
            Ok(Endpoint {
                container_name: record.name.clone(),
                endpoint_id: crate::container::new_id(),
                ip,
                mac: ipam::mac_string(mac),
                aliases: a.aliases.clone(),
                dns_names,
                veth,
                dns_servers: record.spec.network.dns.clone(),
            })
        };
        let built = build(&mut net, &mut nl);
        let ep = match built {
            Ok(ep) => ep,
            Err(e) => {
                if net.endpoints.is_empty() {
                    let _ = nl.delete_link(&net.bridge);
                    refresh_nat(store);
                }
                return Err(e);
            }
        };
        net.endpoints.insert(id.to_string(), ep.clone());
        if let Err(e) = store::save(store, &net) {
            let _ = nl.delete_link(&ep.veth);
            return Err(e);
        }
        (net, ep)
    };
    if !net.is_default() {
        dns::ensure_responder(store, shim_binary, &net)?;
    }
    Ok((net, ep))
}

/// Creates the network's bridge if it is not there yet (gateway address, up, NAT rules);
/// returns its index. Called under the networks lock.
fn ensure_bridge(
    store: &Store,
    nl: &mut netlink::Netlink,
    net: &mut NetworkRecord,
    all: &[NetworkRecord],
) -> Result<u32> {
    if let Some(i) = nl.link_index(&net.bridge).map_err(kernel("netlink"))? {
        return Ok(i);
    }
    // Bridges come and go with their endpoints, so a picked subnet may have been taken by
    // the host (or another store) meanwhile: pick again, one rdesk process at a time.
    let _host = host_lock()?;
    if !net.user_subnet && net.endpoints.is_empty() {
        let others: Vec<Cidr> = all
            .iter()
            .filter(|r| r.name != net.name)
            .filter_map(|r| Cidr::parse(&r.subnet).ok())
            .collect();
        let routes = host_routes();
        let current = Cidr::parse(&net.subnet).map_err(NetworkError::Invalid)?;
        if routes.iter().chain(&others).any(|t| t.overlaps(&current)) {
            let mut taken = others;
            taken.extend(routes);
            let picked = ipam::pick_subnet(&NetworkConfig::load().pool(), &taken).ok_or_else(|| {
                NetworkError::Conflict(
                    "could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network".into(),
                )
            })?;
            net.subnet = picked.to_string();
            net.gateway = picked.first_host();
            net.last_ip = None;
        }
    }
    nl.create_bridge(&net.bridge)
        .map_err(kernel("cannot create the bridge"))?;
    let made = (|| -> Result<u32> {
        let i = nl
            .link_index(&net.bridge)
            .map_err(kernel("netlink"))?
            .ok_or_else(|| NetworkError::Kernel("the new bridge vanished".into()))?;
        let prefix = Cidr::parse(&net.subnet)
            .map_err(NetworkError::Invalid)?
            .prefix;
        nl.add_address(i, net.gateway, prefix)
            .map_err(kernel("cannot address the bridge"))?;
        nl.set_up(i).map_err(kernel("cannot bring the bridge up"))?;
        let mut live: Vec<&NetworkRecord> = all
            .iter()
            .filter(|r| !r.endpoints.is_empty() && r.name != net.name)
            .collect();
        live.push(&*net);
        apply_nat(store, &live)?;
        Ok(i)
    })();
    if made.is_err() {
        let _ = nl.delete_link(&net.bridge);
    }
    made
}

fn apply_nat(store: &Store, live: &[&NetworkRecord]) -> Result<()> {
    let rules: Vec<nat::BridgeRules> = live
        .iter()
        .map(|r| nat::BridgeRules {
            bridge: r.bridge.clone(),
            subnet: r.subnet.clone(),
            internal: r.internal,
        })
        .collect();
    nat::apply(&kernel_prefix(store), &rules).map_err(NetworkError::Kernel)
}

/// Removes the container's endpoint from `net` (under the lock): its veth, its address, its
/// DNS names; the bridge too when it was the last one. Returns whether it had one.
fn detach_locked(
    store: &Store,
    nl: &mut netlink::Netlink,
    net: &mut NetworkRecord,
    id: &str,
    delete_veth: bool,
) -> bool {
    let Some(ep) = net.endpoints.remove(id) else {
        return false;
    };
    if delete_veth {
        let _ = nl.delete_link(&ep.veth);
    }
    let _ = store::save(store, net);
    true
}

/// Deletes the bridges of networks left without endpoints, and rewrites (or, with the last
/// bridge, deletes) the NAT table. Under the networks lock, re-checking the endpoints, so a
/// container joining meanwhile keeps its bridge. Apart from `teardown` because deleting a
/// link waits for a network-wide RCU grace period: the shim runs it after it has recorded
/// the exit (and removed a `--rm` container), off the path a caller waits on.
pub fn collect_idle_bridges(store: &Store) {
    let Ok(_l) = store::lock(store) else {
        return;
    };
    let (Ok(all), Ok(mut nl)) = (store::load_all(store), netlink::Netlink::open()) else {
        return;
    };
    let mut deleted = false;
    for net in all.iter().filter(|n| n.endpoints.is_empty()) {
        if nl.link_index(&net.bridge).ok().flatten().is_some() {
            let _ = nl.delete_link(&net.bridge);
            deleted = true;
        }
    }
    if deleted {
        let live: Vec<&NetworkRecord> = all.iter().filter(|r| !r.endpoints.is_empty()).collect();
        let _ = apply_nat(store, &live);
    }
}

fn refresh_nat(store: &Store) {
    if let Ok(all) = store::load_all(store) {
        let live: Vec<&NetworkRecord> = all.iter().filter(|r| !r.endpoints.is_empty()).collect();
        let _ = apply_nat(store, &live);
    }
}

/// Releases what `setup` made: the port forwarder, the endpoints (veths, addresses, DNS
/// names), bridges left without endpoints, the NAT table with the last bridge, the
/// namespace. Safe to call more than once; needs no async runtime (the shim calls it).
pub fn teardown(store: &Store, id: &str) {
    release(store, id);
    collect_idle_bridges(store);
}

/// The part of `teardown` a caller waits on: the forwarder, the namespace, the endpoints
/// (addresses and DNS names); bridges are left to `collect_idle_bridges`.
pub fn release(store: &Store, id: &str) {
    let rt = store::load_runtime(store, id);
    if let Some(rt) = &rt {
        portproxy::stop(rt.proxy_pid, rt.proxy_start_time);
    }
    let own_ns = rt.as_ref().and_then(|r| r.netns.clone());
    // A namespace nobody else joined dies once unbound, and its veths with it (the kernel
    // destroys them in the background, batched): unbind first and skip deleting each veth,
    // which costs a network-wide RCU grace period per link on the container's exit path.
    let alone = own_ns.is_some() && !joined_by_others(store, id);
    if alone {
        if let Some(ns) = &own_ns {
            netns::remove(ns);
        }
    }
    if let Ok(_l) = store::lock(store) {
        if let (Ok(all), Ok(mut nl)) = (store::load_all(store), netlink::Netlink::open()) {
            for mut net in all.into_iter().filter(|n| n.endpoints.contains_key(id)) {
                detach_locked(store, &mut nl, &mut net, id, !alone);
            }
        }
    }
    if let Some(ns) = own_ns {
        netns::remove(&ns);
    }
    let ns = netns_path(store, id);
    if ns.exists() {
        netns::remove(&ns);
    }
    store::remove_runtime(store, id);
}

/// Does a live container share this one's namespace (`--network container:ID`)?
fn joined_by_others(store: &Store, id: &str) -> bool {
    let cs = ContainerStore::new(store);
    cs.all().iter().any(|(r, st)| {
        r.id != id
            && st.status.is_live()
            && mode_name(&r.spec.network)
                .strip_prefix("container:")
                .is_some_and(|other| cs.find(other).is_ok_and(|o| o == id))
    })
}

/// Publishes the container's ports (`-p`, `-P` with the image's EXPOSE) through its port
/// forwarder, started here; fails (nothing left running) when a host port is taken.
fn publish_ports(
    store: &Store,
    shim_binary: &Path,
    record: &ContainerRecord,
    ip: Ipv4Addr,
    rt: &mut RuntimeState,
) -> Result<()> {
    let wanted = port_requests(record)?;
    if wanted.is_empty() {
        return Ok(());
    }
    let (pid, start, bound) = portproxy::start(store, shim_binary, &record.id, ip, &wanted)?;
    rt.proxy_pid = pid;
    rt.proxy_start_time = start;
    rt.ports = bound;
    Ok(())
}

/// The bindings the container asks for: `-p` specs, and with `-P` every exposed port
/// (the image's EXPOSE and `--expose`) on a random host port.
fn port_requests(record: &ContainerRecord) -> Result<Vec<portproxy::PortRequest>> {
    let spec = &record.spec.network;
    let mut out = Vec::new();
    for p in &spec.publish {
        out.extend(portproxy::parse_publish(p).map_err(NetworkError::Invalid)?);
    }
    if spec.publish_all {
        for (port, proto) in exposed_ports(record) {
            if !out
                .iter()
                .any(|r| r.container_port == port && r.proto == proto)
            {
                out.push(portproxy::PortRequest {
                    host_ip: String::new(),
                    host_port: 0,
                    container_port: port,
                    proto,
                });
            }
        }
    }
    Ok(out)
}

/// The image's `ExposedPorts`, `--expose` and the `-p` container ports: (port, proto).
fn exposed_ports(record: &ContainerRecord) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = Vec::new();
    let mut push = |k: &str| {
        let (p, proto) = k.split_once('/').unwrap_or((k, "tcp"));
        if let Some((a, b)) = p.split_once('-') {
            if let (Ok(a), Ok(b)) = (a.parse::<u16>(), b.parse::<u16>()) {
                for x in a..=b {
                    out.push((x, proto.to_string()));
                }
            }
        } else if let Ok(n) = p.parse::<u16>() {
            out.push((n, proto.to_string()));
        }
    };
    if let Some(m) = record
        .image_config
        .get("ExposedPorts")
        .and_then(|v| v.as_object())
    {
        for k in m.keys() {
            push(k);
        }
    }
    for e in &record.spec.network.expose {
        push(e);
    }
    out.sort();
    out.dedup();
    out
}

/// `network connect`: attaches a container (running: live, with its veth and address at
/// once; else at its next start).
pub(crate) fn connect(
    store: &Store,
    shim_binary: &Path,
    network: &str,
    container: &str,
    aliases: Vec<String>,
    ip: Option<String>,
) -> crate::Result<()> {
    let cs = ContainerStore::new(store);
    let id = cs.find(container)?;
    cs.reconcile(&id)?;
    let _ctr = cs.lock(&id)?;
    let record = cs.record(&id)?;
    ensure_default(store, &NetworkConfig::load())?;
    let all = store::load_all(store)?;
    let net = store::find(&all, network)?.clone();
    let mode = mode_name(&record.spec.network).to_string();
    if mode == "host" {
        return Err(crate::Error::Conflict(
            "container cannot be disconnected from host network or connected to host network"
                .into(),
        ));
    }
    if mode == "none" || mode.starts_with("container:") {
        return Err(crate::Error::Conflict(
            "container sharing network namespace with another container or host cannot be connected to any other network".into(),
        ));
    }
    let ip: Option<Ipv4Addr> = match ip {
        Some(s) => Some(
            s.parse()
                .map_err(|_| NetworkError::Invalid(format!("invalid IPv4 address: {s}")))?,
        ),
        None => None,
    };
    if net.is_default() && (!aliases.is_empty() || ip.is_some()) {
        return Err(NetworkError::Invalid(
            "network-scoped alias is supported only for containers in user defined networks".into(),
        )
        .into());
    }
    for a in &aliases {
        if !valid_name(a) {
            return Err(NetworkError::Invalid(format!("invalid alias \"{a}\"")).into());
        }
    }
    if let Some(ip) = ip {
        check_pinned(&net, ip)?;
    }
    let mut atts = attachments(store, &record);
    if atts.iter().any(|a| a.network == net.name) {
        return Err(crate::Error::Conflict(format!(
            "endpoint with name {} already exists in network {}",
            record.name, net.name
        )));
    }
    let att = Attachment {
        network: net.name.clone(),
        aliases,
        ip,
    };
    let live = cs.state(&id).map(|s| s.status.is_live()).unwrap_or(false);
    if live {
        let mut rt = store::load_runtime(store, &id).unwrap_or_default();
        let ns = rt
            .netns
            .clone()
            .filter(|p| netns::is_bound(p))
            .ok_or_else(|| {
                crate::Error::Conflict(format!(
                    "container {} has no network namespace of its own",
                    short(&id)
                ))
            })?;
        let hostname = record
            .spec
            .hostname
            .clone()
            .unwrap_or_else(|| short(&id).to_string());
        let index = next_ifindex(&ns);
        let first = rt.networks.is_empty();
        attach(
            store,
            shim_binary,
            &record,
            &hostname,
            &att,
            &ns,
            index,
            first,
        )?;
        rt.networks.push(net.name.clone());
        store::save_runtime(store, &id, &rt)?;
    }
    atts.push(att);
    store::save_attachments(store, &id, &atts)?;
    crate::events::append(store, "network", "connect", &net.id, &net.name, "");
    Ok(())
}

/// The first free `ethN` in the namespace.
fn next_ifindex(ns: &Path) -> usize {
    let names = netns::run_in(ns, || netlink::Netlink::open()?.link_names()).unwrap_or_default();
    (0..)
        .find(|i| !names.contains(&format!("eth{i}")))
        .unwrap_or(0)
}

/// `network disconnect`: detaches a container (live when running).
pub(crate) fn disconnect(
    store: &Store,
    network: &str,
    container: &str,
    force: bool,
) -> crate::Result<()> {
    let cs = ContainerStore::new(store);
    let all = store::load_all(store)?;
    let net = store::find(&all, network)?.clone();
    let id = match cs.find(container) {
        Ok(id) => id,
        Err(e) => {
            if force {
                return Ok(());
            }
            return Err(e);
        }
    };
    cs.reconcile(&id)?;
    let _ctr = cs.lock(&id)?;
    let record = cs.record(&id)?;
    let mut atts = attachments(store, &record);
    let had = atts.iter().any(|a| a.network == net.name) || net.endpoints.contains_key(&id);
    if !had {
        return Err(crate::Error::Conflict(format!(
            "container {} is not connected to network {}",
            id, net.name
        )));
    }
    {
        let _l = store::lock(store)?;
        let all = store::load_all(store)?;
        if let Some(mut n) = all.into_iter().find(|n| n.name == net.name) {
            let mut nl = netlink::Netlink::open().map_err(kernel("netlink"))?;
            detach_locked(store, &mut nl, &mut n, &id, true);
        }
    }
    collect_idle_bridges(store);
    if let Some(mut rt) = store::load_runtime(store, &id) {
        rt.networks.retain(|n| n != &net.name);
        store::save_runtime(store, &id, &rt)?;
    }
    atts.retain(|a| a.network != net.name);
    store::save_attachments(store, &id, &atts)?;
    crate::events::append(store, "network", "disconnect", &net.id, &net.name, "");
    Ok(())
}

/// The container's published ports as bound (for `port`, `ps` and inspect).
pub fn bound_ports(store: &Store, id: &str) -> Vec<BoundPort> {
    store::load_runtime(store, id)
        .map(|r| r.ports)
        .unwrap_or_default()
}

/// Docker's `NetworkSettings`, `HostConfig.NetworkMode` and `HostConfig.PortBindings` of a
/// container, for inspect.
pub fn inspect_parts(
    store: &Store,
    record: &ContainerRecord,
    live: bool,
) -> (
    bollard_stubs::models::NetworkSettings,
    String,
    HashMap<String, Option<Vec<bollard_stubs::models::PortBinding>>>,
) {
    use bollard_stubs::models::{EndpointSettings, NetworkSettings, PortBinding};
    let id = record.id.as_str();
    let spec = &record.spec.network;
    let mode = mode_name(spec).to_string();
    let all = store::load_all(store).unwrap_or_default();
    let mut networks = HashMap::new();
    let (mut first_ip, mut first_gw, mut first_mac, mut first_prefix) =
        (String::new(), String::new(), String::new(), 0);
    let atts = attachments(store, record);
    let mut names: Vec<String> = atts.iter().map(|a| a.network.clone()).collect();
    if mode == "host" || mode == "none" {
        names = vec![mode.clone()];
    }
    for n in &names {
        let rec = all.iter().find(|r| &r.name == n);
        let ep = rec.and_then(|r| r.endpoints.get(id)).filter(|_| live);
        let att = atts.iter().find(|a| &a.network == n);
        let prefix = rec
            .and_then(|r| Cidr::parse(&r.subnet).ok())
            .map(|c| c.prefix as i64)
            .unwrap_or(0);
        let mut aliases = att.map(|a| a.aliases.clone()).unwrap_or_default();
        if ep.is_some() && rec.is_some_and(|r| !r.is_default()) {
            aliases.push(short(id).to_string());
        }
        let es = EndpointSettings {
            network_id: Some(
                rec.map(|r| r.id.clone())
                    .unwrap_or_else(|| predefined(n).id.unwrap_or_default()),
            ),
            endpoint_id: Some(ep.map(|e| e.endpoint_id.clone()).unwrap_or_default()),
            gateway: Some(match (ep, rec) {
                (Some(_), Some(r)) => r.gateway.to_string(),
                _ => String::new(),
            }),
            ip_address: Some(ep.map(|e| e.ip.to_string()).unwrap_or_default()),
            ip_prefix_len: Some(if ep.is_some() { prefix } else { 0 }),
            mac_address: Some(ep.map(|e| e.mac.clone()).unwrap_or_default()),
            aliases: (!aliases.is_empty()).then_some(aliases),
            dns_names: ep
                .map(|e| e.dns_names.clone())
                .filter(|_| rec.is_some_and(|r| !r.is_default())),
            ipv6_gateway: Some(String::new()),
            global_ipv6_address: Some(String::new()),
            global_ipv6_prefix_len: Some(0),
            ..Default::default()
        };
        if let (Some(e), Some(r)) = (ep, rec) {
            if first_ip.is_empty() {
                first_ip = e.ip.to_string();
                first_gw = r.gateway.to_string();
                first_mac = e.mac.clone();
                first_prefix = prefix;
            }
        }
        networks.insert(n.clone(), es);
    }
    let mut ports: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for (p, proto) in exposed_ports(record) {
        ports.insert(format!("{p}/{proto}"), None);
    }
    if let Ok(reqs) = port_requests(record) {
        for r in &reqs {
            ports
                .entry(format!("{}/{}", r.container_port, r.proto))
                .or_insert(None);
        }
    }
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for r in port_requests(record).unwrap_or_default() {
        bindings
            .entry(format!("{}/{}", r.container_port, r.proto))
            .or_insert_with(|| Some(vec![]))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(r.host_ip.clone()),
                host_port: Some(if r.host_port == 0 {
                    String::new()
                } else {
                    r.host_port.to_string()
                }),
            });
    }
    if live {
        for b in bound_ports(store, id) {
            ports
                .entry(format!("{}/{}", b.container_port, b.proto))
                .or_insert(None)
                .get_or_insert_with(Vec::new)
                .push(PortBinding {
                    host_ip: Some(b.host_ip.clone()),
                    host_port: Some(b.host_port.to_string()),
                });
        }
    }
    let sandbox = store::load_runtime(store, id)
        .and_then(|r| r.netns)
        .filter(|_| live)
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let settings = NetworkSettings {
        bridge: Some(String::new()),
        sandbox_id: Some(if sandbox.is_empty() {
            String::new()
        } else {
            id.to_string()
        }),
        sandbox_key: Some(sandbox),
        ports: Some(ports),
        hairpin_mode: Some(false),
        link_local_ipv6_address: Some(String::new()),
        link_local_ipv6_prefix_len: Some(0),
        secondary_ip_addresses: None,
        secondary_ipv6_addresses: None,
        endpoint_id: Some(String::new()),
        gateway: Some(first_gw),
        global_ipv6_address: Some(String::new()),
        global_ipv6_prefix_len: Some(0),
        ip_address: Some(first_ip),
        ip_prefix_len: Some(first_prefix),
        ipv6_gateway: Some(String::new()),
        mac_address: Some(first_mac),
        networks: Some(networks),
    };
    (settings, mode, bindings)
}

/// `Ports` and `NetworkSettings` of a container's `ps` row (Docker's ContainerSummary).
pub fn summary_parts(
    store: &Store,
    record: &ContainerRecord,
    live: bool,
) -> (
    Vec<bollard_stubs::models::Port>,
    bollard_stubs::models::ContainerSummaryNetworkSettings,
) {
    use bollard_stubs::models::{ContainerSummaryNetworkSettings, Port, PortTypeEnum};
    let typ = |p: &str| match p {
        "udp" => PortTypeEnum::UDP,
        _ => PortTypeEnum::TCP,
    };
    let mut ports: Vec<Port> = if live {
        bound_ports(store, &record.id)
            .into_iter()
            .map(|b| Port {
                ip: Some(b.host_ip),
                private_port: b.container_port,
                public_port: Some(b.host_port),
                typ: Some(typ(&b.proto)),
            })
            .collect()
    } else {
        vec![]
    };
    for (p, proto) in exposed_ports(record) {
        if !ports.iter().any(|x| x.private_port == p) {
            ports.push(Port {
                ip: None,
                private_port: p,
                public_port: None,
                typ: Some(typ(&proto)),
            });
        }
    }
    let (settings, _, _) = inspect_parts(store, record, live);
    (
        ports,
        ContainerSummaryNetworkSettings {
            networks: settings.networks,
        },
    )
}

/// Every network with its containers, for a Networks pane: (network, [(container name,
/// address, aliases)]).
pub type NetworkUse = (
    bollard_stubs::models::Network,
    Vec<(String, String, Vec<String>)>,
);

pub(crate) fn network_usage(store: &Store) -> Result<Vec<NetworkUse>> {
    let records = store::load_all(store)?;
    Ok(list_networks(store, &NetworkFilters::default())?
        .into_iter()
        .map(|n| {
            let mut rows: Vec<(String, String, Vec<String>)> = records
                .iter()
                .filter(|r| Some(&r.id) == n.id.as_ref())
                .flat_map(|r| r.endpoints.values())
                .map(|e| {
                    (
                        e.container_name.clone(),
                        e.ip.to_string(),
                        e.aliases.clone(),
                    )
                })
                .collect();
            rows.sort();
            (n, rows)
        })
        .collect())
}

/// Entry point of the helper processes (`rdesk shim dns|portproxy ...`): `None` when the
/// arguments are not a helper's.
pub fn helper_main(args: &[String]) -> Option<i32> {
    match args.first().map(String::as_str) {
        Some("dns") => Some(dns::main(&args[1..])),
        Some("portproxy") => Some(portproxy::main(&args[1..])),
        _ => None,
    }
}

/// Parses `--root R --runroot RR ARG` of a helper.
fn helper_args(args: &[String]) -> std::result::Result<(PathBuf, PathBuf, String), String> {
    let (mut root, mut runroot, mut arg) = (None, None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--root" => root = it.next().map(PathBuf::from),
            "--runroot" => runroot = it.next().map(PathBuf::from),
            other if arg.is_none() => arg = Some(other.to_string()),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok((
        root.ok_or("--root missing")?,
        runroot.ok_or("--runroot missing")?,
        arg.ok_or("argument missing")?,
    ))
}

/// Starts a helper (fork+exec; it forks again and detaches) and reads its one-line report:
/// the text after `ok `, or its error.
fn spawn_helper(store: &Store, shim_binary: &Path, mode: &str, arg: &str) -> Result<String> {
    use std::io::Read;
    let mut child = std::process::Command::new(shim_binary)
        .arg("shim")
        .arg(mode)
        .arg("--root")
        .arg(store.root())
        .arg("--runroot")
        .arg(store.runroot())
        .arg(arg)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| NetworkError::Io(format!("cannot start {}: {e}", shim_binary.display())))?;
    let mut report = String::new();
    if let Some(mut out) = child.stdout.take() {
        let _ = out.read_to_string(&mut report);
    }
    let _ = child.wait();
    let line = report.lines().next().unwrap_or("").to_string();
    match line.strip_prefix("ok") {
        Some(rest) => Ok(rest.trim().to_string()),
        None => Err(NetworkError::Conflict(
            line.strip_prefix("error ")
                .map(str::to_string)
                .unwrap_or_else(|| format!("the {mode} helper exited without a report")),
        )),
    }
}

/// Detaches the helper like the shim: fork (the parent returns to report nothing more),
/// setsid. Returns false in the parent.
fn daemonize() -> bool {
    // SAFETY: helpers call this first thing after exec, single-threaded.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            let _ = nix::unistd::setsid();
            // Keep no directory of the caller busy.
            let _ = nix::unistd::chdir("/");
            true
        }
        _ => false,
    }
}

/// The report line on fd 1, then fd 1 -> /dev/null (the caller sees EOF).
fn report(line: &str) {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd};
    // SAFETY: fd 1 is ours for the process's life; written once, then replaced, never closed twice.
    let mut out = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
    let _ = writeln!(out, "{line}");
    if let Ok(null) = std::fs::File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
        let _ = nix::unistd::dup2(null.as_raw_fd(), 2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented `[network]` keys of assets/config.toml are the code's defaults.
    #[test]
    fn assets_document_the_network_section() {
        let text = include_str!("../../../assets/config.toml");
        let table: toml::Table = toml::from_str(text).unwrap();
        let cfg: NetworkConfig = table["network"].clone().try_into().unwrap();
        assert!(cfg.dns_upstream.is_empty());
        assert_eq!(cfg.pool(), ipam::default_pool());
    }

    #[test]
    fn extra_hosts_and_resolv_conf() {
        assert_eq!(
            parse_extra_host("db:10.0.0.5").unwrap(),
            ("db".into(), "10.0.0.5".into())
        );
        assert_eq!(
            parse_extra_host("gw=host-gateway").unwrap().1,
            "host-gateway"
        );
        assert_eq!(parse_extra_host("v6:[::1]").unwrap().1, "::1");
        assert!(parse_extra_host("nope").is_err());
        assert!(parse_extra_host("x:not-an-ip").is_err());
        let spec = NetworkSpec {
            dns_search: vec!["corp.example".into()],
            dns_option: vec!["ndots:2".into()],
            ..Default::default()
        };
        let r = resolv_conf(&spec, &["172.18.0.1".into()]);
        assert!(r.starts_with("nameserver 172.18.0.1\n"), "{r}");
        assert!(r.contains("search corp.example\n") && r.contains("options ndots:2\n"));
        assert_eq!(
            nameservers("# c\nnameserver 1.1.1.1\nnameserver  127.0.0.53\nsearch x\n"),
            ["1.1.1.1", "127.0.0.53"]
        );
    }
}
