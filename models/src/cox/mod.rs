//! Cox proportional-hazards regression, identical to R's `survival::coxph`: Efron and Breslow
//! ties, strata, case weights, (start, stop] counting-process data (time-varying covariates,
//! delayed entry, Andersen–Gill recurrent events), the cluster-robust sandwich variance, the
//! likelihood-ratio / Wald / score tests, Harrell's concordance, residuals, the PH test of
//! `cox.zph`, and baseline hazards and predicted survival curves.
//!
//! ```no_run
//! use models::cox::{CoxData, CoxModel, CoxOptions};
//! # fn main() -> Result<(), models::ModelError> {
//! # let (time, event, x, names) = (vec![1.0], vec![true], ndarray::Array2::zeros((1, 1)), vec!["age".to_string()]);
//! let data = CoxData::new(&time, &event, x.view(), &names);
//! let model = CoxModel::fit(&data, &CoxOptions::default())?;
//! println!("{:?}", model.summary().coefficients);
//! # Ok(()) }
//! ```
//!
//! The fit follows R step for step (Newton–Raphson from β = 0 with step halving, convergence on
//! the relative change of the log-likelihood, the same pivot tolerance), so coefficients agree
//! with R to rounding. Where R only warns, this module refuses with a typed error: a collinear
//! column ([`ModelError::Collinear`]), a coefficient running to infinity
//! ([`ModelError::MonotoneLikelihood`]), no convergence ([`ModelError::NotConverged`]).
//!
//! Not as in R: times are taken as given (R's default `timefix` merges times closer than
//! about 1e-8 of each other, relative to the largest; with distinct or integer-valued times
//! the two agree); `ties = "exact"`, offsets, `tt()`, frailty and penalised terms and
//! multi-state models are not offered.
//!
//! Speed: right-censored data with a moderate number of distinct event times are evaluated in
//! input order with per-event-time sums that stay in cache; other data on one sorted copy with
//! a risk-set sweep. The information is a weighted sum of outer products computed in parallel
//! over fixed chunks of rows and reduced in a fixed order, so results do not depend on the
//! number of threads.

// Numerical kernels index several arrays with one loop variable.
#![allow(clippy::needless_range_loop)]

mod concordance;
mod engine;
pub(crate) mod linalg;
mod newton;
mod residuals;
mod survfit;
mod zph;

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;
use serde::Serialize;

use crate::ModelError;
use crate::design::{DesignMatrix, DesignTerm};
use crate::dist::{chi_square_sf, normal_quantile};

pub use concordance::Concordance;
pub use survfit::{BaselineHazard, SurvivalCurve};
pub use zph::{CoxZph, ZphTest};

use engine::{Prepared, RawData, Workspace};
use linalg::Ldl;
use newton::{Controls, NewtonOutcome};
use residuals::RiskState;

/// How tied event times are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum Ties {
    /// Efron's approximation (R's default).
    #[default]
    Efron,
    /// Breslow's approximation.
    Breslow,
}

/// Time transform of the proportional-hazards test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ZphTransform {
    /// 1 − Kaplan–Meier (R's default).
    #[default]
    Km,
    /// Time itself.
    Identity,
    /// Rank of the time.
    Rank,
}

/// The columns of a Cox model: one entry per row (interval for counting-process data).
#[derive(Debug, Clone, Copy)]
pub struct CoxData<'a> {
    /// Entry times of (start, stop] data; `None` for right-censored data.
    pub start: Option<&'a [f64]>,
    /// Event or censoring times (interval ends).
    pub stop: &'a [f64],
    /// True where the row ends with the event.
    pub event: &'a [bool],
    /// Covariates, rows × columns.
    pub x: ArrayView2<'a, f64>,
    /// Column names of `x`.
    pub covariate_names: &'a [String],
    /// Terms (groups of columns, e.g. the indicators of one categorical covariate) for the
    /// per-term PH test; `None`: every column is its own term.
    pub terms: Option<&'a [DesignTerm]>,
    /// Stratum codes: separate baseline hazards per code.
    pub strata: Option<&'a [u32]>,
    /// Case weights (> 0).
    pub weights: Option<&'a [f64]>,
    /// Cluster identifiers for the robust (sandwich) variance, as R's `cluster()`.
    pub cluster: Option<&'a [u64]>,
}

