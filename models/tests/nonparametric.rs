//! The non-parametric estimators (Kaplan–Meier, Nelson–Aalen, quantiles, log-rank, Aalen–Johansen,
//! RMST, MCF) against R `survival`: every number of the fixtures written by
//! `models/tests/r/nonparametric.R` to 1e-6 relative (1e-9 absolute near 0); then properties
//! (row order, time scale, weight 2 = two rows, one cause = 1 − KM) and a simulation against
//! known cumulative incidences.

use std::sync::Mutex;

use models::aalen_johansen::{
    AalenJohansenOptions, CompetingRisks, CumulativeIncidence, aalen_johansen,
    aalen_johansen_by_group,
};
use models::km::{
    ConfType, FollowUp, KaplanMeierOptions, StdErrMethod, SurvivalCurve, kaplan_meier,
    kaplan_meier_by_group,
};
use models::logrank::{LogRankOptions, log_rank_test};
use models::mcf::{
    McfOptions, MeanCumulativeFunction, mean_cumulative_function, mean_cumulative_function_by_group,
};
use models::rmst::{restricted_mean_difference, restricted_mean_survival};
use proptest::prelude::*;
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Fixture plumbing
// ---------------------------------------------------------------------------------------------

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/nonparametric/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {path}: {e}"))
}

/// A JSON array of numbers and nulls (R vectors are always arrays in the fixtures).
fn nums(v: &Value) -> Vec<Option<f64>> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().map(Value::as_f64).collect(),
        other => vec![other.as_f64()],
    }
}

fn reals(v: &Value) -> Vec<f64> {
    nums(v)
        .into_iter()
        .map(|x| x.expect("a number, not null"))
        .collect()
}

fn scalar(v: &Value) -> Option<f64> {
    nums(v).first().copied().flatten()
}

fn optional_reals(v: &Value) -> Option<Vec<f64>> {
    if v.is_null() { None } else { Some(reals(v)) }
}

fn labels(v: &Value) -> Option<Vec<u32>> {
    optional_reals(v).map(|x| x.iter().map(|&g| g as u32).collect())
}

fn text(v: &Value) -> String {
    match v {
        Value::Array(a) => a
            .first()
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    }
}

fn conf_type(v: &Value) -> ConfType {
    match text(v).as_str() {
        "plain" => ConfType::Plain,
        "log-log" => ConfType::LogLog,
        _ => ConfType::Log,
    }
}

/// The largest relative deviation from R over every fixture, for the record.
static WORST: Mutex<(f64, String)> = Mutex::new((0.0, String::new()));

/// Compares numbers to R's: |a − b| <= 1e-6·|b| or <= 1e-9; collects failures.
struct Compare {
    context: String,
    worst: f64,
    worst_at: String,
    failures: Vec<String>,
}

impl Compare {
    fn new(context: &str) -> Self {
        Compare {
            context: context.to_string(),
            worst: 0.0,
            worst_at: String::new(),
            failures: Vec::new(),
        }
    }

    fn value(&mut self, what: &str, mine: Option<f64>, r: Option<f64>) {
        match (mine, r) {
            (None, None) => {}
            (Some(a), Some(b)) => {
                let diff = (a - b).abs();
                if b.abs() > 1e-9 && diff / b.abs() > self.worst {
                    self.worst = diff / b.abs();
                    self.worst_at = format!("{}: {what}", self.context);
                }
                if !(diff <= 1e-6 * b.abs() || diff <= 1e-9) {
                    self.failures
                        .push(format!("{what}: mine {a:.17e}, R {b:.17e}"));
                }
            }
            (a, b) => self.failures.push(format!("{what}: mine {a:?}, R {b:?}")),
        }
    }

    fn number(&mut self, what: &str, mine: f64, r: Option<f64>) {
        self.value(what, Some(mine), r);
    }

    fn numbers(&mut self, what: &str, mine: &[f64], r: &[Option<f64>]) {
        self.lengths(what, mine.len(), r.len());
        for (i, (&a, &b)) in mine.iter().zip(r).enumerate() {
            self.value(&format!("{what}[{i}]"), Some(a), b);
        }
    }

    fn options(&mut self, what: &str, mine: &[Option<f64>], r: &[Option<f64>]) {
        self.lengths(what, mine.len(), r.len());
        for (i, (&a, &b)) in mine.iter().zip(r).enumerate() {
            self.value(&format!("{what}[{i}]"), a, b);
        }
    }

    /// Standard errors of a survival probability: R gives NaN (0·∞) where the curve is 0,
    /// this crate gives 0 there.
    fn std_errs(&mut self, what: &str, mine: &[f64], survival: &[f64], r: &[Option<f64>]) {
        self.lengths(what, mine.len(), r.len());
        for (i, (&a, &b)) in mine.iter().zip(r).enumerate() {
            let b = if b.is_none() && survival[i] == 0.0 {
                Some(0.0)
            } else {
                b
            };
            self.value(&format!("{what}[{i}]"), Some(a), b);
        }
    }

    fn lengths(&mut self, what: &str, mine: usize, r: usize) {
        if mine != r {
            self.failures
                .push(format!("{what}: {mine} values, R has {r}"));
        }
    }

