//! Covariate balance between two groups before and after weighting: weighted means per group,
//! standardised mean differences, variance ratios, for every column of a design matrix (numeric
//! covariates and the 0/1 indicators of categorical ones), and the data of a love plot.
//!
//! ```
//! use models::balance::balance_table;
//! # fn main() -> Result<(), models::ModelError> {
//! let x = ndarray::array![[30.0, 1.0], [41.0, 0.0], [35.0, 1.0], [52.0, 0.0]];
//! let names = vec!["age".to_string(), "sex=F".to_string()];
//! let treated = [true, false, true, false];
//! let weights = [1.2, 0.8, 1.1, 0.9];
//! let table = balance_table(x.view(), &names, &treated, Some(&weights))?;
//! for point in table.love_plot() {
//!     println!("{}: {:.2} -> {:.2}", point.covariate, point.smd_before, point.smd_after);
//! }
//! # Ok(()) }
//! ```
//!
//! The standardised mean difference is `(m₁ − m₀) / sqrt((s₁² + s₀²) / 2)` with the means of
//! the groups (weighted after weighting) and one denominator for both: the pooled standard
//! deviation of the *unweighted* groups, so that before and after differ only by the means
//! (Austin & Stuart 2015; cobalt's `s.d.denom = "pooled"`). For a 0/1 column the group
//! variance is `p(1 − p)` (as R's `tableone`; cobalt reports a raw difference for binaries by
//! default), otherwise the sample variance (divisor n − 1). A column constant in both groups
//! has SMD 0; one constant within each group but different between them has an infinite SMD.
//!
//! The variance ratio (treated / control) is reported for non-binary columns: sample
//! variances before, weighted variances after (`Σw(x − m)² / (Σw − Σw²/Σw)`, cobalt's).

use ndarray::ArrayView2;
use serde::Serialize;

use crate::ModelError;
use crate::km::{check_length, invalid};

/// Balance of one covariate column.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CovariateBalance {
    pub covariate: String,
    /// Whether the column takes only the values 0 and 1.
    pub binary: bool,
    pub mean_treated_before: f64,
    pub mean_control_before: f64,
    pub mean_treated_after: f64,
    pub mean_control_after: f64,
    /// Standardised mean difference, treated − control.
    pub smd_before: f64,
    pub smd_after: f64,
    /// Variance ratio treated / control (`None` for a 0/1 column or a zero control variance).
    pub variance_ratio_before: Option<f64>,
    pub variance_ratio_after: Option<f64>,
}

/// Balance of every covariate, in column order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BalanceTable {
    pub covariates: Vec<CovariateBalance>,
    /// Rows per group.
    pub n_treated: usize,
    pub n_control: usize,
    /// Whether weights were given (otherwise "after" equals "before").
    pub weighted: bool,
    /// Largest |SMD| before and after.
    pub max_abs_smd_before: f64,
    pub max_abs_smd_after: f64,
}

/// One point of a love plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LovePoint {
    pub covariate: String,
    pub smd_before: f64,
    pub smd_after: f64,
}

impl BalanceTable {
    /// The love-plot data: one point per covariate, sorted by |SMD before| descending (ties by
    /// name), the order in which such plots are usually drawn.
    pub fn love_plot(&self) -> Vec<LovePoint> {
        let mut points: Vec<LovePoint> = self
            .covariates
            .iter()
            .map(|c| LovePoint {
                covariate: c.covariate.clone(),
                smd_before: c.smd_before,
                smd_after: c.smd_after,
            })
            .collect();
        points.sort_by(|a, b| {
            b.smd_before
                .abs()
                .total_cmp(&a.smd_before.abs())
                .then_with(|| a.covariate.cmp(&b.covariate))
        });
        points
    }

    /// Covariates whose |SMD after| is at least `threshold` (e.g. 0.1).
    pub fn imbalanced(&self, threshold: f64) -> Vec<&CovariateBalance> {
        self.covariates
            .iter()
            .filter(|c| c.smd_after.abs() >= threshold)
            .collect()
    }
}

/// Weighted mean and (reliability-weighted) variance of the rows of one group.
struct Moments {
    mean: f64,
    var: f64,
}

fn moments<I: Iterator<Item = (f64, f64)> + Clone>(rows: I, binary: bool) -> Moments {
    let (mut sw, mut sw2, mut swx) = (0.0, 0.0, 0.0);
    for (x, w) in rows.clone() {
        sw += w;
        sw2 += w * w;
        swx += w * x;
    }
    let mean = swx / sw;
    let var = if binary {
        mean * (1.0 - mean)
    } else {
        let ss: f64 = rows.map(|(x, w)| w * (x - mean) * (x - mean)).sum();
        let denom = sw - sw2 / sw;
        if denom > 0.0 { ss / denom } else { 0.0 }
    };
    Moments { mean, var }
}

fn smd(diff: f64, sd: f64) -> f64 {
    if sd > 0.0 {
        diff / sd
    } else if diff == 0.0 {
        0.0
    } else {
        f64::INFINITY.copysign(diff)
    }
}

fn ratio(a: f64, b: f64, binary: bool) -> Option<f64> {
    (!binary && b > 0.0).then(|| a / b)
}

