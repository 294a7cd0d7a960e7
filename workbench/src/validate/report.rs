//! What validation found: stable rule ids, findings that name source, row, column and rule (never
//! the offending value), and a report that lists the first findings and counts all of them per rule.

use std::collections::BTreeMap;
use std::fmt;

/// How many findings a report lists; every finding is counted.
pub const MAX_LISTED: usize = 50;

/// A validation rule, with a stable id (`RuleId::as_str`) that scripts and tests can rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleId {
    /// A required table has no file (or no PostgreSQL table).
    MissingFile,
    /// A file (or PostgreSQL table) that is not an importable table of the schema.
    UnknownFile,
    /// Both `t.csv` and `t.parquet` for one table.
    DuplicateFile,
    /// An empty file, or a required table without data rows.
    EmptyFile,
    /// Bytes that are not UTF-8.
    Encoding,
    /// A field longer than the limit (`MAX_FIELD_BYTES`).
    FieldTooLong,
    /// A file that cannot be read as CSV / Parquet (ragged rows, stray quotes, ...).
    FileFormat,
    /// A column that is not in the schema.
    UnknownColumn,
    /// A required column is absent.
    MissingColumn,
    /// The same column twice.
    DuplicateColumn,
    /// `data_release` must hold exactly one row.
    ReleaseRows,
    /// The release id is empty, too long or has characters outside `[0-9A-Za-z._-]`.
    ReleaseId,
    /// The release id is already in the store.
    ReleaseExists,
    /// A required value is empty.
    MissingValue,
    /// A value that is not of the column's type.
    Type,
    /// A code outside its code list (`Rule::OneOf`, `Rule::CodeList`).
    CodeList,
    /// A pseudonym that is not 16-64 characters of `[0-9A-Za-z_-]`, or is all digits.
    PseudonymFormat,
    /// A year-month that is not `YYYY-MM`.
    YearMonth,
    /// A key (or unique column set) that occurs more than once.
    KeyDuplicate,
    /// A reference to a row that does not exist in the same release.
    Reference,
    /// Dates in the wrong order (end before start, event before first entry, ...).
    DateOrder,
    /// An event that restates another table disagrees with it, or is missing or doubled.
    EventAgreement,
    /// A Belgian national register number.
    IdRrn,
    /// A Belgian BIS number.
    IdBis,
    /// A Belgian IBAN.
    IdIban,
    /// An e-mail address.
    IdEmail,
    /// A Belgian phone number.
    IdPhone,
    /// A birth date with a day.
    IdBirthDate,
    /// A deny-listed column name (a direct identifier by its name).
    IdColumnName,
}

impl RuleId {
    /// Every rule, in report order.
    pub const ALL: &'static [RuleId] = &[
        RuleId::MissingFile,
        RuleId::UnknownFile,
        RuleId::DuplicateFile,
        RuleId::EmptyFile,
        RuleId::Encoding,
        RuleId::FieldTooLong,
        RuleId::FileFormat,
        RuleId::UnknownColumn,
        RuleId::MissingColumn,
        RuleId::DuplicateColumn,
        RuleId::ReleaseRows,
        RuleId::ReleaseId,
        RuleId::ReleaseExists,
        RuleId::MissingValue,
        RuleId::Type,
        RuleId::CodeList,
        RuleId::PseudonymFormat,
        RuleId::YearMonth,
        RuleId::KeyDuplicate,
        RuleId::Reference,
        RuleId::DateOrder,
        RuleId::EventAgreement,
        RuleId::IdRrn,
        RuleId::IdBis,
        RuleId::IdIban,
        RuleId::IdEmail,
        RuleId::IdPhone,
        RuleId::IdBirthDate,
        RuleId::IdColumnName,
    ];

    /// The stable id printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleId::MissingFile => "MISSING_FILE",
            RuleId::UnknownFile => "UNKNOWN_FILE",
            RuleId::DuplicateFile => "DUPLICATE_FILE",
            RuleId::EmptyFile => "EMPTY_FILE",
            RuleId::Encoding => "ENCODING",
            RuleId::FieldTooLong => "FIELD_TOO_LONG",
            RuleId::FileFormat => "FILE_FORMAT",
            RuleId::UnknownColumn => "UNKNOWN_COLUMN",
            RuleId::MissingColumn => "MISSING_COLUMN",
            RuleId::DuplicateColumn => "DUPLICATE_COLUMN",
            RuleId::ReleaseRows => "RELEASE_ROWS",
            RuleId::ReleaseId => "RELEASE_ID",
            RuleId::ReleaseExists => "RELEASE_EXISTS",
            RuleId::MissingValue => "MISSING_VALUE",
            RuleId::Type => "TYPE",
            RuleId::CodeList => "CODE_LIST",
            RuleId::PseudonymFormat => "PSEUDONYM_FORMAT",
            RuleId::YearMonth => "YEAR_MONTH",
            RuleId::KeyDuplicate => "KEY_DUPLICATE",
            RuleId::Reference => "REFERENCE",
            RuleId::DateOrder => "DATE_ORDER",
            RuleId::EventAgreement => "EVENT_AGREEMENT",
            RuleId::IdRrn => "ID_RRN",
            RuleId::IdBis => "ID_BIS",
            RuleId::IdIban => "ID_IBAN",
            RuleId::IdEmail => "ID_EMAIL",
            RuleId::IdPhone => "ID_PHONE",
            RuleId::IdBirthDate => "ID_BIRTH_DATE",
            RuleId::IdColumnName => "ID_COLUMN_NAME",
        }
    }

    /// Whether the rule is about a direct identifier (domain.md §3.5).
    pub fn is_identifier(self) -> bool {
        self.as_str().starts_with("ID_")
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the row number of a finding counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowCounting {
    /// A CSV file, counted as a spreadsheet does: the header line is row 1, the first data row is
    /// row 2 (a quoted line break inside a value does not start a new row).
    CsvSpreadsheet,
    /// A Parquet file: the first data row is row 1.
    DataRow,
    /// Rows ordered by the table's key columns (PostgreSQL source, or a table in the store): the
    /// first row in key order is row 1.
    KeyOrder,
}

impl RowCounting {
    fn explain(self) -> &'static str {
        match self {
            RowCounting::CsvSpreadsheet => {
                "CSV rows are counted as in a spreadsheet: the header line is row 1, the first data row is row 2."
            }
            RowCounting::DataRow => "Parquet rows are counted from 1 at the first data row.",
            RowCounting::KeyOrder => {
                "Table rows are counted from 1 in the order of the table's key columns."
            }
        }
    }
}

