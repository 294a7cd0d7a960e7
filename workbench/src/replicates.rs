//! `workbench validate`: the comparison methods checked against the synthetic generator's known
//! truth over replicates (domain.md §6.6, issue #5).
//!
//! ```text
//! workbench validate [--scenario default|null|...] [--replicates 200] [--seed 1]
//!     [--children 5000] [--tau 365] [--truth-children 200000] [--config FILE.toml] [--json]
//! ```
//!
//! The question: does `FAMILY_SUPPORT` (truth column `treated`, assigned at entry with the known
//! propensity `propensity_intervention`, §6.3) change the risk of a first re-report by day τ?
//! The estimand is the marginal risk difference treated − untreated at τ. Its true value comes
//! from the potential outcomes the generator draws for both arms from the same random numbers
//! (`po_rereport_{vl,fwb}_{a0,a1}_days` of `truth.child_latent`, the child's own community):
//! with `δᵢ = 1{T¹ᵢ ≤ τ} − 1{T⁰ᵢ ≤ τ}` and `eᵢ` the true propensity,
//!
//! | estimand | true value |
//! |---|---|
//! | ATE (everyone) | `Σ δᵢ / n` |
//! | ATT (the treated) | `Σ eᵢ δᵢ / Σ eᵢ` |
//! | ATO (overlap population) | `Σ eᵢ(1 − eᵢ) δᵢ / Σ eᵢ(1 − eᵢ)` |
//!
//! computed on a separate, large truth population (`--truth-children`, its own seed), so that
//! every replicate's estimate is compared with the population value.
//!
//! Each replicate generates `--children` children in memory (the generator's own family
//! simulation, no store) and reads what an analyst would see: treatment, age at entry, primary
//! form neglect, community and the four risk contexts of the index episode (the confounders of
//! §6.3), and the first re-report or the end of observation (18th birthday, moving away, the
//! extract date). The methods, each a 95% Wald interval from a model-based or robust variance
//! (no bootstrap inside a replicate):
//!
//! | method | estimate | variance |
//! |---|---|---|
//! | crude | `(1 − KM₁(τ)) − (1 − KM₀(τ))`, compared with the ATE | Greenwood |
//! | iptw-ate, iptw-att | weighted KM per arm, stabilised IPTW weights | robust (infinitesimal jackknife) by family |
//! | overlap (ato) | weighted KM per arm, overlap weights | robust by family |
//! | matching (att) | KM per arm on the 1:1 matched sample (caliper 0.2 SD of the logit, no replacement) | robust by family |
//!
//! The propensity model is a logistic regression on the seven confounders (correctly specified).
//! Summaries follow Morris, White & Crowther (2019): bias, empirical SE, mean model SE, coverage
//! and the rejection rate of "no effect" (the type-I error when the truth is 0, as in the `null`
//! scenario), each with its Monte-Carlo standard error.
//!
//! Seeds: replicate r (0-based) uses generator seed `splitmix(S ⊕ splitmix(r + 1))`, the truth
//! population `splitmix(S ⊕ 0x7275_7468)`, both truncated to 63 bits. Replicates run in parallel
//! with rayon and are collected in replicate order, and every replicate is deterministic, so the
//! output does not depend on the number of threads.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use models::km::{FollowUp, KaplanMeierOptions, StdErrMethod, kaplan_meier_by_group};
use models::ndarray::Array2;
use models::weighting::Estimand;
use rand_distr::Distribution;
use rayon::prelude::*;
use serde::Serialize;

use crate::fit::compare::{self, Method, Spec};
use crate::fit::report::num;
use crate::synth::population::Ctx;
use crate::synth::rows::Rows;
use crate::synth::{Scenario, effective, family, ids};

