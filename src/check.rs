//! `check`, the policy gate: file contract -> ledger -> base comparison -> module contract, every
//! finding collected into one report; in local mode the ledger is then sealed for new migrations.
//! The only write is the ledger, atomically, and never over a ledger that could not be read.
//!
//! What a check judges is what the change brings: a migration merged and unchanged (its bytes the
//! base's) was judged when it was merged and can no longer be edited, so it is neither rendered
//! nor judged again (as Atlas's `migrate lint --git-base` and squawk's pull-request action do),
//! unless `--all` asks. Two exceptions reach into them. A merged module that reaches outside its
//! own bytes (imports a helper, reads the environment) could render differently now, so it is
//! rendered again and held to the module contract, not to the SQL rules (as the legacy history
//! is). And claims that a column type change rewrites the table depend on the column's earlier
//! type, so when a judged migration changes a type, the merged migrations before it are rendered
//! too, for their columns only.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::contract::integrity;
use crate::contract::lines;
use crate::contract::literal;
use crate::contract::modules::{self, Judged, MigrationConfig, Rendered};
use crate::contract::reach::self_contained;
use crate::error::{Error, Result};
use crate::files::base::{self, BaseSpec, NoBase};
use crate::files::ledger::{FolderLock, LedgerState, read_ledger, write_ledger};
use crate::files::{MigrationFile, scan as source};
use crate::policy::{self, Policy, Waiver, columns};
use crate::settings::CheckSettings;
use crate::violation::{Violation, rule};

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BaseInfo {
    /// How the base was chosen and what it resolved to; `null` commit when there is no git base.
    pub spec: BaseSpec,
    pub described: Option<String>,
    pub commit: Option<String>,
    pub none: Option<NoBase>,
}

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "CheckedMigration"))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationSummary {
    #[serde(flatten)]
    pub file: MigrationFile,
    /// How it was judged (absent when the module could not be rendered).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub config: Option<MigrationConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub up_statements: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub down_statements: Option<usize>,
    /// Merged and unchanged relative to the base: not rendered or judged (`check --all` judges
    /// it).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    #[cfg_attr(test, ts(as = "Option<bool>", optional))]
    pub skipped: bool,
}

impl MigrationSummary {
    fn new(file: MigrationFile, judged: Option<&Judged>) -> Self {
        MigrationSummary {
            file,
            config: judged.map(|j| j.config.clone()),
            up_statements: judged.map(|j| j.up_statements),
            down_statements: judged.and_then(|j| j.down_statements),
            skipped: false,
        }
    }

    fn skipped(file: MigrationFile) -> Self {
        MigrationSummary {
            skipped: true,
            ..Self::new(file, None)
        }
    }
}

impl BaseInfo {
    fn new(spec: BaseSpec, base: std::result::Result<base::BaseSnapshot, NoBase>) -> Self {
        match base {
            Ok(b) => BaseInfo {
                spec,
                described: Some(b.described),
                commit: Some(b.commit),
                none: None,
            },
            Err(nb) => BaseInfo {
                spec,
                described: None,
                commit: None,
                none: Some(nb),
            },
        }
    }
}

/// Local (seals new migrations into the ledger) or frozen (CI: never writes).
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckMode {
    Local,
    Frozen,
}

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckReport {
    pub ok: bool,
    pub dir: String,
    pub mode: CheckMode,
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
    /// Files new or changed relative to the base (every file when there is none): the ones a
    /// pull request touches, and the only ones that get CI annotations.
    pub changed: Vec<String>,
    /// The legacy history (the configuration's `baseline`): how many migrations it holds. They
    /// keep the file contract, ledger and immutability, not the SQL safety rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub legacy: Option<Legacy>,
}

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Legacy {
    pub baseline: String,
    pub migrations: usize,
}

/// At or before the configuration's `baseline`.
fn is_legacy(opts: &CheckSettings, m: &MigrationFile) -> bool {
    opts.common
        .project
        .baseline
        .as_deref()
        .is_some_and(|b| m.version.as_str() <= b)
}

