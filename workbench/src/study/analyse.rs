//! The models of one outcome on its dataset: curves, tests, Cox, RMST, proportions, means and
//! rates, as (ungated) bundle types. The gate runs afterwards, on the whole bundle.

use anyhow::Context;
use models::aalen_johansen::{AalenJohansenOptions, CompetingRisks, aalen_johansen_by_group};
use models::cox::{CoxData, CoxModel, CoxOptions, ZphTransform};
use models::design::{DesignMatrix, parse_spec};
use models::km::{FollowUp, KaplanMeierOptions, kaplan_meier_by_group};
use models::logrank::{LogRankOptions, log_rank_test};
use models::mcf::{McfOptions, mean_cumulative_function_by_group};
use models::rmst::{restricted_mean_difference, restricted_mean_survival};
use statrs::distribution::{ChiSquared, ContinuousCDF};
use studies::Protocol;
use studies::bundle::{
    Count, CoxTable, CoxTerm, GroupSummary, MeanChange, OutcomeResult, Proportion, Rate,
    RmstDifference, RmstGroup, RmstTable, StatusCount, Test,
};
use studies::compile::CovariateColumn;
use studies::outcomes::{Outcome, OutcomeKind};
use studies::protocol::{EntryKind, ModelKind, ModelSpec, Timing};

use super::data::OutcomeData;
use crate::disclosure::CurveRow;

/// Times at which every curve is also reported.
pub const REPORT_TIMES: [f64; 5] = [30.0, 90.0, 180.0, 365.0, 730.0];

/// A curve at full resolution, before the gate coarsens it.
#[derive(Debug, Clone)]
pub struct RawCurve {
    pub group: String,
    pub cause: String,
    pub estimator: String,
    /// A mean cumulative function: events do not leave the risk set.
    pub recurrent: bool,
    /// Whether the estimate rises (cumulative incidence, MCF) or falls (survival).
    pub rising: bool,
    /// Children in the group at the time origin.
    pub n_start: u64,
    pub rows: Vec<CurveRow>,
}

/// The comparison groups in reference-first order, and each row's group code.
fn groups(p: &Protocol, d: &OutcomeData) -> (Vec<String>, Vec<Option<u32>>) {
    let levels: Vec<String> = match &p.groups {
        Some(g) if g.levels.is_some() => g.levels.clone().unwrap_or_default(),
        Some(g) if g.intervention.is_some() => vec!["untreated".into(), "treated".into()],
        _ => {
            let mut l: Vec<&str> = (0..d.len()).map(|i| d.group(i)).collect();
            l.sort_unstable();
            l.dedup();
            l.into_iter().map(String::from).collect()
        }
    };
    let codes = (0..d.len())
        .map(|i| {
            levels
                .iter()
                .position(|l| l == d.group(i))
                .map(|j| j as u32)
        })
        .collect();
    (levels, codes)
}

/// Index of the last row of each episode (the row that carries the final status).
fn final_rows(d: &OutcomeData) -> Vec<usize> {
    (0..d.len())
        .filter(|&i| i + 1 == d.len() || d.episode(i + 1) != d.episode(i))
        .collect()
}

fn models_for(p: &Protocol, o: &Outcome) -> Vec<ModelKind> {
    let mut kinds: Vec<ModelKind> = p
        .models
        .iter()
        .filter(|m| m.outcomes.as_ref().is_none_or(|l| l.contains(&o.id)))
        .map(|m| m.kind)
        .collect();
    if p.models.is_empty() {
        kinds = match o.kind {
            OutcomeKind::TimeToEvent => vec![
                ModelKind::CumulativeIncidence,
                ModelKind::Logrank,
                ModelKind::Cox,
            ],
            OutcomeKind::Recurrent => vec![ModelKind::Recurrent],
            _ => vec![ModelKind::Proportion],
        };
    }
    if o.id == "P1.3" || o.id == "P2.2" {
        kinds.push(ModelKind::Proportion);
    }
    kinds.sort();
    kinds.dedup();
    kinds
}

fn shown(n: usize) -> Count {
    Count::Shown(n as u64)
}

