//! Column types across migrations, so claims about type changes are true: PostgreSQL changes
//! some types without rewriting the table (binary-coercible changes: `varchar(n)` to a longer
//! `varchar`, to `varchar` or `text`; `numeric(p,s)` to a larger precision with the same scale or
//! to `numeric`; `timestamp` to `timestamptz` on PostgreSQL 12+ when the session time zone is
//! UTC). Which one a statement is depends on the column's type before it, which only the earlier
//! migrations know: each migration's statements become `Event`s (in parallel, with the rest of
//! `check`), then one pass in version order replays them and names the changes known not to
//! rewrite. A column whose type is unknown (created outside these migrations) keeps the finding.

use std::collections::{HashMap, HashSet};

use squawk_syntax::ast::{self, AstNode};

use super::rules::isolation::table_key;
use crate::contract::sql::{Statement, fold_ident};

/// What a statement says about a column, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Define {
        table: String,
        column: String,
        ty: String,
    },
    SetType {
        table: String,
        column: String,
        ty: String,
        /// `USING expr`: PostgreSQL rewrites.
        using: bool,
        /// The migration set `SET LOCAL TimeZone = 'UTC'` before it.
        utc: bool,
        chunk: usize,
        line: u32,
    },
    Rename {
        table: String,
        from: String,
        to: String,
    },
}

fn sets_utc(s: &Statement) -> bool {
    let t: String = s
        .text
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let t = t.trim_end_matches(';');
    ["utc", "etc/utc"].iter().any(|z| {
        t == format!("set local timezone = '{z}'")
            || t == format!("set local timezone to '{z}'")
            || t == format!("set local time zone '{z}'")
    })
}

