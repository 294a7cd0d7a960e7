//! The canonical case-record schema (docs/domain.md §4) as typed table definitions: the one place
//! that says which tables, columns, types, keys, references and code-list checks exist.
//!
//! The store creates its tables from these definitions, the importer validates against them and the
//! content hash walks them; no other crate spells a column list of its own.

/// Version of the schema written into every store. Bump it when a definition below changes.
pub const SCHEMA_VERSION: u32 = 2;

/// SQL schema (namespace) that holds synthetic ground truth, never mixed with case tables.
pub const TRUTH_SCHEMA: &str = "truth";

/// Storage type of a column, portable across DuckDB, PostgreSQL and CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    Text,
    Integer,
    /// IEEE-754 double.
    Real,
    /// Calendar date (ISO-8601, day precision; no time zone).
    Date,
    Boolean,
}

impl ColumnType {
    /// The SQL type name used in DDL and casts.
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "BIGINT",
            ColumnType::Real => "DOUBLE",
            ColumnType::Date => "DATE",
            ColumnType::Boolean => "BOOLEAN",
        }
    }

    /// A human name for error messages.
    pub fn describe(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Integer => "a whole number",
            ColumnType::Real => "a number",
            ColumnType::Date => "a date YYYY-MM-DD",
            ColumnType::Boolean => "true or false",
        }
    }
}

/// A rule a column's values must follow beyond their type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    None,
    /// One of a fixed set of codes.
    OneOf(&'static [&'static str]),
    /// A code of a reference table (its key column).
    CodeList(&'static str),
    /// An opaque pseudonym issued upstream: 16-64 characters of [0-9A-Za-z_-], not all digits.
    Pseudonym,
    /// Year and month of birth only: `YYYY-MM`.
    YearMonth,
}

/// One column of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    pub nullable: bool,
    pub rule: Rule,
}

/// A reference from some columns of a table to the key of another table of the same release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reference {
    pub columns: &'static [&'static str],
    pub table: &'static str,
    pub target: &'static [&'static str],
}

/// What a table holds, which decides where it lives and how it is imported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// A code list shipped with the schema (centres, forms, ...); not part of a release.
    CodeList,
    /// The release register itself.
    Release,
    /// A case table: carries `release_id` first in its key; imported per release.
    Case,
    /// Synthetic ground truth, in the `truth` schema; carries `release_id`.
    Truth,
}

/// One table of the canonical schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    pub name: &'static str,
    pub kind: TableKind,
    pub doc: &'static str,
    /// Columns in storage order. For case and truth tables the first is `release_id`.
    pub columns: &'static [Column],
    /// Key columns, in key (and hash) order; includes `release_id` for case and truth tables.
    pub key: &'static [&'static str],
    pub references: &'static [Reference],
}

impl Table {
    /// The column of this name, if any.
    pub fn column(&self, name: &str) -> Option<&'static Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The qualified SQL name (`truth.cif` for truth tables).
    pub fn qualified_name(&self) -> String {
        match self.kind {
            TableKind::Truth => format!("{TRUTH_SCHEMA}.{}", self.name),
            _ => self.name.to_string(),
        }
    }

    /// Columns a data file supplies for this table (all but `release_id`, which the importer adds).
    pub fn file_columns(&self) -> impl Iterator<Item = &'static Column> {
        self.columns.iter().filter(|c| c.name != RELEASE_ID)
    }

    /// Whether rows of this table belong to one release.
    pub fn is_per_release(&self) -> bool {
        matches!(self.kind, TableKind::Case | TableKind::Truth)
    }
}

/// The column every case and truth table carries first.
pub const RELEASE_ID: &str = "release_id";

const fn col(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: false,
        rule: Rule::None,
    }
}
const fn opt(name: &'static str, ty: ColumnType) -> Column {
    Column {
        name,
        ty,
        nullable: true,
        rule: Rule::None,
    }
}
const fn code(name: &'static str, list: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Text,
        nullable: false,
        rule: Rule::CodeList(list),
    }
}
const fn one_of(name: &'static str, codes: &'static [&'static str]) -> Column {
    Column {
        name,
        ty: ColumnType::Text,
        nullable: false,
        rule: Rule::OneOf(codes),
    }
}
const fn opt_one_of(name: &'static str, codes: &'static [&'static str]) -> Column {
    Column {
        name,
        ty: ColumnType::Text,
        nullable: true,
        rule: Rule::OneOf(codes),
    }
}
const fn pid(name: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Text,
        nullable: false,
        rule: Rule::Pseudonym,
    }
}
const fn opt_pid(name: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Text,
        nullable: true,
        rule: Rule::Pseudonym,
    }
}
const RELEASE: Column = col(RELEASE_ID, ColumnType::Text);

