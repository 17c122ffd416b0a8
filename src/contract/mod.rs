//! The contract a migration set must meet before anything runs: the module contract on what Node
//! rendered (`modules`), the SQL as PostgreSQL reads it (`sql`), where SQL lines are in the file
//! (`lines`), and files vs ledger vs base (`integrity`, pure).

pub mod integrity;
pub mod lines;
pub mod literal;
pub mod modules;
pub mod reach;
pub mod sql;
