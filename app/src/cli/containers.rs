//! Container verbs: `create`, `run`, `start`, `ps`, `stop`, `kill`, `restart`, `rm`, `logs`,
//! `wait`. Exit codes as Docker's: `run`/`create`/`start -a` give 125 for an engine error,
//! 126/127 when the command cannot be invoked / is not found, else the container's own code.

use super::format::{ellipsis, format_rows, human_ago, table};
use super::{each, key_values, ExitCode};
use anyhow::Context as _;
use futures_util::StreamExt;
use rdesk_engine::{
    ContainerConfig, CreateContainerOptions, CreateImageOptions, Engine, Error,
    ListContainersOptions, LogsOptions, RemoveContainerOptions,
};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Print help (`-h` is --hostname, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Automatically remove the container and its anonymous volumes when it exits
    #[arg(long)]
    rm: bool,
    /// Assign a name to the container
    #[arg(long)]
    name: Option<String>,
    /// Set environment variables (KEY=VALUE, or KEY to pass the caller's)
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long)]
    env_file: Vec<std::path::PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    hostname: Option<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    init: bool,
    /// Memory limit (e.g. 64m, 1g)
    #[arg(short, long)]
    memory: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    cpus: Option<f64>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long)]
    pids_limit: Option<i64>,
    /// Add Linux capabilities
    #[arg(long)]
    cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    read_only: bool,
    /// Runtime to use for this container (rdesk's own, or an OCI runtime binary: runc, crun)
    #[arg(long)]
    runtime: Option<String>,
    /// Security Options (seccomp=unconfined, seccomp=PROFILE.json, no-new-privileges)
    #[arg(long)]
    security_opt: Vec<String>,
    /// Set meta data on a container (KEY=VALUE)
    #[arg(short, long = "label")]
    label: Vec<String>,
    /// Signal to stop the container
    #[arg(long)]
    stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    stop_timeout: Option<i64>,
    /// Bind mount a volume (NAME:DST[:OPTS], /HOST:DST[:OPTS], or DST for an anonymous one)
    #[arg(short = 'v', long = "volume")]
    volume: Vec<String>,
    /// Attach a filesystem mount (type=volume|bind|tmpfs,source=,target=,readonly,...)
    #[arg(long = "mount")]
    mount: Vec<String>,
    /// Pull image before creating ("always", "missing", "never")
    #[arg(long, default_value = "missing")]
    pull: String,
    #[command(flatten)]
    net: super::network::NetFlags,
    /// IMAGE
    image: String,
    /// [COMMAND] [ARG...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = super::attach::DEFAULT_DETACH_KEYS)]
    detach_keys: String,
    #[command(flatten)]
    create: CreateArgs,
}

/// Docker's units: b, k, m, g (binary), e.g. `64m`.
pub fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.chars().last() {
        Some('b') => (&t[..t.len() - 1], 1),
        Some('k') => (&t[..t.len() - 1], 1 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        _ => (t.as_str(), 1),
    };
    let n: f64 = num
        .parse()
        .map_err(|_| anyhow::anyhow!("invalid size: '{s}'"))?;
    Ok((n * mult as f64) as i64)
}

fn env_entries(args: &CreateArgs) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut push = |e: &str| {
        if e.contains('=') {
            out.push(e.to_string());
        } else if let Ok(v) = std::env::var(e) {
            // `-e KEY` passes the caller's value, or nothing when unset (Docker).
            out.push(format!("{e}={v}"));
        }
    };
    for f in &args.env_file {
        let text = std::fs::read_to_string(f).with_context(|| format!("open {}", f.display()))?;
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            push(line);
        }
    }
    for e in &args.env {
        push(e);
    }
    Ok(out)
}

fn config_of(args: &CreateArgs) -> anyhow::Result<ContainerConfig> {
    let labels = key_values(&args.label);
    Ok(ContainerConfig {
        image: args.image.clone(),
        entrypoint: args.entrypoint.as_ref().map(|e| {
            if e.is_empty() {
                vec![]
            } else {
                vec![e.clone()]
            }
        }),
        cmd: (!args.command.is_empty()).then(|| args.command.clone()),
        env: env_entries(args)?,
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        hostname: args.hostname.clone(),
        tty: args.tty,
        open_stdin: args.interactive,
        auto_remove: args.rm,
        read_only: args.read_only,
        privileged: args.privileged,
        init: args.init,
        cap_add: args.cap_add.clone(),
        cap_drop: args.cap_drop.clone(),
        memory: args.memory.as_deref().map(parse_bytes).transpose()?,
        cpus: args.cpus,
        pids_limit: args.pids_limit,
        security_opt: args.security_opt.clone(),
        labels,
        stop_signal: args.stop_signal.clone(),
        stop_timeout: args.stop_timeout,
        runtime: args.runtime.clone(),
        network: args.net.spec(),
        ..mount_config(args)?
    })
}

