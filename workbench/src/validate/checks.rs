//! The integrity checks of a release as DuckDB queries, written once and run on two scopes: the
//! importer's typed staging tables (rows numbered as in the source file) and a release already in
//! the store (rows numbered in key order). Code lists, pseudonym and year-month formats, keys and
//! uniqueness, references, date order and event agreement.

use std::collections::BTreeMap;

use duckdb::Connection;
use studies::schema::{self, Column, ColumnType, Rule, Table};

use super::report::{Finding, RowCounting, RuleId, ValidationReport};
use crate::import::identifiers::{bad_pseudonym_sql, names_birth};

/// How many rows each check lists (all are counted).
pub(crate) const PER_CHECK: usize = 10;

/// A SQL string literal.
pub(crate) fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A quoted SQL identifier.
pub(crate) fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Name of the typed staging table of a schema table (in the `temp` catalog).
pub(crate) fn staged_name(t: &Table) -> String {
    format!("_wb_typed_{}", t.name)
}

/// Which rows the checks look at.
pub(crate) enum Scope {
    /// The importer's typed staging tables, `_loc` being the row as the source counts it.
    Staged {
        /// Per table: the source label (file name, PostgreSQL table) and its row counting.
        sources: BTreeMap<&'static str, (String, RowCounting)>,
    },
    /// One release in the store; `_loc` is DuckDB's rowid, translated to key order at the end.
    Release { release_id: String },
}

impl Scope {
    /// A relation with the table's columns and `_loc`.
    pub(crate) fn rel(&self, t: &Table) -> String {
        match self {
            Scope::Staged { .. } => format!("temp.{}", staged_name(t)),
            Scope::Release { release_id } => format!(
                "(SELECT rowid AS _loc, * FROM main.{} WHERE release_id = {})",
                t.name,
                lit(release_id)
            ),
        }
    }

    pub(crate) fn source(&self, t: &Table) -> (String, RowCounting) {
        match self {
            Scope::Staged { sources } => sources
                .get(t.name)
                .cloned()
                .unwrap_or_else(|| (t.name.to_string(), RowCounting::DataRow)),
            Scope::Release { .. } => (format!("table {}", t.name), RowCounting::KeyOrder),
        }
    }

    fn is_release(&self) -> bool {
        matches!(self, Scope::Release { .. })
    }
}

/// A per-row condition on one column: `sql` is true for a bad row.
pub(crate) struct Pred {
    pub rule: RuleId,
    pub column: String,
    pub sql: String,
    pub message: String,
}

/// Runs checks and gathers their findings.
pub(crate) struct Checker<'c> {
    pub conn: &'c Connection,
    pub scope: &'c Scope,
    pub report: ValidationReport,
}

