//! Competing-risks regression: the Fine–Gray subdistribution-hazards model, exactly as R's
//! `finegray()` data expansion (censoring Kaplan–Meier weights) followed by the weighted
//! counting-process `coxph(Surv(fgstart, fgstop, fgstatus) ~ ..., weights = fgwt)`, and the
//! cause-specific Cox model (the other causes censored).
//!
//! As in R, the non-integer weights make the fit report the robust (sandwich) variance, with one
//! cluster per expanded row; the model-based standard error is reported beside it.

use ndarray::{Array2, ArrayView2};
use serde::Serialize;

use crate::ModelError;
use crate::cox::{CoxData, CoxFit, CoxModel, CoxOptions};
use crate::design::DesignTerm;

/// Right-censored competing-risks data.
#[derive(Debug, Clone, Copy)]
pub struct CompetingRisksData<'a> {
    pub time: &'a [f64],
    /// 0 = censored; k ≥ 1 = ended by cause k.
    pub cause: &'a [u32],
    pub x: ArrayView2<'a, f64>,
    pub covariate_names: &'a [String],
    pub terms: Option<&'a [DesignTerm]>,
    /// Case weights (> 0).
    pub weights: Option<&'a [f64]>,
}

impl<'a> CompetingRisksData<'a> {
    pub fn new(
        time: &'a [f64],
        cause: &'a [u32],
        x: ArrayView2<'a, f64>,
        covariate_names: &'a [String],
    ) -> Self {
        CompetingRisksData {
            time,
            cause,
            x,
            covariate_names,
            terms: None,
            weights: None,
        }
    }

    /// Data whose covariates, names and terms come from a design matrix (times and causes
    /// already restricted to the design's kept rows).
    pub fn from_design(
        design: &'a crate::design::DesignMatrix,
        time: &'a [f64],
        cause: &'a [u32],
    ) -> Self {
        let mut d = CompetingRisksData::new(time, cause, design.x.view(), &design.column_names);
        d.terms = Some(&design.terms);
        d
    }

    /// Case weights (> 0).
    pub fn with_weights(mut self, weights: &'a [f64]) -> Self {
        self.weights = Some(weights);
        self
    }
}

/// The Fine–Gray expanded data (R's `finegray()` output columns).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FineGrayExpansion {
    /// Input row of each expanded row.
    pub row: Vec<usize>,
    pub start: Vec<f64>,
    pub stop: Vec<f64>,
    /// Event of interest at `stop`.
    pub event: Vec<bool>,
    /// Censoring-probability weight times the case weight.
    pub weight: Vec<f64>,
}

/// A Fine–Gray fit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FineGrayFit {
    /// The cause whose cumulative incidence is modelled.
    pub cause: u32,
    pub n_subjects: usize,
    pub n_events_of_interest: usize,
    /// Rows of the expanded data and the sum of their weights.
    pub n_expanded_rows: usize,
    pub sum_weights: f64,
    /// The weighted Cox fit on the expanded data: its coefficients are the subdistribution
    /// log hazard ratios.
    pub fit: CoxFit,
}

fn validate(data: &CompetingRisksData<'_>) -> Result<(), ModelError> {
    let n = data.time.len();
    let check = |name: &str, len: usize| crate::km::check_length(name, n, len);
    check("cause", data.cause.len())?;
    check("covariates", data.x.nrows())?;
    if let Some(w) = data.weights {
        check("weights", w.len())?;
    }
    if n == 0 {
        return Err(ModelError::Unsupported("no rows".into()));
    }
    if let Some(i) = data.time.iter().position(|t| !t.is_finite()) {
        return Err(ModelError::InvalidValue {
            row: i,
            message: "time is not finite".into(),
        });
    }
    Ok(())
}

/// Censoring survival G just after each distinct censoring time (ascending): censored rows with
/// time ≥ c and event rows with time > c are at risk (an event precedes a censoring at the same
/// time), unweighted, as `finegray()` computes it.
fn censoring_km(time: &[f64], cause: &[u32]) -> (Vec<f64>, Vec<f64>) {
    let mut cens: Vec<f64> = (0..time.len())
        .filter(|&i| cause[i] == 0)
        .map(|i| time[i])
        .collect();
    let mut ev: Vec<f64> = (0..time.len())
        .filter(|&i| cause[i] != 0)
        .map(|i| time[i])
        .collect();
    cens.sort_by(f64::total_cmp);
    ev.sort_by(f64::total_cmp);
    let mut ctime = Vec::new();
    let mut cprob = Vec::new();
    let mut g = 1.0;
    let mut k = 0;
    while k < cens.len() {
        let c = cens[k];
        let mut e = k;
        while e < cens.len() && cens[e] == c {
            e += 1;
        }
        let d = (e - k) as f64;
        let at_risk = (cens.len() - k) + (ev.len() - ev.partition_point(|&v| v <= c));
        g *= 1.0 - d / at_risk as f64;
        ctime.push(c);
        cprob.push(g);
        k = e;
    }
    (ctime, cprob)
}

