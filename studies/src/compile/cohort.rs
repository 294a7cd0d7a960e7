//! Cohort SQL: the entry episodes, one CTE per rule, the attrition counts, the transfer chains
//! and how follow-up can end.

use super::{CHAIN_EVENT_TYPES, CovariateColumn, Params, Statement, Step};
use crate::covariates;
use crate::protocol::{EntryKind, FormsMatch, Protocol, Range, Rule, Timing};

/// What the entry rows carry beyond the episode, child and centre: the data rules read from
/// other tables.
#[derive(Debug, Clone, Copy)]
pub(super) struct RuleData {
    /// Forms and findings of the index report (`index_forms`, `index_findings`).
    pub index_report: bool,
    /// The episode's contexts (`contexts`).
    pub contexts: bool,
    /// The child's last report before entry (`last_report_before_entry`).
    pub washout: bool,
}

impl RuleData {
    /// What `p`'s rules read.
    pub fn of(p: &Protocol) -> RuleData {
        let rules = &p.cohort.rules;
        RuleData {
            index_report: rules.iter().any(|r| {
                r.findings.is_some()
                    || (r.forms.is_some() && r.forms_match != Some(FormsMatch::Primary))
            }),
            contexts: rules.iter().any(|r| r.contexts.is_some()),
            washout: rules.iter().any(|r| r.washout_days.is_some()),
        }
    }

    /// What any rule can read (the terminal UI edits rules over one entry table).
    pub fn all() -> RuleData {
        RuleData {
            index_report: true,
            contexts: true,
            washout: true,
        }
    }
}

/// The CTEs `entry_candidates` and `entry` (the entry episodes with what the rules read, and
/// `kept_0`), without the `WITH`.
fn entry_ctes(p: &Protocol, release_id: &str, data: RuleData, params: &mut Params) -> String {
    let release = params.text(release_id);
    let from = params.date(&p.cohort.entry_from);
    let to = params.date(&p.cohort.entry_to);
    let (rank, first_only, which) = match p.cohort.entry {
        EntryKind::First => (
            "row_number() OVER (PARTITION BY e.child_key
                                   ORDER BY e.entry_date, e.episode_seq, e.episode_key)",
            "\n   WHERE x.entry_rank = 1",
            "each child's first entry episode in the window",
        ),
        EntryKind::Every => ("1", "", "every entry episode in the window"),
    };
    let first_and = if first_only.is_empty() {
        ""
    } else {
        " AND x.entry_rank = 1"
    };
    let (forms_note, forms_cols, ix_cols) = if data.index_report {
        (
            ", its forms and its findings",
            ",\n         list(f.form_code) AS index_forms,\n         \
             list(f.finding) FILTER (WHERE f.finding IS NOT NULL) AS index_findings",
            " ix.index_forms, ix.index_findings,",
        )
    } else {
        ("", "", "")
    };
    let (contexts_cte, ec_cols, ec_join) = if data.contexts {
        (
            format!(
                "
-- the contexts of each entry episode
entry_contexts AS (
  SELECT t.episode_key, list(t.context_code) AS contexts
    FROM episode_context t
   WHERE t.release_id = {release}
     AND t.episode_key IN (SELECT x.episode_key FROM entry_candidates x WHERE TRUE{first_and})
   GROUP BY t.episode_key
),"
            ),
            " ec.contexts,",
            "\n    LEFT JOIN entry_contexts ec ON ec.episode_key = x.episode_key",
        )
    } else {
        (String::new(), "", "")
    };
    let (washout_cte, wo_cols, wo_join) = if data.washout {
        (
            format!(
                "
-- the child's last report before each entry (washout)
report_before AS (
  SELECT x.episode_key, max(r.report_date) AS last_report_before_entry
    FROM entry_candidates x
    JOIN report_child rc ON rc.release_id = {release} AND rc.child_key = x.child_key
    JOIN report r ON r.release_id = {release} AND r.report_key = rc.report_key
   WHERE r.report_date < x.entry_date{first_and}
   GROUP BY x.episode_key
),"
            ),
            " wb.last_report_before_entry,",
            "\n    LEFT JOIN report_before wb ON wb.episode_key = x.episode_key",
        )
    } else {
        (String::new(), "", "")
    };
    format!(
        "-- every episode entering in the window; an episode that continues a transfer is not an entry.
-- Joins and sorts use the store's integer keys (child_key, episode_key, report_key: numbered in
-- identifier order), never the text identifiers.
entry_candidates AS (
  SELECT e.release_id, e.episode_id, e.episode_key, e.child_pid, e.child_key, e.centre_id,
         e.entry_date, e.episode_seq, e.melding_type, e.referral_source, e.age_at_entry_months,
         e.index_report_key,
         {rank} AS entry_rank
    FROM episode e
   WHERE e.release_id = {release}
     AND e.entry_date BETWEEN {from} AND {to}
     AND NOT EXISTS (SELECT 1 FROM episode t WHERE t.release_id = {release}
                                              AND t.transferred_to_episode_key = e.episode_key)
),
-- the primary form of each entry's index report{forms_note}
index_report AS (
  SELECT x.episode_key, min(f.form_code) FILTER (WHERE f.is_primary) AS primary_form{forms_cols}
    FROM entry_candidates x
    JOIN report_child_form f ON f.release_id = {release} AND f.report_key = x.index_report_key
                            AND f.child_key = x.child_key{first_and}
   GROUP BY x.episode_key
),{contexts_cte}{washout_cte}
-- entry: {which}, with what the rules read, so that rules are conditions on this row
entry AS (
  SELECT x.*, ch.family_pid, ce.community, ce.region, rs.source_group, ch.sex,
         ix.primary_form,{ix_cols}{ec_cols}{wo_cols}
         ch.date_of_18th_birthday AS d18,
         COALESCE(ow.obs_end, dr.extract_date) AS obs_end,
         COALESCE(ow.obs_end_reason, 'EXTRACT') AS obs_end_reason,
         dr.extract_date,
         TRUE AS kept_0
    FROM entry_candidates x
    JOIN data_release dr ON dr.release_id = {release}
    JOIN centre ce ON ce.centre_id = x.centre_id
    JOIN referral_source rs ON rs.source_code = x.referral_source
    JOIN child ch ON ch.release_id = {release} AND ch.child_key = x.child_key
    LEFT JOIN index_report ix ON ix.episode_key = x.episode_key{ec_join}{wo_join}
    LEFT JOIN observation_window ow ON ow.release_id = {release} AND ow.child_key = x.child_key{first_only}
)"
    )
}

