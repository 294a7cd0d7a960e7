//! Rendering each screen of the terminal UI into a 200×60 buffer (ratatui's TestBackend), with
//! curves of 2,000 published steps per group and a dashboard of every centre over 20 entry
//! years. Goal: well under 16 ms per frame.
//!
//! `cargo bench -p workbench --bench tui` (a release build: compiles DuckDB at full optimisation
//! once, see ARCHITECTURE.md "Build notes").

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use workbench::tui::app::{Action, CurveKind, Mode, Screen, update};
use workbench::tui::fixtures;
use workbench::tui::i18n::Lang;
use workbench::tui::palette::Palette;
use workbench::tui::ui;

fn screens(c: &mut Criterion) {
    let mut app = fixtures::loaded(Mode::Full, Lang::En, 2_000);
    app.dashboard = Some(fixtures::dashboard(20));
    let palette = Palette::default();
    let mut group = c.benchmark_group("tui-render-200x60");
    for screen in Screen::ALL {
        let mut a = app.clone();
        a.screen = screen;
        let mut terminal = match Terminal::new(TestBackend::new(200, 60)) {
            Ok(t) => t,
            Err(e) => panic!("test terminal: {e}"),
        };
        group.bench_function(format!("{screen:?}"), |b| {
            b.iter(|| {
                let _ = terminal.draw(|f| ui::draw(f, &a, &palette));
            })
        });
    }
    let mut km = app.clone();
    km.screen = Screen::Outcomes;
    update(&mut km, Action::SwitchCurve);
    assert_eq!(km.curve, CurveKind::KaplanMeier);
    let mut terminal = match Terminal::new(TestBackend::new(200, 60)) {
        Ok(t) => t,
        Err(e) => panic!("test terminal: {e}"),
    };
    group.bench_function("Outcomes-KaplanMeier", |b| {
        b.iter(|| {
            let _ = terminal.draw(|f| ui::draw(f, &km, &palette));
        })
    });
    group.finish();
}

criterion_group!(benches, screens);
criterion_main!(benches);
