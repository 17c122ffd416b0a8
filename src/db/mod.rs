//! The PostgreSQL side behind a trait: the runner decides, a `Session` talks to the server. `pg`
//! is the real one (tokio-postgres); the runner's tests use a scripted fake. Connection settings
//! (`conn`, `tls`, libpq's service and password files in `libpq_files`), the history table's SQL (`history`), the schema fingerprint and the local
//! reset live here too.

pub mod conn;
pub mod describe;
pub mod fingerprint;
pub mod history;
pub mod libpq_files;
pub mod pg;
pub mod pooler;
pub mod reset;
pub mod tls;

use std::future::Future;

use crate::error::Result;
use crate::plan::{Applied, HistoryStatus};
use history::{HistoryTable, RowWrite};
pub use reset::ResetDone;

/// A server's verdict on a statement, or the wire's failure, as the runner needs to know it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbError {
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    /// Characters into the query text (1-based), for errors the server positions.
    pub position: Option<u32>,
}

impl DbError {
    /// `message (SQLSTATE xxxxx)`.
    pub fn describe(&self) -> String {
        match &self.sqlstate {
            Some(s) => format!("{} (SQLSTATE {s})", self.message),
            None => self.message.clone(),
        }
    }
}

/// How a batch sent to the server ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Finished,
    /// The server refused it, on a session that is still open: a verdict on the SQL.
    Error(DbError),
    /// The answer was lost (session gone, network): it says nothing about what committed.
    Lost(String),
}

/// A backend process: its pid and start time (a pid alone may be reused by a later session).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Backend {
    pub pid: i32,
    pub backend_start: String,
}

#[derive(Debug, Clone, Default)]
pub struct SessionInfo {
    pub server_version: String,
    /// `server_version_num`, e.g. 160004, to know which settings the server has.
    pub version_num: i32,
    /// Who this session is on the server, to end it (and only it) from another session.
    pub backend: Backend,
    /// Whether the session is encrypted (pg_stat_ssl), so `prefer` says what it got.
    pub tls: bool,
    /// The role the session authenticated as, for messages about privileges.
    pub user: String,
    pub database: String,
    /// Why this session cannot write, if it cannot: a standby (`pg_is_in_recovery()`), or
    /// `transaction_read_only` on from `default_transaction_read_only` (server, database, role).
    pub read_only: Option<ReadOnly>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOnly {
    Standby,
    Sessions,
}

impl ReadOnly {
    /// Why sessions on `target` cannot write, in words; each command adds its own way out.
    pub fn reason(self, target: &str) -> String {
        match self {
            ReadOnly::Standby => {
                format!("{target} is a read-only standby (pg_is_in_recovery() is true)")
            }
            ReadOnly::Sessions => format!(
                "sessions on {target} are read-only (transaction_read_only is on, from default_transaction_read_only set on the server, the database or the role)"
            ),
        }
    }
}

/// What a database holds that godwit did not put there: a schema built before godwit (by hand or
/// by another tool), which `up` must not run migrations over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Existing {
    /// godwit's history has rows (even reverted ones): godwit has been here.
    pub history_rows: bool,
    /// The first user objects found (`table public.users`, ...), and how many there are.
    pub objects: Vec<String>,
    pub total: i64,
    /// History tables of other migration tools (`public.schema_migrations`, ...).
    pub tools: Vec<String>,
}

/// One entry of another migration tool's history, as `Tool::history_sql` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolEntry {
    /// The id the tool records (a version number, a file or folder name).
    pub id: String,
    pub state: ToolState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolState {
    Applied,
    /// Failed or dirty: the tool itself would refuse to go on.
    Failed,
    /// Rolled back or undone: not applied.
    Reverted,
    /// Every migration up to this one is applied (golang-migrate's one row, Flyway's baseline).
    UpTo,
    /// A marker row of the tool's own (Flyway's schema creation).
    Skip,
}

impl ToolState {
    pub fn parse(s: &str) -> ToolState {
        match s {
            "applied" => ToolState::Applied,
            "failed" => ToolState::Failed,
            "reverted" => ToolState::Reverted,
            "upto" => ToolState::UpTo,
            _ => ToolState::Skip,
        }
    }
}

/// Asks the server to cancel what a session is running, from outside the session (as the
/// protocol wants). Best effort and bounded.
pub trait Cancel: Send + Sync + Clone + 'static {
    fn cancel(&self) -> impl Future<Output = ()> + Send;
}

