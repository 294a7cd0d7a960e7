//! The stochastic processes of domain.md §6.4: covariates and linear predictors, Weibull
//! proportional hazards with piecewise multipliers (time-varying effects), their inversion, the
//! phase-1 competing causes and the phase-2 re-report process, and the closed-form and numerical
//! cumulative incidence used for truth.

use rand::Rng;
use rand_distr::{Distribution, Weibull};
use studies::codes;

use super::config::{CauseParams, HrMap};

/// Days per month for the phase-2 clock (months of 365.25 / 12 days).
pub const DAYS_PER_MONTH: f64 = 365.25 / 12.0;
/// Days per year.
pub const DAYS_PER_YEAR: f64 = 365.25;

/// Phase-1 causes, in the order of every per-cause array.
pub const CAUSES: [&str; 4] = [
    "SAFETY_AT_HOME",
    "PLACEMENT",
    "CLOSED_WITHOUT_SAFETY",
    "DEATH",
];
pub const SAFETY: usize = 0;
pub const PLACEMENT: usize = 1;
pub const CLOSED: usize = 2;
pub const DEATH: usize = 3;

/// A covariate of a hazard or logit model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cov {
    Fwb,
    AgeYears,
    Adolescent,
    Under2,
    Prenatal,
    Female,
    PriorEpisode,
    SafetyPlan,
    Form(usize),
    Ctx(usize),
}

impl Cov {
    pub fn parse(name: &str) -> Option<Cov> {
        Some(match name {
            "fwb" => Cov::Fwb,
            "age_years" => Cov::AgeYears,
            "adolescent" => Cov::Adolescent,
            "under_2" => Cov::Under2,
            "prenatal" => Cov::Prenatal,
            "female" => Cov::Female,
            "prior_episode" => Cov::PriorEpisode,
            "safety_plan" => Cov::SafetyPlan,
            _ => {
                if let Some(f) = name.strip_prefix("form_") {
                    Cov::Form(codes::FORMS.iter().position(|x| x.code == f)?)
                } else if let Some(c) = name.strip_prefix("ctx_") {
                    Cov::Ctx(codes::CONTEXTS.iter().position(|x| x.code == c)?)
                } else {
                    return None;
                }
            }
        })
    }
}

/// Index of a form code in `codes::FORMS` (forms used by the generator all exist).
pub fn form_index(code: &str) -> usize {
    codes::FORMS
        .iter()
        .position(|f| f.code == code)
        .unwrap_or(codes::FORMS.len() - 1)
}

/// Index of a context code in `codes::CONTEXTS`.
pub fn context_index(code: &str) -> usize {
    codes::CONTEXTS
        .iter()
        .position(|f| f.code == code)
        .unwrap_or(0)
}

/// The covariates of a child's episode that enter the models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Covariates {
    pub fwb: bool,
    /// Age at entry in whole months; negative before birth.
    pub age_months: i64,
    pub female: bool,
    pub prior_episode: bool,
    pub safety_plan: bool,
    /// Index of the primary form in `codes::FORMS`.
    pub primary_form: usize,
    /// Bit i set when context `codes::CONTEXTS[i]` is recorded.
    pub contexts: u32,
}

impl Covariates {
    pub fn value(&self, c: Cov) -> f64 {
        let b = |x: bool| if x { 1.0 } else { 0.0 };
        match c {
            Cov::Fwb => b(self.fwb),
            Cov::AgeYears => self.age_months.max(0) as f64 / 12.0,
            Cov::Adolescent => b(self.age_months >= 144),
            Cov::Under2 => b(self.age_months < 24),
            Cov::Prenatal => b(self.age_months < 0),
            Cov::Female => b(self.female),
            Cov::PriorEpisode => b(self.prior_episode),
            Cov::SafetyPlan => b(self.safety_plan),
            Cov::Form(i) => b(self.primary_form == i),
            Cov::Ctx(i) => b(self.contexts & (1 << i) != 0),
        }
    }

