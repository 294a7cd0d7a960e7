//! End-to-end tests of `workbench import`: a small valid release written as CSV (and Parquet, and
//! PostgreSQL) by the test itself, then a suite of bad inputs, each refused with its rule id,
//! without echoing the offending value and without changing the store. Identifiers are generated
//! at test time; no valid-looking number is committed.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use rand::Rng;
use workbench::import::{Outcome, Source, import};
use workbench::store::Store;
use workbench::validate::{CheckError, RuleId, check_release};

const BIN: &str = env!("CARGO_BIN_EXE_workbench");

/// A `workbench import ...` command. Normally the `workbench` binary; but the development
/// machines share one cargo target folder between worktrees, so another worktree's build can
/// replace that binary while these tests run. When the binary on disk is not this build's (its
/// help lacks this importer's wording), this test executable stands in for it: re-run with
/// `WB_IMPORT_CHILD_ARGS`, its `child_process_entry` test runs `workbench::import::run` exactly
/// as `main` does and exits with its code.
fn workbench_import(args: &[&std::ffi::OsStr]) -> Command {
    let ours = Command::new(BIN)
        .args(["import", "--help"])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("episode.parquet"));
    if ours {
        let mut cmd = Command::new(BIN);
        cmd.arg("import").args(args);
        return cmd;
    }
    eprintln!("note: {BIN} is another build; running the importer from the test executable");
    let list: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "child_process_entry",
        "--nocapture",
        "--test-threads",
        "1",
    ]);
    cmd.env(
        "WB_IMPORT_CHILD_ARGS",
        serde_json::to_string(&list).unwrap(),
    );
    cmd
}

