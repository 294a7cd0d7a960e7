//! The application state and its update function. `update(&mut App, Action) -> Vec<Effect>` is a
//! plain function: it never touches the terminal, the store or a thread. Work that needs the
//! store (attrition, study runs, the dashboard) leaves as an [`Effect`] for the event loop to hand
//! to a worker; the worker's answer comes back as [`Action::Worker`]. Tests drive the whole
//! interface through this function.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use studies::Protocol;
use studies::bundle::Bundle;
use studies::outcomes::{self, OutcomeKind};
use studies::protocol::{
    Compare, CompareMethod, EntryKind, Groups, ModelKind, ModelSpec, OutcomeSpec, Rule,
};

use super::dashboard_data::DashboardData;
use super::i18n::{Lang, W};
use super::worker::{AttritionView, Reply};

/// The screens, in tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Screen {
    /// Researcher: rules, attrition.
    Cohort,
    /// Researcher: curves per group with the number at risk.
    Outcomes,
    /// Methodologist: model choice and results.
    Models,
    /// Manager: gated aggregates only.
    Dashboard,
}

impl Screen {
    pub const ALL: [Screen; 4] = [
        Screen::Cohort,
        Screen::Outcomes,
        Screen::Models,
        Screen::Dashboard,
    ];

    pub fn title(self, lang: Lang) -> &'static str {
        lang.t(match self {
            Screen::Cohort => W::Cohort,
            Screen::Outcomes => W::Outcomes,
            Screen::Models => W::Models,
            Screen::Dashboard => W::Dashboard,
        })
    }

    /// How many panes Tab cycles through.
    pub fn panes(self) -> usize {
        2
    }
}

/// Everything, or the manager's dashboard alone (`workbench dashboard`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Full,
    DashboardOnly,
}

/// A rule of the protocol and whether it is switched on.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRow {
    pub rule: Rule,
    pub enabled: bool,
}

/// The curve shown on the outcome screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveKind {
    /// Aalen–Johansen cumulative incidence (the default: competing risks are the rule here).
    CumulativeIncidence,
    /// Kaplan–Meier survival, competing events censored (with a warning).
    KaplanMeier,
}

impl CurveKind {
    /// The estimator name the bundle gives such a curve.
    pub fn estimator(self) -> &'static str {
        match self {
            CurveKind::CumulativeIncidence => "Aalen–Johansen cumulative incidence",
            CurveKind::KaplanMeier => "Kaplan–Meier survival",
        }
    }
}

/// The model the methodologist picks; the run computes Cox, Aalen–Johansen and RMST together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    Cox,
    AalenJohansen,
    Rmst,
    Iptw,
    Matching,
}

impl ModelChoice {
    pub const ALL: [ModelChoice; 5] = [
        ModelChoice::Cox,
        ModelChoice::AalenJohansen,
        ModelChoice::Rmst,
        ModelChoice::Iptw,
        ModelChoice::Matching,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ModelChoice::Cox => "Cox (cause-specific)",
            ModelChoice::AalenJohansen => "Aalen–Johansen",
            ModelChoice::Rmst => "RMST (τ = 365)",
            ModelChoice::Iptw => "IPTW",
            ModelChoice::Matching => "PS matching",
        }
    }

    /// The protocol's `[compare]` method, for the propensity-score models.
    pub fn compare(self) -> Option<CompareMethod> {
        match self {
            ModelChoice::Iptw => Some(CompareMethod::Iptw),
            ModelChoice::Matching => Some(CompareMethod::Matching),
            _ => None,
        }
    }
}

/// The comparison groups the methodologist can pick.
pub const GROUP_CHOICES: [&str; 7] = [
    "protocol",
    "community",
    "region",
    "referral_group",
    "age_band",
    "sex",
    "none",
];

/// The covariates offered on the model screen (numeric ones of the catalogue).
pub const COVARIATE_CHOICES: [&str; 10] = [
    "age_years",
    "adolescent",
    "female",
    "prior_episode",
    "safety_plan",
    "substantiated",
    "risk_contexts",
    "form_SEX",
    "form_NEGL",
    "ctx_PARTNER_VIOLENCE",
];

/// Bootstrap replicates of the adjusted differences when the model screen runs a comparison
/// (fewer than a protocol's default of 200, so the screen answers in seconds).
pub const COMPARE_BOOTSTRAP: usize = 50;

/// The fields of the model form, top to bottom: outcome, groups, model, then the covariates.
pub const MODEL_FIXED_FIELDS: usize = 3;

/// The methodologist's choices.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelForm {
    /// Index into [`App::model_outcomes`].
    pub outcome: usize,
    /// Index into [`GROUP_CHOICES`].
    pub groups: usize,
    pub model: ModelChoice,
    pub covariates: Vec<(String, bool)>,
    /// The field the cursor is on.
    pub field: usize,
}

/// What a running job is for.
#[derive(Debug, Clone, PartialEq)]
pub enum JobKind {
    Attrition,
    /// The outcome screen's run of one outcome.
    Outcome(String),
    Model,
    Dashboard,
}

/// A job handed to a worker and not yet answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: u64,
    pub kind: JobKind,
    pub label: String,
    /// Steps done, steps in all, what it is doing.
    pub progress: Option<(u64, u64, String)>,
}

/// What a prompt's text is for.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptKind {
    /// Edit the criterion of rule `i` (0-based), or the entry window when `None`.
    EditRule(Option<usize>),
    AddRule,
    Save,
    Open,
    Export,
}

/// A one-line text input.
#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub text: String,
}

/// What covers the screen.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    ConfirmQuit,
    Prompt(Prompt),
}

