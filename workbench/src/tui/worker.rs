//! Worker threads: every query and model runs off the UI thread, one thread per job, each on its
//! own DuckDB connection (`try_clone` of the store's), except attrition counts: they share one
//! [`CohortConnection`] that keeps the entry episodes between counts, so a rule switched off or
//! edited costs a pass over them, not a rebuild. A job reports progress through a hidden
//! `indicatif` bar the event loop polls, and answers once through a channel. Cancelling a job
//! interrupts its connection (`InterruptHandle::interrupt`) and drops whatever it still sends;
//! a model already in Rust code runs to its end and its result is thrown away.
//!
//! Everything a worker sends back has passed the disclosure gate: attrition counts through
//! [`Audit`] with k on screen, study runs as gated bundles (k for files, stricter than on
//! screen), the dashboard as gated tables. Row-level datasets never leave the worker.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::Context;
use duckdb::{Connection, InterruptHandle};
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use studies::Protocol;
use studies::bundle::Bundle;

use super::dashboard_data::{self, DashboardData};
use crate::disclosure::{AttritionStep, AttritionTable, Audit, Gate, GatedCount, GatedOutput};
use crate::store::Store;
use crate::study::{AttritionCount, PreparedStudy, execute, run_study};

/// One line of the gated attrition waterfall.
#[derive(Debug, Clone, PartialEq)]
pub struct AttritionRow {
    pub label: String,
    pub exclude: bool,
    pub children: GatedCount,
    pub episodes: GatedCount,
    /// Children this rule removed (none for the entry step).
    pub removed: Option<GatedCount>,
}

/// The gated attrition of the current rules.
#[derive(Debug, Clone, PartialEq)]
pub struct AttritionView {
    pub rows: Vec<AttritionRow>,
    pub k: u64,
    /// How long the count took (compile, query and gate).
    pub millis: u64,
}

impl AttritionView {
    /// The cohort size after the last rule.
    pub fn cohort(&self) -> Option<GatedCount> {
        self.rows.last().map(|r| r.children)
    }
}

/// A worker's message.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Attrition {
        job: u64,
        result: Result<AttritionView, String>,
    },
    Study {
        job: u64,
        result: Result<Box<Bundle>, String>,
    },
    Dashboard {
        job: u64,
        result: Result<Box<DashboardData>, String>,
    },
    Progress {
        job: u64,
        done: u64,
        total: u64,
        message: String,
    },
}

impl Reply {
    pub fn job(&self) -> u64 {
        match self {
            Reply::Attrition { job, .. }
            | Reply::Study { job, .. }
            | Reply::Dashboard { job, .. }
            | Reply::Progress { job, .. } => *job,
        }
    }
}

struct Running {
    cancelled: Arc<AtomicBool>,
    interrupt: Arc<InterruptHandle>,
    progress: Option<ProgressBar>,
}

/// Starts, tracks and cancels the jobs.
pub struct Workers {
    store: Store,
    default_release: Option<String>,
    k_screen: u64,
    tx: Sender<Reply>,
    running: BTreeMap<u64, Running>,
    /// Where attrition counts run, one at a time.
    cohort: Arc<Mutex<CohortConnection>>,
    cohort_interrupt: Arc<InterruptHandle>,
    /// Content hashes of releases, computed once (a study run stamps its bundle with it).
    hashes: Arc<Mutex<BTreeMap<String, String>>>,
}

impl Workers {
    pub fn new(store: Store, k_screen: u64, tx: Sender<Reply>) -> anyhow::Result<Workers> {
        let default_release = store.default_release()?.map(|r| r.release_id);
        let conn = store.conn().try_clone()?;
        let cohort_interrupt = conn.interrupt_handle();
        Ok(Workers {
            store,
            default_release,
            k_screen,
            tx,
            running: BTreeMap::new(),
            cohort: Arc::new(Mutex::new(CohortConnection::new(conn))),
            cohort_interrupt,
            hashes: Arc::new(Mutex::new(BTreeMap::new())),
        })
    }

    /// Whether any job is still running.
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    fn release_of(&self, p: &Protocol) -> anyhow::Result<String> {
        p.release
            .clone()
            .or_else(|| self.default_release.clone())
            .context("the store holds no release: import or synthesise one first")
    }

    /// Runs `work` on a new thread with its own connection; its answer goes out unless cancelled.
    fn spawn<F>(&mut self, job: u64, progress: Option<ProgressBar>, work: F)
    where
        F: FnOnce(&Connection) -> Reply + Send + 'static,
    {
        let conn = match self.store.conn().try_clone() {
            Ok(c) => c,
            Err(e) => {
                let _ = self
                    .tx
                    .send(error_reply(job, &work_kind_error(&e.to_string())));
                return;
            }
        };
        let interrupt = conn.interrupt_handle();
        self.launch(job, interrupt, progress, move || work(&conn));
    }