    pub fn has_context(&self, code: &str) -> bool {
        self.contexts & (1 << context_index(code)) != 0
    }
}

/// A linear predictor: log coefficients by covariate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinearPredictor(pub Vec<(Cov, f64)>);

impl LinearPredictor {
    /// From hazard ratios (log taken); names were validated with the configuration.
    pub fn from_hr(m: &HrMap) -> LinearPredictor {
        LinearPredictor(
            m.iter()
                .filter_map(|(k, v)| Some((Cov::parse(k)?, v.ln())))
                .collect(),
        )
    }

    /// From coefficients on the linear (log or logit) scale.
    pub fn from_coefficients(m: &HrMap) -> LinearPredictor {
        LinearPredictor(
            m.iter()
                .filter_map(|(k, v)| Some((Cov::parse(k)?, *v)))
                .collect(),
        )
    }

    pub fn eta(&self, x: &Covariates) -> f64 {
        self.0.iter().map(|(c, b)| b * x.value(*c)).sum()
    }
}

/// `scale` of `rand_distr::Weibull` for the PH hazard `lambda * shape * t^(shape-1) * exp(eta)`:
/// `(lambda * exp(eta))^(-1/shape)` (domain.md §6.4).
pub fn weibull_scale(lambda: f64, eta: f64, shape: f64) -> f64 {
    (lambda * eta.exp()).powf(-1.0 / shape)
}

/// One draw of a Weibull-PH time through `rand_distr::Weibull` (infinite if the parameters are
/// degenerate, which validated configurations exclude).
pub fn sample_weibull_ph<R: Rng + ?Sized>(rng: &mut R, lambda: f64, eta: f64, shape: f64) -> f64 {
    match Weibull::new(weibull_scale(lambda, eta, shape), shape) {
        Ok(w) => w.sample(rng),
        Err(_) => f64::INFINITY,
    }
}

/// A Weibull cumulative hazard `lambda * t^shape` multiplied by a piecewise-constant factor:
/// `pieces[j] = (start_j, multiplier_j)`, starts increasing, the first at 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Piecewise {
    pub lambda: f64,
    pub shape: f64,
    pub pieces: Vec<(f64, f64)>,
}

impl Piecewise {
    /// A proportional hazard without change points.
    pub fn ph(lambda: f64, shape: f64, multiplier: f64) -> Piecewise {
        Piecewise {
            lambda,
            shape,
            pieces: vec![(0.0, multiplier)],
        }
    }

    /// Adds a change point at `t` (> 0) from which the multiplier is multiplied by `factor`.
    pub fn with_change(mut self, t: f64, factor: f64) -> Piecewise {
        if !(t > 0.0 && t.is_finite()) {
            for p in &mut self.pieces {
                p.1 *= factor;
            }
            return self;
        }
        let mut out: Vec<(f64, f64)> = Vec::with_capacity(self.pieces.len() + 1);
        let mut inserted = false;
        for (j, &(s, m)) in self.pieces.iter().enumerate() {
            let end = self.pieces.get(j + 1).map_or(f64::INFINITY, |p| p.0);
            if inserted {
                out.push((s, m * factor));
            } else if t > s && t < end {
                out.push((s, m));
                out.push((t, m * factor));
                inserted = true;
            } else if t == s {
                out.push((s, m * factor));
                inserted = true;
            } else {
                out.push((s, m));
            }
        }
        self.pieces = out;
        self
    }

    fn h0(&self, t: f64) -> f64 {
        self.lambda * t.powf(self.shape)
    }

    /// Cumulative hazard at `t`.
    pub fn cumhaz(&self, t: f64) -> f64 {
        let mut acc = 0.0;
        for (j, &(s, m)) in self.pieces.iter().enumerate() {
            if t <= s {
                break;
            }
            let end = self.pieces.get(j + 1).map_or(f64::INFINITY, |p| p.0);
            acc += m * (self.h0(t.min(end)) - self.h0(s));
        }
        acc
    }

