//! The run's two bounds: the time budget (MIGRATION_TIMEOUT_SECONDS) and the signal (SIGINT or
//! SIGTERM, forwarded by Node). Every wait of a run goes through a `Guard`, so no phase (connect,
//! TLS, authentication, the lock wait, the history read, a migration, the history write, the
//! final flush) can outlast the budget or ignore a signal.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::db::Cancel;
use crate::error::Error;

/// How long a statement gets to answer after the server was asked to cancel it. Its own answer is
/// the only thing that says whether it committed before the cancel arrived; after this, the run
/// asks a second session instead.
pub const CANCEL_GRACE: Duration = Duration::from_secs(1);

/// The part of the budget kept for what follows a stop (see `Guard::new`).
pub const RESERVE: Duration = Duration::from_secs(5);

/// What stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Budget,
    Signal,
}

/// How long what follows a signal may take in all (the cancel, learning what happened, the
/// report): a signal is answered within about a second, whatever the server does.
pub const AFTER_SIGNAL: Duration = Duration::from_millis(1500);

#[derive(Clone)]
pub struct Guard {
    /// When the signal was first seen.
    signalled_at: std::sync::Arc<std::sync::Mutex<Option<Instant>>>,
    /// When the work stops: the budget's end minus the reserve.
    deadline: Instant,
    /// When the budget ends: what follows a stop is bounded by this.
    end: Instant,
    signal: watch::Receiver<Option<String>>,
}