/// The whole state of the interface.
#[derive(Debug, Clone)]
pub struct App {
    pub mode: Mode,
    pub lang: Lang,
    pub screen: Screen,
    /// The focused pane of the screen (0 = left).
    pub pane: usize,
    pub overlay: Overlay,
    /// The store's file, shown in the header.
    pub store_label: String,
    pub k_screen: u64,
    /// The protocol as opened; its rules live in `rules`.
    pub protocol: Protocol,
    pub protocol_file: Option<PathBuf>,
    pub rules: Vec<RuleRow>,
    /// 0 = the entry row, i = rule i - 1.
    pub rule_sel: usize,
    pub attrition: Option<AttritionView>,
    /// Bumped by every change of the cohort; results of an older cohort are dropped.
    pub cohort_gen: u64,
    /// Outcome screen.
    pub outcome_sel: usize,
    pub curve: CurveKind,
    pub outcome_results: BTreeMap<String, Bundle>,
    pub outcome_errors: BTreeMap<String, String>,
    pub scroll: u16,
    /// Model screen.
    pub form: ModelForm,
    pub model_result: Option<Bundle>,
    /// The protocol the model result was computed from (for export).
    pub model_protocol: Option<Protocol>,
    /// Dashboard.
    pub dashboard: Option<DashboardData>,
    pub dash_sel: usize,
    pub jobs: Vec<Job>,
    next_job: u64,
    /// The last message (errors included) for the status line.
    pub status: String,
    pub quit: bool,
    /// Ticks since start, for the spinner.
    pub ticks: u64,
    pub size: (u16, u16),
}

/// A change the interface asks for, from a key, the mouse, a resize, a timer or a worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Quit,
    /// Ctrl-C: quit at once, cancelling any work.
    ForceQuit,
    /// Esc: close what is open, else cancel running work.
    Escape,
    ToggleHelp,
    GoTo(Screen),
    NextScreen,
    PrevScreen,
    NextPane,
    PrevPane,
    Up,
    Down,
    Left,
    Right,
    Top,
    Bottom,
    PageUp,
    PageDown,
    /// Space: switch a rule on or off, or a covariate in or out.
    Toggle,
    /// `x` on the cohort screen: a rule includes or excludes.
    ToggleExclude,
    /// `e` / Enter on the cohort screen: edit the selected rule's criterion.
    Edit,
    /// `+` / `-`: nudge the selected rule's number.
    Nudge(i64),
    AddRule,
    DeleteRule,
    /// `n`: start again from the entry event (no rules).
    NewFromEntry,
    Save,
    Open,
    /// `r`: run what the screen shows.
    Run,
    /// `c`: cumulative incidence or Kaplan–Meier.
    SwitchCurve,
    /// `x` on the model screen: export the run as a results bundle.
    Export,
    CycleLang,
    Input(char),
    Backspace,
    Submit,
    Confirm(bool),
    Resize(u16, u16),
    Tick,
    /// A click at (column, row).
    Click(u16, u16),
    Worker(Reply),
    /// The event loop read a protocol file (or failed to).
    Loaded {
        path: PathBuf,
        result: Result<Box<Protocol>, String>,
    },
    /// The event loop wrote a file (or failed to).
    Written {
        path: PathBuf,
        result: Result<(), String>,
    },
}

/// Work for the event loop: hand to a worker, cancel, read or write a file, stop.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Attrition {
        job: u64,
        protocol: Box<Protocol>,
    },
    RunStudy {
        job: u64,
        protocol: Box<Protocol>,
    },
    Dashboard {
        job: u64,
    },
    Cancel(u64),
    SaveProtocol {
        path: PathBuf,
        text: String,
    },
    LoadProtocol {
        path: PathBuf,
    },
    ExportBundle {
        path: PathBuf,
        bundle: Box<Bundle>,
        protocol_toml: String,
    },
    Quit,
}

/// The protocol the interface starts with when none is given: the Flanders/Wallonia example.
pub const DEFAULT_PROTOCOL: &str =
    include_str!("../../../studies/examples/flanders-vs-wallonia.toml");

/// The default protocol, parsed.
pub fn default_protocol() -> Protocol {
    Protocol::parse("flanders-vs-wallonia.toml", DEFAULT_PROTOCOL).unwrap_or_else(|_| Protocol {
        title: "entry cohort".into(),
        question: String::new(),
        authors: Vec::new(),
        release: None,
        seed: 0,
        cohort: studies::protocol::Cohort {
            entry: EntryKind::First,
            entry_from: "2015-01-01".into(),
            entry_to: "2023-12-31".into(),
            rules: Vec::new(),
        },
        follow_up: Default::default(),
        groups: None,
        covariates: Vec::new(),
        outcomes: vec![OutcomeSpec {
            id: "P1.1".into(),
            ..Default::default()
        }],
        models: Vec::new(),
        compare: None,
        privacy: Default::default(),
    })
}

impl App {
    /// A new interface over `protocol`; the caller sends the first effects ([`App::start`]).
    pub fn new(
        mode: Mode,
        lang: Lang,
        protocol: Protocol,
        store_label: String,
        k_screen: u64,
    ) -> App {
        let rules = protocol
            .cohort
            .rules
            .iter()
            .map(|r| RuleRow {
                rule: r.clone(),
                enabled: true,
            })
            .collect();
        // The protocol's covariates (switched on), then the other common ones (off).
        let mut covariates: Vec<(String, bool)> = protocol
            .covariates
            .iter()
            .map(|c| (c.clone(), true))
            .collect();
        for c in COVARIATE_CHOICES {
            if !covariates.iter().any(|(x, _)| x == c) {
                covariates.push((c.to_string(), false));
            }
        }
        App {
            mode,
            lang,
            screen: if mode == Mode::DashboardOnly {
                Screen::Dashboard
            } else {
                Screen::Cohort
            },
            pane: 0,
            overlay: Overlay::None,
            store_label,
            k_screen,
            protocol,
            protocol_file: None,
            rules,
            rule_sel: 0,
            attrition: None,
            cohort_gen: 0,
            outcome_sel: 0,
            curve: CurveKind::CumulativeIncidence,
            outcome_results: BTreeMap::new(),
            outcome_errors: BTreeMap::new(),
            scroll: 0,
            form: ModelForm {
                outcome: 0,
                groups: 0,
                model: ModelChoice::Cox,
                covariates,
                field: 0,
            },
            model_result: None,
            model_protocol: None,
            dashboard: None,
            dash_sel: 0,
            jobs: Vec::new(),
            next_job: 1,
            status: String::new(),
            quit: false,
            ticks: 0,
            size: (80, 24),
        }
    }

