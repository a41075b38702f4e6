//! The header (engine facts) and the resource tabs with their counts.

use super::super::app::{App, Resource};
use crate::cli::format::human_size;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

pub fn draw_header(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.theme.styles;
    let mut right = Vec::new();
    if let Some(p) = app.pull.as_ref().filter(|p| p.running()) {
        right.push(Span::styled(
            format!(" pulling {} {:.0}% ", p.reference(), p.overall().0 * 100.0),
            st.gauge,
        ));
    }
    if !app.mouse {
        right.push(Span::styled(" mouse released ", st.header));
    }
    let rw = (right.iter().map(|s| s.width()).sum::<usize>() as u16)
        .min(area.width / 2 + area.width / 4);
    if rw > 0 {
        let r = Rect {
            x: area.right() - rw,
            width: rw,
            ..area
        };
        f.render_widget(
            Paragraph::new(Line::from(right)).alignment(Alignment::Right),
            r,
        );
    }

    let sep = Span::styled(" │ ", st.border);
    let images = if app.images.loaded {
        let n = app.images.summaries.len();
        format!(
            "{n} image{}, {}",
            if n == 1 { "" } else { "s" },
            human_size(app.images.total_size() as f64)
        )
    } else {
        "images …".to_string()
    };
    let containers = if app.containers.loaded {
        let n = app.containers.rows.len();
        format!(
            "{n} container{}, {} running",
            if n == 1 { "" } else { "s" },
            app.containers.running()
        )
    } else {
        "containers …".to_string()
    };
    let mut spans = vec![
        Span::styled(concat!(" rdesk ", env!("CARGO_PKG_VERSION")), st.title),
        sep.clone(),
        Span::styled("store ", st.dim),
        Span::styled(app.store_path.clone(), st.text),
        sep.clone(),
        Span::styled(containers, st.text),
        sep.clone(),
        Span::styled(images, st.text),
        sep.clone(),
        Span::styled("runtime ", st.dim),
        Span::styled(app.runtime.clone(), st.text),
    ];
    if !app.cgroups.is_empty() {
        spans.extend([
            sep,
            Span::styled("cgroups ", st.dim),
            Span::styled(app.cgroups.clone(), st.text),
        ]);
    }
    let left = Line::from(spans);
    let l = Rect {
        width: area.width - rw,
        ..area
    };
    f.render_widget(Paragraph::new(left), l);
}

pub fn draw_tabs(f: &mut Frame, area: Rect, app: &mut App) {
    let mut spans = vec![Span::raw(" ")];
    let mut x = area.x + 1;
    app.areas.tabs.clear();
    for (i, r) in Resource::ALL.iter().enumerate() {
        let count = match r {
            Resource::Images if app.images.loaded => app.images.rows.len().to_string(),
            Resource::Images => "…".into(),
            Resource::Containers if app.containers.loaded => app.containers.rows.len().to_string(),
            Resource::Containers => "…".into(),
            Resource::Volumes if app.volumes.loaded => app.volumes.rows.len().to_string(),
            Resource::Volumes => "…".into(),
            Resource::Networks if app.networks.loaded => app.networks.rows.len().to_string(),
            Resource::Networks => "…".into(),
        };
        let text = format!(" {} {} {} ", i + 1, r.title(), count);
        let style = if *r == app.resource {
            app.theme.tab_active
        } else {
            app.theme.styles.text
        };
        let w = text.chars().count() as u16;
        app.areas.tabs.push((
            Rect {
                x,
                width: w.min(area.right().saturating_sub(x)),
                ..area
            },
            *r,
        ));
        spans.push(Span::styled(text, style));
        spans.push(Span::raw(" "));
        x = x.saturating_add(w + 1);
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
