//! Staging, common to every source: mapping a source's column names onto the schema, the raw
//! (all-text) staging tables in DuckDB's `temp` catalog, the checks that need the raw text
//! (missing values, types, field length, the release row), the identifier scan that streams text
//! columns through `identifiers`, and the typed staging tables the integrity checks run on.

use std::collections::BTreeMap;

use duckdb::Connection;
use duckdb::arrow::array::{Array, AsArray};
use duckdb::arrow::datatypes::{DataType, Int64Type};
use studies::schema::{self, Column, ColumnType, Rule, Table, TableKind};

use super::identifiers::{self, Identifier, NameVerdict, column_name_verdict};
use crate::validate::{
    Checker, Finding, Pred, RowCounting, RuleId, Scope, ValidationReport, ident, lit, staged_name,
};

/// Longest value accepted in any field, in bytes (64 KiB). Keeps every CSV line far below
/// DuckDB's line limit and refuses files that smuggle documents or images into a column.
pub const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Tables that must be supplied; the others may be absent (an empty table).
pub const REQUIRED_TABLES: &[&str] = &[
    "data_release",
    "child",
    "episode",
    "report",
    "report_child",
    "event",
];

/// Non-null columns a source may leave out, with the value they then take (domain.md §4
/// defaults).
const DEFAULTS: &[(&str, &str, &str)] = &[
    ("data_release", "is_synthetic", "false"),
    ("report_child_form", "is_primary", "false"),
    ("intervention", "is_court_ordered", "false"),
    ("placement", "is_trial_home_visit", "false"),
    ("assessment", "is_valid", "true"),
    ("event", "date_precision", "'DAY'"),
];

fn default_of(t: &Table, c: &str) -> Option<&'static str> {
    DEFAULTS
        .iter()
        .find(|(tn, cn, _)| *tn == t.name && *cn == c)
        .map(|d| d.2)
}

/// Tables a release is imported into: the release register and the case tables.
pub fn importable_tables() -> impl Iterator<Item = &'static Table> {
    schema::TABLES
        .iter()
        .filter(|t| matches!(t.kind, TableKind::Release | TableKind::Case))
}

/// Columns a source supplies for a table (all but `release_id`, which the importer adds, except
/// in `data_release` where it is the point).
pub fn source_columns(t: &Table) -> Vec<&'static Column> {
    match t.kind {
        TableKind::Release => t.columns.iter().collect(),
        _ => t.file_columns().collect(),
    }
}

/// One table as staged: where it came from and what the raw table holds.
#[derive(Debug, Clone)]
pub struct Staged {
    pub table: &'static Table,
    /// File name or PostgreSQL table, for messages.
    pub source: String,
    pub counting: RowCounting,
    /// Raw staging table (`temp` catalog), None when the source has no such table.
    pub raw: Option<String>,
    /// Schema columns present in the raw table.
    pub columns: Vec<&'static str>,
    /// Added to DuckDB's rowid (0-based, in source order) to get the row as `counting` says.
    pub row_offset: i64,
    pub rows: u64,
}

impl Staged {
    /// A table the source does not have.
    pub fn absent(t: &'static Table) -> Staged {
        Staged {
            table: t,
            source: format!("{} (absent)", t.name),
            counting: RowCounting::DataRow,
            raw: None,
            columns: Vec::new(),
            row_offset: 1,
            rows: 0,
        }
    }

    /// The raw table as a relation with `_loc`.
    fn raw_rel(&self) -> Option<String> {
        self.raw.as_ref().map(|r| {
            format!(
                "(SELECT rowid + {} AS _loc, * FROM temp.{r})",
                self.row_offset
            )
        })
    }
}

/// Name of the raw staging table of a schema table.
pub fn raw_name(t: &Table) -> String {
    format!("_wb_raw_{}", t.name)
}

fn finding(
    t: &Table,
    source: &str,
    counting: RowCounting,
    rule: RuleId,
    row: Option<u64>,
    column: Option<String>,
    message: String,
) -> Finding {
    Finding {
        rule,
        table: t.name.to_string(),
        source: source.to_string(),
        row,
        counting,
        column,
        message,
    }
}

/// How a source column is shown in a message: its name when it looks like a name, else its
/// position (a header line that is really data must not be echoed).
fn shown_column(name: &str, position: usize) -> String {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b' ' | b'.'))
        && identifiers::scan_text(name).is_empty()
        && name.bytes().filter(u8::is_ascii_digit).count() < 6;
    if plain {
        format!("{name} (position {position})")
    } else {
        format!(
            "at position {position} (name not shown: it looks like data; is the header line missing?)"
        )
    }
}

