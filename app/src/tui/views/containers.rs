//! The Containers view: every container as `docker ps -a` lists them (newest first), the
//! STATUS coloured by state, filtered by the fuzzy filter on id, image, status and name.
//! The selection follows the container's ID across reloads.

use super::super::action::Action;
use super::super::app::{App, Focus};
use super::{age, draw_table, matching, refresh_age_column, Listing, TableText};
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_engine::models::{ContainerSummary, ContainerSummaryStateEnum as State};
use rdesk_widgets::{Column, TableRow, TableState, Tone};

pub const COLUMNS: [Column; 7] = [
    Column::new("CONTAINER ID", Constraint::Length(12)).filterable(),
    Column::new("IMAGE", Constraint::Fill(2)).filterable(),
    Column::new("COMMAND", Constraint::Fill(2)),
    Column::new("CREATED", Constraint::Length(8)),
    Column::new("STATUS", Constraint::Fill(3)).filterable(),
    // As wide as IMAGE and NAMES: `0.0.0.0:8080->80/tcp` fits from about 140 columns.
    Column::new("PORTS", Constraint::Fill(2)),
    Column::new("NAMES", Constraint::Fill(2)).filterable(),
];
const STATUS: usize = 4;
const CREATED: usize = 3;

/// What the app needs of one container, from its summary.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRow {
    pub id: String,
    pub name: String,
    pub image: String,
    pub command: String,
    pub created: i64,
    pub state: State,
    pub status: String,
    /// Published and exposed ports as `docker ps` shows them (empty until the engine
    /// publishes ports).
    pub ports: String,
    /// The networks it is attached to (running or not), by name.
    pub networks: Vec<String>,
}

impl ContainerRow {
    pub fn from_summary(s: &ContainerSummary) -> ContainerRow {
        ContainerRow {
            id: s.id.clone().unwrap_or_default(),
            name: s
                .names
                .as_ref()
                .and_then(|n| n.first())
                .map(|n| n.trim_start_matches('/').to_string())
                .unwrap_or_default(),
            image: s.image.clone().unwrap_or_default(),
            command: s.command.clone().unwrap_or_default(),
            created: s.created.unwrap_or(0),
            state: s.state.unwrap_or(State::EMPTY),
            status: s.status.clone().unwrap_or_default(),
            ports: ports_cell(s.ports.as_deref().unwrap_or_default()),
            networks: {
                let mut n: Vec<String> = s
                    .network_settings
                    .as_ref()
                    .and_then(|n| n.networks.as_ref())
                    .map(|n| n.keys().cloned().collect())
                    .unwrap_or_default();
                n.sort();
                n
            },
        }
    }
    pub fn running(&self) -> bool {
        matches!(
            self.state,
            State::RUNNING | State::PAUSED | State::RESTARTING
        )
    }
    /// What `container prune` removes: not running.
    pub fn stopped(&self) -> bool {
        matches!(self.state, State::EXITED | State::CREATED | State::DEAD)
    }
    pub fn short_id(&self) -> String {
        self.id.chars().take(12).collect()
    }
}

#[derive(Debug, Default)]
pub struct ContainersView {
    pub rows: Vec<ContainerRow>,
    pub cells: Vec<TableRow>,
    /// Positions in `rows` the filter leaves.
    pub visible: Vec<usize>,
    pub table: TableState,
    pub filter: String,
    /// The first load finished.
    pub loaded: bool,
}

fn tone(r: &ContainerRow) -> Option<Tone> {
    match r.state {
        State::RUNNING => Some(Tone::Ok),
        State::EXITED if !r.status.starts_with("Exited (0)") => Some(Tone::Error),
        State::DEAD => Some(Tone::Error),
        State::EXITED | State::CREATED => Some(Tone::Dim),
        _ => None,
    }
}

