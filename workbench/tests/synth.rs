//! End-to-end tests of the synthetic generator: determinism across thread counts, marginals,
//! agreement of the event log with its source tables, dates in order, pseudonyms, the known truth
//! of the re-report process, every scenario, and the data-quality CSV folder.

use std::path::Path;

use anyhow::{Context, Result, ensure};
use duckdb::params;
use workbench::hash::release_hash;
use workbench::store::Store;
use workbench::synth::{self, Scenario, SynthOptions, pseudonym};

fn generate(path: &Path, scenario: Scenario, n: u64, seed: u64, threads: usize) -> Result<String> {
    let opts = SynthOptions::new(scenario, n, seed, None)?;
    let mut store = Store::open_or_create(path)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    pool.install(|| synth::generate_into_store(&mut store, &opts))?;
    Ok(opts.release_id)
}

fn count(s: &Store, sql: &str, release: &str) -> Result<i64> {
    s.conn()
        .query_row(sql, params![release], |r| r.get::<_, i64>(0))
        .with_context(|| sql.to_string())
}

fn real(s: &Store, sql: &str, release: &str) -> Result<f64> {
    s.conn()
        .query_row(sql, params![release], |r| r.get::<_, f64>(0))
        .with_context(|| sql.to_string())
}

#[test]
fn same_seed_same_release_at_any_thread_count() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let a = dir.path().join("a.duckdb");
    let b = dir.path().join("b.duckdb");
    let id = generate(&a, Scenario::Default, 400, 7, 1)?;
    generate(&b, Scenario::Default, 400, 7, 2)?;
    let sa = Store::open(&a)?;
    let sb = Store::open(&b)?;
    let ha = release_hash(sa.conn(), &id)?;
    let hb = release_hash(sb.conn(), &id)?;
    ensure!(ha == hb, "hashes differ: {ha:?} vs {hb:?}");
    // a second release with another seed, in the same store
    let mut opts = SynthOptions::new(Scenario::Default, 400, 8, None)?;
    drop(sa);
    let mut s = Store::open(&a)?;
    synth::generate_into_store(&mut s, &opts)?;
    let h8 = release_hash(s.conn(), &opts.release_id)?;
    ensure!(
        h8.release != ha.release,
        "different seeds gave the same release"
    );
    // the release id is refused when it exists; the store is unchanged
    opts.seed = 9;
    let err = synth::generate_into_store(&mut s, &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    ensure!(err.contains("already exists"), "{err}");
    ensure!(release_hash(s.conn(), &opts.release_id)? == h8);
    Ok(())
}

/// The 12-month re-report incidence of children whose re-report hazard equals the reference
/// profile's (VL, 6-11 years, first episode, untreated, linear predictor = age term only: this is
/// the REF_VL hazard, so truth.cif REF_VL applies; widening from "EMO, no contexts" to every
/// hazard-equivalent child makes the test cheap), among children with a complete 12-month window.
/// Returns (empirical, n, truth, the child's centre shares for the centre-effect variance).
fn rereport_12m(s: &Store, release: &str, kind: &str) -> Result<(f64, f64, f64, Vec<f64>)> {
    let sql = "
        WITH ref AS (
            SELECT l.child_pid, e.entry_date, e.centre_id
            FROM truth.child_latent l
            JOIN episode e ON e.release_id = l.release_id AND e.child_pid = l.child_pid AND e.episode_seq = 1
            JOIN centre c ON c.centre_id = e.centre_id
            JOIN observation_window o ON o.release_id = l.release_id AND o.child_pid = l.child_pid
            WHERE l.release_id = ?1 AND c.community = 'VL' AND NOT l.treated AND NOT l.prior_episode
              AND e.age_at_entry_months BETWEEN 72 AND 143
              AND abs(l.linear_predictor_rereport - ln(0.97) * e.age_at_entry_months / 12.0) < 1e-9
              AND o.obs_end >= e.entry_date + 365
        ), first_rr AS (
            SELECT rc.child_pid, min(r.report_date) AS d
            FROM report_child rc JOIN report r ON r.release_id = rc.release_id AND r.report_id = rc.report_id
            WHERE rc.release_id = ?1 AND r.report_kind IN ('FOLLOW_UP_OPEN', 'RE_REPORT_CLOSED')
            GROUP BY rc.child_pid
        )
        SELECT ref.centre_id, count(*), sum(CASE WHEN f.d < ref.entry_date + 365 THEN 1 ELSE 0 END)
        FROM ref LEFT JOIN first_rr f ON f.child_pid = ref.child_pid
        GROUP BY ref.centre_id ORDER BY ref.centre_id";
    let mut stmt = s.conn().prepare(sql)?;
    let rows = stmt.query_map(params![release], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })?;
    let mut n = 0.0;
    let mut events = 0.0;
    let mut per_centre = Vec::new();
    for row in rows {
        let (c, e) = row?;
        n += c as f64;
        events += e as f64;
        per_centre.push(c as f64);
    }
    let shares = per_centre.iter().map(|c| c / n).collect();
    let truth = s.conn().query_row(
        "SELECT cif FROM truth.cif WHERE release_id = ? AND outcome = 'REREPORT' AND profile = 'REF_VL' AND kind = ? AND t_days = 365",
        params![release, kind],
        |r| r.get::<_, f64>(0),
    )?;
    Ok((events / n, n, truth, shares))
}

