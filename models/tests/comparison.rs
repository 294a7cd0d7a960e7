//! The comparison tools against R (fixtures written by `models/tests/r/comparison.R`): logistic
//! regression against `glm(family = binomial)` with and without weights; propensity weights,
//! weighted `coxph(..., robust = TRUE)`, weighted `survfit` (Kaplan–Meier and Aalen–Johansen),
//! the restricted mean and the balance table under those weights; matching against MatchIt.
//! Then simulations with known truth: IPTW, overlap weights and matching recover the marginal
//! effect where the crude comparison is biased.
//!
//! Tolerance: 1e-6 relative, with an absolute allowance of 1e-9 times the magnitude of the
//! compared vector for entries that are zero up to rounding. Each test prints its largest
//! relative deviation (`cargo test -p models --test comparison -- --nocapture`).
//!
//! R's `glm` reports standard errors from the information at the coefficients of its
//! second-to-last iteration (its QR decomposition is computed before the final update), which
//! sit about sqrt(epsilon) from the maximum; the fixtures use `epsilon = 1e-15`, so R's standard
//! errors (and z, p) differ from those at the maximum by up to a few 1e-7, the largest deviation
//! of these tests.

use std::cell::RefCell;
use std::path::PathBuf;

use models::adjusted::{AdjustedOptions, ComparisonOutcome, adjusted_comparison};
use models::balance::balance_table;
use models::cox::{CoxData, CoxModel, CoxOptions};
use models::design::{CovariateColumn, DesignMatrix, parse_spec};
use models::diagnostics::{self, Verdict};
use models::km::{FollowUp, KaplanMeierOptions, kaplan_meier_by_group};
use models::matching::{MatchOrder, MatchingOptions, match_nearest};
use models::propensity::{LogisticOptions, PropensityData, fit_propensity, logistic_regression};
use models::weighting::{Estimand, WeightOptions, propensity_weights};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rand_distr::{Distribution, StandardNormal};
use serde_json::Value;

const REL: f64 = 1e-6;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/comparison")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn nums(v: &Value) -> Vec<f64> {
    match v {
        Value::Array(a) => a
            .iter()
            .flat_map(|x| match x {
                Value::Array(_) => nums(x),
                _ => vec![x.as_f64().unwrap_or(f64::NAN)],
            })
            .collect(),
        Value::Number(x) => vec![x.as_f64().unwrap_or(f64::NAN)],
        _ => vec![],
    }
}

thread_local! { static WORST: RefCell<(f64, String)> = const { RefCell::new((0.0, String::new())) }; }

fn close_vec(what: &str, got: &[f64], want: &[f64]) {
    close_vec_floor(what, got, want, 0.0);
}

