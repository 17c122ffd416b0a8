//! The core's constants, for the CLI's help and messages: exit codes, error codes, rule ids, the
//! core's version, the one sanitizer of report paths, and the one writer of files Node writes
//! (verify's, the fleet's and import's reports, package.json's baseline).

use super::*;

/// A release sha as one safe path segment (the one sanitizer of report paths).
#[napi]
pub fn sanitize_sha(sha: String) -> String {
    crate::run::report::sanitize_sha(&sha)
}

/// `text` written to `path` as the core writes its reports and ledger: its folder made, through
/// a temporary name and a rename, flushed to the disk before it returns. Every file godwit
/// writes goes through `files`, so none is ever half-written or lost to a power cut once said
/// written. Fails with IO naming `path`.
#[napi]
pub fn write_file_synced(path: String, text: String) -> napi::Result<()> {
    files::put(
        std::path::Path::new(&path),
        text.as_bytes(),
        files::Durability::Synced,
    )
    .map_err(to_js)
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
