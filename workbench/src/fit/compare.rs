//! The adjusted comparison of two groups, shared by `workbench fit --treatment`, the study
//! runner's `[compare]` section and `workbench validate`: the propensity score on the chosen
//! covariates, then inverse-probability or overlap weights (optionally stabilised and
//! truncated) or 1:k nearest-neighbour matching on its logit, the balance table before and
//! after, and the diagnostics in plain words; plus the weighted Cox model of the group with a
//! robust variance and the adjusted risk and restricted-mean differences at τ.
//!
//! Every estimator is the `models` crate's; this module chooses, combines and summarises them
//! into the results-bundle types of [`studies::bundle`] (one shape for the bundle and for the
//! `--json` document of `workbench fit`). Counts pass through [`gated`]: with a k they follow the
//! disclosure rule of the bundle (fewer than k withheld), without one they are shown.

use models::ModelError;
use models::adjusted::{
    AdjustedComparison, AdjustedOptions, ComparisonOutcome, adjusted_comparison,
    adjusted_comparison_reestimated,
};
use models::balance::{BalanceTable, balance_table};
use models::cox::{CoxData, CoxFit, CoxModel, CoxOptions, ZphTest, ZphTransform};
use models::diagnostics::{self, Check, Diagnostic, Verdict};
use models::matching::{MatchedSample, MatchingOptions, match_nearest};
use models::ndarray::{Array2, ArrayView2, Axis};
use models::propensity::{LogisticOptions, PropensityData, PropensityScore, fit_propensity};
use models::weighting::{
    EffectiveSampleSize, Estimand, PropensityWeights, WeightOptions, effective_sample_size,
    propensity_weights,
};
use studies::bundle::{
    AdjustedDifferences, BalanceRow, Comparison, Count, DiagnosticLine, Difference, GroupWeights,
    MatchingSummary, PropensityModel, PropensityTerm, TruncationSummary, WeightsSummary,
};

/// How the groups are made comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Inverse probability of treatment weights (ATE, ATT) or overlap weights (ATO).
    Iptw,
    /// 1:k nearest-neighbour matching on the logit of the propensity score (ATT).
    Matching,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Iptw => "iptw",
            Method::Matching => "matching",
        }
    }
}

/// Name of an estimand as the protocol and the CLI spell it.
pub fn estimand_name(e: Estimand) -> &'static str {
    match e {
        Estimand::Ate => "ate",
        Estimand::Att => "att",
        Estimand::Ato => "ato",
    }
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub method: Method,
    pub estimand: Estimand,
    /// Stabilised IPTW weights (no effect on overlap weights).
    pub stabilised: bool,
    /// Truncation percentiles as fractions, e.g. (0.01, 0.99).
    pub truncation: Option<(f64, f64)>,
    pub matching: MatchingOptions,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            method: Method::Iptw,
            estimand: Estimand::Ate,
            stabilised: true,
            truncation: None,
            matching: MatchingOptions::default(),
        }
    }
}

/// The propensity score, the weights (or the matched sample), balance and diagnostics.
#[derive(Debug, Clone)]
pub struct Adjustment {
    pub spec: Spec,
    pub ps: PropensityScore,
    /// One weight per row; 0 for a row outside the matched sample.
    pub weights: Vec<f64>,
    pub weighting: Option<PropensityWeights>,
    pub matched: Option<MatchedSample>,
    pub ess: EffectiveSampleSize,
    pub balance: BalanceTable,
    /// Balance, equipoise, effective sample size, events per variable of the propensity model.
    pub diagnostics: Vec<Diagnostic>,
    pub n_treated: usize,
    pub n_control: usize,
}

/// Row weights, with the weighting or the matching they came from.
type Weighted = (Vec<f64>, Option<PropensityWeights>, Option<MatchedSample>);

