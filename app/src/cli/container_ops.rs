//! `pause`, `unpause`, `top`, `diff`, `export`, `cp`, `rename`: Docker's output and codes.

use super::{each, ExitCode};
use anyhow::{bail, Context as _};
use rdesk_engine::models::ChangeType;
use rdesk_engine::{
    CopyFromContainerOptions, CopyToContainerOptions, Engine, RenameContainerOptions, TopOptions,
};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct PauseArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct TopArgs {
    container: String,
    /// Options of ps (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_options: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    container: String,
}

#[derive(clap::Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short, long)]
    archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Suppress progress output during copy
    #[arg(short, long)]
    quiet: bool,
    /// CONTAINER:SRC_PATH or a local path, or - (a tar stream on stdin)
    src: String,
    /// CONTAINER:DEST_PATH or a local path, or - (a tar stream to stdout)
    dest: String,
}

#[derive(clap::Args, Debug)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

fn daemon_error(e: rdesk_engine::Error) -> anyhow::Error {
    eprintln!("Error response from daemon: {e}");
    ExitCode(1).into()
}

pub async fn pause(engine: &Engine, args: PauseArgs) -> anyhow::Result<()> {
    each(&args.containers, |c| engine.pause_container(c)).await
}

pub async fn unpause(engine: &Engine, args: PauseArgs) -> anyhow::Result<()> {
    each(&args.containers, |c| engine.unpause_container(c)).await
}

pub async fn top(engine: &Engine, args: TopArgs) -> anyhow::Result<()> {
    let top = engine
        .top_processes(
            &args.container,
            TopOptions {
                ps_args: args.ps_options.join(" "),
            },
        )
        .await
        .map_err(daemon_error)?;
    let titles = top.titles.unwrap_or_default();
    let rows = top.processes.unwrap_or_default();
    // Docker's tabwriter: minimum width 20, padding 3.
    let mut widths: Vec<usize> = titles.iter().map(|t| t.chars().count()).collect();
    for r in &rows {
        for (i, v) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(v.chars().count());
            }
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let w = (widths.get(i).copied().unwrap_or(0) + 3).max(20);
                s.push_str(&format!("{c:<w$}"));
            }
        }
        s
    };
    println!("{}", line(&titles));
    for r in &rows {
        println!("{}", line(r));
    }
    Ok(())
}

pub async fn diff(engine: &Engine, args: DiffArgs) -> anyhow::Result<()> {
    let changes = engine
        .container_changes(&args.container)
        .await
        .map_err(daemon_error)?;
    for c in changes {
        let k = match c.kind {
            ChangeType::_0 => "C",
            ChangeType::_1 => "A",
            ChangeType::_2 => "D",
        };
        println!("{k} {}", c.path);
    }
    Ok(())
}

pub async fn export(engine: &Engine, args: ExportArgs) -> anyhow::Result<()> {
    let writer: Box<dyn std::io::Write + Send> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .with_context(|| format!("failed to export container: {}", p.display()))?,
        )),
        None => {
            if std::io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal. Use the -o flag or redirect");
            }
            Box::new(std::io::BufWriter::new(std::io::stdout()))
        }
    };
    engine
        .export_container(&args.container, writer)
        .await
        .map_err(daemon_error)
}

pub async fn rename(engine: &Engine, args: RenameArgs) -> anyhow::Result<()> {
    engine
        .rename_container(
            &args.container,
            RenameContainerOptions {
                name: args.new_name,
            },
        )
        .await
        .map_err(daemon_error)
}

// ---------------------------------------------------------------------------------------
// cp

/// Docker's split: a local path starts with `/` or `.`, or has no `:`; else CONTAINER:PATH.
fn split_cp_arg(arg: &str) -> (Option<&str>, &str) {
    if arg.starts_with('/') || arg.starts_with('.') {
        return (None, arg);
    }
    match arg.split_once(':') {
        Some((c, p)) if !c.is_empty() => (Some(c), p),
        _ => (None, arg),
    }
}

/// A container path as absolute (relative ones are relative to `/`).
fn container_path(p: &str) -> String {
    if p.starts_with('/') {
        p.to_string()
    } else {
        format!("/{p}")
    }
}

fn base_name(p: &str) -> String {
    p.trim_end_matches("/.")
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("")
        .to_string()
}

fn parent_of(p: &str) -> String {
    let t = p.trim_end_matches('/');
    match t.rsplit_once('/') {
        Some(("", _)) | None => "/".into(),
        Some((parent, _)) => parent.to_string(),
    }
}

pub async fn cp(engine: &Engine, args: CpArgs) -> anyhow::Result<()> {
    let _ = args.quiet;
    match (split_cp_arg(&args.src), split_cp_arg(&args.dest)) {
        ((Some(_), _), (Some(_), _)) => bail!("copying between containers is not supported"),
        ((None, _), (None, _)) => bail!("must specify at least one container source"),
        ((Some(c), p), (None, dest)) => copy_out(engine, c, &container_path(p), dest, &args).await,
        ((None, src), (Some(c), p)) => {
            copy_in(engine, src, c, &container_path(p), args.archive).await
        }
    }
}

