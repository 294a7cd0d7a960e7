//! Outcome SQL: one statement per outcome of docs/domain.md §5, selecting its analysis dataset
//! from `study_cohort`, `study_chain`, `study_followup` and the cohort's slices of the case tables
//! (`study_events`, `study_child_events`, `study_reports`, `study_placements`,
//! `study_assessments`; see the `cohort` module).
//!
//! Every dataset has the same columns (NULL where they do not apply), so readers need one shape:
//! `cohort_row` (the row of `study_cohort` it belongs to), then `t_start`, `t_stop` (days since
//! the time origin), `status` (0 censored, k = the outcome's k-th cause), `treated` (the
//! compared intervention in this interval), `complete_window` (the child can complete the fixed
//! window), `baseline`, `followup` (phase-3 scores), `improved`, `recovered` (0/1), `events` and
//! `exposure_days` (rates). Time-to-event ties: an event beats censoring on the same day, and
//! causes rank in the outcome's order.

use super::{Params, Statement, VALUE_COLUMNS};
use crate::outcomes::Outcome;
use crate::protocol::{Age18, Origin, Protocol, SafetyDate, Timing};

/// The far future standing in for "never" in LEAST().
const NEVER: &str = "DATE '9999-12-31'";

struct Ctx<'a> {
    p: &'a Protocol,
    o: &'a Outcome,
    release_id: &'a str,
    params: Params,
}

impl Ctx<'_> {
    /// The date safety was reached (any route) for the row `row`, by the outcome's safety-date
    /// rule.
    fn safety_any(&self, row: &str) -> String {
        format!(
            "LEAST(COALESCE({}, {NEVER}), COALESCE({row}.removal_safety, {NEVER}))",
            self.safety_reached(row, false),
        )
    }

    /// First `SAFETY_REACHED` in the chain on or after entry by the outcome's safety-date rule
    /// (a column of `study_followup`); `at_home`: not during a placement.
    fn safety_reached(&self, row: &str, at_home: bool) -> String {
        let rule = match self.o.safety_date {
            SafetyDate::Recorded => "recorded",
            SafetyDate::Lower => "lower",
            SafetyDate::Midpoint => "midpoint",
        };
        let place = if at_home { "home" } else { "safety" };
        format!("{row}.{place}_{rule}")
    }

    fn placement_start(&self) -> String {
        "(SELECT min(e.event_date) FROM study_events e WHERE e.k = o.cohort_row \
         AND e.event_type = 'PLACEMENT_START' AND e.event_date >= o.t0)"
            .to_string()
    }

    /// Closure of the chain's last episode without safety, for a reason other than "no
    /// maltreatment found" (which censors), a transfer, moving, 18 or death.
    fn closed_without_safety(&self) -> String {
        "CASE WHEN o.end_closure_reason NOT IN ('SAFETY_ACHIEVED', 'NO_MALTREATMENT_FOUND', \
         'TRANSFER_OTHER_CENTRE', 'MOVED_ABROAD', 'CHILD_18', 'DEATH') THEN o.end_closure_date END"
            .into()
    }

    /// The first qualifying re-report after `o.t0` (14-day rule, duplicates flagged upstream
    /// excluded, the index report itself excluded); `kind`: restrict on report_kind.
    fn rereport(&mut self, kind: Option<bool>) -> String {
        let dedup = self.params.int(self.o.dedup_days);
        let subst = if self.o.substantiated_only || self.o.id == "P2.2" {
            " AND r.substantiated"
        } else {
            ""
        };
        let kind = match kind {
            Some(true) => " AND r.report_kind = 'FOLLOW_UP_OPEN'",
            Some(false) => " AND COALESCE(r.report_kind, '') <> 'FOLLOW_UP_OPEN'",
            None => "",
        };
        format!(
            "(SELECT min(r.report_date) FROM study_reports r WHERE r.child_row = o.child_row \
             AND r.report_key <> COALESCE(o.index_report_key, 0) \
             AND r.report_date > o.t0 + {dedup}{subst}{kind})"
        )
    }

    fn escalation(&self) -> String {
        "(SELECT min(e.event_date) FROM study_events e WHERE e.k = o.cohort_row \
         AND e.event_type IN ('PARQUET_REFERRAL', 'COURT_MEASURE') AND e.event_date >= o.t0)"
            .to_string()
    }

    fn first_intervention(&mut self) -> String {
        let release = self.params.text(self.release_id);
        format!(
            "(SELECT min(x.start_date) FROM study_chain ch JOIN intervention x \
             ON x.release_id = {release} AND x.episode_key = ch.episode_key \
             WHERE ch.root = o.cohort_row AND x.intervention_code <> 'ADVICE_ONLY' \
             AND x.start_date >= o.t0)"
        )
    }
}

