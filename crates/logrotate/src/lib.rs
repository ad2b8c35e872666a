#![deny(unsafe_code)]
//! `logrotate` (the toolkit's, not logrotate(8)): keeps a soak's logs and artifacts under a disk
//! budget without losing a line, as one command a CI step or a soak loop calls every few
//! minutes, configured by flags.
//!
//! - [`cli`]: the flags (clap only);
//! - `commands`: the checks before anything is touched, then one pass or `--watch`;
//! - `pass`: one pass over one directory, as named steps;
//! - [`inventory`]: the files, their step groups, and which are open for writing;
//! - [`policy`]: what to delete, compress or rotate, and the budget;
//! - [`compress`]: crash-safe gzip/zstd ([`codec`]: the formats);
//! - [`rotate`]: `--rename` and `--copytruncate` without a loss window where the OS allows;
//! - [`safefs`]: files reached only through held directory handles, never through a link;
//! - `report`: the records, tables and verdict of a pass.

pub mod cli;
pub mod codec;
mod commands;
pub mod compress;
pub mod inventory;
mod pass;
pub mod policy;
mod report;
pub mod rotate;
pub mod safefs;

pub use cli::Cli;
use soak_core::exit::ExitCode;

/// The tool's name in its records.
const TOOL: &str = "logrotate";

/// Runs logrotate: the command the flags ask for, its report finished in the chosen format.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let (report, output) = commands::run(cli)?;
    report.finish(&output)
}
