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
use std::sync::OnceLock;

use rayon::prelude::*;

use super::Ties;

/// Calls `$f::<P>(args)` with the number of columns as a compile-time constant when it is small.
macro_rules! with_const_p {
    ($p:expr, $f:ident ( $($arg:expr),* )) => {
        match $p {
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5 => $f::<5>($($arg),*),
            6 => $f::<6>($($arg),*),
            7 => $f::<7>($($arg),*),
            8 => $f::<8>($($arg),*),
            9 => $f::<9>($($arg),*),
            10 => $f::<10>($($arg),*),
            11 => $f::<11>($($arg),*),
            12 => $f::<12>($($arg),*),
            13 => $f::<13>($($arg),*),
            14 => $f::<14>($($arg),*),
            15 => $f::<15>($($arg),*),
            16 => $f::<16>($($arg),*),
            _ => $f::<0>($($arg),*),
        }
    };
}

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
    /// Σ_k w̄ f_k^m (S0 / D_k)² for m = 0, 1, 2: the weights of the rank-two information terms,
    /// normalised by S0² so that they stay finite whatever the scale of the risks (the terms
    /// multiply S1 / S0 and D1 / S0).
    pub alpha: f64,
    pub beta: f64,
    pub gamma: f64,
    /// The risk-set sum S0.
    pub s0: f64,
    /// Sum of the deaths' case weights.
    pub wsum: f64,
    /// Number of deaths.
    pub ndeath: usize,
}

/// The data of a Cox fit, sorted and scaled once.
#[derive(Debug, Clone)]
pub(crate) struct Prepared<'a> {
    pub n: usize,
    pub p: usize,
    pub counting: bool,
    /// The covariates as given (input row order).
    raw_x: ndarray::ArrayView2<'a, f64>,
    /// Sorted position → input row.
    pub order: Vec<usize>,
    /// Centred and scaled covariates in sorted order, row-major n × p (built on first use when
    /// the fit itself works in input order).
    x: OnceLock<Vec<f64>>,
    pub center: Vec<f64>,
    pub scale: Vec<f64>,
    /// Columns with values in {-1, 0, 1}: neither centred nor scaled (R's `nocenter`).
    pub nocenter: Vec<bool>,
    /// Column means (unweighted), for R's reported means of counting-process fits.
    pub col_means: Vec<f64>,
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
    /// Right-censored data with few event times: the evaluation works in input order with
    /// per-slot sums (no sorted copy of the covariates).
    pub blocked: Option<Blocked<'a>>,
}

/// What the input-order evaluation needs: per input row its first slot, event and weight.
#[derive(Debug, Clone)]
pub(crate) struct Blocked<'a> {
    /// Centred and scaled covariates in input order, row-major (a sequential copy).
    pub x: Vec<f64>,
    pub slot: Vec<u32>,
    pub event: &'a [bool],
    pub weights: Option<&'a [f64]>,
    /// Fixed row ranges whose per-slot sums are reduced in order (deterministic).
    pub parts: Vec<Range<usize>>,
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
pub(crate) fn order_key(v: f64) -> u64 {
    let bits = (v + 0.0).to_bits();
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    }
}

/// Stable LSD radix sort of `vals` by `keys` (ascending), one byte per pass, skipping the bytes
/// on which all keys agree.
pub(crate) fn radix_sort_by_key(keys: &mut Vec<u64>, vals: &mut Vec<u32>) {
    let n = keys.len();
    let mut k2 = vec![0u64; n];
    let mut v2 = vec![0u32; n];
    for byte in 0..8 {
        let shift = 8 * byte;
        let mut count = [0usize; 256];
        for &k in keys.iter() {
            count[((k >> shift) & 0xff) as usize] += 1;
        }
        if count.contains(&n) {
            continue;
        }
        let mut pos = [0usize; 256];
        let mut acc = 0;
        for d in 0..256 {
            pos[d] = acc;
            acc += count[d];
        }
        for i in 0..n {
            let d = ((keys[i] >> shift) & 0xff) as usize;
            k2[pos[d]] = keys[i];
            v2[pos[d]] = vals[i];
            pos[d] += 1;
        }
        std::mem::swap(keys, &mut k2);
        std::mem::swap(vals, &mut v2);
    }
}

