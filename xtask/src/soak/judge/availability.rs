//! The Availability row: the health endpoint's answers, counted from its first healthy one.

use soak_core::units::format_duration;

use super::super::health::HealthStats;
use super::super::verdict::Row;
use super::Inputs;

/// Availability: 2xx answers of the health endpoint from its first healthy one.
pub fn availability_row(i: &Inputs<'_>) -> Row {
    const METRIC: &str = "Availability";
    let threshold = format!(">= {}%", i.args.min_availability);
    let Some(h) = i.health else {
        return Row::skipped(METRIC, threshold, "no --health-url");
    };
    let Some(startup) = h.startup_s else {
        return Row::measured(
            METRIC,
            threshold,
            "0.00%".into(),
            false,
            format!(
                "never answered 2xx in {} polls: {}",
                h.polls_total,
                HealthStats::failures_text(&h.startup_failures)
            ),
        );
    };
    let avail = h.availability_percent().unwrap_or(0.0);
    let late = startup > i.startup_grace.as_secs_f64();
    let latency = match (h.latency_quantile_ms(0.5), h.latency_quantile_ms(0.99)) {
        (Some(p50), Some(p99)) => format!("; latency p50 {p50:.1} ms, p99 {p99:.1} ms"),
        _ => String::new(),
    };
    let failures = if h.failures.is_empty() {
        String::new()
    } else {
        format!(
            "; failed polls: {}",
            HealthStats::failures_text(&h.failures)
        )
    };
    Row::measured(
        METRIC,
        threshold,
        format!("{avail:.2}%"),
        avail >= i.args.min_availability && !late,
        format!(
            "{} of {} polls since the first healthy answer were 2xx; first healthy after {startup:.1}s{}{latency}; longest outage {:.0}s{failures}",
            h.up,
            h.polls,
            if late {
                format!(
                    " (beyond --startup-grace {})",
                    format_duration(i.startup_grace)
                )
            } else {
                String::new()
            },
            h.longest_outage_s
        ),
    )
}
