//! The only file that knows about napi: converts arguments, runs the core off the JS thread, and
//! turns `Error` into a JS error whose reason carries the stable code (rebuilt by `index.js`).
//! No logic lives here; if this file grows an `if` about migrations, it belongs in the core.

use std::path::PathBuf;

use napi_derive::napi;
use serde_json::Value;

use crate::error::Error as CoreError;
use crate::{base, check, create, modules, source};

fn to_js(e: CoreError) -> napi::Error {
    napi::Error::from_reason(e.to_wire())
}

fn to_value<T: serde::Serialize>(v: &T) -> napi::Result<Value> {
    serde_json::to_value(v).map_err(|e| to_js(CoreError::Internal(e.to_string())))
}

/// Runs blocking core work (directory scans, git, hashing) on tokio's blocking pool, so the Node
/// event loop stays free.
async fn blocking<T, F>(f: F) -> napi::Result<Value>
where
    T: serde::Serialize + Send + 'static,
    F: FnOnce() -> crate::error::Result<T> + Send + 'static,
{
    let out = tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| to_js(CoreError::Internal(format!("worker failed: {e}"))))?;
    to_value(&out.map_err(to_js)?)
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The migrations that meet the filename contract, in order, with their checksums.
#[napi]
pub async fn scan(dir: String) -> napi::Result<Value> {
    blocking(move || source::scan(&PathBuf::from(dir))).await
}

/// Options: `{ dir, frozen?, base? }`; `modules`: what Node rendered, one entry per migration.
#[napi]
pub async fn check(options: Value, modules: Value) -> napi::Result<Value> {
    let dir = options.get("dir").and_then(Value::as_str).unwrap_or("db/migrations").to_string();
    let frozen_flag = options.get("frozen").and_then(Value::as_bool).unwrap_or(false);
    let base_flag = options.get("base").and_then(Value::as_str).map(str::to_string);
    let rendered: Vec<modules::Rendered> = serde_json::from_value(modules)
        .map_err(|e| to_js(CoreError::Internal(format!("bad rendered modules: {e}"))))?;
    blocking(move || {
        let opts = check::CheckOptions {
            dir: PathBuf::from(dir),
            frozen: check::frozen_mode(frozen_flag, env("CI").as_deref()),
            base: base::choose_base(
                base_flag.as_deref(),
                env("MIGRATION_BASE_REF").as_deref(),
                env("GITHUB_BASE_REF").as_deref(),
            ),
        };
        check::check(&opts, rendered)
    })
    .await
}

#[napi]
pub async fn create(dir: String, name: String) -> napi::Result<Value> {
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
