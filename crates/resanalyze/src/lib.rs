//! resanalyze: turns a soak's resmon JSONL into a verdict a team can trust (robust leak test,
//! CPU spikes and level shifts, disk growth and projections, network stalls, checks), in one
//! streaming pass with bounded memory.
//!
//! - [`cli`]: the command line (clap only); `commands`: its modes, `--emit-prom-rules`, the
//!   batch analysis and `--follow`, the last two ending in a [`soak_core::report::Report`];
//! - [`inputs`]: the recordings named, read into one [`accumulate::Accumulator`] ([`reader`]
//!   and [`fastscan`]: blocks of lines parsed on worker threads; [`sample`]: the fields read;
//!   [`stats`], [`timeline`]: what is accumulated);
//! - [`analysis`]: the verdict as the typed [`model::Analysis`] ([`trend`]: the leak test;
//!   [`cycles`]: GC cycles); [`baseline`]: run-to-run regressions;
//! - [`report`] (its records and tables), [`plot`], [`html`], [`promrules`]: what is written;
//! - [`follow`]: the early findings while resmon writes; [`tracegen`]: known shapes for tests.
#![deny(unsafe_code)]

pub mod accumulate;
pub mod analysis;
pub mod baseline;
pub mod cli;
mod commands;
pub mod cycles;
pub mod fastscan;
pub mod follow;
pub mod html;
pub mod inputs;
pub mod model;
pub mod plot;
pub mod promrules;
pub mod reader;
pub mod report;
pub mod sample;
pub mod stats;
pub mod timeline;
pub mod tracegen;
pub mod trend;

use soak_core::exit::ExitCode;

pub use crate::cli::Cli;
pub use crate::inputs::read_inputs;
pub use crate::model::{Analysis, Check};
pub use crate::report::records;

/// The tool's name in its records.
pub(crate) const TOOL: &str = "resanalyze";

/// Runs resanalyze: the mode the flags ask for, its report finished in the chosen format.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.emit_prom_rules {
        return commands::prom_rules::run(&cli);
    }
    let report = match &cli.follow {
        Some(path) => commands::follow::run(&cli, path)?,
        None => commands::analyze::run(&cli)?,
    };
    report.finish(&cli.output)
}