/// The CTEs of the rules and the comparison groups over `entry` (each starting with `,`), and the
/// steps (entry, then one per rule, then the groups). Each step's CTE adds `kept_<i>`: whether
/// the row passed steps 0..=i. Rows are marked rather than dropped, so one pass over the entry
/// episodes yields every attrition count.
fn rule_ctes(p: &Protocol, params: &mut Params) -> (String, Vec<Step>) {
    let mut sql = String::new();
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
        let e = covariates::sql(by, "c.release_id", params).unwrap_or_else(|| "NULL".into());
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
            FormsMatch::Any => format!("list_has_any(c.index_forms, {})", p.array(v)),
            FormsMatch::Primary => in_list("c.primary_form", v, p),
            FormsMatch::All => format!("list_has_all(c.index_forms, {})", p.array(v)),
        };
    }
    if let Some(v) = &r.findings {
        return format!("list_has_any(c.index_findings, {})", p.array(v));
    }
    if let Some(v) = &r.contexts {
        return format!("list_has_any(c.contexts, {})", p.array(v));
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
            "(c.last_report_before_entry IS NULL OR c.last_report_before_entry < c.entry_date - {})",
            p.int(days)
        );
    }
    if let Some(y) = &r.entry_year {
        return range("EXTRACT(YEAR FROM c.entry_date)", y, 1, 0, p);
    }
    "TRUE".into()
}

/// `CREATE TEMP TABLE study_entry_base`: the entry episodes with what the rules read. It
/// depends on the release, the entry window and the entry kind only, so the terminal UI keeps it
/// while rules change.
pub(super) fn entry_base_statement(p: &Protocol, release_id: &str, data: RuleData) -> Statement {
    let mut params = Params::default();
    let ctes = entry_ctes(p, release_id, data, &mut params);
    Statement {
        sql: format!(
            "CREATE OR REPLACE TEMP TABLE study_entry_base AS\nWITH\n{ctes}\nSELECT * FROM entry"
        ),
        params,
    }
}

/// `WITH entry AS (... study_entry_base), <rule CTEs>` and the steps.
fn marked(p: &Protocol, params: &mut Params) -> (String, Vec<Step>) {
    let (rules, steps) = rule_ctes(p, params);
    (
        format!("WITH entry AS (SELECT * FROM study_entry_base){rules}"),
        steps,
    )
}