    /// Runs `work` on a new thread; cancelling the job interrupts `interrupt`'s connection.
    fn launch<F>(
        &mut self,
        job: u64,
        interrupt: Arc<InterruptHandle>,
        progress: Option<ProgressBar>,
        work: F,
    ) where
        F: FnOnce() -> Reply + Send + 'static,
    {
        let cancelled = Arc::new(AtomicBool::new(false));
        self.running.insert(
            job,
            Running {
                cancelled: cancelled.clone(),
                interrupt,
                progress,
            },
        );
        let tx = self.tx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("tui-job-{job}"))
            .spawn(move || {
                let reply = std::panic::catch_unwind(AssertUnwindSafe(work)).unwrap_or_else(|_| {
                    Reply::Study {
                        job,
                        result: Err("the computation failed unexpectedly".into()),
                    }
                });
                if !cancelled.load(Ordering::SeqCst) {
                    let _ = tx.send(reply);
                }
            });
        if spawned.is_err() {
            self.running.remove(&job);
            let _ = self
                .tx
                .send(error_reply(job, "cannot start a worker thread"));
        }
    }

    /// Counts the attrition of `protocol`'s rules and gates it with k on screen.
    pub fn attrition(&mut self, job: u64, protocol: Protocol) {
        let release = self.release_of(&protocol);
        let k = self.k_screen;
        let cohort = self.cohort.clone();
        let interrupt = self.cohort_interrupt.clone();
        self.launch(job, interrupt, None, move || Reply::Attrition {
            job,
            result: release
                .and_then(|r| {
                    let mut c = cohort.lock().unwrap_or_else(PoisonError::into_inner);
                    c.attrition(protocol, &r, k)
                })
                .map_err(|e| format!("{e:#}")),
        });
    }

    /// Runs a study protocol: the gated bundle (datasets are dropped in the worker).
    pub fn study(&mut self, job: u64, protocol: Protocol) {
        let release = self.release_of(&protocol);
        let hashes = self.hashes.clone();
        let bar = ProgressBar::hidden();
        bar.set_length(3 + 2 * protocol.outcomes.len() as u64 + 1);
        let progress = bar.clone();
        self.spawn(job, Some(bar), move |conn| Reply::Study {
            job,
            result: release
                .and_then(|r| study(conn, protocol, &r, &hashes, &progress))
                .map(Box::new)
                .map_err(|e| format!("{e:#}")),
        });
    }

    /// Computes the manager's dashboard (gated aggregates only).
    pub fn dashboard(&mut self, job: u64) {
        let release = self.default_release.clone();
        let hashes = self.hashes.clone();
        let k = self.k_screen;
        let bar = ProgressBar::hidden();
        bar.set_length(dashboard_data::STEPS);
        let progress = bar.clone();
        self.spawn(job, Some(bar), move |conn| Reply::Dashboard {
            job,
            result: release
                .context("the store holds no release: import or synthesise one first")
                .and_then(|r| {
                    let hash = release_hash(conn, &r, &hashes)?;
                    dashboard_data::compute(conn, &r, &hash, k, &progress)
                })
                .map(Box::new)
                .map_err(|e| format!("{e:#}")),
        });
    }

    /// Cancels a job: its connection is interrupted and its answer dropped.
    pub fn cancel(&mut self, job: u64) {
        if let Some(r) = self.running.remove(&job) {
            r.cancelled.store(true, Ordering::SeqCst);
            r.interrupt.interrupt();
            tracing::info!(job, "cancelled");
        }
    }

    /// Cancels everything (on quit).
    pub fn cancel_all(&mut self) {
        let jobs: Vec<u64> = self.running.keys().copied().collect();
        for j in jobs {
            self.cancel(j);
        }
    }

    /// The job answered: forget it.
    pub fn finished(&mut self, job: u64) {
        self.running.remove(&job);
    }

    /// The progress of every job that reports it.
    pub fn progress(&self) -> Vec<Reply> {
        self.running
            .iter()
            .filter_map(|(job, r)| {
                r.progress.as_ref().map(|p| Reply::Progress {
                    job: *job,
                    done: p.position(),
                    total: p.length().unwrap_or(0),
                    message: p.message(),
                })
            })
            .collect()
    }
}

fn work_kind_error(e: &str) -> String {
    format!("cannot open a connection for the worker: {e}")
}

