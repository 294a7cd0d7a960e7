//! End-to-end tests of study protocols on synthetic stores: the examples run, attrition adds up,
//! a rerun gives bit-identical bundles, the command line reports problems with their line, and
//! the estimates recover the generator's truth (community hazard ratios without frailty, the
//! time-varying family-support effect next to the biased "ever treated" one).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use studies::bundle::{Bundle, Count, CoxTable};
use workbench::store::Store;
use workbench::study::{self, PreparedStudy, run_study};
use workbench::synth::{self, Scenario, SynthOptions};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../studies/examples")
        .join(format!("{name}.toml"))
}

const EXAMPLES: [&str; 4] = [
    "flanders-vs-wallonia",
    "safety-by-referral-route",
    "family-support-time-varying",
    "recurrence-12-months",
];

fn synth_store(path: &Path, scenario: Scenario, n: u64, seed: u64) -> Result<()> {
    let opts = SynthOptions::new(scenario, n, seed, None)?;
    let mut store = Store::open_or_create(path)?;
    synth::generate_into_store(&mut store, &opts)?;
    Ok(())
}

fn run(store: &Path, protocol: &Path) -> Result<Bundle> {
    let (p, bytes) = study::load(protocol)?;
    let s = Store::open(store)?;
    let prepared = PreparedStudy::new(&s, p, &bytes, "p.toml")?;
    run_study(&prepared, s.conn(), None)
}

fn value(c: Count) -> Option<u64> {
    c.value()
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_workbench"))
}