/// The statement selecting `o`'s dataset.
pub(super) fn statement(p: &Protocol, release_id: &str, o: &Outcome) -> Statement {
    let mut cx = Ctx {
        p,
        o,
        release_id,
        params: Params::default(),
    };
    let rows = match o.id.as_str() {
        "P2.3" => recurrent(&mut cx),
        "P2.5" => placement_stability(&mut cx),
        "P3.1" | "P3.2" | "P3.4" => scores(&mut cx),
        _ => time_to_event(&mut cx),
    };
    // The dataset's columns in their fixed order; rows in cohort order (an integer sort), then
    // by interval. Who the row is (episode, child, group, covariates) is read once from
    // `study_cohort` by `cohort_row` (`Compiled::cohort_rows`), not repeated in every dataset.
    let sql = format!(
        "SELECT cohort_row, {} FROM (\n{rows}\n) dataset\nORDER BY cohort_row, t_start",
        VALUE_COLUMNS.join(", ")
    );
    Statement {
        sql,
        params: cx.params,
    }
}

/// The `f` CTE: cohort rows with how their follow-up can end.
fn base() -> &'static str {
    "f AS (SELECT * FROM study_followup)"
}

/// The time origin and eligibility of a time-to-event or recurrent outcome, as the `o` CTE.
fn origin(cx: &mut Ctx) -> String {
    let id = cx.o.id.as_str();
    let (t0, filter) = match id {
        "P2.1" | "P2.3" if cx.o.origin == Origin::Safety => (
            format!("NULLIF({}, {NEVER})", cx.safety_any("f")),
            "t0 IS NOT NULL".to_string(),
        ),
        "P2.2" => {
            let release = cx.params.text(cx.release_id);
            (
                format!(
                    "COALESCE((SELECT r.report_date FROM report r WHERE r.release_id = {release} \
                     AND r.report_key = f.index_report_key), f.entry_date)"
                ),
                format!(
                    "EXISTS (SELECT 1 FROM report_child_form x WHERE x.release_id = {release} \
                     AND x.report_key = o0.index_report_key AND x.child_key = o0.child_key \
                     AND x.finding IN ('SUBSTANTIATED', 'INDICATED'))"
                ),
            )
        }
        "P2.4" => (
            "(SELECT min(pl.end_date) FROM study_chain ch JOIN study_placements pl \
             ON pl.episode_key = ch.episode_key \
             WHERE ch.root = f.cohort_row AND pl.start_date >= f.entry_date AND pl.exit_reason IN ('REUNIFICATION', 'KIN_GUARDIANSHIP') \
             AND pl.end_date - pl.start_date >= 8 AND NOT pl.is_trial_home_visit)"
                .into(),
            "t0 IS NOT NULL AND (d18 IS NULL OR d18 > t0)".to_string(),
        ),
        "P3.3" => {
            let (inst, cut) = (cx.params.text(&cx.o.instrument), cx.params.float(cx.o.cut_off));
            let worse = if cx.o.higher_is_worse { ">=" } else { "<=" };
            (
                format!(
                    "(SELECT min(a.assessment_date) FROM study_assessments a \
                     WHERE a.child_row = f.child_row AND a.instrument_code = {inst} \
                     AND a.assessment_date BETWEEN f.entry_date - 30 AND f.entry_date + 30 \
                     AND a.score {worse} {cut})"
                ),
                "t0 IS NOT NULL".to_string(),
            )
        }
        _ => ("f.entry_date".into(), "TRUE".to_string()),
    };
    let filter = filter.replace("t0 ", "o0.t0 ").replace("d18", "o0.d18");
    format!(
        "o0 AS (SELECT f.*, {t0} AS t0 FROM f),
o AS (SELECT * FROM o0 WHERE {filter} AND (o0.d18 IS NULL OR o0.d18 > o0.t0))"
    )
}

