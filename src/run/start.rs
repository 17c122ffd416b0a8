//! Starting a run: the files and the ledger (read once, kept), and at the same time the database
//! side (connect, the job's session, the lock, the history under it); then the guard against an
//! existing schema, the history table when missing, and the plan.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::contract::literal;
use crate::settings::resolve::Resolved;

impl<C: Connector> Runner<C> {
    pub(super) async fn start_inner(&mut self) -> Result<Vec<ToRender>> {
        let resolved = match &self.settings.resolved {
            Ok(r) => r.clone(),
            Err(e) => return Err(Error::Config(e.to_string())),
        };
        // The release SHA may take a `git rev-parse` (a process of its own, a few ms): it runs
        // beside the files and the database side, and is in place before anything is planned,
        // recorded or reported, also when the run ends early.
        let given = self.settings.sha.clone();
        let mut sha = AbortOnDrop(tokio::spawn(async move {
            Ok::<_, Error>(release_sha(given).await)
        }));
        self.report.settings = Some(resolved.effective.clone());
        self.effective = Some(resolved.effective.clone());
        let gathered = self.files_and_history(&resolved).await;
        let sha = sha.wait().await.unwrap_or_else(|_| "local".into());
        for effective in [self.report.settings.as_mut(), self.effective.as_mut()]
            .into_iter()
            .flatten()
        {
            effective.release_sha = report::sanitize_sha(&sha);
        }
        let ((scan, sources, findings), history) = gathered?;
        if let Some((problems, e)) = select::files_refusal(&findings) {
            self.report.problems = problems;
            return Err(e);
        }
        let Some(history) = history else {
            return Err(Error::Config(
                resolved.local_only_refusal.clone().unwrap_or_default(),
            ));
        };
        let applied = history?;
        if applied.as_ref().is_none_or(Vec::is_empty)
            && self.settings.mode == Mode::Up
            && !resolved.allow_existing_schema
        {
            self.refuse_existing_schema().await?;
        }
        // a baseline creates godwit's history only once it knows what to record: a refused one
        // leaves the database as it was
        let baseline = matches!(self.settings.mode, Mode::Baseline(_));
        let missing = applied.is_none();
        let applied = applied.unwrap_or_default();
        // a plan writes nothing: a missing history is an empty one
        if missing && !baseline && !self.settings.dry_run {
            self.ensure_history().await?;
        }
        let to_render = self.plan(scan, sources, &applied).await?;
        if missing && baseline {
            self.ensure_history().await?;
        }
        Ok(to_render)
    }

    /// The files (on a blocking thread) and the database side at the same time; whichever
    /// finishes first decides: files with problems refuse the run at once, even while the lock
    /// is held elsewhere, and the database side is then abandoned (`None`, as when the project
    /// refuses this database before connecting).
    async fn files_and_history(
        &mut self,
        resolved: &Resolved,
    ) -> Result<(FilesRead, Option<Result<Option<Vec<Applied>>>>)> {
        let dir = self.settings.dir.clone();
        let mut reading = AbortOnDrop(tokio::task::spawn_blocking(move || read_files(&dir)));
        if resolved.local_only_refusal.is_some() {
            return Ok((reading.wait().await?, None));
        }
        let chain = self.open_locked(resolved.effective.history_table.clone());
        tokio::pin!(chain);
        Ok(tokio::select! {
            files = reading.wait() => {
                let files = files?;
                let history = if files.2.is_empty() { Some(chain.await) } else { None };
                (files, history)
            }
            history = &mut chain => (reading.wait().await?, Some(history)),
        })
    }

    /// The project's `ahead: 'refuse'`.
    fn ahead_refused(&self) -> bool {
        self.settings
            .resolved
            .as_ref()
            .is_ok_and(|r| r.common.project.run.ahead_refuse == Some(true))
    }

