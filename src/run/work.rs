//! From what Node rendered to what runs: every pending module judged first (a broken module fails
//! the run before any DDL, as MIGRATION_INVALID: nothing ran, so it is not a failed migration),
//! and each migration's SQL for the mode (`down` SQL to revert).

use std::collections::HashMap;

use crate::contract::modules::{self, MigrationConfig, Rendered};
use crate::error::{Error, Result};
use crate::files::MigrationFile;
use crate::settings::Mode;

/// One migration ready to run.
pub struct Work {
    pub file: MigrationFile,
    pub chunks: Vec<String>,
    pub config: MigrationConfig,
    pub builds_index: Option<(String, String)>,
}

/// Judges every pending module (on all cores: a parse of each migration's SQL) and picks the SQL
/// the mode runs. Any error refuses the whole run: nothing was run.
pub fn prepare(
    pending: &[MigrationFile],
    rendered: Vec<Rendered>,
    mode: &Mode,
) -> Result<Vec<Work>> {
    let mut rendered: HashMap<String, Rendered> =
        rendered.into_iter().map(|r| (r.file.clone(), r)).collect();
    let to_judge: Vec<(MigrationFile, Option<Rendered>)> = pending
        .iter()
        .map(|f| (f.clone(), rendered.remove(&f.file)))
        .collect();
    let judged = crate::par::par_map(to_judge, 256, |(f, r)| {
        let j = r.as_ref().map(modules::judge);
        (f, r, j)
    });
    let mut work = Vec::with_capacity(judged.len());
    for (file, r, judged) in judged {
        let (Some(r), Some(judged)) = (r, judged) else {
            return Err(Error::MigrationFailed(format!(
                "{}: was not rendered; nothing was run",
                file.file
            )));
        };
        if let Some(v) = judged.violations.iter().find(|v| v.is_error()) {
            return Err(Error::MigrationInvalid(format!(
                "{}: {} ({}); nothing was run. Fix: {}",
                file.file, v.message, v.rule, v.hint
            )));
        }
        let chunks = if mode.reverts() {
            r.down.ok_or_else(|| {
                Error::MigrationInvalid(format!(
                    "{} has no `down`, so it cannot be reverted; nothing was reverted. Revert fewer migrations (--count), or reset the local database",
                    file.file
                ))
            })?
        } else {
            r.up.unwrap_or_default()
        };
        work.push(Work {
            file,
            chunks,
            config: judged.config,
            builds_index: if mode.reverts() {
                None
            } else {
                judged.builds_index
            },
        });
    }
    Ok(work)
}
