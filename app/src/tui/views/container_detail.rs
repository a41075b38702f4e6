//! The detail pane of a container: Info (state, command, times from the list and the
//! inspect document), Inspect (`docker inspect` as a JSON tree), Logs (the log viewer,
//! following), Stats (CPU % and memory sparklines, sampled only while shown) and Mounts
//! (from inspect's `Mounts`).

use super::super::action::Action;
use super::super::app::{App, Focus};
use super::age;
use super::containers::ContainerRow;
use super::detail::{draw_info, draw_inspect, DetailTab, Load};
use crate::cli::format::human_size;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Sparkline};
use ratatui::Frame;
use rdesk_widgets::text::truncate;
use rdesk_widgets::LogView;
use serde_json::Value;

fn note(f: &mut Frame, area: Rect, app: &App, text: String) {
    super::detail::note(f, area, &app.theme.styles, text);
}

/// The inspect document of `id`, when it is loaded.
fn inspect_value<'a>(app: &'a App, id: &str) -> Option<&'a Value> {
    match &app.detail.inspect {
        Some((i, Load::Ready(t))) if i == id => Some(t.value()),
        _ => None,
    }
}

pub fn draw(f: &mut Frame, inner: Rect, app: &mut App, c: &ContainerRow) {
    let focused = app.focus == Focus::Detail;
    let st = app.theme.styles.clone();
    match app.detail.tab {
        DetailTab::Info | DetailTab::History | DetailTab::Files | DetailTab::Containers => {
            let v = inspect_value(app, &c.id);
            let s = |path: &[&str]| -> Option<String> {
                let mut cur = v?;
                for p in path {
                    cur = cur.get(p)?;
                }
                match cur {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    Value::Array(a) if !a.is_empty() => Some(
                        a.iter()
                            .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    _ => None,
                }
            };
            let created = chrono::DateTime::from_timestamp(c.created, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "N/A".into());
            let mut fields: Vec<(&str, String)> = vec![
                ("ID", c.id.clone()),
                ("Name", c.name.clone()),
                ("Image", c.image.clone()),
                ("Command", c.command.clone()),
                (
                    "Created",
                    format!("{created} ({})", age(c.created, app.now)),
                ),
                ("Status", c.status.clone()),
            ];
            if let Some(pid) = s(&["State", "Pid"]).filter(|p| p != "0") {
                fields.push(("PID", pid));
            }
            if let Some(t) = s(&["State", "StartedAt"]).filter(|t| !t.starts_with("0001")) {
                fields.push(("Started", t));
            }
            if let Some(t) = s(&["State", "FinishedAt"]).filter(|t| !t.starts_with("0001")) {
                fields.push(("Finished", t));
            }
            if let Some(tty) = s(&["Config", "Tty"]) {
                let stdin = s(&["Config", "OpenStdin"]).unwrap_or_default();
                fields.push(("TTY", format!("{tty} (stdin open: {stdin})")));
            }
            if let Some(w) = s(&["Config", "WorkingDir"]) {
                fields.push(("Workdir", w));
            }
            let env: Vec<String> = v
                .and_then(|v| v.pointer("/Config/Env"))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            for (i, e) in env.iter().enumerate() {
                fields.push((if i == 0 { "Env" } else { "" }, e.clone()));
            }
            if let Some(r) = s(&["HostConfig", "Runtime"]) {
                fields.push(("Runtime", r));
            }
            if !c.ports.is_empty() {
                fields.push(("Ports", c.ports.clone()));
            }
            // NetworkSettings.Networks: each network with the address, MAC and aliases.
            if let Some(nets) = v
                .and_then(|v| v.pointer("/NetworkSettings/Networks"))
                .and_then(Value::as_object)
            {
                let mut names: Vec<&String> = nets.keys().collect();
                names.sort();
                if names.is_empty() {
                    fields.push(("Networks", "none".into()));
                }
                for (i, n) in names.iter().enumerate() {
                    let e = &nets[n.as_str()];
                    let field = |k: &str| e.get(k).and_then(Value::as_str).unwrap_or("");
                    let mut text = n.to_string();
                    if !field("IPAddress").is_empty() {
                        let prefix = e.get("IPPrefixLen").and_then(Value::as_i64).unwrap_or(0);
                        text.push_str(&format!(" {}/{prefix}", field("IPAddress")));
                        if !field("Gateway").is_empty() {
                            text.push_str(&format!(" via {}", field("Gateway")));
                        }
                        if !field("MacAddress").is_empty() {
                            text.push_str(&format!(" mac {}", field("MacAddress")));
                        }
                    } else if !c.running() {
                        text.push_str(" (no address while stopped)");
                    }
                    let aliases: Vec<&str> = e
                        .get("Aliases")
                        .and_then(Value::as_array)
                        .map(|a| a.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    if !aliases.is_empty() {
                        text.push_str(&format!(" aliases {}", aliases.join(", ")));
                    }
                    fields.push((if i == 0 { "Networks" } else { "" }, text));
                }
            }
            draw_info(f, inner, app, &st, Vec::new(), fields);
        }
        DetailTab::Inspect => draw_inspect(f, inner, app, &st, focused),
        DetailTab::Logs => match app.detail.logs.as_mut() {
            Some((id, log)) if *id == c.id => {
                let [text, status] =
                    Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(inner);
                f.render_stateful_widget(LogView::new(&st).focused(focused), text, log);
                let mut parts = vec![format!("{} lines", log.len())];
                parts.push(match (log.following(), c.running()) {
                    (true, true) => "following".into(),
                    (true, false) => "at the end (not running)".into(),
                    (false, _) => "paused".into(),
                });
                if log.timestamps {
                    parts.push("timestamps".into());
                }
                if log.wrap {
                    parts.push("wrap".into());
                }
                if !log.search().is_empty() {
                    parts.push(match log.current_match() {
                        Some(n) => format!("/{} (line {n})", log.search()),
                        None => format!("/{}", log.search()),
                    });
                }
                let hint = if focused {
                    String::new()
                } else {
                    format!("  ({} focuses the log)", app.keymap.label(Action::Select))
                };
                f.render_widget(
                    Paragraph::new(Line::from(vec![
                        Span::styled(parts.join(" · "), st.header),
                        Span::styled(hint, st.dim),
                    ])),
                    status,
                );
            }
            _ => note(f, inner, app, "Loading the log…".into()),
        },
        DetailTab::Stats => draw_stats(f, inner, app, c),
        DetailTab::Mounts => {
            let mounts: Vec<Value> = inspect_value(app, &c.id)
                .and_then(|v| v.get("Mounts"))
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if inspect_value(app, &c.id).is_none() {
                note(f, inner, app, "Loading…".into());
                return;
            }
            if mounts.is_empty() {
                note(
                    f,
                    inner,
                    app,
                    "No mounts: this container has no volumes or bind mounts.".into(),
                );
                return;
            }
            let g = |m: &Value, k: &str| -> String {
                match m.get(k) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Bool(b)) => if *b { "rw" } else { "ro" }.to_string(),
                    _ => String::new(),
                }
            };
            let w = inner.width as usize;
            app.detail.mount = app.detail.mount.min(mounts.len() - 1);
            let mut lines = vec![Line::from(Span::styled(
                truncate(
                    &format!(
                        "{:<8} {:<28} {:<28} {}",
                        "TYPE", "SOURCE", "DESTINATION", "MODE"
                    ),
                    w,
                ),
                st.header,
            ))];
            for (i, m) in mounts.iter().enumerate() {
                // A volume by its name (enter jumps to it), a bind by its host path.
                let source = match g(m, "Name") {
                    n if !n.is_empty() && g(m, "Type") == "volume" => n,
                    _ => g(m, "Source"),
                };
                let row = format!(
                    "{:<8} {:<28} {:<28} {}",
                    g(m, "Type"),
                    source,
                    g(m, "Destination"),
                    g(m, "RW")
                );
                let style = if i == app.detail.mount && focused {
                    st.selected
                } else {
                    st.text
                };
                lines.push(Line::from(Span::styled(truncate(&row, w), style)));
            }
            if focused
                && mounts
                    .get(app.detail.mount)
                    .is_some_and(|m| g(m, "Type") == "volume")
                && inner.height as usize > lines.len() + 1
            {
                lines.push(Line::raw(""));
                lines.push(Line::from(Span::styled(
                    format!(
                        "{} shows this volume's files",
                        app.keymap.label(Action::Select)
                    ),
                    st.dim,
                )));
            }
            f.render_widget(Paragraph::new(lines), inner);
        }
    }
}

