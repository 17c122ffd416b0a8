//! squawk's linter (the maintained PostgreSQL migration linter), wired to godwit: which of its
//! rules are on, which are style warnings, and linting one part of one migration with the
//! target version and the migration's transaction mode.
//!
//! Its timeout rules (`require-timeout-settings`, `require-lock-timeout`,
//! `require-statement-timeout`) are off: the runner sets `lock_timeout` and `statement_timeout`
//! on every session itself, so they hold by construction. Rules ours already cover (transaction
//! control, CONCURRENTLY inside a transaction) and squawk's drop/truncate bans (replaced by
//! `destructive-undeclared`, which a migration can declare) are off too, so nothing is reported
//! twice.

use std::collections::HashSet;
use std::str::FromStr;

use squawk_linter::{Linter, LinterSettings, Rule, Version};

use super::Level;
use crate::contract::sql::{self, LineIndex};
use crate::violation::Violation;

/// squawk rules that are off: satisfied by the runner, covered by our rules, or replaced.
const OFF: [Rule; 17] = [
    Rule::RequireTimeoutSettings,
    Rule::RequireLockTimeout,
    Rule::RequireStatementTimeout,
    Rule::TransactionNesting,
    Rule::BanUncommittedTransaction,
    Rule::BanConcurrentIndexCreationInTransaction,
    Rule::BanDropDatabase,
    Rule::BanDropColumn,
    Rule::BanDropTable,
    Rule::BanTruncateCascade,
    Rule::BanDropSchema,
    Rule::BanDropSequence,
    Rule::BanDropView,
    Rule::BanDropFunction,
    Rule::BanDropType,
    Rule::BanDropDomain,
    Rule::BanDropExtension,
];

/// squawk rules about style rather than safety: warnings unless the project says otherwise.
const STYLE: [Rule; 7] = [
    Rule::PreferBigintOverInt,
    Rule::PreferBigintOverSmallint,
    Rule::PreferIdentity,
    Rule::PreferTextField,
    Rule::PreferTimestampTz,
    Rule::BanCharField,
    Rule::PreferRobustStmts,
];

pub fn rule(name: &str) -> Option<Rule> {
    Rule::from_str(name).ok()
}

/// A squawk rule a configuration or `config.ignore` may name.
pub fn is_known(name: &str) -> bool {
    rule(name).is_some_and(|r| !OFF.contains(&r))
}

/// The level of a squawk rule the project did not set.
pub fn default_level(name: &str) -> Level {
    match rule(name) {
        Some(r) if STYLE.contains(&r) => Level::Warning,
        _ => Level::Error,
    }
}

/// The rules on for a project: squawk's defaults minus ours, plus or minus what it configured.
pub fn enabled<'a>(configured: impl Iterator<Item = (&'a String, &'a Level)>) -> Vec<Rule> {
    let mut on: HashSet<Rule> = enum_iterator::all::<Rule>()
        .filter(|r| !r.is_opt_in() && !OFF.contains(r) && r.expands_to().is_empty())
        .collect();
    for (name, level) in configured {
        if let Some(r) = rule(name) {
            if *level == Level::Off {
                on.remove(&r);
            } else {
                on.insert(r);
            }
        }
    }
    let mut on: Vec<Rule> = on.into_iter().collect();
    on.sort_by_key(|r| r.to_string());
    on
}

pub fn version(text: &str) -> Result<Version, String> {
    Version::from_str(text).map_err(|e| format!("{e:?}"))
}

/// squawk's findings on one part of one migration, at squawk's own level (the caller applies
/// the project's).
pub fn lint(
    file: &str,
    part: &'static str,
    chunks: &[String],
    parsed: &sql::Parsed,
    rules: &[Rule],
    version: Version,
    in_transaction: bool,
) -> Vec<Violation> {
    let mut out = Vec::new();
    for (chunk, (text, parse)) in chunks.iter().zip(&parsed.sources).enumerate() {
        let lines = LineIndex::new(text);
        let mut linter = Linter::from(rules.iter().copied());
        linter.settings = LinterSettings {
            pg_version: version,
            assume_in_transaction: in_transaction,
        };
        for v in linter.lint(parse, text) {
            let line = lines.line(usize::from(v.text_range.start()));
            let hint = v
                .help
                .clone()
                .unwrap_or_else(|| format!("see squawk's documentation for `{}`", v.code));
            out.push(
                Violation::new(file, v.code.to_string(), v.message.clone(), hint)
                    .in_sql(part, chunk, line),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_replacements_are_off_and_style_rules_warn() {
        assert!(!is_known("require-timeout-settings"));
        assert!(!is_known("ban-drop-table"));
        assert!(is_known("adding-required-field"));
        assert_eq!(default_level("prefer-bigint-over-int"), Level::Warning);
        assert_eq!(default_level("adding-required-field"), Level::Error);
        let on = enabled(std::iter::empty());
        assert!(!on.contains(&Rule::BanDropTable));
        assert!(on.contains(&Rule::RequireConcurrentIndexCreation));
    }
}
