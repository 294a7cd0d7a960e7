//! An outcome's analysis dataset read from DuckDB into columns (the shape every outcome
//! statement selects: key columns, covariates, value columns).

use duckdb::Connection;
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Float64Type};
use duckdb::types::Value;
use models::design::CovariateColumn as DesignColumn;
use studies::compile::{CovariateColumn, KEY_COLUMNS, Param, Params, Statement, VALUE_COLUMNS};
use studies::outcomes::Outcome;

/// The values bound to a statement's `$n` placeholders.
pub fn bind(params: &Params) -> Vec<Value> {
    params
        .values
        .iter()
        .map(|p| match p {
            Param::Text(t) => Value::Text(t.clone()),
            Param::Int(n) => Value::BigInt(*n),
            Param::Float(x) => Value::Double(*x),
        })
        .collect()
}

/// One outcome's dataset, column by column, in the statement's row order.
#[derive(Debug, Clone, Default)]
pub struct OutcomeData {
    pub episode: Vec<String>,
    pub child: Vec<String>,
    pub family: Vec<Option<String>>,
    pub centre: Vec<String>,
    pub group: Vec<String>,
    /// Covariates by protocol name.
    pub covariates: Vec<(String, DesignColumn)>,
    pub t_start: Vec<Option<f64>>,
    pub t_stop: Vec<Option<f64>>,
    pub status: Vec<Option<i64>>,
    pub treated: Vec<Option<i64>>,
    pub complete_window: Vec<Option<bool>>,
    pub baseline: Vec<Option<f64>>,
    pub followup: Vec<Option<f64>>,
    pub improved: Vec<Option<i64>>,
    pub recovered: Vec<Option<i64>>,
    pub sustained: Vec<Option<i64>>,
    pub events: Vec<Option<i64>>,
    pub exposure_days: Vec<Option<f64>>,
}

/// A column as optional texts: strings as they are, numbers as `number` prints them.
fn texts(a: &ArrayRef) -> anyhow::Result<Vec<Option<String>>> {
    if matches!(a.data_type(), DataType::LargeUtf8 | DataType::Utf8View) {
        return texts(&cast(a, &DataType::Utf8)?);
    }
    if let Some(s) = a.as_string_opt::<i32>() {
        return Ok(s.iter().map(|v| v.map(str::to_string)).collect());
    }
    Ok(numbers(a)?
        .into_iter()
        .map(|v| v.map(|x| x.to_string()))
        .collect())
}

/// A column as optional reals (booleans as 0/1, NULL-typed columns as all missing).
fn numbers(a: &ArrayRef) -> anyhow::Result<Vec<Option<f64>>> {
    let a = match a.data_type() {
        DataType::Boolean => cast(&cast(a, &DataType::Int64)?, &DataType::Float64)?,
        _ => cast(a, &DataType::Float64)?,
    };
    Ok(a.as_primitive::<Float64Type>().iter().collect())
}

fn integers(a: &ArrayRef) -> anyhow::Result<Vec<Option<i64>>> {
    Ok(numbers(a)?
        .into_iter()
        .map(|v| v.map(|x| x as i64))
        .collect())
}

fn booleans(a: &ArrayRef) -> anyhow::Result<Vec<Option<bool>>> {
    Ok(match a.as_boolean_opt() {
        Some(b) => b.iter().collect(),
        None => vec![None; a.len()],
    })
}

