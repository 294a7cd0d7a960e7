//! Kaplan–Meier survival and Nelson–Aalen cumulative hazard as R's `survfit(Surv(...) ~ 1)`
//! computes them (case weights, delayed entry, robust variance by subject, confidence bands,
//! quantiles, summaries at chosen times), plus the follow-up columns, input checks, time grid
//! and influence (infinitesimal jackknife) sweep that the other non-parametric estimators share.
//!
//! Conventions, all R's: a row is at risk on `(entry, time]`; the curve has one step per
//! distinct exit time (events and censorings); ties are handled as R does (`d/n` hazard steps,
//! Greenwood `d/(n(n−d))`); case weights enter every count.

use rayon::prelude::*;
use serde::Serialize;

use crate::{ModelError, dist};

// ---------------------------------------------------------------------------------------------
// Input: the follow-up columns
// ---------------------------------------------------------------------------------------------

/// Follow-up of one row (a child, or one spell of a child): at risk on `(entry, time]`, ending
/// in an event or in censoring. Columns are borrowed; checks happen in the estimators.
#[derive(Debug, Clone, Copy)]
pub struct FollowUp<'a> {
    /// Exit time: the event or censoring time (>= 0).
    pub time: &'a [f64],
    /// Whether the exit is an event (`true`) or a censoring (`false`).
    pub event: &'a [bool],
    /// Delayed entry (left truncation): the row is at risk only after this time (>= 0, < time).
    pub entry: Option<&'a [f64]>,
    /// Case weights (> 0). Without them every row weighs 1.
    pub weight: Option<&'a [f64]>,
    /// Subject of each row (R's `id`): rows of one subject form one cluster for the robust
    /// variance, and contiguous spells `(a,b](b,c]` count one entry and one censoring.
    pub subject: Option<&'a [u32]>,
}

impl<'a> FollowUp<'a> {
    /// Right-censored follow-up from time 0.
    pub fn new(time: &'a [f64], event: &'a [bool]) -> Self {
        FollowUp {
            time,
            event,
            entry: None,
            weight: None,
            subject: None,
        }
    }

    /// Adds delayed entry times (R's `Surv(entry, time, event)`).
    pub fn with_entry(mut self, entry: &'a [f64]) -> Self {
        self.entry = Some(entry);
        self
    }

    /// Adds case weights (R's `weights=`).
    pub fn with_weights(mut self, weight: &'a [f64]) -> Self {
        self.weight = Some(weight);
        self
    }

    /// Adds subject identifiers (R's `id=`).
    pub fn with_subjects(mut self, subject: &'a [u32]) -> Self {
        self.subject = Some(subject);
        self
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.time.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Checks lengths, times, entries and weights; names the first offending row.
    pub(crate) fn check(&self) -> Result<(), ModelError> {
        let n = self.time.len();
        check_length("event", n, self.event.len())?;
        if let Some(entry) = self.entry {
            check_length("entry", n, entry.len())?;
        }
        if let Some(subject) = self.subject {
            check_length("subject", n, subject.len())?;
        }
        check_times(self.time, self.entry)?;
        check_weights(n, self.weight)
    }

    #[inline]
    pub(crate) fn weight_of(&self, row: usize) -> f64 {
        weight_of(self.weight, row)
    }
}

#[inline]
pub(crate) fn weight_of(weight: Option<&[f64]>, row: usize) -> f64 {
    match weight {
        Some(w) => w[row],
        None => 1.0,
    }
}

pub(crate) fn check_length(column: &str, expected: usize, found: usize) -> Result<(), ModelError> {
    if expected == found {
        Ok(())
    } else {
        Err(ModelError::LengthMismatch {
            column: column.to_string(),
            expected,
            found,
        })
    }
}

/// Exit times finite and >= 0; entries finite, >= 0 and before the exit; at least one row.
pub(crate) fn check_times(time: &[f64], entry: Option<&[f64]>) -> Result<(), ModelError> {
    if time.is_empty() {
        return Err(ModelError::Unsupported(
            "no rows: the estimator needs at least one row".into(),
        ));
    }
    for (row, &t) in time.iter().enumerate() {
        if !t.is_finite() {
            return Err(invalid(row, format!("time is {t}, not a finite number")));
        }
        if t < 0.0 {
            return Err(invalid(row, format!("time {t} is negative")));
        }
    }
    if let Some(entry) = entry {
        check_length("entry", time.len(), entry.len())?;
        for (row, (&s, &t)) in entry.iter().zip(time).enumerate() {
            if !s.is_finite() {
                return Err(invalid(row, format!("entry is {s}, not a finite number")));
            }
            if s < 0.0 {
                return Err(invalid(row, format!("entry {s} is negative")));
            }
            if s >= t {
                return Err(invalid(
                    row,
                    format!("entry {s} is not before the exit time {t}"),
                ));
            }
        }
    }
    Ok(())
}

/// Weights finite and > 0.
pub(crate) fn check_weights(n: usize, weight: Option<&[f64]>) -> Result<(), ModelError> {
    if let Some(weight) = weight {
        check_length("weight", n, weight.len())?;
        for (row, &w) in weight.iter().enumerate() {
            if !(w.is_finite() && w > 0.0) {
                return Err(invalid(
                    row,
                    format!("weight {w} is not a positive finite number"),
                ));
            }
        }
    }
    Ok(())
}

pub(crate) fn invalid(row: usize, message: String) -> ModelError {
    ModelError::InvalidValue { row, message }
}

pub(crate) fn check_conf_level(conf_level: f64) -> Result<f64, ModelError> {
    if conf_level.is_finite() && conf_level > 0.0 && conf_level < 1.0 {
        Ok(dist::normal_quantile(1.0 - (1.0 - conf_level) / 2.0))
    } else {
        Err(ModelError::Unsupported(format!(
            "confidence level {conf_level} is not strictly between 0 and 1"
        )))
    }
}

// ---------------------------------------------------------------------------------------------
// Options and results
// ---------------------------------------------------------------------------------------------

/// Scale on which the pointwise confidence band is built (R's `conf.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConfType {
    /// `p ± z·se`, clipped to [0, 1].
    Plain,
    /// `exp(log p ± z·se/p)`, upper end capped at 1 (R's default).
    #[default]
    Log,
    /// `exp(−exp(log(−log p) ∓ z·se/(p·log p)))`.
    LogLog,
}

/// How the standard errors are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StdErrMethod {
    /// R's rule: the robust (infinitesimal jackknife) variance when a weight is not an integer
    /// or a subject has more than one event, otherwise Greenwood / Nelson–Aalen.
    #[default]
    Auto,
    /// Greenwood for survival and `Σ d/n²` for the cumulative hazard (weights as counts).
    Greenwood,
    /// Infinitesimal jackknife, clustered by subject (each row its own cluster without
    /// subjects); R's `robust = TRUE`.
    Robust,
}

/// Options of [`kaplan_meier`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KaplanMeierOptions {
    /// Scale of the confidence band (default log, as R).
    pub conf_type: ConfType,
    /// Confidence level of the band and of quantile intervals (default 0.95).
    pub conf_level: f64,
    /// Variance estimator (default: R's automatic rule).
    pub std_err: StdErrMethod,
}

