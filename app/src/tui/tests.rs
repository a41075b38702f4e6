//! Snapshot tests of every view and dialog (ratatui `TestBackend` + insta), and the
//! behaviour behind the keys, driven with plain data: no engine, no terminal.

use super::app::{App, Focus, Resource};
use super::event::ContainerOp;
use super::event::{Effect, Notification};
use super::keymap::KeyMap;
use super::popups::Popup;
use super::theme::Theme;
use super::views;
use super::views::detail::DetailTab;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use rdesk_engine::models::{
    ContainerSummary, ContainerSummaryStateEnum as ContainerState, CreateImageInfo,
    HistoryResponseItem, ImageDeleteResponseItem, ImageSummary, ProgressDetail,
};
use rdesk_widgets::LogLine;
use serde_json::json;

impl App {
    fn app_ctrl_s(&mut self) {
        self.on_key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    }
}

const NOW: i64 = 1_700_000_000;
const BUSYBOX: &str = "sha256:6d5d2b2c1a6e4b1b9c0f8a1d3e5f7a9b2c4d6e8f0a1b3c5d7e9f1a2b3c4d5e6f";
const ALPINE: &str = "sha256:a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const DANGLING: &str = "sha256:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

fn image(id: &str, tags: &[&str], created_ago: i64, size: i64) -> ImageSummary {
    ImageSummary {
        id: id.into(),
        repo_tags: tags.iter().map(|t| t.to_string()).collect(),
        repo_digests: tags
            .iter()
            .map(|t| {
                format!(
                    "{}@sha256:{}",
                    t.rsplit_once(':').unwrap().0,
                    "ab".repeat(32)
                )
            })
            .collect(),
        created: NOW - created_ago,
        size,
        shared_size: -1,
        virtual_size: Some(size),
        containers: -1,
        ..Default::default()
    }
}

fn three_images() -> Vec<ImageSummary> {
    let mut dangling = image(DANGLING, &[], 86_400 * 40, 7_340_032);
    dangling.repo_digests.clear();
    let mut busybox = image(BUSYBOX, &["busybox:latest"], 3600 * 5, 4_261_550);
    busybox
        .labels
        .insert("org.opencontainers.image.title".into(), "busybox".into());
    vec![
        busybox,
        image(ALPINE, &["alpine:3.20"], 86_400 * 3, 7_800_000),
        dangling,
    ]
}

fn app() -> App {
    let mut app = App::new(
        Theme::monochrome(),
        KeyMap::default(),
        "/var/lib/rdesk".into(),
        NOW,
    );
    app.mouse = true;
    app
}

fn loaded(images: Vec<ImageSummary>) -> App {
    let mut a = app();
    a.on_notification(Notification::ImagesLoaded(Ok(images)));
    a.take_effects();
    a
}

fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
    term.draw(|f| views::draw(f, app)).unwrap();
    let buf = term.backend().buffer();
    let mut out = String::new();
    for y in 0..h {
        let mut line = String::new();
        for x in 0..w {
            line.push_str(buf[(x, y)].symbol());
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn press(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE));
}
fn ch(app: &mut App, c: char) {
    press(app, KeyCode::Char(c));
}
fn ctrl(app: &mut App, c: char) {
    app.on_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL));
}
fn typ(app: &mut App, s: &str) {
    for c in s.chars() {
        ch(app, c);
    }
}

fn history() -> Vec<HistoryResponseItem> {
    vec![
        HistoryResponseItem {
            id: BUSYBOX.into(),
            created: NOW - 3600 * 5,
            created_by: "/bin/sh -c #(nop)  CMD [\"sh\"]".into(),
            tags: vec!["busybox:latest".into()],
            size: 0,
            comment: String::new(),
        },
        HistoryResponseItem {
            id: "<missing>".into(),
            created: NOW - 3600 * 5,
            created_by: "/bin/sh -c #(nop) ADD file:6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f in / ".into(),
            tags: vec![],
            size: 4_261_550,
            comment: String::new(),
        },
        HistoryResponseItem {
            id: "<missing>".into(),
            created: NOW - 86_400 * 20,
            created_by: "LABEL org.opencontainers.image.title=busybox".into(),
            tags: vec![],
            size: 0,
            comment: "buildkit.dockerfile.v0".into(),
        },
    ]
}

fn inspect_doc() -> serde_json::Value {
    json!({
        "Architecture": "amd64",
        "Config": {
            "Cmd": ["sh"],
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": {"org.opencontainers.image.title": "busybox"}
        },
        "Created": "2023-11-14T17:13:20Z",
        "Id": BUSYBOX,
        "Os": "linux",
        "RepoDigests": [format!("busybox@sha256:{}", "ab".repeat(32))],
        "RepoTags": ["busybox:latest"],
        "RootFS": {"Layers": ["sha256:3d5f"], "Type": "layers"},
        "Size": 4261550
    })
}

// ---- snapshots ----------------------------------------------------------------------------

#[test]
fn first_frame_before_the_list_loads() {
    let mut a = app();
    insta::assert_snapshot!(render(&mut a, 80, 24));
}

#[test]
fn empty_engine_80x24() {
    let mut a = loaded(vec![]);
    insta::assert_snapshot!(render(&mut a, 80, 24));
}

#[test]
fn three_images_80x24() {
    let mut a = loaded(three_images());
    insta::assert_snapshot!(render(&mut a, 80, 24));
}

#[test]
fn three_images_200x50() {
    let mut a = loaded(three_images());
    ch(&mut a, 'j');
    insta::assert_snapshot!(render(&mut a, 200, 50));
}

#[test]
fn long_names_80x24() {
    let mut imgs = three_images();
    imgs.push(image(
        "sha256:5555555555555555555555555555555555555555555555555555555555555555",
        &["registry.internal.example.com:5000/team-with-a-long-name/service-with-an-even-longer-name:v2024.11.14-build.1234-gabcdef0"],
        30,
        123_456_789,
    ));
    let mut a = loaded(imgs);
    insta::assert_snapshot!(render(&mut a, 80, 24));
}

#[test]
fn filter_highlights_and_narrows() {
    let mut a = loaded(three_images());
    ch(&mut a, '/');
    typ(&mut a, "bbx");
    insta::assert_snapshot!(render(&mut a, 80, 24));
    assert_eq!(a.images.visible.len(), 1);
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.images.filter, "bbx");
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.images.filter, "");
    assert_eq!(a.images.visible.len(), 3);
}

#[test]
fn containers_tab_is_empty_with_a_note() {
    let mut a = loaded(three_images());
    a.on_notification(Notification::ContainersLoaded(Ok(vec![])));
    assert_eq!(a.resource, Resource::Images, "no containers: images stay");
    ch(&mut a, '1');
    assert_eq!(a.resource, Resource::Containers);
    insta::assert_snapshot!(render(&mut a, 120, 20));
}

// ---- containers ---------------------------------------------------------------------------

const WEB: &str = "c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00c0ffee00";
const JOB: &str = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
const NEW: &str = "0123456789ab0123456789ab0123456789ab0123456789ab0123456789ab0123";

fn container(
    id: &str,
    name: &str,
    state: ContainerState,
    status: &str,
    ago: i64,
) -> ContainerSummary {
    ContainerSummary {
        id: Some(id.into()),
        names: Some(vec![format!("/{name}")]),
        image: Some("busybox".into()),
        command: Some("sh -c 'while true; do echo hi; sleep 1; done'".into()),
        created: Some(NOW - ago),
        state: Some(state),
        status: Some(status.into()),
        ..Default::default()
    }
}

fn three_containers() -> Vec<ContainerSummary> {
    vec![
        container(WEB, "web", ContainerState::RUNNING, "Up 5 minutes", 600),
        container(
            JOB,
            "job",
            ContainerState::EXITED,
            "Exited (1) 2 hours ago",
            86_400,
        ),
        container(NEW, "fresh", ContainerState::CREATED, "Created", 30),
    ]
}

fn with_containers(list: Vec<ContainerSummary>) -> App {
    let mut a = loaded(three_images());
    a.on_notification(Notification::ContainersLoaded(Ok(list)));
    a.take_effects();
    a
}

fn container_doc() -> serde_json::Value {
    json!({
        "Id": WEB, "Name": "/web", "Image": "sha256:6d5d",
        "State": {"Status": "running", "Running": true, "Pid": 4242,
                  "StartedAt": "2023-11-14T22:03:20Z", "FinishedAt": "0001-01-01T00:00:00Z"},
        "Config": {"Tty": false, "OpenStdin": false, "Env": ["PATH=/usr/bin:/bin", "MODE=demo"],
                   "Cmd": ["sh", "-c", "while true; do echo hi; sleep 1; done"], "WorkingDir": ""},
        "HostConfig": {"Runtime": "rdesk"},
        "Mounts": []
    })
}

