//! A source migration as godwit migration(s), pure: its SQL made fit for godwit's runner, and the
//! `.mjs` text. `up`/`down` are template literals without substitutions (the literal reader
//! takes them without importing the module), and the first line records where the migration
//! came from, which `baseline --from` reads back.

use serde::{Deserialize, Serialize};

use super::formats::Source;
use super::tool::Tool;
use crate::contract::sql;

/// The first line of an imported migration: `// godwit-import {json}`.
pub const HEADER_PREFIX: &str = "// godwit-import ";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub tool: String,
    /// The id the tool's history records.
    pub id: String,
    /// The file(s) it came from.
    pub from: Vec<String>,
    /// For a non-transactional source split into one migration per statement: this part, of n.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub part: Option<(usize, usize)>,
}

/// The header of an imported migration's text, if it has one.
pub fn header(text: &str) -> Option<Header> {
    let line = text.lines().next()?;
    serde_json::from_str(line.strip_prefix(HEADER_PREFIX)?).ok()
}

/// One godwit migration to write (before its version is known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub header: Header,
    pub name: String,
    pub up: String,
    pub down: Option<String>,
    pub transactional: bool,
}

/// `name` in the file contract's alphabet: lower case, `_` for anything else, no repeats.
pub fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() {
        "migration".into()
    } else {
        out
    }
}

/// A source's SQL without a `BEGIN` ... `COMMIT` around all of it (godwit runs each migration
/// in its own transaction and refuses transaction control inside one). Transaction control
/// anywhere else is a problem. SQL the parser does not read is kept as it is.
fn unwrapped(path: &str, which: &str, text: &str, problems: &mut Vec<String>) -> String {
    let split = sql::split(&[text.to_string()]);
    if !split.errors.is_empty() {
        return text.to_string();
    }
    let st = &split.statements;
    let control = st
        .iter()
        .filter(|s| s.transaction_control.is_some())
        .count();
    if control == 0 {
        return text.to_string();
    }
    // exactly two control statements, the first and the last: BEGIN ... COMMIT around the rest
    let wrap = match (st.first(), st.last()) {
        (Some(first), Some(last))
            if control == 2
                && st.len() >= 2
                && first.transaction_control == Some("BEGIN")
                && last.transaction_control == Some("COMMIT") =>
        {
            Some((first, last))
        }
        _ => None,
    };
    if let Some((first, last)) = wrap {
        let body_start = first.start + first.text.len();
        // the `;` after BEGIN belongs to it
        let body_start = text[body_start..]
            .find(|c: char| !c.is_whitespace())
            .map(|i| {
                let at = body_start + i;
                if text[at..].starts_with(';') {
                    at + 1
                } else {
                    at
                }
            })
            .unwrap_or(body_start);
        if body_start <= last.start {
            return text[body_start..last.start].to_string();
        }
    }
    // name the control that is not a plain wrapper's, when there is one
    let last = st.len().saturating_sub(1);
    let controls = || {
        st.iter()
            .enumerate()
            .filter(|(_, s)| s.transaction_control.is_some())
    };
    let at = controls()
        .find(|(i, _)| *i != 0 && *i != last)
        .or_else(|| controls().next())
        .map(|(_, s)| s);
    if let Some(at) = at {
        problems.push(format!(
            "{path}: its {which} SQL controls its own transaction ({} at line {}); godwit runs each migration in one transaction it owns: remove BEGIN/COMMIT, or split the file where they are",
            at.transaction_control.unwrap_or("BEGIN"),
            at.line
        ));
    }
    text.to_string()
}

/// The pieces a source becomes: one, or for a non-transactional source with several statements
/// one per statement (a failure then never leaves part of one migration applied); its down goes
/// with the first piece, reverted last. Notes say what changed on the way.
pub fn pieces(
    tool: Tool,
    s: &Source,
    problems: &mut Vec<String>,
    notes: &mut Vec<String>,
) -> Vec<Piece> {
    let path = s.origin.first().cloned().unwrap_or_default();
    let up = unwrapped(&path, "up", &s.up, problems);
    let down = s
        .down
        .as_ref()
        .map(|d| unwrapped(&path, "down", d, problems));
    let head = |part| Header {
        tool: tool.name().into(),
        id: s.id.clone(),
        from: s.origin.clone(),
        part,
    };
    let name = snake(&s.name);
    let split = sql::split(std::slice::from_ref(&up));
    if split.statements.is_empty() {
        notes.push(format!(
            "{path}: its up SQL holds no statement; imported as `SELECT 1` so the history keeps its place"
        ));
        return vec![Piece {
            header: head(None),
            name,
            up: format!("SELECT 1 -- {} ran nothing here\n", tool.name()),
            down,
            transactional: true,
        }];
    }
    if s.transactional || split.statements.len() == 1 || !split.errors.is_empty() {
        return vec![Piece {
            header: head(None),
            name,
            up,
            down,
            transactional: s.transactional,
        }];
    }
    let n = split.statements.len();
    notes.push(format!(
        "{path}: runs outside a transaction with {n} statements; imported as {n} migrations, one statement each"
    ));
    let down_ok = down
        .as_ref()
        .is_none_or(|d| sql::split(std::slice::from_ref(d)).statements.len() <= 1);
    if !down_ok {
        notes.push(format!(
            "{path}: its down SQL (several statements outside a transaction) was not imported; down is for local use only"
        ));
    }
    split
        .statements
        .iter()
        .enumerate()
        .map(|(i, st)| Piece {
            header: head(Some((i + 1, n))),
            name: name.clone(),
            up: format!("{};\n", st.text.trim_end().trim_end_matches(';')),
            down: if i == 0 && down_ok {
                down.clone()
            } else {
                None
            },
            transactional: false,
        })
        .collect()
}

