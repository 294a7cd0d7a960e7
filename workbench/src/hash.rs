//! The content hash of a data release: defined once, stamped on everything computed from it.
//!
//! Per table: the rows of the release in key order, every column but `release_id` encoded
//! canonically (a type tag, then the value: text as length + UTF-8 bytes, integers as i64
//! little-endian, reals by their IEEE-754 bit pattern, dates as days since 1970-01-01, booleans as
//! one byte; NULL has its own tag, so it differs from empty text), fed to SHA-256. The release's
//! content hash is SHA-256 over the names and hashes of the case tables and the release's
//! `data_release` row, in name order. Synthetic ground truth gets its own hash, the same way over
//! the `truth` tables (a real extract has none), so an exported and re-imported release keeps its
//! content hash.

use duckdb::types::ValueRef;
use duckdb::{Connection, params};
use sha2::{Digest, Sha256};
use studies::schema::{self, RELEASE_ID, Table, TableKind};

/// The hash of one release: per table, over the case tables, and over the truth tables; hex.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseHash {
    /// The content hash of the release (case tables).
    pub release: String,
    /// The hash of its synthetic ground truth (the empty tables' hash for a real extract).
    pub truth: String,
    pub tables: Vec<(String, String)>,
}

/// Computes the content hash of `release_id` (rows are streamed, never collected).
pub fn release_hash(conn: &Connection, release_id: &str) -> Result<ReleaseHash, duckdb::Error> {
    let mut per_table = Vec::new();
    let release = combined(conn, release_id, TableKind::Case, &mut per_table)?;
    let truth = combined(conn, release_id, TableKind::Truth, &mut per_table)?;
    Ok(ReleaseHash {
        release,
        truth,
        tables: per_table,
    })
}

fn combined(
    conn: &Connection,
    release_id: &str,
    kind: TableKind,
    per_table: &mut Vec<(String, String)>,
) -> Result<String, duckdb::Error> {
    // The release register row (extract date, source system, ...) is content of the release too.
    let mut tables: Vec<&Table> = schema::TABLES
        .iter()
        .filter(|t| t.kind == kind || (kind == TableKind::Case && t.kind == TableKind::Release))
        .collect();
    tables.sort_by_key(|t| t.qualified_name());
    let mut overall = Sha256::new();
    for t in tables {
        let h = table_hash(conn, t, release_id)?;
        let name = t.qualified_name();
        overall.update((name.len() as u64).to_le_bytes());
        overall.update(name.as_bytes());
        overall.update(h);
        per_table.push((name, hex::encode(h)));
    }
    Ok(hex::encode(overall.finalize()))
}

fn table_hash(conn: &Connection, t: &Table, release_id: &str) -> Result<[u8; 32], duckdb::Error> {
    let cols: Vec<&str> = t
        .columns
        .iter()
        .map(|c| c.name)
        .filter(|c| *c != RELEASE_ID)
        .collect();
    let keys: Vec<&str> = t.key.iter().copied().filter(|c| *c != RELEASE_ID).collect();
    // Order by every column after the key, so that even rows with a duplicated key hash deterministically.
    let mut order = keys.clone();
    order.extend(cols.iter().filter(|c| !keys.contains(c)));
    let sql = format!(
        "SELECT {} FROM {} WHERE release_id = ? ORDER BY {}",
        cols.join(", "),
        t.qualified_name(),
        order
            .iter()
            .map(|c| format!("{c} NULLS FIRST"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut stmt = conn.prepare(&sql)?;
    let mut rows = stmt.query(params![release_id])?;
    let mut h = Sha256::new();
    let mut buf = Vec::with_capacity(256);
    while let Some(row) = rows.next()? {
        buf.clear();
        for i in 0..cols.len() {
            encode(&mut buf, row.get_ref(i)?);
        }
        h.update(&buf);
    }
    Ok(h.finalize().into())
}

fn encode(buf: &mut Vec<u8>, v: ValueRef<'_>) {
    match v {
        ValueRef::Null => buf.push(0),
        ValueRef::Text(s) => {
            buf.push(1);
            buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
            buf.extend_from_slice(s);
        }
        ValueRef::BigInt(i) => int(buf, i),
        ValueRef::Int(i) => int(buf, i64::from(i)),
        ValueRef::SmallInt(i) => int(buf, i64::from(i)),
        ValueRef::TinyInt(i) => int(buf, i64::from(i)),
        ValueRef::Double(x) => {
            buf.push(3);
            buf.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        ValueRef::Float(x) => {
            buf.push(3);
            buf.extend_from_slice(&f64::from(x).to_bits().to_le_bytes());
        }
        ValueRef::Date32(d) => {
            buf.push(4);
            buf.extend_from_slice(&d.to_le_bytes());
        }
        ValueRef::Boolean(b) => {
            buf.push(5);
            buf.push(u8::from(b));
        }
        other => {
            // The schema holds only the types above; anything else is encoded by its debug form,
            // tagged apart so it can never collide with a text value.
            let s = format!("{other:?}");
            buf.push(255);
            buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

fn int(buf: &mut Vec<u8>, i: i64) {
    buf.push(2);
    buf.extend_from_slice(&i.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn null_differs_from_empty_text_and_order_does_not_matter() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_or_create(&dir.path().join("h.duckdb")).unwrap();
        let c = s.conn();
        let fam = "f".repeat(20);
        c.execute(
            "INSERT INTO family VALUES ('r1', ?), ('r2', ?)",
            params![fam, fam],
        )
        .unwrap();
        c.execute(
            "INSERT INTO data_release VALUES ('r1', DATE '2025-06-30', 'OTHER', 's', NULL, false, NULL, NULL, NULL), \
             ('r2', DATE '2025-06-30', 'OTHER', 's', NULL, false, NULL, NULL, NULL)",
            [],
        )
        .unwrap();
        let a = "a".repeat(20);
        let b = "b".repeat(20);
        c.execute(
            "INSERT INTO child (release_id, child_pid, family_pid, sex, birth_ym, expected_birth_ym, date_of_18th_birthday) VALUES ('r1', ?, NULL, 'F', '2010-01', NULL, NULL)",
            params![a],
        )
        .unwrap();
        c.execute(
            "INSERT INTO child (release_id, child_pid, family_pid, sex, birth_ym, expected_birth_ym, date_of_18th_birthday) VALUES ('r1', ?, NULL, 'M', NULL, NULL, NULL)",
            params![b],
        )
        .unwrap();
        // Same rows, other insertion order, other release id.
        c.execute(
            "INSERT INTO child (release_id, child_pid, family_pid, sex, birth_ym, expected_birth_ym, date_of_18th_birthday) VALUES ('r2', ?, NULL, 'M', NULL, NULL, NULL)",
            params![b],
        )
        .unwrap();
        c.execute(
            "INSERT INTO child (release_id, child_pid, family_pid, sex, birth_ym, expected_birth_ym, date_of_18th_birthday) VALUES ('r2', ?, NULL, 'F', '2010-01', NULL, NULL)",
            params![a],
        )
        .unwrap();
        let h1 = release_hash(c, "r1").unwrap();
        let h2 = release_hash(c, "r2").unwrap();
        assert_eq!(h1.tables, h2.tables);
        assert_eq!(h1.release, h2.release);
        c.execute(
            "UPDATE child SET birth_ym = '' WHERE release_id = 'r2' AND sex = 'M'",
            [],
        )
        .unwrap();
        assert_ne!(release_hash(c, "r2").unwrap().release, h1.release);
    }
}
