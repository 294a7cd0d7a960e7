//! The study protocol: a TOML file naming the cohort, follow-up, outcomes, comparison groups,
//! covariates, models and privacy policy of one study, parsed and validated here.
//!
//! Validation collects every problem, each pointing at its line and key (`locate`), and suggests
//! the nearest valid code for a misspelt one. What validation accepts, [`crate::compile`] turns
//! into SQL without further checks.

mod locate;
mod validate;

use serde::{Deserialize, Serialize};

pub use validate::{Problem, ProtocolError};

/// The privacy policy: the smallest count shown on screen and written to files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PrivacyPolicy {
    /// Smallest count shown on screen (default 5).
    #[serde(default = "default_k_screen")]
    pub k_screen: u64,
    /// Smallest count written to a file (default 10).
    #[serde(default = "default_k_file")]
    pub k_file: u64,
}

fn default_k_screen() -> u64 {
    5
}
fn default_k_file() -> u64 {
    10
}

impl Default for PrivacyPolicy {
    fn default() -> Self {
        PrivacyPolicy {
            k_screen: default_k_screen(),
            k_file: default_k_file(),
        }
    }
}

/// A study protocol as written in its TOML file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Protocol {
    /// Short title.
    pub title: String,
    /// The research question in one or two sentences.
    #[serde(default)]
    pub question: String,
    #[serde(default)]
    pub authors: Vec<String>,
    /// The data release (`release_id`); the store's default release when absent.
    #[serde(default)]
    pub release: Option<String>,
    /// Seed of every random step (bootstrap); stamped on the results.
    #[serde(default)]
    pub seed: u64,
    pub cohort: Cohort,
    #[serde(default)]
    pub follow_up: FollowUp,
    /// The comparison groups; without them every result is for the whole cohort.
    #[serde(default)]
    pub groups: Option<Groups>,
    /// Covariates of the regression models, by name (see `workbench study covariates`);
    /// `name:cat` expands a categorical covariate, `name:cat=LEVEL` sets its reference level.
    #[serde(default)]
    pub covariates: Vec<String>,
    #[serde(default, rename = "outcome")]
    pub outcomes: Vec<OutcomeSpec>,
    #[serde(default, rename = "model")]
    pub models: Vec<ModelSpec>,
    /// The adjusted comparison of the two groups (propensity score, weighting or matching,
    /// balance, weighted outcome models); needs `groups` with two levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<Compare>,
    #[serde(default)]
    pub privacy: PrivacyPolicy,
}

/// Which episodes enter the cohort and the rules that include or exclude them, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cohort {
    /// `first`: each child's first episode with an entry in the window; `every`: every episode.
    /// An episode that continues a transfer between centres is never a new entry.
    #[serde(default)]
    pub entry: EntryKind,
    /// First entry date (index report date), `YYYY-MM-DD`.
    pub entry_from: String,
    /// Last entry date, `YYYY-MM-DD`.
    pub entry_to: String,
    /// Inclusion and exclusion rules, applied in order (the attrition table follows this order).
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    #[default]
    First,
    Every,
}

/// One named rule: exactly one criterion, which keeps (or with `exclude = true` removes) episodes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// What the rule does, in words (shown in the attrition table).
    pub name: String,
    /// Remove the episodes that meet the criterion instead of keeping them.
    #[serde(default)]
    pub exclude: bool,
    /// Age at entry in whole years (prenatal entries count as age 0 with `prenatal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_at_entry_years: Option<Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_at_entry_months: Option<Range>,
    /// Entry before birth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prenatal: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<Vec<String>>,
    /// `VL` (Flemish Community) or `FWB` (Fédération Wallonie-Bruxelles).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub community: Option<Vec<String>>,
    /// `VLA`, `WAL`, `BRU`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centre: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_source: Option<Vec<String>>,
    /// `PROFESSIONAL`, `JUSTICE`, `HELPLINE_CHAT`, `CITIZEN`, `CHILD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral_group: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub melding_type: Option<Vec<String>>,
    /// Forms of maltreatment of the index report; see `forms_match`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forms: Option<Vec<String>>,
    /// `any` (default), `all`, or `primary` (the primary form is one of `forms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forms_match: Option<FormsMatch>,
    /// Findings: some allegation of the index report has one of these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<String>>,
    /// Contexts recorded on the episode (any of these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contexts: Option<Vec<String>>,
    /// The child had an episode before this one (`episode_seq > 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_episodes: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub episode_seq: Option<Range>,
    /// Washout: no report about the child in this many days before the entry date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub washout_days: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_year: Option<Range>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FormsMatch {
    Any,
    All,
    Primary,
}

