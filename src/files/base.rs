//! "Immutable after merge": which commit counts as merged (the base ref), and what the migrations
//! folder held there. The decisions are pure functions of flags and environment; the git reads are
//! two processes (`ls-tree`, `cat-file --batch`) whatever the number of migrations, and the second
//! reads only the blobs whose id differs from the working file's: a file whose bytes hash to the
//! base's blob id holds the base's bytes (git's own identity, with SHA-1 collision detection as
//! git has it), so its content need not cross the pipe.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

use super::checksum::{checksum, to_hex};
use super::ledger::format::{self as ledger, Ledger};
use super::scan::{LEDGER_FILE, parse_filename};
use crate::error::{Error, Result};

/// Where the base ref came from, in the order they are consulted.
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", content = "ref", rename_all = "camelCase")]
pub enum BaseSpec {
    /// `--base <ref>`
    Flag(String),
    /// env `MIGRATION_BASE_REF`
    Env(String),
    /// GitHub Actions pull request: `origin/$GITHUB_BASE_REF`
    GithubBaseRef(String),
    /// Nothing given: the merge-base of HEAD with the first of `DEFAULT_CANDIDATES` that exists,
    /// else HEAD itself.
    Default,
    /// `--base none` / `MIGRATION_BASE_REF=none`: nothing counts as merged, on purpose.
    None,
}

pub const DEFAULT_CANDIDATES: [&str; 5] = [
    "origin/HEAD",
    "origin/main",
    "origin/master",
    "main",
    "master",
];

/// What the migrations folder held at the base commit.
#[derive(Debug, Clone, Default)]
pub struct BaseSnapshot {
    /// The ref as asked for (or `merge-base(HEAD, origin/main)` for the default).
    pub described: String,
    pub commit: String,
    /// Migration files (valid names only) -> checksum of their content at the base.
    pub files: BTreeMap<String, String>,
    /// The base's ledger, when it had a readable one.
    pub ledger: Option<Ledger>,
}

/// Why there is no base to compare with: the comparison then treats every ledger entry as sealed.
#[cfg_attr(test, derive(ts_rs::TS, schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum NoBase {
    NotAGitRepository,
    /// git is not installed: like outside a repository, but said apart in messages.
    GitMissing,
    NoCommits,
    /// The base was declared `none`.
    Declared,
}

impl NoBase {
    /// Whether nothing can tell merged from new here (outside git), as opposed to nothing being
    /// merged yet (no commits, or `none`).
    pub fn unknown(&self) -> bool {
        matches!(self, NoBase::NotAGitRepository | NoBase::GitMissing)
    }
}

fn git(dir: &Path) -> Command {
    let mut c = Command::new("git");
    c.arg("-C").arg(dir);
    // A user's pager or colour settings must not leak into output we parse.
    c.env("GIT_PAGER", "cat").env("GIT_TERMINAL_PROMPT", "0");
    c
}

fn run(cmd: &mut Command) -> Result<std::process::Output> {
    cmd.stdin(Stdio::null()).output().map_err(|e| {
        Error::Git(format!(
            "could not run git: {e}; install git or run outside a repository"
        ))
    })
}

fn rev_parse_commit(dir: &Path, rev: &str) -> Result<Option<String>> {
    let out = run(git(dir)
        .args(["rev-parse", "--verify", "--quiet", "--end-of-options"])
        .arg(format!("{rev}^{{commit}}")))?;
    if out.status.success() {
        Ok(Some(
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
        ))
    } else {
        Ok(None)
    }
}

/// A working file the caller already read: its checksum and bytes, by file name.
pub type Known<'a> = std::collections::HashMap<&'a str, (&'a str, &'a [u8])>;

