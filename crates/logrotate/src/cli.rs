//! The command line (clap only): the flags and their parsers; what they do is in the
//! `commands` module.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use soak_core::cli::OutputArgs;
use soak_core::units::{clap_duration, clap_interval, clap_size};

use crate::codec::Codec;

/// Command line of `logrotate`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "logrotate",
    version,
    about = "Keep a soak's logs and artifacts under a disk budget without losing a line (flags, not a config file; not logrotate(8))",
    after_help = "Examples:
  logrotate --keep-per-step 5 --keep-runs 3 --compress --max-total 5GB artifacts/
  logrotate --max-size 100MB --copytruncate --compress artifacts/soak/   # live logs too
  logrotate --dry-run --top 10 --max-total 2GB artifacts/                  # the plan, nothing changed
  logrotate --watch 5m --max-total 5GB --compress artifacts/               # every 5 minutes until stopped
  logrotate --max-total 5GB -q --summary-md summary.md artifacts/          # the verdict in a step summary

Output: -f/--format jsonl|json|table|markdown|csv (default: jsonl when piped or into -o FILE,
a table on a terminal); with --watch, -o FILE holds the latest pass and the step summary and
annotations are written once, for the last pass.

Exit status: 0 within budget; 1 still over --max-total after cleanup; 2 bad usage or an
unreadable DIR; 130 SIGINT (128+N for a single pass stopped by signal N; --watch stopped by
SIGTERM: the last verdict)."
)]
pub struct Cli {
    /// Directories to manage (nothing outside them is read, changed or deleted).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// In each step group (name without numbers, dates, rotation suffixes) keep the N newest.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_per_step: Option<u64>,
    /// A regex whose named group `step` names a file's step (overrides the default grouping).
    #[arg(long, value_name = "REGEX")]
    pub step_pattern: Option<String>,
    /// Keep the K newest run directories directly under each DIR.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_runs: Option<u64>,
    /// Compress every file that is not the newest of its step (gzip, or `--compress=zstd`).
    #[arg(long, value_enum, num_args = 0..=1, require_equals = true, default_missing_value = "gzip")]
    pub compress: Option<Codec>,
    /// Compress only files untouched this long (the newest of a step too).
    #[arg(long, value_parser = clap_duration, value_name = "DURATION")]
    pub compress_after: Option<Duration>,
    /// Rotate a live file that has grown past SIZE (with --copytruncate or --rename).
    #[arg(long, value_parser = clap_size, value_name = "SIZE")]
    pub max_size: Option<u64>,
    /// Rotate by copying and cutting out what was copied (the writer keeps its file).
    #[arg(long, conflicts_with = "rename")]
    pub copytruncate: bool,
    /// Rotate by renaming (the writer must reopen its log).
    #[arg(long)]
    pub rename: bool,
    /// After the above, delete the oldest files until each DIR totals at most SIZE.
    #[arg(long, value_parser = clap_size, value_name = "SIZE")]
    pub max_total: Option<u64>,
    /// When the filesystem has less free space than SIZE, clean up aggressively (keep one per
    /// step and one run, compress everything old).
    #[arg(long, value_parser = clap_size, value_name = "SIZE")]
    pub min_free: Option<u64>,
    /// Report the N largest files.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// Print the plan as `action` records; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep running, applying the policy every INTERVAL until SIGINT/SIGTERM.
    #[arg(long, value_parser = clap_interval, value_name = "INTERVAL")]
    pub watch: Option<Duration>,
    /// Leave files whose name matches this glob alone (repeatable), e.g. `summary.*`.
    #[arg(long, value_name = "GLOB", value_parser = parse_glob)]
    pub exclude: Vec<glob::Pattern>,
    /// Allow DIR to be `/` or a home directory.
    #[arg(long)]
    pub force: bool,
    /// Output options.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// An `--exclude` glob; a malformed one is a usage error, never a pattern that silently
/// matches nothing (which would hand the files it meant to protect to the policy).
fn parse_glob(s: &str) -> Result<glob::Pattern, String> {
    glob::Pattern::new(s).map_err(|e| format!("'{s}': {e}"))
}
