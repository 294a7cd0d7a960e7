//! Aalen–Johansen cumulative incidence of competing causes and the event-free probability, with
//! infinitesimal-jackknife standard errors, case weights, delayed entry and groups, as R's
//! `survfit(Surv(time, factor(cause)) ~ 1)` (`pstate`, `std.err`, `lower`, `upper`).
//!
//! With a single cause the cumulative incidence is exactly `1 − KM`; under competing causes
//! `1 − KM` of one cause over-states its incidence, which is why this is the default estimate.

use rayon::prelude::*;
use serde::Serialize;

use crate::ModelError;
use crate::km::{
    ConfType, LabelIndex, Partition, QuadraticSweep, TimeGrid, carry_over_events, check_conf_level,
    check_length, check_times, check_weights, confidence_band, sorted_times,
};

/// Follow-up ending in one of several competing causes: at risk on `(entry, time]`, leaving
/// with `cause` (0 = censored, any other code = that cause).
#[derive(Debug, Clone, Copy)]
pub struct CompetingRisks<'a> {
    /// Exit time (>= 0).
    pub time: &'a [f64],
    /// Cause of exit: 0 for censoring, otherwise the cause's code.
    pub cause: &'a [u32],
    /// Delayed entry times (>= 0, < time).
    pub entry: Option<&'a [f64]>,
    /// Case weights (> 0).
    pub weight: Option<&'a [f64]>,
}

impl<'a> CompetingRisks<'a> {
    /// Right-censored competing-risks follow-up from time 0.
    pub fn new(time: &'a [f64], cause: &'a [u32]) -> Self {
        CompetingRisks {
            time,
            cause,
            entry: None,
            weight: None,
        }
    }

    /// Adds delayed entry times.
    pub fn with_entry(mut self, entry: &'a [f64]) -> Self {
        self.entry = Some(entry);
        self
    }

    /// Adds case weights.
    pub fn with_weights(mut self, weight: &'a [f64]) -> Self {
        self.weight = Some(weight);
        self
    }

    fn check(&self) -> Result<(), ModelError> {
        let n = self.time.len();
        check_length("cause", n, self.cause.len())?;
        check_times(self.time, self.entry)?;
        check_weights(n, self.weight)
    }

    #[inline]
    fn weight_of(&self, row: usize) -> f64 {
        crate::km::weight_of(self.weight, row)
    }
}

/// Options of [`aalen_johansen`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AalenJohansenOptions {
    /// Scale of the pointwise band (R's default: log).
    pub conf_type: ConfType,
    /// Confidence level (default 0.95).
    pub conf_level: f64,
}

impl Default for AalenJohansenOptions {
    fn default() -> Self {
        AalenJohansenOptions {
            conf_type: ConfType::Log,
            conf_level: 0.95,
        }
    }
}

/// Cumulative incidence of each cause and the event-free probability (Aalen–Johansen), one
/// entry per distinct exit time.
#[derive(Debug, Clone, Serialize)]
pub struct CumulativeIncidence {
    /// Rows used.
    pub n_rows: usize,
    /// Distinct exit times, ascending.
    pub time: Vec<f64>,
    /// Weighted number at risk (event-free and under follow-up) just before each time
    /// (R 3.5's multi-state `survfit` reports the unweighted count here).
    pub n_risk: Vec<f64>,
    /// Weighted number censored at each time.
    pub n_censor: Vec<f64>,
    /// Probability of being still event-free (R's first `pstate` column).
    pub event_free: Vec<f64>,
    /// Its standard error (infinitesimal jackknife).
    pub std_err_event_free: Vec<f64>,
    /// Lower end of its band.
    pub lower_event_free: Vec<Option<f64>>,
    /// Upper end of its band.
    pub upper_event_free: Vec<Option<f64>>,
    /// One entry per cause, in ascending code order.
    pub causes: Vec<CauseIncidence>,
    /// Scale of the bands.
    pub conf_type: ConfType,
    /// Confidence level.
    pub conf_level: f64,
}

