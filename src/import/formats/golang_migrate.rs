//! golang-migrate's migration folder, as golang-migrate reads it.

use super::*;

pub(super) fn golang_migrate(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let file = pattern!(r"^(\d+)_(.*)\.(up|down)\.sql$", problems);
    let mut by: BTreeMap<String, Pair> = BTreeMap::new();
    for (path, bytes) in top_files(l, Tool::GolangMigrate, problems) {
        let Some(c) = file.captures(path) else {
            unknown(path, Tool::GolangMigrate, problems);
            continue;
        };
        let Some(t) = text(path, bytes, problems) else {
            continue;
        };
        let e = by
            .entry(c[1].to_string())
            .or_insert_with(|| Pair::new(&c[2], true));
        if e.name != c[2] {
            problems.push(format!(
                "{path}: version {} also names `{}`; golang-migrate refuses two titles for one version",
                &c[1], e.name
            ));
        }
        *e.part(&c[3] == "down") = Some((path.to_string(), t));
    }
    let mut out = Vec::new();
    for (
        v,
        Pair {
            name,
            parts: [up, down],
            ..
        },
    ) in by
    {
        let Some((up_path, up_sql)) = up else {
            problems.push(format!(
                "{v}_{name}.down.sql: has no {v}_{name}.up.sql; add it or remove the down file"
            ));
            continue;
        };
        let mut origin = vec![up_path];
        origin.extend(down.as_ref().map(|d| d.0.clone()));
        out.push(Source {
            // golang-migrate records the number, not the text (`0001` is 1)
            id: v.trim_start_matches('0').to_string(),
            version: v.clone(),
            order: (numeric(&v, false), name.clone()),
            name,
            up: up_sql,
            down: some_sql(down.map(|d| d.1)),
            transactional: true,
            origin,
        });
    }
    out
}
