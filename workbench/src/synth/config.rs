//! The generator's parameters: the documented default file, scenario overrides, user overrides,
//! and their validation into a typed [`SynthConfig`].
//!
//! The effective configuration is built on TOML tables (default ← scenario ← `--config` file), so
//! the exact text that drove a run can be stored in `data_release.generator_config`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use studies::codes;

use super::SynthError;

/// The documented default parameter file.
pub const DEFAULT_TOML: &str = include_str!("default.toml");

/// A named scenario of domain.md §6.7.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// All hazard ratios 1 (type-I error).
    Null,
    /// The effects of domain.md §6.4.
    Default,
    /// Community effect on safety 0.7 before 90 days, 1.0 after.
    NonPh,
    /// Moving away depends on the family frailty.
    InformativeCensoring,
    /// Centre random effect SD 0.4.
    CentreHeterogeneity,
    /// VK Brussel and some SOS teams with fewer than 50 children.
    SmallN,
    /// No frailty and no centre effects: a plain Cox model targets the true conditional beta.
    NoFrailty,
    /// CSV files with the faults the importer must catch.
    DataQuality,
}

impl Scenario {
    pub const ALL: [Scenario; 8] = [
        Scenario::Null,
        Scenario::Default,
        Scenario::NonPh,
        Scenario::InformativeCensoring,
        Scenario::CentreHeterogeneity,
        Scenario::SmallN,
        Scenario::NoFrailty,
        Scenario::DataQuality,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Null => "null",
            Scenario::Default => "default",
            Scenario::NonPh => "non-ph",
            Scenario::InformativeCensoring => "informative-censoring",
            Scenario::CentreHeterogeneity => "centre-heterogeneity",
            Scenario::SmallN => "small-n",
            Scenario::NoFrailty => "no-frailty",
            Scenario::DataQuality => "data-quality",
        }
    }

    /// Parses a scenario name; the error lists the valid ones.
    pub fn parse(name: &str) -> Result<Scenario, SynthError> {
        Scenario::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                SynthError::Config(format!(
                    "unknown scenario `{name}`; valid scenarios: {}",
                    Scenario::ALL.map(|s| s.name()).join(", ")
                ))
            })
    }

    /// The scenario's overrides of the default file, as TOML.
    fn overrides(self) -> &'static str {
        match self {
            Scenario::Null | Scenario::Default | Scenario::DataQuality => "",
            Scenario::NonPh => {
                "[phase1.safety_at_home]\nhr = { fwb = 0.7, safety_plan = 1.4, form_SEX = 0.8, adolescent = 0.9 }\n\
                 change_day = 90.0\nhr_after = { fwb = 1.0 }\n"
            }
            Scenario::InformativeCensoring => "[censoring]\nmove_frailty_power = 2.0\n",
            Scenario::CentreHeterogeneity => "[centre_effects]\nsigma = 0.4\n",
            Scenario::SmallN => {
                "[population]\nsmall_centres = [\"VK_BRU\", \"SOS_DINANT\", \"SOS_LUX\", \"SOS_HUY\"]\n"
            }
            Scenario::NoFrailty => "[frailty]\ntheta = 0.0\n[centre_effects]\nsigma = 0.0\n",
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Hazard ratios by covariate name.
pub type HrMap = BTreeMap<String, f64>;
/// Probabilities by code.
pub type CodeProbs = BTreeMap<String, f64>;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SynthConfig {
    pub scenario: String,
    pub population: Population,
    pub centre_effects: CentreEffects,
    pub frailty: Frailty,
    pub treatment: Treatment,
    pub phase1: Phase1,
    pub phase2: Phase2,
    pub phase3: Phase3,
    pub censoring: Censoring,
    pub data_quality: DataQuality,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Population {
    pub entry_first: String,
    pub entry_last: String,
    pub extract_date: String,
    pub share_fwb: f64,
    pub family_extra_children_mean: f64,
    pub siblings_joint_report: f64,
    pub prenatal_share: f64,
    pub age_band_weights: [f64; 3],
    pub prenatal_max_months: i64,
    pub female_share: f64,
    pub chat_female_share: f64,
    pub chat_share_vk: f64,
    pub prior_episode_share: f64,
    pub centre_weights: BTreeMap<String, f64>,
    pub small_centres: Vec<String>,
    pub small_centre_expected_children: f64,
    pub forms_vl: CodeProbs,
    pub forms_fwb: CodeProbs,
    pub form_rules: FormRules,
    pub secondary_forms: CodeProbs,
    pub contexts_vl: CodeProbs,
    pub contexts_fwb: CodeProbs,
    pub referral_vl: CodeProbs,
    pub referral_fwb: CodeProbs,
    pub melding_vl: CodeProbs,
    pub melding_fwb: CodeProbs,
    pub channel: CodeProbs,
    pub interventions: InterventionShares,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormRules {
    pub aht_share_of_phys_under_2: f64,
    pub institutional_share_of_other: f64,
    pub partner_violence_given_witness: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InterventionShares {
    pub safety_plan_vl: f64,
    pub safety_plan_fwb: f64,
    pub prosecutor_referral: f64,
    pub court_measure_given_referral: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CentreEffects {
    pub sigma: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Frailty {
    pub theta: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Treatment {
    pub alpha0: f64,
    pub alpha_age: f64,
    pub alpha_neglect: f64,
    pub alpha_fwb: f64,
    pub alpha_risk: f64,
    pub start_shape: f64,
    pub start_mean_days: f64,
    pub duration_mean_days: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase1 {
    pub review_min_days: i64,
    pub review_max_days: i64,
    pub interval_censored_share: f64,
    pub closure_after_safety_mean_days: f64,
    pub safety_achieved_share: f64,
    pub closure_after_placement_mean_days: f64,
    pub placement_mean_days: f64,
    pub placement_move_share: f64,
    pub safety_at_home: CauseParams,
    pub placement: CauseParams,
    pub closed_without_safety: CauseParams,
    pub death: CauseParams,
}

impl Phase1 {
    /// The causes in their fixed order (see [`super::processes::CAUSES`]).
    pub fn causes(&self) -> [&CauseParams; 4] {
        [
            &self.safety_at_home,
            &self.placement,
            &self.closed_without_safety,
            &self.death,
        ]
    }
}

/// One cause-specific Weibull-PH hazard of phase 1.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CauseParams {
    pub lambda: f64,
    pub shape: f64,
    pub hr: HrMap,
    pub change_day: f64,
    pub hr_after: HrMap,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase2 {
    pub lambda: f64,
    pub shape: f64,
    pub hr: HrMap,
    pub hr_family_support: f64,
    pub duplicate_share: f64,
    pub duplicate_flagged_share: f64,
    pub duplicate_window_days: i64,
    pub rereport_same_form: f64,
    pub substantiation_base: f64,
    pub substantiation_logit: HrMap,
    pub secondary_factor: f64,
    pub indicated_share: f64,
    pub undetermined_share: f64,
    pub finding_lag_shape: f64,
    pub finding_lag_mean_days: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase3 {
    pub assessed_share: f64,
    pub baseline_max_days: f64,
    pub m6_sd_days: f64,
    pub m12_sd_days: f64,
    pub mcar: f64,
    pub mar_intercept: f64,
    pub mar_baseline_z: f64,
    pub mar_fwb: f64,
    pub invalid_share: f64,
    pub sdq: Trajectory,
    pub cbcl: Trajectory,
}

/// Parameters of one instrument's latent trajectory (§6.5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trajectory {
    pub b0_mean: f64,
    pub sd_b0: f64,
    pub sd_b1: f64,
    pub corr_b0_b1: f64,
    pub sd_error: f64,
    pub slope: f64,
    pub slope_treated: f64,
    #[serde(rename = "shift_form_SEX")]
    pub shift_form_sex: f64,
    pub shift_witness_ipv: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Censoring {
    pub move_rate_per_year: f64,
    pub move_frailty_power: f64,
    pub lost_share: f64,
    pub transfer_rate_per_year: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataQuality {
    pub enabled: bool,
    pub duplicate_report_rows: f64,
    pub missing_finding_dates: f64,
    pub dangling_transfers: f64,
    pub misordered_dates: f64,
}

/// The configuration a run uses, with the TOML text it came from.
#[derive(Debug, Clone)]
pub struct Effective {
    pub config: SynthConfig,
    /// The merged TOML (default, scenario, user file), as stored in `data_release.generator_config`.
    pub toml: String,
    /// The merged table, for `truth.parameter`.
    pub table: toml::Table,
}

/// Builds the effective configuration of a scenario with optional user overrides (TOML text).
pub fn effective(scenario: Scenario, user: Option<&str>) -> Result<Effective, SynthError> {
    let mut table: toml::Table = DEFAULT_TOML
        .parse()
        .map_err(|e| SynthError::Config(format!("default parameters: {e}")))?;
    let over: toml::Table = scenario
        .overrides()
        .parse()
        .map_err(|e| SynthError::Config(format!("scenario {scenario}: {e}")))?;
    merge(&mut table, over);
    if scenario == Scenario::Null {
        set_all_hazard_ratios_to_one(&mut table);
    }
    if scenario == Scenario::DataQuality
        && let Some(toml::Value::Table(dq)) = table.get_mut("data_quality")
    {
        dq.insert("enabled".into(), toml::Value::Boolean(true));
    }
    table.insert(
        "scenario".into(),
        toml::Value::String(scenario.name().into()),
    );
    if let Some(user) = user {
        let over: toml::Table = user
            .parse()
            .map_err(|e| SynthError::Config(format!("config file: {e}")))?;
        if over.contains_key("scenario") {
            return Err(SynthError::Config(
                "config file: `scenario` is chosen with --scenario, not in the file".into(),
            ));
        }
        merge(&mut table, over);
    }
    let text = toml::to_string(&table)
        .map_err(|e| SynthError::Config(format!("cannot write the configuration: {e}")))?;
    let config: SynthConfig =
        toml::from_str(&text).map_err(|e| SynthError::Config(format!("configuration: {e}")))?;
    validate(&config)?;
    Ok(Effective {
        config,
        toml: text,
        table,
    })
}

/// Deep merge: tables merge key by key, anything else is replaced. Hazard-ratio maps (`hr`,
/// `hr_after`, `substantiation_logit`, `centre_weights`) merge too, so a file can change one ratio.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn set_all_hazard_ratios_to_one(t: &mut toml::Table) {
    for (k, v) in t.iter_mut() {
        if let toml::Value::Table(inner) = v {
            if k == "hr" || k == "hr_after" {
                for (_, x) in inner.iter_mut() {
                    *x = toml::Value::Float(1.0);
                }
            } else {
                set_all_hazard_ratios_to_one(inner);
            }
        } else if k == "hr_family_support" {
            *v = toml::Value::Float(1.0);
        }
    }
}

/// Covariate names a hazard-ratio table may use.
pub fn covariate_names() -> Vec<String> {
    let mut v: Vec<String> = [
        "fwb",
        "age_years",
        "adolescent",
        "under_2",
        "prenatal",
        "female",
        "prior_episode",
        "safety_plan",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(codes::FORMS.iter().map(|f| format!("form_{}", f.code)));
    v.extend(codes::CONTEXTS.iter().map(|c| format!("ctx_{}", c.code)));
    v
}

fn validate(c: &SynthConfig) -> Result<(), SynthError> {
    let err = |m: String| Err(SynthError::Config(m));
    let prob = |name: &str, p: f64| -> Result<(), SynthError> {
        if (0.0..=1.0).contains(&p) {
            Ok(())
        } else {
            Err(SynthError::Config(format!(
                "{name} = {p} must be a probability in [0, 1]"
            )))
        }
    };
    let positive = |name: &str, x: f64| -> Result<(), SynthError> {
        if x > 0.0 && x.is_finite() {
            Ok(())
        } else {
            Err(SynthError::Config(format!("{name} = {x} must be positive")))
        }
    };
    let non_negative = |name: &str, x: f64| -> Result<(), SynthError> {
        if x >= 0.0 && x.is_finite() {
            Ok(())
        } else {
            Err(SynthError::Config(format!(
                "{name} = {x} must be zero or positive"
            )))
        }
    };
    let p = &c.population;
    let first = super::dates::parse_iso(&p.entry_first)
        .map_err(|e| SynthError::Config(format!("population.entry_first: {e}")))?;
    let last = super::dates::parse_iso(&p.entry_last)
        .map_err(|e| SynthError::Config(format!("population.entry_last: {e}")))?;
    let extract = super::dates::parse_iso(&p.extract_date)
        .map_err(|e| SynthError::Config(format!("population.extract_date: {e}")))?;
    if first > last || last > extract {
        return err("population: need entry_first <= entry_last <= extract_date".into());
    }
    for (n, x) in [
        ("population.share_fwb", p.share_fwb),
        ("population.siblings_joint_report", p.siblings_joint_report),
        ("population.prenatal_share", p.prenatal_share),
        ("population.female_share", p.female_share),
        ("population.chat_female_share", p.chat_female_share),
        ("population.prior_episode_share", p.prior_episode_share),
        (
            "population.form_rules.aht_share_of_phys_under_2",
            p.form_rules.aht_share_of_phys_under_2,
        ),
        (
            "population.form_rules.institutional_share_of_other",
            p.form_rules.institutional_share_of_other,
        ),
        (
            "population.form_rules.partner_violence_given_witness",
            p.form_rules.partner_violence_given_witness,
        ),
        (
            "population.interventions.safety_plan_vl",
            p.interventions.safety_plan_vl,
        ),
        (
            "population.interventions.safety_plan_fwb",
            p.interventions.safety_plan_fwb,
        ),
        (
            "population.interventions.prosecutor_referral",
            p.interventions.prosecutor_referral,
        ),
        (
            "population.interventions.court_measure_given_referral",
            p.interventions.court_measure_given_referral,
        ),
        (
            "phase1.interval_censored_share",
            c.phase1.interval_censored_share,
        ),
        (
            "phase1.safety_achieved_share",
            c.phase1.safety_achieved_share,
        ),
        ("phase1.placement_move_share", c.phase1.placement_move_share),
        ("phase2.duplicate_share", c.phase2.duplicate_share),
        (
            "phase2.duplicate_flagged_share",
            c.phase2.duplicate_flagged_share,
        ),
        ("phase2.rereport_same_form", c.phase2.rereport_same_form),
        ("phase2.substantiation_base", c.phase2.substantiation_base),
        ("phase2.secondary_factor", c.phase2.secondary_factor),
        ("phase2.indicated_share", c.phase2.indicated_share),
        ("phase2.undetermined_share", c.phase2.undetermined_share),
        ("phase3.assessed_share", c.phase3.assessed_share),
        ("phase3.mcar", c.phase3.mcar),
        ("phase3.invalid_share", c.phase3.invalid_share),
        ("censoring.lost_share", c.censoring.lost_share),
        (
            "data_quality.duplicate_report_rows",
            c.data_quality.duplicate_report_rows,
        ),
        (
            "data_quality.missing_finding_dates",
            c.data_quality.missing_finding_dates,
        ),
        (
            "data_quality.dangling_transfers",
            c.data_quality.dangling_transfers,
        ),
        (
            "data_quality.misordered_dates",
            c.data_quality.misordered_dates,
        ),
    ] {
        prob(n, x)?;
    }
    if p.chat_share_vk > p.age_band_weights[2] {
        return err("population.chat_share_vk cannot exceed the 12-17 band weight".into());
    }
    for w in p.age_band_weights {
        non_negative("population.age_band_weights", w)?;
    }
    if p.age_band_weights.iter().sum::<f64>() <= 0.0 {
        return err("population.age_band_weights must not all be zero".into());
    }
    if p.prenatal_max_months < 1 {
        return err("population.prenatal_max_months must be at least 1".into());
    }
    non_negative(
        "population.family_extra_children_mean",
        p.family_extra_children_mean,
    )?;
    non_negative(
        "population.small_centre_expected_children",
        p.small_centre_expected_children,
    )?;
    for (id, w) in &p.centre_weights {
        if codes::centre(id).is_none() {
            return err(format!("population.centre_weights: unknown centre `{id}`"));
        }
        non_negative("population.centre_weights", *w)?;
    }
    for id in &p.small_centres {
        if codes::centre(id).is_none() {
            return err(format!("population.small_centres: unknown centre `{id}`"));
        }
    }
    code_probs(
        "population.forms_vl",
        &p.forms_vl,
        "maltreatment_form",
        true,
    )?;
    code_probs(
        "population.forms_fwb",
        &p.forms_fwb,
        "maltreatment_form",
        true,
    )?;
    code_probs(
        "population.secondary_forms",
        &p.secondary_forms,
        "maltreatment_form",
        false,
    )?;
    code_probs(
        "population.contexts_vl",
        &p.contexts_vl,
        "context_code",
        false,
    )?;
    code_probs(
        "population.contexts_fwb",
        &p.contexts_fwb,
        "context_code",
        false,
    )?;
    code_probs(
        "population.referral_vl",
        &p.referral_vl,
        "referral_source",
        true,
    )?;
    code_probs(
        "population.referral_fwb",
        &p.referral_fwb,
        "referral_source",
        true,
    )?;
    one_of_probs(
        "population.melding_vl",
        &p.melding_vl,
        &["ADVIES", "DOSSIER", "MANO"],
    )?;
    one_of_probs(
        "population.melding_fwb",
        &p.melding_fwb,
        &["SIGNALEMENT", "PRISE_EN_CHARGE"],
    )?;
    one_of_probs(
        "population.channel",
        &p.channel,
        &["PHONE", "EMAIL", "IN_PERSON", "LETTER"],
    )?;
    non_negative("centre_effects.sigma", c.centre_effects.sigma)?;
    non_negative("frailty.theta", c.frailty.theta)?;
    let t = &c.treatment;
    positive("treatment.start_shape", t.start_shape)?;
    positive("treatment.start_mean_days", t.start_mean_days)?;
    positive("treatment.duration_mean_days", t.duration_mean_days)?;
    let ph1 = &c.phase1;
    if ph1.review_min_days < 1 || ph1.review_max_days < ph1.review_min_days {
        return err("phase1: need 1 <= review_min_days <= review_max_days".into());
    }
    positive(
        "phase1.closure_after_safety_mean_days",
        ph1.closure_after_safety_mean_days,
    )?;
    positive(
        "phase1.closure_after_placement_mean_days",
        ph1.closure_after_placement_mean_days,
    )?;
    positive("phase1.placement_mean_days", ph1.placement_mean_days)?;
    for (name, cause) in [
        "safety_at_home",
        "placement",
        "closed_without_safety",
        "death",
    ]
    .iter()
    .zip(ph1.causes())
    {
        let n = format!("phase1.{name}");
        positive(&format!("{n}.lambda"), cause.lambda)?;
        positive(&format!("{n}.shape"), cause.shape)?;
        non_negative(&format!("{n}.change_day"), cause.change_day)?;
        hr_map(&format!("{n}.hr"), &cause.hr)?;
        hr_map(&format!("{n}.hr_after"), &cause.hr_after)?;
    }
    let ph2 = &c.phase2;
    positive("phase2.lambda", ph2.lambda)?;
    positive("phase2.shape", ph2.shape)?;
    positive("phase2.hr_family_support", ph2.hr_family_support)?;
    hr_map("phase2.hr", &ph2.hr)?;
    for (k, v) in &ph2.substantiation_logit {
        if !covariate_names().contains(k) || !v.is_finite() {
            return err(format!(
                "phase2.substantiation_logit.{k}: unknown covariate or bad value; valid covariates: {}",
                covariate_names().join(", ")
            ));
        }
    }
    if ph2.duplicate_window_days < 1 {
        return err("phase2.duplicate_window_days must be at least 1".into());
    }
    if !(ph2.substantiation_base > 0.0 && ph2.substantiation_base < 1.0) {
        return err("phase2.substantiation_base must be strictly between 0 and 1".into());
    }
    positive("phase2.finding_lag_shape", ph2.finding_lag_shape)?;
    positive("phase2.finding_lag_mean_days", ph2.finding_lag_mean_days)?;
    let ph3 = &c.phase3;
    non_negative("phase3.baseline_max_days", ph3.baseline_max_days)?;
    non_negative("phase3.m6_sd_days", ph3.m6_sd_days)?;
    non_negative("phase3.m12_sd_days", ph3.m12_sd_days)?;
    for (n, tr) in [("phase3.sdq", &ph3.sdq), ("phase3.cbcl", &ph3.cbcl)] {
        non_negative(&format!("{n}.sd_b0"), tr.sd_b0)?;
        non_negative(&format!("{n}.sd_b1"), tr.sd_b1)?;
        non_negative(&format!("{n}.sd_error"), tr.sd_error)?;
        if !(-1.0..=1.0).contains(&tr.corr_b0_b1) {
            return err(format!("{n}.corr_b0_b1 must be in [-1, 1]"));
        }
    }
    non_negative(
        "censoring.move_rate_per_year",
        c.censoring.move_rate_per_year,
    )?;
    non_negative(
        "censoring.transfer_rate_per_year",
        c.censoring.transfer_rate_per_year,
    )?;
    if !c.censoring.move_frailty_power.is_finite() {
        return err("censoring.move_frailty_power must be finite".into());
    }
    Ok(())
}

fn hr_map(name: &str, m: &HrMap) -> Result<(), SynthError> {
    let names = covariate_names();
    for (k, v) in m {
        if !names.contains(k) {
            return Err(SynthError::Config(format!(
                "{name}: unknown covariate `{k}`; valid covariates: {}",
                names.join(", ")
            )));
        }
        if !(*v > 0.0 && v.is_finite()) {
            return Err(SynthError::Config(format!(
                "{name}.{k} = {v}: a hazard ratio must be positive"
            )));
        }
    }
    Ok(())
}

fn code_probs(
    name: &str,
    m: &CodeProbs,
    list: &str,
    must_sum_positive: bool,
) -> Result<(), SynthError> {
    for (k, v) in m {
        if !codes::is_known(list, k) {
            return Err(SynthError::Config(format!(
                "{name}: `{k}` is not a code of {list}"
            )));
        }
        if !(*v >= 0.0 && v.is_finite()) {
            return Err(SynthError::Config(format!(
                "{name}.{k} = {v} must be zero or positive"
            )));
        }
        if !must_sum_positive && *v > 1.0 {
            return Err(SynthError::Config(format!(
                "{name}.{k} = {v} must be a probability"
            )));
        }
    }
    if must_sum_positive && m.values().sum::<f64>() <= 0.0 {
        return Err(SynthError::Config(format!(
            "{name} needs at least one positive weight"
        )));
    }
    Ok(())
}

fn one_of_probs(name: &str, m: &CodeProbs, allowed: &[&str]) -> Result<(), SynthError> {
    for (k, v) in m {
        if !allowed.contains(&k.as_str()) {
            return Err(SynthError::Config(format!(
                "{name}: `{k}` is not one of {}",
                allowed.join(", ")
            )));
        }
        if !(*v >= 0.0 && v.is_finite()) {
            return Err(SynthError::Config(format!(
                "{name}.{k} = {v} must be zero or positive"
            )));
        }
    }
    if m.values().sum::<f64>() <= 0.0 {
        return Err(SynthError::Config(format!(
            "{name} needs at least one positive weight"
        )));
    }
    Ok(())
}

/// Numeric leaves of the merged table by dotted path (booleans as 0/1), for `truth.parameter`.
pub fn numeric_leaves(t: &toml::Table) -> Vec<(String, f64)> {
    fn walk(prefix: &str, v: &toml::Value, out: &mut Vec<(String, f64)>) {
        match v {
            toml::Value::Integer(i) => out.push((prefix.to_string(), *i as f64)),
            toml::Value::Float(x) => out.push((prefix.to_string(), *x)),
            toml::Value::Boolean(b) => out.push((prefix.to_string(), f64::from(u8::from(*b)))),
            toml::Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    walk(&format!("{prefix}.{i}"), x, out);
                }
            }
            toml::Value::Table(t) => {
                for (k, x) in t {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&p, x, out);
                }
            }
            toml::Value::String(_) | toml::Value::Datetime(_) => {}
        }
    }
    let mut out = Vec::new();
    walk("", &toml::Value::Table(t.clone()), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_builds_and_unknown_is_refused() -> Result<(), SynthError> {
        for s in Scenario::ALL {
            let e = effective(s, None)?;
            assert_eq!(e.config.scenario, s.name());
        }
        let err = Scenario::parse("nope").err().map(|e| e.to_string());
        let msg = err.unwrap_or_default();
        assert!(msg.contains("informative-censoring"), "{msg}");
        assert!(msg.contains("no-frailty"), "{msg}");
        Ok(())
    }

    #[test]
    fn null_sets_every_hazard_ratio_to_one() -> Result<(), SynthError> {
        let e = effective(Scenario::Null, None)?;
        assert!(e.config.phase2.hr.values().all(|v| *v == 1.0));
        assert_eq!(e.config.phase2.hr_family_support, 1.0);
        for c in e.config.phase1.causes() {
            assert!(c.hr.values().all(|v| *v == 1.0));
        }
        Ok(())
    }

    #[test]
    fn user_file_overrides_a_subset_and_bad_keys_are_refused() -> Result<(), SynthError> {
        let e = effective(
            Scenario::Default,
            Some("[phase2]\nhr = { fwb = 2.0 }\n[frailty]\ntheta = 1.0\n"),
        )?;
        assert_eq!(e.config.phase2.hr.get("fwb"), Some(&2.0));
        assert_eq!(e.config.phase2.hr.get("prior_episode"), Some(&1.8));
        assert_eq!(e.config.frailty.theta, 1.0);
        assert!(effective(Scenario::Default, Some("[frailty]\nthetaa = 1.0\n")).is_err());
        assert!(
            effective(
                Scenario::Default,
                Some("[phase2]\nhr = { shoe_size = 2.0 }\n")
            )
            .is_err()
        );
        assert!(effective(Scenario::Default, Some("[population]\nshare_fwb = 2.0\n")).is_err());
        assert!(effective(Scenario::Default, Some("not toml [")).is_err());
        Ok(())
    }

    #[test]
    fn parameters_flatten_to_dotted_names() -> Result<(), SynthError> {
        let e = effective(Scenario::Default, None)?;
        let leaves = numeric_leaves(&e.table);
        assert!(
            leaves
                .iter()
                .any(|(k, v)| k == "phase2.hr.fwb" && *v == 1.15)
        );
        assert!(
            leaves
                .iter()
                .any(|(k, v)| k == "frailty.theta" && *v == 0.5)
        );
        assert!(
            leaves
                .iter()
                .any(|(k, v)| k == "population.age_band_weights.1" && *v == 0.36)
        );
        Ok(())
    }
}