/// R's `finegray()` expansion for the event `cause` (right-censored data, one stratum).
pub fn finegray_expand(
    time: &[f64],
    cause_of: &[u32],
    cause: u32,
    weights: Option<&[f64]>,
) -> Result<FineGrayExpansion, ModelError> {
    let n = time.len();
    if cause == 0 {
        return Err(ModelError::Unsupported(
            "cause 0 means censored; model a cause ≥ 1".into(),
        ));
    }
    if cause_of.len() != n {
        return Err(ModelError::LengthMismatch {
            column: "cause".into(),
            expected: n,
            found: cause_of.len(),
        });
    }
    let min = time.iter().copied().fold(f64::INFINITY, f64::min);
    let zero = if min > 0.0 { 0.0 } else { 2.0 * min - 1.0 };
    let (ctime, cprob) = censoring_km(time, cause_of);
    let mut times: Vec<f64> = (0..n)
        .filter(|&i| cause_of[i] == cause)
        .map(|i| time[i])
        .collect();
    if times.is_empty() {
        return Err(ModelError::Unsupported(format!(
            "no events of cause {cause}"
        )));
    }
    times.sort_by(f64::total_cmp);
    times.dedup();
    let maxtime = time.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut ct2 = ctime;
    ct2.push(maxtime);
    let mut cp2 = vec![1.0];
    cp2.extend(cprob);
    let ncut = cp2.len();
    // keep[j]: output the interval (ct2[j-1], ct2[j]] (it holds an event time of interest).
    let mut keep = vec![false; ncut + 1];
    keep[0] = true;
    for &t in &times {
        let idx = ct2.partition_point(|&c| c < t);
        if idx >= 1 {
            keep[idx] = true;
        }
    }
    let mut out = FineGrayExpansion {
        row: Vec::new(),
        start: Vec::new(),
        stop: Vec::new(),
        event: Vec::new(),
        weight: Vec::new(),
    };
    for i in 0..n {
        let uw = weights.map_or(1.0, |w| w[i]);
        let expand = cause_of[i] != 0 && cause_of[i] != cause;
        let mut stop = time[i];
        let mut extra = Vec::new();
        if expand {
            let mut j = 0;
            while j < ncut && ct2[j] < time[i] {
                j += 1;
            }
            if j < ncut {
                stop = ct2[j];
                let tempwt = cp2[j];
                for jj in (j + 1)..ncut {
                    if keep[jj] {
                        extra.push((ct2[jj - 1], ct2[jj], cp2[jj] / tempwt));
                    }
                }
            }
        }
        out.row.push(i);
        out.start.push(zero);
        out.stop.push(stop);
        out.event.push(cause_of[i] == cause);
        out.weight.push(uw);
        for (a, b, w) in extra {
            out.row.push(i);
            out.start.push(a);
            out.stop.push(b);
            out.event.push(false);
            out.weight.push(w * uw);
        }
    }
    Ok(out)
}

/// Fits the Fine–Gray model for `cause`.
pub fn fine_gray(
    data: &CompetingRisksData<'_>,
    cause: u32,
    options: &CoxOptions,
) -> Result<FineGrayFit, ModelError> {
    validate(data)?;
    let ex = finegray_expand(data.time, data.cause, cause, data.weights)?;
    let p = data.x.ncols();
    let m = ex.row.len();
    let mut x = Array2::<f64>::zeros((m, p));
    for (k, &i) in ex.row.iter().enumerate() {
        x.row_mut(k).assign(&data.x.row(i));
    }
    let mut cd = CoxData::new(&ex.stop, &ex.event, x.view(), data.covariate_names)
        .with_start(&ex.start)
        .with_weights(&ex.weight);
    cd.terms = data.terms;
    let fit = CoxModel::fit(&cd, options)?.into_summary();
    Ok(FineGrayFit {
        cause,
        n_subjects: data.time.len(),
        n_events_of_interest: data.cause.iter().filter(|&&c| c == cause).count(),
        n_expanded_rows: m,
        sum_weights: ex.weight.iter().sum(),
        fit,
    })
}

/// Cause-specific Cox model for `cause`: events of the other causes are censored.
pub fn cause_specific(
    data: &CompetingRisksData<'_>,
    cause: u32,
    options: &CoxOptions,
) -> Result<CoxFit, ModelError> {
    validate(data)?;
    let event: Vec<bool> = data.cause.iter().map(|&c| c == cause).collect();
    let mut cd = CoxData::new(data.time, &event, data.x.view(), data.covariate_names);
    cd.terms = data.terms;
    cd.weights = data.weights;
    Ok(CoxModel::fit(&cd, options)?.into_summary())
}
