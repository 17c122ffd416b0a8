//! Connecting: start-up (TCP, TLS, authentication), then the query that describes the session,
//! alone or pipelined with the first statements a command needs (`Reached`).

use std::time::Duration;

use tokio_postgres::{Client, NoTls, SimpleQueryMessage};

use super::{PgCancel, PgSession, describe_pg_error};
use crate::db::conn::{Settings, SslMode};
use crate::db::{Answer, SessionInfo};
use crate::error::{Error, Result};

/// Opens sessions to one server with one set of connection settings.
pub struct PgConnector {
    pub settings: Settings,
}

/// A session whose start-up is done but that is not described yet (`PgConnector::reach`).
pub struct Reached {
    client: Client,
    cancel: PgCancel,
    target: String,
}

/// What the server answered to a query sent with `Reached::describe_reading`.
pub type QueryAnswer = std::result::Result<Vec<SimpleQueryMessage>, tokio_postgres::Error>;

impl PgConnector {
    pub fn new(settings: Settings) -> PgConnector {
        PgConnector { settings }
    }

    async fn open(&self) -> Result<PgSession> {
        let reached = self.reach().await?;
        let info = read_info(&reached.client, &reached.target).await?;
        Ok(PgSession {
            client: reached.client,
            cancel: reached.cancel,
            info,
        })
    }

    /// The connection's start-up (TCP, TLS, authentication), without the query that describes
    /// the session: `Reached::describe_with` sends that with others in one round trip.
    pub async fn reach(&self) -> Result<Reached> {
        use tokio_postgres::config::SslMode as Wire;
        let settings = &self.settings;
        let target = settings.display();
        let mut config = settings.config.clone();
        // Our side notices a dead server or network within a minute rather than tokio-postgres's
        // default two hours (unless the URL chose its own keepalive settings).
        if config.get_keepalives_idle() == Duration::from_secs(2 * 60 * 60) {
            config.keepalives_idle(Duration::from_secs(30));
            config.keepalives_interval(Duration::from_secs(10));
            config.keepalives_retries(3);
        }
        config.ssl_mode(match settings.ssl_mode {
            SslMode::Disable => Wire::Disable,
            SslMode::Prefer => Wire::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Wire::Require,
        });
        let connect_err = |e: tokio_postgres::Error| {
            let mut message = describe_pg_error(&e);
            if let Some((what, fix)) = crate::db::tls::explain(&message) {
                message = format!("{what} (sslmode={}; {fix})", settings.ssl_mode.as_str());
            }
            Error::Connect {
                target: target.clone(),
                message,
            }
        };
        // The connection future ends when the client is dropped or the server goes away; errors
        // surface on the client's next call.
        let tls = crate::db::tls::connector(&settings.tls())?;
        let client = match tls.clone() {
            Some(t) => {
                let (client, connection) = config.connect(t).await.map_err(connect_err)?;
                tokio::spawn(connection);
                client
            }
            None => {
                let (client, connection) = config.connect(NoTls).await.map_err(connect_err)?;
                tokio::spawn(connection);
                client
            }
        };
        let cancel = PgCancel {
            token: client.cancel_token(),
            tls,
        };
        Ok(Reached {
            client,
            cancel,
            target,
        })
    }
}

impl PgConnector {
    /// `reach`, bounded by `bound` (named in the error as `named`: "10 s", or the setting that
    /// chose it).
    pub async fn reach_within(&self, bound: Duration, named: &str) -> Result<Reached> {
        tokio::time::timeout(bound, self.reach())
            .await
            .map_err(|_| Error::Connect {
                target: self.settings.display(),
                message: format!(
                    "no answer within {named}: the connection's start-up (TCP, TLS, authentication) did not complete"
                ),
            })?
    }
}

/// A session's first queries, bounded: start-up is done by then, so silence is a server (or a
/// pooler with no free server connection) that runs no query, not one that cannot be reached:
/// `CONNECTION_LOST`, naming the bound (`named`) and what the queries were for (`what`).
pub async fn first_queries<T>(
    bound: Duration,
    named: &str,
    what: &str,
    queries: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::time::timeout(bound, queries).await.map_err(|_| {
        Error::ConnectionLost(format!(
            "no answer within {named} to the session's first queries ({what}): the server, or a pooler in front of it, accepted the connection but is not running queries"
        ))
    })?
}

impl Reached {
    /// Describes the session and, pipelined after that query in the same round trip, runs
    /// `setup` (statements whose answers are not needed: the session's timeouts).
    pub async fn describe_with(self, setup: &str) -> Result<PgSession> {
        let (info, set) = tokio::join!(
            read_info(&self.client, &self.target),
            self.client.batch_execute(setup)
        );
        self.described(info, set)
    }

