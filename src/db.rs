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

/// A backend process: its pid and start time (a pid alone may be reused by a later session).
#[derive(Debug, Clone)]
pub struct Backend {
    pub pid: i32,
    pub backend_start: String,
}

pub struct Db {
    pub client: Client,
    cancel: CancelToken,
    /// The session's TLS connector, so a cancel request travels the way the session did: a
    /// server (or a proxy in front of it) that accepts only TLS must still get the cancel.
    tls_connector: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    pub server_version: String,
    /// `server_version_num`, e.g. 160004, to know which settings the server has.
    pub version_num: i32,
    pub pid: i32,
    /// Who this session is on the server, to end it (and only it) from another session.
    pub identity: Backend,
    /// Whether the session is encrypted (pg_stat_ssl), so `prefer` says what it got.
    pub tls: bool,
}

pub async fn connect(settings: &Settings) -> Result<Db> {
    use tokio_postgres::config::SslMode as Wire;
    let target = settings.display();
    let mut config = settings.config.clone();
    // Our side notices a dead server or network within a minute rather than tokio-postgres's
    // default two hours (unless the URL chose its own keepalive settings).
    if config.get_keepalives_idle() == std::time::Duration::from_secs(2 * 60 * 60) {
        config.keepalives_idle(std::time::Duration::from_secs(30));
        config.keepalives_interval(std::time::Duration::from_secs(10));
        config.keepalives_retries(3);
    }
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
    let tls_connector =
        crate::tls::connector(settings.ssl_mode, settings.ssl_root_cert.as_deref())?;
    let client = match tls_connector.clone() {
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
        .simple_query("SELECT current_setting('server_version'), pg_backend_pid()::text, current_setting('standard_conforming_strings'), coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)::text, (SELECT backend_start::text FROM pg_stat_activity WHERE pid = pg_backend_pid()), current_setting('server_version_num')")
        .await
        .map_err(db_err)?;
    let mut server_version = String::new();
    let mut pid = 0;
    let mut tls = false;
    let mut backend_start = String::new();
    let mut version_num = 0;
    for m in rows {
        if let SimpleQueryMessage::Row(r) = m {
            server_version = r.get(0).unwrap_or("").to_string();
            pid = r.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            tls = r.get(3) == Some("true");
            backend_start = r.get(4).unwrap_or("").to_string();
            version_num = r.get(5).and_then(|v| v.parse().ok()).unwrap_or(0);
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
        tls_connector,
        server_version,
        version_num,
        pid,
        identity: Backend { pid, backend_start },
        tls,
    })
}

impl Db {
    /// Asks the server to cancel whatever this session is running (a separate connection, as the
    /// protocol wants). Best effort: the caller rolls back and closes the session either way.
    pub async fn cancel_running(&self) {
        let _ = match &self.tls_connector {
            Some(tls) => self.cancel.cancel_query(tls.clone()).await,
            None => self.cancel.cancel_query(NoTls).await,
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

pub fn db_err(e: tokio_postgres::Error) -> Error {
    Error::Db(describe_pg_error(&e))
}

/// The session's bounds. Besides the job's `lock_timeout` and `statement_timeout`, these bound what
/// a run leaves behind when its client dies mid-statement (SIGKILL, a lost node):
/// - `client_connection_check_interval` (PostgreSQL 14+): the server notices the dead client
///   within a second while a statement runs, aborts it (rolling back) and ends the session, which
///   releases the advisory lock. Without it the orphan runs until the statement ends.
/// - server-side TCP keepalives: a client host that vanished from the network is noticed in about
///   a minute even when the session is idle.
/// - `idle_in_transaction_session_timeout`: no transaction is left open by a client that stopped.
pub async fn set_timeouts(db: &Db, lock_ms: u64, statement_ms: u64) -> Result<()> {
    let mut sql = format!(
        "SET lock_timeout = '{lock_ms}ms'; SET statement_timeout = '{statement_ms}ms'; SET idle_in_transaction_session_timeout = '{}ms'; SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
        statement_ms.max(60_000)
    );
    if db.version_num >= 140_000 {
        sql.push_str("; SET client_connection_check_interval = '1s'");
    }
    db.client.batch_execute(&sql).await.map_err(db_err)
}

/// The history table keeps everything that happened: a run adds rows, a local `down` or `reset`
/// marks them `reverted` (never deletes them), and re-applying adds a new row. At most one row
/// per version is live (not reverted); the partial unique index holds that even against a writer
/// that ignores the advisory lock.
pub async fn ensure_history(client: &Client, h: &HistoryTable) -> Result<()> {
    let sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {t} (
           id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
           version text NOT NULL,
           name text NOT NULL,
           file text NOT NULL,
           checksum text NOT NULL,
           sql_checksum text NOT NULL,
           status text NOT NULL CHECK (status IN ('applied', 'failed', 'reverted')),
           transactional boolean NOT NULL,
           applied_at timestamptz NOT NULL DEFAULT now(),
           execution_ms integer NOT NULL,
           applied_by text NOT NULL DEFAULT current_user,
           release_sha text,
           error text,
           reverted_at timestamptz,
           reverted_by text,
           reverted_by_command text CHECK (reverted_by_command IN ('down', 'reset'))
         );
         CREATE UNIQUE INDEX IF NOT EXISTS {live} ON {t} (version) WHERE status <> 'reverted'",
        schema = quote_ident(&h.schema),
        t = h.qualified(),
        live = quote_ident(&format!("{}_live_version", h.table)),
    );
    client.batch_execute(&sql).await.map_err(db_err)
}

/// The history rows, or `None` when the table does not exist (nothing applied yet).
pub async fn read_history(client: &Client, h: &HistoryTable) -> Result<Option<Vec<Applied>>> {
    // One round trip (simple protocol, no prepare), no server-side formatting and no ORDER BY
    // (date_part is a float; extract() is numeric since PostgreSQL 14, and slower):
    // on 10,000 rows each was measurable, and the plan sorts anyway. A missing table (or schema)
    // means nothing was applied yet.
    // Reverted rows are history, not state; they stay in the table and out of the plan.
    let sql = format!(
        "SELECT version, name, checksum, status, (date_part('epoch', applied_at) * 1000)::bigint, execution_ms, id FROM {} WHERE status <> 'reverted'",
        h.qualified()
    );
    let messages = match client.simple_query(&sql).await {
        Ok(m) => m,
        Err(e)
            if e.code().is_some_and(|c| {
                *c == tokio_postgres::error::SqlState::UNDEFINED_TABLE
                    || *c == tokio_postgres::error::SqlState::INVALID_SCHEMA_NAME
            }) =>
        {
            return Ok(None);
        }
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_COLUMN) => {
            return Err(Error::Integrity(format!(
                "the history table {} does not have the columns this godwit keeps ({}); it was made by an earlier development build or by another tool. In a local database drop or rename it and run up again; elsewhere, point godwit at its own table (--schema/--table)",
                h.qualified(),
                describe_pg_error(&e)
            )));
        }
        Err(e) => return Err(db_err(e)),
    };
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        let SimpleQueryMessage::Row(r) = m else {
            continue;
        };
        // A row godwit cannot read (a hand-edited table) stops the run instead of guessing.
        let unreadable = |what: &str| {
            Error::Integrity(format!(
                "the history table {} has a row godwit cannot read ({what}: {:?}); restore the table from a backup or fix the row by hand",
                h.qualified(),
                r.get(0)
            ))
        };
        let text =
            |i: usize, what: &str| r.get(i).map(str::to_string).ok_or_else(|| unreadable(what));
        let number = |i: usize, what: &str| {
            r.get(i)
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| unreadable(what))
        };
        rows.push(Applied {
            version: text(0, "version")?,
            name: text(1, "name")?,
            checksum: text(2, "checksum")?,
            status: text(3, "status")?,
            applied_at: crate::time::iso_millis(number(4, "applied_at")?),
            execution_ms: number(5, "execution_ms")?,
        });
    }
    Ok(Some(rows))
}

