//! Rendering each screen of the terminal UI into a 200×60 buffer (ratatui's TestBackend), with
//! curves of 2,000 published steps per group and a dashboard of every centre over 20 entry
//! years (goal: well under 16 ms per frame); and the live recount of the attrition waterfall
//! after a rule is switched off, on a store of 100,000 children (goal: under 200 ms).
//!
//! `cargo bench -p workbench --bench tui` (a release build: compiles DuckDB at full optimisation
//! once, see ARCHITECTURE.md "Build notes"), or `cargo bench --workspace --profile dev --bench tui`
//! to measure the build `cargo run` uses. WORKBENCH_BENCH_TUI_STORE names an existing store (else
//! one of 100,000 children is generated once into $HOME/.cache/workbench-bench/).

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use studies::Protocol;
use workbench::store::Store;
use workbench::tui::app::{Action, CurveKind, Mode, Screen, update};
use workbench::tui::fixtures;
use workbench::tui::i18n::Lang;
use workbench::tui::palette::Palette;
use workbench::tui::ui;
use workbench::tui::worker::CohortConnection;

mod common;

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

/// A cohort a researcher edits on the cohort screen: every kind of rule that reads other tables.
const COHORT: &str = r#"
title = "attrition bench"
[cohort]
entry = "first"
entry_from = "2015-01-01"
entry_to = "2023-12-31"
[[cohort.rule]]
name = "born before entry"
prenatal = false
[[cohort.rule]]
name = "aged 0-17 at entry"
age_at_entry_years = { min = 0, max = 17 }
[[cohort.rule]]
name = "physical abuse or neglect"
forms = ["PHYS", "NEGL"]
[[cohort.rule]]
name = "no report in the year before"
washout_days = 365
[[cohort.rule]]
name = "partner violence excluded"
contexts = ["PARTNER_VIOLENCE"]
exclude = true
[groups]
by = "community"
levels = ["VL", "FWB"]
[[outcome]]
id = "P1.1"
"#;

/// What the cohort screen asks of a worker when a rule is switched off or back on.
fn attrition(c: &mut Criterion) {
    let store = Store::open(&common::store("WORKBENCH_BENCH_TUI_STORE", 100_000)).expect("store");
    let release = store
        .default_release()
        .expect("release")
        .expect("a release")
        .release_id;
    let all = Protocol::parse("bench.toml", COHORT).expect("protocol");
    let mut washout_off = all.clone();
    washout_off
        .cohort
        .rules
        .retain(|r| r.washout_days.is_none());
    let connection = || CohortConnection::new(store.conn().try_clone().expect("connection"));
    let mut group = c.benchmark_group("tui-attrition-100k");
    group.sample_size(20);
    // The first count on opening the cohort screen: the entry episodes are found, then counted.
    group.bench_function("first count", |b| {
        b.iter(|| {
            connection()
                .attrition(all.clone(), &release, 5)
                .expect("attrition")
        })
    });
    // A rule switched off and on again: the entry episodes are kept, the rules re-evaluated.
    let mut cohort = connection();
    let mut on = false;
    group.bench_function("rule switched", |b| {
        b.iter(|| {
            on = !on;
            let p = if on { &all } else { &washout_off };
            cohort.attrition(p.clone(), &release, 5).expect("attrition")
        })
    });
    group.finish();
}

criterion_group!(benches, screens, attrition);
criterion_main!(benches);
