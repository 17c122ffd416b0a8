//! Settings: what the caller asked for (`Flags`), what the project configures (`project`), what
//! the environment says (`env`), and `resolve`, the one place where they meet in one order:
//! flag > environment > PGOPTIONS (timeouts) > project configuration > default.

pub mod env;
pub mod project;
pub mod resolve;

pub use env::Env;
pub use resolve::{CheckSettings, Effective, RunSettings, StatusSettings};

use serde_json::Value;

pub const DEFAULT_DIR: &str = "db/migrations";
pub const DEFAULT_ARTIFACTS_DIR: &str = ".artifacts/deploy";
pub const DEFAULT_BUDGET_SECONDS: u64 = 1800;
/// Longer budgets are refused: a deploy that may wait a month is a mistake, and the budget must
/// stay far from the overflow of any clock arithmetic.
pub const MAX_BUDGET_SECONDS: u64 = 30 * 24 * 3600;
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 15 * 60_000;
pub const DEFAULT_LOCK_RETRIES: u32 = 3;
pub const DEFAULT_MODULE_TIMEOUT_MS: u64 = 10_000;
/// `status` and `assertSchemaCurrent()` run at API start-up: they must answer quickly or fail.
pub const DEFAULT_STATUS_TIMEOUT_MS: u64 = 10_000;

/// What a run does: apply pending migrations, revert the newest applied ones (local only), empty
/// the database and apply everything again (local only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Up,
    /// Revert this many of the newest applied migrations; 0 means all of them.
    Down {
        count: usize,
    },
    Reset,
    /// Record migrations as applied without running them (adopting an existing database).
    Baseline(Baseline),
}

/// What `baseline` records: every migration up to a version, or exactly those another tool's
/// history in the database says it applied (matched through the headers `import` wrote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    UpTo(String),
    From { tool: String, table: Option<String> },
}

impl Mode {
    /// The command's name, in reports and their file names.
    pub fn command(&self) -> &'static str {
        match self {
            Mode::Up => "up",
            Mode::Down { .. } => "down",
            Mode::Reset => "reset",
            Mode::Baseline(_) => "baseline",
        }
    }
    /// Runs `down` SQL and marks rows reverted, rather than applying `up`.
    pub fn reverts(&self) -> bool {
        matches!(self, Mode::Down { .. })
    }
    /// Destructive: refused in production, in CI and against a non-local server unless told.
    pub fn local_only(&self) -> bool {
        matches!(self, Mode::Down { .. } | Mode::Reset)
    }
}

/// What the caller passed (the CLI's flags, or the JS API's options), before any resolution.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub dir: Option<String>,
    /// The project configuration Node found (`Null` when none) and where (for messages).
    pub config: Value,
    pub config_source: Option<String>,
    /// `--module-timeout`: a PostgreSQL duration or whole milliseconds.
    pub module_timeout: Option<String>,
    pub frozen: bool,
    /// `check --all`: judge merged, unchanged migrations too.
    pub all: bool,
    pub base: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub sha: Option<String>,
    pub artifacts_dir: Option<String>,
    pub progress: bool,
    pub verbose: bool,
    /// Another database on the same server (verify's scratch databases).
    pub database: Option<String>,
    pub mode: Mode,
    /// `up --to` / `down --to`: the version to stop at (applied up to and including it; reverted
    /// down to, not including, it).
    pub to: Option<String>,
    /// `plan` / `up --dry-run`: no lock, a read-only session, nothing run or written in the
    /// database; the report lists what would run.
    pub dry_run: bool,
    pub allow_non_local: bool,
    /// `status`'s bound, as a duration.
    pub timeout: Option<String>,
    /// `up` over a database that already holds a schema godwit did not build.
    pub allow_existing_schema: bool,
    /// One target of a fleet (`--targets`): its report goes to `<sha>/targets/<target>/`.
    pub target: Option<String>,
    /// The target is this one schema of its database (schema-per-tenant): the existing-schema
    /// guard looks only there, since the other tenants' schemas are not this target's.
    pub only_schema: Option<String>,
}