#[test]
fn child_process_entry() {
    use clap::Parser;
    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: workbench::import::ImportArgs,
    }
    let Ok(json) = std::env::var("WB_IMPORT_CHILD_ARGS") else {
        return;
    };
    let list: Vec<String> = serde_json::from_str(&json).unwrap();
    let cli = Cli::parse_from(std::iter::once("import".to_string()).chain(list));
    let config = workbench::config::Config::default();
    let code = match workbench::import::run(&config, &cli.args) {
        Ok(c) if c == std::process::ExitCode::SUCCESS => 0,
        Ok(c) if c == std::process::ExitCode::from(2) => 2,
        Ok(_) => 1,
        Err(e) => {
            eprintln!("error: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

// ---------------------------------------------------------------- a release, written by hand

#[derive(Clone)]
struct CsvTable {
    name: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

#[derive(Clone)]
struct Release {
    tables: Vec<CsvTable>,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A 64-hex pseudonym (like an HMAC-SHA-256 issued by the TTP).
fn pid(kind: u64, i: u64) -> String {
    let s = splitmix(kind * 1_000_003 + i);
    (0..4)
        .map(|k| format!("{:016x}", splitmix(s + k)))
        .collect()
}

fn day(d: NaiveDate, plus: u64) -> String {
    d.checked_add_days(Days::new(plus))
        .unwrap()
        .format("%Y-%m-%d")
        .to_string()
}

impl Release {
    /// A valid release of `n` children: episodes, reports, findings, interventions, placements,
    /// events that agree with all of them, observation windows and assessments.
    fn valid(release_id: &str, n: u64) -> Release {
        let t = |name: &'static str, header: &str| CsvTable {
            name,
            header: header.split(',').map(str::to_string).collect(),
            rows: Vec::new(),
        };
        let mut data_release = t(
            "data_release",
            "release_id,extract_date,source_system,pseudonym_scheme,counting_unit,notes",
        );
        data_release.rows.push(vec![
            release_id.into(),
            "2025-06-30".into(),
            "OTHER".into(),
            "TTP_HMAC_SHA256_TEST_v1".into(),
            "MELDING".into(),
            "test extract, 12 centres".into(),
        ]);
        let mut family = t("family", "family_pid");
        let mut child = t(
            "child",
            "child_pid,family_pid,sex,birth_ym,date_of_18th_birthday",
        );
        let mut episode = t(
            "episode",
            "episode_id,child_pid,centre_id,entry_date,index_report_id,referral_source,age_at_entry_months,closure_date,closure_reason,episode_seq",
        );
        let mut report = t(
            "report",
            "report_id,centre_id,report_date,source_code,channel,report_kind",
        );
        let mut report_child = t("report_child", "report_id,child_pid,episode_id");
        let mut form = t(
            "report_child_form",
            "report_id,child_pid,form_code,is_primary,finding,finding_date",
        );
        let mut intervention = t(
            "intervention",
            "intervention_id,episode_id,intervention_code,provider_sector,start_date,end_date,end_reason,is_court_ordered",
        );
        let mut placement = t(
            "placement",
            "placement_id,episode_id,removal_seq,setting,start_date,end_date,is_trial_home_visit",
        );
        let mut event = t(
            "event",
            "event_id,child_pid,episode_id,event_type,event_date,date_precision,source_table,source_id",
        );
        let mut window = t(
            "observation_window",
            "child_pid,obs_start,obs_end,obs_end_reason",
        );
        let mut assessment = t(
            "assessment",
            "assessment_id,child_pid,episode_id,instrument_code,assessment_date,planned_wave,score,is_valid",
        );
        let base = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let mut ev = 0u64;
        let mut push_event =
            |event: &mut CsvTable, c: &str, e: &str, ty: &str, d: String, st: &str, sid: &str| {
                ev += 1;
                event.rows.push(vec![
                    format!("EV-{ev:08}"),
                    c.into(),
                    e.into(),
                    ty.into(),
                    d,
                    "DAY".into(),
                    st.into(),
                    sid.into(),
                ]);
            };
        for i in 0..n {
            let c = pid(1, i);
            let f = pid(2, i / 2);
            if i % 2 == 0 {
                family.rows.push(vec![f.clone()]);
            }
            let birth_year = 2008 + (i % 10);
            let birth_month = 1 + (i % 12);
            child.rows.push(vec![
                c.clone(),
                f,
                ["M", "F"][(i % 2) as usize].into(),
                format!("{birth_year}-{birth_month:02}"),
                format!("{}-{birth_month:02}-01", birth_year + 18),
            ]);
            let entry = base.checked_add_days(Days::new(i % 900)).unwrap();
            let e = format!("EP-{:07}-{}", 1_234_567 + i, i % 10);
            let r = format!("R-{i:06}");
            let closure = (i % 2 == 0).then(|| day(entry, 120));
            episode.rows.push(vec![
                e.clone(),
                c.clone(),
                "VK_ANT".into(),
                day(entry, 0),
                r.clone(),
                "SCHOOL_CLB".into(),
                (60 + i % 100).to_string(),
                closure.clone().unwrap_or_default(),
                if closure.is_some() {
                    "SAFETY_ACHIEVED".into()
                } else {
                    String::new()
                },
                "1".into(),
            ]);
            report.rows.push(vec![
                r.clone(),
                "VK_ANT".into(),
                day(entry, 0),
                "SCHOOL_CLB".into(),
                "PHONE".into(),
                "NEW".into(),
            ]);
            report_child
                .rows
                .push(vec![r.clone(), c.clone(), e.clone()]);
            form.rows.push(vec![
                r.clone(),
                c.clone(),
                "PHYS".into(),
                "true".into(),
                "SUBSTANTIATED".into(),
                day(entry, 10),
            ]);
            push_event(&mut event, &c, &e, "REPORT", day(entry, 0), "report", &r);
            let iid = format!("INT-{i:06}");
            let end = (i % 3 == 0).then(|| day(entry, 33));
            intervention.rows.push(vec![
                iid.clone(),
                e.clone(),
                "VK_ASSESSMENT".into(),
                "VK".into(),
                day(entry, 3),
                end.clone().unwrap_or_default(),
                if end.is_some() {
                    "completed after 4 sessions".into()
                } else {
                    String::new()
                },
                "false".into(),
            ]);
            push_event(
                &mut event,
                &c,
                &e,
                "INTERVENTION_START",
                day(entry, 3),
                "intervention",
                &iid,
            );
            if let Some(end) = &end {
                push_event(
                    &mut event,
                    &c,
                    &e,
                    "INTERVENTION_END",
                    end.clone(),
                    "intervention",
                    &iid,
                );
            }
            if i % 4 == 0 {
                let pl = format!("PL-{i:06}");
                placement.rows.push(vec![
                    pl.clone(),
                    e.clone(),
                    "1".into(),
                    "KIN_FOSTER".into(),
                    day(entry, 5),
                    String::new(),
                    "false".into(),
                ]);
                push_event(
                    &mut event,
                    &c,
                    &e,
                    "PLACEMENT_START",
                    day(entry, 5),
                    "placement",
                    &pl,
                );
            }
            push_event(&mut event, &c, &e, "SAFETY_REACHED", day(entry, 20), "", "");
            if let Some(cl) = &closure {
                push_event(&mut event, &c, &e, "CASE_CLOSED", cl.clone(), "episode", &e);
            }
            window.rows.push(vec![
                c.clone(),
                day(entry, 0),
                "2025-06-30".into(),
                "EXTRACT".into(),
            ]);
            assessment.rows.push(vec![
                format!("AS-{i:06}"),
                c.clone(),
                e.clone(),
                "SDQ_P".into(),
                day(entry, 40),
                "BASELINE".into(),
                format!("{}.5", 10 + i % 20),
                "true".into(),
            ]);
        }
        Release {
            tables: vec![
                data_release,
                family,
                child,
                episode,
                report,
                report_child,
                form,
                intervention,
                placement,
                event,
                window,
                assessment,
            ],
        }
    }

    fn table(&mut self, name: &str) -> &mut CsvTable {
        self.tables.iter_mut().find(|t| t.name == name).unwrap()
    }

    fn col(&mut self, table: &str, column: &str) -> usize {
        self.table(table)
            .header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("{table}.{column}"))
    }

    /// Sets one cell (`row` 0-based over data rows).
    fn set(&mut self, table: &str, row: usize, column: &str, value: &str) -> &mut Self {
        let c = self.col(table, column);
        self.table(table).rows[row][c] = value.to_string();
        self
    }

    fn add_column(&mut self, table: &str, column: &str, value: &str) -> &mut Self {
        let t = self.table(table);
        t.header.push(column.to_string());
        for r in &mut t.rows {
            r.push(value.to_string());
        }
        self
    }

    fn drop_column(&mut self, table: &str, column: &str) -> &mut Self {
        let c = self.col(table, column);
        let t = self.table(table);
        t.header.remove(c);
        for r in &mut t.rows {
            r.remove(c);
        }
        self
    }

    fn csv_text(t: &CsvTable) -> String {
        let quote = |v: &str| {
            if v.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        };
        let mut s = t.header.join(",");
        s.push('\n');
        for r in &t.rows {
            let cells: Vec<String> = r.iter().map(|v| quote(v)).collect();
            s.push_str(&cells.join(","));
            s.push('\n');
        }
        s
    }

    fn write_csv(&self, dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        for t in &self.tables {
            std::fs::write(dir.join(format!("{}.csv", t.name)), Self::csv_text(t)).unwrap();
        }
    }
}

// ---------------------------------------------------------------- stores

/// A store holding one valid release, `rel-base`, built once; tests copy it.
fn base_store() -> &'static Path {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let rel = dir.join("rel-base");
        Release::valid("rel-base", 4).write_csv(&rel);
        let store = dir.join("base.duckdb");
        match import(&store, &Source::Folder(rel), false).unwrap() {
            Outcome::Imported(_) => {}
            other => panic!("base release refused: {other:?}"),
        }
        store
    })
}