/// Ends `b` if it still runs (`pg_terminate_backend`, which rolls back its open transaction) and
/// waits until the server has let go of it, so what it held (locks, an open transaction) is
/// settled. Only ever called for the run's own session.
pub async fn end_backend(client: &Client, b: &Backend) -> Result<()> {
    let alive = "SELECT pid FROM pg_stat_activity WHERE pid = $1 AND backend_start::text = $2";
    let rows = client
        .query(
            &format!("SELECT pg_terminate_backend(pid) FROM ({alive}) s"),
            &[&b.pid, &b.backend_start],
        )
        .await
        .map_err(db_err)?;
    if rows.is_empty() {
        return Ok(());
    }
    for _ in 0..100 {
        if client
            .query(alive, &[&b.pid, &b.backend_start])
            .await
            .map_err(db_err)?
            .is_empty()
        {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Err(Error::Db(format!(
        "backend {} did not end within 5 s of pg_terminate_backend",
        b.pid
    )))
}

/// The status of `version`'s history row (`None`: no row, or no history table).
/// The status of `version`'s live history row, else of its latest reverted one (`None`: no row,
/// or no history table).
pub async fn history_status(
    client: &Client,
    h: &HistoryTable,
    version: &str,
) -> Result<Option<String>> {
    let sql = format!(
        "SELECT status FROM {} WHERE version = $1 ORDER BY status = 'reverted', id DESC LIMIT 1",
        h.qualified()
    );
    match client.query(&sql, &[&version]).await {
        Ok(rows) => Ok(rows
            .first()
            .and_then(|r| r.try_get::<_, Option<String>>(0).ok().flatten())),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => Ok(None),
        Err(e) => Err(db_err(e)),
    }
}

/// One simple-protocol round trip (the key is an integer, formatted, never user text).
pub async fn try_lock(client: &Client, key: i64) -> Result<bool> {
    let rows = client
        .simple_query(&format!("SELECT pg_try_advisory_lock({key})"))
        .await
        .map_err(db_err)?;
    Ok(rows
        .iter()
        .any(|m| matches!(m, SimpleQueryMessage::Row(r) if r.get(0) == Some("t"))))
}

pub async fn unlock(client: &Client, key: i64) -> Result<()> {
    client
        .simple_query(&format!("SELECT pg_advisory_unlock({key})"))
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

/// The schema as text lines, sorted: schemas, relations, columns, constraints, indexes, sequences,
/// functions, views, triggers, enums, extensions and privileges; no OIDs, no data. Two databases
/// with the same lines have the same schema as far as migrations can tell.
pub async fn fingerprint(client: &Client) -> Result<Vec<String>> {
    const USER_NS: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'";
    let sql = format!(
        "SELECT line FROM (
          SELECT 'schema ' || n.nspname || ' owner=' || pg_get_userbyid(n.nspowner) || ' acl=' || coalesce(n.nspacl::text, '') AS line
            FROM pg_namespace n WHERE {USER_NS}
          UNION ALL
          SELECT 'relation ' || n.nspname || '.' || c.relname || ' kind=' || c.relkind::text || ' persistence=' || c.relpersistence::text
                 || ' owner=' || pg_get_userbyid(c.relowner) || ' acl=' || coalesce(c.relacl::text, '')
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          UNION ALL
          SELECT 'column ' || n.nspname || '.' || c.relname || ' #' || row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum)
                 || ' ' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
                 || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' identity=' || a.attidentity::text
                 || ' generated=' || a.attgenerated::text || ' acl=' || coalesce(a.attacl::text, '')
            FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
           WHERE {USER_NS} AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          UNION ALL
          SELECT 'constraint ' || n.nspname || '.' || coalesce(cl.relname, t.typname) || '.' || co.conname || ' ' || pg_get_constraintdef(co.oid)
                 || ' validated=' || co.convalidated
            FROM pg_constraint co JOIN pg_namespace n ON n.oid = co.connamespace
            LEFT JOIN pg_class cl ON cl.oid = co.conrelid LEFT JOIN pg_type t ON t.oid = co.contypid
           WHERE {USER_NS}
          UNION ALL
          SELECT 'index ' || pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid
            FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS}
          UNION ALL
          SELECT 'sequence ' || s.schemaname || '.' || s.sequencename || ' ' || s.data_type || ' start=' || s.start_value
                 || ' increment=' || s.increment_by || ' min=' || s.min_value || ' max=' || s.max_value || ' cycle=' || s.cycle
            FROM pg_sequences s WHERE s.schemaname NOT IN ('pg_catalog', 'information_schema')
          UNION ALL
          SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
                 || md5(pg_get_functiondef(p.oid)) || ' acl=' || coalesce(p.proacl::text, '')
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE {USER_NS} AND p.prokind IN ('f', 'p')
          UNION ALL
          SELECT 'view ' || n.nspname || '.' || c.relname || ' ' || md5(pg_get_viewdef(c.oid))
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND c.relkind IN ('v', 'm')
          UNION ALL
          SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE {USER_NS} AND NOT t.tgisinternal
          UNION ALL
          SELECT 'enum ' || n.nspname || '.' || t.typname || ' ' || string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder)
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid
           WHERE {USER_NS} GROUP BY n.nspname, t.typname
          UNION ALL
          SELECT 'type ' || n.nspname || '.' || t.typname || ' kind=' || t.typtype::text
            FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE {USER_NS} AND t.typtype IN ('d', 'e', 'r', 'm') OR ({USER_NS} AND t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
          UNION ALL
          SELECT 'extension ' || x.extname || ' ' || x.extversion FROM pg_extension x
        ) f ORDER BY line COLLATE \"C\""
    );
    let rows = client.query(&sql, &[]).await.map_err(db_err)?;
    Ok(rows
        .iter()
        .map(|r| r.get::<_, Option<String>>(0).unwrap_or_default())
        .collect())
}