/// The sort order of the rows (stratum, stop time descending, deaths first, input row) and the
/// stratum code of each sorted row.
fn sort_rows(raw: &RawData<'_>) -> (Vec<usize>, Vec<u32>) {
    let n = raw.stop.len();
    // Deaths first, each part in input order; then stable passes on the time, then the stratum.
    let mut vals: Vec<u32> = (0..n as u32).filter(|&i| raw.event[i as usize]).collect();
    vals.extend((0..n as u32).filter(|&i| !raw.event[i as usize]));
    let mut keys: Vec<u64> = vals
        .iter()
        .map(|&i| !order_key(raw.stop[i as usize]))
        .collect();
    radix_sort_by_key(&mut keys, &mut vals);
    if let Some(s) = raw.strata {
        let mut keys: Vec<u64> = vals.iter().map(|&i| u64::from(s[i as usize])).collect();
        radix_sort_by_key(&mut keys, &mut vals);
    }
    let codes = match raw.strata {
        Some(s) => vals.iter().map(|&i| s[i as usize]).collect(),
        None => vec![0; n],
    };
    (vals.into_iter().map(|i| i as usize).collect(), codes)
}

/// Row `i` of the raw covariates into `out`.
#[inline(always)]
fn raw_row(raw: &RawData<'_>, i: usize, out: &mut [f64]) {
    let p = out.len();
    match raw.x.as_slice() {
        Some(all) => out.copy_from_slice(&all[i * p..(i + 1) * p]),
        None => out.iter_mut().zip(raw.x.row(i)).for_each(|(a, &b)| *a = b),
    }
}

/// Weighted and plain column sums over `rows`, and whether each column stays in {-1, 0, 1}.
fn column_sums<const P: usize>(
    p: usize,
    raw: &RawData<'_>,
    rows: Range<usize>,
) -> (Vec<f64>, Vec<f64>, Vec<bool>) {
    let p = if P == 0 { p } else { P };
    let mut acc = vec![0.0; p];
    let mut plain = vec![0.0; p];
    let mut unit = vec![true; p];
    let mut x = vec![0.0; p];
    for i in rows {
        raw_row(raw, i, &mut x);
        let w = raw.weights.map_or(1.0, |w| w[i]);
        for j in 0..p {
            let v = x[j];
            acc[j] += w * v;
            plain[j] += v;
            unit[j] &= v == 0.0 || v == 1.0 || v == -1.0;
        }
    }
    (acc, plain, unit)
}

/// Σ w |x − center| per column over `rows`.
fn abs_deviations<const P: usize>(
    p: usize,
    raw: &RawData<'_>,
    rows: Range<usize>,
    center: &[f64],
) -> Vec<f64> {
    let p = if P == 0 { p } else { P };
    let center = &center[..p];
    let mut acc = vec![0.0; p];
    let mut x = vec![0.0; p];
    for i in rows {
        raw_row(raw, i, &mut x);
        let w = raw.weights.map_or(1.0, |w| w[i]);
        for j in 0..p {
            acc[j] += w * (x[j] - center[j]).abs();
        }
    }
    acc
}

/// Σ w δ (x − center) · scale per column over `rows`.
fn death_sums<const P: usize>(
    p: usize,
    raw: &RawData<'_>,
    rows: Range<usize>,
    center: &[f64],
    scale: &[f64],
) -> Vec<f64> {
    let p = if P == 0 { p } else { P };
    let mut acc = vec![0.0; p];
    let mut x = vec![0.0; p];
    for i in rows {
        if raw.event[i] {
            raw_row(raw, i, &mut x);
            let w = raw.weights.map_or(1.0, |w| w[i]);
            for j in 0..p {
                acc[j] += w * (x[j] - center[j]) * scale[j];
            }
        }
    }
    acc
}

/// Rows `first..` of the raw covariates, centred and scaled, into `out` (row-major); returns
/// Σ w δ x (scaled) over those rows.
fn scaled_copy<const P: usize>(
    p: usize,
    raw: &RawData<'_>,
    first: usize,
    center: &[f64],
    scale: &[f64],
    out: &mut [f64],
) -> Vec<f64> {
    let p = if P == 0 { p } else { P };
    let (center, scale) = (&center[..p], &scale[..p]);
    let mut x = vec![0.0; p];
    let mut deaths = vec![0.0; p];
    for (k, row) in out.chunks_exact_mut(p).enumerate() {
        let i = first + k;
        raw_row(raw, i, &mut x);
        for j in 0..p {
            row[j] = (x[j] - center[j]) * scale[j];
        }
        if raw.event[i] {
            let w = raw.weights.map_or(1.0, |w| w[i]);
            for j in 0..p {
                deaths[j] += w * row[j];
            }
        }
    }
    deaths
}

