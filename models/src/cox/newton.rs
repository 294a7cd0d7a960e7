//! Newton–Raphson with step halving for the Cox partial likelihood, step for step as R's
//! `coxfit6` (right-censored data) and `agfit4` (counting-process data): start at 0, stop when
//! the relative change of the log-likelihood is at most `eps`, halve back towards the last good
//! β when the likelihood gets worse.

use super::Ties;
use super::engine::{Prepared, Workspace, evaluate};
use super::linalg::Ldl;

/// Outcome of the iterations, in the scaled coordinates of [`Prepared`].
#[derive(Debug, Clone)]
pub(crate) struct NewtonOutcome {
    pub beta: Vec<f64>,
    pub loglik_initial: f64,
    pub loglik: f64,
    pub score_test: f64,
    pub iterations: usize,
    pub converged: bool,
    /// |1 − previous/last| of the last attempted step (for the non-convergence message).
    pub last_change: f64,
    /// Rank of the information at β = 0, and its singular columns.
    pub initial_singular: Vec<usize>,
    /// Singular columns of the information at the final β.
    pub final_singular: Vec<usize>,
    /// Score and inverse information at the final β.
    pub u: Vec<f64>,
    pub var: Vec<f64>,
    /// True when a likelihood, score or information was not finite.
    pub not_finite: bool,
}

/// Iteration controls.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Controls {
    pub max_iter: usize,
    pub eps: f64,
    pub toler_chol: f64,
}

fn finite(u: &[f64], imat: &[f64], lk: f64) -> bool {
    lk.is_finite() && u.iter().all(|v| v.is_finite()) && imat.iter().all(|v| v.is_finite())
}

/// R's `coxfit6` loop (right-censored data).
pub(crate) fn newton_right(
    prep: &Prepared,
    ties: Ties,
    ctl: Controls,
    ws: &mut Workspace,
) -> NewtonOutcome {
    let p = prep.p;
    let mut beta = vec![0.0; p];
    let loglik0 = evaluate(prep, &beta, ties, ws);
    let ldl0 = Ldl::new(&ws.imat, p, ctl.toler_chol);
    let mut step = ws.u.clone();
    ldl0.solve(&mut step);
    let score_test: f64 = ws.u.iter().zip(&step).map(|(a, b)| a * b).sum();
    let initial_singular = ldl0.singular_columns();
    let mut out = NewtonOutcome {
        beta: beta.clone(),
        loglik_initial: loglik0,
        loglik: loglik0,
        score_test,
        iterations: 0,
        converged: false,
        last_change: f64::NAN,
        initial_singular: initial_singular.clone(),
        final_singular: initial_singular,
        u: ws.u.clone(),
        var: ldl0.inverse(),
        not_finite: !finite(&ws.u, &ws.imat, loglik0),
    };
    if ctl.max_iter == 0 || !loglik0.is_finite() || !out.initial_singular.is_empty() {
        out.converged = ctl.max_iter == 0;
        return out;
    }
    let mut best = loglik0;
    let mut newbeta: Vec<f64> = beta.iter().zip(&step).map(|(b, s)| b + s).collect();
    let mut halving = 0.0_f64;
    for iter in 1..=ctl.max_iter {
        let newlk = evaluate(prep, &newbeta, ties, ws);
        let ldl = Ldl::new(&ws.imat, p, ctl.toler_chol);
        let ok = finite(&ws.u, &ws.imat, newlk);
        out.iterations = iter;
        out.last_change = (1.0 - best / newlk).abs();
        if ok && out.last_change <= ctl.eps {
            out.beta = newbeta;
            out.loglik = newlk;
            out.converged = true;
            out.u = ws.u.clone();
            out.var = ldl.inverse();
            out.final_singular = ldl.singular_columns();
            out.not_finite = false;
            return out;
        }
        if !ok || newlk < best {
            halving += 1.0;
            for j in 0..p {
                newbeta[j] = (newbeta[j] + halving * beta[j]) / (halving + 1.0);
            }
        } else {
            halving = 0.0;
            best = newlk;
            let mut s = ws.u.clone();
            ldl.solve(&mut s);
            beta.copy_from_slice(&newbeta);
            for j in 0..p {
                newbeta[j] += s[j];
            }
        }
        out.not_finite = !ok;
    }
    // Out of iterations: report the last good β.
    let lk = evaluate(prep, &beta, ties, ws);
    let ldl = Ldl::new(&ws.imat, p, ctl.toler_chol);
    out.beta = beta;
    out.loglik = lk;
    out.u = ws.u.clone();
    out.var = ldl.inverse();
    out.final_singular = ldl.singular_columns();
    out
}

