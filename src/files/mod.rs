//! The migrations folder and what is read from disk or git: the scan and the filename contract,
//! the pinned checksum, the ledger (its format, its storage, the folder lock) and the git base.

pub mod base;
pub mod checksum;
pub mod ledger;
pub mod scan;

pub use scan::{LEDGER_FILE, MigrationFile};
