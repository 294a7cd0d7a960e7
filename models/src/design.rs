//! The design matrix of a regression model, built from the researcher's named columns: numeric
//! covariates as they are, categorical ones expanded to indicators against a reference level,
//! rows with a missing value in any model column left out (as R's `na.omit` does).
//!
//! A model is specified as a comma-separated list of terms, `"age,sex:cat,community:cat=FWB"`:
//!
//! - `name` — a numeric covariate, one column;
//! - `name:cat` — a categorical covariate; the reference level is the first in sorted order (as R's
//!   `factor()` sorts: byte order for text, numeric order for a numeric column), and every other
//!   level gets an indicator column named `name=LEVEL`;
//! - `name:cat=LEVEL` — the same with `LEVEL` as the reference.
//!
//! Levels are taken from the rows that are kept, so a level seen only in a dropped row does not
//! produce an all-zero column (R would keep the empty level and report a singular column).

use std::collections::BTreeSet;
use std::ops::Range;

use ndarray::Array2;
use serde::Serialize;

use crate::ModelError;

/// One column of the analysis dataset, as read from the case store.
#[derive(Debug, Clone, PartialEq)]
pub enum CovariateColumn {
    /// Numbers; `NaN` marks a missing value.
    Numeric(Vec<f64>),
    /// Labels; `None` marks a missing value.
    Categorical(Vec<Option<String>>),
}

impl CovariateColumn {
    /// Numbers with `None` for a missing value.
    pub fn numeric_opt(values: &[Option<f64>]) -> Self {
        CovariateColumn::Numeric(values.iter().map(|v| v.unwrap_or(f64::NAN)).collect())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            CovariateColumn::Numeric(v) => v.len(),
            CovariateColumn::Categorical(v) => v.len(),
        }
    }

    /// True when the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn is_missing(&self, row: usize) -> bool {
        match self {
            CovariateColumn::Numeric(v) => v[row].is_nan(),
            CovariateColumn::Categorical(v) => v[row].is_none(),
        }
    }
}

/// How a term enters the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum TermKind {
    /// One numeric column.
    Numeric,
    /// Indicators for every level but the reference (`None`: the first level in sorted order).
    Categorical { reference: Option<String> },
}

/// One term of a model specification: a column name and how it enters the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TermSpec {
    pub name: String,
    pub kind: TermKind,
}

/// Parses a specification such as `"age,sex:cat,community:cat=FWB"` (see the module docs).
pub fn parse_spec(spec: &str) -> Result<Vec<TermSpec>, ModelError> {
    let mut terms: Vec<TermSpec> = Vec::new();
    for raw in spec.split(',') {
        let part = raw.trim();
        if part.is_empty() {
            return Err(ModelError::Unsupported(format!(
                "empty term in the covariate specification `{spec}`"
            )));
        }
        let term = match part.split_once(':') {
            None => TermSpec {
                name: part.to_string(),
                kind: TermKind::Numeric,
            },
            Some((name, rest)) => {
                let name = name.trim();
                let rest = rest.trim();
                let reference = if rest == "cat" {
                    None
                } else if let Some(level) = rest.strip_prefix("cat=") {
                    let level = level.trim();
                    if level.is_empty() {
                        return Err(ModelError::Unsupported(format!(
                            "term `{part}`: empty reference level after `cat=`"
                        )));
                    }
                    Some(level.to_string())
                } else {
                    return Err(ModelError::Unsupported(format!(
                        "term `{part}`: expected `name`, `name:cat` or `name:cat=LEVEL`"
                    )));
                };
                TermSpec {
                    name: name.to_string(),
                    kind: TermKind::Categorical { reference },
                }
            }
        };
        if term.name.is_empty() {
            return Err(ModelError::Unsupported(format!(
                "term `{part}` has no column name"
            )));
        }
        if terms.iter().any(|t| t.name == term.name) {
            return Err(ModelError::Unsupported(format!(
                "column `{}` appears twice in the covariate specification",
                term.name
            )));
        }
        terms.push(term);
    }
    Ok(terms)
}

/// A term of the built design: which columns of the matrix it owns.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesignTerm {
    /// The researcher's column name.
    pub name: String,
    /// The columns of the design matrix that belong to this term.
    pub columns: Range<usize>,
    /// For a categorical term: its levels, the reference first.
    pub levels: Option<Vec<String>>,
}

/// A value of one covariate in a covariate profile (for predicted survival curves).
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileValue {
    Numeric(f64),
    Level(String),
}