/// Cumulative incidence of one cause.
#[derive(Debug, Clone, Serialize)]
pub struct CauseIncidence {
    /// The cause's code.
    pub cause: u32,
    /// Weighted number of exits by this cause at each time.
    pub n_event: Vec<f64>,
    /// Cumulative incidence (Aalen–Johansen).
    pub incidence: Vec<f64>,
    /// Its standard error (infinitesimal jackknife, as R).
    pub std_err: Vec<f64>,
    /// Lower end of the band (`None` where R gives NA: incidence 0 on the log scale).
    pub lower: Vec<Option<f64>>,
    /// Upper end of the band.
    pub upper: Vec<Option<f64>>,
}

/// The estimate of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupIncidence {
    /// Group label.
    pub group: u32,
    /// Its cumulative incidence.
    pub incidence: CumulativeIncidence,
}

/// The estimate read at a chosen time (R's `summary(fit, times, extend = TRUE)`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidenceAtTime {
    /// The chosen time.
    pub time: f64,
    /// Weighted number at risk at that time.
    pub n_risk: f64,
    /// Weighted exits per cause since the previous chosen time.
    pub n_event: Vec<f64>,
    /// Weighted censorings since the previous chosen time.
    pub n_censor: f64,
    /// Event-free probability.
    pub event_free: f64,
    /// Its standard error.
    pub std_err_event_free: f64,
    /// Cumulative incidence per cause.
    pub incidence: Vec<f64>,
    /// Standard errors per cause.
    pub std_err: Vec<f64>,
    /// Lower band per cause.
    pub lower: Vec<Option<f64>>,
    /// Upper band per cause.
    pub upper: Vec<Option<f64>>,
}

/// Aalen–Johansen estimate over all rows.
pub fn aalen_johansen(
    data: &CompetingRisks,
    options: &AalenJohansenOptions,
) -> Result<CumulativeIncidence, ModelError> {
    data.check()?;
    let z = check_conf_level(options.conf_level)?;
    let causes = cause_index(data.cause);
    Ok(estimate(
        data,
        0..data.time.len(),
        data.time.len(),
        &causes,
        options,
        z,
    ))
}

/// One Aalen–Johansen estimate per group (ascending labels), in parallel; every group reports
/// every cause seen in the data.
pub fn aalen_johansen_by_group(
    data: &CompetingRisks,
    group: &[u32],
    options: &AalenJohansenOptions,
) -> Result<Vec<GroupIncidence>, ModelError> {
    data.check()?;
    check_length("group", data.time.len(), group.len())?;
    let z = check_conf_level(options.conf_level)?;
    let causes = cause_index(data.cause);
    let partition = Partition::by_label(group);
    Ok(partition
        .groups()
        .into_par_iter()
        .map(|(label, rows)| GroupIncidence {
            group: label,
            incidence: estimate(
                data,
                rows.iter().map(|&r| r as usize),
                rows.len(),
                &causes,
                options,
                z,
            ),
        })
        .collect())
}

/// The causes are the distinct non-zero codes, ascending.
fn cause_index(cause: &[u32]) -> LabelIndex {
    let mut with_zero = LabelIndex::of(cause);
    if with_zero.labels.first() == Some(&0) {
        with_zero.labels.remove(0);
        LabelIndex::of(&with_zero.labels)
    } else {
        with_zero
    }
}

