//! `up` and `status`: lock -> verify -> execute -> report. A `Runner` lives across the JS calls of
//! one run (start, render in Node, apply, finish) so the lock is held from verification to the
//! last commit, and `finish` releases it and writes the report on every path.

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::check::read_ledger;
use crate::checksum::sha256_raw;
use crate::conn::{self, Settings};
use crate::db::{self, Db, HistoryTable, quote_literal};
use crate::duration;
use crate::error::{Error, Result};
use crate::integrity;
use crate::modules::{self, Rendered};
use crate::plan::{self, State};
use crate::source::{self, MigrationFile};
use crate::sql;
use crate::time::iso;
use crate::violation::Violation;

pub const DEFAULT_BUDGET_SECONDS: u64 = 1800;
pub const DEFAULT_LOCK_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_STATEMENT_TIMEOUT_MS: u64 = 15 * 60_000;
pub const DEFAULT_LOCK_RETRIES: u32 = 3;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    pub budget_seconds: u64,
    pub lock_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    pub lock_retries: u32,
    pub history_table: HistoryTable,
    pub release_sha: String,
}

/// What a run does: apply pending migrations, revert the newest applied ones (local only), or
/// empty the database and apply everything again (local only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    /// Revert this many of the newest applied migrations; 0 means all of them.
    Down {
        count: usize,
    },
    Reset,
}

impl Mode {
    /// The command's name, in reports and their file names.
    pub fn command(self) -> &'static str {
        match self {
            Mode::Up => "up",
            Mode::Down { .. } => "down",
            Mode::Reset => "reset",
        }
    }
    /// Runs `down` SQL and marks rows reverted, rather than applying `up`.
    pub fn reverts(self) -> bool {
        matches!(self, Mode::Down { .. })
    }
    /// Destructive: refused in production, in CI and against a non-local server unless told.
    pub fn local_only(self) -> bool {
        matches!(self, Mode::Down { .. } | Mode::Reset)
    }
    /// The state a migration this run ran successfully ends in.
    fn done_state(self) -> &'static str {
        if self.reverts() {
            "reverted"
        } else {
            "applied"
        }
    }
}

pub struct Options {
    pub mode: Mode,
    /// Why a local-only operation (down) must not run here, if it must not.
    pub local_only_refusal: Option<String>,
    pub dir: PathBuf,
    pub artifacts_dir: PathBuf,
    pub progress: bool,
    /// More progress: the settings in force, the lock wait, each migration's statements and
    /// SQL checksum (`--verbose`).
    pub verbose: bool,
    pub settings: Result<Settings>,
    pub effective: Result<Effective>,
}

/// A timeout: the environment, then the connection's `options` (PGOPTIONS), then the project
/// configuration, then the default.
fn env_duration(
    get: &dyn Fn(&str) -> Option<String>,
    var: &str,
    from_options: Option<&String>,
    from_config: Option<u64>,
    default: u64,
) -> Result<u64> {
    if let Some(v) = get(var).filter(|v| !v.trim().is_empty()) {
        return duration::parse_ms(&v).map_err(|why| Error::Config(format!("{var}: {why}")));
    }
    if let Some(v) = from_options {
        return duration::parse_ms(v)
            .map_err(|why| Error::Config(format!("PGOPTIONS/options: {why}")));
    }
    Ok(from_config.unwrap_or(default))
}

/// Keeps a release sha usable as one path segment.
pub fn sanitize_sha(s: &str) -> String {
    let clean: String = s
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() || clean.chars().all(|c| c == '.') {
        "local".into()
    } else {
        clean
    }
}

fn git_head() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Options from flags (a JSON object from JS) and the environment.
pub fn options(flags: &Value, get: &dyn Fn(&str) -> Option<String>) -> Options {
    let flag = |k: &str| flags.get(k).and_then(Value::as_str).map(str::to_string);
    // `database` (verify's scratch databases) swaps the database name, nothing else.
    let settings = conn::from_env(|k| get(k)).map(|mut s| {
        if let Some(db) = flag("database") {
            s.config.dbname(&db);
        }
        s
    });
    let effective = (|| {
        // the project configuration's run settings: the layer just above the defaults
        let run = crate::config::parse(
            flags.get("config").unwrap_or(&Value::Null),
            flags.get("configSource").and_then(Value::as_str),
        )?
        .run;
        let opts = settings
            .as_ref()
            .map(|s| s.options.clone())
            .unwrap_or_default();
        let budget_seconds = match get("MIGRATION_TIMEOUT_SECONDS").filter(|v| !v.trim().is_empty()) {
            Some(v) => v.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                Error::Config(format!("MIGRATION_TIMEOUT_SECONDS must be a positive whole number of seconds, got `{v}`"))
            })?,
            None => run.timeout_seconds.unwrap_or(DEFAULT_BUDGET_SECONDS),
        };
        let lock_retries = match get("MIGRATION_LOCK_RETRIES").filter(|v| !v.trim().is_empty()) {
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                Error::Config(format!(
                    "MIGRATION_LOCK_RETRIES must be a whole number, got `{v}`"
                ))
            })?,
            None => run.lock_retries.unwrap_or(DEFAULT_LOCK_RETRIES),
        };
        let history_table = HistoryTable {
            schema: flag("schema")
                .or(get("MIGRATION_HISTORY_SCHEMA"))
                .filter(|s| !s.is_empty())
                .or(run.history_schema.clone())
                .unwrap_or_else(|| "public".into()),
            table: flag("table")
                .or(get("MIGRATION_HISTORY_TABLE"))
                .filter(|s| !s.is_empty())
                .or(run.history_table.clone())
                .unwrap_or_else(|| "godwit_migrations".into()),
        };
        let release_sha = sanitize_sha(
            &flag("sha")
                .or(get("GIT_SHA"))
                .or(get("GITHUB_SHA"))
                .filter(|s| !s.trim().is_empty())
                .or_else(git_head)
                .unwrap_or_else(|| "local".into()),
        );
        Ok(Effective {
            budget_seconds,
            lock_timeout_ms: env_duration(
                get,
                "MIGRATION_LOCK_TIMEOUT",
                opts.get("lock_timeout"),
                run.lock_timeout_ms,
                DEFAULT_LOCK_TIMEOUT_MS,
            )?,
            statement_timeout_ms: env_duration(
                get,
                "MIGRATION_STATEMENT_TIMEOUT",
                opts.get("statement_timeout"),
                run.statement_timeout_ms,
                DEFAULT_STATEMENT_TIMEOUT_MS,
            )?,
            lock_retries,
            history_table,
            release_sha,
        })
    })();
    let mode = match flags.get("down").and_then(Value::as_u64) {
        Some(count) => Mode::Down {
            count: count as usize,
        },
        None if flags.get("reset").and_then(Value::as_bool) == Some(true) => Mode::Reset,
        None => Mode::Up,
    };
    let allow = flags
        .get("allowNonLocal")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let local_only_refusal = match &settings {
        Ok(s) if !allow => local_only_refusal(s, get),
        _ => None,
    };
    Options {
        mode,
        local_only_refusal,
        dir: PathBuf::from(flag("dir").unwrap_or_else(|| "db/migrations".into())),
        artifacts_dir: PathBuf::from(
            flag("artifactsDir").unwrap_or_else(|| ".artifacts/deploy".into()),
        ),
        progress: flags
            .get("progress")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        verbose: flags
            .get("verbose")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        settings,
        effective,
    }
}

