//! Width-aware truncation and match highlighting shared by the widgets (and their users).

use ratatui::style::Style;
use ratatui::text::Span;
use unicode_width::UnicodeWidthChar;

pub const ELLIPSIS: char = '…';

/// Display width of a string (terminal cells).
pub fn width(s: &str) -> usize {
    s.chars().map(|c| c.width().unwrap_or(0)).sum()
}

/// `text` cut to `max` cells, its last visible cell an ellipsis when it was cut.
pub fn truncate(text: &str, max: usize) -> String {
    if width(text) <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut w = 0;
    for c in text.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw > max - 1 {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push(ELLIPSIS);
    out
}

/// One cell's text as spans: cut to `max` cells (with an ellipsis), the characters at
/// `marks` (char positions, ascending) in `mark`, the rest in `base`.
pub fn marked_spans(
    text: &str,
    marks: &[usize],
    max: usize,
    base: Style,
    mark: Style,
) -> Vec<Span<'static>> {
    let cut = width(text) > max;
    let budget = if cut { max.saturating_sub(1) } else { max };
    let mut spans = Vec::new();
    let mut cur = String::new();
    let mut cur_marked = false;
    let mut w = 0;
    let mut m = marks.iter().peekable();
    for (i, c) in text.chars().enumerate() {
        let cw = c.width().unwrap_or(0);
        if w + cw > budget {
            break;
        }
        w += cw;
        let is_marked = m.peek().is_some_and(|&&p| p == i);
        if is_marked {
            m.next();
        }
        if is_marked != cur_marked && !cur.is_empty() {
            let style = if cur_marked { base.patch(mark) } else { base };
            spans.push(Span::styled(std::mem::take(&mut cur), style));
        }
        cur_marked = is_marked;
        cur.push(c);
    }
    if !cur.is_empty() {
        let style = if cur_marked { base.patch(mark) } else { base };
        spans.push(Span::styled(cur, style));
    }
    if cut && max > 0 {
        spans.push(Span::styled(ELLIPSIS.to_string(), base));
    }
    spans
}

/// Positions of every case-insensitive occurrence of `needle` in `haystack` (char indices).
pub fn find_all(haystack: &str, needle: &str) -> Vec<usize> {
    if needle.is_empty() {
        return Vec::new();
    }
    let hay: Vec<char> = haystack.chars().flat_map(char::to_lowercase).collect();
    let nee: Vec<char> = needle.chars().flat_map(char::to_lowercase).collect();
    // Lower-casing can change lengths (rare: 'İ'); fall back to no marks then.
    if hay.len() != haystack.chars().count() || nee.is_empty() || nee.len() > hay.len() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i + nee.len() <= hay.len() {
        if hay[i..i + nee.len()] == nee[..] {
            out.extend(i..i + nee.len());
            i += nee.len();
        } else {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_with_ellipsis() {
        assert_eq!(truncate("busybox", 10), "busybox");
        assert_eq!(truncate("busybox", 7), "busybox");
        assert_eq!(truncate("busybox", 5), "busy…");
        assert_eq!(truncate("busybox", 1), "…");
        assert_eq!(truncate("busybox", 0), "");
    }

    #[test]
    fn marks_survive_truncation() {
        let s = marked_spans("abcdef", &[1, 2, 5], 4, Style::new(), Style::new().bold());
        let text: String = s.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "abc…");
        assert_eq!(s[1].content, "bc");
    }

    #[test]
    fn finds_all_occurrences() {
        assert_eq!(find_all("aXbxc", "x"), vec![1, 3]);
        assert_eq!(find_all("abc", ""), Vec::<usize>::new());
    }
}
