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

/// The temporary name beside `path` that its atomic write goes through.
fn temporary_beside(path: &Path) -> std::path::PathBuf {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(format!(".{name}.{}.tmp", std::process::id()))
}

/// `write_atomic` of what `write` streams: a large report is never held whole in memory.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Write;
    let tmp = temporary_beside(path);
    let written = std::fs::File::create(&tmp).and_then(|f| {
        // a large buffer: serde writes a pretty report token by token, each through `dyn Write`
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, f);
        write(&mut out)?;
        out.flush()
    });
    // a full disk leaves no half-written temporary file behind, beside a report or a ledger
    put_in_place(written, &tmp, path)
}

/// `tmp`, once `made`, renamed over `path`; removed when either step failed.
fn put_in_place(made: std::io::Result<()>, tmp: &Path, path: &Path) -> Result<()> {
    made.and_then(|()| std::fs::rename(tmp, path)).map_err(|e| {
        let _ = std::fs::remove_file(tmp);
        Error::io(path, e)
    })
}

/// `path` atomically replaced by the content of `from`, a file already written in full: a hard
/// link where the file system allows one (no bytes copied: a report is 3 MB at 10,000
/// migrations), else a copy. Either way through a temporary name and a rename, so `path` is
/// never seen half-written; later writes of either name replace it by rename, never in place,
/// so the two never change together.
pub fn link_or_copy_atomic(from: &Path, path: &Path) -> Result<()> {
    let tmp = temporary_beside(path);
    let _ = std::fs::remove_file(&tmp);
    let made = std::fs::hard_link(from, &tmp).or_else(|_| std::fs::copy(from, &tmp).map(|_| ()));
    put_in_place(made, &tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The latest report is the attempt's bytes, and a later write of either name (always by
    /// rename) leaves the other as it was: they never change together.
    #[test]
    fn linked_files_hold_the_same_bytes_and_part_on_the_next_write() {
        let dir = std::env::temp_dir().join(format!("godwit-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let (attempt, latest) = (dir.join("attempt.json"), dir.join("latest.json"));
        write_atomic(&latest, b"an older run").expect("older");
        write_atomic(&attempt, b"this run").expect("attempt");
        link_or_copy_atomic(&attempt, &latest).expect("link");
        assert_eq!(std::fs::read(&latest).expect("read"), b"this run");
        write_atomic(&latest, b"the next run").expect("next");
        assert_eq!(std::fs::read(&attempt).expect("read"), b"this run");
        write_atomic(&attempt, b"rewritten").expect("rewrite");
        assert_eq!(std::fs::read(&latest).expect("read"), b"the next run");
        // nothing left behind under a temporary name
        let names: Vec<String> = std::fs::read_dir(&dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // a source that is gone: an error naming the destination, the destination untouched
        let gone = link_or_copy_atomic(&dir.join("missing.json"), &latest).unwrap_err();
        assert!(gone.to_string().contains("latest.json"), "{gone}");
        assert_eq!(std::fs::read(&latest).expect("read"), b"the next run");
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
