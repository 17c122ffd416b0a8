//! Connection settings: `DATABASE_URL`, else libpq's `PG*` variables, else a clear error (never a
//! silent default); a connection service (`?service=`, `PGSERVICE`) fills what the URL does not
//! say and wins over the `PG*` variables, and the password file supplies a password none of them
//! gave, each as libpq does. Also the one place that knows how to show a connection without its
//! secrets, and whether a server is this machine's own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;

use tokio_postgres::config::{Config, Host};

use crate::db::libpq_files::{self, PassKey};
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

/// URL parameters tokio-postgres does not take (TLS files, the service, the password file), split
/// off the URL.
const TAKEN_PARAMS: [&str; 7] = [
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "sslpassword",
    "service",
    "passfile",
];

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
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            // `get`: the two bytes after `%` may be part of a multi-byte character
            if let Some(Ok(b)) = s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if byte == b'+' { b' ' } else { byte });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The authority of a URL (between `://` and the path or query).
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or("")
}

/// Settings from the environment, with the password file's password when none was given.
pub fn from_env(env: &Env) -> Result<Settings> {
    let (mut settings, passfile) = match env.get("DATABASE_URL") {
        Some(url) => from_url(&url, env)?,
        None => from_pg_env(env)?,
    };
    if settings.config.get_password().is_none() {
        if let Some(pw) = passfile_password(&settings, passfile.as_deref(), env) {
            settings.config.password(pw);
        }
    }
    Ok(settings)
}

/// The password file's password for this connection's first host, as libpq matches it (a Unix
/// socket matches `localhost`).
fn passfile_password(settings: &Settings, explicit: Option<&str>, env: &Env) -> Option<String> {
    let path = libpq_files::passfile_path(explicit, env)?;
    let c = &settings.config;
    let host = match c.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        // (tokio-postgres has Unix sockets only on Unix)
        #[cfg(unix)]
        Some(Host::Unix(_)) => "localhost".to_string(),
        None => "localhost".to_string(),
    };
    let user = c.get_user().unwrap_or("");
    let key = PassKey {
        host: &host,
        port: c.get_ports().first().copied().unwrap_or(5432),
        dbname: c.get_dbname().unwrap_or(user),
        user,
    };
    libpq_files::password(&path, &key)
}

/// The named service's settings, when one is named (`?service=` or `PGSERVICE`).
fn service_settings(named: Option<String>, env: &Env) -> Result<HashMap<String, String>> {
    match named.or_else(|| env.get("PGSERVICE")) {
        Some(name) => libpq_files::service(&name, env),
        None => Ok(HashMap::new()),
    }
}

/// Settings from libpq's variables, under a service's when one is named (libpq: a service wins
/// over the environment).
fn from_pg_env(env: &Env) -> Result<(Settings, Option<String>)> {
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
            "no database connection settings: set DATABASE_URL (postgres://user@host:5432/db), the PGHOST/PGPORT/PGUSER/PGDATABASE/PGPASSWORD variables, or PGSERVICE (a .env file in the package root is read too)".into(),
        ));
    }
    let service = service_settings(None, env)?;
    let get = |key: &str, var: &str| service.get(key).cloned().or_else(|| env.get(var));
    let mut config = Config::new();
    config.host(get("host", "PGHOST").as_deref().unwrap_or("localhost"));
    if let Some(addr) = get("hostaddr", "PGHOSTADDR") {
        config.hostaddr(
            addr.parse()
                .map_err(|_| Error::Config(format!("PGHOSTADDR `{addr}` is not an IP address")))?,
        );
    }
    if let Some(port) = get("port", "PGPORT") {
        config.port(
            port.parse()
                .map_err(|_| Error::Config(format!("PGPORT `{port}` is not a port number")))?,
        );
    }
    let user = get("user", "PGUSER")
        .or(env.get("USER"))
        .unwrap_or_else(|| "postgres".into());
    config.user(&user);
    config.dbname(get("dbname", "PGDATABASE").as_deref().unwrap_or(&user));
    match service.get("password") {
        Some(pw) => {
            config.password(pw.as_str());
        }
        None => {
            if let Some(pw) = env.raw("PGPASSWORD") {
                config.password(pw);
            }
        }
    }
    if let Some(t) = get("connect_timeout", "PGCONNECT_TIMEOUT") {
        apply_connect_timeout(&mut config, &t)?;
    }
    config.application_name(
        get("application_name", "PGAPPNAME")
            .as_deref()
            .unwrap_or("godwit"),
    );
    let options = get("options", "PGOPTIONS").unwrap_or_default();
    if !options.is_empty() {
        config.options(&options);
    }
    if env.get("PGSSLPASSWORD").is_some() {
        return Err(encrypted_key_refused());
    }
    let settings = Settings {
        ssl_mode: match get("sslmode", "PGSSLMODE") {
            Some(m) => m.parse()?,
            None => SslMode::Prefer,
        },
        ssl_root_cert: get("sslrootcert", "PGSSLROOTCERT"),
        ssl_cert: get("sslcert", "PGSSLCERT"),
        ssl_key: get("sslkey", "PGSSLKEY"),
        options: parse_options(&options),
        config,
    };
    Ok((settings, get("passfile", "PGPASSFILE")))
}

