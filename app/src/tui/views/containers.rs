//! The Containers view. The engine has no containers yet (issue 3): an empty table with the
//! columns `docker ps -a` has and a note of what will appear. No fake rows.

use super::super::app::App;
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_widgets::Column;

pub const COLUMNS: [Column; 7] = [
    Column::new("CONTAINER ID", Constraint::Length(12)),
    Column::new("IMAGE", Constraint::Fill(2)),
    Column::new("COMMAND", Constraint::Fill(2)),
    Column::new("CREATED", Constraint::Length(8)),
    Column::new("STATUS", Constraint::Fill(2)),
    Column::new("PORTS", Constraint::Fill(1)),
    Column::new("NAMES", Constraint::Fill(2)),
];

pub const NOTE: &str =
    "Containers appear here once the engine runs them: run, start/stop, attach, exec, logs, stats.";

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    super::empty_resource(f, area, app, "Containers", &COLUMNS, NOTE);
}
