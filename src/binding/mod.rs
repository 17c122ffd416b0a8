//! The only module that knows about napi: typed options in, the core called off the JS thread,
//! documents out as JSON text, and `Error` turned into a JS error whose reason carries the stable
//! code (rebuilt by `lib/errors.js`). No logic lives here; if it grows an `if` about migrations,
//! that belongs in the core. Here: the options and the conversions every entry point shares; the
//! entry points by concern in `project` (the folder: scan, config, check, create, import), `run`
//! (a locked run's session), `answers` (the `Answer` a report with rows comes back in, and the
//! read-only database answers) and `tables` (the core's constants for the CLI's help).

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

mod answers;
mod project;
mod run;
mod tables;

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