/// Resolve the spec to a commit and read the folder there. `Ok(Err(NoBase))` when there is no
/// git history to compare with; `Err` when a ref that was asked for explicitly does not exist.
/// `known`: working files already read, whose base content is taken from them when the blob ids
/// agree.
pub fn load(
    dir: &Path,
    spec: &BaseSpec,
    known: &Known<'_>,
) -> Result<std::result::Result<BaseSnapshot, NoBase>> {
    if *spec == BaseSpec::None {
        return Ok(Err(NoBase::Declared));
    }
    let inside = run(git(dir).args(["rev-parse", "--is-inside-work-tree"]));
    match inside {
        Ok(o) if o.status.success() => {}
        Ok(_) => return Ok(Err(NoBase::NotAGitRepository)),
        // No git binary at all: outside a repository as far as we can tell, but only when no
        // base was asked for explicitly.
        Err(e) => {
            return match spec {
                BaseSpec::Default => Ok(Err(NoBase::GitMissing)),
                _ => Err(e),
            };
        }
    }
    let (described, commit) = match spec {
        BaseSpec::Flag(r) | BaseSpec::Env(r) | BaseSpec::GithubBaseRef(r) => {
            match rev_parse_commit(dir, r)? {
                Some(c) => (r.clone(), c),
                None => return Err(Error::BaseRefNotFound(r.clone())),
            }
        }
        BaseSpec::None => return Ok(Err(NoBase::Declared)),
        BaseSpec::Default => {
            let Some(head) = rev_parse_commit(dir, "HEAD")? else {
                return Ok(Err(NoBase::NoCommits));
            };
            let mut found = None;
            for cand in DEFAULT_CANDIDATES {
                if let Some(c) = rev_parse_commit(dir, cand)? {
                    let mb = run(git(dir).args(["merge-base", "HEAD", &c]))?;
                    if mb.status.success() {
                        found = Some((
                            format!("merge-base(HEAD, {cand})"),
                            String::from_utf8_lossy(&mb.stdout).trim().to_string(),
                        ));
                        break;
                    }
                }
            }
            found.unwrap_or(("HEAD".to_string(), head))
        }
    };
    let (files, ledger) = read_folder_at(dir, &commit, known)?;
    Ok(Ok(BaseSnapshot {
        described,
        commit,
        files,
        ledger,
    }))
}

type FolderAt = (BTreeMap<String, String>, Option<Ledger>);

/// The id git gives a blob of these bytes, in the repository's object format (told by the
/// length of its ids); `None` when SHA-1 detects a collision attack, so the bytes are compared.
fn blob_id(bytes: &[u8], id_len: usize) -> Option<String> {
    use sha2::Digest;
    let header = format!("blob {}\0", bytes.len());
    match id_len {
        40 => {
            let mut h = sha1_checked::Sha1::new();
            h.update(header.as_bytes());
            h.update(bytes);
            match h.try_finalize() {
                sha1_checked::CollisionResult::Ok(d) => Some(to_hex(&d)),
                _ => None,
            }
        }
        64 => {
            let mut h = sha2::Sha256::new();
            h.update(header.as_bytes());
            h.update(bytes);
            Some(to_hex(&h.finalize()))
        }
        _ => None,
    }
}

