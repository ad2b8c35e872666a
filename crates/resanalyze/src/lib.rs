//! resanalyze: turns a soak's resmon JSONL into a verdict a team can trust (robust leak test,
//! CPU spikes and level shifts, disk growth and projections, network stalls, checks), in one
//! streaming pass with bounded memory.
#![deny(unsafe_code)]

pub mod accumulate;
pub mod analysis;
pub mod baseline;
pub mod cycles;
pub mod fastscan;
pub mod follow;
pub mod html;
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

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, usage};
use soak_core::input::expand_inputs;
use soak_core::jsonl::SkipReason;
use soak_core::report::Report;
use soak_core::units::{Rate, clap_count_rate, clap_duration, clap_percent, clap_rate, clap_size};

use crate::accumulate::{Accumulator, StreamConfig};
use crate::analysis::{AnalysisConfig, analyze};
pub use crate::model::{Analysis, Check};
use crate::report::AnalysisBody;
pub use crate::report::records;
use crate::trend::TrendConfig;

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
    #[arg(long, default_value = "200ms", value_parser = positive_duration)]
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

impl Cli {
    /// `--max-line` in bytes.
    pub fn max_line_bytes(&self) -> usize {
        usize::try_from(self.max_line).unwrap_or(usize::MAX)
    }

    fn stream_config(&self) -> StreamConfig {
        StreamConfig {
            cpu_threshold: self.cpu_threshold,
            cpu_window_s: self.cpu_window.as_secs_f64(),
            net_stall_s: self.net_stall.as_secs_f64(),
        }
    }

    /// The analysis thresholds.
    pub fn analysis_config(&self) -> AnalysisConfig {
        AnalysisConfig {
            memory: TrendConfig {
                threshold_per_hour: self.leak_threshold.as_mb_per_hour(),
                warmup_s: self.warmup.as_secs_f64(),
                min_samples: self.min_samples,
                min_span_s: self.min_span.as_secs_f64(),
                alpha: 0.05,
                min_growth: self.min_growth as f64 / (1024.0 * 1024.0),
            },
            fd_threshold_per_hour: self.fd_threshold.as_per_hour(),
            thread_threshold_per_hour: self.thread_threshold.as_per_hour(),
            max_cpu_avg: self.max_cpu_avg,
            max_disk_growth_gb: self.max_disk_growth as f64 / (1u64 << 30) as f64,
            min_duration_s: self.min_duration.as_secs_f64(),
            level_shift_min: self.level_shift,
            cpu_threshold: self.cpu_threshold,
            max_limit_percent: self.max_limit_percent,
        }
    }
}

/// A device (`/dev/zero`, `/dev/urandom`, a disk) never ends or is not a recording: refused
/// before reading (exit 2). Regular files, pipes, FIFOs and stdin are read.
fn refuse_devices(src: &soak_core::input::InputSource) -> anyhow::Result<()> {
    if let soak_core::input::InputSource::File(path) = src {
        if let Ok(meta) = std::fs::metadata(path) {
            if soak_core::fileinfo::is_device_or_socket(&meta) {
                return Err(usage(format!(
                    "{}: a device or socket, not a recording (give a file, a FIFO or -)",
                    path.display()
                )));
            }
        }
    }
    Ok(())
}

/// The inputs named on the command line, in order: `-`, files and globs; a name that is not
/// UTF-8 is taken as a literal file name (a glob pattern has to be text).
fn sources<S: AsRef<std::ffi::OsStr>>(
    inputs: &[S],
) -> anyhow::Result<Vec<soak_core::input::InputSource>> {
    let mut out = Vec::new();
    for input in inputs {
        let input = input.as_ref();
        match input.to_str() {
            Some(text) => out.extend(expand_inputs(&[text]).map_err(usage)?),
            None => {
                let path = PathBuf::from(input);
                if !path.is_file() {
                    return Err(usage(format!(
                        "{}: no such file (or not a regular file)",
                        path.display()
                    )));
                }
                out.push(soak_core::input::InputSource::File(path));
            }
        }
    }
    if out.is_empty() {
        out.push(soak_core::input::InputSource::Stdin);
    }
    Ok(out)
}