    /// The plan against the history: refuse, or choose what to run.
    async fn plan(
        &mut self,
        files: Vec<MigrationFile>,
        mut sources: Vec<Option<String>>,
        applied: &[Applied],
    ) -> Result<Vec<ToRender>> {
        let mut plan = plan::plan(&files, applied);
        if self.ahead_refused() {
            plan.refuse_ahead();
        }
        let refusal = select::history_refusal(&plan, &self.settings.mode);
        let chosen = match (&refusal, self.settings.mode.clone()) {
            (Some(_), _) => Ok(Vec::new()),
            (None, Mode::Baseline(b)) => {
                let texts = Texts {
                    files: &files,
                    texts: &sources,
                };
                self.baseline_choice(&b, &plan, &texts).await
            }
            (None, mode) => select::chosen_to(&plan, &mode, self.settings.to.as_deref()),
        };
        // the report's entries take the plan's strings (10,000 rows' worth at 10,000 migrations),
        // in place before any refusal or error is returned
        self.report.migrations = select::entries(plan);
        if let Some((problems, e)) = refusal {
            self.report.problems = problems;
            return Err(e);
        }
        let chosen = chosen?;
        let baseline = matches!(self.settings.mode, Mode::Baseline(_));
        let mut pending = Vec::with_capacity(chosen.len());
        let mut kept = HashMap::with_capacity(chosen.len());
        for i in chosen.iter().filter_map(|v| version_index(&files, v)) {
            let Some(f) = files.get(i) else { continue };
            // only what runs keeps its text; a baseline runs nothing
            if let Some(text) = sources
                .get_mut(i)
                .and_then(Option::take)
                .filter(|_| !baseline)
            {
                kept.insert(f.file.clone(), text);
            }
            pending.push(f.clone());
        }
        self.pending = pending;
        if baseline {
            // nothing runs, so nothing is rendered
            return Ok(Vec::new());
        }
        self.sources = kept;
        // a module of literals is read here; only the others cross to Node to be imported
        let (read, to_render) = literal::part(&self.pending, |f| {
            (&f.file, self.sources.get(&f.file).map(String::as_str))
        });
        self.literal = read;
        Ok(to_render
            .into_iter()
            .map(|f| ToRender {
                file: f.file.clone(),
                source: self.sources.get(&f.file).cloned(),
                checksum: f.checksum.clone(),
            })
            .collect())
    }

    /// Connect, set the job's session state, take the migration lock, and read the history
    /// under it (`None`: no history table yet). Each step inside the budget and the signal.
    async fn open_locked(&mut self, h: HistoryTable) -> Result<Option<Vec<Applied>>> {
        let Some(connector) = self.connector.as_ref() else {
            return Err(Error::Internal("no connection settings".into()));
        };
        let eff = self
            .effective
            .clone()
            .ok_or_else(|| Error::Internal("no settings".into()))?;
        let mut job = Job {
            lock_timeout_ms: eff.lock_timeout_ms,
            statement_timeout_ms: eff.statement_timeout_ms,
            version_num: 0, // known once the session is described
            budget_ms: eff.budget_seconds.saturating_mul(1000),
        };
        // the job's settings travel with the query that describes the session
        let mut setup = job.settings_for_any_version();
        if self.settings.dry_run {
            // a plan takes no lock and cannot write: every transaction on this session is
            // read-only, so nothing a bug or a module could do changes the database
            setup.push_str("; SET default_transaction_read_only = on");
        }
        let (session, set) = match self.guard.race(connect_bounded(connector, &setup)).await {
            Ok(s) => s?,
            Err(stop) => return Err(self.guard.error(stop, "while connecting to the database")),
        };
        let info = session.info().clone();
        self.report.database = DatabaseInfo {
            connection: Some(connector.display()),
            ssl_mode: Some(connector.ssl_mode().into()),
            tls: Some(info.tls),
            server_version: Some(info.server_version.clone()),
            backend_pid: Some(info.backend.pid),
        };
        // a standby or read-only sessions would fail at the first write, blamed on the history
        // table or on a migration: refused here, before the lock, naming the way out
        if let (Some(why), false) = (info.read_only, self.settings.dry_run) {
            return Err(read_only_refusal(why, &connector.display()));
        }
        job.version_num = info.version_num;
        self.job = Some(job);
        let s = self.session.insert(session);
        match set {
            Answer::Finished => {}
            Answer::Error(e) => {
                return Err(Error::Db(format!(
                    "setting up the job's session (its timeouts): {}",
                    e.describe()
                )));
            }
            Answer::Lost(why) => {
                return Err(Error::ConnectionLost(format!(
                    "while setting up the job's session: {why}"
                )));
            }
        }
        self.progress.verbose(|| {
            format!(
                "connected to {} (PostgreSQL {}, backend {}{}); lock_timeout {} ms, statement_timeout {} ms, budget {} s, {} lock retries, history {}",
                self.report.database.connection.clone().unwrap_or_default(),
                info.server_version,
                info.backend.pid,
                if info.tls { ", TLS" } else { "" },
                eff.lock_timeout_ms,
                eff.statement_timeout_ms,
                eff.budget_seconds,
                eff.lock_retries,
                h.qualified()
            )
        });
        if self.settings.dry_run {
            return match self.guard.race(s.read_history(&h)).await {
                Ok(rows) => rows,
                Err(stop) => Err(self.guard.error(stop, "while reading the history")),
            };
        }
        let waited = lock::acquire(s, &h, &self.guard, &self.progress).await;
        self.report.lock_wait_ms = Some(match &waited {
            Ok(ms) => *ms,
            Err(_) => self.started.elapsed().as_millis() as u64,
        });
        waited?;
        self.locked = true;
        match self.guard.race(s.read_history(&h)).await {
            Ok(rows) => rows,
            Err(stop) => Err(self.guard.error(stop, "while reading the history")),
        }
    }