async fn copy_out(
    engine: &Engine,
    container: &str,
    path: &str,
    dest: &str,
    args: &CpArgs,
) -> anyhow::Result<()> {
    let follow = args.follow_link;
    let stat = match engine.stat_container_path(container, path, follow).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(daemon_error(rdesk_engine::Error::InvalidArgument(format!(
                "Could not find the file {path} in container {container}"
            ))))
        }
        Err(e) => return Err(daemon_error(e)),
    };
    copy_out_resolved(engine, container, path, follow, dest, stat.is_dir).await
}

async fn copy_out_resolved(
    engine: &Engine,
    container: &str,
    path: &str,
    follow_link: bool,
    dest: &str,
    src_is_dir: bool,
) -> anyhow::Result<()> {
    let opts = CopyFromContainerOptions {
        path: path.to_string(),
        follow_link,
    };
    if dest == "-" {
        let out = Box::new(std::io::BufWriter::new(std::io::stdout()));
        return engine
            .copy_from_container(container, opts, out)
            .await
            .map_err(daemon_error);
    }
    let contents_only = path.ends_with("/.");
    let dest_path = Path::new(dest);
    let target = match std::fs::metadata(dest_path) {
        Ok(md) if md.is_dir() => {
            if contents_only {
                dest_path.to_path_buf()
            } else {
                dest_path.join(base_name(path))
            }
        }
        Ok(_) => {
            if src_is_dir {
                bail!("cannot copy a directory to a file: {dest}");
            }
            dest_path.to_path_buf()
        }
        Err(_) => {
            if dest.ends_with('/') && !src_is_dir {
                bail!("destination directory {dest} must exist (it ends with /)");
            }
            let parent = dest_path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !parent.is_dir() {
                bail!("no such directory: {}", parent.display());
            }
            dest_path.to_path_buf()
        }
    };
    let (reader, writer) = std::io::pipe().context("cannot create a pipe")?;
    let extract =
        tokio::task::spawn_blocking(move || rdesk_engine::extract_tar_to_host(reader, &target));
    let copied = engine
        .copy_from_container(container, opts, Box::new(writer))
        .await;
    let extracted = extract
        .await
        .map_err(|e| anyhow::anyhow!("extraction failed: {e}"))?;
    copied.map_err(daemon_error)?;
    Ok(extracted?)
}

async fn copy_in(
    engine: &Engine,
    src: &str,
    container: &str,
    path: &str,
    archive: bool,
) -> anyhow::Result<()> {
    if src == "-" {
        let input = Box::new(std::io::BufReader::new(std::io::stdin()));
        return engine
            .copy_to_container(
                container,
                CopyToContainerOptions {
                    path: path.to_string(),
                    copy_uid_gid: archive,
                },
                input,
            )
            .await
            .map_err(daemon_error);
    }
    let src_path = PathBuf::from(src);
    let src_md = std::fs::symlink_metadata(&src_path)
        .with_context(|| format!("lstat {}", src_path.display()))?;
    let src_is_dir = src_md.is_dir();
    let contents_only = src.ends_with("/.");
    // Where to extract, and the name of the top entry there (None: the contents only).
    let dest = engine
        .stat_container_path(container, path, false)
        .await
        .map_err(daemon_error)?;
    let (dir, name) = match dest {
        Some(s) if s.is_dir => (
            path.to_string(),
            if contents_only {
                None
            } else {
                Some(base_name(src))
            },
        ),
        Some(_) => {
            if src_is_dir {
                bail!("cannot copy a directory to a file: {container}:{path}");
            }
            (parent_of(path), Some(base_name(path)))
        }
        None => {
            if path.ends_with('/') && !src_is_dir {
                return Err(daemon_error(rdesk_engine::Error::InvalidArgument(format!(
                    "Could not find the file {path} in container {container}"
                ))));
            }
            let parent = parent_of(path);
            match engine
                .stat_container_path(container, &format!("{parent}/"), false)
                .await
                .map_err(daemon_error)?
            {
                Some(s) if s.is_dir => {}
                _ => {
                    return Err(daemon_error(rdesk_engine::Error::InvalidArgument(format!(
                        "Could not find the file {parent} in container {container}"
                    ))))
                }
            }
            (parent, Some(base_name(path)))
        }
    };
    let (reader, writer) = std::io::pipe().context("cannot create a pipe")?;
    let build = tokio::task::spawn_blocking(move || {
        rdesk_engine::tar_host_path(writer, &src_path, name.as_deref())
    });
    let copied = engine
        .copy_to_container(
            container,
            CopyToContainerOptions {
                path: dir,
                copy_uid_gid: archive,
            },
            Box::new(reader),
        )
        .await;
    let built = build
        .await
        .map_err(|e| anyhow::anyhow!("archive failed: {e}"))?;
    copied.map_err(daemon_error)?;
    Ok(built?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp_args() {
        assert_eq!(split_cp_arg("c:/x"), (Some("c"), "/x"));
        assert_eq!(split_cp_arg("./a:b"), (None, "./a:b"));
        assert_eq!(split_cp_arg("/a:b"), (None, "/a:b"));
        assert_eq!(split_cp_arg("-"), (None, "-"));
        assert_eq!(base_name("/a/b/."), "b");
        assert_eq!(base_name("/a/b/"), "b");
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
    }
}
