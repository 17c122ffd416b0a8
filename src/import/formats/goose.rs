//! goose's migration folder, as goose reads it.

use super::*;

pub(super) fn goose(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let file = pattern!(r"^(\d+)_(.*)\.(sql|go)$", problems);
    let annotation = |line: &str, what: &str| {
        line.strip_prefix("--")
            .map(str::trim_start)
            .and_then(|r| r.strip_prefix("+goose"))
            .is_some_and(|r| r.trim().eq_ignore_ascii_case(what))
    };
    let mut out = Vec::new();
    for (path, bytes) in top_files(l, Tool::Goose, problems) {
        let Some(c) = file.captures(path) else {
            unknown(path, Tool::Goose, problems);
            continue;
        };
        if &c[3] == "go" {
            problems.push(format!(
                "{path}: a Go migration; godwit imports SQL migrations (its code runs in goose's process): port it to a .sql migration first"
            ));
            continue;
        }
        let Some(t) = text(path, bytes, problems) else {
            continue;
        };
        let s = sections(&t, &|x| annotation(x, "up"), &|x| annotation(x, "down"));
        let Some(up_sql) = s.up else {
            problems.push(format!(
                "{path}: has no `-- +goose Up` line, which goose requires; add one"
            ));
            continue;
        };
        let no_tx = t.lines().any(|x| annotation(x, "no transaction"));
        out.push(Source {
            id: c[1].trim_start_matches('0').to_string(),
            version: c[1].to_string(),
            order: (numeric(&c[1], false), c[2].to_string()),
            name: c[2].to_string(),
            up: up_sql,
            down: some_sql(s.down),
            transactional: !no_tx,
            origin: vec![path.to_string()],
        });
    }
    out
}
