//! `--emit-prom-rules`: the thresholds as Prometheus alerting rules on resmon's metric names,
//! printed; no input is read.

use soak_core::exit::ExitCode;

use crate::cli::Cli;
use crate::promrules::{RuleConfig, rules};

/// Prints the rules; exit 0.
pub(crate) fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    let text = rules(&RuleConfig {
        leak_bytes_per_hour: cli.leak_threshold.as_per_hour(),
        fds_per_hour: cli.fd_threshold.as_per_hour(),
        threads_per_hour: cli.thread_threshold.as_per_hour(),
        cpu_percent: cli.cpu_threshold,
        cpu_window_s: cli.cpu_window.as_secs_f64(),
        range_s: cli.prom_range.as_secs_f64(),
        for_s: cli.prom_for.as_secs_f64(),
        limit_percent: cli.max_limit_percent,
    });
    print!("{text}");
    Ok(ExitCode::Success)
}