/// The weights of `spec` from a fitted score.
fn weights_from_score(
    ps: &PropensityScore,
    treated: &[bool],
    spec: &Spec,
) -> Result<Weighted, ModelError> {
    match spec.method {
        Method::Iptw => {
            let w = propensity_weights(
                &ps.score,
                treated,
                &WeightOptions {
                    estimand: spec.estimand,
                    stabilised: spec.stabilised,
                    truncation: spec.truncation,
                },
            )?;
            Ok((w.weights.clone(), Some(w), None))
        }
        Method::Matching => {
            if spec.estimand != Estimand::Att {
                return Err(ModelError::Unsupported(
                    "matching the treated estimates the effect in the treated (att)".into(),
                ));
            }
            let m = match_nearest(&ps.logit, treated, &spec.matching)?;
            Ok((m.weights.clone(), None, Some(m)))
        }
    }
}

/// Fits the propensity model of `treated` on the columns of `x` and adjusts as `spec` says.
pub fn adjust<'a>(
    treated: &'a [bool],
    x: ArrayView2<'a, f64>,
    names: &'a [String],
    spec: &Spec,
) -> Result<Adjustment, ModelError> {
    let data = PropensityData::new(treated, x, names);
    let ps = fit_propensity(&data, &LogisticOptions::default())?;
    let (weights, weighting, matched) = weights_from_score(&ps, treated, spec)?;
    let ess = effective_sample_size(&weights, treated)?;
    let balance = balance_table(x, names, treated, Some(&weights))?;
    let n_treated = treated.iter().filter(|&&t| t).count();
    let n_control = treated.len() - n_treated;
    let mut epv = diagnostics::events_per_variable(n_treated.min(n_control), names.len());
    epv.message = format!(
        "Propensity model: {} (the smaller group's rows as events)",
        epv.message
    );
    let diagnostics = vec![
        diagnostics::balance(&balance),
        diagnostics::equipoise(&ps.preference, treated)?,
        diagnostics::effective_sample_size(&ess),
        epv,
    ];
    Ok(Adjustment {
        spec: *spec,
        ps,
        weights,
        weighting,
        matched,
        ess,
        balance,
        diagnostics,
        n_treated,
        n_control,
    })
}

/// Weights recomputed on a bootstrap sample `rows` (with repeats): the propensity model refitted
/// on those rows, then the same weighting. Matching keeps its weights (re-matching each sample
/// is not done).
pub fn reestimated_weights(
    treated: &[bool],
    x: ArrayView2<'_, f64>,
    names: &[String],
    spec: &Spec,
    rows: &[usize],
) -> Result<Vec<f64>, ModelError> {
    let sub_x = x.select(Axis(0), rows);
    let sub_t: Vec<bool> = rows.iter().map(|&i| treated[i]).collect();
    let data = PropensityData::new(&sub_t, sub_x.view(), names);
    let ps = fit_propensity(&data, &LogisticOptions::default())?;
    let (w, _, _) = weights_from_score(&ps, &sub_t, spec)?;
    Ok(w)
}

/// A count as published: shown, or with a k withheld below it (0 stays shown).
pub fn gated(n: usize, k: Option<u64>) -> Count {
    match k {
        Some(k) if n > 0 && (n as u64) < k => Count::BelowK,
        _ => Count::Shown(n as u64),
    }
}

pub fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
    }
}

fn check_name(c: Check) -> &'static str {
    match c {
        Check::Balance => "balance",
        Check::Equipoise => "equipoise",
        Check::EffectiveSampleSize => "effective-sample-size",
        Check::EventsPerVariable => "events-per-variable",
        Check::ProportionalHazards => "proportional-hazards",
    }
}

/// A diagnostic as a bundle line.
pub fn diagnostic_line(d: &Diagnostic) -> DiagnosticLine {
    DiagnosticLine {
        check: check_name(d.check).into(),
        verdict: verdict_name(d.verdict).into(),
        value: d.value.is_finite().then_some(d.value),
        message: d.message.clone(),
    }
}

