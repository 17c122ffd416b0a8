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
    pending: Vec<MigrationFile>,
    rendered: Vec<Rendered>,
    mode: &Mode,
) -> Result<Vec<Work>> {
    // each pending file with its rendering, in run order; the map is gone before judging starts
    let to_judge: Vec<(MigrationFile, Option<Rendered>)> = {
        let mut by_file: HashMap<String, Rendered> =
            rendered.into_iter().map(|r| (r.file.clone(), r)).collect();
        pending
            .into_iter()
            .map(|f| {
                let r = by_file.remove(&f.file);
                (f, r)
            })
            .collect()
    };
    let reverts = mode.reverts();
    // each rendering becomes its work where it is judged, so at 10,000 migrations the renderings
    // and their judgements are never all held side by side; the first problem in run order wins
    crate::par::par_map(to_judge, 256, |(file, r)| one(file, r, reverts))
        .into_iter()
        .collect()
}

fn one(file: MigrationFile, r: Option<Rendered>, reverts: bool) -> Result<Work> {
    let Some(r) = r else {
        return Err(Error::MigrationFailed(format!(
            "{}: was not rendered; nothing was run",
            file.file
        )));
    };
    let judged = modules::judge(&r);
    if let Some(v) = judged.violations.iter().find(|v| v.is_error()) {
        return Err(Error::MigrationInvalid(format!(
            "{}: {} ({}); nothing was run. Fix: {}",
            file.file, v.message, v.rule, v.hint
        )));
    }
    let chunks = if reverts {
        r.down.ok_or_else(|| {
            Error::MigrationInvalid(format!(
                "{} has no `down`, so it cannot be reverted; nothing was reverted. Revert fewer migrations (--count), or reset the local database",
                file.file
            ))
        })?
    } else {
        r.up.unwrap_or_default()
    };
    Ok(Work {
        file,
        chunks,
        config: judged.config,
        builds_index: if reverts { None } else { judged.builds_index },
    })
}
