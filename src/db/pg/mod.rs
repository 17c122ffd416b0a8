//! The real `Session`: tokio-postgres, with rustls for TLS. Values travel as parameters (or, for
//! the advisory lock, as formatted integers); identifiers are quoted by `history::quote_ident`.
//! Every error is classified here once: a lost session, a missing privilege, a lock not granted,
//! or the server's verdict.

mod adoption;
mod connect;
mod rows;

pub use connect::{PgConnector, QueryAnswer, Reached, first_queries};

use std::time::Duration;

use tokio_postgres::{CancelToken, Client, NoTls, SimpleQueryMessage};

use super::history::{HistoryTable, RowWrite, lock_held_here};
use super::pooler;
use super::{Answer, Backend, DbError, Existing, ResetDone, SessionInfo, ToolEntry};
use crate::error::{Error, Result};
use crate::plan::{Applied, HistoryStatus};

/// How long a cancel request may take; it opens a connection of its own, which a silent server
/// would otherwise hold forever.
const CANCEL_BOUND: Duration = Duration::from_millis(500);

pub struct PgSession {
    client: Client,
    cancel: PgCancel,
    info: SessionInfo,
}

#[derive(Clone)]
pub struct PgCancel {
    token: CancelToken,
    /// The session's TLS connector, so a cancel request travels the way the session did: a
    /// server (or a proxy in front of it) that accepts only TLS must still get the cancel.
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

impl super::Cancel for PgCancel {
    async fn cancel(&self) {
        let _ = match &self.tls {
            Some(tls) => {
                tokio::time::timeout(CANCEL_BOUND, self.token.cancel_query(tls.clone())).await
            }
            None => tokio::time::timeout(CANCEL_BOUND, self.token.cancel_query(NoTls)).await,
        };
    }
}

/// A database error's text with SQLSTATE; connection errors get their cause, never the URL.
pub fn describe_pg_error(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(&format!(": {s}"));
        src = s.source();
    }
    msg
}

fn db_error(e: &tokio_postgres::Error) -> DbError {
    match e.as_db_error() {
        Some(db) => DbError {
            sqlstate: Some(db.code().code().to_string()),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
            position: match db.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
                _ => None,
            },
        },
        None => DbError {
            message: describe_pg_error(e),
            ..Default::default()
        },
    }
}

impl PgSession {
    /// The client, for the read-only commands that are not the runner's (status, fingerprint).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// How a batch ended. An error on a session that is still open is the server's verdict on
    /// the SQL; on a closed one (terminated backend, network) it says nothing about what
    /// committed.
    pub(super) fn answer(&self, done: std::result::Result<(), tokio_postgres::Error>) -> Answer {
        match done {
            Ok(()) => Answer::Finished,
            Err(e)
                if e.as_db_error()
                    .is_some_and(|d| !matches!(d.severity(), "FATAL" | "PANIC"))
                    && !self.client.is_closed() =>
            {
                Answer::Error(db_error(&e))
            }
            Err(e) => Answer::Lost(describe_pg_error(&e)),
        }
    }

    /// An error of one of godwit's own statements, classified once: a lost session, a missing
    /// privilege (with the grant that fixes it), a lock not granted, or the server's verdict.
    pub fn classify(&self, e: tokio_postgres::Error, what: &str, grant: Option<&str>) -> Error {
        let fatal = e
            .as_db_error()
            .is_none_or(|d| matches!(d.severity(), "FATAL" | "PANIC"));
        if self.client.is_closed() || fatal {
            return Error::ConnectionLost(format!("{what}: {}", describe_pg_error(&e)));
        }
        match e.code().map(|c| c.code()) {
            Some("42501") => Error::Privilege(format!(
                "{what}: {} ; the role `{}` lacks a privilege: {}",
                describe_pg_error(&e),
                self.info.user,
                grant.unwrap_or("ask the database owner for it")
            )),
            Some("55P03") => Error::LockNotAcquired(format!(
                "{what}: {}: another session holds a conflicting lock on it (lock_timeout)",
                describe_pg_error(&e)
            )),
            _ => Error::Db(format!("{what}: {}", describe_pg_error(&e))),
        }
    }