/// `docker ps`'s PORTS: `0.0.0.0:8080->80/tcp, 53/udp` (published ones first, as sorted by
/// Docker: by private port).
pub fn ports_cell(ports: &[rdesk_engine::models::Port]) -> String {
    let mut ports: Vec<_> = ports.iter().collect();
    ports.sort_by_key(|p| (p.private_port, p.public_port, p.ip.clone()));
    ports
        .iter()
        .map(|p| {
            let typ = p
                .typ
                .map(|t| t.to_string())
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| "tcp".into());
            match (p.ip.as_deref(), p.public_port) {
                (Some(ip), Some(public)) if !ip.is_empty() => {
                    let ip = if ip.contains(':') {
                        format!("[{ip}]")
                    } else {
                        ip.to_string()
                    };
                    format!("{ip}:{public}->{}/{typ}", p.private_port)
                }
                (_, Some(public)) => format!("{public}->{}/{typ}", p.private_port),
                _ => format!("{}/{typ}", p.private_port),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `docker ps`'s COMMAND: quoted, cut to 20 characters with `…`.
fn command_cell(c: &str) -> String {
    let cut: String = c.chars().take(20).collect();
    if c.chars().count() > 20 {
        format!("\"{}…\"", cut.chars().take(19).collect::<String>())
    } else {
        format!("\"{cut}\"")
    }
}

impl ContainersView {
    /// Replaces the list, keeping the selected container (or selecting `select`, an ID).
    pub fn set_containers(&mut self, list: Vec<ContainerSummary>, now: i64, select: Option<&str>) {
        let keep = select
            .map(str::to_string)
            .or_else(|| self.selected().map(|r| r.id.clone()));
        let mut rows: Vec<ContainerRow> = list.iter().map(ContainerRow::from_summary).collect();
        rows.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.name.cmp(&b.name)));
        self.rows = rows;
        self.cells = self.rows.iter().map(|r| cells_of(r, now)).collect();
        self.loaded = true;
        self.apply_filter();
        if let Some(p) = keep.and_then(|k| self.position_of(&k)) {
            self.table.selected = p;
        }
        self.table.clamp(self.visible.len());
    }

    fn position_of(&self, id: &str) -> Option<usize> {
        self.visible
            .iter()
            .position(|&i| self.rows[i].id == id || self.rows[i].id.starts_with(id))
    }

    /// Recomputes the CREATED column; true when a label changed.
    pub fn refresh_ages(&mut self, now: i64) -> bool {
        let created = self.rows.iter().map(|r| r.created);
        refresh_age_column(&mut self.cells, CREATED, created, now)
    }

    pub fn set_filter(&mut self, filter: &str) {
        let keep = self.selected().map(|r| r.id.clone());
        self.filter = filter.to_string();
        self.apply_filter();
        self.table.selected = keep.and_then(|k| self.position_of(&k)).unwrap_or(0);
        self.table.clamp(self.visible.len());
    }

    fn apply_filter(&mut self) {
        self.visible = matching(&COLUMNS, &self.cells, &self.filter);
    }

    pub fn selected(&self) -> Option<&ContainerRow> {
        self.visible
            .get(self.table.selected)
            .map(|&i| &self.rows[i])
    }

    pub fn running(&self) -> usize {
        self.rows.iter().filter(|r| r.running()).count()
    }
}

fn cells_of(r: &ContainerRow, now: i64) -> TableRow {
    TableRow {
        cells: vec![
            r.short_id(),
            r.image.clone(),
            command_cell(&r.command),
            age(r.created, now),
            r.status.clone(),
            r.ports.clone(),
            r.name.clone(),
        ],
        dim: false,
        tone: tone(r).map(|t| (STATUS, t)),
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let v = &app.containers;
    let text = TableText {
        plural: "Containers",
        singular: "container",
        summary: format!("{}, {} running", v.rows.len(), v.running()),
        none_yet: format!(
            "No containers yet. Press {} to run one (or `rdesk run` in another terminal).",
            app.keymap.label(Action::Run)
        ),
    };
    let c = &mut app.containers;
    let listing = Listing {
        loaded: c.loaded,
        filter: &c.filter,
        total: c.rows.len(),
        columns: &COLUMNS,
        cells: &c.cells,
        visible: &c.visible,
        table: &mut c.table,
    };
    let focused = app.focus == Focus::Table;
    draw_table(f, area, &app.theme.styles, focused, text, listing);
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_as_docker_ps() {
        use rdesk_engine::models::{Port, PortTypeEnum};
        let p = |ip: Option<&str>, private, public, typ| Port {
            ip: ip.map(str::to_string),
            private_port: private,
            public_port: public,
            typ: Some(typ),
        };
        assert_eq!(
            super::ports_cell(&[
                p(None, 53, None, PortTypeEnum::UDP),
                p(Some("0.0.0.0"), 80, Some(8080), PortTypeEnum::TCP),
                p(Some("::"), 80, Some(8080), PortTypeEnum::TCP),
            ]),
            "53/udp, 0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
        );
        assert_eq!(super::ports_cell(&[]), "");
    }

    #[test]
    fn command_is_quoted_and_cut_as_docker_ps() {
        assert_eq!(super::command_cell("sh"), "\"sh\"");
        assert_eq!(
            super::command_cell("sleep 1000000000000000000"),
            "\"sleep 1000000000000…\""
        );
    }
}
