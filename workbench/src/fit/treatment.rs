//! `workbench fit --treatment`: the comparison flags as a [`Spec`], and the adjusted comparison
//! run on the analysis columns before the requested model (see the `fit` module docs).

use models::ModelError;
use models::diagnostics;
use models::matching::MatchingOptions;
use models::ndarray::Array2;
use models::weighting::Estimand;
use studies::bundle::Comparison;

use super::compare::{
    Horizon, Method, Spec, adjust, adjusted_differences, diagnostic_line, verdict_name,
    weighted_cox,
};

/// The comparison options of `workbench fit` as a [`Spec`].
pub fn spec_from_args(args: &super::FitArgs) -> Spec {
    let method = if args.matching {
        Method::Matching
    } else {
        Method::Iptw
    };
    let estimand = match (args.estimand, method) {
        (Some(super::EstimandArg::Ate), _) => Estimand::Ate,
        (Some(super::EstimandArg::Att), _) => Estimand::Att,
        (Some(super::EstimandArg::Ato), _) => Estimand::Ato,
        (None, Method::Iptw) => Estimand::Ate,
        (None, Method::Matching) => Estimand::Att,
    };
    Spec {
        method,
        estimand,
        stabilised: !args.unstabilised,
        truncation: match args.trim.as_slice() {
            [lo, hi] => Some((lo / 100.0, hi / 100.0)),
            _ => None,
        },
        matching: MatchingOptions {
            ratio: args.ratio.unwrap_or(1),
            caliper_sd: match args.caliper {
                Some(0.0) => None,
                Some(c) => Some(c),
                None => Some(0.2),
            },
            replacement: args.replacement,
            ..MatchingOptions::default()
        },
    }
}

