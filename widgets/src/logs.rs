//! The log viewer: a container's output, followed as it grows or paused anywhere, with a
//! search (highlighted, n/N), timestamps and wrapping toggles, and horizontal scrolling.
//!
//! Virtualized: a frame lays out only the lines it shows (wrapped rows are computed for
//! those lines alone), the search scans from the current position only when asked for the
//! next match, and nothing is proportional to the length of the log per key press or
//! frame. A single 100 KB line costs a character count when it is on screen, no more.

use crate::styles::Styles;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, StatefulWidget, Widget};
use std::collections::VecDeque;

/// One log record as shown: its time (RFC 3339), its text (control characters and ANSI
/// escapes removed, tabs expanded), whether it came from stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub time: String,
    pub text: String,
    pub stderr: bool,
}

impl LogLine {
    pub fn new(time: &str, raw: &str, stderr: bool) -> LogLine {
        LogLine {
            time: time.to_string(),
            text: sanitize(raw),
            stderr,
        }
    }
}

/// Drops the trailing newline, CSI/OSC escape sequences and control characters; tabs
/// become spaces (to the next multiple of 4). What is left is safe to draw.
pub fn sanitize(raw: &str) -> String {
    let raw = raw.strip_suffix('\n').unwrap_or(raw);
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    let mut col = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    // Parameters and intermediates, up to the final byte (@..~).
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    // Up to BEL or ST (ESC \).
                    while let Some(c) = chars.next() {
                        if c == '\x07' {
                            break;
                        }
                        if c == '\x1b' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                _ => {
                    chars.next();
                }
            },
            '\t' => {
                let n = 4 - col % 4;
                out.extend(std::iter::repeat_n(' ', n));
                col += n;
            }
            c if c.is_control() => {}
            c => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

/// Where the view is: following the end, or paused with this line (and wrapped row of it)
/// at the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    Follow,
    Top { line: usize, row: usize },
}

#[derive(Debug, Clone)]
pub struct LogViewState {
    lines: VecDeque<LogLine>,
    /// Lines dropped from the front (so positions stay meaningful to the user).
    dropped: usize,
    /// The most lines kept; older ones are dropped.
    capacity: usize,
    anchor: Anchor,
    pub timestamps: bool,
    pub wrap: bool,
    /// First column shown when not wrapping.
    hscroll: usize,
    search: String,
    /// The line of the current match (n/N move it).
    current: Option<usize>,
    /// The log ended (the container stopped); shown in the status line.
    pub ended: bool,
    /// Size of the text area last drawn.
    view: Rect,
}

impl Default for LogViewState {
    fn default() -> Self {
        LogViewState::new(1_000_000)
    }
}

const TIME_WIDTH: usize = 20; // "2024-05-01 12:00:00 "

fn rows_of(text_width: usize, width: usize) -> usize {
    if width == 0 {
        return 1;
    }
    text_width.div_ceil(width).max(1)
}

