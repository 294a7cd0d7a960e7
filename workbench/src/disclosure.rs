//! The disclosure gate: every count shown to a person or written to a file passes here.
//!
//! A table of counts is extended with its row, column and grand totals. Primary suppression hides
//! every entry (cell or total) in (0, k). Complementary suppression then walks every line of the
//! extended table (each row with its total, each column with its total, the totals row and column)
//! until no line has exactly one hidden entry (which its line would give back by subtraction) and,
//! where a line's total is published, its hidden entries do not add up to less than k (which would
//! reveal that they are all small) and include an `x`; finally no small entry may be fixed by the
//! table as a whole (linear algebra and an exact integer search; see [`Audit`]).
//! Zero is published: it is not a small group of children.
//!
//! [`Audit`] gates all count tables of one results bundle together (a table's total that is also
//! the attrition table's last count is one quantity); [`Gate::curve`] coarsens a survival or
//! cumulative-incidence curve so that no step reveals fewer than k children. `Gate::table` is an
//! audit of a single table.

use std::fmt;

pub use studies::PrivacyPolicy;
/// A count after the gate: the bundle's count type (Shown / BelowK / Hidden), so what the gate
/// publishes is what a results bundle carries.
pub use studies::bundle::Count as GatedCount;

/// Where an output goes, which sets its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Screen,
    File,
}

impl Gate {
    /// The gate of `policy` for one audience.
    pub fn for_audience(policy: &PrivacyPolicy, audience: Audience) -> Gate {
        Gate {
            k: match audience {
                Audience::Screen => policy.k_screen,
                Audience::File => policy.k_file,
            },
        }
    }
}

/// How a gated count prints: the value, `<k`, or `x` for a complementary suppression.
pub struct GatedDisplay {
    count: GatedCount,
    k: u64,
}

impl fmt::Display for GatedDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self.count {
            GatedCount::Shown(v) => v.to_string(),
            GatedCount::BelowK => format!("<{}", self.k),
            GatedCount::Hidden => "x".to_string(),
        };
        f.pad(&s)
    }
}

mod audit;
mod curve;

pub use audit::{
    AttritionStep, AttritionTable, Audit, AuditError, AuditReport, AuditedBundle, Entry,
    GatedAttrition, GatedAttritionStep, GatedOutput, Quantity, TableRef,
};
pub use curve::{CurveEnd, CurveError, CurveRow, PublishedCurve, PublishedStep};

/// A gate with threshold k.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate {
    pub k: u64,
}

/// Counts by two classifications, before the gate. Totals are computed, never supplied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountTable {
    pub title: String,
    pub row_header: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `cells[r][c]`.
    pub cells: Vec<Vec<u64>>,
}

/// A table after the gate, totals included as the last row and column.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GatedTable {
    pub title: String,
    pub row_header: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// `(rows + 1) x (columns + 1)`: the last row and column are totals.
    pub cells: Vec<Vec<GatedCount>>,
    pub k: u64,
}

impl Gate {
    /// Gates one table of counts, with totals: a bundle of one table ([`Audit`]).
    pub fn table(&self, t: &CountTable) -> GatedTable {
        // A ragged table is read with missing cells as zero.
        let nc = t.columns.len();
        let square = CountTable {
            cells: (0..t.rows.len())
                .map(|r| {
                    (0..nc)
                        .map(|c| {
                            t.cells
                                .get(r)
                                .and_then(|row| row.get(c))
                                .copied()
                                .unwrap_or(0)
                        })
                        .collect()
                })
                .collect(),
            ..t.clone()
        };
        let mut audit = Audit::new(*self);
        let gated = audit.add_table(&square).ok().map(|_| audit.run());
        match gated.and_then(|b| b.outputs.into_iter().next()) {
            Some(GatedOutput::Table(g)) => g,
            // Unreachable (the table is square); publish nothing rather than panic.
            _ => GatedTable {
                title: t.title.clone(),
                row_header: t.row_header.clone(),
                rows: t.rows.clone(),
                columns: t.columns.clone(),
                cells: vec![vec![GatedCount::Hidden; nc + 1]; t.rows.len() + 1],
                k: self.k,
            },
        }
    }

    /// Gates a single count that stands alone (its margins are not published next to it).
    pub fn count(&self, n: u64) -> GatedCount {
        if n > 0 && n < self.k {
            GatedCount::BelowK
        } else {
            GatedCount::Shown(n)
        }
    }

    /// How a gated count prints under this gate.
    pub fn display(&self, count: GatedCount) -> GatedDisplay {
        GatedDisplay { count, k: self.k }
    }
}

