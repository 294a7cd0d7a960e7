//! The `workbench` command line: thin dispatch over the library's commands.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use workbench::config::Config;
use workbench::{export, fit, import, info, replicates, study, synth, tui};

/// Research workbench for child-maltreatment case records: cohorts, outcomes and survival models
/// over a DuckDB case store.
#[derive(Debug, Parser)]
#[command(name = "workbench", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Without a command: open the terminal UI on the default store.
    #[command(flatten)]
    tui: tui::TuiArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the demo store on first run (20,000 synthetic children), then open the terminal UI
    /// on it (a gated summary when the output is not a terminal).
    Demo(info::DemoArgs),
    /// The terminal UI: cohorts, outcomes, models and the dashboard.
    Tui(tui::TuiArgs),
    /// The manager's dashboard alone (gated aggregates only).
    Dashboard(tui::DashboardArgs),
    /// Generate synthetic case records with known truth into a store.
    Synth(synth::SynthArgs),
    /// Import one data release (a folder of CSV/Parquet files, or a PostgreSQL schema) into a store.
    Import(import::ImportArgs),
    /// Write a release back as one file per table.
    ExportRelease(export::ExportArgs),
    /// Fit a survival model (km, na, logrank, aj, cox, finegray, rmst, mcf) to a CSV, Parquet or store query.
    Fit(Box<fit::FitArgs>),
    /// Study protocols: check, print the compiled SQL, run, explain one child.
    Study(study::StudyArgs),
    /// Check the comparison methods (crude, IPTW, overlap, matching) against the synthetic
    /// generator's true marginal effect over replicates: bias, SE, coverage, type-I error.
    Validate(replicates::ValidateArgs),
    /// Schema version, releases with extract date and content hash, row counts per table.
    Info {
        /// The store (default: the configured store, else the demo store).
        #[arg(long)]
        store: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A reader that stops early (`workbench info | head`) closes the pipe: that is the end of the
/// output, not an error, so leave quietly (as ripgrep does) instead of printing a panic.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let config = Config::load()?;
    if let Some(limit) = &config.memory_limit {
        workbench::store::set_memory_limit(limit);
    }
    let Some(command) = cli.command else {
        return tui::run(&config, &cli.tui, tui::Mode::Full).map(|()| ExitCode::SUCCESS);
    };
    match command {
        Command::Tui(args) => tui::run(&config, &args, tui::Mode::Full).map(|()| ExitCode::SUCCESS),
        Command::Dashboard(args) => tui::run(&config, &args.into_tui(), tui::Mode::DashboardOnly)
            .map(|()| ExitCode::SUCCESS),
        Command::Demo(args) => info::demo(&config, &args).map(|()| ExitCode::SUCCESS),
        Command::Synth(args) => synth::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Import(args) => import::run(&config, &args),
        Command::ExportRelease(args) => export::run(&config, &args).map(|()| ExitCode::SUCCESS),
        Command::Fit(args) => fit::run(&config, &args).map(|()| ExitCode::SUCCESS),
        Command::Study(args) => study::run(&config, &args),
        Command::Validate(args) => replicates::run(&args).map(|()| ExitCode::SUCCESS),
        Command::Info { store } => {
            let path = config.store_path(store.as_deref());
            info::info(&config, &path).map(|()| ExitCode::SUCCESS)
        }
    }
}
