//! A single pass over every DIR (the default).

use soak_core::exit::ExitCode;
use soak_core::report::Report;

use super::{Prepared, pass_all};
use crate::report::pass_report;

/// A single pass: its verdict, or the status of a process ended by the signal that cut it
/// short (130 for SIGINT).
pub(crate) fn run(p: &Prepared) -> anyhow::Result<Report> {
    let done = pass_all(p)?;
    let report = pass_report(&done);
    Ok(match p.term.requested() {
        Some(sig) => report.exit(ExitCode::from_cut_short(sig)),
        None => report,
    })
}