/// R's `agfit4` loop (counting-process data): convergence is only accepted after a full step,
/// and a change in the rank of the information counts as a failed step.
pub(crate) fn newton_counting(
    prep: &Prepared,
    ties: Ties,
    ctl: Controls,
    ws: &mut Workspace,
) -> NewtonOutcome {
    let p = prep.p;
    let mut beta = vec![0.0; p];
    let mut oldbeta = vec![0.0; p];
    let mut halving = 0.0_f64;
    let mut best = f64::NAN;
    let mut rank0 = 0;
    let mut out = NewtonOutcome {
        beta: beta.clone(),
        loglik_initial: f64::NAN,
        loglik: f64::NAN,
        score_test: f64::NAN,
        iterations: 0,
        converged: false,
        last_change: f64::NAN,
        initial_singular: Vec::new(),
        final_singular: Vec::new(),
        u: Vec::new(),
        var: Vec::new(),
        not_finite: false,
    };
    let mut iter = 0;
    let final_ldl;
    let final_lk;
    loop {
        let newlk = evaluate(prep, &beta, ties, ws);
        let ldl = Ldl::new(&ws.imat, p, ctl.toler_chol);
        out.iterations = iter;
        if iter == 0 {
            out.loglik_initial = newlk;
            best = newlk;
            rank0 = ldl.rank();
            out.initial_singular = ldl.singular_columns();
            let mut a = ws.u.clone();
            ldl.solve(&mut a);
            out.score_test = ws.u.iter().zip(&a).map(|(x, y)| x * y).sum();
            if ctl.max_iter == 0 || !newlk.is_finite() || !out.initial_singular.is_empty() {
                out.converged = ctl.max_iter == 0;
                out.not_finite = !newlk.is_finite();
                final_ldl = ldl;
                final_lk = newlk;
                break;
            }
            oldbeta.copy_from_slice(&beta);
            for j in 0..p {
                beta[j] += a[j];
            }
        } else {
            let fail = !finite(&ws.u, &ws.imat, newlk) || ldl.rank() != rank0;
            out.last_change = (1.0 - best / newlk).abs();
            if !fail && halving == 0.0 && out.last_change <= ctl.eps {
                out.converged = true;
                final_ldl = ldl;
                final_lk = newlk;
                break;
            }
            if iter == ctl.max_iter {
                out.not_finite = fail;
                // R goes back to the last good β when the last step made things worse.
                if ctl.max_iter > 1 && (newlk - best) / best.abs() < -ctl.eps {
                    beta.copy_from_slice(&oldbeta);
                    let lk = evaluate(prep, &beta, ties, ws);
                    final_ldl = Ldl::new(&ws.imat, p, ctl.toler_chol);
                    final_lk = lk;
                } else {
                    final_ldl = ldl;
                    final_lk = newlk;
                }
                break;
            }
            if fail || newlk < best {
                halving += 1.0;
                for j in 0..p {
                    beta[j] = (oldbeta[j] * halving + beta[j]) / (halving + 1.0);
                }
            } else {
                halving = 0.0;
                best = newlk;
                let mut s = ws.u.clone();
                ldl.solve(&mut s);
                oldbeta.copy_from_slice(&beta);
                for j in 0..p {
                    beta[j] += s[j];
                }
            }
        }
        iter += 1;
    }
    out.beta = beta;
    out.loglik = final_lk;
    out.u = ws.u.clone();
    out.var = final_ldl.inverse();
    out.final_singular = final_ldl.singular_columns();
    out
}
