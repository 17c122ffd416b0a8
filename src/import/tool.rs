//! The tools godwit adopts from: their names on the command line, and where each keeps its own
//! history in the database (read by `baseline --from`). The tables are the ones each tool's own
//! code creates (default names); a team that renamed theirs passes `--table`.

use serde::Serialize;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, enum_iterator::Sequence)]
#[serde(rename_all = "kebab-case")]
pub enum Tool {
    Dbmate,
    GolangMigrate,
    Goose,
    Sqlx,
    Diesel,
    Flyway,
    NodePgMigrate,
    Prisma,
}

impl Tool {
    pub fn name(self) -> &'static str {
        match self {
            Tool::Dbmate => "dbmate",
            Tool::GolangMigrate => "golang-migrate",
            Tool::Goose => "goose",
            Tool::Sqlx => "sqlx",
            Tool::Diesel => "diesel",
            Tool::Flyway => "flyway",
            Tool::NodePgMigrate => "node-pg-migrate",
            Tool::Prisma => "prisma",
        }
    }

    pub fn all_names() -> String {
        enum_iterator::all::<Tool>()
            .map(Tool::name)
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn parse(s: &str) -> Result<Tool> {
        enum_iterator::all::<Tool>()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "`{s}` is not a tool godwit imports from; known: {}",
                    Tool::all_names()
                ))
            })
    }

    /// The history table the tool creates by default (in the connection's `search_path`).
    pub fn history_table(self) -> &'static str {
        match self {
            Tool::Dbmate | Tool::GolangMigrate => "schema_migrations",
            Tool::Goose => "goose_db_version",
            Tool::Sqlx => "_sqlx_migrations",
            Tool::Diesel => "__diesel_schema_migrations",
            Tool::Flyway => "flyway_schema_history",
            Tool::NodePgMigrate => "pgmigrations",
            Tool::Prisma => "_prisma_migrations",
        }
    }

    /// The query reading the tool's history as `(id, state)` rows, `state` one of `applied`,
    /// `failed` (the tool itself would refuse to go on), `reverted`, `upto` (every migration up
    /// to this one is applied) or `skip`. `{t}` is the table as the server names it. Each tool's
    /// own semantics are applied here, where its table is read:
    /// - golang-migrate keeps one row, the current version (`dirty` when a run died half-way);
    /// - goose appends a row per apply and per rollback (`is_applied`): the newest row of each
    ///   version decides; version 0 is its own marker row;
    /// - Flyway keeps every attempt (`success`), undo (`UNDO_SQL`) and repair (`DELETE`), and
    ///   its own baseline row (`BASELINE`: every migration up to it counts as applied);
    /// - Prisma keeps every attempt: started and neither finished nor rolled back is a failure
    ///   nobody resolved (Prisma itself refuses to go on), else finished and not rolled back is
    ///   applied.
    pub fn history_sql(self, t: &str) -> String {
        match self {
            Tool::Dbmate | Tool::Diesel => format!("SELECT version::text, 'applied' FROM {t}"),
            Tool::GolangMigrate => format!(
                "SELECT version::text, CASE WHEN dirty THEN 'failed' ELSE 'upto' END FROM {t}"
            ),
            Tool::Goose => format!(
                "SELECT DISTINCT ON (version_id) version_id::text, CASE WHEN is_applied THEN 'applied' ELSE 'reverted' END FROM {t} WHERE version_id <> 0 ORDER BY version_id, id DESC"
            ),
            Tool::Sqlx => format!(
                "SELECT version::text, CASE WHEN success THEN 'applied' ELSE 'failed' END FROM {t}"
            ),
            Tool::Flyway => format!(
                "SELECT DISTINCT ON (version) version::text, CASE WHEN NOT success THEN 'failed' WHEN type IN ('UNDO_SQL', 'UNDO_JDBC', 'UNDO_SCRIPT', 'DELETE') THEN 'reverted' WHEN type = 'BASELINE' THEN 'upto' WHEN type = 'SCHEMA' THEN 'skip' ELSE 'applied' END FROM {t} WHERE version IS NOT NULL ORDER BY version, installed_rank DESC"
            ),
            Tool::NodePgMigrate => format!("SELECT name::text, 'applied' FROM {t}"),
            Tool::Prisma => format!(
                "SELECT migration_name::text, CASE WHEN bool_or(finished_at IS NULL AND rolled_back_at IS NULL) THEN 'failed' WHEN bool_or(finished_at IS NOT NULL AND rolled_back_at IS NULL) THEN 'applied' ELSE 'reverted' END FROM {t} GROUP BY migration_name"
            ),
        }
    }

    /// What the tool does about a failed entry, for the refusal.
    pub fn failed_fix(self) -> &'static str {
        match self {
            Tool::GolangMigrate => {
                "it is dirty: repair the database, then `migrate force <version>`"
            }
            Tool::Sqlx => {
                "sqlx recorded it with success = false: repair it and resolve it with sqlx"
            }
            Tool::Flyway => "repair the database, then `flyway repair`",
            Tool::Prisma => "resolve it: `prisma migrate resolve --applied|--rolled-back <name>`",
            _ => "resolve it with the tool first",
        }
    }

    /// An id as the tool compares it: numbers without leading zeros, Flyway's dotted versions
    /// normalized, names as they are.
    pub fn normalize(self, id: &str) -> String {
        match self {
            Tool::GolangMigrate | Tool::Goose | Tool::Sqlx => {
                let t = id.trim_start_matches('0');
                if t.is_empty() { "0".into() } else { t.into() }
            }
            Tool::Flyway => super::formats::flyway_version(id),
            _ => id.to_string(),
        }
    }

    /// Whether `id` comes at or before `upto` in the tool's order (numbers, Flyway versions by
    /// component).
    pub fn at_or_before(self, id: &str, upto: &str) -> bool {
        let key = |v: &str| -> Vec<u128> {
            self.normalize(v)
                .split('.')
                .map(|p| p.parse().unwrap_or(u128::MAX))
                .collect()
        };
        key(id) <= key(upto)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_tools_are_named() {
        for t in enum_iterator::all::<Tool>() {
            assert_eq!(Tool::parse(t.name()).unwrap(), t);
        }
        let e = Tool::parse("liquibase").unwrap_err().to_string();
        assert!(
            e.contains("liquibase") && e.contains("dbmate, golang-migrate"),
            "{e}"
        );
    }

    #[test]
    fn ids_compare_as_each_tool_does() {
        assert_eq!(Tool::Goose.normalize("00012"), "12");
        assert_eq!(Tool::Flyway.normalize("1_01"), "1.1");
        assert_eq!(Tool::Prisma.normalize("0001_init"), "0001_init");
        assert!(Tool::GolangMigrate.at_or_before("9", "10"));
        assert!(!Tool::GolangMigrate.at_or_before("11", "10"));
        assert!(Tool::Flyway.at_or_before("1.9", "1.10"));
    }
}