/// Centre (weighted mean) and scale (1 / weighted mean absolute deviation) of each column,
/// except columns with values in {-1, 0, 1}, as R's coxph (nocenter) does; also which columns
/// those are and the plain column means. Two passes over the rows in input order, in fixed
/// chunks.
#[allow(clippy::type_complexity)]
fn column_scaling(raw: &RawData<'_>) -> (Vec<f64>, Vec<f64>, Vec<bool>, Vec<f64>) {
    let n = raw.stop.len();
    let p = raw.x.ncols();
    let n_chunks = n.div_ceil(CHUNK);
    let chunk_rows = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(n);
    let parts: Vec<(Vec<f64>, Vec<f64>, Vec<bool>)> = (0..n_chunks)
        .into_par_iter()
        .map(|c| with_const_p!(p, column_sums(p, raw, chunk_rows(c))))
        .collect();
    let wsum: f64 = match raw.weights {
        Some(w) => w.iter().sum(),
        None => n as f64,
    };
    let mut center = vec![0.0; p];
    let mut col_means = vec![0.0; p];
    let mut nocenter = vec![true; p];
    for (acc, plain, unit) in &parts {
        for j in 0..p {
            center[j] += acc[j];
            col_means[j] += plain[j];
            nocenter[j] &= unit[j];
        }
    }
    for j in 0..p {
        center[j] = if nocenter[j] { 0.0 } else { center[j] / wsum };
        col_means[j] /= n as f64;
    }
    let mads: Vec<Vec<f64>> = (0..n_chunks)
        .into_par_iter()
        .map(|c| with_const_p!(p, abs_deviations(p, raw, chunk_rows(c), &center)))
        .collect();
    let mut scale = vec![1.0; p];
    for j in 0..p {
        let mad: f64 = mads.iter().map(|m| m[j]).sum();
        if !nocenter[j] && mad > 0.0 {
            scale[j] = wsum / mad;
        }
    }

    (center, scale, nocenter, col_means)
}

/// Memory budget (in f64) of the per-part slot sums of the input-order evaluation.
const BLOCKED_BUDGET: usize = 1 << 22;

