//! The Networks view: every network as `docker network ls` lists them (the default
//! `bridge`, user-defined networks, Docker's `host` and `none`) with their subnet, gateway
//! and the containers on them (`Engine::network_usage`, read at start and when the event
//! journal says networks or containers changed), filtered by the fuzzy filter on name,
//! driver, subnet and containers. The selection follows the name across reloads.

use super::super::action::Action;
use super::super::app::{App, Focus};
use super::{draw_table, matching, Listing, TableText};
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_engine::models::Network;
use rdesk_widgets::{Column, TableRow, TableState, Tone};

/// Every column, for a wide terminal.
pub const COLUMNS: [Column; 8] = [
    Column::new("NETWORK ID", Constraint::Length(12)).filterable(),
    Column::new("NAME", Constraint::Fill(2)).filterable(),
    Column::new("DRIVER", Constraint::Length(6)).filterable(),
    Column::new("SCOPE", Constraint::Length(5)),
    Column::new("SUBNET", Constraint::Length(18)).filterable(),
    Column::new("GATEWAY", Constraint::Length(15)),
    Column::new("INTERNAL", Constraint::Length(8)),
    Column::new("CONTAINERS", Constraint::Fill(3)).filterable(),
];
/// The columns kept when the table is narrower than `WIDE` (positions in `COLUMNS`).
const NARROW: [usize; 5] = [0, 1, 2, 4, 7];
pub const WIDE: u16 = 110;
const CONTAINERS: usize = 7;

/// One container on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    pub name: String,
    /// `a.b.c.d/nn`; empty for a stopped container (its address is released).
    pub ipv4: String,
    pub mac: String,
    pub aliases: Vec<String>,
    pub running: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NetworkRow {
    pub id: String,
    pub name: String,
    pub driver: String,
    pub scope: String,
    pub subnet: String,
    pub gateway: String,
    pub ip_range: String,
    pub internal: bool,
    pub created_at: String,
    pub created: i64,
    pub labels: Vec<(String, String)>,
    pub options: Vec<(String, String)>,
    /// The containers with a live endpoint (running), by name.
    pub members: Vec<Member>,
}

impl NetworkRow {
    pub fn from_usage(n: &Network, uses: &[(String, String, Vec<String>)]) -> NetworkRow {
        let cfg = n
            .ipam
            .as_ref()
            .and_then(|i| i.config.as_ref())
            .and_then(|c| c.first().cloned())
            .unwrap_or_default();
        let mut labels: Vec<(String, String)> =
            n.labels.clone().unwrap_or_default().into_iter().collect();
        labels.sort();
        let mut options: Vec<(String, String)> =
            n.options.clone().unwrap_or_default().into_iter().collect();
        options.sort();
        let mut members: Vec<Member> = n
            .containers
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(id, c)| {
                let name = c.name.unwrap_or_default();
                let aliases = uses
                    .iter()
                    .find(|(n, _, _)| *n == name)
                    .map(|(_, _, a)| a.clone())
                    .unwrap_or_default();
                Member {
                    id,
                    name,
                    ipv4: c.ipv4_address.unwrap_or_default(),
                    mac: c.mac_address.unwrap_or_default(),
                    aliases,
                    running: true,
                }
            })
            .collect();
        members.sort_by(|a, b| a.name.cmp(&b.name));
        let created_at = n.created.clone().unwrap_or_default();
        NetworkRow {
            id: n.id.clone().unwrap_or_default(),
            name: n.name.clone().unwrap_or_default(),
            driver: n.driver.clone().unwrap_or_default(),
            scope: n.scope.clone().unwrap_or_default(),
            subnet: cfg.subnet.unwrap_or_default(),
            gateway: cfg.gateway.unwrap_or_default(),
            ip_range: cfg.ip_range.unwrap_or_default(),
            internal: n.internal.unwrap_or(false),
            created: chrono::DateTime::parse_from_rfc3339(&created_at)
                .map(|t| t.timestamp())
                .unwrap_or(0),
            created_at,
            labels,
            options,
            members,
        }
    }

    /// Docker's pre-defined networks: never removed nor pruned.
    pub fn predefined(&self) -> bool {
        matches!(self.name.as_str(), "bridge" | "host" | "none")
    }

    pub fn in_use(&self) -> bool {
        !self.members.is_empty()
    }

    pub fn short_id(&self) -> String {
        self.id.chars().take(12).collect()
    }
}

#[derive(Debug, Default)]
pub struct NetworksView {
    pub rows: Vec<NetworkRow>,
    /// Every column's cells.
    pub cells: Vec<TableRow>,
    /// The narrow table's cells (the same rows).
    pub narrow: Vec<TableRow>,
    pub visible: Vec<usize>,
    pub table: TableState,
    pub filter: String,
    pub loaded: bool,
}

