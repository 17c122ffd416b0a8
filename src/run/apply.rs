//! Applying: every chosen module judged first, a local reset when asked, then each migration in
//! order with its retries on lock_timeout, and its report entry.

use std::time::{Duration, Instant};

use super::*;

impl<C: Connector> Runner<C> {
    pub(super) async fn apply_inner(&mut self, rendered: Vec<Rendered>) -> Result<()> {
        if matches!(self.settings.mode, Mode::Baseline(_)) {
            return self.record_baseline().await;
        }
        // the chosen files move into their work: at 10,000 migrations a second copy is 3 MB
        let work = work::prepare(
            std::mem::take(&mut self.pending),
            rendered,
            &self.settings.mode,
        )?;
        if self.settings.dry_run {
            self.report.plan = Some(self.planned(&work)?);
            return Ok(());
        }
        if self.settings.mode == Mode::Reset {
            self.reset().await?;
        }
        let total = work.len();
        for (i, w) in work.iter().enumerate() {
            if let Some(stop) = self.guard.stopped() {
                return Err(match stop {
                    guard::Stop::Budget => Error::BudgetExhausted(
                        "MIGRATION_TIMEOUT_SECONDS ran out before every migration was applied"
                            .into(),
                    ),
                    guard::Stop::Signal => {
                        Error::Interrupted(self.guard.signalled().unwrap_or_default())
                    }
                });
            }
            let async_commit = w.config.transaction && i + 1 < total;
            self.run_one(w, async_commit).await?;
        }
        Ok(())
    }

    /// `plan`: what each migration would run with, judged exactly as `up` judges it; nothing runs.
    fn planned(&self, work: &[work::Work]) -> Result<Vec<report::PlannedMigration>> {
        let job = self
            .job
            .ok_or_else(|| Error::Internal("the run was not started".into()))?;
        Ok(work
            .iter()
            .map(|w| report::PlannedMigration {
                version: w.file.version.clone(),
                file: w.file.file.clone(),
                transactional: w.config.transaction,
                lock_timeout_ms: w.config.lock_timeout_ms.unwrap_or(job.lock_timeout_ms),
                statement_timeout_ms: w
                    .config
                    .statement_timeout_ms
                    .unwrap_or(job.statement_timeout_ms),
                own_timeouts: w.config.lock_timeout_ms.is_some()
                    || w.config.statement_timeout_ms.is_some(),
                sql: w.chunks.clone(),
                sql_checksum: files::checksum::sha256_raw(
                    w.chunks.join(failure::CHUNK_SEPARATOR).as_bytes(),
                ),
            })
            .collect())
    }

    /// One migration, with its retries on lock_timeout, and its report entry.
    async fn run_one(&mut self, w: &work::Work, async_commit: bool) -> Result<()> {
        let verb = if self.settings.mode.reverts() {
            "reverting"
        } else {
            "applying"
        };
        let notx = if w.config.transaction {
            ""
        } else {
            " (no transaction)"
        };
        self.progress.line(&format!("{verb} {}{notx}", w.file.file));
        let body_len: usize = w.chunks.iter().map(String::len).sum();
        let sql_checksum =
            files::checksum::sha256_raw(w.chunks.join(failure::CHUNK_SEPARATOR).as_bytes());
        self.progress.verbose(|| {
            format!(
                "  {} string(s), {body_len} bytes of SQL, sha256 {}",
                w.chunks.len(),
                &sql_checksum[..12.min(sql_checksum.len())]
            )
        });
        let _ticker = self.progress.ticker(&w.file.file, verb);
        let t0 = Instant::now();
        let (fate, attempts) = self.attempts(w, async_commit).await?;
        let elapsed = t0.elapsed().as_millis() as u64;
        let mode = self.settings.mode.clone();
        let set = |report: &mut Report, state: EntryState| {
            if let Some(m) = report.entry_mut(&w.file.version) {
                m.state = state;
                m.transactional = Some(w.config.transaction);
                m.duration_ms = Some(elapsed);
                m.sql_checksum = Some(sql_checksum.clone());
                m.attempts = Some(attempts);
            }
        };
        match fate {
            Fate::Done => {
                let done = history::done_state(&mode);
                set(&mut self.report, done);
                if async_commit {
                    self.unflushed.push(w.file.version.clone());
                } else {
                    // a synchronous commit: the WAL is flushed through every earlier one
                    self.unflushed.clear();
                }
                let word = if mode.reverts() {
                    "reverted"
                } else {
                    "applied"
                };
                self.progress
                    .line(&format!("  {word} {} in {elapsed} ms", w.file.file));
                Ok(())
            }
            Fate::Failed {
                detail,
                state,
                error,
            } => {
                set(&mut self.report, state);
                self.report.failure = Some(detail);
                Err(error)
            }
            Fate::Stopped {
                state,
                error,
                detail,
            } => {
                set(&mut self.report, state);
                if detail.is_some() {
                    self.report.failure = detail;
                }
                self.progress
                    .line(&format!("  {}: {}", kebab(state), w.file.file));
                Err(error)
            }
        }
    }

