//! Image verbs: `images`, `image inspect`, `history`, `tag`, `rmi`, `image prune`.

use super::format::{ellipsis, format_rows, human_ago, human_size, print_inspect, table};
use super::{confirm, print_reclaimed, ExitCode};
use rdesk_engine::models::ImageSummary;
use rdesk_engine::{
    Engine, ListImagesOptions, PruneImagesOptions, RemoveImageOptions, TagImageOptions,
};
use std::io::Write;

#[derive(clap::Args, Debug)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short, long)]
    all: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Show digests
    #[arg(long)]
    digests: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Filter output based on conditions provided (dangling=true|false, reference=NAME)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// Format output: "table", "json", or a Go-style template
    #[arg(long)]
    format: Option<String>,
    /// [REPOSITORY[:TAG]]
    repository: Option<String>,
}

fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.trim_start_matches("sha256:").chars().take(12).collect()
    }
}

/// One row per tag, as Docker: (repository, tag, digest) for an image.
fn rows_of(img: &ImageSummary) -> Vec<(String, String, String)> {
    let digest_for = |repo: &str| {
        img.repo_digests
            .iter()
            .find_map(|d| {
                d.rsplit_once('@')
                    .filter(|(r, _)| *r == repo)
                    .map(|(_, d)| d.to_string())
            })
            .unwrap_or_else(|| "<none>".into())
    };
    if img.repo_tags.is_empty() {
        if img.repo_digests.is_empty() {
            return vec![("<none>".into(), "<none>".into(), "<none>".into())];
        }
        return img
            .repo_digests
            .iter()
            .filter_map(|d| d.rsplit_once('@'))
            .map(|(r, d)| (r.to_string(), "<none>".into(), d.to_string()))
            .collect();
    }
    img.repo_tags
        .iter()
        .map(|t| {
            let (repo, tag) = match t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
                Some((r, tag)) => (r.to_string(), tag.to_string()),
                None => (t.clone(), "<none>".into()),
            };
            let digest = digest_for(&repo);
            (repo, tag, digest)
        })
        .collect()
}