/// Analyses one outcome.
pub fn outcome(
    p: &Protocol,
    o: &Outcome,
    covs: &[CovariateColumn],
    d: &OutcomeData,
) -> anyhow::Result<(OutcomeResult, Vec<RawCurve>)> {
    let mut curves = Vec::new();
    let mut r = OutcomeResult {
        outcome: o.clone(),
        groups: Vec::new(),
        curves: Vec::new(),
        at_times: Vec::new(),
        medians: Vec::new(),
        logrank: None,
        cox: Vec::new(),
        rmst: None,
        proportions: Vec::new(),
        means: Vec::new(),
        rates: Vec::new(),
        notes: Vec::new(),
        comparison: None,
    };
    let (levels, codes) = groups(p, d);
    if d.is_empty() {
        r.notes.push(
            "no child of the cohort has this outcome's time origin: nothing to estimate".into(),
        );
        return Ok((r, curves));
    }
    match o.id.as_str() {
        "P2.5" => rates(&mut r, &levels, &codes, d),
        "P3.1" => means(&mut r, &levels, &codes, d),
        "P3.2" | "P3.4" => score_proportions(&mut r, o, &levels, &codes, d),
        "P2.3" => recurrent(&mut r, &mut curves, p, o, covs, &levels, &codes, d)?,
        _ => time_to_event(&mut r, &mut curves, p, o, covs, &levels, &codes, d)?,
    }
    super::compare::outcome(&mut r, p, o, covs, d, &levels, &codes);
    Ok((r, curves))
}

fn status_label(o: &Outcome, k: i64) -> String {
    if k == 0 {
        "CENSORED".into()
    } else {
        o.causes
            .get(k as usize - 1)
            .cloned()
            .unwrap_or_else(|| format!("STATUS_{k}"))
    }
}

