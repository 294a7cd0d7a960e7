//! The protocol's `[compare]` section on one time-to-event outcome: the propensity score on
//! `ps_covariates`, IPTW / overlap weights or 1:k matching, the balance table, the diagnostics
//! in plain words, the weighted cause-specific Cox model of the group with a robust variance
//! and the adjusted risk and restricted-mean differences at τ with a seeded bootstrap
//! (the shared engine is [`crate::fit::compare`]).
//!
//! The groups are the outcome's comparison groups: `untreated` / `treated` for an intervention
//! (fixed at baseline: started within `within_days` of the time origin), or the two `levels` of
//! `groups.by` (the second is the index group). One row per episode (its final status); rows
//! with a missing propensity covariate are left out and counted in a note. Counts are published
//! with the bundle's k (`privacy.k_file`): a group smaller than k is not compared at all, an
//! indicator held by fewer than k children of a group has its coefficient and balance row
//! withheld.

use anyhow::Context;
use models::design::{DesignMatrix, parse_spec};
use models::diagnostics;
use models::matching::MatchingOptions;
use models::weighting::Estimand;
use studies::Protocol;
use studies::bundle::{Comparison, CoxTable, CoxTerm, OutcomeResult, Test};
use studies::compile::CovariateColumn;
use studies::outcomes::{Outcome, OutcomeKind};
use studies::protocol::{Compare, CompareMethod};

use super::data::OutcomeData;
use crate::fit::compare::{
    self, Horizon, Method, Spec, adjusted_differences, diagnostic_line, gated, weighted_cox,
};

/// Runs the comparison of `p.compare` on outcome `o` when it applies, into `r.comparison`
/// (or a note in `r.notes` saying why not).
pub fn outcome(
    r: &mut OutcomeResult,
    p: &Protocol,
    o: &Outcome,
    covs: &[CovariateColumn],
    d: &OutcomeData,
    levels: &[String],
    codes: &[Option<u32>],
) {
    let Some(c) = &p.compare else { return };
    if o.kind != OutcomeKind::TimeToEvent || c.outcomes.as_ref().is_some_and(|l| !l.contains(&o.id))
    {
        return;
    }
    match compare(p, c, o, covs, d, levels, codes) {
        Ok(Ok(comparison)) => r.comparison = Some(comparison),
        Ok(Err(why)) => r.notes.push(format!("adjusted comparison not run: {why}")),
        Err(e) => r.notes.push(format!("adjusted comparison failed: {e:#}")),
    }
}

/// The engine's options from the protocol section.
pub fn spec(c: &Compare) -> Spec {
    let method = match c.method {
        CompareMethod::Iptw => Method::Iptw,
        CompareMethod::Matching => Method::Matching,
    };
    let estimand = match c.estimand() {
        studies::protocol::Estimand::Ate => Estimand::Ate,
        studies::protocol::Estimand::Att => Estimand::Att,
        studies::protocol::Estimand::Ato => Estimand::Ato,
    };
    Spec {
        method,
        estimand,
        stabilised: c.stabilised.unwrap_or(true),
        truncation: c.truncation.map(|[lo, hi]| (lo / 100.0, hi / 100.0)),
        matching: MatchingOptions {
            ratio: c.ratio.unwrap_or(1),
            caliper_sd: match c.caliper {
                Some(0.0) => None,
                Some(x) => Some(x),
                None => Some(0.2),
            },
            replacement: c.replacement.unwrap_or(false),
            ..MatchingOptions::default()
        },
    }
}