/// Censoring date of row `o` (administrative, leaving the data, horizon, and the outcome's own).
fn censor(cx: &mut Ctx) -> String {
    let mut parts = vec!["o.admin_end".to_string()];
    let id = cx.o.id.as_str();
    if id.starts_with("P1") || matches!(id, "P2.1" | "P2.2" | "P2.3" | "P2.4") {
        parts.push(format!("COALESCE(o.left_data_date, {NEVER})"));
    }
    if matches!(id, "P1.1" | "P1.2" | "P1.3") {
        parts.push(format!(
            "CASE WHEN o.end_closure_reason = 'NO_MALTREATMENT_FOUND' THEN o.end_closure_date ELSE {NEVER} END"
        ));
    }
    if cx.o.age_18 == Age18::Censor {
        parts.push(format!("COALESCE(o.d18, {NEVER})"));
    }
    let window = match id {
        "P2.3" | "P2.4" => cx.o.window_days,
        _ => None,
    };
    let horizon = match (cx.p.follow_up.max_days, window) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(h) = horizon {
        parts.push(format!("o.t0 + {}", cx.params.int(h)));
    }
    if id == "P3.3" {
        let inst = cx.params.text(&cx.o.instrument);
        parts.push(format!(
            "COALESCE((SELECT max(a.assessment_date) FROM study_assessments a \
             WHERE a.child_row = o.child_row AND a.instrument_code = {inst}), o.t0)"
        ));
    }
    format!("LEAST({})", parts.join(", "))
}

/// The date of each cause of a time-to-event outcome, in the outcome's cause order.
fn cause_dates(cx: &mut Ctx) -> Vec<String> {
    let o = cx.o.clone();
    o.causes
        .iter()
        .map(|cause| match (o.id.as_str(), cause.as_str()) {
            (_, "SAFETY") => cx.safety_any("o"),
            (_, "SAFETY_AT_HOME") => cx.safety_reached("o", true),
            (_, "PLACEMENT") => cx.placement_start(),
            (_, "CLOSED_WITHOUT_SAFETY") => cx.closed_without_safety(),
            (_, "DEATH") => "o.death_date".into(),
            (_, "AGE_18") => "o.d18".into(),
            (_, "INTERVENTION") => cx.first_intervention(),
            (_, "NO_MALTREATMENT_FOUND") => {
                "CASE WHEN o.end_closure_reason = 'NO_MALTREATMENT_FOUND' THEN o.end_closure_date END".into()
            }
            (_, "ESCALATION") => cx.escalation(),
            (_, "CASE_CLOSED") => "CASE WHEN o.end_closure_reason NOT IN ('TRANSFER_OTHER_CENTRE', \
                 'MOVED_ABROAD', 'CHILD_18', 'DEATH') THEN o.end_closure_date END"
                .into(),
            (_, "REREPORT") | (_, "SUBSTANTIATED_RECURRENCE") => cx.rereport(None),
            (_, "REREPORT_OPEN") => cx.rereport(Some(true)),
            (_, "REREPORT_CLOSED") => cx.rereport(Some(false)),
            (_, "REENTRY") => "(SELECT min(e.event_date) FROM study_child_events e \
                 WHERE e.child_row = o.child_row \
                 AND e.event_type = 'PLACEMENT_START' AND e.event_date > o.t0)"
                .to_string(),
            (_, "RECOVERY") => {
                let (inst, cut) = (cx.params.text(&o.instrument), cx.params.float(o.cut_off));
                let better = if o.higher_is_worse { "<" } else { ">" };
                format!(
                    "(SELECT min(a.assessment_date) FROM study_assessments a \
                     WHERE a.child_row = o.child_row AND a.instrument_code = {inst} \
                     AND a.assessment_date > o.t0 AND a.score {better} {cut})"
                )
            }
            _ => "CAST(NULL AS DATE)".into(),
        })
        .collect()
}

/// Whether the comparison is an intervention analysed as time-varying ((start, stop] rows).
fn time_varying(p: &Protocol) -> bool {
    p.groups.as_ref().is_some_and(|g| {
        g.intervention.is_some() && g.timing.unwrap_or(Timing::TimeVarying) == Timing::TimeVarying
    })
}

/// `treated` for a whole row when the comparison is not time-varying.
fn treated_fixed(p: &Protocol) -> &'static str {
    if p.groups.as_ref().is_some_and(|g| g.intervention.is_some()) {
        "CASE WHEN r.grp = 'treated' THEN 1 ELSE 0 END"
    } else {
        "CAST(NULL AS INTEGER)"
    }
}

