//! The manager's dashboard, computed on a worker: SQL aggregates per community, centre and year,
//! each table passed through the disclosure gate (k on screen, complementary suppression), and
//! the outcome figures (median days to safety, 12-month recurrence, recovery) read from gated
//! study bundles. Nothing here holds a row of a child: the types carry gated counts and
//! estimates only, so the dashboard has no path to row-level data.

use std::collections::BTreeMap;

use anyhow::Context;
use duckdb::{Connection, params};
use indicatif::ProgressBar;
use studies::Protocol;
use studies::bundle::{Bundle, OutcomeResult};

use super::worker;
use models::aalen_johansen::{AalenJohansenOptions, CompetingRisks, aalen_johansen_by_group};

use crate::disclosure::{CountTable, CurveRow, Gate, GatedCount, GatedTable};

/// Steps of the computation (for the progress line).
pub const STEPS: u64 = 14;

/// One tile: a community (`VL`, `FWB`) or the total.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    /// `VL`, `FWB` or `total`.
    pub key: String,
    pub reports: GatedCount,
    pub children: GatedCount,
    /// Children by year of first entry, in [`DashboardData::years`] order.
    pub children_by_year: Vec<GatedCount>,
    pub reports_by_year: Vec<GatedCount>,
    /// Median days to safety (Aalen–Johansen, read off the gated curve).
    pub median_safety: Option<f64>,
    /// Substantiated recurrence within 12 months (complete-window children).
    pub recurrence: Option<f64>,
    /// Recovered below the clinical cut-off at 12 months (SDQ, children with a follow-up).
    pub recovery: Option<f64>,
}

/// One centre's line.
#[derive(Debug, Clone, PartialEq)]
pub struct CentreRow {
    pub id: String,
    pub reports: GatedCount,
    pub children: GatedCount,
    pub children_by_year: Vec<GatedCount>,
    pub median_safety: Option<f64>,
}

/// Everything the dashboard shows.
#[derive(Debug, Clone, PartialEq)]
pub struct DashboardData {
    pub k: u64,
    pub release: String,
    pub extract_date: String,
    pub years: Vec<String>,
    pub tiles: Vec<Tile>,
    pub centres: Vec<CentreRow>,
    /// What the gate did, in words.
    pub notes: Vec<String>,
}

fn crosstab(
    conn: &Connection,
    sql: &str,
    release: &str,
    title: &str,
) -> anyhow::Result<CountTable> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query(params![release])?;
    let mut counts: BTreeMap<(String, String), u64> = BTreeMap::new();
    while let Some(r) = rows.next()? {
        let n: i64 = r.get(2)?;
        counts.insert((r.get(0)?, r.get(1)?), u64::try_from(n).unwrap_or(0));
    }
    let mut row_labels: Vec<String> = counts.keys().map(|(r, _)| r.clone()).collect();
    row_labels.dedup();
    let mut columns: Vec<String> = counts.keys().map(|(_, c)| c.clone()).collect();
    columns.sort();
    columns.dedup();
    let cells = row_labels
        .iter()
        .map(|r| {
            columns
                .iter()
                .map(|c| counts.get(&(r.clone(), c.clone())).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    Ok(CountTable {
        title: title.to_string(),
        row_header: String::new(),
        rows: row_labels,
        columns,
        cells,
    })
}

const CHILDREN_SQL: &str = "WITH first AS (SELECT e.child_pid, e.entry_date, e.centre_id, \
     row_number() OVER (PARTITION BY e.child_pid ORDER BY e.entry_date, e.episode_seq, e.episode_id) AS k \
     FROM episode e WHERE e.release_id = ?) \
     SELECT {row} AS r, CAST(year(e.entry_date) AS TEXT) AS y, count(*) \
     FROM first e JOIN centre c ON c.centre_id = e.centre_id WHERE e.k = 1 GROUP BY ALL";

const REPORTS_SQL: &str = "SELECT {row} AS r, CAST(year(e.report_date) AS TEXT) AS y, count(*) \
     FROM report e JOIN centre c ON c.centre_id = e.centre_id WHERE e.release_id = ? GROUP BY ALL";

/// A gated table's cell by labels; the totals are the last row and column.
struct Lookup<'a> {
    t: &'a GatedTable,
}

impl Lookup<'_> {
    fn row(&self, label: &str) -> Option<usize> {
        self.t.rows.iter().position(|r| r == label)
    }
    fn total_row(&self) -> usize {
        self.t.rows.len()
    }
    fn cell(&self, r: Option<usize>, year: &str) -> GatedCount {
        let c = self.t.columns.iter().position(|c| c == year);
        match (r, c) {
            (Some(r), Some(c)) => self.t.cells[r][c],
            _ => GatedCount::Shown(0),
        }
    }
    fn total(&self, r: Option<usize>) -> GatedCount {
        match r {
            Some(r) => self.t.cells[r][self.t.columns.len()],
            None => GatedCount::Shown(0),
        }
    }
}

