//! The risk-set engine of the Cox fit: the data sorted once (stratum, stop time descending, deaths
//! first), centred and scaled into one contiguous row-major buffer, the event groups (distinct
//! event times per stratum), and the pass that evaluates the log partial likelihood, score and
//! information at a coefficient vector.
//!
//! The information is assembled without p × p risk-set sums: with c_g = Σ_k w̄/D_k and
//! e_g = Σ_k w̄ f_k/D_k the Efron (or Breslow) hazard weights of event group g,
//!
//! ```text
//! I = Σ_i r_i x_i x_i' (C_i − δ_i e_{g(i)}) − Σ_g [α_g S1 S1' − β_g (S1 D1' + D1 S1') + γ_g D1 D1']
//! ```
//!
//! where C_i sums c_g over the groups whose risk set holds row i, S1 / D1 are the risk-weighted
//! covariate sums of the risk set / the deaths, and α, β, γ are Σ_k w̄ f_k^m / D_k². The first sum
//! is a plain weighted sum of outer products (parallel over fixed chunks of rows, reduced in a
//! fixed order: deterministic), the second costs p² per event group. Only S0 and S1 are swept
//! sequentially through the sorted rows.

use std::ops::Range;

use rayon::prelude::*;

use super::Ties;

/// Rows per chunk of the parallel passes (fixed, so results do not depend on the thread count).
pub(crate) const CHUNK: usize = 4096;

/// One stratum of the sorted data.
#[derive(Debug, Clone)]
pub(crate) struct Stratum {
    pub code: u32,
    /// Sorted positions of its rows.
    pub rows: Range<usize>,
    /// Its event-group slots; the last one is an empty sentinel.
    pub slots: Range<usize>,
    /// Counting-process data: its sorted positions ordered by start time, descending.
    pub start_order: Vec<u32>,
}

/// A distinct event time within a stratum (or a stratum's sentinel: time −∞, no deaths).
#[derive(Debug, Clone)]
pub(crate) struct Group {
    pub time: f64,
    /// Sorted positions of the deaths at this time (contiguous: deaths sort first).
    pub deaths: Range<usize>,
}

/// Per-group scalars of one evaluation.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct GroupScalars {
    /// Σ_k w̄ / D_k: the hazard increment per unit risk.
    pub c: f64,
    /// Σ_k w̄ f_k / D_k: the Efron down-weighting of the deaths themselves.
    pub e: f64,
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    /// Sum of the deaths' case weights.
    pub wsum: f64,
    /// Number of deaths.
    pub ndeath: usize,
}

/// The data of a Cox fit, sorted and scaled once.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub n: usize,
    pub p: usize,
    pub counting: bool,
    /// Sorted position → input row.
    pub order: Vec<usize>,
    /// Centred and scaled covariates in sorted order, row-major n × p.
    pub x: Vec<f64>,
    pub center: Vec<f64>,
    pub scale: Vec<f64>,
    pub stop: Vec<f64>,
    /// Empty for right-censored data.
    pub start: Vec<f64>,
    pub event: Vec<bool>,
    pub weight: Vec<f64>,
    pub strata: Vec<Stratum>,
    pub groups: Vec<Group>,
    /// Per sorted row: the first slot whose time is ≤ its stop time.
    pub first_slot: Vec<u32>,
    /// Per sorted row: the first slot whose time is ≤ its start time (the sentinel when none).
    pub last_slot: Vec<u32>,
    /// Σ w δ x over all deaths (scaled covariates): the constant part of the score.
    pub death_wx: Vec<f64>,
}

/// The input of [`Prepared::new`], validated by the caller.
pub(crate) struct RawData<'a> {
    pub start: Option<&'a [f64]>,
    pub stop: &'a [f64],
    pub event: &'a [bool],
    pub x: ndarray::ArrayView2<'a, f64>,
    pub strata: Option<&'a [u32]>,
    pub weights: Option<&'a [f64]>,
}

/// Orders f64 as unsigned integers (for finite values; -0.0 is folded into 0.0).
fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