impl<'c> Checker<'c> {
    pub(crate) fn new(conn: &'c Connection, scope: &'c Scope) -> Checker<'c> {
        Checker {
            conn,
            scope,
            report: ValidationReport::new(),
        }
    }

    fn finding(
        &self,
        t: &Table,
        rule: RuleId,
        loc: Option<u64>,
        column: Option<&str>,
        message: String,
    ) -> Finding {
        let (source, counting) = self.scope.source(t);
        Finding {
            rule,
            table: t.name.to_string(),
            source,
            row: loc,
            counting,
            column: column.map(str::to_string),
            message,
        }
    }

    /// Adds a finding that concerns no particular row.
    pub(crate) fn add(&mut self, t: &Table, rule: RuleId, column: Option<&str>, message: String) {
        let f = self.finding(t, rule, None, column, message);
        self.report.add(f);
    }

    /// Runs per-row conditions over `from` (a relation with `_loc`) in one scan, then lists the
    /// first rows of each condition that failed.
    pub(crate) fn predicates(
        &mut self,
        t: &Table,
        from: &str,
        preds: &[Pred],
    ) -> duckdb::Result<()> {
        if preds.is_empty() {
            return Ok(());
        }
        for chunk in preds.chunks(64) {
            let counts: Vec<String> = chunk
                .iter()
                .map(|p| format!("count(*) FILTER (WHERE {})", p.sql))
                .collect();
            let sql = format!("SELECT {} FROM {from} AS x", counts.join(", "));
            let totals: Vec<i64> = self.conn.query_row(&sql, [], |r| {
                (0..chunk.len()).map(|i| r.get::<_, i64>(i)).collect()
            })?;
            for (p, total) in chunk.iter().zip(totals) {
                if total <= 0 {
                    continue;
                }
                let sql = format!(
                    "SELECT _loc FROM {from} AS x WHERE {} ORDER BY _loc LIMIT {PER_CHECK}",
                    p.sql
                );
                let mut stmt = self.conn.prepare(&sql)?;
                let locs: Vec<i64> = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let examples = locs
                    .into_iter()
                    .map(|loc| {
                        self.finding(
                            t,
                            p.rule,
                            Some(loc_u64(loc)),
                            Some(&p.column),
                            p.message.clone(),
                        )
                    })
                    .collect();
                self.report.add_counted(p.rule, total_u64(total), examples);
            }
        }
        Ok(())
    }

    /// Runs a query whose rows are the bad rows: `_loc` and, when `detail` is set, a BIGINT column
    /// `detail` handed to the message.
    pub(crate) fn query(
        &mut self,
        t: &Table,
        rule: RuleId,
        column: Option<&str>,
        sql: &str,
        detail: bool,
        message: &dyn Fn(Option<i64>) -> String,
    ) -> duckdb::Result<()> {
        let d = if detail { "detail" } else { "NULL::BIGINT" };
        let sql = format!(
            "SELECT _loc, {d}, count(*) OVER () FROM ({sql}) AS q ORDER BY _loc LIMIT {PER_CHECK}"
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let rows: Vec<(i64, Option<i64>, i64)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let Some(total) = rows.first().map(|r| r.2) else {
            return Ok(());
        };
        let examples = rows
            .into_iter()
            .map(|(loc, d, _)| self.finding(t, rule, Some(loc_u64(loc)), column, message(d)))
            .collect();
        self.report.add_counted(rule, total_u64(total), examples);
        Ok(())
    }
}

fn loc_u64(loc: i64) -> u64 {
    u64::try_from(loc).unwrap_or(0)
}

fn total_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn table(name: &str) -> &'static Table {
    // The names below are the schema's own; a typo is a programming error caught by every test.
    schema::table(name).unwrap_or_else(|| panic!("schema has no table {name}"))
}

