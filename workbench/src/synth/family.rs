//! Simulation of one family (sibling group) into rows of every case table and of
//! `truth.child_latent`: covariates, treatment, the phase-1 competing processes with reviews and
//! transfers, the phase-2 re-report process with duplicates and findings, phase-3 assessments,
//! censoring and the observation window (domain.md §6.2–§6.5).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp1};
use studies::codes;

use super::dates;
use super::events::{self, Fact};
use super::ids;
use super::population::Ctx;
use super::processes::{
    self, CLOSED, Covariates, DAYS_PER_MONTH, DAYS_PER_YEAR, DEATH, PLACEMENT, Piecewise, SAFETY,
    context_index, expit, first_cause, form_index, logit,
};
use super::rows::*;

/// Days are stored as i32; "never" is this far in the future.
const NEVER: i32 = i32::MAX / 4;

fn day_after(start: i32, t: f64) -> i32 {
    if t.is_finite() && t < 1e8 {
        start + t.floor() as i32
    } else {
        NEVER
    }
}

fn bern<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    rng.random::<f64>() < p
}

/// How observation of a child ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ObsEnd {
    Extract,
    Age18,
    Moved,
    Lost,
    Death,
}

impl ObsEnd {
    fn code(self) -> &'static str {
        match self {
            ObsEnd::Extract => "EXTRACT",
            ObsEnd::Age18 => "AGE_18",
            ObsEnd::Moved => "MOVED_ABROAD",
            ObsEnd::Lost => "LOST",
            ObsEnd::Death => "DEATH",
        }
    }
    /// The closure an open episode gets when observation ends this way (none if it stays open).
    fn closure_reason(self) -> Option<&'static str> {
        match self {
            ObsEnd::Extract | ObsEnd::Lost => None,
            ObsEnd::Age18 => Some("CHILD_18"),
            ObsEnd::Moved => Some("MOVED_ABROAD"),
            ObsEnd::Death => Some("DEATH"),
        }
    }
    fn end_reason(self) -> &'static str {
        match self {
            ObsEnd::Extract | ObsEnd::Lost => "ONGOING",
            ObsEnd::Age18 => "AGE_18",
            ObsEnd::Moved => "MOVED_AWAY",
            ObsEnd::Death => "DEATH",
        }
    }
}

/// A child being simulated.
struct Child {
    num: u64,
    pid: String,
    entry: i32,
    x: Covariates,
    secondary: Vec<usize>,
    chat: bool,
    centre: usize,
    obs_end: i32,
    obs_reason: ObsEnd,
    /// Interval-censored safety recording (found at reviews).
    reviews: bool,
    /// FAMILY_SUPPORT start date if treated.
    fs_start: Option<i32>,
    /// Episodes so far: (id, entry, closure), in order.
    episodes: Vec<(String, i32, Option<i32>)>,
    next_seq: i64,
    placements: i64,
    interventions: u64,
    assessments: u64,
    birth_month: i32,
}

impl Child {
    /// The episode a date belongs to: the latest episode entered on or before it.
    fn episode_at(&self, date: i32) -> Option<&str> {
        self.episodes
            .iter()
            .rev()
            .find(|e| e.1 <= date)
            .or(self.episodes.first())
            .map(|e| e.0.as_str())
    }
    /// Whether the episode `date` belongs to is open on that date.
    fn open_on(&self, date: i32) -> bool {
        match self.episodes.iter().rev().find(|e| e.1 <= date) {
            Some((_, _, closure)) => closure.is_none_or(|c| date <= c),
            None => false,
        }
    }
    fn age_months_at(&self, date: i32) -> i64 {
        i64::from(dates::month_index(date) - self.birth_month)
    }
}

/// Report being written for several children (a joint index report) or one.
struct NewReport {
    centre: usize,
    date: i32,
    source: &'static str,
    channel: &'static str,
    kind: &'static str,
}

/// The rows of one family plus its standalone facts.
struct Family<'a> {
    ctx: &'a Ctx,
    fam_num: u64,
    rows: Rows,
    facts: Vec<Fact>,
    reports: u64,
    /// The family's move to another VK area: (date, new centre).
    transfer: Option<(i32, usize)>,
}

