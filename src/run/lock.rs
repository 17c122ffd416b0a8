//! Taking the migration lock: `pg_try_advisory_lock` in a loop with backoff, saying who holds it
//! while it waits, bounded by the budget and the signal like every other wait.

use std::time::{Duration, Instant};

use crate::db::Session;
use crate::db::history::HistoryTable;
use crate::error::{Error, Result};

use super::guard::{Guard, Stop};
use super::progress::Progress;

/// How long asking who holds the lock may take (a second, so it never delays a stop).
const HOLDER_BOUND: Duration = Duration::from_secs(1);

async fn holder<S: Session>(s: &mut S, key: i64) -> String {
    match tokio::time::timeout(HOLDER_BOUND, s.lock_holder(key)).await {
        Ok(Ok(Some(h))) => h,
        _ => "an unknown session".into(),
    }
}

/// Takes the lock; the milliseconds it took.
pub async fn acquire<S: Session>(
    s: &mut S,
    h: &HistoryTable,
    guard: &Guard,
    progress: &Progress,
) -> Result<u64> {
    // a stop here leaves nothing to undo: the wait may use the whole budget
    let guard = &guard.to_the_end();
    let key = h.lock_key();
    let t0 = Instant::now();
    let mut last_said: Option<Instant> = None;
    let mut wait = Duration::from_millis(100);
    loop {
        let stopped = |stop: Stop| guard.error(stop, "while waiting for the migration lock");
        match guard.race(s.try_lock(key)).await {
            Ok(Ok(true)) => {
                let ms = t0.elapsed().as_millis() as u64;
                progress.verbose(|| format!("migration lock {key} taken after {ms} ms"));
                return Ok(ms);
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return Err(e),
            Err(Stop::Budget) => {
                let who = holder(s, key).await;
                return Err(Error::LockNotAcquired(format!(
                    "the migration lock was not acquired within MIGRATION_TIMEOUT_SECONDS; it is held by {who}"
                )));
            }
            Err(stop) => return Err(stopped(stop)),
        }
        if last_said.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            let who = holder(s, key).await;
            progress.line(&format!("waiting for the migration lock, held by {who}"));
            last_said = Some(Instant::now());
        }
        if let Err(stop) = guard.nap(wait).await {
            if stop == Stop::Budget {
                continue; // the next try reports the holder
            }
            return Err(stopped(stop));
        }
        wait = (wait * 2).min(Duration::from_secs(1));
    }
}
