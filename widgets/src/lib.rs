//! Reusable ratatui widgets for rdesk's workstation: the resource table, the JSON inspect
//! tree, the layer history table, the log viewer, the file browser, the terminal pane, the per-layer progress list, a one-line text input, and
//! the fuzzy matcher the table highlights with. They take plain data (strings, numbers,
//! `serde_json::Value`), never engine types, and draw only the rows that are visible, so
//! their cost does not grow with the length of a list.

pub mod files;
pub mod fuzzy;
pub mod history;
pub mod input;
pub mod json_tree;
pub mod logs;
pub mod progress;
pub mod styles;
pub mod table;
pub mod terminal;
pub mod text;

pub use files::{FileBrowser, FileBrowserState, FileContent, FileEntry, FileRequest};
pub use history::{HistoryRow, LayerHistory, LayerHistoryState};
pub use input::LineInput;
pub use json_tree::{JsonTree, JsonTreeState};
pub use logs::{LogLine, LogView, LogViewState};
pub use progress::{LayerProgress, ProgressItem};
pub use styles::Styles;
pub use table::{Column, ResourceTable, TableRow, TableState, Tone};
pub use terminal::{TermState, TermView};

/// Draws an optional surrounding block and returns the area inside it.
pub(crate) fn render_block(
    block: Option<ratatui::widgets::Block<'_>>,
    area: ratatui::layout::Rect,
    buf: &mut ratatui::buffer::Buffer,
) -> ratatui::layout::Rect {
    use ratatui::widgets::Widget;
    match block {
        Some(b) => {
            let inner = b.inner(area);
            b.render(area, buf);
            inner
        }
        None => area,
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    use ratatui::buffer::Buffer;

    /// The buffer as text, one line per row, trailing blanks cut (what insta stores).
    pub fn buffer_text(buf: &Buffer) -> String {
        let area = buf.area;
        let mut out = String::new();
        for y in area.top()..area.bottom() {
            let mut line = String::new();
            for x in area.left()..area.right() {
                line.push_str(buf[(x, y)].symbol());
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}