/// `-v` and `--mount` as the docker CLI splits them (Binds, Volumes, Mounts).
fn mount_config(args: &CreateArgs) -> anyhow::Result<ContainerConfig> {
    use rdesk_engine::volumes::spec::{self, VolumeFlag};
    let cwd = std::env::current_dir().ok();
    let mut config = ContainerConfig::default();
    for v in &args.volume {
        match spec::parse_volume_flag(v, cwd.as_deref())? {
            VolumeFlag::Bind(b) => config.binds.push(b),
            VolumeFlag::Anonymous(t) => config.volumes.push(t),
        }
    }
    for m in &args.mount {
        config
            .mounts
            .push(spec::parse_mount_flag(m, cwd.as_deref())?);
    }
    Ok(config)
}

/// Prints an engine error the way `run`/`create` do and gives their exit code.
fn run_failure(e: anyhow::Error) -> anyhow::Error {
    let code = match e.downcast_ref::<Error>() {
        Some(Error::StartFailed { code, .. }) => *code,
        _ => 125,
    };
    if e.downcast_ref::<ExitCode>().is_some() {
        return e;
    }
    eprintln!("rdesk: {}", super::error_text(&e));
    if code == 125 {
        eprintln!("Run 'rdesk run --help' for more information");
    }
    ExitCode(code).into()
}

async fn ensure_image(engine: &Engine, args: &CreateArgs) -> anyhow::Result<()> {
    let present = engine.inspect_image(&args.image).await.is_ok();
    let pull = match args.pull.as_str() {
        "always" => true,
        "missing" => !present,
        "never" => false,
        other => anyhow::bail!(
            "invalid pull option: '{other}': must be one of \"always\", \"missing\" or \"never\""
        ),
    };
    if !pull {
        return Ok(());
    }
    let reference = rdesk_engine::Reference::parse(&args.image)?;
    if !present {
        eprintln!("Unable to find image '{}' locally", reference.familiar());
    }
    let mut stream = engine.create_image(CreateImageOptions {
        from_image: args.image.clone(),
        ..Default::default()
    });
    let mut display =
        super::pull::ProgressDisplay::new(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let mut err = std::io::stderr().lock();
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(|e| match e {
            Error::Registry(rdesk_engine::registry::RegistryError::ManifestNotFound { .. }) | Error::Registry(rdesk_engine::registry::RegistryError::Unauthorized { .. }) => {
                anyhow::anyhow!("{e}\nIs the image name right? Pull it first with `rdesk pull {}` to see why it cannot be found.", args.image)
            }
            other => other.into(),
        })?;
        display.show(&mut err, &msg)?;
    }
    Ok(())
}

pub async fn create(engine: &Engine, args: CreateArgs) -> anyhow::Result<()> {
    let result: anyhow::Result<String> = async {
        let config = config_of(&args)?;
        ensure_image(engine, &args).await?;
        Ok(engine
            .create_container(
                Some(CreateContainerOptions {
                    name: args.name.clone().unwrap_or_default(),
                }),
                config,
            )
            .await?)
    }
    .await;
    let id = result.map_err(run_failure)?;
    println!("{id}");
    Ok(())
}

pub async fn run(engine: &Engine, args: RunArgs) -> anyhow::Result<()> {
    if (args.create.tty || args.create.interactive) && !args.detach {
        return run_attached(engine, args).await;
    }
    let result: anyhow::Result<(String, Option<rdesk_engine::LogReader>)> = async {
        let config = config_of(&args.create)?;
        ensure_image(engine, &args.create).await?;
        let id = engine
            .create_container(
                Some(CreateContainerOptions {
                    name: args.create.name.clone().unwrap_or_default(),
                }),
                config,
            )
            .await?;
        // Attached: open the log before the start, so even a container that is gone at once
        // (--rm) is read whole.
        let log = if args.detach {
            None
        } else {
            Some(engine.open_logs(&id).await?)
        };
        if let Err(e) = engine.start_container(&id).await {
            if args.create.rm {
                let _ = engine
                    .remove_container(
                        &id,
                        RemoveContainerOptions {
                            force: true,
                            v: true,
                        },
                    )
                    .await;
            }
            return Err(e.into());
        }
        Ok((id, log))
    }
    .await;
    let (id, log) = result.map_err(run_failure)?;
    let Some(log) = log else {
        println!("{id}");
        return Ok(());
    };
    let code = follow_until_exit(engine, &id, log)
        .await
        .map_err(run_failure)?;
    if code != 0 {
        return Err(ExitCode(code as i32).into());
    }
    Ok(())
}

