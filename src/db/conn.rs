//! Connection settings: `DATABASE_URL`, else libpq's `PG*` variables, else a clear error (never a
//! silent default). Also the one place that knows how to show a connection without its secrets,
//! and whether a server is this machine's own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use tokio_postgres::config::{Config, Host};

use crate::error::{Error, Result};
use crate::settings::Env;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// What TLS needs, as libpq takes it (`sslmode`, `sslrootcert`, `sslcert`, `sslkey`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `sslrootcert`: a PEM file, or `system`; `None`: `~/.postgresql/root.crt` when it exists.
    pub root_cert: Option<String>,
    /// `sslcert`/`sslkey`: a client certificate; `None`: `~/.postgresql/postgresql.crt`/`.key`
    /// when they exist.
    pub cert: Option<String>,
    pub key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    pub ssl_mode: SslMode,
    pub ssl_root_cert: Option<String>,
    pub ssl_cert: Option<String>,
    pub ssl_key: Option<String>,
    /// `-c name=value` pairs from `options` / `PGOPTIONS`, so explicit session settings there are
    /// honoured rather than overridden by godwit's defaults.
    pub options: HashMap<String, String>,
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

/// URL parameters tokio-postgres does not take (TLS files), split off the URL.
const TAKEN_PARAMS: [&str; 5] = ["sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword"];

/// Splits the query parameters tokio-postgres does not understand (TLS ones) out of a URL.
fn take_url_params(url: &str) -> (String, HashMap<String, String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), HashMap::new());
    };
    let mut taken = HashMap::new();
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if TAKEN_PARAMS.contains(&k) {
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

/// The authority of a URL (between `://` and the path or query).
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or("")
}

/// Settings from the environment.
pub fn from_env(env: &Env) -> Result<Settings> {
    if let Some(url) = env.get("DATABASE_URL") {
        return from_url(&url, env);
    }
    let any = [
        "PGHOST",
        "PGHOSTADDR",
        "PGPORT",
        "PGUSER",
        "PGDATABASE",
        "PGPASSWORD",
        "PGSERVICE",
    ]
    .iter()
    .any(|k| env.get(k).is_some());
    if !any {
        return Err(Error::Config(
            "no database connection settings: set DATABASE_URL (postgres://user@host:5432/db) or the PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD variables".into(),
        ));
    }
    let mut config = Config::new();
    config.host(env.get("PGHOST").as_deref().unwrap_or("localhost"));
    if let Some(addr) = env.get("PGHOSTADDR") {
        config.hostaddr(
            addr.parse()
                .map_err(|_| Error::Config(format!("PGHOSTADDR `{addr}` is not an IP address")))?,
        );
    }
    if let Some(port) = env.get("PGPORT") {
        config.port(
            port.parse()
                .map_err(|_| Error::Config(format!("PGPORT `{port}` is not a port number")))?,
        );
    }
    let user = env
        .get("PGUSER")
        .or(env.get("USER"))
        .unwrap_or_else(|| "postgres".into());
    config.user(&user);
    config.dbname(env.get("PGDATABASE").as_deref().unwrap_or(&user));
    if let Some(pw) = env.raw("PGPASSWORD") {
        config.password(pw);
    }
    config.application_name(env.get("PGAPPNAME").as_deref().unwrap_or("godwit"));
    let options = env.get("PGOPTIONS").unwrap_or_default();
    if !options.is_empty() {
        config.options(&options);
    }
    if env.get("PGSSLPASSWORD").is_some() {
        return Err(encrypted_key_refused());
    }
    Ok(Settings {
        ssl_mode: match env.get("PGSSLMODE") {
            Some(m) => m.parse()?,
            None => SslMode::Prefer,
        },
        ssl_root_cert: env.get("PGSSLROOTCERT"),
        ssl_cert: env.get("PGSSLCERT"),
        ssl_key: env.get("PGSSLKEY"),
        options: parse_options(&options),
        config,
    })
}

fn encrypted_key_refused() -> Error {
    Error::Config(
        "sslpassword (an encrypted client key) is not supported: give sslkey an unencrypted PEM key file readable only by this user".into(),
    )
}

