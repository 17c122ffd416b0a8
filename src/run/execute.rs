//! Running one migration and learning what became of it. A transactional migration is one round
//! trip (session reset, its SQL, lock check, history row, COMMIT), so its history row
//! says whether it committed. A non-transactional one runs alone; its row is written after it,
//! with parameters, and a write that fails is an error, never ignored.

use std::time::{Duration, Instant};

use crate::contract::modules::MigrationConfig;
use crate::db::history::HistoryTable;
use crate::db::{Answer, Connector, DbError, Session, pooler};
use crate::error::{Error, Result};
use crate::files::MigrationFile;
use crate::files::checksum::sha256_raw;
use crate::settings::Mode;

use super::batch::{self, Job, Located, TxParts};
use super::failure;
use super::guard::{Guard, Stop};
use super::history::{self, Ended, Ran};
use super::recover;
use super::report::{EntryState, FailureDetail};

/// What the runner holds while it runs migrations.
pub struct Ctx<'a, C: Connector> {
    pub connector: &'a C,
    pub session: &'a mut C::Session,
    pub guard: &'a Guard,
    pub mode: &'a Mode,
    pub h: &'a HistoryTable,
    pub job: Job,
    pub release_sha: &'a str,
}

/// One migration, rendered and judged.
pub struct Step<'a> {
    pub file: &'a MigrationFile,
    pub chunks: &'a [String],
    /// The file's text, to point failures at its lines.
    pub source: Option<&'a str>,
    pub config: &'a MigrationConfig,
    pub builds_index: Option<&'a (String, String)>,
    /// Commit without waiting for the WAL flush (all but the run's last transactional one).
    pub async_commit: bool,
}

/// What became of one migration.
#[derive(Debug)]
pub enum Fate {
    /// Applied (or reverted) and recorded.
    Done,
    /// The server refused its SQL; the run stops with `error`.
    Failed {
        detail: FailureDetail,
        state: EntryState,
        error: Error,
    },
    /// The run stops (budget, signal, lost session, lost lock); `state` is what the migration
    /// is now.
    Stopped {
        state: EntryState,
        error: Error,
        detail: Option<FailureDetail>,
    },
}

impl Fate {
    fn stopped(state: EntryState, error: Error) -> Fate {
        Fate::Stopped {
            state,
            error,
            detail: None,
        }
    }
}

fn stop_error(guard: &Guard, stop: Stop, said: &str) -> Error {
    match stop {
        Stop::Budget => {
            Error::BudgetExhausted(format!("MIGRATION_TIMEOUT_SECONDS ran out: {said}"))
        }
        Stop::Signal => Error::Interrupted(format!(
            "{}: {said}",
            guard.signalled().unwrap_or_else(|| "cancelled".into())
        )),
    }
}

fn lock_lost(file: &str, what_now: &str) -> Error {
    Error::LockLost(format!(
        "the migration lock was released while {file} ran (a statement unlocked it or reset the session; `check` reports it as session-state); {what_now}. The run stops: another runner may have started"
    ))
}

/// A migration's round trip landed on another server session (a pooler in transaction mode that
/// kept the job on one session until now): nothing of it ran there. The lock stays with the
/// described session, which the pooler now lends to other clients, until the pooler closes it.
fn moved<C: Connector>(ctx: &Ctx<'_, C>, file: &str, other: i32) -> Error {
    let pid = ctx.session.info().backend.pid;
    Error::Config(pooler::explain(
        pid,
        pooler::Seen::Moved(other),
        &format!(
            "nothing of {file} ran, later migrations were not attempted (those before it are applied); {}",
            pooler::left_with(pid)
        ),
    ))
}

/// How long a bookkeeping step may take: the rest of the budget, or a second once stopping.
fn cap(guard: &Guard, stopping: bool) -> Duration {
    let cap = if stopping {
        recover::AFTER_STOP
    } else {
        guard
            .remaining()
            .clamp(Duration::from_secs(1), recover::AFTER_LOSS)
    };
    // never past the budget's end
    cap.min(guard.until_end())
}

