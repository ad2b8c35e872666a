//! From accumulated [`Stats`] to the checks and the `summary` record.

use std::time::Duration;

use std::io::Write;

use serde_json::Value;
use soak_core::output::{Format, Table, cell};
use soak_core::record::{Finding, Record, RecordType, Severity, Timestamp};
use soak_core::report::Body;

use crate::heartbeat::{self, HeartbeatRule};
use crate::scan::Stats;

/// The thresholds the checks apply.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most WebSocket reconnect attempts allowed in any one-hour window.
    pub max_reconnects_per_hour: u64,
    /// Longest heartbeat silence allowed.
    pub max_heartbeat_gap: Duration,
    /// A log with no heartbeat at all fails (else: no data): `--max-heartbeat-gap` given
    /// without `--heartbeat-optional`.
    pub heartbeat_required: bool,
    /// Highest p99 latency allowed, per stage, in milliseconds.
    pub max_p99_latency_ms: f64,
    /// Most crashes (fatal lines) allowed.
    pub max_crashes: u64,
    /// Most logged errors allowed in any one-hour window.
    pub max_errors_per_hour: u64,
    /// The shutdown sequence must have run and completed.
    pub require_clean_shutdown: bool,
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Within the threshold.
    Pass,
    /// Beyond it.
    Fail,
    /// The log holds nothing to judge (e.g. no latency lines); does not fail the run.
    NoData,
}

impl Outcome {
    /// `pass`, `fail` or `no_data`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NoData => "no_data",
        }
    }
}

/// One row of the checks table.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// Its name (`reconnects_per_hour`, ...).
    pub name: String,
    /// The threshold, as a person reads it.
    pub threshold: String,
    /// What was measured.
    pub measured: Value,
    /// The result.
    pub outcome: Outcome,
}

fn pass_if(ok: bool) -> Outcome {
    if ok { Outcome::Pass } else { Outcome::Fail }
}

