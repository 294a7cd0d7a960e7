//! Adjusted outcomes of a two-group comparison under weights: the weighted restricted mean
//! event-free time and the weighted cumulative incidence (risk) at a horizon τ per group, their
//! differences (treated − control), and percentile bootstrap intervals that are seeded,
//! computed in parallel and identical whatever the number of threads.
//!
//! ```
//! use models::adjusted::{AdjustedOptions, ComparisonOutcome, adjusted_comparison};
//! # fn main() -> Result<(), models::ModelError> {
//! let time = [2.0, 5.0, 3.0, 8.0, 1.0, 7.0, 4.0, 6.0];
//! let cause = [1, 0, 1, 2, 1, 0, 0, 1]; // 0 censored, 1 the event of interest, 2 competing
//! let treated = [true, true, true, true, false, false, false, false];
//! let weights = [1.2, 0.9, 1.1, 1.0, 0.8, 1.3, 1.0, 0.9]; // e.g. IPTW
//! let options = AdjustedOptions { tau: 6.0, replicates: 200, seed: 20240501, ..Default::default() };
//! let result = adjusted_comparison(&ComparisonOutcome::new(&time, &cause), &treated, &weights, &options)?;
//! println!("risk difference at 6: {:.3} [{:.3}, {:.3}]", result.risk_difference.estimate,
//!          result.risk_difference.lower, result.risk_difference.upper);
//! # Ok(()) }
//! ```
//!
//! Estimates: per group, the weighted Aalen–Johansen estimate on right-censored data (the same
//! numbers as [`crate::aalen_johansen::aalen_johansen_by_group`] and, without competing causes,
//! `1 − ` [`crate::km::kaplan_meier_by_group`]); the *risk* is the cumulative incidence of
//! `event_cause` at τ, the *restricted mean* is the area under the probability of being free of
//! any event on `[0, τ]` (without competing causes: the RMST of [`crate::rmst`]).
//!
//! Bootstrap: replicate `r` (0-based) draws its rows from a ChaCha20 generator seeded with
//! `seed` on stream `r`, so each replicate is reproducible on its own; rows are drawn with
//! replacement (unbiased bounded integers by Lemire's method, written here so the draws do not
//! change with a `rand` upgrade). [`Resampling::WithinGroup`] (default) keeps each group's size,
//! drawing the treated rows first and then the controls; [`Resampling::WholeSample`] draws n rows
//! from all. A row drawn c times weighs c times its weight. The replicates run in parallel with
//! `rayon` and are collected in replicate order; the interval is the type-7 percentiles of the
//! sorted replicate estimates. A replicate that fails (a group without weight, a failing
//! re-estimation) is left out and counted in `failed_replicates`.
//!
//! When the weights come from an estimated propensity score, the variability of that
//! estimation belongs in the interval: [`adjusted_comparison_reestimated`] calls the caller's
//! closure on every replicate's rows to refit the score and recompute the weights.

use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

use crate::ModelError;
use crate::km::{check_conf_level, check_length, check_times, invalid};
use crate::weighting::quantile_sorted;

/// Right-censored follow-up ending in censoring (cause 0), the event of interest or a competing
/// event (any other non-zero code).
#[derive(Debug, Clone, Copy)]
pub struct ComparisonOutcome<'a> {
    /// Exit time (finite, >= 0).
    pub time: &'a [f64],
    /// Cause of exit: 0 censored, otherwise the event's code.
    pub cause: &'a [u32],
}

impl<'a> ComparisonOutcome<'a> {
    /// Exit times and causes (0 = censored).
    pub fn new(time: &'a [f64], cause: &'a [u32]) -> Self {
        ComparisonOutcome { time, cause }
    }

    /// From a single event type: `event` true is cause 1, false censoring.
    pub fn cause_codes(event: &[bool]) -> Vec<u32> {
        event.iter().map(|&e| u32::from(e)).collect()
    }
}

/// How the bootstrap draws its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resampling {
    /// Draw the treated and the control rows separately, keeping both group sizes (stratified).
    #[default]
    WithinGroup,
    /// Draw n rows from all rows.
    WholeSample,
}

/// Options of [`adjusted_comparison`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdjustedOptions {
    /// Horizon τ of the risk and the restricted mean.
    pub tau: f64,
    /// Code of the event of interest in `cause` (default 1).
    pub event_cause: u32,
    /// Bootstrap replicates (0: point estimates only, intervals NaN).
    pub replicates: usize,
    pub seed: u64,
    pub conf_level: f64,
    pub resampling: Resampling,
}

