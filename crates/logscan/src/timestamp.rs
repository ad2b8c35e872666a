//! Finding the time of a log line, in the formats services actually write:
//!
//! | format                         | example                                            | where |
//! |--------------------------------|----------------------------------------------------|-------|
//! | ISO 8601 / RFC 3339            | `2025-10-01T12:00:00.123Z`, `...+02:00`            | start |
//! | journald `short-iso`           | `2026-12-06T19:24:36+0000`                         | start |
//! | Python `logging`, logback      | `2025-10-01 12:00:00,123`, `... 12:00:00.123`      | start |
//! | nginx error log, Go `log`      | `2026/12/06 19:24:36`                              | start |
//! | epoch seconds                  | `1727784000.123`                                   | start |
//! | syslog RFC 3164, journald short| `Oct  1 12:00:00`, `<34>Oct  1 12:00:00`           | start |
//! | syslog RFC 5424                | `<165>1 2026-12-06T19:24:36.003Z host app ...`     | start |
//! | redis                          | `1234:M 06 Dec 2026 19:24:36.123 * Ready`          | start |
//! | nginx/Apache access (CLF)      | `... - - [06/Dec/2026:19:24:36 +0000] "GET ..."`   | first 160 bytes |
//! | Python `http.server`           | `127.0.0.1 - - [06/Dec/2026 19:18:49] "GET ..."`   | first 160 bytes |
//! | ISO after a prefix (logfmt)    | `time="2026-12-06T19:24:36Z" level=info ...`       | first 64 bytes |
//! | JSON fields                    | `{"ts": 1733512345.12, ...}`, `"time": "2026-..."` | `timestamp`, `time`, `ts`, `@timestamp`, `asctime` in the first 1024 bytes |
//!
//! The common case (a `YYYY-MM-DD HH:MM:SS` start with no zone) is parsed by hand with the
//! second cached; everything else goes to the regexes, and only a line with no time at its
//! start is searched further in. Times without a zone are taken as UTC (Python's
//! `http.server` and redis write local time: run services with `TZ=UTC`); syslog times without
//! a year take the year given to [`TimestampParser::new`]. Epoch numbers in JSON larger than
//! 1e11 are milliseconds.

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
    syslog_pri: Regex,
    redis: Regex,
    clf: Regex,
    iso_after_prefix: Regex,
    json_time: Regex,
    year: i32,
}

/// How far into a line the access-log (`[06/Dec/2026:19:24:36 +0000]`) time is looked for.
const CLF_HEAD: usize = 160;
/// How far into a line an ISO time after a prefix (`time="..."`) is looked for.
const ISO_HEAD: usize = 64;
/// How far into a JSON line its time field is looked for.
const JSON_HEAD: usize = 1024;

/// A log line's time as float Unix seconds.
pub type UnixTime = f64;

impl TimestampParser {
    /// A parser that assumes `year` for syslog lines, which carry none.
    pub fn new(year: i32) -> Self {
        // The patterns are constants: a failure here is a programming error caught by the tests.
        let build = |re: &str| Regex::new(re).unwrap_or_else(|e| panic!("bad built-in regex: {e}"));
        TimestampParser {
            last_second: std::cell::Cell::new(None),
            iso: build(ISO_ANCHORED),
            syslog: build(r"^\[?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})"),
            epoch: build(r"^\[?(\d{10})(?:\.(\d{1,9}))?\b"),
            // `<PRI>` and, for RFC 5424, its version `1 `.
            syslog_pri: build(r"^<\d{1,3}>(?:\d{1,2} )?"),
            redis: build(
                r"^\d{1,10}:[XCSM] (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?",
            ),
            clf: build(
                r"\[(\d{1,2})/([A-Z][a-z]{2})/(\d{4})[: ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?: ([+-]\d{4}))?\]",
            ),
            iso_after_prefix: build(
                r"(?:^|[^0-9A-Za-z.:/-])(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?",
            ),
            json_time: build(
                r#""(?:timestamp|time|ts|@timestamp|asctime)"\s*:\s*(?:"([^"]{1,64})"|(-?\d{1,16}(?:\.\d{1,9})?)\b)"#,
            ),
            year,
        }
    }

    /// The time of `line`: at its start, or where the formats above put it.
    pub fn parse(&self, line: &[u8]) -> Option<UnixTime> {
        let first = *line.first()?;
        if first.is_ascii_alphanumeric() || first == b'[' {
            if let Some(t) = self.fast_iso(line) {
                return Some(t);
            }
            if let Some(t) = self.at_start(line) {
                return Some(t);
            }
        }
        self.further_in(line, first)
    }

