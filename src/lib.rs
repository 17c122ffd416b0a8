//! godwit's core. Data flows one way: files (`source`) -> contract (`source`, `modules`, `sql`)
//! -> ledger (`ledger`, `integrity`, `base`) -> plan -> lock -> execute -> report. `binding` is the
//! thin napi face; nothing in the core knows about Node.

pub mod base;
pub mod check;
pub mod checksum;
pub mod config;
pub mod conn;
pub mod create;
pub mod db;
pub mod duration;
pub mod error;
pub mod integrity;
pub mod ledger;
pub mod modules;
pub mod par;
pub mod plan;
pub mod policy;
pub mod source;
pub mod sql;
pub mod time;
pub mod tls;
pub mod up;
pub mod violation;

#[cfg_attr(test, allow(dead_code))]
mod binding;

#[cfg(test)]
mod fuzz;
