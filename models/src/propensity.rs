//! The propensity score: logistic regression of group membership on the covariates (Newton /
//! IRLS with case weights and an optional ridge penalty, standard errors and convergence
//! diagnostics, as R's `glm(family = binomial)`), its C-statistic, the distribution of the
//! score per group (overlap) and Walker's preference score.
//!
//! ```
//! use models::propensity::{LogisticOptions, PropensityData, fit_propensity};
//! # fn main() -> Result<(), models::ModelError> {
//! let treated = [true, false, true, false, true, false, false, true];
//! let age = ndarray::array![[30.0], [41.0], [35.0], [52.0], [28.0], [47.0], [33.0], [45.0]];
//! let names = vec!["age".to_string()];
//! let data = PropensityData::new(&treated, age.view(), &names);
//! let ps = fit_propensity(&data, &LogisticOptions::default())?;
//! println!("C = {:.3}, converged: {}", ps.c_statistic, ps.model.diagnostics.converged);
//! let weights_input = &ps.score; // one propensity score per row, for models::weighting
//! # let _ = weights_input;
//! # Ok(()) }
//! ```
//!
//! The fit maximises `Σ wᵢ [yᵢ log pᵢ + (1 − yᵢ) log(1 − pᵢ)] − (λ/2) Σⱼ βⱼ²` (the intercept is
//! not penalised; the penalty acts on the coefficients on the covariates' own scale, so
//! standardise the columns first when they have very different scales). Without penalty the
//! estimates are the maximum-likelihood estimates R's `glm` reports; standard errors are
//! `sqrt(diag(H⁻¹))` of the (penalised) information `H = X'WX + λP`. Case weights enter as R's
//! prior weights: the deviance is `−2 Σ wᵢ ℓᵢ`.
//!
//! Where R only warns, the fit reports it in [`ConvergenceDiagnostics`]: no convergence within
//! the iteration limit, fitted probabilities numerically 0 or 1 (separation), coefficients
//! running away. A collinear column is refused with [`ModelError::Collinear`].

// Numerical kernels index several arrays with one loop variable.
#![allow(clippy::needless_range_loop)]

use ndarray::ArrayView2;
use rayon::prelude::*;
use serde::Serialize;

use crate::ModelError;
use crate::cox::linalg::Ldl;
use crate::design::DesignMatrix;
use crate::dist::{normal_quantile, normal_two_sided_p};
use crate::km::{check_length, invalid};

/// Rows per parallel chunk of the information sums (fixed, so sums do not depend on threads).
const CHUNK: usize = 4096;

/// Name of the intercept, as R prints it.
pub const INTERCEPT: &str = "(Intercept)";

/// Options of [`logistic_regression`] and [`fit_propensity`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogisticOptions {
    /// Ridge penalty λ on every coefficient but the intercept (0: plain maximum likelihood).
    pub l2_penalty: f64,
    /// Newton iterations at most (R's `glm.control(maxit)` is 25).
    pub max_iter: usize,
    /// Convergence: `|dev − dev_old| / (|dev| + 0.1) < eps` on the (penalised) deviance, as
    /// R's `glm` (whose default is 1e-8; tighter here, so coefficients agree to 1e-9).
    pub eps: f64,
    /// Confidence level of the Wald intervals.
    pub conf_level: f64,
}

impl Default for LogisticOptions {
    fn default() -> Self {
        LogisticOptions {
            l2_penalty: 0.0,
            max_iter: 50,
            eps: 1e-12,
            conf_level: 0.95,
        }
    }
}

/// The columns of a logistic regression (or a propensity model): a binary outcome, covariates
/// (an intercept is added) and optional case weights.
#[derive(Debug, Clone, Copy)]
pub struct PropensityData<'a> {
    /// The outcome: for a propensity model, membership of the treated (index) group.
    pub outcome: &'a [bool],
    /// Covariates, rows × columns, without the intercept.
    pub x: ArrayView2<'a, f64>,
    /// Column names of `x`.
    pub covariate_names: &'a [String],
    /// Case weights (finite, >= 0; a row of weight 0 does not count).
    pub weights: Option<&'a [f64]>,
}

