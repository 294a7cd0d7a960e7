//! Benchmark of Kaplan–Meier and the log-rank test on 10 million rows: integer-day times
//! 1–3650 (heavy ties), about two thirds events (exponential survival, uniform censoring), two groups, a fixed seed. Goal: each in about
//! half a second, with working memory below twice the input columns.
//!
//! Before the timings it reports, once, the peak memory each estimator adds over the resident
//! input columns (Linux: `/proc/self/clear_refs` resets the high-water mark).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use models::km::{FollowUp, KaplanMeierOptions, kaplan_meier, kaplan_meier_by_group};
use models::logrank::{LogRankOptions, log_rank_test};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const ROWS: usize = 10_000_000;

struct Columns {
    time: Vec<f64>,
    event: Vec<bool>,
    group: Vec<u32>,
}

/// Group 1 has a slightly higher hazard; follow-up is censored uniformly on 1–3650 days.
fn columns() -> Columns {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut c = Columns {
        time: Vec::with_capacity(ROWS),
        event: Vec::with_capacity(ROWS),
        group: Vec::with_capacity(ROWS),
    };
    for _ in 0..ROWS {
        let group = u32::from(rng.random::<bool>());
        let scale = if group == 1 { 1200.0 } else { 1400.0 };
        let u: f64 = rng.random::<f64>();
        let survival_days = (-scale * (1.0 - u).ln()).ceil().max(1.0);
        let censor_days = f64::from(rng.random_range(1u32..=3650));
        let event = survival_days <= censor_days;
        c.time.push(if event { survival_days } else { censor_days });
        c.event.push(event);
        c.group.push(group);
    }
    c
}

/// Peak resident memory (kB) since the last reset, and a reset; `None` off Linux.
fn peak_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn current_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn report_memory(name: &str, columns_mb: f64, run: impl FnOnce()) {
    let before = current_kb();
    if !reset_peak() {
        return;
    }
    let start = Instant::now();
    run();
    let elapsed = start.elapsed();
    if let (Some(before), Some(peak)) = (before, peak_kb()) {
        let extra_mb = peak.saturating_sub(before) as f64 / 1024.0;
        eprintln!(
            "{name}: one run {elapsed:.2?}; peak memory over the resident input {extra_mb:.1} MB \
             (input columns {columns_mb:.0} MB, ratio {:.2})",
            extra_mb / columns_mb
        );
    }
}

fn benches(c: &mut Criterion) {
    let data = columns();
    let columns_mb = (ROWS * (8 + 1 + 4)) as f64 / (1024.0 * 1024.0);
    let events = data.event.iter().filter(|&&e| e).count() as f64 / ROWS as f64;
    eprintln!(
        "{ROWS} rows, {:.1}% events, input columns {columns_mb:.0} MB",
        100.0 * events
    );
    let follow_up = FollowUp::new(&data.time, &data.event);
    let km_options = KaplanMeierOptions::default();
    let lr_options = LogRankOptions::default();

    report_memory("kaplan_meier", columns_mb, || {
        black_box(kaplan_meier(&follow_up, &km_options).expect("fit"));
    });
    report_memory("kaplan_meier_by_group", columns_mb, || {
        black_box(kaplan_meier_by_group(&follow_up, &data.group, &km_options).expect("fit"));
    });
    report_memory("log_rank_test", columns_mb, || {
        black_box(log_rank_test(&follow_up, &data.group, None, &lr_options).expect("test"));
    });

    let mut group = c.benchmark_group("nonparametric_10m_rows");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10));
    group.bench_function("kaplan_meier", |b| {
        b.iter(|| black_box(kaplan_meier(&follow_up, &km_options).expect("fit")))
    });
    group.bench_function("kaplan_meier_by_group", |b| {
        b.iter(|| {
            black_box(kaplan_meier_by_group(&follow_up, &data.group, &km_options).expect("fit"))
        })
    });
    group.bench_function("log_rank_two_groups", |b| {
        b.iter(|| {
            black_box(log_rank_test(&follow_up, &data.group, None, &lr_options).expect("test"))
        })
    });
    group.finish();
}

criterion_group!(nonparametric, benches);
criterion_main!(nonparametric);
