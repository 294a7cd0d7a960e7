//! Per-observation quantities of a fitted Cox model, as R's `residuals.coxph`: martingale,
//! deviance, score (and through them dfbeta and the cluster-robust sandwich variance), and the
//! Schoenfeld residuals of the deaths. All are O(n p) from cumulative sums over the event groups,
//! with the Efron down-weighting of tied deaths where R applies it.

use super::Ties;
use super::engine::{
    GroupScalars, Prepared, SlotVectors, linear_predictor, split_by_strata, sweep_stratum,
};

/// The risk-set state of a fit at one β (scaled coordinates), with per-slot covariate sums.
pub(crate) struct RiskState {
    /// Weighted risks w · exp(η − shift).
    pub risk: Vec<f64>,
    pub scalars: Vec<GroupScalars>,
    /// S1 and D1 per slot (p each).
    pub s1: Vec<f64>,
    pub d1: Vec<f64>,
}

impl RiskState {
    pub(crate) fn new(prep: &Prepared, beta: &[f64], ties: Ties) -> Self {
        let (n, p, ns) = (prep.n, prep.p, prep.n_slots());
        let mut eta = vec![0.0; n];
        let mut shift = vec![0.0; prep.strata.len()];
        let mut risk = vec![0.0; n];
        linear_predictor(prep, beta, &mut eta, &mut shift, &mut risk);
        let mut scalars = vec![GroupScalars::default(); ns];
        let mut s1 = vec![0.0; ns * p];
        let mut d1 = vec![0.0; ns * p];
        {
            let sc = split_by_strata(prep, &mut scalars, 1);
            let v1 = split_by_strata(prep, &mut s1, p);
            let v2 = split_by_strata(prep, &mut d1, p);
            for (s, (((st, sc), a), b)) in prep.strata.iter().zip(sc).zip(v1).zip(v2).enumerate() {
                sweep_stratum(
                    prep,
                    st,
                    shift[s],
                    &eta,
                    &risk,
                    ties,
                    sc,
                    None,
                    Some(SlotVectors { s1: a, d1: b }),
                );
            }
        }
        RiskState {
            risk,
            scalars,
            s1,
            d1,
        }
    }

    /// Unweighted risk exp(η − shift) of sorted row r.
    #[inline]
    pub(crate) fn score(&self, prep: &Prepared, r: usize) -> f64 {
        self.risk[r] / prep.weight[r]
    }

    /// Per sorted row: the Efron-adjusted cumulative hazard per unit risk, Σ c − δ e.
    pub(crate) fn cumulative_hazard(&self, prep: &Prepared) -> Vec<f64> {
        let mut q = vec![0.0; prep.n_slots()];
        super::engine::suffix_sums(prep, |s| self.scalars[s].c, &mut q);
        (0..prep.n)
            .map(|r| {
                let a = prep.first_slot[r] as usize;
                let b = prep.last_slot[r] as usize;
                let mut c = q[a] - q[b];
                if prep.event[r] {
                    c -= self.scalars[a].e;
                }
                c
            })
            .collect()
    }

    /// Martingale residuals in sorted order: δ − exp(η) Λ̂.
    pub(crate) fn martingale(&self, prep: &Prepared) -> Vec<f64> {
        let ch = self.cumulative_hazard(prep);
        (0..prep.n)
            .map(|r| f64::from(u8::from(prep.event[r])) - self.score(prep, r) * ch[r])
            .collect()
    }

    /// Mean covariate of the deaths of each slot, averaged over the Efron steps (scaled).
    pub(crate) fn death_means(&self, prep: &Prepared) -> Vec<f64> {
        let p = prep.p;
        let mut mh3 = vec![0.0; prep.n_slots() * p];
        for (slot, sc) in self.scalars.iter().enumerate() {
            if sc.ndeath == 0 {
                continue;
            }
            for j in 0..p {
                mh3[slot * p + j] =
                    (sc.c * self.s1[slot * p + j] - sc.e * self.d1[slot * p + j]) / sc.wsum;
            }
        }
        mh3
    }

    /// Score residuals (unweighted), sorted order, scaled coordinates, row-major n × p.
    pub(crate) fn score_residuals(&self, prep: &Prepared) -> Vec<f64> {
        let (n, p, ns) = (prep.n, prep.p, prep.n_slots());
        let mut q = vec![0.0; ns];
        super::engine::suffix_sums(prep, |s| self.scalars[s].c, &mut q);
        // mh1 = Σ_k h_k m_k and its Efron part for the deaths, per slot; suffix sums of mh1.
        let mut mh1 = vec![0.0; ns * p];
        let mut emh = vec![0.0; ns * p];
        for (slot, sc) in self.scalars.iter().enumerate() {
            if sc.ndeath == 0 {
                continue;
            }
            for j in 0..p {
                let (a, b) = (self.s1[slot * p + j], self.d1[slot * p + j]);
                // α, β, γ are normalised by S0²: divide the means S1/S0, D1/S0 once more.
                let (a, b) = (a / sc.s0, b / sc.s0);
                mh1[slot * p + j] = (sc.alpha * a - sc.beta * b) / sc.s0;
                emh[slot * p + j] = (sc.beta * a - sc.gamma * b) / sc.s0;
            }
        }
        let mut bq = vec![0.0; ns * p];
        for st in &prep.strata {
            let mut acc = vec![0.0; p];
            for slot in st.slots.clone().rev() {
                for j in 0..p {
                    acc[j] += mh1[slot * p + j];
                }
                bq[slot * p..(slot + 1) * p].copy_from_slice(&acc);
            }
        }
        let mh3 = self.death_means(prep);
        let mut out = vec![0.0; n * p];
        for r in 0..n {
            let a = prep.first_slot[r] as usize;
            let b = prep.last_slot[r] as usize;
            let ru = self.score(prep, r);
            let mut c = q[a] - q[b];
            let x = prep.row(r);
            let o = &mut out[r * p..(r + 1) * p];
            if prep.event[r] {
                c -= self.scalars[a].e;
                for j in 0..p {
                    let bj = bq[a * p + j] - bq[b * p + j] - emh[a * p + j];
                    o[j] = (x[j] - mh3[a * p + j]) - ru * (x[j] * c - bj);
                }
            } else {
                for j in 0..p {
                    let bj = bq[a * p + j] - bq[b * p + j];
                    o[j] = -ru * (x[j] * c - bj);
                }
            }
        }
        out
    }
}

/// Deviance residual from a martingale residual.
pub(crate) fn deviance(m: f64, event: bool) -> f64 {
    let d = if event {
        -2.0 * (m + (1.0 - m).ln())
    } else {
        -2.0 * m
    };
    m.signum() * d.max(0.0).sqrt()
}
