//! The one keymap: key -> `Action`, from the defaults in `action::ACTIONS` and the
//! `[tui.keys]` overrides (an override replaces all of that action's keys).
//!
//! Key syntax: a character (`p`, `P`, `?`, `-`), or `ctrl-X`, `alt-X`, or a name: `enter`,
//! `esc`, `tab`, `backtab` (also `shift-tab`), `space`, `backspace`, `delete`, `insert`,
//! `up`, `down`, `left`, `right`, `home`, `end`, `pageup`, `pagedown`, `f1`..`f12`.

use super::action::{Action, Context, ACTIONS};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    /// Shift is part of a character (`P`) and of BackTab, not a separate modifier.
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods =
            e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        let mut code = e.code;
        if matches!(code, KeyCode::Char(_) | KeyCode::BackTab) {
            mods.remove(KeyModifiers::SHIFT);
        }
        if let KeyCode::Char(c) = code {
            if mods.contains(KeyModifiers::CONTROL) {
                code = KeyCode::Char(c.to_ascii_lowercase());
            }
        }
        Key { code, mods }
    }

    pub fn parse(s: &str) -> Result<Key, String> {
        let bad = || {
            format!("invalid key {s:?} in [tui.keys]: use e.g. \"p\", \"P\", \"ctrl-d\", \"enter\", \"f1\"")
        };
        let mut mods = KeyModifiers::NONE;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.chars().count() > 1
                && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+"))
            {
                mods |= KeyModifiers::CONTROL;
                rest = &rest[5..];
            } else if rest.chars().count() > 1
                && (lower.starts_with("alt-") || lower.starts_with("alt+"))
            {
                mods |= KeyModifiers::ALT;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => {
                if mods.contains(KeyModifiers::CONTROL) {
                    KeyCode::Char(c.to_ascii_lowercase())
                } else {
                    KeyCode::Char(c)
                }
            }
            (None, _) => return Err(bad()),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCode::Enter,
                "esc" | "escape" => KeyCode::Esc,
                "tab" => KeyCode::Tab,
                "backtab" | "shift-tab" | "shift+tab" => KeyCode::BackTab,
                "space" => KeyCode::Char(' '),
                "backspace" => KeyCode::Backspace,
                "delete" | "del" => KeyCode::Delete,
                "insert" | "ins" => KeyCode::Insert,
                "up" => KeyCode::Up,
                "down" => KeyCode::Down,
                "left" => KeyCode::Left,
                "right" => KeyCode::Right,
                "home" => KeyCode::Home,
                "end" => KeyCode::End,
                "pageup" | "pgup" => KeyCode::PageUp,
                "pagedown" | "pgdn" => KeyCode::PageDown,
                f if f.starts_with('f') => match f[1..].parse::<u8>() {
                    Ok(n @ 1..=12) => KeyCode::F(n),
                    _ => return Err(bad()),
                },
                _ => return Err(bad()),
            },
        };
        Ok(Key { code, mods })
    }

    /// Short label for the key bar and the help: `^d`, `enter`, `↑`, `G`.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "enter".into(),
            KeyCode::Esc => "esc".into(),
            KeyCode::Tab => "tab".into(),
            KeyCode::BackTab => "S-tab".into(),
            KeyCode::Backspace => "bksp".into(),
            KeyCode::Delete => "del".into(),
            KeyCode::Insert => "ins".into(),
            KeyCode::Up => "↑".into(),
            KeyCode::Down => "↓".into(),
            KeyCode::Left => "←".into(),
            KeyCode::Right => "→".into(),
            KeyCode::Home => "home".into(),
            KeyCode::End => "end".into(),
            KeyCode::PageUp => "pgup".into(),
            KeyCode::PageDown => "pgdn".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        let mut out = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            out.push('^');
        }
        if self.mods.contains(KeyModifiers::ALT) {
            out.push_str("M-");
        }
        out + &base
    }
}

#[derive(Debug, Clone)]
pub struct KeyMap {
    /// In `ACTIONS` order, so the first applicable binding wins.
    bindings: Vec<(Key, Action)>,
}

impl Default for KeyMap {
    fn default() -> Self {
        KeyMap::new(&BTreeMap::new()).0
    }
}

impl KeyMap {
    /// The defaults with `overrides` (action name -> keys); also the problems found.
    pub fn new(overrides: &BTreeMap<String, super::config::KeyList>) -> (KeyMap, Vec<String>) {
        let mut errors = Vec::new();
        for name in overrides.keys() {
            if !ACTIONS.iter().any(|d| d.name == name) {
                errors.push(format!(
                    "unknown action {name:?} in [tui.keys]; the actions are listed in assets/config.toml"
                ));
            }
        }
        let mut bindings = Vec::new();
        for def in ACTIONS {
            let keys: Vec<&str> = match overrides.get(def.name) {
                Some(list) => list.keys(),
                None => def.keys.to_vec(),
            };
            for k in keys {
                match Key::parse(k) {
                    Ok(key) => bindings.push((key, def.action)),
                    Err(e) => errors.push(e),
                }
            }
        }
        (KeyMap { bindings }, errors)
    }

