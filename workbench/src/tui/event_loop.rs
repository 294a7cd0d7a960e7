//! The one event loop: draw, wait up to 80 ms for a key, mouse or resize event, apply it, take
//! the workers' answers and progress, repeat. No step waits on DuckDB or a model: those run in
//! `worker`. Effects of `update` are carried out here (start or cancel a job, read or write a
//! file). The terminal is restored on every exit path, panics included (`ratatui::init`).

use std::io::Write;
use std::path::Path;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use anyhow::Context;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, DisableMouseCapture, EnableMouseCapture};
use ratatui::crossterm::execute;
use studies::Protocol;

use super::app::{Action, App, Effect, update};
use super::palette::Palette;
use super::worker::{Reply, Workers};
use super::{TuiOptions, ui};
use crate::store::Store;

/// Opens the store, then runs the interface until the user quits.
pub fn run(opts: TuiOptions) -> anyhow::Result<()> {
    let store = Store::open(&opts.store)?;
    anyhow::ensure!(
        store.default_release()?.is_some(),
        "the store {} holds no release: `workbench synth` or `workbench import` adds one",
        opts.store.display()
    );
    let (protocol, file) = match &opts.protocol {
        Some(p) => (crate::study::load(p)?.0, Some(p.clone())),
        None => (super::app::default_protocol(), None),
    };
    let (tx, rx) = channel();
    let mut workers = Workers::new(store, opts.k_screen, tx)?;
    let label = opts.store.file_name().map_or_else(
        || opts.store.display().to_string(),
        |s| s.to_string_lossy().into_owned(),
    );
    let mut app = App::new(opts.mode, opts.lang, protocol, label, opts.k_screen);
    app.protocol_file = file;
    let mut terminal = ratatui::init();
    let mouse = execute!(std::io::stdout(), EnableMouseCapture).is_ok();
    let result = event_loop(&mut terminal, &mut app, &mut workers, &rx);
    if mouse {
        let _ = execute!(std::io::stdout(), DisableMouseCapture);
    }
    ratatui::restore();
    workers.cancel_all();
    result
}

fn event_loop(
    terminal: &mut DefaultTerminal,
    app: &mut App,
    workers: &mut Workers,
    rx: &Receiver<Reply>,
) -> anyhow::Result<()> {
    let palette = Palette::from_env();
    let size = terminal.size()?;
    update(app, Action::Resize(size.width, size.height));
    let effects = app.start();
    perform(app, workers, effects);
    while !app.quit {
        terminal.draw(|f| ui::draw(f, app, &palette))?;
        if event::poll(Duration::from_millis(80))? {
            // Take every pending event before drawing again (fast typing, key repeat).
            loop {
                let ev = event::read()?;
                if let Some(action) = super::keys::action(app, &ev) {
                    let effects = update(app, action);
                    perform(app, workers, effects);
                }
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        } else {
            update(app, Action::Tick);
        }
        while let Ok(reply) = rx.try_recv() {
            if !matches!(reply, Reply::Progress { .. }) {
                workers.finished(reply.job());
            }
            let effects = update(app, Action::Worker(reply));
            perform(app, workers, effects);
        }
        for p in workers.progress() {
            update(app, Action::Worker(p));
        }
    }
    Ok(())
}

/// Carries out the effects of one update.
fn perform(app: &mut App, workers: &mut Workers, effects: Vec<Effect>) {
    for e in effects {
        match e {
            Effect::Attrition { job, protocol } => workers.attrition(job, *protocol),
            Effect::RunStudy { job, protocol } => workers.study(job, *protocol),
            Effect::Dashboard { job } => workers.dashboard(job),
            Effect::Cancel(job) => workers.cancel(job),
            Effect::SaveProtocol { path, text } => {
                let result = write_new(&path, text.as_bytes()).map_err(|e| format!("{e:#}"));
                let more = update(app, Action::Written { path, result });
                perform(app, workers, more);
            }
            Effect::LoadProtocol { path } => {
                let result = crate::study::load(&path)
                    .map(|(p, _): (Protocol, Vec<u8>)| Box::new(p))
                    .map_err(|e| format!("{e:#}"));
                let more = update(app, Action::Loaded { path, result });
                perform(app, workers, more);
            }
            Effect::ExportBundle {
                path,
                bundle,
                protocol_toml,
            } => {
                let result = export(&path, &bundle, &protocol_toml).map_err(|e| format!("{e:#}"));
                let more = update(app, Action::Written { path, result });
                perform(app, workers, more);
            }
            Effect::Quit => workers.cancel_all(),
        }
    }
}

/// Writes a file that must not exist yet (a save never overwrites silently).
fn write_new(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("cannot create {} (it may exist already)", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}

/// Exports a model run: `bundle.json` (gated with k for files) and the `protocol.toml` it ran.
fn export(dir: &Path, bundle: &studies::bundle::Bundle, protocol_toml: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    write_new(
        &dir.join("bundle.json"),
        serde_json::to_string_pretty(bundle)?.as_bytes(),
    )?;
    write_new(&dir.join("protocol.toml"), protocol_toml.as_bytes())?;
    Ok(())
}