#[allow(clippy::too_many_arguments)]
fn time_to_event(
    r: &mut OutcomeResult,
    curves: &mut Vec<RawCurve>,
    p: &Protocol,
    o: &Outcome,
    covs: &[CovariateColumn],
    levels: &[String],
    codes: &[Option<u32>],
    d: &OutcomeData,
) -> anyhow::Result<()> {
    let finals: Vec<usize> = final_rows(d)
        .into_iter()
        .filter(|&i| codes[i].is_some() && d.t_stop[i].is_some() && d.status[i].is_some())
        .collect();
    let time: Vec<f64> = finals.iter().map(|&i| d.t_stop[i].unwrap_or(0.0)).collect();
    let status: Vec<i64> = finals.iter().map(|&i| d.status[i].unwrap_or(0)).collect();
    let grp: Vec<u32> = finals.iter().map(|&i| codes[i].unwrap_or(0)).collect();
    for (g, name) in levels.iter().enumerate() {
        let rows: Vec<usize> = (0..finals.len()).filter(|&j| grp[j] == g as u32).collect();
        let mut by_status = Vec::new();
        for k in 1..=o.causes.len() as i64 {
            let n = rows.iter().filter(|&&j| status[j] == k).count();
            by_status.push(StatusCount {
                status: status_label(o, k),
                count: shown(n),
            });
        }
        let n0 = rows.iter().filter(|&&j| status[j] == 0).count();
        by_status.push(StatusCount {
            status: "CENSORED".into(),
            count: shown(n0),
        });
        r.groups.push(GroupSummary {
            group: name.clone(),
            children: shown(rows.len()),
            by_status,
        });
    }
    if finals.is_empty() {
        return Ok(());
    }
    let kinds = models_for(p, o);
    let event: Vec<bool> = status.iter().map(|&s| s == 1).collect();
    let event_label = o.causes.first().cloned().unwrap_or_default();
    if kinds.contains(&ModelKind::CumulativeIncidence) {
        let cause: Vec<u32> = status.iter().map(|&s| s.max(0) as u32).collect();
        let data = CompetingRisks::new(&time, &cause);
        let fits = aalen_johansen_by_group(&data, &grp, &AalenJohansenOptions::default())
            .context("Aalen–Johansen")?;
        for gi in &fits {
            let name = levels.get(gi.group as usize).cloned().unwrap_or_default();
            let inc = &gi.incidence;
            let n_start = grp.iter().filter(|&&g| g == gi.group).count() as u64;
            let leaving: Vec<f64> = (0..inc.time.len())
                .map(|i| inc.n_censor[i] + inc.causes.iter().map(|c| c.n_event[i]).sum::<f64>())
                .collect();
            for ci in &inc.causes {
                let rows = (0..inc.time.len())
                    .map(|i| CurveRow {
                        time: inc.time[i],
                        n_risk: inc.n_risk[i].round() as u64,
                        n_event: ci.n_event[i].round() as u64,
                        n_censor: (leaving[i] - ci.n_event[i]).round().max(0.0) as u64,
                        estimate: ci.incidence[i],
                        lower: ci.lower[i],
                        upper: ci.upper[i],
                    })
                    .collect();
                curves.push(RawCurve {
                    group: name.clone(),
                    cause: status_label(o, ci.cause as i64),
                    estimator: "Aalen–Johansen cumulative incidence".into(),
                    recurrent: false,
                    rising: true,
                    n_start,
                    rows,
                });
            }
        }
        r.notes.push(format!(
            "cumulative incidence of {} (Aalen–Johansen), with {} as competing events",
            event_label.to_lowercase(),
            o.causes[1..]
                .iter()
                .map(|c| c.to_lowercase())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if kinds.contains(&ModelKind::KaplanMeier) {
        let fu = FollowUp::new(&time, &event);
        let fits = kaplan_meier_by_group(&fu, &grp, &KaplanMeierOptions::default())
            .context("Kaplan–Meier")?;
        for gc in &fits {
            let name = levels.get(gc.group as usize).cloned().unwrap_or_default();
            let c = &gc.curve;
            let rows = (0..c.time.len())
                .map(|i| CurveRow {
                    time: c.time[i],
                    n_risk: c.n_risk[i].round() as u64,
                    n_event: c.n_event[i].round() as u64,
                    n_censor: c.n_censor[i].round() as u64,
                    estimate: c.survival[i],
                    lower: c.lower[i],
                    upper: c.upper[i],
                })
                .collect();
            curves.push(RawCurve {
                group: name,
                cause: event_label.clone(),
                estimator: "Kaplan–Meier survival".into(),
                recurrent: false,
                rising: false,
                n_start: grp.iter().filter(|&&g| g == gc.group).count() as u64,
                rows,
            });
        }
        if o.has_competing() {
            r.notes.push(format!(
                "warning: the Kaplan–Meier curve treats {} as censoring, so 1 − KM overstates the \
                 probability of {}; the Aalen–Johansen cumulative incidence is the estimate to read",
                o.causes[1..].iter().map(|c| c.to_lowercase()).collect::<Vec<_>>().join(", "),
                event_label.to_lowercase()
            ));
        }
    }
    if kinds.contains(&ModelKind::Logrank) && levels.len() >= 2 {
        let fu = FollowUp::new(&time, &event);
        let t =
            log_rank_test(&fu, &grp, None, &LogRankOptions::default()).context("log-rank test")?;
        r.logrank = Some(Test {
            name: format!(
                "log-rank test of the cause-specific hazard of {}",
                event_label.to_lowercase()
            ),
            statistic: t.chi_square,
            df: t.df as f64,
            p_value: t.p_value,
        });
    }
    if kinds.contains(&ModelKind::Cox) {
        for m in cox_specs(p, o, ModelKind::Cox) {
            r.cox.extend(cox(p, o, covs, levels, codes, d, false, m)?);
        }
    }
    if kinds.contains(&ModelKind::Rmst) {
        let tau = p
            .models
            .iter()
            .find(|m| m.kind == ModelKind::Rmst)
            .and_then(|m| m.tau)
            .unwrap_or(365.0);
        let any: Vec<bool> = status.iter().map(|&s| s != 0).collect();
        let fu = FollowUp::new(&time, &any);
        let fits = kaplan_meier_by_group(&fu, &grp, &KaplanMeierOptions::default())?;
        let mut table = RmstTable {
            tau,
            groups: Vec::new(),
            differences: Vec::new(),
        };
        for gc in &fits {
            let m = restricted_mean_survival(&gc.curve, tau, 0.95)?;
            table.groups.push(RmstGroup {
                group: levels.get(gc.group as usize).cloned().unwrap_or_default(),
                rmst: m.estimate,
                se: m.std_err,
            });
        }
        if let Some(reference) = fits.first() {
            for other in fits.iter().skip(1) {
                let diff = restricted_mean_difference(&other.curve, &reference.curve, tau, 0.95)?;
                table.differences.push(RmstDifference {
                    group: levels
                        .get(other.group as usize)
                        .cloned()
                        .unwrap_or_default(),
                    reference: levels
                        .get(reference.group as usize)
                        .cloned()
                        .unwrap_or_default(),
                    difference: diff.difference,
                    lower: diff.lower,
                    upper: diff.upper,
                    p_value: diff.p_value,
                });
            }
        }
        r.notes.push(format!(
            "restricted mean event-free time to τ = {tau} days: the mean number of days before \
             {} or any competing event, up to τ",
            event_label.to_lowercase()
        ));
        r.rmst = Some(table);
    }
    if kinds.contains(&ModelKind::Proportion)
        && let Some(w) = o.window_days
    {
        let w = w as f64;
        for (g, name) in levels.iter().enumerate() {
            let rows: Vec<usize> = finals
                .iter()
                .enumerate()
                .filter(|&(j, &i)| grp[j] == g as u32 && d.complete_window[i] == Some(true))
                .map(|(j, _)| j)
                .collect();
            let k = rows
                .iter()
                .filter(|&&j| status[j] == 1 && time[j] <= w)
                .count();
            r.proportions.push(proportion(
                name,
                &format!(
                    "{} within {w} days (complete-window children)",
                    event_label.to_lowercase()
                ),
                k,
                rows.len(),
            ));
        }
        r.notes.push(format!(
            "the fixed-window proportion counts only children who could complete {w} days of \
             follow-up{}; compare it with the cumulative incidence at {w} days",
            if o.id == "P2.2" {
                format!(
                    " plus a substantiation maturity lag of {} days",
                    o.maturity_lag_days
                )
            } else {
                String::new()
            }
        ));
    }
    Ok(())
}

/// The Cox models of the protocol that apply to outcome `o` (the default: one).
fn cox_specs<'a>(p: &'a Protocol, o: &Outcome, kind: ModelKind) -> Vec<Option<&'a ModelSpec>> {
    if p.models.is_empty() {
        return vec![None];
    }
    p.models
        .iter()
        .filter(|m| m.kind == kind && m.outcomes.as_ref().is_none_or(|l| l.contains(&o.id)))
        .map(Some)
        .collect()
}

/// Cause-specific Cox (or Andersen–Gill for recurrent events): the comparison plus covariates.
#[allow(clippy::too_many_arguments)]
fn cox(
    p: &Protocol,
    o: &Outcome,
    covs: &[CovariateColumn],
    levels: &[String],
    codes: &[Option<u32>],
    d: &OutcomeData,
    recurrent: bool,
    model: Option<&ModelSpec>,
) -> anyhow::Result<Option<CoxTable>> {
    let adjust = model.and_then(|m| m.adjust).unwrap_or(true);
    let intervention = p.groups.as_ref().and_then(|g| g.intervention.clone());
    let timing = model
        .and_then(|m| m.timing)
        .or(p.groups.as_ref().and_then(|g| g.timing))
        .unwrap_or(Timing::TimeVarying);
    let usable = |i: usize| codes[i].is_some() && d.t_stop[i].is_some() && d.status[i].is_some();
    // A fixed-treatment model on a dataset split at the start: one row per episode.
    let collapse = !recurrent && intervention.is_some() && timing != Timing::TimeVarying;
    let rows: Vec<usize> = if collapse {
        final_rows(d).into_iter().filter(|&i| usable(i)).collect()
    } else {
        (0..d.len()).filter(|&i| usable(i)).collect()
    };
    if rows.is_empty() {
        return Ok(None);
    }
    let ever: Vec<bool> = if collapse {
        let mut first = 0;
        rows.iter()
            .map(|&last| {
                while first < last && d.episode(first) != d.episode(last) {
                    first += 1;
                }
                (first..=last).any(|i| d.treated[i] == Some(1))
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut start: Vec<f64> = if collapse {
        vec![0.0; rows.len()]
    } else {
        rows.iter().map(|&i| d.t_start[i].unwrap_or(0.0)).collect()
    };
    let mut stop: Vec<f64> = rows.iter().map(|&i| d.t_stop[i].unwrap_or(0.0)).collect();
    let counting = start.iter().any(|&s| s > 0.0);
    if counting {
        // (start, stop] needs stop > start: an event on the day of the origin counts at half a day.
        for j in 0..stop.len() {
            if stop[j] <= start[j] {
                stop[j] = start[j] + 0.5;
            }
        }
    } else {
        start.clear();
    }
    let event: Vec<bool> = rows.iter().map(|&i| d.status[i] == Some(1)).collect();
    if !event.iter().any(|&e| e) {
        return Ok(None);
    }
    let mut columns: Vec<(String, models::design::CovariateColumn)> = Vec::new();
    let mut spec: Vec<String> = Vec::new();
    match (&intervention, p.groups.as_ref().and_then(|g| g.by.clone())) {
        (Some(_), _) => {
            let treated: Vec<f64> = rows
                .iter()
                .enumerate()
                .map(|(j, &i)| match timing {
                    Timing::TimeVarying => d.treated[i].unwrap_or(0) as f64,
                    Timing::Ever if collapse => f64::from(u8::from(ever[j])),
                    _ => f64::from(u8::from(d.group(i) == "treated")),
                })
                .collect();
            columns.push((
                "treated".into(),
                models::design::CovariateColumn::Numeric(treated),
            ));
            spec.push("treated".into());
        }
        (None, Some(by)) if levels.len() >= 2 => {
            let values: Vec<Option<String>> =
                rows.iter().map(|&i| Some(d.group(i).to_string())).collect();
            if !p
                .covariates
                .iter()
                .any(|c| c.split(':').next() == Some(by.as_str()))
            {
                spec.push(format!("{by}:cat={}", levels[0]));
            }
            columns.push((
                by.clone(),
                models::design::CovariateColumn::Categorical(values),
            ));
        }
        _ => {}
    }
    if adjust {
        for (c, (name, col)) in covs.iter().zip(&d.covariates) {
            if !columns.iter().any(|(n, _)| n == name) {
                columns.push((name.clone(), subset(col, &rows)));
            }
            let s = match (&c.reference, c.categorical) {
                (Some(r), _) => format!("{name}:cat={r}"),
                (None, true) => format!("{name}:cat"),
                _ => name.clone(),
            };
            spec.push(s);
        }
    }
    if spec.is_empty() {
        return Ok(None);
    }
    let terms = parse_spec(&spec.join(",")).context("the model's terms")?;
    let design = DesignMatrix::build(&terms, &columns).context("the design matrix")?;
    let kept = &design.kept_rows;
    let stop_k: Vec<f64> = kept.iter().map(|&j| stop[j]).collect();
    let event_k: Vec<bool> = kept.iter().map(|&j| event[j]).collect();
    let start_k: Vec<f64> = if counting {
        kept.iter().map(|&j| start[j]).collect()
    } else {
        Vec::new()
    };
    let cluster_needed = recurrent || p.cohort.entry == EntryKind::Every;
    let mut ids: Vec<&str> = kept.iter().map(|&j| d.child(rows[j])).collect::<Vec<_>>();
    let cluster: Vec<u64> = {
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        sorted.dedup();
        ids.iter()
            .map(|c| sorted.binary_search(c).unwrap_or(0) as u64)
            .collect()
    };
    ids.clear();
    let mut data = CoxData::from_design(&design, &stop_k, &event_k);
    if counting {
        data = data.with_start(&start_k);
    }
    if cluster_needed {
        data = data.with_cluster(&cluster);
    }
    let options = CoxOptions {
        concordance: false,
        ..CoxOptions::default()
    };
    let model = CoxModel::fit(&data, &options).context("the Cox model")?;
    let fit = model.summary();
    // A term whose indicator is 1 (or 0) on fewer than k rows describes a small group: withheld.
    let k = p.privacy.k_file as usize;
    let small: Vec<bool> = (0..design.x.ncols())
        .map(|j| {
            let col = design.x.column(j);
            let binary = col.iter().all(|&v| v == 0.0 || v == 1.0);
            let ones = col.iter().filter(|&&v| v == 1.0).count();
            binary && (ones < k || col.len() - ones < k)
        })
        .collect();
    let zph = model.zph(ZphTransform::Km).ok();
    let event_label = o.causes.first().cloned().unwrap_or_default().to_lowercase();
    let description = if recurrent {
        format!(
            "rate ratios of {event_label} (Andersen–Gill, robust variance by child{})",
            if design.n_dropped > 0 {
                format!(
                    "; {} rows with a missing covariate left out",
                    design.n_dropped
                )
            } else {
                String::new()
            }
        )
    } else {
        format!(
            "cause-specific hazard ratios of {event_label} (Cox, Efron ties; {}{}{})",
            if o.has_competing() {
                "competing events censored"
            } else {
                "no competing events"
            },
            match (&intervention, timing) {
                (None, _) => "",
                (Some(_), Timing::TimeVarying) =>
                    "; treatment time-varying: (start, stop] rows, untreated until it starts",
                (Some(_), Timing::Ever) =>
                    "; treatment as 'ever treated' during follow-up (immortal-time bias)",
                (Some(_), Timing::Baseline) =>
                    "; treatment at baseline (started within the window)",
            },
            if design.n_dropped > 0 {
                format!(
                    "; {} rows with a missing covariate left out",
                    design.n_dropped
                )
            } else {
                String::new()
            }
        )
    };
    Ok(Some(CoxTable {
        description,
        n: shown(fit.n),
        events: shown(fit.n_events),
        terms: fit
            .coefficients
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let hide = small.get(j).copied().unwrap_or(false);
                let v = |x: f64| (!hide && x.is_finite()).then_some(x);
                CoxTerm {
                    term: c.name.clone(),
                    coef: v(c.coef),
                    se: v(c.robust_se.unwrap_or(c.se)),
                    hazard_ratio: v(c.hazard_ratio),
                    lower: v(c.hr_lower),
                    upper: v(c.hr_upper),
                    p_value: v(c.p_value),
                    suppressed: hide,
                }
            })
            .collect(),
        ph_test: zph.and_then(|z| {
            z.tests.iter().find(|t| t.term == "GLOBAL").map(|t| Test {
                name: "proportional hazards (cox.zph, KM transform)".into(),
                statistic: t.chisq,
                df: t.df as f64,
                p_value: t.p_value,
            })
        }),
        robust: fit.robust,
        concordance: None,
    }))
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

#[allow(clippy::too_many_arguments)]
fn recurrent(
    r: &mut OutcomeResult,
    curves: &mut Vec<RawCurve>,
    p: &Protocol,
    o: &Outcome,
    covs: &[CovariateColumn],
    levels: &[String],
    codes: &[Option<u32>],
    d: &OutcomeData,
) -> anyhow::Result<()> {
    let rows: Vec<usize> = (0..d.len())
        .filter(|&i| codes[i].is_some() && d.t_stop[i].is_some())
        .collect();
    let start: Vec<f64> = rows.iter().map(|&i| d.t_start[i].unwrap_or(0.0)).collect();
    let stop: Vec<f64> = rows.iter().map(|&i| d.t_stop[i].unwrap_or(0.0)).collect();
    let event: Vec<bool> = rows.iter().map(|&i| d.status[i] == Some(1)).collect();
    let grp: Vec<u32> = rows.iter().map(|&i| codes[i].unwrap_or(0)).collect();
    let mut children: Vec<&str> = rows.iter().map(|&i| d.child(i)).collect();
    children.sort_unstable();
    children.dedup();
    let subject: Vec<u32> = rows
        .iter()
        .map(|&i| children.binary_search(&d.child(i)).unwrap_or(0) as u32)
        .collect();
    for (g, name) in levels.iter().enumerate() {
        let mut kids: Vec<&str> = rows
            .iter()
            .filter(|&&i| codes[i] == Some(g as u32))
            .map(|&i| d.episode(i))
            .collect();
        kids.sort_unstable();
        kids.dedup();
        let events = rows
            .iter()
            .filter(|&&i| codes[i] == Some(g as u32) && d.status[i] == Some(1))
            .count();
        r.groups.push(GroupSummary {
            group: name.clone(),
            children: shown(kids.len()),
            by_status: vec![StatusCount {
                status: "REREPORT".into(),
                count: shown(events),
            }],
        });
    }
    if rows.is_empty() {
        return Ok(());
    }
    let fu = FollowUp::new(&stop, &event)
        .with_entry(&start)
        .with_subjects(&subject);
    let fits = mean_cumulative_function_by_group(&fu, &grp, &McfOptions::default())
        .context("mean cumulative function")?;
    for gm in &fits {
        let name = levels.get(gm.group as usize).cloned().unwrap_or_default();
        let m = &gm.mcf;
        let rows = (0..m.time.len())
            .map(|i| CurveRow {
                time: m.time[i],
                n_risk: m.n_risk[i].round() as u64,
                n_event: m.n_event[i].round() as u64,
                n_censor: (m.n_risk[i] - m.n_risk.get(i + 1).copied().unwrap_or(0.0))
                    .round()
                    .max(0.0) as u64,
                estimate: m.mean[i],
                lower: m.lower[i],
                upper: m.upper[i],
            })
            .collect();
        curves.push(RawCurve {
            group: name,
            cause: "REREPORT".into(),
            estimator: "mean cumulative function (re-reports per child)".into(),
            recurrent: true,
            rising: true,
            n_start: m.n_subjects as u64,
            rows,
        });
    }
    r.notes.push(format!(
        "re-reports counted when more than {} days after the previous counted one, up to {} days",
        o.dedup_days,
        o.window_days.unwrap_or(730)
    ));
    for m in cox_specs(p, o, ModelKind::Recurrent) {
        r.cox.extend(cox(p, o, covs, levels, codes, d, true, m)?);
    }
    Ok(())
}

/// Wilson 95% interval of k/n.
pub fn proportion(group: &str, label: &str, k: usize, n: usize) -> Proportion {
    let (estimate, lower, upper) = if n == 0 {
        (None, None, None)
    } else {
        let z = 1.959_963_984_540_054_f64;
        let (kf, nf) = (k as f64, n as f64);
        let ph = kf / nf;
        let denom = 1.0 + z * z / nf;
        let centre = (ph + z * z / (2.0 * nf)) / denom;
        let half = z * (ph * (1.0 - ph) / nf + z * z / (4.0 * nf * nf)).sqrt() / denom;
        (
            Some(ph),
            Some((centre - half).max(0.0)),
            Some((centre + half).min(1.0)),
        )
    };
    Proportion {
        group: group.into(),
        label: label.into(),
        numerator: shown(k),
        denominator: shown(n),
        estimate,
        lower,
        upper,
    }
}

fn score_proportions(
    r: &mut OutcomeResult,
    o: &Outcome,
    levels: &[String],
    codes: &[Option<u32>],
    d: &OutcomeData,
) {
    for (g, name) in levels.iter().enumerate() {
        let rows: Vec<usize> = (0..d.len())
            .filter(|&i| codes[i] == Some(g as u32))
            .collect();
        let with_followup: Vec<usize> = rows
            .iter()
            .copied()
            .filter(|&i| d.followup[i].is_some())
            .collect();
        r.groups.push(GroupSummary {
            group: name.clone(),
            children: shown(rows.len()),
            by_status: vec![
                StatusCount {
                    status: "WITH_FOLLOWUP".into(),
                    count: shown(with_followup.len()),
                },
                StatusCount {
                    status: "MISSING_FOLLOWUP".into(),
                    count: shown(rows.len() - with_followup.len()),
                },
            ],
        });
        let count =
            |col: &Vec<Option<i64>>| with_followup.iter().filter(|&&i| col[i] == Some(1)).count();
        if o.id == "P3.2" {
            r.proportions.push(proportion(
                name,
                &format!("reliable improvement (≥ {} points)", o.reliable_change),
                count(&d.improved),
                with_followup.len(),
            ));
            r.proportions.push(proportion(
                name,
                &format!("recovered (below the cut-off {})", o.cut_off),
                count(&d.recovered),
                with_followup.len(),
            ));
        } else {
            r.proportions.push(proportion(
                name,
                "recovered and no substantiated recurrence",
                count(&d.sustained),
                with_followup.len(),
            ));
        }
    }
    r.notes.push(format!(
        "{} at {} among children at or above the cut-off {} at baseline with a follow-up score \
         (complete cases; missing follow-ups counted separately)",
        o.instrument, o.wave, o.cut_off
    ));
}

fn means(r: &mut OutcomeResult, levels: &[String], codes: &[Option<u32>], d: &OutcomeData) {
    for (g, name) in levels.iter().enumerate() {
        let rows: Vec<usize> = (0..d.len())
            .filter(|&i| codes[i] == Some(g as u32))
            .collect();
        let change: Vec<f64> = rows
            .iter()
            .filter_map(|&i| Some(d.followup[i]? - d.baseline[i]?))
            .collect();
        let base: Vec<f64> = rows.iter().filter_map(|&i| d.baseline[i]).collect();
        let n = change.len() as f64;
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let m = mean(&change);
        let half = m.and_then(|m| {
            (change.len() > 1).then(|| {
                let var = change.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
                1.959_963_984_540_054 * (var / n).sqrt()
            })
        });
        r.groups.push(GroupSummary {
            group: name.clone(),
            children: shown(rows.len()),
            by_status: vec![],
        });
        r.means.push(MeanChange {
            group: name.clone(),
            n: shown(change.len()),
            missing_followup: shown(rows.len() - change.len()),
            baseline_mean: mean(&base),
            change_mean: m,
            lower: m.zip(half).map(|(m, h)| m - h),
            upper: m.zip(half).map(|(m, h)| m + h),
        });
    }
    r.notes.push(
        "mean change from baseline among complete cases with a normal 95% interval; a linear \
         mixed model (random intercept and slope per child) is not yet available"
            .into(),
    );
}

fn rates(r: &mut OutcomeResult, levels: &[String], codes: &[Option<u32>], d: &OutcomeData) {
    for (g, name) in levels.iter().enumerate() {
        let rows: Vec<usize> = (0..d.len())
            .filter(|&i| codes[i] == Some(g as u32))
            .collect();
        let events: i64 = rows.iter().map(|&i| d.events[i].unwrap_or(0)).sum();
        let days: f64 = rows
            .iter()
            .map(|&i| d.exposure_days[i].unwrap_or(0.0))
            .sum();
        let (rate, lower, upper) = poisson_rate(events.max(0) as u64, days);
        r.groups.push(GroupSummary {
            group: name.clone(),
            children: shown(rows.len()),
            by_status: vec![],
        });
        r.rates.push(Rate {
            group: name.clone(),
            children: shown(rows.len()),
            events: Count::Shown(events.max(0) as u64),
            exposure_days: days,
            per_1000_days: rate,
            lower,
            upper,
        });
    }
    r.notes.push("placement moves per 1,000 days in care (trial home visits and runaways excluded; exact Poisson 95% interval)".into());
}

/// Events per 1,000 days with the exact (Garwood) Poisson interval.
fn poisson_rate(k: u64, days: f64) -> (Option<f64>, Option<f64>, Option<f64>) {
    if days <= 0.0 {
        return (None, None, None);
    }
    let scale = 1000.0 / days;
    let lo = if k == 0 {
        0.0
    } else {
        ChiSquared::new(2.0 * k as f64)
            .map(|c| c.inverse_cdf(0.025) / 2.0)
            .unwrap_or(f64::NAN)
    };
    let hi = ChiSquared::new(2.0 * (k as f64 + 1.0))
        .map(|c| c.inverse_cdf(0.975) / 2.0)
        .unwrap_or(f64::NAN);
    (Some(k as f64 * scale), Some(lo * scale), Some(hi * scale))
}
