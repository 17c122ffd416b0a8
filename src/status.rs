//! The read-only commands: `status` (and `assertSchemaCurrent()`, which is status at API
//! start-up), the schema fingerprint, and verify's scratch databases. No lock is taken, and
//! everything is bounded by the status timeout (default 10 s): connecting, and each query's
//! `lock_timeout` and `statement_timeout`, so a session holding ACCESS EXCLUSIVE on the history
//! table can never hold an API's start-up.

use std::time::Duration;

use serde::Serialize;

use crate::db::Session;
use crate::db::conn::Settings;
use crate::db::describe;
use crate::db::history::HistoryTable;
use crate::db::pg::{PgConnector, PgSession, Reached, first_queries};
use crate::error::{Error, Result};
use crate::files::checksum::sha256_raw;
use crate::files::scan;
use crate::plan::{self, Row};
use crate::settings::StatusSettings;
use crate::violation::Violation;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatusDatabase {
    pub connection: String,
    pub ssl_mode: String,
    pub tls: bool,
    pub server_version: String,
}

/// `status --json`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatusReport {
    pub clean: bool,
    pub requires_migrations: bool,
    /// The playbook's pipeline variable, by its own name, for pipelines that read it as such.
    #[serde(rename = "requires_migrations")]
    pub requires_migrations_snake: bool,
    pub pending: usize,
    pub problems: usize,
    /// Applied by a newer release (this is an older one): not a problem unless the project
    /// says `ahead: 'refuse'`.
    pub ahead: usize,
    pub history_table: HistoryTable,
    pub history_table_exists: bool,
    pub database: StatusDatabase,
    pub file_violations: Vec<Violation>,
    pub migrations: Vec<Row>,
}

/// The status timeout as errors name it.
fn named(timeout: Duration) -> String {
    format!("{} ms (MIGRATION_STATUS_TIMEOUT)", timeout.as_millis())
}

/// The connection's start-up bounded by `timeout`, as the error names it.
async fn reach(settings: &Settings, timeout: Duration) -> Result<Reached> {
    PgConnector::new(settings.clone().with_connect_timeout(timeout))
        .reach_within(timeout, &named(timeout))
        .await
}

/// `SET`s bounding everything that follows by `timeout`: `lock_timeout` and `statement_timeout`.
fn bounds(timeout: Duration) -> String {
    let ms = timeout.as_millis() as u64;
    // a lock wait answers first (with its reason), before the statement's own bound
    let lock = crate::duration::to_pg(ms - (ms / 5).min(200));
    let statement = crate::duration::to_pg(ms);
    format!("SET lock_timeout = '{lock}'; SET statement_timeout = '{statement}'")
}

/// Opens a session bounded by `timeout` (start-up, then each statement), for what is not
/// `status` itself.
async fn open(settings: &Settings, timeout: Duration) -> Result<PgSession> {
    let reached = reach(settings, timeout).await?;
    first_queries(
        timeout,
        &named(timeout),
        "describing the session, setting its timeouts",
        reached.describe_with(&bounds(timeout)),
    )
    .await
}

/// `status`: the plan against the database, read-only, no lock.
pub async fn status(settings: &StatusSettings) -> Result<StatusReport> {
    let timeout = Duration::from_millis(settings.timeout_ms);
    // Reading the files and the database side run at the same time, as in `up`.
    let dir = settings.common.dir.clone();
    let reading = tokio::task::spawn_blocking(move || scan::scan(&dir));
    let h = settings.history.clone();
    let from_db = async {
        let reached = reach(&settings.connection, timeout).await?;
        // The session's description, its bounds and the history read in one round trip. A
        // lock on the history table is answered by the server's own lock_timeout, with the
        // reason, before this bound: a server that says nothing at all by then is not running
        // queries (a pooler with no free connection, a server stuck), not waiting for a lock.
        let (s, answer) = first_queries(
            timeout + Duration::from_millis(500),
            &named(timeout),
            &format!(
                "describing the session, reading the history table {}",
                h.qualified()
            ),
            reached.describe_reading(&bounds(timeout), &h.read_sql()),
        )
        .await?;
        let applied = s.history_from(answer, &h)?;
        Ok::<_, Error>((s, applied))
    };
    let (scan, from_db) = tokio::join!(reading, from_db);
    let scan = scan.map_err(|e| Error::Internal(format!("scanning failed: {e}")))??;
    let (s, applied) = from_db?;
    let mut plan = plan::plan(&scan.migrations, applied.as_deref().unwrap_or_default());
    if settings.common.project.run.ahead_refuse == Some(true) {
        plan.refuse_ahead();
    }
    let pending = plan.pending().count();
    let problems = plan.problems().count();
    let ahead = plan.ahead().count();
    Ok(StatusReport {
        ahead,
        clean: pending == 0 && problems == 0 && scan.violations.is_empty(),
        requires_migrations: pending > 0,
        requires_migrations_snake: pending > 0,
        pending,
        problems,
        history_table: settings.history.clone(),
        history_table_exists: applied.is_some(),
        database: StatusDatabase {
            connection: settings.connection.display(),
            ssl_mode: settings.connection.ssl_mode.as_str().into(),
            tls: s.info().tls,
            server_version: s.info().server_version.clone(),
        },
        file_violations: scan.violations,
        migrations: plan.rows,
    })
}