/// The events of one migration's `up` statements.
pub fn events(statements: &[Statement]) -> Vec<Event> {
    let mut out = Vec::new();
    let mut utc = false;
    for s in statements {
        utc |= sets_utc(s);
        match &s.node {
            ast::Stmt::CreateTable(t) => {
                let (Some(name), Some(args)) = (t.table_name(), t.table_arg_list()) else {
                    continue;
                };
                let table = table_key(name.syntax());
                for arg in args.args() {
                    if let ast::TableArg::Column(c) = arg {
                        if let (Some(n), Some(ty)) = (c.name(), c.ty()) {
                            out.push(Event::Define {
                                table: table.clone(),
                                column: fold_ident(&n.syntax().text().to_string()),
                                ty: ty.syntax().text().to_string(),
                            });
                        }
                    }
                }
            }
            ast::Stmt::AlterTable(t) => {
                let Some(name) = t.table_relation_name() else {
                    continue;
                };
                let table = table_key(name.syntax());
                for a in t.actions() {
                    match a {
                        ast::AlterTableAction::AddColumn(c) => {
                            if let (Some(n), Some(ty)) = (c.column_name(), c.ty()) {
                                out.push(Event::Define {
                                    table: table.clone(),
                                    column: fold_ident(&n.syntax().text().to_string()),
                                    ty: ty.syntax().text().to_string(),
                                });
                            }
                        }
                        ast::AlterTableAction::AlterColumn(c) => {
                            if let (Some(n), Some(ast::AlterColumnOption::SetType(st))) =
                                (c.column_name_ref(), c.option())
                            {
                                if let Some(ty) = st.ty() {
                                    out.push(Event::SetType {
                                        table: table.clone(),
                                        column: fold_ident(&n.syntax().text().to_string()),
                                        ty: ty.syntax().text().to_string(),
                                        using: st.using_expr().is_some(),
                                        utc,
                                        chunk: s.chunk,
                                        line: s.line,
                                    });
                                }
                            }
                        }
                        ast::AlterTableAction::RenameColumn(r) => {
                            if let (Some(from), Some(to)) = (r.column_name_ref(), r.column_name()) {
                                out.push(Event::Rename {
                                    table: table.clone(),
                                    from: fold_ident(&from.syntax().text().to_string()),
                                    to: fold_ident(&to.syntax().text().to_string()),
                                });
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A type as far as rewrites go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Varchar(Option<u32>),
    Text,
    Numeric(Option<(u32, u32)>),
    Timestamp,
    Timestamptz,
    Other(String),
}

fn kind(ty: &str) -> Kind {
    let t: String = ty
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" (", "(")
        .replace(", ", ",");
    let t = t.strip_prefix("pg_catalog.").unwrap_or(&t).to_string();
    let args = |name: &str| -> Option<Vec<u32>> {
        let inner = t.strip_prefix(name)?.strip_prefix('(')?.strip_suffix(')')?;
        inner.split(',').map(|p| p.trim().parse().ok()).collect()
    };
    match t.as_str() {
        "text" => return Kind::Text,
        "varchar" | "character varying" => return Kind::Varchar(None),
        "numeric" | "decimal" => return Kind::Numeric(None),
        "timestamp" | "timestamp without time zone" => return Kind::Timestamp,
        "timestamptz" | "timestamp with time zone" => return Kind::Timestamptz,
        _ => {}
    }
    for name in ["varchar", "character varying"] {
        if let Some([n]) = args(name).as_deref() {
            return Kind::Varchar(Some(*n));
        }
    }
    for name in ["numeric", "decimal"] {
        match args(name).as_deref() {
            Some([p]) => return Kind::Numeric(Some((*p, 0))),
            Some([p, s]) => return Kind::Numeric(Some((*p, *s))),
            _ => {}
        }
    }
    Kind::Other(t)
}

/// Whether PostgreSQL changes `from` to `to` without rewriting the table.
pub fn no_rewrite(from: &str, to: &str, utc_on_12: bool) -> bool {
    use Kind::*;
    match (kind(from), kind(to)) {
        (Varchar(Some(n)), Varchar(Some(m))) => m >= n,
        (Varchar(_), Varchar(None)) | (Varchar(_), Text) | (Text, Varchar(None)) => true,
        (Numeric(Some((p, s))), Numeric(Some((p2, s2)))) => s2 == s && p2 >= p,
        (Numeric(_), Numeric(None)) => true,
        (Timestamp, Timestamptz) => utc_on_12,
        (a, b) => a == b,
    }
}

/// `(file, chunk, line)` of every type change known not to rewrite, replaying `migrations` (in
/// version order) from an empty schema.
pub fn safe_changes(
    migrations: &[(String, Vec<Event>)],
    postgres_12_or_later: bool,
) -> HashSet<(String, usize, u32)> {
    let mut types: HashMap<(String, String), String> = HashMap::new();
    let mut safe = HashSet::new();
    for (file, events) in migrations {
        for e in events {
            match e {
                Event::Define { table, column, ty } => {
                    types.insert((table.clone(), column.clone()), ty.clone());
                }
                Event::Rename { table, from, to } => {
                    if let Some(ty) = types.remove(&(table.clone(), from.clone())) {
                        types.insert((table.clone(), to.clone()), ty);
                    }
                }
                Event::SetType {
                    table,
                    column,
                    ty,
                    using,
                    utc,
                    chunk,
                    line,
                } => {
                    let key = (table.clone(), column.clone());
                    if let Some(before) = types.get(&key) {
                        if !using && no_rewrite(before, ty, *utc && postgres_12_or_later) {
                            safe.insert((file.clone(), *chunk, *line));
                        }
                    }
                    types.insert(key, ty.clone());
                }
            }
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::sql::parse;

    #[test]
    fn binary_coercible_changes_do_not_rewrite_and_the_rest_do() {
        let table = [
            ("varchar(50)", "varchar(200)", false, true),
            ("character varying(50)", "varchar(20)", false, false),
            ("varchar(50)", "text", false, true),
            ("varchar(50)", "character varying", false, true),
            ("text", "varchar(10)", false, false),
            ("numeric(10,2)", "numeric(12,2)", false, true),
            ("numeric(10,2)", "numeric(12,3)", false, false),
            ("numeric(10)", "numeric", false, true),
            ("timestamp", "timestamptz", true, true),
            (
                "timestamp without time zone",
                "timestamp with time zone",
                false,
                false,
            ),
            ("integer", "bigint", false, false),
            ("int", "text", false, false),
        ];
        for (from, to, utc, want) in table {
            assert_eq!(no_rewrite(from, to, utc), want, "{from} -> {to}");
        }
    }

    fn ev(sql: &str) -> Vec<Event> {
        events(&parse(&[sql.to_string()]).split.statements)
    }

    #[test]
    fn replaying_the_history_knows_the_type_before_each_change() {
        let history = vec![
            (
                "a.mjs".to_string(),
                ev("CREATE TABLE public.t (id int, label varchar(50), at timestamp);"),
            ),
            (
                "b.mjs".to_string(),
                ev("ALTER TABLE t RENAME COLUMN label TO title;"),
            ),
            (
                "c.mjs".to_string(),
                ev("ALTER TABLE t ALTER COLUMN title TYPE varchar(200);"),
            ),
            (
                "d.mjs".to_string(),
                ev("ALTER TABLE t ALTER COLUMN id TYPE bigint;"),
            ),
            (
                "e.mjs".to_string(),
                ev("SET LOCAL TimeZone = 'UTC';\nALTER TABLE t ALTER COLUMN at TYPE timestamptz;"),
            ),
            (
                "f.mjs".to_string(),
                ev("ALTER TABLE t ALTER COLUMN title TYPE varchar(300) USING title::varchar(300);"),
            ),
            (
                "g.mjs".to_string(),
                ev("ALTER TABLE elsewhere ALTER COLUMN x TYPE text;"),
            ),
        ];
        let safe = safe_changes(&history, true);
        let mut got: Vec<&str> = safe.iter().map(|(f, _, _)| f.as_str()).collect();
        got.sort();
        assert_eq!(got, ["c.mjs", "e.mjs"]);
        assert!(safe.contains(&("e.mjs".to_string(), 0, 2)));
        assert!(
            safe_changes(&history[..5], false)
                .iter()
                .all(|(f, _, _)| f != "e.mjs")
        );
    }
}
