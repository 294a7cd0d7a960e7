//! Cohort SQL: the entry episodes, one CTE per rule, the attrition counts, the transfer chains
//! and how follow-up can end.

use super::{CHAIN_EVENT_TYPES, CovariateColumn, Params, Statement, Step};
use crate::covariates;
use crate::protocol::{EntryKind, FormsMatch, Protocol, Range, Rule, Timing};

/// The `WITH ...` part up to the last rule, and the steps (entry, then one per rule, then the
/// comparison groups). Each step's CTE adds `kept_<i>`: whether the row passed steps 0..=i. Rows are
/// marked rather than dropped, so one pass over the entry episodes yields every attrition count.
fn ctes(p: &Protocol, release_id: &str, params: &mut Params) -> (String, Vec<Step>) {
    let release = params.text(release_id);
    let from = params.date(&p.cohort.entry_from);
    let to = params.date(&p.cohort.entry_to);
    let mut sql = format!(
        "WITH RECURSIVE
-- every episode entering in the window; an episode that continues a transfer is not an entry
entry_candidates AS (
  SELECT e.release_id, e.episode_id, e.child_pid, ch.family_pid, e.centre_id, ce.community,
         ce.region, e.entry_date, e.episode_seq, e.melding_type, e.referral_source,
         rs.source_group, ch.sex, e.age_at_entry_months, e.index_report_id,
         pf.primary_form,
         ch.date_of_18th_birthday AS d18,
         COALESCE(ow.obs_end, dr.extract_date) AS obs_end,
         COALESCE(ow.obs_end_reason, 'EXTRACT') AS obs_end_reason,
         dr.extract_date
    FROM episode e
    JOIN data_release dr ON dr.release_id = e.release_id
    JOIN centre ce ON ce.centre_id = e.centre_id
    JOIN referral_source rs ON rs.source_code = e.referral_source
    JOIN child ch ON ch.release_id = e.release_id AND ch.child_pid = e.child_pid
    LEFT JOIN (SELECT report_id, child_pid, min(form_code) AS primary_form
                 FROM report_child_form WHERE release_id = {release} AND is_primary
                GROUP BY report_id, child_pid) pf
           ON pf.report_id = e.index_report_id AND pf.child_pid = e.child_pid
    LEFT JOIN observation_window ow ON ow.release_id = e.release_id AND ow.child_pid = e.child_pid
   WHERE e.release_id = {release}
     AND e.entry_date BETWEEN {from} AND {to}
     AND NOT EXISTS (SELECT 1 FROM episode t WHERE t.release_id = e.release_id
                                              AND t.transferred_to_episode_id = e.episode_id)
),
"
    );
    match p.cohort.entry {
        EntryKind::First => sql.push_str(
            "-- entry: each child's first entry episode in the window
entry AS (
  SELECT ranked.*, TRUE AS kept_0 FROM (
    SELECT x.*, row_number() OVER (PARTITION BY x.child_pid
                                   ORDER BY x.entry_date, x.episode_seq, x.episode_id) AS entry_rank
      FROM entry_candidates x) ranked
   WHERE entry_rank = 1
)",
        ),
        EntryKind::Every => sql.push_str(
            "-- entry: every entry episode in the window
entry AS (
  SELECT x.*, 1 AS entry_rank, TRUE AS kept_0 FROM entry_candidates x
)",
        ),
    }
    let mut steps = vec![Step {
        name: "entry".into(),
        cte: "entry".into(),
        exclude: false,
    }];
    for (i, rule) in p.cohort.rules.iter().enumerate() {
        let prev = steps.last().map_or("entry".to_string(), |s| s.cte.clone());
        let cte = format!("r{:02}_{}", i + 1, slug(&rule.name));
        let cond = condition(rule, params);
        let passes = if rule.exclude {
            format!("NOT COALESCE({cond}, FALSE)")
        } else {
            format!("COALESCE({cond}, FALSE)")
        };
        sql.push_str(&format!(
            ",\n-- rule {n}: {} {}\n{cte} AS (\n  SELECT c.*, c.kept_{i} AND {passes} AS kept_{n}\n    FROM {prev} c\n)",
            if rule.exclude { "exclude" } else { "include" },
            rule.name.replace('\n', " "),
            n = i + 1,
        ));
        steps.push(Step {
            name: rule.name.clone(),
            cte,
            exclude: rule.exclude,
        });
    }
    if let Some(g) = &p.groups
        && let (Some(by), Some(levels)) = (&g.by, &g.levels)
    {
        let prev = steps.last().map_or("entry".to_string(), |s| s.cte.clone());
        let e = covariates::sql(by, params).unwrap_or_else(|| "NULL".into());
        let list = params.list(levels);
        let (i, n) = (steps.len() - 1, steps.len());
        sql.push_str(&format!(
            ",\n-- the comparison groups\ngroup_levels AS (\n  SELECT c.*, c.kept_{i} AND COALESCE(CAST({e} AS VARCHAR) IN {list}, FALSE) AS kept_{n}\n    FROM {prev} c\n)"
        ));
        steps.push(Step {
            name: format!("{by} is {}", levels.join(" or ")),
            cte: "group_levels".into(),
            exclude: false,
        });
    }
    (sql, steps)
}