/// `text` as a template literal that evaluates to exactly `text`.
fn template(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            '`' => out.push_str("\\`"),
            '$' if chars.peek() == Some(&'{') => out.push_str("\\$"),
            // a template literal turns CR and CRLF into LF; escape CR to keep the bytes
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('`');
    out
}

/// The module text of a piece.
pub fn render(p: &Piece) -> String {
    let header = serde_json::to_string(&p.header).unwrap_or_default();
    let mut out = format!(
        "{HEADER_PREFIX}{header}\n// Imported from {} by `godwit import`: applied before godwit took over, so it stays as it ran.\n\nexport const up = {}\n",
        p.header.tool,
        template(&p.up)
    );
    if let Some(d) = &p.down {
        out.push_str(&format!("\nexport const down = {}\n", template(d)));
    }
    if !p.transactional {
        out.push_str("\nexport const config = { transaction: false }\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(up: &str, transactional: bool) -> Source {
        Source {
            id: "7".into(),
            version: "7".into(),
            order: (vec![7], "x".into()),
            name: "Add Users-Table".into(),
            up: up.into(),
            down: Some("DROP TABLE users;".into()),
            transactional,
            origin: vec!["7_x.sql".into()],
        }
    }

    #[test]
    fn names_are_snake_cased() {
        for (from, want) in [
            ("Add Users-Table", "add_users_table"),
            ("createUsers", "create_users"),
            ("add_index__2", "add_index_2"),
            ("---", "migration"),
            ("été", "t"),
        ] {
            assert_eq!(snake(from), want, "{from}");
        }
    }

    #[test]
    fn a_begin_commit_wrapper_is_removed_and_inner_control_refused() {
        let (mut p, mut n) = (Vec::new(), Vec::new());
        let got = pieces(
            Tool::GolangMigrate,
            &source("BEGIN;\nCREATE TABLE a ();\nCOMMIT;\n", true),
            &mut p,
            &mut n,
        );
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(got[0].up.trim(), "CREATE TABLE a ();");
        pieces(
            Tool::GolangMigrate,
            &source("CREATE TABLE a ();\nCOMMIT;\nCREATE TABLE b ();", true),
            &mut p,
            &mut n,
        );
        assert!(
            p[0].contains("controls its own transaction (COMMIT at line 2)"),
            "{p:?}"
        );
    }

    #[test]
    fn a_non_transactional_source_is_split_one_statement_each() {
        let (mut p, mut n) = (Vec::new(), Vec::new());
        let got = pieces(
            Tool::Dbmate,
            &source(
                "CREATE INDEX CONCURRENTLY a ON t (a);\nCREATE INDEX CONCURRENTLY b ON t (b);",
                false,
            ),
            &mut p,
            &mut n,
        );
        assert!(p.is_empty());
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].header.part, Some((2, 2)));
        assert!(got[0].down.is_some() && got[1].down.is_none());
        assert!(got.iter().all(|g| !g.transactional));
        assert!(n[0].contains("imported as 2 migrations"));
    }

    #[test]
    fn rendered_modules_round_trip_their_sql_and_header() {
        let p = Piece {
            header: Header {
                tool: "dbmate".into(),
                id: "20230102030405".into(),
                from: vec!["a b.sql".into()],
                part: None,
            },
            name: "x".into(),
            up: "SELECT '`${x}` \\ \r\n';".into(),
            down: None,
            transactional: false,
        };
        let text = render(&p);
        assert_eq!(header(&text), Some(p.header.clone()));
        assert!(
            text.contains("export const up = `SELECT '\\`\\${x}\\` \\\\ \\r\n';`"),
            "{text}"
        );
        assert!(text.contains("config = { transaction: false }"));
        assert_eq!(header("export const up = 'x'"), None);
    }
}