impl Prepared {
    pub(crate) fn new(raw: &RawData<'_>) -> Self {
        let n = raw.stop.len();
        let p = raw.x.ncols();
        let counting = raw.start.is_some();
        let stratum_of = |i: usize| raw.strata.map_or(0, |s| s[i]);

        // Sort once: stratum, stop time descending, deaths before censored, input row.
        let mut keys: Vec<(u32, u64, u32)> = (0..n)
            .map(|i| {
                let tail = (u32::from(!raw.event[i]) << 31) | i as u32;
                (stratum_of(i), !order_key(raw.stop[i]), tail)
            })
            .collect();
        keys.par_sort_unstable();
        let order: Vec<usize> = keys.iter().map(|k| (k.2 & 0x7fff_ffff) as usize).collect();
        drop(keys);

        let stop: Vec<f64> = order.iter().map(|&i| raw.stop[i]).collect();
        let start: Vec<f64> = match raw.start {
            Some(s) => order.iter().map(|&i| s[i]).collect(),
            None => Vec::new(),
        };
        let event: Vec<bool> = order.iter().map(|&i| raw.event[i]).collect();
        let weight: Vec<f64> = match raw.weights {
            Some(w) => order.iter().map(|&i| w[i]).collect(),
            None => vec![1.0; n],
        };

        // Centre (weighted mean) and scale (1 / weighted mean absolute deviation) each column,
        // except columns with values in {-1, 0, 1}, as R's coxph (nocenter) does.
        let wsum: f64 = weight.iter().sum();
        let mut center = vec![0.0; p];
        let mut scale = vec![1.0; p];
        for j in 0..p {
            let col = raw.x.column(j);
            if col.iter().all(|&v| v == 0.0 || v == 1.0 || v == -1.0) {
                continue;
            }
            let mean = order
                .iter()
                .zip(&weight)
                .map(|(&i, w)| w * col[i])
                .sum::<f64>()
                / wsum;
            let mad = order
                .iter()
                .zip(&weight)
                .map(|(&i, w)| w * (col[i] - mean).abs())
                .sum::<f64>();
            center[j] = mean;
            scale[j] = if mad > 0.0 { wsum / mad } else { 1.0 };
        }
        let mut x = vec![0.0; n * p];
        x.par_chunks_mut(CHUNK * p.max(1))
            .enumerate()
            .for_each(|(c, block)| {
                for (k, row) in block.chunks_mut(p.max(1)).enumerate() {
                    let src = raw.x.row(order[c * CHUNK + k]);
                    for j in 0..p {
                        row[j] = (src[j] - center[j]) * scale[j];
                    }
                }
            });

        // Strata, event groups and sentinels.
        let mut strata = Vec::new();
        let mut groups = Vec::new();
        let mut a = 0;
        while a < n {
            let code = stratum_of(order[a]);
            let mut b = a;
            while b < n && stratum_of(order[b]) == code {
                b += 1;
            }
            let slot_start = groups.len();
            let mut r = a;
            while r < b {
                let t = stop[r];
                let mut s = r;
                while s < b && stop[s] == t {
                    s += 1;
                }
                let d = (r..s).take_while(|&k| event[k]).count();
                if d > 0 {
                    groups.push(Group {
                        time: t,
                        deaths: r..r + d,
                    });
                }
                r = s;
            }
            groups.push(Group {
                time: f64::NEG_INFINITY,
                deaths: a..a,
            });
            let mut start_order = Vec::new();
            if counting {
                start_order = (a as u32..b as u32).collect();
                start_order.sort_by(|&i, &j| {
                    start[j as usize]
                        .total_cmp(&start[i as usize])
                        .then(i.cmp(&j))
                });
            }
            strata.push(Stratum {
                code,
                rows: a..b,
                slots: slot_start..groups.len(),
                start_order,
            });
            a = b;
        }

        let mut first_slot = vec![0u32; n];
        let mut last_slot = vec![0u32; n];
        for st in &strata {
            let mut ptr = st.slots.start;
            let sg = &groups[st.slots.clone()];
            for r in st.rows.clone() {
                while groups[ptr].time > stop[r] {
                    ptr += 1;
                }
                first_slot[r] = ptr as u32;
                last_slot[r] = if counting {
                    (st.slots.start + sg.partition_point(|g| g.time > start[r])) as u32
                } else {
                    (st.slots.end - 1) as u32
                };
            }
        }

        let mut death_wx = vec![0.0; p];
        for r in 0..n {
            if event[r] {
                for j in 0..p {
                    death_wx[j] += weight[r] * x[r * p + j];
                }
            }
        }

        Prepared {
            n,
            p,
            counting,
            order,
            x,
            center,
            scale,
            stop,
            start,
            event,
            weight,
            strata,
            groups,
            first_slot,
            last_slot,
            death_wx,
        }
    }