impl GatedTable {
    /// The table as aligned text, with a legend when anything is suppressed.
    pub fn render_text(&self) -> String {
        let gate = Gate { k: self.k };
        let mut header: Vec<String> = vec![self.row_header.clone()];
        header.extend(self.columns.iter().cloned());
        header.push("Total".to_string());
        let mut body: Vec<Vec<String>> = Vec::new();
        for (r, row) in self.cells.iter().enumerate() {
            let label = self
                .rows
                .get(r)
                .cloned()
                .unwrap_or_else(|| "Total".to_string());
            let mut line = vec![label];
            line.extend(row.iter().map(|&x| gate.display(x).to_string()));
            body.push(line);
        }
        let widths: Vec<usize> = (0..header.len())
            .map(|i| {
                std::iter::once(&header)
                    .chain(&body)
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let fmt_line = |l: &[String]| {
            l.iter()
                .enumerate()
                .map(|(i, s)| {
                    if i == 0 {
                        format!("{s:<w$}", w = widths[i])
                    } else {
                        format!("{s:>w$}", w = widths[i])
                    }
                })
                .collect::<Vec<_>>()
                .join("  ")
        };
        let mut out = format!("{}\n{}\n", self.title, fmt_line(&header));
        for l in &body {
            out.push_str(&fmt_line(l));
            out.push('\n');
        }
        let any_hidden = self
            .cells
            .iter()
            .flatten()
            .any(|c| !matches!(c, GatedCount::Shown(_)));
        if any_hidden {
            out.push_str(&format!(
                "<{k} = fewer than {k} children; x = hidden so that a small count cannot be recomputed from the totals\n",
                k = self.k
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(cells: Vec<Vec<u64>>) -> CountTable {
        CountTable {
            title: "t".into(),
            row_header: "row".into(),
            rows: (0..cells.len()).map(|i| format!("r{i}")).collect(),
            columns: (0..cells[0].len()).map(|i| format!("c{i}")).collect(),
            cells,
        }
    }

    /// Every line of the extended table either has no hidden entry, or at least two, whose sum is
    /// at least k when the line's total is published: no hidden entry can be recomputed from its line.
    fn assert_protected(g: &GatedTable, raw: &[Vec<u64>]) {
        let nr = g.cells.len();
        let nc = g.cells[0].len();
        let value = |r: usize, c: usize| -> u64 {
            if r < raw.len() && c < raw[0].len() {
                raw[r][c]
            } else if r < raw.len() {
                raw[r].iter().sum()
            } else if c < raw[0].len() {
                raw.iter().map(|row| row[c]).sum()
            } else {
                raw.iter().flatten().sum()
            }
        };
        let lines = (0..nr)
            .map(|r| (0..nc).map(|c| (r, c)).collect::<Vec<_>>())
            .chain((0..nc).map(|c| (0..nr).map(|r| (r, c)).collect()));
        for line in lines {
            let hidden: Vec<_> = line
                .iter()
                .filter(|&&(r, c)| g.cells[r][c].value().is_none())
                .collect();
            if hidden.is_empty() {
                continue;
            }
            assert!(
                hidden.len() >= 2,
                "line {line:?} has a single hidden entry: {:?}",
                g.cells
            );
            let &(tr, tc) = line.last().unwrap();
            if g.cells[tr][tc].value().is_some() {
                let s: u64 = hidden.iter().map(|&&(r, c)| value(r, c)).sum();
                assert!(
                    s == 0 || s >= g.k,
                    "hidden entries of {line:?} add to {s} < k"
                );
            }
        }
        for (r, row) in g.cells.iter().enumerate() {
            for (c, x) in row.iter().enumerate() {
                if let Some(v) = x.value() {
                    assert!(v == 0 || v >= g.k, "shown {v} at ({r},{c})");
                }
            }
        }
    }

    #[test]
    fn small_cell_and_its_complement_are_hidden() {
        let raw = vec![vec![3, 40, 50], vec![20, 30, 60]];
        let g = Gate { k: 5 }.table(&table(raw.clone()));
        assert_eq!(g.cells[0][0], GatedCount::BelowK);
        assert_protected(&g, &raw);
        assert_eq!(g.cells[2][3], GatedCount::Shown(203));
        let text = g.render_text();
        assert!(text.contains("<5") && text.contains('x'), "{text}");
    }

    #[test]
    fn small_margin_is_suppressed_too() {
        // The first row's total is 4: primary-suppressed even though its cells are 0 and 4.
        let raw = vec![vec![0, 4], vec![30, 40], vec![12, 9]];
        let g = Gate { k: 5 }.table(&table(raw.clone()));
        assert_eq!(g.cells[0][2], GatedCount::BelowK);
        assert_protected(&g, &raw);
    }

    #[test]
    fn two_small_cells_in_a_line_get_a_third() {
        // Row 0 has 1 and 2 hidden: together 3 < k, so a third entry must go.
        let raw = vec![vec![1, 2, 100], vec![50, 60, 70]];
        let g = Gate { k: 5 }.table(&table(raw.clone()));
        assert_protected(&g, &raw);
    }

    #[test]
    fn random_tables_are_always_protected() {
        // A fixed pseudo-random sweep (no RNG dependency): many shapes, many small cells.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..500 {
            let nr = 1 + (next() % 5) as usize;
            let nc = 1 + (next() % 5) as usize;
            let raw: Vec<Vec<u64>> = (0..nr)
                .map(|_| {
                    (0..nc)
                        .map(|_| {
                            if next() % 3 == 0 {
                                next() % 6
                            } else {
                                next() % 80
                            }
                        })
                        .collect()
                })
                .collect();
            let k = 5 + next() % 6;
            let g = Gate { k }.table(&table(raw.clone()));
            assert_protected(&g, &raw);
        }
    }

    #[test]
    fn zero_is_published_and_lone_counts_gate() {
        let gate = Gate::for_audience(&PrivacyPolicy::default(), Audience::File);
        assert_eq!(gate.k, 10);
        assert_eq!(gate.count(0), GatedCount::Shown(0));
        assert_eq!(gate.count(9), GatedCount::BelowK);
        assert_eq!(gate.display(GatedCount::BelowK).to_string(), "<10");
    }
}
