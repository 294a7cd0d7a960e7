//! Sample states of every screen, for the snapshot tests and the rendering bench: a gated
//! attrition, a gated study bundle (curves, Cox, RMST) and a dashboard. The numbers are made up
//! but shaped like the real ones (`steps` sets how many published steps each curve has).

use studies::bundle::{
    AdjustedDifferences, BalanceRow, Comparison, DiagnosticLine, Difference, GroupWeights,
    PropensityModel, WeightsSummary,
};
use studies::bundle::{
    AttritionStep, Bundle, Count, CoxTable, CoxTerm, Curve, CurveStep, GroupSummary, Median,
    OutcomeResult, PointEstimate, Proportion, RmstDifference, RmstGroup, RmstTable, Stamp,
    StatusCount, Test,
};
use studies::outcomes::Outcome;
use studies::protocol::OutcomeSpec;

use super::app::{App, Mode, default_protocol};
use super::dashboard_data::{CentreRow, DashboardData, Tile};
use super::i18n::Lang;
use super::worker::{AttritionRow, AttritionView};
use crate::disclosure::GatedCount;

/// A new interface over the default protocol.
pub fn app(mode: Mode, lang: Lang) -> App {
    App::new(mode, lang, protocol(), "demo.duckdb".into(), 5)
}

/// The protocol of the fixtures (fixed here, so the snapshots do not follow the examples).
pub const PROTOCOL: &str = r#"
title = "Flanders vs Wallonia: safety, recurrence and recovery"
seed = 20251129
covariates = [
  "adolescent", "age_years", "form_SEX", "form_NEGL", "safety_plan",
  "ctx_PARENT_MENTAL_ILLNESS", "ctx_PARTNER_VIOLENCE",
]
[cohort]
entry = "first"
entry_from = "2015-01-01"
entry_to = "2023-12-31"
[[cohort.rule]]
name = "born before entry"
prenatal = false
[[cohort.rule]]
name = "aged 0-17 at entry"
age_at_entry_years = { min = 0, max = 17 }
[[cohort.rule]]
name = "first-ever episode"
prior_episodes = false
[groups]
by = "community"
levels = ["VL", "FWB"]
[[outcome]]
id = "P1.1"
[[outcome]]
id = "P1.2"
[[outcome]]
id = "P2.1"
[[outcome]]
id = "P2.2"
[[outcome]]
id = "P3.2"
[[model]]
kind = "cumulative_incidence"
[[model]]
kind = "cox"
"#;

/// [`PROTOCOL`], parsed.
pub fn protocol() -> studies::Protocol {
    studies::Protocol::parse("fixture.toml", PROTOCOL).unwrap_or_else(|_| default_protocol())
}

/// The attrition of the default protocol's rules on a store of 20,000 children.
pub fn attrition() -> AttritionView {
    let s = GatedCount::Shown;
    let row = |label: &str, children, episodes, removed| AttritionRow {
        label: label.into(),
        exclude: false,
        children: s(children),
        episodes: s(episodes),
        removed,
    };
    AttritionView {
        rows: vec![
            row("entry", 14_210, 14_210, None),
            row("born before entry", 13_874, 13_874, Some(s(336))),
            row("aged 0-17 at entry", 13_874, 13_874, Some(s(0))),
            row("first-ever episode", 11_032, 11_032, Some(s(2_842))),
            AttritionRow {
                label: "community is VL or FWB".into(),
                exclude: false,
                children: s(11_032),
                episodes: s(11_032),
                removed: Some(s(0)),
            },
        ],
        k: 5,
        millis: 42,
    }
}

