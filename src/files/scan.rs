//! The migrations folder on disk: one directory scan, the playbook's filename contract, the
//! deterministic order, and one hashing pass. Everything else works from the `Scan` this returns.
//!
//! Strict by design: sqlx silently skips files it does not recognise; a misnamed migration that
//! never runs is exactly the surprise a deploy must not have, so every stray entry is reported.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::checksum::checksum;
use super::read::Folder;
use crate::error::{Error, Result};
use crate::violation::{Violation, rule};

/// The ledger's file name; the only entry of the folder that is not a migration.
pub const LEDGER_FILE: &str = "checksums.json";
pub const VERSION_DIGITS: usize = 13;

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationFile {
    /// File name, e.g. `1732500000000_add_users.mjs`.
    pub file: String,
    /// The 13-digit version as written (zero-padded), the sort key.
    pub version: String,
    pub name: String,
    /// `checksum::checksum` of the file's bytes.
    pub checksum: String,
}

#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "ScanResult"))]
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scan {
    pub dir: PathBuf,
    /// Files that meet the contract, ordered by version then file name.
    pub migrations: Vec<MigrationFile>,
    pub violations: Vec<Violation>,
    pub ledger_present: bool,
}

/// Why a file name breaks the contract, or its (version, name) parts.
/// The playbook's file contract, verbatim: the one authority on what is a migration file name.
pub const FILENAME_PATTERN: &str = r"^\d{13}_[a-z0-9_]+\.mjs$";

fn filename_regex() -> Option<&'static regex::Regex> {
    static RE: std::sync::LazyLock<Option<regex::Regex>> = std::sync::LazyLock::new(|| {
        // ASCII digits only, as the playbook means (`\d` is Unicode-aware in the regex crate).
        regex::RegexBuilder::new(FILENAME_PATTERN)
            .unicode(false)
            .build()
            .ok()
    });
    RE.as_ref()
}

/// `(version, name)` of a migration file name, or why it is not one. The playbook's pattern
/// decides; `explain_filename` only puts a refusal into words (and stands in for the pattern if
/// it could not be compiled, which a unit test rules out).
pub fn parse_filename(file: &str) -> std::result::Result<(String, String), String> {
    let accepted = match filename_regex() {
        Some(re) => re.is_match(file),
        None => explain_filename(file).is_ok(),
    };
    if accepted {
        // 13 ASCII digits, `_`, the name, `.mjs`: all ASCII, so byte slicing is exact.
        let version = &file[..VERSION_DIGITS];
        let name = &file[VERSION_DIGITS + 1..file.len() - ".mjs".len()];
        return Ok((version.to_string(), name.to_string()));
    }
    Err(match explain_filename(file) {
        Err(why) => why,
        // the words found nothing wrong, yet the pattern refused: say so rather than guess
        Ok(()) => format!("does not match {FILENAME_PATTERN}"),
    })
}

/// Why `file` is not a migration file name, in words (the pattern already said no).
fn explain_filename(file: &str) -> std::result::Result<(), String> {
    let Some(stem) = file.strip_suffix(".mjs") else {
        let ext = file.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
        return Err(if ext.is_empty() {
            "has no extension; migrations are `.mjs` files".to_string()
        } else {
            format!("has extension `.{ext}`; migrations are `.mjs` files only")
        });
    };
    let digits = stem.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &stem[digits..];
    if digits != VERSION_DIGITS {
        return Err(format!(
            "starts with {digits} digits; the version is exactly {VERSION_DIGITS} digits (epoch milliseconds)"
        ));
    }
    let Some(name) = rest.strip_prefix('_') else {
        return Err("needs `_` between the version and the name".to_string());
    };
    if name.is_empty() {
        return Err("has an empty name after the version".to_string());
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return Err(format!(
            "has `{bad}` in its name; names use only a-z, 0-9 and _"
        ));
    }
    Ok(())
}

/// A version as file names carry it: exactly 13 ASCII digits.
pub fn is_version(v: &str) -> bool {
    v.len() == VERSION_DIGITS && v.bytes().all(|b| b.is_ascii_digit())
}