/// `connect_timeout` in whole seconds, as libpq takes it.
fn apply_connect_timeout(config: &mut Config, t: &str) -> Result<()> {
    let secs: u64 = t.trim().parse().map_err(|_| {
        Error::Config(format!(
            "connect_timeout `{t}` is not a whole number of seconds"
        ))
    })?;
    if secs > 0 {
        config.connect_timeout(std::time::Duration::from_secs(secs.max(2)));
    }
    Ok(())
}

fn encrypted_key_refused() -> Error {
    Error::Config(
        "sslpassword (an encrypted client key) is not supported: give sslkey an unencrypted PEM key file readable only by this user".into(),
    )
}

fn from_url(url: &str, env: &Env) -> Result<(Settings, Option<String>)> {
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
    // what the URL does not say, its service does (then the PG* variables, for TLS as before)
    let service = service_settings(tls.get("service").cloned(), env)?;
    fill_from_service(&mut config, &service)?;
    let pick = |key: &str, var: &str| {
        tls.get(key)
            .cloned()
            .or_else(|| service.get(key).cloned())
            .or_else(|| env.get(var))
    };
    let ssl_mode = match pick("sslmode", "PGSSLMODE") {
        Some(m) => m.parse()?,
        None => SslMode::Prefer,
    };
    if config.get_application_name().is_none() {
        config.application_name(env.get("PGAPPNAME").as_deref().unwrap_or("godwit"));
    }
    let options = parse_options(config.get_options().unwrap_or(""));
    let settings = Settings {
        config,
        ssl_mode,
        ssl_root_cert: pick("sslrootcert", "PGSSLROOTCERT"),
        ssl_cert: pick("sslcert", "PGSSLCERT"),
        ssl_key: pick("sslkey", "PGSSLKEY"),
        options,
    };
    Ok((settings, pick("passfile", "PGPASSFILE")))
}