    /// The time at which the cumulative hazard reaches `target` (piecewise inversion, §6.4(c)).
    pub fn inverse(&self, target: f64) -> f64 {
        let mut acc = 0.0;
        for (j, &(s, m)) in self.pieces.iter().enumerate() {
            let end = self.pieces.get(j + 1).map_or(f64::INFINITY, |p| p.0);
            let piece = if end.is_finite() {
                m * (self.h0(end) - self.h0(s))
            } else {
                f64::INFINITY
            };
            if target <= acc + piece {
                if m <= 0.0 {
                    return f64::INFINITY;
                }
                let h0 = self.h0(s) + (target - acc) / m;
                return (h0 / self.lambda).powf(1.0 / self.shape);
            }
            acc += piece;
        }
        f64::INFINITY
    }
}

/// A compiled phase-1 cause: its hazard before and after an optional change day.
#[derive(Debug, Clone)]
pub struct CauseModel {
    pub lambda: f64,
    pub shape: f64,
    pub before: LinearPredictor,
    pub change_day: f64,
    /// The predictor after the change day (hr overridden by hr_after), if any.
    pub after: Option<LinearPredictor>,
    /// Whether the centre effect multiplies this cause's hazard.
    pub centre_effect: bool,
}

impl CauseModel {
    pub fn new(p: &CauseParams, centre_effect: bool) -> CauseModel {
        let after = if p.change_day > 0.0 && !p.hr_after.is_empty() {
            let mut merged = p.hr.clone();
            for (k, v) in &p.hr_after {
                merged.insert(k.clone(), *v);
            }
            Some(LinearPredictor::from_hr(&merged))
        } else {
            None
        };
        CauseModel {
            lambda: p.lambda,
            shape: p.shape,
            before: LinearPredictor::from_hr(&p.hr),
            change_day: p.change_day,
            after,
            centre_effect,
        }
    }

    /// The cumulative hazard of this cause for covariates `x` and centre effect `u` (days).
    pub fn hazard(&self, x: &Covariates, u: f64) -> Piecewise {
        let shift = if self.centre_effect { u } else { 0.0 };
        let eta = self.before.eta(x) + shift;
        let ph = Piecewise::ph(self.lambda, self.shape, eta.exp());
        match &self.after {
            Some(after) => {
                let factor = (after.eta(x) + shift - eta).exp();
                ph.with_change(self.change_day, factor)
            }
            None => ph,
        }
    }
}

/// Latent phase-1 times (days) from unit exponentials `e` (one per cause).
pub fn phase1_times(models: &[CauseModel; 4], x: &Covariates, u: f64, e: &[f64; 4]) -> [f64; 4] {
    let mut t = [0.0; 4];
    for k in 0..4 {
        t[k] = models[k].hazard(x, u).inverse(e[k]);
    }
    t
}

/// The first of the latent times and its cause.
pub fn first_cause(t: &[f64; 4]) -> (usize, f64) {
    let mut best = (0, t[0]);
    for (k, &v) in t.iter().enumerate().skip(1) {
        if v < best.1 {
            best = (k, v);
        }
    }
    best
}

