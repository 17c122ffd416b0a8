//! SQL as PostgreSQL reads it, through squawk's parser (a real PostgreSQL grammar, not regexes):
//! splitting rendered SQL into statements with their lines, and knowing which statements cannot
//! run inside a transaction block.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Index of the SQL chunk (an `up` may render an array of strings).
    pub chunk: usize,
    /// 1-based line of the statement's first token within its chunk.
    pub line: u32,
    /// Byte offset of the statement within its chunk.
    pub start: usize,
    pub text: String,
    /// Why PostgreSQL refuses it inside a transaction block, e.g. `CREATE INDEX CONCURRENTLY`.
    pub needs_no_transaction: Option<&'static str>,
    /// BEGIN/COMMIT/ROLLBACK: the runner owns transactions, a migration must not.
    pub transaction_control: Option<&'static str>,
    /// A long-locking or table-rewriting operation (see `heavy`), judged against the tables
    /// created earlier in the same SQL.
    pub heavy: Option<&'static str>,
    /// An operation that destroys data or objects (see `destructive`).
    pub destructive: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxProblem {
    pub chunk: usize,
    pub line: u32,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct Split {
    pub statements: Vec<Statement>,
    pub errors: Vec<SyntaxProblem>,
}

/// SQL parsed once: the syntax trees (for squawk's linter) and the statements read from them
/// (for godwit's own rules). `check` parses each migration's SQL once and hands this to both.
pub struct Parsed {
    pub sources: Vec<squawk_syntax::Parse<SourceFile>>,
    pub split: Split,
}

/// Line numbers by offset, with the newlines found once: a rendered SQL text of a million lines
/// is asked for the line of every statement in it, which counting from the start each time
/// would make quadratic.
pub struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    pub fn new(text: &str) -> Self {
        LineIndex {
            newlines: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    /// The 1-based line of a byte offset.
    pub fn line(&self, offset: usize) -> u32 {
        self.newlines.partition_point(|&n| n < offset) as u32 + 1
    }
}

/// The 1-based line of one offset (for a single lookup; see `LineIndex` for many).
pub fn line_of(text: &str, offset: usize) -> u32 {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u32
        + 1
}

pub fn split(chunks: &[String]) -> Split {
    parse(chunks).split
}

pub fn parse(chunks: &[String]) -> Parsed {
    let mut out = Split::default();
    let mut sources = Vec::with_capacity(chunks.len());
    // Tables created so far in this migration: heavy operations on them touch no live rows.
    let mut created: Vec<String> = Vec::new();
    for (chunk, sql) in chunks.iter().enumerate() {
        let parse = SourceFile::parse(sql);
        let lines = LineIndex::new(sql);
        for e in parse.errors() {
            out.errors.push(SyntaxProblem {
                chunk,
                line: lines.line(usize::from(e.range().start())),
                message: e.message().to_string(),
            });
        }
        for stmt in parse.tree().stmts() {
            if matches!(stmt, ast::Stmt::EmptyStmt(_)) {
                continue;
            }
            let range = stmt.syntax().text_range();
            let (start, end) = (usize::from(range.start()), usize::from(range.end()));
            out.statements.push(Statement {
                chunk,
                line: lines.line(start),
                start,
                text: sql[start..end].to_string(),
                needs_no_transaction: needs_no_transaction(&stmt),
                transaction_control: transaction_control(&stmt),
                heavy: heavy(&stmt, &created),
                destructive: destructive(&stmt),
            });
            if let ast::Stmt::CreateTable(t) = &stmt {
                if let Some(name) = t.table_name() {
                    created.push(table_key(name.syntax()));
                }
            }
        }
        sources.push(parse);
    }
    Parsed {
        sources,
        split: out,
    }
}

fn has_token(node: &squawk_syntax::SyntaxNode, kind: SyntaxKind) -> bool {
    node.descendants_with_tokens().any(|e| e.kind() == kind)
}

/// Statements PostgreSQL refuses inside a transaction block ("cannot run inside a transaction
/// block", SQLSTATE 25001).
pub fn needs_no_transaction(stmt: &ast::Stmt) -> Option<&'static str> {
    let concurrently = |n: &squawk_syntax::SyntaxNode| has_token(n, SyntaxKind::CONCURRENTLY_KW);
    match stmt {
        ast::Stmt::CreateIndex(s) if s.concurrently_token().is_some() => {
            Some("CREATE INDEX CONCURRENTLY")
        }
        ast::Stmt::DropIndex(s) if concurrently(s.syntax()) => Some("DROP INDEX CONCURRENTLY"),
        ast::Stmt::Reindex(s) if concurrently(s.syntax()) => Some("REINDEX CONCURRENTLY"),
        ast::Stmt::AlterTable(s) if concurrently(s.syntax()) => {
            Some("ALTER TABLE ... DETACH PARTITION CONCURRENTLY")
        }
        ast::Stmt::Vacuum(_) => Some("VACUUM"),
        ast::Stmt::CreateDatabase(_) => Some("CREATE DATABASE"),
        ast::Stmt::DropDatabase(_) => Some("DROP DATABASE"),
        ast::Stmt::AlterSystem(_) => Some("ALTER SYSTEM"),
        ast::Stmt::CreateTablespace(_) => Some("CREATE TABLESPACE"),
        ast::Stmt::DropTablespace(_) => Some("DROP TABLESPACE"),
        _ => None,
    }
}

pub fn transaction_control(stmt: &ast::Stmt) -> Option<&'static str> {
    match stmt {
        ast::Stmt::Begin(_) => Some("BEGIN"),
        ast::Stmt::Commit(_) => Some("COMMIT"),
        ast::Stmt::Rollback(_) => Some("ROLLBACK"),
        ast::Stmt::PrepareTransaction(_) => Some("PREPARE TRANSACTION"),
        _ => None,
    }
}