/// Maps a source's column names (in source order) onto the table's columns. Reports deny-listed,
/// birth-date, unknown, duplicate and missing columns; returns the schema column of each source
/// column when all is well.
pub fn map_columns(
    t: &'static Table,
    names: &[String],
    source: &str,
    counting: RowCounting,
    report: &mut ValidationReport,
) -> Option<Vec<&'static str>> {
    let wanted = source_columns(t);
    let mut mapped: Vec<&'static str> = Vec::with_capacity(names.len());
    let mut ok = true;
    let mut add = |rule, column: String, message: String| {
        report.add(finding(
            t,
            source,
            counting,
            rule,
            None,
            Some(column),
            message,
        ));
    };
    for (i, raw) in names.iter().enumerate() {
        let key = raw.trim().to_lowercase();
        let shown = shown_column(raw.trim(), i + 1);
        if column_name_verdict(&key) == Some(NameVerdict::DenyListed) {
            add(
                RuleId::IdColumnName,
                shown,
                "has a deny-listed name (docs/domain.md §3.5: names, addresses, national numbers, e-mail, phone, IBAN): direct identifiers may not be imported; remove the column at the source".into(),
            );
            ok = false;
            continue;
        }
        match wanted.iter().find(|c| c.name == key) {
            Some(c) if mapped.contains(&c.name) => {
                add(
                    RuleId::DuplicateColumn,
                    shown,
                    "occurs twice: keep one of the two columns".into(),
                );
                ok = false;
            }
            Some(c) => mapped.push(c.name),
            None => {
                ok = false;
                if key == schema::RELEASE_ID {
                    add(
                        RuleId::UnknownColumn,
                        shown,
                        "release_id is added by the importer from data_release: remove the column from this table".into(),
                    );
                } else if column_name_verdict(&key) == Some(NameVerdict::BirthDate) {
                    add(
                        RuleId::IdBirthDate,
                        shown,
                        "names a birth date: exact birth dates may not be imported; supply birth_ym (YYYY-MM) in child instead and remove this column".into(),
                    );
                } else {
                    let known: Vec<&str> = wanted.iter().map(|c| c.name).collect();
                    add(
                        RuleId::UnknownColumn,
                        shown,
                        format!(
                            "is not a column of {}: remove or rename it (the columns are: {})",
                            t.name,
                            known.join(", ")
                        ),
                    );
                }
            }
        }
    }
    for c in &wanted {
        if !c.nullable && !mapped.contains(&c.name) && default_of(t, c.name).is_none() {
            // Reported even when other columns failed, so one run lists everything.
            report.add(finding(
                t,
                source,
                counting,
                RuleId::MissingColumn,
                None,
                Some(c.name.to_string()),
                format!(
                    "is required in {} ({}) but the source has no such column: add it",
                    t.name,
                    c.ty.describe()
                ),
            ));
            ok = false;
        }
    }
    ok.then_some(mapped)
}

/// The typed value of raw text column `v` (a quoted identifier), NULL when it does not parse.
fn typed_expr(ty: ColumnType, v: &str) -> String {
    match ty {
        ColumnType::Text => format!("NULLIF({v}, '')"),
        ColumnType::Integer => format!(
            "CASE WHEN regexp_full_match(trim({v}), '[+-]?[0-9]{{1,18}}(\\.0*)?') \
             THEN TRY_CAST(regexp_replace(trim({v}), '\\.0*$', '') AS BIGINT) END"
        ),
        ColumnType::Real => format!(
            "CASE WHEN isfinite(TRY_CAST(trim({v}) AS DOUBLE)) THEN TRY_CAST(trim({v}) AS DOUBLE) END"
        ),
        ColumnType::Date => format!(
            "CASE WHEN regexp_full_match(trim({v}), '[0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}}') \
             THEN TRY_CAST(trim({v}) AS DATE) END"
        ),
        ColumnType::Boolean => format!(
            "CASE lower(trim({v})) WHEN 'true' THEN true WHEN 't' THEN true WHEN '1' THEN true \
             WHEN 'false' THEN false WHEN 'f' THEN false WHEN '0' THEN false END"
        ),
    }
}

fn type_hint(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Text => "text",
        ColumnType::Integer => "a whole number such as 3",
        ColumnType::Real => "a finite number such as 12.5 (decimal point, no thousands separator)",
        ColumnType::Date => "a date written YYYY-MM-DD",
        ColumnType::Boolean => "true or false (also t/f, 1/0)",
    }
}

