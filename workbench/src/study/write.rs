//! The results bundle on disk: `bundle.json`, the protocol as run, Parquet tables of the
//! attrition, curves and estimates, and (on request only) the row-level analysis datasets.
//! Every file is written in a fixed order from sorted data, so a rerun gives the same bytes.

use std::path::Path;

use anyhow::Context;
use duckdb::Connection;
use duckdb::types::Value;
use studies::bundle::{Bundle, Count};
use studies::compile::{Compiled, VALUE_COLUMNS};

use super::data::bind;
use crate::export::sql_literal;

fn count(c: Count) -> Value {
    match c {
        Count::Shown(v) => Value::BigInt(v as i64),
        _ => Value::Null,
    }
}

fn shown(c: Count) -> Value {
    Value::Text(super::run::show(c))
}

fn opt(x: Option<f64>) -> Value {
    x.filter(|v| v.is_finite())
        .map_or(Value::Null, Value::Double)
}

/// Writes `rows` (of `columns`, each `name TYPE`) as a Parquet file through a temporary table.
fn parquet(
    conn: &Connection,
    path: &Path,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    conn.execute("DROP TABLE IF EXISTS bundle_out", [])?;
    conn.execute(
        &format!("CREATE TEMP TABLE bundle_out ({})", columns.join(", ")),
        [],
    )?;
    {
        let mut app = conn.appender("bundle_out")?;
        for r in rows {
            app.append_row(duckdb::appender_params_from_iter(r))?;
        }
        app.flush()?;
    }
    conn.execute(
        &format!(
            "COPY (SELECT * FROM bundle_out) TO {} (FORMAT PARQUET)",
            sql_literal(&path.display().to_string())
        ),
        [],
    )
    .with_context(|| format!("writing {}", path.display()))?;
    conn.execute("DROP TABLE bundle_out", [])?;
    Ok(())
}

/// Writes bundle `b` into `out` (created if needed).
pub fn bundle_dir(
    conn: &Connection,
    b: &Bundle,
    compiled: &Compiled,
    protocol_text: &[u8],
    out: &Path,
    row_level: bool,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let json = serde_json::to_string_pretty(b)?;
    std::fs::write(out.join("bundle.json"), json + "\n")?;
    std::fs::write(out.join("protocol.toml"), protocol_text)?;

    let attrition = b
        .attrition
        .iter()
        .map(|a| {
            vec![
                Value::Int(a.step as i32),
                Value::Text(a.rule.clone()),
                Value::Boolean(a.exclude),
                count(a.children),
                shown(a.children),
                count(a.children_removed),
                shown(a.children_removed),
            ]
        })
        .collect();
    parquet(
        conn,
        &out.join("attrition.parquet"),
        &[
            "step INTEGER",
            "rule VARCHAR",
            "exclude BOOLEAN",
            "children BIGINT",
            "children_shown VARCHAR",
            "children_removed BIGINT",
            "children_removed_shown VARCHAR",
        ],
        attrition,
    )?;
    let mut curves = Vec::new();
    let mut estimates = Vec::new();
    let mut cox = Vec::new();
    for o in &b.outcomes {
        for c in &o.curves {
            for s in &c.steps {
                curves.push(vec![
                    Value::Text(o.outcome.id.clone()),
                    Value::Text(c.group.clone()),
                    Value::Text(c.cause.clone()),
                    Value::Text(c.estimator.clone()),
                    Value::Double(s.time),
                    Value::Double(s.estimate),
                    opt(s.lower),
                    opt(s.upper),
                    count(s.n_risk),
                    count(s.n_event),
                    count(s.n_censor),
                ]);
            }
        }
        for e in &o.at_times {
            estimates.push(vec![
                Value::Text(o.outcome.id.clone()),
                Value::Text(e.group.clone()),
                Value::Text(e.cause.clone()),
                Value::Double(e.time),
                opt(e.estimate),
                opt(e.lower),
                opt(e.upper),
            ]);
        }
        for (j, c) in o.cox.iter().enumerate() {
            for t in &c.terms {
                cox.push(vec![
                    Value::Text(o.outcome.id.clone()),
                    Value::Int(j as i32 + 1),
                    Value::Text(t.term.clone()),
                    opt(t.coef),
                    opt(t.se),
                    opt(t.hazard_ratio),
                    opt(t.lower),
                    opt(t.upper),
                    opt(t.p_value),
                ]);
            }
        }
    }
    parquet(
        conn,
        &out.join("curves.parquet"),
        &[
            "outcome VARCHAR",
            "grp VARCHAR",
            "cause VARCHAR",
            "estimator VARCHAR",
            "time DOUBLE",
            "estimate DOUBLE",
            "lower DOUBLE",
            "upper DOUBLE",
            "n_risk BIGINT",
            "n_event BIGINT",
            "n_censor BIGINT",
        ],
        curves,
    )?;
    parquet(
        conn,
        &out.join("estimates.parquet"),
        &[
            "outcome VARCHAR",
            "grp VARCHAR",
            "cause VARCHAR",
            "time DOUBLE",
            "estimate DOUBLE",
            "lower DOUBLE",
            "upper DOUBLE",
        ],
        estimates,
    )?;
    parquet(
        conn,
        &out.join("cox.parquet"),
        &[
            "outcome VARCHAR",
            "model INTEGER",
            "term VARCHAR",
            "coef DOUBLE",
            "se DOUBLE",
            "hazard_ratio DOUBLE",
            "lower DOUBLE",
            "upper DOUBLE",
            "p_value DOUBLE",
        ],
        cox,
    )?;
    if row_level {
        let dir = out.join("datasets");
        std::fs::create_dir_all(&dir)?;
        // Who each row is, from the cohort, then the outcome's columns.
        let who: String = ["episode_id", "child_pid", "family_pid", "centre_id", "grp"]
            .into_iter()
            .map(String::from)
            .chain(compiled.covariates.iter().map(|c| c.column.clone()))
            .map(|c| format!("c.{c}, "))
            .collect();
        let values: Vec<String> = VALUE_COLUMNS.iter().map(|v| format!("d.{v}")).collect();
        for o in &compiled.outcomes {
            conn.execute(
                &format!(
                    "CREATE OR REPLACE TEMP TABLE dataset_out AS
SELECT {who}{} FROM ({}) d JOIN study_cohort c ON c.cohort_row = d.cohort_row
 ORDER BY d.cohort_row, d.t_start",
                    values.join(", "),
                    o.statement.sql
                ),
                duckdb::params_from_iter(bind(&o.statement.params)),
            )?;
            let path = dir.join(format!("{}.parquet", o.outcome.id.replace('.', "_")));
            conn.execute(
                &format!(
                    "COPY (SELECT * FROM dataset_out) TO {} (FORMAT PARQUET)",
                    sql_literal(&path.display().to_string())
                ),
                [],
            )?;
            conn.execute("DROP TABLE dataset_out", [])?;
        }
    }
    Ok(())
}
