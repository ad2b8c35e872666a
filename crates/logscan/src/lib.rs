//! `logscan`: reads a service's logs for reconnect storms, handler timeouts, crashes, hangs,
//! latency and the shutdown sequence, in one pass with a pattern pack, and writes JSONL
//! `event` records and a checked `summary`.
#![deny(unsafe_code)]

pub mod baseline;
pub mod blocks;
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

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Datelike;
use clap::Parser;
use soak_core::ExitCode;
use soak_core::cli::OutputArgs;
use soak_core::exit::usage;
use soak_core::follow::{Follower, Until};
use soak_core::gha;
use soak_core::input::expand_inputs;
use soak_core::jsonl::JsonlWriter;
use soak_core::output::Format;
use soak_core::record::{Finding, Record, RecordType, Severity, Timestamp};
use soak_core::report::Report;
use soak_core::signals::Termination;
use soak_core::units::{clap_duration, clap_size};

use blocks::LineBlocks;
use pattern::{Pack, PatternSpec, builtin_specs, read_specs};
use report::{Limits, Outcome};
use scan::{Event, Scanner};

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
    #[arg(long, value_name = "TIME")]
    pub end_time: Option<String>,
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
    #[arg(long, default_value = "500ms", value_parser = clap_duration, value_name = "DURATION")]
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

const HEARTBEAT_GAP_DEFAULT: Duration = Duration::from_secs(300);

/// Runs logscan.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if cli.list_packs {
        let mut stdout = soak_core::stdout::stdout();
        for p in pattern::NAMED_PACKS {
            let count = pattern::named_pack_specs(p.name).map_err(usage)?.len();
            writeln!(stdout, "{}\t{count} patterns\t{}", p.name, p.about)?;
        }
        return Ok(ExitCode::Success);
    }
    let pack = load_pack(&cli)?;
    if cli.list_patterns {
        print!("{}", pack.to_toml());
        return Ok(ExitCode::Success);
    }
    let end = cli.end_time.as_deref().map(parse_end_time).transpose()?;
    if cli.poll.is_zero() {
        return Err(usage("--poll: must be more than zero (e.g. 500ms)"));
    }
    if cli.max_line == 0 {
        return Err(usage("--max-line: must be more than zero (e.g. 1MiB)"));
    }
    let max_line = usize::try_from(cli.max_line).unwrap_or(usize::MAX);
    cli.html.as_deref().map(html::preflight).transpose()?;
    for r in &cli.expect_reduction {
        let known = pack
            .patterns
            .iter()
            .any(|p| p.spec.kind.replace("traceback_start", "traceback") == r.kind);
        if !known {
            return Err(usage(format!(
                "--expect-reduction: no pattern of kind '{}' (see --list-patterns)",
                r.kind
            )));
        }
    }
    let format = cli.output.resolved_format();
    // Events are streamed as they are found, so only to a stdout that shows JSONL.
    let on_stdout = cli.output.output.is_none() && !cli.output.quiet;
    let mut out = EventSink {
        out: JsonlWriter::stdout(),
        stream: format == Format::Jsonl && on_stdout && !cli.no_events,
        error: None,
        marks: cli.html.as_ref().map(|_| Vec::new()),
    };
    let year = cli.year.unwrap_or_else(|| chrono::Utc::now().year());
    let mut scanner = Scanner::new(&pack, cli.json_field.clone(), year);
    scanner.set_max_line(max_line);
    let mut stopped_by = None;
    // Events nobody reads are never built: a matched line then costs no allocation.
    scanner.set_events(out.stream || cli.html.is_some());
    let end = match &cli.follow {
        Some(path) => {
            stopped_by = follow_file(&cli, path, &mut scanner, &mut out)?;
            end
        }
        None => {
            scan_inputs(&cli.files, &mut scanner, &mut out, max_line)?;
            end
        }
    };
    if let Some(err) = out.error.take() {
        return Err(err.into());
    }
    let marks = out.marks.take().unwrap_or_default();
    let stats = &scanner.stats;
    let limits = Limits {
        max_reconnects_per_hour: cli.max_reconnects_per_hour,
        max_heartbeat_gap: cli.max_heartbeat_gap.unwrap_or(HEARTBEAT_GAP_DEFAULT),
        heartbeat_required: cli.max_heartbeat_gap.is_some() && !cli.heartbeat_optional,
        max_p99_latency_ms: cli.max_p99_latency.as_secs_f64() * 1000.0,
        max_crashes: cli.max_crashes,
        max_errors_per_hour: cli.max_errors_per_hour,
        require_clean_shutdown: cli.require_clean_shutdown,
    };
    let end = end.or(stats.last_time);
    let mut checks = report::evaluate(stats, &limits, end);
    let old = match &cli.baseline {
        Some(file) => {
            let mut old = Scanner::new(&pack, cli.json_field.clone(), year);
            old.set_max_line(max_line);
            old.set_events(false);
            let mut quiet = EventSink {
                out: JsonlWriter::from_writer(std::io::sink(), "-"),
                stream: false,
                error: None,
                marks: None,
            };
            scan_inputs(std::slice::from_ref(file), &mut old, &mut quiet, max_line)?;
            checks.extend(baseline::reduction_checks(
                &old.stats,
                stats,
                &cli.expect_reduction,
            ));
            Some(old.stats)
        }
        None => None,
    };
    let mut kinds: Vec<String> = pack
        .patterns
        .iter()
        .map(|p| p.spec.kind.replace("traceback_start", "traceback"))
        .collect();
    kinds.sort();
    kinds.dedup();
    let rule = report::heartbeat_rule(stats, &limits);
    let mut summary = report::summary_record(stats, &kinds, &checks, end, rule);
    if let (Some(old), Some(file)) = (&old, &cli.baseline) {
        baseline::add_to_summary(&mut summary, old, stats, &kinds, file);
    }
    if let Some(path) = &cli.html {
        let inputs = if cli.files.is_empty() {
            vec!["-".to_string()]
        } else {
            cli.files.clone()
        };
        let span = stats.first_time.zip(stats.last_time);
        html::write(
            path,
            &inputs,
            marks,
            span,
            &checks,
            report::figures(&summary),
        )?;
    }
    let failures: Vec<String> = checks
        .iter()
        .filter(|c| c.outcome == Outcome::Fail)
        .map(|c| {
            let message = report::finding_for(c)
                .get_str("message")
                .map_or_else(|| c.name.clone(), str::to_string);
            format!("logscan: {message}")
        })
        .collect();
    let mut report = Report::new("logscan", report::ScanBody::new(summary, checks));
    // Ctrl-C ends a follow with its summary, and with 130 as every tool does (set first: a
    // failed check does not soften it); SIGTERM ends it with the checks' verdict.
    if let Some(signal) = stopped_by {
        report = report.exit(ExitCode::from_signal(signal));
    }
    for message in failures {
        report = report.fail(message);
    }
    report.finish(&cli.output)
}