/// Evaluates the checks; `end` is the end of the observation window (silence up to it counts
/// as a heartbeat gap).
pub fn evaluate(stats: &Stats, limits: &Limits, end: Option<f64>) -> Vec<Check> {
    let mut checks = Vec::new();
    checks.push(Check {
        name: "reconnects_per_hour".into(),
        threshold: format!("<= {} in any hour", limits.max_reconnects_per_hour),
        measured: Value::from(stats.reconnects_max_in_hour),
        outcome: pass_if(stats.reconnects_max_in_hour <= limits.max_reconnects_per_hour),
    });
    let gap = stats.heartbeat_gap_until(end);
    let limit_s = limits.max_heartbeat_gap.as_secs_f64();
    checks.push(Check {
        name: "heartbeat_gap".into(),
        threshold: format!(
            "<= {}",
            soak_core::units::format_duration(limits.max_heartbeat_gap)
        ),
        measured: gap.map_or(Value::Null, |(g, _)| round3(g).into()),
        outcome: match heartbeat_rule(stats, limits) {
            HeartbeatRule::Required => Outcome::Fail,
            HeartbeatRule::NoHeartbeat => Outcome::NoData,
            HeartbeatRule::Armed => {
                pass_if(!gap.is_some_and(|(g, _)| heartbeat::overdue(stats.heartbeats, g, limit_s)))
            }
        },
    });
    let worst_p99 = stats
        .latency
        .iter()
        .filter_map(|(stage, h)| Some((stage, h.quantile(0.99)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    checks.push(Check {
        name: "p99_latency".into(),
        threshold: format!("<= {}ms per stage", limits.max_p99_latency_ms),
        measured: worst_p99.map_or(Value::Null, |(_, v)| round3(v).into()),
        outcome: worst_p99.map_or(Outcome::NoData, |(_, v)| {
            pass_if(v <= limits.max_p99_latency_ms)
        }),
    });
    let crashes = crash_count(stats);
    checks.push(Check {
        name: "crashes".into(),
        threshold: format!("<= {}", limits.max_crashes),
        measured: Value::from(crashes),
        outcome: pass_if(crashes <= limits.max_crashes),
    });
    let errors = stats.errors.window.max;
    checks.push(Check {
        name: "errors_per_hour".into(),
        threshold: format!("<= {} in any hour", limits.max_errors_per_hour),
        measured: Value::from(errors),
        outcome: pass_if(errors <= limits.max_errors_per_hour),
    });
    if limits.require_clean_shutdown {
        checks.push(Check {
            name: "clean_shutdown".into(),
            threshold: "shutdown sequence completed".into(),
            measured: Value::from(shutdown_verdict(stats)),
            outcome: pass_if(shutdown_verdict(stats) == "clean"),
        });
    }
    checks
}

/// Fatal lines: panics, fatal errors, segfaults, OOM kills (never tracebacks a service logs
/// and survives: those are logged errors).
pub fn crash_count(stats: &Stats) -> u64 {
    crate::scan::FATAL_KINDS
        .iter()
        .map(|k| stats.count(k))
        .sum()
}

/// The hang rule that judged this log (see [`crate::heartbeat`]).
pub fn heartbeat_rule(stats: &Stats, limits: &Limits) -> HeartbeatRule {
    HeartbeatRule::for_log(stats.heartbeats, limits.heartbeat_required)
}

/// `clean` (started and completed, no crash after it), `unclean` (started but not completed,
/// or a crash after it) or `none` (no shutdown sequence in the log).
pub fn shutdown_verdict(stats: &Stats) -> &'static str {
    match (stats.shutdown_started, stats.shutdown_completed) {
        (false, false) => "none",
        (_, true) if !stats.crash_after_shutdown && stats.shutdown_started => "clean",
        _ => "unclean",
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// A latency stage as a part of a field name (at most 40 characters).
pub(crate) fn slug(s: &str) -> String {
    let mut out = soak_core::record::field_name_part(s);
    out.truncate(40);
    out
}

/// The `summary` record: counts and rates per kind, latency percentiles per stage, the
/// largest heartbeat gap, the shutdown verdict, and every check's result.
pub fn summary_record(
    stats: &Stats,
    kinds: &[String],
    checks: &[Check],
    end: Option<f64>,
    rule: HeartbeatRule,
) -> Record {
    let span = stats.span_s();
    let hours = span.filter(|s| *s > 0.0).map(|s| s / 3600.0);
    let mut r = Record::new(RecordType::Summary, "logscan")
        .with("files", stats.files)
        .with("lines", stats.lines)
        .with("invalid_utf8_lines", stats.invalid_utf8_lines)
        .with("lines_without_time", stats.lines_without_time)
        .with(
            "first_timestamp_utc",
            stats
                .first_time
                .and_then(Timestamp::from_unix)
                .map(|t| t.utc_string()),
        )
        .with(
            "last_timestamp_utc",
            stats
                .last_time
                .and_then(Timestamp::from_unix)
                .map(|t| t.utc_string()),
        )
        .with("span_s", span.map(round3))
        .with("span_hours", hours.map(|h| (h * 1e4).round() / 1e4));
    for kind in kinds {
        let n = stats.count(kind);
        r.insert(&format!("{kind}_count"), n);
        r.insert(
            &format!("{kind}_per_hour"),
            hours.map(|h| round3(n as f64 / h)),
        );
    }
    r.insert(
        "ws_reconnects_max_in_any_hour",
        stats.reconnects_max_in_hour,
    );
    r.insert("heartbeat_count", stats.heartbeats);
    r.insert("heartbeat_rule", rule.as_str());
    let gap = stats.heartbeat_gap_until(end);
    r.insert("heartbeat_max_gap_s", gap.map(|g| round3(g.0)));
    r.insert(
        "heartbeat_max_gap_start_utc",
        gap.and_then(|g| Timestamp::from_unix(g.1))
            .map(|t| t.utc_string()),
    );
    for (stage, h) in &stats.latency {
        let s = slug(stage);
        r.insert(&format!("latency_{s}_count"), h.count());
        for (name, q) in [("p50", 0.5), ("p95", 0.95), ("p99", 0.99)] {
            r.insert(&format!("latency_{s}_{name}_ms"), h.quantile(q).map(round3));
        }
        r.insert(&format!("latency_{s}_max_ms"), h.max().map(round3));
        r.insert(&format!("latency_{s}_mean_ms"), h.mean().map(round3));
    }
    r.insert("crash_count", crash_count(stats));
    r.insert("error_count", stats.errors.count);
    r.insert("errors_max_in_any_hour", stats.errors.window.max);
    let top = serde_json::to_value(stats.errors.top(3)).unwrap_or_default();
    r.insert("top_errors", top);
    r.insert("line_too_long", stats.line_too_long);
    r.insert("shutdown_verdict", shutdown_verdict(stats));
    r.insert("shutdown_cancelled_orders", stats.shutdown_cancelled);
    for c in checks {
        r.insert(&format!("check_{}", c.name), c.outcome.as_str());
    }
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| c.name.as_str())
        .collect();
    r.insert("failed_checks", failed.clone());
    r.insert("ok", failed.is_empty());
    r
}

/// A `finding` for a failed check (severity high: a check of the run failed).
pub fn finding_for(check: &Check) -> Record {
    let message = format!(
        "{}: measured {} (threshold {})",
        check.name,
        soak_core::output::cell(&check.measured),
        check.threshold
    );
    Finding::new(check.name.clone(), Severity::High, message)
        .with("threshold", check.threshold.clone())
        .with("measured", check.measured.clone())
        .into_record("logscan")
}

/// The summary's figures a person reads (name, value): not the envelope, the checks or the
/// kinds that never occurred.
pub fn figures(summary: &Record) -> Vec<(String, String)> {
    summary
        .fields()
        .iter()
        .filter(|(k, v)| {
            let skip = matches!(
                k.as_str(),
                "type" | "tool" | "timestamp_utc" | "timestamp_unix" | "failed_checks"
            ) || k.starts_with("check_")
                || (k.ends_with("_count") && v.as_u64() == Some(0) && *k != "crash_count")
                || (k.ends_with("_per_hour")
                    && summary
                        .get(&k.replace("_per_hour", "_count"))
                        .is_none_or(|c| c.as_u64() == Some(0)));
            !skip
        })
        .map(|(k, v)| (k.clone(), cell(v)))
        .collect()
}

fn write_human(
    out: &mut dyn Write,
    format: Format,
    summary: &Record,
    checks: &[Check],
) -> std::io::Result<()> {
    let mut figures_table = Table::new(["metric", "value"]);
    for (k, v) in figures(summary) {
        figures_table.push_row([k, v]);
    }
    let figures = figures_table;
    let mut table = Table::new(["check", "threshold", "measured", "result"]);
    for c in checks {
        table.push_row([
            c.name.clone(),
            c.threshold.clone(),
            cell(&c.measured),
            c.outcome.as_str().to_string(),
        ]);
    }
    match format {
        Format::Markdown => {
            table.write_markdown(out)?;
            writeln!(out)?;
            figures.write_markdown(out)
        }
        Format::Csv => {
            let row = Table::from_records(std::slice::from_ref(summary), None);
            row.write_csv(out)
        }
        _ => {
            table.write_text(out)?;
            writeln!(out)?;
            figures.write_text(out)
        }
    }
}

/// What logscan prints at the end: in JSONL a `finding` per failed check and the summary; in
/// JSON the summary; in CSV the summary as one row; as a table or Markdown the checks and the
/// figures.
pub struct ScanBody {
    summary: Record,
    checks: Vec<Check>,
}

impl ScanBody {
    /// The body of a scan's `summary` and its checks.
    pub fn new(summary: Record, checks: Vec<Check>) -> Self {
        ScanBody { summary, checks }
    }
}

impl Body for ScanBody {
    fn write(&self, format: Format, out: &mut dyn Write) -> std::io::Result<()> {
        match format {
            Format::Jsonl => {
                for c in self.checks.iter().filter(|c| c.outcome == Outcome::Fail) {
                    writeln!(out, "{}", finding_for(c).to_line())?;
                }
                writeln!(out, "{}", self.summary.to_line())
            }
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, &self.summary)
                    .map_err(std::io::Error::other)?;
                writeln!(out)
            }
            Format::Sarif => Err(soak_core::output::unsupported(format)),
            Format::Table | Format::Markdown | Format::Csv => {
                write_human(out, format, &self.summary, &self.checks)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_is_a_high_finding_saying_what_was_measured() {
        let c = Check {
            name: "error_count".into(),
            threshold: "<= 0".into(),
            measured: 3.into(),
            outcome: Outcome::Fail,
        };
        let f = Finding::from_record(&finding_for(&c)).expect("a finding");
        assert_eq!(
            (f.kind.as_str(), f.severity),
            ("error_count", Severity::High)
        );
        assert_eq!(f.message, "error_count: measured 3 (threshold <= 0)");
        assert_eq!(f.get("measured"), Some(&3.into()));
    }
}
