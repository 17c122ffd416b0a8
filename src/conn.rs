//! Connection settings: `DATABASE_URL`, else libpq's `PG*` variables, else a clear error (never a
//! silent default). Also the one place that knows how to show a connection without its password.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use tokio_postgres::config::{Config, Host};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

impl FromStr for SslMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => {
                return Err(Error::Config(format!(
                    "sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full"
                )));
            }
        })
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub ssl_mode: SslMode,
    pub ssl_root_cert: Option<String>,
    /// `-c name=value` pairs from `options` / `PGOPTIONS`, so explicit session settings there are
    /// honoured rather than overridden by godwit's defaults.
    pub options: HashMap<String, String>,
    /// Where the settings came from, for messages: `DATABASE_URL` or `PG* environment`.
    pub source: &'static str,
}

/// `-c lock_timeout=5s -c statement_timeout=0` (also `--lock_timeout=5s`) into name -> value.
pub fn parse_options(options: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut words = options.split_whitespace();
    while let Some(w) = words.next() {
        let kv = if w == "-c" {
            words.next()
        } else if let Some(rest) = w.strip_prefix("-c") {
            Some(rest)
        } else {
            w.strip_prefix("--")
        };
        if let Some((k, v)) = kv.and_then(|kv| kv.split_once('=')) {
            out.insert(k.replace('-', "_"), v.to_string());
        }
    }
    out
}

/// Splits the query parameters tokio-postgres does not understand (TLS ones) out of a URL.
fn take_url_params(url: &str) -> (String, HashMap<String, String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), HashMap::new());
    };
    let mut taken = HashMap::new();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if matches!(k, "sslmode" | "sslrootcert" | "sslcert" | "sslkey") {
            taken.insert(k.to_string(), percent_decode(v));
        } else {
            kept.push(pair);
        }
    }
    let rebuilt = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rebuilt, taken)
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Settings from an environment lookup (a function, so tests need no process environment).
pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Settings> {
    let non_empty = |k: &str| get(k).filter(|v| !v.trim().is_empty());
    if let Some(url) = non_empty("DATABASE_URL") {
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(Error::Config(
                "DATABASE_URL must be a postgres:// or postgresql:// URL".into(),
            ));
        }
        let (rest, tls) = take_url_params(&url);
        let mut config = Config::from_str(&rest).map_err(|e| {
            Error::Config(format!(
                "DATABASE_URL is not a valid PostgreSQL URL ({})",
                redact_message(&e.to_string(), &url)
            ))
        })?;
        let ssl_mode = match tls.get("sslmode").or(non_empty("PGSSLMODE").as_ref()) {
            Some(m) => m.parse()?,
            None => SslMode::Prefer,
        };
        if config.get_application_name().is_none() {
            config.application_name(non_empty("PGAPPNAME").as_deref().unwrap_or("godwit"));
        }
        let options = parse_options(config.get_options().unwrap_or(""));
        return Ok(Settings {
            config,
            ssl_mode,
            ssl_root_cert: tls
                .get("sslrootcert")
                .cloned()
                .or(non_empty("PGSSLROOTCERT")),
            options,
            source: "DATABASE_URL",
        });
    }
    let any = [
        "PGHOST",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSERVICE",
    ]
    .iter()
    .any(|k| non_empty(k).is_some());
    if !any {
        return Err(Error::Config(
            "no database connection settings: set DATABASE_URL (postgres://user@host:5432/db) or the PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD variables".into(),
        ));
    }
    let mut config = Config::new();
    config.host(non_empty("PGHOST").as_deref().unwrap_or("localhost"));
    if let Some(port) = non_empty("PGPORT") {
        config.port(
            port.parse()
                .map_err(|_| Error::Config(format!("PGPORT `{port}` is not a port number")))?,
        );
    }
    let user = non_empty("PGUSER")
        .or(non_empty("USER"))
        .unwrap_or_else(|| "postgres".into());
    config.user(&user);
    config.dbname(non_empty("PGDATABASE").as_deref().unwrap_or(&user));
    if let Some(pw) = get("PGPASSWORD") {
        config.password(pw);
    }
    config.application_name(non_empty("PGAPPNAME").as_deref().unwrap_or("godwit"));
    let options = non_empty("PGOPTIONS").unwrap_or_default();
    if !options.is_empty() {
        config.options(&options);
    }
    Ok(Settings {
        ssl_mode: match non_empty("PGSSLMODE") {
            Some(m) => m.parse()?,
            None => SslMode::Prefer,
        },
        ssl_root_cert: non_empty("PGSSLROOTCERT"),
        options: parse_options(&options),
        config,
        source: "PG* environment",
    })
}

