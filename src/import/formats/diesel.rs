//! diesel's migration folder, as diesel reads it.

use super::*;

pub(super) fn diesel(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let folder = pattern!(r"^([0-9-]+)_(.*)$", problems);
    for (p, _) in l.files.iter().filter(|(p, _)| !p.contains('/')) {
        if !ignorable(p) {
            unknown(p, Tool::Diesel, problems);
        }
    }
    let mut out = Vec::new();
    for d in &l.dirs {
        if ignorable(d) {
            continue;
        }
        let Some(c) = folder.captures(d) else {
            unknown(&format!("{d}/"), Tool::Diesel, problems);
            continue;
        };
        let up_path = format!("{d}/up.sql");
        let Some(bytes) = l.files.get(&up_path) else {
            problems.push(format!("{d}/: has no up.sql; diesel would refuse it too"));
            continue;
        };
        let Some(up_sql) = text(&up_path, bytes, problems) else {
            continue;
        };
        let down_path = format!("{d}/down.sql");
        let down = l
            .files
            .get(&down_path)
            .and_then(|b| text(&down_path, b, problems));
        let meta_path = format!("{d}/metadata.toml");
        let no_tx = l
            .files
            .get(&meta_path)
            .and_then(|b| text(&meta_path, b, problems))
            .is_some_and(|m| {
                m.lines().any(|x| {
                    let x: String = x.chars().filter(|c| !c.is_whitespace()).collect();
                    x == "run_in_transaction=false"
                })
            });
        for (p, _) in l.files.range(format!("{d}/")..) {
            let Some(rest) = p.strip_prefix(&format!("{d}/")) else {
                break;
            };
            if !["up.sql", "down.sql", "metadata.toml"].contains(&rest) && !ignorable(rest) {
                problems.push(format!(
                    "{p}: diesel reads only up.sql, down.sql and metadata.toml here; move it out"
                ));
            }
        }
        // diesel records the folder's prefix without its dashes (migrations_internals)
        let id = c[1].replace('-', "");
        let mut origin = vec![up_path];
        if down.is_some() {
            origin.push(down_path);
        }
        out.push(Source {
            version: id.clone(),
            order: (numeric(&id, false), c[2].to_string()),
            id,
            name: c[2].to_string(),
            up: up_sql,
            down: some_sql(down),
            transactional: !no_tx,
            origin,
        });
    }
    out
}
