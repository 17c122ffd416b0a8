//! `isolation`: a heavy operation (long lock, table rewrite or scan of an existing table) mixed
//! with other statements in one migration. In one transaction, the locks every statement takes are
//! held for the whole duration, so the heavy one must stand alone and brief.

use squawk_syntax::SyntaxKind;
use squawk_syntax::ast::{self, AstNode};

use super::Part;
use crate::contract::sql::has_token;
use crate::violation::Violation;

pub const ID: &str = "isolation";

pub fn check(part: &Part) -> Vec<Violation> {
    let statements = part.statements;
    if statements.len() < 2 {
        return Vec::new();
    }
    // Tables created so far in this migration: heavy operations on them touch no live rows.
    let mut created: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for s in statements {
        if let Some(what) = heavy(&s.node, &created) {
            out.push(
                Violation::new(
                    part.file,
                    ID,
                    format!(
                        "`{}` mixes {what} with {} other statement(s): in one transaction the locks taken by every statement are held for its whole duration",
                        part.name,
                        statements.len() - 1
                    ),
                    "give it a migration of its own (`pnpm db:migrate:create -- <name>`), so it holds its lock alone and briefly",
                )
                .in_sql(part.name, s.chunk, s.line),
            );
        }
        if let ast::Stmt::CreateTable(t) = &s.node {
            if let Some(name) = t.table_name() {
                created.push(table_key(name.syntax()));
            }
        }
    }
    out
}

/// A table name as a comparable key: unquoted, lower-cased, without the `public.` schema. Close
/// enough to tell "created in this migration" from "already there" (a mis-match only makes the
/// rule stricter).
pub fn table_key(node: &squawk_syntax::SyntaxNode) -> String {
    let text = node.text().to_string().to_lowercase();
    let text = text.trim();
    let text = text.strip_prefix("only ").unwrap_or(text);
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"' && *c != '*')
        .collect();
    t.strip_prefix("public.").map(str::to_string).unwrap_or(t)
}

fn on_existing(name: Option<&squawk_syntax::SyntaxNode>, created: &[String]) -> bool {
    name.is_none_or(|n| !created.contains(&table_key(n)))
}

/// Operations that hold a heavy lock for long, rewrite or scan a whole existing table.
pub fn heavy(stmt: &ast::Stmt, created: &[String]) -> Option<&'static str> {
    match stmt {
        ast::Stmt::Lock(_) => Some("LOCK TABLE"),
        ast::Stmt::Vacuum(v) if has_token(v.syntax(), SyntaxKind::FULL_KW) => Some("VACUUM FULL"),
        ast::Stmt::Cluster(_) => {
            Some("CLUSTER (rewrites the table under an ACCESS EXCLUSIVE lock)")
        }
        ast::Stmt::Reindex(r) if !has_token(r.syntax(), SyntaxKind::CONCURRENTLY_KW) => {
            Some("REINDEX without CONCURRENTLY")
        }
        ast::Stmt::Refresh(r) if r.concurrently_token().is_none() => {
            Some("REFRESH MATERIALIZED VIEW without CONCURRENTLY")
        }
        ast::Stmt::CreateIndex(i)
            if i.concurrently_token().is_none()
                && on_existing(
                    i.table_relation_name().as_ref().map(|n| n.syntax()),
                    created,
                ) =>
        {
            Some(
                "CREATE INDEX without CONCURRENTLY on an existing table (blocks writes while it builds)",
            )
        }
        ast::Stmt::Update(u)
            if on_existing(u.relation_name().as_ref().map(|n| n.syntax()), created) =>
        {
            Some("UPDATE of existing rows (a backfill)")
        }
        ast::Stmt::Delete(d)
            if on_existing(d.relation_name().as_ref().map(|n| n.syntax()), created) =>
        {
            Some("DELETE of existing rows")
        }
        ast::Stmt::AlterTable(t)
            if on_existing(
                t.table_relation_name().as_ref().map(|n| n.syntax()),
                created,
            ) =>
        {
            t.actions().find_map(|a| heavy_action(&a))
        }
        _ => None,
    }
}