/// Arguments of `workbench validate`.
#[derive(Debug, Clone, clap::Args)]
pub struct ValidateArgs {
    /// Scenario of the generator: default, null, non-ph, informative-censoring,
    /// centre-heterogeneity, small-n, no-frailty.
    #[arg(long, default_value = "default")]
    pub scenario: String,
    /// Number of replicates.
    #[arg(long, default_value_t = 200)]
    pub replicates: usize,
    /// Seed from which every replicate's seed is derived.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Children per replicate.
    #[arg(long, default_value_t = 5000)]
    pub children: u64,
    /// Horizon τ in days of the risk difference.
    #[arg(long, default_value_t = 365.0)]
    pub tau: f64,
    /// Children of the truth population.
    #[arg(long, default_value_t = 200_000)]
    pub truth_children: u64,
    /// A TOML file overriding generator parameters (as `workbench synth --config`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Print the JSON document instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Names of the confounders the propensity model uses, in column order.
pub const CONFOUNDERS: [&str; 7] = [
    "age_years",
    "form_NEGL",
    "community=FWB",
    "ctx_PARENT_MENTAL_ILLNESS",
    "ctx_PARENT_SUBSTANCE",
    "ctx_PARTNER_VIOLENCE",
    "ctx_POVERTY",
];

const RISK_CONTEXTS: [&str; 4] = [
    "PARENT_MENTAL_ILLNESS",
    "PARENT_SUBSTANCE",
    "PARTNER_VIOLENCE",
    "POVERTY",
];

/// One child as the analysis sees it, with its truth.
#[derive(Debug, Clone, Copy)]
struct ChildRecord {
    family: u32,
    treated: bool,
    x: [f64; 7],
    time: f64,
    event: bool,
    /// True propensity of treatment.
    propensity: f64,
    /// 1{T¹ ≤ τ} − 1{T⁰ ≤ τ}.
    delta: f64,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Generator seed of replicate `r`.
pub fn replicate_seed(seed: u64, r: usize) -> u64 {
    splitmix(seed ^ splitmix(r as u64 + 1)) & (i64::MAX as u64)
}

/// Generator seed of the truth population.
pub fn truth_seed(seed: u64) -> u64 {
    splitmix(seed ^ 0x7275_7468) & (i64::MAX as u64)
}

/// The children of one family's rows.
fn records(rows: &Rows, family: u32, tau: f64) -> Vec<ChildRecord> {
    let mut out = Vec::with_capacity(rows.child_latent.len());
    for lat in &rows.child_latent {
        let pid = lat.child_pid.as_str();
        let Some(ep) = rows
            .episode
            .iter()
            .filter(|e| e.child_pid == pid)
            .min_by_key(|e| (e.entry_date, e.episode_seq))
        else {
            continue;
        };
        let Some(window) = rows.observation_window.iter().find(|w| w.child_pid == pid) else {
            continue;
        };
        let fwb = studies::codes::CENTRES
            .iter()
            .find(|c| c.id == ep.centre_id)
            .is_some_and(|c| c.community == "FWB");
        let neglect = ep.index_report_id.as_deref().is_some_and(|r| {
            rows.report_child_form.iter().any(|f| {
                f.report_id == r && f.child_pid == pid && f.is_primary && f.form_code == "NEGL"
            })
        });
        let mut x = [0.0; 7];
        x[0] = ep.age_at_entry_months.max(0) as f64 / 12.0;
        x[1] = f64::from(u8::from(neglect));
        x[2] = f64::from(u8::from(fwb));
        for (k, code) in RISK_CONTEXTS.iter().enumerate() {
            let has = rows
                .episode_context
                .iter()
                .any(|c| c.episode_id == ep.episode_id && c.context_code == *code);
            x[3 + k] = f64::from(u8::from(has));
        }
        let follow = f64::from(window.obs_end - window.obs_start).max(0.0);
        let t = lat.t_rereport_first_latent_days;
        let event = t <= follow;
        let c = usize::from(fwb);
        let po0 = lat.po_rereport[c * 2];
        let po1 = lat.po_rereport[c * 2 + 1];
        out.push(ChildRecord {
            family,
            treated: lat.treated,
            x,
            time: if event { t } else { follow },
            event,
            propensity: lat.propensity_intervention,
            delta: f64::from(u8::from(po1 <= tau)) - f64::from(u8::from(po0 <= tau)),
        });
    }
    out
}

/// Simulates `n` children with the generator's family plan (as `workbench synth` does) and
/// reads them; families in parallel when `parallel`, always collected in family order.
fn simulate(ctx: &Ctx, n: u64, tau: f64, parallel: bool) -> Vec<ChildRecord> {
    let mut sizes = ids::stream(ctx.seed, "family-sizes", 0);
    let mut plan: Vec<(u64, u64, u32)> = Vec::new();
    let (mut next_child, mut fam_index) = (0u64, 0u64);
    while next_child < n {
        let extra = ctx
            .family_size
            .as_ref()
            .map_or(0.0, |p| p.sample(&mut sizes));
        let size = (1 + extra as u64).min(n - next_child);
        plan.push((fam_index, next_child, size as u32));
        fam_index += 1;
        next_child += size;
    }
    let one =
        |&(f, c, s): &(u64, u64, u32)| records(&family::simulate(ctx, f, c, s), f as u32, tau);
    let families: Vec<Vec<ChildRecord>> = if parallel {
        plan.par_iter().map(one).collect()
    } else {
        plan.iter().map(one).collect()
    };
    families.into_iter().flatten().collect()
}

/// The true marginal effects of a population.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Truth {
    pub children: usize,
    pub treated_share: f64,
    pub ate: f64,
    pub att: f64,
    pub ato: f64,
    /// Monte-Carlo standard errors of the three (from the truth population's size).
    pub ate_mcse: f64,
    pub att_mcse: f64,
    pub ato_mcse: f64,
}

fn truth_of(children: &[ChildRecord]) -> Truth {
    let weighted = |w: &dyn Fn(&ChildRecord) -> f64| -> (f64, f64) {
        let sw: f64 = children.iter().map(w).sum();
        let mean = children.iter().map(|c| w(c) * c.delta).sum::<f64>() / sw;
        let var = children
            .iter()
            .map(|c| (w(c) * (c.delta - mean)).powi(2))
            .sum::<f64>();
        (mean, var.sqrt() / sw)
    };
    let (ate, ate_mcse) = weighted(&|_| 1.0);
    let (att, att_mcse) = weighted(&|c| c.propensity);
    let (ato, ato_mcse) = weighted(&|c| c.propensity * (1.0 - c.propensity));
    Truth {
        children: children.len(),
        treated_share: children.iter().filter(|c| c.treated).count() as f64
            / children.len().max(1) as f64,
        ate,
        att,
        ato,
        ate_mcse,
        att_mcse,
        ato_mcse,
    }
}

/// The compared methods, in output order.
pub const METHODS: [(&str, &str); 5] = [
    ("crude", "ate"),
    ("iptw-ate", "ate"),
    ("iptw-att", "att"),
    ("overlap (ato)", "ato"),
    ("matching (att)", "att"),
];

/// One method's estimate in one replicate (NaN when it failed).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Estimate {
    pub estimate: f64,
    pub std_err: f64,
}

