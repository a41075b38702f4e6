//! The bottom line: the keys that apply here (from the keymap, so overrides show), and the
//! last status message; or the filter / command / search input while one is open.

use super::super::action::{Action, Context};
use super::super::app::{App, InputKind, Resource};
use super::super::popups::Popup;
use super::detail::{DetailTab, Load};
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

/// (action, what it does here) for the current context.
pub fn hints(app: &App) -> Vec<(Action, &'static str)> {
    use Action::*;
    match app.context() {
        Context::Input => vec![(Select, "ok"), (Back, "cancel")],
        Context::Terminal => vec![(LeaveTerminal, "leave the pane; other keys go to the shell")],
        Context::Confirm => vec![(Confirm, "yes"), (Cancel, "no")],
        Context::Popup => match app.popups.last() {
            Some(Popup::Help(_)) => vec![(Down, "scroll"), (Back, "close")],
            Some(Popup::Connect(_)) => vec![
                (Down, "move"),
                (Select, "connect/disconnect"),
                (Back, "close"),
            ],
            Some(Popup::Pull) if app.pulling() => vec![(Back, "hide (the pull goes on)")],
            _ => vec![(Back, "close")],
        },
        Context::Detail => {
            let mut v = vec![(Back, "back"), (NextTab, "next tab")];
            if app.detail.tab == DetailTab::Logs && app.resource == Resource::Containers {
                v.extend([
                    (Follow, "follow/pause"),
                    (Filter, "search"),
                    (NextMatch, "next"),
                    (Timestamps, "timestamps"),
                    (Wrap, "wrap"),
                    (Bottom, "end"),
                    (SaveLogs, "save"),
                ]);
            } else if app.detail.tab == DetailTab::Files && app.resource == Resource::Volumes {
                let open = app
                    .detail
                    .files
                    .as_ref()
                    .is_some_and(|(_, b)| b.viewer.is_some());
                if open {
                    v.extend([
                        (Parent, "close"),
                        (Down, "scroll"),
                        (Filter, "search"),
                        (NextMatch, "next"),
                        (Wrap, "wrap"),
                    ]);
                } else {
                    v.extend([(Select, "open"), (Parent, "up"), (Down, "move")]);
                }
            } else if app.detail.tab == DetailTab::Containers && app.resource == Resource::Networks
            {
                v.extend([(Down, "move")]);
            } else if app.detail.tab == DetailTab::Mounts && app.resource == Resource::Containers {
                v.extend([(Down, "move"), (Select, "volume's files")]);
            } else if app.detail.tab == DetailTab::Inspect {
                v.extend([
                    (Select, "fold"),
                    (FoldAll, "fold all"),
                    (UnfoldAll, "unfold all"),
                    (Filter, "search"),
                    (NextMatch, "next"),
                ]);
            } else {
                v.extend([(Down, "scroll")]);
            }
            v.extend([(Help, "help"), (Quit, "quit")]);
            v
        }
        Context::Table => {
            let mut v = if app.resource == Resource::Containers {
                vec![
                    (Run, "run"),
                    (StartStop, "start/stop"),
                    (Logs, "logs"),
                    (Exec, "exec"),
                    (Attach, "attach"),
                    (ExecPane, "shell pane"),
                    (Connect, "networks"),
                    (Delete, "delete"),
                    (Restart, "restart"),
                    (Select, "details"),
                    (Inspect, "inspect"),
                    (Prune, "prune"),
                    (Copy, "copy id"),
                    (Filter, "filter"),
                    (Command, "cmd"),
                    (Help, "help"),
                    (Quit, "quit"),
                ]
            } else if app.resource == Resource::Images {
                vec![
                    (Pull, "pull"),
                    (Select, "details"),
                    (History, "history"),
                    (Inspect, "inspect"),
                    (Delete, "delete"),
                    (Prune, "prune"),
                    (Copy, "copy id"),
                    (Filter, "filter"),
                    (Command, "cmd"),
                    (Help, "help"),
                    (Quit, "quit"),
                ]
            } else if app.resource == Resource::Volumes {
                vec![
                    (Create, "create"),
                    (Select, "details/files"),
                    (Delete, "remove"),
                    (Prune, "prune"),
                    (Inspect, "inspect"),
                    (Copy, "copy mountpoint"),
                    (Filter, "filter"),
                    (Command, "cmd"),
                    (Help, "help"),
                    (Quit, "quit"),
                ]
            } else if app.resource == Resource::Networks {
                vec![
                    (Create, "create"),
                    (Select, "details"),
                    (Delete, "remove"),
                    (Prune, "prune"),
                    (Inspect, "inspect"),
                    (Copy, "copy id"),
                    (Filter, "filter"),
                    (Command, "cmd"),
                    (Help, "help"),
                    (Quit, "quit"),
                ]
            } else {
                vec![
                    (NextTab, "next"),
                    (Run, "run"),
                    (Pull, "pull"),
                    (Command, "cmd"),
                    (Help, "help"),
                    (Quit, "quit"),
                ]
            };
            if app.term.is_some() {
                v.insert(0, (LeaveTerminal, "close the pane"));
                v.insert(0, (ExecPane, "focus the pane"));
            }
            v
        }
    }
}

