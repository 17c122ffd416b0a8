//! Files vs ledger vs base: the pure comparison behind "immutable after merge" and the integrity
//! ledger. No I/O: the inputs are what `source`, `ledger` and `base` read, the output is the
//! findings plus the ledger `check` should write (local mode only).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::files::base::{BaseSnapshot, NoBase};
use crate::files::ledger::{Ledger, LedgerProblem, LedgerState};
use crate::files::scan::{LEDGER_FILE, MigrationFile, parse_filename};
use crate::violation::{Violation, rule};

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Integrity {
    pub violations: Vec<Violation>,
    /// Files whose entry was added or updated (local mode).
    pub sealed: Vec<String>,
    /// Entries removed because their unmerged file is gone (local mode).
    pub unsealed: Vec<String>,
    /// The ledger to write, when anything changed and writing is allowed.
    #[serde(skip)]
    pub write: Option<Ledger>,
}

const RESEAL_HINT: &str =
    "run `pnpm db:migrate:check` locally and commit db/migrations/checksums.json";

/// What `up` asks before touching a database: do the files match the ledger exactly? The same
/// rules as a frozen `check` with nothing merged (the history table, not git, says what was
/// applied), minus canonical formatting, which is a style finding and not a safety one.
pub fn ledger_matches(migrations: &[MigrationFile], ledger: &LedgerState) -> Vec<Violation> {
    compare(migrations, ledger, &Err(NoBase::NoCommits), true)
        .violations
        .into_iter()
        .filter(|v| v.rule != rule::LEDGER_NOT_CANONICAL)
        .collect()
}

pub fn compare(
    migrations: &[MigrationFile],
    ledger: &LedgerState,
    base: &Result<BaseSnapshot, NoBase>,
    frozen: bool,
) -> Integrity {
    let mut c = Comparison::new(migrations, ledger, base, frozen);
    for m in migrations {
        if let Some(base_sum) = c.base_files.get(&m.file) {
            c.merged(m, base_sum);
        } else {
            c.new_file(m);
        }
    }
    c.orphan_entries();
    c.merged_deleted();
    c.finish()
}

/// One comparison's inputs, what it found, and the ledger it would write.
struct Comparison<'a> {
    migrations: &'a [MigrationFile],
    ledger: &'a LedgerState,
    base: &'a Result<BaseSnapshot, NoBase>,
    frozen: bool,
    current: Option<&'a Ledger>,
    /// The ledger can be compared entry by entry (it was read, or is absent where that is fine).
    usable: bool,
    base_files: &'a BTreeMap<String, String>,
    base_ledger: Option<&'a Ledger>,
    base_name: &'a str,
    /// Outside git nothing tells merged from new, so every entry counts as sealed.
    no_git: bool,
    max_base_version: Option<String>,
    /// How many ledger entries were some file's (file names are unique, so each counts once).
    entries_found: usize,
    /// The ledger to write back; only a local (unfrozen) run ever writes, so only it pays the copy.
    next: Ledger,
    out: Integrity,
}

static EMPTY: BTreeMap<String, String> = BTreeMap::new();

