//! The case store: one DuckDB file holding the canonical schema, its code lists, data releases and
//! synthetic truth. Creates the schema, records and checks its version, lists and removes releases.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use duckdb::{Connection, params};
use studies::codes;
use studies::schema::{self, SCHEMA_VERSION, TRUTH_SCHEMA, Table, TableKind};

/// Errors of opening or reading a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Open {
        path: PathBuf,
        source: duckdb::Error,
    },
    #[error(
        "store {path} was created by schema version {found}, this workbench uses version {expected}; \
         export its releases with the workbench version that created it (`workbench export-release`) \
         and import them into a new store"
    )]
    Version {
        path: PathBuf,
        found: String,
        expected: u32,
    },
    #[error(
        "{path} is not a workbench store (no schema version recorded); choose another path or delete it"
    )]
    NotAStore { path: PathBuf },
    #[error("store {path} does not exist; create one with `workbench synth` or `workbench import`")]
    Missing { path: PathBuf },
    #[error("release `{0}` is not in this store (see `workbench info`)")]
    UnknownRelease(String),
    #[error("release `{0}` already exists in this store; choose another release id")]
    ReleaseExists(String),
    #[error(transparent)]
    Db(#[from] duckdb::Error),
}

/// A data release as the store records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReleaseInfo {
    pub release_id: String,
    pub extract_date: String,
    pub source_system: String,
    pub is_synthetic: bool,
}

/// The memory DuckDB may use per open store unless `workbench.toml` says otherwise: beyond it,
/// joins, aggregates and sorts spill to a temporary folder beside the store instead of growing.
/// A study of 1,000,000 children peaks at about 2.4 GB unbounded (benches/README.md).
pub const DEFAULT_MEMORY_LIMIT: &str = "4GB";

static MEMORY_LIMIT: OnceLock<String> = OnceLock::new();

/// Sets the memory limit of every store opened from now on in this process (DuckDB's syntax:
/// `2GB`, `512MB`); the first call wins. Without a call, [`DEFAULT_MEMORY_LIMIT`].
pub fn set_memory_limit(limit: &str) {
    let _ = MEMORY_LIMIT.set(limit.to_string());
}

fn memory_limit() -> &'static str {
    MEMORY_LIMIT
        .get()
        .map_or(DEFAULT_MEMORY_LIMIT, String::as_str)
}

/// An open store.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

impl Store {
    /// Opens the store at `path`, creating it (schema and code lists) if the file does not exist.
    pub fn open_or_create(path: &Path) -> Result<Store, StoreError> {
        let existed = path.exists();
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let config = duckdb::Config::default()
            .max_memory(memory_limit())
            .map_err(open_error)?;
        let conn = Connection::open_with_flags(path, config).map_err(open_error)?;
        let store = Store {
            conn,
            path: path.to_path_buf(),
        };
        if existed {
            store.check_version()?;
        } else {
            store.create_schema()?;
        }
        Ok(store)
    }

