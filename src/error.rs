//! The one error type of the core, its stable codes and the process exit codes: the only place
//! either is defined. JS reads both tables through the binding (`errorCodes()`, `exitCodes()`),
//! and the generated `index.d.ts` types list them, so no exit code is written down twice.
//!
//! Policy findings (a misnamed file, a stale ledger) are not errors: they are `Violation`s, data
//! that `check` collects and reports all at once. Errors stop the command.

use std::path::PathBuf;

use serde::Serialize;

/// The process exit codes, documented in the README's table and in every `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, enum_iterator::Sequence)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Exit {
    Ok,
    NotClean,
    Usage,
    LockOrBudget,
    Integrity,
    MigrationFailed,
    Interrupted,
    Connect,
    SomeTargetsFailed,
    Internal,
}

impl Exit {
    pub fn code(self) -> i32 {
        match self {
            Exit::Ok => 0,
            Exit::NotClean => 1,
            Exit::Usage => 2,
            Exit::LockOrBudget => 3,
            Exit::Integrity => 4,
            Exit::MigrationFailed => 5,
            Exit::Interrupted => 6,
            Exit::Connect => 7,
            Exit::SomeTargetsFailed => 8,
            Exit::Internal => 70,
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::NotClean => {
                "check found violations, status found migrations pending, or the schema is not current"
            }
            Exit::Usage => {
                "usage or configuration error (bad flag, bad name, unreadable ledger, unknown base ref, missing privilege, a migration that breaks the contract: nothing ran)"
            }
            Exit::LockOrBudget => {
                "the migration lock was not acquired or was lost, or MIGRATION_TIMEOUT_SECONDS ran out"
            }
            Exit::Integrity => {
                "integrity violation: the database history disagrees with the files, or the database is not godwit's yet"
            }
            Exit::MigrationFailed => "a migration failed",
            Exit::Interrupted => {
                "interrupted (SIGINT, SIGTERM, or SIGHUP when the terminal went away)"
            }
            Exit::Connect => {
                "the database could not be reached (refused, unknown host, authentication, TLS, no answer), or the session was lost mid-run"
            }
            Exit::SomeTargetsFailed => {
                "some targets of a fleet run failed (the fleet summary names them)"
            }
            Exit::Internal => {
                "internal error (I/O, output that could not be written, git missing, no native binary for this platform, a bug)"
            }
        }
    }
}