impl<'a> CoxData<'a> {
    /// Right-censored data.
    pub fn new(
        stop: &'a [f64],
        event: &'a [bool],
        x: ArrayView2<'a, f64>,
        covariate_names: &'a [String],
    ) -> Self {
        CoxData {
            start: None,
            stop,
            event,
            x,
            covariate_names,
            terms: None,
            strata: None,
            weights: None,
            cluster: None,
        }
    }

    /// Data whose covariates, names and terms come from a design matrix (times and events already
    /// restricted to the design's kept rows).
    pub fn from_design(design: &'a DesignMatrix, stop: &'a [f64], event: &'a [bool]) -> Self {
        let mut d = CoxData::new(stop, event, design.x.view(), &design.column_names);
        d.terms = Some(&design.terms);
        d
    }

    /// (start, stop] data.
    pub fn with_start(mut self, start: &'a [f64]) -> Self {
        self.start = Some(start);
        self
    }

    /// Stratum codes: a separate baseline hazard per code.
    pub fn with_strata(mut self, strata: &'a [u32]) -> Self {
        self.strata = Some(strata);
        self
    }

    /// Case weights (> 0).
    pub fn with_weights(mut self, weights: &'a [f64]) -> Self {
        self.weights = Some(weights);
        self
    }

    /// Cluster identifiers: the robust variance sums the score residuals per cluster.
    pub fn with_cluster(mut self, cluster: &'a [u64]) -> Self {
        self.cluster = Some(cluster);
        self
    }

    /// Terms (column groups) for the per-term PH test.
    pub fn with_terms(mut self, terms: &'a [DesignTerm]) -> Self {
        self.terms = Some(terms);
        self
    }

    fn n(&self) -> usize {
        self.stop.len()
    }
}

/// Options of the fit; the defaults are R's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxOptions {
    pub ties: Ties,
    /// Newton–Raphson iterations (R: 20).
    pub max_iter: usize,
    /// Convergence: relative change of the log-likelihood (R: 1e-9).
    pub eps: f64,
    /// Pivot tolerance of the Cholesky factorisation (R: .Machine$double.eps^0.75).
    pub toler_chol: f64,
    /// Threshold of the infinite-coefficient check (R: sqrt(eps)).
    pub toler_inf: f64,
    /// Confidence level of the hazard-ratio intervals and survival curves.
    pub conf_level: f64,
    /// Robust (sandwich) variance; `None`: as R, when clusters are given or a weight is not an
    /// integer (then with one cluster per row).
    pub robust: Option<bool>,
    /// Compute Harrell's concordance (O(n log n)).
    pub concordance: bool,
}

impl Default for CoxOptions {
    fn default() -> Self {
        CoxOptions {
            ties: Ties::Efron,
            max_iter: 20,
            eps: 1e-9,
            toler_chol: f64::EPSILON.powf(0.75),
            toler_inf: 1e-9_f64.sqrt(),
            conf_level: 0.95,
            robust: None,
            concordance: true,
        }
    }
}

/// One coefficient of the fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxCoefficient {
    pub name: String,
    /// log hazard ratio.
    pub coef: f64,
    pub hazard_ratio: f64,
    /// Model-based standard error.
    pub se: f64,
    /// Robust (sandwich) standard error, when the fit is robust; z, p and the interval use it.
    pub robust_se: Option<f64>,
    pub z: f64,
    pub p_value: f64,
    pub hr_lower: f64,
    pub hr_upper: f64,
}

/// A chi-square test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChiSquareTest {
    pub statistic: f64,
    pub df: usize,
    pub p_value: f64,
}