impl<'a> Comparison<'a> {
    fn new(
        migrations: &'a [MigrationFile],
        ledger: &'a LedgerState,
        base: &'a Result<BaseSnapshot, NoBase>,
        frozen: bool,
    ) -> Self {
        let mut out = Integrity::default();
        let current = Self::read(ledger, &mut out.violations);
        let missing_in_ci =
            matches!(ledger, LedgerState::Absent) && frozen && !migrations.is_empty();
        // With no ledger at all in CI, one finding says it; a missing entry per file would be noise.
        if missing_in_ci {
            out.violations.push(Violation::new(
                LEDGER_FILE,
                rule::LEDGER_MISSING,
                "there are migrations but no checksums.json",
                RESEAL_HINT,
            ));
        }
        let usable = matches!(ledger, LedgerState::Read(_))
            || (matches!(ledger, LedgerState::Absent) && !missing_in_ci);
        // Outside git nothing tells merged from new; in a repository without commits (or with
        // the base declared `none`) nothing is merged yet, so everything is new.
        let (base_files, base_ledger, base_name, no_git) = match base {
            Ok(b) => (&b.files, b.ledger.as_ref(), b.described.as_str(), false),
            Err(NoBase::NoCommits | NoBase::Declared) => (&EMPTY, None, "", false),
            Err(NoBase::NotAGitRepository | NoBase::GitMissing) => (&EMPTY, None, "", true),
        };
        let max_base_version = base_files
            .keys()
            .filter_map(|f| parse_filename(f).ok().map(|(ver, _)| ver))
            .max();
        Comparison {
            migrations,
            ledger,
            base,
            frozen,
            current,
            usable,
            base_files,
            base_ledger,
            base_name,
            no_git,
            max_base_version,
            entries_found: 0,
            next: if frozen {
                Ledger::default()
            } else {
                current.cloned().unwrap_or_default()
            },
            out,
        }
    }

    /// The ledger as read, or the finding that says why it cannot be.
    fn read(ledger: &'a LedgerState, v: &mut Vec<Violation>) -> Option<&'a Ledger> {
        match ledger {
            LedgerState::Read(p) => Some(&p.ledger),
            LedgerState::Absent => None,
            LedgerState::Problem(LedgerProblem::Corrupt(why)) => {
                v.push(Violation::new(
                    LEDGER_FILE,
                    rule::LEDGER_CORRUPT,
                    format!("the ledger is not valid: {why}"),
                    "restore it from version control (git checkout -- <dir>/checksums.json), then run `pnpm db:migrate:check`; godwit never rewrites a corrupt ledger",
                ));
                None
            }
            LedgerState::Problem(LedgerProblem::UnknownFormat(f)) => {
                v.push(Violation::new(
                    LEDGER_FILE,
                    rule::LEDGER_FORMAT,
                    format!(
                        "the ledger has format {f}; this godwit reads format {}",
                        crate::files::ledger::format::FORMAT
                    ),
                    "upgrade godwit to the version that wrote it, or restore the ledger from version control",
                ));
                None
            }
        }
    }

    /// `file`'s ledger entry, counted: when every entry was some file's, no entry is an orphan.
    fn entry(&mut self, file: &str) -> Option<&'a String> {
        let found = self.current.and_then(|l| l.entries.get(file));
        self.entries_found += usize::from(found.is_some());
        found
    }

    fn seal(&mut self, m: &MigrationFile) {
        self.next.entries.insert(m.file.clone(), m.checksum.clone());
        self.out.sealed.push(m.file.clone());
    }

    fn push(&mut self, v: Violation) {
        self.out.violations.push(v);
    }

    /// A merged file: its content and ledger entry are frozen at the base.
    fn merged(&mut self, m: &MigrationFile, base_sum: &str) {
        if base_sum != m.checksum {
            let commit = self
                .base
                .as_ref()
                .map(|b| b.commit.as_str())
                .unwrap_or("<base>");
            self.push(Violation::new(
                &m.file,
                rule::MERGED_EDITED,
                format!("was merged ({}) and has been edited since", self.base_name),
                format!(
                    "restore it (git checkout {commit} -- <dir>/{}) and put the change in a new migration: `pnpm db:migrate:create -- <name>`",
                    m.file
                ),
            ));
            return;
        }
        if !self.usable {
            return;
        }
        let base_entry = self.base_ledger.and_then(|l| l.entries.get(&m.file));
        match (self.entry(&m.file), base_entry) {
            (Some(e), Some(b)) if e != b => self.push(Violation::new(
                &m.file,
                rule::MERGED_LEDGER_ENTRY,
                format!(
                    "its ledger entry differs from the merged ledger ({})",
                    self.base_name
                ),
                "restore the entry from the base's checksums.json; merged entries never change",
            )),
            (Some(e), _) if *e != m.checksum => self.push(Violation::new(
                &m.file,
                rule::LEDGER_MISMATCH,
                "its ledger entry does not match the merged, unchanged file",
                "restore checksums.json from the base branch, then run `pnpm db:migrate:check`",
            )),
            (Some(_), _) => {}
            (None, _) if self.frozen => self.push(Violation::new(
                &m.file,
                rule::LEDGER_MISSING_ENTRY,
                "has no entry in checksums.json",
                RESEAL_HINT,
            )),
            (None, _) => self.seal(m),
        }
    }

