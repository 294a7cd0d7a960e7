//! `workbench info` (what a store holds) and `workbench demo` (build the demo store on first run,
//! then a gated summary). Every count printed here passes the disclosure gate.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use duckdb::{Connection, params};
use studies::schema::{self, SCHEMA_VERSION};

use crate::config::Config;
use crate::disclosure::{Audience, CountTable, Gate};
use crate::hash::release_hash;
use crate::store::Store;
use crate::synth;

/// Children in the demo store.
pub const DEMO_CHILDREN: u64 = 20_000;
/// Seed of the demo store.
pub const DEMO_SEED: u64 = 20_251_129;

/// Arguments of `workbench demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Print the gated summary instead of opening the terminal UI (the default when the output
    /// is not a terminal).
    #[arg(long)]
    pub summary: bool,
    /// Language of the terminal UI: nl, fr or en (default: from LC_ALL / LANG).
    #[arg(long, value_parser = crate::tui::parse_lang)]
    pub lang: Option<crate::tui::Lang>,
}

/// Builds the demo store at the default location on first run, then opens the terminal UI on it
/// (or prints its gated summary when the output is not a terminal, or with `--summary`).
pub fn demo(config: &Config, args: &DemoArgs) -> anyhow::Result<()> {
    let path = config.store_path(None);
    if !path.exists() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        eprintln!(
            "Building the demo store at {} ({DEMO_CHILDREN} synthetic children, default scenario); this is done once.",
            path.display()
        );
        synth::run(&synth::SynthArgs {
            children: DEMO_CHILDREN,
            seed: DEMO_SEED,
            scenario: "default".to_string(),
            config: None,
            out: path.clone(),
            release: None,
        })?;
    }
    let interactive = std::io::stdout().is_terminal() && std::io::stdin().is_terminal();
    if interactive && !args.summary {
        let tui_args = crate::tui::TuiArgs {
            store: Some(path),
            protocol: None,
            lang: args.lang,
        };
        return crate::tui::run(config, &tui_args, crate::tui::Mode::Full);
    }
    let store = Store::open(&path)?;
    let release = store
        .default_release()?
        .ok_or_else(|| anyhow::anyhow!("the store {} holds no release", path.display()))?;
    let gate = Gate::for_audience(&config.privacy, Audience::Screen);
    println!("Demo store: {}", path.display());
    println!(
        "Release {} (extract {}, {}), children by first entry. Counts under {} are hidden (disclosure gate).\n",
        release.release_id,
        release.extract_date,
        if release.is_synthetic {
            "synthetic"
        } else {
            "real"
        },
        gate.k
    );
    for table in summary_tables(store.conn(), &release.release_id)? {
        println!("{}", gate.table(&table).render_text());
    }
    println!("Next: `workbench info` for the store's releases and hashes.");
    Ok(())
}

/// The summary of a release: unique children by community and by centre, per year of first entry.
pub fn summary_tables(conn: &Connection, release_id: &str) -> anyhow::Result<Vec<CountTable>> {
    let by_community = crosstab(
        conn,
        release_id,
        "Children by community and year of first entry",
        "community",
        "CASE c.community WHEN 'VL' THEN 'VL (VK)' ELSE 'FWB (SOS Enfants)' END",
    )?;
    let by_centre = crosstab(
        conn,
        release_id,
        "Children by centre and year of first entry",
        "centre",
        "c.centre_id",
    )?;
    Ok(vec![by_community, by_centre])
}

fn crosstab(
    conn: &Connection,
    release_id: &str,
    title: &str,
    row_header: &str,
    row_expr: &str,
) -> anyhow::Result<CountTable> {
    // Each child counts once, in the year of their first entry in this release (a child whose
    // first episode predates the extract enters with episode_seq > 1).
    let sql = format!(
        "WITH first AS (SELECT e.child_pid, e.entry_date, e.centre_id, \
             row_number() OVER (PARTITION BY e.child_pid ORDER BY e.entry_date, e.episode_seq, e.episode_id) AS k \
             FROM episode e WHERE e.release_id = ?) \
         SELECT {row_expr} AS row_label, CAST(year(e.entry_date) AS TEXT) AS col_label, count(*) \
         FROM first e JOIN centre c ON c.centre_id = e.centre_id WHERE e.k = 1 GROUP BY ALL ORDER BY 1, 2"
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut rows = stmt.query(params![release_id])?;
    while let Some(r) = rows.next()? {
        let n: i64 = r.get(2)?;
        counts.insert((r.get(0)?, r.get(1)?), u64::try_from(n).unwrap_or(0));
    }
    let mut row_labels: Vec<String> = counts.keys().map(|(r, _)| r.clone()).collect();
    row_labels.dedup();
    let mut col_labels: Vec<String> = counts.keys().map(|(_, c)| c.clone()).collect();
    col_labels.sort();
    col_labels.dedup();
    let cells = row_labels
        .iter()
        .map(|r| {
            col_labels
                .iter()
                .map(|c| counts.get(&(r.clone(), c.clone())).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    Ok(CountTable {
        title: title.to_string(),
        row_header: row_header.to_string(),
        rows: row_labels,
        columns: col_labels,
        cells,
    })
}

/// Prints the schema version, the releases with extract date and content hash, and row counts.
pub fn info(config: &Config, path: &Path) -> anyhow::Result<()> {
    let store = Store::open(path)?;
    let gate: Gate = Gate::for_audience(&config.privacy, Audience::Screen);
    println!("Store: {}", path.display());
    println!("Schema version: {SCHEMA_VERSION}");
    let releases = store.releases()?;
    if releases.is_empty() {
        println!("No releases yet: `workbench import` or `workbench synth` adds one.");
        return Ok(());
    }
    for r in releases {
        let hash = release_hash(store.conn(), &r.release_id)?;
        println!(
            "\nRelease {}  extract {}  source {}{}",
            r.release_id,
            r.extract_date,
            r.source_system,
            if r.is_synthetic { "  (synthetic)" } else { "" }
        );
        println!("  content hash  {}", hash.release);
        if r.is_synthetic {
            println!("  truth hash    {}", hash.truth);
        }
        println!("  rows per table:");
        for t in schema::TABLES.iter().filter(|t| t.is_per_release()) {
            let n = store.row_count(t, &r.release_id)?;
            println!(
                "    {:<24} {:>12}",
                t.qualified_name(),
                gate.display(gate.count(n)).to_string()
            );
        }
    }
    Ok(())
}
