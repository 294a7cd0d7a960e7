//! Where generated rows go: DuckDB appenders inside the release's transaction, or one CSV file per
//! case table (the `data-quality` scenario's import test folder).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use duckdb::types::{ToSqlOutput, ValueRef};
use duckdb::{Appender, Connection, ToSql};
use studies::schema;

use super::SynthError;
use super::dates;
use super::rows::{Cell, Row, Rows};

/// Writes rows of every table, in the order given.
pub trait Sink {
    fn write(&mut self, rows: &Rows) -> Result<(), SynthError>;
    /// Flushes buffered rows and reports errors.
    fn flush(&mut self) -> Result<(), SynthError>;
}

fn to_sql<'a>(c: &Cell<'a>) -> ToSqlOutput<'a> {
    ToSqlOutput::Borrowed(match *c {
        Cell::Null => ValueRef::Null,
        Cell::Text(s) => ValueRef::Text(s.as_bytes()),
        Cell::Int(i) => ValueRef::BigInt(i),
        Cell::Real(x) => ValueRef::Double(x),
        Cell::Date(d) => ValueRef::Date32(d),
        Cell::Bool(b) => ValueRef::Boolean(b),
    })
}

/// Appends rows of one table with the release id first and its surrogate keys NULL (the store
/// assigns them once the release is validated).
pub fn append_rows<R: Row>(
    app: &mut Appender<'_>,
    release_id: &str,
    rows: &[R],
) -> Result<(), SynthError> {
    let keys = schema::surrogate_keys(R::TABLE).count();
    for r in rows {
        let cells = r.cells();
        let mut values: Vec<ToSqlOutput<'_>> = Vec::with_capacity(cells.len() + 1 + keys);
        values.push(ToSqlOutput::Borrowed(ValueRef::Text(release_id.as_bytes())));
        values.extend(cells.iter().map(to_sql));
        values.extend((0..keys).map(|_| ToSqlOutput::Borrowed(ValueRef::Null)));
        let refs: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
        app.append_row(&refs[..])
            .map_err(|e| SynthError::Write(R::TABLE.to_string(), e))?;
    }
    Ok(())
}

/// DuckDB appenders for every case table and `truth.child_latent`, on the release's transaction.
pub struct DuckSink<'c> {
    release_id: String,
    apps: Vec<(&'static str, Appender<'c>)>,
}

/// The tables a family writes, in append order.
pub const FAMILY_TABLES: [&str; 14] = [
    "family",
    "child",
    "episode",
    "report",
    "report_child",
    "report_child_form",
    "episode_context",
    "intervention",
    "placement",
    "event",
    "observation_window",
    "assessment",
    "assessment_subscale",
    "child_latent",
];

