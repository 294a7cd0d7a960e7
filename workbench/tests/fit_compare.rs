//! `workbench fit --treatment` end to end through the binary: the adjusted comparison on the
//! Rotterdam data checked against R (glm propensity, weighted coxph with the robust variance,
//! weighted Aalen–Johansen risk and restricted mean at tau, standardised mean differences: the
//! `models` fixtures of `models/tests/r/comparison.R`), matching, the text report, and the
//! usage and data errors.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_workbench");

fn fixture() -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/tests/fixtures/comparison/rotterdam_weighted.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[track_caller]
fn close(what: &str, mine: f64, r: f64, tol: f64) {
    assert!(
        (mine - r).abs() <= tol * r.abs().max(1.0),
        "{what}: workbench {mine} vs R {r}"
    );
}

const ROTTERDAM_COLUMNS: [&str; 15] = [
    "pid", "age", "meno", "size", "grade", "nodes", "pgr", "er", "hormon", "rtime", "recur",
    "dtime", "death", "ftime", "fcause",
];

/// The fixture's Rotterdam rows as a CSV file.
fn rotterdam_csv(dir: &TempDir) -> PathBuf {
    let f = fixture();
    let data = &f["data"];
    let n = data["pid"].as_array().expect("pid").len();
    let mut text = ROTTERDAM_COLUMNS.join(",");
    text.push('\n');
    for i in 0..n {
        let row: Vec<String> = ROTTERDAM_COLUMNS
            .iter()
            .map(|c| match &data[*c][i] {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            })
            .collect();
        text.push_str(&row.join(","));
        text.push('\n');
    }
    let path = dir.path().join("rotterdam.csv");
    std::fs::write(&path, text).expect("write csv");
    path
}

fn run(dir: &TempDir, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir.path())
        .env("WORKBENCH_HOME", dir.path())
        .env_remove("WORKBENCH_CONFIG")
        .output()
        .expect("run workbench")
}

fn json(dir: &TempDir, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = run(dir, &a);
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON document")
}

