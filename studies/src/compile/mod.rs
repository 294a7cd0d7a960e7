//! The study compiler: a validated protocol becomes parameterised DuckDB SQL, one named CTE per
//! cohort rule, and one statement per derived dataset. No value from a protocol is spliced into
//! SQL text: codes, dates and numbers are bound as `$n` parameters.
//!
//! The statements run in order on one connection:
//! 1. [`Compiled::entry_base`] creates the temporary table `study_entry_base`: every entry
//!    episode with everything a rule reads, so the rules are conditions on its rows (one CTE per
//!    rule marks `kept_<i>`: whether the row passed steps 0..=i),
//! 2. [`Compiled::attrition`] counts children and episodes after each step in one pass over it,
//! 3. [`Compiled::cohort`] creates `study_cohort` (the entry episodes every step kept, with their
//!    covariates and comparison group),
//! 4. [`Compiled::chain`] creates `study_children` (each child's integer `child_row`),
//!    `study_chain` (each entry episode and the episodes that continue it after a transfer
//!    between centres), `study_followup` (how follow-up can end) and the cohort's slices of the
//!    large case tables that the outcomes read, keyed by `child_row` or the entry's `cohort_row`,
//! 5. [`Compiled::cohort_rows`] reads who each cohort row is (episode, child, group, covariates),
//! 6. each [`CompiledOutcome::statement`] selects one outcome's analysis dataset, keyed by
//!    `cohort_row`.

mod cohort;
mod outcome;

use serde::Serialize;

use crate::outcomes::Outcome;
use crate::protocol::Protocol;

/// The event types an outcome reads of an entry episode's transfer chain (`study_events`).
const CHAIN_EVENT_TYPES: &str =
    "('SAFETY_REACHED', 'PLACEMENT_START', 'PARQUET_REFERRAL', 'COURT_MEASURE')";

/// A value bound to a `$n` placeholder.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Param {
    Text(String),
    Int(i64),
    Float(f64),
}

/// The parameters of one statement, numbered from 1 in order of appearance.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Params {
    pub values: Vec<Param>,
}

impl Params {
    fn push(&mut self, p: Param) -> String {
        self.values.push(p);
        format!("${}", self.values.len())
    }
    /// A text placeholder.
    pub fn text(&mut self, v: &str) -> String {
        self.push(Param::Text(v.to_string()))
    }
    /// An integer placeholder (cast, so DuckDB types date arithmetic as days).
    pub fn int(&mut self, v: i64) -> String {
        format!("CAST({} AS INTEGER)", self.push(Param::Int(v)))
    }
    /// A real placeholder.
    pub fn float(&mut self, v: f64) -> String {
        format!("CAST({} AS DOUBLE)", self.push(Param::Float(v)))
    }
    /// A date placeholder (`YYYY-MM-DD` text cast to DATE).
    pub fn date(&mut self, v: &str) -> String {
        format!("CAST({} AS DATE)", self.push(Param::Text(v.to_string())))
    }
    /// `($a, $b, ...)` for an IN list.
    pub fn list(&mut self, values: &[String]) -> String {
        format!("({})", self.texts(values))
    }
    /// `[$a, $b, ...]`: a list value (for `list_has_any` and the like).
    pub fn array(&mut self, values: &[String]) -> String {
        format!("[{}]", self.texts(values))
    }
    fn texts(&mut self, values: &[String]) -> String {
        let items: Vec<String> = values.iter().map(|v| self.text(v)).collect();
        items.join(", ")
    }
}

/// One SQL statement with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    pub sql: String,
    pub params: Params,
}

/// One step of the attrition table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// `entry` for the entry step, else the rule's name.
    pub name: String,
    /// The CTE holding the episodes that remain after this step.
    pub cte: String,
    /// Whether the rule removes (rather than keeps) what it describes.
    pub exclude: bool,
}

/// One outcome's dataset statement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompiledOutcome {
    pub outcome: Outcome,
    pub statement: Statement,
}