/// What became of a transactional batch, learned rather than assumed.
enum Committed {
    Yes,
    No(Option<DbError>),
    Unknown(String),
}

pub async fn transactional<C: Connector>(ctx: &mut Ctx<'_, C>, step: &Step<'_>) -> Fate {
    let body = step.chunks.join(failure::CHUNK_SEPARATOR);
    let sql_checksum = sha256_raw(body.as_bytes());
    let ran = Ran {
        file: step.file,
        sql_checksum: &sql_checksum,
        transactional: true,
        release_sha: ctx.release_sha,
    };
    let history_sql = match history::batch_statement(ctx.mode, ctx.h, &ran) {
        Ok(s) => s,
        Err(e) => return Fate::stopped(EntryState::Pending, e),
    };
    let check = batch::lock_check(ctx.h);
    let b = batch::transactional(&TxParts {
        job: ctx.job,
        pid: ctx.session.info().backend.pid,
        lock_check: &check,
        body: &body,
        lock_timeout_ms: step.config.lock_timeout_ms,
        statement_timeout_ms: step.config.statement_timeout_ms,
        async_commit: step.async_commit,
        history: &history_sql,
    });
    let cancel = ctx.session.canceller();
    let (stop, answer) = ctx
        .guard
        .statement(ctx.session.batch(&b.sql), &cancel)
        .await;
    let (committed, lost) = match answer {
        Some(Answer::Finished) => (Committed::Yes, false),
        Some(Answer::Error(e)) => {
            let _ =
                tokio::time::timeout(Duration::from_secs(1), ctx.session.batch("ROLLBACK")).await;
            (Committed::No(Some(e)), false)
        }
        Some(Answer::Lost(why)) => (learn(ctx, step, stop.is_some(), &why).await, true),
        None => (
            learn(ctx, step, true, "no answer after the cancel request").await,
            true,
        ),
    };
    fate_of_batch(ctx, step, &b, stop, committed, lost)
}

/// What a transactional migration's batch came to: the stop (if any), whether it committed as
/// learned, and whether the run's session was lost on the way.
fn fate_of_batch<C: Connector>(
    ctx: &Ctx<'_, C>,
    step: &Step<'_>,
    b: &batch::TxBatch,
    stop: Option<Stop>,
    committed: Committed,
    lost: bool,
) -> Fate {
    let file = &step.file.file;
    match (stop, committed) {
        // the run's session is gone: nothing more runs on it
        (None, Committed::Yes) if lost => Fate::stopped(
            history::done_state(ctx.mode),
            Error::ConnectionLost(format!(
                "the session was lost after {file} committed (a new session found its history row), so it is applied; later migrations were not attempted: run up again"
            )),
        ),
        (None, Committed::Yes) => Fate::Done,
        (None, Committed::No(Some(e))) => refused(ctx, step, b, e),
        (None, Committed::No(None)) => Fate::stopped(
            EntryState::Cancelled,
            Error::ConnectionLost(format!(
                "the session was lost while {file} ran; it was rolled back (its history row is absent), so run up again"
            )),
        ),
        (None, Committed::Unknown(why)) => Fate::stopped(
            EntryState::Unknown,
            Error::ConnectionLost(format!(
                "the session was lost while {file} ran ({why}); whether it committed is unknown: its history row commits with it, so `pnpm db:migrate:status` tells"
            )),
        ),
        (Some(stop), Committed::Yes) => Fate::stopped(
            history::done_state(ctx.mode),
            stop_error(
                ctx.guard,
                stop,
                &format!(
                    "{file} had already committed when the cancel arrived, so it is applied; later migrations were not attempted"
                ),
            ),
        ),
        (Some(stop), Committed::No(_)) => Fate::stopped(
            EntryState::Cancelled,
            stop_error(
                ctx.guard,
                stop,
                &format!("the running statement of {file} was cancelled and rolled back"),
            ),
        ),
        (Some(stop), Committed::Unknown(why)) => Fate::stopped(
            EntryState::Unknown,
            stop_error(
                ctx.guard,
                stop,
                &format!(
                    "{file} was cancelled but the server did not confirm the outcome ({why}); its history row commits with it, so `pnpm db:migrate:status` tells whether it applied"
                ),
            ),
        ),
    }
}

