//! The synthetic generator with known truth (domain.md §6): `workbench synth`.
//!
//! Module map:
//! - [`config`]: the documented default parameters (`default.toml`), scenarios, user overrides;
//! - [`population`]: the compiled context (code-list distributions, centres, centre effects);
//! - [`processes`]: covariates, Weibull-PH hazards with time-varying effects, inversion, CIFs;
//! - [`family`]: one family simulated into rows of every case table and `truth.child_latent`;
//! - [`events`]: the event log, derived from the source tables by one function;
//! - [`truth`]: `truth.parameter` and `truth.cif` (conditional and marginal);
//! - [`data_quality`]: faults of the `data-quality` scenario;
//! - [`writer`]: DuckDB appenders in one transaction, or CSV files;
//! - [`ids`], [`dates`], [`rows`]: pseudonyms and ids, calendar arithmetic, typed rows.
//!
//! Determinism: family `f` draws from its own ChaCha8 stream (key from the seed, stream `f`);
//! family sizes come from one sequential stream; chunks of families are simulated in parallel
//! and appended in family order, so a seed gives the same release at any thread count.

pub mod config;
pub mod data_quality;
pub mod dates;
pub mod events;
pub mod family;
pub mod ids;
pub mod population;
pub mod processes;
pub mod rows;
pub mod truth;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use duckdb::params;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand_distr::Distribution;
use rayon::prelude::*;

use crate::store::{Store, StoreError};
pub use config::{Effective, Scenario, SynthConfig, effective};
pub use data_quality::Faults;
pub use ids::{PSEUDONYM_SCHEME, pseudonym};
use population::Ctx;
use rows::{Cell, Rows};
use writer::{CsvSink, DuckSink, Sink};

/// Families simulated per parallel chunk (bounds memory at any N).
pub const CHUNK_FAMILIES: usize = 5_000;

/// Arguments of `workbench synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// Number of children to generate.
    #[arg(long, default_value_t = 20_000)]
    pub children: u64,
    /// Seed of the random streams (the same seed gives the same release).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scenario: null, default, non-ph, informative-censoring, centre-heterogeneity, small-n,
    /// no-frailty, data-quality.
    #[arg(long, default_value = "default")]
    pub scenario: String,
    /// A TOML file overriding any subset of the parameters (see `default.toml`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The store to write (created if absent); a folder for the `data-quality` scenario.
    #[arg(long)]
    pub out: PathBuf,
    /// Release id (default: synth-<scenario>-<seed>).
    #[arg(long)]
    pub release: Option<String>,
}

/// Errors of the generator.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("synth configuration: {0}")]
    Config(String),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing table {0}: {1}")]
    Write(String, duckdb::Error),
    #[error(transparent)]
    Db(#[from] duckdb::Error),
    #[error("the generated release fails validation (a generator bug): {0}")]
    Invalid(#[from] crate::validate::CheckError),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SynthOptions {
    pub children: u64,
    pub seed: u64,
    pub scenario: Scenario,
    pub effective: Effective,
    pub release_id: String,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl SynthOptions {
    /// Options for a scenario with its default parameters (plus optional TOML overrides).
    pub fn new(
        scenario: Scenario,
        children: u64,
        seed: u64,
        overrides: Option<&str>,
    ) -> Result<SynthOptions, SynthError> {
        Ok(SynthOptions {
            children,
            seed,
            scenario,
            effective: effective(scenario, overrides)?,
            release_id: format!("synth-{}-{}", scenario.name(), seed),
            progress: false,
        })
    }
}

/// What a run wrote.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SynthSummary {
    pub release_id: String,
    pub children: u64,
    pub families: u64,
    /// Rows per table (case tables and truth.child_latent).
    pub rows: Vec<(String, u64)>,
    pub faults: Faults,
    pub seconds: f64,
}

impl SynthSummary {
    pub fn children_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.children as f64 / self.seconds
        } else {
            0.0
        }
    }
}

fn check_release_id(id: &str) -> Result<(), SynthError> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SynthError::Config(format!(
            "release id `{id}` must be 1-64 characters of letters, digits, '-', '_' or '.'"
        )))
    }
}

fn seed_i64(seed: u64) -> Result<i64, SynthError> {
    i64::try_from(seed)
        .map_err(|_| SynthError::Config(format!("seed {seed} must be at most {}", i64::MAX)))
}