impl Default for AdjustedOptions {
    fn default() -> Self {
        AdjustedOptions {
            tau: f64::NAN,
            event_cause: 1,
            replicates: 1000,
            seed: 1,
            conf_level: 0.95,
            resampling: Resampling::WithinGroup,
        }
    }
}

/// One group's weighted estimates at τ.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupOutcome {
    /// Rows of the group.
    pub n: usize,
    /// Sum of their weights.
    pub weight_sum: f64,
    /// Cumulative incidence of the event of interest at τ.
    pub risk: f64,
    /// Probability of being free of any event at τ.
    pub event_free: f64,
    /// Restricted mean event-free time on [0, τ].
    pub restricted_mean: f64,
}

/// A difference with its bootstrap distribution.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BootstrapInterval {
    /// The estimate on the data (treated − control).
    pub estimate: f64,
    /// Standard deviation of the replicate estimates.
    pub std_err: f64,
    /// Percentile interval.
    pub lower: f64,
    pub upper: f64,
}

/// The adjusted comparison at τ.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdjustedComparison {
    pub tau: f64,
    pub event_cause: u32,
    pub treated: GroupOutcome,
    pub control: GroupOutcome,
    /// Difference in restricted mean event-free time, treated − control.
    pub restricted_mean_difference: BootstrapInterval,
    /// Difference in risk at τ, treated − control.
    pub risk_difference: BootstrapInterval,
    pub replicates: usize,
    pub failed_replicates: usize,
    pub seed: u64,
    pub resampling: Resampling,
    pub conf_level: f64,
}

/// The weighted estimates of both groups at τ from row weights `weight` (0 = not in the sample),
/// sweeping the rows in `sorted` (ascending time) once.
fn estimate(
    sorted: &[usize],
    outcome: &ComparisonOutcome<'_>,
    treated: &[bool],
    weight: &[f64],
    tau: f64,
    event_cause: u32,
) -> Result<[GroupOutcome; 2], ModelError> {
    // Index 1 = treated, 0 = control.
    let mut at_risk = [0.0_f64; 2];
    let mut n = [0usize; 2];
    for &i in sorted {
        if weight[i] > 0.0 {
            at_risk[usize::from(treated[i])] += weight[i];
            n[usize::from(treated[i])] += 1;
        }
    }
    if !(at_risk[0] > 0.0 && at_risk[1] > 0.0) {
        return Err(ModelError::Unsupported(
            "both groups need rows of positive weight".into(),
        ));
    }
    let totals = at_risk;
    let mut surv = [1.0_f64; 2];
    let mut risk = [0.0_f64; 2];
    let mut area = [0.0_f64; 2];
    let mut last = 0.0_f64;
    let mut k = 0;
    while k < sorted.len() {
        let t = outcome.time[sorted[k]];
        if t > tau {
            break;
        }
        // One block of tied exit times.
        let mut exits = [0.0_f64; 2];
        let mut any = [0.0_f64; 2];
        let mut own = [0.0_f64; 2];
        while k < sorted.len() && outcome.time[sorted[k]] == t {
            let i = sorted[k];
            let g = usize::from(treated[i]);
            let w = weight[i];
            exits[g] += w;
            let c = outcome.cause[i];
            if c != 0 {
                any[g] += w;
                if c == event_cause {
                    own[g] += w;
                }
            }
            k += 1;
        }
        for g in 0..2 {
            area[g] += surv[g] * (t - last);
            if any[g] > 0.0 {
                let nr = at_risk[g];
                risk[g] += surv[g] * own[g] / nr;
                surv[g] *= 1.0 - any[g] / nr;
            }
            at_risk[g] -= exits[g];
        }
        last = t;
    }
    let out = |g: usize| GroupOutcome {
        n: n[g],
        weight_sum: totals[g],
        risk: risk[g],
        event_free: surv[g],
        restricted_mean: area[g] + surv[g] * (tau - last),
    };
    Ok([out(1), out(0)])
}

