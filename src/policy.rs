//! SQL policy on the SQL the modules render: squawk's linter (the maintained PostgreSQL migration
//! linter) plus two rules of ours where squawk has none, isolation and declared destruction, then
//! the project's severities and each migration's written opt-outs.
//!
//! squawk is told whether each migration runs in a transaction and which PostgreSQL version is
//! targeted. Its timeout rules (`require-timeout-settings`, `require-lock-timeout`,
//! `require-statement-timeout`) are off: the runner sets `lock_timeout` and `statement_timeout`
//! on every session itself, so they hold by construction. Rules ours already cover (transaction
//! control, CONCURRENTLY inside a transaction) and squawk's drop/truncate bans (replaced by
//! `destructive-undeclared`, which a migration can declare) are off too, so nothing is reported
//! twice.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use serde::Serialize;
use serde_json::Value;
use squawk_linter::{Linter, LinterSettings, Rule, Version};

use crate::modules::MigrationConfig;
use crate::sql::{self, line_of};
use crate::violation::{Severity, Violation, rule};

/// What a project says about destructive operations (`destructive` in its configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Destructive {
    Allow,
    RequireDeclaration,
    Forbid,
}

/// A rule's level in the project configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Off,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub postgres_version: String,
    #[serde(skip)]
    version: Version,
    pub destructive: Destructive,
    /// Levels set by the project, by rule id.
    pub rules: BTreeMap<String, Level>,
    /// squawk's enabled rules, worked out once from `rules` (every migration's SQL needs them).
    #[serde(skip)]
    squawk_on: std::sync::OnceLock<Vec<Rule>>,
}

pub const DEFAULT_POSTGRES_VERSION: &str = "16";

impl Default for Policy {
    fn default() -> Self {
        Policy {
            postgres_version: DEFAULT_POSTGRES_VERSION.into(),
            version: Version::from_str(DEFAULT_POSTGRES_VERSION).unwrap_or_default(),
            destructive: Destructive::RequireDeclaration,
            rules: BTreeMap::new(),
            squawk_on: std::sync::OnceLock::new(),
        }
    }
}

/// squawk rules that are off: satisfied by the runner, covered by our rules, or replaced.
const SQUAWK_OFF: [Rule; 17] = [
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
const SQUAWK_STYLE: [Rule; 7] = [
    Rule::PreferBigintOverInt,
    Rule::PreferBigintOverSmallint,
    Rule::PreferIdentity,
    Rule::PreferTextField,
    Rule::PreferTimestampTz,
    Rule::BanCharField,
    Rule::PreferRobustStmts,
];

/// Our rules a project may set levels for (the file, ledger and module contract are not
/// negotiable).
const OUR_POLICY_RULES: [&str; 2] = [rule::ISOLATION, rule::DESTRUCTIVE];

fn squawk_rule(name: &str) -> Option<Rule> {
    Rule::from_str(name).ok()
}

/// Any rule id a configuration or a migration's `ignore` may name.
pub fn is_known_rule(name: &str) -> bool {
    OUR_POLICY_RULES.contains(&name) || squawk_rule(name).is_some_and(|r| !SQUAWK_OFF.contains(&r))
}

impl Policy {
    /// From the project configuration's values (already known to be JSON); every problem names
    /// the key and the fix.
    pub fn from_config(
        postgres_version: Option<&Value>,
        destructive: Option<&Value>,
        rules: Option<&Value>,
    ) -> Result<Policy, String> {
        let mut p = Policy::default();
        if let Some(v) = postgres_version {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(
                        "`postgresVersion` must be a version such as \"16\" or \"15.4\"".into(),
                    );
                }
            };
            p.version = Version::from_str(&s)
                .map_err(|e| format!("`postgresVersion` {s:?} is not a version ({e:?})"))?;
            p.postgres_version = s;
        }
        if let Some(v) = destructive {
            p.destructive =
                match v.as_str() {
                    Some("allow") => Destructive::Allow,
                    Some("require-declaration") => Destructive::RequireDeclaration,
                    Some("forbid") => Destructive::Forbid,
                    _ => return Err(
                        "`destructive` must be \"allow\", \"require-declaration\" or \"forbid\""
                            .into(),
                    ),
                };
        }
        if let Some(v) = rules {
            let obj = v.as_object().ok_or(
                "`rules` must be an object of rule id -> \"error\" | \"warning\" | \"off\"",
            )?;
            for (name, level) in obj {
                if !is_known_rule(name) {
                    return Err(format!(
                        "`rules.{name}` is not a rule godwit knows; use a squawk rule id (e.g. adding-not-nullable-field) or {}",
                        OUR_POLICY_RULES.join(", ")
                    ));
                }
                let level = match level.as_str() {
                    Some("error") => Level::Error,
                    Some("warning") => Level::Warning,
                    Some("off") => Level::Off,
                    _ => {
                        return Err(format!(
                            "`rules.{name}` must be \"error\", \"warning\" or \"off\""
                        ));
                    }
                };
                p.rules.insert(name.clone(), level);
            }
        }
        Ok(p)
    }

    fn level(&self, rule_id: &str) -> Level {
        if let Some(l) = self.rules.get(rule_id) {
            return *l;
        }
        match squawk_rule(rule_id) {
            Some(r) if SQUAWK_STYLE.contains(&r) => Level::Warning,
            _ => Level::Error,
        }
    }

    fn squawk_rules(&self) -> &[Rule] {
        self.squawk_on.get_or_init(|| {
            let mut on: Vec<Rule> = self.enabled_squawk_rules().into_iter().collect();
            on.sort_by_key(|r| r.to_string());
            on
        })
    }

    fn enabled_squawk_rules(&self) -> HashSet<Rule> {
        let mut on: HashSet<Rule> = enum_iterator::all::<Rule>()
            .filter(|r| !r.is_opt_in() && !SQUAWK_OFF.contains(r) && r.expands_to().is_empty())
            .collect();
        for (name, level) in &self.rules {
            if let Some(r) = squawk_rule(name) {
                if *level == Level::Off {
                    on.remove(&r);
                } else {
                    on.insert(r);
                }
            }
        }
        on
    }
}