/// Simulates family `fam_index` whose children are numbered from `first_child` (0-based global
/// index); returns its rows with the event log derived.
pub fn simulate(ctx: &Ctx, fam_index: u64, first_child: u64, size: u32) -> Rows {
    let mut rng = ids::stream(ctx.seed, "family", fam_index);
    let cfg = &ctx.cfg;
    let pop = &cfg.population;
    let family_pid = ids::pseudonym(ctx.seed, "family", fam_index);
    let mut fam = Family {
        ctx,
        fam_num: fam_index + 1,
        rows: Rows::default(),
        facts: Vec::new(),
        reports: 0,
        transfer: None,
    };
    fam.rows.family.push(FamilyRow {
        family_pid: family_pid.clone(),
    });

    // ---- family level ----
    let centre = ctx.draw_centre(&mut rng);
    let fwb = codes::CENTRES[centre].community == "FWB";
    let u = ctx.centre_effects[centre];
    let z = ctx.frailty.as_ref().map_or(1.0, |g| g.sample(&mut rng));
    let mut family_contexts = 0u32;
    for &(ci, p) in ctx.contexts(fwb) {
        if codes::CONTEXTS[ci].code != "DISABILITY_CHILD" && bern(&mut rng, p) {
            family_contexts |= 1 << ci;
        }
    }
    let joint = size > 1 && bern(&mut rng, pop.siblings_joint_report);
    let span = (ctx.entry_last - ctx.entry_first).max(0);
    let base_entry = ctx.entry_first + rng.random_range(0..=span);
    let cens = &cfg.censoring;
    let move_rate = cens.move_rate_per_year * z.powf(cens.move_frailty_power);
    let t_move_years: f64 = if move_rate > 0.0 {
        let e: f64 = Exp1.sample(&mut rng);
        e / move_rate
    } else {
        f64::INFINITY
    };
    let lost = bern(&mut rng, cens.lost_share);
    let t_transfer_years: f64 = if !fwb && cens.transfer_rate_per_year > 0.0 {
        let e: f64 = Exp1.sample(&mut rng);
        e / cens.transfer_rate_per_year
    } else {
        f64::INFINITY
    };
    let transfer_centre = ctx.draw_other_vk(&mut rng, centre);

    // ---- children: covariates ----
    let mut kids: Vec<Child> = Vec::with_capacity(size as usize);
    let mut latents: Vec<LatentRow> = Vec::with_capacity(size as usize);
    let mut phase1_e: Vec<[f64; 4]> = Vec::new();
    let mut rereport_e1: Vec<f64> = Vec::new();
    let mut treat_s: Vec<(bool, f64, f64)> = Vec::new();
    for j in 0..size as usize {
        let gidx = first_child + j as u64;
        let entry = if joint || j == 0 {
            base_entry
        } else {
            ctx.entry_first + rng.random_range(0..=span)
        };
        // age
        let prenatal = bern(&mut rng, pop.prenatal_share);
        let band_u: f64 = rng.random();
        let band = ctx
            .age_band_cum
            .iter()
            .position(|&c| band_u < c)
            .unwrap_or(2);
        let age_months: i64 = if prenatal {
            -rng.random_range(1..=pop.prenatal_max_months)
        } else {
            let lo = [0i64, 72, 144][band];
            rng.random_range(lo..lo + 72)
        };
        let chat = !fwb
            && !joint
            && !prenatal
            && band == 2
            && bern(
                &mut rng,
                pop.chat_share_vk / pop.age_band_weights[2].max(1e-12),
            );
        let female = bern(
            &mut rng,
            if chat {
                pop.chat_female_share
            } else {
                pop.female_share
            },
        );
        // forms
        let mut primary = if prenatal {
            "PRENATAL"
        } else {
            ctx.forms(fwb).sample(&mut rng)
        };
        let rules = &pop.form_rules;
        if primary == "PHYS" && age_months < 24 && bern(&mut rng, rules.aht_share_of_phys_under_2) {
            primary = "AHT_SHAKEN";
        }
        let mut contexts = family_contexts;
        if primary == "OTHER" && bern(&mut rng, rules.institutional_share_of_other) {
            primary = "INSTITUTIONAL";
            let c = if bern(&mut rng, 0.5) {
                "RESIDENTIAL"
            } else {
                "SCHOOL"
            };
            contexts |= 1 << context_index(c);
        }
        let primary_form = form_index(primary);
        let mut secondary = Vec::new();
        for &(fi, p) in &ctx.secondary_forms {
            if fi != primary_form && bern(&mut rng, p) {
                secondary.push(fi);
            }
        }
        if secondary
            .iter()
            .any(|&f| codes::FORMS[f].code == "WITNESS_IPV")
            && bern(&mut rng, rules.partner_violence_given_witness)
        {
            contexts |= 1 << context_index("PARTNER_VIOLENCE");
        }
        for &(ci, p) in ctx.contexts(fwb) {
            if codes::CONTEXTS[ci].code == "DISABILITY_CHILD" && bern(&mut rng, p) {
                contexts |= 1 << ci;
            }
        }
        let prior_episode = bern(&mut rng, pop.prior_episode_share);
        let iv = &pop.interventions;
        let safety_plan = bern(
            &mut rng,
            if fwb {
                iv.safety_plan_fwb
            } else {
                iv.safety_plan_vl
            },
        );
        let x = Covariates {
            fwb,
            age_months,
            female,
            prior_episode,
            safety_plan,
            primary_form,
            contexts,
        };
        // treatment (§6.3)
        let tr = &cfg.treatment;
        let risk = [
            "PARENT_MENTAL_ILLNESS",
            "PARENT_SUBSTANCE",
            "PARTNER_VIOLENCE",
            "POVERTY",
        ]
        .iter()
        .filter(|c| x.has_context(c))
        .count() as f64;
        let lp_a = tr.alpha0
            + tr.alpha_age * (age_months.max(0) as f64 / 12.0)
            + tr.alpha_neglect * f64::from(u8::from(primary == "NEGL"))
            + tr.alpha_fwb * f64::from(u8::from(fwb))
            + tr.alpha_risk * risk;
        let propensity = expit(lp_a);
        let treated = bern(&mut rng, propensity);
        let s_days = f64::from(ctx.start_delay.days(&mut rng));
        // latent exponentials shared by the potential outcomes
        let e: [f64; 4] = [
            Exp1.sample(&mut rng),
            Exp1.sample(&mut rng),
            Exp1.sample(&mut rng),
            Exp1.sample(&mut rng),
        ];
        let e1: f64 = Exp1.sample(&mut rng);
        let reviews = bern(&mut rng, cfg.phase1.interval_censored_share);
        // birth, 18th birthday
        let entry_month = dates::month_index(entry);
        let birth_month = entry_month - age_months as i32;
        let d18 = dates::first_of_month(birth_month + 18 * 12);
        // censoring
        let t1 = processes::phase1_times(&ctx.causes, &x, u, &e);
        kids.push(Child {
            num: gidx + 1,
            pid: ids::pseudonym(ctx.seed, "child", gidx),
            entry,
            x,
            secondary,
            chat,
            centre,
            obs_end: ctx.extract.min(d18),
            obs_reason: ObsEnd::Extract,
            reviews,
            fs_start: None,
            episodes: Vec::new(),
            next_seq: if prior_episode { 2 } else { 1 },
            placements: 0,
            interventions: 0,
            assessments: 0,
            birth_month,
        });
        phase1_e.push(e);
        rereport_e1.push(e1);
        treat_s.push((treated, s_days, propensity));
        latents.push(LatentRow {
            child_pid: String::new(),
            family_frailty: z,
            centre_effect: u,
            linear_predictor_safety: ctx.causes[SAFETY].before.eta(&x),
            linear_predictor_rereport: ctx.rereport.eta(&x),
            propensity_intervention: propensity,
            treated,
            intervention_start_days: s_days,
            t_phase1: t1,
            t_rereport_first_latent_days: f64::INFINITY,
            recovery_intercept: None,
            recovery_slope: None,
            po_phase1_vl: (0.0, ""),
            po_phase1_fwb: (0.0, ""),
            po_rereport: [0.0; 4],
            prior_episode,
            t_move_latent_days: 0.0,
            ref_profile: None,
        });
    }
    // moving away and transfers run from the last sibling's entry
    let last_entry = kids.iter().map(|k| k.entry).max().unwrap_or(base_entry);
    let move_date = day_after(last_entry, t_move_years * DAYS_PER_YEAR);
    let transfer_date = day_after(last_entry, t_transfer_years * DAYS_PER_YEAR);
    if transfer_date < NEVER {
        fam.transfer = Some((transfer_date, transfer_centre));
    }
    for (k, lat) in kids.iter_mut().zip(latents.iter_mut()) {
        let death = day_after(k.entry, lat.t_phase1[DEATH]);
        let d18 = dates::first_of_month(k.birth_month + 18 * 12);
        let moved = if lost { ObsEnd::Lost } else { ObsEnd::Moved };
        // ties: death, then 18, then moving, then the extract
        let mut best = (ctx.extract, ObsEnd::Extract);
        for cand in [
            (move_date, moved),
            (d18, ObsEnd::Age18),
            (death, ObsEnd::Death),
        ] {
            if cand.0 <= best.0 {
                best = cand;
            }
        }
        k.obs_end = best.0;
        k.obs_reason = best.1;
        lat.t_move_latent_days = if move_date >= NEVER {
            f64::INFINITY
        } else {
            f64::from(move_date - k.entry)
        };
        lat.child_pid = k.pid.clone();
    }

    // ---- child rows ----
    for k in &kids {
        let prenatal = k.x.age_months < 0;
        fam.rows.child.push(ChildRow {
            child_pid: k.pid.clone(),
            family_pid: family_pid.clone(),
            sex: if k.x.female { "F" } else { "M" },
            birth_ym: (!prenatal).then(|| dates::ym_text(k.birth_month)),
            expected_birth_ym: prenatal.then(|| dates::ym_text(k.birth_month)),
            date_of_18th_birthday: Some(dates::first_of_month(k.birth_month + 18 * 12)),
        });
    }

    // ---- index reports ----
    // (report id, melding type): one melding type per report, shared by the children it names
    let mut index_reports: Vec<(String, &'static str)> = Vec::new();
    if joint {
        let r = fam.new_report_attrs(&mut rng, &kids[0], kids[0].entry, "NEW");
        let id = fam.push_report(r);
        let melding = ctx.melding(fwb).sample(&mut rng);
        for _ in 0..kids.len() {
            index_reports.push((id.clone(), melding));
        }
    } else {
        for k in &kids {
            let r = fam.new_report_attrs(&mut rng, k, k.entry, "NEW");
            let melding = if k.chat {
                "CHAT"
            } else {
                ctx.melding(fwb).sample(&mut rng)
            };
            index_reports.push((fam.push_report(r), melding));
        }
    }

    // ---- per child processes ----
    for (j, k) in kids.iter_mut().enumerate() {
        let (treated, s_days, _) = treat_s[j];
        let lat = &mut latents[j];
        // potential outcomes from the same exponentials
        for (c, fwb_c) in [(0usize, false), (1, true)] {
            let mut xc = k.x;
            xc.fwb = fwb_c;
            let t = processes::phase1_times(&ctx.causes, &xc, u, &phase1_e[j]);
            let (cause, time) = first_cause(&t);
            let po = (time, processes::CAUSES[cause]);
            if c == 0 {
                lat.po_phase1_vl = po;
            } else {
                lat.po_phase1_fwb = po;
            }
            for a in 0..2 {
                let h = rereport_hazard(ctx, &xc, u, z, (a == 1).then_some(s_days));
                lat.po_rereport[c * 2 + a] = h.inverse(rereport_e1[j]) * DAYS_PER_MONTH;
            }
        }
        let h_actual = rereport_hazard(ctx, &k.x, u, z, treated.then_some(s_days));
        lat.t_rereport_first_latent_days = h_actual.inverse(rereport_e1[j]) * DAYS_PER_MONTH;
        if treated {
            k.fs_start = Some(k.entry + s_days as i32);
        }
        lat.ref_profile = reference_profile(&k.x, treated);

        // index episode (phase 1)
        let (index_report, melding) = index_reports[j].clone();
        let source = fam
            .rows
            .report
            .iter()
            .find(|r| r.report_id == index_report)
            .map_or("OTHER", |r| r.source_code);
        let t1 = lat.t_phase1;
        fam.run_spell(
            &mut rng,
            k,
            Spell {
                start: k.entry,
                report_id: index_report.clone(),
                melding,
                source,
                t: t1,
                index: true,
            },
        );
        let ep = k.episode_at(k.entry).map(str::to_string);
        fam.push_report_child(
            &mut rng,
            k,
            &index_report,
            k.entry,
            ep,
            None,
            k.x.primary_form,
            true,
        );

        // phase 2: re-reports
        let mut acc = rereport_e1[j];
        for _ in 0..500 {
            let t_days = h_actual.inverse(acc) * DAYS_PER_MONTH;
            let date = day_after(k.entry, t_days);
            if date > k.obs_end {
                break;
            }
            fam.rereport(&mut rng, k, date);
            let e: f64 = Exp1.sample(&mut rng);
            acc += e;
        }

        // phase 3
        let (b0, b1) = fam.assessments(&mut rng, k, treated);
        lat.recovery_intercept = b0;
        lat.recovery_slope = b1;

        // observation window and its end
        fam.rows.observation_window.push(ObservationWindowRow {
            child_pid: k.pid.clone(),
            obs_start: k.entry,
            obs_end: k.obs_end,
            obs_end_reason: k.obs_reason.code(),
        });
        let end_event = match k.obs_reason {
            ObsEnd::Extract => "END_OF_FOLLOWUP",
            ObsEnd::Age18 => "TURNED_18",
            ObsEnd::Moved => "MOVED_ABROAD",
            ObsEnd::Lost => "LOST_TO_FOLLOWUP",
            ObsEnd::Death => "DEATH",
        };
        let ep = k.episode_at(k.obs_end).map(str::to_string);
        fam.facts
            .push(Fact::day(&k.pid, ep.as_deref(), end_event, k.obs_end));
    }

    // ---- duplicates of reports within the window (§6.4(a)) ----
    fam.inject_duplicates(&mut rng, &kids);

    let mut rows = fam.rows;
    rows.event = events::derive(&rows, &fam.facts, first_child);
    rows.child_latent = latents;
    rows
}

/// The re-report cumulative intensity (months) of a child: z·exp(xβ + u)·λt^ν, multiplied by the
/// FAMILY_SUPPORT hazard ratio from its start (days) on.
fn rereport_hazard(
    ctx: &Ctx,
    x: &Covariates,
    u: f64,
    z: f64,
    fs_start_days: Option<f64>,
) -> Piecewise {
    let ph2 = &ctx.cfg.phase2;
    let h = Piecewise::ph(ph2.lambda, ph2.shape, z * (ctx.rereport.eta(x) + u).exp());
    match fs_start_days {
        Some(s) => h.with_change(s / DAYS_PER_MONTH, ph2.hr_family_support),
        None => h,
    }
}

/// The truth.cif profile a child belongs to: age 6-11, primary EMO, no contexts, first episode,
/// untreated, no safety plan.
pub fn reference_profile(x: &Covariates, treated: bool) -> Option<&'static str> {
    let ok = (72..144).contains(&x.age_months)
        && x.primary_form == form_index("EMO")
        && x.contexts == 0
        && !x.prior_episode
        && !x.safety_plan
        && !treated;
    ok.then_some(if x.fwb { "REF_FWB" } else { "REF_VL" })
}