/// A CTE name part from a rule name: lower-case letters, digits and `_`.
fn slug(name: &str) -> String {
    let mut s: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while s.contains("__") {
        s = s.replace("__", "_");
    }
    let s = s.trim_matches('_');
    let s: String = s.chars().take(40).collect();
    if s.is_empty() { "rule".into() } else { s }
}

fn range(expr: &str, r: &Range, scale: i64, top_pad: i64, p: &mut Params) -> String {
    let mut parts = Vec::new();
    if let Some(a) = r.min {
        parts.push(format!("{expr} >= {}", p.int(a * scale)));
    }
    if let Some(b) = r.max {
        parts.push(format!("{expr} <= {}", p.int(b * scale + top_pad)));
    }
    if parts.is_empty() {
        "TRUE".into()
    } else {
        format!("({})", parts.join(" AND "))
    }
}

/// The SQL condition of a rule's one criterion over the episode row `c`.
fn condition(r: &Rule, p: &mut Params) -> String {
    let index_forms = "SELECT 1 FROM report_child_form f WHERE f.release_id = c.release_id \
                       AND f.report_id = c.index_report_id AND f.child_pid = c.child_pid";
    if let Some(a) = &r.age_at_entry_years {
        return range("c.age_at_entry_months", a, 12, 11, p);
    }
    if let Some(a) = &r.age_at_entry_months {
        return range("c.age_at_entry_months", a, 1, 0, p);
    }
    if let Some(b) = r.prenatal {
        return if b {
            "(c.age_at_entry_months < 0)".into()
        } else {
            "(c.age_at_entry_months >= 0)".into()
        };
    }
    let in_list = |col: &str, v: &[String], p: &mut Params| format!("({col} IN {})", p.list(v));
    if let Some(v) = &r.sex {
        return in_list("c.sex", v, p);
    }
    if let Some(v) = &r.community {
        return in_list("c.community", v, p);
    }
    if let Some(v) = &r.region {
        return in_list("c.region", v, p);
    }
    if let Some(v) = &r.centre {
        return in_list("c.centre_id", v, p);
    }
    if let Some(v) = &r.referral_source {
        return in_list("c.referral_source", v, p);
    }
    if let Some(v) = &r.referral_group {
        return in_list("c.source_group", v, p);
    }
    if let Some(v) = &r.melding_type {
        return in_list("c.melding_type", v, p);
    }
    if let Some(v) = &r.forms {
        return match r.forms_match.unwrap_or(FormsMatch::Any) {
            FormsMatch::Any => format!("EXISTS ({index_forms} AND f.form_code IN {})", p.list(v)),
            FormsMatch::Primary => in_list("c.primary_form", v, p),
            FormsMatch::All => {
                let mut distinct = v.clone();
                distinct.sort();
                distinct.dedup();
                let n = distinct.len() as i64;
                format!(
                    "((SELECT count(DISTINCT f.form_code) FROM report_child_form f \
                     WHERE f.release_id = c.release_id AND f.report_id = c.index_report_id \
                     AND f.child_pid = c.child_pid AND f.form_code IN {}) = {})",
                    p.list(&distinct),
                    p.int(n)
                )
            }
        };
    }
    if let Some(v) = &r.findings {
        return format!("EXISTS ({index_forms} AND f.finding IN {})", p.list(v));
    }
    if let Some(v) = &r.contexts {
        return format!(
            "EXISTS (SELECT 1 FROM episode_context x WHERE x.release_id = c.release_id \
             AND x.episode_id = c.episode_id AND x.context_code IN {})",
            p.list(v)
        );
    }
    if let Some(b) = r.prior_episodes {
        return if b {
            "(c.episode_seq > 1)".into()
        } else {
            "(c.episode_seq = 1)".into()
        };
    }
    if let Some(s) = &r.episode_seq {
        return range("c.episode_seq", s, 1, 0, p);
    }
    if let Some(days) = r.washout_days {
        return format!(
            "NOT EXISTS (SELECT 1 FROM report_child rc JOIN report r \
             ON r.release_id = rc.release_id AND r.report_id = rc.report_id \
             WHERE rc.release_id = c.release_id AND rc.child_pid = c.child_pid \
             AND r.report_date < c.entry_date AND r.report_date >= c.entry_date - {})",
            p.int(days)
        );
    }
    if let Some(y) = &r.entry_year {
        return range("EXTRACT(YEAR FROM c.entry_date)", y, 1, 0, p);
    }
    "TRUE".into()
}