/// Per-column value rules that hold for typed rows: code lists, pseudonyms, year-month, and
/// birthday dates that may only fall on the first of a month.
fn column_rules(c: &Column) -> Vec<Pred> {
    let col = ident(c.name);
    let mut preds = Vec::new();
    match c.rule {
        Rule::OneOf(codes) => {
            let list: Vec<String> = codes.iter().map(|x| lit(x)).collect();
            preds.push(Pred {
                rule: RuleId::CodeList,
                column: c.name.to_string(),
                sql: format!("{col} IS NOT NULL AND {col} NOT IN ({})", list.join(", ")),
                message: format!("is not one of the allowed codes: {}", codes.join(", ")),
            });
        }
        Rule::CodeList(list) => {
            let key = schema::table(list).and_then(|t| t.key.first()).copied().unwrap_or("code");
            preds.push(Pred {
                rule: RuleId::CodeList,
                column: c.name.to_string(),
                sql: format!(
                    "{col} IS NOT NULL AND {col} NOT IN (SELECT {} FROM main.{list})",
                    ident(key)
                ),
                message: format!(
                    "is not a code of the code list `{list}` (the code lists ship with the workbench; use one of its {key} values)"
                ),
            });
        }
        Rule::Pseudonym => preds.push(Pred {
            rule: RuleId::PseudonymFormat,
            column: c.name.to_string(),
            sql: bad_pseudonym_sql(&col),
            message: "is not a pseudonym: use the opaque pseudonym issued upstream, 16 to 64 characters of letters, digits, '_' or '-', not all digits".into(),
        }),
        Rule::YearMonth => {
            let full_date = format!(
                "regexp_matches({col}, '[0-9]{{4}}-[0-9]{{1,2}}-[0-9]{{1,2}}|[0-9]{{1,2}}[/.-][0-9]{{1,2}}[/.-][0-9]{{2,4}}|^[0-9]{{8}}$')"
            );
            preds.push(Pred {
                rule: RuleId::IdBirthDate,
                column: c.name.to_string(),
                sql: format!("{col} IS NOT NULL AND {full_date}"),
                message: "holds a date with a day: only year and month of birth may be imported (YYYY-MM); drop the day upstream".into(),
            });
            preds.push(Pred {
                rule: RuleId::YearMonth,
                column: c.name.to_string(),
                sql: format!(
                    "{col} IS NOT NULL AND NOT {full_date} AND NOT regexp_full_match({col}, '[12][0-9]{{3}}-(0[1-9]|1[0-2])')"
                ),
                message: "is not a year-month YYYY-MM (e.g. 2014-03)".into(),
            });
        }
        Rule::None => {}
    }
    if c.ty == ColumnType::Date && names_birth(c.name) {
        preds.push(Pred {
            rule: RuleId::IdBirthDate,
            column: c.name.to_string(),
            sql: format!("{col} IS NOT NULL AND day({col}) <> 1"),
            message: "is derived from the year-month of birth and must fall on the first day of a month; any other day reveals the birth date".into(),
        });
    }
    preds
}

/// Unique column sets beyond the key (domain.md §4).
const UNIQUE: &[(&str, &[&str])] = &[("episode", &["child_pid", "episode_seq"])];

/// Runs every integrity check of the case tables on the scope.
pub(crate) fn integrity(ch: &mut Checker<'_>) -> duckdb::Result<()> {
    for t in schema::case_tables() {
        let preds: Vec<Pred> = t.columns.iter().flat_map(column_rules).collect();
        let rel = ch.scope.rel(t);
        ch.predicates(t, &rel, &preds)?;
        keys(ch, t)?;
        references(ch, t)?;
    }
    date_order(ch)?;
    event_agreement(ch)?;
    Ok(())
}

fn keys(ch: &mut Checker<'_>, t: &'static Table) -> duckdb::Result<()> {
    let key: Vec<&str> = t
        .key
        .iter()
        .copied()
        .filter(|k| *k != schema::RELEASE_ID)
        .collect();
    let mut sets: Vec<(Vec<&str>, bool)> = vec![(key, true)];
    for (name, cols) in UNIQUE {
        if *name == t.name {
            sets.push((cols.to_vec(), false));
        }
    }
    let rel = ch.scope.rel(t);
    let release_scope = ch.scope.is_release();
    for (cols, is_key) in sets {
        let quoted: Vec<String> = cols.iter().map(|c| ident(c)).collect();
        let part = quoted.join(", ");
        let not_null: Vec<String> = quoted.iter().map(|c| format!("{c} IS NOT NULL")).collect();
        let sql = format!(
            "SELECT _loc, detail FROM (SELECT _loc, min(_loc) OVER (PARTITION BY {part}) AS detail FROM {rel} AS x WHERE {}) AS d WHERE _loc <> detail",
            not_null.join(" AND ")
        );
        let what = if is_key { "key" } else { "unique combination" };
        let names = cols.join(", ");
        let message = move |first: Option<i64>| {
            let other = match (release_scope, first) {
                (false, Some(r)) => format!("row {r}"),
                _ => "another row".to_string(),
            };
            format!(
                "repeats the {what} ({names}) of {other}: each must occur once; remove the duplicate or give it its own {what}"
            )
        };
        ch.query(
            t,
            RuleId::KeyDuplicate,
            cols.first().copied(),
            &sql,
            true,
            &message,
        )?;
    }
    Ok(())
}

