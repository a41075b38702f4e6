//! The styles every widget draws with: one struct the application fills from its theme.

use ratatui::style::{Color, Modifier, Style};

#[derive(Debug, Clone, PartialEq)]
pub struct Styles {
    /// Ordinary text.
    pub text: Style,
    /// Column headers, labels.
    pub header: Style,
    /// The selected row.
    pub selected: Style,
    /// The selected row when its pane does not have the focus.
    pub selected_unfocused: Style,
    /// Characters matched by a filter or search.
    pub matched: Style,
    /// Secondary text: dangling images, empty layers, hints.
    pub dim: Style,
    pub border: Style,
    pub border_focused: Style,
    pub title: Style,
    /// JSON object keys.
    pub key: Style,
    pub string: Style,
    pub number: Style,
    /// `true`, `false`, `null`.
    pub literal: Style,
    /// The filled part of gauges.
    pub gauge: Style,
    /// Done, healthy.
    pub ok: Style,
    pub error: Style,
}

impl Default for Styles {
    fn default() -> Self {
        Styles {
            text: Style::new(),
            header: Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            selected: Style::new().fg(Color::Black).bg(Color::Cyan),
            selected_unfocused: Style::new().add_modifier(Modifier::REVERSED),
            matched: Style::new()
                .fg(Color::LightMagenta)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            dim: Style::new().fg(Color::DarkGray),
            border: Style::new().fg(Color::DarkGray),
            border_focused: Style::new().fg(Color::Cyan),
            title: Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
            key: Style::new().fg(Color::Blue),
            string: Style::new().fg(Color::Green),
            number: Style::new().fg(Color::Magenta),
            literal: Style::new().fg(Color::Yellow),
            gauge: Style::new().fg(Color::Cyan),
            ok: Style::new().fg(Color::Green),
            error: Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        }
    }
}

impl Styles {
    /// No colours at all (`NO_COLOR`): only bold, reverse, underline and dim.
    pub fn monochrome() -> Self {
        let plain = Style::new();
        Styles {
            text: plain,
            header: plain.add_modifier(Modifier::BOLD),
            selected: plain.add_modifier(Modifier::REVERSED),
            selected_unfocused: plain.add_modifier(Modifier::UNDERLINED),
            matched: plain.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            dim: plain.add_modifier(Modifier::DIM),
            border: plain,
            border_focused: plain.add_modifier(Modifier::BOLD),
            title: plain.add_modifier(Modifier::BOLD),
            key: plain.add_modifier(Modifier::BOLD),
            string: plain,
            number: plain,
            literal: plain,
            gauge: plain.add_modifier(Modifier::BOLD),
            ok: plain.add_modifier(Modifier::BOLD),
            error: plain.add_modifier(Modifier::BOLD),
        }
    }
}