#[test]
fn containers_are_the_default_tab_once_they_exist() {
    let mut a = with_containers(three_containers());
    assert_eq!(a.resource, Resource::Containers);
    insta::assert_snapshot!("three_containers_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("three_containers_200x50", render(&mut a, 200, 50));
    // Newest first, as `docker ps -a`.
    assert_eq!(a.containers.selected().unwrap().name, "fresh");
}

#[test]
fn containers_empty_engine_and_long_names() {
    let mut a = app();
    a.on_notification(Notification::ImagesLoaded(Ok(vec![])));
    a.on_notification(Notification::ContainersLoaded(Ok(vec![])));
    ch(&mut a, '1');
    insta::assert_snapshot!("containers_empty_80x24", render(&mut a, 80, 24));
    let long = "a-container-name-far-longer-than-any-column-could-ever-hold-in-eighty-columns";
    let mut c = container(WEB, long, ContainerState::RUNNING, "Up 2 seconds", 2);
    c.image = Some("registry.example.com:5000/team/very/long/image/name:with-a-long-tag".into());
    let mut a = with_containers(vec![c]);
    insta::assert_snapshot!("containers_long_names_80x24", render(&mut a, 80, 24));
}

#[test]
fn container_filter_keeps_the_selection_across_reloads() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'j');
    assert_eq!(a.containers.selected().unwrap().name, "web");
    // A reload with a new container keeps "web" selected.
    let mut list = three_containers();
    list.push(container(
        "9999999999999999999999999999999999999999999999999999999999999999",
        "newer",
        ContainerState::RUNNING,
        "Up 1 second",
        1,
    ));
    a.on_notification(Notification::ContainersLoaded(Ok(list)));
    assert_eq!(a.containers.selected().unwrap().name, "web");
    ch(&mut a, '/');
    typ(&mut a, "exit");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.containers.visible.len(), 1);
    assert_eq!(a.containers.selected().unwrap().name, "job");
    insta::assert_snapshot!("containers_filtered", render(&mut a, 100, 16));
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.containers.visible.len(), 4);
}

#[test]
fn container_actions_become_effects() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'j'); // web, running
    a.take_effects(); // its inspect document, for the Info tab
    ch(&mut a, 's');
    assert!(matches!(
        a.take_effects().as_slice(),
        [Effect::Container { op: ContainerOp::Stop, id, .. }] if id == WEB
    ));
    ch(&mut a, 'R');
    assert!(matches!(
        a.take_effects().as_slice(),
        [Effect::Container {
            op: ContainerOp::Restart,
            ..
        }]
    ));
    ch(&mut a, 'y');
    assert_eq!(a.take_effects(), vec![Effect::Copy(WEB.into())]);
    ch(&mut a, 'e');
    assert_eq!(a.take_effects(), vec![Effect::Exec(WEB.into())]);
    ch(&mut a, 'a');
    assert_eq!(a.take_effects(), vec![Effect::Attach(WEB.into())]);
    ch(&mut a, 'j'); // job, exited
    a.take_effects();
    ch(&mut a, 's');
    assert!(matches!(
        a.take_effects().as_slice(),
        [Effect::Container { op: ContainerOp::Start, id, .. }] if id == JOB
    ));
    ch(&mut a, 'e');
    assert!(
        a.take_effects().is_empty(),
        "no exec into a stopped container"
    );
    assert!(a.status.as_ref().unwrap().text.contains("not running"));
}

#[test]
fn delete_running_container_asks_to_force() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'j');
    a.take_effects();
    ch(&mut a, 'd');
    insta::assert_snapshot!("delete_running_container", render(&mut a, 80, 24));
    ch(&mut a, 'y');
    assert!(matches!(
        a.take_effects().as_slice(),
        [Effect::Container {
            op: ContainerOp::Remove { force: true },
            ..
        }]
    ));
    ch(&mut a, 'j');
    a.take_effects();
    ch(&mut a, 'd');
    insta::assert_snapshot!("delete_stopped_container", render(&mut a, 80, 24));
    ch(&mut a, 'n');
    assert!(a.popups.is_empty());
    assert!(a.take_effects().is_empty());
}

#[test]
fn prune_lists_the_stopped_containers() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'P');
    insta::assert_snapshot!("prune_containers", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Enter);
    match a.take_effects().as_slice() {
        [Effect::PruneContainers(list)] => {
            let names: Vec<_> = list.iter().map(|(_, n)| n.as_str()).collect();
            assert_eq!(names, ["fresh", "job"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn container_detail_tabs() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'j');
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::LoadContainerInspect(WEB.into())]
    );
    a.on_notification(Notification::InspectLoaded {
        id: WEB.into(),
        result: Ok(container_doc()),
    });
    insta::assert_snapshot!("container_info", render(&mut a, 100, 30));
    press(&mut a, KeyCode::Tab);
    insta::assert_snapshot!("container_inspect", render(&mut a, 100, 30));
    press(&mut a, KeyCode::Tab); // logs
    assert_eq!(a.take_effects(), vec![Effect::FollowLogs(Some(WEB.into()))]);
    press(&mut a, KeyCode::Tab); // stats: the log follower stops, the sampler starts
    assert_eq!(
        a.take_effects(),
        vec![
            Effect::FollowLogs(None),
            Effect::SampleStats(Some(WEB.into()))
        ]
    );
    for (i, cpu) in [0u64, 20_000_000, 60_000_000, 70_000_000]
        .iter()
        .enumerate()
    {
        let sample: rdesk_engine::models::ContainerStatsResponse = serde_json::from_value(json!({
            "id": WEB, "name": "/web",
            "cpu_stats": {"cpu_usage": {"total_usage": cpu}, "system_cpu_usage": (i as u64 + 1) * 100_000_000, "online_cpus": 2},
            "memory_stats": {"usage": 1_048_576 * (i as u64 + 1), "limit": 64 * 1_048_576},
            "pids_stats": {"current": 3}
        }))
        .unwrap();
        a.on_notification(Notification::Stats {
            id: WEB.into(),
            result: Ok(Box::new(sample)),
        });
    }
    insta::assert_snapshot!("container_stats", render(&mut a, 100, 30));
    press(&mut a, KeyCode::Tab); // mounts
    assert_eq!(a.take_effects(), vec![Effect::SampleStats(None)]);
    insta::assert_snapshot!("container_mounts_empty", render(&mut a, 100, 30));
}