/// Per design column: whether fewer than k rows of a group have, or lack, a 0/1 indicator.
fn small_indicator(x: ArrayView2<'_, f64>, treated: &[bool], k: Option<u64>) -> Vec<bool> {
    let Some(k) = k else {
        return vec![false; x.ncols()];
    };
    (0..x.ncols())
        .map(|j| {
            let col = x.column(j);
            if !col.iter().all(|&v| v == 0.0 || v == 1.0) {
                return false;
            }
            [true, false].iter().any(|&g| {
                let (mut ones, mut n) = (0u64, 0u64);
                for (v, &t) in col.iter().zip(treated) {
                    if t == g {
                        n += 1;
                        ones += u64::from(*v == 1.0);
                    }
                }
                (ones > 0 && ones < k) || (n - ones > 0 && n - ones < k)
            })
        })
        .collect()
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

impl Adjustment {
    /// What was done, in words.
    pub fn description(&self) -> String {
        let s = &self.spec;
        match s.method {
            Method::Iptw => format!(
                "{} on the propensity score ({}){}{}",
                match s.estimand {
                    Estimand::Ate =>
                        "inverse probability of treatment weights for the whole population (ATE)",
                    Estimand::Att =>
                        "inverse probability of treatment weights for the treated group (ATT)",
                    Estimand::Ato => "overlap weights for the population in equipoise (ATO)",
                },
                "logistic regression",
                if s.stabilised && s.estimand != Estimand::Ato {
                    ", stabilised"
                } else {
                    ""
                },
                s.truncation.map_or(String::new(), |(lo, hi)| format!(
                    ", truncated at the {} and {} percentiles",
                    super::report::num(100.0 * lo),
                    super::report::num(100.0 * hi)
                ))
            ),
            Method::Matching => format!(
                "1:{} nearest-neighbour matching on the logit of the propensity score, {}{}, for the treated group (ATT)",
                s.matching.ratio,
                s.matching
                    .caliper_sd
                    .map_or("no caliper".to_string(), |c| format!(
                        "caliper {} SD of the logit",
                        super::report::num(c)
                    )),
                if s.matching.replacement {
                    ", with replacement"
                } else {
                    ", without replacement"
                }
            ),
        }
    }

    /// The bundle's summary (no Cox model, no adjusted differences yet: see [`weighted_cox`] and
    /// [`adjusted_differences`]). `x` and `treated` are the propensity model's; `k` the
    /// disclosure threshold (None: every count shown).
    pub fn summary(
        &self,
        x: ArrayView2<'_, f64>,
        treated: &[bool],
        treated_label: &str,
        control_label: &str,
        k: Option<u64>,
    ) -> Comparison {
        let small = small_indicator(x, treated, k);
        let model = &self.ps.model;
        let terms = model
            .coefficients
            .iter()
            .map(|c| {
                // Coefficient 0 is the intercept; coefficient j+1 belongs to design column j.
                let hide = model
                    .coefficients
                    .iter()
                    .position(|d| d.name == c.name)
                    .and_then(|p| p.checked_sub(1))
                    .is_some_and(|j| small.get(j).copied().unwrap_or(false));
                let v = |x: f64| (!hide).then_some(x).and_then(finite);
                PropensityTerm {
                    term: c.name.clone(),
                    coef: v(c.coef),
                    odds_ratio: v(c.odds_ratio),
                    se: v(c.se),
                    lower: v(c.lower),
                    upper: v(c.upper),
                    p_value: v(c.p_value),
                    suppressed: hide,
                }
            })
            .collect();
        let group_weights = |g: bool| -> GroupWeights {
            let w: Vec<f64> = self
                .weights
                .iter()
                .zip(treated)
                .filter(|&(&w, &t)| t == g && w > 0.0)
                .map(|(&w, _)| w)
                .collect();
            let sum: f64 = w.iter().sum();
            GroupWeights {
                n: gated(w.len(), k),
                sum,
                // An empty group (nothing matched) shows zeros rather than ±inf / NaN.
                min: w.iter().copied().reduce(f64::min).unwrap_or(0.0),
                max: w.iter().copied().reduce(f64::max).unwrap_or(0.0),
                mean: if w.is_empty() {
                    0.0
                } else {
                    sum / w.len() as f64
                },
                ess: if g {
                    self.ess.treated
                } else {
                    self.ess.control
                },
            }
        };
        let kind = match (self.spec.method, self.spec.estimand) {
            (Method::Matching, _) => {
                "match weights (1 per matched treated child, 1/k per use of a control)"
            }
            (Method::Iptw, Estimand::Ate) => "inverse probability of treatment weights (ATE)",
            (Method::Iptw, Estimand::Att) => {
                "inverse probability of treatment weights (ATT: treated 1, controls e/(1−e))"
            }
            (Method::Iptw, Estimand::Ato) => "overlap weights (ATO: treated 1−e, controls e)",
        };
        let weights = WeightsSummary {
            kind: kind.into(),
            stabilised: self
                .weighting
                .as_ref()
                .is_some_and(|w| w.stabilised && w.estimand != Estimand::Ato),
            truncation: self.weighting.as_ref().and_then(|w| w.truncation).map(|t| {
                TruncationSummary {
                    lower_percentile: t.lower_percentile,
                    upper_percentile: t.upper_percentile,
                    lower_cap: t.lower_cap,
                    upper_cap: t.upper_cap,
                }
            }),
            treated: group_weights(true),
            control: group_weights(false),
        };
        let matching = self.matched.as_ref().map(|m| {
            let matched = gated(m.n_matched_treated, k);
            let mut unmatched = gated(m.n_unmatched_treated, k);
            let mut matched_shown = matched;
            // matched + unmatched = the treated group: one withheld hides the other.
            if matched == Count::BelowK {
                unmatched = Count::Hidden;
            } else if unmatched == Count::BelowK {
                matched_shown = Count::Hidden;
            }
            MatchingSummary {
                ratio: m.ratio,
                caliper_sd: self.spec.matching.caliper_sd,
                caliper: m.caliper,
                replacement: m.replacement,
                matched_treated: matched_shown,
                unmatched_treated: unmatched,
                matched_controls: gated(m.n_matched_controls, k),
            }
        });
        let balance = self
            .balance
            .covariates
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let hide = small.get(j).copied().unwrap_or(false);
                let v = |x: f64| (!hide).then_some(x).and_then(finite);
                let vo = |x: Option<f64>| x.and_then(v);
                BalanceRow {
                    covariate: c.covariate.clone(),
                    binary: c.binary,
                    mean_treated_before: v(c.mean_treated_before),
                    mean_control_before: v(c.mean_control_before),
                    mean_treated_after: v(c.mean_treated_after),
                    mean_control_after: v(c.mean_control_after),
                    smd_before: v(c.smd_before),
                    smd_after: v(c.smd_after),
                    variance_ratio_before: vo(c.variance_ratio_before),
                    variance_ratio_after: vo(c.variance_ratio_after),
                    suppressed: hide,
                }
            })
            .collect();
        let mut notes = Vec::new();
        if !model.diagnostics.converged {
            notes.push("warning: the propensity model did not converge".into());
        }
        notes.extend(
            model
                .diagnostics
                .warnings
                .iter()
                .map(|w| format!("propensity model: {w}")),
        );
        Comparison {
            description: self.description(),
            treated: treated_label.into(),
            control: control_label.into(),
            method: self.spec.method.name().into(),
            estimand: estimand_name(self.spec.estimand).into(),
            propensity: PropensityModel {
                n: gated(model.n, k),
                n_treated: gated(self.n_treated, k),
                n_control: gated(self.n_control, k),
                terms,
                c_statistic: self.ps.c_statistic,
                converged: model.diagnostics.converged,
                iterations: model.diagnostics.iterations,
                separation: model.diagnostics.separation,
                warnings: model.diagnostics.warnings.clone(),
            },
            weights,
            matching,
            balance,
            max_abs_smd_before: finite(self.balance.max_abs_smd_before),
            max_abs_smd_after: finite(self.balance.max_abs_smd_after),
            diagnostics: self.diagnostics.iter().map(diagnostic_line).collect(),
            overall: verdict_name(diagnostics::overall(&self.diagnostics)).into(),
            cox: None,
            adjusted: None,
            notes,
        }
    }

    /// Matched-set (cluster) ids of the rows, for a cluster-robust variance after matching
    /// (each row its own cluster otherwise, and for unmatched rows).
    pub fn clusters(&self) -> Vec<u64> {
        let n = self.weights.len() as u64;
        match &self.matched {
            Some(m) if !m.replacement => m
                .set_of_row
                .iter()
                .enumerate()
                .map(|(i, s)| s.map_or(n + i as u64, u64::from))
                .collect(),
            _ => (0..n).collect(),
        }
    }
}

