//! `stats` and `events`: live views of what the engine's containers are doing.

use super::format::table;
use rdesk_engine::models::ContainerStatsResponse;
use rdesk_engine::{Engine, ListContainersOptions};
use std::io::Write;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    no_stream: bool,
    /// Format output: "table", "json"
    #[arg(long)]
    format: Option<String>,
    containers: Vec<String>,
}

/// Docker's CPU %: container CPU time over host CPU time between two samples, times CPUs.
pub fn cpu_percent(prev: &ContainerStatsResponse, now: &ContainerStatsResponse) -> f64 {
    let cpu = |s: &ContainerStatsResponse| {
        s.cpu_stats
            .as_ref()
            .and_then(|c| c.cpu_usage.as_ref())
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
    };
    let sys = |s: &ContainerStatsResponse| {
        s.cpu_stats
            .as_ref()
            .and_then(|c| c.system_cpu_usage)
            .unwrap_or(0)
    };
    let cpus = now
        .cpu_stats
        .as_ref()
        .and_then(|c| c.online_cpus)
        .unwrap_or(1) as f64;
    let (dc, ds) = (
        cpu(now).saturating_sub(cpu(prev)) as f64,
        sys(now).saturating_sub(sys(prev)) as f64,
    );
    if ds > 0.0 {
        dc / ds * cpus * 100.0
    } else {
        0.0
    }
}

fn row(
    prev: &ContainerStatsResponse,
    s: &ContainerStatsResponse,
) -> (Vec<String>, serde_json::Value) {
    let id: String = s.id.clone().unwrap_or_default().chars().take(12).collect();
    let name = s
        .name
        .clone()
        .unwrap_or_default()
        .trim_start_matches('/')
        .to_string();
    let mem = s.memory_stats.as_ref().and_then(|m| m.usage).unwrap_or(0);
    let limit = s.memory_stats.as_ref().and_then(|m| m.limit).unwrap_or(0);
    let mem_pct = if limit > 0 {
        mem as f64 / limit as f64 * 100.0
    } else {
        0.0
    };
    let pids = s.pids_stats.as_ref().and_then(|p| p.current).unwrap_or(0);
    let cpu = format!("{:.2}%", cpu_percent(prev, s));
    let usage = format!("{} / {}", binary_size(mem), binary_size(limit));
    let cells = vec![
        id.clone(),
        name.clone(),
        cpu.clone(),
        usage.clone(),
        format!("{mem_pct:.2}%"),
        "0B / 0B".into(),
        "0B / 0B".into(),
        pids.to_string(),
    ];
    let json = serde_json::json!({"ID": id, "Name": name, "CPUPerc": cpu, "MemUsage": usage, "MemPerc": format!("{mem_pct:.2}%"), "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": pids.to_string(), "Container": id});
    (cells, json)
}

/// go-units BytesSize (binary units), as Docker's MEM USAGE column.
fn binary_size(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i < UNITS.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{v:.4}")
        .trim_end_matches('0')
        .trim_end_matches('.')
        .to_string()
        + UNITS[i]
}

pub async fn stats(engine: &Engine, args: StatsArgs) -> anyhow::Result<()> {
    let mut names = args.containers.clone();
    if names.is_empty() {
        names = engine
            .list_containers(ListContainersOptions {
                all: args.all,
                ..Default::default()
            })
            .await?
            .into_iter()
            .filter(|c| c.state.map(|s| s.to_string()) == Some("running".into()))
            .filter_map(|c| c.id)
            .collect();
    }
    let mut prev: Vec<ContainerStatsResponse> = Vec::new();
    for n in &names {
        prev.push(engine.stats(n).await?);
    }
    loop {
        tokio::time::sleep(Duration::from_millis(if args.no_stream {
            500
        } else {
            1000
        }))
        .await;
        let mut now = Vec::new();
        for n in &names {
            now.push(engine.stats(n).await.unwrap_or_default());
        }
        let rows: Vec<(Vec<String>, serde_json::Value)> =
            prev.iter().zip(&now).map(|(p, s)| row(p, s)).collect();
        let mut out = std::io::stdout().lock();
        if !args.no_stream {
            // Redraw in place, as Docker's stats does on a terminal.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        match args.format.as_deref() {
            Some("json") => {
                for (_, j) in &rows {
                    writeln!(out, "{j}")?;
                }
            }
            _ => {
                let body: Vec<Vec<String>> = rows.into_iter().map(|(c, _)| c).collect();
                write!(
                    out,
                    "{}",
                    table(
                        &[
                            "CONTAINER ID",
                            "NAME",
                            "CPU %",
                            "MEM USAGE / LIMIT",
                            "MEM %",
                            "NET I/O",
                            "BLOCK I/O",
                            "PIDS"
                        ],
                        &body
                    )
                )?;
            }
        }
        out.flush()?;
        if args.no_stream {
            return Ok(());
        }
        prev = now;
    }
}

