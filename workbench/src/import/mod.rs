//! `workbench import`: one data release from a folder of CSV/Parquet files or a PostgreSQL schema
//! into the store, all or nothing.
//!
//! Steps: find the source's tables (`folder`, `postgres`); refuse what cannot be read (missing or
//! unknown tables, bad bytes, overlong fields, ragged CSV, unknown / missing / deny-listed
//! columns) before anything is staged; stage every table as text in DuckDB `temp` tables; check
//! the text (missing values, types, the release row) and scan it for direct identifiers
//! (`identifiers`); cast to typed staging tables and run the release's integrity checks
//! (`crate::validate`); then, unless `--dry-run`, write the release in one DuckDB transaction
//! that also computes its content hash, and commit.
//!
//! Decisions:
//! - Required tables: `data_release` (exactly one row), `child`, `episode`, `report`,
//!   `report_child`, `event` (each with at least one row); the others may be absent (empty).
//! - Case files hold the table's columns except `release_id`; nullable columns may be left out,
//!   as may the non-null columns with a schema default (`is_synthetic`, `is_primary`,
//!   `is_court_ordered`, `is_trial_home_visit`: false; `is_valid`: true; `date_precision`:
//!   DAY). Column names are matched trimmed and case-insensitively. Empty text is NULL.
//! - A UTF-8 byte-order mark is accepted; any other non-UTF-8 byte refuses the file.
//! - Values are at most 64 KiB (`FIELD_TOO_LONG`).
//! - On refusal nothing is written. A store file the failed import created is removed again; a
//!   store created by an import killed halfway is left empty and valid (schema and code lists).
//!   `--dry-run` never writes: on a store that does not exist it validates against a scratch
//!   store in a temporary folder.
//! - Reports name file, row, column and rule, never a value. Exit code 2 when refused, 1 on
//!   other errors.

mod csv_scan;
pub mod folder;
pub mod identifiers;
pub mod postgres;
pub mod stage;

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use duckdb::{Connection, params};
use studies::schema;

use crate::config::Config;
use crate::store::Store;
use crate::validate::{self, Checker, Finding, RowCounting, RuleId, Scope, ValidationReport};
use stage::Staged;

/// Arguments of `workbench import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The store to import into (created if absent; default: the configured store).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// Folder with one CSV or Parquet file per table (`child.csv`, `episode.parquet`, ...) plus
    /// `data_release`.
    #[arg(required_unless_present = "from", conflicts_with = "from")]
    pub dir: Option<PathBuf>,
    /// Import from a PostgreSQL schema instead: postgres://user@host:port/db?schema=NAME
    #[arg(long, value_name = "URL")]
    pub from: Option<String>,
    /// Validate and report without writing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Where a release comes from.
#[derive(Debug, Clone)]
pub enum Source {
    Folder(PathBuf),
    /// A `postgres://...?schema=NAME` URL.
    Postgres(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Folder(p) => write!(f, "folder {}", p.display()),
            Source::Postgres(url) => match postgres::parse_url(url) {
                Ok(s) => write!(f, "PostgreSQL {} schema {}", s.shown, s.schema),
                Err(_) => write!(f, "PostgreSQL"),
            },
        }
    }
}

/// What an import did.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The release was written and committed.
    Imported(Summary),
    /// `--dry-run`: the release is valid; nothing was written.
    Validated(Summary),
    /// The release was refused; nothing was written.
    Refused(ValidationReport),
}

/// A valid release: its id, rows per table and (when written) content hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub release_id: String,
    pub store: PathBuf,
    pub rows: Vec<(&'static str, u64)>,
    /// The release's content hash (`crate::hash::release_hash`), computed in the write
    /// transaction; None for a dry run.
    pub hash: Option<String>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.hash {
            Some(_) => writeln!(
                f,
                "imported release {} into {}",
                self.release_id,
                self.store.display()
            )?,
            None => writeln!(
                f,
                "dry run: release {} is valid and was not written",
                self.release_id
            )?,
        }
        for (t, n) in &self.rows {
            writeln!(f, "  {t:<22} {n:>10} row{}", if *n == 1 { "" } else { "s" })?;
        }
        if let Some(h) = &self.hash {
            writeln!(f, "content hash {h}")?;
        }
        Ok(())
    }
}