/// The weighted Cox model of the event on the group alone (treated = 1), over the rows of
/// positive weight, with a robust variance clustered by `cluster` (default: by row), and the
/// global test of proportional hazards (`cox.zph`, KM transform) when it can be computed.
pub fn weighted_cox(
    time: &[f64],
    event: &[bool],
    treated: &[bool],
    weights: &[f64],
    cluster: Option<&[u64]>,
) -> Result<(CoxFit, Option<ZphTest>), ModelError> {
    let rows: Vec<usize> = (0..time.len()).filter(|&i| weights[i] > 0.0).collect();
    let t: Vec<f64> = rows.iter().map(|&i| time[i]).collect();
    let e: Vec<bool> = rows.iter().map(|&i| event[i]).collect();
    let w: Vec<f64> = rows.iter().map(|&i| weights[i]).collect();
    let c: Vec<u64> = match cluster {
        Some(c) => rows.iter().map(|&i| c[i]).collect(),
        None => (0..rows.len() as u64).collect(),
    };
    let x = Array2::from_shape_fn((rows.len(), 1), |(r, _)| {
        f64::from(u8::from(treated[rows[r]]))
    });
    let names = vec!["treated".to_string()];
    let data = CoxData::new(&t, &e, x.view(), &names)
        .with_weights(&w)
        .with_cluster(&c);
    let options = CoxOptions {
        robust: Some(true),
        concordance: false,
        ..CoxOptions::default()
    };
    let model = CoxModel::fit(&data, &options)?;
    let ph = model
        .zph(ZphTransform::Km)
        .ok()
        .and_then(|z| z.tests.into_iter().find(|t| t.term == "GLOBAL"))
        .filter(|t| t.p_value.is_finite() && t.chisq.is_finite());
    Ok((model.into_summary(), ph))
}