    /// A file that is not in the base: newer than everything merged, and sealed (locally, also
    /// outside git: the author loop create, edit, check re-seals there, and the database still
    /// refuses a changed applied migration) or matching its entry (frozen).
    fn new_file(&mut self, m: &MigrationFile) {
        if let (false, Some(max)) = (self.no_git, &self.max_base_version) {
            if m.version <= *max {
                let max = max.clone();
                self.push(Violation::new(
                    &m.file,
                    rule::VERSION_NOT_NEWER,
                    format!("is new but its version is not newer than the newest merged migration ({max})"),
                    "history stays linear: re-create it with `pnpm db:migrate:create -- <name>`, move the SQL over and delete this file",
                ));
            }
        }
        if !self.usable {
            return;
        }
        match self.entry(&m.file) {
            Some(e) if *e == m.checksum => {}
            Some(_) if self.frozen => self.push(Violation::new(
                &m.file,
                rule::LEDGER_MISMATCH,
                "does not match its checksums.json entry",
                RESEAL_HINT,
            )),
            None if self.frozen => self.push(Violation::new(
                &m.file,
                rule::LEDGER_MISSING_ENTRY,
                "has no entry in checksums.json",
                RESEAL_HINT,
            )),
            _ => self.seal(m),
        }
    }

    /// Entries whose file is gone: dropped locally when never merged, reported otherwise.
    fn orphan_entries(&mut self) {
        let Some(cur) = self.current else { return };
        // the common case, every entry a file's: no set of 10,000 names to build and probe
        if self.entries_found == cur.entries.len() {
            return;
        }
        let on_disk: std::collections::HashSet<&str> =
            self.migrations.iter().map(|m| m.file.as_str()).collect();
        for file in cur.entries.keys() {
            if on_disk.contains(file.as_str()) || self.base_files.contains_key(file) {
                continue; // present, or reported as merged-deleted
            }
            let merged_entry = self
                .base_ledger
                .is_some_and(|l| l.entries.contains_key(file));
            if self.no_git || merged_entry || self.frozen {
                let hint = if self.frozen && !merged_entry && !self.no_git {
                    RESEAL_HINT.to_string()
                } else {
                    "restore the migration file, or, if it never reached any database, delete the entry".to_string()
                };
                self.push(Violation::new(
                    file.as_str(),
                    rule::LEDGER_ORPHAN_ENTRY,
                    "has an entry in checksums.json but no file",
                    hint,
                ));
            } else {
                self.next.entries.remove(file);
                self.out.unsealed.push(file.clone());
            }
        }
    }

    /// Merged files that are gone (or were renamed).
    fn merged_deleted(&mut self) {
        if self.base_files.is_empty() {
            return; // nothing merged (`up`, a repository without commits): nothing can be gone
        }
        let on_disk: std::collections::HashSet<&str> =
            self.migrations.iter().map(|m| m.file.as_str()).collect();
        let by_version: std::collections::HashMap<&str, &MigrationFile> = self
            .migrations
            .iter()
            .map(|m| (m.version.as_str(), m))
            .collect();
        let mut found = Vec::new();
        for file in self
            .base_files
            .keys()
            .filter(|f| !on_disk.contains(f.as_str()))
        {
            let renamed = parse_filename(file)
                .ok()
                .and_then(|(ver, _)| by_version.get(ver.as_str()).copied())
                .map(|m| format!(" (renamed to {}?)", m.file))
                .unwrap_or_default();
            found.push(Violation::new(
                file.as_str(),
                rule::MERGED_DELETED,
                format!("was merged ({}) and is gone{renamed}", self.base_name),
                "restore it from the base branch; merged migrations are never deleted or renamed, add a new migration instead",
            ));
        }
        self.out.violations.extend(found);
    }