/// `down` is for local development (the playbook: production rollback is restore + redeploy).
/// verify's own scratch databases are exempt: they exist to be thrown away.
pub fn local_only_refusal(s: &Settings, get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if s.config
        .get_dbname()
        .is_some_and(|d| d.starts_with("godwit_verify_"))
    {
        return None;
    }
    let how = "down and reset are for local development; production rollback is restore + redeploy (the playbook). Pass --allow-non-local only if you are sure";
    if get("NODE_ENV").as_deref() == Some("production") {
        return Some(format!("NODE_ENV=production: {how}"));
    }
    if crate::base::is_ci(get("CI").as_deref()) {
        return Some(format!("running in CI (CI is set): {how}"));
    }
    let local = s.config.get_hosts().iter().all(|h| match h {
        tokio_postgres::config::Host::Tcp(name) => {
            matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1") || name.starts_with("127.")
        }
        tokio_postgres::config::Host::Unix(_) => true,
    });
    (!local).then(|| format!("{} is not a local server: {how}", s.display()))
}

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct MigrationEntry {
    pub version: String,
    pub name: String,
    pub file: Option<String>,
    /// applied | already-applied | pending | failed | changed | missing-file | out-of-order |
    /// reverted | cancelled (stopped and rolled back) | unknown (the session was lost and no
    /// second session could tell)
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transactional: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql_checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FailureDetail {
    pub file: String,
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub statement: Option<String>,
    /// 1-based line of the failing position inside the migration's SQL (string `chunk` of `up`).
    pub line: Option<u32>,
    pub chunk: Option<usize>,
    pub position: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invalid_indexes: Vec<String>,
}

/// Why `up` refused: one shape for file/ledger findings and history disagreements.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The migration file (or `checksums.json`); `null` for a history row whose file is gone.
    pub file: Option<String>,
    pub version: Option<String>,
    /// A `check` rule (e.g. `ledger-mismatch`) or a plan state (e.g. `changed`).
    pub kind: String,
    pub message: String,
    pub fix: String,
}

