//! Each tool's migration folder, as that tool reads it, pure: which files are migrations, their
//! version (as the tool's history records it), name, up and down SQL, and whether the tool runs
//! them in a transaction. Every problem is collected (a file no tool would read, a duplicate
//! version, a format godwit cannot carry), so one run of `import` names them all.
//!
//! One module per tool; the helpers they share are here.

use std::collections::{BTreeMap, BTreeSet};

use regex::Regex;

use super::tool::Tool;

/// A source folder as read: files by path relative to it (one folder level deep, `/`-separated),
/// and the folders found.
#[derive(Debug, Default)]
pub struct Listing {
    pub files: BTreeMap<String, Vec<u8>>,
    pub dirs: BTreeSet<String>,
}

/// One migration of the source tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The id the tool's own history records for it (`baseline --from` matches on it).
    pub id: String,
    /// The version as written, for its instant (`version::instant`).
    pub version: String,
    /// The tool's order: numeric components, then the name.
    pub order: (Vec<u128>, String),
    pub name: String,
    pub up: String,
    pub down: Option<String>,
    pub transactional: bool,
    /// The file(s) it came from, relative to the source folder.
    pub origin: Vec<String>,
}

/// Numeric components of a version (`1.10` -> [1, 10] when dotted), for the tool's order.
fn numeric(v: &str, dotted: bool) -> Vec<u128> {
    if dotted {
        v.split('.')
            .map(|p| p.parse().unwrap_or(u128::MAX))
            .collect()
    } else {
        vec![v.parse().unwrap_or(u128::MAX)]
    }
}

/// A pattern of this file (each exercised by its tool's test); a bad one is a problem, not a panic.
macro_rules! pattern {
    ($p:expr, $problems:expr) => {
        match Regex::new($p) {
            Ok(r) => r,
            Err(e) => {
                $problems.push(format!("internal error: pattern {}: {e}", $p));
                return Vec::new();
            }
        }
    };
}

// After `pattern!`: a macro is visible to the modules declared below it.
mod dbmate;
mod diesel;
mod flyway;
mod golang_migrate;
mod goose;
mod node_pg_migrate;
mod prisma;
mod sqlx;

pub use flyway::flyway_version;

/// Text of a file: UTF-8 (a leading BOM dropped), or a problem naming the first bad byte.
fn text(path: &str, bytes: &[u8], problems: &mut Vec<String>) -> Option<String> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => Some(s.to_string()),
        Err(e) => {
            problems.push(format!(
                "{path}: is not UTF-8 (invalid byte at offset {}); re-save it as UTF-8",
                e.valid_up_to()
            ));
            None
        }
    }
}

/// Files a migrations folder commonly holds that are no migration.
fn ignorable(name: &str) -> bool {
    name.starts_with('.')
        || name.eq_ignore_ascii_case("README.md")
        || name.eq_ignore_ascii_case("README")
}

/// Splits `text` at marker lines: the SQL after the first `up` marker (up to a `down` marker),
/// the SQL after the `down` marker, and the up and down marker lines themselves.
struct Sections {
    up: Option<String>,
    down: Option<String>,
    up_marker: Option<String>,
    down_marker: Option<String>,
}

fn sections(text: &str, is_up: &dyn Fn(&str) -> bool, is_down: &dyn Fn(&str) -> bool) -> Sections {
    let mut s = Sections {
        up: None,
        down: None,
        up_marker: None,
        down_marker: None,
    };
    enum In {
        Before,
        Up,
        Down,
    }
    let mut at = In::Before;
    let (mut up, mut down) = (String::new(), String::new());
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if s.up_marker.is_none() && is_up(bare) {
            s.up_marker = Some(bare.to_string());
            at = In::Up;
            continue;
        }
        if s.down_marker.is_none() && is_down(bare) {
            s.down_marker = Some(bare.to_string());
            at = In::Down;
            continue;
        }
        match at {
            In::Before => {}
            In::Up => up.push_str(line),
            In::Down => down.push_str(line),
        }
    }
    if s.up_marker.is_some() {
        s.up = Some(up);
    }
    if s.down_marker.is_some() {
        s.down = Some(down);
    }
    s
}

