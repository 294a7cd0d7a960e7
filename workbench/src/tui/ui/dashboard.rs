//! The manager's dashboard: one tile per community and the total (reports, unique children,
//! median days to safety, 12-month recurrence, recovery, a sparkline of children per entry
//! year), a table per centre and one per entry year. Gated aggregates only.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Row, Sparkline, Table, TableState};

use super::{fit, gated, pane, spark};
use crate::tui::app::{App, JobKind};
use crate::tui::dashboard_data::{DashboardData, Tile};
use crate::tui::i18n::{Lang, W};
use crate::tui::palette::Palette;

pub fn draw(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let l = app.lang;
    let Some(d) = &app.dashboard else {
        let msg = if app.job(&JobKind::Dashboard).is_some() {
            format!("{}…", l.t(W::Running))
        } else {
            format!("{} — {}", l.t(W::NoResults), l.t(W::PressRun))
        };
        let block = pane(format!(" {} ", l.t(W::Dashboard)), true, pal);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(msg), inner);
        return;
    };
    let tile_h = 9.min(area.height / 2).max(3);
    let [tiles_area, rest, note] = Layout::vertical([
        Constraint::Length(tile_h),
        Constraint::Min(0),
        Constraint::Length(1),
    ])
    .areas(area);
    let cols = Layout::horizontal([Constraint::Ratio(1, 3); 3]).split(tiles_area);
    for (i, t) in d.tiles.iter().enumerate().take(3) {
        tile(frame, l, pal, cols[i], d, t, i);
    }
    let [centres_area, years_area] =
        Layout::horizontal([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(rest);
    centres(frame, app, pal, centres_area, d);
    years(frame, app, pal, years_area, d);
    frame.render_widget(
        Paragraph::new(Line::styled(
            format!(
                "{} · {} {} ({}) · k={}",
                l.t(W::ManagerOnly),
                l.t(W::Release),
                d.release,
                d.extract_date,
                d.k
            ),
            pal.dim(),
        )),
        note,
    );
}

fn community_name(key: &str, l: Lang) -> String {
    match key {
        "VL" => "VL (VK)".into(),
        "FWB" => "FWB (SOS Enfants)".into(),
        _ => l.t(W::Total).to_string(),
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |x| format!("{:.1}%", x * 100.0))
}

fn tile(
    frame: &mut Frame,
    l: Lang,
    pal: &Palette,
    area: Rect,
    d: &DashboardData,
    t: &Tile,
    i: usize,
) {
    let block =
        pane(format!(" {} ", community_name(&t.key, l)), false, pal).border_style(pal.series(i));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let row = |name: &str, value: String| {
        let vw = value.chars().count();
        let nw = w.saturating_sub(vw + 1);
        Line::raw(format!("{:<nw$} {value}", fit(name, nw)))
    };
    let lines = vec![
        row(l.t(W::Reports), gated(t.reports, d.k)),
        row(l.t(W::UniqueChildren), gated(t.children, d.k)),
        row(
            l.t(W::TimeToSafety),
            t.median_safety
                .map_or_else(|| "–".into(), |m| format!("{m:.0}")),
        ),
        row(l.t(W::Recurrence12), pct(t.recurrence)),
        row(l.t(W::RecoveryRate), pct(t.recovery)),
    ];
    let n = lines.len() as u16;
    let [text, sparkline, _] = Layout::vertical([
        Constraint::Length(n.min(inner.height)),
        Constraint::Length(1),
        Constraint::Min(0),
    ])
    .areas(inner);
    frame.render_widget(Paragraph::new(lines), text);
    if sparkline.height > 0 {
        let data: Vec<Option<u64>> = t.children_by_year.iter().map(|c| c.value()).collect();
        frame.render_widget(
            Sparkline::default()
                .data(data)
                .style(pal.series(i))
                .absent_value_symbol("·"),
            sparkline,
        );
    }
}

fn centres(frame: &mut Frame, app: &App, pal: &Palette, area: Rect, d: &DashboardData) {
    let l = app.lang;
    let block = pane(format!(" {} ", l.t(W::Centre)), app.pane == 0, pal);
    let header = Row::new(vec![
        l.t(W::Centre).to_string(),
        fit(l.t(W::Reports), 8),
        fit(l.t(W::Children), 8),
        fit(l.t(W::Median), 7),
        l.t(W::Trend).to_string(),
    ])
    .style(pal.dim());
    let rows: Vec<Row> = d
        .centres
        .iter()
        .map(|c| {
            let name = studies::codes::centre(&c.id)
                .map_or_else(|| c.id.clone(), |x| l.label(&x.labels).to_string());
            Row::new(vec![
                name,
                gated(c.reports, d.k),
                gated(c.children, d.k),
                c.median_safety
                    .map_or_else(|| "–".into(), |m| format!("{m:.0}")),
                spark(&c.children_by_year),
            ])
        })
        .collect();
    let widths = [
        Constraint::Min(10),
        Constraint::Length(8),
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Length(d.years.len().clamp(4, 12) as u16),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(pal.selected());
    let mut state = TableState::default().with_selected(Some(app.dash_sel));
    frame.render_stateful_widget(table, area, &mut state);
}

fn years(frame: &mut Frame, app: &App, pal: &Palette, area: Rect, d: &DashboardData) {
    let l = app.lang;
    let block = pane(
        format!(" {} · {} ", l.t(W::EntryYear), l.t(W::Children)),
        app.pane == 1,
        pal,
    );
    let header = Row::new(vec![
        String::new(),
        "VL".into(),
        "FWB".into(),
        fit(l.t(W::Total), 7),
    ])
    .style(pal.dim());
    let get = |key: &str, i: usize| {
        d.tiles
            .iter()
            .find(|t| t.key == key)
            .and_then(|t| t.children_by_year.get(i).copied())
            .map_or_else(|| "–".into(), |c| gated(c, d.k))
    };
    let rows: Vec<Row> = d
        .years
        .iter()
        .enumerate()
        .map(|(i, y)| {
            Row::new(vec![
                y.clone(),
                get("VL", i),
                get("FWB", i),
                get("total", i),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(7),
        Constraint::Length(7),
    ];
    let offset = if app.pane == 1 {
        app.scroll as usize
    } else {
        0
    };
    let mut state = TableState::default().with_offset(offset.min(d.years.len().saturating_sub(1)));
    frame.render_stateful_widget(
        Table::new(rows, widths).header(header).block(block),
        area,
        &mut state,
    );
}
