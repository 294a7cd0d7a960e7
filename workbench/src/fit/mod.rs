//! `workbench fit`: runs one survival model of the `models` crate on a CSV file, a Parquet file or
//! a query on a store, and prints a readable table or (`--json`) the JSON document below.
//!
//! ```text
//! workbench fit km|na|logrank|aj|cox|finegray|rmst|mcf
//!     --data FILE.csv|FILE.parquet|STORE.duckdb [--sql "SELECT …" | --table NAME]
//!     --time T [--start S] --event E [--group G] [--strata A,B] [--covariates a,b:cat,c:cat=REF]
//!     [--cluster C] [--weights W] [--id ID] [--cause NAME] [--ties efron|breslow] [--tau DAYS]
//!     [--times 90,365] [--conf-type plain|log|log-log] [--conf-level 0.95] [--rho R --gamma G] [--json]
//!     [--treatment T [--treated LEVEL] --ps-covariates a,b:cat [--estimand ate|att|ato]
//!      [--trim 1,99] [--unstabilised] | [--match [--ratio K] [--caliper SD] [--replacement]]
//!      [--tau DAYS [--bootstrap N] [--seed S]]]
//! ```
//!
//! With `--treatment` (km, aj, cox, rmst) the two levels of that column are compared after
//! adjusting for `--ps-covariates` (see [`compare`]): the propensity model (logistic regression,
//! coefficients, C-statistic, convergence), the weights per group with their effective sample
//! size (or the matched sample), the balance table before and after (standardised mean
//! differences, variance ratios), the diagnostics in plain words, then the requested model on
//! the weighted (or matched) rows: one weighted curve per group, or a Cox model whose first term
//! is the treatment, with a robust variance (clustered by matched set after matching). The
//! treated level is 1, `true` or the last level in sorted order unless `--treated` names it.
//! With `--tau` the weighted risk and restricted mean at τ per group and their differences get
//! a percentile bootstrap interval (`--bootstrap` replicates, default 200, seeded; IPTW refits
//! the propensity model in every replicate). The JSON document then has a `comparison` member
//! with the shape of `studies::bundle::Comparison` (counts as `{"shown": n}`).
//!
//! The event column holds 0 (censored) and 1 (event); for `aj` and `finegray` it holds 0 and
//! 1…k or cause names, and `--cause` names the cause of interest. `--group` may be text or
//! numbers (levels in sorted order: numeric order for numbers). For the curve models (`km`, `na`,
//! `aj`, `rmst`, `mcf`) `--group` and `--strata` are crossed into one curve per combination; for
//! `logrank` and `cox` `--strata` are strata. Rows with a missing value (empty, `NA`, NULL) in any
//! column the model uses are left out and counted per column. Errors in the data (unknown
//! column, text in a numeric column, a negative time, stop ≤ start, an event code the model does
//! not accept, a weight ≤ 0) name the column and the row.
//!
//! # The JSON document (`--json`)
//!
//! ```text
//! {
//!   "model": "km" | "na" | "logrank" | "aj" | "cox" | "finegray" | "rmst" | "mcf",
//!   "estimate": "survival (Kaplan–Meier)",            // what the numbers are
//!   "source": "lung.csv",                               // or "store.duckdb: SELECT …"
//!   "rows": { "read": 228, "used": 213, "left_out_missing": 15,
//!             "missing_by_column": [ { "column": "wt.loss", "rows": 14 }, … ] },
//!   "conf_level": 0.95,
//!   "conf_type": "log" | "plain" | "log-log" | null,
//!   "warnings": [ "…" ],
//!   "result": { … }                                     // by model:
//! }
//! km:       { "curves": [ { "group": "sex=1" | null, "n", "events",
//!                           "median": { "time", "lower", "upper" },
//!                           "at_times": [ { "time", "n_risk", "n_event", "n_censor",
//!                                           "survival", "std_err", "lower", "upper" } ] } ] }
//! na:       { "curves": [ { "group", "n", "events",
//!                           "at_times": [ { "time", "n_risk", "n_event", "cumulative_hazard",
//!                                           "std_err", "lower", "upper" } ] } ] }
//! logrank:  { "groups": [ { "group", "n", "observed", "expected" } ],
//!             "chi_square", "df", "p_value", "rho", "gamma", "strata": [ "…" ] }
//! aj:       { "causes": [ { "code", "label" } ], "cause_of_interest": "relapse" | null,
//!             "curves": [ { "group", "n", "at_times": [ { "time", "n_risk", "event_free",
//!                 "causes": [ { "cause", "n_event", "incidence", "std_err", "lower", "upper" } ] } ] } ] }
//! cox:      { "ties", "n", "events", "strata", "clusters", "robust",
//!             "coefficients": [ { "term", "coef", "hazard_ratio", "se", "robust_se", "z",
//!                                 "p_value", "lower", "upper" } ],
//!             "tests": { "likelihood_ratio" | "wald" | "score" | "robust_score":
//!                        { "statistic", "df", "p_value" } },
//!             "concordance": { "estimate", "std_err" },
//!             "ph_test": { "transform": "km", "terms": [ { "term", "chisq", "df", "p_value" } ],
//!                          "global": { "term": "GLOBAL", "chisq", "df", "p_value" } },
//!             "loglik": [ initial, final ], "iterations" }
//! finegray: { "cause", "n_subjects", "events_of_interest", "expanded_rows",
//!             "fine_gray": <as cox>, "cause_specific": <as cox> }
//! rmst:     { "tau", "tau_source", "groups": [ { "group", "n", "estimate", "std_err", "lower", "upper" } ],
//!             "differences": [ { "first", "second", "difference", "std_err", "lower", "upper", "z", "p_value" } ] }
//! mcf:      { "curves": [ { "group", "n_rows", "n_subjects", "events",
//!                           "at_times": [ { "time", "mean", "std_err", "lower", "upper" } ] } ] }
//! ```
//!
//! Numbers that R would print as NA are `null`. Every printed number passes through one
//! [`report::FitReport`], where the store's disclosure gate is to act on it.

