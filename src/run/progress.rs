//! Progress lines on stderr (`godwit: ...`), only when asked (`--quiet` and `--json` turn them
//! off), and the "still applying" ticker that keeps a quiet deploy log from looking like a hang.
//! Sizes and checksums only: a migration's SQL is never printed (it may carry a secret rendered
//! from the environment).

use std::io::Write;
use std::time::{Duration, Instant};

/// One line on stderr, best effort: a reader that went away (`2>&1 | head`, a log collector that
/// died) must not stop a run. `eprintln!` panics when the write fails, and a panic mid-apply
/// ended the run after the migration in hand, with a report that did not say why.
pub fn say(line: std::fmt::Arguments) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    pub on: bool,
    pub verbose: bool,
}

impl Progress {
    pub fn line(&self, line: &str) {
        if self.on {
            say(format_args!("godwit: {line}"));
        }
    }

    pub fn verbose(&self, line: impl FnOnce() -> String) {
        if self.on && self.verbose {
            say(format_args!("godwit: {}", line()));
        }
    }

    /// Prints "still applying <file>: <elapsed>" after 5, 10, 20 and 30 s, then every 30 s,
    /// until the returned guard is dropped (when the migration has finished, one way or another).
    pub fn ticker(&self, file: &str, verb: &'static str) -> Option<Ticker> {
        if !self.on {
            return None;
        }
        let file = file.to_string();
        let t0 = Instant::now();
        Some(Ticker(tokio::spawn(async move {
            let mut next = Duration::from_secs(5);
            loop {
                tokio::time::sleep_until((t0 + next).into()).await;
                say(format_args!(
                    "godwit:   still {verb} {file}: {} s elapsed",
                    t0.elapsed().as_secs()
                ));
                next = match next.as_secs() {
                    5 => Duration::from_secs(10),
                    10 => Duration::from_secs(20),
                    20 => Duration::from_secs(30),
                    n => Duration::from_secs(n + 30),
                };
            }
        })))
    }
}

/// The ticker's task, aborted when dropped.
pub struct Ticker(tokio::task::JoinHandle<()>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.abort();
    }
}