#[derive(clap::Args, Debug)]
pub struct EventsArgs {
    /// Show events since this time (Unix seconds, RFC 3339, or relative: 10m)
    #[arg(long)]
    since: Option<String>,
    /// Stream events until this time
    #[arg(long)]
    until: Option<String>,
    /// Format output: "json" or a Go-style template
    #[arg(long)]
    format: Option<String>,
    /// Filter output (type=container|image, event=NAME, container=NAME)
    #[arg(short, long = "filter")]
    filter: Vec<String>,
}

pub async fn events(engine: &Engine, args: EventsArgs) -> anyhow::Result<()> {
    let since = args
        .since
        .as_deref()
        .map(|v| super::format::parse_time_arg("since", v))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|v| super::format::parse_time_arg("until", v))
        .transpose()?;
    let mut filters: Vec<(String, String)> = Vec::new();
    for f in &args.filter {
        let (k, v) = f
            .split_once('=')
            .ok_or_else(|| anyhow::anyhow!("invalid filter '{f}'"))?;
        if !matches!(k, "type" | "event" | "container" | "image") {
            anyhow::bail!("invalid filter '{f}': rdesk supports type=, event=, container=, image=");
        }
        filters.push((k.to_string(), v.to_string()));
    }
    let mut offset = if since.is_some() {
        0
    } else {
        engine.events_end()
    };
    loop {
        let (evs, next) = engine.events_from(offset);
        offset = next;
        let mut out = std::io::stdout().lock();
        for e in evs {
            if since.is_some_and(|s| e.time < s) {
                continue;
            }
            if until.is_some_and(|u| e.time > u) {
                return Ok(());
            }
            let name = e.actor.attributes.get("name").cloned().unwrap_or_default();
            let ok = filters.iter().all(|(k, v)| match k.as_str() {
                "type" => e.typ == *v,
                "event" => e.action == *v,
                "container" => {
                    e.typ == "container" && (e.actor.id.starts_with(v.as_str()) || name == *v)
                }
                _ => e.typ == "image" && e.actor.id.contains(v.as_str()),
            });
            if !ok {
                continue;
            }
            match args.format.as_deref() {
                Some("json") | Some("{{json .}}") => {
                    writeln!(out, "{}", serde_json::to_string(&e)?)?
                }
                Some(t) => writeln!(
                    out,
                    "{}",
                    super::format::render_template(t, &serde_json::to_value(&e)?)
                        .map_err(anyhow::Error::msg)?
                )?,
                None => {
                    let when = chrono::DateTime::from_timestamp(
                        e.time_nano / 1_000_000_000,
                        (e.time_nano % 1_000_000_000) as u32,
                    )
                    .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string())
                    .unwrap_or_default();
                    let attrs = e
                        .actor
                        .attributes
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(", ");
                    writeln!(
                        out,
                        "{when} {} {} {}{}",
                        e.typ,
                        e.action,
                        e.actor.id,
                        if attrs.is_empty() {
                            String::new()
                        } else {
                            format!(" ({attrs})")
                        }
                    )?;
                }
            }
        }
        out.flush()?;
        if until.is_some_and(|u| chrono::Utc::now().timestamp() > u) {
            return Ok(());
        }
        engine.wait_for_events(offset, Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::format::human_size;
    use rdesk_engine::models::{ContainerCpuStats, ContainerCpuUsage};

    fn sample(cpu: u64, sys: u64) -> ContainerStatsResponse {
        ContainerStatsResponse {
            cpu_stats: Some(ContainerCpuStats {
                cpu_usage: Some(ContainerCpuUsage {
                    total_usage: Some(cpu),
                    ..Default::default()
                }),
                system_cpu_usage: Some(sys),
                online_cpus: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn cpu_percent_is_dockers_formula() {
        // Half of the host's CPU time on a 2-CPU host is 100% of one CPU.
        assert!((cpu_percent(&sample(0, 0), &sample(500, 1000)) - 100.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&sample(5, 5), &sample(5, 5)), 0.0);
        assert_eq!(binary_size(1536), "1.5KiB");
        assert_eq!(binary_size(0), "0B");
        assert_eq!(human_size(1000.0), "1kB");
    }
}
