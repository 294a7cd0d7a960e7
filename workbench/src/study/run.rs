//! Running a compiled study on a store: the cohort tables, attrition, each outcome's dataset,
//! the models, the gate, and the bundle on disk.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;
use duckdb::Connection;
use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use studies::Protocol;
use studies::bundle::{AttritionStep, BUNDLE_FORMAT, Bundle, Count, Stamp};
use studies::compile::{Compiled, Statement, compile};

use super::data::{bind, fetch, fetch_cohort};
use super::{analyse, gate, load, write};
use crate::store::Store;

/// A protocol compiled against one release of an open store.
pub struct PreparedStudy {
    pub protocol: Protocol,
    pub protocol_sha256: String,
    pub protocol_file: String,
    pub compiled: Compiled,
    pub release_hash: String,
}

/// Children and episodes remaining after one step of the cohort, before the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttritionCount {
    pub rule: String,
    pub exclude: bool,
    pub children: u64,
    pub episodes: u64,
}

impl PreparedStudy {
    /// Compiles `protocol` for its release (or the store's default release).
    pub fn new(
        store: &Store,
        protocol: Protocol,
        protocol_bytes: &[u8],
        protocol_file: &str,
    ) -> anyhow::Result<PreparedStudy> {
        let release = match &protocol.release {
            Some(r) => store.release(r).with_context(|| {
                format!("the protocol names release {r}, which the store does not hold")
            })?,
            None => store
                .default_release()?
                .context("the store holds no release: import or synthesise one first")?,
        };
        let release_hash = crate::hash::release_hash(store.conn(), &release.release_id)
            .context("cannot hash the release")?
            .release;
        let compiled = compile(&protocol, &release.release_id);
        Ok(PreparedStudy {
            protocol,
            protocol_sha256: hex::encode(Sha256::digest(protocol_bytes)),
            protocol_file: protocol_file.to_string(),
            compiled,
            release_hash,
        })
    }

    /// Builds `study_entry_base`, `study_cohort`, `study_chain`, `study_followup` and the cohort's
    /// slices of the case tables on `conn`.
    pub fn build_cohort(&self, conn: &Connection) -> anyhow::Result<()> {
        execute(conn, &self.compiled.entry_base).context("finding the entry episodes")?;
        execute(conn, &self.compiled.cohort).context("building the cohort")?;
        for s in &self.compiled.chain {
            execute(conn, s).context("following the cohort across transfers")?;
        }
        Ok(())
    }

    /// Children and episodes after each step (ungated), from `study_entry_base` (see
    /// [`PreparedStudy::build_cohort`]).
    pub fn attrition(&self, conn: &Connection) -> anyhow::Result<Vec<AttritionCount>> {
        let s = &self.compiled.attrition;
        let mut stmt = conn.prepare(&s.sql)?;
        let mut rows = stmt.query(duckdb::params_from_iter(bind(&s.params)))?;
        let row = rows
            .next()?
            .context("the attrition count returned no row")?;
        let mut out = Vec::new();
        for (i, st) in self.compiled.steps.iter().enumerate() {
            let children: i64 = row.get(2 * i)?;
            let episodes: i64 = row.get(2 * i + 1)?;
            out.push(AttritionCount {
                rule: st.name.clone(),
                exclude: st.exclude,
                children: children as u64,
                episodes: episodes as u64,
            });
        }
        Ok(out)
    }
}

/// Runs one compiled statement with its bound values.
pub fn execute(conn: &Connection, s: &Statement) -> anyhow::Result<()> {
    conn.execute(&s.sql, duckdb::params_from_iter(bind(&s.params)))?;
    Ok(())
}

