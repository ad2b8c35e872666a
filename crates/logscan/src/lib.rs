//! `logscan`: reads a service's logs for reconnect storms, handler timeouts, crashes, hangs,
//! latency and the shutdown sequence, in one pass with a pattern pack, and writes JSONL
//! `event` records and a checked `summary`.
//!
//! - [`cli`]: the command line (clap only); `commands`: its modes, the list modes, a scan of
//!   files to their end and `--follow`, each ending in a [`soak_core::report::Report`];
//! - [`scan`]: the one pass over log lines ([`blocks`]: reading them in blocks; [`timestamp`]:
//!   their times; [`pattern`], [`prefilter`], [`set_search`]: matching the pack; [`roles`]:
//!   what the kinds mean; [`errors`], [`histogram`], [`number`]: what is accumulated);
//! - [`report`]: the checks and the `summary` ([`heartbeat`]: the one hang rule;
//!   [`baseline`]: comparing with an earlier run); [`html`]: the `--html` page.
#![deny(unsafe_code)]

pub mod baseline;
pub mod blocks;
pub mod cli;
mod commands;
pub mod errors;
pub mod heartbeat;
pub mod histogram;
pub mod html;
pub mod number;
pub mod pattern;
pub mod prefilter;
pub mod report;
pub mod roles;
pub mod scan;
pub mod set_search;
pub mod timestamp;

pub use cli::Cli;
pub use commands::event_record;
use soak_core::ExitCode;

/// The tool's name in its records.
pub(crate) const TOOL: &str = "logscan";

/// Runs logscan: the mode the flags ask for, its report finished in the chosen format.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.list_packs {
        return commands::list::packs();
    }
    let pack = commands::load_pack(&cli)?;
    if cli.list_patterns {
        return commands::list::patterns(&pack);
    }
    let session = commands::Session::start(&cli, &pack)?;
    let report = match &cli.follow {
        Some(path) => commands::follow::run(session, path)?,
        None => commands::scan::run(session, &cli.files)?,
    };
    report.finish(&cli.output)
}