impl ChiSquareTest {
    fn new(statistic: f64, df: usize) -> Self {
        ChiSquareTest {
            statistic,
            df,
            p_value: chi_square_sf(statistic, df as f64),
        }
    }
}

/// The result of a Cox fit, as `summary(coxph(...))` reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxFit {
    pub ties: Ties,
    pub counting_process: bool,
    /// Rows used.
    pub n: usize,
    /// Number of events (unweighted).
    pub n_events: usize,
    pub n_strata: usize,
    /// Number of clusters of the robust variance, when robust.
    pub n_clusters: Option<usize>,
    pub coefficients: Vec<CoxCoefficient>,
    /// Variance of the coefficients used for inference (robust when `robust`), row-major.
    pub variance: Vec<Vec<f64>>,
    /// Model-based variance (inverse information).
    pub naive_variance: Vec<Vec<f64>>,
    pub robust: bool,
    /// Covariate means as R reports them (the centring of `basehaz`): weighted means for
    /// right-censored data, plain means for counting-process data, 0 for columns in {-1, 0, 1}.
    pub means: Vec<f64>,
    /// Log partial likelihood at β = 0 and at β̂.
    pub loglik_initial: f64,
    pub loglik: f64,
    pub iterations: usize,
    pub likelihood_ratio: ChiSquareTest,
    /// Wald test (with the robust variance when robust).
    pub wald: ChiSquareTest,
    /// Score (log-rank) test.
    pub score: ChiSquareTest,
    /// Robust score test, when robust.
    pub robust_score: Option<ChiSquareTest>,
    /// R's `rsq`: 1 − exp(−LR/n), and its maximum 1 − exp(2 ℓ₀/n).
    pub r_squared: f64,
    pub max_r_squared: f64,
    /// Harrell's concordance (`None` when not requested or when no pair is comparable).
    pub concordance: Option<Concordance>,
    pub conf_level: f64,
}

/// A covariate profile for a predicted survival curve: a design row and its stratum.
#[derive(Debug, Clone, PartialEq)]
pub struct CovariateProfile {
    pub x: Vec<f64>,
    /// Required when the model has strata.
    pub stratum: Option<u32>,
}

/// A fitted Cox model with its (borrowed) data, for residuals, the PH test and predictions.
#[derive(Debug, Clone)]
pub struct CoxModel<'a> {
    data: CoxData<'a>,
    options: CoxOptions,
    prep: Prepared<'a>,
    beta_scaled: Vec<f64>,
    beta: Vec<f64>,
    naive_var: Vec<f64>,
    var: Vec<f64>,
    summary: CoxFit,
}

/// Fits the model and returns its summary.
pub fn fit(data: &CoxData<'_>, options: &CoxOptions) -> Result<CoxFit, ModelError> {
    CoxModel::fit(data, options).map(|m| m.summary)
}