/// `CREATE DATABASE` / `DROP DATABASE ... WITH (FORCE)` for verify's scratch databases; `name`
/// must be one of ours, so this can never drop a real database.
pub async fn scratch(client: &Client, create: bool, name: &str) -> Result<()> {
    let ours = name.strip_prefix("godwit_verify_").is_some_and(|rest| {
        !rest.is_empty()
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    });
    if !ours {
        return Err(Error::Internal(format!(
            "refusing to touch database `{name}`: not a godwit_verify_ scratch database"
        )));
    }
    let sql = if create {
        format!("CREATE DATABASE {}", quote_ident(name))
    } else {
        format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name))
    };
    client.batch_execute(&sql).await.map_err(|e| {
        let d = describe_pg_error(&e);
        if create && d.contains("42501") {
            Error::Config(format!("verify needs to create scratch databases, and the role in DATABASE_URL may not: {d}; grant CREATEDB or point DATABASE_URL at a CI server"))
        } else {
            db_err(e)
        }
    })
}

/// What a local `reset` did to the database.
#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResetDone {
    pub dropped_schemas: Vec<String>,
    pub recreated_schemas: Vec<String>,
    pub reverted_rows: u64,
}

/// Empties the database for a local `reset`, in one transaction (all or nothing): marks every
/// live history row reverted (`reverted_by_command = 'reset'`), parks the history table, drops
/// every user schema with what is in it, recreates `public` and the history's schema with their
/// owner, comment and grants, and puts the history table back. Objects outside schemas (roles,
/// event triggers, publications) are left alone.
pub async fn reset_database(client: &Client, h: &HistoryTable) -> Result<ResetDone> {
    let t = h.qualified();
    let park = format!("godwit_reset_{}", std::process::id());
    let user_schemas = "n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'";
    client.batch_execute("BEGIN").await.map_err(db_err)?;
    let result = async {
        let reverted = client
            .execute(
                &format!("UPDATE {t} SET status = 'reverted', reverted_at = now(), reverted_by = current_user, reverted_by_command = 'reset' WHERE status <> 'reverted'"),
                &[],
            )
            .await
            .map_err(db_err)?;
        // The schemas to give back: `public` (every database has one) and the history's own.
        let keep = client
            .query(
                &format!(
                    "SELECT n.nspname, pg_get_userbyid(n.nspowner), obj_description(n.oid, 'pg_namespace'),
                            coalesce((SELECT string_agg(format('GRANT %s ON SCHEMA %I TO %s%s', a.privilege_type, n.nspname,
                                          CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
                                          CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END), '; ')
                                      FROM aclexplode(n.nspacl) a), '')
                       FROM pg_namespace n WHERE n.nspname IN ('public', $1) AND {user_schemas}"
                ),
                &[&h.schema],
            )
            .await
            .map_err(db_err)?;
        let all: Vec<String> = client
            .query(&format!("SELECT n.nspname FROM pg_namespace n WHERE {user_schemas} ORDER BY 1"), &[])
            .await
            .map_err(db_err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        client
            .batch_execute(&format!(
                "CREATE SCHEMA {p}; ALTER TABLE {t} SET SCHEMA {p}",
                p = quote_ident(&park)
            ))
            .await
            .map_err(db_err)?;
        for schema in &all {
            client
                .batch_execute(&format!("DROP SCHEMA {} CASCADE", quote_ident(schema)))
                .await
                .map_err(db_err)?;
        }
        let mut recreated = Vec::new();
        for r in &keep {
            let (name, owner, comment, grants): (String, String, Option<String>, String) =
                (r.get(0), r.get(1), r.get(2), r.get(3));
            let mut sql = format!(
                "CREATE SCHEMA {} AUTHORIZATION {};",
                quote_ident(&name),
                quote_ident(&owner)
            );
            if let Some(c) = comment {
                sql.push_str(&format!(" COMMENT ON SCHEMA {} IS {};", quote_ident(&name), quote_literal(&c)));
            }
            if !grants.is_empty() {
                sql.push_str(&format!(" {grants};"));
            }
            client.batch_execute(&sql).await.map_err(db_err)?;
            recreated.push(name);
        }
        if !recreated.contains(&h.schema) {
            client
                .batch_execute(&format!("CREATE SCHEMA {}", quote_ident(&h.schema)))
                .await
                .map_err(db_err)?;
            recreated.push(h.schema.clone());
        }
        client
            .batch_execute(&format!(
                "ALTER TABLE {p}.{tbl} SET SCHEMA {s}; DROP SCHEMA {p}",
                p = quote_ident(&park),
                tbl = quote_ident(&h.table),
                s = quote_ident(&h.schema)
            ))
            .await
            .map_err(db_err)?;
        Ok::<_, Error>(ResetDone {
            dropped_schemas: all,
            recreated_schemas: recreated,
            reverted_rows: reverted,
        })
    }
    .await;
    match result {
        Ok(done) => {
            client.batch_execute("COMMIT").await.map_err(db_err)?;
            Ok(done)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
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