impl<'a> Prepared<'a> {
    pub(crate) fn new(raw: &RawData<'a>, allow_blocked: bool) -> Self {
        let n = raw.stop.len();
        let p = raw.x.ncols();
        let counting = raw.start.is_some();

        // Sort once: stratum, stop time descending, deaths before censored, input row.
        // The sort and the column scaling read the input independently.
        let ((order, codes), (center, scale, nocenter, col_means)) =
            rayon::join(|| sort_rows(raw), || column_scaling(raw));
        let n_chunks = n.div_ceil(CHUNK);
        let chunk_rows = |c: usize| c * CHUNK..((c + 1) * CHUNK).min(n);

        let stop: Vec<f64> = order.par_iter().map(|&i| raw.stop[i]).collect();
        let start: Vec<f64> = match raw.start {
            Some(s) => order.par_iter().map(|&i| s[i]).collect(),
            None => Vec::new(),
        };
        let event: Vec<bool> = order.par_iter().map(|&i| raw.event[i]).collect();
        let weight: Vec<f64> = match raw.weights {
            Some(w) => order.par_iter().map(|&i| w[i]).collect(),
            None => vec![1.0; n],
        };

        // Strata, event groups and sentinels.
        let mut strata = Vec::new();
        let mut groups = Vec::new();
        let mut a = 0;
        while a < n {
            let code = codes[a];
            let mut b = a;
            while b < n && codes[b] == code {
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

        let n_slots = groups.len();
        let n_parts = n.div_ceil(1 << 16).clamp(1, 16);
        let use_blocked =
            allow_blocked && !counting && n_parts * n_slots * 2 * (p + 1) <= BLOCKED_BUDGET;
        // Σ w δ x over the deaths (scaled), in input order; with the input-order evaluation,
        // summed while the scaled copy is written.
        let mut death_wx = vec![0.0; p];
        let mut blocked = None;
        if use_blocked {
            let mut slot = vec![0u32; n];
            for (r, &i) in order.iter().enumerate() {
                slot[i] = first_slot[r];
            }
            let mut x = vec![0.0; n * p];
            let dparts: Vec<Vec<f64>> = x
                .par_chunks_mut(CHUNK * p.max(1))
                .enumerate()
                .map(|(c, block)| {
                    with_const_p!(p, scaled_copy(p, raw, c * CHUNK, &center, &scale, block))
                })
                .collect();
            for d in &dparts {
                for j in 0..p {
                    death_wx[j] += d[j];
                }
            }
            let len = n.div_ceil(n_parts);
            let parts = (0..n_parts)
                .map(|k| (k * len).min(n)..((k + 1) * len).min(n))
                .filter(|r| !r.is_empty())
                .collect();
            blocked = Some(Blocked {
                x,
                slot,
                event: raw.event,
                weights: raw.weights,
                parts,
            });
        } else {
            let dparts: Vec<Vec<f64>> = (0..n_chunks)
                .into_par_iter()
                .map(|c| with_const_p!(p, death_sums(p, raw, chunk_rows(c), &center, &scale)))
                .collect();
            for d in &dparts {
                for j in 0..p {
                    death_wx[j] += d[j];
                }
            }
        }

        Prepared {
            n,
            p,
            counting,
            raw_x: raw.x,
            order,
            x: OnceLock::new(),
            center,
            scale,
            nocenter,
            col_means,
            stop,
            start,
            event,
            weight,
            strata,
            groups,
            first_slot,
            last_slot,
            death_wx,
            blocked,
        }
    }

    /// Centred and scaled covariates in sorted order (row-major), built on first use.
    pub(crate) fn xs(&self) -> &[f64] {
        self.x.get_or_init(|| {
            let (n, p) = (self.n, self.p);
            let mut x = vec![0.0; n * p];
            let contiguous = self.raw_x.as_slice();
            let scaled = self.blocked.as_ref().map(|b| &b.x);
            x.par_chunks_mut(CHUNK * p.max(1))
                .enumerate()
                .for_each(|(c, block)| {
                    for (k, row) in block.chunks_mut(p.max(1)).enumerate() {
                        let i = self.order[c * CHUNK + k];
                        if let Some(sx) = scaled {
                            row.copy_from_slice(&sx[i * p..(i + 1) * p]);
                            continue;
                        }
                        match contiguous {
                            Some(all) => {
                                let src = &all[i * p..(i + 1) * p];
                                for j in 0..p {
                                    row[j] = (src[j] - self.center[j]) * self.scale[j];
                                }
                            }
                            None => {
                                let src = self.raw_x.row(i);
                                for j in 0..p {
                                    row[j] = (src[j] - self.center[j]) * self.scale[j];
                                }
                            }
                        }
                    }
                });
            x
        })
    }

    pub(crate) fn n_slots(&self) -> usize {
        self.groups.len()
    }

    /// Sorted row `r` of the scaled covariates.
    #[inline]
    pub(crate) fn row(&self, r: usize) -> &[f64] {
        &self.xs()[r * self.p..(r + 1) * self.p]
    }
}

/// Buffers of the evaluation, allocated once per fit.
#[derive(Debug, Clone)]
pub(crate) struct Workspace {
    pub eta: Vec<f64>,
    /// w · exp(η − shift), sorted order.
    pub risk: Vec<f64>,
    /// Per stratum: the constant subtracted from η before exp (0, or the midrange of η when
    /// |η| exceeds 200).
    pub shift: Vec<f64>,
    pub scalars: Vec<GroupScalars>,
    /// Per slot: Σ c over this slot and the later slots (earlier times) of its stratum.
    pub q: Vec<f64>,
    pub u: Vec<f64>,
    /// Full symmetric p × p information.
    pub imat: Vec<f64>,
    partial: Vec<f64>,
    rank_parts: Vec<f64>,
    /// Input-order evaluation: per part, the slot sums of the risk set and of the deaths.
    slot_sums: Vec<(Vec<f64>, Vec<f64>)>,
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
            partial: vec![0.0; n_chunks.max(16) * (p + p * p)],
            rank_parts: vec![0.0; prep.strata.len() * p * p],
            slot_sums: match &prep.blocked {
                Some(bl) => bl
                    .parts
                    .iter()
                    .map(|_| {
                        (
                            vec![0.0; prep.n_slots() * (p + 1)],
                            vec![0.0; prep.n_slots() * (p + 1)],
                        )
                    })
                    .collect(),
                None => Vec::new(),
            },
        }
    }
}