fn heavy_action(a: &ast::AlterTableAction) -> Option<&'static str> {
    use ast::AlterTableAction as A;
    match a {
        A::AlterColumn(c) => match c.option()? {
            ast::AlterColumnOption::SetType(_) => {
                Some("ALTER COLUMN ... TYPE (rewrites the table under an ACCESS EXCLUSIVE lock)")
            }
            ast::AlterColumnOption::SetNotNull(_) => {
                Some("SET NOT NULL (scans the table under an ACCESS EXCLUSIVE lock)")
            }
            _ => None,
        },
        A::AddConstraint(c) => {
            let not_valid = has_token(c.syntax(), SyntaxKind::VALID_KW);
            let using_index = has_token(c.syntax(), SyntaxKind::USING_KW)
                && has_token(c.syntax(), SyntaxKind::INDEX_KW);
            match c.constraint()? {
                ast::Constraint::CheckConstraint(_) | ast::Constraint::ForeignKeyConstraint(_)
                    if !not_valid =>
                {
                    Some(
                        "ADD CONSTRAINT without NOT VALID (validates every row while holding its lock)",
                    )
                }
                ast::Constraint::UniqueConstraint(_)
                | ast::Constraint::PrimaryKeyConstraint(_)
                | ast::Constraint::ExcludeConstraint(_)
                    if !using_index =>
                {
                    Some(
                        "ADD PRIMARY KEY/UNIQUE/EXCLUDE without USING INDEX (builds an index under an ACCESS EXCLUSIVE lock)",
                    )
                }
                _ => None,
            }
        }
        A::ValidateConstraint(_) => Some("VALIDATE CONSTRAINT (scans the whole table)"),
        A::SetTablespace(_) | A::SetLogged(_) | A::SetUnlogged(_) | A::SetAccessMethod(_) => {
            Some("a table rewrite (SET TABLESPACE/LOGGED/UNLOGGED/ACCESS METHOD)")
        }
        _ => None,
    }
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
    fn a_heavy_operation_mixed_with_others_is_found() {
        let cases = [
            (
                "ALTER TABLE t ALTER COLUMN c TYPE bigint; CREATE TABLE u (id bigint);",
                "ALTER COLUMN ... TYPE",
            ),
            ("LOCK TABLE t; SELECT 1;", "LOCK TABLE"),
            ("UPDATE t SET a = 1; SELECT 1;", "UPDATE of existing rows"),
            (
                "ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0); SELECT 1;",
                "without NOT VALID",
            ),
            (
                "ALTER TABLE t ADD PRIMARY KEY (id); SELECT 1;",
                "without USING INDEX",
            ),
            (
                "ALTER TABLE t VALIDATE CONSTRAINT c; SELECT 1;",
                "VALIDATE CONSTRAINT",
            ),
            (
                "CREATE INDEX i ON t (a); SELECT 1;",
                "CREATE INDEX without CONCURRENTLY",
            ),
            (
                "REFRESH MATERIALIZED VIEW v; SELECT 1;",
                "REFRESH MATERIALIZED VIEW",
            ),
        ];
        for (sql, what) in cases {
            let f = found(sql);
            assert_eq!(f.len(), 1, "{sql}: {f:?}");
            assert!(f[0].contains(what), "{sql}: {f:?}");
        }
    }

    #[test]
    fn alone_or_on_a_table_created_here_is_not_heavy() {
        assert!(found("ALTER TABLE t ALTER COLUMN c TYPE bigint;").is_empty());
        assert!(
            found("CREATE TABLE n (a bigint); CREATE INDEX n_a ON n (a); ALTER TABLE n ADD CONSTRAINT c CHECK (a > 0);")
                .is_empty()
        );
        assert!(
            found("ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID; SELECT 1;").is_empty()
        );
    }
}
