//! Yes/no before anything is destroyed: what goes, and the space it frees.

use super::super::action::Action;
use super::super::app::App;
use super::super::views::age;
use super::super::views::containers::ContainerRow;
use super::super::views::images::{short_id, ImageRow};
use super::super::views::networks::{Member, NetworkRow};
use super::super::views::volumes::VolumeRow;
use super::{centered, frame, hint_line, wrapped_height};
use crate::cli::format::human_size;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;
use rdesk_engine::models::ImageSummary;
use rdesk_widgets::text::truncate;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// `rmi` of a tag, or of an ID for an untagged image.
    Remove(String),
    Prune,
    RemoveContainer {
        id: String,
        name: String,
        force: bool,
    },
    /// (ID, name) of the stopped containers the dialog listed.
    PruneContainers(Vec<(String, String)>),
    RemoveVolume(String),
    /// `volume prune`, `-a` with `all`.
    PruneVolumes {
        all: bool,
    },
    RemoveNetwork(String),
    /// `network prune`: what the dialog listed is what the engine removes (user-defined
    /// networks no container is attached to).
    PruneNetworks,
    /// `network disconnect NETWORK CONTAINER` (full ID, name).
    Disconnect {
        network: String,
        id: String,
        name: String,
    },
    Quit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmState {
    pub title: String,
    /// What goes, one item a line.
    pub items: Vec<String>,
    /// The consequence: space freed, what stays.
    pub summary: String,
    pub pending: Pending,
}

impl ConfirmState {
    pub fn delete_image(row: &ImageRow, s: &ImageSummary) -> Self {
        if !row.dangling && s.repo_tags.len() > 1 {
            let others: Vec<&str> = s
                .repo_tags
                .iter()
                .filter(|t| **t != row.reference)
                .map(String::as_str)
                .collect();
            return ConfirmState {
                title: "Untag image?".into(),
                items: vec![format!("untag   {}", row.reference)],
                summary: format!(
                    "The image stays, still tagged {}. Frees nothing.",
                    others.join(", ")
                ),
                pending: Pending::Remove(row.reference.clone()),
            };
        }
        let mut items: Vec<String> = s.repo_tags.iter().map(|t| format!("untag   {t}")).collect();
        items.extend(s.repo_digests.iter().map(|d| format!("untag   {d}")));
        items.push(format!(
            "delete  {}  {}",
            short_id(&s.id),
            human_size(s.size as f64)
        ));
        ConfirmState {
            title: "Delete image?".into(),
            items,
            summary: format!(
                "Frees up to {} (layers another image shares stay).",
                human_size(s.size as f64)
            ),
            pending: Pending::Remove(row.reference.clone()),
        }
    }

    /// `dangling`: the untagged images `image prune` removes.
    pub fn prune(dangling: &[ImageSummary], now: i64) -> Self {
        let total: i64 = dangling.iter().map(|s| s.size).sum();
        ConfirmState {
            title: format!(
                "Prune {} dangling image{}?",
                dangling.len(),
                if dangling.len() == 1 { "" } else { "s" }
            ),
            items: dangling
                .iter()
                .map(|s| {
                    format!(
                        "delete  {}  {:>8}  created {}",
                        short_id(&s.id),
                        human_size(s.size as f64),
                        age(s.created, now)
                    )
                })
                .collect(),
            summary: format!(
                "Frees up to {}, and any layer no image uses.",
                human_size(total as f64)
            ),
            pending: Pending::Prune,
        }
    }

    /// `rm`; a running container needs force (`rm -f`: killed, then removed), and the
    /// dialog says so.
    pub fn delete_container(c: &ContainerRow) -> Self {
        let item = format!("remove  {}  {}  {}", c.short_id(), c.name, c.status);
        if c.running() {
            return ConfirmState {
                title: "Force-remove running container?".into(),
                items: vec![item],
                summary: format!(
                    "{} is running: yes kills it (SIGKILL), then removes it and its writable layer.",
                    c.name
                ),
                pending: Pending::RemoveContainer {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    force: true,
                },
            };
        }
        ConfirmState {
            title: "Remove container?".into(),
            items: vec![item],
            summary: "Its writable layer and its log go with it; the image stays.".into(),
            pending: Pending::RemoveContainer {
                id: c.id.clone(),
                name: c.name.clone(),
                force: false,
            },
        }
    }