impl LogViewState {
    pub fn new(capacity: usize) -> Self {
        LogViewState {
            lines: VecDeque::new(),
            dropped: 0,
            capacity: capacity.max(1),
            anchor: Anchor::Follow,
            timestamps: false,
            wrap: false,
            hscroll: 0,
            search: String::new(),
            current: None,
            ended: false,
            view: Rect::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }
    pub fn lines(&self) -> impl Iterator<Item = &LogLine> {
        self.lines.iter()
    }
    pub fn following(&self) -> bool {
        self.anchor == Anchor::Follow
    }
    pub fn search(&self) -> &str {
        &self.search
    }
    /// The line number (1-based, counting dropped lines) of the current match.
    pub fn current_match(&self) -> Option<usize> {
        self.current.map(|i| i + self.dropped + 1)
    }

    pub fn push(&mut self, line: LogLine) {
        self.lines.push_back(line);
        if self.lines.len() > self.capacity {
            self.lines.pop_front();
            self.dropped += 1;
            if let Anchor::Top { line, .. } = &mut self.anchor {
                *line = line.saturating_sub(1);
            }
            self.current = self.current.and_then(|c| c.checked_sub(1));
        }
    }

    pub fn extend(&mut self, lines: impl IntoIterator<Item = LogLine>) {
        for l in lines {
            self.push(l);
        }
    }

    pub fn clear(&mut self) {
        self.lines.clear();
        self.dropped = 0;
        self.anchor = Anchor::Follow;
        self.current = None;
        self.ended = false;
    }

    /// Follow the end (true) or stay where the view is (false).
    pub fn set_follow(&mut self, on: bool) {
        if on {
            self.anchor = Anchor::Follow;
        } else if self.anchor == Anchor::Follow {
            self.anchor = self.bottom_anchor();
        }
    }

    pub fn toggle_follow(&mut self) {
        let on = !self.following();
        self.set_follow(on);
    }

    pub fn toggle_wrap(&mut self) {
        self.wrap = !self.wrap;
        self.hscroll = 0;
        if let Anchor::Top { line, .. } = self.anchor {
            self.anchor = Anchor::Top { line, row: 0 };
        }
    }

    pub fn toggle_timestamps(&mut self) {
        self.timestamps = !self.timestamps;
    }

    fn text_width(&self) -> usize {
        let w = self.view.width as usize;
        if self.timestamps {
            w.saturating_sub(TIME_WIDTH).max(1)
        } else {
            w.max(1)
        }
    }

    /// Rows line `i` takes on screen.
    fn rows(&self, i: usize) -> usize {
        if !self.wrap {
            return 1;
        }
        rows_of(self.lines[i].text.chars().count(), self.text_width())
    }

    /// The top anchor that shows the end of the log at the bottom of the view.
    fn bottom_anchor(&self) -> Anchor {
        let height = (self.view.height as usize).max(1);
        let mut left = height;
        let mut i = self.lines.len();
        while i > 0 {
            let r = self.rows(i - 1);
            if r >= left {
                return Anchor::Top {
                    line: i - 1,
                    row: r - left,
                };
            }
            left -= r;
            i -= 1;
        }
        Anchor::Top { line: 0, row: 0 }
    }

    fn top(&self) -> (usize, usize) {
        match self.anchor {
            Anchor::Follow => match self.bottom_anchor() {
                Anchor::Top { line, row } => (line, row),
                Anchor::Follow => (0, 0),
            },
            Anchor::Top { line, row } => (line, row),
        }
    }

    /// Scrolls by `delta` rows; up pauses the follow, reaching the end resumes nothing (f
    /// does): the view stays put as lines arrive.
    pub fn scroll(&mut self, delta: isize) {
        let (mut line, mut row) = self.top();
        if delta < 0 {
            for _ in 0..delta.unsigned_abs() {
                if row > 0 {
                    row -= 1;
                } else if line > 0 {
                    line -= 1;
                    row = self.rows(line) - 1;
                } else {
                    break;
                }
            }
        } else {
            // Not past the position that shows the end at the bottom.
            let (max_line, max_row) = match self.bottom_anchor() {
                Anchor::Top { line, row } => (line, row),
                Anchor::Follow => (0, 0),
            };
            for _ in 0..delta as usize {
                if (line, row) >= (max_line, max_row) {
                    break;
                }
                if row + 1 < self.rows(line) {
                    row += 1;
                } else {
                    line += 1;
                    row = 0;
                }
            }
        }
        self.anchor = Anchor::Top { line, row };
    }

    pub fn top_of_log(&mut self) {
        self.anchor = Anchor::Top { line: 0, row: 0 };
    }

    /// The end, following again (G).
    pub fn bottom_of_log(&mut self) {
        self.anchor = Anchor::Follow;
    }

    pub fn scroll_horizontal(&mut self, delta: isize) {
        if !self.wrap {
            self.hscroll = self.hscroll.saturating_add_signed(delta);
        }
    }

    pub fn page(&self) -> usize {
        (self.view.height as usize).max(1)
    }

    pub fn set_search(&mut self, query: &str) {
        self.search = query.to_string();
        self.current = None;
    }

    /// Moves to the next (or previous) line holding the search, from the current match or
    /// the top of the view; scans only as far as the next match. False when there is none.
    pub fn search_next(&mut self, forward: bool) -> bool {
        if self.search.is_empty() || self.lines.is_empty() {
            return false;
        }
        let n = self.lines.len();
        let start = self.current.unwrap_or_else(|| {
            let (top, _) = self.top();
            if forward {
                top.wrapping_sub(1).min(n - 1)
            } else {
                top
            }
        });
        let needle = Needle::new(&self.search);
        for k in 1..=n {
            let i = if forward {
                (start + k) % n
            } else {
                (start + n - k % n) % n
            };
            if needle.find_in(&self.lines[i].text).is_some() {
                self.current = Some(i);
                // Pause, with the match a few rows below the top.
                let line = i.saturating_sub(2.min(self.page() / 3));
                self.anchor = Anchor::Top { line, row: 0 };
                if !self.wrap {
                    let col = needle.find_in(&self.lines[i].text).unwrap_or(0);
                    let w = self.text_width();
                    if col < self.hscroll || col >= self.hscroll + w {
                        self.hscroll = col.saturating_sub(w / 4);
                    }
                }
                return true;
            }
        }
        false
    }

    /// The log as text (for saving): one record a line, with its time when `timestamps`.
    pub fn to_text(&self, timestamps: bool) -> String {
        let mut out = String::new();
        for l in &self.lines {
            if timestamps {
                out.push_str(&l.time);
                out.push(' ');
            }
            out.push_str(&l.text);
            out.push('\n');
        }
        out
    }
}

/// Smart-case substring search: case-insensitive (ASCII) unless the query has a capital.
struct Needle {
    text: String,
    sensitive: bool,
}

impl Needle {
    fn new(q: &str) -> Needle {
        let sensitive = q.chars().any(char::is_uppercase);
        Needle {
            text: if sensitive {
                q.to_string()
            } else {
                q.to_ascii_lowercase()
            },
            sensitive,
        }
    }
    /// Char position of the first match.
    fn find_in(&self, hay: &str) -> Option<usize> {
        self.all_in(hay).into_iter().next().map(|(s, _)| s)
    }
    /// Every match as (start, end) char positions.
    fn all_in(&self, hay: &str) -> Vec<(usize, usize)> {
        if self.text.is_empty() {
            return Vec::new();
        }
        let lowered;
        let h = if self.sensitive {
            hay
        } else {
            lowered = hay.to_ascii_lowercase();
            &lowered
        };
        let mut out = Vec::new();
        let mut from = 0;
        let nlen = self.text.chars().count();
        while let Some(p) = h[from..].find(&self.text) {
            let b = from + p;
            let start = h[..b].chars().count();
            out.push((start, start + nlen));
            from = b + self.text.len();
        }
        out
    }
}

pub struct LogView<'a> {
    styles: &'a Styles,
    block: Option<Block<'a>>,
    focused: bool,
}

