//! Where `zombiereap run` writes its events and summary: stdout belongs to the command, so the
//! shared output options mean, for a supervisor:
//!
//! - `-f jsonl` (the default, on a terminal too): each event is written as it happens, to
//!   `-o FILE` (appended, never through a symbolic link; `--events` is the former name) or to
//!   stderr, the summary last;
//! - `-f json|table|markdown|csv`: the events and the summary are written once the command has
//!   ended, as one document or table, to `-o FILE` (a new file renamed into place) or stderr;
//! - `--summary-md`: a Markdown table of the events and the summary line, appended at the end
//!   (default under GitHub Actions: `$GITHUB_STEP_SUMMARY`);
//! - `-q`: nothing on stderr (`-o` and `--summary-md` still get theirs).
//!
//! The exit status stays the command's (128 + N when signal N ended it); a command that did not
//! end cleanly is an `::error::` annotation under GitHub Actions.

use std::io::Write;
use std::path::Path;

use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, environment, usage};
use soak_core::jsonl::JsonlWriter;
use soak_core::output::Format;
use soak_core::pathtext::shown;
use soak_core::record::Record;
use soak_core::report::{Body, RecordBody, Report};

use crate::supervise::RunReport;

/// The columns of the events' table in the human formats.
const COLUMNS: &[&str] = &[
    "type",
    "event",
    "action",
    "pid",
    "exit_code",
    "signal",
    "fate",
];

/// In the streaming format, how many events are also kept for the Markdown summary (a long run
/// reaping many orphans must not grow without bound); the stream has them all.
const KEPT_FOR_SUMMARY: usize = 1000;

/// The events of one supervised run, on their way out.
pub struct RunOutput {
    args: OutputArgs,
    format: Format,
    stream: Option<JsonlWriter>,
    events: Vec<Record>,
    dropped: usize,
}

impl RunOutput {
    /// Checks the options and opens the stream before the command starts: a format `run`
    /// cannot write is bad usage (2), an unwritable `-o` the environment's failure (3).
    pub fn open(mut args: OutputArgs, events: Option<std::path::PathBuf>) -> anyhow::Result<Self> {
        if events.is_some() {
            args.output = events;
        }
        let format = args.format.unwrap_or(Format::Jsonl);
        if format == Format::Sarif {
            return Err(usage(
                "--format sarif: zombiereap run writes jsonl, json, table, markdown or csv",
            ));
        }
        let stream = match (format, &args.output) {
            (Format::Jsonl, Some(path)) => Some(open_append(path)?),
            (Format::Jsonl, None) if args.quiet => None,
            (Format::Jsonl, None) => Some(JsonlWriter::from_writer(std::io::stderr(), "stderr")),
            (_, Some(path)) => {
                check_directory(path)?;
                None
            }
            (_, None) => None,
        };
        Ok(RunOutput {
            args,
            format,
            stream,
            events: Vec::new(),
            dropped: 0,
        })
    }

    /// Takes one event: written at once when streaming, kept for the end.
    pub fn emit(&mut self, record: Record) {
        if let Some(stream) = &mut self.stream {
            // A failing stream must not stop the supervision of the command.
            let _ = stream.write(&record);
            if self.events.len() >= KEPT_FOR_SUMMARY {
                self.dropped += 1;
                return;
            }
        }
        self.events.push(record);
    }

    /// Writes the summary (and, in the document formats, everything) and returns the
    /// command's status as the exit code.
    pub fn finish(mut self, report: &RunReport, summary: Record) -> anyhow::Result<ExitCode> {
        if let Some(stream) = &mut self.stream {
            let _ = stream.write(&summary);
        }
        let mut body = RecordBody::new(self.events, COLUMNS).summary(summary);
        if self.dropped > 0 {
            body = body.note(format!(
                "{} more event(s) are in the JSONL stream only",
                self.dropped
            ));
        }
        let mut args = self.args;
        if self.stream.is_some() || (args.output.is_none() && args.quiet) {
            // Already streamed (or asked for silence): the report adds the summary only.
            args.output = None;
            args.quiet = true;
        } else if args.output.is_none() {
            // A document on stderr: stdout is the command's.
            let mut text = Vec::new();
            body.write(self.format, &mut text)?;
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&text).and_then(|()| err.flush());
            args.quiet = true;
        }
        args.format = Some(self.format);
        let mut out = Report::new("zombiereap", body).heading("run");
        if !report.ended_cleanly() {
            out = out.fail(failure(report));
        }
        out.exit(ExitCode::Child(report.status())).finish(&args)
    }
}

/// Why the run is not clean, in one line.
fn failure(r: &RunReport) -> String {
    let how = match (r.exit_code, r.signal) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was ended by signal {sig}"),
        (None, None) => "ended with an unknown status".to_string(),
    };
    let timeout = if r.timed_out { " after --timeout" } else { "" };
    format!("PID {}: the command {how}{timeout}", r.pid)
}

/// The stream file, opened for appending (never through a symbolic link), named in the error.
fn open_append(path: &Path) -> anyhow::Result<JsonlWriter> {
    JsonlWriter::append_file(path, false).map_err(|e| match e {
        soak_core::CoreError::Write { source, .. } => {
            environment(format!("cannot write {}: {source}", shown(path)))
        }
        other => environment(other),
    })
}

/// A document written at the end goes beside `path`: its directory must exist before the
/// command is started, not be found missing after a 24-hour run.
fn check_directory(path: &Path) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if dir.is_dir() {
        Ok(())
    } else {
        Err(environment(format!(
            "cannot write {}: {} is not a directory",
            shown(path),
            shown(dir)
        )))
    }
}
