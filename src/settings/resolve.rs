//! The one precedence, flag, then environment, then PGOPTIONS (the two timeouts), then project
//! configuration, then default, applied to every setting of every command here and nowhere else
//! (JS passes flags and the configuration it found; it resolves nothing).

use std::path::PathBuf;

use serde::Serialize;

use super::project::{self, ProjectConfig};
use super::{Env, Flags, Mode};
use crate::db::conn;
use crate::db::history::HistoryTable;
use crate::duration;
use crate::error::{Error, Result};
use crate::files::base::BaseSpec;

/// The first layer that is set, else the default: the precedence rule itself.
pub fn first<T>(layers: impl IntoIterator<Item = Option<T>>, default: T) -> T {
    layers.into_iter().flatten().next().unwrap_or(default)
}

/// What every command that reads the migrations folder needs.
#[derive(Debug, Clone)]
pub struct Common {
    pub dir: PathBuf,
    /// The schema file, or `None` when the configuration turns it off.
    pub schema_file: Option<PathBuf>,
    /// How long one module may take to import and render.
    pub module_timeout_ms: u64,
    pub project: ProjectConfig,
}

fn duration_setting(what: &str, value: Option<String>) -> Result<Option<u64>> {
    value
        .map(|v| duration::parse_ms(&v).map_err(|why| Error::Config(format!("{what}: {why}"))))
        .transpose()
}

fn positive(what: &str, ms: Option<u64>) -> Result<Option<u64>> {
    match ms {
        Some(0) => Err(Error::Config(format!("{what} must be longer than 0"))),
        other => Ok(other),
    }
}

pub fn common(flags: &Flags, env: &Env) -> Result<Common> {
    let project = project::parse(&flags.config, flags.config_source.as_deref())?;
    let dir = dir(flags, env, Some(&project));
    Ok(Common {
        schema_file: match &project.schema_file {
            Some(project::SchemaFile::Off(_)) => None,
            Some(project::SchemaFile::Path(p)) => Some(PathBuf::from(p)),
            None => Some(
                dir.parent()
                    .map(|p| p.join("schema.sql"))
                    .unwrap_or_else(|| PathBuf::from("schema.sql")),
            ),
        },
        dir,
        module_timeout_ms: first(
            [
                positive(
                    "--module-timeout",
                    duration_setting("--module-timeout", flags.module_timeout.clone())?,
                )?,
                positive(
                    "MIGRATION_MODULE_TIMEOUT",
                    duration_setting(
                        "MIGRATION_MODULE_TIMEOUT",
                        env.get("MIGRATION_MODULE_TIMEOUT"),
                    )?,
                )?,
                project.run.module_timeout_ms,
            ],
            super::DEFAULT_MODULE_TIMEOUT_MS,
        ),
        project,
    })
}

/// The migrations folder; also when the configuration is unreadable (the report still needs it).
fn dir(flags: &Flags, env: &Env, project: Option<&ProjectConfig>) -> PathBuf {
    PathBuf::from(first(
        [
            flags.dir.clone().filter(|d| !d.trim().is_empty()),
            env.get("MIGRATION_DIR"),
            project.and_then(|p| p.dir.clone()),
        ],
        super::DEFAULT_DIR.to_string(),
    ))
}

#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub common: Common,
    /// Never write; a stale ledger is a violation (CI, or `--frozen`).
    pub frozen: bool,
    pub base: BaseSpec,
    /// Judge merged, unchanged migrations too (`--all`); else only what the change brings.
    pub all: bool,
}

pub fn check(flags: &Flags, env: &Env) -> Result<CheckSettings> {
    Ok(CheckSettings {
        common: common(flags, env)?,
        frozen: flags.frozen || super::env::is_ci(env),
        base: base_spec(flags, env),
        all: flags.all,
    })
}

/// Whether a base ref says "nothing is merged": `none`, or the all-zero commit a CI system
/// passes as the "before" of a branch's first push.
fn declares_none(r: &str) -> bool {
    r == "none" || (r.len() == 40 && r.bytes().all(|b| b == b'0'))
}

/// Where the base ref comes from, in the order they are consulted. `none` (flag or variable)
/// says on purpose that nothing is merged.
pub fn base_spec(flags: &Flags, env: &Env) -> BaseSpec {
    let flag = flags
        .base
        .clone()
        .map(|b| b.trim().to_string())
        .filter(|b| !b.is_empty());
    if let Some(f) = flag {
        return if declares_none(&f) {
            BaseSpec::None
        } else {
            BaseSpec::Flag(f)
        };
    }
    if let Some(e) = env.get("MIGRATION_BASE_REF") {
        return if declares_none(&e) {
            BaseSpec::None
        } else {
            BaseSpec::Env(e)
        };
    }
    if let Some(g) = env.get("GITHUB_BASE_REF") {
        return BaseSpec::GithubBaseRef(format!("origin/{g}"));
    }
    BaseSpec::Default
}