#[test]
fn logs_view_follows_searches_and_toggles() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'j');
    a.take_effects();
    ch(&mut a, 'l');
    assert_eq!(a.detail.tab, DetailTab::Logs);
    assert_eq!(a.take_effects(), vec![Effect::FollowLogs(Some(WEB.into()))]);
    let lines = |from: usize, n: usize| -> Vec<LogLine> {
        (from..from + n)
            .map(|i| {
                LogLine::new(
                    &format!("2023-11-14T22:{:02}:00.000Z", i % 60),
                    &format!("request {i} served\n"),
                    i % 5 == 4,
                )
            })
            .collect()
    };
    a.on_notification(Notification::LogLines {
        id: WEB.into(),
        lines: lines(0, 40),
        reset: true,
    });
    insta::assert_snapshot!("logs_following", render(&mut a, 100, 30));
    ch(&mut a, '/');
    typ(&mut a, "request 12");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.log_mut().unwrap().current_match(), Some(13));
    ch(&mut a, 'n');
    assert_eq!(
        a.log_mut().unwrap().current_match(),
        Some(13),
        "the only match"
    );
    ch(&mut a, 't');
    insta::assert_snapshot!("logs_search_timestamps", render(&mut a, 100, 30));
    // Paused by the search: new lines do not move the view.
    a.on_notification(Notification::LogLines {
        id: WEB.into(),
        lines: lines(40, 5),
        reset: false,
    });
    assert!(!a.log_mut().unwrap().following());
    ch(&mut a, 'f');
    assert!(a.log_mut().unwrap().following());
    ch(&mut a, '>');
    insta::assert_snapshot!("logs_scrolled_right", render(&mut a, 100, 30));
    ch(&mut a, '<');
    ch(&mut a, 'w');
    assert!(a.log_mut().unwrap().wrap);
    a.app_ctrl_s();
    match a.take_effects().as_slice() {
        [Effect::SaveLogs { path, text }] => {
            assert!(path.to_string_lossy().starts_with("web-"));
            assert_eq!(text.lines().count(), 45);
            assert!(text.starts_with("2023-11-14T22:00:00.000Z request 0 served\n"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn help_overlay() {
    let mut a = loaded(three_images());
    ch(&mut a, '?');
    insta::assert_snapshot!("help_overlay_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("help_overlay_200x50", render(&mut a, 200, 50));
    ch(&mut a, 'q');
    assert!(
        a.popups.is_empty() && !a.quit,
        "q closes the help, it does not quit"
    );
}

#[test]
fn pull_popup_input() {
    let mut a = loaded(three_images());
    ch(&mut a, 'p');
    typ(&mut a, "127.0.0.1:5000/library/busybox");
    insta::assert_snapshot!(render(&mut a, 80, 24));
}

#[test]
fn pull_popup_rejects_a_bad_reference() {
    let mut a = loaded(vec![]);
    ch(&mut a, 'p');
    typ(&mut a, "Not A Reference");
    press(&mut a, KeyCode::Enter);
    assert!(a.take_effects().is_empty());
    let out = render(&mut a, 80, 24);
    assert!(out.contains("invalid reference format"), "{out}");
}

fn progress(id: Option<&str>, status: &str, cur_total: Option<(i64, i64)>) -> Notification {
    Notification::PullProgress(CreateImageInfo {
        id: id.map(str::to_string),
        status: Some(status.into()),
        progress_detail: cur_total.map(|(c, t)| ProgressDetail {
            current: Some(c),
            total: Some(t),
        }),
        ..Default::default()
    })
}

#[test]
fn pull_popup_mid_progress_three_layers() {
    let mut a = loaded(three_images());
    ch(&mut a, 'p');
    typ(&mut a, "registry.local:5000/team/app:1.2");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::Pull("registry.local:5000/team/app:1.2".into())]
    );
    for n in [
        progress(Some("1.2"), "Pulling from team/app", None),
        progress(Some("4a1f2b3c4d5e"), "Pulling fs layer", None),
        progress(Some("9c8d7e6f5a4b"), "Pulling fs layer", None),
        progress(Some("0123456789ab"), "Pulling fs layer", None),
        progress(
            Some("4a1f2b3c4d5e"),
            "Downloading",
            Some((2_000_000, 2_000_000)),
        ),
        progress(Some("4a1f2b3c4d5e"), "Pull complete", None),
        progress(
            Some("9c8d7e6f5a4b"),
            "Downloading",
            Some((1_500_000, 6_000_000)),
        ),
        progress(
            Some("0123456789ab"),
            "Downloading",
            Some((100_000, 1_000_000)),
        ),
    ] {
        a.on_notification(n);
    }
    insta::assert_snapshot!("pull_progress_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("pull_progress_200x50", render(&mut a, 200, 50));
    // Esc hides it; the pull goes on and shows in the header.
    press(&mut a, KeyCode::Esc);
    assert!(a.popups.is_empty() && a.pulling());
    let out = render(&mut a, 120, 24);
    assert!(
        out.contains("pulling registry.local:5000/team/app:1.2 40%"),
        "{out}"
    );
    // q while pulling asks first.
    ch(&mut a, 'q');
    assert!(!a.quit && matches!(a.popups.last(), Some(Popup::Confirm(_))));
    ch(&mut a, 'n');
    assert!(!a.quit && a.popups.is_empty());
    // Done: the list reloads and selects what was pulled.
    a.on_notification(Notification::PullDone(Ok(
        "registry.local:5000/team/app:1.2".into(),
    )));
    assert!(a.take_effects().contains(&Effect::LoadImages));
    assert!(a.pull.is_none());
    let mut imgs = three_images();
    imgs.push(image(
        "sha256:7777777777777777777777777777777777777777777777777777777777777777",
        &["registry.local:5000/team/app:1.2"],
        86_400 * 400,
        9_000_000,
    ));
    a.on_notification(Notification::ImagesLoaded(Ok(imgs)));
    assert_eq!(
        a.images.selected().unwrap().reference,
        "registry.local:5000/team/app:1.2"
    );
}

#[test]
fn pull_failure_is_an_error_message() {
    let mut a = loaded(vec![]);
    ch(&mut a, ':');
    typ(&mut a, "pull nosuch/thing");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.take_effects(), vec![Effect::Pull("nosuch/thing".into())]);
    a.on_notification(Notification::PullDone(Err(
        "pull access denied for nosuch/thing, repository does not exist or may require authorization".into(),
    )));
    insta::assert_snapshot!(render(&mut a, 80, 24));
    press(&mut a, KeyCode::Esc);
    assert!(a.popups.is_empty());
}

#[test]
fn delete_confirmation() {
    let mut a = loaded(three_images());
    ch(&mut a, 'd');
    insta::assert_snapshot!(render(&mut a, 80, 24));
    ch(&mut a, 'y');
    assert_eq!(
        a.take_effects(),
        vec![Effect::RemoveImage("busybox:latest".into())]
    );
    assert!(a.popups.is_empty());
    a.on_notification(Notification::Removed {
        reference: "busybox:latest".into(),
        result: Ok(vec![
            ImageDeleteResponseItem {
                untagged: Some("busybox:latest".into()),
                deleted: None,
            },
            ImageDeleteResponseItem {
                untagged: None,
                deleted: Some(BUSYBOX.into()),
            },
        ]),
    });
    assert_eq!(a.take_effects(), vec![Effect::LoadImages]);
    assert!(a
        .status
        .as_ref()
        .unwrap()
        .text
        .starts_with("deleted busybox:latest"));
}

#[test]
fn delete_of_one_tag_among_several_untags() {
    let mut imgs = three_images();
    imgs[0].repo_tags.push("busybox:1.36".into());
    let mut a = loaded(imgs);
    ch(&mut a, 'd');
    let out = render(&mut a, 80, 24);
    assert!(
        out.contains("Untag image?") && out.contains("Frees nothing"),
        "{out}"
    );
    press(&mut a, KeyCode::Esc);
    assert!(a.popups.is_empty() && a.take_effects().is_empty());
}

#[test]
fn prune_confirmation() {
    let mut a = loaded(three_images());
    ch(&mut a, 'P');
    insta::assert_snapshot!(render(&mut a, 80, 24));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.take_effects(), vec![Effect::PruneImages]);
}

#[test]
fn prune_with_nothing_dangling_says_so() {
    let mut a = loaded(three_images()[..2].to_vec());
    ch(&mut a, 'P');
    assert!(a.popups.is_empty());
    assert!(a.status.as_ref().unwrap().text.contains("nothing to prune"));
}

#[test]
fn error_message() {
    let mut a = loaded(three_images());
    a.on_notification(Notification::Error(
        "cannot read /var/lib/rdesk/images.json: permission denied (run rdesk as root: sudo rdesk)"
            .into(),
    ));
    insta::assert_snapshot!(render(&mut a, 80, 24));
    press(&mut a, KeyCode::Enter);
    assert!(a.popups.is_empty());
}

#[test]
fn history_view() {
    let mut a = loaded(three_images());
    ch(&mut a, 'h');
    assert_eq!(a.focus, Focus::Detail);
    assert_eq!(a.detail.tab, DetailTab::History);
    assert_eq!(a.take_effects(), vec![Effect::LoadHistory(BUSYBOX.into())]);
    a.on_notification(Notification::HistoryLoaded {
        id: BUSYBOX.into(),
        result: Ok(history()),
    });
    ch(&mut a, 'j');
    insta::assert_snapshot!("history_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("history_200x50", render(&mut a, 200, 50));
    // Back to the table; moving the selection loads the next image's history.
    press(&mut a, KeyCode::Esc);
    ch(&mut a, 'j');
    assert_eq!(a.take_effects(), vec![Effect::LoadHistory(ALPINE.into())]);
}

#[test]
fn inspect_tree_unfolded_and_folded() {
    let mut a = loaded(three_images());
    ch(&mut a, 'i');
    assert_eq!(a.take_effects(), vec![Effect::LoadInspect(BUSYBOX.into())]);
    a.on_notification(Notification::InspectLoaded {
        id: BUSYBOX.into(),
        result: Ok(inspect_doc()),
    });
    insta::assert_snapshot!("inspect_unfolded", render(&mut a, 100, 40));
    ch(&mut a, '-');
    insta::assert_snapshot!("inspect_folded", render(&mut a, 100, 40));
    // Search unfolds to the match; n moves on.
    ch(&mut a, '/');
    typ(&mut a, "path=");
    press(&mut a, KeyCode::Enter);
    let out = render(&mut a, 100, 40);
    assert!(out.contains("\"PATH=/usr/local/sbin"), "{out}");
    assert!(out.contains("/path= (1 matches)"), "{out}");
    // Enter on a folded object opens it.
    ch(&mut a, 'g');
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    press(&mut a, KeyCode::Enter);
}

#[test]
fn command_bar() {
    let mut a = loaded(three_images());
    ch(&mut a, ':');
    typ(&mut a, "netw");
    insta::assert_snapshot!(render(&mut a, 80, 24));
    typ(&mut a, "orks");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.resource, Resource::Networks);
    ch(&mut a, ':');
    typ(&mut a, "bogus");
    press(&mut a, KeyCode::Enter);
    assert!(matches!(a.popups.last(), Some(Popup::Error(_))));
    press(&mut a, KeyCode::Esc);
    ch(&mut a, ':');
    typ(&mut a, "q");
    press(&mut a, KeyCode::Enter);
    assert!(a.quit);
}

// ---- behaviour ----------------------------------------------------------------------------

#[test]
fn vim_keys_move_the_selection() {
    let mut imgs = Vec::new();
    for i in 0..40 {
        imgs.push(image(
            &format!("sha256:{:064x}", i + 1),
            &[&format!("app{i:02}:latest")],
            1000 + i,
            1000,
        ));
    }
    let mut a = loaded(imgs);
    render(&mut a, 80, 24);
    ch(&mut a, 'G');
    assert_eq!(a.images.table.selected, 39);
    ch(&mut a, 'g');
    assert_eq!(a.images.table.selected, 0);
    ctrl(&mut a, 'd');
    let half = a.images.table.selected;
    assert!(half >= 2, "{half}");
    ctrl(&mut a, 'u');
    assert_eq!(a.images.table.selected, 0);
    press(&mut a, KeyCode::Down);
    ch(&mut a, 'j');
    ch(&mut a, 'k');
    assert_eq!(a.images.table.selected, 1);
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.resource, Resource::Volumes);
    ch(&mut a, '2');
    assert_eq!(a.resource, Resource::Images);
}

#[test]
fn selection_survives_a_reload() {
    let mut a = loaded(three_images());
    ch(&mut a, 'j');
    assert_eq!(a.images.selected().unwrap().reference, "alpine:3.20");
    a.on_notification(Notification::StoreChanged);
    assert_eq!(a.take_effects(), vec![Effect::LoadImages]);
    let mut imgs = three_images();
    imgs.insert(
        0,
        image(
            "sha256:9999999999999999999999999999999999999999999999999999999999999999",
            &["new:1"],
            1,
            10,
        ),
    );
    a.on_notification(Notification::ImagesLoaded(Ok(imgs)));
    assert_eq!(a.images.selected().unwrap().reference, "alpine:3.20");
}

#[test]
fn mouse_selects_scrolls_and_can_be_released() {
    let mut a = loaded(three_images());
    render(&mut a, 80, 24);
    let rows = a.images.table.rows_area;
    let click = |x, y| MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: x,
        row: y,
        modifiers: KeyModifiers::NONE,
    };
    a.on_mouse(click(rows.x + 2, rows.y + 2));
    assert_eq!(a.images.selected().unwrap().id, DANGLING);
    // A click on a tab switches to it.
    let (tab, _) = a.areas.tabs[0];
    a.on_mouse(click(tab.x + 1, tab.y));
    assert_eq!(a.resource, Resource::Containers);
    ch(&mut a, 'm');
    assert_eq!(a.take_effects(), vec![Effect::SetMouse(false)]);
    assert!(render(&mut a, 80, 24).contains("mouse released"));
}

