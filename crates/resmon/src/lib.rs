//! `resmon`: records a service's resources to JSONL through a long soak run: the system
//! (the seed monitor's fields), the target process and its whole tree, and resmon's own
//! overhead, one `sample` per tick of a fixed-rate clock, plus `event` records (start,
//! target_exit, target_restart, stop). Optionally exposes the latest sample to Prometheus.
//!
//! - [`cli`]: the command line (clap only); [`setup`]: from it to what a run needs;
//! - [`run`](mod@run): a run from start to end, its sampling loop; [`monitor`]: the readers and
//!   writers one sample or event goes through;
//! - [`system`]: system-wide metrics from /proc and statvfs;
//! - [`tree`]: the target's process tree, read from its own /proc files;
//! - [`target`]: PIDs, pid files, names and launched commands, re-attachment on restart;
//! - [`schedule`]: the fixed-rate clock and missed ticks;
//! - [`sample`]: assembling a record with the seed's field names;
//! - [`waiter`]: sleeping until the next tick, woken by signals and target exits ([`wake`]: why);
//! - [`prom`]: OpenMetrics endpoint and node_exporter textfile;
//! - [`watch`]: sizes of watched files and directories;
//! - [`cgroup`], [`cgtarget`], [`resolve`]: a cgroup's own accounting (`--cgroup`,
//!   `--container`, `--unit`), its OOM kills and restarts;
//! - [`stream`]: the output stream, JSONL or CSV (`--format`);
//! - [`summary`]: the Markdown summary of a run (`--summary-md`);
//! - `portable` (Windows, macOS): the system, tree, target and self readers through sysinfo;
//!   `windows`: a launched command's Ctrl+Break, the wait on process handles, CPU times and
//!   volume sizes.

pub mod cgroup;
pub mod cgtarget;
pub mod cli;
pub mod monitor;
#[cfg(not(target_os = "linux"))]
pub mod portable;
pub mod procfile;
pub mod prom;
pub mod resolve;
pub mod run;
pub mod sample;
pub mod schedule;
pub mod setup;
pub mod stream;
pub mod summary;
pub mod system;
pub mod target;
pub mod tree;
#[cfg(unix)]
pub mod waiter;
pub mod wake;
pub mod watch;
#[cfg(windows)]
pub mod windows;
#[cfg(windows)]
pub use windows::waiter;

pub use cli::Cli;
pub use run::run;
