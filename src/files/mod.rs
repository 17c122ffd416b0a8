//! The migrations folder and what is read from disk or git: the scan and the filename contract,
//! reading the folder's files, the pinned checksum, the ledger (its format, its storage, the
//! folder lock) and the git base; and the one way godwit writes a file (here, for the core, and
//! through `writeFileSynced` for Node): a temporary name and a rename, flushed where it must
//! survive a power cut.

pub mod base;
pub mod checksum;
pub mod ledger;
pub mod read;
pub mod scan;

pub use scan::{LEDGER_FILE, MigrationFile};

use std::path::Path;

use crate::error::{Error, Result};

/// How far a write reaches before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Renamed into place: no reader and no crashed process ever sees half a file, but a host
    /// that loses power soon after may come back with the old file or an empty one (the bytes
    /// were still only in the page cache).
    Renamed,
    /// Also flushed to the disk: the file's bytes before the rename and, on Unix, the folder's
    /// entry after it (and the entries of folders made for it). Once the call returns, the new
    /// file survives a power loss.
    Synced,
}

/// Write-then-rename in the same folder, so a crash never leaves a half-written file.
pub fn write_atomic(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    write_atomic_with(path, durability, |w| w.write_all(bytes))
}

/// `write_atomic`, its folder made first when missing.
pub fn put(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_folder(dir, durability)?;
    }
    write_atomic(path, bytes, durability)
}

/// The temporary name beside `path` that its atomic write goes through.
fn temporary_beside(path: &Path) -> std::path::PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    folder_of(path).join(format!(".{name}.{}.tmp", std::process::id()))
}

fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// `write_atomic` of what `write` streams: a large report is never held whole in memory.
pub fn write_atomic_with(
    path: &Path,
    durability: Durability,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<()> {
    let tmp = temporary_beside(path);
    let written = create_fresh(&tmp).and_then(|f| {
        // a large buffer: serde writes a pretty report token by token, each through `dyn Write`
        let mut out = std::io::BufWriter::with_capacity(64 * 1024, f);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        // the bytes reach the disk before the name does: a rename the disk kept, over bytes it
        // lost, is the empty file this exists to prevent
        if durability == Durability::Synced {
            file.sync_all()?;
        }
        Ok(())
    });
    // a full disk leaves no half-written temporary file behind, beside a report or a ledger
    put_in_place(written, &tmp, path, durability)
}

/// A new file at `tmp`, never an old one reused: whatever is there (a temporary file a crashed
/// run with the same process id left, as a container's few pids recur; a symbolic link planted
/// to make a run as root overwrite another file) is removed, and the file is created exclusively,
/// so a link is never followed and nothing but this write lands in it.
fn create_fresh(tmp: &Path) -> std::io::Result<std::fs::File> {
    let _ = std::fs::remove_file(tmp);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(tmp)
}

/// `tmp`, once `made`, renamed over `path`; removed when either step failed.
fn put_in_place(
    made: std::io::Result<()>,
    tmp: &Path,
    path: &Path,
    durability: Durability,
) -> Result<()> {
    put_in_place_with(made, tmp, path, durability, sync_folder)
}

/// `put_in_place` with the folder's flush given (a test makes it fail as a failing disk does).
fn put_in_place_with(
    made: std::io::Result<()>,
    tmp: &Path,
    path: &Path,
    durability: Durability,
    sync: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<()> {
    made.and_then(|()| std::fs::rename(tmp, path))
        .map_err(|e| {
            let _ = std::fs::remove_file(tmp);
            Error::io(path, e)
        })?;
    if durability == Durability::Synced {
        // still a failure (what was promised is a file that survives a power loss), but not a
        // missing file: the error says the file is there, so nobody goes looking for lost bytes
        sync(folder_of(path)).map_err(|e| {
            let kind = e.kind();
            Error::io(
                path,
                std::io::Error::new(
                    kind,
                    format!(
                        "written and in place, but flushing its folder to the disk failed ({e}), \
                         so whether it survives a power loss is not known"
                    ),
                ),
            )
        })?;
    }
    Ok(())
}

/// `path` atomically replaced by the content of `from`, a file already written in full (and
/// synced, when `durability` asks it): a hard link where the file system allows one (no bytes
/// copied: a report is 3 MB at 10,000 migrations), else a copy. Either way through a temporary
/// name and a rename, so `path` is never seen half-written; later writes of either name replace
/// it by rename, never in place, so the two never change together.
pub fn link_or_copy_atomic(from: &Path, path: &Path, durability: Durability) -> Result<()> {
    let tmp = temporary_beside(path);
    let _ = std::fs::remove_file(&tmp);
    let made = std::fs::hard_link(from, &tmp).or_else(|_| copy_fresh(from, &tmp, durability));
    put_in_place(made, &tmp, path, durability)
}

/// `from`'s bytes in a new file at `tmp`, created exclusively like every other write's
/// temporary file (`std::fs::copy` would open whatever is at `tmp`, following a link planted
/// there after the failed hard link and writing through it).
fn copy_fresh(from: &Path, tmp: &Path, durability: Durability) -> std::io::Result<()> {
    let mut out = create_fresh(tmp)?;
    std::io::copy(&mut std::fs::File::open(from)?, &mut out)?;
    if durability == Durability::Synced {
        // a copy is new bytes; a link shares the synced ones
        out.sync_all()?;
    }
    Ok(())
}

/// `dir` and any missing folder above it made; when `Synced`, each new folder's entry flushed
/// in the folder that holds it (a new sha's report folder would otherwise outlive a power loss
/// only by luck of the file system's journal).
pub fn create_folder(dir: &Path, durability: Durability) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !at.as_os_str().is_empty() && !at.is_dir() {
        missing.push(at);
        match at.parent() {
            Some(up) => at = up,
            None => break,
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    if durability == Durability::Synced {
        // outermost first: each holder is complete before what it holds is flushed
        for made in missing.iter().rev() {
            sync_folder(folder_of(made)).map_err(|e| Error::io(made, e))?;
        }
    }
    Ok(())
}

/// Flushes a folder's entries (what a rename or a new file changed in it). A file system that
/// cannot flush a folder (some network and FUSE ones refuse) is not an error: the file's own
/// bytes were flushed, and there is nothing more to ask of it. Windows has no such call for a
/// folder (NTFS journals its entries), so there it does nothing.
#[cfg(unix)]
fn sync_folder(dir: &Path) -> std::io::Result<()> {
    use std::io::ErrorKind;
    match std::fs::File::open(dir).and_then(|d| d.sync_all()) {
        Err(e)
            if matches!(
                e.kind(),
                ErrorKind::InvalidInput | ErrorKind::Unsupported | ErrorKind::PermissionDenied
            ) =>
        {
            Ok(())
        }
        other => other,
    }
}

#[cfg(not(unix))]
fn sync_folder(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh, empty folder of this test's own.
    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("godwit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        std::fs::read_dir(dir)
            .expect("list")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Folders made on the way are made whole; a write, synced or not, leaves the bytes and no
    /// temporary file; a path whose folder is a file fails naming it.
    #[test]
    fn put_makes_its_folders_and_writes_either_way() {
        let dir = scratch("put");
        let deep = dir.join("a").join("b").join("report.json");
        put(&deep, b"synced", Durability::Synced).expect("synced");
        assert_eq!(std::fs::read(&deep).expect("read"), b"synced");
        put(&deep, b"renamed", Durability::Renamed).expect("renamed");
        assert_eq!(std::fs::read(&deep).expect("read"), b"renamed");
        assert_eq!(names(deep.parent().expect("folder")), ["report.json"]);
        let blocked = put(&deep.join("under-a-file.json"), b"x", Durability::Synced).unwrap_err();
        assert!(blocked.to_string().contains("report.json"), "{blocked}");
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    /// A link planted at the temporary name is not followed (its target keeps its bytes), and a
    /// stale temporary file of a crashed run with the same pid does not stop the write.
    #[cfg(unix)]
    #[test]
    fn a_planted_link_or_a_stale_file_at_the_temporary_name_is_replaced_not_followed() {
        let dir = scratch("plant");
        let (ledger, victim) = (dir.join("checksums.json"), dir.join("victim"));
        std::fs::write(&victim, b"not godwit's").expect("victim");
        std::os::unix::fs::symlink(&victim, temporary_beside(&ledger)).expect("plant");
        write_atomic(&ledger, b"{}", Durability::Synced).expect("write");
        assert_eq!(std::fs::read(&victim).expect("read"), b"not godwit's");
        assert_eq!(std::fs::read(&ledger).expect("read"), b"{}");
        std::fs::write(temporary_beside(&ledger), b"a crashed run's").expect("stale");
        write_atomic(&ledger, b"{\"a\":1}", Durability::Renamed).expect("write");
        assert_eq!(std::fs::read(&ledger).expect("read"), b"{\"a\":1}");
        assert!(!temporary_beside(&ledger).exists());
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    /// The copy a file system without hard links gets does not follow a link planted at its
    /// temporary name (its target keeps its bytes) and replaces a stale file there.
    #[cfg(unix)]
    #[test]
    fn the_copy_fallback_replaces_a_planted_link_without_following_it() {
        let dir = scratch("copy");
        let (from, latest, victim) = (
            dir.join("attempt.json"),
            dir.join("latest.json"),
            dir.join("victim"),
        );
        std::fs::write(&from, b"this run").expect("from");
        std::fs::write(&victim, b"not godwit's").expect("victim");
        let tmp = temporary_beside(&latest);
        std::os::unix::fs::symlink(&victim, &tmp).expect("plant");
        copy_fresh(&from, &tmp, Durability::Synced).expect("copy");
        assert_eq!(std::fs::read(&victim).expect("read"), b"not godwit's");
        assert_eq!(std::fs::read(&tmp).expect("read"), b"this run");
        assert!(
            !std::fs::symlink_metadata(&tmp)
                .expect("meta")
                .file_type()
                .is_symlink()
        );
        std::fs::write(&tmp, b"a crashed run's longer leftover").expect("stale");
        copy_fresh(&from, &tmp, Durability::Renamed).expect("copy");
        assert_eq!(std::fs::read(&tmp).expect("read"), b"this run");
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    /// A folder flush that fails after the rename (an I/O error from the disk) fails the write,
    /// and its error says the file is in place with its bytes, only its durability unknown.
    #[test]
    fn a_failed_folder_flush_says_the_file_is_in_place() {
        let dir = scratch("flush");
        let (path, tmp) = (dir.join("migration.json"), dir.join(".tmp"));
        std::fs::write(&tmp, b"the report").expect("tmp");
        let eio = |_: &Path| Err(std::io::Error::from_raw_os_error(5));
        let e = put_in_place_with(Ok(()), &tmp, &path, Durability::Synced, eio).unwrap_err();
        let m = e.to_string();
        assert!(
            m.contains("migration.json: written and in place, but flushing its folder"),
            "{m}"
        );
        assert!(m.contains("os error 5"), "{m}");
        assert_eq!(std::fs::read(&path).expect("read"), b"the report");
        assert_eq!(names(&dir), ["migration.json"]);
        // a write that is only renamed never asks for the flush
        std::fs::write(&tmp, b"again").expect("tmp");
        put_in_place_with(Ok(()), &tmp, &path, Durability::Renamed, eio).expect("renamed");
        std::fs::remove_dir_all(&dir).expect("clean");
    }

    /// The latest report is the attempt's bytes, and a later write of either name (always by
    /// rename) leaves the other as it was: they never change together.
    #[test]
    fn linked_files_hold_the_same_bytes_and_part_on_the_next_write() {
        let dir = scratch("link");
        let (attempt, latest) = (dir.join("attempt.json"), dir.join("latest.json"));
        write_atomic(&latest, b"an older run", Durability::Renamed).expect("older");
        write_atomic(&attempt, b"this run", Durability::Renamed).expect("attempt");
        link_or_copy_atomic(&attempt, &latest, Durability::Renamed).expect("link");
        assert_eq!(std::fs::read(&latest).expect("read"), b"this run");
        write_atomic(&latest, b"the next run", Durability::Renamed).expect("next");
        assert_eq!(std::fs::read(&attempt).expect("read"), b"this run");
        write_atomic(&attempt, b"rewritten", Durability::Renamed).expect("rewrite");
        assert_eq!(std::fs::read(&latest).expect("read"), b"the next run");
        // nothing left behind under a temporary name
        let left = names(&dir);
        assert_eq!(left.len(), 2, "{left:?}");
        // a source that is gone: an error naming the destination, the destination untouched
        let gone = link_or_copy_atomic(&dir.join("missing.json"), &latest, Durability::Renamed)
            .unwrap_err();
        assert!(gone.to_string().contains("latest.json"), "{gone}");
        assert_eq!(std::fs::read(&latest).expect("read"), b"the next run");
        std::fs::remove_dir_all(&dir).expect("clean");
    }
}
