//! The compiled generator context: code-list distributions, centre probabilities and centre
//! effects, compiled hazard models and the fixed sampling distributions (domain.md §6.2).

use rand::Rng;
use rand_distr::{Distribution, Gamma, Normal, Poisson, StandardNormal};
use studies::codes;
use studies::schema;

use super::SynthError;
use super::config::{CodeProbs, SynthConfig};
use super::dates;
use super::ids;
use super::processes::{CauseModel, LinearPredictor, form_index};

/// A categorical distribution over static codes.
#[derive(Debug, Clone)]
pub struct Categorical {
    pub items: Vec<&'static str>,
    cum: Vec<f64>,
}

impl Categorical {
    /// From weights by code; codes must appear in `list` (a static code list).
    pub fn new(
        name: &str,
        probs: &CodeProbs,
        list: &[&'static str],
    ) -> Result<Categorical, SynthError> {
        let mut items = Vec::new();
        let mut cum = Vec::new();
        let mut total = 0.0;
        for (k, &w) in probs {
            let code =
                list.iter().copied().find(|c| *c == k).ok_or_else(|| {
                    SynthError::Config(format!("{name}: `{k}` is not a known code"))
                })?;
            if w > 0.0 {
                total += w;
                items.push(code);
                cum.push(total);
            }
        }
        if total <= 0.0 {
            return Err(SynthError::Config(format!(
                "{name} needs a positive weight"
            )));
        }
        for c in &mut cum {
            *c /= total;
        }
        Ok(Categorical { items, cum })
    }

    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> &'static str {
        let u: f64 = rng.random();
        let i = self.cum.partition_point(|&c| c <= u);
        self.items[i.min(self.items.len() - 1)]
    }

    /// Probability of a code.
    pub fn prob(&self, code: &str) -> f64 {
        let mut prev = 0.0;
        for (i, c) in self.cum.iter().enumerate() {
            if self.items[i] == code {
                return c - prev;
            }
            prev = *c;
        }
        0.0
    }
}

/// A gamma distribution given by shape and mean (days).
#[derive(Debug, Clone, Copy)]
pub struct GammaDays(Gamma<f64>);

impl GammaDays {
    pub fn new(name: &str, shape: f64, mean: f64) -> Result<GammaDays, SynthError> {
        Gamma::new(shape, mean / shape)
            .map(GammaDays)
            .map_err(|e| SynthError::Config(format!("{name}: {e}")))
    }
    /// A draw rounded up to whole days (at least 1).
    pub fn days<R: Rng + ?Sized>(&self, rng: &mut R) -> i32 {
        let x = self.0.sample(rng).ceil();
        if x.is_finite() { (x as i32).max(1) } else { 1 }
    }
}

/// Everything a family simulation reads; built once per run.
pub struct Ctx {
    pub seed: u64,
    pub cfg: SynthConfig,
    pub entry_first: i32,
    pub entry_last: i32,
    pub extract: i32,
    /// Cumulative probability of each centre (index into `codes::CENTRES`).
    centre_cum: Vec<f64>,
    /// Centre random effects u_c, by index into `codes::CENTRES`.
    pub centre_effects: Vec<f64>,
    pub age_band_cum: [f64; 3],
    pub forms_vl: Categorical,
    pub forms_fwb: Categorical,
    pub referral_vl: Categorical,
    pub referral_fwb: Categorical,
    pub melding_vl: Categorical,
    pub melding_fwb: Categorical,
    pub channel: Categorical,
    /// (form index, probability)
    pub secondary_forms: Vec<(usize, f64)>,
    /// (context index, probability) per community
    pub contexts_vl: Vec<(usize, f64)>,
    pub contexts_fwb: Vec<(usize, f64)>,
    pub causes: [CauseModel; 4],
    pub rereport: LinearPredictor,
    pub substantiation: LinearPredictor,
    pub family_size: Option<Poisson<f64>>,
    pub frailty: Option<Gamma<f64>>,
    pub start_delay: GammaDays,
    pub intervention_duration: GammaDays,
    pub finding_lag: GammaDays,
    pub closure_after_safety: GammaDays,
    pub closure_after_placement: GammaDays,
    pub placement_duration: GammaDays,
    pub short_duration: GammaDays,
    pub assessment_duration: GammaDays,
    pub long_duration: GammaDays,
}

fn code_list(table: &str) -> Vec<&'static str> {
    codes::codes_of(table).collect()
}