/// One problem: where it is, which rule, and what to do. Never holds the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: RuleId,
    /// The schema table concerned.
    pub table: String,
    /// Where the rows came from: a file name, a PostgreSQL table or a store table.
    pub source: String,
    /// The row, counted as `counting` says; None for file- or column-level findings.
    pub row: Option<u64>,
    pub counting: RowCounting,
    pub column: Option<String>,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(r) = self.row {
            write!(f, ", row {r}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, " [{}]: {}", self.rule, self.message)
    }
}

/// The outcome of a validation: the first `MAX_LISTED` findings and the count of every rule.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationReport {
    listed: Vec<Finding>,
    counts: BTreeMap<RuleId, u64>,
}

impl ValidationReport {
    pub fn new() -> ValidationReport {
        ValidationReport::default()
    }

    /// Adds one finding (listed while there is room, always counted).
    pub fn add(&mut self, finding: Finding) {
        *self.counts.entry(finding.rule).or_insert(0) += 1;
        if self.listed.len() < MAX_LISTED {
            self.listed.push(finding);
        }
    }

    /// Adds `total` occurrences of `rule`, of which `examples` are listed (while there is room).
    pub fn add_counted(&mut self, rule: RuleId, total: u64, examples: Vec<Finding>) {
        if total == 0 {
            return;
        }
        *self.counts.entry(rule).or_insert(0) += total;
        for f in examples {
            if self.listed.len() < MAX_LISTED {
                self.listed.push(f);
            }
        }
    }

    /// Room left in the listing.
    pub fn room(&self) -> usize {
        MAX_LISTED - self.listed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Total number of findings.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Number of findings of one rule.
    pub fn count(&self, rule: RuleId) -> u64 {
        self.counts.get(&rule).copied().unwrap_or(0)
    }

    /// Count per rule (rules without findings are absent).
    pub fn counts(&self) -> &BTreeMap<RuleId, u64> {
        &self.counts
    }

    /// The listed findings (at most `MAX_LISTED`).
    pub fn findings(&self) -> &[Finding] {
        &self.listed
    }

    pub(crate) fn findings_mut(&mut self) -> &mut [Finding] {
        &mut self.listed
    }

    /// Merges another report into this one.
    pub fn merge(&mut self, other: ValidationReport) {
        for (rule, n) in other.counts {
            *self.counts.entry(rule).or_insert(0) += n;
        }
        for f in other.listed {
            if self.listed.len() < MAX_LISTED {
                self.listed.push(f);
            }
        }
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total();
        writeln!(
            f,
            "{total} problem{} found{}:",
            if total == 1 { "" } else { "s" },
            if (self.listed.len() as u64) < total {
                format!(" (the first {} are listed)", self.listed.len())
            } else {
                String::new()
            }
        )?;
        for x in &self.listed {
            writeln!(f, "  {x}")?;
        }
        let per_rule: Vec<String> = self
            .counts
            .iter()
            .map(|(rule, n)| format!("{rule} {n}"))
            .collect();
        writeln!(f, "count per rule: {}", per_rule.join(", "))?;
        let mut countings: Vec<RowCounting> = self
            .listed
            .iter()
            .filter(|x| x.row.is_some())
            .map(|x| x.counting)
            .collect();
        countings.sort_unstable();
        countings.dedup();
        for c in countings {
            writeln!(f, "{}", c.explain())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(rule: RuleId, row: u64) -> Finding {
        Finding {
            rule,
            table: "child".into(),
            source: "child.csv".into(),
            row: Some(row),
            counting: RowCounting::CsvSpreadsheet,
            column: Some("sex".into()),
            message: "is not one of M, F, X, U".into(),
        }
    }

    #[test]
    fn lists_at_most_the_limit_and_counts_everything() {
        let mut r = ValidationReport::new();
        for i in 0..70 {
            r.add(finding(RuleId::CodeList, i + 2));
        }
        r.add_counted(RuleId::Type, 1000, vec![finding(RuleId::Type, 3)]);
        assert_eq!(r.findings().len(), MAX_LISTED);
        assert_eq!(r.count(RuleId::CodeList), 70);
        assert_eq!(r.count(RuleId::Type), 1000);
        assert_eq!(r.total(), 1070);
        let text = r.to_string();
        assert!(
            text.contains("1070 problems found (the first 50 are listed)"),
            "{text}"
        );
        assert!(text.contains("TYPE 1000, CODE_LIST 70"), "{text}");
        assert!(text.contains("header line is row 1"), "{text}");
        assert!(
            text.contains("child.csv, row 2, column sex [CODE_LIST]"),
            "{text}"
        );
    }

    #[test]
    fn rule_ids_are_unique_and_identifier_rules_are_marked() {
        let mut ids: Vec<&str> = RuleId::ALL.iter().map(|r| r.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RuleId::ALL.len());
        assert!(RuleId::IdRrn.is_identifier());
        assert!(!RuleId::Type.is_identifier());
    }
}