fn validate(data: &CoxData<'_>) -> Result<(), ModelError> {
    let n = data.n();
    let check = |name: &str, len: usize| crate::km::check_length(name, n, len);
    check("event", data.event.len())?;
    check("covariates", data.x.nrows())?;
    if let Some(s) = data.start {
        check("start", s.len())?;
    }
    if let Some(s) = data.strata {
        check("strata", s.len())?;
    }
    if let Some(w) = data.weights {
        check("weights", w.len())?;
    }
    if let Some(c) = data.cluster {
        check("cluster", c.len())?;
    }
    if data.covariate_names.len() != data.x.ncols() {
        return Err(ModelError::LengthMismatch {
            column: "covariate names".into(),
            expected: data.x.ncols(),
            found: data.covariate_names.len(),
        });
    }
    if n == 0 {
        return Err(ModelError::Unsupported("no rows".into()));
    }
    if n >= (1 << 31) {
        return Err(ModelError::Unsupported("more than 2^31 rows".into()));
    }
    if data.x.ncols() == 0 {
        return Err(ModelError::Unsupported(
            "the model has no covariates".into(),
        ));
    }
    if let Some(terms) = data.terms {
        let mut next = 0;
        for t in terms {
            if t.columns.start != next || t.columns.end <= t.columns.start {
                return Err(ModelError::Unsupported(format!(
                    "term `{}` does not cover the next columns of the design",
                    t.name
                )));
            }
            next = t.columns.end;
        }
        if next != data.x.ncols() {
            return Err(ModelError::Unsupported(
                "the terms do not cover every covariate".into(),
            ));
        }
    }
    for i in 0..n {
        let t = data.stop[i];
        if !t.is_finite() {
            return Err(ModelError::InvalidValue {
                row: i,
                message: format!("time {t} is not finite"),
            });
        }
        if let Some(s) = data.start {
            if !s[i].is_finite() {
                return Err(ModelError::InvalidValue {
                    row: i,
                    message: "start time is not finite".into(),
                });
            }
            if s[i] >= t {
                return Err(ModelError::InvalidValue {
                    row: i,
                    message: format!("stop time {t} must be greater than start time {}", s[i]),
                });
            }
        }
        if let Some(w) = data.weights
            && !(w[i].is_finite() && w[i] > 0.0)
        {
            return Err(ModelError::InvalidValue {
                row: i,
                message: format!("case weight {} must be finite and > 0", w[i]),
            });
        }
    }
    let p = data.x.ncols();
    let bad_row = match data.x.as_slice() {
        Some(all) => all
            .par_chunks(p)
            .position_first(|row| row.iter().any(|v| !v.is_finite())),
        None => data
            .x
            .rows()
            .into_iter()
            .position(|row| row.iter().any(|v| !v.is_finite())),
    };
    if let Some(i) = bad_row {
        let j = data
            .x
            .row(i)
            .iter()
            .position(|v| !v.is_finite())
            .unwrap_or(0);
        return Err(ModelError::InvalidValue {
            row: i,
            message: format!("covariate `{}` is not finite", data.covariate_names[j]),
        });
    }
    if !data.event.iter().any(|&e| e) {
        return Err(ModelError::Unsupported(
            "no events: a Cox model needs at least one".into(),
        ));
    }
    Ok(())
}

fn to_rows(m: &[f64], p: usize) -> Vec<Vec<f64>> {
    m.chunks(p).map(<[f64]>::to_vec).collect()
}