fn read_folder_at(dir: &Path, commit: &str, known: &Known<'_>) -> Result<FolderAt> {
    // ls-tree with a path inside the work tree lists entries relative to `dir`.
    let out = run(git(dir).args(["ls-tree", "-z", commit, "--", "./"]))?;
    if !out.status.success() {
        return Err(Error::Git(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let mut wanted: Vec<(String, String)> = Vec::new(); // (name, blob oid)
    for rec in out.stdout.split(|b| *b == 0).filter(|r| !r.is_empty()) {
        let rec = String::from_utf8_lossy(rec);
        let Some((meta, name)) = rec.split_once('\t') else {
            continue;
        };
        let mut parts = meta.split(' ');
        let (_mode, kind, oid) = (parts.next(), parts.next(), parts.next());
        if kind != Some("blob") {
            continue;
        }
        let name = name.trim_start_matches("./").to_string();
        if name == LEDGER_FILE || parse_filename(&name).is_ok() {
            if let Some(oid) = oid {
                wanted.push((name, oid.to_string()));
            }
        }
    }
    // the same bytes as the working file: its checksum is the base's, no blob to read
    let same: Vec<Option<String>> =
        crate::par::par_map(wanted.iter().collect(), 256, |(name, oid)| {
            let (checksum, bytes) = known.get(name.as_str())?;
            (blob_id(bytes, oid.len()).as_deref() == Some(oid.as_str()))
                .then(|| checksum.to_string())
        });
    let mut files = BTreeMap::new();
    let mut to_read = Vec::new();
    for ((name, oid), same) in wanted.into_iter().zip(same) {
        match same {
            Some(checksum) => {
                files.insert(name, checksum);
            }
            None => to_read.push((name, oid)),
        }
    }
    let blobs = cat_blobs(dir, to_read.iter().map(|(_, oid)| oid.as_str()))?;
    let mut ledger = None;
    for ((name, _), bytes) in to_read.into_iter().zip(blobs) {
        if name == LEDGER_FILE {
            // A base whose ledger is unreadable gives no ledger entries to protect; the file
            // contents themselves are still compared.
            ledger = ledger::parse(&String::from_utf8_lossy(&bytes))
                .ok()
                .map(|p| p.ledger);
        } else {
            files.insert(name, checksum(&bytes));
        }
    }
    Ok((files, ledger))
}

/// Contents of many blobs through one `git cat-file --batch`.
fn cat_blobs<'a>(dir: &Path, oids: impl Iterator<Item = &'a str>) -> Result<Vec<Vec<u8>>> {
    let input: String = oids.map(|o| format!("{o}\n")).collect();
    if input.is_empty() {
        return Ok(Vec::new());
    }
    let mut child = git(dir)
        .args(["cat-file", "--batch"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::Git(format!("could not run git cat-file: {e}")))?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| Error::Internal("git stdin".into()))?;
    // Write from a thread: a large batch would otherwise fill the stdout pipe and deadlock.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .ok_or_else(|| Error::Internal("git stdout".into()))?
        .read_to_end(&mut out)
        .map_err(|e| Error::Git(e.to_string()))?;
    let _ = child.wait();
    match writer.join() {
        Ok(Ok(())) => {}
        _ => return Err(Error::Git("could not feed git cat-file".into())),
    }
    parse_batch(&out)
}

/// Parses `<oid> <type> <size>\n<bytes>\n` records.
fn parse_batch(mut out: &[u8]) -> Result<Vec<Vec<u8>>> {
    let mut blobs = Vec::new();
    while !out.is_empty() {
        let nl = out
            .iter()
            .position(|b| *b == b'\n')
            .ok_or_else(|| Error::Git("truncated cat-file output".into()))?;
        let (head, rest) = out.split_at(nl);
        let header = String::from_utf8_lossy(head).to_string();
        let size: usize = header
            .rsplit(' ')
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Git(format!("unexpected cat-file header: {header}")))?;
        // the header's newline, the blob, the newline after it
        let blob = rest
            .get(1..)
            .and_then(|r| r.get(..size).zip(r.get(size..)))
            .filter(|(_, after)| after.first() == Some(&b'\n'));
        let Some((blob, after)) = blob else {
            return Err(Error::Git("truncated cat-file output".into()));
        };
        blobs.push(blob.to_vec());
        out = after.get(1..).unwrap_or_default();
    }
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_ids_are_gits_in_both_object_formats() {
        // `printf 'hello\n' | git hash-object --stdin`, in a SHA-1 and in a SHA-256 repository
        assert_eq!(
            blob_id(b"hello\n", 40).as_deref(),
            Some("ce013625030ba8dba906f756967f9e9ca394464a")
        );
        assert_eq!(
            blob_id(b"hello\n", 64).as_deref(),
            Some("2cf8d83d9ee29543b34a87727421fdecb7e3f3a183d337639025de576db9ebb4")
        );
        assert_eq!(
            blob_id(b"", 40).as_deref(),
            Some("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        );
        // an id of another length is no object format we know: the bytes get compared instead
        assert_eq!(blob_id(b"hello\n", 32), None);
    }

    #[test]
    fn batch_output_is_split_by_size_not_by_newlines() {
        let out = b"aaa blob 3\na\nb\nbbb blob 0\n\n";
        let blobs = parse_batch(out).unwrap();
        assert_eq!(blobs, vec![b"a\nb".to_vec(), Vec::new()]);
        assert!(parse_batch(b"aaa blob 10\nshort\n").is_err());
    }
}
