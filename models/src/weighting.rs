//! Propensity-score weights: inverse probability of treatment weights for the average
//! treatment effect (ATE) and the effect in the treated (ATT), overlap weights (ATO),
//! stabilisation, truncation at percentiles, and Kish's effective sample size per group.
//!
//! ```
//! use models::weighting::{Estimand, WeightOptions, propensity_weights};
//! # fn main() -> Result<(), models::ModelError> {
//! let score = [0.2, 0.7, 0.4, 0.55];
//! let treated = [false, true, true, false];
//! let w = propensity_weights(&score, &treated, &WeightOptions {
//!     estimand: Estimand::Ate,
//!     stabilised: true,
//!     truncation: Some((0.01, 0.99)),
//! })?;
//! println!("ESS treated {:.1}, control {:.1}", w.ess.treated, w.ess.control);
//! # Ok(()) }
//! ```
//!
//! With `e` the propensity score (probability of the treated group) and `P` the treated share:
//!
//! | estimand | treated | control | stabilised (Xu et al. 2010) |
//! |---|---|---|---|
//! | ATE | `1/e` | `1/(1−e)` | treated × `P`, controls × `(1−P)` |
//! | ATT | `1` | `e/(1−e)` | controls × `(1−P)/P` (they then sum to about the number of controls) |
//! | ATO (overlap, Li et al. 2018) | `1−e` | `e` | unchanged: overlap weights are bounded already |
//!
//! Stabilisation multiplies each group's weights by one constant, so weighted means within a
//! group (curves, balance) do not change; totals, effective sample sizes and model-based
//! variances do. Truncation (Cole & Hernán 2008) caps the weights at the chosen lower and upper
//! percentiles of all rows' weights (R's default `quantile` type 7), after stabilisation.

use serde::Serialize;

use crate::ModelError;
use crate::km::{check_length, invalid};

/// The population the weighted comparison speaks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Estimand {
    /// Average treatment effect: the whole population.
    #[default]
    Ate,
    /// Average treatment effect in the treated (index) group.
    Att,
    /// Average treatment effect in the overlap population (overlap weights).
    Ato,
}

/// Options of [`propensity_weights`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WeightOptions {
    pub estimand: Estimand,
    /// Multiply each group's weights by its marginal probability (see the module table).
    pub stabilised: bool,
    /// Cap the weights at these (lower, upper) percentiles of all weights, as fractions, e.g.
    /// `(0.01, 0.99)`; `None`: no truncation.
    pub truncation: Option<(f64, f64)>,
}

impl Default for WeightOptions {
    fn default() -> Self {
        WeightOptions {
            estimand: Estimand::Ate,
            stabilised: false,
            truncation: None,
        }
    }
}

/// Kish's effective sample size per group: `(Σw)² / Σw²`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EffectiveSampleSize {
    pub treated: f64,
    pub control: f64,
    /// Rows per group (with positive weight).
    pub n_treated: usize,
    pub n_control: usize,
}

impl EffectiveSampleSize {
    /// Effective sample size relative to the rows of the group, the smaller of the two.
    pub fn min_relative(&self) -> f64 {
        let rel = |ess: f64, n: usize| if n > 0 { ess / n as f64 } else { 0.0 };
        rel(self.treated, self.n_treated).min(rel(self.control, self.n_control))
    }
}

/// What truncation did.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Truncation {
    /// The requested percentiles, as fractions.
    pub lower_percentile: f64,
    pub upper_percentile: f64,
    /// The weights at those percentiles: the caps.
    pub lower_cap: f64,
    pub upper_cap: f64,
    /// Rows whose weight was raised to the lower cap or lowered to the upper cap.
    pub n_raised: usize,
    pub n_lowered: usize,
}

/// Summary of one group's weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WeightSummary {
    pub n: usize,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
}

/// Weights for a propensity-score comparison, one per row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropensityWeights {
    pub weights: Vec<f64>,
    pub estimand: Estimand,
    pub stabilised: bool,
    /// Share of rows in the treated group (P).
    pub treated_share: f64,
    pub truncation: Option<Truncation>,
    pub ess: EffectiveSampleSize,
    pub treated: WeightSummary,
    pub control: WeightSummary,
}

