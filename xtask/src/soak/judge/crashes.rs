//! The Crashes row: how the service's run ended (zombiereap's summary of its exit, the
//! cgroup's OOM kills and the container's restarts resmon saw, the fatal lines in its log).

use std::time::Duration;

use soak_core::sys::signal_name;
use soak_core::units::format_duration;

use super::super::records::{LogSummary, MonitorEvent, RunSummary};
use super::super::verdict::Row;
use super::{Ending, Inputs};

/// How the service's end reads: `exit status 1`, `SIGKILL (signal 9)`.
fn end_text(run: &RunSummary) -> String {
    match (run.signal, run.exit_code, run.exit_status) {
        (Some(sig), _, _) if sig == libc::SIGKILL => format!(
            "{} (signal {sig}; not sent by the soak: the OOM killer or another process)",
            signal_name(sig)
        ),
        (Some(sig), _, _) => format!("{} (signal {sig})", signal_name(sig)),
        (None, Some(code), _) => format!("exit status {code}"),
        (None, None, Some(status)) => format!("exit status {status}"),
        (None, None, None) => "an unknown status (no zombiereap summary)".into(),
    }
}

/// A stop the soak asked for: exit 0, or the conventional statuses of SIGTERM/SIGINT.
fn clean_stop(run: &RunSummary) -> bool {
    matches!(run.signal, Some(libc::SIGTERM | libc::SIGINT))
        || matches!(run.exit_code.or(run.exit_status), Some(0 | 130 | 143))
}

/// Crashes: an end of the service the soak did not ask for, an OOM kill or a restart.
pub fn crashes_row(
    i: &Inputs<'_>,
    run: &RunSummary,
    log: Option<&LogSummary>,
    kills: &[MonitorEvent],
) -> Row {
    if !kills.is_empty() {
        let what: Vec<String> = kills
            .iter()
            .map(|e| match e.event.as_str() {
                "oom_kill" => format!(
                    "{} OOM kill(s) at {}",
                    e.new_oom_kills.unwrap_or(1),
                    e.timestamp_utc
                ),
                _ => format!("a restart at {}", e.timestamp_utc),
            })
            .collect();
        return Row::measured(
            "Crashes",
            "0".into(),
            kills.len().to_string(),
            false,
            format!("{} (resources.jsonl)", what.join("; ")),
        );
    }
    let fatal = log.and_then(|l| l.crash_count).unwrap_or(0);
    let fatal_note = if fatal > 0 {
        format!("; {fatal} fatal lines in the log (logscan.jsonl)")
    } else {
        String::new()
    };
    let (crashed, why) = match i.ending {
        Ending::OnItsOwn => (
            true,
            format!(
                "the service ended on its own after {} with {}{fatal_note}",
                format_duration(Duration::from_secs(i.ran_for.as_secs())),
                match &i.attached {
                    Some(what) =>
                        format!("its status unknown ({what} was not started by the soak)"),
                    None => end_text(run),
                }
            ),
        ),
        Ending::StoppedBySoak if run.timed_out => (
            false,
            format!(
                "stopped by the soak; it did not stop within --grace {} and was killed",
                format_duration(i.args.shutdown_timeout)
            ),
        ),
        Ending::StoppedBySoak if i.attached.is_some() => (
            false,
            format!(
                "{} ran through the soak{}{fatal_note}",
                i.attached.as_deref().unwrap_or("the service"),
                if i.args.stop {
                    " and was stopped (--stop)"
                } else {
                    " and was left running"
                }
            ),
        ),
        Ending::StoppedBySoak if clean_stop(run) || run.exit_status.is_none() => (
            false,
            format!(
                "ran until the soak stopped it (SIGTERM; {}: a clean stop){fatal_note}",
                end_text(run)
            ),
        ),
        Ending::StoppedBySoak => (
            false,
            format!(
                "ran until the soak stopped it; it then ended with {}{fatal_note}",
                end_text(run)
            ),
        ),
    };
    Row::measured(
        "Crashes",
        "0".into(),
        u64::from(crashed).to_string(),
        !crashed,
        why,
    )
}
