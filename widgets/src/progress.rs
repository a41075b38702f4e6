//! Per-layer progress of a pull: one line per layer (short id, status, a bar, bytes) and an
//! overall bar. The caller formats the labels; this only draws.

use crate::styles::Styles;
use crate::text::{truncate, width};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProgressItem {
    /// Short layer id.
    pub id: String,
    /// `Waiting`, `Downloading`, `Extracting`, `Pull complete`, `Already exists`...
    pub status: String,
    /// Fraction done, when known.
    pub ratio: Option<f64>,
    /// `1.2MB/3.4MB`.
    pub label: String,
    /// Finished (drawn full, in the ok style).
    pub done: bool,
}

pub struct LayerProgress<'a> {
    items: &'a [ProgressItem],
    overall: Option<(f64, &'a str)>,
    styles: &'a Styles,
}

impl<'a> LayerProgress<'a> {
    pub fn new(items: &'a [ProgressItem], styles: &'a Styles) -> Self {
        LayerProgress {
            items,
            overall: None,
            styles,
        }
    }
    /// The overall bar drawn below the layers: fraction and label.
    pub fn overall(mut self, ratio: f64, label: &'a str) -> Self {
        self.overall = Some((ratio, label));
        self
    }
}

/// `━━━━━━╺──────` bar `width` cells wide.
fn bar(ratio: f64, width: usize, styles: &Styles, done: bool) -> Vec<Span<'static>> {
    let ratio = ratio.clamp(0.0, 1.0);
    let filled = ((width as f64) * ratio).round() as usize;
    let fill_style = if done { styles.ok } else { styles.gauge };
    vec![
        Span::styled("━".repeat(filled), fill_style),
        Span::styled("─".repeat(width - filled), styles.dim),
    ]
}

impl Widget for LayerProgress<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.height == 0 || area.width < 20 {
            return;
        }
        let reserve = if self.overall.is_some() { 2 } else { 0 };
        let room = (area.height as usize).saturating_sub(reserve);
        // When layers overflow, keep the last ones (where the action is) and say how many hide.
        let (skip, shown) = if self.items.len() > room {
            let shown = room.saturating_sub(1);
            (self.items.len() - shown, shown)
        } else {
            (0, self.items.len())
        };
        let w = area.width as usize;
        let (id_w, status_w, label_w) = (12, 16, 17.min(w / 4));
        let bar_w = w.saturating_sub(id_w + status_w + label_w + 3).max(4);
        let mut y = area.y;
        if skip > 0 {
            let msg = format!("… {skip} more layers above");
            buf.set_line(area.x, y, &Line::styled(msg, self.styles.dim), area.width);
            y += 1;
        }
        for item in self.items.iter().skip(skip).take(shown) {
            let mut spans = vec![
                Span::styled(
                    format!("{:<id_w$} ", truncate(&item.id, id_w)),
                    self.styles.text,
                ),
                Span::styled(
                    format!("{:<status_w$} ", truncate(&item.status, status_w)),
                    if item.done {
                        self.styles.ok
                    } else {
                        self.styles.text
                    },
                ),
            ];
            match (item.done, item.ratio) {
                (true, _) => spans.extend(bar(1.0, bar_w, self.styles, true)),
                (false, Some(r)) => spans.extend(bar(r, bar_w, self.styles, false)),
                (false, None) => spans.push(Span::raw(" ".repeat(bar_w))),
            }
            let label = truncate(&item.label, label_w);
            spans.push(Span::styled(format!(" {label:>label_w$}"), self.styles.dim));
            buf.set_line(area.x, y, &Line::from(spans), area.width);
            y += 1;
        }
        if let Some((ratio, label)) = self.overall {
            let y = area.bottom() - 1;
            let pct = format!("{:>3}% ", (ratio.clamp(0.0, 1.0) * 100.0).floor() as u32);
            let label = format!(" {label}");
            let bw = w.saturating_sub(width(&pct) + width(&label)).max(4);
            let mut spans = vec![Span::styled(pct, self.styles.header)];
            spans.extend(bar(ratio, bw, self.styles, ratio >= 1.0));
            spans.push(Span::styled(label, self.styles.text));
            buf.set_line(area.x, y, &Line::from(spans), area.width);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::buffer_text;

    #[test]
    fn layers_and_overall() {
        let items = vec![
            ProgressItem {
                id: "4a1f2b3c4d5e".into(),
                status: "Pull complete".into(),
                ratio: None,
                label: "2.1MB".into(),
                done: true,
            },
            ProgressItem {
                id: "9c8d7e6f5a4b".into(),
                status: "Downloading".into(),
                ratio: Some(0.5),
                label: "1MB/2MB".into(),
                done: false,
            },
            ProgressItem {
                id: "0123456789ab".into(),
                status: "Waiting".into(),
                ratio: None,
                label: String::new(),
                done: false,
            },
        ];
        let styles = Styles::monochrome();
        let mut buf = Buffer::empty(Rect::new(0, 0, 72, 5));
        LayerProgress::new(&items, &styles)
            .overall(0.62, "3.1MB/5MB")
            .render(buf.area, &mut buf);
        insta::assert_snapshot!(buffer_text(&buf));
        // Too many layers for the area: the last ones stay, with a note.
        let mut buf = Buffer::empty(Rect::new(0, 0, 72, 4));
        LayerProgress::new(&items, &styles)
            .overall(0.62, "3.1MB/5MB")
            .render(buf.area, &mut buf);
        assert!(buffer_text(&buf).starts_with("… 2 more layers above"));
    }
}