fn draw_stats(f: &mut Frame, inner: Rect, app: &App, c: &ContainerRow) {
    let st = &app.theme.styles;
    if !c.running() {
        note(
            f,
            inner,
            app,
            format!(
                "{} is not running: no stats. {} starts it.",
                c.name,
                app.keymap.label(Action::StartStop)
            ),
        );
        return;
    }
    let Some((_, s)) = app.detail.stats.as_ref().filter(|(id, _)| *id == c.id) else {
        note(f, inner, app, "Sampling…".into());
        return;
    };
    if let Some(e) = &s.error {
        note(f, inner, app, format!("Cannot read the stats: {e}"));
        return;
    }
    let Some(last) = &s.last else {
        note(f, inner, app, "Sampling…".into());
        return;
    };
    let mem = last
        .memory_stats
        .as_ref()
        .and_then(|m| m.usage)
        .unwrap_or(0);
    let limit = last
        .memory_stats
        .as_ref()
        .and_then(|m| m.limit)
        .unwrap_or(0);
    let pids = last
        .pids_stats
        .as_ref()
        .and_then(|p| p.current)
        .unwrap_or(0);
    let [cpu_label, cpu_chart, mem_label, mem_chart] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(inner);
    let cpu_max = s.cpu.iter().copied().max().unwrap_or(0);
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("CPU ", st.header),
            Span::styled(format!("{:.2}%", s.cpu_now), st.text),
            Span::styled(
                format!("  (peak {:.2}%)  PIDs {pids}", cpu_max as f64 / 100.0),
                st.dim,
            ),
        ])),
        cpu_label,
    );
    let tail = |v: &[u64], w: u16| -> Vec<u64> {
        let w = w as usize;
        v[v.len().saturating_sub(w)..].to_vec()
    };
    f.render_widget(
        Sparkline::default()
            .data(tail(&s.cpu, cpu_chart.width))
            .max(cpu_max.max(100))
            .style(st.gauge),
        cpu_chart,
    );
    let mem_pct = if limit > 0 {
        format!(" ({:.2}%)", mem as f64 / limit as f64 * 100.0)
    } else {
        String::new()
    };
    f.render_widget(
        Paragraph::new(Line::from(vec![
            Span::styled("MEM ", st.header),
            Span::styled(
                format!(
                    "{} / {}{mem_pct}",
                    human_size(mem as f64),
                    human_size(limit as f64)
                ),
                st.text,
            ),
        ])),
        mem_label,
    );
    let mem_max = s.mem.iter().copied().max().unwrap_or(1);
    f.render_widget(
        Sparkline::default()
            .data(tail(&s.mem, mem_chart.width))
            .max(mem_max.max(1))
            .style(st.gauge),
        mem_chart,
    );
}