impl Guard {
    /// A guard whose budget starts now. The work stops `RESERVE` (at most a fifth of the budget)
    /// before the budget ends, so what follows a stop (the cancel, learning what happened, the
    /// report) still fits inside it. `budget` is bounded by the settings (at most 30 days); the
    /// arithmetic is checked anyway.
    pub fn new(budget: Duration, signal: watch::Receiver<Option<String>>) -> Guard {
        let reserve = RESERVE.min(budget / 5);
        let now = Instant::now();
        let at = |d: Duration| {
            now.checked_add(d)
                .or_else(|| {
                    now.checked_add(Duration::from_secs(crate::settings::MAX_BUDGET_SECONDS))
                })
                .unwrap_or(now)
        };
        Guard {
            signalled_at: Default::default(),
            deadline: at(budget.saturating_sub(reserve)),
            end: at(budget),
            signal,
        }
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// This guard with the work allowed to the budget's very end: for waits whose stop leaves
    /// nothing to clean up (the lock wait), so they get the whole budget.
    pub fn to_the_end(&self) -> Guard {
        Guard {
            deadline: self.end,
            ..self.clone()
        }
    }

    /// What is left for what follows a stop: the rest of the budget (reserve included), and
    /// after a signal at most `AFTER_SIGNAL` from when it was seen.
    pub fn until_end(&self) -> Duration {
        let now = Instant::now();
        let budget = self.end.saturating_duration_since(now);
        match self.signalled().and(self.seen()) {
            Some(at) => budget.min((at + AFTER_SIGNAL).saturating_duration_since(now)),
            None => budget,
        }
    }

    /// When the signal was first seen (noted on first sight).
    fn seen(&self) -> Option<Instant> {
        let mut at = self.signalled_at.lock().ok()?;
        Some(*at.get_or_insert_with(Instant::now))
    }

    /// The signal's reason, once one arrived.
    pub fn signalled(&self) -> Option<String> {
        let reason = self.signal.borrow().clone();
        if reason.is_some() {
            self.seen();
        }
        reason
    }

    /// Whether the run must stop now, and why (a signal first: it is the more urgent).
    pub fn stopped(&self) -> Option<Stop> {
        if self.signalled().is_some() {
            Some(Stop::Signal)
        } else if self.remaining().is_zero() {
            Some(Stop::Budget)
        } else {
            None
        }
    }

    /// Resolves once a signal's reason is set (never, if the sender is gone without one).
    async fn signal_fired(&self) {
        let mut rx = self.signal.clone();
        loop {
            if rx.borrow().is_some() {
                self.seen();
                return;
            }
            if rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// Races `fut` against the budget and the signal; a stop drops `fut` (nothing it was doing
    /// on the server needs more than dropping: connecting, waiting, reading).
    pub async fn race<F: Future>(&self, fut: F) -> Result<F::Output, Stop> {
        if let Some(stop) = self.stopped() {
            return Err(stop);
        }
        tokio::select! {
            out = fut => Ok(out),
            _ = tokio::time::sleep_until(self.deadline) => Err(Stop::Budget),
            _ = self.signal_fired() => Err(Stop::Signal),
        }
    }

    /// Sleeps for `d` unless a stop comes first.
    pub async fn nap(&self, d: Duration) -> Result<(), Stop> {
        self.race(tokio::time::sleep(d.min(self.remaining()))).await
    }

    /// A statement the server runs. When the budget or a signal stops it, the server is asked to
    /// cancel it and its own answer is still awaited for `CANCEL_GRACE`: `None` when it did not
    /// come. The stop is returned beside the answer, which says what the statement did.
    pub async fn statement<F: Future, C: Cancel>(
        &self,
        fut: F,
        cancel: &C,
    ) -> (Option<Stop>, Option<F::Output>) {
        tokio::pin!(fut);
        let stop = tokio::select! {
            out = &mut fut => return (None, Some(out)),
            _ = tokio::time::sleep_until(self.deadline) => Stop::Budget,
            _ = self.signal_fired() => Stop::Signal,
        };
        cancel.cancel().await;
        let grace = CANCEL_GRACE.min(self.until_end());
        (Some(stop), tokio::time::timeout(grace, fut).await.ok())
    }

    /// The error a stop becomes, with what was happening.
    pub fn error(&self, stop: Stop, doing: &str) -> Error {
        match stop {
            Stop::Budget => {
                Error::BudgetExhausted(format!("MIGRATION_TIMEOUT_SECONDS ran out {doing}"))
            }
            Stop::Signal => Error::Interrupted(format!(
                "{} {doing}",
                self.signalled().unwrap_or_else(|| "cancelled".into())
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone)]
    struct NoCancel;
    impl Cancel for NoCancel {
        async fn cancel(&self) {}
    }

    #[tokio::test]
    async fn a_signal_stops_a_wait_that_never_ends() {
        let (tx, rx) = watch::channel(None);
        let g = Guard::new(Duration::from_secs(3600), rx);
        let t0 = std::time::Instant::now();
        let waiting = g.race(std::future::pending::<()>());
        tx.send(Some("SIGTERM".into())).unwrap();
        assert_eq!(waiting.await, Err(Stop::Signal));
        assert!(t0.elapsed() < Duration::from_secs(1));
        assert!(
            g.error(Stop::Signal, "while connecting")
                .to_string()
                .contains("SIGTERM while connecting")
        );
    }

    #[tokio::test]
    async fn the_budget_stops_a_wait_and_absurd_budgets_do_not_overflow() {
        let (_tx, rx) = watch::channel(None);
        let g = Guard::new(Duration::from_millis(50), rx.clone());
        assert_eq!(
            g.race(std::future::pending::<()>()).await,
            Err(Stop::Budget)
        );
        assert_eq!(g.stopped(), Some(Stop::Budget));
        let huge = Guard::new(Duration::MAX, rx);
        assert!(huge.remaining() > Duration::from_secs(3600));
    }

    #[tokio::test]
    async fn a_stopped_statement_still_gets_its_answer_within_the_grace() {
        let (tx, rx) = watch::channel(None);
        let g = Guard::new(Duration::from_secs(3600), rx);
        tx.send(Some("SIGINT".into())).unwrap();
        let (stop, out) = g
            .statement(
                async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    7
                },
                &NoCancel,
            )
            .await;
        assert_eq!((stop, out), (Some(Stop::Signal), Some(7)));
        let (stop, out) = g.statement(std::future::pending::<u8>(), &NoCancel).await;
        assert_eq!((stop, out), (Some(Stop::Signal), None));
    }
}