fn indexed_probs(probs: &CodeProbs, index: impl Fn(&str) -> Option<usize>) -> Vec<(usize, f64)> {
    probs
        .iter()
        .filter_map(|(k, &p)| Some((index(k)?, p)))
        .collect()
}

impl Ctx {
    pub fn new(cfg: SynthConfig, seed: u64, n_children: u64) -> Result<Ctx, SynthError> {
        let p = &cfg.population;
        let parse = |s: &str| dates::parse_iso(s).map_err(SynthError::Config);
        let entry_first = parse(&p.entry_first)?;
        let entry_last = parse(&p.entry_last)?;
        let extract = parse(&p.extract_date)?;
        let centre_cum = centre_cumulative(&cfg, n_children);
        let centre_effects = {
            let mut rng = ids::stream(seed, "centre-effects", 0);
            let sigma = cfg.centre_effects.sigma;
            codes::CENTRES
                .iter()
                .map(|_| {
                    let z: f64 = StandardNormal.sample(&mut rng);
                    sigma * z
                })
                .collect()
        };
        let w = p.age_band_weights;
        let tw: f64 = w.iter().sum();
        let age_band_cum = [w[0] / tw, (w[0] + w[1]) / tw, 1.0];
        let forms = code_list("maltreatment_form");
        let referral = code_list("referral_source");
        let form_pos = |k: &str| codes::FORMS.iter().position(|f| f.code == k);
        let ctx_pos = |k: &str| codes::CONTEXTS.iter().position(|f| f.code == k);
        let family_size = if p.family_extra_children_mean > 0.0 {
            Some(
                Poisson::new(p.family_extra_children_mean)
                    .map_err(|e| SynthError::Config(format!("family size: {e}")))?,
            )
        } else {
            None
        };
        let theta = cfg.frailty.theta;
        let frailty = if theta > 0.0 {
            Some(
                Gamma::new(1.0 / theta, theta)
                    .map_err(|e| SynthError::Config(format!("frailty.theta: {e}")))?,
            )
        } else {
            None
        };
        let t = &cfg.treatment;
        let ph1 = &cfg.phase1;
        let ph2 = &cfg.phase2;
        let causes = [
            CauseModel::new(&ph1.safety_at_home, true),
            CauseModel::new(&ph1.placement, false),
            CauseModel::new(&ph1.closed_without_safety, false),
            CauseModel::new(&ph1.death, false),
        ];
        Ok(Ctx {
            seed,
            entry_first,
            entry_last,
            extract,
            centre_cum,
            centre_effects,
            age_band_cum,
            forms_vl: Categorical::new("population.forms_vl", &p.forms_vl, &forms)?,
            forms_fwb: Categorical::new("population.forms_fwb", &p.forms_fwb, &forms)?,
            referral_vl: Categorical::new("population.referral_vl", &p.referral_vl, &referral)?,
            referral_fwb: Categorical::new("population.referral_fwb", &p.referral_fwb, &referral)?,
            melding_vl: Categorical::new(
                "population.melding_vl",
                &p.melding_vl,
                schema::MELDING_TYPES,
            )?,
            melding_fwb: Categorical::new(
                "population.melding_fwb",
                &p.melding_fwb,
                schema::MELDING_TYPES,
            )?,
            channel: Categorical::new("population.channel", &p.channel, schema::CHANNELS)?,
            secondary_forms: indexed_probs(&p.secondary_forms, form_pos),
            contexts_vl: indexed_probs(&p.contexts_vl, ctx_pos),
            contexts_fwb: indexed_probs(&p.contexts_fwb, ctx_pos),
            causes,
            rereport: LinearPredictor::from_hr(&ph2.hr),
            substantiation: LinearPredictor::from_coefficients(&ph2.substantiation_logit),
            family_size,
            frailty,
            start_delay: GammaDays::new("treatment.start", t.start_shape, t.start_mean_days)?,
            intervention_duration: GammaDays::new("treatment.duration", 2.0, t.duration_mean_days)?,
            finding_lag: GammaDays::new(
                "phase2.finding_lag",
                ph2.finding_lag_shape,
                ph2.finding_lag_mean_days,
            )?,
            closure_after_safety: GammaDays::new(
                "phase1.closure_after_safety",
                2.0,
                ph1.closure_after_safety_mean_days,
            )?,
            closure_after_placement: GammaDays::new(
                "phase1.closure_after_placement",
                2.0,
                ph1.closure_after_placement_mean_days,
            )?,
            placement_duration: GammaDays::new("phase1.placement", 2.0, ph1.placement_mean_days)?,
            short_duration: GammaDays::new("short", 2.0, 7.0)?,
            assessment_duration: GammaDays::new("assessment", 2.0, 60.0)?,
            long_duration: GammaDays::new("long", 2.0, 180.0)?,
            cfg,
        })
    }

