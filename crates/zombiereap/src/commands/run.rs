//! `zombiereap run -- CMD`.

use std::path::PathBuf;

use soak_core::cli::OutputArgs;
use soak_core::exit::{environment, usage};
use soak_core::report::Report;

#[cfg(not(target_os = "linux"))]
use crate::portable::supervise as platform_supervise;
use crate::run_output::RunOutput;
#[cfg(target_os = "linux")]
use crate::supervise::run as platform_supervise;
use crate::supervise::{self, RunError, RunOptions};

/// `zombiereap run`: runs `command` as a subreaper (its events streamed as `output` asks while
/// it runs), then its report, ending with the command's status, and the output options that
/// report is to be written with (what the stream already wrote is not written twice).
pub fn run(
    command: &[String],
    opts: &RunOptions,
    events: Option<PathBuf>,
    output: OutputArgs,
) -> anyhow::Result<(Report, OutputArgs)> {
    let mut out = RunOutput::open(output, events)?;
    let report = platform_supervise(command, opts, &mut |r| out.emit(r)).map_err(|e| match e {
        RunError::Spawn { .. } => usage(e),
        RunError::System { .. } => environment(e),
    })?;
    out.report(&report, supervise::summary(&report)?)
}
