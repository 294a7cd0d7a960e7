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
    /// Hidden so that a small cell cannot be recomputed (complementary suppression).
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
