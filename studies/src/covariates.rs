//! The covariates a protocol can name: what each means, whether it is numeric or categorical,
//! and its SQL expression over the cohort (`c`), with codes bound as parameters.

use crate::codes;
use crate::compile::Params;

/// Numeric (used as is) or categorical (expanded to indicators by `name:cat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovariateKind {
    Numeric,
    Categorical,
}

/// A covariate of the catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Covariate {
    pub name: &'static str,
    pub kind: CovariateKind,
    pub doc: &'static str,
}

use CovariateKind::{Categorical, Numeric};

/// The fixed covariates; `form_<CODE>`, `ctx_<CODE>` and `source_<CODE>` add one indicator per code.
pub const CATALOGUE: &[Covariate] = &[
    Covariate {
        name: "community",
        kind: Categorical,
        doc: "VL (VK) or FWB (SOS Enfants)",
    },
    Covariate {
        name: "fwb",
        kind: Numeric,
        doc: "1 for an SOS Enfants team (French Community)",
    },
    Covariate {
        name: "region",
        kind: Categorical,
        doc: "VLA, WAL or BRU",
    },
    Covariate {
        name: "centre",
        kind: Categorical,
        doc: "the centre of the index episode",
    },
    Covariate {
        name: "sex",
        kind: Categorical,
        doc: "M, F, X, U",
    },
    Covariate {
        name: "female",
        kind: Numeric,
        doc: "1 for girls",
    },
    Covariate {
        name: "age_years",
        kind: Numeric,
        doc: "age at entry in years (0 before birth)",
    },
    Covariate {
        name: "age_band",
        kind: Categorical,
        doc: "0-2, 3-5, 6-11, 12-17 (PRENATAL before birth)",
    },
    Covariate {
        name: "adolescent",
        kind: Numeric,
        doc: "1 when aged 12-17 at entry",
    },
    Covariate {
        name: "under_2",
        kind: Numeric,
        doc: "1 when under 24 months at entry",
    },
    Covariate {
        name: "prenatal",
        kind: Numeric,
        doc: "1 for an entry before birth",
    },
    Covariate {
        name: "prior_episode",
        kind: Numeric,
        doc: "1 when episode_seq > 1",
    },
    Covariate {
        name: "primary_form",
        kind: Categorical,
        doc: "primary form of the index report",
    },
    Covariate {
        name: "referral_group",
        kind: Categorical,
        doc: "PROFESSIONAL, JUSTICE, HELPLINE_CHAT, CITIZEN, CHILD",
    },
    Covariate {
        name: "referral_source",
        kind: Categorical,
        doc: "referral source code of the episode",
    },
    Covariate {
        name: "melding_type",
        kind: Categorical,
        doc: "ADVIES, DOSSIER, MANO, CHAT, SIGNALEMENT, PRISE_EN_CHARGE",
    },
    Covariate {
        name: "safety_plan",
        kind: Numeric,
        doc: "1 when a SAFETY_PLAN intervention starts within 14 days of entry",
    },
    Covariate {
        name: "substantiated",
        kind: Numeric,
        doc: "1 when an allegation of the index report is substantiated or indicated",
    },
    Covariate {
        name: "entry_year",
        kind: Numeric,
        doc: "calendar year of entry",
    },
    Covariate {
        name: "risk_contexts",
        kind: Numeric,
        doc: "number of the contexts PARENT_MENTAL_ILLNESS, PARENT_SUBSTANCE, PARTNER_VIOLENCE, POVERTY",
    },
];

/// The covariate named `name` (with its kind), including the per-code indicators.
pub fn find(name: &str) -> Option<Covariate> {
    if let Some(c) = CATALOGUE.iter().find(|c| c.name == name) {
        return Some(*c);
    }
    let indicator = |prefix: &str, list: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|code| codes::is_known(list, code))
    };
    if indicator("form_", "maltreatment_form")
        || indicator("ctx_", "context_code")
        || indicator("source_", "referral_source")
    {
        return Some(Covariate {
            name: "indicator",
            kind: Numeric,
            doc: "",
        });
    }
    None
}

