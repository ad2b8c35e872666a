//! `--follow FILE`: findings as they become significant while resmon writes the recording,
//! then the report of the last analysis when it stops (idle, SIGINT/SIGTERM, resmon's `stop`).

use std::path::Path;

use soak_core::exit::{ExitCode, usage};
use soak_core::report::Report;

use super::ending;
use crate::cli::Cli;
use crate::follow::{FollowConfig, follow};
use crate::report::AnalysisBody;

/// Follows `path`; returns the verdict's report (a finding reported early fails it even when
/// the last analysis passed; SIGINT makes it 130).
pub(crate) fn run(cli: &Cli, path: &Path) -> anyhow::Result<Report> {
    let fc = FollowConfig {
        every: cli.follow_every,
        idle: cli.follow_idle,
        poll: cli.poll,
        max_line: cli.max_line_bytes(),
        exhaustion_horizon_h: cli.exhaustion_horizon.as_secs_f64() / 3600.0,
        estimates: cli.follow_estimates,
    };
    // A reader that goes away ends the follow (the error ends the run quietly, exit 0).
    let mut out = std::io::stdout().lock();
    let end = follow(
        path,
        cli.stream_config(),
        &cli.analysis_config(),
        &fc,
        &mut out,
    )?;
    drop(out);
    let Some(doc) = end.doc else {
        return Err(usage(format!("no samples in {}", path.display())));
    };
    let mut report = ending(doc, AnalysisBody::after_follow, end.signal);
    // A finding reported early fails the run even if the last analysis passed.
    if end.found && report.exit_code() == ExitCode::Success {
        report = report.exit(ExitCode::CheckFailed);
    }
    Ok(report)
}
