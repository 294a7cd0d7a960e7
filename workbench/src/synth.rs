//! (being written) The synthetic generator.

use std::path::PathBuf;

/// Arguments of `workbench synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Number of children to generate.
    #[arg(long, default_value_t = 20_000)]
    pub children: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(long, default_value = "default")]
    pub scenario: String,
    /// A TOML file overriding the scenario's parameters.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The store to write (created if absent); a folder for the `data-quality` scenario.
    #[arg(long)]
    pub out: PathBuf,
    /// Release id (default: synth-<scenario>-<seed>).
    #[arg(long)]
    pub release: Option<String>,
}

pub fn run(_args: &SynthArgs) -> anyhow::Result<()> {
    anyhow::bail!("synth is not built yet")
}
