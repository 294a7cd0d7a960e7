//! Calendar arithmetic of the generator: dates as days since 1970-01-01 (DuckDB's DATE), birth
//! months, ISO text.

use chrono::{Datelike, NaiveDate};

/// Days from 0001-01-01 (CE day 1) to 1970-01-01.
const EPOCH_CE: i32 = 719_163;

/// Days since 1970-01-01 of a calendar date, if it exists.
pub fn ymd(y: i32, m: u32, d: u32) -> Option<i32> {
    NaiveDate::from_ymd_opt(y, m, d).map(|x| x.num_days_from_ce() - EPOCH_CE)
}

/// Parses `YYYY-MM-DD`.
pub fn parse_iso(s: &str) -> Result<i32, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|x| x.num_days_from_ce() - EPOCH_CE)
        .map_err(|e| format!("`{s}` is not a date YYYY-MM-DD ({e})"))
}

fn naive(days: i32) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt(days + EPOCH_CE).unwrap_or(NaiveDate::MIN)
}

/// ISO text `YYYY-MM-DD`.
pub fn iso(days: i32) -> String {
    naive(days).format("%Y-%m-%d").to_string()
}

/// A month as a running count: year * 12 + (month - 1).
pub fn month_index(days: i32) -> i32 {
    let d = naive(days);
    d.year() * 12 + d.month0() as i32
}

/// `YYYY-MM` of a month index.
pub fn ym_text(month_index: i32) -> String {
    format!(
        "{:04}-{:02}",
        month_index.div_euclid(12),
        month_index.rem_euclid(12) + 1
    )
}

/// The first day of a month index, as days since 1970-01-01.
pub fn first_of_month(month_index: i32) -> i32 {
    ymd(
        month_index.div_euclid(12),
        (month_index.rem_euclid(12) + 1) as u32,
        1,
    )
    .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() -> Result<(), String> {
        assert_eq!(ymd(1970, 1, 1), Some(0));
        assert_eq!(parse_iso("2025-06-30")?, 20_269);
        assert_eq!(iso(20_269), "2025-06-30");
        let m = month_index(parse_iso("2010-03-17")?);
        assert_eq!(ym_text(m), "2010-03");
        assert_eq!(iso(first_of_month(m + 18 * 12)), "2028-03-01");
        assert!(parse_iso("2025-02-30").is_err());
        Ok(())
    }
}
