//! The Crashes row: how the service's run ended (zombiereap's summary of its exit, the
//! cgroup's OOM kills and the container's restarts resmon saw, the fatal lines in its log).

use std::time::Duration;

use soak_core::units::format_duration;

use super::super::describe::{clean_code, exit_code_text};
use super::super::procs::GRACEFUL;
use super::super::records::{LogSummary, MonitorEvent, RunSummary};
use super::super::verdict::Row;
use super::{Ending, Inputs};

/// SIGKILL's number: the signal no process can catch (only Unix reports signals).
const SIGKILL: i32 = 9;

/// A signal's name and number: `SIGTERM (signal 15)`.
fn signal_text(sig: i32) -> String {
    #[cfg(unix)]
    return format!("{} (signal {sig})", soak_core::sys::signal_name(sig));
    #[cfg(not(unix))]
    format!("signal {sig}")
}

/// How the service's end reads: `exit status 1`, `SIGKILL (signal 9)`, a Windows exit code by
/// name (`exit code 0xC000013A (STATUS_CONTROL_C_EXIT: ...)`).
fn end_text(run: Option<&RunSummary>) -> String {
    let Some(run) = run else {
        return "an unknown status (no zombiereap summary)".into();
    };
    match (run.signal, run.exit_code) {
        (Some(SIGKILL), _) => format!(
            "{}; not sent by the soak: the OOM killer or another process",
            signal_text(SIGKILL)
        ),
        (Some(sig), _) => signal_text(sig),
        (None, Some(code)) => exit_code_text(code.into()),
        (None, None) => exit_code_text(run.exit_status.into()),
    }
}

/// A stop the soak asked for: exit 0, the conventional statuses of SIGTERM/SIGINT, or
/// Windows' STATUS_CONTROL_C_EXIT.
fn clean_stop(run: &RunSummary) -> bool {
    const SIGINT: i32 = 2;
    const SIGTERM: i32 = 15;
    matches!(run.signal, Some(SIGTERM | SIGINT))
        || clean_code(run.exit_code.map_or(run.exit_status.into(), i64::from))
}

/// Crashes: an end of the service the soak did not ask for, an OOM kill or a restart.
pub fn crashes_row(
    i: &Inputs<'_>,
    run: Option<&RunSummary>,
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
        Ending::StoppedBySoak if run.is_some_and(|r| r.timed_out) => (
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
        Ending::StoppedBySoak if i.forced_stop.is_some() => (
            false,
            format!(
                "ran until the soak stopped it: {}, so the soak ended it by force (its own \
                 stop, not a crash){fatal_note}",
                i.forced_stop.unwrap_or_default()
            ),
        ),
        Ending::StoppedBySoak if run.is_none_or(clean_stop) => (
            false,
            format!(
                "ran until the soak stopped it ({GRACEFUL}; {}: a clean stop){fatal_note}",
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