/// A protocol compiled for one release.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compiled {
    pub release_id: String,
    pub steps: Vec<Step>,
    pub entry_base: Statement,
    pub cohort: Statement,
    pub chain: Vec<Statement>,
    pub attrition: Statement,
    /// The cohort's rows in `cohort_row` order: `cohort_row`, [`KEY_COLUMNS`], the covariates.
    pub cohort_rows: Statement,
    pub outcomes: Vec<CompiledOutcome>,
    /// Covariate columns of `study_cohort` (`cov_<name>`), in protocol order, and the design
    /// specifications the models take (`name`, `name:cat=LEVEL`).
    pub covariates: Vec<CovariateColumn>,
}

/// A covariate as a column of the datasets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CovariateColumn {
    /// The protocol's name (`form_NEGL`, `community`).
    pub name: String,
    /// Column name in the datasets.
    pub column: String,
    pub categorical: bool,
    /// Reference level of a categorical covariate (`name:cat=LEVEL`).
    pub reference: Option<String>,
}

/// Who a cohort row is, after `cohort_row` in [`Compiled::cohort_rows`] (the covariates follow).
pub const KEY_COLUMNS: &[&str] = &["episode_id", "child_pid", "centre_id", "grp"];

/// Columns of every dataset after `cohort_row`, in order (see the `outcome` module for their
/// meaning).
pub const VALUE_COLUMNS: &[&str] = &[
    "t_start",
    "t_stop",
    "status",
    "treated",
    "complete_window",
    "baseline",
    "followup",
    "improved",
    "recovered",
    "sustained",
    "events",
    "exposure_days",
];

/// Compiles `protocol` for `release_id` (the protocol's own release, or the store's default).
pub fn compile(protocol: &Protocol, release_id: &str) -> Compiled {
    let covariates = covariate_columns(protocol);
    let entry_base =
        cohort::entry_base_statement(protocol, release_id, cohort::RuleData::of(protocol));
    let (cohort, steps) = cohort::cohort_statement(protocol, &covariates);
    let attrition = cohort::attrition_statement(protocol);
    let chain = cohort::chain_statements(protocol, release_id);
    let cohort_rows = cohort_rows_statement(&covariates);
    let outcomes = protocol
        .resolved_outcomes()
        .into_iter()
        .map(|o| CompiledOutcome {
            statement: outcome::statement(protocol, release_id, &o),
            outcome: o,
        })
        .collect();
    Compiled {
        release_id: release_id.to_string(),
        steps,
        entry_base,
        cohort,
        chain,
        attrition,
        cohort_rows,
        outcomes,
        covariates,
    }
}

/// Who each cohort row is: the key columns and covariates of `study_cohort`, by `cohort_row`.
fn cohort_rows_statement(covariates: &[CovariateColumn]) -> Statement {
    let columns: Vec<&str> = std::iter::once("cohort_row")
        .chain(KEY_COLUMNS.iter().copied())
        .chain(covariates.iter().map(|c| c.column.as_str()))
        .collect();
    Statement {
        sql: format!(
            "SELECT {} FROM study_cohort ORDER BY cohort_row",
            columns.join(", ")
        ),
        params: Params::default(),
    }
}

/// `study_entry_base` with everything any rule reads, whatever `protocol`'s rules are: the
/// terminal UI builds it once per release, entry window and entry kind, and then counts the
/// attrition of edited rules ([`Compiled::attrition`]) over it.
pub fn entry_base_for_editing(protocol: &Protocol, release_id: &str) -> Statement {
    cohort::entry_base_statement(protocol, release_id, cohort::RuleData::all())
}

/// The statement telling which step admitted or excluded one child (`study why`).
pub fn why_statement(
    protocol: &Protocol,
    release_id: &str,
    child_pid: &str,
) -> (Statement, Vec<Step>) {
    cohort::why_statement(protocol, release_id, child_pid)
}

