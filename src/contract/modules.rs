//! The module contract, judged on what Node rendered: `up`/`down` SQL as arrays of strings and the
//! `config` object as JSON. Node only imports and calls the module (that part is JS by nature);
//! every rule about the result lives here, next to the SQL parser.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::sql::{self, Parsed, Split};
use crate::duration;
use crate::violation::{Violation, rule};

/// Keys a migration's `config` may have. Unknown keys are errors: a misspelt `transation: false`
/// silently ignored would run `CREATE INDEX CONCURRENTLY` in a transaction and fail the deploy.
pub const CONFIG_KEYS: [&str; 5] = [
    "transaction",
    "lockTimeout",
    "statementTimeout",
    "destructive",
    "ignore",
];

/// What went wrong with a module in Node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum FailureKind {
    /// The module did not load.
    Import,
    /// Wrong shape, or `up()` threw or returned the wrong type.
    Export,
    /// Did not settle within the bound.
    Timeout,
}

/// What Node could not do with a module.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

/// A module as Node rendered it (or the core read it, `contract::literal`): the shape
/// `lib/render-exports.js` produces.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rendered {
    pub file: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub up: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Value>,
}

/// A migration's `config` as judged (durations in milliseconds).
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "JudgedConfig"))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationConfig {
    pub transaction: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub lock_timeout_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub statement_timeout_ms: Option<u64>,
    /// The migration declares that it destroys data on purpose (`config.destructive = true`).
    pub destructive: bool,
    /// Policy rules this migration opts out of, each with the reason its author wrote.
    pub ignore: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Judged {
    pub file: String,
    pub config: MigrationConfig,
    pub up_statements: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_statements: Option<usize>,
    /// For a non-transactional migration that builds a named index concurrently: (index,
    /// table as written), so the runner can check the index is valid before recording it.
    #[serde(skip)]
    pub builds_index: Option<(String, String)>,
    #[serde(skip)]
    pub violations: Vec<Violation>,
}

/// How a JSON value looks to the author, for messages. Node marks values JSON cannot carry as
/// `{"$jsType": "..."}`.
fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(o) => match o.get("$jsType").and_then(Value::as_str) {
            Some(t) => format!("a {t}"),
            None => "an object".into(),
        },
    }
}

pub fn parse_config(
    file: &str,
    config: Option<&Value>,
    out: &mut Vec<Violation>,
) -> MigrationConfig {
    let mut cfg = MigrationConfig {
        transaction: true,
        ..Default::default()
    };
    let Some(config) = config else { return cfg };
    let bad = |msg: String, hint: &str| Violation::new(file, rule::MODULE_CONFIG, msg, hint);
    let Some(obj) = config.as_object().filter(|o| !o.contains_key("$jsType")) else {
        out.push(bad(
            format!("`config` is {}, not an object", describe(config)),
            "export const config = { transaction: false } (or remove the export)",
        ));
        return cfg;
    };
    for (key, value) in obj {
        match key.as_str() {
            "transaction" => match value.as_bool() {
                Some(b) => cfg.transaction = b,
                None => out.push(bad(
                    format!("`config.transaction` is {}, not a boolean", describe(value)),
                    "use `transaction: false` for statements PostgreSQL refuses in a transaction; omit it otherwise",
                )),
            },
            "destructive" => match value.as_bool() {
                Some(b) => cfg.destructive = b,
                None => out.push(bad(
                    format!("`config.destructive` is {}, not a boolean", describe(value)),
                    "write `destructive: true` when the migration drops or truncates on purpose",
                )),
            },
            "ignore" => match value.as_object().filter(|o| !o.contains_key("$jsType")) {
                Some(map) => {
                    for (rule_id, reason) in map {
                        // whether the rule exists is the policy's to say (it knows the rules)
                        let reason = reason.as_str().map(str::trim).unwrap_or_default();
                        if reason.is_empty() {
                            out.push(bad(
                                format!("`config.ignore.{rule_id}` has no reason"),
                                "write why the rule does not apply here, e.g. ignore: { 'require-concurrent-index-creation': 'table is created empty in 1700000000000' }",
                            ));
                        } else {
                            cfg.ignore.insert(rule_id.clone(), reason.to_string());
                        }
                    }
                }
                None => out.push(bad(
                    format!("`config.ignore` is {}, not an object", describe(value)),
                    "write ignore: { '<rule id>': '<why it does not apply here>' }",
                )),
            },
            "lockTimeout" | "statementTimeout" => {
                let parsed = match value {
                    Value::String(s) => duration::parse_ms(s),
                    Value::Number(n) => n
                        .as_u64()
                        .ok_or_else(|| format!("{n} is not a whole, non-negative number of milliseconds")),
                    other => Err(format!("{} is not a duration", describe(other))),
                };
                match parsed {
                    Ok(ms) if key == "lockTimeout" => cfg.lock_timeout_ms = Some(ms),
                    Ok(ms) => cfg.statement_timeout_ms = Some(ms),
                    Err(why) => out.push(bad(
                        format!("`config.{key}`: {why}"),
                        "write a PostgreSQL duration such as '5s' or '2min', or a number of milliseconds",
                    )),
                }
            }
            other => out.push(bad(
                format!("`config.{other}` is not a known setting"),
                &format!("known settings: {}; check the spelling", CONFIG_KEYS.join(", ")),
            )),
        }
    }
    cfg
}