/// An unbiased integer in `0..n` (n >= 1) by Lemire's multiply-and-reject method, from 32-bit
/// draws when n fits in 32 bits (half the generator's output), else from 64-bit draws.
fn uniform_below(rng: &mut ChaCha20Rng, n: u64) -> u64 {
    if let Ok(n32) = u32::try_from(n) {
        let mut m = u64::from(rng.next_u32()) * u64::from(n32);
        let mut low = m as u32;
        if low < n32 {
            let threshold = n32.wrapping_neg() % n32;
            while low < threshold {
                m = u64::from(rng.next_u32()) * u64::from(n32);
                low = m as u32;
            }
        }
        return m >> 32;
    }
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    let mut low = m as u64;
    if low < n {
        let threshold = n.wrapping_neg() % n;
        while low < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
            low = m as u64;
        }
    }
    (m >> 64) as u64
}

/// The rows of bootstrap replicate `r` (with repeats), as documented in the module.
pub fn bootstrap_rows(
    treated: &[bool],
    resampling: Resampling,
    seed: u64,
    replicate: u64,
) -> Vec<usize> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    rng.set_stream(replicate);
    let n = treated.len();
    match resampling {
        Resampling::WholeSample => (0..n)
            .map(|_| uniform_below(&mut rng, n as u64) as usize)
            .collect(),
        Resampling::WithinGroup => {
            let mut rows = Vec::with_capacity(n);
            for group in [true, false] {
                let members: Vec<usize> = (0..n).filter(|&i| treated[i] == group).collect();
                let m = members.len() as u64;
                if m == 0 {
                    continue;
                }
                for _ in 0..members.len() {
                    rows.push(members[uniform_below(&mut rng, m) as usize]);
                }
            }
            rows
        }
    }
}

fn check_inputs(
    outcome: &ComparisonOutcome<'_>,
    treated: &[bool],
    options: &AdjustedOptions,
) -> Result<f64, ModelError> {
    let n = outcome.time.len();
    check_length("cause", n, outcome.cause.len())?;
    check_length("treated", n, treated.len())?;
    check_times(outcome.time, None)?;
    if !(options.tau.is_finite() && options.tau > 0.0) {
        return Err(ModelError::Unsupported(format!(
            "horizon tau = {}: it must be a finite time > 0",
            options.tau
        )));
    }
    if options.event_cause == 0 {
        return Err(ModelError::Unsupported(
            "the event of interest cannot be code 0 (censoring)".into(),
        ));
    }
    check_conf_level(options.conf_level)
}

fn check_weights(weights: &[f64], n: usize) -> Result<(), ModelError> {
    check_length("weights", n, weights.len())?;
    for (i, &w) in weights.iter().enumerate() {
        if !(w.is_finite() && w >= 0.0) {
            return Err(invalid(i, format!("weight {w} must be finite and >= 0")));
        }
    }
    Ok(())
}

/// The adjusted comparison at `options.tau` with fixed `weights` (finite, >= 0; e.g. IPTW,
/// overlap or match weights) and a bootstrap that resamples rows with their weights.
pub fn adjusted_comparison(
    outcome: &ComparisonOutcome<'_>,
    treated: &[bool],
    weights: &[f64],
    options: &AdjustedOptions,
) -> Result<AdjustedComparison, ModelError> {
    check_weights(weights, treated.len())?;
    adjusted_comparison_reestimated(
        outcome,
        treated,
        |rows: &[usize]| Ok(rows.iter().map(|&i| weights[i]).collect()),
        options,
    )
}

