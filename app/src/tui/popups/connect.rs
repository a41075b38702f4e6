//! The network dialog of a container (`n` on the Containers pane): every network, the ones
//! the container is attached to marked; enter on another one asks for an optional alias
//! and connects (`network connect [--alias A]`), enter on a marked one asks to disconnect.
//! Also the parser of the Networks pane's create line (`NAME [--subnet CIDR] ...`).

use super::super::action::Action;
use super::super::app::App;
use super::{centered, frame, hint_line};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use rdesk_widgets::text::truncate;
use rdesk_widgets::LineInput;

#[derive(Debug, Clone)]
pub struct ConnectState {
    /// The container: full ID and name.
    pub id: String,
    pub name: String,
    /// (network name, the container is attached to it).
    pub networks: Vec<(String, bool)>,
    pub selected: usize,
    /// The alias input, open once a network to connect to was chosen.
    pub alias: Option<LineInput>,
}

impl ConnectState {
    pub fn new(id: &str, name: &str, networks: Vec<(String, bool)>) -> ConnectState {
        ConnectState {
            id: id.into(),
            name: name.into(),
            networks,
            selected: 0,
            alias: None,
        }
    }

    pub fn selected_network(&self) -> Option<String> {
        self.networks.get(self.selected).map(|(n, _)| n.clone())
    }
}

/// What the create line asks for: `network create`'s flags that make sense here.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkSpec {
    pub name: String,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub internal: bool,
    pub labels: Vec<String>,
}

/// `rdesk network create`'s flags (the same names and shapes, parsed by clap as the CLI).
#[derive(clap::Parser, Debug)]
#[command(
    name = "network create",
    no_binary_name = true,
    disable_help_flag = true
)]
struct CreateLine {
    #[arg(long)]
    subnet: Option<String>,
    #[arg(long)]
    gateway: Option<String>,
    #[arg(long)]
    ip_range: Option<String>,
    #[arg(long)]
    internal: bool,
    #[arg(long)]
    label: Vec<String>,
    name: String,
}

/// Parses `NAME [--subnet CIDR] [--gateway IP] [--ip-range CIDR] [--internal] [--label K=V]`
/// (flags before or after the name); the engine checks the values (a bad subnet, a taken
/// name) and its refusal is shown as the error.
pub fn parse_create(line: &str) -> Result<NetworkSpec, String> {
    use clap::Parser as _;
    let words = super::run::split_words(line)?;
    if words.is_empty() {
        return Err("a network needs a name: NAME [--subnet CIDR] [--internal]".into());
    }
    let c = CreateLine::try_parse_from(&words).map_err(|e| {
        e.render()
            .to_string()
            .lines()
            .next()
            .unwrap_or("invalid arguments")
            .trim_start_matches("error: ")
            .to_string()
    })?;
    Ok(NetworkSpec {
        name: c.name,
        subnet: c.subnet,
        gateway: c.gateway,
        ip_range: c.ip_range,
        internal: c.internal,
        labels: c.label,
    })
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, c: &ConnectState) {
    let st = &app.theme.styles;
    let list_h = c.networks.len().max(1) as u16;
    let extra = if c.alias.is_some() { 3 } else { 0 };
    let r = centered(area, 60, list_h + 5 + extra);
    let title = Line::from(Span::styled(format!(" Networks of {} ", c.name), st.title));
    let hint = if c.alias.is_some() {
        hint_line(app, &[(Action::Select, "connect"), (Action::Back, "back")])
    } else {
        hint_line(
            app,
            &[
                (Action::Select, "connect/disconnect"),
                (Action::Back, "close"),
            ],
        )
    };
    let inner = frame(f, r, app, title, hint, false);
    let w = inner.width as usize;
    let mut lines: Vec<Line> = vec![Line::from(Span::styled(
        "[x] attached: enter disconnects; [ ] enter connects",
        st.dim,
    ))];
    if c.networks.is_empty() {
        lines.push(Line::from(Span::styled("Loading networks…", st.dim)));
    }
    // Keep the selection in view.
    let room = inner.height.saturating_sub(2 + extra) as usize;
    let first = c.selected.saturating_sub(room.saturating_sub(1));
    for (i, (n, member)) in c.networks.iter().enumerate().skip(first).take(room) {
        let text = truncate(
            &format!("{} {}", if *member { "[x]" } else { "[ ]" }, n),
            w.saturating_sub(2),
        );
        let style = if i == c.selected {
            st.selected
        } else {
            st.text
        };
        lines.push(Line::from(vec![
            Span::raw(if i == c.selected { "›" } else { " " }),
            Span::styled(
                format!("{text:<width$}", width = w.saturating_sub(1)),
                style,
            ),
        ]));
    }
    if let Some(alias) = &c.alias {
        lines.push(Line::raw(""));
        lines.push(Line::from(Span::styled(
            format!(
                "Connect to {} with an alias (optional, --alias):",
                c.selected_network().unwrap_or_default()
            ),
            st.header,
        )));
        lines.push(Line::from(vec![
            Span::styled("› ", st.title),
            Span::styled(alias.text().to_string(), st.text),
            Span::styled(" ", st.selected),
        ]));
    }
    f.render_widget(
        Paragraph::new(lines),
        Rect {
            y: inner.y + 1,
            height: inner.height.saturating_sub(1),
            ..inner
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_line_takes_the_cli_flags() {
        let s = parse_create("todo-app --subnet 10.89.0.0/24 --internal").unwrap();
        assert_eq!(s.name, "todo-app");
        assert_eq!(s.subnet.as_deref(), Some("10.89.0.0/24"));
        assert!(s.internal);
        let s = parse_create("--label a=b web").unwrap();
        assert_eq!((s.name.as_str(), s.labels.len()), ("web", 1));
        assert!(parse_create("").is_err());
        assert!(parse_create("a b").is_err());
        let e = parse_create("web --subnet").unwrap_err();
        assert!(e.contains("--subnet"), "{e}");
        assert!(parse_create("web --bogus").is_err());
    }
}