/// One session on the server, exclusively the run's.
pub trait Session: Send + Sized {
    type Cancel: Cancel;

    fn info(&self) -> &SessionInfo;
    fn canceller(&self) -> Self::Cancel;
    fn is_closed(&self) -> bool;

    /// Several statements in one round trip (simple protocol).
    fn batch(&mut self, sql: &str) -> impl Future<Output = Answer> + Send;

    fn try_lock(&mut self, key: i64) -> impl Future<Output = Result<bool>> + Send;
    /// Waits for the lock (bounded by the session's lock_timeout and the caller's guard).
    fn lock(&mut self, key: i64) -> impl Future<Output = Result<()>> + Send;
    fn unlock(&mut self, key: i64) -> impl Future<Output = Result<()>> + Send;
    /// Whether this session still holds the migration lock.
    fn holds_lock(&mut self, h: &HistoryTable) -> impl Future<Output = Result<bool>> + Send;
    /// Who holds the lock: pid, application name, state and since when.
    fn lock_holder(&mut self, key: i64) -> impl Future<Output = Result<Option<String>>> + Send;
    /// Whether backend `pid` is queued for (or holds) the lock.
    fn waits_for_lock(
        &mut self,
        pid: i32,
        h: &HistoryTable,
    ) -> impl Future<Output = Result<bool>> + Send;

    fn schema_exists(&mut self, schema: &str) -> impl Future<Output = Result<bool>> + Send;
    /// The live history rows, or `None` when the table does not exist (nothing applied yet).
    fn read_history(
        &mut self,
        h: &HistoryTable,
    ) -> impl Future<Output = Result<Option<Vec<Applied>>>> + Send;
    /// Writes to the history with parameters (never as SQL text).
    fn record(
        &mut self,
        h: &HistoryTable,
        write: &RowWrite,
    ) -> impl Future<Output = Result<()>> + Send;
    fn history_status(
        &mut self,
        h: &HistoryTable,
        version: &str,
    ) -> impl Future<Output = Result<Option<HistoryStatus>>> + Send;
    /// A synchronous no-op write: the WAL is flushed through every earlier commit.
    fn barrier(
        &mut self,
        h: &HistoryTable,
        version: &str,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Whether the index `name` (on the schema of `table`) is valid; `None`: there is none.
    fn index_valid(
        &mut self,
        name: &str,
        table: &str,
    ) -> impl Future<Output = Result<Option<bool>>> + Send;
    fn invalid_indexes(&mut self) -> impl Future<Output = Result<Vec<String>>> + Send;
    /// What the database already holds besides godwit's history (see `Existing`); with `only`,
    /// what that one schema holds (a schema-per-tenant target).
    fn existing_schema(
        &mut self,
        h: &HistoryTable,
        only: Option<&str>,
    ) -> impl Future<Output = Result<Existing>> + Send;
    /// Another tool's history: the table as the server names it and its entries, or `None`
    /// when there is no such table.
    fn tool_history(
        &mut self,
        tool: crate::import::tool::Tool,
        table: &str,
    ) -> impl Future<Output = Result<Option<(String, Vec<ToolEntry>)>>> + Send;
    /// Ends backend `b` if it still runs and waits until the server has let go of it.
    fn end_backend(&mut self, b: &Backend) -> impl Future<Output = Result<()>> + Send;
    fn reset_database(
        &mut self,
        h: &HistoryTable,
    ) -> impl Future<Output = Result<ResetDone>> + Send;
}

/// Opens sessions: the run's, and fresh ones when the run's session is lost.
pub trait Connector: Send + Sync {
    type Session: Session;
    fn connect(&self) -> impl Future<Output = Result<Self::Session>> + Send;
    /// A session with `setup` (statements whose answers are not needed) run on it in the round
    /// trip that describes it, and how `setup` ended: one round trip fewer than `connect` and a
    /// `batch`, at every `up`. Start-up and that round trip are each bounded by `bound`, and say
    /// which of them went unanswered.
    fn connect_with(
        &self,
        setup: &str,
        bound: std::time::Duration,
    ) -> impl Future<Output = Result<(Self::Session, Answer)>> + Send;
    /// `postgres://user@host:port/db`, never with a password.
    fn display(&self) -> String;
    fn ssl_mode(&self) -> &'static str;
}
