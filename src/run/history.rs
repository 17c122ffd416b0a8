//! What the history records for each mode and result, pure: the row a transactional batch
//! carries, the row written after a non-transactional migration, the status that proves a
//! migration committed, and the report state each ends in.

use crate::db::history::{HistoryTable, NewRow, RowWrite};
use crate::error::Result;
use crate::files::MigrationFile;
use crate::plan::HistoryStatus;
use crate::settings::Mode;

use super::report::EntryState;

/// What ran, for the history row.
pub struct Ran<'a> {
    pub file: &'a MigrationFile,
    pub sql_checksum: &'a str,
    pub transactional: bool,
    pub release_sha: &'a str,
}

/// How a non-transactional migration's statement ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Finished {
        ms: i32,
    },
    /// The server refused it, or it left an INVALID index: recorded as failed so the next run
    /// stops and asks a person to look (fail closed).
    Failed {
        ms: i32,
        message: String,
    },
    /// Nothing tells whether it finished: recorded as failed, for the same reason.
    Lost {
        ms: i32,
        why: String,
    },
}

/// The state a migration that this run completed ends in.
pub fn done_state(mode: &Mode) -> EntryState {
    if mode.reverts() {
        EntryState::Reverted
    } else {
        EntryState::Applied
    }
}

/// The history status that proves this run's work on a migration committed.
pub fn done_status(mode: &Mode) -> HistoryStatus {
    if mode.reverts() {
        HistoryStatus::Reverted
    } else {
        HistoryStatus::Applied
    }
}

fn new_row(ran: &Ran, status: HistoryStatus, ms: i32, error: Option<String>) -> NewRow {
    NewRow {
        version: ran.file.version.clone(),
        name: ran.file.name.clone(),
        file: ran.file.file.clone(),
        checksum: ran.file.checksum.clone(),
        sql_checksum: ran.sql_checksum.to_string(),
        status,
        transactional: ran.transactional,
        execution_ms: ms,
        release_sha: ran.release_sha.to_string(),
        error,
    }
}

/// The history statement of a transactional migration's batch (immune values only).
pub fn batch_statement(mode: &Mode, h: &HistoryTable, ran: &Ran) -> Result<String> {
    if mode.reverts() {
        h.revert_batch_sql(&ran.file.version)
    } else {
        h.insert_batch_sql(&new_row(ran, HistoryStatus::Applied, 0, None))
    }
}

/// The write after a non-transactional migration, and the state it leaves the migration in.
pub fn after_statement(mode: &Mode, ran: &Ran, result: &Ended) -> (RowWrite, EntryState) {
    let version = ran.file.version.clone();
    match (mode.reverts(), result) {
        (false, Ended::Finished { ms }) => (
            RowWrite::Insert(new_row(ran, HistoryStatus::Applied, *ms, None)),
            EntryState::Applied,
        ),
        (false, Ended::Failed { ms, message }) => (
            RowWrite::Insert(new_row(
                ran,
                HistoryStatus::Failed,
                *ms,
                Some(message.clone()),
            )),
            EntryState::Failed,
        ),
        (false, Ended::Lost { ms, why }) => (
            RowWrite::Insert(new_row(
                ran,
                HistoryStatus::Failed,
                *ms,
                Some(format!("the session was lost: {why}")),
            )),
            EntryState::Failed,
        ),
        (true, Ended::Finished { .. }) => (RowWrite::Revert { version }, EntryState::Reverted),
        (true, Ended::Failed { message, .. }) => (
            RowWrite::FailLive {
                version,
                error: format!("down failed: {message}"),
            },
            EntryState::Failed,
        ),
        (true, Ended::Lost { why, .. }) => (
            RowWrite::FailLive {
                version,
                error: format!("down: the session was lost: {why}"),
            },
            EntryState::Failed,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> MigrationFile {
        MigrationFile {
            file: "1700000000001_idx.mjs".into(),
            version: "1700000000001".into(),
            name: "idx".into(),
            checksum: "ab".repeat(32),
        }
    }

    /// Every mode x result of a non-transactional migration: the row, and the state. A failed
    /// `down` must never be recorded as reverted.
    #[test]
    fn rows_per_mode_and_result() {
        let f = file();
        let ran = Ran {
            file: &f,
            sql_checksum: "cd",
            transactional: false,
            release_sha: "sha",
        };
        let finished = Ended::Finished { ms: 5 };
        let failed = Ended::Failed {
            ms: 5,
            message: "boom".into(),
        };
        let lost = Ended::Lost {
            ms: 5,
            why: "network".into(),
        };
        let kind = |w: &RowWrite| match w {
            RowWrite::Insert(r) => format!("insert {}", r.status.as_str()),
            RowWrite::Revert { .. } => "revert".into(),
            RowWrite::FailLive { .. } => "fail-live".into(),
        };
        let table = [
            (Mode::Up, &finished, "insert applied", EntryState::Applied),
            (Mode::Up, &failed, "insert failed", EntryState::Failed),
            (Mode::Up, &lost, "insert failed", EntryState::Failed),
            (
                Mode::Reset,
                &finished,
                "insert applied",
                EntryState::Applied,
            ),
            (Mode::Reset, &failed, "insert failed", EntryState::Failed),
            (
                Mode::Down { count: 1 },
                &finished,
                "revert",
                EntryState::Reverted,
            ),
            (
                Mode::Down { count: 1 },
                &failed,
                "fail-live",
                EntryState::Failed,
            ),
            (
                Mode::Down { count: 1 },
                &lost,
                "fail-live",
                EntryState::Failed,
            ),
        ];
        for (mode, result, want_row, want_state) in table {
            let (w, state) = after_statement(&mode, &ran, result);
            assert_eq!(
                (kind(&w).as_str(), state),
                (want_row, want_state),
                "{mode:?} {result:?}"
            );
        }
        let (w, _) = after_statement(&Mode::Up, &ran, &lost);
        let RowWrite::Insert(row) = w else { panic!() };
        assert_eq!(row.error.as_deref(), Some("the session was lost: network"));
    }

    #[test]
    fn what_proves_a_commit() {
        assert_eq!(done_status(&Mode::Up), HistoryStatus::Applied);
        assert_eq!(done_status(&Mode::Reset), HistoryStatus::Applied);
        assert_eq!(
            done_status(&Mode::Down { count: 0 }),
            HistoryStatus::Reverted
        );
        assert_eq!(done_state(&Mode::Down { count: 2 }), EntryState::Reverted);
        let h = HistoryTable::new("public".into(), "godwit_migrations".into()).unwrap();
        let f = file();
        let ran = Ran {
            file: &f,
            sql_checksum: "cd",
            transactional: true,
            release_sha: "sha",
        };
        assert!(
            batch_statement(&Mode::Up, &h, &ran)
                .unwrap()
                .starts_with("INSERT")
        );
        assert!(
            batch_statement(&Mode::Down { count: 1 }, &h, &ran)
                .unwrap()
                .starts_with("UPDATE")
        );
    }
}
