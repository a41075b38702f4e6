//! A JSON document as a foldable tree (`docker inspect` output): objects and arrays fold
//! and unfold (Enter/space on their line; folding a leaf folds its parent), fold all /
//! unfold all, and a case-insensitive search over keys and values that unfolds what hides
//! the next match. The flattened lines are rebuilt only when the folds change; drawing
//! touches only the visible lines.

use crate::styles::Styles;
use crate::text::{find_all, marked_spans, width};
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, StatefulWidget, Widget};
use serde_json::Value;
use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scalar {
    String,
    Number,
    Literal,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Open {
        open: char,
        close: char,
        folded: bool,
        len: usize,
    },
    Close {
        close: char,
    },
    Leaf {
        text: String,
        scalar: Scalar,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct TreeLine {
    depth: usize,
    /// JSON pointer of the value (`/Config/Env/0`); a close line has its container's.
    path: String,
    key: Option<String>,
    kind: Kind,
    comma: bool,
}

#[derive(Debug, Clone)]
pub struct JsonTreeState {
    value: Value,
    folded: HashSet<String>,
    lines: Vec<TreeLine>,
    pub selected: usize,
    pub offset: usize,
    search: String,
    area: Rect,
}

impl JsonTreeState {
    pub fn new(value: Value) -> Self {
        let mut s = JsonTreeState {
            value,
            folded: HashSet::new(),
            lines: Vec::new(),
            selected: 0,
            offset: 0,
            search: String::new(),
            area: Rect::default(),
        };
        s.rebuild();
        s
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Replaces the document, keeping the folds and the selected path where they still apply.
    pub fn set_value(&mut self, value: Value) {
        let path = self.selected_path().map(str::to_string);
        self.value = value;
        self.rebuild();
        if let Some(p) = path {
            self.select_path(&p);
        }
    }

    /// Lines currently shown (folded content excluded).
    pub fn len(&self) -> usize {
        self.lines.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn selected_path(&self) -> Option<&str> {
        self.lines.get(self.selected).map(|l| l.path.as_str())
    }

    fn rebuild(&mut self) {
        self.lines.clear();
        flatten(
            &self.value,
            String::new(),
            None,
            0,
            false,
            Some(&self.folded),
            &mut self.lines,
        );
        self.selected = self.selected.min(self.lines.len().saturating_sub(1));
    }

    fn select_path(&mut self, path: &str) {
        if let Some(i) = self.lines.iter().position(|l| l.path == path) {
            self.selected = i;
        }
    }

    /// Folds or unfolds the container on the selected line (its parent for a leaf).
    pub fn toggle(&mut self) {
        let Some(line) = self.lines.get(self.selected) else {
            return;
        };
        let target = match &line.kind {
            Kind::Open { folded, .. } => {
                let p = line.path.clone();
                if *folded {
                    self.folded.remove(&p);
                } else {
                    self.folded.insert(p.clone());
                }
                p
            }
            Kind::Close { .. } => {
                self.folded.insert(line.path.clone());
                line.path.clone()
            }
            Kind::Leaf { .. } => {
                let Some(parent) = parent_of(&line.path) else {
                    return;
                };
                self.folded.insert(parent.to_string());
                parent.to_string()
            }
        };
        self.rebuild();
        self.select_path(&target);
    }

    /// Folds every object and array below the top level.
    pub fn fold_all(&mut self) {
        let mut all = Vec::new();
        flatten(&self.value, String::new(), None, 0, false, None, &mut all);
        self.folded = all
            .into_iter()
            .filter(|l| matches!(l.kind, Kind::Open { .. }) && !l.path.is_empty())
            .map(|l| l.path)
            .collect();
        let keep = self.selected_path().map(top_level).map(str::to_string);
        self.rebuild();
        if let Some(p) = keep {
            self.select_path(&p);
        }
    }

    pub fn unfold_all(&mut self) {
        let keep = self.selected_path().map(str::to_string);
        self.folded.clear();
        self.rebuild();
        if let Some(p) = keep {
            self.select_path(&p);
        }
    }

    pub fn is_folded(&self, path: &str) -> bool {
        self.folded.contains(path)
    }

    /// Sets the search text (highlighted in keys and values; empty clears it).
    pub fn set_search(&mut self, query: &str) {
        self.search = query.to_string();
    }
    pub fn search(&self) -> &str {
        &self.search
    }

    /// Number of keys and values the search matches, folded ones included.
    pub fn match_count(&self) -> usize {
        if self.search.is_empty() {
            return 0;
        }
        let mut all = Vec::new();
        flatten(&self.value, String::new(), None, 0, false, None, &mut all);
        all.iter().filter(|l| line_matches(l, &self.search)).count()
    }

    /// Selects the next (or previous) line matching the search, unfolding its ancestors.
    /// Returns false when nothing matches.
    pub fn search_next(&mut self, forward: bool) -> bool {
        if self.search.is_empty() {
            return false;
        }
        let mut all = Vec::new();
        flatten(&self.value, String::new(), None, 0, false, None, &mut all);
        // Only one line per path: close lines never match on their own.
        let hits: Vec<usize> = all
            .iter()
            .enumerate()
            .filter(|(_, l)| line_matches(l, &self.search))
            .map(|(i, _)| i)
            .collect();
        if hits.is_empty() {
            return false;
        }
        let current = self
            .lines
            .get(self.selected)
            .and_then(|l| {
                all.iter()
                    .position(|a| a.path == l.path && a.kind_tag() == l.kind_tag())
            })
            .unwrap_or(0);
        let next = if forward {
            hits.iter().find(|&&i| i > current).or(hits.first())
        } else {
            hits.iter().rev().find(|&&i| i < current).or(hits.last())
        };
        let path = all[*next.expect("hits is not empty")].path.clone();
        let mut p = path.as_str();
        while let Some(parent) = parent_of(p) {
            self.folded.remove(parent);
            p = parent;
        }
        self.rebuild();
        self.select_path(&path);
        true
    }

    pub fn down(&mut self, n: usize) {
        self.selected = (self.selected + n).min(self.lines.len().saturating_sub(1));
    }
    pub fn up(&mut self, n: usize) {
        self.selected = self.selected.saturating_sub(n);
    }
    pub fn top(&mut self) {
        self.selected = 0;
    }
    pub fn bottom(&mut self) {
        self.selected = self.lines.len().saturating_sub(1);
    }
    /// Rows the tree was last drawn with.
    pub fn page(&self) -> usize {
        (self.area.height as usize).max(1)
    }
    /// Moves the view (mouse wheel), keeping the selection on screen.
    pub fn scroll(&mut self, delta: isize) {
        let page = self.page();
        self.offset = self
            .offset
            .saturating_add_signed(delta)
            .min(self.lines.len().saturating_sub(page));
        let last = (self.offset + page).min(self.lines.len()).saturating_sub(1);
        self.selected = self.selected.clamp(self.offset, last.max(self.offset));
    }
    /// The line drawn at a screen position.
    pub fn line_at(&self, x: u16, y: u16) -> Option<usize> {
        if !self.area.contains(Position { x, y }) {
            return None;
        }
        let i = self.offset + (y - self.area.y) as usize;
        (i < self.lines.len()).then_some(i)
    }
    pub fn select(&mut self, i: usize) {
        self.selected = i.min(self.lines.len().saturating_sub(1));
    }
}

impl TreeLine {
    fn kind_tag(&self) -> u8 {
        match self.kind {
            Kind::Open { .. } => 0,
            Kind::Close { .. } => 1,
            Kind::Leaf { .. } => 2,
        }
    }
}

fn line_matches(l: &TreeLine, q: &str) -> bool {
    let q = q.to_lowercase();
    let key_hit = l
        .key
        .as_ref()
        .is_some_and(|k| k.to_lowercase().contains(&q));
    let val_hit = matches!(&l.kind, Kind::Leaf { text, .. } if text.to_lowercase().contains(&q));
    key_hit || val_hit
}

fn parent_of(path: &str) -> Option<&str> {
    if path.is_empty() {
        return None;
    }
    Some(path.rsplit_once('/').map(|(p, _)| p).unwrap_or(""))
}

/// `/Config/Env/0` -> `/Config`.
fn top_level(path: &str) -> &str {
    match path.match_indices('/').nth(1) {
        Some((i, _)) => &path[..i],
        None => path,
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn flatten(
    v: &Value,
    path: String,
    key: Option<String>,
    depth: usize,
    comma: bool,
    folded: Option<&HashSet<String>>,
    out: &mut Vec<TreeLine>,
) {
    let (open, close, len) = match v {
        Value::Object(m) => ('{', '}', m.len()),
        Value::Array(a) => ('[', ']', a.len()),
        Value::String(s) => {
            let text = serde_json::to_string(s).unwrap_or_default();
            out.push(leaf(depth, path, key, text, Scalar::String, comma));
            return;
        }
        Value::Number(n) => {
            out.push(leaf(depth, path, key, n.to_string(), Scalar::Number, comma));
            return;
        }
        Value::Bool(b) => {
            out.push(leaf(
                depth,
                path,
                key,
                b.to_string(),
                Scalar::Literal,
                comma,
            ));
            return;
        }
        Value::Null => {
            out.push(leaf(
                depth,
                path,
                key,
                "null".into(),
                Scalar::Literal,
                comma,
            ));
            return;
        }
    };
    let is_folded = len > 0 && folded.is_some_and(|f| f.contains(&path));
    out.push(TreeLine {
        depth,
        path: path.clone(),
        key,
        kind: Kind::Open {
            open,
            close,
            folded: is_folded,
            len,
        },
        comma: comma && (is_folded || len == 0),
    });
    if is_folded || len == 0 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (i, (k, child)) in m.iter().enumerate() {
                let p = format!("{path}/{}", escape(k));
                flatten(
                    child,
                    p,
                    Some(k.clone()),
                    depth + 1,
                    i + 1 < len,
                    folded,
                    out,
                );
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                flatten(
                    child,
                    format!("{path}/{i}"),
                    None,
                    depth + 1,
                    i + 1 < len,
                    folded,
                    out,
                );
            }
        }
        _ => unreachable!(),
    }
    out.push(TreeLine {
        depth,
        path,
        key: None,
        kind: Kind::Close { close },
        comma,
    });
}

fn leaf(
    depth: usize,
    path: String,
    key: Option<String>,
    text: String,
    scalar: Scalar,
    comma: bool,
) -> TreeLine {
    TreeLine {
        depth,
        path,
        key,
        kind: Kind::Leaf { text, scalar },
        comma,
    }
}

pub struct JsonTree<'a> {
    block: Option<Block<'a>>,
    styles: &'a Styles,
    focused: bool,
}

impl<'a> JsonTree<'a> {
    pub fn new(styles: &'a Styles) -> Self {
        JsonTree {
            block: None,
            styles,
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

impl StatefulWidget for JsonTree<'_> {
    type State = JsonTreeState;

    fn render(self, area: Rect, buf: &mut Buffer, state: &mut JsonTreeState) {
        let inner = crate::render_block(self.block, area, buf);
        state.area = inner;
        let height = inner.height as usize;
        if height == 0 {
            return;
        }
        let len = state.lines.len();
        state.selected = state.selected.min(len.saturating_sub(1));
        if state.selected < state.offset {
            state.offset = state.selected;
        } else if state.selected >= state.offset + height {
            state.offset = state.selected + 1 - height;
        }
        state.offset = state.offset.min(len.saturating_sub(height));
        let st = self.styles;
        let end = (state.offset + height).min(len);
        for (row, i) in (state.offset..end).enumerate() {
            let l = &state.lines[i];
            let y = inner.y + row as u16;
            let line_area = Rect {
                y,
                height: 1,
                ..inner
            };
            let selected = i == state.selected;
            let sel_style = if self.focused {
                st.selected
            } else {
                st.selected_unfocused
            };
            let patch = |s: Style| if selected { s.patch(sel_style) } else { s };
            if selected {
                buf.set_style(line_area, sel_style);
            }
            let mut spans: Vec<Span<'static>> = Vec::new();
            let marker = match l.kind {
                Kind::Open { folded: true, .. } => "▸ ",
                Kind::Open { len, .. } if len > 0 => "▾ ",
                _ => "  ",
            };
            spans.push(Span::styled(
                format!("{}{marker}", "  ".repeat(l.depth)),
                patch(st.dim),
            ));
            let mut used = width(&spans[0].content);
            let room = |used: usize| (inner.width as usize).saturating_sub(used);
            if let Some(k) = &l.key {
                let quoted = format!("\"{k}\"");
                let marks: Vec<usize> = find_all(k, &state.search).iter().map(|i| i + 1).collect();
                let s = marked_spans(&quoted, &marks, room(used), patch(st.key), st.matched);
                used += s.iter().map(|s| width(&s.content)).sum::<usize>();
                spans.extend(s);
                spans.push(Span::styled(": ", patch(st.text)));
                used += 2;
            }
            let comma = if l.comma { "," } else { "" };
            match &l.kind {
                Kind::Open {
                    open,
                    close,
                    folded,
                    len,
                } => {
                    if *len == 0 {
                        spans.push(Span::styled(
                            format!("{open}{close}{comma}"),
                            patch(st.text),
                        ));
                    } else if *folded {
                        let what = match (open, len) {
                            ('{', 1) => "1 key".to_string(),
                            ('{', n) => format!("{n} keys"),
                            (_, 1) => "1 item".to_string(),
                            (_, n) => format!("{n} items"),
                        };
                        spans.push(Span::styled(format!("{open}…"), patch(st.text)));
                        spans.push(Span::styled(what, patch(st.dim)));
                        spans.push(Span::styled(format!("{close}{comma}"), patch(st.text)));
                    } else {
                        spans.push(Span::styled(open.to_string(), patch(st.text)));
                    }
                }
                Kind::Close { close } => {
                    spans.push(Span::styled(format!("{close}{comma}"), patch(st.text)));
                }
                Kind::Leaf { text, scalar } => {
                    let style = match scalar {
                        Scalar::String => st.string,
                        Scalar::Number => st.number,
                        Scalar::Literal => st.literal,
                    };
                    let marks = find_all(text, &state.search);
                    let r = room(used).saturating_sub(comma.len());
                    spans.extend(marked_spans(text, &marks, r, patch(style), st.matched));
                    spans.push(Span::styled(comma, patch(st.text)));
                }
            }
            Line::from(spans).render(line_area, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::buffer_text;
    use serde_json::json;

    fn doc() -> Value {
        json!({
            "Id": "sha256:6d5d",
            "RepoTags": ["busybox:latest", "busybox:1"],
            "Config": {"Cmd": ["sh"], "Env": ["PATH=/usr/bin"], "Labels": {}},
            "Size": 4261550,
            "Os": null,
            "Arch": true
        })
    }

    fn draw(state: &mut JsonTreeState, w: u16, h: u16) -> String {
        let styles = Styles::monochrome();
        let mut buf = Buffer::empty(Rect::new(0, 0, w, h));
        JsonTree::new(&styles).render(buf.area, &mut buf, state);
        buffer_text(&buf)
    }

    #[test]
    fn unfolded_then_folded() {
        let mut s = JsonTreeState::new(doc());
        insta::assert_snapshot!("unfolded", draw(&mut s, 50, 20));
        s.fold_all();
        insta::assert_snapshot!("folded", draw(&mut s, 50, 20));
        assert_eq!(s.len(), 8);
    }

    #[test]
    fn toggle_on_leaf_folds_parent() {
        let mut s = JsonTreeState::new(doc());
        let i = s
            .lines
            .iter()
            .position(|l| l.path == "/Config/Env/0")
            .unwrap();
        s.select(i);
        s.toggle();
        assert_eq!(s.selected_path(), Some("/Config/Env"));
        assert!(s.is_folded("/Config/Env"));
        s.toggle();
        assert!(!s.is_folded("/Config/Env"));
    }

    #[test]
    fn search_unfolds_to_the_match() {
        let mut s = JsonTreeState::new(doc());
        s.fold_all();
        s.set_search("path=");
        assert_eq!(s.match_count(), 1);
        assert!(s.search_next(true));
        assert_eq!(s.selected_path(), Some("/Config/Env/0"));
        assert!(!s.is_folded("/Config"));
        assert!(!s.is_folded("/Config/Env"));
        s.set_search("busybox");
        assert!(s.search_next(true));
        assert_eq!(s.selected_path(), Some("/RepoTags/0"));
        assert!(s.search_next(true));
        assert_eq!(s.selected_path(), Some("/RepoTags/1"));
        assert!(s.search_next(true));
        assert_eq!(s.selected_path(), Some("/RepoTags/0"));
        assert!(s.search_next(false));
        assert_eq!(s.selected_path(), Some("/RepoTags/1"));
        s.set_search("nothing-here");
        assert!(!s.search_next(true));
    }

    #[test]
    fn keys_with_slashes_are_escaped() {
        let mut s = JsonTreeState::new(json!({"a/b": {"c": 1}}));
        s.select(1);
        assert_eq!(s.selected_path(), Some("/a~1b"));
        s.toggle();
        assert!(s.is_folded("/a~1b"));
    }
}
