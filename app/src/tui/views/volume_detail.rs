//! The detail pane of a volume: Info (the Mountpoint first, where the content lives on the
//! host; then driver, creation time, labels, options and the containers using it), Inspect
//! (`docker volume inspect` as a JSON tree) and Files (the volume's content through the
//! engine's confined readers, in the file browser widget).

use super::super::app::{App, Focus};
use super::age;
use super::detail::{draw_info, draw_inspect, note, DetailTab};
use super::volumes::VolumeRow;
use crate::cli::format::human_size;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use rdesk_widgets::FileBrowser;

/// The inspect document's key for a volume (apart from image and container IDs).
pub fn inspect_key(name: &str) -> String {
    format!("volume:{name}")
}

pub fn draw(f: &mut Frame, inner: Rect, app: &mut App, v: &VolumeRow) {
    let focused = app.focus == Focus::Detail;
    let st = app.theme.styles.clone();
    match app.detail.tab {
        DetailTab::Inspect => draw_inspect(f, inner, app, &st, focused),
        DetailTab::Files => match app.detail.files.as_mut() {
            Some((name, browser)) if *name == v.name => {
                let root = format!("{}:", v.name);
                f.render_stateful_widget(
                    FileBrowser::new(&st, &root).focused(focused),
                    inner,
                    browser,
                );
            }
            _ => note(f, inner, &st, "Reading…".into()),
        },
        _ => {
            let usage = app.volumes.usage_of(&v.name).cloned();
            let mut lines: Vec<Line> = Vec::new();
            // The mountpoint is what people look for: first, on its own line, highlighted.
            lines.push(Line::from(Span::styled("Mountpoint", st.header)));
            for chunk in v
                .mountpoint
                .chars()
                .collect::<Vec<_>>()
                .chunks((inner.width as usize).saturating_sub(2).max(8))
            {
                lines.push(Line::from(vec![
                    Span::raw("  "),
                    Span::styled(chunk.iter().collect::<String>(), st.title),
                ]));
            }
            let created = if v.created > 0 {
                format!("{} ({})", v.created_at, age(v.created, app.now))
            } else {
                v.created_at.clone()
            };
            let mut fields: Vec<(&str, String)> = vec![
                ("Name", v.name.clone()),
                ("Driver", v.driver.clone()),
                ("CreatedAt", created),
                ("Size", human_size(v.size as f64)),
            ];
            if let Some(u) = &usage {
                if let Some(scope) = u.volume.scope {
                    fields.push(("Scope", scope.to_string()));
                }
                let mut labels: Vec<_> = u.volume.labels.iter().collect();
                labels.sort();
                if labels.is_empty() {
                    fields.push(("Labels", "-".into()));
                }
                for (i, (k, val)) in labels.iter().enumerate() {
                    fields.push((if i == 0 { "Labels" } else { "" }, format!("{k}={val}")));
                }
                let mut opts: Vec<_> = u.volume.options.iter().collect();
                opts.sort();
                if opts.is_empty() {
                    fields.push(("Options", "-".into()));
                }
                for (i, (k, val)) in opts.iter().enumerate() {
                    fields.push((if i == 0 { "Options" } else { "" }, format!("{k}={val}")));
                }
                if u.users.is_empty() {
                    fields.push(("Used by", "no container".into()));
                }
                for (i, c) in u.users.iter().enumerate() {
                    let short: String = c.id.chars().take(12).collect();
                    fields.push((
                        if i == 0 { "Used by" } else { "" },
                        format!(
                            "{} ({short}) at {}{}",
                            c.name,
                            c.destination,
                            if c.running { ", running" } else { "" }
                        ),
                    ));
                }
            }
            draw_info(f, inner, app, &st, lines, fields);
        }
    }
}
