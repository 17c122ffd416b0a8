//! `import`: another tool's migrations become godwit migrations. Data flows one way: the source
//! folder is read (`Listing`), each tool's format parsed (`formats`), each source made fit for
//! godwit's runner (`module::pieces`), versions mapped (`version`), and only when every step
//! found nothing wrong are the files written, with create-new semantics, into an empty folder,
//! then sealed into the ledger. A refusal lists every problem and writes nothing.

pub mod formats;
pub mod module;
pub mod tool;
pub mod version;

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::files::checksum::checksum;
use crate::files::ledger::{FolderLock, Ledger, LedgerState, read_ledger, write_ledger};
use crate::files::scan::{self, LEDGER_FILE};

use formats::Listing;
use module::Piece;
use tool::Tool;

#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ImportedFile {
    pub file: String,
    pub version: String,
    /// The id the source tool's history records for it.
    pub id: String,
    pub from: Vec<String>,
    /// `[part, of]` when a non-transactional source was split one statement each.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub part: Option<(usize, usize)>,
}

/// What `import` did: the mapping from source ids to godwit files, and what changed on the way.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Imported {
    pub tool: String,
    pub source: String,
    pub dir: String,
    pub migrations: Vec<ImportedFile>,
    /// The newest imported version: the project's `baseline` (legacy history up to it).
    pub baseline: String,
    pub notes: Vec<String>,
}

/// The source folder: its files, and those of its folders one level down.
fn listing(source: &Path) -> Result<Listing> {
    let mut l = Listing::default();
    let entries = match std::fs::read_dir(source) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::ImportInvalid(format!(
                "the source folder {} does not exist; pass the folder that holds the tool's migrations",
                source.display()
            )));
        }
        Err(e) => return Err(Error::io(source, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(source, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            for inner in std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
                let inner = inner.map_err(|e| Error::io(&path, e))?;
                let p = inner.path();
                if p.is_file() {
                    let rel = format!("{name}/{}", inner.file_name().to_string_lossy());
                    l.files
                        .insert(rel, std::fs::read(&p).map_err(|e| Error::io(&p, e))?);
                }
            }
            l.dirs.insert(name);
        } else {
            l.files
                .insert(name, std::fs::read(&path).map_err(|e| Error::io(&path, e))?);
        }
    }
    Ok(l)
}

/// Everything `import` will write, or every reason it will not.
pub struct Prepared {
    pub files: Vec<(ImportedFile, String)>,
    pub notes: Vec<String>,
}

/// Pure: the files a listing becomes, or every problem.
pub fn prepare(tool: Tool, l: &Listing) -> std::result::Result<Prepared, Vec<String>> {
    let (sources, mut problems) = formats::read(tool, l);
    let mut notes = Vec::new();
    let pieces: Vec<Vec<Piece>> = sources
        .iter()
        .map(|s| module::pieces(tool, s, &mut problems, &mut notes))
        .collect();
    let labels: Vec<String> = sources.iter().map(|s| s.origin.join("+")).collect();
    let slots: Vec<version::Slot> = sources
        .iter()
        .zip(&pieces)
        .zip(&labels)
        .map(|((s, p), label)| version::Slot {
            label,
            instant: version::instant(&s.version.replace('-', "")),
            parts: p.len(),
        })
        .collect();
    let versions = version::assign(&slots).unwrap_or_else(|p| {
        problems.extend(p);
        Vec::new()
    });
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut files = Vec::new();
    for (ps, vs) in pieces.iter().zip(&versions) {
        for (p, v) in ps.iter().zip(vs) {
            let file = format!("{v}_{}.mjs", p.name);
            if let Err(why) = scan::parse_filename(&file) {
                return Err(vec![format!("{}: {why}", file)]);
            }
            files.push((
                ImportedFile {
                    file,
                    version: v.clone(),
                    id: p.header.id.clone(),
                    from: p.header.from.clone(),
                    part: p.header.part,
                },
                module::render(p),
            ));
        }
    }
    Ok(Prepared { files, notes })
}

/// Problem lines for a message: all of them up to 50, then a count.
fn listed(problems: &[String]) -> String {
    const SHOWN: usize = 50;
    let mut lines: Vec<String> = problems.iter().take(SHOWN).cloned().collect();
    if problems.len() > SHOWN {
        lines.push(format!("... and {} more", problems.len() - SHOWN));
    }
    lines.join("\n  ")
}

