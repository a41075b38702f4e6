//! The Networks view. The engine has no networks yet: an empty table with `docker network
//! ls` columns and a note of what will appear.

use super::super::app::App;
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_widgets::Column;

pub const COLUMNS: [Column; 4] = [
    Column::new("NETWORK ID", Constraint::Length(12)),
    Column::new("NAME", Constraint::Fill(2)),
    Column::new("DRIVER", Constraint::Length(8)),
    Column::new("SUBNET", Constraint::Fill(1)),
];

pub const NOTE: &str =
    "Networks appear here once the engine has them: the default bridge and user networks.";

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    super::empty_resource(f, area, app, "Networks", &COLUMNS, NOTE);
}
