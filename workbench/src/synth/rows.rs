//! Typed rows of every case and truth table the generator writes, each with the one definition of
//! its column order (the schema's storage order after `release_id`).

/// One value of a row, borrowed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Real(f64),
    /// Days since 1970-01-01.
    Date(i32),
    Bool(bool),
}

impl<'a> Cell<'a> {
    pub fn opt_text(v: &'a Option<String>) -> Cell<'a> {
        v.as_deref().map_or(Cell::Null, Cell::Text)
    }
    pub fn opt_str(v: Option<&'a str>) -> Cell<'a> {
        v.map_or(Cell::Null, Cell::Text)
    }
    pub fn opt_date(v: Option<i32>) -> Cell<'a> {
        v.map_or(Cell::Null, Cell::Date)
    }
    pub fn opt_real(v: Option<f64>) -> Cell<'a> {
        match v {
            Some(x) if x.is_finite() => Cell::Real(x),
            _ => Cell::Null,
        }
    }
    pub fn opt_bool(v: Option<bool>) -> Cell<'a> {
        v.map_or(Cell::Null, Cell::Bool)
    }
}

/// A row of a schema table.
pub trait Row {
    /// The table name in `studies::schema`.
    const TABLE: &'static str;
    /// Values of every column but `release_id`, in storage order.
    fn cells(&self) -> Vec<Cell<'_>>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct FamilyRow {
    pub family_pid: String,
}
impl Row for FamilyRow {
    const TABLE: &'static str = "family";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![Cell::Text(&self.family_pid)]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChildRow {
    pub child_pid: String,
    pub family_pid: String,
    pub sex: &'static str,
    pub birth_ym: Option<String>,
    pub expected_birth_ym: Option<String>,
    pub date_of_18th_birthday: Option<i32>,
}
impl Row for ChildRow {
    const TABLE: &'static str = "child";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.child_pid),
            Cell::Text(&self.family_pid),
            Cell::Text(self.sex),
            Cell::opt_text(&self.birth_ym),
            Cell::opt_text(&self.expected_birth_ym),
            Cell::opt_date(self.date_of_18th_birthday),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EpisodeRow {
    pub episode_id: String,
    pub child_pid: String,
    pub centre_id: &'static str,
    pub entry_date: i32,
    pub index_report_id: Option<String>,
    pub melding_type: &'static str,
    pub referral_source: &'static str,
    pub legal_framework_at_entry: &'static str,
    pub age_at_entry_months: i64,
    pub closure_date: Option<i32>,
    pub closure_reason: Option<&'static str>,
    pub transferred_to_episode_id: Option<String>,
    pub episode_seq: i64,
}
impl Row for EpisodeRow {
    const TABLE: &'static str = "episode";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.episode_id),
            Cell::Text(&self.child_pid),
            Cell::Text(self.centre_id),
            Cell::Date(self.entry_date),
            Cell::opt_text(&self.index_report_id),
            Cell::Text(self.melding_type),
            Cell::Text(self.referral_source),
            Cell::Text(self.legal_framework_at_entry),
            Cell::Int(self.age_at_entry_months),
            Cell::opt_date(self.closure_date),
            Cell::opt_str(self.closure_reason),
            Cell::opt_text(&self.transferred_to_episode_id),
            Cell::Int(self.episode_seq),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub report_id: String,
    pub centre_id: &'static str,
    pub report_date: i32,
    pub source_code: &'static str,
    pub channel: &'static str,
    pub report_kind: &'static str,
}
impl Row for ReportRow {
    const TABLE: &'static str = "report";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.report_id),
            Cell::Text(self.centre_id),
            Cell::Date(self.report_date),
            Cell::Text(self.source_code),
            Cell::Text(self.channel),
            Cell::Text(self.report_kind),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReportChildRow {
    pub report_id: String,
    pub child_pid: String,
    pub episode_id: Option<String>,
    pub is_duplicate_of: Option<String>,
}
impl Row for ReportChildRow {
    const TABLE: &'static str = "report_child";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.report_id),
            Cell::Text(&self.child_pid),
            Cell::opt_text(&self.episode_id),
            Cell::opt_text(&self.is_duplicate_of),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct FormRow {
    pub report_id: String,
    pub child_pid: String,
    pub form_code: &'static str,
    pub is_primary: bool,
    pub finding: &'static str,
    pub finding_date: Option<i32>,
}
impl Row for FormRow {
    const TABLE: &'static str = "report_child_form";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.report_id),
            Cell::Text(&self.child_pid),
            Cell::Text(self.form_code),
            Cell::Bool(self.is_primary),
            Cell::Text(self.finding),
            Cell::opt_date(self.finding_date),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContextRow {
    pub episode_id: String,
    pub context_code: &'static str,
    pub recorded_date: Option<i32>,
}
impl Row for ContextRow {
    const TABLE: &'static str = "episode_context";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.episode_id),
            Cell::Text(self.context_code),
            Cell::opt_date(self.recorded_date),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InterventionRow {
    pub intervention_id: String,
    pub episode_id: String,
    pub intervention_code: &'static str,
    pub provider_sector: &'static str,
    pub start_date: i32,
    pub end_date: Option<i32>,
    pub end_reason: Option<&'static str>,
    pub is_court_ordered: bool,
}
impl Row for InterventionRow {
    const TABLE: &'static str = "intervention";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.intervention_id),
            Cell::Text(&self.episode_id),
            Cell::Text(self.intervention_code),
            Cell::Text(self.provider_sector),
            Cell::Date(self.start_date),
            Cell::opt_date(self.end_date),
            Cell::opt_str(self.end_reason),
            Cell::Bool(self.is_court_ordered),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlacementRow {
    pub placement_id: String,
    pub episode_id: String,
    pub removal_seq: i64,
    pub setting: &'static str,
    pub start_date: i32,
    pub end_date: Option<i32>,
    pub exit_reason: Option<&'static str>,
    pub is_trial_home_visit: bool,
}
impl Row for PlacementRow {
    const TABLE: &'static str = "placement";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.placement_id),
            Cell::Text(&self.episode_id),
            Cell::Int(self.removal_seq),
            Cell::Text(self.setting),
            Cell::Date(self.start_date),
            Cell::opt_date(self.end_date),
            Cell::opt_str(self.exit_reason),
            Cell::Bool(self.is_trial_home_visit),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub event_id: String,
    pub child_pid: String,
    pub episode_id: Option<String>,
    pub event_type: &'static str,
    pub event_date: i32,
    pub date_precision: &'static str,
    pub interval_lower: Option<i32>,
    pub source_table: Option<&'static str>,
    pub source_id: Option<String>,
}
impl Row for EventRow {
    const TABLE: &'static str = "event";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.event_id),
            Cell::Text(&self.child_pid),
            Cell::opt_text(&self.episode_id),
            Cell::Text(self.event_type),
            Cell::Date(self.event_date),
            Cell::Text(self.date_precision),
            Cell::opt_date(self.interval_lower),
            Cell::opt_str(self.source_table),
            Cell::opt_text(&self.source_id),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ObservationWindowRow {
    pub child_pid: String,
    pub obs_start: i32,
    pub obs_end: i32,
    pub obs_end_reason: &'static str,
}
impl Row for ObservationWindowRow {
    const TABLE: &'static str = "observation_window";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.child_pid),
            Cell::Date(self.obs_start),
            Cell::Date(self.obs_end),
            Cell::Text(self.obs_end_reason),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AssessmentRow {
    pub assessment_id: String,
    pub child_pid: String,
    pub episode_id: Option<String>,
    pub instrument_code: &'static str,
    pub assessment_date: i32,
    pub planned_wave: &'static str,
    pub score: f64,
    pub is_valid: bool,
}
impl Row for AssessmentRow {
    const TABLE: &'static str = "assessment";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.assessment_id),
            Cell::Text(&self.child_pid),
            Cell::opt_text(&self.episode_id),
            Cell::Text(self.instrument_code),
            Cell::Date(self.assessment_date),
            Cell::Text(self.planned_wave),
            Cell::Real(self.score),
            Cell::Bool(self.is_valid),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscaleRow {
    pub assessment_id: String,
    pub subscale_code: &'static str,
    pub score: f64,
}
impl Row for SubscaleRow {
    const TABLE: &'static str = "assessment_subscale";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.assessment_id),
            Cell::Text(self.subscale_code),
            Cell::Real(self.score),
        ]
    }
}

/// Per-child truth: latents and potential outcomes (`truth.child_latent`).
#[derive(Debug, Clone, PartialEq)]
pub struct LatentRow {
    pub child_pid: String,
    pub family_frailty: f64,
    pub centre_effect: f64,
    pub linear_predictor_safety: f64,
    pub linear_predictor_rereport: f64,
    pub propensity_intervention: f64,
    pub treated: bool,
    pub intervention_start_days: f64,
    /// Latent phase-1 times per cause (days from entry).
    pub t_phase1: [f64; 4],
    pub t_rereport_first_latent_days: f64,
    pub recovery_intercept: Option<f64>,
    pub recovery_slope: Option<f64>,
    /// First phase-1 event time (any cause) and its cause, under VL and under FWB.
    pub po_phase1_vl: (f64, &'static str),
    pub po_phase1_fwb: (f64, &'static str),
    /// First re-report time under (community, arm): [vl a0, vl a1, fwb a0, fwb a1].
    pub po_rereport: [f64; 4],
    pub prior_episode: bool,
    pub t_move_latent_days: f64,
    pub ref_profile: Option<&'static str>,
}
impl Row for LatentRow {
    const TABLE: &'static str = "child_latent";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(&self.child_pid),
            Cell::Real(self.family_frailty),
            Cell::Real(self.centre_effect),
            Cell::Real(self.linear_predictor_safety),
            Cell::Real(self.linear_predictor_rereport),
            Cell::Real(self.propensity_intervention),
            Cell::Bool(self.treated),
            Cell::Real(self.intervention_start_days),
            Cell::opt_real(Some(self.t_phase1[0])),
            Cell::opt_real(Some(self.t_phase1[1])),
            Cell::opt_real(Some(self.t_phase1[2])),
            Cell::opt_real(Some(self.t_phase1[3])),
            Cell::opt_real(Some(self.t_rereport_first_latent_days)),
            Cell::opt_real(self.recovery_intercept),
            Cell::opt_real(self.recovery_slope),
            Cell::opt_real(Some(self.po_phase1_vl.0)),
            Cell::opt_real(Some(self.po_phase1_fwb.0)),
            Cell::Text(self.po_phase1_vl.1),
            Cell::Text(self.po_phase1_fwb.1),
            Cell::opt_real(Some(self.po_rereport[0])),
            Cell::opt_real(Some(self.po_rereport[1])),
            Cell::opt_real(Some(self.po_rereport[2])),
            Cell::opt_real(Some(self.po_rereport[3])),
            Cell::Bool(self.prior_episode),
            Cell::opt_real(Some(self.t_move_latent_days)),
            Cell::opt_str(self.ref_profile),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParameterRow {
    pub param: String,
    pub value: f64,
}
impl Row for ParameterRow {
    const TABLE: &'static str = "parameter";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![Cell::Text(&self.param), Cell::Real(self.value)]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct CifRow {
    pub outcome: &'static str,
    pub cause: &'static str,
    pub profile: &'static str,
    pub kind: &'static str,
    pub t_days: i64,
    pub cif: f64,
}
impl Row for CifRow {
    const TABLE: &'static str = "cif";
    fn cells(&self) -> Vec<Cell<'_>> {
        vec![
            Cell::Text(self.outcome),
            Cell::Text(self.cause),
            Cell::Text(self.profile),
            Cell::Text(self.kind),
            Cell::Int(self.t_days),
            Cell::Real(self.cif),
        ]
    }
}

/// All rows of one family (or of a chunk of families, appended in family order).
#[derive(Debug, Default, Clone)]
pub struct Rows {
    pub family: Vec<FamilyRow>,
    pub child: Vec<ChildRow>,
    pub episode: Vec<EpisodeRow>,
    pub report: Vec<ReportRow>,
    pub report_child: Vec<ReportChildRow>,
    pub report_child_form: Vec<FormRow>,
    pub episode_context: Vec<ContextRow>,
    pub intervention: Vec<InterventionRow>,
    pub placement: Vec<PlacementRow>,
    pub event: Vec<EventRow>,
    pub observation_window: Vec<ObservationWindowRow>,
    pub assessment: Vec<AssessmentRow>,
    pub assessment_subscale: Vec<SubscaleRow>,
    pub child_latent: Vec<LatentRow>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use studies::schema::{self, ColumnType};

    fn check<R: Row>(r: &R) {
        let t = schema::table(R::TABLE).unwrap_or_else(|| panic!("no table {}", R::TABLE));
        let cols: Vec<_> = t.file_columns().collect();
        let cells = r.cells();
        assert_eq!(cols.len(), cells.len(), "{}", R::TABLE);
        for (c, v) in cols.iter().zip(&cells) {
            let ok = match v {
                Cell::Null => c.nullable,
                Cell::Text(_) => c.ty == ColumnType::Text,
                Cell::Int(_) => c.ty == ColumnType::Integer,
                Cell::Real(_) => c.ty == ColumnType::Real,
                Cell::Date(_) => c.ty == ColumnType::Date,
                Cell::Bool(_) => c.ty == ColumnType::Boolean,
            };
            assert!(ok, "{}.{}: {:?}", R::TABLE, c.name, v);
        }
    }

    #[test]
    fn every_row_type_matches_its_schema_table() {
        let s = String::from("x");
        check(&FamilyRow {
            family_pid: s.clone(),
        });
        check(&ChildRow {
            child_pid: s.clone(),
            family_pid: s.clone(),
            sex: "F",
            birth_ym: Some(s.clone()),
            expected_birth_ym: None,
            date_of_18th_birthday: Some(1),
        });
        check(&EpisodeRow {
            episode_id: s.clone(),
            child_pid: s.clone(),
            centre_id: "VK_ANT",
            entry_date: 1,
            index_report_id: Some(s.clone()),
            melding_type: "ADVIES",
            referral_source: "OTHER",
            legal_framework_at_entry: "VOLUNTARY",
            age_at_entry_months: 3,
            closure_date: Some(2),
            closure_reason: Some("OTHER"),
            transferred_to_episode_id: Some(s.clone()),
            episode_seq: 1,
        });
        check(&ReportRow {
            report_id: s.clone(),
            centre_id: "VK_ANT",
            report_date: 1,
            source_code: "OTHER",
            channel: "PHONE",
            report_kind: "NEW",
        });
        check(&ReportChildRow {
            report_id: s.clone(),
            child_pid: s.clone(),
            episode_id: Some(s.clone()),
            is_duplicate_of: Some(s.clone()),
        });
        check(&FormRow {
            report_id: s.clone(),
            child_pid: s.clone(),
            form_code: "EMO",
            is_primary: true,
            finding: "PENDING",
            finding_date: Some(1),
        });
        check(&ContextRow {
            episode_id: s.clone(),
            context_code: "POVERTY",
            recorded_date: Some(1),
        });
        check(&InterventionRow {
            intervention_id: s.clone(),
            episode_id: s.clone(),
            intervention_code: "FAMILY_SUPPORT",
            provider_sector: "VK",
            start_date: 1,
            end_date: Some(2),
            end_reason: Some("x"),
            is_court_ordered: false,
        });
        check(&PlacementRow {
            placement_id: s.clone(),
            episode_id: s.clone(),
            removal_seq: 1,
            setting: "CRISIS",
            start_date: 1,
            end_date: Some(2),
            exit_reason: Some("MOVE"),
            is_trial_home_visit: false,
        });
        check(&EventRow {
            event_id: s.clone(),
            child_pid: s.clone(),
            episode_id: Some(s.clone()),
            event_type: "REPORT",
            event_date: 1,
            date_precision: "DAY",
            interval_lower: Some(1),
            source_table: Some("report"),
            source_id: Some(s.clone()),
        });
        check(&ObservationWindowRow {
            child_pid: s.clone(),
            obs_start: 1,
            obs_end: 2,
            obs_end_reason: "EXTRACT",
        });
        check(&AssessmentRow {
            assessment_id: s.clone(),
            child_pid: s.clone(),
            episode_id: Some(s.clone()),
            instrument_code: "SDQ_P",
            assessment_date: 1,
            planned_wave: "M6",
            score: 1.0,
            is_valid: true,
        });
        check(&SubscaleRow {
            assessment_id: s.clone(),
            subscale_code: "EMO",
            score: 1.0,
        });
        check(&LatentRow {
            child_pid: s.clone(),
            family_frailty: 1.0,
            centre_effect: 0.0,
            linear_predictor_safety: 0.0,
            linear_predictor_rereport: 0.0,
            propensity_intervention: 0.5,
            treated: true,
            intervention_start_days: 3.0,
            t_phase1: [1.0; 4],
            t_rereport_first_latent_days: 1.0,
            recovery_intercept: Some(1.0),
            recovery_slope: Some(1.0),
            po_phase1_vl: (1.0, "DEATH"),
            po_phase1_fwb: (1.0, "DEATH"),
            po_rereport: [1.0; 4],
            prior_episode: false,
            t_move_latent_days: 1.0,
            ref_profile: Some("REF_VL"),
        });
        check(&ParameterRow {
            param: s.clone(),
            value: 1.0,
        });
        check(&CifRow {
            outcome: "PHASE1",
            cause: "SAFETY_AT_HOME",
            profile: "REF_VL",
            kind: "MARGINAL",
            t_days: 30,
            cif: 0.1,
        });
    }
}
