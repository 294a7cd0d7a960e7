//! The disclosure gate over a whole results bundle: every count table of the bundle audited
//! together (with the relations the bundle itself publishes: the cohort size in the attrition
//! table and in each outcome, group sizes shared by outcomes, proportions' denominators), every
//! curve coarsened, and the estimates at fixed times and the medians read off the coarsened
//! curves, so nothing published is finer than the curves.

use studies::bundle::{Bundle, Count, Curve, CurveStep, Median, PointEstimate};
use studies::outcomes::OutcomeKind;
use studies::protocol::{EntryKind, Origin};

use super::analyse::{REPORT_TIMES, RawCurve};
use crate::disclosure::{
    AttritionStep as GateStep, AttritionTable, Audit, CountTable, Gate, GatedCount, GatedOutput,
    PublishedStep, TableRef,
};

fn raw(c: Count) -> u64 {
    match c {
        Count::Shown(v) => v,
        _ => 0,
    }
}

/// Where each registered table's counts go back into the bundle.
enum Slot {
    Attrition,
    /// Outcome `o`: groups × statuses.
    Groups(usize),
    /// Outcome `o`: the proportions with this label, one row per group.
    Proportions(usize, String),
    /// Outcome `o`: means (n, missing follow-up).
    Means(usize),
    /// Outcome `o`: rates (children).
    Rates(usize),
    /// Outcome `o`, Cox model `j`: events and non-events.
    Cox(usize, usize),
}