/// A progress line on stderr, with the seconds since the import started.
fn progress(msg: &str) {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let t = START.get_or_init(std::time::Instant::now).elapsed();
    eprintln!("import: [{:>6.1} s] {msg}", t.as_secs_f64());
}

/// `workbench import`.
pub fn run(config: &Config, args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let source = match (&args.from, &args.dir) {
        (Some(url), _) => Source::Postgres(url.clone()),
        (None, Some(dir)) => Source::Folder(dir.clone()),
        (None, None) => anyhow::bail!("give a folder to import, or --from postgres://..."),
    };
    let store = config.store_path(args.store.as_deref());
    match import(&store, &source, args.dry_run)? {
        Outcome::Imported(s) | Outcome::Validated(s) => {
            print!("{s}");
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Refused(report) => {
            eprintln!("import refused, nothing was written. {report}");
            Ok(ExitCode::from(2))
        }
    }
}

/// Imports one release from `source` into the store at `store_path` (created if absent).
pub fn import(store_path: &Path, source: &Source, dry_run: bool) -> anyhow::Result<Outcome> {
    let existed = store_path.exists();
    let scratch = if !existed && dry_run {
        Some(tempfile::tempdir().context("creating a scratch folder for the dry run")?)
    } else {
        None
    };
    let path = scratch.as_ref().map_or_else(
        || store_path.to_path_buf(),
        |d| d.path().join("dry-run.duckdb"),
    );
    let mut store = if existed {
        Store::open(&path)?
    } else {
        Store::open_or_create(&path)?
    };
    let outcome = import_into(&mut store, source, dry_run).map(|mut o| {
        if let Outcome::Imported(s) = &mut o {
            s.store = store_path.to_path_buf();
        }
        o
    });
    drop(store);
    if !existed && !dry_run && !matches!(outcome, Ok(Outcome::Imported(_))) {
        remove_store_files(store_path);
    }
    outcome
}

fn remove_store_files(path: &Path) {
    let _ = std::fs::remove_file(path);
    let mut wal = path.as_os_str().to_owned();
    wal.push(".wal");
    let _ = std::fs::remove_file(PathBuf::from(wal));
}

fn import_into(store: &mut Store, source: &Source, dry_run: bool) -> anyhow::Result<Outcome> {
    let conn = store.conn();
    let mut report = ValidationReport::new();
    progress(&format!("reading {source}"));
    let staged = match source {
        Source::Folder(dir) => stage_folder(conn, dir, &mut report)?,
        Source::Postgres(url) => postgres::stage(conn, &postgres::parse_url(url)?, &mut report)?,
    };
    if !report.is_empty() {
        stage::drop_staging(conn);
        return Ok(Outcome::Refused(report));
    }
    let all: Vec<Staged> = stage::importable_tables()
        .map(|t| {
            staged
                .iter()
                .find(|s| s.table.name == t.name)
                .cloned()
                .unwrap_or_else(|| Staged::absent(t))
        })
        .collect();
    let scope = Scope::Staged {
        sources: all
            .iter()
            .map(|s| (s.table.name, (s.source.clone(), s.counting)))
            .collect(),
    };
    progress("checking values and scanning for identifiers");
    for st in &all {
        stage::check_required_rows(st, &mut report);
        stage::raw_checks(conn, st, &scope, &mut report)?;
        stage::scan_identifiers(conn, st, &mut report)?;
    }
    let release_st = all
        .iter()
        .find(|s| s.table.kind == schema::TableKind::Release);
    let release_id = match release_st {
        Some(st) => stage::staged_release_id(conn, st)?.unwrap_or_default(),
        None => String::new(),
    };
    if !release_id.is_empty()
        && let Some(f) = release_exists(conn, &release_id, release_st)?
    {
        report.add(f);
    }
    for st in &all {
        stage::create_typed(conn, st, &release_id)?;
    }
    progress("checking keys, references, dates and events");
    let mut ch = Checker::new(conn, &scope);
    validate::integrity(&mut ch)?;
    report.merge(ch.report);
    if !report.is_empty() {
        stage::drop_staging(conn);
        return Ok(Outcome::Refused(report));
    }
    let rows: Vec<(&'static str, u64)> = all.iter().map(|s| (s.table.name, s.rows)).collect();
    let mut summary = Summary {
        release_id: release_id.clone(),
        store: PathBuf::new(),
        rows,
        hash: None,
    };
    if dry_run {
        stage::drop_staging(conn);
        return Ok(Outcome::Validated(summary));
    }
    progress(&format!("writing release {release_id}"));
    let written = write_release(store, &all, &release_id, release_st);
    stage::drop_staging(store.conn());
    match written? {
        Ok(hash) => {
            summary.hash = Some(hash);
            Ok(Outcome::Imported(summary))
        }
        Err(report) => Ok(Outcome::Refused(report)),
    }
}

fn stage_folder(
    conn: &Connection,
    dir: &Path,
    report: &mut ValidationReport,
) -> anyhow::Result<Vec<Staged>> {
    let files = folder::discover(dir, report)?;
    // First every file's shape, so a refusal lists all of them before anything is loaded.
    let mut ready = Vec::new();
    for f in &files {
        let Some(names) = folder::inspect(conn, f, report)? else {
            continue;
        };
        let counting = match f.format {
            folder::Format::Csv => RowCounting::CsvSpreadsheet,
            folder::Format::Parquet => RowCounting::DataRow,
        };
        let source = f
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(mapped) = stage::map_columns(f.table, &names, &source, counting, report) {
            ready.push((f, names, mapped));
        }
    }
    if !report.is_empty() {
        return Ok(Vec::new());
    }
    let mut staged = Vec::new();
    for (f, names, mapped) in ready {
        progress(&format!("staging {}", f.path.display()));
        if let Some(st) = folder::stage_file(conn, f, &names, &mapped, report)? {
            staged.push(st);
        }
    }
    Ok(staged)
}

/// A finding when rows of `release_id` are already in the store.
fn release_exists(
    conn: &Connection,
    release_id: &str,
    release_st: Option<&Staged>,
) -> duckdb::Result<Option<Finding>> {
    let mut tables: Vec<String> = vec!["data_release".to_string()];
    tables.extend(
        schema::TABLES
            .iter()
            .filter(|t| t.is_per_release())
            .map(|t| t.qualified_name()),
    );
    for t in tables {
        let n: i64 = conn.query_row(
            &format!("SELECT count(*) FROM {t} WHERE release_id = ?"),
            params![release_id],
            |r| r.get(0),
        )?;
        if n > 0 {
            let (source, counting) = release_st
                .map(|s| (s.source.clone(), s.counting))
                .unwrap_or_else(|| ("data_release".into(), RowCounting::DataRow));
            return Ok(Some(Finding {
                rule: RuleId::ReleaseExists,
                table: "data_release".into(),
                source,
                row: None,
                counting,
                column: Some(schema::RELEASE_ID.into()),
                message: "names a release that is already in the store: give this extract a new release id (a store keeps every release it was given)".into(),
            }));
        }
    }
    Ok(None)
}

/// Writes the typed staging tables into the store in one transaction, computes the content hash
/// inside it, and commits. `Err(report)` when the release appeared meanwhile.
fn write_release(
    store: &mut Store,
    all: &[Staged],
    release_id: &str,
    release_st: Option<&Staged>,
) -> anyhow::Result<Result<String, ValidationReport>> {
    let tx = store.conn_mut().transaction()?;
    if let Some(f) = release_exists(&tx, release_id, release_st)? {
        let mut report = ValidationReport::new();
        report.add(f);
        return Ok(Err(report));
    }
    for st in all {
        let t = st.table;
        let cols: Vec<String> = t.columns.iter().map(|c| validate::ident(c.name)).collect();
        let cols = cols.join(", ");
        tx.execute_batch(&format!(
            "INSERT INTO main.{} ({cols}) SELECT {cols} FROM temp.{}",
            t.name,
            validate::staged_name(t)
        ))
        .with_context(|| format!("writing {}", t.name))?;
        progress(&format!("wrote {} ({} rows)", t.name, st.rows));
    }
    progress("numbering children, episodes and reports");
    crate::store::assign_keys(&tx, release_id).context("assigning the surrogate keys")?;
    progress("computing the content hash");
    let hash = crate::hash::release_hash(&tx, release_id)?;
    tx.commit().context("committing the release")?;
    Ok(Ok(hash.release))
}
