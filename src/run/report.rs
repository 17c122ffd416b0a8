//! The run's report: what every locked run writes on every path, its typed states and outcomes,
//! and where it is kept. Every attempt is kept: `<root>/<sha>/<command>.json` is the latest, and
//! each attempt also stays as `<root>/<sha>/attempts/<started>-<command>.json`, so a rerun on
//! the same sha (a `nothing-to-do` after the real apply) never replaces the record of what
//! happened.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::db::ResetDone;
use crate::error::{Error, ErrorDoc};
use crate::plan;
use crate::settings::Effective;
use crate::violation::Violation;

/// A migration's state in a run's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "MigrationState"))]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// Applied by this run.
    Applied,
    /// Applied by an earlier run.
    AlreadyApplied,
    #[default]
    Pending,
    Failed,
    Changed,
    MissingFile,
    OutOfOrder,
    /// Reverted by this run (`down`).
    Reverted,
    /// Stopped and rolled back.
    Cancelled,
    /// The session was lost and no second session could tell what happened.
    Unknown,
    /// Recorded as applied by this run without running (`baseline`).
    Baselined,
    /// Applied by a newer release; this release has no file for it.
    Ahead,
}

impl From<plan::State> for EntryState {
    fn from(s: plan::State) -> Self {
        match s {
            plan::State::Applied => EntryState::AlreadyApplied,
            plan::State::Pending => EntryState::Pending,
            plan::State::Changed => EntryState::Changed,
            plan::State::MissingFile => EntryState::MissingFile,
            plan::State::Failed => EntryState::Failed,
            plan::State::OutOfOrder => EntryState::OutOfOrder,
            plan::State::Ahead => EntryState::Ahead,
        }
    }
}

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// At least one migration applied.
    Applied,
    /// `down` reverted at least one migration.
    Reverted,
    /// All were applied already.
    NothingToDo,
    /// All were applied already, and the database has migrations of a newer release.
    DatabaseAhead,
    /// `baseline` recorded migrations as applied without running them.
    Baselined,
    /// `plan`: the migrations `up` would apply are listed in `plan`; nothing ran.
    Planned,
    /// Files, ledger or history disagree; nothing ran.
    Refused,
    /// A migration failed (earlier ones stay applied).
    Failed,
    /// MIGRATION_TIMEOUT_SECONDS ran out waiting for the lock.
    LockTimeout,
    /// MIGRATION_TIMEOUT_SECONDS ran out while applying.
    BudgetExhausted,
    /// SIGINT or SIGTERM.
    Interrupted,
    /// The session died mid-run (the running migration's fate is in its state).
    ConnectionLost,
    /// The migration lock was released under the run.
    LockLost,
    /// Configuration, connection or internal error.
    Error,
}