impl<'a> PropensityData<'a> {
    /// Outcome and covariates, unweighted.
    pub fn new(outcome: &'a [bool], x: ArrayView2<'a, f64>, covariate_names: &'a [String]) -> Self {
        PropensityData {
            outcome,
            x,
            covariate_names,
            weights: None,
        }
    }

    /// Covariates and names from a design matrix (the outcome restricted to its kept rows).
    pub fn from_design(design: &'a DesignMatrix, outcome: &'a [bool]) -> Self {
        PropensityData::new(outcome, design.x.view(), &design.column_names)
    }

    /// Adds case weights.
    pub fn with_weights(mut self, weights: &'a [f64]) -> Self {
        self.weights = Some(weights);
        self
    }

    fn n(&self) -> usize {
        self.outcome.len()
    }

    fn check(&self) -> Result<(), ModelError> {
        let n = self.n();
        check_length("covariates", n, self.x.nrows())?;
        if self.covariate_names.len() != self.x.ncols() {
            return Err(ModelError::LengthMismatch {
                column: "covariate names".into(),
                expected: self.x.ncols(),
                found: self.covariate_names.len(),
            });
        }
        if n == 0 {
            return Err(ModelError::Unsupported("no rows".into()));
        }
        if let Some(w) = self.weights {
            check_length("weights", n, w.len())?;
            for (i, &v) in w.iter().enumerate() {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(invalid(
                        i,
                        format!("case weight {v} must be finite and >= 0"),
                    ));
                }
            }
        }
        for (i, row) in self.x.rows().into_iter().enumerate() {
            if let Some(j) = row.iter().position(|v| !v.is_finite()) {
                return Err(invalid(
                    i,
                    format!("covariate `{}` is not finite", self.covariate_names[j]),
                ));
            }
        }
        let (mut w1, mut w0) = (0.0, 0.0);
        for i in 0..n {
            let w = self.weight(i);
            if self.outcome[i] {
                w1 += w;
            } else {
                w0 += w;
            }
        }
        if w1 <= 0.0 || w0 <= 0.0 {
            return Err(ModelError::Unsupported(
                "the outcome takes one value only: both groups need rows of positive weight".into(),
            ));
        }
        Ok(())
    }

    #[inline]
    fn weight(&self, i: usize) -> f64 {
        self.weights.map_or(1.0, |w| w[i])
    }

    /// Row i of the design with the intercept first.
    #[inline]
    fn design_row(&self, i: usize, out: &mut [f64]) {
        out[0] = 1.0;
        for (o, v) in out[1..].iter_mut().zip(self.x.row(i)) {
            *o = *v;
        }
    }
}

/// One coefficient of a logistic regression, as a row of `summary(glm(...))`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogisticCoefficient {
    pub name: String,
    /// Log odds ratio (log odds for the intercept).
    pub coef: f64,
    pub odds_ratio: f64,
    /// Model-based standard error (from the penalised information when penalised).
    pub se: f64,
    pub z: f64,
    pub p_value: f64,
    /// Wald interval of the coefficient.
    pub lower: f64,
    pub upper: f64,
}

/// How the Newton iterations ended, and what R would have warned about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConvergenceDiagnostics {
    pub iterations: usize,
    pub converged: bool,
    /// Largest |component| of the (penalised) score at the estimate: near 0 at a maximum.
    pub max_abs_score: f64,
    /// Fitted probabilities numerically 0 or 1 occurred, or coefficients ran away: the groups
    /// are (quasi-)separated by the covariates and the estimates are not to be trusted.
    pub separation: bool,
    /// Rows whose fitted probability is within 10 machine epsilons of 0 or 1 (R's threshold).
    pub n_fitted_at_bounds: usize,
    /// Plain-language warnings (empty when all is well).
    pub warnings: Vec<String>,
}

/// A fitted logistic regression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogisticFit {
    /// Rows used (including rows of weight 0, which do not count in the sums).
    pub n: usize,
    /// Rows with outcome true (unweighted).
    pub n_events: usize,
    /// Intercept first, then the covariates in order.
    pub coefficients: Vec<LogisticCoefficient>,
    /// Variance of the coefficients (inverse of the penalised information), row-major.
    pub variance: Vec<Vec<f64>>,
    /// Weighted log-likelihood `Σ wᵢ ℓᵢ` at the estimate (without the penalty).
    pub loglik: f64,
    /// Residual deviance `−2 · loglik` (R's `deviance`).
    pub deviance: f64,
    /// Deviance of the intercept-only model (R's `null.deviance`).
    pub null_deviance: f64,
    /// The ridge penalty λ used.
    pub l2_penalty: f64,
    /// Linear predictor `x β̂` per row.
    pub linear_predictor: Vec<f64>,
    /// Fitted probability per row.
    pub fitted: Vec<f64>,
    pub diagnostics: ConvergenceDiagnostics,
    pub conf_level: f64,
}

