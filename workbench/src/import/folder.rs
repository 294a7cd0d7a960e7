//! A release folder: one `TABLE.csv` or `TABLE.parquet` per table. Finds the files, pre-scans
//! CSV files (`csv_scan`), and stages every file into a raw DuckDB table through DuckDB's own
//! readers (`read_csv` with all columns as text, `read_parquet` cast to text).
//!
//! Files whose name is not an importable table are refused (a misspelt `childs.csv` would
//! otherwise be silently ignored); other files (README, subfolders, hidden files) are ignored.

use std::path::{Path, PathBuf};

use anyhow::Context;
use duckdb::Connection;
use studies::schema::Table;

use super::csv_scan::{self, CsvProblem};
use super::stage::{self, MAX_FIELD_BYTES, REQUIRED_TABLES, Staged};
use crate::validate::{Finding, RowCounting, RuleId, ValidationReport, ident, lit};

/// File format of one table file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

/// One table's file.
#[derive(Debug, Clone)]
pub struct TableFile {
    pub table: &'static Table,
    pub path: PathBuf,
    pub format: Format,
}

impl TableFile {
    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.table.name.to_string())
    }
}

fn file_finding(table: &str, source: &str, rule: RuleId, message: String) -> Finding {
    Finding {
        rule,
        table: table.to_string(),
        source: source.to_string(),
        row: None,
        counting: RowCounting::CsvSpreadsheet,
        column: None,
        message,
    }
}

/// Finds the table files of a folder; reports unknown, doubled and missing files.
pub fn discover(dir: &Path, report: &mut ValidationReport) -> anyhow::Result<Vec<TableFile>> {
    anyhow::ensure!(dir.is_dir(), "{} is not a folder", dir.display());
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading folder {}", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading folder {}", dir.display()))?;
    entries.sort();
    let mut files: Vec<TableFile> = Vec::new();
    for path in entries {
        if !path.is_file() {
            continue;
        }
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file_name.starts_with('.') {
            continue;
        }
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let format = match ext.as_str() {
            "csv" => Format::Csv,
            "parquet" => Format::Parquet,
            _ => continue,
        };
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        let Some(table) = stage::importable_tables().find(|t| t.name == stem) else {
            let known: Vec<&str> = stage::importable_tables().map(|t| t.name).collect();
            report.add(file_finding(
                &stem,
                &file_name,
                RuleId::UnknownFile,
                format!(
                    "is not a table of a data release (code lists ship with the workbench, synthetic truth comes only from the generator): rename or remove it; the tables are {}",
                    known.join(", ")
                ),
            ));
            continue;
        };
        if let Some(other) = files.iter().find(|f| f.table.name == table.name) {
            report.add(file_finding(
                table.name,
                &file_name,
                RuleId::DuplicateFile,
                format!(
                    "the {} table is also in {}: keep one file per table",
                    table.name,
                    other.name()
                ),
            ));
            continue;
        }
        files.push(TableFile {
            table,
            path,
            format,
        });
    }
    for required in REQUIRED_TABLES {
        if !files.iter().any(|f| f.table.name == *required) {
            report.add(file_finding(
                required,
                &format!("{}/", dir.display()),
                RuleId::MissingFile,
                format!(
                    "has no {required}.csv or {required}.parquet: the {required} table is required"
                ),
            ));
        }
    }
    Ok(files)
}

fn csv_problem_finding(f: &TableFile, p: &CsvProblem, header: &[String]) -> Finding {
    let source = f.name();
    let row = |record: u64| Some(record + 1);
    let column = |field: usize| {
        header
            .get(field)
            .filter(|h| f.table.column(&h.to_lowercase()).is_some())
            .cloned()
            .or_else(|| Some(format!("at position {}", field + 1)))
    };
    let (rule, row, column, message) = match p {
        CsvProblem::Empty => (
            RuleId::EmptyFile,
            None,
            None,
            "is empty: write at least the header line (and delete the file if an optional table has no rows)".to_string(),
        ),
        CsvProblem::Utf16 => (
            RuleId::Encoding,
            None,
            None,
            "is UTF-16: save it as UTF-8 (\"CSV UTF-8\" in spreadsheet programs)".to_string(),
        ),
        CsvProblem::Encoding { record, field } => (
            RuleId::Encoding,
            row(*record),
            column(*field),
            "holds bytes that are not UTF-8 (probably Latin-1 or Windows-1252): save the file as UTF-8".to_string(),
        ),
        CsvProblem::FieldTooLong { record, field } => (
            RuleId::FieldTooLong,
            row(*record),
            column(*field),
            format!(
                "holds a value longer than {} KiB: free text and documents do not belong in a pseudonymised extract; shorten or drop it",
                MAX_FIELD_BYTES / 1024
            ),
        ),
        CsvProblem::Ragged {
            record,
            found,
            expected,
        } => (
            RuleId::FileFormat,
            row(*record),
            None,
            format!(
                "has {found} fields where the header has {expected}: quote values that contain commas or line breaks"
            ),
        ),
        CsvProblem::StrayQuote { record, field } => (
            RuleId::FileFormat,
            row(*record),
            column(*field),
            "has a double quote inside an unquoted value or text after a closing quote: quote the whole value and double the quotes inside it".to_string(),
        ),
        CsvProblem::UnterminatedQuote { record, field } => (
            RuleId::FileFormat,
            row(*record),
            column(*field),
            "opens a quoted value that is never closed".to_string(),
        ),
        CsvProblem::BlankLine { record } => (
            RuleId::FileFormat,
            row(*record),
            None,
            "is a blank line between rows: remove it".to_string(),
        ),
    };
    Finding {
        rule,
        table: f.table.name.to_string(),
        source,
        row,
        counting: RowCounting::CsvSpreadsheet,
        column,
        message,
    }
}

