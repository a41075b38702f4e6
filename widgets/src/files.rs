//! A read-only file browser (a volume's content, a mount): the entries of one directory
//! with their type, mode, size and, for a symlink, its target; enter opens a directory or a
//! file, backspace goes up. A file opens in the log viewer (search, wrap, scroll) when it
//! is text, or as a "binary, N bytes" note. The widget takes plain data and never reads the
//! filesystem: the application reads through whatever confines it (for volumes, the
//! engine's `volume_read_dir` / `volume_read_file`, which never follow a symlink out).

use crate::logs::{LogLine, LogView, LogViewState};
use crate::styles::Styles;
use crate::table::{Column, ResourceTable, TableRow, TableState};
use crate::text::truncate;
use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, StatefulWidget, Widget, Wrap};

/// One directory entry, as the reader gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub name: String,
    /// "dir", "file", "symlink", "fifo", "socket", "char", "block".
    pub kind: String,
    pub size: u64,
    /// Permission bits (with setuid/setgid/sticky).
    pub mode: u32,
    /// A symlink's target, as stored.
    pub link_target: Option<String>,
}

impl FileEntry {
    pub fn is_dir(&self) -> bool {
        self.kind == "dir"
    }
}

/// What the browser asks the application to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRequest {
    /// List this directory (relative to the root, "" for the root).
    Dir(String),
    /// Read this file.
    File(String),
}

#[derive(Debug, Clone)]
pub enum FileContent {
    Loading,
    Text(LogViewState),
    /// Not text: its size.
    Binary(u64),
    Failed(String),
}

/// A file open in the viewer.
#[derive(Debug, Clone)]
pub struct FileViewer {
    pub path: String,
    /// The file's size from its directory entry.
    pub size: u64,
    /// Only the first `shown` bytes were read (the cap).
    pub capped: Option<u64>,
    pub content: FileContent,
}

#[derive(Debug, Clone, Default)]
pub struct FileBrowserState {
    /// The directory shown, relative to the root ("" is the root).
    pub path: String,
    /// The entries; None while loading.
    pub entries: Option<Vec<FileEntry>>,
    pub error: Option<String>,
    pub table: TableState,
    pub viewer: Option<FileViewer>,
    /// The name to select once the listing arrives (the directory we came up from).
    select: Option<String>,
    rows: Vec<TableRow>,
}

const COLUMNS: [Column; 4] = [
    Column::new("TYPE", Constraint::Length(7)),
    Column::new("MODE", Constraint::Length(10)),
    Column::new("SIZE", Constraint::Length(9)).right(),
    Column::new("NAME", Constraint::Fill(1)),
];

/// `rwxr-xr-x` with the type letter in front, as `ls -l`.
pub fn mode_string(kind: &str, mode: u32) -> String {
    let t = match kind {
        "dir" => 'd',
        "symlink" => 'l',
        "fifo" => 'p',
        "socket" => 's',
        "char" => 'c',
        "block" => 'b',
        _ => '-',
    };
    let mut s = String::with_capacity(10);
    s.push(t);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        let special = match shift {
            6 => mode & 0o4000 != 0,
            3 => mode & 0o2000 != 0,
            _ => mode & 0o1000 != 0,
        };
        let x = bits & 1 != 0;
        s.push(match (special, x, shift) {
            (true, true, 0) => 't',
            (true, false, 0) => 'T',
            (true, true, _) => 's',
            (true, false, _) => 'S',
            (false, true, _) => 'x',
            (false, false, _) => '-',
        });
    }
    s
}

/// Sizes as `docker` writes them (decimal units): `0B`, `12B`, `4.1kB`, `7.8MB`.
pub fn size_string(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        return format!("{bytes}B");
    }
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let n = format!("{v:.digits$}");
    let n = if n.contains('.') {
        n.trim_end_matches('0').trim_end_matches('.')
    } else {
        &n
    };
    format!("{n}{}", UNITS[u])
}

