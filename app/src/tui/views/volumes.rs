//! The Volumes view: every volume (`docker volume ls`'s DRIVER and VOLUME NAME) with its
//! size and the containers using it (`Engine::volumes_usage`, read on demand: at start, when
//! the tab shows, when the journal says volumes or containers came or went), filtered by the
//! fuzzy filter on name, driver and users. The selection follows the name across reloads.

use super::super::action::Action;
use super::super::app::{App, Focus};
use super::{age, draw_table, matching, refresh_age_column, Listing, TableText};
use crate::cli::format::human_size;
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_engine::VolumeUsage;
use rdesk_widgets::{Column, TableRow, TableState, Tone};

pub const COLUMNS: [Column; 5] = [
    Column::new("DRIVER", Constraint::Length(6)).filterable(),
    Column::new("VOLUME NAME", Constraint::Fill(3)).filterable(),
    Column::new("SIZE", Constraint::Length(8)).right(),
    Column::new("USED BY", Constraint::Fill(2)).filterable(),
    Column::new("CREATED", Constraint::Length(8)),
];
const USED_BY: usize = 3;
const CREATED: usize = 4;

/// The label Docker puts on anonymous volumes.
pub use rdesk_engine::volumes::ANONYMOUS_LABEL;

#[derive(Debug, Clone, PartialEq)]
pub struct VolumeRow {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    /// RFC 3339, as inspect has it.
    pub created_at: String,
    pub created: i64,
    pub size: u64,
    /// Names of the containers using it (any state).
    pub users: Vec<String>,
    pub anonymous: bool,
}

impl VolumeRow {
    pub fn from_usage(u: &VolumeUsage) -> VolumeRow {
        let v = &u.volume;
        VolumeRow {
            name: v.name.clone(),
            driver: v.driver.clone(),
            mountpoint: v.mountpoint.clone(),
            created_at: v.created_at.clone().unwrap_or_default(),
            created: v
                .created_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0),
            size: u.size,
            users: u.users.iter().map(|c| c.name.clone()).collect(),
            anonymous: v.labels.contains_key(ANONYMOUS_LABEL),
        }
    }
    pub fn in_use(&self) -> bool {
        !self.users.is_empty()
    }
}

#[derive(Debug, Default)]
pub struct VolumesView {
    /// What the engine said, in the order shown (by name).
    pub usage: Vec<VolumeUsage>,
    pub rows: Vec<VolumeRow>,
    pub cells: Vec<TableRow>,
    pub visible: Vec<usize>,
    pub table: TableState,
    pub filter: String,
    pub loaded: bool,
}

/// USED BY: `-`, one or two names, or `web, db +3`.
fn users_cell(users: &[String]) -> String {
    match users.len() {
        0 => "-".into(),
        1 | 2 => users.join(", "),
        n => format!("{}, {} +{}", users[0], users[1], n - 2),
    }
}

fn cells_of(r: &VolumeRow, now: i64) -> TableRow {
    TableRow {
        cells: vec![
            r.driver.clone(),
            r.name.clone(),
            human_size(r.size as f64),
            users_cell(&r.users),
            age(r.created, now),
        ],
        dim: false,
        tone: (!r.in_use()).then_some((USED_BY, Tone::Dim)),
    }
}

impl VolumesView {
    /// Replaces the list, keeping the selected volume (or selecting `select`).
    pub fn set_volumes(&mut self, mut list: Vec<VolumeUsage>, now: i64, select: Option<&str>) {
        let keep = select
            .map(str::to_string)
            .or_else(|| self.selected().map(|r| r.name.clone()));
        list.sort_by(|a, b| a.volume.name.cmp(&b.volume.name));
        self.rows = list.iter().map(VolumeRow::from_usage).collect();
        self.usage = list;
        self.cells = self.rows.iter().map(|r| cells_of(r, now)).collect();
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

    /// Selects `name` (clearing a filter that hides it); false when there is no such volume.
    pub fn select(&mut self, name: &str) -> bool {
        if self.position_of(name).is_none() && self.rows.iter().any(|r| r.name == name) {
            self.set_filter("");
        }
        match self.position_of(name) {
            Some(p) => {
                self.table.selected = p;
                true
            }
            None => false,
        }
    }

    pub fn refresh_ages(&mut self, now: i64) -> bool {
        let created = self.rows.iter().map(|r| r.created);
        refresh_age_column(&mut self.cells, CREATED, created, now)
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

    pub fn selected(&self) -> Option<&VolumeRow> {
        self.visible
            .get(self.table.selected)
            .map(|&i| &self.rows[i])
    }

    pub fn usage_of(&self, name: &str) -> Option<&VolumeUsage> {
        self.usage.iter().find(|u| u.volume.name == name)
    }

    pub fn in_use(&self) -> usize {
        self.rows.iter().filter(|r| r.in_use()).count()
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let v = &app.volumes;
    let total: u64 = v.rows.iter().map(|r| r.size).sum();
    let text = TableText {
        plural: "Volumes",
        singular: "volume",
        summary: format!(
            "{}, {} in use, {}",
            v.rows.len(),
            v.in_use(),
            human_size(total as f64)
        ),
        none_yet: format!(
            "No volumes yet. Press {} to create one, or run with -v NAME:/path.",
            app.keymap.label(Action::Create)
        ),
    };
    let vv = &mut app.volumes;
    let listing = Listing {
        loaded: vv.loaded,
        filter: &vv.filter,
        total: vv.rows.len(),
        columns: &COLUMNS,
        cells: &vv.cells,
        visible: &vv.visible,
        table: &mut vv.table,
    };
    let focused = app.focus == Focus::Table;
    draw_table(f, area, &app.theme.styles, focused, text, listing);
}

#[cfg(test)]
mod tests {
    #[test]
    fn users_are_named_then_counted() {
        let n =
            |v: &[&str]| super::users_cell(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(n(&[]), "-");
        assert_eq!(n(&["web"]), "web");
        assert_eq!(n(&["web", "db"]), "web, db");
        assert_eq!(n(&["web", "db", "a", "b"]), "web, db +2");
    }
}
