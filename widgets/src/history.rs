//! An image's layer history (`docker history`): newest first, one row per history entry,
//! the layers numbered from the bottom, empty layers (ENV, CMD, LABEL...) marked and
//! dimmed, and the full CREATED BY of the selected entry wrapped below the table.

use crate::styles::Styles;
use crate::table::{Column, ResourceTable, TableRow, TableState};
use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, StatefulWidget, Widget, Wrap};

/// One history entry, formatted by the caller.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryRow {
    pub created: String,
    pub created_by: String,
    pub size: String,
    /// The entry made no layer (metadata only).
    pub empty: bool,
    pub comment: String,
}

const COLUMNS: [Column; 5] = [
    Column::new("LAYER", Constraint::Length(5)).right(),
    Column::new("CREATED", Constraint::Length(14)),
    Column::new("SIZE", Constraint::Length(8)).right(),
    Column::new("CREATED BY", Constraint::Fill(3)).filterable(),
    Column::new("COMMENT", Constraint::Fill(1)).filterable(),
];

#[derive(Debug, Clone, Default)]
pub struct LayerHistoryState {
    rows: Vec<HistoryRow>,
    table_rows: Vec<TableRow>,
    all: Vec<usize>,
    pub table: TableState,
}

impl LayerHistoryState {
    /// `rows` newest first, as `docker history` and the engine list them.
    pub fn new(rows: Vec<HistoryRow>) -> Self {
        let layers = rows.iter().filter(|r| !r.empty).count();
        let mut n = layers;
        let table_rows = rows
            .iter()
            .map(|r| {
                let layer = if r.empty {
                    "-".to_string()
                } else {
                    let s = n.to_string();
                    n -= 1;
                    s
                };
                let size = if r.empty {
                    "empty".to_string()
                } else {
                    r.size.clone()
                };
                TableRow {
                    cells: vec![
                        layer,
                        r.created.clone(),
                        size,
                        r.created_by.clone(),
                        r.comment.clone(),
                    ],
                    dim: r.empty,
                    tone: None,
                }
            })
            .collect();
        LayerHistoryState {
            all: (0..rows.len()).collect(),
            rows,
            table_rows,
            table: TableState::default(),
        }
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
    /// Entries that made a layer.
    pub fn layer_count(&self) -> usize {
        self.rows.iter().filter(|r| !r.empty).count()
    }
    pub fn selected(&self) -> Option<&HistoryRow> {
        self.rows.get(self.table.selected)
    }
}

pub struct LayerHistory<'a> {
    block: Option<Block<'a>>,
    styles: &'a Styles,
    focused: bool,
}

impl<'a> LayerHistory<'a> {
    pub fn new(styles: &'a Styles) -> Self {
        LayerHistory {
            block: None,
            styles,
            focused: true,
        }
    }
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }
    pub fn focused(mut self, focused: bool) -> Self {
        self.focused = focused;
        self
    }
}

impl StatefulWidget for LayerHistory<'_> {
    type State = LayerHistoryState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut LayerHistoryState) {
        let inner = crate::render_block(self.block, area, buf);
        // The full command of the selected entry, below the table, when there is room.
        let footer_h: u16 = if inner.height >= 10 { 3 } else { 0 };
        let table_area = Rect {
            height: inner.height - footer_h,
            ..inner
        };
        ResourceTable::new(&COLUMNS, &state.table_rows, &state.all, self.styles)
            .focused(self.focused)
            .empty_message("No history")
            .render(table_area, buf, &mut state.table);
        if footer_h > 0 {
            if let Some(row) = state.rows.get(state.table.selected) {
                let footer = Rect {
                    y: table_area.bottom(),
                    height: footer_h,
                    ..inner
                };
                let text = if row.created_by.is_empty() {
                    "(no command recorded)".to_string()
                } else {
                    row.created_by.clone()
                };
                let rule = "─".repeat(footer.width as usize);
                let lines = vec![
                    Line::from(Span::styled(rule, self.styles.border)),
                    Line::from(Span::styled(text, self.styles.text)),
                ];
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .render(footer, buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::buffer_text;

    #[test]
    fn numbers_layers_and_marks_empty_entries() {
        let rows = vec![
            HistoryRow {
                created: "2 hours ago".into(),
                created_by: "CMD [\"sh\"]".into(),
                size: "0B".into(),
                empty: true,
                comment: String::new(),
            },
            HistoryRow {
                created: "2 hours ago".into(),
                created_by: "COPY busybox /bin/ # a rather long command line that will not fit in the column".into(),
                size: "2.15MB".into(),
                empty: false,
                comment: "buildkit".into(),
            },
            HistoryRow {
                created: "3 days ago".into(),
                created_by: "ADD rootfs.tar /".into(),
                size: "1.2kB".into(),
                empty: false,
                comment: String::new(),
            },
        ];
        let mut st = LayerHistoryState::new(rows);
        assert_eq!(st.layer_count(), 2);
        st.table.down(1, st.len());
        let styles = Styles::monochrome();
        let mut buf = Buffer::empty(Rect::new(0, 0, 70, 10));
        LayerHistory::new(&styles).render(buf.area, &mut buf, &mut st);
        insta::assert_snapshot!(buffer_text(&buf));
    }
}