/// `CREATE TEMP TABLE study_cohort`: the entry episodes kept by every step, with covariates and
/// comparison group.
pub(super) fn cohort_statement(p: &Protocol, covs: &[CovariateColumn]) -> (Statement, Vec<Step>) {
    let mut params = Params::default();
    let (ctes, steps) = marked(p, &mut params);
    let last = steps.last().map_or("entry".to_string(), |s| s.cte.clone());
    // The rows carry their release (a bound placeholder might go unused).
    let release = "c.release_id";
    let mut cols = Vec::new();
    for c in covs {
        let expr = covariates::sql(&c.name, release, &mut params).unwrap_or_else(|| "NULL".into());
        cols.push(format!("{expr} AS {}", c.column));
    }
    let group = match &p.groups {
        Some(g) => match (&g.by, &g.intervention) {
            (Some(by), _) => {
                let e = covariates::sql(by, release, &mut params).unwrap_or_else(|| "NULL".into());
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
                     ON xe.release_id = {release} AND xe.episode_key = x.episode_key \
                     WHERE x.release_id = {release} AND xe.child_key = c.child_key \
                     AND x.intervention_code = {code} AND x.start_date >= c.entry_date{window}) \
                     THEN 'treated' ELSE 'untreated' END"
                )
            }
            _ => "'all'".into(),
        },
        None => "'all'".into(),
    };
    cols.push(format!("{group} AS grp"));
    // cohort_row: the order every dataset keeps (by child, entry date, episode); child_row: the
    // child's number, so the study's own tables join on integers rather than on pseudonyms.
    // Numbered on these columns alone (a window over every column of the row costs twice as much).
    let kept = format!("kept_{}", steps.len() - 1);
    let sql = format!(
        "CREATE OR REPLACE TEMP TABLE study_cohort AS
{ctes},
cohort_order AS (
  SELECT episode_key, row_number() OVER (ORDER BY child_key, entry_date, episode_key) AS cohort_row,
         dense_rank() OVER (ORDER BY child_key) AS child_row
    FROM {last} WHERE {kept}
)
SELECT c.*, {}, n.cohort_row, n.child_row
  FROM {last} c JOIN cohort_order n ON n.episode_key = c.episode_key
 WHERE c.{kept}",
        cols.join(",\n         "),
    );
    (Statement { sql, params }, steps)
}

/// Children and episodes remaining after each step, from `study_entry_base`: the rules are
/// conditions on its rows, so every count comes from one pass. One row: `children_<i>`,
/// `episodes_<i>` for each step i.
pub(super) fn attrition_statement(p: &Protocol) -> Statement {
    let mut params = Params::default();
    let (ctes, steps) = marked(p, &mut params);
    let last = steps.last().map_or("entry".to_string(), |s| s.cte.clone());
    let counts: Vec<String> = (0..steps.len())
        .map(|i| {
            format!(
                "count(DISTINCT child_key) FILTER (WHERE kept_{i}) AS children_{i},\n       \
                 count(*) FILTER (WHERE kept_{i}) AS episodes_{i}"
            )
        })
        .collect();
    Statement {
        sql: format!(
            "{ctes}\nSELECT {}\n  FROM {last}",
            counts.join(",\n       ")
        ),
        params,
    }
}

/// Which steps kept one child (`study why`): one row per step with 0/1.
pub(super) fn why_statement(p: &Protocol, release_id: &str, child: &str) -> (Statement, Vec<Step>) {
    let mut params = Params::default();
    let entry = entry_ctes(p, release_id, RuleData::of(p), &mut params);
    let (rules, steps) = rule_ctes(p, &mut params);
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
                "WITH\n{entry}{rules},\nchild_rows AS (SELECT * FROM {last} WHERE child_pid = {pid})\n{}\nORDER BY step",
                rows.join("\nUNION ALL\n")
            ),
            params,
        },
        steps,
    )
}