/// As `close_vec`, with an absolute allowance `floor` for quantities whose scale is 1 but whose
/// expected value may be 0 up to rounding (standardised differences after exact balance).
fn close_vec_floor(what: &str, got: &[f64], want: &[f64], floor: f64) {
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
        .fold(floor, |m, v| m.max(v.abs()));
    for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
        if w.is_nan() {
            assert!(!g.is_finite(), "{what}[{k}]: {g} vs R NA");
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

fn report(test: &str) {
    WORST.with(|c| {
        let c = c.borrow();
        println!(
            "{test}: largest relative deviation from R {:.2e} at {}",
            c.0, c.1
        );
    });
}

fn column(v: &Value) -> CovariateColumn {
    let a = v.as_array().expect("column");
    if a.iter().any(Value::is_string) {
        CovariateColumn::Categorical(a.iter().map(|x| x.as_str().map(str::to_string)).collect())
    } else {
        CovariateColumn::Numeric(nums(v))
    }
}

/// The design of `spec` over the fixture's data columns.
fn design(fx: &Value, spec: &str) -> DesignMatrix {
    let data = fx["data"].as_object().expect("data");
    let columns: Vec<(String, CovariateColumn)> =
        data.iter().map(|(k, v)| (k.clone(), column(v))).collect();
    let d = DesignMatrix::build(&parse_spec(spec).expect("spec"), &columns).expect("design");
    assert_eq!(d.n_dropped, 0);
    d
}

fn data_column(fx: &Value, name: &str) -> Vec<f64> {
    nums(&fx["data"][name])
}

fn check_glm(name: &str) {
    let fx = load(name);
    let model = &fx["model"];
    let d = design(&fx, model["spec"].as_str().expect("spec"));
    let y: Vec<bool> = data_column(&fx, model["outcome"].as_str().expect("outcome"))
        .iter()
        .map(|&v| v == 1.0)
        .collect();
    let w = model["weights"].as_str().map(|c| data_column(&fx, c));
    let mut data = PropensityData::from_design(&d, &y);
    if let Some(w) = &w {
        data = data.with_weights(w);
    }
    let fit = logistic_regression(&data, &LogisticOptions::default()).expect("fit");
    let e = &fx["expected"];
    assert!(fit.diagnostics.converged, "{name}: {:?}", fit.diagnostics);
    let col = |f: fn(&models::propensity::LogisticCoefficient) -> f64| {
        fit.coefficients.iter().map(f).collect::<Vec<f64>>()
    };
    close_vec(&format!("{name} coef"), &col(|c| c.coef), &nums(&e["coef"]));
    close_vec(&format!("{name} se"), &col(|c| c.se), &nums(&e["se"]));
    // At the estimate itself the agreement is far closer than the tolerance.
    let se = col(|c| c.se);
    for (k, (g, w)) in se.iter().zip(nums(&e["se_at_estimate"])).enumerate() {
        assert!(
            (g - w).abs() <= 1e-9 * w,
            "{name} se at the estimate [{k}]: {g} vs R {w}"
        );
    }
    close_vec(&format!("{name} z"), &col(|c| c.z), &nums(&e["z"]));
    close_vec(&format!("{name} p"), &col(|c| c.p_value), &nums(&e["p"]));
    close_vec(
        &format!("{name} deviance"),
        &[fit.deviance],
        &nums(&e["deviance"]),
    );
    close_vec(
        &format!("{name} null deviance"),
        &[fit.null_deviance],
        &nums(&e["null_deviance"]),
    );
    close_vec(&format!("{name} fitted"), &fit.fitted, &nums(&e["fitted"]));
    close_vec(
        &format!("{name} linear predictor"),
        &fit.linear_predictor,
        &nums(&e["linear_predictor"]),
    );
}

#[test]
fn logistic_regression_matches_glm() {
    for name in [
        "glm_lung",
        "glm_lung_weights",
        "glm_mtcars",
        "glm_mtcars_weights",
        "glm_rotterdam",
    ] {
        check_glm(name);
    }
    report("glm");
}

struct Rotterdam {
    fx: Value,
    design: DesignMatrix,
    treated: Vec<bool>,
    score: Vec<f64>,
}

fn rotterdam() -> Rotterdam {
    let fx = load("rotterdam_weighted");
    let design = design(&fx, fx["ps_spec"].as_str().expect("spec"));
    let treated: Vec<bool> = data_column(&fx, "hormon")
        .iter()
        .map(|&v| v == 1.0)
        .collect();
    let ps = fit_propensity(
        &PropensityData::from_design(&design, &treated),
        &LogisticOptions::default(),
    )
    .expect("propensity");
    close_vec("propensity", &ps.score, &nums(&fx["propensity"]));
    close_vec("logit", &ps.logit, &nums(&fx["logit"]));
    close_vec("c-statistic", &[ps.c_statistic], &nums(&fx["c_statistic"]));
    close_vec(
        "treated share",
        &[ps.treated_share],
        &nums(&fx["treated_share"]),
    );
    Rotterdam {
        score: ps.score,
        fx,
        design,
        treated,
    }
}

#[test]
fn weighted_outcome_models_match_r() {
    let r = rotterdam();
    let fx = &r.fx;
    let time = data_column(fx, "dtime");
    let death: Vec<bool> = data_column(fx, "death").iter().map(|&v| v == 1.0).collect();
    let hormon = Array2::from_shape_vec(
        (time.len(), 1),
        r.treated.iter().map(|&t| f64::from(u8::from(t))).collect(),
    )
    .expect("x");
    let names = vec!["hormon".to_string()];
    let group: Vec<u32> = r.treated.iter().map(|&t| u32::from(t)).collect();
    let ftime = data_column(fx, "ftime");
    let fcause: Vec<u32> = data_column(fx, "fcause")
        .iter()
        .map(|&v| v as u32)
        .collect();
    let tau = fx["tau"].as_f64().expect("tau");

    // Unweighted Cox, for reference.
    let cox0 = CoxModel::fit(
        &CoxData::new(&time, &death, hormon.view(), &names),
        &CoxOptions::default(),
    )
    .expect("cox");
    close_vec(
        "unweighted cox coef",
        &[cox0.summary().coefficients[0].coef],
        &nums(&fx["unweighted_cox"]["coef"]),
    );

    let kinds = [
        ("ate", Estimand::Ate, false, None),
        ("ate_stabilised", Estimand::Ate, true, None),
        ("ate_truncated", Estimand::Ate, false, Some((0.01, 0.99))),
        ("att", Estimand::Att, false, None),
        ("att_stabilised", Estimand::Att, true, None),
        ("ato", Estimand::Ato, false, None),
    ];
    for (kind, estimand, stabilised, truncation) in kinds {
        let e = &fx[kind];
        let w = propensity_weights(
            &r.score,
            &r.treated,
            &WeightOptions {
                estimand,
                stabilised,
                truncation,
            },
        )
        .expect("weights");
        close_vec(&format!("{kind} weights"), &w.weights, &nums(&e["weights"]));
        let weights = &w.weights;

        // Weighted Cox with the robust variance.
        let data = CoxData::new(&time, &death, hormon.view(), &names).with_weights(weights);
        let cox = CoxModel::fit(
            &data,
            &CoxOptions {
                robust: Some(true),
                ..CoxOptions::default()
            },
        )
        .expect("weighted cox");
        let c = &cox.summary().coefficients[0];
        close_vec(
            &format!("{kind} cox coef"),
            &[c.coef],
            &nums(&e["cox"]["coef"]),
        );
        close_vec(&format!("{kind} cox se"), &[c.se], &nums(&e["cox"]["se"]));
        close_vec(
            &format!("{kind} cox robust se"),
            &[c.robust_se.expect("robust")],
            &nums(&e["cox"]["robust_se"]),
        );
        close_vec(
            &format!("{kind} cox loglik"),
            &[cox.summary().loglik_initial, cox.summary().loglik],
            &nums(&e["cox"]["loglik"]),
        );

        // Weighted Kaplan–Meier per group (R: hormon = 0, then 1).
        let km = kaplan_meier_by_group(
            &FollowUp::new(&time, &death).with_weights(weights),
            &group,
            &KaplanMeierOptions::default(),
        )
        .expect("km");
        for (g, want) in km.iter().zip(e["km"].as_array().expect("km")) {
            let what = format!("{kind} km group {}", g.group);
            close_vec(&format!("{what} time"), &g.curve.time, &nums(&want["time"]));
            close_vec(
                &format!("{what} n_risk"),
                &g.curve.n_risk,
                &nums(&want["n_risk"]),
            );
            close_vec(
                &format!("{what} surv"),
                &g.curve.survival,
                &nums(&want["surv"]),
            );
            close_vec(
                &format!("{what} std_err"),
                &g.curve.std_err,
                &nums(&want["std_err"]),
            );
        }

        // Adjusted risk of recurrence (death competing) and restricted mean event-free time.
        let adj = adjusted_comparison(
            &ComparisonOutcome::new(&ftime, &fcause),
            &r.treated,
            weights,
            &AdjustedOptions {
                tau,
                replicates: 0,
                ..AdjustedOptions::default()
            },
        )
        .expect("adjusted");
        close_vec(
            &format!("{kind} risk at tau"),
            &[adj.control.risk, adj.treated.risk],
            &nums(&e["risk_at_tau"]),
        );
        close_vec(
            &format!("{kind} restricted mean"),
            &[adj.control.restricted_mean, adj.treated.restricted_mean],
            &nums(&e["restricted_mean"]),
        );

        // Balance.
        let b = balance_table(
            r.design.x.view(),
            &r.design.column_names,
            &r.treated,
            Some(weights),
        )
        .expect("balance");
        let want = &e["balance"];
        let col = |f: fn(&models::balance::CovariateBalance) -> f64| {
            b.covariates.iter().map(f).collect::<Vec<f64>>()
        };
        close_vec(
            &format!("{kind} smd before"),
            &col(|c| c.smd_before),
            &nums(&want["smd_before"]),
        );
        close_vec_floor(
            &format!("{kind} smd after"),
            &col(|c| c.smd_after),
            &nums(&want["smd_after"]),
            1.0,
        );
        close_vec(
            &format!("{kind} mean treated"),
            &col(|c| c.mean_treated_after),
            &nums(&want["mean_treated_after"]),
        );
        close_vec(
            &format!("{kind} mean control"),
            &col(|c| c.mean_control_after),
            &nums(&want["mean_control_after"]),
        );
        let ratio = |f: fn(&models::balance::CovariateBalance) -> Option<f64>| {
            b.covariates
                .iter()
                .map(|c| f(c).unwrap_or(f64::NAN))
                .collect::<Vec<f64>>()
        };
        close_vec(
            &format!("{kind} variance ratio before"),
            &ratio(|c| c.variance_ratio_before),
            &nums(&want["variance_ratio_before"]),
        );
        close_vec(
            &format!("{kind} variance ratio after"),
            &ratio(|c| c.variance_ratio_after),
            &nums(&want["variance_ratio_after"]),
        );
    }
    report("weighted outcome models");
}

#[test]
fn matching_matches_matchit() {
    let fx = load("rotterdam_matching");
    let logit = nums(&fx["logit"]);
    let treated: Vec<bool> = nums(&fx["treated"]).iter().map(|&v| v == 1.0).collect();
    for case in fx["cases"].as_array().expect("cases") {
        let options = MatchingOptions {
            ratio: case["ratio"].as_u64().expect("ratio") as usize,
            caliper_sd: case["caliper"].as_f64(),
            replacement: case["replace"].as_bool().expect("replace"),
            order: MatchOrder::DataOrder,
        };
        let m = match_nearest(&logit, &treated, &options).expect("match");
        let want_treated: Vec<usize> = nums(&case["treated"]).iter().map(|&v| v as usize).collect();
        let got_treated: Vec<usize> = m.sets.iter().map(|s| s.treated).collect();
        assert_eq!(got_treated, want_treated, "{options:?}: matched treated");
        // Controls agree row for row, except where two controls have the same logit (identical
        // covariates): the module gives a tie to the smaller row index, MatchIt to another.
        let mut ties = 0;
        for (s, want) in m
            .sets
            .iter()
            .zip(case["controls"].as_array().expect("controls"))
        {
            let want: Vec<usize> = nums(want).iter().map(|&v| v as usize).collect();
            assert_eq!(
                s.controls.len(),
                want.len(),
                "{options:?}: treated row {}",
                s.treated
            );
            for (&g, &w) in s.controls.iter().zip(&want) {
                if g != w {
                    assert_eq!(logit[g], logit[w], "{options:?}: treated row {}", s.treated);
                    ties += 1;
                }
            }
        }
        if ties > 0 {
            println!("{options:?}: {ties} exact tie(s) resolved differently from MatchIt");
            continue;
        }
        // MatchIt scales the control weights to sum to the number of distinct controls.
        let want_w = nums(&case["weights"]);
        let sum = |w: &[f64], g: bool| -> f64 {
            w.iter()
                .zip(&treated)
                .filter(|(_, t)| **t == g)
                .map(|(w, _)| w)
                .sum()
        };
        let (got_c, want_c) = (sum(&m.weights, false), sum(&want_w, false));
        let scaled: Vec<f64> = m
            .weights
            .iter()
            .zip(&treated)
            .map(|(&w, &t)| if t { w } else { w * want_c / got_c })
            .collect();
        close_vec(&format!("{options:?} weights"), &scaled, &want_w);
        assert_eq!(m.n_matched_treated + m.n_unmatched_treated, m.n_treated);
    }
    report("matching");
}

// ---------------------------------------------------------------------------------------------
// Simulation with known truth.

struct Simulated {
    x: Array2<f64>,
    treated: Vec<bool>,
    /// Potential outcome probabilities under control and under treatment.
    p0: Vec<f64>,
    p1: Vec<f64>,
    y: Vec<bool>,
}

fn sigmoid(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

/// Two confounders raise both the chance of treatment and the risk of the outcome.
fn simulate(n: usize, seed: u64) -> Simulated {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut x = Array2::zeros((n, 2));
    let (mut treated, mut p0, mut p1, mut y) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let x1: f64 = StandardNormal.sample(&mut rng);
        let x2 = f64::from(u8::from(rng.random::<f64>() < 0.4));
        x[[i, 0]] = x1;
        x[[i, 1]] = x2;
        let t = rng.random::<f64>() < sigmoid(-0.4 + 0.9 * x1 + 0.8 * x2);
        let lin = -1.0 + 1.0 * x1 + 0.8 * x2;
        let (a, b) = (sigmoid(lin), sigmoid(lin + 0.7));
        p0.push(a);
        p1.push(b);
        y.push(rng.random::<f64>() < if t { b } else { a });
        treated.push(t);
    }
    Simulated {
        x,
        treated,
        p0,
        p1,
        y,
    }
}

/// Weighted mean of y in the treated minus in the controls.
fn weighted_difference(y: &[bool], treated: &[bool], w: &[f64]) -> f64 {
    let mut s = [(0.0, 0.0); 2];
    for i in 0..y.len() {
        let g = usize::from(treated[i]);
        s[g].0 += w[i] * f64::from(u8::from(y[i]));
        s[g].1 += w[i];
    }
    s[1].0 / s[1].1 - s[0].0 / s[0].1
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

#[test]
fn adjustment_recovers_the_marginal_risk_difference() {
    let sim = simulate(20_000, 20_241_105);
    let n = sim.y.len();
    let names = vec!["x1".to_string(), "x2".to_string()];
    let ps = fit_propensity(
        &PropensityData::new(&sim.treated, sim.x.view(), &names),
        &LogisticOptions::default(),
    )
    .expect("propensity");
    // The sample's true effects from the potential outcomes.
    let ate = mean((0..n).map(|i| sim.p1[i] - sim.p0[i]));
    let att = mean(
        (0..n)
            .filter(|&i| sim.treated[i])
            .map(|i| sim.p1[i] - sim.p0[i]),
    );
    let ato = {
        let w: Vec<f64> = ps.score.iter().map(|e| e * (1.0 - e)).collect();
        (0..n).map(|i| w[i] * (sim.p1[i] - sim.p0[i])).sum::<f64>() / w.iter().sum::<f64>()
    };
    let crude = weighted_difference(&sim.y, &sim.treated, &vec![1.0; n]);
    let estimate = |estimand| {
        let w = propensity_weights(
            &ps.score,
            &sim.treated,
            &WeightOptions {
                estimand,
                stabilised: true,
                truncation: None,
            },
        )
        .expect("weights");
        (weighted_difference(&sim.y, &sim.treated, &w.weights), w)
    };
    let (iptw, w_ate) = estimate(Estimand::Ate);
    let (att_hat, _) = estimate(Estimand::Att);
    let (ato_hat, w_ato) = estimate(Estimand::Ato);
    println!(
        "simulation (n = {n}): true ATE {ate:.4}, ATT {att:.4}, ATO {ato:.4}; crude {crude:.4}; \
         IPTW {iptw:.4}; ATT weights {att_hat:.4}; overlap {ato_hat:.4}"
    );
    // Standard errors here are about 0.008.
    assert!(
        crude - ate > 0.1,
        "the crude difference should be biased upwards"
    );
    assert!((iptw - ate).abs() < 0.025, "IPTW {iptw} vs ATE {ate}");
    assert!((att_hat - att).abs() < 0.025, "ATT {att_hat} vs {att}");
    assert!((ato_hat - ato).abs() < 0.025, "ATO {ato_hat} vs {ato}");

    // Balance and the diagnostics agree that the weights did their job.
    let before_after =
        balance_table(sim.x.view(), &names, &sim.treated, Some(&w_ato.weights)).expect("balance");
    assert!(before_after.max_abs_smd_before > 0.3);
    // Overlap weights balance the means of the propensity model's covariates exactly.
    assert!(before_after.max_abs_smd_after < 1e-8, "{before_after:?}");
    assert_eq!(diagnostics::balance(&before_after).verdict, Verdict::Pass);
    let ate_balance =
        balance_table(sim.x.view(), &names, &sim.treated, Some(&w_ate.weights)).expect("balance");
    assert!(ate_balance.max_abs_smd_after < 0.05, "{ate_balance:?}");
    assert!(
        ps.c_statistic > 0.7 && ps.c_statistic < 0.8,
        "C = {}",
        ps.c_statistic
    );
}

#[test]
fn adjusted_risk_difference_at_tau_with_bootstrap() {
    // Exponential event times whose hazard depends on treatment and the confounders;
    // administrative censoring at 12; the truth at τ = 8 from each row's two potential risks.
    let n = 4_000;
    let mut rng = ChaCha20Rng::seed_from_u64(77);
    let mut x = Array2::zeros((n, 2));
    let (mut treated, mut time, mut cause) = (vec![], vec![], vec![]);
    let tau = 8.0;
    let mut true_rd = 0.0;
    let mut true_rmst = 0.0;
    for i in 0..n {
        let x1: f64 = StandardNormal.sample(&mut rng);
        let x2 = f64::from(u8::from(rng.random::<f64>() < 0.5));
        x[[i, 0]] = x1;
        x[[i, 1]] = x2;
        let t = rng.random::<f64>() < sigmoid(-0.3 + 0.8 * x1 + 0.7 * x2);
        let rate = |a: f64| 0.08 * (-0.4 * a + 0.7 * x1 + 0.6 * x2).exp();
        let risk = |a: f64| 1.0 - (-rate(a) * tau).exp();
        let rmst = |a: f64| (1.0 - (-rate(a) * tau).exp()) / rate(a);
        true_rd += risk(1.0) - risk(0.0);
        true_rmst += rmst(1.0) - rmst(0.0);
        let u: f64 = rng.random();
        let event_time = -u.ln() / rate(f64::from(u8::from(t)));
        if event_time < 12.0 {
            time.push(event_time);
            cause.push(1);
        } else {
            time.push(12.0);
            cause.push(0);
        }
        treated.push(t);
    }
    true_rd /= n as f64;
    true_rmst /= n as f64;
    let names = vec!["x1".to_string(), "x2".to_string()];
    let ps = fit_propensity(
        &PropensityData::new(&treated, x.view(), &names),
        &LogisticOptions::default(),
    )
    .expect("propensity");
    let w = propensity_weights(&ps.score, &treated, &WeightOptions::default()).expect("weights");
    let outcome = ComparisonOutcome::new(&time, &cause);
    let options = AdjustedOptions {
        tau,
        // Small for a debug build (rand_chacha is not optimised there); 1000 or more in use.
        replicates: 200,
        seed: 2024,
        ..AdjustedOptions::default()
    };
    let adjusted = adjusted_comparison(&outcome, &treated, &w.weights, &options).expect("adjusted");
    let crude = adjusted_comparison(
        &outcome,
        &treated,
        &vec![1.0; n],
        &AdjustedOptions {
            replicates: 0,
            ..options
        },
    )
    .expect("crude");
    let rd = adjusted.risk_difference;
    let rm = adjusted.restricted_mean_difference;
    println!(
        "survival simulation (n = {n}, tau = {tau}): true RD {true_rd:.4}, IPTW {:.4} [{:.4}, {:.4}] \
         (bootstrap SE {:.4}), crude {:.4}; true RMST difference {true_rmst:.3}, IPTW {:.3} [{:.3}, {:.3}], crude {:.3}",
        rd.estimate,
        rd.lower,
        rd.upper,
        rd.std_err,
        crude.risk_difference.estimate,
        rm.estimate,
        rm.lower,
        rm.upper,
        crude.restricted_mean_difference.estimate
    );
    assert_eq!(adjusted.failed_replicates, 0);

    // The same with the propensity model refitted on every bootstrap sample.
    let refit = |rows: &[usize]| -> Result<Vec<f64>, models::ModelError> {
        let xs = x.select(ndarray::Axis(0), rows);
        let ts: Vec<bool> = rows.iter().map(|&i| treated[i]).collect();
        let ps = fit_propensity(
            &PropensityData::new(&ts, xs.view(), &names),
            &LogisticOptions::default(),
        )?;
        Ok(propensity_weights(&ps.score, &ts, &WeightOptions::default())?.weights)
    };
    let reestimated = models::adjusted::adjusted_comparison_reestimated(
        &outcome,
        &treated,
        refit,
        &AdjustedOptions {
            replicates: 100,
            ..options
        },
    )
    .expect("re-estimated");
    let rr = reestimated.risk_difference;
    println!(
        "  with the propensity score re-estimated per replicate: [{:.4}, {:.4}] (bootstrap SE {:.4})",
        rr.lower, rr.upper, rr.std_err
    );
    assert_eq!(rr.estimate, rd.estimate);
    assert_eq!(reestimated.failed_replicates, 0);
    assert!(rr.lower < true_rd && true_rd < rr.upper);
    assert!(
        rd.lower < true_rd && true_rd < rd.upper,
        "{rd:?} vs {true_rd}"
    );
    assert!(
        rm.lower < true_rmst && true_rmst < rm.upper,
        "{rm:?} vs {true_rmst}"
    );
    assert!(
        crude.risk_difference.estimate - true_rd > 3.0 * rd.std_err,
        "the crude risk difference should be biased upwards"
    );
}

#[test]
fn matching_recovers_the_effect_in_the_matched_treated() {
    // Matching is made for few treated among many controls: about one in eight treated here
    // (with one in four, greedy 1:1 matching leaves |SMD| 0.06 and a bias of about 0.02).
    let n = 12_000;
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut x = Array2::zeros((n, 2));
    let (mut treated, mut p0, mut p1, mut y) = (vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let x1: f64 = StandardNormal.sample(&mut rng);
        let x2 = f64::from(u8::from(rng.random::<f64>() < 0.4));
        x[[i, 0]] = x1;
        x[[i, 1]] = x2;
        let t = rng.random::<f64>() < sigmoid(-2.5 + 0.9 * x1 + 0.8 * x2);
        let lin = -1.0 + 1.0 * x1 + 0.8 * x2;
        let (a, b) = (sigmoid(lin), sigmoid(lin + 0.7));
        p0.push(a);
        p1.push(b);
        y.push(rng.random::<f64>() < if t { b } else { a });
        treated.push(t);
    }
    let names = vec!["x1".to_string(), "x2".to_string()];
    let ps = fit_propensity(
        &PropensityData::new(&treated, x.view(), &names),
        &LogisticOptions::default(),
    )
    .expect("propensity");
    let crude = weighted_difference(&y, &treated, &vec![1.0; n]);
    for options in [
        MatchingOptions::default(),
        MatchingOptions {
            ratio: 2,
            replacement: true,
            ..MatchingOptions::default()
        },
    ] {
        let m = match_nearest(&ps.logit, &treated, &options).expect("match");
        // The estimand: the effect in the treated rows that found a match.
        let truth = mean(m.sets.iter().map(|s| p1[s.treated] - p0[s.treated]));
        let estimate = weighted_difference(&y, &treated, &m.weights);
        let b = balance_table(x.view(), &names, &treated, Some(&m.weights)).expect("balance");
        println!(
            "matching {options:?}: {} of {} treated matched; truth {truth:.4}, matched {estimate:.4}, \
             crude {crude:.4}; max |SMD| {:.3} -> {:.3}",
            m.n_matched_treated, m.n_treated, b.max_abs_smd_before, b.max_abs_smd_after
        );
        assert!(m.n_unmatched_treated * 20 < m.n_treated);
        assert!(
            (estimate - truth).abs() < 0.03,
            "matched {estimate} vs {truth}"
        );
        assert!(crude - truth > 0.1);
        assert!(b.max_abs_smd_after < 0.1);
    }
}