impl Default for KaplanMeierOptions {
    fn default() -> Self {
        KaplanMeierOptions {
            conf_type: ConfType::Log,
            conf_level: 0.95,
            std_err: StdErrMethod::Auto,
        }
    }
}

/// A Kaplan–Meier survival curve with its Nelson–Aalen cumulative hazard: one entry per
/// distinct exit time, as the columns of R's `survfit` object.
#[derive(Debug, Clone, Serialize)]
pub struct SurvivalCurve {
    /// Rows used.
    pub n_rows: usize,
    /// Distinct exit times (events and censorings), ascending.
    pub time: Vec<f64>,
    /// Weighted number at risk just before each time.
    pub n_risk: Vec<f64>,
    /// Weighted number of events at each time.
    pub n_event: Vec<f64>,
    /// Weighted number censored at each time (with subjects and spells, only a subject's
    /// last contiguous spell counts, as R).
    pub n_censor: Vec<f64>,
    /// With delayed entry: weighted number entering the risk set since the previous time.
    pub n_enter: Option<Vec<f64>>,
    /// Kaplan–Meier survival.
    pub survival: Vec<f64>,
    /// Standard error of the survival (R's `summary(fit)$std.err`); 0 once the curve is 0.
    pub std_err: Vec<f64>,
    /// Lower end of the pointwise confidence band (`None` where R gives NA).
    pub lower: Vec<Option<f64>>,
    /// Upper end of the pointwise confidence band (`None` where R gives NA).
    pub upper: Vec<Option<f64>>,
    /// Nelson–Aalen cumulative hazard (R's `cumhaz`).
    pub cumulative_hazard: Vec<f64>,
    /// Standard error of the cumulative hazard (R's `std.chaz`).
    pub std_err_cumulative_hazard: Vec<f64>,
    /// Scale of the confidence band.
    pub conf_type: ConfType,
    /// Confidence level.
    pub conf_level: f64,
    /// Variance estimator actually used (`Greenwood` or `Robust`).
    pub std_err_method: StdErrMethod,
}

/// The curve of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupCurve {
    /// Group label as given.
    pub group: u32,
    /// Its curve.
    pub curve: SurvivalCurve,
}

/// A quantile of the survival time with its confidence interval (R's `quantile.survfit`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SurvivalQuantile {
    /// Probability `p`: the time by which a fraction `p` has had the event (0.5 = median).
    pub probability: f64,
    /// The quantile; `None` when the curve does not reach `1 − p`.
    pub time: Option<f64>,
    /// Lower confidence limit: where the band's lower curve reaches `1 − p`, if it does.
    pub lower: Option<f64>,
    /// Upper confidence limit: where the band's upper curve reaches `1 − p`, if it does.
    pub upper: Option<f64>,
}

/// The curve read at one chosen time, as a row of R's `summary(fit, times =, extend = TRUE)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurveAtTime {
    /// The chosen time.
    pub time: f64,
    /// Weighted number at risk at that time (0 after the last exit).
    pub n_risk: f64,
    /// Weighted events since the previous chosen time (from the start for the first).
    pub n_event: f64,
    /// Weighted censorings since the previous chosen time.
    pub n_censor: f64,
    /// With delayed entry: weighted entries since the previous chosen time.
    pub n_enter: Option<f64>,
    /// Survival at that time.
    pub survival: f64,
    /// Its standard error.
    pub std_err: f64,
    /// Lower confidence limit.
    pub lower: Option<f64>,
    /// Upper confidence limit.
    pub upper: Option<f64>,
    /// Cumulative hazard at that time.
    pub cumulative_hazard: f64,
    /// Its standard error.
    pub std_err_cumulative_hazard: f64,
}

// ---------------------------------------------------------------------------------------------
// Estimators
// ---------------------------------------------------------------------------------------------

/// Kaplan–Meier survival and Nelson–Aalen cumulative hazard of all rows, as
/// `survfit(Surv(time, event) ~ 1, weights =, id =)` (or `Surv(entry, time, event)`).
pub fn kaplan_meier(
    data: &FollowUp,
    options: &KaplanMeierOptions,
) -> Result<SurvivalCurve, ModelError> {
    data.check()?;
    let z = check_conf_level(options.conf_level)?;
    let method = resolve_method(data, options.std_err);
    let strings = spell_strings(data, 0..data.len());
    Ok(curve_for_rows(
        data,
        0..data.len(),
        data.len(),
        strings.as_deref(),
        method,
        options,
        z,
    ))
}

/// One Kaplan–Meier curve per group (R's `survfit(Surv(...) ~ group)`), groups in ascending
/// label order; the groups are estimated in parallel.
pub fn kaplan_meier_by_group(
    data: &FollowUp,
    group: &[u32],
    options: &KaplanMeierOptions,
) -> Result<Vec<GroupCurve>, ModelError> {
    data.check()?;
    check_length("group", data.len(), group.len())?;
    let z = check_conf_level(options.conf_level)?;
    let method = resolve_method(data, options.std_err);
    let strings = spell_strings(data, 0..data.len());
    let partition = Partition::by_label(group);
    Ok(partition
        .groups()
        .into_par_iter()
        .map(|(label, rows)| GroupCurve {
            group: label,
            curve: curve_for_rows(
                data,
                rows.iter().map(|&r| r as usize),
                rows.len(),
                strings.as_deref(),
                method,
                options,
                z,
            ),
        })
        .collect())
}

/// R's automatic choice of variance (survfitKM): robust when a weight is fractional or a
/// subject has two or more events.
fn resolve_method(data: &FollowUp, requested: StdErrMethod) -> StdErrMethod {
    match requested {
        StdErrMethod::Greenwood => StdErrMethod::Greenwood,
        StdErrMethod::Robust => StdErrMethod::Robust,
        StdErrMethod::Auto => {
            let fractional = data
                .weight
                .is_some_and(|w| w.iter().any(|&x| x.fract() != 0.0));
            let repeated_events = data.subject.is_some_and(|subject| {
                let mut ids: Vec<u32> = subject
                    .iter()
                    .zip(data.event)
                    .filter(|(_, e)| **e)
                    .map(|(s, _)| *s)
                    .collect();
                ids.sort_unstable();
                ids.windows(2).any(|w| w[0] == w[1])
            });
            if fractional || repeated_events {
                StdErrMethod::Robust
            } else {
                StdErrMethod::Greenwood
            }
        }
    }
}