    /// The guard: godwit's history is absent or empty, so a database that already holds a schema
    /// (built by hand, or by another tool whose history is here) was not built by these
    /// migrations; running them over it would fail half-way or worse. Nothing has been written.
    async fn refuse_existing_schema(&mut self) -> Result<()> {
        let h = self.history()?;
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| Error::Internal("no session".into()))?;
        let only = self.settings.only_schema.clone();
        let existing = match self
            .guard
            .race(s.existing_schema(&h, only.as_deref()))
            .await
        {
            Ok(e) => e?,
            Err(stop) => return Err(self.guard.error(stop, "while looking at the database")),
        };
        if existing.history_rows || existing.total == 0 {
            return Ok(());
        }
        let more = existing.total - existing.objects.len() as i64;
        let listed = existing
            .objects
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let tools = if existing.tools.is_empty() {
            String::new()
        } else {
            format!(
                " Another migration tool's history is here ({}): convert its migrations with `godwit import <tool> <dir>`, then record what it applied with `godwit baseline --from <tool>`.",
                existing.tools.join(", ")
            )
        };
        Err(Error::DatabaseNotEmpty(format!(
            "refusing to run migrations over an existing schema: godwit's history {} is empty, but the database already holds {} object(s): {listed}{}.{tools} If these migrations built it, record them without running them: `godwit baseline <version>`. If the schema is meant to be there and the migrations account for it, pass --allow-existing-schema (or allowExistingSchema: true in the configuration). Nothing was changed",
            h.qualified(),
            existing.total,
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )))
    }

    /// The history table, created only when missing (a no-op run takes no DDL lock at all); its
    /// schema only when that is missing too.
    async fn ensure_history(&mut self) -> Result<()> {
        let h = self.history()?;
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| Error::Internal("no session".into()))?;
        let user = s.info().user.clone();
        let database = s.info().database.clone();
        let exists = match self.guard.race(s.schema_exists(&h.schema)).await {
            Ok(r) => r?,
            Err(stop) => return Err(self.guard.error(stop, "while creating the history table")),
        };
        match self.guard.race(s.batch(&h.ensure_sql(!exists))).await {
            Ok(Answer::Finished) => Ok(()),
            Ok(Answer::Error(e)) if e.sqlstate.as_deref() == Some("42501") => {
                Err(Error::Privilege(privilege_message(
                    &h,
                    exists,
                    &user,
                    &database,
                    &e.describe(),
                )))
            }
            Ok(Answer::Error(e)) => Err(Error::Db(format!(
                "creating the history table {}: {}",
                h.qualified(),
                e.describe()
            ))),
            Ok(Answer::Lost(why)) => Err(Error::ConnectionLost(format!(
                "while creating the history table: {why}"
            ))),
            Err(stop) => Err(self.guard.error(stop, "while creating the history table")),
        }
    }
}

