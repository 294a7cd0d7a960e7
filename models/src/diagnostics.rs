//! Diagnostics of an adjusted comparison in plain words: covariate balance, equipoise,
//! effective sample size, events per variable and proportional hazards, each a pass / warn /
//! fail verdict with a one-sentence message for the methodologist.
//!
//! ```
//! use models::diagnostics::{events_per_variable, proportional_hazards, Verdict};
//! let epv = events_per_variable(84, 12);
//! assert_eq!(epv.verdict, Verdict::Warn);
//! println!("{}", epv.message); // "7.0 events per model parameter (84 events, 12 parameters): ..."
//! let ph = proportional_hazards(0.31);
//! assert_eq!(ph.verdict, Verdict::Pass);
//! ```
//!
//! Thresholds (documented so a reader can disagree with them):
//!
//! | check | pass | warn | fail |
//! |---|---|---|---|
//! | balance: max \|SMD\| after adjustment | < 0.1 | < 0.2 | otherwise |
//! | equipoise: share of *each* group with preference score in [0.3, 0.7] (Walker et al. 2013) | ≥ 0.5 | ≥ 0.25 | otherwise |
//! | effective sample size: smallest ESS / n over the groups | ≥ 0.5 | ≥ 0.2 | otherwise |
//! | events per variable (events / model parameters) | ≥ 10 | ≥ 5 | otherwise |
//! | proportional hazards: global test of `cox.zph` on the weighted model | p ≥ 0.05 | p ≥ 0.001 | otherwise |

use serde::Serialize;

use crate::ModelError;
use crate::balance::BalanceTable;
use crate::km::check_length;
use crate::weighting::EffectiveSampleSize;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

/// Which check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    Balance,
    Equipoise,
    EffectiveSampleSize,
    EventsPerVariable,
    ProportionalHazards,
}

/// One diagnostic: the check, its verdict, the number it rests on and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub check: Check,
    pub verdict: Verdict,
    /// The number the verdict rests on (max |SMD|, smallest share, ratio, EPV, p-value).
    pub value: f64,
    pub message: String,
}

fn verdict_higher_is_better(value: f64, pass: f64, warn: f64) -> Verdict {
    if value >= pass {
        Verdict::Pass
    } else if value >= warn {
        Verdict::Warn
    } else {
        Verdict::Fail
    }
}

/// Covariate balance after adjustment: max |SMD| < 0.1 pass, < 0.2 warn, else fail.
pub fn balance(table: &BalanceTable) -> Diagnostic {
    let worst = table
        .covariates
        .iter()
        .max_by(|a, b| a.smd_after.abs().total_cmp(&b.smd_after.abs()));
    let value = table.max_abs_smd_after;
    let verdict = if value < 0.1 {
        Verdict::Pass
    } else if value < 0.2 {
        Verdict::Warn
    } else {
        Verdict::Fail
    };
    let name = worst.map_or("-", |c| c.covariate.as_str());
    let n_over = table.imbalanced(0.1).len();
    let message = match verdict {
        Verdict::Pass => format!(
            "All {} covariates are balanced after adjustment (largest |SMD| {value:.3}, `{name}`).",
            table.covariates.len()
        ),
        Verdict::Warn => format!(
            "{n_over} covariate(s) keep a small imbalance after adjustment (largest |SMD| {value:.3}, `{name}`); consider adding them to the outcome model."
        ),
        Verdict::Fail => format!(
            "{n_over} covariate(s) remain imbalanced after adjustment (largest |SMD| {value:.3}, `{name}`): the groups are not comparable on them."
        ),
    };
    Diagnostic {
        check: Check::Balance,
        verdict,
        value,
        message,
    }
}

/// Equipoise: the share of each group whose preference score lies in [0.3, 0.7]; the smaller
/// share decides (≥ 0.5 pass, ≥ 0.25 warn).
pub fn equipoise(preference: &[f64], treated: &[bool]) -> Result<Diagnostic, ModelError> {
    check_length("treated", preference.len(), treated.len())?;
    let mut inside = [0usize; 2];
    let mut total = [0usize; 2];
    for (&f, &t) in preference.iter().zip(treated) {
        let g = usize::from(t);
        total[g] += 1;
        if (0.3..=0.7).contains(&f) {
            inside[g] += 1;
        }
    }
    if total[0] == 0 || total[1] == 0 {
        return Err(ModelError::Unsupported(
            "equipoise needs rows in both groups".into(),
        ));
    }
    let share_t = inside[1] as f64 / total[1] as f64;
    let share_c = inside[0] as f64 / total[0] as f64;
    let value = share_t.min(share_c);
    let verdict = verdict_higher_is_better(value, 0.5, 0.25);
    let shares = format!(
        "{:.0}% of the treated and {:.0}% of the controls have a preference score between 0.3 and 0.7",
        100.0 * share_t,
        100.0 * share_c
    );
    let message = match verdict {
        Verdict::Pass => format!("The groups are in empirical equipoise: {shares}."),
        Verdict::Warn => {
            format!("Equipoise is partial: {shares}; conclusions rest on a part of the population.")
        }
        Verdict::Fail => format!(
            "The groups are not in equipoise: {shares}; they differ too much for a fair comparison."
        ),
    };
    Ok(Diagnostic {
        check: Check::Equipoise,
        verdict,
        value,
        message,
    })
}

