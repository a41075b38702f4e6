//! The terminal pane: a VT100 screen (vt100's parser, fed the bytes a process writes) drawn
//! with tui-term's widget, and the encoding of keys into the bytes a terminal sends, so a
//! shell runs inside a pane while the rest of the workstation stays on screen.

use crate::styles::Styles;
use ratatui::buffer::Buffer;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, StatefulWidget, Widget};
use tui_term::widget::{Cursor, PseudoTerminal};

pub struct TermState {
    parser: vt100::Parser,
    /// How the process ended, once it has.
    pub exited: Option<String>,
}

impl std::fmt::Debug for TermState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TermState")
            .field("size", &self.parser.screen().size())
            .field("exited", &self.exited)
            .finish()
    }
}

impl TermState {
    pub fn new(rows: u16, cols: u16) -> TermState {
        TermState {
            parser: vt100::Parser::new(rows.max(1), cols.max(1), 1000),
            exited: None,
        }
    }

    /// What the process wrote.
    pub fn process(&mut self, bytes: &[u8]) {
        self.parser.process(bytes);
    }

    /// (rows, cols).
    pub fn size(&self) -> (u16, u16) {
        self.parser.screen().size()
    }

    /// Resizes the screen; true when the size changed (the process must be told).
    pub fn resize(&mut self, rows: u16, cols: u16) -> bool {
        let (rows, cols) = (rows.max(1), cols.max(1));
        if self.size() == (rows, cols) {
            return false;
        }
        self.parser.screen_mut().set_size(rows, cols);
        true
    }

    /// The screen's text (tests, and saving).
    pub fn contents(&self) -> String {
        self.parser.screen().contents()
    }

    /// The bytes a terminal sends for this key (xterm's encoding; cursor keys follow the
    /// application's cursor mode). `None` for keys a terminal does not send.
    pub fn encode_key(&self, ev: &KeyEvent) -> Option<Vec<u8>> {
        let app_cursor = self.parser.screen().application_cursor();
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let alt = ev.modifiers.contains(KeyModifiers::ALT);
        let csi = |s: &str| format!("\x1b[{s}").into_bytes();
        let cursor = |c: char| {
            if app_cursor {
                format!("\x1bO{c}").into_bytes()
            } else {
                format!("\x1b[{c}").into_bytes()
            }
        };
        let mut out = match ev.code {
            KeyCode::Char(c) if ctrl => {
                let b = match c.to_ascii_lowercase() {
                    c @ 'a'..='z' => c as u8 - b'a' + 1,
                    '@' | ' ' | '2' => 0,
                    '[' | '3' => 0x1b,
                    '\\' | '4' => 0x1c,
                    ']' | '5' => 0x1d,
                    '^' | '6' => 0x1e,
                    '_' | '7' | '/' => 0x1f,
                    '8' | '?' => 0x7f,
                    _ => return None,
                };
                vec![b]
            }
            KeyCode::Char(c) => c.to_string().into_bytes(),
            KeyCode::Enter => vec![b'\r'],
            KeyCode::Tab => vec![b'\t'],
            KeyCode::BackTab => csi("Z"),
            KeyCode::Backspace => vec![0x7f],
            KeyCode::Esc => vec![0x1b],
            KeyCode::Up => cursor('A'),
            KeyCode::Down => cursor('B'),
            KeyCode::Right => cursor('C'),
            KeyCode::Left => cursor('D'),
            KeyCode::Home => cursor('H'),
            KeyCode::End => cursor('F'),
            KeyCode::Insert => csi("2~"),
            KeyCode::Delete => csi("3~"),
            KeyCode::PageUp => csi("5~"),
            KeyCode::PageDown => csi("6~"),
            KeyCode::F(n) => match n {
                1 => b"\x1bOP".to_vec(),
                2 => b"\x1bOQ".to_vec(),
                3 => b"\x1bOR".to_vec(),
                4 => b"\x1bOS".to_vec(),
                5 => csi("15~"),
                6 => csi("17~"),
                7 => csi("18~"),
                8 => csi("19~"),
                9 => csi("20~"),
                10 => csi("21~"),
                11 => csi("23~"),
                12 => csi("24~"),
                _ => return None,
            },
            _ => return None,
        };
        if alt {
            out.insert(0, 0x1b);
        }
        Some(out)
    }
}

pub struct TermView<'a> {
    styles: &'a Styles,
    block: Option<Block<'a>>,
    focused: bool,
}

impl<'a> TermView<'a> {
    pub fn new(styles: &'a Styles) -> Self {
        TermView {
            styles,
            block: None,
            focused: true,
        }
    }
    pub fn block(mut self, block: Block<'a>) -> Self {
        self.block = Some(block);
        self
    }
    /// The cursor shows only while the pane has the keyboard.
    pub fn focused(mut self, focused: bool) -> Self {
        self.focused = focused;
        self
    }
}

impl StatefulWidget for TermView<'_> {
    type State = TermState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut TermState) {
        let inner = crate::render_block(self.block, area, buf);
        if inner.width == 0 || inner.height == 0 {
            return;
        }
        let mut text = inner;
        if let Some(e) = &state.exited {
            // The last row says how it ended; the screen stays readable above it.
            let last = Rect {
                y: inner.bottom() - 1,
                height: 1,
                ..inner
            };
            Line::styled(format!("[{e}]"), self.styles.dim).render(last, buf);
            text.height -= 1;
        }
        PseudoTerminal::new(state.parser.screen())
            .cursor(Cursor::default().visibility(self.focused && state.exited.is_none()))
            .render(text, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::buffer_text;

    #[test]
    fn draws_what_the_process_wrote() {
        let mut t = TermState::new(4, 20);
        t.process(b"/ # echo hi\r\nhi\r\n/ # \x1b[1mbold\x1b[0m");
        let styles = Styles::monochrome();
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 4));
        TermView::new(&styles)
            .focused(false)
            .render(buf.area, &mut buf, &mut t);
        assert_eq!(buffer_text(&buf), "/ # echo hi\nhi\n/ # bold\n\n");
        assert!(t.resize(10, 40));
        assert!(!t.resize(10, 40));
        t.exited = Some("exited with code 0".into());
        let mut buf = Buffer::empty(Rect::new(0, 0, 20, 4));
        TermView::new(&styles).render(buf.area, &mut buf, &mut t);
        assert!(buffer_text(&buf).contains("[exited with code 0]"));
    }

    #[test]
    fn encodes_keys_as_a_terminal_does() {
        let t = TermState::new(4, 20);
        let k = |code, m| t.encode_key(&KeyEvent::new(code, m));
        assert_eq!(
            k(KeyCode::Char('a'), KeyModifiers::NONE),
            Some(b"a".to_vec())
        );
        assert_eq!(k(KeyCode::Char('c'), KeyModifiers::CONTROL), Some(vec![3]));
        assert_eq!(
            k(KeyCode::Char('x'), KeyModifiers::ALT),
            Some(b"\x1bx".to_vec())
        );
        assert_eq!(k(KeyCode::Enter, KeyModifiers::NONE), Some(b"\r".to_vec()));
        assert_eq!(k(KeyCode::Up, KeyModifiers::NONE), Some(b"\x1b[A".to_vec()));
        let mut t = TermState::new(4, 20);
        t.process(b"\x1b[?1h"); // application cursor keys (as vi and less set)
        assert_eq!(
            t.encode_key(&KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
            Some(b"\x1bOA".to_vec())
        );
        assert_eq!(
            t.encode_key(&KeyEvent::new(KeyCode::Delete, KeyModifiers::NONE)),
            Some(b"\x1b[3~".to_vec())
        );
    }
}
