//! Known truth of a run: every parameter (`truth.parameter`) and the true cumulative incidence of
//! the reference profiles (`truth.cif`), conditional (frailty 1, centre effect 0) and marginal
//! (integrated over the gamma frailty by its Laplace transform and over the normal centre effect
//! by quadrature).
//!
//! Reference profiles `REF_VL` / `REF_FWB`: a child of a VK (resp. an SOS team), aged 6-11 at entry
//! (age uniform over 72-143 months, as generated), primary form EMO, no contexts, first episode,
//! untreated (no FAMILY_SUPPORT), no safety plan, either sex (girls with the configured share).
//! Outcomes: `PHASE1` with causes SAFETY_AT_HOME, PLACEMENT, CLOSED_WITHOUT_SAFETY, DEATH (the
//! competing-risks CIF from entry), and `REREPORT` (cause REREPORT: the distribution of the first
//! re-report time from entry, without competing events). Where the hazards depend on age or sex,
//! the CIF is the average over the profile's age and sex distribution.

use studies::codes;

use super::config::Effective;
use super::population::Ctx;
use super::processes::form_index;
use super::processes::{
    CAUSES, Covariates, DAYS_PER_MONTH, Piecewise, cif_closed_form, cif_numeric,
    gamma_frailty_survival, normal_quadrature,
};
use super::rows::{CifRow, ParameterRow};

/// The profiles of `truth.cif`.
pub const PROFILES: [&str; 2] = ["REF_VL", "REF_FWB"];

/// Time points of `truth.cif`: 30, 90, 180, 365, 730 days and a weekly grid to 728 days.
pub fn cif_times() -> Vec<i64> {
    let mut t: Vec<i64> = (1..=104).map(|w| w * 7).collect();
    t.extend([30, 90, 180, 365, 730]);
    t.sort_unstable();
    t.dedup();
    t
}

/// Every true parameter: the numeric leaves of the effective configuration by dotted path, the
/// drawn centre effects (`centre_effect.<centre_id>`) and the reference-profile definition.
pub fn parameters(eff: &Effective, ctx: &Ctx) -> Vec<ParameterRow> {
    let mut out: Vec<ParameterRow> = super::config::numeric_leaves(&eff.table)
        .into_iter()
        .map(|(param, value)| ParameterRow { param, value })
        .collect();
    for (c, u) in codes::CENTRES.iter().zip(&ctx.centre_effects) {
        out.push(ParameterRow {
            param: format!("centre_effect.{}", c.id),
            value: *u,
        });
    }
    for (k, v) in [
        ("reference.age_months_min", 72.0),
        ("reference.age_months_max", 143.0),
        ("reference.days_per_month", DAYS_PER_MONTH),
        // missingness mechanism of phase 3: 1 = MCAR + MAR (no MNAR)
        ("phase3.mechanism_mcar_mar", 1.0),
    ] {
        out.push(ParameterRow {
            param: k.to_string(),
            value: v,
        });
    }
    out.sort_by(|a, b| a.param.cmp(&b.param));
    out.dedup_by(|a, b| a.param == b.param);
    out
}

/// The covariate combinations of a profile with their weights (age 72-143 months × sex).
fn profile_members(ctx: &Ctx, fwb: bool) -> Vec<(Covariates, f64)> {
    let female = ctx.cfg.population.female_share;
    let mut out = Vec::new();
    for m in 72..144 {
        for (is_f, w) in [(false, 1.0 - female), (true, female)] {
            if w <= 0.0 {
                continue;
            }
            out.push((
                Covariates {
                    fwb,
                    age_months: m,
                    female: is_f,
                    prior_episode: false,
                    safety_plan: false,
                    primary_form: form_index("EMO"),
                    contexts: 0,
                },
                w / 72.0,
            ));
        }
    }
    out
}

