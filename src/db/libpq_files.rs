//! The two files libpq users keep their connections in, read as libpq reads them: the connection
//! service file (`PGSERVICE`, `?service=`; `PGSERVICEFILE` or `~/.pg_service.conf`, then
//! `PGSYSCONFDIR/pg_service.conf`) and the password file (`PGPASSFILE` or `~/.pgpass`; on Windows
//! `%APPDATA%\postgresql\pgpass.conf`), which is skipped, with libpq's warning, when others may
//! read it.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::settings::Env;

/// Connection keys a service may set (libpq's names), the ones godwit applies.
pub const SERVICE_KEYS: [&str; 14] = [
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "passfile",
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "application_name",
    "options",
    "connect_timeout",
];

fn home(env: &Env) -> Option<PathBuf> {
    env.get("HOME").map(PathBuf::from)
}

/// The files that may define services, in libpq's order: the user's, then the system's.
fn service_files(env: &Env) -> Vec<PathBuf> {
    let mut files = Vec::new();
    match env.get("PGSERVICEFILE") {
        Some(f) => files.push(PathBuf::from(f)),
        None => files.extend(home(env).map(|h| h.join(".pg_service.conf"))),
    }
    files.extend(
        env.get("PGSYSCONFDIR")
            .map(|d| PathBuf::from(d).join("pg_service.conf")),
    );
    files
}

/// The settings of service `name`: from the first file that defines it (libpq does not merge a
/// service across files). A service no file defines, or a malformed file, is an error.
pub fn service(name: &str, env: &Env) -> Result<HashMap<String, String>> {
    let files = service_files(env);
    for file in &files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(file, e)),
        };
        if let Some(found) = parse_service(&text, name)
            .map_err(|why| Error::Config(format!("service file {}: {why}", file.display())))?
        {
            return Ok(found);
        }
    }
    let searched: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    Err(Error::Config(format!(
        "service `{name}` (PGSERVICE or ?service=) is defined in none of: {} (fix: add a [{name}] section, or point PGSERVICEFILE at the file that has one)",
        if searched.is_empty() {
            "no service file (set HOME, PGSERVICEFILE or PGSYSCONFDIR)".to_string()
        } else {
            searched.join(", ")
        }
    )))
}

/// Service `name`'s `key=value` lines in an INI-style service file, or `None` when the file has
/// no such section.
pub fn parse_service(
    text: &str,
    name: &str,
) -> std::result::Result<Option<HashMap<String, String>>, String> {
    let mut current: Option<String> = None;
    let mut found: Option<HashMap<String, String>> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[') {
            let Some(section) = section.strip_suffix(']') else {
                return Err(format!("line {}: `{line}` is not a [section]", i + 1));
            };
            if found.is_some() {
                break; // the wanted section has ended
            }
            current = Some(section.trim().to_string());
            if current.as_deref() == Some(name) {
                found = Some(HashMap::new());
            }
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            return Err(format!("line {}: `{line}` is not key=value", i + 1));
        };
        if current.is_none() {
            return Err(format!("line {}: a setting before any [service]", i + 1));
        }
        if let Some(map) = found.as_mut() {
            let key = key.trim();
            if !SERVICE_KEYS.contains(&key) {
                return Err(format!(
                    "line {}: `{key}` is not a connection setting godwit applies ({})",
                    i + 1,
                    SERVICE_KEYS.join(", ")
                ));
            }
            map.insert(key.to_string(), value.trim().to_string());
        }
    }
    Ok(found)
}

/// Where the password file is: `passfile` (from the URL or service), `PGPASSFILE`, else the
/// platform's default.
pub fn passfile_path(explicit: Option<&str>, env: &Env) -> Option<PathBuf> {
    if let Some(p) = explicit
        .map(str::to_string)
        .or_else(|| env.get("PGPASSFILE"))
    {
        return Some(PathBuf::from(p));
    }
    if cfg!(windows) {
        return env
            .get("APPDATA")
            .map(|d| PathBuf::from(d).join("postgresql").join("pgpass.conf"));
    }
    home(env).map(|h| h.join(".pgpass"))
}