    /// Draws a centre (index into `codes::CENTRES`).
    pub fn draw_centre<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        let u: f64 = rng.random();
        self.centre_cum
            .partition_point(|&c| c <= u)
            .min(codes::CENTRES.len() - 1)
    }

    /// Probability of each centre (for tests and the marginal checks).
    pub fn centre_probabilities(&self) -> Vec<f64> {
        let mut prev = 0.0;
        self.centre_cum
            .iter()
            .map(|c| {
                let p = c - prev;
                prev = *c;
                p
            })
            .collect()
    }

    /// Draws a VK other than `from`, by VK weight (a transfer within Flanders).
    pub fn draw_other_vk<R: Rng + ?Sized>(&self, rng: &mut R, from: usize) -> usize {
        let cand: Vec<(usize, f64)> = codes::CENTRES
            .iter()
            .enumerate()
            .filter(|(i, c)| c.service_type == "VK" && *i != from)
            .map(|(i, c)| (i, self.weight_of(c.id, c.weight)))
            .collect();
        let total: f64 = cand.iter().map(|c| c.1).sum();
        let mut u = rng.random::<f64>() * total;
        for (i, w) in &cand {
            if u < *w {
                return *i;
            }
            u -= w;
        }
        cand.last().map_or(from, |c| c.0)
    }

    fn weight_of(&self, id: &str, default: f64) -> f64 {
        self.cfg
            .population
            .centre_weights
            .get(id)
            .copied()
            .unwrap_or(default)
    }

    pub fn forms(&self, fwb: bool) -> &Categorical {
        if fwb { &self.forms_fwb } else { &self.forms_vl }
    }
    pub fn referral(&self, fwb: bool) -> &Categorical {
        if fwb {
            &self.referral_fwb
        } else {
            &self.referral_vl
        }
    }
    pub fn melding(&self, fwb: bool) -> &Categorical {
        if fwb {
            &self.melding_fwb
        } else {
            &self.melding_vl
        }
    }
    pub fn contexts(&self, fwb: bool) -> &[(usize, f64)] {
        if fwb {
            &self.contexts_fwb
        } else {
            &self.contexts_vl
        }
    }

    /// A normal draw with mean 0 and this SD.
    pub fn normal<R: Rng + ?Sized>(rng: &mut R, sd: f64) -> f64 {
        Normal::new(0.0, sd.max(0.0)).map_or(0.0, |n| n.sample(rng))
    }

    /// Index of a form code (forms named in the code list).
    pub fn form(code: &str) -> usize {
        form_index(code)
    }
}

/// Cumulative centre probabilities: community share × relative weight, with the small centres of
/// the `small-n` scenario capped at an expected number of children (their community keeps its share).
fn centre_cumulative(cfg: &SynthConfig, n_children: u64) -> Vec<f64> {
    let p = &cfg.population;
    let n = n_children.max(1) as f64;
    let mut probs = vec![0.0; codes::CENTRES.len()];
    for (community, share) in [("VL", 1.0 - p.share_fwb), ("FWB", p.share_fwb)] {
        let members: Vec<usize> = codes::CENTRES
            .iter()
            .enumerate()
            .filter(|(_, c)| c.community == community)
            .map(|(i, _)| i)
            .collect();
        let weight = |i: usize| {
            let c = &codes::CENTRES[i];
            p.centre_weights.get(c.id).copied().unwrap_or(c.weight)
        };
        let total: f64 = members.iter().map(|&i| weight(i)).sum();
        if total <= 0.0 {
            continue;
        }
        let mut capped = 0.0;
        let mut free_weight = 0.0;
        for &i in &members {
            let natural = share * weight(i) / total;
            if p.small_centres.iter().any(|s| s == codes::CENTRES[i].id) {
                let cap = (p.small_centre_expected_children / n).min(natural);
                probs[i] = cap;
                capped += cap;
            } else {
                free_weight += weight(i);
            }
        }
        for &i in &members {
            if !p.small_centres.iter().any(|s| s == codes::CENTRES[i].id) && free_weight > 0.0 {
                probs[i] = (share - capped) * weight(i) / free_weight;
            }
        }
    }
    let total: f64 = probs.iter().sum();
    let mut acc = 0.0;
    probs
        .iter()
        .map(|x| {
            acc += x / total;
            acc
        })
        .collect()
}
