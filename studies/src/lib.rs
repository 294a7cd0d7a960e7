//! The case-record schema, its code lists and (later) study protocols compiled to SQL.
//! No I/O beyond reading a protocol file; no dependency on DuckDB.

pub mod codes;
pub mod schema;