    pub(crate) fn n_slots(&self) -> usize {
        self.groups.len()
    }

    /// Sorted row `r` of the scaled covariates.
    #[inline]
    pub(crate) fn row(&self, r: usize) -> &[f64] {
        &self.x[r * self.p..(r + 1) * self.p]
    }
}

/// Buffers of the evaluation, allocated once per fit.
#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub eta: Vec<f64>,
    /// w · exp(η − shift), sorted order.
    pub risk: Vec<f64>,
    /// Per stratum: the constant subtracted from η before exp (0 unless |η| is large).
    pub shift: Vec<f64>,
    pub scalars: Vec<GroupScalars>,
    /// Per slot: Σ c over this slot and the later slots (earlier times) of its stratum.
    pub q: Vec<f64>,
    pub u: Vec<f64>,
    /// Full symmetric p × p information.
    pub imat: Vec<f64>,
    partial: Vec<f64>,
    rank_parts: Vec<f64>,
}

impl Workspace {
    pub(crate) fn new(prep: &Prepared) -> Self {
        let p = prep.p;
        let n_chunks = prep.n.div_ceil(CHUNK);
        Workspace {
            eta: vec![0.0; prep.n],
            risk: vec![0.0; prep.n],
            shift: vec![0.0; prep.strata.len()],
            scalars: vec![GroupScalars::default(); prep.n_slots()],
            q: vec![0.0; prep.n_slots()],
            u: vec![0.0; p],
            imat: vec![0.0; p * p],
            partial: vec![0.0; n_chunks * (p + p * p)],
            rank_parts: vec![0.0; prep.strata.len() * p * p],
        }
    }
}

/// η = X β (scaled coordinates), the per-stratum shift, and the weighted risks.
pub(crate) fn linear_predictor(
    prep: &Prepared,
    beta: &[f64],
    eta: &mut [f64],
    shift: &mut [f64],
    risk: &mut [f64],
) {
    let p = prep.p;
    eta.par_chunks_mut(CHUNK)
        .zip(prep.x.par_chunks(CHUNK * p))
        .for_each(|(eta, x)| {
            for (k, e) in eta.iter_mut().enumerate() {
                let row = &x[k * p..(k + 1) * p];
                let mut s = 0.0;
                for j in 0..p {
                    s += row[j] * beta[j];
                }
                *e = s;
            }
        });
    for (s, st) in prep.strata.iter().enumerate() {
        let m = eta[st.rows.clone()]
            .iter()
            .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
        shift[s] = if m.abs() > 200.0 { m } else { 0.0 };
        let sh = shift[s];
        risk[st.rows.clone()]
            .par_chunks_mut(CHUNK)
            .zip(eta[st.rows.clone()].par_chunks(CHUNK))
            .zip(prep.weight[st.rows.clone()].par_chunks(CHUNK))
            .for_each(|((r, e), w)| {
                for k in 0..r.len() {
                    r[k] = w[k] * (e[k] - sh).exp();
                }
            });
    }
}

/// Per-slot covariate sums recorded by a sweep (for residuals and the PH test).
pub(crate) struct SlotVectors<'a> {
    /// S1 per slot (p each).
    pub s1: &'a mut [f64],
    /// D1 per slot (p each).
    pub d1: &'a mut [f64],
}

