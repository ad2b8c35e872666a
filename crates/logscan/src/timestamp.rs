//! Finding the time of a log line, in the formats services actually write:
//!
//! | format                         | example                                |
//! |--------------------------------|----------------------------------------|
//! | ISO 8601 / RFC 3339            | `2025-10-01T12:00:00.123Z`, `...+02:00`|
//! | Python `logging` default       | `2025-10-01 12:00:00,123`              |
//! | epoch seconds                  | `1727784000.123`                       |
//! | syslog / journald short        | `Oct  1 12:00:00`, `Oct 01 12:00:00`   |
//!
//! The time is looked for at the start of the line, after an optional `[` (so `[2025-10-01 ...]`
//! works too). Times without a zone are taken as UTC; syslog times without a year take
//! the year given to [`TimestampParser::new`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use regex::bytes::Regex;

/// Parses the leading timestamp of log lines.
#[derive(Debug, Clone)]
pub struct TimestampParser {
    /// The last `YYYY-MM-DD HH:MM:SS` prefix seen and its Unix seconds: consecutive lines
    /// mostly share their second.
    last_second: std::cell::Cell<Option<([u8; 19], i64)>>,
    iso: Regex,
    syslog: Regex,
    epoch: Regex,
    year: i32,
}

/// A log line's time as float Unix seconds.
pub type UnixTime = f64;

impl TimestampParser {
    /// A parser that assumes `year` for syslog lines, which carry none.
    pub fn new(year: i32) -> Self {
        // The patterns are constants: a failure here is a programming error caught by the tests.
        let build = |re: &str| Regex::new(re).unwrap_or_else(|e| panic!("bad built-in regex: {e}"));
        TimestampParser {
            last_second: std::cell::Cell::new(None),
            iso: build(
                r"^\[?(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?",
            ),
            syslog: build(r"^\[?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})"),
            epoch: build(r"^\[?(\d{10})(?:\.(\d{1,9}))?\b"),
            year,
        }
    }

    /// The time at the start of `line`, if it has one.
    pub fn parse(&self, line: &[u8]) -> Option<UnixTime> {
        let first = *line.first()?;
        if !(first.is_ascii_alphanumeric() || first == b'[') {
            return None;
        }
        if let Some(t) = self.fast_iso(line) {
            return Some(t);
        }
        if let Some(c) = self.iso.captures(line) {
            let num = |i: usize| -> Option<u32> {
                std::str::from_utf8(c.get(i)?.as_bytes()).ok()?.parse().ok()
            };
            let date = NaiveDate::from_ymd_opt(i32::try_from(num(1)?).ok()?, num(2)?, num(3)?)?;
            let naive = date.and_hms_opt(num(4)?, num(5)?, num(6)?)?;
            let frac = c.get(7).map_or(0.0, |m| fraction(m.as_bytes()));
            let offset = c
                .get(8)
                .map_or(Some(0), |m| zone_offset_seconds(m.as_bytes()))?;
            let utc = Utc.from_utc_datetime(&naive).timestamp() - i64::from(offset);
            return Some(utc as f64 + frac);
        }
        if let Some(c) = self.epoch.captures(line) {
            let secs: f64 = std::str::from_utf8(c.get(1)?.as_bytes())
                .ok()?
                .parse()
                .ok()?;
            return Some(secs + c.get(2).map_or(0.0, |m| fraction(m.as_bytes())));
        }
        if let Some(c) = self.syslog.captures(line) {
            let text = std::str::from_utf8(c.get(0)?.as_bytes()).ok()?;
            let text = text.trim_start_matches('[');
            let with_year = format!(
                "{} {}",
                self.year,
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            let naive = NaiveDateTime::parse_from_str(&with_year, "%Y %b %d %H:%M:%S").ok()?;
            return Some(Utc.from_utc_datetime(&naive).timestamp() as f64);
        }
        None
    }

    /// `YYYY-MM-DD[ T]HH:MM:SS[,.]fff` with no zone (taken as UTC), parsed by hand with the
    /// second cached; anything else (zones, other shapes) goes to the regexes.
    fn fast_iso(&self, line: &[u8]) -> Option<UnixTime> {
        let head: &[u8; 19] = line.get(..19)?.try_into().ok()?;
        let shape_ok = head.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b' ' || *b == b'T',
            13 | 16 => *b == b':',
            _ => b.is_ascii_digit(),
        });
        if !shape_ok {
            return None;
        }
        let rest = &line[19..];
        let (frac, after) = match rest.first() {
            Some(b',' | b'.') => {
                let digits = rest[1..].iter().take_while(|b| b.is_ascii_digit()).count();
                if digits == 0 {
                    return None;
                }
                (fraction(&rest[1..1 + digits]), &rest[1 + digits..])
            }
            _ => (0.0, rest),
        };
        if matches!(after.first(), Some(b'Z' | b'+' | b'-')) {
            return None; // a zone: the regex path handles offsets
        }
        let secs = match self.last_second.get() {
            Some((prefix, secs)) if &prefix == head => secs,
            _ => {
                let n = |a: usize, b: usize| -> Option<u32> {
                    std::str::from_utf8(&head[a..b]).ok()?.parse().ok()
                };
                let date =
                    NaiveDate::from_ymd_opt(i32::try_from(n(0, 4)?).ok()?, n(5, 7)?, n(8, 10)?)?;
                let naive = date.and_hms_opt(n(11, 13)?, n(14, 16)?, n(17, 19)?)?;
                let secs = Utc.from_utc_datetime(&naive).timestamp();
                self.last_second.set(Some((*head, secs)));
                secs
            }
        };
        Some(secs as f64 + frac)
    }

    /// Parses a timestamp given as a JSON value (JSON-lines logs): a number of epoch seconds
    /// (milliseconds when it is too large to be seconds) or a string in any supported format.
    pub fn parse_json(&self, value: &serde_json::Value) -> Option<UnixTime> {
        match value {
            serde_json::Value::Number(n) => {
                let v = n.as_f64()?;
                Some(if v > 1e11 { v / 1000.0 } else { v })
            }
            serde_json::Value::String(s) => self.parse(s.as_bytes()).or_else(|| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|d| d.timestamp() as f64 + f64::from(d.timestamp_subsec_nanos()) / 1e9)
            }),
            _ => None,
        }
    }
}

