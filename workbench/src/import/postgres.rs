//! A release in a PostgreSQL schema: one table per schema table, named and shaped like the files
//! of a release folder. Rows are fetched as text (`col::text`), streamed with `sqlx` and appended
//! into the same raw staging tables the folder import uses; validation and the write are shared.
//!
//! The source is `postgres://user[:password]@host[:port]/database?schema=NAME` (`schema`
//! defaults to `public`; other parameters go to `sqlx`). Rows are numbered in key order
//! (`ORDER BY` the key columns as text, collation "C").

use std::str::FromStr;

use anyhow::Context;
use duckdb::Connection;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection as _, Row, ValueRef};
use studies::schema::{self, Table};

use super::stage::{self, MAX_FIELD_BYTES, REQUIRED_TABLES, Staged};
use crate::validate::{Finding, RowCounting, RuleId, ValidationReport, ident};

/// A parsed `--from` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgSource {
    /// The URL handed to sqlx (without `schema=`).
    pub url: String,
    pub schema: String,
    /// The URL as shown in messages (password masked).
    pub shown: String,
}

/// Parses `postgres://...?schema=NAME`.
pub fn parse_url(url: &str) -> anyhow::Result<PgSource> {
    anyhow::ensure!(
        url.starts_with("postgres://") || url.starts_with("postgresql://"),
        "--from takes a PostgreSQL URL: postgres://user@host:port/database?schema=NAME"
    );
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut schema = None;
    let mut rest = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        match part.split_once('=') {
            Some(("schema", v)) => schema = Some(v.to_string()),
            _ => rest.push(part),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    let schema = schema.unwrap_or_else(|| "public".to_string());
    anyhow::ensure!(!schema.is_empty(), "--from: schema= is empty");
    Ok(PgSource {
        shown: mask_password(&url),
        url,
        schema,
    })
}

fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

fn pg_finding(
    t: &str,
    source: &str,
    rule: RuleId,
    row: Option<u64>,
    column: Option<&str>,
    message: String,
) -> Finding {
    Finding {
        rule,
        table: t.to_string(),
        source: source.to_string(),
        row,
        counting: RowCounting::KeyOrder,
        column: column.map(str::to_string),
        message,
    }
}

/// Stages every table of the schema. Structural problems (missing, unknown tables, bad columns,
/// bad bytes, overlong values) go to `report`.
pub fn stage(
    conn: &Connection,
    src: &PgSource,
    report: &mut ValidationReport,
) -> anyhow::Result<Vec<Staged>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime for PostgreSQL")?;
    rt.block_on(stage_async(conn, src, report))
}

async fn stage_async(
    conn: &Connection,
    src: &PgSource,
    report: &mut ValidationReport,
) -> anyhow::Result<Vec<Staged>> {
    let opts = PgConnectOptions::from_str(&src.url)
        .with_context(|| format!("--from {}: not a valid PostgreSQL URL", src.shown))?;
    let mut pg = opts.connect().await.with_context(|| {
        format!(
            "connecting to PostgreSQL at {} (is the server running and reachable?)",
            src.shown
        )
    })?;
    sqlx::query("SET DateStyle = ISO").execute(&mut pg).await?;
    let exists: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
        .bind(&src.schema)
        .fetch_one(&mut pg)
        .await?
        .try_get(0)?;
    anyhow::ensure!(
        exists,
        "PostgreSQL schema `{}` does not exist in {}",
        src.schema,
        src.shown
    );
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1",
    )
    .bind(&src.schema)
    .fetch_all(&mut pg)
    .await?
    .iter()
    .map(|r| r.try_get::<String, _>(0))
    .collect::<Result<_, _>>()?;
    let label = |t: &str| format!("postgres {}.{t}", src.schema);
    let mut present: Vec<&'static Table> = Vec::new();
    for name in &tables {
        match stage::importable_tables().find(|t| t.name == name.to_lowercase()) {
            Some(t) => present.push(t),
            None => report.add(pg_finding(
                name,
                &label(name),
                RuleId::UnknownFile,
                None,
                None,
                "is not a table of a data release: drop it from the schema or import from a schema that holds only the release's tables".into(),
            )),
        }
    }
    for required in REQUIRED_TABLES {
        if !present.iter().any(|t| t.name == *required) {
            report.add(pg_finding(
                required,
                &format!("postgres schema {}", src.schema),
                RuleId::MissingFile,
                None,
                None,
                format!("has no table {required}: the {required} table is required"),
            ));
        }
    }
    let mut staged = Vec::new();
    for t in present {
        let source = label(t.name);
        let pg_table = tables
            .iter()
            .find(|n| n.to_lowercase() == t.name)
            .cloned()
            .unwrap_or_else(|| t.name.to_string());
        let names: Vec<String> = sqlx::query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position",
        )
        .bind(&src.schema)
        .bind(&pg_table)
        .fetch_all(&mut pg)
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<_, _>>()?;
        let Some(mapped) = stage::map_columns(t, &names, &source, RowCounting::KeyOrder, report)
        else {
            continue;
        };
        if let Some(st) = copy_table(
            conn, &mut pg, src, t, &pg_table, &names, &mapped, &source, report,
        )
        .await?
        {
            staged.push(st);
        }
    }
    pg.close().await.ok();
    Ok(staged)
}

