//! Validation of a parsed protocol: every problem with its key path, line and a hint.

use std::collections::BTreeSet;
use std::fmt;

use super::locate::{line_col, locate};
use super::{CompareMethod, Estimand, Protocol, Range, Rule, Timing};
use crate::covariates::{self, CovariateKind};
use crate::{codes, outcomes, schema};

/// One problem in a protocol file.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Key path, e.g. `cohort.rule[2].centre[0]` (empty for a syntax error).
    pub path: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    /// How to fix it (the nearest valid code, the allowed values...).
    pub hint: Option<String>,
}

/// Every problem found in a protocol file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct ProtocolError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{}: {n} problem{} in the protocol",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "  {}", self.file)?;
            if let (Some(l), Some(c)) = (p.line, p.column) {
                write!(f, ":{l}:{c}")?;
            }
            if !p.path.is_empty() {
                write!(f, ": {}", p.path)?;
            }
            write!(f, ": {}", p.message)?;
            if let Some(h) = &p.hint {
                write!(f, " ({h})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

struct Check<'a> {
    text: &'a str,
    problems: Vec<Problem>,
}

impl Check<'_> {
    fn problem(
        &mut self,
        path: impl Into<String>,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let path = path.into();
        let pos = locate(self.text, &path);
        self.problems.push(Problem {
            line: pos.map(|p| p.0),
            column: pos.map(|p| p.1),
            path,
            message: message.into(),
            hint,
        });
    }

    /// Checks each code of `values` against `allowed`, suggesting the nearest.
    fn codes(&mut self, path: &str, what: &str, values: &[String], allowed: &[&str]) {
        if values.is_empty() {
            self.problem(
                path,
                format!("an empty list of {what}"),
                Some("name at least one".into()),
            );
        }
        for (i, v) in values.iter().enumerate() {
            if !allowed.contains(&v.as_str()) {
                self.problem(
                    format!("{path}[{i}]"),
                    format!("unknown {what} \"{v}\""),
                    Some(suggest(v, allowed.iter().copied())),
                );
            }
        }
    }

    fn range(&mut self, path: &str, r: &Range, lo: i64, hi: i64) {
        if let (Some(a), Some(b)) = (r.min, r.max)
            && a > b
        {
            self.problem(path, format!("min {a} is greater than max {b}"), None);
        }
        for v in [r.min, r.max].into_iter().flatten() {
            if v < lo || v > hi {
                self.problem(
                    path,
                    format!("{v} is outside the possible range {lo}..{hi}"),
                    None,
                );
            }
        }
        if r.min.is_none() && r.max.is_none() {
            self.problem(path, "a range needs min, max or both", None);
        }
    }
}

/// "did you mean" text: the nearest of `allowed`, or the list when nothing is near.
pub(crate) fn suggest<'a>(value: &str, allowed: impl Iterator<Item = &'a str>) -> String {
    let all: Vec<&str> = allowed.collect();
    let upper = value.to_uppercase();
    let best = all
        .iter()
        .map(|a| (strsim::jaro_winkler(&upper, &a.to_uppercase()), *a))
        .max_by(|x, y| x.0.total_cmp(&y.0));
    match best {
        Some((score, a)) if score >= 0.7 => format!("did you mean \"{a}\"?"),
        _ if all.len() <= 12 => format!("one of: {}", all.join(", ")),
        _ => "see `workbench study codes`".into(),
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| s[r].parse::<u32>().ok();
    match (num(0..4), num(5..7), num(8..10)) {
        (Some(y), Some(m), Some(d)) => {
            let days = match m {
                1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
                4 | 6 | 9 | 11 => 30,
                2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
                2 => 28,
                _ => return false,
            };
            (1900..=2200).contains(&y) && d >= 1 && d <= days
        }
        _ => false,
    }
}

/// The criteria a rule sets (by key).
pub(crate) fn criteria(r: &Rule) -> Vec<&'static str> {
    let mut out = Vec::new();
    macro_rules! has {
        ($($f:ident),*) => { $( if r.$f.is_some() { out.push(stringify!($f)); } )* };
    }
    has!(
        age_at_entry_years,
        age_at_entry_months,
        prenatal,
        sex,
        community,
        region,
        centre,
        referral_source,
        referral_group,
        melding_type,
        forms,
        findings,
        contexts,
        prior_episodes,
        episode_seq,
        washout_days,
        entry_year
    );
    out
}

const COMMUNITIES: &[&str] = &["VL", "FWB"];
const REGIONS: &[&str] = &["VLA", "WAL", "BRU"];
const REFERRAL_GROUPS: &[&str] = &[
    "PROFESSIONAL",
    "JUSTICE",
    "HELPLINE_CHAT",
    "CITIZEN",
    "CHILD",
];