pub fn draw(f: &mut Frame, area: Rect, app: &App) {
    let st = &app.theme.styles;
    if let Some(input) = &app.input {
        let prompt = match input.kind {
            InputKind::Filter => "/",
            InputKind::Command => ":",
            InputKind::Search => "search: ",
            InputKind::VolumeName => "new volume name (empty: generated): ",
            InputKind::NetworkCreate => "new network: NAME [--subnet CIDR] [--internal]: ",
        };
        let pos = input
            .line
            .render(prompt, area, f.buffer_mut(), app.theme.keyname, st.text);
        f.set_cursor_position(pos);
        return;
    }
    let mut spans = Vec::new();
    let status = app.status.as_ref().map(|s| {
        let style = if s.error { st.error } else { st.ok };
        Span::styled(format!(" {} ", s.text), style)
    });
    let reserve = status.as_ref().map(|s| s.width()).unwrap_or(0);
    // The inspect search, when one is set.
    let mut extra = None;
    if app.context() == Context::Detail && app.detail.tab == DetailTab::Inspect {
        if let Some((_, Load::Ready(tree))) = &app.detail.inspect {
            if !tree.search().is_empty() {
                extra = Some(Span::styled(
                    format!(" /{} ({} matches) ", tree.search(), tree.match_count()),
                    st.matched,
                ));
            }
        }
    }
    let reserve = reserve + extra.as_ref().map(|s| s.width()).unwrap_or(0);
    // When the line is short, the least important hints go first; help and quit stay.
    let mut items: Vec<(String, &str)> = hints(app)
        .into_iter()
        .map(|(a, what)| (app.keymap.label(a), what))
        .collect();
    let essential = |what: &str| {
        matches!(
            what,
            "help" | "quit" | "close" | "cancel" | "ok" | "yes" | "no" | "back"
        )
    };
    let width_of = |items: &[(String, &str)]| -> usize {
        items
            .iter()
            .map(|(k, w)| k.chars().count() + w.chars().count() + 3)
            .sum()
    };
    while width_of(&items) + reserve > area.width as usize {
        match items.iter().rposition(|(_, w)| !essential(w)) {
            Some(i) => {
                items.remove(i);
            }
            None => break,
        }
    }
    for (key, what) in items {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(key, app.theme.keyname));
        spans.push(Span::styled(format!(" {what} "), st.dim));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    let mut right = Vec::new();
    right.extend(extra);
    right.extend(status);
    if !right.is_empty() {
        let w = right
            .iter()
            .map(|s| s.width())
            .sum::<usize>()
            .min(area.width as usize) as u16;
        let r = Rect {
            x: area.right() - w,
            width: w,
            ..area
        };
        f.render_widget(Paragraph::new(Line::from(right)), r);
    }
}