pub mod columns;
pub mod compare;
pub mod dataset;
mod estimate;
pub mod gate;
pub mod report;
mod treatment;

use std::path::PathBuf;

use clap::ValueEnum;
use models::ModelError;

use dataset::{Dataset, DatasetError, Source};

/// The model to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// Kaplan–Meier survival with median and survival at chosen times.
    Km,
    /// Nelson–Aalen cumulative hazard.
    Na,
    /// Log-rank (or Fleming–Harrington G(rho, gamma)) test across --group, optionally stratified.
    Logrank,
    /// Aalen–Johansen cumulative incidence of competing causes.
    Aj,
    /// Cox proportional-hazards regression.
    Cox,
    /// Fine–Gray subdistribution-hazards regression (and the cause-specific Cox model).
    Finegray,
    /// Restricted mean survival time up to --tau, per group and the difference.
    Rmst,
    /// Mean cumulative function of recurrent events (needs --id).
    Mcf,
}

impl ModelKind {
    fn name(self) -> &'static str {
        match self {
            ModelKind::Km => "km",
            ModelKind::Na => "na",
            ModelKind::Logrank => "logrank",
            ModelKind::Aj => "aj",
            ModelKind::Cox => "cox",
            ModelKind::Finegray => "finegray",
            ModelKind::Rmst => "rmst",
            ModelKind::Mcf => "mcf",
        }
    }
}

/// Tie handling of the Cox model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TiesArg {
    Efron,
    Breslow,
}

/// Scale of the pointwise confidence bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfTypeArg {
    Plain,
    Log,
    LogLog,
}

impl ConfTypeArg {
    fn name(self) -> &'static str {
        match self {
            ConfTypeArg::Plain => "plain",
            ConfTypeArg::Log => "log",
            ConfTypeArg::LogLog => "log-log",
        }
    }
}