/// A propensity score model: the logistic fit and what is read from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropensityScore {
    pub model: LogisticFit,
    /// The propensity score (probability of the treated group) per row.
    pub score: Vec<f64>,
    /// Its logit per row (the scale of matching).
    pub logit: Vec<f64>,
    /// Share of rows in the treated group (unweighted), the P of the preference score.
    pub treated_share: f64,
    /// Walker's preference score per row.
    pub preference: Vec<f64>,
    /// C-statistic (area under the ROC curve) of the score for group membership.
    pub c_statistic: f64,
}

/// Fits the propensity model (logistic regression of `data.outcome`, the treated group, on the
/// covariates) and derives the score, its logit, the preference score and the C-statistic.
pub fn fit_propensity(
    data: &PropensityData<'_>,
    options: &LogisticOptions,
) -> Result<PropensityScore, ModelError> {
    let model = logistic_regression(data, options)?;
    let score = model.fitted.clone();
    let logit = model.linear_predictor.clone();
    let n1 = data.outcome.iter().filter(|&&t| t).count();
    let treated_share = n1 as f64 / data.n() as f64;
    let preference = preference_from_logit(&logit, treated_share)?;
    let c_statistic = c_statistic(&score, data.outcome, data.weights)?;
    Ok(PropensityScore {
        model,
        score,
        logit,
        treated_share,
        preference,
        c_statistic,
    })
}

impl PropensityScore {
    /// The distribution of the score per group as histogram bins (see [`overlap_histogram`]).
    pub fn overlap(&self, treated: &[bool], bins: usize) -> Result<OverlapHistogram, ModelError> {
        overlap_histogram(&self.score, treated, bins)
    }
}

/// Per-chunk sums of one Newton step.
struct Sums {
    /// Information X'WX, full p × p row-major.
    info: Vec<f64>,
    /// Score X'w(y − p).
    score: Vec<f64>,
    /// Σ w ℓ.
    loglik: f64,
}

/// log σ(η) computed without overflow.
#[inline]
fn log_sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        -(-eta).exp().ln_1p()
    } else {
        eta - eta.exp().ln_1p()
    }
}

#[inline]
fn sigmoid(eta: f64) -> f64 {
    if eta >= 0.0 {
        1.0 / (1.0 + (-eta).exp())
    } else {
        let e = eta.exp();
        e / (1.0 + e)
    }
}

fn linear_predictor(data: &PropensityData<'_>, beta: &[f64], i: usize) -> f64 {
    let mut eta = beta[0];
    for (b, x) in beta[1..].iter().zip(data.x.row(i)) {
        eta += b * x;
    }
    eta
}

/// Log-likelihood, score and information at β, summed over fixed chunks in a fixed order.
fn sums(data: &PropensityData<'_>, beta: &[f64], with_info: bool) -> Sums {
    let n = data.n();
    let p = beta.len();
    let n_chunks = n.div_ceil(CHUNK);
    let parts: Vec<Sums> = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            let mut s = Sums {
                info: if with_info {
                    vec![0.0; p * p]
                } else {
                    Vec::new()
                },
                score: vec![0.0; p],
                loglik: 0.0,
            };
            let mut row = vec![0.0; p];
            for i in c * CHUNK..((c + 1) * CHUNK).min(n) {
                let w = data.weight(i);
                if w == 0.0 {
                    continue;
                }
                data.design_row(i, &mut row);
                let eta: f64 = row.iter().zip(beta).map(|(x, b)| x * b).sum();
                let mu = sigmoid(eta);
                let y = data.outcome[i];
                s.loglik += w * if y {
                    log_sigmoid(eta)
                } else {
                    log_sigmoid(-eta)
                };
                let resid = w * (f64::from(u8::from(y)) - mu);
                for a in 0..p {
                    s.score[a] += resid * row[a];
                }
                if with_info {
                    let v = w * mu * (1.0 - mu);
                    for a in 0..p {
                        let va = v * row[a];
                        for b in a..p {
                            s.info[a * p + b] += va * row[b];
                        }
                    }
                }
            }
            s
        })
        .collect();
    let mut total = Sums {
        info: if with_info {
            vec![0.0; p * p]
        } else {
            Vec::new()
        },
        score: vec![0.0; p],
        loglik: 0.0,
    };
    for part in parts {
        total.loglik += part.loglik;
        for a in 0..p {
            total.score[a] += part.score[a];
        }
        if with_info {
            for k in 0..p * p {
                total.info[k] += part.info[k];
            }
        }
    }
    if with_info {
        for a in 0..p {
            for b in 0..a {
                total.info[a * p + b] = total.info[b * p + a];
            }
        }
    }
    total
}