/// One migration's findings: module contract, SQL, then policy on SQL that parses (not for the
/// legacy history, nor for a merged module rendered again only because it reaches outside its
/// bytes: `contract_only`).
fn judge_one(
    opts: &CheckSettings,
    m: MigrationFile,
    rendered: Option<Rendered>,
    contract_only: bool,
) -> Judgement {
    let mut waivers = Vec::new();
    let Some(r) = rendered else {
        let v = Violation::new(
            &m.file,
            rule::MODULE_IMPORT,
            "appeared while check was running and was not evaluated",
            "run `pnpm db:migrate:check` again",
        );
        return (MigrationSummary::new(m, None), vec![v], waivers, Vec::new());
    };
    let (mut j, up_parsed, down_parsed) = modules::judge_parsed(&r);
    // what its statements say about column types, legacy or not (see `policy::columns`)
    let events = up_parsed
        .as_ref()
        .map(|p| columns::events(&p.split.statements))
        .unwrap_or_default();
    // The legacy history already ran in production: its SQL safety is history, not a decision
    // to make; the module contract still holds (it runs on every fresh database).
    let legacy = contract_only || is_legacy(opts, &m);
    // Policy rules need SQL that parses; a syntax error is already reported.
    if let Some(up_parsed) =
        up_parsed.filter(|_| !legacy && !j.violations.iter().any(|v| v.rule == rule::SQL_SYNTAX))
    {
        let up = r.up.as_deref().unwrap_or_default();
        let down = r.down.as_deref().zip(down_parsed.as_ref());
        let (found, w) = policy::lint_parsed(
            &m.file,
            (up, &up_parsed),
            down,
            &j.config,
            &opts.common.project.policy,
        );
        j.violations.extend(found);
        waivers = w;
    }
    if j.violations.iter().any(|v| v.sql.is_some()) {
        if let Ok(source) = std::fs::read_to_string(opts.common.dir.join(&m.file)) {
            lines::file_lines(
                &source,
                r.up.as_deref().unwrap_or_default(),
                r.down.as_deref(),
                &mut j.violations,
            );
        }
    }
    let found = std::mem::take(&mut j.violations);
    (MigrationSummary::new(m, Some(&j)), found, waivers, events)
}

/// One migration judged: its summary, findings, waivers and column events.
type Judgement = (
    MigrationSummary,
    Vec<Violation>,
    Vec<Waiver>,
    Vec<columns::Event>,
);

/// Drops the findings that claim a table rewrite for a type change PostgreSQL makes without one
/// (known from the column's type in the earlier migrations).
fn drop_false_rewrites(
    opts: &CheckSettings,
    history: &[(String, Vec<columns::Event>)],
    violations: &mut Vec<Violation>,
) {
    let major = opts
        .common
        .project
        .policy
        .postgres_version
        .split('.')
        .next()
        .and_then(|v| v.parse::<u32>().ok())
        .unwrap_or(0);
    let safe = columns::safe_changes(history, major >= 12);
    if safe.is_empty() {
        return;
    }
    violations.retain(|v| {
        let claims_rewrite = v.rule == "changing-column-type"
            || (v.rule == crate::policy::rules::isolation::ID
                && v.message.contains("ALTER COLUMN ... TYPE"));
        let at = v
            .sql
            .as_ref()
            .filter(|s| s.part == "up")
            .map(|s| (v.file.clone(), s.chunk, s.line));
        !(claims_rewrite && at.is_some_and(|k| safe.contains(&k)))
    });
}

/// What `check` reads before Node renders the modules: the folder (once; modules of literals are
/// read here, the others' text is handed to Node to import), the ledger and the git base; then
/// what `judge` found.
/// A local run holds the folder lock from here until the ledger is written.
pub struct Prepared {
    _lock: Option<FolderLock>,
    scan: source::Scan,
    ledger: LedgerState,
    base: std::result::Result<base::BaseSnapshot, NoBase>,
    /// Files new or changed relative to the base.
    changed: Vec<String>,
    /// Merged, unchanged files that are not rendered or judged (empty with `--all`), with their
    /// text, in case `judge` needs their columns.
    skipped: HashMap<String, Option<String>>,
    /// Merged, unchanged files rendered again because they reach outside their bytes: held to
    /// the module contract only.
    contract_only: HashSet<String>,
    /// Modules the core read as literals (`contract::literal`) instead of handing them to Node:
    /// for `judge` until it runs, then those `judge` asked for, for `finish`.
    literal: Vec<Rendered>,
    judged: Option<Judgements>,
}

/// The judged migrations' findings, before the column history is replayed.
struct Judgements {
    summaries: HashMap<String, MigrationSummary>,
    violations: Vec<Violation>,
    waivers: Vec<Waiver>,
    events: HashMap<String, Vec<columns::Event>>,
}