#[test]
fn copy_sends_the_full_id() {
    let mut a = loaded(three_images());
    ch(&mut a, 'y');
    assert_eq!(a.take_effects(), vec![Effect::Copy(BUSYBOX.into())]);
}

#[test]
fn quit_and_ctrl_c() {
    let mut a = loaded(vec![]);
    ch(&mut a, 'q');
    assert!(a.quit);
    let mut a = loaded(vec![]);
    ch(&mut a, '/');
    ctrl(&mut a, 'c');
    assert!(a.quit, "ctrl-c quits even from an input");
}

#[test]
fn ages_tick_only_marks_dirty_on_change() {
    let mut a = loaded(three_images());
    a.dirty = false;
    assert!(!a.tick(NOW + 1));
    assert!(!a.dirty);
    assert!(a.tick(NOW + 3600));
    assert!(a.dirty);
}

#[test]
fn resource_actions_elsewhere_explain_themselves() {
    let mut a = loaded(three_images());
    ch(&mut a, '4');
    ch(&mut a, 'd');
    assert!(a.popups.is_empty());
    assert!(a
        .status
        .as_ref()
        .unwrap()
        .text
        .contains("no network selected"));
    ch(&mut a, '2');
    ch(&mut a, 'c');
    assert!(a.input.is_none());
    assert!(a.status.as_ref().unwrap().text.contains("creates a volume"));
}

/// No size is too small: every view and dialog draws without a panic down to 1x1.
#[test]
fn tiny_terminals_never_panic() {
    type Setup = fn(&mut App);
    let states: Vec<(&str, Setup)> = vec![
        ("table", |_| {}),
        ("help", |a| ch(a, '?')),
        ("pull input", |a| {
            ch(a, 'p');
            typ(a, "busybox");
        }),
        ("pull progress", |a| {
            ch(a, 'p');
            typ(a, "busybox");
            press(a, KeyCode::Enter);
            a.on_notification(progress(Some("4a1f2b3c4d5e"), "Downloading", Some((5, 10))));
        }),
        ("delete", |a| ch(a, 'd')),
        ("prune", |a| ch(a, 'P')),
        ("error", |a| {
            a.on_notification(Notification::Error("x ".repeat(200)))
        }),
        ("history", |a| {
            ch(a, 'h');
            a.on_notification(Notification::HistoryLoaded {
                id: BUSYBOX.into(),
                result: Ok(history()),
            });
        }),
        ("inspect", |a| {
            ch(a, 'i');
            a.on_notification(Notification::InspectLoaded {
                id: BUSYBOX.into(),
                result: Ok(inspect_doc()),
            });
        }),
        ("filter", |a| {
            ch(a, '/');
            typ(a, "busybox-and-more-text-than-fits");
        }),
        ("command", |a| ch(a, ':')),
        ("containers", |a| {
            a.on_notification(Notification::ContainersLoaded(Ok(three_containers())));
        }),
        ("container logs", |a| {
            a.on_notification(Notification::ContainersLoaded(Ok(three_containers())));
            ch(a, 'l');
            let id = a.containers.selected().unwrap().id.clone();
            a.on_notification(Notification::LogLines {
                id,
                lines: vec![LogLine::new("t", &"x".repeat(500), false)],
                reset: true,
            });
            ch(a, 'w');
        }),
        ("container stats", |a| {
            a.on_notification(Notification::ContainersLoaded(Ok(three_containers())));
            ch(a, 'j');
            press(a, KeyCode::Enter);
            for _ in 0..3 {
                press(a, KeyCode::Tab);
            }
        }),
        ("container delete", |a| {
            a.on_notification(Notification::ContainersLoaded(Ok(three_containers())));
            ch(a, 'd');
        }),
        ("run form", |a| {
            ch(a, 'r');
            typ(a, "busybox");
        }),
        ("volumes", |a| {
            a.on_notification(Notification::VolumesLoaded(Ok(three_volumes())));
            ch(a, '3');
        }),
        ("volume files", |a| {
            a.on_notification(Notification::VolumesLoaded(Ok(three_volumes())));
            ch(a, '3');
            press(a, KeyCode::Enter);
            press(a, KeyCode::Tab);
            press(a, KeyCode::Tab);
            a.on_notification(volume_dir("data", "", files()));
        }),
        ("volume file open", |a| {
            a.on_notification(Notification::VolumesLoaded(Ok(three_volumes())));
            ch(a, '3');
            press(a, KeyCode::Enter);
            press(a, KeyCode::Tab);
            press(a, KeyCode::Tab);
            a.on_notification(volume_dir("data", "", files()));
            ch(a, 'j');
            ch(a, 'j');
            press(a, KeyCode::Enter);
            a.on_notification(Notification::VolumeFile {
                volume: "data".into(),
                path: "note.txt".into(),
                result: Ok("y".repeat(300).into_bytes()),
            });
        }),
        ("volume prune", |a| {
            a.on_notification(Notification::VolumesLoaded(Ok(three_volumes())));
            ch(a, '3');
            ch(a, 'P');
        }),
        ("volume create", |a| {
            ch(a, '3');
            ch(a, 'c');
            typ(a, "a-name");
        }),
        ("networks", |a| {
            a.on_notification(Notification::NetworksLoaded(Ok(some_networks())));
            ch(a, '4');
            press(a, KeyCode::Enter);
            press(a, KeyCode::Tab);
        }),
        ("network prune", |a| {
            a.on_notification(Notification::NetworksLoaded(Ok(some_networks())));
            ch(a, '4');
            ch(a, 'P');
        }),
        ("connect dialog", |a| {
            a.on_notification(Notification::NetworksLoaded(Ok(some_networks())));
            a.on_notification(Notification::ContainersLoaded(Ok(three_containers())));
            ch(a, 'n');
            ch(a, 'j');
            press(a, KeyCode::Enter);
            typ(a, "an-alias");
        }),
        ("terminal pane", |a| {
            a.on_notification(Notification::ContainersLoaded(Ok(three_containers())));
            ch(a, 'j');
            ch(a, 'E');
            a.on_notification(Notification::TermOutput {
                id: WEB.into(),
                bytes: b"/ # ls\r\nbin  dev  etc\r\n/ # ".to_vec(),
            });
            ctrl(a, 'o');
        }),
    ];
    for (name, setup) in states {
        for (w, h) in [
            (1, 1),
            (2, 2),
            (10, 3),
            (20, 5),
            (30, 8),
            (40, 12),
            (79, 23),
        ] {
            let mut a = loaded(three_images());
            setup(&mut a);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| render(&mut a, w, h)));
            assert!(r.is_ok(), "{name} at {w}x{h} panicked");
            // Keys and mouse on the tiny screen too.
            for c in ['j', 'k', 'G', 'g'] {
                ch(&mut a, c);
            }
            a.on_mouse(MouseEvent {
                kind: MouseEventKind::ScrollDown,
                column: 0,
                row: 0,
                modifiers: KeyModifiers::NONE,
            });
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| render(&mut a, w, h)));
            assert!(r.is_ok(), "{name} at {w}x{h} panicked after keys");
        }
    }
}