fn copy_base(dir: &Path) -> PathBuf {
    let store = dir.join("store.duckdb");
    std::fs::copy(base_store(), &store).unwrap();
    store
}

/// What must not change when an import is refused: the releases, the base release's content
/// hash, and the row count of every table.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    releases: Vec<String>,
    base_hash: Option<String>,
    rows: Vec<(String, i64)>,
}

fn snapshot(store: &Path) -> Snapshot {
    let s = Store::open(store).unwrap();
    let releases: Vec<String> = s
        .releases()
        .unwrap()
        .into_iter()
        .map(|r| r.release_id)
        .collect();
    let base_hash = releases.iter().any(|r| r == "rel-base").then(|| {
        workbench::hash::release_hash(s.conn(), "rel-base")
            .unwrap()
            .release
    });
    let rows = studies::schema::TABLES
        .iter()
        .map(|t| {
            let n: i64 = s
                .conn()
                .query_row(
                    &format!("SELECT count(*) FROM {}", t.qualified_name()),
                    [],
                    |r| r.get(0),
                )
                .unwrap();
            (t.name.to_string(), n)
        })
        .collect();
    Snapshot {
        releases,
        base_hash,
        rows,
    }
}

fn run_import(store: &Path, args: &[&str], home: &Path) -> Output {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--store".as_ref(), store.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    let mut cmd = workbench_import(&all);
    cmd.env("WORKBENCH_HOME", home)
        .env_remove("WORKBENCH_CONFIG");
    cmd.output().unwrap()
}

fn text_of(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Imports `rel` (as `rel-bad`) into a copy of the base store through the binary and checks it is
/// refused with `rule`, exit code 2, none of `secrets` in the output, and the store unchanged.
fn refused_with(rel: &Release, rule: &str, secrets: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    rel.write_csv(&folder);
    refused_folder(dir.path(), &folder, rule, secrets)
}

fn refused_folder(dir: &Path, folder: &Path, rule: &str, secrets: &[&str]) -> String {
    let store = copy_base(dir);
    let before = snapshot(&store);
    let out = run_import(&store, &[folder.to_str().unwrap()], dir);
    let text = text_of(&out);
    eprintln!("---- {rule}\n{text}");
    assert_eq!(out.status.code(), Some(2), "{text}");
    let counted = text
        .lines()
        .any(|l| l.starts_with("count per rule:") && l.contains(&format!(" {rule} ")));
    assert!(counted, "expected {rule}:\n{text}");
    assert!(text.contains("nothing was written"), "{text}");
    for s in secrets {
        assert!(!s.is_empty());
        assert!(!text.contains(s), "output echoes the value:\n{text}");
        let digits: String = s.chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 6 {
            let out_digits: String = text.chars().filter(char::is_ascii_digit).collect();
            assert!(
                !out_digits.contains(&digits),
                "output echoes the digits:\n{text}"
            );
        }
    }
    assert_eq!(snapshot(&store), before, "the store changed");
    text
}

fn bad() -> Release {
    Release::valid("rel-bad", 6)
}

// ---------------------------------------------------------------- identifiers, generated here

fn random_national_number(rng: &mut impl Rng, bis: Option<u32>) -> String {
    let year: u32 = rng.random_range(1930..2024);
    let month: u32 = rng.random_range(1..=12) + bis.unwrap_or(0);
    let dayn: u32 = rng.random_range(1..=28);
    let serial: u32 = rng.random_range(1..=998);
    let base = u64::from(year % 100) * 10_000_000
        + u64::from(month) * 100_000
        + u64::from(dayn) * 1_000
        + u64::from(serial);
    let n = if year >= 2000 {
        2_000_000_000 + base
    } else {
        base
    };
    format!("{base:09}{:02}", 97 - n % 97)
}

fn dotted(n: &str) -> String {
    format!(
        "{}.{}.{}-{}.{}",
        &n[0..2],
        &n[2..4],
        &n[4..6],
        &n[6..9],
        &n[9..11]
    )
}

fn random_iban(rng: &mut impl Rng) -> String {
    let bban: u64 = rng.random_range(0..1_000_000_000_000);
    let bban = format!("{bban:012}");
    for check in 2..100u32 {
        let digits = format!("{bban}1114{check:02}");
        let r = digits
            .bytes()
            .fold(0u32, |r, b| (r * 10 + u32::from(b - b'0')) % 97);
        if r == 1 {
            return format!(
                "BE{check:02} {} {} {}",
                &bban[0..4],
                &bban[4..8],
                &bban[8..12]
            );
        }
    }
    unreachable!()
}

fn random_mobile(rng: &mut impl Rng) -> String {
    let n: u32 = rng.random_range(0..1_000_000);
    format!(
        "+32 47{} {:02} {:02} {:02}",
        n % 10,
        n / 10_000 % 100,
        n / 100 % 100,
        n % 100
    )
}

// ---------------------------------------------------------------- the valid path

#[test]
fn imports_a_valid_release_and_reports_counts_and_hash() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    Release::valid("rel-1", 6).write_csv(&folder);
    let store = dir.path().join("new.duckdb");
    let t0 = Instant::now();
    let out = run_import(&store, &[folder.to_str().unwrap()], dir.path());
    let text = text_of(&out);
    assert!(out.status.success(), "{text}");
    eprintln!("valid import of 6 children: {:?}", t0.elapsed());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("imported release rel-1"), "{stdout}");
    assert!(stdout.contains("content hash "), "{stdout}");
    let s = Store::open(&store).unwrap();
    let child = studies::schema::table("child").unwrap();
    let event = studies::schema::table("event").unwrap();
    assert_eq!(s.row_count(child, "rel-1").unwrap(), 6);
    // 6 REPORT, 6 INTERVENTION_START, 2 INTERVENTION_END, 2 PLACEMENT_START, 6 SAFETY_REACHED,
    // 3 CASE_CLOSED.
    assert_eq!(s.row_count(event, "rel-1").unwrap(), 25);
    let hash = workbench::hash::release_hash(s.conn(), "rel-1")
        .unwrap()
        .release;
    assert!(stdout.contains(&hash), "{stdout}");
    // Defaults for columns the files leave out.
    let (synthetic, precision): (bool, String) = s
        .conn()
        .query_row(
            "SELECT r.is_synthetic, (SELECT min(date_precision) FROM event) FROM data_release r",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(!synthetic);
    assert_eq!(precision, "DAY");
    // The stored release passes check_release too.
    check_release(s.conn(), "rel-1").unwrap();
}