use ColumnType::{Boolean, Date, Integer, Real, Text};

pub const SEX: &[&str] = &["M", "F", "X", "U"];
pub const MELDING_TYPES: &[&str] = &[
    "ADVIES",
    "DOSSIER",
    "MANO",
    "CHAT",
    "SIGNALEMENT",
    "PRISE_EN_CHARGE",
];
pub const LEGAL_FRAMEWORKS: &[&str] = &[
    "VOLUNTARY",
    "MANO",
    "PARQUET",
    "YOUTH_COURT",
    "SAJ",
    "SPJ",
    "UNKNOWN",
];
pub const CLOSURE_REASONS: &[&str] = &[
    "SAFETY_ACHIEVED",
    "REFERRED_ON",
    "REFERRED_PARQUET",
    "FAMILY_WITHDREW",
    "TRANSFER_OTHER_CENTRE",
    "MOVED_ABROAD",
    "CHILD_18",
    "DEATH",
    "NO_MALTREATMENT_FOUND",
    "OTHER",
];
pub const CHANNELS: &[&str] = &[
    "PHONE",
    "CHAT",
    "EMAIL",
    "IN_PERSON",
    "LETTER",
    "SYSTEM_TRANSFER",
];
pub const REPORT_KINDS: &[&str] = &["NEW", "RE_REPORT_CLOSED", "FOLLOW_UP_OPEN"];
pub const FINDINGS: &[&str] = &[
    "SUBSTANTIATED",
    "INDICATED",
    "NOT_SUBSTANTIATED",
    "UNDETERMINED",
    "PENDING",
];
pub const PROVIDER_SECTORS: &[&str] = &[
    "VK",
    "SOS",
    "CAW",
    "CGG",
    "CLB",
    "OCJ",
    "SDJ",
    "SAJ",
    "SPJ",
    "FOSTER",
    "RESIDENTIAL",
    "OTHER",
];
pub const PLACEMENT_SETTINGS: &[&str] = &[
    "KIN_FOSTER",
    "NONKIN_FOSTER",
    "RESIDENTIAL",
    "CRISIS",
    "HOSPITAL",
    "OTHER",
];
pub const PLACEMENT_EXITS: &[&str] = &[
    "MOVE",
    "REUNIFICATION",
    "KIN_GUARDIANSHIP",
    "ADOPTION",
    "AGE_18",
    "RUNAWAY",
    "TRANSFER",
    "DEATH",
    "OTHER",
];
pub const EVENT_TYPES: &[&str] = &[
    "REPORT",
    "SUBSTANTIATION",
    "SAFETY_PLAN_AGREED",
    "SAFETY_REACHED",
    "SAFETY_BREACH",
    "INTERVENTION_START",
    "INTERVENTION_END",
    "PLACEMENT_START",
    "PLACEMENT_MOVE",
    "PLACEMENT_END",
    "REUNIFICATION",
    "PARQUET_REFERRAL",
    "COURT_MEASURE",
    "CASE_CLOSED",
    "TRANSFER_OUT",
    "TRANSFER_IN",
    "MOVED_ABROAD",
    "LOST_TO_FOLLOWUP",
    "TURNED_18",
    "DEATH",
    "END_OF_FOLLOWUP",
];
pub const DATE_PRECISIONS: &[&str] = &["DAY", "MONTH", "INTERVAL"];
pub const OBS_END_REASONS: &[&str] = &["EXTRACT", "AGE_18", "MOVED_ABROAD", "DEATH", "LOST"];
pub const WAVES: &[&str] = &["BASELINE", "M3", "M6", "M12", "M24", "UNPLANNED"];
pub const SOURCE_SYSTEMS: &[&str] = &["VK_EDOSSIER", "THOPAS", "OTHER", "SYNTHETIC"];
pub const COUNTING_UNITS: &[&str] = &["MELDING", "SIGNALEMENT", "MIXED"];