    /// Runs a migration, again after a lock_timeout (55P03) while retries and budget allow.
    async fn attempts(&mut self, w: &work::Work, async_commit: bool) -> Result<(Fate, u32)> {
        let eff = self
            .effective
            .clone()
            .ok_or_else(|| Error::Internal("no settings".into()))?;
        let job = self
            .job
            .ok_or_else(|| Error::Internal("no session".into()))?;
        let connector = self
            .connector
            .as_ref()
            .ok_or_else(|| Error::Internal("no connection".into()))?;
        let session = self
            .session
            .as_mut()
            .ok_or_else(|| Error::Internal("no session".into()))?;
        let mut ctx = Ctx {
            connector,
            session,
            guard: &self.guard,
            mode: &self.settings.mode,
            h: &eff.history_table,
            job,
            release_sha: &eff.release_sha,
        };
        let step = Step {
            file: &w.file,
            chunks: &w.chunks,
            source: self.sources.get(&w.file.file).map(String::as_str),
            config: &w.config,
            builds_index: w.builds_index.as_ref(),
            async_commit,
        };
        let mut attempts = 0;
        loop {
            attempts += 1;
            let fate = if w.config.transaction {
                execute::transactional(&mut ctx, &step).await
            } else {
                execute::non_transactional(&mut ctx, &step).await
            };
            let lock_timeout = matches!(&fate, Fate::Failed { detail, .. } if detail.sqlstate.as_deref() == Some("55P03"));
            if !(lock_timeout && w.config.transaction && attempts <= eff.lock_retries) {
                return Ok((fate, attempts));
            }
            let backoff = Duration::from_millis(500 * (1 << (attempts - 1).min(5)));
            if self.guard.remaining() <= backoff {
                return Ok((fate, attempts));
            }
            self.progress.line(&format!(
                "  lock_timeout on {} (attempt {attempts}); retrying in {} ms",
                w.file.file,
                backoff.as_millis()
            ));
            if self.guard.nap(backoff).await.is_err() {
                return Ok((fate, attempts));
            }
        }
    }

    /// Only now, with every module rendered and judged clean: one transaction, all or nothing
    /// (a missing privilege leaves the database as it was).
    async fn reset(&mut self) -> Result<()> {
        let h = self.history()?;
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| Error::Internal("no session".into()))?;
        let done = match self.guard.race(s.reset_database(&h)).await {
            Ok(Ok(done)) => done,
            Ok(Err(e)) => {
                return Err(Error::MigrationFailed(format!(
                    "reset failed and changed nothing: {e}"
                )));
            }
            Err(stop) => return Err(self.guard.error(stop, "while resetting the database")),
        };
        self.progress.line(&format!(
            "reset: dropped schema(s) {}; recreated {}; {} history row(s) marked reverted",
            done.dropped_schemas.join(", "),
            done.recreated_schemas.join(", "),
            done.reverted_rows
        ));
        for m in self
            .report
            .migrations
            .iter_mut()
            .filter(|m| m.file.is_some())
        {
            m.state = EntryState::Pending;
        }
        self.report.reset = Some(done);
        Ok(())
    }
}

fn kebab(state: EntryState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}