    fn finish(self) {
        {
            let mut worst = WORST.lock().expect("lock");
            if self.worst > worst.0 {
                *worst = (self.worst, self.worst_at.clone());
            }
            eprintln!(
                "{}: worst relative deviation from R {:.3e} ({}); overall so far {:.3e} ({})",
                self.context, self.worst, self.worst_at, worst.0, worst.1
            );
        }
        assert!(
            self.failures.is_empty(),
            "{}: {} differences from R, first ones:\n{}",
            self.context,
            self.failures.len(),
            self.failures
                .iter()
                .take(25)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Kaplan–Meier, Nelson–Aalen, quantiles, chosen times, RMST
// ---------------------------------------------------------------------------------------------

struct Columns {
    time: Vec<f64>,
    event: Vec<bool>,
    entry: Option<Vec<f64>>,
    weight: Option<Vec<f64>>,
    subject: Option<Vec<u32>>,
    group: Option<Vec<u32>>,
}

impl Columns {
    fn read(input: &Value) -> Columns {
        Columns {
            time: reals(&input["time"]),
            event: reals(&input["event"]).iter().map(|&e| e != 0.0).collect(),
            entry: optional_reals(&input["entry"]),
            weight: optional_reals(&input["weight"]),
            subject: labels(&input["subject"]),
            group: labels(&input["group"]),
        }
    }

    fn follow_up(&self) -> FollowUp<'_> {
        let mut data = FollowUp::new(&self.time, &self.event);
        if let Some(e) = &self.entry {
            data = data.with_entry(e);
        }
        if let Some(w) = &self.weight {
            data = data.with_weights(w);
        }
        if let Some(s) = &self.subject {
            data = data.with_subjects(s);
        }
        data
    }
}

fn compare_curve(
    c: &mut Compare,
    curve: &SurvivalCurve,
    r: &Value,
    options: &Value,
    with_subjects: bool,
) {
    c.numbers("time", &curve.time, &nums(&r["time"]));
    c.numbers("n_risk", &curve.n_risk, &nums(&r["n_risk"]));
    c.numbers("n_event", &curve.n_event, &nums(&r["n_event"]));
    c.numbers("n_censor", &curve.n_censor, &nums(&r["n_censor"]));
    // R 3.5 reports later entries only when subjects are given (without `id` its n.enter
    // holds the initial entries alone), so entries are compared in that case.
    if !r["n_enter"].is_null() && with_subjects {
        let mine = curve.n_enter.clone().unwrap_or_default();
        c.numbers("n_enter", &mine, &nums(&r["n_enter"]));
    }
    c.numbers("surv", &curve.survival, &nums(&r["surv"]));
    c.std_errs(
        "std_err",
        &curve.std_err,
        &curve.survival,
        &nums(&r["std_err"]),
    );
    c.options("lower", &curve.lower, &nums(&r["lower"]));
    c.options("upper", &curve.upper, &nums(&r["upper"]));
    c.numbers("cumhaz", &curve.cumulative_hazard, &nums(&r["cumhaz"]));
    c.numbers(
        "std_chaz",
        &curve.std_err_cumulative_hazard,
        &nums(&r["std_chaz"]),
    );

    let q = &r["quantile"];
    let quantiles = curve.quantiles(&reals(&q["probs"])).expect("quantiles");
    let pick = |f: fn(&models::km::SurvivalQuantile) -> Option<f64>| {
        quantiles.iter().map(f).collect::<Vec<_>>()
    };
    c.options("quantile", &pick(|q| q.time), &nums(&q["time"]));
    c.options("quantile lower", &pick(|q| q.lower), &nums(&q["lower"]));
    c.options("quantile upper", &pick(|q| q.upper), &nums(&q["upper"]));
    let printed = curve.printed_median();
    c.value(
        "printed median",
        printed.time,
        scalar(&r["printed"]["median"]),
    );
    c.value("printed LCL", printed.lower, scalar(&r["printed"]["lcl"]));
    c.value("printed UCL", printed.upper, scalar(&r["printed"]["ucl"]));

    let tau = scalar(&r["rmean"]["tau"]).expect("tau");
    let rmst = restricted_mean_survival(curve, tau, 0.95).expect("rmst");
    c.number("rmean", rmst.estimate, scalar(&r["rmean"]["rmean"]));
    c.number("se(rmean)", rmst.std_err, scalar(&r["rmean"]["se"]));

    let at = &r["at_times"];
    let rows = curve.at_times(&reals(&options["times"])).expect("at times");
    let col = |f: fn(&models::km::CurveAtTime) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    c.numbers("at time", &col(|x| x.time), &nums(&at["time"]));
    c.numbers("at n_risk", &col(|x| x.n_risk), &nums(&at["n_risk"]));
    c.numbers("at n_event", &col(|x| x.n_event), &nums(&at["n_event"]));
    c.numbers("at n_censor", &col(|x| x.n_censor), &nums(&at["n_censor"]));
    // (R's summary(times =) shifts n.enter by one row: survfit0 does not pad it.)
    c.numbers("at surv", &col(|x| x.survival), &nums(&at["surv"]));
    c.std_errs(
        "at std_err",
        &col(|x| x.std_err),
        &col(|x| x.survival),
        &nums(&at["std_err"]),
    );
    c.options(
        "at lower",
        &rows.iter().map(|x| x.lower).collect::<Vec<_>>(),
        &nums(&at["lower"]),
    );
    c.options(
        "at upper",
        &rows.iter().map(|x| x.upper).collect::<Vec<_>>(),
        &nums(&at["upper"]),
    );
    c.numbers(
        "at cumhaz",
        &col(|x| x.cumulative_hazard),
        &nums(&at["cumhaz"]),
    );
    c.numbers(
        "at std_chaz",
        &col(|x| x.std_err_cumulative_hazard),
        &nums(&at["std_chaz"]),
    );
}

#[test]
fn kaplan_meier_matches_r() {
    let fixture = fixture("km");
    let cases = fixture["cases"].as_array().expect("cases");
    assert!(cases.len() >= 15);
    for case in cases {
        let name = text(&case["name"]);
        let columns = Columns::read(&case["input"]);
        let o = &case["options"];
        let options = KaplanMeierOptions {
            conf_type: conf_type(&o["conf_type"]),
            conf_level: scalar(&o["conf_level"]).expect("level"),
            std_err: match text(&o["std_err"]).as_str() {
                "robust" => StdErrMethod::Robust,
                "greenwood" => StdErrMethod::Greenwood,
                _ => StdErrMethod::Auto,
            },
        };
        let data = columns.follow_up();
        let r_curves = case["curves"].as_array().expect("curves");
        let mut mine: Vec<(Option<u32>, SurvivalCurve)> = match &columns.group {
            None => vec![(None, kaplan_meier(&data, &options).expect("fit"))],
            Some(g) => kaplan_meier_by_group(&data, g, &options)
                .expect("fit")
                .into_iter()
                .map(|c| (Some(c.group), c.curve))
                .collect(),
        };
        assert_eq!(mine.len(), r_curves.len(), "{name}: number of curves");
        let mut c = Compare::new(&format!("km {name}"));
        for ((group, curve), r) in mine.iter().zip(r_curves) {
            assert_eq!(
                group.map(f64::from),
                scalar(&r["group"]),
                "{name}: group label"
            );
            let robust = case["robust_used"]
                .as_array()
                .and_then(|a| a[0].as_bool())
                .unwrap_or(false);
            assert_eq!(
                curve.std_err_method == StdErrMethod::Robust,
                robust || options.std_err == StdErrMethod::Robust
            );
            compare_curve(&mut c, curve, r, o, columns.subject.is_some());
        }
        if !case["rmst_difference"].is_null() {
            let r = &case["rmst_difference"];
            let tau = scalar(&o["tau"]).expect("tau");
            let second = mine.pop().expect("two curves").1;
            let first = mine.pop().expect("two curves").1;
            let d = restricted_mean_difference(&first, &second, tau, options.conf_level)
                .expect("difference");
            c.number("rmst difference", d.difference, scalar(&r["difference"]));
            c.number("rmst difference se", d.std_err, scalar(&r["std_err"]));
            c.number("rmst difference lower", d.lower, scalar(&r["lower"]));
            c.number("rmst difference upper", d.upper, scalar(&r["upper"]));
            c.number("rmst difference p", d.p_value, scalar(&r["p_value"]));
        }
        c.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// Log-rank and G(rho, gamma)
// ---------------------------------------------------------------------------------------------

#[test]
fn log_rank_matches_r() {
    let fixture = fixture("logrank");
    for case in fixture["cases"].as_array().expect("cases") {
        let name = text(&case["name"]);
        let columns = Columns::read(&case["input"]);
        let strata = labels(&case["input"]["strata"]);
        let group = columns.group.clone().expect("groups");
        let options = LogRankOptions {
            rho: scalar(&case["options"]["rho"]).expect("rho"),
            gamma: scalar(&case["options"]["gamma"]).expect("gamma"),
        };
        let test =
            log_rank_test(&columns.follow_up(), &group, strata.as_deref(), &options).expect("test");
        let r = &case["result"];
        let k = test.groups.len();
        let mut c = Compare::new(&format!("log-rank {name}"));
        c.numbers("observed", &test.observed, &nums(&r["observed"]));
        c.numbers("expected", &test.expected, &nums(&r["expected"]));
        // R's matrices are column-major.
        let variance: Vec<f64> = (0..k * k).map(|i| test.variance[i % k][i / k]).collect();
        c.numbers("variance", &variance, &nums(&r["variance"]));
        c.number("chisq", test.chi_square, scalar(&r["chisq"]));
        c.number("df", test.df as f64, scalar(&r["df"]));
        c.number("p", test.p_value, scalar(&r["p_value"]));
        if !r["observed_by_stratum"].is_null() {
            let obs: Vec<f64> = test
                .strata
                .iter()
                .flat_map(|s| s.observed.clone())
                .collect();
            let exp: Vec<f64> = test
                .strata
                .iter()
                .flat_map(|s| s.expected.clone())
                .collect();
            c.numbers(
                "observed by stratum",
                &obs,
                &nums(&r["observed_by_stratum"]),
            );
            c.numbers(
                "expected by stratum",
                &exp,
                &nums(&r["expected_by_stratum"]),
            );
        }
        c.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// Aalen–Johansen
// ---------------------------------------------------------------------------------------------

fn compare_incidence(
    c: &mut Compare,
    fit: &CumulativeIncidence,
    r: &Value,
    times: &[f64],
    weighted: bool,
) {
    let t = fit.time.len();
    c.numbers("time", &fit.time, &nums(&r["time"]));
    if !weighted {
        // R 3.5's multi-state survfit reports unweighted counts.
        c.numbers("n_risk", &fit.n_risk, &nums(&r["n_risk"]));
        c.numbers("n_censor", &fit.n_censor, &nums(&r["n_censor"]));
        let events: Vec<f64> = fit.causes.iter().flat_map(|k| k.n_event.clone()).collect();
        c.numbers("n_event", &events, &nums(&r["n_event"]));
    }
    // R's pstate and std.err are time × state, column-major, state 0 event-free.
    let states = |event_free: &[f64], per_cause: &dyn Fn(usize) -> Vec<f64>| -> Vec<f64> {
        let mut v = event_free.to_vec();
        for k in 0..fit.causes.len() {
            v.extend(per_cause(k));
        }
        v
    };
    c.numbers(
        "pstate",
        &states(&fit.event_free, &|k| fit.causes[k].incidence.clone()),
        &nums(&r["pstate"]),
    );
    c.numbers(
        "std_err",
        &states(&fit.std_err_event_free, &|k| fit.causes[k].std_err.clone()),
        &nums(&r["std_err"]),
    );
    let mut lower = fit.lower_event_free.clone();
    let mut upper = fit.upper_event_free.clone();
    for k in &fit.causes {
        lower.extend(k.lower.iter().copied());
        upper.extend(k.upper.iter().copied());
    }
    // Where a probability is exactly 0 here, R may carry a rounding residue (~1e-14, from
    // its running sums of weights) and so a band around it instead of NA: skip those.
    let mut mine_p = fit.event_free.clone();
    fit.causes
        .iter()
        .for_each(|k| mine_p.extend(k.incidence.iter().copied()));
    let r_p = nums(&r["pstate"]);
    let residue =
        |i: usize| mine_p[i] == 0.0 && r_p[i].is_some_and(|p| p != 0.0 && p.abs() < 1e-12);
    let keep = |v: &[Option<f64>]| -> Vec<Option<f64>> {
        v.iter()
            .enumerate()
            .map(|(i, x)| if residue(i) { None } else { *x })
            .collect()
    };
    c.options("lower", &keep(&lower), &keep(&nums(&r["lower"])));
    c.options("upper", &keep(&upper), &keep(&nums(&r["upper"])));
    assert_eq!(lower.len(), t * (fit.causes.len() + 1));

    let at = &r["at_times"];
    let rows = fit.at_times(times).expect("at times");
    let m = rows.len();
    let by_state = |ev: fn(&models::aalen_johansen::IncidenceAtTime) -> f64,
                    cause: fn(&models::aalen_johansen::IncidenceAtTime, usize) -> f64|
     -> Vec<f64> {
        let mut v: Vec<f64> = rows.iter().map(ev).collect();
        for k in 0..fit.causes.len() {
            v.extend(rows.iter().map(|x| cause(x, k)));
        }
        v
    };
    c.numbers(
        "at time",
        &rows.iter().map(|x| x.time).collect::<Vec<_>>(),
        &nums(&at["time"]),
    );
    c.numbers(
        "at pstate",
        &by_state(|x| x.event_free, |x, k| x.incidence[k]),
        &nums(&at["pstate"]),
    );
    c.numbers(
        "at std_err",
        &by_state(|x| x.std_err_event_free, |x, k| x.std_err[k]),
        &nums(&at["std_err"]),
    );
    // The band of the causes (R's columns 2..); R's event-free band at time zero is (0, 0).
    let r_lower = nums(&at["lower"]);
    let r_upper = nums(&at["upper"]);
    for k in 0..fit.causes.len() {
        let mine_l: Vec<Option<f64>> = rows.iter().map(|x| x.lower[k]).collect();
        let mine_u: Vec<Option<f64>> = rows.iter().map(|x| x.upper[k]).collect();
        c.options("at lower", &mine_l, &r_lower[(k + 1) * m..(k + 2) * m]);
        c.options("at upper", &mine_u, &r_upper[(k + 1) * m..(k + 2) * m]);
    }
    if !weighted {
        c.numbers(
            "at n_risk",
            &rows.iter().map(|x| x.n_risk).collect::<Vec<_>>(),
            &nums(&at["n_risk"]),
        );
        c.numbers(
            "at n_censor",
            &rows.iter().map(|x| x.n_censor).collect::<Vec<_>>(),
            &nums(&at["n_censor"]),
        );
        let mut ev = Vec::new();
        for k in 0..fit.causes.len() {
            ev.extend(rows.iter().map(|x| x.n_event[k]));
        }
        c.numbers("at n_event", &ev, &nums(&at["n_event"]));
    }
}

#[test]
fn aalen_johansen_matches_r() {
    let fixture = fixture("aalen_johansen");
    for case in fixture["cases"].as_array().expect("cases") {
        let name = text(&case["name"]);
        let input = &case["input"];
        let time = reals(&input["time"]);
        let cause = labels(&input["cause"]).expect("cause");
        let entry = optional_reals(&input["entry"]);
        let weight = optional_reals(&input["weight"]);
        let group = labels(&input["group"]);
        let mut data = CompetingRisks::new(&time, &cause);
        if let Some(e) = &entry {
            data = data.with_entry(e);
        }
        if let Some(w) = &weight {
            data = data.with_weights(w);
        }
        let o = &case["options"];
        let options = AalenJohansenOptions {
            conf_type: conf_type(&o["conf_type"]),
            conf_level: scalar(&o["conf_level"]).expect("level"),
        };
        let fits: Vec<CumulativeIncidence> = match &group {
            None => vec![aalen_johansen(&data, &options).expect("fit")],
            Some(g) => aalen_johansen_by_group(&data, g, &options)
                .expect("fit")
                .into_iter()
                .map(|g| g.incidence)
                .collect(),
        };
        let r_curves = case["curves"].as_array().expect("curves");
        assert_eq!(fits.len(), r_curves.len());
        let mut c = Compare::new(&format!("aalen-johansen {name}"));
        for (fit, r) in fits.iter().zip(r_curves) {
            assert_eq!(
                fit.causes.iter().map(|k| k.cause).collect::<Vec<_>>(),
                vec![1, 2]
            );
            compare_incidence(&mut c, fit, r, &reals(&o["times"]), weight.is_some());
        }
        c.finish();
    }
}

// ---------------------------------------------------------------------------------------------
// Mean cumulative function
// ---------------------------------------------------------------------------------------------

#[test]
fn mean_cumulative_function_matches_r() {
    let fixture = fixture("mcf");
    for case in fixture["cases"].as_array().expect("cases") {
        let name = text(&case["name"]);
        let columns = Columns::read(&case["input"]);
        let data = columns.follow_up();
        let options = McfOptions::default();
        let fits: Vec<MeanCumulativeFunction> = match &columns.group {
            None => vec![mean_cumulative_function(&data, &options).expect("mcf")],
            Some(g) => mean_cumulative_function_by_group(&data, g, &options)
                .expect("mcf")
                .into_iter()
                .map(|g| g.mcf)
                .collect(),
        };
        let r_curves = case["curves"].as_array().expect("curves");
        assert_eq!(fits.len(), r_curves.len());
        let mut c = Compare::new(&format!("mcf {name}"));
        for (fit, r) in fits.iter().zip(r_curves) {
            c.numbers("time", &fit.time, &nums(&r["time"]));
            c.numbers("n_risk", &fit.n_risk, &nums(&r["n_risk"]));
            c.numbers("n_event", &fit.n_event, &nums(&r["n_event"]));
            c.numbers("mean", &fit.mean, &nums(&r["mean"]));
            c.numbers("std_err", &fit.std_err, &nums(&r["std_err"]));
            c.options("lower", &fit.lower, &nums(&r["lower"]));
            c.options("upper", &fit.upper, &nums(&r["upper"]));
            let at = &r["at_times"];
            let rows = fit
                .at_times(&reals(&case["options"]["times"]))
                .expect("at times");
            c.numbers(
                "at mean",
                &rows.iter().map(|x| x.mean).collect::<Vec<_>>(),
                &nums(&at["mean"]),
            );
            c.numbers(
                "at std_err",
                &rows.iter().map(|x| x.std_err).collect::<Vec<_>>(),
                &nums(&at["std_err"]),
            );
            c.options(
                "at lower",
                &rows.iter().map(|x| x.lower).collect::<Vec<_>>(),
                &nums(&at["lower"]),
            );
            c.options(
                "at upper",
                &rows.iter().map(|x| x.upper).collect::<Vec<_>>(),
                &nums(&at["upper"]),
            );
        }
        c.finish();
    }
}

#[test]
fn fixtures_record_their_provenance() {
    for name in ["km", "logrank", "aalen_johansen", "mcf"] {
        let f = fixture(name);
        assert_eq!(
            text(&f["provenance"]["survival_version"]),
            "3.5.3",
            "{name}"
        );
        assert!(
            text(&f["provenance"]["session_info"]).contains("survival"),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Rows {
    time: Vec<f64>,
    cause: Vec<u32>,
    weight: Vec<f64>,
    group: Vec<u32>,
}

impl Rows {
    fn event(&self) -> Vec<bool> {
        self.cause.iter().map(|&c| c > 0).collect()
    }
}

/// Small data sets with heavy ties (integer times) and two groups, two causes.
fn rows() -> impl Strategy<Value = Rows> {
    (4usize..50).prop_flat_map(|n| {
        (
            proptest::collection::vec(1u32..15, n),
            proptest::collection::vec(0u32..3, n),
            proptest::collection::vec(1u32..4, n),
            proptest::collection::vec(0u32..2, n),
        )
            .prop_map(|(t, c, w, g)| Rows {
                time: t.iter().map(|&x| f64::from(x)).collect(),
                cause: c,
                weight: w.iter().map(|&x| f64::from(x) / 2.0).collect(),
                group: g,
            })
    })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn close_all(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| close(x, y))
}

fn close_options(a: &[Option<f64>], b: &[Option<f64>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => close(*x, *y),
            (None, None) => true,
            _ => false,
        })
}

fn same_curve(a: &SurvivalCurve, b: &SurvivalCurve) -> bool {
    close_all(&a.survival, &b.survival)
        && close_all(&a.std_err, &b.std_err)
        && close_all(&a.cumulative_hazard, &b.cumulative_hazard)
        && close_all(&a.std_err_cumulative_hazard, &b.std_err_cumulative_hazard)
        && close_all(&a.n_risk, &b.n_risk)
        && close_options(&a.lower, &b.lower)
        && close_options(&a.upper, &b.upper)
}

fn same_incidence(a: &CumulativeIncidence, b: &CumulativeIncidence, with_std_err: bool) -> bool {
    close_all(&a.event_free, &b.event_free)
        && a.causes.iter().zip(&b.causes).all(|(x, y)| {
            close_all(&x.incidence, &y.incidence)
                && (!with_std_err || close_all(&x.std_err, &y.std_err))
        })
}

fn permute(rows: &Rows, order: &[usize]) -> Rows {
    Rows {
        time: order.iter().map(|&i| rows.time[i]).collect(),
        cause: order.iter().map(|&i| rows.cause[i]).collect(),
        weight: order.iter().map(|&i| rows.weight[i]).collect(),
        group: order.iter().map(|&i| rows.group[i]).collect(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn estimates_do_not_depend_on_row_order(rows in rows(), seed in any::<u64>()) {
        let n = rows.time.len();
        let mut order: Vec<usize> = (0..n).collect();
        // A seeded Fisher–Yates shuffle.
        let mut state = seed | 1;
        for i in (1..n).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let shuffled = permute(&rows, &order);
        let options = KaplanMeierOptions::default();
        for robust in [StdErrMethod::Greenwood, StdErrMethod::Robust] {
            let o = KaplanMeierOptions { std_err: robust, ..options };
            let (e1, e2) = (rows.event(), shuffled.event());
            let a = kaplan_meier(&FollowUp::new(&rows.time, &e1).with_weights(&rows.weight), &o).expect("fit");
            let b = kaplan_meier(&FollowUp::new(&shuffled.time, &e2).with_weights(&shuffled.weight), &o).expect("fit");
            prop_assert!(same_curve(&a, &b));
        }
        let (e1, e2) = (rows.event(), shuffled.event());
        let t1 = log_rank_test(&FollowUp::new(&rows.time, &e1).with_weights(&rows.weight), &rows.group, None, &LogRankOptions { rho: 1.0, gamma: 0.5 });
        let t2 = log_rank_test(&FollowUp::new(&shuffled.time, &e2).with_weights(&shuffled.weight), &shuffled.group, None, &LogRankOptions { rho: 1.0, gamma: 0.5 });
        match (t1, t2) {
            (Ok(a), Ok(b)) => prop_assert!(close(a.chi_square, b.chi_square) && close_all(&a.expected, &b.expected)),
            (a, b) => prop_assert_eq!(a.is_err(), b.is_err()),
        }
        let a = aalen_johansen(&CompetingRisks::new(&rows.time, &rows.cause).with_weights(&rows.weight), &AalenJohansenOptions::default()).expect("fit");
        let b = aalen_johansen(&CompetingRisks::new(&shuffled.time, &shuffled.cause).with_weights(&shuffled.weight), &AalenJohansenOptions::default()).expect("fit");
        prop_assert!(same_incidence(&a, &b, true));
    }

    #[test]
    fn estimates_follow_a_common_rescaling_of_time(rows in rows(), scale in prop_oneof![Just(2.0), Just(0.37), Just(1.0 / 7.0), Just(30.4375)]) {
        let scaled: Vec<f64> = rows.time.iter().map(|t| t * scale).collect();
        let event = rows.event();
        let options = KaplanMeierOptions::default();
        let a = kaplan_meier(&FollowUp::new(&rows.time, &event), &options).expect("fit");
        let b = kaplan_meier(&FollowUp::new(&scaled, &event), &options).expect("fit");
        prop_assert!(same_curve(&a, &b));
        prop_assert!(a.time.iter().zip(&b.time).all(|(x, y)| close(x * scale, *y)));
        let qa = a.quantiles(&[0.25, 0.5]).expect("q");
        let qb = b.quantiles(&[0.25, 0.5]).expect("q");
        for (x, y) in qa.iter().zip(&qb) {
            prop_assert_eq!(x.time.is_some(), y.time.is_some());
            if let (Some(x), Some(y)) = (x.time, y.time) { prop_assert!(close(x * scale, y)); }
        }
        let ra = restricted_mean_survival(&a, 10.0, 0.95).expect("rmst");
        let rb = restricted_mean_survival(&b, 10.0 * scale, 0.95).expect("rmst");
        prop_assert!(close(ra.estimate * scale, rb.estimate) && close(ra.std_err * scale, rb.std_err));
        let ta = log_rank_test(&FollowUp::new(&rows.time, &event), &rows.group, None, &LogRankOptions::default());
        let tb = log_rank_test(&FollowUp::new(&scaled, &event), &rows.group, None, &LogRankOptions::default());
        if let (Ok(x), Ok(y)) = (&ta, &tb) { prop_assert!(close(x.chi_square, y.chi_square)); }
        prop_assert_eq!(ta.is_ok(), tb.is_ok());
        let ca = aalen_johansen(&CompetingRisks::new(&rows.time, &rows.cause), &AalenJohansenOptions::default()).expect("fit");
        let cb = aalen_johansen(&CompetingRisks::new(&scaled, &rows.cause), &AalenJohansenOptions::default()).expect("fit");
        prop_assert!(same_incidence(&ca, &cb, true));
    }

    #[test]
    fn weight_two_is_two_identical_rows(rows in rows()) {
        // Integer weights 1 or 2 and the same data with the weight-2 rows written twice.
        let weight: Vec<f64> = rows.weight.iter().map(|&w| if w > 1.0 { 2.0 } else { 1.0 }).collect();
        let mut twice = Rows { time: vec![], cause: vec![], weight: vec![], group: vec![] };
        for (i, &w) in weight.iter().enumerate() {
            for _ in 0..(w as usize) {
                twice.time.push(rows.time[i]);
                twice.cause.push(rows.cause[i]);
                twice.group.push(rows.group[i]);
            }
        }
        let (e1, e2) = (rows.event(), twice.event());
        let weighted = FollowUp::new(&rows.time, &e1).with_weights(&weight);
        let doubled = FollowUp::new(&twice.time, &e2);
        let options = KaplanMeierOptions::default();
        prop_assert!(same_curve(&kaplan_meier(&weighted, &options).expect("fit"), &kaplan_meier(&doubled, &options).expect("fit")));
        for (rho, gamma) in [(0.0, 0.0), (1.0, 0.0), (0.5, 1.0)] {
            let o = LogRankOptions { rho, gamma };
            match (log_rank_test(&weighted, &rows.group, None, &o), log_rank_test(&doubled, &twice.group, None, &o)) {
                (Ok(a), Ok(b)) => {
                    prop_assert!(close(a.chi_square, b.chi_square));
                    prop_assert!(close_all(&a.observed, &b.observed) && close_all(&a.expected, &b.expected));
                    prop_assert!(close_all(&a.n, &b.n));
                }
                (a, b) => prop_assert_eq!(a.is_err(), b.is_err()),
            }
        }
        // Aalen–Johansen estimates agree; its jackknife standard error counts rows as
        // subjects, so two rows are two subjects and the errors differ by design.
        let a = aalen_johansen(&CompetingRisks::new(&rows.time, &rows.cause).with_weights(&weight), &AalenJohansenOptions::default()).expect("fit");
        let b = aalen_johansen(&CompetingRisks::new(&twice.time, &twice.cause), &AalenJohansenOptions::default()).expect("fit");
        prop_assert!(same_incidence(&a, &b, false));
        prop_assert!(close_all(&a.n_risk, &b.n_risk));
    }

    #[test]
    fn one_cause_is_one_minus_kaplan_meier(rows in rows(), entry_share in 0.0f64..0.8) {
        let cause: Vec<u32> = rows.cause.iter().map(|&c| u32::from(c > 0)).collect();
        let event = rows.event();
        let entry: Vec<f64> = rows.time.iter().map(|t| (t * entry_share).floor().min(t - 1.0)).collect();
        let km = kaplan_meier(
            &FollowUp::new(&rows.time, &event).with_weights(&rows.weight).with_entry(&entry),
            &KaplanMeierOptions { std_err: StdErrMethod::Robust, ..KaplanMeierOptions::default() },
        ).expect("fit");
        let aj = aalen_johansen(
            &CompetingRisks::new(&rows.time, &cause).with_weights(&rows.weight).with_entry(&entry),
            &AalenJohansenOptions::default(),
        ).expect("fit");
        prop_assert!(close_all(&aj.event_free, &km.survival));
        prop_assert!(close_all(&aj.std_err_event_free, &km.std_err));
        if let Some(k) = aj.causes.first() {
            let one_minus: Vec<f64> = km.survival.iter().map(|s| 1.0 - s).collect();
            prop_assert!(close_all(&k.incidence, &one_minus));
            prop_assert!(close_all(&k.std_err, &km.std_err));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Simulation against known truth
// ---------------------------------------------------------------------------------------------

/// Two competing causes with Weibull proportional hazards and a common shape ν: cause k has
/// cumulative hazard λ_k·t^ν, so CIF_k(t) = λ_k/Σλ · (1 − exp(−Σλ·t^ν)); uniform censoring.
fn weibull_competing_risks(n: usize, seed: u64) -> (Vec<f64>, Vec<u32>) {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Exp1};

    let total: f64 = WEIBULL_RATES.iter().sum();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut time = Vec::with_capacity(n);
    let mut cause = Vec::with_capacity(n);
    for _ in 0..n {
        let e: f64 = Exp1.sample(&mut rng);
        let t = (e / total).powf(1.0 / WEIBULL_SHAPE);
        let k = if rng.random::<f64>() < WEIBULL_RATES[0] / total {
            1
        } else {
            2
        };
        let censor = rng.random::<f64>() * 40.0;
        if censor < t {
            time.push(censor);
            cause.push(0);
        } else {
            time.push(t);
            cause.push(k);
        }
    }
    (time, cause)
}

const WEIBULL_SHAPE: f64 = 1.5;
const WEIBULL_RATES: [f64; 2] = [0.02, 0.01];

fn weibull_cif(cause: usize, t: f64) -> f64 {
    let total: f64 = WEIBULL_RATES.iter().sum();
    WEIBULL_RATES[cause] / total * (1.0 - (-total * t.powf(WEIBULL_SHAPE)).exp())
}

const Z95: f64 = 1.959_963_984_540_054;

/// One large sample (n = 20 000, fixed seed): the estimate lies within its 95% band of the
/// truth at every checked time, for both causes.
#[test]
fn aalen_johansen_recovers_weibull_cumulative_incidence() {
    let (time, cause) = weibull_competing_risks(20_000, 7);
    let fit = aalen_johansen(
        &CompetingRisks::new(&time, &cause),
        &AalenJohansenOptions::default(),
    )
    .expect("fit");
    for t in [2.0_f64, 5.0, 10.0, 15.0, 20.0] {
        let i = fit.time.partition_point(|&x| x <= t) - 1;
        for k in 0..2 {
            let truth = weibull_cif(k, t);
            let (estimate, se) = (fit.causes[k].incidence[i], fit.causes[k].std_err[i]);
            assert!(
                (estimate - truth).abs() <= Z95 * se,
                "cause {} at t={t}: estimate {estimate:.5} ± {:.5}, truth {truth:.5}",
                k + 1,
                Z95 * se
            );
            assert!(se > 0.0 && se < 0.01);
        }
    }
}

/// Coverage over 300 seeded replicates of n = 1 000: the 95% bands (log scale, R's default)
/// cover the true cumulative incidence 90–99% of the time at each checked time and cause.
#[test]
fn aalen_johansen_bands_cover_the_truth() {
    let times = [5.0_f64, 10.0, 15.0];
    let replicates = 300;
    let mut covered = [[0usize; 3]; 2];
    for seed in 0..replicates {
        let (time, cause) = weibull_competing_risks(1_000, 1_000 + seed);
        let fit = aalen_johansen(
            &CompetingRisks::new(&time, &cause),
            &AalenJohansenOptions::default(),
        )
        .expect("fit");
        for (j, &t) in times.iter().enumerate() {
            let i = fit.time.partition_point(|&x| x <= t) - 1;
            for (k, row) in covered.iter_mut().enumerate() {
                let truth = weibull_cif(k, t);
                let c = &fit.causes[k];
                if let (Some(lo), Some(hi)) = (c.lower[i], c.upper[i])
                    && lo <= truth
                    && truth <= hi
                {
                    row[j] += 1;
                }
            }
        }
    }
    for (k, row) in covered.iter().enumerate() {
        for (j, &hits) in row.iter().enumerate() {
            let coverage = hits as f64 / replicates as f64;
            assert!(
                (0.90..=0.99).contains(&coverage),
                "cause {} at t={}: coverage {coverage}",
                k + 1,
                times[j]
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors name the row or column
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_input_is_refused_with_the_row() {
    use models::ModelError;
    let time = [3.0, 2.0, -1.0];
    let event = [true, false, true];
    let err = kaplan_meier(
        &FollowUp::new(&time, &event),
        &KaplanMeierOptions::default(),
    )
    .expect_err("negative time");
    assert!(
        matches!(err, ModelError::InvalidValue { row: 2, .. }),
        "{err}"
    );
    let entry = [0.0, 2.0, 0.0];
    let time = [3.0, 2.0, 1.0];
    let err = kaplan_meier(
        &FollowUp::new(&time, &event).with_entry(&entry),
        &KaplanMeierOptions::default(),
    )
    .expect_err("entry not before exit");
    assert!(
        matches!(err, ModelError::InvalidValue { row: 1, .. }),
        "{err}"
    );
    let err = log_rank_test(
        &FollowUp::new(&time, &event),
        &[0, 0],
        None,
        &LogRankOptions::default(),
    )
    .expect_err("short group column");
    assert!(
        matches!(err, ModelError::LengthMismatch { ref column, .. } if column == "group"),
        "{err}"
    );
    let err = log_rank_test(
        &FollowUp::new(&time, &event),
        &[1, 1, 1],
        None,
        &LogRankOptions::default(),
    )
    .expect_err("one group");
    assert!(matches!(err, ModelError::Unsupported(_)), "{err}");
    let err = aalen_johansen(
        &CompetingRisks::new(&time, &[1, 2, 0]).with_weights(&[1.0, f64::NAN, 1.0]),
        &AalenJohansenOptions::default(),
    )
    .expect_err("NaN weight");
    assert!(
        matches!(err, ModelError::InvalidValue { row: 1, .. }),
        "{err}"
    );
    let err = mean_cumulative_function(&FollowUp::new(&time, &event), &McfOptions::default())
        .expect_err("no subjects");
    assert!(matches!(err, ModelError::Unsupported(_)), "{err}");
    let curve = kaplan_meier(
        &FollowUp::new(&time, &event),
        &KaplanMeierOptions::default(),
    )
    .expect("fit");
    assert!(curve.quantiles(&[1.5]).is_err());
    assert!(curve.at_times(&[f64::NAN]).is_err());
    assert!(restricted_mean_survival(&curve, -1.0, 0.95).is_err());
}
