//! `session-state`: a statement that changes the session rather than the schema: a session-level
//! `SET`, any `RESET`, `SET ROLE`/`SET SESSION AUTHORIZATION` without LOCAL, `DISCARD`, or the
//! advisory unlock functions and `set_config(..., false)`. Such state would outlive the migration:
//! timeouts switched off for every later migration, later migrations (and their history rows)
//! run as another role, or the migration lock released under the run. The runner resets the
//! session before each migration and checks that it still holds the lock, so at run time this
//! fails closed; `check` says so before it gets that far.

use squawk_syntax::SyntaxKind;
use squawk_syntax::ast::{self, AstNode};

use super::Part;
use crate::violation::Violation;

pub const ID: &str = "session-state";

const FIX: &str = "use SET LOCAL (it ends with the migration's transaction); for timeouts use config.lockTimeout / config.statementTimeout; never unlock or discard the session godwit runs on";

pub fn check(part: &Part) -> Vec<Violation> {
    part.statements
        .iter()
        .filter_map(|s| {
            let what = changes_session(&s.node)?;
            Some(
                Violation::new(
                    part.file,
                    ID,
                    format!(
                        "`{}` runs {what}, which changes the session for everything after this migration",
                        part.name
                    ),
                    FIX,
                )
                .in_sql(part.name, s.chunk, s.line),
            )
        })
        .collect()
}

/// `SET LOCAL ...` (the scope node, not a `LOCAL` value such as `SET TIME ZONE LOCAL`).
fn is_local(node: &squawk_syntax::SyntaxNode) -> bool {
    node.children().any(|c| c.kind() == SyntaxKind::LOCAL_SCOPE)
}

/// What the statement does to the session, if anything.
pub fn changes_session(stmt: &ast::Stmt) -> Option<String> {
    let what: String = match stmt {
        ast::Stmt::Set(s) if !is_local(s.syntax()) => {
            let target = s
                .syntax()
                .text()
                .to_string()
                .split_whitespace()
                .skip(1)
                .filter(|w| !w.eq_ignore_ascii_case("session"))
                .take(1)
                .collect::<String>();
            format!("a session-level SET {target}")
        }
        ast::Stmt::Reset(_) | ast::Stmt::ResetRole(_) | ast::Stmt::ResetSessionAuth(_) => {
            let text = s_text(stmt);
            format!("`{}`", text.trim_end_matches(';').trim())
        }
        ast::Stmt::SetRole(s) if !is_local(s.syntax()) => "SET ROLE without LOCAL".into(),
        ast::Stmt::SetSessionAuth(s) if !is_local(s.syntax()) => {
            "SET SESSION AUTHORIZATION without LOCAL".into()
        }
        ast::Stmt::Discard(_) => format!("`{}`", s_text(stmt).trim_end_matches(';').trim()),
        _ => return unlocking_call(stmt.syntax()),
    };
    Some(what)
}

fn s_text(stmt: &ast::Stmt) -> String {
    stmt.syntax().text().to_string()
}

/// `pg_advisory_unlock*(...)` or `set_config(name, value, false)` anywhere in the statement.
fn unlocking_call(node: &squawk_syntax::SyntaxNode) -> Option<String> {
    for call in node.descendants().filter_map(ast::CallExpr::cast) {
        let Some(name) = call.expr().map(|e| e.syntax().text().to_string()) else {
            continue;
        };
        let name = name.trim().to_lowercase();
        let name = name.strip_prefix("pg_catalog.").unwrap_or(&name);
        if matches!(
            name,
            "pg_advisory_unlock" | "pg_advisory_unlock_all" | "pg_advisory_unlock_shared"
        ) {
            return Some(format!("{name}()"));
        }
        if name == "set_config" {
            let args = call
                .arg_list()
                .map(|a| a.syntax().text().to_string().to_lowercase())
                .unwrap_or_default();
            let is_local = args
                .trim_end_matches(')')
                .rsplit(',')
                .next()
                .is_some_and(|last| last.trim() == "true");
            if !is_local {
                return Some("set_config(..., false), a session-level setting".into());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{run, tx};
    use super::*;
    use crate::policy::Policy;

    fn found(sql: &str) -> Vec<String> {
        run(check, "up", sql, &tx(), &Policy::default())
    }

    #[test]
    fn session_changes_are_found() {
        for (sql, what) in [
            ("SET statement_timeout = 0;", "SET statement_timeout"),
            ("SET SESSION lock_timeout TO 0;", "SET lock_timeout"),
            ("SET search_path TO other;", "SET search_path"),
            ("SET TIME ZONE LOCAL;", "SET TIME"),
            (
                "SET standard_conforming_strings = off;",
                "SET standard_conforming_strings",
            ),
            ("RESET ALL;", "RESET ALL"),
            ("RESET statement_timeout;", "RESET statement_timeout"),
            ("RESET ROLE;", "RESET ROLE"),
            ("SET ROLE app_owner;", "SET ROLE without LOCAL"),
            (
                "SET SESSION AUTHORIZATION app;",
                "SET SESSION AUTHORIZATION",
            ),
            ("DISCARD ALL;", "DISCARD ALL"),
            (
                "SELECT pg_advisory_unlock_all();",
                "pg_advisory_unlock_all()",
            ),
            (
                "SELECT pg_catalog.pg_advisory_unlock(42);",
                "pg_advisory_unlock()",
            ),
            (
                "SELECT set_config('search_path', 'x', false);",
                "set_config",
            ),
        ] {
            let f = found(sql);
            assert_eq!(f.len(), 1, "{sql}: {f:?}");
            assert!(f[0].contains(what), "{sql}: {f:?}");
        }
    }

    #[test]
    fn what_ends_with_the_transaction_passes() {
        for sql in [
            "SET LOCAL statement_timeout = '1min';",
            "SET LOCAL ROLE app_owner;",
            "SELECT set_config('search_path', 'x', true);",
            "CREATE FUNCTION f() RETURNS void LANGUAGE sql AS $$ SELECT pg_advisory_unlock_all() $$;",
            "SET CONSTRAINTS ALL DEFERRED;",
            "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;",
        ] {
            assert!(found(sql).is_empty(), "{sql}: {:?}", found(sql));
        }
    }
}
