//! The bundle-wide audit: all count tables of one results bundle gated together.
//!
//! Every published count is a *quantity* (a node). A table line (a row or a column with its
//! total) and an attrition step (remaining before = remaining after + excluded) are linear
//! constraints "sum of parts = whole". Quantities declared the same across tables
//! ([`Audit::same`]) are one node, so hiding one hides it everywhere; quantities declared a sum
//! across tables ([`Audit::sum`]) add a constraint.
//!
//! Rules enforced, iterated to a fixpoint (each step hides one more node or relabels one `<k` as
//! `x`, so it ends):
//! 1. Primary: every node in (0, k) is `<k` ([`GatedCount::BelowK`]). Zero is published.
//! 2. No constraint has exactly one hidden node (subtraction gives it back).
//! 3. Where a constraint's whole is published, its hidden parts add to 0 or at least k (else the
//!    bundle reveals that they are all small), and at least one of them is an `x` (so the `<k`
//!    markers, which tell that a count is in 1..k-1, cannot pin the small ones: `4 + 4 = 8`).
//! 4. No node in (0, k) is a linear combination of published values: exact rational Gaussian
//!    elimination of the constraint system over the hidden nodes (a hidden node is determined iff
//!    its unit vector is in the row space).
//! 5. No node in (0, k) is pinned by what the bundle publishes, read as a reader would: the
//!    published values, `<k` = a count in 1..k-1, `x` = any count. First cheaply (integer bounds
//!    propagated through the constraints and through the reduced rows of rule 4, which carry
//!    combinations such as "this table's total is also that chain's end"), then exactly: a depth-
//!    first search for another non-negative integer filling of the hidden nodes that gives the
//!    small node another value. If there is none, it is pinned.
//!
//! Rules 2, 3 and 4 are repaired by hiding the smallest non-zero published part nearest to the
//! exposed node (parts before wholes, ties by registration order); rule 5 first by relabelling the
//! pinned `<k` as `x` (an `x` says nothing about size), then as rules 2–4.
//!
//! Limits: this is a cell-suppression audit of declared linear relations, not a full
//! linear-programming audit. The exact search of rule 5 caps each count at twice the bundle's
//! largest count plus k and each search at a fixed number of nodes; a search that runs out
//! counts as "pinned", so the caps can only cause more suppression, never less (on very large
//! bundles, possibly much more). No minimum width of a hidden count's possible range (a
//! "protection interval", e.g. +-p%) is required beyond "not a single value" and rule 3. The
//! result is deterministic but not minimal (greedy, not an optimal suppression pattern). The
//! bundle is audited only for the relations declared to it: a table whose cells overlap another's
//! without a declaration is audited as if independent. Rounding is not applied.

use std::collections::{BTreeSet, VecDeque};

use super::{CountTable, Gate, GatedCount, GatedTable};

/// A table registered with an [`Audit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TableRef(usize);

/// An entry of a registered table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// An interior cell of a [`CountTable`].
    Cell { row: usize, column: usize },
    /// The total of a row of a [`CountTable`].
    RowTotal(usize),
    /// The total of a column of a [`CountTable`].
    ColumnTotal(usize),
    /// The grand total of a [`CountTable`].
    Total,
    /// The count remaining after step `i` of an [`AttritionTable`] (step 0: the start).
    Remaining(usize),
    /// The count excluded by step `i >= 1` of an [`AttritionTable`].
    Excluded(usize),
}

/// One published quantity: an entry of a registered table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Quantity {
    pub table: TableRef,
    pub entry: Entry,
}

impl TableRef {
    pub fn cell(self, row: usize, column: usize) -> Quantity {
        self.entry(Entry::Cell { row, column })
    }
    pub fn row_total(self, row: usize) -> Quantity {
        self.entry(Entry::RowTotal(row))
    }
    pub fn column_total(self, column: usize) -> Quantity {
        self.entry(Entry::ColumnTotal(column))
    }
    pub fn total(self) -> Quantity {
        self.entry(Entry::Total)
    }
    pub fn remaining(self, step: usize) -> Quantity {
        self.entry(Entry::Remaining(step))
    }
    pub fn excluded(self, step: usize) -> Quantity {
        self.entry(Entry::Excluded(step))
    }
    pub fn entry(self, entry: Entry) -> Quantity {
        Quantity { table: self, entry }
    }
}

/// A chain of counts, each at most the previous: the attrition table (children remaining after
/// each rule, in order; step 0 is the starting population), or the number at risk of one group at
/// fixed times. The difference of consecutive counts (the children excluded by a rule) is a
/// published quantity too.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttritionTable {
    pub title: String,
    pub steps: Vec<AttritionStep>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttritionStep {
    /// The rule applied at this step (for step 0: the starting population).
    pub label: String,
    pub remaining: u64,
}

/// An attrition table after the gate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GatedAttrition {
    pub title: String,
    pub steps: Vec<GatedAttritionStep>,
    pub k: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GatedAttritionStep {
    pub label: String,
    pub remaining: GatedCount,
    /// Children excluded by this step's rule; `None` for step 0.
    pub excluded: Option<GatedCount>,
}

/// One gated output of a bundle, in registration order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GatedOutput {
    Table(GatedTable),
    Attrition(GatedAttrition),
}

/// What the audit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AuditReport {
    pub k: u64,
    /// Distinct quantities (declared-equal entries count once).
    pub quantities: usize,
    /// Quantities in (0, k).
    pub primary: usize,
    /// Quantities hidden so that a small one cannot be recomputed.
    pub complementary: usize,
    /// Small quantities published as `x` instead of `<k`, because the `<k` markers would pin them.
    pub relabelled: usize,
}

/// A bundle after the audit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AuditedBundle {
    pub outputs: Vec<GatedOutput>,
    pub report: AuditReport,
}

/// A declaration the audit cannot accept. Messages name tables and entries, never counts.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuditError {
    #[error("{0} does not exist")]
    NoSuchEntry(String),
    #[error("{a} and {b} are declared the same quantity but differ")]
    NotSame { a: String, b: String },
    #[error("{whole} is declared the sum of {parts} quantities that do not add up to it")]
    NotASum { whole: String, parts: usize },
    #[error("attrition table '{table}': step {step} has more children than the step before")]
    AttritionGrows { table: String, step: usize },
    #[error("table '{table}': row {row} does not have one cell per column")]
    Ragged { table: String, row: usize },
}

#[derive(Debug, Clone)]
enum Layout {
    Table {
        source: CountTable,
        ids: Vec<Vec<usize>>,
    },
    Attrition {
        title: String,
        labels: Vec<String>,
        remaining: Vec<usize>,
        /// `excluded[i]` for step `i >= 1`; `excluded[0]` is unused.
        excluded: Vec<usize>,
    },
}

#[derive(Debug, Clone)]
struct Constraint {
    whole: usize,
    parts: Vec<usize>,
}

/// The published state of one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Shown,
    /// `<k`: the reader learns the count is in 1..k-1.
    BelowK,
    /// `x`: the reader learns nothing about the count.
    Hidden,
}

/// Collects the count tables of one bundle and the relations between them, then gates them
/// together ([`Audit::run`]).
#[derive(Debug, Clone)]
pub struct Audit {
    gate: Gate,
    values: Vec<u64>,
    parent: Vec<usize>,
    /// Quantities to hide first when a complementary cell must go (see [`Audit::expendable`]).
    expendable: Vec<bool>,
    constraints: Vec<Constraint>,
    tables: Vec<Layout>,
}

impl Audit {
    pub fn new(gate: Gate) -> Self {
        Audit {
            gate,
            values: Vec::new(),
            parent: Vec::new(),
            expendable: Vec::new(),
            constraints: Vec::new(),
            tables: Vec::new(),
        }
    }

    fn node(&mut self, v: u64) -> usize {
        self.values.push(v);
        self.parent.push(self.values.len() - 1);
        self.expendable.push(false);
        self.values.len() - 1
    }