#[test]
fn dry_run_validates_without_writing_or_creating_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    Release::valid("rel-dry", 3).write_csv(&folder);
    let missing = dir.path().join("absent.duckdb");
    let out = run_import(
        &missing,
        &["--dry-run", folder.to_str().unwrap()],
        dir.path(),
    );
    assert!(out.status.success(), "{}", text_of(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dry run: release rel-dry is valid"));
    assert!(!missing.exists());
    let store = copy_base(dir.path());
    let before = snapshot(&store);
    let out = run_import(&store, &["--dry-run", folder.to_str().unwrap()], dir.path());
    assert!(out.status.success(), "{}", text_of(&out));
    assert_eq!(snapshot(&store), before);
}

#[test]
fn a_failed_import_leaves_no_new_store_behind() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    let mut rel = bad();
    rel.set("child", 0, "sex", "Q");
    rel.write_csv(&folder);
    let store = dir.path().join("new.duckdb");
    let out = run_import(&store, &[folder.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out));
    assert!(!store.exists());
    assert!(!dir.path().join("new.duckdb.wal").exists());
}

#[test]
fn csv_parquet_and_bom_give_the_same_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let rel = Release::valid("rel-a", 5);
    let csv = dir.path().join("csv");
    rel.write_csv(&csv);
    // The same release as Parquet files, written by DuckDB.
    let parquet = dir.path().join("parquet");
    std::fs::create_dir_all(&parquet).unwrap();
    {
        let conn = duckdb::Connection::open_in_memory().unwrap();
        for t in &rel.tables {
            let src = csv.join(format!("{}.csv", t.name));
            let dst = parquet.join(format!("{}.parquet", t.name));
            conn.execute_batch(&format!(
                // Typed Parquet columns (dates, numbers, booleans as DuckDB detects them).
                "COPY (SELECT * FROM read_csv('{}', header = true{})) TO '{}' (FORMAT parquet)",
                src.display(),
                if t.name == "child" {
                    ", types = {'birth_ym': 'VARCHAR'}"
                } else {
                    ""
                },
                dst.display()
            ))
            .unwrap();
        }
    }
    // And as CSV with a UTF-8 byte-order mark and CRLF line ends.
    let bom = dir.path().join("bom");
    rel.write_csv(&bom);
    for t in &rel.tables {
        let p = bom.join(format!("{}.csv", t.name));
        let text = std::fs::read_to_string(&p).unwrap().replace('\n', "\r\n");
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend_from_slice(text.as_bytes());
        std::fs::write(&p, bytes).unwrap();
    }
    let store = dir.path().join("s.duckdb");
    let mut hashes = Vec::new();
    for (folder, id) in [(&csv, "rel-a"), (&parquet, "rel-b"), (&bom, "rel-c")] {
        if folder != &csv {
            // A different release id, same content: the hash leaves release_id out.
            let p = folder.join(match folder.join("data_release.csv").exists() {
                true => "data_release.csv",
                false => "data_release.parquet",
            });
            if p.extension().unwrap() == "csv" {
                let text = std::fs::read_to_string(&p).unwrap().replace("rel-a", id);
                std::fs::write(&p, text).unwrap();
            } else {
                let conn = duckdb::Connection::open_in_memory().unwrap();
                let tmp = folder.join("dr.tmp");
                conn.execute_batch(&format!(
                    "COPY (SELECT '{id}' AS release_id, * EXCLUDE (release_id) FROM read_parquet('{}')) TO '{}' (FORMAT parquet)",
                    p.display(),
                    tmp.display()
                ))
                .unwrap();
                std::fs::rename(&tmp, &p).unwrap();
            }
        }
        match import(&store, &Source::Folder(folder.clone()), false).unwrap() {
            Outcome::Imported(s) => hashes.push(s.hash.unwrap()),
            other => panic!("{} refused: {other:?}", folder.display()),
        }
    }
    assert_eq!(hashes[0], hashes[1], "parquet");
    assert_eq!(hashes[0], hashes[2], "bom");
}