fn from_url(url: &str, env: &Env) -> Result<Settings> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::Config(
            "DATABASE_URL must be a postgres:// or postgresql:// URL".into(),
        ));
    }
    // `postgres://u:Cx9@Secret@host/db`: a raw `@` in the password would make part of it the
    // host, printed in every message. Refused, and the URL is not echoed.
    if authority(url).matches('@').count() > 1 {
        return Err(Error::Config(
            "DATABASE_URL has more than one `@` before the host: percent-encode an `@` in the user name or password as %40 (the URL is not shown, as it holds a password)".into(),
        ));
    }
    let (rest, tls) = take_url_params(url);
    let mut config = Config::from_str(&rest).map_err(|e| {
        Error::Config(format!(
            "DATABASE_URL is not a valid PostgreSQL URL ({})",
            redact_message(&e.to_string(), url)
        ))
    })?;
    if tls.contains_key("sslpassword") || env.get("PGSSLPASSWORD").is_some() {
        return Err(encrypted_key_refused());
    }
    let ssl_mode = match tls.get("sslmode").cloned().or(env.get("PGSSLMODE")) {
        Some(m) => m.parse()?,
        None => SslMode::Prefer,
    };
    if config.get_application_name().is_none() {
        config.application_name(env.get("PGAPPNAME").as_deref().unwrap_or("godwit"));
    }
    let options = parse_options(config.get_options().unwrap_or(""));
    Ok(Settings {
        config,
        ssl_mode,
        ssl_root_cert: tls.get("sslrootcert").cloned().or(env.get("PGSSLROOTCERT")),
        ssl_cert: tls.get("sslcert").cloned().or(env.get("PGSSLCERT")),
        ssl_key: tls.get("sslkey").cloned().or(env.get("PGSSLKEY")),
        options,
    })
}

fn home_file(name: &str) -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql").join(name))
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

    /// TLS as libpq resolves it: explicit files, else the `~/.postgresql` defaults that exist.
    pub fn tls(&self) -> TlsSettings {
        let existing = |name: &str| {
            home_file(name)
                .filter(|p| p.is_file())
                .map(|p| p.display().to_string())
        };
        let (cert, key) = match (&self.ssl_cert, &self.ssl_key) {
            (None, None) => match (existing("postgresql.crt"), existing("postgresql.key")) {
                (Some(c), Some(k)) => (Some(c), Some(k)),
                _ => (None, None),
            },
            (c, k) => (c.clone(), k.clone()),
        };
        TlsSettings {
            mode: self.ssl_mode,
            root_cert: self.ssl_root_cert.clone().or_else(|| existing("root.crt")),
            cert,
            key,
        }
    }

    /// Whether every host (and host address) is this machine: a Unix socket or a loopback
    /// address. `localhost` with a `hostaddr` elsewhere is not local.
    pub fn is_local(&self) -> bool {
        let loopback_name =
            |n: &str| n == "localhost" || n.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let hosts_local = self.config.get_hosts().iter().all(|h| match h {
            Host::Tcp(name) => loopback_name(name),
            Host::Unix(_) => true,
        });
        let addrs_local = self.config.get_hostaddrs().iter().all(IpAddr::is_loopback);
        hosts_local && addrs_local
    }

    pub fn with_connect_timeout(mut self, d: std::time::Duration) -> Self {
        if self.config.get_connect_timeout().is_none() {
            self.config.connect_timeout(d);
        }
        self
    }
}

