//! `workbench export-release`: writes one release back as one CSV or Parquet file per table, in
//! the layout `workbench import` reads, so that export then import keeps the content hash.

use std::path::{Path, PathBuf};

use anyhow::Context;
use duckdb::Connection;
use studies::schema::{self, Table, TableKind};

use crate::config::Config;
use crate::store::{self, Store};

/// Arguments of `workbench export-release`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The store (default: the configured store, else the demo store).
    #[arg(long)]
    pub store: Option<PathBuf>,
    /// The release to export (see `workbench info`).
    #[arg(long)]
    pub release: String,
    /// The folder to write (created if absent; existing table files are not overwritten).
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

impl FileFormat {
    fn extension(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Parquet => "parquet",
        }
    }
}

pub fn run(config: &Config, args: &ExportArgs) -> anyhow::Result<()> {
    let path = config.store_path(args.store.as_deref());
    let store = Store::open(&path)?;
    store.release(&args.release)?;
    let written = export_release(store.conn(), &args.release, &args.out, args.format)?;
    for (file, rows) in &written {
        println!("{:>10} rows  {}", rows, file.display());
    }
    println!(
        "release {} written to {} ({} files)",
        args.release,
        args.out.display(),
        written.len()
    );
    Ok(())
}

/// Writes the release's register row and every case table; returns the files with their row
/// counts. Refuses to overwrite an existing file. The export is recorded in the store's audit log.
pub fn export_release(
    conn: &Connection,
    release_id: &str,
    out: &Path,
    format: FileFormat,
) -> anyhow::Result<Vec<(PathBuf, u64)>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let tables: Vec<&Table> = schema::TABLES
        .iter()
        .filter(|t| matches!(t.kind, TableKind::Release | TableKind::Case))
        .collect();
    for t in &tables {
        let file = out.join(format!("{}.{}", t.name, format.extension()));
        anyhow::ensure!(
            !file.exists(),
            "{} already exists; export into an empty folder",
            file.display()
        );
    }
    let mut written = Vec::with_capacity(tables.len());
    for t in tables {
        let file = out.join(format!("{}.{}", t.name, format.extension()));
        // Case files leave `release_id` to the importer; the register row names its release.
        let cols: Vec<&str> = match t.kind {
            TableKind::Release => t.columns.iter().map(|c| c.name).collect(),
            _ => t.file_columns().map(|c| c.name).collect(),
        };
        let order: Vec<&str> = t
            .key
            .iter()
            .copied()
            .filter(|k| *k != schema::RELEASE_ID)
            .collect();
        let order = if order.is_empty() {
            cols.clone()
        } else {
            order
        };
        let options = match format {
            FileFormat::Csv => "FORMAT csv, HEADER true",
            FileFormat::Parquet => "FORMAT parquet",
        };
        // COPY takes no bound parameters: the release id and path are quoted as SQL literals.
        let sql = format!(
            "COPY (SELECT {} FROM {} WHERE release_id = {} ORDER BY {}) TO {} ({options})",
            cols.join(", "),
            t.qualified_name(),
            sql_literal(release_id),
            order.join(", "),
            sql_literal(&file.to_string_lossy()),
        );
        let rows = conn
            .execute(&sql, [])
            .with_context(|| format!("writing {}", file.display()))?;
        written.push((file, rows as u64));
    }
    store::audit(conn, "export-release", release_id, &out.to_string_lossy())?;
    Ok(written)
}

/// A SQL string literal: single quotes doubled.
pub fn sql_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted() {
        assert_eq!(sql_literal("a'b"), "'a''b'");
    }
}