fn references(ch: &mut Checker<'_>, t: &'static Table) -> duckdb::Result<()> {
    for r in t.references {
        let target = table(r.table);
        let rel = ch.scope.rel(t);
        let trel = ch.scope.rel(target);
        let not_null: Vec<String> = r
            .columns
            .iter()
            .map(|c| format!("x.{} IS NOT NULL", ident(c)))
            .collect();
        let on: Vec<String> = r
            .columns
            .iter()
            .zip(r.target)
            .map(|(c, k)| format!("y.{} = x.{}", ident(k), ident(c)))
            .collect();
        let sql = format!(
            "SELECT x._loc FROM {rel} AS x WHERE {} AND NOT EXISTS (SELECT 1 FROM {trel} AS y WHERE {})",
            not_null.join(" AND "),
            on.join(" AND ")
        );
        let targets = r.target.join(", ");
        let tname = target.name;
        let message = move |_: Option<i64>| {
            format!(
                "refers to a {tname} ({targets}) that is not in this release: add that row to {tname}, correct the reference, or leave it empty if it is optional"
            )
        };
        ch.query(
            t,
            RuleId::Reference,
            r.columns.first().copied(),
            &sql,
            false,
            &message,
        )?;
    }
    Ok(())
}

/// `(table, column, sql selecting the bad rows' _loc, message)`.
fn date_order(ch: &mut Checker<'_>) -> duckdb::Result<()> {
    let s = ch.scope;
    let r = |n: &str| s.rel(table(n));
    let checks: Vec<(&str, &str, String, &str)> = vec![
        (
            "intervention",
            "end_date",
            format!(
                "SELECT _loc FROM {} WHERE end_date < start_date",
                r("intervention")
            ),
            "is before start_date: an intervention cannot end before it starts; correct one of the dates",
        ),
        (
            "placement",
            "end_date",
            format!(
                "SELECT _loc FROM {} WHERE end_date < start_date",
                r("placement")
            ),
            "is before start_date: a placement cannot end before it starts; correct one of the dates",
        ),
        (
            "episode",
            "closure_date",
            format!(
                "SELECT _loc FROM {} WHERE closure_date < entry_date",
                r("episode")
            ),
            "is before entry_date: an episode cannot close before it opens; correct one of the dates",
        ),
        (
            "observation_window",
            "obs_end",
            format!(
                "SELECT _loc FROM {} WHERE obs_end < obs_start",
                r("observation_window")
            ),
            "is before obs_start: observation cannot end before it starts; correct one of the dates",
        ),
        (
            "report_child_form",
            "finding_date",
            format!(
                "SELECT f._loc FROM {} AS f JOIN {} AS p ON p.report_id = f.report_id WHERE f.finding_date < p.report_date",
                r("report_child_form"),
                r("report")
            ),
            "is before the report_date of its report: a finding cannot precede the report; correct one of the dates",
        ),
        (
            "event",
            "interval_lower",
            format!(
                "SELECT _loc FROM {} WHERE interval_lower > event_date",
                r("event")
            ),
            "is after event_date: the lower bound of an interval-censored event cannot follow the event; correct one of the dates",
        ),
        (
            "event",
            "event_date",
            format!(
                "SELECT e._loc FROM {} AS e JOIN (SELECT child_pid, min(entry_date) AS first_entry FROM {} GROUP BY child_pid) AS f ON f.child_pid = e.child_pid WHERE e.event_date < f.first_entry",
                r("event"),
                r("episode")
            ),
            "is before the child's first entry (the earliest entry_date of its episodes): no event can precede it; correct the event or the entry date",
        ),
    ];
    for (tn, col, sql, msg) in checks {
        let message = move |_: Option<i64>| msg.to_string();
        ch.query(
            table(tn),
            RuleId::DateOrder,
            Some(col),
            &sql,
            false,
            &message,
        )?;
    }
    Ok(())
}