/// Every table, code lists first, then the release register, case tables and truth.
pub const TABLES: &[Table] = &[
    // ---------- code lists ----------
    Table {
        name: "centre",
        kind: TableKind::CodeList,
        doc: "The 6 Flemish VKs and the 15 SOS Enfants teams.",
        columns: &[
            col("centre_id", Text),
            one_of("service_type", &["VK", "SOS_ENFANTS"]),
            one_of("community", &["VL", "FWB"]),
            one_of("region", &["VLA", "WAL", "BRU"]),
            opt("province_code", Text),
            one_of("source_system", &["VK_EDOSSIER", "THOPAS", "OTHER"]),
            col("active_from", Date),
            opt("active_to", Date),
            col("is_small_unit", Boolean),
            col("label_nl", Text),
            col("label_fr", Text),
            col("label_en", Text),
        ],
        key: &["centre_id"],
        references: &[],
    },
    Table {
        name: "maltreatment_form",
        kind: TableKind::CodeList,
        doc: "Forms of maltreatment, hierarchical.",
        columns: &[
            col("form_code", Text),
            opt("parent_code", Text),
            col("label_nl", Text),
            col("label_fr", Text),
            col("label_en", Text),
            col("rare_for_disclosure", Boolean),
        ],
        key: &["form_code"],
        references: &[],
    },
    Table {
        name: "context_code",
        kind: TableKind::CodeList,
        doc: "Family and child contexts recorded on an episode.",
        columns: &[
            col("context_code", Text),
            col("label_nl", Text),
            col("label_fr", Text),
            col("label_en", Text),
            col("rare_for_disclosure", Boolean),
        ],
        key: &["context_code"],
        references: &[],
    },
    Table {
        name: "referral_source",
        kind: TableKind::CodeList,
        doc: "Who reported, grouped.",
        columns: &[
            col("source_code", Text),
            one_of(
                "source_group",
                &[
                    "PROFESSIONAL",
                    "JUSTICE",
                    "HELPLINE_CHAT",
                    "CITIZEN",
                    "CHILD",
                ],
            ),
            col("label_nl", Text),
            col("label_fr", Text),
            col("label_en", Text),
        ],
        key: &["source_code"],
        references: &[],
    },
    Table {
        name: "intervention_type",
        kind: TableKind::CodeList,
        doc: "Interventions and decisions (domain.md §2.4).",
        columns: &[
            col("intervention_code", Text),
            opt_one_of("phase_primary", &["P1_STOP", "P2_PREVENT", "P3_RECOVER"]),
            col("is_placement", Boolean),
            col("is_judicial", Boolean),
            col("label_nl", Text),
            col("label_fr", Text),
            col("label_en", Text),
        ],
        key: &["intervention_code"],
        references: &[],
    },
    Table {
        name: "instrument",
        kind: TableKind::CodeList,
        doc: "Wellbeing instruments with ranges and cut-offs.",
        columns: &[
            col("instrument_code", Text),
            col("score_name", Text),
            col("score_min", Real),
            col("score_max", Real),
            col("higher_is_worse", Boolean),
            opt("borderline_cut", Real),
            opt("clinical_cut", Real),
            opt("reliable_change", Real),
            opt("age_min_months", Integer),
            opt("age_max_months", Integer),
            one_of(
                "informant",
                &["PARENT", "CARER", "TEACHER", "SELF", "CLINICIAN"],
            ),
            col("label_nl", Text),
            col("label_fr", Text),
            col("label_en", Text),
        ],
        key: &["instrument_code"],
        references: &[],
    },
    // ---------- release register ----------
    Table {
        name: "data_release",
        kind: TableKind::Release,
        doc: "One extract of case records, with its extract date (administrative censoring).",
        columns: &[
            col(RELEASE_ID, Text),
            col("extract_date", Date),
            one_of("source_system", SOURCE_SYSTEMS),
            col("pseudonym_scheme", Text),
            opt_one_of("counting_unit", COUNTING_UNITS),
            col("is_synthetic", Boolean),
            opt("generator_seed", Integer),
            opt("generator_config", Text),
            opt("notes", Text),
        ],
        key: &[RELEASE_ID],
        references: &[],
    },
    // ---------- case tables ----------
    Table {
        name: "family",
        kind: TableKind::Case,
        doc: "Sibling / household clusters.",
        columns: &[RELEASE, pid("family_pid")],
        key: &[RELEASE_ID, "family_pid"],
        references: &[],
    },
    Table {
        name: "child",
        kind: TableKind::Case,
        doc: "A child, by opaque pseudonym; birth as year-month only.",
        columns: &[
            RELEASE,
            pid("child_pid"),
            opt_pid("family_pid"),
            one_of("sex", SEX),
            Column {
                name: "birth_ym",
                ty: Text,
                nullable: true,
                rule: Rule::YearMonth,
            },
            Column {
                name: "expected_birth_ym",
                ty: Text,
                nullable: true,
                rule: Rule::YearMonth,
            },
            opt("date_of_18th_birthday", Date),
        ],
        key: &[RELEASE_ID, "child_pid"],
        references: &[Reference {
            columns: &["family_pid"],
            table: "family",
            target: &["family_pid"],
        }],
    },
    Table {
        name: "episode",
        kind: TableKind::Case,
        doc: "One contiguous involvement of one child with one centre.",
        columns: &[
            RELEASE,
            col("episode_id", Text),
            pid("child_pid"),
            code("centre_id", "centre"),
            col("entry_date", Date),
            opt("index_report_id", Text),
            opt_one_of("melding_type", MELDING_TYPES),
            code("referral_source", "referral_source"),
            opt_one_of("legal_framework_at_entry", LEGAL_FRAMEWORKS),
            opt("age_at_entry_months", Integer),
            opt("closure_date", Date),
            opt_one_of("closure_reason", CLOSURE_REASONS),
            opt("transferred_to_episode_id", Text),
            col("episode_seq", Integer),
        ],
        key: &[RELEASE_ID, "episode_id"],
        references: &[
            Reference {
                columns: &["child_pid"],
                table: "child",
                target: &["child_pid"],
            },
            Reference {
                columns: &["index_report_id"],
                table: "report",
                target: &["report_id"],
            },
            Reference {
                columns: &["transferred_to_episode_id"],
                table: "episode",
                target: &["episode_id"],
            },
        ],
    },
    Table {
        name: "report",
        kind: TableKind::Case,
        doc: "A melding / signalement; may concern several children.",
        columns: &[
            RELEASE,
            col("report_id", Text),
            code("centre_id", "centre"),
            col("report_date", Date),
            code("source_code", "referral_source"),
            opt_one_of("channel", CHANNELS),
            opt_one_of("report_kind", REPORT_KINDS),
        ],
        key: &[RELEASE_ID, "report_id"],
        references: &[],
    },
    Table {
        name: "report_child",
        kind: TableKind::Case,
        doc: "A kindregistratie: one child named in one report.",
        columns: &[
            RELEASE,
            col("report_id", Text),
            pid("child_pid"),
            opt("episode_id", Text),
            opt("is_duplicate_of", Text),
        ],
        key: &[RELEASE_ID, "report_id", "child_pid"],
        references: &[
            Reference {
                columns: &["report_id"],
                table: "report",
                target: &["report_id"],
            },
            Reference {
                columns: &["child_pid"],
                table: "child",
                target: &["child_pid"],
            },
            Reference {
                columns: &["episode_id"],
                table: "episode",
                target: &["episode_id"],
            },
            Reference {
                columns: &["is_duplicate_of"],
                table: "report",
                target: &["report_id"],
            },
        ],
    },
    Table {
        name: "report_child_form",
        kind: TableKind::Case,
        doc: "An allegation: one form of maltreatment for one child in one report, with its finding.",
        columns: &[
            RELEASE,
            col("report_id", Text),
            pid("child_pid"),
            code("form_code", "maltreatment_form"),
            col("is_primary", Boolean),
            one_of("finding", FINDINGS),
            opt("finding_date", Date),
        ],
        key: &[RELEASE_ID, "report_id", "child_pid", "form_code"],
        references: &[Reference {
            columns: &["report_id", "child_pid"],
            table: "report_child",
            target: &["report_id", "child_pid"],
        }],
    },
    Table {
        name: "episode_context",
        kind: TableKind::Case,
        doc: "Contexts recorded on an episode (multi-label).",
        columns: &[
            RELEASE,
            col("episode_id", Text),
            code("context_code", "context_code"),
            opt("recorded_date", Date),
        ],
        key: &[RELEASE_ID, "episode_id", "context_code"],
        references: &[Reference {
            columns: &["episode_id"],
            table: "episode",
            target: &["episode_id"],
        }],
    },
    Table {
        name: "intervention",
        kind: TableKind::Case,
        doc: "An intervention or decision within an episode.",
        columns: &[
            RELEASE,
            col("intervention_id", Text),
            col("episode_id", Text),
            code("intervention_code", "intervention_type"),
            opt_one_of("provider_sector", PROVIDER_SECTORS),
            col("start_date", Date),
            opt("end_date", Date),
            opt("end_reason", Text),
            col("is_court_ordered", Boolean),
        ],
        key: &[RELEASE_ID, "intervention_id"],
        references: &[Reference {
            columns: &["episode_id"],
            table: "episode",
            target: &["episode_id"],
        }],
    },
    Table {
        name: "placement",
        kind: TableKind::Case,
        doc: "An out-of-home spell.",
        columns: &[
            RELEASE,
            col("placement_id", Text),
            col("episode_id", Text),
            col("removal_seq", Integer),
            one_of("setting", PLACEMENT_SETTINGS),
            col("start_date", Date),
            opt("end_date", Date),
            opt_one_of("exit_reason", PLACEMENT_EXITS),
            col("is_trial_home_visit", Boolean),
        ],
        key: &[RELEASE_ID, "placement_id"],
        references: &[Reference {
            columns: &["episode_id"],
            table: "episode",
            target: &["episode_id"],
        }],
    },
    Table {
        name: "event",
        kind: TableKind::Case,
        doc: "The unified event log from which outcomes are derived.",
        columns: &[
            RELEASE,
            col("event_id", Text),
            pid("child_pid"),
            opt("episode_id", Text),
            one_of("event_type", EVENT_TYPES),
            col("event_date", Date),
            one_of("date_precision", DATE_PRECISIONS),
            opt("interval_lower", Date),
            opt("source_table", Text),
            opt("source_id", Text),
        ],
        key: &[RELEASE_ID, "event_id"],
        references: &[
            Reference {
                columns: &["child_pid"],
                table: "child",
                target: &["child_pid"],
            },
            Reference {
                columns: &["episode_id"],
                table: "episode",
                target: &["episode_id"],
            },
        ],
    },
    Table {
        name: "observation_window",
        kind: TableKind::Case,
        doc: "When each child is under observation, and why observation ends.",
        columns: &[
            RELEASE,
            pid("child_pid"),
            col("obs_start", Date),
            col("obs_end", Date),
            one_of("obs_end_reason", OBS_END_REASONS),
        ],
        key: &[RELEASE_ID, "child_pid"],
        references: &[Reference {
            columns: &["child_pid"],
            table: "child",
            target: &["child_pid"],
        }],
    },
    Table {
        name: "assessment",
        kind: TableKind::Case,
        doc: "A wellbeing score on an instrument.",
        columns: &[
            RELEASE,
            col("assessment_id", Text),
            pid("child_pid"),
            opt("episode_id", Text),
            code("instrument_code", "instrument"),
            col("assessment_date", Date),
            opt_one_of("planned_wave", WAVES),
            col("score", Real),
            col("is_valid", Boolean),
        ],
        key: &[RELEASE_ID, "assessment_id"],
        references: &[
            Reference {
                columns: &["child_pid"],
                table: "child",
                target: &["child_pid"],
            },
            Reference {
                columns: &["episode_id"],
                table: "episode",
                target: &["episode_id"],
            },
        ],
    },
    Table {
        name: "assessment_subscale",
        kind: TableKind::Case,
        doc: "Subscale scores of an assessment.",
        columns: &[
            RELEASE,
            col("assessment_id", Text),
            col("subscale_code", Text),
            col("score", Real),
        ],
        key: &[RELEASE_ID, "assessment_id", "subscale_code"],
        references: &[Reference {
            columns: &["assessment_id"],
            table: "assessment",
            target: &["assessment_id"],
        }],
    },
    // ---------- synthetic ground truth (schema `truth`) ----------
    Table {
        name: "parameter",
        kind: TableKind::Truth,
        doc: "Every true parameter of the generator, by name.",
        columns: &[RELEASE, col("param", Text), col("value", Real)],
        key: &[RELEASE_ID, "param"],
        references: &[],
    },
    Table {
        name: "child_latent",
        kind: TableKind::Truth,
        doc: "Per child latent quantities and potential outcomes under both communities and both arms. \
              Times are days from the index entry, uncensored (NULL when infinite). `t_*_latent_days` are \
              the phase-1 latent times per cause; `po_safety_{vl,fwb}_days` the first phase-1 event \
              (any cause, named in `po_phase1_cause_*`) with the community set to VL or FWB; \
              `po_rereport_{vl,fwb}_{a0,a1}_days` the first re-report with community and FAMILY_SUPPORT \
              arm set, all from the same random numbers. `ref_profile` names the truth.cif profile the \
              child belongs to, if any.",
        columns: &[
            RELEASE,
            pid("child_pid"),
            opt("family_frailty", Real),
            opt("centre_effect", Real),
            opt("linear_predictor_safety", Real),
            opt("linear_predictor_rereport", Real),
            opt("propensity_intervention", Real),
            opt("treated", Boolean),
            opt("intervention_start_days", Real),
            opt("t_safety_latent_days", Real),
            opt("t_placement_latent_days", Real),
            opt("t_closed_latent_days", Real),
            opt("t_death_latent_days", Real),
            opt("t_rereport_first_latent_days", Real),
            opt("recovery_intercept", Real),
            opt("recovery_slope", Real),
            opt("po_safety_vl_days", Real),
            opt("po_safety_fwb_days", Real),
            opt("po_phase1_cause_vl", Text),
            opt("po_phase1_cause_fwb", Text),
            opt("po_rereport_vl_a0_days", Real),
            opt("po_rereport_vl_a1_days", Real),
            opt("po_rereport_fwb_a0_days", Real),
            opt("po_rereport_fwb_a1_days", Real),
            opt("prior_episode", Boolean),
            opt("t_move_latent_days", Real),
            opt_one_of("ref_profile", &["REF_VL", "REF_FWB"]),
        ],
        key: &[RELEASE_ID, "child_pid"],
        references: &[],
    },
    Table {
        name: "cif",
        kind: TableKind::Truth,
        doc: "True cumulative incidence of a reference profile: conditional (frailty 1, centre effect 0) and marginal.",
        columns: &[
            RELEASE,
            col("outcome", Text),
            col("cause", Text),
            col("profile", Text),
            one_of("kind", &["CONDITIONAL", "MARGINAL"]),
            col("t_days", Integer),
            col("cif", Real),
        ],
        key: &[RELEASE_ID, "outcome", "cause", "profile", "kind", "t_days"],
        references: &[],
    },
];