/// The batch's answer was lost: a fresh session, holding the lock, reads the history row.
async fn learn<C: Connector>(
    ctx: &mut Ctx<'_, C>,
    step: &Step<'_>,
    stopping: bool,
    why: &str,
) -> Committed {
    let old = ctx.session.info().backend.clone();
    match recover::learn_fate(
        ctx.connector,
        &old,
        ctx.h,
        ctx.job,
        &step.file.version,
        cap(ctx.guard, stopping),
    )
    .await
    {
        Ok(Some(status)) if status == history::done_status(ctx.mode) => Committed::Yes,
        Ok(_) => Committed::No(None),
        Err(e) => Committed::Unknown(format!("{why}; asking a new session failed too: {e}")),
    }
}

/// The server refused the batch: the migration's SQL, the lock check, or the history write.
fn refused<C: Connector>(
    ctx: &Ctx<'_, C>,
    step: &Step<'_>,
    b: &batch::TxBatch,
    e: DbError,
) -> Fate {
    let file = &step.file.file;
    if let Some(other) = pooler::moved_to(&e.message) {
        return Fate::stopped(EntryState::Pending, moved(ctx, file, other));
    }
    if batch::is_lock_lost(&e.message) {
        return Fate::stopped(EntryState::Cancelled, lock_lost(file, "it was rolled back"));
    }
    let located = e.position.map(|p| b.locate(p));
    let index = format!("{}_live_version", ctx.h.table);
    if located == Some(Located::Ours) || e.message.contains(&index) {
        return Fate::stopped(
            EntryState::Cancelled,
            Error::Integrity(format!(
                "{file} was rolled back because recording it in the history table {} failed: {}; the history table was dropped, altered or written by someone else during the run. Restore it (it is the record of what was applied) before running up again",
                ctx.h.qualified(),
                e.describe()
            )),
        );
    }
    let position = match located {
        Some(Located::Body(p)) => Some(p),
        _ => None,
    };
    let detail = failure::detail(file, &e, position, step.chunks, step.source);
    let error = Error::MigrationFailed(format!(
        "{}; later migrations were not attempted",
        failure::summary(&detail)
    ));
    Fate::Failed {
        detail,
        state: EntryState::Failed,
        error,
    }
}

pub async fn non_transactional<C: Connector>(ctx: &mut Ctx<'_, C>, step: &Step<'_>) -> Fate {
    let file = &step.file.file;
    let body = step.chunks.join(failure::CHUNK_SEPARATOR);
    let sql_checksum = sha256_raw(body.as_bytes());
    if let Err(fate) = prelude(ctx, step).await {
        return fate;
    }
    let t0 = Instant::now();
    let cancel = ctx.session.canceller();
    let (stop, answer) = ctx.guard.statement(ctx.session.batch(&body), &cancel).await;
    let ms = t0.elapsed().as_millis().min(i32::MAX as u128) as i32;
    let mut server_error = None;
    let ended = match answer {
        Some(Answer::Finished) => built_index_is_valid(ctx, step, ms).await,
        Some(Answer::Error(e)) => {
            let message = e.message.clone();
            server_error = Some(e);
            Ended::Failed { ms, message }
        }
        Some(Answer::Lost(why)) => Ended::Lost { ms, why },
        None => Ended::Lost {
            ms,
            why: "no answer after the cancel request".into(),
        },
    };
    let ran = Ran {
        file: step.file,
        sql_checksum: &sql_checksum,
        transactional: false,
        release_sha: ctx.release_sha,
    };
    let (write, state) = history::after_statement(ctx.mode, &ran, &ended);
    let stopping = stop.is_some();
    let recorded = match &ended {
        Ended::Lost { .. } => {
            let old = ctx.session.info().backend.clone();
            recover::record(
                ctx.connector,
                &old,
                ctx.h,
                ctx.job,
                &write,
                cap(ctx.guard, stopping),
            )
            .await
        }
        _ => bounded(cap(ctx.guard, stopping), ctx.session.record(ctx.h, &write)).await,
    };
    let state = if recorded.is_ok() {
        state
    } else {
        EntryState::Unknown
    };
    let detail = failure_detail(ctx, step, server_error, &ended, stop.is_some()).await;
    let outcome = After {
        stop,
        ended,
        recorded,
        state,
        detail,
    };
    if let Some(fate) = still_locked(ctx, file, &outcome).await {
        return fate;
    }
    judge_after(ctx.guard, file, outcome)
}