/// Effective sample size relative to the rows of each group; the smaller ratio decides
/// (≥ 0.5 pass, ≥ 0.2 warn).
pub fn effective_sample_size(ess: &EffectiveSampleSize) -> Diagnostic {
    let value = ess.min_relative();
    let verdict = verdict_higher_is_better(value, 0.5, 0.2);
    let detail = format!(
        "effective sample size {:.0} of {} treated and {:.0} of {} controls",
        ess.treated, ess.n_treated, ess.control, ess.n_control
    );
    let message = match verdict {
        Verdict::Pass => format!("The weights keep most of the information: {detail}."),
        Verdict::Warn => {
            format!("The weights lose much information ({detail}); a few rows carry large weights.")
        }
        Verdict::Fail => format!(
            "The weights are extreme ({detail}): consider overlap weights, truncation or trimming."
        ),
    };
    Diagnostic {
        check: Check::EffectiveSampleSize,
        verdict,
        value,
        message,
    }
}

/// Events per model parameter (≥ 10 pass, ≥ 5 warn). For an outcome model: its events and
/// coefficients; for a propensity model: the smaller group's size and its coefficients.
pub fn events_per_variable(events: usize, parameters: usize) -> Diagnostic {
    let value = if parameters == 0 {
        f64::INFINITY
    } else {
        events as f64 / parameters as f64
    };
    let verdict = verdict_higher_is_better(value, 10.0, 5.0);
    let detail =
        format!("{value:.1} events per model parameter ({events} events, {parameters} parameters)");
    let message = match verdict {
        Verdict::Pass => format!("{detail}: enough for stable estimates."),
        Verdict::Warn => format!("{detail}: estimates may be unstable; keep the model small."),
        Verdict::Fail => {
            format!("{detail}: too few events for this many parameters; simplify the model.")
        }
    };
    Diagnostic {
        check: Check::EventsPerVariable,
        verdict,
        value,
        message,
    }
}

/// Proportional hazards of the weighted Cox model from the global p-value of its `cox.zph`
/// test (≥ 0.05 pass, ≥ 0.001 warn).
pub fn proportional_hazards(global_p_value: f64) -> Diagnostic {
    let value = global_p_value;
    let verdict = if value.is_nan() {
        Verdict::Warn
    } else {
        verdict_higher_is_better(value, 0.05, 0.001)
    };
    let message = match verdict {
        Verdict::Pass => format!(
            "No evidence against proportional hazards (global test p = {value:.3}): one hazard ratio summarises the comparison."
        ),
        Verdict::Warn if value.is_nan() => {
            "The proportional-hazards test could not be computed; inspect the scaled Schoenfeld residuals.".to_string()
        }
        Verdict::Warn => format!(
            "Some evidence that the hazard ratio changes over time (global test p = {value:.3}); report the curves and the RMST difference alongside it."
        ),
        Verdict::Fail => format!(
            "The hazard ratio changes over time (global test p = {value:.2e}): a single hazard ratio misleads; report the curves, the RMST difference or time-split effects."
        ),
    };
    Diagnostic {
        check: Check::ProportionalHazards,
        verdict,
        value,
        message,
    }
}

/// The worst verdict of a set of diagnostics (pass when empty).
pub fn overall(diagnostics: &[Diagnostic]) -> Verdict {
    diagnostics
        .iter()
        .map(|d| d.verdict)
        .max()
        .unwrap_or(Verdict::Pass)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::balance_table;
    use ndarray::Array2;

    #[test]
    fn thresholds() {
        assert_eq!(events_per_variable(100, 10).verdict, Verdict::Pass);
        assert_eq!(events_per_variable(99, 10).verdict, Verdict::Warn);
        assert_eq!(events_per_variable(49, 10).verdict, Verdict::Fail);
        assert_eq!(proportional_hazards(0.05).verdict, Verdict::Pass);
        assert_eq!(proportional_hazards(0.01).verdict, Verdict::Warn);
        assert_eq!(proportional_hazards(1e-5).verdict, Verdict::Fail);
        assert_eq!(proportional_hazards(f64::NAN).verdict, Verdict::Warn);
        let ess = EffectiveSampleSize {
            treated: 40.0,
            control: 90.0,
            n_treated: 100,
            n_control: 100,
        };
        assert_eq!(effective_sample_size(&ess).verdict, Verdict::Warn);
        let d = equipoise(
            &[0.5, 0.6, 0.1, 0.35, 0.9, 0.4],
            &[true, true, true, false, false, false],
        )
        .expect("equipoise");
        assert!((d.value - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(d.verdict, Verdict::Pass);
        assert_eq!(overall(&[d, effective_sample_size(&ess)]), Verdict::Warn);
    }

    #[test]
    fn balance_names_the_worst_covariate() {
        let x = Array2::from_shape_vec((6, 1), vec![1.0, 2.0, 3.0, 1.5, 2.5, 9.0]).expect("x");
        let names = vec!["age".to_string()];
        let t = balance_table(
            x.view(),
            &names,
            &[true, true, true, false, false, false],
            None,
        )
        .expect("balance");
        let d = balance(&t);
        assert_eq!(d.verdict, Verdict::Fail);
        assert!(d.message.contains("`age`"), "{}", d.message);
    }
}