fn complete_window(cx: &mut Ctx) -> String {
    let id = cx.o.id.as_str();
    match cx.o.window_days {
        Some(w) if matches!(id, "P1.3" | "P2.2") => {
            let lag = if id == "P2.2" {
                cx.o.maturity_lag_days
            } else {
                0
            };
            let (w1, w2) = (cx.params.int(w + lag), cx.params.int(w));
            format!("(r.t0 + {w1} <= r.extract_date AND (r.d18 IS NULL OR r.d18 > r.t0 + {w2}))")
        }
        _ => "CAST(NULL AS BOOLEAN)".into(),
    }
}

const TAIL_NULLS: &str = "CAST(NULL AS DOUBLE) AS baseline, CAST(NULL AS DOUBLE) AS followup, \
     CAST(NULL AS INTEGER) AS improved, CAST(NULL AS INTEGER) AS recovered, \
     CAST(NULL AS INTEGER) AS sustained, CAST(NULL AS INTEGER) AS events, CAST(NULL AS DOUBLE) AS exposure_days";

fn time_to_event(cx: &mut Ctx) -> String {
    let origin = origin(cx);
    let dates = cause_dates(cx);
    let cens = censor(cx);
    let cand: Vec<String> = dates
        .iter()
        .enumerate()
        .map(|(i, d)| format!("{d} AS d{}", i + 1))
        .collect();
    let least: Vec<String> = (1..=dates.len())
        .map(|i| format!("COALESCE(d{i}, {NEVER})"))
        .collect();
    let status: Vec<String> = (1..=dates.len())
        .map(|i| format!("WHEN d{i} IS NOT NULL AND d{i} <= t_end THEN {i}"))
        .collect();
    let window = complete_window(cx);
    let key = "r.cohort_row";
    let rows = if time_varying(cx.p) {
        // (start, stop] rows: untreated until the intervention starts, treated after.
        format!(
            "SELECT {key}, 0.0 AS t_start, CAST(LEAST(r.tx_start - r.t0, r.t_end - r.t0) AS DOUBLE) AS t_stop,
       0 AS status, 0 AS treated,
       {window} AS complete_window, {TAIL_NULLS}
  FROM res r WHERE r.tx_start > r.t0 AND r.tx_start < r.t_end
UNION ALL
SELECT {key}, CAST(GREATEST(r.tx_start - r.t0, 0) AS DOUBLE) AS t_start, CAST(r.t_end - r.t0 AS DOUBLE) AS t_stop,
       r.status, 1 AS treated, {window} AS complete_window, {TAIL_NULLS}
  FROM res r WHERE r.tx_start < r.t_end
UNION ALL
SELECT {key}, 0.0 AS t_start, CAST(r.t_end - r.t0 AS DOUBLE) AS t_stop, r.status, 0 AS treated,
       {window} AS complete_window, {TAIL_NULLS}
  FROM res r WHERE r.tx_start IS NULL OR r.tx_start >= r.t_end"
        )
    } else {
        format!(
            "SELECT {key}, 0.0 AS t_start, CAST(r.t_end - r.t0 AS DOUBLE) AS t_stop, r.status,
       {} AS treated, {window} AS complete_window, {TAIL_NULLS}
  FROM res r",
            treated_fixed(cx.p)
        )
    };
    format!(
        "WITH {base},
{origin},
cand AS (
  SELECT o.*, {cand},
         {cens} AS cens
    FROM o
),
ends AS (SELECT cand.*, LEAST({least}, cens) AS t_end FROM cand),
res AS (
  SELECT ends.*, CASE {status} ELSE 0 END AS status
    FROM ends WHERE t_end >= t0
)
{rows}",
        base = base(),
        cand = cand.join(",\n         "),
        least = least.join(", "),
        status = status.join(" "),
    )
}