/// Writes event records as they are found (when streaming), remembering a write error.
struct EventSink {
    out: JsonlWriter,
    stream: bool,
    error: Option<soak_core::CoreError>,
    /// The events kept for `--html`.
    marks: html::Marks,
}

impl EventSink {
    fn emit(&mut self, e: Event) {
        html::keep(&mut self.marks, &e);
        if self.stream && self.error.is_none() {
            if let Err(err) = self.out.write(&event_record(&e)) {
                self.error = Some(err);
            }
        }
    }
}

fn scan_inputs(
    files: &[String],
    scanner: &mut Scanner<'_>,
    out: &mut EventSink,
    max_line: usize,
) -> anyhow::Result<()> {
    for source in expand_inputs(files)? {
        let name = source.display_name();
        let mut blocks = LineBlocks::new(source.open()?).with_max_line(max_line);
        scanner.stats.files += 1;
        let mut line_no = 0u64;
        loop {
            let block = match blocks.next_block() {
                Ok(Some(block)) => block,
                Ok(None) => break,
                Err(e) => {
                    return Err(usage(format!(
                        "cannot read {name}: line {}: {e}",
                        line_no + 1
                    )));
                }
            };
            line_no += block.skipped_before;
            scanner.skipped_too_long(block.skipped_before);
            line_no += scanner.feed_block(&name, line_no + 1, block.lines, &mut |e| out.emit(e));
            if out.error.is_some() {
                return Ok(());
            }
        }
        scanner.finish(&mut |e| out.emit(e));
    }
    Ok(())
}