fn estimate<I>(
    data: &CompetingRisks,
    rows: I,
    n_rows: usize,
    causes: &LabelIndex,
    options: &AalenJohansenOptions,
    z: f64,
) -> CumulativeIncidence
where
    I: Iterator<Item = usize> + Clone,
{
    let k = causes.labels.len();
    let grid = TimeGrid::from_exits(data.time, rows.clone());
    let t = grid.len();
    let cause_of = |r: usize| -> Option<usize> {
        let c = data.cause[r];
        (c != 0).then(|| causes.code(c))
    };

    // Counts on the grid.
    let mut exits = vec![0.0; t];
    let mut late = vec![0.0; t + 1];
    let mut censored = vec![0.0; t];
    let mut events = vec![vec![0.0; t]; k];
    for r in rows.clone() {
        let w = data.weight_of(r);
        let e = grid.exit_index(data.time[r]);
        exits[e] += w;
        match cause_of(r) {
            Some(c) => events[c][e] += w,
            None => censored[e] += w,
        }
        if let Some(entry) = data.entry {
            late[grid.first_at_risk(entry[r])] += w;
        }
    }
    let mut n_risk = vec![0.0; t];
    let mut running = 0.0;
    for i in (0..t).rev() {
        running += exits[i];
        running -= late[i + 1];
        n_risk[i] = running;
    }

    // The estimate and the accumulators of the influence sweep:
    // G = Σ d/(n(n−d)), F_k = cumulative incidence, Q_k = Σ dF_k·(G_{before} − 1/n).
    let mut event_free = vec![0.0; t];
    let mut before = vec![0.0; t];
    let mut g = vec![0.0; t];
    let mut jump = vec![0.0; t];
    let mut f = vec![vec![0.0; t]; k];
    let mut q = vec![vec![0.0; t]; k];
    let (mut s, mut g_run) = (1.0_f64, 0.0_f64);
    let mut f_run = vec![0.0; k];
    let mut q_run = vec![0.0; k];
    for i in 0..t {
        let n = n_risk[i];
        let d: f64 = (0..k).map(|c| events[c][i]).sum();
        before[i] = s;
        if d > 0.0 {
            let g_before = g_run;
            for c in 0..k {
                let df = s * (events[c][i] / n);
                f_run[c] += df;
                q_run[c] += df * (g_before - 1.0 / n);
            }
            let alive = s > 0.0;
            s *= 1.0 - d / n;
            if alive && s > 0.0 {
                g_run += d / (n * (n - d));
                jump[i] = -1.0 / (n - d);
            }
        }
        event_free[i] = s;
        g[i] = g_run;
        for c in 0..k {
            f[c][i] = f_run[c];
            q[c][i] = q_run[c];
        }
    }

    // Influence sweep: event-free (width 2 on [1, G]) and each cause (width 3 on [1, F, Q]).
    let at = |v: &[f64], i: usize| if i == 0 { 0.0 } else { v[i - 1] };
    let spans: Vec<(usize, usize, f64, Option<usize>)> = rows
        .map(|r| {
            let first = data.entry.map_or(0, |e| grid.first_at_risk(e[r]));
            (
                first,
                grid.exit_index(data.time[r]),
                data.weight_of(r),
                cause_of(r),
            )
        })
        .collect();
    let settled_phi = |first: usize, e: usize, cause: Option<usize>| {
        g[e] - at(&g, first) + if cause.is_some() { jump[e] } else { 0.0 }
    };
    let mut sweep = QuadraticSweep::new(t, 2);
    for &(first, e, w, cause) in &spans {
        sweep.add(first, e, &[-w * at(&g, first), w]);
        sweep.add(e, t, &[w * settled_phi(first, e, cause), 0.0]);
    }
    let any_events: Vec<f64> = (0..t).map(|i| (0..k).map(|c| events[c][i]).sum()).collect();
    let std_err_event_free: Vec<f64> =
        carry_over_events(sweep.evaluate(|i| [1.0, g[i]]), &any_events)
            .iter()
            .zip(&event_free)
            .map(|(&v, &p)| if p > 0.0 { p * v.sqrt() } else { 0.0 })
            .collect();

    let mut cause_out = Vec::with_capacity(k);
    for c in 0..k {
        let (fc, qc) = (&f[c], &q[c]);
        let mut sweep = QuadraticSweep::new(t, 3);
        for &(first, e, w, cause) in &spans {
            let (gb, fb, qb) = (at(&g, first), at(fc, first), at(qc, first));
            sweep.add(first, e, &[w * (gb * fb - qb), -w * gb, w]);
            let phi = settled_phi(first, e, cause);
            let own = if cause == Some(c) {
                before[e] / n_risk[e]
            } else {
                0.0
            };
            let u_exit = (qc[e] - qb) - gb * (fc[e] - fb) + own;
            sweep.add(e, t, &[w * (u_exit - phi * fc[e]), w * phi, 0.0]);
        }
        let std_err: Vec<f64> =
            carry_over_events(sweep.evaluate(|i| [1.0, fc[i], qc[i]]), &any_events)
                .iter()
                .map(|v| v.sqrt())
                .collect();
        let (lower, upper) = band(fc, &std_err, options.conf_type, z);
        cause_out.push(CauseIncidence {
            cause: causes.labels[c],
            n_event: std::mem::take(&mut events[c]),
            incidence: fc.clone(),
            std_err,
            lower,
            upper,
        });
    }
    let (lower_event_free, upper_event_free) =
        band(&event_free, &std_err_event_free, options.conf_type, z);
    CumulativeIncidence {
        n_rows,
        time: grid.times,
        n_risk,
        n_censor: censored,
        event_free,
        std_err_event_free,
        lower_event_free,
        upper_event_free,
        causes: cause_out,
        conf_type: options.conf_type,
        conf_level: options.conf_level,
    }
}