/// The SQL when it holds more than whitespace.
fn some_sql(s: Option<String>) -> Option<String> {
    s.filter(|t| !t.trim().is_empty())
}

/// A file's path and text.
type Text = (String, String);

/// A migration that may come as an up file and a down file: its name, `[up, down]`, and (sqlx)
/// whether it is a reversible pair.
struct Pair {
    name: String,
    parts: [Option<Text>; 2],
    reversible: bool,
}

impl Pair {
    fn new(name: &str, reversible: bool) -> Pair {
        Pair {
            name: name.to_string(),
            parts: [None, None],
            reversible,
        }
    }

    /// The up (`down == false`) or down part.
    fn part(&mut self, down: bool) -> &mut Option<Text> {
        let [up, dn] = &mut self.parts;
        if down { dn } else { up }
    }
}

/// Every tool's folder, read.
pub fn read(tool: Tool, l: &Listing) -> (Vec<Source>, Vec<String>) {
    let mut problems = Vec::new();
    let mut out = match tool {
        Tool::Dbmate => dbmate::dbmate(l, &mut problems),
        Tool::GolangMigrate => golang_migrate::golang_migrate(l, &mut problems),
        Tool::Goose => goose::goose(l, &mut problems),
        Tool::Sqlx => sqlx::sqlx(l, &mut problems),
        Tool::Diesel => diesel::diesel(l, &mut problems),
        Tool::Flyway => flyway::flyway(l, &mut problems),
        Tool::NodePgMigrate => node_pg_migrate::node_pg_migrate(l, &mut problems),
        Tool::Prisma => prisma::prisma(l, &mut problems),
    };
    out.sort_by(|a, b| a.order.cmp(&b.order));
    for (a, b) in out.iter().zip(out.iter().skip(1)) {
        if a.id == b.id || a.order.0 == b.order.0 {
            problems.push(format!(
                "{} and {}: the same version {}; {} would refuse them too: renumber one",
                a.origin.join("+"),
                b.origin.join("+"),
                b.version,
                tool.name()
            ));
        }
    }
    if out.is_empty() && problems.is_empty() {
        problems.push(format!(
            "no {} migrations found (expected {})",
            tool.name(),
            expected(tool)
        ));
    }
    (out, problems)
}

/// What a tool's migration looks like, for messages.
fn expected(tool: Tool) -> &'static str {
    match tool {
        Tool::Dbmate => "<version>_<name>.sql with `-- migrate:up` and `-- migrate:down`",
        Tool::GolangMigrate => "<version>_<title>.up.sql and <version>_<title>.down.sql",
        Tool::Goose => "<version>_<name>.sql with `-- +goose Up` and `-- +goose Down`",
        Tool::Sqlx => "<version>_<description>.sql, or .up.sql and .down.sql pairs",
        Tool::Diesel => "folders <version>_<name>/ holding up.sql, down.sql and metadata.toml",
        Tool::Flyway => {
            "V<version>__<description>.sql (and U<version>__<description>.sql undo files)"
        }
        Tool::NodePgMigrate => "<number>_<name>.sql with `-- Up Migration` and `-- Down Migration`",
        Tool::Prisma => {
            "folders <timestamp>_<name>/ holding migration.sql, and migration_lock.toml"
        }
    }
}

/// Top-level files of the listing (folders reported as unexpected for file-based tools).
fn top_files<'a>(
    l: &'a Listing,
    tool: Tool,
    problems: &mut Vec<String>,
) -> Vec<(&'a str, &'a [u8])> {
    for d in &l.dirs {
        if !ignorable(d) {
            problems.push(format!(
                "{d}/: a folder; {} keeps migrations as files ({}): move or remove it",
                tool.name(),
                expected(tool)
            ));
        }
    }
    l.files
        .iter()
        .filter(|(p, _)| !p.contains('/') && !ignorable(p))
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect()
}

