//! `zombiereap`: finds zombie processes, kills process trees gracefully without ever hitting a
//! recycled PID, and runs a command as a subreaper so that a CI step leaves nothing behind.
//!
//! - [`cli`]: the command line (clap only); [`commands`]: one module per subcommand, each
//!   returning its report, on Linux through the modules below, elsewhere through `portable`;
//! - [`scan`]: zombies and their parents; [`scan_report`]: its report on every OS;
//! - [`killtree`]: freeze, collect, ask, wait, force;
//! - [`supervise`]: `run -- CMD`, tini's job plus leftover cleanup and JSONL events;
//! - [`run_output`]: where `run` writes its events and summary (`-f`, `-o`, `--summary-md`, `-q`);
//! - [`target`]: PID + start time (+ pidfd) process handles;
//! - `portable` (Windows, macOS): the same commands through sysinfo, Job Objects (Windows)
//!   and process groups (macOS).

pub mod cli;
pub mod commands;
pub mod killtree;
#[cfg(not(target_os = "linux"))]
pub mod portable;
#[cfg(target_os = "linux")]
pub mod reap;
pub mod run_output;
pub mod scan;
pub mod scan_report;
pub mod supervise;
#[cfg(target_os = "linux")]
pub mod target;
#[cfg(windows)]
pub mod windows;

use soak_core::exit::{ExitCode, environment};

pub use cli::{Cli, Cmd};
#[cfg(unix)]
pub use cli::{Signal, parse_signal};
#[cfg(windows)]
pub use windows::console::{Signal, parse_signal};

const TOOL: &str = "zombiereap";

/// Runs zombiereap: one dispatcher, each subcommand's work done by its module in
/// [`commands`], its report written as the output options ask.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Scan {
            tree,
            min_age,
            output,
        } => commands::scan::scan(tree, min_age)?.finish(&output),
        Cmd::KillTree {
            pid,
            signal,
            grace,
            dry_run,
            output,
        } => {
            let (report, all_denied) = commands::kill_tree::kill_tree(pid, signal, grace, dry_run)?;
            let code = report.finish(&output)?;
            if all_denied {
                return Err(environment(format!(
                    "PID {pid}: permission denied for every process in the tree"
                )));
            }
            Ok(code)
        }
        Cmd::Reap {
            tree,
            kill_parents,
            grace,
            dry_run,
            output,
        } => commands::reap::reap(tree, kill_parents, grace, dry_run)?.finish(&output),
        Cmd::Run {
            timeout,
            grace,
            group,
            events,
            output,
            command,
        } => {
            let opts = supervise::RunOptions {
                timeout,
                grace,
                group,
            };
            let (report, output) = commands::run::run(&command, &opts, events, output)?;
            report.finish(&output)
        }
    }
}
