//! The content checksum of a migration file: the identity the ledger, the base-ref comparison and
//! the database history all agree on.
//!
//! Pinned: lowercase hex sha256 of the file's bytes after two normalizations, and nothing else:
//! 1. a leading UTF-8 byte order mark (EF BB BF) is dropped;
//! 2. every CRLF pair becomes LF (a lone CR is kept: it is content, not a line ending).
//!
//! Why: a Windows checkout with `core.autocrlf=true`, or an editor that adds a BOM, changes the
//! bytes but not the migration. Treating that as an edit would fail every check on such a machine
//! and, worse, teach people to re-seal. Any other byte change, whitespace included, is an edit.
//! Changing this function changes every recorded checksum, so the golden tests below must never
//! be updated to make a change pass.

use sha2::{Digest, Sha256};

const BOM: &[u8] = b"\xEF\xBB\xBF";

pub fn checksum(bytes: &[u8]) -> String {
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let mut hasher = Sha256::new();
    // Feed the hasher in runs between CRs, so no normalized copy of the file is allocated.
    let mut rest = body;
    while let Some(cr) = rest.windows(2).position(|w| w == b"\r\n") {
        let (run, tail) = rest.split_at(cr);
        hasher.update(run);
        rest = tail.get(1..).unwrap_or_default(); // keep the LF, drop the CR
    }
    hasher.update(rest);
    to_hex(&hasher.finalize())
}

/// sha256 of bytes as they are, for the SQL that actually ran (no normalization: what the server
/// received is exactly what is recorded).
pub fn sha256_raw(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

pub(crate) fn to_hex(digest: &[u8]) -> String {
    // on every file of every scan: no formatting machinery per byte
    let mut out = String::with_capacity(digest.len() * 2);
    for b in digest {
        for nibble in [b >> 4, b & 0x0f] {
            out.push(char::from_digit(u32::from(nibble), 16).unwrap_or('0'));
        }
    }
    out
}

/// True when `s` has the shape of a checksum this module produces.
pub fn is_checksum(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden values computed independently with coreutils `sha256sum`.
    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const A_LF_B_LF: &str = "911169ddaaf146aff539f58c26c489af3b892dff0fe283c1c264c65ae5aa59a2";
    const A_CR_B: &str = "af9081672dd5ef3247a30c2db5b0dafcc9bcf981a26aefb3c55d210d43fcc14e";
    const MODULE: &str = "ed177c6ebaf49cc92a84ea93f79ce7f1d5b34fb67ae4bf30ef1cca34155ea465";

    #[test]
    fn golden_plain_bytes() {
        assert_eq!(checksum(b""), EMPTY);
        assert_eq!(checksum(b"abc"), ABC);
        assert_eq!(checksum(b"a\nb\n"), A_LF_B_LF);
        assert_eq!(checksum(b"export const up = \"SELECT 1\";\n"), MODULE);
    }

    #[test]
    fn crlf_checkout_is_not_an_edit() {
        assert_eq!(checksum(b"a\r\nb\r\n"), A_LF_B_LF);
        assert_eq!(checksum(b"a\r\nb\n"), A_LF_B_LF);
        assert_eq!(checksum(b"export const up = \"SELECT 1\";\r\n"), MODULE);
    }

    #[test]
    fn leading_bom_is_not_an_edit() {
        assert_eq!(checksum(b"\xEF\xBB\xBFabc"), ABC);
        assert_eq!(checksum(b"\xEF\xBB\xBFa\r\nb\r\n"), A_LF_B_LF);
        assert_eq!(checksum(b"\xEF\xBB\xBF"), EMPTY);
    }

    #[test]
    fn lone_cr_and_inner_bom_are_content() {
        assert_eq!(checksum(b"a\rb"), A_CR_B);
        assert_ne!(checksum(b"a\rb"), checksum(b"a\nb"));
        assert_ne!(checksum(b"ab\xEF\xBB\xBFc"), ABC);
        assert_ne!(checksum(b"abc "), ABC);
        // a trailing CR without LF stays
        assert_ne!(checksum(b"abc\r"), ABC);
    }

    #[test]
    fn raw_hash_does_not_normalize() {
        assert_eq!(sha256_raw(b"abc"), ABC);
        assert_ne!(sha256_raw(b"a\r\nb\r\n"), A_LF_B_LF);
    }

    #[test]
    fn checksum_shape() {
        assert!(is_checksum(ABC));
        assert!(!is_checksum(&ABC.to_uppercase()));
        assert!(!is_checksum("abc"));
    }
}
