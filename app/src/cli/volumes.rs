//! Volume verbs: `volume create`, `volume ls`, `volume inspect`, `volume rm`, `volume prune`,
//! with Docker's flags, columns, JSON and messages.

use super::format::{format_rows, print_inspect, table};
use super::{confirm, each, key_values, print_reclaimed, ExitCode};
use rdesk_engine::models::Volume;
use rdesk_engine::{
    CreateVolumeOptions, Engine, ListVolumesOptions, PruneVolumesOptions, RemoveVolumeOptions,
};
use std::collections::BTreeMap;
use std::io::Write;

#[derive(clap::Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Specify volume driver name
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long = "label", short = 'l')]
    label: Vec<String>,
    /// Set driver specific options (type=tmpfs, device=..., o=...)
    #[arg(short = 'o', long = "opt")]
    opt: Vec<String>,
    /// Specify volume name
    #[arg(long = "name")]
    name_flag: Option<String>,
    /// [VOLUME]
    name: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
    /// Provide filter values (dangling=true|false, name=NAME, label=KEY[=VALUE], driver=local)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output: "table", "json", or a Go-style template
    #[arg(long)]
    format: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go-style template ({{.Mountpoint}}, {{json .Labels}})
    #[arg(short, long)]
    format: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of one or more volumes (a missing one is not an error)
    #[arg(short, long)]
    force: bool,
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
    /// Provide filter values (label=KEY[=VALUE], all=true)
    #[arg(long = "filter")]
    filter: Vec<String>,
}

pub async fn dispatch(engine: &Engine, command: VolumeCommand) -> anyhow::Result<()> {
    match command {
        VolumeCommand::Create(a) => create(engine, a).await,
        VolumeCommand::Ls(a) => ls(engine, a).await,
        VolumeCommand::Inspect(a) => inspect(engine, a).await,
        VolumeCommand::Rm(a) => rm(engine, a).await,
        VolumeCommand::Prune(a) => prune(engine, a).await,
    }
}

async fn create(engine: &Engine, args: CreateArgs) -> anyhow::Result<()> {
    let name = match (&args.name_flag, &args.name) {
        (Some(a), Some(b)) if a != b => anyhow::bail!(
            "conflicting options: cannot specify a volume-name through both --name and as a positional arg"
        ),
        (a, b) => a.clone().or(b.clone()).unwrap_or_default(),
    };
    let v = engine
        .create_volume(CreateVolumeOptions {
            name,
            driver: args.driver.clone(),
            driver_opts: key_values(&args.opt),
            labels: key_values(&args.label),
        })
        .await?;
    println!("{}", v.name);
    Ok(())
}

fn labels_text(v: &Volume) -> String {
    let mut l: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    l.sort();
    l.join(",")
}

async fn ls(engine: &Engine, args: LsArgs) -> anyhow::Result<()> {
    let mut opts = ListVolumesOptions::default();
    for f in &args.filter {
        match f.split_once('=') {
            Some(("dangling", v)) => {
                opts.dangling = Some(match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => anyhow::bail!("invalid filter 'dangling={v}'"),
                })
            }
            Some(("name", v)) => opts.name.push(v.to_string()),
            Some(("label", v)) => opts.label.push(v.to_string()),
            Some(("driver", v)) => opts.driver.push(v.to_string()),
            _ => anyhow::bail!("invalid filter '{f}'"),
        }
    }
    let volumes = engine.list_volumes(opts).await?.volumes.unwrap_or_default();
    let mut out = std::io::stdout().lock();
    if args.quiet {
        for v in &volumes {
            writeln!(out, "{}", v.name)?;
        }
        return Ok(());
    }
    match args.format.as_deref() {
        None | Some("table") => {
            let rows: Vec<Vec<String>> = volumes
                .iter()
                .map(|v| vec![v.driver.clone(), v.name.clone()])
                .collect();
            write!(out, "{}", table(&["DRIVER", "VOLUME NAME"], &rows))?;
        }
        Some(f) => {
            let rows: Vec<serde_json::Value> = volumes
                .iter()
                .map(|v| {
                    serde_json::json!({
                        "Availability": "N/A",
                        "Driver": v.driver,
                        "Group": "N/A",
                        "Labels": labels_text(v),
                        "Links": "N/A",
                        "Mountpoint": v.mountpoint,
                        "Name": v.name,
                        "Scope": "local",
                        "Size": "N/A",
                        "Status": "N/A",
                    })
                })
                .collect();
            write!(
                out,
                "{}",
                format_rows(f, &rows).map_err(anyhow::Error::msg)?
            )?;
        }
    }
    Ok(())
}

/// Docker's inspect JSON of a volume: keys sorted, 4-space indentation.
fn volume_json(v: &Volume) -> anyhow::Result<serde_json::Value> {
    let mut value = serde_json::to_value(v)?;
    if let Some(o) = value.as_object_mut() {
        o.remove("UsageData");
        o.remove("ClusterVolume");
        o.remove("Status");
    }
    // Sorted keys, as Docker prints them.
    let sorted: BTreeMap<String, serde_json::Value> = value
        .as_object()
        .map(|o| o.clone().into_iter().collect())
        .unwrap_or_default();
    Ok(serde_json::to_value(sorted)?)
}

async fn inspect(engine: &Engine, args: InspectArgs) -> anyhow::Result<()> {
    let mut found = Vec::new();
    let mut failed = false;
    for name in &args.names {
        match engine.inspect_volume(name).await {
            Ok(v) => found.push(volume_json(&v)?),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    print_inspect(args.format.as_deref(), &found)?;
    if failed {
        return Err(ExitCode(1).into());
    }
    Ok(())
}

async fn rm(engine: &Engine, args: RmArgs) -> anyhow::Result<()> {
    each(&args.names, |name| {
        engine.remove_volume(name, RemoveVolumeOptions { force: args.force })
    })
    .await
}

async fn prune(engine: &Engine, args: PruneArgs) -> anyhow::Result<()> {
    let mut opts = PruneVolumesOptions {
        all: args.all,
        ..Default::default()
    };
    for f in &args.filter {
        match f.split_once('=') {
            Some(("label", v)) => opts.label.push(v.to_string()),
            Some(("all", v)) => opts.all = matches!(v, "true" | "1"),
            _ => anyhow::bail!("invalid filter '{f}'"),
        }
    }
    if !args.force {
        let warning = if opts.all {
            "WARNING! This will remove all local volumes not used by at least one container.\nAre you sure you want to continue?"
        } else {
            "WARNING! This will remove anonymous local volumes not used by at least one container.\nAre you sure you want to continue?"
        };
        if !confirm(warning)? {
            return Ok(());
        }
    }
    let report = engine.prune_volumes(opts).await?;
    let mut out = std::io::stdout().lock();
    let deleted = report.volumes_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for v in deleted {
            writeln!(out, "{v}")?;
        }
        writeln!(out)?;
    }
    print_reclaimed(&mut out, report.space_reclaimed.unwrap_or(0))?;
    Ok(())
}
