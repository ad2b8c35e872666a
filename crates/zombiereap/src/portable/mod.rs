//! zombiereap off Linux (Windows, macOS): the same subcommands and records, through one
//! sysinfo listing of every process (`soak_core::portable_proc`) instead of /proc.
//!
//! - `scan`: Windows has no zombies (an exited process is gone once the last handle to it
//!   closes; only its exit status stays with those handles), so `scan` says so and passes;
//!   macOS zombies are reported as on Linux.
//! - `kill-tree`: [`killtree`], children terminated first, the grace period honoured through
//!   Ctrl+Break on Windows.
//! - `run`: a kill-on-close Job Object on Windows (`crate::windows::job`), the command's
//!   process group on macOS ([`group_run`]).
//! - `reap`: nothing to reap on Windows (passes); Linux only on macOS.

#[cfg(unix)]
pub mod group_run;
pub mod killtree;
pub mod leftovers;
pub mod pin;

use std::time::Duration;

use soak_core::exit::{environment, usage};
use soak_core::record::{Record, RecordType, Timestamp};
use soak_core::report::{RecordBody, Report};

use crate::TOOL;
use crate::scan::{Zombie, summary as scan_summary};
use crate::scan_report::scan_report;
use crate::supervise::{self, RunError, RunOptions};
use soak_core::portable_proc::Snapshot;

/// Why Windows reports no zombies, in its summaries.
#[cfg(windows)]
const NO_ZOMBIES: Option<&str> = Some(
    "Windows has no zombie processes: an exited process is gone once the last handle to it \
     closes",
);
#[cfg(not(windows))]
const NO_ZOMBIES: Option<&str> = None;

/// `run`: the command in a kill-on-close Job Object (Windows) or its own process group (macOS).
pub fn supervise(
    command: &[String],
    opts: &RunOptions,
    emit: &mut dyn FnMut(Record),
) -> Result<supervise::RunReport, RunError> {
    #[cfg(windows)]
    return crate::windows::job::run(command, opts, emit);
    #[cfg(unix)]
    group_run::run(command, opts, emit)
}

fn snapshot_with(tree: Option<i32>) -> anyhow::Result<Snapshot> {
    let snap = Snapshot::take().map_err(environment)?;
    if let Some(root) = tree {
        if snap.get(root).is_none() {
            return Err(usage(format!("--tree {root}: no such process")));
        }
    }
    Ok(snap)
}

/// The zombies of `snap` (in `tree` when given) at least `min_age` old.
fn zombies(snap: &Snapshot, tree: Option<i32>, min_age: Duration) -> Vec<Zombie> {
    let scope: Option<Vec<i32>> = tree.map(|r| snap.tree(&[r]).iter().map(|p| p.pid).collect());
    let now = Timestamp::now().unix();
    snap.iter()
        .filter(|p| p.zombie)
        .filter(|p| scope.as_ref().is_none_or(|s| s.contains(&p.pid)))
        .map(|p| {
            let parent = p.ppid.and_then(|pp| snap.get(pp));
            Zombie {
                pid: p.pid,
                name: p.name.clone(),
                ppid: p.ppid.unwrap_or(0),
                parent_name: parent.map(|pp| pp.name.clone()),
                parent_state: parent.map(|pp| if pp.zombie { 'Z' } else { 'S' }),
                parent_cmdline: None,
                age_s: Some(((now - p.start as f64).max(0.0) * 10.0).round() / 10.0),
            }
        })
        .filter(|z| z.age_s.is_none_or(|a| a >= min_age.as_secs_f64()))
        .collect()
}

/// The report of `scan`: a finding per zombie (none on Windows), then the summary.
pub fn scan(tree: Option<i32>, min_age: Duration) -> anyhow::Result<Report> {
    let snap = snapshot_with(tree)?;
    let found = zombies(&snap, tree, min_age);
    let summary = scan_summary(&found, snap.len()).with("note", NO_ZOMBIES);
    Ok(scan_report(&found, snap.len(), summary, NO_ZOMBIES))
}

/// The report of `reap`: nothing to reap on Windows; Linux only elsewhere.
pub fn reap(
    tree: Option<i32>,
    _kill_parents: bool,
    _grace: Duration,
    dry_run: bool,
) -> anyhow::Result<Report> {
    if !cfg!(windows) {
        return Err(environment(
            "reap works on Linux only (it needs /proc); `zombiereap scan` reports zombies here",
        ));
    }
    let snap = snapshot_with(tree)?;
    let summary = Record::new(RecordType::Summary, "zombiereap")
        .with("command", "reap")
        .with("dry_run", dry_run)
        .with("zombies_before", 0)
        .with("zombies_after", 0)
        .with("processes_scanned", snap.len())
        .with("note", NO_ZOMBIES)
        .with("ok", true);
    Ok(Report::new(TOOL, RecordBody::new(Vec::new(), &[]).summary(summary)).heading("reap"))
}

/// PIDs never killed: the system's own (0 and 4 on Windows, 0 and 1 elsewhere) and
/// zombiereap itself.
fn refused(pid: i32) -> bool {
    let system = if cfg!(windows) { pid == 4 } else { pid == 1 };
    pid <= 0 || system || pid == std::process::id() as i32
}

/// The report of `kill-tree` (an action per process, then the summary), and whether no signal
/// at all was permitted (an environment failure once the report is written).
pub fn kill_tree(
    pid: i32,
    signal: crate::Signal,
    grace: Duration,
    dry_run: bool,
) -> anyhow::Result<(Report, bool)> {
    if refused(pid) {
        return Err(usage(format!(
            "PID {pid}: refusing to kill the system's process or zombiereap itself"
        )));
    }
    let outcome = killtree::kill_tree(pid, signal, grace, dry_run)
        .map_err(environment)?
        .ok_or_else(|| usage(format!("PID {pid}: no such process")))?;
    let records: Vec<Record> = outcome
        .members
        .iter()
        .map(|m| killtree::action(m, &outcome.asked, dry_run))
        .collect();
    let summary = killtree::summary(pid, &outcome, dry_run);
    let body = RecordBody::new(
        records,
        &["pid", "ppid", "name", "fate", "signals", "exit_after_s"],
    )
    .summary(summary);
    let denied = outcome.count(crate::killtree::Fate::PermissionDenied);
    let mut report = Report::new(TOOL, body).heading("kill-tree");
    if !outcome.ok() {
        report = report.fail(format!(
            "PID {pid}: the tree did not end ({denied} process(es) could not be signalled)"
        ));
    }
    Ok((report, denied > 0 && denied == outcome.members.len()))
}