impl<'a> LogView<'a> {
    pub fn new(styles: &'a Styles) -> Self {
        LogView {
            styles,
            block: None,
            focused: true,
        }
    }
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }
    pub fn focused(mut self, focused: bool) -> Self {
        self.focused = focused;
        self
    }
}

/// `part` (which starts at char `offset` of its line) as spans, the chars inside `marks`
/// (char positions in the line) in `mark`.
fn segment(
    part: &str,
    offset: usize,
    marks: &[(usize, usize)],
    base: Style,
    mark: Style,
) -> Vec<Span<'static>> {
    if marks.is_empty() {
        return vec![Span::styled(part.to_string(), base)];
    }
    let mut spans = Vec::new();
    let mut cur = String::new();
    let mut cur_marked = false;
    for (k, c) in part.chars().enumerate() {
        let i = offset + k;
        let m = marks.iter().any(|&(s, e)| i >= s && i < e);
        if m != cur_marked && !cur.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut cur),
                if cur_marked { mark } else { base },
            ));
        }
        cur_marked = m;
        cur.push(c);
    }
    if !cur.is_empty() {
        spans.push(Span::styled(cur, if cur_marked { mark } else { base }));
    }
    spans
}

/// Byte offsets where rows `first..first+n` of `text` wrapped at `width` chars start (and
/// where the last one ends): one pass, stopping after the last row needed.
fn row_bounds(text: &str, width: usize, first: usize, n: usize) -> Vec<usize> {
    let mut out = Vec::with_capacity(n + 1);
    let (start, end) = (first * width, (first + n) * width);
    for (k, (b, _)) in text.char_indices().enumerate() {
        if k >= start && (k - start) % width == 0 {
            out.push(b);
        }
        if k >= end {
            return out;
        }
    }
    if out.is_empty() {
        out.push(text.len());
    }
    out.push(text.len());
    out
}

