//! `rdesk pull`: Docker-style per-layer progress lines on a terminal, plain status lines
//! otherwise, only the reference with `-q`.

use super::format::human_size;
use futures_util::StreamExt;
use rdesk_engine::models::CreateImageInfo;
use rdesk_engine::{CreateImageOptions, Engine, Reference};
use std::io::{IsTerminal, Write};

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// Suppress verbose output
    #[arg(short, long)]
    quiet: bool,
    /// Set platform if server is multi-platform capable (os/arch[/variant])
    #[arg(long, default_value = "")]
    platform: String,
    /// NAME[:TAG|@DIGEST]
    image: String,
}

pub async fn run(engine: &Engine, args: PullArgs) -> anyhow::Result<()> {
    let reference = Reference::parse(&args.image)?;
    let mut out = std::io::stdout().lock();
    if !args.quiet
        && !args.image.contains(['@'])
        && Reference::parse_name_only(&args.image)?.tag.is_none()
    {
        writeln!(out, "Using default tag: latest")?;
    }
    let mut stream = engine.create_image(CreateImageOptions {
        from_image: args.image.clone(),
        tag: String::new(),
        platform: args.platform.clone(),
    });
    let mut display = ProgressDisplay::new(std::io::stdout().is_terminal());
    while let Some(msg) = stream.next().await {
        let msg = msg?;
        if !args.quiet {
            display.show(&mut out, &msg)?;
        }
    }
    writeln!(out, "{reference}")?;
    Ok(())
}

/// Renders the progress stream as Docker's CLI does (jsonmessage): on a terminal one line
/// per layer, rewritten in place; otherwise one line per status change, no bars.
pub struct ProgressDisplay {
    tty: bool,
    /// Layer ids in first-seen order: their line positions.
    ids: Vec<String>,
    last_status: std::collections::HashMap<String, String>,
}

impl ProgressDisplay {
    pub fn new(tty: bool) -> Self {
        ProgressDisplay {
            tty,
            ids: Vec::new(),
            last_status: Default::default(),
        }
    }

    pub fn show(&mut self, out: &mut impl Write, msg: &CreateImageInfo) -> std::io::Result<()> {
        let status = msg.status.clone().unwrap_or_default();
        let Some(id) = msg
            .id
            .clone()
            .filter(|_| !status.starts_with("Pulling from"))
        else {
            match &msg.id {
                Some(id) => writeln!(out, "{id}: {status}")?,
                None => writeln!(out, "{status}")?,
            }
            return Ok(());
        };
        let line = format!("{id}: {status} {}", bar(msg));
        if !self.tty {
            if msg.progress_detail.is_none() && self.last_status.get(&id) != Some(&status) {
                writeln!(out, "{}", line.trim_end())?;
            }
            self.last_status.insert(id, status);
            return Ok(());
        }
        match self.ids.iter().position(|x| *x == id) {
            None => {
                self.ids.push(id);
                writeln!(out, "{line}")?;
            }
            Some(pos) => {
                let up = self.ids.len() - pos;
                // Up to the layer's line, rewrite it, back down.
                write!(out, "\x1b[{up}A\r\x1b[2K{line}\x1b[{up}B\r")?;
            }
        }
        out.flush()
    }
}

/// `[=====>      ]  1.2MB/3.4MB`, as Docker's JSONProgress.
fn bar(msg: &CreateImageInfo) -> String {
    let Some(d) = &msg.progress_detail else {
        return String::new();
    };
    let (Some(cur), Some(total)) = (d.current, d.total) else {
        return String::new();
    };
    if total <= 0 {
        return human_size(cur as f64);
    }
    let width = 50usize;
    let filled = ((cur as f64 / total as f64) * width as f64).clamp(0.0, width as f64) as usize;
    let mut b = "=".repeat(filled.saturating_sub(1));
    if filled > 0 {
        b.push(if filled == width { '=' } else { '>' });
    }
    format!(
        "[{b:<width$}] {:>8}/{}",
        human_size(cur as f64),
        human_size(total as f64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdesk_engine::models::ProgressDetail;

    fn msg(id: Option<&str>, status: &str, progress: Option<(i64, i64)>) -> CreateImageInfo {
        CreateImageInfo {
            id: id.map(str::to_string),
            status: Some(status.to_string()),
            progress_detail: progress.map(|(c, t)| ProgressDetail {
                current: Some(c),
                total: Some(t),
            }),
            ..Default::default()
        }
    }

    fn render(tty: bool) -> String {
        let mut d = ProgressDisplay::new(tty);
        let mut out = Vec::new();
        for m in [
            msg(Some("latest"), "Pulling from library/busybox", None),
            msg(Some("aaa"), "Pulling fs layer", None),
            msg(Some("bbb"), "Already exists", None),
            msg(Some("aaa"), "Downloading", Some((500_000, 1_000_000))),
            msg(Some("aaa"), "Pull complete", None),
            msg(None, "Digest: sha256:abc", None),
        ] {
            d.show(&mut out, &m).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn plain_output_has_one_line_per_status_and_no_bars() {
        assert_eq!(
            render(false),
            "latest: Pulling from library/busybox\naaa: Pulling fs layer\nbbb: Already exists\naaa: Pull complete\nDigest: sha256:abc\n"
        );
    }

    #[test]
    fn terminal_output_rewrites_each_layer_line_in_place() {
        let out = render(true);
        // aaa's line is two lines up when it changes: cursor up 2, rewrite, back down 2.
        assert!(
            out.contains("\x1b[2A\r\x1b[2Kaaa: Downloading [========================>"),
            "{out:?}"
        );
        assert!(out.contains("500kB/1MB\x1b[2B\r"), "{out:?}");
        assert!(
            out.contains("\x1b[2A\r\x1b[2Kaaa: Pull complete"),
            "{out:?}"
        );
    }
}
