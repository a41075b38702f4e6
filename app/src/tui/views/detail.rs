//! The detail pane under the table, with tabs: Info (the summary), Inspect (the full
//! `docker image inspect` document as a foldable, searchable JSON tree) and History (the
//! layer history). Inspect and History load in the background when first shown.

use super::super::app::{App, Focus, Resource};
use super::images::ImagesView;
use super::{age, pane};
use crate::cli::format::human_size;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use rdesk_engine::models::{ContainerStatsResponse, HistoryResponseItem};
use rdesk_widgets::text::truncate;
use rdesk_widgets::{
    FileBrowserState, HistoryRow, JsonTree, JsonTreeState, LayerHistory, LayerHistoryState,
    LogViewState, Styles,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DetailTab {
    #[default]
    Info,
    Inspect,
    History,
    Logs,
    Stats,
    Mounts,
    Files,
    /// A network's containers.
    Containers,
}

impl DetailTab {
    /// The tabs a resource's detail pane has, in order.
    pub fn tabs(r: Resource) -> &'static [DetailTab] {
        use DetailTab::*;
        match r {
            Resource::Images => &[Info, Inspect, History],
            Resource::Containers => &[Info, Inspect, Logs, Stats, Mounts],
            Resource::Volumes => &[Info, Inspect, Files],
            Resource::Networks => &[Info, Containers, Inspect],
        }
    }
    pub fn title(self) -> &'static str {
        match self {
            DetailTab::Info => "Info",
            DetailTab::Inspect => "Inspect",
            DetailTab::History => "History",
            DetailTab::Logs => "Logs",
            DetailTab::Stats => "Stats",
            DetailTab::Mounts => "Mounts",
            DetailTab::Files => "Files",
            DetailTab::Containers => "Containers",
        }
    }
    pub fn next(self, r: Resource) -> DetailTab {
        let tabs = Self::tabs(r);
        let i = tabs.iter().position(|t| *t == self).unwrap_or(0);
        tabs[(i + 1) % tabs.len()]
    }
    pub fn prev(self, r: Resource) -> DetailTab {
        let tabs = Self::tabs(r);
        let i = tabs.iter().position(|t| *t == self).unwrap_or(0);
        tabs[(i + tabs.len() - 1) % tabs.len()]
    }
}

#[derive(Debug, Clone)]
pub enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

#[derive(Debug, Default)]
pub struct DetailState {
    pub tab: DetailTab,
    pub info_scroll: u16,
    /// Image ID and its history.
    pub history: Option<(String, Load<LayerHistoryState>)>,
    /// Image ID and its inspect document.
    pub inspect: Option<(String, Load<JsonTreeState>)>,
    /// The image list changed since the inspect document was read (tags may differ).
    pub inspect_stale: bool,
    /// Container ID and its log.
    pub logs: Option<(String, LogViewState)>,
    /// Container ID and its samples.
    pub stats: Option<(String, StatsState)>,
    /// The selected row of a container's Mounts tab.
    pub mount: usize,
    /// The selected row of a network's Containers tab.
    pub member: usize,
    /// Volume name and its file browser (the Files tab).
    pub files: Option<(String, FileBrowserState)>,
}

/// Samples of one container: CPU % and memory for the sparklines, the last one in full.
#[derive(Debug, Default)]
pub struct StatsState {
    /// CPU in hundredths of a percent, oldest first.
    pub cpu: Vec<u64>,
    /// Memory in bytes, oldest first.
    pub mem: Vec<u64>,
    pub last: Option<ContainerStatsResponse>,
    pub cpu_now: f64,
    pub error: Option<String>,
}

/// Samples kept (a wide terminal's worth).
const STATS_KEEP: usize = 300;

impl StatsState {
    pub fn push(&mut self, s: ContainerStatsResponse) {
        let cpu = self
            .last
            .as_ref()
            .map(|prev| crate::cli::monitor::cpu_percent(prev, &s))
            .unwrap_or(0.0);
        if self.last.is_some() {
            self.cpu.push((cpu * 100.0).round() as u64);
        }
        self.cpu_now = cpu;
        let mem = s.memory_stats.as_ref().and_then(|m| m.usage).unwrap_or(0);
        self.mem.push(mem);
        for v in [&mut self.cpu, &mut self.mem] {
            if v.len() > STATS_KEEP {
                v.drain(..v.len() - STATS_KEEP);
            }
        }
        self.last = Some(s);
        self.error = None;
    }
}

impl DetailState {
    pub fn history_id(&self) -> Option<&str> {
        self.history.as_ref().map(|(id, _)| id.as_str())
    }
    pub fn inspect_id(&self) -> Option<&str> {
        self.inspect.as_ref().map(|(id, _)| id.as_str())
    }
    pub fn history_mut(&mut self) -> Option<&mut Load<LayerHistoryState>> {
        self.history.as_mut().map(|(_, l)| l)
    }
    pub fn inspect_mut(&mut self) -> Option<&mut Load<JsonTreeState>> {
        self.inspect.as_mut().map(|(_, l)| l)
    }