fn fraction(digits: &[u8]) -> f64 {
    let mut v = 0.0;
    let mut scale = 0.1;
    for d in digits {
        v += f64::from(d - b'0') * scale;
        scale /= 10.0;
    }
    v
}

fn zone_offset_seconds(zone: &[u8]) -> Option<i32> {
    if zone == b"Z" {
        return Some(0);
    }
    let sign = if zone[0] == b'-' { -1 } else { 1 };
    let digits: Vec<i32> = zone[1..]
        .iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| i32::from(b - b'0'))
        .collect();
    if digits.len() != 4 {
        return None;
    }
    Some(sign * ((digits[0] * 10 + digits[1]) * 3600 + (digits[2] * 10 + digits[3]) * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<f64> {
        TimestampParser::new(2025).parse(s.as_bytes())
    }

    #[test]
    fn common_formats() {
        let t = 1_759_320_000.0; // 2025-10-01T12:00:00Z
        assert_eq!(p("2025-10-01T12:00:00Z msg"), Some(t));
        assert_eq!(p("2025-10-01T12:00:00.500+00:00 msg"), Some(t + 0.5));
        assert_eq!(p("2025-10-01T14:00:00+02:00 msg"), Some(t));
        assert_eq!(
            p("2025-10-01 12:00:00,123 - bot - INFO - x").map(|v| (v * 1000.0).round()),
            Some((t + 0.123) * 1000.0)
        );
        assert_eq!(p("[2025-10-01 12:00:00] x"), Some(t));
        assert_eq!(p("1759320000.25 x"), Some(t + 0.25));
        assert_eq!(p("Oct  1 12:00:00 host bot[12]: x"), Some(t));
        assert_eq!(p("Oct 01 12:00:00 host bot[12]: x"), Some(t));
    }

    #[test]
    fn the_cached_second_is_only_reused_for_the_same_second() {
        let tp = TimestampParser::new(2025);
        let t = 1_759_320_000.0;
        let at = |s: &str| {
            tp.parse(s.as_bytes())
                .map(|v| (v * 1000.0).round() / 1000.0)
        };
        assert_eq!(at("2025-10-01 12:00:00,100 a"), Some(t + 0.1));
        assert_eq!(at("2025-10-01 12:00:00,900 b"), Some(t + 0.9));
        assert_eq!(at("2025-10-01 12:00:01,000 c"), Some(t + 1.0));
        assert_eq!(at("2025-10-02 12:00:01 d"), Some(t + 86_401.0));
        assert_eq!(
            at("2025-10-01T14:00:01+02:00 e"),
            Some(t + 1.0),
            "zones take the regex path"
        );
    }

    #[test]
    fn lines_without_a_time() {
        for s in [
            "",
            "  File \"x.py\", line 3",
            "ZeroDivisionError: x",
            "12345 short",
            "2025-13-45 99:00:00 bad",
        ] {
            assert_eq!(p(s), None, "{s}");
        }
    }

    #[test]
    fn json_values() {
        let tp = TimestampParser::new(2025);
        assert_eq!(
            tp.parse_json(&serde_json::json!(1_759_320_000)),
            Some(1_759_320_000.0)
        );
        assert_eq!(
            tp.parse_json(&serde_json::json!(1_759_320_000_500u64)),
            Some(1_759_320_000.5)
        );
        assert_eq!(
            tp.parse_json(&serde_json::json!("2025-10-01T12:00:00Z")),
            Some(1_759_320_000.0)
        );
    }
}
