//! Rendering: a pure function of the state ([`draw`]). The frame is a tab bar, the screen, a
//! status line (running work with its progress, or the last message) and a key hint. Overlays
//! (help, quit confirmation, a text prompt) draw on top. Every size renders, down to 1×1; below
//! 80×24 the screens say so and still show what fits.

mod cohort;
mod dashboard;
mod models;
mod outcomes;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use studies::bundle::Count;

use super::app::{App, Overlay, PromptKind, Screen, tab_label};
use super::help;
use super::i18n::W;
use super::palette::Palette;
use crate::disclosure::GatedCount;

/// Draws the whole interface.
pub fn draw(frame: &mut Frame, app: &App, pal: &Palette) {
    let area = frame.area();
    if area.width < 20 || area.height < 5 {
        frame.render_widget(
            Paragraph::new("workbench: enlarge the terminal").wrap(Wrap { trim: true }),
            area,
        );
        return;
    }
    let [top, body, status, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    tabs(frame, app, pal, top);
    match app.screen {
        Screen::Cohort => cohort::draw(frame, app, pal, body),
        Screen::Outcomes => outcomes::draw(frame, app, pal, body),
        Screen::Models => models::draw(frame, app, pal, body),
        Screen::Dashboard => dashboard::draw(frame, app, pal, body),
    }
    status_line(frame, app, pal, status);
    let hint = format!(
        " {}   {}",
        help::footer(app.screen, app.lang),
        app.lang.t(W::HelpHint)
    );
    frame.render_widget(Paragraph::new(hint).style(pal.dim()), footer);
    match &app.overlay {
        Overlay::None => {}
        Overlay::Help => help_overlay(frame, app, pal, area),
        Overlay::ConfirmQuit => {
            let text = app.lang.t(W::QuitConfirm);
            let w = (text.chars().count() as u16 + 4).min(area.width);
            let r = centered(area, w, 3);
            frame.render_widget(Clear, r);
            frame.render_widget(
                Paragraph::new(text)
                    .alignment(Alignment::Center)
                    .block(Block::bordered().border_style(pal.warn())),
                r,
            );
        }
        Overlay::Prompt(p) => {
            let label = app.lang.t(match p.kind {
                PromptKind::EditRule(_) => W::EditPrompt,
                PromptKind::AddRule => W::AddPrompt,
                PromptKind::Save => W::SavePrompt,
                PromptKind::Open => W::OpenPrompt,
                PromptKind::Export => W::ExportPrompt,
            });
            let h = 4.min(area.height);
            let r = Rect::new(area.x, area.bottom().saturating_sub(h + 1), area.width, h);
            frame.render_widget(Clear, r);
            let line = Line::from(vec![
                Span::styled(label, pal.title()),
                Span::raw(p.text.clone()),
                Span::styled("▏", pal.focus()),
            ]);
            frame.render_widget(
                Paragraph::new(vec![line, Line::styled("Enter ✓   Esc ✗", pal.dim())])
                    .wrap(Wrap { trim: false })
                    .block(Block::bordered().border_style(pal.focus())),
                r,
            );
        }
    }
}

fn tabs(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let mut spans = Vec::new();
    for (i, s) in app.screens().iter().enumerate() {
        let label = tab_label(i, *s, app.lang);
        spans.push(if *s == app.screen {
            Span::styled(
                label,
                pal.selected().add_modifier(ratatui::style::Modifier::BOLD),
            )
        } else {
            Span::raw(label)
        });
        spans.push(Span::raw(" "));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let right = format!(
        "{} {} · {} ",
        app.lang.t(W::Store),
        app.store_label,
        app.lang.code()
    );
    let free = (area.width as usize).saturating_sub(used);
    if right.chars().count() < free {
        spans.push(Span::raw(" ".repeat(free - right.chars().count())));
        spans.push(Span::styled(right, pal.dim()));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

const SPINNER: [&str; 8] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧"];

fn status_line(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let line = if let Some(job) = app.jobs.last() {
        let spin = SPINNER[(app.ticks as usize) % SPINNER.len()];
        let mut text = format!("{spin} {} {}", app.lang.t(W::Working), job.label);
        if let Some((done, total, msg)) = &job.progress {
            text.push_str(&format!(" [{done}/{total}] {msg}"));
        }
        if app.jobs.len() > 1 {
            text.push_str(&format!(" (+{})", app.jobs.len() - 1));
        }
        text.push_str("  — Esc ✗");
        Line::styled(text, pal.focus())
    } else if !app.status.is_empty() {
        Line::raw(app.status.clone())
    } else {
        Line::styled(
            format!("k = {} · {}", app.k_screen, app.lang.t(W::GateNote)),
            pal.dim(),
        )
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn help_overlay(frame: &mut Frame, app: &App, pal: &Palette, area: Rect) {
    let list = help::bindings(app.screen, app.mode);
    let mut lines = vec![Line::styled(
        format!("{} — {}", app.lang.t(W::Keys), app.screen.title(app.lang)),
        pal.title(),
    )];
    for b in &list {
        lines.push(Line::from(vec![
            Span::styled(format!("{:<14}", b.keys), pal.focus()),
            Span::raw(b.text(app.lang)),
        ]));
    }
    lines.push(Line::styled(app.lang.t(W::Close), pal.dim()));
    let h = (lines.len() as u16 + 2).min(area.height);
    let w = 72.min(area.width);
    let r = centered(area, w, h);
    frame.render_widget(Clear, r);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(app.lang.t(W::Help))
                .border_style(pal.focus()),
        ),
        r,
    );
}

/// A rectangle of `w`×`h` centred in `area` (clipped to it).
pub fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// A pane's block: bold border when focused.
pub fn pane<'a>(title: String, focused: bool, pal: &Palette) -> Block<'a> {
    Block::bordered()
        .title(title)
        .border_style(if focused { pal.focus() } else { Style::new() })
}

/// A gated count as printed: the value, `<k`, or `x`.
pub fn gated(c: GatedCount, k: u64) -> String {
    match c {
        GatedCount::Shown(v) => thousands(v),
        GatedCount::BelowK => format!("<{k}"),
        GatedCount::Hidden => "x".into(),
    }
}

/// A bundle count as printed.
pub fn count(c: Count, k: u64) -> String {
    match c {
        Count::Shown(v) => thousands(v),
        Count::BelowK => format!("<{k}"),
        Count::Hidden => "x".into(),
    }
}

/// 12345 -> "12 345" (thin grouping readable in every language).
pub fn thousands(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// Cuts `s` to `w` characters, with an ellipsis when cut.
pub fn fit(s: &str, w: usize) -> String {
    if s.chars().count() <= w {
        s.to_string()
    } else if w == 0 {
        String::new()
    } else {
        let mut t: String = s.chars().take(w - 1).collect();
        t.push('…');
        t
    }
}

/// An optional number with `d` decimals, or a dash.
pub fn num(v: Option<f64>, d: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.d$}"),
        _ => "–".into(),
    }
}

/// A p-value: `<0.001` below, else three decimals.
pub fn pval(p: Option<f64>) -> String {
    match p {
        Some(p) if p.is_finite() && p < 0.001 => "<0.001".into(),
        Some(p) if p.is_finite() => format!("{p:.3}"),
        _ => "–".into(),
    }
}

/// A sparkline of gated counts as text (suppressed years show as a gap).
pub fn spark(values: &[GatedCount]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().filter_map(|v| v.value()).max().unwrap_or(0);
    values
        .iter()
        .map(|v| match v.value() {
            Some(x) if max > 0 => BARS[((x as f64 / max as f64) * 7.0).round() as usize],
            Some(_) => BARS[0],
            None => '·',
        })
        .collect()
}
