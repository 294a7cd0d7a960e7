//! Cox regression against R's `survival` (fixtures written by `models/tests/r/cox.R`), plus
//! property, simulation and error tests.
//!
//! Tolerance: every number is compared at 1e-6 relative. Entries that are zero up to cancellation
//! (a residual of a row at the centre of the data, a score component at convergence) get an
//! absolute allowance of 1e-9 times the magnitude of their vector: a relative comparison of a
//! 1e-14 value against R's 3e-15 would only compare rounding noise.

use std::cell::Cell;
use std::path::PathBuf;

use models::ModelError;
use models::cox::{CovariateProfile, CoxData, CoxModel, CoxOptions, Ties, ZphTransform};
use models::design::{CovariateColumn, DesignMatrix, ProfileValue, parse_spec};
use models::finegray::{CompetingRisksData, cause_specific, fine_gray, finegray_expand};
use ndarray::Array2;
use serde_json::Value;

const REL: f64 = 1e-6;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/cox")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect(),
        Value::Number(x) => vec![x.as_f64().unwrap_or(f64::NAN)],
        _ => vec![],
    }
}

fn matrix(v: &Value) -> Vec<Vec<f64>> {
    match v {
        Value::Array(rows) => rows.iter().map(nums).collect(),
        _ => vec![],
    }
}

fn strs(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().unwrap_or("").to_string())
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => vec![],
    }
}

/// Largest relative deviation seen by the current test thread.
thread_local! { static WORST: Cell<(f64, &'static str)> = const { Cell::new((0.0, "")) }; }

fn close_vec(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: length {} vs R {}",
        got.len(),
        want.len()
    );
    let scale = want
        .iter()
        .filter(|v| v.is_finite())
        .fold(1.0_f64, |m, v| m.max(v.abs()));
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(g.is_nan(), "{what}[{k}]: {g} vs R NA");
            continue;
        }
        let dev = (g - w).abs();
        assert!(
            dev <= REL * w.abs() + 1e-9 * scale,
            "{what}[{k}]: {g:.17e} vs R {w:.17e} (rel {:.2e})",
            dev / w.abs()
        );
        if w.abs() > 1e-9 * scale {
            let rel = dev / w.abs();
            WORST.with(|c| {
                if rel > c.get().0 {
                    c.set((rel, ""));
                }
            });
        }
    }
}

fn close(what: &str, got: f64, want: f64) {
    close_vec(what, &[got], &[want]);
}

fn worst() -> f64 {
    WORST.with(|c| c.get().0)
}

/// A fixture's data as the workbench would hand it over: named columns, a design, codes.
struct Case {
    fx: Value,
    design: DesignMatrix,
    start: Option<Vec<f64>>,
    stop: Vec<f64>,
    event: Vec<bool>,
    strata: Option<Vec<u32>>,
    strata_levels: Vec<Value>,
    weights: Option<Vec<f64>>,
    cluster: Option<Vec<u64>>,
    options: CoxOptions,
}

fn column(v: &Value) -> CovariateColumn {
    let a = v.as_array().expect("column");
    if a.iter().any(Value::is_string) {
        CovariateColumn::Categorical(a.iter().map(|x| x.as_str().map(str::to_string)).collect())
    } else {
        CovariateColumn::Numeric(nums(v))
    }
}

/// Codes in sorted order of the distinct values (numeric or text), as R's factor levels.
fn codes(v: &[Value]) -> (Vec<u32>, Vec<Value>) {
    let mut levels: Vec<Value> = v.to_vec();
    levels.sort_by(|a, b| match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.total_cmp(&y),
        _ => a.to_string().cmp(&b.to_string()),
    });
    levels.dedup();
    let code = v
        .iter()
        .map(|x| levels.iter().position(|l| l == x).expect("level") as u32)
        .collect();
    (code, levels)
}