/// A table name as a comparable key: unquoted, lower-cased, without the `public.` schema. Close
/// enough to tell "created in this migration" from "already there" (a mis-match only makes the
/// isolation rule stricter).
fn table_key(node: &squawk_syntax::SyntaxNode) -> String {
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

/// Operations that hold a heavy lock for long, rewrite or scan a whole existing table. Run
/// together with anything else in one transaction, they keep every lock taken so far for their
/// whole duration; the isolation rule wants each alone in its migration.
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

/// Operations that destroy data (or objects holding it) and cannot be undone by a later
/// migration: they pass only when the migration declares them.
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
    use super::*;

    #[test]
    fn line_index_agrees_with_counting_at_every_offset() {
        let text = "a\nbc\n\nd\r\ne\n";
        let index = LineIndex::new(text);
        for offset in 0..=text.len() + 2 {
            assert_eq!(index.line(offset), line_of(text, offset), "offset {offset}");
        }
        assert_eq!(LineIndex::new("").line(0), 1);
    }

    fn s(sql: &str) -> Split {
        split(&[sql.to_string()])
    }

    #[test]
    fn splits_with_lines_and_ignores_semicolons_in_strings_and_bodies() {
        let sql = "CREATE TABLE a (id int);\n\n-- a comment; with a semicolon\nINSERT INTO a VALUES (1), (';');\nCREATE FUNCTION f() RETURNS int AS $$ SELECT 1; $$ LANGUAGE sql;";
        let sp = s(sql);
        assert!(sp.errors.is_empty(), "{:?}", sp.errors);
        let lines: Vec<u32> = sp.statements.iter().map(|x| x.line).collect();
        assert_eq!(lines, [1, 4, 5]);
        assert!(sp.statements[1].text.contains("(';')"));
    }

    #[test]
    fn chunks_are_numbered() {
        let sp = split(&["SELECT 1; SELECT 2".into(), "SELECT 3".into()]);
        let chunks: Vec<usize> = sp.statements.iter().map(|x| x.chunk).collect();
        assert_eq!(chunks, [0, 0, 1]);
    }

    #[test]
    fn empty_and_comment_only_sql_has_no_statements() {
        assert!(s("").statements.is_empty());
        assert!(s("  -- nothing\n/* here */ ;;").statements.is_empty());
    }

    #[test]
    fn knows_what_cannot_run_in_a_transaction() {
        let cases = [
            (
                "CREATE INDEX CONCURRENTLY i ON t (a)",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            (
                "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a)",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            ("DROP INDEX CONCURRENTLY i", Some("DROP INDEX CONCURRENTLY")),
            ("REINDEX INDEX CONCURRENTLY i", Some("REINDEX CONCURRENTLY")),
            (
                "REINDEX (VERBOSE) TABLE CONCURRENTLY t",
                Some("REINDEX CONCURRENTLY"),
            ),
            (
                "ALTER TABLE p DETACH PARTITION c CONCURRENTLY",
                Some("ALTER TABLE ... DETACH PARTITION CONCURRENTLY"),
            ),
            ("VACUUM t", Some("VACUUM")),
            ("VACUUM (ANALYZE) t", Some("VACUUM")),
            ("CREATE DATABASE x", Some("CREATE DATABASE")),
            ("ALTER SYSTEM SET work_mem = '1MB'", Some("ALTER SYSTEM")),
            ("CREATE INDEX i ON t (a)", None),
            ("DROP INDEX i", None),
            ("REFRESH MATERIALIZED VIEW CONCURRENTLY v", None),
            ("ALTER TABLE t ADD COLUMN c int", None),
        ];
        for (sql, want) in cases {
            let sp = s(sql);
            assert!(sp.errors.is_empty(), "{sql}: {:?}", sp.errors);
            assert_eq!(sp.statements.len(), 1, "{sql}");
            assert_eq!(sp.statements[0].needs_no_transaction, want, "{sql}");
        }
    }

    #[test]
    fn transaction_control_is_recognised() {
        let sp = s("BEGIN; SELECT 1; COMMIT; ROLLBACK;");
        let tc: Vec<_> = sp
            .statements
            .iter()
            .map(|x| x.transaction_control)
            .collect();
        assert_eq!(tc, [Some("BEGIN"), None, Some("COMMIT"), Some("ROLLBACK")]);
    }

    #[test]
    fn syntax_errors_have_lines() {
        let sp = s("SELECT 1;\nCREATE TABLE (;");
        assert!(!sp.errors.is_empty());
        assert_eq!(sp.errors[0].line, 2);
    }
}
