//! `zombiereap kill-tree`.

use std::time::Duration;

#[cfg(target_os = "linux")]
use soak_core::exit::usage;
#[cfg(target_os = "linux")]
use soak_core::record::Record;
#[cfg(target_os = "linux")]
use soak_core::report::RecordBody;
use soak_core::report::Report;

#[cfg(target_os = "linux")]
use crate::TOOL;
use crate::cli::Signal;
#[cfg(target_os = "linux")]
use crate::killtree::{self, Fate, KillOptions};
#[cfg(not(target_os = "linux"))]
use crate::portable::kill_tree as platform_kill_tree;

#[cfg(target_os = "linux")]
use super::proc_error;
use super::{interrupted, interruptible};

/// `zombiereap kill-tree`: an action per process, then the summary (130 when SIGINT arrived
/// meanwhile), and whether no signal at all was permitted (an environment failure once the
/// report is written).
pub fn kill_tree(
    pid: i32,
    signal: Signal,
    grace: Duration,
    dry_run: bool,
) -> anyhow::Result<(Report, bool)> {
    let term = interruptible()?;
    let (report, all_denied) = platform_kill_tree(pid, signal, grace, dry_run)?;
    Ok((interrupted(report, &term), all_denied))
}

/// The Linux `kill-tree`.
#[cfg(target_os = "linux")]
fn platform_kill_tree(
    pid: i32,
    signal: Signal,
    grace: Duration,
    dry_run: bool,
) -> anyhow::Result<(Report, bool)> {
    kill_tree_report(
        pid,
        KillOptions {
            signal,
            timeout: grace,
            dry_run,
        },
    )
}

/// The report of `kill-tree` (an action per process, then the summary), and whether no signal
/// at all was permitted (an environment failure once the report is written).
#[cfg(target_os = "linux")]
fn kill_tree_report(pid: i32, opts: KillOptions) -> anyhow::Result<(Report, bool)> {
    let me = std::process::id() as i32;
    if pid <= 1 || pid == me {
        return Err(usage(format!(
            "PID {pid}: refusing to kill init or zombiereap itself"
        )));
    }
    let outcomes = killtree::kill_tree(pid, opts).map_err(proc_error)?;
    let records: Vec<Record> = outcomes
        .iter()
        .map(|o| killtree::action(o, &opts))
        .collect();
    let count = |f: Fate| outcomes.iter().filter(|o| o.fate == f).count();
    let denied = count(Fate::PermissionDenied);
    let survived = count(Fate::Survived);
    let slowest = outcomes
        .iter()
        .filter_map(|o| o.exit_after_s)
        .fold(0.0f64, f64::max);
    let summary = Record::new(soak_core::RecordType::Summary, TOOL)
        .with("command", "kill-tree")
        .with("root_pid", pid)
        .with("dry_run", opts.dry_run)
        .with("processes", outcomes.len())
        .with("exited", count(Fate::Exited))
        .with("killed", count(Fate::Killed))
        .with("survived", survived)
        .with("permission_denied", denied)
        .with("already_gone", count(Fate::AlreadyGone))
        .with("slowest_exit_s", (slowest * 1000.0).round() / 1000.0)
        .with("ok", survived == 0 && denied == 0);
    let body = RecordBody::new(
        records,
        &["pid", "ppid", "name", "fate", "signals", "exit_after_s"],
    )
    .summary(summary);
    let mut report = Report::new(TOOL, body).heading("kill-tree");
    if survived > 0 {
        report = report.fail(format!(
            "PID {pid}: {survived} process(es) survived SIGKILL"
        ));
    }
    if denied > 0 {
        report = report.fail(format!(
            "PID {pid}: {denied} process(es) could not be signalled (permission denied)"
        ));
    }
    Ok((report, denied > 0 && denied == outcomes.len()))
}