/// Weights for `estimand` from propensity scores `score` (probability of the treated group,
/// strictly between 0 and 1) and group membership `treated`.
pub fn propensity_weights(
    score: &[f64],
    treated: &[bool],
    options: &WeightOptions,
) -> Result<PropensityWeights, ModelError> {
    let n = score.len();
    check_length("treated", n, treated.len())?;
    if n == 0 {
        return Err(ModelError::Unsupported("no rows".into()));
    }
    for (i, &e) in score.iter().enumerate() {
        if !(e > 0.0 && e < 1.0) {
            return Err(invalid(
                i,
                format!("propensity score {e} is not strictly between 0 and 1"),
            ));
        }
    }
    let n1 = treated.iter().filter(|&&t| t).count();
    if n1 == 0 || n1 == n {
        return Err(ModelError::Unsupported(
            "weights need rows in both groups".into(),
        ));
    }
    let share = n1 as f64 / n as f64;
    let (s1, s0) = match (options.stabilised, options.estimand) {
        (false, _) | (true, Estimand::Ato) => (1.0, 1.0),
        (true, Estimand::Ate) => (share, 1.0 - share),
        (true, Estimand::Att) => (1.0, (1.0 - share) / share),
    };
    let mut weights: Vec<f64> = score
        .iter()
        .zip(treated)
        .map(|(&e, &t)| match (options.estimand, t) {
            (Estimand::Ate, true) => s1 / e,
            (Estimand::Ate, false) => s0 / (1.0 - e),
            (Estimand::Att, true) => s1,
            (Estimand::Att, false) => s0 * e / (1.0 - e),
            (Estimand::Ato, true) => 1.0 - e,
            (Estimand::Ato, false) => e,
        })
        .collect();
    let truncation = match options.truncation {
        None => None,
        Some((lo, hi)) => Some(truncate(&mut weights, lo, hi)?),
    };
    let ess = effective_sample_size(&weights, treated)?;
    Ok(PropensityWeights {
        treated: summarise(&weights, treated, true),
        control: summarise(&weights, treated, false),
        weights,
        estimand: options.estimand,
        stabilised: options.stabilised,
        treated_share: share,
        truncation,
        ess,
    })
}

/// Caps `weights` at their `lower` and `upper` percentiles (fractions in [0, 1], type-7
/// quantiles of all weights).
pub fn truncate(weights: &mut [f64], lower: f64, upper: f64) -> Result<Truncation, ModelError> {
    if !(0.0..=1.0).contains(&lower) || !(0.0..=1.0).contains(&upper) || lower > upper {
        return Err(ModelError::Unsupported(format!(
            "truncation percentiles ({lower}, {upper}) must satisfy 0 <= lower <= upper <= 1"
        )));
    }
    if let Some(i) = weights.iter().position(|w| !w.is_finite()) {
        return Err(invalid(i, "weight is not finite".into()));
    }
    let mut sorted = weights.to_vec();
    sorted.sort_by(f64::total_cmp);
    let lower_cap = quantile_sorted(&sorted, lower);
    let upper_cap = quantile_sorted(&sorted, upper);
    let (mut n_raised, mut n_lowered) = (0, 0);
    for w in weights.iter_mut() {
        if *w < lower_cap {
            *w = lower_cap;
            n_raised += 1;
        } else if *w > upper_cap {
            *w = upper_cap;
            n_lowered += 1;
        }
    }
    Ok(Truncation {
        lower_percentile: lower,
        upper_percentile: upper,
        lower_cap,
        upper_cap,
        n_raised,
        n_lowered,
    })
}

/// R's default (type 7) quantile of ascending `sorted` values at probability `p` in [0, 1].
pub(crate) fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let h = (n - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(n - 1);
    let frac = h - lo as f64;
    sorted[lo] + frac * (sorted[hi] - sorted[lo])
}

