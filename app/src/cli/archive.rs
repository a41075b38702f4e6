//! `save`, `load`, `import`.

use super::ExitCode;
use rdesk_engine::{Engine, ImportImageOptions};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[arg(required = true)]
    images: Vec<String>,
}

pub async fn save(engine: &Engine, args: SaveArgs) -> anyhow::Result<()> {
    match &args.output {
        Some(path) => {
            // Written next to the target and renamed, so a failed save leaves no half file.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let tmp = tempfile_in(dir)?;
            let file = std::fs::File::create(&tmp)?;
            let result = engine
                .export_images(args.images.clone(), Box::new(std::io::BufWriter::new(file)))
                .await;
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
            std::fs::rename(&tmp, path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                anyhow::anyhow!("cannot write {}: {e}", path.display())
            })?;
        }
        None => {
            if std::io::stdout().is_terminal() {
                anyhow::bail!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            engine
                .export_images(
                    args.images.clone(),
                    Box::new(std::io::BufWriter::new(std::io::stdout())),
                )
                .await?;
        }
    }
    Ok(())
}

fn tempfile_in(dir: &std::path::Path) -> anyhow::Result<PathBuf> {
    let pid = std::process::id();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();
    Ok(dir.join(format!(".rdesk-save-{pid}-{nanos}.tmp")))
}

#[derive(clap::Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short, long)]
    input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short, long)]
    quiet: bool,
}

/// STDIN may be a pipe: spool it to a file the engine can seek in.
fn input_path(input: Option<PathBuf>) -> anyhow::Result<(PathBuf, Option<tempfile::TempPath>)> {
    match input {
        Some(p) if p.as_os_str() != "-" => Ok((p, None)),
        _ => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty");
            }
            let mut tmp = tempfile::NamedTempFile::new()?;
            std::io::copy(&mut std::io::stdin().lock(), &mut tmp)?;
            let path = tmp.into_temp_path();
            Ok((path.to_path_buf(), Some(path)))
        }
    }
}

pub async fn load(engine: &Engine, args: LoadArgs) -> anyhow::Result<()> {
    let (path, _guard) = input_path(args.input)?;
    let loaded = engine.import_image_archive(path).await?;
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        for l in loaded {
            match l.strip_prefix("ID: ") {
                Some(id) => writeln!(out, "Loaded image ID: {id}")?,
                None => writeln!(out, "Loaded image: {l}")?,
            }
        }
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short, long)]
    change: Vec<String>,
    /// Set commit message for imported image
    #[arg(short, long)]
    message: Option<String>,
    /// file|- : a rootfs tarball (plain, gzip or zstd)
    file: String,
    /// [REPOSITORY[:TAG]]
    reference: Option<String>,
}

pub async fn import(engine: &Engine, args: ImportArgs) -> anyhow::Result<()> {
    if args.file.contains("://") {
        anyhow::bail!("importing from a URL is not supported by rdesk: download the tarball first, then `rdesk import FILE`");
    }
    let (path, _guard) = input_path(if args.file == "-" {
        None
    } else {
        Some(PathBuf::from(&args.file))
    })?;
    if _guard.is_none() && !path.exists() {
        eprintln!("Error: open {}: no such file or directory", path.display());
        return Err(ExitCode(1).into());
    }
    let id = engine
        .import_image(
            path,
            ImportImageOptions {
                reference: args.reference,
                message: args.message,
                changes: args.change,
            },
        )
        .await?;
    println!("{id}");
    Ok(())
}
