//! A scripted stand-in for the server, for the runner's decision tables: sessions share one
//! `World` (the history rows, the advisory lock, which backends live, what each session sent),
//! and a test scripts what a batch does (commit and answer, answer an error, lose the answer,
//! hang until cancelled). It models only what the runner relies on; the end-to-end suites run
//! the same paths against a real PostgreSQL.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::db::history::{HistoryTable, RowWrite};
use crate::db::{
    Answer, Backend, Cancel, Connector, DbError, Existing, ResetDone, Session, SessionInfo,
    ToolEntry,
};
use crate::error::{Error, Result};
use crate::plan::{Applied, HistoryStatus};

/// What a scripted batch does.
#[derive(Clone)]
pub enum Act {
    /// Runs, takes effect, and the session dies before the answer arrives.
    CommitThenLose,
    /// Dies before anything takes effect.
    Lose,
    /// The server refuses it (nothing takes effect).
    Fail(DbError),
    /// Runs until cancelled, then is refused with 57014.
    HangUntilCancelled,
    /// Releases the lock (a migration calling pg_advisory_unlock_all), then runs normally: the
    /// runner's lock check decides.
    Unlock,
}

#[derive(Default)]
pub struct State {
    pub rows: Option<Vec<(String, HistoryStatus, Option<String>)>>,
    pub holder: Option<i32>,
    pub waiting: HashSet<i32>,
    pub dead: HashSet<i32>,
    pub cancelled: HashSet<i32>,
    next_pid: i32,
    /// Every statement, by backend, in order: `(pid, what)`.
    pub log: Vec<(i32, String)>,
    /// Scripted acts, matched by a substring of the batch, used once each, in order.
    pub script: Vec<(String, Act)>,
    pub refuse_connections: bool,
    pub fail_record: bool,
    pub invalid_index: Option<String>,
    /// User objects the database already holds (`table public.users`).
    pub existing: Vec<String>,
    /// The checksum the history reports for each version (the test's files').
    pub checksums: BTreeMap<String, String>,
    /// Another tool's history table (`baseline --from`), when the database has one.
    pub tool_rows: Option<Vec<ToolEntry>>,
}

#[derive(Clone, Default)]
pub struct World(pub Arc<Mutex<State>>);

impl World {
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    pub fn script(&self, matching: &str, act: Act) {
        self.with(|s| s.script.push((matching.into(), act)));
    }

    pub fn live(&self) -> Vec<(String, HistoryStatus)> {
        self.with(|s| {
            s.rows
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter(|r| r.1 != HistoryStatus::Reverted)
                .map(|r| (r.0, r.1))
                .collect()
        })
    }

    pub fn log(&self) -> Vec<(i32, String)> {
        self.with(|s| s.log.clone())
    }
}

pub struct FakeConnector(pub World);

pub struct FakeSession {
    world: World,
    info: SessionInfo,
}

#[derive(Clone)]
pub struct FakeCancel(World, i32);

impl Cancel for FakeCancel {
    async fn cancel(&self) {
        self.0.with(|s| s.cancelled.insert(self.1));
    }
}

impl Connector for FakeConnector {
    type Session = FakeSession;

    async fn connect(&self) -> Result<FakeSession> {
        let pid = self.0.with(|s| {
            if s.refuse_connections {
                return Err(Error::Connect {
                    target: "fake".into(),
                    message: "refused".into(),
                });
            }
            s.next_pid += 1;
            Ok(100 + s.next_pid)
        })?;
        Ok(FakeSession {
            world: self.0.clone(),
            info: SessionInfo {
                server_version: "18".into(),
                version_num: 180_000,
                backend: Backend {
                    pid,
                    backend_start: format!("start-{pid}"),
                },
                tls: false,
                user: "app".into(),
                database: "db".into(),
                read_only: None,
            },
        })
    }

    async fn connect_with(&self, setup: &str, _bound: Duration) -> Result<(FakeSession, Answer)> {
        let mut session = self.connect().await?;
        let answer = session.batch(setup).await;
        Ok((session, answer))
    }

    fn display(&self) -> String {
        "postgres://app@fake:5432/db".into()
    }

    fn ssl_mode(&self) -> &'static str {
        "disable"
    }
}

fn versions_in(sql: &str) -> Vec<String> {
    regex::Regex::new(r"\('(\d{13})'")
        .map(|re| re.captures_iter(sql).map(|c| c[1].to_string()).collect())
        .unwrap_or_default()
}

fn version_in(sql: &str) -> Option<String> {
    let re = regex::Regex::new(r"'(\d{13})'").ok()?;
    re.captures(sql).map(|c| c[1].to_string())
}