    /// Formats that start the line (after an optional `[`).
    fn at_start(&self, line: &[u8]) -> Option<UnixTime> {
        if let Some(c) = self.iso.captures(line) {
            return iso_from(&c);
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
        if let Some(c) = self.redis.captures(line) {
            // day, month name, year, time
            return day_month_year(&c, 1, 2, 3, 4, None);
        }
        None
    }

    /// Formats not at the very start: after a syslog `<PRI>`, an access log's client
    /// address, a logfmt key, or in a JSON object.
    fn further_in(&self, line: &[u8], first: u8) -> Option<UnixTime> {
        match first {
            b'<' => {
                let m = self.syslog_pri.find(line)?;
                let rest = &line[m.end()..];
                return self.fast_iso(rest).or_else(|| self.at_start(rest));
            }
            b'{' => {
                let head = &line[..line.len().min(JSON_HEAD)];
                let c = self.json_time.captures(head)?;
                if let Some(text) = c.get(1) {
                    let text = std::str::from_utf8(text.as_bytes()).ok()?;
                    return self.parse_json(&serde_json::Value::from(text));
                }
                let n: f64 = std::str::from_utf8(c.get(2)?.as_bytes())
                    .ok()?
                    .parse()
                    .ok()?;
                return Some(epoch_seconds(n));
            }
            _ => {}
        }
        let clf_head = &line[..line.len().min(CLF_HEAD)];
        if memchr::memchr(b'[', clf_head).is_some() {
            if let Some(c) = self.clf.captures(clf_head) {
                return day_month_year(&c, 1, 2, 3, 4, Some(8));
            }
        }
        let iso_head = &line[..line.len().min(ISO_HEAD)];
        if memchr::memchr(b'-', iso_head).is_some() {
            if let Some(c) = self.iso_after_prefix.captures(iso_head) {
                return iso_from(&c);
            }
        }
        None
    }

    /// `YYYY-MM-DD[ T]HH:MM:SS[,.]fff` with no zone (taken as UTC), parsed by hand with the
    /// second cached; anything else (zones, other shapes) goes to the regexes.
    fn fast_iso(&self, line: &[u8]) -> Option<UnixTime> {
        let head: &[u8; 19] = line.get(..19)?.try_into().ok()?;
        // A line that starts as the previous one did has the shape it had.
        let cached = self
            .last_second
            .get()
            .filter(|(prefix, _)| same_second(prefix, head));
        let shape_ok = || {
            head.iter().enumerate().all(|(i, b)| match i {
                4 | 7 => *b == b'-',
                10 => *b == b' ' || *b == b'T',
                13 | 16 => *b == b':',
                _ => b.is_ascii_digit(),
            })
        };
        if cached.is_none() && !shape_ok() {
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
        let secs = match cached {
            Some((_, secs)) => secs,
            None => {
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
            serde_json::Value::Number(n) => Some(epoch_seconds(n.as_f64()?)),
            serde_json::Value::String(s) => self.parse(s.as_bytes()).or_else(|| {
                DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|d| d.timestamp() as f64 + f64::from(d.timestamp_subsec_nanos()) / 1e9)
            }),
            _ => None,
        }
    }
}

/// Whether two `YYYY-MM-DD HH:MM:SS` prefixes are the same (compared as two words, not
/// byte by byte: every line that has one asks).
fn same_second(a: &[u8; 19], b: &[u8; 19]) -> bool {
    let word = |x: &[u8; 19], at: usize| {
        let mut w = [0u8; 16];
        w.copy_from_slice(&x[at..at + 16]);
        u128::from_le_bytes(w)
    };
    word(a, 0) == word(b, 0) && word(a, 3) == word(b, 3)
}

/// The ISO pattern anchored at the line's start (after an optional `[`); `/` separators for
/// nginx's error log and Go's `log`.
const ISO_ANCHORED: &str = r"^\[?(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?";

/// Epoch seconds from a JSON number: milliseconds when too large to be seconds.
fn epoch_seconds(v: f64) -> f64 {
    if v > 1e11 { v / 1000.0 } else { v }
}

fn capture_u32(c: &regex::bytes::Captures<'_>, i: usize) -> Option<u32> {
    std::str::from_utf8(c.get(i)?.as_bytes()).ok()?.parse().ok()
}

/// A time from ISO captures: year, month, day, hour, minute, second, fraction, zone.
fn iso_from(c: &regex::bytes::Captures<'_>) -> Option<UnixTime> {
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(capture_u32(c, 1)?).ok()?,
        capture_u32(c, 2)?,
        capture_u32(c, 3)?,
    )?;
    let naive = date.and_hms_opt(capture_u32(c, 4)?, capture_u32(c, 5)?, capture_u32(c, 6)?)?;
    let frac = c.get(7).map_or(0.0, |m| fraction(m.as_bytes()));
    let offset = c
        .get(8)
        .map_or(Some(0), |m| zone_offset_seconds(m.as_bytes()))?;
    let utc = Utc.from_utc_datetime(&naive).timestamp() - i64::from(offset);
    Some(utc as f64 + frac)
}

/// A time from captures of day, month name (`Dec`), year, then hour, minute, second and
/// fraction in the three groups after `hms`, and an optional `+0000` zone group.
fn day_month_year(
    c: &regex::bytes::Captures<'_>,
    day: usize,
    month: usize,
    year: usize,
    hms: usize,
    zone: Option<usize>,
) -> Option<UnixTime> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let name = c.get(month)?.as_bytes();
    let month = MONTHS.iter().position(|m| *m == name)? as u32 + 1;
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(capture_u32(c, year)?).ok()?,
        month,
        capture_u32(c, day)?,
    )?;
    let naive = date.and_hms_opt(
        capture_u32(c, hms)?,
        capture_u32(c, hms + 1)?,
        capture_u32(c, hms + 2)?,
    )?;
    let frac = c.get(hms + 3).map_or(0.0, |m| fraction(m.as_bytes()));
    let offset = match zone.and_then(|z| c.get(z)) {
        Some(m) => zone_offset_seconds(m.as_bytes())?,
        None => 0,
    };
    Some((Utc.from_utc_datetime(&naive).timestamp() - i64::from(offset)) as f64 + frac)
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

