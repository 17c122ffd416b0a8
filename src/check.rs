//! `check`, the policy gate: file contract -> ledger -> base comparison -> module contract, every
//! finding collected into one report; in local mode the ledger is then sealed for new migrations.
//! The only write is the ledger, atomically, and never over a ledger that could not be read.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::base::{self, BaseSpec, NoBase};
use crate::error::{Error, Result};
use crate::integrity::{self, LedgerState};
use crate::ledger::{self, Ledger};
use crate::modules::{self, Judged, Rendered};
use crate::policy::{self, Policy, Waiver};
use crate::source::{self, LEDGER_FILE, MigrationFile};
use crate::violation::{Violation, rule};

#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub dir: PathBuf,
    /// Never write; a stale ledger is a violation (CI, or `--frozen`).
    pub frozen: bool,
    pub base: BaseSpec,
    pub policy: Policy,
}

/// `--frozen`, or CI detected from the environment.
pub fn frozen_mode(flag: bool, ci_env: Option<&str>) -> bool {
    flag || base::is_ci(ci_env)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseInfo {
    /// How the base was chosen and what it resolved to; `null` commit when there is no git base.
    pub spec: BaseSpec,
    pub described: Option<String>,
    pub commit: Option<String>,
    pub none: Option<NoBase>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationSummary {
    #[serde(flatten)]
    pub file: MigrationFile,
    #[serde(flatten)]
    pub judged: Option<Judged>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub ok: bool,
    pub dir: String,
    pub mode: &'static str,
    pub base: BaseInfo,
    pub migrations: Vec<MigrationSummary>,
    /// Errors fail the check; warnings are reported only.
    pub violations: Vec<Violation>,
    pub errors: usize,
    pub warnings: usize,
    /// Rules migrations opted out of, with their written reasons: listed in every report.
    pub waivers: Vec<Waiver>,
    pub policy: Policy,
    /// Files whose ledger entry this run added or updated.
    pub sealed: Vec<String>,
    /// Ledger entries this run removed (their unmerged file is gone).
    pub unsealed: Vec<String>,
    pub ledger_written: bool,
}

pub fn read_ledger(dir: &Path) -> Result<LedgerState> {
    let path = dir.join(LEDGER_FILE);
    // A folder, a link or a device under the ledger's name is never followed or rewritten.
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.is_file() => {
            return Ok(LedgerState::Problem(ledger::LedgerProblem::Corrupt(
                "checksums.json is not a regular file".into(),
            )));
        }
        _ => {}
    }
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerState::Absent),
        Err(e) => Err(Error::io(path, e)),
        Ok(bytes) => match String::from_utf8(bytes) {
            Err(_) => Ok(LedgerState::Problem(ledger::LedgerProblem::Corrupt(
                "the file is not UTF-8 text".into(),
            ))),
            Ok(text) => Ok(match ledger::parse(&text) {
                Ok(p) => LedgerState::Read(p),
                Err(problem) => LedgerState::Problem(problem),
            }),
        },
    }
}

/// An exclusive advisory lock on the migrations folder, held while a command reads the folder and
/// the ledger and writes them back: two concurrent `create`s would otherwise pick the same version
/// or drop each other's ledger entry. Released when dropped (also on every error path). Where a
/// folder cannot be opened as a file (Windows), writers are not serialized; nothing else changes.
pub struct FolderLock(#[allow(dead_code)] Option<std::fs::File>);

impl FolderLock {
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        let Ok(f) = std::fs::File::open(dir) else {
            return Ok(FolderLock(None));
        };
        f.lock().map_err(|e| Error::io(dir, e))?;
        Ok(FolderLock(Some(f)))
    }
}

/// Write-then-rename, so a crash never leaves a half-written ledger.
pub fn write_ledger(dir: &Path, l: &Ledger) -> Result<()> {
    let path = dir.join(LEDGER_FILE);
    let tmp = dir.join(format!(".{LEDGER_FILE}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, ledger::render(l)).map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(&path, e)
    })
}

/// One migration's findings: module contract, SQL, then policy on SQL that parses.
fn judge_one(
    opts: &CheckOptions,
    m: MigrationFile,
    rendered: Option<Rendered>,
) -> (MigrationSummary, Vec<Violation>, Vec<Waiver>) {
    let mut waivers = Vec::new();
    let Some(r) = rendered else {
        let v = Violation::new(
            &m.file,
            rule::MODULE_IMPORT,
            "appeared while check was running and was not evaluated",
            "run `pnpm db:migrate:check` again",
        );
        return (
            MigrationSummary {
                file: m,
                judged: None,
            },
            vec![v],
            waivers,
        );
    };
    let (mut j, up_parsed, down_parsed) = modules::judge_parsed(&r);
    // Policy rules need SQL that parses; a syntax error is already reported.
    if let Some(up_parsed) =
        up_parsed.filter(|_| !j.violations.iter().any(|v| v.rule == rule::SQL_SYNTAX))
    {
        let up = r.up.as_deref().unwrap_or_default();
        let down = r.down.as_deref().zip(down_parsed.as_ref());
        let (found, w) =
            policy::lint_parsed(&m.file, (up, &up_parsed), down, &j.config, &opts.policy);
        j.violations.extend(found);
        waivers = w;
    }
    if j.violations.iter().any(|v| v.sql.is_some()) {
        if let Ok(source) = std::fs::read_to_string(opts.dir.join(&m.file)) {
            policy::file_lines(
                &source,
                r.up.as_deref().unwrap_or_default(),
                r.down.as_deref(),
                &mut j.violations,
            );
        }
    }
    let found = std::mem::take(&mut j.violations);
    (
        MigrationSummary {
            file: m,
            judged: Some(j),
        },
        found,
        waivers,
    )
}

