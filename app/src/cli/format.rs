//! Docker's output conventions: sizes (`4.26MB`), ages (`2 years ago`), aligned tables
//! (Go tabwriter with minwidth 10, padding 3) and `--format` templates (`{{.ID}}`,
//! `{{json .}}`, `table ...`).

use std::fmt::Write as _;

/// go-units `HumanSizeWithPrecision(size, 3)`: decimal units, `%.3g`.
pub fn human_size(bytes: f64) -> String {
    const UNITS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut size = bytes;
    let mut i = 0;
    while size >= 1000.0 && i < UNITS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, 3), UNITS[i])
}

/// Go's `%.{prec}g`: shortest of %e/%f with `prec` significant digits, trailing zeros cut.
fn go_g(v: f64, prec: i32) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let exp = v.abs().log10().floor() as i32;
    // Rounding may carry into the next power of ten (999.5 -> 1e+03).
    let rounded: f64 = format!("{:.*e}", (prec - 1) as usize, v)
        .parse()
        .unwrap_or(v);
    let exp = if rounded.abs() >= 10f64.powi(exp + 1) {
        exp + 1
    } else {
        exp
    };
    if exp < -4 || exp >= prec {
        let s = format!("{:.*e}", (prec - 1) as usize, v);
        let (mant, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mant = trim_zeros(mant);
        let e: i32 = e.parse().unwrap_or(0);
        format!("{mant}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
    } else {
        let decimals = (prec - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units `HumanDuration` + " ago", as Docker's CREATED column.
pub fn human_ago(unix: i64) -> String {
    if unix <= 0 {
        return "N/A".into();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format!("{} ago", human_duration((now - unix).max(0) as f64))
}

pub fn human_duration(seconds: f64) -> String {
    let s = seconds as i64;
    let minutes = (seconds / 60.0) as i64;
    let hours = (seconds / 3600.0).round() as i64;
    if s < 1 {
        "Less than a second".into()
    } else if s == 1 {
        "1 second".into()
    } else if s < 60 {
        format!("{s} seconds")
    } else if minutes == 1 {
        "About a minute".into()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".into()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 2 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    }
}

/// Go tabwriter(minwidth 10, tabwidth 1, padding 3): every column but the last padded to
/// its widest cell + 3, at least 10.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let cols = header.len();
    let mut widths = vec![0usize; cols];
    for row in std::iter::once(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(rows.iter())
    {
        for (i, cell) in row.iter().enumerate().take(cols) {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .chain(rows.iter())
    {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate().take(cols) {
            if i + 1 == cols {
                line.push_str(cell);
            } else {
                let w = (widths[i] + 3).max(10);
                let _ = write!(line, "{cell:<w$}");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// A `--since`/`--until` value as Unix seconds: RFC 3339, Unix seconds, or relative to now
/// (`42s`, `10m`, `2h`), as Docker's CLI takes them. `flag` names the option in errors.
pub fn parse_time_arg(flag: &str, s: &str) -> anyhow::Result<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp());
    }
    if let Ok(n) = s.parse::<f64>() {
        return Ok(n as i64);
    }
    let bad = || {
        anyhow::anyhow!("invalid value for \"{flag}\": {s:?} (use 42m, 2h, a Unix time or 2006-01-02T15:04:05Z)")
    };
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(bad()),
    };
    Ok(chrono::Utc::now().timestamp() - secs)
}

/// Docker's `stringutils.Ellipsis`: cut to `max` characters, ending in "…".
pub fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// JSON with Docker's 4-space indentation.
pub fn pretty_json(value: &impl serde::Serialize) -> anyhow::Result<String> {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    value.serialize(&mut ser)?;
    Ok(String::from_utf8(buf)?)
}

/// What `inspect` prints of the documents found: each through the `--format` template, or
/// all of them as one indented JSON array.
pub fn print_inspect(format: Option<&str>, found: &[serde_json::Value]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match format {
        Some(f) => {
            for v in found {
                writeln!(
                    out,
                    "{}",
                    render_template(f, v).map_err(anyhow::Error::msg)?
                )?;
            }
        }
        None => writeln!(out, "{}", pretty_json(&found)?)?,
    }
    Ok(())
}

/// A small subset of Go templates, enough for Docker's `--format`: `{{.Field}}`,
/// `{{json .}}`, `{{json .Field}}`, `{{.Field.Sub}}`, `\t` / `\n` escapes, and the `table`
/// prefix (handled by the caller).
pub fn render_template(template: &str, value: &serde_json::Value) -> Result<String, String> {
    let template = template.replace("\\t", "\t").replace("\\n", "\n");
    let mut out = String::new();
    let mut rest = template.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("template parsing error: unclosed action in {template:?}"))?;
        let action = after[..end]
            .trim()
            .trim_start_matches('-')
            .trim_end_matches('-')
            .trim();
        out.push_str(&eval_action(action, value)?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn lookup<'a>(path: &str, value: &'a serde_json::Value) -> Result<&'a serde_json::Value, String> {
    if path == "." {
        return Ok(value);
    }
    let mut cur = value;
    for key in path.trim_start_matches('.').split('.') {
        cur = cur
            .get(key)
            .ok_or_else(|| format!("template: executing: can't evaluate field {key}"))?;
    }
    Ok(cur)
}

fn eval_action(action: &str, value: &serde_json::Value) -> Result<String, String> {
    let words: Vec<&str> = action.split_whitespace().collect();
    match words.as_slice() {
        ["json", path] => Ok(serde_json::to_string(lookup(path, value)?).unwrap_or_default()),
        [path] if path.starts_with('.') => Ok(match lookup(path, value)? {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => "<no value>".into(),
            serde_json::Value::Array(a) => {
                format!("[{}]", a.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect::<Vec<_>>().join(" "))
            }
            serde_json::Value::Object(_) => "map[...]".into(),
            other => other.to_string(),
        }),
        _ => Err(format!("template: unsupported action {{{{{action}}}}}; rdesk supports {{{{.Field}}}} and {{{{json .}}}}")),
    }
}

/// Prints rows of a listing per Docker's `--format`: `json` (one object per line),
/// `table TEMPLATE` (header from field names), or a plain template per row.
pub fn format_rows(format: &str, rows: &[serde_json::Value]) -> Result<String, String> {
    let mut out = String::new();
    if format == "json" {
        for r in rows {
            out.push_str(&serde_json::to_string(r).unwrap_or_default());
            out.push('\n');
        }
        return Ok(out);
    }
    if let Some(t) = format.strip_prefix("table") {
        let t = t.trim_start();
        let cells: Vec<&str> = t.split("\\t").collect();
        let header: Vec<String> = cells.iter().map(|c| header_of(c)).collect();
        let body: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                cells
                    .iter()
                    .map(|c| render_template(c, r))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<_, _>>()?;
        let header_refs: Vec<&str> = header.iter().map(String::as_str).collect();
        return Ok(table(&header_refs, &body));
    }
    for r in rows {
        out.push_str(&render_template(format, r)?);
        out.push('\n');
    }
    Ok(out)
}

/// `{{.CreatedSince}}` -> `CREATED`, as Docker's table headers.
fn header_of(cell: &str) -> String {
    let field = cell
        .trim()
        .trim_start_matches("{{")
        .trim_end_matches("}}")
        .trim()
        .trim_start_matches('.');
    match field {
        "ID" => "IMAGE ID".into(),
        "CreatedSince" | "CreatedAt" => "CREATED".into(),
        "CreatedBy" => "CREATED BY".into(),
        other => {
            let mut s = String::new();
            for (i, c) in other.char_indices() {
                if c.is_uppercase() && i > 0 && !other[..i].ends_with(|p: char| p.is_uppercase()) {
                    s.push(' ');
                }
                s.extend(c.to_uppercase());
            }
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_match_go_units() {
        assert_eq!(human_size(0.0), "0B");
        assert_eq!(human_size(999.0), "999B");
        assert_eq!(human_size(1000.0), "1kB");
        assert_eq!(human_size(1240.0), "1.24kB");
        assert_eq!(human_size(4_261_000.0), "4.26MB");
        assert_eq!(human_size(4_400_000.0), "4.4MB");
        assert_eq!(human_size(123_456_789.0), "123MB");
        assert_eq!(human_size(999_600.0), "1e+03kB");
    }

    #[test]
    fn durations_match_go_units() {
        assert_eq!(human_duration(0.5), "Less than a second");
        assert_eq!(human_duration(45.0), "45 seconds");
        assert_eq!(human_duration(90.0), "About a minute");
        assert_eq!(human_duration(3600.0), "About an hour");
        assert_eq!(human_duration(5.0 * 3600.0), "5 hours");
        assert_eq!(human_duration(3.0 * 86400.0), "3 days");
        assert_eq!(human_duration(20.0 * 86400.0), "2 weeks");
        assert_eq!(human_duration(100.0 * 86400.0), "3 months");
        assert_eq!(human_duration(800.0 * 86400.0), "2 years");
    }

    #[test]
    fn tables_pad_like_tabwriter() {
        let t = table(
            &["REPOSITORY", "TAG", "SIZE"],
            &[vec!["busybox".into(), "latest".into(), "4.26MB".into()]],
        );
        assert_eq!(
            t,
            "REPOSITORY   TAG       SIZE\nbusybox      latest    4.26MB\n"
        );
    }

    #[test]
    fn templates() {
        let v = serde_json::json!({"Repository": "busybox", "Tag": "latest", "Config": {"Cmd": ["sh"]}});
        assert_eq!(
            render_template("{{.Repository}}:{{.Tag}}", &v).unwrap(),
            "busybox:latest"
        );
        assert_eq!(
            render_template("{{json .Config.Cmd}}", &v).unwrap(),
            "[\"sh\"]"
        );
        assert!(render_template("{{.Nope}}", &v).is_err());
        let out = format_rows("table {{.Repository}}\\t{{.Tag}}", &[v]).unwrap();
        assert_eq!(out, "REPOSITORY   TAG\nbusybox      latest\n");
    }
}