/// Penalised objective to minimise: deviance + λ Σ_{j≥1} βⱼ².
fn objective(loglik: f64, beta: &[f64], lambda: f64) -> f64 {
    -2.0 * loglik + lambda * beta[1..].iter().map(|b| b * b).sum::<f64>()
}

/// Adds the penalty to score and information.
fn penalise(s: &mut Sums, beta: &[f64], lambda: f64) {
    let p = beta.len();
    for j in 1..p {
        s.score[j] -= lambda * beta[j];
        if !s.info.is_empty() {
            s.info[j * p + j] += lambda;
        }
    }
}

/// The information scaled to unit diagonal (Jacobi), factored; with the scale factors.
fn factor(info: &[f64], p: usize) -> (Ldl, Vec<f64>) {
    let d: Vec<f64> = (0..p)
        .map(|j| {
            let v = info[j * p + j];
            if v > 0.0 && v.is_finite() {
                1.0 / v.sqrt()
            } else {
                0.0
            }
        })
        .collect();
    let mut scaled = vec![0.0; p * p];
    for a in 0..p {
        for b in 0..p {
            scaled[a * p + b] = info[a * p + b] * d[a] * d[b];
        }
    }
    // The pivot tolerance of R's coxph (eps^0.75) on the unit-diagonal matrix.
    (Ldl::new(&scaled, p, f64::EPSILON.powf(0.75)), d)
}

