//! Pull: a reference input, then per-layer progress gauges and an overall bar fed by the
//! engine's Docker-shaped progress messages. Hiding the popup leaves the pull running.

use super::super::action::Action;
use super::super::app::App;
use super::{centered, frame, hint_line};
use crate::cli::format::human_size;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use rdesk_engine::models::CreateImageInfo;
use rdesk_engine::Reference;
use rdesk_widgets::{LayerProgress, LineInput, ProgressItem};

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Input {
        line: LineInput,
        error: Option<String>,
    },
    Running,
    Done(Result<String, String>),
}

#[derive(Debug, Clone, PartialEq)]
struct Layer {
    id: String,
    status: String,
    current: u64,
    total: u64,
    done: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PullState {
    phase: Phase,
    reference: String,
    /// Lines without a layer: `latest: Pulling from library/busybox`, `Digest: ...`.
    messages: Vec<String>,
    layers: Vec<Layer>,
}

impl Default for PullState {
    fn default() -> Self {
        Self::new()
    }
}

impl PullState {
    pub fn new() -> Self {
        PullState {
            phase: Phase::Input {
                line: LineInput::default(),
                error: None,
            },
            reference: String::new(),
            messages: Vec::new(),
            layers: Vec::new(),
        }
    }

    pub fn is_input(&self) -> bool {
        matches!(self.phase, Phase::Input { .. })
    }
    pub fn running(&self) -> bool {
        matches!(self.phase, Phase::Running)
    }
    pub fn reference(&self) -> String {
        self.reference.clone()
    }
    pub fn input_mut(&mut self) -> Option<&mut LineInput> {
        match &mut self.phase {
            Phase::Input { line, .. } => Some(line),
            _ => None,
        }
    }
    pub fn clear_input_error(&mut self) {
        if let Phase::Input { error, .. } = &mut self.phase {
            *error = None;
        }
    }

    /// Checks the reference; when valid, the pull starts (returns what to pull).
    pub fn submit(&mut self) -> Option<String> {
        let Phase::Input { line, error } = &mut self.phase else {
            return None;
        };
        let text = line.text().trim().to_string();
        if text.is_empty() {
            *error = Some("type an image reference, e.g. busybox or alpine:3.20".into());
            return None;
        }
        if let Err(e) = Reference::parse(&text) {
            *error = Some(e.to_string());
            return None;
        }
        self.reference = text.clone();
        self.phase = Phase::Running;
        Some(text)
    }

    pub fn progress(&mut self, info: &CreateImageInfo) {
        let status = info.status.clone().unwrap_or_default();
        let Some(id) = info
            .id
            .clone()
            .filter(|_| !status.starts_with("Pulling from"))
        else {
            self.messages.push(match &info.id {
                Some(id) => format!("{id}: {status}"),
                None => status,
            });
            return;
        };
        let i = match self.layers.iter().position(|l| l.id == id) {
            Some(i) => i,
            None => {
                self.layers.push(Layer {
                    id,
                    status: String::new(),
                    current: 0,
                    total: 0,
                    done: false,
                });
                self.layers.len() - 1
            }
        };
        let l = &mut self.layers[i];
        if let Some(d) = &info.progress_detail {
            if let (Some(c), Some(t)) = (d.current, d.total) {
                l.current = c.max(0) as u64;
                l.total = t.max(0) as u64;
            }
        }
        match status.as_str() {
            "Pull complete" | "Already exists" => {
                l.done = true;
                l.current = l.total;
            }
            "Download complete" | "Verifying Checksum" => l.current = l.total,
            _ => {}
        }
        l.status = status;
    }

    pub fn finish(&mut self, result: Result<String, String>) {
        if result.is_ok() {
            for l in &mut self.layers {
                l.done = true;
                l.current = l.total;
            }
        }
        self.phase = Phase::Done(result);
    }