    /// The history's rows from the server's answer to `HistoryTable::read_sql` (`None`: there is
    /// no history table yet), or the error classified: a missing privilege names its grant.
    pub fn history_from(
        &self,
        answer: QueryAnswer,
        h: &HistoryTable,
    ) -> Result<Option<Vec<Applied>>> {
        use tokio_postgres::error::SqlState;
        let messages = match answer {
            Ok(m) => m,

            Err(e)
                if e.code().is_some_and(|c| {
                    *c == SqlState::UNDEFINED_TABLE || *c == SqlState::INVALID_SCHEMA_NAME
                }) =>
            {
                return Ok(None);
            }
            Err(e) if e.code() == Some(&SqlState::UNDEFINED_COLUMN) => {
                return Err(Error::Integrity(format!(
                    "the history table {} does not have the columns this godwit keeps ({}); it was made by an earlier development build or by another tool. In a local database drop or rename it and run up again; elsewhere, point godwit at its own table (--schema/--table)",
                    h.qualified(),
                    describe_pg_error(&e)
                )));
            }
            Err(e) => {
                let grant = format!(
                    "GRANT SELECT, INSERT, UPDATE ON {} TO {}",
                    h.qualified(),
                    super::history::quote_ident(&self.info.user)
                );
                return Err(self.classify(
                    e,
                    &format!("reading the history table {}", h.qualified()),
                    Some(&grant),
                ));
            }
        };
        rows::applied(messages, h).map(Some)
    }

    /// The run stops: a pooler in transaction mode showed itself (`seen`); `consequence` says
    /// what that left.
    fn pooled(&self, seen: pooler::Seen, consequence: &str) -> Error {
        Error::Config(pooler::explain(self.info.backend.pid, seen, consequence))
    }

    /// A one-value query that answers only on the described server session: `Ok(value)` of
    /// `CASE ... {branches} END`, or `Err(the server session it ran on instead)` (a pooler in
    /// transaction mode). CASE evaluates its branches in order, so nothing in `branches` runs
    /// on another session.
    async fn pinned(&self, branches: &str, what: &str) -> Result<std::result::Result<String, i32>> {
        let pid = self.info.backend.pid;
        let sql = format!(
            "SELECT CASE WHEN pg_catalog.pg_backend_pid() <> {pid} THEN 'moved:' || pg_catalog.pg_backend_pid() {branches} END"
        );
        let rows = self
            .client
            .simple_query(&sql)
            .await
            .map_err(|e| self.classify(e, what, None))?;
        let answer = rows.iter().find_map(|m| match m {
            SimpleQueryMessage::Row(r) => r.get(0).map(str::to_string),
            _ => None,
        });
        match answer {
            Some(a) => match a.strip_prefix("moved:").map(str::parse::<i32>) {
                Some(Ok(other)) => Ok(Err(other)),
                Some(Err(_)) => Err(Error::Db(format!("{what}: the server answered {a:?}"))),
                None => Ok(Ok(a)),
            },
            None => Err(Error::Db(format!("{what}: the server answered no row"))),
        }
    }

    async fn simple_bool(&self, sql: &str, what: &str) -> Result<bool> {
        let rows = self
            .client
            .simple_query(sql)
            .await
            .map_err(|e| self.classify(e, what, None))?;
        Ok(rows
            .iter()
            .any(|m| matches!(m, SimpleQueryMessage::Row(r) if r.get(0) == Some("t"))))
    }
}

impl super::Session for PgSession {
    type Cancel = PgCancel;

    fn info(&self) -> &SessionInfo {
        &self.info
    }

    fn canceller(&self) -> PgCancel {
        self.cancel.clone()
    }

    fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    async fn batch(&mut self, sql: &str) -> Answer {
        let done = self.client.batch_execute(sql).await;
        self.answer(done)
    }