/// The hang watchdog and event stream of `--follow`, until SIGINT/SIGTERM.
/// Follows `path` until a signal ends it; returns that signal.
fn follow_file(
    cli: &Cli,
    path: &Path,
    scanner: &mut Scanner<'_>,
    out: &mut EventSink,
) -> anyhow::Result<Option<i32>> {
    let term = Termination::install().context("installing signal handlers")?;
    let name = path.display().to_string();
    let max_line = usize::try_from(cli.max_line).unwrap_or(usize::MAX);
    let mut follower = Follower::new(path).with_max_line(max_line);
    let until = Until::every(cli.poll).signal(&term);
    scanner.stats.files = 1;
    let mut last_beat = Instant::now();
    let mut beats = 0;
    let mut hang_reported = false;
    loop {
        follower
            .poll(&mut |n, line| scanner.feed(&name, n, line, &mut |e| out.emit(e)))
            .map_err(|e| usage(format!("cannot read {name}: {e}")))?;
        if let Some(err) = out.error.take() {
            return Err(err.into());
        }
        // `logscan --follow F | head`: nobody reads the events any more.
        if out.out.closed() {
            scanner.finish(&mut |e| out.emit(e));
            return Ok(None);
        }
        if scanner.stats.heartbeats != beats {
            beats = scanner.stats.heartbeats;
            last_beat = Instant::now();
            hang_reported = false;
        }
        // Silence counts only once the log has shown a heartbeat (the shared hang rule).
        let silent = last_beat.elapsed();
        if beats > 0
            && scanner
                .stats
                .live_gap
                .is_none_or(|(g, _)| silent.as_secs_f64() > g)
        {
            let began = Timestamp::now().unix() - silent.as_secs_f64();
            scanner.stats.live_gap = Some((silent.as_secs_f64(), began));
        }
        if let Some(gap) = cli.max_heartbeat_gap {
            if heartbeat::overdue(beats, silent.as_secs_f64(), gap.as_secs_f64()) && !hang_reported
            {
                hang_reported = true;
                let finding = hang_finding(&name, silent, gap, scanner.stats.last_heartbeat);
                if gha::in_github_actions() {
                    gha::annotate(
                        gha::Level::Error,
                        finding.get_str("message").unwrap_or("hang"),
                    );
                }
                out.out.write(&finding)?;
            }
        }
        // More of the file waiting: read on at once, but answer a signal first.
        if let Some(stop) = follower.wait(&until) {
            follower
                .poll(&mut |n, line| scanner.feed(&name, n, line, &mut |e| out.emit(e)))
                .map_err(|e| usage(format!("cannot read {name}: {e}")))?;
            follower.finish(&mut |n, line| scanner.feed(&name, n, line, &mut |e| out.emit(e)));
            scanner.finish(&mut |e| out.emit(e));
            scanner.skipped_too_long(follower.too_long());
            return Ok(stop.signal());
        }
    }
}

fn hang_finding(file: &str, silent: Duration, gap: Duration, last: Option<f64>) -> Record {
    let message = format!(
        "hang: no heartbeat in {file} for {} (limit {})",
        soak_core::units::format_duration(silent),
        soak_core::units::format_duration(gap)
    );
    Finding::new("hang", Severity::Critical, message)
        .with("file", file)
        .with("silent_s", (silent.as_secs_f64() * 1000.0).round() / 1000.0)
        .with("max_heartbeat_gap_s", gap.as_secs_f64())
        .with("heartbeat_rule", heartbeat::HeartbeatRule::Armed.as_str())
        .with(
            "last_heartbeat_utc",
            last.and_then(Timestamp::from_unix).map(|t| t.utc_string()),
        )
        .into_record("logscan")
}

fn load_pack(cli: &Cli) -> anyhow::Result<Pack> {
    let mut specs: Vec<(PathBuf, PatternSpec)> = Vec::new();
    if !cli.no_builtin {
        specs.extend(
            builtin_specs()
                .into_iter()
                .map(|s| (PathBuf::from("<built-in>"), s)),
        );
    }
    for name in &cli.packs {
        let named = pattern::named_pack_specs(name).map_err(usage)?;
        let origin = pattern::named_pack_origin(name);
        specs.extend(named.into_iter().map(|s| (origin.clone(), s)));
    }
    for path in &cli.pattern_files {
        let user = read_specs(path).map_err(usage)?;
        specs.extend(user.into_iter().map(|s| (path.clone(), s)));
    }
    for (i, regex) in cli.heartbeat_regex.iter().enumerate() {
        if let Err(e) = regex::bytes::Regex::new(regex) {
            return Err(usage(format!(
                "--heartbeat-regex '{regex}': invalid regex: {}",
                e.to_string().replace('\n', " ")
            )));
        }
        specs.push((
            PathBuf::from("--heartbeat-regex"),
            PatternSpec {
                name: format!("heartbeat_regex_{}", i + 1),
                kind: "heartbeat".into(),
                severity: "info".into(),
                regex: regex.clone(),
            },
        ));
    }
    if specs.is_empty() {
        return Err(usage(
            "--no-builtin: no pattern left; give --pack NAME or --patterns FILE",
        ));
    }
    Pack::compile(specs).map_err(usage)
}

fn parse_end_time(s: &str) -> anyhow::Result<f64> {
    if s == "now" {
        return Ok(Timestamp::now().unix());
    }
    if let Ok(v) = s.parse::<f64>() {
        return Ok(v);
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp() as f64 + f64::from(d.timestamp_subsec_nanos()) / 1e9)
        .map_err(|e| {
            usage(format!(
                "--end-time '{s}': {e} (expected now, RFC 3339 or epoch seconds)"
            ))
        })
}

/// The `event` record of a match, stamped with the log line's time.
pub fn event_record(e: &Event) -> Record {
    let time = e.time.and_then(Timestamp::from_unix);
    let mut r = Record::at(
        RecordType::Event,
        "logscan",
        time.unwrap_or_else(Timestamp::now),
    )
    .with("event", e.kind.clone())
    .with("kind", e.kind.clone())
    .with("pattern", e.pattern.clone())
    .with("severity", e.severity.clone())
    .with("file", e.file.clone())
    .with("line", e.line);
    if time.is_none() {
        r.insert("log_time_known", false);
    }
    for (k, v) in &e.fields {
        r.insert(k, v.clone());
    }
    r.with("text", e.text.clone())
}