impl Outcome {
    /// The outcome a run that stopped with `e` has.
    pub fn of(e: &Error) -> Outcome {
        match e {
            Error::Integrity(_)
            | Error::DatabaseNotEmpty(_)
            | Error::BaselineRefused(_)
            | Error::MigrationInvalid(_) => Outcome::Refused,
            Error::LockNotAcquired(_) => Outcome::LockTimeout,
            Error::BudgetExhausted(_) => Outcome::BudgetExhausted,
            Error::Interrupted(_) => Outcome::Interrupted,
            Error::MigrationFailed(_) => Outcome::Failed,
            Error::ConnectionLost(_) => Outcome::ConnectionLost,
            Error::LockLost(_) => Outcome::LockLost,
            _ => Outcome::Error,
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[serde(rename_all = "camelCase")]
pub struct MigrationEntry {
    #[cfg_attr(test, schemars(regex(pattern = r"^\d{13}$")))]
    pub version: String,
    pub name: String,
    pub file: Option<String>,
    pub state: EntryState,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub transactional: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub sql_checksum: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub attempts: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[serde(rename_all = "camelCase")]
pub struct FailureDetail {
    pub file: String,
    pub sqlstate: Option<String>,
    pub message: String,
    pub detail: Option<String>,
    pub hint: Option<String>,
    pub statement: Option<String>,
    /// 1-based line of the failing position in the migration file when its SQL is written there
    /// literally, else inside the rendered SQL string `chunk`.
    pub line: Option<u32>,
    /// 1-based line inside the rendered SQL string `chunk`.
    pub sql_line: Option<u32>,
    pub chunk: Option<u32>,
    pub position: Option<u32>,
    pub invalid_indexes: Vec<String>,
}

/// Why `up` refused: one shape for file/ledger findings and history disagreements.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The migration file (or `checksums.json`); `null` for a history row whose file is gone.
    pub file: Option<String>,
    #[cfg_attr(test, schemars(regex(pattern = r"^\d{13}$")))]
    pub version: Option<String>,
    /// A `check` rule (e.g. `ledger-mismatch`) or a plan state (e.g. `changed`).
    #[cfg_attr(test, schemars(regex(pattern = r"^[a-z0-9-]+$")))]
    pub kind: String,
    pub message: String,
    pub fix: String,
}

impl Problem {
    pub fn from_violation(v: &Violation) -> Self {
        Problem {
            file: Some(v.file.clone()),
            version: crate::files::scan::parse_filename(&v.file)
                .ok()
                .map(|(ver, _)| ver),
            kind: v.rule.to_string(),
            message: v.message.clone(),
            fix: v.hint.clone(),
        }
    }

    pub fn from_row(r: &plan::Row) -> Self {
        Problem {
            file: r.file.clone(),
            version: Some(r.version.clone()),
            kind: r.state.as_str().into(),
            message: format!("{} {}", r.version, r.state.describe()),
            fix: r.fix.clone().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[serde(rename_all = "camelCase")]
pub struct DatabaseInfo {
    /// postgres://user@host:port/db, never the password.
    #[cfg_attr(test, schemars(extend("not" = { "type": "string", "pattern": "://[^/@]*:[^/@]*@" })))]
    pub connection: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub ssl_mode: Option<String>,
    /// Whether the session is encrypted (pg_stat_ssl).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub tls: Option<bool>,
    pub server_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub backend_pid: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Command {
    Up,
    Down,
    Reset,
    Baseline,
    /// `plan` (`up --dry-run`): what `up` would run, without the lock and without running it.
    Plan,
}

/// One migration as `up` would run it.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[serde(rename_all = "camelCase")]
pub struct PlannedMigration {
    #[cfg_attr(test, schemars(regex(pattern = r"^\d{13}$")))]
    pub version: String,
    pub file: String,
    /// In one transaction with its history row (else each statement on its own).
    pub transactional: bool,
    /// `lock_timeout` and `statement_timeout` it runs with: its own `config`, else the job's.
    pub lock_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    /// Whether those are the migration's own (`config`) rather than the job's.
    pub own_timeouts: bool,
    /// The SQL strings the module rendered, in order, exactly as they would be sent.
    pub sql: Vec<String>,
    /// The SQL's sha256, as the history row would record it.
    pub sql_checksum: String,
}

/// The report of a locked run (`up`, `down`, `reset`).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[cfg_attr(test, ts(rename = "UpReport"))]
#[serde(rename_all = "camelCase")]
pub struct Report {
    #[cfg_attr(test, schemars(range(min = 1, max = 1)))]
    pub report_version: u32,
    pub tool: ToolInfo,
    pub command: Command,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub duration_ms: u64,
    pub outcome: Outcome,
    pub ok: bool,
    pub error: Option<ErrorDoc>,
    pub database: DatabaseInfo,
    pub settings: Option<Effective>,
    pub lock_wait_ms: Option<u64>,
    pub problems: Vec<Problem>,
    pub migrations: Vec<MigrationEntry>,
    /// How many of `migrations` are in each state (states with none are left out): what a
    /// summary line or a pipeline step needs, without reading every row.
    #[cfg_attr(test, schemars(extend("propertyNames" = {"$ref": "#/$defs/EntryState"})))]
    pub counts: std::collections::BTreeMap<EntryState, usize>,
    pub failure: Option<FailureDetail>,
    /// What a local `reset` dropped and recreated before applying everything again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub reset: Option<ResetDone>,
    /// `plan`: each migration `up` would apply, in order, with the settings it would run with
    /// and its SQL exactly as rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub plan: Option<Vec<PlannedMigration>>,
    /// The latest report of this command for this sha.
    pub report_path: Option<String>,
    /// This attempt's own copy, kept when later runs on the same sha write the latest.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub attempt_path: Option<String>,
    /// Why the report could not be written (it is still printed).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub report_error: Option<String>,
    /// The fleet target this run migrated (`up --targets`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub target: Option<String>,
    /// Where each version's entry is: the runner looks one up per migration, and a scan made a
    /// 10,000-migration run quadratic (a tenth of its client time went to comparing versions).
    #[serde(skip)]
    #[cfg_attr(test, ts(skip), schemars(skip))]
    positions: std::collections::HashMap<String, usize>,
}

impl Report {
    /// Flushed to the disk unless the run succeeded without changing anything. A report that
    /// records an apply, a revert, a baseline or a failure is what the operator reads after a
    /// host crash, so it must outlive one; a clean no-op (`nothing-to-do`, `database-ahead`, a
    /// `plan`) says only what the history already holds, and is the run every deploy makes:
    /// flushing its 3 MB at 10,000 migrations would cost every such deploy a few milliseconds
    /// for nothing to recover.
    pub fn durability(&self) -> crate::files::Durability {
        let unchanged = matches!(
            self.outcome,
            Outcome::NothingToDo | Outcome::DatabaseAhead | Outcome::Planned
        );
        if self.ok && unchanged {
            crate::files::Durability::Renamed
        } else {
            crate::files::Durability::Synced
        }
    }

    pub fn new(command: Command, started_at: String) -> Report {
        Report {
            report_version: 1,
            tool: ToolInfo {
                name: "godwit".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            command,
            started_at,
            finished_at: None,
            duration_ms: 0,
            outcome: Outcome::Error,
            ok: false,
            error: None,
            database: DatabaseInfo::default(),
            settings: None,
            lock_wait_ms: None,
            problems: Vec::new(),
            migrations: Vec::new(),
            counts: std::collections::BTreeMap::new(),
            failure: None,
            reset: None,
            plan: None,
            report_path: None,
            attempt_path: None,
            report_error: None,
            target: None,
            positions: std::collections::HashMap::new(),
        }
    }

    /// Counts the entries by state, for `counts`.
    pub fn count(&mut self) {
        self.counts.clear();
        for m in &self.migrations {
            *self.counts.entry(m.state).or_default() += 1;
        }
    }

    /// Records the error and the outcome it means.
    pub fn fail(&mut self, e: &Error) {
        self.outcome = Outcome::of(e);
        self.ok = false;
        self.error = Some(e.doc());
    }

    /// The error's message with `said` replaced by `now`, when a later step learned that what
    /// it said no longer holds.
    pub fn amend_error(&mut self, said: &str, now: &str) {
        if let Some(e) = self.error.as_mut() {
            e.message = e.message.replace(said, now);
        }
    }

    pub fn entry_mut(&mut self, version: &str) -> Option<&mut MigrationEntry> {
        let known = |r: &Report| {
            r.positions
                .get(version)
                .copied()
                .filter(|&i| r.migrations.get(i).is_some_and(|m| m.version == version))
        };
        // the entries are set once per run; a stale or missing position rebuilds the index
        let at = known(self).or_else(|| {
            self.positions = self
                .migrations
                .iter()
                .enumerate()
                .map(|(i, m)| (m.version.clone(), i))
                .collect();
            known(self)
        })?;
        self.migrations.get_mut(at)
    }
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

/// Where the latest report and this attempt's copy go.
pub fn paths(
    root: &Path,
    sha: &str,
    target: Option<&str>,
    command: &str,
    started_at: &str,
) -> (PathBuf, PathBuf) {
    let mut dir = root.join(sanitize_sha(sha));
    // a fleet's target has its own folder, so no two targets' reports overwrite each other
    if let Some(t) = target {
        dir = dir.join("targets").join(sanitize_sha(t));
    }
    let latest = dir.join(match command {
        "up" => "migration.json".to_string(),
        other => format!("{other}.json"),
    });
    let stamp: String = started_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let attempt = dir
        .join("attempts")
        .join(format!("{stamp}-{}-{command}.json", std::process::id()));
    (latest, attempt)
}

/// Writes the attempt's copy, then the latest (write-then-rename, so a reader never sees half a
/// report), flushed to the disk when the report is the record of something (`durability`).
pub fn write(report: &mut Report, latest: &Path, attempt: &Path) -> Result<(), Error> {
    report.report_path = Some(latest.display().to_string());
    report.attempt_path = Some(attempt.display().to_string());
    let durability = report.durability();
    for path in [attempt, latest] {
        crate::files::create_folder(path.parent().unwrap_or(Path::new(".")), durability)?;
    }
    // streamed to the attempt's file, then the latest made the same file: at 10,000
    // migrations the text is 3 MB
    crate::files::write_atomic_with(attempt, durability, |w| {
        serde_json::to_writer_pretty(&mut *w, report)?;
        w.write_all(b"\n")
    })?;
    crate::files::link_or_copy_atomic(attempt, latest, durability)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a clean run that changed nothing skips the flush; anything that changed the
    /// database, and every failure, is flushed.
    #[test]
    fn a_report_is_flushed_unless_a_clean_run_changed_nothing() {
        use crate::files::Durability::{Renamed, Synced};
        let with = |outcome, ok| {
            let mut r = Report::new(Command::Up, "2026-01-01T00:00:00.000Z".into());
            r.outcome = outcome;
            r.ok = ok;
            r.durability()
        };
        for quiet in [
            Outcome::NothingToDo,
            Outcome::DatabaseAhead,
            Outcome::Planned,
        ] {
            assert_eq!(with(quiet, true), Renamed, "{quiet:?}");
            assert_eq!(with(quiet, false), Synced, "{quiet:?} that failed");
        }
        for changed in [Outcome::Applied, Outcome::Reverted, Outcome::Baselined] {
            assert_eq!(with(changed, true), Synced, "{changed:?}");
        }
        for failed in [
            Outcome::Refused,
            Outcome::Failed,
            Outcome::LockTimeout,
            Outcome::BudgetExhausted,
            Outcome::Interrupted,
            Outcome::ConnectionLost,
            Outcome::LockLost,
            Outcome::Error,
        ] {
            assert_eq!(with(failed, false), Synced, "{failed:?}");
        }
        assert_eq!(
            Report::new(Command::Up, String::new()).durability(),
            Synced,
            "a new report is an error until the run says otherwise"
        );
    }

    #[test]
    fn counts_are_by_state_and_leave_out_states_with_none() {
        let entry = |v: &str, state| MigrationEntry {
            version: v.into(),
            state,
            ..Default::default()
        };
        let mut r = Report::new(Command::Up, "2026-01-01T00:00:00.000Z".into());
        r.migrations = vec![
            entry("1700000000001", EntryState::AlreadyApplied),
            entry("1700000000002", EntryState::Applied),
            entry("1700000000003", EntryState::Applied),
            entry("1700000000004", EntryState::Failed),
            entry("1700000000005", EntryState::Pending),
        ];
        r.count();
        let doc = serde_json::to_value(&r).unwrap();
        assert_eq!(
            doc["counts"],
            serde_json::json!({"applied": 2, "already-applied": 1, "failed": 1, "pending": 1})
        );
        // counted again, not added to
        r.migrations.truncate(1);
        r.count();
        assert_eq!(
            serde_json::to_value(&r).unwrap()["counts"],
            serde_json::json!({"already-applied": 1})
        );
    }

    #[test]
    fn entries_are_found_by_version_also_after_they_are_replaced() {
        let entry = |v: &str| MigrationEntry {
            version: v.into(),
            name: format!("m{v}"),
            ..Default::default()
        };
        let mut r = Report::new(Command::Up, "2026-01-01T00:00:00.000Z".into());
        assert!(r.entry_mut("1700000000001").is_none());
        r.migrations = (1..=3)
            .map(|i| entry(&format!("170000000000{i}")))
            .collect();
        if let Some(m) = r.entry_mut("1700000000002") {
            m.attempts = Some(2);
        }
        assert_eq!(r.migrations[1].attempts, Some(2));
        assert!(r.entry_mut("1700000000009").is_none());
        // the same number of entries, other versions: the index must not answer from before
        r.migrations = (4..=6)
            .map(|i| entry(&format!("170000000000{i}")))
            .collect();
        assert!(r.entry_mut("1700000000002").is_none());
        if let Some(m) = r.entry_mut("1700000000006") {
            m.attempts = Some(1);
        }
        assert_eq!(r.migrations[2].attempts, Some(1));
    }

    #[test]
    fn a_fleet_target_reports_in_its_own_folder() {
        let root = Path::new("/a");
        let (latest, attempt) = paths(root, "abc", Some("../t1"), "up", "2026-01-01T00:00:00.000Z");
        assert_eq!(latest, Path::new("/a/abc/targets/.._t1/migration.json"));
        assert!(attempt.starts_with("/a/abc/targets/.._t1/attempts"));
        let (one, _) = paths(root, "abc", None, "up", "2026-01-01T00:00:00.000Z");
        assert_eq!(one, Path::new("/a/abc/migration.json"));
    }

    #[test]
    fn sha_is_one_safe_path_segment() {
        assert_eq!(sanitize_sha("abc123"), "abc123");
        assert_eq!(sanitize_sha("../../etc"), ".._.._etc");
        assert_eq!(sanitize_sha(".."), "local");
        assert_eq!(sanitize_sha(""), "local");
    }

    #[test]
    fn every_error_has_its_outcome() {
        let cases = [
            (Error::Integrity("x".into()), Outcome::Refused),
            (Error::DatabaseNotEmpty("x".into()), Outcome::Refused),
            (Error::LockNotAcquired("x".into()), Outcome::LockTimeout),
            (Error::BudgetExhausted("x".into()), Outcome::BudgetExhausted),
            (Error::Interrupted("x".into()), Outcome::Interrupted),
            (Error::MigrationFailed("x".into()), Outcome::Failed),
            (Error::ConnectionLost("x".into()), Outcome::ConnectionLost),
            (Error::LockLost("x".into()), Outcome::LockLost),
            (Error::Config("x".into()), Outcome::Error),
            (Error::Privilege("x".into()), Outcome::Error),
        ];
        for (e, want) in cases {
            assert_eq!(Outcome::of(&e), want, "{e:?}");
        }
    }

    #[test]
    fn every_attempt_is_kept_and_the_latest_is_replaced() {
        let root = std::env::temp_dir().join(format!("godwit-report-{}", std::process::id()));
        let mut paths_seen = Vec::new();
        for (i, started) in ["2026-01-01T00:00:00.000Z", "2026-01-01T00:00:01.000Z"]
            .iter()
            .enumerate()
        {
            let mut r = Report::new(Command::Up, started.to_string());
            r.duration_ms = i as u64;
            let (latest, attempt) = paths(&root, "abc", None, "up", started);
            write(&mut r, &latest, &attempt).unwrap();
            paths_seen.push(attempt);
        }
        for p in &paths_seen {
            assert!(p.is_file(), "{p:?}");
        }
        let latest: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("abc").join("migration.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(latest["durationMs"], 1);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
