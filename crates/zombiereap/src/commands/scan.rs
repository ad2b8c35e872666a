//! `zombiereap scan`.

use std::time::Duration;

#[cfg(target_os = "linux")]
use soak_core::exit::usage;
#[cfg(target_os = "linux")]
use soak_core::proc::ProcessTable;
use soak_core::report::Report;

#[cfg(not(target_os = "linux"))]
use crate::portable::scan as platform_scan;
#[cfg(target_os = "linux")]
use crate::{scan, scan_report};

#[cfg(target_os = "linux")]
use super::proc_error;
use super::{interrupted, interruptible};

/// `zombiereap scan`: a finding per zombie (in `tree` when given, at least `min_age` old),
/// then the summary; 130 when SIGINT arrived meanwhile.
pub fn scan(tree: Option<i32>, min_age: Duration) -> anyhow::Result<Report> {
    let term = interruptible()?;
    let report = platform_scan(tree, min_age)?;
    Ok(interrupted(report, &term))
}

/// The report of `scan`: a finding per zombie, then the summary.
#[cfg(target_os = "linux")]
fn platform_scan(tree: Option<i32>, min_age: Duration) -> anyhow::Result<Report> {
    let table = ProcessTable::snapshot().map_err(proc_error)?;
    if let Some(root) = tree {
        if table.get(root).is_none() {
            return Err(usage(format!("--tree {root}: no such process")));
        }
    }
    let zombies = scan::find_zombies(&table, tree, min_age);
    let summary = scan::summary(&zombies, table.len());
    Ok(scan_report::scan_report(
        &zombies,
        table.len(),
        summary,
        None,
    ))
}