#[test]
fn importing_the_same_release_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    Release::valid("rel-base", 4).write_csv(&folder);
    refused_folder(dir.path(), &folder, "RELEASE_EXISTS", &[]);
}

// ---------------------------------------------------------------- identifiers (§3.5)

#[test]
fn refuses_national_register_numbers_of_both_centuries_with_and_without_separators() {
    let mut rng = rand::rng();
    for _ in 0..2 {
        let n = random_national_number(&mut rng, None);
        let mut rel = bad();
        rel.set(
            "intervention",
            0,
            "end_reason",
            &format!("referred, file {}", dotted(&n)),
        );
        refused_with(&rel, "ID_RRN", &[&n, &dotted(&n)]);
    }
    // A plain 11-digit number as an id: refused on its shape (even with a wrong checksum).
    let n = random_national_number(&mut rng, None);
    let mut rel = bad();
    rel.set("event", 5, "event_id", &n);
    refused_with(&rel, "ID_RRN", &[&n]);
    // In a numeric column.
    let mut rel = bad();
    rel.set("episode", 1, "age_at_entry_months", &n);
    refused_with(&rel, "ID_RRN", &[&n]);
}

#[test]
fn refuses_bis_numbers() {
    let mut rng = rand::rng();
    for plus in [20, 40] {
        let n = random_national_number(&mut rng, Some(plus));
        let mut rel = bad();
        rel.set(
            "data_release",
            0,
            "notes",
            &format!("contact {}", dotted(&n)),
        );
        refused_with(&rel, "ID_BIS", &[&n]);
    }
}

#[test]
fn refuses_iban_email_and_phone() {
    let mut rng = rand::rng();
    let iban = random_iban(&mut rng);
    let mut rel = bad();
    rel.set(
        "intervention",
        3,
        "end_reason",
        &format!("refund to {iban}"),
    );
    refused_with(&rel, "ID_IBAN", &[&iban, &iban.replace(' ', "")]);

    let email = format!("jan.{}@example.be", rng.random_range(1000..9999));
    let mut rel = bad();
    rel.set("data_release", 0, "notes", &format!("questions: {email}"));
    refused_with(&rel, "ID_EMAIL", &[&email]);

    let phone = random_mobile(&mut rng);
    let mut rel = bad();
    rel.set(
        "intervention",
        0,
        "end_reason",
        &format!("called mother on {phone}"),
    );
    refused_with(&rel, "ID_PHONE", &[&phone]);
}

#[test]
fn refuses_day_precision_birth_dates_and_deny_listed_columns() {
    let mut rel = bad();
    rel.set("child", 2, "birth_ym", "2012-03-17");
    let text = refused_with(&rel, "ID_BIRTH_DATE", &["2012-03-17"]);
    assert!(
        text.contains("child.csv, row 4, column birth_ym [ID_BIRTH_DATE]"),
        "{text}"
    );

    let mut rel = bad();
    rel.set("child", 0, "date_of_18th_birthday", "2026-05-17");
    refused_with(&rel, "ID_BIRTH_DATE", &["2026-05-17"]);

    let mut rel = bad();
    rel.add_column("child", "date_of_birth", "2012-03-17");
    refused_with(&rel, "ID_BIRTH_DATE", &["2012-03-17"]);

    for name in ["child_name", "Voornaam", "e-mail", "rijksregisternummer"] {
        let mut rel = bad();
        rel.add_column("child", name, "x");
        let text = refused_with(&rel, "ID_COLUMN_NAME", &[]);
        assert!(text.contains(name), "the column is named: {text}");
    }
}

#[test]
fn a_header_that_is_data_is_not_echoed() {
    // A child file without its header line: the first row is taken as the header, and its values
    // (a pseudonym and an e-mail address) must not be printed as column names.
    let mut rel = bad();
    rel.add_column("child", "expected_birth_ym", "");
    let email = "an.peeters@example.be";
    let t = rel.table("child");
    t.header = t.rows[0].clone();
    let last = t.header.len() - 1;
    t.header[last] = email.into();
    let hidden = t.header[0].clone();
    refused_with(&rel, "UNKNOWN_COLUMN", &[email, &hidden]);
}

// ---------------------------------------------------------------- integrity rules

