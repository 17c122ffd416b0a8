//! SQL policy on the SQL the modules render: squawk's linter (`squawk`) plus godwit's own rules
//! (`rules/`, one per file), then the project's levels and each migration's written opt-outs.
//! squawk is told whether each migration runs in a transaction and which PostgreSQL version is
//! targeted.

pub mod columns;
pub mod rules;
pub mod squawk;

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use squawk_linter::{Rule, Version};

use crate::contract::modules::MigrationConfig;
use crate::contract::sql;
use crate::violation::{Severity, Violation, rule};

/// What a project says about destructive operations (`destructive` in its configuration).
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Destructive {
    Allow,
    RequireDeclaration,
    Forbid,
}

/// A rule's level in the project configuration.
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Off,
}

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
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
            version: squawk::version(DEFAULT_POSTGRES_VERSION).unwrap_or_default(),
            destructive: Destructive::RequireDeclaration,
            rules: BTreeMap::new(),
            squawk_on: std::sync::OnceLock::new(),
        }
    }
}

/// Any rule id a configuration or a migration's `ignore` may name.
pub fn is_known_rule(name: &str) -> bool {
    rules::ids().any(|id| id == name) || squawk::is_known(name)
}

fn our_rules_list() -> String {
    rules::ids().collect::<Vec<_>>().join(", ")
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
            p.version = squawk::version(&s)
                .map_err(|e| format!("`postgresVersion` {s:?} is not a version ({e})"))?;
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
                        our_rules_list()
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
        match self.rules.get(rule_id) {
            Some(l) => *l,
            None => squawk::default_level(rule_id),
        }
    }

    fn squawk_rules(&self) -> &[Rule] {
        self.squawk_on
            .get_or_init(|| squawk::enabled(self.rules.iter()))
    }
}

/// A rule a migration opted out of, with the reason it wrote; every `check` report lists them.
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
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
#[cfg(test)]
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
    // an opt-out for a rule that does not exist is the module's mistake, reported as such
    for r in config.ignore.keys().filter(|r| !is_known_rule(r)) {
        found.push(Violation::new(
            file,
            rule::MODULE_CONFIG,
            format!("`config.ignore` names `{r}`, which is not a policy rule"),
            "use the rule id a `check` finding shows (e.g. require-concurrent-index-creation)",
        ));
    }
    let mut waivers: Vec<Waiver> = config
        .ignore
        .iter()
        .filter(|(r, _)| is_known_rule(r))
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
    let seen = rules::Part {
        file,
        name: part,
        statements: &parsed.split.statements,
        config,
        policy,
    };
    // `down` runs only on local databases: production lock and style rules do not judge it,
    // what the runner's safety needs (the job's session state) does.
    if part == "down" {
        if policy.level(rules::session_state::ID) != Level::Off {
            out.extend(rules::session_state::check(&seen));
        }
        return;
    }
    out.extend(squawk::lint(
        file,
        part,
        chunks,
        parsed,
        policy.squawk_rules(),
        policy.version,
        config.transaction,
    ));
    for (id, check) in rules::RULES {
        if policy.level(id) != Level::Off {
            out.extend(check(&seen));
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
        assert!(is_known_rule("session-state") && is_known_rule("isolation"));
    }
}