/// Groups members with identical linear predictors (so the CIF is computed once per group).
fn group_by<F: Fn(&Covariates) -> Vec<f64>>(
    members: &[(Covariates, f64)],
    key: F,
) -> Vec<(Covariates, f64)> {
    let mut groups: Vec<(Vec<f64>, Covariates, f64)> = Vec::new();
    for (x, w) in members {
        let k = key(x);
        match groups.iter_mut().find(|g| g.0 == k) {
            Some(g) => g.2 += w,
            None => groups.push((k, *x, *w)),
        }
    }
    groups.into_iter().map(|g| (g.1, g.2)).collect()
}

/// Phase-1 CIF per cause at `times` for covariates `x` and centre effect `u`.
fn phase1_cif(ctx: &Ctx, x: &Covariates, u: f64, times: &[f64]) -> Vec<Vec<f64>> {
    let h: Vec<Piecewise> = ctx.causes.iter().map(|m| m.hazard(x, u)).collect();
    let shape = h[0].shape;
    let simple = h.iter().all(|p| p.shape == shape && p.pieces.len() == 1);
    if simple {
        let rates: Vec<f64> = h.iter().map(|p| p.lambda * p.pieces[0].1).collect();
        (0..h.len())
            .map(|k| {
                times
                    .iter()
                    .map(|&t| cif_closed_form(&rates, shape, k, t))
                    .collect()
            })
            .collect()
    } else {
        cif_numeric(&h, times)
    }
}

