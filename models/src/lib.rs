//! Survival and comparison statistics on plain columns (slices and `ndarray`): no I/O, no DuckDB.
//!
//! Every estimator here is checked against R's `survival` package through committed fixtures
//! (`models/tests/r/*.R` regenerates them) and against known truth in simulation tests.

pub mod error;
pub mod dist;

// Non-parametric estimators.
pub mod km;
pub mod logrank;
pub mod aalen_johansen;
pub mod rmst;
pub mod mcf;

// Regression.
pub mod design;
pub mod cox;
pub mod finegray;

pub use error::ModelError;