#[test]
fn examples_run_attrition_adds_up_and_reruns_are_bit_identical() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("s.duckdb");
    synth_store(&store, Scenario::Default, 3000, 11)?;
    for name in EXAMPLES {
        let protocol = example(name);
        let out1 = dir.path().join(format!("{name}-1"));
        let out2 = dir.path().join(format!("{name}-2"));
        for out in [&out1, &out2] {
            let o = bin()
                .args(["study", "run"])
                .arg(&protocol)
                .arg("--store")
                .arg(&store)
                .arg("--out")
                .arg(out)
                .arg("--quiet")
                .output()?;
            ensure!(
                o.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        for file in [
            "bundle.json",
            "attrition.parquet",
            "curves.parquet",
            "estimates.parquet",
            "cox.parquet",
            "protocol.toml",
        ] {
            let a = std::fs::read(out1.join(file)).with_context(|| format!("{name}/{file}"))?;
            let b = std::fs::read(out2.join(file))?;
            ensure!(a == b, "{name}/{file} differs between two runs");
        }
        let bundle: Bundle = serde_json::from_slice(&std::fs::read(out1.join("bundle.json"))?)?;
        // attrition: each shown removal is the difference of the shown counts around it
        for w in bundle.attrition.windows(2) {
            if let (Some(a), Some(b), Some(r)) = (
                value(w[0].children),
                value(w[1].children),
                value(w[1].children_removed),
            ) {
                ensure!(a - b == r, "{name}: attrition {} - {} != {}", a, b, r);
            }
        }
        let cohort = bundle
            .attrition
            .last()
            .and_then(|a| value(a.children))
            .context("cohort size")?;
        ensure!(cohort > 100, "{name}: cohort of {cohort}");
        // whole-cohort outcomes: groups add up to the cohort when all are shown
        for o in &bundle.outcomes {
            ensure!(!o.groups.is_empty(), "{name} {}: no groups", o.outcome.id);
            if o.outcome.id.starts_with("P1") {
                let sum: Option<u64> = o.groups.iter().map(|g| value(g.children)).sum();
                if let Some(s) = sum {
                    ensure!(
                        s == cohort,
                        "{name} {}: groups {} vs cohort {}",
                        o.outcome.id,
                        s,
                        cohort
                    );
                }
            }
            for c in &o.curves {
                for s in &c.steps {
                    for n in [s.n_risk, s.n_event] {
                        if let Some(v) = value(n) {
                            ensure!(
                                v >= bundle.stamp.k_applied,
                                "{name}: a curve step shows {v}"
                            );
                        }
                    }
                }
            }
        }
        ensure!(bundle.stamp.release_hash.len() == 64 && bundle.stamp.protocol_sha256.len() == 64);
    }
    // Row-level datasets on request: who each row is, then the outcome's columns, one row per
    // dataset row in cohort order.
    let out = dir.path().join("row-level");
    let o = bin()
        .args(["study", "run"])
        .arg(example("flanders-vs-wallonia"))
        .arg("--store")
        .arg(&store)
        .arg("--out")
        .arg(&out)
        .args(["--quiet", "--row-level"])
        .output()?;
    ensure!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let (p, bytes) = study::load(&example("flanders-vs-wallonia"))?;
    let s = Store::open(&store)?;
    let prepared = PreparedStudy::new(&s, p, &bytes, "p.toml")?;
    prepared.build_cohort(s.conn())?;
    let first = &prepared.compiled.outcomes[0];
    let d = study::fetch_dataset(s.conn(), first, &prepared.compiled)?;
    let file = out
        .join("datasets")
        .join(format!("{}.parquet", first.outcome.id.replace('.', "_")));
    let conn = duckdb::Connection::open_in_memory()?;
    let mut stmt = conn.prepare(&format!(
        "SELECT episode_id, child_pid, family_pid, t_stop FROM read_parquet('{}')",
        file.display()
    ))?;
    let rows: Vec<(String, String, Option<String>, Option<f64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    ensure!(
        rows.len() == d.len() && !rows.is_empty(),
        "{} vs {}",
        rows.len(),
        d.len()
    );
    for (i, (episode, child, _, t_stop)) in rows.iter().enumerate() {
        ensure!(episode == d.episode(i) && child == d.child(i) && *t_stop == d.t_stop[i]);
    }
    Ok(())
}

#[test]
fn check_points_at_the_line_and_suggests_the_code() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "title = \"t\"\n[cohort]\nentry_from = \"2015-01-01\"\nentry_to = \"2016-01-01\"\n[[cohort.rule]]\nname = \"x\"\nreferral_source = [\"CHAT_NUPRAATIKEROVR\"]\n[[outcome]]\nid = \"P1.1\"\n",
    )?;
    let o = bin().args(["study", "check"]).arg(&p).output()?;
    ensure!(o.status.code() == Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    ensure!(
        err.contains("bad.toml:7:20: cohort.rule[0].referral_source[0]"),
        "{err}"
    );
    ensure!(
        err.contains("did you mean \"CHAT_NUPRAATIKEROVER\""),
        "{err}"
    );
    let ok = bin()
        .args(["study", "check"])
        .arg(example("flanders-vs-wallonia"))
        .output()?;
    ensure!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let sql = bin()
        .args(["study", "sql", "--release", "R"])
        .arg(example("flanders-vs-wallonia"))
        .output()?;
    let text = String::from_utf8_lossy(&sql.stdout);
    ensure!(
        text.contains("r01_born_before_entry AS") && text.contains("--   $1 = 'R'"),
        "{text}"
    );
    Ok(())
}

fn term<'a>(c: &'a CoxTable, name: &str) -> Result<&'a studies::bundle::CoxTerm> {
    c.terms.iter().find(|t| t.term == name).with_context(|| {
        format!(
            "no term {name} in {:?}",
            c.terms.iter().map(|t| &t.term).collect::<Vec<_>>()
        )
    })
}

/// |log(estimate) − log(truth)| in standard errors.
fn z(t: &studies::bundle::CoxTerm, truth: f64) -> f64 {
    (t.coef.unwrap_or(f64::NAN) - truth.ln()).abs() / t.se.unwrap_or(f64::NAN)
}

