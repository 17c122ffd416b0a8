//! The SQL text the runner sends around a migration, pure. Every migration's round trip first
//! checks that it runs on the job's server session (a pooler in transaction mode may send it to
//! another client's, where nothing of it may run: `db::pooler`), then starts from the job's
//! session state, re-asserted in the same round trip: the authenticated role (a `SET ROLE` of an
//! earlier migration is undone), every setting reset to the session's start, then the job's
//! timeouts and the settings godwit relies on. The migration lock is checked after each
//! migration's SQL, before its history write, so a migration that released it (or reset the
//! session) stops the run instead of letting a second runner in. One check per migration is
//! enough: between one migration's check and the next migration's SQL only godwit's own
//! statements run.

use crate::db::history::HistoryTable;
use crate::db::pooler;
use crate::duration::to_pg;

/// In the lock check's error message (a failed cast: SQLSTATE 22P02).
pub const LOCK_LOST_MARKER: &str = "godwit: this session no longer holds the migration lock";

/// The job's session settings, as every migration must find them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub lock_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// `server_version_num`: `client_connection_check_interval` exists from 14.
    pub version_num: i32,
    /// The whole run's budget (`MIGRATION_TIMEOUT_SECONDS`), the longest the session may idle.
    pub budget_ms: u64,
}

impl Job {
    /// The session's bounds. Besides the job's `lock_timeout` and `statement_timeout`, these bound
    /// what a run leaves behind when its client dies mid-statement (SIGKILL, a lost node):
    /// - `client_connection_check_interval` (PostgreSQL 14+): the server notices the dead client
    ///   within a second while a statement runs, aborts it (rolling back) and ends the session,
    ///   which releases the advisory lock. Without it the orphan runs until the statement ends.
    /// - server-side TCP keepalives: a client host that vanished is noticed in about a minute.
    /// - `idle_in_transaction_session_timeout`: no transaction is left open by a stopped client.
    /// - `standard_conforming_strings`: on, as godwit's own statements are written for it.
    /// - `idle_session_timeout` (PostgreSQL 14+): the run's budget. A server, database or role
    ///   that reaps idle sessions after seconds (a common setting for application connections)
    ///   otherwise ended the job's session while Node rendered a slow module, between statements:
    ///   the run failed `CONNECTION_LOST`, and every retry the same way.
    /// - `transaction_timeout` (PostgreSQL 17+): the run's budget too, for the same reason: one
    ///   set for application sessions ended the session under a migration that took longer.
    pub fn settings(&self) -> String {
        let mut sql = self.every_version();
        for (name, value, since) in self.versioned() {
            if self.version_num >= since {
                sql.push_str(&format!("; SET {name} = '{value}'"));
            }
        }
        sql
    }

    /// `settings()` for a server whose version is not known yet, so they can travel in the
    /// round trip that asks for it: the settings that exist only from some version on are set by
    /// the server itself when its `server_version_num` has them (a row filtered out by `WHERE`
    /// is never projected, so `set_config` never sees a name the server does not know). The
    /// session ends up as `settings()` for its version leaves it.
    pub fn settings_for_any_version(&self) -> String {
        let rows = self
            .versioned()
            .iter()
            .map(|(name, value, since)| format!("('{name}', '{value}', {since})"))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            "{}; SELECT pg_catalog.set_config(s.name, s.value, false) FROM (VALUES {rows}) AS s(name, value, since) WHERE pg_catalog.current_setting('server_version_num')::int >= s.since",
            self.every_version()
        )
    }

    /// The settings every supported server has.
    fn every_version(&self) -> String {
        format!(
            "SET lock_timeout = '{}'; SET statement_timeout = '{}'; SET idle_in_transaction_session_timeout = '{}'; SET standard_conforming_strings = on; SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
            to_pg(self.lock_timeout_ms),
            to_pg(self.statement_timeout_ms),
            to_pg(self.statement_timeout_ms.max(60_000))
        )
    }

    /// The settings that exist from some `server_version_num` on: name, value, since.
    fn versioned(&self) -> [(&'static str, String, i32); 3] {
        [
            ("client_connection_check_interval", "1s".into(), 140_000),
            ("idle_session_timeout", self.budget(), 140_000),
            ("transaction_timeout", self.budget(), 170_000),
        ]
    }

    /// The budget as a server timeout: the server's limit is INT_MAX ms (24.8 days), and a
    /// budget may be 30 days.
    fn budget(&self) -> String {
        to_pg(self.budget_ms.min(i32::MAX as u64))
    }

    /// Back to the job's state: the authenticated role, every setting as the session started,
    /// then the job's settings.
    pub fn reassert(&self) -> String {
        format!(
            "SET SESSION AUTHORIZATION DEFAULT; RESET ROLE; RESET ALL; {}",
            self.settings()
        )
    }
}