/// P2.3: every qualifying re-report (each more than `dedup_days` after the previous counted one)
/// up to the window, as counting-process rows.
fn recurrent(cx: &mut Ctx) -> String {
    let origin = origin(cx);
    let cens = censor(cx);
    let dedup = cx.params.int(cx.o.dedup_days);
    let dedup2 = cx.params.int(cx.o.dedup_days);
    let subst = if cx.o.substantiated_only {
        " AND r.substantiated"
    } else {
        ""
    };
    let key = "r.cohort_row";
    format!(
        "WITH RECURSIVE {base},
{origin},
ends AS (
  SELECT o.*, LEAST({cens}, COALESCE(o.death_date, {NEVER})) AS t_end FROM o
),
reports AS (
  SELECT o.cohort_row AS k, r.report_date AS d
    FROM ends o JOIN study_reports r ON r.child_row = o.child_row
   WHERE r.report_key <> COALESCE(o.index_report_key, 0)
     AND r.report_date > o.t0 + {dedup} AND r.report_date <= o.t_end{subst}
),
-- each counted re-report with the one counted before it (prev)
counted (k, d, prev) AS (
  SELECT k, min(d), CAST(NULL AS DATE) FROM reports GROUP BY k
  UNION ALL
  SELECT c.k, (SELECT min(r.d) FROM reports r WHERE r.k = c.k AND r.d > c.d + {dedup2}), c.d
    FROM counted c
   WHERE EXISTS (SELECT 1 FROM reports r WHERE r.k = c.k AND r.d > c.d + {dedup2})
),
last_counted AS (SELECT k, max(d) AS d FROM counted GROUP BY k),
-- intervals: (previous counted re-report or origin, re-report], then (last, end of follow-up]
gaps AS (
  SELECT o.*, c.d AS mark, c.prev AS prev, 1 AS status
    FROM ends o JOIN counted c ON c.k = o.cohort_row
  UNION ALL
  SELECT o.*, o.t_end AS mark, l.d AS prev, 0 AS status
    FROM ends o LEFT JOIN last_counted l ON l.k = o.cohort_row
   WHERE o.t_end > COALESCE(l.d, o.t0)
)
SELECT {key}, CAST(COALESCE(r.prev, r.t0) - r.t0 AS DOUBLE) AS t_start,
       CAST(r.mark - r.t0 AS DOUBLE) AS t_stop, r.status, {treated} AS treated,
       CAST(NULL AS BOOLEAN) AS complete_window, {TAIL_NULLS}
  FROM gaps r WHERE r.t_end >= r.t0",
        base = base(),
        treated = treated_fixed(cx.p),
    )
}

/// P2.5: moves and days in care over the placements of the chain (trial home visits and
/// runaways excluded; days after 18 not counted; the initial removal is not a move).
fn placement_stability(cx: &mut Ctx) -> String {
    let _ = &cx.params;
    let key = "o.cohort_row";
    format!(
        "WITH {base},
o AS (SELECT f.*, f.entry_date AS t0 FROM f),
spells AS (
  SELECT o.cohort_row AS k, pl.start_date AS s,
         LEAST(COALESCE(pl.end_date, o.admin_end), o.admin_end, COALESCE(o.d18, {NEVER}),
               COALESCE(o.death_date, {NEVER})) AS e, o.child_row
    FROM o JOIN study_chain ch ON ch.root = o.cohort_row
    JOIN study_placements pl ON pl.episode_key = ch.episode_key
   WHERE pl.start_date >= o.entry_date AND NOT pl.is_trial_home_visit
     AND COALESCE(pl.exit_reason, '') <> 'RUNAWAY'
),
per_child AS (
  SELECT sp.k, sum(GREATEST(sp.e - sp.s, 0)) AS days,
         sum((SELECT count(*) FROM study_child_events m
               WHERE m.child_row = sp.child_row AND m.event_type = 'PLACEMENT_MOVE'
               AND m.event_date > sp.s AND m.event_date <= sp.e)) AS moves
    FROM spells sp GROUP BY sp.k
)
SELECT {key}, CAST(NULL AS DOUBLE) AS t_start, CAST(NULL AS DOUBLE) AS t_stop,
       CAST(NULL AS INTEGER) AS status, {treated} AS treated, CAST(NULL AS BOOLEAN) AS complete_window,
       CAST(NULL AS DOUBLE) AS baseline, CAST(NULL AS DOUBLE) AS followup,
       CAST(NULL AS INTEGER) AS improved, CAST(NULL AS INTEGER) AS recovered,
       CAST(NULL AS INTEGER) AS sustained, CAST(pc.moves AS INTEGER) AS events, CAST(pc.days AS DOUBLE) AS exposure_days
  FROM o JOIN per_child pc ON pc.k = o.cohort_row
 WHERE pc.days > 0",
        base = base(),
        treated = treated_fixed(cx.p).replace("r.", "o."),
    )
}

