//! Everything a key can do. Keys reach the app only as an `Action` (see `keymap.rs`); the
//! table below names each action for `[tui.keys]`, gives its default keys and its help
//! line, and says where it applies.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    Top,
    Bottom,
    HalfPageDown,
    HalfPageUp,
    PageDown,
    PageUp,
    NextTab,
    PrevTab,
    ShowContainers,
    ShowImages,
    ShowVolumes,
    ShowNetworks,
    Select,
    Back,
    Toggle,
    Filter,
    Command,
    Help,
    Quit,
    ForceQuit,
    ToggleMouse,
    Pull,
    Delete,
    Prune,
    History,
    Inspect,
    Copy,
    NextMatch,
    PrevMatch,
    FoldAll,
    UnfoldAll,
    Confirm,
    Cancel,
    StartStop,
    Restart,
    Logs,
    Attach,
    Exec,
    Run,
    Follow,
    Timestamps,
    Wrap,
    SaveLogs,
    ScrollLeft,
    ScrollRight,
    ExecPane,
    LeaveTerminal,
    Create,
    Parent,
    PruneAll,
    Connect,
}

/// Where the keyboard is: which actions a key may resolve to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// The resource table has the focus.
    Table,
    /// The detail pane (info, inspect tree, history) has the focus.
    Detail,
    /// A yes/no question.
    Confirm,
    /// A message, the help, the pull progress.
    Popup,
    /// A text input (filter, command bar, image reference): other keys edit the text.
    Input,
    /// The terminal pane has the keyboard: every key goes to its process but the one that
    /// leaves it.
    Terminal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Navigation,
    General,
    Resources,
    Containers,
    Images,
    Files,
    Inspect,
    Logs,
    Dialogs,
}

impl Group {
    pub fn title(self) -> &'static str {
        match self {
            Group::Navigation => "Navigation",
            Group::General => "General",
            Group::Resources => "Containers, images, volumes, networks",
            Group::Containers => "Containers",
            Group::Images => "Images",
            Group::Files => "Files (a volume's Files tab)",
            Group::Inspect => "Inspect tree",
            Group::Logs => "Logs",
            Group::Dialogs => "Dialogs",
        }
    }
}

pub struct ActionDef {
    pub action: Action,
    /// The name in `[tui.keys]`.
    pub name: &'static str,
    pub keys: &'static [&'static str],
    pub help: &'static str,
    pub group: Group,
}

const fn def(
    action: Action,
    name: &'static str,
    keys: &'static [&'static str],
    group: Group,
    help: &'static str,
) -> ActionDef {
    ActionDef {
        action,
        name,
        keys,
        help,
        group,
    }
}

use Group::*;