/// Sweeps one stratum in descending time: S0 and S1 of each risk set, the Efron / Breslow
/// scalars of each event group, the log-likelihood, and (optionally) the rank-two information
/// terms (`rank`, upper triangle, subtracted) and the per-slot S1 / D1.
#[allow(clippy::too_many_arguments)]
pub(crate) fn sweep_stratum(
    prep: &Prepared,
    st: &Stratum,
    shift: f64,
    eta: &[f64],
    risk: &[f64],
    ties: Ties,
    scalars: &mut [GroupScalars],
    mut rank: Option<&mut [f64]>,
    mut vectors: Option<SlotVectors<'_>>,
) -> f64 {
    let p = prep.p;
    let mut s0 = 0.0;
    let mut s1 = vec![0.0; p];
    let mut d1 = vec![0.0; p];
    let mut nrisk: usize = 0;
    let mut add = st.rows.start;
    let mut rem = 0;
    let mut loglik = 0.0;
    for (k, slot) in st.slots.clone().enumerate() {
        let g = &prep.groups[slot];
        if g.deaths.is_empty() {
            scalars[k] = GroupScalars::default();
            continue;
        }
        let t = g.time;
        if prep.counting {
            while rem < st.start_order.len() {
                let r = st.start_order[rem] as usize;
                if prep.start[r] < t {
                    break;
                }
                rem += 1;
                if prep.first_slot[r] == prep.last_slot[r] {
                    continue; // in no risk set: never added (R's `ignore` rows)
                }
                nrisk -= 1;
                if nrisk == 0 {
                    s0 = 0.0;
                    s1.iter_mut().for_each(|v| *v = 0.0);
                } else {
                    let rr = risk[r];
                    s0 -= rr;
                    let xr = prep.row(r);
                    for j in 0..p {
                        s1[j] -= rr * xr[j];
                    }
                }
            }
        }
        while add < st.rows.end && prep.stop[add] >= t {
            if prep.first_slot[add] == prep.last_slot[add] {
                add += 1;
                continue;
            }
            let rr = risk[add];
            s0 += rr;
            let xr = prep.row(add);
            for j in 0..p {
                s1[j] += rr * xr[j];
            }
            nrisk += 1;
            add += 1;
        }
        let mut d0 = 0.0;
        let mut wsum = 0.0;
        d1.iter_mut().for_each(|v| *v = 0.0);
        for r in g.deaths.clone() {
            let rr = risk[r];
            d0 += rr;
            wsum += prep.weight[r];
            loglik += prep.weight[r] * (eta[r] - shift);
            let xr = prep.row(r);
            for j in 0..p {
                d1[j] += rr * xr[j];
            }
        }
        let nd = g.deaths.len();
        let mut sc = GroupScalars {
            wsum,
            ndeath: nd,
            ..GroupScalars::default()
        };
        if ties == Ties::Breslow || nd == 1 {
            loglik -= wsum * s0.ln();
            sc.c = wsum / s0;
            sc.alpha = wsum / (s0 * s0);
        } else {
            let mw = wsum / nd as f64;
            for kk in 0..nd {
                let f = kk as f64 / nd as f64;
                let den = s0 - f * d0;
                loglik -= mw * den.ln();
                let h = mw / den;
                sc.c += h;
                sc.e += h * f;
                let h2 = h / den;
                sc.alpha += h2;
                sc.beta += h2 * f;
                sc.gamma += h2 * f * f;
            }
        }
        scalars[k] = sc;
        if let Some(rank) = rank.as_deref_mut() {
            for a in 0..p {
                let (sa, da) = (s1[a], d1[a]);
                let row = &mut rank[a * p..(a + 1) * p];
                if sc.beta == 0.0 && sc.gamma == 0.0 {
                    let t1 = sc.alpha * sa;
                    for b in a..p {
                        row[b] -= t1 * s1[b];
                    }
                } else {
                    for b in a..p {
                        row[b] -= sc.alpha * sa * s1[b] - sc.beta * (sa * d1[b] + da * s1[b])
                            + sc.gamma * da * d1[b];
                    }
                }
            }
        }
        if let Some(v) = vectors.as_mut() {
            v.s1[k * p..(k + 1) * p].copy_from_slice(&s1);
            v.d1[k * p..(k + 1) * p].copy_from_slice(&d1);
        }
    }
    loglik
}