/// An integer column the store derives from a text identifier of a case table, so that studies
/// join and sort on integers instead of 64-character pseudonyms. Not a column of any data file:
/// the store assigns it after a release is validated ([`SurrogateKey::numbers`] first), and the
/// content hash, the exporter and validation never read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurrogateKey {
    /// The case table carrying the key column.
    pub table: &'static str,
    /// The key column (`INTEGER`, NULL where `source` is NULL).
    pub column: &'static str,
    /// The text identifier it stands for, a column of `table`.
    pub source: &'static str,
    /// The table whose key `source` names. Where it is `table` itself and `source` is its key,
    /// the key numbers that table's rows 1, 2, ... in `source` order within the release (so
    /// ordering by the integer orders by the identifier); elsewhere it is looked up there.
    pub numbered_by: &'static str,
}

impl SurrogateKey {
    /// Whether this key numbers its own table's rows (rather than referring to another's).
    pub fn numbers(&self) -> bool {
        self.table == self.numbered_by
            && table(self.table).is_some_and(|t| t.key[1..] == [self.source])
    }

    /// The key that numbers `numbered_by`'s rows (for a numbering key, itself).
    pub fn numbering(&self) -> Option<&'static SurrogateKey> {
        SURROGATE_KEYS
            .iter()
            .find(|n| n.numbers() && n.table == self.numbered_by)
    }
}

