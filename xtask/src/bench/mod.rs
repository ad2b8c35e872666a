//! `cargo xtask bench TOOL [ARGS...]`: side-by-side benchmarks of a tool against the reference
//! tool its issue names, run in one process so both see the same machine load. Each reports
//! medians and ratios, never a pass/fail on wall time.

use anyhow::{Result, bail};

// The benchmarks measure with wait4 and drive Unix reference tools: Unix only.
#[cfg(unix)]
mod logrotate;
#[cfg(unix)]
mod logscan;
pub mod measure;
#[cfg(unix)]
mod orphan_cancel;
#[cfg(unix)]
mod resanalyze;
#[cfg(unix)]
mod resmon;
#[cfg(unix)]
mod seccheck;
#[cfg(unix)]
mod zombiereap;

/// Runs the benchmark of `tool` with its own arguments.
#[cfg(not(unix))]
pub fn run(tool: &str, args: &[String]) -> Result<()> {
    let _ = args;
    bail!("bench {tool}: the benchmarks run on Unix only (they measure with wait4)")
}

/// Runs the benchmark of `tool` with its own arguments.
#[cfg(unix)]
pub fn run(tool: &str, args: &[String]) -> Result<()> {
    // One line per tool: `"name" => name::run(args),` with its module declared above.
    match tool {
        "logrotate" => logrotate::run(args),
        "logscan" => logscan::run(args),
        "orphan-cancel" => orphan_cancel::run(args),
        "resanalyze" => resanalyze::run(args),
        "resmon" => resmon::run(args),
        "seccheck" => seccheck::run(args),
        "zombiereap" => zombiereap::run(args),
        other => bail!("no benchmark named '{other}'"),
    }
}
