//! godwit's own policy rules, one per file with its tests; squawk's rules are wired in
//! `policy::squawk`. Each rule reads one part (`up` or `down`) of one migration, parsed, and
//! returns its findings at the error level; `policy` then applies the project's levels and the
//! migration's written opt-outs.

pub mod destructive;
pub mod isolation;
pub mod session_state;
pub mod table_rewrite;

use crate::contract::modules::MigrationConfig;
use crate::contract::sql::Statement;
use crate::violation::Violation;

use super::Policy;

/// One part of one migration, as every rule sees it.
pub struct Part<'a> {
    pub file: &'a str,
    /// `up` or `down`.
    pub name: &'static str,
    pub statements: &'a [Statement],
    pub config: &'a MigrationConfig,
    pub policy: &'a Policy,
}

/// A rule: its findings on one part of one migration.
pub type Check = fn(&Part) -> Vec<Violation>;

/// Our rules, with the function that runs each.
pub const RULES: [(&str, Check); 4] = [
    (isolation::ID, isolation::check),
    (destructive::ID, destructive::check),
    (session_state::ID, session_state::check),
    (table_rewrite::ID, table_rewrite::check),
];

/// The ids of our rules, for configuration and `config.ignore`.
pub fn ids() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|(id, _)| *id)
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// The findings of one rule on `sql` as one part.
    pub fn run(
        rule: fn(&Part) -> Vec<Violation>,
        part: &'static str,
        sql: &str,
        config: &MigrationConfig,
        policy: &Policy,
    ) -> Vec<String> {
        let parsed = crate::contract::sql::parse(&[sql.to_string()]);
        assert!(
            parsed.split.errors.is_empty(),
            "{sql}: {:?}",
            parsed.split.errors
        );
        rule(&Part {
            file: "f.mjs",
            name: part,
            statements: &parsed.split.statements,
            config,
            policy,
        })
        .into_iter()
        .map(|v| v.message)
        .collect()
    }

    pub fn tx() -> MigrationConfig {
        MigrationConfig {
            transaction: true,
            ..Default::default()
        }
    }
}