impl FakeSession {
    fn pid(&self) -> i32 {
        self.info.backend.pid
    }

    fn dead(&self) -> bool {
        self.world.with(|s| s.dead.contains(&self.pid()))
    }

    fn lost(&self) -> Error {
        Error::ConnectionLost("the fake session is gone".into())
    }

    /// What a batch's godwit statements do: the lock checks, then its history statement.
    fn takes_effect(&self, sql: &str) -> Answer {
        let pid = self.pid();
        self.world.with(|s| {
            if sql.contains(super::batch::LOCK_LOST_MARKER) && s.holder != Some(pid) {
                return Answer::Error(DbError {
                    sqlstate: Some("22P02".into()),
                    message: super::batch::LOCK_LOST_MARKER.into(),
                    ..Default::default()
                });
            }
            if sql.contains("INSERT INTO") {
                // one row per version (a baseline inserts many in one statement)
                for v in versions_in(sql) {
                    s.rows
                        .get_or_insert_with(Vec::new)
                        .push((v, HistoryStatus::Applied, None));
                }
            } else if sql.contains("reverted_by_command = 'down'") {
                if let (Some(v), Some(rows)) = (version_in(sql), s.rows.as_mut()) {
                    for r in rows
                        .iter_mut()
                        .filter(|r| r.0 == v && r.1 == HistoryStatus::Applied)
                    {
                        r.1 = HistoryStatus::Reverted;
                    }
                }
            }
            Answer::Finished
        })
    }
}

impl Session for FakeSession {
    type Cancel = FakeCancel;

    fn info(&self) -> &SessionInfo {
        &self.info
    }

    fn canceller(&self) -> FakeCancel {
        FakeCancel(self.world.clone(), self.pid())
    }

    fn is_closed(&self) -> bool {
        self.dead()
    }

