//! Property tests over the pure parsers (file names, the ledger, durations, connection strings,
//! SQL splitting, the plan, the literal module reader): arbitrary input never panics, and each parser keeps its promise.
//! Run by `cargo test` with a bounded number of cases. proptest writes any failing input to
//! `proptest-regressions/`; commit that file, so a crash found once stays a regression test
//! (none has been found so far, so there is none yet).
//! Test code only (also `#[cfg(test)] mod fuzz` in lib.rs): its `unwrap`s are assertions and are
//! never compiled into the addon.
#![cfg(test)]

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::contract::{literal, sql};
use crate::db::conn;
use crate::duration;
use crate::files::ledger::format::{self as ledger, Ledger};
use crate::files::scan::{self as source, FILENAME_PATTERN, MigrationFile};
use crate::plan::{self, Applied, HistoryStatus};
use crate::settings::Env;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: std::env::var("GODWIT_FUZZ_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500),
        ..ProptestConfig::default()
    }
}

/// File names near the contract: mostly valid pieces, with the mistakes people make.
fn near_filename() -> impl Strategy<Value = String> {
    (
        "[0-9]{11,15}",
        prop_oneof![Just("_"), Just("-"), Just(""), Just("__")],
        "[a-zA-Z0-9_ .ü-]{0,12}",
        prop_oneof![
            Just(".mjs"),
            Just(".js"),
            Just(".MJS"),
            Just(""),
            Just(".mjs~"),
            Just(".sql")
        ],
    )
        .prop_map(|(d, sep, name, ext)| format!("{d}{sep}{name}{ext}"))
}

fn sha() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}"
}

