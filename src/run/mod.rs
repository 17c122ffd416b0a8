//! A locked run (`up`, `down`, `reset`, `baseline`): start (files, connect, lock, history, plan) -> Node
//! renders the chosen modules -> apply (judge all, then run each) -> finish (check the lock,
//! release it, write the report). A `Runner` lives across those JS calls so the lock is held from
//! verification to the last commit, and `finish` writes the report on every path.
//!
//! The runner decides; a `db::Session` talks to the server (see `fake` for the tests that drive
//! these decisions without one). Every wait goes through the `Guard` (budget and signal).

mod apply;
mod baseline;
pub mod batch;
pub mod execute;
pub mod failure;
mod finish;
pub mod guard;
pub mod history;
pub mod lock;
pub mod progress;
pub mod recover;
pub mod report;
pub mod select;
mod start;
pub mod work;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use tokio::sync::watch;

use crate::contract::integrity;
use crate::contract::modules::Rendered;
use crate::db::history::HistoryTable;
use crate::db::{Answer, Connector, Session};
use crate::error::{Error, Result};
use crate::files::{self, MigrationFile};
use crate::plan::{self, Applied};
use crate::settings::{Effective, Mode, RunSettings};
use crate::time::iso;

use batch::Job;
use execute::{Ctx, Fate, Step};
use guard::Guard;
use progress::Progress;
use report::{Command, DatabaseInfo, EntryState, Outcome, Report};

/// A module Node should render: its file and the exact text that was hashed and verified (so a
/// file swapped on disk after verification is never what runs).
#[derive(Debug, Clone, Serialize)]
pub struct ToRender {
    pub file: String,
    pub source: Option<String>,
    pub checksum: String,
}

pub struct Runner<C: Connector> {
    settings: RunSettings,
    connector: Option<C>,
    guard: Guard,
    progress: Progress,
    started: Instant,
    session: Option<C::Session>,
    locked: bool,
    effective: Option<Effective>,
    job: Option<Job>,
    /// The chosen migrations, in run order, with the text that was hashed.
    pending: Vec<MigrationFile>,
    sources: HashMap<String, String>,
    /// The chosen modules the core read as literals (`contract::literal`): Node never sees them.
    literal: Vec<Rendered>,
    pub report: Report,
    /// Whether `finish` has written the report (or tried to: `report_error` then says why).
    written: bool,
    /// Versions this run committed without waiting for the WAL flush (see `make_durable`).
    unflushed: Vec<String>,
}

fn command(settings: &RunSettings) -> Command {
    match &settings.mode {
        Mode::Up if settings.dry_run => Command::Plan,
        Mode::Up => Command::Up,
        Mode::Down { .. } => Command::Down,
        Mode::Reset => Command::Reset,
        Mode::Baseline(_) => Command::Baseline,
    }
}

impl<C: Connector> Runner<C> {
    /// `connector` is `None` when the settings could not be resolved (the run then only writes
    /// a report saying why).
    pub fn new(
        settings: RunSettings,
        connector: Option<C>,
        signal: watch::Receiver<Option<String>>,
    ) -> Self {
        let budget = settings
            .resolved
            .as_ref()
            .map(|r| r.effective.budget_seconds)
            .unwrap_or(crate::settings::DEFAULT_BUDGET_SECONDS);
        let mut report = Report::new(command(&settings), iso(SystemTime::now()));
        report.database.connection = connector.as_ref().map(|c| c.display());
        report.target = settings.target.clone();
        Runner {
            guard: Guard::new(Duration::from_secs(budget), signal),
            progress: Progress {
                on: settings.progress,
                verbose: settings.verbose,
            },
            started: Instant::now(),
            connector,
            session: None,
            locked: false,
            effective: None,
            job: None,
            pending: Vec::new(),
            sources: HashMap::new(),
            literal: Vec::new(),
            report,
            written: false,
            unflushed: Vec::new(),
            settings,
        }
    }

    fn history(&self) -> Result<HistoryTable> {
        self.effective
            .as_ref()
            .map(|e| e.history_table.clone())
            .ok_or_else(|| Error::Internal("the run was not started".into()))
    }

    /// Files and ledger, connection, lock, history, plan. Returns the modules to render.
    pub async fn start(&mut self) -> Result<Vec<ToRender>> {
        let started = self.start_inner().await;
        started.inspect_err(|e| self.report.fail(e))
    }

    /// Runs the chosen migrations, rendered by Node or read as literals, in order; stops at the
    /// first failure.
    pub async fn apply(&mut self, mut rendered: Vec<Rendered>) -> Result<()> {
        rendered.append(&mut self.literal);
        let nothing_chosen = self.pending.is_empty();
        match self.apply_inner(rendered).await {
            Ok(()) => {
                let ahead = self
                    .report
                    .migrations
                    .iter()
                    .any(|m| m.state == EntryState::Ahead);
                self.report.outcome = match (&self.settings.mode, nothing_chosen) {
                    (Mode::Baseline(_), _) => Outcome::Baselined,
                    (_, false) if self.settings.dry_run => Outcome::Planned,
                    (_, true) if ahead => Outcome::DatabaseAhead,
                    (_, true) => Outcome::NothingToDo,
                    (Mode::Down { .. }, false) => Outcome::Reverted,
                    (_, false) => Outcome::Applied,
                };
                self.report.ok = true;
                Ok(())
            }
            Err(e) => {
                let e = self.make_durable(e).await;
                self.report.fail(&e);
                Err(e)
            }
        }
    }

    /// The run stopped outside the core (Node failed to render, or a call into the core ended
    /// without recording why): before the report is written, it says so instead of leaving an
    /// `error` outcome with no error. A failure the core recorded itself is kept.
    pub fn stopped_outside(&mut self, why: &str) {
        if !self.written && !self.report.ok && self.report.error.is_none() {
            self.report.fail(&Error::Internal(format!(
                "the run stopped outside the core: {why}"
            )));
        }
    }

    /// Checks the lock is still held (a run that lost it says so), releases it, closes the
    /// session and writes the report. Safe to call on every path, more than once; bounded.
    /// Returns the report (also when it could not be written: then `report_error` says why).
    pub async fn finish(&mut self) -> &Report {
        if !self.written {
            self.release().await;
            self.report.finished_at = Some(iso(SystemTime::now()));
            self.report.duration_ms = self.started.elapsed().as_millis() as u64;
            let sha = self
                .effective
                .as_ref()
                .map(|e| e.release_sha.clone())
                .or_else(|| self.settings.sha.clone())
                .unwrap_or_else(|| "local".into());
            let name = if self.settings.dry_run {
                "plan"
            } else {
                self.settings.mode.command()
            };
            let (latest, attempt) = report::paths(
                &self.settings.artifacts_dir,
                &sha,
                self.settings.target.as_deref(),
                name,
                &self.report.started_at,
            );
            self.report.count();
            if let Err(e) = report::write(&mut self.report, &latest, &attempt) {
                self.report.report_path = None;
                self.report.attempt_path = None;
                self.report.report_error = Some(e.to_string());
            }
            self.written = true;
        }
        &self.report
    }
}
