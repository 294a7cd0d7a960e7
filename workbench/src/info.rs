//! (being written) `workbench info` and `workbench demo`.

use std::path::Path;

use crate::config::Config;

/// Arguments of `workbench demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Print the gated summary (the default until the terminal UI exists).
    #[arg(long)]
    pub summary: bool,
}

pub fn demo(_config: &Config, _args: &DemoArgs) -> anyhow::Result<()> {
    anyhow::bail!("demo is not built yet")
}

pub fn info(_config: &Config, _path: &Path) -> anyhow::Result<()> {
    anyhow::bail!("info is not built yet")
}