#[test]
fn refuses_dates_out_of_order() {
    let mut rel = bad();
    // Intervention 0 ends (day +33) -- make it end before it starts, event too.
    rel.set("intervention", 0, "end_date", "2019-12-01");
    let text = refused_with(&rel, "DATE_ORDER", &[]);
    assert!(
        text.contains("intervention.csv, row 2, column end_date [DATE_ORDER]"),
        "{text}"
    );

    let mut rel = bad();
    rel.set("episode", 0, "closure_date", "2019-06-01");
    refused_with(&rel, "DATE_ORDER", &[]);

    let mut rel = bad();
    rel.set("report_child_form", 1, "finding_date", "2019-01-01");
    refused_with(&rel, "DATE_ORDER", &[]);

    let mut rel = bad();
    rel.set("observation_window", 1, "obs_end", "2019-01-01");
    refused_with(&rel, "DATE_ORDER", &[]);

    // An event (not restating any table) before the child's first entry.
    let mut rel = bad();
    let safety = rel
        .table("event")
        .rows
        .iter()
        .position(|r| r[3] == "SAFETY_REACHED")
        .unwrap();
    rel.set("event", safety, "event_date", "2019-01-01");
    let text = refused_with(&rel, "DATE_ORDER", &[]);
    assert!(!text.contains("[EVENT_AGREEMENT]"), "{text}");
}

#[test]
fn refuses_unknown_codes_wrong_types_and_missing_values() {
    let mut rel = bad();
    rel.set("child", 1, "sex", "Q");
    let text = refused_with(&rel, "CODE_LIST", &[]);
    assert!(
        text.contains("child.csv, row 3, column sex [CODE_LIST]"),
        "{text}"
    );

    let mut rel = bad();
    rel.set("episode", 0, "referral_source", "NOT_A_SOURCE");
    refused_with(&rel, "CODE_LIST", &["NOT_A_SOURCE"]);

    let mut rel = bad();
    rel.set("episode", 2, "episode_seq", "one");
    refused_with(&rel, "TYPE", &[]);

    let mut rel = bad();
    rel.set("assessment", 2, "assessment_date", "31/01/2021");
    refused_with(&rel, "TYPE", &["31/01/2021"]);

    let mut rel = bad();
    rel.set("assessment", 2, "score", "12,5");
    refused_with(&rel, "TYPE", &[]);

    let mut rel = bad();
    rel.set("child", 2, "sex", "");
    refused_with(&rel, "MISSING_VALUE", &[]);

    let mut rel = bad();
    rel.set("child", 3, "child_pid", "abc");
    refused_with(&rel, "PSEUDONYM_FORMAT", &[]);
}

#[test]
fn refuses_duplicate_keys_and_dangling_references() {
    let mut rel = bad();
    let dup = rel.table("child").rows[1].clone();
    rel.table("child").rows.push(dup);
    let text = refused_with(&rel, "KEY_DUPLICATE", &[]);
    assert!(
        text.contains("of row 3"),
        "names the first occurrence: {text}"
    );

    let mut rel = bad();
    rel.set("report_child", 1, "report_id", "R-999999");
    refused_with(&rel, "REFERENCE", &["R-999999"]);

    let mut rel = bad();
    rel.set("episode", 1, "index_report_id", "R-999998");
    refused_with(&rel, "REFERENCE", &[]);
}

#[test]
fn refuses_events_that_disagree() {
    // A missing REPORT event.
    let mut rel = bad();
    let ev = rel.table("event");
    let i = ev.rows.iter().position(|r| r[3] == "REPORT").unwrap();
    ev.rows.remove(i);
    let text = refused_with(&rel, "EVENT_AGREEMENT", &[]);
    assert!(text.contains("report_child.csv, row 2"), "{text}");

    // An event on another date than its row.
    let mut rel = bad();
    let i = rel
        .table("event")
        .rows
        .iter()
        .position(|r| r[3] == "INTERVENTION_START")
        .unwrap();
    rel.set("event", i, "event_date", "2024-01-01");
    let text = refused_with(&rel, "EVENT_AGREEMENT", &[]);
    assert!(text.contains("event.csv"), "both ways: {text}");
    assert!(text.contains("intervention.csv"), "both ways: {text}");

    // An event naming a row that does not exist.
    let mut rel = bad();
    let i = rel
        .table("event")
        .rows
        .iter()
        .position(|r| r[3] == "CASE_CLOSED")
        .unwrap();
    rel.set("event", i, "source_id", "EP-0000000-0");
    refused_with(&rel, "EVENT_AGREEMENT", &[]);

    // A doubled event.
    let mut rel = bad();
    let mut twin = rel.table("event").rows[0].clone();
    twin[0] = "EV-TWIN".into();
    rel.table("event").rows.push(twin);
    refused_with(&rel, "EVENT_AGREEMENT", &[]);
}

// ---------------------------------------------------------------- files

#[test]
fn refuses_empty_and_missing_files_and_unknown_columns() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    bad().write_csv(&folder);
    std::fs::write(folder.join("child.csv"), b"").unwrap();
    refused_folder(dir.path(), &folder, "EMPTY_FILE", &[]);

    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    bad().write_csv(&folder);
    std::fs::remove_file(folder.join("report.csv")).unwrap();
    refused_folder(dir.path(), &folder, "MISSING_FILE", &[]);

    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    bad().write_csv(&folder);
    std::fs::rename(folder.join("placement.csv"), folder.join("placements.csv")).unwrap();
    refused_folder(dir.path(), &folder, "UNKNOWN_FILE", &[]);

    let mut rel = bad();
    rel.add_column("episode", "colour", "blue");
    refused_with(&rel, "UNKNOWN_COLUMN", &[]);

    let mut rel = bad();
    rel.drop_column("child", "sex");
    refused_with(&rel, "MISSING_COLUMN", &[]);

    let mut rel = bad();
    rel.add_column("child", "release_id", "rel-bad");
    refused_with(&rel, "UNKNOWN_COLUMN", &[]);
}