const fn surrogate(
    table: &'static str,
    column: &'static str,
    source: &'static str,
    numbered_by: &'static str,
) -> SurrogateKey {
    SurrogateKey {
        table,
        column,
        source,
        numbered_by,
    }
}

/// Every surrogate key, the numbering ones first.
pub const SURROGATE_KEYS: &[SurrogateKey] = &[
    surrogate("child", "child_key", "child_pid", "child"),
    surrogate("episode", "episode_key", "episode_id", "episode"),
    surrogate("report", "report_key", "report_id", "report"),
    surrogate("episode", "child_key", "child_pid", "child"),
    surrogate("episode", "index_report_key", "index_report_id", "report"),
    surrogate(
        "episode",
        "transferred_to_episode_key",
        "transferred_to_episode_id",
        "episode",
    ),
    surrogate("report_child", "report_key", "report_id", "report"),
    surrogate("report_child", "child_key", "child_pid", "child"),
    surrogate("report_child_form", "report_key", "report_id", "report"),
    surrogate("report_child_form", "child_key", "child_pid", "child"),
    surrogate("episode_context", "episode_key", "episode_id", "episode"),
    surrogate("intervention", "episode_key", "episode_id", "episode"),
    surrogate("placement", "episode_key", "episode_id", "episode"),
    surrogate("event", "child_key", "child_pid", "child"),
    surrogate("event", "episode_key", "episode_id", "episode"),
    surrogate("observation_window", "child_key", "child_pid", "child"),
    surrogate("assessment", "child_key", "child_pid", "child"),
];

