//! `network create|ls|inspect|rm|prune|connect|disconnect`, `port`, and the networking flags
//! of `run`/`create` (`--network -p -P --ip --dns --add-host ...`).

use super::format::{format_rows, print_inspect, table};
use super::{confirm, each_except, key_values, ExitCode};
use rdesk_engine::network::NetworkSpec;
use rdesk_engine::{
    ConnectNetworkOptions, CreateNetworkOptions, DisconnectNetworkOptions, Engine, NetworkFilters,
};
use std::io::Write;

/// The networking flags of `run` and `create`.
#[derive(clap::Args, Debug, Default)]
pub struct NetFlags {
    /// Connect a container to a network (bridge, none, host, container:NAME, or a network)
    #[arg(long, alias = "net")]
    network: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long, alias = "net-alias")]
    network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    ip: Option<String>,
    /// Set custom DNS servers
    #[arg(long)]
    dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long, alias = "dns-opt")]
    dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long)]
    add_host: Vec<String>,
    /// Publish a container's port(s) to the host ([ip:][hostPort:]containerPort[/proto])
    #[arg(short = 'p', long)]
    publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long)]
    publish_all: bool,
    /// Expose a port or a range of ports
    #[arg(long)]
    expose: Vec<String>,
}

impl NetFlags {
    pub fn spec(&self) -> NetworkSpec {
        NetworkSpec {
            mode: self.network.clone(),
            aliases: self.network_alias.clone(),
            ip: self.ip.clone(),
            dns: self.dns.clone(),
            dns_search: self.dns_search.clone(),
            dns_option: self.dns_option.clone(),
            extra_hosts: self.add_host.clone(),
            publish: self.publish.clone(),
            publish_all: self.publish_all,
            expose: self.expose.clone(),
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network
    Create(CreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Driver to manage the Network
    #[arg(short, long, default_value = "bridge")]
    driver: String,
    /// Subnet in CIDR format that represents a network segment
    #[arg(long)]
    subnet: Option<String>,
    /// IPv4 Gateway for the master subnet
    #[arg(long)]
    gateway: Option<String>,
    /// Allocate container ip from a sub-range
    #[arg(long)]
    ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    internal: bool,
    /// Enable manual container attachment (accepted; every rdesk network is attachable)
    #[arg(long)]
    attachable: bool,
    /// Set metadata on a network
    #[arg(long)]
    label: Vec<String>,
    /// Set driver specific options
    #[arg(short, long = "opt")]
    opt: Vec<String>,
    name: String,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    no_trunc: bool,
    /// Provide filter values (e.g. "driver=bridge", "name=foo", "label=k=v", "type=custom")
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output: "table", "json", or a Go-style template
    #[arg(long)]
    format: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go-style template
    #[arg(short, long)]
    format: Option<String>,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    networks: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (e.g. "label=<key>=<value>")
    #[arg(long)]
    filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct ConnectArgs {
    /// Add network-scoped alias for the container
    #[arg(long)]
    alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    ip: Option<String>,
    network: String,
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    force: bool,
    network: String,
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct PortArgs {
    container: String,
    /// PRIVATE_PORT[/PROTO]
    private_port: Option<String>,
}

fn filters(items: &[String]) -> anyhow::Result<NetworkFilters> {
    let mut f = NetworkFilters::default();
    for i in items {
        match i.split_once('=') {
            Some(("name", v)) => f.name.push(v.into()),
            Some(("id", v)) => f.id.push(v.into()),
            Some(("label", v)) => f.label.push(v.into()),
            Some(("driver", v)) => f.driver.push(v.into()),
            Some(("type", v @ ("custom" | "builtin"))) => f.kind.push(v.into()),
            Some(("type", v)) => anyhow::bail!("invalid filter: 'type'='{v}'"),
            _ => anyhow::bail!(
                "invalid filter '{i}': rdesk supports name=, id=, label=, driver= and type="
            ),
        }
    }
    Ok(f)
}

/// Docker's daemon errors for the network verbs.
fn daemon_error(e: rdesk_engine::Error) -> anyhow::Error {
    eprintln!("Error response from daemon: {e}");
    ExitCode(1).into()
}

pub async fn run(engine: &Engine, command: NetworkCommand) -> anyhow::Result<()> {
    match command {
        NetworkCommand::Create(a) => {
            let id = engine
                .create_network(CreateNetworkOptions {
                    name: a.name,
                    driver: a.driver,
                    subnet: a.subnet,
                    gateway: a.gateway,
                    ip_range: a.ip_range,
                    internal: a.internal,
                    labels: key_values(&a.label),
                    options: key_values(&a.opt),
                })
                .await
                .map_err(daemon_error)?;
            let _ = a.attachable;
            println!("{id}");
            Ok(())
        }
        NetworkCommand::Ls(a) => ls(engine, a).await,
        NetworkCommand::Inspect(a) => inspect(engine, a).await,
        NetworkCommand::Rm(a) => {
            let quiet = |e: &rdesk_engine::Error| a.force && e.is_not_found();
            each_except(&a.networks, quiet, |n| engine.remove_network(n)).await
        }
        NetworkCommand::Prune(a) => {
            let f = filters(&a.filter)?;
            if !a.force
                && !confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue?")?
            {
                return Ok(());
            }
            let removed = engine.prune_networks(f).await.map_err(daemon_error)?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                for n in removed {
                    println!("{n}");
                }
            }
            Ok(())
        }
        NetworkCommand::Connect(a) => engine
            .connect_network(
                &a.network,
                ConnectNetworkOptions {
                    container: a.container,
                    aliases: a.alias,
                    ipv4_address: a.ip,
                },
            )
            .await
            .map_err(daemon_error),
        NetworkCommand::Disconnect(a) => engine
            .disconnect_network(
                &a.network,
                DisconnectNetworkOptions {
                    container: a.container,
                    force: a.force,
                },
            )
            .await
            .map_err(daemon_error),
    }
}

async fn ls(engine: &Engine, a: LsArgs) -> anyhow::Result<()> {
    let mut list = engine
        .list_networks(filters(&a.filter)?)
        .await
        .map_err(daemon_error)?;
    // Docker's CLI lists them by name.
    list.sort_by(|x, y| x.name.cmp(&y.name));
    let id_of = |id: &str| {
        if a.no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    let mut out = std::io::stdout().lock();
    if a.quiet {
        for n in &list {
            writeln!(out, "{}", id_of(n.id.as_deref().unwrap_or_default()))?;
        }
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|n| {
            serde_json::json!({
                "ID": id_of(n.id.as_deref().unwrap_or_default()),
                "Name": n.name.clone().unwrap_or_default(),
                "Driver": n.driver.clone().unwrap_or_default(),
                "Scope": n.scope.clone().unwrap_or_default(),
                "IPv4": "true",
                "IPv6": "false",
                "Internal": n.internal.unwrap_or(false).to_string(),
                "CreatedAt": n.created.clone().unwrap_or_default(),
                "Labels": n.labels.clone().unwrap_or_default().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
            })
        })
        .collect();
    match a.format.as_deref() {
        None | Some("table") => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    ["ID", "Name", "Driver", "Scope"]
                        .iter()
                        .map(|k| r[*k].as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .collect();
            write!(
                out,
                "{}",
                table(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &body)
            )?;
        }
        Some(f) => write!(
            out,
            "{}",
            format_rows(f, &rows).map_err(anyhow::Error::msg)?
        )?,
    }
    Ok(())
}

async fn inspect(engine: &Engine, a: InspectArgs) -> anyhow::Result<()> {
    let mut found = Vec::new();
    let mut failed = false;
    for n in &a.networks {
        match engine.inspect_network(n).await {
            Ok(net) => found.push(serde_json::to_value(net)?),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    print_inspect(a.format.as_deref(), &found)?;
    if failed {
        return Err(ExitCode(1).into());
    }
    Ok(())
}

/// `port CONTAINER [PRIVATE_PORT[/PROTO]]`
pub async fn port(engine: &Engine, a: PortArgs) -> anyhow::Result<()> {
    let ports = engine.container_ports(&a.container).await.map_err(|e| {
        eprintln!("Error response from daemon: {e}");
        anyhow::Error::from(ExitCode(1))
    })?;
    let mut out = std::io::stdout().lock();
    match &a.private_port {
        Some(p) => {
            let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
            let num: u16 = num
                .parse()
                .map_err(|_| anyhow::anyhow!("Invalid port: {p}"))?;
            let hits: Vec<_> = ports
                .iter()
                .filter(|b| b.container_port == num && b.proto == proto)
                .collect();
            if hits.is_empty() {
                anyhow::bail!(
                    "No public port '{num}/{proto}' published for {}",
                    a.container
                );
            }
            for b in hits {
                writeln!(out, "{}:{}", b.host_ip, b.host_port)?;
            }
        }
        None => {
            for b in &ports {
                writeln!(
                    out,
                    "{}/{} -> {}:{}",
                    b.container_port, b.proto, b.host_ip, b.host_port
                )?;
            }
        }
    }
    Ok(())
}

/// `ps`'s PORTS: "0.0.0.0:8080->80/tcp, 443/tcp" (bound first, then exposed-only).
pub fn ports_text(c: &rdesk_engine::models::ContainerSummary) -> String {
    let mut ports = c.ports.clone().unwrap_or_default();
    ports.sort_by_key(|p| (p.public_port.is_none(), p.private_port, p.public_port));
    ports
        .iter()
        .map(|p| {
            let proto = p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into());
            match (&p.ip, p.public_port) {
                (Some(ip), Some(public)) => {
                    format!("{ip}:{public}->{}/{proto}", p.private_port)
                }
                _ => format!("{}/{proto}", p.private_port),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `ps`'s `{{.Networks}}`: the network names, comma-separated.
pub fn networks_text(c: &rdesk_engine::models::ContainerSummary) -> String {
    let mut names: Vec<String> = c
        .network_settings
        .as_ref()
        .and_then(|n| n.networks.as_ref())
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    names.join(",")
}
