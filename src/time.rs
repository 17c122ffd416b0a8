//! Timestamps as reports and `status` print them: UTC, ISO 8601 with milliseconds. Formatted here
//! rather than by the server (`to_char` on every history row was a measurable share of a no-op
//! `up` on 10,000 migrations) and without a date library for one function.

use std::time::{SystemTime, UNIX_EPOCH};

pub fn iso(t: SystemTime) -> String {
    let ms = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    iso_millis(ms)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for milliseconds since the epoch (negative too).
pub fn iso_millis(ms: i64) -> String {
    let fields = civil(ms);
    let [y, ..] = fields;
    if !(0..=9999).contains(&y) {
        // a year `format!` pads its own way (signs, more digits): rare enough for the slow path
        return formatted(fields);
    }
    // Digits written by hand: `format!` was 3 % of an `assertSchemaCurrent()` over 10,000
    // history rows. Every field is in range here, so each fits its width.
    let mut out = String::with_capacity(24);
    for (value, (width, after)) in fields.into_iter().zip(LAYOUT) {
        for place in (0..width).rev() {
            let digit = value / 10_i64.pow(place) % 10;
            out.push(char::from(b'0' + digit as u8));
        }
        out.push(char::from(after));
    }
    out
}

/// Each field's width and the character after it: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
const LAYOUT: [(u32, u8); 7] = [
    (4, b'-'),
    (2, b'-'),
    (2, b'T'),
    (2, b':'),
    (2, b':'),
    (2, b'.'),
    (3, b'Z'),
];

/// `iso_millis` written by `format!`.
fn formatted([y, m, d, h, min, s, milli]: [i64; 7]) -> String {
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Year, month, day, hour, minute, second and millisecond (UTC) of milliseconds since the epoch:
/// civil-from-days (Howard Hinnant), proleptic Gregorian.
fn civil(ms: i64) -> [i64; 7] {
    let (secs, milli) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    [y, m, d, rem / 3600, rem % 3600 / 60, rem % 60, milli]
}

/// Milliseconds since the epoch of a UTC civil time, or `None` when it is no valid time
/// (days-from-civil, Howard Hinnant). For versions written as `YYYYMMDDHHMMSS[mmm]`.
pub fn epoch_millis(y: i64, m: i64, d: i64, h: i64, min: i64, s: i64, ms: i64) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let valid = (1..=12).contains(&m)
        && d >= 1
        && month_days
            .get((m - 1) as usize)
            .is_some_and(|days| d <= *days)
        && (0..24).contains(&h)
        && (0..60).contains(&min)
        && (0..60).contains(&s)
        && (0..1000).contains(&ms);
    if !valid {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60 + s) * 1000) + ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn iso_formats_utc() {
        assert_eq!(iso(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_millis(1_795_605_742_834)),
            "2026-11-25T11:22:22.834Z"
        );
        assert_eq!(
            iso(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    /// The digits written by hand are what `format!` writes, over the whole range of
    /// timestamps PostgreSQL keeps (4713 BC to 294276 AD).
    #[test]
    fn hand_written_digits_match_format() {
        let slow = |ms: i64| formatted(civil(ms));
        let (lo, hi) = (-210_866_803_200_000_i64, 9_224_318_015_999_999_i64);
        let mut ms = lo;
        let mut step = 1_i64;
        while ms < hi {
            assert_eq!(iso_millis(ms), slow(ms), "{ms}");
            ms = ms.saturating_add(step);
            step = (step * 3 + 7) % 99_999_999_989;
        }
        for ms in [
            0,
            -1,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_000,
            -62_167_219_200_001,
        ] {
            assert_eq!(iso_millis(ms), slow(ms), "{ms}");
        }
        assert_eq!(iso_millis(253_402_300_799_999), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn millis_before_the_epoch() {
        assert_eq!(iso_millis(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn civil_times_round_trip_through_epoch_millis() {
        for ms in [0_i64, 951_782_400_123, 1_700_000_000_000, 4_102_444_799_999] {
            let iso = iso_millis(ms);
            let n = |a: usize, b: usize| iso[a..b].parse::<i64>().unwrap();
            let back = epoch_millis(
                n(0, 4),
                n(5, 7),
                n(8, 10),
                n(11, 13),
                n(14, 16),
                n(17, 19),
                n(20, 23),
            );
            assert_eq!(back, Some(ms), "{iso}");
        }
        assert_eq!(epoch_millis(2023, 2, 29, 0, 0, 0, 0), None);
        assert_eq!(
            epoch_millis(2024, 2, 29, 0, 0, 0, 0),
            Some(1_709_164_800_000)
        );
        assert_eq!(epoch_millis(2024, 13, 1, 0, 0, 0, 0), None);
        assert_eq!(epoch_millis(2024, 1, 1, 24, 0, 0, 0), None);
    }
}
