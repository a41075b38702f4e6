//! The resource table: a header, the rows a filter leaves (by index, so filtering copies no
//! rows), the selection kept in view, fuzzy-matched characters highlighted, a scrollbar when
//! the rows overflow. Only the visible rows are laid out and drawn.

use crate::fuzzy;
use crate::styles::Styles;
use crate::text::{marked_spans, truncate};
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Position, Rect};
use ratatui::text::Line;
use ratatui::widgets::{
    Block, Paragraph, Scrollbar, ScrollbarOrientation, ScrollbarState, StatefulWidget, Widget,
};

/// One column: its title, width, alignment, and whether the filter looks at it.
#[derive(Debug, Clone)]
pub struct Column {
    pub title: &'static str,
    pub width: Constraint,
    pub align: Alignment,
    pub filterable: bool,
}

impl Column {
    pub const fn new(title: &'static str, width: Constraint) -> Self {
        Column {
            title,
            width,
            align: Alignment::Left,
            filterable: false,
        }
    }
    pub const fn right(mut self) -> Self {
        self.align = Alignment::Right;
        self
    }
    pub const fn filterable(mut self) -> Self {
        self.filterable = true;
        self
    }
}

/// The colour of one cell (a container's state): drawn with the `ok`, `error` or `dim`
/// style unless the row is selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Ok,
    Error,
    Dim,
}

/// One row's cells, already formatted; `dim` draws it in the secondary style (dangling);
/// `tone` colours one cell (by column position).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableRow {
    pub cells: Vec<String>,
    pub dim: bool,
    pub tone: Option<(usize, Tone)>,
}

impl TableRow {
    pub fn new(cells: Vec<String>) -> Self {
        TableRow {
            cells,
            dim: false,
            tone: None,
        }
    }

    /// Whether the fuzzy `pattern` matches one of the `filterable` columns.
    pub fn matches(&self, columns: &[Column], pattern: &str) -> bool {
        pattern.is_empty()
            || self
                .cells
                .iter()
                .zip(columns)
                .any(|(cell, col)| col.filterable && fuzzy::matches(pattern, cell))
    }
}

/// Selection and scroll position, in positions of the filtered list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableState {
    pub selected: usize,
    pub offset: usize,
    /// Where the rows were last drawn (for mouse hits and page sizes).
    pub rows_area: Rect,
}

impl TableState {
    pub fn page(&self) -> usize {
        (self.rows_area.height as usize).max(1)
    }
    pub fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
        self.offset = self.offset.min(len.saturating_sub(1));
    }
    pub fn down(&mut self, n: usize, len: usize) {
        self.selected = (self.selected + n).min(len.saturating_sub(1));
    }
    pub fn up(&mut self, n: usize) {
        self.selected = self.selected.saturating_sub(n);
    }
    pub fn top(&mut self) {
        self.selected = 0;
    }
    pub fn bottom(&mut self, len: usize) {
        self.selected = len.saturating_sub(1);
    }
    /// Moves the view by `delta` rows (mouse wheel), keeping the selection on screen.
    pub fn scroll(&mut self, delta: isize, len: usize) {
        let page = self.page();
        let max_offset = len.saturating_sub(page);
        self.offset = self.offset.saturating_add_signed(delta).min(max_offset);
        let last = (self.offset + page).min(len).saturating_sub(1);
        self.selected = self.selected.clamp(self.offset, last.max(self.offset));
        self.clamp(len);
    }
    /// The list position drawn at a screen position, if any.
    pub fn row_at(&self, x: u16, y: u16, len: usize) -> Option<usize> {
        if !self.rows_area.contains(Position { x, y }) {
            return None;
        }
        let i = self.offset + (y - self.rows_area.y) as usize;
        (i < len).then_some(i)
    }
    /// Keeps the selection inside a view of `height` rows.
    fn follow(&mut self, len: usize, height: usize) {
        self.clamp(len);
        if height == 0 {
            return;
        }
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(len.saturating_sub(height));
    }
}

pub struct ResourceTable<'a> {
    columns: &'a [Column],
    rows: &'a [TableRow],
    visible: &'a [usize],
    filter: &'a str,
    block: Option<Block<'a>>,
    styles: &'a Styles,
    focused: bool,
    empty: &'a str,
}

impl<'a> ResourceTable<'a> {
    /// `visible` lists the positions in `rows` to show, in order (all of them, or what the
    /// filter left); `filter` is the pattern to highlight.
    pub fn new(
        columns: &'a [Column],
        rows: &'a [TableRow],
        visible: &'a [usize],
        styles: &'a Styles,
    ) -> Self {
        ResourceTable {
            columns,
            rows,
            visible,
            filter: "",
            block: None,
            styles,
            focused: true,
            empty: "",
        }
    }
    pub fn filter(mut self, pattern: &'a str) -> Self {
        self.filter = pattern;
        self
    }
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }
    pub fn focused(mut self, focused: bool) -> Self {
        self.focused = focused;
        self
    }
    /// The text shown (dim, centred) when there is no row.
    pub fn empty_message(mut self, text: &'a str) -> Self {
        self.empty = text;
        self
    }
}