#[test]
fn run_form_builds_the_run_and_explains_what_is_missing() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'r');
    insta::assert_snapshot!("run_form_empty_80x24", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Enter);
    assert!(a.take_effects().is_empty(), "no image: nothing runs");
    typ(&mut a, "busybox");
    press(&mut a, KeyCode::Tab);
    typ(&mut a, "web");
    press(&mut a, KeyCode::Tab);
    typ(&mut a, "sh -c 'echo hi; sleep 100'");
    press(&mut a, KeyCode::Tab);
    typ(&mut a, "MODE=demo");
    press(&mut a, KeyCode::Tab);
    typ(&mut a, "8080:80");
    // Volumes (the CLI parses -v): a named volume and a read-only bind; a network.
    press(&mut a, KeyCode::Tab);
    typ(&mut a, "data:/data /srv/conf:/etc/app:ro");
    press(&mut a, KeyCode::Tab);
    typ(&mut a, "todo-app");
    insta::assert_snapshot!("run_form_ports_and_network_200x50", render(&mut a, 200, 50));
    // Detached, removed on exit.
    press(&mut a, KeyCode::Tab);
    ch(&mut a, ' ');
    press(&mut a, KeyCode::Tab);
    ch(&mut a, ' ');
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::Run(
            [
                "-d",
                "--rm",
                "--name",
                "web",
                "-e",
                "MODE=demo",
                "-p",
                "8080:80",
                "-v",
                "data:/data",
                "-v",
                "/srv/conf:/etc/app:ro",
                "--network",
                "todo-app",
                "busybox",
                "sh",
                "-c",
                "echo hi; sleep 100"
            ]
            .iter()
            .map(|s| s.to_string())
            .collect()
        )]
    );
    assert!(a.popups.is_empty());
    // The new container is selected once the list has it.
    a.on_notification(Notification::RunDone(Ok(JOB.into())));
    assert_eq!(a.take_effects(), vec![Effect::LoadContainers]);
    a.on_notification(Notification::ContainersLoaded(Ok(three_containers())));
    assert_eq!(a.containers.selected().unwrap().name, "job");
}

#[test]
fn command_bar_run_fills_the_form_or_runs() {
    let mut a = with_containers(three_containers());
    ch(&mut a, ':');
    typ(&mut a, "run busybox sh");
    press(&mut a, KeyCode::Enter);
    match a.popups.last() {
        Some(Popup::Run(form)) => assert_eq!(form.args().unwrap(), ["-i", "-t", "busybox", "sh"]),
        _ => panic!("the form opens"),
    }
    press(&mut a, KeyCode::Enter);
    // Interactive: the run creates, then the runner hands the terminal over.
    assert_eq!(
        a.take_effects(),
        vec![Effect::Run(vec![
            "-i".into(),
            "-t".into(),
            "busybox".into(),
            "sh".into()
        ])]
    );
    a.on_notification(Notification::RunCreated(WEB.into()));
    assert_eq!(a.take_effects(), vec![Effect::StartAttached(WEB.into())]);
    ch(&mut a, ':');
    typ(&mut a, "run --bogus busybox");
    press(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("run_command_error", render(&mut a, 80, 24));
}

#[test]
fn log_search_next_moves_through_matches() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'j');
    a.take_effects();
    ch(&mut a, 'l');
    a.on_notification(Notification::LogLines {
        id: WEB.into(),
        lines: (0..160)
            .map(|i| LogLine::new("t", &format!("line {i}\n"), false))
            .collect(),
        reset: true,
    });
    render(&mut a, 120, 40);
    ch(&mut a, '/');
    typ(&mut a, "line 5");
    press(&mut a, KeyCode::Enter);
    render(&mut a, 120, 40);
    assert_eq!(a.log_mut().unwrap().current_match(), Some(6));
    ch(&mut a, 'n');
    render(&mut a, 120, 40);
    assert_eq!(a.log_mut().unwrap().current_match(), Some(51));
    ch(&mut a, 'N');
    assert_eq!(a.log_mut().unwrap().current_match(), Some(6));
}

#[test]
fn terminal_pane_beside_the_list() {
    let mut a = with_containers(three_containers());
    ch(&mut a, 'j');
    a.take_effects();
    ch(&mut a, 'E');
    assert!(matches!(
        a.take_effects().as_slice(),
        [Effect::TermOpen { id, .. }] if id == WEB
    ));
    // Drawing gives the pane its real size, which the shell is told.
    render(&mut a, 120, 30);
    let (rows, cols) = a.term_resized.take().expect("the pane's size");
    assert_eq!((rows, cols), (25, 58));
    a.on_notification(Notification::TermOutput {
        id: WEB.into(),
        bytes: b"/ # echo hi\r\nhi\r\n/ # ".to_vec(),
    });
    insta::assert_snapshot!("terminal_pane_focused", render(&mut a, 120, 30));
    // Keys go to the shell, ctrl-c included; ctrl-o leaves.
    typ(&mut a, "ls");
    ctrl(&mut a, 'c');
    press(&mut a, KeyCode::Up);
    assert_eq!(
        a.take_effects(),
        vec![
            Effect::TermInput(b"l".to_vec()),
            Effect::TermInput(b"s".to_vec()),
            Effect::TermInput(vec![3]),
            Effect::TermInput(b"\x1b[A".to_vec()),
        ]
    );
    assert!(!a.quit);
    ctrl(&mut a, 'o');
    assert_eq!(a.context(), super::action::Context::Table);
    ch(&mut a, 'k');
    assert_eq!(a.containers.selected().unwrap().name, "fresh");
    ch(&mut a, 'j');
    a.take_effects();
    ch(&mut a, 'E');
    assert!(
        a.take_effects().is_empty(),
        "the same container's pane is focused again"
    );
    assert_eq!(a.context(), super::action::Context::Terminal);
    a.on_notification(Notification::TermEnded {
        id: WEB.into(),
        how: "exited with code 0".into(),
    });
    insta::assert_snapshot!("terminal_pane_ended", render(&mut a, 120, 30));
    ctrl(&mut a, 'o');
    assert!(a.term.is_none());
    assert_eq!(a.take_effects(), vec![Effect::TermClose]);
}

// ---- volumes ------------------------------------------------------------------------------