#[test]
fn refuses_bytes_that_are_not_utf8() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    let rel = bad();
    rel.write_csv(&folder);
    let p = folder.join("intervention.csv");
    let text = std::fs::read_to_string(&p).unwrap();
    // Latin-1 "é" in a free-text value of data row 1.
    let bytes = text
        .replacen("completed after", "compl\u{0}ted after", 1)
        .into_bytes()
        .into_iter()
        .map(|b| if b == 0 { 0xE9 } else { b })
        .collect::<Vec<u8>>();
    std::fs::write(&p, bytes).unwrap();
    let out = refused_folder(dir.path(), &folder, "ENCODING", &[]);
    assert!(
        out.contains("intervention.csv, row 2, column end_reason [ENCODING]"),
        "{out}"
    );
}

#[test]
fn refuses_a_ten_megabyte_field_without_loading_it() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    let rel = bad();
    rel.write_csv(&folder);
    let p = folder.join("intervention.csv");
    let text = std::fs::read_to_string(&p).unwrap();
    let (head, tail) = text.split_once("completed after 4 sessions").unwrap();
    let mut f = std::fs::File::create(&p).unwrap();
    f.write_all(head.as_bytes()).unwrap();
    let block = vec![b'x'; 1 << 20];
    for _ in 0..10 {
        f.write_all(&block).unwrap();
    }
    f.write_all(tail.as_bytes()).unwrap();
    drop(f);
    let out = refused_folder(dir.path(), &folder, "FIELD_TOO_LONG", &[]);
    assert!(
        out.contains("row 2, column end_reason [FIELD_TOO_LONG]"),
        "{out}"
    );
}

#[test]
fn rows_are_counted_as_a_spreadsheet_counts_them_even_with_line_breaks_in_values() {
    let mut rel = bad();
    rel.set(
        "intervention",
        0,
        "end_reason",
        "first line\nsecond line, with a comma",
    );
    rel.set("intervention", 3, "provider_sector", "XX");
    let text = refused_with(&rel, "CODE_LIST", &[]);
    assert!(
        text.contains("intervention.csv, row 5, column provider_sector [CODE_LIST]"),
        "{text}"
    );
}

#[test]
fn refuses_ragged_rows() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("release");
    bad().write_csv(&folder);
    let p = folder.join("report.csv");
    let text = std::fs::read_to_string(&p).unwrap() + "R-X,VK_ANT,2020-01-01\n";
    std::fs::write(&p, text).unwrap();
    refused_folder(dir.path(), &folder, "FILE_FORMAT", &[]);
}

// ---------------------------------------------------------------- check_release

#[test]
fn check_release_reports_by_table_row_and_rule() {
    let dir = tempfile::tempdir().unwrap();
    let store = copy_base(dir.path());
    let s = Store::open(&store).unwrap();
    check_release(s.conn(), "rel-base").unwrap();
    let c = s.conn();
    // Double a child and move a REPORT event.
    c.execute_batch(
        "INSERT INTO child SELECT * FROM child WHERE release_id = 'rel-base' ORDER BY child_pid LIMIT 1;
         UPDATE event SET event_date = DATE '2024-02-02' WHERE release_id = 'rel-base' AND event_type = 'REPORT' AND source_id = 'R-000001';",
    )
    .unwrap();
    let Err(CheckError::Invalid(report)) = check_release(c, "rel-base") else {
        panic!("the broken release passed");
    };
    assert_eq!(report.count(RuleId::KeyDuplicate), 1, "{report}");
    assert_eq!(report.count(RuleId::EventAgreement), 2, "{report}");
    let dup = report
        .findings()
        .iter()
        .find(|f| f.rule == RuleId::KeyDuplicate)
        .unwrap();
    assert_eq!(dup.table, "child");
    assert_eq!(dup.source, "table child");
    assert!(matches!(dup.row, Some(1 | 2)), "{report}");
    assert!(check_release(c, "no-such-release").is_err());
}

// ---------------------------------------------------------------- all or nothing

#[test]
fn an_import_killed_midway_leaves_no_trace() {
    let dir = tempfile::tempdir().unwrap();
    let store = copy_base(dir.path());
    let before = snapshot(&store);
    let folder = dir.path().join("big");
    Release::valid("rel-big", 10_000).write_csv(&folder);
    let mut child = workbench_import(&["--store".as_ref(), store.as_os_str(), folder.as_os_str()])
        .env("WORKBENCH_HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    // Wait until the write transaction has begun and written a table or two.
    for line in lines.by_ref() {
        let line = line.unwrap();
        let go = line.contains("wrote report ");
        seen.push(line);
        if go {
            break;
        }
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "the import finished before it was killed; make the release larger: {seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("writing release rel-big")),
        "{seen:?}"
    );
    let after = snapshot(&store);
    assert_eq!(after, before, "a killed import left rows behind");
    // The store still takes the release afterwards.
    let t0 = Instant::now();
    match import(&store, &Source::Folder(folder), false).unwrap() {
        Outcome::Imported(s) => {
            assert_eq!(s.rows.iter().find(|r| r.0 == "child").unwrap().1, 10_000)
        }
        other => panic!("{other:?}"),
    }
    eprintln!("import of 10,000 children: {:?}", t0.elapsed());
    let s = Store::open(&store).unwrap();
    let t0 = Instant::now();
    check_release(s.conn(), "rel-big").unwrap();
    eprintln!("check_release on 10,000 children: {:?}", t0.elapsed());
}

// ---------------------------------------------------------------- PostgreSQL

const PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

fn pg_type(t: studies::schema::ColumnType) -> &'static str {
    use studies::schema::ColumnType::*;
    match t {
        Text => "text",
        Integer => "bigint",
        Real => "double precision",
        Date => "date",
        Boolean => "boolean",
    }
}

