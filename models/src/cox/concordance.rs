//! Harrell's concordance of a Cox model's risk scores with the observed times, and its standard
//! error, as R's `concordancefit` (what `summary(coxph)` reports): weighted pair counts within
//! strata in O(n log n) with Fenwick trees over the ranks of the risk score, the infinitesimal-
//! jackknife variance from each observation's share of the pair counts (collapsed by cluster).

use serde::Serialize;

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

/// Weights summed by rank: prefix sums (Fenwick) plus the weight at each rank.
struct RankTree {
    tree: Vec<f64>,
    node: Vec<f64>,
    total: f64,
}

impl RankTree {
    fn new(n: usize) -> Self {
        RankTree {
            tree: vec![0.0; n + 1],
            node: vec![0.0; n + 1],
            total: 0.0,
        }
    }

    fn add(&mut self, rank: usize, w: f64) {
        self.node[rank] += w;
        self.total += w;
        let mut i = rank;
        while i < self.tree.len() {
            self.tree[i] += w;
            i += i & i.wrapping_neg();
        }
    }

    fn prefix(&self, rank: usize) -> f64 {
        let mut s = 0.0;
        let mut i = rank;
        while i > 0 {
            s += self.tree[i];
            i -= i & i.wrapping_neg();
        }
        s
    }

    /// (weight with a larger score, with a smaller score, with the same score).
    fn query(&self, rank: usize) -> [f64; 3] {
        let lt = self.prefix(rank - 1);
        let eq = self.node[rank];
        [self.total - lt - eq, lt, eq]
    }
}

/// The inputs of [`concordance`], one entry per observation.
pub(crate) struct ConcordanceInput<'a> {
    pub start: Option<&'a [f64]>,
    pub stop: &'a [f64],
    pub event: &'a [bool],
    pub score: &'a [f64],
    pub weights: Option<&'a [f64]>,
    pub strata: Option<&'a [u32]>,
    pub cluster: Option<&'a [u64]>,
}

