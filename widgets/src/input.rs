//! A one-line text input (filter, command bar, image reference): the text, a cursor, the
//! usual readline edits, and drawing that scrolls horizontally to keep the cursor visible.

use crate::text::width;
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use unicode_width::UnicodeWidthChar;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    text: String,
    /// Cursor position in chars.
    cursor: usize,
}

impl LineInput {
    pub fn new(text: &str) -> Self {
        LineInput {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }
    pub fn text(&self) -> &str {
        &self.text
    }
    pub fn cursor(&self) -> usize {
        self.cursor
    }
    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map(|(b, _)| b)
            .unwrap_or(self.text.len())
    }
    pub fn insert(&mut self, c: char) {
        let b = self.byte_at(self.cursor);
        self.text.insert(b, c);
        self.cursor += 1;
    }
    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars().filter(|c| !c.is_control()) {
            self.insert(c);
        }
    }
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            let b = self.byte_at(self.cursor);
            self.text.remove(b);
        }
    }
    pub fn delete(&mut self) {
        if self.cursor < self.text.chars().count() {
            let b = self.byte_at(self.cursor);
            self.text.remove(b);
        }
    }
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.text.chars().count());
    }
    pub fn home(&mut self) {
        self.cursor = 0;
    }
    pub fn end(&mut self) {
        self.cursor = self.text.chars().count();
    }
    /// ctrl-u: deletes from the start to the cursor.
    pub fn kill_to_start(&mut self) {
        let b = self.byte_at(self.cursor);
        self.text.replace_range(..b, "");
        self.cursor = 0;
    }
    /// ctrl-k: deletes from the cursor to the end.
    pub fn kill_to_end(&mut self) {
        let b = self.byte_at(self.cursor);
        self.text.truncate(b);
    }
    /// ctrl-w: deletes the word before the cursor.
    pub fn delete_word(&mut self) {
        let chars: Vec<char> = self.text.chars().collect();
        let mut start = self.cursor;
        while start > 0 && chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !chars[start - 1].is_whitespace() {
            start -= 1;
        }
        let (a, b) = (self.byte_at(start), self.byte_at(self.cursor));
        self.text.replace_range(a..b, "");
        self.cursor = start;
    }

    /// Draws `prompt` then the text in `area` (one line); returns where the terminal
    /// cursor belongs.
    pub fn render(
        &self,
        prompt: &str,
        area: Rect,
        buf: &mut Buffer,
        prompt_style: Style,
        style: Style,
    ) -> Position {
        let pw = width(prompt) as u16;
        let room = area.width.saturating_sub(pw + 1) as usize;
        // Scroll so that the cursor stays visible.
        let before: Vec<char> = self.text.chars().take(self.cursor).collect();
        let mut skip = 0;
        let mut w: usize = before.iter().map(|c| c.width().unwrap_or(0)).sum();
        while w > room && skip < before.len() {
            w -= before[skip].width().unwrap_or(0);
            skip += 1;
        }
        let shown: String = self.text.chars().skip(skip).collect();
        let line = Line::from(vec![
            Span::styled(prompt.to_string(), prompt_style),
            Span::styled(shown, style),
        ]);
        buf.set_style(area, style);
        line.render(area, buf);
        Position {
            x: (area.x + pw + w as u16).min(area.right().saturating_sub(1)),
            y: area.y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits() {
        let mut i = LineInput::new("pull alpine");
        i.delete_word();
        assert_eq!(i.text(), "pull ");
        i.insert_str("busybox");
        i.home();
        i.delete();
        assert_eq!(i.text(), "ull busybox");
        i.end();
        i.backspace();
        i.left();
        i.insert('é');
        assert_eq!(i.text(), "ull busybéo");
        i.kill_to_start();
        assert_eq!((i.text(), i.cursor()), ("o", 0));
        i.kill_to_end();
        assert_eq!(i.text(), "");
    }

    #[test]
    fn scrolls_to_cursor() {
        let i = LineInput::new("0123456789abcdef");
        let mut buf = Buffer::empty(Rect::new(0, 0, 10, 1));
        let pos = i.render("> ", buf.area, &mut buf, Style::new(), Style::new());
        assert_eq!(crate::testutil::buffer_text(&buf), "> 9abcdef\n");
        assert_eq!(pos, Position { x: 9, y: 0 });
    }
}
