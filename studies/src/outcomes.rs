//! The outcome catalogue of docs/domain.md §5 (P1.1–P3.4): each outcome's label, kind, causes
//! and default parameters, and a protocol's overrides resolved against them.

use serde::{Deserialize, Serialize};

use crate::codes;
use crate::protocol::{Age18, Origin, OutcomeSpec, SafetyDate};

/// Every outcome id, in catalogue order.
pub const IDS: &[&str] = &[
    "P1.1", "P1.2", "P1.3", "P1.4", "P1.5", "P2.1", "P2.2", "P2.3", "P2.4", "P2.5", "P3.1", "P3.2",
    "P3.3", "P3.4",
];

/// What an outcome's analysis dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// One row per child (or (start, stop] rows): time to the first event, with competing causes.
    TimeToEvent,
    /// Counting-process rows of recurrent events.
    Recurrent,
    /// A binary result per child on those who complete a fixed window.
    Proportion,
    /// A score change per child.
    Change,
    /// Events and person-time per child (a rate).
    Rate,
}

/// An outcome with every parameter resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub id: String,
    pub label: String,
    pub kind: OutcomeKind,
    /// Status codes of the dataset: 1 = `causes[0]` (the event), 2 = `causes[1]`, ...; 0 = censored.
    pub causes: Vec<String>,
    pub window_days: Option<i64>,
    pub dedup_days: i64,
    pub maturity_lag_days: i64,
    pub substantiated_only: bool,
    pub origin: Origin,
    pub split_open_closed: bool,
    pub safety_date: SafetyDate,
    pub safety_competes: bool,
    pub age_18: Age18,
    pub instrument: String,
    pub cut_off: f64,
    pub reliable_change: f64,
    pub higher_is_worse: bool,
    pub wave: String,
}

/// Label of an outcome id.
pub fn label(id: &str) -> Option<&'static str> {
    Some(match id {
        "P1.1" => "time to safety (any route)",
        "P1.2" => "time to safety at home",
        "P1.3" => "safety within the window",
        "P1.4" => "time to first substantive intervention",
        "P1.5" => "escalation to justice",
        "P2.1" => "re-report",
        "P2.2" => "substantiated recurrence",
        "P2.3" => "recurrent re-reports",
        "P2.4" => "re-entry to out-of-home care",
        "P2.5" => "placement stability (moves per 1,000 days in care)",
        "P3.1" => "symptom change",
        "P3.2" => "reliable improvement and recovery",
        "P3.3" => "time to recovery",
        "P3.4" => "sustained safety and recovery",
        _ => return None,
    })
}

impl Outcome {
    /// Resolves a protocol's outcome entry (None for an unknown id, which validation refuses).
    pub fn resolve(spec: &OutcomeSpec) -> Option<Outcome> {
        let id = spec.id.as_str();
        let label = label(id)?;
        let kind = match id {
            "P1.3" | "P3.2" | "P3.4" => OutcomeKind::Proportion,
            "P2.3" => OutcomeKind::Recurrent,
            "P2.5" => OutcomeKind::Rate,
            "P3.1" => OutcomeKind::Change,
            _ => OutcomeKind::TimeToEvent,
        };
        let split = spec.split_open_closed.unwrap_or(false);
        let safety_competes = spec.safety_competes.unwrap_or(true);
        let age_18_default = match id {
            "P2.1" | "P2.2" | "P2.3" | "P3.3" => Age18::Censor,
            _ => Age18::Competing,
        };
        let age_18 = spec.age_18.unwrap_or(age_18_default);
        let mut causes: Vec<&str> = match id {
            "P1.1" | "P1.3" => vec!["SAFETY", "CLOSED_WITHOUT_SAFETY", "DEATH"],
            "P1.2" => vec![
                "SAFETY_AT_HOME",
                "PLACEMENT",
                "CLOSED_WITHOUT_SAFETY",
                "DEATH",
            ],
            "P1.4" => vec!["INTERVENTION", "NO_MALTREATMENT_FOUND", "DEATH"],
            "P1.5" if safety_competes => vec!["ESCALATION", "SAFETY", "CASE_CLOSED", "DEATH"],
            "P1.5" => vec!["ESCALATION", "CASE_CLOSED", "DEATH"],
            "P2.1" if split => vec!["REREPORT_OPEN", "REREPORT_CLOSED", "DEATH"],
            "P2.1" => vec!["REREPORT", "DEATH"],
            "P2.2" => vec!["SUBSTANTIATED_RECURRENCE", "DEATH"],
            "P2.3" => vec!["REREPORT"],
            "P2.4" => vec!["REENTRY", "DEATH"],
            "P3.3" => vec!["RECOVERY", "DEATH"],
            _ => vec![],
        };
        if age_18 == Age18::Competing && !causes.is_empty() && kind == OutcomeKind::TimeToEvent {
            causes.push("AGE_18");
        }
        if id == "P1.3" {
            causes.push("AGE_18");
        }
        let instrument = spec.instrument.clone().unwrap_or_else(|| "SDQ_P".into());
        let inst = codes::INSTRUMENTS.iter().find(|i| i.code == instrument);
        let window_default = match id {
            "P1.3" => Some(90),
            "P2.2" | "P2.4" => Some(365),
            "P2.3" => Some(730),
            _ => None,
        };
        Some(Outcome {
            id: id.to_string(),
            label: label.to_string(),
            kind,
            causes: causes.into_iter().map(str::to_string).collect(),
            window_days: spec.window_days.or(window_default),
            dedup_days: spec.dedup_days.unwrap_or(14),
            maturity_lag_days: spec.maturity_lag_days.unwrap_or(90),
            substantiated_only: spec.substantiated_only.unwrap_or(false),
            origin: spec.origin.unwrap_or(if id == "P2.2" {
                Origin::IndexReport
            } else {
                Origin::Safety
            }),
            split_open_closed: split,
            safety_date: spec.safety_date.unwrap_or(SafetyDate::Recorded),
            safety_competes,
            age_18,
            cut_off: spec
                .cut_off
                .or(inst.and_then(|i| i.clinical_cut))
                .unwrap_or(0.0),
            reliable_change: spec
                .reliable_change
                .or(inst.and_then(|i| i.reliable_change))
                .unwrap_or(0.0),
            higher_is_worse: inst.is_none_or(|i| i.higher_is_worse),
            instrument,
            wave: spec.wave.clone().unwrap_or_else(|| "M12".into()),
        })
    }

    /// The phase-3 follow-up wave's target day and tolerance (§5 P3.1: M6 182 ± 45, M12 365 ± 60).
    pub fn wave_window(&self) -> (i64, i64) {
        match self.wave.as_str() {
            "M6" => (182, 45),
            _ => (365, 60),
        }
    }

    /// Whether a time-to-event outcome has competing causes besides its event.
    pub fn has_competing(&self) -> bool {
        self.causes.len() > 1
    }
}