/// Who is connecting where, as the password file matches it.
pub struct PassKey<'a> {
    pub host: &'a str,
    pub port: u16,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// The password for `key` from the file at `path`, if the file exists, only its owner can read
/// it, and a line matches. A readable-by-others file is skipped with libpq's warning.
pub fn password(path: &std::path::Path, key: &PassKey) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            crate::run::progress::say(format_args!(
                "godwit: warning: password file {} has group or world access; permissions should be u=rw (0600) or less: it was not read",
                path.display()
            ));
            return None;
        }
    }
    let text = std::fs::read_to_string(path).ok()?;
    lookup_password(&text, key)
}

/// The first matching line's password: `host:port:database:user:password`, `*` matching any
/// value, `\:` and `\\` escaping; lines starting with `#` are comments.
pub fn lookup_password(text: &str, key: &PassKey) -> Option<String> {
    let port = key.port.to_string();
    let wanted = [key.host, port.as_str(), key.dbname, key.user];
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_fields(line);
        let Some((host_to_user, password)) = fields.split_at_checked(4) else {
            continue;
        };
        if !password.is_empty()
            && wanted
                .iter()
                .zip(host_to_user)
                .all(|(want, field)| field == "*" || field == want)
        {
            return Some(password.join(":"));
        }
    }
    None
}

/// Splits on unescaped `:`, undoing `\:` and `\\`.
fn split_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let (Some(next), Some(f)) = (chars.next(), fields.last_mut()) {
                    f.push(next);
                }
            }
            ':' if fields.len() < 5 => fields.push(String::new()),
            c => {
                if let Some(f) = fields.last_mut() {
                    f.push(c);
                }
            }
        }
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: PassKey = PassKey {
        host: "db.internal",
        port: 5432,
        dbname: "app",
        user: "deploy",
    };

    #[test]
    fn password_lines_match_with_wildcards_in_order() {
        let text = "# comment\nother:5432:app:deploy:no\ndb.internal:5432:*:deploy:s3cret\n*:*:*:*:fallback\n";
        assert_eq!(lookup_password(text, &KEY).as_deref(), Some("s3cret"));
        let other = PassKey {
            user: "someone",
            ..KEY
        };
        assert_eq!(lookup_password(text, &other).as_deref(), Some("fallback"));
        assert_eq!(lookup_password("h:1:d:u:p\n", &KEY), None);
    }

    #[test]
    fn escapes_and_colons_in_the_password() {
        let text = "db.internal:5432:app:deploy:pa\\:ss\\\\word:with:colons\n";
        assert_eq!(
            lookup_password(text, &KEY).as_deref(),
            Some("pa:ss\\word:with:colons")
        );
        let host = PassKey { host: "a:b", ..KEY };
        assert_eq!(
            lookup_password("a\\:b:*:*:*:x\n", &host).as_deref(),
            Some("x")
        );
    }

    #[test]
    fn service_sections_are_read_up_to_the_next_one() {
        let text = "# services\n[app]\nhost=db.internal\nport = 6543\n\n[other]\nhost=elsewhere\n";
        let app = parse_service(text, "app").unwrap().unwrap();
        assert_eq!(app["host"], "db.internal");
        assert_eq!(app["port"], "6543");
        assert!(parse_service(text, "missing").unwrap().is_none());
        for bad in [
            "[app\nhost=x",
            "[app]\nnot a setting",
            "host=x\n[app]",
            "[app]\ntarget_session_attrs=any",
        ] {
            assert!(parse_service(bad, "app").is_err(), "{bad}");
        }
    }

    #[test]
    fn an_undefined_service_names_the_files_searched() {
        let env = Env::from_pairs([
            ("PGSERVICEFILE", "/nonexistent/services.conf"),
            ("PGSYSCONFDIR", "/nonexistent/etc"),
        ]);
        let e = service("app", &env).unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/services.conf")
                && e.contains("/nonexistent/etc/pg_service.conf"),
            "{e}"
        );
    }
}
