//! The workstation TUI (`rdesk` with no verb), in the gitui/oxker style: one owned `App`
//! state (app.rs); keys become `Action`s through one keymap (keymap.rs, action.rs);
//! background tasks report `Notification`s over a channel (event.rs) and never share state;
//! one module per view (views/) and per popup (popups/); reusable widgets in rdesk-widgets.
//!
//! The loop sleeps until a key, a mouse event, a notification or a signal arrives, and
//! draws only when the state changed (at most one frame per 16 ms while progress streams
//! in). The only timer is a once-a-minute refresh of relative ages (and, only while a
//! container's Stats tab shows, its sampler). The first frame is drawn before the lists are
//! read; the image index and the engine's event journal are watched with inotify
//! (watch.rs), a shown log too (follow.rs). Keys come from our own input thread (input.rs),
//! which attach/exec/interactive runs pause while the container has the terminal.
//! The terminal is restored on every way out: return, error, signal, panic.

mod action;
mod app;
mod config;
mod event;
mod follow;
mod input;
mod keymap;
mod popups;
mod shell;
mod theme;
mod views;
mod watch;

#[cfg(test)]
mod tests;

use anyhow::Context as _;
use app::App;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use event::{ContainerOp, Effect, Notification};
use futures_util::StreamExt;
use input::Input;
use keymap::KeyMap;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use rdesk_engine::{
    CreateImageOptions, CreateVolumeOptions, Engine, ListContainersOptions, ListImagesOptions,
    PruneImagesOptions, PruneVolumesOptions, Reference, RemoveContainerOptions, RemoveImageOptions,
    RemoveVolumeOptions,
};
use std::io::{IsTerminal, Stdout, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use theme::Theme;
use tokio::sync::mpsc::{self, UnboundedSender};

/// At most one frame per this long while notifications stream in.
const MIN_FRAME: Duration = Duration::from_millis(16);
/// Relative ages ("5m ago") are refreshed this often.
const AGE_TICK: Duration = Duration::from_secs(60);

/// `rdesk` with no verb: opens the engine as the CLI does and runs the workstation.
pub fn main(root: Option<PathBuf>, runroot: Option<PathBuf>) -> i32 {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        eprintln!(
            "rdesk: the workstation needs a terminal. Give a command for the CLI instead, e.g. `rdesk images`; `rdesk --help` lists them."
        );
        return 1;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return 1;
        }
    };
    let result = runtime.block_on(async move {
        let engine = crate::cli::open_engine(root, runroot).await?;
        run(engine).await
    });
    // A pull still unpacking must not hold the exit up for long.
    runtime.shutdown_timeout(Duration::from_secs(2));
    match result {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {}", crate::cli::error_text(&e));
            1
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub async fn run(engine: Engine) -> anyhow::Result<()> {
    let (config, mut problems) = config::load();
    let theme = Theme::from_env(&config.theme).unwrap_or_else(|e| {
        problems.push(e);
        Theme::from_env(&Default::default()).unwrap_or_else(|_| Theme::monochrome())
    });
    let (keymap, errors) = KeyMap::new(&config.keys);
    problems.extend(errors);
    let root = engine.store().root().to_path_buf();
    let mut app = App::new(theme, keymap, root.display().to_string(), unix_now());
    app.mouse = config.mouse;
    app.detail_height = config.detail_height;
    app.log_tail = config.log_tail;
    app.cgroups = std::fs::read_to_string("/proc/self/mountinfo")
        .map(|m| rdesk_engine::stats::cgroup_mode(&m).to_string())
        .unwrap_or_else(|_| "unknown".into());
    for p in problems {
        app.error("Configuration", p);
    }

    let mut term = Term::enter(app.mouse).context("cannot set up the terminal")?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let refresh = Duration::from_millis(config.refresh_ms);
    let mut runner = Runner {
        engine: engine.clone(),
        tx: tx.clone(),
        loading: false,
        reload: false,
        loading_containers: false,
        reload_containers: false,
        loading_volumes: false,
        reload_volumes: false,
        loading_networks: false,
        reload_networks: false,
        pull: None,
        log_tail: config.log_tail,
        logs: None,
        stats: None,
        refresh,
        term: None,
    };
    // The lists are read on worker threads while the first frame (which does not wait for
    // them: "Loading…") is drawn here.
    runner.run(Effect::LoadImages, &mut term)?;
    runner.run(Effect::LoadContainers, &mut term)?;
    runner.run(Effect::LoadVolumes, &mut term)?;
    runner.run(Effect::LoadNetworks, &mut term)?;
    term.draw(&mut app)?;
    let mut last_draw = Instant::now();
    tokio::spawn(watch::watch(root, tx.clone(), refresh));
    tokio::spawn(watch::watch_journal(engine, tx.clone(), refresh));
    drop(tx);

    let mut input = Input::start().context("cannot read the terminal")?;
    let mut ages = tokio::time::interval_at(tokio::time::Instant::now() + AGE_TICK, AGE_TICK);
    ages.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // In raw mode ctrl-c is a key; a SIGINT from `kill` still ends the session cleanly.
    let mut sigint = signal(SignalKind::interrupt())?;
    // Window size changes (the input thread reads keys and the mouse only).
    let mut sigwinch = signal(SignalKind::window_change())?;

    loop {
        let frame_due = tokio::time::Instant::from_std(last_draw + MIN_FRAME);
        // Keys, the mouse and loaded lists are drawn at once; only streams (progress, log
        // lines, a shell's output) are held to one frame per MIN_FRAME.
        let mut now = false;
        tokio::select! {
            ev = input.events.recv() => {
                now = true;
                match ev {
                    Some(Ok(Event::Key(k))) => app.on_key(k),
                    Some(Ok(Event::Mouse(m))) => app.on_mouse(m),
                    Some(Ok(Event::Paste(s))) => app.on_paste(&s),
                    Some(Ok(Event::Resize(..))) => app.dirty = true,
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                    None => break,
                }
            }
            Some(n) = rx.recv() => {
                // Ages of what just loaded count from now, not from the last minute tick.
                app.now = unix_now();
                now |= !n.is_stream();
                runner.notified(&n);
                app.on_notification(n);
                // Whatever else is queued goes into the same frame.
                while let Ok(n) = rx.try_recv() {
                    now |= !n.is_stream();
                    runner.notified(&n);
                    app.on_notification(n);
                }
            }
            _ = ages.tick() => {
                app.tick(unix_now());
            }
            _ = sigterm.recv() => break,
            _ = sighup.recv() => break,
            _ = sigint.recv() => break,
            _ = sigwinch.recv() => app.dirty = true,
            _ = tokio::time::sleep_until(frame_due), if app.dirty => {}
        }
        for e in app.take_effects() {
            match e {
                Effect::Attach(_) | Effect::Exec(_) | Effect::StartAttached(_) => {
                    // The terminal goes to the container: our reader must not compete for
                    // stdin meanwhile (it acknowledges before the client starts).
                    let result = match input.pause() {
                        Ok(()) => {
                            let r = handover(&runner.engine, &mut term, e, app.mouse).await;
                            input.resume();
                            r
                        }
                        Err(e) => Err(e.to_string()),
                    };
                    let _ = runner.tx.send(Notification::HandoverDone(result));
                    app.dirty = true;
                }
                e => runner.run(e, &mut term)?,
            }
        }
        if app.quit {
            break;
        }
        if app.dirty && (now || last_draw.elapsed() >= MIN_FRAME) {
            term.draw(&mut app)?;
            last_draw = Instant::now();
            if let Some((rows, cols)) = app.term_resized.take() {
                runner.run(Effect::TermResize(rows, cols), &mut term)?;
            }
        }
    }
    // A shell in the pane gets the end of its input (and exits) rather than being left.
    if let Some(t) = runner.term.take() {
        let _ = t.send(shell::TermMsg::Close);
    }
    for t in [runner.pull.take(), runner.logs.take(), runner.stats.take()]
        .into_iter()
        .flatten()
    {
        t.abort();
    }
    term.restore();
    Ok(())
}

/// Carries out effects: engine calls on background tasks, terminal writes.
struct Runner {
    engine: Engine,
    tx: UnboundedSender<Notification>,
    /// An image list read is in flight; `reload` asks for another when it ends.
    loading: bool,
    reload: bool,
    /// The same for the container list.
    loading_containers: bool,
    reload_containers: bool,
    /// The same for the volumes (each read walks every volume for its size).
    loading_volumes: bool,
    reload_volumes: bool,
    /// The same for the networks.
    loading_networks: bool,
    reload_networks: bool,
    pull: Option<tokio::task::JoinHandle<()>>,
    log_tail: usize,
    /// The log follower and the stats sampler of the container detail pane.
    logs: Option<tokio::task::JoinHandle<()>>,
    stats: Option<tokio::task::JoinHandle<()>>,
    refresh: Duration,
    /// Keys and sizes for the terminal pane's shell.
    term: Option<std::sync::mpsc::Sender<shell::TermMsg>>,
}

fn text(e: impl Into<anyhow::Error>) -> String {
    crate::cli::error_text(&e.into())
}

impl Runner {
    fn notified(&mut self, n: &Notification) {
        match n {
            Notification::ImagesLoaded(_) => {
                self.loading = false;
                if std::mem::take(&mut self.reload) {
                    self.load_images();
                }
            }
            Notification::ContainersLoaded(_) => {
                self.loading_containers = false;
                if std::mem::take(&mut self.reload_containers) {
                    self.load_containers();
                }
            }
            Notification::VolumesLoaded(_) => {
                self.loading_volumes = false;
                if std::mem::take(&mut self.reload_volumes) {
                    self.load_volumes();
                }
            }
            Notification::NetworksLoaded(_) => {
                self.loading_networks = false;
                if std::mem::take(&mut self.reload_networks) {
                    self.load_networks();
                }
            }
            Notification::PullDone(_) => self.pull = None,
            _ => {}
        }
    }

    fn load_images(&mut self) {
        if self.loading {
            self.reload = true;
            return;
        }
        self.loading = true;
        let (engine, tx) = (self.engine.clone(), self.tx.clone());
        tokio::spawn(async move {
            let r = engine.list_images(ListImagesOptions::default()).await;
            let _ = tx.send(Notification::ImagesLoaded(r.map_err(text)));
        });
    }

    fn load_containers(&mut self) {
        if self.loading_containers {
            self.reload_containers = true;
            return;
        }
        self.loading_containers = true;
        let (engine, tx) = (self.engine.clone(), self.tx.clone());
        tokio::spawn(async move {
            let r = engine
                .list_containers(ListContainersOptions {
                    all: true,
                    ..Default::default()
                })
                .await;
            let _ = tx.send(Notification::ContainersLoaded(r.map_err(text)));
        });
    }

    fn load_volumes(&mut self) {
        if self.loading_volumes {
            self.reload_volumes = true;
            return;
        }
        self.loading_volumes = true;
        let (engine, tx) = (self.engine.clone(), self.tx.clone());
        tokio::spawn(async move {
            let r = engine.volumes_usage().await;
            let _ = tx.send(Notification::VolumesLoaded(r.map_err(text)));
        });
    }

    fn load_networks(&mut self) {
        if self.loading_networks {
            self.reload_networks = true;
            return;
        }
        self.loading_networks = true;
        let (engine, tx) = (self.engine.clone(), self.tx.clone());
        tokio::spawn(async move {
            let r = engine.network_usage().await;
            let _ = tx.send(Notification::NetworksLoaded(r.map_err(text)));
        });
    }

    fn run(&mut self, effect: Effect, term: &mut Term) -> anyhow::Result<()> {
        let (engine, tx) = (self.engine.clone(), self.tx.clone());
        match effect {
            Effect::LoadNetworks => self.load_networks(),
            Effect::LoadNetworkInspect(name) => {
                tokio::spawn(async move {
                    let result = match engine.inspect_network(&name).await {
                        Ok(n) => serde_json::to_value(n).map_err(text),
                        Err(e) => Err(text(e)),
                    };
                    let id = views::network_detail::inspect_key(&name);
                    let _ = tx.send(Notification::InspectLoaded { id, result });
                });
            }
            Effect::CreateNetwork(spec) => {
                tokio::spawn(async move {
                    let name = spec.name.clone();
                    let r = engine
                        .create_network(rdesk_engine::CreateNetworkOptions {
                            name: spec.name,
                            driver: "bridge".into(),
                            subnet: spec.subnet,
                            gateway: spec.gateway,
                            ip_range: spec.ip_range,
                            internal: spec.internal,
                            labels: crate::cli::key_values(&spec.labels),
                            options: Default::default(),
                        })
                        .await;
                    let (result, select) = match r {
                        Ok(id) => (
                            Ok(format!(
                                "created network {name} ({})",
                                &id[..id.len().min(12)]
                            )),
                            Some(name),
                        ),
                        Err(e) => (Err(text(e)), None),
                    };
                    let _ = tx.send(Notification::NetworkDone {
                        what: "create the network".into(),
                        result,
                        select,
                    });
                });
            }
            Effect::RemoveNetwork(name) => {
                tokio::spawn(async move {
                    let result = engine
                        .remove_network(&name)
                        .await
                        .map(|_| format!("removed network {name}"))
                        .map_err(text);
                    let _ = tx.send(Notification::NetworkDone {
                        what: format!("remove {name}"),
                        result,
                        select: None,
                    });
                });
            }
            Effect::PruneNetworks => {
                tokio::spawn(async move {
                    let result = engine
                        .prune_networks(Default::default())
                        .await
                        .map(|gone| match gone.len() {
                            0 => "pruned nothing: every network is in use".to_string(),
                            n => format!(
                                "pruned {n} network{}: {}",
                                if n == 1 { "" } else { "s" },
                                gone.join(", ")
                            ),
                        })
                        .map_err(text);
                    let _ = tx.send(Notification::NetworkDone {
                        what: "prune networks".into(),
                        result,
                        select: None,
                    });
                });
            }
            Effect::ConnectNetwork {
                network,
                container,
                name,
                alias,
            } => {
                tokio::spawn(async move {
                    let result = engine
                        .connect_network(
                            &network,
                            rdesk_engine::ConnectNetworkOptions {
                                container,
                                aliases: if alias.is_empty() {
                                    vec![]
                                } else {
                                    vec![alias]
                                },
                                ipv4_address: None,
                            },
                        )
                        .await
                        .map(|_| format!("connected {name} to {network}"))
                        .map_err(text);
                    let _ = tx.send(Notification::NetworkDone {
                        what: format!("connect to {network}"),
                        result,
                        select: None,
                    });
                });
            }
            Effect::DisconnectNetwork {
                network,
                container,
                name,
            } => {
                tokio::spawn(async move {
                    let result = engine
                        .disconnect_network(
                            &network,
                            rdesk_engine::DisconnectNetworkOptions {
                                container,
                                force: false,
                            },
                        )
                        .await
                        .map(|_| format!("disconnected {name} from {network}"))
                        .map_err(text);
                    let _ = tx.send(Notification::NetworkDone {
                        what: format!("disconnect from {network}"),
                        result,
                        select: None,
                    });
                });
            }
            Effect::LoadVolumes => self.load_volumes(),
            Effect::LoadVolumeInspect(name) => {
                tokio::spawn(async move {
                    let result = match engine.inspect_volume(&name).await {
                        Ok(v) => serde_json::to_value(v).map_err(text),
                        Err(e) => Err(text(e)),
                    };
                    let id = views::volume_detail::inspect_key(&name);
                    let _ = tx.send(Notification::InspectLoaded { id, result });
                });
            }
            Effect::CreateVolume(name) => {
                tokio::spawn(async move {
                    let r = engine
                        .create_volume(CreateVolumeOptions {
                            name: name.clone(),
                            ..Default::default()
                        })
                        .await;
                    let (result, select) = match r {
                        Ok(v) => (Ok(format!("created volume {}", v.name)), Some(v.name)),
                        Err(e) => (Err(text(e)), None),
                    };
                    let _ = tx.send(Notification::VolumeDone {
                        what: "create the volume".into(),
                        result,
                        select,
                    });
                });
            }
            Effect::RemoveVolume(name) => {
                tokio::spawn(async move {
                    let result = engine
                        .remove_volume(&name, RemoveVolumeOptions::default())
                        .await
                        .map(|_| format!("removed volume {name}"))
                        .map_err(text);
                    let _ = tx.send(Notification::VolumeDone {
                        what: format!("remove {name}"),
                        result,
                        select: None,
                    });
                });
            }
            Effect::PruneVolumes { all } => {
                tokio::spawn(async move {
                    let result = engine
                        .prune_volumes(PruneVolumesOptions {
                            all,
                            ..Default::default()
                        })
                        .await
                        .map(|r| {
                            let n = r.volumes_deleted.map_or(0, |v| v.len());
                            format!(
                                "pruned {n} volume{}, {} reclaimed",
                                if n == 1 { "" } else { "s" },
                                crate::cli::format::human_size(
                                    r.space_reclaimed.unwrap_or(0) as f64
                                )
                            )
                        })
                        .map_err(text);
                    let _ = tx.send(Notification::VolumeDone {
                        what: "prune volumes".into(),
                        result,
                        select: None,
                    });
                });
            }
            Effect::VolumeReadDir { volume, path } => {
                tokio::spawn(async move {
                    let result = engine
                        .volume_read_dir(&volume, &path)
                        .await
                        .map(|list| {
                            list.into_iter()
                                .map(|e| rdesk_widgets::FileEntry {
                                    name: e.name,
                                    kind: e.kind.to_string(),
                                    size: e.size,
                                    mode: e.mode,
                                    link_target: e.link_target,
                                })
                                .collect()
                        })
                        .map_err(text);
                    let _ = tx.send(Notification::VolumeDir {
                        volume,
                        path,
                        result,
                    });
                });
            }
            Effect::VolumeReadFile { volume, path } => {
                tokio::spawn(async move {
                    let result = engine
                        .volume_read_file(&volume, &path, app::FILE_CAP)
                        .await
                        .map_err(text);
                    let _ = tx.send(Notification::VolumeFile {
                        volume,
                        path,
                        result,
                    });
                });
            }
            Effect::LoadImages => self.load_images(),
            Effect::LoadContainers => self.load_containers(),
            Effect::LoadContainerInspect(id) => {
                tokio::spawn(async move {
                    let result = match engine.inspect_container(&id).await {
                        Ok(i) => serde_json::to_value(i).map_err(text),
                        Err(e) => Err(text(e)),
                    };
                    let _ = tx.send(Notification::InspectLoaded { id, result });
                });
            }
            Effect::Container { op, id, name } => {
                tokio::spawn(async move {
                    let (what, done, result) = match op {
                        ContainerOp::Start => (
                            "start",
                            "started",
                            engine.start_container(&id).await.map(|_| ()),
                        ),
                        ContainerOp::Stop => {
                            ("stop", "stopped", engine.stop_container(&id, None).await)
                        }
                        ContainerOp::Restart => (
                            "restart",
                            "restarted",
                            engine.restart_container(&id, None).await,
                        ),
                        ContainerOp::Remove { force } => (
                            "remove",
                            "removed",
                            engine
                                .remove_container(&id, RemoveContainerOptions { force, v: false })
                                .await,
                        ),
                    };
                    let _ = tx.send(Notification::ContainerDone {
                        what: format!("{what} {name}"),
                        result: result.map(|_| format!("{done} {name}")).map_err(text),
                    });
                });
            }
            Effect::PruneContainers(list) => {
                tokio::spawn(async move {
                    let mut failed = Vec::new();
                    let mut removed = 0;
                    for (id, name) in list {
                        match engine
                            .remove_container(&id, RemoveContainerOptions::default())
                            .await
                        {
                            Ok(()) => removed += 1,
                            // Removed meanwhile by someone else: that is what was asked.
                            Err(e) if e.is_not_found() => {}
                            Err(e) => failed.push(format!("{name}: {}", text(e))),
                        }
                    }
                    let _ = tx.send(Notification::ContainerDone {
                        what: "prune containers".into(),
                        result: if failed.is_empty() {
                            Ok(format!("removed {removed} stopped containers"))
                        } else {
                            Err(failed.join("\n"))
                        },
                    });
                });
            }
            Effect::FollowLogs(id) => {
                if let Some(t) = self.logs.take() {
                    t.abort();
                }
                if let Some(id) = id {
                    self.logs = Some(tokio::spawn(follow::follow_log(
                        engine,
                        id,
                        self.log_tail,
                        tx,
                    )));
                }
            }
            Effect::SampleStats(id) => {
                if let Some(t) = self.stats.take() {
                    t.abort();
                }
                if let Some(id) = id {
                    self.stats = Some(tokio::spawn(follow::sample_stats(
                        engine,
                        id,
                        self.refresh,
                        tx,
                    )));
                }
            }
            Effect::SaveLogs { path, text: body } => {
                tokio::spawn(async move {
                    let shown = path.display().to_string();
                    let r = tokio::fs::write(&path, body).await;
                    let _ = tx.send(match r {
                        Ok(()) => Notification::Status(format!("saved the log to {shown}")),
                        Err(e) => {
                            Notification::Error(format!("cannot save the log to {shown}: {e}"))
                        }
                    });
                });
            }
            Effect::Run(args) => {
                tokio::spawn(async move {
                    let status = {
                        let tx = tx.clone();
                        move |s: String| {
                            let _ = tx.send(Notification::Status(s));
                        }
                    };
                    let prepared =
                        crate::cli::containers::prepare_run(&engine, &args, status).await;
                    let n = match prepared {
                        Err(e) => Notification::RunDone(Err(crate::cli::error_text(&e))),
                        Ok(p) if (p.tty || p.interactive) && !p.detach => {
                            Notification::RunCreated(p.id)
                        }
                        Ok(p) => match engine.start_container(&p.id).await {
                            Ok(_) => Notification::RunDone(Ok(p.id)),
                            Err(e) => {
                                if p.rm {
                                    let _ = engine
                                        .remove_container(
                                            &p.id,
                                            RemoveContainerOptions {
                                                force: true,
                                                v: true,
                                            },
                                        )
                                        .await;
                                }
                                Notification::RunDone(Err(text(e)))
                            }
                        },
                    };
                    let _ = tx.send(n);
                });
            }
            Effect::TermOpen { id, rows, cols } => {
                if let Some(old) = self.term.take() {
                    let _ = old.send(shell::TermMsg::Close);
                }
                let (sender, receiver) = std::sync::mpsc::channel();
                self.term = Some(sender);
                tokio::spawn(shell::open(engine, id, (rows, cols), receiver, tx));
            }
            Effect::TermInput(bytes) => {
                if let Some(t) = &self.term {
                    let _ = t.send(shell::TermMsg::Input(bytes));
                }
            }
            Effect::TermResize(rows, cols) => {
                if let Some(t) = &self.term {
                    let _ = t.send(shell::TermMsg::Resize(rows, cols));
                }
            }
            Effect::TermClose => {
                if let Some(t) = self.term.take() {
                    let _ = t.send(shell::TermMsg::Close);
                }
            }
            // Handled by the loop: they need the terminal.
            Effect::Attach(_) | Effect::Exec(_) | Effect::StartAttached(_) => {}
            Effect::LoadHistory(id) => {
                tokio::spawn(async move {
                    let result = engine.image_history(&id).await.map_err(text);
                    let _ = tx.send(Notification::HistoryLoaded { id, result });
                });
            }
            Effect::LoadInspect(id) => {
                tokio::spawn(async move {
                    let result = match engine.inspect_image(&id).await {
                        Ok(i) => serde_json::to_value(i).map_err(text),
                        Err(e) => Err(text(e)),
                    };
                    let _ = tx.send(Notification::InspectLoaded { id, result });
                });
            }
            Effect::Pull(reference) => {
                self.pull = Some(tokio::spawn(async move {
                    let familiar = Reference::parse(&reference)
                        .map(|r| r.familiar())
                        .unwrap_or_else(|_| reference.clone());
                    let mut stream = engine.create_image(CreateImageOptions {
                        from_image: reference,
                        tag: String::new(),
                        platform: String::new(),
                    });
                    while let Some(msg) = stream.next().await {
                        match msg {
                            Ok(info) => {
                                let _ = tx.send(Notification::PullProgress(info));
                            }
                            Err(e) => {
                                let _ = tx.send(Notification::PullDone(Err(text(e))));
                                return;
                            }
                        }
                    }
                    let _ = tx.send(Notification::PullDone(Ok(familiar)));
                }));
            }
            Effect::RemoveImage(reference) => {
                tokio::spawn(async move {
                    let result = engine
                        .remove_image(&reference, RemoveImageOptions::default())
                        .await
                        .map_err(text);
                    let _ = tx.send(Notification::Removed { reference, result });
                });
            }
            Effect::PruneImages => {
                tokio::spawn(async move {
                    let r = engine
                        .prune_images(PruneImagesOptions { all: false })
                        .await
                        .map_err(text);
                    let _ = tx.send(Notification::Pruned(r));
                });
            }
            // A terminal that refuses is a message, not the end of the session.
            Effect::Copy(s) => {
                if let Err(e) = term.copy(&s) {
                    let _ = self
                        .tx
                        .send(Notification::Error(format!("cannot copy: {e}")));
                }
            }
            Effect::SetMouse(on) => {
                if let Err(e) = term.set_mouse(on) {
                    let _ = self
                        .tx
                        .send(Notification::Error(format!("cannot switch the mouse: {e}")));
                }
            }
            Effect::Quit => {}
        }
        Ok(())
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

/// Leaves the screen to a container (attach, exec a shell, an interactive run) through the
/// CLI's attach client: the TUI's terminal modes are undone first, the client puts the
/// terminal in raw mode itself, forwards the window size and input, and ends on the detach
/// keys (ctrl-p ctrl-q) or the exit; then the TUI's modes come back and it redraws whole.
async fn handover(
    engine: &Engine,
    term: &mut Term,
    effect: Effect,
    mouse: bool,
) -> Result<String, String> {
    let keys = rdesk_engine::attach::parse_detach_keys(crate::attach_client::DEFAULT_DETACH_KEYS)
        .map_err(|e| e.to_string())?;
    let (label, socket, tty, stdin) = match effect {
        Effect::Attach(id) => {
            let (socket, tty, open_stdin) = engine.attach_target(&id).await.map_err(text)?;
            if !tty {
                return Err(format!(
                    "{} has no TTY (it was not run with -t): its output is in the Logs tab, and exec gives a shell.",
                    short(&id)
                ));
            }
            (short(&id).to_string(), socket, tty, open_stdin)
        }
        Effect::Exec(id) => {
            let shell = shell::shell_of(engine, &id).await;
            let config = rdesk_engine::ExecConfig {
                cmd: vec![shell.to_string()],
                env: Vec::new(),
                working_dir: None,
                user: None,
                tty: true,
                attach_stdin: true,
                detach: false,
            };
            let (_, socket) = engine.exec(&id, config).await.map_err(text)?;
            (format!("{shell} in {}", short(&id)), socket, true, true)
        }
        Effect::StartAttached(id) => {
            let (socket, tty, open_stdin) = match engine.start_container_attached(&id).await {
                Ok((_, socket)) => {
                    let (_, tty, stdin) = engine.attach_target(&id).await.map_err(text)?;
                    (socket, tty, stdin)
                }
                Err(e) => return Err(text(e)),
            };
            (short(&id).to_string(), socket, tty, open_stdin)
        }
        _ => return Ok(String::new()),
    };
    term.suspend();
    let mut out = std::io::stdout();
    // A clean screen for the container, the way back said first.
    let _ = crossterm::execute!(
        out,
        crossterm::terminal::Clear(crossterm::terminal::ClearType::All),
        crossterm::cursor::MoveTo(0, 0)
    );
    let _ = write!(
        out,
        "rdesk: attached to {label}. ctrl-p ctrl-q detaches back to the workstation.\r\n"
    );
    let _ = out.flush();
    let end = tokio::task::spawn_blocking(move || {
        crate::attach_client::session(&socket, tty, stdin, &keys)
    })
    .await;
    let resumed = term.resume(mouse);
    let end = match end {
        Ok(Ok(end)) => end,
        Ok(Err(e)) => return Err(crate::cli::error_text(&e)),
        Err(e) => return Err(e.to_string()),
    };
    resumed.map_err(|e| format!("cannot take the terminal back: {e}"))?;
    Ok(match end {
        crate::attach_client::AttachEnd::Detached => format!("detached from {label}"),
        crate::attach_client::AttachEnd::Exited(code) => {
            format!("{label}: exited with code {code}")
        }
        crate::attach_client::AttachEnd::Closed => format!("{label}: the connection closed"),
    })
}

/// The terminal in raw mode on the alternate screen; restored on drop and on panic.
struct Term {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

/// Leaves the alternate screen, stops mouse capture and raw mode, shows the cursor. Safe to
/// call more than once.
fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        DisableMouseCapture,
        DisableBracketedPaste,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // The message must land on the normal screen, in cooked mode.
            restore_terminal();
            previous(info);
        }));
    });
}