    // The key is an integer, formatted, never user text: one simple-protocol round trip.
    // Taken only on the server session that was described, and only when that session does not
    // hold it already: through a pooler in transaction mode the job's statements can run on
    // another client's server session, where the lock is either someone else's (a second
    // `pg_try_advisory_lock` there would also answer true: two runs at once) or would be left
    // behind. A fresh session holds no lock, so 'held' too happens only with such a pooler.
    // Taken twice (the second is re-entrant, so immediate): the check after each migration
    // releases it once and retakes it (`run::batch::lock_check`), and `unlock` releases both.
    async fn try_lock(&mut self, key: i64) -> Result<bool> {
        let what = "taking the migration lock";
        let answer = self
            .pinned(
                &format!(
                    "WHEN {} THEN 'held' WHEN pg_catalog.pg_try_advisory_lock({key}) AND pg_catalog.pg_try_advisory_lock({key}) THEN 'taken' ELSE 'busy'",
                    lock_held_here(key)
                ),
                what,
            )
            .await?;
        match answer {
            Err(other) => Err(self.pooled(pooler::Seen::Moved(other), "nothing was run")),
            Ok(a) if a == "held" => Err(self.pooled(pooler::Seen::Held, "nothing was run")),
            Ok(a) if a == "taken" => Ok(true),
            Ok(a) if a == "busy" => Ok(false),
            Ok(a) => Err(Error::Db(format!("{what}: the server answered {a:?}"))),
        }
    }

    // Waited for on the described server session only, refused where that session holds it
    // already, and taken twice, as in `try_lock`.
    async fn lock(&mut self, key: i64) -> Result<()> {
        let answer = self
            .pinned(
                &format!(
                    "WHEN {} THEN 'held' ELSE pg_catalog.pg_advisory_lock({key})::text || pg_catalog.pg_try_advisory_lock({key})::text",
                    lock_held_here(key)
                ),
                "waiting for the migration lock",
            )
            .await?;
        match answer {
            Err(other) => Err(self.pooled(pooler::Seen::Moved(other), "it was not taken")),
            Ok(a) if a == "held" => Err(self.pooled(pooler::Seen::Held, "it was not taken")),
            Ok(_) => Ok(()),
        }
    }

    // Released only on the described server session, where it was taken: elsewhere (a pooler in
    // transaction mode) it would stay with that session, lent to other clients, silently. Both
    // holds are released (the second release is false, with a warning, when a migration had
    // released one).
    async fn unlock(&mut self, key: i64) -> Result<()> {
        let answer = self
            .pinned(
                &format!(
                    "ELSE (pg_catalog.pg_advisory_unlock({key}) AND pg_catalog.pg_advisory_unlock({key}))::text"
                ),
                "releasing the migration lock",
            )
            .await?;
        match answer {
            Err(other) => Err(self.pooled(
                pooler::Seen::Moved(other),
                &pooler::left_with(self.info.backend.pid),
            )),
            Ok(_) => Ok(()),
        }
    }

    // Asked of the described server session only: another one (a pooler in transaction mode)
    // would answer for itself, and the job's lock stays where it was taken.
    async fn holds_lock(&mut self, h: &HistoryTable) -> Result<bool> {
        let what = "checking the migration lock";
        let answer = self
            .pinned(
                &format!(
                    "WHEN {} THEN 'held' ELSE 'free'",
                    lock_held_here(h.lock_key())
                ),
                what,
            )
            .await?;
        match answer {
            Err(other) => Err(self.pooled(
                pooler::Seen::Moved(other),
                &format!(
                    "the run stopped; {}",
                    pooler::left_with(self.info.backend.pid)
                ),
            )),
            Ok(a) => Ok(a == "held"),
        }
    }

    async fn lock_holder(&mut self, key: i64) -> Result<Option<String>> {
        let (hi, lo) = ((key >> 32) as u32 as i64, (key & 0xffff_ffff) as u32 as i64);
        let rows = self
            .client
            .query(
                "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1",
                &[&hi, &lo],
            )
            .await
            .map_err(|e| self.classify(e, "asking who holds the migration lock", None))?;
        Ok(rows.first().map(|r| {
            format!(
                "pid {} ({}), state {}, connected since {}",
                r.get::<_, i32>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
                r.get::<_, String>(3)
            )
        }))
    }

