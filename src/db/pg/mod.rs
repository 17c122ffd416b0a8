//! The real `Session`: tokio-postgres, with rustls for TLS. Values travel as parameters (or, for
//! the advisory lock, as formatted integers); identifiers are quoted by `history::quote_ident`.
//! Every error is classified here once: a lost session, a missing privilege, a lock not granted,
//! or the server's verdict.

mod adoption;
mod rows;

use std::time::Duration;

use tokio_postgres::{CancelToken, Client, NoTls, SimpleQueryMessage};

use super::conn::{Settings, SslMode};
use super::history::{HistoryTable, RowWrite};
use super::{Answer, Backend, DbError, Existing, ResetDone, SessionInfo, ToolEntry};
use crate::error::{Error, Result};
use crate::plan::{Applied, HistoryStatus};

/// How long a cancel request may take; it opens a connection of its own, which a silent server
/// would otherwise hold forever.
const CANCEL_BOUND: Duration = Duration::from_millis(500);

pub struct PgConnector {
    pub settings: Settings,
}

/// A session whose start-up is done but that is not described yet (`PgConnector::reach`).
pub struct Reached {
    client: Client,
    cancel: PgCancel,
    target: String,
}

/// What the server answered to a query sent with `Reached::describe_reading`.
pub type QueryAnswer = std::result::Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>;

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

impl PgConnector {
    pub fn new(settings: Settings) -> PgConnector {
        PgConnector { settings }
    }

    async fn open(&self) -> Result<PgSession> {
        let reached = self.reach().await?;
        let info = read_info(&reached.client, &reached.target).await?;
        Ok(PgSession {
            client: reached.client,
            cancel: reached.cancel,
            info,
        })
    }

    /// The connection's start-up (TCP, TLS, authentication), without the query that describes
    /// the session: `Reached::describe_with` sends that with others in one round trip.
    pub async fn reach(&self) -> Result<Reached> {
        use tokio_postgres::config::SslMode as Wire;
        let settings = &self.settings;
        let target = settings.display();
        let mut config = settings.config.clone();
        // Our side notices a dead server or network within a minute rather than tokio-postgres's
        // default two hours (unless the URL chose its own keepalive settings).
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(Duration::from_secs(30));
            config.keepalives_interval(Duration::from_secs(10));
            config.keepalives_retries(3);
        }
        config.ssl_mode(match settings.ssl_mode {
            SslMode::Disable => Wire::Disable,
            SslMode::Prefer => Wire::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Wire::Require,
        });
        let connect_err = |e: tokio_postgres::Error| {
            let mut message = describe_pg_error(&e);
            if let Some((what, fix)) = super::tls::explain(&message) {
                message = format!("{what} (sslmode={}; {fix})", settings.ssl_mode.as_str());
            }
            Error::Connect {
                target: target.clone(),
                message,
            }
        };
        // The connection future ends when the client is dropped or the server goes away; errors
        // surface on the client's next call.
        let tls = super::tls::connector(&settings.tls())?;
        let client = match tls.clone() {
            Some(t) => {
                let (client, connection) = config.connect(t).await.map_err(connect_err)?;
                tokio::spawn(connection);
                client
            }
            None => {
                let (client, connection) = config.connect(NoTls).await.map_err(connect_err)?;
                tokio::spawn(connection);
                client
            }
        };
        let cancel = PgCancel {
            token: client.cancel_token(),
            tls,
        };
        Ok(Reached {
            client,
            cancel,
            target,
        })
    }
}

impl Reached {
    /// Describes the session and, pipelined after that query in the same round trip, runs
    /// `setup` (statements whose answers are not needed: the session's timeouts).
    pub async fn describe_with(self, setup: &str) -> Result<PgSession> {
        let (info, set) = tokio::join!(
            read_info(&self.client, &self.target),
            self.client.batch_execute(setup)
        );
        self.described(info, set)
    }

    /// `describe_with`, and then `query` in the same round trip, its answer returned as the
    /// server gave it. Three round trips become one: `status` and `assertSchemaCurrent()` pay
    /// each at every API start, and a database in another zone charges a millisecond or more
    /// for each. The server runs them in the order sent, so `query` runs under what `setup`
    /// set.
    pub async fn describe_reading(
        self,
        setup: &str,
        query: &str,
    ) -> Result<(PgSession, QueryAnswer)> {
        let (info, set, answer) = tokio::join!(
            read_info(&self.client, &self.target),
            self.client.batch_execute(setup),
            self.client.simple_query(query)
        );
        Ok((self.described(info, set)?, answer))
    }

    fn described(
        self,
        info: Result<SessionInfo>,
        set: std::result::Result<(), tokio_postgres::Error>,
    ) -> Result<PgSession> {
        let info = info?;
        set.map_err(|e| Error::Connect {
            target: self.target.clone(),
            message: format!("setting up the session: {}", describe_pg_error(&e)),
        })?;
        Ok(PgSession {
            client: self.client,
            cancel: self.cancel,
            info,
        })
    }
}