/// Runs a prepared study on `conn` (the store's connection): the gated bundle. Each outcome's
/// dataset is analysed and dropped before the next is read, so memory holds one at a time.
pub fn run_study(
    prepared: &PreparedStudy,
    conn: &Connection,
    progress: Option<&ProgressBar>,
) -> anyhow::Result<Bundle> {
    let tick = |msg: String| {
        if let Some(p) = progress {
            p.set_message(msg);
            p.inc(1);
        }
    };
    tick("building the cohort".into());
    prepared.build_cohort(conn)?;
    tick("counting attrition".into());
    let attrition = prepared.attrition(conn)?;
    let cohort = fetch_cohort(conn, &prepared.compiled).context("reading the cohort's rows")?;
    let mut results = Vec::new();
    let mut raw_curves = Vec::new();
    let p = &prepared.protocol;
    for o in &prepared.compiled.outcomes {
        tick(format!("outcome {}: deriving the dataset", o.outcome.id));
        let data = fetch(conn, &o.statement, &cohort)
            .with_context(|| format!("deriving outcome {}", o.outcome.id))?;
        tick(format!("outcome {}: running the models", o.outcome.id));
        let (result, curves) =
            analyse::outcome(p, &o.outcome, &prepared.compiled.covariates, &data)
                .with_context(|| format!("analysing outcome {}", o.outcome.id))?;
        results.push(result);
        raw_curves.push(curves);
    }
    let k = p.privacy.k_file;
    let mut prev: Option<u64> = None;
    let attrition_rows: Vec<AttritionStep> = attrition
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let removed = prev.map_or(0, |p| p.saturating_sub(a.children));
            prev = Some(a.children);
            AttritionStep {
                step: i,
                rule: a.rule.clone(),
                exclude: a.exclude,
                children: Count::Shown(a.children),
                episodes: Count::Shown(a.episodes),
                children_removed: Count::Shown(removed),
            }
        })
        .collect();
    let mut bundle = Bundle {
        format: BUNDLE_FORMAT,
        title: p.title.clone(),
        question: p.question.clone(),
        authors: p.authors.clone(),
        stamp: Stamp {
            protocol_sha256: prepared.protocol_sha256.clone(),
            protocol_file: prepared.protocol_file.clone(),
            release_id: prepared.compiled.release_id.clone(),
            release_hash: prepared.release_hash.clone(),
            workbench_version: env!("CARGO_PKG_VERSION").to_string(),
            seed: p.seed,
            privacy: p.privacy,
            k_applied: k,
        },
        attrition: attrition_rows,
        outcomes: results,
        disclosure: Vec::new(),
        row_level_written: false,
    };
    tick("applying the disclosure gate".into());
    gate::apply(&mut bundle, &raw_curves, p.cohort.entry, k)?;
    Ok(bundle)
}

/// `study run`: runs the protocol and writes the bundle into `out`; returns a summary.
pub fn run_to_dir(
    file: &Path,
    store_path: &Path,
    out: &Path,
    row_level: bool,
    show_progress: bool,
) -> anyhow::Result<String> {
    let (protocol, bytes) = load(file)?;
    let store = Store::open(store_path)?;
    let name = file
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prepared = PreparedStudy::new(&store, protocol, &bytes, &name)?;
    let steps = 3 + 2 * prepared.compiled.outcomes.len() as u64 + 1;
    let bar = if show_progress && std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        let b = ProgressBar::new(steps);
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let mut bundle = run_study(&prepared, store.conn(), bar.as_ref())?;
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    bundle.row_level_written = row_level;
    write::bundle_dir(
        store.conn(),
        &bundle,
        &prepared.compiled,
        &bytes,
        out,
        row_level,
    )?;
    if row_level {
        crate::store::audit(
            store.conn(),
            "study-row-level",
            &prepared.compiled.release_id,
            &format!(
                "analysis datasets of protocol {} ({}) written to {}",
                name,
                prepared.protocol_sha256,
                out.display()
            ),
        )?;
    }
    Ok(summary(&bundle, out))
}

/// The text printed after a run: attrition and the headline of each outcome.
pub fn summary(b: &Bundle, out: &Path) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{}", b.title);
    let _ = writeln!(
        s,
        "release {} (content {}), protocol {}, k = {}",
        b.stamp.release_id,
        &b.stamp.release_hash[..12.min(b.stamp.release_hash.len())],
        &b.stamp.protocol_sha256[..12.min(b.stamp.protocol_sha256.len())],
        b.stamp.k_applied
    );
    let _ = writeln!(s, "\nAttrition (children remaining after each step):");
    for a in &b.attrition {
        let _ = writeln!(
            s,
            "  {:>2}. {:<48} {:>8}  (-{})",
            a.step,
            a.rule,
            show(a.children),
            show(a.children_removed)
        );
    }
    for o in &b.outcomes {
        let _ = writeln!(s, "\n{} {}", o.outcome.id, o.outcome.label);
        let w = o
            .groups
            .iter()
            .map(|g| g.group.chars().count())
            .max()
            .unwrap_or(0)
            .max(12);
        for g in &o.groups {
            let parts: Vec<String> = g
                .by_status
                .iter()
                .map(|c| format!("{} {}", c.status.to_lowercase(), show(c.count)))
                .collect();
            let _ = writeln!(
                s,
                "  {:<w$} n {:>7}  {}",
                g.group,
                show(g.children),
                parts.join(", ")
            );
        }
        for m in &o.medians {
            if let Some(t) = m.median {
                let _ = writeln!(s, "  median {}: {:.0} days", m.group, t);
            }
        }
        for c in &o.cox {
            let _ = writeln!(s, "  {}", c.description);
            for t in &c.terms {
                let _ = match (t.hazard_ratio, t.lower, t.upper, t.p_value) {
                    (Some(hr), Some(lo), Some(hi), Some(pv)) => writeln!(
                        s,
                        "    {:<28} HR {hr:.3} ({lo:.3}-{hi:.3}) p {pv:.3}",
                        t.term
                    ),
                    _ => writeln!(s, "    {:<28} withheld (fewer than k children)", t.term),
                };
            }
        }
        if let Some(c) = &o.comparison {
            let _ = writeln!(s, "  adjusted comparison: {}", c.description);
            if let (Some(b), Some(a)) = (c.max_abs_smd_before, c.max_abs_smd_after) {
                let _ = writeln!(s, "    max |SMD| {b:.2} before, {a:.2} after");
            }
            if let Some(cox) = &c.cox
                && let Some(t) = cox.terms.first()
                && let (Some(hr), Some(lo), Some(hi)) = (t.hazard_ratio, t.lower, t.upper)
            {
                let _ = writeln!(
                    s,
                    "    weighted HR {} vs {}: {hr:.3} ({lo:.3}-{hi:.3})",
                    c.treated, c.control
                );
            }
            if let Some(a) = &c.adjusted {
                let d = &a.risk_difference;
                let _ = writeln!(
                    s,
                    "    risk difference at {} days: {:.3} ({:.3} to {:.3})",
                    a.tau, d.estimate, d.lower, d.upper
                );
            }
            for dl in &c.diagnostics {
                let _ = writeln!(s, "    {:<5} {}", dl.verdict, dl.message);
            }
        }
        for pr in &o.proportions {
            if let Some(e) = pr.estimate {
                let _ = writeln!(
                    s,
                    "  {} {}: {:.3} ({}/{})",
                    pr.label,
                    pr.group,
                    e,
                    show(pr.numerator),
                    show(pr.denominator)
                );
            }
        }
    }
    let _ = writeln!(s, "\nBundle written to {}", out.display());
    s
}

