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

use crate::checksum::is_checksum;

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
    /// False when the text is valid but not byte-for-byte what `render` would write.
    pub canonical: bool,
}

/// Entries in file order, refusing duplicate keys (serde_json would silently keep the last one,
/// which would let a tampered ledger hide an entry).
struct Entries(Vec<(String, String)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object mapping migration file names to sha256 hex strings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut seen = std::collections::HashSet::new();
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    if !seen.insert(k.clone()) {
                        return Err(de::Error::custom(format!("duplicate entry for {k}")));
                    }
                    out.push((k, v));
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[allow(dead_code)]
    format: u64,
    #[allow(dead_code)]
    checksum: Option<String>,
    migrations: Entries,
}

pub fn parse(text: &str) -> Result<Parsed, LedgerProblem> {
    let text_lf = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace("\r\n", "\n");
    let value: serde_json::Value =
        serde_json::from_str(&text_lf).map_err(|e| LedgerProblem::Corrupt(e.to_string()))?;
    let Some(obj) = value.as_object() else {
        return Err(LedgerProblem::Corrupt(
            "the top level is not a JSON object".into(),
        ));
    };
    match obj.get("format") {
        None => {
            return Err(LedgerProblem::Corrupt(
                "the `format` field is missing".into(),
            ));
        }
        Some(f) if f.as_u64() == Some(FORMAT) => {}
        Some(f) => return Err(LedgerProblem::UnknownFormat(f.to_string())),
    }
    let raw: Raw =
        serde_json::from_str(&text_lf).map_err(|e| LedgerProblem::Corrupt(e.to_string()))?;
    let mut entries = BTreeMap::new();
    for (file, sum) in raw.migrations.0 {
        if !is_checksum(&sum) {
            return Err(LedgerProblem::Corrupt(format!(
                "the entry for {file} is not a lowercase sha256 hex string"
            )));
        }
        entries.insert(file, sum);
    }
    let ledger = Ledger { entries };
    let canonical = render(&ledger) == text_lf;
    Ok(Parsed { ledger, canonical })
}

pub fn render(ledger: &Ledger) -> String {
    let mut out = String::with_capacity(96 + ledger.entries.len() * 110);
    out.push_str("{\n");
    out.push_str(&format!("  \"format\": {FORMAT},\n"));
    out.push_str(&format!(
        "  \"checksum\": {},\n",
        json_str(CHECKSUM_DESCRIPTION)
    ));
    if ledger.entries.is_empty() {
        out.push_str("  \"migrations\": {}\n");
    } else {
        out.push_str("  \"migrations\": {\n");
        let n = ledger.entries.len();
        for (i, (file, sum)) in ledger.entries.iter().enumerate() {
            let comma = if i + 1 < n { "," } else { "" };
            out.push_str(&format!(
                "    {}: {}{comma}\n",
                json_str(file),
                json_str(sum)
            ));
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

fn json_str(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
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
        assert!(p.canonical);
        // a CRLF checkout of the ledger is still canonical
        let p = parse(&render(&l).replace('\n', "\r\n")).unwrap();
        assert!(p.canonical);
    }

    #[test]
    fn reordered_or_reindented_is_valid_but_not_canonical() {
        let text = format!(
            "{{\"format\":1,\"migrations\":{{\"1700000000002_b.mjs\":\"{B}\",\"1700000000001_a.mjs\":\"{A}\"}}}}"
        );
        let p = parse(&text).unwrap();
        assert!(!p.canonical);
        assert_eq!(p.ledger.entries.len(), 2);
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