/// Runs SQL statements on the local test server (one schema per test, dropped afterwards).
fn pg_exec(statements: &[String]) {
    use sqlx::Connection as _;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut conn = sqlx::PgConnection::connect(PG_URL).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {PG_URL} is not reachable ({e}): start the local server (CI starts it)")
        });
        for s in statements {
            sqlx::raw_sql(sqlx::AssertSqlSafe(s.clone()))
                .execute(&mut conn)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
    });
}

/// Writes a release into a new PostgreSQL schema, with the schema's column types.
fn pg_write(rel: &Release, schema_name: &str) {
    let mut sql = vec![
        format!("DROP SCHEMA IF EXISTS {schema_name} CASCADE"),
        format!("CREATE SCHEMA {schema_name}"),
    ];
    for t in &rel.tables {
        let st = studies::schema::table(t.name).unwrap();
        let cols: Vec<String> = t
            .header
            .iter()
            .map(|h| {
                let ty = st.column(h).map_or("text", |c| pg_type(c.ty));
                format!("\"{h}\" {ty}")
            })
            .collect();
        sql.push(format!(
            "CREATE TABLE {schema_name}.{} ({})",
            t.name,
            cols.join(", ")
        ));
        for chunk in t.rows.chunks(500) {
            let rows: Vec<String> = chunk
                .iter()
                .map(|r| {
                    let vals: Vec<String> = r
                        .iter()
                        .map(|v| {
                            if v.is_empty() {
                                "NULL".to_string()
                            } else {
                                format!("'{}'", v.replace('\'', "''"))
                            }
                        })
                        .collect();
                    format!("({})", vals.join(", "))
                })
                .collect();
            sql.push(format!(
                "INSERT INTO {schema_name}.{} VALUES {}",
                t.name,
                rows.join(", ")
            ));
        }
    }
    pg_exec(&sql);
}

fn unique_schema(tag: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("wb_import_{tag}_{}_{nanos}", std::process::id())
}

#[test]
fn imports_from_postgres_with_the_same_content_hash_and_refuses_identifiers_there() {
    let dir = tempfile::tempdir().unwrap();
    let rel = Release::valid("rel-pg", 5);
    let folder = dir.path().join("csv");
    rel.write_csv(&folder);
    let store = dir.path().join("s.duckdb");
    let csv_hash = match import(&store, &Source::Folder(folder), false).unwrap() {
        Outcome::Imported(s) => s.hash.unwrap(),
        other => panic!("{other:?}"),
    };

    let schema_name = unique_schema("ok");
    let mut pg_rel = rel.clone();
    pg_rel.set("data_release", 0, "release_id", "rel-pg-2");
    pg_write(&pg_rel, &schema_name);
    let url = format!("{PG_URL}?schema={schema_name}");
    let out = run_import(&store, &["--from", &url], dir.path());
    pg_exec(&[format!("DROP SCHEMA IF EXISTS {schema_name} CASCADE")]);
    let text = text_of(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("imported release rel-pg-2"), "{text}");
    assert!(text.contains(&csv_hash), "same content, same hash: {text}");

    // An e-mail address in a PostgreSQL text column: refused, not echoed, store unchanged.
    let schema_name = unique_schema("bad");
    let mut bad_rel = rel.clone();
    bad_rel.set("data_release", 0, "release_id", "rel-pg-bad");
    let email = "an.janssens@example.org";
    bad_rel.set("intervention", 0, "end_reason", &format!("mail {email}"));
    bad_rel.set("child", 1, "sex", "Z");
    pg_write(&bad_rel, &schema_name);
    let before = snapshot(&store);
    let url = format!("{PG_URL}?schema={schema_name}");
    let out = run_import(&store, &["--from", &url], dir.path());
    pg_exec(&[format!("DROP SCHEMA IF EXISTS {schema_name} CASCADE")]);
    let text = text_of(&out);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("[ID_EMAIL]"), "{text}");
    // PostgreSQL rows are counted in key order (child_pid).
    let mut pids: Vec<String> = rel
        .clone()
        .table("child")
        .rows
        .iter()
        .map(|r| r[0].clone())
        .collect();
    let wanted = pids[1].clone();
    pids.sort();
    let row = pids.iter().position(|p| *p == wanted).unwrap() + 1;
    let expected = format!("postgres {schema_name}.child, row {row}, column sex [CODE_LIST]");
    assert!(text.contains(&expected), "{expected}:\n{text}");
    assert!(!text.contains(email), "{text}");
    assert_eq!(snapshot(&store), before);

    // A schema that does not exist: an error (exit 1), not a validation report.
    let out = run_import(
        &store,
        &["--from", &format!("{PG_URL}?schema=no_such_schema_here")],
        dir.path(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text_of(&out));
    assert!(text_of(&out).contains("does not exist"));
}