fn error_reply(job: u64, e: &str) -> Reply {
    Reply::Study {
        job,
        result: Err(e.to_string()),
    }
}

/// A protocol compiled for `release` without hashing the release (attrition needs no stamp).
pub(super) fn prepare(
    protocol: Protocol,
    release: &str,
    release_hash: String,
) -> anyhow::Result<PreparedStudy> {
    let text = protocol
        .to_toml()
        .context("the protocol cannot be written as TOML")?;
    let compiled = studies::compile::compile(&protocol, release);
    Ok(PreparedStudy {
        protocol,
        protocol_sha256: hex::encode(Sha256::digest(text.as_bytes())),
        protocol_file: "tui".into(),
        compiled,
        release_hash,
    })
}

/// A connection that keeps `study_entry_base` (the entry episodes with everything any rule
/// reads) between attrition counts. It is rebuilt only when the release, the entry window or the
/// entry kind changes; switching, adding or editing a rule re-evaluates the rules over it.
pub struct CohortConnection {
    conn: Connection,
    /// The statement (SQL and bound values) the current `study_entry_base` was built from.
    base: Option<String>,
}

impl CohortConnection {
    pub fn new(conn: Connection) -> CohortConnection {
        CohortConnection { conn, base: None }
    }

    /// The attrition of `protocol` on `release`, gated with threshold `k`.
    pub fn attrition(
        &mut self,
        protocol: Protocol,
        release: &str,
        k: u64,
    ) -> anyhow::Result<AttritionView> {
        let t0 = Instant::now();
        let prepared = prepare(protocol, release, String::new())?;
        let base = studies::compile::entry_base_for_editing(&prepared.protocol, release);
        let key = format!("{}\n{:?}", base.sql, base.params);
        if self.base.as_ref() != Some(&key) {
            self.base = None;
            execute(&self.conn, &base).context("finding the entry episodes")?;
            self.base = Some(key);
        }
        let raw = prepared.attrition(&self.conn)?;
        gate_attrition(&raw, k, t0)
    }
}

/// The attrition waterfall through the disclosure gate; `t0`: when the count started.
fn gate_attrition(raw: &[AttritionCount], k: u64, t0: Instant) -> anyhow::Result<AttritionView> {
    let table = |title: &str, f: &dyn Fn(&AttritionCount) -> u64| AttritionTable {
        title: title.to_string(),
        steps: raw
            .iter()
            .map(|r| AttritionStep {
                label: r.rule.clone(),
                remaining: f(r),
            })
            .collect(),
    };
    let mut audit = Audit::new(Gate { k });
    audit.add_attrition(&table("children", &|r| r.children))?;
    audit.add_attrition(&table("episodes", &|r| r.episodes))?;
    let gated = audit.run();
    let (Some(GatedOutput::Attrition(children)), Some(GatedOutput::Attrition(episodes))) =
        (gated.outputs.first(), gated.outputs.get(1))
    else {
        anyhow::bail!("the disclosure audit returned no attrition");
    };
    let rows = raw
        .iter()
        .enumerate()
        .map(|(i, r)| AttritionRow {
            label: r.rule.clone(),
            exclude: r.exclude,
            children: children
                .steps
                .get(i)
                .map_or(GatedCount::Hidden, |s| s.remaining),
            episodes: episodes
                .steps
                .get(i)
                .map_or(GatedCount::Hidden, |s| s.remaining),
            removed: children.steps.get(i).and_then(|s| s.excluded),
        })
        .collect();
    Ok(AttritionView {
        rows,
        k,
        millis: t0.elapsed().as_millis() as u64,
    })
}

fn release_hash(
    conn: &Connection,
    release: &str,
    hashes: &Mutex<BTreeMap<String, String>>,
) -> anyhow::Result<String> {
    if let Some(h) = hashes.lock().ok().and_then(|m| m.get(release).cloned()) {
        return Ok(h);
    }
    let h = crate::hash::release_hash(conn, release)
        .context("cannot hash the release")?
        .release;
    if let Ok(mut m) = hashes.lock() {
        m.insert(release.to_string(), h.clone());
    }
    Ok(h)
}

/// Runs `protocol` on `release`: the gated bundle.
pub fn study(
    conn: &Connection,
    protocol: Protocol,
    release: &str,
    hashes: &Mutex<BTreeMap<String, String>>,
    progress: &ProgressBar,
) -> anyhow::Result<Bundle> {
    progress.set_message("hashing the release");
    let hash = release_hash(conn, release, hashes)?;
    let prepared = prepare(protocol, release, hash)?;
    run_study(&prepared, conn, Some(progress))
}