fn failure(dir: &TempDir, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(!out.status.success(), "{args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const PS: &str = "age,meno,size:cat=20-50,grade,nodes,pgr,er";

#[test]
fn weighted_cox_risk_and_balance_agree_with_r() {
    let dir = TempDir::new().expect("tempdir");
    let csv = rotterdam_csv(&dir);
    let data = csv.to_str().expect("path");
    let f = fixture();
    for (key, estimand, extra) in [
        ("ate", "ate", vec!["--unstabilised"]),
        ("ate_stabilised", "ate", vec![]),
        ("att", "att", vec!["--unstabilised"]),
        ("ato", "ato", vec![]),
    ] {
        let want = &f[key];
        let mut args = vec![
            "fit",
            "cox",
            "--data",
            data,
            "--time",
            "dtime",
            "--event",
            "death",
            "--treatment",
            "hormon",
            "--ps-covariates",
            PS,
            "--estimand",
            estimand,
        ];
        args.extend(extra.iter().copied());
        let doc = json(&dir, &args);
        let c = &doc["comparison"];
        assert_eq!(c["estimand"], estimand, "{key}");
        assert_eq!(c["treated"], "hormon=1");
        close(
            &format!("{key} C"),
            num(&c["propensity"]["c_statistic"]),
            num(&f["c_statistic"]),
            1e-9,
        );
        assert_eq!(c["propensity"]["converged"], true);
        let coef = &doc["result"]["coefficients"][0];
        assert_eq!(coef["term"], "hormon=1");
        assert_eq!(doc["result"]["robust"], true);
        close(
            &format!("{key} coef"),
            num(&coef["coef"]),
            num(&want["cox"]["coef"]),
            1e-6,
        );
        close(
            &format!("{key} robust se"),
            num(&coef["robust_se"]),
            num(&want["cox"]["robust_se"]),
            1e-6,
        );
        let b = c["balance"].as_array().expect("balance");
        assert_eq!(b.len(), 8);
        for (j, row) in b.iter().enumerate() {
            close(
                &format!("{key} smd before {j}"),
                num(&row["smd_before"]),
                num(&want["balance"]["smd_before"][j]),
                1e-9,
            );
            close(
                &format!("{key} smd after {j}"),
                num(&row["smd_after"]),
                num(&want["balance"]["smd_after"][j]),
                1e-9,
            );
        }
        let d: Vec<&str> = c["diagnostics"]
            .as_array()
            .expect("diagnostics")
            .iter()
            .map(|d| d["check"].as_str().unwrap_or(""))
            .collect();
        assert_eq!(
            d,
            [
                "balance",
                "equipoise",
                "effective-sample-size",
                "events-per-variable",
                "events-per-variable",
                "proportional-hazards"
            ]
        );
        let ess = &c["weights"]["treated"];
        assert!(num(&ess["ess"]) > 0.0 && num(&ess["ess"]) <= num(&ess["n"]["shown"]) + 1e-9);
    }
}

#[test]
fn weighted_cumulative_incidence_at_tau_agrees_with_r() {
    let dir = TempDir::new().expect("tempdir");
    let csv = rotterdam_csv(&dir);
    let data = csv.to_str().expect("path");
    let f = fixture();
    let tau = num(&f["tau"]).to_string();
    let doc = json(
        &dir,
        &[
            "fit",
            "aj",
            "--data",
            data,
            "--time",
            "ftime",
            "--event",
            "fcause",
            "--cause",
            "1",
            "--treatment",
            "hormon",
            "--ps-covariates",
            PS,
            "--unstabilised",
            "--tau",
            &tau,
            "--bootstrap",
            "20",
            "--seed",
            "7",
            "--times",
            "1000,3652.5",
        ],
    );
    let a = &doc["comparison"]["adjusted"];
    let want = &f["ate"];
    close(
        "risk treated",
        num(&a["risk_treated"]),
        num(&want["risk_at_tau"][1]),
        1e-9,
    );
    close(
        "risk control",
        num(&a["risk_control"]),
        num(&want["risk_at_tau"][0]),
        1e-9,
    );
    close(
        "rmst treated",
        num(&a["restricted_mean_treated"]),
        num(&want["restricted_mean"][1]),
        1e-9,
    );
    close(
        "rmst control",
        num(&a["restricted_mean_control"]),
        num(&want["restricted_mean"][0]),
        1e-9,
    );
    assert_eq!(a["replicates"], 20);
    assert_eq!(a["reestimated"], true);
    let rd = &a["risk_difference"];
    assert!(num(&rd["lower"]) <= num(&rd["estimate"]) && num(&rd["estimate"]) <= num(&rd["upper"]));
    // The curves are weighted: one per treatment group.
    let curves = doc["result"]["curves"].as_array().expect("curves");
    assert_eq!(curves.len(), 2);
    assert_eq!(curves[0]["group"], "hormon=0");
    // The same seed gives the same interval.
    let again = json(
        &dir,
        &[
            "fit",
            "aj",
            "--data",
            data,
            "--time",
            "ftime",
            "--event",
            "fcause",
            "--cause",
            "1",
            "--treatment",
            "hormon",
            "--ps-covariates",
            PS,
            "--unstabilised",
            "--tau",
            &tau,
            "--bootstrap",
            "20",
            "--seed",
            "7",
            "--times",
            "1000,3652.5",
        ],
    );
    assert_eq!(
        again["comparison"]["adjusted"],
        doc["comparison"]["adjusted"]
    );
}

#[test]
fn matching_and_the_text_report() {
    let dir = TempDir::new().expect("tempdir");
    let csv = rotterdam_csv(&dir);
    let data = csv.to_str().expect("path");
    let doc = json(
        &dir,
        &[
            "fit",
            "km",
            "--data",
            data,
            "--time",
            "dtime",
            "--event",
            "death",
            "--treatment",
            "hormon",
            "--ps-covariates",
            PS,
            "--match",
            "--ratio",
            "2",
            "--caliper",
            "0.2",
        ],
    );
    let c = &doc["comparison"];
    assert_eq!(c["method"], "matching");
    assert_eq!(c["estimand"], "att");
    let m = &c["matching"];
    assert_eq!(m["ratio"], 2);
    let matched = num(&m["matched_treated"]["shown"]);
    let unmatched = num(&m["unmatched_treated"]["shown"]);
    assert_eq!(
        matched + unmatched,
        num(&c["propensity"]["n_treated"]["shown"])
    );
    assert!(num(&c["max_abs_smd_after"]) < num(&c["max_abs_smd_before"]));
    // The curves are fitted on the matched rows only.
    let n: f64 = doc["result"]["curves"]
        .as_array()
        .expect("curves")
        .iter()
        .map(|c| num(&c["n"]))
        .sum();
    assert!(n < 2982.0 && n >= matched);
    assert_eq!(doc["rows"]["used"], 2982);

    let out = run(
        &dir,
        &[
            "fit",
            "cox",
            "--data",
            data,
            "--time",
            "dtime",
            "--event",
            "death",
            "--treatment",
            "hormon",
            "--ps-covariates",
            PS,
            "--estimand",
            "ato",
            "--covariates",
            "age",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "adjusted: overlap weights",
        "Propensity score model",
        "C-statistic 0.798",
        "ESS",
        "SMD before",
        "Diagnostics (overall:",
        "[pass] balance",
        "hormon=1",
        "robust se",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
}

#[test]
fn usage_and_data_errors_name_the_problem() {
    let dir = TempDir::new().expect("tempdir");
    let csv = rotterdam_csv(&dir);
    let data = csv.to_str().expect("path");
    let base = [
        "fit", "km", "--data", data, "--time", "dtime", "--event", "death",
    ];
    let with = |extra: &[&str]| {
        let mut a: Vec<&str> = base.to_vec();
        a.extend_from_slice(extra);
        failure(&dir, &a)
    };
    let e = with(&["--treatment", "hormon"]);
    assert!(e.contains("--ps-covariates"), "{e}");
    let e = with(&["--estimand", "att"]);
    assert!(e.contains("--treatment"), "{e}");
    let e = with(&["--treatment", "size", "--ps-covariates", "age"]);
    assert!(e.contains("column `size` has 3 levels"), "{e}");
    let e = with(&[
        "--treatment",
        "hormon",
        "--ps-covariates",
        "age",
        "--match",
        "--estimand",
        "ate",
    ]);
    assert!(e.contains("effect in the treated"), "{e}");
    let e = with(&[
        "--treatment",
        "hormon",
        "--ps-covariates",
        "age",
        "--trim",
        "99,1",
    ]);
    assert!(e.contains("--trim"), "{e}");
    let e = with(&["--treatment", "hormon", "--ps-covariates", "agee"]);
    assert!(e.contains("agee"), "{e}");
    let e = with(&[
        "--treatment",
        "hormon",
        "--ps-covariates",
        "age",
        "--treated",
        "yes",
    ]);
    assert!(e.contains("--treated `yes`"), "{e}");
    let e = failure(
        &dir,
        &[
            "fit",
            "logrank",
            "--data",
            data,
            "--time",
            "dtime",
            "--event",
            "death",
            "--treatment",
            "hormon",
            "--ps-covariates",
            "age",
        ],
    );
    assert!(e.contains("does not take --treatment"), "{e}");
    // Text in a numeric propensity covariate names the column and the row.
    let bad = dir.path().join("bad.csv");
    let text = std::fs::read_to_string(&csv).expect("csv");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut cells: Vec<String> = lines[5].split(',').map(str::to_string).collect();
    cells[1] = "old".into();
    lines[5] = cells.join(",");
    std::fs::write(&bad, lines.join("\n") + "\n").expect("write");
    let e = failure(
        &dir,
        &[
            "fit",
            "km",
            "--data",
            bad.to_str().expect("path"),
            "--time",
            "dtime",
            "--event",
            "death",
            "--treatment",
            "hormon",
            "--ps-covariates",
            "age",
        ],
    );
    assert!(e.contains("row 5") && e.contains("age"), "{e}");
}