fn case(name: &str) -> Case {
    let fx = load(name);
    let model = &fx["model"];
    let data = fx["data"].as_object().expect("data");
    let col = |key: &str| -> Option<&Vec<Value>> {
        model[key]
            .as_str()
            .map(|c| data[c].as_array().expect("column"))
    };
    let n = data
        .values()
        .next()
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let columns: Vec<(String, CovariateColumn)> =
        data.iter().map(|(k, v)| (k.clone(), column(v))).collect();
    let mut other_missing = vec![false; n];
    for key in ["time", "event", "start", "strata", "weights", "cluster"] {
        if let Some(c) = col(key) {
            for (i, v) in c.iter().enumerate() {
                other_missing[i] |= v.is_null();
            }
        }
    }
    let spec = parse_spec(model["spec"].as_str().expect("spec")).expect("spec");
    let design =
        DesignMatrix::build_with_missing(&spec, &columns, Some(&other_missing)).expect("design");
    let pick = |c: &Vec<Value>| design.select(c).expect("select");
    let stop = nums(&Value::Array(pick(col("time").expect("time"))));
    let event: Vec<bool> = nums(&Value::Array(pick(col("event").expect("event"))))
        .iter()
        .map(|&v| v == 1.0)
        .collect();
    let start = col("start").map(|c| nums(&Value::Array(pick(c))));
    let weights = col("weights").map(|c| nums(&Value::Array(pick(c))));
    let (strata, strata_levels) = match col("strata") {
        Some(c) => {
            let (code, levels) = codes(&pick(c));
            (Some(code), levels)
        }
        None => (None, vec![]),
    };
    let cluster = col("cluster").map(|c| codes(&pick(c)).0.into_iter().map(u64::from).collect());
    let options = CoxOptions {
        ties: if model["ties"] == "breslow" {
            Ties::Breslow
        } else {
            Ties::Efron
        },
        robust: model["robust"].as_str().map(|s| s == "TRUE"),
        ..CoxOptions::default()
    };
    Case {
        fx,
        design,
        start,
        stop,
        event,
        strata,
        strata_levels,
        weights,
        cluster,
        options,
    }
}

impl Case {
    fn data(&self) -> CoxData<'_> {
        let mut d = CoxData::from_design(&self.design, &self.stop, &self.event);
        d.start = self.start.as_deref();
        d.strata = self.strata.as_deref();
        d.weights = self.weights.as_deref();
        d.cluster = self.cluster.as_deref();
        d
    }
}

