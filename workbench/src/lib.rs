//! The research workbench application: the case store (DuckDB), import, synthetic data, the
//! disclosure gate and the command line. The only crate that touches disk, network or terminal.

pub mod config;
pub mod disclosure;
pub mod export;
pub mod fit;
pub mod hash;
pub mod import;
pub mod info;
pub mod replicates;
pub mod store;
pub mod study;
pub mod synth;
pub mod tui;
pub mod validate;

/// jemalloc for Rust and (unprefixed) for DuckDB's C++ engine, as DuckDB's own Linux builds use:
/// large joins and sorts allocate and free far less expensively than with glibc's malloc.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