fn curve(
    group: &str,
    cause: &str,
    estimator: &str,
    rising: bool,
    rate: f64,
    n: u64,
    steps: usize,
) -> Curve {
    let mut out = Vec::with_capacity(steps);
    let mut at_risk = n as f64;
    let horizon = 700.0;
    for i in 0..steps {
        let t = (i as f64 + 1.0) * horizon / steps as f64;
        let f = 1.0 - (-rate * t).exp();
        let events = (at_risk * rate * horizon / steps as f64).max(5.0);
        out.push(CurveStep {
            time: t.round(),
            estimate: if rising { 0.9 * f } else { 1.0 - f },
            lower: None,
            upper: None,
            n_risk: Count::Shown(at_risk.round() as u64),
            n_event: Count::Shown(events.round() as u64),
            n_censor: Count::Shown(3),
        });
        at_risk = (at_risk - events - 3.0).max(10.0);
    }
    Curve {
        group: group.into(),
        cause: cause.into(),
        estimator: estimator.into(),
        steps: out,
        ends_at: Some(730.0),
        note: "coarsened: each published step pools at least 10 events".into(),
    }
}

/// An IPTW comparison of FWB against VL.
pub fn comparison() -> Comparison {
    let weights = |n, ess| GroupWeights {
        n: Count::Shown(n),
        sum: n as f64,
        min: 0.4,
        max: 6.2,
        mean: 1.0,
        ess,
    };
    let balance = |name: &str, before, after| BalanceRow {
        covariate: name.into(),
        binary: true,
        mean_treated_before: None,
        mean_control_before: None,
        mean_treated_after: None,
        mean_control_after: None,
        smd_before: Some(before),
        smd_after: Some(after),
        variance_ratio_before: None,
        variance_ratio_after: None,
        suppressed: false,
    };
    let diff = |estimate, lower, upper| Difference {
        estimate,
        std_err: 0.01,
        lower,
        upper,
    };
    Comparison {
        description: "IPTW (ATE, stabilised) of FWB against VL on 4 covariates".into(),
        treated: "FWB".into(),
        control: "VL".into(),
        method: "iptw".into(),
        estimand: "ate".into(),
        propensity: PropensityModel {
            n: Count::Shown(11_032),
            n_treated: Count::Shown(4_932),
            n_control: Count::Shown(6_100),
            terms: Vec::new(),
            c_statistic: 0.612,
            converged: true,
            iterations: 5,
            separation: false,
            warnings: Vec::new(),
        },
        weights: WeightsSummary {
            kind: "inverse probability of treatment weights (ATE), stabilised".into(),
            stabilised: true,
            truncation: None,
            treated: weights(4_932, 4_410.0),
            control: weights(6_100, 5_702.0),
        },
        matching: None,
        balance: vec![
            balance("adolescent", 0.182, 0.012),
            balance("form_SEX", -0.094, -0.004),
            balance("safety_plan", 0.231, 0.021),
        ],
        max_abs_smd_before: Some(0.231),
        max_abs_smd_after: Some(0.021),
        diagnostics: vec![
            DiagnosticLine {
                check: "balance".into(),
                verdict: "pass".into(),
                value: Some(0.021),
                message: "every standardised mean difference is below 0.1 after weighting".into(),
            },
            DiagnosticLine {
                check: "proportional-hazards".into(),
                verdict: "warn".into(),
                value: Some(0.03),
                message: "the weighted hazard ratio averages a ratio that changes over time".into(),
            },
        ],
        overall: "warn".into(),
        cox: None,
        adjusted: Some(AdjustedDifferences {
            tau: 365.0,
            event: "SAFETY".into(),
            risk_treated: 0.71,
            risk_control: 0.83,
            risk_difference: diff(-0.12, -0.14, -0.10),
            restricted_mean_treated: 151.0,
            restricted_mean_control: 112.0,
            restricted_mean_difference: diff(39.0, 33.0, 45.0),
            replicates: 50,
            failed_replicates: 0,
            seed: 1,
            reestimated: false,
            conf_level: 0.95,
        }),
        notes: Vec::new(),
    }
}