#[allow(clippy::too_many_arguments)]
fn compare(
    p: &Protocol,
    c: &Compare,
    o: &Outcome,
    covs: &[CovariateColumn],
    d: &OutcomeData,
    levels: &[String],
    codes: &[Option<u32>],
) -> anyhow::Result<Result<Comparison, String>> {
    if levels.len() != 2 {
        return Ok(Err(format!(
            "it needs exactly two groups, this outcome has {} ({})",
            levels.len(),
            levels.join(", ")
        )));
    }
    let k = p.privacy.k_file;
    // One row per episode: its last row carries the final status and the total follow-up.
    let rows: Vec<usize> = (0..d.len())
        .filter(|&i| i + 1 == d.len() || d.episode(i + 1) != d.episode(i))
        .filter(|&i| codes[i].is_some() && d.t_stop[i].is_some() && d.status[i].is_some())
        .collect();
    // The propensity design over those rows (rows with a missing covariate left out).
    let specs = c.ps_covariates(p);
    let mut columns: Vec<(String, models::design::CovariateColumn)> = Vec::new();
    for s in specs {
        let base = s.split(':').next().unwrap_or(s);
        let Some(pos) = covs.iter().position(|cv| cv.name == base) else {
            return Ok(Err(format!(
                "the propensity covariate `{base}` is not a column of the dataset"
            )));
        };
        let Some((_, col)) = d.covariates.get(pos) else {
            return Ok(Err(format!("the dataset lacks the covariate `{base}`")));
        };
        columns.push((base.to_string(), subset(col, &rows)));
    }
    let terms = parse_spec(&specs.join(",")).context("the propensity covariates")?;
    let design = DesignMatrix::build(&terms, &columns).context("the propensity design")?;
    let kept: Vec<usize> = design.kept_rows.iter().map(|&j| rows[j]).collect();
    let treated: Vec<bool> = kept.iter().map(|&i| codes[i] == Some(1)).collect();
    let n1 = treated.iter().filter(|&&t| t).count();
    let n0 = treated.len() - n1;
    if n1 < k as usize || n0 < k as usize {
        return Ok(Err(format!(
            "each group needs at least k = {k} children with every propensity covariate"
        )));
    }
    let x = design.x.view();
    let names = &design.column_names;
    let spec = spec(c);
    let mut adj = compare::adjust(&treated, x, names, &spec).context("the propensity score")?;
    let mut summary = adj.summary(x, &treated, &levels[1], &levels[0], Some(k));
    if design.n_dropped > 0 {
        summary.notes.push(format!(
            "{} children with a missing propensity covariate left out",
            design.n_dropped
        ));
    }

    let time: Vec<f64> = kept.iter().map(|&i| d.t_stop[i].unwrap_or(0.0)).collect();
    let status: Vec<i64> = kept.iter().map(|&i| d.status[i].unwrap_or(0)).collect();
    let event: Vec<bool> = status.iter().map(|&s| s == 1).collect();
    let cause: Vec<u32> = status.iter().map(|&s| s.max(0) as u32).collect();
    let event_label = o.causes.first().cloned().unwrap_or_default().to_lowercase();

    // Weighted Cox model of the group, robust variance: by matched set after matching without
    // replacement, otherwise by child.
    let clusters: Vec<u64> = if adj.matched.as_ref().is_some_and(|m| !m.replacement) {
        adj.clusters()
    } else {
        let mut children: Vec<&str> = kept.iter().map(|&i| d.child(i)).collect();
        children.sort_unstable();
        children.dedup();
        kept.iter()
            .map(|&i| children.binary_search(&d.child(i)).unwrap_or(0) as u64)
            .collect()
    };
    let events = (0..event.len())
        .filter(|&i| event[i] && adj.weights[i] > 0.0)
        .count();
    let mut epv = diagnostics::events_per_variable(events, 1);
    epv.message = if (events as u64) < k {
        // The count itself is below the disclosure threshold: say so without it (the value
        // becomes `null` in the bundle).
        epv.value = f64::NAN;
        format!("Weighted outcome model: fewer than k = {k} events; too few for a stable estimate.")
    } else {
        format!("Weighted outcome model: {}", epv.message)
    };
    adj.diagnostics.push(epv);
    match weighted_cox(&time, &event, &treated, &adj.weights, Some(&clusters)) {
        Ok((fit, ph)) => {
            adj.diagnostics.push(diagnostics::proportional_hazards(
                ph.as_ref().map_or(f64::NAN, |t| t.p_value),
            ));
            let finite = |x: f64| x.is_finite().then_some(x);
            summary.cox = Some(CoxTable {
                description: format!(
                    "weighted cause-specific hazard ratio of {event_label}, {} vs {} ({}; robust variance{}{})",
                    levels[1],
                    levels[0],
                    summary.weights.kind,
                    if adj.matched.is_some() {
                        " clustered by matched set"
                    } else {
                        " by child"
                    },
                    if o.has_competing() {
                        "; competing events censored"
                    } else {
                        ""
                    }
                ),
                n: gated(fit.n, Some(k)),
                events: gated(fit.n_events, Some(k)),
                terms: fit
                    .coefficients
                    .iter()
                    .map(|t| CoxTerm {
                        term: format!("{}={}", group_name(p), levels[1]),
                        coef: finite(t.coef),
                        se: finite(t.robust_se.unwrap_or(t.se)),
                        hazard_ratio: finite(t.hazard_ratio),
                        lower: finite(t.hr_lower),
                        upper: finite(t.hr_upper),
                        p_value: finite(t.p_value),
                        suppressed: false,
                    })
                    .collect(),
                ph_test: ph.map(|t| Test {
                    name: "proportional hazards (cox.zph, KM transform)".into(),
                    statistic: t.chisq,
                    df: t.df as f64,
                    p_value: t.p_value,
                }),
                robust: fit.robust,
                concordance: None,
            });
        }
        Err(e) => summary
            .notes
            .push(format!("the weighted Cox model could not be fitted: {e}")),
    }
    summary.diagnostics = adj.diagnostics.iter().map(diagnostic_line).collect();
    summary.overall = match diagnostics::overall(&adj.diagnostics) {
        diagnostics::Verdict::Pass => "pass",
        diagnostics::Verdict::Warn => "warn",
        diagnostics::Verdict::Fail => "fail",
    }
    .into();

    let horizon = Horizon {
        tau: c.tau.unwrap_or(365.0),
        event_cause: 1,
        replicates: c.bootstrap.unwrap_or(200),
        seed: p.seed,
        conf_level: 0.95,
    };
    match adjusted_differences(
        &adj,
        &time,
        &cause,
        &treated,
        x,
        names,
        &horizon,
        &event_label,
    ) {
        Ok(a) => summary.adjusted = Some(a),
        Err(e) => summary.notes.push(format!(
            "the adjusted differences at tau could not be computed: {e}"
        )),
    }
    summary.notes.push(format!(
        "risks are cumulative incidences of {event_label} (Aalen–Johansen: competing events are not censored); \
         the restricted mean is the time free of any event up to tau"
    ));
    Ok(Ok(summary))
}

fn group_name(p: &Protocol) -> String {
    match &p.groups {
        Some(g) => {
            g.by.clone()
                .or_else(|| g.intervention.clone())
                .unwrap_or_else(|| "group".into())
        }
        None => "group".into(),
    }
}

fn subset(
    col: &models::design::CovariateColumn,
    rows: &[usize],
) -> models::design::CovariateColumn {
    match col {
        models::design::CovariateColumn::Numeric(v) => {
            models::design::CovariateColumn::Numeric(rows.iter().map(|&i| v[i]).collect())
        }
        models::design::CovariateColumn::Categorical(v) => {
            models::design::CovariateColumn::Categorical(
                rows.iter().map(|&i| v[i].clone()).collect(),
            )
        }
    }
}