impl StatefulWidget for ResourceTable<'_> {
    type State = TableState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut TableState) {
        let inner = match &self.block {
            Some(b) => {
                let inner = b.inner(area);
                b.clone().render(area, buf);
                inner
            }
            None => area,
        };
        if inner.height == 0 || inner.width == 0 {
            state.rows_area = Rect::default();
            return;
        }
        let header_area = Rect { height: 1, ..inner };
        let rows_area = Rect {
            y: inner.y + 1,
            height: inner.height - 1,
            ..inner
        };
        state.rows_area = rows_area;
        let len = self.visible.len();
        state.follow(len, rows_area.height as usize);

        let widths: Vec<Constraint> = self.columns.iter().map(|c| c.width).collect();
        let cols = Layout::horizontal(widths).spacing(2).split(header_area);

        for (col, r) in self.columns.iter().zip(cols.iter()) {
            let title = truncate(col.title, r.width as usize);
            Line::from(title)
                .style(self.styles.header)
                .alignment(col.align)
                .render(*r, buf);
        }

        if len == 0 {
            if !self.empty.is_empty() && rows_area.height > 0 {
                let y = rows_area.y + (rows_area.height.saturating_sub(1)) / 2;
                Paragraph::new(self.empty)
                    .style(self.styles.dim)
                    .alignment(Alignment::Center)
                    .render(
                        Rect {
                            y,
                            height: 1,
                            ..rows_area
                        },
                        buf,
                    );
            }
            return;
        }

        let end = (state.offset + rows_area.height as usize).min(len);
        for (line_no, pos) in (state.offset..end).enumerate() {
            let row = &self.rows[self.visible[pos]];
            let y = rows_area.y + line_no as u16;
            let mut base = if row.dim {
                self.styles.dim
            } else {
                self.styles.text
            };
            let selected = pos == state.selected;
            if selected {
                let sel = if self.focused {
                    self.styles.selected
                } else {
                    self.styles.selected_unfocused
                };
                buf.set_style(
                    Rect {
                        y,
                        height: 1,
                        ..rows_area
                    },
                    sel,
                );
                base = base.patch(sel);
            }
            for (i, ((col, r), cell)) in self
                .columns
                .iter()
                .zip(cols.iter())
                .zip(&row.cells)
                .enumerate()
            {
                let base = match row.tone {
                    Some((c, tone)) if c == i && !selected => base.patch(match tone {
                        Tone::Ok => self.styles.ok,
                        Tone::Error => self.styles.error,
                        Tone::Dim => self.styles.dim,
                    }),
                    _ => base,
                };
                let marks = if col.filterable && !self.filter.is_empty() {
                    fuzzy::match_indices(self.filter, cell).unwrap_or_default()
                } else {
                    Vec::new()
                };
                let spans = marked_spans(cell, &marks, r.width as usize, base, self.styles.matched);
                let cell_area = Rect { y, height: 1, ..*r };
                Line::from(spans)
                    .alignment(col.align)
                    .render(cell_area, buf);
            }
        }

        if len > rows_area.height as usize {
            if let Some(block_area) = self.block.as_ref().map(|_| area) {
                let bar_area = Rect {
                    y: rows_area.y,
                    height: rows_area.height,
                    ..block_area
                };
                let mut sb = ScrollbarState::new(len.saturating_sub(rows_area.height as usize))
                    .position(state.offset);
                Scrollbar::new(ScrollbarOrientation::VerticalRight)
                    .begin_symbol(None)
                    .end_symbol(None)
                    .track_symbol(Some("│"))
                    .style(self.styles.border)
                    .render(bar_area, buf, &mut sb);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::buffer_text;
    use ratatui::widgets::Borders;

    fn columns() -> Vec<Column> {
        vec![
            Column::new("REPOSITORY", Constraint::Fill(1)).filterable(),
            Column::new("TAG", Constraint::Length(8)).filterable(),
            Column::new("SIZE", Constraint::Length(7)).right(),
        ]
    }

    fn rows(n: usize) -> Vec<TableRow> {
        (0..n)
            .map(|i| {
                TableRow::new(vec![
                    format!("repo{i}/busybox"),
                    "latest".into(),
                    "4.3MB".into(),
                ])
            })
            .collect()
    }

    fn render(
        rows: &[TableRow],
        visible: &[usize],
        filter: &str,
        state: &mut TableState,
        w: u16,
        h: u16,
    ) -> String {
        let cols = columns();
        let styles = Styles::monochrome();
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        ResourceTable::new(&cols, rows, visible, &styles)
            .filter(filter)
            .block(Block::new().borders(Borders::ALL).title("Images"))
            .empty_message("No images")
            .render(buf.area, &mut buf, state);
        buffer_text(&buf)
    }

    #[test]
    fn selection_stays_in_view_and_scrollbar_shows() {
        let rows = rows(20);
        let visible: Vec<usize> = (0..20).collect();
        let mut st = TableState::default();
        st.bottom(20);
        let out = render(&rows, &visible, "", &mut st, 40, 8);
        insta::assert_snapshot!(out);
        assert_eq!(st.offset, 15);
        assert_eq!(st.row_at(3, st.rows_area.y, 20), Some(15));
        st.scroll(-3, 20);
        assert_eq!((st.offset, st.selected), (12, 16));
    }

    #[test]
    fn filter_and_empty() {
        let rows = rows(3);
        let cols = columns();
        let visible: Vec<usize> = (0..3).filter(|&i| rows[i].matches(&cols, "o1b")).collect();
        assert_eq!(visible, vec![1]);
        let mut st = TableState::default();
        let out = render(&rows, &visible, "o1b", &mut st, 40, 5);
        assert!(out.contains("repo1/busybox"), "{out}");
        let out = render(&rows, &[], "", &mut st, 40, 5);
        insta::assert_snapshot!(out);
    }
}