/// Gates `b` in place for threshold `k` (the file threshold: a bundle is a file).
pub fn apply(
    b: &mut Bundle,
    curves: &[Vec<RawCurve>],
    entry: EntryKind,
    k: u64,
) -> anyhow::Result<()> {
    let gate = Gate { k };
    let mut audit = Audit::new(gate);
    let mut slots: Vec<(TableRef, Slot)> = Vec::new();

    let attrition = AttritionTable {
        title: "attrition".into(),
        steps: b
            .attrition
            .iter()
            .map(|a| GateStep {
                label: a.rule.clone(),
                remaining: raw(a.children),
            })
            .collect(),
    };
    let a_ref = audit.add_attrition(&attrition)?;
    slots.push((a_ref, Slot::Attrition));
    let cohort_size = attrition.steps.last().map_or(0, |s| s.remaining);
    let last_step = attrition.steps.len().saturating_sub(1);

    let mut shared_groups: Option<TableRef> = None;
    for (oi, o) in b.outcomes.iter().enumerate() {
        let groups: Vec<String> = o.groups.iter().map(|g| g.group.clone()).collect();
        if groups.is_empty() {
            continue;
        }
        let columns: Vec<String> = o
            .groups
            .first()
            .map(|g| g.by_status.iter().map(|s| s.status.clone()).collect())
            .unwrap_or_default();
        let table = if columns.is_empty() {
            CountTable {
                title: format!("{} children", o.outcome.id),
                row_header: "group".into(),
                rows: groups.clone(),
                columns: vec!["children".into()],
                cells: o.groups.iter().map(|g| vec![raw(g.children)]).collect(),
            }
        } else {
            CountTable {
                title: format!("{} by status", o.outcome.id),
                row_header: "group".into(),
                rows: groups.clone(),
                columns,
                cells: o
                    .groups
                    .iter()
                    .map(|g| g.by_status.iter().map(|s| raw(s.count)).collect())
                    .collect(),
            }
        };
        let rows_are_children = o.outcome.kind != OutcomeKind::Recurrent;
        let t = audit.add_table(&table)?;
        // When a small competing cause must be protected, hide the censored count beside it
        // before the headline cause's count (the curves show counts only with it).
        if let Some(c) = table.columns.iter().position(|c| c == "CENSORED") {
            audit.expendable(t, c)?;
        }
        slots.push((t, Slot::Groups(oi)));
        // Outcomes whose time origin is the entry cover the whole cohort, group by group.
        let whole_cohort = rows_are_children
            && entry == EntryKind::First
            && (o.outcome.id.starts_with("P1")
                || (o.outcome.id == "P2.1" && o.outcome.origin == Origin::IndexReport));
        let total: u64 = table.cells.iter().flatten().sum();
        if whole_cohort
            && total == cohort_size
            && !table.columns.is_empty()
            && o.outcome.kind != OutcomeKind::Recurrent
        {
            audit.same(t.total(), a_ref.remaining(last_step))?;
            if let Some(s) = shared_groups {
                for g in 0..groups.len() {
                    let q = |r: TableRef| r.row_total(g);
                    if value_of(b, &slots, s, g) == table.cells[g].iter().sum::<u64>() {
                        let _ = audit.same(q(s), q(t));
                    }
                }
            } else {
                shared_groups = Some(t);
            }
        }
        // Proportions: one table per label, rows = groups, columns = yes / no.
        let labels: Vec<String> = {
            let mut l: Vec<String> = Vec::new();
            for p in &o.proportions {
                if !l.contains(&p.label) {
                    l.push(p.label.clone());
                }
            }
            l
        };
        for label in &labels {
            let props: Vec<&studies::bundle::Proportion> =
                o.proportions.iter().filter(|p| &p.label == label).collect();
            let pt = CountTable {
                title: format!("{} {label}", o.outcome.id),
                row_header: "group".into(),
                rows: props.iter().map(|p| p.group.clone()).collect(),
                columns: vec!["yes".into(), "no".into()],
                cells: props
                    .iter()
                    .map(|p| {
                        vec![
                            raw(p.numerator),
                            raw(p.denominator).saturating_sub(raw(p.numerator)),
                        ]
                    })
                    .collect(),
            };
            let r = audit.add_table(&pt)?;
            slots.push((r, Slot::Proportions(oi, label.clone())));
            // Phase-3 denominators are the groups' children with a follow-up score.
            if o.outcome.id.starts_with("P3") {
                for (g, p) in props.iter().enumerate() {
                    if table.cells.get(g).and_then(|c| c.first()).copied()
                        == Some(raw(p.denominator))
                    {
                        let _ = audit.same(r.row_total(g), t.cell(g, 0));
                    }
                }
            }
        }
        if !o.means.is_empty() {
            let mt = CountTable {
                title: format!("{} follow-up", o.outcome.id),
                row_header: "group".into(),
                rows: o.means.iter().map(|m| m.group.clone()).collect(),
                columns: vec!["with follow-up".into(), "missing".into()],
                cells: o
                    .means
                    .iter()
                    .map(|m| vec![raw(m.n), raw(m.missing_followup)])
                    .collect(),
            };
            let r = audit.add_table(&mt)?;
            slots.push((r, Slot::Means(oi)));
            for g in 0..o.means.len() {
                if mt.cells[g].iter().sum::<u64>()
                    == table.cells.get(g).map_or(0, |c| c.iter().sum())
                {
                    let _ = audit.same(r.row_total(g), t.row_total(g));
                }
            }
        }
        if !o.rates.is_empty() {
            let rt = CountTable {
                title: format!("{} children in care", o.outcome.id),
                row_header: "group".into(),
                rows: o.rates.iter().map(|m| m.group.clone()).collect(),
                columns: vec!["children".into()],
                cells: o.rates.iter().map(|m| vec![raw(m.children)]).collect(),
            };
            let r = audit.add_table(&rt)?;
            slots.push((r, Slot::Rates(oi)));
            for g in 0..o.rates.len() {
                let _ = audit.same(r.cell(g, 0), t.cell(g, 0));
            }
        }
        for (ci, c) in o.cox.iter().enumerate() {
            let (n, e) = (raw(c.n), raw(c.events));
            let ct = CountTable {
                title: format!("{} Cox model {}", o.outcome.id, ci + 1),
                row_header: "model".into(),
                rows: vec!["rows".into()],
                columns: vec!["events".into(), "no event".into()],
                cells: vec![vec![e, n.saturating_sub(e)]],
            };
            let r = audit.add_table(&ct)?;
            slots.push((r, Slot::Cox(oi, ci)));
            if rows_are_children && !table.columns.is_empty() {
                let events_total: u64 = table
                    .cells
                    .iter()
                    .map(|c| c.first().copied().unwrap_or(0))
                    .sum();
                if events_total == e {
                    let _ = audit.same(r.cell(0, 0), t.column_total(0));
                }
                if total == n {
                    let _ = audit.same(r.total(), t.total());
                }
            }
        }
    }

    let audited = audit.run();
    for ((_, slot), out) in slots.iter().zip(&audited.outputs) {
        match (slot, out) {
            (Slot::Attrition, GatedOutput::Attrition(a)) => {
                for (step, g) in b.attrition.iter_mut().zip(&a.steps) {
                    step.children = g.remaining;
                    step.children_removed = g.excluded.unwrap_or(Count::Shown(0));
                    if entry == EntryKind::First {
                        step.episodes = step.children;
                    } else {
                        step.episodes = gate.count(raw(step.episodes));
                    }
                }
            }
            (Slot::Groups(oi), GatedOutput::Table(t)) => {
                let o = &mut b.outcomes[*oi];
                let with_status = o.groups.first().is_some_and(|g| !g.by_status.is_empty());
                for (g, gs) in o.groups.iter_mut().enumerate() {
                    let row = &t.cells[g];
                    if with_status {
                        for (j, s) in gs.by_status.iter_mut().enumerate() {
                            s.count = row[j];
                        }
                        gs.children = row[row.len() - 1];
                    } else {
                        gs.children = row[0];
                    }
                }
            }
            (Slot::Proportions(oi, label), GatedOutput::Table(t)) => {
                for (g, p) in b.outcomes[*oi]
                    .proportions
                    .iter_mut()
                    .filter(|p| &p.label == label)
                    .enumerate()
                {
                    let row = &t.cells[g];
                    p.numerator = row[0];
                    p.denominator = row[2];
                    if !matches!(p.numerator, Count::Shown(_))
                        || !matches!(p.denominator, Count::Shown(_))
                    {
                        p.estimate = None;
                        p.lower = None;
                        p.upper = None;
                    }
                }
            }
            (Slot::Means(oi), GatedOutput::Table(t)) => {
                for (g, m) in b.outcomes[*oi].means.iter_mut().enumerate() {
                    m.n = t.cells[g][0];
                    m.missing_followup = t.cells[g][1];
                    if !matches!(m.n, Count::Shown(_)) {
                        m.baseline_mean = None;
                        m.change_mean = None;
                        m.lower = None;
                        m.upper = None;
                    }
                }
            }
            (Slot::Rates(oi), GatedOutput::Table(t)) => {
                for (g, r) in b.outcomes[*oi].rates.iter_mut().enumerate() {
                    r.children = t.cells[g][0];
                    r.events = gate.count(raw(r.events));
                    if !matches!(r.children, Count::Shown(_)) {
                        r.per_1000_days = None;
                        r.lower = None;
                        r.upper = None;
                        r.exposure_days = f64::NAN;
                    }
                }
            }
            (Slot::Cox(oi, ci), GatedOutput::Table(t)) => {
                if let Some(c) = b.outcomes[*oi].cox.get_mut(*ci) {
                    c.events = t.cells[0][0];
                    c.n = t.cells[0][2];
                }
            }
            _ => anyhow::bail!("the audit returned its tables out of order"),
        }
    }
    b.disclosure.push(format!(
        "Every count passed the disclosure gate with k = {k}: {} distinct counts audited together, \
         {} below k (shown as <{k}), {} more hidden (x) so that no hidden count can be recomputed \
         from the totals, attrition and groups the bundle publishes.",
        audited.report.quantities,
        audited.report.primary,
        audited.report.complementary + audited.report.relabelled
    ));

    // Curves, then what is read off them.
    for (o, raw_curves) in b.outcomes.iter_mut().zip(curves) {
        o.curves.clear();
        o.at_times.clear();
        o.medians.clear();
        for rc in raw_curves {
            let group_shown = o
                .groups
                .iter()
                .find(|g| g.group == rc.group)
                // The curve's counts add up to the group's size and to its own cause's count
                // (competing events and censorings are pooled in its `n_censor`), so those two
                // must be published for the curve to show counts.
                .is_some_and(|g| {
                    matches!(g.children, Count::Shown(_))
                        && g.by_status
                            .iter()
                            .filter(|s| s.status == rc.cause || rc.recurrent)
                            .all(|s| matches!(s.count, Count::Shown(_)))
                });
            let published = if rc.recurrent {
                Ok(coarsen_recurrent(k, rc))
            } else {
                gate.curve(rc.n_start, &rc.rows).map(|p| {
                    let note = p.note();
                    (p.steps, p.ends_at, note)
                })
            };
            let (steps, ends_at, note) = match published {
                Ok(x) => x,
                Err(e) => (Vec::new(), None, format!("not shown: {e}")),
            };
            let hide_counts = !group_shown;
            let steps: Vec<CurveStep> = steps
                .iter()
                .map(|s| CurveStep {
                    time: s.time,
                    estimate: s.estimate,
                    lower: s.lower,
                    upper: s.upper,
                    n_risk: if hide_counts { Count::Hidden } else { s.n_risk },
                    n_event: if hide_counts {
                        Count::Hidden
                    } else {
                        s.n_event
                    },
                    n_censor: if hide_counts {
                        Count::Hidden
                    } else {
                        s.n_censor
                    },
                })
                .collect();
            let initial = if rc.rising { 0.0 } else { 1.0 };
            for &t in &REPORT_TIMES {
                let value = match ends_at {
                    Some(end) if t <= end => {
                        let last = steps.iter().rev().find(|s| s.time <= t);
                        Some(
                            last.map_or((Some(initial), Some(initial), Some(initial)), |s| {
                                (Some(s.estimate), s.lower, s.upper)
                            }),
                        )
                    }
                    _ => None,
                };
                o.at_times.push(PointEstimate {
                    group: rc.group.clone(),
                    cause: rc.cause.clone(),
                    time: t,
                    estimate: value.and_then(|v| v.0),
                    lower: value.and_then(|v| v.1),
                    upper: value.and_then(|v| v.2),
                });
            }
            let is_event = o.outcome.causes.first() == Some(&rc.cause);
            if is_event && !rc.recurrent {
                let first = |f: &dyn Fn(&CurveStep) -> Option<f64>| {
                    steps
                        .iter()
                        .find(|s| f(s).is_some_and(|v| if rc.rising { v >= 0.5 } else { v <= 0.5 }))
                        .map(|s| s.time)
                };
                o.medians.push(Median {
                    group: rc.group.clone(),
                    median: first(&|s| Some(s.estimate)),
                    lower: first(&|s| if rc.rising { s.upper } else { s.lower }),
                    upper: first(&|s| if rc.rising { s.lower } else { s.upper }),
                });
            }
            o.curves.push(Curve {
                group: rc.group.clone(),
                cause: rc.cause.clone(),
                estimator: rc.estimator.clone(),
                steps,
                ends_at,
                note: if hide_counts {
                    format!("{note} Counts are hidden because the group's size is not published.")
                } else {
                    note
                },
            });
        }
    }
    Ok(())
}

