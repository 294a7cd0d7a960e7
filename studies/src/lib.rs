//! The case-record schema and its code lists, study protocols (parsed, validated and compiled to
//! parameterised SQL), the outcome catalogue and the results-bundle types.
//! No I/O beyond reading a protocol file; no dependency on DuckDB.

pub mod bundle;
pub mod codes;
pub mod compile;
pub mod covariates;
pub mod outcomes;
pub mod protocol;
pub mod schema;

pub use protocol::{PrivacyPolicy, Protocol, ProtocolError};
