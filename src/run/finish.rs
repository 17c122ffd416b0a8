//! Ending a run: what was committed without waiting for the WAL flush made durable (or said
//! lost), the lock checked and released, the session closed, all within what is left of the
//! budget.

use std::time::Duration;

use super::*;

impl<C: Connector> Runner<C> {
    /// When a run stops early, the migrations it committed asynchronously become durable before
    /// anything is reported: one synchronous write flushes the WAL through all of them. If the
    /// run's session is gone, a new session does it and says which of them the server still has
    /// (a crash loses an unflushed commit whole, with its history row); their report states are
    /// corrected, and the note is added to the error's message.
    pub(super) async fn make_durable(&mut self, e: Error) -> Error {
        let Some(last) = self.unflushed.last().cloned() else {
            return e;
        };
        let unflushed = std::mem::take(&mut self.unflushed);
        let Ok(h) = self.history() else { return e };
        let cap = if self.guard.stopped().is_some() {
            recover::AFTER_STOP
        } else {
            recover::AFTER_STOP.max(self.guard.remaining().min(recover::AFTER_LOSS))
        }
        .min(self.guard.until_end());
        if let Some(s) = self.session.as_mut().filter(|s| !s.is_closed()) {
            if let Ok(Ok(())) = tokio::time::timeout(cap, s.barrier(&h, &last)).await {
                return e;
            }
        }
        let Some(connector) = self.connector.as_ref() else {
            return e;
        };
        let want = history::done_status(&self.settings.mode);
        let (lost, unknown): (Vec<String>, Vec<String>) =
            match recover::still_there(connector, &h, &unflushed, want, cap).await {
                Ok(kept) => (
                    kept.into_iter()
                        .filter(|(_, k)| !k)
                        .map(|(v, _)| v)
                        .collect(),
                    Vec::new(),
                ),
                Err(_) => (Vec::new(), unflushed),
            };
        for m in self.report.migrations.iter_mut() {
            if lost.contains(&m.version) {
                m.state = EntryState::Cancelled;
            } else if unknown.contains(&m.version) {
                m.state = EntryState::Unknown;
            }
        }
        let mut note = String::new();
        if !lost.is_empty() {
            note.push_str(&format!(
                "; the server no longer has {} (committed, but lost before its WAL reached disk): they will be applied again",
                lost.join(", ")
            ));
        }
        if !unknown.is_empty() {
            note.push_str(&format!(
                "; whether the server kept {} is unknown until it answers: `pnpm db:migrate:status` tells",
                unknown.join(", ")
            ));
        }
        e.with_note(&note)
    }

    pub(super) async fn release(&mut self) {
        let stopping = self.guard.stopped().is_some() || !self.report.ok;
        let cap = if stopping {
            Duration::from_millis(500)
        } else {
            self.guard
                .remaining()
                .clamp(Duration::from_secs(1), Duration::from_secs(10))
        }
        .min(self.guard.until_end());
        let h = self.history();
        if let (Some(s), true, Ok(h)) = (self.session.as_mut(), self.locked, h) {
            let pid = s.info().backend.pid;
            // one bound for both: a silent session must not hold the report
            let done = tokio::time::timeout(cap, async {
                let held = s.holds_lock(&h).await;
                let released = s.unlock(h.lock_key()).await;
                (held, released)
            })
            .await;
            if let Ok((held, released)) = done {
                match held {
                    Ok(false) if self.report.ok => {
                        let e = Error::LockLost(
                            "the migration lock was no longer held at the end of the run (a migration unlocked it or reset the session); the migrations above are applied, but another runner may have run concurrently: check `pnpm db:migrate:status`".into(),
                        );
                        self.report.fail(&e);
                    }
                    // a pooler in transaction mode moved the job at the end: the migrations
                    // above are applied, but the lock is left with a pooled server session
                    Err(e @ Error::Config(_)) if self.report.ok => self.report.fail(&e),
                    _ => {}
                }
                match released {
                    Ok(()) => {
                        self.locked = false;
                        // a pooler that moved the run may lend it its own server session again
                        // for the unlock (the unlock is asked of that session only): then the
                        // lock is gone, and the error must not say it stays
                        self.report.amend_error(
                            &crate::db::pooler::left_with(pid),
                            &crate::db::pooler::released_after_all(pid),
                        );
                    }
                    Err(e @ Error::Config(_)) if self.report.ok => self.report.fail(&e),
                    Err(_) => {}
                }
            }
        }
        // dropping the session closes it (and releases any lock with it)
        self.session = None;
    }
}
