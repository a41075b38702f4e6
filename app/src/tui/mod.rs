//! The workstation TUI (`rdesk` with no verb), in the gitui/oxker style: one owned `App`
//! state (app.rs); keys become `Action`s through one keymap (keymap.rs, action.rs);
//! background tasks report `Notification`s over a channel (event.rs) and never share state;
//! one module per view (views/) and per popup (popups/); reusable widgets in rdesk-widgets.
//!
//! The loop sleeps until a key, a mouse event, a notification or a signal arrives, and
//! draws only when the state changed (at most one frame per 16 ms while progress streams
//! in). The only timer is a once-a-minute refresh of relative ages. The first frame is
//! drawn before the image list is read; the store is watched with inotify (watch.rs).
//! The terminal is restored on every way out: return, error, signal, panic.

mod action;
mod app;
mod config;
mod event;
mod keymap;
mod popups;
mod theme;
mod views;
mod watch;

#[cfg(test)]
mod tests;

use anyhow::Context as _;
use app::App;
use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture, Event,
    EventStream,
};
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use event::{Effect, Notification};
use futures_util::StreamExt;
use keymap::KeyMap;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use rdesk_engine::{
    CreateImageOptions, Engine, ListImagesOptions, PruneImagesOptions, Reference,
    RemoveImageOptions,
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
    for p in problems {
        app.error("Configuration", p);
    }

    let mut term = Term::enter(app.mouse).context("cannot set up the terminal")?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut runner = Runner {
        engine,
        tx: tx.clone(),
        loading: false,
        reload: false,
        pull: None,
    };
    // The first frame, before anything is read from the store.
    term.draw(&mut app)?;
    let mut last_draw = Instant::now();
    runner.run(Effect::LoadImages, &mut term)?;
    tokio::spawn(watch::watch(
        root,
        tx.clone(),
        Duration::from_millis(config.refresh_ms),
    ));
    drop(tx);

    let mut events = EventStream::new();
    let mut ages = tokio::time::interval_at(tokio::time::Instant::now() + AGE_TICK, AGE_TICK);
    ages.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    use tokio::signal::unix::{signal, SignalKind};
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;
    // In raw mode ctrl-c is a key; a SIGINT from `kill` still ends the session cleanly.
    let mut sigint = signal(SignalKind::interrupt())?;

    loop {
        let frame_due = tokio::time::Instant::from_std(last_draw + MIN_FRAME);
        tokio::select! {
            ev = events.next() => match ev {
                Some(Ok(Event::Key(k))) => app.on_key(k),
                Some(Ok(Event::Mouse(m))) => app.on_mouse(m),
                Some(Ok(Event::Paste(s))) => app.on_paste(&s),
                Some(Ok(Event::Resize(..))) => app.dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e).context("cannot read the terminal"),
                None => break,
            },
            Some(n) = rx.recv() => {
                runner.notified(&n);
                app.on_notification(n);
                // Whatever else is queued goes into the same frame.
                while let Ok(n) = rx.try_recv() {
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
            _ = tokio::time::sleep_until(frame_due), if app.dirty => {}
        }
        for e in app.take_effects() {
            runner.run(e, &mut term)?;
        }
        if app.quit {
            break;
        }
        if app.dirty && last_draw.elapsed() >= MIN_FRAME {
            term.draw(&mut app)?;
            last_draw = Instant::now();
        }
    }
    if let Some(p) = runner.pull.take() {
        p.abort();
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
    pull: Option<tokio::task::JoinHandle<()>>,
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

    fn run(&mut self, effect: Effect, term: &mut Term) -> anyhow::Result<()> {
        let (engine, tx) = (self.engine.clone(), self.tx.clone());
        match effect {
            Effect::LoadImages => self.load_images(),
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
}

impl Drop for Term {
    fn drop(&mut self) {
        restore_terminal();
    }
}