pub(super) fn parse(file: &str, text: &str) -> Result<Protocol, ProtocolError> {
    let protocol: Protocol = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            let pos = e.span().map(|s| line_col(text, s.start));
            let message = e.message().trim().to_string();
            // A top-level key written after a [section] header lands in that section.
            let top_level = [
                "title",
                "question",
                "authors",
                "release",
                "seed",
                "covariates",
            ];
            let misplaced = top_level
                .iter()
                .find(|k| message.starts_with(&format!("unknown field `{k}`")));
            let hint = match misplaced {
                Some(k) => format!(
                    "`{k}` is a top-level key: move it above the first [section] header (TOML puts                      every key after a header into that section)"
                ),
                None => "see `workbench study schema` for every key".into(),
            };
            return Err(ProtocolError {
                file: file.into(),
                problems: vec![Problem {
                    path: String::new(),
                    line: pos.map(|p| p.0),
                    column: pos.map(|p| p.1),
                    message,
                    hint: Some(hint),
                }],
            });
        }
    };
    let mut ck = Check {
        text,
        problems: Vec::new(),
    };
    check(&protocol, &mut ck);
    if ck.problems.is_empty() {
        Ok(protocol)
    } else {
        Err(ProtocolError {
            file: file.into(),
            problems: ck.problems,
        })
    }
}

fn check(p: &Protocol, ck: &mut Check) {
    if p.title.trim().is_empty() {
        ck.problem("title", "the title is empty", None);
    }
    let c = &p.cohort;
    for (key, d) in [("entry_from", &c.entry_from), ("entry_to", &c.entry_to)] {
        if !is_date(d) {
            ck.problem(
                format!("cohort.{key}"),
                format!("\"{d}\" is not a date"),
                Some("write YYYY-MM-DD".into()),
            );
        }
    }
    if is_date(&c.entry_from) && is_date(&c.entry_to) && c.entry_from > c.entry_to {
        ck.problem(
            "cohort.entry_to",
            format!(
                "the entry window ends ({}) before it starts ({})",
                c.entry_to, c.entry_from
            ),
            None,
        );
    }
    check_rules(p, ck);
    if let Some(m) = p.follow_up.max_days
        && m < 1
    {
        ck.problem(
            "follow_up.max_days",
            "follow-up must last at least one day",
            None,
        );
    }
    check_groups(p, ck);
    check_compare(p, ck);
    for (i, name) in p.covariates.iter().enumerate() {
        let path = format!("covariates[{i}]");
        let (base, modifier) = match name.split_once(':') {
            Some((b, m)) => (b, Some(m)),
            None => (name.as_str(), None),
        };
        match covariates::find(base) {
            None => ck.problem(
                path,
                format!("unknown covariate \"{base}\""),
                Some(suggest(
                    base,
                    covariates::all_names().iter().map(String::as_str),
                )),
            ),
            Some(cov) => match (cov.kind, modifier) {
                (CovariateKind::Categorical, None) => ck.problem(
                    path,
                    format!("\"{base}\" is categorical"),
                    Some(format!(
                        "write \"{base}:cat\" (or \"{base}:cat=LEVEL\" for a reference level)"
                    )),
                ),
                (CovariateKind::Numeric, Some(_)) => ck.problem(
                    path,
                    format!(
                        "\"{base}\" is numeric; \":{}\" does not apply",
                        modifier.unwrap_or("")
                    ),
                    None,
                ),
                (CovariateKind::Categorical, Some(m)) if !(m == "cat" || m.starts_with("cat=")) => {
                    ck.problem(
                        path,
                        format!("unknown modifier \":{m}\""),
                        Some("write :cat or :cat=LEVEL".into()),
                    )
                }
                _ => {}
            },
        }
    }
    if p.outcomes.is_empty() {
        ck.problem(
            "cohort",
            "the protocol names no outcome",
            Some(
                "add an [[outcome]] with id = \"P1.1\" (or another id of docs/domain.md §5)".into(),
            ),
        );
    }
    let mut seen = BTreeSet::new();
    for (i, o) in p.outcomes.iter().enumerate() {
        check_outcome(i, o, ck);
        if !seen.insert(o.id.clone()) {
            ck.problem(
                format!("outcome[{i}].id"),
                format!("outcome {} is named twice", o.id),
                Some("name each outcome once; run a second protocol for another variant".into()),
            );
        }
    }
    for (i, m) in p.models.iter().enumerate() {
        if let Some(list) = &m.outcomes {
            for (j, id) in list.iter().enumerate() {
                if !p.outcomes.iter().any(|o| &o.id == id) {
                    ck.problem(
                        format!("model[{i}].outcomes[{j}]"),
                        format!("outcome {id} is not among the protocol's outcomes"),
                        Some(suggest(id, p.outcomes.iter().map(|o| o.id.as_str()))),
                    );
                }
            }
        }
        if m.timing.is_some()
            && (m.kind != super::ModelKind::Cox
                || p.groups
                    .as_ref()
                    .and_then(|g| g.intervention.as_ref())
                    .is_none())
        {
            ck.problem(
                format!("model[{i}].timing"),
                "timing applies to a Cox model of an intervention comparison",
                None,
            );
        }
        if m.timing == Some(Timing::TimeVarying)
            && p.groups
                .as_ref()
                .and_then(|g| g.timing)
                .is_some_and(|t| t != Timing::TimeVarying)
        {
            ck.problem(format!("model[{i}].timing"), "a time-varying model needs the comparison's timing to be time_varying (the dataset is then split at the start)", None);
        }
        if m.kind == super::ModelKind::Rmst {
            match m.tau {
                Some(t) if t > 0.0 && t.is_finite() => {}
                _ => ck.problem(
                    format!("model[{i}]"),
                    "RMST needs a horizon",
                    Some("set tau = 365 (days)".into()),
                ),
            }
        } else if m.tau.is_some() {
            ck.problem(format!("model[{i}].tau"), "tau applies to rmst only", None);
        }
    }
    let k = &p.privacy;
    if k.k_screen < 1 || k.k_file < 1 {
        ck.problem("privacy", "k must be at least 1", None);
    }
    if k.k_file < k.k_screen {
        ck.problem(
            "privacy.k_file",
            format!(
                "k in files ({}) is below k on screen ({})",
                k.k_file, k.k_screen
            ),
            Some("files leave the secure environment: use a k at least as large".into()),
        );
    }
}

