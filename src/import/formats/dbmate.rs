//! dbmate's migration folder, as dbmate reads it.

use super::*;

pub(super) fn dbmate(l: &Listing, problems: &mut Vec<String>) -> Vec<Source> {
    let file = pattern!(r"^(\d+)_(.*)\.sql$", problems);
    // dbmate: `^--\s*migrate:up(.*)$`, options like `transaction:false` after the marker
    let up = pattern!(r"^--\s*migrate:up(\s.*)?$", problems);
    let down = pattern!(r"^--\s*migrate:down(\s.*)?$", problems);
    let mut out = Vec::new();
    for (path, bytes) in top_files(l, Tool::Dbmate, problems) {
        let Some(c) = file.captures(path) else {
            unknown(path, Tool::Dbmate, problems);
            continue;
        };
        let Some(t) = text(path, bytes, problems) else {
            continue;
        };
        let s = sections(&t, &|x| up.is_match(x), &|x| down.is_match(x));
        let Some(up_sql) = s.up else {
            problems.push(format!(
                "{path}: has no `-- migrate:up` line, so dbmate would not run it either; add one"
            ));
            continue;
        };
        let no_tx = |m: &Option<String>| {
            m.as_deref()
                .is_some_and(|m| m.contains("transaction:false"))
        };
        out.push(Source {
            id: c[1].to_string(),
            version: c[1].to_string(),
            order: (numeric(&c[1], false), c[2].to_string()),
            name: c[2].to_string(),
            up: up_sql,
            down: some_sql(s.down),
            transactional: !no_tx(&s.up_marker),
            origin: vec![path.to_string()],
        });
    }
    out
}