impl<'a> CoxModel<'a> {
    /// Fits the Cox model.
    pub fn fit(data: &CoxData<'a>, options: &CoxOptions) -> Result<Self, ModelError> {
        validate(data)?;
        if !(options.conf_level > 0.0 && options.conf_level < 1.0) {
            return Err(ModelError::Unsupported(
                "conf_level must lie in (0, 1)".into(),
            ));
        }
        let names = data.covariate_names;
        let raw = RawData {
            start: data.start,
            stop: data.stop,
            event: data.event,
            x: data.x,
            strata: data.strata,
            weights: data.weights,
        };
        let prep = Prepared::new(&raw, true);
        let p = prep.p;
        let mut ws = Workspace::new(&prep);
        let ctl = Controls {
            max_iter: options.max_iter,
            eps: options.eps,
            toler_chol: options.toler_chol,
        };
        let out: NewtonOutcome = if prep.counting {
            newton::newton_counting(&prep, options.ties, ctl, &mut ws)
        } else {
            newton::newton_right(&prep, options.ties, ctl, &mut ws)
        };
        if let Some(&j) = out.initial_singular.first() {
            return Err(ModelError::Collinear {
                covariate: names[j].clone(),
            });
        }

        // Back to the covariates' own scale.
        let beta: Vec<f64> = (0..p).map(|j| out.beta[j] * prep.scale[j]).collect();
        let u: Vec<f64> = (0..p).map(|j| out.u[j] / prep.scale[j]).collect();
        let mut naive_var = vec![0.0; p * p];
        for a in 0..p {
            for b in 0..p {
                naive_var[a * p + b] = out.var[a * p + b] * prep.scale[a] * prep.scale[b];
            }
        }
        let max_abs_scaled = |v: &[f64]| {
            (0..p)
                .max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs()))
                .unwrap_or(0)
        };
        if !out.converged {
            if out.not_finite || !out.loglik.is_finite() {
                return Err(ModelError::MonotoneLikelihood {
                    covariate: names[max_abs_scaled(&out.beta)].clone(),
                });
            }
            return Err(ModelError::NotConverged {
                iterations: options.max_iter,
                last_change: out.last_change,
            });
        }
        // R's check for a coefficient running to infinity: the next Newton step is still large.
        if options.max_iter > 1 {
            for j in 0..p {
                let step: f64 = (0..p)
                    .map(|k| u[k] * naive_var[k * p + j])
                    .sum::<f64>()
                    .abs();
                let infinite = if prep.counting {
                    !u[j].is_finite() || step > options.toler_inf * (1.0 + beta[j].abs())
                } else {
                    !u[j].is_finite()
                        || (step > options.eps && step > options.toler_inf * beta[j].abs())
                };
                if infinite {
                    return Err(ModelError::MonotoneLikelihood {
                        covariate: names[j].clone(),
                    });
                }
            }
        }
        if let Some(&j) = out.final_singular.first() {
            return Err(ModelError::MonotoneLikelihood {
                covariate: names[j].clone(),
            });
        }

        let n = prep.n;
        let weights_integer = data
            .weights
            .is_none_or(|w| w.iter().all(|v| v.fract() == 0.0));
        let robust = options
            .robust
            .unwrap_or(data.cluster.is_some() || !weights_integer);

        // R's reported means.
        let means: Vec<f64> = (0..p)
            .map(|j| {
                if prep.nocenter[j] {
                    0.0
                } else if prep.counting {
                    prep.col_means[j]
                } else {
                    prep.center[j]
                }
            })
            .collect();

        let mut model = CoxModel {
            data: *data,
            options: options.clone(),
            prep,
            beta_scaled: out.beta.clone(),
            beta: beta.clone(),
            naive_var: naive_var.clone(),
            var: naive_var.clone(),
            summary: CoxFit {
                ties: options.ties,
                counting_process: data.start.is_some(),
                n,
                n_events: data.event.iter().filter(|&&e| e).count(),
                n_strata: 0,
                n_clusters: None,
                coefficients: Vec::new(),
                variance: Vec::new(),
                naive_variance: to_rows(&naive_var, p),
                robust,
                means,
                loglik_initial: out.loglik_initial,
                loglik: out.loglik,
                iterations: out.iterations,
                likelihood_ratio: ChiSquareTest::new(2.0 * (out.loglik - out.loglik_initial), p),
                wald: ChiSquareTest::new(0.0, p),
                score: ChiSquareTest::new(out.score_test, p),
                robust_score: None,
                r_squared: 1.0 - (-2.0 * (out.loglik - out.loglik_initial) / n as f64).exp(),
                max_r_squared: 1.0 - (2.0 * out.loglik_initial / n as f64).exp(),
                concordance: None,
                conf_level: options.conf_level,
            },
        };
        model.summary.n_strata = model.prep.strata.len();

        let mut robust_se = None;
        if robust {
            let (var, rscore, n_clusters) = model.robust_variance()?;
            robust_se = Some((0..p).map(|j| var[j * p + j].sqrt()).collect::<Vec<f64>>());
            model.var = var;
            model.summary.robust_score = Some(ChiSquareTest::new(rscore, p));
            model.summary.n_clusters = Some(n_clusters);
        }
        let var = model.var.clone();
        let wald = Ldl::new(&var, p, options.toler_chol).quadratic_form(&beta);
        model.summary.wald = ChiSquareTest::new(wald, p);
        model.summary.variance = to_rows(&var, p);
        let zq = normal_quantile((1.0 + options.conf_level) / 2.0);
        model.summary.coefficients = (0..p)
            .map(|j| {
                let se = naive_var[j * p + j].sqrt();
                let rse = robust_se.as_ref().map(|v| v[j]);
                let used = rse.unwrap_or(se);
                let z = beta[j] / used;
                CoxCoefficient {
                    name: names[j].clone(),
                    coef: beta[j],
                    hazard_ratio: beta[j].exp(),
                    se,
                    robust_se: rse,
                    z,
                    p_value: chi_square_sf(z * z, 1.0),
                    hr_lower: (beta[j] - zq * used).exp(),
                    hr_upper: (beta[j] + zq * used).exp(),
                }
            })
            .collect();
        if options.concordance {
            let lp = model.linear_predictors();
            model.summary.concordance = concordance::concordance(&model.prep, &lp, data.cluster);
        }
        Ok(model)
    }

    /// The fit summary.
    pub fn summary(&self) -> &CoxFit {
        &self.summary
    }

    /// The fit summary, consuming the model.
    pub fn into_summary(self) -> CoxFit {
        self.summary
    }

    /// Coefficients β̂.
    pub fn coefficients(&self) -> &[f64] {
        &self.beta
    }

    /// Linear predictors x β̂ − Σ β̂ · means, per input row (R's `linear.predictors`).
    pub fn linear_predictors(&self) -> Vec<f64> {
        let p = self.prep.p;
        let off: f64 = (0..p).map(|j| self.beta[j] * self.summary.means[j]).sum();
        let x = &self.data.x;
        let beta = &self.beta;
        let mut lp = vec![0.0; self.prep.n];
        lp.par_chunks_mut(engine::CHUNK)
            .enumerate()
            .for_each(|(c, out)| {
                for (k, v) in out.iter_mut().enumerate() {
                    let i = c * engine::CHUNK + k;
                    let mut s = 0.0;
                    match x.as_slice() {
                        Some(all) => {
                            for (a, b) in all[i * p..(i + 1) * p].iter().zip(beta) {
                                s += a * b;
                            }
                        }
                        None => {
                            for (a, b) in x.row(i).iter().zip(beta) {
                                s += a * b;
                            }
                        }
                    }
                    *v = s - off;
                }
            });
        lp
    }

    fn unsort<T: Copy + Default>(&self, sorted: &[T]) -> Vec<T> {
        let mut out = vec![T::default(); self.prep.n];
        for (r, &i) in self.prep.order.iter().enumerate() {
            out[i] = sorted[r];
        }
        out
    }

    fn unsort_matrix(&self, sorted: &[f64], scale: bool) -> Array2<f64> {
        let p = self.prep.p;
        let mut out = Array2::zeros((self.prep.n, p));
        for (r, &i) in self.prep.order.iter().enumerate() {
            for j in 0..p {
                let s = if scale { self.prep.scale[j] } else { 1.0 };
                out[[i, j]] = sorted[r * p + j] / s;
            }
        }
        out
    }

    /// Martingale residuals per input row.
    pub fn martingale_residuals(&self) -> Vec<f64> {
        let st = RiskState::new(&self.prep, &self.beta_scaled, self.options.ties);
        self.unsort(&st.martingale(&self.prep))
    }

    /// Deviance residuals per input row.
    pub fn deviance_residuals(&self) -> Vec<f64> {
        let m = self.martingale_residuals();
        m.iter()
            .zip(self.data.event)
            .map(|(&m, &e)| residuals::deviance(m, e))
            .collect()
    }

    /// Score residuals per input row (unweighted), rows × covariates.
    pub fn score_residuals(&self) -> Array2<f64> {
        let st = RiskState::new(&self.prep, &self.beta_scaled, self.options.ties);
        self.unsort_matrix(&st.score_residuals(&self.prep), true)
    }

    /// dfbeta residuals (weighted score residuals times the model-based variance), as R's
    /// `residuals(fit, "dfbeta")`.
    pub fn dfbeta(&self) -> Array2<f64> {
        let p = self.prep.p;
        let mut u = self.score_residuals();
        if let Some(w) = self.data.weights {
            for (mut row, &wi) in u.rows_mut().into_iter().zip(w) {
                row.iter_mut().for_each(|v| *v *= wi);
            }
        }
        let v = Array2::from_shape_vec((p, p), self.naive_var.clone())
            .unwrap_or_else(|_| Array2::zeros((p, p)));
        u.dot(&v)
    }

    /// Sandwich variance V (Σ_c u_c u_c') V over clusters (rows when no cluster is given), the
    /// robust score test, and the number of clusters.
    fn robust_variance(&self) -> Result<(Vec<f64>, f64, usize), ModelError> {
        let p = self.prep.p;
        let collapse = |sorted: &[f64]| -> (Vec<f64>, usize) {
            // Σ per cluster of w U (original scale), in cluster order.
            let mut per_row: Vec<(u64, usize)> = (0..self.prep.n)
                .map(|r| {
                    let i = self.prep.order[r];
                    (self.data.cluster.map_or(i as u64, |c| c[i]), r)
                })
                .collect();
            per_row.sort_unstable();
            let mut sums = Vec::new();
            let mut k = 0;
            while k < per_row.len() {
                let id = per_row[k].0;
                let mut s = vec![0.0; p];
                while k < per_row.len() && per_row[k].0 == id {
                    let r = per_row[k].1;
                    let w = self.prep.weight[r];
                    for j in 0..p {
                        s[j] += w * sorted[r * p + j] / self.prep.scale[j];
                    }
                    k += 1;
                }
                sums.extend(s);
            }
            let nc = sums.len() / p;
            (sums, nc)
        };
        let st = RiskState::new(&self.prep, &self.beta_scaled, self.options.ties);
        let (uc, nc) = collapse(&st.score_residuals(&self.prep));
        // D = U_c V; var = D'D.
        let mut d = vec![0.0; nc * p];
        for c in 0..nc {
            for j in 0..p {
                d[c * p + j] = (0..p)
                    .map(|k| uc[c * p + k] * self.naive_var[k * p + j])
                    .sum();
            }
        }
        let mut var = vec![0.0; p * p];
        for c in 0..nc {
            let row = &d[c * p..(c + 1) * p];
            for a in 0..p {
                for b in 0..p {
                    var[a * p + b] += row[a] * row[b];
                }
            }
        }
        // Robust score test at β = 0.
        let st0 = RiskState::new(&self.prep, &vec![0.0; p], self.options.ties);
        let (u0, _) = collapse(&st0.score_residuals(&self.prep));
        let mut tt = vec![0.0; p * p];
        let mut tot = vec![0.0; p];
        for c in 0..nc {
            let row = &u0[c * p..(c + 1) * p];
            for a in 0..p {
                tot[a] += row[a];
                for b in 0..p {
                    tt[a * p + b] += row[a] * row[b];
                }
            }
        }
        let rscore = Ldl::new(&tt, p, self.options.toler_chol).quadratic_form(&tot);
        Ok((var, rscore, nc))
    }

    fn terms(&self) -> Vec<(String, Vec<usize>)> {
        match self.data.terms {
            Some(t) => t
                .iter()
                .map(|t| (t.name.clone(), t.columns.clone().collect()))
                .collect(),
            None => self
                .data
                .covariate_names
                .iter()
                .enumerate()
                .map(|(j, n)| (n.clone(), vec![j]))
                .collect(),
        }
    }

    /// The proportional-hazards test and scaled Schoenfeld residuals (R's `cox.zph`).
    pub fn zph(&self, transform: ZphTransform) -> Result<CoxZph, ModelError> {
        zph::cox_zph(
            &zph::ZphInput {
                prep: &self.prep,
                beta_scaled: &self.beta_scaled,
                coef: &self.beta,
                ties: self.options.ties,
                terms: self.terms(),
            },
            transform,
        )
    }

    /// exp(x β − Σ β · means) per sorted row, and the covariates per sorted row centred at the
    /// internal centre.
    fn centring_risk(&self) -> Result<(Vec<f64>, Vec<f64>, f64), ModelError> {
        let p = self.prep.p;
        let xcenter: f64 = (0..p).map(|j| self.beta[j] * self.summary.means[j]).sum();
        let lp = self.linear_predictors();
        let risk: Vec<f64> = self.prep.order.iter().map(|&i| lp[i].exp()).collect();
        if risk.iter().any(|r| !r.is_finite() || *r == 0.0) {
            return Err(ModelError::Unsupported(
                "the linear predictors are too far from their mean for exp (|x b - mean| > 709): \
                 the hazard at the covariate means cannot be computed"
                    .into(),
            ));
        }
        let mut xc = vec![0.0; self.prep.n * p];
        let xs = self.prep.xs();
        for r in 0..self.prep.n {
            for j in 0..p {
                xc[r * p + j] = xs[r * p + j] / self.prep.scale[j];
            }
        }
        Ok((risk, xc, xcenter))
    }

    /// Baseline cumulative hazard per stratum (R's `basehaz`): at the covariate means when
    /// `centered`, else at x = 0.
    pub fn baseline_hazard(&self, centered: bool) -> Result<Vec<BaselineHazard>, ModelError> {
        let (risk, xc, xcenter) = self.centring_risk()?;
        let factor = if centered { 1.0 } else { (-xcenter).exp() };
        if !factor.is_finite() {
            return Err(ModelError::Unsupported(
                "the baseline at x = 0 is out of range of exp; use the centred baseline".into(),
            ));
        }
        Ok(
            survfit::stratum_hazards(&self.prep, &risk, &xc, self.options.ties)
                .into_iter()
                .map(|h| BaselineHazard {
                    stratum: h.code,
                    time: h.time,
                    cumulative_hazard: h.cumhaz.iter().map(|v| v * factor).collect(),
                })
                .collect(),
        )
    }

    /// Predicted survival curves with standard errors and confidence intervals for covariate
    /// profiles (R's `survfit(fit, newdata = ...)`), one curve per profile.
    pub fn predict_survival(
        &self,
        profiles: &[CovariateProfile],
    ) -> Result<Vec<SurvivalCurve>, ModelError> {
        let p = self.prep.p;
        let (risk, xc, xcenter) = self.centring_risk()?;
        let hazards = survfit::stratum_hazards(&self.prep, &risk, &xc, self.options.ties);
        let z = normal_quantile((1.0 + self.options.conf_level) / 2.0);
        let stratified = self.data.strata.is_some();
        profiles
            .iter()
            .map(|prof| {
                if prof.x.len() != p {
                    return Err(ModelError::LengthMismatch {
                        column: "covariate profile".into(),
                        expected: p,
                        found: prof.x.len(),
                    });
                }
                let h = match (stratified, prof.stratum) {
                    (false, _) => hazards.first(),
                    (true, Some(code)) => hazards.iter().find(|h| h.code == code),
                    (true, None) => {
                        return Err(ModelError::Unsupported(
                            "the model has strata: the profile needs a stratum".into(),
                        ));
                    }
                }
                .ok_or_else(|| {
                    ModelError::Unsupported("the profile's stratum is not in the data".into())
                })?;
                let lp: f64 = prof
                    .x
                    .iter()
                    .zip(&self.beta)
                    .map(|(x, b)| x * b)
                    .sum::<f64>()
                    - xcenter;
                let x2c: Vec<f64> = (0..p).map(|j| prof.x[j] - self.prep.center[j]).collect();
                let risk2 = lp.exp();
                if !risk2.is_finite() {
                    return Err(ModelError::Unsupported(
                        "the profile's linear predictor is out of range of exp".into(),
                    ));
                }
                Ok(survfit::curve(h, risk2, &x2c, &self.var, z))
            })
            .collect()
    }
}