fn check_rules(p: &Protocol, ck: &mut Check) {
    let centres: Vec<&str> = codes::CENTRES.iter().map(|c| c.id).collect();
    let forms: Vec<&str> = codes::FORMS.iter().map(|c| c.code).collect();
    let contexts: Vec<&str> = codes::CONTEXTS.iter().map(|c| c.code).collect();
    let sources: Vec<&str> = codes::REFERRAL_SOURCES.iter().map(|c| c.code).collect();
    // What remains possible after the rules so far, to refuse contradictions.
    let mut centre_ok: BTreeSet<&str> = centres.iter().copied().collect();
    let mut sex_ok: BTreeSet<&str> = schema::SEX.iter().copied().collect();
    let mut age: (i64, i64) = (-12, 18 * 12 - 1);
    let mut seq: (i64, i64) = (1, i64::MAX);
    let from_year = p
        .cohort
        .entry_from
        .get(..4)
        .and_then(|y| y.parse::<i64>().ok())
        .unwrap_or(1900);
    let to_year = p
        .cohort
        .entry_to
        .get(..4)
        .and_then(|y| y.parse::<i64>().ok())
        .unwrap_or(2200);
    let mut year = (from_year, to_year);
    let mut names = BTreeSet::new();
    for (i, r) in p.cohort.rules.iter().enumerate() {
        let path = format!("cohort.rule[{i}]");
        if r.name.trim().is_empty() {
            ck.problem(
                format!("{path}.name"),
                "a rule needs a name",
                Some("say what it does, e.g. \"aged 0-17 at entry\"".into()),
            );
        } else if !names.insert(r.name.clone()) {
            ck.problem(
                format!("{path}.name"),
                format!("two rules are named \"{}\"", r.name),
                None,
            );
        }
        let set = criteria(r);
        if set.len() != 1 {
            ck.problem(
                path.clone(),
                if set.is_empty() {
                    "the rule has no criterion".to_string()
                } else {
                    format!("the rule sets {} criteria ({}); write one rule per criterion", set.len(), set.join(", "))
                },
                Some("one of: age_at_entry_years, age_at_entry_months, prenatal, sex, community, region, centre, referral_source, referral_group, melding_type, forms, findings, contexts, prior_episodes, episode_seq, washout_days, entry_year".into()),
            );
            continue;
        }
        if r.forms_match.is_some() && r.forms.is_none() {
            ck.problem(
                format!("{path}.forms_match"),
                "forms_match needs forms",
                None,
            );
        }
        let problems_before = ck.problems.len();
        let saved = (centre_ok.clone(), sex_ok.clone(), age, seq, year);
        let sub = |k: &str| format!("{path}.{k}");
        let keep =
            |set: &mut BTreeSet<&str>, values: &[String], universe: &[&str], exclude: bool| {
                let v: BTreeSet<&str> = universe
                    .iter()
                    .copied()
                    .filter(|u| values.iter().any(|x| x == u))
                    .collect();
                if exclude {
                    set.retain(|x| !v.contains(x));
                } else {
                    set.retain(|x| v.contains(x));
                }
            };
        if let Some(v) = &r.sex {
            ck.codes(&sub("sex"), "sex", v, schema::SEX);
            keep(&mut sex_ok, v, schema::SEX, r.exclude);
        }
        let mut centre_rule = |values: &[String], of: &dyn Fn(&codes::Centre) -> &str| {
            let before = centre_ok.len();
            centre_ok.retain(|id| {
                let c = codes::centre(id).map_or("", of);
                values.iter().any(|v| v == c) != r.exclude
            });
            before
        };
        if let Some(v) = &r.community {
            ck.codes(&sub("community"), "community", v, COMMUNITIES);
            centre_rule(v, &|c| c.community);
        }
        if let Some(v) = &r.region {
            ck.codes(&sub("region"), "region", v, REGIONS);
            centre_rule(v, &|c| c.region);
        }
        if let Some(v) = &r.centre {
            ck.codes(&sub("centre"), "centre", v, &centres);
            centre_rule(v, &|c| c.id);
        }
        if let Some(v) = &r.referral_source {
            ck.codes(&sub("referral_source"), "referral source", v, &sources);
        }
        if let Some(v) = &r.referral_group {
            ck.codes(&sub("referral_group"), "referral group", v, REFERRAL_GROUPS);
        }
        if let Some(v) = &r.melding_type {
            ck.codes(
                &sub("melding_type"),
                "melding type",
                v,
                schema::MELDING_TYPES,
            );
        }
        if let Some(v) = &r.forms {
            ck.codes(&sub("forms"), "form", v, &forms);
        }
        if let Some(v) = &r.findings {
            ck.codes(&sub("findings"), "finding", v, schema::FINDINGS);
        }
        if let Some(v) = &r.contexts {
            ck.codes(&sub("contexts"), "context", v, &contexts);
        }
        if let Some(a) = &r.age_at_entry_years {
            ck.range(&sub("age_at_entry_years"), a, 0, 17);
            narrow(
                &mut age,
                a.min.map(|m| m * 12),
                a.max.map(|m| m * 12 + 11),
                r.exclude,
            );
        }
        if let Some(a) = &r.age_at_entry_months {
            ck.range(&sub("age_at_entry_months"), a, -12, 18 * 12 - 1);
            narrow(&mut age, a.min, a.max, r.exclude);
        }
        if let Some(s) = &r.episode_seq {
            ck.range(&sub("episode_seq"), s, 1, 10_000);
            narrow(&mut seq, s.min, s.max, r.exclude);
        }
        if let Some(y) = &r.entry_year {
            ck.range(&sub("entry_year"), y, 1900, 2200);
            narrow(&mut year, y.min, y.max, r.exclude);
        }
        if let Some(w) = r.washout_days
            && w < 1
        {
            ck.problem(
                sub("washout_days"),
                "a washout lasts at least one day",
                None,
            );
        }
        if ck.problems.len() > problems_before {
            // A rule with its own problems says nothing reliable about contradictions.
            (centre_ok, sex_ok, age, seq, year) = saved;
            continue;
        }
        let empty = if centre_ok.is_empty() {
            Some("no centre remains (community, region and centre rules exclude each other)")
        } else if sex_ok.is_empty() {
            Some("no sex remains")
        } else if age.0 > age.1 {
            Some("no age at entry remains")
        } else if seq.0 > seq.1 {
            Some("no episode_seq remains")
        } else if year.0 > year.1 {
            Some("no entry year remains inside the entry window")
        } else {
            None
        };
        if let Some(why) = empty {
            ck.problem(
                path,
                format!("contradictory rules: {why}, so the cohort is empty by construction"),
                Some("remove or widen one of the rules".into()),
            );
            return;
        }
    }
}