/// Suffix sums of `value(slot)` within each stratum: Σ over the slot and its later slots.
pub(crate) fn suffix_sums(prep: &Prepared, value: impl Fn(usize) -> f64, out: &mut [f64]) {
    for st in &prep.strata {
        let mut acc = 0.0;
        for slot in st.slots.clone().rev() {
            acc += value(slot);
            out[slot] = acc;
        }
    }
}

/// Splits a per-slot buffer into one mutable slice per stratum.
pub(crate) fn split_by_strata<'a, T>(
    prep: &Prepared,
    buf: &'a mut [T],
    width: usize,
) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(prep.strata.len());
    let mut rest = buf;
    for st in &prep.strata {
        let (head, tail) = rest.split_at_mut(st.slots.len() * width);
        out.push(head);
        rest = tail;
    }
    out
}

/// Log partial likelihood at `beta` (scaled coordinates); fills `ws.u` and `ws.imat`.
pub(crate) fn evaluate(prep: &Prepared, beta: &[f64], ties: Ties, ws: &mut Workspace) -> f64 {
    let p = prep.p;
    linear_predictor(prep, beta, &mut ws.eta, &mut ws.shift, &mut ws.risk);

    // Sequential sweeps (in parallel across strata).
    ws.rank_parts.iter_mut().for_each(|v| *v = 0.0);
    let lls: Vec<f64> = {
        let scal = split_by_strata(prep, &mut ws.scalars, 1);
        let eta = &ws.eta;
        let risk = &ws.risk;
        let shift = &ws.shift;
        prep.strata
            .par_iter()
            .zip(scal)
            .zip(ws.rank_parts.par_chunks_mut(p * p))
            .enumerate()
            .map(|(s, ((st, sc), rank))| {
                sweep_stratum(prep, st, shift[s], eta, risk, ties, sc, Some(rank), None)
            })
            .collect()
    };
    let loglik: f64 = lls.iter().sum();

    let scalars = &ws.scalars;
    suffix_sums(prep, |slot| scalars[slot].c, &mut ws.q);

    // Weighted outer products, in fixed chunks.
    let width = p + p * p;
    {
        let q = &ws.q;
        let risk = &ws.risk;
        ws.partial
            .par_chunks_mut(width)
            .enumerate()
            .for_each(|(ci, part)| {
                part.iter_mut().for_each(|v| *v = 0.0);
                let (ua, im) = part.split_at_mut(p);
                let rows = ci * CHUNK..((ci + 1) * CHUNK).min(prep.n);
                for r in rows {
                    let a = prep.first_slot[r] as usize;
                    let b = prep.last_slot[r] as usize;
                    let mut cum = q[a] - q[b];
                    if prep.event[r] {
                        cum -= scalars[a].e;
                    }
                    let v = risk[r] * cum;
                    if v == 0.0 {
                        continue;
                    }
                    let xr = prep.row(r);
                    for j in 0..p {
                        let vj = v * xr[j];
                        ua[j] += vj;
                        let row = &mut im[j * p..(j + 1) * p];
                        for k in j..p {
                            row[k] += vj * xr[k];
                        }
                    }
                }
            });
    }
    ws.u.copy_from_slice(&prep.death_wx);
    ws.imat.iter_mut().for_each(|v| *v = 0.0);
    for part in ws.partial.chunks(width) {
        for j in 0..p {
            ws.u[j] -= part[j];
        }
        for (m, v) in ws.imat.iter_mut().zip(&part[p..]) {
            *m += v;
        }
    }
    for rank in ws.rank_parts.chunks(p * p) {
        for (m, v) in ws.imat.iter_mut().zip(rank) {
            *m += v;
        }
    }
    for j in 0..p {
        for k in 0..j {
            ws.imat[j * p + k] = ws.imat[k * p + j];
        }
    }
    loglik
}
