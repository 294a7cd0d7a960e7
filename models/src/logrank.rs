//! Log-rank and Fleming–Harrington G(ρ, γ) tests of equal survival across k groups, optionally
//! stratified, with case weights, as R's `survdiff(Surv(time, event) ~ group + strata(s), rho)`.
//!
//! Each event time is weighted by `S(t−)^ρ · (1 − S(t−))^γ`, with `S` the pooled Kaplan–Meier
//! curve of the stratum (left-continuous); ρ = γ = 0 is the log-rank test, ρ = 1, γ = 0 the
//! Peto–Peto / Prentice–Wilcoxon test R calls `rho = 1`. Case weights act as frequency
//! weights: a row of weight 2 counts exactly as two identical rows (R's `survdiff` has no
//! weights).

use rayon::prelude::*;
use serde::Serialize;

use crate::km::{FollowUp, LabelIndex, Partition, TimeGrid, check_length};
use crate::{ModelError, dist};

/// Options of [`log_rank_test`].
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LogRankOptions {
    /// Exponent of `S(t−)` in the weight (R's `rho`).
    pub rho: f64,
    /// Exponent of `1 − S(t−)` in the weight (0 in R's `survdiff`).
    pub gamma: f64,
}

/// Result of a (weighted) log-rank test.
#[derive(Debug, Clone, Serialize)]
pub struct LogRankTest {
    /// Group labels, ascending.
    pub groups: Vec<u32>,
    /// Weighted number of rows per group.
    pub n: Vec<f64>,
    /// Weighted observed events per group (times the G(ρ, γ) weight), summed over strata.
    pub observed: Vec<f64>,
    /// Expected events per group under equal survival, summed over strata.
    pub expected: Vec<f64>,
    /// Variance matrix of `observed − expected` (groups × groups), summed over strata.
    pub variance: Vec<Vec<f64>>,
    /// Chi-square statistic.
    pub chi_square: f64,
    /// Degrees of freedom: groups with expected events, minus one.
    pub df: usize,
    /// Upper-tail p-value of the chi-square statistic.
    pub p_value: f64,
    /// ρ used.
    pub rho: f64,
    /// γ used.
    pub gamma: f64,
    /// Per stratum, when stratified (empty otherwise).
    pub strata: Vec<StratumCounts>,
}

/// Observed and expected events per group within one stratum.
#[derive(Debug, Clone, Serialize)]
pub struct StratumCounts {
    /// Stratum label.
    pub stratum: u32,
    /// Observed events per group.
    pub observed: Vec<f64>,
    /// Expected events per group.
    pub expected: Vec<f64>,
}

/// The G(ρ, γ) test of equal survival across the groups, within strata when `strata` is
/// given (strata are swept in parallel, and summed in stratum order).
pub fn log_rank_test(
    data: &FollowUp,
    group: &[u32],
    strata: Option<&[u32]>,
    options: &LogRankOptions,
) -> Result<LogRankTest, ModelError> {
    data.check()?;
    check_length("group", data.len(), group.len())?;
    if let Some(s) = strata {
        check_length("strata", data.len(), s.len())?;
    }
    if data.entry.is_some() {
        return Err(ModelError::Unsupported(
            "the log-rank test with delayed entry is not implemented (R's survdiff has none either)".into(),
        ));
    }
    for (name, v) in [("rho", options.rho), ("gamma", options.gamma)] {
        if !(v.is_finite() && v >= 0.0) {
            return Err(ModelError::Unsupported(format!(
                "{name} = {v}: it must be a finite number >= 0"
            )));
        }
    }
    let index = LabelIndex::of(group);
    let k = index.labels.len();
    if k < 2 {
        return Err(ModelError::Unsupported(
            "only one group: the log-rank test needs at least two".into(),
        ));
    }

    let mut n = vec![0.0; k];
    for (r, &g) in group.iter().enumerate() {
        n[index.code(g)] += data.weight_of(r);
    }

    let (stratum_labels, sums): (Vec<u32>, Vec<StratumSums>) = match strata {
        None => (
            vec![0],
            vec![StratumSums::sweep(
                data,
                group,
                &index,
                0..data.len(),
                options,
            )],
        ),
        Some(s) => {
            let partition = Partition::by_label(s);
            let sums = partition
                .groups()
                .into_par_iter()
                .map(|(_, rows)| {
                    StratumSums::sweep(
                        data,
                        group,
                        &index,
                        rows.iter().map(|&r| r as usize),
                        options,
                    )
                })
                .collect();
            (partition.labels, sums)
        }
    };

    let mut observed = vec![0.0; k];
    let mut expected = vec![0.0; k];
    let mut variance = vec![vec![0.0; k]; k];
    for s in &sums {
        for g in 0..k {
            observed[g] += s.observed[g];
            expected[g] += s.expected[g];
            for (h, v) in variance[g].iter_mut().enumerate() {
                *v += s.variance[g * k + h];
            }
        }
    }

    // R: keep groups with expected > 0, drop the first of them, solve.
    let kept: Vec<usize> = (0..k).filter(|&g| expected[g] > 0.0).collect();
    if kept.len() < 2 {
        return Err(ModelError::Unsupported(
            "fewer than two groups have events at risk: nothing to compare".into(),
        ));
    }
    let free = &kept[1..];
    let diff: Vec<f64> = free.iter().map(|&g| observed[g] - expected[g]).collect();
    let matrix: Vec<Vec<f64>> = free
        .iter()
        .map(|&g| free.iter().map(|&h| variance[g][h]).collect())
        .collect();
    let solved = solve(matrix, diff.clone()).ok_or_else(|| {
        ModelError::Unsupported("the variance matrix of the log-rank statistic is singular".into())
    })?;
    let chi_square: f64 = solved.iter().zip(&diff).map(|(a, b)| a * b).sum();
    let df = kept.len() - 1;

    let strata_out = match strata {
        None => Vec::new(),
        Some(_) => stratum_labels
            .iter()
            .zip(&sums)
            .map(|(&stratum, s)| StratumCounts {
                stratum,
                observed: s.observed.clone(),
                expected: s.expected.clone(),
            })
            .collect(),
    };
    Ok(LogRankTest {
        groups: index.labels,
        n,
        observed,
        expected,
        variance,
        chi_square,
        df,
        p_value: dist::chi_square_sf(chi_square, df as f64),
        rho: options.rho,
        gamma: options.gamma,
        strata: strata_out,
    })
}

