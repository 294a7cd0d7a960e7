//! Cox regression against R's `survival` (fixtures written by `models/tests/r/cox.R`), plus
//! property, simulation and error tests.
//!
//! Tolerance: every number is compared at 1e-6 relative. Entries that are zero up to cancellation
//! (a residual of a row at the centre of the data, a score component at convergence) get an
//! absolute allowance of 1e-9 times the magnitude of their vector: a relative comparison of a
//! 1e-14 value against R's 3e-15 would only compare rounding noise.

use std::cell::RefCell;
use std::path::PathBuf;

use models::ModelError;
use models::cox::{
    CovariateProfile, CoxData, CoxFit, CoxModel, CoxOptions, Ties, ZphTransform, fit as cox_fit,
};
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

// Largest relative deviation seen by the current test thread.
thread_local! { static WORST: RefCell<(f64, String)> = const { RefCell::new((0.0, String::new())) }; }

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
                let mut c = c.borrow_mut();
                if rel > c.0 {
                    *c = (rel, format!("{what}[{k}]"));
                }
            });
        }
    }
}

fn close(what: &str, got: f64, want: f64) {
    close_vec(what, &[got], &[want]);
}

fn worst() -> (f64, String) {
    WORST.with(|c| c.borrow().clone())
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
/// Compares a fit summary with R's `summary(coxph)` numbers.
fn check_summary(name: &str, s: &CoxFit, e: &Value) {
    let tag = |what: &str| format!("{name}: {what}");
    let json = serde_json::to_value(s).expect("the summary serialises");
    assert!(json["coefficients"].is_array());
    assert_eq!(
        s.iterations as f64,
        nums(&e["iter"])[0],
        "{name}: iterations"
    );
    assert_eq!(s.n as f64, nums(&e["n"])[0], "{name}: n");
    assert_eq!(s.n_events as f64, nums(&e["nevent"])[0], "{name}: events");
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
}

fn check_case(name: &str) -> f64 {
    let c = case(name);
    let data = c.data();
    let model = CoxModel::fit(&data, &c.options).unwrap_or_else(|e| panic!("{name}: {e}"));
    let s = model.summary();
    let e = &c.fx["expected"];
    let p = s.coefficients.len();
    check_summary(name, s, e);
    assert_eq!(
        c.design.n_dropped as f64,
        nums(&e["n_dropped"])[0],
        "{name}: dropped rows"
    );
    let tag = |what: &str| format!("{name}: {what}");

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
            let bh = model.baseline_hazard(centered).expect("basehaz");
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
    let (w, at) = worst();
    println!("{name}: largest relative deviation from R {w:.2e} ({at})");
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

// ---------------------------------------------------------------------------------------------
// Fine–Gray and cause-specific Cox on mgus2.

#[test]
fn mgus2_fine_gray_and_cause_specific() {
    let fx = load("mgus2_finegray");
    let data = fx["data"].as_object().expect("data");
    let columns: Vec<(String, CovariateColumn)> =
        data.iter().map(|(k, v)| (k.clone(), column(v))).collect();
    let design =
        DesignMatrix::build(&parse_spec("age,sex:cat").expect("spec"), &columns).expect("design");
    assert_eq!(design.column_names, vec!["age", "sex=M"]);
    let time = nums(&data["etime"]);
    let cause: Vec<u32> = nums(&data["cause"]).iter().map(|&c| c as u32).collect();
    let cr = CompetingRisksData::new(&time, &cause, design.x.view(), &design.column_names);

    let e = &fx["expected"]["finegray"];
    let ex = finegray_expand(&time, &cause, 1, None).expect("expansion");
    let want = &e["expanded"];
    assert_eq!(
        ex.row.len() as f64,
        nums(&want["n_rows"])[0],
        "expanded rows"
    );
    close(
        "sum of weights",
        ex.weight.iter().sum(),
        nums(&want["sum_weights"])[0],
    );
    assert_eq!(
        ex.weight.iter().filter(|&&w| w < 1.0).count() as f64,
        nums(&want["n_weight_below_one"])[0]
    );
    close_vec("head start", &ex.start[..20], &nums(&want["head_start"]));
    close_vec("head stop", &ex.stop[..20], &nums(&want["head_stop"]));
    close_vec("head weight", &ex.weight[..20], &nums(&want["head_wt"]));

    let fg = fine_gray(&cr, 1, &CoxOptions::default()).expect("Fine-Gray");
    assert!(
        fg.fit.robust,
        "non-integer weights: R reports the robust variance"
    );
    check_summary("mgus2 Fine-Gray", &fg.fit, e);
    assert_eq!(fg.n_expanded_rows, ex.row.len());

    let cs = cause_specific(&cr, 1, &CoxOptions::default()).expect("cause-specific");
    check_summary(
        "mgus2 cause-specific",
        &cs,
        &fx["expected"]["cause_specific"],
    );
    let (w, at) = worst();
    println!("mgus2: largest relative deviation from R {w:.2e} ({at})");
}

// ---------------------------------------------------------------------------------------------
// Where R only warns, the fit refuses with a typed error naming the covariate.

fn fit_columns(data: &Value, spec: &str) -> Result<CoxFit, ModelError> {
    let obj = data.as_object().expect("data");
    let columns: Vec<(String, CovariateColumn)> =
        obj.iter().map(|(k, v)| (k.clone(), column(v))).collect();
    let design = DesignMatrix::build(&parse_spec(spec).expect("spec"), &columns).expect("design");
    let time = design.select(&nums(&obj["time"])).expect("time");
    let event: Vec<bool> = design
        .select(&nums(&obj["status"]))
        .expect("status")
        .iter()
        .map(|&v| v == 1.0)
        .collect();
    cox_fit(
        &CoxData::from_design(&design, &time, &event),
        &CoxOptions::default(),
    )
}

#[test]
fn collinear_column_is_named() {
    let fx = load("errors");
    let c = &fx["collinear"];
    assert_eq!(
        strs(&c["r_na"]),
        vec!["age_months".to_string()],
        "R drops age_months"
    );
    match fit_columns(&c["data"], c["spec"].as_str().expect("spec")) {
        Err(ModelError::Collinear { covariate }) => assert_eq!(covariate, "age_months"),
        other => panic!("expected Collinear, got {other:?}"),
    }
}

#[test]
fn separated_covariate_is_named() {
    let fx = load("errors");
    let c = &fx["separation"];
    let warning = c["r_warning"].as_str().expect("R warned");
    assert!(
        warning.contains("Loglik converged before variable  2"),
        "{warning}"
    );
    match fit_columns(&c["data"], c["spec"].as_str().expect("spec")) {
        Err(ModelError::MonotoneLikelihood { covariate }) => assert_eq!(covariate, "x"),
        other => panic!("expected MonotoneLikelihood, got {other:?}"),
    }
}

#[test]
fn invalid_inputs_are_refused() {
    let names = vec!["x".to_string()];
    let x = Array2::from_shape_vec((3, 1), vec![1.0, 2.0, 3.0]).expect("shape");
    let t = [1.0, 2.0, 3.0];
    let none = [false, false, false];
    assert!(matches!(
        cox_fit(
            &CoxData::new(&t, &none, x.view(), &names),
            &CoxOptions::default()
        ),
        Err(ModelError::Unsupported(_))
    ));
    let ev = [true, false, true];
    let bad_t = [1.0, f64::NAN, 3.0];
    assert!(matches!(
        cox_fit(
            &CoxData::new(&bad_t, &ev, x.view(), &names),
            &CoxOptions::default()
        ),
        Err(ModelError::InvalidValue { row: 1, .. })
    ));
    let w = [1.0, 0.0, 1.0];
    assert!(matches!(
        cox_fit(
            &CoxData::new(&t, &ev, x.view(), &names).with_weights(&w),
            &CoxOptions::default()
        ),
        Err(ModelError::InvalidValue { row: 1, .. })
    ));
    let start = [0.0, 2.0, 0.0];
    assert!(matches!(
        cox_fit(
            &CoxData::new(&t, &ev, x.view(), &names).with_start(&start),
            &CoxOptions::default()
        ),
        Err(ModelError::InvalidValue { row: 1, .. })
    ));
    assert!(matches!(
        cox_fit(
            &CoxData::new(&t[..2], &ev, x.view(), &names),
            &CoxOptions::default()
        ),
        Err(ModelError::LengthMismatch { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Properties: row order, a common rescaling of time, weight 2 = two identical rows.

mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Small data sets with tied integer times, two covariates, ~70% events.
    fn dataset() -> impl Strategy<Value = (Vec<f64>, Vec<bool>, Vec<f64>, Vec<f64>)> {
        (20usize..60).prop_flat_map(|n| {
            (
                prop::collection::vec(1u32..15, n),
                prop::collection::vec(prop::bool::weighted(0.7), n),
                prop::collection::vec(-2.0f64..2.0, n),
                prop::collection::vec(0u8..2, n),
            )
                .prop_map(|(t, e, x1, x2)| {
                    (
                        t.into_iter().map(f64::from).collect(),
                        e,
                        x1,
                        x2.into_iter().map(f64::from).collect(),
                    )
                })
        })
    }

    fn fit(
        time: &[f64],
        event: &[bool],
        x1: &[f64],
        x2: &[f64],
        w: Option<&[f64]>,
        ties: Ties,
    ) -> Result<CoxFit, ModelError> {
        let names = vec!["x1".to_string(), "x2".to_string()];
        let n = time.len();
        let x = Array2::from_shape_fn((n, 2), |(i, j)| if j == 0 { x1[i] } else { x2[i] });
        let mut d = CoxData::new(time, event, x.view(), &names);
        d.weights = w;
        cox_fit(
            &d,
            &CoxOptions {
                ties,
                ..CoxOptions::default()
            },
        )
    }

    fn same(
        a: &Result<CoxFit, ModelError>,
        b: &Result<CoxFit, ModelError>,
        tol: f64,
    ) -> Result<(), TestCaseError> {
        match (a, b) {
            (Ok(a), Ok(b)) => {
                for (x, y) in a.coefficients.iter().zip(&b.coefficients) {
                    prop_assert!(
                        (x.coef - y.coef).abs() <= tol * (1.0 + y.coef.abs()),
                        "coef {} vs {}",
                        x.coef,
                        y.coef
                    );
                    prop_assert!((x.se - y.se).abs() <= tol * y.se, "se {} vs {}", x.se, y.se);
                }
                prop_assert!((a.loglik - b.loglik).abs() <= tol * b.loglik.abs());
                prop_assert!(
                    (a.score.statistic - b.score.statistic).abs()
                        <= tol * (1.0 + b.score.statistic)
                );
                Ok(())
            }
            (Err(x), Err(y)) => {
                prop_assert_eq!(std::mem::discriminant(x), std::mem::discriminant(y));
                Ok(())
            }
            _ => Err(TestCaseError::fail(format!(
                "one fit failed: {a:?} / {b:?}"
            ))),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn row_order_does_not_matter((t, e, x1, x2) in dataset(), seed in any::<u64>(), efron in any::<bool>()) {
            let ties = if efron { Ties::Efron } else { Ties::Breslow };
            let n = t.len();
            let mut perm: Vec<usize> = (0..n).collect();
            let mut s = seed;
            for i in (1..n).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                perm.swap(i, (s >> 33) as usize % (i + 1));
            }
            let pick = |v: &[f64]| perm.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            let pe: Vec<bool> = perm.iter().map(|&i| e[i]).collect();
            let a = fit(&t, &e, &x1, &x2, None, ties);
            let b = fit(&pick(&t), &pe, &pick(&x1), &pick(&x2), None, ties);
            same(&a, &b, 1e-9)?;
        }

        #[test]
        fn rescaling_time_does_not_matter((t, e, x1, x2) in dataset(), factor in prop::sample::select(vec![0.001, 0.5, 7.0, 365.25])) {
            let scaled: Vec<f64> = t.iter().map(|v| v * factor).collect();
            same(&fit(&t, &e, &x1, &x2, None, Ties::Efron), &fit(&scaled, &e, &x1, &x2, None, Ties::Efron), 1e-9)?;
        }

        /// With Breslow ties. (Efron's approximation counts tied deaths, not their weights, in R
        /// as here: a doubled death is one death of weight 2, not two tied deaths; checked in R:
        /// `coxph(..., weights = w)` and the duplicated rows differ under Efron, agree under
        /// Breslow.)
        #[test]
        fn weight_two_equals_two_rows((t, e, x1, x2) in dataset(), doubled in prop::collection::vec(any::<bool>(), 60)) {
            let ties = Ties::Breslow;
            let n = t.len();
            let w: Vec<f64> = (0..n).map(|i| if doubled[i] { 2.0 } else { 1.0 }).collect();
            let mut rows: Vec<usize> = (0..n).collect();
            rows.extend((0..n).filter(|&i| doubled[i]));
            let pick = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            let pe: Vec<bool> = rows.iter().map(|&i| e[i]).collect();
            let a = fit(&t, &e, &x1, &x2, Some(&w), ties);
            let b = fit(&pick(&t), &pe, &pick(&x1), &pick(&x2), None, ties);
            same(&a, &b, 1e-9)?;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Simulation: Weibull proportional hazards with known β; the fit recovers β within 3 SE.

#[test]
fn recovers_weibull_proportional_hazards() {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::StandardNormal;

    let beta = [0.5, -0.7, 0.3];
    let (lambda, nu) = (0.01, 1.5);
    let n = 4000;
    let mut rng = ChaCha8Rng::seed_from_u64(20_261_129);
    let mut x = Array2::<f64>::zeros((n, 3));
    let mut time = Vec::with_capacity(n);
    let mut event = Vec::with_capacity(n);
    for i in 0..n {
        let z: f64 = rng.sample(StandardNormal);
        let z3: f64 = rng.sample(StandardNormal);
        let row = [z, f64::from(u8::from(rng.random_bool(0.5))), z3];
        let lp: f64 = row.iter().zip(&beta).map(|(a, b)| a * b).sum();
        for j in 0..3 {
            x[[i, j]] = row[j];
        }
        let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
        let t = (-u.ln() / (lambda * lp.exp())).powf(1.0 / nu);
        let c: f64 = rng.random_range(0.0..40.0);
        time.push(t.min(c));
        event.push(t <= c);
    }
    let names = vec!["x1".to_string(), "x2".to_string(), "x3".to_string()];
    let fit = cox_fit(
        &CoxData::new(&time, &event, x.view(), &names),
        &CoxOptions::default(),
    )
    .expect("fit");
    for (k, b) in fit.coefficients.iter().zip(&beta) {
        assert!(
            (k.coef - b).abs() < 3.0 * k.se,
            "{}: {} vs true {} (se {})",
            k.name,
            k.coef,
            b,
            k.se
        );
    }
    // The same with Breslow ties and a time-varying split of every row at its midpoint, which
    // must not change the fit ((start, stop] data).
    let n2 = 2 * n;
    let mut start = Vec::with_capacity(n2);
    let mut stop = Vec::with_capacity(n2);
    let mut ev2 = Vec::with_capacity(n2);
    let mut x2 = Array2::<f64>::zeros((n2, 3));
    for i in 0..n {
        let mid = time[i] / 2.0;
        for (k, (a, b, e)) in [(0.0, mid, false), (mid, time[i], event[i])]
            .into_iter()
            .enumerate()
        {
            start.push(a);
            stop.push(b);
            ev2.push(e);
            x2.row_mut(2 * i + k).assign(&x.row(i));
        }
    }
    let opts = CoxOptions {
        ties: Ties::Breslow,
        ..CoxOptions::default()
    };
    let a = cox_fit(&CoxData::new(&time, &event, x.view(), &names), &opts).expect("fit");
    let b = cox_fit(
        &CoxData::new(&stop, &ev2, x2.view(), &names).with_start(&start),
        &opts,
    )
    .expect("fit");
    for (p, q) in a.coefficients.iter().zip(&b.coefficients) {
        assert!(
            (p.coef - q.coef).abs() < 1e-8 * (1.0 + p.coef.abs()),
            "{} vs {}",
            p.coef,
            q.coef
        );
        assert!((p.se - q.se).abs() < 1e-8 * p.se);
    }
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    // Large enough for several parts and chunks: right-censored (input-order path) and the same
    // rows as (start, stop] data (sorted path), with strata.
    let n = 150_000;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x = Array2::from_shape_fn((n, 3), |_| rng.random_range(-1.0..1.0));
    let time: Vec<f64> = (0..n)
        .map(|_| f64::from(rng.random_range(1u32..400)))
        .collect();
    let event: Vec<bool> = (0..n).map(|_| rng.random_bool(0.6)).collect();
    let start: Vec<f64> = time.iter().map(|t| t / 3.0).collect();
    let strata: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
    let names = vec!["a".to_string(), "b".to_string(), "c".to_string()];
    let right = CoxData::new(&time, &event, x.view(), &names);
    let counting = CoxData::new(&time, &event, x.view(), &names)
        .with_start(&start)
        .with_strata(&strata);
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let three = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .expect("pool");
    for data in [right, counting] {
        let a = one
            .install(|| cox_fit(&data, &CoxOptions::default()))
            .expect("fit");
        let b = three
            .install(|| cox_fit(&data, &CoxOptions::default()))
            .expect("fit");
        assert_eq!(a, b, "bit-identical across thread counts");
    }
}

#[test]
fn separation_in_counting_process_data_is_named() {
    // The separated data as (0, t] intervals: R's agreg rule (step > toler.inf (1 + |beta|)).
    let fx = load("errors");
    let obj = fx["separation"]["data"].as_object().expect("data");
    let time = nums(&obj["time"]);
    let event: Vec<bool> = nums(&obj["status"]).iter().map(|&v| v == 1.0).collect();
    let (z, x) = (nums(&obj["z"]), nums(&obj["x"]));
    let xm = Array2::from_shape_fn((time.len(), 2), |(i, j)| if j == 0 { z[i] } else { x[i] });
    let names = vec!["z".to_string(), "x".to_string()];
    let start = vec![0.0; time.len()];
    let d = CoxData::new(&time, &event, xm.view(), &names).with_start(&start);
    match cox_fit(&d, &CoxOptions::default()) {
        Err(ModelError::MonotoneLikelihood { covariate }) => assert_eq!(covariate, "x"),
        other => panic!("expected MonotoneLikelihood, got {other:?}"),
    }
}

#[test]
fn large_linear_predictors_do_not_overflow() {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    // Covariate on [0, 1000] with beta = 0.5: the centred linear predictor spans ±250, beyond
    // what exp takes without a shift in a risk set; the shifted copy (x - 500) gives the same fit.
    let n = 3000;
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let x: Vec<f64> = (0..n).map(|_| rng.random_range(0.0..1000.0)).collect();
    let time: Vec<f64> = x
        .iter()
        .map(|&v| {
            let u: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
            -u.ln() * (300.0 - 0.5 * v).exp()
        })
        .collect();
    let event = vec![true; n];
    let names = vec!["x".to_string()];
    let a = Array2::from_shape_fn((n, 1), |(i, _)| x[i]);
    let b = Array2::from_shape_fn((n, 1), |(i, _)| x[i] - 500.0);
    let fa = cox_fit(
        &CoxData::new(&time, &event, a.view(), &names),
        &CoxOptions::default(),
    )
    .expect("fit");
    let fb = cox_fit(
        &CoxData::new(&time, &event, b.view(), &names),
        &CoxOptions::default(),
    )
    .expect("fit");
    let (ca, cb) = (&fa.coefficients[0], &fb.coefficients[0]);
    // R on these data (written to CSV; `coxph(..., control = coxph.control(timefix = FALSE))`,
    // since R's default time fix merges times that differ by less than 1e-8 of the largest):
    // coefficient 0.495191796073751, se 0.00762483321641513, loglik -21024.0248530456 /
    // -7372.94362205175, 11 iterations.
    close("large lp: coef", ca.coef, 0.495191796073751);
    close("large lp: se", ca.se, 0.00762483321641513);
    close_vec(
        "large lp: loglik",
        &[fa.loglik_initial, fa.loglik],
        &[-21024.0248530456, -7372.94362205175],
    );
    assert_eq!(fa.iterations, 11);
    assert!((ca.coef - cb.coef).abs() < 1e-9 * ca.coef.abs());
    assert!(fa.loglik.is_finite() && fa.concordance.is_some());
}

#[test]
fn a_stratum_without_events_changes_nothing() {
    let c = case("lung_efron");
    let n = c.stop.len();
    // Append a stratum of censored copies of the first rows.
    let extra = 30;
    let mut stop = c.stop.clone();
    let mut event = c.event.clone();
    let mut strata = vec![0u32; n];
    let p = c.design.n_columns();
    let mut x = Array2::<f64>::zeros((n + extra, p));
    for i in 0..n {
        x.row_mut(i).assign(&c.design.x.row(i));
    }
    for k in 0..extra {
        stop.push(c.stop[k]);
        event.push(false);
        strata.push(1);
        x.row_mut(n + k).assign(&c.design.x.row(k));
    }
    let base = cox_fit(
        &CoxData::new(&c.stop, &c.event, c.design.x.view(), &c.design.column_names),
        &CoxOptions::default(),
    )
    .expect("fit");
    let more = CoxData::new(&stop, &event, x.view(), &c.design.column_names).with_strata(&strata);
    let model = CoxModel::fit(&more, &CoxOptions::default()).expect("fit");
    for (a, b) in base.coefficients.iter().zip(&model.summary().coefficients) {
        assert!(
            (a.coef - b.coef).abs() < 1e-10 * a.coef.abs().max(1e-3),
            "{} vs {}",
            a.coef,
            b.coef
        );
    }
    let bh = model.baseline_hazard(true).expect("basehaz");
    assert_eq!(bh.len(), 2);
    assert!(bh[1].cumulative_hazard.iter().all(|&h| h == 0.0));
    model.zph(ZphTransform::Km).expect("zph");
}