/// Runs an outcome statement and reads its rows, a column at a time (Arrow record batches).
pub fn fetch(
    conn: &Connection,
    s: &Statement,
    covariates: &[CovariateColumn],
) -> anyhow::Result<OutcomeData> {
    let mut stmt = conn.prepare(&s.sql)?;
    let batches = stmt.query_arrow(duckdb::params_from_iter(bind(&s.params)))?;
    let mut d = OutcomeData::default();
    let nk = KEY_COLUMNS.len();
    let nc = covariates.len();
    let mut cov_num: Vec<Vec<f64>> = vec![Vec::new(); nc];
    let mut cov_cat: Vec<Vec<Option<String>>> = vec![Vec::new(); nc];
    for batch in batches {
        anyhow::ensure!(
            batch.num_columns() == nk + nc + VALUE_COLUMNS.len(),
            "an outcome statement returned {} columns, not {}",
            batch.num_columns(),
            nk + nc + VALUE_COLUMNS.len()
        );
        let col = |i: usize| batch.column(i);
        let required = |v: Vec<Option<String>>| v.into_iter().map(Option::unwrap_or_default);
        d.episode.extend(required(texts(col(0))?));
        d.child.extend(required(texts(col(1))?));
        d.family.extend(texts(col(2))?);
        d.centre.extend(required(texts(col(3))?));
        d.group.extend(
            texts(col(4))?
                .into_iter()
                .map(|g| g.unwrap_or_else(|| "unknown".into())),
        );
        for (j, c) in covariates.iter().enumerate() {
            if c.categorical {
                cov_cat[j].extend(texts(col(nk + j))?);
            } else {
                cov_num[j].extend(
                    numbers(col(nk + j))?
                        .into_iter()
                        .map(|v| v.unwrap_or(f64::NAN)),
                );
            }
        }
        let b = nk + nc;
        d.t_start.extend(numbers(col(b))?);
        d.t_stop.extend(numbers(col(b + 1))?);
        d.status.extend(integers(col(b + 2))?);
        d.treated.extend(integers(col(b + 3))?);
        d.complete_window.extend(booleans(col(b + 4))?);
        d.baseline.extend(numbers(col(b + 5))?);
        d.followup.extend(numbers(col(b + 6))?);
        d.improved.extend(integers(col(b + 7))?);
        d.recovered.extend(integers(col(b + 8))?);
        d.sustained.extend(integers(col(b + 9))?);
        d.events.extend(integers(col(b + 10))?);
        d.exposure_days.extend(numbers(col(b + 11))?);
    }
    debug_assert_eq!(VALUE_COLUMNS.len(), 12);
    d.covariates = covariates
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let col = if c.categorical {
                DesignColumn::Categorical(std::mem::take(&mut cov_cat[j]))
            } else {
                DesignColumn::Numeric(std::mem::take(&mut cov_num[j]))
            };
            (c.name.clone(), col)
        })
        .collect();
    Ok(d)
}

impl OutcomeData {
    pub fn len(&self) -> usize {
        self.episode.len()
    }

    pub fn is_empty(&self) -> bool {
        self.episode.is_empty()
    }

    /// One row in words (`study why`).
    pub fn describe_row(&self, i: usize, o: &Outcome) -> String {
        let status = |s: Option<i64>| match s {
            Some(0) => "censored".to_string(),
            Some(k) => o
                .causes
                .get(k as usize - 1)
                .map_or_else(|| format!("status {k}"), |c| c.to_lowercase()),
            None => String::new(),
        };
        let mut parts = vec![
            format!("episode {}", self.episode[i]),
            format!("group {}", self.group[i]),
        ];
        if let (Some(a), Some(b)) = (self.t_start[i], self.t_stop[i]) {
            parts.push(format!("({a}, {b}] days: {}", status(self.status[i])));
        }
        if let Some(t) = self.treated[i] {
            parts.push(format!("treated {t}"));
        }
        if let Some(w) = self.complete_window[i] {
            parts.push(format!("complete window {w}"));
        }
        if let Some(b) = self.baseline[i] {
            parts.push(format!("baseline {b}"));
        }
        if let Some(f) = self.followup[i] {
            parts.push(format!("follow-up {f}"));
        }
        for (name, v) in [
            ("improved", self.improved[i]),
            ("recovered", self.recovered[i]),
            ("sustained", self.sustained[i]),
            ("moves", self.events[i]),
        ] {
            if let Some(v) = v {
                parts.push(format!("{name} {v}"));
            }
        }
        if let Some(x) = self.exposure_days[i] {
            parts.push(format!("days in care {x}"));
        }
        parts.join(", ")
    }
}