/// What `check` reads before Node renders the modules: the folder (once; each file's text is
/// handed to Node for the literal reader), the ledger and the git base. A local run holds the
/// folder lock from here until the ledger is written.
pub struct Prepared {
    _lock: Option<FolderLock>,
    scan: source::Scan,
    ledger: LedgerState,
    base: std::result::Result<base::BaseSnapshot, NoBase>,
}

/// The files Node should render, in order, with their text (`null`: Node reads it).
#[derive(Debug, Serialize)]
pub struct ToRender {
    pub file: String,
    pub source: Option<String>,
}

pub fn prepare(opts: &CheckOptions) -> Result<(Prepared, Vec<ToRender>)> {
    // Frozen runs never write, so they need no lock; a local run may seal the ledger.
    let lock = if opts.frozen {
        None
    } else {
        Some(FolderLock::acquire(&opts.dir)?)
    };
    let (scan, sources) = source::scan_keeping_sources(&opts.dir)?;
    let ledger = read_ledger(&opts.dir)?;
    let base = base::load(&opts.dir, &opts.base)?;
    let to_render = scan
        .migrations
        .iter()
        .zip(sources)
        .map(|(m, source)| ToRender {
            file: m.file.clone(),
            source,
        })
        .collect();
    Ok((
        Prepared {
            _lock: lock,
            scan,
            ledger,
            base,
        },
        to_render,
    ))
}

/// `prepare` and `finish` in one call (tests, and callers that render nothing).
pub fn check(opts: &CheckOptions, rendered: Vec<Rendered>) -> Result<CheckReport> {
    let (prepared, _) = prepare(opts)?;
    finish(opts, prepared, rendered)
}

/// Judges what Node rendered against what `prepare` read, and seals the ledger when local.
pub fn finish(
    opts: &CheckOptions,
    prepared: Prepared,
    rendered: Vec<Rendered>,
) -> Result<CheckReport> {
    let Prepared {
        _lock,
        scan,
        ledger: ledger_state,
        base,
    } = prepared;
    let mut integrity = integrity::compare(&scan.migrations, &ledger_state, &base, opts.frozen);

    let mut violations = scan.violations;
    violations.append(&mut integrity.violations);
    let mut rendered: std::collections::HashMap<String, Rendered> =
        rendered.into_iter().map(|r| (r.file.clone(), r)).collect();
    let work: Vec<(MigrationFile, Option<Rendered>)> = scan
        .migrations
        .into_iter()
        .map(|m| {
            let r = rendered.remove(&m.file);
            (m, r)
        })
        .collect();
    // Each migration is judged on its own (module contract, SQL, policy), so on all cores.
    let judged = crate::par::par_map(work, 64, |(m, r)| judge_one(opts, m, r));
    let mut migrations = Vec::with_capacity(judged.len());
    let mut waivers = Vec::new();
    for (summary, mut found, mut w) in judged {
        violations.append(&mut found);
        waivers.append(&mut w);
        migrations.push(summary);
    }
    violations.sort_by(|a, b| {
        a.file
            .cmp(&b.file)
            .then(a.rule.cmp(&b.rule))
            .then(a.line.cmp(&b.line))
    });

    let ledger_written = match integrity.write.take() {
        Some(l) => {
            write_ledger(&opts.dir, &l)?;
            true
        }
        None => false,
    };
    let base_info = match base {
        Ok(b) => BaseInfo {
            spec: opts.base.clone(),
            described: Some(b.described),
            commit: Some(b.commit),
            none: None,
        },
        Err(nb) => BaseInfo {
            spec: opts.base.clone(),
            described: None,
            commit: None,
            none: Some(nb),
        },
    };
    let errors = violations.iter().filter(|v| v.is_error()).count();
    Ok(CheckReport {
        ok: errors == 0,
        errors,
        warnings: violations.len() - errors,
        waivers,
        policy: opts.policy.clone(),
        dir: opts.dir.display().to_string(),
        mode: if opts.frozen { "frozen" } else { "local" },
        base: base_info,
        migrations,
        violations,
        sealed: integrity.sealed,
        unsealed: integrity.unsealed,
        ledger_written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_by_flag_or_ci() {
        assert!(frozen_mode(true, None));
        assert!(frozen_mode(false, Some("true")));
        assert!(!frozen_mode(false, Some("false")));
        assert!(!frozen_mode(false, None));
    }
}
