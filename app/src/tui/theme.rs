//! The theme: the widgets' styles from the default palette, the `[tui.theme]` colours, and
//! `NO_COLOR` (https://no-color.org: any non-empty value turns every colour off).

use super::config::ThemeConfig;
use ratatui::style::{Color, Modifier, Style};
use rdesk_widgets::Styles;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub styles: Styles,
    /// The active resource tab and the key names in the key bar.
    pub tab_active: Style,
    pub keyname: Style,
    pub monochrome: bool,
}

impl Theme {
    pub fn from_env(config: &ThemeConfig) -> Result<Theme, String> {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme::new(config, no_color)
    }

    pub fn monochrome() -> Theme {
        Theme {
            styles: Styles::monochrome(),
            tab_active: Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD),
            keyname: Style::new().add_modifier(Modifier::BOLD),
            monochrome: true,
        }
    }

    pub fn new(config: &ThemeConfig, no_color: bool) -> Result<Theme, String> {
        if no_color {
            return Ok(Theme::monochrome());
        }
        let c = |v: &Option<String>, default: Color| -> Result<Color, String> {
            match v {
                None => Ok(default),
                Some(s) => parse_color(s),
            }
        };
        let accent = c(&config.accent, Color::Cyan)?;
        let sel_fg = c(&config.selection_fg, Color::Black)?;
        let mut s = Styles::default();
        s.selected = Style::new().fg(sel_fg).bg(accent);
        s.border_focused = Style::new().fg(accent);
        s.title = Style::new().fg(accent).add_modifier(Modifier::BOLD);
        s.gauge = Style::new().fg(accent);
        s.header = s.header.fg(c(&config.header, Color::Yellow)?);
        s.matched = s.matched.fg(c(&config.matched, Color::LightMagenta)?);
        let dim = c(&config.dim, Color::DarkGray)?;
        s.dim = Style::new().fg(dim);
        s.border = Style::new().fg(dim);
        s.key = Style::new().fg(c(&config.key, Color::Blue)?);
        s.string = Style::new().fg(c(&config.string, Color::Green)?);
        s.number = Style::new().fg(c(&config.number, Color::Magenta)?);
        s.literal = Style::new().fg(c(&config.literal, Color::Yellow)?);
        s.ok = Style::new().fg(c(&config.ok, Color::Green)?);
        s.error = s.error.fg(c(&config.error, Color::Red)?);
        Ok(Theme {
            tab_active: Style::new()
                .fg(sel_fg)
                .bg(accent)
                .add_modifier(Modifier::BOLD),
            keyname: Style::new().fg(accent).add_modifier(Modifier::BOLD),
            styles: s,
            monochrome: false,
        })
    }
}

/// `cyan`, `light-red`, `dark_gray`, `#ff8800`, `208`.
fn parse_color(s: &str) -> Result<Color, String> {
    let norm: String = s
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_lowercase();
    if let Ok(n) = norm.parse::<u8>() {
        return Ok(Color::Indexed(n));
    }
    Color::from_str(&norm).map_err(|_| {
        format!("invalid colour {s:?} in [tui.theme]: use a name (cyan, lightred, darkgray...), #rrggbb or 0-255")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("cyan").unwrap(), Color::Cyan);
        assert_eq!(parse_color("light-red").unwrap(), Color::LightRed);
        assert_eq!(parse_color("dark_gray").unwrap(), Color::DarkGray);
        assert_eq!(parse_color("#ff8800").unwrap(), Color::Rgb(0xff, 0x88, 0));
        assert_eq!(parse_color("208").unwrap(), Color::Indexed(208));
        assert!(parse_color("mauve-ish").is_err());
    }

    #[test]
    fn no_color_has_no_colour() {
        let cfg = ThemeConfig {
            accent: Some("red".into()),
            ..Default::default()
        };
        let t = Theme::new(&cfg, true).unwrap();
        let s = &t.styles;
        for style in [
            s.text,
            s.header,
            s.selected,
            s.matched,
            s.dim,
            s.border,
            s.key,
            s.gauge,
            s.error,
            t.tab_active,
            t.keyname,
        ] {
            assert_eq!(style.fg, None);
            assert_eq!(style.bg, None);
        }
        let t = Theme::new(&cfg, false).unwrap();
        assert_eq!(t.styles.selected.bg, Some(Color::Red));
    }
}