fn volume(name: &str, created_ago: i64, size: u64, users: &[&str]) -> rdesk_engine::VolumeUsage {
    use rdesk_engine::models::Volume;
    let created = chrono::DateTime::from_timestamp(NOW - created_ago, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut labels = std::collections::HashMap::new();
    if name.len() == 64 {
        labels.insert("com.docker.volume.anonymous".to_string(), String::new());
    }
    rdesk_engine::VolumeUsage {
        volume: Volume {
            name: name.into(),
            driver: "local".into(),
            mountpoint: format!("/var/lib/rdesk/volumes/{name}/_data"),
            created_at: Some(created),
            labels,
            scope: Some(rdesk_engine::models::VolumeScopeEnum::LOCAL),
            ..Default::default()
        },
        size,
        users: users
            .iter()
            .map(|u| rdesk_engine::VolumeUser {
                id: WEB.into(),
                name: u.to_string(),
                destination: "/data".into(),
                running: true,
            })
            .collect(),
    }
}

const ANON: &str = "3f1c0e9a7b5d4c2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e";

fn three_volumes() -> Vec<rdesk_engine::VolumeUsage> {
    vec![
        volume("data", 3600 * 2, 1_234_567, &["web"]),
        volume("cache", 86_400 * 3, 0, &[]),
        volume(ANON, 60 * 5, 4096, &[]),
    ]
}

fn files() -> Vec<rdesk_widgets::FileEntry> {
    let e = |name: &str, kind: &str, size: u64, mode: u32, link: Option<&str>| {
        rdesk_widgets::FileEntry {
            name: name.into(),
            kind: kind.into(),
            size,
            mode,
            link_target: link.map(str::to_string),
        }
    };
    vec![
        e("blob.bin", "file", 2_000_000, 0o600, None),
        e("etc", "dir", 4096, 0o755, None),
        e("note.txt", "file", 13, 0o644, None),
        e("passwd", "symlink", 11, 0o777, Some("/etc/passwd")),
    ]
}

fn volume_dir(v: &str, path: &str, list: Vec<rdesk_widgets::FileEntry>) -> Notification {
    Notification::VolumeDir {
        volume: v.into(),
        path: path.into(),
        result: Ok(list),
    }
}

fn with_volumes(list: Vec<rdesk_engine::VolumeUsage>) -> App {
    let mut a = loaded(three_images());
    a.on_notification(Notification::VolumesLoaded(Ok(list)));
    ch(&mut a, '3');
    assert_eq!(
        a.take_effects(),
        vec![Effect::LoadVolumes],
        "shown: sizes re-read"
    );
    a
}

#[test]
fn volumes_pane_empty_several_and_long_names() {
    let mut a = with_volumes(vec![]);
    insta::assert_snapshot!("volumes_empty_80x24", render(&mut a, 80, 24));
    let mut a = with_volumes(three_volumes());
    insta::assert_snapshot!("volumes_three_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("volumes_three_200x50", render(&mut a, 200, 50));
    let long = "a-volume-name-far-longer-than-any-column-could-ever-hold-in-eighty-columns";
    let mut a = with_volumes(vec![volume(
        long,
        10,
        5_000_000_000,
        &["a-container-with-a-long-name", "second", "third"],
    )]);
    insta::assert_snapshot!("volumes_long_names_80x24", render(&mut a, 80, 24));
}

#[test]
fn volume_selection_and_filter_survive_reloads() {
    let mut a = with_volumes(three_volumes());
    // Sorted by name: the anonymous one, cache, data.
    ch(&mut a, 'G');
    assert_eq!(a.volumes.selected().unwrap().name, "data");
    let mut list = three_volumes();
    list.push(volume("aaa-first", 1, 0, &[]));
    a.on_notification(Notification::VolumesLoaded(Ok(list)));
    assert_eq!(a.volumes.selected().unwrap().name, "data");
    ch(&mut a, '/');
    typ(&mut a, "web");
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.volumes.visible.len(),
        1,
        "the filter looks at the users too"
    );
    // The journal says volumes changed: reload.
    a.on_notification(Notification::VolumesChanged);
    assert_eq!(a.take_effects(), vec![Effect::LoadVolumes]);
}

#[test]
fn volume_info_and_inspect() {
    let mut a = with_volumes(three_volumes());
    ch(&mut a, 'G');
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.focus, Focus::Detail);
    insta::assert_snapshot!("volume_info", render(&mut a, 100, 30));
    press(&mut a, KeyCode::Tab);
    assert_eq!(
        a.take_effects(),
        vec![Effect::LoadVolumeInspect("data".into())]
    );
    a.on_notification(Notification::InspectLoaded {
        id: "volume:data".into(),
        result: Ok(json!({"Name": "data", "Driver": "local",
                          "Mountpoint": "/var/lib/rdesk/volumes/data/_data"})),
    });
    let out = render(&mut a, 100, 30);
    assert!(out.contains("\"Mountpoint\""), "{out}");
}

#[test]
fn volume_file_browser() {
    let mut a = with_volumes(three_volumes());
    ch(&mut a, 'G');
    press(&mut a, KeyCode::Enter);
    press(&mut a, KeyCode::Tab);
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.detail.tab, DetailTab::Files);
    let effects = a.take_effects();
    assert!(
        effects.contains(&Effect::VolumeReadDir {
            volume: "data".into(),
            path: "".into()
        }),
        "{effects:?}"
    );
    a.on_notification(volume_dir("data", "", files()));
    let out = render(&mut a, 100, 30);
    insta::assert_snapshot!("volume_files_listing", out);
    // A reload of the volumes (an event, the minute tick) lists the directory again.
    a.on_notification(Notification::VolumesLoaded(Ok(three_volumes())));
    assert_eq!(
        a.take_effects(),
        vec![Effect::VolumeReadDir {
            volume: "data".into(),
            path: "".into()
        }]
    );
    a.on_notification(volume_dir("data", "", files()));
    assert!(out.contains("passwd -> /etc/passwd"));
    // etc/ first; enter opens it.
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::VolumeReadDir {
            volume: "data".into(),
            path: "etc".into()
        }]
    );
    a.on_notification(volume_dir("data", "etc", vec![]));
    assert!(render(&mut a, 100, 30).contains("Empty directory"));
    // `-` goes up (not fold-all), to the directory we came from.
    ch(&mut a, '-');
    assert_eq!(
        a.take_effects(),
        vec![Effect::VolumeReadDir {
            volume: "data".into(),
            path: "".into()
        }]
    );
    a.on_notification(volume_dir("data", "", files()));
    // etc, blob.bin, note.txt
    ch(&mut a, 'j');
    ch(&mut a, 'j');
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::VolumeReadFile {
            volume: "data".into(),
            path: "note.txt".into()
        }]
    );
    a.on_notification(Notification::VolumeFile {
        volume: "data".into(),
        path: "note.txt".into(),
        result: Ok(b"hello-volume\nsecond line\n".to_vec()),
    });
    let out = render(&mut a, 100, 30);
    insta::assert_snapshot!("volume_file_text", out);
    assert!(out.contains("hello-volume"));
    // Search in the file.
    ch(&mut a, '/');
    typ(&mut a, "second");
    press(&mut a, KeyCode::Enter);
    assert!(a.status.is_none(), "found: {:?}", a.status);
    // Backspace closes it; esc then leaves the pane.
    press(&mut a, KeyCode::Backspace);
    assert!(!render(&mut a, 100, 30).contains("hello-volume"));
    ch(&mut a, 'k');
    press(&mut a, KeyCode::Enter);
    a.on_notification(Notification::VolumeFile {
        volume: "data".into(),
        path: "blob.bin".into(),
        result: Ok(vec![0x7f, b'E', b'L', b'F', 0, 0, 1]),
    });
    let out = render(&mut a, 100, 30);
    insta::assert_snapshot!("volume_file_binary", out);
    assert!(out.contains("binary, 2000000 bytes"));
    press(&mut a, KeyCode::Esc);
    assert!(a.files_mut().unwrap().viewer.is_none());
    assert_eq!(a.focus, Focus::Detail);
    press(&mut a, KeyCode::Esc);
    assert_eq!(a.focus, Focus::Table);
}

