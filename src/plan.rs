//! The plan: files on disk vs rows in the history table, with no I/O. Every state a migration can
//! be in is decided here and tested as a table; `up` applies only a plan without problems, and
//! `status` prints the same rows.

use serde::Serialize;

use crate::files::MigrationFile;

/// A history row's status, as the table's CHECK constraint allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub enum HistoryStatus {
    Applied,
    /// A non-transactional migration that failed part-way (or whose outcome was lost).
    Failed,
    /// Undone by a local `down` or `reset`; history, not state.
    Reverted,
}

impl HistoryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryStatus::Applied => "applied",
            HistoryStatus::Failed => "failed",
            HistoryStatus::Reverted => "reverted",
        }
    }

    pub fn parse(s: &str) -> Option<HistoryStatus> {
        match s {
            "applied" => Some(HistoryStatus::Applied),
            "failed" => Some(HistoryStatus::Failed),
            "reverted" => Some(HistoryStatus::Reverted),
            _ => None,
        }
    }
}

/// One row of the history table, as read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    pub version: String,
    pub name: String,
    pub checksum: String,
    pub status: HistoryStatus,
    pub applied_at: String,
    pub execution_ms: i64,
    /// Recorded by `baseline` (nothing ran), not applied by godwit.
    pub baselined: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "PlanState"))]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Applied,
    Pending,
    /// Applied, but the file's checksum differs from the one recorded: history was edited.
    Changed,
    /// Applied, but the file is gone.
    MissingFile,
    /// A non-transactional migration failed and nobody resolved it.
    Failed,
    /// Pending, but older than the newest applied migration.
    OutOfOrder,
    /// Applied, with no file here, and newer than every file: a newer release applied it (this
    /// is an older release, replayed). Not a problem unless the project says `ahead: 'refuse'`.
    Ahead,
}

impl State {
    /// The name reports and `status --json` use (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "pending",
            State::Changed => "changed",
            State::MissingFile => "missing-file",
            State::Failed => "failed",
            State::OutOfOrder => "out-of-order",
            State::Ahead => "ahead",
        }
    }

    /// One sentence for a problem state, for messages and reports.
    pub fn describe(self) -> &'static str {
        match self {
            State::Applied => "applied",
            State::Pending => "not applied yet",
            State::Changed => "applied, but the file has changed since",
            State::MissingFile => "applied, but its file is gone",
            State::Failed => "failed part-way outside a transaction and is unresolved",
            State::OutOfOrder => "pending, but older than the newest applied migration",
            State::Ahead => "applied by a newer release (newer than every file here)",
        }
    }

    /// States that make `up` refuse to run and `status` report an integrity problem.
    pub fn is_problem(self) -> bool {
        matches!(
            self,
            State::Changed | State::MissingFile | State::Failed | State::OutOfOrder
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[cfg_attr(test, ts(rename = "StatusRow"))]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub version: String,
    pub name: String,
    /// File name, when the file exists.
    pub file: Option<String>,
    pub state: State,
    pub applied_at: Option<String>,
    pub execution_ms: Option<i64>,
    /// Recorded as applied by `baseline`: it ran before godwit took over.
    pub baselined: bool,
    /// What to do about a problem state.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(optional))]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub rows: Vec<Row>,
}

impl Plan {
    pub fn pending(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.state == State::Pending)
    }
    pub fn problems(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.state.is_problem())
    }
    pub fn ahead(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.state == State::Ahead)
    }

    /// The project's `ahead: 'refuse'`: a migration applied by a newer release is then a missing
    /// file like any other.
    pub fn refuse_ahead(&mut self) {
        for r in self.rows.iter_mut().filter(|r| r.state == State::Ahead) {
            r.state = State::MissingFile;
            r.fix = Some(
                "the database applied a migration this release does not have (a newer release applied it) and the project sets ahead: 'refuse': deploy the release that has it".into(),
            );
        }
    }
}

