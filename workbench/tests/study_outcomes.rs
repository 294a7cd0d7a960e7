//! The outcome rules of docs/domain.md §5 on small hand-made case records, each checked against an
//! independent derivation in plain Rust.
//!
//! Every test writes a handful of children into a fresh store, writes a protocol and runs exactly
//! what `workbench study run` runs (`PreparedStudy::new`, `build_cohort`, `attrition`, then each
//! compiled outcome statement with its bound parameters). The expected rows come from the
//! `derive` module below, which reads the same records as Rust values (never through SQL) and
//! follows §5 and the choices documented in studies/src/compile/outcome.rs. Each test also spells
//! out, child by child, what happened and the row it expects, so the derivation is checked too.
//!
//! Days are counted from 2020-01-01 (day 0, the usual entry date); the extract date is day 1000.

// Expected rows are written as tables of tuples, one line per child.
#![allow(clippy::type_complexity)]

use std::collections::BTreeSet;

use duckdb::params;
use studies::Protocol;
use studies::bundle::Count;
use studies::compile::{Compiled, CompiledOutcome};
use studies::outcomes::Outcome;
use workbench::store::Store;
use workbench::study::PreparedStudy;
use workbench::tui::worker::CohortConnection;

/// Days since 2020-01-01.
type Day = i64;

const EXTRACT: Day = 1000;
const RELEASE: &str = "HANDMADE-1";
/// The cohort's entry window: 2019-01-01 (day -365) to 2022-12-31 (day 1095).
const WINDOW: (Day, Day) = (-365, 1095);
const HEADER: &str = "title = \"hand-made records\"\n\n[cohort]\nentry_from = \"2019-01-01\"\nentry_to = \"2022-12-31\"\n";
/// A day number as a SQL date (NULL stays NULL).
const D: &str = "(DATE '2020-01-01' + CAST(? AS INTEGER))";

// ---------------------------------------------------------------------------------------------
// Hand-made records
// ---------------------------------------------------------------------------------------------

/// How observation of a child ends before the extract (besides the 18th birthday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Open,
    Moved(Day),
    Died(Day),
}

#[derive(Debug, Clone)]
struct Child {
    name: String,
    d18: Option<Day>,
    fate: Fate,
}

#[derive(Debug, Clone)]
struct Episode {
    id: String,
    child: String,
    centre: &'static str,
    entry: Day,
    seq: i64,
    age_months: Option<i64>,
    closure: Option<(Day, &'static str)>,
    transfer_to: Option<String>,
    index_report: Option<String>,
}

#[derive(Debug, Clone)]
struct Form {
    code: &'static str,
    primary: bool,
    finding: &'static str,
    date: Option<Day>,
}

#[derive(Debug, Clone)]
struct Report {
    id: String,
    child: String,
    episode: Option<String>,
    date: Day,
    duplicate_of: Option<String>,
    forms: Vec<Form>,
}

impl Report {
    /// Adds an allegation with its finding.
    fn form(&mut self, code: &'static str, finding: &'static str, date: Option<Day>) -> &mut Self {
        self.forms.push(Form {
            code,
            primary: self.forms.is_empty(),
            finding,
            date,
        });
        self
    }
}

#[derive(Debug, Clone)]
struct Event {
    child: String,
    episode: Option<String>,
    ty: &'static str,
    date: Day,
    lower: Option<Day>,
}

#[derive(Debug, Clone)]
struct Intervention {
    episode: String,
    code: &'static str,
    start: Day,
}

#[derive(Debug, Clone)]
struct Placement {
    episode: String,
    start: Day,
    end: Option<Day>,
    exit: Option<&'static str>,
    trial: bool,
}

#[derive(Debug, Clone)]
struct Assessment {
    child: String,
    instrument: &'static str,
    date: Day,
    score: f64,
    valid: bool,
}

/// The case records of one test.
#[derive(Debug, Default)]
struct World {
    children: Vec<Child>,
    episodes: Vec<Episode>,
    reports: Vec<Report>,
    events: Vec<Event>,
    interventions: Vec<Intervention>,
    placements: Vec<Placement>,
    assessments: Vec<Assessment>,
    contexts: Vec<(String, &'static str)>,
}

fn pid(name: &str) -> String {
    format!("pseudonym-{name}")
}

impl World {
    /// A child entering on day 0 (episode `<name>-1`, VK Antwerpen, aged 10).
    fn child(&mut self, name: &str) -> &mut Child {
        self.child_at(name, 0)
    }

    fn child_at(&mut self, name: &str, entry: Day) -> &mut Child {
        self.children.push(Child {
            name: name.into(),
            d18: None,
            fate: Fate::Open,
        });
        self.episode(name, entry);
        self.children.last_mut().expect("just added")
    }

    /// A new episode of `child` entering on `entry`, with its index report (one substantiated
    /// physical-abuse allegation); returns its id `<child>-<seq>`.
    fn episode(&mut self, child: &str, entry: Day) -> String {
        let seq = self.episodes.iter().filter(|e| e.child == child).count() as i64 + 1;
        let id = format!("{child}-{seq}");
        let report = format!("{id}-index");
        self.reports.push(Report {
            id: report.clone(),
            child: child.into(),
            episode: Some(id.clone()),
            date: entry,
            duplicate_of: None,
            forms: vec![Form {
                code: "PHYS",
                primary: true,
                finding: "SUBSTANTIATED",
                date: Some(entry + 10),
            }],
        });
        self.episodes.push(Episode {
            id: id.clone(),
            child: child.into(),
            centre: "VK_ANT",
            entry,
            seq,
            age_months: Some(120),
            closure: None,
            transfer_to: None,
            index_report: Some(report),
        });
        id
    }

    fn ep(&mut self, id: &str) -> &mut Episode {
        self.episodes
            .iter_mut()
            .find(|e| e.id == id)
            .unwrap_or_else(|| panic!("no episode {id}"))
    }

    fn index_report(&mut self, ep: &str) -> &mut Report {
        let id = self.ep(ep).index_report.clone().expect("an index report");
        self.reports
            .iter_mut()
            .find(|r| r.id == id)
            .expect("index report")
    }

