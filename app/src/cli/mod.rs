//! The Docker-compatible command line: one module per verb family, all over `Engine`.

mod archive;
mod attach;
mod container_ops;
pub mod containers;
pub mod format;
mod images;
pub mod monitor;
mod network;
mod pull;
mod volumes;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rdesk_engine::{Engine, EngineConfig};
use std::io::{BufRead as _, Write as _};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "rdesk",
    version,
    about = "A keyboard-driven terminal workstation for containers, over its own daemonless engine.\nRun without a command for the workstation; with one for the Docker-compatible CLI."
)]
pub struct Cli {
    /// Store root (default /var/lib/rdesk; env RDESK_ROOT)
    #[arg(long, global = true, value_name = "DIR")]
    root: Option<PathBuf>,
    /// Run-time state dir (default /run/rdesk; env RDESK_RUNROOT)
    #[arg(long, global = true, value_name = "DIR")]
    runroot: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Download an image from a registry
    Pull(pull::PullArgs),
    /// List images
    #[command(alias = "image-ls")]
    Images(images::ImagesArgs),
    /// Manage images
    Image {
        #[command(subcommand)]
        command: ImageCommand,
    },
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(archive::ImportArgs),
    /// Return low-level information on rdesk objects
    Inspect(images::InspectArgs),
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(containers::RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(containers::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// List containers
    Ps(containers::PsArgs),
    /// Stop one or more running containers
    Stop(containers::StopArgs),
    /// Restart one or more containers
    Restart(containers::StopArgs),
    /// Kill one or more running containers
    Kill(containers::KillArgs),
    /// Remove one or more containers
    Rm(containers::RmArgs),
    /// Fetch the logs of a container
    Logs(containers::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(containers::WaitArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::AttachArgs),
    /// Execute a command in a running container
    Exec(attach::ExecArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(monitor::StatsArgs),
    /// Get real time events from the engine
    Events(monitor::EventsArgs),
    /// Pause all processes within one or more containers
    Pause(container_ops::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(container_ops::PauseArgs),
    /// Display the running processes of a container
    Top(container_ops::TopArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(container_ops::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(container_ops::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(container_ops::CpArgs),
    /// Rename a container
    Rename(container_ops::RenameArgs),
    /// Manage networks
    Network {
        #[command(subcommand)]
        command: network::NetworkCommand,
    },
    /// List port mappings or a specific mapping for the container
    Port(network::PortArgs),
    /// Manage containers
    Container {
        #[command(subcommand)]
        command: ContainerCommand,
    },
    /// Manage volumes
    Volume {
        #[command(subcommand)]
        command: volumes::VolumeCommand,
    },
}

#[derive(Subcommand, Debug)]
enum ContainerCommand {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(containers::RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(containers::CreateArgs),
    /// Start one or more stopped containers
    Start(containers::StartArgs),
    /// List containers
    #[command(alias = "ps", alias = "list")]
    Ls(containers::PsArgs),
    /// Stop one or more running containers
    Stop(containers::StopArgs),
    /// Restart one or more containers
    Restart(containers::StopArgs),
    /// Kill one or more running containers
    Kill(containers::KillArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(containers::RmArgs),
    /// Fetch the logs of a container
    Logs(containers::LogsArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(containers::WaitArgs),
    /// Display detailed information on one or more containers
    Inspect(images::InspectArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(attach::AttachArgs),
    /// Execute a command in a running container
    Exec(attach::ExecArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(monitor::StatsArgs),
    /// Pause all processes within one or more containers
    Pause(container_ops::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(container_ops::PauseArgs),
    /// Display the running processes of a container
    Top(container_ops::TopArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(container_ops::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(container_ops::ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(container_ops::CpArgs),
    /// Rename a container
    Rename(container_ops::RenameArgs),
    /// List port mappings or a specific mapping for the container
    Port(network::PortArgs),
}

#[derive(Subcommand, Debug)]
enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(images::ImagesArgs),
    /// Download an image from a registry
    Pull(pull::PullArgs),
    /// Display detailed information on one or more images
    Inspect(images::InspectArgs),
    /// Show the history of an image
    History(images::HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(images::TagArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(images::RmiArgs),
    /// Remove unused images
    Prune(images::PruneArgs),
    /// Save one or more images to a tar archive
    Save(archive::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(archive::ImportArgs),
}

/// `KEY=VALUE` flags (`--label`, `--opt`) as a map; a bare `KEY` has an empty value.
pub fn key_values(items: &[String]) -> std::collections::BTreeMap<String, String> {
    items
        .iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// Runs `op` on each name; prints the name on success, Docker's error otherwise; exit 1 if
/// any failed.
async fn each<'a, F, Fut>(names: &'a [String], op: F) -> anyhow::Result<()>
where
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = rdesk_engine::Result<()>>,
{
    each_except(names, |_| false, op).await
}

/// [`each`], but an error for which `quiet` holds prints nothing and is no failure (as
/// `network rm -f` of a missing network).
async fn each_except<'a, Q, F, Fut>(names: &'a [String], quiet: Q, op: F) -> anyhow::Result<()>
where
    Q: Fn(&rdesk_engine::Error) -> bool,
    F: Fn(&'a str) -> Fut,
    Fut: std::future::Future<Output = rdesk_engine::Result<()>>,
{
    let mut failed = false;
    for n in names {
        match op(n).await {
            Ok(()) => println!("{n}"),
            Err(e) if quiet(&e) => {}
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(ExitCode(1).into());
    }
    Ok(())
}

/// Docker's y/N prompt; anything but y/yes (including no stdin) is no.
pub fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("cannot read the answer")?;
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// The last line of `prune`.
pub fn print_reclaimed(out: &mut impl std::io::Write, bytes: i64) -> anyhow::Result<()> {
    writeln!(
        out,
        "Total reclaimed space: {}",
        format::human_size(bytes as f64)
    )?;
    Ok(())
}

/// An error that carries the exit code the verb must end with (Docker's per-verb codes).
#[derive(Debug)]
pub struct ExitCode(pub i32);

impl std::fmt::Display for ExitCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}
impl std::error::Error for ExitCode {}

pub fn run(cli: Cli) -> i32 {
    let Some(command) = cli.command else {
        // No verb: the workstation TUI, over the same engine (same --root/--runroot).
        return crate::tui::main(cli.root, cli.runroot);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(async move {
        let engine = open_engine(cli.root, cli.runroot).await?;
        dispatch(&engine, command).await
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            if let Some(code) = e.downcast_ref::<ExitCode>() {
                return code.0;
            }
            eprintln!("Error: {}", error_text(&e));
            1
        }
    }
}

/// The message chain without repeating a cause already quoted by its parent.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for cause in e.chain() {
        let m = cause.to_string();
        if s.contains(&m) {
            continue;
        }
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&m);
    }
    s
}

pub(crate) async fn open_engine(
    root: Option<PathBuf>,
    runroot: Option<PathBuf>,
) -> anyhow::Result<Engine> {
    let mut config = EngineConfig::from_env()?;
    if let Some(r) = root {
        config.root =
            std::path::absolute(&r).with_context(|| format!("invalid --root {}", r.display()))?;
    }
    if let Some(r) = runroot {
        config.runroot = std::path::absolute(&r)
            .with_context(|| format!("invalid --runroot {}", r.display()))?;
    }
    Ok(Engine::open(config).await?)
}

async fn dispatch(engine: &Engine, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Pull(a)
        | Command::Image {
            command: ImageCommand::Pull(a),
        } => pull::run(engine, a).await,
        Command::Images(a)
        | Command::Image {
            command: ImageCommand::Ls(a),
        } => images::list(engine, a).await,
        Command::Image {
            command: ImageCommand::Inspect(a),
        } => images::inspect(engine, a, "image").await,
        Command::Inspect(a) => images::inspect(engine, a, "").await,
        Command::Container {
            command: ContainerCommand::Inspect(a),
        } => images::inspect(engine, a, "container").await,
        Command::Run(a)
        | Command::Container {
            command: ContainerCommand::Run(a),
        } => containers::run(engine, a).await,
        Command::Create(a)
        | Command::Container {
            command: ContainerCommand::Create(a),
        } => containers::create(engine, a).await,
        Command::Start(a)
        | Command::Container {
            command: ContainerCommand::Start(a),
        } => containers::start(engine, a).await,
        Command::Ps(a)
        | Command::Container {
            command: ContainerCommand::Ls(a),
        } => containers::ps(engine, a).await,
        Command::Stop(a)
        | Command::Container {
            command: ContainerCommand::Stop(a),
        } => containers::stop(engine, a).await,
        Command::Restart(a)
        | Command::Container {
            command: ContainerCommand::Restart(a),
        } => containers::restart(engine, a).await,
        Command::Kill(a)
        | Command::Container {
            command: ContainerCommand::Kill(a),
        } => containers::kill(engine, a).await,
        Command::Rm(a)
        | Command::Container {
            command: ContainerCommand::Rm(a),
        } => containers::rm(engine, a).await,
        Command::Logs(a)
        | Command::Container {
            command: ContainerCommand::Logs(a),
        } => containers::logs(engine, a).await,
        Command::Wait(a)
        | Command::Container {
            command: ContainerCommand::Wait(a),
        } => containers::wait(engine, a).await,
        Command::Attach(a)
        | Command::Container {
            command: ContainerCommand::Attach(a),
        } => attach::attach_cmd(engine, a).await,
        Command::Exec(a)
        | Command::Container {
            command: ContainerCommand::Exec(a),
        } => attach::exec_cmd(engine, a).await,
        Command::Stats(a)
        | Command::Container {
            command: ContainerCommand::Stats(a),
        } => monitor::stats(engine, a).await,
        Command::Events(a) => monitor::events(engine, a).await,
        Command::Pause(a)
        | Command::Container {
            command: ContainerCommand::Pause(a),
        } => container_ops::pause(engine, a).await,
        Command::Unpause(a)
        | Command::Container {
            command: ContainerCommand::Unpause(a),
        } => container_ops::unpause(engine, a).await,
        Command::Top(a)
        | Command::Container {
            command: ContainerCommand::Top(a),
        } => container_ops::top(engine, a).await,
        Command::Diff(a)
        | Command::Container {
            command: ContainerCommand::Diff(a),
        } => container_ops::diff(engine, a).await,
        Command::Export(a)
        | Command::Container {
            command: ContainerCommand::Export(a),
        } => container_ops::export(engine, a).await,
        Command::Cp(a)
        | Command::Container {
            command: ContainerCommand::Cp(a),
        } => container_ops::cp(engine, a).await,
        Command::Rename(a)
        | Command::Container {
            command: ContainerCommand::Rename(a),
        } => container_ops::rename(engine, a).await,
        Command::Network { command } => network::run(engine, command).await,
        Command::Port(a)
        | Command::Container {
            command: ContainerCommand::Port(a),
        } => network::port(engine, a).await,
        Command::History(a)
        | Command::Image {
            command: ImageCommand::History(a),
        } => images::history(engine, a).await,
        Command::Tag(a)
        | Command::Image {
            command: ImageCommand::Tag(a),
        } => images::tag(engine, a).await,
        Command::Rmi(a)
        | Command::Image {
            command: ImageCommand::Rm(a),
        } => images::rmi(engine, a).await,
        Command::Image {
            command: ImageCommand::Prune(a),
        } => images::prune(engine, a).await,
        Command::Save(a)
        | Command::Image {
            command: ImageCommand::Save(a),
        } => archive::save(engine, a).await,
        Command::Load(a)
        | Command::Image {
            command: ImageCommand::Load(a),
        } => archive::load(engine, a).await,
        Command::Import(a)
        | Command::Image {
            command: ImageCommand::Import(a),
        } => archive::import(engine, a).await,
        Command::Volume { command } => volumes::dispatch(engine, command).await,
    }
}
