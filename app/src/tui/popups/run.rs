//! The run form (`r`, or `:run IMAGE [COMMAND]`): Docker `run` fields as text inputs
//! (ratatui-textarea) and two switches. It builds `run` arguments in Docker's syntax and
//! checks them with the CLI's own parser, so the form accepts exactly what `rdesk run`
//! accepts (`-p`, `-v`, `--network` included); a problem the parser names a flag of is shown
//! on that flag's field.

use super::super::action::Action;
use super::super::app::App;
use super::{centered, frame, hint_line};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use ratatui_textarea::TextArea;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Image,
    Name,
    Command,
    Env,
    Ports,
    Volumes,
    Network,
    Mode,
    Remove,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Image,
        Field::Name,
        Field::Command,
        Field::Env,
        Field::Ports,
        Field::Volumes,
        Field::Network,
        Field::Mode,
        Field::Remove,
    ];
    fn label(self) -> &'static str {
        match self {
            Field::Image => "Image",
            Field::Name => "Name",
            Field::Command => "Command",
            Field::Env => "Env",
            Field::Ports => "Ports",
            Field::Volumes => "Volumes",
            Field::Network => "Network",
            Field::Mode => "Mode",
            Field::Remove => "Remove",
        }
    }
    fn placeholder(self) -> &'static str {
        match self {
            Field::Image => "busybox (pulled when missing)",
            Field::Name => "optional, e.g. web",
            Field::Command => "optional, e.g. sh -c 'echo hi; sleep 1000'",
            Field::Env => "KEY=VALUE KEY2=VALUE2",
            Field::Ports => "8080:80 (-p)",
            Field::Volumes => "data:/data /host:/ctr:ro (-v)",
            Field::Network => "bridge (--network)",
            Field::Mode | Field::Remove => "",
        }
    }
    fn text(self) -> bool {
        !matches!(self, Field::Mode | Field::Remove)
    }
}

#[derive(Debug, Clone)]
pub struct RunForm {
    pub inputs: Vec<TextArea<'static>>,
    pub focus: usize,
    /// `-it` and hand the terminal over; else `-d` and select the new container.
    pub interactive: bool,
    pub remove: bool,
    /// The field a problem is about, and the problem.
    pub error: Option<(Field, String)>,
}

fn input(placeholder: &str, text: &str) -> TextArea<'static> {
    let mut t = TextArea::new(vec![text.to_string()]);
    t.set_placeholder_text(placeholder);
    t.set_cursor_line_style(Style::default());
    t.move_cursor(ratatui_textarea::CursorMove::End);
    t
}

/// Splits a command line into words: whitespace separates, '...' and "..." group, \ escapes.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                    in_word = true;
                }
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

impl RunForm {
    pub fn new(image: &str, command: &str) -> RunForm {
        let inputs = Field::ALL
            .iter()
            .filter(|f| f.text())
            .map(|f| match f {
                Field::Image => input(f.placeholder(), image),
                Field::Command => input(f.placeholder(), command),
                _ => input(f.placeholder(), ""),
            })
            .collect();
        RunForm {
            inputs,
            focus: if image.is_empty() { 0 } else { 1 },
            interactive: true,
            remove: false,
            error: None,
        }
    }

    pub fn field(&self) -> Field {
        Field::ALL[self.focus]
    }

    fn value(&self, f: Field) -> String {
        let i = Field::ALL.iter().position(|x| *x == f).unwrap_or(0);
        self.inputs
            .get(i)
            .map(|t| t.lines().join(" ").trim().to_string())
            .unwrap_or_default()
    }

    /// Keys while the form is open (enter, esc and ctrl-c are actions, handled before).
    pub fn key(&mut self, ev: KeyEvent) {
        let n = Field::ALL.len();
        match ev.code {
            KeyCode::Tab | KeyCode::Down => self.focus = (self.focus + 1) % n,
            KeyCode::BackTab | KeyCode::Up => self.focus = (self.focus + n - 1) % n,
            KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right if !self.field().text() => {
                match self.field() {
                    Field::Mode => self.interactive = !self.interactive,
                    _ => self.remove = !self.remove,
                }
            }
            _ if self.field().text() => {
                // One line per field: a pasted or typed newline is not text here.
                if ev.code == KeyCode::Enter
                    || (ev.code == KeyCode::Char('m') && ev.modifiers == KeyModifiers::CONTROL)
                {
                    return;
                }
                let focus = self.focus;
                self.inputs[focus].input(ev);
                if self.error.as_ref().is_some_and(|(f, _)| *f == self.field()) {
                    self.error = None;
                }
            }
            _ => {}
        }
    }

    pub fn paste(&mut self, text: &str) {
        if self.field().text() {
            let focus = self.focus;
            self.inputs[focus].insert_str(text.replace(['\n', '\r'], " "));
        }
    }

    /// The `run` arguments, or the field to fix and why.
    pub fn args(&self) -> Result<Vec<String>, (Field, String)> {
        let image = self.value(Field::Image);
        if image.is_empty() {
            return Err((Field::Image, "an image is needed, e.g. busybox".into()));
        }
        let mut args: Vec<String> = if self.interactive {
            vec!["-i".into(), "-t".into()]
        } else {
            vec!["-d".into()]
        };
        if self.remove {
            args.push("--rm".into());
        }
        let name = self.value(Field::Name);
        if !name.is_empty() {
            args.extend(["--name".into(), name]);
        }
        let words = |f: Field| split_words(&self.value(f)).map_err(|e| (f, e));
        for (field, flag) in [
            (Field::Env, "-e"),
            (Field::Ports, "-p"),
            (Field::Volumes, "-v"),
            (Field::Network, "--network"),
        ] {
            for w in words(field)? {
                args.extend([flag.to_string(), w]);
            }
        }
        args.push(image);
        args.extend(words(Field::Command)?);
        check(&args)?;
        Ok(args)
    }
}

