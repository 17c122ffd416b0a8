//! node-pg-migrate's migration folder, as node-pg-migrate reads it.

use super::*;

pub(super) fn node_pg_migrate(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let file = pattern!(r"^(\d+)[_-](.+)\.(sql|js|cjs|mjs|ts|cts|mts)$", problems);
    // node-pg-migrate's own markers: `^\s*--[\s-]*up\s+migration` (case-insensitive)
    let up = pattern!(r"(?i)^\s*--[\s-]*up\s+migration", problems);
    let down = pattern!(r"(?i)^\s*--[\s-]*down\s+migration", problems);
    let mut out = Vec::new();
    for (path, bytes) in top_files(l, Tool::NodePgMigrate, problems) {
        let Some(c) = file.captures(path) else {
            unknown(path, Tool::NodePgMigrate, problems);
            continue;
        };
        if &c[3] != "sql" {
            problems.push(format!(
                "{path}: a JavaScript migration; its up/down call node-pg-migrate's builder API (pgm.createTable, ...) when it runs, which godwit cannot read as SQL: print its SQL (node-pg-migrate up --dry-run) into a .sql migration of the same name first"
            ));
            continue;
        }
        let Some(t) = text(path, bytes, problems) else {
            continue;
        };
        let s = sections(&t, &|x| up.is_match(x), &|x| down.is_match(x));
        // without an up marker, node-pg-migrate runs the whole file as up
        let up_sql = s.up.unwrap_or_else(|| t.clone());
        let stem = path.rsplit_once('.').map_or(path, |(s, _)| s);
        out.push(Source {
            id: stem.to_string(),
            version: c[1].to_string(),
            order: (numeric(&c[1], false), c[2].to_string()),
            name: c[2].to_string(),
            up: up_sql,
            down: some_sql(s.down),
            transactional: true,
            origin: vec![path.to_string()],
        });
    }
    out
}