fn curve_for_rows<I>(
    data: &FollowUp,
    rows: I,
    n_rows: usize,
    strings: Option<&[u8]>,
    method: StdErrMethod,
    options: &KaplanMeierOptions,
    z: f64,
) -> SurvivalCurve
where
    I: Iterator<Item = usize> + Clone,
{
    let grid = TimeGrid::from_exits(data.time, rows.clone());
    let sets = RiskSets::accumulate(data, rows.clone(), &grid, strings);
    let steps = KaplanMeierSteps::from_risk_sets(&sets);

    let (std_err, se_log, std_err_cumulative_hazard) = match method {
        StdErrMethod::Robust => {
            let spans = Spans::new(data, rows, &grid);
            // R updates the robust variance at event times only; carrying it over between
            // them keeps flat stretches exactly flat (quantiles depend on it).
            let var_surv = carry_over_events(
                spans.influence_variance(&steps.greenwood, &steps.greenwood_jump, 1.0),
                &sets.n_event,
            );
            let var_chaz = carry_over_events(
                spans.influence_variance(&steps.nelson_var, &steps.nelson_jump, -1.0),
                &sets.n_event,
            );
            let std_err: Vec<f64> = var_surv
                .iter()
                .zip(&steps.survival)
                .map(|(&v, &s)| if s > 0.0 { s * v.max(0.0).sqrt() } else { 0.0 })
                .collect();
            let se_log = std_err
                .iter()
                .zip(&steps.survival)
                .map(|(&sd, &s)| if sd == 0.0 { 0.0 } else { sd / s })
                .collect();
            (
                std_err,
                se_log,
                var_chaz.iter().map(|v| v.max(0.0).sqrt()).collect(),
            )
        }
        _ => {
            let se_log: Vec<f64> = steps.greenwood_sum.iter().map(|v| v.sqrt()).collect();
            let std_err = se_log
                .iter()
                .zip(&steps.survival)
                .map(|(&se, &s)| if s > 0.0 { s * se } else { 0.0 })
                .collect();
            (
                std_err,
                se_log,
                steps.nelson_var.iter().map(|v| v.sqrt()).collect(),
            )
        }
    };
    let (lower, upper) = steps
        .survival
        .iter()
        .zip(&se_log)
        .map(|(&p, &se)| confidence_band(p, se, options.conf_type, z))
        .unzip();
    SurvivalCurve {
        n_rows,
        time: sets.time,
        n_risk: sets.n_risk,
        n_event: sets.n_event,
        n_censor: sets.n_censor,
        n_enter: sets.n_enter,
        survival: steps.survival,
        std_err,
        lower,
        upper,
        cumulative_hazard: steps.cumulative_hazard,
        std_err_cumulative_hazard,
        conf_type: options.conf_type,
        conf_level: options.conf_level,
        std_err_method: if method == StdErrMethod::Robust {
            StdErrMethod::Robust
        } else {
            StdErrMethod::Greenwood
        },
    }
}

/// Keeps the values at grid times with events and repeats the last one elsewhere (0 before
/// the first event).
pub(crate) fn carry_over_events(mut values: Vec<f64>, n_event: &[f64]) -> Vec<f64> {
    let mut last = 0.0;
    for (v, &d) in values.iter_mut().zip(n_event) {
        if d > 0.0 {
            last = *v;
        } else {
            *v = last;
        }
    }
    values
}

/// Running Kaplan–Meier and Nelson–Aalen quantities over the grid.
struct KaplanMeierSteps {
    survival: Vec<f64>,
    /// Greenwood sum `Σ d/(n(n−d))` (infinite once the curve reaches 0).
    greenwood_sum: Vec<f64>,
    /// The same, but with the step where the curve reaches 0 (and later ones) left out:
    /// the accumulator `G` of the influence sweep.
    greenwood: Vec<f64>,
    /// `−1/(n−d)`: the jump of an event row's survival influence (0 once the curve is 0).
    greenwood_jump: Vec<f64>,
    cumulative_hazard: Vec<f64>,
    /// `Σ d/n²`.
    nelson_var: Vec<f64>,
    /// `1/n`: the jump of an event row's cumulative-hazard influence.
    nelson_jump: Vec<f64>,
}

impl KaplanMeierSteps {
    fn from_risk_sets(sets: &RiskSets) -> Self {
        let t = sets.time.len();
        let mut out = KaplanMeierSteps {
            survival: Vec::with_capacity(t),
            greenwood_sum: Vec::with_capacity(t),
            greenwood: Vec::with_capacity(t),
            greenwood_jump: Vec::with_capacity(t),
            cumulative_hazard: Vec::with_capacity(t),
            nelson_var: Vec::with_capacity(t),
            nelson_jump: Vec::with_capacity(t),
        };
        let (mut s, mut gsum, mut g, mut h, mut vh) = (1.0_f64, 0.0_f64, 0.0_f64, 0.0_f64, 0.0_f64);
        for i in 0..t {
            let n = sets.n_risk[i];
            let d = sets.n_event[i];
            let mut jump = 0.0;
            if d > 0.0 {
                let alive = s > 0.0;
                s *= (n - d) / n;
                gsum += d / (n * (n - d));
                if alive && s > 0.0 {
                    g += d / (n * (n - d));
                    jump = -1.0 / (n - d);
                }
                h += d / n;
                vh += d / (n * n);
            }
            out.survival.push(s);
            out.greenwood_sum.push(gsum);
            out.greenwood.push(g);
            out.greenwood_jump.push(jump);
            out.cumulative_hazard.push(h);
            out.nelson_var.push(vh);
            out.nelson_jump.push(if d > 0.0 { 1.0 / n } else { 0.0 });
        }
        out
    }
}

/// The pointwise confidence band of R's `survfit_confint` for a probability `p` whose
/// log-scale standard error is `se` (`se_log = sd(p)/p`). `None` where R gives NA or NaN.
pub(crate) fn confidence_band(
    p: f64,
    se: f64,
    conf_type: ConfType,
    z: f64,
) -> (Option<f64>, Option<f64>) {
    let finite = |x: f64| if x.is_nan() { None } else { Some(x) };
    match conf_type {
        ConfType::Plain => {
            let half = se * p * z;
            (finite(r_pmax(p - half, 0.0)), finite(r_pmin(p + half, 1.0)))
        }
        ConfType::Log => {
            if p == 0.0 {
                return (None, None);
            }
            let half = z * se;
            (
                finite((p.ln() - half).exp()),
                finite(r_pmin((p.ln() + half).exp(), 1.0)),
            )
        }
        ConfType::LogLog => {
            if p == 0.0 || p == 1.0 {
                return (None, None);
            }
            let half = z * se / p.ln();
            let ll = (-p.ln()).ln();
            (
                finite((-(ll - half).exp()).exp()),
                finite((-(ll + half).exp()).exp()),
            )
        }
    }
}

/// R's `pmax`/`pmin` keep NaN.
fn r_pmax(a: f64, b: f64) -> f64 {
    if a.is_nan() { a } else { a.max(b) }
}
fn r_pmin(a: f64, b: f64) -> f64 {
    if a.is_nan() { a } else { a.min(b) }
}

// ---------------------------------------------------------------------------------------------
// Reading the curve: quantiles and chosen times
// ---------------------------------------------------------------------------------------------

/// R's tolerance in `quantile.survfit`: `sqrt(.Machine$double.eps)`.
const QUANTILE_TOLERANCE: f64 = 1.490_116_119_384_765_6e-8;

