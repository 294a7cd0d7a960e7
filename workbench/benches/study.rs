//! Cohort and every outcome dataset of a study over a large store: the SQL the study compiler
//! emits, run by DuckDB (models not included). Goal: 1M children in under 5 s.
//!
//! `cargo bench --workspace --bench study`. WORKBENCH_BENCH_STORE names an existing synthetic
//! store (else one of WORKBENCH_BENCH_CHILDREN children, default 1,000,000, is generated once into
//! $HOME/.cache/workbench-bench/, which takes minutes). WORKBENCH_BENCH_MEMORY_LIMIT sets DuckDB's
//! memory limit (default: the store's, 4GB).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use studies::Protocol;
use workbench::store::Store;
use workbench::study::PreparedStudy;

mod common;

const PROTOCOL: &str = include_str!("every-outcome.toml");

fn store_path() -> PathBuf {
    let children: u64 = std::env::var("WORKBENCH_BENCH_CHILDREN")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    common::store("WORKBENCH_BENCH_STORE", children)
}

fn study(c: &mut Criterion) {
    if let Ok(limit) = std::env::var("WORKBENCH_BENCH_MEMORY_LIMIT") {
        workbench::store::set_memory_limit(&limit);
    }
    let path = store_path();
    let store = Store::open(&path).expect("store");
    let protocol = Protocol::parse("bench.toml", PROTOCOL).expect("protocol");
    let prepared =
        PreparedStudy::new(&store, protocol, PROTOCOL.as_bytes(), "bench.toml").expect("prepare");
    let mut group = c.benchmark_group("study");
    group.sample_size(10);
    group.bench_function("cohort, attrition and 14 outcome datasets", |b| {
        b.iter(|| {
            prepared.build_cohort(store.conn()).expect("cohort");
            let attrition = prepared.attrition(store.conn()).expect("attrition");
            let cohort = workbench::study::fetch_cohort(store.conn(), &prepared.compiled)
                .expect("cohort rows");
            let mut rows = 0;
            for o in &prepared.compiled.outcomes {
                let d = workbench::study::fetch_outcome(store.conn(), o, &cohort).expect("dataset");
                rows += d.len();
            }
            (attrition.len(), rows)
        });
    });
    group.finish();
}

criterion_group!(benches, study);
criterion_main!(benches);
