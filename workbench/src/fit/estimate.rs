//! The eight models of `workbench fit`: reads the columns each one needs, calls the `models`
//! crate, and fills the [`FitReport`] (labels for groups and causes, chosen times, tests).

use models::ModelError;
use models::aalen_johansen::{
    AalenJohansenOptions, CompetingRisks, CumulativeIncidence, aalen_johansen,
    aalen_johansen_by_group,
};
use models::cox::{CoxData, CoxFit, CoxModel, CoxOptions, CoxZph, Ties, ZphTransform};
use models::design::parse_spec;
use models::dist::normal_quantile;
use models::finegray::{CompetingRisksData, cause_specific, fine_gray};
use models::km::{
    ConfType, FollowUp, KaplanMeierOptions, StdErrMethod, SurvivalCurve, kaplan_meier,
    kaplan_meier_by_group,
};
use models::logrank::{LogRankOptions, log_rank_test};
use models::mcf::{
    McfConfType, McfOptions, MeanCumulativeFunction, mean_cumulative_function,
    mean_cumulative_function_by_group,
};
use models::rmst::{restricted_mean_difference, restricted_mean_survival};

use super::columns::{self, Analysis, ColumnNames, EventKind, Status};
use super::dataset::Dataset;
use super::report::*;
use super::{ConfTypeArg, FitArgs, FitError, ModelKind, TiesArg};

/// Reads the columns, fits `args.model` and builds the report.
pub fn run(args: &FitArgs, data: &Dataset) -> Result<FitReport, FitError> {
    let spec = match &args.covariates {
        Some(s) => Some(parse_spec(s).map_err(|e| FitError::Usage(format!("--covariates: {e}")))?),
        None => None,
    };
    let ps_spec = match &args.ps_covariates {
        Some(s) => {
            Some(parse_spec(s).map_err(|e| FitError::Usage(format!("--ps-covariates: {e}")))?)
        }
        None => None,
    };
    let names = ColumnNames {
        time: &args.time,
        start: args.start.as_deref(),
        event: &args.event,
        group: args.treatment.as_deref().or(args.group.as_deref()),
        strata: &args.strata,
        weights: args.weights.as_deref(),
        cluster: args.cluster.as_deref(),
        id: args.id.as_deref(),
        covariates: spec.as_deref(),
        ps_covariates: ps_spec.as_deref(),
    };
    let kind = match args.model {
        ModelKind::Aj | ModelKind::Finegray => EventKind::Causes,
        _ => EventKind::Binary,
    };
    let mut a = columns::read(data, &names, kind)?;
    let rows = RowAccount {
        read: a.n_read,
        used: a.n_used(),
        left_out_missing: a.n_left_out(),
        missing_by_column: a.missing.clone(),
    };
    let comparison = match &args.treatment {
        Some(column) => {
            let (sub, c) = super::treatment::for_fit(args, &a, column, data.source_name())?;
            a = sub;
            Some(c)
        }
        None => None,
    };
    let fitter = Fitter { args, data, a: &a };
    let mut warnings = Vec::new();
    let (estimate, result) = match args.model {
        ModelKind::Km => fitter.km()?,
        ModelKind::Na => fitter.na()?,
        ModelKind::Logrank => fitter.logrank()?,
        ModelKind::Aj => fitter.aj()?,
        ModelKind::Cox => fitter.cox(&mut warnings)?,
        ModelKind::Finegray => fitter.finegray()?,
        ModelKind::Rmst => fitter.rmst(&mut warnings)?,
        ModelKind::Mcf => fitter.mcf()?,
    };
    let conf_type = match args.model {
        ModelKind::Km | ModelKind::Na | ModelKind::Aj | ModelKind::Mcf => Some(
            args.conf_type
                .unwrap_or(ConfTypeArg::Log)
                .name()
                .to_string(),
        ),
        _ => None,
    };
    let estimate = match &comparison {
        Some(c) => format!("{estimate}, adjusted: {}", c.description),
        None => estimate,
    };
    Ok(FitReport {
        model: args.model.name(),
        estimate,
        source: data.source_name().to_string(),
        rows,
        comparison,
        conf_level: args.conf_level,
        conf_type,
        warnings,
        result,
    })
}