/// Kish's effective sample size of each group, `(Σw)² / Σw²` over its rows with positive
/// weight (weights finite and >= 0; a weight of 0 leaves the row out, as after matching).
pub fn effective_sample_size(
    weights: &[f64],
    treated: &[bool],
) -> Result<EffectiveSampleSize, ModelError> {
    check_length("treated", weights.len(), treated.len())?;
    let mut acc = [(0.0, 0.0, 0usize); 2];
    for (i, (&w, &t)) in weights.iter().zip(treated).enumerate() {
        if !(w.is_finite() && w >= 0.0) {
            return Err(invalid(i, format!("weight {w} must be finite and >= 0")));
        }
        if w > 0.0 {
            let a = &mut acc[usize::from(t)];
            a.0 += w;
            a.1 += w * w;
            a.2 += 1;
        }
    }
    let kish = |(s, s2, _): (f64, f64, usize)| if s2 > 0.0 { s * s / s2 } else { 0.0 };
    Ok(EffectiveSampleSize {
        treated: kish(acc[1]),
        control: kish(acc[0]),
        n_treated: acc[1].2,
        n_control: acc[0].2,
    })
}

fn summarise(weights: &[f64], treated: &[bool], group: bool) -> WeightSummary {
    let mut s = WeightSummary {
        n: 0,
        sum: 0.0,
        min: f64::INFINITY,
        max: f64::NEG_INFINITY,
        mean: f64::NAN,
    };
    for (&w, &t) in weights.iter().zip(treated) {
        if t == group {
            s.n += 1;
            s.sum += w;
            s.min = s.min.min(w);
            s.max = s.max.max(w);
        }
    }
    if s.n > 0 {
        s.mean = s.sum / s.n as f64;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const E: [f64; 5] = [0.2, 0.5, 0.8, 0.4, 0.1];
    const T: [bool; 5] = [true, false, true, false, false];

    fn w(estimand: Estimand, stabilised: bool) -> Vec<f64> {
        propensity_weights(
            &E,
            &T,
            &WeightOptions {
                estimand,
                stabilised,
                truncation: None,
            },
        )
        .expect("weights")
        .weights
    }

    fn close(a: &[f64], b: &[f64]) {
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-14, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn formulas() {
        close(
            &w(Estimand::Ate, false),
            &[5.0, 2.0, 1.25, 1.0 / 0.6, 1.0 / 0.9],
        );
        close(
            &w(Estimand::Ate, true),
            &[0.4 * 5.0, 0.6 * 2.0, 0.4 * 1.25, 1.0, 0.6 / 0.9],
        );
        close(
            &w(Estimand::Att, false),
            &[1.0, 1.0, 1.0, 0.4 / 0.6, 0.1 / 0.9],
        );
        close(
            &w(Estimand::Att, true),
            &[1.0, 1.5, 1.0, 1.5 * 0.4 / 0.6, 1.5 * 0.1 / 0.9],
        );
        close(&w(Estimand::Ato, false), &[0.8, 0.5, 0.2, 0.4, 0.1]);
        close(&w(Estimand::Ato, true), &w(Estimand::Ato, false));
    }

    #[test]
    fn kish_effective_sample_size() {
        let ess = effective_sample_size(
            &[1.0, 1.0, 2.0, 0.0, 3.0],
            &[true, true, true, false, false],
        )
        .expect("ess");
        assert!((ess.treated - 16.0 / 6.0).abs() < 1e-15);
        assert!((ess.control - 1.0).abs() < 1e-15);
        assert_eq!((ess.n_treated, ess.n_control), (3, 1));
    }

    #[test]
    fn truncation_caps_at_type7_percentiles() {
        let mut v: Vec<f64> = (1..=101).map(f64::from).collect();
        let t = truncate(&mut v, 0.05, 0.9).expect("truncate");
        assert_eq!((t.lower_cap, t.upper_cap), (6.0, 91.0));
        assert_eq!((t.n_raised, t.n_lowered), (5, 10));
        assert_eq!(v[0], 6.0);
        assert_eq!(v[100], 91.0);
        let mut odd = [1.0, 2.0, 10.0, 4.0];
        let t = truncate(&mut odd, 0.0, 0.5).expect("truncate");
        assert_eq!(t.upper_cap, 3.0);
        assert!(truncate(&mut odd, 0.6, 0.5).is_err());
    }

    #[test]
    fn bad_scores_are_refused() {
        let err = propensity_weights(&[0.5, 1.0], &[true, false], &WeightOptions::default());
        assert!(matches!(err, Err(ModelError::InvalidValue { row: 1, .. })));
        let err = propensity_weights(&[0.5, 0.4], &[true, true], &WeightOptions::default());
        assert!(matches!(err, Err(ModelError::Unsupported(_))));
    }
}