    /// The effects of opening: the first attrition count, or the dashboard.
    pub fn start(&mut self) -> Vec<Effect> {
        match self.mode {
            Mode::Full => self.recount(),
            Mode::DashboardOnly => self.load_dashboard(),
        }
    }

    /// The screens this mode offers.
    pub fn screens(&self) -> &'static [Screen] {
        match self.mode {
            Mode::Full => &Screen::ALL,
            Mode::DashboardOnly => &[Screen::Dashboard],
        }
    }

    pub fn busy(&self) -> bool {
        !self.jobs.is_empty()
    }

    pub fn job(&self, kind: &JobKind) -> Option<&Job> {
        self.jobs.iter().find(|j| &j.kind == kind)
    }

    fn new_job(&mut self, kind: JobKind, label: String) -> u64 {
        let id = self.next_job;
        self.next_job += 1;
        self.jobs.push(Job {
            id,
            kind,
            label,
            progress: None,
        });
        id
    }

    /// Cancels the running job of this kind, if any.
    fn cancel_kind(&mut self, kind: &JobKind, effects: &mut Vec<Effect>) {
        if let Some(pos) = self.jobs.iter().position(|j| &j.kind == kind) {
            let j = self.jobs.remove(pos);
            effects.push(Effect::Cancel(j.id));
        }
    }

    /// The protocol with only the rules that are switched on.
    pub fn cohort_protocol(&self) -> Protocol {
        let mut p = self.protocol.clone();
        p.cohort.rules = self
            .rules
            .iter()
            .filter(|r| r.enabled)
            .map(|r| r.rule.clone())
            .collect();
        p
    }

    /// The protocol as it would be saved: the rules switched on, in order.
    pub fn protocol_to_save(&self) -> Protocol {
        self.cohort_protocol()
    }

    /// The outcomes of the outcome screen: the protocol's, else P1.1.
    pub fn outcome_ids(&self) -> Vec<String> {
        if self.protocol.outcomes.is_empty() {
            vec!["P1.1".into()]
        } else {
            self.protocol
                .outcomes
                .iter()
                .map(|o| o.id.clone())
                .collect()
        }
    }

    /// The outcome selected on the outcome screen.
    pub fn selected_outcome(&self) -> String {
        let ids = self.outcome_ids();
        ids.get(self.outcome_sel.min(ids.len().saturating_sub(1)))
            .cloned()
            .unwrap_or_else(|| "P1.1".into())
    }

    fn outcome_spec(&self, id: &str) -> OutcomeSpec {
        self.protocol
            .outcomes
            .iter()
            .find(|o| o.id == id)
            .cloned()
            .unwrap_or_else(|| OutcomeSpec {
                id: id.to_string(),
                ..Default::default()
            })
    }

    /// The protocol of one outcome's run on the outcome screen: the cohort, that outcome, and
    /// the curves (Aalen–Johansen and Kaplan–Meier), log-rank and fixed-window proportions.
    pub fn outcome_protocol(&self, id: &str) -> Protocol {
        let mut p = self.cohort_protocol();
        p.outcomes = vec![self.outcome_spec(id)];
        // Curves only: the adjusted comparison belongs to the model screen.
        p.compare = None;
        p.models = [
            ModelKind::CumulativeIncidence,
            ModelKind::KaplanMeier,
            ModelKind::Logrank,
            ModelKind::Proportion,
        ]
        .into_iter()
        .map(|kind| ModelSpec {
            kind,
            outcomes: None,
            tau: None,
            adjust: None,
            timing: None,
        })
        .collect();
        p
    }

    /// Time-to-event outcomes the model screen offers: the protocol's first, then the catalogue's.
    pub fn model_outcomes(&self) -> Vec<String> {
        let tte = |id: &str| {
            outcomes::Outcome::resolve(&OutcomeSpec {
                id: id.to_string(),
                ..Default::default()
            })
            .is_some_and(|o| o.kind == OutcomeKind::TimeToEvent)
        };
        let mut ids: Vec<String> = self
            .protocol
            .outcomes
            .iter()
            .map(|o| o.id.clone())
            .filter(|id| tte(id))
            .collect();
        for &id in outcomes::IDS {
            if tte(id) && !ids.iter().any(|x| x == id) {
                ids.push(id.to_string());
            }
        }
        ids
    }

    /// The protocol of the model screen's run.
    pub fn model_protocol_now(&self) -> Protocol {
        let mut p = self.cohort_protocol();
        let ids = self.model_outcomes();
        let id = ids
            .get(self.form.outcome)
            .cloned()
            .unwrap_or_else(|| "P1.1".into());
        p.outcomes = vec![self.outcome_spec(&id)];
        match GROUP_CHOICES.get(self.form.groups).copied() {
            Some("protocol") | None => {}
            Some("none") => p.groups = None,
            Some(by) => {
                p.groups = Some(Groups {
                    by: Some(by.to_string()),
                    ..Default::default()
                })
            }
        }
        p.covariates = self
            .form
            .covariates
            .iter()
            .filter(|(_, on)| *on)
            .map(|(c, _)| c.clone())
            .collect();
        let spec = |kind, tau| ModelSpec {
            kind,
            outcomes: None,
            tau,
            adjust: None,
            timing: None,
        };
        p.models = vec![
            spec(ModelKind::CumulativeIncidence, None),
            spec(ModelKind::Logrank, None),
            spec(ModelKind::Cox, None),
            spec(ModelKind::Rmst, Some(365.0)),
        ];
        // A propensity-score model: the protocol's own [compare] settings when it has them
        // (restricted to the covariates switched on), with fewer bootstrap replicates.
        p.compare = self.form.model.compare().map(|method| {
            let base = self.protocol.compare.clone().unwrap_or_default();
            let same_method = base.method == method && self.protocol.compare.is_some();
            let ps = base.ps_covariates.clone().map(|l| {
                l.into_iter()
                    .filter(|c| p.covariates.iter().any(|x| x == c))
                    .collect::<Vec<_>>()
            });
            Compare {
                method,
                estimand: if same_method { base.estimand } else { None },
                ps_covariates: ps.filter(|l| !l.is_empty()),
                bootstrap: Some(
                    base.bootstrap
                        .unwrap_or(COMPARE_BOOTSTRAP)
                        .min(COMPARE_BOOTSTRAP),
                ),
                outcomes: None,
                ..base
            }
        });
        p
    }

    /// A fresh attrition count of the current rules (cancelling the previous one).
    fn recount(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.cancel_kind(&JobKind::Attrition, &mut effects);
        let job = self.new_job(JobKind::Attrition, self.lang.t(W::Attrition).to_string());
        effects.push(Effect::Attrition {
            job,
            protocol: Box::new(self.cohort_protocol()),
        });
        effects
    }

    /// The cohort changed: older results no longer describe it.
    fn cohort_changed(&mut self) -> Vec<Effect> {
        self.cohort_gen += 1;
        self.outcome_results.clear();
        self.outcome_errors.clear();
        let mut effects = Vec::new();
        let outcome_jobs: Vec<JobKind> = self
            .jobs
            .iter()
            .filter(|j| matches!(j.kind, JobKind::Outcome(_)))
            .map(|j| j.kind.clone())
            .collect();
        for k in outcome_jobs {
            self.cancel_kind(&k, &mut effects);
        }
        effects.extend(self.recount());
        effects
    }

    /// Runs the selected outcome unless its result or run is already there.
    fn ensure_outcome(&mut self) -> Vec<Effect> {
        let id = self.selected_outcome();
        if self.outcome_results.contains_key(&id)
            || self.outcome_errors.contains_key(&id)
            || self.job(&JobKind::Outcome(id.clone())).is_some()
        {
            return Vec::new();
        }
        let mut effects = Vec::new();
        let others: Vec<JobKind> = self
            .jobs
            .iter()
            .filter(|j| matches!(j.kind, JobKind::Outcome(_)))
            .map(|j| j.kind.clone())
            .collect();
        for k in others {
            self.cancel_kind(&k, &mut effects);
        }
        let job = self.new_job(
            JobKind::Outcome(id.clone()),
            format!("{} {id}", self.lang.t(W::Outcome)),
        );
        effects.push(Effect::RunStudy {
            job,
            protocol: Box::new(self.outcome_protocol(&id)),
        });
        effects
    }

    fn run_model(&mut self) -> Vec<Effect> {
        let protocol = self.model_protocol_now();
        // The same checks as a protocol file: a comparison needs two groups and covariates.
        if let Err(e) = protocol
            .to_toml()
            .map_err(|e| e.to_string())
            .and_then(|t| Protocol::parse("model", &t).map_err(|e| protocol_problem(&e)))
        {
            self.status = format!("{}: {e}", self.form.model.label());
            return Vec::new();
        }
        let mut effects = Vec::new();
        self.cancel_kind(&JobKind::Model, &mut effects);
        let job = self.new_job(JobKind::Model, self.lang.t(W::Model).to_string());
        self.model_protocol = Some(protocol.clone());
        effects.push(Effect::RunStudy {
            job,
            protocol: Box::new(protocol),
        });
        effects
    }

    fn load_dashboard(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.cancel_kind(&JobKind::Dashboard, &mut effects);
        let job = self.new_job(JobKind::Dashboard, self.lang.t(W::Dashboard).to_string());
        effects.push(Effect::Dashboard { job });
        effects
    }

    fn go_to(&mut self, screen: Screen) -> Vec<Effect> {
        if !self.screens().contains(&screen) {
            return Vec::new();
        }
        self.screen = screen;
        self.pane = 0;
        self.scroll = 0;
        match screen {
            Screen::Outcomes => self.ensure_outcome(),
            Screen::Dashboard
                if self.dashboard.is_none() && self.job(&JobKind::Dashboard).is_none() =>
            {
                self.load_dashboard()
            }
            _ => Vec::new(),
        }
    }

    fn step_screen(&mut self, forward: bool) -> Vec<Effect> {
        let screens = self.screens();
        let i = screens.iter().position(|s| *s == self.screen).unwrap_or(0);
        let n = screens.len();
        let j = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        self.go_to(screens[j])
    }

    fn move_cursor(&mut self, delta: i64) -> Vec<Effect> {
        let step = |v: usize, len: usize| -> usize {
            if len == 0 {
                return 0;
            }
            let v = v as i64 + delta;
            v.clamp(0, len as i64 - 1) as usize
        };
        match (self.screen, self.pane) {
            (Screen::Cohort, _) => {
                self.rule_sel = step(self.rule_sel, self.rules.len() + 1);
                Vec::new()
            }
            (Screen::Outcomes, 0) => {
                let before = self.outcome_sel;
                self.outcome_sel = step(self.outcome_sel, self.outcome_ids().len());
                if before != self.outcome_sel {
                    self.scroll = 0;
                    self.ensure_outcome()
                } else {
                    Vec::new()
                }
            }
            (Screen::Models, 0) => {
                self.form.field = step(
                    self.form.field,
                    MODEL_FIXED_FIELDS + self.form.covariates.len(),
                );
                Vec::new()
            }
            (Screen::Dashboard, 0) => {
                let n = self.dashboard.as_ref().map_or(0, |d| d.centres.len());
                self.dash_sel = step(self.dash_sel, n);
                Vec::new()
            }
            _ => {
                self.scroll = (i64::from(self.scroll) + delta).clamp(0, 500) as u16;
                Vec::new()
            }
        }
    }

    /// Left/right on the model form changes the field's value.
    fn change_field(&mut self, delta: i64) {
        let cycle = |v: usize, n: usize| ((v as i64 + delta).rem_euclid(n as i64)) as usize;
        match self.form.field {
            0 => self.form.outcome = cycle(self.form.outcome, self.model_outcomes().len().max(1)),
            1 => self.form.groups = cycle(self.form.groups, GROUP_CHOICES.len()),
            2 => {
                let i = ModelChoice::ALL
                    .iter()
                    .position(|m| *m == self.form.model)
                    .unwrap_or(0);
                self.form.model = ModelChoice::ALL[cycle(i, ModelChoice::ALL.len())];
            }
            f => {
                if let Some(c) = self.form.covariates.get_mut(f - MODEL_FIXED_FIELDS) {
                    c.1 = !c.1;
                }
            }
        }
    }

    /// Validates a protocol with `rules` as its rules (the whole protocol, as a file would be).
    fn check_rules(
        &self,
        rules: &[Rule],
        cohort: Option<(EntryKind, String, String)>,
    ) -> Result<(), String> {
        let mut p = self.protocol.clone();
        p.cohort.rules = rules.to_vec();
        if let Some((entry, from, to)) = cohort {
            p.cohort.entry = entry;
            p.cohort.entry_from = from;
            p.cohort.entry_to = to;
        }
        let text = p.to_toml().map_err(|e| e.to_string())?;
        Protocol::parse("edit", &text)
            .map(|_| ())
            .map_err(|e| protocol_problem(&e))
    }

    fn all_rules(&self) -> Vec<Rule> {
        self.rules.iter().map(|r| r.rule.clone()).collect()
    }

    fn apply_rule_edit(&mut self, index: Option<usize>, text: &str) -> Vec<Effect> {
        match index {
            None => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct EntryWindow {
                    #[serde(default)]
                    entry: EntryKind,
                    entry_from: String,
                    entry_to: String,
                }
                #[derive(Deserialize)]
                struct Wrap {
                    c: EntryWindow,
                }
                let parsed: Result<Wrap, _> = toml::from_str(&format!("c = {{ {text} }}"));
                match parsed {
                    Ok(w) => {
                        let window = (w.c.entry, w.c.entry_from, w.c.entry_to);
                        match self.check_rules(&self.all_rules(), Some(window.clone())) {
                            Ok(()) => {
                                self.protocol.cohort.entry = window.0;
                                self.protocol.cohort.entry_from = window.1;
                                self.protocol.cohort.entry_to = window.2;
                                self.status.clear();
                                self.cohort_changed()
                            }
                            Err(e) => {
                                self.status = e;
                                Vec::new()
                            }
                        }
                    }
                    Err(e) => {
                        self.status = first_problem(&e.to_string());
                        Vec::new()
                    }
                }
            }
            Some(i) => {
                let Some(row) = self.rules.get(i) else {
                    return Vec::new();
                };
                let head = format!(
                    "name = {}, exclude = {}",
                    toml::Value::String(row.rule.name.clone()),
                    row.rule.exclude
                );
                match parse_rule(&format!("{head}, {text}")) {
                    Ok(rule) => {
                        let mut rules = self.all_rules();
                        rules[i] = rule.clone();
                        match self.check_rules(&rules, None) {
                            Ok(()) => {
                                self.rules[i].rule = rule;
                                self.status.clear();
                                if self.rules[i].enabled {
                                    self.cohort_changed()
                                } else {
                                    Vec::new()
                                }
                            }
                            Err(e) => {
                                self.status = e;
                                Vec::new()
                            }
                        }
                    }
                    Err(e) => {
                        self.status = e;
                        Vec::new()
                    }
                }
            }
        }
    }

    fn add_rule(&mut self, text: &str) -> Vec<Effect> {
        match parse_rule(text) {
            Ok(rule) => {
                let mut rules = self.all_rules();
                rules.push(rule.clone());
                match self.check_rules(&rules, None) {
                    Ok(()) => {
                        self.rules.push(RuleRow {
                            rule,
                            enabled: true,
                        });
                        self.rule_sel = self.rules.len();
                        self.status.clear();
                        self.cohort_changed()
                    }
                    Err(e) => {
                        self.status = e;
                        Vec::new()
                    }
                }
            }
            Err(e) => {
                self.status = e;
                Vec::new()
            }
        }
    }

    fn nudge(&mut self, delta: i64) -> Vec<Effect> {
        if self.rule_sel == 0 {
            let from = &self.protocol.cohort.entry_from;
            let year: Option<i64> = from.get(0..4).and_then(|y| y.parse().ok());
            if let Some(y) = year {
                let moved = format!("{:04}{}", y + delta, &from[4..]);
                if moved.as_str() <= self.protocol.cohort.entry_to.as_str() {
                    self.protocol.cohort.entry_from = moved;
                    return self.cohort_changed();
                }
            }
            return Vec::new();
        }
        let i = self.rule_sel - 1;
        let Some(row) = self.rules.get_mut(i) else {
            return Vec::new();
        };
        let r = &mut row.rule;
        let bump = |range: &mut studies::protocol::Range, step: i64, floor: i64| {
            if let Some(m) = range.max.as_mut() {
                *m = (*m + step).max(floor);
            } else if let Some(m) = range.min.as_mut() {
                *m = (*m + step).max(floor);
            } else {
                range.max = Some(floor.max(step));
            }
        };
        if let Some(range) = r.age_at_entry_years.as_mut() {
            bump(range, delta, 0);
        } else if let Some(range) = r.age_at_entry_months.as_mut() {
            bump(range, delta, 0);
        } else if let Some(range) = r.entry_year.as_mut() {
            bump(range, delta, 1900);
        } else if let Some(range) = r.episode_seq.as_mut() {
            bump(range, delta, 1);
        } else if let Some(d) = r.washout_days.as_mut() {
            *d = (*d + 30 * delta).max(0);
        } else {
            self.status =
                "+/- change a number (age, year, episode, washout); e edits any rule".into();
            return Vec::new();
        }
        let rules = self.all_rules();
        if let Err(e) = self.check_rules(&rules, None) {
            self.status = e;
            return Vec::new();
        }
        if self.rules[i].enabled {
            self.cohort_changed()
        } else {
            Vec::new()
        }
    }

    fn submit(&mut self, prompt: Prompt) -> Vec<Effect> {
        let text = prompt.text.trim().to_string();
        match prompt.kind {
            PromptKind::EditRule(i) => self.apply_rule_edit(i, &text),
            PromptKind::AddRule => self.add_rule(&text),
            PromptKind::Save => {
                if text.is_empty() {
                    return Vec::new();
                }
                match self.protocol_to_save().to_toml() {
                    Ok(toml) => vec![Effect::SaveProtocol {
                        path: PathBuf::from(text),
                        text: toml,
                    }],
                    Err(e) => {
                        self.status = e.to_string();
                        Vec::new()
                    }
                }
            }
            PromptKind::Open => {
                if text.is_empty() {
                    return Vec::new();
                }
                vec![Effect::LoadProtocol {
                    path: PathBuf::from(text),
                }]
            }
            PromptKind::Export => {
                let (Some(b), Some(p)) = (&self.model_result, &self.model_protocol) else {
                    self.status = format!(
                        "{} — {}",
                        self.lang.t(W::NoResults),
                        self.lang.t(W::PressRun)
                    );
                    return Vec::new();
                };
                if text.is_empty() {
                    return Vec::new();
                }
                match p.to_toml() {
                    Ok(toml) => vec![Effect::ExportBundle {
                        path: PathBuf::from(text),
                        bundle: Box::new(b.clone()),
                        protocol_toml: toml,
                    }],
                    Err(e) => {
                        self.status = e.to_string();
                        Vec::new()
                    }
                }
            }
        }
    }

    fn open_prompt(&mut self, kind: PromptKind, text: String) {
        self.overlay = Overlay::Prompt(Prompt { kind, text });
    }

    /// A worker's answer: kept if its job is still wanted, dropped otherwise.
    fn reply(&mut self, reply: Reply) -> Vec<Effect> {
        let id = reply.job();
        let Some(pos) = self.jobs.iter().position(|j| j.id == id) else {
            return Vec::new();
        };
        if let Reply::Progress {
            done,
            total,
            message,
            ..
        } = reply
        {
            self.jobs[pos].progress = Some((done, total, message));
            return Vec::new();
        }
        let job = self.jobs.remove(pos);
        match (job.kind, reply) {
            (JobKind::Attrition, Reply::Attrition { result, .. }) => match result {
                Ok(v) => {
                    self.attrition = Some(v);
                    if self.status.starts_with("attrition:") {
                        self.status.clear();
                    }
                }
                Err(e) => self.status = format!("attrition: {e}"),
            },
            (JobKind::Outcome(id), Reply::Study { result, .. }) => match result {
                Ok(b) => {
                    self.outcome_results.insert(id, *b);
                }
                Err(e) => {
                    self.status = format!("{id}: {e}");
                    self.outcome_errors.insert(id, e);
                }
            },
            (JobKind::Model, Reply::Study { result, .. }) => match result {
                Ok(b) => self.model_result = Some(*b),
                Err(e) => self.status = format!("{}: {e}", self.lang.t(W::Model)),
            },
            (JobKind::Dashboard, Reply::Dashboard { result, .. }) => match result {
                Ok(d) => {
                    self.dash_sel = self.dash_sel.min(d.centres.len().saturating_sub(1));
                    self.dashboard = Some(*d);
                }
                Err(e) => self.status = format!("{}: {e}", self.lang.t(W::Dashboard)),
            },
            (_, Reply::Study { result: Err(e), .. }) => self.status = e,
            _ => {}
        }
        Vec::new()
    }
}

