//! Integrity checks of a data release, shared by the importer (on its staging tables, before
//! anything is written) and by anyone who writes a release directly, such as the synthetic
//! generator (`check_release`, on the store's tables, typically before its commit).
//!
//! `check_release` checks: code lists (`Rule::OneOf`, `Rule::CodeList`), pseudonym and
//! year-month formats, birthday dates on the first of a month, keys and unique column sets,
//! references within the release, date order, and event agreement (events that restate report,
//! intervention, placement and episode rows agree with them, both ways). Rows are reported by
//! their position in key order, never by value.

mod checks;
pub mod report;

use std::collections::BTreeMap;

use duckdb::{Connection, params};
use studies::schema;

pub(crate) use checks::{Checker, Pred, Scope, ident, integrity, lit, staged_name};
pub use report::{Finding, MAX_LISTED, RowCounting, RuleId, ValidationReport};

/// Why `check_release` refused a release.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The release breaks integrity rules; the report says where.
    #[error("release is not valid: {0}")]
    Invalid(ValidationReport),
    /// The checks could not run.
    #[error("checking the release failed: {0}")]
    Db(#[from] duckdb::Error),
}

/// Runs the integrity checks on release `release_id` as stored (committed or not) on `conn`.
/// Ok when the release is valid; the report lists the first problems and counts all of them.
pub fn check_release(conn: &Connection, release_id: &str) -> Result<(), CheckError> {
    let scope = Scope::Release {
        release_id: release_id.to_string(),
    };
    let mut ch = Checker::new(conn, &scope);
    let registered: i64 = conn.query_row(
        "SELECT count(*) FROM main.data_release WHERE release_id = ?",
        params![release_id],
        |r| r.get(0),
    )?;
    if registered != 1 {
        let t = schema::table("data_release").unwrap_or(&schema::TABLES[0]);
        ch.add(
            t,
            RuleId::ReleaseRows,
            None,
            format!(
                "holds {registered} rows for this release; it needs exactly one (release_id, extract_date, source_system, pseudonym_scheme, ...)"
            ),
        );
    }
    integrity(&mut ch)?;
    let mut report = ch.report;
    key_order_rows(conn, release_id, &mut report)?;
    if report.is_empty() {
        Ok(())
    } else {
        Err(CheckError::Invalid(report))
    }
}

/// Replaces the rowids of listed findings by row numbers in key order.
fn key_order_rows(
    conn: &Connection,
    release_id: &str,
    report: &mut ValidationReport,
) -> duckdb::Result<()> {
    let mut wanted: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for f in report.findings() {
        if let Some(r) = f.row {
            wanted.entry(f.table.clone()).or_default().push(r);
        }
    }
    let mut numbered: BTreeMap<(String, u64), u64> = BTreeMap::new();
    for (tname, rowids) in wanted {
        let Some(t) = schema::table(&tname) else {
            continue;
        };
        let key: Vec<String> = t
            .key
            .iter()
            .filter(|k| **k != schema::RELEASE_ID)
            .map(|k| ident(k))
            .collect();
        let ids: Vec<String> = rowids.iter().map(u64::to_string).collect();
        let sql = format!(
            "SELECT _loc, n FROM (SELECT rowid AS _loc, row_number() OVER (ORDER BY {}, rowid) AS n \
             FROM main.{} WHERE release_id = ?) AS x WHERE _loc IN ({})",
            key.join(", "),
            t.name,
            ids.join(", ")
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params![release_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })?;
        for row in rows {
            let (loc, n) = row?;
            numbered.insert(
                (tname.clone(), u64::try_from(loc).unwrap_or(0)),
                u64::try_from(n).unwrap_or(0),
            );
        }
    }
    for f in report.findings_mut() {
        if let Some(r) = f.row {
            f.row = numbered.get(&(f.table.clone(), r)).copied();
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn an_unregistered_release_is_reported_and_an_empty_one_is_otherwise_clean() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_or_create(&dir.path().join("v.duckdb")).unwrap();
        let Err(CheckError::Invalid(report)) = check_release(s.conn(), "nope") else {
            panic!("an unknown release passed");
        };
        assert_eq!(report.total(), 1, "{report}");
        assert_eq!(report.count(RuleId::ReleaseRows), 1);
        s.conn()
            .execute(
                "INSERT INTO data_release VALUES ('r', DATE '2025-06-30', 'OTHER', 's', NULL, false, NULL, NULL, NULL)",
                [],
            )
            .unwrap();
        check_release(s.conn(), "r").unwrap();
        // A child with a bad pseudonym and an unknown sex, reported by key order.
        s.conn()
            .execute_batch(
                "INSERT INTO child (release_id, child_pid, family_pid, sex, birth_ym, expected_birth_ym, date_of_18th_birthday) VALUES ('r', 'bbbbbbbbbbbbbbbbbbbb', NULL, 'Q', NULL, NULL, NULL), \
                 ('r', '12345678901234567', NULL, 'F', '2014-13', NULL, DATE '2032-02-03')",
            )
            .unwrap();
        let Err(CheckError::Invalid(report)) = check_release(s.conn(), "r") else {
            panic!("a bad child passed");
        };
        assert_eq!(report.count(RuleId::CodeList), 1, "{report}");
        assert_eq!(report.count(RuleId::PseudonymFormat), 1, "{report}");
        assert_eq!(report.count(RuleId::YearMonth), 1, "{report}");
        assert_eq!(report.count(RuleId::IdBirthDate), 1, "{report}");
        let sex = report
            .findings()
            .iter()
            .find(|f| f.rule == RuleId::CodeList)
            .unwrap();
        assert_eq!((sex.row, sex.source.as_str()), (Some(2), "table child"));
        let text = report.to_string();
        assert!(!text.contains("12345678901234567"), "{text}");
        assert!(text.contains("key columns"), "{text}");
    }
}
