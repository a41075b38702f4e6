//! Fuzzy subsequence matching, smart-case (case-insensitive unless the pattern has an
//! upper-case letter), as fzf's and k9s's filters. A contiguous occurrence is preferred for
//! the highlight when there is one.

/// Whether every character of `pattern` occurs in `text`, in order. Allocates nothing.
pub fn matches(pattern: &str, text: &str) -> bool {
    let exact = has_upper(pattern);
    let mut t = text.chars();
    'outer: for p in pattern.chars() {
        for c in t.by_ref() {
            if eq(p, c, exact) {
                continue 'outer;
            }
        }
        return false;
    }
    true
}

/// The character positions in `text` that `pattern` matches, or `None` when it does not.
/// An empty pattern matches with no positions.
pub fn match_indices(pattern: &str, text: &str) -> Option<Vec<usize>> {
    if pattern.is_empty() {
        return Some(Vec::new());
    }
    let exact = has_upper(pattern);
    let pat: Vec<char> = pattern.chars().collect();
    let txt: Vec<char> = text.chars().collect();
    // Contiguous first: the highlight then reads as the word the user typed.
    if pat.len() <= txt.len() {
        for start in 0..=txt.len() - pat.len() {
            if pat
                .iter()
                .zip(&txt[start..start + pat.len()])
                .all(|(p, c)| eq(*p, *c, exact))
            {
                return Some((start..start + pat.len()).collect());
            }
        }
    }
    let mut out = Vec::with_capacity(pat.len());
    let mut pi = 0;
    for (i, c) in txt.iter().enumerate() {
        if pi < pat.len() && eq(pat[pi], *c, exact) {
            out.push(i);
            pi += 1;
        }
    }
    (pi == pat.len()).then_some(out)
}

fn has_upper(s: &str) -> bool {
    s.chars().any(char::is_uppercase)
}

fn eq(p: char, c: char, exact: bool) -> bool {
    if exact {
        p == c
    } else {
        p == c || c.to_lowercase().eq(p.to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsequence_smart_case() {
        assert!(matches("bbx", "busybox"));
        assert!(matches("", "x"));
        assert!(!matches("xb", "busybox"));
        assert!(!matches("BUSY", "BusyBox"));
        assert!(matches("busy", "BusyBox"));
        assert!(matches("Busy", "BusyBox"));
        assert!(!matches("busybox2", "busybox"));
    }

    #[test]
    fn indices_prefer_contiguous() {
        assert_eq!(match_indices("box", "busybox"), Some(vec![4, 5, 6]));
        assert_eq!(match_indices("bb", "busybox"), Some(vec![0, 4]));
        assert_eq!(match_indices("zz", "busybox"), None);
        assert_eq!(match_indices("", "busybox"), Some(vec![]));
        assert_eq!(match_indices("é", "café"), Some(vec![3]));
    }
}