/// The design matrix of the rows without missing values, with the names of its columns.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignMatrix {
    /// Kept rows × columns, row-major.
    pub x: Array2<f64>,
    /// Column names: the covariate name, or `name=LEVEL` for an indicator.
    pub column_names: Vec<String>,
    /// Terms in specification order, with the columns each owns.
    pub terms: Vec<DesignTerm>,
    /// Indices (into the input rows) of the rows kept, ascending.
    pub kept_rows: Vec<usize>,
    /// Number of input rows.
    pub n_input_rows: usize,
    /// Rows left out because a model column was missing.
    pub n_dropped: usize,
}

impl DesignMatrix {
    /// Builds the design matrix for `spec` from named columns, leaving out the rows with a missing
    /// value in any of the specified columns.
    pub fn build<S: AsRef<str>>(
        spec: &[TermSpec],
        columns: &[(S, CovariateColumn)],
    ) -> Result<Self, ModelError> {
        Self::build_with_missing(spec, columns, None)
    }

    /// As [`DesignMatrix::build`], also leaving out the rows flagged in `other_missing` (a missing
    /// time, status, stratum, weight or cluster: any other column the model uses).
    pub fn build_with_missing<S: AsRef<str>>(
        spec: &[TermSpec],
        columns: &[(S, CovariateColumn)],
        other_missing: Option<&[bool]>,
    ) -> Result<Self, ModelError> {
        if spec.is_empty() {
            return Err(ModelError::Unsupported(
                "the model has no covariates".into(),
            ));
        }
        let mut used: Vec<&CovariateColumn> = Vec::with_capacity(spec.len());
        for term in spec {
            let column = columns
                .iter()
                .find(|(name, _)| name.as_ref() == term.name)
                .map(|(_, c)| c)
                .ok_or_else(|| {
                    ModelError::Unsupported(format!("no column named `{}` in the data", term.name))
                })?;
            used.push(column);
        }
        let n = used[0].len();
        for (term, column) in spec.iter().zip(&used) {
            if column.len() != n {
                return Err(ModelError::LengthMismatch {
                    column: term.name.clone(),
                    expected: n,
                    found: column.len(),
                });
            }
        }
        if let Some(m) = other_missing
            && m.len() != n
        {
            return Err(ModelError::LengthMismatch {
                column: "missing-value flags".into(),
                expected: n,
                found: m.len(),
            });
        }
        let kept_rows: Vec<usize> = (0..n)
            .filter(|&i| {
                !other_missing.is_some_and(|m| m[i]) && !used.iter().any(|c| c.is_missing(i))
            })
            .collect();
        if kept_rows.is_empty() {
            return Err(ModelError::Unsupported(
                "every row has a missing value in a model column".into(),
            ));
        }

        // Columns of each term.
        let mut terms = Vec::with_capacity(spec.len());
        let mut column_names = Vec::new();
        let mut blocks: Vec<Vec<f64>> = Vec::new(); // column-major blocks, one Vec per column
        for (term, column) in spec.iter().zip(&used) {
            let first = column_names.len();
            match (&term.kind, column) {
                (TermKind::Numeric, CovariateColumn::Numeric(values)) => {
                    let mut col = Vec::with_capacity(kept_rows.len());
                    for &i in &kept_rows {
                        let v = values[i];
                        if !v.is_finite() {
                            return Err(ModelError::InvalidValue {
                                row: i,
                                message: format!("covariate `{}` is infinite", term.name),
                            });
                        }
                        col.push(v);
                    }
                    column_names.push(term.name.clone());
                    blocks.push(col);
                    terms.push(DesignTerm {
                        name: term.name.clone(),
                        columns: first..first + 1,
                        levels: None,
                    });
                }
                (TermKind::Numeric, CovariateColumn::Categorical(_)) => {
                    return Err(ModelError::Unsupported(format!(
                        "column `{}` holds labels; declare it as `{}:cat`",
                        term.name, term.name
                    )));
                }
                (TermKind::Categorical { reference }, column) => {
                    let labels = categorical_labels(column, &kept_rows);
                    let levels =
                        ordered_levels(column, &kept_rows, reference.as_deref(), &term.name)?;
                    for level in levels.iter().skip(1) {
                        column_names.push(format!("{}={}", term.name, level));
                        blocks.push(
                            labels
                                .iter()
                                .map(|l| f64::from(u8::from(l == level)))
                                .collect(),
                        );
                    }
                    terms.push(DesignTerm {
                        name: term.name.clone(),
                        columns: first..column_names.len(),
                        levels: Some(levels),
                    });
                }
            }
        }
        let p = column_names.len();
        let m = kept_rows.len();
        let mut x = Array2::<f64>::zeros((m, p));
        for (j, col) in blocks.iter().enumerate() {
            for (i, v) in col.iter().enumerate() {
                x[[i, j]] = *v;
            }
        }
        Ok(DesignMatrix {
            x,
            column_names,
            terms,
            kept_rows,
            n_input_rows: n,
            n_dropped: n - m,
        })
    }

