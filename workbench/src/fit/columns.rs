//! The analysis columns of `workbench fit`: time, start, event or cause, group, strata, weights,
//! cluster, subject and covariates read from the dataset and checked row by row (each error names
//! the column and the row), and the rows with a missing value in any of them left out and counted
//! per column.

use std::collections::BTreeMap;

use models::design::{CovariateColumn, DesignMatrix, TermKind, TermSpec, level_codes};
use serde::Serialize;

use super::FitError;
use super::dataset::{Dataset, DatasetError};

/// How the event column is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// 0 = censored, 1 = event (also `false`/`true`).
    Binary,
    /// 0 = censored, 1…k or cause names for the competing causes.
    Causes,
}

/// The columns a model uses, by name.
#[derive(Debug, Clone, Default)]
pub struct ColumnNames<'a> {
    pub time: &'a str,
    pub start: Option<&'a str>,
    pub event: &'a str,
    pub group: Option<&'a str>,
    pub strata: &'a [String],
    pub weights: Option<&'a str>,
    pub cluster: Option<&'a str>,
    pub id: Option<&'a str>,
    pub covariates: Option<&'a [TermSpec]>,
    /// Covariates of the propensity model (`--ps-covariates`).
    pub ps_covariates: Option<&'a [TermSpec]>,
}

/// Levels of a grouping (group, strata or both crossed), coded 0.. in sorted order.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// Code of each used row.
    pub codes: Vec<u32>,
    /// Label of each code, `column=level` (comma-separated when crossed).
    pub labels: Vec<String>,
}

impl Grouping {
    /// The label of a code.
    pub fn label(&self, code: u32) -> String {
        self.labels
            .get(code as usize)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }
}

/// Rows left out of a column for a missing value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingCount {
    pub column: String,
    pub rows: usize,
}

/// The event column of the used rows.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Event(Vec<bool>),
    /// Cause codes (0 = censored, k ≥ 1 = cause k) and the label of each cause k at `labels[k-1]`.
    Causes {
        codes: Vec<u32>,
        labels: Vec<String>,
    },
}

/// The analysis columns restricted to the used rows.
#[derive(Debug)]
pub struct Analysis {
    /// Rows read from the source.
    pub n_read: usize,
    /// 0-based source rows that are used (no missing value in a model column).
    pub kept: Vec<usize>,
    /// Per column, the rows with a missing value (only columns with any).
    pub missing: Vec<MissingCount>,
    pub time: Vec<f64>,
    pub start: Option<Vec<f64>>,
    pub status: Status,
    /// `--group` alone.
    pub group: Option<Grouping>,
    /// `--strata` columns crossed.
    pub strata: Option<Grouping>,
    pub weights: Option<Vec<f64>>,
    pub cluster: Option<Vec<u64>>,
    pub id: Option<Vec<u32>>,
    /// The design matrix when covariates are given (its rows are `kept`).
    pub design: Option<DesignMatrix>,
    /// The propensity model's design matrix (`--ps-covariates`; its rows are `kept`).
    pub ps_design: Option<DesignMatrix>,
    /// Level codes and labels of group and strata per source row, for crossing.
    group_parts: Vec<LevelColumn>,
}

#[derive(Debug, Clone)]
struct LevelColumn {
    name: String,
    codes: Vec<Option<u32>>,
    levels: Vec<String>,
}

impl Analysis {
    /// Rows used.
    pub fn n_used(&self) -> usize {
        self.kept.len()
    }

    /// Rows left out for missing values.
    pub fn n_left_out(&self) -> usize {
        self.n_read - self.kept.len()
    }

    /// `--group` and `--strata` crossed (one curve per combination), or `None` without either.
    pub fn crossed_groups(&self) -> Option<Grouping> {
        if self.group_parts.is_empty() {
            None
        } else {
            Some(cross(&self.group_parts, &self.kept))
        }
    }

    /// The event indicators (binary status) of the used rows.
    pub fn events(&self) -> Result<&[bool], FitError> {
        match &self.status {
            Status::Event(e) => Ok(e),
            Status::Causes { .. } => Err(FitError::Usage(
                "this model needs a 0/1 event column".into(),
            )),
        }
    }

    /// The 1-based source row of a used row (for messages).
    pub fn source_row(&self, used_row: usize) -> Option<usize> {
        self.kept.get(used_row).map(|&i| i + 1)
    }

