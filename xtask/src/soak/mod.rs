//! `cargo xtask soak [OPTIONS] -- CMD ARGS...` (or `--demo`): the seeds' soak workflow in one
//! command, orchestrating the toolkit's binaries as processes (argv vectors, never shell
//! strings) over JSONL files kept in the run directory. [`run`] is the list of the stages:
//!
//! 1. [`args`]: every value checked before anything starts; [`plan`]: the binaries and the run
//!    directory;
//! 2. [`preflight`]: `seccheck deps` on the project's lockfiles; [`demo`]: the exchange
//!    simulator and the demo bot's command;
//! 3. [`start`]: the service under `zombiereap run` (log to `service.log`) or attached to,
//!    Kraken's dead-man switch armed ([`exchange`]), `resmon` on it, `logscan --follow` as the
//!    hang watchdog, `resanalyze --follow` for early leak warnings, `logrotate --watch` for the
//!    budget, `--health-url` polled ([`health`]);
//! 4. [`watch`]: until `--duration`, a hang, the service's own exit, or Ctrl-C, with a progress
//!    line; [`stop`]: every path stops everything in order;
//! 5. [`analyse`]: `orphan-cancel reconcile` (and `cancel --execute` with `--cancel-orphans`),
//!    `zombiereap scan`, `resanalyze` (analysis JSON and plot), `logscan`, `seccheck secrets`,
//!    the final compress/budget pass;
//! 6. [`judge`]: the seed's Success Metrics rows from the tools' typed records ([`records`],
//!    read by [`artifacts`]); [`verdict`]: `summary.{json,md,txt}` (and the job summary),
//!    [`report`]: `report.html`, [`notify`]: `--notify URL` posted; exit 0 only when every row
//!    passes.
//!
//! Every process is built by its tool's argv builder in [`argv`].

mod analyse;
mod args;
mod argv;
mod artifacts;
mod demo;
mod describe;
mod exchange;
mod files;
mod health;
mod judge;
mod notify;
mod plan;
mod preflight;
mod procs;
mod records;
pub mod report;
mod run;
mod service;
mod start;
mod stop;
pub mod verdict;
mod watch;

use std::time::{SystemTime, UNIX_EPOCH};

pub use args::SoakArgs;
pub use run::run;

/// Now, in Unix seconds.
fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