#[allow(clippy::too_many_arguments)]
async fn copy_table(
    conn: &Connection,
    pg: &mut PgConnection,
    src: &PgSource,
    t: &'static Table,
    pg_table: &str,
    names: &[String],
    mapped: &[&'static str],
    source: &str,
    report: &mut ValidationReport,
) -> anyhow::Result<Option<Staged>> {
    let raw = stage::raw_name(t);
    let cols: Vec<String> = mapped
        .iter()
        .map(|c| format!("{} VARCHAR", ident(c)))
        .collect();
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS temp.{raw}; CREATE TEMP TABLE {raw} ({})",
        cols.join(", ")
    ))?;
    let select: Vec<String> = names
        .iter()
        .map(|n| format!("{}::text", ident(n)))
        .collect();
    let order: Vec<String> = t
        .key
        .iter()
        .filter(|k| **k != schema::RELEASE_ID)
        .filter_map(|k| mapped.iter().position(|m| m == k))
        .map(|i| format!("{}::text COLLATE \"C\"", ident(&names[i])))
        .collect();
    let sql = format!(
        "SELECT {} FROM {}.{}{}",
        select.join(", "),
        ident(&src.schema),
        ident(pg_table),
        if order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", order.join(", "))
        }
    );
    let before = report.total();
    let mut rows_seen: u64 = 0;
    {
        let mut app = conn.appender_to_catalog_and_db(&raw, "temp", "main")?;
        let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *pg);
        let mut values: Vec<Option<String>> = Vec::with_capacity(names.len());
        while let Some(row) = rows.try_next().await? {
            rows_seen += 1;
            values.clear();
            for (i, column) in mapped.iter().enumerate() {
                let v = row.try_get_raw(i)?;
                if v.is_null() {
                    values.push(None);
                    continue;
                }
                let bytes = v.as_bytes().map_err(|e| anyhow::anyhow!("{source}: {e}"))?;
                if bytes.len() > MAX_FIELD_BYTES {
                    report.add(pg_finding(
                        t.name,
                        source,
                        RuleId::FieldTooLong,
                        Some(rows_seen),
                        Some(column),
                        format!(
                            "holds a value longer than {} KiB: free text and documents do not belong in a pseudonymised extract; shorten or drop it",
                            MAX_FIELD_BYTES / 1024
                        ),
                    ));
                    values.push(None);
                    continue;
                }
                match std::str::from_utf8(bytes) {
                    Ok(s) => values.push(Some(s.to_string())),
                    Err(_) => {
                        report.add(pg_finding(
                            t.name,
                            source,
                            RuleId::Encoding,
                            Some(rows_seen),
                            Some(column),
                            "holds bytes that are not UTF-8 (a SQL_ASCII database?): convert the data to UTF-8".into(),
                        ));
                        values.push(None);
                    }
                }
            }
            app.append_row(duckdb::appender_params_from_iter(values.iter()))?;
        }
        app.flush()?;
    }
    if report.total() > before {
        return Ok(None);
    }
    Ok(Some(Staged {
        table: t,
        source: source.to_string(),
        counting: RowCounting::KeyOrder,
        raw: Some(raw),
        columns: mapped.to_vec(),
        row_offset: 1,
        rows: rows_seen,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_schema_and_masks_passwords() {
        let s = parse_url("postgres://postgres@127.0.0.1:5432/test?schema=rel_1").unwrap();
        assert_eq!(s.schema, "rel_1");
        assert_eq!(s.url, "postgres://postgres@127.0.0.1:5432/test");
        let s = parse_url("postgres://u:secret@h/db?sslmode=disable&schema=x").unwrap();
        assert_eq!(s.url, "postgres://u:secret@h/db?sslmode=disable");
        assert_eq!(s.shown, "postgres://u:***@h/db?sslmode=disable");
        assert!(!s.shown.contains("secret"));
        assert_eq!(parse_url("postgres://h/db").unwrap().schema, "public");
        assert!(parse_url("mysql://h/db").is_err());
    }
}
