//! The Images view: one row per tag as `docker images` (an untagged image is one `<none>`
//! row), filtered by the fuzzy filter on repository, tag and id.

use super::super::action::Action;
use super::super::app::{App, Focus};
use super::{age, draw_table, matching, refresh_age_column, Listing, TableText};
use crate::cli::format::human_size;
use ratatui::layout::{Constraint, Rect};
use ratatui::Frame;
use rdesk_engine::models::ImageSummary;
use rdesk_widgets::{Column, TableRow, TableState};

pub const COLUMNS: [Column; 5] = [
    Column::new("REPOSITORY", Constraint::Fill(3)).filterable(),
    Column::new("TAG", Constraint::Fill(1)).filterable(),
    Column::new("IMAGE ID", Constraint::Length(12)).filterable(),
    Column::new("CREATED", Constraint::Length(8)),
    Column::new("SIZE", Constraint::Length(8)).right(),
];

/// One row of the table: a tag of an image (or the image, when untagged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    /// Position in `ImagesView::summaries`.
    pub image: usize,
    pub repository: String,
    pub tag: String,
    /// Full ID, `sha256:...`.
    pub id: String,
    /// What `rmi` gets for this row: `repo:tag`, or the ID when untagged.
    pub reference: String,
    pub dangling: bool,
}

#[derive(Debug, Default)]
pub struct ImagesView {
    pub summaries: Vec<ImageSummary>,
    pub rows: Vec<ImageRow>,
    pub cells: Vec<TableRow>,
    /// Positions in `rows` the filter leaves.
    pub visible: Vec<usize>,
    pub table: TableState,
    pub filter: String,
    /// The first load finished.
    pub loaded: bool,
}

pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

fn rows_of(i: usize, img: &ImageSummary) -> Vec<ImageRow> {
    let row = |repository: String, tag: String, reference: String| ImageRow {
        image: i,
        repository,
        tag,
        id: img.id.clone(),
        reference,
        dangling: img.repo_tags.is_empty(),
    };
    if img.repo_tags.is_empty() {
        let repo = img
            .repo_digests
            .first()
            .and_then(|d| d.rsplit_once('@'))
            .map(|(r, _)| r.to_string())
            .unwrap_or_else(|| "<none>".into());
        return vec![row(repo, "<none>".into(), img.id.clone())];
    }
    img.repo_tags
        .iter()
        .map(|t| {
            let (repo, tag) = match t.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')) {
                Some((r, tag)) => (r.to_string(), tag.to_string()),
                None => (t.clone(), "<none>".into()),
            };
            row(repo, tag, t.clone())
        })
        .collect()
}

impl ImagesView {
    /// Replaces the list, keeping the selected row (or selecting `select`, a reference).
    pub fn set_images(&mut self, mut images: Vec<ImageSummary>, now: i64, select: Option<&str>) {
        let keep = select
            .map(str::to_string)
            .or_else(|| self.selected().map(|r| r.reference.clone()));
        let keep_id = self.selected().map(|r| r.id.clone());
        // Newest first, as `docker images`; by name for equal times (stable frames).
        images.sort_by(|a, b| {
            b.created
                .cmp(&a.created)
                .then_with(|| a.repo_tags.cmp(&b.repo_tags))
        });
        self.summaries = images;
        self.rows = self
            .summaries
            .iter()
            .enumerate()
            .flat_map(|(i, s)| rows_of(i, s))
            .collect();
        self.cells = self.rows.iter().map(|r| self.cells_of(r, now)).collect();
        self.loaded = true;
        self.apply_filter();
        let pos = keep
            .and_then(|k| {
                self.visible
                    .iter()
                    .position(|&i| self.rows[i].reference == k)
            })
            .or_else(|| {
                keep_id.and_then(|k| self.visible.iter().position(|&i| self.rows[i].id == k))
            });
        if let Some(p) = pos {
            self.table.selected = p;
        }
        self.table.clamp(self.visible.len());
    }

    fn cells_of(&self, r: &ImageRow, now: i64) -> TableRow {
        let s = &self.summaries[r.image];
        TableRow {
            cells: vec![
                r.repository.clone(),
                r.tag.clone(),
                short_id(&r.id),
                age(s.created, now),
                human_size(s.size as f64),
            ],
            dim: r.dangling,
            tone: None,
        }
    }

    /// Recomputes the CREATED column; true when a label changed.
    pub fn refresh_ages(&mut self, now: i64) -> bool {
        let created = self.rows.iter().map(|r| self.summaries[r.image].created);
        refresh_age_column(&mut self.cells, 3, created, now)
    }

    pub fn set_filter(&mut self, filter: &str) {
        let keep = self.selected().map(|r| r.reference.clone());
        self.filter = filter.to_string();
        self.apply_filter();
        self.table.selected = keep
            .and_then(|k| {
                self.visible
                    .iter()
                    .position(|&i| self.rows[i].reference == k)
            })
            .unwrap_or(0);
        self.table.clamp(self.visible.len());
    }

    fn apply_filter(&mut self) {
        self.visible = matching(&COLUMNS, &self.cells, &self.filter);
    }

    pub fn selected(&self) -> Option<&ImageRow> {
        self.visible
            .get(self.table.selected)
            .map(|&i| &self.rows[i])
    }

    pub fn summary(&self, row: &ImageRow) -> &ImageSummary {
        &self.summaries[row.image]
    }

    pub fn total_size(&self) -> i64 {
        self.summaries.iter().map(|s| s.size).sum()
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &mut App) {
    let text = TableText {
        plural: "Images",
        singular: "image",
        summary: app.images.rows.len().to_string(),
        none_yet: format!(
            "No images yet. Press {} to pull one.",
            app.keymap.label(Action::Pull)
        ),
    };
    let images = &mut app.images;
    let listing = Listing {
        loaded: images.loaded,
        filter: &images.filter,
        total: images.rows.len(),
        columns: &COLUMNS,
        cells: &images.cells,
        visible: &images.visible,
        table: &mut images.table,
    };
    let focused = app.focus == Focus::Table;
    draw_table(f, area, &app.theme.styles, focused, text, listing);
}