struct Fitter<'a> {
    args: &'a FitArgs,
    data: &'a Dataset,
    a: &'a Analysis,
}

/// Five round times spanning the follow-up (e.g. 200, 400, … for a maximum of 1022).
fn default_times(max_time: f64) -> Vec<f64> {
    if !(max_time.is_finite() && max_time > 0.0) {
        return vec![0.0];
    }
    let raw = max_time / 5.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude);
    (1..=5)
        .map(|k| k as f64 * step)
        .filter(|t| *t <= max_time)
        .collect()
}

fn conf_type(arg: Option<ConfTypeArg>) -> ConfType {
    match arg {
        Some(ConfTypeArg::Plain) => ConfType::Plain,
        Some(ConfTypeArg::LogLog) => ConfType::LogLog,
        Some(ConfTypeArg::Log) | None => ConfType::Log,
    }
}

impl<'a> Fitter<'a> {
    fn model_error(&self, e: ModelError) -> FitError {
        match e {
            ModelError::InvalidValue { row, message } => match self.a.source_row(row) {
                Some(r) => FitError::Row {
                    source_name: self.data.source_name().to_string(),
                    row: r,
                    message: format!("{message}{}", self.data.line_note(r)),
                },
                None => FitError::Model {
                    model: self.args.model.name(),
                    source: ModelError::InvalidValue { row, message },
                },
            },
            other => FitError::Model {
                model: self.args.model.name(),
                source: other,
            },
        }
    }

    fn times(&self) -> Vec<f64> {
        if self.args.times.is_empty() {
            default_times(self.a.time.iter().copied().fold(0.0, f64::max))
        } else {
            let mut t = self.args.times.clone();
            t.sort_by(f64::total_cmp);
            t.dedup();
            t
        }
    }

