//! resmon's command line (clap only): what it follows, how often, for how long, where the
//! samples go. [`crate::run()`] does the work.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use soak_core::cli::OutputArgs;

use crate::cgroup;

const AFTER_HELP: &str = "\
Examples:
  # Record the system every minute until stopped (Ctrl-C writes a last sample, exits 130)
  resmon --output artifacts/soak/resources.jsonl

  # Launch a service, record it and its children every second, exit with its status
  resmon --interval 1s --output res.jsonl -- python3 bot.py --config cfg.toml

  # Follow a service by name across restarts for 72 hours, with the size of its logs
  resmon --name 'run_bot\\.py' --duration 72h --watch-path logs/ -o res.jsonl

  # A container's cgroup as docker stats sees it (memory, limit, OOM kills, throttling)
  resmon --container novapulse --interval 10s --duration 72h -o res.jsonl

  # 10 Hz for 10 minutes on a PID, PSS every 50th sample, Prometheus scrape endpoint
  resmon --pid 4242 --interval 100ms --duration 10m --pss-every 50 --listen 127.0.0.1:9464

  # The samples as CSV for a spreadsheet, and a Markdown summary of the run (peaks, events)
  resmon --pid 4242 -i 10s -d 1h -f csv -o res.csv --summary-md summary.md

Every sample holds the seed monitor's fields (cpu_percent, memory_used_mb, process_memory_mb,
...) plus tree totals (tree_memory_mb, tree_fds, ...), elapsed_s and resmon's own overhead.
A metric that cannot be read is null and named in `unavailable`.
Exit codes: 0 done (duration, count, SIGTERM, target gone, stdout closed); 2 bad flag, zero
interval, bad --listen address, a --format other than jsonl or csv, a missing PID or a --pid
that ended before the first sample; 3
unwritable output or port in use; 130 SIGINT;
with a command: the command's own status (128+N for signal N).";

/// Command-line interface of `resmon`.
#[derive(Debug, Parser)]
#[command(
    name = "resmon",
    version,
    about = "Record a service's resources (system, process tree, own overhead) to JSONL",
    after_help = AFTER_HELP,
    mut_arg("format", |a| a.hide_possible_values(true).help(
        "Stream format: jsonl (every record; the default, also on a terminal) or csv (the \
         samples, one row each under a header of the first sample's fields)"
    )),
    mut_arg("output", |a| a.help(
        "Append the stream here (parent directories created, never through a symbolic \
         link; a CSV header only into an empty file); stdout when absent"
    )),
    mut_arg("summary_md", |a| a.help(
        "At the end, append a Markdown summary here: samples, duration, why it ended, the \
         target's peak RSS and CPU, the events (default under GitHub Actions: \
         $GITHUB_STEP_SUMMARY)"
    )),
    mut_arg("quiet", |a| a.help(
        "Write no samples on stdout (with --listen or --prom-textfile alone); --output \
         and --summary-md still get theirs"
    )),
)]
pub struct Cli {
    /// Time between samples (sub-second allowed: 100ms).
    #[arg(long, short = 'i', default_value = "60s", value_parser = soak_core::units::clap_interval)]
    pub interval: Duration,

    /// Stop after this long (samples due at 0, interval, ... strictly before it).
    #[arg(long, short = 'd', value_parser = soak_core::units::clap_interval)]
    pub duration: Option<Duration>,

    /// Stop after this many samples.
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// The stream's format and destination, the run's summary, quiet (`-f`, `-o`,
    /// `--summary-md`, `-q`).
    #[command(flatten)]
    pub output: OutputArgs,

    /// fsync every line (power-loss safety; costs a disk flush per sample).
    #[arg(long)]
    pub fsync: bool,

    /// The filesystem whose disk_* fields are reported (default: the output's, else /).
    #[arg(long)]
    pub disk_path: Option<PathBuf>,

    /// Report the size of this file or directory as watch_<slug>_bytes (repeatable).
    #[arg(long = "watch-path", value_name = "PATH")]
    pub watch_paths: Vec<PathBuf>,

    /// Follow this process (repeatable; the first one fills the process_* fields).
    #[arg(long = "pid", value_name = "PID", conflicts_with_all = ["pid_file", "name", "command"])]
    pub pids: Vec<i32>,

    /// Follow the process whose PID this file holds (re-read when it restarts).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "command"])]
    pub pid_file: Option<PathBuf>,

    /// Follow the oldest process whose command line matches REGEX, re-attaching after
    /// restarts.
    #[arg(long, value_name = "REGEX", conflicts_with = "command")]
    pub name: Option<String>,

    /// Count the target alone, not its descendants.
    #[arg(long)]
    pub no_tree: bool,

    /// Add PSS/USS of the tree (smaps_rollup, costly) every Nth sample.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pss_every: Option<u64>,

    /// Serve the latest sample as OpenMetrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Write the latest sample to this node_exporter textfile (atomically) after each sample.
    #[arg(long, value_name = "PATH")]
    pub prom_textfile: Option<PathBuf>,

    /// Also record this cgroup's own accounting (memory as `docker stats` counts it, limit,
    /// OOM kills, CPU and throttling, pids, pressure): its path in the hierarchy
    /// (`/system.slice/x.service`) or its directory under /sys/fs/cgroup; v1 or v2 detected.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["container", "unit"])]
    pub cgroup: Option<String>,

    /// Record the cgroup of this container (`docker inspect`, else `podman inspect`); a new
    /// init PID is a `container_restart` event.
    #[arg(long, value_name = "NAME|ID", conflicts_with = "unit")]
    pub container: Option<String>,

    /// Record the cgroup of this systemd unit (`systemctl show -p ControlGroup -p MainPID`).
    #[arg(long, value_name = "NAME")]
    pub unit: Option<String>,

    /// Where the cgroup hierarchy is mounted (tests point it at a fixture tree).
    #[arg(long, value_name = "DIR", default_value = cgroup::DEFAULT_ROOT, hide = true)]
    pub cgroup_root: PathBuf,

    /// Launch this command and follow it to its end (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}
