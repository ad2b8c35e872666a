//! The one parser for durations, sizes, rates and percentages on every tool's command line.
//!
//! - Durations: `500ms`, `90s`, `15m`, `24h`, `7d`, `1.5h`, compounds like `1h30m`; a bare
//!   number is seconds (`60` = `60s`), as the seed's `--interval 60`.
//! - Sizes: `512`, `512B`, `10k`, `512MB`, `5GB`, `1GiB`, `1.5T`. Every multiple is binary
//!   (`1 MB` = `1 MiB` = 2^20 bytes), as logrotate(8) reads `100M` and as the seed's `_mb`
//!   fields are computed (`bytes / 2**20`), so a `--leak-threshold 10MB/h` compares like with
//!   like against `memory_used_mb`.
//! - Rates: a size or a count over a time unit: `10MB/h`, `1GB/d`, `100KB/s`, `10/h`.
//! - Percentages: `80%` or `80`.
//!
//! Case does not matter and spaces between number and unit are allowed (`5 GB`).

use std::time::Duration;

/// A value on the command line that does not parse; the message quotes it and says what
/// was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} '{input}': {expected}")]
pub struct UnitError {
    what: &'static str,
    input: String,
    expected: &'static str,
}

impl UnitError {
    fn new(what: &'static str, input: &str, expected: &'static str) -> Self {
        UnitError {
            what,
            input: input.to_string(),
            expected,
        }
    }
}

const DURATION_HELP: &str = "expected a number with a unit such as 500ms, 90s, 15m, 24h, 7d";
const SIZE_HELP: &str = "expected a size such as 512MB, 5GB, 1GiB (binary multiples)";
const RATE_HELP: &str = "expected a rate such as 10MB/h, 1GB/d or 10/h";
const PERCENT_HELP: &str = "expected a percentage such as 80% or 80";

/// Splits `s` into a leading decimal number and the rest.
fn split_number(s: &str) -> Option<(f64, &str)> {
    let s = s.trim_start();
    let end = s
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.'))
        .map_or(s.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let value: f64 = s[..end].parse().ok()?;
    Some((value, s[end..].trim_start()))
}

fn duration_unit_seconds(unit: &str) -> Option<f64> {
    Some(match unit {
        "ms" | "msec" => 0.001,
        "" | "s" | "sec" | "secs" | "second" | "seconds" => 1.0,
        "m" | "min" | "mins" | "minute" | "minutes" => 60.0,
        "h" | "hr" | "hrs" | "hour" | "hours" => 3600.0,
        "d" | "day" | "days" => 86_400.0,
        "w" | "week" | "weeks" => 604_800.0,
        _ => return None,
    })
}

/// Parses a duration: `500ms`, `90s`, `15m`, `24h`, `7d`, `1.5h`, `1h30m`, or bare seconds.
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let err = || UnitError::new("duration", input, DURATION_HELP);
    let lower = input.trim().to_ascii_lowercase();
    if lower.is_empty() {
        return Err(err());
    }
    let mut rest = lower.as_str();
    let mut total = 0.0f64;
    let mut parts = 0;
    while !rest.is_empty() {
        let (value, after) = split_number(rest).ok_or_else(err)?;
        let unit_len = after
            .char_indices()
            .find(|&(_, c)| !c.is_ascii_alphabetic())
            .map_or(after.len(), |(i, _)| i);
        let unit = &after[..unit_len];
        // A bare number is only allowed alone ("60"), not inside a compound ("1h30").
        if unit.is_empty() && parts > 0 {
            return Err(err());
        }
        total += value * duration_unit_seconds(unit).ok_or_else(err)?;
        rest = after[unit_len..].trim_start();
        parts += 1;
    }
    if !total.is_finite() || total > 1e12 {
        return Err(err());
    }
    Ok(Duration::from_secs_f64(total))
}

fn size_unit_bytes(unit: &str) -> Option<f64> {
    let prefix = unit
        .strip_suffix("ib")
        .or_else(|| unit.strip_suffix('b'))
        .unwrap_or(unit);
    Some(match prefix {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0f64.powi(4),
        "p" => 1024.0f64.powi(5),
        _ => return None,
    })
}

fn parse_size_f64(input: &str, what: &'static str, help: &'static str) -> Result<f64, UnitError> {
    let err = || UnitError::new(what, input, help);
    let lower = input.trim().to_ascii_lowercase();
    let (value, unit) = split_number(&lower).ok_or_else(err)?;
    let bytes = value * size_unit_bytes(unit.trim()).ok_or_else(err)?;
    if !bytes.is_finite() {
        return Err(err());
    }
    Ok(bytes)
}

