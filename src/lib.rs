//! godwit's core. Data flows one way: `files` (scan, filename contract, checksum, ledger, git base)
//! -> `contract` (module contract, SQL, integrity) -> `policy` -> `plan` -> `run` (lock, execute,
//! report) through `db`. `settings` resolves what every command runs with; `binding` is the thin
//! napi face, and nothing in the core knows about Node.

mod check;
mod contract;
mod create;
mod db;
mod duration;
mod error;
mod files;
mod import;
mod listing;
mod par;
mod plan;
mod policy;
mod run;
mod settings;
mod status;
mod time;
mod violation;

#[cfg_attr(test, allow(dead_code))]
mod binding;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod generated;