/// The published value of row `g`'s total in table `t` as registered (ungated), for declarations.
fn value_of(b: &Bundle, slots: &[(TableRef, Slot)], t: TableRef, g: usize) -> u64 {
    slots
        .iter()
        .find(|(r, _)| *r == t)
        .and_then(|(_, s)| match s {
            Slot::Groups(oi) => b.outcomes[*oi]
                .groups
                .get(g)
                .map(|gs| gs.by_status.iter().map(|s| raw(s.count)).sum()),
            _ => None,
        })
        .unwrap_or(u64::MAX)
}

/// A mean cumulative function coarsened as the survival curves are: every published step pools
/// at least k events, every published at-risk count is at least k, and the children leaving
/// between two published steps are 0 or at least k (else the step extends).
fn coarsen_recurrent(k: u64, rc: &RawCurve) -> (Vec<PublishedStep>, Option<f64>, String) {
    let mut steps: Vec<PublishedStep> = Vec::new();
    let mut risk_at_start = rc.n_start;
    let (mut events, mut leaving) = (0u64, 0u64);
    let mut pooled = 0usize;
    let mut ended_early = false;
    for row in &rc.rows {
        if row.n_risk < k {
            ended_early = true;
            break;
        }
        events += row.n_event;
        leaving += row.n_censor;
        if row.n_event > 0 {
            pooled += 1;
        }
        if events >= k
            && (leaving == 0 || leaving >= k)
            && risk_at_start.saturating_sub(leaving) >= k
        {
            steps.push(PublishedStep {
                time: row.time,
                estimate: row.estimate,
                lower: row.lower,
                upper: row.upper,
                n_risk: GatedCount::Shown(risk_at_start),
                n_event: GatedCount::Shown(events),
                n_censor: GatedCount::Shown(leaving),
            });
            risk_at_start -= leaving;
            events = 0;
            leaving = 0;
        }
    }
    let ends_at = steps.last().map(|s| s.time);
    let note = format!(
        "Coarsened so that no step reveals fewer than {k} children or events: {pooled} event times in {} steps{}.",
        steps.len(),
        if ended_early {
            format!("; the curve ends where fewer than {k} children remain at risk")
        } else {
            String::new()
        }
    );
    (steps, ends_at, note)
}