fn judge_sql(
    file: &str,
    which: &'static str,
    chunks: &[String],
    split: &Split,
    transaction: bool,
    out: &mut Vec<Violation>,
) -> usize {
    let Split { statements, errors } = split;
    let (statements, errors) = (statements.as_slice(), errors.as_slice());
    let chunk_note = |c: usize| {
        if chunks.len() > 1 {
            format!(" (string {} of {which})", c + 1)
        } else {
            String::new()
        }
    };
    // PostgreSQL cannot take a NUL character in a query (it ends C strings on the server).
    if let Some((c, text)) = chunks.iter().enumerate().find(|(_, t)| t.contains('\0')) {
        let at = text.find('\0').unwrap_or(0);
        out.push(
            Violation::new(
                file,
                rule::SQL_NUL,
                format!("`{which}` SQL contains a NUL character{}", chunk_note(c)),
                "remove it; PostgreSQL cannot accept NUL in SQL text (use a bytea literal such as '\\x00' for binary data)",
            )
            .in_sql(which, c, sql::line_of(text, at)),
        );
    }
    // Only the first error: the parser recovers and reports follow-on errors of the same typo.
    for e in errors.iter().take(1) {
        out.push(
            Violation::new(
                file,
                rule::SQL_SYNTAX,
                format!("`{which}` SQL does not parse: {}{}", e.message, chunk_note(e.chunk)),
                "fix the SQL; `check` parses it with a PostgreSQL grammar before any database sees it",
            )
            .in_sql(which, e.chunk, e.line),
        );
    }
    if statements.is_empty() && errors.is_empty() {
        out.push(Violation::new(
            file,
            rule::SQL_EMPTY,
            format!("`{which}` renders no SQL statement"),
            "write the migration's SQL, or delete the file if it is not needed",
        ));
    }
    judge_statements(file, which, statements, &chunk_note, transaction, out);
    statements.len()
}