/// One kind of event that restates a row of another table.
struct Restated {
    /// The table restated (and the event's `source_table`).
    source_table: &'static str,
    event_type: &'static str,
    /// The table whose rows must each have exactly one such event.
    row_table: &'static str,
    /// `SELECT _loc, id, child_pid, episode_id, d` of the rows, in terms of `rel(...)`.
    rows: String,
    /// What the event must agree on, for messages.
    agree: &'static str,
}

fn restated(s: &Scope) -> Vec<Restated> {
    let r = |n: &str| s.rel(table(n));
    vec![
        Restated {
            source_table: "report",
            event_type: "REPORT",
            row_table: "report_child",
            rows: format!(
                "SELECT rc._loc, rc.report_id AS id, rc.child_pid, rc.episode_id, p.report_date AS d FROM {} AS rc JOIN {} AS p ON p.report_id = rc.report_id",
                r("report_child"),
                r("report")
            ),
            agree: "source_id = report_id, the same child_pid, event_date = the report's report_date",
        },
        Restated {
            source_table: "intervention",
            event_type: "INTERVENTION_START",
            row_table: "intervention",
            rows: format!(
                "SELECT i._loc, i.intervention_id AS id, ep.child_pid, i.episode_id, i.start_date AS d FROM {} AS i JOIN {} AS ep ON ep.episode_id = i.episode_id",
                r("intervention"),
                r("episode")
            ),
            agree: "source_id = intervention_id, the episode's child_pid, event_date = start_date",
        },
        Restated {
            source_table: "intervention",
            event_type: "INTERVENTION_END",
            row_table: "intervention",
            rows: format!(
                "SELECT i._loc, i.intervention_id AS id, ep.child_pid, i.episode_id, i.end_date AS d FROM {} AS i JOIN {} AS ep ON ep.episode_id = i.episode_id WHERE i.end_date IS NOT NULL",
                r("intervention"),
                r("episode")
            ),
            agree: "source_id = intervention_id, the episode's child_pid, event_date = end_date",
        },
        Restated {
            source_table: "placement",
            event_type: "PLACEMENT_START",
            row_table: "placement",
            rows: format!(
                "SELECT pl._loc, pl.placement_id AS id, ep.child_pid, pl.episode_id, pl.start_date AS d FROM {} AS pl JOIN {} AS ep ON ep.episode_id = pl.episode_id",
                r("placement"),
                r("episode")
            ),
            agree: "source_id = placement_id, the episode's child_pid, event_date = start_date",
        },
        Restated {
            source_table: "placement",
            event_type: "PLACEMENT_END",
            row_table: "placement",
            rows: format!(
                "SELECT pl._loc, pl.placement_id AS id, ep.child_pid, pl.episode_id, pl.end_date AS d FROM {} AS pl JOIN {} AS ep ON ep.episode_id = pl.episode_id WHERE pl.end_date IS NOT NULL",
                r("placement"),
                r("episode")
            ),
            agree: "source_id = placement_id, the episode's child_pid, event_date = end_date",
        },
        Restated {
            source_table: "episode",
            event_type: "CASE_CLOSED",
            row_table: "episode",
            rows: format!(
                "SELECT _loc, episode_id AS id, child_pid, episode_id, closure_date AS d FROM {} WHERE closure_date IS NOT NULL",
                r("episode")
            ),
            agree: "source_id = episode_id, the same child_pid, event_date = closure_date",
        },
    ]
}