/// The database connection, bounded on its own: a server (or a proxy) that accepts TCP and never
/// answers must not hold start-up, TLS or authentication, or the session's first round trip, for
/// the whole budget.
async fn connect_bounded<C: Connector>(connector: &C, setup: &str) -> Result<(C::Session, Answer)> {
    const CONNECT_BOUND: Duration = Duration::from_secs(10);
    connector.connect_with(setup, CONNECT_BOUND).await
}

/// The privilege an application role lacks to create the history table, named with its grant.
fn privilege_message(
    h: &HistoryTable,
    schema_exists: bool,
    user: &str,
    database: &str,
    why: &str,
) -> String {
    let role = crate::db::history::quote_ident(user);
    if schema_exists {
        format!(
            "creating the history table {} needs CREATE on schema {}: {why}. Run once as its owner: GRANT CREATE ON SCHEMA {} TO {role}; or create the table in a schema the role owns (--schema, MIGRATION_HISTORY_SCHEMA)",
            h.qualified(),
            crate::db::history::quote_ident(&h.schema),
            crate::db::history::quote_ident(&h.schema)
        )
    } else {
        format!(
            "the history schema {} does not exist and creating it needs CREATE on database {}: {why}. Create it once as an owner: CREATE SCHEMA {} AUTHORIZATION {role}; or choose an existing schema (--schema, MIGRATION_HISTORY_SCHEMA)",
            crate::db::history::quote_ident(&h.schema),
            crate::db::history::quote_ident(database),
            crate::db::history::quote_ident(&h.schema)
        )
    }
}

/// The release sha: the flag or the environment, else git HEAD (asked off the JS thread), else
/// `local`.
async fn release_sha(given: Option<String>) -> String {
    if let Some(s) = given {
        return s;
    }
    tokio::task::spawn_blocking(|| {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "HEAD"])
            .stderr(std::process::Stdio::null())
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    })
    .await
    .ok()
    .flatten()
    .unwrap_or_else(|| "local".into())
}

/// Why nothing can be migrated on a server that cannot write, and what to do.
fn read_only_refusal(why: crate::db::ReadOnly, target: &str) -> Error {
    let way_out = match why {
        crate::db::ReadOnly::Standby => "migrations run on the primary; point DATABASE_URL at it",
        crate::db::ReadOnly::Sessions => {
            "nothing can be migrated there; run the migration job as a role that can write (ALTER ROLE <role> SET default_transaction_read_only = off) or point DATABASE_URL at a writable database"
        }
    };
    Error::Config(format!("{}: {way_out}", why.reason(target)))
}

/// The accepted files in version order, each one's kept text (aligned; `None` when not UTF-8),
/// and the findings that refuse the run.
type FilesRead = (
    Vec<MigrationFile>,
    Vec<Option<String>>,
    Vec<crate::violation::Violation>,
);

/// The folder and the ledger, read once: each migration's text is kept, so what Node renders is
/// exactly what was hashed and compared with the ledger.
fn read_files(dir: &std::path::Path) -> Result<FilesRead> {
    let (scan, sources) = files::scan::scan_keeping_sources(dir)?;
    let ledger = files::ledger::read_ledger(dir)?;
    let mut findings = scan.violations;
    findings.extend(integrity::ledger_matches(&scan.migrations, &ledger));
    Ok((scan.migrations, sources, findings))
}

/// Where `version` is among files in version order. Versions are unique by then (a duplicate
/// is a finding that refused the run), so a binary search finds it: no map of 10,000 names.
fn version_index(files: &[MigrationFile], version: &str) -> Option<usize> {
    files
        .binary_search_by(|f| f.version.as_str().cmp(version))
        .ok()
}

/// The kept texts, found by version.
pub(super) struct Texts<'a> {
    files: &'a [MigrationFile],
    texts: &'a [Option<String>],
}

impl Texts<'_> {
    pub(super) fn of(&self, version: &str) -> Option<&str> {
        let i = version_index(self.files, version)?;
        self.texts.get(i)?.as_deref()
    }
}

/// A spawned task that is aborted when its handle is dropped, so an early return cancels it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> AbortOnDrop<Result<T>> {
    /// Waits for the task without giving up the handle (so it can be raced with `select!`).
    async fn wait(&mut self) -> Result<T> {
        (&mut self.0)
            .await
            .map_err(|e| Error::Internal(format!("a background task failed: {e}")))?
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