/// Checks on the raw text: missing values, types, field length; for `data_release`, its single
/// row and the release id's form.
pub(crate) fn raw_checks(
    conn: &Connection,
    st: &Staged,
    scope: &Scope,
    report: &mut ValidationReport,
) -> duckdb::Result<()> {
    let Some(rel) = st.raw_rel() else {
        return Ok(());
    };
    let t = st.table;
    let mut preds = Vec::new();
    for name in &st.columns {
        let Some(c) = t.column(name) else { continue };
        let v = ident(c.name);
        preds.push(Pred {
            rule: RuleId::FieldTooLong,
            column: c.name.to_string(),
            sql: format!("strlen({v}) > {MAX_FIELD_BYTES}"),
            message: format!(
                "is longer than {} KiB: free text and documents do not belong in a pseudonymised extract; shorten or drop the value",
                MAX_FIELD_BYTES / 1024
            ),
        });
        if !c.nullable {
            preds.push(Pred {
                rule: RuleId::MissingValue,
                column: c.name.to_string(),
                sql: format!("({v} IS NULL OR trim({v}) = '')"),
                message: format!("is empty but required: supply {}", type_hint(c.ty)),
            });
        }
        if c.ty != ColumnType::Text {
            preds.push(Pred {
                rule: RuleId::Type,
                column: c.name.to_string(),
                sql: format!(
                    "({v} IS NOT NULL AND trim({v}) <> '' AND strlen({v}) <= {MAX_FIELD_BYTES} AND ({}) IS NULL)",
                    typed_expr(c.ty, &v)
                ),
                message: format!("is not {}", type_hint(c.ty)),
            });
        }
        if t.kind == TableKind::Release && c.name == schema::RELEASE_ID {
            preds.push(Pred {
                rule: RuleId::ReleaseId,
                column: c.name.to_string(),
                sql: format!(
                    "{v} IS NOT NULL AND trim({v}) <> '' AND NOT regexp_full_match({v}, '[0-9A-Za-z._-]{{1,64}}')"
                ),
                message: "must be 1 to 64 characters of letters, digits, '.', '_' or '-'".into(),
            });
        }
    }
    let mut ch = Checker::new(conn, scope);
    ch.predicates(t, &rel, &preds)?;
    report.merge(ch.report);
    if t.kind == TableKind::Release && st.rows != 1 {
        report.add(finding(
            t,
            &st.source,
            st.counting,
            RuleId::ReleaseRows,
            None,
            None,
            format!(
                "holds {} data rows; it needs exactly one, describing the release (release_id, extract_date, source_system, pseudonym_scheme, ...)",
                st.rows
            ),
        ));
    }
    Ok(())
}

fn identifier_rule(id: Identifier) -> (RuleId, &'static str) {
    match id {
        Identifier::Rrn => (
            RuleId::IdRrn,
            "holds what looks like a Belgian national register number (rijksregisternummer / INSZ / NISS): direct identifiers may not be imported; remove it at the source or replace it with the upstream pseudonym",
        ),
        Identifier::Bis => (
            RuleId::IdBis,
            "holds what looks like a Belgian BIS number: direct identifiers may not be imported; remove it at the source or replace it with the upstream pseudonym",
        ),
        Identifier::Iban => (
            RuleId::IdIban,
            "holds what looks like a Belgian bank account number (IBAN): remove it at the source",
        ),
        Identifier::Email => (
            RuleId::IdEmail,
            "holds what looks like an e-mail address: remove it at the source",
        ),
        Identifier::Phone => (
            RuleId::IdPhone,
            "holds what looks like a Belgian phone number: remove it at the source",
        ),
    }
}

/// Streams the text of every scanned column through the identifier scanner. Pseudonym columns
/// are not scanned (their format is checked instead); dates and booleans are typed strictly and
/// cannot carry an identifier; numeric columns are scanned for national numbers only. SQL first
/// drops values that cannot hold an identifier (too few digits and no `@`).
pub fn scan_identifiers(
    conn: &Connection,
    st: &Staged,
    report: &mut ValidationReport,
) -> duckdb::Result<()> {
    let Some(rel) = st.raw_rel() else {
        return Ok(());
    };
    for name in &st.columns {
        let Some(c) = st.table.column(name) else {
            continue;
        };
        let numeric = match (c.ty, c.rule) {
            (_, Rule::Pseudonym) => continue,
            (ColumnType::Text, _) => false,
            (ColumnType::Integer | ColumnType::Real, _) => true,
            (ColumnType::Date | ColumnType::Boolean, _) => continue,
        };
        let v = ident(c.name);
        let digits = format!("(strlen({v}) - strlen(translate({v}, '0123456789', '')))");
        let filter = if numeric {
            format!("{digits} >= {}", identifiers::MIN_DIGITS_NUMBER)
        } else {
            format!(
                "(strpos({v}, '@') > 0 OR {digits} >= {})",
                identifiers::MIN_DIGITS_TEXT
            )
        };
        let sql = format!(
            "SELECT _loc, {v} FROM {rel} AS x WHERE {v} IS NOT NULL AND strlen({v}) <= {MAX_FIELD_BYTES} AND {filter}"
        );
        let mut stmt = conn.prepare(&sql)?;
        let mut found: BTreeMap<Identifier, (u64, Vec<u64>)> = BTreeMap::new();
        for batch in stmt.stream_arrow([])? {
            let batch = batch?;
            let Some(locs) = batch.column(0).as_primitive_opt::<Int64Type>() else {
                continue;
            };
            let values = batch.column(1);
            for i in 0..batch.num_rows() {
                let Some(text) = string_at(values.as_ref(), i) else {
                    continue;
                };
                let hits = if numeric {
                    identifiers::scan_number(text)
                } else {
                    identifiers::scan_text(text)
                };
                for id in hits.iter() {
                    let e = found.entry(id).or_default();
                    e.0 += 1;
                    if e.1.len() < crate::validate::MAX_LISTED.min(10) {
                        e.1.push(u64::try_from(locs.value(i)).unwrap_or(0));
                    }
                }
            }
        }
        for (id, (total, rows)) in found {
            let (rule, message) = identifier_rule(id);
            let examples = rows
                .into_iter()
                .map(|r| {
                    finding(
                        st.table,
                        &st.source,
                        st.counting,
                        rule,
                        Some(r),
                        Some(c.name.to_string()),
                        message.to_string(),
                    )
                })
                .collect();
            report.add_counted(rule, total, examples);
        }
    }
    Ok(())
}

