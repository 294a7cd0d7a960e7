//! The methodologist's screen: the model form on the left (outcome, groups, model, covariates),
//! the results of the last run on the right: Cox coefficients (HR, 95% CI, p), the proportional
//! hazards test, concordance, the Aalen–Johansen estimates at 90 and 365 days, RMST with its
//! difference, a labelled place for propensity weighting / matching / balance that says "not
//! run" until a bundle carries them, and the diagnostics in plain words.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use studies::bundle::Bundle;

use super::{count, fit, num, pane, pval};
use crate::tui::app::{App, COMPARE_BOOTSTRAP, GROUP_CHOICES, JobKind, MODEL_FIXED_FIELDS};
use crate::tui::i18n::W;
use crate::tui::palette::Palette;

pub fn draw(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let left_w = (area.width * 2 / 5).clamp(20, 36);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(area);
    form(frame, app, pal, left);
    results(frame, app, pal, right);
}

fn form(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let l = app.lang;
    let block = pane(format!(" {} ", l.t(W::Model)), app.pane == 0, pal);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let outcomes = app.model_outcomes();
    let outcome = outcomes.get(app.form.outcome).cloned().unwrap_or_default();
    let groups = match GROUP_CHOICES.get(app.form.groups).copied() {
        Some("protocol") => app
            .protocol
            .groups
            .as_ref()
            .and_then(|g| g.by.clone().or(g.intervention.clone()))
            .map_or_else(|| "protocol: —".to_string(), |b| format!("protocol: {b}")),
        Some(g) => g.to_string(),
        None => String::new(),
    };
    let fields = [
        (
            l.t(W::Outcome),
            format!(
                "{outcome} {}",
                studies::outcomes::label(&outcome).unwrap_or("")
            ),
        ),
        (l.t(W::Groups), groups),
        (l.t(W::Model), app.form.model.label().to_string()),
    ];
    let mut lines = Vec::new();
    for (i, (name, value)) in fields.iter().enumerate() {
        let text = fit(&format!("{:<8} ◂ {value} ▸", fit(name, 8)), w);
        lines.push(if app.form.field == i {
            Line::styled(text, pal.selected())
        } else {
            Line::raw(text)
        });
    }
    if app.form.model.compare().is_some() {
        lines.push(Line::styled(
            fit(&format!("bootstrap {COMPARE_BOOTSTRAP}"), w),
            pal.dim(),
        ));
    }
    lines.push(Line::styled(l.t(W::Covariates), pal.title()));
    let list_room = inner.height.saturating_sub(lines.len() as u16) as usize;
    let sel = app.form.field.saturating_sub(MODEL_FIXED_FIELDS);
    let skip = (sel + 1).saturating_sub(list_room.max(1));
    for (i, (c, on)) in app
        .form
        .covariates
        .iter()
        .enumerate()
        .skip(skip)
        .take(list_room)
    {
        let text = fit(&format!(" [{}] {c}", if *on { 'x' } else { ' ' }), w);
        lines.push(if app.form.field == MODEL_FIXED_FIELDS + i {
            Line::styled(text, pal.selected())
        } else {
            Line::raw(text)
        });
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn results(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let l = app.lang;
    let block = pane(format!(" {} ", l.t(W::Models)), app.pane == 1, pal);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let lines = match &app.model_result {
        Some(b) => result_lines(app, pal, b, inner.width as usize),
        None if app.job(&JobKind::Model).is_some() => {
            vec![Line::raw(format!("{}…", l.t(W::Running)))]
        }
        None => {
            let mut v = vec![Line::raw(format!("{} — Enter / r", l.t(W::NoResults)))];
            v.push(Line::raw(""));
            v.extend(weighting_lines(app, pal));
            v
        }
    };
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((app.scroll, 0)),
        inner,
    );
}

fn weighting_lines(app: &App, pal: &Palette) -> Vec<Line<'static>> {
    let l = app.lang;
    vec![
        Line::styled(l.t(W::Weighting).to_string(), pal.title()),
        Line::from(vec![
            Span::styled(format!("  {} ", l.t(W::NotRun)), pal.suppressed()),
            Span::styled(format!("— {}", l.t(W::NotAvailable)), pal.dim()),
        ]),
    ]
}