/// What each statement may not do in a migration: control the transaction, stream through the
/// client, or run outside a transaction when the migration is transactional (and the other way
/// round: a non-transactional migration holds exactly one statement).
fn judge_statements(
    file: &str,
    which: &'static str,
    statements: &[sql::Statement],
    chunk_note: &dyn Fn(usize) -> String,
    transaction: bool,
    out: &mut Vec<Violation>,
) {
    for s in statements {
        if let Some(kw) = s.transaction_control {
            out.push(
                Violation::new(
                    file,
                    rule::TX_CONTROL,
                    format!("`{which}` contains {kw}{}; godwit runs each migration in its own transaction", chunk_note(s.chunk)),
                    "remove it; for statements that cannot run in a transaction, export const config = { transaction: false }",
                )
                .in_sql(which, s.chunk, s.line),
            );
        }
    }
    for s in statements {
        if let Some(what) = s.client_copy {
            out.push(
                Violation::new(
                    file,
                    rule::COPY_STDIO,
                    format!("`{which}` runs {what}{}, which needs a client streaming data; a migration's SQL cannot", chunk_note(s.chunk)),
                    "load the rows with INSERT ... VALUES or INSERT ... SELECT, or COPY from a file on the database server",
                )
                .in_sql(which, s.chunk, s.line),
            );
        }
    }
    if transaction {
        for s in statements {
            if let Some(what) = s.needs_no_transaction {
                out.push(
                    Violation::new(
                        file,
                        rule::TX_REQUIRES_NON_TRANSACTIONAL,
                        format!("`{which}` runs {what}{}, which PostgreSQL refuses inside a transaction", chunk_note(s.chunk)),
                        "move it to a migration of its own with export const config = { transaction: false }",
                    )
                    .in_sql(which, s.chunk, s.line),
                );
            }
        }
    } else if statements.len() > 1 {
        out.push(
            Violation::new(
                file,
                rule::TX_SINGLE_STATEMENT,
                format!(
                    "`{which}` has {} statements but the migration is non-transactional (config.transaction = false)",
                    statements.len()
                ),
                "a non-transactional migration holds exactly one statement, so a failure never leaves part of it applied: split it into one migration per statement",
            )
            .in_sql(which, statements.get(1).map_or(0, |s| s.chunk), statements.get(1).map_or(1, |s| s.line)),
        );
    }
}

pub fn judge(r: &Rendered) -> Judged {
    judge_parsed(r).0
}