/// `CREATE TEMP TABLE study_entry`: every entry episode with `kept_<i>` for each step.
pub(super) fn entry_statement(p: &Protocol, release_id: &str) -> (Statement, Vec<Step>) {
    let mut params = Params::default();
    let (ctes, steps) = ctes(p, release_id, &mut params);
    let last = steps.last().map_or("entry".to_string(), |s| s.cte.clone());
    let sql = format!("CREATE OR REPLACE TEMP TABLE study_entry AS\n{ctes}\nSELECT * FROM {last}");
    (Statement { sql, params }, steps)
}

/// `CREATE TEMP TABLE study_cohort`: the entry episodes kept by every step, with covariates and
/// comparison group.
pub(super) fn cohort_statement(
    p: &Protocol,
    steps: &[Step],
    covs: &[CovariateColumn],
) -> Statement {
    let mut params = Params::default();
    let mut cols = Vec::new();
    for c in covs {
        let expr = covariates::sql(&c.name, &mut params).unwrap_or_else(|| "NULL".into());
        cols.push(format!("{expr} AS {}", c.column));
    }
    let group = match &p.groups {
        Some(g) => match (&g.by, &g.intervention) {
            (Some(by), _) => {
                let e = covariates::sql(by, &mut params).unwrap_or_else(|| "NULL".into());
                format!("CAST({e} AS VARCHAR)")
            }
            (None, Some(code)) => {
                // The group of the curves: treated when the intervention starts within
                // `within_days` of entry (timing baseline / time-varying) or ever (timing ever).
                let code = params.text(code);
                let window = match g.timing.unwrap_or(Timing::TimeVarying) {
                    Timing::Ever => String::new(),
                    _ => format!(
                        " AND x.start_date <= c.entry_date + {}",
                        params.int(g.within_days.unwrap_or(30))
                    ),
                };
                format!(
                    "CASE WHEN EXISTS (SELECT 1 FROM intervention x JOIN episode xe \
                     ON xe.release_id = x.release_id AND xe.episode_id = x.episode_id \
                     WHERE x.release_id = c.release_id AND xe.child_pid = c.child_pid \
                     AND x.intervention_code = {code} AND x.start_date >= c.entry_date{window}) \
                     THEN 'treated' ELSE 'untreated' END"
                )
            }
            _ => "'all'".into(),
        },
        None => "'all'".into(),
    };
    cols.push(format!("{group} AS grp"));
    let sql = format!(
        "CREATE OR REPLACE TEMP TABLE study_cohort AS
SELECT * FROM (
  SELECT c.*, {}
    FROM study_entry c
   WHERE c.kept_{}
) cohort_rows
ORDER BY child_pid, entry_date, episode_id",
        cols.join(",\n         "),
        steps.len() - 1
    );
    Statement { sql, params }
}

