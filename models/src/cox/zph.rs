//! The proportional-hazards test of R's `cox.zph` (survival ≥ 3.0: the score test for adding
//! β_j · g(t) terms at the fitted β) and the scaled Schoenfeld residuals it plots, per term and
//! globally, for the time transforms "km" (default), "identity" and "rank".

use serde::Serialize;

use super::engine::Prepared;
use super::linalg::solve_general;
use super::residuals::RiskState;
use super::{Ties, ZphTransform};
use crate::ModelError;
use crate::dist::chi_square_sf;

/// One row of the PH test table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZphTest {
    /// Term name, or `GLOBAL`.
    pub term: String,
    pub chisq: f64,
    pub df: usize,
    pub p_value: f64,
}

/// Result of the proportional-hazards test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CoxZph {
    pub transform: ZphTransform,
    /// One test per term, then the global test.
    pub tests: Vec<ZphTest>,
    /// Event times of the residual rows (stratum, then time ascending).
    pub time: Vec<f64>,
    /// The transformed times g(t) of the residual rows.
    pub transformed_time: Vec<f64>,
    /// Stratum code of each residual row.
    pub stratum: Vec<u32>,
    /// Term names (columns of `scaled_residuals`).
    pub terms: Vec<String>,
    /// Scaled Schoenfeld residuals, one row per event, one column per term (`None` where the
    /// term does not vary within the stratum).
    pub scaled_residuals: Vec<Vec<Option<f64>>>,
}

/// The fitted model as the PH test needs it.
pub(crate) struct ZphInput<'a, 'd> {
    pub prep: &'a Prepared<'d>,
    pub beta_scaled: &'a [f64],
    pub coef: &'a [f64],
    pub ties: Ties,
    /// Terms: name and the columns each owns.
    pub terms: Vec<(String, Vec<usize>)>,
}

/// Kaplan–Meier survival just before each sorted row's stop time (all strata pooled, unweighted,
/// (start, stop] aware): R's `survfitKM` as `cox.zph` uses it.
fn km_left(prep: &Prepared) -> Vec<f64> {
    let n = prep.n;
    let mut times: Vec<f64> = (0..n)
        .filter(|&r| prep.event[r])
        .map(|r| prep.stop[r])
        .collect();
    times.sort_by(f64::total_cmp);
    times.dedup();
    let mut stops: Vec<f64> = prep.stop.clone();
    stops.sort_by(f64::total_cmp);
    let mut starts: Vec<f64> = prep.start.clone();
    starts.sort_by(f64::total_cmp);
    let mut deaths: Vec<f64> = (0..n)
        .filter(|&r| prep.event[r])
        .map(|r| prep.stop[r])
        .collect();
    deaths.sort_by(f64::total_cmp);
    // S just after each event time.
    let mut surv = Vec::with_capacity(times.len());
    let mut s = 1.0;
    for &t in &times {
        let at_risk = (n - stops.partition_point(|&v| v < t))
            - if prep.counting {
                n - starts.partition_point(|&v| v < t)
            } else {
                0
            };
        let d = deaths.partition_point(|&v| v <= t) - deaths.partition_point(|&v| v < t);
        s *= 1.0 - d as f64 / at_risk as f64;
        surv.push(s);
    }
    (0..n)
        .map(|r| {
            let k = times.partition_point(|&t| t < prep.stop[r]);
            if k == 0 { 1.0 } else { surv[k - 1] }
        })
        .collect()
}

/// Average ranks of the sorted rows' stop times among all rows (R's `rank`).
fn average_ranks(prep: &Prepared) -> Vec<f64> {
    let mut s: Vec<f64> = prep.stop.clone();
    s.sort_by(f64::total_cmp);
    prep.stop
        .iter()
        .map(|&t| {
            let lo = s.partition_point(|&v| v < t);
            let hi = s.partition_point(|&v| v <= t);
            (lo + 1 + hi) as f64 / 2.0
        })
        .collect()
}

