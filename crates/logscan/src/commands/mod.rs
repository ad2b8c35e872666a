//! The modes of the command line: [`list`] (`--list-packs`, `--list-patterns`), [`scan`] (files
//! and stdin, read to their end) and [`follow`] (one file as it is written). The two reading
//! modes share what this module holds: the pattern pack, the checked flags and the scanner
//! ([`Session`]), the event stream ([`EventSink`]) and the verdict ([`Session::report`]).

pub(crate) mod follow;
pub(crate) mod list;
pub(crate) mod scan;

use std::path::PathBuf;
use std::time::Duration;

use chrono::Datelike;
use soak_core::exit::{ExitCode, usage};
use soak_core::jsonl::JsonlWriter;
use soak_core::output::Format;
use soak_core::record::{Record, RecordType, Timestamp};
use soak_core::report::Report;

use crate::cli::Cli;
use crate::pattern::{self, Pack, PatternSpec, builtin_specs, read_specs};
use crate::report::{self, Limits, Outcome};
use crate::scan::{Event, Scanner};
use crate::{baseline, html};

/// The heartbeat limit when `--max-heartbeat-gap` is not given.
const HEARTBEAT_GAP_DEFAULT: Duration = Duration::from_secs(300);

/// The active pattern pack: the built-in one (unless `--no-builtin`), the `--pack` and
/// `--patterns` packs, and `--heartbeat-regex`; a bad one is a usage error naming it.
pub(crate) fn load_pack(cli: &Cli) -> anyhow::Result<Pack> {
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

/// A pattern's kind as the summary and `--expect-reduction` name it.
fn summary_kind(spec: &PatternSpec) -> String {
    spec.kind.replace("traceback_start", "traceback")
}

/// A reading run: the flags checked against each other and the pack, the scanner and where
/// its events go.
pub(crate) struct Session<'a> {
    /// The flags.
    cli: &'a Cli,
    /// The active pattern pack.
    pack: &'a Pack,
    /// `--max-line` in bytes.
    max_line: usize,
    /// The year syslog times are taken in.
    year: i32,
    /// The one pass over the lines.
    pub(crate) scanner: Scanner<'a>,
    /// Where the events go.
    pub(crate) sink: EventSink,
}

impl<'a> Session<'a> {
    /// Checks what clap cannot (a zero `--max-line`, an existing `--html` page, an
    /// `--expect-reduction` kind the pack lacks) before any line is read, then sets up the
    /// scanner and the event stream.
    pub(crate) fn start(cli: &'a Cli, pack: &'a Pack) -> anyhow::Result<Self> {
        if cli.max_line == 0 {
            return Err(usage("--max-line: must be more than zero (e.g. 1MiB)"));
        }
        let max_line = usize::try_from(cli.max_line).unwrap_or(usize::MAX);
        cli.html.as_deref().map(html::preflight).transpose()?;
        for r in &cli.expect_reduction {
            if !pack
                .patterns
                .iter()
                .any(|p| summary_kind(&p.spec) == r.kind)
            {
                return Err(usage(format!(
                    "--expect-reduction: no pattern of kind '{}' (see --list-patterns)",
                    r.kind
                )));
            }
        }
        let format = cli.output.resolved_format();
        // Events are streamed as they are found, so only to a stdout that shows JSONL.
        let on_stdout = cli.output.output.is_none() && !cli.output.quiet;
        let sink = EventSink {
            out: JsonlWriter::stdout(),
            stream: format == Format::Jsonl && on_stdout && !cli.no_events,
            error: None,
            marks: cli.html.as_ref().map(|_| Vec::new()),
        };
        let year = cli.year.unwrap_or_else(|| chrono::Utc::now().year());
        let mut scanner = Scanner::new(pack, cli.json_field.clone(), year);
        scanner.set_max_line(max_line);
        // Events nobody reads are never built: a matched line then costs no allocation.
        scanner.set_events(sink.stream || cli.html.is_some());
        Ok(Session {
            cli,
            pack,
            max_line,
            year,
            scanner,
            sink,
        })
    }

    /// `--max-line` in bytes.
    pub(crate) fn max_line(&self) -> usize {
        self.max_line
    }

    /// The verdict once reading has ended: the checks against the limits (and the
    /// `--baseline` run), the summary, the `--html` page, an annotation per failed check. A
    /// signal that ended a follow decides the exit code first (SIGINT: 130, as every tool).
    pub(crate) fn report(mut self, stopped_by: Option<i32>) -> anyhow::Result<Report> {
        if let Some(err) = self.sink.error.take() {
            return Err(err.into());
        }
        let cli = self.cli;
        let marks = self.sink.marks.take().unwrap_or_default();
        let stats = &self.scanner.stats;
        let limits = Limits {
            max_reconnects_per_hour: cli.max_reconnects_per_hour,
            max_heartbeat_gap: cli.max_heartbeat_gap.unwrap_or(HEARTBEAT_GAP_DEFAULT),
            heartbeat_required: cli.max_heartbeat_gap.is_some() && !cli.heartbeat_optional,
            max_p99_latency_ms: cli.max_p99_latency.as_secs_f64() * 1000.0,
            max_crashes: cli.max_crashes,
            max_errors_per_hour: cli.max_errors_per_hour,
            require_clean_shutdown: cli.require_clean_shutdown,
        };
        let end = cli.end_time.or(stats.last_time);
        let mut checks = report::evaluate(stats, &limits, end);
        let old = match &cli.baseline {
            Some(file) => {
                let mut old = Scanner::new(self.pack, cli.json_field.clone(), self.year);
                old.set_max_line(self.max_line);
                old.set_events(false);
                let mut quiet = EventSink {
                    out: JsonlWriter::from_writer(std::io::sink(), "-"),
                    stream: false,
                    error: None,
                    marks: None,
                };
                scan::scan_inputs(
                    std::slice::from_ref(file),
                    &mut old,
                    &mut quiet,
                    self.max_line,
                )?;
                checks.extend(baseline::reduction_checks(
                    &old.stats,
                    stats,
                    &cli.expect_reduction,
                ));
                Some(old.stats)
            }
            None => None,
        };
        let mut kinds: Vec<String> = self
            .pack
            .patterns
            .iter()
            .map(|p| summary_kind(&p.spec))
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
        let mut report = Report::new(crate::TOOL, report::ScanBody::new(summary, checks));
        if let Some(signal) = stopped_by {
            report = report.exit(ExitCode::from_signal(signal));
        }
        for message in failures {
            report = report.fail(message);
        }
        Ok(report)
    }
}

/// Writes event records as they are found (when streaming), remembering a write error.
pub(crate) struct EventSink {
    /// Stdout, as JSONL.
    pub(crate) out: JsonlWriter,
    /// Whether events are written at all.
    stream: bool,
    /// The first write error; it ends the run.
    pub(crate) error: Option<soak_core::CoreError>,
    /// The events kept for `--html`.
    marks: html::Marks,
}

impl EventSink {
    /// Keeps the event for `--html` and writes its record when streaming.
    pub(crate) fn emit(&mut self, e: Event) {
        html::keep(&mut self.marks, &e);
        if self.stream && self.error.is_none() {
            if let Err(err) = self.out.write(&event_record(&e)) {
                self.error = Some(err);
            }
        }
    }
}

/// The `event` record of a match, stamped with the log line's time.
pub fn event_record(e: &Event) -> Record {
    let time = e.time.and_then(Timestamp::from_unix);
    let mut r = Record::at(
        RecordType::Event,
        crate::TOOL,
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