/// Children and episodes remaining after each step, from `study_entry`.
pub(super) fn attrition_statement(steps: &[Step]) -> Statement {
    let counts: Vec<String> = (0..steps.len())
        .map(|i| {
            format!(
                "SELECT {i} AS step, count(DISTINCT child_pid) AS children, count(*) AS episodes \
                 FROM study_entry WHERE kept_{i}"
            )
        })
        .collect();
    Statement {
        sql: format!("{}\nORDER BY step", counts.join("\nUNION ALL\n")),
        params: Params::default(),
    }
}

/// Which steps kept one child (`study why`): one row per step with 0/1.
pub(super) fn why_statement(p: &Protocol, release_id: &str, child: &str) -> (Statement, Vec<Step>) {
    let mut params = Params::default();
    let (ctes, steps) = ctes(p, release_id, &mut params);
    let last = steps.last().map_or("entry".to_string(), |s| s.cte.clone());
    let pid = params.text(child);
    let rows: Vec<String> = (0..steps.len())
        .map(|i| {
            format!(
                "SELECT {i} AS step, count(*) AS episodes, min(entry_date) AS first_entry \
                 FROM child_rows WHERE kept_{i}"
            )
        })
        .collect();
    (
        Statement {
            sql: format!(
                "{ctes},\nchild_rows AS (SELECT * FROM {last} WHERE child_pid = {pid})\n{}\nORDER BY step",
                rows.join("\nUNION ALL\n")
            ),
            params,
        },
        steps,
    )
}

/// `study_chain` (entry episode → the episodes continuing it) and `study_followup` (per entry
/// episode: the closing of its last episode, when the child left the data, when follow-up ends
/// administratively, death, and the first start of the compared intervention), then the cohort's
/// slices of the large case tables (`study_events`, `study_child_events`, `study_reports`,
/// `study_placements`, `study_assessments`), so every outcome reads a few rows per child instead
/// of joining the whole table again.
pub(super) fn chain_statements(p: &Protocol, release_id: &str) -> Vec<Statement> {
    let with_release = |sql: &dyn Fn(&str) -> String| {
        let mut params = Params::default();
        let release = params.text(release_id);
        Statement {
            sql: sql(&release),
            params,
        }
    };
    let chain = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_chain AS
WITH RECURSIVE transfer AS (
  -- transfers to an episode the release holds
  SELECT e.episode_id, e.transferred_to_episode_id AS next_episode_id
    FROM episode e
    JOIN episode nx ON nx.release_id = e.release_id AND nx.episode_id = e.transferred_to_episode_id
   WHERE e.release_id = {release}
),
chain (root, episode_id, depth) AS (
  SELECT episode_id, episode_id, 0 FROM study_cohort
  UNION ALL
  SELECT ch.root, t.next_episode_id, ch.depth + 1
    FROM chain ch JOIN transfer t ON t.episode_id = ch.episode_id
   WHERE ch.depth < 100
)
SELECT root, episode_id, depth FROM chain ORDER BY root, depth"
        )
    });
    let mut params = Params::default();
    let release = params.text(release_id);
    let tx = match p.groups.as_ref().and_then(|g| g.intervention.as_ref()) {
        Some(code) => {
            let code = params.text(code);
            format!(
                "(SELECT min(x.start_date) FROM intervention x JOIN episode xe
             ON xe.release_id = x.release_id AND xe.episode_id = x.episode_id
          WHERE x.release_id = c.release_id AND xe.child_pid = c.child_pid
            AND x.intervention_code = {code} AND x.start_date >= c.entry_date)"
            )
        }
        None => "CAST(NULL AS DATE)".into(),
    };
    let followup = Statement {
        sql: format!(
            "CREATE OR REPLACE TEMP TABLE study_followup AS
WITH last_episode AS (
  SELECT ch.root, e.closure_date, e.closure_reason, e.transferred_to_episode_id
    FROM (SELECT root, episode_id, depth, max(depth) OVER (PARTITION BY root) AS last_depth
            FROM study_chain) ch
    JOIN episode e ON e.release_id = {release} AND e.episode_id = ch.episode_id
   WHERE ch.depth = ch.last_depth
)
SELECT c.episode_id,
       l.closure_date AS end_closure_date,
       l.closure_reason AS end_closure_reason,
       -- a transfer to a centre outside the data ends what can be observed
       CASE WHEN l.closure_reason = 'TRANSFER_OTHER_CENTRE' THEN l.closure_date END AS left_data_date,
       -- administrative end: extract date, moving abroad, lost to follow-up
       CASE WHEN c.obs_end_reason IN ('EXTRACT', 'MOVED_ABROAD', 'LOST') THEN c.obs_end
            ELSE c.extract_date END AS admin_end,
       CASE WHEN c.obs_end_reason = 'DEATH' THEN c.obs_end END AS death_date,
       {tx} AS tx_start
  FROM study_cohort c
  LEFT JOIN last_episode l ON l.root = c.episode_id
 ORDER BY c.episode_id"
        ),
        params,
    };
    let events = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_events AS