/// The byte range of chars `from..from+n` of `text`.
fn char_range(text: &str, from: usize, n: usize) -> (usize, usize) {
    let mut it = text.char_indices().skip(from);
    let Some((b0, _)) = it.next() else {
        return (text.len(), text.len());
    };
    let b1 = it
        .nth(n.saturating_sub(2))
        .map(|(b, c)| b + c.len_utf8())
        .unwrap_or(text.len());
    if n == 0 {
        return (b0, b0);
    }
    if n == 1 {
        let c = text[b0..].chars().next().map(char::len_utf8).unwrap_or(0);
        return (b0, b0 + c);
    }
    (b0, b1)
}

/// `2024-05-01T12:00:00.123Z` -> `2024-05-01 12:00:00`.
fn short_time(t: &str) -> String {
    let mut s: String = t.chars().take(19).collect();
    if s.len() > 10 {
        s.replace_range(10..11, " ");
    }
    format!("{s:<19} ")
}

impl StatefulWidget for LogView<'_> {
    type State = LogViewState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut LogViewState) {
        let inner = crate::render_block(self.block, area, buf);
        state.view = inner;
        if inner.width == 0 || inner.height == 0 {
            return;
        }
        if state.lines.is_empty() {
            Line::from(Span::styled(
                if state.ended {
                    "No output."
                } else {
                    "No output yet (following)."
                },
                self.styles.dim,
            ))
            .render(inner, buf);
            return;
        }
        let needle = (!state.search.is_empty()).then(|| Needle::new(&state.search));
        let tw = state.text_width();
        let (mut line, mut row) = state.top();
        let mut y = inner.y;
        while y < inner.bottom() && line < state.lines.len() {
            let l = &state.lines[line];
            let marks = needle
                .as_ref()
                .map(|n| n.all_in(&l.text))
                .unwrap_or_default();
            let is_current = state.current == Some(line);
            let base = if l.stderr {
                self.styles
                    .error
                    .remove_modifier(ratatui::style::Modifier::BOLD)
            } else {
                self.styles.text
            };
            let mark = if is_current {
                self.styles.selected
            } else {
                self.styles.matched
            };
            let left = (inner.bottom() - y) as usize;
            // (byte start, byte end, char offset) of each row drawn from this line.
            let parts: Vec<(usize, usize, usize)> = if state.wrap {
                let b = row_bounds(&l.text, tw, row, left);
                b.windows(2)
                    .enumerate()
                    .filter(|(k, w)| w[0] < w[1] || (*k == 0 && row == 0))
                    .map(|(k, w)| (w[0], w[1], (row + k) * tw))
                    .collect()
            } else {
                let (b0, b1) = char_range(&l.text, state.hscroll, tw);
                vec![(b0, b1, state.hscroll)]
            };
            for (k, (b0, b1, offset)) in parts.into_iter().enumerate() {
                if y >= inner.bottom() {
                    break;
                }
                let mut spans = Vec::new();
                if state.timestamps {
                    spans.push(Span::styled(
                        if row + k == 0 {
                            short_time(&l.time)
                        } else {
                            " ".repeat(TIME_WIDTH)
                        },
                        self.styles.dim,
                    ));
                }
                spans.extend(segment(&l.text[b0..b1], offset, &marks, base, mark));
                Line::from(spans).render(
                    Rect {
                        y,
                        height: 1,
                        ..inner
                    },
                    buf,
                );
                y += 1;
            }
            line += 1;
            row = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::buffer_text;

    fn state(n: usize) -> LogViewState {
        let mut s = LogViewState::new(100);
        for i in 0..n {
            s.push(LogLine::new(
                &format!("2024-05-01T12:00:{:02}.5Z", i % 60),
                &format!("line {i}\n"),
                i % 7 == 3,
            ));
        }
        s
    }

    fn draw(s: &mut LogViewState, w: u16, h: u16) -> String {
        let styles = Styles::monochrome();
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        LogView::new(&styles).render(buf.area, &mut buf, s);
        buffer_text(&buf)
    }

    #[test]
    fn sanitizes_escapes_controls_and_tabs() {
        assert_eq!(sanitize("\x1b[1;31mred\x1b[0m\tx\r\n"), "red x");
        assert_eq!(sanitize("a\x1b]0;title\x07b\x00c"), "abc");
    }

    #[test]
    fn follows_the_end_pauses_and_searches() {
        let mut s = state(30);
        let text = draw(&mut s, 30, 4);
        assert_eq!(text, "line 26\nline 27\nline 28\nline 29\n");
        s.scroll(-2);
        assert!(!s.following());
        s.push(LogLine::new("t", "line 30", false));
        assert_eq!(draw(&mut s, 30, 4), "line 24\nline 25\nline 26\nline 27\n");
        s.set_search("LINE 1");
        assert!(!s.search_next(true), "smart case: a capital makes it exact");
        s.set_search("line 1");
        assert!(s.search_next(true));
        assert_eq!(s.current_match(), Some(2), "line 1 is the second line");
        assert!(s.search_next(true));
        assert_eq!(s.current_match(), Some(11));
        assert!(s.search_next(false));
        assert_eq!(s.current_match(), Some(2));
        s.set_search("nope");
        assert!(!s.search_next(true));
        s.bottom_of_log();
        assert!(s.following());
        assert!(draw(&mut s, 30, 4).ends_with("line 30\n"));
        s.top_of_log();
        assert!(draw(&mut s, 30, 4).starts_with("line 0\n"));
    }

    #[test]
    fn wraps_and_shows_timestamps() {
        let mut s = LogViewState::new(10);
        s.push(LogLine::new(
            "2024-05-01T12:00:00.1Z",
            &"x".repeat(25),
            false,
        ));
        s.push(LogLine::new("2024-05-01T12:00:01.1Z", "short", false));
        s.toggle_wrap();
        assert_eq!(
            draw(&mut s, 10, 5),
            "xxxxxxxxxx\nxxxxxxxxxx\nxxxxx\nshort\n\n"
        );
        s.toggle_timestamps();
        s.toggle_wrap();
        insta::assert_snapshot!(draw(&mut s, 40, 3));
    }

    #[test]
    fn capacity_drops_the_oldest() {
        let mut s = LogViewState::new(3);
        for i in 0..5 {
            s.push(LogLine::new("t", &format!("{i}"), false));
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.to_text(false), "2\n3\n4\n");
    }

    /// A million lines and one 100 KB line: drawing and moving stay cheap (only what is on
    /// screen is laid out).
    #[test]
    fn a_million_lines_and_a_huge_line_stay_fast() {
        let mut s = LogViewState::new(2_000_000);
        for i in 0..1_000_000 {
            s.push(LogLine {
                time: String::new(),
                text: format!("record {i}"),
                stderr: false,
            });
        }
        s.push(LogLine {
            time: String::new(),
            text: "y".repeat(100_000),
            stderr: false,
        });
        // Only the frames and moves are timed, not filling the log.
        let t = std::time::Instant::now();
        for _ in 0..20 {
            draw(&mut s, 120, 40);
            s.scroll(-1);
        }
        s.toggle_wrap();
        s.bottom_of_log();
        for _ in 0..20 {
            draw(&mut s, 120, 40);
            s.scroll(-1);
        }
        s.set_search("record 999990");
        assert!(s.search_next(false));
        draw(&mut s, 120, 40);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            t.elapsed()
        );
    }
}
