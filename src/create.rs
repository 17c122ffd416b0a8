//! `create`: a new migration file from the template, sealed into the ledger in the same step.
//! Versions are epoch milliseconds, bumped past the newest existing version, and the file is
//! opened with create-new semantics: two creates never collide and nothing is overwritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::checksum::checksum;
use crate::files::ledger::{
    FolderLock, Ledger, LedgerProblem, LedgerState, read_ledger, write_ledger,
};
use crate::files::scan::{self as source, VERSION_DIGITS, is_valid_name, suggest_name};

#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Created {
    pub file: String,
    pub path: String,
    pub version: String,
    pub checksum: String,
}

/// The next version: `now_ms`, or one past the newest existing version when that is not older.
pub fn next_version(now_ms: u64, newest: Option<u64>) -> u64 {
    match newest {
        Some(n) if n >= now_ms => n + 1,
        _ => now_ms,
    }
}

pub fn template(file: &str, name: &str) -> String {
    format!(
        r#"// {file}
// Migration `{name}`. Keep it small and single-purpose, additive first. Once merged this file
// is immutable: fix forward with a new migration (`pnpm db:migrate:create -- <name>`).

/**
 * The SQL to apply: a string, an array of strings, or a (async) function returning either.
 * @type {{import('godwit').MigrationSql}}
 */
export const up = `
  -- CREATE TABLE widgets (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL);
`;

// Optional, for local development only: production rolls forward (restore + redeploy).
// /** @type {{import('godwit').MigrationSql}} */
// export const down = `DROP TABLE widgets;`;

// Optional settings for this migration alone.
// /** @type {{import('godwit').MigrationConfig}} */
// export const config = {{
//   transaction: false, // for CREATE INDEX CONCURRENTLY and the like; then exactly one statement
//   lockTimeout: '5s',
//   statementTimeout: '15min',
// }};
"#
    )
}

pub fn create(dir: &Path, name: &str, now_ms: u64) -> Result<Created> {
    if !is_valid_name(name) {
        return Err(Error::InvalidName(format!(
            "`{name}` is not a valid migration name: names use only a-z, 0-9 and _ (try `{}`)",
            suggest_name(name)
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    // Held until the ledger is written: the version chosen below is then newer than every file
    // another create wrote, and no create loses another's ledger entry.
    let _lock = FolderLock::acquire(dir)?;
    // Refuse before writing anything: the new file would otherwise exist without a ledger entry.
    let mut ledger = match read_ledger(dir)? {
        LedgerState::Absent => Ledger::default(),
        LedgerState::Read(p) => p.ledger,
        LedgerState::Problem(LedgerProblem::Corrupt(why))
        | LedgerState::Problem(LedgerProblem::UnknownFormat(why)) => {
            return Err(Error::LedgerInvalid(format!(
                "{}: cannot be read ({why}); restore it from version control, then create again",
                dir.join(source::LEDGER_FILE).display()
            )));
        }
    };
    let scan = source::scan(dir)?;
    let newest = scan
        .migrations
        .iter()
        .filter_map(|m| m.version.parse::<u64>().ok())
        .chain(
            ledger
                .entries
                .keys()
                .filter_map(|f| source::parse_filename(f).ok()?.0.parse().ok()),
        )
        .max();
    let mut version = next_version(now_ms, newest);
    // create_new: if another create won the race for this version, take the next one.
    for _ in 0..100 {
        let v = format!("{version:0width$}", width = VERSION_DIGITS);
        if v.len() != VERSION_DIGITS {
            return Err(Error::Internal(format!(
                "version {v} has more than {VERSION_DIGITS} digits"
            )));
        }
        let file = format!("{v}_{name}.mjs");
        let path: PathBuf = dir.join(&file);
        let text = template(&file, name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut f) => {
                // flushed before the ledger names it: the ledger is flushed (with the folder,
                // which also makes this file's name last), and must never outlive the bytes
                // it seals
                f.write_all(text.as_bytes())
                    .and_then(|()| f.sync_all())
                    .map_err(|e| Error::io(&path, e))?;
                let sum = checksum(text.as_bytes());
                ledger.entries.insert(file.clone(), sum.clone());
                write_ledger(dir, &ledger)?;
                return Ok(Created {
                    file,
                    path: path.display().to_string(),
                    version: v,
                    checksum: sum,
                });
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => version += 1,
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::Internal(
        "could not find a free version after 100 tries".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_is_now_or_past_the_newest() {
        assert_eq!(next_version(1000, None), 1000);
        assert_eq!(next_version(1000, Some(999)), 1000);
        assert_eq!(next_version(1000, Some(1000)), 1001);
        assert_eq!(next_version(1000, Some(5000)), 5001);
    }

    #[test]
    fn template_is_a_module_with_up_and_commented_down_and_config() {
        let t = template("1700000000000_add_widgets.mjs", "add_widgets");
        assert!(t.contains("export const up = `"));
        assert!(t.contains("// export const down"));
        assert!(t.contains("// export const config"));
        assert!(t.contains("@type {import('godwit').MigrationSql}"));
    }
}