/// Who and what the session is, in one round trip; refuses a server whose strings godwit's own
/// statements are not written for. The session's own row comes from `pg_stat_get_activity(pid)`,
/// the function under the `pg_stat_ssl` and `pg_stat_activity` views (PostgreSQL 12 and later):
/// the views' joins cost a new backend 2 of the query's 3 ms, paid by every `status` and every
/// `assertSchemaCurrent()` at an API's start.
async fn read_info(client: &Client, target: &str) -> Result<SessionInfo> {
    let rows = client
        .simple_query(
            "SELECT current_setting('server_version'), pg_backend_pid()::text, current_setting('standard_conforming_strings'), \
             coalesce(a.ssl, false)::text, a.backend_start::text, current_setting('server_version_num'), \
             (EXISTS (SELECT 1 FROM pg_language WHERE lanname = 'plpgsql') AND has_language_privilege('plpgsql', 'USAGE'))::text, \
             session_user::text, current_database()::text, \
             pg_is_in_recovery()::text, current_setting('transaction_read_only') \
             FROM pg_catalog.pg_stat_get_activity(pg_backend_pid()) a",
        )
        .await
        .map_err(|e| Error::Connect {
            target: target.to_string(),
            message: describe_pg_error(&e),
        })?;
    let mut info = SessionInfo::default();
    let mut answered = false;
    for m in rows {
        if let SimpleQueryMessage::Row(r) = m {
            answered = true;
            info.server_version = r.get(0).unwrap_or("").to_string();
            info.backend.pid = r.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            info.tls = r.get(3) == Some("true");
            info.backend.backend_start = r.get(4).unwrap_or("").to_string();
            info.version_num = r.get(5).and_then(|v| v.parse().ok()).unwrap_or(0);
            info.plpgsql = r.get(6) == Some("true");
            info.user = r.get(7).unwrap_or("").to_string();
            info.database = r.get(8).unwrap_or("").to_string();
            info.read_only = match (r.get(9), r.get(10)) {
                (Some("true"), _) => Some(super::ReadOnly::Standby),
                (_, Some("on")) => Some(super::ReadOnly::Sessions),
                _ => None,
            };
            if r.get(2) != Some("on") {
                return Err(Error::Config(
                    "standard_conforming_strings is off on this server (postgresql.conf or ALTER ROLE/DATABASE SET); godwit requires it on".into(),
                ));
            }
        }
    }
    if !answered {
        // the statistics collector has no row for this very session: not a PostgreSQL godwit knows
        return Err(Error::Connect {
            target: target.to_string(),
            message: "the server did not describe this session (pg_stat_get_activity(pg_backend_pid()) returned no row); godwit supports PostgreSQL 13 to 18".into(),
        });
    }
    Ok(info)
}

impl super::Connector for PgConnector {
    type Session = PgSession;

    async fn connect(&self) -> Result<PgSession> {
        self.open().await
    }

    fn display(&self) -> String {
        self.settings.display()
    }

    fn ssl_mode(&self) -> &'static str {
        self.settings.ssl_mode.as_str()
    }
}

impl PgSession {
    /// The client, for the read-only commands that are not the runner's (status, fingerprint).
    pub fn client(&self) -> &Client {
        &self.client
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
        match self.client.batch_execute(sql).await {
            Ok(()) => Answer::Finished,
            // An error on a session that is still open is the server's verdict on the SQL; on a
            // closed one (terminated backend, network) it says nothing about what committed.
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

    // The key is an integer, formatted, never user text: one simple-protocol round trip.
    async fn try_lock(&mut self, key: i64) -> Result<bool> {
        self.simple_bool(
            &format!("SELECT pg_try_advisory_lock({key})"),
            "taking the migration lock",
        )
        .await
    }

    async fn lock(&mut self, key: i64) -> Result<()> {
        self.client
            .simple_query(&format!("SELECT pg_advisory_lock({key})"))
            .await
            .map(|_| ())
            .map_err(|e| self.classify(e, "waiting for the migration lock", None))
    }

    async fn unlock(&mut self, key: i64) -> Result<()> {
        self.client
            .simple_query(&format!("SELECT pg_advisory_unlock({key})"))
            .await
            .map(|_| ())
            .map_err(|e| self.classify(e, "releasing the migration lock", None))
    }

    async fn holds_lock(&mut self, h: &HistoryTable) -> Result<bool> {
        let (hi, lo) = h.lock_parts();
        self.simple_bool(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted AND classid::bigint = {hi} AND objid::bigint = {lo} AND objsubid = 1)"
            ),
            "checking the migration lock",
        )
        .await
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