// Units whose bare letter is also a size suffix ("k", "m", ...): only exact unit strings are
// accepted, so "5GB" or "5 gib" parse while "5 gigs" does not.
fn is_size_unit(unit: &str) -> bool {
    matches!(
        unit,
        "" | "b"
            | "k"
            | "kb"
            | "kib"
            | "m"
            | "mb"
            | "mib"
            | "g"
            | "gb"
            | "gib"
            | "t"
            | "tb"
            | "tib"
            | "p"
            | "pb"
            | "pib"
    )
}

/// Parses a size in bytes: `512`, `512B`, `10k`, `512MB`, `5GB`, `1GiB`, `1.5T`.
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    let lower = input.trim().to_ascii_lowercase();
    let unit = split_number(&lower).map(|(_, u)| u.trim().to_string());
    if !unit.as_deref().is_some_and(is_size_unit) {
        return Err(UnitError::new("size", input, SIZE_HELP));
    }
    let bytes = parse_size_f64(input, "size", SIZE_HELP)?;
    if bytes > u64::MAX as f64 {
        return Err(UnitError::new("size", input, SIZE_HELP));
    }
    Ok(bytes.round() as u64)
}

/// A rate: an amount (bytes, or a plain count) per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    /// A rate of `per_second` units per second.
    pub fn per_second(per_second: f64) -> Self {
        Rate { per_second }
    }

    /// Units per second.
    pub fn as_per_second(self) -> f64 {
        self.per_second
    }

    /// Units per hour.
    pub fn as_per_hour(self) -> f64 {
        self.per_second * 3600.0
    }

    /// For a byte rate: MB (2^20 bytes) per hour, the unit of the seed's leak threshold.
    pub fn as_mb_per_hour(self) -> f64 {
        self.as_per_hour() / (1024.0 * 1024.0)
    }
}

fn split_rate(input: &str) -> Result<(&str, f64), UnitError> {
    let err = || UnitError::new("rate", input, RATE_HELP);
    let (amount, per) = input.split_once('/').ok_or_else(err)?;
    let per = per.trim().to_ascii_lowercase();
    let seconds = if per.chars().next().is_some_and(|c| c.is_ascii_digit()) {
        parse_duration(&per).map_err(|_| err())?.as_secs_f64()
    } else {
        duration_unit_seconds(&per)
            .filter(|_| !per.is_empty())
            .ok_or_else(err)?
    };
    if seconds <= 0.0 {
        return Err(err());
    }
    Ok((amount, seconds))
}

/// Parses a byte rate: `10MB/h`, `1GB/d`, `100KB/s`, `5MB/min`.
pub fn parse_rate(input: &str) -> Result<Rate, UnitError> {
    let (amount, seconds) = split_rate(input)?;
    let bytes = parse_size(amount).map_err(|_| UnitError::new("rate", input, RATE_HELP))?;
    Ok(Rate::per_second(bytes as f64 / seconds))
}

/// Parses a count rate: `10/h`, `2.5/min`, `100/d`.
pub fn parse_count_rate(input: &str) -> Result<Rate, UnitError> {
    let err = || UnitError::new("rate", input, "expected a count rate such as 10/h or 2/min");
    let (amount, seconds) = split_rate(input).map_err(|_| err())?;
    let (value, rest) = split_number(amount).ok_or_else(err)?;
    if !rest.trim().is_empty() {
        return Err(err());
    }
    Ok(Rate::per_second(value / seconds))
}

/// Parses a percentage: `80%` or `80` → `80.0`.
pub fn parse_percent(input: &str) -> Result<f64, UnitError> {
    let err = || UnitError::new("percentage", input, PERCENT_HELP);
    let t = input.trim();
    let t = t.strip_suffix('%').unwrap_or(t).trim_end();
    let (value, rest) = split_number(t).ok_or_else(err)?;
    if !rest.is_empty() || !value.is_finite() {
        return Err(err());
    }
    Ok(value)
}

/// Formats a byte count for people: `1.5 GiB`, `512 B`.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Formats a duration for people and for re-parsing: `1h30m`, `45s`, `250ms`, `2d3h`.
pub fn format_duration(d: Duration) -> String {
    let total_ms = d.as_millis();
    if total_ms < 1000 {
        return format!("{total_ms}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400u64), ("h", 3600), ("m", 60)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    if secs > 0 || out.is_empty() {
        out.push_str(&format!("{secs}s"));
    }
    out
}

/// clap value parser for durations (`value_parser = soak_core::units::clap_duration`).
pub fn clap_duration(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// clap value parser for the period of a loop (`--watch`, `--poll`, `--interval`, `--every`):
/// a duration greater than zero, since a zero period would spin a core.
pub fn clap_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err(format!(
            "'{s}': an interval must be greater than 0 (a zero interval would busy-loop)"
        ));
    }
    Ok(d)
}