pub async fn list(engine: &Engine, args: ImagesArgs) -> anyhow::Result<()> {
    let mut opts = ListImagesOptions {
        all: args.all,
        reference: args.repository.clone(),
        dangling: None,
    };
    for f in &args.filter {
        match f.split_once('=') {
            Some(("dangling", v)) => {
                opts.dangling = Some(v.parse().map_err(|_| {
                    anyhow::anyhow!("invalid filter 'dangling={v}': use true or false")
                })?)
            }
            Some(("reference", v)) => opts.reference = Some(v.to_string()),
            _ => anyhow::bail!(
                "invalid filter '{f}': rdesk supports dangling=true|false and reference=NAME[:TAG]"
            ),
        }
    }
    let images = engine.list_images(opts).await?;
    let mut out = std::io::stdout().lock();
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for img in &images {
            let id = short_id(&img.id, args.no_trunc);
            if seen.insert(id.clone()) {
                writeln!(out, "{id}")?;
            }
        }
        return Ok(());
    }
    let mut json_rows = Vec::new();
    let mut table_rows = Vec::new();
    for img in &images {
        for (repo, tag, digest) in rows_of(img) {
            let created_at = chrono::DateTime::from_timestamp(img.created, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S +0000 UTC").to_string())
                .unwrap_or_default();
            json_rows.push(serde_json::json!({
                "Containers": "N/A",
                "CreatedAt": created_at,
                "CreatedSince": human_ago(img.created),
                "Digest": digest,
                "ID": short_id(&img.id, args.no_trunc),
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human_size(img.size as f64),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human_size(img.size as f64),
            }));
            let mut row = vec![repo, tag];
            if args.digests {
                row.push(digest);
            }
            row.extend([
                short_id(&img.id, args.no_trunc),
                human_ago(img.created),
                human_size(img.size as f64),
            ]);
            table_rows.push(row);
        }
    }
    match args.format.as_deref() {
        None | Some("table") => {
            let header: &[&str] = if args.digests {
                &["REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"]
            } else {
                &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
            };
            write!(out, "{}", table(header, &table_rows))?;
        }
        Some(f) => write!(
            out,
            "{}",
            format_rows(f, &json_rows).map_err(anyhow::Error::msg)?
        )?,
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Format output using a Go-style template ({{.Id}}, {{json .Config}})
    #[arg(short, long)]
    format: Option<String>,
    /// Only images (for the generic `inspect`)
    #[arg(long = "type", hide = true)]
    typ: Option<String>,
    #[arg(required = true)]
    names: Vec<String>,
}

/// `inspect` of images, containers, or either (`kind` empty: containers first, as Docker).
fn to_json(v: impl serde::Serialize) -> serde_json::Result<serde_json::Value> {
    serde_json::to_value(v)
}

pub async fn inspect(engine: &Engine, args: InspectArgs, kind: &str) -> anyhow::Result<()> {
    const TYPES: [&str; 4] = ["container", "image", "network", "volume"];
    let kind = match (kind, args.typ.as_deref()) {
        ("", Some(t)) if TYPES.contains(&t) => t,
        ("", Some(t)) => anyhow::bail!(
            "\"{t}\" is not a valid value for --type (rdesk knows: {})",
            TYPES.join(", ")
        ),
        (k, _) => k,
    };
    let mut found = Vec::new();
    let mut failed = false;
    for name in &args.names {
        // Docker's order when no type is given: container, image, network, volume.
        let mut value = None;
        for t in TYPES {
            if value.is_some() || !(kind.is_empty() || kind == t) {
                continue;
            }
            let got = match t {
                "container" => engine.inspect_container(name).await.map(to_json),
                "image" => engine.inspect_image(name).await.map(to_json),
                "network" => engine.inspect_network(name).await.map(to_json),
                _ => engine.inspect_volume(name).await.map(to_json),
            };
            match got {
                Ok(v) => value = Some(v?),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        match value {
            Some(v) => found.push(v),
            None => {
                let what = if kind.is_empty() { "object" } else { kind };
                eprintln!("Error: No such {what}: {name}");
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

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    human: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Only show image IDs
    #[arg(short, long)]
    quiet: bool,
    /// Format output: "table", "json", or a Go-style template
    #[arg(long)]
    format: Option<String>,
    image: String,
}

pub async fn history(engine: &Engine, args: HistoryArgs) -> anyhow::Result<()> {
    let rows = engine.image_history(&args.image).await?;
    let mut out = std::io::stdout().lock();
    let id = |s: &str| {
        if s == "<missing>" {
            s.to_string()
        } else {
            short_id(s, args.no_trunc)
        }
    };
    if args.quiet {
        for r in &rows {
            writeln!(out, "{}", id(&r.id))?;
        }
        return Ok(());
    }
    let created = |t: i64| {
        if args.human {
            human_ago(t)
        } else {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|t| t.to_rfc3339())
                .unwrap_or_default()
        }
    };
    let size = |s: i64| {
        if args.human {
            human_size(s as f64)
        } else {
            s.to_string()
        }
    };
    let created_by = |s: &str| {
        let s = s.replace('\t', " ");
        if args.no_trunc {
            s
        } else {
            ellipsis(&s, 45)
        }
    };
    match args.format.as_deref() {
        None | Some("table") => {
            let body: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        id(&r.id),
                        created(r.created),
                        created_by(&r.created_by),
                        size(r.size),
                        r.comment.clone(),
                    ]
                })
                .collect();
            write!(
                out,
                "{}",
                table(
                    &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
                    &body
                )
            )?;
        }
        Some(f) => {
            let json: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "ID": id(&r.id), "CreatedSince": human_ago(r.created),
                        "CreatedAt": chrono::DateTime::from_timestamp(r.created, 0).map(|t| t.to_rfc3339()).unwrap_or_default(),
                        "CreatedBy": created_by(&r.created_by), "Size": size(r.size), "Comment": r.comment,
                    })
                })
                .collect();
            write!(
                out,
                "{}",
                format_rows(f, &json).map_err(anyhow::Error::msg)?
            )?;
        }
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct TagArgs {
    /// SOURCE_IMAGE[:TAG]
    source: String,
    /// TARGET_IMAGE[:TAG]
    target: String,
}

pub async fn tag(engine: &Engine, args: TagArgs) -> anyhow::Result<()> {
    engine
        .tag_image(
            &args.source,
            TagImageOptions {
                repo: args.target.clone(),
                tag: String::new(),
            },
        )
        .await?;
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short, long)]
    force: bool,
    /// Do not delete untagged parents
    #[arg(long)]
    no_prune: bool,
    #[arg(required = true)]
    images: Vec<String>,
}

pub async fn rmi(engine: &Engine, args: RmiArgs) -> anyhow::Result<()> {
    let mut failed = false;
    for name in &args.images {
        match engine
            .remove_image(
                name,
                RemoveImageOptions {
                    force: args.force,
                    noprune: args.no_prune,
                },
            )
            .await
        {
            Ok(items) => {
                let mut out = std::io::stdout().lock();
                for i in items {
                    if let Some(u) = i.untagged {
                        writeln!(out, "Untagged: {u}")?;
                    }
                    if let Some(d) = i.deleted {
                        writeln!(out, "Deleted: {d}")?;
                    }
                }
            }
            Err(e) => {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        return Err(ExitCode(1).into());
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short, long)]
    all: bool,
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

pub async fn prune(engine: &Engine, args: PruneArgs) -> anyhow::Result<()> {
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue?"
        } else {
            "WARNING! This will remove all dangling images.\nAre you sure you want to continue?"
        };
        if !confirm(warning)? {
            return Ok(());
        }
    }
    let report = engine
        .prune_images(PruneImagesOptions { all: args.all })
        .await?;
    let mut out = std::io::stdout().lock();
    let deleted = report.images_deleted.unwrap_or_default();
    if !deleted.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for i in deleted {
            if let Some(u) = i.untagged {
                writeln!(out, "untagged: {u}")?;
            }
            if let Some(d) = i.deleted {
                writeln!(out, "deleted: {d}")?;
            }
        }
        writeln!(out)?;
    }
    print_reclaimed(&mut out, report.space_reclaimed.unwrap_or(0))?;
    Ok(())
}