/// Fits the propensity model on `--ps-covariates`, weights or matches, and returns the
/// analysis the outcome model runs on (the rows of positive weight, with the weights, and for
/// Cox the treatment as the first column of the design) and the comparison summary.
pub fn for_fit(
    args: &super::FitArgs,
    a: &super::columns::Analysis,
    column: &str,
    source_name: &str,
) -> Result<(super::columns::Analysis, Comparison), super::FitError> {
    use super::FitError;
    use super::columns::Status;
    let usage = |m: String| FitError::Usage(m);
    let group = a
        .group
        .as_ref()
        .ok_or_else(|| usage("--treatment: the column was not read".into()))?;
    if group.labels.len() != 2 {
        return Err(usage(format!(
            "--treatment: column `{column}` has {} levels in the rows used ({}); a comparison needs exactly two",
            group.labels.len(),
            group.labels.join(", ")
        )));
    }
    let prefix = format!("{column}=");
    let level = |l: &String| l.strip_prefix(&prefix).unwrap_or(l).to_string();
    let treated_code: u32 = match &args.treated {
        Some(t) => group
            .labels
            .iter()
            .position(|l| level(l) == *t)
            .map(|p| p as u32)
            .ok_or_else(|| {
                usage(format!(
                    "--treated `{t}` is not a level of column `{column}` (levels: {})",
                    group
                        .labels
                        .iter()
                        .map(level)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })?,
        None => 1,
    };
    let treated: Vec<bool> = group.codes.iter().map(|&c| c == treated_code).collect();
    let treated_label = format!("{column}={}", level(&group.labels[treated_code as usize]));
    let control_label = format!(
        "{column}={}",
        level(&group.labels[1 - treated_code as usize])
    );
    let design = a
        .ps_design
        .as_ref()
        .ok_or_else(|| usage("--treatment needs --ps-covariates (e.g. age,sex:cat)".into()))?;
    let spec = spec_from_args(args);
    let model_error = |what: &'static str| {
        move |e: ModelError| match e {
            ModelError::InvalidValue { row, message } => match a.source_row(row) {
                Some(r) => FitError::Row {
                    source_name: source_name.to_string(),
                    row: r,
                    message,
                },
                None => FitError::Model {
                    model: what,
                    source: ModelError::InvalidValue { row, message },
                },
            },
            other => FitError::Model {
                model: what,
                source: other,
            },
        }
    };
    let x = design.x.view();
    let names = &design.column_names;
    let mut adj = adjust(&treated, x, names, &spec).map_err(model_error("propensity score"))?;
    let mut summary = adj.summary(x, &treated, &treated_label, &control_label, None);

    // The event of interest: a 0/1 event, or the cause of `--cause` (the only cause otherwise).
    let (cause, event_cause, event_label): (Vec<u32>, u32, String) =
        match &a.status {
            Status::Event(e) => (e.iter().map(|&v| u32::from(v)).collect(), 1, "event".into()),
            Status::Causes { codes, labels } => {
                let mut present: Vec<u32> = codes.iter().copied().filter(|&c| c > 0).collect();
                present.sort_unstable();
                present.dedup();
                let label = |c: u32| {
                    labels
                        .get(c as usize - 1)
                        .cloned()
                        .unwrap_or_else(|| c.to_string())
                };
                let code = match &args.cause {
                Some(want) => present
                    .iter()
                    .copied()
                    .find(|&c| label(c) == *want || c.to_string() == *want),
                None if present.len() == 1 => present.first().copied(),
                None => None,
            }
            .ok_or_else(|| {
                usage(format!(
                    "column `{}` has causes {}: say which one the comparison is about with --cause",
                    args.event,
                    present.iter().map(|&c| label(c)).collect::<Vec<_>>().join(", ")
                ))
            })?;
                (codes.clone(), code, label(code))
            }
        };
    let event: Vec<bool> = cause.iter().map(|&c| c == event_cause).collect();

    // Diagnostics of the outcome: events per variable and PH of the weighted Cox model.
    let clusters = adj.clusters();
    let events = (0..event.len())
        .filter(|&i| event[i] && adj.weights[i] > 0.0)
        .count();
    let mut epv = diagnostics::events_per_variable(events, 1);
    epv.message = format!("Weighted outcome model: {}", epv.message);
    adj.diagnostics.push(epv);
    match weighted_cox(&a.time, &event, &treated, &adj.weights, Some(&clusters)) {
        Ok((_, ph)) => adj.diagnostics.push(diagnostics::proportional_hazards(
            ph.map_or(f64::NAN, |t| t.p_value),
        )),
        Err(e) => summary
            .notes
            .push(format!("the weighted Cox model could not be fitted: {e}")),
    }
    summary.diagnostics = adj.diagnostics.iter().map(diagnostic_line).collect();
    summary.overall = verdict_name(diagnostics::overall(&adj.diagnostics)).into();

    if let Some(tau) = args.tau {
        let horizon = Horizon {
            tau,
            event_cause,
            replicates: args.bootstrap.unwrap_or(200),
            seed: args.seed.unwrap_or(1),
            conf_level: args.conf_level,
        };
        summary.adjusted = Some(
            adjusted_differences(
                &adj,
                &a.time,
                &cause,
                &treated,
                x,
                names,
                &horizon,
                &event_label,
            )
            .map_err(model_error("adjusted differences"))?,
        );
    }

    // The outcome model's rows: positive weight.
    let rows: Vec<usize> = (0..adj.weights.len())
        .filter(|&i| adj.weights[i] > 0.0)
        .collect();
    let mut sub = a.subset(&rows);
    sub.weights = Some(rows.iter().map(|&i| adj.weights[i]).collect());
    if adj.matched.is_some() && sub.cluster.is_none() {
        sub.cluster = Some(rows.iter().map(|&i| clusters[i]).collect());
    }
    if args.model == super::ModelKind::Cox {
        let t: Vec<f64> = rows
            .iter()
            .map(|&i| f64::from(u8::from(treated[i])))
            .collect();
        let name = treated_label.clone();
        sub.design = Some(match sub.design.take() {
            Some(d) => {
                let mut x = Array2::zeros((d.x.nrows(), d.x.ncols() + 1));
                for (r, &v) in t.iter().enumerate() {
                    x[[r, 0]] = v;
                    for j in 0..d.x.ncols() {
                        x[[r, j + 1]] = d.x[[r, j]];
                    }
                }
                let mut column_names = vec![name.clone()];
                column_names.extend(d.column_names.iter().cloned());
                let mut terms = vec![models::design::DesignTerm {
                    name: name.clone(),
                    columns: 0..1,
                    levels: None,
                }];
                terms.extend(d.terms.iter().map(|t| models::design::DesignTerm {
                    name: t.name.clone(),
                    columns: t.columns.start + 1..t.columns.end + 1,
                    levels: t.levels.clone(),
                }));
                models::design::DesignMatrix {
                    x,
                    column_names,
                    terms,
                    ..d
                }
            }
            None => models::design::DesignMatrix {
                x: Array2::from_shape_fn((t.len(), 1), |(r, _)| t[r]),
                column_names: vec![name.clone()],
                terms: vec![models::design::DesignTerm {
                    name,
                    columns: 0..1,
                    levels: None,
                }],
                kept_rows: sub.kept.clone(),
                n_input_rows: a.n_read,
                n_dropped: 0,
            },
        });
    }
    if let Some(m) = &adj.matched {
        summary.notes.push(format!(
            "the outcome model uses the {} matched rows{}",
            rows.len(),
            if m.replacement {
                " (controls used by several sets weigh the sum of their match weights)"
            } else {
                ", with a robust variance clustered by matched set"
            }
        ));
    } else {
        summary.notes.push(
            "the outcome model is weighted; its standard errors are robust (the propensity model's own uncertainty is in the bootstrap of the adjusted differences only)".into(),
        );
    }
    Ok((sub, summary))
}