/// η = X β (scaled coordinates, sorted order), the per-stratum shift, and the weighted risks.
pub(crate) fn linear_predictor(
    prep: &Prepared,
    beta: &[f64],
    eta: &mut [f64],
    shift: &mut [f64],
    risk: &mut [f64],
) {
    let p = prep.p;
    eta.par_chunks_mut(CHUNK)
        .zip(prep.xs().par_chunks(CHUNK * p))
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
        let (lo, hi) = eta[st.rows.clone()]
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &e| {
                (a.min(e), b.max(e))
            });
        // Centre exp's argument on the midrange when |η| gets large, so that neither end
        // overflows or underflows (the shift cancels in the partial likelihood).
        shift[s] = if hi.abs() > 200.0 || lo.abs() > 200.0 {
            0.5 * (lo + hi)
        } else {
            0.0
        };
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

/// The Efron (or Breslow) scalars of one event group from its risk-set sum `s0`, the deaths'
/// risk sum `d0`, their weight sum and count; returns them with the group's −Σ w̄ log D_k.
#[inline]
pub(crate) fn group_scalars(
    s0: f64,
    d0: f64,
    wsum: f64,
    nd: usize,
    ties: Ties,
) -> (GroupScalars, f64) {
    let mut sc = GroupScalars {
        wsum,
        ndeath: nd,
        s0,
        ..GroupScalars::default()
    };
    let mut ll = 0.0;
    if ties == Ties::Breslow || nd == 1 {
        ll -= wsum * s0.ln();
        sc.c = wsum / s0;
        sc.alpha = wsum;
    } else {
        let mw = wsum / nd as f64;
        let d = d0 / s0;
        for kk in 0..nd {
            let f = kk as f64 / nd as f64;
            let den = s0 - f * d0;
            ll -= mw * den.ln();
            let h = mw / den;
            sc.c += h;
            sc.e += h * f;
            // mw (S0 / D_k)², with D_k / S0 = 1 - f D0 / S0.
            let rel = 1.0 - f * d;
            let h2 = mw / (rel * rel);
            sc.alpha += h2;
            sc.beta += h2 * f;
            sc.gamma += h2 * f * f;
        }
    }
    (sc, ll)
}