pub(crate) fn cox_zph(
    inp: &ZphInput<'_, '_>,
    transform: ZphTransform,
) -> Result<CoxZph, ModelError> {
    let prep = inp.prep;
    let (n, p) = (prep.n, prep.p);
    let st = RiskState::new(prep, inp.beta_scaled, inp.ties);

    // g(t) per sorted row, centred at its mean over the events.
    let ttimes: Vec<f64> = match transform {
        ZphTransform::Km => km_left(prep).into_iter().map(|s| 1.0 - s).collect(),
        ZphTransform::Identity => prep.stop.clone(),
        ZphTransform::Rank => average_ranks(prep),
    };
    let n_events = prep.event.iter().filter(|&&e| e).count();
    let mean_event = (0..n)
        .filter(|&r| prep.event[r])
        .map(|r| ttimes[r])
        .sum::<f64>()
        / n_events as f64;
    let ns = prep.n_slots();
    let mut tau = vec![0.0; ns];
    for (slot, g) in prep.groups.iter().enumerate() {
        if let Some(r) = g.deaths.clone().next() {
            tau[slot] = ttimes[r] - mean_event;
        }
    }

    // Score (2p) and information (2p × 2p) of the model with the β_j g(t) terms, at (β̂, 0).
    let p2 = 2 * p;
    let mut u = vec![0.0; p2];
    let mut imat = vec![0.0; p2 * p2];
    let mut q = vec![vec![0.0; ns]; 3];
    for (m, qm) in q.iter_mut().enumerate() {
        super::engine::suffix_sums(prep, |s| st.scalars[s].c * tau[s].powi(m as i32), qm);
    }
    let block = |a: usize, b: usize, m: usize| -> (usize, usize) {
        match m {
            0 => (a, b),
            1 => (a, b + p),
            _ => (a + p, b + p),
        }
    };
    for r in 0..n {
        let a = prep.first_slot[r] as usize;
        let b = prep.last_slot[r] as usize;
        let x = prep.row(r);
        let ru = st.risk[r];
        for m in 0..3 {
            let mut cm = q[m][a] - q[m][b];
            if prep.event[r] {
                cm -= st.scalars[a].e * tau[a].powi(m as i32);
            }
            let v = ru * cm;
            if v == 0.0 {
                continue;
            }
            for i in 0..p {
                for j in i..p {
                    let (bi, bj) = block(i, j, m);
                    imat[bi * p2 + bj] += v * x[i] * x[j];
                }
            }
        }
        if prep.event[r] {
            let w = prep.weight[r];
            for i in 0..p {
                u[i] += w * x[i];
                u[i + p] += w * x[i] * tau[a];
            }
        }
    }
    for (slot, sc) in st.scalars.iter().enumerate() {
        if sc.ndeath == 0 {
            continue;
        }
        let s1 = &st.s1[slot * p..(slot + 1) * p];
        let d1 = &st.d1[slot * p..(slot + 1) * p];
        let t = tau[slot];
        for i in 0..p {
            let mean_part = sc.c * s1[i] - sc.e * d1[i];
            u[i] -= mean_part;
            u[i + p] -= t * mean_part;
            for j in i..p {
                // α, β, γ are normalised by S0² (see GroupScalars).
                let (si, sj, di, dj) = (s1[i] / sc.s0, s1[j] / sc.s0, d1[i] / sc.s0, d1[j] / sc.s0);
                let rank = sc.alpha * si * sj - sc.beta * (si * dj + di * sj) + sc.gamma * di * dj;
                for m in 0..3 {
                    let (bi, bj) = block(i, j, m);
                    imat[bi * p2 + bj] -= t.powi(m as i32) * rank;
                }
            }
        }
    }
    // Fill the symmetric blocks, then return to the covariates' own scale.
    for i in 0..p {
        for j in 0..i {
            imat[i * p2 + j] = imat[j * p2 + i];
            imat[(i + p) * p2 + j + p] = imat[(j + p) * p2 + i + p];
        }
        for j in 0..p {
            // upper-right block holds (i, j+p) for i <= j; mirror within the block
            if j < i {
                imat[i * p2 + j + p] = imat[j * p2 + i + p];
            }
        }
    }
    for i in 0..p {
        for j in 0..p {
            imat[(j + p) * p2 + i] = imat[i * p2 + j + p];
        }
    }
    let sc_of = |k: usize| prep.scale[k % p];
    for a in 0..p2 {
        u[a] /= sc_of(a);
        for b in 0..p2 {
            imat[a * p2 + b] /= sc_of(a) * sc_of(b);
        }
    }

    // Tests.
    let mut tests = Vec::with_capacity(inp.terms.len() + 1);
    let score_test = |cols: &[usize]| -> Result<f64, ModelError> {
        let kk: Vec<usize> = (0..p).chain(cols.iter().map(|&j| j + p)).collect();
        let m = kk.len();
        let mut sub = vec![0.0; m * m];
        for (x, &i) in kk.iter().enumerate() {
            for (y, &j) in kk.iter().enumerate() {
                sub[x * m + y] = imat[i * p2 + j];
            }
        }
        let uu: Vec<f64> = kk.iter().map(|&i| if i < p { 0.0 } else { u[i] }).collect();
        let sol = solve_general(&sub, m, &uu).ok_or_else(|| {
            ModelError::Unsupported("the information matrix of the PH test is singular".into())
        })?;
        Ok(sol.iter().zip(&uu).map(|(a, b)| a * b).sum())
    };
    for (name, cols) in &inp.terms {
        let chisq = score_test(cols)?;
        tests.push(ZphTest {
            term: name.clone(),
            chisq,
            df: cols.len(),
            p_value: chi_square_sf(chisq, cols.len() as f64),
        });
    }
    let all: Vec<usize> = (0..p).collect();
    let chisq = score_test(&all)?;
    tests.push(ZphTest {
        term: "GLOBAL".into(),
        chisq,
        df: p,
        p_value: chi_square_sf(chisq, p as f64),
    });

    // Scaled Schoenfeld residuals.
    let mh3 = st.death_means(prep);
    // Residual rows in R's order: stratum, time ascending; ties by input row (descending for
    // counting-process data).
    let mut rows: Vec<usize> = (0..n).filter(|&r| prep.event[r]).collect();
    rows.sort_by(|&a, &b| {
        let (sa, sb) = (stratum_index(prep, a), stratum_index(prep, b));
        let tie = if prep.counting {
            prep.order[b].cmp(&prep.order[a])
        } else {
            prep.order[a].cmp(&prep.order[b])
        };
        sa.cmp(&sb)
            .then(prep.stop[a].total_cmp(&prep.stop[b]))
            .then(tie)
    });
    let nterm = inp.terms.len();
    // used[s][j]: events in stratum s if covariate j varies there, else 0.
    let xs = prep.xs();
    let raw_x = |r: usize, j: usize| xs[r * p + j];
    let mut used: Vec<Vec<f64>> = Vec::new();
    for s in &prep.strata {
        let nd = s.rows.clone().filter(|&r| prep.event[r]).count() as f64;
        let first = s.rows.start;
        used.push(
            (0..p)
                .map(|j| {
                    if s.rows.clone().any(|r| raw_x(r, j) != raw_x(first, j)) {
                        nd
                    } else {
                        0.0
                    }
                })
                .collect(),
        );
    }
    for (_, cols) in &inp.terms {
        if cols.len() > 1 {
            for us in used.iter_mut() {
                if cols.iter().any(|&j| us[j] == 0.0) {
                    let mx = cols.iter().map(|&j| us[j]).fold(0.0, f64::max);
                    for &j in cols {
                        us[j] = mx;
                    }
                }
            }
        }
    }
    let mut vmean = vec![0.0; p * p];
    for i in 0..p {
        for j in 0..p {
            let wt: f64 = used.iter().map(|us| us[i].min(us[j])).sum();
            vmean[i * p + j] = imat[i * p2 + j] / if wt == 0.0 { 1.0 } else { wt };
        }
    }
    // Column map to terms (R weights a multi-column term's residuals by its coefficients).
    let mut tmap = vec![0.0; p * nterm];
    for (t, (_, cols)) in inp.terms.iter().enumerate() {
        for &j in cols {
            tmap[j * nterm + t] = if cols.len() == 1 { 1.0 } else { inp.coef[j] };
        }
    }
    let mut vterm = vec![0.0; nterm * nterm];
    for a in 0..nterm {
        for b in 0..nterm {
            let mut s = 0.0;
            for i in 0..p {
                for j in 0..p {
                    s += tmap[i * nterm + a] * vmean[i * p + j] * tmap[j * nterm + b];
                }
            }
            vterm[a * nterm + b] = s;
        }
    }
    let used_term: Vec<Vec<f64>> = used
        .iter()
        .map(|us| inp.terms.iter().map(|(_, c)| us[c[0]]).collect())
        .collect();

    let mut scaled = Vec::with_capacity(rows.len());
    let mut time = Vec::with_capacity(rows.len());
    let mut transformed = Vec::with_capacity(rows.len());
    let mut stratum = Vec::with_capacity(rows.len());
    for &r in &rows {
        let a = prep.first_slot[r] as usize;
        let s_idx = stratum_index(prep, r);
        let x = prep.row(r);
        let schoen: Vec<f64> = (0..p)
            .map(|j| (x[j] - mh3[a * p + j]) / prep.scale[j])
            .collect();
        let by_term: Vec<f64> = (0..nterm)
            .map(|t| (0..p).map(|j| schoen[j] * tmap[j * nterm + t]).sum())
            .collect();
        let k: Vec<usize> = (0..nterm).filter(|&t| used_term[s_idx][t] > 0.0).collect();
        let mut row_out = vec![None; nterm];
        if !k.is_empty() {
            let m = k.len();
            let mut sub = vec![0.0; m * m];
            for (x1, &i) in k.iter().enumerate() {
                for (y1, &j) in k.iter().enumerate() {
                    sub[x1 * m + y1] = vterm[i * nterm + j];
                }
            }
            let rhs: Vec<f64> = k.iter().map(|&t| by_term[t]).collect();
            let sol = solve_general(&sub, m, &rhs).ok_or_else(|| {
                ModelError::Unsupported(
                    "singular variance in the scaled Schoenfeld residuals".into(),
                )
            })?;
            for (idx, &t) in k.iter().enumerate() {
                let cols = &inp.terms[t].1;
                let add = if cols.len() == 1 {
                    inp.coef[cols[0]]
                } else {
                    1.0
                };
                row_out[t] = Some(sol[idx] + add);
            }
        }
        scaled.push(row_out);
        time.push(prep.stop[r]);
        transformed.push(ttimes[r]);
        stratum.push(prep.strata[s_idx].code);
    }
    Ok(CoxZph {
        transform,
        tests,
        time,
        transformed_time: transformed,
        stratum,
        terms: inp.terms.iter().map(|t| t.0.clone()).collect(),
        scaled_residuals: scaled,
    })
}

fn stratum_index(prep: &Prepared, r: usize) -> usize {
    prep.strata.partition_point(|s| s.rows.end <= r)
}
