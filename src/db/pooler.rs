//! A pooler in transaction mode between the job and the server (PgBouncer, pgcat, a cloud
//! provider's): every round trip may run on another client's server session, where the migration
//! lock and the job's settings are not the job's. The job pins itself to the server session it
//! described at connection: the lock is taken only there (`Session::try_lock`), and every
//! migration's round trip starts with `same_session`, which fails before anything else in it runs
//! when it landed elsewhere. A PostgreSQL session's backend never changes, so neither check can
//! fail without such a pooler.

/// What gave the pooler away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A round trip ran on this other server session.
    Moved(i32),
    /// The described server session already held the migration lock, for another client.
    Held,
}

/// The text `same_session` fails with, followed by the server session it ran on.
/// (It sits in a SQL string literal: no quote in it.)
pub(crate) const MOVED_MARKER: &str =
    "godwit: not the server session of the job; this round trip ran on ";

/// A statement that fails, aborting the rest of its round trip (a multi-statement query stops at
/// its first error), unless it runs on server session `pid`. A cast rather than a DO block: it
/// needs no PL/pgSQL and costs nothing when it passes (the CASE is not constant, so the cast is
/// evaluated only on the other branch).
pub fn same_session(pid: i32) -> String {
    format!(
        "SELECT (CASE WHEN pg_catalog.pg_backend_pid() = {pid} THEN '1' ELSE '{MOVED_MARKER}' || pg_catalog.pg_backend_pid() END)::int"
    )
}

/// The server session a `same_session` failure names, from the server's error message.
pub fn moved_to(message: &str) -> Option<i32> {
    let at = message.find(MOVED_MARKER)? + MOVED_MARKER.len();
    let digits: String = message[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What a run that was moved after taking the lock leaves behind.
pub fn left_with(pid: i32) -> String {
    format!(
        "the migration lock stays with server session {pid} until the pooler closes that session (or `SELECT pg_terminate_backend({pid})` on the server once it is idle)"
    )
}

/// What a moved run leaves when its unlock, sent only to server session `pid`, reached it after
/// all (the pooler lent that session back to the job): nothing, and the message says so rather
/// than `left_with`.
pub fn released_after_all(pid: i32) -> String {
    format!(
        "the migration lock was released after all: the run's unlock reached server session {pid} again"
    )
}

/// Why the run stopped, what that left (`consequence`), and the way out.
pub fn explain(pid: i32, seen: Seen, consequence: &str) -> String {
    let seen = match seen {
        Seen::Moved(other) => {
            format!("this session's statements ran on server session {pid}, then on {other}")
        }
        Seen::Held => format!(
            "server session {pid} already held the migration lock for another client before this run asked for it"
        ),
    };
    format!(
        "the connection reaches PostgreSQL through a pooler in transaction mode ({seen}): the migration lock and the job's timeouts need a server session of its own, so {consequence}; point the migration job's DATABASE_URL at the server itself or at a pooler in session mode; status and assertSchemaCurrent() may keep using this one (docs/connection.md)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_same_session_check_names_the_session_it_ran_on() {
        let sql = same_session(41);
        assert!(sql.contains("pg_backend_pid() = 41 THEN '1'"), "{sql}");
        assert!(!MOVED_MARKER.contains('\''));
        // as the server reports the failed cast
        let message = format!("invalid input syntax for type integer: \"{MOVED_MARKER}97\"");
        assert_eq!(moved_to(&message), Some(97));
        assert_eq!(
            moved_to("invalid input syntax for type integer: \"x\""),
            None
        );
        assert_eq!(moved_to(MOVED_MARKER), None);
    }

    #[test]
    fn the_explanation_says_what_was_seen_what_it_left_and_the_way_out() {
        let moved = explain(41, Seen::Moved(97), "nothing was run");
        assert!(
            moved.contains("(this session's statements ran on server session 41, then on 97)"),
            "{moved}"
        );
        let held = explain(41, Seen::Held, "nothing was run");
        assert!(
            held.contains("server session 41 already held the migration lock for another client"),
            "{held}"
        );
        for m in [moved, held] {
            assert!(m.contains("pooler in transaction mode"), "{m}");
            assert!(m.contains("so nothing was run;"), "{m}");
            assert!(
                m.contains("at the server itself or at a pooler in session mode"),
                "{m}"
            );
        }
    }
}
