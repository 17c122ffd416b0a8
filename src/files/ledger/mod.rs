//! `checksums.json`: its format (`format`), reading and writing it in the folder (`store`), and
//! the folder lock that serializes writers (`lock`).

pub mod format;
pub mod lock;
pub mod store;

pub use format::{Ledger, LedgerProblem};
pub use lock::FolderLock;
pub use store::{LedgerState, read_ledger, write_ledger};