    /// The analysis restricted to some of its used rows (`rows`: ascending indices into the
    /// used rows), e.g. the matched sample. Row accounting (`n_read`, `missing`) is kept.
    pub fn subset(&self, rows: &[usize]) -> Analysis {
        let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let grouping = |g: &Grouping| Grouping {
            codes: rows.iter().map(|&i| g.codes[i]).collect(),
            labels: g.labels.clone(),
        };
        let design = |d: &DesignMatrix| DesignMatrix {
            x: d.x.select(models::ndarray::Axis(0), rows),
            column_names: d.column_names.clone(),
            terms: d.terms.clone(),
            kept_rows: rows.iter().map(|&i| d.kept_rows[i]).collect(),
            n_input_rows: d.n_input_rows,
            n_dropped: d.n_dropped,
        };
        Analysis {
            n_read: self.n_read,
            kept: rows.iter().map(|&i| self.kept[i]).collect(),
            missing: self.missing.clone(),
            time: pick(&self.time),
            start: self.start.as_deref().map(pick),
            status: match &self.status {
                Status::Event(e) => Status::Event(rows.iter().map(|&i| e[i]).collect()),
                Status::Causes { codes, labels } => Status::Causes {
                    codes: rows.iter().map(|&i| codes[i]).collect(),
                    labels: labels.clone(),
                },
            },
            group: self.group.as_ref().map(grouping),
            strata: self.strata.as_ref().map(grouping),
            weights: self.weights.as_deref().map(pick),
            cluster: self
                .cluster
                .as_ref()
                .map(|c| rows.iter().map(|&i| c[i]).collect()),
            id: self
                .id
                .as_ref()
                .map(|c| rows.iter().map(|&i| c[i]).collect()),
            design: self.design.as_ref().map(design),
            ps_design: self.ps_design.as_ref().map(design),
            group_parts: self.group_parts.clone(),
        }
    }
}

/// Reads and checks the model's columns.
pub fn read(
    data: &Dataset,
    names: &ColumnNames<'_>,
    event_kind: EventKind,
) -> Result<Analysis, FitError> {
    let n = data.n_rows;
    let mut missing: Vec<(String, Vec<bool>)> = Vec::new();
    let mut note = |name: &str, flags: Vec<bool>| {
        if let Some((_, m)) = missing.iter_mut().find(|(c, _)| c == name) {
            for (a, b) in m.iter_mut().zip(flags) {
                *a |= b;
            }
        } else {
            missing.push((name.to_string(), flags));
        }
    };

    let time = data.numeric_required(
        names.time,
        |t| t.is_finite() && t >= 0.0,
        "a time must be a finite number >= 0",
    )?;
    note(names.time, time.iter().map(Option::is_none).collect());

    let start = match names.start {
        Some(col) => {
            let start = data.numeric_required(
                col,
                |t| t.is_finite() && t >= 0.0,
                "a start time must be a finite number >= 0",
            )?;
            for (i, (s, t)) in start.iter().zip(&time).enumerate() {
                if let (Some(s), Some(t)) = (s, t)
                    && t <= s
                {
                    return Err(data
                        .row_error(
                            i + 1,
                            names.time,
                            format!(
                                "the stop time {t} is not after the start time {s} (column `{col}`)"
                            ),
                        )
                        .into());
                }
            }
            note(col, start.iter().map(Option::is_none).collect());
            Some(start)
        }
        None => None,
    };

    let raw_event = data.text(names.event)?;
    let (event_codes, cause_labels) = parse_events(data, names.event, &raw_event, event_kind)?;
    note(
        names.event,
        event_codes.iter().map(Option::is_none).collect(),
    );

    let mut group_parts = Vec::new();
    let mut group_column = None;
    if let Some(col) = names.group {
        let level = read_levels(data, col)?;
        note(col, level.codes.iter().map(Option::is_none).collect());
        group_column = Some(level.clone());
        group_parts.push(level);
    }
    let mut strata_parts = Vec::new();
    for col in names.strata {
        let level = read_levels(data, col)?;
        note(col, level.codes.iter().map(Option::is_none).collect());
        if names.group != Some(col.as_str()) {
            group_parts.push(level.clone());
        }
        strata_parts.push(level);
    }

    let weights = match names.weights {
        Some(col) => {
            let w = data.numeric_required(
                col,
                |w| w.is_finite() && w > 0.0,
                "a case weight must be a finite number > 0",
            )?;
            note(col, w.iter().map(Option::is_none).collect());
            Some(w)
        }
        None => None,
    };
    let cluster = match names.cluster {
        Some(col) => {
            let level = read_levels(data, col)?;
            note(col, level.codes.iter().map(Option::is_none).collect());
            Some(level)
        }
        None => None,
    };
    let id = match names.id {
        Some(col) => {
            let level = read_levels(data, col)?;
            note(col, level.codes.iter().map(Option::is_none).collect());
            Some(level)
        }
        None => None,
    };

    let mut covariate_columns: Vec<(String, CovariateColumn)> = Vec::new();
    for spec in [names.covariates, names.ps_covariates]
        .into_iter()
        .flatten()
    {
        for term in spec {
            if covariate_columns.iter().any(|(n, _)| *n == term.name) {
                continue;
            }
            let column = match term.kind {
                TermKind::Numeric => CovariateColumn::numeric_opt(&data.numeric(&term.name)?),
                TermKind::Categorical { .. } => categorical(&data.text(&term.name)?),
            };
            note(
                &term.name,
                (0..column.len()).map(|i| is_missing(&column, i)).collect(),
            );
            covariate_columns.push((term.name.clone(), column));
        }
    }

    let mut any_missing = vec![false; n];
    for (_, flags) in &missing {
        for (a, &b) in any_missing.iter_mut().zip(flags) {
            *a |= b;
        }
    }
    let kept: Vec<usize> = (0..n).filter(|&i| !any_missing[i]).collect();
    if kept.is_empty() {
        return Err(FitError::Usage(if n == 0 {
            "the data have no rows".into()
        } else {
            format!("all {n} rows have a missing value in a model column")
        }));
    }
    let missing: Vec<MissingCount> = missing
        .into_iter()
        .map(|(column, flags)| MissingCount {
            column,
            rows: flags.iter().filter(|&&b| b).count(),
        })
        .filter(|m| m.rows > 0)
        .collect();

    let pick = |v: &[Option<f64>]| -> Vec<f64> {
        kept.iter().map(|&i| v[i].unwrap_or(f64::NAN)).collect()
    };
    let codes_of = |level: &LevelColumn| -> Vec<u32> {
        kept.iter().map(|&i| level.codes[i].unwrap_or(0)).collect()
    };
    let status = match event_kind {
        EventKind::Binary => {
            Status::Event(kept.iter().map(|&i| event_codes[i] == Some(1)).collect())
        }
        EventKind::Causes => Status::Causes {
            codes: kept.iter().map(|&i| event_codes[i].unwrap_or(0)).collect(),
            labels: cause_labels,
        },
    };
    let design = match names.covariates {
        Some(spec) => Some(
            DesignMatrix::build_with_missing(spec, &covariate_columns, Some(&any_missing))
                .map_err(|e| FitError::Usage(format!("covariates: {e}")))?,
        ),
        None => None,
    };
    let ps_design = match names.ps_covariates {
        Some(spec) => Some(
            DesignMatrix::build_with_missing(spec, &covariate_columns, Some(&any_missing))
                .map_err(|e| FitError::Usage(format!("propensity covariates: {e}")))?,
        ),
        None => None,
    };
    Ok(Analysis {
        n_read: n,
        time: pick(&time),
        start: start.as_deref().map(pick),
        status,
        group: group_column
            .as_ref()
            .map(|g| cross(std::slice::from_ref(g), &kept)),
        strata: if strata_parts.is_empty() {
            None
        } else {
            Some(cross(&strata_parts, &kept))
        },
        weights: weights.as_deref().map(pick),
        cluster: cluster
            .as_ref()
            .map(|c| codes_of(c).into_iter().map(u64::from).collect()),
        id: id.as_ref().map(codes_of),
        design,
        ps_design,
        group_parts,
        missing,
        kept,
    })
}

