//! The history table: its identity (name, validation, the advisory lock key derived from it) and
//! the text of every statement godwit runs on it. Pure: the session runs these, tests read them.
//!
//! godwit's own SQL never carries text a migration or the server produced inside a literal: rows
//! that hold such text (a failure's message) are written with parameters (extended protocol);
//! the one-round-trip batch of a transactional migration only carries values whose characters
//! cannot change meaning under any session setting (`immune`), and is checked for it.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::checksum::sha256_raw;
use crate::plan::HistoryStatus;

/// The `sql_checksum` of a row `baseline` recorded: no SQL ran, the migration was already applied
/// (by another tool, or by hand) when godwit took over.
pub const BASELINE_SQL_CHECKSUM: &str = "baseline";

/// PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1).
pub const MAX_IDENTIFIER_BYTES: usize = 63;
/// Suffix of the unique index godwit derives from the table name.
const LIVE_INDEX_SUFFIX: &str = "_live_version";

pub fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A literal for a value that holds only characters whose meaning no session setting changes
/// (no quote, no backslash, no control character); anything else is refused, since it must then
/// travel as a parameter.
pub fn immune_literal(s: &str) -> Result<String> {
    let safe = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | ' '));
    if safe {
        Ok(format!("'{s}'"))
    } else {
        Err(Error::Internal(format!(
            "refusing to put {s:?} in SQL text; it must travel as a parameter"
        )))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct HistoryTable {
    pub schema: String,
    pub table: String,
}

/// `(classid, objid)` of advisory lock `key` as `pg_locks` shows a bigint one (`objsubid` = 1).
fn lock_parts(key: i64) -> (u32, u32) {
    let k = key as u64;
    ((k >> 32) as u32, (k & 0xffff_ffff) as u32)
}

/// A condition that is true when the session evaluating it holds advisory lock `key`.
pub fn lock_held_here(key: i64) -> String {
    let (hi, lo) = lock_parts(key);
    format!(
        "EXISTS (SELECT 1 FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid() AND granted AND classid::bigint = {hi} AND objid::bigint = {lo} AND objsubid = 1)"
    )
}

impl HistoryTable {
    /// A validated name: non-empty, no NUL, and short enough that neither it nor the index name
    /// godwit derives from it is silently truncated by PostgreSQL.
    pub fn new(schema: String, table: String) -> Result<HistoryTable> {
        let check = |what: &str, name: &str, max: usize| -> Result<()> {
            if name.is_empty() || name.contains('\0') {
                return Err(Error::Config(format!(
                    "the history {what} name must be non-empty and hold no NUL character"
                )));
            }
            if name.len() > max {
                return Err(Error::Config(format!(
                    "the history {what} name `{name}` is {} bytes; PostgreSQL cuts identifiers at {MAX_IDENTIFIER_BYTES} bytes{}, so it may have at most {max}",
                    name.len(),
                    if what == "table" {
                        format!(" and godwit names its index `<table>{LIVE_INDEX_SUFFIX}`")
                    } else {
                        String::new()
                    }
                )));
            }
            Ok(())
        };
        check("schema", &schema, MAX_IDENTIFIER_BYTES)?;
        check(
            "table",
            &table,
            MAX_IDENTIFIER_BYTES - LIVE_INDEX_SUFFIX.len(),
        )?;
        Ok(HistoryTable { schema, table })
    }

    pub fn qualified(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.table))
    }

    /// The advisory lock key: derived from the table's identity, so two projects with separate
    /// history tables in one database never wait for each other. Part of the protocol between
    /// releases: an old and a new godwit must take the same lock (pinned by a test).
    pub fn lock_key(&self) -> i64 {
        let digest = sha256_raw(format!("godwit:{}.{}", self.schema, self.table).as_bytes());
        let mut bytes = [0u8; 8];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = u8::from_str_radix(&digest[i * 2..i * 2 + 2], 16).unwrap_or(0);
        }
        i64::from_be_bytes(bytes)
    }

    /// `(classid, objid)` of the lock key as `pg_locks` shows a bigint advisory lock
    /// (`objsubid` = 1).
    pub fn lock_parts(&self) -> (u32, u32) {
        lock_parts(self.lock_key())
    }

    fn live_index(&self) -> String {
        quote_ident(&format!("{}{LIVE_INDEX_SUFFIX}", self.table))
    }

    /// The table, created only when missing. The schema is created only when `create_schema`
    /// (it was found missing): `CREATE SCHEMA IF NOT EXISTS` is checked against CREATE on the
    /// database even when the schema exists, which an application role usually lacks.
    ///
    /// The table keeps everything that happened: a run adds rows, a local `down` or `reset`
    /// marks them `reverted` (never deletes them), and re-applying adds a new row. At most one
    /// row per version is live (not reverted); the partial unique index holds that even against
    /// a writer that ignores the advisory lock.
    pub fn ensure_sql(&self, create_schema: bool) -> String {
        let schema = if create_schema {
            format!("CREATE SCHEMA {};\n", quote_ident(&self.schema))
        } else {
            String::new()
        };
        format!(
            "{schema}CREATE TABLE IF NOT EXISTS {t} (
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
            t = self.qualified(),
            live = self.live_index(),
        )
    }

    /// Whether the schema exists (parameter: the schema name).
    pub const SCHEMA_EXISTS_SQL: &'static str =
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)";

    /// The live rows (reverted rows are history, not state). One round trip, no ORDER BY, no
    /// server-side formatting: on 10,000 rows each was measurable, and the plan sorts anyway.
    pub fn read_sql(&self) -> String {
        format!(
            "SELECT version, name, checksum, status, (date_part('epoch', applied_at) * 1000)::bigint, execution_ms, sql_checksum = 'baseline' FROM {} WHERE status <> 'reverted'",
            self.qualified()
        )
    }

    /// The status of `version`'s live row, else of its latest reverted one ($1: version).
    pub fn status_sql(&self) -> String {
        format!(
            "SELECT status FROM {} WHERE version = $1 ORDER BY status = 'reverted', id DESC LIMIT 1",
            self.qualified()
        )
    }

    /// A new row, with parameters $1..$10 (`NewRow::params` order).
    pub fn insert_params_sql(&self) -> String {
        format!(
            "INSERT INTO {} (version, name, file, checksum, sql_checksum, status, transactional, execution_ms, release_sha, error) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            self.qualified()
        )
    }

    /// A new row as text, for the one-round-trip batch of a transactional migration; the
    /// execution time is measured by the server's clock. Refuses any value that is not immune.
    pub fn insert_batch_sql(&self, row: &NewRow) -> Result<String> {
        Ok(format!(
            "INSERT INTO {t} (version, name, file, checksum, sql_checksum, status, transactional, execution_ms, release_sha, error) VALUES ({v}, {n}, {f}, {c}, {s}, {st}, {tx}, (extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int, {sha}, NULL)",
            t = self.qualified(),
            v = immune_literal(&row.version)?,
            n = immune_literal(&row.name)?,
            f = immune_literal(&row.file)?,
            c = immune_literal(&row.checksum)?,
            s = immune_literal(&row.sql_checksum)?,
            st = immune_literal(row.status.as_str())?,
            tx = row.transactional,
            sha = immune_literal(&row.release_sha)?,
        ))
    }

    /// Rows recorded by `baseline` as one multi-row insert (immune values only): applied, no SQL
    /// ran (`sql_checksum` is `baseline`, `execution_ms` 0).
    pub fn baseline_insert_sql(&self, rows: &[NewRow]) -> Result<String> {
        let values = rows
            .iter()
            .map(|r| {
                Ok(format!(
                    "({}, {}, {}, {}, {}, 'applied', true, 0, {}, NULL)",
                    immune_literal(&r.version)?,
                    immune_literal(&r.name)?,
                    immune_literal(&r.file)?,
                    immune_literal(&r.checksum)?,
                    immune_literal(BASELINE_SQL_CHECKSUM)?,
                    immune_literal(&r.release_sha)?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(format!(
            "INSERT INTO {} (version, name, file, checksum, sql_checksum, status, transactional, execution_ms, release_sha, error) VALUES\n{}",
            self.qualified(),
            values.join(",\n")
        ))
    }

    /// Marks the live row of a version reverted, by `command` (`down` or `reset`).
    pub fn revert_batch_sql(&self, version: &str) -> Result<String> {
        Ok(format!(
            "UPDATE {} SET status = 'reverted', reverted_at = now(), reverted_by = current_user, reverted_by_command = 'down' WHERE version = {} AND status = 'applied'",
            self.qualified(),
            immune_literal(version)?
        ))
    }

    /// Marks the live row of a version reverted by `down` ($1: version).
    pub fn revert_params_sql(&self) -> String {
        format!(
            "UPDATE {} SET status = 'reverted', reverted_at = now(), reverted_by = current_user, reverted_by_command = 'down' WHERE version = $1 AND status = 'applied'",
            self.qualified()
        )
    }

    /// Marks a live row failed, with a message ($1: version, $2: error): a non-transactional
    /// `down` that failed part-way leaves the migration in neither state.
    pub fn fail_live_params_sql(&self) -> String {
        format!(
            "UPDATE {} SET status = 'failed', error = $2 WHERE version = $1 AND status = 'applied'",
            self.qualified()
        )
    }

    /// A no-op write of a row, whose synchronous commit flushes the WAL through every commit
    /// before it ($1: version).
    pub fn barrier_sql(&self) -> String {
        format!(
            "UPDATE {} SET applied_at = applied_at WHERE version = $1",
            self.qualified()
        )
    }
}

/// The user objects of a database, godwit's history ($1 schema, $2 table) and what extensions
/// created left out: `(kind, name, total, is another tool's history)`, the first 20.
pub const EXISTING_SQL: &str = r"
WITH own AS (
  SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = $1 AND c.relname = $2
), user_ns AS (
  SELECT oid, nspname FROM pg_catalog.pg_namespace
   WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%'
     AND ($3::text IS NULL OR nspname = $3::text)
), from_extension AS (
  SELECT classid, objid FROM pg_catalog.pg_depend WHERE deptype = 'e'
), objects AS (
  SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
              WHEN 'f' THEN 'foreign table' ELSE 'table' END AS kind,
         quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS name,
         c.relname = ANY (ARRAY['schema_migrations', 'goose_db_version', '_sqlx_migrations', '__diesel_schema_migrations',
                                'flyway_schema_history', 'pgmigrations', '_prisma_migrations']) AS tool
    FROM pg_catalog.pg_class c JOIN user_ns n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
     AND c.oid NOT IN (SELECT oid FROM own)
     AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.objid = c.oid AND d.refobjid IN (SELECT oid FROM own))
     AND NOT EXISTS (SELECT 1 FROM from_extension e WHERE e.classid = 'pg_catalog.pg_class'::regclass AND e.objid = c.oid)
  UNION ALL
  SELECT 'type', pg_catalog.format_type(t.oid, NULL), false
    FROM pg_catalog.pg_type t JOIN user_ns n ON n.oid = t.typnamespace
   WHERE (t.typtype IN ('e', 'd', 'r', 'm')
          OR (t.typtype = 'c' AND EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c')))
     AND NOT EXISTS (SELECT 1 FROM from_extension e WHERE e.classid = 'pg_catalog.pg_type'::regclass AND e.objid = t.oid)
  UNION ALL
  SELECT 'function', p.oid::pg_catalog.regprocedure::text, false
    FROM pg_catalog.pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
   WHERE NOT EXISTS (SELECT 1 FROM from_extension e WHERE e.classid = 'pg_catalog.pg_proc'::regclass AND e.objid = p.oid)
)
SELECT kind, name, count(*) OVER (), tool FROM objects ORDER BY tool DESC, kind, name LIMIT 20";

/// What to write to the history after a migration ran outside the one-round-trip batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowWrite {
    /// A new row (applied, or failed with its message).
    Insert(NewRow),
    /// `down` undid the live row's migration.
    Revert { version: String },
    /// `down` failed part-way: the live row is marked failed.
    FailLive { version: String, error: String },
}

/// A history row to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRow {
    pub version: String,
    pub name: String,
    pub file: String,
    pub checksum: String,
    pub sql_checksum: String,
    pub status: HistoryStatus,
    pub transactional: bool,
    pub execution_ms: i32,
    pub release_sha: String,
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(schema: &str, table: &str) -> HistoryTable {
        HistoryTable::new(schema.into(), table.into()).unwrap()
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("godwit_migrations"), "\"godwit_migrations\"");
        assert_eq!(quote_ident("we\"ird name"), "\"we\"\"ird name\"");
        assert_eq!(
            h("my schema", "tä\"ble").qualified(),
            "\"my schema\".\"tä\"\"ble\""
        );
    }

    /// The lock key is a protocol between releases: never change these values.
    #[test]
    fn lock_key_is_pinned_and_per_table() {
        assert_eq!(
            h("public", "godwit_migrations").lock_key(),
            PINNED_PUBLIC_KEY
        );
        assert_ne!(
            h("public", "godwit_migrations").lock_key(),
            h("other", "godwit_migrations").lock_key()
        );
        let (hi, lo) = h("public", "godwit_migrations").lock_parts();
        assert_eq!(((hi as u64) << 32 | lo as u64) as i64, PINNED_PUBLIC_KEY);
    }
    const PINNED_PUBLIC_KEY: i64 = 2_873_364_230_597_916_043;

    #[test]
    fn names_that_postgres_would_truncate_are_refused() {
        assert!(HistoryTable::new("public".into(), "a".repeat(50)).is_ok());
        let e = HistoryTable::new("public".into(), "a".repeat(51)).unwrap_err();
        assert!(e.to_string().contains("at most 50"), "{e}");
        let e = HistoryTable::new("s".repeat(64), "t".into()).unwrap_err();
        assert!(e.to_string().contains("at most 63"), "{e}");
        // bytes, not characters
        assert!(HistoryTable::new("public".into(), "é".repeat(26)).is_err());
        assert!(HistoryTable::new("".into(), "t".into()).is_err());
        assert!(HistoryTable::new("public".into(), "a\0b".into()).is_err());
    }

    #[test]
    fn the_schema_is_created_only_when_missing() {
        let t = h("public", "godwit_migrations");
        assert!(!t.ensure_sql(false).contains("CREATE SCHEMA"));
        assert!(t.ensure_sql(true).starts_with("CREATE SCHEMA \"public\";"));
    }

    #[test]
    fn batch_values_must_be_immune_to_session_settings() {
        let row = NewRow {
            version: "1700000000001".into(),
            name: "add_users".into(),
            file: "1700000000001_add_users.mjs".into(),
            checksum: "ab".repeat(32),
            sql_checksum: "cd".repeat(32),
            status: HistoryStatus::Applied,
            transactional: true,
            execution_ms: 0,
            release_sha: "v1.2-rc_3".into(),
            error: None,
        };
        let t = h("public", "godwit_migrations");
        let sql = t.insert_batch_sql(&row).unwrap();
        assert!(sql.contains("'1700000000001_add_users.mjs'") && sql.contains("'applied'"));
        for bad in ["a'b", "a\\b", "a\nb", "é"] {
            let evil = NewRow {
                release_sha: bad.into(),
                ..row.clone()
            };
            assert!(t.insert_batch_sql(&evil).is_err(), "{bad:?}");
        }
        assert!(t.revert_batch_sql("1'; DROP TABLE x; --").is_err());
    }
}