impl Problem {
    fn from_violation(v: &Violation) -> Self {
        Problem {
            file: Some(v.file.clone()),
            version: source::parse_filename(&v.file).ok().map(|(ver, _)| ver),
            kind: v.rule.to_string(),
            message: v.message.clone(),
            fix: v.hint.clone(),
        }
    }
    fn from_row(r: &plan::Row) -> Self {
        Problem {
            file: r.file.clone(),
            version: Some(r.version.clone()),
            kind: r.state.as_str().into(),
            message: format!("{} {}", r.version, r.state.describe()),
            fix: r.fix.clone().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub report_version: u32,
    pub tool: Value,
    pub command: &'static str,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    /// applied | reverted (down) | nothing-to-do | refused | failed | lock-timeout | budget-exhausted | interrupted | error
    pub outcome: String,
    pub ok: bool,
    pub error: Option<Value>,
    pub database: Value,
    pub settings: Value,
    pub lock_wait_ms: Option<u64>,
    pub problems: Vec<Problem>,
    pub migrations: Vec<MigrationEntry>,
    pub failure: Option<FailureDetail>,
    /// What a local `reset` dropped and recreated before applying everything again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<db::ResetDone>,
    pub report_path: Option<String>,
}

pub struct Runner {
    opts: Options,
    started: Instant,
    deadline: Instant,
    db: Option<Db>,
    lock_key: Option<i64>,
    locked: bool,
    files: Vec<MigrationFile>,
    pending: Vec<MigrationFile>,
    pub report: Report,
    cancel: watch::Receiver<Option<String>>,
    finished: bool,
    /// The report as written by `finish`.
    written: Option<String>,
    /// Versions this run committed without waiting for the WAL flush (see `make_durable`).
    unflushed: Vec<String>,
}

impl Runner {
    pub fn new(opts: Options, cancel: watch::Receiver<Option<String>>) -> Self {
        let budget = opts
            .effective
            .as_ref()
            .map(|e| e.budget_seconds)
            .unwrap_or(DEFAULT_BUDGET_SECONDS);
        let started = Instant::now();
        let settings_json = match &opts.effective {
            Ok(e) => serde_json::to_value(e).unwrap_or(Value::Null),
            Err(_) => Value::Null,
        };
        let database = json!({ "connection": opts.settings.as_ref().map(|s| s.display()).ok(), "serverVersion": null });
        Runner {
            started,
            deadline: started + Duration::from_secs(budget),
            db: None,
            lock_key: None,
            locked: false,
            files: Vec::new(),
            pending: Vec::new(),
            report: Report {
                report_version: 1,
                tool: json!({ "name": "godwit", "version": env!("CARGO_PKG_VERSION") }),
                command: opts.mode.command(),
                started_at: iso(SystemTime::now()),
                finished_at: None,
                duration_ms: 0,
                outcome: "error".into(),
                ok: false,
                error: None,
                database,
                settings: settings_json,
                lock_wait_ms: None,
                problems: Vec::new(),
                migrations: Vec::new(),
                failure: None,
                reset: None,
                report_path: None,
            },
            opts,
            cancel,
            finished: false,
            written: None,
            unflushed: Vec::new(),
        }
    }

    fn progress(&self, line: &str) {
        if self.opts.progress {
            eprintln!("godwit: {line}");
        }
    }

    fn verbose(&self, line: impl FnOnce() -> String) {
        if self.opts.progress && self.opts.verbose {
            eprintln!("godwit: {}", line());
        }
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn cancelled(&self) -> Option<String> {
        self.cancel.borrow().clone()
    }

    /// Records the error in the report and hands it back.
    fn fail(&mut self, outcome: &str, e: Error) -> Error {
        self.report.outcome = outcome.into();
        self.report.error =
            Some(json!({ "code": e.code(), "exitCode": e.exit_code(), "message": e.to_string() }));
        e
    }

    /// Verify files and ledger, connect, lock, read history, plan. Returns the pending files.
    pub async fn start(&mut self) -> Result<Vec<String>> {
        match self.start_inner().await {
            Ok(p) => Ok(p),
            Err(e) => {
                let outcome = match &e {
                    Error::Integrity(_) => "refused",
                    Error::LockNotAcquired(_) => "lock-timeout",
                    Error::BudgetExhausted(_) => "budget-exhausted",
                    Error::Interrupted(_) => "interrupted",
                    _ => "error",
                };
                Err(self.fail(outcome, e))
            }
        }
    }

    async fn start_inner(&mut self) -> Result<Vec<String>> {
        let eff = match &self.opts.effective {
            Ok(e) => e.clone(),
            Err(e) => return Err(Error::Config(e.to_string())),
        };
        let settings = match &self.opts.settings {
            Ok(s) => s.clone(),
            Err(e) => return Err(Error::Config(e.to_string())),
        };
        let refused_here = self.opts.mode.local_only() && self.opts.local_only_refusal.is_some();
        let settings = settings.with_connect_timeout(
            self.remaining()
                .min(Duration::from_secs(10))
                .max(Duration::from_secs(1)),
        );
        // Reading the files (on a blocking thread) and the database side (connect, session
        // timeouts, the lock, then the history read under it) run at the same time; the files
        // and ledger are judged first, and nothing is written before both are in.
        let dir = self.opts.dir.clone();
        let mut reading = AbortOnDrop(tokio::task::spawn_blocking(move || -> Result<_> {
            let (scan, ledger) = (source::scan(&dir)?, read_ledger(&dir)?);
            let mut findings = scan.violations.clone();
            findings.extend(integrity::ledger_matches(&scan.migrations, &ledger));
            Ok((scan, findings))
        }));
        // Whichever side finishes first decides: files with problems refuse the run at once, even
        // while the lock is still held elsewhere; the database side is then abandoned.
        let ((scan, findings), history) = if refused_here {
            (reading.wait().await?, None)
        } else {
            let chain = self.lock_and_read_history(&settings, &eff);
            tokio::pin!(chain);
            tokio::select! {
                files = reading.wait() => {
                    let (scan, findings) = files?;
                    let history = if findings.is_empty() { Some(chain.await) } else { None };
                    ((scan, findings), history)
                }
                history = &mut chain => (reading.wait().await?, Some(history)),
            }
        };
        // Files and ledger first: `up` never writes the ledger, so any mismatch refuses the run
        // (also when the database could not be reached: the files are the first thing to fix).
        if !findings.is_empty() {
            self.report.problems = findings.iter().map(Problem::from_violation).collect();
            let lines: Vec<String> = findings
                .iter()
                .map(|v| format!("{}: {} ({})", v.file, v.message, v.rule))
                .collect();
            return Err(Error::Integrity(format!(
                "the migration files do not match the contract or the ledger; run `pnpm db:migrate:check` and commit:\n  {}",
                listed(lines)
            )));
        }
        self.files = scan.migrations;
        let Some(history) = history else {
            let why = self.opts.local_only_refusal.clone().unwrap_or_default();
            return Err(Error::Config(why));
        };
        let applied = match history? {
            Some(rows) => rows,
            None => {
                // Created only when missing: a no-op run takes no DDL lock at all.
                let db = self
                    .db
                    .as_ref()
                    .ok_or_else(|| Error::Internal("no connection".into()))?;
                db::ensure_history(&db.client, &eff.history_table).await?;
                Vec::new()
            }
        };
        let plan = plan::plan(&self.files, &applied);
        let problems: Vec<&plan::Row> = plan.problems().collect();
        self.report.migrations = plan
            .rows
            .iter()
            .map(|r| MigrationEntry {
                version: r.version.clone(),
                name: r.name.clone(),
                file: r.file.clone(),
                state: if r.state == State::Applied {
                    "already-applied".into()
                } else {
                    r.state.as_str().into()
                },
                ..Default::default()
            })
            .collect();
        // A reset rebuilds everything, so what the history says cannot stop it.
        if !problems.is_empty() && self.opts.mode != Mode::Reset {
            self.report.problems = problems.iter().map(|r| Problem::from_row(r)).collect();
            let lines: Vec<String> = problems
                .iter()
                .map(|r| {
                    // the file when there is one; a row whose file is gone by version and name
                    let what = r
                        .file
                        .clone()
                        .unwrap_or_else(|| format!("{} {}", r.version, r.name));
                    format!(
                        "{what}: {} ({}); {}",
                        r.state.describe(),
                        r.state.as_str(),
                        r.fix.clone().unwrap_or_default()
                    )
                })
                .collect();
            return Err(Error::Integrity(format!(
                "refusing to apply anything: the database history disagrees with the files:\n  {}",
                listed(lines)
            )));
        }
        let chosen: Vec<&plan::Row> = match self.opts.mode {
            Mode::Up => plan.pending().collect(),
            Mode::Reset => plan.rows.iter().filter(|r| r.file.is_some()).collect(),
            Mode::Down { count } => {
                let applied = plan.rows.iter().rev().filter(|r| r.state == State::Applied);
                if count == 0 {
                    applied.collect()
                } else {
                    applied.take(count).collect()
                }
            }
        };
        let by_version: std::collections::HashMap<&str, &MigrationFile> =
            self.files.iter().map(|f| (f.version.as_str(), f)).collect();
        self.pending = chosen
            .iter()
            .filter_map(|r| by_version.get(r.version.as_str()).map(|f| (*f).clone()))
            .collect();
        Ok(self.pending.iter().map(|f| f.file.clone()).collect())
    }

    /// Connect, set the session's timeouts, take the migration lock, and read the history under
    /// it (`None`: no history table yet).
    async fn lock_and_read_history(
        &mut self,
        settings: &Settings,
        eff: &Effective,
    ) -> Result<Option<Vec<plan::Applied>>> {
        let db = db::connect(settings).await?;
        self.report.database = json!({ "connection": settings.display(), "sslMode": settings.ssl_mode, "tls": db.tls, "serverVersion": db.server_version, "backendPid": db.pid });
        db::set_timeouts(&db, eff.lock_timeout_ms, eff.statement_timeout_ms).await?;
        self.verbose(|| {
            format!(
                "connected to {} (PostgreSQL {}, backend {}{}); lock_timeout {} ms, statement_timeout {} ms, budget {} s, {} lock retries, history {}",
                settings.display(),
                db.server_version,
                db.pid,
                if db.tls { ", TLS" } else { "" },
                eff.lock_timeout_ms,
                eff.statement_timeout_ms,
                eff.budget_seconds,
                eff.lock_retries,
                eff.history_table.qualified()
            )
        });
        let key = eff.history_table.lock_key();
        self.db = Some(db);
        self.lock_key = Some(key);
        self.acquire_lock(key).await?;
        let db = self
            .db
            .as_ref()
            .ok_or_else(|| Error::Internal("no connection".into()))?;
        db::read_history(&db.client, &eff.history_table).await
    }

    async fn acquire_lock(&mut self, key: i64) -> Result<()> {
        let t0 = Instant::now();
        let mut last_said = Instant::now();
        let mut wait = Duration::from_millis(100);
        let mut rx = self.cancel.clone();
        loop {
            let db = self
                .db
                .as_ref()
                .ok_or_else(|| Error::Internal("no connection".into()))?;
            if db::try_lock(&db.client, key).await? {
                self.locked = true;
                self.report.lock_wait_ms = Some(t0.elapsed().as_millis() as u64);
                self.verbose(|| {
                    format!(
                        "migration lock {key} taken after {} ms",
                        t0.elapsed().as_millis()
                    )
                });
                return Ok(());
            }
            if let Some(why) = self.cancelled() {
                return Err(Error::Interrupted(format!(
                    "{why} while waiting for the migration lock"
                )));
            }
            if last_said.elapsed() >= Duration::from_secs(5)
                || t0.elapsed() < Duration::from_millis(150)
            {
                let holder = db::lock_holder(&db.client, key)
                    .await?
                    .unwrap_or_else(|| "unknown session".into());
                self.progress(&format!("waiting for the migration lock, held by {holder}"));
                last_said = Instant::now();
            }
            if self.remaining().is_zero() {
                let holder = db::lock_holder(&db.client, key)
                    .await?
                    .unwrap_or_else(|| "unknown session".into());
                self.report.lock_wait_ms = Some(t0.elapsed().as_millis() as u64);
                return Err(Error::LockNotAcquired(format!(
                    "the migration lock was not acquired within MIGRATION_TIMEOUT_SECONDS; it is held by {holder}"
                )));
            }
            let nap = wait.min(self.remaining());
            tokio::select! {
                _ = tokio::time::sleep(nap) => {}
                _ = rx.changed() => {}
            }
            wait = (wait * 2).min(Duration::from_secs(1));
        }
    }

    /// Apply the pending migrations, rendered by Node, in order; stop at the first failure.
    pub async fn apply(&mut self, rendered: Vec<Rendered>) -> Result<Value> {
        match self.apply_inner(rendered).await {
            Ok(()) => {
                let done = self.opts.mode.done_state();
                self.report.outcome = if self.pending.is_empty() {
                    "nothing-to-do".into()
                } else {
                    done.into()
                };
                self.report.ok = true;
                Ok(json!({ "applied": self.pending.len() }))
            }
            Err(e) => {
                let e = self.make_durable(e).await;
                let outcome = match &e {
                    Error::BudgetExhausted(_) => "budget-exhausted",
                    Error::Interrupted(_) => "interrupted",
                    Error::MigrationFailed(_) | Error::Integrity(_) => "failed",
                    Error::ConnectionLost(_) => "connection-lost",
                    _ => "error",
                };
                Err(self.fail(outcome, e))
            }
        }
    }

    async fn apply_inner(&mut self, rendered: Vec<Rendered>) -> Result<()> {
        let eff = self
            .opts
            .effective
            .as_ref()
            .map_err(|e| Error::Config(e.to_string()))?
            .clone();
        // Everything is judged before anything runs: a broken module fails the run before any DDL.
        // Judging (a parse of each migration's SQL) is independent per migration: all cores.
        let mut rendered: std::collections::HashMap<String, Rendered> =
            rendered.into_iter().map(|r| (r.file.clone(), r)).collect();
        let to_judge: Vec<(MigrationFile, Option<Rendered>)> = self
            .pending
            .iter()
            .map(|f| (f.clone(), rendered.remove(&f.file)))
            .collect();
        let judged = crate::par::par_map(to_judge, 256, |(f, r)| {
            let j = r.as_ref().map(modules::judge);
            (f, r, j)
        });
        let mut work = Vec::with_capacity(judged.len());
        for (f, r, judged) in judged {
            let (Some(r), Some(judged)) = (r, judged) else {
                return Err(Error::MigrationFailed(format!(
                    "{}: was not rendered",
                    f.file
                )));
            };
            if let Some(v) = judged.violations.iter().find(|v| v.is_error()) {
                return Err(Error::MigrationFailed(format!(
                    "{}: {} ({}); nothing was run. Fix: {}",
                    f.file, v.message, v.rule, v.hint
                )));
            }
            let sql = match self.opts.mode {
                Mode::Up | Mode::Reset => r.up.unwrap_or_default(),
                Mode::Down { .. } => r.down.ok_or_else(|| {
                    Error::MigrationFailed(format!(
                        "{} has no `down`, so it cannot be reverted; nothing was reverted. Revert fewer migrations (--count), or reset the local database",
                        f.file
                    ))
                })?,
            };
            work.push((f, sql, judged.config));
        }
        let report_index: std::collections::HashMap<String, usize> = self
            .report
            .migrations
            .iter()
            .enumerate()
            .map(|(i, m)| (m.version.clone(), i))
            .collect();
        if self.opts.mode == Mode::Reset {
            // Only now, with every module rendered and judged clean: one transaction, all or
            // nothing (a missing privilege leaves the database as it was).
            let db = self
                .db
                .as_ref()
                .ok_or_else(|| Error::Internal("no connection".into()))?;
            let done = db::reset_database(&db.client, &eff.history_table)
                .await
                .map_err(|e| {
                    Error::MigrationFailed(format!("reset failed and changed nothing: {e}"))
                })?;
            self.progress(&format!(
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
                m.state = "pending".into();
            }
            self.report.reset = Some(done);
        }
        let total = work.len();
        for (i, (file, chunks, config)) in work.into_iter().enumerate() {
            // All but the run's last transactional migration commit without waiting for the WAL
            // flush; the last commit (synchronous) flushes the WAL through every earlier one, and
            // a run that stops early flushes before it reports (`make_durable`).
            let async_commit = config.transaction && i + 1 < total;
            if let Some(why) = self.cancelled() {
                return Err(Error::Interrupted(why));
            }
            if self.remaining().is_zero() {
                return Err(Error::BudgetExhausted(
                    "MIGRATION_TIMEOUT_SECONDS ran out before every migration was applied".into(),
                ));
            }
            let verb = if self.opts.mode.reverts() {
                "reverting"
            } else {
                "applying"
            };
            self.progress(&format!(
                "{verb} {}{}",
                file.file,
                if config.transaction {
                    ""
                } else {
                    " (no transaction)"
                }
            ));
            let t0 = Instant::now();
            let body = chunks.join("\n;\n");
            let sql_checksum = sha256_raw(body.as_bytes());
            self.verbose(|| {
                let first = chunks
                    .iter()
                    .flat_map(|c| c.lines())
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with("--"))
                    .unwrap_or("");
                let first: String = first.chars().take(100).collect();
                format!(
                    "  {} string(s), {} bytes of SQL, sha256 {}; begins `{first}`",
                    chunks.len(),
                    body.len(),
                    &sql_checksum[..12.min(sql_checksum.len())]
                )
            });
            // A long statement (an index build, a backfill) says it is still going, with the time
            // so far, so a quiet pipeline log never looks like a hang.
            let _ticker = self
                .opts
                .progress
                .then(|| still_running(file.file.clone(), verb, t0));
            let mut attempts = 0;
            let result = loop {
                attempts += 1;
                let r = self
                    .run_one(&file, &body, &sql_checksum, &config, &eff, async_commit)
                    .await;
                match &r {
                    Err(Failed::Sql(e))
                        if e.sqlstate.as_deref() == Some("55P03")
                            && config.transaction
                            && attempts <= eff.lock_retries =>
                    {
                        let backoff = Duration::from_millis(500 * (1 << (attempts - 1).min(5)));
                        if self.remaining() <= backoff {
                            break r;
                        }
                        self.progress(&format!(
                            "  lock_timeout on {} (attempt {attempts}); retrying in {} ms",
                            file.file,
                            backoff.as_millis()
                        ));
                        let mut rx = self.cancel.clone();
                        tokio::select! {
                            _ = tokio::time::sleep(backoff) => {}
                            _ = rx.changed() => {}
                        }
                    }
                    _ => break r,
                }
            };
            let elapsed = t0.elapsed().as_millis() as u64;
            let entry = report_index
                .get(&file.version)
                .and_then(|i| self.report.migrations.get_mut(*i));
            let set = |state: &str| {
                if let Some(m) = entry {
                    m.state = state.into();
                    m.transactional = Some(config.transaction);
                    m.duration_ms = Some(elapsed);
                    m.sql_checksum = Some(sql_checksum.clone());
                    m.attempts = Some(attempts);
                }
            };
            match result {
                Ok(()) => {
                    let done = self.opts.mode.done_state();
                    set(done);
                    if async_commit {
                        self.unflushed.push(file.version.clone());
                    } else {
                        // a synchronous commit: the WAL is flushed through every earlier one
                        self.unflushed.clear();
                    }
                    self.progress(&format!("  {done} {} in {elapsed} ms", file.file));
                }
                Err(Failed::Sql(mut detail)) => {
                    set("failed");
                    self.map_position(&mut detail, &chunks);
                    let summary = format!(
                        "{} failed: {}{}{}",
                        file.file,
                        detail.message,
                        detail
                            .sqlstate
                            .as_ref()
                            .map(|s| format!(" (SQLSTATE {s})"))
                            .unwrap_or_default(),
                        detail
                            .line
                            .map(|l| format!(" at line {l}"))
                            .unwrap_or_default()
                    );
                    let hint = if detail.invalid_indexes.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; it left INVALID index(es) {}: drop them (DROP INDEX CONCURRENTLY ...), delete the failed history row, and run up again",
                            detail.invalid_indexes.join(", ")
                        )
                    };
                    self.report.failure = Some(detail);
                    return Err(Error::MigrationFailed(format!(
                        "{summary}{hint}; later migrations were not attempted"
                    )));
                }
                Err(Failed::Stopped(e)) => {
                    set("failed");
                    return Err(e);
                }
                Err(Failed::Lost { error, state }) => {
                    set(state);
                    self.progress(&format!("  {state}: {}", file.file));
                    return Err(error);
                }
            }
        }
        Ok(())
    }

    /// Maps a server `position` (characters into the migration's SQL) to a string and line.
    fn map_position(&self, d: &mut FailureDetail, chunks: &[String]) {
        let Some(pos) = d.position else { return };
        let mut offset = (pos as usize).saturating_sub(1);
        for (i, c) in chunks.iter().enumerate() {
            let n = c.chars().count();
            if offset <= n {
                let byte = c
                    .char_indices()
                    .nth(offset)
                    .map(|(b, _)| b)
                    .unwrap_or(c.len());
                d.chunk = Some(i);
                d.line = Some(sql::line_of(c, byte));
                let split = sql::split(std::slice::from_ref(c));
                d.statement = split
                    .statements
                    .iter()
                    .take_while(|s| s.start <= byte)
                    .last()
                    .map(|s| s.text.clone());
                return;
            }
            offset = offset.saturating_sub(n + 3); // the "\n;\n" between strings
        }
    }

    async fn run_one(
        &mut self,
        file: &MigrationFile,
        body: &str,
        sql_checksum: &str,
        config: &modules::MigrationConfig,
        eff: &Effective,
        async_commit: bool,
    ) -> std::result::Result<(), Failed> {
        let t = eff.history_table.qualified();
        let down = self.opts.mode.reverts();
        // The history statement that travels with the SQL: a new row for up, or marking the live
        // row reverted for down (the table keeps both).
        let values = |status: &str, ms: &str, err: &str| {
            if down {
                return format!(
                    "UPDATE {t} SET status = 'reverted', reverted_at = now(), reverted_by = current_user, reverted_by_command = 'down' WHERE version = {} AND status = 'applied'",
                    quote_literal(&file.version)
                );
            }
            format!(
                "INSERT INTO {t} (version, name, file, checksum, sql_checksum, status, transactional, execution_ms, release_sha, error) VALUES ({v}, {}, {}, {}, {}, '{status}', {}, {ms}, {}, {err})",
                quote_literal(&file.name),
                quote_literal(&file.file),
                quote_literal(&file.checksum),
                quote_literal(sql_checksum),
                config.transaction,
                quote_literal(&eff.release_sha),
                v = quote_literal(&file.version),
            )
        };
        let overrides = |local: &str| {
            let mut s = String::new();
            if let Some(ms) = config.lock_timeout_ms {
                s.push_str(&format!("SET {local}lock_timeout = '{ms}ms';\n"));
            }
            if let Some(ms) = config.statement_timeout_ms {
                s.push_str(&format!("SET {local}statement_timeout = '{ms}ms';\n"));
            }
            s
        };
        let db = self
            .db
            .as_ref()
            .ok_or_else(|| Failed::Stopped(Error::Internal("no connection".into())))?;
        if config.transaction {
            // One round trip: the SQL, its history row and the commit travel together, so they
            // commit together or not at all. The server's clock measures the execution time.
            let prefix = format!(
                "BEGIN;\n{}{}",
                if async_commit {
                    "SET LOCAL synchronous_commit = off;\n"
                } else {
                    ""
                },
                overrides("LOCAL ")
            );
            let batch = format!(
                "{prefix}{body}\n;\n{};\nCOMMIT;",
                values(
                    "applied",
                    "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int",
                    "NULL"
                )
            );
            let fut = db.client.batch_execute(&batch);
            tokio::pin!(fut);
            let (stop, answer) = self.run_guarded(fut).await;
            // Since the history row commits with the migration, the row says what happened.
            let fate = match answer {
                Answer::Finished => Fate::Committed,
                Answer::Error(e) => {
                    let _ = db.client.batch_execute("ROLLBACK").await;
                    Fate::RolledBack(Some(e))
                }
                Answer::Lost(why) => match self.learn_fate(&eff.history_table, &file.version).await
                {
                    Ok(Some(status)) if status == (self.opts.mode.done_state()) => Fate::Committed,
                    Ok(_) => Fate::RolledBack(None),
                    Err(e) => Fate::Unknown(format!("{why}; asking a new session failed too: {e}")),
                },
            };
            match (stop, fate) {
                (None, Fate::Committed) => Ok(()),
                (None, Fate::RolledBack(Some(e))) => {
                    let mut d = detail(&file.file, &e);
                    d.position = d
                        .position
                        .map(|p| p.saturating_sub(prefix.chars().count() as u32));
                    // An error past the migration's own SQL, or on the one-live-row index, is the
                    // history write's: the history table changed under the run, not the SQL.
                    let in_history = d
                        .position
                        .is_some_and(|p| p as usize > body.chars().count() + 3)
                        || d.message.contains("_live_version");
                    if in_history {
                        return Err(Failed::Lost {
                            error: Error::Integrity(format!(
                                "{} was rolled back because recording it in the history table {t} failed: {}{}; the history table was dropped, altered or written by someone else during the run. Restore it (it is the record of what was applied) before running up again",
                                file.file,
                                d.message,
                                d.sqlstate
                                    .as_ref()
                                    .map(|s| format!(" (SQLSTATE {s})"))
                                    .unwrap_or_default()
                            )),
                            state: "cancelled",
                        });
                    }
                    Err(Failed::Sql(d))
                }
                (None, Fate::RolledBack(None)) => Err(Failed::Lost {
                    error: Error::ConnectionLost(format!(
                        "the session was lost while {} ran; it was rolled back (its history row is absent), so run up again",
                        file.file
                    )),
                    state: "cancelled",
                }),
                (None, Fate::Unknown(why)) => Err(Failed::Lost {
                    error: Error::ConnectionLost(format!(
                        "the session was lost while {} ran ({why}); whether it committed is unknown: its history row commits with it, so `pnpm db:migrate:status` tells",
                        file.file
                    )),
                    state: "unknown",
                }),
                (Some(stop), fate) => {
                    let (said, state) = match fate {
                        Fate::Committed => (
                            format!(
                                "{} had already committed when the cancel arrived, so it is applied; later migrations were not attempted",
                                file.file
                            ),
                            self.opts.mode.done_state(),
                        ),
                        Fate::RolledBack(_) => (
                            format!(
                                "the running statement of {} was cancelled and rolled back",
                                file.file
                            ),
                            "cancelled",
                        ),
                        Fate::Unknown(why) => (
                            format!(
                                "{} was cancelled but the server did not confirm the outcome ({why}); its history row commits with it, so `pnpm db:migrate:status` tells whether it applied",
                                file.file
                            ),
                            "unknown",
                        ),
                    };
                    Err(Failed::Lost {
                        error: self.stop_error(stop, &said),
                        state,
                    })
                }
            }
        } else {
            let ov = overrides("");
            if !ov.is_empty() {
                db.client
                    .batch_execute(&ov)
                    .await
                    .map_err(|e| Failed::Stopped(db::db_err(e)))?;
            }
            let t0 = Instant::now();
            let fut = db.client.batch_execute(body);
            tokio::pin!(fut);
            let (stop, answer) = self.run_guarded(fut).await;
            let ms = t0.elapsed().as_millis().to_string();
            let restore = format!(
                "SET lock_timeout = '{}ms'; SET statement_timeout = '{}ms'",
                eff.lock_timeout_ms, eff.statement_timeout_ms
            );
            match answer {
                Answer::Finished => {
                    let recorded = db
                        .client
                        .batch_execute(&format!("{};\n{restore}", values("applied", &ms, "NULL")))
                        .await;
                    match (stop, recorded) {
                        (None, Ok(())) => Ok(()),
                        (Some(stop), Ok(())) => Err(Failed::Lost {
                            error: self.stop_error(stop, &format!("{} had already finished when the cancel arrived, so it is applied; later migrations were not attempted", file.file)),
                            state: self.opts.mode.done_state(),
                        }),
                        (_, Err(e)) => Err(Failed::Lost {
                            error: Error::ConnectionLost(format!(
                                "{} ran outside a transaction and finished, but recording it failed ({}); it is applied without a history row: insert the row by hand or make the next run's copy harmless",
                                file.file, db::describe_pg_error(&e)
                            )),
                            state: "unknown",
                        }),
                    }
                }
                Answer::Error(e) => {
                    // Recorded as failed: what a cancelled or failed CREATE INDEX CONCURRENTLY
                    // leaves behind must be resolved before anything else runs.
                    let mut d = detail(&file.file, &e);
                    let _ = db
                        .client
                        .batch_execute(&format!(
                            "{};\n{restore}",
                            values("failed", &ms, &quote_literal(&d.message))
                        ))
                        .await;
                    d.invalid_indexes = db::invalid_indexes(&db.client).await.unwrap_or_default();
                    match stop {
                        None => Err(Failed::Sql(d)),
                        Some(stop) => {
                            let left = if d.invalid_indexes.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    " It left INVALID index(es) {}.",
                                    d.invalid_indexes.join(", ")
                                )
                            };
                            let error = self.stop_error(stop, &format!(
                                "{} was cancelled outside a transaction and is recorded as failed.{left} Resolve it as the next run says",
                                file.file
                            ));
                            self.report.failure = Some(d);
                            Err(Failed::Lost {
                                error,
                                state: "failed",
                            })
                        }
                    }
                }
                Answer::Lost(why) => {
                    // Nothing tells whether a non-transactional statement finished: end the
                    // orphan and record the migration as failed, so the next run stops and asks a
                    // person to look (fail closed).
                    let recorded = self
                        .record_lost(&values(
                            "failed",
                            &ms,
                            &quote_literal(&format!("the session was lost: {why}")),
                        ))
                        .await;
                    let state = if recorded.is_ok() {
                        "failed"
                    } else {
                        "unknown"
                    };
                    let said = format!(
                        "the session was lost while {} ran outside a transaction ({why}); {}",
                        file.file,
                        match recorded {
                            Ok(()) => "it is recorded as failed: inspect what it left (e.g. an INVALID index), then follow the fix `pnpm db:migrate:status` shows".to_string(),
                            Err(e) => format!("recording it failed too ({e}): inspect the database before running up again"),
                        }
                    );
                    let error = match stop {
                        Some(stop) => self.stop_error(stop, &said),
                        None => Error::ConnectionLost(said),
                    };
                    Err(Failed::Lost { error, state })
                }
            }
        }
    }

    /// When a run stops early, the migrations it committed asynchronously become durable before
    /// anything is reported: one synchronous write flushes the WAL through all of them (WAL is
    /// sequential). If the run's session is gone, a new session does it and says which of them
    /// the server still has (a crash loses an unflushed commit whole, with its history row);
    /// their report states are corrected, and the note is added to the error's message.
    async fn make_durable(&mut self, e: Error) -> Error {
        let Some(last) = self.unflushed.last().cloned() else {
            return e;
        };
        let Ok(eff) = self.opts.effective.as_ref().map(Clone::clone) else {
            return e;
        };
        let barrier = format!(
            "UPDATE {} SET applied_at = applied_at WHERE version = {}",
            eff.history_table.qualified(),
            quote_literal(&last)
        );
        let live = match &self.db {
            Some(db) if !db.client.is_closed() => db.client.batch_execute(&barrier).await.is_ok(),
            _ => false,
        };
        let unflushed = std::mem::take(&mut self.unflushed);
        if live {
            return e;
        }
        let want = self.opts.mode.done_state();
        let mut lost = Vec::new();
        let mut unknown = Vec::new();
        match self.fresh_session().await {
            Ok(fresh) => {
                let _ = fresh.client.batch_execute(&barrier).await;
                for v in &unflushed {
                    match db::history_status(&fresh.client, &eff.history_table, v).await {
                        Ok(Some(st)) if st == want => {}
                        Ok(_) => lost.push(v.clone()),
                        Err(_) => unknown.push(v.clone()),
                    }
                }
            }
            Err(_) => unknown = unflushed,
        }
        if lost.is_empty() && unknown.is_empty() {
            return e;
        }
        for m in self.report.migrations.iter_mut() {
            if lost.contains(&m.version) {
                m.state = "cancelled".into();
            } else if unknown.contains(&m.version) {
                m.state = "unknown".into();
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
        match e {
            Error::ConnectionLost(m) => Error::ConnectionLost(m + &note),
            Error::BudgetExhausted(m) => Error::BudgetExhausted(m + &note),
            Error::Interrupted(m) => Error::Interrupted(m + &note),
            Error::MigrationFailed(m) => Error::MigrationFailed(m + &note),
            other => other,
        }
    }

    /// Runs one batch under the budget and the signals. When either stops it, the server is asked
    /// to cancel and the batch's own answer is still awaited (briefly), because only that answer
    /// says whether it committed before the cancel arrived.
    async fn run_guarded<F>(&self, mut fut: std::pin::Pin<&mut F>) -> (Option<Stop>, Answer)
    where
        F: std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>>,
    {
        let mut rx = self.cancel.clone();
        let deadline = tokio::time::Instant::from_std(self.deadline);
        // resolves once a cancel reason is set; never, if the sender is gone without one
        let signalled = async {
            loop {
                if rx.borrow().is_some() {
                    break;
                }
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await
                }
            }
        };
        let stop = tokio::select! {
            r = fut.as_mut() => return (None, self.answer(r)),
            _ = tokio::time::sleep_until(deadline) => Stop::Budget,
            _ = signalled => Stop::Signal,
        };
        if let Some(db) = &self.db {
            db.cancel_running().await;
        }
        let answer = match tokio::time::timeout(CANCEL_GRACE, fut).await {
            Ok(r) => self.answer(r),
            Err(_) => Answer::Lost(format!(
                "no answer within {} s of the cancel request",
                CANCEL_GRACE.as_secs()
            )),
        };
        (Some(stop), answer)
    }

    fn answer(&self, r: std::result::Result<(), tokio_postgres::Error>) -> Answer {
        match r {
            Ok(()) => Answer::Finished,
            // An error on a session that is still open is the server's verdict on the SQL; on a
            // closed one (terminated backend, network) it says nothing about what committed.
            Err(e)
                if e.as_db_error()
                    .is_some_and(|d| !matches!(d.severity(), "FATAL" | "PANIC"))
                    && self.db.as_ref().is_some_and(|d| !d.client.is_closed()) =>
            {
                Answer::Error(e)
            }
            Err(e) => Answer::Lost(db::describe_pg_error(&e)),
        }
    }

    /// The history row of `version` as a new session sees it, after ending the run's own backend
    /// if it is still there (it belongs to this run, so ending it can only roll back this run's
    /// open transaction). `None`: no row.
    async fn learn_fate(&self, h: &HistoryTable, version: &str) -> Result<Option<String>> {
        let fresh = self.fresh_session().await?;
        db::history_status(&fresh.client, h, version).await
    }

    /// Inserts a history row through a new session, after ending the run's own backend.
    async fn record_lost(&self, row_sql: &str) -> Result<()> {
        let fresh = self.fresh_session().await?;
        fresh
            .client
            .batch_execute(row_sql)
            .await
            .map_err(db::db_err)
    }

    async fn fresh_session(&self) -> Result<Db> {
        let settings = self
            .opts
            .settings
            .as_ref()
            .map_err(|e| Error::Config(e.to_string()))?
            .clone()
            .with_connect_timeout(Duration::from_secs(5));
        // A restarting server refuses connections for a few seconds: keep asking, within the
        // budget, so the report can say what happened rather than "unknown".
        let give_up = Instant::now() + self.remaining().min(Duration::from_secs(15));
        let fresh = loop {
            match db::connect(&settings).await {
                Ok(db) => break db,
                Err(e) if Instant::now() >= give_up => return Err(e),
                Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
            }
        };
        if let Some(old) = &self.db {
            db::end_backend(&fresh.client, &old.identity).await?;
        }
        Ok(fresh)
    }

    fn stop_error(&self, stop: Stop, said: &str) -> Error {
        match stop {
            Stop::Budget => {
                Error::BudgetExhausted(format!("MIGRATION_TIMEOUT_SECONDS ran out: {said}"))
            }
            Stop::Signal => Error::Interrupted(format!(
                "{}: {said}",
                self.cancelled().unwrap_or_else(|| "cancelled".into())
            )),
        }
    }

    /// Release the lock, close, write the report. Safe to call on every path, more than once.
    /// Returns the report as the JSON text written to its file.
    pub async fn finish(&mut self) -> Result<String> {
        if !self.finished {
            self.finished = true;
            if let (Some(db), Some(key), true) = (&self.db, self.lock_key, self.locked) {
                if db::unlock(&db.client, key).await.is_ok() {
                    self.locked = false;
                }
            }
            self.db = None; // dropping the client closes the session (and any lock with it)
            self.report.finished_at = Some(iso(SystemTime::now()));
            self.report.duration_ms = self.started.elapsed().as_millis() as u64;
            let sha = self
                .opts
                .effective
                .as_ref()
                .map(|e| e.release_sha.clone())
                .unwrap_or_else(|_| "local".into());
            let dir = self.opts.artifacts_dir.join(&sha);
            // `up` writes the pipeline's migration.json; local commands name their own file.
            let path = dir.join(match self.opts.mode {
                Mode::Up => "migration.json".to_string(),
                other => format!("{}.json", other.command()),
            });
            self.report.report_path = Some(path.display().to_string());
            let text = serde_json::to_string_pretty(&self.report)
                .map_err(|e| Error::Internal(e.to_string()))?
                + "\n";
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            std::fs::write(&path, &text).map_err(|e| Error::io(&path, e))?;
            self.written = Some(text);
        }
        match &self.written {
            Some(text) => Ok(text.clone()),
            None => serde_json::to_string(&self.report).map_err(|e| Error::Internal(e.to_string())),
        }
    }
}