/// `study_children` (each cohort child's `child_row`); `study_chain` (entry episode, by its
/// `cohort_row` → the episodes continuing it); the cohort's slices of the large case tables
/// (`study_events`, `study_child_events`, `study_reports`, `study_placements`,
/// `study_assessments`), keyed by `child_row` (or the entry's `cohort_row`), so every outcome
/// reads a few rows per child on an integer key instead of joining the whole table again on
/// pseudonyms; and `study_followup`: the cohort with, per entry episode, the closing of
/// its last episode, when the child left the data, when follow-up ends administratively, death,
/// the first start of the compared intervention, and when safety was reached (by each dating
/// rule, at home, by removal).
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
  -- transfers to an episode the release holds (the key is NULL for any other)
  SELECT e.episode_key, e.transferred_to_episode_key AS next_episode_key
    FROM episode e
   WHERE e.release_id = {release} AND e.transferred_to_episode_key IS NOT NULL
),
chain (root, episode_key, depth) AS (
  SELECT cohort_row, episode_key, 0 FROM study_cohort
  UNION ALL
  SELECT ch.root, t.next_episode_key, ch.depth + 1
    FROM chain ch JOIN transfer t ON t.episode_key = ch.episode_key
   WHERE ch.depth < 100
)
SELECT root, episode_key, depth FROM chain"
        )
    });
    let mut params = Params::default();
    let release = params.text(release_id);
    let tx = match p.groups.as_ref().and_then(|g| g.intervention.as_ref()) {
        Some(code) => {
            let code = params.text(code);
            format!(
                "(SELECT min(x.start_date) FROM intervention x JOIN episode xe
             ON xe.release_id = {release} AND xe.episode_key = x.episode_key
          WHERE x.release_id = {release} AND xe.child_key = c.child_key
            AND x.intervention_code = {code} AND x.start_date >= c.entry_date)"
            )
        }
        None => "CAST(NULL AS DATE)".into(),
    };
    let events = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_events AS
-- the events outcomes read, of each entry episode's transfer chain or of no episode, keyed k by
-- the entry episode's cohort_row
SELECT ch.root AS k, c.child_row, e.event_type, e.event_date, e.interval_lower
  FROM study_chain ch
  JOIN study_cohort c ON c.cohort_row = ch.root
  JOIN event e ON e.release_id = {release} AND e.child_key = c.child_key
              AND e.episode_key = ch.episode_key
 WHERE e.event_type IN {CHAIN_EVENT_TYPES}
UNION ALL
SELECT c.cohort_row AS k, c.child_row, e.event_type, e.event_date, e.interval_lower
  FROM study_cohort c
  JOIN event e ON e.release_id = {release} AND e.child_key = c.child_key
 WHERE e.episode_key IS NULL AND e.event_type IN {CHAIN_EVENT_TYPES}"
        )
    });
    let child_events = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_child_events AS
-- the cohort's children's events of any episode that outcomes read by child
SELECT ch.child_row, e.event_type, e.event_date
  FROM event e JOIN study_children ch ON ch.child_key = e.child_key
 WHERE e.release_id = {release}
   AND e.event_type IN ('SAFETY_BREACH', 'PLACEMENT_START', 'PLACEMENT_MOVE')"
        )
    });
    let reports = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_reports AS
-- the cohort's children's reports that are not flagged as duplicates, and whether a finding
-- substantiated them (or indicated maltreatment) by the extract date
SELECT ch.child_row, rc.report_key, r.report_date, r.report_kind,
       COALESCE(sub.substantiated, FALSE) AS substantiated
  FROM report_child rc
  JOIN study_children ch ON ch.child_key = rc.child_key
  JOIN report r ON r.release_id = {release} AND r.report_key = rc.report_key
  LEFT JOIN (SELECT f.report_key, f.child_key, TRUE AS substantiated
               FROM report_child_form f JOIN data_release dr ON dr.release_id = {release}
              WHERE f.release_id = {release} AND f.finding IN ('SUBSTANTIATED', 'INDICATED')
                AND f.finding_date <= dr.extract_date
              GROUP BY f.report_key, f.child_key) sub
         ON sub.report_key = rc.report_key AND sub.child_key = rc.child_key
 WHERE rc.release_id = {release} AND rc.is_duplicate_of IS NULL"
        )
    });
    let placements = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_placements AS