/// Logistic regression of `data.outcome` on an intercept and `data.x` (R's
/// `glm(y ~ x, family = binomial, weights = w)`), by Newton–Raphson (= IRLS for this canonical
/// link) with step halving.
pub fn logistic_regression(
    data: &PropensityData<'_>,
    options: &LogisticOptions,
) -> Result<LogisticFit, ModelError> {
    data.check()?;
    let lambda = options.l2_penalty;
    if !(lambda.is_finite() && lambda >= 0.0) {
        return Err(ModelError::Unsupported(format!(
            "the L2 penalty {lambda} must be finite and >= 0"
        )));
    }
    if !(options.conf_level > 0.0 && options.conf_level < 1.0) {
        return Err(ModelError::Unsupported(
            "conf_level must lie in (0, 1)".into(),
        ));
    }
    if options.eps.is_nan() || options.eps <= 0.0 || options.max_iter == 0 {
        return Err(ModelError::Unsupported(
            "eps must be > 0 and max_iter >= 1".into(),
        ));
    }
    let n = data.n();
    let p = data.x.ncols() + 1;
    let names: Vec<String> = std::iter::once(INTERCEPT.to_string())
        .chain(data.covariate_names.iter().cloned())
        .collect();

    // Start: the intercept-only estimate (the null model's log odds), other coefficients 0.
    let (mut wy, mut wsum) = (0.0, 0.0);
    for i in 0..n {
        let w = data.weight(i);
        wsum += w;
        if data.outcome[i] {
            wy += w;
        }
    }
    let p0 = wy / wsum;
    let null_deviance = -2.0 * (wy * p0.ln() + (wsum - wy) * (1.0 - p0).ln());
    let mut beta = vec![0.0; p];
    beta[0] = (p0 / (1.0 - p0)).ln();

    let mut s = sums(data, &beta, true);
    penalise(&mut s, &beta, lambda);
    let mut obj = objective(s.loglik, &beta, lambda);
    let mut converged = false;
    let mut iterations = 0;
    let mut last_step = 0.0_f64;
    let mut step_growth = 0usize;
    while iterations < options.max_iter {
        iterations += 1;
        let (ldl, d) = factor(&s.info, p);
        if ldl.rank() < p {
            let j = ldl.singular_columns().first().copied().unwrap_or(0);
            if iterations == 1 {
                return Err(ModelError::Collinear {
                    covariate: names[j].clone(),
                });
            }
            // The information became singular along the way: fitted probabilities at 0 or 1.
            break;
        }
        let mut step: Vec<f64> = (0..p).map(|j| s.score[j] * d[j]).collect();
        ldl.solve(&mut step);
        for j in 0..p {
            step[j] *= d[j];
        }
        // Step halving while the objective does not decrease (or is not finite).
        let mut factor_h = 1.0;
        let mut candidate;
        let mut cand_s;
        let mut cand_obj;
        let mut halvings = 0;
        loop {
            candidate = beta
                .iter()
                .zip(&step)
                .map(|(b, st)| b + factor_h * st)
                .collect::<Vec<f64>>();
            cand_s = sums(data, &candidate, true);
            penalise(&mut cand_s, &candidate, lambda);
            cand_obj = objective(cand_s.loglik, &candidate, lambda);
            if cand_obj.is_finite() && cand_obj <= obj * (1.0 + 1e-15) + 1e-300 {
                break;
            }
            halvings += 1;
            if halvings > 30 {
                break;
            }
            factor_h *= 0.5;
        }
        if !cand_obj.is_finite() {
            break;
        }
        let max_step = step
            .iter()
            .fold(0.0_f64, |m, v| m.max((factor_h * v).abs()));
        if max_step > last_step && iterations > 3 {
            step_growth += 1;
        }
        last_step = max_step;
        let change = (cand_obj - obj).abs() / (cand_obj.abs() + 0.1);
        beta = candidate;
        s = cand_s;
        obj = cand_obj;
        if change < options.eps {
            converged = true;
            break;
        }
    }

    // Estimates, variance, fitted values.
    let (ldl, d) = factor(&s.info, p);
    let inv_scaled = ldl.inverse();
    let mut variance = vec![vec![0.0; p]; p];
    for a in 0..p {
        for b in 0..p {
            variance[a][b] = inv_scaled[a * p + b] * d[a] * d[b];
        }
    }
    let singular = ldl.rank() < p;
    let linear_predictor: Vec<f64> = (0..n).map(|i| linear_predictor(data, &beta, i)).collect();
    let fitted: Vec<f64> = linear_predictor.iter().map(|&e| sigmoid(e)).collect();
    let bound = 10.0 * f64::EPSILON;
    let n_fitted_at_bounds = fitted
        .iter()
        .enumerate()
        .filter(|&(i, &m)| data.weight(i) > 0.0 && (m < bound || m > 1.0 - bound))
        .count();
    let max_abs_score = s.score.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let runaway = !converged && step_growth > 0;
    let separation = n_fitted_at_bounds > 0 || runaway || singular;
    let mut warnings = Vec::new();
    if !converged {
        warnings.push(format!(
            "the fit did not converge in {iterations} iterations; the estimates are not a maximum"
        ));
    }
    if n_fitted_at_bounds > 0 {
        warnings.push(format!(
            "fitted probabilities numerically 0 or 1 occurred for {n_fitted_at_bounds} rows: \
             the covariates (nearly) separate the groups"
        ));
    }
    if runaway || singular {
        warnings.push(
            "coefficients run away (the information is singular at the estimate): \
             the groups are separated; drop or collapse the separating covariate"
                .into(),
        );
    }
    let zq = normal_quantile((1.0 + options.conf_level) / 2.0);
    let coefficients = (0..p)
        .map(|j| {
            let se = variance[j][j].max(0.0).sqrt();
            let z = beta[j] / se;
            LogisticCoefficient {
                name: names[j].clone(),
                coef: beta[j],
                odds_ratio: beta[j].exp(),
                se,
                z,
                p_value: normal_two_sided_p(z),
                lower: beta[j] - zq * se,
                upper: beta[j] + zq * se,
            }
        })
        .collect();
    Ok(LogisticFit {
        n,
        n_events: data.outcome.iter().filter(|&&y| y).count(),
        coefficients,
        variance,
        loglik: s.loglik,
        deviance: -2.0 * s.loglik,
        null_deviance,
        l2_penalty: lambda,
        linear_predictor,
        fitted,
        diagnostics: ConvergenceDiagnostics {
            iterations,
            converged,
            max_abs_score,
            separation,
            n_fitted_at_bounds,
            warnings,
        },
        conf_level: options.conf_level,
    })
}