/// A gated bundle of outcome P1.1 by community with `steps` published steps per curve.
pub fn bundle(steps: usize) -> Bundle {
    let outcome = Outcome::resolve(&OutcomeSpec {
        id: "P1.1".into(),
        ..Default::default()
    })
    .unwrap_or_else(|| unreachable!("P1.1 is in the catalogue"));
    let aj = "Aalen–Johansen cumulative incidence";
    let km = "Kaplan–Meier survival";
    let curves = vec![
        curve("VL", "SAFETY", aj, true, 0.012, 6_100, steps),
        curve("FWB", "SAFETY", aj, true, 0.008, 4_932, steps),
        curve("VL", "SAFETY", km, false, 0.014, 6_100, steps),
        curve("FWB", "SAFETY", km, false, 0.010, 4_932, steps),
    ];
    let group = |g: &str, n| GroupSummary {
        group: g.into(),
        children: Count::Shown(n),
        by_status: vec![StatusCount {
            status: "SAFETY".into(),
            count: Count::Shown(n * 8 / 10),
        }],
    };
    let term = |name: &str, hr: f64, lo: f64, hi: f64, p: f64| CoxTerm {
        term: name.into(),
        coef: Some(hr.ln()),
        se: Some(0.05),
        hazard_ratio: Some(hr),
        lower: Some(lo),
        upper: Some(hi),
        p_value: Some(p),
        suppressed: false,
    };
    let at_times = ["VL", "FWB"]
        .iter()
        .flat_map(|g| {
            [30.0, 90.0, 180.0, 365.0, 730.0].map(|t| PointEstimate {
                group: g.to_string(),
                cause: "SAFETY".into(),
                time: t,
                estimate: Some(if *g == "VL" {
                    0.2 + t / 1000.0
                } else {
                    0.1 + t / 1100.0
                }),
                lower: None,
                upper: None,
            })
        })
        .collect();
    Bundle {
        format: studies::bundle::BUNDLE_FORMAT,
        title: "Flanders vs Wallonia".into(),
        question: String::new(),
        authors: Vec::new(),
        stamp: Stamp {
            protocol_sha256: "ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12cd34ef56ab12".into(),
            protocol_file: "tui".into(),
            release_id: "synth-default-20251129".into(),
            release_hash: "00".repeat(32),
            workbench_version: "0.1.0".into(),
            seed: 1,
            privacy: Default::default(),
            k_applied: 10,
        },
        attrition: vec![AttritionStep {
            step: 0,
            rule: "entry".into(),
            exclude: false,
            children: Count::Shown(11_032),
            episodes: Count::Shown(11_032),
            children_removed: Count::Shown(0),
        }],
        outcomes: vec![OutcomeResult {
            outcome,
            groups: vec![group("VL", 6_100), group("FWB", 4_932)],
            curves,
            at_times,
            medians: vec![Median {
                group: "VL".into(),
                median: Some(58.0),
                lower: None,
                upper: None,
            }],
            logrank: Some(Test {
                name: "log-rank".into(),
                statistic: 48.2,
                df: 1.0,
                p_value: 3.8e-12,
            }),
            cox: vec![CoxTable {
                description: "cause-specific Cox model of safety: community + 3 covariates".into(),
                n: Count::Shown(11_032),
                events: Count::Shown(8_825),
                terms: vec![
                    term("community=FWB", 0.71, 0.67, 0.75, 1e-20),
                    term("adolescent", 0.93, 0.88, 0.99, 0.021),
                    term("form_SEX", 1.04, 0.95, 1.13, 0.41),
                    CoxTerm {
                        term: "ctx_PARTNER_VIOLENCE".into(),
                        coef: None,
                        se: None,
                        hazard_ratio: None,
                        lower: None,
                        upper: None,
                        p_value: None,
                        suppressed: true,
                    },
                ],
                ph_test: Some(Test {
                    name: "cox.zph".into(),
                    statistic: 11.3,
                    df: 4.0,
                    p_value: 0.023,
                }),
                robust: false,
                concordance: Some(0.587),
            }],
            rmst: Some(RmstTable {
                tau: 365.0,
                groups: vec![
                    RmstGroup {
                        group: "VL".into(),
                        rmst: 112.4,
                        se: 1.9,
                    },
                    RmstGroup {
                        group: "FWB".into(),
                        rmst: 151.0,
                        se: 2.3,
                    },
                ],
                differences: vec![RmstDifference {
                    group: "FWB".into(),
                    reference: "VL".into(),
                    difference: 38.6,
                    lower: 32.7,
                    upper: 44.5,
                    p_value: 1e-15,
                }],
            }),
            proportions: vec![Proportion {
                group: "VL".into(),
                label: "safety within 90 days".into(),
                numerator: Count::Shown(3_000),
                denominator: Count::Shown(6_000),
                estimate: Some(0.5),
                lower: None,
                upper: None,
            }],
            means: Vec::new(),
            rates: Vec::new(),
            comparison: Some(comparison()),
            notes: vec![
                "cumulative incidence of safety (Aalen–Johansen), with closed_without_safety, death, age_18 as competing events".into(),
                "warning: the Kaplan–Meier curve treats closed_without_safety, death, age_18 as censoring, so 1 − KM overstates the probability of safety".into(),
            ],
        }],
        disclosure: vec!["Every count passed the disclosure gate with k = 10.".into()],
        row_level_written: false,
    }
}