/// The rows of `truth.cif`.
pub fn cif(ctx: &Ctx) -> Vec<CifRow> {
    let times_i = cif_times();
    let times: Vec<f64> = times_i.iter().map(|&t| t as f64).collect();
    let theta = ctx.cfg.frailty.theta;
    let quad = normal_quadrature(ctx.cfg.centre_effects.sigma);
    let ph2 = &ctx.cfg.phase2;
    let mut out = Vec::new();
    for (profile, fwb) in [(PROFILES[0], false), (PROFILES[1], true)] {
        let members = profile_members(ctx, fwb);
        // phase 1
        let groups = group_by(&members, |x| {
            ctx.causes
                .iter()
                .flat_map(|m| {
                    let mut v = vec![m.before.eta(x)];
                    if let Some(a) = &m.after {
                        v.push(a.eta(x));
                    }
                    v
                })
                .collect()
        });
        for (kind, nodes) in [
            ("CONDITIONAL", vec![(0.0, 1.0)]),
            ("MARGINAL", quad.clone()),
        ] {
            let mut acc = vec![vec![0.0; times.len()]; CAUSES.len()];
            for (x, w) in &groups {
                for &(u, wu) in &nodes {
                    let c = phase1_cif(ctx, x, u, &times);
                    for k in 0..CAUSES.len() {
                        for i in 0..times.len() {
                            acc[k][i] += w * wu * c[k][i];
                        }
                    }
                }
            }
            for (k, cause) in CAUSES.iter().enumerate() {
                for (i, &t) in times_i.iter().enumerate() {
                    out.push(CifRow {
                        outcome: "PHASE1",
                        cause,
                        profile,
                        kind,
                        t_days: t,
                        cif: acc[k][i],
                    });
                }
            }
        }
        // first re-report
        let groups = group_by(&members, |x| vec![ctx.rereport.eta(x)]);
        for kind in ["CONDITIONAL", "MARGINAL"] {
            for (i, &t) in times.iter().enumerate() {
                let h0 = ph2.lambda * (t / DAYS_PER_MONTH).powf(ph2.shape);
                let mut f = 0.0;
                for (x, w) in &groups {
                    let eta = ctx.rereport.eta(x);
                    if kind == "CONDITIONAL" {
                        f += w * (1.0 - (-h0 * eta.exp()).exp());
                    } else {
                        for &(u, wu) in &quad {
                            f += w
                                * wu
                                * (1.0 - gamma_frailty_survival(h0 * (eta + u).exp(), theta));
                        }
                    }
                }
                out.push(CifRow {
                    outcome: "REREPORT",
                    cause: "REREPORT",
                    profile,
                    kind,
                    t_days: times_i[i],
                    cif: f,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::config::{Scenario, effective};

    fn ctx(s: Scenario) -> Result<Ctx, crate::synth::SynthError> {
        let e = effective(s, None)?;
        Ctx::new(e.config, 1, 1000)
    }

    fn value(
        rows: &[CifRow],
        outcome: &str,
        cause: &str,
        profile: &str,
        kind: &str,
        t: i64,
    ) -> f64 {
        rows.iter()
            .find(|r| {
                r.outcome == outcome
                    && r.cause == cause
                    && r.profile == profile
                    && r.kind == kind
                    && r.t_days == t
            })
            .map_or(f64::NAN, |r| r.cif)
    }

    #[test]
    fn default_truth_matches_the_calibration() -> Result<(), crate::synth::SynthError> {
        let c = ctx(Scenario::Default)?;
        let rows = cif(&c);
        // Safety: the conditional CIF of the reference profile has the closed form.
        let rates = [0.009242, 0.000902, 0.001127, 2e-7];
        let want = cif_closed_form(&rates, 1.0, 0, 90.0);
        let got = value(
            &rows,
            "PHASE1",
            "SAFETY_AT_HOME",
            "REF_VL",
            "CONDITIONAL",
            90,
        );
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        let p = value(&rows, "PHASE1", "PLACEMENT", "REF_VL", "CONDITIONAL", 365);
        assert!((p - 0.08).abs() < 0.003, "{p}");
        // FWB is slower to safety
        assert!(
            value(
                &rows,
                "PHASE1",
                "SAFETY_AT_HOME",
                "REF_FWB",
                "CONDITIONAL",
                90
            ) < got
        );
        // Re-report: the frailty-marginal CIF is below the conditional one (gamma mixing).
        let rc = value(&rows, "REREPORT", "REREPORT", "REF_VL", "CONDITIONAL", 365);
        let rm = value(&rows, "REREPORT", "REREPORT", "REF_VL", "MARGINAL", 365);
        assert!(rc > 0.10 && rc < 0.15, "{rc}");
        assert!(rm < rc && rm > 0.09, "{rm} {rc}");
        // CIFs are non-decreasing in t
        for w in cif_times().windows(2) {
            assert!(
                value(&rows, "REREPORT", "REREPORT", "REF_FWB", "MARGINAL", w[0])
                    <= value(&rows, "REREPORT", "REREPORT", "REF_FWB", "MARGINAL", w[1])
            );
        }
        Ok(())
    }

    #[test]
    fn no_frailty_marginal_equals_conditional_and_non_ph_uses_the_numeric_path()
    -> Result<(), crate::synth::SynthError> {
        let rows = cif(&ctx(Scenario::NoFrailty)?);
        for t in [30, 365, 730] {
            for o in [("REREPORT", "REREPORT"), ("PHASE1", "SAFETY_AT_HOME")] {
                let a = value(&rows, o.0, o.1, "REF_VL", "CONDITIONAL", t);
                let b = value(&rows, o.0, o.1, "REF_VL", "MARGINAL", t);
                assert!((a - b).abs() < 1e-12);
            }
        }
        let np = cif(&ctx(Scenario::NonPh)?);
        let d = cif(&ctx(Scenario::Default)?);
        // VL is the reference: unchanged; FWB gets HR 0.7 then 1.0 instead of 0.85.
        let a = value(
            &np,
            "PHASE1",
            "SAFETY_AT_HOME",
            "REF_VL",
            "CONDITIONAL",
            180,
        );
        let b = value(&d, "PHASE1", "SAFETY_AT_HOME", "REF_VL", "CONDITIONAL", 180);
        assert!((a - b).abs() < 1e-6, "{a} {b}");
        let early_np = value(
            &np,
            "PHASE1",
            "SAFETY_AT_HOME",
            "REF_FWB",
            "CONDITIONAL",
            30,
        );
        let early_d = value(&d, "PHASE1", "SAFETY_AT_HOME", "REF_FWB", "CONDITIONAL", 30);
        assert!(early_np < early_d);
        Ok(())
    }
}