impl<'c> DuckSink<'c> {
    pub fn new(conn: &'c Connection, release_id: &str) -> Result<DuckSink<'c>, SynthError> {
        let mut apps = Vec::with_capacity(FAMILY_TABLES.len());
        for t in FAMILY_TABLES {
            let app = if t == "child_latent" {
                conn.appender_to_db(t, schema::TRUTH_SCHEMA)
            } else {
                conn.appender(t)
            }
            .map_err(|e| SynthError::Write(t.to_string(), e))?;
            apps.push((t, app));
        }
        Ok(DuckSink {
            release_id: release_id.to_string(),
            apps,
        })
    }
}

impl Sink for DuckSink<'_> {
    fn write(&mut self, rows: &Rows) -> Result<(), SynthError> {
        let id = self.release_id.as_str();
        let a = &mut self.apps;
        append_rows(&mut a[0].1, id, &rows.family)?;
        append_rows(&mut a[1].1, id, &rows.child)?;
        append_rows(&mut a[2].1, id, &rows.episode)?;
        append_rows(&mut a[3].1, id, &rows.report)?;
        append_rows(&mut a[4].1, id, &rows.report_child)?;
        append_rows(&mut a[5].1, id, &rows.report_child_form)?;
        append_rows(&mut a[6].1, id, &rows.episode_context)?;
        append_rows(&mut a[7].1, id, &rows.intervention)?;
        append_rows(&mut a[8].1, id, &rows.placement)?;
        append_rows(&mut a[9].1, id, &rows.event)?;
        append_rows(&mut a[10].1, id, &rows.observation_window)?;
        append_rows(&mut a[11].1, id, &rows.assessment)?;
        append_rows(&mut a[12].1, id, &rows.assessment_subscale)?;
        append_rows(&mut a[13].1, id, &rows.child_latent)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SynthError> {
        for (t, app) in &mut self.apps {
            app.flush()
                .map_err(|e| SynthError::Write(t.to_string(), e))?;
        }
        Ok(())
    }
}

/// One CSV file per case table (`<table>.csv`, header = the table's file columns; ISO dates,
/// `true`/`false`, NULL as an empty field). Truth is not written.
pub struct CsvSink {
    dir: PathBuf,
    files: Vec<(&'static str, BufWriter<File>)>,
}

/// CSV text of one field.
pub fn csv_field(c: &Cell<'_>) -> String {
    match *c {
        Cell::Null => String::new(),
        Cell::Text(s) => {
            if s.contains([',', '"', '\n', '\r']) || s.is_empty() {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        }
        Cell::Int(i) => i.to_string(),
        Cell::Real(x) => format!("{x}"),
        Cell::Date(d) => dates::iso(d),
        Cell::Bool(b) => if b { "true" } else { "false" }.to_string(),
    }
}

impl CsvSink {
    /// Creates the folder (which must not hold a release already) and the files with headers.
    pub fn new(dir: &Path) -> Result<CsvSink, SynthError> {
        let io = |e: std::io::Error| SynthError::Io(dir.to_path_buf(), e);
        if dir.join("data_release.csv").exists() {
            return Err(SynthError::Config(format!(
                "{} already holds a release (data_release.csv); choose an empty folder",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut files = Vec::new();
        for t in FAMILY_TABLES.iter().filter(|t| **t != "child_latent") {
            let table = schema::table(t)
                .ok_or_else(|| SynthError::Config(format!("no table {t} in the schema")))?;
            let path = dir.join(format!("{t}.csv"));
            let mut w = BufWriter::new(File::create(&path).map_err(io)?);
            let header: Vec<&str> = table.file_columns().map(|c| c.name).collect();
            writeln!(w, "{}", header.join(",")).map_err(io)?;
            files.push((*t, w));
        }
        Ok(CsvSink {
            dir: dir.to_path_buf(),
            files,
        })
    }

    fn put<R: Row>(&mut self, i: usize, rows: &[R]) -> Result<(), SynthError> {
        let dir = self.dir.clone();
        let w = &mut self.files[i].1;
        for r in rows {
            let line: Vec<String> = r.cells().iter().map(csv_field).collect();
            writeln!(w, "{}", line.join(",")).map_err(|e| SynthError::Io(dir.clone(), e))?;
        }
        Ok(())
    }

    /// Writes `data_release.csv` (one row).
    pub fn write_release(&self, cells: &[Cell<'_>]) -> Result<(), SynthError> {
        let io = |e: std::io::Error| SynthError::Io(self.dir.clone(), e);
        let table = schema::table("data_release")
            .ok_or_else(|| SynthError::Config("no data_release table".into()))?;
        let mut w = BufWriter::new(File::create(self.dir.join("data_release.csv")).map_err(io)?);
        let header: Vec<&str> = table.columns.iter().map(|c| c.name).collect();
        writeln!(w, "{}", header.join(",")).map_err(io)?;
        let line: Vec<String> = cells.iter().map(csv_field).collect();
        writeln!(w, "{}", line.join(",")).map_err(io)?;
        w.flush().map_err(io)?;
        Ok(())
    }
}

impl Sink for CsvSink {
    fn write(&mut self, rows: &Rows) -> Result<(), SynthError> {
        self.put(0, &rows.family)?;
        self.put(1, &rows.child)?;
        self.put(2, &rows.episode)?;
        self.put(3, &rows.report)?;
        self.put(4, &rows.report_child)?;
        self.put(5, &rows.report_child_form)?;
        self.put(6, &rows.episode_context)?;
        self.put(7, &rows.intervention)?;
        self.put(8, &rows.placement)?;
        self.put(9, &rows.event)?;
        self.put(10, &rows.observation_window)?;
        self.put(11, &rows.assessment)?;
        self.put(12, &rows.assessment_subscale)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), SynthError> {
        for (_, w) in &mut self.files {
            w.flush().map_err(|e| SynthError::Io(self.dir.clone(), e))?;
        }
        Ok(())
    }
}