    pub fn resolve(&self, key: Key, ctx: Context) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(k, a)| *k == key && a.allowed_in(ctx))
            .map(|(_, a)| *a)
    }

    pub fn keys_of(&self, action: Action) -> Vec<Key> {
        self.bindings
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(k, _)| *k)
            .collect()
    }

    /// The first key's label (`?` when the user unbound it).
    pub fn label(&self, action: Action) -> String {
        self.keys_of(action)
            .first()
            .map(Key::label)
            .unwrap_or_else(|| "-".into())
    }

    /// All keys' labels, `j/↓`-style.
    pub fn labels(&self, action: Action) -> String {
        let v: Vec<String> = self.keys_of(action).iter().map(Key::label).collect();
        if v.is_empty() {
            "(unbound)".into()
        } else {
            v.join("/")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::config::KeyList;
    use super::*;
    use crossterm::event::KeyEventKind;

    fn ev(code: KeyCode, mods: KeyModifiers) -> Key {
        Key::from_event(&KeyEvent::new_with_kind(code, mods, KeyEventKind::Press))
    }

    #[test]
    fn defaults_resolve_by_context() {
        let km = KeyMap::default();
        let k = |c| ev(KeyCode::Char(c), KeyModifiers::NONE);
        assert_eq!(km.resolve(k('j'), Context::Table), Some(Action::Down));
        assert_eq!(km.resolve(k('y'), Context::Table), Some(Action::Copy));
        assert_eq!(km.resolve(k('y'), Context::Confirm), Some(Action::Confirm));
        assert_eq!(km.resolve(k('n'), Context::Confirm), Some(Action::Cancel));
        assert_eq!(km.resolve(k('n'), Context::Detail), Some(Action::NextMatch));
        assert_eq!(km.resolve(k('n'), Context::Table), Some(Action::Connect));
        let enter = ev(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(km.resolve(enter, Context::Table), Some(Action::Select));
        assert_eq!(km.resolve(enter, Context::Confirm), Some(Action::Confirm));
        assert_eq!(km.resolve(k('j'), Context::Input), None);
        // Shift comes with capitals from some terminals; ctrl-c with CONTROL.
        assert_eq!(
            km.resolve(ev(KeyCode::Char('P'), KeyModifiers::SHIFT), Context::Table),
            Some(Action::Prune)
        );
        assert_eq!(
            km.resolve(
                ev(KeyCode::Char('c'), KeyModifiers::CONTROL),
                Context::Input
            ),
            Some(Action::ForceQuit)
        );
        assert_eq!(
            km.resolve(ev(KeyCode::BackTab, KeyModifiers::SHIFT), Context::Table),
            Some(Action::PrevTab)
        );
        assert_eq!(km.label(Action::HalfPageDown), "^d");
        assert_eq!(km.labels(Action::Down), "↓/j");
    }

    #[test]
    fn overrides_replace_and_report() {
        let mut o = BTreeMap::new();
        o.insert("pull".to_string(), KeyList::One("ctrl-p".into()));
        o.insert(
            "quit".to_string(),
            KeyList::Many(vec!["Q".into(), "f10".into()]),
        );
        o.insert("frobnicate".to_string(), KeyList::One("x".into()));
        o.insert("help".to_string(), KeyList::One("ctrl-".into()));
        let (km, errors) = KeyMap::new(&o);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].contains("frobnicate"));
        assert_eq!(
            km.resolve(ev(KeyCode::Char('p'), KeyModifiers::NONE), Context::Table),
            None
        );
        assert_eq!(
            km.resolve(
                ev(KeyCode::Char('p'), KeyModifiers::CONTROL),
                Context::Table
            ),
            Some(Action::Pull)
        );
        assert_eq!(
            km.resolve(ev(KeyCode::F(10), KeyModifiers::NONE), Context::Table),
            Some(Action::Quit)
        );
        assert_eq!(
            km.resolve(ev(KeyCode::Char('q'), KeyModifiers::NONE), Context::Table),
            None
        );
    }

    #[test]
    fn parses_keys() {
        assert_eq!(Key::parse("-").unwrap().code, KeyCode::Char('-'));
        assert_eq!(
            Key::parse("ctrl-D").unwrap(),
            Key {
                code: KeyCode::Char('d'),
                mods: KeyModifiers::CONTROL
            }
        );
        assert_eq!(Key::parse("alt-x").unwrap().mods, KeyModifiers::ALT);
        assert_eq!(Key::parse("shift-tab").unwrap().code, KeyCode::BackTab);
        assert_eq!(Key::parse("F5").unwrap().code, KeyCode::F(5));
        assert!(Key::parse("f13").is_err());
        assert!(Key::parse("").is_err());
    }
}
