//! (being written) `workbench export-release`.

use std::path::PathBuf;

use crate::config::Config;

/// Arguments of `workbench export-release`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[arg(long)]
    pub store: Option<PathBuf>,
    #[arg(long)]
    pub release: String,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, value_enum, default_value_t = FileFormat::Csv)]
    pub format: FileFormat,
}

/// File format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    Csv,
    Parquet,
}

pub fn run(_config: &Config, _args: &ExportArgs) -> anyhow::Result<()> {
    anyhow::bail!("export-release is not built yet")
}
