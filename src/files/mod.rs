//! The migrations folder and what is read from disk or git: the scan and the filename contract,
//! reading the folder's files, the pinned checksum, the ledger (its format, its storage, the
//! folder lock) and the git base.

pub mod base;
pub mod checksum;
pub mod ledger;
pub mod read;
pub mod scan;

pub use scan::{LEDGER_FILE, MigrationFile};

use std::path::Path;

use crate::error::{Error, Result};

/// Write-then-rename in the same folder, so a crash never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    if let Err(e) = std::fs::write(&tmp, bytes) {
        // a full disk leaves no half-written temporary file behind, beside a report or a ledger
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