/// The name rule `create` applies: `[a-z0-9_]+`.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A contract-conforming spelling of `name`: `AddUsers` and `add-users` both become `add_users`;
/// a file name given as the name loses its version and extension (`add_users.mjs` -> `add_users`);
/// accented letters keep their base letter (`café` -> `cafe`), not dropped.
pub fn suggest_name(name: &str) -> String {
    let mut name = name.trim();
    for ext in [".mjs", ".js", ".cjs", ".ts", ".sql"] {
        // ASCII lowercasing keeps byte offsets, and an ASCII suffix starts on a char boundary
        if name.len() > ext.len() && name.to_ascii_lowercase().ends_with(ext) {
            name = &name[..name.len() - ext.len()];
            break;
        }
    }
    let digits = name.chars().take_while(char::is_ascii_digit).count();
    if digits == VERSION_DIGITS && name[digits..].starts_with(['_', '-']) {
        name = &name[digits + 1..];
    }
    let mut out = String::new();
    let mut prev_lower_or_digit = false;
    for c in ascii_letters(name).chars() {
        if c.is_ascii_uppercase() {
            if prev_lower_or_digit {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower_or_digit = false;
        } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
            prev_lower_or_digit = true;
        } else {
            if !out.ends_with('_') && !out.is_empty() {
                out.push('_');
            }
            prev_lower_or_digit = false;
        }
    }
    let trimmed = out.trim_matches('_');
    if trimmed.is_empty() {
        "migration".to_string()
    } else {
        trimmed.to_string()
    }
}

/// Latin letters with diacritics as their base letters (canonical decomposition, marks dropped),
/// and the few that do not decompose spelled out.
fn ascii_letters(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let mut out = String::with_capacity(s.len());
    for c in s.nfd() {
        match c {
            '\u{300}'..='\u{36f}' => {}
            'ß' => out.push_str("ss"),
            'æ' | 'Æ' => out.push_str("ae"),
            'œ' | 'Œ' => out.push_str("oe"),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' => out.push('d'),
            'ł' | 'Ł' => out.push('l'),
            'þ' | 'Þ' => out.push_str("th"),
            c => out.push(c),
        }
    }
    out
}

/// A corrected file name for a misnamed entry, when one can be derived.
fn suggest_filename(file: &str) -> Option<String> {
    let stem = file.rsplit_once('.').map(|(s, _)| s).unwrap_or(file);
    let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
    let rest = stem[digits.len()..].trim_start_matches(['_', '-']);
    if digits.len() != VERSION_DIGITS || rest.is_empty() {
        return None;
    }
    Some(format!("{digits}_{}.mjs", suggest_name(rest)))
}

/// A folder entry that is not the ledger: a migration file's `(file, version, name)`, or why it
/// is not one.
fn judge_entry(
    file: String,
    meta: &std::fs::FileType,
) -> std::result::Result<Named, Box<Violation>> {
    if !meta.is_file() {
        let what = if meta.is_dir() {
            "is a folder"
        } else if meta.is_symlink() {
            "is a symbolic link"
        } else {
            "is not a regular file"
        };
        return Err(Box::new(Violation::new(
            &file,
            rule::NOT_A_FILE,
            format!("{what}; the migrations folder holds only migration files and {LEDGER_FILE}"),
            "move it out of the migrations folder (a link would let a migration change outside review)",
        )));
    }
    match parse_filename(&file) {
        Ok((version, name)) => Ok((file, version, name)),
        Err(why) => {
            let hint = match suggest_filename(&file) {
                // another tool's SQL migration: renaming would not make it a module
                _ if file.ends_with(".sql") => "SQL files are another tool's migrations: convert the folder with `godwit import <tool> <source-dir>` (dbmate, golang-migrate, goose, sqlx, diesel, flyway, node-pg-migrate, prisma), or move the file out of the migrations folder".to_string(),
                Some(s) if s != file => format!(
                    "rename it to {s}, or move it out of the migrations folder; names match ^\\d{{13}}_[a-z0-9_]+\\.mjs$"
                ),
                _ => "create migrations with `pnpm db:migrate:create -- <name>`, or move the file out of the migrations folder; names match ^\\d{13}_[a-z0-9_]+\\.mjs$".to_string(),
            };
            Err(Box::new(Violation::new(
                &file,
                rule::FILENAME,
                format!("file name {why}"),
                hint,
            )))
        }
    }
}

/// A hashed file, its text when kept, and the offset of its first non-UTF-8 byte if any.
type Hashed = (MigrationFile, Option<String>, Option<usize>);

/// A migration file's `(file, version, name)`, before it is read.
type Named = (String, String, String);

/// Reads and hashes the migration files on every core, keeping their order: a no-op `up` on
/// 10,000 migrations is mostly this pass. With `keep`, each file's text (when it is UTF-8) is
/// kept for the caller, so `check` does not read every file a second time.
fn hash_all(dir: &Path, files: Vec<Named>, keep: bool) -> Result<Vec<Hashed>> {
    let folder = Folder::open(dir).map_err(|e| Error::io(dir, e))?;
    crate::par::par_map(files, 256, |(file, version, name)| {
        let read = folder.read_with(&file, |bytes| {
            // Node would decode bad bytes as U+FFFD and run SQL nobody wrote: refuse them here.
            let text = std::str::from_utf8(bytes).map_err(|e| e.valid_up_to());
            let bad = text.as_ref().err().copied();
            let kept = if keep {
                text.ok().map(str::to_owned)
            } else {
                None
            };
            (checksum(bytes), kept, bad)
        });
        let (checksum, kept, bad) = read.map_err(|e| Error::io(folder.path_of(&file), e))?;
        let m = MigrationFile {
            checksum,
            file,
            version,
            name,
        };
        Ok((m, kept, bad))
    })
    .into_iter()
    .collect()
}