    pub fn history_loaded(
        &mut self,
        id: &str,
        result: Result<Vec<HistoryResponseItem>, String>,
        now: i64,
    ) {
        if self.history_id() != Some(id) {
            return; // the selection moved on
        }
        let load = match result {
            Ok(items) => Load::Ready(LayerHistoryState::new(
                items.iter().map(|h| history_row(h, now)).collect(),
            )),
            Err(e) => Load::Failed(e),
        };
        self.history = Some((id.to_string(), load));
    }

    pub fn inspect_loaded(&mut self, id: &str, result: Result<serde_json::Value, String>) {
        let Some((cur, load)) = self.inspect.as_mut() else {
            return;
        };
        if cur != id {
            return;
        }
        match (load, result) {
            (Load::Ready(tree), Ok(v)) => tree.set_value(v),
            (load, Ok(v)) => *load = Load::Ready(JsonTreeState::new(v)),
            (load, Err(e)) => *load = Load::Failed(e),
        }
    }

    /// The image list was re-read: forget details of images that are gone; re-read the
    /// inspect document of one that stays (its tags may have changed).
    pub fn images_changed(&mut self, images: &ImagesView) {
        let exists = |id: &str| images.summaries.iter().any(|s| s.id == id);
        if self.history_id().is_some_and(|id| !exists(id)) {
            self.history = None;
        }
        match self.inspect_id() {
            Some(id) if !exists(id) => self.inspect = None,
            Some(_) => self.inspect_stale = true,
            None => {}
        }
    }
}

