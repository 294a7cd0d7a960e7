//! Nearest-neighbour matching on the logit of the propensity score: 1:k, with a caliper
//! (default 0.2 standard deviations of the logit), with or without replacement, greedy and
//! deterministic; matched-set ids for a stratified Cox model or a cluster-robust variance, and
//! match weights.
//!
//! ```
//! use models::matching::{MatchingOptions, match_nearest};
//! # fn main() -> Result<(), models::ModelError> {
//! let logit = [-1.2, 0.3, -0.9, 0.1, -1.0, 0.5];
//! let treated = [true, true, false, false, false, false];
//! let m = match_nearest(&logit, &treated, &MatchingOptions::default())?;
//! println!("{} of {} treated matched", m.n_matched_treated, m.n_treated);
//! // m.set_of_row: a stratum per matched row; m.weights: 1 for the matched treated, 1/k per use
//! // for a control, 0 for rows left out.
//! # Ok(()) }
//! ```
//!
//! The algorithm is MatchIt's `method = "nearest"` (`distance = "glm", link = "linear.logit"`):
//! the treated rows are taken one at a time in a fixed order (default: largest logit first, as
//! MatchIt's `m.order = "largest"`; ties in that order broken by row index) and each takes the
//! nearest control on the logit scale that is still available (every control, with
//! replacement) and within the caliper. Ties in distance go to the control with the smaller
//! row index. For 1:k without replacement the matching runs in k rounds, as MatchIt does: every
//! treated row takes its first control before any takes its second; a treated row that finds no
//! control in a round takes no more. With replacement each treated row takes its k nearest
//! controls at once. The caliper width is `caliper_sd` times the sample standard deviation of
//! the logit over all rows (MatchIt's `std.caliper = TRUE`).
//!
//! Each matched treated row with its controls is a matched set, numbered 0, 1, ... in the
//! order of the treated rows' indices. Match weights (for an ATT comparison): 1 for a matched
//! treated row, and for a control `Σ 1/kᵢ` over the sets that use it (kᵢ the number of controls
//! of set i), so every set weighs 1 on each side; rows outside every set weigh 0.

use serde::Serialize;

use crate::ModelError;
use crate::km::{check_length, invalid};

/// In which order the treated rows choose their controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchOrder {
    /// Largest logit first (MatchIt's default for a propensity score).
    #[default]
    LargestFirst,
    /// Smallest logit first.
    SmallestFirst,
    /// Row order.
    DataOrder,
}

/// Options of [`match_nearest`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatchingOptions {
    /// Controls per treated row (k of 1:k), at least 1.
    pub ratio: usize,
    /// Caliper in standard deviations of the logit (`None`: no caliper). Default 0.2 (Austin
    /// 2011).
    pub caliper_sd: Option<f64>,
    /// Whether a control may be matched to more than one treated row.
    pub replacement: bool,
    pub order: MatchOrder,
}

impl Default for MatchingOptions {
    fn default() -> Self {
        MatchingOptions {
            ratio: 1,
            caliper_sd: Some(0.2),
            replacement: false,
            order: MatchOrder::LargestFirst,
        }
    }
}

/// One matched set: a treated row and its controls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchedSet {
    pub id: u32,
    pub treated: usize,
    /// Control rows, in the order they were chosen (nearest first).
    pub controls: Vec<usize>,
}

/// The matched sample in long form: one entry per use of a row (with replacement a control
/// appears once per set that uses it), for a stratified or cluster-robust analysis.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MatchedRows {
    /// Input row.
    pub row: Vec<usize>,
    /// Its matched set.
    pub set: Vec<u32>,
    /// Its weight in the set: 1 for the treated row, 1/k for each of its k controls.
    pub weight: Vec<f64>,
}

/// The result of matching.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchedSample {
    /// Sets in order of the treated rows' indices.
    pub sets: Vec<MatchedSet>,
    /// Per input row: its matched set (`None` when unmatched). With replacement a control used
    /// by several sets carries the smallest of their ids: use [`MatchedSample::long_form`] there.
    pub set_of_row: Vec<Option<u32>>,
    /// Match weights per input row (see the module docs).
    pub weights: Vec<f64>,
    /// Caliper width on the logit scale, when a caliper was used.
    pub caliper: Option<f64>,
    pub n_treated: usize,
    pub n_matched_treated: usize,
    pub n_unmatched_treated: usize,
    /// Distinct controls used.
    pub n_matched_controls: usize,
    pub ratio: usize,
    pub replacement: bool,
}

