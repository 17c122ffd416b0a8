//! An exclusive advisory lock on the migrations folder, held while a command reads the folder and
//! the ledger and writes them back: two concurrent `create`s would otherwise pick the same version
//! or drop each other's ledger entry. Released when dropped (also on every error path). Where a
//! folder cannot be opened as a file (Windows), writers are not serialized; nothing else changes.

use std::path::Path;

use crate::error::{Error, Result};

pub struct FolderLock(#[allow(dead_code)] Option<std::fs::File>);

impl FolderLock {
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        let Ok(f) = std::fs::File::open(dir) else {
            return Ok(FolderLock(None));
        };
        f.lock().map_err(|e| Error::io(dir, e))?;
        Ok(FolderLock(Some(f)))
    }
}
