//! `checksums.json`, the integrity ledger: reading it strictly, writing it canonically.
//!
//! The canonical form is sorted by file name (so by version), two-space indented, one entry per
//! line, with a trailing newline: two branches that each add a migration touch different lines,
//! and a conflict, when there is one, reads like the migration list it is.
//! Reading never repairs: a corrupt ledger is reported, never silently rewritten.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::files::checksum::is_checksum;

pub const FORMAT: u64 = 1;
/// Written into the file so a reader of the ledger knows what the hashes are of.
pub const CHECKSUM_DESCRIPTION: &str =
    "sha256 of the file, leading UTF-8 BOM dropped, CRLF read as LF";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// file name -> checksum
    pub entries: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerProblem {
    /// Not JSON, or JSON of the wrong shape. Carries a description with line and column.
    Corrupt(String),
    /// Well-formed, but a `format` this version of godwit does not know.
    UnknownFormat(String),
}

#[derive(Debug)]
pub struct Parsed {
    pub ledger: Ledger,
    /// The text as read (line ends as LF), for `canonical`.
    text: String,
}

impl Parsed {
    /// False when the text is valid but not byte-for-byte what `render` would write. Asked only
    /// by `check` (a style finding): `up` and `status` never render the ledger to compare it
    /// (1.6 ms at 10,000 migrations).
    pub fn canonical(&self) -> bool {
        render(&self.ledger) == self.text
    }
}

/// Entries by file name, refusing duplicate keys (serde_json would silently keep the last one,
/// which would let a tampered ledger hide an entry).
struct Entries(BTreeMap<String, String>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping migration file names to sha256 hex strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                // A ledger as godwit writes it is sorted: while every key is greater than the one
                // before (so none repeats), the entries are only collected, and the map is built
                // from them in one pass at the end (inserting 10,000 keys one by one was half of
                // reading the ledger in a no-op `up`). From the first key out of order on, each
                // goes into the map, which refuses a duplicate as it is read.
                let mut in_order: Vec<(String, String)> =
                    Vec::with_capacity(map.size_hint().unwrap_or(0));
                let mut out: Option<BTreeMap<String, String>> = None;
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    let out = match out.as_mut() {
                        Some(out) => out,
                        None if in_order.last().is_none_or(|(last, _)| *last < k) => {
                            in_order.push((k, v));
                            continue;
                        }
                        None => out.insert(std::mem::take(&mut in_order).into_iter().collect()),
                    };
                    match out.entry(k) {
                        std::collections::btree_map::Entry::Occupied(e) => {
                            return Err(de::Error::custom(format!(
                                "duplicate entry for {}",
                                e.key()
                            )));
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(v);
                        }
                    }
                }
                Ok(Entries(
                    out.unwrap_or_else(|| in_order.into_iter().collect()),
                ))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    format: serde_json::Value,
    #[allow(dead_code)]
    checksum: Option<String>,
    migrations: Entries,
}

pub fn parse(text: &str) -> Result<Parsed, LedgerProblem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let text_lf: std::borrow::Cow<str> = if text.contains('\r') {
        text.replace("\r\n", "\n").into()
    } else {
        text.into()
    };
    // One pass for the ledger as it should be; only a ledger that does not fit is parsed again,
    // loosely, to say why (an unknown format is not corruption).
    let raw: Raw = match serde_json::from_str(&text_lf) {
        Ok(raw) => raw,
        Err(e) => return Err(why_not(&text_lf, e)),
    };
    if raw.format.as_u64() != Some(FORMAT) {
        return Err(LedgerProblem::UnknownFormat(raw.format.to_string()));
    }
    if let Some((file, _)) = raw.migrations.0.iter().find(|(_, sum)| !is_checksum(sum)) {
        return Err(LedgerProblem::Corrupt(format!(
            "the entry for {file} is not a lowercase sha256 hex string"
        )));
    }
    let ledger = Ledger {
        entries: raw.migrations.0,
    };
    Ok(Parsed {
        ledger,
        text: text_lf.into_owned(),
    })
}

/// Why a text is not a ledger of this format: not JSON, not an object, no `format`, a `format`
/// from another version, or the wrong shape (`strict` is the error of the strict parse).
fn why_not(text: &str, strict: serde_json::Error) -> LedgerProblem {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return LedgerProblem::Corrupt(e.to_string()),
    };
    let Some(obj) = value.as_object() else {
        return LedgerProblem::Corrupt("the top level is not a JSON object".into());
    };
    match obj.get("format") {
        None => LedgerProblem::Corrupt("the `format` field is missing".into()),
        Some(f) if f.as_u64() == Some(FORMAT) => LedgerProblem::Corrupt(strict.to_string()),
        Some(f) => LedgerProblem::UnknownFormat(f.to_string()),
    }
}

pub fn render(ledger: &Ledger) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(96 + ledger.entries.len() * 110);
    out.extend_from_slice(format!("{{\n  \"format\": {FORMAT},\n  \"checksum\": ").as_bytes());
    push_json_str(&mut out, CHECKSUM_DESCRIPTION);
    out.extend_from_slice(b",\n");
    if ledger.entries.is_empty() {
        out.extend_from_slice(b"  \"migrations\": {}\n");
    } else {
        out.extend_from_slice(b"  \"migrations\": {\n");
        let n = ledger.entries.len();
        for (i, (file, sum)) in ledger.entries.iter().enumerate() {
            out.extend_from_slice(b"    ");
            push_json_str(&mut out, file);
            out.extend_from_slice(b": ");
            push_json_str(&mut out, sum);
            out.extend_from_slice(if i + 1 < n { b",\n" } else { b"\n" });
        }
        out.extend_from_slice(b"  }\n");
    }
    out.extend_from_slice(b"}\n");
    // Only UTF-8 went in (str slices, and serde_json writes UTF-8).
    String::from_utf8(out).unwrap_or_default()
}