/// One phase-1 process: an episode opened at `start` (with a transfer possibly splitting it).
struct Spell {
    start: i32,
    report_id: String,
    melding: &'static str,
    source: &'static str,
    /// Latent times per cause, days from `start`.
    t: [f64; 4],
    /// The index episode (treatment, transfers, death).
    index: bool,
}

impl Family<'_> {
    fn new_report_attrs(
        &self,
        rng: &mut ChaCha8Rng,
        k: &Child,
        date: i32,
        kind: &'static str,
    ) -> NewReport {
        let (source, channel) = if k.chat && kind == "NEW" {
            ("CHAT_NUPRAATIKEROVER", "CHAT")
        } else {
            (
                self.ctx.referral(k.x.fwb).sample(rng),
                self.ctx.channel.sample(rng),
            )
        };
        NewReport {
            centre: k.centre,
            date,
            source,
            channel,
            kind,
        }
    }

    fn push_report(&mut self, r: NewReport) -> String {
        self.reports += 1;
        let id = ids::id("RP", self.fam_num, self.reports);
        self.rows.report.push(ReportRow {
            report_id: id.clone(),
            centre_id: codes::CENTRES[r.centre].id,
            report_date: r.date,
            source_code: r.source,
            channel: r.channel,
            report_kind: r.kind,
        });
        id
    }

    /// The report_child row (report of `date`, in `episode`) and its forms with findings.
    #[allow(clippy::too_many_arguments)]
    fn push_report_child(
        &mut self,
        rng: &mut ChaCha8Rng,
        k: &Child,
        report_id: &str,
        date: i32,
        episode: Option<String>,
        duplicate_of: Option<&str>,
        primary: usize,
        index: bool,
    ) {
        self.rows.report_child.push(ReportChildRow {
            report_id: report_id.to_string(),
            child_pid: k.pid.clone(),
            episode_id: episode.clone(),
            is_duplicate_of: duplicate_of.map(str::to_string),
        });
        let secondary: Vec<usize> = if index {
            k.secondary.clone()
        } else {
            self.ctx
                .secondary_forms
                .iter()
                .filter(|(fi, p)| *fi != primary && bern(rng, *p))
                .map(|(fi, _)| *fi)
                .collect()
        };
        let ph2 = &self.ctx.cfg.phase2;
        let mut xf = k.x;
        xf.primary_form = primary;
        let p_primary = expit(logit(ph2.substantiation_base) + self.ctx.substantiation.eta(&xf));
        let mut substantiated_dates = Vec::new();
        let forms = std::iter::once((primary, true)).chain(secondary.iter().map(|&f| (f, false)));
        for (f, is_primary) in forms {
            let p = if is_primary {
                p_primary
            } else {
                p_primary * ph2.secondary_factor
            };
            let yes = bern(rng, p);
            let finding = if yes {
                if bern(rng, ph2.indicated_share) {
                    "INDICATED"
                } else {
                    "SUBSTANTIATED"
                }
            } else if bern(rng, ph2.undetermined_share) {
                "UNDETERMINED"
            } else {
                "NOT_SUBSTANTIATED"
            };
            let fd = date + self.ctx.finding_lag.days(rng);
            let (finding, finding_date) = if fd > self.ctx.extract {
                ("PENDING", None)
            } else {
                (finding, Some(fd))
            };
            if matches!(finding, "SUBSTANTIATED" | "INDICATED") {
                substantiated_dates.push(fd);
            }
            self.rows.report_child_form.push(FormRow {
                report_id: report_id.to_string(),
                child_pid: k.pid.clone(),
                form_code: codes::FORMS[f].code,
                is_primary,
                finding,
                finding_date,
            });
        }
        if let Some(&d) = substantiated_dates.iter().min() {
            self.facts.push(Fact {
                child_pid: k.pid.clone(),
                episode_id: episode,
                event_type: "SUBSTANTIATION",
                date: d,
                precision: "DAY",
                interval_lower: None,
                source_table: Some("report_child_form"),
                source_id: Some(report_id.to_string()),
            });
        }
    }

    /// A re-report on `date`: a follow-up while the episode is open, else a new episode.
    fn rereport(&mut self, rng: &mut ChaCha8Rng, k: &mut Child, date: i32) {
        let open = k.open_on(date);
        let kind = if open {
            "FOLLOW_UP_OPEN"
        } else {
            "RE_REPORT_CLOSED"
        };
        let attrs = self.new_report_attrs(rng, k, date, kind);
        let source = attrs.source;
        let id = self.push_report(attrs);
        let primary = if bern(rng, self.ctx.cfg.phase2.rereport_same_form) {
            k.x.primary_form
        } else {
            form_index(self.ctx.forms(k.x.fwb).sample(rng))
        };
        if !open {
            // a later episode: the same phase-1 model with fresh latent times, prior episode set
            let mut x = k.x;
            x.prior_episode = true;
            let u = self.ctx.centre_effects[k.centre];
            let mut t = [0.0; 4];
            for (i, m) in self.ctx.causes.iter().enumerate().take(3) {
                let e: f64 = Exp1.sample(rng);
                t[i] = m.hazard(&x, u).inverse(e);
            }
            t[DEATH] = f64::INFINITY;
            let melding = self.ctx.melding(k.x.fwb).sample(rng);
            self.run_spell(
                rng,
                k,
                Spell {
                    start: date,
                    report_id: id.clone(),
                    melding,
                    source,
                    t,
                    index: false,
                },
            );
        }
        let ep = k.episode_at(date).map(str::to_string);
        self.push_report_child(rng, k, &id, date, ep, None, primary, false);
    }

    fn intervention(
        &mut self,
        k: &mut Child,
        code: &'static str,
        sector: &'static str,
        start: i32,
        duration: Option<i32>,
        court: bool,
    ) -> Option<i32> {
        if start > k.obs_end || start < k.entry {
            return None;
        }
        let (end, reason) = match duration {
            Some(d) if start + d <= k.obs_end => (Some(start + d), Some("COMPLETED")),
            Some(_) | None => match k.obs_reason {
                ObsEnd::Extract | ObsEnd::Lost => (None, None),
                r => (Some(k.obs_end), Some(r.end_reason())),
            },
        };
        k.interventions += 1;
        let episode = k.episode_at(start).unwrap_or_default().to_string();
        self.rows.intervention.push(InterventionRow {
            intervention_id: ids::id("IV", k.num, k.interventions),
            episode_id: episode,
            intervention_code: code,
            provider_sector: sector,
            start_date: start,
            end_date: end,
            end_reason: reason,
            is_court_ordered: court,
        });
        Some(start)
    }

    fn run_spell(&mut self, rng: &mut ChaCha8Rng, k: &mut Child, s: Spell) {
        let ctx = self.ctx;
        let ph1 = &ctx.cfg.phase1;
        let (cause, t) = first_cause(&s.t);
        let event_date = day_after(s.start, t);
        // the recorded phase-1 event (None when censored)
        let mut safety_lower = None;
        let recorded: Option<i32> = match cause {
            SAFETY if k.reviews => {
                let mut prev = s.start;
                let mut rec = NEVER;
                while prev < NEVER && prev <= k.obs_end {
                    let r =
                        prev + rng.random_range(ph1.review_min_days..=ph1.review_max_days) as i32;
                    if r >= event_date {
                        rec = r;
                        break;
                    }
                    prev = r;
                }
                safety_lower = Some(prev);
                (rec <= k.obs_end).then_some(rec)
            }
            _ => (event_date <= k.obs_end).then_some(event_date),
        };
        let candidate: Option<(i32, &'static str)> = match (cause, recorded) {
            (_, None) => None,
            (SAFETY, Some(r)) => {
                let reason = if bern(rng, ph1.safety_achieved_share) {
                    "SAFETY_ACHIEVED"
                } else {
                    "REFERRED_ON"
                };
                Some((r + ctx.closure_after_safety.days(rng), reason))
            }
            (PLACEMENT, Some(r)) => {
                Some((r + ctx.closure_after_placement.days(rng), "REFERRED_ON"))
            }
            (CLOSED, Some(r)) => {
                let u: f64 = rng.random();
                let reason = if u < 0.35 {
                    "FAMILY_WITHDREW"
                } else if u < 0.70 {
                    "NO_MALTREATMENT_FOUND"
                } else if u < 0.85 {
                    "REFERRED_PARQUET"
                } else {
                    "OTHER"
                };
                Some((r, reason))
            }
            (_, Some(r)) => Some((r, "DEATH")),
        };
        let closure: Option<(i32, &'static str)> = match candidate {
            Some((d, reason)) if d <= k.obs_end => Some((d, reason)),
            _ => k.obs_reason.closure_reason().map(|r| (k.obs_end, r)),
        };
        // transfer to another VK (index episode only, while open)
        let fam_transfer = if s.index { self.transfer } else { None };
        let transfer = fam_transfer.filter(|&(td, _)| {
            td > s.start && td < k.obs_end && closure.is_none_or(|(c, _)| td < c)
        });
        let seq = k.next_seq;
        let ep1 = ids::id("EP", k.num, seq as u64);
        let age = k.age_months_at(s.start);
        let legal = legal_framework(s.melding, s.source, k.x.fwb);
        let mut ep_row = EpisodeRow {
            episode_id: ep1.clone(),
            child_pid: k.pid.clone(),
            centre_id: codes::CENTRES[k.centre].id,
            entry_date: s.start,
            index_report_id: Some(s.report_id.clone()),
            melding_type: s.melding,
            referral_source: s.source,
            legal_framework_at_entry: legal,
            age_at_entry_months: age,
            closure_date: closure.map(|c| c.0),
            closure_reason: closure.map(|c| c.1),
            transferred_to_episode_id: None,
            episode_seq: seq,
        };
        k.next_seq += 1;
        let context_codes: Vec<&'static str> = codes::CONTEXTS
            .iter()
            .enumerate()
            .filter(|(i, _)| k.x.contexts & (1 << i) != 0)
            .map(|(_, c)| c.code)
            .collect();
        let recorded_ctx = (s.start + rng.random_range(0..=14)).min(k.obs_end);
        for c in &context_codes {
            self.rows.episode_context.push(ContextRow {
                episode_id: ep1.clone(),
                context_code: c,
                recorded_date: Some(recorded_ctx),
            });
        }
        if let Some((td, new_centre)) = transfer {
            let ep2 = ids::id("EP", k.num, k.next_seq as u64);
            let seq2 = k.next_seq;
            k.next_seq += 1;
            ep_row.closure_date = Some(td);
            ep_row.closure_reason = Some("TRANSFER_OTHER_CENTRE");
            ep_row.transferred_to_episode_id = Some(ep2.clone());
            self.rows.episode.push(ep_row);
            k.episodes.push((ep1.clone(), s.start, Some(td)));
            self.facts
                .push(Fact::day(&k.pid, Some(&ep1), "TRANSFER_OUT", td));
            k.centre = new_centre;
            self.rows.episode.push(EpisodeRow {
                episode_id: ep2.clone(),
                child_pid: k.pid.clone(),
                centre_id: codes::CENTRES[new_centre].id,
                entry_date: td,
                index_report_id: None,
                melding_type: s.melding,
                referral_source: s.source,
                legal_framework_at_entry: legal,
                age_at_entry_months: k.age_months_at(td),
                closure_date: closure.map(|c| c.0),
                closure_reason: closure.map(|c| c.1),
                transferred_to_episode_id: None,
                episode_seq: seq2,
            });
            k.episodes.push((ep2.clone(), td, closure.map(|c| c.0)));
            self.facts
                .push(Fact::day(&k.pid, Some(&ep2), "TRANSFER_IN", td));
            for c in &context_codes {
                self.rows.episode_context.push(ContextRow {
                    episode_id: ep2.clone(),
                    context_code: c,
                    recorded_date: Some(td),
                });
            }
        } else {
            self.rows.episode.push(ep_row);
            k.episodes
                .push((ep1.clone(), s.start, closure.map(|c| c.0)));
        }

        // the phase-1 event
        if let Some(r) = recorded {
            let ep = k.episode_at(r).map(str::to_string);
            match cause {
                SAFETY => {
                    let interval = k.reviews;
                    self.facts.push(Fact {
                        child_pid: k.pid.clone(),
                        episode_id: ep,
                        event_type: "SAFETY_REACHED",
                        date: r,
                        precision: if interval { "INTERVAL" } else { "DAY" },
                        interval_lower: if interval { safety_lower } else { None },
                        source_table: None,
                        source_id: None,
                    });
                }
                PLACEMENT => self.placement(rng, k, r),
                _ => {}
            }
        }

        // interventions of the episode
        let sector = if k.x.fwb { "SOS" } else { "VK" };
        let closure_day = closure.map_or(NEVER, |c| c.0);
        let within = |d: i32| d <= closure_day;
        match s.melding {
            "ADVIES" | "CHAT" => {
                let st = s.start + rng.random_range(0..=3);
                let dur = ctx.short_duration.days(rng);
                if within(st) {
                    self.intervention(k, "ADVICE_ONLY", sector, st, Some(dur), false);
                }
            }
            "DOSSIER" | "MANO" => {
                let st = s.start + rng.random_range(0..=14);
                let dur = ctx.assessment_duration.days(rng);
                if within(st) {
                    self.intervention(k, "VK_ASSESSMENT", sector, st, Some(dur), false);
                }
                if s.melding == "MANO" {
                    let st = s.start + rng.random_range(0..=30);
                    let dur = ctx.long_duration.days(rng);
                    if within(st) {
                        self.intervention(k, "MANO_PROCEDURE", sector, st, Some(dur), false);
                    }
                }
            }
            _ => {
                let st = s.start + rng.random_range(0..=21);
                let dur = ctx.assessment_duration.days(rng);
                if within(st) {
                    self.intervention(k, "SOS_BILAN", sector, st, Some(dur), false);
                }
                if s.source == "SAJ" || s.source == "SPJ" {
                    let st = s.start + rng.random_range(14..=60);
                    let dur = ctx.long_duration.days(rng);
                    let (code, sec, court) = if s.source == "SAJ" {
                        ("SAJ_AGREEMENT", "SAJ", false)
                    } else {
                        ("SPJ_MEASURE", "SPJ", true)
                    };
                    if within(st)
                        && self
                            .intervention(k, code, sec, st, Some(dur), court)
                            .is_some()
                        && court
                    {
                        let ep = k.episode_at(st).map(str::to_string);
                        self.facts
                            .push(Fact::day(&k.pid, ep.as_deref(), "COURT_MEASURE", st));
                    }
                }
            }
        }
        if k.x.safety_plan {
            let st = s.start + rng.random_range(0..=14);
            let dur = ctx.long_duration.days(rng);
            if within(st)
                && self
                    .intervention(k, "SAFETY_PLAN", sector, st, Some(dur), false)
                    .is_some()
            {
                let ep = k.episode_at(st).map(str::to_string);
                self.facts
                    .push(Fact::day(&k.pid, ep.as_deref(), "SAFETY_PLAN_AGREED", st));
            }
        }
        let iv = &ctx.cfg.population.interventions;
        if bern(rng, iv.prosecutor_referral) {
            let st = s.start + rng.random_range(7..=120);
            let court_after = rng.random_range(30..=180);
            let court = bern(rng, iv.court_measure_given_referral);
            if within(st)
                && self
                    .intervention(k, "REFERRAL_PROSECUTOR", sector, st, Some(0), false)
                    .is_some()
            {
                let ep = k.episode_at(st).map(str::to_string);
                self.facts
                    .push(Fact::day(&k.pid, ep.as_deref(), "PARQUET_REFERRAL", st));
                let cd = st + court_after;
                if court && cd <= k.obs_end {
                    let ep = k.episode_at(cd).map(str::to_string);
                    self.facts
                        .push(Fact::day(&k.pid, ep.as_deref(), "COURT_MEASURE", cd));
                }
            }
        }
        if s.index {
            if let Some(fs) = k.fs_start {
                let dur = ctx.intervention_duration.days(rng);
                let sec = if k.x.fwb { "SOS" } else { "CAW" };
                self.intervention(k, "FAMILY_SUPPORT", sec, fs, Some(dur), false);
            }
            if k.x.age_months < 0 {
                let st = s.start + rng.random_range(0..=30);
                let birth = dates::first_of_month(k.birth_month);
                let dur = (birth + 90 - st).max(1);
                if within(st) {
                    self.intervention(k, "PRENATAL_FOLLOWUP", sector, st, Some(dur), false);
                }
            }
        }
    }

    /// A placement starting on `start` (the PLACEMENT cause of phase 1), with at most one move.
    fn placement(&mut self, rng: &mut ChaCha8Rng, k: &mut Child, start: i32) {
        let ctx = self.ctx;
        let ph1 = &ctx.cfg.phase1;
        k.placements += 1;
        let removal_seq = k.placements;
        let settings = [
            "KIN_FOSTER",
            "NONKIN_FOSTER",
            "RESIDENTIAL",
            "CRISIS",
            "HOSPITAL",
        ];
        let setting_w = [0.30, 0.25, 0.25, 0.15, 0.05];
        let pick = |rng: &mut ChaCha8Rng| {
            let mut u: f64 = rng.random();
            for (i, w) in setting_w.iter().enumerate() {
                if u < *w {
                    return settings[i];
                }
                u -= w;
            }
            settings[0]
        };
        let total = ctx.placement_duration.days(rng);
        let moves = bern(rng, ph1.placement_move_share);
        let move_after = if moves {
            rng.random_range(1..=total.max(2))
        } else {
            total + 1
        };
        let exit_u: f64 = rng.random();
        let exit = if exit_u < 0.65 {
            "REUNIFICATION"
        } else if exit_u < 0.80 {
            "KIN_GUARDIANSHIP"
        } else if exit_u < 0.85 {
            "ADOPTION"
        } else if exit_u < 0.92 {
            "RUNAWAY"
        } else {
            "OTHER"
        };
        let mut segments: Vec<(i32, i32, &'static str)> = Vec::new();
        let first_setting = pick(rng);
        if moves && move_after < total {
            segments.push((start, start + move_after, "MOVE"));
            segments.push((start + move_after, start + total, exit));
        } else {
            segments.push((start, start + total, exit));
        }
        let second_setting = pick(rng);
        let mut final_end = None;
        for (i, (s, e, reason)) in segments.iter().enumerate() {
            if *s > k.obs_end {
                break;
            }
            let (end, exit_reason) = if *e <= k.obs_end {
                (Some(*e), Some(*reason))
            } else {
                match k.obs_reason {
                    ObsEnd::Extract | ObsEnd::Lost => (None, None),
                    ObsEnd::Age18 => (Some(k.obs_end), Some("AGE_18")),
                    ObsEnd::Death => (Some(k.obs_end), Some("DEATH")),
                    ObsEnd::Moved => (Some(k.obs_end), Some("OTHER")),
                }
            };
            let ep = k.episode_at(*s).unwrap_or_default().to_string();
            let pid_seq = k.placements * 10 + i as i64;
            self.rows.placement.push(PlacementRow {
                placement_id: ids::id("PL", k.num, pid_seq as u64),
                episode_id: ep.clone(),
                removal_seq,
                setting: if i == 0 {
                    first_setting
                } else {
                    second_setting
                },
                start_date: *s,
                end_date: end,
                exit_reason,
                is_trial_home_visit: false,
            });
            if i > 0 {
                self.facts
                    .push(Fact::day(&k.pid, Some(&ep), "PLACEMENT_MOVE", *s));
            }
            if exit_reason == Some("REUNIFICATION")
                && let Some(e) = end
            {
                self.facts
                    .push(Fact::day(&k.pid, Some(&ep), "REUNIFICATION", e));
            }
            final_end = end;
            if end.is_none() {
                break;
            }
        }
        let sector = if first_setting == "RESIDENTIAL" {
            "RESIDENTIAL"
        } else {
            "FOSTER"
        };
        let dur = final_end.map(|e| e - start);
        if start >= k.entry && start <= k.obs_end {
            k.interventions += 1;
            let episode = k.episode_at(start).unwrap_or_default().to_string();
            let (end_date, end_reason) = match dur {
                Some(d) => (Some(start + d), Some("COMPLETED")),
                None => (None, None),
            };
            self.rows.intervention.push(InterventionRow {
                intervention_id: ids::id("IV", k.num, k.interventions),
                episode_id: episode,
                intervention_code: "OUT_OF_HOME_PLACEMENT",
                provider_sector: sector,
                start_date: start,
                end_date,
                end_reason,
                is_court_ordered: false,
            });
        }
    }

    /// Phase-3 assessments (§6.5); returns the child's recovery intercept and slope if assessed.
    fn assessments(
        &mut self,
        rng: &mut ChaCha8Rng,
        k: &mut Child,
        treated: bool,
    ) -> (Option<f64>, Option<f64>) {
        let ctx = self.ctx;
        let ph3 = &ctx.cfg.phase3;
        let assessed = bern(rng, ph3.assessed_share);
        let baseline = k.entry + (rng.random::<f64>() * ph3.baseline_max_days).floor() as i32;
        let age = k.age_months_at(baseline);
        if !assessed || !(18..=215).contains(&age) {
            return (None, None);
        }
        let (code, tr, lo, hi) = if age >= 48 {
            ("SDQ_P", &ph3.sdq, 0.0, 40.0)
        } else {
            ("CBCL_1_5", &ph3.cbcl, 25.0, 100.0)
        };
        let z0: f64 = Ctx::normal(rng, 1.0);
        let z1: f64 = Ctx::normal(rng, 1.0);
        let r = tr.corr_b0_b1;
        let b0 = tr.sd_b0 * z0;
        let b1 = tr.sd_b1 * (r * z0 + (1.0 - r * r).max(0.0).sqrt() * z1);
        let sex_shift = if k.x.primary_form == form_index("SEX") {
            tr.shift_form_sex
        } else {
            0.0
        };
        let witness = k
            .secondary
            .iter()
            .chain(std::iter::once(&k.x.primary_form))
            .any(|&f| codes::FORMS[f].code == "WITNESS_IPV");
        let intercept =
            tr.b0_mean + sex_shift + if witness { tr.shift_witness_ipv } else { 0.0 } + b0;
        let slope = tr.slope + if treated { tr.slope_treated } else { 0.0 } + b1;
        let waves = [
            ("BASELINE", baseline),
            (
                "M6",
                k.entry + 182 + Ctx::normal(rng, ph3.m6_sd_days).round() as i32,
            ),
            (
                "M12",
                k.entry + 365 + Ctx::normal(rng, ph3.m12_sd_days).round() as i32,
            ),
        ];
        let mut baseline_z = 0.0;
        for (w, (wave, date)) in waves.iter().enumerate() {
            let date = (*date).max(k.entry);
            let t = f64::from(date - k.entry);
            let g = t.min(365.0) / 365.0;
            let y = intercept + slope * g + Ctx::normal(rng, tr.sd_error);
            let score = y.round().clamp(lo, hi);
            let mcar = bern(rng, ph3.mcar);
            let mar = if w == 0 {
                baseline_z = (score - tr.b0_mean) / tr.sd_b0.max(1e-9);
                false
            } else {
                let p = expit(
                    ph3.mar_intercept
                        + ph3.mar_baseline_z * baseline_z
                        + ph3.mar_fwb * f64::from(u8::from(k.x.fwb)),
                );
                bern(rng, p)
            };
            let valid = !bern(rng, ph3.invalid_share);
            if mcar || mar || date > k.obs_end {
                continue;
            }
            k.assessments += 1;
            let id = ids::id("AS", k.num, k.assessments);
            if code == "SDQ_P" {
                for (sub, v) in sdq_subscales(rng, score) {
                    self.rows.assessment_subscale.push(SubscaleRow {
                        assessment_id: id.clone(),
                        subscale_code: sub,
                        score: v,
                    });
                }
            }
            self.rows.assessment.push(AssessmentRow {
                assessment_id: id,
                child_pid: k.pid.clone(),
                episode_id: k.episode_at(date).map(str::to_string),
                instrument_code: code,
                assessment_date: date,
                planned_wave: wave,
                score,
                is_valid: valid,
            });
        }
        (Some(intercept), Some(slope))
    }

    /// Injects duplicate reports within the de-duplication window (§6.4(a)).
    fn inject_duplicates(&mut self, rng: &mut ChaCha8Rng, kids: &[Child]) {
        let ph2 = &self.ctx.cfg.phase2;
        let n = self.rows.report.len();
        for i in 0..n {
            let dup = bern(rng, ph2.duplicate_share);
            let lag = rng.random_range(0..ph2.duplicate_window_days) as i32;
            let flagged = bern(rng, ph2.duplicate_flagged_share);
            if !dup {
                continue;
            }
            let orig = self.rows.report[i].clone();
            let date = orig.report_date + lag;
            let named: Vec<usize> = self
                .rows
                .report_child
                .iter()
                .filter(|rc| rc.report_id == orig.report_id)
                .filter_map(|rc| kids.iter().position(|k| k.pid == rc.child_pid))
                .collect();
            if named.is_empty() || named.iter().any(|&j| date > kids[j].obs_end) {
                continue;
            }
            let id = self.push_report(NewReport {
                centre: codes::CENTRES
                    .iter()
                    .position(|c| c.id == orig.centre_id)
                    .unwrap_or(0),
                date,
                source: orig.source_code,
                channel: orig.channel,
                kind: orig.report_kind,
            });
            for j in named {
                let k = &kids[j];
                let primary = self
                    .rows
                    .report_child_form
                    .iter()
                    .find(|f| f.report_id == orig.report_id && f.child_pid == k.pid && f.is_primary)
                    .map_or(k.x.primary_form, |f| form_index(f.form_code));
                let dup_of = flagged.then_some(orig.report_id.as_str());
                // a duplicate names the original's episode (never one opened later)
                let orig_ep = self
                    .rows
                    .report_child
                    .iter()
                    .find(|rc| rc.report_id == orig.report_id && rc.child_pid == k.pid)
                    .and_then(|rc| rc.episode_id.clone());
                self.push_report_child(rng, k, &id, date, orig_ep, dup_of, primary, false);
            }
        }
    }
}