/// An inclusive range; either end may be left open.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<i64>,
}

/// How follow-up ends, beyond what each outcome defines.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowUp {
    /// Administrative horizon: follow-up ends this many days after the time origin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_days: Option<i64>,
}

/// The comparison: a covariate's levels, or an intervention received or not.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Groups {
    /// A categorical covariate (e.g. `community`, `referral_group`, `centre`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// An intervention code (e.g. `FAMILY_SUPPORT`): treated vs not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervention: Option<String>,
    /// For an intervention: `time_varying` (default: untreated until it starts, then treated:
    /// (start, stop] rows, no immortal time), `ever` (treated if it ever starts during
    /// follow-up: biased on purpose, for comparison) or `baseline` (started within
    /// `within_days` of the time origin).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
    /// For `baseline` timing (and for the curves of a time-varying comparison), default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<i64>,
    /// Keep only these levels, in this order; the first is the reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub levels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Timing {
    TimeVarying,
    Ever,
    Baseline,
}

/// The adjusted comparison of the two groups (`[compare]`): the propensity score on
/// `ps_covariates`, then inverse-probability (or overlap) weights or 1:k nearest-neighbour
/// matching, the balance table, plain-word diagnostics and the weighted outcome models of every
/// time-to-event outcome (or of `outcomes`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Compare {
    /// `iptw` (weights; default) or `matching` (1:k nearest neighbour on the logit).
    #[serde(default)]
    pub method: CompareMethod,
    /// `ate` (whole cohort), `att` (the treated group) or `ato` (overlap weights). Default: `ate`
    /// for iptw, `att` for matching (the only estimand of matching the treated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimand: Option<Estimand>,
    /// Covariates of the propensity model, written as in `covariates` (`name`, `name:cat`,
    /// `name:cat=LEVEL`); each must be one of the protocol's covariates. Default: all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ps_covariates: Option<Vec<String>>,
    /// Stabilised weights (default true; overlap weights are never stabilised).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stabilised: Option<bool>,
    /// Truncate the weights at these percentiles, e.g. `[1, 99]` (iptw only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<[f64; 2]>,
    /// Matching: the caliper in standard deviations of the logit (default 0.2; 0: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caliper: Option<f64>,
    /// Matching: controls per treated child (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<usize>,
    /// Matching: a control may serve several treated children (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replacement: Option<bool>,
    /// Horizon τ in days of the adjusted risk and restricted-mean differences (default 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// Bootstrap replicates of those differences (default 200; at least 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<usize>,
    /// Outcome ids to compare (default: every time-to-event outcome of the protocol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<Vec<String>>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum CompareMethod {
    #[default]
    Iptw,
    Matching,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Estimand {
    Ate,
    Att,
    Ato,
}

impl Compare {
    /// The estimand, with the method's default.
    pub fn estimand(&self) -> Estimand {
        self.estimand.unwrap_or(match self.method {
            CompareMethod::Iptw => Estimand::Ate,
            CompareMethod::Matching => Estimand::Att,
        })
    }

    /// The propensity covariates: `ps_covariates`, or all of the protocol's covariates.
    pub fn ps_covariates<'a>(&'a self, protocol: &'a Protocol) -> &'a [String] {
        self.ps_covariates
            .as_deref()
            .unwrap_or(&protocol.covariates)
    }
}