/// A JSON string literal, escaped by serde_json (the one JSON writer of the core).
fn push_json_str(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const B: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn ledger(pairs: &[(&str, &str)]) -> Ledger {
        Ledger {
            entries: pairs
                .iter()
                .map(|(f, s)| (f.to_string(), s.to_string()))
                .collect(),
        }
    }

    #[test]
    fn renders_sorted_with_trailing_newline() {
        let l = ledger(&[("1700000000002_b.mjs", B), ("1700000000001_a.mjs", A)]);
        let text = render(&l);
        let expected = format!(
            "{{\n  \"format\": 1,\n  \"checksum\": \"{CHECKSUM_DESCRIPTION}\",\n  \"migrations\": {{\n    \"1700000000001_a.mjs\": \"{A}\",\n    \"1700000000002_b.mjs\": \"{B}\"\n  }}\n}}\n"
        );
        assert_eq!(text, expected);
        assert_eq!(
            render(&Ledger::default()),
            format!(
                "{{\n  \"format\": 1,\n  \"checksum\": \"{CHECKSUM_DESCRIPTION}\",\n  \"migrations\": {{}}\n}}\n"
            )
        );
    }

    #[test]
    fn round_trips_and_knows_it_is_canonical() {
        let l = ledger(&[("1700000000001_a.mjs", A), ("1700000000002_b.mjs", B)]);
        let p = parse(&render(&l)).unwrap();
        assert_eq!(p.ledger, l);
        assert!(p.canonical());
        // a CRLF checkout of the ledger is still canonical
        let p = parse(&render(&l).replace('\n', "\r\n")).unwrap();
        assert!(p.canonical());
    }

    #[test]
    fn reordered_or_reindented_is_valid_but_not_canonical() {
        let text = format!(
            "{{\"format\":1,\"migrations\":{{\"1700000000002_b.mjs\":\"{B}\",\"1700000000001_a.mjs\":\"{A}\"}}}}"
        );
        let p = parse(&text).unwrap();
        assert!(!p.canonical());
        assert_eq!(p.ledger.entries.len(), 2);
    }

    /// Entries in any order read as the same ledger as sorted ones (only not canonical).
    #[test]
    fn entries_in_any_order_read_alike() {
        let names: Vec<String> = (0..50)
            .map(|i| format!("{:013}_m.mjs", 1_700_000_000_000_u64 + (i * 37 % 50)))
            .collect();
        let text = |names: &[String]| {
            let entries: Vec<String> = names.iter().map(|k| format!("\"{k}\":\"{A}\"")).collect();
            format!("{{\"format\":1,\"migrations\":{{{}}}}}", entries.join(","))
        };
        let mut sorted = names.clone();
        sorted.sort();
        let a = parse(&text(&names)).unwrap().ledger.entries;
        let b = parse(&text(&sorted)).unwrap().ledger.entries;
        assert_eq!(a, b);
        assert_eq!(a.len(), 50);
        assert_eq!(a.keys().cloned().collect::<Vec<_>>(), sorted);
    }

    #[test]
    fn distinct_problems() {
        let corrupt = [
            "{",
            "[]",
            "{\"migrations\":{}}",
            "{\"format\":1}",
            "{\"format\":1,\"migrations\":[]}",
            "{\"format\":1,\"migrations\":{\"a.mjs\":1}}",
            "{\"format\":1,\"migrations\":{\"a.mjs\":\"nothex\"}}",
            "{\"format\":1,\"migrations\":{},\"extra\":true}",
        ];
        for t in corrupt {
            assert!(matches!(parse(t), Err(LedgerProblem::Corrupt(_))), "{t}");
        }
        let dup =
            format!("{{\"format\":1,\"migrations\":{{\"a.mjs\":\"{A}\",\"a.mjs\":\"{B}\"}}}}");
        match parse(&dup) {
            Err(LedgerProblem::Corrupt(m)) => {
                assert!(m.contains("duplicate entry for a.mjs"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        // a duplicate anywhere: right after its twin, after a key out of order, far apart
        for keys in [
            ["b.mjs", "a.mjs", "a.mjs", "c.mjs"],
            ["a.mjs", "c.mjs", "b.mjs", "a.mjs"],
            ["a.mjs", "b.mjs", "c.mjs", "a.mjs"],
        ] {
            let entries: Vec<String> = keys
                .iter()
                .map(|k| format!("    \"{k}\": \"{A}\""))
                .collect();
            let text = format!(
                "{{\n  \"format\": 1,\n  \"migrations\": {{\n{}\n  }}\n}}\n",
                entries.join(",\n")
            );
            match parse(&text) {
                Err(LedgerProblem::Corrupt(m)) => {
                    assert!(m.contains("duplicate entry for a.mjs"), "{m}");
                }
                other => panic!("{keys:?}: {other:?}"),
            }
        }
        assert_eq!(
            parse("{\"format\":2,\"migrations\":{}}").unwrap_err(),
            LedgerProblem::UnknownFormat("2".into())
        );
        assert!(matches!(
            parse("{\"format\":\"1\",\"migrations\":{}}"),
            Err(LedgerProblem::UnknownFormat(_))
        ));
    }
}
