//! The command line of `logscan` (clap only: no logic here).

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use soak_core::cli::OutputArgs;
use soak_core::units::{clap_duration, clap_interval, clap_size};

use crate::baseline;
use crate::timestamp::{UnixTime, parse_end_time};

/// Command line of `logscan`.
#[derive(Debug, Parser)]
#[command(
    name = "logscan",
    version,
    about = "Scan service logs for reconnect storms, timeouts, crashes, hangs and latency",
    after_help = "Examples:
  logscan artifacts/soak/service.log
  logscan --format markdown --summary-md \"$GITHUB_STEP_SUMMARY\" logs/*.log.gz
  logscan --max-reconnects-per-hour 10 --max-heartbeat-gap 5m --require-clean-shutdown bot.log
  journalctl -u bot -o short-iso | logscan -
  logscan --json-field msg app.jsonl
  logscan --patterns mybot.toml --list-patterns
  logscan --pack freqtrade --max-heartbeat-gap 90s freqtrade.log

Exit status: 0 every check passed, 1 a check failed, 2 bad input or pattern file."
)]
pub struct Cli {
    /// Log files (plain, .gz, globs) in time order; `-` or none for stdin.
    pub files: Vec<String>,
    /// For JSON-lines logs: the field holding the message.
    #[arg(long, value_name = "FIELD")]
    pub json_field: Option<String>,
    /// A TOML pattern pack to add (same name replaces a built-in pattern); repeatable.
    #[arg(long = "patterns", value_name = "FILE")]
    pub pattern_files: Vec<PathBuf>,
    /// Add a pack shipped in the binary, by name (`freqtrade`, `hummingbot`; see --list-packs);
    /// repeatable.
    #[arg(long = "pack", value_name = "NAME")]
    pub packs: Vec<String>,
    /// List the packs --pack selects and exit.
    #[arg(long)]
    pub list_packs: bool,
    /// Use only the --pack and --patterns packs, not the built-in one.
    #[arg(long)]
    pub no_builtin: bool,
    /// Print the active pattern pack as TOML and exit.
    #[arg(long)]
    pub list_patterns: bool,
    /// Leave `event` records out of the JSONL output (summary and findings only).
    #[arg(long)]
    pub no_events: bool,
    /// Most WebSocket reconnect attempts allowed in any one-hour window.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub max_reconnects_per_hour: u64,
    /// Longest heartbeat silence allowed, judged once the log has shown a heartbeat; given
    /// explicitly (without --heartbeat-optional), a log without any heartbeat fails.
    #[arg(long, value_parser = clap_duration, value_name = "DURATION")]
    pub max_heartbeat_gap: Option<Duration>,
    /// A log with no heartbeat at all is `no_data` for the heartbeat check, even with an
    /// explicit --max-heartbeat-gap (the soak's setting: a service that prints none is never
    /// judged hung by the log).
    #[arg(long)]
    pub heartbeat_optional: bool,
    /// A regex whose match is a heartbeat (adds a pattern of kind `heartbeat`); repeatable.
    #[arg(long = "heartbeat-regex", value_name = "REGEX")]
    pub heartbeat_regex: Vec<String>,
    /// Highest p99 latency allowed per stage.
    #[arg(long, default_value = "100ms", value_parser = clap_duration, value_name = "DURATION")]
    pub max_p99_latency: Duration,
    /// Most crashes allowed (fatal lines: panics, fatal errors, segfaults, OOM kills).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_crashes: u64,
    /// Most logged errors (tracebacks, exceptions, error-level lines) in any one-hour window.
    #[arg(long, default_value_t = 60, value_name = "N")]
    pub max_errors_per_hour: u64,
    /// Fail unless the shutdown sequence ran and completed.
    #[arg(long)]
    pub require_clean_shutdown: bool,
    /// End of the observation window, for the heartbeat gap: `now`, RFC 3339, or epoch seconds
    /// (default: the log's last timestamp).
    #[arg(long, value_name = "TIME", value_parser = parse_end_time)]
    pub end_time: Option<UnixTime>,
    /// Year assumed for syslog timestamps, which carry none (default: this year).
    #[arg(long)]
    pub year: Option<i32>,
    /// Follow FILE as it is written (surviving rename and copytruncate rotation), emitting
    /// events as they happen and, with --max-heartbeat-gap, a `hang` finding the moment the
    /// heartbeat has been silent too long; SIGINT/SIGTERM end it with the summary.
    #[arg(long, value_name = "FILE", conflicts_with = "files")]
    pub follow: Option<PathBuf>,
    /// Also write the log as one self-contained HTML page to FILE (events on a time axis, the
    /// checks, the figures); created exclusively: an existing FILE is refused (exit 2).
    #[arg(long, value_name = "FILE", conflicts_with = "follow")]
    pub html: Option<PathBuf>,
    /// How often --follow looks for new lines (more than zero).
    #[arg(long, default_value = "500ms", value_parser = clap_interval, value_name = "DURATION")]
    pub poll: Duration,
    /// Longest line read; a longer one is skipped (read past in constant memory) and counted
    /// as `line_too_long`.
    #[arg(long, default_value = "1MiB", value_parser = clap_size, value_name = "SIZE")]
    pub max_line: u64,
    /// An earlier run's log: every kind's count and rate compared with it (change in percent).
    #[arg(long, value_name = "OLD.log")]
    pub baseline: Option<String>,
    /// Check against --baseline: KIND fell by at least PERCENT (per hour), e.g.
    /// HANDLER_TIMEOUT=90%; repeatable.
    #[arg(long, value_name = "KIND=PERCENT", value_parser = baseline::parse_reduction, requires = "baseline")]
    pub expect_reduction: Vec<baseline::Reduction>,
    /// Where and how the result is written (JSONL streams the `event` records on stdout as
    /// they are found, then the findings and the summary; with --output or --quiet only the
    /// findings and the summary are written, to the file).
    #[command(flatten)]
    pub output: OutputArgs,
}
