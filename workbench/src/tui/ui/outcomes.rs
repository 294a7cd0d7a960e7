//! The outcome explorer: the gated curves of one outcome per group as step lines (the Chart
//! widget has no step mode, so each step is drawn as a horizontal then a vertical segment: every
//! x is duplicated), a time axis and the number at risk aligned under it, and per group the
//! median and the estimate at 90 and 365 days. All numbers come from the gated bundle.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, LegendPosition, Paragraph, Wrap};
use studies::bundle::{Bundle, Count, Curve};

use super::{count, fit, num, pane};
use crate::tui::app::{App, CurveKind, JobKind};
use crate::tui::i18n::W;
use crate::tui::palette::Palette;

pub fn draw(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let left_w = (area.width / 4).clamp(14, 26);
    let [left, right] =
        Layout::horizontal([Constraint::Length(left_w), Constraint::Min(0)]).areas(area);
    list(frame, app, pal, left);
    let id = app.selected_outcome();
    let label = studies::outcomes::label(&id).unwrap_or("");
    let kind = match app.curve {
        CurveKind::CumulativeIncidence => app.lang.t(W::CumulativeIncidence),
        CurveKind::KaplanMeier => app.lang.t(W::KaplanMeier),
    };
    let block = pane(format!(" {id} {label} · {kind} "), app.pane == 1, pal);
    let inner = block.inner(right);
    frame.render_widget(block, right);
    match app.outcome_results.get(&id) {
        Some(b) => explorer(frame, app, pal, inner, b),
        None => {
            let msg = if let Some(e) = app.outcome_errors.get(&id) {
                e.clone()
            } else if app.job(&JobKind::Outcome(id.clone())).is_some() {
                format!("{}…", app.lang.t(W::Running))
            } else {
                format!("{} — {}", app.lang.t(W::NoResults), app.lang.t(W::PressRun))
            };
            frame.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), inner);
        }
    }
}

