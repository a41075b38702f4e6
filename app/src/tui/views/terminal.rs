//! The terminal pane beside the list: a shell in a container (tui-term over vt100), its
//! frame in the focus colour while it has the keyboard.

use super::super::action::Action;
use super::super::app::App;
use super::{pane, title_span};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;
use rdesk_widgets::TermView;

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let Some(t) = app.term.as_ref() else {
        return;
    };
    let focused = t.focused;
    let mut title = vec![title_span(app, format!(" shell: {} ", t.name))];
    let hint = if focused {
        format!("{} leaves ", app.keymap.label(Action::LeaveTerminal))
    } else {
        format!("{} focuses ", app.keymap.label(Action::ExecPane))
    };
    title.push(Span::styled(hint, app.theme.styles.dim));
    let block = pane(app, Line::from(title), focused);
    let inner = block.inner(area);
    app.areas.term = inner;
    let styles = app.theme.styles.clone();
    let Some(t) = app.term.as_mut() else {
        return;
    };
    // The process learns the pane's size (the last row is kept for the exit note).
    if t.state.exited.is_none() && t.state.resize(inner.height, inner.width) {
        app.term_resized = Some((inner.height.max(1), inner.width.max(1)));
    }
    let widget = TermView::new(&styles).block(block).focused(focused);
    f.render_stateful_widget(widget, area, &mut t.state);
}
