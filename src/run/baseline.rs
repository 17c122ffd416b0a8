//! `baseline`: migrations recorded as applied without running them, for a database godwit did
//! not build (adopting one another tool migrated, or one built by hand). Under the same lock,
//! budget and report as `up`; all rows in one transaction, so a refusal or a failure records
//! nothing. What to record is decided here, pure: every migration up to a version, or exactly
//! those another tool's history says it applied (matched through the headers `import` wrote).

use std::collections::{BTreeMap, BTreeSet};

use crate::db::history::NewRow;
use crate::db::{ToolEntry, ToolState, pooler};
use crate::import::module;
use crate::import::tool::Tool;
use crate::plan::{Plan, State};

use super::*;

/// Rows already recorded at or past `v` refuse a baseline: it is for adopting a database, and
/// recording older migrations under a history that went past them would hide that they never ran.
fn refuse_past(plan: &Plan, v: &str) -> Result<()> {
    if let Some(r) = plan
        .rows
        .iter()
        .filter(|r| matches!(r.state, State::Applied | State::Ahead) && r.version.as_str() >= v)
        .max_by(|a, b| a.version.cmp(&b.version))
    {
        let what = if r.version == v {
            format!("{} is already recorded as applied", r.version)
        } else {
            format!(
                "godwit's history already goes past it ({} is applied)",
                r.version
            )
        };
        return Err(Error::BaselineRefused(format!(
            "refusing to baseline up to {v}: {what}. A baseline records the migrations a database had before godwit took over; later ones are applied by `up`. Nothing was written"
        )));
    }
    Ok(())
}

/// `baseline <version>`: every pending migration up to and including `v`.
pub fn up_to(plan: &Plan, v: &str) -> Result<Vec<String>> {
    if !plan.rows.iter().any(|r| r.version == v && r.file.is_some()) {
        let newest = plan
            .rows
            .iter()
            .filter(|r| r.file.is_some())
            .map(|r| r.version.as_str())
            .max()
            .unwrap_or("none");
        return Err(Error::Usage(format!(
            "`{v}` is not the version of a migration file here (the newest is {newest}); pass the version of the newest migration the database already has, as in its file name"
        )));
    }
    refuse_past(plan, v)?;
    Ok(plan
        .rows
        .iter()
        .filter(|r| r.state == State::Pending && r.version.as_str() <= v)
        .map(|r| r.version.clone())
        .collect())
}

/// `baseline --from <tool>`: the imported migrations the tool's history records as applied.
/// `imported` maps each godwit version to the header `import` wrote into its file.
pub fn from_tool(
    plan: &Plan,
    tool: Tool,
    table: &str,
    entries: &[ToolEntry],
    imported: &BTreeMap<String, module::Header>,
) -> Result<Vec<String>> {
    let mut by_id: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for (version, h) in imported.iter().filter(|(_, h)| h.tool == tool.name()) {
        by_id
            .entry(tool.normalize(&h.id))
            .or_default()
            .push(version.as_str());
    }
    if by_id.is_empty() {
        return Err(Error::BaselineRefused(format!(
            "no migration here was imported from {} (their first line says `{}{{\"tool\":\"{}\",...}}`); run `godwit import {} <folder>` first. Nothing was written",
            tool.name(),
            module::HEADER_PREFIX,
            tool.name(),
            tool.name()
        )));
    }
    let failed: Vec<&str> = entries
        .iter()
        .filter(|e| e.state == ToolState::Failed)
        .map(|e| e.id.as_str())
        .collect();
    if !failed.is_empty() {
        return Err(Error::BaselineRefused(format!(
            "{table} records {} as failed or dirty ({}): {}; {}. Nothing was written",
            failed.len(),
            super::select::listed(failed.iter().map(|s| s.to_string()).collect()),
            "what they left is unknown, so they cannot be recorded as applied",
            tool.failed_fix()
        )));
    }
    let applied: BTreeSet<String> = entries
        .iter()
        .filter(|e| e.state == ToolState::Applied)
        .map(|e| tool.normalize(&e.id))
        .collect();
    let upto: Vec<String> = entries
        .iter()
        .filter(|e| e.state == ToolState::UpTo)
        .map(|e| tool.normalize(&e.id))
        .collect();
    let unknown: Vec<String> = applied
        .iter()
        .chain(&upto)
        .filter(|id| !by_id.contains_key(*id))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(Error::BaselineRefused(format!(
            "{table} records {} migration(s) that no imported file here has: {}; import the folder {} ran from (or deploy the release that has them) before baselining. Nothing was written",
            unknown.len(),
            super::select::listed(unknown),
            tool.name()
        )));
    }
    let mut chosen: Vec<String> = by_id
        .iter()
        .filter(|(id, _)| applied.contains(*id) || upto.iter().any(|u| tool.at_or_before(id, u)))
        .flat_map(|(_, versions)| versions.iter().map(|v| v.to_string()))
        .collect();
    chosen.sort();
    let Some(newest) = chosen.last().cloned() else {
        return Err(Error::BaselineRefused(format!(
            "{table} records no applied migration; there is nothing to baseline (run `up` instead). Nothing was written"
        )));
    };
    refuse_past(plan, &newest)?;
    let pending: BTreeSet<&str> = plan
        .rows
        .iter()
        .filter(|r| r.state == State::Pending)
        .map(|r| r.version.as_str())
        .collect();
    Ok(chosen
        .into_iter()
        .filter(|v| pending.contains(v.as_str()))
        .collect())
}