/// A file Node should render, with its text (`null`: Node reads it).
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Serialize)]
pub struct ToRender {
    pub file: String,
    pub source: Option<String>,
}

pub fn prepare(opts: &CheckSettings) -> Result<(Prepared, Vec<ToRender>)> {
    let dir = &opts.common.dir;
    // Frozen runs never write, so they need no lock; a local run may seal the ledger.
    let lock = if opts.frozen {
        None
    } else {
        Some(FolderLock::acquire(dir)?)
    };
    let (scan, sources) = source::scan_keeping_sources(dir)?;
    let ledger = read_ledger(dir)?;
    let base = {
        // the files just read stand in for their base blobs wherever git's ids agree
        let known: base::Known<'_> = scan
            .migrations
            .iter()
            .zip(&sources)
            .filter_map(|(m, s)| {
                s.as_deref()
                    .map(|s| (m.file.as_str(), (m.checksum.as_str(), s.as_bytes())))
            })
            .collect();
        base::load(dir, &opts.base, &known)?
    };
    // "Immutable after merge" needs to know what was merged: a frozen (CI) check that cannot
    // tell fails closed, unless the base was declared `none` on purpose.
    if let (true, Err(nb)) = (opts.frozen, &base) {
        if nb.unknown() {
            let why = match nb {
                NoBase::GitMissing => "git is not installed",
                _ => "the folder is not in a git repository",
            };
            return Err(Error::BaseUnknown(format!(
                "check is frozen (CI or --frozen) but {why}, so it cannot tell merged migrations from new ones and would pass an edited merged migration; run it in a checkout with git and history (fetch-depth: 0), or declare that nothing is merged with --base none (MIGRATION_BASE_REF=none)"
            )));
        }
    }
    let changed: Vec<String> = scan
        .migrations
        .iter()
        .filter(|m| {
            base.as_ref()
                .ok()
                .and_then(|b| b.files.get(&m.file))
                .is_none_or(|sum| *sum != m.checksum)
        })
        .map(|m| m.file.clone())
        .collect();
    let changed_set: HashSet<&String> = changed.iter().collect();
    let mut skipped = HashMap::new();
    let mut contract_only = HashSet::new();
    let mut to_render = Vec::with_capacity(scan.migrations.len());
    for (m, source) in scan.migrations.iter().zip(sources) {
        let merged = !opts.all && !changed_set.contains(&m.file);
        if merged && !source.as_deref().is_some_and(self_contained) {
            contract_only.insert(m.file.clone());
        }
        if !merged || contract_only.contains(&m.file) {
            to_render.push(ToRender {
                file: m.file.clone(),
                source,
            });
        } else {
            // its text crosses to Node only if `judge` asks for its columns
            skipped.insert(m.file.clone(), source);
        }
    }
    // a module of literals is read here; only the others cross to Node to be imported
    let (literal, to_render) =
        literal::part(to_render, |t: &ToRender| (&t.file, t.source.as_deref()));
    Ok((
        Prepared {
            _lock: lock,
            scan,
            ledger,
            base,
            changed,
            skipped,
            contract_only,
            literal,
            judged: None,
        },
        to_render,
    ))
}

/// Every migration that is not skipped judged on its own (module contract, SQL, policy), on all
/// cores. Returns the skipped files whose columns the type-change claims need (in order, with the
/// text that was hashed; empty when no judged migration changes a column type), for Node to
/// render and `finish` to replay.
pub fn judge(
    prepared: &mut Prepared,
    opts: &CheckSettings,
    rendered: Vec<Rendered>,
) -> Vec<ToRender> {
    let mut rendered: HashMap<String, Rendered> = rendered
        .into_iter()
        .chain(std::mem::take(&mut prepared.literal))
        .map(|r| (r.file.clone(), r))
        .collect();
    let work: Vec<(MigrationFile, Option<Rendered>)> = prepared
        .scan
        .migrations
        .iter()
        .filter(|m| !prepared.skipped.contains_key(&m.file))
        .map(|m| {
            let r = rendered.remove(&m.file);
            (m.clone(), r)
        })
        .collect();
    let contract_only = &prepared.contract_only;
    let judged = crate::par::par_map(work, 64, |(m, r)| {
        let only = contract_only.contains(&m.file);
        judge_one(opts, m, r, only)
    });
    let mut out = Judgements {
        summaries: HashMap::with_capacity(judged.len()),
        violations: Vec::new(),
        waivers: Vec::new(),
        events: HashMap::new(),
    };
    for (summary, mut found, mut w, events) in judged {
        out.violations.append(&mut found);
        out.waivers.append(&mut w);
        if !events.is_empty() {
            out.events.insert(summary.file.file.clone(), events);
        }
        out.summaries.insert(summary.file.file.clone(), summary);
    }
    // the last judged migration that changes a type: the columns it needs were made before it
    let last_change = prepared.scan.migrations.iter().rposition(|m| {
        out.events.get(&m.file).is_some_and(|e| {
            e.iter()
                .any(|e| matches!(e, columns::Event::SetType { .. }))
        })
    });
    let wanted = match last_change {
        Some(at) => prepared
            .scan
            .migrations
            .iter()
            .take(at)
            .filter_map(|m| {
                prepared.skipped.get_mut(&m.file).map(|source| ToRender {
                    file: m.file.clone(),
                    source: source.take(),
                })
            })
            .collect(),
        None => Vec::new(),
    };
    let (read, wanted) = literal::part(wanted, |t: &ToRender| (&t.file, t.source.as_deref()));
    prepared.literal = read;
    prepared.judged = Some(out);
    wanted
}