pub fn scan(dir: &Path) -> Result<Scan> {
    Ok(scan_inner(dir, false)?.0)
}

/// `scan`, also handing back each migration's text (aligned with `migrations`; `None` when the
/// file is not UTF-8, which its import will report).
pub fn scan_keeping_sources(dir: &Path) -> Result<(Scan, Vec<Option<String>>)> {
    scan_inner(dir, true)
}

fn scan_inner(dir: &Path, keep: bool) -> Result<(Scan, Vec<Option<String>>)> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::DirNotFound(dir.to_path_buf()));
        }
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut violations = Vec::new();
    let mut to_hash: Vec<Named> = Vec::new();
    let mut ledger_present = false;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let file = entry.file_name().to_string_lossy().into_owned();
        // The entry's own type (no stat on most file systems), never following a link: a symlink
        // is judged as a link, never followed out of the folder.
        let meta = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if file == LEDGER_FILE {
            if meta.is_file() {
                ledger_present = true;
            } else {
                violations.push(Violation::new(
                    &file,
                    rule::NOT_A_FILE,
                    "the ledger is not a regular file",
                    "replace it with the checksums.json file from version control",
                ));
            }
            continue;
        }
        match judge_entry(file, &meta) {
            Ok(named) => to_hash.push(named),
            Err(v) => violations.push(*v),
        }
    }
    // Sorted before hashing (the parallel pass keeps the order): the tuples are half the size
    // of what comes out, and file names are unique in a folder, so an unstable sort is exact.
    to_hash.sort_unstable_by(in_order);
    let hashed = hash_all(dir, to_hash, keep)?;
    let mut migrations = Vec::with_capacity(hashed.len());
    let mut sources = Vec::with_capacity(hashed.len());
    for (m, source, bad_utf8_at) in hashed {
        if let Some(offset) = bad_utf8_at {
            violations.push(Violation::new(
                &m.file,
                rule::ENCODING,
                format!("is not valid UTF-8 (the first bad byte is at offset {offset})"),
                "save the file as UTF-8; Node would otherwise read the bad bytes as U+FFFD and run SQL nobody wrote",
            ));
        }
        migrations.push(m);
        sources.push(source);
    }
    violations.extend(duplicate_versions(&migrations));
    violations.sort_by(|a, b| a.file.cmp(&b.file).then(a.rule.cmp(&b.rule)));
    let scan = Scan {
        dir: dir.to_path_buf(),
        migrations,
        violations,
        ledger_present,
    };
    Ok((scan, sources))
}

/// Version order; the file name breaks ties so the order never depends on the directory listing.
fn in_order(a: &Named, b: &Named) -> std::cmp::Ordering {
    let ((file_a, version_a, _), (file_b, version_b, _)) = (a, b);
    version_a.cmp(version_b).then_with(|| file_a.cmp(file_b))
}