/// R's band for a state probability (`logse = FALSE`).
fn band(
    p: &[f64],
    sd: &[f64],
    conf_type: ConfType,
    z: f64,
) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    p.iter()
        .zip(sd)
        .map(|(&p, &sd)| confidence_band(p, if sd == 0.0 { 0.0 } else { sd / p }, conf_type, z))
        .unzip()
}

impl CumulativeIncidence {
    /// The cumulative incidence of `cause` at time `t` (0 for an unknown cause or before the
    /// first exit).
    pub fn incidence_at(&self, cause: u32, t: f64) -> f64 {
        let k = self.time.partition_point(|&x| x <= t);
        match self.causes.iter().find(|c| c.cause == cause) {
            Some(c) if k > 0 => c.incidence[k - 1],
            _ => 0.0,
        }
    }

    /// The estimate at chosen times (sorted), as R's `summary(fit, times, extend = TRUE)`:
    /// state probabilities at the last exit at or before each time, counts since the
    /// previous chosen time, the number at risk at the time itself. Before the first exit the
    /// incidences are 0 with band (0, 0), as R's `survfit0`.
    pub fn at_times(&self, times: &[f64]) -> Result<Vec<IncidenceAtTime>, ModelError> {
        let sorted = sorted_times(times)?;
        let k = self.causes.len();
        let add_zero = self.time.first().is_none_or(|&t| t != 0.0);
        let shift = usize::from(add_zero);
        let mut cum_censor = vec![0.0; self.time.len() + shift + 1];
        let mut cum_event = vec![vec![0.0; self.time.len() + shift + 1]; k];
        for i in 0..self.time.len() {
            cum_censor[i + shift + 1] = cum_censor[i + shift] + self.n_censor[i];
            for (cum, cause) in cum_event.iter_mut().zip(&self.causes) {
                cum[i + shift + 1] = cum[i + shift] + cause.n_event[i];
            }
        }
        let mut out = Vec::with_capacity(sorted.len());
        let mut prev = 0usize;
        for t in sorted {
            // Index into the table with the time-zero row: rows at or before t, rows before t.
            let le =
                self.time.partition_point(|&x| x <= t) + if add_zero && t >= 0.0 { 1 } else { 0 };
            let lt =
                self.time.partition_point(|&x| x < t) + if add_zero && t > 0.0 { 1 } else { 0 };
            let row = le.max(1) - 1;
            // The time-zero row carries the first number at risk.
            let table_n_risk = |j: usize| -> f64 {
                let original = if add_zero { j.saturating_sub(1) } else { j };
                self.n_risk.get(original).copied().unwrap_or(0.0)
            };
            let (zero_row, i) = if add_zero {
                (row == 0, row.saturating_sub(1))
            } else {
                (false, row)
            };
            out.push(IncidenceAtTime {
                time: t,
                n_risk: table_n_risk(lt),
                n_event: (0..k)
                    .map(|c| cum_event[c][le] - cum_event[c][prev])
                    .collect(),
                n_censor: cum_censor[le] - cum_censor[prev],
                event_free: if zero_row { 1.0 } else { self.event_free[i] },
                std_err_event_free: if zero_row {
                    0.0
                } else {
                    self.std_err_event_free[i]
                },
                incidence: self
                    .causes
                    .iter()
                    .map(|c| if zero_row { 0.0 } else { c.incidence[i] })
                    .collect(),
                std_err: self
                    .causes
                    .iter()
                    .map(|c| if zero_row { 0.0 } else { c.std_err[i] })
                    .collect(),
                lower: self
                    .causes
                    .iter()
                    .map(|c| if zero_row { Some(0.0) } else { c.lower[i] })
                    .collect(),
                upper: self
                    .causes
                    .iter()
                    .map(|c| if zero_row { Some(0.0) } else { c.upper[i] })
                    .collect(),
            });
            prev = le;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// R's survfitci.c recursion for the competing-risks case, literally: O(rows × grid).
    fn naive(data: &CompetingRisks) -> (Vec<f64>, Vec<Vec<f64>>) {
        let n_rows = data.time.len();
        let mut times = data.time.to_vec();
        times.sort_by(f64::total_cmp);
        times.dedup();
        let k = data.cause.iter().copied().max().unwrap_or(0) as usize;
        let mut u = vec![vec![0.0; k + 1]; n_rows];
        let mut p = vec![0.0; k + 1];
        p[0] = 1.0;
        let (mut sd0, mut sdk) = (Vec::new(), vec![Vec::new(); k]);
        for &t in &times {
            let at_risk: Vec<bool> = (0..n_rows)
                .map(|r| data.entry.is_none_or(|e| e[r] < t) && data.time[r] >= t)
                .collect();
            let ws: f64 = (0..n_rows)
                .filter(|&r| at_risk[r])
                .map(|r| data.weight_of(r))
                .sum();
            let mut h = vec![0.0; k + 1];
            for r in 0..n_rows {
                if data.time[r] == t && data.cause[r] > 0 {
                    h[data.cause[r] as usize] += data.weight_of(r);
                }
            }
            let wevent: f64 = h.iter().sum();
            if wevent > 0.0 {
                for v in h.iter_mut() {
                    *v /= ws;
                }
                h[0] = 1.0 - wevent / ws;
                for r in 0..n_rows {
                    let u0 = u[r][0];
                    u[r][0] = u0 * h[0];
                    for c in 1..=k {
                        u[r][c] += u0 * h[c];
                    }
                    if at_risk[r] {
                        for c in 0..=k {
                            u[r][c] -= h[c] * p[0] / ws;
                        }
                        let to = if data.time[r] == t {
                            data.cause[r] as usize
                        } else {
                            0
                        };
                        u[r][to] += p[0] / ws;
                    }
                }
                let p0 = p[0];
                p[0] = p0 * h[0];
                for c in 1..=k {
                    p[c] += p0 * h[c];
                }
            }
            let var = |c: usize| -> f64 {
                (0..n_rows)
                    .map(|r| (data.weight_of(r) * u[r][c]).powi(2))
                    .sum::<f64>()
                    .sqrt()
            };
            sd0.push(var(0));
            for c in 1..=k {
                sdk[c - 1].push(var(c));
            }
        }
        (sd0, sdk)
    }

    #[test]
    fn influence_sweep_matches_r_recursion() {
        let time = [
            2.0, 3.0, 3.0, 5.0, 6.0, 6.0, 7.5, 8.0, 9.0, 9.0, 11.0, 12.0, 14.0,
        ];
        let cause = [1, 2, 0, 1, 1, 2, 0, 2, 1, 0, 2, 1, 1];
        let entry = [
            0.0, 0.0, 1.0, 2.5, 0.0, 4.0, 0.0, 6.0, 1.0, 3.0, 0.0, 9.5, 2.0,
        ];
        let weight = [
            1.0, 0.5, 2.0, 1.5, 1.0, 0.7, 1.2, 1.0, 3.0, 0.4, 1.0, 2.0, 0.9,
        ];
        for data in [
            CompetingRisks::new(&time, &cause),
            CompetingRisks::new(&time, &cause).with_weights(&weight),
            CompetingRisks::new(&time, &cause)
                .with_weights(&weight)
                .with_entry(&entry),
        ] {
            let fit = aalen_johansen(&data, &AalenJohansenOptions::default()).expect("fit");
            let (sd0, sdk) = naive(&data);
            for i in 0..fit.time.len() {
                let close =
                    |a: f64, b: f64| (a - b).abs() <= 1e-10 * a.abs().max(b.abs()).max(1e-3);
                assert!(
                    close(fit.std_err_event_free[i], sd0[i]),
                    "{i}: {} {}",
                    fit.std_err_event_free[i],
                    sd0[i]
                );
                for (c, sd) in sdk.iter().enumerate() {
                    assert!(close(fit.causes[c].std_err[i], sd[i]), "{c} {i}");
                }
            }
        }
    }
}