/// Reads every input into one accumulator; lines longer than `max_line` bytes are skipped
/// and counted.
pub fn read_inputs<S: AsRef<std::ffi::OsStr>>(
    inputs: &[S],
    cfg: StreamConfig,
    max_line: usize,
) -> anyhow::Result<Accumulator> {
    let sources = sources(inputs)?;
    let mut acc = Accumulator::new(cfg);
    for src in &sources {
        refuse_devices(src)?;
        reader::for_each_block(src, max_line, |block| {
            acc.skipped.merge(&block.skipped);
            acc.lines_too_long += block.too_long;
            for sample in &block.samples {
                if !acc.push(sample) {
                    acc.skipped.add(SkipReason::WrongShape);
                }
            }
        })?;
    }
    acc.finish();
    if acc.samples == 0 {
        let names: Vec<String> = sources.iter().map(|s| s.display_name()).collect();
        return Err(usage(format!(
            "no samples in {} (skipped lines: {})",
            names.join(", "),
            serde_json::to_string(&acc.skipped).unwrap_or_default()
        )));
    }
    Ok(acc)
}

/// Runs resanalyze.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.emit_prom_rules {
        let text = promrules::rules(&promrules::RuleConfig {
            leak_bytes_per_hour: cli.leak_threshold.as_per_hour(),
            fds_per_hour: cli.fd_threshold.as_per_hour(),
            threads_per_hour: cli.thread_threshold.as_per_hour(),
            cpu_percent: cli.cpu_threshold,
            cpu_window_s: cli.cpu_window.as_secs_f64(),
            range_s: cli.prom_range.as_secs_f64(),
            for_s: cli.prom_for.as_secs_f64(),
            limit_percent: cli.max_limit_percent,
        });
        print!("{text}");
        return Ok(ExitCode::Success);
    }
    if let Some(path) = &cli.follow {
        return follow_cmd(&cli, path);
    }
    let html = cli
        .html
        .as_deref()
        .map(|p| html::preflight(p, &cli.inputs))
        .transpose()?;
    let acc = read_inputs(&cli.inputs, cli.stream_config(), cli.max_line_bytes())?;
    let mut doc = analyze(&acc, &cli.analysis_config());
    if !cli.baseline.is_empty() {
        let old = read_inputs(&cli.baseline, cli.stream_config(), cli.max_line_bytes())
            .context("reading the --baseline run")?;
        baseline::apply(
            &mut doc,
            &analyze(&old, &cli.analysis_config()),
            cli.regression,
        );
    }
    if let Some(path) = &cli.plot {
        plot::plot(&acc, &doc, path).map_err(|e| match e {
            plot::PlotError::Extension(_) => usage(e),
            plot::PlotError::Draw { .. } => soak_core::exit::environment(e),
        })?;
    }
    if let (Some(path), Some(files)) = (&cli.html, &html) {
        html::write(path, files, &doc)?;
    }
    if let Some(path) = &cli.write_analysis {
        let text = serde_json::to_string_pretty(&doc)?;
        soak_core::outfile::write(path, (text + "\n").as_bytes())
            .map_err(|e| soak_core::exit::environment(e.to_string()))?;
    }
    ending(doc, AnalysisBody::new, None).finish(&cli.output)
}

/// `--follow FILE`: findings as they become significant, then the report of the last
/// analysis when the recording stops.
fn follow_cmd(cli: &Cli, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let fc = follow::FollowConfig {
        every: cli.follow_every,
        idle: cli.follow_idle,
        poll: cli.poll,
        max_line: cli.max_line_bytes(),
        exhaustion_horizon_h: cli.exhaustion_horizon.as_secs_f64() / 3600.0,
        estimates: cli.follow_estimates,
    };
    // A reader that goes away ends the follow (the error ends the run quietly, exit 0).
    let mut out = std::io::stdout().lock();
    let end = follow::follow(
        path,
        cli.stream_config(),
        &cli.analysis_config(),
        &fc,
        &mut out,
    )?;
    drop(out);
    let Some(doc) = end.doc else {
        return Err(usage(format!("no samples in {}", path.display())));
    };
    let mut report = ending(doc, AnalysisBody::after_follow, end.signal);
    // A finding reported early fails the run even if the last analysis passed.
    if end.found && report.exit_code() == ExitCode::Success {
        report = report.exit(ExitCode::CheckFailed);
    }
    report.finish(&cli.output)
}

/// The report of an analysis: its body, its verdict in the step summary's title, an
/// annotation per failed check; a signal that ended it decides first (SIGINT: 130).
fn ending(doc: Analysis, body: fn(Analysis) -> AnalysisBody, signal: Option<i32>) -> Report {
    let failures: Vec<String> = doc
        .failed_checks()
        .map(|c| format!("resanalyze: check {} failed: {}", c.name, c.detail))
        .collect();
    let mut report = Report::new("resanalyze", body(doc.clone())).title(report::title(&doc));
    if let Some(sig) = signal {
        report = report.exit(ExitCode::from_signal(sig));
    }
    for message in failures {
        report = report.fail(message);
    }
    report
}