    /// `container prune`: every container that is not running.
    pub fn prune_containers(stopped: &[ContainerRow]) -> Self {
        ConfirmState {
            title: format!(
                "Remove {} stopped container{}?",
                stopped.len(),
                if stopped.len() == 1 { "" } else { "s" }
            ),
            items: stopped
                .iter()
                .map(|c| format!("remove  {}  {}  {}", c.short_id(), c.name, c.status))
                .collect(),
            summary: "Their writable layers and logs go; running containers and images stay."
                .into(),
            pending: Pending::PruneContainers(
                stopped
                    .iter()
                    .map(|c| (c.id.clone(), c.name.clone()))
                    .collect(),
            ),
        }
    }

    /// `volume rm`: refused by the engine (as by Docker, `-f` too) while a container uses
    /// it; the dialog says so before, the refusal comes back as an error.
    pub fn remove_volume(v: &VolumeRow) -> Self {
        let item = format!("remove  {}  {}", v.name, human_size(v.size as f64));
        let summary = if v.in_use() {
            format!(
                "{} is used by {}: the engine refuses to remove it (as Docker, even with -f) until they are removed.",
                v.name,
                v.users.join(", ")
            )
        } else {
            format!(
                "Its content goes with it: frees {}. No container uses it.",
                human_size(v.size as f64)
            )
        };
        ConfirmState {
            title: "Remove volume?".into(),
            items: vec![item],
            summary,
            pending: Pending::RemoveVolume(v.name.clone()),
        }
    }

    /// `volume prune`: the unused anonymous volumes, or with `all` every unused one (`-a`).
    pub fn prune_volumes(rows: &[VolumeRow], all: bool) -> Self {
        let going: Vec<&VolumeRow> = rows
            .iter()
            .filter(|v| !v.in_use() && (all || v.anonymous))
            .collect();
        let total: u64 = going.iter().map(|v| v.size).sum();
        let unused_named = rows.iter().filter(|v| !v.in_use() && !v.anonymous).count();
        let mut items: Vec<String> = going
            .iter()
            .map(|v| format!("remove  {:>8}  {}", human_size(v.size as f64), v.name))
            .collect();
        if items.is_empty() {
            items.push(if all {
                "No unused volume: nothing to remove.".into()
            } else {
                "No unused anonymous volume: nothing to remove.".into()
            });
        }
        let scope = if all {
            "All unused volumes, named ones too (prune -a)".to_string()
        } else if unused_named > 0 {
            format!(
                "Anonymous volumes only; {unused_named} unused named volume{} stay{} (a: all unused, prune -a)",
                if unused_named == 1 { "" } else { "s" },
                if unused_named == 1 { "s" } else { "" }
            )
        } else {
            "Anonymous volumes only (a: all unused, prune -a)".to_string()
        };
        ConfirmState {
            title: format!(
                "Prune {} volume{}?",
                going.len(),
                if going.len() == 1 { "" } else { "s" }
            ),
            items,
            summary: format!(
                "{scope}. Frees {}; volumes a container uses stay.",
                human_size(total as f64)
            ),
            pending: Pending::PruneVolumes { all },
        }
    }