/// A statement that fails (aborting the rest of its round trip) unless this session holds the
/// migration lock. The run holds it twice (`Session::try_lock` takes it twice), so releasing it
/// once here answers whether this session held it (`pg_advisory_unlock` is true only then) while
/// leaving it held, and taking it again restores the count (re-entrant: immediate). Two
/// operations on the session's own lock, where reading `pg_locks` (a snapshot of every backend's
/// locks) cost about 0.15 ms per migration here, the costliest part of a small migration's round
/// trip. A migration that released the lock once leaves it held; one that released it twice, or
/// everything (`pg_advisory_unlock_all()`, `DISCARD ALL`), is caught, and so is a second runner
/// that took it meanwhile (the retake fails). A cast, not a DO block: no PL/pgSQL needed, and the
/// CASE is not constant, so the cast is evaluated only on the failing branch.
pub fn lock_check(h: &HistoryTable) -> String {
    let key = h.lock_key();
    format!(
        "SELECT (CASE WHEN pg_catalog.pg_advisory_unlock({key}) AND pg_catalog.pg_try_advisory_lock({key}) THEN '1' ELSE '{LOCK_LOST_MARKER}' END)::int"
    )
}

/// Whether a server error is the lock check's.
pub fn is_lock_lost(message: &str) -> bool {
    message.contains(LOCK_LOST_MARKER)
}

/// A migration's own `lockTimeout`/`statementTimeout`, `SET LOCAL` in a transaction.
fn overrides(local: bool, lock_ms: Option<u64>, statement_ms: Option<u64>) -> String {
    let scope = if local { "LOCAL " } else { "" };
    let mut s = String::new();
    if let Some(ms) = lock_ms {
        s.push_str(&format!("SET {scope}lock_timeout = '{}';\n", to_pg(ms)));
    }
    if let Some(ms) = statement_ms {
        s.push_str(&format!(
            "SET {scope}statement_timeout = '{}';\n",
            to_pg(ms)
        ));
    }
    s
}

/// One transactional migration as one round trip: its SQL, its history statement and the commit
/// travel together, so they commit together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxBatch {
    pub sql: String,
    /// Characters before the migration's SQL (server error positions count characters).
    pub body_start: usize,
    pub body_chars: usize,
}