/// The dashboard protocol: every child's first entry up to the extract, by `by`.
fn dashboard_protocol(
    extract: &str,
    by: &str,
    levels: Option<&[&str]>,
    outcomes: &[&str],
) -> anyhow::Result<Protocol> {
    let mut text = format!(
        "title = \"dashboard\"\n[cohort]\nentry = \"first\"\nentry_from = \"1990-01-01\"\nentry_to = \"{extract}\"\n[groups]\nby = \"{by}\"\n"
    );
    if let Some(l) = levels {
        let quoted: Vec<String> = l.iter().map(|x| format!("\"{x}\"")).collect();
        text.push_str(&format!("levels = [{}]\n", quoted.join(", ")));
    }
    for o in outcomes {
        text.push_str(&format!("[[outcome]]\nid = \"{o}\"\n"));
        if *o == "P2.2" {
            text.push_str("window_days = 365\n");
        }
    }
    text.push_str("[[model]]\nkind = \"cumulative_incidence\"\n[[model]]\nkind = \"proportion\"\n");
    Protocol::parse("dashboard", &text).map_err(|e| anyhow::anyhow!("{e}"))
}

fn outcome<'a>(b: &'a Bundle, id: &str) -> Option<&'a OutcomeResult> {
    b.outcomes.iter().find(|o| o.outcome.id == id)
}

fn median(b: &Bundle, group: &str) -> Option<f64> {
    outcome(b, "P1.1")?
        .medians
        .iter()
        .find(|m| m.group == group)
        .and_then(|m| m.median)
}

fn proportion(b: &Bundle, id: &str, group: &str, label_start: &str) -> Option<f64> {
    outcome(b, id)?
        .proportions
        .iter()
        .find(|p| p.group == group && p.label.starts_with(label_start))
        .and_then(|p| p.estimate)
}

/// Median days to safety per centre, each read off its Aalen–Johansen curve after the curve gate
/// (every published step pools at least `k` children). The row-level dataset stays here.
fn centre_medians(
    conn: &Connection,
    extract: &str,
    release: &str,
    k: u64,
) -> anyhow::Result<BTreeMap<String, Option<f64>>> {
    let mut protocol = dashboard_protocol(extract, "community", None, &["P1.1"])?;
    protocol.groups = None;
    let prepared = worker::prepare(protocol, release, String::new())?;
    prepared.build_cohort(conn)?;
    let outcome = prepared
        .compiled
        .outcomes
        .first()
        .context("the dashboard protocol has no outcome")?;
    let data = crate::study::fetch_dataset(conn, outcome, &prepared.compiled)?;
    // The last row of each episode carries its final status.
    let last: Vec<usize> = (0..data.len())
        .filter(|&i| i + 1 == data.len() || data.episode(i + 1) != data.episode(i))
        .filter(|&i| data.t_stop[i].is_some() && data.status[i].is_some())
        .collect();
    let mut centres: Vec<String> = last.iter().map(|&i| data.centre(i).to_string()).collect();
    centres.sort();
    centres.dedup();
    let time: Vec<f64> = last
        .iter()
        .map(|&i| data.t_stop[i].unwrap_or(0.0))
        .collect();
    let cause: Vec<u32> = last
        .iter()
        .map(|&i| data.status[i].unwrap_or(0).max(0) as u32)
        .collect();
    let group: Vec<u32> = last
        .iter()
        .map(|&i| {
            centres
                .iter()
                .position(|c| c == data.centre(i))
                .unwrap_or(0) as u32
        })
        .collect();
    let fits = aalen_johansen_by_group(
        &CompetingRisks::new(&time, &cause),
        &group,
        &AalenJohansenOptions::default(),
    )?;
    let gate = Gate { k };
    let mut out = BTreeMap::new();
    for g in &fits {
        let Some(name) = centres.get(g.group as usize) else {
            continue;
        };
        let inc = &g.incidence;
        let n_start = group.iter().filter(|&&x| x == g.group).count() as u64;
        let median = inc.causes.iter().find(|c| c.cause == 1).and_then(|safety| {
            let rows: Vec<CurveRow> = (0..inc.time.len())
                .map(|i| {
                    let leaving =
                        inc.n_censor[i] + inc.causes.iter().map(|c| c.n_event[i]).sum::<f64>();
                    CurveRow {
                        time: inc.time[i],
                        n_risk: inc.n_risk[i].round() as u64,
                        n_event: safety.n_event[i].round() as u64,
                        n_censor: (leaving - safety.n_event[i]).round().max(0.0) as u64,
                        estimate: safety.incidence[i],
                        lower: None,
                        upper: None,
                    }
                })
                .collect();
            let published = gate.curve(n_start, &rows).ok()?;
            published
                .steps
                .iter()
                .find(|s| s.estimate >= 0.5)
                .map(|s| s.time)
        });
        out.insert(name.clone(), median);
    }
    Ok(out)
}

