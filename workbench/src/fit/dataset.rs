//! The analysis table of `workbench fit`: a CSV file, a Parquet file, or a query on a store, read
//! through DuckDB into plain columns, with errors that name the column and the row.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use duckdb::Connection;

use crate::export::sql_literal;
use crate::store::Store;

/// Where the rows come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Csv(PathBuf),
    Parquet(PathBuf),
    /// A store with a query (`--sql`) or a table name (`--table`).
    Store {
        path: PathBuf,
        query: String,
    },
}

impl Source {
    /// Picks the source from `--data` and optional `--sql` / `--table`.
    pub fn from_args(
        data: &Path,
        sql: Option<&str>,
        table: Option<&str>,
    ) -> Result<Source, DatasetError> {
        let ext = data
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv" | "tsv" | "txt") if sql.is_none() && table.is_none() => {
                Ok(Source::Csv(data.to_path_buf()))
            }
            Some("parquet") if sql.is_none() && table.is_none() => {
                Ok(Source::Parquet(data.to_path_buf()))
            }
            Some("duckdb" | "db") => {
                let query = match (sql, table) {
                    (Some(q), None) => q.to_string(),
                    (None, Some(t)) => {
                        if !t
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                        {
                            return Err(DatasetError::Usage(format!(
                                "--table `{t}` is not a table name (letters, digits, _ and . only)"
                            )));
                        }
                        format!("SELECT * FROM {t}")
                    }
                    (Some(_), Some(_)) => {
                        return Err(DatasetError::Usage(
                            "give --sql or --table, not both".into(),
                        ));
                    }
                    (None, None) => {
                        return Err(DatasetError::Usage(
                            "a store needs --sql \"SELECT ...\" or --table NAME to say which rows to fit".into(),
                        ));
                    }
                };
                Ok(Source::Store {
                    path: data.to_path_buf(),
                    query,
                })
            }
            Some("csv" | "tsv" | "txt" | "parquet") => Err(DatasetError::Usage(
                "--sql and --table apply to a store (.duckdb), not to a file".into(),
            )),
            _ => Err(DatasetError::Usage(format!(
                "{}: give a .csv, .parquet or .duckdb file",
                data.display()
            ))),
        }
    }

    fn describe(&self) -> String {
        match self {
            Source::Csv(p) | Source::Parquet(p) => p.display().to_string(),
            Source::Store { path, query } => format!("{}: {}", path.display(), query),
        }
    }
}

/// Errors reading the analysis table.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{0}")]
    Usage(String),
    #[error("{source_name}: no column `{column}`; the columns are: {available}")]
    UnknownColumn {
        source_name: String,
        column: String,
        available: String,
    },
    #[error("{source_name}, row {row}, column `{column}`: {message}")]
    Value {
        source_name: String,
        row: u64,
        column: String,
        message: String,
    },
    #[error("{source_name}: {source}")]
    Db {
        source_name: String,
        source: duckdb::Error,
    },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Loaded columns of the analysis table, in row order.
pub struct Dataset {
    conn: Connection,
    source_name: String,
    available: Vec<String>,
    pub n_rows: usize,
    /// Whether row numbers refer to data rows of a file (CSV: the header is line 1).
    is_csv: bool,
}

impl Dataset {
    /// Reads the source once into a temporary table (`__workbench_fit`, with the 1-based row
    /// number `__row`) on an in-memory connection, or on the store's connection.
    pub fn open(source: &Source) -> Result<Dataset, DatasetError> {
        let source_name = source.describe();
        let db = |e: duckdb::Error| DatasetError::Db {
            source_name: source_name.clone(),
            source: e,
        };
        let (conn, view) = match source {
            Source::Csv(p) => {
                if !p.is_file() {
                    return Err(DatasetError::Usage(format!(
                        "{}: no such file",
                        p.display()
                    )));
                }
                (
                    Connection::open_in_memory().map_err(db)?,
                    format!(
                        "SELECT * FROM read_csv({}, header = true, all_varchar = true)",
                        sql_literal(&p.to_string_lossy())
                    ),
                )
            }
            Source::Parquet(p) => {
                if !p.is_file() {
                    return Err(DatasetError::Usage(format!(
                        "{}: no such file",
                        p.display()
                    )));
                }
                (
                    Connection::open_in_memory().map_err(db)?,
                    format!(
                        "SELECT * FROM read_parquet({})",
                        sql_literal(&p.to_string_lossy())
                    ),
                )
            }
            Source::Store { path, query } => {
                let store = Store::open(path)?;
                let conn = store.conn().try_clone().map_err(db)?;
                (conn, query.clone())
            }
        };
        conn.execute_batch(&format!(
            "CREATE TEMP TABLE __workbench_fit AS SELECT row_number() OVER () AS __row, * FROM ({view}) AS src"
        ))
        .map_err(db)?;
        let mut stmt = conn
            .prepare("SELECT * FROM __workbench_fit LIMIT 0")
            .map_err(db)?;
        stmt.execute([]).map_err(db)?;
        let available: Vec<String> = stmt
            .column_names()
            .into_iter()
            .filter(|c| c != "__row")
            .collect();
        drop(stmt);
        let n_rows: i64 = conn
            .query_row("SELECT count(*) FROM __workbench_fit", [], |r| r.get(0))
            .map_err(db)?;
        Ok(Dataset {
            conn,
            source_name,
            available,
            n_rows: usize::try_from(n_rows).unwrap_or(0),
            is_csv: matches!(source, Source::Csv(_)),
        })
    }

