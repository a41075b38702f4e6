//! Drawing: one module per view. `draw` lays the screen out (header, resource tabs, the
//! table, the detail pane, the key bar) and puts the open popups on top.

pub mod container_detail;
pub mod containers;
pub mod detail;
pub mod header;
pub mod images;
pub mod keybar;
pub mod network_detail;
pub mod networks;
pub mod terminal;
pub mod volume_detail;
pub mod volumes;

use super::app::{App, Focus, Resource};
use super::popups;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};
use ratatui::Frame;
use rdesk_widgets::{Column, ResourceTable, Styles, TableRow, TableState};

pub fn draw(f: &mut Frame, app: &mut App) {
    let area = f.area();
    let [header, tabs, body, bar] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw_header(f, header, app);
    header::draw_tabs(f, tabs, app);
    // The terminal pane, when open, takes the right half of the body.
    let body = if app.term.is_some() {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
                .areas(body);
        terminal::draw(f, right, app);
        left
    } else {
        app.areas.term = Rect::default();
        body
    };

    let detail_pct = match app.focus {
        Focus::Table => app.detail_height.clamp(10, 90),
        Focus::Detail => 70,
    };
    let [table, detail] = Layout::vertical([
        Constraint::Percentage(100 - detail_pct),
        Constraint::Percentage(detail_pct),
    ])
    .areas(body);
    app.areas.table = table;
    app.areas.detail = detail;
    match app.resource {
        Resource::Containers => containers::draw(f, table, app),
        Resource::Images => images::draw(f, table, app),
        Resource::Volumes => volumes::draw(f, table, app),
        Resource::Networks => networks::draw(f, table, app),
    }
    detail::draw(f, detail, app);
    keybar::draw(f, bar, app);
    popups::draw(f, area, app);
}

/// A pane's frame: rounded, in the focus colour when focused, its title on the left.
pub fn pane<'a>(app: &App, title: Line<'a>, focused: bool) -> Block<'a> {
    styled_pane(&app.theme.styles, title, focused)
}

fn styled_pane<'a>(st: &Styles, title: Line<'a>, focused: bool) -> Block<'a> {
    Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if focused {
            st.border_focused
        } else {
            st.border
        })
        .title(title)
}

pub fn title_span(app: &App, text: String) -> Span<'static> {
    Span::styled(text, app.theme.styles.title)
}

/// What one resource table (Containers, Images, Volumes, Networks) says about itself.
pub struct TableText {
    /// The title's noun, e.g. `Containers`.
    pub plural: &'static str,
    /// As in "No container matches the filter".
    pub singular: &'static str,
    /// The title's count when loaded and unfiltered, e.g. `3, 1 running`.
    pub summary: String,
    /// What an empty (loaded, unfiltered) table says.
    pub none_yet: String,
}

/// A resource table's rows and state, borrowed from its view.
pub struct Listing<'a> {
    pub loaded: bool,
    pub filter: &'a str,
    /// All rows, matching the filter or not.
    pub total: usize,
    pub columns: &'a [Column],
    pub cells: &'a [TableRow],
    pub visible: &'a [usize],
    pub table: &'a mut TableState,
}

/// Draw a resource table in its pane: the title with its count and the filter, and the
/// loading / empty / no-match message when there is no row to show.
pub fn draw_table(
    f: &mut Frame,
    area: Rect,
    st: &Styles,
    focused: bool,
    text: TableText,
    l: Listing,
) {
    let count = if !l.loaded {
        "…".to_string()
    } else if l.filter.is_empty() {
        text.summary
    } else {
        format!("{}/{}", l.visible.len(), l.total)
    };
    let mut title = vec![Span::styled(
        format!(" {} ({count}) ", text.plural),
        st.title,
    )];
    if !l.filter.is_empty() {
        title.push(Span::styled(format!("/{} ", l.filter), st.matched));
    }
    let block = styled_pane(st, Line::from(title), focused);
    let empty = if !l.loaded {
        format!("Loading {}…", text.plural.to_lowercase())
    } else if l.total == 0 {
        text.none_yet
    } else {
        format!("No {} matches the filter (esc clears it)", text.singular)
    };
    let widget = ResourceTable::new(l.columns, l.cells, l.visible, st)
        .filter(l.filter)
        .block(block)
        .focused(focused)
        .empty_message(&empty);
    f.render_stateful_widget(widget, area, l.table);
}

/// The indices of the rows whose filterable cells match `filter`.
pub fn matching(columns: &[Column], cells: &[TableRow], filter: &str) -> Vec<usize> {
    (0..cells.len())
        .filter(|&i| cells[i].matches(columns, filter))
        .collect()
}

/// Puts each row's [`age`] (from `created`, one per row) in column `col`; true when a
/// label changed.
pub fn refresh_age_column(
    cells: &mut [TableRow],
    col: usize,
    created: impl Iterator<Item = i64>,
    now: i64,
) -> bool {
    let mut changed = false;
    for (cells, created) in cells.iter_mut().zip(created) {
        let a = age(created, now);
        if cells.cells[col] != a {
            cells.cells[col] = a;
            changed = true;
        }
    }
    changed
}

/// Compact age as in k9s' AGE column: `45s`, `12m`, `5h`, `3d`, `8w`, `2y`; with "ago".
pub fn age(created: i64, now: i64) -> String {
    if created <= 0 {
        return "N/A".into();
    }
    let s = (now - created).max(0);
    let short = match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        3600..=86_399 => format!("{}h", s / 3600),
        86_400..=1_209_599 => format!("{}d", s / 86_400),
        1_209_600..=31_535_999 => format!("{}w", s / 604_800),
        _ => format!("{}y", s / 31_536_000),
    };
    format!("{short} ago")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ages_are_compact() {
        let now = 1_700_000_000;
        assert_eq!(super::age(now - 5, now), "5s ago");
        assert_eq!(super::age(now - 3600 * 5, now), "5h ago");
        assert_eq!(super::age(now - 86_400 * 3, now), "3d ago");
        assert_eq!(super::age(now - 86_400 * 30, now), "4w ago");
        assert_eq!(super::age(now - 86_400 * 800, now), "2y ago");
        assert_eq!(super::age(0, now), "N/A");
    }
}
