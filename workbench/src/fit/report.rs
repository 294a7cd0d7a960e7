//! The result of `workbench fit`: one [`FitReport`] holds every number the command prints, as a
//! readable text table or as the JSON document described in the module docs of `fit`. Nothing
//! is printed from anywhere else, so the store's disclosure gate can act on this report alone.

use std::fmt::Write as _;

use models::cox::{ChiSquareTest, ZphTest};
use serde::Serialize;
use studies::bundle::{Comparison, Count};

use super::columns::MissingCount;

/// Everything `workbench fit` reports.
#[derive(Debug, Clone, Serialize)]
pub struct FitReport {
    /// `km`, `na`, `logrank`, `aj`, `cox`, `finegray`, `rmst` or `mcf`.
    pub model: &'static str,
    /// What the numbers are, e.g. "cumulative incidence of relapse (Aalen–Johansen)".
    pub estimate: String,
    /// The file, or the store and its query.
    pub source: String,
    pub rows: RowAccount,
    /// The adjusted comparison (`--treatment`): propensity model, weights, balance, diagnostics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
    pub conf_level: f64,
    /// Scale of the pointwise bands, where the model has bands.
    pub conf_type: Option<String>,
    /// Things the reader should know (e.g. a default horizon).
    pub warnings: Vec<String>,
    pub result: FitResult,
}

/// Rows read, used, and left out for missing values.
#[derive(Debug, Clone, Serialize)]
pub struct RowAccount {
    pub read: usize,
    pub used: usize,
    pub left_out_missing: usize,
    /// Per column, the rows with a missing value (a row may miss several).
    pub missing_by_column: Vec<MissingCount>,
}

/// The model-specific part.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum FitResult {
    Survival { curves: Vec<SurvivalSummary> },
    CumulativeHazard { curves: Vec<HazardSummary> },
    LogRank(LogRankSummary),
    Incidence(IncidenceSummary),
    Cox(Box<CoxSummary>),
    FineGray(Box<FineGraySummary>),
    RestrictedMean(RmstSummary),
    MeanCumulative { curves: Vec<McfSummary> },
}

/// A time with its confidence interval (`None`: not reached).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TimeWithCi {
    pub time: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// One Kaplan–Meier curve.
