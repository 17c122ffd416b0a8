//! The project's configuration: one source (package.json's `godwit` key, or `godwit.config.mjs`),
//! read by Node and validated here, strictly: an unknown key is an error, because a misspelt
//! setting silently ignored is a policy silently not applied.

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::policy::Policy;

pub const KEYS: [&str; 4] = ["dir", "postgresVersion", "destructive", "rules"];

#[derive(Debug, Clone, Serialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ProjectConfig {
    /// Where the configuration came from (`package.json#godwit`, `godwit.config.mjs`), or `null`.
    pub source: Option<String>,
    pub dir: Option<String>,
    #[serde(flatten)]
    pub policy: Policy,
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
    Ok(ProjectConfig {
        source: source.map(str::to_string),
        dir,
        policy,
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
        assert_eq!(e.code(), "CONFIG");
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
}