    /// Number of columns.
    pub fn n_columns(&self) -> usize {
        self.column_names.len()
    }

    /// The kept rows of another full-length column (time, status, weights, ...).
    pub fn select<T: Clone>(&self, values: &[T]) -> Result<Vec<T>, ModelError> {
        if values.len() != self.n_input_rows {
            return Err(ModelError::LengthMismatch {
                column: "column to select".into(),
                expected: self.n_input_rows,
                found: values.len(),
            });
        }
        Ok(self.kept_rows.iter().map(|&i| values[i].clone()).collect())
    }

    /// The design row of a covariate profile: one value per term, by name.
    pub fn encode_profile(&self, profile: &[(&str, ProfileValue)]) -> Result<Vec<f64>, ModelError> {
        let mut row = vec![0.0; self.n_columns()];
        for term in &self.terms {
            let value = profile
                .iter()
                .find(|(name, _)| *name == term.name)
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    ModelError::Unsupported(format!("the profile has no value for `{}`", term.name))
                })?;
            match (&term.levels, value) {
                (None, ProfileValue::Numeric(v)) => row[term.columns.start] = *v,
                (Some(levels), ProfileValue::Level(level)) => {
                    let k = levels.iter().position(|l| l == level).ok_or_else(|| {
                        ModelError::Unsupported(format!(
                            "`{}` has no level `{}` (levels: {})",
                            term.name,
                            level,
                            levels.join(", ")
                        ))
                    })?;
                    if k > 0 {
                        row[term.columns.start + k - 1] = 1.0;
                    }
                }
                (Some(levels), ProfileValue::Numeric(v)) => {
                    let label = format_number_level(*v);
                    let k = levels.iter().position(|l| *l == label).ok_or_else(|| {
                        ModelError::Unsupported(format!("`{}` has no level `{}`", term.name, label))
                    })?;
                    if k > 0 {
                        row[term.columns.start + k - 1] = 1.0;
                    }
                }
                (None, ProfileValue::Level(_)) => {
                    return Err(ModelError::Unsupported(format!(
                        "`{}` is numeric; the profile gives a level",
                        term.name
                    )));
                }
            }
        }
        Ok(row)
    }
}

/// Integer codes of a grouping column (strata, clusters): levels in the same sorted order as
/// categorical covariates (numeric order for numbers, byte order for text); `None` for a missing
/// value. Returns the codes and the level of each code.
pub fn level_codes(column: &CovariateColumn) -> (Vec<Option<u32>>, Vec<String>) {
    let rows: Vec<usize> = (0..column.len())
        .filter(|&i| !column.is_missing(i))
        .collect();
    let levels = match column {
        CovariateColumn::Numeric(v) => {
            let mut values: Vec<f64> = rows.iter().map(|&i| v[i]).collect();
            values.sort_by(f64::total_cmp);
            values.dedup();
            values
                .into_iter()
                .map(format_number_level)
                .collect::<Vec<String>>()
        }
        CovariateColumn::Categorical(v) => rows
            .iter()
            .filter_map(|&i| v[i].clone())
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect(),
    };
    let labels = categorical_labels(column, &(0..column.len()).collect::<Vec<usize>>());
    let index: std::collections::HashMap<&str, u32> = levels
        .iter()
        .enumerate()
        .map(|(k, l)| (l.as_str(), k as u32))
        .collect();
    let codes = (0..column.len())
        .map(|i| {
            if column.is_missing(i) {
                None
            } else {
                index.get(labels[i].as_str()).copied()
            }
        })
        .collect();
    (codes, levels)
}

/// A numeric level as R's `as.character` writes it for ordinary values (`1`, `0.5`).
fn format_number_level(v: f64) -> String {
    format!("{v}")
}

fn categorical_labels(column: &CovariateColumn, rows: &[usize]) -> Vec<String> {
    match column {
        CovariateColumn::Numeric(v) => rows.iter().map(|&i| format_number_level(v[i])).collect(),
        CovariateColumn::Categorical(v) => rows
            .iter()
            .map(|&i| v[i].clone().unwrap_or_default())
            .collect(),
    }
}

