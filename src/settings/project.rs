//! The project's configuration: one source (package.json's `godwit` key, or `godwit.config.mjs`),
//! read by Node and validated here, strictly: an unknown key is an error, because a misspelt
//! setting silently ignored is a policy silently not applied.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::policy::Policy;

pub const KEYS: [&str; 15] = [
    "dir",
    "postgresVersion",
    "destructive",
    "rules",
    "history",
    "lockTimeout",
    "statementTimeout",
    "timeoutSeconds",
    "lockRetries",
    "moduleTimeout",
    "statusTimeout",
    "allowExistingSchema",
    "ahead",
    "baseline",
    "schemaFile",
];

/// The run settings a project may fix in its configuration. Each is the lowest layer above the
/// built-in default: a CLI flag, then the environment (`MIGRATION_*`), then `PGOPTIONS` (for the
/// two timeouts) all override it, so a pipeline can still tighten a value for one job.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "ProjectRunSettings"))]
#[serde(rename_all = "camelCase")]
pub struct RunSettings {
    pub history_schema: Option<String>,
    pub history_table: Option<String>,
    pub lock_timeout_ms: Option<u64>,
    pub statement_timeout_ms: Option<u64>,
    pub timeout_seconds: Option<u64>,
    pub lock_retries: Option<u32>,
    pub module_timeout_ms: Option<u64>,
    /// The bound of `status` and `assertSchemaCurrent()`: connecting, and each query's lock and
    /// statement timeout.
    pub status_timeout_ms: Option<u64>,
    /// `up` may run over a database that already holds a schema (see the guard in `run`).
    pub allow_existing_schema: Option<bool>,
    /// `ahead: 'refuse'`: migrations applied by a newer release (replaying an older one) refuse
    /// the run like a missing file, instead of being reported as `ahead`.
    pub ahead_refuse: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Default)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProjectConfig {
    /// Where the configuration came from (`package.json#godwit`, `godwit.config.mjs`), or `null`.
    pub source: Option<String>,
    pub dir: Option<String>,
    #[serde(flatten)]
    pub policy: Policy,
    pub run: RunSettings,
    /// The newest migration of the legacy history (imported, or written before godwit): it and
    /// every older one keep the file contract, ledger and immutability, but not the SQL safety
    /// rules or verify's round trip (they already ran in production).
    pub baseline: Option<String>,
    /// `schemaFile`: where the schema file goes (a path), or `false`: none. Unset: `schema.sql`
    /// beside the migrations folder (`db/schema.sql`).
    pub schema_file: Option<SchemaFile>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(untagged)]
pub enum SchemaFile {
    Path(String),
    Off(bool),
}

/// `raw`: the configuration object as JSON (`null` when there is none); `source` names it in errors.
pub fn parse(raw: &Value, source: Option<&str>) -> Result<ProjectConfig> {
    let name = source.unwrap_or("configuration");
    let bad = |why: String| Error::Config(format!("{name}: {why}"));
    if raw.is_null() {
        return Ok(ProjectConfig::default());
    }
    let obj = raw
        .as_object()
        .ok_or_else(|| bad("must be an object".into()))?;
    if let Some(k) = obj.keys().find(|k| !KEYS.contains(&k.as_str())) {
        return Err(bad(format!(
            "`{k}` is not a setting; known: {}",
            KEYS.join(", ")
        )));
    }
    let dir = match obj.get("dir") {
        None => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        Some(_) => return Err(bad("`dir` must be a non-empty path string".into())),
    };
    let policy = Policy::from_config(
        obj.get("postgresVersion"),
        obj.get("destructive"),
        obj.get("rules"),
    )
    .map_err(bad)?;
    let run = run_settings(obj).map_err(bad)?;
    let baseline = match obj.get("baseline") {
        None => None,
        Some(Value::String(v)) if crate::files::scan::is_version(v) => Some(v.clone()),
        Some(_) => {
            return Err(bad(
                "`baseline` must be a migration version (13 digits, as in its file name), the newest of the legacy history".into(),
            ));
        }
    };
    let schema_file = match obj.get("schemaFile") {
        None => None,
        Some(Value::Bool(false)) => Some(SchemaFile::Off(false)),
        Some(Value::String(s)) if !s.trim().is_empty() => Some(SchemaFile::Path(s.clone())),
        Some(_) => {
            return Err(bad(
                "`schemaFile` must be a path (where the schema file goes) or false (no schema file)".into(),
            ));
        }
    };
    Ok(ProjectConfig {
        source: source.map(str::to_string),
        dir,
        policy,
        run,
        baseline,
        schema_file,
    })
}

type Names = (Option<String>, Option<String>);

/// `history: { schema, table }`.
fn history(obj: &serde_json::Map<String, Value>) -> std::result::Result<Names, String> {
    let named =
        match obj.get("history") {
            None => (None, None),
            Some(Value::Object(h)) => {
                if let Some(k) = h
                    .keys()
                    .find(|k| !["schema", "table"].contains(&k.as_str()))
                {
                    return Err(format!(
                        "`history.{k}` is not a setting; known: history.schema, history.table"
                    ));
                }
                let name = |k: &str| match h.get(k) {
                    None => Ok(None),
                    Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
                    Some(_) => Err(format!("`history.{k}` must be a non-empty name")),
                };
                (name("schema")?, name("table")?)
            }
            Some(_) => return Err(
                "`history` must be an object like { schema: 'public', table: 'godwit_migrations' }"
                    .into(),
            ),
        };
    Ok(named)
}