impl Term {
    fn enter(mouse: bool) -> std::io::Result<Term> {
        install_panic_hook();
        enable_raw_mode()?;
        let mut out = std::io::stdout();
        let setup = crossterm::execute!(out, EnterAlternateScreen, EnableBracketedPaste)
            .and_then(|_| {
                if mouse {
                    crossterm::execute!(out, EnableMouseCapture)
                } else {
                    Ok(())
                }
            })
            .and_then(|_| Terminal::new(CrosstermBackend::new(std::io::stdout())));
        match setup {
            Ok(terminal) => Ok(Term { terminal }),
            Err(e) => {
                restore_terminal();
                Err(e)
            }
        }
    }

    fn draw(&mut self, app: &mut App) -> anyhow::Result<()> {
        self.terminal
            .draw(|f| views::draw(f, app))
            .context("cannot draw")?;
        app.dirty = false;
        Ok(())
    }

    fn set_mouse(&mut self, on: bool) -> std::io::Result<()> {
        if on {
            crossterm::execute!(self.terminal.backend_mut(), EnableMouseCapture)
        } else {
            crossterm::execute!(self.terminal.backend_mut(), DisableMouseCapture)
        }
    }

    /// OSC 52: the terminal (and tmux with `set-clipboard on`) puts `text` on the clipboard.
    fn copy(&mut self, text: &str) -> std::io::Result<()> {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(text);
        let w = self.terminal.backend_mut();
        write!(w, "\x1b]52;c;{b64}\x07")?;
        w.flush()
    }

    fn restore(&mut self) {
        restore_terminal();
    }

    /// Gives the terminal back as the shell had it (for a handover).
    fn suspend(&mut self) {
        restore_terminal();
    }

    /// Takes it again after a handover; the next frame is drawn whole.
    fn resume(&mut self, mouse: bool) -> std::io::Result<()> {
        enable_raw_mode()?;
        let mut out = std::io::stdout();
        crossterm::execute!(out, EnterAlternateScreen, EnableBracketedPaste)?;
        if mouse {
            crossterm::execute!(out, EnableMouseCapture)?;
        }
        // A fresh terminal (its previous frame empty) on a cleared screen: the next frame is
        // written whole. (`Terminal::clear` would ask the terminal for the cursor position,
        // which needs the input reader the handover just stopped.)
        crossterm::execute!(
            out,
            crossterm::terminal::Clear(crossterm::terminal::ClearType::All)
        )?;
        self.terminal = Terminal::new(CrosstermBackend::new(std::io::stdout()))?;
        Ok(())
    }
}

impl Drop for Term {
    fn drop(&mut self) {
        restore_terminal();
    }
}