/// `files` in version order (as `source::scan` returns them; any other order is sorted here);
/// `applied` in any order.
pub fn plan(files: &[MigrationFile], applied: &[Applied]) -> Plan {
    // A row a local `down` marked reverted is history, not state: the migration is pending again.
    let applied: Vec<&Applied> = applied
        .iter()
        .filter(|a| a.status != HistoryStatus::Reverted)
        .collect();
    let newest_applied = applied
        .iter()
        .filter(|a| a.status == HistoryStatus::Applied)
        .map(|a| a.version.as_str())
        .max();
    let newest_file = files.iter().map(|f| f.version.as_str()).max();
    // Files and history rows are paired by one walk down both lists in version order: linear,
    // where a search by halves per file cost 10,000 migrations 3 ms of string comparisons in
    // every `status` and `assertSchemaCurrent()`. Both arrive nearly in order (the scan sorts
    // the files, the history comes back in the order it was written), which the sorts see in
    // one pass. A live version has one history row (the table's unique index); file versions
    // may repeat (the files' findings report it), and each such file meets the same row.
    // (version, index) pairs are unique, so an unstable sort is exact.
    let mut files_in_order: Vec<(&str, usize)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f.version.as_str(), i))
        .collect();
    files_in_order.sort_unstable();
    let mut rows_in_order: Vec<(&str, usize)> = applied
        .iter()
        .enumerate()
        .map(|(i, a)| (a.version.as_str(), i))
        .collect();
    rows_in_order.sort_unstable();
    // for each file, its history row; for each history row, whether a file has it
    let mut row_of_file: Vec<Option<&Applied>> = vec![None; files.len()];
    let mut has_file = vec![false; applied.len()];
    let mut next = rows_in_order.into_iter().peekable();
    for (v, fi) in files_in_order {
        while next.next_if(|&(rv, _)| rv < v).is_some() {}
        if let Some(&(rv, ri)) = next.peek()
            && rv == v
        {
            if let Some(slot) = row_of_file.get_mut(fi) {
                *slot = applied.get(ri).copied();
            }
            if let Some(seen) = has_file.get_mut(ri) {
                *seen = true;
            }
        }
    }
    let mut rows = Vec::with_capacity(files.len() + applied.len());
    let row = |f: &MigrationFile, state: State, a: Option<&Applied>, fix: Option<String>| Row {
        version: f.version.clone(),
        name: f.name.clone(),
        file: Some(f.file.clone()),
        state,
        applied_at: a.map(|a| a.applied_at.clone()),
        execution_ms: a.map(|a| a.execution_ms),
        baselined: a.is_some_and(|a| a.baselined),
        fix,
    };
    for (f, a) in files.iter().zip(row_of_file) {
        let r = match a {
            Some(a) if a.status == HistoryStatus::Failed => row(f, State::Failed, Some(a), Some(format!(
                "this non-transactional migration failed part-way: inspect what it left (e.g. an INVALID index: DROP INDEX CONCURRENTLY ...), then delete its history row (DELETE FROM <history table> WHERE version = '{}' AND status = 'failed') and run up again",
                f.version
            ))),
            Some(a) if a.checksum != f.checksum => row(f, State::Changed, Some(a), Some(
                "an applied migration was edited: restore the file as it was applied (git history) and put the change in a new migration".into(),
            )),
            Some(a) => row(f, State::Applied, Some(a), None),
            None if newest_applied.is_some_and(|n| f.version.as_str() < n) => row(f, State::OutOfOrder, None, Some(
                "a pending migration is older than the newest applied one: re-create it with `pnpm db:migrate:create -- <name>` so it sorts last".into(),
            )),
            None => row(f, State::Pending, None, None),
        };
        rows.push(r);
    }
    for (a, _) in applied.iter().zip(&has_file).filter(|(_, seen)| !**seen) {
        // newer than every file: a newer release applied it (an older release replayed); in
        // the middle, a file that is gone
        let ahead = a.status == HistoryStatus::Applied
            && newest_file.is_some_and(|n| a.version.as_str() > n);
        let (state, fix) = match a.status {
            HistoryStatus::Failed => (State::Failed, Some(
                "a failed migration whose file is gone: restore the file (merged migrations are never deleted), or deploy the release that has it".into(),
            )),
            _ if ahead => (State::Ahead, None),
            _ => (State::MissingFile, Some(
                "the database applied a migration whose file is gone: restore the file (merged migrations are never deleted), or deploy the release that has it".into(),
            )),
        };
        rows.push(Row {
            version: a.version.clone(),
            name: a.name.clone(),
            file: None,
            state,
            applied_at: Some(a.applied_at.clone()),
            execution_ms: Some(a.execution_ms),
            baselined: a.baselined,
            fix,
        });
    }
    rows.sort_by(|a, b| a.version.cmp(&b.version));
    Plan { rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(version: &str, sum: &str) -> MigrationFile {
        MigrationFile {
            file: format!("{version}_m.mjs"),
            version: version.into(),
            name: "m".into(),
            checksum: sum.into(),
        }
    }
    fn a(version: &str, sum: &str, status: &str) -> Applied {
        Applied {
            version: version.into(),
            name: "m".into(),
            checksum: sum.into(),
            status: HistoryStatus::parse(status).unwrap(),
            applied_at: "t".into(),
            execution_ms: 1,
            baselined: false,
        }
    }
    fn states(p: &Plan) -> Vec<(&str, State)> {
        p.rows
            .iter()
            .map(|r| (r.version.as_str(), r.state))
            .collect()
    }

    const V1: &str = "1700000000001";
    const V2: &str = "1700000000002";
    const V3: &str = "1700000000003";

    #[test]
    fn table_of_states() {
        use State::*;
        type Case<'a> = (
            Vec<MigrationFile>,
            Vec<super::Applied>,
            Vec<(&'a str, State)>,
        );
        let cases: Vec<Case> = vec![
            // empty database: everything pending
            (
                vec![f(V1, "x"), f(V2, "y")],
                vec![],
                vec![(V1, Pending), (V2, Pending)],
            ),
            // all applied: nothing to do
            (
                vec![f(V1, "x"), f(V2, "y")],
                vec![a(V1, "x", "applied"), a(V2, "y", "applied")],
                vec![(V1, Applied), (V2, Applied)],
            ),
            // one applied, one pending
            (
                vec![f(V1, "x"), f(V2, "y")],
                vec![a(V1, "x", "applied")],
                vec![(V1, Applied), (V2, Pending)],
            ),
            // applied file edited
            (
                vec![f(V1, "edited")],
                vec![a(V1, "x", "applied")],
                vec![(V1, Changed)],
            ),
            // applied file deleted
            (
                vec![f(V2, "y")],
                vec![a(V1, "x", "applied"), a(V2, "y", "applied")],
                vec![(V1, MissingFile), (V2, Applied)],
            ),
            // an older release replayed: newer applied migrations are ahead, a gap is missing
            (
                vec![f(V1, "x")],
                vec![
                    a(V1, "x", "applied"),
                    a(V2, "y", "applied"),
                    a(V3, "z", "applied"),
                ],
                vec![(V1, Applied), (V2, Ahead), (V3, Ahead)],
            ),
            (
                vec![f(V1, "x"), f(V3, "z")],
                vec![
                    a(V1, "x", "applied"),
                    a(V2, "y", "applied"),
                    a(V3, "z", "applied"),
                ],
                vec![(V1, Applied), (V2, MissingFile), (V3, Applied)],
            ),
            // no files at all: nothing to be ahead of
            (vec![], vec![a(V1, "x", "applied")], vec![(V1, MissingFile)]),
            // non-transactional failure left behind
            (
                vec![f(V1, "x"), f(V2, "y")],
                vec![a(V1, "x", "applied"), a(V2, "y", "failed")],
                vec![(V1, Applied), (V2, Failed)],
            ),
            // pending older than newest applied
            (
                vec![f(V1, "x"), f(V2, "y"), f(V3, "z")],
                vec![a(V1, "x", "applied"), a(V3, "z", "applied")],
                vec![(V1, Applied), (V2, OutOfOrder), (V3, Applied)],
            ),
            // a failed row does not make older pending migrations out of order
            (
                vec![f(V1, "x"), f(V2, "y")],
                vec![a(V2, "y", "failed")],
                vec![(V1, Pending), (V2, Failed)],
            ),
        ];
        for (files, applied, want) in cases {
            let p = plan(&files, &applied);
            assert_eq!(states(&p), want);
            for r in &p.rows {
                assert_eq!(r.fix.is_some(), r.state.is_problem(), "{r:?}");
            }
        }
    }

    #[test]
    fn ahead_refused_by_the_project_is_a_missing_file() {
        let mut p = plan(
            &[f(V1, "x")],
            &[a(V1, "x", "applied"), a(V2, "y", "applied")],
        );
        assert_eq!(p.ahead().count(), 1);
        assert_eq!(p.problems().count(), 0);
        p.refuse_ahead();
        assert_eq!(p.problems().count(), 1);
        assert!(
            p.rows[1]
                .fix
                .as_deref()
                .unwrap()
                .contains("ahead: 'refuse'")
        );
    }

    #[test]
    fn the_history_in_any_order_plans_the_same() {
        let files = vec![f(V1, "x"), f(V2, "y"), f(V3, "z")];
        let history = vec![a(V1, "x", "applied"), a(V2, "other", "applied")];
        let in_order = plan(&files, &history);
        let reversed: Vec<_> = history.into_iter().rev().collect();
        let backwards = plan(&files, &reversed);
        assert_eq!(states(&in_order), states(&backwards));
        assert_eq!(
            states(&in_order),
            [
                (V1, State::Applied),
                (V2, State::Changed),
                (V3, State::Pending)
            ]
        );
    }

    #[test]
    fn pending_and_problems_iterators() {
        let p = plan(&[f(V1, "x"), f(V2, "y")], &[a(V1, "changed", "applied")]);
        assert_eq!(p.pending().count(), 1);
        assert_eq!(p.problems().count(), 1);
    }

    #[test]
    fn a_reverted_row_makes_its_migration_pending_again() {
        let files = [f("1700000000001", "s1"), f("1700000000002", "s2")];
        let p = plan(
            &files,
            &[
                a("1700000000001", "s1", "applied"),
                a("1700000000002", "old", "reverted"),
            ],
        );
        assert_eq!(
            p.rows.iter().map(|r| r.state).collect::<Vec<_>>(),
            [State::Applied, State::Pending]
        );
        // and a reverted row does not make older pending files out of order
        let p = plan(&files, &[a("1700000000002", "s2", "reverted")]);
        assert!(p.rows.iter().all(|r| r.state == State::Pending));
    }

    /// The pairing as it was written before the walk (a search by halves per file and per row),
    /// kept as the reference the walk is held to.
    fn paired_by_search(
        files: &[MigrationFile],
        applied: &[Applied],
    ) -> Vec<(String, Option<String>, State)> {
        let live: Vec<&Applied> = applied
            .iter()
            .filter(|a| a.status != HistoryStatus::Reverted)
            .collect();
        let mut by_version = live.clone();
        by_version.sort_unstable_by(|a, b| a.version.cmp(&b.version));
        let mut file_versions: Vec<&str> = files.iter().map(|f| f.version.as_str()).collect();
        file_versions.sort_unstable();
        let found = |v: &str| {
            by_version
                .binary_search_by(|a| a.version.as_str().cmp(v))
                .ok()
                .map(|i| by_version[i])
        };
        let mut out: Vec<(String, Option<String>, State)> = files
            .iter()
            .map(|f| {
                (
                    f.version.clone(),
                    Some(f.file.clone()),
                    found(&f.version).map_or(State::Pending, |a| a.status_for(&f.checksum)),
                )
            })
            .collect();
        for a in live
            .iter()
            .filter(|a| file_versions.binary_search(&a.version.as_str()).is_err())
        {
            let state = if a.status == HistoryStatus::Failed {
                State::Failed
            } else {
                State::MissingFile
            };
            out.push((a.version.clone(), None, state));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    impl Applied {
        /// The state a file with `checksum` meets this row in (as `plan` decides it).
        fn status_for(&self, checksum: &str) -> State {
            match self.status {
                HistoryStatus::Failed => State::Failed,
                _ if self.checksum != checksum => State::Changed,
                _ => State::Applied,
            }
        }
    }

    proptest::proptest! {
        /// Files in any order and with repeated versions, history rows in any order: the walk
        /// pairs each file with the row a search finds, and leaves the same rows without a file.
        #[test]
        fn the_walk_pairs_files_and_rows_as_a_search_does(
            files in proptest::collection::vec((1u64..40, "[ab]", "[xy]"), 0..30),
            rows in proptest::collection::vec((1u64..40, "[ab]", 0u8..3), 0..30),
        ) {
            let version = |v: u64| format!("{:013}", 1_700_000_000_000 + v);
            let files: Vec<MigrationFile> = files.into_iter().map(|(v, sum, name)| MigrationFile {
                file: format!("{}_{name}.mjs", version(v)), version: version(v), name, checksum: sum,
            }).collect();
            let mut live = std::collections::HashSet::new();
            let applied: Vec<Applied> = rows.into_iter()
                .map(|(v, sum, st)| (v, sum, [HistoryStatus::Applied, HistoryStatus::Failed, HistoryStatus::Reverted][usize::from(st)]))
                // the history holds at most one live row per version (the partial unique index)
                .filter(|(v, _, st)| *st == HistoryStatus::Reverted || live.insert(*v))
                .map(|(v, sum, status)| Applied { version: version(v), name: "m".into(), checksum: sum, status, applied_at: "t".into(), execution_ms: 1, baselined: false })
                .collect();
            let walked: Vec<(String, Option<String>, State)> = plan(&files, &applied).rows.into_iter()
                .map(|r| {
                    // out of order / ahead are refinements of pending / missing-file decided
                    // after pairing; the pairing is what is compared
                    let state = match r.state { State::OutOfOrder => State::Pending, State::Ahead => State::MissingFile, s => s };
                    (r.version, r.file, state)
                })
                .collect();
            proptest::prop_assert_eq!(walked, paired_by_search(&files, &applied));
        }
    }
}