/// Event agreement, both ways: every restated row has exactly one event, every event that names
/// a restated table matches its row, and every event of a restating type names its table.
fn event_agreement(ch: &mut Checker<'_>) -> duckdb::Result<()> {
    let ev = ch.scope.rel(table("event"));
    let kinds = restated(ch.scope);
    let episode_agrees =
        "(e.episode_id IS NULL OR s.episode_id IS NULL OR e.episode_id = s.episode_id)";
    // Rows -> events.
    for k in &kinds {
        let sql = format!(
            "SELECT s._loc, count(e._loc) AS detail FROM ({rows}) AS s LEFT JOIN {ev} AS e \
             ON e.event_type = {et} AND e.source_table = {st} AND e.source_id = s.id \
             AND e.child_pid = s.child_pid AND e.event_date = s.d AND {episode_agrees} \
             GROUP BY s._loc HAVING count(e._loc) <> 1",
            rows = k.rows,
            et = lit(k.event_type),
            st = lit(k.source_table),
        );
        let (et, st, agree) = (k.event_type, k.source_table, k.agree);
        let message = move |n: Option<i64>| {
            format!(
                "needs exactly one {et} event (source_table '{st}', {agree}, and the same episode if the event names one); found {}: add or correct the event",
                n.unwrap_or(0)
            )
        };
        let col = match k.event_type {
            "INTERVENTION_END" | "PLACEMENT_END" => Some("end_date"),
            "CASE_CLOSED" => Some("closure_date"),
            _ => None,
        };
        ch.query(
            table(k.row_table),
            RuleId::EventAgreement,
            col,
            &sql,
            true,
            &message,
        )?;
    }
    // Events -> rows, per source table.
    let mut source_tables: Vec<&str> = kinds.iter().map(|k| k.source_table).collect();
    source_tables.dedup();
    for st in source_tables {
        let union: Vec<String> = kinds
            .iter()
            .filter(|k| k.source_table == st)
            .map(|k| {
                format!(
                    "SELECT id, {} AS t, child_pid, episode_id, d FROM ({}) AS r",
                    lit(k.event_type),
                    k.rows
                )
            })
            .collect();
        let types: Vec<&str> = kinds
            .iter()
            .filter(|k| k.source_table == st)
            .map(|k| k.event_type)
            .collect();
        let sql = format!(
            "SELECT e._loc FROM {ev} AS e WHERE e.source_table = {stl} AND NOT EXISTS (\
             SELECT 1 FROM ({u}) AS s WHERE s.id = e.source_id AND s.t = e.event_type \
             AND s.child_pid = e.child_pid AND s.d = e.event_date AND {episode_agrees})",
            stl = lit(st),
            u = union.join(" UNION ALL "),
        );
        let types = types.join(" or ");
        let message = move |_: Option<i64>| {
            format!(
                "names source_table '{st}' but restates no row of {st} in this release: it must be an event of type {types} whose source_id, child_pid, event_date (and episode_id, if set) agree with that row"
            )
        };
        ch.query(
            table("event"),
            RuleId::EventAgreement,
            Some("source_table"),
            &sql,
            false,
            &message,
        )?;
    }
    // Events of a restating type must name the table they restate.
    let mut cases: Vec<String> = kinds
        .iter()
        .map(|k| format!("WHEN {} THEN {}", lit(k.event_type), lit(k.source_table)))
        .collect();
    cases.dedup();
    let sql = format!(
        "SELECT _loc FROM (SELECT _loc, source_table, CASE event_type {} END AS expected FROM {ev}) AS x \
         WHERE expected IS NOT NULL AND (source_table IS NULL OR source_table <> expected)",
        cases.join(" ")
    );
    let message = |_: Option<i64>| {
        "is an event type that restates another table (REPORT: report, INTERVENTION_START/END: intervention, PLACEMENT_START/END: placement, CASE_CLOSED: episode): set source_table to that table and source_id to the row's id".to_string()
    };
    ch.query(
        table("event"),
        RuleId::EventAgreement,
        Some("source_table"),
        &sql,
        false,
        &message,
    )?;
    Ok(())
}
