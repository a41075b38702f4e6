//! `attach` and `exec`: the verbs. The client side of a session (raw mode, detach keys,
//! resize, output) is `crate::attach_client`, shared with the workstation's attach/exec.

use super::ExitCode;
pub use crate::attach_client::{session, AttachEnd, DEFAULT_DETACH_KEYS};
use rdesk_engine::attach;
use rdesk_engine::Engine;

#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: String,
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    container: String,
}

pub async fn attach_cmd(engine: &Engine, args: AttachArgs) -> anyhow::Result<()> {
    let keys = attach::parse_detach_keys(&args.detach_keys).map_err(anyhow::Error::msg)?;
    let (socket, tty, open_stdin) = engine.attach_target(&args.container).await?;
    let forward = open_stdin && !args.no_stdin;
    let end = tokio::task::spawn_blocking(move || session(&socket, tty, forward, &keys)).await??;
    finish(end)
}

/// Maps how a session ended to the verb's exit.
pub fn finish(end: AttachEnd) -> anyhow::Result<()> {
    match end {
        AttachEnd::Exited(0) | AttachEnd::Detached => Ok(()),
        AttachEnd::Exited(code) => Err(ExitCode(code).into()),
        AttachEnd::Closed => Err(ExitCode(125).into()),
    }
}

#[derive(clap::Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Detached mode: run command in the background
    #[arg(short, long)]
    detach: bool,
    /// Set environment variables
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    user: Option<String>,
    /// Override the key sequence for detaching a container
    #[arg(long, default_value = DEFAULT_DETACH_KEYS)]
    detach_keys: String,
    container: String,
    /// COMMAND [ARG...]
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    command: Vec<String>,
}

pub async fn exec_cmd(engine: &Engine, args: ExecArgs) -> anyhow::Result<()> {
    let keys = attach::parse_detach_keys(&args.detach_keys).map_err(anyhow::Error::msg)?;
    let env = args
        .env
        .iter()
        .filter_map(|e| {
            if e.contains('=') {
                Some(e.clone())
            } else {
                std::env::var(e).ok().map(|v| format!("{e}={v}"))
            }
        })
        .collect();
    let config = rdesk_engine::ExecConfig {
        cmd: args.command.clone(),
        env,
        working_dir: args.workdir.clone(),
        user: args.user.clone(),
        tty: args.tty,
        attach_stdin: args.interactive,
        detach: args.detach,
    };
    let socket = match engine.exec(&args.container, config).await {
        Ok((_, socket)) => socket,
        Err(rdesk_engine::Error::StartFailed { code, message }) => {
            eprintln!("rdesk: {message}");
            return Err(ExitCode(code).into());
        }
        Err(e) => return Err(e.into()),
    };
    if args.detach {
        return Ok(());
    }
    let (tty, stdin) = (args.tty, args.interactive);
    let end = tokio::task::spawn_blocking(move || session(&socket, tty, stdin, &keys)).await??;
    finish(end)
}