/// clap value parser for sizes in bytes.
pub fn clap_size(s: &str) -> Result<u64, String> {
    parse_size(s).map_err(|e| e.to_string())
}

/// clap value parser for byte rates.
pub fn clap_rate(s: &str) -> Result<Rate, String> {
    parse_rate(s).map_err(|e| e.to_string())
}

/// clap value parser for count rates.
pub fn clap_count_rate(s: &str) -> Result<Rate, String> {
    parse_count_rate(s).map_err(|e| e.to_string())
}

/// clap value parser for percentages.
pub fn clap_percent(s: &str) -> Result<f64, String> {
    parse_percent(s).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations() {
        let s = |x: &str| parse_duration(x).map(|d| d.as_secs_f64());
        assert_eq!(s("90s"), Ok(90.0));
        assert_eq!(s("15m"), Ok(900.0));
        assert_eq!(s("24h"), Ok(86_400.0));
        assert_eq!(s("7d"), Ok(604_800.0));
        assert_eq!(s("500ms"), Ok(0.5));
        assert_eq!(s("1.5h"), Ok(5400.0));
        assert_eq!(s("1h30m"), Ok(5400.0));
        assert_eq!(s("1h 30m"), Ok(5400.0));
        assert_eq!(s("60"), Ok(60.0));
        assert_eq!(s("0.1"), Ok(0.1));
        assert_eq!(s("2H"), Ok(7200.0));
        for bad in ["", "s", "5x", "-5s", "1h30", "1..5s", "ten minutes", "5s!"] {
            let e = parse_duration(bad).expect_err(bad);
            assert!(e.to_string().contains(&format!("'{bad}'")), "{e}");
        }
    }

    #[test]
    fn sizes_are_binary() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("512B"), Ok(512));
        assert_eq!(parse_size("10k"), Ok(10_240));
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("5GB"), Ok(5 << 30));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("5 gb"), Ok(5 << 30));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        for bad in ["", "GB", "5 gigs", "5XB", "-1MB", "1e3"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates() {
        let r = parse_rate("10MB/h").expect("rate");
        assert!((r.as_mb_per_hour() - 10.0).abs() < 1e-9);
        assert!(
            (parse_rate("1GB/d").expect("rate").as_per_hour() - (1u64 << 30) as f64 / 24.0).abs()
                < 1e-3
        );
        assert!((parse_rate("100KB/s").expect("rate").as_per_second() - 102_400.0).abs() < 1e-9);
        assert!((parse_rate("1MB/30m").expect("rate").as_mb_per_hour() - 2.0).abs() < 1e-9);
        assert!((parse_count_rate("10/h").expect("count").as_per_hour() - 10.0).abs() < 1e-9);
        for bad in ["10MB", "10MB/", "/h", "10MB/x", "ten/h", "10MB/0s"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
        assert!(parse_count_rate("10MB/h").is_err());
    }

    #[test]
    fn percents() {
        assert_eq!(parse_percent("80%"), Ok(80.0));
        assert_eq!(parse_percent(" 12.5 % "), Ok(12.5));
        assert_eq!(parse_percent("80"), Ok(80.0));
        assert!(parse_percent("%").is_err());
        assert!(parse_percent("eighty").is_err());
    }

    #[test]
    fn formatting() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(5 << 30), "5.0 GiB");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(0)), "0ms");
        assert_eq!(format_duration(Duration::from_secs(183_600)), "2d3h");
    }

    proptest! {
        #[test]
        fn formatted_durations_parse_back(secs in 1u64..10_000_000) {
            let d = Duration::from_secs(secs);
            prop_assert_eq!(parse_duration(&format_duration(d)), Ok(d));
        }

        #[test]
        fn whole_sizes_parse_exactly(n in 0u64..1_000_000, unit in 0usize..5) {
            let (suffix, mult) = [("", 1u64), ("KB", 1 << 10), ("MiB", 1 << 20), ("g", 1 << 30), ("TB", 1 << 40)][unit];
            prop_assert_eq!(parse_size(&format!("{n}{suffix}")), Ok(n * mult));
        }

        #[test]
        fn duration_parser_never_panics(s in "\\PC{0,16}") {
            let _ = parse_duration(&s);
            let _ = parse_size(&s);
            let _ = parse_rate(&s);
            let _ = parse_count_rate(&s);
            let _ = parse_percent(&s);
        }

        #[test]
        fn byte_rates_scale_linearly(n in 1u64..100_000) {
            let per_h = parse_rate(&format!("{n}MB/h")).expect("rate").as_mb_per_hour();
            let per_d = parse_rate(&format!("{}MB/d", n * 24)).expect("rate").as_mb_per_hour();
            prop_assert!((per_h - n as f64).abs() < 1e-6 * n as f64);
            prop_assert!((per_h - per_d).abs() < 1e-6 * n as f64);
        }
    }
}