    async fn waits_for_lock(&mut self, pid: i32, h: &HistoryTable) -> Result<bool> {
        let (hi, lo) = h.lock_parts();
        self.simple_bool(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = {pid} AND classid::bigint = {hi} AND objid::bigint = {lo} AND objsubid = 1)"
            ),
            "checking the lock queue",
        )
        .await
    }

    async fn schema_exists(&mut self, schema: &str) -> Result<bool> {
        let rows = self
            .client
            .query(HistoryTable::SCHEMA_EXISTS_SQL, &[&schema])
            .await
            .map_err(|e| self.classify(e, "looking for the history schema", None))?;
        Ok(rows.first().is_some_and(|r| r.get::<_, bool>(0)))
    }

    async fn read_history(&mut self, h: &HistoryTable) -> Result<Option<Vec<Applied>>> {
        let answer = self.client.simple_query(&h.read_sql()).await;
        self.history_from(answer, h)
    }

    async fn record(&mut self, h: &HistoryTable, write: &RowWrite) -> Result<()> {
        let grant = format!(
            "GRANT INSERT, UPDATE ON {} TO {}",
            h.qualified(),
            super::history::quote_ident(&self.info.user)
        );
        let done = match write {
            RowWrite::Insert(row) => {
                let status = row.status.as_str();
                self.client
                    .execute(
                        &h.insert_params_sql(),
                        &[
                            &row.version,
                            &row.name,
                            &row.file,
                            &row.checksum,
                            &row.sql_checksum,
                            &status,
                            &row.transactional,
                            &row.execution_ms,
                            &row.release_sha,
                            &row.error,
                        ],
                    )
                    .await
            }
            RowWrite::Revert { version } => {
                self.client
                    .execute(&h.revert_params_sql(), &[version])
                    .await
            }
            RowWrite::FailLive { version, error } => {
                self.client
                    .execute(&h.fail_live_params_sql(), &[version, error])
                    .await
            }
        };
        done.map(|_| ())
            .map_err(|e| self.classify(e, "writing the history", Some(&grant)))
    }

    async fn history_status(
        &mut self,
        h: &HistoryTable,
        version: &str,
    ) -> Result<Option<HistoryStatus>> {
        match self.client.query(&h.status_sql(), &[&version]).await {
            Ok(rows) => Ok(rows
                .first()
                .and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten())
                .and_then(|s| HistoryStatus::parse(&s))),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => {
                Ok(None)
            }
            Err(e) => Err(self.classify(e, "reading a history row", None)),
        }
    }

    async fn barrier(&mut self, h: &HistoryTable, version: &str) -> Result<()> {
        self.client
            .execute(&h.barrier_sql(), &[&version])
            .await
            .map(|_| ())
            .map_err(|e| self.classify(e, "flushing the history", None))
    }

    async fn index_valid(&mut self, name: &str, table: &str) -> Result<Option<bool>> {
        let rows = self
            .client
            .query(
                "SELECT i.indisvalid FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid \
                 WHERE c.relname = $1 AND c.relnamespace = (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = pg_catalog.to_regclass($2::text))",
                &[&name, &table],
            )
            .await
            .map_err(|e| self.classify(e, &format!("checking index {name}"), None))?;
        Ok(rows.first().map(|r| r.get::<_, bool>(0)))
    }

    async fn invalid_indexes(&mut self) -> Result<Vec<String>> {
        let rows = self
            .client
            .query(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid ORDER BY 1",
                &[],
            )
            .await
            .map_err(|e| self.classify(e, "listing invalid indexes", None))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn existing_schema(&mut self, h: &HistoryTable, only: Option<&str>) -> Result<Existing> {
        self.read_existing_schema(h, only).await
    }

    async fn tool_history(
        &mut self,
        tool: crate::import::tool::Tool,
        table: &str,
    ) -> Result<Option<(String, Vec<ToolEntry>)>> {
        self.read_tool_history(tool, table).await
    }

    async fn end_backend(&mut self, b: &Backend) -> Result<()> {
        let alive = "SELECT pid FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2";
        let rows = self
            .client
            .query(
                &format!("SELECT pg_terminate_backend(pid) FROM ({alive}) s"),
                &[&b.pid, &b.backend_start],
            )
            .await
            .map_err(|e| self.classify(e, "ending the lost session", None))?;
        if rows.is_empty() {
            return Ok(());
        }
        for _ in 0..100 {
            let still = self
                .client
                .query(alive, &[&b.pid, &b.backend_start])
                .await
                .map_err(|e| self.classify(e, "ending the lost session", None))?;
            if still.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(Error::Db(format!(
            "backend {} did not end within 5 s of pg_terminate_backend",
            b.pid
        )))
    }

    async fn reset_database(&mut self, h: &HistoryTable) -> Result<ResetDone> {
        super::reset::reset_database(&self.client, h).await
    }
}
