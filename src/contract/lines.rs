//! Where a finding in rendered SQL is in the migration file: when the SQL is written in the file
//! literally (a template or string literal without escapes), its line there; otherwise the SQL
//! location stays the guide. `check` findings and `up` failures both point at file lines.

use crate::contract::sql::line_of;
use crate::violation::Violation;

/// Points SQL findings at lines of the migration file when the SQL is written there literally
/// (a template or string literal without escapes); otherwise the SQL location stays the guide.
pub fn file_lines(
    source: &str,
    up: &[String],
    down: Option<&[String]>,
    violations: &mut [Violation],
) {
    // Where each SQL string starts in the file, looked up once per string (many findings can
    // point into one long string).
    let mut starts: std::collections::HashMap<(&str, usize), Option<u32>> = Default::default();
    for v in violations.iter_mut() {
        let Some(at) = &v.sql else { continue };
        let first_line = *starts.entry((at.part, at.chunk)).or_insert_with(|| {
            let chunks = if at.part == "up" { Some(up) } else { down };
            let text = chunks.and_then(|c| c.get(at.chunk))?;
            let start = (!text.is_empty())
                .then(|| source.find(text.as_str()))
                .flatten()?;
            Some(line_of(source, start))
        });
        if let Some(first) = first_line {
            v.line = Some(first + at.line - 1);
        }
    }
}

/// The file line of `line` (1-based) of SQL string `text`, when `text` is written literally in
/// `source`.
pub fn file_line(source: &str, text: &str, line: u32) -> Option<u32> {
    let start = (!text.is_empty()).then(|| source.find(text)).flatten()?;
    Some(line_of(source, start) + line - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::modules::MigrationConfig;
    use crate::policy::{Policy, lint};

    fn cfg(transaction: bool) -> MigrationConfig {
        MigrationConfig {
            transaction,
            ..Default::default()
        }
    }

    #[test]
    fn file_lines_follow_literal_sql() {
        let src = "export const up = `\nCREATE TABLE a (id int);\nCREATE INDEX i ON t (c);\n`\n";
        let up = vec!["\nCREATE TABLE a (id int);\nCREATE INDEX i ON t (c);\n".to_string()];
        let (mut v, _) = lint("f.mjs", &up, None, &cfg(true), &Policy::default());
        file_lines(src, &up, None, &mut v);
        let idx = v
            .iter()
            .find(|v| v.rule == "require-concurrent-index-creation")
            .unwrap();
        assert_eq!((idx.sql.as_ref().unwrap().line, idx.line), (3, Some(3)));
    }

    #[test]
    fn a_line_of_literal_sql_maps_into_the_file() {
        let src = "// header\nexport const up = `\nSELECT 1;\nSELECT oops;\n`\n";
        assert_eq!(file_line(src, "\nSELECT 1;\nSELECT oops;\n", 3), Some(4));
        assert_eq!(file_line(src, "rendered elsewhere", 1), None);
    }
}
