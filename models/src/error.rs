//! Typed errors of the estimators: each says what is wrong with which input, never a bare NaN.

use thiserror::Error;

/// What can go wrong when an estimator is given data or options.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum ModelError {
    /// Columns that must have one value per row differ in length.
    #[error("column `{column}` has {found} values, expected {expected} (one per row)")]
    LengthMismatch {
        column: String,
        expected: usize,
        found: usize,
    },
    /// A value outside what the estimator accepts (negative time, stop <= start, weight <= 0, ...).
    #[error("row {row}: {message}")]
    InvalidValue { row: usize, message: String },
    /// The data cannot support the model (no events, no rows, a single group, ...).
    #[error("{0}")]
    Unsupported(String),
    /// Newton-Raphson did not converge within the iteration limit.
    #[error(
        "the model did not converge in {iterations} iterations (last change in log-likelihood {last_change:.3e})"
    )]
    NotConverged { iterations: usize, last_change: f64 },
    /// A coefficient runs to infinity: the data separate the events on this covariate.
    #[error(
        "monotone likelihood: the coefficient of `{covariate}` runs to infinity (the events are perfectly separated on it); drop or collapse this covariate"
    )]
    MonotoneLikelihood { covariate: String },
    /// The design matrix is singular.
    #[error(
        "covariate `{covariate}` is collinear with the others (a linear combination of them); drop it"
    )]
    Collinear { covariate: String },
}
