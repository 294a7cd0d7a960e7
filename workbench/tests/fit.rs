//! `workbench fit` end to end through the binary: every model on a CSV file, a Parquet file and a
//! store (by table and by query), checked against R survival's numbers from the `models`
//! fixtures; the JSON document's keys; and the data errors, each naming its column and row.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;
use workbench::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_workbench");

fn fixture(path: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures")
        .join(path);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn case<'a>(fixture: &'a Value, name: &str) -> &'a Value {
    fixture["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"][0] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// Numbers of a JSON array (R's NA as NaN); a scalar as a one-element vector.
fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        other => vec![other.as_f64().unwrap_or(f64::NAN)],
    }
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[track_caller]
fn close(what: &str, mine: f64, r: f64) {
    let ok = (mine.is_nan() && r.is_nan()) || (mine - r).abs() <= 1e-7 * r.abs().max(1.0);
    assert!(ok, "{what}: workbench {mine} vs R {r}");
}

#[track_caller]
fn close_all(what: &str, mine: &[f64], r: &[f64]) {
    assert_eq!(mine.len(), r.len(), "{what}: lengths");
    for (k, (a, b)) in mine.iter().zip(r).enumerate() {
        close(&format!("{what}[{k}]"), *a, *b);
    }
}

#[track_caller]
fn has_keys(v: &Value, keys: &[&str]) {
    for k in keys {
        assert!(v.get(k).is_some(), "missing key `{k}` in {v}");
    }
}

/// A data set written as CSV, as Parquet (through DuckDB) and as a table `rows` in a store.
struct Sources {
    dir: TempDir,
    csv: PathBuf,
    parquet: PathBuf,
    store: PathBuf,
}

#[derive(Debug, Clone, Copy)]
enum Src {
    Csv,
    Parquet,
    Table,
    Sql,
}

const ALL: [Src; 4] = [Src::Csv, Src::Parquet, Src::Table, Src::Sql];

fn cell(v: &Value) -> String {
    match v {
        Value::Null => "NA".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => u8::from(*b).to_string(),
        other => other.to_string(),
    }
}