-- the events outcomes read, of each entry episode's transfer chain or of no episode, keyed k by
-- the entry episode
SELECT ch.root AS k, e.child_pid, e.event_type, e.event_date, e.interval_lower
  FROM study_chain ch
  JOIN study_cohort c ON c.episode_id = ch.root
  JOIN event e ON e.release_id = {release} AND e.child_pid = c.child_pid
              AND e.episode_id = ch.episode_id
 WHERE e.event_type IN {CHAIN_EVENT_TYPES}
UNION ALL
SELECT c.episode_id AS k, e.child_pid, e.event_type, e.event_date, e.interval_lower
  FROM study_cohort c
  JOIN event e ON e.release_id = {release} AND e.child_pid = c.child_pid
 WHERE e.episode_id IS NULL AND e.event_type IN {CHAIN_EVENT_TYPES}"
        )
    });
    let child_events = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_child_events AS
-- the cohort's children's events of any episode that outcomes read by child
SELECT e.child_pid, e.event_type, e.event_date
  FROM event e
 WHERE e.release_id = {release}
   AND e.event_type IN ('SAFETY_BREACH', 'PLACEMENT_START', 'PLACEMENT_MOVE')
   AND e.child_pid IN (SELECT child_pid FROM study_cohort)"
        )
    });
    let reports = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_reports AS
-- the cohort's children's reports that are not flagged as duplicates, and whether a finding
-- substantiated them (or indicated maltreatment) by the extract date
SELECT rc.child_pid, rc.report_id, r.report_date, r.report_kind,
       COALESCE(sub.substantiated, FALSE) AS substantiated
  FROM report_child rc
  JOIN report r ON r.release_id = rc.release_id AND r.report_id = rc.report_id
  LEFT JOIN (SELECT f.report_id, f.child_pid, TRUE AS substantiated
               FROM report_child_form f JOIN data_release dr ON dr.release_id = f.release_id
              WHERE f.release_id = {release} AND f.finding IN ('SUBSTANTIATED', 'INDICATED')
                AND f.finding_date <= dr.extract_date
              GROUP BY f.report_id, f.child_pid) sub
         ON sub.report_id = rc.report_id AND sub.child_pid = rc.child_pid
 WHERE rc.release_id = {release} AND rc.is_duplicate_of IS NULL
   AND rc.child_pid IN (SELECT child_pid FROM study_cohort)"
        )
    });
    let placements = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_placements AS
-- the cohort's children's placements
SELECT pe.child_pid, pl.episode_id, pl.start_date, pl.end_date, pl.exit_reason,
       pl.is_trial_home_visit
  FROM placement pl
  JOIN episode pe ON pe.release_id = pl.release_id AND pe.episode_id = pl.episode_id
 WHERE pl.release_id = {release}
   AND pe.child_pid IN (SELECT child_pid FROM study_cohort)"
        )
    });
    let assessments = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_assessments AS
-- the cohort's children's valid assessments
SELECT a.child_pid, a.instrument_code, a.assessment_id, a.assessment_date, a.score
  FROM assessment a
 WHERE a.release_id = {release} AND a.is_valid
   AND a.child_pid IN (SELECT child_pid FROM study_cohort)"
        )
    });
    vec![
        chain,
        followup,
        events,
        child_events,
        reports,
        placements,
        assessments,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_plain() {
        assert_eq!(slug("Aged 0–17 at entry!"), "aged_0_17_at_entry");
        assert_eq!(slug("   "), "rule");
    }
}
