//! `status`'s human listing: one line per migration, as the CLI prints it. Made here, from the
//! rows the core already holds, because at 10,000 migrations building the same lines in Node
//! meant parsing every row's JSON and collecting the garbage (about 25 ms of a 160 ms `status`).

use std::fmt::Write;

use crate::plan::{Row, State};

/// The state's name padded to 12, in its colour when `colors` (the CLI decides: a TTY, NO_COLOR,
/// FORCE_COLOR).
fn paint(colors: bool, state: State, out: &mut String) {
    let open = match state {
        State::Applied => "32",
        State::Pending | State::Ahead => "33",
        _ => "31",
    };
    let name = state.as_str();
    let _ = if colors {
        write!(out, "\x1b[{open}m{name:<12}\x1b[39m")
    } else {
        write!(out, "{name:<12}")
    };
}

/// `<version>  <state, padded to 12> <file or name>[ <applied at> (<ms> ms | baseline: ...)]`,
/// and a `fix:` line under a problem; every line ends with a newline.
pub fn listing(rows: &[Row], colors: bool) -> String {
    let mut out = String::with_capacity(rows.len() * 96);
    for r in rows {
        out.push_str(&r.version);
        out.push_str("  ");
        paint(colors, r.state, &mut out);
        out.push(' ');
        out.push_str(r.file.as_deref().unwrap_or(&r.name));
        if let Some(at) = &r.applied_at {
            let _ = if r.baselined {
                write!(out, " {at} (baseline: ran before godwit)")
            } else {
                match r.execution_ms {
                    Some(ms) => write!(out, " {at} ({ms} ms)"),
                    None => write!(out, " {at}"),
                }
            };
        }
        if let Some(fix) = &r.fix {
            out.push_str("\n    fix: ");
            out.push_str(fix);
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, state: State) -> Row {
        Row {
            version: version.into(),
            name: "widgets".into(),
            file: Some(format!("{version}_widgets.mjs")),
            state,
            applied_at: None,
            execution_ms: None,
            baselined: false,
            fix: None,
        }
    }

    #[test]
    fn every_row_is_one_line_with_its_state_padded_and_a_problem_says_its_fix() {
        let mut applied = row("1700000000001", State::Applied);
        applied.applied_at = Some("2026-12-03T09:00:00.000Z".into());
        applied.execution_ms = Some(12);
        let mut baselined = applied.clone();
        baselined.version = "1700000000002".into();
        baselined.file = None;
        baselined.baselined = true;
        let mut changed = row("1700000000003", State::Changed);
        changed.applied_at = Some("2026-12-03T09:00:01.000Z".into());
        changed.execution_ms = Some(0);
        changed.fix = Some("restore the file".into());
        let pending = row("1700000000004", State::Pending);
        let rows = [applied, baselined, changed, pending];
        assert_eq!(
            listing(&rows, false),
            "1700000000001  applied      1700000000001_widgets.mjs 2026-12-03T09:00:00.000Z (12 ms)\n\
             1700000000002  applied      widgets 2026-12-03T09:00:00.000Z (baseline: ran before godwit)\n\
             1700000000003  changed      1700000000003_widgets.mjs 2026-12-03T09:00:01.000Z (0 ms)\n    fix: restore the file\n\
             1700000000004  pending      1700000000004_widgets.mjs\n"
        );
        assert_eq!(
            listing(&rows[3..], true),
            "1700000000004  \x1b[33mpending     \x1b[39m 1700000000004_widgets.mjs\n"
        );
        assert!(listing(&rows[2..3], true).contains("\x1b[31mchanged     \x1b[39m"));
        assert!(listing(&rows[..1], true).contains("\x1b[32mapplied     \x1b[39m"));
        assert_eq!(listing(&[], true), "");
    }
}