/// Narrows an inclusive interval by an include range, or by an exclude range that cuts one end.
fn narrow(cur: &mut (i64, i64), min: Option<i64>, max: Option<i64>, exclude: bool) {
    if !exclude {
        if let Some(a) = min {
            cur.0 = cur.0.max(a);
        }
        if let Some(b) = max {
            cur.1 = cur.1.min(b);
        }
        return;
    }
    let (a, b) = (min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX));
    if a <= cur.0 && b >= cur.1 {
        *cur = (1, 0);
    } else if a <= cur.0 && b >= cur.0 {
        cur.0 = b.saturating_add(1);
    } else if b >= cur.1 && a <= cur.1 {
        cur.1 = a.saturating_sub(1);
    }
}

fn check_groups(p: &Protocol, ck: &mut Check) {
    let Some(g) = &p.groups else { return };
    match (&g.by, &g.intervention) {
        (Some(_), Some(_)) | (None, None) => {
            ck.problem(
                "groups",
                "groups need exactly one of `by` (a covariate) or `intervention` (a code)",
                None,
            );
        }
        (Some(by), None) => {
            match covariates::find(by) {
                Some(c) if c.kind == CovariateKind::Categorical => {}
                Some(_) => ck.problem(
                    "groups.by",
                    format!("\"{by}\" is numeric; groups need a categorical covariate"),
                    Some(
                        "e.g. community, region, centre, referral_group, age_band, primary_form"
                            .into(),
                    ),
                ),
                None => ck.problem(
                    "groups.by",
                    format!("unknown covariate \"{by}\""),
                    Some(suggest(
                        by,
                        covariates::CATALOGUE
                            .iter()
                            .filter(|c| c.kind == CovariateKind::Categorical)
                            .map(|c| c.name),
                    )),
                ),
            }
            if g.timing.is_some() || g.within_days.is_some() {
                ck.problem(
                    "groups.timing",
                    "timing and within_days apply to an intervention",
                    None,
                );
            }
            if let Some(levels) = &g.levels {
                let allowed: Vec<String> = match by.as_str() {
                    "community" => COMMUNITIES.iter().map(|s| s.to_string()).collect(),
                    "region" => REGIONS.iter().map(|s| s.to_string()).collect(),
                    "centre" => codes::CENTRES.iter().map(|c| c.id.to_string()).collect(),
                    "referral_group" => REFERRAL_GROUPS.iter().map(|s| s.to_string()).collect(),
                    "referral_source" => codes::REFERRAL_SOURCES
                        .iter()
                        .map(|c| c.code.to_string())
                        .collect(),
                    "primary_form" => codes::FORMS.iter().map(|c| c.code.to_string()).collect(),
                    "sex" => schema::SEX.iter().map(|s| s.to_string()).collect(),
                    "melding_type" => schema::MELDING_TYPES
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    "age_band" => ["PRENATAL", "0-2", "3-5", "6-11", "12-17"]
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                    _ => Vec::new(),
                };
                if !allowed.is_empty() {
                    let a: Vec<&str> = allowed.iter().map(String::as_str).collect();
                    ck.codes("groups.levels", by, levels, &a);
                }
            }
        }
        (None, Some(code)) => {
            let all: Vec<&str> = codes::INTERVENTION_TYPES.iter().map(|c| c.code).collect();
            if !all.contains(&code.as_str()) {
                ck.problem(
                    "groups.intervention",
                    format!("unknown intervention \"{code}\""),
                    Some(suggest(code, all.iter().copied())),
                );
            }
            if g.levels.is_some() {
                ck.problem(
                    "groups.levels",
                    "an intervention comparison has the levels untreated, treated",
                    None,
                );
            }
            if let Some(w) = g.within_days
                && w < 0
            {
                ck.problem("groups.within_days", "within_days cannot be negative", None);
            }
            if g.within_days.is_some() && g.timing == Some(Timing::Ever) {
                ck.problem(
                    "groups.within_days",
                    "within_days does not apply to `ever` timing",
                    None,
                );
            }
        }
    }
}

