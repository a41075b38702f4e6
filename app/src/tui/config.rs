//! The `[tui]` section of rdesk's config files: mouse, refresh, log tail, theme colours and
//! key overrides. Read from the same files as the engine's config (`/etc/rdesk/config.toml`
//! then `$XDG_CONFIG_HOME/rdesk/config.toml`, or only `$RDESK_CONFIG`), merged key by key
//! (the user's file overrides the system's). Every key is documented in
//! `assets/config.toml`. A bad section never stops the TUI: it starts with the defaults
//! and shows what was wrong.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct TuiConfig {
    /// Capture the mouse at start (`m` toggles it).
    pub mouse: bool,
    /// Milliseconds between store checks when inotify is unavailable, and between stats
    /// samples while the Stats tab shows.
    pub refresh_ms: u64,
    /// Log records read when a container's Logs tab opens.
    pub log_tail: usize,
    /// Percent of the body height the detail pane takes while the table has the focus.
    pub detail_height: u16,
    pub theme: ThemeConfig,
    /// Action name -> key or keys; replaces that action's default keys.
    pub keys: BTreeMap<String, KeyList>,
}

impl Default for TuiConfig {
    fn default() -> Self {
        TuiConfig {
            mouse: true,
            refresh_ms: 1000,
            log_tail: 1000,
            detail_height: 40,
            theme: ThemeConfig::default(),
            keys: BTreeMap::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn keys(&self) -> Vec<&str> {
        match self {
            KeyList::One(k) => vec![k.as_str()],
            KeyList::Many(ks) => ks.iter().map(String::as_str).collect(),
        }
    }
}

/// Colours: a name (`cyan`, `lightred`, `darkgray`...), `#rrggbb`, or an ANSI index
/// `"0"`..`"255"`. Unset keys keep the default theme's colour.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ThemeConfig {
    pub accent: Option<String>,
    pub selection_fg: Option<String>,
    pub header: Option<String>,
    pub matched: Option<String>,
    pub dim: Option<String>,
    pub key: Option<String>,
    pub string: Option<String>,
    pub number: Option<String>,
    pub literal: Option<String>,
    pub ok: Option<String>,
    pub error: Option<String>,
}

/// Reads `[tui]` from the config files; on any problem, the defaults and the messages.
pub fn load() -> (TuiConfig, Vec<String>) {
    let mut merged = toml::Table::new();
    let mut errors = Vec::new();
    for path in rdesk_engine::config::config_files() {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                errors.push(format!("cannot read config file {}: {e}", path.display()));
                continue;
            }
        };
        match toml::from_str::<toml::Table>(&text) {
            Ok(mut table) => {
                if let Some(toml::Value::Table(tui)) = table.remove("tui") {
                    merge(&mut merged, tui);
                }
            }
            Err(e) => errors.push(format!("config file {} is not valid: {e}", path.display())),
        }
    }
    match parse(merged) {
        Ok(c) => (c, errors),
        Err(e) => {
            errors.push(e);
            (TuiConfig::default(), errors)
        }
    }
}

pub fn parse(table: toml::Table) -> Result<TuiConfig, String> {
    toml::Value::Table(table)
        .try_into::<TuiConfig>()
        .map_err(|e| {
            format!(
                "the [tui] section of the config is not valid: {}",
                e.message()
            )
        })
}

/// Deep merge: tables merge key by key, anything else is replaced.
fn merge(into: &mut toml::Table, from: toml::Table) {
    for (k, v) in from {
        match (into.get_mut(&k), v) {
            (Some(toml::Value::Table(a)), toml::Value::Table(b)) => merge(a, b),
            (_, v) => {
                into.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_merges_and_rejects_unknown_keys() {
        let mut a: toml::Table =
            toml::from_str("mouse = false\n[theme]\naccent = \"red\"\n[keys]\npull = \"ctrl-p\"\n")
                .unwrap();
        let b: toml::Table =
            toml::from_str("[theme]\ndim = \"#808080\"\n[keys]\nquit = [\"q\", \"ctrl-q\"]\n")
                .unwrap();
        merge(&mut a, b);
        let c = parse(a).unwrap();
        assert!(!c.mouse);
        assert_eq!(c.theme.accent.as_deref(), Some("red"));
        assert_eq!(c.theme.dim.as_deref(), Some("#808080"));
        assert_eq!(c.keys["pull"].keys(), vec!["ctrl-p"]);
        assert_eq!(c.keys["quit"].keys(), vec!["q", "ctrl-q"]);
        assert_eq!(c.refresh_ms, 1000);

        let bad: toml::Table = toml::from_str("mose = true\n").unwrap();
        assert!(parse(bad).unwrap_err().contains("mose"));
    }

    /// The documented defaults in assets/config.toml are the code's defaults.
    #[test]
    fn assets_document_the_defaults() {
        let text = include_str!("../../../assets/config.toml");
        let mut table: toml::Table = toml::from_str(text).unwrap();
        let toml::Value::Table(tui) = table.remove("tui").expect("[tui] in assets/config.toml")
        else {
            panic!("[tui] is a table");
        };
        let parsed = parse(tui).unwrap();
        let defaults = TuiConfig::default();
        assert_eq!(parsed.mouse, defaults.mouse);
        assert_eq!(parsed.refresh_ms, defaults.refresh_ms);
        assert_eq!(parsed.log_tail, defaults.log_tail);
        assert_eq!(parsed.detail_height, defaults.detail_height);
        // Every action is listed with its default keys.
        let keymap = super::super::keymap::KeyMap::default();
        for def in super::super::action::ACTIONS {
            let listed = parsed
                .keys
                .get(def.name)
                .unwrap_or_else(|| panic!("assets/config.toml lacks [tui.keys] {}", def.name));
            assert_eq!(
                listed.keys(),
                def.keys.to_vec(),
                "default keys of {}",
                def.name
            );
            assert!(keymap.keys_of(def.action).len() == def.keys.len());
        }
        assert_eq!(parsed.keys.len(), super::super::action::ACTIONS.len());
        let theme = super::super::theme::Theme::new(&parsed.theme, false).unwrap();
        assert_eq!(
            theme.styles,
            super::super::theme::Theme::new(&Default::default(), false)
                .unwrap()
                .styles
        );
    }
}