impl Settings {
    /// `postgres://user@host:port/db`: what a report or an error may show. Never the password.
    pub fn display(&self) -> String {
        let hosts: Vec<String> = self
            .config
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(s) => s.clone(),
                Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!(
            "postgres://{}@{}:{}/{}",
            self.config.get_user().unwrap_or(""),
            hosts.join(","),
            port,
            self.config.get_dbname().unwrap_or("")
        )
    }

    pub fn password(&self) -> Option<String> {
        self.config
            .get_password()
            .map(|p| String::from_utf8_lossy(p).into_owned())
    }

    pub fn with_connect_timeout(mut self, d: Duration) -> Self {
        if self.config.get_connect_timeout().is_none() {
            self.config.connect_timeout(d);
        }
        self
    }
}

/// Removes any trace of the password (and the raw URL) from a message before it leaves godwit.
pub fn redact_message(message: &str, secret_source: &str) -> String {
    let mut out = message.replace(secret_source, "<DATABASE_URL>");
    if let Some(pw) = password_in_url(secret_source) {
        if !pw.is_empty() {
            out = out.replace(&pw, "<redacted>");
        }
    }
    out
}

fn password_in_url(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    Some(userinfo.split_once(':')?.1.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn nothing_set_is_an_error_not_a_default() {
        let e = from_env(env(&[])).unwrap_err();
        assert_eq!(e.code(), "CONFIG");
        assert!(e.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn url_with_query_parameters() {
        let s = from_env(env(&[(
            "DATABASE_URL",
            "postgres://app:s3cret@db.internal:6543/prod?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=deploy&options=-c%20lock_timeout%3D3s",
        )]))
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyFull);
        assert_eq!(s.ssl_root_cert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(s.config.get_application_name(), Some("deploy"));
        assert_eq!(
            s.options.get("lock_timeout").map(String::as_str),
            Some("3s")
        );
        assert_eq!(s.display(), "postgres://app@db.internal:6543/prod");
        assert!(!s.display().contains("s3cret"));
    }

    #[test]
    fn libpq_variables() {
        let s = from_env(env(&[
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", "5433"),
            ("PGUSER", "u"),
            ("PGPASSWORD", "pw"),
            ("PGOPTIONS", "-c statement_timeout=1min"),
            ("PGSSLMODE", "disable"),
        ]))
        .unwrap();
        assert_eq!(s.display(), "postgres://u@127.0.0.1:5433/u");
        assert_eq!(s.ssl_mode, SslMode::Disable);
        assert_eq!(
            s.options.get("statement_timeout").map(String::as_str),
            Some("1min")
        );
        assert_eq!(s.config.get_application_name(), Some("godwit"));
        assert_eq!(s.password().as_deref(), Some("pw"));
    }

    #[test]
    fn bad_values_are_config_errors() {
        assert!(from_env(env(&[("DATABASE_URL", "mysql://x")])).is_err());
        assert!(
            from_env(env(&[(
                "DATABASE_URL",
                "postgres://h/db?sslmode=sometimes"
            )]))
            .is_err()
        );
        assert!(from_env(env(&[("PGHOST", "h"), ("PGPORT", "abc")])).is_err());
    }

    #[test]
    fn redaction_removes_url_and_password() {
        let url = "postgres://app:hunter2@h/db";
        let m = redact_message(&format!("failed for {url}: password hunter2 rejected"), url);
        assert!(!m.contains("hunter2"), "{m}");
        assert!(m.contains("<DATABASE_URL>"));
    }

    #[test]
    fn options_forms() {
        let o = parse_options("-c lock_timeout=1s -cstatement_timeout=2s --search-path=x");
        assert_eq!(o.get("lock_timeout").map(String::as_str), Some("1s"));
        assert_eq!(o.get("statement_timeout").map(String::as_str), Some("2s"));
        assert_eq!(o.get("search_path").map(String::as_str), Some("x"));
    }
}
