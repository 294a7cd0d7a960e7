//! (being written) The importer.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::Config;

/// Arguments of `workbench import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store to import into (created if absent).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Folder with one CSV or Parquet file per table, plus data_release.
    pub dir: Option<PathBuf>,
    /// Import from a PostgreSQL schema instead: postgres://user@host/db?schema=NAME
    #[arg(long)]
    pub from: Option<String>,
    /// Validate and report without writing.
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(_config: &Config, _args: &ImportArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("import is not built yet")
}
