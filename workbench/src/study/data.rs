//! An outcome's analysis dataset read from DuckDB into columns: who each cohort row is (read
//! once), and each outcome's rows (`cohort_row` and the value columns every outcome statement
//! selects).

use std::sync::Arc;

use duckdb::Connection;
use duckdb::arrow::array::{Array, ArrayRef, AsArray};
use duckdb::arrow::compute::cast;
use duckdb::arrow::datatypes::{DataType, Float64Type, Int64Type};
use duckdb::types::Value;
use models::design::CovariateColumn as DesignColumn;
use studies::compile::{Compiled, KEY_COLUMNS, Param, Params, Statement, VALUE_COLUMNS};
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

/// Who each cohort row is (`Compiled::cohort_rows`): read once per run and shared by every
/// outcome's dataset, which refers to it by row.
#[derive(Debug, Clone, Default)]
pub struct CohortRows {
    pub episode: Vec<String>,
    pub child: Vec<String>,
    pub centre: Vec<String>,
    pub group: Vec<String>,
    /// Covariates by protocol name, one value per cohort row.
    pub covariates: Vec<(String, DesignColumn)>,
}

/// One outcome's dataset, column by column, in the statement's row order.
#[derive(Debug, Clone, Default)]
pub struct OutcomeData {
    pub cohort: Arc<CohortRows>,
    /// The cohort row (index into `cohort`) of each dataset row.
    pub row: Vec<usize>,
    /// Covariates by protocol name, one value per dataset row.
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

/// A column as optional integers (booleans as 0/1, NULL-typed columns as all missing).
fn integers(a: &ArrayRef) -> anyhow::Result<Vec<Option<i64>>> {
    let a = cast(a, &DataType::Int64)?;
    Ok(a.as_primitive::<Int64Type>().iter().collect())
}

fn booleans(a: &ArrayRef) -> anyhow::Result<Vec<Option<bool>>> {
    Ok(match a.as_boolean_opt() {
        Some(b) => b.iter().collect(),
        None => vec![None; a.len()],
    })
}

/// Reads who each cohort row is (after `PreparedStudy::build_cohort`), a column at a time, for
/// `fetch_outcome`.
pub fn fetch_cohort(conn: &Connection, compiled: &Compiled) -> anyhow::Result<Arc<CohortRows>> {
    let s = &compiled.cohort_rows;
    let covariates = &compiled.covariates;
    let mut stmt = conn.prepare(&s.sql)?;
    let batches = stmt.query_arrow(duckdb::params_from_iter(bind(&s.params)))?;
    let mut c = CohortRows::default();
    let nk = 1 + KEY_COLUMNS.len();
    let nc = covariates.len();
    let mut cov_num: Vec<Vec<f64>> = vec![Vec::new(); nc];
    let mut cov_cat: Vec<Vec<Option<String>>> = vec![Vec::new(); nc];
    let mut expected_row = 1;
    for batch in batches {
        anyhow::ensure!(
            batch.num_columns() == nk + nc,
            "the cohort rows statement returned {} columns, not {}",
            batch.num_columns(),
            nk + nc
        );
        let col = |i: usize| batch.column(i);
        // cohort_row numbers the rows 1..=n in order: a dataset's cohort_row k is index k - 1.
        for r in integers(col(0))? {
            anyhow::ensure!(
                r == Some(expected_row),
                "study_cohort's cohort_row is not 1..n in order (found {r:?} at {expected_row})"
            );
            expected_row += 1;
        }
        let required = |v: Vec<Option<String>>| v.into_iter().map(Option::unwrap_or_default);
        c.episode.extend(required(texts(col(1))?));
        c.child.extend(required(texts(col(2))?));
        c.centre.extend(required(texts(col(3))?));
        c.group.extend(
            texts(col(4))?
                .into_iter()
                .map(|g| g.unwrap_or_else(|| "unknown".into())),
        );
        for (j, cov) in covariates.iter().enumerate() {
            if cov.categorical {
                cov_cat[j].extend(texts(col(nk + j))?);
            } else {
                cov_num[j].extend(
                    numbers(col(nk + j))?
                        .into_iter()
                        .map(|v| v.unwrap_or(f64::NAN)),
                );
            }
        }
    }
    c.covariates = covariates
        .iter()
        .enumerate()
        .map(|(j, cov)| {
            let col = if cov.categorical {
                DesignColumn::Categorical(std::mem::take(&mut cov_cat[j]))
            } else {
                DesignColumn::Numeric(std::mem::take(&mut cov_num[j]))
            };
            (cov.name.clone(), col)
        })
        .collect();
    Ok(Arc::new(c))
}

/// Runs an outcome statement and reads its rows, a column at a time (Arrow record batches);
/// `cohort` (see [`fetch_cohort`]) tells who each row is.
pub fn fetch(
    conn: &Connection,
    s: &Statement,
    cohort: &Arc<CohortRows>,
) -> anyhow::Result<OutcomeData> {
    let mut stmt = conn.prepare(&s.sql)?;
    let batches = stmt.query_arrow(duckdb::params_from_iter(bind(&s.params)))?;
    let mut d = OutcomeData {
        cohort: Arc::clone(cohort),
        ..OutcomeData::default()
    };
    let n = cohort.episode.len();
    for batch in batches {
        anyhow::ensure!(
            batch.num_columns() == 1 + VALUE_COLUMNS.len(),
            "an outcome statement returned {} columns, not {}",
            batch.num_columns(),
            1 + VALUE_COLUMNS.len()
        );
        let col = |i: usize| batch.column(i);
        for r in integers(col(0))? {
            match r {
                Some(k) if k >= 1 && (k as usize) <= n => d.row.push(k as usize - 1),
                _ => anyhow::bail!("an outcome row has cohort_row {r:?}, outside 1..={n}"),
            }
        }
        d.t_start.extend(numbers(col(1))?);
        d.t_stop.extend(numbers(col(2))?);
        d.status.extend(integers(col(3))?);
        d.treated.extend(integers(col(4))?);
        d.complete_window.extend(booleans(col(5))?);
        d.baseline.extend(numbers(col(6))?);
        d.followup.extend(numbers(col(7))?);
        d.improved.extend(integers(col(8))?);
        d.recovered.extend(integers(col(9))?);
        d.sustained.extend(integers(col(10))?);
        d.events.extend(integers(col(11))?);
        d.exposure_days.extend(numbers(col(12))?);
    }
    debug_assert_eq!(VALUE_COLUMNS.len(), 12);
    d.covariates = cohort
        .covariates
        .iter()
        .map(|(name, col)| {
            let col = match col {
                DesignColumn::Numeric(v) => {
                    DesignColumn::Numeric(d.row.iter().map(|&r| v[r]).collect())
                }
                DesignColumn::Categorical(v) => {
                    DesignColumn::Categorical(d.row.iter().map(|&r| v[r].clone()).collect())
                }
            };
            (name.clone(), col)
        })
        .collect();
    Ok(d)
}

impl OutcomeData {
    pub fn len(&self) -> usize {
        self.row.len()
    }

    pub fn is_empty(&self) -> bool {
        self.row.is_empty()
    }

    /// The entry episode of row `i`.
    pub fn episode(&self, i: usize) -> &str {
        &self.cohort.episode[self.row[i]]
    }

    /// The child (pseudonym) of row `i`.
    pub fn child(&self, i: usize) -> &str {
        &self.cohort.child[self.row[i]]
    }

    /// The centre of row `i`'s entry episode.
    pub fn centre(&self, i: usize) -> &str {
        &self.cohort.centre[self.row[i]]
    }

    /// The comparison group of row `i`.
    pub fn group(&self, i: usize) -> &str {
        &self.cohort.group[self.row[i]]
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
            format!("episode {}", self.episode(i)),
            format!("group {}", self.group(i)),
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