/// `run -it` / `run -i`: the container starts once we are attached to its monitor, so not a
/// byte of output (a shell's first prompt) is missed.
async fn run_attached(engine: &Engine, args: RunArgs) -> anyhow::Result<()> {
    let keys = rdesk_engine::attach::parse_detach_keys(&args.detach_keys)
        .map_err(|e| run_failure(anyhow::anyhow!(e)))?;
    let result: anyhow::Result<(String, std::path::PathBuf)> = async {
        let config = config_of(&args.create)?;
        ensure_image(engine, &args.create).await?;
        let id = engine
            .create_container(
                Some(CreateContainerOptions {
                    name: args.create.name.clone().unwrap_or_default(),
                }),
                config,
            )
            .await?;
        match engine.start_container_attached(&id).await {
            Ok((_, socket)) => Ok((id, socket)),
            Err(e) => {
                if args.create.rm {
                    let _ = engine
                        .remove_container(
                            &id,
                            RemoveContainerOptions {
                                force: true,
                                v: true,
                            },
                        )
                        .await;
                }
                Err(e.into())
            }
        }
    }
    .await;
    let (id, socket) = result.map_err(run_failure)?;
    let (tty, stdin) = (args.create.tty, args.create.interactive);
    let end =
        tokio::task::spawn_blocking(move || super::attach::session(&socket, tty, stdin, &keys))
            .await??;
    if args.create.rm && matches!(end, super::attach::AttachEnd::Exited(_)) {
        // As docker run --rm: return once the container is gone, not merely stopped.
        let _ = engine.wait_container(&id).await;
    }
    super::attach::finish(end)
}

/// Streams the container's output to ours until it exits; its exit code.
async fn follow_until_exit(
    engine: &Engine,
    id: &str,
    log: rdesk_engine::LogReader,
) -> anyhow::Result<i64> {
    let opts = LogsOptions {
        follow: true,
        ..Default::default()
    };
    engine
        .read_logs(log, opts, |r| {
            if r.stream == "stderr" {
                let _ = std::io::stderr().write_all(r.log.as_bytes());
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(r.log.as_bytes());
                let _ = out.flush();
            }
            true
        })
        .await
        .or_else(|e| if e.is_not_found() { Ok(()) } else { Err(e) })?;
    Ok(engine.wait_container(id).await?)
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = super::attach::DEFAULT_DETACH_KEYS)]
    detach_keys: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn start(engine: &Engine, args: StartArgs) -> anyhow::Result<()> {
    if args.attach {
        if args.containers.len() > 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        let name = &args.containers[0];
        let id = engine.container_id(name).await?;
        let config = engine
            .inspect_container(&id)
            .await?
            .config
            .unwrap_or_default();
        let (tty, open_stdin) = (
            config.tty.unwrap_or(false),
            config.open_stdin.unwrap_or(false),
        );
        if tty || (args.interactive && open_stdin) {
            // Through the monitor's attach socket, started once we are attached (as run -it).
            let keys = rdesk_engine::attach::parse_detach_keys(&args.detach_keys)
                .map_err(anyhow::Error::msg)?;
            let (_, socket) = engine
                .start_container_attached(&id)
                .await
                .map_err(|e| run_failure(e.into()))?;
            let stdin = args.interactive && open_stdin;
            let end = tokio::task::spawn_blocking(move || {
                super::attach::session(&socket, tty, stdin, &keys)
            })
            .await??;
            return super::attach::finish(end);
        }
        let mut log = engine.open_logs(&id).await?;
        // Only what this run writes, as attaching shows.
        log.skip_to_end()?;
        engine
            .start_container(name)
            .await
            .map_err(|e| run_failure(e.into()))?;
        let code = follow_until_exit(engine, &id, log)
            .await
            .map_err(run_failure)?;
        if code != 0 {
            return Err(ExitCode(code as i32).into());
        }
        return Ok(());
    }
    let mut failed = false;
    for c in &args.containers {
        match engine.start_container(c).await {
            Ok(_) => println!("{c}"),
            Err(e) => {
                eprintln!("Error response from daemon: {e}");
                failed = true;
            }
        }
    }
    if failed {
        eprintln!(
            "Error: failed to start containers: {}",
            args.containers.join(", ")
        );
        return Err(ExitCode(1).into());
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long)]
    last: Option<usize>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    latest: bool,
    /// Filter output based on conditions provided (status=, name=, ancestor=, id=)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output: "table", "json", or a Go-style template
    #[arg(long)]
    format: Option<String>,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
}

