//! A migration's failure as the report states it: the server's error, and where it is, mapped
//! from the server's character position to the rendered SQL string, its line, the statement, and
//! the line in the migration file when the SQL is written there literally. Pure.

use crate::contract::{lines, sql};
use crate::db::DbError;

use super::report::FailureDetail;

/// The separator the runner puts between a migration's SQL strings.
pub const CHUNK_SEPARATOR: &str = "\n;\n";

/// `e` on `file`, whose SQL strings are `chunks`; `position` is 1-based in the joined SQL
/// (already made relative to the migration's own SQL); `source` is the file's text when known.
pub fn detail(
    file: &str,
    e: &DbError,
    position: Option<u32>,
    chunks: &[String],
    source: Option<&str>,
) -> FailureDetail {
    let mut d = FailureDetail {
        file: file.into(),
        sqlstate: e.sqlstate.clone(),
        message: e.message.clone(),
        detail: e.detail.clone(),
        hint: e.hint.clone(),
        position,
        ..Default::default()
    };
    let Some(pos) = position else { return d };
    let separator = CHUNK_SEPARATOR.chars().count();
    let mut offset = (pos as usize).saturating_sub(1);
    for (i, c) in chunks.iter().enumerate() {
        let n = c.chars().count();
        if offset <= n {
            let byte = c
                .char_indices()
                .nth(offset)
                .map(|(b, _)| b)
                .unwrap_or(c.len());
            let sql_line = sql::line_of(c, byte);
            d.chunk = Some(i as u32);
            d.sql_line = Some(sql_line);
            d.line = Some(
                source
                    .and_then(|s| lines::file_line(s, c, sql_line))
                    .unwrap_or(sql_line),
            );
            let split = sql::split(std::slice::from_ref(c));
            d.statement = split
                .statements
                .iter()
                .take_while(|s| s.start <= byte)
                .last()
                .map(|s| s.text.clone());
            return d;
        }
        offset = offset.saturating_sub(n + separator);
    }
    d
}

/// `<file> failed: <message> (SQLSTATE x) at line n`, as the error and the progress say it.
pub fn summary(d: &FailureDetail) -> String {
    format!(
        "{} failed: {}{}{}",
        d.file,
        d.message,
        d.sqlstate
            .as_ref()
            .map(|s| format!(" (SQLSTATE {s})"))
            .unwrap_or_default(),
        match (d.line, d.sql_line) {
            (Some(l), Some(s)) if l != s => format!(" at line {l} of {}", d.file),
            (Some(l), _) => format!(" at line {l}"),
            _ => String::new(),
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(pos: u32) -> DbError {
        DbError {
            sqlstate: Some("42P01".into()),
            message: "relation \"nope\" does not exist".into(),
            position: Some(pos),
            ..Default::default()
        }
    }

    #[test]
    fn a_position_maps_to_its_string_line_and_statement() {
        let chunks = vec![
            "CREATE TABLE a (id int);".to_string(),
            "SELECT 1;\nINSERT INTO nope VALUES (1);".to_string(),
        ];
        // the second string starts after the first (24 chars) and the separator (3)
        let pos = 24 + 3 + 10 + 13; // "nope" on its second line
        let d = detail("f.mjs", &err(pos), Some(pos), &chunks, None);
        assert_eq!((d.chunk, d.sql_line, d.line), (Some(1), Some(2), Some(2)));
        assert!(d.statement.unwrap().starts_with("INSERT INTO nope"));
    }

    #[test]
    fn literal_sql_maps_to_the_file_line() {
        let chunks = vec!["\nCREATE TABLE a (id int);\nINSERT INTO nope VALUES (1);\n".to_string()];
        let source = format!(
            "// a header\n// another\nexport const up = `{}`\n",
            chunks[0]
        );
        let pos = 1 + 25 + 13;
        let d = detail("f.mjs", &err(pos), Some(pos), &chunks, Some(&source));
        assert_eq!((d.sql_line, d.line), (Some(3), Some(5)));
        assert!(
            summary(&d).ends_with("at line 5 of f.mjs"),
            "{}",
            summary(&d)
        );
        let d = detail(
            "f.mjs",
            &err(pos),
            Some(pos),
            &chunks,
            Some("export const up = \"escaped\""),
        );
        assert_eq!(d.line, Some(3));
        assert!(
            summary(&d).ends_with("(SQLSTATE 42P01) at line 3"),
            "{}",
            summary(&d)
        );
    }

    #[test]
    fn no_position_no_location() {
        let d = detail("f.mjs", &err(1), None, &["x".into()], None);
        assert_eq!((d.chunk, d.line), (None, None));
        assert_eq!(
            summary(&d),
            "f.mjs failed: relation \"nope\" does not exist (SQLSTATE 42P01)"
        );
    }
}