    /// The canonical-form finding, the ledger to write (local mode), findings in order.
    fn finish(mut self) -> Integrity {
        let canonical = matches!(self.ledger, LedgerState::Read(p) if p.canonical());
        if let (LedgerState::Read(_), false, true) = (self.ledger, canonical, self.frozen) {
            self.push(Violation::new(
                LEDGER_FILE,
                rule::LEDGER_NOT_CANONICAL,
                "checksums.json is valid but not in canonical form (sorted, two-space indented)",
                RESEAL_HINT,
            ));
        }
        let changed = !self.out.sealed.is_empty() || !self.out.unsealed.is_empty();
        let should_write = !self.frozen
            && self.usable
            && (changed || (matches!(self.ledger, LedgerState::Read(_)) && !canonical));
        if should_write {
            self.out.write = Some(self.next);
        }
        self.out
            .violations
            .sort_by(|a, b| a.file.cmp(&b.file).then(a.rule.cmp(&b.rule)));
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::ledger::format::{parse, render};

    const S1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
    const S2: &str = "2222222222222222222222222222222222222222222222222222222222222222";
    const S3: &str = "3333333333333333333333333333333333333333333333333333333333333333";

    fn mf(file: &str, sum: &str) -> MigrationFile {
        let (version, name) = parse_filename(file).unwrap();
        MigrationFile {
            file: file.into(),
            version,
            name,
            checksum: sum.into(),
        }
    }
    fn ledger(pairs: &[(&str, &str)]) -> Ledger {
        Ledger {
            entries: pairs
                .iter()
                .map(|(f, s)| (f.to_string(), s.to_string()))
                .collect(),
        }
    }
    fn read(pairs: &[(&str, &str)]) -> LedgerState {
        LedgerState::Read(parse(&render(&ledger(pairs))).expect("a rendered ledger parses"))
    }
    fn base(files: &[(&str, &str)], led: Option<&[(&str, &str)]>) -> Result<BaseSnapshot, NoBase> {
        Ok(BaseSnapshot {
            described: "origin/main".into(),
            commit: "abc".into(),
            files: files
                .iter()
                .map(|(f, s)| (f.to_string(), s.to_string()))
                .collect(),
            ledger: led.map(ledger),
        })
    }
    fn rules(i: &Integrity) -> Vec<(&str, &str)> {
        i.violations
            .iter()
            .map(|v| (v.file.as_str(), v.rule.as_str()))
            .collect()
    }

    const A: &str = "1700000000001_a.mjs";
    const B: &str = "1700000000002_b.mjs";
    const C: &str = "1700000000003_c.mjs";

    #[test]
    fn new_migration_is_sealed_locally_and_stale_in_ci() {
        let files = [mf(A, S1), mf(B, S2)];
        let led = read(&[(A, S1)]);
        let b = base(&[(A, S1)], Some(&[(A, S1)]));
        let local = compare(&files, &led, &b, false);
        assert!(local.violations.is_empty(), "{:?}", local.violations);
        assert_eq!(local.sealed, [B]);
        assert_eq!(local.write.unwrap(), ledger(&[(A, S1), (B, S2)]));

        let ci = compare(&files, &led, &b, true);
        assert_eq!(rules(&ci), [(B, rule::LEDGER_MISSING_ENTRY)]);
        assert!(ci.write.is_none());
    }

    #[test]
    fn unmerged_migration_edited_is_resealed_locally() {
        let files = [mf(A, S1), mf(B, S3)];
        let led = read(&[(A, S1), (B, S2)]);
        let b = base(&[(A, S1)], Some(&[(A, S1)]));
        let local = compare(&files, &led, &b, false);
        assert!(local.violations.is_empty());
        assert_eq!(local.sealed, [B]);
        let ci = compare(&files, &led, &b, true);
        assert_eq!(rules(&ci), [(B, rule::LEDGER_MISMATCH)]);
    }

    #[test]
    fn edited_merged_migration_fails_in_both_modes_even_resealed() {
        let files = [mf(A, S3)];
        let b = base(&[(A, S1)], Some(&[(A, S1)]));
        for frozen in [false, true] {
            for led in [read(&[(A, S1)]), read(&[(A, S3)])] {
                let i = compare(&files, &led, &b, frozen);
                assert_eq!(rules(&i), [(A, rule::MERGED_EDITED)], "frozen={frozen}");
                assert!(i.write.is_none());
            }
        }
    }

    #[test]
    fn deleted_or_renamed_merged_migration() {
        let b = base(&[(A, S1)], Some(&[(A, S1)]));
        let i = compare(&[], &read(&[(A, S1)]), &b, false);
        assert_eq!(rules(&i), [(A, rule::MERGED_DELETED)]);
        let renamed = mf("1700000000001_renamed.mjs", S1);
        let i = compare(&[renamed], &read(&[(A, S1)]), &b, true);
        assert!(i.violations.iter().any(|v| v.rule == rule::MERGED_DELETED
            && v.message.contains("renamed to 1700000000001_renamed.mjs")));
    }

    #[test]
    fn merged_ledger_entry_is_frozen() {
        let b = base(&[(A, S1)], Some(&[(A, S1)]));
        let i = compare(&[mf(A, S1)], &read(&[(A, S2)]), &b, false);
        assert_eq!(rules(&i), [(A, rule::MERGED_LEDGER_ENTRY)]);
    }

    #[test]
    fn new_migration_older_than_base_is_not_linear() {
        let b = base(&[(B, S2)], Some(&[(B, S2)]));
        let i = compare(
            &[mf(A, S1), mf(B, S2)],
            &read(&[(A, S1), (B, S2)]),
            &b,
            false,
        );
        assert_eq!(rules(&i), [(A, rule::VERSION_NOT_NEWER)]);
    }

    #[test]
    fn orphan_entries_dropped_locally_when_unmerged_reported_otherwise() {
        let b = base(&[(A, S1)], Some(&[(A, S1)]));
        let led = read(&[(A, S1), (C, S3)]);
        let local = compare(&[mf(A, S1)], &led, &b, false);
        assert!(local.violations.is_empty());
        assert_eq!(local.unsealed, [C]);
        assert_eq!(local.write.unwrap(), ledger(&[(A, S1)]));
        let ci = compare(&[mf(A, S1)], &led, &b, true);
        assert_eq!(rules(&ci), [(C, rule::LEDGER_ORPHAN_ENTRY)]);
        let nogit = compare(&[mf(A, S1)], &led, &Err(NoBase::NotAGitRepository), false);
        assert_eq!(rules(&nogit), [(C, rule::LEDGER_ORPHAN_ENTRY)]);
    }

    #[test]
    fn an_orphan_entry_is_found_when_every_file_has_its_entry_too() {
        // what `up` asks: every file found its entry, one entry is left over
        let led = read(&[(A, S1), (B, S2), (C, S3)]);
        let up = ledger_matches(&[mf(A, S1), mf(C, S3)], &led);
        assert_eq!(
            up.iter()
                .map(|v| (v.file.as_str(), v.rule.as_str()))
                .collect::<Vec<_>>(),
            [(B, rule::LEDGER_ORPHAN_ENTRY)]
        );
        // a merged file that was edited never reads its entry: the leftover is still found
        let b = base(&[(A, S1)], Some(&[(A, S1), (C, S3)]));
        let i = compare(&[mf(A, S2)], &read(&[(A, S1), (C, S3)]), &b, true);
        assert_eq!(
            rules(&i),
            [(A, rule::MERGED_EDITED), (C, rule::LEDGER_ORPHAN_ENTRY)]
        );
    }

    #[test]
    fn outside_git_frozen_every_entry_is_sealed_and_locally_edits_reseal() {
        let nb = Err(NoBase::NotAGitRepository);
        let i = compare(&[mf(A, S2), mf(B, S2)], &read(&[(A, S1)]), &nb, true);
        assert_eq!(
            rules(&i),
            [(A, rule::LEDGER_MISMATCH), (B, rule::LEDGER_MISSING_ENTRY)]
        );
        let local = compare(&[mf(A, S2), mf(B, S2)], &read(&[(A, S1)]), &nb, false);
        assert!(local.violations.is_empty());
        assert_eq!(local.sealed, [A, B]);
    }

    #[test]
    fn repository_without_commits_has_nothing_merged() {
        let i = compare(
            &[mf(A, S2)],
            &read(&[(A, S1)]),
            &Err(NoBase::NoCommits),
            false,
        );
        assert!(i.violations.is_empty());
        assert_eq!(i.sealed, [A]);
        let i = compare(
            &[mf(A, S2)],
            &read(&[(A, S1)]),
            &Err(NoBase::NoCommits),
            true,
        );
        assert_eq!(rules(&i), [(A, rule::LEDGER_MISMATCH)]);
    }

    #[test]
    fn corrupt_or_unknown_ledger_is_reported_and_never_written() {
        let nb = Err(NoBase::NotAGitRepository);
        let corrupt = LedgerState::Problem(LedgerProblem::Corrupt("EOF".into()));
        let i = compare(&[mf(A, S1)], &corrupt, &nb, false);
        assert_eq!(rules(&i), [(LEDGER_FILE, rule::LEDGER_CORRUPT)]);
        assert!(i.write.is_none());
        let unknown = LedgerState::Problem(LedgerProblem::UnknownFormat("2".into()));
        let i = compare(&[mf(A, S1)], &unknown, &nb, false);
        assert_eq!(rules(&i), [(LEDGER_FILE, rule::LEDGER_FORMAT)]);
        assert!(i.write.is_none());
    }

    #[test]
    fn missing_ledger_is_created_locally_and_a_violation_in_ci() {
        let nb = Err(NoBase::NotAGitRepository);
        let i = compare(&[mf(A, S1)], &LedgerState::Absent, &nb, false);
        assert!(i.violations.is_empty());
        assert_eq!(i.write.unwrap(), ledger(&[(A, S1)]));
        let i = compare(&[mf(A, S1)], &LedgerState::Absent, &nb, true);
        assert_eq!(rules(&i), [(LEDGER_FILE, rule::LEDGER_MISSING)]);
        let i = compare(&[], &LedgerState::Absent, &nb, true);
        assert!(i.violations.is_empty());
    }

    #[test]
    fn non_canonical_ledger_is_rewritten_locally_and_refused_in_ci() {
        let nb = Err(NoBase::NoCommits);
        // valid, one entry, not two-space indented
        let text = format!("{{\"format\": 1, \"migrations\": {{\"{A}\": \"{S1}\"}}}}");
        let led = LedgerState::Read(parse(&text).expect("a valid ledger"));
        let i = compare(&[mf(A, S1)], &led, &nb, false);
        assert!(i.violations.is_empty());
        assert!(i.write.is_some());
        let i = compare(&[mf(A, S1)], &led, &nb, true);
        assert_eq!(rules(&i), [(LEDGER_FILE, rule::LEDGER_NOT_CANONICAL)]);
    }
}
