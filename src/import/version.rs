//! Source versions to godwit versions, pure. A version that is an instant keeps its instant
//! (`YYYYMMDDHHMMSS`, `YYYYMMDDHHMMSSmmm`, epoch seconds or milliseconds); anything else is a
//! sequence number and maps to `SEQUENCE_BASE + rank * PART_ROOM`, which sorts before every
//! instant godwit has ever written (2001-09-09). Order is the source tool's own; the result must
//! rise strictly, or the import refuses and says which two sources collide.

use crate::files::scan::VERSION_DIGITS;
use crate::time::epoch_millis;

/// Where sequence numbers start: 10^12 ms, so they keep 13 digits and sort before instants.
pub const SEQUENCE_BASE: i64 = 1_000_000_000_000;
/// Room after each source for the parts a non-transactional source is split into.
pub const PART_ROOM: i64 = 1000;

/// The instant a version names, in epoch milliseconds, or `None` for a sequence number.
pub fn instant(digits: &str) -> Option<i64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = |a: usize, b: usize| digits[a..b].parse::<i64>().ok();
    match digits.len() {
        14 => epoch_millis(
            n(0, 4)?,
            n(4, 6)?,
            n(6, 8)?,
            n(8, 10)?,
            n(10, 12)?,
            n(12, 14)?,
            0,
        ),
        17 => epoch_millis(
            n(0, 4)?,
            n(4, 6)?,
            n(6, 8)?,
            n(8, 10)?,
            n(10, 12)?,
            n(12, 14)?,
            n(14, 17)?,
        ),
        // epoch milliseconds (node-pg-migrate's default, godwit's own)
        13 if !digits.starts_with('0') => digits.parse().ok(),
        // epoch seconds (golang-migrate `create -format unix`, names from `date +%s`)
        10 if !digits.starts_with('0') => digits.parse::<i64>().ok().map(|s| s * 1000),
        _ => None,
    }
}

/// One source as the mapping sees it: its instant (if any) and how many godwit migrations it
/// becomes, with a label for messages.
pub struct Slot<'a> {
    pub label: &'a str,
    pub instant: Option<i64>,
    pub parts: usize,
}

/// The godwit versions of each slot (one per part), in order, or every collision.
pub fn assign(slots: &[Slot]) -> Result<Vec<Vec<String>>, Vec<String>> {
    let mut out = Vec::with_capacity(slots.len());
    let mut problems = Vec::new();
    let mut prev: Option<(i64, &str)> = None;
    for (rank, s) in slots.iter().enumerate() {
        let base = s
            .instant
            .unwrap_or(SEQUENCE_BASE + (rank as i64 + 1) * PART_ROOM);
        let mut versions = Vec::with_capacity(s.parts);
        for part in 0..s.parts.max(1) as i64 {
            let v = base + part;
            if let Some((p, by)) = prev
                && v <= p
            {
                problems.push(format!(
                    "{}: its godwit version {v} would not sort after {p} (from {by}); versions keep the source's instants, so two sources within the same millisecond (or a split of a non-transactional source) collide: rename one source's version",
                    s.label
                ));
            }
            let text = format!("{v:0width$}", width = VERSION_DIGITS);
            if v < 0 || text.len() != VERSION_DIGITS {
                problems.push(format!(
                    "{}: its instant {v} ms is outside the 13-digit versions godwit uses (1970 to 2286)",
                    s.label
                ));
            }
            prev = Some((v, s.label));
            versions.push(text);
        }
        out.push(versions);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_keep_their_instant_and_sequences_do_not_have_one() {
        let table = [
            ("20230102030405", Some(1_672_628_645_000)),
            ("20230102030405123", Some(1_672_628_645_123)),
            ("1700000000000", Some(1_700_000_000_000)),
            ("1700000000", Some(1_700_000_000_000)),
            ("00000000000000", None), // diesel's initial setup: no date
            ("20231340000000", None), // month 13
            ("0001", None),
            ("42", None),
            ("", None),
            ("2023-01-01", None),
        ];
        for (v, want) in table {
            assert_eq!(instant(v), want, "{v}");
        }
    }

    #[test]
    fn sequences_map_monotonically_before_instants_with_room_for_parts() {
        let slots = [
            Slot {
                label: "1",
                instant: None,
                parts: 1,
            },
            Slot {
                label: "2",
                instant: None,
                parts: 3,
            },
            Slot {
                label: "t",
                instant: instant("20230102030405"),
                parts: 2,
            },
        ];
        let v = assign(&slots).unwrap();
        assert_eq!(v[0], ["1000000001000"]);
        assert_eq!(v[1], ["1000000002000", "1000000002001", "1000000002002"]);
        assert_eq!(v[2], ["1672628645000", "1672628645001"]);
    }

    #[test]
    fn collisions_are_refused_with_both_sources_named() {
        let slots = [
            Slot {
                label: "a.sql",
                instant: Some(1_700_000_000_000),
                parts: 2,
            },
            Slot {
                label: "b.sql",
                instant: Some(1_700_000_000_001),
                parts: 1,
            },
            Slot {
                label: "c.sql",
                instant: Some(1_600_000_000_000),
                parts: 1,
            },
        ];
        let problems = assign(&slots).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("b.sql") && problems[0].contains("from a.sql"));
        assert!(problems[1].starts_with("c.sql"));
    }
}