/// A dashboard over 21 centres and `years` entry years.
pub fn dashboard(years: usize) -> DashboardData {
    let ys: Vec<String> = (0..years).map(|i| (2015 + i).to_string()).collect();
    let series = |base: u64| -> Vec<GatedCount> {
        (0..years as u64)
            .map(|i| match (base + i) % 11 {
                0 => GatedCount::BelowK,
                1 => GatedCount::Hidden,
                _ => GatedCount::Shown(base + 37 * i),
            })
            .collect()
    };
    let tile = |key: &str, base: u64, median, rec, recov| Tile {
        key: key.into(),
        reports: GatedCount::Shown(base * 12),
        children: GatedCount::Shown(base * 9),
        children_by_year: (0..years as u64)
            .map(|i| GatedCount::Shown(base + 40 * i))
            .collect(),
        reports_by_year: (0..years as u64)
            .map(|i| GatedCount::Shown(base + 50 * i))
            .collect(),
        median_safety: median,
        recurrence: rec,
        recovery: recov,
    };
    let centres = studies::codes::CENTRES
        .iter()
        .enumerate()
        .map(|(i, c)| CentreRow {
            id: c.id.to_string(),
            reports: if i % 7 == 3 {
                GatedCount::BelowK
            } else {
                GatedCount::Shown(400 + 13 * i as u64)
            },
            children: if i % 7 == 3 {
                GatedCount::Hidden
            } else {
                GatedCount::Shown(300 + 11 * i as u64)
            },
            children_by_year: series(20 + i as u64),
            median_safety: if i % 5 == 4 {
                None
            } else {
                Some(40.0 + i as f64)
            },
        })
        .collect();
    DashboardData {
        k: 5,
        release: "synth-default-20251129".into(),
        extract_date: "2025-06-30".into(),
        years: ys,
        tiles: vec![
            tile("VL", 700, Some(58.0), Some(0.121), Some(0.433)),
            tile("FWB", 540, Some(87.0), Some(0.094), Some(0.391)),
            tile("total", 1240, None, None, None),
        ],
        centres,
        notes: vec!["Counts under 5 are shown as <5.".into()],
    }
}

/// An interface with every screen's data in place.
pub fn loaded(mode: Mode, lang: Lang, steps: usize) -> App {
    let mut a = app(mode, lang);
    a.attrition = Some(attrition());
    let b = bundle(steps);
    a.outcome_results.insert("P1.1".into(), b.clone());
    a.model_result = Some(b);
    a.model_protocol = Some(a.model_protocol_now());
    a.dashboard = Some(dashboard(9));
    a
}
