//! Harrell's concordance of a Cox model's risk scores with the observed times, and its standard
//! error, as R's `concordancefit` (what `summary(coxph)` reports): weighted pair counts within
//! strata, the infinitesimal-jackknife variance from each observation's share of the pair
//! counts (collapsed by cluster).
//!
//! R sweeps time and keeps the risk set in a balanced tree over the scores. Here the rows are
//! swept in score order instead, with Fenwick trees over the event times of the stratum: an
//! observation is at risk for a contiguous run of event times, so "weight at risk at time t with a
//! lower score" is a prefix sum. With heavily tied times these trees are small enough to stay in
//! cache; either way the cost is O(n log n).

use rayon::prelude::*;
use serde::Serialize;

use super::engine::{Prepared, order_key};

/// Concordance of a fitted Cox model (higher risk score, earlier event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concordance {
    /// Harrell's C: (concordant + tied_risk / 2) / (concordant + discordant + tied_risk).
    pub concordance: f64,
    /// Its standard error (infinitesimal jackknife; robust to clustering when clusters are given).
    pub std_err: f64,
    /// Weighted number of concordant pairs.
    pub concordant: f64,
    pub discordant: f64,
    /// Pairs tied on the risk score (counted as half concordant).
    pub tied_risk: f64,
    /// Pairs of events at the same time (not comparable).
    pub tied_time: f64,
    /// Pairs tied on both.
    pub tied_risk_and_time: f64,
}

/// Prefix sums with point updates over a small index space.
struct Fenwick {
    tree: Vec<f64>,
}

impl Fenwick {
    fn new(n: usize) -> Self {
        Fenwick {
            tree: vec![0.0; n + 1],
        }
    }

    /// Adds `w` at position `i`.
    fn add(&mut self, i: usize, w: f64) {
        let mut k = i + 1;
        while k < self.tree.len() {
            self.tree[k] += w;
            k += k & k.wrapping_neg();
        }
    }

    /// Σ of the positions < `i`.
    fn prefix(&self, i: usize) -> f64 {
        let mut s = 0.0;
        let mut k = i;
        while k > 0 {
            s += self.tree[k];
            k -= k & k.wrapping_neg();
        }
        s
    }
}

/// One observation as the sweep needs it: the run of event slots (stratum-local) it is at risk
/// for — a death not at its own time, where the deaths at its time are tied with it — and where
/// it dies.
#[derive(Clone, Copy)]
struct Item {
    lo: u32,
    hi: u32,
    /// Own slot for a death, u32::MAX otherwise.
    own: u32,
    w: f64,
    row: u32,
    score: u64,
}