/// One violation per file that shares its version with another; `migrations` in version order
/// (as `scan` gives them), so files with the same version are neighbours.
fn duplicate_versions(migrations: &[MigrationFile]) -> Vec<Violation> {
    debug_assert!(migrations.is_sorted_by_key(|m| &m.version));
    let mut out = Vec::new();
    for same in migrations.chunk_by(|a, b| a.version == b.version) {
        if same.len() < 2 {
            continue;
        }
        for m in same {
            let others: Vec<&str> = same
                .iter()
                .filter(|o| o.file != m.file)
                .map(|o| o.file.as_str())
                .collect();
            out.push(Violation::new(
                &m.file,
                rule::DUPLICATE_VERSION,
                format!("version {} is also used by {}", m.version, others.join(", ")),
                "versions must be unique: re-create the newer one with `pnpm db:migrate:create -- <name>` and move its SQL there",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_contract() {
        assert_eq!(
            parse_filename("1732500000000_add_users.mjs"),
            Ok(("1732500000000".into(), "add_users".into()))
        );
        assert!(parse_filename("0000000000000_a.mjs").is_ok());
        assert!(parse_filename("1732500000000_v2_x9.mjs").is_ok());
    }

    #[test]
    fn rejects_each_way_of_breaking_it() {
        let cases = [
            ("173250000000_add.mjs", "12 digits"),
            ("17325000000000_add.mjs", "14 digits"),
            ("1732500000000_AddUsers.mjs", "`A`"),
            ("1732500000000_add-users.mjs", "`-`"),
            ("1732500000000_add users.mjs", "` `"),
            ("1732500000000_add.js", "`.js`"),
            ("1732500000000_add.sql", "`.sql`"),
            ("1732500000000_add.ts", "`.ts`"),
            ("1732500000000_add.MJS", "`.MJS`"),
            ("1732500000000add.mjs", "`_`"),
            ("1732500000000_.mjs", "empty name"),
            ("README", "no extension"),
            (".gitkeep", "`.gitkeep`"),
        ];
        for (file, why) in cases {
            let err = parse_filename(file).expect_err(file);
            assert!(err.contains(why), "{file}: {err}");
        }
    }

    #[test]
    fn suggests_snake_case() {
        assert_eq!(suggest_name("AddUsers"), "add_users");
        assert_eq!(suggest_name("add-users"), "add_users");
        assert_eq!(suggest_name("Add Users Table"), "add_users_table");
        assert_eq!(suggest_name("addV2Index"), "add_v2_index");
        assert_eq!(suggest_name("---"), "migration");
        // a file name given as the name, accents, letters that do not decompose
        assert_eq!(suggest_name("add_users.mjs"), "add_users");
        assert_eq!(suggest_name("1732500000000_add_users.mjs"), "add_users");
        assert_eq!(suggest_name("AddUsers.SQL"), "add_users");
        assert_eq!(suggest_name("café"), "cafe");
        assert_eq!(suggest_name("Übersicht_Straße"), "ubersicht_strasse");
        assert_eq!(suggest_name("ørsted łódź"), "orsted_lodz");
        assert_eq!(suggest_name("日本"), "migration");
        assert!(is_valid_name("add_users"));
        assert!(!is_valid_name("AddUsers"));
        assert!(!is_valid_name(""));
        assert_eq!(
            suggest_filename("1732500000000_Add-Users.js").as_deref(),
            Some("1732500000000_add_users.mjs")
        );
        assert_eq!(suggest_filename("173250000000_add.mjs"), None);
    }

    fn mf(file: &str) -> MigrationFile {
        let (version, name) = parse_filename(file).unwrap();
        MigrationFile {
            file: file.into(),
            version,
            name,
            checksum: String::new(),
        }
    }

    fn named(file: &str) -> Named {
        let (version, name) = parse_filename(file).unwrap();
        (file.into(), version, name)
    }

    #[test]
    fn order_is_by_version_then_name() {
        let mut v = [
            named("1700000000002_b.mjs"),
            named("1700000000001_z.mjs"),
            named("1700000000002_a.mjs"),
            named("0999999999999_first.mjs"),
        ];
        v.sort_unstable_by(in_order);
        let files: Vec<_> = v.iter().map(|(f, ..)| f.as_str()).collect();
        assert_eq!(
            files,
            [
                "0999999999999_first.mjs",
                "1700000000001_z.mjs",
                "1700000000002_a.mjs",
                "1700000000002_b.mjs"
            ]
        );
    }

    #[test]
    fn duplicate_versions_name_every_other_file_of_the_version() {
        let v = vec![
            mf("1700000000001_x.mjs"),
            mf("1700000000002_a.mjs"),
            mf("1700000000002_b.mjs"),
            mf("1700000000002_c.mjs"),
            mf("1700000000003_y.mjs"),
            mf("1700000000004_p.mjs"),
            mf("1700000000004_q.mjs"),
        ];
        let d = duplicate_versions(&v);
        let got: Vec<(&str, &str)> = d
            .iter()
            .map(|v| (v.file.as_str(), v.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                (
                    "1700000000002_a.mjs",
                    "version 1700000000002 is also used by 1700000000002_b.mjs, 1700000000002_c.mjs"
                ),
                (
                    "1700000000002_b.mjs",
                    "version 1700000000002 is also used by 1700000000002_a.mjs, 1700000000002_c.mjs"
                ),
                (
                    "1700000000002_c.mjs",
                    "version 1700000000002 is also used by 1700000000002_a.mjs, 1700000000002_b.mjs"
                ),
                (
                    "1700000000004_p.mjs",
                    "version 1700000000004 is also used by 1700000000004_q.mjs"
                ),
                (
                    "1700000000004_q.mjs",
                    "version 1700000000004 is also used by 1700000000004_p.mjs"
                ),
            ]
        );
    }

    #[test]
    fn duplicate_versions_name_both_files() {
        let v = vec![
            mf("1700000000002_a.mjs"),
            mf("1700000000002_b.mjs"),
            mf("1700000000003_c.mjs"),
        ];
        let d = duplicate_versions(&v);
        assert_eq!(d.len(), 2);
        assert!(d[0].message.contains("1700000000002_b.mjs"));
        assert!(d[1].message.contains("1700000000002_a.mjs"));
    }
}
