//! What a run will do, pure: whether the files or the history refuse it, and which migrations it
//! runs, in which order, for each mode.

use crate::error::Error;
use crate::plan::{Plan, Row, State};
use crate::settings::Mode;
use crate::violation::Violation;

use super::report::{EntryState, MigrationEntry, Problem};

/// The report's first view of every migration: the plan's states, before anything runs.
pub fn entries(plan: Plan) -> Vec<MigrationEntry> {
    plan.rows
        .into_iter()
        .map(|r| MigrationEntry {
            version: r.version,
            name: r.name,
            file: r.file,
            state: EntryState::from(r.state),
            ..Default::default()
        })
        .collect()
}

/// Problem lines for a message: the first 20 and a count of the rest (a tampered ledger can
/// produce thousands; the report's `problems` always has every one).
pub fn listed(lines: Vec<String>) -> String {
    const SHOWN: usize = 20;
    let more = lines.len().saturating_sub(SHOWN);
    let mut shown: Vec<String> = lines.into_iter().take(SHOWN).collect();
    if more > 0 {
        shown.push(format!(
            "... and {more} more (every one is in the report's `problems`)"
        ));
    }
    shown.join("\n  ")
}

/// Files and ledger first: `up` never writes the ledger, so any finding refuses the run (also
/// when the database could not be reached: the files are the first thing to fix).
pub fn files_refusal(findings: &[Violation]) -> Option<(Vec<Problem>, Error)> {
    if findings.is_empty() {
        return None;
    }
    let lines = findings
        .iter()
        .map(|v| format!("{}: {} ({})", v.file, v.message, v.rule))
        .collect();
    Some((
        findings.iter().map(Problem::from_violation).collect(),
        Error::Integrity(format!(
            "the migration files do not match the contract or the ledger; run `pnpm db:migrate:check` and commit:\n  {}",
            listed(lines)
        )),
    ))
}

/// History rows that disagree with the files refuse every mode but `reset` (which rebuilds
/// everything, so what the history says cannot stop it).
pub fn history_refusal(plan: &Plan, mode: &Mode) -> Option<(Vec<Problem>, Error)> {
    let problems: Vec<&Row> = plan.problems().collect();
    if problems.is_empty() || *mode == Mode::Reset {
        return None;
    }
    let lines = problems
        .iter()
        .map(|r| {
            // the file when there is one; a row whose file is gone by version and name
            let what = r
                .file
                .clone()
                .unwrap_or_else(|| format!("{} {}", r.version, r.name));
            format!(
                "{what}: {} ({}); {}",
                r.state.describe(),
                r.state.as_str(),
                r.fix.clone().unwrap_or_default()
            )
        })
        .collect();
    Some((
        problems.iter().map(|r| Problem::from_row(r)).collect(),
        Error::Integrity(format!(
            "refusing to apply anything: the database history disagrees with the files:\n  {}",
            listed(lines)
        )),
    ))
}

/// The versions to run, in the order to run them: pending ones oldest first (up), every file
/// (reset), or the newest applied ones, newest first (down; `count` 0 means all).
pub fn chosen(plan: &Plan, mode: &Mode) -> Vec<String> {
    let versions = |rows: Vec<&Row>| rows.into_iter().map(|r| r.version.clone()).collect();
    match mode {
        Mode::Up => versions(plan.pending().collect()),
        // decided by `baseline` (it may need another tool's history)
        Mode::Baseline(_) => Vec::new(),
        Mode::Reset => versions(plan.rows.iter().filter(|r| r.file.is_some()).collect()),
        Mode::Down { count } => {
            let applied = plan.rows.iter().rev().filter(|r| r.state == State::Applied);
            if *count == 0 {
                versions(applied.collect())
            } else {
                versions(applied.take(*count).collect())
            }
        }
    }
}