#[test]
fn default_release_marginals_truth_and_integrity() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("d.duckdb");
    let n_children = 20_000u64;
    let id = generate(&path, Scenario::Default, n_children, 11, 2)?;
    let s = Store::open(&path)?;
    let eff = synth::effective(Scenario::Default, None)?;
    let pop = &eff.config.population;

    // ---- marginals (first episode of each child) ----
    let children = count(&s, "SELECT count(*) FROM child WHERE release_id = ?", &id)?;
    ensure!(children == n_children as i64);
    let first = "CREATE OR REPLACE TEMP TABLE first_ep AS
        SELECT e.*, c.community FROM episode e JOIN centre c ON c.centre_id = e.centre_id
        WHERE e.release_id = ? AND e.entry_date = (SELECT min(entry_date) FROM episode x
            WHERE x.release_id = e.release_id AND x.child_pid = e.child_pid)
        AND e.episode_seq = (SELECT min(episode_seq) FROM episode x
            WHERE x.release_id = e.release_id AND x.child_pid = e.child_pid)";
    s.conn().execute(first, params![id])?;
    let one = |sql: &str| -> Result<f64> {
        s.conn()
            .query_row(sql, [], |r| r.get::<_, f64>(0))
            .with_context(|| sql.to_string())
    };
    ensure!(one("SELECT count(*)::DOUBLE FROM first_ep")? == n_children as f64);
    let fwb = one("SELECT avg(CASE WHEN community = 'FWB' THEN 1.0 ELSE 0.0 END) FROM first_ep")?;
    ensure!((fwb - pop.share_fwb).abs() < 0.02, "FWB share {fwb}");
    for c in studies::codes::CENTRES
        .iter()
        .filter(|c| c.service_type == "VK")
    {
        let share = one(&format!(
            "SELECT avg(CASE WHEN centre_id = '{}' THEN 1.0 ELSE 0.0 END) FROM first_ep WHERE community = 'VL'",
            c.id
        ))?;
        ensure!((share - c.weight).abs() < 0.02, "{} share {share}", c.id);
    }
    let prenatal =
        one("SELECT avg(CASE WHEN age_at_entry_months < 0 THEN 1.0 ELSE 0.0 END) FROM first_ep")?;
    ensure!(
        (prenatal - pop.prenatal_share).abs() < 0.006,
        "prenatal {prenatal}"
    );
    let bands = [(0, 71), (72, 143), (144, 215)];
    for (i, (lo, hi)) in bands.iter().enumerate() {
        let b = one(&format!(
            "SELECT avg(CASE WHEN age_at_entry_months BETWEEN {lo} AND {hi} THEN 1.0 ELSE 0.0 END) FROM first_ep WHERE age_at_entry_months >= 0"
        ))?;
        ensure!((b - pop.age_band_weights[i]).abs() < 0.02, "band {i}: {b}");
    }
    // primary forms of the index report, per community (forms the conditional rules leave alone)
    for (community, forms) in [("VL", &pop.forms_vl), ("FWB", &pop.forms_fwb)] {
        let total: f64 = forms.values().sum();
        for code in ["EMO", "SEX", "NEGL", "RISK_SITUATION"] {
            let want = forms.get(code).copied().unwrap_or(0.0) / total * (1.0 - pop.prenatal_share);
            let got = one(&format!(
                "SELECT avg(CASE WHEN f.form_code = '{code}' THEN 1.0 ELSE 0.0 END)
                 FROM first_ep e JOIN report_child_form f ON f.release_id = e.release_id
                   AND f.report_id = e.index_report_id AND f.child_pid = e.child_pid AND f.is_primary
                 WHERE e.community = '{community}'"
            ))?;
            ensure!(
                (got - want).abs() < 0.025,
                "{community} {code}: {got} vs {want}"
            );
        }
    }
    let girls = one("SELECT avg(CASE WHEN c.sex = 'F' THEN 1.0 ELSE 0.0 END) FROM first_ep e JOIN child c
        ON c.release_id = e.release_id AND c.child_pid = e.child_pid WHERE e.melding_type IS DISTINCT FROM 'CHAT'")?;
    ensure!((girls - pop.female_share).abs() < 0.02, "girls {girls}");
    let chat_n = one("SELECT count(*)::DOUBLE FROM first_ep WHERE melding_type = 'CHAT'")?;
    let chat_girls = one(
        "SELECT avg(CASE WHEN c.sex = 'F' THEN 1.0 ELSE 0.0 END) FROM first_ep e JOIN child c
        ON c.release_id = e.release_id AND c.child_pid = e.child_pid WHERE e.melding_type = 'CHAT'",
    )?;
    let se = (pop.chat_female_share * (1.0 - pop.chat_female_share) / chat_n).sqrt();
    ensure!(chat_n > 100.0, "chat entries {chat_n}");
    ensure!(
        (chat_girls - pop.chat_female_share).abs() < 4.0 * se,
        "chat girls {chat_girls}"
    );

    // ---- the event log agrees with its source tables ----
    for (sql, what) in [
        ("SELECT (SELECT count(*) FROM report_child WHERE release_id = ?1) -
                 (SELECT count(*) FROM event v JOIN report_child rc ON rc.release_id = v.release_id
                    AND rc.report_id = v.source_id AND rc.child_pid = v.child_pid
                    AND rc.episode_id IS NOT DISTINCT FROM v.episode_id
                  JOIN report r ON r.release_id = rc.release_id AND r.report_id = rc.report_id
                  WHERE v.release_id = ?1 AND v.event_type = 'REPORT' AND v.source_table = 'report'
                    AND v.event_date = r.report_date)", "REPORT events"),
        ("SELECT (SELECT count(*) FROM event WHERE release_id = ?1 AND event_type = 'REPORT') -
                 (SELECT count(*) FROM report_child WHERE release_id = ?1)", "extra REPORT events"),
        ("SELECT (SELECT count(*) + count(end_date) FROM intervention WHERE release_id = ?1) -
                 (SELECT count(*) FROM event v JOIN intervention i ON i.release_id = v.release_id
                    AND i.intervention_id = v.source_id AND v.episode_id = i.episode_id
                  WHERE v.release_id = ?1 AND v.source_table = 'intervention' AND
                   ((v.event_type = 'INTERVENTION_START' AND v.event_date = i.start_date) OR
                    (v.event_type = 'INTERVENTION_END' AND v.event_date = i.end_date)))", "intervention events"),
        ("SELECT (SELECT count(*) + count(end_date) FROM placement WHERE release_id = ?1) -
                 (SELECT count(*) FROM event v JOIN placement p ON p.release_id = v.release_id
                    AND p.placement_id = v.source_id AND v.episode_id = p.episode_id
                  WHERE v.release_id = ?1 AND v.source_table = 'placement' AND
                   ((v.event_type = 'PLACEMENT_START' AND v.event_date = p.start_date) OR
                    (v.event_type = 'PLACEMENT_END' AND v.event_date = p.end_date)))", "placement events"),
        ("SELECT (SELECT count(closure_date) FROM episode WHERE release_id = ?1) -
                 (SELECT count(*) FROM event v JOIN episode e ON e.release_id = v.release_id
                    AND e.episode_id = v.source_id AND v.child_pid = e.child_pid
                  WHERE v.release_id = ?1 AND v.event_type = 'CASE_CLOSED' AND v.source_table = 'episode'
                    AND v.event_date = e.closure_date)", "CASE_CLOSED events"),
        // dates in order
        ("SELECT count(*) FROM event v JOIN observation_window o ON o.release_id = v.release_id
            AND o.child_pid = v.child_pid WHERE v.release_id = ?1 AND v.event_date < o.obs_start", "events before entry"),
        ("SELECT count(*) FROM observation_window o WHERE release_id = ?1 AND (obs_end < obs_start OR obs_start <>
            (SELECT min(entry_date) FROM episode e WHERE e.release_id = o.release_id AND e.child_pid = o.child_pid))", "windows"),
        ("SELECT count(*) FROM episode WHERE release_id = ?1 AND closure_date < entry_date", "closures before entry"),
        ("SELECT count(*) FROM intervention WHERE release_id = ?1 AND end_date < start_date", "intervention ends"),
        ("SELECT count(*) FROM placement WHERE release_id = ?1 AND end_date < start_date", "placement ends"),
        ("SELECT count(*) FROM report_child_form f JOIN report r ON r.release_id = f.release_id AND r.report_id = f.report_id
            WHERE f.release_id = ?1 AND f.finding_date < r.report_date", "findings before reports"),
        ("SELECT count(*) FROM event WHERE release_id = ?1 AND interval_lower > event_date", "interval bounds"),
        ("SELECT count(*) FROM event v JOIN observation_window o ON o.release_id = v.release_id AND o.child_pid = v.child_pid
            WHERE v.release_id = ?1 AND v.event_type NOT IN ('SUBSTANTIATION') AND v.event_date > o.obs_end", "events after the window"),
        ("SELECT count(*) FROM report_child_form WHERE release_id = ?1 AND (finding = 'PENDING') <> (finding_date IS NULL)", "pending findings"),
        // keys are unique
        ("SELECT count(*) - count(DISTINCT event_id) FROM event WHERE release_id = ?1", "event ids"),
        ("SELECT count(*) - count(DISTINCT episode_id) FROM episode WHERE release_id = ?1", "episode ids"),
        ("SELECT count(*) - count(DISTINCT report_id) FROM report WHERE release_id = ?1", "report ids"),
        ("SELECT count(*) - count(DISTINCT (child_pid, episode_seq)) FROM episode WHERE release_id = ?1", "episode_seq"),
        // pseudonyms: 64 lowercase hex characters, unique
        ("SELECT count(*) - count(DISTINCT child_pid) FROM child WHERE release_id = ?1", "child pseudonyms"),
        ("SELECT count(*) FROM child WHERE release_id = ?1 AND NOT regexp_full_match(child_pid, '[0-9a-f]{64}')", "pseudonym form"),
        ("SELECT count(*) FROM family WHERE release_id = ?1 AND NOT regexp_full_match(family_pid, '[0-9a-f]{64}')", "family pseudonym form"),
        // readable ids never hold 8 digits in a row nor a 0 followed by digits
        ("SELECT count(*) FROM event WHERE release_id = ?1 AND (regexp_matches(event_id, '[0-9]{8}')
            OR regexp_matches(event_id, '(^|[^0-9])0[0-9]') OR regexp_matches(coalesce(source_id, ''), '[0-9]{8}'))", "id digits"),
    ] {
        let bad = count(&s, sql, &id)?;
        ensure!(bad == 0, "{what}: {bad}");
    }
    ensure!(
        count(
            &s,
            "SELECT count(*) FROM event WHERE release_id = ? AND event_type = 'SAFETY_REACHED' AND date_precision = 'INTERVAL'",
            &id
        )? > 0
    );
    ensure!(
        count(
            &s,
            "SELECT count(*) FROM report_child WHERE release_id = ? AND is_duplicate_of IS NOT NULL",
            &id
        )? > 0
    );
    ensure!(
        count(
            &s,
            "SELECT count(*) FROM report_child_form WHERE release_id = ? AND finding = 'PENDING'",
            &id
        )? > 0
    );
    ensure!(
        count(
            &s,
            "SELECT count(*) FROM episode WHERE release_id = ? AND closure_reason = 'TRANSFER_OTHER_CENTRE' AND transferred_to_episode_id IS NOT NULL",
            &id
        )? > 0
    );
    ensure!(
        count(
            &s,
            "SELECT count(*) FROM assessment_subscale WHERE release_id = ?",
            &id
        )? > 0
    );
    ensure!(
        count(
            &s,
            "SELECT count(*) FROM data_release WHERE release_id = ? AND is_synthetic AND source_system = 'SYNTHETIC' AND counting_unit = 'MIXED' AND generator_seed = 11",
            &id
        )? == 1
    );
    // the pseudonym function is the one the release used
    let first_child: String = s.conn().query_row(
        "SELECT child_pid FROM child WHERE release_id = ? AND child_pid = ?",
        params![id, pseudonym(11, "child", 0)],
        |r| r.get(0),
    )?;
    ensure!(first_child.len() == 64);
    // potential outcomes are consistent with the realised arm and community
    let inconsistent = count(&s, "SELECT count(*) FROM truth.child_latent l JOIN episode e ON e.release_id = l.release_id
        AND e.child_pid = l.child_pid AND e.entry_date = (SELECT min(entry_date) FROM episode x WHERE x.release_id = e.release_id AND x.child_pid = e.child_pid)
        JOIN centre c ON c.centre_id = e.centre_id
        WHERE l.release_id = ? AND e.index_report_id IS NOT NULL AND t_rereport_first_latent_days IS DISTINCT FROM
          CASE WHEN c.community = 'VL' AND NOT treated THEN po_rereport_vl_a0_days
               WHEN c.community = 'VL' THEN po_rereport_vl_a1_days
               WHEN NOT treated THEN po_rereport_fwb_a0_days ELSE po_rereport_fwb_a1_days END", &id)?;
    ensure!(inconsistent == 0, "potential outcomes: {inconsistent}");
    // FAMILY_SUPPORT lowers the re-report potential outcome (HR 0.75 after the start)
    let later = real(
        &s,
        "SELECT avg(CASE WHEN po_rereport_vl_a1_days >= po_rereport_vl_a0_days THEN 1.0 ELSE 0.0 END) FROM truth.child_latent WHERE release_id = ?",
        &id,
    )?;
    ensure!(later > 0.999, "{later}");

    // ---- known truth: 12-month re-report vs truth.cif MARGINAL (3 SE) ----
    let (emp, n, truth, shares) = rereport_12m(&s, &id, "MARGINAL")?;
    ensure!(n > 800.0, "reference children {n}");
    // Monte-Carlo error: binomial, plus the realised VK centre effects (sigma 0.15) that the
    // marginal truth integrates over: var += (dF/du)^2 sigma^2 sum(w_c^2).
    let cond: f64 = s.conn().query_row(
        "SELECT cif FROM truth.cif WHERE release_id = ? AND outcome = 'REREPORT' AND profile = 'REF_VL' AND kind = 'CONDITIONAL' AND t_days = 365",
        params![id],
        |r| r.get(0),
    )?;
    let h = -(1.0 - cond).ln();
    let theta = eff.config.frailty.theta;
    let dfdu = h * (1.0 + theta * h).powf(-1.0 / theta - 1.0);
    let sigma = eff.config.centre_effects.sigma;
    let w2: f64 = shares.iter().map(|w| w * w).sum();
    let se = (truth * (1.0 - truth) / n + dfdu * dfdu * sigma * sigma * w2).sqrt();
    eprintln!(
        "default: 12-month re-report {emp:.4} vs marginal truth {truth:.4} (conditional {cond:.4}), n {n}, se {se:.4}"
    );
    ensure!(
        (emp - truth).abs() < 3.0 * se,
        "12-month re-report {emp} vs marginal truth {truth} (n {n}, se {se})"
    );
    Ok(())
}

#[test]
fn no_frailty_rereport_matches_the_conditional_truth() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("nf.duckdb");
    let id = generate(&path, Scenario::NoFrailty, 15_000, 5, 2)?;
    let s = Store::open(&path)?;
    let (emp, n, truth, _) = rereport_12m(&s, &id, "CONDITIONAL")?;
    let se = (truth * (1.0 - truth) / n).sqrt();
    eprintln!(
        "no-frailty: 12-month re-report {emp:.4} vs conditional truth {truth:.4}, n {n}, se {se:.4}"
    );
    ensure!(n > 600.0, "reference children {n}");
    ensure!(
        (emp - truth).abs() < 3.0 * se,
        "12-month re-report {emp} vs conditional truth {truth} (n {n}, se {se})"
    );
    Ok(())
}

#[test]
fn every_scenario_runs_and_data_quality_writes_csv() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("all.duckdb");
    let mut store = Store::open_or_create(&path)?;
    for sc in Scenario::ALL {
        if sc == Scenario::DataQuality {
            continue;
        }
        let opts = SynthOptions::new(sc, 300, 3, None)?;
        let summary = synth::generate_into_store(&mut store, &opts)?;
        ensure!(summary.children == 300);
        let kids = count(
            &store,
            "SELECT count(*) FROM child WHERE release_id = ?",
            &opts.release_id,
        )?;
        ensure!(kids == 300, "{sc}: {kids} children");
        let cif = count(
            &store,
            "SELECT count(*) FROM truth.cif WHERE release_id = ?",
            &opts.release_id,
        )?;
        ensure!(cif > 0, "{sc}: no truth.cif");
    }
    // small-n: the small centres stay under 50 children even at 20,000
    let opts = SynthOptions::new(Scenario::SmallN, 20_000, 4, None)?;
    let ctx_probs = {
        let eff = synth::effective(Scenario::SmallN, None)?;
        let ctx = synth::population::Ctx::new(eff.config, 4, 20_000)?;
        ctx.centre_probabilities()
    };
    for (c, p) in studies::codes::CENTRES.iter().zip(&ctx_probs) {
        if ["VK_BRU", "SOS_DINANT", "SOS_LUX", "SOS_HUY"].contains(&c.id) {
            ensure!(p * 20_000.0 <= 30.0 + 1e-9, "{}: {}", c.id, p * 20_000.0);
        }
    }
    drop(opts);

    // data-quality: a folder of CSV files with the faults
    let out = dir.path().join("dq");
    let opts = SynthOptions::new(Scenario::DataQuality, 2_000, 6, None)?;
    let summary = synth::generate_csv(&out, &opts)?;
    ensure!(summary.faults.duplicate_report_rows > 0);
    ensure!(summary.faults.missing_finding_dates > 0);
    ensure!(summary.faults.dangling_transfers > 0);
    ensure!(summary.faults.misordered_dates > 0);
    for t in studies::schema::case_tables() {
        let file = out.join(format!("{}.csv", t.name));
        let text = std::fs::read_to_string(&file).with_context(|| file.display().to_string())?;
        let header = text.lines().next().unwrap_or_default();
        let want: Vec<&str> = t.file_columns().map(|c| c.name).collect();
        ensure!(header == want.join(","), "{}: header {header}", t.name);
    }
    let release = std::fs::read_to_string(out.join("data_release.csv"))?;
    ensure!(release.contains("SYNTHETIC"));
    // a second run into the same folder is refused
    ensure!(synth::generate_csv(&out, &opts).is_err());
    // the CSV rows load back into DuckDB with the schema's types
    let conn = duckdb::Connection::open_in_memory()?;
    let n: i64 = conn.query_row(
        &format!(
            "SELECT count(*) FROM read_csv('{}', header = true, all_varchar = false)",
            out.join("report.csv").display()
        ),
        [],
        |r| r.get(0),
    )?;
    ensure!(
        n as u64
            == summary
                .rows
                .iter()
                .find(|r| r.0 == "report")
                .map_or(0, |r| r.1)
    );
    Ok(())
}

#[test]
fn a_failed_run_leaves_no_release_behind() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("f.duckdb");
    let mut store = Store::open_or_create(&path)?;
    // Sabotage the last table written (truth.cif): every case table is appended first.
    store.conn().execute_batch("DROP TABLE truth.cif")?;
    let opts = SynthOptions::new(Scenario::Default, 300, 1, None)?;
    let err = synth::generate_into_store(&mut store, &opts)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    ensure!(err.contains("truth.cif"), "failed elsewhere: {err}");
    for t in [
        "family",
        "child",
        "episode",
        "report",
        "event",
        "assessment",
    ] {
        let n = count(
            &store,
            &format!("SELECT count(*) FROM {t} WHERE release_id = ?"),
            &opts.release_id,
        )?;
        ensure!(n == 0, "{t}: {n} rows left after a failed run");
    }
    ensure!(store.releases()?.is_empty());
    Ok(())
}

#[test]
fn unknown_scenario_lists_the_valid_ones() {
    let msg = Scenario::parse("nope")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    for s in Scenario::ALL {
        assert!(msg.contains(s.name()), "{msg}");
    }
}