/// Parses `name = "…", exclude = …, criterion = …` (the inside of an inline table) as a rule;
/// without a name, the rule is named by its criterion as typed.
pub fn parse_rule(text: &str) -> Result<Rule, String> {
    #[derive(Deserialize)]
    struct Wrap {
        r: toml::Table,
    }
    let mut table = toml::from_str::<Wrap>(&format!("r = {{ {text} }}"))
        .map(|w| w.r)
        .map_err(|e| first_problem(&e.to_string()))?;
    if !table.contains_key("name") {
        table.insert("name".into(), toml::Value::String(text.trim().to_string()));
    }
    Rule::deserialize(table).map_err(|e| first_problem(&e.to_string()))
}

/// A rule's criterion as the inside of an inline TOML table, for editing.
pub fn criterion_text(rule: &Rule) -> String {
    match toml::Value::try_from(rule) {
        Ok(toml::Value::Table(t)) => t
            .iter()
            .filter(|(k, _)| k.as_str() != "name" && k.as_str() != "exclude")
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        _ => String::new(),
    }
}

/// The entry window as the inside of an inline TOML table, for editing.
pub fn entry_text(p: &Protocol) -> String {
    format!(
        "entry = \"{}\", entry_from = \"{}\", entry_to = \"{}\"",
        match p.cohort.entry {
            EntryKind::First => "first",
            EntryKind::Every => "every",
        },
        p.cohort.entry_from,
        p.cohort.entry_to
    )
}

