//! Prisma Migrate's migration folder, as Prisma Migrate reads it.

use super::*;

pub(super) fn prisma(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let folder = pattern!(r"^(\d+)_(.+)$", problems);
    for (p, _) in l.files.iter().filter(|(p, _)| !p.contains('/')) {
        if !ignorable(p) && p != "migration_lock.toml" {
            unknown(p, Tool::Prisma, problems);
        }
    }
    let mut out = Vec::new();
    for d in &l.dirs {
        if ignorable(d) {
            continue;
        }
        let Some(c) = folder.captures(d) else {
            unknown(&format!("{d}/"), Tool::Prisma, problems);
            continue;
        };
        let path = format!("{d}/migration.sql");
        let Some(bytes) = l.files.get(&path) else {
            problems.push(format!(
                "{d}/: has no migration.sql; Prisma would refuse it too"
            ));
            continue;
        };
        let Some(up_sql) = text(&path, bytes, problems) else {
            continue;
        };
        out.push(Source {
            id: d.clone(),
            version: c[1].to_string(),
            order: (numeric(&c[1], false), c[2].to_string()),
            name: c[2].to_string(),
            up: up_sql,
            down: None,
            transactional: true,
            origin: vec![path],
        });
    }
    out
}