fn result_lines(app: &App, pal: &Palette, b: &Bundle, width: usize) -> Vec<Line<'static>> {
    let l = app.lang;
    let k = b.stamp.k_applied;
    let mut lines: Vec<Line<'static>> = Vec::new();
    let Some(o) = b.outcomes.first() else {
        return vec![Line::raw(l.t(W::NoResults))];
    };
    lines.push(Line::styled(
        format!("{} {}", o.outcome.id, o.outcome.label),
        pal.title(),
    ));
    let mut diagnostics: Vec<(bool, String)> = Vec::new();
    // Cox
    for c in &o.cox {
        lines.push(Line::styled(fit(&c.description, width), pal.title()));
        lines.push(Line::raw(format!(
            "n {} · {} {} · {} {}",
            count(c.n, k),
            l.t(W::Events),
            count(c.events, k),
            l.t(W::Concordance),
            num(c.concordance, 3)
        )));
        let tw = width.saturating_sub(33).clamp(8, 28);
        lines.push(Line::styled(
            format!(
                "{:<tw$} {:>6} {:>15} {:>7}",
                l.t(W::Terms),
                l.t(W::HazardRatio),
                "95% CI",
                l.t(W::PValue)
            ),
            pal.dim(),
        ));
        for t in &c.terms {
            let ci = match (t.lower, t.upper) {
                (Some(a), Some(b)) => format!("{a:.2}–{b:.2}"),
                _ => "–".into(),
            };
            let hr = if t.suppressed {
                "<k".to_string()
            } else {
                num(t.hazard_ratio, 2)
            };
            let style = if t.p_value.is_some_and(|p| p < 0.05) {
                pal.title()
            } else {
                pal.text()
            };
            lines.push(Line::styled(
                format!(
                    "{:<tw$} {:>6} {:>15} {:>7}",
                    fit(&t.term, tw),
                    hr,
                    ci,
                    pval(t.p_value)
                ),
                style,
            ));
        }
        if let Some(ph) = &c.ph_test {
            lines.push(Line::raw(format!(
                "{}: χ² {:.2}, df {:.0}, p {}",
                l.t(W::PhTest),
                ph.statistic,
                ph.df,
                pval(Some(ph.p_value))
            )));
            if ph.p_value < 0.05 {
                diagnostics.push((
                    true,
                    format!(
                        "the hazards may not be proportional (global test p = {}): read the hazard ratio as an average over follow-up, or stratify",
                        pval(Some(ph.p_value))
                    ),
                ));
            } else {
                diagnostics.push((
                    false,
                    "no evidence against proportional hazards (global test)".into(),
                ));
            }
        }
        if let (Some(events), n_terms) = (c.events.value(), c.terms.len())
            && n_terms > 0
        {
            let epv = events as f64 / n_terms as f64;
            diagnostics.push((
                epv < 10.0,
                format!(
                    "{epv:.0} events per model term{}",
                    if epv < 10.0 {
                        ": too few for stable estimates (aim for 10 or more)"
                    } else {
                        ""
                    }
                ),
            ));
        }
        if c.terms.iter().any(|t| t.suppressed) {
            diagnostics.push((
                true,
                "some terms are withheld: fewer than k children have (or lack) them".into(),
            ));
        }
    }
    if o.cox.is_empty() {
        lines.push(Line::styled("Cox: –", pal.dim()));
    }
    // Aalen–Johansen at 90 and 365 days
    let event = o.outcome.causes.first().cloned().unwrap_or_default();
    let mut groups: Vec<String> = o.at_times.iter().map(|p| p.group.clone()).collect();
    groups.dedup();
    if !groups.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("{} · {}", l.t(W::CumulativeIncidence), event.to_lowercase()),
            pal.title(),
        ));
        lines.push(Line::styled(
            format!("{:<10} {:>8} {:>8}", l.t(W::CifAt), "90 d", "365 d"),
            pal.dim(),
        ));
        for g in &groups {
            let at = |t: f64| {
                o.at_times
                    .iter()
                    .find(|p| &p.group == g && p.cause == event && p.time == t)
                    .and_then(|p| p.estimate)
            };
            lines.push(Line::raw(format!(
                "{:<10} {:>8} {:>8}",
                fit(g, 10),
                num(at(90.0), 3),
                num(at(365.0), 3)
            )));
        }
    }
    if let Some(t) = &o.logrank {
        lines.push(Line::raw(format!(
            "log-rank: χ² {:.2}, df {:.0}, p {}",
            t.statistic,
            t.df,
            pval(Some(t.p_value))
        )));
    }
    // RMST
    if let Some(r) = &o.rmst {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("{} (τ = {:.0} {})", l.t(W::Rmst), r.tau, l.t(W::Days)),
            pal.title(),
        ));
        for g in &r.groups {
            lines.push(Line::raw(format!(
                "{:<10} {:.1} (SE {:.1})",
                fit(&g.group, 10),
                g.rmst,
                g.se
            )));
        }
        for d in &r.differences {
            lines.push(Line::raw(format!(
                "{} − {}: {:.1} ({:.1}, {:.1}) p {}",
                d.group,
                d.reference,
                d.difference,
                d.lower,
                d.upper,
                pval(Some(d.p_value))
            )));
        }
    }
    lines.push(Line::raw(""));
    match &o.comparison {
        Some(c) => lines.extend(comparison_lines(app, pal, c, k, width)),
        None => lines.extend(weighting_lines(app, pal)),
    }
    // Diagnostics in plain words
    lines.push(Line::raw(""));
    lines.push(Line::styled(l.t(W::Diagnostics).to_string(), pal.title()));
    for (warn, d) in diagnostics {
        if warn {
            lines.push(Line::styled(
                format!("! {}: {d}", l.t(W::Warning)),
                pal.warn(),
            ));
        } else {
            lines.push(Line::raw(format!("✓ {d}")));
        }
    }
    for n in &o.notes {
        let style = if n.starts_with("warning") {
            pal.warn()
        } else {
            pal.dim()
        };
        lines.push(Line::styled(format!("· {n}"), style));
    }
    lines.push(Line::styled(
        format!(
            "release {} · k = {} · protocol {}",
            b.stamp.release_id,
            k,
            &b.stamp.protocol_sha256[..12.min(b.stamp.protocol_sha256.len())]
        ),
        pal.dim(),
    ));
    lines
}

