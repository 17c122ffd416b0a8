//! `table-rewrite`: maintenance commands that rewrite a whole table under an ACCESS EXCLUSIVE
//! lock without any DDL saying so. `VACUUM FULL` and `CLUSTER` copy every row into a new file
//! while reads and writes wait; in a migration that is an outage as long as the table is big.
//! (`REINDEX` without CONCURRENTLY is squawk's `require-concurrent-reindex`.)

use squawk_syntax::SyntaxKind;
use squawk_syntax::ast::{self, AstNode};

use super::Part;
use crate::contract::sql::has_token;
use crate::violation::Violation;

pub const ID: &str = "table-rewrite";

pub fn check(part: &Part) -> Vec<Violation> {
    if part.name != "up" {
        return Vec::new();
    }
    part.statements
        .iter()
        .filter_map(|s| {
            let what = match &s.node {
                ast::Stmt::Vacuum(v) if has_token(v.syntax(), SyntaxKind::FULL_KW) => "VACUUM FULL",
                ast::Stmt::Cluster(_) => "CLUSTER",
                _ => return None,
            };
            Some(
                Violation::new(
                    part.file,
                    ID,
                    format!(
                        "`{what}` rewrites the whole table under an ACCESS EXCLUSIVE lock: reads and writes wait until every row is copied"
                    ),
                    "run it by hand in a maintenance window (or use pg_repack, which rewrites without the long lock); if this migration must run it, waive the rule with the reason: config.ignore",
                )
                .in_sql(part.name, s.chunk, s.line),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::modules::MigrationConfig;
    use crate::policy::Policy;
    use crate::policy::rules::test_support::{run, tx};

    #[test]
    fn vacuum_full_and_cluster_are_found_even_alone_and_plain_vacuum_is_not() {
        let notx = MigrationConfig {
            transaction: false,
            ..Default::default()
        };
        let p = Policy::default();
        assert_eq!(run(check, "up", "VACUUM FULL users;", &notx, &p).len(), 1);
        assert_eq!(
            run(check, "up", "CLUSTER users USING users_pkey;", &tx(), &p).len(),
            1
        );
        assert!(run(check, "up", "VACUUM (ANALYZE) users;", &notx, &p).is_empty());
        assert!(run(check, "down", "CLUSTER users USING users_pkey;", &tx(), &p).is_empty());
    }
}