/// The adjusted comparison where the weights are recomputed on every bootstrap sample:
/// `weights_for(rows)` receives the drawn row indices (with repeats; `0..n` for the data
/// itself) and returns one weight per entry of `rows`, typically by refitting the propensity
/// model on those rows ([`crate::propensity::fit_propensity`]) and weighting
/// ([`crate::weighting::propensity_weights`]). A replicate whose closure fails is counted in
/// `failed_replicates`; a failure on the data itself is returned.
pub fn adjusted_comparison_reestimated<F>(
    outcome: &ComparisonOutcome<'_>,
    treated: &[bool],
    weights_for: F,
    options: &AdjustedOptions,
) -> Result<AdjustedComparison, ModelError>
where
    F: Fn(&[usize]) -> Result<Vec<f64>, ModelError> + Sync,
{
    check_inputs(outcome, treated, options)?;
    let n = treated.len();
    let mut sorted: Vec<usize> = (0..n).collect();
    sorted.sort_by(|&a, &b| outcome.time[a].total_cmp(&outcome.time[b]).then(a.cmp(&b)));

    // Row weights of a sample: the sum of the weights of each row's draws.
    let row_weights = |rows: &[usize]| -> Result<Vec<f64>, ModelError> {
        let w = weights_for(rows)?;
        if w.len() != rows.len() {
            return Err(ModelError::LengthMismatch {
                column: "weights of the resampled rows".into(),
                expected: rows.len(),
                found: w.len(),
            });
        }
        let mut acc = vec![0.0; n];
        for (&i, &wi) in rows.iter().zip(&w) {
            if !(wi.is_finite() && wi >= 0.0) {
                return Err(invalid(i, format!("weight {wi} must be finite and >= 0")));
            }
            acc[i] += wi;
        }
        Ok(acc)
    };
    let all: Vec<usize> = (0..n).collect();
    let base_weights = row_weights(&all)?;
    let [t, c] = estimate(
        &sorted,
        outcome,
        treated,
        &base_weights,
        options.tau,
        options.event_cause,
    )?;

    let draws: Vec<Option<(f64, f64)>> = (0..options.replicates)
        .into_par_iter()
        .map(|r| {
            let rows = bootstrap_rows(treated, options.resampling, options.seed, r as u64);
            let w = row_weights(&rows).ok()?;
            let [bt, bc] = estimate(
                &sorted,
                outcome,
                treated,
                &w,
                options.tau,
                options.event_cause,
            )
            .ok()?;
            Some((bt.restricted_mean - bc.restricted_mean, bt.risk - bc.risk))
        })
        .collect();
    let ok: Vec<(f64, f64)> = draws.iter().flatten().copied().collect();
    let failed = options.replicates - ok.len();
    if options.replicates > 0 && ok.len() < 2 {
        return Err(ModelError::Unsupported(format!(
            "only {} of {} bootstrap replicates could be estimated",
            ok.len(),
            options.replicates
        )));
    }
    let alpha = 1.0 - options.conf_level;
    let interval = |estimate: f64, mut values: Vec<f64>| {
        if values.is_empty() {
            return BootstrapInterval {
                estimate,
                std_err: f64::NAN,
                lower: f64::NAN,
                upper: f64::NAN,
            };
        }
        let m = values.len() as f64;
        let mean = values.iter().sum::<f64>() / m;
        let sd = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (m - 1.0)).sqrt();
        values.sort_by(f64::total_cmp);
        BootstrapInterval {
            estimate,
            std_err: sd,
            lower: quantile_sorted(&values, alpha / 2.0),
            upper: quantile_sorted(&values, 1.0 - alpha / 2.0),
        }
    };
    Ok(AdjustedComparison {
        tau: options.tau,
        event_cause: options.event_cause,
        restricted_mean_difference: interval(
            t.restricted_mean - c.restricted_mean,
            ok.iter().map(|v| v.0).collect(),
        ),
        risk_difference: interval(t.risk - c.risk, ok.iter().map(|v| v.1).collect()),
        treated: t,
        control: c,
        replicates: options.replicates,
        failed_replicates: failed,
        seed: options.seed,
        resampling: options.resampling,
        conf_level: options.conf_level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aalen_johansen::{AalenJohansenOptions, CompetingRisks, aalen_johansen_by_group};
    use crate::km::{FollowUp, KaplanMeierOptions, kaplan_meier_by_group};
    use crate::rmst::restricted_mean_survival;

    fn data(n: usize) -> (Vec<f64>, Vec<u32>, Vec<bool>, Vec<f64>) {
        let mut state = 987_654_321_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 33) as f64) / f64::from(1u32 << 31)
        };
        let mut time = Vec::new();
        let mut cause = Vec::new();
        let mut treated = Vec::new();
        let mut w = Vec::new();
        for _ in 0..n {
            time.push((next() * 20.0).round() / 2.0 + 0.5);
            let u = next();
            cause.push(if u < 0.5 {
                1
            } else if u < 0.7 {
                2
            } else {
                0
            });
            treated.push(next() < 0.4);
            w.push(0.5 + next() * 2.0);
        }
        (time, cause, treated, w)
    }

    #[test]
    fn point_estimates_equal_the_curves() {
        let (time, cause, treated, w) = data(300);
        let tau = 6.3;
        let opts = AdjustedOptions {
            tau,
            replicates: 0,
            ..AdjustedOptions::default()
        };
        let r = adjusted_comparison(&ComparisonOutcome::new(&time, &cause), &treated, &w, &opts)
            .expect("adjusted");
        let group: Vec<u32> = treated.iter().map(|&t| u32::from(t)).collect();
        let aj = aalen_johansen_by_group(
            &CompetingRisks::new(&time, &cause).with_weights(&w),
            &group,
            &AalenJohansenOptions::default(),
        )
        .expect("aj");
        let risk_t = aj[1].incidence.incidence_at(1, tau);
        let risk_c = aj[0].incidence.incidence_at(1, tau);
        assert!((r.treated.risk - risk_t).abs() < 1e-12);
        assert!((r.control.risk - risk_c).abs() < 1e-12);
        assert!((r.risk_difference.estimate - (risk_t - risk_c)).abs() < 1e-12);
        // Event-free time = RMST of the KM of any event.
        let any: Vec<bool> = cause.iter().map(|&c| c != 0).collect();
        let km = kaplan_meier_by_group(
            &FollowUp::new(&time, &any).with_weights(&w),
            &group,
            &KaplanMeierOptions::default(),
        )
        .expect("km");
        let rm_t = restricted_mean_survival(&km[1].curve, tau, 0.95).expect("rmst");
        let rm_c = restricted_mean_survival(&km[0].curve, tau, 0.95).expect("rmst");
        assert!((r.treated.restricted_mean - rm_t.estimate).abs() < 1e-12);
        assert!((r.control.restricted_mean - rm_c.estimate).abs() < 1e-12);
        assert!(r.risk_difference.lower.is_nan());
    }

    #[test]
    fn same_result_whatever_the_thread_count() {
        let (time, cause, treated, w) = data(400);
        let opts = AdjustedOptions {
            tau: 5.0,
            replicates: 64,
            seed: 7,
            ..AdjustedOptions::default()
        };
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| {
                    adjusted_comparison(&ComparisonOutcome::new(&time, &cause), &treated, &w, &opts)
                        .expect("adjusted")
                })
        };
        let one = run(1);
        let four = run(4);
        assert_eq!(one, four);
        assert!(one.risk_difference.lower < one.risk_difference.upper);
        // Another seed gives another interval; the same seed the same.
        let other = adjusted_comparison(
            &ComparisonOutcome::new(&time, &cause),
            &treated,
            &w,
            &AdjustedOptions { seed: 8, ..opts },
        )
        .expect("adjusted");
        assert_ne!(one.risk_difference.lower, other.risk_difference.lower);
        assert_eq!(one.risk_difference.estimate, other.risk_difference.estimate);
    }

    #[test]
    fn within_group_resampling_keeps_group_sizes() {
        let treated = [true, false, false, true, false];
        for r in 0..20 {
            let rows = bootstrap_rows(&treated, Resampling::WithinGroup, 3, r);
            assert_eq!(rows.len(), 5);
            assert!(rows[..2].iter().all(|&i| treated[i]));
            assert!(rows[2..].iter().all(|&i| !treated[i]));
        }
        let a = bootstrap_rows(&treated, Resampling::WholeSample, 3, 1);
        assert_eq!(a, bootstrap_rows(&treated, Resampling::WholeSample, 3, 1));
    }

    #[test]
    fn uniform_draws_cover_the_range_evenly() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut counts = [0usize; 7];
        for _ in 0..70_000 {
            counts[uniform_below(&mut rng, 7) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn failing_reestimation_is_counted() {
        let (time, cause, treated, w) = data(100);
        let opts = AdjustedOptions {
            tau: 5.0,
            replicates: 20,
            ..AdjustedOptions::default()
        };
        let r = adjusted_comparison_reestimated(
            &ComparisonOutcome::new(&time, &cause),
            &treated,
            |rows: &[usize]| {
                if rows.windows(2).all(|p| p[1] == p[0] + 1) {
                    Ok(rows.iter().map(|&i| w[i]).collect())
                } else if rows[0].is_multiple_of(2) {
                    Err(ModelError::Unsupported("refit failed".into()))
                } else {
                    Ok(rows.iter().map(|&i| w[i]).collect())
                }
            },
            &opts,
        )
        .expect("adjusted");
        assert!(r.failed_replicates > 0 && r.failed_replicates < 20);
    }
}