fn comparison_lines(
    app: &App,
    pal: &Palette,
    c: &studies::bundle::Comparison,
    k: u64,
    width: usize,
) -> Vec<Line<'static>> {
    let l = app.lang;
    let mut lines = vec![Line::styled(l.t(W::Weighting).to_string(), pal.title())];
    lines.push(Line::raw(fit(&c.description, width.max(10) * 3)));
    lines.push(Line::raw(format!(
        "{} {} vs {} · {}",
        c.method, c.treated, c.control, c.estimand
    )));
    let ps = &c.propensity;
    lines.push(Line::raw(format!(
        "propensity model: n {} ({} / {}), C {:.3}{}{}",
        count(ps.n, k),
        count(ps.n_treated, k),
        count(ps.n_control, k),
        ps.c_statistic,
        if ps.converged { "" } else { ", not converged" },
        if ps.separation { ", separation" } else { "" }
    )));
    let w = &c.weights;
    lines.push(Line::raw(format!(
        "{}: ESS {:.0} / {:.0}, max weight {:.2} / {:.2}",
        w.kind, w.treated.ess, w.control.ess, w.treated.max, w.control.max
    )));
    if let Some(m) = &c.matching {
        lines.push(Line::raw(format!(
            "matching 1:{}, caliper {} SD: {} matched, {} unmatched",
            m.ratio,
            num(m.caliper_sd, 2),
            count(m.matched_treated, k),
            count(m.unmatched_treated, k)
        )));
    }
    let cw = width.saturating_sub(22).clamp(8, 28);
    lines.push(Line::styled(
        format!("{:<cw$} {:>8} {:>8}", "balance (SMD)", "before", "after"),
        pal.dim(),
    ));
    for b in &c.balance {
        let after = b.smd_after.map(f64::abs);
        let style = if after.is_some_and(|x| x > 0.1) {
            pal.warn()
        } else {
            pal.text()
        };
        let (before, after) = if b.suppressed {
            ("<k".to_string(), "<k".to_string())
        } else {
            (num(b.smd_before, 3), num(b.smd_after, 3))
        };
        lines.push(Line::styled(
            format!("{:<cw$} {before:>8} {after:>8}", fit(&b.covariate, cw)),
            style,
        ));
    }
    lines.push(Line::raw(format!(
        "max |SMD| {} → {}",
        num(c.max_abs_smd_before, 3),
        num(c.max_abs_smd_after, 3)
    )));
    if let Some(cox) = &c.cox {
        for t in &cox.terms {
            lines.push(Line::raw(format!(
                "weighted Cox {}: HR {} ({}–{}) p {}",
                t.term,
                num(t.hazard_ratio, 2),
                num(t.lower, 2),
                num(t.upper, 2),
                pval(t.p_value)
            )));
        }
    }
    if let Some(a) = &c.adjusted {
        lines.push(Line::raw(format!(
            "τ {:.0}: risk {:.3} vs {:.3}, difference {:.3} ({:.3}, {:.3})",
            a.tau,
            a.risk_treated,
            a.risk_control,
            a.risk_difference.estimate,
            a.risk_difference.lower,
            a.risk_difference.upper
        )));
        lines.push(Line::raw(format!(
            "RMST {:.1} vs {:.1}, difference {:.1} ({:.1}, {:.1}); {} bootstrap",
            a.restricted_mean_treated,
            a.restricted_mean_control,
            a.restricted_mean_difference.estimate,
            a.restricted_mean_difference.lower,
            a.restricted_mean_difference.upper,
            a.replicates
        )));
    }
    for d in &c.diagnostics {
        let style = match d.verdict.as_str() {
            "pass" => pal.text(),
            _ => pal.warn(),
        };
        lines.push(Line::styled(
            format!("[{}] {}: {}", d.verdict, d.check, d.message),
            style,
        ));
    }
    lines.push(Line::styled(format!("overall: {}", c.overall), pal.title()));
    for n in &c.notes {
        lines.push(Line::styled(format!("· {n}"), pal.dim()));
    }
    lines
}