/// Levels in R's order (sorted; numeric order for a numeric column), the reference moved first.
fn ordered_levels(
    column: &CovariateColumn,
    rows: &[usize],
    reference: Option<&str>,
    name: &str,
) -> Result<Vec<String>, ModelError> {
    let mut levels: Vec<String> = match column {
        CovariateColumn::Numeric(v) => {
            let mut values: Vec<f64> = rows.iter().map(|&i| v[i]).collect();
            values.sort_by(f64::total_cmp);
            values.dedup();
            values.into_iter().map(format_number_level).collect()
        }
        CovariateColumn::Categorical(v) => rows
            .iter()
            .filter_map(|&i| v[i].clone())
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect(),
    };
    if levels.len() < 2 {
        return Err(ModelError::Unsupported(format!(
            "categorical covariate `{name}` has fewer than two levels in the rows used"
        )));
    }
    if let Some(r) = reference {
        let k = levels.iter().position(|l| l == r).ok_or_else(|| {
            ModelError::Unsupported(format!(
                "reference level `{r}` of `{name}` does not occur in the rows used (levels: {})",
                levels.join(", ")
            ))
        })?;
        let level = levels.remove(k);
        levels.insert(0, level);
    }
    Ok(levels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(v: &[Option<&str>]) -> CovariateColumn {
        CovariateColumn::Categorical(v.iter().map(|s| s.map(str::to_string)).collect())
    }

    #[test]
    fn parses_specs() {
        let s = parse_spec("age, sex:cat ,community:cat=FWB").expect("valid test input");
        assert_eq!(
            s[0],
            TermSpec {
                name: "age".into(),
                kind: TermKind::Numeric
            }
        );
        assert_eq!(s[1].kind, TermKind::Categorical { reference: None });
        assert_eq!(
            s[2].kind,
            TermKind::Categorical {
                reference: Some("FWB".into())
            }
        );
        assert!(parse_spec("a,,b").is_err());
        assert!(parse_spec("a:factor").is_err());
        assert!(parse_spec("a,a").is_err());
        assert!(parse_spec("a:cat=").is_err());
    }

    #[test]
    fn expands_categories_and_drops_missing_rows() {
        let cols = vec![
            (
                "age",
                CovariateColumn::Numeric(vec![30.0, f64::NAN, 40.0, 50.0, 60.0]),
            ),
            (
                "community",
                labels(&[Some("VL"), Some("FWB"), None, Some("FWB"), Some("BXL")]),
            ),
        ];
        let spec = parse_spec("age,community:cat").expect("valid test input");
        let d = DesignMatrix::build(&spec, &cols).expect("valid test input");
        assert_eq!(d.kept_rows, vec![0, 3, 4]);
        assert_eq!(d.n_dropped, 2);
        assert_eq!(d.column_names, vec!["age", "community=FWB", "community=VL"]);
        assert_eq!(d.x.row(0).to_vec(), vec![30.0, 0.0, 1.0]);
        assert_eq!(d.x.row(1).to_vec(), vec![50.0, 1.0, 0.0]);
        assert_eq!(d.x.row(2).to_vec(), vec![60.0, 0.0, 0.0]);

        let spec = parse_spec("age,community:cat=VL").expect("valid test input");
        let d = DesignMatrix::build(&spec, &cols).expect("valid test input");
        assert_eq!(
            d.column_names,
            vec!["age", "community=BXL", "community=FWB"]
        );
        let row = d
            .encode_profile(&[
                ("age", ProfileValue::Numeric(1.0)),
                ("community", ProfileValue::Level("FWB".into())),
            ])
            .expect("valid test input");
        assert_eq!(row, vec![1.0, 0.0, 1.0]);
        assert!(
            DesignMatrix::build(
                &parse_spec("community:cat=XX").expect("valid test input"),
                &cols
            )
            .is_err()
        );
    }

    #[test]
    fn numeric_categories_sort_numerically() {
        let cols = vec![(
            "grade",
            CovariateColumn::Numeric(vec![10.0, 9.0, 2.0, 10.0]),
        )];
        let d = DesignMatrix::build(&parse_spec("grade:cat").expect("valid test input"), &cols)
            .expect("valid test input");
        assert_eq!(d.column_names, vec!["grade=9", "grade=10"]);
    }

    #[test]
    fn grouping_codes() {
        let (codes, levels) = level_codes(&labels(&[Some("b"), None, Some("a"), Some("b")]));
        assert_eq!(levels, vec!["a", "b"]);
        assert_eq!(codes, vec![Some(1), None, Some(0), Some(1)]);
        let (codes, levels) = level_codes(&CovariateColumn::Numeric(vec![10.0, 9.0, f64::NAN]));
        assert_eq!(levels, vec!["9", "10"]);
        assert_eq!(codes, vec![Some(1), Some(0), None]);
    }

    #[test]
    fn other_missing_rows_are_dropped() {
        let cols = vec![("age", CovariateColumn::Numeric(vec![1.0, 2.0, 3.0]))];
        let d = DesignMatrix::build_with_missing(
            &parse_spec("age").expect("valid test input"),
            &cols,
            Some(&[false, true, false]),
        )
        .expect("valid test input");
        assert_eq!(d.kept_rows, vec![0, 2]);
        assert_eq!(
            d.select(&[10, 20, 30]).expect("valid test input"),
            vec![10, 30]
        );
    }
}