/// The settings of a locked run, as its report states them.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, schemars(deny_unknown_fields))]
#[cfg_attr(test, ts(rename = "RunSettings"))]
#[serde(rename_all = "camelCase")]
pub struct Effective {
    pub budget_seconds: u64,
    pub lock_timeout_ms: u64,
    pub statement_timeout_ms: u64,
    pub lock_retries: u32,
    pub history_table: HistoryTable,
    #[cfg_attr(test, schemars(regex(pattern = r"^[A-Za-z0-9._-]+$")))]
    pub release_sha: String,
}

/// A locked run (up, down, reset). The parts a report needs even when the settings are wrong
/// (where to write it, what to call it) are always there; the rest is a `Result` the run
/// reports as its error.
#[derive(Debug)]
pub struct RunSettings {
    pub mode: Mode,
    /// One target of a fleet: where its report goes, and its name in the report.
    pub target: Option<String>,
    /// Schema-per-tenant: the existing-schema guard's scope.
    pub only_schema: Option<String>,
    /// `--to`: a 13-digit version (checked against the files and history at plan time).
    pub to: Option<String>,
    /// `plan`: no lock, read-only, nothing run.
    pub dry_run: bool,
    pub dir: PathBuf,
    pub artifacts_dir: PathBuf,
    /// The release sha from a flag or the environment; `None`: git HEAD, asked at start.
    pub sha: Option<String>,
    pub progress: bool,
    pub verbose: bool,
    pub module_timeout_ms: u64,
    pub resolved: Result<Resolved>,
}

#[derive(Debug, Clone)]
pub struct Resolved {
    pub effective: Effective,
    pub common: Common,
    pub connection: conn::Settings,
    /// Why a local-only mode (down, reset) must not run here, if it must not.
    pub local_only_refusal: Option<String>,
    /// `up` may run over a schema godwit did not build (flag, MIGRATION_ALLOW_EXISTING_SCHEMA,
    /// or the configuration's `allowExistingSchema`).
    pub allow_existing_schema: bool,
}

pub fn run(flags: &Flags, env: &Env) -> RunSettings {
    let resolved = resolved(flags, env);
    let (dir, module_timeout_ms) = match &resolved {
        Ok(r) => (r.common.dir.clone(), r.common.module_timeout_ms),
        Err(_) => (dir(flags, env, None), super::DEFAULT_MODULE_TIMEOUT_MS),
    };
    RunSettings {
        mode: flags.mode.clone(),
        target: flags.target.clone(),
        only_schema: flags.only_schema.clone(),
        to: flags.to.clone(),
        dry_run: flags.dry_run && flags.mode == Mode::Up,
        dir,
        artifacts_dir: PathBuf::from(first(
            [flags.artifacts_dir.clone()],
            super::DEFAULT_ARTIFACTS_DIR.to_string(),
        )),
        sha: flags
            .sha
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| env.get("GIT_SHA"))
            .or_else(|| env.get("GITHUB_SHA")),
        progress: flags.progress,
        verbose: flags.verbose,
        module_timeout_ms,
        resolved,
    }
}

fn history(flags: &Flags, env: &Env, project: &ProjectConfig) -> Result<HistoryTable> {
    HistoryTable::new(
        first(
            [
                flags.schema.clone().filter(|s| !s.is_empty()),
                env.get("MIGRATION_HISTORY_SCHEMA"),
                project.run.history_schema.clone(),
            ],
            "public".to_string(),
        ),
        first(
            [
                flags.table.clone().filter(|s| !s.is_empty()),
                env.get("MIGRATION_HISTORY_TABLE"),
                project.run.history_table.clone(),
            ],
            "godwit_migrations".to_string(),
        ),
    )
}

/// The connection, with `database` (verify's scratch databases) swapped in.
fn connection(flags: &Flags, env: &Env) -> Result<conn::Settings> {
    let mut settings = conn::from_env(env)?;
    if let Some(db) = &flags.database {
        settings.config.dbname(db);
    }
    Ok(settings)
}

