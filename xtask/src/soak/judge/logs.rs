//! The rows from the service's log (logscan's summary) and its health endpoint: WebSocket
//! reconnections, the errors it logged and survived, and the heartbeat gap (a hang).

use soak_core::units::format_duration;

use super::super::records::LogSummary;
use super::super::verdict::Row;
use super::Inputs;

/// WebSocket reconnections: the most in any hour of the log.
pub fn reconnects_row(i: &Inputs<'_>, log: Option<&LogSummary>) -> Row {
    let threshold = format!("< {} per hour", i.args.max_reconnects_per_hour);
    match log.and_then(|l| l.ws_reconnects_max_in_any_hour.map(|n| (n, l))) {
        Some((n, l)) => Row::measured(
            "WS reconnections",
            threshold,
            n.to_string(),
            n < i.args.max_reconnects_per_hour,
            format!(
                "most in any hour of the log ({} in all)",
                l.ws_reconnect_count.unwrap_or(n)
            ),
        ),
        None => Row::measured(
            "WS reconnections",
            threshold,
            "-".into(),
            false,
            "logscan produced no summary".into(),
        ),
    }
}

/// Errors the service logged and survived: the most in any hour, and the most frequent.
pub fn errors_row(i: &Inputs<'_>, log: Option<&LogSummary>) -> Row {
    const METRIC: &str = "Logged errors";
    let threshold = format!("<= {} per hour", i.args.max_errors_per_hour);
    let Some((count, max_hour)) =
        log.and_then(|l| Some((l.error_count?, l.errors_max_in_any_hour?)))
    else {
        return Row::skipped(METRIC, threshold, "logscan reported no error count");
    };
    let top: Vec<String> = log
        .map(|l| {
            l.top_errors
                .iter()
                .take(3)
                .map(|e| format!("{} ×{}", e.message, e.count))
                .collect()
        })
        .unwrap_or_default();
    Row::measured(
        METRIC,
        threshold,
        max_hour.to_string(),
        max_hour <= i.args.max_errors_per_hour,
        if count == 0 {
            "tracebacks, exceptions and error lines the service logged and survived: none".into()
        } else {
            format!(
                "most in any hour; {count} in all (tracebacks, exceptions, error lines the service survived): {}",
                top.join("; ")
            )
        },
    )
}

/// The heartbeat gap: the log's heartbeat rule, or else the health endpoint's silence.
pub fn hang_row(i: &Inputs<'_>, log: Option<&LogSummary>) -> Row {
    const METRIC: &str = "Heartbeat gap (hang)";
    let threshold = format!("<= {}", format_duration(i.gap));
    let hung = i.stopped_because.starts_with("hang");
    let gap = i.gap.as_secs_f64();
    let heartbeat = log
        .filter(|l| l.heartbeat_count.unwrap_or(0) > 0)
        .and_then(|l| l.heartbeat_max_gap_s);
    let silence = i
        .health
        .filter(|h| h.startup_s.is_some())
        .map(|h| h.longest_silence_s);
    match (heartbeat, silence) {
        (None, None) if hung => Row::measured(
            METRIC,
            threshold,
            "-".into(),
            false,
            format!("stopped because: {}", i.stopped_because),
        ),
        (None, None) => Row::skipped(
            METRIC,
            threshold,
            "not watched: the log showed no heartbeat and no health endpoint answered; give \
             --heartbeat-regex REGEX (a line the service logs periodically) or --health-url URL",
        ),
        (Some(g), s) => Row::measured(
            METRIC,
            threshold,
            format!("{g:.1}s"),
            g <= gap && s.is_none_or(|s| s <= gap) && !hung,
            format!(
                "rule: the log's heartbeat, armed at its first line; longest silence between heartbeats{}",
                s.map_or(String::new(), |s| format!(
                    "; health endpoint's longest time without an answer {s:.1}s"
                ))
            ),
        ),
        (None, Some(s)) => Row::measured(
            METRIC,
            threshold,
            format!("{s:.1}s"),
            s <= gap && !hung,
            "rule: the health endpoint answering (no heartbeat in the log); longest time \
             without any HTTP answer after it first answered"
                .into(),
        ),
    }
}
