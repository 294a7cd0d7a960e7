//! The terminal UI (ratatui + crossterm): researcher, methodologist and manager screens over the
//! store, in Dutch, French or English.
//!
//! - `app`: the state and `update(state, action) -> effects`, a plain function;
//! - `keys`: keys and mouse to actions; `help`: the keys of each screen;
//! - `event_loop`: the one loop (draw, events, worker answers) and the effects on files;
//! - `worker`: attrition, study runs and the dashboard on threads with their own connections,
//!   progress and cancel; `dashboard_data`: the manager's gated aggregates;
//! - `ui`: rendering, one file per screen; `palette`: Okabe–Ito colours; `i18n`: the words.
//!
//! Every number on screen has passed the disclosure gate.

pub mod app;
pub mod dashboard_data;
pub mod event_loop;
pub mod fixtures;
pub mod help;
pub mod i18n;
pub mod keys;
pub mod palette;
pub mod ui;
pub mod worker;

#[cfg(test)]
mod tests;

use std::path::PathBuf;

pub use app::{Action, App, Effect, Mode, Screen, update};
pub use i18n::Lang;

/// How to open the interface.
#[derive(Debug, Clone)]
pub struct TuiOptions {
    pub store: PathBuf,
    pub mode: Mode,
    pub lang: Lang,
    /// A protocol to open (default: the Flanders/Wallonia example).
    pub protocol: Option<PathBuf>,
    pub k_screen: u64,
}

/// Arguments of `workbench tui` and `workbench dashboard`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TuiArgs {
    /// The store (default: the configured store, else the demo store).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// A study protocol to open (TOML); default: the Flanders/Wallonia example.
    #[arg(long)]
    pub protocol: Option<PathBuf>,
    /// Language of the interface: nl, fr or en (default: from LC_ALL / LANG).
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<Lang>,
}

/// Arguments of `workbench dashboard` (the manager's mode: no protocol, no row-level data).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct DashboardArgs {
    /// The store (default: the configured store, else the demo store).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Language of the interface: nl, fr or en (default: from LC_ALL / LANG).
    #[arg(long, value_parser = parse_lang)]
    pub lang: Option<Lang>,
}

impl DashboardArgs {
    /// As arguments of the full interface (without a protocol).
    pub fn into_tui(self) -> TuiArgs {
        TuiArgs {
            store: self.store,
            protocol: None,
            lang: self.lang,
        }
    }
}

/// Parses `--lang`.
pub fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::parse(s).ok_or_else(|| format!("unknown language `{s}`: use nl, fr or en"))
}

/// Opens the interface on the configured store.
pub fn run(config: &crate::config::Config, args: &TuiArgs, mode: Mode) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    anyhow::ensure!(
        std::io::stdout().is_terminal() && std::io::stdin().is_terminal(),
        "the terminal UI needs a terminal; use `workbench info` or `workbench study run` in scripts"
    );
    event_loop::run(TuiOptions {
        store: config.store_path(args.store.as_deref()),
        mode,
        lang: args.lang.unwrap_or_else(Lang::from_env),
        protocol: if mode == Mode::Full {
            args.protocol.clone()
        } else {
            None
        },
        k_screen: config.privacy.k_screen,
    })
}