    /// Fraction of the bytes to download that arrived, and a label.
    pub fn overall(&self) -> (f64, String) {
        let (cur, total) = self
            .layers
            .iter()
            .fold((0u64, 0u64), |(c, t), l| (c + l.current, t + l.total));
        let done = self.layers.iter().filter(|l| l.done).count();
        let ratio = if matches!(self.phase, Phase::Done(Ok(_))) {
            1.0
        } else if total > 0 {
            cur as f64 / total as f64
        } else {
            0.0
        };
        let bytes = if total > 0 {
            format!("{}/{}  ", human_size(cur as f64), human_size(total as f64))
        } else {
            String::new()
        };
        (ratio, format!("{bytes}{done}/{} layers", self.layers.len()))
    }

    fn items(&self) -> Vec<ProgressItem> {
        self.layers
            .iter()
            .map(|l| ProgressItem {
                id: l.id.clone(),
                status: l.status.clone(),
                ratio: (l.total > 0).then(|| l.current as f64 / l.total as f64),
                label: if l.total == 0 {
                    String::new()
                } else if l.done || l.current >= l.total {
                    human_size(l.total as f64)
                } else {
                    format!(
                        "{}/{}",
                        human_size(l.current as f64),
                        human_size(l.total as f64)
                    )
                },
                done: l.done,
            })
            .collect()
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let Some(p) = &app.pull else {
        return;
    };
    let st = &app.theme.styles;
    match &p.phase {
        Phase::Input { line, error } => {
            let r = centered(area, 72, 7);
            let title = Line::from(Span::styled(" Pull an image ", st.title));
            let hint = hint_line(app, &[(Action::Select, "pull"), (Action::Back, "cancel")]);
            let inner = frame(f, r, app, title, hint, false);
            let row = |i: u16| Rect {
                y: inner.y + i,
                height: 1,
                ..inner
            };
            if inner.height < 4 {
                return;
            }
            f.render_widget(
                Paragraph::new(Span::styled("Image reference", st.header)),
                row(0),
            );
            let pos = line.render("> ", row(1), f.buffer_mut(), app.theme.keyname, st.text);
            f.set_cursor_position(pos);
            let below = match error {
                Some(e) => Span::styled(e.clone(), st.error),
                None => Span::styled(
                    "e.g. busybox, alpine:3.20, registry.local:5000/team/app:1",
                    st.dim,
                ),
            };
            f.render_widget(Paragraph::new(below), row(3));
        }
        Phase::Running | Phase::Done(_) => {
            let items = p.items();
            let msgs = p.messages.len().min(3) as u16;
            let want = items.len() as u16 + msgs + 6;
            let r = centered(area, 100, want.max(9));
            let title = Line::from(Span::styled(
                match &p.phase {
                    Phase::Running => format!(" Pulling {} ", p.reference),
                    _ => format!(" Pulled {} ", p.reference),
                },
                st.title,
            ));
            let hint = if p.running() {
                hint_line(app, &[(Action::Back, "hide (the pull goes on)")])
            } else {
                hint_line(app, &[(Action::Back, "close")])
            };
            let inner = frame(f, r, app, title, hint, false);
            let inner = Rect {
                y: inner.y + 1,
                height: inner.height.saturating_sub(1),
                ..inner
            };
            // The last few messages (pulling from, digest, status), then the layers.
            let shown: Vec<Line> = p
                .messages
                .iter()
                .skip(p.messages.len().saturating_sub(msgs as usize))
                .map(|m| Line::from(Span::styled(m.clone(), st.text)))
                .collect();
            let msg_area = Rect {
                height: msgs.min(inner.height),
                ..inner
            };
            f.render_widget(Paragraph::new(shown), msg_area);
            let rest = Rect {
                y: inner.y + msg_area.height,
                height: inner.height.saturating_sub(msg_area.height),
                ..inner
            };
            let (ratio, label) = p.overall();
            f.render_widget(LayerProgress::new(&items, st).overall(ratio, &label), rest);
        }
    }
}