/// The end of the observation window (`--end-time`): `now`, RFC 3339, or epoch seconds. A clap
/// value parser, so a bad time is a usage error naming the flag; a number that is not finite
/// (`nan`, `inf`) is refused rather than silently passing the heartbeat check.
pub fn parse_end_time(s: &str) -> Result<UnixTime, String> {
    const EXPECTED: &str = "expected now, RFC 3339 or epoch seconds";
    if s == "now" {
        return Ok(soak_core::record::Timestamp::now().unix());
    }
    if let Ok(v) = s.parse::<f64>() {
        return if v.is_finite() {
            Ok(v)
        } else {
            Err(format!("not a finite time ({EXPECTED})"))
        };
    }
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp() as f64 + f64::from(d.timestamp_subsec_nanos()) / 1e9)
        .map_err(|e| format!("{e} ({EXPECTED})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_times() {
        assert_eq!(parse_end_time("1759321212.5"), Ok(1_759_321_212.5));
        assert_eq!(
            parse_end_time("2025-10-01T12:20:12.25Z"),
            Ok(1_759_321_212.25)
        );
        assert_eq!(
            parse_end_time("2025-10-01T14:20:12+02:00"),
            Ok(1_759_321_212.0)
        );
        let before = soak_core::record::Timestamp::now().unix();
        let now = parse_end_time("now").expect("now");
        let after = soak_core::record::Timestamp::now().unix();
        assert!(
            before <= now && now <= after,
            "{before} <= {now} <= {after}"
        );
        for bad in [
            "nan",
            "inf",
            "-inf",
            "1e400",
            "yesterday",
            "2025-13-01T00:00:00Z",
            "",
        ] {
            let err = parse_end_time(bad).expect_err(bad);
            assert!(
                err.contains("expected now, RFC 3339 or epoch seconds"),
                "{bad}: {err}"
            );
        }
    }

    fn p(s: &str) -> Option<f64> {
        TimestampParser::new(2025).parse(s.as_bytes())
    }

    #[test]
    fn a_second_shared_with_the_previous_line_reads_alike() {
        let parser = TimestampParser::new(2025);
        let t = 1_759_320_000.0; // 2025-10-01T12:00:00Z
        let ms = |s: &str| {
            parser
                .parse(s.as_bytes())
                .map(|v| ((v - t) * 1000.0).round())
        };
        assert_eq!(ms("2025-10-01 12:00:00,100 a"), Some(100.0));
        assert_eq!(ms("2025-10-01 12:00:00,250 b"), Some(250.0));
        assert_eq!(ms("2025-10-01 12:00:00 c"), Some(0.0));
        // Same second, but a zone follows: the regex path applies it.
        assert_eq!(ms("2025-10-01 12:00:00+01:00 d"), Some(-3_600_000.0));
        assert_eq!(ms("2025-10-01T12:00:01.5Z e"), Some(1500.0));
        assert_eq!(ms("2025-10-01 12:00:01,5 f"), Some(1500.0));
        // One byte off in either word is another second.
        assert_eq!(ms("2025-10-01 12:00:02,000 g"), Some(2000.0));
        assert_eq!(
            ms("2026-10-01 12:00:02,000 h"),
            Some(31_536_000_000.0 + 2000.0)
        );
        assert!(!same_second(b"2025-10-01 12:00:02", b"2025-10-01 12:00:03"));
        assert!(!same_second(b"3025-10-01 12:00:02", b"2025-10-01 12:00:02"));
        assert!(same_second(b"2025-10-01 12:00:02", b"2025-10-01 12:00:02"));
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
    fn formats_of_real_software() {
        let t = 1_796_585_076.0; // 2026-12-06T19:24:36Z
        let at = |s: &str| {
            TimestampParser::new(2026)
                .parse(s.as_bytes())
                .map(|v| (v * 1000.0).round() / 1000.0)
        };
        let cases: [(&str, f64); 17] = [
            // nginx/Apache common and combined log format
            (
                "127.0.0.1 - - [06/Dec/2026:19:24:36 +0000] \"GET / HTTP/1.1\" 200 615 \"-\" \"curl/7.88.1\"",
                t,
            ),
            (
                "::1 - alice [06/Dec/2026:20:24:36 +0100] \"GET /x HTTP/1.0\" 404 153",
                t,
            ),
            // Python http.server (local time, no zone)
            (
                "127.0.0.1 - - [06/Dec/2026 19:24:36] \"GET / HTTP/1.1\" 200 -",
                t,
            ),
            // redis
            (
                "1234:M 06 Dec 2026 19:24:36.123 * Ready to accept connections tcp",
                t + 0.123,
            ),
            (
                "77:C 6 Dec 2026 19:24:36.000 # oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
                t,
            ),
            // nginx error log, Go log
            (
                "2026/12/06 19:24:36 [notice] 4242#4242: signal process started",
                t,
            ),
            // journald short-iso and short-iso-precise
            ("2026-12-06T19:24:36+0000 host redis-server[1234]: Ready", t),
            ("2026-12-06T20:24:36.500000+0100 host app[1]: x", t + 0.5),
            // syslog RFC 3164 with PRI, RFC 5424
            ("<34>Dec  6 19:24:36 mymachine su: 'su root' failed", t),
            (
                "<165>1 2026-12-06T19:24:36.003Z mymachine.example.com evntslog - ID47 - msg",
                t + 0.003,
            ),
            // logfmt and other prefixes
            (
                "time=\"2026-12-06T19:24:36Z\" level=info msg=\"started\"",
                t,
            ),
            ("INFO 2026-12-06 19:24:36,250 app: x", t + 0.25),
            // JSON logs (no --json-field needed for the time)
            (
                "{\"level\":\"info\",\"ts\":1796585076.12,\"msg\":\"x\"}",
                t + 0.12,
            ),
            ("{\"time\": \"2026-12-06T19:24:36Z\", \"msg\": \"x\"}", t),
            (
                "{\"level\":30,\"time\":1796585076500,\"msg\":\"pino\"}",
                t + 0.5,
            ),
            (
                "{\"@timestamp\":\"2026-12-06T19:24:36.000+00:00\",\"message\":\"x\"}",
                t,
            ),
            (
                "{\"asctime\": \"2026-12-06 19:24:36,000\", \"levelname\": \"INFO\"}",
                t,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(at(line), Some(want), "{line}");
        }
        for none in [
            "  File \"/usr/lib/python3.11/socketserver.py\", line 755, in __init__",
            "ConnectionResetError: [Errno 104] Connection reset by peer",
            "----------------------------------------",
            "{\"msg\": \"no time here\"}",
            "<34> no syslog time",
            "1234:M 45 Foo 2026 19:24:36.123 * bad month",
        ] {
            assert_eq!(at(none), None, "{none}");
        }
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