/// Legal framework at entry from the melding type and referral source.
fn legal_framework(melding: &str, source: &str, fwb: bool) -> &'static str {
    match (melding, source, fwb) {
        ("MANO", _, _) => "MANO",
        (_, "SAJ", true) => "SAJ",
        (_, "SPJ", true) => "SPJ",
        (_, "PARQUET_YOUTH", _) => "PARQUET",
        _ => "VOLUNTARY",
    }
}

/// SDQ subscales: the total split over EMO, CONDUCT, HYPER, PEER (each 0-10, summing to the total),
/// plus PROSOCIAL and IMPACT.
fn sdq_subscales(rng: &mut ChaCha8Rng, total: f64) -> Vec<(&'static str, f64)> {
    let names = ["EMO", "CONDUCT", "HYPER", "PEER"];
    let base = [0.28, 0.22, 0.30, 0.20];
    let mut w = [0.0; 4];
    for i in 0..4 {
        w[i] = base[i] * (0.6 + 0.8 * rng.random::<f64>());
    }
    let sw: f64 = w.iter().sum();
    let total_i = total.round().clamp(0.0, 40.0) as i64;
    let mut parts = [0i64; 4];
    for i in 0..4 {
        parts[i] = ((total_i as f64) * w[i] / sw).floor() as i64;
    }
    let mut rest = total_i - parts.iter().sum::<i64>();
    let mut i = 0;
    while rest > 0 {
        if parts[i % 4] < 10 {
            parts[i % 4] += 1;
            rest -= 1;
        }
        i += 1;
    }
    // cap at 10, moving the overflow to subscales with room
    loop {
        let over: i64 = parts.iter().map(|p| (p - 10).max(0)).sum();
        if over == 0 {
            break;
        }
        for p in parts.iter_mut() {
            if *p > 10 {
                *p = 10;
            }
        }
        let mut left = over;
        for p in parts.iter_mut() {
            while *p < 10 && left > 0 {
                *p += 1;
                left -= 1;
            }
        }
    }
    let prosocial = rng.random_range(2..=10) as f64;
    let impact = ((total / 4.0).round() + f64::from(rng.random_range(-1..=1))).clamp(0.0, 10.0);
    let mut out: Vec<(&'static str, f64)> = names
        .iter()
        .zip(parts)
        .map(|(n, p)| (*n, p as f64))
        .collect();
    out.push(("PROSOCIAL", prosocial));
    out.push(("IMPACT", impact));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdq_subscales_sum_to_the_total_and_stay_in_range() {
        let mut rng = ids::stream(1, "t", 0);
        for total in 0..=40 {
            let s = sdq_subscales(&mut rng, f64::from(total));
            let sum: f64 = s.iter().take(4).map(|x| x.1).sum();
            assert_eq!(sum, f64::from(total));
            assert!(s.iter().all(|x| (0.0..=10.0).contains(&x.1)));
        }
    }
}