fn unknown(path: &str, tool: Tool, problems: &mut Vec<String>) {
    problems.push(format!(
        "{path}: not a {} migration (expected {}); move it out of the folder or rename it",
        tool.name(),
        expected(tool)
    ));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A folder listing from `(path, text)` pairs (also the import tests' input).
    pub(crate) fn listing(files: &[(&str, &str)]) -> Listing {
        let mut l = Listing::default();
        for (p, t) in files {
            if let Some((d, _)) = p.split_once('/') {
                l.dirs.insert(d.to_string());
            }
            l.files.insert(p.to_string(), t.as_bytes().to_vec());
        }
        l
    }

    fn one(tool: Tool, files: &[(&str, &str)]) -> Source {
        let (s, problems) = read(tool, &listing(files));
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(s.len(), 1, "{s:?}");
        s.into_iter().next().unwrap()
    }

    #[test]
    fn dbmate_sections_and_transaction_option() {
        let s = one(
            Tool::Dbmate,
            &[(
                "20230102030405_add_index.sql",
                "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY i ON t (a);\n\n-- migrate:down\nDROP INDEX i;\n",
            )],
        );
        assert_eq!(s.id, "20230102030405");
        assert_eq!(s.name, "add_index");
        assert_eq!(s.up, "CREATE INDEX CONCURRENTLY i ON t (a);\n\n");
        assert_eq!(s.down.as_deref(), Some("DROP INDEX i;\n"));
        assert!(!s.transactional);
        let (_, problems) = read(Tool::Dbmate, &listing(&[("1_x.sql", "CREATE TABLE t ();")]));
        assert!(problems[0].contains("no `-- migrate:up`"), "{problems:?}");
    }

    #[test]
    fn golang_migrate_pairs_and_numeric_ids() {
        let s = one(
            Tool::GolangMigrate,
            &[
                ("000001_init.up.sql", "CREATE TABLE t ();"),
                ("000001_init.down.sql", "DROP TABLE t;"),
            ],
        );
        assert_eq!((s.id.as_str(), s.version.as_str()), ("1", "000001"));
        assert_eq!(s.down.as_deref(), Some("DROP TABLE t;"));
        let (_, p) = read(
            Tool::GolangMigrate,
            &listing(&[("2_x.down.sql", "DROP TABLE t;")]),
        );
        assert!(p[0].contains("has no 2_x.up.sql"), "{p:?}");
    }

    #[test]
    fn goose_annotations() {
        let s = one(
            Tool::Goose,
            &[(
                "00002_fn.sql",
                "-- +goose NO TRANSACTION\n-- +goose Up\n-- +goose StatementBegin\nCREATE INDEX CONCURRENTLY i ON t (a);\n-- +goose StatementEnd\n-- +goose Down\nDROP INDEX i;\n",
            )],
        );
        assert_eq!(s.id, "2");
        assert!(!s.transactional);
        assert!(s.up.contains("CREATE INDEX CONCURRENTLY") && !s.up.contains("DROP INDEX"));
        let (_, p) = read(Tool::Goose, &listing(&[("00003_code.go", "package m")]));
        assert!(p[0].contains("a Go migration"), "{p:?}");
    }

    #[test]
    fn sqlx_simple_and_reversible_and_no_transaction() {
        let s = one(
            Tool::Sqlx,
            &[(
                "20230102030405_add users.sql",
                "-- no-transaction\nCREATE INDEX CONCURRENTLY i ON t (a);",
            )],
        );
        assert!(!s.transactional);
        assert_eq!(s.name, "add users");
        let s = one(
            Tool::Sqlx,
            &[
                ("1_a.up.sql", "CREATE TABLE a ();"),
                ("1_a.down.sql", "DROP TABLE a;"),
            ],
        );
        assert_eq!(
            (s.id.as_str(), s.down.as_deref()),
            ("1", Some("DROP TABLE a;"))
        );
    }

    #[test]
    fn diesel_folders_versions_without_dashes_and_metadata() {
        let s = one(
            Tool::Diesel,
            &[
                (
                    "2023-01-02-030405_create_users/up.sql",
                    "CREATE TABLE users ();",
                ),
                (
                    "2023-01-02-030405_create_users/down.sql",
                    "DROP TABLE users;",
                ),
                (
                    "2023-01-02-030405_create_users/metadata.toml",
                    "run_in_transaction = false\n",
                ),
            ],
        );
        assert_eq!(s.id, "20230102030405");
        assert!(!s.transactional);
        let (_, p) = read(
            Tool::Diesel,
            &listing(&[("2023-01-02-030405_x/notes.txt", "")]),
        );
        assert!(p.iter().any(|x| x.contains("has no up.sql")), "{p:?}");
    }

    #[test]
    fn flyway_versions_undo_conf_and_repeatables_refused() {
        let s = one(
            Tool::Flyway,
            &[
                ("V1_1__Add_users.sql", "CREATE TABLE users ();"),
                ("U1_1__Add_users.sql", "DROP TABLE users;"),
                ("V1_1__Add_users.sql.conf", "executeInTransaction=false\n"),
            ],
        );
        assert_eq!((s.id.as_str(), s.name.as_str()), ("1.1", "Add_users"));
        assert_eq!(s.down.as_deref(), Some("DROP TABLE users;"));
        assert!(!s.transactional);
        assert_eq!(flyway_version("1.01.0"), "1.1");
        assert_eq!(flyway_version("2"), "2");
        let (ok, p) = read(
            Tool::Flyway,
            &listing(&[
                ("R__views.sql", "CREATE VIEW v AS SELECT 1;"),
                ("V2__b.sql", "SELECT 1;"),
                ("V10__c.sql", "SELECT 1;"),
            ]),
        );
        assert!(p[0].contains("repeatable"), "{p:?}");
        // numeric order: 2 before 10
        assert_eq!(
            ok.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["2", "10"]
        );
    }

    #[test]
    fn node_pg_migrate_sql_sections_and_js_refused() {
        let s = one(
            Tool::NodePgMigrate,
            &[(
                "1700000000000_add-users.sql",
                "-- Up Migration\nCREATE TABLE users ();\n-- Down Migration\nDROP TABLE users;\n",
            )],
        );
        assert_eq!(
            (s.id.as_str(), s.name.as_str()),
            ("1700000000000_add-users", "add-users")
        );
        assert_eq!(s.up, "CREATE TABLE users ();\n");
        let (_, p) = read(
            Tool::NodePgMigrate,
            &listing(&[("1700000000001_x.js", "exports.up = (pgm) => {}")]),
        );
        assert!(
            p[0].contains("builder API") && p[0].contains("1700000000001_x.js"),
            "{p:?}"
        );
    }

    #[test]
    fn prisma_folders() {
        let s = one(
            Tool::Prisma,
            &[
                ("migration_lock.toml", "provider = \"postgresql\""),
                (
                    "20230102030405_init/migration.sql",
                    "CREATE TABLE \"User\" ();",
                ),
            ],
        );
        assert_eq!(
            (s.id.as_str(), s.down.is_none()),
            ("20230102030405_init", true)
        );
    }

    #[test]
    fn unknown_files_duplicates_and_bad_bytes_are_all_reported() {
        let mut l = listing(&[
            ("1_a.sql", "-- migrate:up\nSELECT 1;"),
            ("01_b.sql", "-- migrate:up\nSELECT 1;"),
            ("notes.txt", "hello"),
            (".gitkeep", ""),
        ]);
        l.files
            .insert("2_c.sql".into(), b"-- migrate:up\nSELECT '\xff';".to_vec());
        let (_, p) = read(Tool::Dbmate, &l);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(
            p.iter()
                .any(|x| x.starts_with("notes.txt: not a dbmate migration"))
        );
        assert!(p.iter().any(|x| x.starts_with("2_c.sql: is not UTF-8")));
        assert!(p.iter().any(|x| x.contains("the same version")));
    }
}
