//! The only file that knows about napi: typed options in, the core called off the JS thread,
//! documents out as JSON text, and `Error` turned into a JS error whose reason carries the stable
//! code (rebuilt by `lib/errors.js`). No logic lives here; if this file grows an `if` about
//! migrations, it belongs in the core.

use std::path::PathBuf;
use std::sync::Arc;

use napi_derive::napi;
use tokio::sync::{Mutex, watch};

use crate::contract::modules::Rendered;
use crate::db::pg::PgConnector;
use crate::error::{Code, Error as CoreError, Exit};
use crate::run::Runner;
use crate::settings::{self, Baseline, Env, Flags, Mode};
use crate::{check, create, files, listing, status};

fn to_js(e: CoreError) -> napi::Error {
    napi::Error::from_reason(e.to_wire())
}

/// Documents (reports, scans, rendered modules) cross the boundary as JSON text: one string is
/// far cheaper than building a JS object property by property through N-API, and `JSON.parse`
/// on the JS side is the fastest way to make one.
fn to_json<T: serde::Serialize>(v: &T) -> napi::Result<String> {
    serde_json::to_string(v).map_err(|e| to_js(CoreError::Internal(e.to_string())))
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> napi::Result<T> {
    serde_json::from_str(text).map_err(|e| to_js(CoreError::Internal(format!("bad {what}: {e}"))))
}

/// Runs blocking core work (directory scans, git, hashing) on tokio's blocking pool, so the Node
/// event loop stays free.
async fn blocking<T, F>(f: F) -> napi::Result<String>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce() -> crate::error::Result<T> + Send + 'static,
{
    let out = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| to_js(CoreError::Internal(format!("worker failed: {e}"))))?;
    to_json(&out.map_err(to_js)?)
}

/// What a caller may pass: the CLI's flags or the JS API's options. Durations are strings
/// (`'5s'`, `'1500'`).
#[napi(object)]
#[derive(Default)]
pub struct Options {
    pub dir: Option<String>,
    /// The project configuration Node found (package.json#godwit or godwit.config.mjs).
    pub config: Option<serde_json::Value>,
    pub config_source: Option<String>,
    pub module_timeout: Option<String>,
    pub frozen: Option<bool>,
    /// `check --all`: judge merged, unchanged migrations too.
    pub all: Option<bool>,
    pub base: Option<String>,
    pub schema: Option<String>,
    pub table: Option<String>,
    pub sha: Option<String>,
    pub artifacts_dir: Option<String>,
    pub progress: Option<bool>,
    pub verbose: Option<bool>,
    /// Another database on the same server (verify's scratch databases).
    pub database: Option<String>,
    /// `down`: how many to revert (0: all).
    pub down: Option<u32>,
    /// `up`/`down`: the target version.
    pub to: Option<String>,
    /// `plan` (`up --dry-run`).
    pub dry_run: Option<bool>,
    pub reset: Option<bool>,
    pub allow_non_local: Option<bool>,
    /// `status`'s bound.
    pub timeout: Option<String>,
    pub allow_existing_schema: Option<bool>,
    /// `baseline <version>`: record every migration up to it as applied, without running them.
    pub baseline: Option<String>,
    /// `baseline --from <tool>`: record what that tool's history says it applied.
    pub baseline_from: Option<String>,
    /// `baseline --from <tool> --tool-table <name>`: the tool's history table, when renamed.
    pub baseline_table: Option<String>,
    /// Variables that stand in for the process's own for this call only (a fleet's target: its
    /// DATABASE_URL, the fleet budget left); the process environment is not changed.
    pub env: Option<std::collections::HashMap<String, String>>,
    /// A fleet's target name: the report goes to `<sha>/targets/<target>/`.
    pub target: Option<String>,
    /// Schema-per-tenant: the existing-schema guard looks only in this schema.
    pub only_schema: Option<String>,
}

impl Options {
    /// The environment this call resolves against: the process's, under `env`.
    fn environment(&self) -> Env {
        match &self.env {
            Some(vars) if !vars.is_empty() => Env::process().under(vars.clone()),
            _ => Env::process(),
        }
    }
}

