//! The one owned state of the workstation and what every action and notification does to
//! it. The app does no I/O: it returns `Effect`s for the runner (mod.rs) to carry out, so
//! tests drive it with plain data and draw it on a `TestBackend`.

use super::action::{Action, Context};
use super::event::{ContainerOp, Effect, Notification};
use super::keymap::{Key, KeyMap};
use super::popups::command::{self, Command};
use super::popups::confirm::{ConfirmState, Pending};
use super::popups::error::ErrorState;
use super::popups::help::HelpState;
use super::popups::pull::PullState;
use super::popups::Popup;
use super::theme::Theme;
use super::views::containers::{ContainerRow, ContainersView};
use super::views::detail::{DetailState, DetailTab, Load};
use super::views::images::ImagesView;
use super::views::networks::NetworksView;
use super::views::volume_detail::inspect_key;
use super::views::volumes::VolumesView;
use crate::cli::format::human_size;
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use rdesk_widgets::{
    FileBrowserState, FileRequest, LineInput, LogLine, LogViewState, TableState, TermState,
};

/// The most of a file the Files tab reads (the viewer says when a file is longer).
pub const FILE_CAP: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Containers,
    Images,
    Volumes,
    Networks,
}

impl Resource {
    pub const ALL: [Resource; 4] = [
        Resource::Containers,
        Resource::Images,
        Resource::Volumes,
        Resource::Networks,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Resource::Containers => "Containers",
            Resource::Images => "Images",
            Resource::Volumes => "Volumes",
            Resource::Networks => "Networks",
        }
    }
    fn index(self) -> usize {
        Resource::ALL.iter().position(|r| *r == self).unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Table,
    Detail,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Filter,
    Command,
    /// Search in the inspect tree or the log.
    Search,
    /// The name of a volume to create.
    VolumeName,
    /// `NAME [--subnet CIDR] [--internal] ...`: a network to create.
    NetworkCreate,
}

#[derive(Debug, Clone)]
pub struct InputState {
    pub kind: InputKind,
    pub line: LineInput,
    /// The value before the input opened (restored by esc).
    saved: String,
}

/// The terminal pane: a shell in a container, beside the list.
#[derive(Debug)]
pub struct TermPane {
    pub id: String,
    pub name: String,
    pub state: TermState,
    pub focused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

/// Where things were drawn last (mouse hit-testing).
#[derive(Debug, Clone, Default)]
pub struct Areas {
    pub tabs: Vec<(Rect, Resource)>,
    pub table: Rect,
    pub detail: Rect,
    pub detail_tabs: Vec<(Rect, DetailTab)>,
    pub term: Rect,
}

pub struct App {
    pub theme: Theme,
    pub keymap: KeyMap,
    /// The store root, for the header.
    pub store_path: String,
    pub resource: Resource,
    pub focus: Focus,
    pub images: ImagesView,
    pub containers: ContainersView,
    pub volumes: VolumesView,
    pub networks: NetworksView,
    /// Engine facts for the header: runtime, cgroup mode.
    pub runtime: String,
    pub cgroups: String,
    /// Log records read when a log opens (`[tui] log_tail`).
    pub log_tail: usize,
    pub detail: DetailState,
    pub term: Option<TermPane>,
    /// The pane's screen changed size when drawn: the process must be told (rows, cols).
    pub term_resized: Option<(u16, u16)>,
    pub input: Option<InputState>,
    /// Dialogs, the top one has the keyboard.
    pub popups: Vec<Popup>,
    /// The pull in progress or just finished (shown by `Popup::Pull`).
    pub pull: Option<PullState>,
    pub status: Option<Status>,
    pub mouse: bool,
    /// Percent of the body the detail pane takes while the table has the focus.
    pub detail_height: u16,
    /// Unix time the ages are computed against.
    pub now: i64,
    pub areas: Areas,
    /// Something changed since the last frame.
    pub dirty: bool,
    pub quit: bool,
    /// A pulled image to select once the list reloads.
    select_after_load: Option<String>,
    /// A container (ID) to select once the list reloads (a run from the form).
    select_container: Option<String>,
    /// A volume to select once the list reloads (created here, or a mount jumped to).
    select_volume: Option<String>,
    /// A network to select once the list reloads (created here).
    select_network: Option<String>,
    /// The user picked a resource tab: the first container list no longer moves there.
    chose_tab: bool,
    /// The container whose log / stats the runner follows now.
    following: Option<String>,
    sampling: Option<String>,
    effects: Vec<Effect>,
}

impl App {
    pub fn new(theme: Theme, keymap: KeyMap, store_path: String, now: i64) -> App {
        App {
            theme,
            keymap,
            store_path,
            resource: Resource::Images,
            focus: Focus::Table,
            images: ImagesView::default(),
            containers: ContainersView::default(),
            volumes: VolumesView::default(),
            networks: NetworksView::default(),
            runtime: "rdesk".into(),
            cgroups: String::new(),
            log_tail: 1000,
            detail: DetailState::default(),
            term: None,
            term_resized: None,
            input: None,
            popups: Vec::new(),
            pull: None,
            status: None,
            mouse: true,
            detail_height: 40,
            now,
            areas: Areas::default(),
            dirty: true,
            quit: false,
            select_after_load: None,
            select_container: None,
            select_volume: None,
            select_network: None,
            chose_tab: false,
            following: None,
            sampling: None,
            effects: Vec::new(),
        }
    }

    /// What the runner must do now.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    fn effect(&mut self, e: Effect) {
        self.effects.push(e);
    }

    pub fn error(&mut self, title: &str, message: impl Into<String>) {
        self.popups
            .push(Popup::Error(ErrorState::new(title, message)));
        self.dirty = true;
    }

    /// The outcome of a background verb: its message in the status line, or its error in a
    /// popup titled "Cannot <what>".
    fn done(&mut self, what: &str, result: Result<String, String>) {
        match result {
            Ok(msg) => self.flash(msg),
            Err(e) => self.error(&format!("Cannot {what}"), e),
        }
    }

    fn flash(&mut self, text: impl Into<String>) {
        self.status = Some(Status {
            text: text.into(),
            error: false,
        });
    }

    pub fn pulling(&self) -> bool {
        self.pull.as_ref().is_some_and(PullState::running)
    }

    pub fn context(&self) -> Context {
        match self.popups.last() {
            Some(Popup::Confirm(_)) => return Context::Confirm,
            Some(Popup::Run(_)) => return Context::Input,
            Some(Popup::Connect(c)) if c.alias.is_some() => return Context::Input,
            Some(Popup::Pull) if self.pull.as_ref().is_some_and(PullState::is_input) => {
                return Context::Input
            }
            Some(_) => return Context::Popup,
            None => {}
        }
        if self.input.is_some() {
            return Context::Input;
        }
        if self.term.as_ref().is_some_and(|t| t.focused) {
            return Context::Terminal;
        }
        match self.focus {
            Focus::Table => Context::Table,
            Focus::Detail => Context::Detail,
        }
    }

    // ---- input --------------------------------------------------------------------------

    pub fn on_key(&mut self, ev: KeyEvent) {
        if ev.kind == KeyEventKind::Release {
            return;
        }
        let ctx = self.context();
        let key = Key::from_event(&ev);
        let mut resolved = self.keymap.resolve(key, ctx);
        // In the file browser the parent keys win over the inspect tree's (`-`).
        if ctx == Context::Detail
            && self.files_shown()
            && self.keymap.keys_of(Action::Parent).contains(&key)
        {
            resolved = Some(Action::Parent);
        }
        if let Some(action) = resolved {
            self.status = None;
            self.apply(action);
        } else if let Some(Popup::Run(form)) = self.popups.last_mut() {
            form.key(ev);
        } else if ctx == Context::Terminal {
            if let Some(bytes) = self.term.as_ref().and_then(|t| t.state.encode_key(&ev)) {
                self.effect(Effect::TermInput(bytes));
            }
        } else if ctx == Context::Input {
            self.edit(ev);
        }
        self.dirty = true;
        self.sync_detail();
    }

