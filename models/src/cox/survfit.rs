//! Baseline cumulative hazard and predicted survival curves of a fitted Cox model, as R's
//! `basehaz` and `survfit(fit, newdata = ...)`: the Breslow (or, for Efron ties, Efron) hazard,
//! its Tsiatis variance including the uncertainty of β̂, and log-scale confidence intervals.

use serde::Serialize;

use super::Ties;
use super::engine::Prepared;

/// A predicted survival curve (or a baseline hazard) at the distinct observed times of a stratum.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SurvivalCurve {
    /// Stratum code (0 when the model has no strata).
    pub stratum: u32,
    pub time: Vec<f64>,
    /// Weighted number at risk.
    pub n_risk: Vec<f64>,
    pub n_event: Vec<f64>,
    pub n_censor: Vec<f64>,
    pub survival: Vec<f64>,
    pub cumulative_hazard: Vec<f64>,
    /// Standard error of the cumulative hazard (= of log survival).
    pub std_err: Vec<f64>,
    /// Confidence interval of survival (log scale, upper limit capped at 1).
    pub lower: Vec<f64>,
    pub upper: Vec<f64>,
}

/// Baseline cumulative hazard of one stratum (R's `basehaz`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineHazard {
    pub stratum: u32,
    pub time: Vec<f64>,
    pub cumulative_hazard: Vec<f64>,
}

/// The hazard increments of one stratum at β̂.
pub(crate) struct StratumHazard {
    pub code: u32,
    pub time: Vec<f64>,
    pub n_risk: Vec<f64>,
    pub n_event: Vec<f64>,
    pub n_censor: Vec<f64>,
    /// Cumulative hazard at the centring profile (risk exp(xβ − xcenter)).
    pub cumhaz: Vec<f64>,
    /// Cumulative Σ varhaz.
    pub varhaz: Vec<f64>,
    /// Cumulative Σ x̄ dΛ (covariates centred at `center`), p per time.
    pub xbar: Vec<f64>,
}

