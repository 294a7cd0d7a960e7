//! Survival and comparison statistics on plain columns (slices and `ndarray`): no I/O, no DuckDB.
//!
//! Every estimator here is checked against R's `survival` package through committed fixtures
//! (`models/tests/r/*.R` regenerates them) and against known truth in simulation tests.

pub mod dist;
pub mod error;

// Non-parametric estimators.
pub mod aalen_johansen;
pub mod km;
pub mod logrank;
pub mod mcf;
pub mod rmst;

// Regression.
pub mod cox;
pub mod design;
pub mod finegray;

// Comparison of groups: propensity score, weighting, matching, balance, adjusted outcomes.
pub mod adjusted;
pub mod balance;
pub mod diagnostics;
pub mod matching;
pub mod propensity;
pub mod weighting;

pub use error::ModelError;
/// The `ndarray` version the estimators take, for callers that build their own matrices.
pub use ndarray;