/// `:run -d busybox ...`: the arguments as the CLI parses them.
pub fn check_args(args: &[String]) -> Result<(), String> {
    crate::cli::containers::parse_run(args)
}

/// Runs the CLI's parser over the arguments; a problem is reported on the field whose flag
/// it names (`invalid containerPort` comes from `-p`, for instance), else on the image.
fn check(args: &[String]) -> Result<(), (Field, String)> {
    let Err(e) = crate::cli::containers::parse_run(args) else {
        return Ok(());
    };
    for (flag, field) in [
        ("'--publish", Field::Ports),
        ("'-p", Field::Ports),
        ("'--volume", Field::Volumes),
        ("'-v", Field::Volumes),
        ("'--network", Field::Network),
        ("'--env", Field::Env),
        ("'-e", Field::Env),
        ("'--name", Field::Name),
    ] {
        if e.contains(flag) {
            return Err((field, e));
        }
    }
    Err((Field::Image, e))
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, form: &RunForm) {
    let st = &app.theme.styles;
    let rows = Field::ALL.len() as u16 + 4 + form.error.is_some() as u16 * 2;
    let r = centered(area, 76, rows);
    let title = Line::from(Span::styled(" Run a container ", st.title));
    let hint = hint_line(app, &[(Action::Select, "run"), (Action::Back, "cancel")]);
    let inner = frame(f, r, app, title, hint, false);
    let inner = Rect {
        y: inner.y + 1,
        height: inner.height.saturating_sub(1),
        ..inner
    };
    const LABEL: u16 = 10;
    let mut text_i = 0;
    for (i, field) in Field::ALL.iter().enumerate() {
        let y = inner.y + i as u16;
        if y >= inner.bottom() {
            break;
        }
        let focused = i == form.focus;
        let label_style = if focused { st.title } else { st.header };
        let marker = if focused { "›" } else { " " };
        f.render_widget(
            Paragraph::new(Span::styled(
                format!("{marker}{:<8} ", field.label()),
                label_style,
            )),
            Rect {
                y,
                height: 1,
                width: LABEL.min(inner.width),
                ..inner
            },
        );
        let value_area = Rect {
            x: inner.x + LABEL,
            y,
            width: inner.width.saturating_sub(LABEL),
            height: 1,
        };
        match field {
            Field::Mode => {
                let (a, b) = if form.interactive {
                    ("(•) interactive: -it, then attach", "( ) detached: -d")
                } else {
                    ("( ) interactive: -it, then attach", "(•) detached: -d")
                };
                f.render_widget(
                    Paragraph::new(Line::from(vec![
                        Span::styled(a, st.text),
                        Span::raw("   "),
                        Span::styled(b, st.text),
                    ])),
                    value_area,
                );
            }
            Field::Remove => {
                let mark = if form.remove { "[x]" } else { "[ ]" };
                f.render_widget(
                    Paragraph::new(Span::styled(
                        format!("{mark} remove on exit (--rm)"),
                        st.text,
                    )),
                    value_area,
                );
            }
            _ if !focused && form.inputs[text_i].is_empty() => {
                // The placeholder, aligned with the values (the text area keeps its first
                // cell for the cursor).
                f.render_widget(
                    Paragraph::new(Span::styled(field.placeholder(), st.dim)),
                    value_area,
                );
                text_i += 1;
            }
            _ => {
                let mut t = form.inputs[text_i].clone();
                t.set_style(st.text);
                t.set_placeholder_style(st.dim);
                t.set_cursor_style(if focused {
                    Style::default().add_modifier(Modifier::REVERSED)
                } else {
                    Style::default()
                });
                f.render_widget(&t, value_area);
                text_i += 1;
            }
        }
    }
    if let Some((field, e)) = &form.error {
        let y = inner.y + Field::ALL.len() as u16 + 1;
        if y < inner.bottom() {
            f.render_widget(
                Paragraph::new(Span::styled(format!("{}: {e}", field.label()), st.error))
                    .wrap(ratatui::widgets::Wrap { trim: true }),
                Rect {
                    y,
                    height: inner.bottom() - y,
                    ..inner
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_a_shell() {
        assert_eq!(
            split_words(r#"sh -c 'echo hi; sleep 1' "a b" c\ d"#).unwrap(),
            ["sh", "-c", "echo hi; sleep 1", "a b", "c d"]
        );
        assert!(split_words("'open").is_err());
        assert!(split_words("  ").unwrap().is_empty());
    }

    #[test]
    fn builds_docker_run_arguments() {
        let mut form = RunForm::new("busybox", "sleep 100");
        form.interactive = false;
        form.remove = true;
        form.inputs[1].insert_str("web");
        form.inputs[3].insert_str("A=1 B=two");
        assert_eq!(
            form.args().unwrap(),
            [
                "-d", "--rm", "--name", "web", "-e", "A=1", "-e", "B=two", "busybox", "sleep",
                "100"
            ]
        );
        let empty = RunForm::new("", "");
        assert_eq!(empty.args().unwrap_err().0, Field::Image);
    }
}
