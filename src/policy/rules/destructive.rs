//! `destructive-undeclared`: `up` destroys data or the objects holding it (DROP TABLE, DROP
//! COLUMN, TRUNCATE, DELETE without WHERE, ...), which no later migration can undo. It passes only
//! when the migration declares it (`config.destructive = true`) and the project allows that;
//! `down` exists to undo, so destruction there is its purpose.

use squawk_syntax::ast;

use super::Part;
use crate::policy::Destructive;
use crate::violation::Violation;

pub const ID: &str = "destructive-undeclared";

pub fn check(part: &Part) -> Vec<Violation> {
    if part.name != "up" {
        return Vec::new();
    }
    let mut out = Vec::new();
    for s in part.statements {
        let Some(what) = destructive(&s.node) else {
            continue;
        };
        let finding = match (part.policy.destructive, part.config.destructive) {
            (Destructive::Allow, _) | (Destructive::RequireDeclaration, true) => None,
            (Destructive::RequireDeclaration, false) => Some((
                format!(
                    "`up` runs {what}, which destroys data, and the migration does not declare it"
                ),
                "if it is intended, say so: export const config = { destructive: true }; otherwise remove it",
            )),
            (Destructive::Forbid, _) => Some((
                format!("`up` runs {what}, and this project forbids destructive migrations"),
                "the project's configuration sets destructive: \"forbid\"; do it by hand under review, or change the policy",
            )),
        };
        if let Some((message, hint)) = finding {
            out.push(
                Violation::new(part.file, ID, message, hint).in_sql(part.name, s.chunk, s.line),
            );
        }
    }
    out
}

/// Operations that destroy data (or objects holding it) and cannot be undone by a later
/// migration.
pub fn destructive(stmt: &ast::Stmt) -> Option<&'static str> {
    match stmt {
        ast::Stmt::DropTable(_) => Some("DROP TABLE"),
        ast::Stmt::DropSchema(_) => Some("DROP SCHEMA"),
        ast::Stmt::DropDatabase(_) => Some("DROP DATABASE"),
        ast::Stmt::DropSequence(_) => Some("DROP SEQUENCE"),
        ast::Stmt::DropMaterializedView(_) => Some("DROP MATERIALIZED VIEW"),
        ast::Stmt::DropView(_) => Some("DROP VIEW"),
        ast::Stmt::DropFunction(_) => Some("DROP FUNCTION"),
        ast::Stmt::DropType(_) => Some("DROP TYPE"),
        ast::Stmt::DropDomain(_) => Some("DROP DOMAIN"),
        ast::Stmt::DropExtension(_) => Some("DROP EXTENSION"),
        ast::Stmt::Truncate(_) => Some("TRUNCATE"),
        ast::Stmt::Delete(d) if d.where_clause_or_current_of().is_none() => {
            Some("DELETE without WHERE")
        }
        ast::Stmt::AlterTable(t) => t.actions().find_map(|a| match a {
            ast::AlterTableAction::DropColumn(_) => Some("DROP COLUMN"),
            _ => None,
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{run, tx};
    use super::*;
    use crate::contract::modules::MigrationConfig;
    use crate::policy::Policy;

    #[test]
    fn undeclared_destruction_is_found_and_a_declaration_passes() {
        let p = Policy::default();
        for sql in [
            "DROP TABLE t;",
            "ALTER TABLE t DROP COLUMN c;",
            "TRUNCATE t;",
            "DELETE FROM t;",
            "DROP SCHEMA s CASCADE;",
        ] {
            assert_eq!(run(check, "up", sql, &tx(), &p).len(), 1, "{sql}");
        }
        assert!(run(check, "up", "DELETE FROM t WHERE id = 1;", &tx(), &p).is_empty());
        let declared = MigrationConfig {
            destructive: true,
            ..tx()
        };
        assert!(run(check, "up", "DROP TABLE t;", &declared, &p).is_empty());
    }

    #[test]
    fn forbid_refuses_even_declared_and_allow_allows_and_down_is_exempt() {
        let declared = MigrationConfig {
            destructive: true,
            ..tx()
        };
        let forbid = Policy {
            destructive: Destructive::Forbid,
            ..Policy::default()
        };
        let f = run(check, "up", "TRUNCATE t;", &declared, &forbid);
        assert!(f[0].contains("forbids"), "{f:?}");
        let allow = Policy {
            destructive: Destructive::Allow,
            ..Policy::default()
        };
        assert!(run(check, "up", "DELETE FROM t;", &tx(), &allow).is_empty());
        assert!(run(check, "down", "DROP TABLE t;", &tx(), &Policy::default()).is_empty());
    }
}
