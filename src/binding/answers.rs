//! The `Answer` every report with rows comes back in, and the read-only database answers:
//! `status` and its listing, the fingerprint, the schema file, the server's version, a fleet's
//! targets query, and verify's scratch databases.

use super::*;

/// `status`'s settings from the options and the environment: also the schema file's and the
/// targets query's.
fn status_settings(options: Options) -> napi::Result<settings::resolve::StatusSettings> {
    let env = options.environment();
    settings::resolve::status(&options.into(), &env).map_err(to_js)
}

async fn status_report(options: Options) -> napi::Result<status::StatusReport> {
    let settings = status_settings(options)?;
    status::status(&settings).await.map_err(to_js)
}

/// A report's answer: the report as JSON with `migrations` empty, and the rows kept here until
/// they are asked for. An API's start-up (`assertSchemaCurrent()`) reads `clean` and never the
/// rows, and the CLI's summary of an `up` reads the report's `counts`: at 10,000 migrations the
/// rows' serialisation (2 to 3 MB of JSON) and its crossing into V8 are then not paid at all.
#[napi]
pub struct Answer {
    pub(super) report: String,
    pub(super) rows: Rows,
}

/// The rows an `Answer` keeps: `status`'s, or a locked run's (shared with its session, whose
/// `finish` may be called again).
pub(super) enum Rows {
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
    let settings = status_settings(options)?;
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
    let settings = status_settings(options)?;
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