#[test]
fn volume_create_remove_prune_dialogs() {
    let mut a = with_volumes(three_volumes());
    ch(&mut a, 'c');
    typ(&mut a, "mydata");
    insta::assert_snapshot!("volume_create_input", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::CreateVolume("mydata".into())]
    );
    a.on_notification(Notification::VolumeDone {
        what: "create the volume".into(),
        result: Ok("created volume mydata".into()),
        select: Some("mydata".into()),
    });
    assert_eq!(a.take_effects(), vec![Effect::LoadVolumes]);
    let mut list = three_volumes();
    list.push(volume("mydata", 1, 0, &[]));
    a.on_notification(Notification::VolumesLoaded(Ok(list)));
    assert_eq!(a.volumes.selected().unwrap().name, "mydata");

    // Remove the volume "web" uses: the dialog says it is refused, the refusal is an error.
    a.on_notification(Notification::VolumesLoaded(Ok(three_volumes())));
    ch(&mut a, 'G');
    ch(&mut a, 'd');
    insta::assert_snapshot!("volume_remove_in_use", render(&mut a, 80, 24));
    ch(&mut a, 'y');
    assert_eq!(a.take_effects(), vec![Effect::RemoveVolume("data".into())]);
    a.on_notification(Notification::VolumeDone {
        what: "remove data".into(),
        result: Err(format!("remove data: volume is in use - [{WEB}]")),
        select: None,
    });
    insta::assert_snapshot!("volume_in_use_error", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Esc);
    assert!(a.popups.is_empty());
    a.take_effects();

    // Prune: anonymous ones by default, `a` for all unused.
    ch(&mut a, 'P');
    insta::assert_snapshot!("volume_prune", render(&mut a, 80, 24));
    ch(&mut a, 'a');
    insta::assert_snapshot!("volume_prune_all", render(&mut a, 80, 24));
    ch(&mut a, 'y');
    assert_eq!(a.take_effects(), vec![Effect::PruneVolumes { all: true }]);
}

#[test]
fn mounts_tab_jumps_to_the_volume() {
    let mut a = with_containers(three_containers());
    a.on_notification(Notification::VolumesLoaded(Ok(three_volumes())));
    ch(&mut a, 'j');
    assert_eq!(a.containers.selected().unwrap().name, "web");
    press(&mut a, KeyCode::Enter);
    for _ in 0..4 {
        press(&mut a, KeyCode::Tab);
    }
    assert_eq!(a.detail.tab, DetailTab::Mounts);
    let mut doc = container_doc();
    doc["Mounts"] = json!([
        {"Type": "bind", "Source": "/srv/conf", "Destination": "/etc/app", "RW": false},
        {"Type": "volume", "Name": "data", "Source": "/var/lib/rdesk/volumes/data/_data",
         "Destination": "/data", "Driver": "local", "RW": true},
    ]);
    a.on_notification(Notification::InspectLoaded {
        id: WEB.into(),
        result: Ok(doc),
    });
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.resource,
        Resource::Containers,
        "a bind mount is no volume"
    );
    assert!(a.status.as_ref().unwrap().text.contains("/srv/conf"));
    ch(&mut a, 'j');
    insta::assert_snapshot!("container_mounts_volume_selected", render(&mut a, 100, 30));
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.resource, Resource::Volumes);
    assert_eq!(a.detail.tab, DetailTab::Files);
    assert_eq!(a.focus, Focus::Detail);
    assert_eq!(a.volumes.selected().unwrap().name, "data");
    assert!(a.take_effects().contains(&Effect::VolumeReadDir {
        volume: "data".into(),
        path: "".into()
    }));
}

// ---- networks ---------------------------------------------------------------------------

const NET_TODO: &str = "3f2a9c1b7d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8";
const NET_BRIDGE: &str = "9d1e2c3b4a5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A network as `network_usage` reports it: (name, id, subnet, [(container id, name, ip, aliases)]).
fn network(
    name: &str,
    id: &str,
    subnet: &str,
    internal: bool,
    members: &[(&str, &str, &str, &[&str])],
) -> rdesk_engine::network::NetworkUse {
    use rdesk_engine::models::{Ipam, IpamConfig, Network, NetworkContainer};
    let prefix = subnet.rsplit('/').next().unwrap_or("16");
    let gateway = subnet
        .split('/')
        .next()
        .map(|s| format!("{}1", &s[..s.len() - 1]))
        .unwrap_or_default();
    let n = Network {
        name: Some(name.into()),
        id: Some(id.into()),
        created: Some("2023-11-14T22:03:20Z".into()),
        scope: Some("local".into()),
        driver: Some("bridge".into()),
        internal: Some(internal),
        ipam: Some(Ipam {
            driver: Some("default".into()),
            config: Some(vec![IpamConfig {
                subnet: Some(subnet.into()),
                gateway: Some(gateway),
                ..Default::default()
            }]),
            options: None,
        }),
        containers: Some(
            members
                .iter()
                .map(|(cid, cname, ip, _)| {
                    (
                        cid.to_string(),
                        NetworkContainer {
                            name: Some(cname.to_string()),
                            endpoint_id: Some("e".repeat(64)),
                            mac_address: Some("02:42:ac:12:00:02".into()),
                            ipv4_address: Some(format!("{ip}/{prefix}")),
                            ipv6_address: Some(String::new()),
                        },
                    )
                })
                .collect(),
        ),
        options: Some(
            [(
                "com.docker.network.bridge.name".to_string(),
                "rdesk0".to_string(),
            )]
            .into_iter()
            .collect(),
        ),
        labels: Some(Default::default()),
        ..Default::default()
    };
    let uses = members
        .iter()
        .map(|(_, cname, ip, aliases)| {
            (
                cname.to_string(),
                ip.to_string(),
                aliases.iter().map(|a| a.to_string()).collect(),
            )
        })
        .collect();
    (n, uses)
}

fn predefined(name: &str) -> rdesk_engine::network::NetworkUse {
    use rdesk_engine::models::Network;
    (
        Network {
            name: Some(name.into()),
            id: Some(format!("{:0<64}", name.len())),
            scope: Some("local".into()),
            driver: Some(name.into()),
            ..Default::default()
        },
        vec![],
    )
}

fn default_networks() -> Vec<rdesk_engine::network::NetworkUse> {
    vec![
        network("bridge", NET_BRIDGE, "172.17.0.0/16", false, &[]),
        predefined("host"),
        predefined("none"),
    ]
}

fn some_networks() -> Vec<rdesk_engine::network::NetworkUse> {
    let mut v = default_networks();
    v.push(network(
        "todo-app",
        NET_TODO,
        "172.18.0.0/16",
        false,
        &[
            (WEB, "web", "172.18.0.2", &[]),
            (NEW, "db", "172.18.0.3", &["db", "postgres"]),
        ],
    ));
    v.push(network(
        "backend",
        "7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29180f7e6d5c4b3a29180f7e6d5c4b3a29",
        "10.89.0.0/24",
        true,
        &[],
    ));
    v
}

fn with_networks(list: Vec<rdesk_engine::network::NetworkUse>) -> App {
    let mut a = loaded(three_images());
    a.on_notification(Notification::NetworksLoaded(Ok(list)));
    ch(&mut a, '4');
    assert_eq!(
        a.take_effects(),
        vec![Effect::LoadNetworks],
        "shown: re-read"
    );
    a
}