    /// Describes the session and runs `setup` after that query in the same round trip, handing
    /// back how `setup` ended as an `Answer`, for a caller that tells a refused statement from a
    /// lost session (`up`: the job's settings, sent before the server's version is known).
    pub async fn describe_running(self, setup: &str) -> Result<(PgSession, Answer)> {
        let (info, set) = tokio::join!(
            read_info(&self.client, &self.target),
            self.client.batch_execute(setup)
        );
        let session = PgSession {
            client: self.client,
            cancel: self.cancel,
            info: info?,
        };
        let answer = session.answer(set);
        Ok((session, answer))
    }

    /// `describe_with`, and then `query` in the same round trip, its answer returned as the
    /// server gave it. Three round trips become one: `status` and `assertSchemaCurrent()` pay
    /// each at every API start, and a database in another zone charges a millisecond or more
    /// for each. The server runs them in the order sent, so `query` runs under what `setup`
    /// set.
    pub async fn describe_reading(
        self,
        setup: &str,
        query: &str,
    ) -> Result<(PgSession, QueryAnswer)> {
        let (info, set, answer) = tokio::join!(
            read_info(&self.client, &self.target),
            self.client.batch_execute(setup),
            self.client.simple_query(query)
        );
        Ok((self.described(info, set)?, answer))
    }

    fn described(
        self,
        info: Result<SessionInfo>,
        set: std::result::Result<(), tokio_postgres::Error>,
    ) -> Result<PgSession> {
        let info = info?;
        set.map_err(|e| Error::Connect {
            target: self.target.clone(),
            message: format!("setting up the session: {}", describe_pg_error(&e)),
        })?;
        Ok(PgSession {
            client: self.client,
            cancel: self.cancel,
            info,
        })
    }
}

/// Who and what the session is, in one round trip; refuses a server whose strings godwit's own
/// statements are not written for. The session's own row comes from `pg_stat_get_activity(pid)`,
/// the function under the `pg_stat_ssl` and `pg_stat_activity` views (PostgreSQL 12 and later):
/// the views' joins cost a new backend 2 of the query's 3 ms, paid by every `status` and every
/// `assertSchemaCurrent()` at an API's start.
async fn read_info(client: &Client, target: &str) -> Result<SessionInfo> {
    let rows = client
        .simple_query(
            "SELECT current_setting('server_version'), pg_backend_pid()::text, current_setting('standard_conforming_strings'), \
             coalesce(a.ssl, false)::text, a.backend_start::text, current_setting('server_version_num'), \
             session_user::text, current_database()::text, \
             pg_is_in_recovery()::text, current_setting('transaction_read_only') \
             FROM pg_catalog.pg_stat_get_activity(pg_backend_pid()) a",
        )
        .await
        .map_err(|e| Error::Connect {
            target: target.to_string(),
            message: describe_pg_error(&e),
        })?;
    let mut info = SessionInfo::default();
    let mut answered = false;
    for m in rows {
        if let SimpleQueryMessage::Row(r) = m {
            answered = true;
            info.server_version = r.get(0).unwrap_or("").to_string();
            info.backend.pid = r.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            info.tls = r.get(3) == Some("true");
            info.backend.backend_start = r.get(4).unwrap_or("").to_string();
            info.version_num = r.get(5).and_then(|v| v.parse().ok()).unwrap_or(0);
            info.user = r.get(6).unwrap_or("").to_string();
            info.database = r.get(7).unwrap_or("").to_string();
            info.read_only = match (r.get(8), r.get(9)) {
                (Some("true"), _) => Some(crate::db::ReadOnly::Standby),
                (_, Some("on")) => Some(crate::db::ReadOnly::Sessions),
                _ => None,
            };
            if r.get(2) != Some("on") {
                return Err(Error::Config(
                    "standard_conforming_strings is off on this server (postgresql.conf or ALTER ROLE/DATABASE SET); godwit requires it on".into(),
                ));
            }
        }
    }
    if !answered {
        // the statistics collector has no row for this very session: not a PostgreSQL godwit knows
        return Err(Error::Connect {
            target: target.to_string(),
            message: "the server did not describe this session (pg_stat_get_activity(pg_backend_pid()) returned no row); godwit supports PostgreSQL 13 to 18".into(),
        });
    }
    Ok(info)
}

impl crate::db::Connector for PgConnector {
    type Session = PgSession;

    async fn connect(&self) -> Result<PgSession> {
        self.open().await
    }

    async fn connect_with(&self, setup: &str, bound: Duration) -> Result<(PgSession, Answer)> {
        let reached = self
            .reach_within(bound, &format!("{} s", bound.as_secs()))
            .await?;
        first_queries(
            bound,
            &format!("{} s", bound.as_secs()),
            "describing the session, setting its timeouts",
            reached.describe_running(setup),
        )
        .await
    }

    fn display(&self) -> String {
        self.settings.display()
    }

    fn ssl_mode(&self) -> &'static str {
        self.settings.ssl_mode.as_str()
    }
}
