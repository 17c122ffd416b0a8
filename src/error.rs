//! The one error type of the core. Every variant has a stable UPPER_SNAKE `code()` that reaches
//! JS as `err.code` and JSON as `"code"`, and the process exit code the CLI uses for it, so the
//! mapping from failure to exit code lives in exactly one place.
//!
//! Policy findings (a misnamed file, a stale ledger) are not errors: they are `Violation`s, data
//! that `check` collects and reports all at once. Errors stop the command.

use std::path::PathBuf;

/// Exit codes, documented in the README's table. Kept here because the error owns its code.
pub mod exit {
    pub const OK: i32 = 0;
    /// `check` found violations; `status` found the database not clean.
    pub const NOT_CLEAN: i32 = 1;
    /// Bad flags, bad configuration, missing connection settings.
    pub const USAGE: i32 = 2;
    /// The advisory lock was not acquired, or the run's time budget ran out.
    pub const LOCK_OR_BUDGET: i32 = 3;
    /// The database's history disagrees with the files (edited, missing, out of order, failed).
    pub const INTEGRITY: i32 = 4;
    /// A migration failed while it ran.
    pub const MIGRATION_FAILED: i32 = 5;
    /// Interrupted by SIGINT/SIGTERM.
    pub const INTERRUPTED: i32 = 6;
    /// The database could not be reached (refused, unknown host, authentication failed), or the
    /// session was lost mid-run.
    pub const CONNECT: i32 = 7;
    /// A bug or an environment failure godwit cannot classify (I/O, git missing, ...).
    pub const INTERNAL: i32 = 70;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("{0}")]
    Config(String),

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

    #[error("{0}")]
    LockNotAcquired(String),

    #[error("{0}")]
    BudgetExhausted(String),

    #[error("{0}")]
    Integrity(String),

    #[error("{0}")]
    MigrationFailed(String),

    #[error("interrupted: {0}")]
    Interrupted(String),

    #[error("database error: {0}")]
    Db(String),
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::Usage(_) => "USAGE",
            Error::Config(_) => "CONFIG",
            Error::Io { .. } => "IO",
            Error::DirNotFound(_) => "DIR_NOT_FOUND",
            Error::BaseRefNotFound(_) => "BASE_REF_NOT_FOUND",
            Error::Git(_) => "GIT_FAILED",
            Error::InvalidName(_) => "INVALID_NAME",
            Error::LedgerInvalid(_) => "LEDGER_INVALID",
            Error::Internal(_) => "INTERNAL",
            Error::Connect { .. } => "CONNECT_FAILED",
            Error::ConnectionLost(_) => "CONNECTION_LOST",
            Error::LockNotAcquired(_) => "LOCK_NOT_ACQUIRED",
            Error::BudgetExhausted(_) => "BUDGET_EXHAUSTED",
            Error::Integrity(_) => "INTEGRITY",
            Error::MigrationFailed(_) => "MIGRATION_FAILED",
            Error::Interrupted(_) => "INTERRUPTED",
            Error::Db(_) => "DB_ERROR",
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::Config(_)
            | Error::DirNotFound(_)
            | Error::BaseRefNotFound(_)
            | Error::InvalidName(_)
            | Error::LedgerInvalid(_) => exit::USAGE,
            Error::Io { .. } | Error::Git(_) | Error::Internal(_) | Error::Db(_) => exit::INTERNAL,
            Error::Connect { .. } | Error::ConnectionLost(_) => exit::CONNECT,
            Error::LockNotAcquired(_) | Error::BudgetExhausted(_) => exit::LOCK_OR_BUDGET,
            Error::Integrity(_) => exit::INTEGRITY,
            Error::MigrationFailed(_) => exit::MIGRATION_FAILED,
            Error::Interrupted(_) => exit::INTERRUPTED,
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The wire form handed to JS: napi's async functions cannot carry a custom status, so the
    /// code and exit code travel in the reason as JSON and `index.js` rebuilds a coded Error.
    pub fn to_wire(&self) -> String {
        serde_json::json!({
            "code": self.code(),
            "exitCode": self.exit_code(),
            "message": self.to_string(),
        })
        .to_string()
    }
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
        assert_eq!(v["exitCode"], exit::USAGE);
        assert!(v["message"].as_str().unwrap().contains("origin/nope"));
    }
}