const FAILED: Estimate = Estimate {
    estimate: f64::NAN,
    std_err: f64::NAN,
};

/// Risk at τ per arm (1 − KM) and its standard error, then the difference treated − control.
fn risk_difference(
    time: &[f64],
    event: &[bool],
    treated: &[bool],
    weights: Option<&[f64]>,
    family: &[u32],
    tau: f64,
) -> Result<Estimate, models::ModelError> {
    let group: Vec<u32> = treated.iter().map(|&t| u32::from(t)).collect();
    let mut fu = FollowUp::new(time, event);
    let std_err = match weights {
        Some(w) => {
            fu = fu.with_weights(w).with_subjects(family);
            StdErrMethod::Robust
        }
        None => StdErrMethod::Greenwood,
    };
    let options = KaplanMeierOptions {
        std_err,
        ..KaplanMeierOptions::default()
    };
    let curves = kaplan_meier_by_group(&fu, &group, &options)?;
    let mut risk = [f64::NAN; 2];
    let mut var = [f64::NAN; 2];
    for c in &curves {
        let at = c.curve.at_times(&[tau])?;
        if let Some(a) = at.first() {
            risk[c.group as usize] = 1.0 - a.survival;
            var[c.group as usize] = a.std_err * a.std_err;
        }
    }
    Ok(Estimate {
        estimate: risk[1] - risk[0],
        std_err: (var[0] + var[1]).sqrt(),
    })
}

