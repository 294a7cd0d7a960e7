//! Mean cumulative function of recurrent events — the expected number of events per subject
//! by time t — with a standard error clustered by subject and a pointwise band. It is the
//! Nelson–Aalen cumulative hazard of R's `survfit(Surv(start, stop, event) ~ 1, id = subject)`
//! (`cumhaz`, `std.chaz`), whose variance with repeated events per subject is the robust
//! (infinitesimal jackknife) one.

use rayon::prelude::*;
use serde::Serialize;

use crate::ModelError;
use crate::km::{
    FollowUp, KaplanMeierOptions, StdErrMethod, SurvivalCurve, check_conf_level, kaplan_meier,
    kaplan_meier_by_group, sorted_times,
};

/// Scale of the band around the mean cumulative function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum McfConfType {
    /// `M ± z·se`, lower end clipped at 0.
    Plain,
    /// `M · exp(± z·se/M)` (stays positive; the default).
    #[default]
    Log,
}

/// Options of [`mean_cumulative_function`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct McfOptions {
    /// Scale of the band.
    pub conf_type: McfConfType,
    /// Confidence level (default 0.95).
    pub conf_level: f64,
}

impl Default for McfOptions {
    fn default() -> Self {
        McfOptions {
            conf_type: McfConfType::Log,
            conf_level: 0.95,
        }
    }
}

/// The mean cumulative function with its band, one entry per distinct exit time.
#[derive(Debug, Clone, Serialize)]
pub struct MeanCumulativeFunction {
    /// Rows (spells) used.
    pub n_rows: usize,
    /// Distinct subjects.
    pub n_subjects: usize,
    /// Distinct exit times, ascending.
    pub time: Vec<f64>,
    /// Weighted number of spells at risk just before each time.
    pub n_risk: Vec<f64>,
    /// Weighted number of events at each time.
    pub n_event: Vec<f64>,
    /// Mean number of events per subject by each time.
    pub mean: Vec<f64>,
    /// Standard error, clustered by subject.
    pub std_err: Vec<f64>,
    /// Lower end of the band.
    pub lower: Vec<Option<f64>>,
    /// Upper end of the band.
    pub upper: Vec<Option<f64>>,
    /// Scale of the band.
    pub conf_type: McfConfType,
    /// Confidence level.
    pub conf_level: f64,
}

/// The function of one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupMcf {
    /// Group label.
    pub group: u32,
    /// Its mean cumulative function.
    pub mcf: MeanCumulativeFunction,
}

/// The mean cumulative function read at a chosen time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct McfAtTime {
    /// The chosen time.
    pub time: f64,
    /// Mean number of events per subject by then.
    pub mean: f64,
    /// Its standard error.
    pub std_err: f64,
    /// Lower end of the band.
    pub lower: Option<f64>,
    /// Upper end of the band.
    pub upper: Option<f64>,
}

/// The mean cumulative function of recurrent events: rows are spells `(entry, time]` of the
/// subjects (subjects are required), `event` marks a recurrence at `time`.
pub fn mean_cumulative_function(
    data: &FollowUp,
    options: &McfOptions,
) -> Result<MeanCumulativeFunction, ModelError> {
    let subject = require_subjects(data)?;
    let z = check_conf_level(options.conf_level)?;
    let curve = kaplan_meier(data, &km_options())?;
    Ok(from_curve(
        curve,
        count_subjects(subject.iter().copied()),
        options,
        z,
    ))
}

/// One mean cumulative function per group (ascending labels), in parallel.
pub fn mean_cumulative_function_by_group(
    data: &FollowUp,
    group: &[u32],
    options: &McfOptions,
) -> Result<Vec<GroupMcf>, ModelError> {
    let subject = require_subjects(data)?;
    let z = check_conf_level(options.conf_level)?;
    let curves = kaplan_meier_by_group(data, group, &km_options())?;
    Ok(curves
        .into_par_iter()
        .map(|g| {
            let subjects = count_subjects(
                subject
                    .iter()
                    .zip(group)
                    .filter(|(_, gr)| **gr == g.group)
                    .map(|(s, _)| *s),
            );
            GroupMcf {
                group: g.group,
                mcf: from_curve(g.curve, subjects, options, z),
            }
        })
        .collect())
}

fn require_subjects<'a>(data: &FollowUp<'a>) -> Result<&'a [u32], ModelError> {
    data.subject.ok_or_else(|| {
        ModelError::Unsupported("the mean cumulative function needs the subject of each row".into())
    })
}

fn km_options() -> KaplanMeierOptions {
    KaplanMeierOptions {
        std_err: StdErrMethod::Robust,
        ..KaplanMeierOptions::default()
    }
}

fn count_subjects(subjects: impl Iterator<Item = u32>) -> usize {
    let mut ids: Vec<u32> = subjects.collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

fn from_curve(
    curve: SurvivalCurve,
    n_subjects: usize,
    options: &McfOptions,
    z: f64,
) -> MeanCumulativeFunction {
    let (lower, upper) = curve
        .cumulative_hazard
        .iter()
        .zip(&curve.std_err_cumulative_hazard)
        .map(|(&m, &se)| band(m, se, options.conf_type, z))
        .unzip();
    MeanCumulativeFunction {
        n_rows: curve.n_rows,
        n_subjects,
        time: curve.time,
        n_risk: curve.n_risk,
        n_event: curve.n_event,
        mean: curve.cumulative_hazard,
        std_err: curve.std_err_cumulative_hazard,
        lower,
        upper,
        conf_type: options.conf_type,
        conf_level: options.conf_level,
    }
}

fn band(m: f64, se: f64, conf_type: McfConfType, z: f64) -> (Option<f64>, Option<f64>) {
    match conf_type {
        McfConfType::Plain => (Some((m - z * se).max(0.0)), Some(m + z * se)),
        McfConfType::Log if m > 0.0 => {
            (Some(m * (-z * se / m).exp()), Some(m * (z * se / m).exp()))
        }
        McfConfType::Log => (Some(0.0), Some(0.0)),
    }
}

impl MeanCumulativeFunction {
    /// The function at chosen times (sorted): the value at the last exit at or before each.
    pub fn at_times(&self, times: &[f64]) -> Result<Vec<McfAtTime>, ModelError> {
        Ok(sorted_times(times)?
            .into_iter()
            .map(|t| {
                let k = self.time.partition_point(|&x| x <= t);
                match k.checked_sub(1) {
                    None => McfAtTime {
                        time: t,
                        mean: 0.0,
                        std_err: 0.0,
                        lower: Some(0.0),
                        upper: Some(0.0),
                    },
                    Some(i) => McfAtTime {
                        time: t,
                        mean: self.mean[i],
                        std_err: self.std_err[i],
                        lower: self.lower[i],
                        upper: self.upper[i],
                    },
                }
            })
            .collect())
    }
}