/// Arguments of `workbench fit`.
#[derive(Debug, Clone, clap::Args)]
pub struct FitArgs {
    /// The model.
    #[arg(value_enum)]
    pub model: ModelKind,
    /// A .csv or .parquet file, or a .duckdb store (with --sql or --table).
    #[arg(long)]
    pub data: PathBuf,
    /// For a store: the query whose rows are fitted.
    #[arg(long)]
    pub sql: Option<String>,
    /// For a store: the table whose rows are fitted.
    #[arg(long)]
    pub table: Option<String>,
    /// Column of follow-up (stop) times, >= 0.
    #[arg(long)]
    pub time: String,
    /// Column of entry (start) times: (start, stop] rows; stop must be after start.
    #[arg(long)]
    pub start: Option<String>,
    /// Column of events: 0 censored, 1 event; for aj and finegray 0 and 1…k or cause names.
    #[arg(long)]
    pub event: String,
    /// Column of groups (text or numbers).
    #[arg(long)]
    pub group: Option<String>,
    /// Columns of strata, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub strata: Vec<String>,
    /// Covariates: `a,b:cat,c:cat=LEVEL` (`:cat` for a categorical column, `=LEVEL` its reference).
    #[arg(long)]
    pub covariates: Option<String>,
    /// Column of cluster ids for the robust variance (cox).
    #[arg(long)]
    pub cluster: Option<String>,
    /// Column of case weights (> 0).
    #[arg(long)]
    pub weights: Option<String>,
    /// Column of subject ids (mcf; km/na/rmst: robust variance by subject, as R's id=).
    #[arg(long)]
    pub id: Option<String>,
    /// The cause of interest (aj, finegray): a code or a cause name.
    #[arg(long)]
    pub cause: Option<String>,
    /// Ties of the Cox model (default efron).
    #[arg(long, value_enum)]
    pub ties: Option<TiesArg>,
    /// Horizon of the restricted mean (default: the shortest follow-up among the groups).
    #[arg(long)]
    pub tau: Option<f64>,
    /// Times at which to read the curves, comma-separated (default: five round times).
    #[arg(long, value_delimiter = ',')]
    pub times: Vec<f64>,
    /// Scale of the confidence bands (default log; mcf: plain or log).
    #[arg(long, value_enum)]
    pub conf_type: Option<ConfTypeArg>,
    /// Confidence level.
    #[arg(long, default_value_t = 0.95)]
    pub conf_level: f64,
    /// rho of the G(rho, gamma) test (logrank; default 0).
    #[arg(long)]
    pub rho: Option<f64>,
    /// gamma of the G(rho, gamma) test (logrank; default 0).
    #[arg(long)]
    pub gamma: Option<f64>,
    /// Print the JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Column of the two compared groups (0/1, true/false or two labels): adjust the comparison
    /// with a propensity score on --ps-covariates (km, aj, cox, rmst).
    #[arg(long)]
    pub treatment: Option<String>,
    /// The treated (index) level of --treatment (default: 1, true, or the last level in order).
    #[arg(long)]
    pub treated: Option<String>,
    /// Covariates of the propensity model: `a,b:cat,c:cat=LEVEL`.
    #[arg(long)]
    pub ps_covariates: Option<String>,
    /// Estimand: ate (whole population), att (the treated), ato (overlap weights). Default ate;
    /// att with --match.
    #[arg(long, value_enum)]
    pub estimand: Option<EstimandArg>,
    /// Match 1:k on the logit of the propensity score instead of weighting.
    #[arg(long = "match")]
    pub matching: bool,
    /// Controls per treated row with --match (default 1).
    #[arg(long)]
    pub ratio: Option<usize>,
    /// Caliper in standard deviations of the logit with --match (default 0.2; 0: none).
    #[arg(long)]
    pub caliper: Option<f64>,
    /// Match with replacement.
    #[arg(long)]
    pub replacement: bool,
    /// Truncate the weights at two percentiles, e.g. --trim 1,99.
    #[arg(long, value_delimiter = ',')]
    pub trim: Vec<f64>,
    /// Do not stabilise the IPTW weights.
    #[arg(long)]
    pub unstabilised: bool,
    /// Bootstrap replicates of the adjusted differences at --tau (default 200).
    #[arg(long)]
    pub bootstrap: Option<usize>,
    /// Seed of that bootstrap (default 1).
    #[arg(long)]
    pub seed: Option<u64>,
}

/// Estimand of an adjusted comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EstimandArg {
    Ate,
    Att,
    Ato,
}

/// Errors of `workbench fit`.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Usage(String),
    /// A value the estimator refused, at a row of the source.
    #[error("{source_name}, row {row}: {message}")]
    Row {
        source_name: String,
        row: usize,
        message: String,
    },
    #[error("{model}: {source}")]
    Model {
        model: &'static str,
        source: ModelError,
    },
}