    /// Marks a column of a registered table (its total included) as the first choice when a
    /// complementary cell must be hidden, e.g. the censored children beside the events of a
    /// status table, so that a headline count survives a small one next to it. Which cells go is
    /// a preference only: what is published is checked the same way whatever is chosen.
    pub fn expendable(&mut self, t: TableRef, column: usize) -> Result<(), AuditError> {
        let ids: Vec<usize> = match self.tables.get(t.0) {
            Some(Layout::Table { ids, source }) if column < source.columns.len() => {
                ids.iter().map(|row| row[column]).collect()
            }
            _ => return Err(AuditError::NoSuchEntry(format!("column {column}"))),
        };
        for i in ids {
            self.expendable[i] = true;
        }
        Ok(())
    }

    /// Registers a two-way table; its row, column and grand totals are computed and published.
    pub fn add_table(&mut self, t: &CountTable) -> Result<TableRef, AuditError> {
        let nr = t.rows.len();
        let nc = t.columns.len();
        for r in 0..nr {
            if t.cells.get(r).map(Vec::len) != Some(nc) {
                return Err(AuditError::Ragged {
                    table: t.title.clone(),
                    row: r,
                });
            }
        }
        let mut v = vec![vec![0u64; nc + 1]; nr + 1];
        for r in 0..nr {
            for c in 0..nc {
                let x = t.cells[r][c];
                v[r][c] = x;
                v[r][nc] += x;
                v[nr][c] += x;
                v[nr][nc] += x;
            }
        }
        let ids: Vec<Vec<usize>> = v
            .iter()
            .map(|row| row.iter().map(|&x| self.node(x)).collect())
            .collect();
        // Every row and every column of the extended table, totals included.
        for row in &ids {
            self.constraints.push(Constraint {
                whole: row[nc],
                parts: row[..nc].to_vec(),
            });
        }
        for c in 0..=nc {
            self.constraints.push(Constraint {
                whole: ids[nr][c],
                parts: ids[..nr].iter().map(|row| row[c]).collect(),
            });
        }
        self.tables.push(Layout::Table {
            source: t.clone(),
            ids,
        });
        Ok(TableRef(self.tables.len() - 1))
    }

    /// Registers an attrition table (or any non-increasing chain of counts).
    pub fn add_attrition(&mut self, a: &AttritionTable) -> Result<TableRef, AuditError> {
        for (i, w) in a.steps.windows(2).enumerate() {
            if w[1].remaining > w[0].remaining {
                return Err(AuditError::AttritionGrows {
                    table: a.title.clone(),
                    step: i + 1,
                });
            }
        }
        let remaining: Vec<usize> = a.steps.iter().map(|s| self.node(s.remaining)).collect();
        let mut excluded = Vec::with_capacity(a.steps.len());
        for i in 0..a.steps.len() {
            if i == 0 {
                excluded.push(usize::MAX);
                continue;
            }
            let e = self.node(a.steps[i - 1].remaining - a.steps[i].remaining);
            excluded.push(e);
            self.constraints.push(Constraint {
                whole: remaining[i - 1],
                parts: vec![remaining[i], e],
            });
        }
        self.tables.push(Layout::Attrition {
            title: a.title.clone(),
            labels: a.steps.iter().map(|s| s.label.clone()).collect(),
            remaining,
            excluded,
        });
        Ok(TableRef(self.tables.len() - 1))
    }

    /// The index of the row labelled `label` in a registered table (or of the step, for attrition).
    pub fn find_row(&self, t: TableRef, label: &str) -> Option<usize> {
        match self.tables.get(t.0)? {
            Layout::Table { source, .. } => source.rows.iter().position(|r| r == label),
            Layout::Attrition { labels, .. } => labels.iter().position(|r| r == label),
        }
    }

    /// The index of the column labelled `label` in a registered two-way table.
    pub fn find_column(&self, t: TableRef, label: &str) -> Option<usize> {
        match self.tables.get(t.0)? {
            Layout::Table { source, .. } => source.columns.iter().position(|c| c == label),
            Layout::Attrition { .. } => None,
        }
    }

    fn describe(&self, q: Quantity) -> String {
        let title = match self.tables.get(q.table.0) {
            Some(Layout::Table { source, .. }) => source.title.as_str(),
            Some(Layout::Attrition { title, .. }) => title.as_str(),
            None => "?",
        };
        format!("'{title}' {:?}", q.entry)
    }

