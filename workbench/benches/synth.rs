//! Throughput of the synthetic generator into a DuckDB store (release profile: this compiles
//! DuckDB at full optimisation, ~45 min cold on 2 cores, so CI never builds it).
//!
//! `cargo bench -p workbench --bench synth`; WORKBENCH_BENCH_CHILDREN sets N (default 100,000).

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use workbench::store::Store;
use workbench::synth::{SynthOptions, config::Scenario, generate_into_store};

fn synth(c: &mut Criterion) {
    let children: u64 = std::env::var("WORKBENCH_BENCH_CHILDREN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut group = c.benchmark_group("synth");
    group.sample_size(10);
    group.throughput(Throughput::Elements(children));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut run = 0_u64;
    group.bench_function(format!("default scenario, {children} children"), |b| {
        b.iter(|| {
            run += 1;
            let path = dir.path().join(format!("bench-{run}.duckdb"));
            let mut store = Store::open_or_create(&path).expect("store");
            let mut opts =
                SynthOptions::new(Scenario::Default, children, 7, None).expect("options");
            opts.progress = false;
            let summary = generate_into_store(&mut store, &opts).expect("synth");
            drop(store);
            let _ = std::fs::remove_file(&path);
            summary
        });
    });
    group.finish();
}

criterion_group!(benches, synth);
criterion_main!(benches);