impl SurvivalCurve {
    /// Quantiles of the survival time with confidence intervals, exactly as R's
    /// `quantile(fit, probs)`: the first time the curve reaches `1 − p`; when the curve sits
    /// exactly at `1 − p` over a stretch, the midpoint of that stretch (to the last exit time
    /// if the curve ends there). The interval reads the band's curves the same way.
    pub fn quantiles(&self, probabilities: &[f64]) -> Result<Vec<SurvivalQuantile>, ModelError> {
        for (i, &p) in probabilities.iter().enumerate() {
            if !(0.0..=1.0).contains(&p) {
                return Err(invalid(i, format!("probability {p} is not in [0, 1]")));
            }
        }
        let mut x = Vec::with_capacity(self.time.len() + 1);
        x.push(0.0);
        x.extend_from_slice(&self.time);
        let curve = |values: &mut dyn Iterator<Item = Option<f64>>| -> Vec<Option<f64>> {
            std::iter::once(Some(0.0))
                .chain(values.map(|v| v.map(|s| 1.0 - s)))
                .collect()
        };
        let estimate = find_quantiles(
            &x,
            &curve(&mut self.survival.iter().map(|&s| Some(s))),
            probabilities,
        );
        let lower = find_quantiles(&x, &curve(&mut self.lower.iter().copied()), probabilities);
        let upper = find_quantiles(&x, &curve(&mut self.upper.iter().copied()), probabilities);
        Ok(probabilities
            .iter()
            .enumerate()
            .map(|(i, &p)| SurvivalQuantile {
                probability: p,
                time: estimate[i],
                lower: lower[i],
                upper: upper[i],
            })
            .collect())
    }

    /// Median survival time with its confidence interval (R's `quantile(fit, 0.5)`, which
    /// `print(fit)` shows as median, LCL, UCL).
    pub fn median(&self) -> SurvivalQuantile {
        match self.quantiles(&[0.5]) {
            Ok(q) if !q.is_empty() => q[0],
            _ => SurvivalQuantile {
                probability: 0.5,
                time: None,
                lower: None,
                upper: None,
            },
        }
    }

    /// The median as `print(fit)` shows it (R's `survmean`, which differs from
    /// [`Self::median`] in one case: when the curve ends exactly at 1/2, `print` reports the
    /// first time it reached 1/2 where `quantile` reports the midpoint to the last exit).
    /// The limits read the band's curves the same way.
    pub fn printed_median(&self) -> SurvivalQuantile {
        let survival: Vec<Option<f64>> = self.survival.iter().map(|&s| Some(s)).collect();
        SurvivalQuantile {
            probability: 0.5,
            time: first_below_half(&self.time, &survival),
            lower: first_below_half(&self.time, &self.lower),
            upper: first_below_half(&self.time, &self.upper),
        }
    }

    /// Survival at time `t` (1 before the first exit, the last value after the last one).
    pub fn survival_at(&self, t: f64) -> f64 {
        let k = self.time.partition_point(|&x| x <= t);
        if k == 0 { 1.0 } else { self.survival[k - 1] }
    }

    /// The curve read at chosen times, as R's `summary(fit, times, extend = TRUE)`: times
    /// come back sorted; counts of events, censorings and entries are those since the
    /// previous chosen time; the number at risk is that at the chosen time.
    pub fn at_times(&self, times: &[f64]) -> Result<Vec<CurveAtTime>, ModelError> {
        let sorted = sorted_times(times)?;
        let table = self.with_time_zero();
        let mut out = Vec::with_capacity(sorted.len());
        let (mut prev_event, mut prev_censor, mut prev_enter) = (0.0, 0.0, 0.0);
        for t in sorted {
            let at_or_before = table.time.partition_point(|&x| x <= t);
            let before = table.time.partition_point(|&x| x < t);
            let row = at_or_before.max(1) - 1;
            let (ev, ce, en) = (
                table.cum_event[at_or_before],
                table.cum_censor[at_or_before],
                table.cum_enter[at_or_before],
            );
            out.push(CurveAtTime {
                time: t,
                n_risk: table.n_risk.get(before).copied().unwrap_or(0.0),
                n_event: ev - prev_event,
                n_censor: ce - prev_censor,
                n_enter: self.n_enter.as_ref().map(|_| en - prev_enter),
                survival: table.survival[row],
                std_err: table.std_err[row],
                lower: table.lower[row],
                upper: table.upper[row],
                cumulative_hazard: table.cumulative_hazard[row],
                std_err_cumulative_hazard: table.std_err_cumulative_hazard[row],
            });
            (prev_event, prev_censor, prev_enter) = (ev, ce, en);
        }
        Ok(out)
    }

    /// R's `survfit0`: the curve with a row at time 0 (unless an exit is at 0), plus running
    /// sums of the counts (index k = sum over the first k rows).
    fn with_time_zero(&self) -> TimeZeroTable {
        let add = self.time.first().is_none_or(|&t| t != 0.0);
        let mut table = TimeZeroTable::default();
        if add {
            table.time.push(0.0);
            table
                .n_risk
                .push(self.n_risk.first().copied().unwrap_or(0.0));
            table.survival.push(1.0);
            table.std_err.push(0.0);
            table.lower.push(Some(1.0));
            table.upper.push(Some(1.0));
            table.cumulative_hazard.push(0.0);
            table.std_err_cumulative_hazard.push(0.0);
        }
        table.time.extend_from_slice(&self.time);
        table.n_risk.extend_from_slice(&self.n_risk);
        table.survival.extend_from_slice(&self.survival);
        table.std_err.extend_from_slice(&self.std_err);
        table.lower.extend_from_slice(&self.lower);
        table.upper.extend_from_slice(&self.upper);
        table
            .cumulative_hazard
            .extend_from_slice(&self.cumulative_hazard);
        table
            .std_err_cumulative_hazard
            .extend_from_slice(&self.std_err_cumulative_hazard);
        let zeros = vec![0.0; self.time.len()];
        let enter = self.n_enter.as_ref().unwrap_or(&zeros);
        table.cum_event = running_sum(add, &self.n_event);
        table.cum_censor = running_sum(add, &self.n_censor);
        table.cum_enter = running_sum(add, enter);
        table
    }
}

#[derive(Default)]
struct TimeZeroTable {
    time: Vec<f64>,
    n_risk: Vec<f64>,
    survival: Vec<f64>,
    std_err: Vec<f64>,
    lower: Vec<Option<f64>>,
    upper: Vec<Option<f64>>,
    cumulative_hazard: Vec<f64>,
    std_err_cumulative_hazard: Vec<f64>,
    cum_event: Vec<f64>,
    cum_censor: Vec<f64>,
    cum_enter: Vec<f64>,
}

/// `c(0, cumsum(c(0?, x)))`: entry k is the sum of the first k rows of the table.
fn running_sum(leading_zero_row: bool, x: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() + 2);
    out.push(0.0);
    let mut acc = 0.0;
    if leading_zero_row {
        out.push(0.0);
    }
    for &v in x {
        acc += v;
        out.push(acc);
    }
    out
}

/// Chosen times, checked finite and sorted (as R's `summary` sorts them).
pub(crate) fn sorted_times(times: &[f64]) -> Result<Vec<f64>, ModelError> {
    for (i, &t) in times.iter().enumerate() {
        if !t.is_finite() {
            return Err(invalid(
                i,
                format!("chosen time {t} is not a finite number"),
            ));
        }
    }
    let mut sorted = times.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    Ok(sorted)
}

