//! The history table's rows as the runner reads them: every column checked, a row godwit cannot
//! read stops the run instead of being guessed at.

use tokio_postgres::SimpleQueryMessage;

use crate::db::history::HistoryTable;
use crate::error::{Error, Result};
use crate::plan::{Applied, HistoryStatus};

/// The live rows of `h`, from the answer to `HistoryTable::read_sql`.
pub(super) fn applied(messages: Vec<SimpleQueryMessage>, h: &HistoryTable) -> Result<Vec<Applied>> {
    let mut rows = Vec::with_capacity(messages.len());
    for m in messages {
        let SimpleQueryMessage::Row(r) = m else {
            continue;
        };
        // A row godwit cannot read (a hand-edited table) stops the run instead of guessing.
        let unreadable = |what: &str| {
            Error::Integrity(format!(
                "the history table {} has a row godwit cannot read ({what}: {:?}); restore the table from a backup or fix the row by hand",
                h.qualified(),
                r.get(0)
            ))
        };
        let text =
            |i: usize, what: &str| r.get(i).map(str::to_string).ok_or_else(|| unreadable(what));
        let number = |i: usize, what: &str| {
            r.get(i)
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| unreadable(what))
        };
        rows.push(Applied {
            version: text(0, "version")?,
            name: text(1, "name")?,
            checksum: text(2, "checksum")?,
            status: HistoryStatus::parse(&text(3, "status")?)
                .ok_or_else(|| unreadable("status"))?,
            applied_at: crate::time::iso_millis(number(4, "applied_at")?),
            execution_ms: number(5, "execution_ms")?,
            baselined: r.get(6) == Some("t"),
        });
    }
    Ok(rows)
}