/// Options of [`adjusted_differences`].
#[derive(Debug, Clone, Copy)]
pub struct Horizon {
    pub tau: f64,
    /// Cause code of the event of interest (1 for a 0/1 event).
    pub event_cause: u32,
    pub replicates: usize,
    pub seed: u64,
    pub conf_level: f64,
}

/// Weighted risk and restricted mean at τ per group with bootstrap intervals; IPTW refits the
/// propensity model on every bootstrap sample, matching keeps its weights.
#[allow(clippy::too_many_arguments)]
pub fn adjusted_differences(
    adj: &Adjustment,
    time: &[f64],
    cause: &[u32],
    treated: &[bool],
    x: ArrayView2<'_, f64>,
    names: &[String],
    horizon: &Horizon,
    event_label: &str,
) -> Result<AdjustedDifferences, ModelError> {
    let outcome = ComparisonOutcome::new(time, cause);
    let options = AdjustedOptions {
        tau: horizon.tau,
        event_cause: horizon.event_cause,
        replicates: horizon.replicates,
        seed: horizon.seed,
        conf_level: horizon.conf_level,
        ..AdjustedOptions::default()
    };
    let reestimated = adj.spec.method == Method::Iptw;
    let r: AdjustedComparison = if reestimated {
        let spec = adj.spec;
        adjusted_comparison_reestimated(
            &outcome,
            treated,
            |rows: &[usize]| {
                if rows.len() == treated.len() && rows.iter().enumerate().all(|(k, &i)| k == i) {
                    Ok(adj.weights.clone())
                } else {
                    reestimated_weights(treated, x, names, &spec, rows)
                }
            },
            &options,
        )?
    } else {
        adjusted_comparison(&outcome, treated, &adj.weights, &options)?
    };
    let diff = |b: models::adjusted::BootstrapInterval| Difference {
        estimate: b.estimate,
        std_err: b.std_err,
        lower: b.lower,
        upper: b.upper,
    };
    Ok(AdjustedDifferences {
        tau: r.tau,
        event: event_label.into(),
        risk_treated: r.treated.risk,
        risk_control: r.control.risk,
        risk_difference: diff(r.risk_difference),
        restricted_mean_treated: r.treated.restricted_mean,
        restricted_mean_control: r.control.restricted_mean,
        restricted_mean_difference: diff(r.restricted_mean_difference),
        replicates: r.replicates,
        failed_replicates: r.failed_replicates,
        seed: r.seed,
        reestimated,
        conf_level: r.conf_level,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small confounded sample: age drives both treatment and (not used here) outcome.
    fn sample() -> (Vec<bool>, Array2<f64>, Vec<String>) {
        let n = 400;
        let mut treated = Vec::with_capacity(n);
        let mut x = Array2::zeros((n, 2));
        for i in 0..n {
            let age = (i % 17) as f64;
            let girl = (i % 3 == 0) as u8 as f64;
            // deterministic pseudo-random treatment with a propensity rising in age
            let u = ((i as f64 * 0.618_033_988_7) % 1.0 + 1.0) % 1.0;
            let p = 1.0 / (1.0 + (-(-1.5 + 0.15 * age + 0.3 * girl)).exp());
            treated.push(u < p);
            x[[i, 0]] = age;
            x[[i, 1]] = girl;
        }
        (treated, x, vec!["age".into(), "girl".into()])
    }

    #[test]
    fn weighting_balances_and_matching_keeps_the_treated() {
        let (t, x, names) = sample();
        let adj = adjust(&t, x.view(), &names, &Spec::default()).expect("iptw");
        assert!(adj.balance.max_abs_smd_after < adj.balance.max_abs_smd_before);
        assert_eq!(adj.diagnostics.len(), 4);
        let s = adj.summary(x.view(), &t, "treated", "untreated", None);
        assert_eq!(s.balance.len(), 2);
        assert_eq!(s.propensity.terms.len(), 3);
        assert_eq!(s.method, "iptw");
        let spec = Spec {
            method: Method::Matching,
            estimand: Estimand::Att,
            ..Spec::default()
        };
        let m = adjust(&t, x.view(), &names, &spec).expect("matching");
        let ms = m.matched.as_ref().expect("matched");
        assert!(ms.n_matched_treated > 0);
        let ate = Spec {
            method: Method::Matching,
            ..Spec::default()
        };
        assert!(adjust(&t, x.view(), &names, &ate).is_err());
    }

    #[test]
    fn small_indicators_are_withheld_with_a_k() {
        let (t, mut x, names) = sample();
        // girl = 1 on only three treated rows
        let mut seen = 0;
        for i in 0..t.len() {
            if x[[i, 1]] == 1.0 && t[i] {
                seen += 1;
                if seen > 3 {
                    x[[i, 1]] = 0.0;
                }
            }
        }
        let adj = adjust(&t, x.view(), &names, &Spec::default()).expect("iptw");
        let s = adj.summary(x.view(), &t, "t", "c", Some(10));
        assert!(s.balance[1].suppressed && s.balance[1].smd_before.is_none());
        assert!(!s.balance[0].suppressed);
        assert!(s.propensity.terms[2].suppressed);
    }
}
