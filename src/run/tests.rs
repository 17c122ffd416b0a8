//! The runner's decisions, table-tested against the scripted fake (`fake.rs`): what it runs, what
//! it records for each mode and result, what a stop means, how a lost session is resolved, and
//! how a lost lock stops it. The end-to-end suites run the same paths on a real PostgreSQL.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::watch;

use super::fake::{Act, FakeConnector, World};
use super::report::EntryState;
use super::{Runner, ToRender};
use crate::contract::modules::Rendered;
use crate::db::DbError;
use crate::error::Code;
use crate::files::checksum::checksum;
use crate::files::ledger::{Ledger, write_ledger};
use crate::plan::HistoryStatus;
use crate::settings::{Env, Flags, Mode, resolve};

const V1: &str = "1700000000001";
const V2: &str = "1700000000002";
const V3: &str = "1700000000003";

/// A migrations folder with one module per `(version, up SQL, transactional)`, sealed.
struct Project {
    dir: PathBuf,
    files: Vec<(String, String, bool)>,
}

impl Project {
    fn new(migrations: &[(&str, &str, bool)]) -> Project {
        let dir = std::env::temp_dir().join(format!(
            "godwit-runner-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ledger = Ledger::default();
        let mut files = Vec::new();
        for (i, (v, sql, tx)) in migrations.iter().enumerate() {
            let file = format!("{v}_m.mjs");
            // what `rendered` gives for it: every other one a module of literals, which the core
            // reads itself, the rest an expression left to Node (here, to `rendered`)
            let down = format!("SELECT 'down {file}'");
            let config = if *tx {
                ""
            } else {
                "export const config = { transaction: false }\n"
            };
            let up = if i % 2 == 0 {
                format!("{sql:?}")
            } else {
                format!("[{sql:?}][0]")
            };
            let text = format!("export const up = {up}\nexport const down = {down:?}\n{config}");
            std::fs::write(dir.join(&file), &text).unwrap();
            ledger
                .entries
                .insert(file.clone(), checksum(text.as_bytes()));
            files.push((file, sql.to_string(), *tx));
        }
        write_ledger(&dir, &ledger).unwrap();
        Project { dir, files }
    }

    fn rendered(&self, chosen: &[ToRender]) -> Vec<Rendered> {
        chosen
            .iter()
            .map(|t| {
                let (_, sql, tx) = self.files.iter().find(|f| f.0 == t.file).unwrap();
                Rendered {
                    file: t.file.clone(),
                    failure: None,
                    up: Some(vec![sql.clone()]),
                    down: Some(vec![format!("SELECT 'down {}'", t.file)]),
                    config: (!tx).then(|| serde_json::json!({"transaction": false})),
                }
            })
            .collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

struct Run {
    runner: Runner<FakeConnector>,
    signal: watch::Sender<Option<String>>,
    project: Project,
}

fn run(project: Project, world: &World, mode: Mode) -> Run {
    run_within(project, world, mode, "30")
}

fn run_within(project: Project, world: &World, mode: Mode, budget: &str) -> Run {
    let artifacts = project.dir.join(".artifacts");
    let flags = Flags {
        dir: Some(project.dir.display().to_string()),
        artifacts_dir: Some(artifacts.display().to_string()),
        sha: Some("test".into()),
        mode,
        allow_non_local: true,
        ..Flags::default()
    };
    let env = Env::from_pairs([
        ("DATABASE_URL", "postgres://app@127.0.0.1/db".to_string()),
        ("MIGRATION_TIMEOUT_SECONDS", budget.to_string()),
    ]);
    let settings = resolve::run(&flags, &env);
    // what the fake's history reports for each version: the files' checksums
    for (file, _, _) in &project.files {
        let text = std::fs::read(project.dir.join(file)).unwrap();
        world.with(|s| s.checksums.insert(file[..13].to_string(), checksum(&text)));
    }
    let (tx, rx) = watch::channel(None);
    Run {
        runner: Runner::new(settings, Some(FakeConnector(world.clone())), rx),
        signal: tx,
        project,
    }
}

impl Run {
    /// start -> apply -> finish; the report as JSON.
    async fn go(&mut self) -> serde_json::Value {
        if let Ok(chosen) = self.runner.start().await {
            let rendered = self.project.rendered(&chosen);
            let _ = self.runner.apply(rendered).await;
        }
        serde_json::to_value(self.runner.finish().await).unwrap()
    }

    fn states(&self) -> Vec<EntryState> {
        self.runner
            .report
            .migrations
            .iter()
            .map(|m| m.state)
            .collect()
    }

    fn code(&self) -> Option<Code> {
        self.runner.report.error.as_ref().map(|e| e.code)
    }
}

fn error(sqlstate: &str, message: &str) -> DbError {
    DbError {
        sqlstate: Some(sqlstate.into()),
        message: message.into(),
        ..Default::default()
    }
}

/// Three migrations, the second non-transactional: a literal module, an expression, a literal.
fn three() -> Project {
    Project::new(&[
        (V1, "SELECT 101", true),
        (V2, "SELECT 102", false),
        (V3, "SELECT 103", true),
    ])
}

#[tokio::test]
async fn modules_of_literals_are_read_by_the_core_and_only_the_others_go_to_node() {
    let world = World::default();
    let p = three();
    let mut r = run(p, &world, Mode::Up);
    let chosen = r.runner.start().await.unwrap();
    let files: Vec<&str> = chosen.iter().map(|t| t.file.as_str()).collect();
    assert_eq!(files, [format!("{V2}_m.mjs")]);
    // Node's rendering of the one and the core's of the others run together, in order
    let rendered = r.project.rendered(&chosen);
    r.runner.apply(rendered).await.unwrap();
    assert_eq!(r.states(), [EntryState::Applied; 3]);
    let ran: Vec<String> = world
        .log()
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| s.contains("SELECT 10"))
        .collect();
    assert_eq!(ran.len(), 3, "{ran:?}");
    for (i, sql) in ["SELECT 101", "SELECT 102", "SELECT 103"]
        .iter()
        .enumerate()
    {
        assert!(ran[i].contains(sql), "{ran:?}");
    }
}

#[tokio::test]
async fn applies_every_pending_migration_in_order_and_a_second_run_is_a_noop() {
    let world = World::default();
    let p = three();
    let mut r = run(p, &world, Mode::Up);
    let report = r.go().await;
    assert_eq!(report["outcome"], "applied", "{report}");
    assert_eq!(world.live().len(), 3);
    assert_eq!(r.states(), [EntryState::Applied; 3]);
    // every batch starts from the job's session and checks the lock
    let batches: Vec<String> = world
        .log()
        .into_iter()
        .map(|(_, s)| s)
        .filter(|s| s.contains("SELECT 101") || s.contains("SELECT 103"))
        .collect();
    assert!(
        batches
            .iter()
            .all(|b| b.contains("RESET ALL")
                && b.matches(super::batch::LOCK_LOST_MARKER).count() == 1)
    );
    // the non-transactional one was recorded with parameters, after it ran
    assert!(
        world
            .log()
            .iter()
            .any(|(_, s)| s == &format!("record {V2} applied"))
    );
    // the lock was released at the end
    assert_eq!(world.with(|s| s.holder), None);
    let again = run(
        Project::new(&[
            (V1, "SELECT 101", true),
            (V2, "SELECT 102", false),
            (V3, "SELECT 103", true),
        ]),
        &world,
        Mode::Up,
    )
    .go()
    .await;
    assert_eq!(again["outcome"], "nothing-to-do");
}

/// A migration that releases the migration lock (pg_advisory_unlock_all, DISCARD ALL) is rolled
/// back by the lock check before its history row, and the run stops: fail closed.
/// A pooler moved the run (the second migration's same-session check failed on another server
/// session), then lent it its own session again for the unlock: the lock is released, and the
/// error says so instead of "the migration lock stays with server session ...".
#[tokio::test]
async fn a_moved_run_whose_unlock_reaches_its_session_again_says_the_lock_was_released() {
    let world = World::default();
    let moved = format!(
        "invalid input syntax for type integer: \"{}97\"",
        crate::db::pooler::MOVED_MARKER
    );
    world.script("SELECT 102", Act::Fail(error("22P02", &moved)));
    let mut r = run(
        Project::new(&[(V1, "SELECT 101", true), (V2, "SELECT 102", true)]),
        &world,
        Mode::Up,
    );
    r.go().await;
    assert_eq!(r.code(), Some(Code::Config));
    let message = r.runner.report.error.clone().unwrap().message;
    assert!(message.contains(", then on 97)"), "{message}");
    assert!(
        message.contains(
            "the migration lock was released after all: the run's unlock reached server session"
        ),
        "{message}"
    );
    assert!(!message.contains("stays with"), "{message}");
    assert_eq!(world.with(|s| s.holder), None, "released, as it says");
    assert_eq!(r.states(), [EntryState::Applied, EntryState::Pending]);
}

#[tokio::test]
async fn a_migration_that_releases_the_lock_is_rolled_back_and_stops_the_run() {
    let world = World::default();
    world.script("SELECT 102", Act::Unlock);
    let mut r = run(
        Project::new(&[
            (V1, "SELECT 101", true),
            (V2, "SELECT 102", true),
            (V3, "SELECT 103", true),
        ]),
        &world,
        Mode::Up,
    );
    let report = r.go().await;
    assert_eq!(r.code(), Some(Code::LockLost));
    assert_eq!(report["outcome"], "lock-lost");
    assert_eq!(report["error"]["exitCode"], 3);
    assert_eq!(
        r.states(),
        [
            EntryState::Applied,
            EntryState::Cancelled,
            EntryState::Pending
        ]
    );
    assert_eq!(world.live(), [(V1.to_string(), HistoryStatus::Applied)]);
}

#[tokio::test]
async fn a_lock_lost_outside_a_migration_stops_before_the_next_one_runs() {
    let world = World::default();
    let mut r = run(
        Project::new(&[(V1, "SELECT 101", false), (V2, "SELECT 102", true)]),
        &world,
        Mode::Up,
    );
    // the non-transactional migration's statement releases the lock (DISCARD ALL)
    world.script("SELECT 101", Act::Unlock);
    r.go().await;
    assert_eq!(r.code(), Some(Code::LockLost));
    // it ran, so it is recorded; the next one never started
    assert_eq!(r.states(), [EntryState::Applied, EntryState::Pending]);
    assert_eq!(world.live(), [(V1.to_string(), HistoryStatus::Applied)]);
    assert!(!world.log().iter().any(|(_, s)| s.contains("SELECT 102")));
}

/// A lost answer is resolved by a fresh session, which queues for the lock before the lost
/// session is ended: no waiting runner can slip in between.
#[tokio::test]
async fn a_lost_session_is_resolved_by_a_fresh_session_that_takes_the_lock_first() {
    let cases = [
        (Act::CommitThenLose, EntryState::Applied, 2),
        (Act::Lose, EntryState::Cancelled, 1),
    ];
    for (act, state, live) in cases {
        let world = World::default();
        world.script("SELECT 102", act);
        let mut r = run(
            Project::new(&[
                (V1, "SELECT 101", true),
                (V2, "SELECT 102", true),
                (V3, "SELECT 103", true),
            ]),
            &world,
            Mode::Up,
        );
        r.go().await;
        assert_eq!(r.code(), Some(Code::ConnectionLost));
        assert_eq!(
            r.states(),
            [EntryState::Applied, state, EntryState::Pending]
        );
        assert_eq!(world.live().len(), live);
        let log = world.log();
        let queued = log
            .iter()
            .position(|(_, s)| s == "lock queued")
            .expect("the fresh session queued for the lock");
        let ended = log
            .iter()
            .position(|(_, s)| s.starts_with("end backend"))
            .expect("the lost session was ended");
        assert!(queued < ended, "{log:?}");
        assert_eq!(
            world.with(|s| s.holder),
            None,
            "the fresh session released the lock"
        );
    }
}

#[tokio::test]
async fn a_lost_session_that_no_fresh_session_can_explain_is_unknown() {
    let world = World::default();
    world.script("SELECT 102", Act::Lose);
    let mut r = run_within(
        Project::new(&[(V1, "SELECT 101", true), (V2, "SELECT 102", true)]),
        &world,
        Mode::Up,
        "2",
    );
    let started = r.runner.start().await.unwrap();
    world.with(|s| s.refuse_connections = true);
    let _ = r.runner.apply(r.project.rendered(&started)).await;
    assert_eq!(r.code(), Some(Code::ConnectionLost));
    // the first committed without waiting for the WAL flush, and no session can confirm it now
    assert_eq!(r.states(), [EntryState::Unknown, EntryState::Unknown]);
    let message = r.runner.report.error.clone().unwrap().message;
    assert!(message.contains("is unknown until it answers"), "{message}");
}

/// Non-transactional: the failed row is written by a fresh session holding the lock; a write
/// that fails is an error (never ignored).
#[tokio::test]
async fn non_transactional_results_are_recorded_and_a_failed_write_is_an_error() {
    let world = World::default();
    world.script("CREATE INDEX", Act::Lose);
    let mut r = run(
        Project::new(&[(V1, "CREATE INDEX CONCURRENTLY i ON t (a)", false)]),
        &world,
        Mode::Up,
    );
    r.go().await;
    assert_eq!(r.states(), [EntryState::Failed]);
    assert_eq!(world.live(), [(V1.to_string(), HistoryStatus::Failed)]);
    let log = world.log();
    let queued = log.iter().position(|(_, s)| s == "lock queued").unwrap();
    let ended = log
        .iter()
        .position(|(_, s)| s.starts_with("end backend"))
        .unwrap();
    let recorded = log
        .iter()
        .position(|(_, s)| s.starts_with("record"))
        .unwrap();
    assert!(queued < ended && ended < recorded, "{log:?}");

    let world = World::default();
    world.script(
        "CREATE INDEX",
        Act::Fail(error("23505", "could not create unique index")),
    );
    world.with(|s| s.fail_record = true);
    let mut r = run(
        Project::new(&[(V1, "CREATE INDEX CONCURRENTLY i ON t (a)", false)]),
        &world,
        Mode::Up,
    );
    r.go().await;
    assert_eq!(r.states(), [EntryState::Unknown]);
    let message = r.runner.report.error.clone().unwrap().message;
    assert!(
        message.contains("recording the failure failed too"),
        "{message}"
    );
}

/// `CREATE INDEX CONCURRENTLY IF NOT EXISTS` over an INVALID leftover "succeeds": the runner
/// checks the index and records a failure.
#[tokio::test]
async fn an_index_left_invalid_is_a_failure_not_an_applied_migration() {
    let world = World::default();
    world.with(|s| s.invalid_index = Some("t_a_key".into()));
    let mut r = run(
        Project::new(&[(
            V1,
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS t_a_key ON t (a)",
            false,
        )]),
        &world,
        Mode::Up,
    );
    let report = r.go().await;
    assert_eq!(r.code(), Some(Code::MigrationFailed));
    assert_eq!(world.live(), [(V1.to_string(), HistoryStatus::Failed)]);
    let message = report["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("t_a_key is INVALID") && message.contains("DROP INDEX CONCURRENTLY"),
        "{message}"
    );
}

/// `down` that fails outside a transaction leaves its row failed, never reverted.
#[tokio::test]
async fn a_failed_non_transactional_down_is_recorded_failed() {
    let world = World::default();
    world.with(|s| s.rows = Some(vec![(V1.to_string(), HistoryStatus::Applied, None)]));
    world.script("SELECT 'down", Act::Fail(error("55006", "index is in use")));
    let mut r = run(
        Project::new(&[(V1, "CREATE INDEX CONCURRENTLY i ON t (a)", false)]),
        &world,
        Mode::Down { count: 1 },
    );
    r.go().await;
    assert_eq!(r.code(), Some(Code::MigrationFailed));
    assert_eq!(world.live(), [(V1.to_string(), HistoryStatus::Failed)]);
    assert_eq!(r.states(), [EntryState::Failed]);
}

#[tokio::test]
async fn a_signal_cancels_the_running_statement_and_the_run_is_interrupted() {
    let world = World::default();
    world.script("SELECT 102", Act::HangUntilCancelled);
    let mut r = run(
        Project::new(&[(V1, "SELECT 101", true), (V2, "SELECT 102", true)]),
        &world,
        Mode::Up,
    );
    let chosen = r.runner.start().await.unwrap();
    let rendered = r.project.rendered(&chosen);
    let signal = r.signal.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = signal.send(Some("SIGTERM".into()));
    });
    let _ = r.runner.apply(rendered).await;
    let report: serde_json::Value = serde_json::to_value(r.runner.finish().await).unwrap();
    assert_eq!(report["outcome"], "interrupted");
    assert_eq!(report["error"]["exitCode"], 6);
    assert_eq!(r.states(), [EntryState::Applied, EntryState::Cancelled]);
    assert_eq!(world.with(|s| s.holder), None);
}

/// V2 recorded as applied, V1 not: V1 is out of order, and `up` refuses before anything runs.
fn out_of_order_run(world: &World) -> Run {
    world.with(|s| s.rows = Some(vec![(V2.to_string(), HistoryStatus::Applied, None)]));
    run(
        Project::new(&[(V1, "SELECT 101", true), (V2, "SELECT 102", true)]),
        world,
        Mode::Up,
    )
}

#[tokio::test]
async fn a_history_that_disagrees_refuses_before_anything_runs() {
    let world = World::default();
    let mut r = out_of_order_run(&world);
    let report = r.go().await;
    assert_eq!(report["outcome"], "refused");
    assert_eq!(r.code(), Some(Code::Integrity));
    assert_eq!(report["problems"][0]["kind"], "out-of-order");
    assert!(!world.log().iter().any(|(_, s)| s.contains("SELECT 101")));
}

/// The guard: an empty history over a database that already holds a schema refuses before
/// anything is written (not even the history table).
#[tokio::test]
async fn an_existing_schema_without_history_is_refused_before_anything_is_written() {
    let world = World::default();
    world.with(|s| s.existing = vec!["table public.users".into()]);
    let mut r = run(Project::new(&[(V1, "SELECT 101", true)]), &world, Mode::Up);
    let report = r.go().await;
    assert_eq!(r.code(), Some(Code::DatabaseNotEmpty));
    assert_eq!(report["error"]["exitCode"], 4);
    assert_eq!(report["outcome"], "refused");
    let message = report["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("table public.users") && message.contains("godwit baseline"),
        "{message}"
    );
    assert!(world.with(|s| s.rows.is_none()), "nothing was written");
}

#[tokio::test]
async fn a_run_stopped_outside_the_core_says_why_and_a_recorded_failure_is_kept() {
    // Node failed between start and apply (a render that threw): the report names it
    let world = World::default();
    let mut r = run(Project::new(&[(V1, "SELECT 101", true)]), &world, Mode::Up);
    r.runner.start().await.unwrap();
    r.runner.stopped_outside("TypeError: boom");
    let report: serde_json::Value = serde_json::to_value(r.runner.finish().await).unwrap();
    assert_eq!(report["outcome"], "error", "{report}");
    assert_eq!(report["error"]["code"], "INTERNAL", "{report}");
    assert!(
        report["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("stopped outside the core: TypeError: boom")),
        "{report}"
    );
    assert!(world.live().is_empty(), "nothing was applied");
    // a failure the core recorded is the one reported
    let world = World::default();
    let mut r = out_of_order_run(&world);
    assert!(r.runner.start().await.is_err());
    r.runner.stopped_outside("INTEGRITY: as the core said");
    let report: serde_json::Value = serde_json::to_value(r.runner.finish().await).unwrap();
    assert_eq!(report["outcome"], "refused", "{report}");
    assert_eq!(r.code(), Some(Code::Integrity));
    assert!(
        !report["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("outside the core")),
        "{report}"
    );
}
