//! A dismissable message: what went wrong, said in full (wrapped), never a panic.

use super::super::action::Action;
use super::super::app::App;
use super::{centered, frame, hint_line};

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorState {
    pub title: String,
    pub message: String,
}

impl ErrorState {
    pub fn new(title: &str, message: impl Into<String>) -> Self {
        ErrorState {
            title: title.to_string(),
            message: message.into(),
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, e: &ErrorState) {
    let w = 72u16.min(area.width.saturating_sub(4)).max(20);
    let text_w = w.saturating_sub(4).max(1) as usize;
    let h = (super::wrapped_height(&e.message, text_w) as u16 + 3).max(5);
    let r = centered(area, w, h);
    let title = Line::from(Span::styled(
        format!(" {} ", e.title),
        app.theme.styles.error,
    ));
    let hint = hint_line(app, &[(Action::Back, "close")]);
    let inner = frame(f, r, app, title, hint, true);
    let inner = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    f.render_widget(
        Paragraph::new(e.message.as_str())
            .style(app.theme.styles.text)
            .wrap(Wrap { trim: false }),
        inner,
    );
}