impl From<Options> for Flags {
    fn from(o: Options) -> Flags {
        let mode = match (o.down, o.reset, o.baseline_from, o.baseline) {
            (Some(count), ..) => Mode::Down {
                count: count as usize,
            },
            (None, Some(true), ..) => Mode::Reset,
            (None, _, Some(tool), _) => Mode::Baseline(Baseline::From {
                tool,
                table: o.baseline_table,
            }),
            (None, _, None, Some(v)) => Mode::Baseline(Baseline::UpTo(v)),
            _ => Mode::Up,
        };
        Flags {
            dir: o.dir,
            config: o.config.unwrap_or(serde_json::Value::Null),
            config_source: o.config_source,
            module_timeout: o.module_timeout,
            frozen: o.frozen.unwrap_or(false),
            all: o.all.unwrap_or(false),
            base: o.base,
            schema: o.schema,
            table: o.table,
            sha: o.sha,
            artifacts_dir: o.artifacts_dir,
            progress: o.progress.unwrap_or(false),
            verbose: o.verbose.unwrap_or(false),
            database: o.database,
            mode,
            to: o.to,
            dry_run: o.dry_run.unwrap_or(false),
            allow_non_local: o.allow_non_local.unwrap_or(false),
            timeout: o.timeout,
            allow_existing_schema: o.allow_existing_schema.unwrap_or(false),
            target: o.target,
            only_schema: o.only_schema,
        }
    }
}

/// What Node needs to render modules, resolved by the core.
#[napi(object)]
pub struct RenderSettings {
    pub dir: String,
    pub module_timeout_ms: u32,
}

fn render_settings(dir: &std::path::Path, ms: u64) -> RenderSettings {
    RenderSettings {
        dir: dir.display().to_string(),
        module_timeout_ms: ms.min(i32::MAX as u64) as u32,
    }
}

/// The migrations that meet the filename contract, in order, with their checksums.
#[napi]
pub async fn scan(options: Options) -> napi::Result<String> {
    let common = {
        let env = options.environment();
        settings::resolve::common(&options.into(), &env)
    }
    .map_err(to_js)?;
    blocking(move || files::scan::scan(&common.dir)).await
}

/// The project configuration, validated; `source` names it in errors. JSON text.
#[napi]
pub fn config(raw: serde_json::Value, source: Option<String>) -> napi::Result<String> {
    to_json(&settings::project::parse(&raw, source.as_deref()).map_err(to_js)?)
}

/// One `check` run: `prepare` (scan the folder once, read the ledger and the git base; a local
/// run takes the folder lock) -> Node renders the files it lists -> `finish` (judge, seal).
#[napi]
pub struct CheckSession {
    settings: settings::CheckSettings,
    prepared: Arc<std::sync::Mutex<Option<check::Prepared>>>,
}