fn is_missing(column: &CovariateColumn, i: usize) -> bool {
    match column {
        CovariateColumn::Numeric(v) => v[i].is_nan(),
        CovariateColumn::Categorical(v) => v[i].is_none(),
    }
}

/// A column of labels: numbers when every present value is one (levels then sort numerically),
/// text otherwise.
fn categorical(values: &[Option<String>]) -> CovariateColumn {
    let parsed: Vec<Option<Option<f64>>> = values
        .iter()
        .map(|v| {
            v.as_ref()
                .map(|s| s.trim().parse::<f64>().ok().filter(|x| x.is_finite()))
        })
        .collect();
    if parsed.iter().all(|p| !matches!(p, Some(None))) {
        CovariateColumn::Numeric(
            parsed
                .into_iter()
                .map(|p| p.flatten().unwrap_or(f64::NAN))
                .collect(),
        )
    } else {
        CovariateColumn::Categorical(values.to_vec())
    }
}

fn read_levels(data: &Dataset, column: &str) -> Result<LevelColumn, DatasetError> {
    let values = data.text(column)?;
    let (codes, levels) = level_codes(&categorical(&values));
    Ok(LevelColumn {
        name: column.to_string(),
        codes,
        levels,
    })
}

/// Crosses level columns over the used rows: one code per combination that occurs, in sorted order.
fn cross(parts: &[LevelColumn], kept: &[usize]) -> Grouping {
    let keys: Vec<Vec<u32>> = kept
        .iter()
        .map(|&i| parts.iter().map(|p| p.codes[i].unwrap_or(0)).collect())
        .collect();
    let mut index: BTreeMap<&[u32], u32> = BTreeMap::new();
    for k in &keys {
        index.entry(k.as_slice()).or_insert(0);
    }
    let mut labels = Vec::with_capacity(index.len());
    for (code, (key, slot)) in index.iter_mut().enumerate() {
        *slot = code as u32;
        labels.push(
            parts
                .iter()
                .zip(key.iter())
                .map(|(p, &c)| {
                    format!(
                        "{}={}",
                        p.name,
                        p.levels.get(c as usize).map_or("?", String::as_str)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let codes = keys
        .iter()
        .map(|k| index.get(k.as_slice()).copied().unwrap_or(0))
        .collect();
    Grouping { codes, labels }
}

/// Parses the event column: per row the code (0 censored, 1 event / cause k) or `None` when
/// missing, and for causes the label of each cause.
fn parse_events(
    data: &Dataset,
    column: &str,
    values: &[Option<String>],
    kind: EventKind,
) -> Result<(Vec<Option<u32>>, Vec<String>), DatasetError> {
    let number = |s: &str| s.trim().parse::<f64>().ok();
    match kind {
        EventKind::Binary => {
            let mut codes = Vec::with_capacity(values.len());
            for (i, v) in values.iter().enumerate() {
                let code = match v.as_deref().map(str::trim) {
                    None => None,
                    Some(s) if s.eq_ignore_ascii_case("true") => Some(1),
                    Some(s) if s.eq_ignore_ascii_case("false") => Some(0),
                    Some(s) => match number(s) {
                        Some(0.0) => Some(0),
                        Some(1.0) => Some(1),
                        _ => {
                            return Err(data.row_error(
                                i + 1,
                                column,
                                format!(
                                    "event code `{s}` is not accepted: use 0 (censored) or 1 (event); \
                                     for competing causes use `fit aj` or `fit finegray`"
                                ),
                            ));
                        }
                    },
                };
                codes.push(code);
            }
            Ok((codes, vec!["1".to_string()]))
        }
        EventKind::Causes => {
            let present = || {
                values
                    .iter()
                    .enumerate()
                    .filter_map(|(i, v)| v.as_deref().map(|s| (i, s.trim())))
            };
            let is_zero = |s: &str| number(s) == Some(0.0);
            let by_name = present().any(|(_, s)| !is_zero(s) && number(s).is_none());
            if by_name {
                let names: std::collections::BTreeSet<&str> = present()
                    .filter(|(_, s)| !is_zero(s))
                    .map(|(_, s)| s)
                    .collect();
                let labels: Vec<String> = names.iter().map(|s| s.to_string()).collect();
                let codes = values
                    .iter()
                    .map(|v| {
                        v.as_deref().map(str::trim).map(|s| {
                            if is_zero(s) {
                                0
                            } else {
                                labels
                                    .iter()
                                    .position(|l| l == s)
                                    .map_or(0, |k| k as u32 + 1)
                            }
                        })
                    })
                    .collect();
                Ok((codes, labels))
            } else {
                let mut codes = Vec::with_capacity(values.len());
                let mut max = 0u32;
                for (i, v) in values.iter().enumerate() {
                    let code = match v.as_deref().map(str::trim) {
                        None => None,
                        Some(s) => match number(s) {
                            Some(x) if x >= 0.0 && x.fract() == 0.0 && x <= f64::from(u16::MAX) => {
                                Some(x as u32)
                            }
                            _ => {
                                return Err(data.row_error(
                                    i + 1,
                                    column,
                                    format!(
                                        "event code `{s}` is not accepted: use 0 for censored and 1, 2, … \
                                         (or names) for the causes"
                                    ),
                                ));
                            }
                        },
                    };
                    if let Some(c) = code {
                        max = max.max(c);
                    }
                    codes.push(code);
                }
                let labels = (1..=max).map(|k| k.to_string()).collect();
                Ok((codes, labels))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categorical_is_numeric_only_when_every_value_is_a_number() {
        let numbers = categorical(&[Some("2".into()), None, Some("10".into())]);
        assert!(matches!(numbers, CovariateColumn::Numeric(_)));
        let text = categorical(&[Some("2".into()), Some("b".into())]);
        assert!(matches!(text, CovariateColumn::Categorical(_)));
    }

    #[test]
    fn crossing_codes_combinations_in_sorted_order() {
        let a = LevelColumn {
            name: "sex".into(),
            codes: vec![Some(1), Some(0), Some(1), Some(0)],
            levels: vec!["1".into(), "2".into()],
        };
        let b = LevelColumn {
            name: "arm".into(),
            codes: vec![Some(0), Some(0), Some(1), Some(0)],
            levels: vec!["A".into(), "B".into()],
        };
        let g = cross(&[a, b], &[0, 1, 2, 3]);
        assert_eq!(
            g.labels,
            vec!["sex=1, arm=A", "sex=2, arm=A", "sex=2, arm=B"]
        );
        assert_eq!(g.codes, vec![1, 0, 2, 0]);
    }
}