/// Converts `source` (a `tool` migrations folder) into godwit migrations in `dir`.
pub fn import(dir: &Path, tool: Tool, source: &Path) -> Result<Imported> {
    let l = listing(source)?;
    let mut prepared = prepare(tool, &l).map_err(|p| {
        Error::ImportInvalid(format!(
            "{} cannot be imported as {} migrations ({} problem(s)); nothing was written:\n  {}",
            source.display(),
            tool.name(),
            p.len(),
            listed(&p)
        ))
    })?;
    if dir.exists() {
        let existing = scan::scan(dir)?;
        let ledger_entries = match read_ledger(dir)? {
            LedgerState::Read(p) => p.ledger.entries.len(),
            _ => 0,
        };
        let stray = existing.violations.len();
        if !existing.migrations.is_empty() || ledger_entries > 0 || stray > 0 {
            return Err(Error::ImportInvalid(format!(
                "{} already holds {} migration(s), {} ledger entr(ies) and {stray} other file(s); import writes into an empty migrations folder (pass --dir <new folder>); nothing was written",
                dir.display(),
                existing.migrations.len(),
                ledger_entries
            )));
        }
    }
    crate::files::create_folder(dir, crate::files::Durability::Synced)?;
    let _lock = FolderLock::acquire(dir)?;
    let mut ledger = Ledger::default();
    let mut written = Vec::new();
    let result = (|| -> Result<()> {
        for (f, text) in &prepared.files {
            let path = dir.join(&f.file);
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| Error::io(&path, e))?;
            written.push(path.clone());
            // flushed before the ledger (flushed, with the folder) seals it, as `create` does
            out.write_all(text.as_bytes())
                .and_then(|()| out.sync_all())
                .map_err(|e| Error::io(&path, e))?;
            ledger
                .entries
                .insert(f.file.clone(), checksum(text.as_bytes()));
        }
        write_ledger(dir, &ledger)
    })();
    if let Err(e) = result {
        // nothing half-done: the files of this import go again (the folder was empty)
        for p in &written {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_file(dir.join(LEDGER_FILE));
        return Err(e);
    }
    let migrations: Vec<ImportedFile> = prepared.files.drain(..).map(|(f, _)| f).collect();
    Ok(Imported {
        tool: tool.name().into(),
        source: source.display().to_string(),
        dir: dir.display().to_string(),
        baseline: migrations
            .last()
            .map(|m| m.version.clone())
            .unwrap_or_default(),
        migrations,
        notes: prepared.notes,
    })
}

#[cfg(test)]
mod tests {
    use super::formats::tests::listing;
    use super::*;

    #[test]
    fn a_dbmate_folder_becomes_sealed_godwit_migrations_in_order() {
        let tmp = std::env::temp_dir().join(format!("godwit-import-{}", std::process::id()));
        let src = tmp.join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("20230102030405_create_users.sql"),
            "-- migrate:up\nCREATE TABLE users (id int);\n-- migrate:down\nDROP TABLE users;\n",
        )
        .unwrap();
        std::fs::write(
            src.join("20230102030406_add_index.sql"),
            "-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY users_id ON users (id);\n",
        )
        .unwrap();
        let dir = tmp.join("db/migrations");
        let got = import(&dir, Tool::Dbmate, &src).unwrap();
        let files: Vec<&str> = got.migrations.iter().map(|m| m.file.as_str()).collect();
        assert_eq!(
            files,
            [
                "1672628645000_create_users.mjs",
                "1672628646000_add_index.mjs"
            ]
        );
        assert_eq!(got.baseline, "1672628646000");
        let scan = scan::scan(&dir).unwrap();
        assert!(scan.violations.is_empty(), "{:?}", scan.violations);
        assert!(scan.ledger_present);
        let text = std::fs::read_to_string(dir.join(files[1])).unwrap();
        assert_eq!(module::header(&text).unwrap().id, "20230102030406");
        // a second import into the same folder is refused and writes nothing
        let e = import(&dir, Tool::Dbmate, &src).unwrap_err();
        assert_eq!(e.code(), crate::error::Code::ImportInvalid);
        assert!(
            e.to_string().contains("already holds 2 migration(s)"),
            "{e}"
        );
        std::fs::remove_dir_all(&tmp).unwrap();
    }

    #[test]
    fn every_problem_is_listed_and_nothing_is_prepared() {
        let l = listing(&[
            ("V1__a.sql", "CREATE TABLE a ();"),
            ("R__views.sql", "CREATE VIEW v AS SELECT 1;"),
            (
                "V2__b.sql",
                "CREATE TABLE b ();\nCOMMIT;\nCREATE TABLE c ();",
            ),
            ("notes.txt", "x"),
        ]);
        let p = prepare(Tool::Flyway, &l).err().unwrap();
        assert_eq!(p.len(), 3, "{p:?}");
    }

    #[test]
    fn flyway_sequences_keep_their_numeric_order() {
        let l = listing(&[
            ("V1__a.sql", "SELECT 1;"),
            ("V1.1__b.sql", "SELECT 1;"),
            ("V2__c.sql", "SELECT 1;"),
            ("V10__d.sql", "SELECT 1;"),
        ]);
        let p = prepare(Tool::Flyway, &l).ok().unwrap();
        let v: Vec<(&str, &str)> = p
            .files
            .iter()
            .map(|(f, _)| (f.id.as_str(), f.version.as_str()))
            .collect();
        assert_eq!(
            v,
            [
                ("1", "1000000001000"),
                ("1.1", "1000000002000"),
                ("2", "1000000003000"),
                ("10", "1000000004000")
            ]
        );
    }
}