#[derive(Debug, Clone, Serialize)]
pub struct SurvivalSummary {
    /// Group label (`column=level`), `None` for all rows.
    pub group: Option<String>,
    pub n: usize,
    pub events: f64,
    pub median: TimeWithCi,
    pub at_times: Vec<SurvivalAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SurvivalAt {
    pub time: f64,
    pub n_risk: f64,
    pub n_event: f64,
    pub n_censor: f64,
    pub survival: f64,
    pub std_err: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

/// One Nelson–Aalen curve.
#[derive(Debug, Clone, Serialize)]
pub struct HazardSummary {
    pub group: Option<String>,
    pub n: usize,
    pub events: f64,
    pub at_times: Vec<HazardAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HazardAt {
    pub time: f64,
    pub n_risk: f64,
    pub n_event: f64,
    pub cumulative_hazard: f64,
    pub std_err: f64,
    /// Band of the cumulative hazard H (R's `summary` has none): `plain` H ± z·se (floored at
    /// 0); `log` and `log-log` H·exp(±z·se/H).
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogRankSummary {
    pub groups: Vec<LogRankGroup>,
    pub chi_square: f64,
    pub df: usize,
    pub p_value: f64,
    pub rho: f64,
    pub gamma: f64,
    /// Stratum labels (empty without strata).
    pub strata: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogRankGroup {
    pub group: String,
    pub n: f64,
    pub observed: f64,
    pub expected: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CauseLabel {
    pub code: u32,
    pub label: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidenceSummary {
    pub causes: Vec<CauseLabel>,
    pub cause_of_interest: Option<String>,
    pub curves: Vec<IncidenceCurve>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidenceCurve {
    pub group: Option<String>,
    pub n: usize,
    pub at_times: Vec<IncidenceAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IncidenceAt {
    pub time: f64,
    pub n_risk: f64,
    pub event_free: f64,
    /// One entry per cause, in the order of `causes`.
    pub causes: Vec<CauseAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CauseAt {
    pub cause: String,
    pub n_event: f64,
    pub incidence: f64,
    pub std_err: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoxSummary {
    pub ties: String,
    pub n: usize,
    pub events: usize,
    pub strata: usize,
    pub clusters: Option<usize>,
    pub robust: bool,
    pub coefficients: Vec<Coefficient>,
    pub tests: CoxTests,
    pub concordance: Option<ConcordanceSummary>,
    /// `cox.zph` with the km transform: one test per term, then GLOBAL.
    pub ph_test: Option<PhTest>,
    pub loglik: [f64; 2],
    pub iterations: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Coefficient {
    pub term: String,
    pub coef: f64,
    pub hazard_ratio: f64,
    pub se: f64,
    pub robust_se: Option<f64>,
    pub z: f64,
    pub p_value: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CoxTests {
    pub likelihood_ratio: ChiSquareTest,
    pub wald: ChiSquareTest,
    pub score: ChiSquareTest,
    pub robust_score: Option<ChiSquareTest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConcordanceSummary {
    pub estimate: f64,
    pub std_err: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PhTest {
    pub transform: String,
    pub terms: Vec<ZphTest>,
    pub global: Option<ZphTest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FineGraySummary {
    pub cause: String,
    pub n_subjects: usize,
    pub events_of_interest: usize,
    pub expanded_rows: usize,
    /// Subdistribution hazard ratios.
    pub fine_gray: CoxSummary,
    /// Cause-specific hazard ratios (the other causes censored).
    pub cause_specific: CoxSummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct RmstSummary {
    pub tau: f64,
    /// `given` (--tau) or `shortest follow-up` (the smallest last time among the groups).
    pub tau_source: String,
    pub groups: Vec<RmstGroup>,
    /// Each group against the first.
    pub differences: Vec<RmstDifference>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RmstGroup {
    pub group: Option<String>,
    pub n: usize,
    pub estimate: f64,
    pub std_err: f64,
    pub lower: f64,
    pub upper: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RmstDifference {
    /// `first − second`.
    pub first: String,
    pub second: String,
    pub difference: f64,
    pub std_err: f64,
    pub lower: f64,
    pub upper: f64,
    pub z: f64,
    pub p_value: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct McfSummary {
    pub group: Option<String>,
    pub n_rows: usize,
    pub n_subjects: usize,
    pub events: f64,
    pub at_times: Vec<McfAt>,
}

#[derive(Debug, Clone, Serialize)]
pub struct McfAt {
    pub time: f64,
    pub mean: f64,
    pub std_err: f64,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
}

// ---------------------------------------------------------------------------------------------
// Text
// ---------------------------------------------------------------------------------------------

/// A number to 4 significant digits (whole numbers without decimals), as R prints estimates.
pub fn num(x: f64) -> String {
    if x.is_nan() {
        return "NA".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    if x.fract() == 0.0 && x.abs() < 1e9 {
        return format!("{x:.0}");
    }
    let mag = x.abs().log10().floor() as i32;
    if !(-4..7).contains(&mag) {
        return format!("{x:.3e}");
    }
    let decimals = (3 - mag).max(0) as usize;
    format!("{x:.decimals$}")
}

/// How a cause is named in sentences: its name, or "cause 2" for a numeric code.
pub fn cause_phrase(label: &str) -> String {
    if label.parse::<f64>().is_ok() {
        format!("cause {label}")
    } else {
        label.to_string()
    }
}

fn opt(x: Option<f64>) -> String {
    x.map_or_else(|| "NA".into(), num)
}

fn ci(lower: Option<f64>, upper: Option<f64>) -> String {
    format!("({}, {})", opt(lower), opt(upper))
}

/// A p-value as R's `format.pval` shows it (3 significant digits, `<2e-16` at the bottom).
pub fn pval(p: f64) -> String {
    if p.is_nan() {
        "NA".into()
    } else if p < 2.2e-16 {
        "<2e-16".into()
    } else if p < 1e-4 {
        format!("{p:.2e}")
    } else {
        let mag = p.log10().floor() as i32;
        let decimals = (2 - mag).max(0) as usize;
        format!("{p:.decimals$}")
    }
}

/// A plain text table: first column left-aligned, the others right-aligned.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Table {
            header: header.iter().map(|s| (*s).to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String) {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.header.iter().map(|h| width(h)).collect();
        for r in &self.rows {
            for (j, c) in r.iter().enumerate() {
                if j < widths.len() {
                    widths[j] = widths[j].max(width(c));
                }
            }
        }
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::from("  ");
            for (j, c) in cells.iter().enumerate() {
                let pad = widths.get(j).copied().unwrap_or(0).saturating_sub(width(c));
                if j > 0 {
                    s.push_str("  ");
                }
                if j == 0 {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&self.header, out);
        for r in &self.rows {
            line(r, out);
        }
    }
}

fn group_name(g: &Option<String>) -> String {
    g.clone().unwrap_or_else(|| "all".into())
}

impl FitReport {
    /// The readable report.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let pct = format!("{}%", num(self.conf_level * 100.0));
        let _ = writeln!(out, "{} — {}", self.estimate, self.source);
        let r = &self.rows;
        let _ = write!(out, "  {} rows read, {} used", r.read, r.used);
        if r.left_out_missing > 0 {
            let by: Vec<String> = r
                .missing_by_column
                .iter()
                .map(|m| format!("{} {}", m.column, m.rows))
                .collect();
            let _ = write!(
                out,
                ", {} left out for missing values ({})",
                r.left_out_missing,
                by.join(", ")
            );
        } else {
            out.push_str(", none left out for missing values");
        }
        out.push('\n');
        for w in &self.warnings {
            let _ = writeln!(out, "  note: {w}");
        }
        out.push('\n');
        if let Some(c) = &self.comparison {
            comparison_text(&mut out, c, &pct);
            out.push('\n');
        }
        match &self.result {
            FitResult::Survival { curves } => survival_text(&mut out, curves, &pct),
            FitResult::CumulativeHazard { curves } => hazard_text(&mut out, curves, &pct),
            FitResult::LogRank(t) => logrank_text(&mut out, t),
            FitResult::Incidence(s) => incidence_text(&mut out, s, &pct),
            FitResult::Cox(c) => cox_text(&mut out, c, &pct, "HR"),
            FitResult::FineGray(f) => {
                let cause = cause_phrase(&f.cause);
                let _ = writeln!(
                    out,
                    "  {} subjects, {} events of {cause}, {} rows after the Fine–Gray expansion\n",
                    f.n_subjects, f.events_of_interest, f.expanded_rows
                );
                let _ = writeln!(out, "Subdistribution hazard ratios (Fine–Gray) for {cause}");
                cox_text(&mut out, &f.fine_gray, &pct, "sHR");
                let _ = writeln!(
                    out,
                    "\nCause-specific hazard ratios (Cox; the other causes censored) for {cause}"
                );
                cox_text(&mut out, &f.cause_specific, &pct, "HR");
            }
            FitResult::RestrictedMean(s) => rmst_text(&mut out, s, &pct),
            FitResult::MeanCumulative { curves } => mcf_text(&mut out, curves, &pct),
        }
        out
    }
}

fn count(c: Count) -> String {
    match c {
        Count::Shown(n) => n.to_string(),
        Count::BelowK => "<k".into(),
        Count::Hidden => "·".into(),
    }
}

/// The adjusted comparison: propensity model, weights, matching, balance, diagnostics and the
/// adjusted differences at τ (shared with the study report).
pub fn comparison_text(out: &mut String, c: &Comparison, pct: &str) {
    let p = &c.propensity;
    let _ = writeln!(
        out,
        "Adjusted comparison: {} (index) vs {} (reference)\n  {}",
        c.treated, c.control, c.description
    );
    let _ = writeln!(
        out,
        "\nPropensity score model (logistic regression of being in {}): n = {}, {} {}, {} {}",
        c.treated,
        count(p.n),
        count(p.n_treated),
        c.treated,
        count(p.n_control),
        c.control
    );
    let mut t = Table::new(&["term", "coef", "OR", &format!("{pct} CI"), "se", "p"]);
    for k in &p.terms {
        t.row(vec![
            k.term.clone(),
            opt(k.coef),
            opt(k.odds_ratio),
            ci(k.lower, k.upper),
            opt(k.se),
            k.p_value.map_or("NA".into(), pval),
        ]);
    }
    t.render(out);
    let _ = writeln!(
        out,
        "  C-statistic {}; {} after {} iterations{}",
        num(p.c_statistic),
        if p.converged {
            "converged"
        } else {
            "NOT converged"
        },
        p.iterations,
        if p.separation {
            "; fitted probabilities at 0 or 1 (separation)"
        } else {
            ""
        }
    );
    for w in &p.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    let w = &c.weights;
    let _ = writeln!(
        out,
        "\nWeights: {}{}",
        w.kind,
        if w.stabilised { ", stabilised" } else { "" }
    );
    if let Some(tr) = &w.truncation {
        let _ = writeln!(
            out,
            "  truncated at the {} and {} percentiles: caps {} and {}",
            num(100.0 * tr.lower_percentile),
            num(100.0 * tr.upper_percentile),
            num(tr.lower_cap),
            num(tr.upper_cap)
        );
    }
    let mut t = Table::new(&["group", "n", "sum", "min", "mean", "max", "ESS"]);
    for (name, g) in [(&c.treated, &w.treated), (&c.control, &w.control)] {
        t.row(vec![
            name.clone(),
            count(g.n),
            num(g.sum),
            num(g.min),
            num(g.mean),
            num(g.max),
            num(g.ess),
        ]);
    }
    t.render(out);
    if let Some(m) = &c.matching {
        let _ = writeln!(
            out,
            "  matching 1:{}{}, {}: {} treated matched, {} unmatched, {} distinct controls used",
            m.ratio,
            m.caliper.map_or(", no caliper".to_string(), |cal| format!(
                ", caliper {} SD = {} on the logit",
                m.caliper_sd.map_or("?".into(), num),
                num(cal)
            )),
            if m.replacement {
                "with replacement"
            } else {
                "without replacement"
            },
            count(m.matched_treated),
            count(m.unmatched_treated),
            count(m.matched_controls)
        );
    }
    out.push_str("\nBalance (standardised mean differences; variance ratio treated/control)\n");
    let mut t = Table::new(&[
        "covariate",
        "mean T",
        "mean C",
        "SMD before",
        "SMD after",
        "VR before",
        "VR after",
    ]);
    for b in &c.balance {
        t.row(vec![
            b.covariate.clone(),
            opt(b.mean_treated_before),
            opt(b.mean_control_before),
            opt(b.smd_before),
            opt(b.smd_after),
            b.variance_ratio_before.map_or("-".into(), num),
            b.variance_ratio_after.map_or("-".into(), num),
        ]);
    }
    t.render(out);
    let _ = writeln!(
        out,
        "  largest |SMD|: {} before, {} after",
        opt(c.max_abs_smd_before),
        opt(c.max_abs_smd_after)
    );
    let _ = writeln!(out, "\nDiagnostics (overall: {})", c.overall);
    for d in &c.diagnostics {
        let _ = writeln!(out, "  [{}] {}: {}", d.verdict, d.check, d.message);
    }
    if let Some(a) = &c.adjusted {
        let _ = writeln!(
            out,
            "\nAdjusted differences at tau = {} ({} − {}; {} bootstrap replicates, seed {}{})",
            num(a.tau),
            c.treated,
            c.control,
            a.replicates,
            a.seed,
            if a.reestimated {
                ", propensity model refitted in each"
            } else {
                ""
            }
        );
        let mut t = Table::new(&[
            "measure",
            &c.treated,
            &c.control,
            "difference",
            "boot. se",
            &format!("{pct} CI"),
        ]);
        t.row(vec![
            format!("risk of {}", a.event),
            num(a.risk_treated),
            num(a.risk_control),
            num(a.risk_difference.estimate),
            num(a.risk_difference.std_err),
            ci(Some(a.risk_difference.lower), Some(a.risk_difference.upper)),
        ]);
        t.row(vec![
            "restricted mean event-free time".into(),
            num(a.restricted_mean_treated),
            num(a.restricted_mean_control),
            num(a.restricted_mean_difference.estimate),
            num(a.restricted_mean_difference.std_err),
            ci(
                Some(a.restricted_mean_difference.lower),
                Some(a.restricted_mean_difference.upper),
            ),
        ]);
        t.render(out);
        if a.failed_replicates > 0 {
            let _ = writeln!(
                out,
                "  {} replicates failed and were left out",
                a.failed_replicates
            );
        }
    }
    for n in &c.notes {
        let _ = writeln!(out, "  note: {n}");
    }
}

fn survival_text(out: &mut String, curves: &[SurvivalSummary], pct: &str) {
    let mut medians = Table::new(&["group", "n", "events", "median", &format!("{pct} CI")]);
    for c in curves {
        medians.row(vec![
            group_name(&c.group),
            c.n.to_string(),
            num(c.events),
            opt(c.median.time),
            ci(c.median.lower, c.median.upper),
        ]);
    }
    out.push_str("Median survival time\n");
    medians.render(out);
    out.push_str("\nSurvival at chosen times\n");
    let mut t = Table::new(&[
        "group",
        "time",
        "at risk",
        "events",
        "survival",
        "std.err",
        &format!("{pct} CI"),
    ]);
    for c in curves {
        for a in &c.at_times {
            t.row(vec![
                group_name(&c.group),
                num(a.time),
                num(a.n_risk),
                num(a.n_event),
                num(a.survival),
                num(a.std_err),
                ci(a.lower, a.upper),
            ]);
        }
    }
    t.render(out);
}

fn hazard_text(out: &mut String, curves: &[HazardSummary], pct: &str) {
    out.push_str("Cumulative hazard at chosen times\n");
    let mut t = Table::new(&[
        "group",
        "time",
        "at risk",
        "events",
        "cum. hazard",
        "std.err",
        &format!("{pct} CI"),
    ]);
    for c in curves {
        for a in &c.at_times {
            t.row(vec![
                group_name(&c.group),
                num(a.time),
                num(a.n_risk),
                num(a.n_event),
                num(a.cumulative_hazard),
                num(a.std_err),
                ci(a.lower, a.upper),
            ]);
        }
    }
    t.render(out);
}

fn logrank_text(out: &mut String, s: &LogRankSummary) {
    let mut t = Table::new(&["group", "n", "observed", "expected", "(O-E)^2/E"]);
    for g in &s.groups {
        let oe = if g.expected > 0.0 {
            (g.observed - g.expected).powi(2) / g.expected
        } else {
            f64::NAN
        };
        t.row(vec![
            g.group.clone(),
            num(g.n),
            num(g.observed),
            num(g.expected),
            num(oe),
        ]);
    }
    t.render(out);
    out.push('\n');
    if !s.strata.is_empty() {
        let _ = writeln!(
            out,
            "  stratified by {} strata: {}",
            s.strata.len(),
            s.strata.join("; ")
        );
    }
    let _ = writeln!(
        out,
        "  Chi-square = {} on {} df, p = {}",
        num(s.chi_square),
        s.df,
        pval(s.p_value)
    );
}

fn incidence_text(out: &mut String, s: &IncidenceSummary, pct: &str) {
    let mut order: Vec<usize> = (0..s.causes.len()).collect();
    if let Some(c) = &s.cause_of_interest {
        order.sort_by_key(|&k| s.causes[k].label != *c);
    }
    for (n, &k) in order.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let label = cause_phrase(&s.causes[k].label);
        let _ = writeln!(out, "Cumulative incidence of {label} (Aalen–Johansen)");
        let mut t = Table::new(&[
            "group",
            "time",
            "at risk",
            "events",
            "incidence",
            "std.err",
            &format!("{pct} CI"),
        ]);
        for c in &s.curves {
            for a in &c.at_times {
                if let Some(x) = a.causes.get(k) {
                    t.row(vec![
                        group_name(&c.group),
                        num(a.time),
                        num(a.n_risk),
                        num(x.n_event),
                        num(x.incidence),
                        num(x.std_err),
                        ci(x.lower, x.upper),
                    ]);
                }
            }
        }
        t.render(out);
    }
    out.push_str("\nEvent-free probability (no cause yet)\n");
    let mut t = Table::new(&["group", "time", "event-free"]);
    for c in &s.curves {
        for a in &c.at_times {
            t.row(vec![group_name(&c.group), num(a.time), num(a.event_free)]);
        }
    }
    t.render(out);
}

fn test_line(name: &str, t: &ChiSquareTest) -> String {
    format!(
        "  {name:<24}{} on {} df, p = {}\n",
        num(t.statistic),
        t.df,
        pval(t.p_value)
    )
}

fn cox_text(out: &mut String, c: &CoxSummary, pct: &str, ratio: &str) {
    let _ = writeln!(
        out,
        "  n = {}, events = {}{}{}, ties: {}",
        c.n,
        c.events,
        if c.strata > 1 {
            format!(", strata = {}", c.strata)
        } else {
            String::new()
        },
        c.clusters
            .map_or(String::new(), |k| format!(", clusters = {k}")),
        c.ties
    );
    let se = if c.robust { "robust se" } else { "se" };
    let mut t = Table::new(&["term", "coef", ratio, &format!("{pct} CI"), se, "z", "p"]);
    for k in &c.coefficients {
        t.row(vec![
            k.term.clone(),
            num(k.coef),
            num(k.hazard_ratio),
            ci(Some(k.lower), Some(k.upper)),
            num(k.robust_se.unwrap_or(k.se)),
            num(k.z),
            pval(k.p_value),
        ]);
    }
    t.render(out);
    out.push('\n');
    if let Some(k) = &c.concordance {
        let _ = writeln!(
            out,
            "  Concordance {} (se {})",
            num(k.estimate),
            num(k.std_err)
        );
    }
    out.push_str(&test_line(
        "Likelihood ratio test",
        &c.tests.likelihood_ratio,
    ));
    out.push_str(&test_line(
        if c.robust {
            "Wald test (robust)"
        } else {
            "Wald test"
        },
        &c.tests.wald,
    ));
    out.push_str(&test_line("Score (log-rank) test", &c.tests.score));
    if let Some(r) = &c.tests.robust_score {
        out.push_str(&test_line("Robust score test", r));
    }
    if let Some(ph) = &c.ph_test {
        let _ = writeln!(
            out,
            "\n  Proportional-hazards test (cox.zph, {} transform)",
            ph.transform
        );
        let mut t = Table::new(&["term", "chisq", "df", "p"]);
        for z in ph.terms.iter().chain(ph.global.iter()) {
            t.row(vec![
                z.term.clone(),
                num(z.chisq),
                z.df.to_string(),
                pval(z.p_value),
            ]);
        }
        t.render(out);
    }
}

fn rmst_text(out: &mut String, s: &RmstSummary, pct: &str) {
    let _ = writeln!(
        out,
        "Restricted mean survival time up to tau = {} ({})",
        num(s.tau),
        s.tau_source
    );
    let mut t = Table::new(&["group", "n", "RMST", "std.err", &format!("{pct} CI")]);
    for g in &s.groups {
        t.row(vec![
            group_name(&g.group),
            g.n.to_string(),
            num(g.estimate),
            num(g.std_err),
            ci(Some(g.lower), Some(g.upper)),
        ]);
    }
    t.render(out);
    if !s.differences.is_empty() {
        out.push_str("\nDifference in RMST\n");
        let mut t = Table::new(&[
            "comparison",
            "difference",
            "std.err",
            &format!("{pct} CI"),
            "z",
            "p",
        ]);
        for d in &s.differences {
            t.row(vec![
                format!("{} − {}", d.first, d.second),
                num(d.difference),
                num(d.std_err),
                ci(Some(d.lower), Some(d.upper)),
                num(d.z),
                pval(d.p_value),
            ]);
        }
        t.render(out);
    }
}

fn mcf_text(out: &mut String, curves: &[McfSummary], pct: &str) {
    let mut n = Table::new(&["group", "rows", "subjects", "events"]);
    for c in curves {
        n.row(vec![
            group_name(&c.group),
            c.n_rows.to_string(),
            c.n_subjects.to_string(),
            num(c.events),
        ]);
    }
    n.render(out);
    out.push_str("\nMean number of events per subject at chosen times\n");
    let mut t = Table::new(&["group", "time", "mean", "std.err", &format!("{pct} CI")]);
    for c in curves {
        for a in &c.at_times {
            t.row(vec![
                group_name(&c.group),
                num(a.time),
                num(a.mean),
                num(a.std_err),
                ci(a.lower, a.upper),
            ]);
        }
    }
    t.render(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_to_four_significant_digits() {
        assert_eq!(num(0.013369094), "0.01337");
        assert_eq!(num(310.0), "310");
        assert_eq!(num(0.5538981), "0.5539");
        assert_eq!(num(1234.56), "1235");
        assert_eq!(num(f64::NAN), "NA");
        assert_eq!(num(3.2e-7), "3.200e-7");
    }

    #[test]
    fn p_values_print_as_r() {
        assert_eq!(pval(0.0013111645), "0.00131");
        assert_eq!(pval(0.1649509), "0.165");
        assert_eq!(pval(3.03e-6), "3.03e-6");
        assert_eq!(pval(1e-20), "<2e-16");
    }

    #[test]
    fn tables_align_columns() {
        let mut t = Table::new(&["term", "coef"]);
        t.row(vec!["age".into(), "0.01337".into()]);
        t.row(vec!["ph.ecog".into(), "0.5".into()]);
        let mut s = String::new();
        t.render(&mut s);
        assert_eq!(
            s,
            "  term        coef\n  age      0.01337\n  ph.ecog      0.5\n"
        );
    }
}