/// The string at row `i` of an Arrow string column of any layout.
fn string_at(a: &dyn Array, i: usize) -> Option<&str> {
    if a.is_null(i) {
        return None;
    }
    match a.data_type() {
        DataType::Utf8 => Some(a.as_string::<i32>().value(i)),
        DataType::LargeUtf8 => Some(a.as_string::<i64>().value(i)),
        DataType::Utf8View => Some(a.as_string_view().value(i)),
        _ => None,
    }
}

/// Creates the typed staging table of a staged source (empty when absent): `_loc`, then the
/// table's columns in storage order, `release_id` set to `release_id` for case tables.
pub fn create_typed(conn: &Connection, st: &Staged, release_id: &str) -> duckdb::Result<()> {
    let t = st.table;
    let name = staged_name(t);
    conn.execute_batch(&format!("DROP TABLE IF EXISTS temp.{name}"))?;
    let Some(raw) = &st.raw else {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|c| format!("{} {}", ident(c.name), c.ty.sql()))
            .collect();
        return conn.execute_batch(&format!(
            "CREATE TEMP TABLE {name} (_loc BIGINT, {})",
            cols.join(", ")
        ));
    };
    let mut select = vec![format!("rowid + {} AS _loc", st.row_offset)];
    for c in t.columns {
        let q = ident(c.name);
        let expr = if st.columns.contains(&c.name) {
            typed_expr(c.ty, &q)
        } else if c.name == schema::RELEASE_ID {
            lit(release_id)
        } else if let Some(d) = default_of(t, c.name) {
            d.to_string()
        } else {
            "NULL".to_string()
        };
        select.push(format!("CAST({expr} AS {}) AS {q}", c.ty.sql()));
    }
    conn.execute_batch(&format!(
        "CREATE TEMP TABLE {name} AS SELECT {} FROM temp.{raw}",
        select.join(", ")
    ))
}

/// Drops every staging table of this import.
pub fn drop_staging(conn: &Connection) {
    for t in importable_tables() {
        let _ = conn.execute_batch(&format!(
            "DROP TABLE IF EXISTS temp.{}; DROP TABLE IF EXISTS temp.{}",
            raw_name(t),
            staged_name(t)
        ));
    }
}

/// The release id of the staged `data_release` (its first row), if any.
pub fn staged_release_id(conn: &Connection, st: &Staged) -> duckdb::Result<Option<String>> {
    let Some(raw) = &st.raw else { return Ok(None) };
    if !st.columns.contains(&schema::RELEASE_ID) {
        return Ok(None);
    }
    let mut stmt = conn.prepare(&format!(
        "SELECT NULLIF(trim(release_id), '') FROM temp.{raw} ORDER BY rowid LIMIT 1"
    ))?;
    let mut rows = stmt.query([])?;
    match rows.next()? {
        Some(r) => r.get(0),
        None => Ok(None),
    }
}

/// Rows of a required table: none is an `EMPTY_FILE` finding.
pub fn check_required_rows(st: &Staged, report: &mut ValidationReport) {
    if st.raw.is_some() && st.rows == 0 && REQUIRED_TABLES.contains(&st.table.name) {
        report.add(finding(
            st.table,
            &st.source,
            st.counting,
            RuleId::EmptyFile,
            None,
            None,
            format!(
                "has no data rows, but the {} table is required: supply its rows",
                st.table.name
            ),
        ));
    }
}
