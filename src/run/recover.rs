//! When the run's session is lost (or silent), what became of the running migration is learned,
//! not assumed, from fresh sessions. A fresh session takes the migration lock *before* the lost
//! one is ended (ending it releases the lock), so a runner waiting for the lock cannot slip in
//! between and run the migration again; only then is the history read or written.

use std::time::Duration;

use crate::db::history::{HistoryTable, RowWrite};
use crate::db::{Answer, Backend, Connector, Session};
use crate::error::{Error, Result};
use crate::plan::HistoryStatus;

use super::batch::Job;

/// How long recovery may take after a stop (a signal wants an answer within about a second).
pub const AFTER_STOP: Duration = Duration::from_secs(1);
/// How long recovery may take after a lost session: a restarting server refuses connections for
/// a few seconds, and the report should say what happened rather than "unknown".
pub const AFTER_LOSS: Duration = Duration::from_secs(15);

/// A new session, retried while the server comes back, within `cap`.
async fn fresh<C: Connector>(connector: &C, cap: Duration) -> Result<C::Session> {
    let until = tokio::time::Instant::now() + cap;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        let attempt =
            tokio::time::timeout(left.min(Duration::from_secs(5)), connector.connect()).await;
        match attempt {
            Ok(Ok(s)) => return Ok(s),
            Ok(Err(e)) if left <= Duration::from_millis(500) => return Err(e),
            Err(_) if left.is_zero() => {
                return Err(Error::ConnectionLost(format!(
                    "no new session within {} s",
                    cap.as_secs()
                )));
            }
            _ => tokio::time::sleep(Duration::from_millis(500).min(left)).await,
        }
        if tokio::time::Instant::now() >= until {
            return Err(Error::ConnectionLost(format!(
                "no new session within {} s",
                cap.as_secs()
            )));
        }
    }
}

async fn bounded<T>(
    cap: Duration,
    what: &str,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(cap, f).await.map_err(|_| {
        Error::ConnectionLost(format!("{what}: no answer within {} s", cap.as_secs()))
    })?
}

/// A fresh session holding the migration lock, with `old` (the lost session) ended. The lock is
/// queued for before `old` is ended, from a second fresh session, so it passes straight from the
/// lost session to this one.
pub async fn take_over<C: Connector>(
    connector: &C,
    old: &Backend,
    h: &HistoryTable,
    job: Job,
    cap: Duration,
) -> Result<C::Session> {
    let until = tokio::time::Instant::now() + cap;
    let left = || until.saturating_duration_since(tokio::time::Instant::now());
    let mut taker = fresh(connector, cap).await?;
    let mut ender = fresh(connector, left()).await?;
    // the lock wait is bounded on the server too
    let wait = Job {
        lock_timeout_ms: left().as_millis().max(1) as u64,
        ..job
    };
    let failed = match taker.batch(&wait.settings()).await {
        Answer::Finished => None,
        Answer::Error(e) => Some(e.describe()),
        Answer::Lost(why) => Some(why),
    };
    if let Some(why) = failed {
        return Err(Error::ConnectionLost(format!(
            "preparing a new session failed: {why}"
        )));
    }
    let key = h.lock_key();
    let taker_pid = taker.info().backend.pid;
    let cap_left = left();
    let (locked, ended) = tokio::join!(
        bounded(cap_left, "waiting for the migration lock", taker.lock(key)),
        bounded(cap_left, "ending the lost session", async {
            // only once the taker is queued (or already holds it) is the old session ended
            while !ender.waits_for_lock(taker_pid, h).await? {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            ender.end_backend(old).await
        }),
    );
    ended?;
    locked?;
    Ok(taker)
}

/// The history status of `version` as a fresh session sees it, after taking over from `old`.
pub async fn learn_fate<C: Connector>(
    connector: &C,
    old: &Backend,
    h: &HistoryTable,
    job: Job,
    version: &str,
    cap: Duration,
) -> Result<Option<HistoryStatus>> {
    let mut s = take_over(connector, old, h, job, cap).await?;
    let status = bounded(cap, "reading the history", s.history_status(h, version)).await;
    let _ = bounded(
        Duration::from_secs(1),
        "releasing the lock",
        s.unlock(h.lock_key()),
    )
    .await;
    status
}

/// Writes `write` through a fresh session, after taking over from `old`.
pub async fn record<C: Connector>(
    connector: &C,
    old: &Backend,
    h: &HistoryTable,
    job: Job,
    write: &RowWrite,
    cap: Duration,
) -> Result<()> {
    let mut s = take_over(connector, old, h, job, cap).await?;
    let done = bounded(cap, "writing the history", s.record(h, write)).await;
    let _ = bounded(
        Duration::from_secs(1),
        "releasing the lock",
        s.unlock(h.lock_key()),
    )
    .await;
    done
}

/// After the run's session is gone: flushes the WAL through the asynchronously committed
/// migrations (one synchronous write) from a fresh session, and says which the server still has
/// (`Ok(None)` per version when it answered without a row: the commit was lost with the crash).
pub async fn still_there<C: Connector>(
    connector: &C,
    h: &HistoryTable,
    versions: &[String],
    want: HistoryStatus,
    cap: Duration,
) -> Result<Vec<(String, bool)>> {
    let mut s = fresh(connector, cap).await?;
    if let Some(last) = versions.last() {
        let _ = bounded(cap, "flushing the history", s.barrier(h, last)).await;
    }
    let mut out = Vec::with_capacity(versions.len());
    for v in versions {
        let status = bounded(cap, "reading the history", s.history_status(h, v)).await?;
        out.push((v.clone(), status == Some(want)));
    }
    Ok(out)
}