#[napi]
impl CheckSession {
    #[napi(constructor)]
    pub fn new(options: Options) -> napi::Result<Self> {
        let settings = {
            let env = options.environment();
            settings::resolve::check(&options.into(), &env)
        }
        .map_err(to_js)?;
        Ok(CheckSession {
            settings,
            prepared: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    #[napi(getter)]
    pub fn render(&self) -> RenderSettings {
        render_settings(
            &self.settings.common.dir,
            self.settings.common.module_timeout_ms,
        )
    }

    /// The files to render, in order, with their text: JSON `[{file, source}]`.
    #[napi]
    pub async fn prepare(&self) -> napi::Result<String> {
        let settings = self.settings.clone();
        let slot = self.prepared.clone();
        blocking(move || {
            let (prepared, to_render) = check::prepare(&settings)?;
            *slot
                .lock()
                .map_err(|_| CoreError::Internal("check session poisoned".into()))? =
                Some(prepared);
            Ok(to_render)
        })
        .await
    }

    /// Drops what `prepare` holds (the folder lock among it) when the run ends without `finish`.
    #[napi]
    pub fn abandon(&self) {
        if let Ok(mut slot) = self.prepared.lock() {
            slot.take();
        }
    }

    /// `rendered`: JSON text of what Node rendered (every file not `skip`). Returns JSON: the
    /// skipped files whose columns `finish` needs rendered.
    #[napi]
    pub async fn judge(&self, rendered: String) -> napi::Result<String> {
        let rendered: Vec<Rendered> = from_json(&rendered, "rendered modules")?;
        let settings = self.settings.clone();
        let slot = self.prepared.clone();
        blocking(move || {
            let mut guard = slot
                .lock()
                .map_err(|_| CoreError::Internal("check session poisoned".into()))?;
            let prepared = guard
                .as_mut()
                .ok_or_else(|| CoreError::Internal("check judged before it was prepared".into()))?;
            Ok(check::judge(prepared, &settings, rendered))
        })
        .await
    }

    /// `history`: JSON text of the skipped files `judge` asked for, rendered. Returns the report
    /// as JSON text.
    #[napi]
    pub async fn finish(&self, history: String) -> napi::Result<String> {
        let history: Vec<Rendered> = from_json(&history, "rendered modules")?;
        let settings = self.settings.clone();
        let slot = self.prepared.clone();
        blocking(move || {
            let prepared = slot
                .lock()
                .map_err(|_| CoreError::Internal("check session poisoned".into()))?
                .take()
                .ok_or_else(|| {
                    CoreError::Internal("check finished before it was prepared".into())
                })?;
            check::finish(&settings, prepared, history)
        })
        .await
    }
}

#[napi]
pub async fn create(options: Options, name: String) -> napi::Result<String> {
    let common = {
        let env = options.environment();
        settings::resolve::common(&options.into(), &env)
    }
    .map_err(to_js)?;
    blocking(move || {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .map_err(|e| CoreError::Internal(format!("system clock before 1970: {e}")))?;
        create::create(&common.dir, &name, now_ms)
    })
    .await
}

/// `import <tool> <source>`: another tool's migrations as godwit migrations in the project's
/// folder, sealed into the ledger; the mapping and notes as JSON (`Imported`).
#[napi(js_name = "importMigrations")]
pub async fn import_migrations(
    options: Options,
    tool: String,
    source: String,
) -> napi::Result<String> {
    let common = {
        let env = options.environment();
        settings::resolve::common(&options.into(), &env)
    }
    .map_err(to_js)?;
    blocking(move || {
        let tool = crate::import::tool::Tool::parse(&tool)?;
        crate::import::import(&common.dir, tool, std::path::Path::new(&source))
    })
    .await
}

/// The tools `import` and `baseline --from` know.
#[napi]
pub fn import_tools() -> Vec<String> {
    enum_iterator::all::<crate::import::tool::Tool>()
        .map(|t| t.name().to_string())
        .collect()
}

/// Internal, for the tests that hold it to Node's imports: what the core's literal reader makes
/// of a module's text (JSON of the rendered module), or `null` when it leaves the module to Node.
#[napi]
pub fn read_literal_module(file: String, source: String) -> napi::Result<Option<String>> {
    crate::contract::literal::read(&file, &source)
        .map(|r| to_json(&r))
        .transpose()
}

/// A release sha as one safe path segment (the one sanitizer of report paths).
#[napi]
pub fn sanitize_sha(sha: String) -> String {
    crate::run::report::sanitize_sha(&sha)
}

#[napi(object)]
pub struct RuleIds {
    /// The file, ledger, module and SQL contract: not negotiable.
    pub contract: Vec<String>,
    /// godwit's own policy rules (squawk's come on top), which a project may set levels for.
    pub policy: Vec<String>,
}

/// Every rule id `check` can report (besides squawk's), from the core.
#[napi]
pub fn rule_ids() -> RuleIds {
    RuleIds {
        contract: crate::violation::rule::ALL
            .iter()
            .map(|r| r.to_string())
            .collect(),
        policy: crate::policy::rules::ids().map(str::to_string).collect(),
    }
}

/// The version of the native core, to detect a stale addon.
#[napi]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[napi(object)]
pub struct ExitCode {
    pub code: i32,
    pub name: String,
    pub meaning: String,
}

/// The exit codes, for `--help` and the README (the one source is `error::Exit`).
#[napi]
pub fn exit_codes() -> Vec<ExitCode> {
    enum_iterator::all::<Exit>()
        .map(|e| ExitCode {
            code: e.code(),
            name: serde_json::to_value(e)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            meaning: e.meaning().into(),
        })
        .collect()
}

/// Every error code with its exit code (the one source is `error::Code`).
#[napi]
pub fn error_codes() -> std::collections::HashMap<String, i32> {
    enum_iterator::all::<Code>()
        .map(|c| (c.as_str().to_string(), c.exit().code()))
        .collect()
}

async fn status_report(options: Options) -> napi::Result<status::StatusReport> {
    let settings = {
        let env = options.environment();
        settings::resolve::status(&options.into(), &env)
    }
    .map_err(to_js)?;
    status::status(&settings).await.map_err(to_js)
}

/// A report's answer: the report as JSON with `migrations` empty, and the rows kept here until
/// they are asked for. An API's start-up (`assertSchemaCurrent()`) reads `clean` and never the
/// rows, and the CLI's summary of an `up` reads the report's `counts`: at 10,000 migrations the
/// rows' serialisation (2 to 3 MB of JSON) and its crossing into V8 are then not paid at all.
#[napi]
pub struct Answer {
    report: String,
    rows: Rows,
}

/// The rows an `Answer` keeps: `status`'s, or a locked run's (shared with its session, whose
/// `finish` may be called again).
enum Rows {
    Status(Vec<crate::plan::Row>),
    Run(Arc<Vec<crate::run::report::MigrationEntry>>),
}

#[napi]
impl Answer {
    /// The report without its rows, as JSON.
    #[napi(getter)]
    pub fn report(&self) -> String {
        self.report.clone()
    }

    /// The rows (`migrations`), as JSON.
    #[napi]
    pub fn migrations(&self) -> napi::Result<String> {
        match &self.rows {
            Rows::Status(rows) => to_json(rows),
            Rows::Run(rows) => to_json(rows.as_ref()),
        }
    }
}

/// `status`, as an `Answer`.
#[napi]
pub async fn status(options: Options) -> napi::Result<Answer> {
    let mut report = status_report(options).await?;
    let rows = std::mem::take(&mut report.migrations);
    Ok(Answer {
        report: to_json(&report)?,
        rows: Rows::Status(rows),
    })
}

/// `status` for the CLI's human output: the report without its rows, and the rows as lines.
#[napi(object)]
pub struct StatusListing {
    pub report: String,
    pub listing: String,
}

/// `status`, its rows as `StatusListing`'s lines (ANSI colours when `colors`).
#[napi]
pub async fn status_listing(options: Options, colors: bool) -> napi::Result<StatusListing> {
    let mut report = status_report(options).await?;
    let rows = std::mem::take(&mut report.migrations);
    Ok(StatusListing {
        report: to_json(&report)?,
        listing: listing::listing(&rows, colors),
    })
}

/// The schema fingerprint: options `{ database? }`. JSON text.
#[napi]
pub async fn fingerprint(options: Options) -> napi::Result<String> {
    let (conn, ms) = {
        let env = options.environment();
        settings::resolve::connection_only(&options.into(), &env)
    }
    .map_err(to_js)?;
    to_json(
        &status::fingerprint(&conn, std::time::Duration::from_millis(ms))
            .await
            .map_err(to_js)?,
    )
}

/// The schema file against the database the options name (`{ database }` for verify's scratch
/// ones); with `write`, rewritten when it differs and the server is local. JSON text.
#[napi]
pub async fn schema_file(options: Options, write: bool) -> napi::Result<String> {
    let settings = {
        let env = options.environment();
        settings::resolve::status(&options.into(), &env)
    }
    .map_err(to_js)?;
    to_json(&status::schema_file(&settings, write).await.map_err(to_js)?)
}

/// The server's major version (`"15"`), connecting as `status` does (bounded by its timeout).
#[napi]
pub async fn server_version(options: Options) -> napi::Result<String> {
    let flags: Flags = options.into();
    let ms = match flags.timeout.as_deref() {
        Some(t) => {
            crate::duration::parse_ms(t).map_err(|e| to_js(crate::error::Error::Usage(e)))?
        }
        None => settings::DEFAULT_STATUS_TIMEOUT_MS,
    };
    let (conn, _) = settings::resolve::connection_only(&flags, &Env::process()).map_err(to_js)?;
    status::server_major(&conn, std::time::Duration::from_millis(ms))
        .await
        .map_err(to_js)
}

/// A fleet's `--targets-query`, read-only on the configured connection: the rows as JSON text.
#[napi]
pub async fn query_rows(options: Options, sql: String) -> napi::Result<String> {
    let settings = {
        let env = options.environment();
        settings::resolve::status(&options.into(), &env)
    }
    .map_err(to_js)?;
    let timeout = std::time::Duration::from_millis(settings.timeout_ms);
    to_json(
        &status::query_rows(&settings.connection, timeout, &sql)
            .await
            .map_err(to_js)?,
    )
}

/// Creates (`create: true`) or drops one of verify's `godwit_verify_*` scratch databases.
#[napi]
pub async fn scratch_database(create: bool, name: String) -> napi::Result<()> {
    let (conn, _) =
        settings::resolve::connection_only(&Flags::default(), &Env::process()).map_err(to_js)?;
    status::scratch(&conn, create, &name).await.map_err(to_js)
}

/// One locked run: `start` (verify, connect, lock, plan) -> Node renders the chosen modules ->
/// `apply` -> `finish` (release the lock, write the report). `cancel` may be called at any time.
#[napi]
pub struct UpSession {
    runner: Arc<Mutex<Runner<PgConnector>>>,
    cancel: watch::Sender<Option<String>>,
    render: (PathBuf, u64),
    /// The report's rows, once `finish` has written it.
    rows: Mutex<Option<Arc<Vec<crate::run::report::MigrationEntry>>>>,
}

#[napi]
impl UpSession {
    #[napi(constructor)]
    pub fn new(options: Options) -> Self {
        let (tx, rx) = watch::channel(None);
        let settings = {
            let env = options.environment();
            settings::resolve::run(&options.into(), &env)
        };
        let connector = settings
            .resolved
            .as_ref()
            .ok()
            .map(|r| PgConnector::new(r.connection.clone()));
        let render = (settings.dir.clone(), settings.module_timeout_ms);
        UpSession {
            runner: Arc::new(Mutex::new(Runner::new(settings, connector, rx))),
            cancel: tx,
            render,
            rows: Mutex::new(None),
        }
    }

    #[napi(getter)]
    pub fn render(&self) -> RenderSettings {
        render_settings(&self.render.0, self.render.1)
    }

    /// The modules to render, in order, with the exact text that was verified: JSON text.
    #[napi]
    pub async fn start(&self) -> napi::Result<String> {
        let runner = self.runner.clone();
        let files = runner.lock().await.start().await.map_err(to_js)?;
        to_json(&files)
    }

    /// `rendered`: JSON text of what Node rendered.
    #[napi]
    pub async fn apply(&self, rendered: String) -> napi::Result<()> {
        let rendered: Vec<Rendered> = from_json(&rendered, "rendered modules")?;
        let runner = self.runner.clone();
        runner.lock().await.apply(rendered).await.map_err(to_js)
    }

    /// Stops the run: the running statement is cancelled and rolled back.
    #[napi]
    pub fn cancel(&self, reason: String) {
        let _ = self.cancel.send(Some(reason));
    }

    /// Writes the report (once; later calls return the same) and returns it as an `Answer`
    /// (`reportError` says why when it could not be written). `failure`: why the run stopped on
    /// Node's side, for the report when the core recorded no error of its own.
    #[napi]
    pub async fn finish(&self, failure: Option<String>) -> napi::Result<Answer> {
        let runner = self.runner.clone();
        let mut runner = runner.lock().await;
        if let Some(why) = failure {
            runner.stopped_outside(&why);
        }
        runner.finish().await;
        // written, the rows are only read: they move here once, and every answer shares them
        let mut rows = self.rows.lock().await;
        if rows.is_none() {
            *rows = Some(Arc::new(std::mem::take(&mut runner.report.migrations)));
        }
        Ok(Answer {
            report: to_json(&runner.report)?,
            rows: Rows::Run(rows.clone().unwrap_or_default()),
        })
    }
}
