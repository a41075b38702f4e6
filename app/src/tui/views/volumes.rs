//! The Volumes view. The engine has no volumes yet: an empty table with `docker volume ls`
//! columns and a note of what will appear.

use super::super::app::App;
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_widgets::Column;

pub const COLUMNS: [Column; 3] = [
    Column::new("DRIVER", Constraint::Length(8)),
    Column::new("VOLUME NAME", Constraint::Fill(2)),
    Column::new("MOUNTPOINT", Constraint::Fill(3)),
];

pub const NOTE: &str = "Named volumes appear here once the engine has them (rdesk volume create).";

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    super::empty_resource(f, area, app, "Volumes", &COLUMNS, NOTE);
}