/// Runs `workbench fit` and prints the report.
pub fn run(config: &crate::config::Config, args: &FitArgs) -> anyhow::Result<()> {
    let report = fit(args)?;
    // Every number below comes from `report`: on a store it passes the disclosure gate first
    // (k on screen for text, k in files for --json, which is usually redirected to a file).
    let source = Source::from_args(&args.data, args.sql.as_deref(), args.table.as_deref())?;
    if matches!(source, Source::Store { .. }) {
        let k = if args.json {
            config.privacy.k_file
        } else {
            config.privacy.k_screen
        };
        let small = gate::small_counts(&serde_json::to_value(&report)?, k);
        if !small.is_empty() {
            anyhow::bail!(gate::refusal(&small, k));
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// Reads the data and fits the model.
pub fn fit(args: &FitArgs) -> Result<report::FitReport, FitError> {
    check_flags(args)?;
    let source = Source::from_args(&args.data, args.sql.as_deref(), args.table.as_deref())?;
    let data = Dataset::open(&source)?;
    estimate::run(args, &data)
}

/// The flags of an adjusted comparison: only with --treatment, and consistent with each other.
fn check_comparison_flags(args: &FitArgs) -> Result<(), FitError> {
    let usage = |m: String| Err(FitError::Usage(m));
    let flags = [
        ("--treated", args.treated.is_some()),
        ("--ps-covariates", args.ps_covariates.is_some()),
        ("--estimand", args.estimand.is_some()),
        ("--match", args.matching),
        ("--trim", !args.trim.is_empty()),
        ("--unstabilised", args.unstabilised),
        ("--bootstrap", args.bootstrap.is_some()),
        ("--seed", args.seed.is_some()),
    ];
    let Some(column) = &args.treatment else {
        if let Some((flag, _)) = flags.iter().find(|f| f.1) {
            return usage(format!(
                "{flag} belongs to an adjusted comparison: name the groups with --treatment COLUMN"
            ));
        }
        if args.ratio.is_some() || args.caliper.is_some() || args.replacement {
            return usage(
                "--ratio, --caliper and --replacement go with --treatment and --match".into(),
            );
        }
        return Ok(());
    };
    let allowed = [
        ModelKind::Km,
        ModelKind::Aj,
        ModelKind::Cox,
        ModelKind::Rmst,
    ];
    if !allowed.contains(&args.model) {
        return usage(format!(
            "`fit {}` does not take --treatment (it applies to: km, aj, cox, rmst)",
            args.model.name()
        ));
    }
    if args.ps_covariates.is_none() {
        return usage(format!(
            "--treatment {column} needs --ps-covariates (the propensity model's covariates, e.g. age,sex:cat)"
        ));
    }
    if args.group.is_some() {
        return usage("--treatment is the grouping of the comparison: leave out --group".into());
    }
    if args.weights.is_some() {
        return usage("--treatment computes the weights: leave out --weights".into());
    }
    if !args.strata.is_empty() && args.model != ModelKind::Cox {
        return usage("--strata with --treatment applies to cox only".into());
    }
    if !args.matching && (args.ratio.is_some() || args.caliper.is_some() || args.replacement) {
        return usage("--ratio, --caliper and --replacement need --match".into());
    }
    if args.matching {
        if matches!(args.estimand, Some(EstimandArg::Ate | EstimandArg::Ato)) {
            return usage(
                "--match estimates the effect in the treated: use --estimand att, or weights for ate / ato"
                    .into(),
            );
        }
        if !args.trim.is_empty() || args.unstabilised {
            return usage("--trim and --unstabilised apply to weights, not to --match".into());
        }
    }
    if let Some(r) = args.ratio
        && !(1..=10).contains(&r)
    {
        return usage(format!("--ratio {r}: use 1 to 10 controls per treated row"));
    }
    if let Some(c) = args.caliper
        && !(c.is_finite() && c >= 0.0)
    {
        return usage(format!(
            "--caliper {c}: a caliper is >= 0 standard deviations (0: none)"
        ));
    }
    match args.trim.as_slice() {
        [] => {}
        [lo, hi] if 0.0 <= *lo && lo < hi && *hi <= 100.0 => {}
        other => {
            return usage(format!(
                "--trim {other:?}: give two percentiles 0 <= lower < upper <= 100, e.g. --trim 1,99"
            ));
        }
    }
    if (args.bootstrap.is_some() || args.seed.is_some()) && args.tau.is_none() {
        return usage(
            "--bootstrap and --seed go with --tau (the horizon of the adjusted differences)".into(),
        );
    }
    Ok(())
}

/// Refuses options the model does not use, and checks the required ones.
fn check_flags(args: &FitArgs) -> Result<(), FitError> {
    use ModelKind::*;
    let model = args.model;
    check_comparison_flags(args)?;
    let compare = args.treatment.is_some();
    let tau_models: &[ModelKind] = if compare {
        &[Km, Aj, Cox, Rmst]
    } else {
        &[Rmst]
    };
    let given: [(&str, bool, &[ModelKind]); 14] = [
        (
            "--start",
            args.start.is_some(),
            &[Km, Na, Aj, Cox, Rmst, Mcf],
        ),
        (
            "--group",
            args.group.is_some(),
            &[Km, Na, Logrank, Aj, Rmst, Mcf],
        ),
        (
            "--strata",
            !args.strata.is_empty(),
            &[Km, Na, Logrank, Aj, Cox, Rmst, Mcf],
        ),
        ("--covariates", args.covariates.is_some(), &[Cox, Finegray]),
        ("--cluster", args.cluster.is_some(), &[Cox]),
        (
            "--weights",
            args.weights.is_some(),
            &[Km, Na, Logrank, Aj, Cox, Finegray, Rmst, Mcf],
        ),
        ("--id", args.id.is_some(), &[Km, Na, Rmst, Mcf]),
        ("--cause", args.cause.is_some(), &[Aj, Finegray]),
        ("--ties", args.ties.is_some(), &[Cox, Finegray]),
        ("--tau", args.tau.is_some(), tau_models),
        ("--times", !args.times.is_empty(), &[Km, Na, Aj, Mcf]),
        ("--conf-type", args.conf_type.is_some(), &[Km, Na, Aj, Mcf]),
        ("--rho", args.rho.is_some(), &[Logrank]),
        ("--gamma", args.gamma.is_some(), &[Logrank]),
    ];
    for (flag, is_given, models) in given {
        if is_given && !models.contains(&model) {
            let names: Vec<&str> = models.iter().map(|m| m.name()).collect();
            return Err(FitError::Usage(format!(
                "`fit {}` does not take {flag} (it applies to: {})",
                model.name(),
                names.join(", ")
            )));
        }
    }
    let need = |flag: &str, ok: bool, why: &str| {
        if ok {
            Ok(())
        } else {
            Err(FitError::Usage(format!(
                "`fit {}` needs {flag} {why}",
                model.name()
            )))
        }
    };
    match model {
        Logrank => need(
            "--group",
            args.group.is_some(),
            "(the column whose groups are compared)",
        )?,
        Cox if compare => {}
        Cox | Finegray => need(
            "--covariates",
            args.covariates.is_some(),
            "(e.g. --covariates age,sex:cat)",
        )?,
        Mcf => need(
            "--id",
            args.id.is_some(),
            "(the subject column; each subject's rows are its spells)",
        )?,
        _ => {}
    }
    if model == Mcf && args.conf_type == Some(ConfTypeArg::LogLog) {
        return Err(FitError::Usage(
            "`fit mcf` takes --conf-type plain or log".into(),
        ));
    }
    if !(args.conf_level.is_finite() && args.conf_level > 0.0 && args.conf_level < 1.0) {
        return Err(FitError::Usage(format!(
            "--conf-level {} must lie strictly between 0 and 1 (e.g. 0.95)",
            args.conf_level
        )));
    }
    if let Some(t) = args.tau
        && !(t.is_finite() && t > 0.0)
    {
        return Err(FitError::Usage(format!("--tau {t} must be a time > 0")));
    }
    if let Some(t) = args.times.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
        return Err(FitError::Usage(format!("--times: {t} is not a time >= 0")));
    }
    Ok(())
}
