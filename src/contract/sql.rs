//! SQL as PostgreSQL reads it, through squawk's parser (a real PostgreSQL grammar, not regexes):
//! splitting rendered SQL into statements with their lines and syntax nodes, and knowing which
//! statements cannot run inside a transaction block. Policy rules read the nodes.

use squawk_syntax::ast::{self, AstNode};
use squawk_syntax::{SourceFile, SyntaxKind};

#[derive(Debug, Clone)]
pub struct Statement {
    /// Index of the SQL chunk (an `up` may render an array of strings).
    pub chunk: usize,
    /// 1-based line of the statement's first token within its chunk.
    pub line: u32,
    /// Byte offset of the statement within its chunk.
    pub start: usize,
    pub text: String,
    /// The statement's syntax tree (not `Send`: a `Statement` stays on the thread that parsed it).
    pub node: ast::Stmt,
    /// Why PostgreSQL refuses it inside a transaction block, e.g. `CREATE INDEX CONCURRENTLY`.
    pub needs_no_transaction: Option<&'static str>,
    /// BEGIN/COMMIT/ROLLBACK: the runner owns transactions, a migration must not.
    pub transaction_control: Option<&'static str>,
    /// `COPY ... FROM STDIN` / `TO STDOUT`: needs a client streaming data, which SQL text cannot.
    pub client_copy: Option<&'static str>,
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
    text.as_bytes()
        .iter()
        .take(offset)
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
                client_copy: client_copy(&stmt),
                node: stmt,
            });
        }
        sources.push(parse);
    }
    Parsed {
        sources,
        split: out,
    }
}

pub fn has_token(node: &squawk_syntax::SyntaxNode, kind: SyntaxKind) -> bool {
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

/// An identifier as PostgreSQL folds it: quoted names keep their case (with `""` unescaped),
/// unquoted ones are lower-cased.
pub fn fold_ident(text: &str) -> String {
    let t = text.trim();
    match t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => t.to_lowercase(),
    }
}

/// The index a `CREATE INDEX CONCURRENTLY <name> ON <table>` builds: `(index name, table as
/// written)`. A build that is interrupted leaves the index INVALID, and `IF NOT EXISTS` would
/// then skip it on the next run, so the runner checks that this index is valid before it records
/// the migration.
pub fn built_index(stmt: &ast::Stmt) -> Option<(String, String)> {
    let ast::Stmt::CreateIndex(i) = stmt else {
        return None;
    };
    i.concurrently_token()?;
    let name = i.index()?.syntax().text().to_string();
    let table = i.table_relation_name()?.syntax().text().to_string();
    let table = table.trim();
    let table = table
        .strip_prefix("only ")
        .or_else(|| table.strip_prefix("ONLY "))
        .unwrap_or(table);
    Some((fold_ident(&name), table.trim().to_string()))
}

/// `COPY ... FROM STDIN` or `COPY ... TO STDOUT`: the COPY sub-protocol needs the client to stream
/// data, so in a migration it would fail on a protocol error (and look like a lost connection).
pub fn client_copy(stmt: &ast::Stmt) -> Option<&'static str> {
    let ast::Stmt::Copy(c) = stmt else {
        return None;
    };
    c.syntax().descendants().find_map(|n| match n.kind() {
        SyntaxKind::COPY_STDIN => Some("COPY ... FROM STDIN"),
        SyntaxKind::COPY_STDOUT => Some("COPY ... TO STDOUT"),
        _ => None,
    })
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
    fn the_index_a_concurrent_build_names() {
        let one = |sql: &str| built_index(&s(sql).statements[0].node);
        assert_eq!(
            one("CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS Users_Email ON app.users (email)"),
            Some(("users_email".into(), "app.users".into()))
        );
        assert_eq!(
            one("CREATE INDEX CONCURRENTLY \"Odd\"\"Name\" ON ONLY t (a)"),
            Some(("Odd\"Name".into(), "t".into()))
        );
        assert_eq!(one("CREATE INDEX CONCURRENTLY ON t (a)"), None);
        assert_eq!(one("CREATE INDEX i ON t (a)"), None);
    }

    #[test]
    fn copy_through_the_client_is_recognised() {
        let one = |sql: &str| client_copy(&s(sql).statements[0].node);
        assert_eq!(one("COPY t (a) FROM STDIN"), Some("COPY ... FROM STDIN"));
        assert_eq!(one("COPY (SELECT 1) TO STDOUT"), Some("COPY ... TO STDOUT"));
        assert_eq!(one("COPY t FROM '/srv/data.csv' WITH (FORMAT csv)"), None);
    }

    #[test]
    fn syntax_errors_have_lines() {
        let sp = s("SELECT 1;\nCREATE TABLE (;");
        assert!(!sp.errors.is_empty());
        assert_eq!(sp.errors[0].line, 2);
    }
}