/// The columns a skipped migration defines or changes: its SQL parsed, nothing judged (a module
/// that no longer renders contributes none, so a claim about its columns stays).
fn events_only(r: &Rendered) -> Vec<columns::Event> {
    let (_, up_parsed, _) = modules::judge_parsed(r);
    up_parsed
        .map(|p| columns::events(&p.split.statements))
        .unwrap_or_default()
}

/// Replays the column history (with the skipped migrations `judge` asked for, as `history`),
/// compares files, ledger and base, and seals the ledger when local.
pub fn finish(
    opts: &CheckSettings,
    prepared: Prepared,
    history: Vec<Rendered>,
) -> Result<CheckReport> {
    let Prepared {
        _lock,
        scan,
        ledger: ledger_state,
        base,
        changed,
        skipped: _,
        contract_only: _,
        literal,
        judged,
    } = prepared;
    let history: Vec<Rendered> = history.into_iter().chain(literal).collect();
    let judged = judged.ok_or_else(|| Error::Internal("check finished before it judged".into()))?;
    let mut integrity = integrity::compare(&scan.migrations, &ledger_state, &base, opts.frozen);
    let legacy = opts.common.project.baseline.clone().map(|b| Legacy {
        migrations: scan
            .migrations
            .iter()
            .filter(|m| m.version.as_str() <= b.as_str())
            .count(),
        baseline: b,
    });

    let Judgements {
        mut summaries,
        violations: mut found,
        waivers,
        mut events,
    } = judged;
    let history_events: HashMap<String, Vec<columns::Event>> =
        crate::par::par_map(history, 64, |r| (r.file.clone(), events_only(&r)))
            .into_iter()
            .collect();
    events.extend(history_events);
    // the replay runs in version order, over judged and skipped migrations alike
    let history: Vec<(String, Vec<columns::Event>)> = scan
        .migrations
        .iter()
        .filter_map(|m| events.remove(&m.file).map(|e| (m.file.clone(), e)))
        .collect();
    drop_false_rewrites(opts, &history, &mut found);
    let migrations: Vec<MigrationSummary> = scan
        .migrations
        .into_iter()
        .map(|m| match summaries.remove(&m.file) {
            Some(s) => s,
            None => MigrationSummary::skipped(m),
        })
        .collect();

    let mut violations = scan.violations;
    violations.append(&mut integrity.violations);
    violations.append(&mut found);
    violations.sort_by(|a, b| {
        a.file
            .cmp(&b.file)
            .then(a.rule.cmp(&b.rule))
            .then(a.line.cmp(&b.line))
    });

    let ledger_written = match integrity.write.take() {
        Some(l) => {
            write_ledger(&opts.common.dir, &l)?;
            true
        }
        None => false,
    };
    let errors = violations.iter().filter(|v| v.is_error()).count();
    Ok(CheckReport {
        ok: errors == 0,
        errors,
        warnings: violations.len() - errors,
        waivers,
        policy: opts.common.project.policy.clone(),
        dir: opts.common.dir.display().to_string(),
        mode: if opts.frozen {
            CheckMode::Frozen
        } else {
            CheckMode::Local
        },
        base: BaseInfo::new(opts.base.clone(), base),
        migrations,
        violations,
        sealed: integrity.sealed,
        unsealed: integrity.unsealed,
        ledger_written,
        changed,
        legacy,
    })
}