    fn follow_up(&self) -> Result<FollowUp<'a>, FitError> {
        let a = self.a;
        let mut fu = FollowUp::new(&a.time, a.events()?);
        if let Some(s) = &a.start {
            fu = fu.with_entry(s);
        }
        if let Some(w) = &a.weights {
            fu = fu.with_weights(w);
        }
        if let Some(id) = &a.id {
            fu = fu.with_subjects(id);
        }
        Ok(fu)
    }

    /// Kaplan–Meier curves, one per group (or one for all rows).
    fn curves(&self, conf: ConfType) -> Result<Vec<(Option<String>, SurvivalCurve)>, FitError> {
        let fu = self.follow_up()?;
        let options = KaplanMeierOptions {
            conf_type: conf,
            conf_level: self.args.conf_level,
            std_err: StdErrMethod::Auto,
        };
        match self.a.crossed_groups() {
            None => Ok(vec![(
                None,
                kaplan_meier(&fu, &options).map_err(|e| self.model_error(e))?,
            )]),
            Some(g) => Ok(kaplan_meier_by_group(&fu, &g.codes, &options)
                .map_err(|e| self.model_error(e))?
                .into_iter()
                .map(|c| (Some(g.label(c.group)), c.curve))
                .collect()),
        }
    }

    fn km(&self) -> Result<(String, FitResult), FitError> {
        let times = self.times();
        let mut curves = Vec::new();
        for (group, curve) in self.curves(conf_type(self.args.conf_type))? {
            let median = curve.printed_median();
            let at = curve.at_times(&times).map_err(|e| self.model_error(e))?;
            curves.push(SurvivalSummary {
                group,
                n: curve.n_rows,
                events: curve.n_event.iter().sum(),
                median: TimeWithCi {
                    time: median.time,
                    lower: median.lower,
                    upper: median.upper,
                },
                at_times: at
                    .iter()
                    .map(|r| SurvivalAt {
                        time: r.time,
                        n_risk: r.n_risk,
                        n_event: r.n_event,
                        n_censor: r.n_censor,
                        survival: r.survival,
                        std_err: r.std_err,
                        lower: r.lower,
                        upper: r.upper,
                    })
                    .collect(),
            });
        }
        Ok((
            "survival (Kaplan–Meier)".into(),
            FitResult::Survival { curves },
        ))
    }

    fn na(&self) -> Result<(String, FitResult), FitError> {
        let times = self.times();
        let z = normal_quantile((1.0 + self.args.conf_level) / 2.0);
        let plain = self.args.conf_type == Some(ConfTypeArg::Plain);
        let band = |h: f64, se: f64| -> (Option<f64>, Option<f64>) {
            if plain {
                (Some((h - z * se).max(0.0)), Some(h + z * se))
            } else if h > 0.0 {
                let f = (z * se / h).exp();
                (Some(h / f), Some(h * f))
            } else {
                (Some(0.0), Some(0.0))
            }
        };
        let mut curves = Vec::new();
        for (group, curve) in self.curves(ConfType::Log)? {
            let at = curve.at_times(&times).map_err(|e| self.model_error(e))?;
            curves.push(HazardSummary {
                group,
                n: curve.n_rows,
                events: curve.n_event.iter().sum(),
                at_times: at
                    .iter()
                    .map(|r| {
                        let (lower, upper) = band(r.cumulative_hazard, r.std_err_cumulative_hazard);
                        HazardAt {
                            time: r.time,
                            n_risk: r.n_risk,
                            n_event: r.n_event,
                            cumulative_hazard: r.cumulative_hazard,
                            std_err: r.std_err_cumulative_hazard,
                            lower,
                            upper,
                        }
                    })
                    .collect(),
            });
        }
        Ok((
            "cumulative hazard (Nelson–Aalen)".into(),
            FitResult::CumulativeHazard { curves },
        ))
    }

    fn logrank(&self) -> Result<(String, FitResult), FitError> {
        let a = self.a;
        let group = a
            .group
            .as_ref()
            .ok_or_else(|| FitError::Usage("`fit logrank` needs --group".into()))?;
        let fu = self.follow_up()?;
        let rho = self.args.rho.unwrap_or(0.0);
        let gamma = self.args.gamma.unwrap_or(0.0);
        let test = log_rank_test(
            &fu,
            &group.codes,
            a.strata.as_ref().map(|s| s.codes.as_slice()),
            &LogRankOptions { rho, gamma },
        )
        .map_err(|e| self.model_error(e))?;
        let groups = test
            .groups
            .iter()
            .enumerate()
            .map(|(k, &code)| LogRankGroup {
                group: group.label(code),
                n: test.n.get(k).copied().unwrap_or(f64::NAN),
                observed: test.observed.get(k).copied().unwrap_or(f64::NAN),
                expected: test.expected.get(k).copied().unwrap_or(f64::NAN),
            })
            .collect();
        let name = if rho == 0.0 && gamma == 0.0 {
            "log-rank test".to_string()
        } else {
            format!("Fleming–Harrington G(rho = {rho}, gamma = {gamma}) test")
        };
        let column = self.args.group.as_deref().unwrap_or("group");
        Ok((
            format!("{name} of equal survival across {column}"),
            FitResult::LogRank(LogRankSummary {
                groups,
                chi_square: test.chi_square,
                df: test.df,
                p_value: test.p_value,
                rho,
                gamma,
                strata: a
                    .strata
                    .as_ref()
                    .map(|s| s.labels.clone())
                    .unwrap_or_default(),
            }),
        ))
    }

    fn causes(&self) -> Result<(&'a [u32], &'a [String]), FitError> {
        match &self.a.status {
            Status::Causes { codes, labels } => Ok((codes, labels)),
            Status::Event(_) => Err(FitError::Usage("this model needs a cause column".into())),
        }
    }

    /// The code of `--cause` (a label or a code), or the only cause.
    fn cause_of_interest(
        &self,
        codes: &[u32],
        labels: &[String],
        required: bool,
    ) -> Result<Option<u32>, FitError> {
        let present: Vec<u32> = {
            let mut p: Vec<u32> = codes.iter().copied().filter(|&c| c > 0).collect();
            p.sort_unstable();
            p.dedup();
            p
        };
        let label = |c: u32| {
            labels
                .get(c as usize - 1)
                .cloned()
                .unwrap_or_else(|| c.to_string())
        };
        let listing = || {
            present
                .iter()
                .map(|&c| label(c))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &self.args.cause {
            Some(want) => {
                let found = present
                    .iter()
                    .copied()
                    .find(|&c| label(c) == *want || c.to_string() == *want);
                match found {
                    Some(c) => Ok(Some(c)),
                    None => Err(FitError::Usage(format!(
                        "--cause `{want}` does not occur in column `{}` of the rows used (causes: {})",
                        self.args.event,
                        listing()
                    ))),
                }
            }
            None if present.len() == 1 => Ok(present.first().copied()),
            None if required => Err(FitError::Usage(format!(
                "column `{}` has several causes ({}); say which with --cause",
                self.args.event,
                listing()
            ))),
            None => Ok(None),
        }
    }

    fn aj(&self) -> Result<(String, FitResult), FitError> {
        let a = self.a;
        let (codes, labels) = self.causes()?;
        let interest = self.cause_of_interest(codes, labels, false)?;
        let mut cr = CompetingRisks::new(&a.time, codes);
        if let Some(s) = &a.start {
            cr = cr.with_entry(s);
        }
        if let Some(w) = &a.weights {
            cr = cr.with_weights(w);
        }
        let options = AalenJohansenOptions {
            conf_type: conf_type(self.args.conf_type),
            conf_level: self.args.conf_level,
        };
        let estimates: Vec<(Option<String>, CumulativeIncidence)> = match a.crossed_groups() {
            None => vec![(
                None,
                aalen_johansen(&cr, &options).map_err(|e| self.model_error(e))?,
            )],
            Some(g) => aalen_johansen_by_group(&cr, &g.codes, &options)
                .map_err(|e| self.model_error(e))?
                .into_iter()
                .map(|e| (Some(g.label(e.group)), e.incidence))
                .collect(),
        };
        let label = |c: u32| {
            labels
                .get((c as usize).wrapping_sub(1))
                .cloned()
                .unwrap_or_else(|| c.to_string())
        };
        let causes: Vec<CauseLabel> = estimates
            .first()
            .map(|(_, e)| {
                e.causes
                    .iter()
                    .map(|c| CauseLabel {
                        code: c.cause,
                        label: label(c.cause),
                    })
                    .collect()
            })
            .unwrap_or_default();
        if causes.is_empty() {
            return Err(FitError::Usage(format!(
                "column `{}` has no events in the rows used: every row is censored (0)",
                self.args.event
            )));
        }
        let times = self.times();
        let mut curves = Vec::new();
        for (group, est) in &estimates {
            let at = est.at_times(&times).map_err(|e| self.model_error(e))?;
            curves.push(IncidenceCurve {
                group: group.clone(),
                n: est.n_rows,
                at_times: at
                    .iter()
                    .map(|r| IncidenceAt {
                        time: r.time,
                        n_risk: r.n_risk,
                        event_free: r.event_free,
                        causes: causes
                            .iter()
                            .enumerate()
                            .map(|(k, c)| CauseAt {
                                cause: c.label.clone(),
                                n_event: r.n_event.get(k).copied().unwrap_or(f64::NAN),
                                incidence: r.incidence.get(k).copied().unwrap_or(f64::NAN),
                                std_err: r.std_err.get(k).copied().unwrap_or(f64::NAN),
                                lower: r.lower.get(k).copied().flatten(),
                                upper: r.upper.get(k).copied().flatten(),
                            })
                            .collect(),
                    })
                    .collect(),
            });
        }
        let cause_of_interest = interest.map(label);
        let estimate = match &cause_of_interest {
            Some(c) => format!(
                "cumulative incidence of {} (Aalen–Johansen)",
                cause_phrase(c)
            ),
            None => format!(
                "cumulative incidence of each cause: {} (Aalen–Johansen)",
                causes
                    .iter()
                    .map(|c| cause_phrase(&c.label))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        Ok((
            estimate,
            FitResult::Incidence(IncidenceSummary {
                causes,
                cause_of_interest,
                curves,
            }),
        ))
    }

    fn cox_options(&self) -> CoxOptions {
        CoxOptions {
            ties: match self.args.ties {
                Some(TiesArg::Breslow) => Ties::Breslow,
                Some(TiesArg::Efron) | None => Ties::Efron,
            },
            conf_level: self.args.conf_level,
            // An adjusted comparison: weights (or matched sets) call for the robust variance.
            robust: self.args.treatment.is_some().then_some(true),
            ..CoxOptions::default()
        }
    }

    fn design(&self) -> Result<&'a models::design::DesignMatrix, FitError> {
        self.a
            .design
            .as_ref()
            .ok_or_else(|| FitError::Usage("this model needs --covariates".into()))
    }

    fn cox(&self, warnings: &mut Vec<String>) -> Result<(String, FitResult), FitError> {
        let a = self.a;
        let design = self.design()?;
        let mut data = CoxData::from_design(design, &a.time, a.events()?);
        if let Some(s) = &a.start {
            data = data.with_start(s);
        }
        if let Some(s) = &a.strata {
            data = data.with_strata(&s.codes);
        }
        if let Some(w) = &a.weights {
            data = data.with_weights(w);
        }
        if let Some(c) = &a.cluster {
            data = data.with_cluster(c);
        }
        let options = self.cox_options();
        let model = CoxModel::fit(&data, &options).map_err(|e| self.model_error(e))?;
        let zph = match model.zph(ZphTransform::Km) {
            Ok(z) => Some(z),
            Err(e) => {
                warnings.push(format!(
                    "the proportional-hazards test could not be computed: {e}"
                ));
                None
            }
        };
        let summary = cox_summary(model.summary(), zph.as_ref());
        Ok((
            format!(
                "hazard ratios (Cox proportional hazards, {} ties)",
                summary.ties
            ),
            FitResult::Cox(Box::new(summary)),
        ))
    }

    fn finegray(&self) -> Result<(String, FitResult), FitError> {
        let a = self.a;
        let design = self.design()?;
        let (codes, labels) = self.causes()?;
        let cause = self
            .cause_of_interest(codes, labels, true)?
            .ok_or_else(|| FitError::Usage("`fit finegray` needs --cause".into()))?;
        let label = labels
            .get(cause as usize - 1)
            .cloned()
            .unwrap_or_else(|| cause.to_string());
        let mut data = CompetingRisksData::from_design(design, &a.time, codes);
        if let Some(w) = &a.weights {
            data = data.with_weights(w);
        }
        let options = self.cox_options();
        let fg = fine_gray(&data, cause, &options).map_err(|e| self.model_error(e))?;
        let cs = cause_specific(&data, cause, &options).map_err(|e| self.model_error(e))?;
        Ok((
            format!(
                "subdistribution hazard ratios for {} (Fine–Gray)",
                cause_phrase(&label)
            ),
            FitResult::FineGray(Box::new(FineGraySummary {
                cause: label,
                n_subjects: fg.n_subjects,
                events_of_interest: fg.n_events_of_interest,
                expanded_rows: fg.n_expanded_rows,
                fine_gray: cox_summary(&fg.fit, None),
                cause_specific: cox_summary(&cs, None),
            })),
        ))
    }

    fn rmst(&self, warnings: &mut Vec<String>) -> Result<(String, FitResult), FitError> {
        let curves = self.curves(ConfType::Log)?;
        let (tau, tau_source) = match self.args.tau {
            Some(t) => (t, "given".to_string()),
            None => {
                let t = curves
                    .iter()
                    .filter_map(|(_, c)| c.time.last().copied())
                    .fold(f64::INFINITY, f64::min);
                warnings.push(format!(
                    "no --tau given: the horizon is {} (the shortest follow-up among the groups)",
                    num(t)
                ));
                (t, "shortest follow-up".to_string())
            }
        };
        let level = self.args.conf_level;
        let mut groups = Vec::new();
        for (group, curve) in &curves {
            let r = restricted_mean_survival(curve, tau, level).map_err(|e| self.model_error(e))?;
            groups.push(RmstGroup {
                group: group.clone(),
                n: curve.n_rows,
                estimate: r.estimate,
                std_err: r.std_err,
                lower: r.lower,
                upper: r.upper,
            });
        }
        let mut differences = Vec::new();
        if let Some((first_label, first)) = curves.first() {
            for (label, curve) in curves.iter().skip(1) {
                let d = restricted_mean_difference(curve, first, tau, level)
                    .map_err(|e| self.model_error(e))?;
                differences.push(RmstDifference {
                    first: label.clone().unwrap_or_default(),
                    second: first_label.clone().unwrap_or_default(),
                    difference: d.difference,
                    std_err: d.std_err,
                    lower: d.lower,
                    upper: d.upper,
                    z: d.z,
                    p_value: d.p_value,
                });
            }
        }
        Ok((
            "restricted mean survival time (area under the Kaplan–Meier curve up to tau)".into(),
            FitResult::RestrictedMean(RmstSummary {
                tau,
                tau_source,
                groups,
                differences,
            }),
        ))
    }

    fn mcf(&self) -> Result<(String, FitResult), FitError> {
        let fu = self.follow_up()?;
        let options = McfOptions {
            conf_type: match self.args.conf_type {
                Some(ConfTypeArg::Plain) => McfConfType::Plain,
                _ => McfConfType::Log,
            },
            conf_level: self.args.conf_level,
        };
        let estimates: Vec<(Option<String>, MeanCumulativeFunction)> = match self.a.crossed_groups()
        {
            None => vec![(
                None,
                mean_cumulative_function(&fu, &options).map_err(|e| self.model_error(e))?,
            )],
            Some(g) => mean_cumulative_function_by_group(&fu, &g.codes, &options)
                .map_err(|e| self.model_error(e))?
                .into_iter()
                .map(|m| (Some(g.label(m.group)), m.mcf))
                .collect(),
        };
        let times = self.times();
        let mut curves = Vec::new();
        for (group, m) in &estimates {
            let at = m.at_times(&times).map_err(|e| self.model_error(e))?;
            curves.push(McfSummary {
                group: group.clone(),
                n_rows: m.n_rows,
                n_subjects: m.n_subjects,
                events: m.n_event.iter().sum(),
                at_times: at
                    .iter()
                    .map(|r| McfAt {
                        time: r.time,
                        mean: r.mean,
                        std_err: r.std_err,
                        lower: r.lower,
                        upper: r.upper,
                    })
                    .collect(),
            });
        }
        Ok((
            "mean cumulative number of events per subject (mean cumulative function)".into(),
            FitResult::MeanCumulative { curves },
        ))
    }
}

fn cox_summary(fit: &CoxFit, zph: Option<&CoxZph>) -> CoxSummary {
    CoxSummary {
        ties: match fit.ties {
            Ties::Efron => "efron".into(),
            Ties::Breslow => "breslow".into(),
        },
        n: fit.n,
        events: fit.n_events,
        strata: fit.n_strata,
        clusters: fit.n_clusters,
        robust: fit.robust,
        coefficients: fit
            .coefficients
            .iter()
            .map(|c| Coefficient {
                term: c.name.clone(),
                coef: c.coef,
                hazard_ratio: c.hazard_ratio,
                se: c.se,
                robust_se: c.robust_se,
                z: c.z,
                p_value: c.p_value,
                lower: c.hr_lower,
                upper: c.hr_upper,
            })
            .collect(),
        tests: CoxTests {
            likelihood_ratio: fit.likelihood_ratio,
            wald: fit.wald,
            score: fit.score,
            robust_score: fit.robust_score,
        },
        concordance: fit.concordance.as_ref().map(|c| ConcordanceSummary {
            estimate: c.concordance,
            std_err: c.std_err,
        }),
        ph_test: zph.map(|z| {
            let (global, terms): (Vec<_>, Vec<_>) =
                z.tests.iter().cloned().partition(|t| t.term == "GLOBAL");
            PhTest {
                transform: "km".into(),
                terms,
                global: global.into_iter().next(),
            }
        }),
        loglik: [fit.loglik_initial, fit.loglik],
        iterations: fit.iterations,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_times_are_round_and_within_follow_up() {
        assert_eq!(default_times(1022.0), vec![250.0, 500.0, 750.0, 1000.0]);
        assert_eq!(default_times(100.0), vec![20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(default_times(3.0), vec![1.0, 2.0, 3.0]);
    }
}
