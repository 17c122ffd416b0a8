//! Flyway's migration folder, as Flyway reads it.

use super::*;

/// Flyway's version as its history compares it: `_` is `.`, leading zeros and trailing zero
/// parts do not count (`1.01.0` is `1.1`).
pub fn flyway_version(v: &str) -> String {
    let mut parts: Vec<String> = v
        .replace('_', ".")
        .split('.')
        .map(|p| {
            let t = p.trim_start_matches('0');
            if t.is_empty() {
                "0".to_string()
            } else {
                t.to_string()
            }
        })
        .collect();
    while parts.len() > 1 && parts.last().is_some_and(|p| p == "0") {
        parts.pop();
    }
    parts.join(".")
}

pub(super) fn flyway(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let file = pattern!(r"^([VU])([0-9][0-9._]*?)__(.+)\.sql$", problems);
    let mut by: BTreeMap<String, Pair> = BTreeMap::new();
    let mut confs: BTreeMap<String, String> = BTreeMap::new();
    for (path, bytes) in top_files(l, Tool::Flyway, problems) {
        if let Some(script) = path.strip_suffix(".conf") {
            if let Some(t) = text(path, bytes, problems) {
                confs.insert(script.to_string(), t);
            }
            continue;
        }
        if path.starts_with("R__") {
            problems.push(format!(
                "{path}: a repeatable migration (re-run whenever it changes); godwit's migrations run once, so it has no equivalent: move its SQL into a versioned migration, or keep it outside the migrations folder"
            ));
            continue;
        }
        let Some(c) = file.captures(path) else {
            unknown(path, Tool::Flyway, problems);
            continue;
        };
        let Some(t) = text(path, bytes, problems) else {
            continue;
        };
        let v = flyway_version(&c[2]);
        let e = by
            .entry(v.clone())
            .or_insert_with(|| Pair::new(&c[3], true));
        let slot = e.part(&c[1] == "U");
        if slot.is_some() {
            problems.push(format!(
                "{path}: version {v} appears twice; Flyway refuses it too"
            ));
            continue;
        }
        *slot = Some((path.to_string(), t));
    }
    for script in confs.keys() {
        if !l.files.contains_key(script) {
            problems.push(format!(
                "{script}.conf: configures a script that is not here"
            ));
        }
    }
    let mut out = Vec::new();
    for (
        v,
        Pair {
            name: desc,
            parts: [up, down],
            ..
        },
    ) in by
    {
        let Some((up_path, up_sql)) = up else {
            problems.push(format!(
                "U{v}__{desc}.sql: an undo file without its V{v} migration"
            ));
            continue;
        };
        let no_tx = confs.get(&up_path).is_some_and(|c| {
            c.lines().any(|x| {
                let x: String = x.chars().filter(|c| !c.is_whitespace()).collect();
                x == "executeInTransaction=false"
            })
        });
        let mut origin = vec![up_path];
        origin.extend(down.as_ref().map(|d| d.0.clone()));
        out.push(Source {
            id: v.clone(),
            version: v.clone(),
            order: (numeric(&v, true), desc.clone()),
            name: desc,
            up: up_sql,
            down: some_sql(down.map(|d| d.1)),
            transactional: !no_tx,
            origin,
        });
    }
    out
}