/// All methods on one replicate's children.
fn analyse(children: &[ChildRecord], tau: f64) -> Vec<Estimate> {
    let n = children.len();
    let time: Vec<f64> = children.iter().map(|c| c.time).collect();
    let event: Vec<bool> = children.iter().map(|c| c.event).collect();
    let treated: Vec<bool> = children.iter().map(|c| c.treated).collect();
    let family: Vec<u32> = children.iter().map(|c| c.family).collect();
    let x = Array2::from_shape_fn((n, 7), |(i, j)| children[i].x[j]);
    let names: Vec<String> = CONFOUNDERS.iter().map(|s| s.to_string()).collect();
    let mut out =
        vec![risk_difference(&time, &event, &treated, None, &family, tau).unwrap_or(FAILED)];
    let weighted = |spec: Spec| -> Estimate {
        let Ok(adj) = compare::adjust(&treated, x.view(), &names, &spec) else {
            return FAILED;
        };
        let rows: Vec<usize> = (0..n).filter(|&i| adj.weights[i] > 0.0).collect();
        let pick_f = |v: &[f64]| rows.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let t = pick_f(&time);
        let w = pick_f(&adj.weights);
        let e: Vec<bool> = rows.iter().map(|&i| event[i]).collect();
        let a: Vec<bool> = rows.iter().map(|&i| treated[i]).collect();
        let f: Vec<u32> = rows.iter().map(|&i| family[i]).collect();
        risk_difference(&t, &e, &a, Some(&w), &f, tau).unwrap_or(FAILED)
    };
    for estimand in [Estimand::Ate, Estimand::Att, Estimand::Ato] {
        out.push(weighted(Spec {
            method: Method::Iptw,
            estimand,
            stabilised: true,
            ..Spec::default()
        }));
    }
    out.push(weighted(Spec {
        method: Method::Matching,
        estimand: Estimand::Att,
        ..Spec::default()
    }));
    out
}

/// One method's performance over the replicates, with Monte-Carlo standard errors.
#[derive(Debug, Clone, Serialize)]
pub struct MethodSummary {
    pub method: String,
    pub estimand: String,
    pub truth: f64,
    /// Replicates where the method gave an estimate.
    pub replicates: usize,
    pub mean_estimate: f64,
    pub bias: f64,
    pub bias_mcse: f64,
    pub empirical_se: f64,
    pub empirical_se_mcse: f64,
    pub model_se: f64,
    pub model_se_mcse: f64,
    pub coverage: f64,
    pub coverage_mcse: f64,
    /// Share of replicates whose 95% interval excludes 0 (the type-I error under the null).
    pub rejection: f64,
    pub rejection_mcse: f64,
}

fn summarise(method: &str, estimand: &str, truth: f64, est: &[Estimate]) -> MethodSummary {
    let ok: Vec<&Estimate> = est
        .iter()
        .filter(|e| e.estimate.is_finite() && e.std_err.is_finite())
        .collect();
    let r = ok.len() as f64;
    let mean = |v: &mut dyn Iterator<Item = f64>| v.sum::<f64>() / r;
    let m = mean(&mut ok.iter().map(|e| e.estimate));
    let sd =
        |v: &[f64], mu: f64| (v.iter().map(|x| (x - mu).powi(2)).sum::<f64>() / (r - 1.0)).sqrt();
    let estimates: Vec<f64> = ok.iter().map(|e| e.estimate).collect();
    let ses: Vec<f64> = ok.iter().map(|e| e.std_err).collect();
    let emp = sd(&estimates, m);
    let mse = mean(&mut ses.iter().copied());
    let z = 1.959_963_984_540_054;
    let covered = ok
        .iter()
        .filter(|e| (e.estimate - truth).abs() <= z * e.std_err)
        .count() as f64
        / r;
    let rejected = ok
        .iter()
        .filter(|e| e.estimate.abs() > z * e.std_err)
        .count() as f64
        / r;
    let prop_se = |p: f64| (p * (1.0 - p) / r).sqrt();
    MethodSummary {
        method: method.into(),
        estimand: estimand.into(),
        truth,
        replicates: ok.len(),
        mean_estimate: m,
        bias: m - truth,
        bias_mcse: emp / r.sqrt(),
        empirical_se: emp,
        empirical_se_mcse: emp / (2.0 * (r - 1.0)).sqrt(),
        model_se: mse,
        model_se_mcse: sd(&ses, mse) / r.sqrt(),
        coverage: covered,
        coverage_mcse: prop_se(covered),
        rejection: rejected,
        rejection_mcse: prop_se(rejected),
    }
}