    pub fn on_paste(&mut self, text: &str) {
        if self.context() == Context::Terminal {
            self.effect(Effect::TermInput(text.as_bytes().to_vec()));
            return;
        }
        if let Some(Popup::Run(form)) = self.popups.last_mut() {
            form.paste(text);
            self.dirty = true;
            return;
        }
        if let Some(line) = self.active_line() {
            line.insert_str(text.trim());
            self.after_edit();
            self.dirty = true;
        }
    }

    fn active_line(&mut self) -> Option<&mut LineInput> {
        if matches!(self.popups.last(), Some(Popup::Connect(_))) {
            return match self.popups.last_mut() {
                Some(Popup::Connect(c)) => c.alias.as_mut(),
                _ => None,
            };
        }
        if let (Some(Popup::Pull), Some(pull)) = (self.popups.last(), self.pull.as_mut()) {
            return pull.input_mut();
        }
        self.input.as_mut().map(|i| &mut i.line)
    }

    /// Keys that are not actions edit the focused text input, readline-style.
    fn edit(&mut self, ev: KeyEvent) {
        let Some(line) = self.active_line() else {
            return;
        };
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        match ev.code {
            KeyCode::Char('a') if ctrl => line.home(),
            KeyCode::Char('e') if ctrl => line.end(),
            KeyCode::Char('u') if ctrl => line.kill_to_start(),
            KeyCode::Char('k') if ctrl => line.kill_to_end(),
            KeyCode::Char('w') if ctrl => line.delete_word(),
            KeyCode::Char('b') if ctrl => line.left(),
            KeyCode::Char('f') if ctrl => line.right(),
            KeyCode::Char(_) if ctrl || ev.modifiers.contains(KeyModifiers::ALT) => return,
            KeyCode::Char(c) => line.insert(c),
            KeyCode::Backspace => line.backspace(),
            KeyCode::Delete => line.delete(),
            KeyCode::Left => line.left(),
            KeyCode::Right => line.right(),
            KeyCode::Home => line.home(),
            KeyCode::End => line.end(),
            _ => return,
        }
        self.after_edit();
    }

    /// Live effects of typing: the filter filters, the search highlights.
    fn after_edit(&mut self) {
        let Some(input) = &self.input else {
            if let Some(p) = self.pull.as_mut() {
                p.clear_input_error();
            }
            return;
        };
        let text = input.line.text().to_string();
        match input.kind {
            InputKind::Filter => self.set_filter(&text),
            InputKind::Search => self.set_search(&text),
            InputKind::Command | InputKind::VolumeName | InputKind::NetworkCreate => {}
        }
    }

    fn set_filter(&mut self, text: &str) {
        match self.resource {
            Resource::Containers => self.containers.set_filter(text),
            Resource::Volumes => self.volumes.set_filter(text),
            Resource::Networks => self.networks.set_filter(text),
            _ => self.images.set_filter(text),
        }
    }

    fn filter_text(&self) -> String {
        match self.resource {
            Resource::Containers => self.containers.filter.clone(),
            Resource::Volumes => self.volumes.filter.clone(),
            Resource::Networks => self.networks.filter.clone(),
            _ => self.images.filter.clone(),
        }
    }

    /// The log of the selected container, when the Logs tab shows it.
    pub fn log_mut(&mut self) -> Option<&mut LogViewState> {
        if self.files_shown() {
            return self.files_mut().and_then(FileBrowserState::text_mut);
        }
        if self.resource != Resource::Containers || self.detail.tab != DetailTab::Logs {
            return None;
        }
        let id = self.containers.selected()?.id.clone();
        self.detail
            .logs
            .as_mut()
            .filter(|(i, _)| *i == id)
            .map(|(_, l)| l)
    }

    fn set_search(&mut self, text: &str) {
        if let Some(log) = self.log_mut() {
            log.set_search(text);
        } else if let Some(Load::Ready(tree)) = self.detail.inspect_mut() {
            tree.set_search(text);
        }
    }

    /// The Files tab of a volume shows.
    pub fn files_shown(&self) -> bool {
        self.resource == Resource::Volumes && self.detail.tab == DetailTab::Files
    }

    /// The file browser of the selected volume.
    pub fn files_mut(&mut self) -> Option<&mut FileBrowserState> {
        let name = self.volumes.selected()?.name.clone();
        self.detail
            .files
            .as_mut()
            .filter(|(v, _)| *v == name)
            .map(|(_, b)| b)
    }

    /// The table of the resource shown, and its length.
    fn table_mut(&mut self) -> Option<(&mut TableState, usize)> {
        match self.resource {
            Resource::Images => Some((&mut self.images.table, self.images.visible.len())),
            Resource::Containers => {
                Some((&mut self.containers.table, self.containers.visible.len()))
            }
            Resource::Volumes => Some((&mut self.volumes.table, self.volumes.visible.len())),
            Resource::Networks => Some((&mut self.networks.table, self.networks.visible.len())),
        }
    }

