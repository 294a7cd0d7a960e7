//! `workbench validate` end to end through the binary on a few small replicates: the adjusted
//! methods land closer to the generator's true marginal effect than the crude comparison, the
//! intervals cover it at a sane rate, the null scenario's truth is exactly 0, and the output
//! does not depend on the number of threads.

use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_workbench");

/// Confounding stronger than the default scenario's, so that 8 small replicates show it: the
/// intervention goes to younger children with neglect and more risk contexts, who are also
/// re-reported sooner.
const STRONG: &str = "[treatment]\nalpha0 = -0.5\nalpha_age = -0.15\nalpha_neglect = 1.2\nalpha_risk = 0.6\n\
[phase2.hr]\nform_NEGL = 2.0\nage_years = 0.93\n";

fn validate(threads: &str, extra: &[&str]) -> Value {
    let dir = tempfile::TempDir::new().expect("tempdir");
    let config = dir.path().join("strong.toml");
    std::fs::write(&config, STRONG).expect("write config");
    let mut args = vec![
        "validate",
        "--replicates",
        "8",
        "--children",
        "1500",
        "--truth-children",
        "10000",
        "--seed",
        "11",
        "--json",
    ];
    args.extend_from_slice(extra);
    let config_arg = config.to_str().expect("path").to_string();
    if extra.contains(&"default") {
        args.extend(["--config", config_arg.as_str()]);
    }
    let out = Command::new(BIN)
        .args(&args)
        .env("RAYON_NUM_THREADS", threads)
        .env("WORKBENCH_HOME", dir.path())
        .env_remove("WORKBENCH_CONFIG")
        .output()
        .expect("run workbench");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn method<'a>(doc: &'a Value, name: &str) -> &'a Value {
    doc["methods"]
        .as_array()
        .expect("methods")
        .iter()
        .find(|m| m["method"] == name)
        .unwrap_or_else(|| panic!("no method {name}"))
}

#[test]
fn adjusted_methods_beat_the_crude_comparison_at_any_thread_count() {
    let doc = validate("2", &["--scenario", "default"]);
    let names = [
        "crude",
        "iptw-ate",
        "iptw-att",
        "overlap (ato)",
        "matching (att)",
    ];
    for n in names {
        let m = method(&doc, n);
        assert_eq!(m["replicates"], 8, "{n}: every replicate gives an estimate");
        let (emp, model) = (num(&m["empirical_se"]), num(&m["model_se"]));
        assert!(
            model > 0.4 * emp && model < 2.5 * emp,
            "{n}: model SE {model} vs empirical {emp}"
        );
    }
    assert!(num(&doc["truth"]["ate"]) < 0.0, "FAMILY_SUPPORT protects");
    let crude = method(&doc, "crude");
    let crude_bias = num(&crude["bias"]);
    for n in &names[1..] {
        let m = method(&doc, n);
        let bias = num(&m["bias"]);
        assert!(
            bias.abs() < crude_bias.abs(),
            "{n}: bias {bias} vs crude {crude_bias}"
        );
        assert!(
            num(&m["coverage"]) >= 0.5,
            "{n}: coverage {}",
            m["coverage"]
        );
    }
    // The crude comparison is confounded towards harm.
    assert!(crude_bias > 0.0, "crude bias {crude_bias}");
    // Same numbers on one thread.
    let one = validate("1", &["--scenario", "default"]);
    assert_eq!(one["estimates"], doc["estimates"]);
    assert_eq!(one["truth"], doc["truth"]);
}

#[test]
fn under_the_null_the_truth_is_zero() {
    let doc = validate("2", &["--scenario", "null"]);
    for m in doc["methods"].as_array().expect("methods") {
        assert_eq!(num(&m["truth"]), 0.0, "{}", m["method"]);
        assert!(num(&m["rejection"]) <= 0.5, "{}", m["method"]);
    }
}