fn list(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let block = pane(format!(" {} ", app.lang.t(W::Outcomes)), app.pane == 0, pal);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let lines: Vec<Line> = app
        .outcome_ids()
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let text = fit(
                &format!("{id} {}", studies::outcomes::label(id).unwrap_or("")),
                w,
            );
            if i == app.outcome_sel {
                Line::styled(text, pal.selected())
            } else {
                Line::raw(text)
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The curves of the selected estimator for the outcome's event, one per group.
pub fn curves(b: &Bundle, kind: CurveKind) -> Vec<&Curve> {
    let Some(o) = b.outcomes.first() else {
        return Vec::new();
    };
    let event = o.outcome.causes.first().cloned().unwrap_or_default();
    o.curves
        .iter()
        .filter(|c| {
            c.estimator == kind.estimator() && (c.cause == event || o.outcome.causes.is_empty())
        })
        .collect()
}

/// The step line of a curve: from (0, start), every published step as (t, previous), (t, new),
/// held to the curve's end.
pub fn step_points(c: &Curve, rising: bool) -> Vec<(f64, f64)> {
    let mut y = if rising { 0.0 } else { 1.0 };
    let mut pts = vec![(0.0, y)];
    for s in &c.steps {
        pts.push((s.time, y));
        y = s.estimate;
        pts.push((s.time, y));
    }
    if let Some(end) = c.ends_at
        && pts.last().is_some_and(|p| p.0 < end)
    {
        pts.push((end, y));
    }
    pts
}

/// The estimate at time `t` read off the gated curve (none past its end).
pub fn at(c: &Curve, t: f64, rising: bool) -> Option<f64> {
    let end = c.ends_at.or_else(|| c.steps.last().map(|s| s.time))?;
    if t > end {
        return None;
    }
    Some(
        c.steps
            .iter()
            .rev()
            .find(|s| s.time <= t)
            .map_or(if rising { 0.0 } else { 1.0 }, |s| s.estimate),
    )
}

/// The first time the curve crosses one half.
pub fn median(c: &Curve, rising: bool) -> Option<f64> {
    c.steps
        .iter()
        .find(|s| {
            if rising {
                s.estimate >= 0.5
            } else {
                s.estimate <= 0.5
            }
        })
        .map(|s| s.time)
}

/// Children at risk at the start of the published interval that holds `t`.
pub fn at_risk(c: &Curve, t: f64) -> Option<Count> {
    c.steps.iter().find(|s| s.time > t).map(|s| s.n_risk)
}

/// Tick times for a time axis of `width` columns up to `xmax` days.
pub fn ticks(xmax: f64, width: u16) -> Vec<f64> {
    let room = (width as usize / 7).max(2);
    let step = [30.0, 60.0, 90.0, 180.0, 365.0, 730.0, 1461.0, 3652.0]
        .into_iter()
        .find(|s| ((xmax / s).floor() as usize) < room)
        .unwrap_or(xmax.max(1.0));
    let mut out = Vec::new();
    let mut t = 0.0;
    while t <= xmax + 1e-9 && out.len() < 64 {
        out.push(t);
        t += step;
    }
    out
}

fn explorer(frame: &mut Frame, app: &App, pal: &Palette, area: Rect, b: &Bundle) {
    let l = app.lang;
    let rising = app.curve == CurveKind::CumulativeIncidence;
    let cs = curves(b, app.curve);
    let Some(o) = b.outcomes.first() else {
        return;
    };
    if cs.is_empty() {
        let mut lines = vec![Line::raw(l.t(W::NoCurve))];
        for p in &o.proportions {
            lines.push(Line::raw(format!(
                "{} {}: {} ({}/{})",
                p.group,
                p.label,
                num(p.estimate, 3),
                count(p.numerator, b.stamp.k_applied),
                count(p.denominator, b.stamp.k_applied)
            )));
        }
        for m in &o.means {
            lines.push(Line::raw(format!(
                "{}: n {} · baseline {} · change {} ({}, {})",
                m.group,
                count(m.n, b.stamp.k_applied),
                num(m.baseline_mean, 2),
                num(m.change_mean, 2),
                num(m.lower, 2),
                num(m.upper, 2)
            )));
        }
        for n in &o.notes {
            lines.push(Line::styled(n.clone(), pal.dim()));
        }
        frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: true }), area);
        return;
    }
    let k = b.stamp.k_applied;
    let groups = cs.len() as u16;
    let summary_h = groups + 1;
    let risk_h = groups + 2;
    let notes_h = 1;
    let chart_h = area
        .height
        .saturating_sub(summary_h + risk_h + notes_h)
        .max(3);
    let [chart_area, risk_area, summary_area, notes_area] = Layout::vertical([
        Constraint::Length(chart_h),
        Constraint::Length(risk_h),
        Constraint::Length(summary_h),
        Constraint::Length(notes_h),
    ])
    .areas(area);

    let points: Vec<Vec<(f64, f64)>> = cs.iter().map(|c| step_points(c, rising)).collect();
    let xmax = points
        .iter()
        .flat_map(|p| p.iter().map(|q| q.0))
        .fold(1.0_f64, f64::max);
    let ymax = if rising {
        let top = points
            .iter()
            .flat_map(|p| p.iter().map(|q| q.1))
            .fold(0.0_f64, f64::max);
        ((top * 10.0).ceil() / 10.0).clamp(0.1, 1.0)
    } else {
        1.0
    };
    // The gutter left of the axis holds the y labels, the group names and "at risk".
    let names = cs
        .iter()
        .map(|c| c.group.chars().count())
        .max()
        .unwrap_or(0);
    let label_w = names.max(l.t(W::AtRisk).chars().count()).clamp(4, 12) as u16;
    let ylabels: Vec<String> = [0.0, ymax / 2.0, ymax]
        .iter()
        .map(|v| format!("{:>w$}", format!("{v:.2}"), w = label_w as usize))
        .collect();
    let datasets: Vec<Dataset> = cs
        .iter()
        .zip(&points)
        .enumerate()
        .map(|(i, (c, p))| {
            Dataset::default()
                .name(c.group.clone())
                .marker(Marker::Braille)
                .graph_type(GraphType::Line)
                .style(pal.series(i))
                .data(p)
        })
        .collect();
    let chart = Chart::new(datasets)
        .x_axis(Axis::default().bounds([0.0, xmax]))
        .y_axis(
            Axis::default()
                .bounds([0.0, ymax])
                .labels(ylabels.into_iter().map(Line::from).collect::<Vec<_>>()),
        )
        .hidden_legend_constraints((Constraint::Ratio(1, 2), Constraint::Ratio(1, 2)))
        .legend_position(Some(if rising {
            LegendPosition::BottomRight
        } else {
            LegendPosition::TopRight
        }));
    frame.render_widget(chart, chart_area);

    // The graph starts after the y labels and the axis line; ticks sit under it.
    let gx = label_w + 1;
    let gw = area.width.saturating_sub(gx);
    let ts = ticks(xmax, gw);
    let col = |t: f64| -> usize {
        (gx as f64 + t / xmax * (gw.saturating_sub(1)) as f64).round() as usize
    };
    let width = area.width as usize;
    let mut axis: Vec<char> = vec![' '; width];
    let mut labels: Vec<char> = vec![' '; width];
    for (i, ch) in axis.iter_mut().enumerate().skip(gx as usize) {
        *ch = if i == gx as usize { '└' } else { '─' };
    }
    let place = |row: &mut Vec<char>, at: usize, text: &str, right_align: bool| {
        let n = text.chars().count();
        let start = if right_align {
            (at + 1).saturating_sub(n)
        } else {
            at
        };
        let start = start.min(width.saturating_sub(n));
        if row[start..(start + n).min(width)].iter().all(|c| *c == ' ') {
            for (j, ch) in text.chars().enumerate() {
                if start + j < width {
                    row[start + j] = ch;
                }
            }
        }
    };
    for &t in &ts {
        let c = col(t).min(width.saturating_sub(1));
        if c > gx as usize {
            axis[c] = '┬';
        }
        // The value at time 0 starts at the axis; the others end under their tick.
        place(&mut labels, c, &format!("{t:.0}"), t > 0.0);
    }
    place(&mut labels, 0, &fit(l.t(W::Days), gx as usize - 1), false);
    place(&mut axis, 0, &fit(l.t(W::AtRisk), gx as usize - 1), false);
    let mut risk_lines = vec![
        Line::raw(axis.iter().collect::<String>()),
        Line::raw(labels.iter().collect::<String>()),
    ];
    for (i, c) in cs.iter().enumerate() {
        let mut row: Vec<char> = vec![' '; width];
        place(&mut row, 0, &fit(&c.group, gx as usize - 1), false);
        for &t in &ts {
            let v = at_risk(c, t).map_or_else(|| "–".to_string(), |n| count(n, k).replace(' ', ""));
            place(&mut row, col(t).min(width.saturating_sub(1)), &v, t > 0.0);
        }
        risk_lines.push(Line::styled(row.iter().collect::<String>(), pal.series(i)));
    }
    frame.render_widget(Paragraph::new(risk_lines), risk_area);

    let at_word = if rising {
        l.t(W::CifAt)
    } else {
        l.t(W::SurvivalAt)
    };
    let (h90, h365) = (format!("{at_word} 90"), format!("{at_word} 365"));
    let mut summary = vec![Line::styled(
        format!(
            "{:<12} {:>8} {:>10} {:>10}   k={k}",
            l.t(W::Group),
            l.t(W::Median),
            h90,
            h365,
        ),
        pal.dim(),
    )];
    for (i, c) in cs.iter().enumerate() {
        let med = median(c, rising).map_or_else(|| "–".into(), |m| format!("{m:.0} d"));
        summary.push(Line::from(vec![
            Span::styled("━━ ", pal.series(i)),
            Span::raw(format!(
                "{:<9} {:>8} {:>10} {:>10}",
                fit(&c.group, 9),
                med,
                num(at(c, 90.0, rising), 3),
                num(at(c, 365.0, rising), 3)
            )),
        ]));
    }
    frame.render_widget(Paragraph::new(summary), summary_area);
    let note = o
        .notes
        .iter()
        .find(|n| n.starts_with("warning") && !rising)
        .cloned()
        .or_else(|| cs.first().map(|c| c.note.clone()))
        .unwrap_or_default();
    let style = if note.starts_with("warning") {
        pal.warn()
    } else {
        pal.dim()
    };
    frame.render_widget(Paragraph::new(Line::styled(note, style)), notes_area);
}