-- the cohort's children's placements
SELECT ch.child_row, pl.episode_key, pl.start_date, pl.end_date, pl.exit_reason,
       pl.is_trial_home_visit
  FROM placement pl
  JOIN episode pe ON pe.release_id = {release} AND pe.episode_key = pl.episode_key
  JOIN study_children ch ON ch.child_key = pe.child_key
 WHERE pl.release_id = {release}"
        )
    });
    let assessments = with_release(&|release| {
        format!(
            "CREATE OR REPLACE TEMP TABLE study_assessments AS
-- the cohort's children's valid assessments
SELECT ch.child_row, a.instrument_code, a.assessment_id, a.assessment_date, a.score
  FROM assessment a JOIN study_children ch ON ch.child_key = a.child_key
 WHERE a.release_id = {release} AND a.is_valid"
        )
    });
    let followup = Statement {
        sql: format!(
            "CREATE OR REPLACE TEMP TABLE study_followup AS
WITH last_episode AS (
  SELECT ch.root, e.closure_date, e.closure_reason
    FROM (SELECT root, episode_key, depth, max(depth) OVER (PARTITION BY root) AS last_depth
            FROM study_chain) ch
    JOIN episode e ON e.release_id = {release} AND e.episode_key = ch.episode_key
   WHERE ch.depth = ch.last_depth
),
-- safety reached: events of the chain on or after entry; in_placement: during a placement
safety_events AS (
  SELECT e.k, e.event_date, c.entry_date,
         COALESCE(e.interval_lower, e.event_date) AS lower_date,
         COALESCE(e.interval_lower + CAST(floor((e.event_date - e.interval_lower) / 2) AS INTEGER),
                  e.event_date) AS midpoint_date,
         EXISTS (SELECT 1 FROM study_placements pl WHERE pl.child_row = e.child_row
                    AND pl.start_date <= e.event_date
                    AND (pl.end_date IS NULL OR pl.end_date > e.event_date)) AS in_placement
    FROM study_events e JOIN study_cohort c ON c.cohort_row = e.k
   WHERE e.event_type = 'SAFETY_REACHED' AND e.event_date >= c.entry_date
),
-- the first safety date by each dating rule (recorded, interval lower bound, midpoint), and
-- the first at home
safety AS (
  SELECT k,
         min(GREATEST(event_date, entry_date)) AS safety_recorded,
         min(GREATEST(lower_date, entry_date)) AS safety_lower,
         min(GREATEST(midpoint_date, entry_date)) AS safety_midpoint,
         min(CASE WHEN NOT in_placement THEN GREATEST(event_date, entry_date) END) AS home_recorded,
         min(CASE WHEN NOT in_placement THEN GREATEST(lower_date, entry_date) END) AS home_lower,
         min(CASE WHEN NOT in_placement THEN GREATEST(midpoint_date, entry_date) END) AS home_midpoint
    FROM safety_events GROUP BY k
),
-- safety by removal: the first placement of the chain on or after entry not followed by a
-- safety breach within 30 days
removal AS (
  SELECT e.k, min(e.event_date) AS removal_safety
    FROM study_events e JOIN study_cohort c ON c.cohort_row = e.k
   WHERE e.event_type = 'PLACEMENT_START' AND e.event_date >= c.entry_date
     AND NOT EXISTS (SELECT 1 FROM study_child_events b
                      WHERE b.child_row = e.child_row AND b.event_type = 'SAFETY_BREACH'
                        AND b.event_date > e.event_date AND b.event_date <= e.event_date + 30)
   GROUP BY e.k
)
-- the cohort columns outcomes read (who a row is comes from study_cohort by cohort_row)
SELECT c.cohort_row, c.child_row, c.child_key, c.entry_date, c.index_report_key,
       c.d18, c.extract_date, c.grp,
       l.closure_date AS end_closure_date,
       l.closure_reason AS end_closure_reason,
       -- a transfer to a centre outside the data ends what can be observed
       CASE WHEN l.closure_reason = 'TRANSFER_OTHER_CENTRE' THEN l.closure_date END AS left_data_date,
       -- administrative end: extract date, moving abroad, lost to follow-up
       CASE WHEN c.obs_end_reason IN ('EXTRACT', 'MOVED_ABROAD', 'LOST') THEN c.obs_end
            ELSE c.extract_date END AS admin_end,
       CASE WHEN c.obs_end_reason = 'DEATH' THEN c.obs_end END AS death_date,
       {tx} AS tx_start,
       s.safety_recorded, s.safety_lower, s.safety_midpoint,
       s.home_recorded, s.home_lower, s.home_midpoint, r.removal_safety
  FROM study_cohort c
  LEFT JOIN last_episode l ON l.root = c.cohort_row
  LEFT JOIN safety s ON s.k = c.cohort_row
  LEFT JOIN removal r ON r.k = c.cohort_row"
        ),
        params,
    };
    let children = Statement {
        sql: "CREATE OR REPLACE TEMP TABLE study_children AS
-- the cohort's children with their number (child_row), which the slices below carry
SELECT DISTINCT child_key, child_row FROM study_cohort"
            .into(),
        params: Params::default(),
    };
    vec![
        children,
        chain,
        events,
        child_events,
        reports,
        placements,
        assessments,
        followup,
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