/// Cumulative incidence of each cause at `times` (days) for cumulative hazards `h`: sums over a
/// fine grid of `(ΔH_k / ΔH) · (S(a) − S(b))`, exact when the hazards are proportional within a step.
pub fn cif_numeric(h: &[Piecewise], times: &[f64]) -> Vec<Vec<f64>> {
    let tmax = times.iter().copied().fold(0.0, f64::max);
    // Log-spaced steps over the first day (hazards with shape < 1 are steep there), then 1/4 day.
    let mut grid = vec![0.0];
    let mut t = 1e-6;
    while t < 1.0 {
        grid.push(t);
        t *= 1.5;
    }
    let mut t = 1.0;
    while t < tmax + 0.25 {
        grid.push(t);
        t += 0.25;
    }
    for &x in times {
        grid.push(x);
    }
    grid.sort_by(f64::total_cmp);
    grid.dedup();
    let k = h.len();
    let mut cif = vec![0.0; k];
    let mut out = vec![vec![0.0; times.len()]; k];
    let mut prev: Vec<f64> = vec![0.0; k];
    let mut prev_total = 0.0;
    for &b in grid.iter().skip(1) {
        let cur: Vec<f64> = h.iter().map(|p| p.cumhaz(b)).collect();
        let total: f64 = cur.iter().sum();
        let dh = total - prev_total;
        if dh > 0.0 {
            let ds = (-prev_total).exp() - (-total).exp();
            for j in 0..k {
                cif[j] += (cur[j] - prev[j]) / dh * ds;
            }
        }
        for (ti, &x) in times.iter().enumerate() {
            if x == b {
                for j in 0..k {
                    out[j][ti] = cif[j];
                }
            }
        }
        prev = cur;
        prev_total = total;
    }
    out
}

/// Closed-form CIF of cause `k` at `t` when all causes share one shape and no change points:
/// `r_k / Σ r_j · (1 − exp(−Σ r_j t^ν))` with `r_j = λ_j e^{η_j}` (§6.4(b)).
pub fn cif_closed_form(rates: &[f64], shape: f64, k: usize, t: f64) -> f64 {
    let total: f64 = rates.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    rates[k] / total * (1.0 - (-total * t.powf(shape)).exp())
}

/// The marginal survival of a gamma-frailty (mean 1, variance theta) process with cumulative
/// hazard `big_h` at frailty 1: the Laplace transform `(1 + θH)^(−1/θ)`, or `exp(−H)` when θ = 0.
pub fn gamma_frailty_survival(big_h: f64, theta: f64) -> f64 {
    if theta <= 0.0 {
        (-big_h).exp()
    } else {
        (1.0 + theta * big_h).powf(-1.0 / theta)
    }
}

