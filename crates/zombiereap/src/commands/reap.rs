//! `zombiereap reap`.

use std::time::Duration;

#[cfg(target_os = "linux")]
use soak_core::exit::usage;
#[cfg(target_os = "linux")]
use soak_core::report::RecordBody;
use soak_core::report::Report;

#[cfg(target_os = "linux")]
use crate::TOOL;
#[cfg(not(target_os = "linux"))]
use crate::portable::reap as platform_reap;
#[cfg(target_os = "linux")]
use crate::reap::{self, ReapOptions};

#[cfg(target_os = "linux")]
use super::proc_error;
use super::{interrupted, interruptible};

/// `zombiereap reap`: an action per parent signalled or zombie reaped, then the summary;
/// 130 when SIGINT arrived meanwhile.
pub fn reap(
    tree: Option<i32>,
    kill_parents: bool,
    grace: Duration,
    dry_run: bool,
) -> anyhow::Result<Report> {
    let term = interruptible()?;
    let report = platform_reap(tree, kill_parents, grace, dry_run)?;
    Ok(interrupted(report, &term))
}

/// The Linux `reap`.
#[cfg(target_os = "linux")]
fn platform_reap(
    tree: Option<i32>,
    kill_parents: bool,
    grace: Duration,
    dry_run: bool,
) -> anyhow::Result<Report> {
    reap_report(ReapOptions {
        tree,
        kill_parents,
        grace,
        dry_run,
    })
}

/// The report of `reap`: an action per parent signalled or zombie reaped, then the summary.
#[cfg(target_os = "linux")]
fn reap_report(opts: ReapOptions) -> anyhow::Result<Report> {
    if let Some(root) = opts.tree {
        soak_core::proc::read_stat(root)
            .map_err(|_| usage(format!("--tree {root}: no such process")))?;
    }
    let mut records = Vec::new();
    let outcome = reap::reap(&opts, &mut |r| records.push(r)).map_err(proc_error)?;
    let body = RecordBody::new(
        records,
        &["action", "pid", "name", "zombies_held", "fate", "dry_run"],
    )
    .summary(reap::summary(&outcome, opts.dry_run));
    let mut report = Report::new(TOOL, body).heading("reap");
    // The verdict is the summary's `ok`, dry run or not: zombies still there fail.
    if outcome.zombies_after > 0 {
        report = report.fail(format!(
            "{} zombie(s) still not reaped",
            outcome.zombies_after
        ));
    }
    Ok(report)
}