/// The schema fingerprint: `{ hash, objects, lines }`.
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, Serialize)]
pub struct Fingerprint {
    pub hash: String,
    pub objects: usize,
    pub lines: Vec<String>,
}

pub async fn fingerprint(settings: &Settings, timeout: Duration) -> Result<Fingerprint> {
    let s = open(settings, timeout.max(Duration::from_secs(30))).await?;
    let lines = crate::db::fingerprint::fingerprint(s.client()).await?;
    Ok(Fingerprint {
        hash: sha256_raw(lines.join("\n").as_bytes()),
        objects: lines.len(),
        lines,
    })
}

/// The schema file against a database: whether the file says what the database holds (and the
/// diff when not), and, when `write` is asked and the server is this machine's own, the file
/// rewritten to match (a local `up`, `down` or `reset`). `path: None`: the project turned it off.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SchemaFileReport {
    pub path: Option<String>,
    pub exists: bool,
    /// The file is exactly what the database's schema gives.
    pub same: bool,
    /// A unified diff, the file (`-`) against the database (`+`); empty when `same`.
    pub diff: String,
    pub written: bool,
    /// The server is this machine's (loopback or a Unix socket): only then is the file written.
    pub local: bool,
}

pub async fn schema_file(settings: &StatusSettings, write: bool) -> Result<SchemaFileReport> {
    let local = settings.connection.is_local();
    let Some(path) = settings.common.schema_file.clone() else {
        return Ok(SchemaFileReport {
            path: None,
            exists: false,
            same: false,
            diff: String::new(),
            written: false,
            local,
        });
    };
    let timeout = Duration::from_millis(settings.timeout_ms).max(Duration::from_secs(30));
    let s = open(&settings.connection, timeout).await?;
    let schema = tokio::time::timeout(timeout, describe::describe(s.client(), &settings.history))
        .await
        .map_err(|_| {
            Error::ConnectionLost(format!(
                "describing the schema took longer than {} ms",
                timeout.as_millis()
            ))
        })??;
    let text = describe::file_text(&schema);
    let current = match std::fs::read_to_string(&path) {
        Ok(t) => Some(t.replace("\r\n", "\n")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(&path, e)),
    };
    let same = current.as_deref() == Some(text.as_str());
    let shown = path.display().to_string();
    let diff = if same {
        String::new()
    } else {
        describe::diff(
            current.as_deref().unwrap_or(""),
            &text,
            &shown,
            "the database",
            120,
        )
    };
    let written = write && local && !same;
    if written {
        // a source file the team commits: flushed like the ledger
        crate::files::put(&path, text.as_bytes(), crate::files::Durability::Synced)?;
    }
    Ok(SchemaFileReport {
        path: Some(shown),
        exists: current.is_some(),
        same,
        diff,
        written,
        local,
    })
}

/// The server's major version (`15`, `18`), for judging SQL against the server it will run on
/// when the project does not say (`check` with connection settings). Bounded like `status`.
pub async fn server_major(settings: &Settings, timeout: Duration) -> Result<String> {
    let s = open(settings, timeout).await?;
    Ok((s.info().version_num / 10000).to_string())
}

/// A fleet's `--targets-query`: the rows of `sql` as text (column name to value, `None` for
/// NULL), in a read-only transaction on a session bounded like `status`, so the query can list
/// targets and change nothing.
pub async fn query_rows(
    settings: &Settings,
    timeout: Duration,
    sql: &str,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    use tokio_postgres::SimpleQueryMessage;
    let s = open(settings, timeout).await?;
    let read_only = s
        .client()
        .batch_execute("SET default_transaction_read_only = on")
        .await;
    read_only.map_err(|e| s.classify(e, "making the session read-only", None))?;
    let messages = tokio::time::timeout(timeout, s.client().simple_query(sql))
        .await
        .map_err(|_| {
            Error::Db(format!(
                "--targets-query gave no answer within {} ms",
                timeout.as_millis()
            ))
        })?
        .map_err(|e| {
            Error::Usage(format!(
                "--targets-query failed: {}",
                crate::db::pg::describe_pg_error(&e)
            ))
        })?;
    let mut rows = Vec::new();
    for m in messages {
        if let SimpleQueryMessage::Row(r) = m {
            let row = r
                .columns()
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let v = r.get(i).map_or(serde_json::Value::Null, |t| t.into());
                    (c.name().to_string(), v)
                })
                .collect();
            rows.push(row);
        }
    }
    Ok(rows)
}

/// Creates or drops one of verify's scratch databases through the configured connection, which
/// is used for nothing else.
pub async fn scratch(settings: &Settings, create: bool, name: &str) -> Result<()> {
    let s = open(settings, Duration::from_secs(60)).await?;
    // CREATE DATABASE on a standby or in read-only sessions fails with the server's words
    // (DB_ERROR, exit 70), which read as a bug in godwit: said here, with the way out
    if let (true, Some(why)) = (create, s.info().read_only) {
        let role = match why {
            crate::db::ReadOnly::Standby => "",
            crate::db::ReadOnly::Sessions => {
                ", or use a role without it (ALTER ROLE <role> SET default_transaction_read_only = off)"
            }
        };
        return Err(Error::Config(format!(
            "verify creates its scratch databases on the server DATABASE_URL names, and {}: point DATABASE_URL at a writable CI server{role}",
            why.reason(&settings.display())
        )));
    }
    crate::db::reset::scratch(s.client(), create, name).await
}