#[cfg(test)]
mod tests {
    use super::*;
    use studies::bundle::CurveStep;

    fn curve() -> Curve {
        let step = |time, estimate| CurveStep {
            time,
            estimate,
            lower: None,
            upper: None,
            n_risk: Count::Shown(100),
            n_event: Count::Shown(10),
            n_censor: Count::Shown(0),
        };
        Curve {
            group: "VL".into(),
            cause: "SAFETY".into(),
            estimator: "Aalen–Johansen cumulative incidence".into(),
            steps: vec![step(10.0, 0.2), step(50.0, 0.6)],
            ends_at: Some(400.0),
            note: String::new(),
        }
    }

    #[test]
    fn steps_duplicate_every_x_and_hold_to_the_end() {
        let p = step_points(&curve(), true);
        assert_eq!(
            p,
            vec![
                (0.0, 0.0),
                (10.0, 0.0),
                (10.0, 0.2),
                (50.0, 0.2),
                (50.0, 0.6),
                (400.0, 0.6)
            ]
        );
    }

    #[test]
    fn reads_median_and_estimates_off_the_curve() {
        let c = curve();
        assert_eq!(median(&c, true), Some(50.0));
        assert_eq!(at(&c, 5.0, true), Some(0.0));
        assert_eq!(at(&c, 90.0, true), Some(0.6));
        assert_eq!(at(&c, 500.0, true), None);
        assert_eq!(at_risk(&c, 0.0), Some(Count::Shown(100)));
        assert_eq!(at_risk(&c, 60.0), None);
    }

    #[test]
    fn ticks_fit_the_width() {
        let t = ticks(730.0, 50);
        assert!(t.len() <= 8 && t[0] == 0.0 && t.len() >= 2, "{t:?}");
    }
}
