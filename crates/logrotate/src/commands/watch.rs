//! `--watch INTERVAL`: a pass every interval until stopped.

use std::time::Duration;

use soak_core::cli::OutputArgs;
use soak_core::exit::ExitCode;
use soak_core::report::Report;

use super::{Prepared, pass_all};
use crate::report::pass_report;

/// Passes every `every` until SIGINT/SIGTERM/SIGHUP or a closed stdout, each pass's records
/// written as it ends (to `-o FILE`, replaced each time, or stdout). Returns the verdict of
/// the last pass, with the output options that write only its step summary and annotations
/// (its records are out already); SIGINT makes it 130.
pub(crate) fn run(p: &Prepared, every: Duration) -> anyhow::Result<(Report, OutputArgs)> {
    loop {
        let done = pass_all(p)?;
        // A closed stdout (`| head -1`) ends the watch after the pass, never the pass or its
        // verdict.
        let mut out = soak_core::stdout::stdout();
        pass_report(&done)
            .body_only()
            .finish_with(&p.cli.output, &mut out)?;
        let signal = if out.closed() {
            p.term.requested()
        } else {
            p.term.sleep(every)
        };
        if signal.is_some() || out.closed() {
            let last = OutputArgs {
                output: None,
                quiet: true,
                ..p.cli.output.clone()
            };
            let report = pass_report(&done);
            let report = match signal.map(ExitCode::from_signal) {
                Some(ExitCode::Interrupted) => report.exit(ExitCode::Interrupted),
                _ => report,
            };
            return Ok((report, last));
        }
    }
}