fn run_settings(obj: &serde_json::Map<String, Value>) -> std::result::Result<RunSettings, String> {
    let (history_schema, history_table) = history(obj)?;
    // a duration as in a migration's config: a PostgreSQL duration string or whole milliseconds
    let duration = |k: &str| -> std::result::Result<Option<u64>, String> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::String(s)) => crate::duration::parse_ms(s)
                .map(Some)
                .map_err(|why| format!("`{k}`: {why}")),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(_) => Err(format!(
                "`{k}` must be a PostgreSQL duration like '5s' or whole milliseconds"
            )),
        }
    };
    let whole = |k: &str, min: u64| -> std::result::Result<Option<u64>, String> {
        match obj.get(k) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some_and(|v| v >= min) => Ok(n.as_u64()),
            Some(_) => Err(format!(
                "`{k}` must be a whole number{}",
                if min > 0 {
                    format!(" of at least {min}")
                } else {
                    String::new()
                }
            )),
        }
    };
    let module_timeout_ms = duration("moduleTimeout")?;
    if module_timeout_ms == Some(0) {
        return Err("`moduleTimeout` must be longer than 0".into());
    }
    let status_timeout_ms = duration("statusTimeout")?;
    if status_timeout_ms == Some(0) {
        return Err("`statusTimeout` must be longer than 0".into());
    }
    let timeout_seconds = whole("timeoutSeconds", 1)?;
    if timeout_seconds.is_some_and(|s| s > crate::settings::MAX_BUDGET_SECONDS) {
        return Err(format!(
            "`timeoutSeconds` must be at most {} (30 days)",
            crate::settings::MAX_BUDGET_SECONDS
        ));
    }
    Ok(RunSettings {
        history_schema,
        history_table,
        lock_timeout_ms: duration("lockTimeout")?,
        statement_timeout_ms: duration("statementTimeout")?,
        timeout_seconds,
        lock_retries: whole("lockRetries", 0)?
            .map(|v| u32::try_from(v).map_err(|_| "`lockRetries` is too large".to_string()))
            .transpose()?,
        module_timeout_ms,
        status_timeout_ms,
        allow_existing_schema: match obj.get("allowExistingSchema") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => return Err("`allowExistingSchema` must be true or false".into()),
        },
        ahead_refuse: match obj.get("ahead") {
            None => None,
            Some(Value::String(v)) if v == "refuse" => Some(true),
            Some(Value::String(v)) if v == "allow" => Some(false),
            Some(_) => return Err("`ahead` must be 'allow' (the default: migrations of a newer release are reported as ahead) or 'refuse'".into()),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn absent_is_defaults_and_unknown_keys_are_errors() {
        let c = parse(&Value::Null, None).unwrap();
        assert_eq!(
            c.policy.postgres_version,
            crate::policy::DEFAULT_POSTGRES_VERSION
        );
        let e = parse(
            &json!({"postgresVersoin": "15"}),
            Some("package.json#godwit"),
        )
        .unwrap_err();
        assert_eq!(e.code(), crate::error::Code::Config);
        assert!(
            e.to_string()
                .contains("package.json#godwit: `postgresVersoin` is not a setting"),
            "{e}"
        );
        let c = parse(&json!({"dir": "sql/migrations", "postgresVersion": 15, "destructive": "forbid", "rules": {"isolation": "warning"}}), Some("x")).unwrap();
        assert_eq!(c.dir.as_deref(), Some("sql/migrations"));
        assert_eq!(c.policy.postgres_version, "15");
        assert!(parse(&json!({"dir": 3}), None).is_err());
    }

    #[test]
    fn run_settings_are_validated_and_typed() {
        let c = parse(
            &json!({"history": {"schema": "ops", "table": "migs"}, "lockTimeout": "3s", "statementTimeout": 60000,
                    "timeoutSeconds": 600, "lockRetries": 0, "moduleTimeout": "20s"}),
            Some("godwit.config.mjs"),
        )
        .unwrap();
        assert_eq!(
            c.run,
            RunSettings {
                history_schema: Some("ops".into()),
                history_table: Some("migs".into()),
                lock_timeout_ms: Some(3000),
                statement_timeout_ms: Some(60000),
                timeout_seconds: Some(600),
                lock_retries: Some(0),
                module_timeout_ms: Some(20000),
                status_timeout_ms: None,
                allow_existing_schema: None,
                ahead_refuse: None,
            }
        );
        for (bad, says) in [
            (
                json!({"history": {"tabel": "x"}}),
                "`history.tabel` is not a setting",
            ),
            (
                json!({"history": "ops.migs"}),
                "`history` must be an object",
            ),
            (json!({"lockTimeout": "3 parsecs"}), "`lockTimeout`"),
            (
                json!({"timeoutSeconds": 0}),
                "`timeoutSeconds` must be a whole number of at least 1",
            ),
            (
                json!({"lockRetries": -1}),
                "`lockRetries` must be a whole number",
            ),
            (
                json!({"moduleTimeout": 0}),
                "`moduleTimeout` must be longer than 0",
            ),
            (json!({"ahead": "ignore"}), "`ahead` must be 'allow'"),
            (
                json!({"baseline": "20230101"}),
                "`baseline` must be a migration version",
            ),
        ] {
            let e = parse(&bad, Some("package.json#godwit"))
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("package.json#godwit: ") && e.contains(says),
                "{bad}: {e}"
            );
        }
    }
}
