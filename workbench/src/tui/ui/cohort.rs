//! The researcher's cohort screen: the entry window and rules on the left (switch, edit,
//! nudge), the gated attrition waterfall and the cohort size on the right.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use studies::protocol::EntryKind;

use super::{fit, gated, pane};
use crate::disclosure::GatedCount;
use crate::tui::app::{App, JobKind, criterion_text};
use crate::tui::i18n::W;
use crate::tui::palette::Palette;

pub fn draw(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    rules(frame, app, pal, left);
    attrition(frame, app, pal, right);
}

fn rules(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let l = app.lang;
    let block = pane(format!(" {} ", l.t(W::Rules)), app.pane == 0, pal);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let p = &app.protocol;
    let mut lines = Vec::new();
    let entry = format!(
        "▸ {} {} {}…{}",
        l.t(W::Entry),
        match p.cohort.entry {
            EntryKind::First => "first",
            EntryKind::Every => "every",
        },
        p.cohort.entry_from,
        p.cohort.entry_to
    );
    lines.push(styled_row(fit(&entry, w), app.rule_sel == 0, pal));
    for (i, r) in app.rules.iter().enumerate() {
        let mark = if r.enabled { "[x]" } else { "[ ]" };
        let verb = if r.rule.exclude {
            format!("{} ", l.t(W::Exclude))
        } else {
            String::new()
        };
        let off = if r.enabled {
            String::new()
        } else {
            format!(" ({})", l.t(W::Off))
        };
        let text = fit(&format!("{mark} {verb}{}{off}", r.rule.name), w);
        let mut line = styled_row(text, app.rule_sel == i + 1, pal);
        if !r.enabled && app.rule_sel != i + 1 {
            line = line.style(pal.dim());
        }
        lines.push(line);
    }
    // The selected rule's criterion, below the list.
    let detail = if app.rule_sel == 0 {
        crate::tui::app::entry_text(p)
    } else {
        app.rules
            .get(app.rule_sel - 1)
            .map(|r| criterion_text(&r.rule))
            .unwrap_or_default()
    };
    let list_h = inner.height.saturating_sub(3);
    let skip = (app.rule_sel + 1).saturating_sub(list_h as usize);
    let shown: Vec<Line> = lines.into_iter().skip(skip).take(list_h as usize).collect();
    let [list, det] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(3.min(inner.height))])
            .areas(inner);
    frame.render_widget(Paragraph::new(shown), list);
    frame.render_widget(
        Paragraph::new(Line::styled(detail, pal.dim())).wrap(Wrap { trim: true }),
        det,
    );
}

fn styled_row(text: String, selected: bool, pal: &Palette) -> Line<'static> {
    if selected {
        Line::styled(text, pal.selected())
    } else {
        Line::raw(text)
    }
}

fn attrition(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let l = app.lang;
    let counting = app.job(&JobKind::Attrition).is_some();
    let title = match &app.attrition {
        Some(a) if !counting => format!(
            " {} · k={} · {} {} ms ",
            l.t(W::Attrition),
            a.k,
            l.t(W::AttritionTime),
            a.millis
        ),
        _ => format!(" {} · {}… ", l.t(W::Attrition), l.t(W::Running)),
    };
    let block = pane(title, app.pane == 1, pal);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(a) = &app.attrition else {
        frame.render_widget(Paragraph::new(l.t(W::Working)).style(pal.dim()), inner);
        return;
    };
    let w = inner.width as usize;
    let k = a.k;
    let top = a
        .rows
        .first()
        .and_then(|r| r.children.value())
        .unwrap_or(0)
        .max(1);
    let label_w = (w * 2 / 5).clamp(6, 28);
    let num_w = 8;
    let removed_w = 7;
    let bar_w = w.saturating_sub(label_w + num_w + removed_w + 3);
    let mut lines = Vec::new();
    let head = format!(
        "{:<label_w$} {:>num_w$} {:<bar_w$} {:>removed_w$}",
        "",
        fit(l.t(W::Children), num_w),
        "",
        fit(l.t(W::Removed), removed_w)
    );
    lines.push(Line::styled(head, pal.dim()));
    for (i, r) in a.rows.iter().enumerate() {
        let label = if i == 0 {
            l.t(W::Entry).to_string()
        } else {
            r.label.clone()
        };
        let n = gated(r.children, k);
        let removed = match r.removed {
            Some(GatedCount::Shown(0)) | None => String::new(),
            Some(c) => format!("−{}", gated(c, k)),
        };
        let filled = r
            .children
            .value()
            .map_or(0.0, |v| v as f64 / top as f64 * bar_w as f64);
        let full = filled.floor() as usize;
        let mut bar = "█".repeat(full.min(bar_w));
        let frac = filled - full as f64;
        if full < bar_w && frac > 0.0 {
            const PARTS: [&str; 8] = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
            bar.push_str(PARTS[((frac * 8.0) as usize).min(7)]);
        }
        let pad = bar_w.saturating_sub(bar.chars().count());
        lines.push(Line::from(vec![
            Span::raw(format!("{:<label_w$} {:>num_w$} ", fit(&label, label_w), n)),
            Span::styled(bar, pal.bar()),
            Span::raw(" ".repeat(pad)),
            Span::styled(format!(" {removed:>removed_w$}"), pal.bar_removed()),
        ]));
    }
    lines.push(Line::raw(""));
    if let Some(last) = a.rows.last() {
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", l.t(W::CohortSize)), pal.title()),
            Span::styled(
                format!("{} {}", gated(last.children, k), l.t(W::Children)),
                pal.title(),
            ),
            Span::raw(format!(
                " · {} {}",
                gated(last.episodes, k),
                l.t(W::Episodes)
            )),
        ]));
    }
    let disabled = app.rules.iter().filter(|r| !r.enabled).count();
    if disabled > 0 {
        lines.push(Line::styled(
            format!(
                "{disabled} {} {}",
                l.t(W::Rules).to_lowercase(),
                l.t(W::Off)
            ),
            pal.dim(),
        ));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}