pub fn history_row(h: &HistoryResponseItem, now: i64) -> HistoryRow {
    HistoryRow {
        created: age(h.created, now),
        created_by: h.created_by.clone(),
        size: human_size(h.size as f64),
        // Docker's API has no empty-layer flag: a zero-size entry made no layer.
        empty: h.size == 0,
        comment: h.comment.clone(),
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let focused = app.focus == Focus::Detail;
    let st = app.theme.styles.clone();
    let mut title = vec![Span::raw(" ")];
    app.areas.detail_tabs.clear();
    let mut x = area.x + 2;
    for (i, t) in DetailTab::tabs(app.resource).iter().enumerate() {
        if i > 0 {
            title.push(Span::styled(" │ ", st.border));
            x += 3;
        }
        let style = if *t == app.detail.tab {
            app.theme.tab_active
        } else {
            st.dim
        };
        let w = t.title().len() as u16;
        app.areas.detail_tabs.push((
            Rect {
                x,
                y: area.y,
                width: w,
                height: 1,
            },
            *t,
        ));
        title.push(Span::styled(t.title(), style));
        x += w;
    }
    title.push(Span::raw(" "));
    let left_w = x - area.x + 2;
    let selected = if app.resource == Resource::Images {
        app.images.selected().cloned()
    } else {
        None
    };
    let container = if app.resource == Resource::Containers {
        app.containers.selected().cloned()
    } else {
        None
    };
    let volume = if app.resource == Resource::Volumes {
        app.volumes.selected().cloned()
    } else {
        None
    };
    let network = if app.resource == Resource::Networks {
        app.networks.selected().cloned()
    } else {
        None
    };
    let mut block = pane(app, Line::from(title), focused);
    let name = match (&selected, &container) {
        (Some(row), _) if row.dangling => Some(super::images::short_id(&row.id)),
        (Some(row), _) => Some(row.reference.clone()),
        (_, Some(c)) => Some(c.name.clone()),
        _ => volume
            .as_ref()
            .map(|v| v.name.clone())
            .or_else(|| network.as_ref().map(|n| n.name.clone())),
    };
    if let Some(name) = name {
        let room = area.width.saturating_sub(left_w + 4) as usize;
        if room > 4 {
            let name = truncate(&name, room - 2);
            block = block.title(
                Line::from(Span::styled(format!(" {name} "), st.title)).alignment(Alignment::Right),
            );
        }
    }
    let inner = block.inner(area);
    f.render_widget(block, area);

    let note = |f: &mut Frame, text: String| note(f, inner, &st, text);
    if let Some(c) = container {
        super::container_detail::draw(f, inner, app, &c);
        return;
    }
    if let Some(v) = volume {
        super::volume_detail::draw(f, inner, app, &v);
        return;
    }
    if let Some(n) = network {
        super::network_detail::draw(f, inner, app, &n);
        return;
    }
    let Some(row) = selected else {
        let what = match app.resource {
            Resource::Images if app.images.loaded && app.images.rows.is_empty() => {
                "Pulled images are listed above; their details show here."
            }
            Resource::Images => "Select an image to see its details.",
            Resource::Containers if app.containers.loaded && app.containers.rows.is_empty() => {
                "Containers are listed above; their details, logs and stats show here."
            }
            Resource::Containers => "Select a container to see its details.",
            Resource::Volumes if app.volumes.loaded && app.volumes.rows.is_empty() => {
                "Volumes are listed above; their details and files show here."
            }
            Resource::Volumes => "Select a volume to see its details and files.",
            Resource::Networks if app.networks.loaded && app.networks.rows.is_empty() => {
                "Networks are listed above; their details and containers show here."
            }
            Resource::Networks => "Select a network to see its details and containers.",
        };
        note(f, what.to_string());
        return;
    };
    match app.detail.tab {
        DetailTab::Info => {
            let s = app.images.summary(&row).clone();
            let mut fields: Vec<(&str, String)> = vec![
                ("ID", s.id.clone()),
                (
                    "Tags",
                    if s.repo_tags.is_empty() {
                        "<none>".to_string()
                    } else {
                        s.repo_tags.join(", ")
                    },
                ),
            ];
            for (i, d) in s.repo_digests.iter().enumerate() {
                fields.push((if i == 0 { "Digests" } else { "" }, d.clone()));
            }
            let created = chrono::DateTime::from_timestamp(s.created, 0)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                .unwrap_or_else(|| "N/A".into());
            fields.push((
                "Created",
                format!("{created} ({})", age(s.created, app.now)),
            ));
            fields.push(("Size", human_size(s.size as f64)));
            let mut labels: Vec<_> = s.labels.iter().collect();
            labels.sort();
            for (i, (k, v)) in labels.iter().enumerate() {
                fields.push((if i == 0 { "Labels" } else { "" }, format!("{k}={v}")));
            }
            draw_info(f, inner, app, &st, Vec::new(), fields);
        }
        DetailTab::Inspect => draw_inspect(f, inner, app, &st, focused),
        DetailTab::Logs
        | DetailTab::Stats
        | DetailTab::Mounts
        | DetailTab::Files
        | DetailTab::Containers => {}
        DetailTab::History => match app.detail.history_mut() {
            None | Some(Load::Loading) => note(f, "Loading…".into()),
            Some(Load::Failed(e)) => note(f, format!("Cannot read the history: {e}")),
            Some(Load::Ready(h)) => {
                f.render_stateful_widget(LayerHistory::new(&st).focused(focused), inner, h);
            }
        },
    }
}

/// A dim note in the pane (loading, failed, nothing to show).
pub fn note(f: &mut Frame, area: Rect, st: &Styles, text: String) {
    f.render_widget(
        Paragraph::new(text).style(st.dim).wrap(Wrap { trim: true }),
        area,
    );
}

/// The Inspect tab: the inspect document as a JSON tree, or why it is not there yet.
pub fn draw_inspect(f: &mut Frame, area: Rect, app: &mut App, st: &Styles, focused: bool) {
    match app.detail.inspect_mut() {
        None | Some(Load::Loading) => note(f, area, st, "Loading…".into()),
        Some(Load::Failed(e)) => note(f, area, st, format!("Cannot inspect: {e}")),
        Some(Load::Ready(tree)) => {
            f.render_stateful_widget(JsonTree::new(st).focused(focused), area, tree);
        }
    }
}

/// The Info tab: `lines`, then `fields` as `Label      value` rows, scrolled by the
/// pane's info scroll (kept within the text).
pub fn draw_info(
    f: &mut Frame,
    area: Rect,
    app: &mut App,
    st: &Styles,
    mut lines: Vec<Line<'static>>,
    fields: Vec<(&str, String)>,
) {
    for (k, v) in fields {
        kv_lines(&mut lines, k, &v, area.width as usize, st);
    }
    let max = (lines.len() as u16).saturating_sub(area.height);
    app.detail.info_scroll = app.detail.info_scroll.min(max);
    f.render_widget(
        Paragraph::new(lines).scroll((app.detail.info_scroll, 0)),
        area,
    );
}

/// `Label      value`, the value cut into rows of the width left (IDs and digests have no
/// spaces to wrap at), continuation rows indented under it.
pub fn kv_lines(out: &mut Vec<Line<'static>>, label: &str, value: &str, width: usize, st: &Styles) {
    const LABEL: usize = 11;
    let room = width.saturating_sub(LABEL).max(8);
    let chars: Vec<char> = value.chars().collect();
    let mut first = true;
    for chunk in chars.chunks(room) {
        let head = if first {
            Span::styled(format!("{label:<10} "), st.header)
        } else {
            Span::raw(" ".repeat(LABEL))
        };
        out.push(Line::from(vec![
            head,
            Span::styled(chunk.iter().collect::<String>(), st.text),
        ]));
        first = false;
    }
    if chars.is_empty() {
        out.push(Line::from(Span::styled(format!("{label:<10} "), st.header)));
    }
}