/// Module text near the literal reader's grammar: its pieces (escapes, quotes, comments, brackets,
/// non-ASCII, line separators) in any order, after a real declaration's start.
fn near_module() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("export const up = "),
        Just("export const config = "),
        Just("'"),
        Just("\""),
        Just("`"),
        Just("\\"),
        Just("\\u{"),
        Just("\\x"),
        Just("${"),
        Just("["),
        Just("]"),
        Just("{"),
        Just("}"),
        Just(":"),
        Just(","),
        Just(";"),
        Just("/*"),
        Just("*/"),
        Just("//"),
        Just("\n"),
        Just("\r"),
        Just("\u{2028}"),
        Just("é😀"),
        Just("0"),
        Just("9007199254740993"),
        Just("true"),
        Just("a"),
    ];
    proptest::collection::vec(piece, 0..40)
        .prop_map(|p| format!("export const up = {}", p.concat()))
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_literal_reader_never_panics_and_what_it_reads_has_up(
        text in prop_oneof![near_module(), any::<String>()],
        cut in 0usize..200,
    ) {
        for t in [text.as_str(), text.get(..cut.min(text.len())).unwrap_or("")] {
            if let Some(r) = literal::read("f.mjs", t) {
                prop_assert!(r.up.is_some(), "{t:?}");
                prop_assert!(r.failure.is_none());
                prop_assert_eq!(r.file.as_str(), "f.mjs");
            }
        }
    }

    #[test]
    fn filename_contract_is_exactly_the_playbook_pattern(file in prop_oneof![near_filename(), any::<String>()]) {
        let oracle = regex::RegexBuilder::new(FILENAME_PATTERN).unicode(false).build().unwrap();
        match source::parse_filename(&file) {
            Ok((version, name)) => {
                prop_assert!(oracle.is_match(&file), "accepted {file:?}");
                prop_assert_eq!(format!("{version}_{name}.mjs"), file);
                prop_assert_eq!(version.len(), 13);
            }
            Err(why) => {
                prop_assert!(!oracle.is_match(&file), "refused {file:?}: {why}");
                prop_assert!(!why.is_empty());
            }
        }
    }

    #[test]
    fn every_suggested_name_is_a_valid_name(name in prop_oneof![near_filename(), any::<String>(), "[a-zA-Zàéîõüßøł .-]{0,20}(\\.mjs)?"]) {
        let suggested = source::suggest_name(&name);
        prop_assert!(source::is_valid_name(&suggested), "{name:?} -> {suggested:?}");
    }

    #[test]
    fn ledger_render_then_parse_gives_the_same_ledger(entries in proptest::collection::btree_map("[0-9]{13}_[a-z0-9_]{1,12}\\.mjs", sha(), 0..40)) {
        let l = Ledger { entries: entries.into_iter().collect::<BTreeMap<_, _>>() };
        let text = ledger::render(&l);
        let parsed = ledger::parse(&text).unwrap();
        prop_assert_eq!(&parsed.ledger, &l);
        prop_assert!(parsed.canonical());
        // a CRLF checkout and a BOM are the same ledger
        let crlf = format!("\u{feff}{}", text.replace('\n', "\r\n"));
        prop_assert_eq!(ledger::parse(&crlf).unwrap().ledger, l);
    }

    #[test]
    fn ledger_parse_never_panics_on_mangled_text(
        entries in proptest::collection::btree_map("[0-9]{13}_[a-z]{1,6}\\.mjs", sha(), 0..8),
        cut in any::<prop::sample::Index>(),
        insert in any::<String>(),
        junk in any::<String>(),
    ) {
        let text = ledger::render(&Ledger { entries });
        let at = cut.index(text.len() + 1);
        let at = (0..=at).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
        let _ = ledger::parse(&format!("{}{insert}{}", &text[..at], &text[at..]));
        let _ = ledger::parse(&text[..at]);
        let _ = ledger::parse(&junk);
    }

    #[test]
    fn durations_never_panic_and_units_scale(text in any::<String>(), n in 0u32..100_000, unit in prop_oneof![Just(("ms", 1u64)), Just(("s", 1_000)), Just(("min", 60_000)), Just(("h", 3_600_000)), Just(("", 1))]) {
        let _ = duration::parse_ms(&text);
        let (u, factor) = unit;
        let want = u64::from(n) * factor;
        match duration::parse_ms(&format!("{n}{u}")) {
            Ok(ms) => prop_assert_eq!(ms, want),
            Err(_) => prop_assert!(want > i32::MAX as u64, "{n}{u} refused"),
        }
    }

    #[test]
    fn connection_strings_never_panic_and_never_show_the_password(
        url in any::<String>(),
        user in "[a-z]{1,8}",
        password in "[A-Za-z0-9!*@:/%?#]{6,20}",
        host in "[a-z][a-z0-9.-]{0,20}",
        params in "(sslmode=(disable|prefer|require|verify-ca|verify-full|bogus)&?){0,2}",
    ) {
        let _ = conn::from_env(&Env::from_pairs([("DATABASE_URL", url.clone())]));
        // arbitrary text where godwit percent-decodes: the parameters it takes off the URL
        let _ = conn::from_env(&Env::from_pairs([("DATABASE_URL", format!("postgres://u@h/db?sslrootcert={url}&passfile=%{url}"))]));
        let full = format!("postgres://{user}:{}@{host}:5432/db?{params}", urlencode(&password));
        if let Ok(s) = conn::from_env(&Env::from_pairs([("DATABASE_URL", full.clone())])) {
            prop_assert!(!s.display().contains(&password));
            prop_assert!(!s.display().contains(&urlencode(&password)));
        }
        let message = format!("failed for {full}: rejected {password}");
        let redacted = conn::redact_message(&message, &full);
        prop_assert!(!redacted.contains(&full));
        let _ = conn::parse_options(&url);
    }

    #[test]
    fn sql_split_never_panics_and_lines_agree(text in any::<String>(), more in proptest::collection::vec(any::<String>(), 0..3)) {
        let mut chunks = vec![text.clone()];
        chunks.extend(more);
        let split = sql::split(&chunks);
        for s in &split.statements {
            prop_assert!(s.chunk < chunks.len());
            prop_assert_eq!(sql::line_of(&chunks[s.chunk], s.start), s.line);
        }
        let index = sql::LineIndex::new(&text);
        for offset in (0..=text.len()).step_by(7) {
            prop_assert_eq!(index.line(offset), sql::line_of(&text, offset));
        }
    }

    #[test]
    fn the_plan_never_panics_and_names_every_file_once(
        files in proptest::collection::btree_map(1u64..60, "[ab]", 0..20),
        applied in proptest::collection::vec((1u64..60, "[ab]", prop_oneof![Just("applied"), Just("failed"), Just("reverted")]), 0..20),
    ) {
        let files: Vec<MigrationFile> = files.into_iter().map(|(v, sum)| {
            let version = format!("{:013}", 1_700_000_000_000 + v);
            MigrationFile { file: format!("{version}_m.mjs"), version, name: "m".into(), checksum: sum }
        }).collect();
        // the history holds at most one live row per version (the partial unique index)
        let mut live = std::collections::HashSet::new();
        let applied: Vec<Applied> = applied.into_iter().filter(|(v, _, st)| *st == "reverted" || live.insert(*v)).map(|(v, sum, st)| Applied {
            version: format!("{:013}", 1_700_000_000_000 + v),
            name: "m".into(),
            checksum: sum,
            status: HistoryStatus::parse(st).unwrap_or(HistoryStatus::Applied),
            applied_at: "t".into(),
            execution_ms: 1,
            baselined: false,
        }).collect();
        let p = plan::plan(&files, &applied);
        for f in &files {
            prop_assert_eq!(p.rows.iter().filter(|r| r.file.as_deref() == Some(f.file.as_str())).count(), 1);
        }
        for r in &p.rows {
            prop_assert_eq!(r.fix.is_some(), r.state.is_problem());
        }
        prop_assert!(p.rows.windows(2).all(|w| w[0].version <= w[1].version));
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