/// P3.1, P3.2, P3.4: baseline (within ±30 days of entry, closest) and follow-up wave scores
/// (closest to the wave's target day within its tolerance) on one instrument.
fn scores(cx: &mut Ctx) -> String {
    let o = cx.o.clone();
    let (target, tol) = o.wave_window();
    let inst = cx.params.text(&o.instrument);
    let inst2 = cx.params.text(&o.instrument);
    let (target, tol) = (cx.params.int(target), cx.params.int(tol));
    let cut = cx.params.float(o.cut_off);
    let rci = cx.params.float(o.reliable_change);
    let (worse, better, gain) = if o.higher_is_worse {
        (">=", "<", "s.baseline - s.followup")
    } else {
        ("<=", ">", "s.followup - s.baseline")
    };
    let eligible = if o.id == "P3.1" {
        "TRUE".to_string()
    } else {
        format!("s.baseline {worse} {}", cx.params.float(o.cut_off))
    };
    let p34 = if o.id == "P3.4" {
        let dedup = cx.params.int(o.dedup_days);
        let window = cx.params.int(o.window_days.unwrap_or(365));
        format!(
            ",
       CASE WHEN s.followup IS NULL THEN NULL
            WHEN s.followup {better} {cut} AND NOT EXISTS (
              SELECT 1 FROM study_reports r
               WHERE r.child_row = s.child_row AND r.report_key <> COALESCE(s.index_report_key, 0)
                 AND r.report_date > s.entry_date + {dedup} AND r.report_date <= s.entry_date + {window}
                 AND r.substantiated)
            THEN 1 ELSE 0 END AS sustained"
        )
    } else {
        ", CAST(NULL AS INTEGER) AS sustained".into()
    };
    let key = "s.cohort_row";
    format!(
        "WITH {base},
-- each wave's candidate scores, numbered from the one nearest its target date (then the
-- earlier, then by id): the baseline within 30 days of entry, the follow-up wave's within its
-- tolerance
picks AS (
  SELECT f.cohort_row, 1 AS wave, a.score,
         row_number() OVER (PARTITION BY f.cohort_row ORDER BY abs(a.assessment_date - f.entry_date),
                                                   a.assessment_date, a.assessment_id) AS pick
    FROM f JOIN study_assessments a ON a.child_row = f.child_row AND a.instrument_code = {inst}
     AND a.assessment_date BETWEEN f.entry_date - 30 AND f.entry_date + 30
  UNION ALL
  SELECT f.cohort_row, 2 AS wave, a.score,
         row_number() OVER (PARTITION BY f.cohort_row ORDER BY abs(a.assessment_date - (f.entry_date + {target})),
                                                   a.assessment_date, a.assessment_id) AS pick
    FROM f JOIN study_assessments a ON a.child_row = f.child_row AND a.instrument_code = {inst2}
     AND a.assessment_date BETWEEN f.entry_date + {target} - {tol} AND f.entry_date + {target} + {tol}
),
b AS (
  SELECT f.*, w1.score AS baseline, w2.score AS followup
    FROM f LEFT JOIN picks w1 ON w1.cohort_row = f.cohort_row AND w1.wave = 1 AND w1.pick = 1
    LEFT JOIN picks w2 ON w2.cohort_row = f.cohort_row AND w2.wave = 2 AND w2.pick = 1
),
s AS (SELECT * FROM b WHERE baseline IS NOT NULL)
SELECT {key}, CAST(NULL AS DOUBLE) AS t_start, CAST(NULL AS DOUBLE) AS t_stop,
       CAST(NULL AS INTEGER) AS status, {treated} AS treated, CAST(NULL AS BOOLEAN) AS complete_window,
       CAST(s.baseline AS DOUBLE) AS baseline, CAST(s.followup AS DOUBLE) AS followup,
       CASE WHEN s.followup IS NULL THEN NULL WHEN {gain} >= {rci} THEN 1 ELSE 0 END AS improved,
       CASE WHEN s.followup IS NULL THEN NULL WHEN s.followup {better} {cut} THEN 1 ELSE 0 END AS recovered{p34},
       CAST(NULL AS INTEGER) AS events, CAST(NULL AS DOUBLE) AS exposure_days
  FROM s
 WHERE {eligible}",
        base = base(),
        treated = treated_fixed(cx.p).replace("r.", "s."),
    )
}