    /// Replaces the index report's allegations (each substantiated; the first is primary).
    fn index_forms(&mut self, ep: &str, forms: &[&'static str]) {
        let r = self.index_report(ep);
        r.forms.clear();
        for f in forms {
            r.form(f, "SUBSTANTIATED", Some(r.date + 10));
        }
    }

    fn close(&mut self, ep: &str, day: Day, reason: &'static str) {
        self.ep(ep).closure = Some((day, reason));
    }

    /// A transfer between two centres of the data: `ep` closes and a continuation episode (no
    /// index report of its own) opens the same day; returns the continuation's id.
    fn transfer(&mut self, ep: &str, day: Day, centre: &'static str) -> String {
        let child = self.ep(ep).child.clone();
        let seq = self.episodes.iter().filter(|e| e.child == child).count() as i64 + 1;
        let id = format!("{child}-{seq}");
        self.episodes.push(Episode {
            id: id.clone(),
            child,
            centre,
            entry: day,
            seq,
            age_months: Some(121),
            closure: None,
            transfer_to: None,
            index_report: None,
        });
        let e = self.ep(ep);
        e.closure = Some((day, "TRANSFER_OTHER_CENTRE"));
        e.transfer_to = Some(id.clone());
        id
    }

    /// A transfer to a centre outside the data (`target` names an episode the data lacks).
    fn transfer_out(&mut self, ep: &str, day: Day, target: Option<&str>) {
        let e = self.ep(ep);
        e.closure = Some((day, "TRANSFER_OTHER_CENTRE"));
        e.transfer_to = target.map(str::to_string);
    }

    /// The child's episode that had most recently started on `day`.
    fn episode_on(&self, child: &str, day: Day) -> Option<String> {
        self.episodes
            .iter()
            .filter(|e| e.child == child && e.entry <= day)
            .max_by_key(|e| (e.entry, e.seq))
            .map(|e| e.id.clone())
    }

    /// A later report about `child` (no allegation unless added).
    fn report(&mut self, child: &str, day: Day) -> &mut Report {
        let n = self.reports.iter().filter(|r| r.child == child).count();
        let episode = self.episode_on(child, day);
        self.reports.push(Report {
            id: format!("{child}-r{n}"),
            child: child.into(),
            episode,
            date: day,
            duplicate_of: None,
            forms: Vec::new(),
        });
        self.reports.last_mut().expect("just added")
    }

    /// An event in the child's episode of that day.
    fn event(&mut self, child: &str, ty: &'static str, day: Day) {
        let ep = self.episode_on(child, day);
        self.event_in(child, ep.as_deref(), ty, day);
    }

    fn event_in(&mut self, child: &str, ep: Option<&str>, ty: &'static str, day: Day) {
        self.events.push(Event {
            child: child.into(),
            episode: ep.map(str::to_string),
            ty,
            date: day,
            lower: None,
        });
    }

    /// Safety found at a review on `day`, reached some time after the previous review `lower`.
    fn safety_at_review(&mut self, child: &str, lower: Day, day: Day) {
        self.event(child, "SAFETY_REACHED", day);
        self.events.last_mut().expect("just added").lower = Some(lower);
    }

    /// An out-of-home spell (with its PLACEMENT_START event).
    fn placement(
        &mut self,
        ep: &str,
        start: Day,
        end: Option<(Day, &'static str)>,
    ) -> &mut Placement {
        let child = self.ep(ep).child.clone();
        self.event_in(&child, Some(ep), "PLACEMENT_START", start);
        if let Some((d, _)) = end {
            self.event_in(&child, Some(ep), "PLACEMENT_END", d);
        }
        self.placements.push(Placement {
            episode: ep.into(),
            start,
            end: end.map(|e| e.0),
            exit: end.map(|e| e.1),
            trial: false,
        });
        self.placements.last_mut().expect("just added")
    }

    fn intervention(&mut self, ep: &str, code: &'static str, start: Day) {
        self.interventions.push(Intervention {
            episode: ep.into(),
            code,
            start,
        });
    }

    fn assessment(
        &mut self,
        child: &str,
        instrument: &'static str,
        day: Day,
        score: f64,
    ) -> &mut Assessment {
        self.assessments.push(Assessment {
            child: child.into(),
            instrument,
            date: day,
            score,
            valid: true,
        });
        self.assessments.last_mut().expect("just added")
    }

    /// Writes the records into a fresh store with plain INSERT statements.
    fn store(&self, path: &std::path::Path) -> Store {
        let store = Store::open_or_create(path).expect("a fresh store");
        let c = store.conn();
        let insert = |sql: &str, p: &[&dyn duckdb::ToSql]| {
            c.execute(sql, p).unwrap_or_else(|e| panic!("{sql}: {e}"));
        };
        insert(
            &format!(
                "INSERT INTO data_release (release_id, extract_date, source_system, pseudonym_scheme, \
                 is_synthetic, notes) VALUES (?, {D}, 'OTHER', 'TEST', FALSE, 'hand-made')"
            ),
            params![RELEASE, EXTRACT],
        );
        for ch in &self.children {
            insert(
                &format!(
                    "INSERT INTO child (release_id, child_pid, sex, date_of_18th_birthday) VALUES (?, ?, 'F', {D})"
                ),
                params![RELEASE, pid(&ch.name), ch.d18],
            );
            let start = self
                .episodes
                .iter()
                .filter(|e| e.child == ch.name)
                .map(|e| e.entry)
                .min()
                .unwrap_or(0);
            let (end, reason) = match ch.fate {
                Fate::Moved(d) => (d, "MOVED_ABROAD"),
                Fate::Died(d) => (d, "DEATH"),
                Fate::Open => match ch.d18 {
                    Some(d) if d <= EXTRACT => (d, "AGE_18"),
                    _ => (EXTRACT, "EXTRACT"),
                },
            };
            insert(
                &format!(
                    "INSERT INTO observation_window (release_id, child_pid, obs_start, obs_end, obs_end_reason) \
                     VALUES (?, ?, {D}, {D}, ?)"
                ),
                params![RELEASE, pid(&ch.name), start, end, reason],
            );
        }
        for e in &self.episodes {
            insert(
                &format!(
                    "INSERT INTO episode (release_id, episode_id, child_pid, centre_id, entry_date, index_report_id, \
                     melding_type, referral_source, age_at_entry_months, closure_date, closure_reason, \
                     transferred_to_episode_id, episode_seq) VALUES (?, ?, ?, ?, {D}, ?, 'DOSSIER', 'SCHOOL_CLB', ?, {D}, ?, ?, ?)"
                ),
                params![
                    RELEASE,
                    e.id,
                    pid(&e.child),
                    e.centre,
                    e.entry,
                    e.index_report,
                    e.age_months,
                    e.closure.map(|c| c.0),
                    e.closure.map(|c| c.1),
                    e.transfer_to,
                    e.seq
                ],
            );
        }
        for r in &self.reports {
            insert(
                &format!(
                    "INSERT INTO report (release_id, report_id, centre_id, report_date, source_code, channel) \
                     VALUES (?, ?, 'VK_ANT', {D}, 'SCHOOL_CLB', 'PHONE')"
                ),
                params![RELEASE, r.id, r.date],
            );
            insert(
                "INSERT INTO report_child (release_id, report_id, child_pid, episode_id, is_duplicate_of) VALUES (?, ?, ?, ?, ?)",
                params![RELEASE, r.id, pid(&r.child), r.episode, r.duplicate_of],
            );
            for f in &r.forms {
                insert(
                    &format!(
                        "INSERT INTO report_child_form (release_id, report_id, child_pid, form_code, is_primary, finding, \
                         finding_date) VALUES (?, ?, ?, ?, ?, ?, {D})"
                    ),
                    params![
                        RELEASE,
                        r.id,
                        pid(&r.child),
                        f.code,
                        f.primary,
                        f.finding,
                        f.date
                    ],
                );
            }
        }
        for (i, v) in self.events.iter().enumerate() {
            let precision = if v.lower.is_some() { "INTERVAL" } else { "DAY" };
            insert(
                &format!(
                    "INSERT INTO event (release_id, event_id, child_pid, episode_id, event_type, event_date, \
                     date_precision, interval_lower) VALUES (?, ?, ?, ?, ?, {D}, ?, {D})"
                ),
                params![
                    RELEASE,
                    format!("EV{i}"),
                    pid(&v.child),
                    v.episode,
                    v.ty,
                    v.date,
                    precision,
                    v.lower
                ],
            );
        }
        for (i, x) in self.interventions.iter().enumerate() {
            insert(
                &format!(
                    "INSERT INTO intervention (release_id, intervention_id, episode_id, intervention_code, start_date, \
                     is_court_ordered) VALUES (?, ?, ?, ?, {D}, FALSE)"
                ),
                params![RELEASE, format!("IV{i}"), x.episode, x.code, x.start],
            );
        }
        for (i, p) in self.placements.iter().enumerate() {
            insert(
                &format!(
                    "INSERT INTO placement (release_id, placement_id, episode_id, removal_seq, setting, start_date, \
                     end_date, exit_reason, is_trial_home_visit) VALUES (?, ?, ?, 1, 'NONKIN_FOSTER', {D}, {D}, ?, ?)"
                ),
                params![
                    RELEASE,
                    format!("PL{i}"),
                    p.episode,
                    p.start,
                    p.end,
                    p.exit,
                    p.trial
                ],
            );
        }
        for (i, a) in self.assessments.iter().enumerate() {
            insert(
                &format!(
                    "INSERT INTO assessment (release_id, assessment_id, child_pid, instrument_code, assessment_date, \
                     planned_wave, score, is_valid) VALUES (?, ?, ?, ?, {D}, 'UNPLANNED', ?, ?)"
                ),
                params![
                    RELEASE,
                    format!("AS{i:03}"),
                    pid(&a.child),
                    a.instrument,
                    a.date,
                    a.score,
                    a.valid
                ],
            );
        }
        for (ep, code) in &self.contexts {
            insert(
                "INSERT INTO episode_context (release_id, episode_id, context_code) VALUES (?, ?, ?)",
                params![RELEASE, ep, code],
            );
        }
        workbench::store::assign_keys(c, RELEASE).expect("surrogate keys");
        store
    }
}

// ---------------------------------------------------------------------------------------------
// Dataset rows and running a protocol
// ---------------------------------------------------------------------------------------------

/// One dataset row, with the status as the cause's name (`censored` for 0).
#[derive(Debug, Clone, Default, PartialEq)]
struct Row {
    child: String,
    grp: Option<String>,
    t_start: Option<f64>,
    t_stop: Option<f64>,
    status: Option<String>,
    treated: Option<i64>,
    complete_window: Option<bool>,
    baseline: Option<f64>,
    followup: Option<f64>,
    improved: Option<i64>,
    recovered: Option<i64>,
    sustained: Option<i64>,
    events: Option<i64>,
    exposure_days: Option<f64>,
}

impl Row {
    fn new(child: &str) -> Row {
        Row {
            child: child.into(),
            grp: Some("all".into()),
            ..Row::default()
        }
    }

    /// A (start, stop] row of a time-to-event or recurrent outcome.
    fn spell(child: &str, start: Day, stop: Day, status: &str) -> Row {
        Row {
            t_start: Some(start as f64),
            t_stop: Some(stop as f64),
            status: Some(status.into()),
            ..Row::new(child)
        }
    }

    fn window(self, complete: bool) -> Row {
        Row {
            complete_window: Some(complete),
            ..self
        }
    }

    fn treated(self, treated: i64, grp: &str) -> Row {
        Row {
            treated: Some(treated),
            grp: Some(grp.into()),
            ..self
        }
    }

    /// The row's set columns in words.
    fn show(&self) -> String {
        let mut s = Vec::new();
        if let Some(g) = &self.grp {
            s.push(format!("grp {g}"));
        }
        if let (Some(a), Some(b)) = (self.t_start, self.t_stop) {
            s.push(format!("({a}, {b}]"));
        }
        if let Some(x) = &self.status {
            s.push(x.clone());
        }
        let ints = [
            ("treated", self.treated),
            ("improved", self.improved),
            ("recovered", self.recovered),
            ("sustained", self.sustained),
            ("events", self.events),
        ];
        for (k, v) in ints {
            if let Some(v) = v {
                s.push(format!("{k} {v}"));
            }
        }
        for (k, v) in [
            ("baseline", self.baseline),
            ("followup", self.followup),
            ("exposure_days", self.exposure_days),
        ] {
            if let Some(v) = v {
                s.push(format!("{k} {v}"));
            }
        }
        if let Some(w) = self.complete_window {
            s.push(format!("complete_window {w}"));
        }
        s.join(", ")
    }
}

/// (start, stop] rows from `(child, stop, status)`, each starting at 0.
fn spells(rows: &[(&str, Day, &str)]) -> Vec<Row> {
    rows.iter()
        .map(|(c, t, s)| Row::spell(c, 0, *t, s))
        .collect()
}

fn sorted(rows: &[Row]) -> Vec<Row> {
    let mut v = rows.to_vec();
    v.sort_by(|a, b| {
        a.child.cmp(&b.child).then(
            a.t_start
                .unwrap_or(0.0)
                .total_cmp(&b.t_start.unwrap_or(0.0)),
        )
    });
    v
}

/// Asserts two sets of rows are equal, listing the children whose rows differ.
#[track_caller]
fn same(what: &str, got: &[Row], want: &[Row]) {
    let (got, want) = (sorted(got), sorted(want));
    if got == want {
        return;
    }
    let names: BTreeSet<&str> = got.iter().chain(&want).map(|r| r.child.as_str()).collect();
    let mut msg = format!("{what}: rows differ\n");
    for n in names {
        let g: Vec<String> = got.iter().filter(|r| r.child == n).map(Row::show).collect();
        let w: Vec<String> = want
            .iter()
            .filter(|r| r.child == n)
            .map(Row::show)
            .collect();
        if g != w {
            msg.push_str(&format!("  {n}:\n    got  {g:?}\n    want {w:?}\n"));
        }
    }
    panic!("{msg}");
}

/// The products of one run: each outcome with its rows, and the attrition table.
struct Study {
    outcomes: Vec<(Outcome, Vec<Row>)>,
    attrition: Vec<workbench::study::AttritionCount>,
}

impl Study {
    fn outcome(&self, id: &str) -> &(Outcome, Vec<Row>) {
        self.outcomes
            .iter()
            .find(|o| o.0.id == id)
            .unwrap_or_else(|| panic!("no outcome {id}"))
    }

    fn rows(&self, id: &str) -> &[Row] {
        &self.outcome(id).1
    }

    fn causes(&self, id: &str) -> Vec<&str> {
        self.outcome(id)
            .0
            .causes
            .iter()
            .map(String::as_str)
            .collect()
    }
}

/// Runs `protocol` on the records as `workbench study run` does, up to the datasets.
fn run(w: &World, protocol: &str) -> Study {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = w.store(&dir.path().join("x.duckdb"));
    let parsed = Protocol::parse("p.toml", protocol).unwrap_or_else(|e| panic!("{e}"));
    let prepared =
        PreparedStudy::new(&store, parsed, protocol.as_bytes(), "p.toml").expect("prepared");
    prepared.build_cohort(store.conn()).expect("cohort");
    let attrition = prepared.attrition(store.conn()).expect("attrition");
    let outcomes = prepared
        .compiled
        .outcomes
        .iter()
        .map(|o| {
            (
                o.outcome.clone(),
                fetch(store.conn(), o, &prepared.compiled),
            )
        })
        .collect();
    Study {
        outcomes,
        attrition,
    }
}

/// Reads one outcome dataset with the runner's own reader (no covariates in these protocols).
fn fetch(conn: &duckdb::Connection, o: &CompiledOutcome, compiled: &Compiled) -> Vec<Row> {
    let d = workbench::study::fetch_dataset(conn, o, compiled)
        .unwrap_or_else(|e| panic!("outcome {}: {e:#}\n{}", o.outcome.id, o.statement.sql));
    (0..d.len())
        .map(|i| Row {
            child: d
                .child(i)
                .strip_prefix("pseudonym-")
                .unwrap_or(d.child(i))
                .to_string(),
            grp: Some(d.group(i).to_string()),
            t_start: d.t_start[i],
            t_stop: d.t_stop[i],
            status: d.status[i].map(|k| match k {
                0 => "censored".to_string(),
                k => o.outcome.causes[k as usize - 1].clone(),
            }),
            treated: d.treated[i],
            complete_window: d.complete_window[i],
            baseline: d.baseline[i],
            followup: d.followup[i],
            improved: d.improved[i],
            recovered: d.recovered[i],
            sustained: d.sustained[i],
            events: d.events[i],
            exposure_days: d.exposure_days[i],
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The independent derivation (docs/domain.md §5 in plain Rust)
// ---------------------------------------------------------------------------------------------

mod derive {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum SafetyDate {
        Recorded,
        Midpoint,
        Lower,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Origin {
        Safety(SafetyDate),
        IndexReport,
    }

    /// One child's entry episode, followed across transfers between centres of the data.
    pub struct Entry<'w> {
        pub w: &'w World,
        pub child: &'w Child,
        pub ep: &'w Episode,
        pub chain: Vec<&'w Episode>,
    }

    /// Whether `e` continues another episode after a transfer (then it is never an entry).
    fn continues(w: &World, e: &Episode) -> bool {
        w.episodes
            .iter()
            .any(|x| x.transfer_to.as_deref() == Some(&e.id))
    }

    /// The entry episodes: each child's first (or every) episode entering in the window.
    pub fn entries(w: &World, every: bool) -> Vec<Entry<'_>> {
        let mut out = Vec::new();
        for child in &w.children {
            let mut eps: Vec<&Episode> = w
                .episodes
                .iter()
                .filter(|e| e.child == child.name && !continues(w, e))
                .filter(|e| e.entry >= WINDOW.0 && e.entry <= WINDOW.1)
                .collect();
            eps.sort_by_key(|e| (e.entry, e.seq));
            if !every {
                eps.truncate(1);
            }
            for ep in eps {
                let mut chain = vec![ep];
                while let Some(next) = chain
                    .last()
                    .and_then(|e| e.transfer_to.as_deref())
                    .and_then(|id| w.episodes.iter().find(|x| x.id == id))
                {
                    chain.push(next);
                }
                out.push(Entry {
                    w,
                    child,
                    ep,
                    chain,
                });
            }
        }
        out
    }

    /// The first of `causes` (in order on a tie) or censoring: the time since `t0` and the cause
    /// (None: censored). None when follow-up ends before `t0`.
    pub fn first_of(
        t0: Day,
        causes: &[(&str, Option<Day>)],
        censoring: &[Option<Day>],
    ) -> Option<(Day, Option<String>)> {
        let end = causes
            .iter()
            .map(|c| c.1)
            .chain(censoring.iter().copied())
            .flatten()
            .min()
            .expect("some end of follow-up");
        if end < t0 {
            return None;
        }
        let cause = causes
            .iter()
            .find(|c| c.1 == Some(end))
            .map(|c| c.0.to_string());
        Some((end - t0, cause))
    }

    fn row(child: &str, ended: (Day, Option<String>)) -> Row {
        Row::spell(child, 0, ended.0, ended.1.as_deref().unwrap_or("censored"))
    }

    fn min(a: Option<Day>, b: Option<Day>) -> Option<Day> {
        a.into_iter().chain(b).min()
    }

    impl Entry<'_> {
        pub fn name(&self) -> &str {
            &self.child.name
        }

        fn in_chain(&self, ep: Option<&str>) -> bool {
            ep.is_none_or(|id| self.chain.iter().any(|e| e.id == id))
        }

        fn last(&self) -> &Episode {
            self.chain.last().expect("the entry episode")
        }

        /// Under 18 on `t0`.
        fn minor_on(&self, t0: Day) -> bool {
            self.child.d18.is_none_or(|d| d > t0)
        }

        /// Extract date, or moving abroad.
        fn admin_end(&self) -> Day {
            match self.child.fate {
                Fate::Moved(d) => d,
                _ => EXTRACT,
            }
        }

        fn death(&self) -> Option<Day> {
            match self.child.fate {
                Fate::Died(d) => Some(d),
                _ => None,
            }
        }

        /// The last episode of the chain closed by a transfer: to a centre outside the data.
        fn left_data(&self) -> Option<Day> {
            match self.last().closure {
                Some((d, "TRANSFER_OTHER_CENTRE")) => Some(d),
                _ => None,
            }
        }

        fn closed_without_safety(&self) -> Option<Day> {
            match self.last().closure {
                Some((d, "REFERRED_ON" | "REFERRED_PARQUET" | "FAMILY_WITHDREW" | "OTHER")) => {
                    Some(d)
                }
                _ => None,
            }
        }

        fn no_maltreatment_found(&self) -> Option<Day> {
            match self.last().closure {
                Some((d, "NO_MALTREATMENT_FOUND")) => Some(d),
                _ => None,
            }
        }

        fn events(&self, ty: &str) -> impl Iterator<Item = &Event> {
            self.w
                .events
                .iter()
                .filter(move |e| e.child == self.child.name && e.ty == ty)
        }

        fn in_placement(&self, day: Day) -> bool {
            self.w.placements.iter().any(|p| {
                self.w
                    .episodes
                    .iter()
                    .any(|e| e.id == p.episode && e.child == self.child.name)
                    && p.start <= day
                    && p.end.is_none_or(|end| end > day)
            })
        }

        /// The first SAFETY_REACHED of the chain from entry on, dated by `rule`.
        fn safety_reached(&self, rule: SafetyDate, at_home: bool) -> Option<Day> {
            self.events("SAFETY_REACHED")
                .filter(|e| e.date >= self.ep.entry && self.in_chain(e.episode.as_deref()))
                .filter(|e| !at_home || !self.in_placement(e.date))
                .map(|e| {
                    let d = match (rule, e.lower) {
                        (SafetyDate::Lower, Some(l)) => l,
                        (SafetyDate::Midpoint, Some(l)) => l + (e.date - l).div_euclid(2),
                        _ => e.date,
                    };
                    d.max(self.ep.entry)
                })
                .min()
        }

        /// Safety by removal: a placement start of the chain with no breach in the next 30 days.
        fn removal(&self) -> Option<Day> {
            self.events("PLACEMENT_START")
                .filter(|e| e.date >= self.ep.entry && self.in_chain(e.episode.as_deref()))
                .filter(|e| {
                    !self
                        .events("SAFETY_BREACH")
                        .any(|b| b.date > e.date && b.date <= e.date + 30)
                })
                .map(|e| e.date)
                .min()
        }

        fn safety(&self, rule: SafetyDate) -> Option<Day> {
            min(self.safety_reached(rule, false), self.removal())
        }

        fn placement_start(&self) -> Option<Day> {
            self.events("PLACEMENT_START")
                .filter(|e| e.date >= self.ep.entry && self.in_chain(e.episode.as_deref()))
                .map(|e| e.date)
                .min()
        }

        fn substantiated(r: &Report) -> bool {
            r.forms.iter().any(|f| {
                matches!(f.finding, "SUBSTANTIATED" | "INDICATED")
                    && f.date.is_some_and(|d| d <= EXTRACT)
            })
        }

        /// Dates of the child's reports after `after`, except the index report and flagged
        /// duplicates, ascending.
        fn reports_after(&self, after: Day, substantiated: bool) -> Vec<Day> {
            let mut v: Vec<Day> = self
                .w
                .reports
                .iter()
                .filter(|r| r.child == self.child.name && r.duplicate_of.is_none())
                .filter(|r| Some(&r.id) != self.ep.index_report.as_ref())
                .filter(|r| r.date > after && (!substantiated || Self::substantiated(r)))
                .map(|r| r.date)
                .collect();
            v.sort_unstable();
            v
        }

        /// P1.1 / P1.3 (`window`: the fixed window of P1.3) and P1.2 (`at_home`).
        pub fn phase1(&self, rule: SafetyDate, at_home: bool, window: Option<Day>) -> Option<Row> {
            let t0 = self.ep.entry;
            if !self.minor_on(t0) {
                return None;
            }
            let mut causes = vec![];
            if at_home {
                causes.push(("SAFETY_AT_HOME", self.safety_reached(rule, true)));
                causes.push(("PLACEMENT", self.placement_start()));
            } else {
                causes.push(("SAFETY", self.safety(rule)));
            }
            causes.extend([
                ("CLOSED_WITHOUT_SAFETY", self.closed_without_safety()),
                ("DEATH", self.death()),
                ("AGE_18", self.child.d18),
            ]);
            let censoring = [
                Some(self.admin_end()),
                self.left_data(),
                self.no_maltreatment_found(),
            ];
            let r = row(self.name(), first_of(t0, &causes, &censoring)?);
            Some(match window {
                Some(w) => r.window(t0 + w <= EXTRACT && self.minor_on(t0 + w)),
                None => r,
            })
        }

        fn origin(&self, origin: Origin) -> Option<Day> {
            match origin {
                Origin::Safety(rule) => self.safety(rule),
                Origin::IndexReport => Some(self.ep.entry),
            }
        }

        /// P2.1: the first re-report more than 14 days after t0; 18 censors; closure does not.
        pub fn rereport(&self, origin: Origin) -> Option<Row> {
            let t0 = self.origin(origin)?;
            if !self.minor_on(t0) {
                return None;
            }
            let causes = [
                (
                    "REREPORT",
                    self.reports_after(t0 + 14, false).first().copied(),
                ),
                ("DEATH", self.death()),
            ];
            let censoring = [Some(self.admin_end()), self.left_data(), self.child.d18];
            first_of(t0, &causes, &censoring).map(|e| row(self.name(), e))
        }

        /// P2.2: substantiated recurrence after the index substantiated report, with the
        /// complete-window flag of the proportion (365 days plus a 90-day maturity lag).
        pub fn recurrence(&self) -> Option<Row> {
            let index = self
                .w
                .reports
                .iter()
                .find(|r| Some(&r.id) == self.ep.index_report.as_ref())?;
            if !index
                .forms
                .iter()
                .any(|f| matches!(f.finding, "SUBSTANTIATED" | "INDICATED"))
            {
                return None;
            }
            let t0 = index.date;
            if !self.minor_on(t0) {
                return None;
            }
            let causes = [
                (
                    "SUBSTANTIATED_RECURRENCE",
                    self.reports_after(t0 + 14, true).first().copied(),
                ),
                ("DEATH", self.death()),
            ];
            let censoring = [Some(self.admin_end()), self.left_data(), self.child.d18];
            let complete = t0 + 365 + 90 <= EXTRACT && self.minor_on(t0 + 365);
            first_of(t0, &causes, &censoring).map(|e| row(self.name(), e).window(complete))
        }

        /// P2.3: every re-report more than 14 days after the previous counted one (or t0), up to
        /// 730 days, as counting-process rows.
        pub fn recurrent(&self, origin: Origin) -> Vec<Row> {
            let Some(t0) = self.origin(origin) else {
                return vec![];
            };
            if !self.minor_on(t0) {
                return vec![];
            }
            let end = [
                Some(self.admin_end()),
                self.left_data(),
                self.child.d18,
                Some(t0 + 730),
                self.death(),
            ]
            .into_iter()
            .flatten()
            .min()
            .expect("an end");
            if end < t0 {
                return vec![];
            }
            let mut rows = Vec::new();
            let mut prev = t0;
            for d in self.reports_after(t0 + 14, false) {
                if d <= end && d > prev + 14 {
                    rows.push(Row::spell(self.name(), prev - t0, d - t0, "REREPORT"));
                    prev = d;
                }
            }
            if end > prev {
                rows.push(Row::spell(self.name(), prev - t0, end - t0, "censored"));
            }
            rows
        }

        /// P2.5: moves and days in care over the chain's placements from entry (trial home
        /// visits and spells ending in a runaway left out, days from 18 or death on not counted).
        pub fn stability(&self) -> Option<Row> {
            let stop = [Some(self.admin_end()), self.child.d18, self.death()]
                .into_iter()
                .flatten()
                .min()
                .expect("an end");
            let (mut days, mut moves) = (0, 0);
            for p in &self.w.placements {
                if !self.in_chain(Some(&p.episode))
                    || p.start < self.ep.entry
                    || p.trial
                    || p.exit == Some("RUNAWAY")
                {
                    continue;
                }
                let end = p.end.unwrap_or(stop).min(stop);
                days += (end - p.start).max(0);
                moves += self
                    .events("PLACEMENT_MOVE")
                    .filter(|m| m.date > p.start && m.date <= end)
                    .count() as i64;
            }
            (days > 0).then(|| Row {
                events: Some(moves),
                exposure_days: Some(days as f64),
                ..Row::new(self.name())
            })
        }

        /// The valid SDQ_P score closest to `target` within `tol` days (earlier first on a tie).
        fn score(&self, target: Day, tol: Day) -> Option<f64> {
            self.w
                .assessments
                .iter()
                .filter(|a| a.child == self.child.name && a.instrument == "SDQ_P" && a.valid)
                .filter(|a| (a.date - target).abs() <= tol)
                .min_by_key(|a| ((a.date - target).abs(), a.date))
                .map(|a| a.score)
        }

        /// P3.2 (and P3.4 with `sustained`): SDQ_P at baseline (entry ± 30) and M12 (365 ± 60);
        /// children at or above the cut-off 17 at baseline; reliable change 8 points.
        pub fn recovery(&self, sustained: bool) -> Option<Row> {
            let t0 = self.ep.entry;
            let baseline = self.score(t0, 30)?;
            if baseline < 17.0 {
                return None;
            }
            let followup = self.score(t0 + 365, 60);
            let recovered = followup.map(|f| f < 17.0);
            let recurrence = self
                .w
                .reports
                .iter()
                .filter(|r| r.child == self.child.name && r.duplicate_of.is_none())
                .filter(|r| Some(&r.id) != self.ep.index_report.as_ref())
                .any(|r| r.date > t0 + 14 && r.date <= t0 + 365 && Self::substantiated(r));
            Some(Row {
                baseline: Some(baseline),
                followup,
                improved: followup.map(|f| i64::from(baseline - f >= 8.0)),
                recovered: recovered.map(i64::from),
                sustained: if sustained {
                    recovered.map(|r| i64::from(r && !recurrence))
                } else {
                    None
                },
                ..Row::new(self.name())
            })
        }

        /// First start of `code` for the child (any episode) from entry on.
        pub fn intervention_start(&self, code: &str) -> Option<Day> {
            self.w
                .interventions
                .iter()
                .filter(|x| x.code == code && x.start >= self.ep.entry)
                .filter(|x| {
                    self.w
                        .episodes
                        .iter()
                        .any(|e| e.id == x.episode && e.child == self.child.name)
                })
                .map(|x| x.start)
                .min()
        }
    }

    /// Splits a one-row (0, T] outcome at the start of an intervention (days since t0):
    /// untreated before, treated after; an intervention from the event day on does not count.
    pub fn split(r: Row, start: Option<Day>, grp: &str) -> Vec<Row> {
        let t = r.t_stop.expect("t_stop") as Day;
        match start {
            Some(s) if s < t => {
                let mut out = Vec::new();
                if s > 0 {
                    out.push(Row::spell(&r.child, 0, s, "censored").treated(0, grp));
                }
                out.push(
                    Row {
                        t_start: Some(s.max(0) as f64),
                        ..r
                    }
                    .treated(1, grp),
                );
                out
            }
            _ => vec![r.treated(0, grp)],
        }
    }
}

use derive::{Origin, SafetyDate, entries};

/// Every entry's row of a one-row outcome.
fn derived(w: &World, f: impl Fn(&derive::Entry) -> Option<Row>) -> Vec<Row> {
    entries(w, false).iter().filter_map(f).collect()
}

fn protocol(body: &str) -> String {
    format!("{HEADER}\n{body}")
}

// ---------------------------------------------------------------------------------------------
// Phase 1
// ---------------------------------------------------------------------------------------------

/// P1.1 / P1.2 / P1.3: each competing event, each censoring, the 30-day breach rule of safety by
/// removal, safety at home, ties, the 18th birthday and the complete window of P1.3.
#[test]
fn phase1_competing_events_censoring_and_ties() {
    let mut w = World::default();
    // Each child enters on day 0 (unless said otherwise); what happened, by day:
    w.child("safe"); // safety reached on day 40
    w.event("safe", "SAFETY_REACHED", 40);
    w.child("removed"); // placed on day 25, no breach: safety by removal
    w.placement("removed-1", 25, None);
    w.child("breach"); // placed on day 25, breach on day 55 (within 30 days), safe at home on 260
    w.placement("breach-1", 25, Some((200, "REUNIFICATION")));
    w.event("breach", "SAFETY_BREACH", 55);
    w.event("breach", "SAFETY_REACHED", 260);
    w.child("late_breach"); // placed on day 25, breach on day 56 (31 days later)
    w.placement("late_breach-1", 25, None);
    w.event("late_breach", "SAFETY_BREACH", 56);
    w.child("referred"); // closed without safety (referred on) on day 60
    w.close("referred-1", 60, "REFERRED_ON");
    w.child("no_finding"); // closed "no maltreatment found" on day 45: censored
    w.close("no_finding-1", 45, "NO_MALTREATMENT_FOUND");
    w.child("died").fate = Fate::Died(70); // died on day 70
    w.close("died-1", 70, "DEATH");
    w.child("turns18").d18 = Some(100); // 18 on day 100
    w.child("turns18_day80").d18 = Some(80); // 18 on day 80: cannot complete 90 days
    w.child("tie"); // safety and closure (family withdrew) on day 80: the event ranks first
    w.event("tie", "SAFETY_REACHED", 80);
    w.close("tie-1", 80, "FAMILY_WITHDREW");
    w.child("tie_censor"); // safety on day 30, closed "no maltreatment found" on day 30
    w.event("tie_censor", "SAFETY_REACHED", 30);
    w.close("tie_censor-1", 30, "NO_MALTREATMENT_FOUND");
    w.child("open"); // nothing happens: censored at the extract
    w.child("moved").fate = Fate::Moved(300); // moved abroad on day 300
    w.close("moved-1", 300, "MOVED_ABROAD");
    // placed in an earlier episode (before the window) until day 100: safe on day 60 while
    // placed, safe at home on day 150
    w.child_at("prior", -600);
    w.close("prior-1", -10, "REFERRED_ON");
    w.placement("prior-1", -50, Some((100, "REUNIFICATION")));
    w.episode("prior", 0);
    w.event("prior", "SAFETY_REACHED", 60);
    w.event("prior", "SAFETY_REACHED", 150);
    w.child("adult").d18 = Some(-10); // 18 before entry: in no dataset
    w.child_at("late_entry", 950); // entered 50 days before the extract

    let s = run(
        &w,
        &protocol(
            "[[outcome]]\nid = \"P1.1\"\n\n[[outcome]]\nid = \"P1.2\"\n\n[[outcome]]\nid = \"P1.3\"\n",
        ),
    );
    assert_eq!(
        s.causes("P1.1"),
        ["SAFETY", "CLOSED_WITHOUT_SAFETY", "DEATH", "AGE_18"]
    );
    assert_eq!(
        s.causes("P1.2"),
        [
            "SAFETY_AT_HOME",
            "PLACEMENT",
            "CLOSED_WITHOUT_SAFETY",
            "DEATH",
            "AGE_18"
        ]
    );
    assert_eq!(s.causes("P1.3"), s.causes("P1.1"));

    let p11 = derived(&w, |e| e.phase1(SafetyDate::Recorded, false, None));
    #[rustfmt::skip]
    let by_hand = spells(&[
        ("safe", 40, "SAFETY"),
        ("removed", 25, "SAFETY"),
        ("breach", 260, "SAFETY"),
        ("late_breach", 25, "SAFETY"),
        ("referred", 60, "CLOSED_WITHOUT_SAFETY"),
        ("no_finding", 45, "censored"),
        ("died", 70, "DEATH"),
        ("turns18", 100, "AGE_18"),
        ("turns18_day80", 80, "AGE_18"),
        ("tie", 80, "SAFETY"),
        ("tie_censor", 30, "SAFETY"),
        ("open", 1000, "censored"),
        ("moved", 300, "censored"),
        ("prior", 60, "SAFETY"),
        ("late_entry", 50, "censored"),
    ]);
    same("P1.1 derivation vs by hand", &p11, &by_hand);
    same("P1.1", s.rows("P1.1"), &p11);

    let p12 = derived(&w, |e| e.phase1(SafetyDate::Recorded, true, None));
    #[rustfmt::skip]
    let by_hand = spells(&[
        ("safe", 40, "SAFETY_AT_HOME"),
        ("removed", 25, "PLACEMENT"),
        ("breach", 25, "PLACEMENT"),
        ("late_breach", 25, "PLACEMENT"),
        ("referred", 60, "CLOSED_WITHOUT_SAFETY"),
        ("no_finding", 45, "censored"),
        ("died", 70, "DEATH"),
        ("turns18", 100, "AGE_18"),
        ("turns18_day80", 80, "AGE_18"),
        ("tie", 80, "SAFETY_AT_HOME"),
        ("tie_censor", 30, "SAFETY_AT_HOME"),
        ("open", 1000, "censored"),
        ("moved", 300, "censored"),
        ("prior", 150, "SAFETY_AT_HOME"),
        ("late_entry", 50, "censored"),
    ]);
    same("P1.2 derivation vs by hand", &p12, &by_hand);
    same("P1.2", s.rows("P1.2"), &p12);

    let p13 = derived(&w, |e| e.phase1(SafetyDate::Recorded, false, Some(90)));
    let incomplete: Vec<&str> = p13
        .iter()
        .filter(|r| r.complete_window == Some(false))
        .map(|r| r.child.as_str())
        .collect();
    assert_eq!(incomplete, ["turns18_day80", "late_entry"]);
    same("P1.3", s.rows("P1.3"), &p13);
}

/// Transfers: a VK→VK transfer continues follow-up into the next episode (safety, closure and
/// re-reports there count); a transfer to a centre outside the data censors at the closure date
/// (P1.1 and P2.1); an episode after a closure is not a continuation.
#[test]
fn transfers_continue_or_censor() {
    let mut w = World::default();
    w.child("vk_transfer"); // moves to VK Limburg on day 50, safe there on day 120, re-reported on 300
    w.transfer("vk_transfer-1", 50, "VK_LIM");
    w.event("vk_transfer", "SAFETY_REACHED", 120);
    w.report("vk_transfer", 300);
    w.child("transfer_closed"); // moves on day 30; the next centre refers on (closes) on day 90
    let next = w.transfer("transfer_closed-1", 30, "VK_OVL");
    w.close(&next, 90, "REFERRED_ON");
    w.child("two_transfers"); // moves on day 30 and day 80, safe on day 150
    let next = w.transfer("two_transfers-1", 30, "VK_LIM");
    w.transfer(&next, 80, "VK_OVL");
    w.event("two_transfers", "SAFETY_REACHED", 150);
    w.child("left_data"); // transferred out of the data on day 50; later records do not count
    w.transfer_out("left_data-1", 50, None);
    w.event_in("left_data", None, "SAFETY_REACHED", 120);
    w.report("left_data", 300);
    w.child("dangling"); // transferred to an episode the data does not hold, on day 70
    w.transfer_out("dangling-1", 70, Some("dangling-elsewhere"));
    w.child("in_then_out"); // VK→VK on day 40, then out of the data on day 100
    let next = w.transfer("in_then_out-1", 40, "VK_LIM");
    w.transfer_out(&next, 100, None);
    w.child("new_episode"); // closed (family withdrew) on day 100; a new episode on day 400, safe on 420
    w.close("new_episode-1", 100, "FAMILY_WITHDREW");
    w.episode("new_episode", 400);
    w.event("new_episode", "SAFETY_REACHED", 420);

    let s = run(
        &w,
        &protocol(
            "[[outcome]]\nid = \"P1.1\"\n\n[[outcome]]\nid = \"P2.1\"\norigin = \"index_report\"\n",
        ),
    );
    let p11 = derived(&w, |e| e.phase1(SafetyDate::Recorded, false, None));
    #[rustfmt::skip]
    let by_hand = spells(&[
        ("vk_transfer", 120, "SAFETY"),
        ("transfer_closed", 90, "CLOSED_WITHOUT_SAFETY"),
        ("two_transfers", 150, "SAFETY"),
        ("left_data", 50, "censored"),
        ("dangling", 70, "censored"),
        ("in_then_out", 100, "censored"),
        ("new_episode", 100, "CLOSED_WITHOUT_SAFETY"),
    ]);
    same("P1.1 derivation vs by hand", &p11, &by_hand);
    same("P1.1", s.rows("P1.1"), &p11);

    let p21 = derived(&w, |e| e.rereport(Origin::IndexReport));
    #[rustfmt::skip]
    let by_hand = spells(&[
        ("vk_transfer", 300, "REREPORT"),
        ("transfer_closed", 1000, "censored"), // closure does not censor a re-report
        ("two_transfers", 1000, "censored"),
        ("left_data", 50, "censored"),
        ("dangling", 70, "censored"),
        ("in_then_out", 100, "censored"),
        ("new_episode", 400, "REREPORT"), // the new episode's index report is a re-report
    ]);
    same("P2.1 derivation vs by hand", &p21, &by_hand);
    same("P2.1", s.rows("P2.1"), &p21);
}

/// Interval-censored safety: the recorded review date, the midpoint since the previous review
/// (rounded down) or the previous review itself, never before entry; P2.1's origin moves with it.
#[test]
fn interval_censored_safety_dates() {
    let mut w = World::default();
    w.child("exact"); // safe on day 45 (exact date), re-reported on day 100
    w.event("exact", "SAFETY_REACHED", 45);
    w.report("exact", 100);
    w.child("review"); // safe between the reviews of day 20 and day 60; re-reported on day 80
    w.safety_at_review("review", 20, 60);
    w.report("review", 80);
    w.child("review_odd"); // safe between day 20 and day 61 (midpoint 40.5 -> 40)
    w.safety_at_review("review_odd", 20, 61);
    w.child("review_before_entry"); // previous review 10 days before entry, safe by day 50
    w.safety_at_review("review_before_entry", -10, 50);
    w.child("no_safety"); // closed without safety on day 30: no P2.1 origin
    w.close("no_safety-1", 30, "REFERRED_ON");
    w.child("removal"); // placed on day 25; reports on day 39 (14 days later) and 40
    w.placement("removal-1", 25, None);
    w.report("removal", 39);
    w.report("removal", 40);

    #[rustfmt::skip]
    let cases: [(&str, SafetyDate, [(&str, Day, Day); 4]); 3] = [
        //                                    child, P1.1 safety day, P2.1 time to re-report or censoring
        ("recorded", SafetyDate::Recorded, [("exact", 45, 55), ("review", 60, 20), ("review_odd", 61, 939), ("review_before_entry", 50, 950)]),
        ("midpoint", SafetyDate::Midpoint, [("exact", 45, 55), ("review", 40, 40), ("review_odd", 40, 960), ("review_before_entry", 20, 980)]),
        ("lower", SafetyDate::Lower, [("exact", 45, 55), ("review", 20, 60), ("review_odd", 20, 980), ("review_before_entry", 0, 1000)]),
    ];
    for (key, rule, hand) in cases {
        let s = run(
            &w,
            &protocol(&format!(
                "[[outcome]]\nid = \"P1.1\"\nsafety_date = \"{key}\"\n\n[[outcome]]\nid = \"P2.1\"\nsafety_date = \"{key}\"\n"
            )),
        );
        let p11 = derived(&w, |e| e.phase1(rule, false, None));
        let p21 = derived(&w, |e| e.rereport(Origin::Safety(rule)));
        let mut hand11 = vec![
            Row::spell("no_safety", 0, 30, "CLOSED_WITHOUT_SAFETY"),
            Row::spell("removal", 0, 25, "SAFETY"),
        ];
        let mut hand21 = vec![Row::spell("removal", 0, 15, "REREPORT")];
        for (child, safe, t) in hand {
            hand11.push(Row::spell(child, 0, safe, "SAFETY"));
            let status = if t + safe >= EXTRACT {
                "censored"
            } else {
                "REREPORT"
            };
            hand21.push(Row::spell(child, 0, t, status));
        }
        same(&format!("P1.1 {key}: derivation vs by hand"), &p11, &hand11);
        same(&format!("P2.1 {key}: derivation vs by hand"), &p21, &hand21);
        same(&format!("P1.1 {key}"), s.rows("P1.1"), &p11);
        same(&format!("P2.1 {key}"), s.rows("P2.1"), &p21);
    }
}

// ---------------------------------------------------------------------------------------------
// Phase 2
// ---------------------------------------------------------------------------------------------

/// P2.1 from the index report: the 14-day rule (days 10 and 14 do not count, 15 does), flagged
/// duplicates, closure not censoring, the 18th birthday censoring, death competing.
#[test]
fn rereport_fourteen_day_rule_duplicates_and_age_18() {
    let mut w = World::default();
    w.child("day10"); // re-reported on day 10 only
    w.report("day10", 10);
    w.child("day14"); // re-reported on day 14 only
    w.report("day14", 14);
    w.child("day15"); // re-reported on day 15
    w.report("day15", 15);
    w.child("days10_14_15"); // re-reported on days 10, 14 and 15
    for d in [10, 14, 15] {
        w.report("days10_14_15", d);
    }
    w.child("duplicate"); // day 30 flagged as a duplicate of the index report; again on day 200
    w.report("duplicate", 30).duplicate_of = Some("duplicate-1-index".into());
    w.report("duplicate", 200);
    w.child("index_only"); // only the index report
    w.child("closed"); // closed on day 50, re-reported on day 500
    w.close("closed-1", 50, "REFERRED_ON");
    w.report("closed", 500);
    w.child("turns18").d18 = Some(300); // 18 on day 300, re-reported on day 400
    w.report("turns18", 400);
    w.child("report_on_18th").d18 = Some(300); // re-reported on the 18th birthday
    w.report("report_on_18th", 300);
    w.child("adult").d18 = Some(0); // 18 on the day of entry
    w.report("adult", 100);
    w.child("died").fate = Fate::Died(250); // died on day 250
    w.close("died-1", 250, "DEATH");
    w.child("new_episode"); // a new episode (with its own index report) on day 600
    w.episode("new_episode", 600);

    let s = run(
        &w,
        &protocol("[[outcome]]\nid = \"P2.1\"\norigin = \"index_report\"\n"),
    );
    assert_eq!(s.causes("P2.1"), ["REREPORT", "DEATH"]);
    let p21 = derived(&w, |e| e.rereport(Origin::IndexReport));
    #[rustfmt::skip]
    let by_hand = spells(&[
        ("day10", 1000, "censored"),
        ("day14", 1000, "censored"),
        ("day15", 15, "REREPORT"),
        ("days10_14_15", 15, "REREPORT"),
        ("duplicate", 200, "REREPORT"),
        ("index_only", 1000, "censored"),
        ("closed", 500, "REREPORT"),
        ("turns18", 300, "censored"),
        ("report_on_18th", 300, "REREPORT"),
        ("died", 250, "DEATH"),
        ("new_episode", 600, "REREPORT"),
    ]);
    same("P2.1 derivation vs by hand", &p21, &by_hand);
    same("P2.1", s.rows("P2.1"), &p21);
}

/// P2.2: only substantiated or indicated findings dated by the extract count (pending and later
/// findings do not), the 14-day rule, duplicates, an index report that must be substantiated,
/// and the complete window: 365 days plus the 90-day maturity lag before the extract, and under
/// 18 for the whole window.
#[test]
fn substantiated_recurrence_maturity_lag_and_complete_window() {
    let mut w = World::default();
    w.child("recurs"); // day 100, substantiated on day 130
    w.report("recurs", 100)
        .form("PHYS", "SUBSTANTIATED", Some(130));
    w.child("pending"); // day 100, finding pending
    w.report("pending", 100).form("PHYS", "PENDING", None);
    w.child("found_after_extract"); // day 100, substantiated only after the extract (day 1010)
    w.report("found_after_extract", 100)
        .form("PHYS", "SUBSTANTIATED", Some(1010));
    w.child("undated"); // day 100 substantiated, finding undated (a data fault): does not count
    w.report("undated", 100).form("PHYS", "SUBSTANTIATED", None);
    w.child("within_14"); // day 10 substantiated (within 14 days), day 200 indicated
    w.report("within_14", 10)
        .form("PHYS", "SUBSTANTIATED", Some(20));
    w.report("within_14", 200)
        .form("NEGL", "INDICATED", Some(220));
    w.child("any_form"); // day 50 not substantiated; day 80 one form of two indicated
    w.report("any_form", 50)
        .form("PHYS", "NOT_SUBSTANTIATED", Some(60));
    w.report("any_form", 80)
        .form("NEGL", "NOT_SUBSTANTIATED", Some(90))
        .form("EMO", "INDICATED", Some(90));
    w.child("duplicate"); // day 60 substantiated but flagged as a duplicate
    w.report("duplicate", 60)
        .form("PHYS", "SUBSTANTIATED", Some(70))
        .duplicate_of = Some("duplicate-1-index".into());
    w.child("index_not_substantiated"); // not in the dataset
    w.index_report("index_not_substantiated-1").forms[0].finding = "NOT_SUBSTANTIATED";
    w.child("index_pending"); // not in the dataset
    w.index_report("index_pending-1").forms[0].finding = "PENDING";
    w.child_at("entry_545", 545); // 545 + 365 + 90 = 1000: complete
    w.child_at("entry_546", 546); // 1001: not complete (the 365 days alone would fit)
    w.child("turns18").d18 = Some(300); // 18 within the window: censored, not complete
    w.child("died").fate = Fate::Died(150);
    w.close("died-1", 150, "DEATH");

    let s = run(&w, &protocol("[[outcome]]\nid = \"P2.2\"\n"));
    assert_eq!(s.causes("P2.2"), ["SUBSTANTIATED_RECURRENCE", "DEATH"]);
    let p22 = derived(&w, |e| e.recurrence());
    #[rustfmt::skip]
    let by_hand: Vec<Row> = [
        ("recurs", 100, "SUBSTANTIATED_RECURRENCE", true),
        ("pending", 1000, "censored", true),
        ("found_after_extract", 1000, "censored", true),
        ("undated", 1000, "censored", true),
        ("within_14", 200, "SUBSTANTIATED_RECURRENCE", true),
        ("any_form", 80, "SUBSTANTIATED_RECURRENCE", true),
        ("duplicate", 1000, "censored", true),
        ("entry_545", 455, "censored", true),
        ("entry_546", 454, "censored", false),
        ("turns18", 300, "censored", false),
        ("died", 150, "DEATH", true),
    ]
    .iter()
    .map(|(c, t, st, complete)| Row::spell(c, 0, *t, st).window(*complete))
    .collect();
    same("P2.2 derivation vs by hand", &p22, &by_hand);
    same("P2.2", s.rows("P2.2"), &p22);
}

/// P2.3: every re-report more than 14 days after the previous counted one, as (start, stop]
/// rows up to the 730-day window, the extract, 18 or death.
#[test]
fn recurrent_rereports_successive_deduplication() {
    let mut w = World::default();
    w.child("four"); // days 15, 25, 30, 60: 25 is within 14 days of 15
    for d in [15, 25, 30, 60] {
        w.report("four", d);
    }
    w.child("none");
    w.child("after_window"); // day 800, after the 730-day window
    w.report("after_window", 800);
    w.child("died").fate = Fate::Died(100); // day 50, died on day 100, day 150
    w.close("died-1", 100, "DEATH");
    w.report("died", 50);
    w.report("died", 150);
    w.child("turns18").d18 = Some(200); // day 20, 18 on day 200, day 250
    w.report("turns18", 20);
    w.report("turns18", 250);
    w.child("at_horizon"); // day 730 exactly
    w.report("at_horizon", 730);
    w.child("duplicate"); // day 20 flagged duplicate, day 40
    w.report("duplicate", 20).duplicate_of = Some("duplicate-1-index".into());
    w.report("duplicate", 40);
    w.child("day14"); // days 14, 28, 29: 14 is too early, 29 within 14 days of 28
    for d in [14, 28, 29] {
        w.report("day14", d);
    }
    w.child("step14"); // days 20, 34 (14 days after 20: not counted), 35
    for d in [20, 34, 35] {
        w.report("step14", d);
    }
    w.child_at("late_entry", 500); // day 520; the extract (day 1000) ends follow-up before 730 days
    w.report("late_entry", 520);

    let s = run(
        &w,
        &protocol("[[outcome]]\nid = \"P2.3\"\norigin = \"index_report\"\n"),
    );
    assert_eq!(s.causes("P2.3"), ["REREPORT"]);
    let p23: Vec<Row> = entries(&w, false)
        .iter()
        .flat_map(|e| e.recurrent(Origin::IndexReport))
        .collect();
    #[rustfmt::skip]
    let by_hand: Vec<Row> = [
        ("four", 0, 15, "REREPORT"), ("four", 15, 30, "REREPORT"), ("four", 30, 60, "REREPORT"), ("four", 60, 730, "censored"),
        ("none", 0, 730, "censored"),
        ("after_window", 0, 730, "censored"),
        ("died", 0, 50, "REREPORT"), ("died", 50, 100, "censored"),
        ("turns18", 0, 20, "REREPORT"), ("turns18", 20, 200, "censored"),
        ("at_horizon", 0, 730, "REREPORT"),
        ("duplicate", 0, 40, "REREPORT"), ("duplicate", 40, 730, "censored"),
        ("day14", 0, 28, "REREPORT"), ("day14", 28, 730, "censored"),
        ("step14", 0, 20, "REREPORT"), ("step14", 20, 35, "REREPORT"), ("step14", 35, 730, "censored"),
        ("late_entry", 0, 20, "REREPORT"), ("late_entry", 20, 500, "censored"),
    ]
    .iter()
    .map(|(c, a, b, st)| Row::spell(c, *a, *b, st))
    .collect();
    same("P2.3 derivation vs by hand", &p23, &by_hand);
    same("P2.3", s.rows("P2.3"), &p23);
}

/// P2.5: moves and days in care; the initial removal is not a move, trial home visits and
/// runaway spells are left out, days from the 18th birthday, death or moving abroad on are not
/// counted, placements after a VK→VK transfer count.
#[test]
fn placement_stability_moves_per_days_in_care() {
    let mut w = World::default();
    w.child("one_move"); // days 10-110, moved to another carer on 110, home on 300
    w.placement("one_move-1", 10, Some((110, "MOVE")));
    w.placement("one_move-1", 110, Some((300, "REUNIFICATION")));
    w.event("one_move", "PLACEMENT_MOVE", 110);
    w.child("trial_visit"); // trial home visit 50-80 (a move on 60 inside it), placed from 100, move on 500
    w.placement("trial_visit-1", 50, Some((80, "REUNIFICATION")))
        .trial = true;
    w.event("trial_visit", "PLACEMENT_MOVE", 60);
    w.placement("trial_visit-1", 100, None);
    w.event("trial_visit", "PLACEMENT_MOVE", 500);
    w.child("turns18").d18 = Some(200); // placed from 100, moves on 150 and 250 (after 18)
    w.placement("turns18-1", 100, None);
    w.event("turns18", "PLACEMENT_MOVE", 150);
    w.event("turns18", "PLACEMENT_MOVE", 250);
    w.child("runaway"); // 20-60 ending in a runaway (a move on 40), then 70-170
    w.placement("runaway-1", 20, Some((60, "RUNAWAY")));
    w.event("runaway", "PLACEMENT_MOVE", 40);
    w.placement("runaway-1", 70, Some((170, "REUNIFICATION")));
    w.child("never_placed"); // no row
    w.child("died").fate = Fate::Died(150); // placed from 100, died on 150
    w.placement("died-1", 100, None);
    w.child("moved").fate = Fate::Moved(400); // placed from 300, moved abroad on 400
    w.placement("moved-1", 300, None);
    w.child("transferred"); // VK→VK on day 50, placed 60-160 by the next centre
    let next = w.transfer("transferred-1", 50, "VK_LIM");
    w.placement(&next, 60, Some((160, "REUNIFICATION")));

    let s = run(&w, &protocol("[[outcome]]\nid = \"P2.5\"\n"));
    let p25 = derived(&w, |e| e.stability());
    let by_hand: Vec<Row> = [
        ("one_move", 1, 290),
        ("trial_visit", 1, 900),
        ("turns18", 1, 100),
        ("runaway", 0, 100),
        ("died", 0, 50),
        ("moved", 0, 100),
        ("transferred", 0, 100),
    ]
    .iter()
    .map(|(c, moves, days)| Row {
        events: Some(*moves),
        exposure_days: Some(*days as f64),
        ..Row::new(c)
    })
    .collect();
    same("P2.5 derivation vs by hand", &p25, &by_hand);
    same("P2.5", s.rows("P2.5"), &p25);
}

/// A time-varying intervention: (start, stop] rows split at the start of family support, no
/// immortal time; the curves' group is "treated" when it starts within 30 days of entry.
#[test]
fn time_varying_intervention_splits_at_its_start() {
    let mut w = World::default();
    w.child("starts_day20"); // family support from day 20, re-reported on day 100
    w.intervention("starts_day20-1", "FAMILY_SUPPORT", 20);
    w.report("starts_day20", 100);
    w.child("never"); // no family support, re-reported on day 50
    w.report("never", 50);
    w.child("from_entry"); // family support from day 0, re-reported on day 60
    w.intervention("from_entry-1", "FAMILY_SUPPORT", 0);
    w.report("from_entry", 60);
    w.child("after_event"); // re-reported on day 100, family support from day 200
    w.intervention("after_event-1", "FAMILY_SUPPORT", 200);
    w.report("after_event", 100);
    w.child("same_day"); // family support and re-report on day 100
    w.intervention("same_day-1", "FAMILY_SUPPORT", 100);
    w.report("same_day", 100);
    w.child("late_start"); // family support from day 60 (after 30 days), never re-reported
    w.intervention("late_start-1", "FAMILY_SUPPORT", 60);
    w.child("other_code"); // advice only on day 10, re-reported on day 40
    w.intervention("other_code-1", "ADVICE_ONLY", 10);
    w.report("other_code", 40);

    let s = run(
        &w,
        &protocol(
            "[groups]\nintervention = \"FAMILY_SUPPORT\"\n\n[[outcome]]\nid = \"P2.1\"\norigin = \"index_report\"\n",
        ),
    );
    let p21: Vec<Row> = entries(&w, false)
        .iter()
        .flat_map(|e| {
            let start = e.intervention_start("FAMILY_SUPPORT");
            let grp = if start.is_some_and(|d| d <= e.ep.entry + 30) {
                "treated"
            } else {
                "untreated"
            };
            let row = e.rereport(Origin::IndexReport).expect("a row");
            derive::split(row, start.map(|d| d - e.ep.entry), grp)
        })
        .collect();
    #[rustfmt::skip]
    let by_hand: Vec<Row> = [
        ("starts_day20", 0, 20, "censored", 0, "treated"), ("starts_day20", 20, 100, "REREPORT", 1, "treated"),
        ("never", 0, 50, "REREPORT", 0, "untreated"),
        ("from_entry", 0, 60, "REREPORT", 1, "treated"),
        ("after_event", 0, 100, "REREPORT", 0, "untreated"),
        ("same_day", 0, 100, "REREPORT", 0, "untreated"),
        ("late_start", 0, 60, "censored", 0, "untreated"), ("late_start", 60, 1000, "censored", 1, "untreated"),
        ("other_code", 0, 40, "REREPORT", 0, "untreated"),
    ]
    .iter()
    .map(|(c, a, b, st, tr, g)| Row::spell(c, *a, *b, st).treated(*tr, g))
    .collect();
    same("P2.1 time-varying derivation vs by hand", &p21, &by_hand);
    same("P2.1 time-varying", s.rows("P2.1"), &p21);
}

// ---------------------------------------------------------------------------------------------
// Phase 3
// ---------------------------------------------------------------------------------------------

/// P3.2 / P3.4 on SDQ_P (clinical cut-off 17, reliable change 8): baseline within 30 days of
/// entry and the M12 score within 60 days of day 365 (closest), children at or above the
/// cut-off at baseline only; P3.4 also needs no substantiated recurrence within the year.
#[test]
fn recovery_and_reliable_improvement_at_the_cut_off() {
    let mut w = World::default();
    w.child("recovers"); // 25 on day 5, 15 on day 365
    w.assessment("recovers", "SDQ_P", 5, 25.0);
    w.assessment("recovers", "SDQ_P", 365, 15.0);
    w.child("small_change"); // 20 -> 14 (6 points), substantiated re-report on day 200
    w.assessment("small_change", "SDQ_P", 0, 20.0);
    w.assessment("small_change", "SDQ_P", 400, 14.0);
    w.report("small_change", 200)
        .form("NEGL", "SUBSTANTIATED", Some(230));
    w.child("at_cut"); // 17 -> 17
    w.assessment("at_cut", "SDQ_P", -10, 17.0);
    w.assessment("at_cut", "SDQ_P", 330, 17.0);
    w.child("below_cut"); // 16 at baseline: not in the denominator
    w.assessment("below_cut", "SDQ_P", 0, 16.0);
    w.assessment("below_cut", "SDQ_P", 365, 5.0);
    w.child("no_followup"); // 30 at baseline, next score on day 200 (outside 305-425)
    w.assessment("no_followup", "SDQ_P", 0, 30.0);
    w.assessment("no_followup", "SDQ_P", 200, 12.0);
    w.child("closest"); // baseline 22 (day -20) or 28 (day 10); M12 10 (day 330) or 19 (day 380)
    w.assessment("closest", "SDQ_P", -20, 22.0);
    w.assessment("closest", "SDQ_P", 10, 28.0);
    w.assessment("closest", "SDQ_P", 330, 10.0);
    w.assessment("closest", "SDQ_P", 380, 19.0);
    w.child("invalid"); // an invalid 30 on day 0, a valid 12 on day 3: not in the denominator
    w.assessment("invalid", "SDQ_P", 0, 30.0).valid = false;
    w.assessment("invalid", "SDQ_P", 3, 12.0);
    w.child("other_instrument"); // CBCL only
    w.assessment("other_instrument", "CBCL_6_18", 0, 80.0);
    w.child("rci_exact"); // 25 -> 17: exactly the reliable change, not below the cut-off
    w.assessment("rci_exact", "SDQ_P", 0, 25.0);
    w.assessment("rci_exact", "SDQ_P", 365, 17.0);

    let s = run(
        &w,
        &protocol("[[outcome]]\nid = \"P3.2\"\n\n[[outcome]]\nid = \"P3.4\"\n"),
    );
    let p32 = derived(&w, |e| e.recovery(false));
    let p34 = derived(&w, |e| e.recovery(true));
    #[rustfmt::skip]
    let hand: [(&str, f64, Option<f64>, Option<(i64, i64, i64)>); 6] = [
        // child, baseline, M12, (improved, recovered, sustained)
        ("recovers", 25.0, Some(15.0), Some((1, 1, 1))),
        ("small_change", 20.0, Some(14.0), Some((0, 1, 0))),
        ("at_cut", 17.0, Some(17.0), Some((0, 0, 0))),
        ("no_followup", 30.0, None, None),
        ("closest", 28.0, Some(19.0), Some((1, 0, 0))),
        ("rci_exact", 25.0, Some(17.0), Some((1, 0, 0))),
    ];
    let by_hand = |with_sustained: bool| -> Vec<Row> {
        hand.iter()
            .map(|(c, b, f, r)| Row {
                baseline: Some(*b),
                followup: *f,
                improved: r.map(|x| x.0),
                recovered: r.map(|x| x.1),
                sustained: r.filter(|_| with_sustained).map(|x| x.2),
                ..Row::new(c)
            })
            .collect()
    };
    same("P3.2 derivation vs by hand", &p32, &by_hand(false));
    same("P3.4 derivation vs by hand", &p34, &by_hand(true));
    same("P3.2", s.rows("P3.2"), &p32);
    same("P3.4", s.rows("P3.4"), &p34);
}

// ---------------------------------------------------------------------------------------------
// Cohort rules
// ---------------------------------------------------------------------------------------------

/// Attrition: children and episodes remaining after each rule (age, community, forms any / all /
/// primary, washout, an exclusion), for first-episode and every-episode entry.
#[test]
fn attrition_counts_follow_each_rule() {
    let mut w = World::default();
    let both = ["PHYS", "NEGL"];
    for name in [
        "ok",
        "ok_17y11m",
        "age_18y",
        "prenatal",
        "age_unknown",
        "sos",
        "washout_100",
        "washout_365",
        "washout_366",
        "refugee",
        "poverty",
        "transferred",
    ] {
        w.child(name);
        w.index_forms(&format!("{name}-1"), &both);
    }
    w.ep("ok_17y11m-1").age_months = Some(17 * 12 + 11);
    w.ep("age_18y-1").age_months = Some(18 * 12);
    w.ep("prenatal-1").age_months = Some(-3);
    w.ep("age_unknown-1").age_months = None;
    w.ep("sos-1").centre = "SOS_LIEGE";
    w.child("emo_only"); // the index report alleges emotional abuse only
    w.index_forms("emo_only-1", &["EMO"]);
    w.child("phys_only");
    w.index_forms("phys_only-1", &["PHYS"]);
    w.child("negl_primary"); // both forms, neglect primary
    w.index_forms("negl_primary-1", &["NEGL", "PHYS"]);
    for (name, before) in [
        ("washout_100", 100),
        ("washout_365", 365),
        ("washout_366", 366),
    ] {
        let r = w.report(name, -before);
        r.episode = None;
    }
    w.contexts.push(("refugee-1".into(), "REFUGEE_CHILD"));
    w.contexts.push(("poverty-1".into(), "POVERTY"));
    w.transfer("transferred-1", 50, "VK_LIM"); // the continuation is not an entry
    w.child_at("before_window", -500); // enters before the window
    w.child("two_entries"); // a second entry on day 300 (a report on day 0 within its washout)
    w.index_forms("two_entries-1", &both);
    w.episode("two_entries", 300);
    w.index_forms("two_entries-2", &both);

    let rules = "[[cohort.rule]]\nname = \"aged 0-17 at entry\"\nage_at_entry_years = { min = 0, max = 17 }\n\n\
        [[cohort.rule]]\nname = \"Flemish Community\"\ncommunity = [\"VL\"]\n\n\
        [[cohort.rule]]\nname = \"physical abuse or neglect\"\nforms = [\"PHYS\", \"NEGL\"]\n\n\
        [[cohort.rule]]\nname = \"physical abuse and neglect\"\nforms = [\"PHYS\", \"NEGL\"]\nforms_match = \"all\"\n\n\
        [[cohort.rule]]\nname = \"physical abuse primary\"\nforms = [\"PHYS\"]\nforms_match = \"primary\"\n\n\
        [[cohort.rule]]\nname = \"no report in the year before\"\nwashout_days = 365\n\n\
        [[cohort.rule]]\nname = \"refugee children excluded\"\ncontexts = [\"REFUGEE_CHILD\"]\nexclude = true\n\n\
        [[outcome]]\nid = \"P1.1\"\n";

    type Keep = fn(&derive::Entry) -> bool;
    fn index_forms<'a>(e: &'a derive::Entry) -> Vec<&'a Form> {
        e.w.reports
            .iter()
            .filter(|r| Some(&r.id) == e.ep.index_report.as_ref())
            .flat_map(|r| &r.forms)
            .collect()
    }
    let steps: [(&str, Keep); 8] = [
        ("entry", |_| true),
        ("aged 0-17 at entry", |e| {
            e.ep.age_months
                .is_some_and(|m| (0..=17 * 12 + 11).contains(&m))
        }),
        ("Flemish Community", |e| e.ep.centre.starts_with("VK_")),
        ("physical abuse or neglect", |e| {
            index_forms(e)
                .iter()
                .any(|f| f.code == "PHYS" || f.code == "NEGL")
        }),
        ("physical abuse and neglect", |e| {
            let f = index_forms(e);
            f.iter().any(|f| f.code == "PHYS") && f.iter().any(|f| f.code == "NEGL")
        }),
        ("physical abuse primary", |e| {
            index_forms(e).iter().any(|f| f.primary && f.code == "PHYS")
        }),
        ("no report in the year before", |e| {
            !e.w.reports.iter().any(|r| {
                r.child == e.child.name && r.date < e.ep.entry && r.date >= e.ep.entry - 365
            })
        }),
        ("refugee children excluded", |e| {
            !e.w.contexts
                .iter()
                .any(|(ep, c)| *ep == e.ep.id && *c == "REFUGEE_CHILD")
        }),
    ];
    #[rustfmt::skip]
    let hand: [(&str, [(u64, u64); 8]); 2] = [
        // entry, age, community, any, all, primary, washout, exclusion: (children, episodes)
        ("first", [(16, 16), (13, 13), (12, 12), (11, 11), (10, 10), (9, 9), (7, 7), (6, 6)]),
        ("every", [(16, 17), (13, 14), (12, 13), (11, 12), (10, 11), (9, 10), (7, 7), (6, 6)]),
    ];
    for (entry, counts) in hand {
        let mut remaining = entries(&w, entry == "every");
        let mut derived_counts = Vec::new();
        for (name, keep) in steps {
            remaining.retain(keep);
            let children: BTreeSet<&str> = remaining.iter().map(|e| e.name()).collect();
            derived_counts.push((
                name.to_string(),
                children.len() as u64,
                remaining.len() as u64,
            ));
        }
        let by_hand: Vec<(String, u64, u64)> = steps
            .iter()
            .zip(counts)
            .map(|((n, _), (c, e))| (n.to_string(), c, e))
            .collect();
        assert_eq!(derived_counts, by_hand, "{entry}: derivation vs by hand");
        let s = run(&w, &format!("{HEADER}entry = \"{entry}\"\n\n{rules}"));
        let got: Vec<(String, u64, u64)> = s
            .attrition
            .iter()
            .map(|a| (a.rule.clone(), a.children, a.episodes))
            .collect();
        assert_eq!(got, derived_counts, "{entry}: attrition");
        let excluding: Vec<bool> = s.attrition.iter().map(|a| a.exclude).collect();
        assert_eq!(
            excluding,
            [false, false, false, false, false, false, false, true]
        );
        // The cohort is what remains after the last rule: its P1.1 rows are those children.
        let mut cohort: Vec<String> = s.rows("P1.1").iter().map(|r| r.child.clone()).collect();
        cohort.sort();
        let mut want: Vec<String> = remaining.iter().map(|e| e.name().to_string()).collect();
        want.sort();
        assert_eq!(cohort, want, "{entry}: the cohort");

        // The terminal UI counts over one kept entry table while rules change: with the rules
        // added one at a time, then the washout switched off, it counts what the derivation does.
        let dir = tempfile::tempdir().expect("temporary directory");
        let store = w.store(&dir.path().join("x.duckdb"));
        let mut counter = CohortConnection::new(store.conn().try_clone().expect("connection"));
        let all = Protocol::parse("p.toml", &format!("{HEADER}entry = \"{entry}\"\n\n{rules}"))
            .unwrap_or_else(|e| panic!("{e}"));
        let release = store
            .default_release()
            .expect("release")
            .expect("a release")
            .release_id;
        let shown = |v: &workbench::tui::worker::AttritionView| -> Vec<(String, u64, u64)> {
            v.rows
                .iter()
                .map(|r| match (r.children, r.episodes) {
                    (Count::Shown(c), Count::Shown(e)) => (r.label.clone(), c, e),
                    other => panic!("{entry}: {} not shown with k = 1: {other:?}", r.label),
                })
                .collect()
        };
        for n in 0..=all.cohort.rules.len() {
            let mut p = all.clone();
            p.cohort.rules.truncate(n);
            let view = counter.attrition(p, &release, 1).expect("attrition");
            assert_eq!(shown(&view), derived_counts[..=n], "{entry}: {n} rules");
        }
        let mut no_washout = all.clone();
        no_washout.cohort.rules.retain(|r| r.washout_days.is_none());
        let view = counter
            .attrition(no_washout, &release, 1)
            .expect("attrition");
        let mut remaining = entries(&w, entry == "every");
        for (i, (_, keep)) in steps.iter().enumerate() {
            if i != 6 {
                remaining.retain(keep);
            }
        }
        let children: BTreeSet<&str> = remaining.iter().map(|e| e.name()).collect();
        let last = shown(&view).pop().expect("a last step");
        assert_eq!(
            (last.1, last.2),
            (children.len() as u64, remaining.len() as u64),
            "{entry}: washout switched off"
        );
    }
}