/// The whole validation run.
#[derive(Debug, Clone, Serialize)]
pub struct Validation {
    pub scenario: String,
    pub replicates: usize,
    pub children: u64,
    pub seed: u64,
    pub tau: f64,
    /// What is estimated, in words.
    pub estimand: String,
    pub truth: Truth,
    pub methods: Vec<MethodSummary>,
    /// Every replicate's estimates, method by method in the order of `methods`.
    pub estimates: Vec<Vec<Estimate>>,
    pub seconds: f64,
}

/// Runs the validation.
pub fn validate(args: &ValidateArgs, progress: bool) -> anyhow::Result<Validation> {
    let started = std::time::Instant::now();
    let scenario = Scenario::parse(&args.scenario)?;
    if scenario == Scenario::DataQuality {
        anyhow::bail!(
            "the data-quality scenario injects faults for validation rules; choose a statistical scenario"
        );
    }
    if args.replicates < 2 {
        anyhow::bail!("--replicates must be at least 2");
    }
    if args.children < 100 || args.truth_children < 100 {
        anyhow::bail!("--children and --truth-children must be at least 100");
    }
    if !(args.tau.is_finite() && args.tau > 0.0) {
        anyhow::bail!("--tau {} must be a time > 0", args.tau);
    }
    let user = match &args.config {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("reading the configuration {}", p.display()))?,
        ),
        None => None,
    };
    let eff = effective(scenario, user.as_deref())?;
    let tau = args.tau;

    let truth_ctx = Ctx::new(
        eff.config.clone(),
        truth_seed(args.seed),
        args.truth_children,
    )?;
    let truth = truth_of(&simulate(&truth_ctx, args.truth_children, tau, true));

    let pb = if progress {
        ProgressBar::with_draw_target(Some(args.replicates as u64), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {bar:40} {pos}/{len} replicates ({eta})")
    {
        pb.set_style(style);
    }
    let per_replicate: Vec<anyhow::Result<Vec<Estimate>>> = (0..args.replicates)
        .into_par_iter()
        .map(|r| {
            let ctx = Ctx::new(
                eff.config.clone(),
                replicate_seed(args.seed, r),
                args.children,
            )?;
            let children = simulate(&ctx, args.children, tau, false);
            let e = analyse(&children, tau);
            pb.inc(1);
            Ok(e)
        })
        .collect();
    pb.finish_and_clear();
    let mut estimates = Vec::with_capacity(args.replicates);
    for e in per_replicate {
        estimates.push(e?);
    }
    let methods = METHODS
        .iter()
        .enumerate()
        .map(|(k, &(name, estimand))| {
            let t = match estimand {
                "att" => truth.att,
                "ato" => truth.ato,
                _ => truth.ate,
            };
            let column: Vec<Estimate> = estimates.iter().map(|r| r[k]).collect();
            summarise(name, estimand, t, &column)
        })
        .collect();
    Ok(Validation {
        scenario: scenario.name().into(),
        replicates: args.replicates,
        children: args.children,
        seed: args.seed,
        tau,
        estimand: format!(
            "risk difference of a first re-report by day {} (FAMILY_SUPPORT − none, treatment assigned at entry)",
            num(tau)
        ),
        truth,
        methods,
        estimates,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn signed(x: f64) -> String {
    if x.is_nan() {
        "NA".into()
    } else {
        format!("{x:+.4}")
    }
}

impl Validation {
    /// The readable table.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let t = &self.truth;
        let _ = writeln!(
            out,
            "workbench validate — scenario {}, {} replicates of {} children, seed {}, {:.0} s",
            self.scenario, self.replicates, self.children, self.seed, self.seconds
        );
        let _ = writeln!(out, "estimand: {}", self.estimand);
        let _ = writeln!(
            out,
            "truth from the potential outcomes of {} children ({:.1}% treated): ATE {} (MCSE {:.4}), ATT {} ({:.4}), ATO {} ({:.4})\n",
            t.children,
            100.0 * t.treated_share,
            signed(t.ate),
            t.ate_mcse,
            signed(t.att),
            t.att_mcse,
            signed(t.ato),
            t.ato_mcse
        );
        let null = self.methods.iter().all(|m| m.truth == 0.0);
        let header = [
            "method",
            "estimand",
            "truth",
            "bias (MCSE)",
            "emp. SE (MCSE)",
            "model SE (MCSE)",
            "coverage (MCSE)",
            if null {
                "type-I error (MCSE)"
            } else {
                "rejects 0 (MCSE)"
            },
        ];
        let rows: Vec<Vec<String>> = self
            .methods
            .iter()
            .map(|m| {
                vec![
                    m.method.clone(),
                    m.estimand.to_uppercase(),
                    signed(m.truth),
                    format!("{} ({:.4})", signed(m.bias), m.bias_mcse),
                    format!("{:.4} ({:.4})", m.empirical_se, m.empirical_se_mcse),
                    format!("{:.4} ({:.4})", m.model_se, m.model_se_mcse),
                    format!("{:.3} ({:.3})", m.coverage, m.coverage_mcse),
                    format!("{:.3} ({:.3})", m.rejection, m.rejection_mcse),
                ]
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
        for r in &rows {
            for (j, c) in r.iter().enumerate() {
                widths[j] = widths[j].max(c.chars().count());
            }
        }
        let line = |cells: &[String], out: &mut String| {
            let mut s = String::new();
            for (j, c) in cells.iter().enumerate() {
                let pad = widths[j] - c.chars().count();
                if j == 0 {
                    s.push_str(c);
                    s.push_str(&" ".repeat(pad));
                } else {
                    s.push_str("  ");
                    s.push_str(&" ".repeat(pad));
                    s.push_str(c);
                }
            }
            out.push_str(s.trim_end());
            out.push('\n');
        };
        line(&header.map(String::from), &mut out);
        for r in &rows {
            line(r, &mut out);
        }
        let failed: Vec<String> = self
            .methods
            .iter()
            .filter(|m| m.replicates < self.replicates)
            .map(|m| format!("{} ({} failed)", m.method, self.replicates - m.replicates))
            .collect();
        if !failed.is_empty() {
            let _ = writeln!(
                out,
                "\nreplicates without an estimate: {}",
                failed.join(", ")
            );
        }
        out.push_str(
            "\nbias = mean estimate − truth; coverage of the 95% Wald interval (robust variance by family for the \
             weighted and matched curves, Greenwood for the crude one); MCSE = Monte-Carlo standard error.\n",
        );
        out
    }
}

/// `workbench validate`.
pub fn run(args: &ValidateArgs) -> anyhow::Result<()> {
    let v = validate(args, !args.json)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", v.to_text());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_differ_and_fit_in_63_bits() {
        let a: Vec<u64> = (0..100).map(|r| replicate_seed(1, r)).collect();
        let mut b = a.clone();
        b.sort_unstable();
        b.dedup();
        assert_eq!(b.len(), 100);
        assert!(a.iter().all(|&s| s <= i64::MAX as u64));
        assert!(!a.contains(&truth_seed(1)));
    }

    #[test]
    fn summaries_follow_morris_et_al() {
        let est = [
            Estimate {
                estimate: 0.1,
                std_err: 0.05,
            },
            Estimate {
                estimate: 0.3,
                std_err: 0.05,
            },
            Estimate {
                estimate: f64::NAN,
                std_err: 0.05,
            },
        ];
        let s = summarise("m", "ate", 0.1, &est);
        assert_eq!(s.replicates, 2);
        assert!((s.bias - 0.1).abs() < 1e-12);
        assert!((s.empirical_se - 0.2_f64.hypot(0.0) / 2f64.sqrt()).abs() < 1e-12);
        assert!((s.coverage - 0.5).abs() < 1e-12);
        assert!((s.rejection - 1.0).abs() < 1e-12);
    }
}