/// The C-statistic (area under the ROC curve) of `score` for `group` membership: the
/// probability that a random member of the group scores higher than a random non-member, ties
/// counted 1/2; with case weights each pair counts `wᵢ wⱼ`. O(n log n).
pub fn c_statistic(
    score: &[f64],
    group: &[bool],
    weights: Option<&[f64]>,
) -> Result<f64, ModelError> {
    let n = score.len();
    check_length("group", n, group.len())?;
    if let Some(w) = weights {
        check_length("weights", n, w.len())?;
    }
    if let Some(i) = score.iter().position(|s| !s.is_finite()) {
        return Err(invalid(i, "score is not finite".into()));
    }
    let wt = |i: usize| weights.map_or(1.0, |w| w[i]);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| score[a].total_cmp(&score[b]).then(a.cmp(&b)));
    // Sweep blocks of tied scores in ascending order: each member pairs with the non-members
    // below (1) and in its block (1/2).
    let (mut below0, mut concordant, mut tot1, mut tot0) = (0.0, 0.0, 0.0, 0.0);
    let mut k = 0;
    while k < n {
        let mut e = k;
        let (mut b1, mut b0) = (0.0, 0.0);
        while e < n && score[order[e]] == score[order[k]] {
            let i = order[e];
            if group[i] {
                b1 += wt(i);
            } else {
                b0 += wt(i);
            }
            e += 1;
        }
        concordant += b1 * (below0 + 0.5 * b0);
        below0 += b0;
        tot1 += b1;
        tot0 += b0;
        k = e;
    }
    if !(tot1 > 0.0 && tot0 > 0.0) {
        return Err(ModelError::Unsupported(
            "the C-statistic needs rows of positive weight in both groups".into(),
        ));
    }
    Ok(concordant / (tot1 * tot0))
}

/// Walker's preference score: `logit F = logit PS − logit P`, with P the treated share. It
/// removes the effect of the groups' relative sizes; 0.5 means no preference either way
/// (Walker et al. 2013, *Comparative Effectiveness Research* 3:11–20).
pub fn preference_scores(score: &[f64], treated_share: f64) -> Result<Vec<f64>, ModelError> {
    let logit: Vec<f64> = score
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            if p > 0.0 && p < 1.0 {
                Ok((p / (1.0 - p)).ln())
            } else {
                Err(invalid(
                    i,
                    format!("propensity score {p} is not strictly between 0 and 1"),
                ))
            }
        })
        .collect::<Result<_, _>>()?;
    preference_from_logit(&logit, treated_share)
}

fn preference_from_logit(logit: &[f64], treated_share: f64) -> Result<Vec<f64>, ModelError> {
    if !(treated_share > 0.0 && treated_share < 1.0) {
        return Err(ModelError::Unsupported(format!(
            "the treated share {treated_share} must lie strictly between 0 and 1"
        )));
    }
    let shift = (treated_share / (1.0 - treated_share)).ln();
    Ok(logit.iter().map(|&l| sigmoid(l - shift)).collect())
}

/// The distribution of a score in [0, 1] per group, as equal-width histogram bins: the data
/// of an overlap (mirrored histogram) plot.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OverlapHistogram {
    /// Bin edges, `bins + 1` values from 0 to 1; bin k is `[edge_k, edge_{k+1})`, the last
    /// closed.
    pub edges: Vec<f64>,
    /// Rows of the treated group per bin.
    pub treated: Vec<usize>,
    /// Rows of the control group per bin.
    pub control: Vec<usize>,
    /// Share of the treated group per bin (sums to 1).
    pub treated_share: Vec<f64>,
    /// Share of the control group per bin.
    pub control_share: Vec<f64>,
    /// Range of the score in each group, `(min, max)`.
    pub treated_range: (f64, f64),
    pub control_range: (f64, f64),
}

