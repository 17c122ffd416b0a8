//! A policy finding: which file, which rule, what is wrong and how to fix it. `check` collects
//! every finding before it answers, so an author fixes everything in one round.
//!
//! Rule ids are stable kebab-case strings: CI annotations, `--json` consumers and the README's
//! rule table all key on them, so a rename is a breaking change.

use serde::Serialize;

pub mod rule {
    /// Every rule id above, for `check`'s documentation and its tests.
    pub const ALL: [&str; 27] = [
        FILENAME,
        ENCODING,
        NOT_A_FILE,
        DUPLICATE_VERSION,
        LEDGER_CORRUPT,
        LEDGER_FORMAT,
        LEDGER_MISSING,
        LEDGER_ORPHAN_ENTRY,
        LEDGER_MISSING_ENTRY,
        LEDGER_MISMATCH,
        LEDGER_NOT_CANONICAL,
        MERGED_EDITED,
        MERGED_DELETED,
        MERGED_LEDGER_ENTRY,
        VERSION_NOT_NEWER,
        MODULE_IMPORT,
        MODULE_EXPORT,
        MODULE_CONFIG,
        MODULE_TIMEOUT,
        SQL_SYNTAX,
        SQL_EMPTY,
        SQL_NUL,
        TX_SINGLE_STATEMENT,
        TX_REQUIRES_NON_TRANSACTIONAL,
        TX_CONTROL,
        COPY_STDIO,
        UNUSED_IGNORE,
    ];

    pub const FILENAME: &str = "filename-contract";
    pub const ENCODING: &str = "file-encoding";
    pub const NOT_A_FILE: &str = "not-a-regular-file";
    pub const DUPLICATE_VERSION: &str = "duplicate-version";
    pub const LEDGER_CORRUPT: &str = "ledger-corrupt";
    pub const LEDGER_FORMAT: &str = "ledger-format";
    pub const LEDGER_MISSING: &str = "ledger-missing";
    pub const LEDGER_ORPHAN_ENTRY: &str = "ledger-orphan-entry";
    pub const LEDGER_MISSING_ENTRY: &str = "ledger-missing-entry";
    pub const LEDGER_MISMATCH: &str = "ledger-mismatch";
    pub const LEDGER_NOT_CANONICAL: &str = "ledger-not-canonical";
    pub const MERGED_EDITED: &str = "merged-edited";
    pub const MERGED_DELETED: &str = "merged-deleted";
    pub const MERGED_LEDGER_ENTRY: &str = "merged-ledger-entry";
    pub const VERSION_NOT_NEWER: &str = "version-not-newer";
    pub const MODULE_IMPORT: &str = "module-import";
    pub const MODULE_EXPORT: &str = "module-export";
    pub const MODULE_CONFIG: &str = "module-config";
    pub const MODULE_TIMEOUT: &str = "module-timeout";
    pub const SQL_SYNTAX: &str = "sql-syntax";
    pub const SQL_EMPTY: &str = "sql-empty";
    pub const SQL_NUL: &str = "sql-nul";
    pub const TX_SINGLE_STATEMENT: &str = "non-transactional-single-statement";
    pub const TX_REQUIRES_NON_TRANSACTIONAL: &str = "requires-non-transactional";
    pub const TX_CONTROL: &str = "transaction-control";
    pub const COPY_STDIO: &str = "copy-stdio";
    pub const UNUSED_IGNORE: &str = "unused-ignore";
}

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails `check` (exit 1).
    Error,
    /// Reported, does not fail `check`.
    Warning,
}

/// Where in the rendered SQL a finding points.
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SqlAt {
    /// `up` or `down`.
    #[cfg_attr(test, ts(type = "'up' | 'down'"))]
    #[cfg_attr(test, schemars(with = "String"))]
    pub part: &'static str,
    /// Index of the string, when the module renders an array of strings.
    pub chunk: usize,
    /// 1-based line inside that string.
    pub line: u32,
}

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Path of the offending entry relative to the migrations folder (`checksums.json` for the
    /// ledger itself).
    pub file: String,
    /// A rule id above, or a squawk rule name (`adding-not-nullable-field`, ...).
    pub rule: String,
    pub severity: Severity,
    pub message: String,
    pub hint: String,
    /// 1-based line in the migration file, when the SQL is a literal written in it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub line: Option<u32>,
    /// Where in the rendered SQL, when the finding points into SQL.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub sql: Option<SqlAt>,
}

impl Violation {
    pub fn new(
        file: impl Into<String>,
        rule: impl Into<String>,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Violation {
            file: file.into(),
            rule: rule.into(),
            severity: Severity::Error,
            message: message.into(),
            hint: hint.into(),
            line: None,
            sql: None,
        }
    }

    pub fn in_sql(mut self, part: &'static str, chunk: usize, line: u32) -> Self {
        self.sql = Some(SqlAt { part, chunk, line });
        self
    }

    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
