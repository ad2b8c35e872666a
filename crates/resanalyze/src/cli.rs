//! The command line of resanalyze (clap only: no logic here).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use soak_core::cli::OutputArgs;
use soak_core::units::{
    Rate, clap_count_rate, clap_duration, clap_interval, clap_percent, clap_rate, clap_size,
};

/// The examples and exit codes under `--help`.
const EXAMPLES: &str = "Examples:
  resanalyze run.jsonl --format json      # the analysis document
  resanalyze run.jsonl > verdict.jsonl    # piped: a finding per failed check, then the summary
  resanalyze 'soak/*.jsonl.gz' --leak-threshold 5MB/h --warmup 30m --format markdown
  resmon --pid 1234 | resanalyze - --format table
  resanalyze run.jsonl --write-analysis resources.analysis.json --summary-md summary.md

Exit status: 0 all checks passed, 1 a check failed, 2 bad input (missing file, no samples).";

/// Command line of resanalyze.
#[derive(Debug, Parser)]
#[command(name = "resanalyze", version, about, after_help = EXAMPLES)]
pub struct Cli {
    /// resmon JSONL files, globs, `-` for stdin; `.gz` read transparently; in time order.
    #[arg(value_name = "FILE")]
    pub inputs: Vec<std::ffi::OsString>,
    /// Also write the JSON analysis here (the seed's `resources.analysis.json`).
    #[arg(long, value_name = "PATH")]
    pub write_analysis: Option<PathBuf>,
    /// Memory growth above which a significant rise is a leak.
    #[arg(long, default_value = "10MB/h", value_parser = clap_rate)]
    pub leak_threshold: Rate,
    /// Memory growth below which a rise is noise, however steep (allocator and page steps in a
    /// short run).
    #[arg(long, default_value = "1MB", value_parser = clap_size)]
    pub min_growth: u64,
    /// With --emit-prom-rules: the range the growth rules fit their slope over.
    #[arg(long, default_value = "2h", value_parser = positive_duration)]
    pub prom_range: Duration,
    /// With --emit-prom-rules: how long a growth rule must hold before it fires.
    #[arg(long, default_value = "1h", value_parser = clap_duration)]
    pub prom_for: Duration,
    /// Fd growth above which a significant rise is an fd leak.
    #[arg(long, default_value = "10/h", value_parser = clap_count_rate)]
    pub fd_threshold: Rate,
    /// Thread growth above which a significant rise is a thread leak.
    #[arg(long, default_value = "5/h", value_parser = clap_count_rate)]
    pub thread_threshold: Rate,
    /// Ignore this much at the start of the run (in addition to automatic plateau detection).
    #[arg(long, default_value = "0s", value_parser = clap_duration)]
    pub warmup: Duration,
    /// Fewest samples for a trend verdict (else `insufficient_data`).
    #[arg(long, default_value_t = 30)]
    pub min_samples: u64,
    /// Shortest span for a trend verdict (else `insufficient_data`).
    #[arg(long, default_value = "30m", value_parser = clap_duration)]
    pub min_span: Duration,
    /// Check: the run lasted at least this long.
    #[arg(long, default_value = "0s", value_parser = clap_duration)]
    pub min_duration: Duration,
    /// CPU percent that counts as a spike.
    #[arg(long, default_value = "80%", value_parser = clap_percent)]
    pub cpu_threshold: f64,
    /// A spike must last longer than this.
    #[arg(long, default_value = "5m", value_parser = clap_duration)]
    pub cpu_window: Duration,
    /// Check: average CPU below this.
    #[arg(long, default_value = "80%", value_parser = clap_percent)]
    pub max_cpu_avg: f64,
    /// Check: disk use grew less than this.
    #[arg(long, default_value = "5GB", value_parser = clap_size)]
    pub max_disk_growth: u64,
    /// No bytes received for longer than this is a network stall.
    #[arg(long, default_value = "5m", value_parser = clap_duration)]
    pub net_stall: Duration,
    /// Draw a figure (memory with trend and judged window, CPU, disk, network) to FILE.svg|.png.
    #[arg(long, value_name = "FILE")]
    pub plot: Option<PathBuf>,
    /// Also write the recording as one self-contained HTML page to FILE (charts on one time
    /// axis, the checks); created exclusively: an existing FILE is refused (exit 2).
    #[arg(long, value_name = "FILE", conflicts_with = "follow")]
    pub html: Option<PathBuf>,
    /// Tail FILE while resmon writes it; print a `finding` as soon as a leak or exhaustion is
    /// significant, then the summary when it stops (idle, SIGINT/TERM, or resmon's `stop`).
    #[arg(long, value_name = "FILE", conflicts_with = "inputs")]
    pub follow: Option<PathBuf>,
    /// In --follow: stop after this long without new data (default: never).
    #[arg(long, value_parser = positive_duration)]
    pub follow_idle: Option<Duration>,
    /// In --follow: re-evaluate after this many new samples (at least 1).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub follow_every: u64,
    /// In --follow: how often to look for new data once the end of the file is reached.
    #[arg(long, default_value = "200ms", value_parser = clap_interval)]
    pub poll: Duration,
    /// Longest line read; a longer line is skipped and counted (`line_too_long`) without
    /// being held in memory.
    #[arg(long, default_value = "1MiB", value_parser = positive_size)]
    pub max_line: u64,
    /// In --follow: also print an `estimate` event (memory verdict so far, slope, interval)
    /// at every evaluation, for progress displays.
    #[arg(long, requires = "follow")]
    pub follow_estimates: bool,
    /// In --follow: projected memory/disk exhaustion closer than this is a finding.
    #[arg(long, default_value = "24h", value_parser = clap_duration)]
    pub exhaustion_horizon: Duration,
    /// Compare with an earlier run (files/globs) and flag regressions.
    #[arg(long, value_name = "OLD.jsonl")]
    pub baseline: Vec<std::ffi::OsString>,
    /// Allowed increase over the baseline before a metric is a regression.
    #[arg(long, default_value = "10%", value_parser = clap_percent)]
    pub regression: f64,
    /// Print Prometheus alerting rules equivalent to the thresholds (resmon's metric names)
    /// and exit; no input is read.
    #[arg(long)]
    pub emit_prom_rules: bool,
    /// Check: the cgroup's memory stays below this percent of its limit (with resmon's
    /// --cgroup/--container/--unit); in --follow, crossing it is an early finding.
    #[arg(long, default_value = "80%", value_parser = clap_percent)]
    pub max_limit_percent: f64,
    /// Smallest CPU level shift reported, in percentage points.
    #[arg(long, default_value = "15%", value_parser = clap_percent)]
    pub level_shift: f64,
    /// Where and how the result is written: JSONL (a `finding` per failed check, then the
    /// `summary` with the analysis) when piped, the headline and checks on a terminal, the
    /// analysis document with `--format json`, the checks with `--format csv`.
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A duration that must be more than zero (a zero poll or idle time would spin or stop at once).
fn positive_duration(s: &str) -> Result<Duration, String> {
    let d = clap_duration(s)?;
    if d.is_zero() {
        return Err(format!(
            "{s:?} is zero; give a positive duration such as 200ms"
        ));
    }
    Ok(d)
}

/// A size that must be more than zero.
fn positive_size(s: &str) -> Result<u64, String> {
    match clap_size(s)? {
        0 => Err(format!("{s:?} is zero; give a positive size such as 1MiB")),
        n => Ok(n),
    }
}