/// The first problem of a protocol, with its key and hint, on one line.
fn protocol_problem(e: &studies::protocol::ProtocolError) -> String {
    match e.problems.first() {
        Some(p) => {
            let mut s = if p.path.is_empty() {
                p.message.clone()
            } else {
                format!("{}: {}", p.path, p.message)
            };
            if let Some(h) = &p.hint {
                s.push_str(&format!(" ({h})"));
            }
            if e.problems.len() > 1 {
                s.push_str(&format!(" (+{} more)", e.problems.len() - 1));
            }
            s
        }
        None => e.to_string(),
    }
}

/// The first line of an error that has something to say (parse errors span several lines).
fn first_problem(e: &str) -> String {
    let lines: Vec<&str> = e.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let pick = lines
        .iter()
        .find(|l| !l.starts_with('|') && !l.starts_with("-->") && !l.starts_with('^'))
        .copied()
        .unwrap_or("invalid");
    let hint = lines
        .iter()
        .find(|l| l.contains("help:") || l.contains("did you mean"));
    match hint {
        Some(h) if *h != pick => format!("{pick} ({h})"),
        _ => pick.to_string(),
    }
}

/// Applies one action to the state and returns the work it asks for.
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    // Answers of workers, file results, timers and resizes apply whatever is open.
    match action {
        Action::Worker(reply) => return app.reply(reply),
        Action::Tick => {
            app.ticks = app.ticks.wrapping_add(1);
            return Vec::new();
        }
        Action::Resize(w, h) => {
            app.size = (w, h);
            return Vec::new();
        }
        Action::ForceQuit => {
            app.quit = true;
            let mut effects: Vec<Effect> =
                app.jobs.drain(..).map(|j| Effect::Cancel(j.id)).collect();
            effects.push(Effect::Quit);
            return effects;
        }
        Action::Loaded { path, result } => {
            match result {
                Ok(p) => {
                    let store_label = std::mem::take(&mut app.store_label);
                    let mut fresh = App::new(app.mode, app.lang, *p, store_label, app.k_screen);
                    fresh.protocol_file = Some(path.clone());
                    fresh.size = app.size;
                    fresh.next_job = app.next_job;
                    fresh.dashboard = app.dashboard.take();
                    let mut effects: Vec<Effect> =
                        app.jobs.drain(..).map(|j| Effect::Cancel(j.id)).collect();
                    *app = fresh;
                    app.status = format!("{} {}", app.lang.t(W::LoadedFrom), path.display());
                    effects.extend(app.recount());
                    return effects;
                }
                Err(e) => app.status = format!("{}: {e}", path.display()),
            }
            return Vec::new();
        }
        Action::Written { path, result } => {
            app.status = match result {
                Ok(()) => format!("{} {}", app.lang.t(W::SavedTo), path.display()),
                Err(e) => format!("{}: {e}", path.display()),
            };
            return Vec::new();
        }
        _ => {}
    }

    // An open overlay takes the keys.
    match app.overlay.clone() {
        Overlay::Help => {
            if matches!(
                action,
                Action::Escape | Action::ToggleHelp | Action::Quit | Action::Submit
            ) {
                app.overlay = Overlay::None;
            }
            return Vec::new();
        }
        Overlay::ConfirmQuit => {
            return match action {
                Action::Confirm(true) | Action::Quit => update(app, Action::ForceQuit),
                Action::Confirm(false) | Action::Escape => {
                    app.overlay = Overlay::None;
                    Vec::new()
                }
                _ => Vec::new(),
            };
        }
        Overlay::Prompt(mut prompt) => {
            match action {
                Action::Input(c) => {
                    if prompt.text.chars().count() < 400 {
                        prompt.text.push(c);
                    }
                    app.overlay = Overlay::Prompt(prompt);
                }
                Action::Backspace => {
                    prompt.text.pop();
                    app.overlay = Overlay::Prompt(prompt);
                }
                Action::Escape => app.overlay = Overlay::None,
                Action::Submit => {
                    app.overlay = Overlay::None;
                    return app.submit(prompt);
                }
                _ => {}
            }
            return Vec::new();
        }
        Overlay::None => {}
    }

    match action {
        Action::Quit => {
            if app.busy() {
                app.overlay = Overlay::ConfirmQuit;
                Vec::new()
            } else {
                app.quit = true;
                vec![Effect::Quit]
            }
        }
        Action::Escape => {
            if app.busy() {
                let effects: Vec<Effect> =
                    app.jobs.drain(..).map(|j| Effect::Cancel(j.id)).collect();
                app.status = app.lang.t(W::Cancelled).to_string();
                effects
            } else {
                Vec::new()
            }
        }
        Action::ToggleHelp => {
            app.overlay = Overlay::Help;
            Vec::new()
        }
        Action::GoTo(s) => app.go_to(s),
        Action::NextScreen => app.step_screen(true),
        Action::PrevScreen => app.step_screen(false),
        Action::NextPane => {
            app.pane = (app.pane + 1) % app.screen.panes();
            Vec::new()
        }
        Action::PrevPane => {
            let n = app.screen.panes();
            app.pane = (app.pane + n - 1) % n;
            Vec::new()
        }
        Action::Up => app.move_cursor(-1),
        Action::Down => app.move_cursor(1),
        Action::PageUp => app.move_cursor(-10),
        Action::PageDown => app.move_cursor(10),
        Action::Top => app.move_cursor(-100_000),
        Action::Bottom => app.move_cursor(100_000),
        Action::Left | Action::Right => {
            let d = if action == Action::Left { -1 } else { 1 };
            match app.screen {
                Screen::Models if app.pane == 0 => {
                    app.change_field(d);
                    Vec::new()
                }
                _ => {
                    app.pane = if d < 0 {
                        0
                    } else {
                        (app.pane + 1).min(app.screen.panes() - 1)
                    };
                    Vec::new()
                }
            }
        }
        Action::Toggle => match app.screen {
            Screen::Cohort if app.rule_sel > 0 => {
                if let Some(r) = app.rules.get_mut(app.rule_sel - 1) {
                    r.enabled = !r.enabled;
                }
                app.cohort_changed()
            }
            Screen::Models if app.form.field >= MODEL_FIXED_FIELDS => {
                app.change_field(1);
                Vec::new()
            }
            Screen::Outcomes => {
                app.curve = match app.curve {
                    CurveKind::CumulativeIncidence => CurveKind::KaplanMeier,
                    CurveKind::KaplanMeier => CurveKind::CumulativeIncidence,
                };
                Vec::new()
            }
            _ => Vec::new(),
        },
        Action::ToggleExclude if app.screen == Screen::Cohort && app.rule_sel > 0 => {
            let i = app.rule_sel - 1;
            if let Some(r) = app.rules.get_mut(i) {
                r.rule.exclude = !r.rule.exclude;
                if r.enabled {
                    return app.cohort_changed();
                }
            }
            Vec::new()
        }
        Action::Edit if app.screen == Screen::Cohort => {
            if app.rule_sel == 0 {
                let t = entry_text(&app.protocol);
                app.open_prompt(PromptKind::EditRule(None), t);
            } else if let Some(r) = app.rules.get(app.rule_sel - 1) {
                let t = criterion_text(&r.rule);
                app.open_prompt(PromptKind::EditRule(Some(app.rule_sel - 1)), t);
            }
            Vec::new()
        }
        Action::Edit if app.screen == Screen::Models => app.run_model(),
        Action::Nudge(d) if app.screen == Screen::Cohort => app.nudge(d),
        Action::AddRule if app.screen == Screen::Cohort => {
            app.open_prompt(PromptKind::AddRule, String::new());
            Vec::new()
        }
        Action::DeleteRule if app.screen == Screen::Cohort && app.rule_sel > 0 => {
            let i = app.rule_sel - 1;
            if i < app.rules.len() {
                let removed = app.rules.remove(i);
                app.rule_sel = app.rule_sel.min(app.rules.len());
                if removed.enabled {
                    return app.cohort_changed();
                }
            }
            Vec::new()
        }
        Action::NewFromEntry if app.screen == Screen::Cohort => {
            app.rules.clear();
            app.rule_sel = 0;
            app.cohort_changed()
        }
        Action::Save if app.mode == Mode::Full => {
            let name = app
                .protocol_file
                .as_ref()
                .and_then(|p| p.file_stem())
                .map_or_else(
                    || "cohort".to_string(),
                    |s| s.to_string_lossy().into_owned(),
                );
            app.open_prompt(PromptKind::Save, format!("{name}-edited.toml"));
            Vec::new()
        }
        Action::Open if app.mode == Mode::Full => {
            app.open_prompt(PromptKind::Open, String::new());
            Vec::new()
        }
        Action::Export if app.screen == Screen::Models => {
            if app.model_result.is_some() {
                app.open_prompt(PromptKind::Export, "model-results".into());
            } else {
                app.status = format!("{} — {}", app.lang.t(W::NoResults), app.lang.t(W::PressRun));
            }
            Vec::new()
        }
        Action::ToggleExclude | Action::Export => Vec::new(),
        Action::Run => match app.screen {
            Screen::Cohort => app.recount(),
            Screen::Outcomes => {
                let id = app.selected_outcome();
                app.outcome_results.remove(&id);
                app.outcome_errors.remove(&id);
                let mut effects = Vec::new();
                app.cancel_kind(&JobKind::Outcome(id), &mut effects);
                effects.extend(app.ensure_outcome());
                effects
            }
            Screen::Models => app.run_model(),
            Screen::Dashboard => app.load_dashboard(),
        },
        Action::SwitchCurve if app.screen == Screen::Outcomes => {
            app.curve = match app.curve {
                CurveKind::CumulativeIncidence => CurveKind::KaplanMeier,
                CurveKind::KaplanMeier => CurveKind::CumulativeIncidence,
            };
            Vec::new()
        }
        Action::CycleLang => {
            app.lang = app.lang.next();
            Vec::new()
        }
        Action::Click(col, row) => {
            if row == 0 {
                // The tab bar: " 1 Cohort  2 Outcomes ..." — find the tab under the click.
                let mut x = 0u16;
                for (i, s) in app.screens().iter().enumerate() {
                    let w = tab_label(i, *s, app.lang).chars().count() as u16 + 1;
                    if col >= x && col < x + w {
                        return app.go_to(*s);
                    }
                    x += w;
                }
            }
            Vec::new()
        }
        Action::Submit if app.screen == Screen::Cohort => update(app, Action::Edit),
        Action::Submit if app.screen == Screen::Models => app.run_model(),
        _ => Vec::new(),
    }
}

/// The label of tab `i` as the tab bar prints it.
pub fn tab_label(i: usize, s: Screen, lang: Lang) -> String {
    format!(" {} {} ", i + 1, s.title(lang))
}