/// A service's settings where the URL left them unset.
fn fill_from_service(config: &mut Config, service: &HashMap<String, String>) -> Result<()> {
    if let Some(h) = service
        .get("host")
        .filter(|_| config.get_hosts().is_empty())
    {
        config.host(h);
    }
    if let Some(a) = service
        .get("hostaddr")
        .filter(|_| config.get_hostaddrs().is_empty())
    {
        config.hostaddr(
            a.parse().map_err(|_| {
                Error::Config(format!("service hostaddr `{a}` is not an IP address"))
            })?,
        );
    }
    if let Some(p) = service
        .get("port")
        .filter(|_| config.get_ports().is_empty())
    {
        config.port(
            p.parse()
                .map_err(|_| Error::Config(format!("service port `{p}` is not a port number")))?,
        );
    }
    if let Some(u) = service.get("user").filter(|_| config.get_user().is_none()) {
        config.user(u);
    }
    if let Some(d) = service
        .get("dbname")
        .filter(|_| config.get_dbname().is_none())
    {
        config.dbname(d);
    }
    if let Some(pw) = service
        .get("password")
        .filter(|_| config.get_password().is_none())
    {
        config.password(pw.as_str());
    }
    if let Some(a) = service
        .get("application_name")
        .filter(|_| config.get_application_name().is_none())
    {
        config.application_name(a);
    }
    if let Some(o) = service
        .get("options")
        .filter(|_| config.get_options().is_none())
    {
        config.options(o);
    }
    if let Some(t) = service
        .get("connect_timeout")
        .filter(|_| config.get_connect_timeout().is_none())
    {
        apply_connect_timeout(config, t)?;
    }
    Ok(())
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
                #[cfg(unix)]
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
            #[cfg(unix)]
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

    /// A file in a fresh temporary folder, with `mode` on Unix.
    fn temp_file(name: &str, text: &str, mode: u32) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "godwit-conn-{}-{}",
            std::process::id(),
            name.replace('.', "_")
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join(name);
        std::fs::write(&f, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        #[cfg(not(unix))]
        let _ = mode;
        f
    }

    #[test]
    fn a_service_wins_over_pg_variables_and_loses_to_the_url() {
        let f = temp_file(
            "pg_service.conf",
            "[app]\nhost=db.internal\nport=6543\nuser=deploy\ndbname=prod\nsslmode=require\n",
            0o644,
        );
        let file: &'static str = Box::leak(f.display().to_string().into_boxed_str());
        let s = from_env(&env(&[
            ("PGSERVICE", "app"),
            ("PGSERVICEFILE", file),
            ("PGHOST", "ignored.example"),
            ("PGUSER", "ignored"),
        ]))
        .unwrap();
        assert_eq!(s.display(), "postgres://deploy@db.internal:6543/prod");
        assert_eq!(s.ssl_mode, SslMode::Require);
        // in a URL: what the URL says wins, the service fills the rest
        let s = from_env(&env(&[
            (
                "DATABASE_URL",
                "postgres://other@/?service=app&sslmode=disable",
            ),
            ("PGSERVICEFILE", file),
        ]))
        .unwrap();
        assert_eq!(s.display(), "postgres://other@db.internal:6543/prod");
        assert_eq!(s.ssl_mode, SslMode::Disable);
        let e = from_env(&env(&[("PGSERVICE", "nope"), ("PGSERVICEFILE", file)])).unwrap_err();
        assert!(e.to_string().contains("service `nope`"), "{e}");
    }

    #[test]
    fn the_password_file_gives_a_password_only_when_none_was_given_and_only_if_private() {
        let private = temp_file("pgpass", "127.0.0.1:5433:*:deploy:from-file\n", 0o600);
        let file: &'static str = Box::leak(private.display().to_string().into_boxed_str());
        let base = [
            ("PGHOST", "127.0.0.1"),
            ("PGPORT", "5433"),
            ("PGUSER", "deploy"),
            ("PGPASSFILE", file),
        ];
        let s = from_env(&env(&base)).unwrap();
        assert_eq!(s.config.get_password(), Some(&b"from-file"[..]));
        let mut given = base.to_vec();
        given.push(("PGPASSWORD", "given"));
        assert_eq!(
            from_env(&env(&given)).unwrap().config.get_password(),
            Some(&b"given"[..])
        );
        let url = from_env(&env(&[
            ("DATABASE_URL", "postgres://deploy@127.0.0.1:5433/app"),
            ("PGPASSFILE", file),
        ]))
        .unwrap();
        assert_eq!(url.config.get_password(), Some(&b"from-file"[..]));
        #[cfg(unix)]
        {
            let shared = temp_file("pgpass-shared", "*:*:*:*:leaked\n", 0o644);
            let shared: &'static str = Box::leak(shared.display().to_string().into_boxed_str());
            let s = from_env(&env(&[
                ("PGHOST", "127.0.0.1"),
                ("PGUSER", "deploy"),
                ("PGPASSFILE", shared),
            ]))
            .unwrap();
            assert_eq!(s.config.get_password(), None);
        }
    }

    #[test]
    fn options_forms() {
        let o = parse_options("-c lock_timeout=1s -cstatement_timeout=2s --search-path=x");
        assert_eq!(o.get("lock_timeout").map(String::as_str), Some("1s"));
        assert_eq!(o.get("statement_timeout").map(String::as_str), Some("2s"));
        assert_eq!(o.get("search_path").map(String::as_str), Some("x"));
    }
}