async fn bounded<T>(cap: Duration, f: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(cap, f)
        .await
        .map_err(|_| Error::ConnectionLost(format!("no answer within {} s", cap.as_secs())))?
}

/// The job's session state and the migration's own timeouts, before its statement. Nothing of
/// the migration has run if this fails.
async fn prelude<C: Connector>(
    ctx: &mut Ctx<'_, C>,
    step: &Step<'_>,
) -> std::result::Result<(), Fate> {
    let file = &step.file.file;
    let sql = batch::non_transactional_prelude(
        ctx.job,
        ctx.session.info().backend.pid,
        step.config.lock_timeout_ms,
        step.config.statement_timeout_ms,
    );
    let before = format!("before {file} started; nothing of it ran");
    match ctx.guard.race(ctx.session.batch(&sql)).await {
        Ok(Answer::Finished) => Ok(()),
        Ok(Answer::Error(e)) => Err(Fate::stopped(
            EntryState::Pending,
            match pooler::moved_to(&e.message) {
                Some(other) => moved(ctx, file, other),
                None => Error::Db(format!("preparing the session {before}: {}", e.describe())),
            },
        )),
        Ok(Answer::Lost(why)) => Err(Fate::stopped(
            EntryState::Pending,
            Error::ConnectionLost(format!("the session was lost {before} ({why})")),
        )),
        Err(stop) => Err(Fate::stopped(
            EntryState::Pending,
            ctx.guard.error(stop, &before),
        )),
    }
}

/// The failure as the report states it, with the INVALID indexes a failed statement left.
async fn failure_detail<C: Connector>(
    ctx: &mut Ctx<'_, C>,
    step: &Step<'_>,
    server_error: Option<DbError>,
    ended: &Ended,
    stopping: bool,
) -> Option<FailureDetail> {
    let file = &step.file.file;
    let mut detail =
        server_error.map(|e| failure::detail(file, &e, e.position, step.chunks, step.source));
    if let (Ended::Failed { message, .. }, None) = (ended, &detail) {
        detail = Some(FailureDetail {
            file: file.clone(),
            message: message.clone(),
            ..Default::default()
        });
    }
    if let (Some(d), true) = (
        detail.as_mut(),
        !ctx.mode.reverts() && !matches!(ended, Ended::Lost { .. }),
    ) {
        d.invalid_indexes = bounded(cap(ctx.guard, stopping), ctx.session.invalid_indexes())
            .await
            .unwrap_or_default();
    }
    detail
}

/// `CREATE INDEX CONCURRENTLY IF NOT EXISTS` skips an index an interrupted build left INVALID
/// (a UNIQUE one then enforces nothing): the named index must be valid before the migration
/// counts as applied.
async fn built_index_is_valid<C: Connector>(
    ctx: &mut Ctx<'_, C>,
    step: &Step<'_>,
    ms: i32,
) -> Ended {
    let Some((index, table)) = step.builds_index else {
        return Ended::Finished { ms };
    };
    match bounded(cap(ctx.guard, false), ctx.session.index_valid(index, table)).await {
        Ok(Some(false)) => Ended::Failed {
            ms,
            message: format!(
                "index {index} is INVALID after the statement: an interrupted build left it, and IF NOT EXISTS skipped it"
            ),
        },
        Ok(_) => Ended::Finished { ms },
        Err(e) => Ended::Lost {
            ms,
            why: format!("checking index {index} failed: {e}"),
        },
    }
}

/// A non-transactional migration after its statement: how it ended and what was recorded.
struct After {
    stop: Option<Stop>,
    ended: Ended,
    recorded: Result<()>,
    state: EntryState,
    detail: Option<FailureDetail>,
}