/// Every covariate name a protocol may use (for suggestions and `study covariates`).
pub fn all_names() -> Vec<String> {
    let mut out: Vec<String> = CATALOGUE.iter().map(|c| c.name.to_string()).collect();
    out.extend(codes::FORMS.iter().map(|f| format!("form_{}", f.code)));
    out.extend(codes::CONTEXTS.iter().map(|f| format!("ctx_{}", f.code)));
    out.extend(
        codes::REFERRAL_SOURCES
            .iter()
            .map(|f| format!("source_{}", f.code)),
    );
    out
}

/// The SQL expression of covariate `name` over the cohort row `c` (columns of the `cohort` CTE);
/// `release` is the SQL of the release id (a placeholder or a column of `c`).
pub fn sql(name: &str, release: &str, p: &mut Params) -> Option<String> {
    let ctx_exists = |code: String| {
        format!(
            "CASE WHEN EXISTS (SELECT 1 FROM episode_context x WHERE x.release_id = {release} \
             AND x.episode_key = c.episode_key AND x.context_code = {code}) THEN 1 ELSE 0 END"
        )
    };
    Some(match name {
        "community" => "c.community".into(),
        "fwb" => "CASE WHEN c.community = 'FWB' THEN 1 ELSE 0 END".into(),
        "region" => "c.region".into(),
        "centre" => "c.centre_id".into(),
        "sex" => "c.sex".into(),
        "female" => "CASE WHEN c.sex = 'F' THEN 1 ELSE 0 END".into(),
        "age_years" => "GREATEST(COALESCE(c.age_at_entry_months, 0), 0) / 12.0".into(),
        "age_band" => "CASE WHEN c.age_at_entry_months < 0 THEN 'PRENATAL' \
                       WHEN c.age_at_entry_months < 36 THEN '0-2' \
                       WHEN c.age_at_entry_months < 72 THEN '3-5' \
                       WHEN c.age_at_entry_months < 144 THEN '6-11' ELSE '12-17' END"
            .into(),
        "adolescent" => "CASE WHEN c.age_at_entry_months >= 144 THEN 1 ELSE 0 END".into(),
        "under_2" => "CASE WHEN c.age_at_entry_months < 24 THEN 1 ELSE 0 END".into(),
        "prenatal" => "CASE WHEN c.age_at_entry_months < 0 THEN 1 ELSE 0 END".into(),
        "prior_episode" => "CASE WHEN c.episode_seq > 1 THEN 1 ELSE 0 END".into(),
        "primary_form" => "COALESCE(c.primary_form, 'UNKNOWN')".into(),
        "referral_group" => "c.source_group".into(),
        "referral_source" => "c.referral_source".into(),
        "melding_type" => "COALESCE(c.melding_type, 'UNKNOWN')".into(),
        "safety_plan" => format!(
            "CASE WHEN EXISTS (SELECT 1 FROM intervention x WHERE x.release_id = {release} \
             AND x.episode_key = c.episode_key AND x.intervention_code = 'SAFETY_PLAN' \
             AND x.start_date <= c.entry_date + 14) THEN 1 ELSE 0 END"
        ),
        "substantiated" => format!(
            "CASE WHEN EXISTS (SELECT 1 FROM report_child_form x WHERE x.release_id = {release} \
             AND x.report_key = c.index_report_key AND x.child_key = c.child_key \
             AND x.finding IN ('SUBSTANTIATED', 'INDICATED')) THEN 1 ELSE 0 END"
        ),
        "entry_year" => "EXTRACT(YEAR FROM c.entry_date)".into(),
        "risk_contexts" => format!(
            "(SELECT count(*) FROM episode_context x WHERE x.release_id = {release} \
             AND x.episode_key = c.episode_key AND x.context_code IN \
             ('PARENT_MENTAL_ILLNESS', 'PARENT_SUBSTANCE', 'PARTNER_VIOLENCE', 'POVERTY'))"
        ),
        _ => {
            if let Some(code) = name.strip_prefix("form_") {
                let v = p.text(code);
                format!("CASE WHEN c.primary_form = {v} THEN 1 ELSE 0 END")
            } else if let Some(code) = name.strip_prefix("ctx_") {
                ctx_exists(p.text(code))
            } else if let Some(code) = name.strip_prefix("source_") {
                let v = p.text(code);
                format!("CASE WHEN c.referral_source = {v} THEN 1 ELSE 0 END")
            } else {
                return None;
            }
        }
    })
}