/// A rule a migration opted out of, with the reason it wrote; every `check` report lists them.
#[derive(Debug, Clone, Serialize)]
pub struct Waiver {
    pub file: String,
    pub rule: String,
    pub reason: String,
    /// Findings it silenced in this run.
    pub silenced: usize,
}

/// The policy findings for one migration's `up` and `down` SQL, after the project's levels and
/// the migration's opt-outs. Locations are inside the rendered SQL (`Violation::sql`).
pub fn lint(
    file: &str,
    up: &[String],
    down: Option<&[String]>,
    config: &MigrationConfig,
    policy: &Policy,
) -> (Vec<Violation>, Vec<Waiver>) {
    let down_parsed = down.map(sql::parse);
    lint_parsed(
        file,
        (up, &sql::parse(up)),
        down.zip(down_parsed.as_ref()),
        config,
        policy,
    )
}

/// `lint` on SQL already parsed (by `modules::judge_parsed`).
pub fn lint_parsed(
    file: &str,
    up: (&[String], &sql::Parsed),
    down: Option<(&[String], &sql::Parsed)>,
    config: &MigrationConfig,
    policy: &Policy,
) -> (Vec<Violation>, Vec<Waiver>) {
    let mut found = Vec::new();
    lint_part(file, "up", up, config, policy, &mut found);
    if let Some(down) = down {
        lint_part(file, "down", down, config, policy, &mut found);
    }
    let mut waivers: Vec<Waiver> = config
        .ignore
        .iter()
        .map(|(r, reason)| Waiver {
            file: file.into(),
            rule: r.clone(),
            reason: reason.clone(),
            silenced: 0,
        })
        .collect();
    let mut kept = Vec::new();
    for v in found {
        match policy.level(&v.rule) {
            Level::Off => continue,
            Level::Warning => kept.push(v.severity(Severity::Warning)),
            Level::Error => kept.push(v),
        }
    }
    kept.retain(|v| match waivers.iter_mut().find(|w| w.rule == v.rule) {
        Some(w) => {
            w.silenced += 1;
            false
        }
        None => true,
    });
    for w in waivers.iter().filter(|w| w.silenced == 0) {
        kept.push(
            Violation::new(
                file,
                rule::UNUSED_IGNORE,
                format!(
                    "`config.ignore` waives `{}`, which finds nothing here",
                    w.rule
                ),
                "remove the entry: an opt-out that silences nothing hides the next real finding",
            )
            .severity(Severity::Warning),
        );
    }
    (kept, waivers)
}