/// Concordance of the linear predictor `lp` (input order) with survival, reversed as for a Cox
/// model, on the fit's sorted data; `cluster` (input order) collapses the influence terms.
/// `None` when no pair is comparable.
pub(crate) fn concordance(
    prep: &Prepared,
    lp: &[f64],
    cluster: Option<&[u64]>,
) -> Option<Concordance> {
    let mut count = [0.0_f64; 5];
    // Per observation (score order within strata), for clustered variances: weight, sorted row,
    // influence. Without clusters the variance needs only three sums per observation kind.
    let mut per_row: Vec<(f64, u32, [f64; 3])> = Vec::new();
    // Σ w² a², Σ w² a b, Σ w² b² with a = I0 − I1, b = I0 + I1 + I2 (fixed chunks, in order).
    let mut moments = [0.0_f64; 3];
    for st in &prep.strata {
        if !prep.event[st.rows.clone()].iter().any(|&e| e) {
            continue;
        }
        let base = st.slots.start as u32;
        let k = st.slots.len();
        let mut items: Vec<Item> = st
            .rows
            .clone()
            .into_par_iter()
            .map(|r| {
                let a = prep.first_slot[r] - base;
                let b = prep.last_slot[r] - base;
                let death = prep.event[r];
                Item {
                    lo: if death { a + 1 } else { a },
                    hi: b,
                    own: if death { a } else { u32::MAX },
                    w: prep.weight[r],
                    row: r as u32,
                    score: order_key(lp[prep.order[r]]),
                }
            })
            .collect();
        // By increasing score (ties in sorted-row order).
        items.par_sort_unstable_by_key(|it| (it.score, it.row));
        let ((ca, ia), ib) = rayon::join(
            || deaths_against_risk_set(&items, k),
            || at_risk_against_deaths(&items, k),
        );
        for c in 0..5 {
            count[c] += ca[c];
        }
        if cluster.is_some() {
            per_row.extend(
                items
                    .iter()
                    .zip(ia.iter().zip(&ib))
                    .map(|(it, (x, y))| (it.w, it.row, [x[0] + y[0], x[1] + y[1], x[2] + y[2]])),
            );
        } else {
            let parts: Vec<[f64; 3]> = items
                .par_chunks(super::engine::CHUNK)
                .zip(ia.par_chunks(super::engine::CHUNK))
                .zip(ib.par_chunks(super::engine::CHUNK))
                .map(|((it, x), y)| {
                    let mut m = [0.0; 3];
                    for ((it, x), y) in it.iter().zip(x).zip(y) {
                        let i = [x[0] + y[0], x[1] + y[1], x[2] + y[2]];
                        let (a, b) = (i[0] - i[1], i[0] + i[1] + i[2]);
                        let w2 = it.w * it.w;
                        m[0] += w2 * a * a;
                        m[1] += w2 * a * b;
                        m[2] += w2 * b * b;
                    }
                    m
                })
                .collect();
            for m in parts {
                for c in 0..3 {
                    moments[c] += m[c];
                }
            }
        }
    }
    count[3] -= count[4];

    let npair = count[0] + count[1] + count[2];
    if npair <= 0.0 {
        return None;
    }
    let somer = (count[0] - count[1]) / npair;
    let var = match cluster {
        None => {
            // Σ dfbeta² with dfbeta = w (a − somer b) / npair.
            let ss = moments[0] - 2.0 * somer * moments[1] + somer * somer * moments[2];
            ss.max(0.0) / (npair * npair) / 4.0
        }
        Some(cl) => {
            let dfbeta = |(w, _, im): &(f64, u32, [f64; 3])| {
                w * ((im[0] - im[1]) / npair - (somer / npair) * (im[0] + im[1] + im[2]))
            };
            let mut by: Vec<(u64, f64)> = per_row
                .iter()
                .map(|v| (cl[prep.order[v.1 as usize]], dfbeta(v)))
                .collect();
            by.sort_by_key(|v| v.0);
            let mut total = 0.0;
            let mut k = 0;
            while k < by.len() {
                let mut s = 0.0;
                let id = by[k].0;
                while k < by.len() && by[k].0 == id {
                    s += by[k].1;
                    k += 1;
                }
                total += s * s;
            }
            total / 4.0
        }
    };
    Some(Concordance {
        concordance: 1.0 - (somer + 1.0) / 2.0,
        std_err: var.sqrt(),
        concordant: count[1],
        discordant: count[0],
        tied_risk: count[2],
        tied_time: count[3],
        tied_risk_and_time: count[4],
    })
}