    /// `network rm`: the engine refuses a network with running containers (Docker's "has
    /// active endpoints"); the dialog says so before, the refusal comes back as the error.
    pub fn remove_network(n: &NetworkRow, attached: &[Member]) -> Self {
        let item = format!("remove  {}  {}  {}", n.short_id(), n.name, n.subnet);
        let running: Vec<&str> = attached
            .iter()
            .filter(|m| m.running)
            .map(|m| m.name.as_str())
            .collect();
        let summary = if !running.is_empty() {
            format!(
                "{} has running containers ({}): the engine refuses to remove it (active endpoints) until they stop or are disconnected.",
                n.name,
                running.join(", ")
            )
        } else if !attached.is_empty() {
            format!(
                "Stopped containers are attached to it ({}): they will not start until it exists again or they are disconnected.",
                attached
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            "No container uses it: its subnet is freed.".into()
        };
        ConfirmState {
            title: "Remove network?".into(),
            items: vec![item],
            summary,
            pending: Pending::RemoveNetwork(n.name.clone()),
        }
    }

    /// `network prune`: the user-defined networks no container is attached to.
    pub fn prune_networks(going: &[NetworkRow]) -> Self {
        ConfirmState {
            title: format!(
                "Prune {} network{}?",
                going.len(),
                if going.len() == 1 { "" } else { "s" }
            ),
            items: going
                .iter()
                .map(|n| format!("remove  {}  {}  {}", n.short_id(), n.name, n.subnet))
                .collect(),
            summary: "Networks with containers attached (running or not) and the pre-defined bridge, host and none stay.".into(),
            pending: Pending::PruneNetworks,
        }
    }

    /// `network disconnect`: the container leaves the network (at once when it runs).
    pub fn disconnect(network: &str, id: &str, name: &str) -> Self {
        ConfirmState {
            title: "Disconnect from the network?".into(),
            items: vec![format!("disconnect  {name}  from  {network}")],
            summary: format!(
                "{name} loses its address and names on {network}; a running container keeps running."
            ),
            pending: Pending::Disconnect {
                network: network.into(),
                id: id.into(),
                name: name.into(),
            },
        }
    }

    pub fn quit_while_pulling(reference: String) -> Self {
        ConfirmState {
            title: "Quit?".into(),
            items: vec![format!("The pull of {reference} is still running.")],
            summary: "Quitting stops it; the partial download is cleaned up on the next run."
                .into(),
            pending: Pending::Quit,
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App, c: &ConfirmState) {
    let st = &app.theme.styles;
    let w = 76u16.min(area.width.saturating_sub(4)).max(20);
    let text_w = w.saturating_sub(4) as usize;
    let summary_h = wrapped_height(&c.summary, text_w) as u16;
    // Rows for the items: as many as fit, the rest counted.
    let room = area.height.saturating_sub(summary_h + 6).max(1) as usize;
    let (shown, more) = if c.items.len() > room {
        (
            room.saturating_sub(1),
            c.items.len() - room.saturating_sub(1),
        )
    } else {
        (c.items.len(), 0)
    };
    let h = shown as u16 + (more > 0) as u16 + summary_h + 4;
    let r = centered(area, w, h);
    let title = Line::from(Span::styled(format!(" {} ", c.title), st.title));
    let hint = match c.pending {
        Pending::PruneVolumes { all } => hint_line(
            app,
            &[
                (Action::Confirm, "yes"),
                (Action::Cancel, "no"),
                (
                    Action::PruneAll,
                    if all { "anonymous only" } else { "all unused" },
                ),
            ],
        ),
        _ => hint_line(app, &[(Action::Confirm, "yes"), (Action::Cancel, "no")]),
    };
    let inner = frame(f, r, app, title, hint, false);
    let w = inner.width as usize;
    let mut lines: Vec<Line> = c
        .items
        .iter()
        .take(shown)
        .map(|i| Line::from(Span::styled(truncate(i, w), st.text)))
        .collect();
    if more > 0 {
        lines.push(Line::from(Span::styled(
            format!("… and {more} more"),
            st.dim,
        )));
    }
    let items_h = lines.len() as u16;
    let items = Rect {
        y: inner.y + 1,
        height: items_h.min(inner.height.saturating_sub(1)),
        ..inner
    };
    f.render_widget(Paragraph::new(lines), items);
    let summary = Rect {
        y: items.bottom() + 1,
        height: inner.bottom().saturating_sub(items.bottom() + 1),
        ..inner
    };
    f.render_widget(
        Paragraph::new(Span::styled(c.summary.clone(), st.header)).wrap(Wrap { trim: false }),
        summary,
    );
}
