//! The JS types of godwit's documents (`types.d.ts`) and the report's JSON Schema
//! (`schema/migration-report.schema.json`) are generated from the Rust types that produce them,
//! so a state, an outcome or a field can never be added on one side only. These tests fail when
//! a committed file differs from what the types say; `GODWIT_BLESS=1 cargo test generated`
//! rewrites them.

use std::path::PathBuf;

use ts_rs::{Config, TS};

use crate::check::{BaseInfo, CheckMode, CheckReport, Legacy, MigrationSummary};
use crate::contract::modules::MigrationConfig;
use crate::create::Created;
use crate::db::ResetDone;
use crate::db::history::HistoryTable;
use crate::error::{Code, ErrorDoc};
use crate::files::base::{BaseSpec, NoBase};
use crate::files::scan::{MigrationFile, Scan};
use crate::import::{Imported, ImportedFile};
use crate::plan::{HistoryStatus, Row, State};
use crate::policy::{Destructive, Level, Policy, Waiver};
use crate::run::report::{
    Command, DatabaseInfo, EntryState, FailureDetail, MigrationEntry, Outcome, PlannedMigration,
    Problem, Report, ToolInfo,
};
use crate::settings::Effective;
use crate::settings::project::SchemaFile;
use crate::settings::project::{ProjectConfig, RunSettings as ProjectRunSettings};
use crate::status::{Fingerprint, SchemaFileReport, StatusDatabase, StatusReport};
use crate::violation::{Severity, SqlAt, Violation};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Compares `path` with `text`, or writes it under GODWIT_BLESS=1.
fn current(path: &str, text: &str) {
    let path = root().join(path);
    if std::env::var("GODWIT_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is not what the Rust types generate; run `GODWIT_BLESS=1 cargo test generated` and commit it",
        path.display()
    );
}

macro_rules! decls {
    ($cfg:expr, $($t:ty),* $(,)?) => {{
        let mut out = Vec::new();
        $( out.push(format!("export {}", <$t as TS>::decl($cfg))); )*
        out
    }};
}

#[test]
fn typescript_types_are_generated_from_the_rust_types() {
    // JS numbers: every count, duration and size godwit reports fits in 2^53
    let cfg = Config::new().with_large_int("number");
    let decls = decls!(
        &cfg,
        Code,
        ErrorDoc,
        Severity,
        SqlAt,
        Violation,
        MigrationFile,
        Scan,
        Created,
        ImportedFile,
        Imported,
        BaseSpec,
        NoBase,
        BaseInfo,
        MigrationConfig,
        MigrationSummary,
        Destructive,
        Level,
        Policy,
        Waiver,
        CheckMode,
        Legacy,
        CheckReport,
        HistoryTable,
        HistoryStatus,
        State,
        Row,
        StatusDatabase,
        StatusReport,
        Effective,
        EntryState,
        Outcome,
        Command,
        ToolInfo,
        DatabaseInfo,
        MigrationEntry,
        FailureDetail,
        Problem,
        ResetDone,
        PlannedMigration,
        Report,
        Fingerprint,
        SchemaFileReport,
        ProjectRunSettings,
        SchemaFile,
        ProjectConfig,
    );
    let text = format!(
        "// Generated from godwit's Rust types by `src/generated.rs`; do not edit.\n// `GODWIT_BLESS=1 cargo test generated` rewrites it.\n\n{}\n",
        decls.join("\n\n")
    );
    current("types.d.ts", &text);
}

/// schemars notes Rust's integer widths as `format`s (`uint32`, ...), which JSON Schema does not
/// define and strict validators refuse; the bounds are already there as `minimum`.
fn plain_formats(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            let rust_width = map
                .get("format")
                .and_then(|f| f.as_str())
                .is_some_and(|f| f.starts_with("int") || f.starts_with("uint") || f == "double");
            if rust_width {
                map.remove("format");
            }
            map.values_mut().for_each(plain_formats);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(plain_formats),
        _ => {}
    }
}

#[test]
fn the_report_schema_is_generated_from_the_rust_types() {
    let mut schema = schemars::schema_for!(Report);
    schema.insert("$id".into(), "godwit/migration-report.schema.json".into());
    schema.insert(
        "title".into(),
        "godwit up/down/reset report (.artifacts/deploy/<sha>/migration.json; down.json and reset.json for the local commands)".into(),
    );
    schema.insert(
        "description".into(),
        "Written by every `godwit up`, on success and on failure (each attempt also under attempts/). `up --json` prints the same document. Connection details never include a password.".into(),
    );
    let mut value = serde_json::to_value(&schema).unwrap();
    plain_formats(&mut value);
    let text = serde_json::to_string_pretty(&value).unwrap() + "\n";
    current("schema/migration-report.schema.json", &text);
}