/// Problem lines for a message: the first 20 and a count of the rest (a tampered ledger can
/// produce thousands; the report's `problems` always has every one).
fn listed(lines: Vec<String>) -> String {
    const SHOWN: usize = 20;
    let more = lines.len().saturating_sub(SHOWN);
    let mut shown: Vec<String> = lines.into_iter().take(SHOWN).collect();
    if more > 0 {
        shown.push(format!(
            "... and {more} more (every one is in the report's `problems`)"
        ));
    }
    shown.join("\n  ")
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

/// Prints "still applying <file>: <elapsed>" after 5, 10, 20 and 30 s, then every 30 s, until
/// dropped (when the migration has finished, one way or another).
fn still_running(file: String, verb: &'static str, t0: Instant) -> AbortOnDrop<()> {
    AbortOnDrop(tokio::spawn(async move {
        let mut next = Duration::from_secs(5);
        loop {
            tokio::time::sleep_until((t0 + next).into()).await;
            eprintln!(
                "godwit:   still {verb} {file}: {} s elapsed",
                t0.elapsed().as_secs()
            );
            next = match next.as_secs() {
                5 => Duration::from_secs(10),
                10 => Duration::from_secs(20),
                20 => Duration::from_secs(30),
                n => Duration::from_secs(n + 30),
            };
        }
    }))
}

/// How long a statement gets to answer after the cancel request before the run ends its session
/// from a second one to learn what happened.
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// What stopped a running statement.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Budget,
    Signal,
}