/// Every stable error code: the core's and the ones only JS raises, so the exit code of each
/// is decided here too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, enum_iterator::Sequence)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "ErrorCode"))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    Usage,
    Config,
    Io,
    DirNotFound,
    BaseRefNotFound,
    BaseUnknown,
    GitFailed,
    InvalidName,
    LedgerInvalid,
    Internal,
    ConnectFailed,
    ConnectionLost,
    InsufficientPrivilege,
    LockNotAcquired,
    LockLost,
    BudgetExhausted,
    Integrity,
    DatabaseNotEmpty,
    MigrationFailed,
    /// A pending migration breaks the module contract (or cannot be reverted): refused before
    /// anything ran.
    MigrationInvalid,
    Interrupted,
    DbError,
    ReportNotWritten,
    /// JS API: `assertSchemaCurrent()` found pending, changed, failed or missing migrations.
    SchemaNotCurrent,
    /// JS API: `up()` under NODE_ENV=production from a program that is not the migration job.
    NotMigrationJob,
    /// The native addon for this platform is missing or could not be loaded.
    NativeMissing,
    /// `verify` only.
    CheckFailed,
    NotIdempotent,
    StatusNotClean,
    NotReversible,
    NotReproducible,
    SchemaFileStale,
    /// A fleet run where some targets failed.
    TargetsFailed,
    /// `import`: the source folder cannot be converted as it is.
    ImportInvalid,
    /// `baseline`: the history does not allow recording these migrations as applied.
    BaselineRefused,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Usage => "USAGE",
            Code::Config => "CONFIG",
            Code::Io => "IO",
            Code::DirNotFound => "DIR_NOT_FOUND",
            Code::BaseRefNotFound => "BASE_REF_NOT_FOUND",
            Code::BaseUnknown => "BASE_UNKNOWN",
            Code::GitFailed => "GIT_FAILED",
            Code::InvalidName => "INVALID_NAME",
            Code::LedgerInvalid => "LEDGER_INVALID",
            Code::Internal => "INTERNAL",
            Code::ConnectFailed => "CONNECT_FAILED",
            Code::ConnectionLost => "CONNECTION_LOST",
            Code::InsufficientPrivilege => "INSUFFICIENT_PRIVILEGE",
            Code::LockNotAcquired => "LOCK_NOT_ACQUIRED",
            Code::LockLost => "LOCK_LOST",
            Code::BudgetExhausted => "BUDGET_EXHAUSTED",
            Code::Integrity => "INTEGRITY",
            Code::DatabaseNotEmpty => "DATABASE_NOT_EMPTY",
            Code::MigrationFailed => "MIGRATION_FAILED",
            Code::MigrationInvalid => "MIGRATION_INVALID",
            Code::Interrupted => "INTERRUPTED",
            Code::DbError => "DB_ERROR",
            Code::ReportNotWritten => "REPORT_NOT_WRITTEN",
            Code::SchemaNotCurrent => "SCHEMA_NOT_CURRENT",
            Code::NotMigrationJob => "NOT_MIGRATION_JOB",
            Code::NativeMissing => "NATIVE_MISSING",
            Code::CheckFailed => "CHECK_FAILED",
            Code::NotIdempotent => "NOT_IDEMPOTENT",
            Code::StatusNotClean => "STATUS_NOT_CLEAN",
            Code::NotReversible => "NOT_REVERSIBLE",
            Code::NotReproducible => "NOT_REPRODUCIBLE",
            Code::SchemaFileStale => "SCHEMA_FILE_STALE",
            Code::TargetsFailed => "TARGETS_FAILED",
            Code::ImportInvalid => "IMPORT_INVALID",
            Code::BaselineRefused => "BASELINE_REFUSED",
        }
    }

    pub fn exit(self) -> Exit {
        use Code::*;
        match self {
            Usage
            | Config
            | DirNotFound
            | BaseRefNotFound
            | BaseUnknown
            | InvalidName
            | LedgerInvalid
            | InsufficientPrivilege
            | NotMigrationJob
            | MigrationInvalid
            | ImportInvalid => Exit::Usage,
            Io | GitFailed | Internal | DbError | ReportNotWritten | NativeMissing => {
                Exit::Internal
            }
            ConnectFailed | ConnectionLost => Exit::Connect,
            LockNotAcquired | LockLost | BudgetExhausted => Exit::LockOrBudget,
            Integrity | DatabaseNotEmpty | BaselineRefused => Exit::Integrity,
            MigrationFailed => Exit::MigrationFailed,
            Interrupted => Exit::Interrupted,
            SchemaNotCurrent | CheckFailed | NotIdempotent | StatusNotClean | NotReversible
            | NotReproducible | SchemaFileStale => Exit::NotClean,
            TargetsFailed => Exit::SomeTargetsFailed,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Config(String),

    /// A bad argument on the command line (or in the API call).
    #[error("{0}")]
    Usage(String),

    /// `import`: the source folder cannot be converted as it is (every problem listed; nothing
    /// was written).
    #[error("{0}")]
    ImportInvalid(String),

    /// `baseline`: the database's history does not allow recording these migrations as applied
    /// (already recorded, a history past the version, another tool's failed entries).
    #[error("{0}")]
    BaselineRefused(String),

    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the migrations folder {0} does not exist; create it, or pass --dir <path>")]
    DirNotFound(PathBuf),

    #[error(
        "base ref '{0}' does not resolve to a commit; fetch it (git fetch origin <branch>) or pass --base <ref>"
    )]
    BaseRefNotFound(String),

    /// A frozen (CI) check that cannot tell what was merged: it fails closed.
    #[error("{0}")]
    BaseUnknown(String),

    #[error("git failed: {0}")]
    Git(String),

    #[error("{0}")]
    InvalidName(String),

    /// The ledger cannot be read, so a command that must update it refuses to touch it.
    #[error("{0}")]
    LedgerInvalid(String),

    #[error("{0}")]
    Internal(String),

    #[error("could not connect to {target}: {message}")]
    Connect { target: String, message: String },

    /// The session died mid-run (backend terminated, server restarted, network). The message
    /// says what became of the running migration.
    #[error("connection lost: {0}")]
    ConnectionLost(String),

    /// The role lacks a privilege godwit needs; the message names the object and the grant.
    #[error("{0}")]
    Privilege(String),

    #[error("{0}")]
    LockNotAcquired(String),

    /// The migration lock was released under the run (a migration unlocked it, or the session
    /// was reset): another runner may have started, so the run stops.
    #[error("{0}")]
    LockLost(String),

    #[error("{0}")]
    BudgetExhausted(String),

    #[error("{0}")]
    Integrity(String),

    /// godwit's history is empty but the database already holds a schema (or another tool's
    /// history): `up` would run migrations over a live schema.
    #[error("{0}")]
    DatabaseNotEmpty(String),

    #[error("{0}")]
    MigrationFailed(String),

    #[error("{0}")]
    MigrationInvalid(String),

    #[error("interrupted: {0}")]
    Interrupted(String),

    #[error("database error: {0}")]
    Db(String),
}

