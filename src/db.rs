//! The PostgreSQL side: connect, the history table, the advisory lock, and running one
//! migration. Identifiers are always quoted with `quote_ident`; values that must travel inside a
//! one-round-trip batch are quoted with `quote_literal` (standard_conforming_strings is checked).

use serde::Serialize;
use tokio_postgres::{CancelToken, Client, NoTls, SimpleQueryMessage};

use crate::checksum::sha256_raw;
use crate::conn::{Settings, SslMode};
use crate::error::{Error, Result};
use crate::plan::Applied;

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A string literal for a server with standard_conforming_strings on (verified at connect).
pub fn quote_literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryTable {
    pub schema: String,
    pub table: String,
}

impl HistoryTable {
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }
    /// The advisory lock key: derived from the table's identity, so two projects with separate
    /// history tables in one database never wait for each other.
    pub fn lock_key(&self) -> i64 {
        let digest = sha256_raw(format!("godwit:{}.{}", self.schema, self.table).as_bytes());
        let mut bytes = [0u8; 8];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&digest[i * 2..i * 2 + 2], 16).unwrap_or(0);
        }
        i64::from_be_bytes(bytes)
    }
}

pub struct Db {
    pub client: Client,
    pub cancel: CancelToken,
    pub server_version: String,
    pub pid: i32,
    /// Whether the session is encrypted (pg_stat_ssl), so `prefer` says what it got.
    pub tls: bool,
}

pub async fn connect(settings: &Settings) -> Result<Db> {
    use tokio_postgres::config::SslMode as Wire;
    let target = settings.display();
    let mut config = settings.config.clone();
    config.ssl_mode(match settings.ssl_mode {
        SslMode::Disable => Wire::Disable,
        SslMode::Prefer => Wire::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Wire::Require,
    });
    let connect_err = |e: tokio_postgres::Error| {
        let mut message = describe_pg_error(&e);
        if let Some(hint) = crate::tls::hint(&message) {
            message.push_str(&format!(
                " (sslmode={}; {hint})",
                settings.ssl_mode.as_str()
            ));
        }
        Error::Connect {
            target: target.clone(),
            message,
        }
    };
    // The connection future ends when the client is dropped or the server goes away; errors
    // surface on the client's next call.
    let client = match crate::tls::connector(settings.ssl_mode, settings.ssl_root_cert.as_deref())?
    {
        Some(tls) => {
            let (client, connection) = config.connect(tls).await.map_err(connect_err)?;
            tokio::spawn(connection);
            client
        }
        None => {
            let (client, connection) = config.connect(NoTls).await.map_err(connect_err)?;
            tokio::spawn(connection);
            client
        }
    };
    let cancel = client.cancel_token();
    let rows = client
        .simple_query("SELECT current_setting('server_version'), pg_backend_pid()::text, current_setting('standard_conforming_strings'), coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)::text")
        .await
        .map_err(db_err)?;
    let mut server_version = String::new();
    let mut pid = 0;
    let mut tls = false;
    for m in rows {
        if let SimpleQueryMessage::Row(r) = m {
            server_version = r.get(0).unwrap_or("").to_string();
            pid = r.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            tls = r.get(3) == Some("true");
            if r.get(2) != Some("on") {
                return Err(Error::Config(
                    "standard_conforming_strings is off on this server; godwit requires it on"
                        .into(),
                ));
            }
        }
    }
    Ok(Db {
        client,
        cancel,
        server_version,
        pid,
        tls,
    })
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

pub fn db_err(e: tokio_postgres::Error) -> Error {
    Error::Db(describe_pg_error(&e))
}

pub async fn set_timeouts(client: &Client, lock_ms: u64, statement_ms: u64) -> Result<()> {
    client
        .batch_execute(&format!(
            "SET lock_timeout = '{lock_ms}ms'; SET statement_timeout = '{statement_ms}ms'; SET idle_in_transaction_session_timeout = '{}ms'",
            statement_ms.max(60_000)
        ))
        .await
        .map_err(db_err)
}

pub async fn ensure_history(client: &Client, h: &HistoryTable) -> Result<()> {
    let sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {t} (
           version text PRIMARY KEY,
           name text NOT NULL,
           file text NOT NULL,
           checksum text NOT NULL,
           sql_checksum text NOT NULL,
           status text NOT NULL CHECK (status IN ('applied', 'failed')),
           transactional boolean NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now(),
           execution_ms integer NOT NULL,
           applied_by text NOT NULL DEFAULT current_user,
           release_sha text,
           error text
         )",
        schema = quote_ident(&h.schema),
        t = h.qualified()
    );
    client.batch_execute(&sql).await.map_err(db_err)
}

/// The history rows, or `None` when the table does not exist (nothing applied yet).
pub async fn read_history(client: &Client, h: &HistoryTable) -> Result<Option<Vec<Applied>>> {
    let exists = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&h.qualified()])
        .await
        .map_err(db_err)?;
    if !exists.get::<_, bool>(0) {
        return Ok(None);
    }
    let rows = client
        .query(
            &format!(
                "SELECT version, name, checksum, status, to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), execution_ms::bigint FROM {} ORDER BY version",
                h.qualified()
            ),
            &[],
        )
        .await
        .map_err(db_err)?;
    Ok(Some(
        rows.iter()
            .map(|r| Applied {
                version: r.get(0),
                name: r.get(1),
                checksum: r.get(2),
                status: r.get(3),
                applied_at: r.get(4),
                execution_ms: r.get(5),
            })
            .collect(),
    ))
}

pub async fn try_lock(client: &Client, key: i64) -> Result<bool> {
    let row = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
        .await
        .map_err(db_err)?;
    Ok(row.get(0))
}

pub async fn unlock(client: &Client, key: i64) -> Result<()> {
    client
        .query_one("SELECT pg_advisory_unlock($1)", &[&key])
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Who holds the lock: pid, application_name, state and since when.
pub async fn lock_holder(client: &Client, key: i64) -> Result<Option<String>> {
    let (hi, lo) = ((key >> 32) as u32 as i64, (key & 0xffff_ffff) as u32 as i64);
    let rows = client
        .query(
            "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), coalesce(to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1",
            &[&hi, &lo],
        )
        .await
        .map_err(db_err)?;
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

/// Indexes left INVALID (a failed CREATE INDEX CONCURRENTLY leaves one behind).
pub async fn invalid_indexes(client: &Client) -> Result<Vec<String>> {
    let rows = client
        .query(
            "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid ORDER BY 1",
            &[],
        )
        .await
        .map_err(db_err)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote_ident("godwit_migrations"), "\"godwit_migrations\"");
        assert_eq!(quote_ident("we\"ird name"), "\"we\"\"ird name\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
        let h = HistoryTable {
            schema: "my schema".into(),
            table: "tä\"ble".into(),
        };
        assert_eq!(h.qualified(), "\"my schema\".\"tä\"\"ble\"");
    }

    #[test]
    fn lock_key_is_stable_and_per_table() {
        let a = HistoryTable {
            schema: "public".into(),
            table: "godwit_migrations".into(),
        };
        let b = HistoryTable {
            schema: "other".into(),
            table: "godwit_migrations".into(),
        };
        assert_eq!(a.lock_key(), a.lock_key());
        assert_ne!(a.lock_key(), b.lock_key());
    }
}
