//! `--baseline OLD.log`: the same scan of an earlier run, compared kind by kind, and
//! `--expect-reduction KIND=90%` checks (seed 003 judges its fix by "`[HANDLER_TIMEOUT]` errors
//! reduced by > 90 %").
//!
//! Changes compare rates per hour when both logs have a time span (runs of different lengths
//! compare fairly), else raw counts.

use serde_json::Value;
use soak_core::record::Record;

use crate::report::{Check, Outcome};
use crate::scan::Stats;

/// One `--expect-reduction KIND=PCT%`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reduction {
    /// The event kind, as in the summary (`handler_timeout`).
    pub kind: String,
    /// The least reduction that passes, in percent.
    pub percent: f64,
}

/// Parses `HANDLER_TIMEOUT=90%` (kind case-insensitive; `[`, `]` ignored, so `[HANDLER_TIMEOUT]`
/// works too).
pub fn parse_reduction(s: &str) -> Result<Reduction, String> {
    let (kind, pct) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}': expected KIND=PERCENT, e.g. HANDLER_TIMEOUT=90%"))?;
    let kind = kind.trim().trim_matches(['[', ']']).to_ascii_lowercase();
    if kind.is_empty() {
        return Err(format!("'{s}': the kind is empty"));
    }
    let percent = soak_core::units::parse_percent(pct).map_err(|e| e.to_string())?;
    Ok(Reduction { kind, percent })
}

/// A kind's rate per hour, or its count when the log has no time span.
fn level(stats: &Stats, kind: &str) -> (f64, bool) {
    let n = stats.count(kind) as f64;
    match stats.span_s().filter(|s| *s > 0.0) {
        Some(span) => (n / (span / 3600.0), true),
        None => (n, false),
    }
}

/// The change from `old` to `new` in percent (`None` when the baseline had none).
pub fn change_percent(old: &Stats, new: &Stats, kind: &str) -> Option<f64> {
    let (o, o_rate) = level(old, kind);
    let (n, n_rate) = level(new, kind);
    let (o, n) = if o_rate && n_rate {
        (o, n)
    } else {
        (old.count(kind) as f64, new.count(kind) as f64)
    };
    (o > 0.0).then(|| ((n - o) / o * 100.0 * 10.0).round() / 10.0)
}

/// One `reduction_<kind>` check per `--expect-reduction`.
pub fn reduction_checks(old: &Stats, new: &Stats, wanted: &[Reduction]) -> Vec<Check> {
    wanted
        .iter()
        .map(|r| {
            let change = change_percent(old, new, &r.kind);
            Check {
                name: format!("reduction_{}", r.kind),
                threshold: format!(">= {}% fewer than the baseline", r.percent),
                measured: change.map_or(Value::Null, |c| Value::from(-c)),
                outcome: match change {
                    None => Outcome::NoData,
                    Some(c) if -c >= r.percent => Outcome::Pass,
                    Some(_) => Outcome::Fail,
                },
            }
        })
        .collect()
}

/// Adds `baseline_<kind>_count`, `baseline_<kind>_per_hour` and `<kind>_change_percent` for
/// every kind either run saw, and the per-stage p99 latency change.
pub fn add_to_summary(
    summary: &mut Record,
    old: &Stats,
    new: &Stats,
    kinds: &[String],
    file: &str,
) {
    summary.insert("baseline_file", file);
    let hours = old.span_s().filter(|s| *s > 0.0).map(|s| s / 3600.0);
    for kind in kinds {
        if old.count(kind) == 0 && new.count(kind) == 0 {
            continue;
        }
        summary.insert(&format!("baseline_{kind}_count"), old.count(kind));
        summary.insert(
            &format!("baseline_{kind}_per_hour"),
            hours.map(|h| (old.count(kind) as f64 / h * 1000.0).round() / 1000.0),
        );
        summary.insert(
            &format!("{kind}_change_percent"),
            change_percent(old, new, kind),
        );
    }
    for (stage, h) in &new.latency {
        let (Some(now), Some(before)) = (
            h.quantile(0.99),
            old.latency.get(stage).and_then(|b| b.quantile(0.99)),
        ) else {
            continue;
        };
        let stage = crate::report::slug(stage);
        summary.insert(
            &format!("baseline_latency_{stage}_p99_ms"),
            (before * 1000.0).round() / 1000.0,
        );
        if before > 0.0 {
            summary.insert(
                &format!("latency_{stage}_p99_change_percent"),
                ((now - before) / before * 1000.0).round() / 10.0,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reductions_parse() {
        assert_eq!(
            parse_reduction("HANDLER_TIMEOUT=90%"),
            Ok(Reduction {
                kind: "handler_timeout".into(),
                percent: 90.0
            })
        );
        assert_eq!(
            parse_reduction("[HANDLER_TIMEOUT]=50").map(|r| r.kind),
            Ok("handler_timeout".into())
        );
        assert!(parse_reduction("HANDLER_TIMEOUT").is_err());
        assert!(parse_reduction("=90%").is_err());
        assert!(parse_reduction("x=ninety").is_err());
    }
}