impl Error {
    pub fn code(&self) -> Code {
        match self {
            Error::Config(_) => Code::Config,
            Error::Usage(_) => Code::Usage,
            Error::ImportInvalid(_) => Code::ImportInvalid,
            Error::BaselineRefused(_) => Code::BaselineRefused,
            Error::Io { .. } => Code::Io,
            Error::DirNotFound(_) => Code::DirNotFound,
            Error::BaseRefNotFound(_) => Code::BaseRefNotFound,
            Error::BaseUnknown(_) => Code::BaseUnknown,
            Error::Git(_) => Code::GitFailed,
            Error::InvalidName(_) => Code::InvalidName,
            Error::LedgerInvalid(_) => Code::LedgerInvalid,
            Error::Internal(_) => Code::Internal,
            Error::Connect { .. } => Code::ConnectFailed,
            Error::ConnectionLost(_) => Code::ConnectionLost,
            Error::Privilege(_) => Code::InsufficientPrivilege,
            Error::LockNotAcquired(_) => Code::LockNotAcquired,
            Error::LockLost(_) => Code::LockLost,
            Error::BudgetExhausted(_) => Code::BudgetExhausted,
            Error::Integrity(_) => Code::Integrity,
            Error::DatabaseNotEmpty(_) => Code::DatabaseNotEmpty,
            Error::MigrationFailed(_) => Code::MigrationFailed,
            Error::MigrationInvalid(_) => Code::MigrationInvalid,
            Error::Interrupted(_) => Code::Interrupted,
            Error::Db(_) => Code::DbError,
        }
    }

    pub fn exit_code(&self) -> i32 {
        self.code().exit().code()
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The same error with more words after its message (what became of the run).
    pub fn with_note(self, note: &str) -> Error {
        if note.is_empty() {
            return self;
        }
        match self {
            Error::ConnectionLost(m) => Error::ConnectionLost(m + note),
            Error::BudgetExhausted(m) => Error::BudgetExhausted(m + note),
            Error::Interrupted(m) => Error::Interrupted(m + note),
            Error::MigrationFailed(m) => Error::MigrationFailed(m + note),
            Error::LockLost(m) => Error::LockLost(m + note),
            Error::Integrity(m) => Error::Integrity(m + note),
            other => other,
        }
    }

    /// The document form reports and `--json` carry: `{code, exitCode, message}`.
    pub fn doc(&self) -> ErrorDoc {
        ErrorDoc {
            code: self.code(),
            exit_code: self.exit_code(),
            message: self.to_string(),
        }
    }

    /// The wire form handed to JS: napi's async functions cannot carry a custom status, so the
    /// code and exit code travel in the reason as JSON and `lib/errors.js` rebuilds a coded Error.
    pub fn to_wire(&self) -> String {
        serde_json::to_string(&self.doc()).unwrap_or_else(|_| self.to_string())
    }
}

/// An error as documents carry it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[serde(rename_all = "camelCase")]
pub struct ErrorDoc {
    pub code: Code,
    pub exit_code: i32,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_form_carries_code_exit_and_message() {
        let e = Error::BaseRefNotFound("origin/nope".into());
        let v: serde_json::Value = serde_json::from_str(&e.to_wire()).unwrap();
        assert_eq!(v["code"], "BASE_REF_NOT_FOUND");
        assert_eq!(v["exitCode"], 2);
        assert!(v["message"].as_str().unwrap().contains("origin/nope"));
    }

    /// The exit codes are an interface: pipelines branch on them. Pinned here, one row each.
    #[test]
    fn exit_codes_are_pinned() {
        let table: Vec<(i32, Exit)> = enum_iterator::all::<Exit>()
            .map(|e| (e.code(), e))
            .collect();
        assert_eq!(
            table,
            [
                (0, Exit::Ok),
                (1, Exit::NotClean),
                (2, Exit::Usage),
                (3, Exit::LockOrBudget),
                (4, Exit::Integrity),
                (5, Exit::MigrationFailed),
                (6, Exit::Interrupted),
                (7, Exit::Connect),
                (8, Exit::SomeTargetsFailed),
                (70, Exit::Internal),
            ]
        );
    }

    #[test]
    fn every_code_has_an_upper_snake_name_and_an_exit() {
        for c in enum_iterator::all::<Code>() {
            let s = c.as_str();
            assert_eq!(
                serde_json::to_value(c).unwrap(),
                s,
                "serde and as_str agree"
            );
            assert!(
                s.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'),
                "{s}"
            );
            assert!(enum_iterator::all::<Exit>().any(|e| e == c.exit()));
        }
        assert_eq!(Code::ConnectionLost.as_str(), "CONNECTION_LOST");
        assert_eq!(Code::ConnectionLost.exit().code(), 7);
        assert_eq!(Code::LockLost.exit().code(), 3);
        assert_eq!(Code::InsufficientPrivilege.exit().code(), 2);
    }
}
