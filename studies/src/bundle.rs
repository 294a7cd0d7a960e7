//! The results bundle of a study run: what was run on what (the stamp), the attrition table and
//! each outcome's gated results. Written as `bundle.json` (plus Parquet tables) by the workbench
//! and read by the terminal UI and the notebook export without a store.

use serde::{Deserialize, Serialize};

use crate::outcomes::Outcome;
use crate::protocol::PrivacyPolicy;

/// Version of the bundle layout.
pub const BUNDLE_FORMAT: u32 = 1;

/// A count after the disclosure gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Count {
    /// Published as is.
    Shown(u64),
    /// Fewer than k children (primary suppression).
    BelowK,
    /// Hidden so that a small cell cannot be recomputed (complementary suppression), or a small
    /// cell whose `<k` marker would give it away. Says nothing about size.
    Hidden,
}

impl Count {
    /// The published value, if any.
    pub fn value(self) -> Option<u64> {
        match self {
            Count::Shown(v) => Some(v),
            _ => None,
        }
    }
}

/// What a bundle was computed from: enough to rerun it and get the same bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stamp {
    /// SHA-256 of the protocol file's bytes.
    pub protocol_sha256: String,
    pub protocol_file: String,
    pub release_id: String,
    /// Content hash of the release (case tables and the data_release row).
    pub release_hash: String,
    pub workbench_version: String,
    pub seed: u64,
    pub privacy: PrivacyPolicy,
    /// The k applied to this bundle (a bundle is a file: `privacy.k_file`).
    pub k_applied: u64,
}

/// The whole bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    pub format: u32,
    pub title: String,
    pub question: String,
    pub authors: Vec<String>,
    pub stamp: Stamp,
    pub attrition: Vec<AttritionStep>,
    pub outcomes: Vec<OutcomeResult>,
    /// What the disclosure gate did, in words.
    pub disclosure: Vec<String>,
    /// Whether row-level analysis datasets were written next to the bundle.
    pub row_level_written: bool,
}

/// Children and episodes remaining after one step of the cohort definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttritionStep {
    pub step: usize,
    pub rule: String,
    pub exclude: bool,
    pub children: Count,
    pub episodes: Count,
    /// Children removed by this step (previous − remaining).
    pub children_removed: Count,
}

/// The results of one outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeResult {
    pub outcome: Outcome,
    /// Children (rows) per group and the number of each cause.
    pub groups: Vec<GroupSummary>,
    pub curves: Vec<Curve>,
    /// Estimates at 30, 90, 180, 365 and 730 days.
    pub at_times: Vec<PointEstimate>,
    pub medians: Vec<Median>,
    pub logrank: Option<Test>,
    /// One table per Cox model of the protocol that applies to this outcome.
    pub cox: Vec<CoxTable>,
    pub rmst: Option<RmstTable>,
    pub proportions: Vec<Proportion>,
    pub means: Vec<MeanChange>,
    pub rates: Vec<Rate>,
    /// Plain-words notes: what the estimator is, warnings (e.g. 1 − KM under competing risks).
    pub notes: Vec<String>,
    /// The adjusted comparison of the protocol's `compare` section, when it applies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// Size of one group in an outcome's dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupSummary {
    pub group: String,
    pub children: Count,
    /// Number of rows ending in each cause, in the outcome's cause order, then censored.
    pub by_status: Vec<StatusCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusCount {
    pub status: String,
    pub count: Count,
}