impl MatchedSample {
    /// The long form: every treated row of a set, then its controls, set by set.
    pub fn long_form(&self) -> MatchedRows {
        let mut out = MatchedRows::default();
        for s in &self.sets {
            out.row.push(s.treated);
            out.set.push(s.id);
            out.weight.push(1.0);
            let k = s.controls.len() as f64;
            for &c in &s.controls {
                out.row.push(c);
                out.set.push(s.id);
                out.weight.push(1.0 / k);
            }
        }
        out
    }
}

/// Controls sorted by (logit, row), with union-find skips over the used ones.
struct ControlPool {
    /// Logit of the control at each sorted position.
    value: Vec<f64>,
    /// Input row at each sorted position.
    row: Vec<usize>,
    /// next[i]: first available position >= i (m when none), path-compressed.
    next: Vec<usize>,
    /// prev[i + 1]: last available position <= i, plus one (0 when none).
    prev: Vec<usize>,
}

fn find(parent: &mut [usize], x: usize) -> usize {
    let mut root = x;
    while parent[root] != root {
        root = parent[root];
    }
    let mut y = x;
    while parent[y] != root {
        let up = parent[y];
        parent[y] = root;
        y = up;
    }
    root
}

impl ControlPool {
    fn new(logit: &[f64], treated: &[bool]) -> Self {
        let mut rows: Vec<usize> = (0..logit.len()).filter(|&i| !treated[i]).collect();
        rows.sort_by(|&a, &b| logit[a].total_cmp(&logit[b]).then(a.cmp(&b)));
        let m = rows.len();
        ControlPool {
            value: rows.iter().map(|&r| logit[r]).collect(),
            row: rows,
            next: (0..=m).collect(),
            prev: (0..=m).collect(),
        }
    }

    fn len(&self) -> usize {
        self.row.len()
    }

    /// First available position >= i.
    fn next_available(&mut self, i: usize) -> Option<usize> {
        let m = self.len();
        let j = find(&mut self.next, i.min(m));
        (j < m).then_some(j)
    }

    /// Last available position <= i.
    fn prev_available(&mut self, i: usize) -> Option<usize> {
        let j = find(&mut self.prev, i + 1);
        (j > 0).then(|| j - 1)
    }

    fn remove(&mut self, pos: usize) {
        self.next[pos] = pos + 1;
        self.prev[pos + 1] = pos;
    }

    /// Up to `need` available controls nearest to `x` within `caliper`, by (distance, row).
    fn nearest(&mut self, x: f64, caliper: f64, need: usize) -> Vec<usize> {
        let mut picked = Vec::with_capacity(need);
        let pos = self.value.partition_point(|&v| v < x);
        let mut left = if pos > 0 {
            self.prev_available(pos - 1)
        } else {
            None
        };
        let mut right = self.next_available(pos);
        while picked.len() < need {
            let dl = left.map(|l| x - self.value[l]);
            let dr = right.map(|r| self.value[r] - x);
            let d = match (dl, dr) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => break,
            };
            if d > caliper {
                break;
            }
            // The blocks of equal logit at distance d on either side; positions ascend with
            // the row index inside a block.
            let mut left_run = Vec::new();
            let mut left_start = 0;
            if let (Some(l), Some(a)) = (left, dl)
                && a == d
            {
                let v = self.value[l];
                left_start = self.value.partition_point(|&u| u < v);
                let mut j = self.next_available(left_start);
                while let Some(p) = j {
                    if p > l || left_run.len() >= need - picked.len() {
                        break;
                    }
                    left_run.push(p);
                    j = self.next_available(p + 1);
                }
            }
            let mut right_run = Vec::new();
            let mut right_end = 0;
            if let (Some(r), Some(b)) = (right, dr)
                && b == d
            {
                let v = self.value[r];
                right_end = self.value.partition_point(|&u| u <= v);
                let mut j = Some(r);
                while let Some(p) = j {
                    if p >= right_end || right_run.len() >= need - picked.len() {
                        break;
                    }
                    right_run.push(p);
                    j = self.next_available(p + 1);
                }
            }
            let (used_left, used_right) = (!left_run.is_empty(), !right_run.is_empty());
            let (mut a, mut b) = (0, 0);
            while picked.len() < need && (a < left_run.len() || b < right_run.len()) {
                let take_left = match (left_run.get(a), right_run.get(b)) {
                    (Some(&l), Some(&r)) => self.row[l] < self.row[r],
                    (Some(_), None) => true,
                    _ => false,
                };
                if take_left {
                    picked.push(left_run[a]);
                    a += 1;
                } else {
                    picked.push(right_run[b]);
                    b += 1;
                }
            }
            if used_left {
                left = if left_start > 0 {
                    self.prev_available(left_start - 1)
                } else {
                    None
                };
            }
            if used_right {
                right = self.next_available(right_end);
            }
        }
        picked
    }
}

