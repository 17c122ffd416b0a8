//! The ledger in the folder: read strictly (a folder, a link or a device under its name is never
//! followed), written atomically (write, then rename), never over a ledger that could not be read.

use std::path::Path;

use super::format::{self, Ledger, LedgerProblem, Parsed};
use crate::error::{Error, Result};
use crate::files::LEDGER_FILE;

pub enum LedgerState {
    Absent,
    Problem(LedgerProblem),
    Read(Parsed),
}

pub fn read_ledger(dir: &Path) -> Result<LedgerState> {
    let path = dir.join(LEDGER_FILE);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if !meta.is_file() => {
            return Ok(LedgerState::Problem(LedgerProblem::Corrupt(
                "checksums.json is not a regular file".into(),
            )));
        }
        _ => {}
    }
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(LedgerState::Absent),
        Err(e) => Err(Error::io(path, e)),
        Ok(bytes) => match String::from_utf8(bytes) {
            Err(_) => Ok(LedgerState::Problem(LedgerProblem::Corrupt(
                "the file is not UTF-8 text".into(),
            ))),
            Ok(text) => Ok(match format::parse(&text) {
                Ok(p) => LedgerState::Read(p),
                Err(problem) => LedgerState::Problem(problem),
            }),
        },
    }
}

/// Write-then-rename, so a crash never leaves a half-written ledger, and flushed: the ledger is
/// rewritten with every new migration, and one lost to a power cut would fail `check` on a file
/// that did nothing wrong.
pub fn write_ledger(dir: &Path, l: &Ledger) -> Result<()> {
    crate::files::write_atomic(
        &dir.join(LEDGER_FILE),
        format::render(l).as_bytes(),
        crate::files::Durability::Synced,
    )
}