/// Removes any trace of the URL's user information (and the raw URL) from a message before it
/// leaves godwit.
pub fn redact_message(message: &str, secret_source: &str) -> String {
    let mut out = message.replace(secret_source, "<DATABASE_URL>");
    let auth = authority(secret_source);
    if let Some((userinfo, _)) = auth.rsplit_once('@') {
        let mut pieces: Vec<&str> = vec![userinfo];
        pieces.extend(userinfo.split([':', '@']));
        pieces.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in pieces.into_iter().filter(|p| p.len() >= 2) {
            out = out.replace(p, "<redacted>");
            let decoded = percent_decode(p);
            if decoded.len() >= 2 {
                out = out.replace(&decoded, "<redacted>");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> Env {
        Env::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn nothing_set_is_an_error_not_a_default() {
        let e = from_env(&env(&[])).unwrap_err();
        assert_eq!(e.code(), crate::error::Code::Config);
        assert!(e.to_string().contains("DATABASE_URL"));
    }

    #[test]
    fn url_with_query_parameters() {
        let s = from_env(&env(&[(
            "DATABASE_URL",
            "postgres://app:s3cret@db.internal:6543/prod?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&sslcert=%2Fc.pem&sslkey=%2Fk.pem&application_name=deploy&options=-c%20lock_timeout%3D3s",
        )]))
        .unwrap();
        assert_eq!(s.ssl_mode, SslMode::VerifyFull);
        assert_eq!(s.ssl_root_cert.as_deref(), Some("/etc/ca.pem"));
        assert_eq!(
            (s.ssl_cert.as_deref(), s.ssl_key.as_deref()),
            (Some("/c.pem"), Some("/k.pem"))
        );
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
        let s = from_env(&env(&[
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
        assert_eq!(s.config.get_password(), Some(&b"pw"[..]));
    }

    #[test]
    fn bad_values_are_config_errors() {
        for bad in [
            vec![("DATABASE_URL", "mysql://x")],
            vec![("DATABASE_URL", "postgres://h/db?sslmode=sometimes")],
            vec![("DATABASE_URL", "postgres://u:p@h/db?sslpassword=x")],
            vec![("PGHOST", "h"), ("PGPORT", "abc")],
            vec![("PGHOST", "h"), ("PGHOSTADDR", "not-an-ip")],
        ] {
            assert!(from_env(&env(&bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_raw_at_sign_in_the_password_is_refused_without_echoing_it() {
        let e = from_env(&env(&[(
            "DATABASE_URL",
            "postgres://u:Cx9@Secret@db.example:5432/app",
        )]))
        .unwrap_err();
        let m = e.to_string();
        assert!(m.contains("%40"), "{m}");
        for piece in ["Cx9", "Secret", "db.example"] {
            assert!(!m.contains(piece), "{m}");
        }
        // percent-encoded, it is fine
        let s = from_env(&env(&[(
            "DATABASE_URL",
            "postgres://u:Cx9%40Secret@db.example:5432/app",
        )]))
        .unwrap();
        assert_eq!(s.display(), "postgres://u@db.example:5432/app");
        assert_eq!(s.config.get_password(), Some(&b"Cx9@Secret"[..]));
    }

    #[test]
    fn redaction_removes_url_and_every_part_of_the_userinfo() {
        let url = "postgres://app:hunter2@h/db";
        let m = redact_message(&format!("failed for {url}: password hunter2 rejected"), url);
        assert!(!m.contains("hunter2"), "{m}");
        assert!(m.contains("<DATABASE_URL>"));
        let url = "postgres://app:pa%3Ass@h/db";
        let m = redact_message("bad password pa:ss for app", url);
        assert!(!m.contains("pa:ss") && !m.contains("app"), "{m}");
    }

    #[test]
    fn local_means_loopback_for_every_host_and_address() {
        let local =
            |pairs: &[(&'static str, &'static str)]| from_env(&env(pairs)).unwrap().is_local();
        assert!(local(&[("DATABASE_URL", "postgres://u@localhost/d")]));
        assert!(local(&[("DATABASE_URL", "postgres://u@127.0.0.2:5433/d")]));
        assert!(local(&[("DATABASE_URL", "postgres://u@[::1]/d")]));
        assert!(local(&[("PGHOST", "/var/run/postgresql")]));
        assert!(!local(&[("DATABASE_URL", "postgres://u@db.internal/d")]));
        assert!(!local(&[(
            "DATABASE_URL",
            "postgres://u@localhost/d?hostaddr=10.1.2.3"
        )]));
        assert!(!local(&[
            ("PGHOST", "localhost"),
            ("PGHOSTADDR", "192.0.2.7")
        ]));
        assert!(local(&[
            ("PGHOST", "localhost"),
            ("PGHOSTADDR", "127.0.0.1")
        ]));
    }

    #[test]
    fn options_forms() {
        let o = parse_options("-c lock_timeout=1s -cstatement_timeout=2s --search-path=x");
        assert_eq!(o.get("lock_timeout").map(String::as_str), Some("1s"));
        assert_eq!(o.get("statement_timeout").map(String::as_str), Some("2s"));
        assert_eq!(o.get("search_path").map(String::as_str), Some("x"));
    }
}