    /// Opens an existing store; refuses a missing file or one of another schema version.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing {
                path: path.to_path_buf(),
            });
        }
        Store::open_or_create(path)
    }

    /// The connection (for queries and appenders on this thread).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Mutable access to the connection, for transactions.
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn check_version(&self) -> Result<(), StoreError> {
        let has_meta: i64 = self.conn.query_row(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = 'workbench_meta'",
            [],
            |r| r.get(0),
        )?;
        if has_meta == 0 {
            return Err(StoreError::NotAStore {
                path: self.path.clone(),
            });
        }
        let found: String = self.conn.query_row(
            "SELECT value FROM workbench_meta WHERE key = 'schema_version'",
            [],
            |r| r.get(0),
        )?;
        if found == "1" {
            return self.migrate_from_v1();
        }
        if found != SCHEMA_VERSION.to_string() {
            return Err(StoreError::Version {
                path: self.path.clone(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
        Ok(())
    }

    /// Version 1 had no surrogate keys: adds their columns and assigns them for every release, in
    /// one transaction (about 10 s per million children).
    fn migrate_from_v1(&self) -> Result<(), StoreError> {
        let tx = self.conn.unchecked_transaction()?;
        for k in schema::SURROGATE_KEYS {
            tx.execute_batch(&format!(
                "ALTER TABLE {} ADD COLUMN {} INTEGER",
                k.table, k.column
            ))?;
        }
        for r in self.releases()? {
            assign_keys(&tx, &r.release_id)?;
        }
        tx.execute(
            "UPDATE workbench_meta SET value = ? WHERE key = 'schema_version'",
            params![SCHEMA_VERSION.to_string()],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn create_schema(&self) -> Result<(), StoreError> {
        let mut ddl = String::from("BEGIN TRANSACTION;\n");
        ddl.push_str("CREATE TABLE workbench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n");
        ddl.push_str("CREATE TABLE audit_log (logged_at TIMESTAMP NOT NULL, action TEXT NOT NULL, release_id TEXT, detail TEXT);\n");
        ddl.push_str(&format!("CREATE SCHEMA {TRUTH_SCHEMA};\n"));
        for t in schema::TABLES {
            ddl.push_str(&create_table_sql(t));
            ddl.push('\n');
        }
        ddl.push_str("COMMIT;");
        self.conn.execute_batch(&ddl)?;
        self.conn.execute(
            "INSERT INTO workbench_meta VALUES ('schema_version', ?), ('created_by', ?)",
            params![
                SCHEMA_VERSION.to_string(),
                format!("workbench {}", env!("CARGO_PKG_VERSION"))
            ],
        )?;
        self.insert_code_lists()?;
        Ok(())
    }

    fn insert_code_lists(&self) -> Result<(), StoreError> {
        let c = &self.conn;
        for x in codes::CENTRES {
            c.execute(
                "INSERT INTO centre VALUES (?, ?, ?, ?, ?, ?, DATE '1985-04-29', NULL, ?, ?, ?, ?)",
                params![
                    x.id,
                    x.service_type,
                    x.community,
                    x.region,
                    x.province_code,
                    x.source_system,
                    x.is_small_unit,
                    x.labels.nl,
                    x.labels.fr,
                    x.labels.en
                ],
            )?;
        }
        for x in codes::FORMS {
            c.execute(
                "INSERT INTO maltreatment_form VALUES (?, ?, ?, ?, ?, ?)",
                params![
                    x.code,
                    x.parent,
                    x.labels.nl,
                    x.labels.fr,
                    x.labels.en,
                    x.rare_for_disclosure
                ],
            )?;
        }
        for x in codes::CONTEXTS {
            c.execute(
                "INSERT INTO context_code VALUES (?, ?, ?, ?, ?)",
                params![
                    x.code,
                    x.labels.nl,
                    x.labels.fr,
                    x.labels.en,
                    x.rare_for_disclosure
                ],
            )?;
        }
        for x in codes::REFERRAL_SOURCES {
            c.execute(
                "INSERT INTO referral_source VALUES (?, ?, ?, ?, ?)",
                params![x.code, x.group, x.labels.nl, x.labels.fr, x.labels.en],
            )?;
        }
        for x in codes::INTERVENTION_TYPES {
            c.execute(
                "INSERT INTO intervention_type VALUES (?, ?, ?, ?, ?, ?, ?)",
                params![
                    x.code,
                    x.phase_primary,
                    x.is_placement,
                    x.is_judicial,
                    x.labels.nl,
                    x.labels.fr,
                    x.labels.en
                ],
            )?;
        }
        for x in codes::INSTRUMENTS {
            c.execute(
                "INSERT INTO instrument VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                params![
                    x.code,
                    x.score_name,
                    x.score_min,
                    x.score_max,
                    x.higher_is_worse,
                    x.borderline_cut,
                    x.clinical_cut,
                    x.reliable_change,
                    x.age_min_months,
                    x.age_max_months,
                    x.informant,
                    x.labels.nl,
                    x.labels.fr,
                    x.labels.en
                ],
            )?;
        }
        Ok(())
    }

    /// Releases in the store, by release id.
    pub fn releases(&self) -> Result<Vec<ReleaseInfo>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT release_id, CAST(extract_date AS TEXT), source_system, is_synthetic FROM data_release ORDER BY release_id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ReleaseInfo {
                release_id: r.get(0)?,
                extract_date: r.get(1)?,
                source_system: r.get(2)?,
                is_synthetic: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// The release with this id, or an error naming it.
    pub fn release(&self, release_id: &str) -> Result<ReleaseInfo, StoreError> {
        self.releases()?
            .into_iter()
            .find(|r| r.release_id == release_id)
            .ok_or_else(|| StoreError::UnknownRelease(release_id.to_string()))
    }

    /// The only release, or the newest by extract date when there are several; None if empty.
    pub fn default_release(&self) -> Result<Option<ReleaseInfo>, StoreError> {
        let mut all = self.releases()?;
        all.sort_by(|a, b| {
            a.extract_date
                .cmp(&b.extract_date)
                .then(a.release_id.cmp(&b.release_id))
        });
        Ok(all.pop())
    }

    /// Number of rows of a per-release table in one release.
    pub fn row_count(&self, table: &Table, release_id: &str) -> Result<u64, StoreError> {
        let sql = format!(
            "SELECT count(*) FROM {} WHERE release_id = ?",
            table.qualified_name()
        );
        let n: i64 = self
            .conn
            .query_row(&sql, params![release_id], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// Records an action that let row-level data leave the store (an export), with what and where.
pub fn audit(
    conn: &Connection,
    action: &str,
    release_id: &str,
    detail: &str,
) -> Result<(), duckdb::Error> {
    conn.execute(
        "INSERT INTO audit_log VALUES (CAST(now() AS TIMESTAMP), ?, ?, ?)",
        params![action, release_id, detail],
    )?;
    Ok(())
}

/// Deletes every row of a release (case tables, truth and the register row) on `conn`, which the
/// caller runs inside its transaction.
pub fn delete_release_rows(conn: &Connection, release_id: &str) -> Result<(), duckdb::Error> {
    for t in schema::TABLES.iter().rev().filter(|t| t.is_per_release()) {
        conn.execute(
            &format!("DELETE FROM {} WHERE release_id = ?", t.qualified_name()),
            params![release_id],
        )?;
    }
    conn.execute(
        "DELETE FROM data_release WHERE release_id = ?",
        params![release_id],
    )?;
    Ok(())
}

/// Assigns the surrogate keys (`studies::schema::SURROGATE_KEYS`) of one release on `conn`, inside
/// the caller's transaction, after the release passed validation (its identifiers are unique and
/// its references resolve): each numbering key 1, 2, ... in identifier order, then each reference
/// looked up from the table it names.
pub fn assign_keys(conn: &Connection, release_id: &str) -> Result<(), duckdb::Error> {
    for k in schema::SURROGATE_KEYS {
        let sql = if k.numbers() {
            format!(
                "UPDATE {t} SET {col} = n.k \
                   FROM (SELECT {src} AS id, CAST(row_number() OVER (ORDER BY {src}) AS INTEGER) AS k \
                           FROM {t} WHERE release_id = $1) n \
                  WHERE {t}.release_id = $1 AND {t}.{src} = n.id",
                t = k.table,
                col = k.column,
                src = k.source,
            )
        } else {
            let numbering = k
                .numbering()
                .expect("every referenced table is numbered (schema test)");
            format!(
                "UPDATE {t} SET {col} = n.{ncol} FROM {nt} n \
                  WHERE n.release_id = $1 AND {t}.release_id = $1 AND {t}.{src} = n.{nsrc}",
                t = k.table,
                col = k.column,
                src = k.source,
                nt = numbering.table,
                ncol = numbering.column,
                nsrc = numbering.source,
            )
        };
        conn.execute(&sql, params![release_id])?;
    }
    Ok(())
}

/// `CREATE TABLE` for one schema table, with its surrogate keys after the schema's columns. Code lists and the release register get primary keys
/// (small); case and truth tables get none: at tens of millions of rows an index costs memory, so
/// keys, uniqueness and references are checked by validation queries instead.
pub fn create_table_sql(t: &Table) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            format!(
                "{} {}{}",
                c.name,
                c.ty.sql(),
                if c.nullable { "" } else { " NOT NULL" }
            )
        })
        .chain(schema::surrogate_keys(t.name).map(|k| format!("{} INTEGER", k.column)))
        .collect();
    let pk = match t.kind {
        TableKind::CodeList | TableKind::Release => format!(", PRIMARY KEY ({})", t.key.join(", ")),
        TableKind::Case | TableKind::Truth => String::new(),
    };
    format!(
        "CREATE TABLE {} ({}{});",
        t.qualified_name(),
        cols.join(", "),
        pk
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_connection_is_memory_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_or_create(&dir.path().join("s.duckdb")).unwrap();
        let limit: String = s
            .conn()
            .query_row("SELECT current_setting('memory_limit')", [], |r| r.get(0))
            .unwrap();
        // DuckDB reports 4GB as 3.7 GiB
        assert!(limit.contains("GiB") && limit.starts_with("3.7"), "{limit}");
    }

    /// Two children and three episodes (one transferred to another), keys NULL.
    fn two_children(c: &Connection) {
        c.execute_batch(
            "INSERT INTO data_release (release_id, extract_date, source_system, pseudonym_scheme, is_synthetic) \
               VALUES ('r', DATE '2025-06-30', 'OTHER', 's', false);
             INSERT INTO child (release_id, child_pid, sex) VALUES
               ('r', 'zzzzzzzzzzzzzzzzzzzz', 'F'), ('r', 'aaaaaaaaaaaaaaaaaaaa', 'M');
             INSERT INTO episode (release_id, episode_id, child_pid, centre_id, entry_date, referral_source, \
                                  transferred_to_episode_id, episode_seq) VALUES
               ('r', 'E2', 'zzzzzzzzzzzzzzzzzzzz', 'VK_ANT', DATE '2020-01-01', 'SCHOOL', 'E3', 1),
               ('r', 'E1', 'aaaaaaaaaaaaaaaaaaaa', 'VK_ANT', DATE '2020-01-01', 'SCHOOL', NULL, 1),
               ('r', 'E3', 'zzzzzzzzzzzzzzzzzzzz', 'VK_BRU', DATE '2020-02-01', 'SCHOOL', NULL, 2);",
        )
        .unwrap();
    }

    fn keys(c: &Connection) -> Vec<(String, i64, i64, Option<i64>)> {
        let mut st = c
            .prepare(
                "SELECT e.episode_id, e.episode_key, e.child_key, e.transferred_to_episode_key \
                   FROM episode e JOIN child ch ON ch.child_pid = e.child_pid \
                  WHERE ch.child_key = e.child_key ORDER BY e.episode_id",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn surrogate_keys_number_identifiers_in_order_and_follow_references() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open_or_create(&dir.path().join("s.duckdb")).unwrap();
        two_children(s.conn());
        assign_keys(s.conn(), "r").unwrap();
        let want = vec![
            ("E1".to_string(), 1, 1, None),
            ("E2".to_string(), 2, 2, Some(3)),
            ("E3".to_string(), 3, 2, None),
        ];
        assert_eq!(keys(s.conn()), want);
    }

    #[test]
    fn a_version_1_store_is_migrated_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.duckdb");
        {
            let s = Store::open_or_create(&path).unwrap();
            two_children(s.conn());
            for k in schema::SURROGATE_KEYS {
                s.conn()
                    .execute_batch(&format!("ALTER TABLE {} DROP COLUMN {}", k.table, k.column))
                    .unwrap();
            }
            s.conn()
                .execute_batch("UPDATE workbench_meta SET value = '1' WHERE key = 'schema_version'")
                .unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(keys(s.conn()).len(), 3);
        assert_eq!(keys(s.conn())[1], ("E2".to_string(), 2, 2, Some(3)));
        let v: String = s
            .conn()
            .query_row(
                "SELECT value FROM workbench_meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION.to_string());
    }

    #[test]
    fn creates_then_reopens_and_refuses_other_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.duckdb");
        {
            let s = Store::open_or_create(&path).unwrap();
            let n: i64 = s
                .conn()
                .query_row("SELECT count(*) FROM centre", [], |r| r.get(0))
                .unwrap();
            assert_eq!(n, 21);
            assert!(s.releases().unwrap().is_empty());
            s.conn()
                .execute(
                    "UPDATE workbench_meta SET value = '0' WHERE key = 'schema_version'",
                    [],
                )
                .unwrap();
        }
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(err.contains("schema version 0"), "{err}");
        assert!(err.contains("export-release"), "{err}");
        let missing = Store::open(&dir.path().join("nope.duckdb"))
            .err()
            .unwrap()
            .to_string();
        assert!(missing.contains("does not exist"), "{missing}");
    }
}