/// Subtracts the group's rank-two information terms from `rank` (upper triangle, p × p):
/// α (S1/S0)(S1/S0)' − β ((S1/S0)(D1/S0)' + (D1/S0)(S1/S0)') + γ (D1/S0)(D1/S0)' with the
/// normalised α, β, γ of [`GroupScalars`].
#[inline]
pub(crate) fn subtract_rank_terms(rank: &mut [f64], sc: &GroupScalars, s1: &[f64], d1: &[f64]) {
    let p = s1.len();
    let inv = 1.0 / sc.s0;
    let s1: Vec<f64> = s1.iter().map(|v| v * inv).collect();
    let d1: Vec<f64> = d1.iter().map(|v| v * inv).collect();
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
    let xs = prep.xs();
    let row = |r: usize| &xs[r * p..(r + 1) * p];
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
                    for (a, &x) in s1.iter_mut().zip(row(r)) {
                        *a -= rr * x;
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
            for (a, &x) in s1.iter_mut().zip(row(add)) {
                *a += rr * x;
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
            for (a, &x) in d1.iter_mut().zip(row(r)) {
                *a += rr * x;
            }
        }
        let (sc, ll) = group_scalars(s0, d0, wsum, g.deaths.len(), ties);
        loglik += ll;
        scalars[k] = sc;
        if let Some(rank) = rank.as_deref_mut() {
            subtract_rank_terms(rank, &sc, &s1, &d1);
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
pub(crate) fn split_by_strata<'b, T>(
    prep: &Prepared,
    buf: &'b mut [T],
    width: usize,
) -> Vec<&'b mut [T]> {
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
    if let Some(bl) = &prep.blocked
        && let Some(ll) = evaluate_blocked(prep, bl, beta, ties, ws)
    {
        return ll;
    }
    evaluate_sorted(prep, beta, ties, ws)
}

/// Adds v x x' (upper triangle) and v x to the accumulators. `P` is the number of columns when
/// known at compile time (loops fully unrolled), 0 otherwise.
#[inline(always)]
fn accumulate_outer<const P: usize>(ua: &mut [f64], im: &mut [f64], x: &[f64], v: f64) {
    let p = if P == 0 { x.len() } else { P };
    let x = &x[..p];
    let ua = &mut ua[..p];
    let im = &mut im[..p * p];
    for j in 0..p {
        let vj = v * x[j];
        ua[j] += vj;
        for k in j..p {
            im[j * p + k] += vj * x[k];
        }
    }
}

/// Adds Σ_b v_b x_b x_b' (upper triangle) and Σ_b v_b x_b for four rows at once: a quarter of
/// the accumulator traffic of four single updates.
#[inline(always)]
fn accumulate_outer4<const P: usize>(ua: &mut [f64], im: &mut [f64], x: [&[f64]; 4], v: [f64; 4]) {
    let p = if P == 0 { x[0].len() } else { P };
    let (x0, x1, x2, x3) = (&x[0][..p], &x[1][..p], &x[2][..p], &x[3][..p]);
    let ua = &mut ua[..p];
    let im = &mut im[..p * p];
    for j in 0..p {
        let (a0, a1, a2, a3) = (v[0] * x0[j], v[1] * x1[j], v[2] * x2[j], v[3] * x3[j]);
        ua[j] += (a0 + a1) + (a2 + a3);
        for k in j..p {
            im[j * p + k] += (a0 * x0[k] + a1 * x1[k]) + (a2 * x2[k] + a3 * x3[k]);
        }
    }
}

/// Outer-product updates buffered four rows at a time.
struct OuterBatch<'x> {
    rows: [&'x [f64]; 4],
    v: [f64; 4],
    len: usize,
}

impl<'x> OuterBatch<'x> {
    fn new() -> Self {
        OuterBatch {
            rows: [&[]; 4],
            v: [0.0; 4],
            len: 0,
        }
    }

    #[inline(always)]
    fn push<const P: usize>(&mut self, ua: &mut [f64], im: &mut [f64], x: &'x [f64], v: f64) {
        self.rows[self.len] = x;
        self.v[self.len] = v;
        self.len += 1;
        if self.len == 4 {
            accumulate_outer4::<P>(ua, im, self.rows, self.v);
            self.len = 0;
        }
    }

    fn finish<const P: usize>(&mut self, ua: &mut [f64], im: &mut [f64]) {
        for b in 0..self.len {
            accumulate_outer::<P>(ua, im, self.rows[b], self.v[b]);
        }
        self.len = 0;
    }
}

/// Adds the chunk partials and the rank terms into `ws.u` / `ws.imat` (in a fixed order).
fn reduce(prep: &Prepared, ws: &mut Workspace, n_parts: usize) {
    let p = prep.p;
    let width = p + p * p;
    ws.u.copy_from_slice(&prep.death_wx);
    ws.imat.iter_mut().for_each(|v| *v = 0.0);
    for part in ws.partial.chunks(width).take(n_parts) {
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
}

#[allow(clippy::too_many_arguments)]
fn outer_sorted<const P: usize>(
    prep: &Prepared,
    rows: Range<usize>,
    xs: &[f64],
    q: &[f64],
    scalars: &[GroupScalars],
    risk: &[f64],
    part: &mut [f64],
) {
    let p = prep.p;
    part.iter_mut().for_each(|v| *v = 0.0);
    let (ua, im) = part.split_at_mut(p);
    let mut batch = OuterBatch::new();
    for r in rows {
        let a = prep.first_slot[r] as usize;
        let b = prep.last_slot[r] as usize;
        let mut cum = q[a] - q[b];
        if prep.event[r] {
            cum -= scalars[a].e;
        }
        let v = risk[r] * cum;
        if v != 0.0 {
            batch.push::<P>(ua, im, &xs[r * p..(r + 1) * p], v);
        }
    }
    batch.finish::<P>(ua, im);
}

/// The evaluation on the sorted copy: a sequential risk-set sweep per stratum (strata in
/// parallel), then the outer products in fixed chunks of sorted rows.
fn evaluate_sorted(prep: &Prepared, beta: &[f64], ties: Ties, ws: &mut Workspace) -> f64 {
    let p = prep.p;
    linear_predictor(prep, beta, &mut ws.eta, &mut ws.shift, &mut ws.risk);
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

    let width = p + p * p;
    let n_chunks = prep.n.div_ceil(CHUNK);
    {
        let q = &ws.q;
        let risk = &ws.risk;
        let xs = prep.xs();
        ws.partial[..n_chunks * width]
            .par_chunks_mut(width)
            .enumerate()
            .for_each(|(ci, part)| {
                let rows = ci * CHUNK..((ci + 1) * CHUNK).min(prep.n);
                with_const_p!(p, outer_sorted(prep, rows, xs, q, scalars, risk, part));
            });
    }
    reduce(prep, ws, n_chunks);
    loglik
}

/// Pass 1 of the input-order evaluation over one part of the rows: η, risk, and the per-slot
/// sums of the risk set (S0, S1 by first slot) and of the deaths (D0, D1); returns Σ w η over
/// the deaths and max |η|.
#[allow(clippy::too_many_arguments)]
fn blocked_pass1<const P: usize>(
    p: usize,
    bl: &Blocked<'_>,
    range: Range<usize>,
    beta: &[f64],
    eta: &mut [f64],
    risk: &mut [f64],
    sums: &mut [f64],
    deaths: &mut [f64],
) -> (f64, f64) {
    let p = if P == 0 { p } else { P };
    let w1 = p + 1;
    let beta = &beta[..p];
    // At β = 0 (the first Newton step) every η is 0 and every risk is the weight.
    let at_zero = beta.iter().all(|&b| b == 0.0);
    let mut ll = 0.0;
    let mut max_eta = 0.0_f64;
    for (k, i) in range.enumerate() {
        let x = &bl.x[i * p..(i + 1) * p];
        let w = bl.weights.map_or(1.0, |w| w[i]);
        let (e, r) = if at_zero {
            (0.0, w)
        } else {
            let mut e = 0.0;
            for j in 0..p {
                e += x[j] * beta[j];
            }
            (e, w * e.exp())
        };
        eta[k] = e;
        max_eta = max_eta.max(e.abs());
        risk[k] = r;
        let slot = bl.slot[i] as usize;
        let acc = &mut sums[slot * w1..slot * w1 + w1];
        acc[0] += r;
        for j in 0..p {
            acc[1 + j] += r * x[j];
        }
        if bl.event[i] {
            ll += w * e;
            let acc = &mut deaths[slot * w1..slot * w1 + w1];
            acc[0] += r;
            for j in 0..p {
                acc[1 + j] += r * x[j];
            }
        }
    }
    (ll, max_eta)
}

/// Pass 2 of the input-order evaluation: Σ v x x' and Σ v x over one part of the rows.
fn blocked_pass2<const P: usize>(
    p: usize,
    bl: &Blocked<'_>,
    range: Range<usize>,
    risk: &[f64],
    q: &[f64],
    scalars: &[GroupScalars],
    part: &mut [f64],
) {
    let p = if P == 0 { p } else { P };
    part.iter_mut().for_each(|v| *v = 0.0);
    let (ua, im) = part.split_at_mut(p);
    let mut batch = OuterBatch::new();
    for (k, i) in range.enumerate() {
        let a = bl.slot[i] as usize;
        let mut cum = q[a];
        if bl.event[i] {
            cum -= scalars[a].e;
        }
        let v = risk[k] * cum;
        if v != 0.0 {
            batch.push::<P>(ua, im, &bl.x[i * p..(i + 1) * p], v);
        }
    }
    batch.finish::<P>(ua, im);
}

/// The evaluation in input order for right-censored data with few event times: per fixed part
/// of the rows, the risks and their covariate sums are added into per-slot sums (small enough to
/// stay in cache); risk sets are then suffix sums over the slots. `None` when |η| is too large
/// for exp without a shift (the sorted path handles that).
fn evaluate_blocked(
    prep: &Prepared,
    bl: &Blocked<'_>,
    beta: &[f64],
    ties: Ties,
    ws: &mut Workspace,
) -> Option<f64> {
    let p = prep.p;
    let ns = prep.n_slots();
    let w1 = p + 1;
    let plen = bl.parts[0].len().max(1);

    // Pass 1, per part, reduced in part order.
    let mut slot_sums = std::mem::take(&mut ws.slot_sums);
    let parts: Vec<(f64, f64)> = bl
        .parts
        .par_iter()
        .zip(ws.eta.par_chunks_mut(plen))
        .zip(ws.risk.par_chunks_mut(plen))
        .zip(slot_sums.par_iter_mut())
        .map(|(((range, eta), risk), (sums, deaths))| {
            sums.iter_mut().for_each(|v| *v = 0.0);
            deaths.iter_mut().for_each(|v| *v = 0.0);
            with_const_p!(
                p,
                blocked_pass1(p, bl, range.clone(), beta, eta, risk, sums, deaths)
            )
        })
        .collect();
    if parts.iter().any(|pt| pt.1 > 200.0 || !pt.1.is_finite()) {
        ws.slot_sums = slot_sums;
        return None;
    }
    let mut sums = vec![0.0; ns * w1];
    let mut dsum = vec![0.0; ns * w1];
    let mut loglik = 0.0;
    for (pt, (s1, d1)) in parts.iter().zip(&slot_sums) {
        for (a, b) in sums.iter_mut().zip(s1) {
            *a += b;
        }
        for (a, b) in dsum.iter_mut().zip(d1) {
            *a += b;
        }
        loglik += pt.0;
    }
    ws.slot_sums = slot_sums;

    // Group scalars and rank terms from cumulative slot sums (slots run in descending time).
    ws.rank_parts.iter_mut().for_each(|v| *v = 0.0);
    let rank = &mut ws.rank_parts[..p * p];
    let mut s1 = vec![0.0; p];
    for st in &prep.strata {
        let mut s0 = 0.0;
        s1.iter_mut().for_each(|v| *v = 0.0);
        for slot in st.slots.clone() {
            s0 += sums[slot * w1];
            for j in 0..p {
                s1[j] += sums[slot * w1 + 1 + j];
            }
            let g = &prep.groups[slot];
            if g.deaths.is_empty() {
                ws.scalars[slot] = GroupScalars::default();
                continue;
            }
            let wsum: f64 = prep.weight[g.deaths.clone()].iter().sum();
            let d0 = dsum[slot * w1];
            let d1 = &dsum[slot * w1 + 1..(slot + 1) * w1];
            let (sc, ll) = group_scalars(s0, d0, wsum, g.deaths.len(), ties);
            loglik += ll;
            ws.scalars[slot] = sc;
            subtract_rank_terms(rank, &sc, &s1, d1);
        }
    }
    let scalars = &ws.scalars;
    suffix_sums(prep, |slot| scalars[slot].c, &mut ws.q);

    // Pass 2: the outer products in input order.
    let width = p + p * p;
    {
        let q = &ws.q;
        ws.partial[..bl.parts.len() * width]
            .par_chunks_mut(width)
            .zip(bl.parts.par_iter())
            .zip(ws.risk.par_chunks(plen))
            .for_each(|((part, range), risk)| {
                with_const_p!(
                    p,
                    blocked_pass2(p, bl, range.clone(), risk, q, scalars, part)
                );
            });
    }
    reduce(prep, ws, bl.parts.len());
    Some(loglik)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    /// The input-order (blocked) and sorted evaluations agree, with ties, weights and strata.
    #[test]
    fn blocked_and_sorted_evaluations_agree() {
        let n = 3000;
        let p = 4;
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let x = Array2::from_shape_fn((n, p), |(_, j)| {
            if j == 3 {
                f64::from(u8::from(next() < 0.4))
            } else {
                next() * 4.0 - 2.0
            }
        });
        let stop: Vec<f64> = (0..n).map(|_| (next() * 60.0).ceil()).collect();
        let event: Vec<bool> = (0..n).map(|_| next() < 0.6).collect();
        let weights: Vec<f64> = (0..n).map(|_| 0.5 + next()).collect();
        let strata: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
        let raw = RawData {
            start: None,
            stop: &stop,
            event: &event,
            x: x.view(),
            strata: Some(&strata),
            weights: Some(&weights),
        };
        let a = Prepared::new(&raw, true);
        let b = Prepared::new(&raw, false);
        assert!(a.blocked.is_some() && b.blocked.is_none());
        let beta = [0.3, -0.2, 0.1, 0.5];
        for ties in [Ties::Efron, Ties::Breslow] {
            let mut wa = Workspace::new(&a);
            let mut wb = Workspace::new(&b);
            let la = evaluate(&a, &beta, ties, &mut wa);
            let lb = evaluate(&b, &beta, ties, &mut wb);
            assert!((la - lb).abs() <= 1e-12 * lb.abs(), "{la} vs {lb}");
            for (u, v) in wa.u.iter().zip(&wb.u) {
                assert!((u - v).abs() <= 1e-9 * (1.0 + v.abs()), "{u} vs {v}");
            }
            for (u, v) in wa.imat.iter().zip(&wb.imat) {
                assert!((u - v).abs() <= 1e-10 * (1.0 + v.abs()), "{u} vs {v}");
            }
        }
    }
}