fn lint_part(
    file: &str,
    part: &'static str,
    (chunks, parsed): (&[String], &sql::Parsed),
    config: &MigrationConfig,
    policy: &Policy,
    out: &mut Vec<Violation>,
) {
    let rules = policy.squawk_rules();
    for (chunk, (text, parse)) in chunks.iter().zip(&parsed.sources).enumerate() {
        let lines = sql::LineIndex::new(text);
        let mut linter = Linter::from(rules.iter().copied());
        linter.settings = LinterSettings {
            pg_version: policy.version,
            assume_in_transaction: config.transaction,
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
    let statements = &parsed.split.statements;
    if statements.len() > 1 && policy.level(rule::ISOLATION) != Level::Off {
        for s in statements.iter().filter(|s| s.heavy.is_some()) {
            out.push(
                Violation::new(
                    file,
                    rule::ISOLATION,
                    format!(
                        "`{part}` mixes {} with {} other statement(s): in one transaction the locks taken by every statement are held for its whole duration",
                        s.heavy.unwrap_or_default(),
                        statements.len() - 1
                    ),
                    "give it a migration of its own (`pnpm db:migrate:create -- <name>`), so it holds its lock alone and briefly",
                )
                .in_sql(part, s.chunk, s.line),
            );
        }
    }
    // `down` exists to undo, so destruction there is its purpose.
    if part == "up" {
        for s in statements.iter().filter(|s| s.destructive.is_some()) {
            let what = s.destructive.unwrap_or_default();
            let finding = match (policy.destructive, config.destructive) {
                (Destructive::Allow, _) | (Destructive::RequireDeclaration, true) => None,
                (Destructive::RequireDeclaration, false) => Some((
                    format!("`up` runs {what}, which destroys data, and the migration does not declare it"),
                    "if it is intended, say so: export const config = { destructive: true }; otherwise remove it".to_string(),
                )),
                (Destructive::Forbid, _) => Some((
                    format!("`up` runs {what}, and this project forbids destructive migrations"),
                    "the project's configuration sets destructive: \"forbid\"; do it by hand under review, or change the policy".to_string(),
                )),
            };
            if let Some((message, hint)) = finding {
                out.push(
                    Violation::new(file, rule::DESTRUCTIVE, message, hint)
                        .in_sql(part, s.chunk, s.line),
                );
            }
        }
    }
}

/// Points SQL findings at lines of the migration file when the SQL is written there literally
/// (a template or string literal without escapes); otherwise the SQL location stays the guide.
pub fn file_lines(
    source: &str,
    up: &[String],
    down: Option<&[String]>,
    violations: &mut [Violation],
) {
    // Where each SQL string starts in the file, looked up once per string (many findings can
    // point into one long string).
    let mut starts: std::collections::HashMap<(&str, usize), Option<u32>> = Default::default();
    for v in violations.iter_mut() {
        let Some(at) = &v.sql else { continue };
        let first_line = *starts.entry((at.part, at.chunk)).or_insert_with(|| {
            let chunks = if at.part == "up" { Some(up) } else { down };
            let text = chunks.and_then(|c| c.get(at.chunk))?;
            let start = (!text.is_empty())
                .then(|| source.find(text.as_str()))
                .flatten()?;
            Some(line_of(source, start))
        });
        if let Some(first) = first_line {
            v.line = Some(first + at.line - 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(transaction: bool) -> MigrationConfig {
        MigrationConfig {
            transaction,
            ..Default::default()
        }
    }
    fn rules_of(sql: &str, config: &MigrationConfig, policy: &Policy) -> Vec<String> {
        let (v, _) = lint("f.mjs", &[sql.to_string()], None, config, policy);
        v.into_iter().map(|v| v.rule).collect()
    }

    #[test]
    fn squawk_finds_unsafe_operations_and_timeouts_are_not_asked_for() {
        let p = Policy::default();
        assert_eq!(
            rules_of("ALTER TABLE t ADD COLUMN c text NOT NULL;", &cfg(true), &p),
            ["adding-required-field"]
        );
        assert_eq!(
            rules_of("CREATE INDEX i ON t (c);", &cfg(true), &p),
            ["require-concurrent-index-creation"]
        );
        assert!(
            rules_of(
                "CREATE TABLE t (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);",
                &cfg(true),
                &p
            )
            .is_empty()
        );
    }

    #[test]
    fn isolation_wants_heavy_operations_alone() {
        let p = Policy::default();
        let r = rules_of(
            "ALTER TABLE t ALTER COLUMN c TYPE bigint; CREATE TABLE u (id bigint);",
            &cfg(true),
            &p,
        );
        assert!(r.contains(&rule::ISOLATION.to_string()), "{r:?}");
        // alone it is squawk's business, not isolation's
        assert!(
            !rules_of("ALTER TABLE t ALTER COLUMN c TYPE bigint;", &cfg(true), &p)
                .contains(&rule::ISOLATION.to_string())
        );
        // on a table created in the same migration nothing is heavy
        assert!(rules_of("CREATE TABLE n (a bigint); CREATE INDEX n_a ON n (a); ALTER TABLE n ADD CONSTRAINT c CHECK (a > 0);", &cfg(true), &p).is_empty());
    }

    #[test]
    fn destructive_needs_a_declaration_and_down_is_exempt() {
        let p = Policy::default();
        assert_eq!(
            rules_of("DROP TABLE t;", &cfg(true), &p),
            [rule::DESTRUCTIVE]
        );
        let declared = MigrationConfig {
            destructive: true,
            ..cfg(true)
        };
        assert!(rules_of("DROP TABLE t;", &declared, &p).is_empty());
        let forbid = Policy {
            destructive: Destructive::Forbid,
            ..Policy::default()
        };
        assert_eq!(
            rules_of("TRUNCATE t;", &declared, &forbid),
            [rule::DESTRUCTIVE]
        );
        let allow = Policy {
            destructive: Destructive::Allow,
            ..Policy::default()
        };
        assert!(rules_of("DELETE FROM t;", &cfg(true), &allow).is_empty());
        let (v, _) = lint(
            "f.mjs",
            &["CREATE TABLE t (id bigint);".into()],
            Some(&["DROP TABLE t;".into()]),
            &cfg(true),
            &p,
        );
        assert!(v.is_empty(), "{v:?}");
    }

    #[test]
    fn levels_and_waivers() {
        let p = Policy::from_config(
            None,
            None,
            Some(&serde_json::json!({ "require-concurrent-index-creation": "warning" })),
        )
        .unwrap();
        let (v, _) = lint(
            "f.mjs",
            &["CREATE INDEX i ON t (c);".into()],
            None,
            &cfg(true),
            &p,
        );
        assert_eq!(v[0].severity, Severity::Warning);
        let waived = MigrationConfig {
            ignore: BTreeMap::from([(
                "require-concurrent-index-creation".into(),
                "t is empty everywhere".into(),
            )]),
            ..cfg(true)
        };
        let (v, w) = lint(
            "f.mjs",
            &["CREATE INDEX i ON t (c);".into()],
            None,
            &waived,
            &Policy::default(),
        );
        assert!(v.is_empty(), "{v:?}");
        assert_eq!(
            (w[0].silenced, w[0].reason.as_str()),
            (1, "t is empty everywhere")
        );
        let (v, _) = lint(
            "f.mjs",
            &["CREATE TABLE a (id bigint);".into()],
            None,
            &waived,
            &Policy::default(),
        );
        assert_eq!(
            v.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(),
            [rule::UNUSED_IGNORE]
        );
    }

    #[test]
    fn config_errors_name_the_key() {
        assert!(
            Policy::from_config(Some(&"sixteen".into()), None, None)
                .unwrap_err()
                .contains("postgresVersion")
        );
        assert!(
            Policy::from_config(None, Some(&"sometimes".into()), None)
                .unwrap_err()
                .contains("destructive")
        );
        assert!(
            Policy::from_config(
                None,
                None,
                Some(&serde_json::json!({"no-such-rule": "off"}))
            )
            .unwrap_err()
            .contains("no-such-rule")
        );
        assert!(
            Policy::from_config(None, None, Some(&serde_json::json!({"isolation": "loud"})))
                .unwrap_err()
                .contains("isolation")
        );
        // a rule that is off by construction cannot be configured
        assert!(!is_known_rule("require-timeout-settings"));
    }

    #[test]
    fn file_lines_follow_literal_sql() {
        let src = "export const up = `\nCREATE TABLE a (id int);\nCREATE INDEX i ON t (c);\n`\n";
        let up = vec!["\nCREATE TABLE a (id int);\nCREATE INDEX i ON t (c);\n".to_string()];
        let (mut v, _) = lint("f.mjs", &up, None, &cfg(true), &Policy::default());
        file_lines(src, &up, None, &mut v);
        let idx = v
            .iter()
            .find(|v| v.rule == "require-concurrent-index-creation")
            .unwrap();
        assert_eq!((idx.sql.as_ref().unwrap().line, idx.line), (3, Some(3)));
    }
}
