//! The detail pane of a network: Info (name, ID, driver, subnet, gateway, IP range,
//! internal, labels, options, creation time), Containers (each container on it: name, short
//! ID, IPv4 address, MAC, aliases, running or not) and Inspect (`docker network inspect` as
//! a JSON tree).

use super::super::app::{App, Focus};
use super::age;
use super::detail::{draw_info, draw_inspect, DetailTab};
use super::networks::{Member, NetworkRow};
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_widgets::{Column, ResourceTable, TableRow, Tone};

/// The inspect document's key for a network (apart from image and container IDs).
pub fn inspect_key(name: &str) -> String {
    format!("network:{name}")
}

const MEMBER_COLUMNS: [Column; 6] = [
    Column::new("NAME", Constraint::Fill(2)),
    Column::new("CONTAINER ID", Constraint::Length(12)),
    Column::new("IPV4 ADDRESS", Constraint::Length(18)),
    Column::new("MAC ADDRESS", Constraint::Length(17)),
    Column::new("ALIASES", Constraint::Fill(2)),
    Column::new("STATE", Constraint::Length(7)),
];

/// The containers on `n`: the live endpoints (running), then the containers attached to it
/// that are not running (from the container list; their address is released).
pub fn members(app: &App, n: &NetworkRow) -> Vec<Member> {
    let mut out = n.members.clone();
    for c in &app.containers.rows {
        if c.networks.contains(&n.name) && !out.iter().any(|m| m.id == c.id) && !c.running() {
            out.push(Member {
                id: c.id.clone(),
                name: c.name.clone(),
                ipv4: String::new(),
                mac: String::new(),
                aliases: vec![],
                running: false,
            });
        }
    }
    out
}

pub fn draw(f: &mut Frame, inner: Rect, app: &mut App, n: &NetworkRow) {
    let focused = app.focus == Focus::Detail;
    let st = app.theme.styles.clone();
    match app.detail.tab {
        DetailTab::Inspect => draw_inspect(f, inner, app, &st, focused),
        DetailTab::Containers => {
            let list = members(app, n);
            let dash = |s: &str| {
                if s.is_empty() {
                    "-".to_string()
                } else {
                    s.to_string()
                }
            };
            let rows: Vec<TableRow> = list
                .iter()
                .map(|m| TableRow {
                    cells: vec![
                        m.name.clone(),
                        m.id.chars().take(12).collect(),
                        dash(&m.ipv4),
                        dash(&m.mac),
                        dash(&m.aliases.join(", ")),
                        if m.running { "running" } else { "stopped" }.into(),
                    ],
                    dim: !m.running,
                    tone: Some((5, if m.running { Tone::Ok } else { Tone::Dim })),
                })
                .collect();
            let visible: Vec<usize> = (0..rows.len()).collect();
            let empty = format!(
                "No container on {}. Run one with --network {}, or connect one from the Containers pane.",
                n.name, n.name
            );
            app.detail.member = app.detail.member.min(rows.len().saturating_sub(1));
            let mut state = rdesk_widgets::TableState {
                selected: app.detail.member,
                ..Default::default()
            };
            f.render_stateful_widget(
                ResourceTable::new(&MEMBER_COLUMNS, &rows, &visible, &st)
                    .focused(focused)
                    .empty_message(&empty),
                inner,
                &mut state,
            );
        }
        _ => {
            let created = if n.created > 0 {
                format!("{} ({})", n.created_at, age(n.created, app.now))
            } else if n.created_at.is_empty() {
                "-".into()
            } else {
                n.created_at.clone()
            };
            let dash = |s: &str| {
                if s.is_empty() {
                    "-".to_string()
                } else {
                    s.to_string()
                }
            };
            let mut fields: Vec<(&str, String)> = vec![
                ("Name", n.name.clone()),
                ("ID", n.id.clone()),
                ("Driver", n.driver.clone()),
                ("Scope", n.scope.clone()),
                ("Subnet", dash(&n.subnet)),
                ("Gateway", dash(&n.gateway)),
                ("IP range", dash(&n.ip_range)),
                (
                    "Internal",
                    if n.internal {
                        "yes (no outbound access)".into()
                    } else {
                        "no".into()
                    },
                ),
            ];
            if n.labels.is_empty() {
                fields.push(("Labels", "-".into()));
            }
            for (i, (k, v)) in n.labels.iter().enumerate() {
                fields.push((if i == 0 { "Labels" } else { "" }, format!("{k}={v}")));
            }
            if n.options.is_empty() {
                fields.push(("Options", "-".into()));
            }
            for (i, (k, v)) in n.options.iter().enumerate() {
                fields.push((if i == 0 { "Options" } else { "" }, format!("{k}={v}")));
            }
            fields.push(("Created", created));
            let list = members(app, n);
            let running = list.iter().filter(|m| m.running).count();
            fields.push((
                "Containers",
                format!(
                    "{} ({running} running; the Containers tab lists them)",
                    list.len()
                ),
            ));
            if n.predefined() {
                fields.push(("", "pre-defined: never removed nor pruned".into()));
            }
            draw_info(f, inner, app, &st, Vec::new(), fields);
        }
    }
}