/// Whether `bytes` (maybe cut at `capped`) is text: no NUL, valid UTF-8 (a sequence cut
/// by the cap at the very end does not count).
pub fn is_text(bytes: &[u8], capped: bool) -> bool {
    if bytes.contains(&0) {
        return false;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => capped && e.error_len().is_none(),
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl FileBrowserState {
    /// A browser at the root, waiting for its listing.
    pub fn new() -> Self {
        FileBrowserState::default()
    }

    /// The listing of `path` arrived.
    pub fn set_listing(&mut self, path: &str, result: Result<Vec<FileEntry>, String>) {
        if path != self.path {
            return; // the user moved on
        }
        let keep = self
            .select
            .take()
            .or_else(|| self.selected().map(|e| e.name.clone()));
        match result {
            Ok(mut entries) => {
                // Directories first, then by name (the reader sorts by name).
                entries.sort_by(|a, b| b.is_dir().cmp(&a.is_dir()).then(a.name.cmp(&b.name)));
                self.rows = entries.iter().map(row_of).collect();
                self.table.selected = keep
                    .and_then(|k| entries.iter().position(|e| e.name == k))
                    .unwrap_or(0);
                self.entries = Some(entries);
                self.error = None;
            }
            Err(e) => {
                self.entries = Some(Vec::new());
                self.rows.clear();
                self.error = Some(e);
            }
        }
        self.table.clamp(self.rows.len());
    }

    pub fn selected(&self) -> Option<&FileEntry> {
        self.entries.as_ref()?.get(self.table.selected)
    }

    fn len(&self) -> usize {
        self.entries.as_ref().map_or(0, Vec::len)
    }

    /// Moves the selection (or scrolls the open file) by `delta` rows.
    pub fn move_by(&mut self, delta: isize) {
        if let Some(FileViewer {
            content: FileContent::Text(log),
            ..
        }) = self.viewer.as_mut()
        {
            if delta == isize::MIN / 2 {
                log.top_of_log();
            } else if delta == isize::MAX / 2 {
                log.bottom_of_log();
                log.set_follow(false);
            } else {
                log.scroll(delta);
            }
            return;
        }
        if self.viewer.is_some() {
            return;
        }
        let len = self.len();
        if delta < 0 {
            self.table.up(delta.unsigned_abs());
        } else {
            self.table.down(delta as usize, len);
        }
    }

    /// Enter: the selected directory or file, to be read.
    pub fn open(&mut self) -> Option<FileRequest> {
        if self.viewer.is_some() {
            return None;
        }
        let e = self.selected()?.clone();
        let path = join(&self.path, &e.name);
        if e.is_dir() {
            self.path = path.clone();
            self.entries = None;
            self.rows.clear();
            self.table = TableState::default();
            return Some(FileRequest::Dir(path));
        }
        if matches!(e.kind.as_str(), "file" | "symlink") {
            self.viewer = Some(FileViewer {
                path: path.clone(),
                size: e.size,
                capped: None,
                content: FileContent::Loading,
            });
            return Some(FileRequest::File(path));
        }
        None
    }

    /// Backspace: closes the open file, else goes to the parent directory (None at the
    /// root, or with nothing to read).
    pub fn up(&mut self) -> Option<FileRequest> {
        if self.viewer.take().is_some() {
            return None;
        }
        if self.path.is_empty() {
            return None;
        }
        let (parent, name) = match self.path.rsplit_once('/') {
            Some((p, n)) => (p.to_string(), n.to_string()),
            None => (String::new(), self.path.clone()),
        };
        self.path = parent.clone();
        self.entries = None;
        self.rows.clear();
        self.table = TableState::default();
        self.select = Some(name);
        Some(FileRequest::Dir(parent))
    }

    /// The file's first bytes arrived (`cap`: the most that was asked for).
    pub fn set_file(&mut self, path: &str, result: Result<Vec<u8>, String>, cap: u64) {
        let Some(v) = self.viewer.as_mut().filter(|v| v.path == path) else {
            return;
        };
        match result {
            Err(e) => v.content = FileContent::Failed(e),
            Ok(bytes) => {
                let capped = bytes.len() as u64 >= cap;
                v.capped = capped.then_some(bytes.len() as u64);
                v.size = v.size.max(bytes.len() as u64);
                if !is_text(&bytes, capped) {
                    v.content = FileContent::Binary(v.size);
                    return;
                }
                let text = String::from_utf8_lossy(&bytes);
                let mut log = LogViewState::new(usize::MAX / 2);
                log.extend(text.lines().map(|l| LogLine::new("", l, false)));
                log.top_of_log();
                log.ended = true;
                v.content = FileContent::Text(log);
            }
        }
    }

    /// The open file's log viewer, when it is text (search, wrap, scroll sideways).
    pub fn text_mut(&mut self) -> Option<&mut LogViewState> {
        match self.viewer.as_mut() {
            Some(FileViewer {
                content: FileContent::Text(log),
                ..
            }) => Some(log),
            _ => None,
        }
    }
}

fn row_of(e: &FileEntry) -> TableRow {
    let name = match (&e.link_target, e.is_dir()) {
        (Some(t), _) => format!("{} -> {t}", e.name),
        (None, true) => format!("{}/", e.name),
        _ => e.name.clone(),
    };
    let size = if e.is_dir() {
        "-".to_string()
    } else {
        size_string(e.size)
    };
    TableRow {
        cells: vec![
            match e.kind.as_str() {
                "symlink" => "link".into(),
                k => k.to_string(),
            },
            mode_string(&e.kind, e.mode),
            size,
            name,
        ],
        dim: e.kind == "symlink",
        tone: None,
    }
}

/// The browser: the directory's path on top, its entries, or the open file.
pub struct FileBrowser<'a> {
    styles: &'a Styles,
    focused: bool,
    /// What the root is called in the path line (`data:` for a volume).
    root: &'a str,
}

impl<'a> FileBrowser<'a> {
    pub fn new(styles: &'a Styles, root: &'a str) -> Self {
        FileBrowser {
            styles,
            focused: true,
            root,
        }
    }
    pub fn focused(mut self, focused: bool) -> Self {
        self.focused = focused;
        self
    }
}

impl StatefulWidget for FileBrowser<'_> {
    type State = FileBrowserState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut FileBrowserState) {
        if area.height == 0 || area.width == 0 {
            return;
        }
        let st = self.styles;
        let w = area.width as usize;
        let top = Rect { height: 1, ..area };
        let body = Rect {
            y: area.y + 1,
            height: area.height - 1,
            ..area
        };
        if let Some(v) = state.viewer.as_mut() {
            let mut spans = vec![Span::styled(
                truncate(&format!("{}/{}", self.root, v.path), w.saturating_sub(24)),
                st.title,
            )];
            let size = match v.capped {
                Some(shown) => format!(
                    "  {} (first {} shown)",
                    size_string(v.size),
                    size_string(shown)
                ),
                None => format!("  {}", size_string(v.size)),
            };
            spans.push(Span::styled(size, st.dim));
            Line::from(spans).render(top, buf);
            let note = |text: String, buf: &mut Buffer| {
                Paragraph::new(text)
                    .style(st.dim)
                    .wrap(Wrap { trim: true })
                    .render(body, buf)
            };
            match &mut v.content {
                FileContent::Loading => note("Reading…".into(), buf),
                FileContent::Failed(e) => note(format!("Cannot read {}: {e}", v.path), buf),
                FileContent::Binary(n) => note(
                    format!("binary, {n} bytes: not shown ({} goes back)", "backspace"),
                    buf,
                ),
                FileContent::Text(log) => {
                    LogView::new(st)
                        .focused(self.focused)
                        .render(body, buf, log);
                }
            }
            return;
        }
        let count = match &state.entries {
            Some(e) => format!("  {} entries", e.len()),
            None => String::new(),
        };
        Line::from(vec![
            Span::styled(
                truncate(
                    &format!("{}/{}", self.root, state.path),
                    w.saturating_sub(14),
                ),
                st.title,
            ),
            Span::styled(count, st.dim),
        ])
        .render(top, buf);
        if let Some(e) = &state.error {
            Paragraph::new(format!("Cannot list {}/{}: {e}", self.root, state.path))
                .style(st.error)
                .wrap(Wrap { trim: true })
                .render(body, buf);
            return;
        }
        let Some(entries) = &state.entries else {
            Paragraph::new("Reading…")
                .style(st.dim)
                .alignment(Alignment::Left)
                .render(body, buf);
            return;
        };
        let visible: Vec<usize> = (0..entries.len()).collect();
        let empty = if state.path.is_empty() {
            "Empty: nothing written here yet"
        } else {
            "Empty directory (backspace goes up)"
        };
        ResourceTable::new(&COLUMNS, &state.rows, &visible, st)
            .focused(self.focused)
            .empty_message(empty)
            .render(body, buf, &mut state.table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::buffer_text;

    fn entry(name: &str, kind: &str, size: u64, mode: u32, link: Option<&str>) -> FileEntry {
        FileEntry {
            name: name.into(),
            kind: kind.into(),
            size,
            mode,
            link_target: link.map(str::to_string),
        }
    }

    fn draw(state: &mut FileBrowserState, w: u16, h: u16) -> String {
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        FileBrowser::new(&Styles::default(), "data:").render(buf.area, &mut buf, state);
        buffer_text(&buf)
    }

    fn listing() -> Vec<FileEntry> {
        vec![
            entry("note.txt", "file", 32, 0o644, None),
            entry("etc", "dir", 4096, 0o755, None),
            entry("passwd", "symlink", 11, 0o777, Some("/etc/passwd")),
            entry("blob.bin", "file", 2_000_000, 0o600, None),
        ]
    }

    #[test]
    fn lists_directories_first_with_links_shown() {
        let mut s = FileBrowserState::new();
        s.set_listing("", Ok(listing()));
        let out = draw(&mut s, 60, 8);
        insta::assert_snapshot!("files_listing", out);
        assert!(out.contains("passwd -> /etc/passwd"));
        assert_eq!(s.selected().unwrap().name, "etc");
    }

    #[test]
    fn enter_and_backspace_walk_the_tree() {
        let mut s = FileBrowserState::new();
        s.set_listing("", Ok(listing()));
        assert_eq!(s.open(), Some(FileRequest::Dir("etc".into())));
        assert!(draw(&mut s, 40, 4).contains("Reading…"));
        // A stale listing (of the root) is ignored.
        s.set_listing("", Ok(listing()));
        assert!(s.entries.is_none());
        s.set_listing("etc", Ok(vec![entry("hosts", "file", 5, 0o644, None)]));
        assert!(draw(&mut s, 40, 4).contains("data:/etc"));
        assert_eq!(s.up(), Some(FileRequest::Dir("".into())));
        s.set_listing("", Ok(listing()));
        assert_eq!(
            s.selected().unwrap().name,
            "etc",
            "back on the directory left"
        );
        assert_eq!(s.up(), None, "nothing above the root");
    }

    #[test]
    fn text_file_opens_in_the_viewer() {
        let mut s = FileBrowserState::new();
        s.set_listing("", Ok(listing()));
        s.move_by(1); // note.txt (after etc, blob.bin) -> blob.bin
        s.table.selected = 2;
        assert_eq!(s.selected().unwrap().name, "note.txt");
        assert_eq!(s.open(), Some(FileRequest::File("note.txt".into())));
        s.set_file(
            "note.txt",
            Ok(b"hello-volume\n\tindented\x1b[31m red\n".to_vec()),
            1 << 20,
        );
        let out = draw(&mut s, 50, 6);
        insta::assert_snapshot!("files_text_open", out);
        assert!(out.contains("hello-volume"));
        assert_eq!(s.up(), None, "backspace closes the file first");
        assert!(s.viewer.is_none());
    }

    #[test]
    fn binary_and_capped_files() {
        let mut s = FileBrowserState::new();
        s.set_listing("", Ok(listing()));
        s.table.selected = 1;
        assert_eq!(s.open(), Some(FileRequest::File("blob.bin".into())));
        s.set_file(
            "blob.bin",
            Ok(vec![0x7f, b'E', b'L', b'F', 0, 1, 2]),
            1 << 20,
        );
        let out = draw(&mut s, 60, 4);
        insta::assert_snapshot!("files_binary", out);
        assert!(out.contains("binary, 2000000 bytes"));
        s.up();
        s.open();
        // A text file cut by the cap inside a UTF-8 sequence is still text.
        let mut bytes = b"abc".repeat(3);
        bytes.extend_from_slice(&"é".as_bytes()[..1]);
        s.set_file("blob.bin", Ok(bytes.clone()), bytes.len() as u64);
        assert!(matches!(
            s.viewer.as_ref().unwrap().content,
            FileContent::Text(_)
        ));
        assert!(draw(&mut s, 60, 4).contains("(first 10B shown)"));
    }

    #[test]
    fn modes_and_sizes() {
        assert_eq!(mode_string("dir", 0o755), "drwxr-xr-x");
        assert_eq!(mode_string("file", 0o4755), "-rwsr-xr-x");
        assert_eq!(mode_string("dir", 0o1777), "drwxrwxrwt");
        assert_eq!(size_string(0), "0B");
        assert_eq!(size_string(999), "999B");
        assert_eq!(size_string(4_100), "4.1kB");
        assert_eq!(size_string(2_000_000), "2MB");
        assert_eq!(size_string(7_812_345), "7.81MB");
        assert!(!is_text(b"a\0b", false));
        assert!(!is_text(&[0xff, 0xfe], false));
    }
}