/// Every action, in the order the help lists them. A key bound to several actions resolves
/// to the first one that applies in the current context.
pub const ACTIONS: &[ActionDef] = &[
    def(Action::Up, "up", &["up", "k"], Navigation, "move up"),
    def(
        Action::Down,
        "down",
        &["down", "j"],
        Navigation,
        "move down",
    ),
    def(
        Action::Top,
        "top",
        &["g", "home"],
        Navigation,
        "go to the first row",
    ),
    def(
        Action::Bottom,
        "bottom",
        &["G", "end"],
        Navigation,
        "go to the last row",
    ),
    def(
        Action::HalfPageDown,
        "half_page_down",
        &["ctrl-d"],
        Navigation,
        "half a page down",
    ),
    def(
        Action::HalfPageUp,
        "half_page_up",
        &["ctrl-u"],
        Navigation,
        "half a page up",
    ),
    def(
        Action::PageDown,
        "page_down",
        &["pagedown"],
        Navigation,
        "a page down",
    ),
    def(
        Action::PageUp,
        "page_up",
        &["pageup"],
        Navigation,
        "a page up",
    ),
    def(
        Action::NextTab,
        "next_tab",
        &["tab", "right"],
        Navigation,
        "next resource; next tab in the detail pane",
    ),
    def(
        Action::PrevTab,
        "prev_tab",
        &["backtab", "left"],
        Navigation,
        "previous resource; previous detail tab",
    ),
    def(
        Action::ShowContainers,
        "containers",
        &["1"],
        Navigation,
        "containers",
    ),
    def(Action::ShowImages, "images", &["2"], Navigation, "images"),
    def(
        Action::ShowVolumes,
        "volumes",
        &["3"],
        Navigation,
        "volumes",
    ),
    def(
        Action::ShowNetworks,
        "networks",
        &["4"],
        Navigation,
        "networks",
    ),
    def(
        Action::Select,
        "select",
        &["enter"],
        Navigation,
        "details of the row; fold/unfold in inspect; open in Files; a volume mount: its files",
    ),
    def(
        Action::Back,
        "back",
        &["esc"],
        Navigation,
        "close, go back, clear the filter",
    ),
    def(
        Action::Filter,
        "filter",
        &["/"],
        General,
        "filter the list (fuzzy); search in inspect and logs",
    ),
    def(
        Action::Command,
        "command",
        &[":"],
        General,
        "command bar (see below)",
    ),
    def(Action::Help, "help", &["?"], General, "this help"),
    def(
        Action::ToggleMouse,
        "mouse",
        &["m"],
        General,
        "release the mouse to select text; again to capture",
    ),
    def(Action::Quit, "quit", &["q"], General, "quit"),
    def(
        Action::ForceQuit,
        "force_quit",
        &["ctrl-c"],
        General,
        "quit from anywhere",
    ),
    def(
        Action::Delete,
        "delete",
        &["d"],
        Resources,
        "delete the selected container (force when running), image (untag), volume or network",
    ),
    def(
        Action::Prune,
        "prune",
        &["P"],
        Resources,
        "prune stopped containers / dangling images / unused volumes / unused networks",
    ),
    def(
        Action::Inspect,
        "inspect",
        &["i"],
        Resources,
        "inspect the selected row (JSON tree)",
    ),
    def(
        Action::Copy,
        "copy",
        &["y"],
        Resources,
        "copy the full ID (a volume's mountpoint) to the clipboard (OSC 52)",
    ),
    def(
        Action::Run,
        "run",
        &["r"],
        Containers,
        "run a container (form); also :run IMAGE [CMD]",
    ),
    def(
        Action::StartStop,
        "start_stop",
        &["s"],
        Containers,
        "start a stopped container, stop a running one",
    ),
    def(
        Action::Restart,
        "restart",
        &["R"],
        Containers,
        "restart the selected container",
    ),
    def(
        Action::Logs,
        "logs",
        &["l"],
        Containers,
        "logs of the selected container",
    ),
    def(
        Action::Attach,
        "attach",
        &["a"],
        Containers,
        "attach (full screen; ctrl-p ctrl-q comes back)",
    ),
    def(
        Action::Exec,
        "exec",
        &["e"],
        Containers,
        "exec a shell (bash, else sh; ctrl-p ctrl-q comes back)",
    ),
    def(
        Action::ExecPane,
        "exec_pane",
        &["E"],
        Containers,
        "a shell in a terminal pane beside the list (again: focus it)",
    ),
    def(
        Action::LeaveTerminal,
        "leave_terminal",
        &["ctrl-o"],
        Containers,
        "leave the terminal pane (the shell goes on); close it once it ended",
    ),
    def(Action::Pull, "pull", &["p"], Images, "pull an image"),
    def(
        Action::History,
        "history",
        &["h"],
        Images,
        "layer history of the selected image",
    ),
    def(
        Action::Create,
        "create",
        &["c"],
        Resources,
        "create a volume (name; empty: generated) / a network (NAME [--subnet CIDR] [--internal])",
    ),
    def(
        Action::Connect,
        "connect",
        &["n"],
        Containers,
        "connect the selected container to a network / disconnect it (dialog)",
    ),
    def(
        Action::Toggle,
        "toggle",
        &["space"],
        Inspect,
        "fold/unfold the object or array",
    ),
    def(
        Action::NextMatch,
        "next_match",
        &["n"],
        Inspect,
        "next search match",
    ),
    def(
        Action::PrevMatch,
        "prev_match",
        &["N"],
        Inspect,
        "previous search match",
    ),
    def(
        Action::FoldAll,
        "fold_all",
        &["-"],
        Inspect,
        "fold everything",
    ),
    def(
        Action::UnfoldAll,
        "unfold_all",
        &["+"],
        Inspect,
        "unfold everything",
    ),
    def(
        Action::Parent,
        "parent",
        &["backspace", "-"],
        Files,
        "close the file; the parent directory",
    ),
    def(
        Action::Follow,
        "follow",
        &["f"],
        Logs,
        "follow the end / pause",
    ),
    def(
        Action::Timestamps,
        "timestamps",
        &["t"],
        Logs,
        "show/hide timestamps",
    ),
    def(
        Action::Wrap,
        "wrap",
        &["w"],
        Logs,
        "wrap long lines / cut them",
    ),
    def(
        Action::ScrollLeft,
        "scroll_left",
        &["<"],
        Logs,
        "scroll long lines left (when not wrapping)",
    ),
    def(
        Action::ScrollRight,
        "scroll_right",
        &[">"],
        Logs,
        "scroll long lines right",
    ),
    def(
        Action::SaveLogs,
        "save_logs",
        &["ctrl-s"],
        Logs,
        "save the log to a file in the current directory",
    ),
    def(
        Action::Confirm,
        "confirm",
        &["y", "enter"],
        Dialogs,
        "yes: do it",
    ),
    def(
        Action::Cancel,
        "cancel",
        &["n"],
        Dialogs,
        "no: leave it (esc too)",
    ),
    def(
        Action::PruneAll,
        "prune_all",
        &["a"],
        Dialogs,
        "volume prune: all unused volumes / anonymous ones only",
    ),
];

impl Action {
    pub fn allowed_in(self, ctx: Context) -> bool {
        use Action::*;
        match ctx {
            Context::Input => matches!(self, Select | Back | ForceQuit),
            Context::Terminal => matches!(self, LeaveTerminal),
            Context::Confirm => matches!(self, Confirm | Cancel | Back | ForceQuit | PruneAll),
            Context::Popup => matches!(
                self,
                Up | Down
                    | Top
                    | Bottom
                    | HalfPageDown
                    | HalfPageUp
                    | PageDown
                    | PageUp
                    | Select
                    | Back
                    | Quit
                    | ForceQuit
                    | Help
            ),
            Context::Detail if self == Connect => false,
            Context::Table => !matches!(
                self,
                Confirm
                    | Cancel
                    | PruneAll
                    | Parent
                    | Toggle
                    | NextMatch
                    | PrevMatch
                    | FoldAll
                    | UnfoldAll
                    | Follow
                    | Timestamps
                    | Wrap
                    | SaveLogs
                    | ScrollLeft
                    | ScrollRight
            ),
            Context::Detail => !matches!(self, Confirm | Cancel | PruneAll),
        }
    }
}
