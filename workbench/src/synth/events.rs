//! The unified event log, derived by one function ([`derive`]) from the source tables of a group
//! of children plus the facts that stand on their own (safety reached, substantiation, moves...).
//!
//! Agreement rules (validation checks them): every `report_child` row gives one `REPORT` at the
//! report date (source `report`, the report id, the report_child's episode); every intervention one
//! `INTERVENTION_START` and, when it has an end date, one `INTERVENTION_END` (source
//! `intervention`); every placement one `PLACEMENT_START` and, when ended, one `PLACEMENT_END`
//! (source `placement`); every closed episode one `CASE_CLOSED` at its closure date (source
//! `episode`). Event ids are `EV-<child number>-<k>`, k counting the child's events in date order.

use std::collections::HashMap;

use super::ids;
use super::rows::{EventRow, Rows};

/// An event that is not the image of a source row (it stands on its own).
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub child_pid: String,
    pub episode_id: Option<String>,
    pub event_type: &'static str,
    pub date: i32,
    /// `DAY` or `INTERVAL` (with `interval_lower`).
    pub precision: &'static str,
    pub interval_lower: Option<i32>,
    pub source_table: Option<&'static str>,
    pub source_id: Option<String>,
}

impl Fact {
    /// A day-precision fact without provenance.
    pub fn day(
        child_pid: &str,
        episode_id: Option<&str>,
        event_type: &'static str,
        date: i32,
    ) -> Fact {
        Fact {
            child_pid: child_pid.to_string(),
            episode_id: episode_id.map(str::to_string),
            event_type,
            date,
            precision: "DAY",
            interval_lower: None,
            source_table: None,
            source_id: None,
        }
    }
}

/// Rank of an event type among events of the same day (start before end, report first).
fn rank(t: &str) -> u8 {
    match t {
        "REPORT" => 0,
        "TRANSFER_IN" => 1,
        "INTERVENTION_START" | "PLACEMENT_START" | "SAFETY_PLAN_AGREED" => 2,
        "PARQUET_REFERRAL" | "COURT_MEASURE" | "SUBSTANTIATION" => 3,
        "SAFETY_REACHED" | "PLACEMENT_MOVE" => 4,
        "INTERVENTION_END" | "PLACEMENT_END" | "REUNIFICATION" => 5,
        "TRANSFER_OUT" => 6,
        "CASE_CLOSED" => 7,
        _ => 8,
    }
}

/// Derives the event log of the children in `rows` (numbered `first_child + 1 ...` in the order of
/// `rows.child`) from its source tables and `facts`.
pub fn derive(rows: &Rows, facts: &[Fact], first_child: u64) -> Vec<EventRow> {
    let report_date: HashMap<&str, i32> = rows
        .report
        .iter()
        .map(|r| (r.report_id.as_str(), r.report_date))
        .collect();
    let episode_child: HashMap<&str, &str> = rows
        .episode
        .iter()
        .map(|e| (e.episode_id.as_str(), e.child_pid.as_str()))
        .collect();
    let child_pos: HashMap<&str, usize> = rows
        .child
        .iter()
        .enumerate()
        .map(|(i, c)| (c.child_pid.as_str(), i))
        .collect();
    let mut out: Vec<EventRow> = Vec::new();
    let mut push = |child: &str,
                    episode: Option<&str>,
                    t: &'static str,
                    date: i32,
                    table: &'static str,
                    id: &str| {
        out.push(EventRow {
            event_id: String::new(),
            child_pid: child.to_string(),
            episode_id: episode.map(str::to_string),
            event_type: t,
            event_date: date,
            date_precision: "DAY",
            interval_lower: None,
            source_table: Some(table),
            source_id: Some(id.to_string()),
        });
    };
    for rc in &rows.report_child {
        if let Some(&d) = report_date.get(rc.report_id.as_str()) {
            push(
                &rc.child_pid,
                rc.episode_id.as_deref(),
                "REPORT",
                d,
                "report",
                &rc.report_id,
            );
        }
    }
    for iv in &rows.intervention {
        if let Some(child) = episode_child.get(iv.episode_id.as_str()) {
            let ep = Some(iv.episode_id.as_str());
            push(
                child,
                ep,
                "INTERVENTION_START",
                iv.start_date,
                "intervention",
                &iv.intervention_id,
            );
            if let Some(end) = iv.end_date {
                push(
                    child,
                    ep,
                    "INTERVENTION_END",
                    end,
                    "intervention",
                    &iv.intervention_id,
                );
            }
        }
    }
    for p in &rows.placement {
        if let Some(child) = episode_child.get(p.episode_id.as_str()) {
            let ep = Some(p.episode_id.as_str());
            push(
                child,
                ep,
                "PLACEMENT_START",
                p.start_date,
                "placement",
                &p.placement_id,
            );
            if let Some(end) = p.end_date {
                push(
                    child,
                    ep,
                    "PLACEMENT_END",
                    end,
                    "placement",
                    &p.placement_id,
                );
            }
        }
    }
    for e in &rows.episode {
        if let Some(c) = e.closure_date {
            push(
                &e.child_pid,
                Some(&e.episode_id),
                "CASE_CLOSED",
                c,
                "episode",
                &e.episode_id,
            );
        }
    }
    for f in facts {
        out.push(EventRow {
            event_id: String::new(),
            child_pid: f.child_pid.clone(),
            episode_id: f.episode_id.clone(),
            event_type: f.event_type,
            event_date: f.date,
            date_precision: f.precision,
            interval_lower: f.interval_lower,
            source_table: f.source_table,
            source_id: f.source_id.clone(),
        });
    }
    out.sort_by(|a, b| {
        let pa = child_pos
            .get(a.child_pid.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        let pb = child_pos
            .get(b.child_pid.as_str())
            .copied()
            .unwrap_or(usize::MAX);
        pa.cmp(&pb)
            .then(a.event_date.cmp(&b.event_date))
            .then(rank(a.event_type).cmp(&rank(b.event_type)))
            .then(a.event_type.cmp(b.event_type))
            .then(a.source_id.cmp(&b.source_id))
            .then(a.episode_id.cmp(&b.episode_id))
    });
    let mut k = 0u64;
    let mut current: Option<usize> = None;
    for e in &mut out {
        let pos = child_pos.get(e.child_pid.as_str()).copied();
        if pos != current {
            current = pos;
            k = 0;
        }
        k += 1;
        let num = first_child + pos.map_or(0, |p| p as u64) + 1;
        e.event_id = ids::id("EV", num, k);
    }
    out
}