/// Each death against the others at risk at its time (deaths at the same time excluded): weight
/// with a higher / lower / equal score; the pair counts (with the time ties) and the deaths'
/// own share of the influence. Rows enter a tree over event slots by increasing score, each as
/// +w on its run [lo, hi).
fn deaths_against_risk_set(items: &[Item], k: usize) -> ([f64; 5], Vec<[f64; 3]>) {
    let mut infl = vec![[0.0_f64; 3]; items.len()];
    let mut count = [0.0_f64; 5];
    // Total weight at risk at each slot.
    let mut diff = vec![0.0; k + 1];
    for it in items {
        if it.lo < it.hi {
            diff[it.lo as usize] += it.w;
            diff[it.hi as usize] -= it.w;
        }
    }
    let mut at_risk = vec![0.0; k];
    let mut acc = 0.0;
    for s in 0..k {
        acc += diff[s];
        at_risk[s] = acc;
    }
    let mut tree = Fenwick::new(k + 1);
    let mut own: Vec<(u32, f64)> = Vec::new();
    // The sentinel slot (k - 1) is never queried: runs ending there need no closing update.
    let sentinel = (k - 1) as u32;
    let mut start = 0;
    while start < items.len() {
        let blk = start..block_end(items, start);
        start = blk.end;
        let single = blk.len() == 1;
        for m in blk.clone() {
            let it = items[m];
            if it.own != u32::MAX {
                infl[m][1] = tree.prefix(it.own as usize + 1);
            }
        }
        for it in &items[blk.clone()] {
            if it.lo < it.hi {
                tree.add(it.lo as usize, it.w);
                if it.hi != sentinel {
                    tree.add(it.hi as usize, -it.w);
                }
            }
        }
        own.clear();
        for m in blk.clone() {
            let it = items[m];
            if it.own == u32::MAX {
                continue;
            }
            let s = it.own as usize;
            let lt = infl[m][1];
            // A death's own run starts after its slot: alone in its block, it adds nothing at s.
            let le = if single { lt } else { tree.prefix(s + 1) };
            let eq = le - lt;
            let gt = at_risk[s] - le;
            infl[m] = [gt, lt, eq];
            count[0] += it.w * gt;
            count[1] += it.w * lt;
            count[2] += it.w * eq;
            own.push((it.own, it.w));
        }
        // Deaths tied on both score and time.
        if own.len() > 1 {
            own.sort_by_key(|v| v.0);
            let mut j = 0;
            while j < own.len() {
                let mut run = 0.0;
                let s0 = own[j].0;
                while j < own.len() && own[j].0 == s0 {
                    count[4] += own[j].1 * run;
                    run += own[j].1;
                    j += 1;
                }
            }
        }
    }
    // Deaths tied on time: pairs within each slot.
    let mut wsum = vec![0.0; k];
    for it in items {
        if it.own != u32::MAX {
            let s = it.own as usize;
            count[3] += it.w * wsum[s];
            wsum[s] += it.w;
        }
    }
    (count, infl)
}

/// Each observation as the at-risk member of pairs: the deaths during its run [lo, hi) with a
/// lower / higher / equal score. Deaths enter a tree over event slots by increasing score.
fn at_risk_against_deaths(items: &[Item], k: usize) -> Vec<[f64; 3]> {
    let mut infl = vec![[0.0_f64; 3]; items.len()];
    let mut dcum = vec![0.0; k + 1];
    for it in items {
        if it.own != u32::MAX {
            dcum[it.own as usize + 1] += it.w;
        }
    }
    for s in 0..k {
        dcum[s + 1] += dcum[s];
    }
    let mut tree = Fenwick::new(k);
    // Deaths sit below the sentinel slot, so a run ending there covers every death added so far.
    let sentinel = (k - 1) as u32;
    let mut added = 0.0;
    let range = |t: &Fenwick, added: f64, it: &Item| {
        let upper = if it.hi == sentinel {
            added
        } else {
            t.prefix(it.hi as usize)
        };
        upper - t.prefix(it.lo as usize)
    };
    let mut start = 0;
    while start < items.len() {
        let blk = start..block_end(items, start);
        start = blk.end;
        let single = blk.len() == 1;
        for m in blk.clone() {
            let it = items[m];
            if it.lo < it.hi {
                infl[m][0] = range(&tree, added, &it);
            }
        }
        for it in &items[blk.clone()] {
            if it.own != u32::MAX {
                tree.add(it.own as usize, it.w);
                added += it.w;
            }
        }
        for m in blk {
            let it = items[m];
            if it.lo < it.hi {
                let lt = infl[m][0];
                // Its own death (if any) lies before its run: alone in its block, nothing changed.
                let le = if single { lt } else { range(&tree, added, &it) };
                let total = dcum[it.hi as usize] - dcum[it.lo as usize];
                infl[m] = [lt, total - le, le - lt];
            }
        }
    }
    infl
}

/// End of the run of equal scores starting at `start`.
#[inline]
fn block_end(items: &[Item], start: usize) -> usize {
    let s = items[start].score;
    let mut e = start + 1;
    while e < items.len() && items[e].score == s {
        e += 1;
    }
    e
}