    /// The column names of the source.
    pub fn columns(&self) -> &[String] {
        &self.available
    }

    /// The file, or the store and its query, as messages and reports name it.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// For a CSV file, " (line N of the file)" for 1-based data row `row`; empty otherwise.
    pub fn line_note(&self, row: usize) -> String {
        if self.is_csv {
            format!(" (line {} of the file)", row + 1)
        } else {
            String::new()
        }
    }

    fn check(&self, column: &str) -> Result<String, DatasetError> {
        if self.available.iter().any(|c| c == column) {
            Ok(format!("\"{}\"", column.replace('"', "\"\"")))
        } else {
            Err(DatasetError::UnknownColumn {
                source_name: self.source_name.clone(),
                column: column.to_string(),
                available: self.available.join(", "),
            })
        }
    }

    fn value_error(&self, row: i64, column: &str, message: String) -> DatasetError {
        let row = u64::try_from(row).unwrap_or(0);
        let message = format!("{message}{}", self.line_note(row as usize));
        DatasetError::Value {
            source_name: self.source_name.clone(),
            row,
            column: column.to_string(),
            message,
        }
    }

    fn db(&self, e: duckdb::Error) -> DatasetError {
        DatasetError::Db {
            source_name: self.source_name.clone(),
            source: e,
        }
    }

    /// A numeric column; missing values (empty, NULL, NA) are `None`. Text that is not a number is
    /// an error naming the first such row.
    pub fn numeric(&self, column: &str) -> Result<Vec<Option<f64>>, DatasetError> {
        let q = self.check(column)?;
        let text = format!("trim(CAST({q} AS VARCHAR))");
        let missing = format!("({q} IS NULL OR {text} IN ('', 'NA', 'NaN', 'nan', '.'))");
        let bad_sql = format!(
            "SELECT __row FROM __workbench_fit WHERE NOT {missing} AND TRY_CAST({text} AS DOUBLE) IS NULL ORDER BY __row LIMIT 1"
        );
        let bad: Option<i64> = self.conn.query_row(&bad_sql, [], |r| r.get(0)).ok();
        if let Some(row) = bad {
            return Err(self.value_error(row, column, "expected a number, found text".into()));
        }
        let sql = format!(
            "SELECT CASE WHEN {missing} THEN NULL ELSE CAST({text} AS DOUBLE) END FROM __workbench_fit ORDER BY __row"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Option<f64>>(0))
            .map_err(|e| self.db(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.db(e))
    }

    /// A numeric column that must be present on every row and satisfy `valid` (e.g. times >= 0).
    pub fn numeric_required(
        &self,
        column: &str,
        valid: impl Fn(f64) -> bool,
        rule: &str,
    ) -> Result<Vec<Option<f64>>, DatasetError> {
        let values = self.numeric(column)?;
        for (i, v) in values.iter().enumerate() {
            if let Some(x) = v
                && !valid(*x)
            {
                return Err(self.value_error(i as i64 + 1, column, format!("{rule} (found {x})")));
            }
        }
        Ok(values)
    }

    /// A text column (any type is read as its text); missing values are `None`.
    pub fn text(&self, column: &str) -> Result<Vec<Option<String>>, DatasetError> {
        let q = self.check(column)?;
        let sql = format!(
            "SELECT CASE WHEN {q} IS NULL OR trim(CAST({q} AS VARCHAR)) IN ('', 'NA') THEN NULL ELSE CAST({q} AS VARCHAR) END \
             FROM __workbench_fit ORDER BY __row"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.db(e))?;
        let rows = stmt
            .query_map([], |r| r.get::<_, Option<String>>(0))
            .map_err(|e| self.db(e))?;
        rows.collect::<Result<Vec<_>, _>>().map_err(|e| self.db(e))
    }

    /// An error about a row of a column, for checks done by the caller (1-based row).
    pub fn row_error(&self, row: usize, column: &str, message: impl Into<String>) -> DatasetError {
        self.value_error(row as i64, column, message.into())
    }

    /// Distinct non-missing values of a text column, sorted.
    pub fn levels(values: &[Option<String>]) -> Vec<String> {
        values
            .iter()
            .flatten()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}