/// MIGRATION_TIMEOUT_SECONDS and MIGRATION_LOCK_RETRIES: whole numbers in a sane range, never a
/// value whose arithmetic could overflow.
fn whole_numbers(env: &Env) -> Result<(Option<u64>, Option<u32>)> {
    let budget_seconds = match env.get("MIGRATION_TIMEOUT_SECONDS") {
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|n| (1..=super::MAX_BUDGET_SECONDS).contains(n))
                .ok_or_else(|| {
                    Error::Config(format!(
                        "MIGRATION_TIMEOUT_SECONDS must be a whole number of seconds from 1 to {} (30 days), got `{v}`",
                        super::MAX_BUDGET_SECONDS
                    ))
                })?,
        ),
        None => None,
    };
    let lock_retries = match env.get("MIGRATION_LOCK_RETRIES") {
        Some(v) => Some(v.parse::<u32>().ok().filter(|n| *n <= 100).ok_or_else(|| {
            Error::Config(format!(
                "MIGRATION_LOCK_RETRIES must be a whole number from 0 to 100, got `{v}`"
            ))
        })?),
        None => None,
    };
    Ok((budget_seconds, lock_retries))
}

fn resolved(flags: &Flags, env: &Env) -> Result<Resolved> {
    let common = common(flags, env)?;
    let connection = connection(flags, env)?;
    let run = &common.project.run;
    let from_options = |name: &str| -> Result<Option<u64>> {
        duration_setting("PGOPTIONS/options", connection.options.get(name).cloned())
    };
    let (budget_seconds, lock_retries) = whole_numbers(env)?;
    let effective = Effective {
        budget_seconds: first(
            [budget_seconds, run.timeout_seconds],
            super::DEFAULT_BUDGET_SECONDS,
        ),
        lock_timeout_ms: first(
            [
                duration_setting("MIGRATION_LOCK_TIMEOUT", env.get("MIGRATION_LOCK_TIMEOUT"))?,
                from_options("lock_timeout")?,
                run.lock_timeout_ms,
            ],
            super::DEFAULT_LOCK_TIMEOUT_MS,
        ),
        statement_timeout_ms: first(
            [
                duration_setting(
                    "MIGRATION_STATEMENT_TIMEOUT",
                    env.get("MIGRATION_STATEMENT_TIMEOUT"),
                )?,
                from_options("statement_timeout")?,
                run.statement_timeout_ms,
            ],
            super::DEFAULT_STATEMENT_TIMEOUT_MS,
        ),
        lock_retries: first(
            [lock_retries, run.lock_retries],
            super::DEFAULT_LOCK_RETRIES,
        ),
        history_table: history(flags, env, &common.project)?,
        release_sha: String::new(),
    };
    let local_only_refusal = if flags.mode.local_only() && !flags.allow_non_local {
        local_only_refusal(&connection, env)
    } else {
        None
    };
    let allow_existing_schema = first(
        [
            flags.allow_existing_schema.then_some(true),
            env.get("MIGRATION_ALLOW_EXISTING_SCHEMA")
                .map(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes")),
            common.project.run.allow_existing_schema,
        ],
        false,
    );
    Ok(Resolved {
        effective,
        common,
        connection,
        local_only_refusal,
        allow_existing_schema,
    })
}

/// `down` and `reset` are for local development (the playbook: production rollback is restore +
/// redeploy). verify's own scratch databases are exempt: they exist to be thrown away.
pub fn local_only_refusal(s: &conn::Settings, env: &Env) -> Option<String> {
    if s.config
        .get_dbname()
        .is_some_and(|d| d.starts_with("godwit_verify_"))
    {
        return None;
    }
    let how = "down and reset are for local development; production rollback is restore + redeploy (the playbook). Pass --allow-non-local only if you are sure";
    if env.get("NODE_ENV").as_deref() == Some("production") {
        return Some(format!("NODE_ENV=production: {how}"));
    }
    if super::env::is_ci(env) {
        return Some(format!("running in CI (CI is set): {how}"));
    }
    (!s.is_local()).then(|| format!("{} is not a local server: {how}", s.display()))
}

/// `status` and `assertSchemaCurrent()`: read-only, bounded by their own short timeout.
#[derive(Debug, Clone)]
pub struct StatusSettings {
    pub common: Common,
    pub history: HistoryTable,
    pub connection: conn::Settings,
    pub timeout_ms: u64,
}

pub fn status(flags: &Flags, env: &Env) -> Result<StatusSettings> {
    let common = common(flags, env)?;
    let timeout_ms = first(
        [
            positive(
                "timeout",
                duration_setting("timeout", flags.timeout.clone())?,
            )?,
            positive(
                "MIGRATION_STATUS_TIMEOUT",
                duration_setting(
                    "MIGRATION_STATUS_TIMEOUT",
                    env.get("MIGRATION_STATUS_TIMEOUT"),
                )?,
            )?,
            common.project.run.status_timeout_ms,
        ],
        super::DEFAULT_STATUS_TIMEOUT_MS,
    );
    Ok(StatusSettings {
        history: history(flags, env, &common.project)?,
        connection: connection(flags, env)?,
        timeout_ms,
        common,
    })
}

/// The connection alone (fingerprint, scratch databases), with `status`'s bound.
pub fn connection_only(flags: &Flags, env: &Env) -> Result<(conn::Settings, u64)> {
    Ok((connection(flags, env)?, super::DEFAULT_STATUS_TIMEOUT_MS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&'static str, &'static str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn the_first_set_layer_wins() {
        let cases: [([Option<u32>; 4], u32); 5] = [
            ([Some(1), Some(2), Some(3), Some(4)], 1),
            ([None, Some(2), Some(3), Some(4)], 2),
            ([None, None, Some(3), Some(4)], 3),
            ([None, None, None, Some(4)], 4),
            ([None, None, None, None], 9),
        ];
        for (layers, want) in cases {
            assert_eq!(first(layers, 9), want, "{layers:?}");
        }
    }

    fn effective(flags: &Flags, e: &Env) -> Effective {
        run(flags, e).resolved.unwrap().effective
    }

    #[test]
    fn defaults_then_pgoptions_then_env() {
        let f = Flags::default();
        let e = effective(&f, &env(&[("DATABASE_URL", "postgres://u@h/d")]));
        assert_eq!(
            (
                e.lock_timeout_ms,
                e.statement_timeout_ms,
                e.budget_seconds,
                e.lock_retries
            ),
            (5000, 900_000, 1800, 3)
        );
        let e = effective(
            &f,
            &env(&[
                ("PGHOST", "h"),
                ("PGOPTIONS", "-c lock_timeout=2s"),
                ("MIGRATION_STATEMENT_TIMEOUT", "1min"),
            ]),
        );
        assert_eq!((e.lock_timeout_ms, e.statement_timeout_ms), (2000, 60_000));
        let e = effective(
            &f,
            &env(&[
                ("PGHOST", "h"),
                ("PGOPTIONS", "-c lock_timeout=2s"),
                ("MIGRATION_LOCK_TIMEOUT", "3s"),
            ]),
        );
        assert_eq!(e.lock_timeout_ms, 3000);
    }

    #[test]
    fn flag_env_pgoptions_config_default() {
        let config = json!({"history": {"schema": "ops", "table": "migs"}, "lockTimeout": "7s",
            "statementTimeout": "2min", "timeoutSeconds": 900, "lockRetries": 1});
        let flags = |extra: Flags| Flags {
            config: config.clone(),
            ..extra
        };
        let tuple = |e: Effective| {
            (
                e.history_table.schema,
                e.history_table.table,
                e.lock_timeout_ms,
                e.statement_timeout_ms,
                e.budget_seconds,
                e.lock_retries,
            )
        };
        assert_eq!(
            tuple(effective(
                &flags(Flags::default()),
                &env(&[("PGHOST", "h")])
            )),
            ("ops".into(), "migs".into(), 7000, 120_000, 900, 1)
        );
        assert_eq!(
            tuple(effective(
                &flags(Flags {
                    table: Some("from_flag".into()),
                    ..Flags::default()
                }),
                &env(&[
                    ("PGHOST", "h"),
                    ("PGOPTIONS", "-c lock_timeout=2s -c statement_timeout=30s"),
                    ("MIGRATION_STATEMENT_TIMEOUT", "45s"),
                    ("MIGRATION_HISTORY_SCHEMA", "from_env"),
                    ("MIGRATION_TIMEOUT_SECONDS", "60"),
                ]),
            )),
            ("from_env".into(), "from_flag".into(), 2000, 45_000, 60, 1)
        );
    }

    #[test]
    fn a_bad_configuration_is_a_config_error_naming_its_source() {
        let f = Flags {
            config: json!({"lockTimeot": "1s"}),
            config_source: Some("godwit.config.mjs".into()),
            ..Flags::default()
        };
        let e = run(&f, &env(&[("PGHOST", "h")])).resolved.unwrap_err();
        assert_eq!(e.code(), crate::error::Code::Config);
        assert!(
            e.to_string()
                .contains("godwit.config.mjs: `lockTimeot` is not a setting"),
            "{e}"
        );
    }

    #[test]
    fn absurd_durations_are_config_errors_never_overflows() {
        for (var, value) in [
            ("MIGRATION_TIMEOUT_SECONDS", "18446744073709551615"),
            ("MIGRATION_TIMEOUT_SECONDS", "18446744073709551616"),
            ("MIGRATION_TIMEOUT_SECONDS", "2592001"),
            ("MIGRATION_TIMEOUT_SECONDS", "0"),
            ("MIGRATION_TIMEOUT_SECONDS", "soon"),
            ("MIGRATION_LOCK_TIMEOUT", "99999999999999999999999d"),
            ("MIGRATION_STATEMENT_TIMEOUT", "25d"),
            ("MIGRATION_LOCK_RETRIES", "4294967296"),
            ("MIGRATION_MODULE_TIMEOUT", "1e400"),
            ("MIGRATION_MODULE_TIMEOUT", "0"),
        ] {
            let r = run(&Flags::default(), &env(&[("PGHOST", "h"), (var, value)]));
            let e = r.resolved.expect_err(&format!("{var}={value}"));
            assert_eq!(e.code(), crate::error::Code::Config, "{var}={value}");
            assert!(e.to_string().contains(var), "{var}={value}: {e}");
        }
        let r = run(
            &Flags::default(),
            &env(&[("PGHOST", "h"), ("MIGRATION_TIMEOUT_SECONDS", "2592000")]),
        );
        assert_eq!(r.resolved.unwrap().effective.budget_seconds, 2_592_000);
    }

    #[test]
    fn dir_and_module_timeout_layers() {
        let cfg = json!({"dir": "sql/m", "moduleTimeout": "20s"});
        let f = Flags {
            config: cfg.clone(),
            ..Flags::default()
        };
        let c = common(&f, &env(&[])).unwrap();
        assert_eq!(
            (c.dir, c.module_timeout_ms),
            (PathBuf::from("sql/m"), 20_000)
        );
        let c = common(
            &f,
            &env(&[
                ("MIGRATION_DIR", "env/m"),
                ("MIGRATION_MODULE_TIMEOUT", "3s"),
            ]),
        )
        .unwrap();
        assert_eq!((c.dir, c.module_timeout_ms), (PathBuf::from("env/m"), 3000));
        let f = Flags {
            dir: Some("flag/m".into()),
            module_timeout: Some("1500".into()),
            config: cfg,
            ..Flags::default()
        };
        let c = common(&f, &env(&[("MIGRATION_DIR", "env/m")])).unwrap();
        assert_eq!(
            (c.dir, c.module_timeout_ms),
            (PathBuf::from("flag/m"), 1500)
        );
        let c = common(&Flags::default(), &env(&[])).unwrap();
        assert_eq!(
            (c.dir, c.module_timeout_ms),
            (PathBuf::from("db/migrations"), 10_000)
        );
    }

    #[test]
    fn base_ref_precedence() {
        let flags = |b: Option<&str>| Flags {
            base: b.map(str::to_string),
            ..Flags::default()
        };
        let all = env(&[("MIGRATION_BASE_REF", "b"), ("GITHUB_BASE_REF", "c")]);
        assert_eq!(
            base_spec(&flags(Some("a")), &all),
            BaseSpec::Flag("a".into())
        );
        assert_eq!(base_spec(&flags(None), &all), BaseSpec::Env("b".into()));
        assert_eq!(
            base_spec(
                &flags(Some("")),
                &env(&[("MIGRATION_BASE_REF", " "), ("GITHUB_BASE_REF", "main")])
            ),
            BaseSpec::GithubBaseRef("origin/main".into())
        );
        assert_eq!(base_spec(&flags(None), &env(&[])), BaseSpec::Default);
        assert_eq!(base_spec(&flags(Some("none")), &all), BaseSpec::None);
        assert_eq!(
            base_spec(&flags(None), &env(&[("MIGRATION_BASE_REF", "none")])),
            BaseSpec::None
        );
        // the "before" of a branch's first push
        assert_eq!(
            base_spec(
                &flags(None),
                &env(&[(
                    "MIGRATION_BASE_REF",
                    "0000000000000000000000000000000000000000"
                )])
            ),
            BaseSpec::None
        );
    }

    #[test]
    fn status_has_its_own_short_bound() {
        let s = status(&Flags::default(), &env(&[("PGHOST", "h")])).unwrap();
        assert_eq!(s.timeout_ms, 10_000);
        let s = status(
            &Flags::default(),
            &env(&[("PGHOST", "h"), ("MIGRATION_STATUS_TIMEOUT", "2s")]),
        )
        .unwrap();
        assert_eq!(s.timeout_ms, 2000);
        let f = Flags {
            timeout: Some("500ms".into()),
            ..Flags::default()
        };
        assert_eq!(
            status(
                &f,
                &env(&[("PGHOST", "h"), ("MIGRATION_STATUS_TIMEOUT", "2s")])
            )
            .unwrap()
            .timeout_ms,
            500
        );
    }
}