/// CONTAINERS: `-`, one or two names, or `web, db +3`.
fn members_cell(m: &[Member]) -> String {
    match m.len() {
        0 => "-".into(),
        1 | 2 => m
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        n => format!("{}, {} +{}", m[0].name, m[1].name, n - 2),
    }
}

fn cells_of(r: &NetworkRow) -> TableRow {
    let or_dash = |s: &str| {
        if s.is_empty() {
            "-".into()
        } else {
            s.to_string()
        }
    };
    TableRow {
        cells: vec![
            r.short_id(),
            r.name.clone(),
            r.driver.clone(),
            r.scope.clone(),
            or_dash(&r.subnet),
            or_dash(&r.gateway),
            if r.internal { "yes" } else { "no" }.into(),
            members_cell(&r.members),
        ],
        dim: false,
        tone: (!r.in_use()).then_some((CONTAINERS, Tone::Dim)),
    }
}

fn narrow_of(wide: &TableRow) -> TableRow {
    TableRow {
        cells: NARROW.iter().map(|&i| wide.cells[i].clone()).collect(),
        dim: wide.dim,
        tone: wide
            .tone
            .and_then(|(c, t)| NARROW.iter().position(|&i| i == c).map(|p| (p, t))),
    }
}

impl NetworksView {
    /// Replaces the list, keeping the selected network (or selecting `select`).
    pub fn set_networks(
        &mut self,
        list: Vec<rdesk_engine::network::NetworkUse>,
        select: Option<&str>,
    ) {
        let keep = select
            .map(str::to_string)
            .or_else(|| self.selected().map(|r| r.name.clone()));
        let mut rows: Vec<NetworkRow> = list
            .iter()
            .map(|(n, uses)| NetworkRow::from_usage(n, uses))
            .collect();
        rows.sort_by(|a, b| a.name.cmp(&b.name));
        self.rows = rows;
        self.cells = self.rows.iter().map(cells_of).collect();
        self.narrow = self.cells.iter().map(narrow_of).collect();
        self.loaded = true;
        self.apply_filter();
        if let Some(p) = keep.and_then(|k| self.position_of(&k)) {
            self.table.selected = p;
        }
        self.table.clamp(self.visible.len());
    }

    pub fn position_of(&self, name: &str) -> Option<usize> {
        self.visible.iter().position(|&i| self.rows[i].name == name)
    }

    pub fn set_filter(&mut self, filter: &str) {
        let keep = self.selected().map(|r| r.name.clone());
        self.filter = filter.to_string();
        self.apply_filter();
        self.table.selected = keep.and_then(|k| self.position_of(&k)).unwrap_or(0);
        self.table.clamp(self.visible.len());
    }

    fn apply_filter(&mut self) {
        self.visible = matching(&COLUMNS, &self.cells, &self.filter);
    }

    pub fn selected(&self) -> Option<&NetworkRow> {
        self.visible
            .get(self.table.selected)
            .map(|&i| &self.rows[i])
    }

    pub fn in_use(&self) -> usize {
        self.rows.iter().filter(|r| r.in_use()).count()
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let v = &app.networks;
    let text = TableText {
        plural: "Networks",
        singular: "network",
        summary: format!("{}, {} in use", v.rows.len(), v.in_use()),
        none_yet: format!(
            "No networks. Press {} to create one.",
            app.keymap.label(Action::Create)
        ),
    };
    let nv = &mut app.networks;
    let narrow_cols: Vec<Column> = NARROW.iter().map(|&i| COLUMNS[i].clone()).collect();
    let (columns, cells): (&[Column], &[TableRow]) = if area.width >= WIDE {
        (&COLUMNS, &nv.cells)
    } else {
        (&narrow_cols, &nv.narrow)
    };
    let listing = Listing {
        loaded: nv.loaded,
        filter: &nv.filter,
        total: nv.rows.len(),
        columns,
        cells,
        visible: &nv.visible,
        table: &mut nv.table,
    };
    let focused = app.focus == Focus::Table;
    draw_table(f, area, &app.theme.styles, focused, text, listing);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_named_then_counted() {
        let m = |n: &str| Member {
            id: n.into(),
            name: n.into(),
            ipv4: String::new(),
            mac: String::new(),
            aliases: vec![],
            running: true,
        };
        assert_eq!(members_cell(&[]), "-");
        assert_eq!(members_cell(&[m("web")]), "web");
        assert_eq!(members_cell(&[m("web"), m("db"), m("a")]), "web, db +1");
    }
}