/// Sample standard deviation (divisor n − 1).
fn sample_sd(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Matches every `treated` row to its nearest controls on `logit` (the logit of the
/// propensity score; any distance on a line works), as described in the module docs.
pub fn match_nearest(
    logit: &[f64],
    treated: &[bool],
    options: &MatchingOptions,
) -> Result<MatchedSample, ModelError> {
    let n = logit.len();
    check_length("treated", n, treated.len())?;
    if let Some(i) = logit.iter().position(|v| !v.is_finite()) {
        return Err(invalid(
            i,
            "the logit of the propensity score is not finite (score 0 or 1)".into(),
        ));
    }
    if options.ratio == 0 {
        return Err(ModelError::Unsupported(
            "the matching ratio must be at least 1".into(),
        ));
    }
    let n_treated = treated.iter().filter(|&&t| t).count();
    if n_treated == 0 || n_treated == n {
        return Err(ModelError::Unsupported(
            "matching needs rows in both groups".into(),
        ));
    }
    let caliper = match options.caliper_sd {
        None => None,
        Some(c) if c.is_finite() && c > 0.0 => Some(c * sample_sd(logit)),
        Some(c) => {
            return Err(ModelError::Unsupported(format!(
                "caliper {c} must be a positive number of standard deviations"
            )));
        }
    };
    let width = caliper.unwrap_or(f64::INFINITY);

    let mut order: Vec<usize> = (0..n).filter(|&i| treated[i]).collect();
    match options.order {
        MatchOrder::LargestFirst => {
            order.sort_by(|&a, &b| logit[b].total_cmp(&logit[a]).then(a.cmp(&b)));
        }
        MatchOrder::SmallestFirst => {
            order.sort_by(|&a, &b| logit[a].total_cmp(&logit[b]).then(a.cmp(&b)));
        }
        MatchOrder::DataOrder => {}
    }

    let mut pool = ControlPool::new(logit, treated);
    // Controls (input rows) per treated row, by position in `order`.
    let mut chosen: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    if options.replacement {
        for (k, &t) in order.iter().enumerate() {
            chosen[k] = pool
                .nearest(logit[t], width, options.ratio)
                .into_iter()
                .map(|p| pool.row[p])
                .collect();
        }
    } else {
        let mut active = vec![true; order.len()];
        for _round in 0..options.ratio {
            for (k, &t) in order.iter().enumerate() {
                if !active[k] {
                    continue;
                }
                match pool.nearest(logit[t], width, 1).first() {
                    Some(&p) => {
                        chosen[k].push(pool.row[p]);
                        pool.remove(p);
                    }
                    None => active[k] = false,
                }
            }
        }
    }

    // Sets numbered in order of the treated rows' indices.
    let mut by_row: Vec<(usize, Vec<usize>)> = order
        .iter()
        .zip(chosen)
        .filter(|(_, c)| !c.is_empty())
        .map(|(&t, c)| (t, c))
        .collect();
    by_row.sort_by_key(|(t, _)| *t);
    let mut set_of_row: Vec<Option<u32>> = vec![None; n];
    let mut weights = vec![0.0; n];
    let mut sets = Vec::with_capacity(by_row.len());
    for (id, (t, controls)) in by_row.into_iter().enumerate() {
        let id = u32::try_from(id)
            .map_err(|_| ModelError::Unsupported("more than 2^32 matched sets".into()))?;
        set_of_row[t] = Some(id);
        weights[t] = 1.0;
        let k = controls.len() as f64;
        for &c in &controls {
            if set_of_row[c].is_none() {
                set_of_row[c] = Some(id);
            }
            weights[c] += 1.0 / k;
        }
        sets.push(MatchedSet {
            id,
            treated: t,
            controls,
        });
    }
    let n_matched_treated = sets.len();
    let n_matched_controls = (0..n).filter(|&i| !treated[i] && weights[i] > 0.0).count();
    Ok(MatchedSample {
        sets,
        set_of_row,
        weights,
        caliper,
        n_treated,
        n_matched_treated,
        n_unmatched_treated: n_treated - n_matched_treated,
        n_matched_controls,
        ratio: options.ratio,
        replacement: options.replacement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(ratio: usize, caliper_sd: Option<f64>, replacement: bool) -> MatchingOptions {
        MatchingOptions {
            ratio,
            caliper_sd,
            replacement,
            order: MatchOrder::LargestFirst,
        }
    }

    /// Brute force of the documented greedy rule.
    fn brute(logit: &[f64], treated: &[bool], o: &MatchingOptions) -> Vec<(usize, Vec<usize>)> {
        let n = logit.len();
        let width = o.caliper_sd.map_or(f64::INFINITY, |c| c * sample_sd(logit));
        let mut order: Vec<usize> = (0..n).filter(|&i| treated[i]).collect();
        order.sort_by(|&a, &b| logit[b].total_cmp(&logit[a]).then(a.cmp(&b)));
        let mut used = vec![false; n];
        let mut chosen: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
        let candidates = |t: usize, used: &[bool]| {
            let mut c: Vec<(f64, usize)> = (0..n)
                .filter(|&j| !treated[j] && !used[j])
                .map(|j| ((logit[t] - logit[j]).abs(), j))
                .filter(|(d, _)| *d <= width)
                .collect();
            c.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            c
        };
        if o.replacement {
            for (k, &t) in order.iter().enumerate() {
                chosen[k] = candidates(t, &used)
                    .iter()
                    .take(o.ratio)
                    .map(|c| c.1)
                    .collect();
            }
        } else {
            let mut active = vec![true; order.len()];
            for _ in 0..o.ratio {
                for (k, &t) in order.iter().enumerate() {
                    if !active[k] {
                        continue;
                    }
                    match candidates(t, &used).first() {
                        Some(&(_, j)) => {
                            used[j] = true;
                            chosen[k].push(j);
                        }
                        None => active[k] = false,
                    }
                }
            }
        }
        let mut out: Vec<(usize, Vec<usize>)> = order
            .into_iter()
            .zip(chosen)
            .filter(|(_, c)| !c.is_empty())
            .collect();
        out.sort_by_key(|x| x.0);
        out
    }

    #[test]
    fn agrees_with_brute_force_including_ties() {
        // A small generator (LCG) with coarse values so ties abound.
        let mut state = 12345_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u32
        };
        for case in 0..200 {
            let n = 5 + (next() % 40) as usize;
            let logit: Vec<f64> = (0..n).map(|_| f64::from(next() % 9) * 0.25 - 1.0).collect();
            let treated: Vec<bool> = (0..n).map(|_| next() % 3 == 0).collect();
            if !treated.iter().any(|&t| t) || treated.iter().all(|&t| t) {
                continue;
            }
            for o in [
                opts(1, Some(0.2), false),
                opts(1, None, false),
                opts(2, Some(0.5), false),
                opts(3, None, true),
                opts(2, Some(0.2), true),
            ] {
                let m = match_nearest(&logit, &treated, &o).expect("match");
                let got: Vec<(usize, Vec<usize>)> = m
                    .sets
                    .iter()
                    .map(|s| (s.treated, s.controls.clone()))
                    .collect();
                assert_eq!(
                    got,
                    brute(&logit, &treated, &o),
                    "case {case} {o:?} {logit:?}"
                );
                // Each side of every set weighs 1.
                let wt: f64 = (0..n).filter(|&i| treated[i]).map(|i| m.weights[i]).sum();
                let wc: f64 = (0..n).filter(|&i| !treated[i]).map(|i| m.weights[i]).sum();
                assert!((wt - wc).abs() < 1e-9 && (wt - m.sets.len() as f64).abs() < 1e-12);
                assert_eq!(m.n_matched_treated + m.n_unmatched_treated, m.n_treated);
                if !o.replacement {
                    let lf = m.long_form();
                    let mut rows = lf.row.clone();
                    rows.sort_unstable();
                    rows.dedup();
                    assert_eq!(rows.len(), lf.row.len(), "a row used twice");
                }
            }
        }
    }

    #[test]
    fn caliper_leaves_far_treated_unmatched() {
        let logit = [0.0, 0.05, 5.0, 0.02, 0.1, 0.2, -0.1];
        let treated = [true, true, true, false, false, false, false];
        let m = match_nearest(&logit, &treated, &opts(1, Some(0.2), false)).expect("match");
        assert_eq!(m.n_unmatched_treated, 1);
        assert_eq!(m.set_of_row[2], None);
        assert_eq!(m.weights[2], 0.0);
        // Largest first: row 1 (0.05) takes row 3 (0.02); for row 0 (0.0) the nearest
        // available are row 4 (0.1) and row 6 (-0.1), at equal distance: the smaller row wins.
        assert_eq!(m.sets[0].controls, vec![4]);
        assert_eq!(m.sets[1].controls, vec![3]);
    }

    #[test]
    fn refuses_bad_input() {
        assert!(
            match_nearest(
                &[0.0, f64::INFINITY],
                &[true, false],
                &MatchingOptions::default()
            )
            .is_err()
        );
        assert!(match_nearest(&[0.0, 1.0], &[true, true], &MatchingOptions::default()).is_err());
        assert!(match_nearest(&[0.0, 1.0], &[true, false], &opts(0, None, false)).is_err());
    }
}