/// `judge`, also handing back the parsed `up` and `down` SQL (when the module rendered), so the
/// policy lints the same trees instead of parsing again.
pub fn judge_parsed(r: &Rendered) -> (Judged, Option<Parsed>, Option<Parsed>) {
    let mut v = Vec::new();
    let file = r.file.as_str();
    if let Some(f) = &r.failure {
        let (rule, hint) = match f.kind {
            FailureKind::Import => (
                rule::MODULE_IMPORT,
                "fix the module so `node` can import it",
            ),
            FailureKind::Timeout => (
                rule::MODULE_TIMEOUT,
                "a migration module must load and render its SQL promptly: remove waits, network calls and loops",
            ),
            FailureKind::Export => (
                rule::MODULE_EXPORT,
                "export `up` as a SQL string, or a (async) function returning a string or an array of strings",
            ),
        };
        v.push(Violation::new(file, rule, f.message.clone(), hint));
        let judged = Judged {
            file: r.file.clone(),
            config: MigrationConfig {
                transaction: true,
                ..Default::default()
            },
            up_statements: 0,
            down_statements: None,
            builds_index: None,
            violations: v,
        };
        return (judged, None, None);
    }
    let config = parse_config(file, r.config.as_ref(), &mut v);
    let up = r.up.as_deref().unwrap_or_default();
    let up_parsed = sql::parse(up);
    let up_statements = judge_sql(file, "up", up, &up_parsed.split, config.transaction, &mut v);
    let down_parsed = r.down.as_ref().map(|d| sql::parse(d));
    let down_statements = r
        .down
        .as_ref()
        .zip(down_parsed.as_ref())
        .map(|(d, p)| judge_sql(file, "down", d, &p.split, config.transaction, &mut v));
    let builds_index = (!config.transaction)
        .then(|| up_parsed.split.statements.first())
        .flatten()
        .and_then(|s| sql::built_index(&s.node));
    let judged = Judged {
        file: r.file.clone(),
        config,
        up_statements,
        down_statements,
        builds_index,
        violations: v,
    };
    (judged, Some(up_parsed), down_parsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(up: &[&str], config: Option<Value>) -> Rendered {
        Rendered {
            file: "1700000000000_x.mjs".into(),
            failure: None,
            up: Some(up.iter().map(|s| s.to_string()).collect()),
            down: None,
            config,
        }
    }
    fn rules(j: &Judged) -> Vec<&str> {
        j.violations.iter().map(|v| v.rule.as_str()).collect()
    }

    #[test]
    fn plain_transactional_migration_passes() {
        let j = judge(&rendered(
            &["CREATE TABLE a (id int); CREATE TABLE b (id int);"],
            None,
        ));
        assert!(j.violations.is_empty());
        assert_eq!(j.up_statements, 2);
        assert!(j.config.transaction);
    }

    #[test]
    fn concurrent_index_needs_non_transactional_mode() {
        let j = judge(&rendered(&["CREATE INDEX CONCURRENTLY i ON a (id)"], None));
        assert_eq!(rules(&j), [rule::TX_REQUIRES_NON_TRANSACTIONAL]);
        let j = judge(&rendered(
            &["CREATE INDEX CONCURRENTLY i ON a (id)"],
            Some(json!({"transaction": false})),
        ));
        assert!(j.violations.is_empty());
        assert!(!j.config.transaction);
    }

    #[test]
    fn non_transactional_holds_one_statement() {
        let j = judge(&rendered(
            &["CREATE INDEX CONCURRENTLY i ON a (id);", "SELECT 1"],
            Some(json!({"transaction": false})),
        ));
        assert_eq!(rules(&j), [rule::TX_SINGLE_STATEMENT]);
    }

    #[test]
    fn config_keys_and_values_are_checked() {
        let j = judge(&rendered(&["SELECT 1"], Some(json!({"transation": false}))));
        assert_eq!(rules(&j), [rule::MODULE_CONFIG]);
        assert!(j.violations[0].message.contains("transation"));
        let j = judge(&rendered(
            &["SELECT 1"],
            Some(json!({"transaction": "no", "lockTimeout": "5 seconds", "statementTimeout": -1})),
        ));
        assert_eq!(rules(&j), [rule::MODULE_CONFIG; 3]);
        let j = judge(&rendered(
            &["SELECT 1"],
            Some(json!({"lockTimeout": "2s", "statementTimeout": 60000})),
        ));
        assert!(j.violations.is_empty());
        assert_eq!(j.config.lock_timeout_ms, Some(2000));
        assert_eq!(j.config.statement_timeout_ms, Some(60000));
        let j = judge(&rendered(
            &["SELECT 1"],
            Some(json!({"$jsType": "function"})),
        ));
        assert!(j.violations[0].message.contains("a function"));
    }

    #[test]
    fn empty_sql_and_syntax_errors_and_transaction_control() {
        assert_eq!(
            rules(&judge(&rendered(&["-- nothing"], None))),
            [rule::SQL_EMPTY]
        );
        let j = judge(&rendered(&["SELECT 1;\nCREATE TABLE (;"], None));
        assert!(rules(&j).contains(&rule::SQL_SYNTAX));
        assert_eq!(j.violations[0].sql.as_ref().map(|s| s.line), Some(2));
        assert_eq!(
            rules(&judge(&rendered(&["BEGIN; SELECT 1; COMMIT;"], None))),
            [rule::TX_CONTROL, rule::TX_CONTROL]
        );
    }

    #[test]
    fn failures_map_to_rules() {
        for (kind, want) in [
            (FailureKind::Import, rule::MODULE_IMPORT),
            (FailureKind::Export, rule::MODULE_EXPORT),
            (FailureKind::Timeout, rule::MODULE_TIMEOUT),
        ] {
            let r = Rendered {
                file: "f".into(),
                failure: Some(Failure {
                    kind,
                    message: "m".into(),
                }),
                up: None,
                down: None,
                config: None,
            };
            assert_eq!(rules(&judge(&r)), [want]);
        }
    }
}
