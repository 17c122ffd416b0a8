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
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// `write_atomic` of what `write` streams: a large report is never held whole in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&tmp).and_then(|f| {
        let mut out = std::io::BufWriter::new(f);
        write(&mut out)?;
        out.flush()
    });
    if let Err(e) = written {
        // a full disk leaves no half-written temporary file behind, beside a report or a ledger
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}