/// A count as printed.
pub fn show(c: Count) -> String {
    match c {
        Count::Shown(v) => v.to_string(),
        Count::BelowK => "<k".into(),
        Count::Hidden => "x".into(),
    }
}

/// `study why`: the steps one child passed, and their derived outcome rows (row level).
pub fn why(file: &Path, store_path: &Path, child: &str) -> anyhow::Result<String> {
    let (protocol, bytes) = load(file)?;
    let store = Store::open(store_path)?;
    let prepared = PreparedStudy::new(&store, protocol, &bytes, &file.display().to_string())?;
    let (stmt, steps) =
        studies::compile::why_statement(&prepared.protocol, &prepared.compiled.release_id, child);
    let conn = store.conn();
    let mut q = conn.prepare(&stmt.sql)?;
    let mut rows = q.query(duckdb::params_from_iter(bind(&stmt.params)))?;
    let mut out = String::new();
    let _ = writeln!(out, "Child {child} in {}:", prepared.protocol.title);
    let mut last_in = None;
    let mut first_out = None;
    while let Some(row) = rows.next()? {
        let step: i64 = row.get(0)?;
        let n: i64 = row.get(1)?;
        let name = steps.get(step as usize).map_or("?", |s| s.name.as_str());
        let verdict = if n > 0 { "kept" } else { "not in the cohort" };
        if n > 0 {
            last_in = Some(step);
        } else if first_out.is_none() {
            first_out = Some((step, name.to_string()));
        }
        let _ = writeln!(out, "  {:>2}. {:<48} {verdict}", step, name);
    }
    match (last_in, first_out) {
        (None, _) => {
            let _ = writeln!(
                out,
                "Not an entry: no episode of this child enters in {} .. {} (or the pseudonym is not in release {}).",
                prepared.protocol.cohort.entry_from,
                prepared.protocol.cohort.entry_to,
                prepared.compiled.release_id
            );
            return Ok(out);
        }
        (Some(_), Some((step, name))) => {
            let _ = writeln!(out, "Excluded at step {step}: {name}.");
            return Ok(out);
        }
        (Some(_), None) => {
            let _ = writeln!(out, "Admitted: the child passes every rule.");
        }
    }
    prepared.build_cohort(conn)?;
    let cohort = fetch_cohort(conn, &prepared.compiled)?;
    for o in &prepared.compiled.outcomes {
        let data = fetch(conn, &o.statement, &cohort)?;
        let rows: Vec<usize> = (0..data.len())
            .filter(|&i| data.child(i) == child)
            .collect();
        let _ = writeln!(out, "\n{} {}:", o.outcome.id, o.outcome.label);
        if rows.is_empty() {
            let _ = writeln!(
                out,
                "  not in this outcome's dataset (its time origin or eligibility does not apply)"
            );
        }
        for i in rows {
            let _ = writeln!(out, "  {}", data.describe_row(i, &o.outcome));
        }
    }
    Ok(out)
}