fn covariate_columns(protocol: &Protocol) -> Vec<CovariateColumn> {
    protocol
        .covariates
        .iter()
        .map(|spec| {
            let (name, modifier) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
            CovariateColumn {
                name: name.to_string(),
                column: format!("cov_{}", name.to_lowercase()),
                categorical: modifier.starts_with("cat"),
                reference: modifier.strip_prefix("cat=").map(str::to_string),
            }
        })
        .collect()
}

impl Compiled {
    /// Every statement as one readable script with the bound values as comments (`study sql`).
    pub fn script(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "-- Compiled study for release {}; parameters are bound, shown here as comments.\n\n",
            self.release_id
        ));
        let mut push = |title: &str, s: &Statement| {
            out.push_str(&format!("-- {title}\n"));
            for (i, v) in s.params.values.iter().enumerate() {
                let shown = match v {
                    Param::Text(t) => format!("'{t}'"),
                    Param::Int(n) => n.to_string(),
                    Param::Float(x) => x.to_string(),
                };
                out.push_str(&format!("--   ${} = {shown}\n", i + 1));
            }
            out.push_str(s.sql.trim());
            out.push_str(";\n\n");
        };
        push(
            "1. the entry episodes with what the rules read",
            &self.entry_base,
        );
        push(
            "2. attrition: one CTE per rule marking what it keeps; what remains after each step",
            &self.attrition,
        );
        push("3. the cohort: what every step kept", &self.cohort);
        for s in &self.chain {
            push(
                "4. follow-up across transfers and the cohort's case records",
                s,
            );
        }
        for o in &self.outcomes {
            push(
                &format!(
                    "5. outcome {} ({}): analysis dataset",
                    o.outcome.id, o.outcome.label
                ),
                &o.statement,
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A protocol naming every outcome, with every kind of rule and an intervention comparison.
    const EVERYTHING: &str = r#"
title = "everything"
covariates = ["adolescent", "form_NEGL", "ctx_PARTNER_VIOLENCE", "primary_form:cat=EMO"]
[cohort]
entry = "every"
entry_from = "2015-01-01"
entry_to = "2023-12-31"
[[cohort.rule]]
name = "age"
age_at_entry_years = { min = 0, max = 17 }
[[cohort.rule]]
name = "forms"
forms = ["PHYS", "NEGL"]
forms_match = "all"
[[cohort.rule]]
name = "washout"
washout_days = 365
exclude = true
[[cohort.rule]]
name = "contexts"
contexts = ["POVERTY"]
exclude = true
[groups]
intervention = "FAMILY_SUPPORT"
"#;

    /// Every `$n` placeholder of a statement has a value and every value a placeholder.
    fn placeholders_match(s: &Statement) {
        let mut used = std::collections::BTreeSet::new();
        let b = s.sql.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'$' {
                let digits: String = s.sql[i + 1..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                if let Ok(n) = digits.parse::<usize>() {
                    used.insert(n);
                }
            }
            i += 1;
        }
        let expected: std::collections::BTreeSet<usize> = (1..=s.params.values.len()).collect();
        assert_eq!(used, expected, "{}", s.sql);
    }

    #[test]
    fn every_outcome_compiles_with_matching_parameters() {
        let mut text = EVERYTHING.to_string();
        for id in crate::outcomes::IDS {
            text.push_str(&format!("[[outcome]]\nid = \"{id}\"\n"));
        }
        let p = Protocol::parse("p.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        let c = compile(&p, "R1");
        assert_eq!(c.outcomes.len(), crate::outcomes::IDS.len());
        assert_eq!(c.steps.len(), 5);
        placeholders_match(&c.entry_base);
        placeholders_match(&entry_base_for_editing(&p, "R1"));
        placeholders_match(&c.cohort);
        placeholders_match(&c.attrition);
        for s in &c.chain {
            placeholders_match(s);
        }
        for o in &c.outcomes {
            placeholders_match(&o.statement);
        }
        let (why, _) = why_statement(&p, "R1", "CHILD");
        placeholders_match(&why);
        assert!(c.script().contains("-- rule 3: exclude washout"));
    }
}
