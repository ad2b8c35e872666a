//! The report of `scan`, the same on every OS: a finding per zombie, the summary, the line
//! under the table, and a failed check when any zombie was found.

use soak_core::record::Record;
use soak_core::report::{RecordBody, Report};

use crate::TOOL;
use crate::scan::{Zombie, finding};

/// The columns of the zombies' table; `parent_cmdline` only where the OS gives it (Linux).
const COLUMNS: [&str; 7] = [
    "pid",
    "name",
    "ppid",
    "parent_name",
    "parent_state",
    "age_s",
    "parent_cmdline",
];

/// The report of `found` among `processes`, ending with `summary` (`scan::summary`, plus
/// what the OS adds); `note` says why there can be none (Windows) in the line.
pub fn scan_report(
    found: &[Zombie],
    processes: usize,
    summary: Record,
    note: Option<&str>,
) -> Report {
    let line = format!(
        "zombiereap: {} zombie(s) among {processes} processes{}",
        found.len(),
        note.map(|n| format!(" ({n})")).unwrap_or_default()
    );
    let columns = if cfg!(target_os = "linux") {
        &COLUMNS[..]
    } else {
        &COLUMNS[..6]
    };
    let body = RecordBody::new(found.iter().map(finding).collect(), columns)
        .summary(summary)
        .note(line.clone());
    let report = Report::new(TOOL, body).heading("scan");
    if found.is_empty() {
        report
    } else {
        report.fail(line)
    }
}