/// Histogram bins of `score` (a propensity or preference score, in [0, 1]) per group.
pub fn overlap_histogram(
    score: &[f64],
    treated: &[bool],
    bins: usize,
) -> Result<OverlapHistogram, ModelError> {
    check_length("treated", score.len(), treated.len())?;
    if bins == 0 {
        return Err(ModelError::Unsupported("at least one bin is needed".into()));
    }
    let mut t = vec![0usize; bins];
    let mut c = vec![0usize; bins];
    let mut tr = (f64::INFINITY, f64::NEG_INFINITY);
    let mut cr = (f64::INFINITY, f64::NEG_INFINITY);
    for (i, (&s, &g)) in score.iter().zip(treated).enumerate() {
        if !(0.0..=1.0).contains(&s) {
            return Err(invalid(i, format!("score {s} is not in [0, 1]")));
        }
        let k = ((s * bins as f64) as usize).min(bins - 1);
        let (counts, range) = if g {
            (&mut t, &mut tr)
        } else {
            (&mut c, &mut cr)
        };
        counts[k] += 1;
        range.0 = range.0.min(s);
        range.1 = range.1.max(s);
    }
    let share = |v: &[usize]| {
        let total: usize = v.iter().sum();
        v.iter()
            .map(|&x| {
                if total > 0 {
                    x as f64 / total as f64
                } else {
                    0.0
                }
            })
            .collect::<Vec<f64>>()
    };
    Ok(OverlapHistogram {
        edges: (0..=bins).map(|k| k as f64 / bins as f64).collect(),
        treated_share: share(&t),
        control_share: share(&c),
        treated: t,
        control: c,
        treated_range: tr,
        control_range: cr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn names(k: usize) -> Vec<String> {
        (0..k).map(|j| format!("x{j}")).collect()
    }

    #[test]
    fn intercept_only_is_the_log_odds() {
        let y = [true, false, false, true, false];
        let x = Array2::<f64>::zeros((5, 0));
        let nm = names(0);
        let fit = logistic_regression(
            &PropensityData::new(&y, x.view(), &nm),
            &LogisticOptions::default(),
        )
        .expect("fit");
        assert!((fit.coefficients[0].coef - (2.0_f64 / 3.0).ln()).abs() < 1e-12);
        // se = sqrt(1/(n p (1-p))).
        let se = (1.0 / (5.0 * 0.4 * 0.6_f64)).sqrt();
        assert!((fit.coefficients[0].se - se).abs() < 1e-12);
        assert!((fit.deviance - fit.null_deviance).abs() < 1e-12);
    }

    #[test]
    fn weights_equal_duplicated_rows() {
        let y = [true, false, true, false, false, true, true];
        let xv = [0.5, 1.0, 2.0, -1.0, 0.0, 1.5, -0.3];
        let w = [1.0, 2.0, 1.0, 3.0, 1.0, 2.0, 1.0];
        let x = Array2::from_shape_vec((7, 1), xv.to_vec()).expect("shape");
        let nm = names(1);
        let a = logistic_regression(
            &PropensityData::new(&y, x.view(), &nm).with_weights(&w),
            &LogisticOptions::default(),
        )
        .expect("fit");
        let mut yy = Vec::new();
        let mut xx = Vec::new();
        for i in 0..7 {
            for _ in 0..(w[i] as usize) {
                yy.push(y[i]);
                xx.push(xv[i]);
            }
        }
        let x2 = Array2::from_shape_vec((xx.len(), 1), xx).expect("shape");
        let b = logistic_regression(
            &PropensityData::new(&yy, x2.view(), &nm),
            &LogisticOptions::default(),
        )
        .expect("fit");
        for j in 0..2 {
            assert!((a.coefficients[j].coef - b.coefficients[j].coef).abs() < 1e-10);
            assert!((a.coefficients[j].se - b.coefficients[j].se).abs() < 1e-10);
        }
        assert!((a.deviance - b.deviance).abs() < 1e-9);
        assert!(a.diagnostics.converged && a.diagnostics.max_abs_score < 1e-8);
    }

    #[test]
    fn penalty_shrinks_but_not_the_intercept() {
        let y = [true, false, true, false, false, true, true, false];
        let x = Array2::from_shape_vec((8, 1), vec![2.0, -1.0, 1.0, 0.0, -2.0, 0.5, 1.5, 0.2])
            .expect("shape");
        let nm = names(1);
        let d = PropensityData::new(&y, x.view(), &nm);
        let plain = logistic_regression(&d, &LogisticOptions::default()).expect("fit");
        let ridge = logistic_regression(
            &d,
            &LogisticOptions {
                l2_penalty: 5.0,
                ..LogisticOptions::default()
            },
        )
        .expect("fit");
        assert!(ridge.coefficients[1].coef.abs() < plain.coefficients[1].coef.abs());
        // At the penalised optimum the intercept's score is 0 and the slope's is λβ.
        assert!(ridge.diagnostics.max_abs_score < 1e-8);
    }

    #[test]
    fn separation_is_reported_not_hidden() {
        let y = [false, false, false, true, true, true];
        let x = Array2::from_shape_vec((6, 1), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("shape");
        let nm = names(1);
        let fit = logistic_regression(
            &PropensityData::new(&y, x.view(), &nm),
            &LogisticOptions::default(),
        )
        .expect("fit");
        assert!(fit.diagnostics.separation, "{:?}", fit.diagnostics);
        assert!(!fit.diagnostics.warnings.is_empty());
    }

    #[test]
    fn collinear_column_is_refused() {
        let y = [true, false, true, false, true];
        let x = Array2::from_shape_vec(
            (5, 2),
            vec![1.0, 2.0, 2.0, 4.0, 3.0, 6.0, 0.5, 1.0, 1.5, 3.0],
        )
        .expect("shape");
        let nm = names(2);
        let err = logistic_regression(
            &PropensityData::new(&y, x.view(), &nm),
            &LogisticOptions::default(),
        )
        .expect_err("collinear");
        assert!(matches!(err, ModelError::Collinear { ref covariate } if covariate == "x1"));
    }

    #[test]
    fn bad_inputs_are_typed_errors() {
        let y = [true, true];
        let x = Array2::<f64>::zeros((2, 0));
        let nm = names(0);
        assert!(matches!(
            logistic_regression(
                &PropensityData::new(&y, x.view(), &nm),
                &LogisticOptions::default()
            ),
            Err(ModelError::Unsupported(_))
        ));
        let y = [true, false];
        let w = [1.0, f64::NAN];
        assert!(matches!(
            logistic_regression(
                &PropensityData::new(&y, x.view(), &nm).with_weights(&w),
                &LogisticOptions::default()
            ),
            Err(ModelError::InvalidValue { row: 1, .. })
        ));
    }

    #[test]
    fn c_statistic_by_pairs() {
        let s = [0.1, 0.4, 0.35, 0.8, 0.4, 0.4];
        let g = [false, false, true, true, true, false];
        let w = [1.0, 2.0, 0.5, 1.0, 3.0, 1.5];
        for weights in [None, Some(&w[..])] {
            let wt = |i: usize| weights.map_or(1.0, |w| w[i]);
            let (mut num, mut den) = (0.0, 0.0);
            for i in 0..6 {
                for j in 0..6 {
                    if g[i] && !g[j] {
                        let pair = wt(i) * wt(j);
                        den += pair;
                        if s[i] > s[j] {
                            num += pair;
                        } else if s[i] == s[j] {
                            num += 0.5 * pair;
                        }
                    }
                }
            }
            let c = c_statistic(&s, &g, weights).expect("c");
            assert!((c - num / den).abs() < 1e-15);
        }
    }

    #[test]
    fn preference_score_is_half_at_the_treated_share() {
        let f = preference_scores(&[0.2, 0.5, 0.9], 0.2).expect("pref");
        assert!((f[0] - 0.5).abs() < 1e-15);
        assert!(f[1] > 0.5 && f[2] > f[1]);
        assert!(preference_scores(&[1.0], 0.5).is_err());
    }

    #[test]
    fn histogram_counts_every_row_once() {
        let s = [0.0, 0.05, 0.5, 0.99, 1.0, 0.3];
        let g = [true, false, true, false, true, false];
        let h = overlap_histogram(&s, &g, 10).expect("hist");
        assert_eq!(h.treated.iter().sum::<usize>(), 3);
        assert_eq!(h.control.iter().sum::<usize>(), 3);
        assert_eq!(h.treated[9], 1);
        assert_eq!(h.control[9], 1);
        assert_eq!(h.edges.len(), 11);
        assert_eq!(h.treated_range, (0.0, 1.0));
    }
}