    pub fn on_mouse(&mut self, ev: MouseEvent) {
        let pos = Position {
            x: ev.column,
            y: ev.row,
        };
        match ev.kind {
            MouseEventKind::Down(crossterm::event::MouseButton::Left) => {
                if !self.popups.is_empty() || self.input.is_some() {
                    return;
                }
                // A click in the terminal pane gives it the keyboard, elsewhere takes it.
                if let Some(t) = self.term.as_mut() {
                    t.focused = self.areas.term.contains(pos) && t.state.exited.is_none();
                    if t.focused {
                        self.dirty = true;
                        return;
                    }
                }
                if let Some((_, r)) = self.areas.tabs.iter().find(|(a, _)| a.contains(pos)) {
                    let r = *r;
                    self.show(r);
                } else if let Some((_, t)) =
                    self.areas.detail_tabs.iter().find(|(a, _)| a.contains(pos))
                {
                    self.detail.tab = *t;
                    self.focus = Focus::Detail;
                } else if self.areas.table.contains(pos) {
                    self.focus = Focus::Table;
                    if let Some((t, len)) = self.table_mut() {
                        if let Some(i) = t.row_at(pos.x, pos.y, len) {
                            t.selected = i;
                        }
                    }
                } else if self.areas.detail.contains(pos) {
                    self.focus = Focus::Detail;
                    match self.detail.tab {
                        DetailTab::Inspect => {
                            if let Some(Load::Ready(t)) = self.detail.inspect_mut() {
                                if let Some(i) = t.line_at(pos.x, pos.y) {
                                    t.select(i);
                                }
                            }
                        }
                        DetailTab::History => {
                            if let Some(Load::Ready(h)) = self.detail.history_mut() {
                                let len = h.len();
                                if let Some(i) = h.table.row_at(pos.x, pos.y, len) {
                                    h.table.selected = i;
                                }
                            }
                        }
                        DetailTab::Files => {
                            if let Some(b) = self.files_mut() {
                                let len = b.entries.as_ref().map_or(0, Vec::len);
                                if let Some(i) = b.table.row_at(pos.x, pos.y, len) {
                                    b.table.selected = i;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                let delta: isize = if ev.kind == MouseEventKind::ScrollDown {
                    3
                } else {
                    -3
                };
                if let Some(Popup::Help(h)) = self.popups.last_mut() {
                    h.scroll(delta);
                } else if !self.popups.is_empty() {
                    return;
                } else if self.areas.table.contains(pos) {
                    if let Some((t, len)) = self.table_mut() {
                        t.scroll(delta, len);
                    }
                } else if self.areas.detail.contains(pos) {
                    self.scroll_detail(delta);
                }
            }
            _ => return,
        }
        self.dirty = true;
        self.sync_detail();
    }

    // ---- actions ------------------------------------------------------------------------

    pub fn apply(&mut self, action: Action) {
        if action == Action::ForceQuit {
            self.quit();
            return;
        }
        if !self.popups.is_empty() {
            self.apply_popup(action);
            return;
        }
        if action == Action::LeaveTerminal {
            self.leave_terminal();
            return;
        }
        if self.input.is_some() {
            match action {
                Action::Select => self.submit_input(),
                Action::Back => self.cancel_input(),
                _ => {}
            }
            return;
        }
        if self.focus == Focus::Detail && self.apply_detail(action) {
            return;
        }
        self.apply_main(action);
    }

    fn apply_popup(&mut self, action: Action) {
        let Some(top) = self.popups.last_mut() else {
            return;
        };
        match top {
            Popup::Help(h) => match action {
                Action::Up => h.scroll(-1),
                Action::Down => h.scroll(1),
                Action::HalfPageDown | Action::PageDown => h.scroll(10),
                Action::HalfPageUp | Action::PageUp => h.scroll(-10),
                Action::Top => h.scroll(isize::MIN / 2),
                Action::Bottom => h.scroll(isize::MAX / 2),
                Action::Back | Action::Select | Action::Quit | Action::Help => {
                    self.popups.pop();
                }
                _ => {}
            },
            Popup::Error(_) => {
                if matches!(action, Action::Back | Action::Select | Action::Quit) {
                    self.popups.pop();
                }
            }
            Popup::Run(form) => match action {
                Action::Select => match form.args() {
                    Ok(args) => {
                        self.popups.pop();
                        self.flash("Running…");
                        self.effect(Effect::Run(args));
                    }
                    Err((field, e)) => {
                        form.focus = super::popups::run::Field::ALL
                            .iter()
                            .position(|f| *f == field)
                            .unwrap_or(0);
                        form.error = Some((field, e));
                    }
                },
                Action::Back => {
                    self.popups.pop();
                }
                _ => {}
            },
            Popup::Connect(c) => {
                if c.alias.is_some() {
                    match action {
                        Action::Select => {
                            let (network, container, name) =
                                (c.selected_network(), c.id.clone(), c.name.clone());
                            let alias =
                                c.alias.take().unwrap_or_default().text().trim().to_string();
                            self.popups.pop();
                            if let Some(network) = network {
                                self.flash(format!("Connecting {name} to {network}…"));
                                self.effect(Effect::ConnectNetwork {
                                    network,
                                    container,
                                    name,
                                    alias,
                                });
                            }
                        }
                        Action::Back => c.alias = None,
                        _ => {}
                    }
                    return;
                }
                match action {
                    Action::Up => c.selected = c.selected.saturating_sub(1),
                    Action::Down => {
                        c.selected = (c.selected + 1).min(c.networks.len().saturating_sub(1))
                    }
                    Action::Top => c.selected = 0,
                    Action::Bottom => c.selected = c.networks.len().saturating_sub(1),
                    Action::Select | Action::Toggle => {
                        let Some((network, member)) = c.networks.get(c.selected).cloned() else {
                            return;
                        };
                        if member {
                            let (id, name) = (c.id.clone(), c.name.clone());
                            self.popups.pop();
                            self.popups.push(Popup::Confirm(ConfirmState::disconnect(
                                &network, &id, &name,
                            )));
                        } else if network == "host" || network == "none" {
                            self.flash(format!(
                                "{network} is a network mode: it is chosen at run (--network {network}), not connected"
                            ));
                        } else {
                            c.alias = Some(LineInput::default());
                        }
                    }
                    Action::Back | Action::Quit => {
                        self.popups.pop();
                    }
                    _ => {}
                }
            }
            Popup::Confirm(_) => match action {
                Action::Confirm => {
                    if let Some(Popup::Confirm(c)) = self.popups.pop() {
                        self.run_pending(c.pending);
                    }
                }
                Action::Cancel | Action::Back => {
                    self.popups.pop();
                }
                Action::PruneAll => {
                    if let Some(Popup::Confirm(c)) = self.popups.last_mut() {
                        if let Pending::PruneVolumes { all } = c.pending {
                            *c = ConfirmState::prune_volumes(&self.volumes.rows, !all);
                        }
                    }
                }
                _ => {}
            },
            Popup::Pull => {
                let Some(pull) = self.pull.as_mut() else {
                    self.popups.pop();
                    return;
                };
                if pull.is_input() {
                    match action {
                        Action::Select => {
                            if let Some(reference) = pull.submit() {
                                self.effect(Effect::Pull(reference));
                            }
                        }
                        Action::Back => {
                            self.popups.pop();
                            self.pull = None;
                        }
                        _ => {}
                    }
                } else if matches!(action, Action::Back | Action::Select | Action::Quit) {
                    self.popups.pop();
                    if !pull.running() {
                        self.pull = None;
                    }
                }
            }
        }
    }

    fn run_pending(&mut self, pending: Pending) {
        match pending {
            Pending::Remove(reference) => {
                self.flash(format!("Deleting {reference}…"));
                self.effect(Effect::RemoveImage(reference));
            }
            Pending::Prune => {
                self.flash("Pruning dangling images…");
                self.effect(Effect::PruneImages);
            }
            Pending::RemoveContainer { id, name, force } => {
                self.flash(format!("Removing {name}…"));
                self.effect(Effect::Container {
                    op: ContainerOp::Remove { force },
                    id,
                    name,
                });
            }
            Pending::PruneContainers(list) => {
                self.flash(format!("Removing {} stopped containers…", list.len()));
                self.effect(Effect::PruneContainers(list));
            }
            Pending::RemoveVolume(name) => {
                self.flash(format!("Removing volume {name}…"));
                self.effect(Effect::RemoveVolume(name));
            }
            Pending::PruneVolumes { all } => {
                self.flash("Pruning volumes…");
                self.effect(Effect::PruneVolumes { all });
            }
            Pending::RemoveNetwork(name) => {
                self.flash(format!("Removing network {name}…"));
                self.effect(Effect::RemoveNetwork(name));
            }
            Pending::PruneNetworks => {
                self.flash("Pruning networks…");
                self.effect(Effect::PruneNetworks);
            }
            Pending::Disconnect { network, id, name } => {
                self.flash(format!("Disconnecting {name} from {network}…"));
                self.effect(Effect::DisconnectNetwork {
                    network,
                    container: id,
                    name,
                });
            }
            Pending::Quit => self.quit(),
        }
    }

    fn quit(&mut self) {
        self.quit = true;
        self.effect(Effect::Quit);
    }

    /// Actions the detail pane handles itself; false lets the main handling run.
    fn apply_detail(&mut self, action: Action) -> bool {
        if self.files_shown() && self.apply_files(action) {
            return true;
        }
        if self.resource == Resource::Containers
            && self.detail.tab == DetailTab::Mounts
            && action == Action::Select
        {
            self.jump_to_mount();
            return true;
        }
        let page = self.detail_page();
        match action {
            Action::Back => self.focus = Focus::Table,
            Action::NextTab => self.detail.tab = self.detail.tab.next(self.resource),
            Action::PrevTab => self.detail.tab = self.detail.tab.prev(self.resource),
            Action::Up => self.scroll_detail(-1),
            Action::Down => self.scroll_detail(1),
            Action::HalfPageDown => self.scroll_detail((page / 2).max(1) as isize),
            Action::HalfPageUp => self.scroll_detail(-((page / 2).max(1) as isize)),
            Action::PageDown => self.scroll_detail(page as isize),
            Action::PageUp => self.scroll_detail(-(page as isize)),
            Action::Top => self.scroll_detail(isize::MIN / 2),
            Action::Bottom => self.scroll_detail(isize::MAX / 2),
            _ if self.detail.tab == DetailTab::Logs && self.log_mut().is_some() => {
                return self.apply_logs(action);
            }
            _ if self.detail.tab == DetailTab::Inspect => {
                let Some(Load::Ready(tree)) = self.detail.inspect_mut() else {
                    return false;
                };
                match action {
                    Action::Select | Action::Toggle => tree.toggle(),
                    Action::FoldAll => tree.fold_all(),
                    Action::UnfoldAll => tree.unfold_all(),
                    Action::NextMatch | Action::PrevMatch => {
                        let fwd = action == Action::NextMatch;
                        if tree.search().is_empty() {
                            self.flash("no search: press / to search the tree");
                        } else if !tree.search_next(fwd) {
                            let q = tree.search().to_string();
                            self.flash(format!("no match for {q:?}"));
                        }
                    }
                    Action::Filter => {
                        let saved = tree.search().to_string();
                        self.input = Some(InputState {
                            kind: InputKind::Search,
                            line: LineInput::new(&saved),
                            saved,
                        });
                    }
                    _ => return false,
                }
            }
            Action::Select | Action::Toggle => {}
            _ => return false,
        }
        true
    }

    /// Keys of the log viewer (the Logs tab, focused).
    fn apply_logs(&mut self, action: Action) -> bool {
        let name = self
            .containers
            .selected()
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let Some(log) = self.log_mut() else {
            return false;
        };
        let mut flash = None;
        match action {
            Action::Follow => {
                log.toggle_follow();
                flash = Some(
                    if log.following() {
                        "following"
                    } else {
                        "paused"
                    }
                    .to_string(),
                );
            }
            Action::Timestamps => log.toggle_timestamps(),
            Action::Wrap => log.toggle_wrap(),
            Action::ScrollLeft => log.scroll_horizontal(-20),
            Action::ScrollRight => log.scroll_horizontal(20),
            Action::NextMatch | Action::PrevMatch => {
                if log.search().is_empty() {
                    flash = Some("no search: press / to search the log".into());
                } else if !log.search_next(action == Action::NextMatch) {
                    flash = Some(format!("no match for {:?}", log.search()));
                }
            }
            Action::Filter => {
                let saved = log.search().to_string();
                self.input = Some(InputState {
                    kind: InputKind::Search,
                    line: LineInput::new(&saved),
                    saved,
                });
            }
            Action::SaveLogs => {
                let text = log.to_text(log.timestamps);
                let lines = log.len();
                let safe: String = name
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let path = std::path::PathBuf::from(format!("{safe}-{}.log", self.now));
                flash = Some(format!("saving {lines} lines to {}…", path.display()));
                self.effect(Effect::SaveLogs { path, text });
            }
            Action::Select | Action::Toggle => {}
            _ => return false,
        }
        if let Some(f) = flash {
            self.flash(f);
        }
        true
    }

    fn detail_page(&self) -> usize {
        (self.areas.detail.height.saturating_sub(3) as usize).max(1)
    }

    fn scroll_detail(&mut self, delta: isize) {
        match self.detail.tab {
            DetailTab::Info => {
                let d = delta.clamp(i16::MIN as isize, i16::MAX as isize) as i16;
                self.detail.info_scroll = self.detail.info_scroll.saturating_add_signed(d);
            }
            DetailTab::Inspect => {
                if let Some(Load::Ready(t)) = self.detail.inspect_mut() {
                    if delta.abs() == 3 {
                        t.scroll(delta);
                    } else if delta < 0 {
                        t.up(delta.unsigned_abs());
                    } else {
                        t.down(delta as usize);
                    }
                }
            }
            DetailTab::History => {
                if let Some(Load::Ready(h)) = self.detail.history_mut() {
                    let len = h.len();
                    if delta.abs() == 3 {
                        h.table.scroll(delta, len);
                    } else if delta < 0 {
                        h.table.up(delta.unsigned_abs());
                    } else {
                        h.table.down(delta as usize, len);
                    }
                }
            }
            DetailTab::Logs => {
                if let Some(log) = self.log_mut() {
                    if delta == isize::MAX / 2 {
                        log.bottom_of_log();
                    } else if delta == isize::MIN / 2 {
                        log.top_of_log();
                    } else {
                        log.scroll(delta);
                    }
                }
            }
            DetailTab::Mounts => {
                let d = delta.clamp(-1000, 1000);
                self.detail.mount = self.detail.mount.saturating_add_signed(d);
                // Clamped to the mounts when drawn.
            }
            DetailTab::Files => {
                if let Some(b) = self.files_mut() {
                    b.move_by(delta);
                }
            }
            DetailTab::Containers => {
                let d = delta.clamp(-1000, 1000);
                self.detail.member = self.detail.member.saturating_add_signed(d);
                // Clamped to the containers when drawn.
            }
            DetailTab::Stats => {}
        }
    }

    fn apply_main(&mut self, action: Action) {
        if let Some((t, len)) = self.table_mut() {
            let page = t.page();
            let mut moved = true;
            match action {
                Action::Up => t.up(1),
                Action::Down => t.down(1, len),
                Action::Top => t.top(),
                Action::Bottom => t.bottom(len),
                Action::HalfPageDown => t.down((page / 2).max(1), len),
                Action::HalfPageUp => t.up((page / 2).max(1)),
                Action::PageDown => t.down(page, len),
                Action::PageUp => t.up(page),
                _ => moved = false,
            }
            if moved {
                return;
            }
        }
        let images = self.resource == Resource::Images;
        let containers = self.resource == Resource::Containers;
        let volumes = self.resource == Resource::Volumes;
        let networks = self.resource == Resource::Networks;
        let listed = images || containers || volumes || networks;
        match action {
            Action::NextTab => self.show(Resource::ALL[(self.resource.index() + 1) % 4]),
            Action::PrevTab => self.show(Resource::ALL[(self.resource.index() + 3) % 4]),
            Action::ShowContainers => self.show(Resource::Containers),
            Action::ShowImages => self.show(Resource::Images),
            Action::ShowVolumes => self.show(Resource::Volumes),
            Action::ShowNetworks => self.show(Resource::Networks),
            Action::Select
                if (images && self.images.selected().is_some())
                    || (containers && self.containers.selected().is_some())
                    || (volumes && self.volumes.selected().is_some())
                    || (networks && self.networks.selected().is_some()) =>
            {
                self.focus = Focus::Detail;
            }
            Action::Back => {
                if listed && !self.filter_text().is_empty() {
                    self.set_filter("");
                }
                self.focus = Focus::Table;
            }
            Action::Filter => {
                self.focus = Focus::Table;
                if listed {
                    let saved = self.filter_text();
                    self.input = Some(InputState {
                        kind: InputKind::Filter,
                        line: LineInput::new(&saved),
                        saved,
                    });
                } else {
                    self.flash(format!(
                        "nothing to filter: no {} yet",
                        self.resource.title().to_lowercase()
                    ));
                }
            }
            Action::Command => {
                self.input = Some(InputState {
                    kind: InputKind::Command,
                    line: LineInput::default(),
                    saved: String::new(),
                });
            }
            Action::Help => self.popups.push(Popup::Help(HelpState::default())),
            Action::Quit => {
                if self.pulling() {
                    self.popups
                        .push(Popup::Confirm(ConfirmState::quit_while_pulling(
                            self.pull
                                .as_ref()
                                .map(|p| p.reference())
                                .unwrap_or_default(),
                        )));
                } else {
                    self.quit();
                }
            }
            Action::ToggleMouse => {
                self.mouse = !self.mouse;
                self.effect(Effect::SetMouse(self.mouse));
                self.flash(if self.mouse {
                    "mouse captured: click selects, wheel scrolls"
                } else {
                    "mouse released: select text with the terminal; m captures it again"
                });
            }
            Action::Pull => self.open_pull(None),
            Action::Run => {
                let image = match self.resource {
                    Resource::Images => self
                        .images
                        .selected()
                        .filter(|r| !r.dangling)
                        .map(|r| r.reference.clone())
                        .unwrap_or_default(),
                    _ => String::new(),
                };
                self.open_run(&image, "");
            }
            _ if containers => self.apply_container(action),
            _ if volumes => self.apply_volume(action),
            _ if networks => self.apply_network(action),
            Action::Create => self.flash(format!(
                "that creates a volume or a network: {} or {} shows them",
                self.keymap.label(Action::ShowVolumes),
                self.keymap.label(Action::ShowNetworks)
            )),
            Action::Connect => self.flash("that connects a container: press 1 for the list"),
            Action::Prune => self.ask_prune(),
            Action::Delete | Action::History | Action::Inspect | Action::Copy => {
                let Some(row) = self.images.selected().cloned() else {
                    self.flash("no image selected");
                    return;
                };
                match action {
                    Action::Delete => {
                        let c = ConfirmState::delete_image(&row, self.images.summary(&row));
                        self.popups.push(Popup::Confirm(c));
                    }
                    Action::History => {
                        self.detail.tab = DetailTab::History;
                        self.focus = Focus::Detail;
                    }
                    Action::Inspect => {
                        self.detail.tab = DetailTab::Inspect;
                        self.focus = Focus::Detail;
                    }
                    _ => {
                        self.effect(Effect::Copy(row.id.clone()));
                        self.flash(format!("copied {} (OSC 52)", row.id));
                    }
                }
            }
            Action::StartStop
            | Action::Restart
            | Action::Logs
            | Action::Attach
            | Action::Exec
            | Action::ExecPane => self.flash("that works on containers: press 1 for the list"),
            _ => {}
        }
    }

    /// ctrl-o: the pane keeps running without the keyboard; an ended one closes.
    fn leave_terminal(&mut self) {
        let Some(t) = self.term.as_mut() else {
            return;
        };
        if t.state.exited.is_some() || !t.focused {
            self.term = None;
            self.effect(Effect::TermClose);
            self.flash("terminal pane closed");
        } else {
            t.focused = false;
            self.flash(format!(
                "left the terminal pane: {} focuses it again, {} again closes it",
                self.keymap.label(Action::ExecPane),
                self.keymap.label(Action::LeaveTerminal)
            ));
        }
    }

    /// `E`: focus the pane of this container, or open one (closing another container's).
    fn exec_pane(&mut self, c: &ContainerRow) {
        if let Some(t) = self.term.as_mut() {
            if t.id == c.id && t.state.exited.is_none() {
                t.focused = true;
                return;
            }
            self.term = None;
            self.effect(Effect::TermClose);
        }
        if !c.running() {
            self.flash(format!(
                "{} is not running: {} starts it",
                c.name,
                self.keymap.label(Action::StartStop)
            ));
            return;
        }
        // The size is corrected on the first frame (the pane's area is known then).
        let (rows, cols) = match self.areas.term {
            r if r.width > 0 && r.height > 0 => (r.height, r.width),
            _ => (24, 80),
        };
        self.term = Some(TermPane {
            id: c.id.clone(),
            name: c.name.clone(),
            state: TermState::new(rows, cols),
            focused: true,
        });
        self.effect(Effect::TermOpen {
            id: c.id.clone(),
            rows,
            cols,
        });
        self.flash(format!(
            "a shell in {}: {} leaves the pane",
            c.name,
            self.keymap.label(Action::LeaveTerminal)
        ));
    }

    /// The volume keys: create, remove, prune, inspect, copy the mountpoint.
    fn apply_volume(&mut self, action: Action) {
        match action {
            Action::Create => {
                self.input = Some(InputState {
                    kind: InputKind::VolumeName,
                    line: LineInput::default(),
                    saved: String::new(),
                });
                return;
            }
            Action::Prune => {
                let unused = self.volumes.rows.iter().filter(|v| !v.in_use()).count();
                if unused == 0 {
                    self.flash(if self.volumes.rows.is_empty() {
                        "nothing to prune: no volumes"
                    } else {
                        "nothing to prune: every volume is in use"
                    });
                } else {
                    self.popups.push(Popup::Confirm(ConfirmState::prune_volumes(
                        &self.volumes.rows,
                        false,
                    )));
                }
                return;
            }
            _ => {}
        }
        let Some(v) = self.volumes.selected().cloned() else {
            if matches!(action, Action::Delete | Action::Inspect | Action::Copy) {
                self.flash("no volume selected");
            }
            return;
        };
        match action {
            Action::Delete => {
                self.popups
                    .push(Popup::Confirm(ConfirmState::remove_volume(&v)));
            }
            Action::Inspect => {
                self.detail.tab = DetailTab::Inspect;
                self.focus = Focus::Detail;
            }
            Action::Copy => {
                self.effect(Effect::Copy(v.mountpoint.clone()));
                self.flash(format!("copied {} (OSC 52)", v.mountpoint));
            }
            Action::History => self.flash("history is for images: press 2 for the list"),
            Action::StartStop
            | Action::Restart
            | Action::Logs
            | Action::Attach
            | Action::Exec
            | Action::ExecPane => self.flash("that works on containers: press 1 for the list"),
            _ => {}
        }
    }

    /// The network keys: create, remove, prune, inspect, copy the ID.
    fn apply_network(&mut self, action: Action) {
        match action {
            Action::Create => {
                self.input = Some(InputState {
                    kind: InputKind::NetworkCreate,
                    line: LineInput::default(),
                    saved: String::new(),
                });
                return;
            }
            Action::Prune => {
                let going = self.prunable_networks();
                if going.is_empty() {
                    self.flash(
                        "nothing to prune: every user-defined network is in use (or there is none)",
                    );
                } else {
                    self.popups
                        .push(Popup::Confirm(ConfirmState::prune_networks(&going)));
                }
                return;
            }
            _ => {}
        }
        let Some(n) = self.networks.selected().cloned() else {
            if matches!(action, Action::Delete | Action::Inspect | Action::Copy) {
                self.flash("no network selected");
            }
            return;
        };
        match action {
            Action::Delete if n.predefined() => self.flash(format!(
                "{} is a pre-defined network and cannot be removed",
                n.name
            )),
            Action::Delete => {
                let attached = super::views::network_detail::members(self, &n);
                self.popups
                    .push(Popup::Confirm(ConfirmState::remove_network(&n, &attached)));
            }
            Action::Inspect => {
                self.detail.tab = DetailTab::Inspect;
                self.focus = Focus::Detail;
            }
            Action::Copy => {
                self.effect(Effect::Copy(n.id.clone()));
                self.flash(format!("copied {} (OSC 52)", n.id));
            }
            Action::Connect => {
                self.flash("connect works on a container: press 1, select one, then this key")
            }
            Action::History => self.flash("history is for images: press 2 for the list"),
            Action::StartStop
            | Action::Restart
            | Action::Logs
            | Action::Attach
            | Action::Exec
            | Action::ExecPane => self.flash("that works on containers: press 1 for the list"),
            _ => {}
        }
    }

    /// What `network prune` removes, as the engine decides it: user-defined networks with
    /// no live endpoint and no container attached (running or not).
    pub fn prunable_networks(&self) -> Vec<super::views::networks::NetworkRow> {
        self.networks
            .rows
            .iter()
            .filter(|n| {
                !n.predefined()
                    && !n.in_use()
                    && !self
                        .containers
                        .rows
                        .iter()
                        .any(|c| c.networks.contains(&n.name))
            })
            .cloned()
            .collect()
    }

    /// The connect dialog of a container: every network, its membership marked.
    fn open_connect(&mut self, c: &ContainerRow) {
        if !self.networks.loaded {
            self.effect(Effect::LoadNetworks);
        }
        let networks: Vec<(String, bool)> = self
            .networks
            .rows
            .iter()
            .map(|n| (n.name.clone(), c.networks.contains(&n.name)))
            .collect();
        self.popups
            .push(Popup::Connect(super::popups::connect::ConnectState::new(
                &c.id, &c.name, networks,
            )));
    }

    /// Keys of the Files tab; false lets the detail pane's own handling run.
    fn apply_files(&mut self, action: Action) -> bool {
        let Some(volume) = self.volumes.selected().map(|v| v.name.clone()) else {
            return false;
        };
        let text_open = self.files_mut().and_then(|b| b.text_mut()).is_some();
        let Some(b) = self.files_mut() else {
            return false;
        };
        let request = match action {
            Action::Select | Action::Toggle if b.viewer.is_none() => b.open(),
            Action::Parent => {
                if b.viewer.is_none() && b.path.is_empty() {
                    self.flash("at the top of the volume");
                    return true;
                }
                b.up()
            }
            Action::Back if b.viewer.is_some() => b.up(),
            Action::Filter
            | Action::NextMatch
            | Action::PrevMatch
            | Action::Wrap
            | Action::ScrollLeft
            | Action::ScrollRight
                if text_open =>
            {
                return self.apply_logs(action);
            }
            _ => return false,
        };
        match request {
            Some(FileRequest::Dir(path)) => self.effect(Effect::VolumeReadDir { volume, path }),
            Some(FileRequest::File(path)) => self.effect(Effect::VolumeReadFile { volume, path }),
            None => {}
        }
        true
    }

    /// Enter on a volume mount of a container: the Volumes pane, that volume, its files.
    fn jump_to_mount(&mut self) {
        let Some(c) = self.containers.selected() else {
            return;
        };
        let id = c.id.clone();
        let mounts: Vec<serde_json::Value> = match &self.detail.inspect {
            Some((i, Load::Ready(t))) if *i == id => t
                .value()
                .get("Mounts")
                .and_then(|m| m.as_array())
                .cloned()
                .unwrap_or_default(),
            _ => return,
        };
        let Some(m) = mounts.get(self.detail.mount.min(mounts.len().saturating_sub(1))) else {
            return;
        };
        let field = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        if field("Type") != "volume" || field("Name").is_empty() {
            self.flash(format!(
                "{} is a {} mount of the host, not a volume",
                field("Source"),
                field("Type")
            ));
            return;
        }
        let name = field("Name");
        self.show(Resource::Volumes);
        self.detail.tab = DetailTab::Files;
        self.focus = Focus::Detail;
        if !self.volumes.select(&name) {
            self.select_volume = Some(name);
        }
    }

    /// The container keys on the selected container.
    fn apply_container(&mut self, action: Action) {
        if action == Action::Prune {
            let stopped: Vec<ContainerRow> = self
                .containers
                .rows
                .iter()
                .filter(|r| r.stopped())
                .cloned()
                .collect();
            if stopped.is_empty() {
                self.flash("nothing to prune: no stopped containers");
            } else {
                self.popups
                    .push(Popup::Confirm(ConfirmState::prune_containers(&stopped)));
            }
            return;
        }
        let Some(c) = self.containers.selected().cloned() else {
            if matches!(
                action,
                Action::Delete
                    | Action::StartStop
                    | Action::Restart
                    | Action::Logs
                    | Action::Attach
                    | Action::Exec
                    | Action::ExecPane
                    | Action::Inspect
                    | Action::Copy
                    | Action::Connect
            ) {
                self.flash("no container selected");
            }
            return;
        };
        let (id, name) = (c.id.clone(), c.name.clone());
        match action {
            Action::StartStop => {
                let op = if c.running() {
                    self.flash(format!("Stopping {name}…"));
                    ContainerOp::Stop
                } else {
                    self.flash(format!("Starting {name}…"));
                    ContainerOp::Start
                };
                self.effect(Effect::Container { op, id, name });
            }
            Action::Restart => {
                self.flash(format!("Restarting {name}…"));
                self.effect(Effect::Container {
                    op: ContainerOp::Restart,
                    id,
                    name,
                });
            }
            Action::Delete => {
                self.popups
                    .push(Popup::Confirm(ConfirmState::delete_container(&c)));
            }
            Action::Inspect => {
                self.detail.tab = DetailTab::Inspect;
                self.focus = Focus::Detail;
            }
            Action::Logs => {
                self.detail.tab = DetailTab::Logs;
                self.focus = Focus::Detail;
            }
            Action::Copy => {
                self.effect(Effect::Copy(id.clone()));
                self.flash(format!("copied {id} (OSC 52)"));
            }
            Action::Attach | Action::Exec if !c.running() => {
                self.flash(format!(
                    "{name} is not running: {} starts it",
                    self.keymap.label(Action::StartStop)
                ));
            }
            Action::Attach => self.effect(Effect::Attach(id)),
            Action::ExecPane => self.exec_pane(&c),
            Action::Connect => self.open_connect(&c),
            Action::Exec => self.effect(Effect::Exec(id)),
            Action::History => self.flash("history is for images: press 2 for the list"),
            _ => {}
        }
    }

    fn show(&mut self, r: Resource) {
        if r == Resource::Volumes && self.resource != r {
            // Sizes change with no event: read them again when the tab shows.
            self.effect(Effect::LoadVolumes);
        }
        if r == Resource::Networks && self.resource != r {
            self.effect(Effect::LoadNetworks);
        }
        self.resource = r;
        self.focus = Focus::Table;
        self.chose_tab = true;
        if !DetailTab::tabs(r).contains(&self.detail.tab) {
            self.detail.tab = DetailTab::Info;
        }
    }

    /// The run form, with an image and a command filled in (from `:run`).
    pub fn open_run(&mut self, image: &str, command: &str) {
        self.popups
            .push(Popup::Run(Box::new(super::popups::run::RunForm::new(
                image, command,
            ))));
    }

    fn open_pull(&mut self, reference: Option<String>) {
        if self.pulling() {
            // One pull at a time: show the one running.
            if !matches!(self.popups.last(), Some(Popup::Pull)) {
                self.popups.push(Popup::Pull);
            }
            if reference.is_some() {
                self.flash("a pull is already running");
            }
            return;
        }
        let mut pull = PullState::new();
        if let Some(r) = reference {
            if let Some(line) = pull.input_mut() {
                line.insert_str(&r);
            }
            match pull.submit() {
                Some(r) => self.effect(Effect::Pull(r)),
                None => {
                    // Invalid: leave the input open with the message.
                }
            }
        }
        self.pull = Some(pull);
        self.popups.retain(|p| !matches!(p, Popup::Pull));
        self.popups.push(Popup::Pull);
    }

    fn ask_prune(&mut self) {
        let dangling: Vec<_> = self
            .images
            .summaries
            .iter()
            .filter(|s| s.repo_tags.is_empty())
            .cloned()
            .collect();
        if dangling.is_empty() {
            self.flash("nothing to prune: no dangling images");
            return;
        }
        self.popups
            .push(Popup::Confirm(ConfirmState::prune(&dangling, self.now)));
    }

    fn submit_input(&mut self) {
        let Some(input) = self.input.take() else {
            return;
        };
        match input.kind {
            InputKind::Filter => self.set_filter(input.line.text()),
            InputKind::Search => {
                let q = input.line.text().to_string();
                let found = if let Some(log) = self.log_mut() {
                    log.set_search(&q);
                    q.is_empty() || log.search_next(true)
                } else if let Some(Load::Ready(tree)) = self.detail.inspect_mut() {
                    tree.set_search(&q);
                    q.is_empty() || tree.search_next(true)
                } else {
                    true
                };
                if !found {
                    self.flash(format!("no match for {q:?}"));
                }
            }
            InputKind::VolumeName => {
                let name = input.line.text().trim().to_string();
                self.flash(if name.is_empty() {
                    "Creating a volume…".to_string()
                } else {
                    format!("Creating volume {name}…")
                });
                self.effect(Effect::CreateVolume(name));
            }
            InputKind::NetworkCreate => {
                match super::popups::connect::parse_create(input.line.text()) {
                    Ok(spec) => {
                        self.flash(format!("Creating network {}…", spec.name));
                        self.effect(Effect::CreateNetwork(spec));
                    }
                    Err(e) => {
                        // Keep what was typed: the message says what to fix.
                        self.input = Some(input);
                        self.status = Some(Status {
                            text: e,
                            error: true,
                        });
                    }
                }
            }
            InputKind::Command => match command::parse(input.line.text()) {
                Ok(None) => {}
                Ok(Some(cmd)) => self.run_command(cmd),
                Err(e) => self.error("Command", e),
            },
        }
    }

    fn cancel_input(&mut self) {
        let Some(input) = self.input.take() else {
            return;
        };
        match input.kind {
            InputKind::Filter => self.set_filter(&input.saved),
            InputKind::Search => self.set_search(&input.saved),
            InputKind::Command | InputKind::VolumeName | InputKind::NetworkCreate => {}
        }
    }

    fn run_command(&mut self, cmd: Command) {
        match cmd {
            Command::Pull(r) => self.open_pull(r),
            Command::Run(args) => {
                if args.first().is_some_and(|a| a.starts_with('-')) {
                    // Docker flags given: exactly `rdesk run ARGS`.
                    match super::popups::run::check_args(&args) {
                        Ok(()) => {
                            self.flash("Running…");
                            self.effect(Effect::Run(args));
                        }
                        Err(e) => self.error("Cannot run", e),
                    }
                } else {
                    let image = args.first().cloned().unwrap_or_default();
                    let command = args.get(1..).unwrap_or_default().join(" ");
                    self.open_run(&image, &command);
                }
            }
            Command::Show(r) => self.show(r),
            Command::Help => self.popups.push(Popup::Help(HelpState::default())),
            Command::Quit => self.apply_main(Action::Quit),
        }
    }

    // ---- notifications ------------------------------------------------------------------

    pub fn on_notification(&mut self, n: Notification) {
        self.dirty = true;
        match n {
            Notification::StoreChanged => self.effect(Effect::LoadImages),
            Notification::ContainersChanged => self.effect(Effect::LoadContainers),
            Notification::VolumesChanged => self.effect(Effect::LoadVolumes),
            Notification::NetworksChanged => self.effect(Effect::LoadNetworks),
            Notification::NetworksLoaded(Ok(list)) => {
                let select = self.select_network.take();
                self.networks.set_networks(list, select.as_deref());
                if self.resource == Resource::Networks {
                    self.detail.inspect_stale = true;
                }
            }
            Notification::NetworksLoaded(Err(e)) => {
                self.networks.loaded = true;
                self.error("Cannot list networks", e);
            }
            Notification::NetworkDone {
                what,
                result,
                select,
            } => {
                self.done(&what, result);
                if let Some(name) = select {
                    self.select_network = Some(name);
                }
                self.effect(Effect::LoadNetworks);
                self.effect(Effect::LoadContainers);
            }
            Notification::VolumesLoaded(Ok(list)) => {
                let select = self.select_volume.take();
                self.volumes.set_volumes(list, self.now, select.as_deref());
                let names: Vec<String> = self.volumes.rows.iter().map(|r| r.name.clone()).collect();
                if self
                    .detail
                    .files
                    .as_ref()
                    .is_some_and(|(v, _)| !names.contains(v))
                {
                    self.detail.files = None;
                }
                if self.resource == Resource::Volumes {
                    self.detail.inspect_stale = true;
                    // The volume changed (written, or its users did): list the directory
                    // shown again, keeping the selection.
                    if let Some((v, b)) = self.detail.files.as_ref() {
                        if self.detail.tab == DetailTab::Files
                            && b.viewer.is_none()
                            && b.entries.is_some()
                        {
                            self.effect(Effect::VolumeReadDir {
                                volume: v.clone(),
                                path: b.path.clone(),
                            });
                        }
                    }
                }
            }
            Notification::VolumesLoaded(Err(e)) => {
                self.volumes.loaded = true;
                self.error("Cannot list volumes", e);
            }
            Notification::VolumeDone {
                what,
                result,
                select,
            } => {
                self.done(&what, result);
                if let Some(name) = select {
                    self.select_volume = Some(name);
                }
                self.effect(Effect::LoadVolumes);
            }
            Notification::VolumeDir {
                volume,
                path,
                result,
            } => {
                if let Some((v, b)) = self.detail.files.as_mut() {
                    if *v == volume {
                        b.set_listing(&path, result);
                    }
                }
            }
            Notification::VolumeFile {
                volume,
                path,
                result,
            } => {
                if let Some((v, b)) = self.detail.files.as_mut() {
                    if *v == volume {
                        b.set_file(&path, result, FILE_CAP);
                    }
                }
            }
            Notification::ContainersLoaded(Ok(list)) => {
                let first = !self.containers.loaded;
                let select = self.select_container.take();
                self.containers
                    .set_containers(list, self.now, select.as_deref());
                if first && !self.chose_tab && !self.containers.rows.is_empty() {
                    // The default tab once there are containers.
                    self.resource = Resource::Containers;
                }
                if self.resource == Resource::Containers {
                    self.detail.inspect_stale = true;
                }
            }
            Notification::ContainersLoaded(Err(e)) => {
                self.containers.loaded = true;
                self.error("Cannot list containers", e);
            }
            Notification::ContainerDone { what, result } => match result {
                Ok(msg) => {
                    self.flash(msg);
                    self.effect(Effect::LoadContainers);
                }
                Err(e) => {
                    self.error(&format!("Cannot {what}"), e);
                    self.effect(Effect::LoadContainers);
                }
            },
            Notification::LogLines { id, lines, reset } => {
                let tail = self.log_tail.max(1);
                match self.detail.logs.as_mut() {
                    Some((cur, log)) if *cur == id => {
                        if reset {
                            log.clear();
                        }
                        log.extend(lines);
                    }
                    _ if reset => {
                        // Keep up to ten times the tail as it grows.
                        let mut log = LogViewState::new(tail.saturating_mul(10).max(10_000));
                        log.extend(lines);
                        self.detail.logs = Some((id, log));
                    }
                    _ => {}
                }
            }
            Notification::LogFailed { id, error } => {
                if self.detail.logs.as_ref().is_none_or(|(cur, _)| *cur == id) {
                    let mut log = LogViewState::new(1);
                    log.ended = true;
                    log.push(LogLine::new(
                        "",
                        &format!("cannot read the log: {error}"),
                        true,
                    ));
                    self.detail.logs = Some((id, log));
                }
            }
            Notification::Stats { id, result } => {
                let entry = match self.detail.stats.as_mut() {
                    Some((cur, st)) if *cur == id => st,
                    _ => {
                        self.detail.stats = Some((id, Default::default()));
                        &mut self.detail.stats.as_mut().expect("just set").1
                    }
                };
                match result {
                    Ok(sample) => entry.push(*sample),
                    Err(e) => entry.error = Some(e),
                }
            }
            Notification::RunDone(Ok(id)) => {
                self.flash(format!("started {}", &id[..id.len().min(12)]));
                self.select_container = Some(id);
                self.resource = Resource::Containers;
                self.effect(Effect::LoadContainers);
            }
            Notification::RunDone(Err(e)) => self.error("Cannot run", e),
            Notification::RunCreated(id) => {
                self.select_container = Some(id.clone());
                self.resource = Resource::Containers;
                self.effect(Effect::StartAttached(id));
            }
            Notification::HandoverDone(Ok(msg)) => {
                self.flash(msg);
                self.effect(Effect::LoadContainers);
            }
            Notification::HandoverDone(Err(e)) => {
                self.error("Attach", e);
                self.effect(Effect::LoadContainers);
            }
            Notification::Status(msg) => self.flash(msg),
            Notification::TermOutput { id, bytes } => {
                if let Some(t) = self.term.as_mut().filter(|t| t.id == id) {
                    t.state.process(&bytes);
                }
            }
            Notification::TermEnded { id, how } => {
                if let Some(t) = self.term.as_mut().filter(|t| t.id == id) {
                    t.state.exited = Some(how.clone());
                    t.focused = false;
                    let name = t.name.clone();
                    self.flash(format!(
                        "the shell in {name} ended ({how}); {} closes the pane",
                        self.keymap.label(Action::LeaveTerminal)
                    ));
                }
            }
            Notification::ImagesLoaded(Ok(images)) => {
                let select = self.select_after_load.take();
                self.images.set_images(images, self.now, select.as_deref());
                self.detail.images_changed(&self.images);
            }
            Notification::ImagesLoaded(Err(e)) => {
                self.images.loaded = true;
                self.error("Cannot list images", e);
            }
            Notification::HistoryLoaded { id, result } => {
                let now = self.now;
                self.detail.history_loaded(&id, result, now);
            }
            Notification::InspectLoaded { id, result } => self.detail.inspect_loaded(&id, result),
            Notification::PullProgress(info) => {
                if let Some(p) = self.pull.as_mut() {
                    p.progress(&info);
                }
            }
            Notification::PullDone(Ok(reference)) => {
                if let Some(p) = self.pull.as_mut() {
                    p.finish(Ok(reference.clone()));
                }
                if !matches!(self.popups.last(), Some(Popup::Pull)) {
                    self.pull = None;
                }
                self.flash(format!("pulled {reference}"));
                self.select_after_load = Some(reference);
                self.effect(Effect::LoadImages);
            }
            Notification::PullDone(Err(e)) => {
                let reference = self
                    .pull
                    .as_ref()
                    .map(|p| p.reference())
                    .unwrap_or_default();
                self.pull = None;
                self.popups.retain(|p| !matches!(p, Popup::Pull));
                self.error("Pull failed", format!("{reference}: {e}"));
                self.effect(Effect::LoadImages);
            }
            Notification::Removed { reference, result } => match result {
                Ok(items) => {
                    let untagged = items.iter().filter(|i| i.untagged.is_some()).count();
                    let deleted = items.iter().filter(|i| i.deleted.is_some()).count();
                    self.flash(match (untagged, deleted) {
                        (_, 0) => format!("untagged {reference}"),
                        _ => format!("deleted {reference} ({deleted} layers and blobs removed)"),
                    });
                    self.effect(Effect::LoadImages);
                }
                Err(e) => self.error("Cannot delete", format!("{reference}: {e}")),
            },
            Notification::Pruned(Ok(resp)) => {
                let n = resp
                    .images_deleted
                    .as_ref()
                    .map(|v| v.iter().filter(|i| i.deleted.is_some()).count())
                    .unwrap_or(0);
                let space = resp.space_reclaimed.unwrap_or(0);
                self.flash(format!(
                    "pruned: {n} objects deleted, {} reclaimed",
                    human_size(space as f64)
                ));
                self.effect(Effect::LoadImages);
            }
            Notification::Pruned(Err(e)) => self.error("Cannot prune", e),
            Notification::Error(e) => self.error("Error", e),
        }
        self.sync_detail();
    }

    /// Refreshes relative times; true when a label changed.
    pub fn tick(&mut self, now: i64) -> bool {
        self.now = now;
        let changed = self.images.refresh_ages(now)
            | self.containers.refresh_ages(now)
            | self.volumes.refresh_ages(now);
        if self.resource == Resource::Volumes {
            // Sizes change as containers write, with no event: re-read them while shown.
            self.effect(Effect::LoadVolumes);
        }
        if !self.containers.rows.is_empty() {
            // "Up 5 minutes" comes from the engine: re-read the list.
            self.effect(Effect::LoadContainers);
        }
        self.dirty |= changed;
        changed
    }

    /// Asks for what the detail pane shows and does not have yet; starts and stops the log
    /// follower and the stats sampler so that they run only while their tab is shown.
    fn sync_detail(&mut self) {
        let (mut follow, mut sample) = (None, None);
        match self.resource {
            Resource::Images => self.sync_image_detail(),
            Resource::Volumes => self.sync_volume_detail(),
            Resource::Networks => self.sync_network_detail(),
            Resource::Containers => {
                if let Some(c) = self.containers.selected().cloned() {
                    match self.detail.tab {
                        DetailTab::Logs => follow = Some(c.id.clone()),
                        DetailTab::Stats if c.running() => sample = Some(c.id.clone()),
                        DetailTab::Stats => {}
                        _ => {
                            let id = c.id.clone();
                            if self.detail.inspect_id() != Some(id.as_str())
                                || self.detail.inspect_stale
                            {
                                if self.detail.inspect_id() != Some(id.as_str()) {
                                    self.detail.inspect = Some((id.clone(), Load::Loading));
                                }
                                self.detail.inspect_stale = false;
                                self.effect(Effect::LoadContainerInspect(id));
                            }
                        }
                    }
                }
            }
        }
        if follow != self.following {
            if follow.is_some() && self.detail.logs.as_ref().map(|(i, _)| i) != follow.as_ref() {
                self.detail.logs = None;
            }
            self.following = follow.clone();
            self.effect(Effect::FollowLogs(follow));
        }
        if sample != self.sampling {
            if sample.is_some() && self.detail.stats.as_ref().map(|(i, _)| i) != sample.as_ref() {
                self.detail.stats = None;
            }
            self.sampling = sample.clone();
            self.effect(Effect::SampleStats(sample));
        }
    }

    fn sync_network_detail(&mut self) {
        let Some(name) = self.networks.selected().map(|r| r.name.clone()) else {
            return;
        };
        if self.detail.tab == DetailTab::Inspect {
            let key = super::views::network_detail::inspect_key(&name);
            if self.detail.inspect_id() != Some(key.as_str()) || self.detail.inspect_stale {
                if self.detail.inspect_id() != Some(key.as_str()) {
                    self.detail.inspect = Some((key, Load::Loading));
                }
                self.detail.inspect_stale = false;
                self.effect(Effect::LoadNetworkInspect(name));
            }
        }
    }

    fn sync_volume_detail(&mut self) {
        let Some(name) = self.volumes.selected().map(|r| r.name.clone()) else {
            return;
        };
        match self.detail.tab {
            DetailTab::Inspect => {
                let key = inspect_key(&name);
                if self.detail.inspect_id() != Some(key.as_str()) || self.detail.inspect_stale {
                    if self.detail.inspect_id() != Some(key.as_str()) {
                        self.detail.inspect = Some((key, Load::Loading));
                    }
                    self.detail.inspect_stale = false;
                    self.effect(Effect::LoadVolumeInspect(name));
                }
            }
            DetailTab::Files if self.detail.files.as_ref().map(|(v, _)| v) != Some(&name) => {
                self.detail.files = Some((name.clone(), FileBrowserState::new()));
                self.effect(Effect::VolumeReadDir {
                    volume: name,
                    path: String::new(),
                });
            }
            _ => {}
        }
    }

    fn sync_image_detail(&mut self) {
        let Some(id) = self.images.selected().map(|r| r.id.clone()) else {
            return;
        };
        match self.detail.tab {
            DetailTab::History if self.detail.history_id() != Some(id.as_str()) => {
                self.detail.history = Some((id.clone(), Load::Loading));
                self.effect(Effect::LoadHistory(id));
            }
            DetailTab::Inspect
                if self.detail.inspect_id() != Some(id.as_str()) || self.detail.inspect_stale =>
            {
                if self.detail.inspect_id() != Some(id.as_str()) {
                    self.detail.inspect = Some((id.clone(), Load::Loading));
                }
                self.detail.inspect_stale = false;
                self.effect(Effect::LoadInspect(id));
            }
            _ => {}
        }
    }
}