/// `chosen`, stopped at `--to`: `up` applies pending migrations up to and including the target,
/// `down` reverts the applied ones newer than it (`count` does not apply then). The target must be
/// a migration the files or the history know.
pub fn chosen_to(plan: &Plan, mode: &Mode, to: Option<&str>) -> Result<Vec<String>, Error> {
    let Some(to) = to else {
        return Ok(chosen(plan, mode));
    };
    if to.len() != 13 || !to.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Usage(format!(
            "--to `{to}` is not a version: versions are the 13 digits a migration's file name starts with"
        )));
    }
    if !plan.rows.iter().any(|r| r.version == to) {
        let known: Vec<&str> = plan.rows.iter().map(|r| r.version.as_str()).collect();
        return Err(Error::Usage(format!(
            "--to {to}: no migration has this version ({}); nothing was run",
            match (known.first(), known.last()) {
                (Some(a), Some(b)) => format!("the versions run from {a} to {b}"),
                _ => "there are no migrations".to_string(),
            }
        )));
    }
    Ok(match mode {
        Mode::Up => chosen(plan, mode)
            .into_iter()
            .filter(|v| v.as_str() <= to)
            .collect(),
        Mode::Down { .. } => chosen(plan, &Mode::Down { count: 0 })
            .into_iter()
            .filter(|v| v.as_str() > to)
            .collect(),
        _ => {
            return Err(Error::Usage(format!(
                "--to applies to up and down, not {}",
                mode.command()
            )));
        }
    })
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
    fn a(v: &str, sum: &str) -> Applied {
        Applied {
            version: v.into(),
            name: "m".into(),
            checksum: sum.into(),
            status: HistoryStatus::Applied,
            applied_at: "t".into(),
            execution_ms: 1,
            baselined: false,
        }
    }
    const V1: &str = "1700000000001";
    const V2: &str = "1700000000002";
    const V3: &str = "1700000000003";

    #[test]
    fn what_each_mode_runs() {
        let files = [f(V1), f(V2), f(V3)];
        let p = plan(&files, &[a(V1, "x"), a(V2, "x")]);
        let table: [(Mode, Vec<&str>); 5] = [
            (Mode::Up, vec![V3]),
            (Mode::Reset, vec![V1, V2, V3]),
            (Mode::Down { count: 1 }, vec![V2]),
            (Mode::Down { count: 0 }, vec![V2, V1]),
            (Mode::Down { count: 9 }, vec![V2, V1]),
        ];
        for (mode, want) in table {
            assert_eq!(chosen(&p, &mode), want, "{mode:?}");
        }
    }

    #[test]
    fn to_stops_up_at_the_target_and_down_just_above_it() {
        let files = [f(V1), f(V2), f(V3)];
        let none = plan(&files, &[]);
        assert_eq!(chosen_to(&none, &Mode::Up, Some(V2)).unwrap(), [V1, V2]);
        assert_eq!(chosen_to(&none, &Mode::Up, None).unwrap(), [V1, V2, V3]);
        let all = plan(&files, &[a(V1, "x"), a(V2, "x"), a(V3, "x")]);
        assert!(chosen_to(&all, &Mode::Up, Some(V2)).unwrap().is_empty());
        let down = Mode::Down { count: 1 };
        assert_eq!(chosen_to(&all, &down, Some(V1)).unwrap(), [V3, V2]);
        assert!(chosen_to(&all, &down, Some(V3)).unwrap().is_empty());
        for bad in ["1700000000009", "17", "latest"] {
            let e = chosen_to(&all, &Mode::Up, Some(bad)).unwrap_err();
            assert_eq!(e.code(), crate::error::Code::Usage, "{bad}");
        }
        assert!(chosen_to(&all, &Mode::Reset, Some(V1)).is_err());
    }

    #[test]
    fn a_disagreeing_history_refuses_all_but_reset() {
        let files = [f(V1), f(V2)];
        let p = plan(&files, &[a(V1, "edited")]);
        for mode in [Mode::Up, Mode::Down { count: 1 }] {
            let (problems, e) = history_refusal(&p, &mode).expect("refused");
            assert_eq!(problems[0].kind, "changed");
            assert_eq!(e.code(), crate::error::Code::Integrity);
        }
        assert!(history_refusal(&p, &Mode::Reset).is_none());
        assert!(history_refusal(&plan(&files, &[a(V1, "x")]), &Mode::Up).is_none());
    }

    #[test]
    fn long_problem_lists_are_cut_with_a_count() {
        let lines: Vec<String> = (0..25).map(|i| format!("p{i}")).collect();
        let s = listed(lines);
        assert!(s.contains("p19") && !s.contains("p20") && s.contains("and 5 more"));
    }
}