/// Computes the dashboard of `release`, every count gated with threshold `k`.
pub fn compute(
    conn: &Connection,
    release: &str,
    release_hash: &str,
    k: u64,
    progress: &ProgressBar,
) -> anyhow::Result<DashboardData> {
    let gate = Gate { k };
    let extract: String = conn
        .query_row(
            "SELECT CAST(extract_date AS TEXT) FROM data_release WHERE release_id = ?",
            params![release],
            |r| r.get(0),
        )
        .context("reading the release's extract date")?;
    progress.set_message("counting children and reports");
    let community = "c.community";
    let centre = "c.centre_id";
    let tables = [
        (CHILDREN_SQL, community, "children by community"),
        (REPORTS_SQL, community, "reports by community"),
        (CHILDREN_SQL, centre, "children by centre"),
        (REPORTS_SQL, centre, "reports by centre"),
    ];
    let mut gated = Vec::new();
    for (sql, row, title) in tables {
        let t = crosstab(conn, &sql.replace("{row}", row), release, title)?;
        gated.push(gate.table(&t));
        progress.inc(1);
    }
    let mut years: Vec<String> = gated[0].columns.clone();
    years.sort();
    years.dedup();

    progress.set_message("outcomes by community");
    let by_community = dashboard_protocol(
        &extract,
        "community",
        Some(&["VL", "FWB"]),
        &["P1.1", "P2.2", "P3.2"],
    )?;
    let hashes = std::sync::Mutex::new(BTreeMap::from([(
        release.to_string(),
        release_hash.to_string(),
    )]));
    let b_comm = worker::study(conn, by_community, release, &hashes, progress)?;
    progress.set_message("time to safety by centre");
    let centre_medians = centre_medians(conn, &extract, release, b_comm.stamp.k_applied)?;
    progress.inc(1);

    let (children_c, reports_c, children_ce, reports_ce) = (
        Lookup { t: &gated[0] },
        Lookup { t: &gated[1] },
        Lookup { t: &gated[2] },
        Lookup { t: &gated[3] },
    );
    let mut tiles = Vec::new();
    for key in ["VL", "FWB", "total"] {
        let (rc, rr) = if key == "total" {
            (Some(children_c.total_row()), Some(reports_c.total_row()))
        } else {
            (children_c.row(key), reports_c.row(key))
        };
        tiles.push(Tile {
            key: key.to_string(),
            reports: reports_c.total(rr),
            children: children_c.total(rc),
            children_by_year: years.iter().map(|y| children_c.cell(rc, y)).collect(),
            reports_by_year: years.iter().map(|y| reports_c.cell(rr, y)).collect(),
            median_safety: if key == "total" {
                None
            } else {
                median(&b_comm, key)
            },
            recurrence: if key == "total" {
                None
            } else {
                proportion(&b_comm, "P2.2", key, "substantiated_recurrence within")
            },
            recovery: if key == "total" {
                None
            } else {
                proportion(&b_comm, "P3.2", key, "recovered (")
            },
        });
    }
    let mut centres = Vec::new();
    for (i, id) in gated[2].rows.iter().enumerate() {
        let rr = reports_ce.row(id);
        centres.push(CentreRow {
            id: id.clone(),
            reports: reports_ce.total(rr),
            children: children_ce.total(Some(i)),
            children_by_year: years.iter().map(|y| children_ce.cell(Some(i), y)).collect(),
            median_safety: centre_medians.get(id).copied().flatten(),
        });
    }
    let notes = vec![
        format!(
            "Counts under {k} are shown as <{k}; x hides a count that would let one be recomputed from the totals."
        ),
        format!(
            "Medians and proportions come from study runs gated with k = {} (curves coarsened so no step shows fewer than k children).",
            b_comm.stamp.k_applied
        ),
    ];
    Ok(DashboardData {
        k,
        release: release.to_string(),
        extract_date: extract,
        years,
        tiles,
        centres,
        notes,
    })
}