impl TxBatch {
    /// Where a server error position falls: inside the migration's SQL (and where in it), or in
    /// godwit's own statements around it.
    pub fn locate(&self, position: u32) -> Located {
        let p = (position as usize).saturating_sub(1);
        if p >= self.body_start && p <= self.body_start + self.body_chars {
            Located::Body((p - self.body_start) as u32 + 1)
        } else {
            Located::Ours
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Located {
    /// 1-based character position inside the migration's SQL.
    Body(u32),
    /// godwit's own statements (the session reset, the lock check, the history write).
    Ours,
}

pub struct TxParts<'a> {
    pub job: Job,
    /// The server session the run described at connection and took the lock on: the round trip
    /// stops before anything in it runs when a pooler sent it to another (`pooler::same_session`).
    pub pid: i32,
    pub lock_check: &'a str,
    pub body: &'a str,
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    /// All but the run's last transactional migration commit without waiting for the WAL flush;
    /// the last (synchronous) commit flushes the WAL through every earlier one.
    pub async_commit: bool,
    /// The history statement: a new row for up, marking the live row reverted for down.
    pub history: &'a str,
}

pub fn transactional(p: &TxParts) -> TxBatch {
    let prefix = format!(
        "{};\n{};\nBEGIN;\n{}{}",
        pooler::same_session(p.pid),
        p.job.reassert(),
        if p.async_commit {
            "SET LOCAL synchronous_commit = off;\n"
        } else {
            ""
        },
        overrides(true, p.lock_timeout_ms, p.statement_timeout_ms),
    );
    // After the SQL, godwit's own statements run as the job again, whatever role or settings the
    // migration chose for itself.
    let suffix = format!(
        "\n;\nSET SESSION AUTHORIZATION DEFAULT; RESET ROLE; SET LOCAL standard_conforming_strings = on; SET LOCAL lock_timeout = '{}'; SET LOCAL statement_timeout = '{}';\n{};\n{};\nCOMMIT;",
        to_pg(p.job.lock_timeout_ms),
        to_pg(p.job.statement_timeout_ms),
        p.lock_check,
        p.history
    );
    TxBatch {
        body_start: prefix.chars().count(),
        body_chars: p.body.chars().count(),
        sql: format!("{prefix}{}{suffix}", p.body),
    }
}

/// Before a non-transactional migration (its one statement cannot share a round trip: a
/// multi-statement query is an implicit transaction block): the job's state and the migration's
/// own timeouts for this session until the next reset. The lock is checked after the statement.
/// Through a pooler in transaction mode the statement's own round trip could still land on
/// another server session after this one passed; the lock check after it then stops the run.
pub fn non_transactional_prelude(
    job: Job,
    pid: i32,
    lock_timeout_ms: Option<u64>,
    statement_timeout_ms: Option<u64>,
) -> String {
    format!(
        "{};\n{};\n{}",
        pooler::same_session(pid),
        job.reassert(),
        overrides(false, lock_timeout_ms, statement_timeout_ms)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const JOB: Job = Job {
        lock_timeout_ms: 5000,
        statement_timeout_ms: 900_000,
        version_num: 180_000,
        budget_ms: 1_800_000,
    };

    fn h() -> HistoryTable {
        HistoryTable::new("public".into(), "godwit_migrations".into()).unwrap()
    }

    #[test]
    fn every_migration_starts_from_the_jobs_session() {
        let r = JOB.reassert();
        let order = [
            "SET SESSION AUTHORIZATION DEFAULT",
            "RESET ROLE",
            "RESET ALL",
            "SET lock_timeout = '5000ms'",
            "SET statement_timeout = '900000ms'",
            "SET standard_conforming_strings = on",
            "SET client_connection_check_interval = '1s'",
            "SET idle_session_timeout = '1800000ms'",
        ];
        let mut at = 0;
        for part in order {
            let i = r[at..]
                .find(part)
                .unwrap_or_else(|| panic!("{part} after {at} in {r}"));
            at += i;
        }
        assert!(r.ends_with("SET transaction_timeout = '1800000ms'"), "{r}");
        let pg16 = Job {
            version_num: 160_000,
            ..JOB
        };
        assert!(!pg16.reassert().contains("transaction_timeout"));
        let huge = Job {
            budget_ms: 30 * 86_400_000,
            ..JOB
        };
        assert!(
            huge.settings()
                .contains("idle_session_timeout = '2147483647ms'")
        );
        let old = Job {
            version_num: 130_000,
            ..JOB
        };
        assert!(!old.reassert().contains("client_connection_check_interval"));
        assert!(!old.reassert().contains("idle_session_timeout"));
    }

    #[test]
    fn settings_for_any_version_set_what_settings_sets_for_each_version() {
        let any = JOB.settings_for_any_version();
        // every setting every version has is a SET, as in settings() for any version
        let old = Job {
            version_num: 130_000,
            ..JOB
        };
        assert!(
            any.starts_with(&format!("{}; SELECT", old.settings())),
            "{any}"
        );
        // each versioned one is a row with the version it exists from, in settings()'s order
        let mut at = 0;
        for row in [
            "('client_connection_check_interval', '1s', 140000)",
            "('idle_session_timeout', '1800000ms', 140000)",
            "('transaction_timeout', '1800000ms', 170000)",
        ] {
            at += any[at..]
                .find(row)
                .unwrap_or_else(|| panic!("{row} after {at} in {any}"));
        }
        assert!(
            any.ends_with("WHERE pg_catalog.current_setting('server_version_num')::int >= s.since")
        );
        // and what settings() sets on an 18 is exactly those rows as SETs
        assert!(JOB.settings().ends_with(
            "; SET client_connection_check_interval = '1s'; SET idle_session_timeout = '1800000ms'; SET transaction_timeout = '1800000ms'"
        ));
    }

    #[test]
    fn the_lock_is_checked_after_the_sql_and_before_the_history_write() {
        let check = lock_check(&h());
        let b = transactional(&TxParts {
            job: JOB,
            pid: 41,
            lock_check: &check,
            body: "CREATE TABLE t (id int)",
            lock_timeout_ms: Some(100),
            statement_timeout_ms: None,
            async_commit: true,
            history: "INSERT INTO h VALUES (1)",
        });
        let s = &b.sql;
        // nothing runs before the check that this is the job's server session
        assert!(
            s.starts_with(&format!("{};\n", pooler::same_session(41))),
            "{s}"
        );
        let begin = s.find("BEGIN;").unwrap();
        let body = s.find("CREATE TABLE t").unwrap();
        let check_at = s.find(&check).unwrap();
        assert_eq!(s.matches(&check).count(), 1, "one check per migration");
        let history = s.find("INSERT INTO h").unwrap();
        assert!(s.find("RESET ALL").unwrap() < begin);
        assert!(begin < body && body < check_at);
        assert!(check_at < history && history < s.find("COMMIT;").unwrap());
        assert!(s.contains("SET LOCAL synchronous_commit = off"));
        assert!(s.contains("SET LOCAL lock_timeout = '100ms'"));
        // godwit's own statements run as the job, whatever the migration did to its role
        let reset_role = s.rfind("RESET ROLE").unwrap();
        assert!(body < reset_role && reset_role < history);
        // the body is where `locate` says
        assert_eq!(
            &s[b.body_start..b.body_start + b.body_chars],
            "CREATE TABLE t (id int)"
        );
        assert_eq!(b.locate(b.body_start as u32 + 1), Located::Body(1));
        assert_eq!(b.locate(1), Located::Ours);
        assert_eq!(b.locate((s.chars().count() - 3) as u32), Located::Ours);
    }

    #[test]
    fn a_non_transactional_prelude_checks_the_session_before_setting_anything() {
        let p = non_transactional_prelude(JOB, 41, Some(100), None);
        assert!(
            p.starts_with(&format!(
                "{};\n{}",
                pooler::same_session(41),
                JOB.reassert()
            )),
            "{p}"
        );
        assert!(p.ends_with("SET lock_timeout = '100ms';\n"), "{p}");
    }

    #[test]
    fn positions_count_characters_not_bytes() {
        let check = lock_check(&h());
        let b = transactional(&TxParts {
            job: JOB,
            pid: 41,
            lock_check: &check,
            body: "SELECT 'é'; SELECT nope",
            lock_timeout_ms: None,
            statement_timeout_ms: None,
            async_commit: false,
            history: "SELECT 1",
        });
        // "nope" is the 20th character of the body
        assert_eq!(b.locate(b.body_start as u32 + 20), Located::Body(20));
        assert!(!b.sql.contains("synchronous_commit"));
    }

    #[test]
    fn the_lock_check_releases_once_and_retakes_and_is_recognised() {
        let check = lock_check(&h());
        let key = h().lock_key();
        assert!(
            check.contains(&format!("WHEN pg_catalog.pg_advisory_unlock({key}) AND pg_catalog.pg_try_advisory_lock({key}) THEN '1'")),
            "{check}"
        );
        assert!(check.contains(LOCK_LOST_MARKER));
        assert!(is_lock_lost(&format!(
            "invalid input syntax for type integer: \"{LOCK_LOST_MARKER}\""
        )));
        assert!(!is_lock_lost("relation does not exist"));
    }
}