/// Nodes and weights integrating a function of `u ~ N(0, sigma^2)`: composite Simpson on
/// z in [−7, 7] (80 intervals). One node (0, 1) when sigma is 0.
pub fn normal_quadrature(sigma: f64) -> Vec<(f64, f64)> {
    if sigma <= 0.0 {
        return vec![(0.0, 1.0)];
    }
    let n = 80;
    let (a, b) = (-7.0, 7.0);
    let h = (b - a) / n as f64;
    let mut out = Vec::with_capacity(n + 1);
    let mut total = 0.0;
    for i in 0..=n {
        let z = a + h * i as f64;
        let simpson = if i == 0 || i == n {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let w = simpson * h / 3.0 * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
        total += w;
        out.push((sigma * z, w));
    }
    for p in &mut out {
        p.1 /= total;
    }
    out
}

/// Logistic function.
pub fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Logit.
pub fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rand_distr::Exp1;

    fn gamma_fn(x: f64) -> f64 {
        statrs::function::gamma::gamma(x)
    }

    #[test]
    fn weibull_mapping_has_the_documented_mean() {
        // H(t) = lambda t^nu e^eta  <=>  rand_distr::Weibull(scale = (lambda e^eta)^(-1/nu), shape = nu).
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for &(lambda, eta, nu) in &[(0.0446, 0.3, 0.548), (0.009242, -0.2, 1.1), (0.5, 0.0, 2.0)] {
            let scale = weibull_scale(lambda, eta, nu);
            let mean = scale * gamma_fn(1.0 + 1.0 / nu);
            let n = 200_000;
            let mut s1 = 0.0;
            let mut s2 = 0.0;
            let ph = Piecewise::ph(lambda, nu, f64::exp(eta));
            for _ in 0..n {
                s1 += sample_weibull_ph(&mut rng, lambda, eta, nu);
                let e: f64 = Exp1.sample(&mut rng);
                let t = ph.inverse(e);
                // inversion is the same map: T = scale * E^(1/nu)
                assert!((t - scale * e.powf(1.0 / nu)).abs() <= 1e-9 * t.max(1.0));
                s2 += t;
            }
            let var = scale * scale * (gamma_fn(1.0 + 2.0 / nu) - gamma_fn(1.0 + 1.0 / nu).powi(2));
            let se = (var / n as f64).sqrt();
            assert!(
                (s1 / n as f64 - mean).abs() < 4.0 * se,
                "rand_distr mean, nu={nu}"
            );
            assert!(
                (s2 / n as f64 - mean).abs() < 4.0 * se,
                "inversion mean, nu={nu}"
            );
        }
    }

    #[test]
    fn piecewise_inversion_matches_cumulative_hazard() {
        let p = Piecewise::ph(0.0446, 0.548, 1.3)
            .with_change(0.7, 0.75)
            .with_change(3.0, 2.0);
        assert_eq!(p.pieces.len(), 3);
        for &e in &[0.001, 0.05, 0.1, 0.5, 1.0, 3.0] {
            let t = p.inverse(e);
            assert!((p.cumhaz(t) - e).abs() < 1e-10, "e={e}");
        }
        // Before the change the hazard is untouched; after, it follows H0(s) + (H0(t) − H0(s))·f.
        let base = Piecewise::ph(0.0446, 0.548, 1.3);
        assert!((p.cumhaz(0.5) - base.cumhaz(0.5)).abs() < 1e-12);
        let s = 0.7;
        let want = base.cumhaz(s) + (base.cumhaz(2.0) - base.cumhaz(s)) * 0.75;
        assert!((p.cumhaz(2.0) - want).abs() < 1e-12);
    }

    #[test]
    fn numeric_cif_equals_closed_form_for_a_common_shape() {
        let rates = [0.009242, 0.000902, 0.001127, 2e-7];
        let h: Vec<Piecewise> = rates.iter().map(|&r| Piecewise::ph(r, 1.0, 1.0)).collect();
        let times = [30.0, 90.0, 365.0, 730.0];
        let num = cif_numeric(&h, &times);
        for (k, row) in num.iter().enumerate() {
            for (i, &t) in times.iter().enumerate() {
                let c = cif_closed_form(&rates, 1.0, k, t);
                assert!((row[i] - c).abs() < 1e-9, "k={k} t={t}");
            }
        }
        // the calibration of the default file: placement ~8%, closure ~10% at 12 months
        assert!((cif_closed_form(&rates, 1.0, 1, 365.0) - 0.08).abs() < 0.002);
        assert!((cif_closed_form(&rates, 1.0, 2, 365.0) - 0.10).abs() < 0.002);
        // different shapes: the numeric CIFs still sum to 1 - S
        let h2 = vec![
            Piecewise::ph(0.006, 1.1, 1.0),
            Piecewise::ph(0.0013, 0.9, 1.0),
            Piecewise::ph(0.001, 1.0, 1.0),
        ];
        let c = cif_numeric(&h2, &[365.0]);
        let total: f64 = h2.iter().map(|p| p.cumhaz(365.0)).sum();
        let sum: f64 = c.iter().map(|v| v[0]).sum();
        assert!((sum - (1.0 - (-total).exp())).abs() < 1e-9);
    }

    #[test]
    fn quadrature_integrates_normal_moments() {
        let q = normal_quadrature(0.4);
        let m0: f64 = q.iter().map(|p| p.1).sum();
        let m2: f64 = q.iter().map(|p| p.1 * p.0 * p.0).sum();
        let mexp: f64 = q.iter().map(|p| p.1 * p.0.exp()).sum();
        assert!((m0 - 1.0).abs() < 1e-12);
        assert!((m2 - 0.16).abs() < 1e-9);
        assert!((mexp - (0.08f64).exp()).abs() < 1e-9);
    }
}