/// R's `minmin` (inside `survmean`): the first time the curve is below 1/2 (within
/// tolerance); if it sits at 1/2 there and drops later, the midpoint to that drop.
fn first_below_half(time: &[f64], curve: &[Option<f64>]) -> Option<f64> {
    let tol = QUANTILE_TOLERANCE;
    let kept: Vec<(f64, f64)> = time
        .iter()
        .zip(curve)
        .filter_map(|(&x, y)| y.filter(|&y| y < 0.5 + tol).map(|y| (x, y)))
        .collect();
    let &(x1, y1) = kept.first()?;
    if (y1 - 0.5).abs() < tol
        && let Some(&(x2, _)) = kept.iter().find(|(_, y)| *y < y1)
    {
        return Some((x1 + x2) / 2.0);
    }
    Some(x1)
}

/// R's `findq` (inside `quantile.survfit`): `x` are the times with the start time first,
/// `y` the cumulative distribution `1 − S` there (with 0 first); `None` is R's NA.
pub(crate) fn find_quantiles(
    x: &[f64],
    y: &[Option<f64>],
    probabilities: &[f64],
) -> Vec<Option<f64>> {
    let tol = QUANTILE_TOLERANCE;
    let none = vec![None; probabilities.len()];
    let ymax = y
        .iter()
        .flatten()
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let pmin = probabilities.iter().copied().fold(f64::INFINITY, f64::min);
    if y.iter().all(Option::is_none) || ymax < pmin {
        return none;
    }
    let Some(&xmax) = x.last() else { return none };
    // duplicated(y): keep the first occurrence of each value (NA counts as a value).
    let mut seen = std::collections::HashSet::new();
    let (mut kx, mut ky) = (Vec::new(), Vec::new());
    for (&xi, &yi) in x.iter().zip(y) {
        let key = yi.map(f64::to_bits);
        if seen.insert(key) {
            kx.push(xi);
            ky.push(yi);
        }
    }
    // approx(y ± tol, 1:n, p, "constant", f = 1): the position of the smallest knot >= p.
    let knots = |shift: f64| -> Vec<(f64, usize)> {
        let mut k: Vec<(f64, usize)> = ky
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (v + shift, i)))
            .collect();
        k.sort_by(|a, b| a.0.total_cmp(&b.0));
        k
    };
    let upper_knots = knots(tol);
    let lower_knots = knots(-tol);
    let lookup = |knots: &[(f64, usize)], p: f64| -> Option<usize> {
        let first = knots.first()?;
        let last = knots.last()?;
        if p < first.0 || p > last.0 {
            return None;
        }
        let k = knots.partition_point(|kn| kn.0 < p);
        knots.get(k).map(|kn| kn.1)
    };
    let last_y = ky.last().copied().flatten();
    probabilities
        .iter()
        .map(|&p| {
            let i1 = lookup(&upper_knots, p);
            let i2 = lookup(&lower_knots, p);
            let mut q = match (i1, i2) {
                (Some(a), Some(b)) => Some((kx[a] + kx[b]) / 2.0),
                _ => None,
            };
            if p == 0.0 {
                q = Some(kx[0]);
            }
            if let Some(yn) = last_y
                && (p - yn).abs() < tol
            {
                q = i1.map(|a| (kx[a] + xmax) / 2.0);
            }
            q
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Shared machinery: groups, the time grid, risk sets and the influence sweep
// ---------------------------------------------------------------------------------------------

/// Rows split by a label column, labels ascending (a counting sort: O(n)).
pub(crate) struct Partition {
    pub(crate) labels: Vec<u32>,
    order: Vec<u32>,
    bounds: Vec<usize>,
}

impl Partition {
    pub(crate) fn by_label(label: &[u32]) -> Partition {
        let index = LabelIndex::of(label);
        let k = index.labels.len();
        let mut counts = vec![0usize; k + 1];
        for &l in label {
            counts[index.code(l) + 1] += 1;
        }
        for g in 0..k {
            counts[g + 1] += counts[g];
        }
        let bounds = counts.clone();
        let mut next = counts;
        let mut order = vec![0u32; label.len()];
        for (row, &l) in label.iter().enumerate() {
            let g = index.code(l);
            order[next[g]] = row as u32;
            next[g] += 1;
        }
        Partition {
            labels: index.labels,
            order,
            bounds,
        }
    }

    pub(crate) fn rows(&self, g: usize) -> &[u32] {
        &self.order[self.bounds[g]..self.bounds[g + 1]]
    }

    pub(crate) fn groups(&self) -> Vec<(u32, &[u32])> {
        (0..self.labels.len())
            .map(|g| (self.labels[g], self.rows(g)))
            .collect()
    }
}

/// Dense codes 0..k for arbitrary `u32` labels, ascending.
pub(crate) struct LabelIndex {
    pub(crate) labels: Vec<u32>,
    table: Option<Vec<u32>>,
}

impl LabelIndex {
    pub(crate) fn of(label: &[u32]) -> LabelIndex {
        let max = label.iter().copied().max().unwrap_or(0) as usize;
        if max <= (1 << 20).max(label.len()) {
            let mut present = vec![false; max + 1];
            for &l in label {
                present[l as usize] = true;
            }
            let labels: Vec<u32> = (0..=max)
                .filter(|&l| present[l])
                .map(|l| l as u32)
                .collect();
            let mut table = vec![0u32; max + 1];
            for (code, &l) in labels.iter().enumerate() {
                table[l as usize] = code as u32;
            }
            LabelIndex {
                labels,
                table: Some(table),
            }
        } else {
            let mut labels = label.to_vec();
            labels.sort_unstable();
            labels.dedup();
            LabelIndex {
                labels,
                table: None,
            }
        }
    }

    #[inline]
    pub(crate) fn code(&self, label: u32) -> usize {
        match &self.table {
            Some(t) => t[label as usize] as usize,
            None => self.labels.partition_point(|&l| l < label),
        }
    }
}

/// The distinct exit times of a set of rows and a fast lookup from a time to its position:
/// a table over the integer range when times are whole numbers in a modest range (integer
/// days: no sort at all), otherwise one sort of the exit times.
pub(crate) struct TimeGrid {
    pub(crate) times: Vec<f64>,
    dense: Option<DenseLookup>,
}

struct DenseLookup {
    lo: f64,
    /// Number of grid times <= `lo + b`.
    at_or_before: Vec<u32>,
}

impl TimeGrid {
    pub(crate) fn from_exits<I: Iterator<Item = usize> + Clone>(time: &[f64], rows: I) -> TimeGrid {
        let (mut lo, mut hi, mut integral, mut count) =
            (f64::INFINITY, f64::NEG_INFINITY, true, 0usize);
        for r in rows.clone() {
            let t = time[r];
            lo = lo.min(t);
            hi = hi.max(t);
            integral &= t.fract() == 0.0;
            count += 1;
        }
        if count == 0 {
            return TimeGrid {
                times: Vec::new(),
                dense: None,
            };
        }
        let limit = (4 * count).max(1 << 16).min(u32::MAX as usize) as f64;
        if integral && hi - lo < limit {
            let span = (hi - lo) as usize + 1;
            let mut marks = vec![0u32; span];
            for r in rows {
                marks[(time[r] - lo) as usize] = 1;
            }
            let mut times = Vec::new();
            let mut running = 0u32;
            for (b, m) in marks.iter_mut().enumerate() {
                if *m == 1 {
                    times.push(lo + b as f64);
                    running += 1;
                }
                *m = running;
            }
            TimeGrid {
                times,
                dense: Some(DenseLookup {
                    lo,
                    at_or_before: marks,
                }),
            }
        } else {
            let mut times: Vec<f64> = rows.map(|r| time[r]).collect();
            times.sort_unstable_by(f64::total_cmp);
            times.dedup();
            TimeGrid { times, dense: None }
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.times.len()
    }

    /// Position of an exit time of one of the rows the grid was built from.
    #[inline]
    pub(crate) fn exit_index(&self, t: f64) -> usize {
        match &self.dense {
            Some(d) => d.at_or_before[(t - d.lo) as usize] as usize - 1,
            None => self.times.partition_point(|&g| g < t),
        }
    }

    /// Number of grid times <= `entry`: the first grid position at which a row entering at
    /// `entry` is at risk.
    #[inline]
    pub(crate) fn first_at_risk(&self, entry: f64) -> usize {
        match &self.dense {
            Some(d) => {
                if entry < d.lo {
                    0
                } else {
                    let b = (entry - d.lo).floor() as usize;
                    match d.at_or_before.get(b) {
                        Some(&c) => c as usize,
                        None => self.times.len(),
                    }
                }
            }
            None => self.times.partition_point(|&g| g <= entry),
        }
    }
}

/// Per-row flags for subjects followed in several spells (R's `survflag`): bit 1 marks the
/// first spell of a contiguous string `(a,b](b,c]…`, bit 2 the last. `None` unless both
/// subjects and entry times are given (then every row counts as entry and censoring).
pub(crate) fn spell_strings<I: Iterator<Item = usize>>(
    data: &FollowUp,
    rows: I,
) -> Option<Vec<u8>> {
    let (entry, subject) = (data.entry?, data.subject?);
    let mut order: Vec<u32> = rows.map(|r| r as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        let (a, b) = (a as usize, b as usize);
        subject[a]
            .cmp(&subject[b])
            .then(data.time[a].total_cmp(&data.time[b]))
    });
    let mut flags = vec![0u8; data.len()];
    for (k, &r) in order.iter().enumerate() {
        let r = r as usize;
        let starts = match k.checked_sub(1).map(|j| order[j] as usize) {
            None => true,
            Some(p) => subject[p] != subject[r] || data.time[p] < entry[r],
        };
        let ends = match order.get(k + 1).map(|&j| j as usize) {
            None => true,
            Some(nx) => subject[nx] != subject[r] || data.time[r] < entry[nx],
        };
        flags[r] = u8::from(starts) | (u8::from(ends) << 1);
    }
    Some(flags)
}

/// Weighted counts per grid time.
pub(crate) struct RiskSets {
    pub(crate) time: Vec<f64>,
    pub(crate) n_risk: Vec<f64>,
    pub(crate) n_event: Vec<f64>,
    pub(crate) n_censor: Vec<f64>,
    pub(crate) n_enter: Option<Vec<f64>>,
}

impl RiskSets {
    pub(crate) fn accumulate<I>(
        data: &FollowUp,
        rows: I,
        grid: &TimeGrid,
        strings: Option<&[u8]>,
    ) -> RiskSets
    where
        I: Iterator<Item = usize>,
    {
        let t = grid.len();
        let mut exits = vec![0.0; t];
        let mut events = vec![0.0; t];
        let mut censored = vec![0.0; t];
        let mut late = vec![0.0; t + 1];
        let mut enter = data.entry.map(|_| vec![0.0; t + 1]);
        if data.entry.is_none() && strings.is_none() {
            // Right-censored rows: one branch-free pass.
            for r in rows {
                let w = data.weight_of(r);
                let e = grid.exit_index(data.time[r]);
                let died = if data.event[r] { w } else { 0.0 };
                exits[e] += w;
                events[e] += died;
                censored[e] += w - died;
            }
            return RiskSets::finish(grid, exits, events, censored, late, None);
        }
        for r in rows {
            let w = data.weight_of(r);
            let e = grid.exit_index(data.time[r]);
            exits[e] += w;
            let flag = strings.map_or(3, |s| s[r]);
            if data.event[r] {
                events[e] += w;
            } else if flag & 2 != 0 {
                censored[e] += w;
            }
            if let (Some(entry), Some(enter)) = (data.entry, enter.as_mut()) {
                let f = grid.first_at_risk(entry[r]);
                late[f] += w;
                if flag & 1 != 0 {
                    enter[f] += w;
                }
            }
        }
        RiskSets::finish(grid, exits, events, censored, late, enter)
    }

    fn finish(
        grid: &TimeGrid,
        exits: Vec<f64>,
        events: Vec<f64>,
        censored: Vec<f64>,
        late: Vec<f64>,
        enter: Option<Vec<f64>>,
    ) -> RiskSets {
        let t = grid.len();
        // n_risk[i] = Σ_{exit index >= i} w − Σ_{first-at-risk index > i} w, from the end.
        let mut n_risk = vec![0.0; t];
        let mut running = 0.0;
        for i in (0..t).rev() {
            running += exits[i];
            running -= late[i + 1];
            n_risk[i] = running;
        }
        RiskSets {
            time: grid.times.clone(),
            n_risk,
            n_event: events,
            n_censor: censored,
            n_enter: enter.map(|mut e| {
                e.truncate(t);
                e
            }),
        }
    }
}

/// One row's stay in the risk set on the grid: at risk for positions `first..=exit`.
#[derive(Debug, Clone, Copy)]
struct Span {
    first: usize,
    exit: usize,
    weight: f64,
    event: bool,
}

/// The rows' stays in the risk set, streamed from the columns (nothing per row is stored
/// unless rows must be grouped by subject, and then only their indices).
pub(crate) struct Spans<'d, 'g, I> {
    data: &'d FollowUp<'d>,
    rows: I,
    grid: &'g TimeGrid,
    /// Row indices ordered by subject, when there are subjects.
    by_subject: Option<Vec<u32>>,
}

impl<'d, 'g, I: Iterator<Item = usize> + Clone> Spans<'d, 'g, I> {
    pub(crate) fn new(data: &'d FollowUp<'d>, rows: I, grid: &'g TimeGrid) -> Self {
        let by_subject = data.subject.map(|subject| {
            let mut order: Vec<u32> = rows.clone().map(|r| r as u32).collect();
            order.sort_by_key(|&r| subject[r as usize]);
            order
        });
        Spans {
            data,
            rows,
            grid,
            by_subject,
        }
    }

    fn span(&self, r: usize) -> Span {
        Span {
            first: self.data.entry.map_or(0, |e| self.grid.first_at_risk(e[r])),
            exit: self.grid.exit_index(self.data.time[r]),
            weight: self.data.weight_of(r),
            event: self.data.event[r],
        }
    }

    /// Infinitesimal-jackknife variance at each grid time: `Σ_clusters φ_c(t)²`, where a row
    /// contributes to its cluster's influence `φ` nothing before it enters, `σ·w·(X_i − X_{f−1})`
    /// while at risk, and `σ·w·(X_e − X_{f−1}) + w·J_e·[event]` from its exit `e` on. This is
    /// the closed form of R's per-subject recursions in `survfitkm.c` (with `X` the Greenwood
    /// sum for the survival influence divided by S, or `Σ d/n²` for the cumulative hazard),
    /// swept with difference arrays in O(rows + grid) instead of O(rows × grid). Clusters are
    /// the subjects, or the rows without subjects.
    pub(crate) fn influence_variance(&self, x: &[f64], jump: &[f64], sigma: f64) -> Vec<f64> {
        let t = self.grid.len();
        let mut acc = QuadraticSweep::new(t, 2);
        let x_before = |f: usize| if f == 0 { 0.0 } else { x[f - 1] };
        match (&self.by_subject, self.data.subject) {
            (Some(order), Some(subject)) => {
                let mut breaks: Vec<(usize, f64, f64)> = Vec::new();
                for cluster in order.chunk_by(|&a, &b| subject[a as usize] == subject[b as usize]) {
                    breaks.clear();
                    for &r in cluster {
                        let s = self.span(r as usize);
                        let xb = x_before(s.first);
                        breaks.push((s.first, -sigma * s.weight * xb, sigma * s.weight));
                        let jump_e = if s.event {
                            s.weight * jump[s.exit]
                        } else {
                            0.0
                        };
                        breaks.push((
                            s.exit,
                            sigma * s.weight * x[s.exit] + jump_e,
                            -sigma * s.weight,
                        ));
                    }
                    breaks.sort_by_key(|b| b.0);
                    let (mut a, mut b) = (0.0, 0.0);
                    let mut k = 0;
                    while k < breaks.len() {
                        let at = breaks[k].0;
                        while k < breaks.len() && breaks[k].0 == at {
                            a += breaks[k].1;
                            b += breaks[k].2;
                            k += 1;
                        }
                        let until = breaks.get(k).map_or(t, |n| n.0);
                        acc.add(at, until, &[a, b]);
                    }
                }
            }
            _ => {
                for r in self.rows.clone() {
                    let s = self.span(r);
                    let xb = x_before(s.first);
                    acc.add(s.first, s.exit, &[-sigma * s.weight * xb, sigma * s.weight]);
                    let settled = sigma * s.weight * (x[s.exit] - xb)
                        + if s.event {
                            s.weight * jump[s.exit]
                        } else {
                            0.0
                        };
                    acc.add(s.exit, t, &[settled, 0.0]);
                }
            }
        }
        acc.evaluate(|i| [1.0, x[i]])
    }
}

/// Relative size under which an expanded sum of squares is rounding noise.
const ROUNDING_FLOOR: f64 = 1e-12;

/// Accumulates `Σ (c·v_i)²` over segments of the grid, where each segment has constant
/// coefficients `c` and `v_i` is a vector of global accumulators at position `i`: the
/// coefficient products go into difference arrays (segments that run to the end into running
/// sums from the start, the others into running sums from the end, which keeps the tail
/// precise), so the whole sweep is O(segments + grid).
pub(crate) struct QuadraticSweep {
    t: usize,
    width: usize,
    pairs: usize,
    /// Products of coefficient pairs (upper triangle), for segments ending at `t`.
    forward: Vec<f64>,
    /// The same for segments ending before `t`.
    backward: Vec<f64>,
}

impl QuadraticSweep {
    /// A sweep over `t` grid positions with `width` coefficients per segment.
    pub(crate) fn new(t: usize, width: usize) -> Self {
        let pairs = width * (width + 1) / 2;
        QuadraticSweep {
            t,
            width,
            pairs,
            forward: vec![0.0; (t + 1) * pairs],
            backward: vec![0.0; (t + 1) * pairs],
        }
    }

    /// Adds coefficients `c` (length `width`) on positions `lo..hi`.
    #[inline]
    pub(crate) fn add(&mut self, lo: usize, hi: usize, c: &[f64]) {
        if lo >= hi || c.iter().all(|&v| v == 0.0) {
            return;
        }
        let pairs = self.pairs;
        let mut k = 0;
        for i in 0..self.width {
            for j in i..self.width {
                let v = c[i] * c[j];
                if hi == self.t {
                    self.forward[lo * pairs + k] += v;
                } else {
                    self.backward[(hi - 1) * pairs + k] += v;
                    if lo > 0 {
                        self.backward[(lo - 1) * pairs + k] -= v;
                    }
                }
                k += 1;
            }
        }
    }

    /// `Σ (c·v_i)²` at every position, with `v_i = values(i)` (length `width`).
    pub(crate) fn evaluate<const W: usize>(&self, values: impl Fn(usize) -> [f64; W]) -> Vec<f64> {
        let t = self.t;
        // Running sums from the end (first pass) and from the start (second pass). Alongside,
        // running sums of the absolute entries bound the rounding error left where segments
        // were added and taken away again.
        let mut total = vec![0.0; t];
        let mut magnitude = vec![0.0; t];
        let mut running = vec![0.0; self.pairs];
        let mut running_abs = vec![0.0; self.pairs];
        for i in (0..t).rev() {
            self.accumulate_at(&self.backward, i, &mut running, &mut running_abs);
            (total[i], magnitude[i]) = self.quadratic_form(&running, &running_abs, &values(i));
        }
        running.iter_mut().for_each(|r| *r = 0.0);
        running_abs.iter_mut().for_each(|r| *r = 0.0);
        for i in 0..t {
            self.accumulate_at(&self.forward, i, &mut running, &mut running_abs);
            let (v, m) = self.quadratic_form(&running, &running_abs, &values(i));
            total[i] += v;
            magnitude[i] += m;
        }
        // Below the rounding noise of the sums the variance is 0 (for instance that of a
        // cumulative incidence that has reached 1).
        total
            .iter()
            .zip(&magnitude)
            .map(|(&v, &m)| if v <= ROUNDING_FLOOR * m { 0.0 } else { v })
            .collect()
    }

    fn accumulate_at(&self, diffs: &[f64], i: usize, running: &mut [f64], running_abs: &mut [f64]) {
        for k in 0..self.pairs {
            let x = diffs[i * self.pairs + k];
            running[k] += x;
            running_abs[k] += x.abs();
        }
    }

    /// `Σ_{a<=b} (2 if a≠b) · s_ab · v_a · v_b`, and the same over absolute values.
    fn quadratic_form(&self, s: &[f64], s_abs: &[f64], v: &[f64]) -> (f64, f64) {
        let (mut total, mut magnitude) = (0.0, 0.0);
        let mut k = 0;
        for a in 0..self.width {
            for b in a..self.width {
                let factor = if a == b { 1.0 } else { 2.0 };
                total += factor * s[k] * v[a] * v[b];
                magnitude += factor * s_abs[k] * (v[a] * v[b]).abs();
                k += 1;
            }
        }
        (total, magnitude)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// R's survfitkm.c robust recursion, literally: O(rows × grid), the oracle for the sweep.
    fn naive_influence(data: &FollowUp) -> (Vec<f64>, Vec<f64>) {
        let grid = TimeGrid::from_exits(data.time, 0..data.len());
        let sets = RiskSets::accumulate(data, 0..data.len(), &grid, None);
        let n_clusters = data.subject.map_or(data.len(), |s| {
            s.iter().copied().max().unwrap_or(0) as usize + 1
        });
        let cluster = |r: usize| data.subject.map_or(r, |s| s[r] as usize);
        let mut inf1 = vec![0.0; n_clusters];
        let mut inf2 = vec![0.0; n_clusters];
        let (mut km, mut sd_s, mut sd_h) = (1.0, Vec::new(), Vec::new());
        let (mut v1, mut v2) = (0.0, 0.0);
        for i in 0..grid.len() {
            let t = grid.times[i];
            let (n, d) = (sets.n_risk[i], sets.n_event[i]);
            if d > 0.0 {
                let haz = d / n;
                let mut gwt = vec![0.0; n_clusters];
                for r in 0..data.len() {
                    let entry = data.entry.map_or(f64::NEG_INFINITY, |e| e[r]);
                    if entry < t && data.time[r] >= t {
                        gwt[cluster(r)] += data.weight_of(r);
                    }
                }
                for k in 0..n_clusters {
                    inf1[k] = inf1[k] * (1.0 - haz) + gwt[k] * km * haz / n;
                    inf2[k] -= gwt[k] * haz / n;
                }
                for r in 0..data.len() {
                    if data.time[r] == t && data.event[r] {
                        inf1[cluster(r)] -= km * data.weight_of(r) / n;
                        inf2[cluster(r)] += data.weight_of(r) / n;
                    }
                }
                km *= 1.0 - haz;
                v1 = inf1.iter().map(|v| v * v).sum();
                v2 = inf2.iter().map(|v| v * v).sum();
            }
            sd_s.push(f64::sqrt(v1));
            sd_h.push(f64::sqrt(v2));
        }
        (sd_s, sd_h)
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1e-3)
    }

    #[test]
    fn influence_sweep_matches_r_recursion() {
        let time = [
            3.0, 5.0, 5.0, 7.0, 8.0, 8.0, 9.5, 12.0, 12.0, 15.0, 16.0, 20.0,
        ];
        let event = [
            true, true, false, true, true, true, false, true, false, true, false, true,
        ];
        let entry = [0.0, 1.0, 0.0, 4.5, 2.0, 0.0, 6.0, 3.0, 8.0, 0.0, 11.0, 12.0];
        let weight = [1.0, 0.5, 2.0, 1.5, 1.0, 0.7, 1.2, 1.0, 3.0, 0.4, 1.0, 2.0];
        let subject = [0, 1, 2, 3, 0, 4, 1, 5, 6, 0, 6, 2];
        let options = KaplanMeierOptions {
            std_err: StdErrMethod::Robust,
            ..Default::default()
        };
        for data in [
            FollowUp::new(&time, &event).with_weights(&weight),
            FollowUp::new(&time, &event)
                .with_entry(&entry)
                .with_weights(&weight),
            FollowUp::new(&time, &event)
                .with_entry(&entry)
                .with_weights(&weight)
                .with_subjects(&subject),
            FollowUp::new(&time, &event).with_subjects(&subject),
        ] {
            let fit = kaplan_meier(&data, &options).expect("fit");
            let (sd_s, sd_h) = naive_influence(&data);
            for i in 0..fit.time.len() {
                assert!(
                    close(fit.std_err[i], sd_s[i]),
                    "surv sd at {i}: {} vs {}",
                    fit.std_err[i],
                    sd_s[i]
                );
                assert!(
                    close(fit.std_err_cumulative_hazard[i], sd_h[i]),
                    "chaz sd at {i}: {} vs {}",
                    fit.std_err_cumulative_hazard[i],
                    sd_h[i]
                );
            }
        }
    }

    #[test]
    fn textbook_curve() {
        // Four rows, one tie: S = 3/4 at 1, then 3/4 · 1/3 at 2 (two events of three at risk).
        let time = [1.0, 2.0, 2.0, 3.0];
        let event = [true, true, true, false];
        let fit = kaplan_meier(
            &FollowUp::new(&time, &event),
            &KaplanMeierOptions::default(),
        )
        .expect("fit");
        assert_eq!(fit.time, vec![1.0, 2.0, 3.0]);
        assert_eq!(fit.n_risk, vec![4.0, 3.0, 1.0]);
        assert!((fit.survival[1] - 0.25).abs() < 1e-15);
        assert!((fit.cumulative_hazard[1] - (0.25 + 2.0 / 3.0)).abs() < 1e-15);
        let g: f64 = 1.0 / 12.0 + 2.0 / 3.0;
        assert!((fit.std_err[1] - 0.25 * g.sqrt()).abs() < 1e-15);
    }

    #[test]
    fn dense_and_sorted_grids_agree() {
        let time = [4.0, 1.0, 9.0, 4.0, 2.0];
        let dense = TimeGrid::from_exits(&time, 0..time.len());
        assert!(dense.dense.is_some());
        let shifted: Vec<f64> = time.iter().map(|t| t + 0.5).collect();
        let sorted = TimeGrid::from_exits(&shifted, 0..time.len());
        assert!(sorted.dense.is_none());
        for (&a, &b) in time.iter().zip(&shifted) {
            assert_eq!(dense.exit_index(a), sorted.exit_index(b));
        }
        assert_eq!(dense.first_at_risk(3.5), 2);
        assert_eq!(dense.first_at_risk(4.0), 3);
        assert_eq!(dense.first_at_risk(0.0), 0);
        assert_eq!(dense.first_at_risk(100.0), 4);
    }

    #[test]
    fn bad_rows_are_named() {
        let time = [1.0, f64::NAN];
        let event = [true, false];
        let err = kaplan_meier(
            &FollowUp::new(&time, &event),
            &KaplanMeierOptions::default(),
        )
        .expect_err("must fail");
        assert!(matches!(err, ModelError::InvalidValue { row: 1, .. }));
        let err = kaplan_meier(
            &FollowUp::new(&[1.0], &event),
            &KaplanMeierOptions::default(),
        )
        .expect_err("must fail");
        assert!(matches!(err, ModelError::LengthMismatch { .. }));
        let w = [1.0, 0.0];
        let err = kaplan_meier(
            &FollowUp::new(&[1.0, 2.0], &event).with_weights(&w),
            &KaplanMeierOptions::default(),
        )
        .expect_err("must fail");
        assert!(matches!(err, ModelError::InvalidValue { row: 1, .. }));
        let err = kaplan_meier(&FollowUp::new(&[], &[]), &KaplanMeierOptions::default())
            .expect_err("must fail");
        assert!(matches!(err, ModelError::Unsupported(_)));
    }
}