/// Concordance of `score` (the linear predictor) with survival, reversed as for a Cox model.
pub(crate) fn concordance(inp: &ConcordanceInput<'_>) -> Concordance {
    let n = inp.stop.len();
    let w = |i: usize| inp.weights.map_or(1.0, |w| w[i]);
    let mut influence = vec![[0.0_f64; 3]; n];
    let mut count = [0.0_f64; 5];

    let mut rows: Vec<usize> = (0..n).collect();
    if let Some(s) = inp.strata {
        rows.sort_by_key(|&i| (s[i], i));
    }
    let mut a = 0;
    while a < n {
        let code = inp.strata.map_or(0, |s| s[rows[a]]);
        let mut b = a;
        while b < n && inp.strata.map_or(0, |s| s[rows[b]]) == code {
            b += 1;
        }
        stratum_counts(inp, &rows[a..b], &w, &mut influence, &mut count);
        a = b;
    }
    count[3] -= count[4];

    let npair = count[0] + count[1] + count[2];
    let somer = (count[0] - count[1]) / npair;
    let dfbeta: Vec<f64> = (0..n)
        .map(|i| {
            let im = influence[i];
            w(i) * ((im[0] - im[1]) / npair - (somer / npair) * (im[0] + im[1] + im[2]))
        })
        .collect();
    let var = match inp.cluster {
        None => dfbeta.iter().map(|d| d * d).sum::<f64>() / 4.0,
        Some(cl) => {
            let mut by: Vec<(u64, f64)> = cl.iter().copied().zip(dfbeta.iter().copied()).collect();
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
    Concordance {
        concordance: 1.0 - (somer + 1.0) / 2.0,
        std_err: var.sqrt(),
        concordant: count[1],
        discordant: count[0],
        tied_risk: count[2],
        tied_time: count[3],
        tied_risk_and_time: count[4],
    }
}

fn stratum_counts(
    inp: &ConcordanceInput<'_>,
    rows: &[usize],
    w: &impl Fn(usize) -> f64,
    influence: &mut [[f64; 3]],
    count: &mut [f64; 5],
) {
    if !rows.iter().any(|&i| inp.event[i]) {
        return;
    }
    // Ranks of the score within the stratum (1-based, ties share a rank).
    let mut values: Vec<f64> = rows.iter().map(|&i| inp.score[i]).collect();
    values.sort_by(f64::total_cmp);
    values.dedup();
    let rank = |i: usize| values.partition_point(|&v| v < inp.score[i]) + 1;
    let ranks: Vec<usize> = rows.iter().map(|&i| rank(i)).collect();
    let rank_of = |k: usize| ranks[k];

    // Stop time descending, censored before events, score ascending.
    let mut by_stop: Vec<usize> = (0..rows.len()).collect();
    by_stop.sort_by(|&x, &y| {
        let (i, j) = (rows[x], rows[y]);
        inp.stop[j]
            .total_cmp(&inp.stop[i])
            .then(inp.event[i].cmp(&inp.event[j]))
            .then(inp.score[i].total_cmp(&inp.score[j]))
            .then(x.cmp(&y))
    });
    let by_start: Vec<usize> = match inp.start {
        Some(st) => {
            let mut v: Vec<usize> = (0..rows.len()).collect();
            v.sort_by(|&x, &y| st[rows[y]].total_cmp(&st[rows[x]]).then(x.cmp(&y)));
            v
        }
        None => Vec::new(),
    };

    let m = values.len();
    let mut all = RankTree::new(m);
    let mut deaths = RankTree::new(m);
    let mut i2 = 0;
    let mut k = 0;
    while k < by_stop.len() {
        let kk = by_stop[k];
        let ii = rows[kk];
        if !inp.event[ii] {
            let q = deaths.query(rank_of(kk));
            influence[ii][0] -= q[1];
            influence[ii][1] -= q[0];
            influence[ii][2] -= q[2];
            all.add(rank_of(kk), w(ii));
            k += 1;
            continue;
        }
        let t = inp.stop[ii];
        if let Some(st) = inp.start {
            while i2 < by_start.len() && st[rows[by_start[i2]]] >= t {
                let jk = by_start[i2];
                let jj = rows[jk];
                let q = deaths.query(rank_of(jk));
                influence[jj][0] += q[1];
                influence[jj][1] += q[0];
                influence[jj][2] += q[2];
                all.add(rank_of(jk), -w(jj));
                i2 += 1;
            }
        }
        // All deaths at this time (they follow the censored ones).
        let mut end = k;
        while end < by_stop.len() && inp.stop[rows[by_stop[end]]] == t {
            end += 1;
        }
        let mut dwt = 0.0;
        let mut dwt2 = 0.0;
        let mut xsave = inp.score[ii];
        for &jk in &by_stop[k..end] {
            let jj = rows[jk];
            let wj = w(jj);
            count[3] += wj * dwt;
            dwt += wj;
            if inp.score[jj] != xsave {
                dwt2 = 0.0;
                xsave = inp.score[jj];
            }
            count[4] += wj * dwt2;
            dwt2 += wj;
            let q = all.query(rank_of(jk));
            for c in 0..3 {
                count[c] += wj * q[c];
                influence[jj][c] += q[c];
            }
            deaths.add(rank_of(jk), wj);
        }
        for &jk in &by_stop[k..end] {
            let jj = rows[jk];
            let q = deaths.query(rank_of(jk));
            influence[jj][0] -= q[1];
            influence[jj][1] -= q[0];
            influence[jj][2] -= q[2];
            all.add(rank_of(jk), w(jj));
        }
        k = end;
    }
    // Observations still at risk: the deaths before their entry (or all deaths) complete them.
    let rest: Vec<usize> = if inp.start.is_some() {
        by_start[i2..].to_vec()
    } else {
        by_stop.clone()
    };
    for jk in rest {
        let jj = rows[jk];
        let q = deaths.query(rank_of(jk));
        influence[jj][0] += q[1];
        influence[jj][1] += q[0];
        influence[jj][2] += q[2];
    }
}