/// One outcome by id (docs/domain.md §5) with parameter overrides.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeSpec {
    /// `P1.1` ... `P3.4`.
    pub id: String,
    /// Fixed window in days (P1.3 default 90, P2.2 365, P2.3 730, P2.4 365).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_days: Option<i64>,
    /// De-duplication of reports: a re-report counts only after this many days (default 14).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedup_days: Option<i64>,
    /// P2.2: substantiation maturity lag in days (default 90).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maturity_lag_days: Option<i64>,
    /// P2.1 / P2.3: count only re-reports with a substantiated or indicated allegation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substantiated_only: Option<bool>,
    /// P2.1 / P2.3: `safety` (default: the date safety was reached) or `index_report`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// P2.1: split re-reports into while the episode is open and after closure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_open_closed: Option<bool>,
    /// Safety dates found at a review: `recorded` (the review date, default), `midpoint` of
    /// (previous review, review], or `lower` (the previous review).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_date: Option<SafetyDate>,
    /// P1.5: safety reached competes with escalation (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_competes: Option<bool>,
    /// The 18th birthday: `competing` or `censor` (default per outcome, §5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_18: Option<Age18>,
    /// Phase 3: instrument code (default SDQ_P).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instrument: Option<String>,
    /// Phase 3: clinical cut-off (default: the instrument's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cut_off: Option<f64>,
    /// Phase 3: reliable-change threshold in raw points (default: the instrument's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reliable_change: Option<f64>,
    /// Phase 3: follow-up wave, `M6` or `M12` (default M12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    Safety,
    IndexReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SafetyDate {
    Recorded,
    Midpoint,
    Lower,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Age18 {
    Competing,
    Censor,
}

/// A model to run on one outcome (or on every outcome it applies to).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub kind: ModelKind,
    /// Outcome ids; all outcomes the model applies to when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<Vec<String>>,
    /// RMST: the horizon τ in days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// Cox: adjust for the protocol's covariates (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjust: Option<bool>,
    /// Cox with an intervention comparison: how treatment enters the model (default: the
    /// comparison's timing). `ever` next to `time_varying` shows the immortal-time bias.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timing: Option<Timing>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Kaplan–Meier by group (competing events censored: shown with a warning).
    KaplanMeier,
    /// Aalen–Johansen cumulative incidence by group (the default for competing risks).
    CumulativeIncidence,
    /// Log-rank test of the event's cause-specific hazard across groups.
    Logrank,
    /// Cause-specific Cox model: group (+ covariates).
    Cox,
    /// Restricted mean event-free time at τ by group, with the difference.
    Rmst,
    /// Recurrent events: mean cumulative function and Andersen–Gill Cox with robust SE.
    Recurrent,
    /// Fixed-window proportions, means and rates by group (P1.3, P2.2, P2.5, P3.x).
    Proportion,
}

impl Protocol {
    /// Parses and validates a protocol; `file` names it in error messages.
    pub fn parse(file: &str, text: &str) -> Result<Protocol, ProtocolError> {
        validate::parse(file, text)
    }

    /// The protocol as canonical TOML (what `study save` writes and what the hash covers is the
    /// file's own bytes; this is for the TUI's "save as").
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string_pretty(self)
    }

    /// The JSON Schema of the protocol file, for editors.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Protocol)).unwrap_or_default()
    }

    /// The outcomes, with their definitions resolved against defaults.
    pub fn resolved_outcomes(&self) -> Vec<crate::outcomes::Outcome> {
        self.outcomes
            .iter()
            .filter_map(crate::outcomes::Outcome::resolve)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every example protocol is valid and compiles.
    #[test]
    fn examples_parse_and_compile() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).expect("examples folder") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            let p = Protocol::parse(&path.display().to_string(), &text)
                .unwrap_or_else(|e| panic!("{e}"));
            let c = crate::compile::compile(&p, "R1");
            assert!(!c.outcomes.is_empty());
            // No value of the protocol is spliced into the SQL.
            for s in std::iter::once(&c.cohort).chain(c.outcomes.iter().map(|o| &o.statement)) {
                assert!(!s.sql.contains("'R1'") && !s.sql.contains(&p.cohort.entry_from));
            }
            n += 1;
        }
        assert_eq!(n, 4);
    }

    #[test]
    fn the_json_schema_names_the_sections() {
        let s = Protocol::json_schema().to_string();
        for key in [
            "cohort",
            "outcome",
            "model",
            "privacy",
            "entry_from",
            "washout_days",
        ] {
            assert!(s.contains(key), "{key}");
        }
    }
}