/// The lock must still be held after the statement (a `DISCARD ALL` or an unlock would have
/// released it); the row is already written, since the statement did run.
async fn still_locked<C: Connector>(ctx: &mut Ctx<'_, C>, file: &str, a: &After) -> Option<Fate> {
    if matches!(a.ended, Ended::Lost { .. }) || a.recorded.is_err() {
        return None;
    }
    match bounded(
        cap(ctx.guard, a.stop.is_some()),
        ctx.session.holds_lock(ctx.h),
    )
    .await
    {
        Ok(false) => Some(Fate::Stopped {
            state: a.state,
            error: lock_lost(file, "its history row is written"),
            detail: a.detail.clone(),
        }),
        // asked on another server session: a pooler in transaction mode moved the job
        Err(e @ Error::Config(_)) => Some(Fate::Stopped {
            state: a.state,
            error: e,
            detail: a.detail.clone(),
        }),
        _ => None,
    }
}

/// A non-transactional migration the server refused (or whose index was left INVALID).
fn failed(
    detail: Option<FailureDetail>,
    state: EntryState,
    recorded: Result<()>,
    left: Option<String>,
) -> Fate {
    let detail = detail.unwrap_or_default();
    let hint = match &left {
        Some(l) => format!(
            "; it left INVALID index(es) {l}: drop them (DROP INDEX CONCURRENTLY ...), delete the failed history row, and run up again"
        ),
        None => String::new(),
    };
    let not_recorded = match recorded {
        Ok(()) => String::new(),
        Err(e) => format!(
            "; recording the failure failed too ({e}): inspect the database before running up again"
        ),
    };
    let error = Error::MigrationFailed(format!(
        "{}{hint}{not_recorded}; later migrations were not attempted",
        failure::summary(&detail)
    ));
    Fate::Failed {
        detail,
        state,
        error,
    }
}

/// The fate of a non-transactional migration, from how it ended, what was recorded and whether
/// a stop came.
fn judge_after(guard: &Guard, file: &str, a: After) -> Fate {
    let After {
        stop,
        ended,
        recorded,
        state,
        detail,
    } = a;
    let left = detail
        .as_ref()
        .filter(|d| !d.invalid_indexes.is_empty())
        .map(|d| d.invalid_indexes.join(", "));
    match (stop, &ended, recorded) {
        (_, Ended::Finished { .. }, Err(e)) => Fate::stopped(
            EntryState::Unknown,
            Error::ConnectionLost(format!(
                "{file} ran outside a transaction and finished, but recording it failed ({e}); it is applied without a history row: insert the row by hand or make the next run's copy harmless"
            )),
        ),
        (None, Ended::Finished { .. }, Ok(())) => Fate::Done,
        (Some(stop), Ended::Finished { .. }, Ok(())) => Fate::stopped(
            state,
            stop_error(
                guard,
                stop,
                &format!(
                    "{file} had already finished when the cancel arrived, so it is applied; later migrations were not attempted"
                ),
            ),
        ),
        (None, Ended::Failed { .. }, recorded) => failed(detail, state, recorded, left),
        (Some(stop), Ended::Failed { .. }, _) => {
            let left = left
                .map(|l| format!(" It left INVALID index(es) {l}."))
                .unwrap_or_default();
            Fate::Stopped {
                state,
                error: stop_error(
                    guard,
                    stop,
                    &format!(
                        "{file} was cancelled outside a transaction and is recorded as failed.{left} Resolve it as the next run says"
                    ),
                ),
                detail,
            }
        }
        (stop, Ended::Lost { why, .. }, recorded) => {
            let said = format!(
                "the session was lost while {file} ran outside a transaction ({why}); {}",
                match recorded {
                    Ok(()) => "it is recorded as failed: inspect what it left (e.g. an INVALID index), then follow the fix `pnpm db:migrate:status` shows".to_string(),
                    Err(e) => format!("recording it failed too ({e}): inspect the database before running up again"),
                }
            );
            let error = match stop {
                Some(stop) => stop_error(guard, stop, &said),
                None => Error::ConnectionLost(said),
            };
            Fate::stopped(state, error)
        }
    }
}
