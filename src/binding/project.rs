//! The folder's entry points: scan, configuration, the `check` session, `create`, `import`, and
//! the literal reader for the tests that hold it to Node.

use super::*;

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
