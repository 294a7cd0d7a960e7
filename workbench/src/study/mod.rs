//! `workbench study`: check, compile, run and explain study protocols over a store.
//!
//! ```text
//! workbench study check FILE              validate only
//! workbench study sql FILE [--release R]  print the compiled, parameterised SQL
//! workbench study run FILE [--store S] [--out DIR] [--row-level]
//! workbench study why FILE --child PSEUDONYM [--store S]
//! workbench study schema                  the protocol's JSON Schema (for editors)
//! workbench study covariates              the covariates a protocol can name
//! ```

mod analyse;
mod compare;
mod data;
mod gate;
mod run;
mod write;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use studies::Protocol;

use crate::config::Config;

pub use data::{CohortRows, OutcomeData, fetch_cohort};
pub use run::{AttritionCount, PreparedStudy, execute, run_study};

/// Reads one outcome's analysis dataset (after [`PreparedStudy::build_cohort`]).
pub fn fetch_outcome(
    conn: &duckdb::Connection,
    outcome: &studies::compile::CompiledOutcome,
    cohort: &std::sync::Arc<CohortRows>,
) -> anyhow::Result<OutcomeData> {
    data::fetch(conn, &outcome.statement, cohort)
}

/// Reads who the cohort rows are and one outcome's dataset (one outcome alone).
pub fn fetch_dataset(
    conn: &duckdb::Connection,
    outcome: &studies::compile::CompiledOutcome,
    compiled: &studies::compile::Compiled,
) -> anyhow::Result<OutcomeData> {
    fetch_outcome(conn, outcome, &fetch_cohort(conn, compiled)?)
}

#[derive(Debug, Args)]
pub struct StudyArgs {
    #[command(subcommand)]
    pub command: StudyCommand,
}

#[derive(Debug, Subcommand)]
pub enum StudyCommand {
    /// Validate a protocol: every problem with its line, key and a hint.
    Check { file: PathBuf },
    /// Print the compiled SQL (parameters shown as comments; they are bound, never spliced).
    Sql {
        file: PathBuf,
        /// The release to compile for (default: the protocol's, else the store's default).
        #[arg(long)]
        release: Option<String>,
        #[arg(long)]
        store: Option<PathBuf>,
    },
    /// Build the cohort, derive the outcomes, run the models and write a gated results bundle.
    Run {
        file: PathBuf,
        #[arg(long)]
        store: Option<PathBuf>,
        /// Where the bundle goes (default: ./<protocol file stem>-results).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Also write the row-level analysis datasets (Parquet; recorded in the audit log).
        #[arg(long)]
        row_level: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Tell which rule admitted or excluded one child, and their derived outcome times.
    Why {
        file: PathBuf,
        #[arg(long)]
        child: String,
        #[arg(long)]
        store: Option<PathBuf>,
    },
    /// Print the JSON Schema of protocol files.
    Schema,
    /// List the covariates (and groups) a protocol can name.
    Covariates,
}

/// Reads and validates a protocol file.
pub fn load(file: &Path) -> anyhow::Result<(Protocol, Vec<u8>)> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8(bytes.clone())
        .with_context(|| format!("{} is not UTF-8 text", file.display()))?;
    let protocol = Protocol::parse(&file.display().to_string(), &text)?;
    Ok((protocol, bytes))
}

pub fn run(config: &Config, args: &StudyArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        StudyCommand::Check { file } => match load(file) {
            Ok((p, _)) => {
                println!(
                    "{}: valid ({} rule{}, {} outcome{}, {} model{})",
                    file.display(),
                    p.cohort.rules.len(),
                    plural(p.cohort.rules.len()),
                    p.outcomes.len(),
                    plural(p.outcomes.len()),
                    p.models.len(),
                    plural(p.models.len())
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprint!("{e:#}");
                Ok(ExitCode::from(2))
            }
        },
        StudyCommand::Sql {
            file,
            release,
            store,
        } => {
            let (p, _) = load(file)?;
            let release = match (release, &p.release) {
                (Some(r), _) | (None, Some(r)) => r.clone(),
                (None, None) => {
                    let path = config.store_path(store.as_deref());
                    let store = crate::store::Store::open(&path)?;
                    store
                        .default_release()?
                        .map(|r| r.release_id)
                        .context("the store holds no release; pass --release")?
                }
            };
            print!("{}", studies::compile::compile(&p, &release).script());
            Ok(ExitCode::SUCCESS)
        }
        StudyCommand::Run {
            file,
            store,
            out,
            row_level,
            quiet,
        } => {
            let path = config.store_path(store.as_deref());
            let out = out.clone().unwrap_or_else(|| {
                let stem = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "study".into());
                PathBuf::from(format!("{stem}-results"))
            });
            let summary = run::run_to_dir(file, &path, &out, *row_level, !*quiet)?;
            print!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        StudyCommand::Why { file, child, store } => {
            let path = config.store_path(store.as_deref());
            print!("{}", run::why(file, &path, child)?);
            Ok(ExitCode::SUCCESS)
        }
        StudyCommand::Schema => {
            println!(
                "{}",
                serde_json::to_string_pretty(&Protocol::json_schema())?
            );
            Ok(ExitCode::SUCCESS)
        }
        StudyCommand::Covariates => {
            println!(
                "Covariates (name:cat for categorical ones; categorical ones can be groups.by):"
            );
            for c in studies::covariates::CATALOGUE {
                let kind = match c.kind {
                    studies::covariates::CovariateKind::Numeric => "numeric    ",
                    studies::covariates::CovariateKind::Categorical => "categorical",
                };
                println!("  {:<16} {kind}  {}", c.name, c.doc);
            }
            println!("  form_<CODE>      numeric      1 when the primary form is <CODE>");
            println!("  ctx_<CODE>       numeric      1 when the episode carries context <CODE>");
            println!("  source_<CODE>    numeric      1 when the referral source is <CODE>");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
