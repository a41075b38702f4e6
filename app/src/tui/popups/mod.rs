//! Popups, one module each: help, pull, confirm, error, and the `:` command bar. They are
//! drawn over the screen in stack order; the top one has the keyboard.

pub mod command;
pub mod confirm;
pub mod connect;
pub mod error;
pub mod help;
pub mod pull;
pub mod run;

use super::app::App;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Clear};
use ratatui::Frame;

#[derive(Debug, Clone)]
pub enum Popup {
    Help(help::HelpState),
    /// Shows `App::pull`.
    Pull,
    Confirm(confirm::ConfirmState),
    Error(error::ErrorState),
    Run(Box<run::RunForm>),
    /// A container's networks: connect / disconnect.
    Connect(connect::ConnectState),
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    for i in 0..app.popups.len() {
        match &app.popups[i] {
            Popup::Help(_) => help::draw(f, area, app, i),
            Popup::Pull => pull::draw(f, area, app),
            Popup::Confirm(c) => confirm::draw(f, area, app, c),
            Popup::Error(e) => error::draw(f, area, app, e),
            Popup::Run(form) => run::draw(f, area, app, form),
            Popup::Connect(c) => connect::draw(f, area, app, c),
        }
    }
}

/// A `w` x `h` rect centred in `area` (clamped to it, leaving a margin when possible).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2)).max(area.width.min(20));
    let h = h.min(area.height.saturating_sub(2)).max(area.height.min(5));
    Rect {
        x: area.x + (area.width.saturating_sub(w)) / 2,
        y: area.y + (area.height.saturating_sub(h)) / 2,
        width: w,
        height: h,
    }
}

/// Clears `r` and draws a popup frame with `title` and a bottom `hint`; returns the inside.
pub fn frame(
    f: &mut Frame,
    r: Rect,
    app: &App,
    title: Line<'_>,
    hint: Line<'_>,
    error: bool,
) -> Rect {
    let st = &app.theme.styles;
    let block = Block::new()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(if error { st.error } else { st.border_focused })
        .title(title)
        .title_bottom(hint.right_aligned());
    let inner = block.inner(r);
    f.render_widget(Clear, r);
    f.render_widget(block, r);
    Rect {
        x: inner.x + 1,
        width: inner.width.saturating_sub(2),
        ..inner
    }
}

/// ` y yes · n no ` from the keymap.
pub fn hint_line(app: &App, items: &[(super::action::Action, &str)]) -> Line<'static> {
    use ratatui::text::Span;
    let mut spans = vec![Span::raw(" ")];
    for (i, (a, what)) in items.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", app.theme.styles.dim));
        }
        spans.push(Span::styled(app.keymap.label(*a), app.theme.keyname));
        spans.push(Span::raw(format!(" {what}")));
    }
    spans.push(Span::raw(" "));
    Line::from(spans)
}

/// Rows `text` takes when word-wrapped at `width` (as `Paragraph` with `Wrap`).
pub fn wrapped_height(text: &str, width: usize) -> usize {
    let width = width.max(1);
    text.lines()
        .map(|line| {
            let mut rows = 1;
            let mut col = 0;
            for word in line.split(' ') {
                let w = word.chars().count();
                if col == 0 {
                    col = w;
                } else if col + 1 + w <= width {
                    col += 1 + w;
                } else {
                    rows += 1;
                    col = w;
                }
                while col > width {
                    rows += 1;
                    col -= width;
                }
            }
            rows
        })
        .sum::<usize>()
        .max(1)
}
