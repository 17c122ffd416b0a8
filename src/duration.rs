//! PostgreSQL durations as `lock_timeout` and `statement_timeout` accept them: a plain integer
//! (milliseconds) or a number with one of PostgreSQL's time units (`us`, `ms`, `s`, `min`, `h`,
//! `d`). Parsed here, once, for migration configs and the job's environment alike, so a typo is
//! caught by `check` rather than by the server mid-deploy.

/// A parsed duration in whole milliseconds (PostgreSQL rounds sub-millisecond values the same way).
pub fn parse_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let valid_num = !num.is_empty()
        && num.chars().filter(|c| *c == '.').count() <= 1
        && num.chars().any(|c| c.is_ascii_digit());
    if !valid_num {
        return Err(format!(
            "`{text}` is not a PostgreSQL duration; write e.g. `5s`, `500ms`, `2min` or a whole number of milliseconds"
        ));
    }
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a number with a unit"))?;
    let factor_ms = match unit {
        "" | "ms" => 1.0,
        "us" => 0.001,
        "s" => 1_000.0,
        "min" => 60_000.0,
        "h" => 3_600_000.0,
        "d" => 86_400_000.0,
        other => {
            return Err(format!(
                "`{text}` has unit `{other}`; PostgreSQL knows us, ms, s, min, h, d"
            ));
        }
    };
    let ms = (value * factor_ms).round();
    // PostgreSQL's timeouts are int milliseconds: larger values are refused by the server.
    if ms > i32::MAX as f64 {
        return Err(format!(
            "`{text}` is longer than PostgreSQL allows (about 24.8 days)"
        ));
    }
    Ok(ms as u64)
}

/// A duration as it is sent in `SET ... = '...'`: always milliseconds, so the server never
/// re-interprets a unit.
pub fn to_pg(ms: u64) -> String {
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_plain_numbers() {
        let cases = [
            ("0", 0),
            ("1500", 1500),
            ("5s", 5000),
            ("5 s", 5000),
            ("1.5s", 1500),
            ("2min", 120_000),
            ("1h", 3_600_000),
            ("1d", 86_400_000),
            ("250ms", 250),
            ("1500us", 2),
            (" 10s ", 10_000),
        ];
        for (t, ms) in cases {
            assert_eq!(parse_ms(t), Ok(ms), "{t}");
        }
    }

    #[test]
    fn rejects_what_postgres_would_refuse() {
        for t in [
            "",
            "s",
            "5 seconds",
            "5m",
            "-1s",
            "1.2.3s",
            "five",
            "5sec",
            "25d",
        ] {
            assert!(parse_ms(t).is_err(), "{t}");
        }
        assert!(parse_ms("5m").unwrap_err().contains("us, ms, s, min, h, d"));
    }

    #[test]
    fn rendered_for_set_in_milliseconds() {
        assert_eq!(to_pg(5000), "5000ms");
    }
}