/// Per-stratum hazards. `risk` is exp(x β − xcenter) per sorted row; `xc` the covariates per sorted
/// row centred at some `center` (row-major n × p).
pub(crate) fn stratum_hazards(
    prep: &Prepared,
    risk: &[f64],
    xc: &[f64],
    ties: Ties,
) -> Vec<StratumHazard> {
    let p = prep.p;
    let mut out = Vec::with_capacity(prep.strata.len());
    for st in &prep.strata {
        let mut time = Vec::new();
        let mut n_risk = Vec::new();
        let mut n_event = Vec::new();
        let mut n_censor = Vec::new();
        let mut haz = Vec::new();
        let mut vhaz = Vec::new();
        let mut xb: Vec<f64> = Vec::new();
        let mut nrisk = 0.0; // Σ w r
        let mut irisk = 0.0; // Σ w
        let mut xsum = vec![0.0; p];
        let mut cnt: usize = 0;
        let mut rem = 0;
        let mut r = st.rows.start;
        while r < st.rows.end {
            let t = prep.stop[r];
            if prep.counting {
                while rem < st.start_order.len() {
                    let k = st.start_order[rem] as usize;
                    if prep.start[k] < t {
                        break;
                    }
                    rem += 1;
                    cnt -= 1;
                    if cnt == 0 {
                        nrisk = 0.0;
                        irisk = 0.0;
                        xsum.iter_mut().for_each(|v| *v = 0.0);
                    } else {
                        let w = prep.weight[k];
                        nrisk -= w * risk[k];
                        irisk -= w;
                        for j in 0..p {
                            xsum[j] -= w * risk[k] * xc[k * p + j];
                        }
                    }
                }
            }
            let mut nevent = 0.0;
            let mut ncens = 0.0;
            let mut ndeath = 0usize;
            let mut erisk = 0.0;
            let mut xsum2 = vec![0.0; p];
            let mut s = r;
            while s < st.rows.end && prep.stop[s] == t {
                let w = prep.weight[s];
                let wr = w * risk[s];
                nrisk += wr;
                irisk += w;
                cnt += 1;
                for j in 0..p {
                    xsum[j] += wr * xc[s * p + j];
                }
                if prep.event[s] {
                    nevent += w;
                    ndeath += 1;
                    erisk += wr;
                    for j in 0..p {
                        xsum2[j] += wr * xc[s * p + j];
                    }
                } else {
                    ncens += w;
                }
                s += 1;
            }
            let (h, v) = if ndeath == 0 {
                xb.extend(std::iter::repeat_n(0.0, p));
                (0.0, 0.0)
            } else if ties == Ties::Breslow || ndeath == 1 {
                let h = nevent / nrisk;
                for j in 0..p {
                    xb.push(xsum[j] / nrisk * h);
                }
                (h, nevent / (nrisk * nrisk))
            } else {
                let d = ndeath as f64;
                let (mut s1, mut s2) = (0.0, 0.0);
                let mut xk = vec![0.0; p];
                for k in 0..ndeath {
                    let f = k as f64 / d;
                    let temp = 1.0 / (nrisk - erisk * f);
                    s1 += temp / d;
                    s2 += temp * temp / d;
                    for j in 0..p {
                        xk[j] += (xsum[j] - xsum2[j] * f) * temp * temp / d;
                    }
                }
                xb.extend(xk.iter().map(|v| nevent * v));
                (nevent * s1, nevent * s2)
            };
            time.push(t);
            n_risk.push(irisk);
            n_event.push(nevent);
            n_censor.push(ncens);
            haz.push(h);
            vhaz.push(v);
            r = s;
        }
        // Ascending time, cumulated.
        let m = time.len();
        let rev = |v: Vec<f64>| v.into_iter().rev().collect::<Vec<f64>>();
        let time = rev(time);
        let n_risk = rev(n_risk);
        let n_event = rev(n_event);
        let n_censor = rev(n_censor);
        let mut cumhaz = Vec::with_capacity(m);
        let mut varhaz = Vec::with_capacity(m);
        let mut xbar = vec![0.0; m * p];
        let (mut ch, mut vh) = (0.0, 0.0);
        let mut acc = vec![0.0; p];
        for k in 0..m {
            let src = m - 1 - k;
            ch += haz[src];
            vh += vhaz[src];
            cumhaz.push(ch);
            varhaz.push(vh);
            for j in 0..p {
                acc[j] += xb[src * p + j];
                xbar[k * p + j] = acc[j];
            }
        }
        out.push(StratumHazard {
            code: st.code,
            time,
            n_risk,
            n_event,
            n_censor,
            cumhaz,
            varhaz,
            xbar,
        });
    }
    out
}

/// The curve of one profile: `risk2` = exp(x2 β − xcenter), `x2c` = x2 − center.
pub(crate) fn curve(
    h: &StratumHazard,
    risk2: f64,
    x2c: &[f64],
    var: &[f64],
    z: f64,
) -> SurvivalCurve {
    let p = x2c.len();
    let m = h.time.len();
    let mut survival = Vec::with_capacity(m);
    let mut cumulative_hazard = Vec::with_capacity(m);
    let mut std_err = Vec::with_capacity(m);
    let mut lower = Vec::with_capacity(m);
    let mut upper = Vec::with_capacity(m);
    let mut dt = vec![0.0; p];
    for k in 0..m {
        let ch = h.cumhaz[k] * risk2;
        for j in 0..p {
            dt[j] = h.cumhaz[k] * x2c[j] - h.xbar[k * p + j];
        }
        let mut quad = 0.0;
        for a in 0..p {
            for b in 0..p {
                quad += dt[a] * var[a * p + b] * dt[b];
            }
        }
        let se = ((h.varhaz[k] + quad) * risk2 * risk2).max(0.0).sqrt();
        let s = (-ch).exp();
        survival.push(s);
        cumulative_hazard.push(ch);
        std_err.push(se);
        lower.push(s * (-z * se).exp());
        upper.push((s * (z * se).exp()).min(1.0));
    }
    SurvivalCurve {
        stratum: h.code,
        time: h.time.clone(),
        n_risk: h.n_risk.clone(),
        n_event: h.n_event.clone(),
        n_censor: h.n_censor.clone(),
        survival,
        cumulative_hazard,
        std_err,
        lower,
        upper,
    }
}
