//! The help overlay: every binding of the keymap (overrides included), by group, plus the
//! command bar's commands. Scrolls when the terminal is short.

use super::super::action::{Action, Group, ACTIONS};
use super::super::app::App;
use super::command::HELP;
use super::{centered, frame, hint_line};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HelpState {
    pub scroll: usize,
}

impl HelpState {
    pub fn scroll(&mut self, delta: isize) {
        // Clamped to the content when drawn.
        self.scroll = self.scroll.saturating_add_signed(delta);
    }
}

fn lines(app: &App) -> Vec<Line<'static>> {
    let st = &app.theme.styles;
    let mut out = Vec::new();
    for group in [
        Group::Navigation,
        Group::General,
        Group::Resources,
        Group::Containers,
        Group::Images,
        Group::Inspect,
        Group::Files,
        Group::Logs,
        Group::Dialogs,
    ] {
        if !out.is_empty() {
            out.push(Line::raw(""));
        }
        out.push(Line::from(Span::styled(group.title(), st.header)));
        for def in ACTIONS.iter().filter(|d| d.group == group) {
            out.push(Line::from(vec![
                Span::styled(
                    format!("  {:<14}", app.keymap.labels(def.action)),
                    app.theme.keyname,
                ),
                Span::styled(def.help, st.text),
            ]));
        }
    }
    out.push(Line::raw(""));
    out.push(Line::from(Span::styled("Command bar (:)", st.header)));
    for l in HELP {
        out.push(Line::from(Span::styled(format!("  {l}"), st.text)));
    }
    out.push(Line::raw(""));
    out.push(Line::from(Span::styled(
        "Keys are set in [tui.keys] of ~/.config/rdesk/config.toml",
        st.dim,
    )));
    out.push(Line::from(Span::styled(
        "(every action and its default keys: assets/config.toml).",
        st.dim,
    )));
    out
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App, index: usize) {
    let content = lines(app);
    let r = centered(area, 96, content.len() as u16 + 2);
    let hint = hint_line(app, &[(Action::Down, "scroll"), (Action::Back, "close")]);
    let title = Line::from(Span::styled(" Help ", app.theme.styles.title));
    let inner = frame(f, r, app, title, hint, false);
    let max = content.len().saturating_sub(inner.height as usize);
    let scroll = match &mut app.popups[index] {
        super::Popup::Help(h) => {
            h.scroll = h.scroll.min(max);
            h.scroll
        }
        _ => 0,
    };
    f.render_widget(Paragraph::new(content).scroll((scroll as u16, 0)), inner);
}