pub async fn ps(engine: &Engine, args: PsArgs) -> anyhow::Result<()> {
    let mut opts = ListContainersOptions {
        all: args.all,
        limit: args.last.or(args.latest.then_some(1)),
        ..Default::default()
    };
    if opts.limit.is_some() {
        opts.all = true;
    }
    for f in &args.filter {
        match f.split_once('=') {
            Some(("status", v)) => {
                const OK: [&str; 7] = [
                    "created",
                    "restarting",
                    "running",
                    "removing",
                    "paused",
                    "exited",
                    "dead",
                ];
                if !OK.contains(&v) {
                    anyhow::bail!("invalid filter 'status={v}'");
                }
                opts.status.push(v.into());
                opts.all = true;
            }
            Some(("name", v)) => opts.name.push(v.into()),
            Some(("ancestor", v)) => opts.ancestor.push(v.into()),
            Some(("id", v)) => opts.id.push(v.into()),
            _ => anyhow::bail!(
                "invalid filter '{f}': rdesk supports status=, name=, ancestor= and id="
            ),
        }
    }
    let list = engine.list_containers(opts).await?;
    let mut out = std::io::stdout().lock();
    let id_of = |id: &str| {
        if args.no_trunc {
            id.to_string()
        } else {
            id.chars().take(12).collect()
        }
    };
    if args.quiet {
        for c in &list {
            writeln!(out, "{}", id_of(c.id.as_deref().unwrap_or_default()))?;
        }
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|c| {
            let cmd = c.command.clone().unwrap_or_default();
            let command = if args.no_trunc { format!("\"{cmd}\"") } else { format!("\"{}\"", ellipsis(&cmd, 20)) };
            let created = c.created.unwrap_or(0);
            serde_json::json!({
                "ID": id_of(c.id.as_deref().unwrap_or_default()),
                "Image": c.image.clone().unwrap_or_default(),
                "Command": command,
                "CreatedAt": chrono::DateTime::from_timestamp(created, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string()).unwrap_or_default(),
                "RunningFor": human_ago(created),
                "Status": c.status.clone().unwrap_or_default(),
                "State": c.state.map(|s| s.to_string()).unwrap_or_default(),
                "Ports": super::network::ports_text(c),
                "Names": c.names.clone().unwrap_or_default().iter().map(|n| n.trim_start_matches('/').to_string()).collect::<Vec<_>>().join(","),
                "Labels": c.labels.clone().unwrap_or_default().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Mounts": "", "Networks": super::network::networks_text(c), "Size": "", "LocalVolumes": "0",
            })
        })
        .collect();
    match args.format.as_deref() {
        None | Some("table") => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    [
                        "ID",
                        "Image",
                        "Command",
                        "RunningFor",
                        "Status",
                        "Ports",
                        "Names",
                    ]
                    .iter()
                    .map(|k| r[*k].as_str().unwrap_or_default().to_string())
                    .collect()
                })
                .collect();
            write!(
                out,
                "{}",
                table(
                    &[
                        "CONTAINER ID",
                        "IMAGE",
                        "COMMAND",
                        "CREATED",
                        "STATUS",
                        "PORTS",
                        "NAMES"
                    ],
                    &body
                )
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

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short, long)]
    signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short, long, alias = "time")]
    timeout: Option<i64>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn stop(engine: &Engine, args: StopArgs) -> anyhow::Result<()> {
    if let Some(sig) = &args.signal {
        // `stop -s SIG`: that signal instead of the configured one, then SIGKILL after the timeout.
        return each(&args.containers, |c| {
            let sig = sig.clone();
            async move {
                engine.kill_container(c, &sig).await?;
                engine.stop_container(c, args.timeout).await
            }
        })
        .await;
    }
    each(&args.containers, |c| engine.stop_container(c, args.timeout)).await
}

