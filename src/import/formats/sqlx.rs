//! sqlx's migration folder, as sqlx reads it.

use super::*;

pub(super) fn sqlx(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let file = pattern!(r"^(\d+)_(.*?)(\.up|\.down)?\.sql$", problems);
    let mut by: BTreeMap<String, Pair> = BTreeMap::new();
    for (path, bytes) in top_files(l, Tool::Sqlx, problems) {
        let Some(c) = file.captures(path) else {
            unknown(path, Tool::Sqlx, problems);
            continue;
        };
        let Some(t) = text(path, bytes, problems) else {
            continue;
        };
        let reversible = c.get(3).is_some();
        let e = by
            .entry(c[1].to_string())
            .or_insert_with(|| Pair::new(&c[2], reversible));
        if e.reversible != reversible || e.name != c[2] {
            problems.push(format!(
                "{path}: version {} is also used by another file; sqlx refuses a version twice",
                &c[1]
            ));
            continue;
        }
        *e.part(c.get(3).is_some_and(|m| m.as_str() == ".down")) = Some((path.to_string(), t));
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
                "{v}_{desc}.down.sql: has no {v}_{desc}.up.sql; add it or remove the down file"
            ));
            continue;
        };
        // sqlx: a script starting with `-- no-transaction` runs outside a transaction
        let no_tx = up_sql.starts_with("-- no-transaction");
        let mut origin = vec![up_path];
        origin.extend(down.as_ref().map(|d| d.0.clone()));
        out.push(Source {
            id: v.trim_start_matches('0').to_string(),
            version: v.clone(),
            order: (numeric(&v, false), desc.clone()),
            name: desc,
            up: up_sql,
            down: some_sql(down.map(|d| d.1)),
            transactional: !no_tx,
            origin,
        });
    }
    out
}