impl<C: Connector> Runner<C> {
    /// The versions a baseline records (the refusals above, with the tool's history read under
    /// the lock for `--from`).
    pub(super) async fn baseline_choice(
        &mut self,
        b: &crate::settings::Baseline,
        plan: &Plan,
        sources: &super::start::Texts<'_>,
    ) -> Result<Vec<String>> {
        match b {
            crate::settings::Baseline::UpTo(v) => up_to(plan, v),
            crate::settings::Baseline::From { tool, table } => {
                let tool = Tool::parse(tool)?;
                let table = table.clone().unwrap_or_else(|| tool.history_table().into());
                let imported: BTreeMap<String, module::Header> = plan
                    .rows
                    .iter()
                    .filter_map(|r| {
                        r.file.as_ref()?;
                        let text = sources.of(&r.version)?;
                        Some((r.version.clone(), module::header(text)?))
                    })
                    .collect();
                // before the database is asked anything: nothing imported, nothing to match
                if !imported.values().any(|h| h.tool == tool.name()) {
                    return from_tool(plan, tool, &table, &[], &imported);
                }
                let s = self
                    .session
                    .as_mut()
                    .ok_or_else(|| Error::Internal("no session".into()))?;
                let read = match self.guard.race(s.tool_history(tool, &table)).await {
                    Ok(r) => r?,
                    Err(stop) => {
                        return Err(self.guard.error(stop, "while reading the tool's history"));
                    }
                };
                let Some((name, entries)) = read else {
                    return Err(Error::BaselineRefused(format!(
                        "there is no table `{table}` ({}'s history) in this database (search_path of the connection); is this the database {} migrated? If the table was renamed, pass --tool-table <schema.table>. Nothing was written",
                        tool.name(),
                        tool.name()
                    )));
                };
                from_tool(plan, tool, &name, &entries, &imported)
            }
        }
    }