/// A batch's own answer: it finished, the server refused it with an error on a live session, or
/// the answer was lost (session gone, or silent after a cancel).
enum Answer {
    Finished,
    Error(tokio_postgres::Error),
    Lost(String),
}

/// What became of a transactional migration, learned rather than assumed.
enum Fate {
    Committed,
    RolledBack(Option<tokio_postgres::Error>),
    Unknown(String),
}

enum Failed {
    Sql(FailureDetail),
    Stopped(Error),
    /// Stopped by the budget, a signal or a lost session; `state` is what the migration is now
    /// (applied, reverted, cancelled, failed or unknown).
    Lost {
        error: Error,
        state: &'static str,
    },
}

fn detail(file: &str, e: &tokio_postgres::Error) -> FailureDetail {
    match e.as_db_error() {
        Some(db) => FailureDetail {
            file: file.into(),
            sqlstate: Some(db.code().code().to_string()),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
            position: match db.position() {
                Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
                _ => None,
            },
            ..Default::default()
        },
        None => FailureDetail {
            file: file.into(),
            message: db::describe_pg_error(e),
            ..Default::default()
        },
    }
}

/// `status`: the plan against the database, read-only, no lock.
pub async fn status(opts: &Options) -> Result<Value> {
    let eff = opts
        .effective
        .as_ref()
        .map_err(|e| Error::Config(e.to_string()))?;
    let settings = opts
        .settings
        .as_ref()
        .map_err(|e| Error::Config(e.to_string()))?
        .clone();
    // Reading the files and the database side run at the same time, as in `up`.
    let dir = opts.dir.clone();
    let mut reading = AbortOnDrop(tokio::task::spawn_blocking(move || source::scan(&dir)));
    let s = settings
        .clone()
        .with_connect_timeout(Duration::from_secs(10));
    let from_db = async {
        let db = db::connect(&s).await?;
        let applied = db::read_history(&db.client, &eff.history_table).await?;
        Ok::<_, Error>((db, applied))
    };
    let (scan, from_db) = tokio::join!(reading.wait(), from_db);
    let scan = scan?;
    let (db, applied) = from_db?;
    let plan = plan::plan(&scan.migrations, applied.as_deref().unwrap_or_default());
    let pending = plan.pending().count();
    let problems = plan.problems().count();
    Ok(json!({
        "clean": pending == 0 && problems == 0 && scan.violations.is_empty(),
        "requiresMigrations": pending > 0,
        // The playbook's pipeline variable, by its own name, for pipelines that read it as such.
        "requires_migrations": pending > 0,
        "pending": pending,
        "problems": problems,
        "historyTable": eff.history_table,
        "historyTableExists": applied.is_some(),
        "database": { "connection": settings.display(), "sslMode": settings.ssl_mode, "tls": db.tls, "serverVersion": db.server_version },
        "fileViolations": scan.violations,
        "migrations": plan.rows,
    }))
}