#[test]
fn community_hazard_ratios_recover_the_truth_without_frailty() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("s.duckdb");
    synth_store(&store, Scenario::NoFrailty, 12_000, 5)?;
    let b = run(&store, &example("flanders-vs-wallonia"))?;
    let get = |id: &str| {
        b.outcomes
            .iter()
            .find(|o| o.outcome.id == id)
            .context(id.to_string())
    };
    // P1.2: cause-specific hazard of safety at home, FWB vs VL: 0.85
    let home = term(&get("P1.2")?.cox[0], "community=FWB")?;
    ensure!(
        z(home, 0.85) < 2.5,
        "P1.2 FWB HR {:?} (se {:?}) vs 0.85",
        home.hazard_ratio,
        home.se
    );
    // P2.1 from the index report: re-report hazard FWB vs VL: 1.15
    let rr = term(&get("P2.1")?.cox[0], "community=FWB")?;
    ensure!(
        z(rr, 1.15) < 2.5,
        "P2.1 FWB HR {:?} (se {:?}) vs 1.15",
        rr.hazard_ratio,
        rr.se
    );
    Ok(())
}

#[test]
fn time_varying_family_support_is_unbiased_and_ever_treated_is_not() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let store = dir.path().join("s.duckdb");
    synth_store(&store, Scenario::NoFrailty, 12_000, 6)?;
    let b = run(&store, &example("family-support-time-varying"))?;
    let o = &b.outcomes[0];
    ensure!(o.cox.len() == 2, "two Cox models expected");
    let tv = term(&o.cox[0], "treated")?;
    let ever = term(&o.cox[1], "treated")?;
    ensure!(
        z(tv, 0.75) < 2.5,
        "time-varying HR {:?} se {:?} vs 0.75",
        tv.hazard_ratio,
        tv.se
    );
    ensure!(
        z(ever, 0.75) > 3.0,
        "ever-treated HR {:?} se {:?} should be biased",
        ever.hazard_ratio,
        ever.se
    );
    ensure!(
        ever.hazard_ratio < tv.hazard_ratio,
        "immortal time makes 'ever treated' look more protective"
    );
    Ok(())
}

/// Times the cohort and every outcome dataset on a large store (the criterion bench
/// `benches/study.rs` measures the same in a release build). Run by hand:
/// `WORKBENCH_BENCH_STORE=/path/1m.duckdb cargo test --workspace --test study -- --ignored --nocapture`.
#[test]
#[ignore = "needs a large store (WORKBENCH_BENCH_STORE)"]
fn cohort_and_outcomes_timing_on_a_large_store() -> Result<()> {
    let path =
        PathBuf::from(std::env::var("WORKBENCH_BENCH_STORE").context("WORKBENCH_BENCH_STORE")?);
    let store = Store::open(&path)?;
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/every-outcome.toml"),
    )?;
    let protocol = studies::Protocol::parse("every-outcome.toml", &text)?;
    let prepared = PreparedStudy::new(&store, protocol, text.as_bytes(), "every-outcome.toml")?;
    let t0 = std::time::Instant::now();
    prepared.build_cohort(store.conn())?;
    let t_cohort = t0.elapsed();
    let attrition = prepared.attrition(store.conn())?;
    let t_attrition = t0.elapsed();
    let cohort = study::fetch_cohort(store.conn(), &prepared.compiled)?;
    let mut rows = 0;
    for o in &prepared.compiled.outcomes {
        let t = std::time::Instant::now();
        let d = study::fetch_outcome(store.conn(), o, &cohort)?;
        println!(
            "  {} {:>9} rows {:>8.2} s",
            o.outcome.id,
            d.len(),
            t.elapsed().as_secs_f64()
        );
        rows += d.len();
    }
    println!(
        "cohort {:.2} s, attrition {:.2} s, all {:.2} s ({} steps, {rows} dataset rows)",
        t_cohort.as_secs_f64(),
        (t_attrition - t_cohort).as_secs_f64(),
        t0.elapsed().as_secs_f64(),
        attrition.len()
    );
    Ok(())
}
