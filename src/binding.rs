//! The only file that knows about napi: converts arguments, runs the core off the JS thread, and
//! turns `Error` into a JS error whose reason carries the stable code (rebuilt by `index.js`).
//! No logic lives here; if this file grows an `if` about migrations, it belongs in the core.

use std::path::PathBuf;

use napi_derive::napi;
use serde_json::Value;

use crate::error::Error as CoreError;
use std::sync::Arc;

use tokio::sync::{Mutex, watch};

use crate::{base, check, config, create, modules, source, up};

fn to_js(e: CoreError) -> napi::Error {
    napi::Error::from_reason(e.to_wire())
}

fn to_value<T: serde::Serialize>(v: &T) -> napi::Result<Value> {
    serde_json::to_value(v).map_err(|e| to_js(CoreError::Internal(e.to_string())))
}

/// Documents (reports, scans, rendered modules) cross the boundary as JSON text: one string is
/// far cheaper than building a JS object property by property through N-API, and `JSON.parse`
/// on the JS side is the fastest way to make one. `index.js` parses and stringifies.
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

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The migrations that meet the filename contract, in order, with their checksums.
#[napi]
pub async fn scan(dir: String) -> napi::Result<String> {
    blocking(move || source::scan(&PathBuf::from(dir))).await
}

/// The project configuration Node found (`null` when none), validated; `source` names it.
#[napi]
pub fn config(raw: Value, source: Option<String>) -> napi::Result<Value> {
    to_value(&config::parse(&raw, source.as_deref()).map_err(to_js)?)
}

/// One `check` run: `prepare` (scan the folder once, read the ledger and the git base; a local
/// run takes the folder lock) -> Node renders the files it lists -> `finish` (judge, seal).
#[napi]
pub struct CheckSession {
    opts: check::CheckOptions,
    prepared: Arc<std::sync::Mutex<Option<check::Prepared>>>,
}

#[napi]
impl CheckSession {
    /// Options: `{ dir, frozen?, base?, config?, configSource? }`.
    #[napi(constructor)]
    pub fn new(options: Value) -> napi::Result<Self> {
        let cfg = config::parse(
            options.get("config").unwrap_or(&Value::Null),
            options.get("configSource").and_then(Value::as_str),
        )
        .map_err(to_js)?;
        let flag = |k: &str| options.get(k).and_then(Value::as_str).map(str::to_string);
        let opts = check::CheckOptions {
            dir: PathBuf::from(flag("dir").unwrap_or_else(|| "db/migrations".into())),
            frozen: check::frozen_mode(
                options
                    .get("frozen")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                env("CI").as_deref(),
            ),
            base: base::choose_base(
                flag("base").as_deref(),
                env("MIGRATION_BASE_REF").as_deref(),
                env("GITHUB_BASE_REF").as_deref(),
            ),
            policy: cfg.policy,
        };
        Ok(CheckSession {
            opts,
            prepared: Arc::new(std::sync::Mutex::new(None)),
        })
    }

    /// The files to render, in order, with their text: JSON `[{file, source}]`.
    #[napi]
    pub async fn prepare(&self) -> napi::Result<String> {
        let opts = self.opts.clone();
        let slot = self.prepared.clone();
        blocking(move || {
            let (prepared, to_render) = check::prepare(&opts)?;
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

    /// `rendered`: JSON text of what Node rendered. Returns the report as JSON text.
    #[napi]
    pub async fn finish(&self, rendered: String) -> napi::Result<String> {
        let rendered: Vec<modules::Rendered> = from_json(&rendered, "rendered modules")?;
        let opts = self.opts.clone();
        let slot = self.prepared.clone();
        blocking(move || {
            let prepared = slot
                .lock()
                .map_err(|_| CoreError::Internal("check session poisoned".into()))?
                .take()
                .ok_or_else(|| {
                    CoreError::Internal("check finished before it was prepared".into())
                })?;
            check::finish(&opts, prepared, rendered)
        })
        .await
    }
}

#[napi]
pub async fn create(dir: String, name: String) -> napi::Result<String> {
    blocking(move || {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .map_err(|e| CoreError::Internal(format!("system clock before 1970: {e}")))?;
        create::create(&PathBuf::from(dir), &name, now_ms)
    })
    .await
}

/// The version of the native core, to detect a stale addon.
#[napi]
pub fn core_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

fn env_lookup(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

/// `status`: options `{ dir, schema?, table? }`; connection from the environment. JSON text.
#[napi]
pub async fn status(options: Value) -> napi::Result<String> {
    let opts = up::options(&options, &env_lookup);
    to_json(&up::status(&opts).await.map_err(to_js)?)
}

/// The schema fingerprint: options `{ database? }`. JSON text.
#[napi]
pub async fn fingerprint(options: Value) -> napi::Result<String> {
    let opts = up::options(&options, &env_lookup);
    to_json(&up::fingerprint(&opts).await.map_err(to_js)?)
}

/// Creates (`create: true`) or drops one of verify's `godwit_verify_*` scratch databases.
#[napi]
pub async fn scratch_database(create: bool, name: String) -> napi::Result<()> {
    let opts = up::options(&Value::Null, &env_lookup);
    up::scratch(&opts, create, &name).await.map_err(to_js)
}

/// One `up` run: `start` (verify, connect, lock, plan) -> Node renders the pending modules ->
/// `apply` -> `finish` (release the lock, write the report). `cancel` may be called at any time.
#[napi]
pub struct UpSession {
    runner: Arc<Mutex<up::Runner>>,
    cancel: watch::Sender<Option<String>>,
}

#[napi]
impl UpSession {
    #[napi(constructor)]
    pub fn new(options: Value) -> Self {
        let (tx, rx) = watch::channel(None);
        let opts = up::options(&options, &env_lookup);
        UpSession {
            runner: Arc::new(Mutex::new(up::Runner::new(opts, rx))),
            cancel: tx,
        }
    }

    /// Pending migration files, in order.
    #[napi]
    pub async fn start(&self) -> napi::Result<Vec<String>> {
        let runner = self.runner.clone();
        runner.lock().await.start().await.map_err(to_js)
    }

    /// `rendered`: JSON text of what Node rendered for the pending files.
    #[napi]
    pub async fn apply(&self, rendered: String) -> napi::Result<String> {
        let rendered: Vec<modules::Rendered> = from_json(&rendered, "rendered modules")?;
        let runner = self.runner.clone();
        to_json(&runner.lock().await.apply(rendered).await.map_err(to_js)?)
    }

    /// Stops the run: the running statement is cancelled and rolled back.
    #[napi]
    pub fn cancel(&self, reason: String) {
        let _ = self.cancel.send(Some(reason));
    }

    /// The report, as JSON text.
    #[napi]
    pub async fn finish(&self) -> napi::Result<String> {
        let runner = self.runner.clone();
        runner.lock().await.finish().await.map_err(to_js)
    }
}