/// The schema fingerprint of the configured (or `database`) database: `{ hash, objects, lines }`.
pub async fn fingerprint(opts: &Options) -> Result<Value> {
    let settings = opts
        .settings
        .as_ref()
        .map_err(|e| Error::Config(e.to_string()))?
        .clone();
    let db = db::connect(&settings.with_connect_timeout(Duration::from_secs(10))).await?;
    let lines = db::fingerprint(&db.client).await?;
    Ok(
        json!({ "hash": sha256_raw(lines.join("\n").as_bytes()), "objects": lines.len(), "lines": lines }),
    )
}

/// Creates or drops one of verify's scratch databases through the configured connection, which is
/// used for nothing else.
pub async fn scratch(opts: &Options, create: bool, name: &str) -> Result<()> {
    let settings = opts
        .settings
        .as_ref()
        .map_err(|e| Error::Config(e.to_string()))?
        .clone();
    let db = db::connect(&settings.with_connect_timeout(Duration::from_secs(10))).await?;
    db::scratch(&db.client, create, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_is_one_safe_path_segment() {
        assert_eq!(sanitize_sha("abc123"), "abc123");
        assert_eq!(sanitize_sha("../../etc"), ".._.._etc");
        assert_eq!(sanitize_sha(".."), "local");
        assert_eq!(sanitize_sha(""), "local");
    }

    #[test]
    fn options_precedence_env_over_pgoptions_over_defaults() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let o = options(
            &json!({"sha": "s"}),
            &env(&[("DATABASE_URL", "postgres://u@h/d")]),
        );
        let e = o.effective.unwrap();
        assert_eq!(
            (e.lock_timeout_ms, e.statement_timeout_ms, e.budget_seconds),
            (
                DEFAULT_LOCK_TIMEOUT_MS,
                DEFAULT_STATEMENT_TIMEOUT_MS,
                DEFAULT_BUDGET_SECONDS
            )
        );
        let o = options(
            &json!({"sha": "s"}),
            &env(&[
                ("PGHOST", "h"),
                ("PGOPTIONS", "-c lock_timeout=2s"),
                ("MIGRATION_STATEMENT_TIMEOUT", "1min"),
            ]),
        );
        let e = o.effective.unwrap();
        assert_eq!((e.lock_timeout_ms, e.statement_timeout_ms), (2000, 60_000));
        let o = options(
            &json!({"sha": "s"}),
            &env(&[
                ("PGHOST", "h"),
                ("PGOPTIONS", "-c lock_timeout=2s"),
                ("MIGRATION_LOCK_TIMEOUT", "3s"),
            ]),
        );
        assert_eq!(o.effective.unwrap().lock_timeout_ms, 3000);
        let o = options(
            &json!({}),
            &env(&[("PGHOST", "h"), ("MIGRATION_TIMEOUT_SECONDS", "soon")]),
        );
        assert!(o.effective.is_err());
    }

    #[test]
    fn options_precedence_flag_env_pgoptions_config_default() {
        let config = json!({"history": {"schema": "ops", "table": "migs"}, "lockTimeout": "7s",
            "statementTimeout": "2min", "timeoutSeconds": 900, "lockRetries": 1});
        let lookup = |pairs: Vec<(&'static str, &'static str)>| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        // every layered setting of one run, in one tuple
        let effective = |flags: Value, env: Vec<(&'static str, &'static str)>| {
            let e = options(&flags, &lookup(env)).effective.unwrap();
            (
                e.history_table.schema,
                e.history_table.table,
                e.lock_timeout_ms,
                e.statement_timeout_ms,
                e.budget_seconds,
                e.lock_retries,
            )
        };
        // the configuration alone
        assert_eq!(
            effective(json!({"sha": "s", "config": config}), vec![("PGHOST", "h")]),
            ("ops".into(), "migs".into(), 7000, 120_000, 900, 1)
        );
        // PGOPTIONS over the configuration, the environment over both, a flag over everything
        assert_eq!(
            effective(
                json!({"sha": "s", "config": config, "table": "from_flag"}),
                vec![
                    ("PGHOST", "h"),
                    ("PGOPTIONS", "-c lock_timeout=2s -c statement_timeout=30s"),
                    ("MIGRATION_STATEMENT_TIMEOUT", "45s"),
                    ("MIGRATION_HISTORY_SCHEMA", "from_env"),
                    ("MIGRATION_TIMEOUT_SECONDS", "60"),
                ],
            ),
            ("from_env".into(), "from_flag".into(), 2000, 45_000, 60, 1)
        );
        // a bad configuration is a CONFIG error naming its source
        let e = options(
            &json!({"config": {"lockTimeot": "1s"}, "configSource": "godwit.config.mjs"}),
            &lookup(vec![("PGHOST", "h")]),
        )
        .effective
        .unwrap_err();
        assert_eq!(e.code(), "CONFIG");
        assert!(
            e.to_string()
                .contains("godwit.config.mjs: `lockTimeot` is not a setting"),
            "{e}"
        );
    }
}