#[test]
fn networks_pane_default_several_and_long_names() {
    let mut a = with_networks(default_networks());
    insta::assert_snapshot!("networks_default_80x24", render(&mut a, 80, 24));
    let mut a = with_networks(some_networks());
    insta::assert_snapshot!("networks_several_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("networks_several_200x50", render(&mut a, 200, 50));
    let long = "a-network-name-far-longer-than-any-column-could-ever-hold-in-eighty-columns";
    let mut a = with_networks(vec![network(
        long,
        NET_TODO,
        "192.168.112.0/20",
        false,
        &[
            (WEB, "a-container-with-a-long-name", "192.168.112.2", &[]),
            (JOB, "second", "192.168.112.3", &[]),
            (NEW, "third", "192.168.112.4", &[]),
        ],
    )]);
    insta::assert_snapshot!("networks_long_names_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("networks_long_names_200x50", render(&mut a, 200, 50));
}

#[test]
fn network_selection_and_filter_survive_reloads() {
    let mut a = with_networks(some_networks());
    // Sorted by name: backend, bridge, host, none, todo-app.
    assert_eq!(a.networks.selected().unwrap().name, "backend");
    ch(&mut a, 'G');
    assert_eq!(a.networks.selected().unwrap().name, "todo-app");
    // A reload with a new network before it keeps todo-app selected.
    let mut list = some_networks();
    list.push(network("aaa", &"a".repeat(64), "10.1.0.0/24", false, &[]));
    a.on_notification(Notification::NetworksLoaded(Ok(list)));
    assert_eq!(a.networks.selected().unwrap().name, "todo-app");
    // The filter on containers' names: `web` keeps todo-app.
    ch(&mut a, '/');
    typ(&mut a, "web");
    press(&mut a, KeyCode::Enter);
    assert_eq!(a.networks.visible.len(), 1);
    assert_eq!(a.networks.selected().unwrap().name, "todo-app");
    // The journal says networks changed: reload.
    a.take_effects();
    a.on_notification(Notification::NetworksChanged);
    assert_eq!(a.take_effects(), vec![Effect::LoadNetworks]);
}

#[test]
fn network_detail_info_containers_inspect() {
    let mut a = with_networks(some_networks());
    // A stopped container attached to todo-app (from the container list).
    let mut list = three_containers();
    list[1].network_settings = Some(rdesk_engine::models::ContainerSummaryNetworkSettings {
        networks: Some(
            [("todo-app".to_string(), Default::default())]
                .into_iter()
                .collect(),
        ),
    });
    a.on_notification(Notification::ContainersLoaded(Ok(list)));
    a.take_effects();
    ch(&mut a, 'G');
    press(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("network_info_80x24", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Tab);
    assert_eq!(a.detail.tab, DetailTab::Containers);
    insta::assert_snapshot!("network_containers_80x24", render(&mut a, 80, 24));
    insta::assert_snapshot!("network_containers_200x50", render(&mut a, 200, 50));
    press(&mut a, KeyCode::Tab);
    assert_eq!(
        a.take_effects(),
        vec![Effect::LoadNetworkInspect("todo-app".into())]
    );
    a.on_notification(Notification::InspectLoaded {
        id: "network:todo-app".into(),
        result: Ok(serde_json::to_value(&some_networks()[3].0).unwrap()),
    });
    let screen = render(&mut a, 80, 24);
    assert!(
        screen.contains("\"IPv4Address\": \"172.18.0.3/16\""),
        "{screen}"
    );
}

#[test]
fn network_create_remove_prune_dialogs() {
    let mut a = with_networks(some_networks());
    ch(&mut a, 'c');
    typ(&mut a, "todo-app --subnet");
    press(&mut a, KeyCode::Enter);
    assert!(a.take_effects().is_empty(), "a flag without its value");
    assert!(
        a.input.is_some(),
        "the input stays open with what was typed"
    );
    assert!(a.status.as_ref().unwrap().error);
    typ(&mut a, " 10.89.5.0/24 --internal");
    insta::assert_snapshot!("network_create_input", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::CreateNetwork(super::popups::connect::NetworkSpec {
            name: "todo-app".into(),
            subnet: Some("10.89.5.0/24".into()),
            internal: true,
            ..Default::default()
        })]
    );
    // The engine's refusal (the name is taken) is the error.
    a.on_notification(Notification::NetworkDone {
        what: "create the network".into(),
        result: Err("network with name todo-app already exists".into()),
        select: None,
    });
    assert!(matches!(a.popups.last(), Some(Popup::Error(_))));
    press(&mut a, KeyCode::Esc);
    a.take_effects();

    // The pre-defined bridge is never removed.
    ch(&mut a, 'j');
    assert_eq!(a.networks.selected().unwrap().name, "bridge");
    ch(&mut a, 'd');
    assert!(a.popups.is_empty());
    assert!(a.status.as_ref().unwrap().text.contains("pre-defined"));

    // Remove todo-app (in use): the dialog says it is refused; the refusal is the error.
    ch(&mut a, 'G');
    ch(&mut a, 'd');
    insta::assert_snapshot!("network_remove_in_use", render(&mut a, 80, 24));
    ch(&mut a, 'y');
    assert_eq!(
        a.take_effects(),
        vec![Effect::RemoveNetwork("todo-app".into())]
    );
    a.on_notification(Notification::NetworkDone {
        what: "remove todo-app".into(),
        result: Err(format!(
            "error while removing network: network todo-app has active endpoints (name:\"web\" id:\"{}\")",
            &WEB[..12]
        )),
        select: None,
    });
    insta::assert_snapshot!("network_in_use_error", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Esc);
    assert!(a.popups.is_empty());
    a.take_effects();

    // Prune lists the unused user-defined network only.
    ch(&mut a, 'P');
    insta::assert_snapshot!("network_prune", render(&mut a, 80, 24));
    ch(&mut a, 'y');
    assert_eq!(a.take_effects(), vec![Effect::PruneNetworks]);
    // Nothing to prune: said so.
    let mut b = with_networks(default_networks());
    ch(&mut b, 'P');
    assert!(b.popups.is_empty());
    assert!(b.status.as_ref().unwrap().text.contains("nothing to prune"));
}

#[test]
fn connect_dialog_on_a_container() {
    let mut a = with_containers(three_containers());
    a.on_notification(Notification::NetworksLoaded(Ok(some_networks())));
    // web is attached to bridge (from its summary).
    let mut list = three_containers();
    list[0].network_settings = Some(rdesk_engine::models::ContainerSummaryNetworkSettings {
        networks: Some(
            [("bridge".to_string(), Default::default())]
                .into_iter()
                .collect(),
        ),
    });
    a.on_notification(Notification::ContainersLoaded(Ok(list)));
    a.take_effects();
    // Sorted newest first: fresh, web, job.
    ch(&mut a, 'j');
    assert_eq!(a.containers.selected().unwrap().name, "web");
    a.take_effects();
    ch(&mut a, 'n');
    insta::assert_snapshot!("connect_dialog", render(&mut a, 80, 24));
    // todo-app is the last: connect with an alias.
    ch(&mut a, 'G');
    press(&mut a, KeyCode::Enter);
    typ(&mut a, "api");
    insta::assert_snapshot!("connect_dialog_alias", render(&mut a, 80, 24));
    press(&mut a, KeyCode::Enter);
    assert_eq!(
        a.take_effects(),
        vec![Effect::ConnectNetwork {
            network: "todo-app".into(),
            container: WEB.into(),
            name: "web".into(),
            alias: "api".into(),
        }]
    );
    assert!(a.popups.is_empty());
    a.on_notification(Notification::NetworkDone {
        what: "connect to todo-app".into(),
        result: Ok("connected".into()),
        select: None,
    });
    assert_eq!(
        a.take_effects(),
        vec![Effect::LoadNetworks, Effect::LoadContainers]
    );
    // Enter on bridge (attached): asks, then disconnects.
    ch(&mut a, 'n');
    ch(&mut a, 'j');
    assert_eq!(
        match a.popups.last() {
            Some(Popup::Connect(c)) => c.selected_network(),
            _ => None,
        },
        Some("bridge".into())
    );
    press(&mut a, KeyCode::Enter);
    insta::assert_snapshot!("disconnect_confirm", render(&mut a, 80, 24));
    ch(&mut a, 'y');
    assert_eq!(
        a.take_effects(),
        vec![Effect::DisconnectNetwork {
            network: "bridge".into(),
            container: WEB.into(),
            name: "web".into(),
        }]
    );
    // The engine's error is the dismissable error.
    a.on_notification(Notification::NetworkDone {
        what: "disconnect from bridge".into(),
        result: Err("container web is not connected to network bridge".into()),
        select: None,
    });
    assert!(matches!(a.popups.last(), Some(Popup::Error(_))));
    press(&mut a, KeyCode::Esc);
    assert!(a.popups.is_empty());
    // esc closes the dialog; `n` elsewhere says what it is for.
    ch(&mut a, 'n');
    press(&mut a, KeyCode::Esc);
    assert!(a.popups.is_empty());
    ch(&mut a, '4');
    ch(&mut a, 'n');
    assert!(a.status.as_ref().unwrap().text.contains("connect"));
}

#[test]
fn container_info_shows_networks_and_ports() {
    let mut list = three_containers();
    list[0].ports = Some(vec![rdesk_engine::models::Port {
        ip: Some("0.0.0.0".into()),
        private_port: 80,
        public_port: Some(8080),
        typ: Some(rdesk_engine::models::PortTypeEnum::TCP),
    }]);
    let mut a = with_containers(list);
    ch(&mut a, 'j');
    assert_eq!(a.containers.selected().unwrap().name, "web");
    press(&mut a, KeyCode::Enter);
    a.take_effects();
    let mut doc = container_doc();
    doc["NetworkSettings"] = json!({"Networks": {"todo-app": {
        "IPAddress": "172.18.0.2", "IPPrefixLen": 16, "Gateway": "172.18.0.1",
        "MacAddress": "02:42:ac:12:00:02", "Aliases": ["web", "api"]
    }}});
    a.on_notification(Notification::InspectLoaded {
        id: WEB.into(),
        result: Ok(doc),
    });
    let screen = render(&mut a, 120, 40);
    assert!(screen.contains("0.0.0.0:8080->80/tcp"), "{screen}");
    assert!(
        screen.contains(
            "todo-app 172.18.0.2/16 via 172.18.0.1 mac 02:42:ac:12:00:02 aliases web, api"
        ),
        "{screen}"
    );
}