/// Observed, expected and variance contributions of one stratum.
struct StratumSums {
    observed: Vec<f64>,
    expected: Vec<f64>,
    /// Row-major k × k.
    variance: Vec<f64>,
}

impl StratumSums {
    fn sweep<I>(
        data: &FollowUp,
        group: &[u32],
        index: &LabelIndex,
        rows: I,
        options: &LogRankOptions,
    ) -> StratumSums
    where
        I: Iterator<Item = usize> + Clone,
    {
        let k = index.labels.len();
        let grid = TimeGrid::from_exits(data.time, rows.clone());
        let t = grid.len();
        // Per group (row-major group × time): weighted events and exits.
        let mut events = vec![0.0; k * t];
        let mut exits = vec![0.0; k * t];
        for r in rows {
            let w = data.weight_of(r);
            let cell = index.code(group[r]) * t + grid.exit_index(data.time[r]);
            exits[cell] += w;
            events[cell] += if data.event[r] { w } else { 0.0 };
        }
        // At risk per group: running sums of exits from the end.
        let mut at_risk = exits;
        for g in 0..k {
            let row = &mut at_risk[g * t..(g + 1) * t];
            let mut running = 0.0;
            for v in row.iter_mut().rev() {
                running += *v;
                *v = running;
            }
        }

        let mut out = StratumSums {
            observed: vec![0.0; k],
            expected: vec![0.0; k],
            variance: vec![0.0; k * k],
        };
        let mut km = 1.0_f64;
        let mut risk = vec![0.0; k];
        for i in 0..t {
            let (mut n, mut d) = (0.0, 0.0);
            for g in 0..k {
                risk[g] = at_risk[g * t + i];
                n += risk[g];
                d += events[g * t + i];
            }
            if d <= 0.0 {
                continue;
            }
            let wt = km.powf(options.rho) * (1.0 - km).powf(options.gamma);
            for g in 0..k {
                out.observed[g] += wt * events[g * t + i];
                out.expected[g] += wt * d * risk[g] / n;
            }
            if n > 1.0 {
                let w2 = wt * wt;
                for g in 0..k {
                    let tmp = w2 * d * risk[g] * (n - d) / (n * (n - 1.0));
                    out.variance[g * k + g] += tmp;
                    for (v, &r) in out.variance[g * k..(g + 1) * k].iter_mut().zip(&risk) {
                        *v -= tmp * r / n;
                    }
                }
            }
            km *= (n - d) / n;
        }
        out
    }
}

/// Solves `a x = b` by Gaussian elimination with partial pivoting; `None` if singular.
pub(crate) fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let m = b.len();
    let scale = (0..m).map(|i| a[i][i].abs()).fold(0.0, f64::max);
    if scale.is_nan() || scale <= 0.0 {
        return None;
    }
    for col in 0..m {
        let pivot = (col..m).max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))?;
        if a[pivot][col].abs() <= scale * 1e-13 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (upper, lower) = a.split_at_mut(col + 1);
        let pivot_row = &upper[col];
        for (offset, row) in lower.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            if f != 0.0 {
                for (x, &p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                    *x -= f * p;
                }
                b[col + 1 + offset] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; m];
    for row in (0..m).rev() {
        let s: f64 = (row + 1..m).map(|c| a[row][c] * x[c]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_groups_by_hand() {
        // Group 0 dies at 1 and 3, group 1 at 2; one censoring at 4 in group 1.
        let time = [1.0, 3.0, 2.0, 4.0];
        let event = [true, true, true, false];
        let group = [0, 0, 1, 1];
        let fit = log_rank_test(
            &FollowUp::new(&time, &event),
            &group,
            None,
            &LogRankOptions::default(),
        )
        .expect("test");
        // t=1: n=(2,2) d=1 -> E0 = .5; t=2: n=(1,2) -> E0 = 1/3; t=3: n=(1,1) -> E0 = .5.
        assert!((fit.expected[0] - (0.5 + 1.0 / 3.0 + 0.5)).abs() < 1e-14);
        assert_eq!(fit.observed, vec![2.0, 1.0]);
        let v = 0.25 + 2.0 / 9.0 + 0.25;
        assert!((fit.variance[0][0] - v).abs() < 1e-14);
        let o_e = 2.0 - (0.5 + 1.0 / 3.0 + 0.5);
        assert!((fit.chi_square - o_e * o_e / v).abs() < 1e-12);
        assert_eq!(fit.df, 1);
    }

    #[test]
    fn solver_solves() {
        let x = solve(vec![vec![4.0, 1.0], vec![1.0, 3.0]], vec![1.0, 2.0]).expect("regular");
        assert!((4.0 * x[0] + x[1] - 1.0).abs() < 1e-14 && (x[0] + 3.0 * x[1] - 2.0).abs() < 1e-14);
        assert!(solve(vec![vec![1.0, 2.0], vec![2.0, 4.0]], vec![1.0, 2.0]).is_none());
    }
}