/// Simulates all families chunk by chunk into `sink`.
fn drive(ctx: &Ctx, opts: &SynthOptions, sink: &mut dyn Sink) -> Result<SynthSummary, SynthError> {
    let start = Instant::now();
    let n = opts.children;
    let pb = if opts.progress {
        ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} children ({per_sec}, {eta})")
    {
        pb.set_style(style);
    }
    let dq = ctx.cfg.data_quality.enabled;
    let mut sizes = ids::stream(opts.seed, "family-sizes", 0);
    let mut next_child = 0u64;
    let mut fam_index = 0u64;
    let mut counts = vec![0u64; writer::FAMILY_TABLES.len()];
    let mut faults = Faults::default();
    while next_child < n {
        let mut plan: Vec<(u64, u64, u32)> = Vec::with_capacity(CHUNK_FAMILIES);
        while plan.len() < CHUNK_FAMILIES && next_child < n {
            let extra = ctx
                .family_size
                .as_ref()
                .map_or(0.0, |p| p.sample(&mut sizes));
            let size = (1 + extra as u64).min(n - next_child);
            plan.push((fam_index, next_child, size as u32));
            fam_index += 1;
            next_child += size;
        }
        let chunk: Vec<(Rows, Faults)> = plan
            .par_iter()
            .map(|&(f, c, s)| {
                let mut rows = family::simulate(ctx, f, c, s);
                let fl = if dq {
                    data_quality::inject(&mut rows, &ctx.cfg.data_quality, ctx.seed, f)
                } else {
                    Faults::default()
                };
                (rows, fl)
            })
            .collect();
        let mut kids = 0;
        for (rows, fl) in &chunk {
            sink.write(rows)?;
            faults.add(fl);
            kids += rows.child.len() as u64;
            for (i, c) in row_counts(rows).into_iter().enumerate() {
                counts[i] += c;
            }
        }
        sink.flush()?;
        pb.inc(kids);
    }
    pb.finish_and_clear();
    Ok(SynthSummary {
        release_id: opts.release_id.clone(),
        children: n,
        families: fam_index,
        rows: writer::FAMILY_TABLES
            .iter()
            .map(|t| t.to_string())
            .zip(counts)
            .collect(),
        faults,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn row_counts(r: &Rows) -> [u64; 14] {
    [
        r.family.len(),
        r.child.len(),
        r.episode.len(),
        r.report.len(),
        r.report_child.len(),
        r.report_child_form.len(),
        r.episode_context.len(),
        r.intervention.len(),
        r.placement.len(),
        r.event.len(),
        r.observation_window.len(),
        r.assessment.len(),
        r.assessment_subscale.len(),
        r.child_latent.len(),
    ]
    .map(|x| x as u64)
}

fn notes(opts: &SynthOptions) -> String {
    format!(
        "workbench synth {}: scenario {}, {} children, seed {}",
        env!("CARGO_PKG_VERSION"),
        opts.scenario,
        opts.children,
        opts.seed
    )
}

/// Generates one release into a store, all in one transaction: on any error nothing of the
/// release is left. Refuses a release id that already exists.
pub fn generate_into_store(
    store: &mut Store,
    opts: &SynthOptions,
) -> Result<SynthSummary, SynthError> {
    check_release_id(&opts.release_id)?;
    let seed = seed_i64(opts.seed)?;
    if opts.children == 0 {
        return Err(SynthError::Config("--children must be at least 1".into()));
    }
    if store
        .releases()?
        .iter()
        .any(|r| r.release_id == opts.release_id)
    {
        return Err(StoreError::ReleaseExists(opts.release_id.clone()).into());
    }
    let started = Instant::now();
    let ctx = Ctx::new(opts.effective.config.clone(), opts.seed, opts.children)?;
    let extract = ctx.extract;
    // Bounded memory at any N: DuckDB keeps an uncommitted release in its buffer pool, which by
    // default may grow to 80% of RAM; cap it so the rest spills to DuckDB's temporary files.
    store
        .conn()
        .execute_batch("SET memory_limit = '1GB'; SET preserve_insertion_order = false")?;
    let tx = store.conn_mut().transaction()?;
    let mut summary = {
        let mut sink = DuckSink::new(&tx, &opts.release_id)?;
        let s = drive(&ctx, opts, &mut sink)?;
        sink.flush()?;
        s
    };
    tx.execute(
        "INSERT INTO data_release VALUES (?, ?, 'SYNTHETIC', ?, 'MIXED', true, ?, ?, ?)",
        params![
            opts.release_id,
            duckdb::types::Value::Date32(extract),
            PSEUDONYM_SCHEME,
            seed,
            opts.effective.toml,
            notes(opts)
        ],
    )?;
    {
        let mut app = tx
            .appender_to_db("parameter", studies::schema::TRUTH_SCHEMA)
            .map_err(|e| SynthError::Write("truth.parameter".into(), e))?;
        writer::append_rows(
            &mut app,
            &opts.release_id,
            &truth::parameters(&opts.effective, &ctx),
        )?;
        app.flush()
            .map_err(|e| SynthError::Write("truth.parameter".into(), e))?;
        let mut app = tx
            .appender_to_db("cif", studies::schema::TRUTH_SCHEMA)
            .map_err(|e| SynthError::Write("truth.cif".into(), e))?;
        writer::append_rows(&mut app, &opts.release_id, &truth::cif(&ctx))?;
        app.flush()
            .map_err(|e| SynthError::Write("truth.cif".into(), e))?;
    }
    // The same integrity checks as an import, before the commit: a release that fails them is
    // rolled back like any other error.
    crate::validate::check_release(&tx, &opts.release_id)?;
    crate::store::assign_keys(&tx, &opts.release_id)?;
    tx.commit()?;
    summary.seconds = started.elapsed().as_secs_f64();
    Ok(summary)
}

/// Generates one release as CSV files in `dir` (one per case table plus data_release.csv), with
/// the data-quality faults if the configuration enables them. Truth is not written.
pub fn generate_csv(dir: &Path, opts: &SynthOptions) -> Result<SynthSummary, SynthError> {
    check_release_id(&opts.release_id)?;
    let seed = seed_i64(opts.seed)?;
    if opts.children == 0 {
        return Err(SynthError::Config("--children must be at least 1".into()));
    }
    let ctx = Ctx::new(opts.effective.config.clone(), opts.seed, opts.children)?;
    let mut sink = CsvSink::new(dir)?;
    let summary = drive(&ctx, opts, &mut sink)?;
    sink.flush()?;
    let note = notes(opts);
    sink.write_release(&[
        Cell::Text(&opts.release_id),
        Cell::Date(ctx.extract),
        Cell::Text("SYNTHETIC"),
        Cell::Text(PSEUDONYM_SCHEME),
        Cell::Text("MIXED"),
        Cell::Bool(true),
        Cell::Int(seed),
        Cell::Text(&opts.effective.toml),
        Cell::Text(&note),
    ])?;
    Ok(summary)
}

/// `workbench synth`.
pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let scenario = Scenario::parse(&args.scenario)?;
    let user = match &args.config {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading the configuration {}", p.display()))?,
        ),
        None => None,
    };
    let mut opts = SynthOptions::new(scenario, args.children, args.seed, user.as_deref())?;
    if let Some(r) = &args.release {
        opts.release_id = r.clone();
    }
    opts.progress = true;
    let summary = if scenario == Scenario::DataQuality {
        generate_csv(&args.out, &opts)
            .with_context(|| format!("writing CSV files to {}", args.out.display()))?
    } else {
        let mut store = Store::open_or_create(&args.out)
            .with_context(|| format!("opening the store {}", args.out.display()))?;
        generate_into_store(&mut store, &opts)?
    };
    let total: u64 = summary.rows.iter().map(|r| r.1).sum();
    eprintln!(
        "release {}: {} children in {} families, {} rows, scenario {}, seed {}",
        summary.release_id, summary.children, summary.families, total, scenario, args.seed
    );
    if summary.faults.total() > 0 {
        eprintln!(
            "injected faults: {} duplicate report rows, {} missing finding dates, {} dangling transfers, {} dates out of order",
            summary.faults.duplicate_report_rows,
            summary.faults.missing_finding_dates,
            summary.faults.dangling_transfers,
            summary.faults.misordered_dates
        );
    }
    eprintln!(
        "{:.1} s, {:.0} children/s",
        summary.seconds,
        summary.children_per_second()
    );
    Ok(())
}