    fn id(&self, q: Quantity) -> Result<usize, AuditError> {
        let missing = || AuditError::NoSuchEntry(self.describe(q));
        let layout = self.tables.get(q.table.0).ok_or_else(missing)?;
        let id = match (layout, q.entry) {
            (Layout::Table { ids, .. }, e) => {
                let nr = ids.len() - 1;
                let nc = ids[0].len() - 1;
                let (r, c) = match e {
                    Entry::Cell { row, column } if row < nr && column < nc => (row, column),
                    Entry::RowTotal(row) if row < nr => (row, nc),
                    Entry::ColumnTotal(column) if column < nc => (nr, column),
                    Entry::Total => (nr, nc),
                    _ => return Err(missing()),
                };
                ids[r][c]
            }
            (Layout::Attrition { remaining, .. }, Entry::Remaining(i)) if i < remaining.len() => {
                remaining[i]
            }
            (Layout::Attrition { excluded, .. }, Entry::Excluded(i))
                if i >= 1 && i < excluded.len() =>
            {
                excluded[i]
            }
            _ => return Err(missing()),
        };
        Ok(id)
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Declares two entries the same quantity (e.g. the total of a table and the last attrition
    /// count): they are published or hidden together.
    pub fn same(&mut self, a: Quantity, b: Quantity) -> Result<(), AuditError> {
        let (ia, ib) = (self.id(a)?, self.id(b)?);
        if self.values[ia] != self.values[ib] {
            return Err(AuditError::NotSame {
                a: self.describe(a),
                b: self.describe(b),
            });
        }
        let (ra, rb) = (self.find(ia), self.find(ib));
        // The smaller id stays the representative: deterministic whatever the call order.
        let (lo, hi) = (ra.min(rb), ra.max(rb));
        self.parent[hi] = lo;
        Ok(())
    }

    /// Declares that `whole` is the sum of `parts` (e.g. the children at risk at a time, summed
    /// over the groups' tables).
    pub fn sum(&mut self, whole: Quantity, parts: &[Quantity]) -> Result<(), AuditError> {
        let w = self.id(whole)?;
        let ps = parts
            .iter()
            .map(|&p| self.id(p))
            .collect::<Result<Vec<_>, _>>()?;
        let s: u64 = ps.iter().map(|&p| self.values[p]).sum();
        if s != self.values[w] {
            return Err(AuditError::NotASum {
                whole: self.describe(whole),
                parts: parts.len(),
            });
        }
        self.constraints.push(Constraint {
            whole: w,
            parts: ps,
        });
        Ok(())
    }

    /// Runs primary and complementary suppression over all registered tables jointly.
    pub fn run(mut self) -> AuditedBundle {
        let n = self.values.len();
        let class: Vec<usize> = (0..n).map(|i| self.find(i)).collect();
        let constraints: Vec<Constraint> = self
            .constraints
            .iter()
            .map(|c| Constraint {
                whole: class[c.whole],
                parts: c.parts.iter().map(|&p| class[p]).collect(),
            })
            .collect();
        let mut expendable = vec![false; n];
        for i in 0..n {
            expendable[class[i]] |= self.expendable[i];
        }
        let mut engine = Engine::new(self.gate.k, self.values.clone(), expendable, constraints);
        engine.suppress();
        let state = |i: usize| engine.state[class[i]];
        let gated = |i: usize| match state(i) {
            State::Shown => GatedCount::Shown(self.values[i]),
            State::BelowK => GatedCount::BelowK,
            State::Hidden => GatedCount::Hidden,
        };
        let outputs = self
            .tables
            .iter()
            .map(|layout| match layout {
                Layout::Table { source, ids } => GatedOutput::Table(GatedTable {
                    title: source.title.clone(),
                    row_header: source.row_header.clone(),
                    rows: source.rows.clone(),
                    columns: source.columns.clone(),
                    cells: ids
                        .iter()
                        .map(|row| row.iter().map(|&i| gated(i)).collect())
                        .collect(),
                    k: self.gate.k,
                }),
                Layout::Attrition {
                    title,
                    labels,
                    remaining,
                    excluded,
                } => GatedOutput::Attrition(GatedAttrition {
                    title: title.clone(),
                    steps: labels
                        .iter()
                        .enumerate()
                        .map(|(i, label)| GatedAttritionStep {
                            label: label.clone(),
                            remaining: gated(remaining[i]),
                            excluded: (i > 0).then(|| gated(excluded[i])),
                        })
                        .collect(),
                    k: self.gate.k,
                }),
            })
            .collect();
        let roots: BTreeSet<usize> = class.iter().copied().collect();
        let mut report = AuditReport {
            k: self.gate.k,
            quantities: roots.len(),
            ..AuditReport::default()
        };
        for &r in &roots {
            let small = engine.small(r);
            match engine.state[r] {
                State::BelowK => report.primary += 1,
                State::Hidden if small => {
                    report.primary += 1;
                    report.relabelled += 1;
                }
                State::Hidden => report.complementary += 1,
                State::Shown => {}
            }
        }
        AuditedBundle { outputs, report }
    }
}

/// The suppression engine over representative nodes.
struct Engine {
    k: u64,
    values: Vec<u64>,
    /// Hidden first when a complementary cell must go.
    expendable: Vec<bool>,
    constraints: Vec<Constraint>,
    state: Vec<State>,
    /// Constraints each node takes part in.
    touching: Vec<Vec<usize>>,
}

impl Engine {
    fn new(k: u64, values: Vec<u64>, expendable: Vec<bool>, constraints: Vec<Constraint>) -> Self {
        let mut touching = vec![Vec::new(); values.len()];
        for (ci, c) in constraints.iter().enumerate() {
            for &m in std::iter::once(&c.whole).chain(&c.parts) {
                if touching[m].last() != Some(&ci) {
                    touching[m].push(ci);
                }
            }
        }
        let state = values
            .iter()
            .map(|&v| {
                if v > 0 && v < k {
                    State::BelowK
                } else {
                    State::Shown
                }
            })
            .collect();
        Engine {
            k,
            values,
            expendable,
            constraints,
            state,
            touching,
        }
    }

    fn small(&self, i: usize) -> bool {
        self.values[i] > 0 && self.values[i] < self.k
    }

    fn shown(&self, i: usize) -> bool {
        self.state[i] == State::Shown
    }

    fn suppress(&mut self) {
        loop {
            while self.local_pass() {}
            match self.exposed_small() {
                Some((j, true)) => {
                    // A non-zero value cannot be fixed by zeros alone, so a published node is
                    // reachable; relabelling keeps the loop finite whatever happens.
                    if !(self.hide_near(j) || self.relabel_near(j)) {
                        return;
                    }
                }
                Some((j, false)) => {
                    let fixed = if self.state[j] == State::BelowK {
                        self.state[j] = State::Hidden;
                        true
                    } else {
                        self.hide_near(j) || self.relabel_near(j)
                    };
                    if !fixed {
                        return;
                    }
                }
                None => return,
            }
        }
    }

    /// Rules 2 and 3 over every constraint; true if anything was hidden.
    fn local_pass(&mut self) -> bool {
        let mut changed = false;
        for ci in 0..self.constraints.len() {
            let c = &self.constraints[ci];
            let members: Vec<usize> = std::iter::once(c.whole).chain(c.parts.clone()).collect();
            let hidden: BTreeSet<usize> = members
                .iter()
                .copied()
                .filter(|&m| !self.shown(m))
                .collect();
            if hidden.is_empty() {
                continue;
            }
            let whole_shown = self.shown(c.whole);
            let hidden_parts: BTreeSet<usize> = c
                .parts
                .iter()
                .copied()
                .filter(|&p| !self.shown(p))
                .collect();
            let hidden_sum: u64 = c
                .parts
                .iter()
                .filter(|&&p| !self.shown(p))
                .map(|&p| self.values[p])
                .sum();
            let exposed = hidden.len() == 1
                || (whole_shown
                    && !hidden_parts.is_empty()
                    && ((hidden_sum > 0 && hidden_sum < self.k)
                        || hidden_parts.iter().all(|&p| self.state[p] == State::BelowK)));
            if exposed && self.hide_in(ci) {
                changed = true;
            }
        }
        changed
    }

    /// Hides the preferred published member of a constraint: a part before the whole, an
    /// expendable one first, non-zero before zero, smallest first, lowest id on ties. False if
    /// every member is hidden.
    fn hide_in(&mut self, ci: usize) -> bool {
        let c = &self.constraints[ci];
        let pick = std::iter::once(c.whole)
            .chain(c.parts.iter().copied())
            .filter(|&m| self.shown(m))
            .min_by_key(|&m| {
                (
                    m == c.whole,
                    !self.expendable[m],
                    self.values[m] == 0,
                    self.values[m],
                    m,
                )
            });
        match pick {
            Some(m) => {
                self.state[m] = State::Hidden;
                true
            }
            None => false,
        }
    }

    /// Hides a published node nearest to `j` (breadth first over constraints through hidden
    /// nodes), preferring expendable, non-zero and small. False if none is reachable.
    fn hide_near(&mut self, j: usize) -> bool {
        let mut seen_node = vec![false; self.values.len()];
        let mut seen_con = vec![false; self.constraints.len()];
        let mut frontier = VecDeque::from([j]);
        seen_node[j] = true;
        while !frontier.is_empty() {
            let mut next = VecDeque::new();
            let mut best: Option<(bool, bool, u64, bool, usize)> = None;
            for &u in &frontier {
                for &ci in &self.touching[u] {
                    if seen_con[ci] {
                        continue;
                    }
                    seen_con[ci] = true;
                    let c = &self.constraints[ci];
                    for m in std::iter::once(c.whole).chain(c.parts.iter().copied()) {
                        if self.shown(m) {
                            let key = (
                                !self.expendable[m],
                                self.values[m] == 0,
                                self.values[m],
                                m == c.whole,
                                m,
                            );
                            if best.is_none_or(|b| key < b) {
                                best = Some(key);
                            }
                        } else if !seen_node[m] {
                            seen_node[m] = true;
                            next.push_back(m);
                        }
                    }
                }
            }
            if let Some((_, _, _, _, m)) = best {
                self.state[m] = State::Hidden;
                return true;
            }
            frontier = next;
        }
        false
    }

    /// Relabels the first `<k` node reachable from `j` as `x`. False if there is none.
    fn relabel_near(&mut self, j: usize) -> bool {
        let mut seen = vec![false; self.values.len()];
        let mut queue = VecDeque::from([j]);
        seen[j] = true;
        while let Some(u) = queue.pop_front() {
            if self.state[u] == State::BelowK {
                self.state[u] = State::Hidden;
                return true;
            }
            for &ci in &self.touching[u] {
                let c = &self.constraints[ci];
                for m in std::iter::once(c.whole).chain(c.parts.iter().copied()) {
                    if !seen[m] && !self.shown(m) {
                        seen[m] = true;
                        queue.push_back(m);
                    }
                }
            }
        }
        false
    }

    /// The published constraints as equations over the hidden nodes: `(hidden nodes, rows)`,
    /// each row `sum of coef * hidden = rhs` with the published values moved to the right.
    fn hidden_system(&self) -> (Vec<usize>, Vec<Equation>) {
        let hidden: Vec<usize> = (0..self.values.len())
            .filter(|&i| !self.shown(i) && !self.touching[i].is_empty())
            .collect();
        let col_of = |i: usize| hidden.binary_search(&i).ok();
        let rows = self
            .constraints
            .iter()
            .filter_map(|c| {
                let mut coef = vec![0i128; hidden.len()];
                let mut rhs = 0i128;
                let members =
                    std::iter::once((c.whole, -1i128)).chain(c.parts.iter().map(|&p| (p, 1)));
                for (m, sign) in members {
                    match col_of(m) {
                        Some(ix) => coef[ix] += sign,
                        None => rhs -= sign * i128::from(self.values[m]),
                    }
                }
                let terms: Vec<(usize, i128)> = coef
                    .into_iter()
                    .enumerate()
                    .filter(|&(_, c)| c != 0)
                    .collect();
                (!terms.is_empty()).then_some(Equation { terms, rhs })
            })
            .collect();
        (hidden, rows)
    }

    /// Rules 4 and 5: the first small hidden node that the published values fix, either as a
    /// linear combination of them (`linear`) or by bounds (`!linear`).
    fn exposed_small(&self) -> Option<(usize, bool)> {
        let (hidden, rows) = self.hidden_system();
        if hidden.is_empty() {
            return None;
        }
        let reduced = rref(&rows, hidden.len());
        let determined = match &reduced {
            Some(r) => determined_from_rref(r, hidden.len()),
            None => determined_modular(&rows, hidden.len()),
        };
        if let Some(ix) = (0..hidden.len()).find(|&ix| determined[ix] && self.small(hidden[ix])) {
            return Some((hidden[ix], true));
        }
        // Bounds: `<k` is 1..k-1, `x` any count; propagated through the constraints and through
        // the reduced rows (which carry the combinations of constraints, e.g. two tables' totals).
        let mut lo: Vec<i128> = vec![0; hidden.len()];
        let mut hi: Vec<Option<i128>> = vec![None; hidden.len()];
        for (ix, &i) in hidden.iter().enumerate() {
            if self.state[i] == State::BelowK {
                lo[ix] = 1;
                hi[ix] = Some(i128::from(self.k) - 1);
            }
        }
        let mut all = rows;
        all.extend(reduced.iter().flatten().cloned());
        propagate_bounds(&all, &mut lo, &mut hi);
        if let Some(ix) = (0..hidden.len())
            .find(|&ix| self.small(hidden[ix]) && hi[ix].is_some_and(|h| h <= lo[ix]))
        {
            return Some((hidden[ix], false));
        }
        // Rule 5, exactly: for each small hidden node, search for another non-negative integer
        // filling of the hidden nodes that agrees with everything published and gives it another
        // value. Counts are capped at twice the largest count plus k (a cap only helps the
        // reader, so it errs on the side of suppression), and so is the search effort: a search
        // that runs out counts as "pinned".
        let cap = 2 * self.values.iter().copied().max().map_or(0, i128::from) + i128::from(self.k);
        let domains: Vec<(i128, i128)> = (0..hidden.len())
            .map(|ix| (lo[ix], hi[ix].map_or(cap, |h| h.min(cap))))
            .collect();
        let truth: Vec<i128> = hidden.iter().map(|&i| i128::from(self.values[i])).collect();
        // Fast path: one step along a basis vector of the null space from the true filling.
        let mut moves = vec![false; hidden.len()];
        if let Some(reduced) = &reduced {
            for d in null_basis(reduced, hidden.len()) {
                for sign in [1i128, -1] {
                    let fits = d.iter().all(|&(ix, v)| {
                        let x = truth[ix] + sign * v;
                        domains[ix].0 <= x && x <= domains[ix].1
                    });
                    if fits {
                        for &(ix, _) in &d {
                            moves[ix] = true;
                        }
                        break;
                    }
                }
            }
        }
        // Otherwise a depth-first search in the node's connected part of the system.
        let part = components(&all, hidden.len());
        for (ix, &i) in hidden.iter().enumerate() {
            if !self.small(i) || moves[ix] {
                continue;
            }
            let rows: Vec<Equation> = all
                .iter()
                .filter(|r| r.terms.first().is_some_and(|t| part[t.0] == part[ix]))
                .cloned()
                .collect();
            let (a, b) = domains[ix];
            let mut others: Vec<i128> = (a..=b).filter(|&w| w != truth[ix]).collect();
            others.sort_by_key(|&w| ((w - truth[ix]).abs(), w));
            let mut budget = SEARCH_BUDGET;
            let found = others.into_iter().any(|w| {
                // Nodes outside the part stay at their values; they appear in none of its rows.
                let mut d: Vec<(i128, i128)> = (0..hidden.len())
                    .map(|jx| {
                        if part[jx] == part[ix] {
                            domains[jx]
                        } else {
                            (truth[jx], truth[jx])
                        }
                    })
                    .collect();
                d[ix] = (w, w);
                has_solution(&rows, d, &mut budget)
            });
            if !found {
                return Some((i, false));
            }
        }
        None
    }
}

/// Connected parts of the hidden nodes: two nodes are connected when an equation holds both.
fn components(rows: &[Equation], n: usize) -> Vec<usize> {
    let mut parent: Vec<usize> = (0..n).collect();
    fn root(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    for r in rows {
        if let Some(&(first, _)) = r.terms.first() {
            for &(ix, _) in &r.terms[1..] {
                let (a, b) = (root(&mut parent, first), root(&mut parent, ix));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    (0..n).map(|x| root(&mut parent, x)).collect()
}

/// An integer basis of the null space from the reduced rows (each row's first term is its
/// pivot): for each free column f, x_f = 1 and each pivot p = -a_f / a_p, scaled to integers.
/// Sparse vectors as (column, value); a vector whose scaling overflows is left out.
fn null_basis(reduced: &[Equation], ncols: usize) -> Vec<Vec<(usize, i128)>> {
    let mut is_pivot = vec![false; ncols];
    for r in reduced {
        if let Some(&(p, _)) = r.terms.first() {
            is_pivot[p] = true;
        }
    }
    let mut rows_with: Vec<Vec<usize>> = vec![Vec::new(); ncols];
    for (ri, r) in reduced.iter().enumerate() {
        for &(ix, _) in &r.terms[1..] {
            rows_with[ix].push(ri);
        }
    }
    (0..ncols)
        .filter(|&f| !is_pivot[f])
        .filter_map(|f| {
            // Entries p = -a_f / a_p as fractions; scale by the lcm of the denominators.
            let mut entries: Vec<(usize, Ratio)> = vec![(f, Ratio::int(1))];
            for &ri in &rows_with[f] {
                let r = &reduced[ri];
                let (p, a_p) = r.terms[0];
                let a_f = r.terms.iter().find(|t| t.0 == f)?.1;
                entries.push((p, Ratio::norm(a_f.checked_neg()?, a_p)?));
            }
            let l = entries.iter().try_fold(1i128, |l, (_, x)| {
                let g = gcd(l, x.d).max(1);
                (l / g).checked_mul(x.d)
            })?;
            entries
                .into_iter()
                .map(|(ix, x)| Some((ix, (l / x.d).checked_mul(x.n)?)))
                .collect()
        })
        .collect()
}

/// Search nodes allowed per hidden small count before it is treated as pinned.
const SEARCH_BUDGET: u64 = 200_000;

/// Is there an integer point within `dom` satisfying every equation? Depth first, bounds
/// propagated at each node. False when the budget runs out.
fn has_solution(rows: &[Equation], mut dom: Vec<(i128, i128)>, budget: &mut u64) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    let mut lo: Vec<i128> = dom.iter().map(|d| d.0).collect();
    let mut hi: Vec<Option<i128>> = dom.iter().map(|d| Some(d.1)).collect();
    propagate_bounds(rows, &mut lo, &mut hi);
    for (ix, d) in dom.iter_mut().enumerate() {
        *d = (lo[ix], hi[ix].unwrap_or(d.1));
        if d.0 > d.1 {
            return false;
        }
    }
    let Some(x) = (0..dom.len())
        .filter(|&x| dom[x].0 < dom[x].1)
        .min_by_key(|&x| (dom[x].1 - dom[x].0, x))
    else {
        // Every node fixed: check the equations.
        return rows.iter().all(|r| {
            r.terms.iter().try_fold(0i128, |s, &(ix, c)| {
                s.checked_add(c.checked_mul(dom[ix].0)?)
            }) == Some(r.rhs)
        });
    };
    let (a, b) = dom[x];
    (a..=b).any(|w| {
        let mut d = dom.clone();
        d[x] = (w, w);
        has_solution(rows, d, budget)
    })
}

/// `sum of coef * x = rhs` over hidden nodes (by column).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Equation {
    terms: Vec<(usize, i128)>,
    rhs: i128,
}

/// Narrows integer bounds `lo <= x <= hi` (`None`: no upper bound) with every equation, to a
/// fixpoint or a bounded number of passes (each pass only narrows, so stopping early is sound).
fn propagate_bounds(rows: &[Equation], lo: &mut [i128], hi: &mut [Option<i128>]) {
    for _ in 0..100 {
        let mut changed = false;
        for row in rows {
            // Sums of the terms' finite ends, and how many ends are unbounded.
            let (mut sum_min, mut sum_max, mut inf_min, mut inf_max) = (0i128, 0i128, 0, 0);
            for &(jx, d) in &row.terms {
                let (mn, mx) = term_range(d, lo[jx], hi[jx]);
                match mn.and_then(|v| sum_min.checked_add(v)) {
                    Some(v) => sum_min = v,
                    None => inf_min += 1,
                }
                match mx.and_then(|v| sum_max.checked_add(v)) {
                    Some(v) => sum_max = v,
                    None => inf_max += 1,
                }
            }
            for &(ix, c) in &row.terms {
                // c * x = rhs - rest; rest's min and max (None: unbounded or too large).
                let (mn, mx) = term_range(c, lo[ix], hi[ix]);
                let rest_min = match mn {
                    Some(v) if inf_min == 0 => sum_min.checked_sub(v),
                    None if inf_min == 1 => Some(sum_min),
                    _ => None,
                };
                let rest_max = match mx {
                    Some(v) if inf_max == 0 => sum_max.checked_sub(v),
                    None if inf_max == 1 => Some(sum_max),
                    _ => None,
                };
                // c * x in [rhs - rest_max, rhs - rest_min].
                let cx_lo = rest_max.and_then(|m| row.rhs.checked_sub(m));
                let cx_hi = rest_min.and_then(|m| row.rhs.checked_sub(m));
                let (x_lo, x_hi) = if c > 0 {
                    (
                        cx_lo.map(|v| div_ceil(v, c)),
                        cx_hi.map(|v| v.div_euclid(c)),
                    )
                } else {
                    (
                        cx_hi.map(|v| div_ceil(-v, -c)),
                        cx_lo.map(|v| (-v).div_euclid(-c)),
                    )
                };
                if let Some(l) = x_lo
                    && l > lo[ix]
                {
                    lo[ix] = l;
                    changed = true;
                }
                if let Some(h) = x_hi
                    && hi[ix].is_none_or(|old| h < old)
                {
                    hi[ix] = Some(h);
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

/// The range of `c * x` for `lo <= x <= hi` (`None`: unbounded or too large).
fn term_range(c: i128, lo: i128, hi: Option<i128>) -> (Option<i128>, Option<i128>) {
    let a = c.checked_mul(lo);
    let b = hi.and_then(|h| c.checked_mul(h));
    if c > 0 { (a, b) } else { (b, a) }
}

fn div_ceil(a: i128, b: i128) -> i128 {
    a.div_euclid(b) + i128::from(a.rem_euclid(b) != 0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ratio {
    n: i128,
    d: i128,
}

fn gcd(mut a: i128, mut b: i128) -> i128 {
    a = a.abs();
    b = b.abs();
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    fn int(n: i128) -> Self {
        Ratio { n, d: 1 }
    }
    fn is_zero(self) -> bool {
        self.n == 0
    }
    fn norm(n: i128, d: i128) -> Option<Self> {
        if d == 0 {
            return None;
        }
        let g = gcd(n, d).max(1);
        let (n, d) = (n / g, d / g);
        Some(if d < 0 {
            Ratio {
                n: n.checked_neg()?,
                d: d.checked_neg()?,
            }
        } else {
            Ratio { n, d }
        })
    }
    /// `self - a * b`.
    fn sub_mul(self, a: Ratio, b: Ratio) -> Option<Self> {
        let p = Ratio::norm(a.n.checked_mul(b.n)?, a.d.checked_mul(b.d)?)?;
        let n = self
            .n
            .checked_mul(p.d)?
            .checked_sub(p.n.checked_mul(self.d)?)?;
        Ratio::norm(n, self.d.checked_mul(p.d)?)
    }
    fn div(self, o: Ratio) -> Option<Self> {
        Ratio::norm(self.n.checked_mul(o.d)?, self.d.checked_mul(o.n)?)
    }
}

/// The reduced row echelon form of the equations, exact, each non-zero row scaled back to
/// integer coefficients. `None` if the arithmetic overflows.
fn rref(rows: &[Equation], ncols: usize) -> Option<Vec<Equation>> {
    let mut m: Vec<Vec<Ratio>> = rows
        .iter()
        .map(|e| {
            let mut r = vec![Ratio::int(0); ncols + 1];
            for &(ix, c) in &e.terms {
                r[ix] = Ratio::int(c);
            }
            r[ncols] = Ratio::int(e.rhs);
            r
        })
        .collect();
    let mut r = 0;
    for c in 0..ncols {
        let Some(p) = (r..m.len()).find(|&i| !m[i][c].is_zero()) else {
            continue;
        };
        m.swap(r, p);
        let piv = m[r][c];
        for x in m[r].iter_mut() {
            *x = x.div(piv)?;
        }
        let pivot_row = m[r].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != r && !row[c].is_zero() {
                let f = row[c];
                for (x, &v) in row.iter_mut().zip(&pivot_row) {
                    *x = x.sub_mul(f, v)?;
                }
            }
        }
        r += 1;
    }
    m.truncate(r);
    m.iter()
        .map(|row| {
            let l = row.iter().try_fold(1i128, |l, x| {
                let g = gcd(l, x.d).max(1);
                (l / g).checked_mul(x.d)
            })?;
            let scale = |x: &Ratio| (l / x.d).checked_mul(x.n);
            let terms = row[..ncols]
                .iter()
                .enumerate()
                .filter(|(_, x)| !x.is_zero())
                .map(|(ix, x)| Some((ix, scale(x)?)))
                .collect::<Option<Vec<_>>>()?;
            Some(Equation {
                terms,
                rhs: scale(&row[ncols])?,
            })
        })
        .collect()
}

/// In reduced row echelon form a column is fixed by the published values iff it is a pivot
/// whose row has no other non-zero entry (its unit vector is then in the row space).
fn determined_from_rref(rows: &[Equation], ncols: usize) -> Vec<bool> {
    let mut out = vec![false; ncols];
    for row in rows {
        if let [(ix, _)] = row.terms[..] {
            out[ix] = true;
        }
    }
    out
}

/// The same test modulo the prime 2^61 - 1, should exact arithmetic overflow: it agrees with the
/// exact test unless p divides one of the system's minors (possible in principle, not seen).
fn determined_modular(rows: &[Equation], ncols: usize) -> Vec<bool> {
    const P: i128 = (1 << 61) - 1;
    let pow = |mut b: i128, mut e: i128| {
        let mut acc = 1i128;
        while e > 0 {
            if e & 1 == 1 {
                acc = acc * b % P;
            }
            b = b * b % P;
            e >>= 1;
        }
        acc
    };
    let mut m: Vec<Vec<i128>> = rows
        .iter()
        .map(|e| {
            let mut r = vec![0i128; ncols];
            for &(ix, c) in &e.terms {
                r[ix] = c.rem_euclid(P);
            }
            r
        })
        .collect();
    let mut pivots = Vec::new();
    let mut r = 0;
    for c in 0..ncols {
        let Some(p) = (r..m.len()).find(|&i| m[i][c] != 0) else {
            continue;
        };
        m.swap(r, p);
        let inv = pow(m[r][c], P - 2);
        for x in m[r].iter_mut() {
            *x = *x * inv % P;
        }
        let pivot_row = m[r].clone();
        for (i, row) in m.iter_mut().enumerate() {
            if i != r && row[c] != 0 {
                let f = row[c];
                for (x, &v) in row.iter_mut().zip(&pivot_row) {
                    *x = (*x - v * f % P).rem_euclid(P);
                }
            }
        }
        pivots.push((r, c));
        r += 1;
    }
    let mut out = vec![false; ncols];
    for &(row, c) in &pivots {
        out[c] = (0..ncols).all(|j| j == c || m[row][j] == 0);
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    pub(crate) fn table(title: &str, cells: Vec<Vec<u64>>) -> CountTable {
        CountTable {
            title: title.into(),
            row_header: "row".into(),
            rows: (0..cells.len()).map(|i| format!("r{i}")).collect(),
            columns: (0..cells[0].len()).map(|i| format!("c{i}")).collect(),
            cells,
        }
    }

    fn attrition(title: &str, remaining: &[u64]) -> AttritionTable {
        AttritionTable {
            title: title.into(),
            steps: remaining
                .iter()
                .enumerate()
                .map(|(i, &r)| AttritionStep {
                    label: format!("rule {i}"),
                    remaining: r,
                })
                .collect(),
        }
    }

    /// A bundle described independently of the audit's internals, for the checker.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Spec {
        pub tables: Vec<CountTable>,
        pub attritions: Vec<AttritionTable>,
        /// Declared equal entries: (output index, entry) pairs; outputs are tables then attritions.
        pub same: Vec<((usize, Entry), (usize, Entry))>,
        /// Expendable columns: (table index, column).
        pub expendable: Vec<(usize, usize)>,
    }

    impl Spec {
        pub fn run(&self, k: u64) -> AuditedBundle {
            let mut a = Audit::new(Gate { k });
            let mut refs = Vec::new();
            for t in &self.tables {
                refs.push(a.add_table(t).unwrap());
            }
            for t in &self.attritions {
                refs.push(a.add_attrition(t).unwrap());
            }
            for &((ta, ea), (tb, eb)) in &self.same {
                a.same(refs[ta].entry(ea), refs[tb].entry(eb)).unwrap();
            }
            for &(t, c) in &self.expendable {
                a.expendable(refs[t], c).unwrap();
            }
            a.run()
        }
    }

    /// Every entry of every output with its true value and its published form.
    fn entries(spec: &Spec, out: &AuditedBundle) -> Vec<((usize, Entry), u64, GatedCount)> {
        let mut v = Vec::new();
        for (ti, t) in spec.tables.iter().enumerate() {
            let GatedOutput::Table(g) = &out.outputs[ti] else {
                panic!("output {ti} is not a table")
            };
            let (nr, nc) = (t.rows.len(), t.columns.len());
            for r in 0..=nr {
                for c in 0..=nc {
                    let value: u64 = (0..nr)
                        .filter(|&i| r == nr || i == r)
                        .flat_map(|i| {
                            (0..nc)
                                .filter(move |&j| c == nc || j == c)
                                .map(move |j| (i, j))
                        })
                        .map(|(i, j)| t.cells[i][j])
                        .sum();
                    let e = match (r == nr, c == nc) {
                        (false, false) => Entry::Cell { row: r, column: c },
                        (false, true) => Entry::RowTotal(r),
                        (true, false) => Entry::ColumnTotal(c),
                        (true, true) => Entry::Total,
                    };
                    v.push(((ti, e), value, g.cells[r][c]));
                }
            }
        }
        for (ai, a) in spec.attritions.iter().enumerate() {
            let oi = spec.tables.len() + ai;
            let GatedOutput::Attrition(g) = &out.outputs[oi] else {
                panic!("output {oi} is not an attrition table")
            };
            for (i, s) in a.steps.iter().enumerate() {
                v.push(((oi, Entry::Remaining(i)), s.remaining, g.steps[i].remaining));
                if i > 0 {
                    let e = a.steps[i - 1].remaining - s.remaining;
                    v.push(((oi, Entry::Excluded(i)), e, g.steps[i].excluded.unwrap()));
                }
            }
        }
        v
    }

    /// The published linear relations of a bundle: (entries with coefficients) sum to zero.
    fn relations(spec: &Spec) -> Vec<Vec<((usize, Entry), i64)>> {
        let mut out = Vec::new();
        for (ti, t) in spec.tables.iter().enumerate() {
            let (nr, nc) = (t.rows.len(), t.columns.len());
            for r in 0..=nr {
                let whole = if r == nr {
                    Entry::Total
                } else {
                    Entry::RowTotal(r)
                };
                let mut rel = vec![((ti, whole), -1)];
                for c in 0..nc {
                    let part = if r == nr {
                        Entry::ColumnTotal(c)
                    } else {
                        Entry::Cell { row: r, column: c }
                    };
                    rel.push(((ti, part), 1));
                }
                out.push(rel);
            }
            for c in 0..nc {
                let mut rel = vec![((ti, Entry::ColumnTotal(c)), -1)];
                for r in 0..nr {
                    rel.push(((ti, Entry::Cell { row: r, column: c }), 1));
                }
                out.push(rel);
            }
        }
        for (ai, a) in spec.attritions.iter().enumerate() {
            let oi = spec.tables.len() + ai;
            for i in 1..a.steps.len() {
                out.push(vec![
                    ((oi, Entry::Remaining(i - 1)), -1),
                    ((oi, Entry::Remaining(i)), 1),
                    ((oi, Entry::Excluded(i)), 1),
                ]);
            }
        }
        for &(x, y) in &spec.same {
            out.push(vec![(x, 1), (y, -1)]);
        }
        out
    }

    /// The independent checker: an exhaustive search over non-negative integer fillings of the
    /// hidden entries that agree with everything published (the values shown, `<k` = 1..k-1, `x` =
    /// any count up to a generous bound). Returns the hidden small entries whose value no other
    /// filling changes, i.e. that the bundle gives away.
    pub(crate) fn recoverable(spec: &Spec, out: &AuditedBundle, k: u64) -> Vec<(usize, Entry)> {
        let all = entries(spec, out);
        for (e, v, g) in &all {
            match g {
                GatedCount::Shown(s) => {
                    assert_eq!(s, v, "{e:?} shown wrong");
                    assert!(*s == 0 || *s >= k, "{e:?} shows {s} < k");
                }
                GatedCount::BelowK => assert!(*v > 0 && *v < k, "{e:?} marked <k"),
                GatedCount::Hidden => {}
            }
        }
        let bound = 2 * all.iter().map(|x| x.1).max().unwrap_or(0) as i64 + k as i64;
        let hidden: Vec<usize> = (0..all.len())
            .filter(|&i| !matches!(all[i].2, GatedCount::Shown(_)))
            .collect();
        let var_of = |e: (usize, Entry)| hidden.iter().position(|&i| all[i].0 == e);
        let value_of = |e: (usize, Entry)| all.iter().find(|x| x.0 == e).unwrap().1 as i64;
        let domains: Vec<(i64, i64)> = hidden
            .iter()
            .map(|&i| match all[i].2 {
                GatedCount::BelowK => (1, k as i64 - 1),
                _ => (0, bound),
            })
            .collect();
        // Each relation: sum of coef * var = constant.
        let cons: Vec<(Vec<(usize, i64)>, i64)> = relations(spec)
            .into_iter()
            .map(|rel| {
                let mut terms = Vec::new();
                let mut constant = 0;
                for (e, coef) in rel {
                    match var_of(e) {
                        Some(x) => terms.push((x, coef)),
                        None => constant -= coef * value_of(e),
                    }
                }
                (terms, constant)
            })
            .filter(|(t, _)| !t.is_empty())
            .collect();
        let truth: Vec<i64> = hidden.iter().map(|&i| all[i].1 as i64).collect();
        let mut given_away = Vec::new();
        for (x, &i) in hidden.iter().enumerate() {
            if !(all[i].1 > 0 && all[i].1 < k) {
                continue;
            }
            let (lo, hi) = domains[x];
            let mut other = false;
            for w in lo..=hi {
                if w == truth[x] {
                    continue;
                }
                let mut dom = domains.clone();
                dom[x] = (w, w);
                let mut budget = 2_000_000u64;
                let r = feasible(&cons, dom, &mut budget);
                assert!(budget > 0, "checker budget exhausted");
                if r {
                    other = true;
                    break;
                }
            }
            if !other {
                given_away.push(all[i].0);
            }
        }
        given_away
    }

    /// Is there an integer point in the domains satisfying every relation? Depth first with
    /// bound propagation.
    fn feasible(
        cons: &[(Vec<(usize, i64)>, i64)],
        mut dom: Vec<(i64, i64)>,
        budget: &mut u64,
    ) -> bool {
        if *budget == 0 {
            return false;
        }
        *budget -= 1;
        // Propagate bounds to a fixpoint.
        loop {
            let mut changed = false;
            for (terms, constant) in cons {
                let min: i64 = terms
                    .iter()
                    .map(|&(x, c)| if c > 0 { c * dom[x].0 } else { c * dom[x].1 })
                    .sum();
                let max: i64 = terms
                    .iter()
                    .map(|&(x, c)| if c > 0 { c * dom[x].1 } else { c * dom[x].0 })
                    .sum();
                if *constant < min || *constant > max {
                    return false;
                }
                for &(x, c) in terms {
                    // c * x = constant - rest, rest in [min - own_min, max - own_max].
                    let (own_min, own_max) = if c > 0 {
                        (c * dom[x].0, c * dom[x].1)
                    } else {
                        (c * dom[x].1, c * dom[x].0)
                    };
                    let lo_cx = constant - (max - own_max);
                    let hi_cx = constant - (min - own_min);
                    let (lo, hi) = if c > 0 {
                        (
                            lo_cx.div_euclid(c) + i64::from(lo_cx.rem_euclid(c) != 0),
                            hi_cx.div_euclid(c),
                        )
                    } else {
                        let c = -c;
                        (
                            (-hi_cx).div_euclid(c) + i64::from((-hi_cx).rem_euclid(c) != 0),
                            (-lo_cx).div_euclid(c),
                        )
                    };
                    if lo > dom[x].0 {
                        dom[x].0 = lo;
                        changed = true;
                    }
                    if hi < dom[x].1 {
                        dom[x].1 = hi;
                        changed = true;
                    }
                    if dom[x].0 > dom[x].1 {
                        return false;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        let Some(x) = (0..dom.len())
            .filter(|&x| dom[x].0 < dom[x].1)
            .min_by_key(|&x| dom[x].1 - dom[x].0)
        else {
            return true;
        };
        let (lo, hi) = dom[x];
        for w in lo..=hi {
            let mut d = dom.clone();
            d[x] = (w, w);
            if feasible(cons, d, budget) {
                return true;
            }
        }
        false
    }

    fn assert_safe(spec: &Spec, k: u64) -> AuditedBundle {
        let out = spec.run(k);
        let leaks = recoverable(spec, &out, k);
        assert!(
            leaks.is_empty(),
            "recoverable: {leaks:?}\n{spec:?}\n{out:?}"
        );
        out
    }

    #[test]
    fn margins_do_not_give_back_a_small_cell() {
        let spec = Spec {
            tables: vec![table("2x2", vec![vec![3, 20], vec![15, 40]])],
            ..Spec::default()
        };
        let out = assert_safe(&spec, 5);
        let GatedOutput::Table(g) = &out.outputs[0] else {
            panic!()
        };
        assert_eq!(g.cells[0][0], GatedCount::BelowK);
        // Each line through the small cell hides a second entry.
        assert!(g.cells[0].iter().filter(|c| c.value().is_none()).count() >= 2);
        assert!(g.cells.iter().filter(|r| r[0].value().is_none()).count() >= 2);
        assert_eq!(out.report.primary, 1);
    }

    #[test]
    fn an_expendable_column_goes_before_the_headline_counts() {
        // Groups × (re-report, death, censored), group sizes published elsewhere: the small
        // death count needs a partner in its row; the censored count goes, not the re-reports.
        let status = table(
            "status",
            vec![vec![200, 3, 800], vec![150, 40, 700], vec![90, 2, 400]],
        );
        let sizes = table("sizes", vec![vec![1003], vec![890], vec![492]]);
        let same = (0..3)
            .map(|r| {
                (
                    (0, Entry::RowTotal(r)),
                    (1, Entry::Cell { row: r, column: 0 }),
                )
            })
            .collect();
        let plain = Spec {
            tables: vec![status.clone(), sizes.clone()],
            same,
            ..Spec::default()
        };
        let out = assert_safe(&plain, 5);
        let GatedOutput::Table(g) = &out.outputs[0] else {
            panic!()
        };
        assert!(
            g.cells[0][0].value().is_none(),
            "without a preference: {g:?}"
        );
        let preferring = Spec {
            expendable: vec![(0, 2)],
            ..plain
        };
        let out = assert_safe(&preferring, 5);
        let GatedOutput::Table(g) = &out.outputs[0] else {
            panic!()
        };
        for r in 0..3 {
            assert_eq!(
                g.cells[r][0],
                GatedCount::Shown(status.cells[r][0]),
                "{g:?}"
            );
        }
        assert_eq!(g.cells[0][1], GatedCount::BelowK);
        assert!(g.cells[0][2].value().is_none());
    }

    #[test]
    fn two_small_cells_do_not_pin_each_other_through_their_markers() {
        // 4 + 4 = 8 with both marked <5 would give both away: a third entry must be an x.
        let spec = Spec {
            tables: vec![table("t", vec![vec![4, 4, 50], vec![30, 30, 30]])],
            ..Spec::default()
        };
        assert_safe(&spec, 5);
    }

    #[test]
    fn a_bridge_between_two_suppression_cycles_is_caught() {
        // Line-by-line rules pass, but a hidden cell joining two cycles of hidden cells is fixed by
        // the system: the linear check must add suppressions.
        let cells = vec![
            vec![3, 20, 0, 30],
            vec![20, 3, 30, 0],
            vec![0, 30, 3, 20],
            vec![30, 0, 20, 3],
        ];
        let spec = Spec {
            tables: vec![table("t", cells)],
            ..Spec::default()
        };
        assert_safe(&spec, 5);
    }

    #[test]
    fn a_total_shown_in_another_table_is_hidden_everywhere_or_protected() {
        // Children by community (table 1) publishes the community totals; table 2 splits them by
        // sex. A total shared by both is published the same way in both (hidden in one is hidden
        // in the other), and the exhaustive checker finds nothing recoverable.
        let by_community = table("children by community", vec![vec![43], vec![65]]);
        let by_sex = table("community x sex", vec![vec![3, 40], vec![30, 35]]);
        let spec = Spec {
            expendable: Vec::new(),
            tables: vec![by_community, by_sex],
            attritions: vec![],
            same: vec![
                (
                    (0, Entry::Cell { row: 0, column: 0 }),
                    (1, Entry::RowTotal(0)),
                ),
                (
                    (0, Entry::Cell { row: 1, column: 0 }),
                    (1, Entry::RowTotal(1)),
                ),
                ((0, Entry::Total), (1, Entry::Total)),
            ],
        };
        let out = assert_safe(&spec, 5);
        let (GatedOutput::Table(t1), GatedOutput::Table(t2)) = (&out.outputs[0], &out.outputs[1])
        else {
            panic!()
        };
        // The same quantity is published the same way in both tables.
        assert_eq!(t1.cells[0][0], t2.cells[0][2]);
        assert_eq!(t1.cells[1][0], t2.cells[1][2]);
    }

    #[test]
    fn an_attrition_rule_excluding_three_children_is_not_recomputable() {
        // 120 -> 117 -> 90: the first rule excludes 3. The cohort table's total is the last count,
        // and a table of the children after the first rule publishes 117 as its total.
        let chain = attrition("attrition", &[120, 117, 90]);
        let cohort = table("cohort by community", vec![vec![50], vec![40]]);
        let after_first = table("after rule 1 by sex", vec![vec![60, 57]]);
        let spec = Spec {
            expendable: Vec::new(),
            tables: vec![cohort, after_first],
            attritions: vec![chain],
            same: vec![
                ((0, Entry::Total), (2, Entry::Remaining(2))),
                ((1, Entry::Total), (2, Entry::Remaining(1))),
            ],
        };
        let out = assert_safe(&spec, 5);
        let GatedOutput::Attrition(a) = &out.outputs[2] else {
            panic!()
        };
        assert_eq!(a.steps[1].excluded, Some(GatedCount::BelowK));
        assert!(
            a.steps[0].remaining.value().is_none() || a.steps[1].remaining.value().is_none(),
            "{a:?}"
        );
        // Separately gated, the chain 120, 117 would show both ends of the 3.
        let GatedOutput::Table(t) = &out.outputs[1] else {
            panic!()
        };
        assert_eq!(t.cells[1][2], a.steps[1].remaining);
    }

    #[test]
    fn declarations_are_checked() {
        let mut a = Audit::new(Gate { k: 5 });
        let t = a.add_table(&table("t", vec![vec![10, 20]])).unwrap();
        let c = a.add_attrition(&attrition("a", &[40, 31])).unwrap();
        assert!(matches!(
            a.same(t.total(), c.remaining(1)),
            Err(AuditError::NotSame { .. })
        ));
        assert!(matches!(
            a.same(t.cell(3, 0), c.remaining(0)),
            Err(AuditError::NoSuchEntry(_))
        ));
        assert!(matches!(
            a.sum(c.remaining(1), &[t.cell(0, 0), t.cell(0, 1)]),
            Err(AuditError::NotASum { .. })
        ));
        assert!(a.sum(c.remaining(0), &[t.total(), t.cell(0, 0)]).is_ok());
        let msg = a.same(t.total(), c.remaining(1)).unwrap_err().to_string();
        assert!(!msg.contains("31") && !msg.contains("30"), "{msg}");
        assert!(matches!(
            Audit::new(Gate { k: 5 }).add_attrition(&attrition("a", &[4, 9])),
            Err(AuditError::AttritionGrows { step: 1, .. })
        ));
        assert_eq!(a.find_row(c, "rule 1"), Some(1));
        assert_eq!(a.find_column(t, "c1"), Some(1));
    }

    #[test]
    fn audited_bundle_round_trips_through_json() {
        let spec = Spec {
            expendable: Vec::new(),
            tables: vec![table("t", vec![vec![3, 20], vec![15, 40]])],
            attritions: vec![attrition("a", &[80, 78])],
            same: vec![((0, Entry::Total), (1, Entry::Remaining(1)))],
        };
        let out = spec.run(5);
        let json = serde_json::to_string(&out).unwrap();
        let back: AuditedBundle = serde_json::from_str(&json).unwrap();
        assert_eq!(back, out);
        assert!(json.contains("\"below_k\""), "{json}");
    }

    fn random_bundle(rng: &mut ChaCha8Rng) -> Spec {
        let nr = rng.random_range(1..=3);
        let nc = rng.random_range(1..=3);
        let cell = |rng: &mut ChaCha8Rng| {
            if rng.random_bool(0.4) {
                rng.random_range(0..6)
            } else {
                rng.random_range(0..25)
            }
        };
        let cells: Vec<Vec<u64>> = (0..nr)
            .map(|_| (0..nc).map(|_| cell(rng)).collect())
            .collect();
        let total: u64 = cells.iter().flatten().sum();
        let mut spec = Spec {
            tables: vec![table("a", cells.clone())],
            ..Spec::default()
        };
        if rng.random_bool(0.5) {
            // The row totals of table a as their own table.
            let b = table("b", cells.iter().map(|r| vec![r.iter().sum()]).collect());
            let bi = spec.tables.len();
            spec.tables.push(b);
            for r in 0..nr {
                spec.same.push((
                    (0, Entry::RowTotal(r)),
                    (bi, Entry::Cell { row: r, column: 0 }),
                ));
            }
        }
        if rng.random_bool(0.4) {
            // Column 0 of table a split in two.
            let c: Vec<Vec<u64>> = cells
                .iter()
                .map(|r| {
                    let x = rng.random_range(0..=r[0]);
                    vec![x, r[0] - x]
                })
                .collect();
            let ci = spec.tables.len();
            spec.tables.push(table("c", c));
            for r in 0..nr {
                spec.same.push((
                    (0, Entry::Cell { row: r, column: 0 }),
                    (ci, Entry::RowTotal(r)),
                ));
            }
        }
        if rng.random_bool(0.5) {
            let x1 = cell(rng);
            let x2 = cell(rng);
            let ai = spec.tables.len();
            spec.attritions.push(attrition(
                "attrition",
                &[total + x1 + x2, total + x2, total],
            ));
            spec.same
                .push(((0, Entry::Total), (ai, Entry::Remaining(2))));
        }
        spec
    }

    #[test]
    fn random_bundles_give_nothing_away() {
        let mut rng = ChaCha8Rng::seed_from_u64(20_261_104);
        for case in 0..300 {
            let spec = random_bundle(&mut rng);
            let k = rng.random_range(3..=5);
            let out = spec.run(k);
            let leaks = recoverable(&spec, &out, k);
            assert!(
                leaks.is_empty(),
                "case {case}: recoverable {leaks:?}\n{spec:?}\n{out:?}"
            );
        }
    }

    #[test]
    fn a_large_table_is_audited() {
        // 12 x 6 with many small cells: the exact search stays within its budget and the result
        // keeps every line protected.
        let mut rng = ChaCha8Rng::seed_from_u64(12);
        let cells: Vec<Vec<u64>> = (0..12)
            .map(|_| {
                (0..6)
                    .map(|_| {
                        if rng.random_bool(0.3) {
                            rng.random_range(0..5)
                        } else {
                            rng.random_range(0..60)
                        }
                    })
                    .collect()
            })
            .collect();
        let spec = Spec {
            tables: vec![table("big", cells)],
            ..Spec::default()
        };
        let out = spec.run(5);
        let GatedOutput::Table(g) = &out.outputs[0] else {
            panic!()
        };
        for (r, row) in g.cells.iter().enumerate() {
            assert_ne!(
                row.iter().filter(|c| c.value().is_none()).count(),
                1,
                "row {r}"
            );
        }
        for c in 0..g.cells[0].len() {
            let hidden = g
                .cells
                .iter()
                .filter(|row| row[c].value().is_none())
                .count();
            assert_ne!(hidden, 1, "column {c}");
        }
        assert!(out.report.primary > 0 && out.report.complementary > 0);
    }
}
