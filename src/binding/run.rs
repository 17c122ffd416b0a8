//! A locked run's session (`up`, `down`, `reset`, `baseline`, `plan`).

use super::answers::{Answer, Rows};
use super::*;

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