/// The `[compare]` section: two groups, propensity covariates among the protocol's covariates,
/// options that fit the method, and outcomes of the protocol.
fn check_compare(p: &Protocol, ck: &mut Check) {
    let Some(c) = &p.compare else { return };
    match &p.groups {
        None => ck.problem(
            "compare",
            "a comparison needs two groups",
            Some("add [groups] with intervention = \"FAMILY_SUPPORT\" (timing = \"baseline\") or by = \"community\"".into()),
        ),
        Some(g) => {
            if g.intervention.is_some() && g.timing == Some(Timing::Ever) {
                ck.problem(
                    "groups.timing",
                    "a comparison needs the treatment fixed at baseline; `ever` looks into the future (immortal time)",
                    Some("use timing = \"baseline\" (treated when it starts within within_days)".into()),
                );
            }
            if let Some(by) = &g.by {
                let two = match &g.levels {
                    Some(l) => l.len() == 2,
                    None => by == "community",
                };
                if !two {
                    ck.problem(
                        "groups.levels",
                        format!("a comparison needs exactly two levels of \"{by}\""),
                        Some("list them: levels = [\"REFERENCE\", \"INDEX\"] (the second is the index group)".into()),
                    );
                }
            }
        }
    }
    let own: Vec<&str> = p
        .covariates
        .iter()
        .map(|n| n.split(':').next().unwrap_or(n))
        .collect();
    if let Some(list) = &c.ps_covariates {
        if list.is_empty() {
            ck.problem(
                "compare.ps_covariates",
                "an empty list of propensity covariates",
                Some("name at least one, or leave the key out to use all covariates".into()),
            );
        }
        for (i, name) in list.iter().enumerate() {
            let path = format!("compare.ps_covariates[{i}]");
            let (base, modifier) = match name.split_once(':') {
                Some((b, m)) => (b, Some(m)),
                None => (name.as_str(), None),
            };
            match covariates::find(base) {
                None => ck.problem(
                    path,
                    format!("unknown covariate \"{base}\""),
                    Some(suggest(
                        base,
                        covariates::all_names().iter().map(String::as_str),
                    )),
                ),
                Some(cov) => {
                    match (cov.kind, modifier) {
                        (CovariateKind::Categorical, None) => ck.problem(
                            &path,
                            format!("\"{base}\" is categorical"),
                            Some(format!("write \"{base}:cat\" (or \"{base}:cat=LEVEL\")")),
                        ),
                        (CovariateKind::Numeric, Some(m)) => ck.problem(
                            &path,
                            format!("\"{base}\" is numeric; \":{m}\" does not apply"),
                            None,
                        ),
                        (CovariateKind::Categorical, Some(m))
                            if !(m == "cat" || m.starts_with("cat=")) =>
                        {
                            ck.problem(
                                &path,
                                format!("unknown modifier \":{m}\""),
                                Some("write :cat or :cat=LEVEL".into()),
                            )
                        }
                        _ => {}
                    }
                    if !own.contains(&base) {
                        ck.problem(
                            path,
                            format!("\"{base}\" is not one of the protocol's covariates"),
                            Some(format!("add \"{name}\" to covariates = [...]")),
                        );
                    }
                }
            }
        }
    } else if p.covariates.is_empty() {
        ck.problem(
            "compare",
            "the propensity model has no covariates",
            Some("list them in covariates = [...] (or compare.ps_covariates)".into()),
        );
    }
    if let Some(by) = p.groups.as_ref().and_then(|g| g.by.as_deref()) {
        let listed: Vec<&str> = c
            .ps_covariates(p)
            .iter()
            .map(|n| n.split(':').next().unwrap_or(n))
            .collect();
        if listed.contains(&by) {
            ck.problem(
                "compare.ps_covariates",
                format!(
                    "\"{by}\" defines the groups: it cannot predict itself in the propensity model"
                ),
                Some("list the propensity covariates without it in compare.ps_covariates".into()),
            );
        }
    }
    let matching = c.method == CompareMethod::Matching;
    if matching && matches!(c.estimand, Some(Estimand::Ate | Estimand::Ato)) {
        ck.problem(
            "compare.estimand",
            "matching the treated estimates the effect in the treated",
            Some("use estimand = \"att\", or method = \"iptw\" for ate / ato".into()),
        );
    }
    if matching {
        if c.truncation.is_some() {
            ck.problem(
                "compare.truncation",
                "truncation applies to iptw weights, not to matching",
                None,
            );
        }
        if c.stabilised.is_some() {
            ck.problem(
                "compare.stabilised",
                "stabilisation applies to iptw weights, not to matching",
                None,
            );
        }
    } else {
        for key in [
            ("caliper", c.caliper.is_some()),
            ("ratio", c.ratio.is_some()),
            ("replacement", c.replacement.is_some()),
        ] {
            if key.1 {
                ck.problem(
                    format!("compare.{}", key.0),
                    format!("{} applies to matching", key.0),
                    Some("set method = \"matching\"".into()),
                );
            }
        }
    }
    if let Some([lo, hi]) = c.truncation
        && !(lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo < hi && hi <= 100.0)
    {
        ck.problem(
            "compare.truncation",
            format!("percentiles [{lo}, {hi}] are not 0 <= lower < upper <= 100"),
            Some("e.g. truncation = [1, 99]".into()),
        );
    }
    if let Some(x) = c.caliper
        && !(x.is_finite() && x >= 0.0)
    {
        ck.problem(
            "compare.caliper",
            format!("a caliper of {x} standard deviations is impossible"),
            Some("e.g. 0.2 (0: no caliper)".into()),
        );
    }
    if let Some(r) = c.ratio
        && !(1..=10).contains(&r)
    {
        ck.problem(
            "compare.ratio",
            format!("{r} controls per treated child"),
            Some("use 1 to 10".into()),
        );
    }
    if let Some(t) = c.tau
        && !(t.is_finite() && t > 0.0)
    {
        ck.problem(
            "compare.tau",
            format!("a horizon of {t} days is impossible"),
            Some("e.g. tau = 365".into()),
        );
    }
    if let Some(b) = c.bootstrap
        && !(2..=100_000).contains(&b)
    {
        ck.problem(
            "compare.bootstrap",
            format!("{b} bootstrap replicates"),
            Some("use 2 to 100000 (200 to 2000 is usual)".into()),
        );
    }
    if let Some(list) = &c.outcomes {
        let ids: Vec<&str> = p.outcomes.iter().map(|o| o.id.as_str()).collect();
        for (i, id) in list.iter().enumerate() {
            if !ids.contains(&id.as_str()) {
                ck.problem(
                    format!("compare.outcomes[{i}]"),
                    format!("outcome \"{id}\" is not in the protocol"),
                    Some(suggest(id, ids.iter().copied())),
                );
            } else if outcomes::Outcome::resolve(&super::OutcomeSpec {
                id: id.clone(),
                ..Default::default()
            })
            .is_some_and(|o| o.kind != outcomes::OutcomeKind::TimeToEvent)
            {
                ck.problem(
                    format!("compare.outcomes[{i}]"),
                    format!("{id} is not a time-to-event outcome"),
                    Some("the comparison weighs time-to-event outcomes".into()),
                );
            }
        }
    }
}