/// The surrogate keys a table carries after its columns, in storage order.
pub fn surrogate_keys(table: &str) -> impl Iterator<Item = &'static SurrogateKey> {
    SURROGATE_KEYS.iter().filter(move |k| k.table == table)
}

/// The table of this name, if any.
pub fn table(name: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.name == name)
}

/// Case tables in load order (every reference points to a table earlier in the list, except
/// `episode.index_report_id` and self references, which validation checks after all are loaded).
pub fn case_tables() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| t.kind == TableKind::Case)
}

/// Truth tables.
pub fn truth_tables() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| t.kind == TableKind::Truth)
}

/// Code-list tables.
pub fn code_list_tables() -> impl Iterator<Item = &'static Table> {
    TABLES.iter().filter(|t| t.kind == TableKind::CodeList)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_references_name_real_columns() {
        for t in TABLES {
            for k in t.key {
                assert!(t.column(k).is_some(), "{}: key column {k} missing", t.name);
            }
            if t.is_per_release() {
                assert_eq!(t.columns[0].name, RELEASE_ID, "{}", t.name);
                assert_eq!(t.key[0], RELEASE_ID, "{}", t.name);
            }
            for r in t.references {
                let target = table(r.table).unwrap_or_else(|| panic!("{} -> {}", t.name, r.table));
                assert_eq!(r.columns.len(), r.target.len());
                for c in r.columns {
                    assert!(t.column(c).is_some(), "{}.{c}", t.name);
                }
                for c in r.target {
                    assert!(target.column(c).is_some(), "{}.{c}", target.name);
                }
                // The referenced columns are the target's key (after release_id).
                assert_eq!(&target.key[1..], r.target, "{} -> {}", t.name, r.table);
            }
            for c in t.columns {
                if let Rule::CodeList(list) = c.rule {
                    assert_eq!(
                        table(list).map(|t| t.kind),
                        Some(TableKind::CodeList),
                        "{}.{}",
                        t.name,
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn surrogate_keys_stand_for_real_identifiers() {
        let mut seen = std::collections::BTreeSet::new();
        for (i, k) in SURROGATE_KEYS.iter().enumerate() {
            let t = table(k.table).unwrap_or_else(|| panic!("{}", k.table));
            assert_eq!(t.kind, TableKind::Case, "{}", k.table);
            assert!(
                t.column(k.column).is_none(),
                "{}.{} is a file column",
                k.table,
                k.column
            );
            assert!(
                seen.insert((k.table, k.column)),
                "{}.{} twice",
                k.table,
                k.column
            );
            let target = table(k.numbered_by).unwrap_or_else(|| panic!("{}", k.numbered_by));
            assert_eq!(
                target.key.len(),
                2,
                "{} is numbered by one identifier",
                target.name
            );
            let numbering = k
                .numbering()
                .and_then(|n| SURROGATE_KEYS.iter().position(|m| m == n))
                .unwrap_or_else(|| panic!("nothing numbers {}", k.numbered_by));
            if k.numbers() {
                assert_eq!(numbering, i);
            } else {
                // Numbered before it is looked up, under the same column name for one table.
                assert!(numbering < i, "{}.{}", k.table, k.column);
                assert!(t.column(k.source).is_some(), "{}.{}", k.table, k.source);
                // A reference to the numbered table, or through a table carrying this key.
                assert!(
                    t.references.iter().any(|r| r.columns.contains(&k.source)
                        && (r.table == k.numbered_by
                            || surrogate_keys(r.table).any(|o| o.column == k.column))),
                    "{}.{} does not reference {}",
                    k.table,
                    k.source,
                    k.numbered_by
                );
            }
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = TABLES.iter().map(|t| t.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLES.len());
    }
}