fn sources(columns: &[(&str, &Value)]) -> Sources {
    let mut text = columns
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(",");
    text.push('\n');
    let n = columns[0].1.as_array().expect("column").len();
    for i in 0..n {
        let row: Vec<String> = columns.iter().map(|(_, v)| cell(&v[i])).collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    sources_from_csv(&text)
}

fn sources_from_csv(text: &str) -> Sources {
    let dir = tempfile::tempdir().expect("tempdir");
    // The stores here hold R's public datasets, not case records: the comparison with R needs
    // every count, so this folder's workbench.toml sets k to 1 (the default refuses: see
    // `a_fit_on_a_store_with_small_counts_is_refused`).
    std::fs::write(
        dir.path().join("workbench.toml"),
        "[privacy]\nk_screen = 1\nk_file = 1\n",
    )
    .expect("write config");
    let csv = dir.path().join("data.csv");
    std::fs::write(&csv, text).expect("write csv");
    let parquet = dir.path().join("data.parquet");
    let store = dir.path().join("store.duckdb");
    let read = format!(
        "read_csv('{}', header = true, nullstr = 'NA')",
        csv.display()
    );
    let conn = duckdb::Connection::open_in_memory().expect("duckdb");
    conn.execute_batch(&format!(
        "COPY (SELECT * FROM {read}) TO '{}' (FORMAT parquet)",
        parquet.display()
    ))
    .expect("write parquet");
    let s = Store::open_or_create(&store).expect("store");
    s.conn()
        .execute_batch(&format!("CREATE TABLE rows AS SELECT * FROM {read}"))
        .expect("store table");
    drop(s);
    Sources {
        dir,
        csv,
        parquet,
        store,
    }
}

impl Sources {
    fn args(&self, src: Src) -> Vec<String> {
        let p = |p: &Path| p.display().to_string();
        match src {
            Src::Csv => vec!["--data".into(), p(&self.csv)],
            Src::Parquet => vec!["--data".into(), p(&self.parquet)],
            Src::Table => vec![
                "--data".into(),
                p(&self.store),
                "--table".into(),
                "rows".into(),
            ],
            Src::Sql => vec![
                "--data".into(),
                p(&self.store),
                "--sql".into(),
                "SELECT * FROM rows WHERE 1 = 1".into(),
            ],
        }
    }

    fn run(&self, src: Src, args: &[&str]) -> Output {
        let mut all: Vec<String> = vec!["fit".into(), args[0].into()];
        all.extend(self.args(src));
        all.extend(args[1..].iter().map(|s| (*s).to_string()));
        Command::new(BIN)
            .args(&all)
            .current_dir(self.dir.path())
            .env("WORKBENCH_HOME", self.dir.path())
            .env_remove("WORKBENCH_CONFIG")
            .output()
            .expect("run workbench")
    }

    /// Runs with `--json`, expects success, returns the document.
    fn json(&self, src: Src, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(src, &a);
        assert!(
            out.status.success(),
            "{src:?} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON output");
        has_keys(
            &v,
            &[
                "model",
                "estimate",
                "source",
                "rows",
                "conf_level",
                "conf_type",
                "warnings",
                "result",
            ],
        );
        has_keys(
            &v["rows"],
            &["read", "used", "left_out_missing", "missing_by_column"],
        );
        v
    }

    fn text(&self, src: Src, args: &[&str]) -> String {
        let out = self.run(src, args);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs, expects failure, returns stderr.
    fn error(&self, src: Src, args: &[&str]) -> String {
        let out = self.run(src, args);
        assert!(!out.status.success(), "{src:?} {args:?} should fail");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// Against R, on every kind of source
// ---------------------------------------------------------------------------------------------

#[test]
fn km_matches_r_median_and_curve_at_times() {
    let f = fixture("nonparametric/km.json");
    let lung = case(&f, "lung");
    let s = sources(&[
        ("time", &lung["input"]["time"]),
        ("status", &lung["input"]["event"]),
    ]);
    let r = &lung["curves"][0];
    for src in ALL {
        let v = s.json(
            src,
            &[
                "km",
                "--time",
                "time",
                "--event",
                "status",
                "--times",
                "0,90,180,365,730,1000,1100",
            ],
        );
        assert_eq!(v["model"], "km");
        assert_eq!(v["estimate"], "survival (Kaplan–Meier)");
        let c = &v["result"]["curves"][0];
        has_keys(c, &["group", "n", "events", "median", "at_times"]);
        close(
            "median",
            num(&c["median"]["time"]),
            nums(&r["printed"]["median"])[0],
        );
        close(
            "lcl",
            num(&c["median"]["lower"]),
            nums(&r["printed"]["lcl"])[0],
        );
        close(
            "ucl",
            num(&c["median"]["upper"]),
            nums(&r["printed"]["ucl"])[0],
        );
        let at = c["at_times"].as_array().expect("at_times");
        has_keys(
            &at[0],
            &[
                "time", "n_risk", "n_event", "n_censor", "survival", "std_err", "lower", "upper",
            ],
        );
        let col = |k: &str| at.iter().map(|x| num(&x[k])).collect::<Vec<_>>();
        close_all("survival", &col("survival"), &nums(&r["at_times"]["surv"]));
        close_all("std_err", &col("std_err"), &nums(&r["at_times"]["std_err"]));
        close_all("lower", &col("lower"), &nums(&r["at_times"]["lower"]));
        close_all("upper", &col("upper"), &nums(&r["at_times"]["upper"]));
        close_all("n_risk", &col("n_risk"), &nums(&r["at_times"]["n_risk"]));
    }
}

#[test]
fn km_by_group_with_plain_band_matches_r() {
    let f = fixture("nonparametric/km.json");
    let c = case(&f, "lung-sex-plain");
    let s = sources(&[
        ("time", &c["input"]["time"]),
        ("status", &c["input"]["event"]),
        ("sex", &c["input"]["group"]),
    ]);
    for src in ALL {
        let v = s.json(
            src,
            &[
                "km",
                "--time",
                "time",
                "--event",
                "status",
                "--group",
                "sex",
                "--conf-type",
                "plain",
                "--times",
                "100,200,300,400",
            ],
        );
        assert_eq!(v["conf_type"], "plain");
        let curves = v["result"]["curves"].as_array().expect("curves");
        assert_eq!(curves.len(), 2);
        for (g, mine) in curves.iter().enumerate() {
            let r = &c["curves"][g];
            assert_eq!(mine["group"], format!("sex={}", g + 1));
            let at = mine["at_times"].as_array().expect("at_times");
            let col = |k: &str| at.iter().map(|x| num(&x[k])).collect::<Vec<_>>();
            close_all("survival", &col("survival"), &nums(&r["at_times"]["surv"]));
            close_all("lower", &col("lower"), &nums(&r["at_times"]["lower"]));
            close_all("upper", &col("upper"), &nums(&r["at_times"]["upper"]));
            close(
                "median",
                num(&mine["median"]["time"]),
                nums(&r["printed"]["median"])[0],
            );
        }
    }
    let text = s.text(
        Src::Csv,
        &[
            "km", "--time", "time", "--event", "status", "--group", "sex",
        ],
    );
    assert!(text.contains("survival (Kaplan–Meier)"), "{text}");
    assert!(text.contains("sex=1") && text.contains("sex=2"), "{text}");
    assert!(text.contains("Median survival time"), "{text}");
}

#[test]
fn na_matches_r_cumulative_hazard() {
    let f = fixture("nonparametric/km.json");
    let lung = case(&f, "lung");
    let s = sources(&[
        ("time", &lung["input"]["time"]),
        ("status", &lung["input"]["event"]),
    ]);
    let r = &lung["curves"][0]["at_times"];
    for src in ALL {
        let v = s.json(
            src,
            &[
                "na",
                "--time",
                "time",
                "--event",
                "status",
                "--times",
                "0,90,180,365,730,1000,1100",
            ],
        );
        assert_eq!(v["estimate"], "cumulative hazard (Nelson–Aalen)");
        let at = v["result"]["curves"][0]["at_times"]
            .as_array()
            .expect("at_times")
            .clone();
        has_keys(
            &at[1],
            &[
                "time",
                "n_risk",
                "n_event",
                "cumulative_hazard",
                "std_err",
                "lower",
                "upper",
            ],
        );
        let col = |k: &str| at.iter().map(|x| num(&x[k])).collect::<Vec<_>>();
        close_all("cumhaz", &col("cumulative_hazard"), &nums(&r["cumhaz"]));
        close_all("std_chaz", &col("std_err"), &nums(&r["std_chaz"]));
        // The band is on the log scale of H: H·exp(±z·se/H).
        let (h, se, lo) = (
            col("cumulative_hazard")[3],
            col("std_err")[3],
            col("lower")[3],
        );
        close("lower", lo, h * (-1.959963984540054 * se / h).exp());
    }
}

#[test]
fn logrank_matches_r_with_and_without_strata() {
    let f = fixture("nonparametric/logrank.json");
    let c = case(&f, "lung-sex");
    let s = sources(&[
        ("time", &c["input"]["time"]),
        ("status", &c["input"]["event"]),
        ("sex", &c["input"]["group"]),
    ]);
    for src in ALL {
        let v = s.json(
            src,
            &[
                "logrank", "--time", "time", "--event", "status", "--group", "sex",
            ],
        );
        let r = &v["result"];
        has_keys(
            r,
            &[
                "groups",
                "chi_square",
                "df",
                "p_value",
                "rho",
                "gamma",
                "strata",
            ],
        );
        close(
            "chisq",
            num(&r["chi_square"]),
            nums(&c["result"]["chisq"])[0],
        );
        close("p", num(&r["p_value"]), nums(&c["result"]["p_value"])[0]);
        assert_eq!(r["df"], 1);
        let groups = r["groups"].as_array().expect("groups");
        has_keys(&groups[0], &["group", "n", "observed", "expected"]);
        let col = |k: &str| groups.iter().map(|x| num(&x[k])).collect::<Vec<_>>();
        close_all(
            "observed",
            &col("observed"),
            &nums(&c["result"]["observed"]),
        );
        close_all(
            "expected",
            &col("expected"),
            &nums(&c["result"]["expected"]),
        );
    }
    let text = s.text(
        Src::Csv,
        &[
            "logrank", "--time", "time", "--event", "status", "--group", "sex",
        ],
    );
    assert!(
        text.contains("Chi-square = 10.33 on 1 df, p = 0.00131"),
        "{text}"
    );

    let c = case(&f, "veteran-celltype-strata-trt");
    let s = sources(&[
        ("time", &c["input"]["time"]),
        ("status", &c["input"]["event"]),
        ("celltype", &c["input"]["group"]),
        ("trt", &c["input"]["strata"]),
    ]);
    for src in ALL {
        let v = s.json(
            src,
            &[
                "logrank", "--time", "time", "--event", "status", "--group", "celltype",
                "--strata", "trt",
            ],
        );
        close(
            "stratified chisq",
            num(&v["result"]["chi_square"]),
            nums(&c["result"]["chisq"])[0],
        );
        assert_eq!(v["result"]["strata"].as_array().map(Vec::len), Some(2));
    }
}

fn lung_cox_sources(fx: &Value) -> Sources {
    let d = &fx["data"];
    sources(&[
        ("inst", &d["inst"]),
        ("time", &d["time"]),
        ("status", &d["status"]),
        ("age", &d["age"]),
        ("sex", &d["sex"]),
        ("ph.ecog", &d["ph.ecog"]),
        ("wt.loss", &d["wt.loss"]),
    ])
}

#[test]
fn cox_matches_r_coefficients_tests_concordance_and_ph_test() {
    let fx = fixture("cox/lung_efron.json");
    let e = &fx["expected"];
    let s = lung_cox_sources(&fx);
    for src in ALL {
        let v = s.json(
            src,
            &[
                "cox",
                "--time",
                "time",
                "--event",
                "status",
                "--covariates",
                "age,sex,ph.ecog,wt.loss",
            ],
        );
        assert_eq!(v["rows"]["left_out_missing"], 15);
        assert_eq!(v["rows"]["used"], 213);
        let missing = v["rows"]["missing_by_column"].as_array().expect("missing");
        assert!(
            missing
                .iter()
                .any(|m| m["column"] == "wt.loss" && m["rows"] == 14),
            "{missing:?}"
        );
        let r = &v["result"];
        has_keys(
            r,
            &[
                "ties",
                "n",
                "events",
                "strata",
                "clusters",
                "robust",
                "coefficients",
                "tests",
                "concordance",
                "ph_test",
                "loglik",
                "iterations",
            ],
        );
        assert_eq!(r["n"], 213);
        assert_eq!(r["events"], 151);
        let coefs = r["coefficients"].as_array().expect("coefficients");
        has_keys(
            &coefs[0],
            &[
                "term",
                "coef",
                "hazard_ratio",
                "se",
                "robust_se",
                "z",
                "p_value",
                "lower",
                "upper",
            ],
        );
        let col = |k: &str| coefs.iter().map(|x| num(&x[k])).collect::<Vec<_>>();
        close_all("coef", &col("coef"), &nums(&e["coef"]));
        close_all("se", &col("se"), &nums(&e["se"]));
        close_all("p", &col("p_value"), &nums(&e["p"]));
        close_all("hr", &col("hazard_ratio"), &nums(&e["hr"]));
        close_all("lower", &col("lower"), &nums(&e["lower"]));
        close_all("upper", &col("upper"), &nums(&e["upper"]));
        for (key, r_key) in [
            ("likelihood_ratio", "lr"),
            ("wald", "wald"),
            ("score", "score"),
        ] {
            close(key, num(&r["tests"][key]["statistic"]), nums(&e[r_key])[0]);
            close(key, num(&r["tests"][key]["p_value"]), nums(&e[r_key])[2]);
        }
        close(
            "concordance",
            num(&r["concordance"]["estimate"]),
            num(&e["concordance"]["concordance"]),
        );
        close(
            "concordance se",
            num(&r["concordance"]["std_err"]),
            num(&e["concordance"]["std"]),
        );
        let zph = &e["zph"][0];
        let terms = r["ph_test"]["terms"].as_array().expect("zph terms");
        let chisq: Vec<f64> = terms
            .iter()
            .map(|t| num(&t["chisq"]))
            .chain([num(&r["ph_test"]["global"]["chisq"])])
            .collect();
        close_all("zph chisq", &chisq, &nums(&zph["chisq"]));
        assert_eq!(r["ph_test"]["global"]["term"], "GLOBAL");
    }
    let text = s.text(
        Src::Csv,
        &[
            "cox",
            "--time",
            "time",
            "--event",
            "status",
            "--covariates",
            "age,sex,ph.ecog,wt.loss",
        ],
    );
    for needle in [
        "hazard ratios (Cox proportional hazards, efron ties)",
        "15 left out for missing values (ph.ecog 1, wt.loss 14)",
        "Concordance 0.6467",
        "Likelihood ratio test",
        "Score (log-rank) test",
        "Proportional-hazards test (cox.zph, km transform)",
        "GLOBAL",
    ] {
        assert!(text.contains(needle), "`{needle}` not in\n{text}");
    }
}

#[test]
fn cox_with_strata_and_categorical_covariate_matches_r() {
    let fx = fixture("cox/lung_strata.json");
    let m = &fx["model"];
    let e = &fx["expected"];
    let s = lung_cox_sources(&fixture("cox/lung_efron.json"));
    let spec = m["spec"].as_str().expect("spec");
    let strata = m["strata"].as_str().expect("strata");
    for src in [Src::Csv, Src::Parquet, Src::Sql] {
        let v = s.json(
            src,
            &[
                "cox",
                "--time",
                "time",
                "--event",
                "status",
                "--covariates",
                spec,
                "--strata",
                strata,
            ],
        );
        let coefs = v["result"]["coefficients"]
            .as_array()
            .expect("coefficients");
        close_all(
            "coef",
            &coefs.iter().map(|x| num(&x["coef"])).collect::<Vec<_>>(),
            &nums(&e["coef"]),
        );
        close_all(
            "se",
            &coefs.iter().map(|x| num(&x["se"])).collect::<Vec<_>>(),
            &nums(&e["se"]),
        );
    }
}

#[test]
fn aj_matches_r_by_cause_code_and_by_cause_name() {
    let f = fixture("nonparametric/aalen_johansen.json");
    let c = case(&f, "mgus2");
    let causes: Vec<Value> = c["input"]["cause"]
        .as_array()
        .expect("cause")
        .iter()
        .map(|k| match k.as_u64() {
            Some(1) => Value::from("progression"),
            Some(2) => Value::from("death"),
            _ => Value::from(0),
        })
        .collect();
    let names = Value::from(causes);
    let s = sources(&[
        ("etime", &c["input"]["time"]),
        ("cause", &c["input"]["cause"]),
        ("reason", &names),
    ]);
    let at = &c["curves"][0]["at_times"];
    let m = nums(&at["time"]).len();
    let r_p = nums(&at["pstate"]);
    let r_se = nums(&at["std_err"]);
    let times = "0,12,60,120,240,400";
    for src in ALL {
        let v = s.json(
            src,
            &[
                "aj", "--time", "etime", "--event", "cause", "--times", times,
            ],
        );
        let r = &v["result"];
        has_keys(r, &["causes", "cause_of_interest", "curves"]);
        let rows = r["curves"][0]["at_times"].as_array().expect("at_times");
        has_keys(&rows[0], &["time", "n_risk", "event_free", "causes"]);
        has_keys(
            &rows[0]["causes"][0],
            &["cause", "n_event", "incidence", "std_err", "lower", "upper"],
        );
        close_all(
            "event free",
            &rows
                .iter()
                .map(|x| num(&x["event_free"]))
                .collect::<Vec<_>>(),
            &r_p[..m],
        );
        for k in 0..2 {
            let inc: Vec<f64> = rows
                .iter()
                .map(|x| num(&x["causes"][k]["incidence"]))
                .collect();
            let se: Vec<f64> = rows
                .iter()
                .map(|x| num(&x["causes"][k]["std_err"]))
                .collect();
            close_all("incidence", &inc, &r_p[(k + 1) * m..(k + 2) * m]);
            close_all("std_err", &se, &r_se[(k + 1) * m..(k + 2) * m]);
        }

        // By name: causes sorted by name (death, progression); progression is R's cause 1.
        let v = s.json(
            src,
            &[
                "aj",
                "--time",
                "etime",
                "--event",
                "reason",
                "--cause",
                "progression",
                "--times",
                times,
            ],
        );
        assert_eq!(
            v["estimate"],
            "cumulative incidence of progression (Aalen–Johansen)"
        );
        let labels: Vec<&str> = v["result"]["causes"]
            .as_array()
            .expect("causes")
            .iter()
            .filter_map(|c| c["label"].as_str())
            .collect();
        assert_eq!(labels, ["death", "progression"]);
        let rows = v["result"]["curves"][0]["at_times"]
            .as_array()
            .expect("at_times");
        let inc: Vec<f64> = rows
            .iter()
            .map(|x| num(&x["causes"][1]["incidence"]))
            .collect();
        close_all("progression", &inc, &r_p[m..2 * m]);
    }
    let text = s.text(
        Src::Csv,
        &[
            "aj",
            "--time",
            "etime",
            "--event",
            "reason",
            "--cause",
            "progression",
        ],
    );
    assert!(
        text.starts_with("cumulative incidence of progression (Aalen–Johansen)"),
        "{text}"
    );
    assert!(
        text.contains("Cumulative incidence of death (Aalen–Johansen)"),
        "{text}"
    );
    assert!(!text.contains("survival"), "{text}");
}

#[test]
fn finegray_matches_r_subdistribution_and_cause_specific() {
    let fx = fixture("cox/mgus2_finegray.json");
    let d = &fx["data"];
    let e = &fx["expected"];
    let s = sources(&[
        ("age", &d["age"]),
        ("sex", &d["sex"]),
        ("etime", &d["etime"]),
        ("cause", &d["cause"]),
    ]);
    for src in ALL {
        let v = s.json(
            src,
            &[
                "finegray",
                "--time",
                "etime",
                "--event",
                "cause",
                "--cause",
                "1",
                "--covariates",
                "age,sex:cat",
            ],
        );
        let r = &v["result"];
        has_keys(
            r,
            &[
                "cause",
                "n_subjects",
                "events_of_interest",
                "expanded_rows",
                "fine_gray",
                "cause_specific",
            ],
        );
        assert_eq!(r["expanded_rows"], e["finegray"]["n"]);
        let fg = r["fine_gray"]["coefficients"].as_array().expect("fg");
        assert_eq!(fg[1]["term"], "sex=M");
        close_all(
            "fg coef",
            &fg.iter().map(|x| num(&x["coef"])).collect::<Vec<_>>(),
            &nums(&e["finegray"]["coef"]),
        );
        close_all(
            "fg robust se",
            &fg.iter().map(|x| num(&x["robust_se"])).collect::<Vec<_>>(),
            &nums(&e["finegray"]["robust_se"]),
        );
        close_all(
            "fg p",
            &fg.iter().map(|x| num(&x["p_value"])).collect::<Vec<_>>(),
            &nums(&e["finegray"]["p"]),
        );
        let cs = r["cause_specific"]["coefficients"].as_array().expect("cs");
        close_all(
            "cs coef",
            &cs.iter().map(|x| num(&x["coef"])).collect::<Vec<_>>(),
            &nums(&e["cause_specific"]["coef"]),
        );
    }
    let err = s.error(
        Src::Csv,
        &[
            "finegray",
            "--time",
            "etime",
            "--event",
            "cause",
            "--covariates",
            "age",
        ],
    );
    assert!(err.contains("--cause"), "{err}");
}

#[test]
fn rmst_matches_r_per_group_and_difference() {
    let f = fixture("nonparametric/km.json");
    let lung = case(&f, "lung");
    let c = case(&f, "lung-sex-plain");
    let s = sources(&[
        ("time", &c["input"]["time"]),
        ("status", &c["input"]["event"]),
        ("sex", &c["input"]["group"]),
    ]);
    let rd = &c["rmst_difference"];
    for src in ALL {
        let v = s.json(
            src,
            &[
                "rmst", "--time", "time", "--event", "status", "--tau", "730",
            ],
        );
        let g = &v["result"]["groups"][0];
        has_keys(g, &["group", "n", "estimate", "std_err", "lower", "upper"]);
        close(
            "rmean",
            num(&g["estimate"]),
            nums(&lung["curves"][0]["rmean"]["rmean"])[0],
        );
        close(
            "se",
            num(&g["std_err"]),
            nums(&lung["curves"][0]["rmean"]["se"])[0],
        );

        let v = s.json(
            src,
            &[
                "rmst", "--time", "time", "--event", "status", "--group", "sex", "--tau", "1000",
            ],
        );
        let r = &v["result"];
        has_keys(r, &["tau", "tau_source", "groups", "differences"]);
        let d = &r["differences"][0];
        has_keys(
            d,
            &[
                "first",
                "second",
                "difference",
                "std_err",
                "lower",
                "upper",
                "z",
                "p_value",
            ],
        );
        assert_eq!(d["first"], "sex=2");
        // R's difference is group 1 − group 2; ours is sex=2 − sex=1.
        close(
            "difference",
            -num(&d["difference"]),
            nums(&rd["difference"])[0],
        );
        close("std_err", num(&d["std_err"]), nums(&rd["std_err"])[0]);
        close("lower", -num(&d["upper"]), nums(&rd["lower"])[0]);
        close("p", num(&d["p_value"]), nums(&rd["p_value"])[0]);
    }
    let v = s.json(
        Src::Csv,
        &[
            "rmst", "--time", "time", "--event", "status", "--group", "sex",
        ],
    );
    assert_eq!(v["result"]["tau_source"], "shortest follow-up");
    assert_eq!(v["warnings"].as_array().map(Vec::len), Some(1));
}

#[test]
fn mcf_matches_r_with_subjects_and_spells() {
    let f = fixture("nonparametric/mcf.json");
    let c = case(&f, "cgd");
    let s = sources(&[
        ("id", &c["input"]["subject"]),
        ("tstart", &c["input"]["entry"]),
        ("tstop", &c["input"]["time"]),
        ("status", &c["input"]["event"]),
    ]);
    let r = &c["curves"][0]["at_times"];
    for src in ALL {
        let v = s.json(
            src,
            &[
                "mcf",
                "--start",
                "tstart",
                "--time",
                "tstop",
                "--event",
                "status",
                "--id",
                "id",
                "--times",
                "0,50,100,200,300,400",
            ],
        );
        let curve = &v["result"]["curves"][0];
        has_keys(
            curve,
            &["group", "n_rows", "n_subjects", "events", "at_times"],
        );
        assert_eq!(curve["n_subjects"], 128);
        let at = curve["at_times"].as_array().expect("at_times");
        has_keys(&at[0], &["time", "mean", "std_err", "lower", "upper"]);
        let col = |k: &str| at.iter().map(|x| num(&x[k])).collect::<Vec<_>>();
        close_all("mean", &col("mean"), &nums(&r["mean"]));
        close_all("std_err", &col("std_err"), &nums(&r["std_err"]));
        close_all("upper", &col("upper")[1..], &nums(&r["upper"])[1..]);
    }
    let err = s.error(
        Src::Csv,
        &[
            "mcf", "--start", "tstart", "--time", "tstop", "--event", "status",
        ],
    );
    assert!(err.contains("--id"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Groups, missing values, usage
// ---------------------------------------------------------------------------------------------

const SMALL: &str = "\
id,start,stop,status,cause,grp,code,w,age
1,0,5,1,1,b,10,1,50
2,0,8,0,0,a,9,1,61
3,0,3,1,2,b,2,2,NA
4,1,9,1,1,a,10,1,47
5,0,12,0,0,b,9,1,58
6,0,7,1,2,a,2,1,66
7,2,4,1,1,b,10,1,70
8,0,10,1,1,a,2,1,52
";

#[test]
fn group_levels_sort_as_numbers_or_text_and_print_their_labels() {
    let s = sources_from_csv(SMALL);
    for src in ALL {
        let v = s.json(
            src,
            &[
                "km", "--time", "stop", "--event", "status", "--group", "code",
            ],
        );
        let labels: Vec<&str> = v["result"]["curves"]
            .as_array()
            .expect("curves")
            .iter()
            .filter_map(|c| c["group"].as_str())
            .collect();
        assert_eq!(labels, ["code=2", "code=9", "code=10"], "{src:?}");
        let v = s.json(
            src,
            &[
                "km", "--time", "stop", "--event", "status", "--group", "grp", "--strata", "code",
            ],
        );
        let labels: Vec<&str> = v["result"]["curves"]
            .as_array()
            .expect("curves")
            .iter()
            .filter_map(|c| c["group"].as_str())
            .collect();
        assert_eq!(labels[0], "grp=a, code=2");
    }
    let text = s.text(
        Src::Csv,
        &[
            "km", "--time", "stop", "--event", "status", "--group", "grp",
        ],
    );
    assert!(text.contains("grp=a") && text.contains("grp=b"), "{text}");
}

#[test]
fn rows_with_missing_values_are_counted() {
    let s = sources_from_csv(SMALL);
    for src in ALL {
        let v = s.json(
            src,
            &[
                "cox",
                "--time",
                "stop",
                "--start",
                "start",
                "--event",
                "status",
                "--covariates",
                "age",
                "--weights",
                "w",
            ],
        );
        assert_eq!(v["rows"]["read"], 8);
        assert_eq!(v["rows"]["used"], 7);
        assert_eq!(v["rows"]["left_out_missing"], 1);
        assert_eq!(v["rows"]["missing_by_column"][0]["column"], "age");
    }
    let text = s.text(
        Src::Csv,
        &[
            "cox",
            "--time",
            "stop",
            "--event",
            "status",
            "--covariates",
            "age",
        ],
    );
    assert!(
        text.contains("8 rows read, 7 used, 1 left out for missing values (age 1)"),
        "{text}"
    );
}

#[test]
fn usage_errors_are_refused_with_a_reason() {
    let s = sources_from_csv(SMALL);
    let err = s.error(
        Src::Csv,
        &[
            "km",
            "--time",
            "stop",
            "--event",
            "status",
            "--covariates",
            "age",
        ],
    );
    assert!(err.contains("does not take --covariates"), "{err}");
    let err = s.error(Src::Csv, &["cox", "--time", "stop", "--event", "status"]);
    assert!(err.contains("needs --covariates"), "{err}");
    let err = s.error(
        Src::Csv,
        &["logrank", "--time", "stop", "--event", "status"],
    );
    assert!(err.contains("needs --group"), "{err}");
    // A store without --sql or --table.
    let out = Command::new(BIN)
        .args(["fit", "km", "--data"])
        .arg(&s.store)
        .args(["--time", "stop", "--event", "status"])
        .env("WORKBENCH_HOME", s.dir.path())
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sql"));
    let err = s.error(
        Src::Csv,
        &[
            "aj", "--time", "stop", "--event", "cause", "--cause", "relapse",
        ],
    );
    assert!(
        err.contains("relapse") && err.contains("causes: 1, 2"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Data errors: each names the column and the row
// ---------------------------------------------------------------------------------------------

fn with_cell(row: usize, column: &str, value: &str) -> Sources {
    let mut lines: Vec<String> = SMALL.lines().map(str::to_string).collect();
    let header: Vec<&str> = lines[0].split(',').collect();
    let j = header.iter().position(|h| *h == column).expect("column");
    let mut cells: Vec<String> = lines[row].split(',').map(str::to_string).collect();
    cells[j] = value.to_string();
    lines[row] = cells.join(",");
    sources_from_csv(&(lines.join("\n") + "\n"))
}

#[track_caller]
fn names_row_and_column(err: &str, row: usize, column: &str) {
    assert!(
        err.contains(&format!("row {row}")),
        "no `row {row}` in: {err}"
    );
    assert!(
        err.contains(&format!("`{column}`")),
        "no column `{column}` in: {err}"
    );
}

#[test]
fn unknown_column_is_named() {
    let s = sources_from_csv(SMALL);
    for src in ALL {
        let err = s.error(src, &["km", "--time", "tiem", "--event", "status"]);
        assert!(
            err.contains("no column `tiem`") && err.contains("stop"),
            "{err}"
        );
        let err = s.error(
            src,
            &[
                "cox",
                "--time",
                "stop",
                "--event",
                "status",
                "--covariates",
                "age,weight",
            ],
        );
        assert!(err.contains("no column `weight`"), "{err}");
    }
}

#[test]
fn text_in_a_numeric_column_names_the_row() {
    let s = with_cell(3, "age", "sixty");
    let err = s.error(
        Src::Csv,
        &[
            "cox",
            "--time",
            "stop",
            "--event",
            "status",
            "--covariates",
            "age",
        ],
    );
    names_row_and_column(&err, 3, "age");
    assert!(
        err.contains("expected a number") && err.contains("line 4 of the file"),
        "{err}"
    );
    let s = with_cell(6, "stop", "x");
    for src in ALL {
        let err = s.error(src, &["km", "--time", "stop", "--event", "status"]);
        names_row_and_column(&err, 6, "stop");
    }
}

#[test]
fn negative_time_names_the_row() {
    let s = with_cell(2, "stop", "-4");
    for src in ALL {
        let err = s.error(src, &["km", "--time", "stop", "--event", "status"]);
        names_row_and_column(&err, 2, "stop");
        assert!(err.contains(">= 0"), "{err}");
    }
}

#[test]
fn stop_not_after_start_names_the_row() {
    let s = with_cell(4, "start", "9");
    for src in ALL {
        for model in ["km", "cox"] {
            let mut args = vec![
                model, "--time", "stop", "--start", "start", "--event", "status",
            ];
            if model == "cox" {
                args.extend(["--covariates", "w"]);
            }
            let err = s.error(src, &args);
            names_row_and_column(&err, 4, "stop");
            assert!(err.contains("not after the start time"), "{err}");
        }
    }
}

#[test]
fn event_codes_outside_the_model_name_the_row() {
    let s = sources_from_csv(SMALL);
    for src in ALL {
        // km takes 0/1; the cause column has a 2 on row 3.
        let err = s.error(src, &["km", "--time", "stop", "--event", "cause"]);
        names_row_and_column(&err, 3, "cause");
        assert!(err.contains("event code"), "{err}");
    }
    let s = with_cell(5, "cause", "1.5");
    for src in ALL {
        let err = s.error(src, &["aj", "--time", "stop", "--event", "cause"]);
        names_row_and_column(&err, 5, "cause");
    }
    let s = with_cell(7, "w", "0");
    let err = s.error(
        Src::Csv,
        &[
            "km",
            "--time",
            "stop",
            "--event",
            "status",
            "--weights",
            "w",
        ],
    );
    names_row_and_column(&err, 7, "w");
}

#[test]
fn a_fit_on_a_store_with_small_counts_is_refused() {
    let src = sources_from_csv("time,status,group\n1,1,a\n2,0,a\n3,1,b\n4,1,b\n5,0,b\n6,1,a\n");
    std::fs::remove_file(src.dir.path().join("workbench.toml")).expect("default policy");
    let out = src.run(Src::Table, &["km", "--time", "time", "--event", "status"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("disclosure gate refuses it") && err.contains("fewer than 5"),
        "{err}"
    );
    // the same rows from a CSV file are the user's own: not gated
    let out = src.run(Src::Csv, &["km", "--time", "time", "--event", "status"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