pub async fn restart(engine: &Engine, args: StopArgs) -> anyhow::Result<()> {
    each(&args.containers, |c| {
        engine.restart_container(c, args.timeout)
    })
    .await
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn kill(engine: &Engine, args: KillArgs) -> anyhow::Result<()> {
    each(&args.containers, |c| engine.kill_container(c, &args.signal)).await
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    volumes: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn rm(engine: &Engine, args: RmArgs) -> anyhow::Result<()> {
    each(&args.containers, |c| {
        engine.remove_container(
            c,
            RemoveContainerOptions {
                force: args.force,
                v: args.volumes,
            },
        )
    })
    .await
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    follow: bool,
    /// Number of lines to show from the end of the logs ("all" for every line)
    #[arg(short = 'n', long, default_value = "all")]
    tail: String,
    /// Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m)
    #[arg(long)]
    since: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    timestamps: bool,
    container: String,
}

pub async fn logs(engine: &Engine, args: LogsArgs) -> anyhow::Result<()> {
    let tail = match args.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse::<usize>()
                .map_err(|_| anyhow::anyhow!("invalid value for \"tail\": {n:?}"))?,
        ),
    };
    let since = args
        .since
        .as_deref()
        .map(|v| super::format::parse_time_arg("since", v))
        .transpose()?;
    let ts = args.timestamps;
    let opts = LogsOptions {
        follow: args.follow,
        tail,
        since,
        timestamps: ts,
        ..Default::default()
    };
    engine
        .logs(&args.container, opts, move |r| {
            let line = if ts {
                format!("{} {}", r.time, r.log)
            } else {
                r.log
            };
            if r.stream == "stderr" {
                let _ = std::io::stderr().write_all(line.as_bytes());
            } else {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
            true
        })
        .await?;
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub async fn wait(engine: &Engine, args: WaitArgs) -> anyhow::Result<()> {
    let mut failed = false;
    for c in &args.containers {
        match engine.wait_container(c).await {
            Ok(code) => println!("{code}"),
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

/// `run`'s arguments on their own (the workstation's run form and `:run`).
#[derive(clap::Parser, Debug)]
#[command(name = "run", disable_help_flag = true, no_binary_name = true)]
struct RunLine {
    #[command(flatten)]
    run: RunArgs,
}

fn parse_run_line(args: &[String]) -> Result<RunArgs, String> {
    use clap::Parser as _;
    RunLine::try_parse_from(args).map(|l| l.run).map_err(|e| {
        let text = e.render().to_string();
        text.lines()
            .next()
            .unwrap_or("invalid arguments")
            .trim_start_matches("error: ")
            .to_string()
    })
}

/// Checks `run` arguments as `rdesk run` would parse them; the parser's first line on error.
pub(crate) fn parse_run(args: &[String]) -> Result<(), String> {
    parse_run_line(args).map(|_| ())
}

/// A container the workstation created from `run` arguments, not started yet.
pub(crate) struct Prepared {
    pub id: String,
    pub tty: bool,
    pub interactive: bool,
    pub detach: bool,
    pub rm: bool,
}

/// Parses Docker `run` arguments exactly as `rdesk run` does (so an option the CLI lacks is
/// refused the same way), pulls the image when it is missing (reporting through `status`,
/// never on the terminal), creates the container. Errors read as the CLI's would.
pub(crate) async fn prepare_run(
    engine: &Engine,
    args: &[String],
    status: impl Fn(String),
) -> anyhow::Result<Prepared> {
    let args = parse_run_line(args).map_err(anyhow::Error::msg)?;
    rdesk_engine::attach::parse_detach_keys(&args.detach_keys).map_err(anyhow::Error::msg)?;
    let config = config_of(&args.create)?;
    if engine.inspect_image(&args.create.image).await.is_err() {
        let reference = rdesk_engine::Reference::parse(&args.create.image)?;
        status(format!(
            "Unable to find image '{}' locally: pulling…",
            reference.familiar()
        ));
        let mut stream = engine.create_image(CreateImageOptions {
            from_image: args.create.image.clone(),
            ..Default::default()
        });
        while let Some(msg) = stream.next().await {
            msg?;
        }
    }
    let id = engine
        .create_container(
            Some(CreateContainerOptions {
                name: args.create.name.clone().unwrap_or_default(),
            }),
            config,
        )
        .await?;
    Ok(Prepared {
        id,
        tty: args.create.tty,
        interactive: args.create.interactive,
        detach: args.detach,
        rm: args.create.rm,
    })
}
