//! An outcome's analysis dataset read from DuckDB into columns (the shape every outcome
//! statement selects: key columns, covariates, value columns).

use duckdb::Connection;
use duckdb::types::{Value, ValueRef};
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

fn text(v: ValueRef) -> Option<String> {
    match v {
        ValueRef::Null => None,
        ValueRef::Text(b) => Some(String::from_utf8_lossy(b).into_owned()),
        other => number(other).map(|x| x.to_string()),
    }
}

fn number(v: ValueRef) -> Option<f64> {
    Some(match v {
        ValueRef::TinyInt(x) => x as f64,
        ValueRef::SmallInt(x) => x as f64,
        ValueRef::Int(x) => x as f64,
        ValueRef::BigInt(x) => x as f64,
        ValueRef::HugeInt(x) => x as f64,
        ValueRef::UTinyInt(x) => x as f64,
        ValueRef::USmallInt(x) => x as f64,
        ValueRef::UInt(x) => x as f64,
        ValueRef::UBigInt(x) => x as f64,
        ValueRef::Float(x) => x as f64,
        ValueRef::Double(x) => x,
        ValueRef::Decimal(d) => d.to_string().parse().ok()?,
        ValueRef::Boolean(b) => f64::from(u8::from(b)),
        _ => return None,
    })
}

fn integer(v: ValueRef) -> Option<i64> {
    number(v).map(|x| x as i64)
}

/// Runs an outcome statement and reads its rows.
pub fn fetch(
    conn: &Connection,
    s: &Statement,
    covariates: &[CovariateColumn],
) -> anyhow::Result<OutcomeData> {
    let mut stmt = conn.prepare(&s.sql)?;
    let mut rows = stmt.query(duckdb::params_from_iter(bind(&s.params)))?;
    let mut d = OutcomeData::default();
    let nk = KEY_COLUMNS.len();
    let nc = covariates.len();
    let mut cov_num: Vec<Vec<f64>> = vec![Vec::new(); nc];
    let mut cov_cat: Vec<Vec<Option<String>>> = vec![Vec::new(); nc];
    while let Some(row) = rows.next()? {
        let get = |i: usize| row.get_ref(i);
        d.episode.push(text(get(0)?).unwrap_or_default());
        d.child.push(text(get(1)?).unwrap_or_default());
        d.family.push(text(get(2)?));
        d.centre.push(text(get(3)?).unwrap_or_default());
        d.group
            .push(text(get(4)?).unwrap_or_else(|| "unknown".into()));
        for (j, c) in covariates.iter().enumerate() {
            let v = get(nk + j)?;
            if c.categorical {
                cov_cat[j].push(text(v));
            } else {
                cov_num[j].push(number(v).unwrap_or(f64::NAN));
            }
        }
        let b = nk + nc;
        d.t_start.push(number(get(b)?));
        d.t_stop.push(number(get(b + 1)?));
        d.status.push(integer(get(b + 2)?));
        d.treated.push(integer(get(b + 3)?));
        d.complete_window.push(match get(b + 4)? {
            ValueRef::Boolean(x) => Some(x),
            _ => None,
        });
        d.baseline.push(number(get(b + 5)?));
        d.followup.push(number(get(b + 6)?));
        d.improved.push(integer(get(b + 7)?));
        d.recovered.push(integer(get(b + 8)?));
        d.sustained.push(integer(get(b + 9)?));
        d.events.push(integer(get(b + 10)?));
        d.exposure_days.push(number(get(b + 11)?));
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