/// A published step curve (coarsened by the gate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    pub group: String,
    /// The cause for a cumulative incidence; the event for a survival curve.
    pub cause: String,
    /// "Kaplan–Meier survival", "Aalen–Johansen cumulative incidence", "mean cumulative function".
    pub estimator: String,
    /// Published steps: each interval (previous time, time] pools at least k events.
    pub steps: Vec<CurveStep>,
    /// The last published time.
    pub ends_at: Option<f64>,
    /// What the gate did to the curve, in words.
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurveStep {
    pub time: f64,
    pub estimate: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// Children at risk when the interval starts.
    pub n_risk: Count,
    /// Events in the interval.
    pub n_event: Count,
    /// Children leaving without the event in the interval (censored or a competing event).
    pub n_censor: Count,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointEstimate {
    pub group: String,
    pub cause: String,
    pub time: f64,
    /// The published (coarsened) curve at `time`; none beyond its end.
    pub estimate: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Median {
    pub group: String,
    pub median: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Test {
    pub name: String,
    pub statistic: f64,
    pub df: f64,
    pub p_value: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxTable {
    /// What was modelled, in words.
    pub description: String,
    pub n: Count,
    pub events: Count,
    pub terms: Vec<CoxTerm>,
    /// Global test of proportional hazards (cox.zph, KM transform).
    pub ph_test: Option<Test>,
    pub robust: bool,
    pub concordance: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoxTerm {
    pub term: String,
    /// None when suppressed.
    pub coef: Option<f64>,
    pub se: Option<f64>,
    pub hazard_ratio: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub p_value: Option<f64>,
    /// Fewer than k rows have (or lack) this term's value: the estimate is withheld (NaN).
    pub suppressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmstTable {
    pub tau: f64,
    pub groups: Vec<RmstGroup>,
    /// Each group against the first, when there are two or more.
    pub differences: Vec<RmstDifference>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmstGroup {
    pub group: String,
    pub rmst: f64,
    pub se: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmstDifference {
    pub group: String,
    pub reference: String,
    pub difference: f64,
    pub lower: f64,
    pub upper: f64,
    pub p_value: f64,
}

/// A proportion on a fixed window (e.g. CFSR-style recurrence within 12 months).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub group: String,
    /// What is counted, in words.
    pub label: String,
    pub numerator: Count,
    pub denominator: Count,
    pub estimate: Option<f64>,
    /// Wilson 95% interval.
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeanChange {
    pub group: String,
    pub n: Count,
    pub missing_followup: Count,
    pub baseline_mean: Option<f64>,
    pub change_mean: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    pub group: String,
    pub children: Count,
    pub events: Count,
    pub exposure_days: f64,
    /// Events per 1,000 days, with an exact Poisson 95% interval.
    pub per_1000_days: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Adjusted comparison of two groups (the protocol's `compare` section; issue #5)
// ---------------------------------------------------------------------------------------------

/// The adjusted comparison of the two groups on one outcome: the propensity model, the weights
/// (or the matched sample) with their effective sample sizes, the balance table (the data of a
/// love plot), the diagnostics in plain words, the weighted Cox model with a robust variance and
/// the adjusted risk and restricted-mean differences at τ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// What was done, in words.
    pub description: String,
    /// The index (treated) group and the reference (control) group.
    pub treated: String,
    pub control: String,
    /// `iptw` or `matching`.
    pub method: String,
    /// `ate`, `att` or `ato`.
    pub estimand: String,
    pub propensity: PropensityModel,
    pub weights: WeightsSummary,
    /// For matching: what the matching did.
    pub matching: Option<MatchingSummary>,
    /// One row per column of the propensity model's design (numeric covariates and the 0/1
    /// indicators of categorical ones).
    pub balance: Vec<BalanceRow>,
    pub max_abs_smd_before: Option<f64>,
    pub max_abs_smd_after: Option<f64>,
    /// Pass / warn / fail checks: balance, equipoise, effective sample size, events per
    /// variable, proportional hazards of the weighted model.
    pub diagnostics: Vec<DiagnosticLine>,
    /// The worst verdict: `pass`, `warn` or `fail`.
    pub overall: String,
    /// Weighted Cox model of the event of interest on the group, robust variance.
    pub cox: Option<CoxTable>,
    /// Weighted risk and restricted mean event-free time at τ, their differences (treated −
    /// control) with percentile bootstrap intervals.
    pub adjusted: Option<AdjustedDifferences>,
    pub notes: Vec<String>,
}

/// The fitted propensity model (logistic regression of membership of the treated group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropensityModel {
    pub n: Count,
    pub n_treated: Count,
    pub n_control: Count,
    pub terms: Vec<PropensityTerm>,
    /// Area under the ROC curve of the score for group membership (0.5: no separation).
    pub c_statistic: f64,
    pub converged: bool,
    pub iterations: usize,
    /// Fitted probabilities numerically 0 or 1 (quasi-separation).
    pub separation: bool,
    pub warnings: Vec<String>,
}

/// One coefficient of the propensity model (log odds of being in the treated group).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PropensityTerm {
    pub term: String,
    pub coef: Option<f64>,
    pub odds_ratio: Option<f64>,
    pub se: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub p_value: Option<f64>,
    /// Withheld: fewer than k rows have (or lack) this indicator.
    pub suppressed: bool,
}

/// The weights of one group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupWeights {
    /// Rows with a positive weight.
    pub n: Count,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Kish's effective sample size `(Σw)² / Σw²`.
    pub ess: f64,
}

/// The weights of the comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsSummary {
    /// IPTW (ATE, ATT), overlap weights (ATO) or match weights, in words.
    pub kind: String,
    pub stabilised: bool,
    /// Truncation percentiles (as fractions) and the caps they gave.
    pub truncation: Option<TruncationSummary>,
    pub treated: GroupWeights,
    pub control: GroupWeights,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TruncationSummary {
    pub lower_percentile: f64,
    pub upper_percentile: f64,
    pub lower_cap: f64,
    pub upper_cap: f64,
}

/// 1:k nearest-neighbour matching on the logit of the propensity score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchingSummary {
    pub ratio: usize,
    /// Caliper in standard deviations of the logit, and on the logit scale.
    pub caliper_sd: Option<f64>,
    pub caliper: Option<f64>,
    pub replacement: bool,
    pub matched_treated: Count,
    pub unmatched_treated: Count,
    /// Distinct controls used.
    pub matched_controls: Count,
}

/// Balance of one design column before and after adjustment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BalanceRow {
    pub covariate: String,
    pub binary: bool,
    pub mean_treated_before: Option<f64>,
    pub mean_control_before: Option<f64>,
    pub mean_treated_after: Option<f64>,
    pub mean_control_after: Option<f64>,
    /// Standardised mean difference (pooled SD of the unweighted groups).
    pub smd_before: Option<f64>,
    pub smd_after: Option<f64>,
    /// Variance ratio treated / control (numeric columns).
    pub variance_ratio_before: Option<f64>,
    pub variance_ratio_after: Option<f64>,
    /// Withheld: fewer than k rows of a group have (or lack) this indicator.
    pub suppressed: bool,
}

/// One diagnostic in plain words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosticLine {
    /// `balance`, `equipoise`, `effective-sample-size`, `events-per-variable`,
    /// `proportional-hazards`.
    pub check: String,
    /// `pass`, `warn` or `fail`.
    pub verdict: String,
    /// The number the verdict rests on (none when it could not be computed or is withheld).
    pub value: Option<f64>,
    pub message: String,
}

/// A difference with its bootstrap standard error and percentile interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub estimate: f64,
    pub std_err: f64,
    pub lower: f64,
    pub upper: f64,
}

/// Weighted outcomes at τ per group and their differences (treated − control).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AdjustedDifferences {
    pub tau: f64,
    /// The event whose risk is estimated (competing events are not censored: Aalen–Johansen).
    pub event: String,
    pub risk_treated: f64,
    pub risk_control: f64,
    pub risk_difference: Difference,
    /// Restricted mean time free of any event on [0, τ].
    pub restricted_mean_treated: f64,
    pub restricted_mean_control: f64,
    pub restricted_mean_difference: Difference,
    pub replicates: usize,
    pub failed_replicates: usize,
    pub seed: u64,
    /// Whether every replicate refitted the propensity model (IPTW) or kept the weights.
    pub reestimated: bool,
    pub conf_level: f64,
}