/// Compares everything the fixture holds for a Cox case; returns the worst relative deviation.
fn check_case(name: &str) -> f64 {
    let c = case(name);
    let data = c.data();
    let model = CoxModel::fit(&data, &c.options).unwrap_or_else(|e| panic!("{name}: {e}"));
    let s = model.summary();
    let e = &c.fx["expected"];
    let p = s.coefficients.len();
    let tag = |what: &str| format!("{name}: {what}");

    assert_eq!(
        s.iterations as f64,
        nums(&e["iter"])[0],
        "{name}: iterations"
    );
    assert_eq!(s.n as f64, nums(&e["n"])[0], "{name}: n");
    assert_eq!(s.n_events as f64, nums(&e["nevent"])[0], "{name}: events");
    assert_eq!(
        c.design.n_dropped as f64,
        nums(&e["n_dropped"])[0],
        "{name}: dropped rows"
    );
    close_vec(
        &tag("coef"),
        &s.coefficients.iter().map(|k| k.coef).collect::<Vec<_>>(),
        &nums(&e["coef"]),
    );
    close_vec(
        &tag("se"),
        &s.coefficients.iter().map(|k| k.se).collect::<Vec<_>>(),
        &nums(&e["se"]),
    );
    if e["robust_se"].is_null() {
        assert!(!s.robust, "{name}: R fit is not robust");
    } else {
        assert!(s.robust, "{name}: R fit is robust");
        let r: Vec<f64> = s
            .coefficients
            .iter()
            .map(|k| k.robust_se.unwrap_or(f64::NAN))
            .collect();
        close_vec(&tag("robust se"), &r, &nums(&e["robust_se"]));
        let rs = s.robust_score.expect("robust score");
        close(
            &tag("robust score"),
            rs.statistic,
            nums(&e["robust_score"])[0],
        );
        close(
            &tag("robust score p"),
            rs.p_value,
            nums(&e["robust_score"])[2],
        );
        let nv: Vec<f64> = s.naive_variance.concat();
        close_vec(&tag("naive var"), &nv, &matrix(&e["naive_var"]).concat());
    }
    close_vec(
        &tag("z"),
        &s.coefficients.iter().map(|k| k.z).collect::<Vec<_>>(),
        &nums(&e["z"]),
    );
    close_vec(
        &tag("p"),
        &s.coefficients.iter().map(|k| k.p_value).collect::<Vec<_>>(),
        &nums(&e["p"]),
    );
    close_vec(
        &tag("hr"),
        &s.coefficients
            .iter()
            .map(|k| k.hazard_ratio)
            .collect::<Vec<_>>(),
        &nums(&e["hr"]),
    );
    close_vec(
        &tag("lower"),
        &s.coefficients
            .iter()
            .map(|k| k.hr_lower)
            .collect::<Vec<_>>(),
        &nums(&e["lower"]),
    );
    close_vec(
        &tag("upper"),
        &s.coefficients
            .iter()
            .map(|k| k.hr_upper)
            .collect::<Vec<_>>(),
        &nums(&e["upper"]),
    );
    close_vec(
        &tag("var"),
        &s.variance.concat(),
        &matrix(&e["var"]).concat(),
    );
    close_vec(
        &tag("loglik"),
        &[s.loglik_initial, s.loglik],
        &nums(&e["loglik"]),
    );
    close_vec(&tag("means"), &s.means, &nums(&e["means"]));
    for (t, key) in [
        (s.likelihood_ratio, "lr"),
        (s.wald, "wald"),
        (s.score, "score"),
    ] {
        let r = nums(&e[key]);
        close(&tag(key), t.statistic, r[0]);
        assert_eq!(t.df as f64, r[1], "{name}: {key} df");
        close(&tag(&format!("{key} p")), t.p_value, r[2]);
    }
    close_vec(
        &tag("rsq"),
        &[s.r_squared, s.max_r_squared],
        &nums(&e["rsq"]),
    );
    let conc = s.concordance.as_ref().expect("concordance");
    let rc = &e["concordance"];
    close_vec(
        &tag("concordance counts"),
        &[
            conc.concordant,
            conc.discordant,
            conc.tied_risk,
            conc.tied_time,
            conc.tied_risk_and_time,
        ],
        &["concordant", "discordant", "tied.x", "tied.y", "tied.xy"].map(|k| nums(&rc[k])[0]),
    );
    close(
        &tag("concordance"),
        conc.concordance,
        nums(&rc["concordance"])[0],
    );
    close(&tag("concordance se"), conc.std_err, nums(&rc["std"])[0]);
    if !e["linear_predictors"].is_null() {
        close_vec(
            &tag("linear predictors"),
            &model.linear_predictors(),
            &nums(&e["linear_predictors"]),
        );
    }

    if !e["martingale"].is_null() {
        close_vec(
            &tag("martingale"),
            &model.martingale_residuals(),
            &nums(&e["martingale"]),
        );
        close_vec(
            &tag("deviance"),
            &model.deviance_residuals(),
            &nums(&e["deviance"]),
        );
        let sr = model.score_residuals();
        close_vec(
            &tag("score residuals"),
            &sr.iter().copied().collect::<Vec<_>>(),
            &matrix(&e["score_resid"]).concat(),
        );
        let db = model.dfbeta();
        close_vec(
            &tag("dfbeta"),
            &db.iter().copied().collect::<Vec<_>>(),
            &matrix(&e["dfbeta"]).concat(),
        );
    }

    if let Some(zs) = e["zph"].as_array() {
        for z in zs {
            let tr = match z["transform"].as_str() {
                Some("km") => ZphTransform::Km,
                Some("identity") => ZphTransform::Identity,
                _ => ZphTransform::Rank,
            };
            let got = model
                .zph(tr)
                .unwrap_or_else(|err| panic!("{name}: zph {tr:?}: {err}"));
            let what = |w: &str| tag(&format!("zph {tr:?} {w}"));
            assert_eq!(
                got.tests
                    .iter()
                    .map(|t| t.term.clone())
                    .collect::<Vec<_>>()
                    .len(),
                strs(&z["terms"]).len()
            );
            close_vec(
                &what("chisq"),
                &got.tests.iter().map(|t| t.chisq).collect::<Vec<_>>(),
                &nums(&z["chisq"]),
            );
            close_vec(
                &what("df"),
                &got.tests.iter().map(|t| t.df as f64).collect::<Vec<_>>(),
                &nums(&z["df"]),
            );
            close_vec(
                &what("p"),
                &got.tests.iter().map(|t| t.p_value).collect::<Vec<_>>(),
                &nums(&z["p"]),
            );
            close_vec(&what("time"), &got.time, &nums(&z["time"]));
            close_vec(&what("x"), &got.transformed_time, &nums(&z["x"]));
            if !z["y"].is_null() {
                let y: Vec<f64> = got
                    .scaled_residuals
                    .iter()
                    .flatten()
                    .map(|v| v.unwrap_or(f64::NAN))
                    .collect();
                close_vec(&what("scaled residuals"), &y, &matrix(&z["y"]).concat());
            }
        }
    }

    if !e["basehaz"].is_null() {
        let b = &e["basehaz"];
        for (centered, key) in [(true, "hazard"), (false, "hazard_uncentered")] {
            let bh = model.baseline_hazard(centered);
            let time: Vec<f64> = bh.iter().flat_map(|h| h.time.clone()).collect();
            let haz: Vec<f64> = bh
                .iter()
                .flat_map(|h| h.cumulative_hazard.clone())
                .collect();
            close_vec(&tag("basehaz time"), &time, &nums(&b["time"]));
            close_vec(&tag(key), &haz, &nums(&b[key]));
        }
    }

    if let Some(curves) = e["survfit"].as_array() {
        let nd = c.fx["newdata"].as_object().expect("newdata");
        for (k, want) in curves.iter().enumerate() {
            let profile: Vec<(&str, ProfileValue)> = nd
                .iter()
                .map(|(key, v)| {
                    let v = &v.as_array().map_or(v, |a| &a[k]);
                    let pv = match v.as_str() {
                        Some(s) => ProfileValue::Level(s.to_string()),
                        None => ProfileValue::Numeric(v.as_f64().expect("number")),
                    };
                    (key.as_str(), pv)
                })
                .collect();
            let x = c.design.encode_profile(&profile).expect("profile");
            let stratum = c.fx["model"]["strata"].as_str().map(|sname| {
                let v = &nd[sname];
                let v = v.as_array().map_or(v, |a| &a[k]);
                c.strata_levels
                    .iter()
                    .position(|l| l.as_f64() == v.as_f64())
                    .expect("stratum") as u32
            });
            let got = model
                .predict_survival(&[CovariateProfile { x, stratum }])
                .expect("survfit");
            let g = &got[0];
            let what = |w: &str| tag(&format!("survfit[{k}] {w}"));
            close_vec(&what("time"), &g.time, &nums(&want["time"]));
            close_vec(&what("n.risk"), &g.n_risk, &nums(&want["n_risk"]));
            close_vec(&what("n.event"), &g.n_event, &nums(&want["n_event"]));
            close_vec(&what("n.censor"), &g.n_censor, &nums(&want["n_censor"]));
            close_vec(&what("surv"), &g.survival, &nums(&want["surv"]));
            close_vec(
                &what("cumhaz"),
                &g.cumulative_hazard,
                &nums(&want["cumhaz"]),
            );
            close_vec(&what("std.err"), &g.std_err, &nums(&want["std_err"]));
            close_vec(&what("lower"), &g.lower, &nums(&want["lower"]));
            close_vec(&what("upper"), &g.upper, &nums(&want["upper"]));
        }
    }
    assert_eq!(p, nums(&e["coef"]).len());
    let w = worst();
    println!("{name}: largest relative deviation from R {w:.2e}");
    w
}

macro_rules! r_fixture {
    ($($test:ident => $name:literal),* $(,)?) => {
        $(#[test] fn $test() { check_case($name); })*
    };
}

r_fixture! {
    lung_efron => "lung_efron",
    lung_breslow => "lung_breslow",
    lung_strata => "lung_strata",
    lung_weights_int => "lung_weights_int",
    lung_weights_frac => "lung_weights_frac",
    veteran_cat => "veteran_cat",
    veteran_ref => "veteran_ref",
    ovarian_robust => "ovarian_robust",
    pbc_efron => "pbc_efron",
    pbc_strata_trt => "pbc_strata_trt",
    cgd_andersen_gill => "cgd_ag",
    cgd_andersen_gill_breslow_strata => "cgd_ag_breslow_strata",
    heart_efron => "heart_efron",
    heart_breslow_strata => "heart_breslow_strata",
    heart_weights_cluster => "heart_weights_cluster",
    sim_ties_efron => "sim_ties_efron",
    sim_ties_strata_breslow => "sim_ties_strata_breslow",
}