    /// Records the chosen migrations as applied, all in one transaction, the lock checked inside
    /// it: nothing ran, so nothing else changes.
    pub(super) async fn record_baseline(&mut self) -> Result<()> {
        let h = self.history()?;
        let sha = self
            .effective
            .as_ref()
            .map(|e| e.release_sha.clone())
            .unwrap_or_default();
        let rows: Vec<NewRow> = self
            .pending
            .iter()
            .map(|f| NewRow {
                version: f.version.clone(),
                name: f.name.clone(),
                file: f.file.clone(),
                checksum: f.checksum.clone(),
                sql_checksum: crate::db::history::BASELINE_SQL_CHECKSUM.into(),
                status: crate::plan::HistoryStatus::Applied,
                transactional: true,
                execution_ms: 0,
                release_sha: sha.clone(),
                error: None,
            })
            .collect();
        let s = self
            .session
            .as_mut()
            .ok_or_else(|| Error::Internal("no session".into()))?;
        let check = batch::lock_check(&h);
        let pid = s.info().backend.pid;
        let sql = format!(
            "{};\nBEGIN;\n{check};\n{};\nCOMMIT;",
            pooler::same_session(pid),
            h.baseline_insert_sql(&rows)?
        );
        let n = rows.len();
        let answer = match self.guard.race(s.batch(&sql)).await {
            Ok(a) => a,
            // dropping the batch leaves its transaction open on a session the run then closes:
            // the server rolls it back
            Err(stop) => {
                return Err(self
                    .guard
                    .error(stop, "while recording the baseline; nothing was recorded"));
            }
        };
        if let Answer::Error(e) = &answer {
            if let Some(other) = pooler::moved_to(&e.message) {
                return Err(Error::Config(pooler::explain(
                    pid,
                    pooler::Seen::Moved(other),
                    &format!("nothing was recorded; {}", pooler::left_with(pid)),
                )));
            }
        }
        match answer {
            Answer::Finished => {
                for m in self.report.migrations.iter_mut() {
                    if self.pending.iter().any(|f| f.version == m.version) {
                        m.state = EntryState::Baselined;
                    }
                }
                self.progress.line(&format!(
                    "baseline: recorded {n} migration(s) as applied, up to {}; none of them ran",
                    self.pending.last().map(|f| f.file.as_str()).unwrap_or("")
                ));
                Ok(())
            }
            Answer::Error(e) if batch::is_lock_lost(&e.message) => {
                Err(Error::LockLost(
                    "the migration lock was lost before the baseline was recorded; nothing was recorded".into(),
                ))
            }
            Answer::Error(e) if e.sqlstate.as_deref() == Some("42501") => {
                Err(Error::Privilege(format!(
                    "recording the baseline in {}: {}; the role needs INSERT on it. Nothing was recorded",
                    h.qualified(),
                    e.describe()
                )))
            }
            Answer::Error(e) => Err(Error::Db(format!(
                "recording the baseline: {}; nothing was recorded",
                e.describe()
            ))),
            Answer::Lost(why) => Err(Error::ConnectionLost(format!(
                "while recording the baseline ({why}); it commits all or nothing: `pnpm db:migrate:status` tells which"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::MigrationFile;
    use crate::plan::{Applied, HistoryStatus, plan};

    fn f(v: &str) -> MigrationFile {
        MigrationFile {
            file: format!("{v}_m.mjs"),
            version: v.into(),
            name: "m".into(),
            checksum: "x".into(),
        }
    }
    fn a(v: &str) -> Applied {
        Applied {
            version: v.into(),
            name: "m".into(),
            checksum: "x".into(),
            status: HistoryStatus::Applied,
            applied_at: "t".into(),
            execution_ms: 0,
            baselined: false,
        }
    }
    const V1: &str = "1000000001000";
    const V2: &str = "1000000002000";
    const V3: &str = "1000000003000";

    fn header(id: &str) -> module::Header {
        module::Header {
            tool: "goose".into(),
            id: id.into(),
            from: vec![],
            part: None,
        }
    }
    fn entry(id: &str, state: ToolState) -> ToolEntry {
        ToolEntry {
            id: id.into(),
            state,
        }
    }

    #[test]
    fn up_to_a_version_records_the_pending_ones_and_refuses_twice_past_and_unknown() {
        let files = [f(V1), f(V2), f(V3)];
        assert_eq!(up_to(&plan(&files, &[]), V2).unwrap(), [V1, V2]);
        assert_eq!(up_to(&plan(&files, &[a(V1)]), V2).unwrap(), [V2]);
        let twice = up_to(&plan(&files, &[a(V1), a(V2)]), V2).unwrap_err();
        assert_eq!(twice.code(), crate::error::Code::BaselineRefused);
        assert!(twice.to_string().contains("already recorded"), "{twice}");
        let past = up_to(&plan(&files, &[a(V1), a(V2), a(V3)]), V2).unwrap_err();
        assert!(past.to_string().contains("goes past it"), "{past}");
        let unknown = up_to(&plan(&files, &[]), "1000000009999").unwrap_err();
        assert_eq!(unknown.code(), crate::error::Code::Usage);
    }

    #[test]
    fn from_a_tool_records_exactly_what_it_applied_and_refuses_failures_and_strangers() {
        let files = [f(V1), f(V2), f(V3)];
        let p = plan(&files, &[]);
        let imported: BTreeMap<String, module::Header> = [(V1, "1"), (V2, "2"), (V3, "3")]
            .iter()
            .map(|(v, id)| (v.to_string(), header(id)))
            .collect();
        let got = from_tool(
            &p,
            Tool::Goose,
            "t",
            &[
                entry("1", ToolState::Applied),
                entry("2", ToolState::Applied),
                entry("3", ToolState::Reverted),
            ],
            &imported,
        )
        .unwrap();
        assert_eq!(got, [V1, V2]);
        let e = from_tool(
            &p,
            Tool::Goose,
            "t",
            &[
                entry("1", ToolState::Applied),
                entry("2", ToolState::Failed),
            ],
            &imported,
        )
        .unwrap_err();
        assert!(e.to_string().contains("failed or dirty (2)"), "{e}");
        let e = from_tool(
            &p,
            Tool::Goose,
            "t",
            &[entry("7", ToolState::Applied)],
            &imported,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("no imported file here has: 7"),
            "{e}"
        );
        // golang-migrate's one row: everything up to it
        let gm: BTreeMap<String, module::Header> = imported
            .iter()
            .map(|(v, h)| {
                (
                    v.clone(),
                    module::Header {
                        tool: "golang-migrate".into(),
                        ..h.clone()
                    },
                )
            })
            .collect();
        assert_eq!(
            from_tool(
                &p,
                Tool::GolangMigrate,
                "t",
                &[entry("2", ToolState::UpTo)],
                &gm
            )
            .unwrap(),
            [V1, V2]
        );
        // twice: refused
        let done = plan(&files, &[a(V1), a(V2)]);
        assert!(
            from_tool(
                &done,
                Tool::Goose,
                "t",
                &[
                    entry("1", ToolState::Applied),
                    entry("2", ToolState::Applied)
                ],
                &imported
            )
            .is_err()
        );
    }
}