/// The balance table of the columns of `x` between `treated` and the other rows, before and
/// (with `weights`, finite and >= 0, e.g. propensity or match weights) after weighting.
pub fn balance_table(
    x: ArrayView2<'_, f64>,
    covariate_names: &[String],
    treated: &[bool],
    weights: Option<&[f64]>,
) -> Result<BalanceTable, ModelError> {
    let n = treated.len();
    check_length("covariates", n, x.nrows())?;
    if covariate_names.len() != x.ncols() {
        return Err(ModelError::LengthMismatch {
            column: "covariate names".into(),
            expected: x.ncols(),
            found: covariate_names.len(),
        });
    }
    if let Some(w) = weights {
        check_length("weights", n, w.len())?;
        for (i, &v) in w.iter().enumerate() {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(i, format!("weight {v} must be finite and >= 0")));
            }
        }
    }
    let n1 = treated.iter().filter(|&&t| t).count();
    let n0 = n - n1;
    if n1 < 2 || n0 < 2 {
        return Err(ModelError::Unsupported(
            "balance needs at least two rows in each group".into(),
        ));
    }
    let wt = |i: usize| weights.map_or(1.0, |w| w[i]);
    for group in [true, false] {
        let total: f64 = (0..n).filter(|&i| treated[i] == group).map(wt).sum();
        if total <= 0.0 {
            return Err(ModelError::Unsupported(format!(
                "the {} group has no positive weight",
                if group { "treated" } else { "control" }
            )));
        }
    }
    let mut covariates = Vec::with_capacity(x.ncols());
    for (j, name) in covariate_names.iter().enumerate() {
        let col = x.column(j);
        if let Some(i) = col.iter().position(|v| !v.is_finite()) {
            return Err(invalid(i, format!("covariate `{name}` is not finite")));
        }
        let binary = col.iter().all(|&v| v == 0.0 || v == 1.0);
        let rows = |group: bool, weighted: bool| {
            (0..n)
                .filter(move |&i| treated[i] == group)
                .map(move |i| (col[i], if weighted { wt(i) } else { 1.0 }))
        };
        let t0 = moments(rows(true, false), binary);
        let c0 = moments(rows(false, false), binary);
        let t1 = moments(rows(true, true), binary);
        let c1 = moments(rows(false, true), binary);
        let sd = ((t0.var + c0.var) / 2.0).sqrt();
        covariates.push(CovariateBalance {
            covariate: name.clone(),
            binary,
            mean_treated_before: t0.mean,
            mean_control_before: c0.mean,
            mean_treated_after: t1.mean,
            mean_control_after: c1.mean,
            smd_before: smd(t0.mean - c0.mean, sd),
            smd_after: smd(t1.mean - c1.mean, sd),
            variance_ratio_before: ratio(t0.var, c0.var, binary),
            variance_ratio_after: ratio(t1.var, c1.var, binary),
        });
    }
    let max_abs = |f: fn(&CovariateBalance) -> f64| {
        covariates
            .iter()
            .map(|c| f(c).abs())
            .fold(0.0_f64, f64::max)
    };
    Ok(BalanceTable {
        max_abs_smd_before: max_abs(|c| c.smd_before),
        max_abs_smd_after: max_abs(|c| c.smd_after),
        covariates,
        n_treated: n1,
        n_control: n0,
        weighted: weights.is_some(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn by_hand() {
        // age: treated 1,2,3 (mean 2, var 1); control 2,4 (mean 3, var 2); sex 0/1.
        let x = Array2::from_shape_vec(
            (5, 2),
            vec![1.0, 1.0, 2.0, 0.0, 3.0, 1.0, 2.0, 0.0, 4.0, 1.0],
        )
        .expect("shape");
        let names = vec!["age".to_string(), "sex".to_string()];
        let t = [true, true, true, false, false];
        let w = [1.0, 1.0, 2.0, 1.0, 3.0];
        let b = balance_table(x.view(), &names, &t, Some(&w)).expect("balance");
        let age = &b.covariates[0];
        let sd = 1.5_f64.sqrt();
        assert!((age.smd_before - (2.0 - 3.0) / sd).abs() < 1e-15);
        // Weighted means: treated (1+2+6)/4 = 2.25, control (2+12)/4 = 3.5.
        assert!((age.mean_treated_after - 2.25).abs() < 1e-15);
        assert!((age.smd_after - (2.25 - 3.5) / sd).abs() < 1e-15);
        assert_eq!(age.variance_ratio_before, Some(0.5));
        // Weighted variance of control: Σw(x-m)² = 1·2.25 + 3·0.25 = 3; Σw − Σw²/Σw = 4 − 10/4.
        let vr = age.variance_ratio_after.expect("ratio");
        let vt =
            (1.0 * 1.25f64.powi(2) + 0.25f64.powi(2) + 2.0 * 0.75f64.powi(2)) / (4.0 - 6.0 / 4.0);
        assert!((vr - vt / 2.0).abs() < 1e-14);
        let sex = &b.covariates[1];
        assert!(sex.binary && sex.variance_ratio_before.is_none());
        let (p1, p0) = (2.0 / 3.0, 0.5);
        let sd = ((p1 * (1.0 - p1) + p0 * (1.0 - p0)) / 2.0_f64).sqrt();
        assert!((sex.smd_before - (p1 - p0) / sd).abs() < 1e-15);
        let love = b.love_plot();
        assert_eq!(love[0].covariate, "age");
        assert!((b.max_abs_smd_before - age.smd_before.abs()).abs() < 1e-15);
    }

    #[test]
    fn constant_columns() {
        let x = Array2::from_shape_vec((4, 2), vec![5.0, 1.0, 5.0, 1.0, 5.0, 0.0, 5.0, 0.0])
            .expect("shape");
        let names = vec!["c".to_string(), "sep".to_string()];
        let b = balance_table(x.view(), &names, &[true, true, false, false], None).expect("b");
        assert_eq!(b.covariates[0].smd_before, 0.0);
        assert_eq!(b.covariates[1].smd_before, f64::INFINITY);
        assert!(!b.weighted);
    }
}