    async fn batch(&mut self, sql: &str) -> Answer {
        let pid = self.pid();
        if self.dead() {
            return Answer::Lost("connection closed".into());
        }
        let act = self.world.with(|s| {
            s.log.push((pid, sql.to_string()));
            let i = s
                .script
                .iter()
                .position(|(m, _)| sql.contains(m.as_str()))?;
            Some(s.script.remove(i).1)
        });
        match act {
            None => self.takes_effect(sql),
            Some(Act::Unlock) => {
                self.world.with(|s| s.holder = None);
                self.takes_effect(sql)
            }
            Some(Act::CommitThenLose) => {
                self.takes_effect(sql);
                self.world.with(|s| s.dead.insert(pid));
                Answer::Lost("server closed the connection unexpectedly".into())
            }
            Some(Act::Lose) => {
                self.world.with(|s| s.dead.insert(pid));
                Answer::Lost("server closed the connection unexpectedly".into())
            }
            Some(Act::Fail(e)) => Answer::Error(e),
            Some(Act::HangUntilCancelled) => loop {
                if self.world.with(|s| s.cancelled.remove(&pid)) {
                    return Answer::Error(DbError {
                        sqlstate: Some("57014".into()),
                        message: "canceling statement due to user request".into(),
                        ..Default::default()
                    });
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            },
        }
    }

    async fn try_lock(&mut self, _key: i64) -> Result<bool> {
        let pid = self.pid();
        if self.dead() {
            return Err(self.lost());
        }
        Ok(self.world.with(|s| match s.holder {
            None => {
                s.holder = Some(pid);
                s.log.push((pid, "lock taken".into()));
                true
            }
            Some(h) => h == pid,
        }))
    }

    async fn lock(&mut self, _key: i64) -> Result<()> {
        let pid = self.pid();
        self.world.with(|s| {
            s.waiting.insert(pid);
            s.log.push((pid, "lock queued".into()));
        });
        loop {
            let got = self.world.with(|s| {
                if s.holder.is_none() || s.holder == Some(pid) {
                    s.holder = Some(pid);
                    s.waiting.remove(&pid);
                    s.log.push((pid, "lock taken".into()));
                    true
                } else {
                    false
                }
            });
            if got {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn unlock(&mut self, _key: i64) -> Result<()> {
        let pid = self.pid();
        self.world.with(|s| {
            if s.holder == Some(pid) {
                s.holder = None;
            }
        });
        Ok(())
    }

    async fn holds_lock(&mut self, _h: &HistoryTable) -> Result<bool> {
        if self.dead() {
            return Err(self.lost());
        }
        let pid = self.pid();
        Ok(self.world.with(|s| s.holder == Some(pid)))
    }

    async fn lock_holder(&mut self, _key: i64) -> Result<Option<String>> {
        Ok(self.world.with(|s| s.holder.map(|p| format!("pid {p}"))))
    }

    async fn waits_for_lock(&mut self, pid: i32, _h: &HistoryTable) -> Result<bool> {
        Ok(self
            .world
            .with(|s| s.waiting.contains(&pid) || s.holder == Some(pid)))
    }

    async fn schema_exists(&mut self, _schema: &str) -> Result<bool> {
        Ok(true)
    }

    async fn read_history(&mut self, _h: &HistoryTable) -> Result<Option<Vec<Applied>>> {
        if self.dead() {
            return Err(self.lost());
        }
        Ok(self.world.with(|s| {
            s.rows.as_ref().map(|rows| {
                rows.iter()
                    .filter(|r| r.1 != HistoryStatus::Reverted)
                    .map(|(v, st, _)| Applied {
                        version: v.clone(),
                        name: "m".into(),
                        checksum: s.checksums.get(v).cloned().unwrap_or_default(),
                        status: *st,
                        applied_at: "t".into(),
                        execution_ms: 1,
                        baselined: false,
                    })
                    .collect()
            })
        }))
    }

    async fn record(&mut self, _h: &HistoryTable, write: &RowWrite) -> Result<()> {
        if self.dead() {
            return Err(self.lost());
        }
        let pid = self.pid();
        self.world.with(|s| {
            if s.fail_record {
                return Err(Error::Db(
                    "permission denied for table godwit_migrations".into(),
                ));
            }
            let rows = s.rows.get_or_insert_with(Vec::new);
            match write {
                RowWrite::Insert(r) => {
                    s.log
                        .push((pid, format!("record {} {}", r.version, r.status.as_str())));
                    rows.push((r.version.clone(), r.status, r.error.clone()));
                }
                RowWrite::Revert { version } => {
                    s.log.push((pid, format!("record {version} reverted")));
                    for r in rows
                        .iter_mut()
                        .filter(|r| &r.0 == version && r.1 == HistoryStatus::Applied)
                    {
                        r.1 = HistoryStatus::Reverted;
                    }
                }
                RowWrite::FailLive { version, error } => {
                    s.log.push((pid, format!("record {version} failed")));
                    for r in rows
                        .iter_mut()
                        .filter(|r| &r.0 == version && r.1 == HistoryStatus::Applied)
                    {
                        r.1 = HistoryStatus::Failed;
                        r.2 = Some(error.clone());
                    }
                }
            }
            Ok(())
        })
    }

    async fn history_status(
        &mut self,
        _h: &HistoryTable,
        version: &str,
    ) -> Result<Option<HistoryStatus>> {
        Ok(self.world.with(|s| {
            s.rows
                .as_ref()
                .and_then(|rows| rows.iter().rev().find(|r| r.0 == version).map(|r| r.1))
        }))
    }

    async fn barrier(&mut self, _h: &HistoryTable, _version: &str) -> Result<()> {
        Ok(())
    }

    async fn index_valid(&mut self, name: &str, _table: &str) -> Result<Option<bool>> {
        Ok(Some(
            self.world
                .with(|s| s.invalid_index.as_deref() != Some(name)),
        ))
    }

    async fn invalid_indexes(&mut self) -> Result<Vec<String>> {
        Ok(self
            .world
            .with(|s| s.invalid_index.clone().into_iter().collect()))
    }

    async fn existing_schema(
        &mut self,
        _h: &HistoryTable,
        _only: Option<&str>,
    ) -> Result<Existing> {
        Ok(self.world.with(|s| Existing {
            history_rows: s.rows.as_ref().is_some_and(|r| !r.is_empty()),
            total: s.existing.len() as i64,
            objects: s.existing.clone(),
            tools: Vec::new(),
        }))
    }

    async fn end_backend(&mut self, b: &Backend) -> Result<()> {
        let pid = self.pid();
        self.world.with(|s| {
            s.log.push((pid, format!("end backend {}", b.pid)));
            s.dead.insert(b.pid);
            if s.holder == Some(b.pid) {
                s.holder = None;
            }
        });
        Ok(())
    }

    async fn tool_history(
        &mut self,
        _tool: crate::import::tool::Tool,
        table: &str,
    ) -> Result<Option<(String, Vec<ToolEntry>)>> {
        Ok(self
            .world
            .with(|s| s.tool_rows.clone())
            .map(|rows| (table.to_string(), rows)))
    }

    async fn reset_database(&mut self, _h: &HistoryTable) -> Result<ResetDone> {
        Ok(ResetDone::default())
    }
}