/// The column names of a file, checking what can be checked before DuckDB reads it. None (with
/// findings) when the file cannot be staged.
pub fn inspect(
    conn: &Connection,
    f: &TableFile,
    report: &mut ValidationReport,
) -> anyhow::Result<Option<Vec<String>>> {
    match f.format {
        Format::Csv => {
            let scanned = csv_scan::prescan(&f.path, MAX_FIELD_BYTES, 20)
                .with_context(|| format!("reading {}", f.path.display()))?;
            match scanned {
                Ok(shape) => Ok(Some(shape.header)),
                Err(problems) => {
                    let header = &problems.header;
                    let listed = problems.listed.len() as u64;
                    for p in &problems.listed {
                        report.add(csv_problem_finding(f, p, header));
                    }
                    if let Some(last) = problems.listed.last()
                        && problems.total > listed
                    {
                        let rule = csv_problem_finding(f, last, header).rule;
                        report.add_counted(rule, problems.total - listed, Vec::new());
                    }
                    Ok(None)
                }
            }
        }
        Format::Parquet => {
            let sql = format!(
                "DESCRIBE SELECT * FROM read_parquet({}, binary_as_string = true)",
                lit(&path_text(&f.path))
            );
            let names: Result<Vec<String>, duckdb::Error> = conn
                .prepare(&sql)
                .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect());
            match names {
                Ok(n) => Ok(Some(n)),
                Err(_) => {
                    report.add(file_finding(
                        f.table.name,
                        &f.name(),
                        RuleId::FileFormat,
                        "cannot be read as a Parquet file: write it again with a Parquet writer (or supply CSV)".into(),
                    ));
                    Ok(None)
                }
            }
        }
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Stages one file into its raw table. `names` are the file's column names, `mapped` the schema
/// column of each. DuckDB's own error text is never shown: it may quote the offending line.
pub fn stage_file(
    conn: &Connection,
    f: &TableFile,
    names: &[String],
    mapped: &[&'static str],
    report: &mut ValidationReport,
) -> anyhow::Result<Option<Staged>> {
    let raw = stage::raw_name(f.table);
    let path = lit(&path_text(&f.path));
    conn.execute_batch(&format!("DROP TABLE IF EXISTS temp.{raw}"))?;
    let (sql, counting, offset) = match f.format {
        Format::Csv => {
            let columns: Vec<String> = mapped
                .iter()
                .map(|c| format!("{}: 'VARCHAR'", lit(c)))
                .collect();
            let max_line = (MAX_FIELD_BYTES + 3) * mapped.len().max(1) + 1024;
            (
                format!(
                    "CREATE TEMP TABLE {raw} AS SELECT * FROM read_csv({path}, header = true, auto_detect = false, \
                     delim = ',', quote = '\"', escape = '\"', columns = {{{}}}, strict_mode = true, \
                     null_padding = false, max_line_size = {max_line})",
                    columns.join(", ")
                ),
                RowCounting::CsvSpreadsheet,
                2,
            )
        }
        Format::Parquet => {
            let cols: Vec<String> = names
                .iter()
                .zip(mapped)
                .map(|(n, c)| format!("CAST({} AS VARCHAR) AS {}", ident(n), ident(c)))
                .collect();
            (
                format!(
                    "CREATE TEMP TABLE {raw} AS SELECT {} FROM read_parquet({path}, binary_as_string = true)",
                    cols.join(", ")
                ),
                RowCounting::DataRow,
                1,
            )
        }
    };
    if let Err(e) = conn.execute_batch(&sql) {
        let text = e.to_string().to_lowercase();
        let (rule, message) = if text.contains("utf")
            || text.contains("unicode")
            || text.contains("encoding")
        {
            (
                RuleId::Encoding,
                "holds text that is not valid UTF-8: write the file again with UTF-8 text"
                    .to_string(),
            )
        } else {
            (
                RuleId::FileFormat,
                "could not be read (DuckDB refused it; the message is not shown because it may quote data): check that it is a well-formed file of this format".to_string(),
            )
        };
        tracing::debug!(file = %f.path.display(), "staging failed");
        report.add(file_finding(f.table.name, &f.name(), rule, message));
        return Ok(None);
    }
    let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM temp.{raw}"), [], |r| {
        r.get(0)
    })?;
    Ok(Some(Staged {
        table: f.table,
        source: f.name(),
        counting,
        raw: Some(raw),
        columns: mapped.to_vec(),
        row_offset: offset,
        rows: u64::try_from(rows).unwrap_or(0),
    }))
}