fn check_outcome(i: usize, o: &super::OutcomeSpec, ck: &mut Check) {
    let path = format!("outcome[{i}]");
    let id = o.id.as_str();
    if outcomes::label(id).is_none() {
        ck.problem(
            format!("{path}.id"),
            format!("unknown outcome \"{id}\""),
            Some(suggest(id, outcomes::IDS.iter().copied())),
        );
        return;
    }
    let phase3 = id.starts_with("P3");
    let applies = |key: &str| -> bool {
        match key {
            "window_days" => matches!(id, "P1.3" | "P2.2" | "P2.3" | "P2.4"),
            "dedup_days" | "substantiated_only" => matches!(id, "P2.1" | "P2.2" | "P2.3" | "P3.4"),
            "maturity_lag_days" => matches!(id, "P2.2" | "P3.4"),
            "origin" => matches!(id, "P2.1" | "P2.3"),
            "split_open_closed" => id == "P2.1",
            "safety_date" => matches!(id, "P1.1" | "P1.2" | "P1.3" | "P1.5" | "P2.1" | "P2.3"),
            "safety_competes" => id == "P1.5",
            "age_18" => !phase3 && !matches!(id, "P1.3" | "P2.5"),
            "instrument" | "cut_off" | "wave" => phase3,
            "reliable_change" => matches!(id, "P3.2" | "P3.4"),
            _ => true,
        }
    };
    let set: Vec<(&str, bool)> = vec![
        ("window_days", o.window_days.is_some()),
        ("dedup_days", o.dedup_days.is_some()),
        ("maturity_lag_days", o.maturity_lag_days.is_some()),
        ("substantiated_only", o.substantiated_only.is_some()),
        ("origin", o.origin.is_some()),
        ("split_open_closed", o.split_open_closed.is_some()),
        ("safety_date", o.safety_date.is_some()),
        ("safety_competes", o.safety_competes.is_some()),
        ("age_18", o.age_18.is_some()),
        ("instrument", o.instrument.is_some()),
        ("cut_off", o.cut_off.is_some()),
        ("reliable_change", o.reliable_change.is_some()),
        ("wave", o.wave.is_some()),
    ];
    for (key, present) in set {
        if present && !applies(key) {
            ck.problem(
                format!("{path}.{key}"),
                format!(
                    "{key} does not apply to {id} ({})",
                    outcomes::label(id).unwrap_or("")
                ),
                None,
            );
        }
    }
    if let Some(w) = o.window_days
        && !(1..=3650).contains(&w)
    {
        ck.problem(
            format!("{path}.window_days"),
            format!("a window of {w} days is impossible"),
            Some("use 1 to 3650 days".into()),
        );
    }
    if let Some(d) = o.dedup_days
        && !(0..=365).contains(&d)
    {
        ck.problem(
            format!("{path}.dedup_days"),
            format!("a de-duplication of {d} days is impossible"),
            Some("use 0 to 365 days (14 per CFSR)".into()),
        );
    }
    if let Some(d) = o.maturity_lag_days
        && !(0..=730).contains(&d)
    {
        ck.problem(
            format!("{path}.maturity_lag_days"),
            format!("a maturity lag of {d} days is impossible"),
            Some("use 0 to 730 days".into()),
        );
    }
    if let Some(code) = &o.instrument {
        match codes::INSTRUMENTS.iter().find(|x| x.code == code) {
            None => ck.problem(
                format!("{path}.instrument"),
                format!("unknown instrument \"{code}\""),
                Some(suggest(code, codes::INSTRUMENTS.iter().map(|x| x.code))),
            ),
            Some(inst) => {
                if let Some(c) = o.cut_off
                    && !(inst.score_min..=inst.score_max).contains(&c)
                {
                    ck.problem(
                        format!("{path}.cut_off"),
                        format!(
                            "cut-off {c} is outside the {} range {}..{}",
                            inst.code, inst.score_min, inst.score_max
                        ),
                        None,
                    );
                }
            }
        }
    }
    if let Some(r) = o.reliable_change
        && !(r > 0.0 && r.is_finite())
    {
        ck.problem(
            format!("{path}.reliable_change"),
            "the reliable-change threshold must be positive",
            None,
        );
    }
    if let Some(w) = &o.wave
        && !matches!(w.as_str(), "M6" | "M12")
    {
        ck.problem(
            format!("{path}.wave"),
            format!("unknown wave \"{w}\""),
            Some("M6 or M12".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::Protocol;

    const BASE: &str = r#"title = "t"
[cohort]
entry_from = "2015-01-01"
entry_to = "2023-12-31"
[[outcome]]
id = "P1.1"
"#;

    fn problems(extra: &str) -> Vec<String> {
        match Protocol::parse("p.toml", &format!("{BASE}{extra}")) {
            Ok(_) => vec![],
            Err(e) => e
                .problems
                .iter()
                .map(|p| {
                    format!(
                        "{}:{} {} {}",
                        p.line.unwrap_or(0),
                        p.path,
                        p.message,
                        p.hint.clone().unwrap_or_default()
                    )
                })
                .collect(),
        }
    }

    fn compare_problems(covariates: &str, groups: &str, compare: &str) -> Vec<String> {
        let text = format!("covariates = [{covariates}]\n{BASE}{groups}\n[compare]\n{compare}\n");
        match Protocol::parse("p.toml", &text) {
            Ok(p) => {
                assert!(p.compare.is_some());
                vec![]
            }
            Err(e) => e
                .problems
                .iter()
                .map(|p| {
                    format!(
                        "{} {} {}",
                        p.path,
                        p.message,
                        p.hint.clone().unwrap_or_default()
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn a_compare_section_is_checked() {
        let covs = "\"age_years\", \"form_NEGL\"";
        let fs = "[groups]\nintervention = \"FAMILY_SUPPORT\"\ntiming = \"baseline\"\n";
        assert!(
            compare_problems(
                covs,
                fs,
                "method = \"iptw\"\nestimand = \"ato\"\ntruncation = [1, 99]"
            )
            .is_empty()
        );
        assert!(
            compare_problems(
                covs,
                fs,
                "method = \"matching\"\ncaliper = 0.2\nratio = 2\nreplacement = true"
            )
            .is_empty()
        );
        assert!(
            compare_problems(
                covs,
                "[groups]\nby = \"community\"\n",
                "ps_covariates = [\"age_years\"]"
            )
            .is_empty()
        );
        let p = compare_problems(covs, "", "");
        assert!(
            p.iter()
                .any(|m| m.starts_with("compare a comparison needs two groups")),
            "{p:?}"
        );
        let p = compare_problems(covs, fs, "ps_covariates = [\"adolescent\", \"age_yers\"]");
        assert!(
            p.iter()
                .any(|m| m.contains("not one of the protocol's covariates")),
            "{p:?}"
        );
        assert!(
            p.iter()
                .any(|m| m.contains("unknown covariate \"age_yers\"")),
            "{p:?}"
        );
        let p = compare_problems(
            covs,
            fs,
            "method = \"matching\"\nestimand = \"ate\"\ntruncation = [1, 99]",
        );
        assert_eq!(p.len(), 2, "{p:?}");
        let p = compare_problems(covs, fs, "caliper = 0.2\ntruncation = [99, 1]\ntau = -1");
        assert_eq!(p.len(), 3, "{p:?}");
        let p = compare_problems(covs, "[groups]\nby = \"region\"\n", "");
        assert!(p.iter().any(|m| m.contains("exactly two levels")), "{p:?}");
        let p = compare_problems(
            covs,
            "[groups]\nintervention = \"FAMILY_SUPPORT\"\ntiming = \"ever\"\n",
            "",
        );
        assert!(p.iter().any(|m| m.starts_with("groups.timing")), "{p:?}");
        let p = compare_problems(
            "\"community:cat\", \"age_years\"",
            "[groups]\nby = \"community\"\n",
            "",
        );
        assert!(
            p.iter().any(|m| m.contains("cannot predict itself")),
            "{p:?}"
        );
        let p = compare_problems(covs, fs, "outcomes = [\"P1.1\", \"P2.1\"]");
        assert!(
            p.iter()
                .any(|m| m.contains("\"P2.1\" is not in the protocol")),
            "{p:?}"
        );
    }

    #[test]
    fn a_minimal_protocol_is_valid() {
        assert!(problems("").is_empty(), "{:?}", problems(""));
    }

    #[test]
    fn a_misspelt_centre_is_located_and_the_nearest_code_suggested() {
        let p = problems("[[cohort.rule]]\nname = \"Antwerp\"\ncentre = [\"VK_ANTW\"]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("9:cohort.rule[0].centre[0] unknown centre \"VK_ANTW\""),
            "{p:?}"
        );
        assert!(p[0].contains("did you mean \"VK_ANT\"?"), "{p:?}");
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let p = problems("[[cohort.rule]]\nname = \"x\"\ncentr = [\"VK_ANT\"]\n");
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("9:") && p[0].contains("unknown field `centr`"),
            "{p:?}"
        );
    }

    #[test]
    fn contradictory_rules_are_refused() {
        let p = problems(
            "[[cohort.rule]]\nname = \"Flemish\"\ncommunity = [\"VL\"]\n[[cohort.rule]]\nname = \"Liège\"\ncentre = [\"SOS_LIEGE\"]\n",
        );
        assert!(
            p.iter()
                .any(|x| x.contains("contradictory rules") || x.contains("unknown centre")),
            "{p:?}"
        );
        let p = problems(
            "[[cohort.rule]]\nname = \"young\"\nage_at_entry_years = { max = 5 }\n[[cohort.rule]]\nname = \"old\"\nage_at_entry_years = { min = 12 }\n",
        );
        assert!(
            p.iter().any(|x| x.contains("no age at entry remains")),
            "{p:?}"
        );
        let p = problems("[[cohort.rule]]\nname = \"late\"\nentry_year = { min = 2024 }\n");
        assert!(
            p.iter().any(|x| x.contains("no entry year remains")),
            "{p:?}"
        );
    }

    #[test]
    fn impossible_windows_are_refused() {
        let p = Protocol::parse("p.toml", "title = \"t\"\n[cohort]\nentry_from = \"2020-01-01\"\nentry_to = \"2019-12-31\"\n[[outcome]]\nid = \"P2.2\"\nwindow_days = 0\n").unwrap_err();
        let text = p.to_string();
        assert!(
            text.contains("p.toml:4:1: cohort.entry_to: the entry window ends"),
            "{text}"
        );
        assert!(
            text.contains("outcome[0].window_days: a window of 0 days is impossible"),
            "{text}"
        );
        let p = problems("[[cohort.rule]]\nname = \"adults\"\nage_at_entry_years = { min = 18 }\n");
        assert!(
            p.iter().any(|x| x.contains("outside the possible range")),
            "{p:?}"
        );
    }

    #[test]
    fn a_top_level_key_under_a_section_gets_a_hint() {
        let text = format!("{BASE}[groups]\nby = \"community\"\ncovariates = [\"female\"]\n");
        let e = Protocol::parse("p.toml", &text).unwrap_err().to_string();
        assert!(
            e.contains("`covariates` is a top-level key: move it above"),
            "{e}"
        );
    }

    #[test]
    fn outcome_parameters_must_apply() {
        let p = problems(
            "[[outcome]]\nid = \"P1.2\"\norigin = \"safety\"\n[[outcome]]\nid = \"P9.9\"\n",
        );
        assert!(
            p.iter()
                .any(|x| x.contains("origin does not apply to P1.2")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|x| x.contains("unknown outcome \"P9.9\"")),
            "{p:?}"
        );
    }

    #[test]
    fn covariates_and_groups_are_checked() {
        let text = format!(
            "covariates = [\"adolesent\", \"community\"]\n{BASE}[groups]\nby = \"comunity\"\n"
        );
        let p: Vec<String> = Protocol::parse("p.toml", &text)
            .unwrap_err()
            .problems
            .iter()
            .map(|p| format!("{} {}", p.message, p.hint.clone().unwrap_or_default()))
            .collect();
        assert!(
            p.iter().any(|x| x.contains("did you mean \"adolescent\"")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|x| x.contains("\"community\" is categorical")),
            "{p:?}"
        );
        assert!(
            p.iter().any(|x| x.contains("did you mean \"community\"")),
            "{p:?}"
        );
    }
}
