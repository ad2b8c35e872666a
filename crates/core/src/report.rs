//! The one way a command ends: what it found ([`Body`]), the annotations for what failed, and
//! the exit code, written by [`Report::finish`] in the format [`OutputArgs`] asks for.
//!
//! Every checking tool ends the same way: machine formats (JSONL, JSON) get the records and the
//! summary record; human formats (table, Markdown, CSV) get a table and the notes under it; the
//! Markdown goes to the step summary too; failed checks become `::error::` annotations under
//! GitHub Actions; the exit code is the verdict's.
//!
//! ```
//! use soak_core::cli::OutputArgs;
//! use soak_core::report::{RecordBody, Report};
//! use soak_core::{ExitCode, Finding, Record, RecordType, Severity};
//!
//! let finding = Finding::new("zombie", Severity::Medium, "zombie 42 (sleep)")
//!     .with("pid", 42)
//!     .into_record("demo");
//! let summary = Record::new(RecordType::Summary, "demo").with("ok", false);
//! let body = RecordBody::new(vec![finding], &["kind", "pid"]).summary(summary);
//! let report = Report::new("demo", body).fail("1 zombie process");
//! let out = tempfile::tempdir().unwrap();
//! let args = OutputArgs { output: Some(out.path().join("x.jsonl")), ..OutputArgs::default() };
//! assert_eq!(report.finish(&args).unwrap(), ExitCode::CheckFailed);
//! let text = std::fs::read_to_string(out.path().join("x.jsonl")).unwrap();
//! assert_eq!(text.lines().count(), 2);
//! ```

use std::io::{self, Write};

use crate::cli::OutputArgs;
use crate::exit::{ExitCode, usage};
use crate::gha::{self, Annotation, Level};
use crate::output::{Format, Table, cell, unsupported};
use crate::record::Record;

/// What a report prints, in each format it supports.
pub trait Body {
    /// Writes the body in `format`; an [`io::ErrorKind::Unsupported`] error (see
    /// [`crate::output::unsupported`]) for a format it does not write.
    fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()>;

    /// The Markdown for the step summary (by default, the body written as Markdown).
    fn markdown(&self) -> io::Result<String> {
        let mut md = Vec::new();
        self.write(Format::Markdown, &mut md)?;
        Ok(String::from_utf8_lossy(&md).into_owned())
    }
}

/// The common body: records (findings, actions, rows) and a summary record.
///
/// JSONL: one line per record, the summary last. JSON: one array, the summary last. Table,
/// Markdown, CSV: a table of `columns`; under it (not in CSV) the notes, or the summary's
/// fields as `key=value` when there are no notes.
#[derive(Debug, Clone, Default)]
pub struct RecordBody {
    records: Vec<Record>,
    columns: Vec<String>,
    summary: Option<Record>,
    notes: Vec<String>,
}

impl RecordBody {
    /// Records shown in a table of `columns` (every field any record has when empty).
    pub fn new(records: Vec<Record>, columns: &[&str]) -> Self {
        RecordBody {
            records,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            summary: None,
            notes: Vec::new(),
        }
    }

    /// Adds the summary record.
    pub fn summary(mut self, summary: Record) -> Self {
        self.summary = Some(summary);
        self
    }

    /// Adds a line shown under the table in the human formats.
    pub fn note(mut self, line: impl Into<String>) -> Self {
        self.notes.push(line.into());
        self
    }

    fn table(&self) -> Table {
        let columns: Vec<&str> = self.columns.iter().map(String::as_str).collect();
        let columns = (!columns.is_empty()).then_some(columns.as_slice());
        Table::from_records(&self.records, columns)
    }

    fn summary_line(&self) -> Option<String> {
        let summary = self.summary.as_ref()?;
        let pairs: Vec<String> = summary
            .fields()
            .iter()
            .filter(|(k, _)| {
                !matches!(
                    k.as_str(),
                    "type" | "tool" | "timestamp_utc" | "timestamp_unix"
                )
            })
            .map(|(k, v)| format!("{k}={}", cell(v)))
            .collect();
        Some(pairs.join(" "))
    }

    fn human_tail(&self) -> Vec<String> {
        if self.notes.is_empty() {
            self.summary_line().into_iter().collect()
        } else {
            self.notes.clone()
        }
    }
}

impl Body for RecordBody {
    fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Jsonl => {
                for r in self.records.iter().chain(&self.summary) {
                    writeln!(out, "{}", r.to_line())?;
                }
            }
            Format::Json => {
                let all: Vec<&Record> = self.records.iter().chain(&self.summary).collect();
                serde_json::to_writer_pretty(&mut *out, &all).map_err(io::Error::other)?;
                writeln!(out)?;
            }
            Format::Table => {
                // A body that is only a summary (a server's end) shows just its line.
                if !(self.records.is_empty() && self.columns.is_empty()) {
                    self.table().write_text(out)?;
                }
                for line in self.human_tail() {
                    writeln!(out, "{line}")?;
                }
            }
            Format::Markdown => {
                if !self.records.is_empty() {
                    self.table().write_markdown(out)?;
                    writeln!(out)?;
                }
                for line in self.human_tail() {
                    writeln!(out, "{line}\n")?;
                }
            }
            Format::Csv => self.table().write_csv(out)?,
            Format::Sarif => return Err(unsupported(format)),
        }
        Ok(())
    }
}

/// A command's result: its body, the annotations for GitHub Actions and its exit code.
pub struct Report {
    tool: String,
    heading: Option<String>,
    title: Option<String>,
    summary_by_default: bool,
    body: Box<dyn Body>,
    annotations: Vec<Annotation>,
    exit: ExitCode,
    step_summary: bool,
}

impl Report {
    /// A passing report of `tool` (exit 0 until a check fails).
    pub fn new(tool: &str, body: impl Body + 'static) -> Self {
        Report {
            tool: tool.to_string(),
            heading: None,
            title: None,
            summary_by_default: true,
            body: Box::new(body),
            annotations: Vec::new(),
            exit: ExitCode::Success,
            step_summary: true,
        }
    }

    /// What follows the tool's name in the step summary's heading (e.g. the subcommand).
    pub fn heading(mut self, heading: impl Into<String>) -> Self {
        self.heading = Some(heading.into());
        self
    }

    /// The step summary's heading in full, in place of the tool's name and
    /// [`Report::heading`] (a verdict in the title: `resanalyze: checks FAILED`).
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Writes the step summary only to a `--summary-md` given, not by default to
    /// `$GITHUB_STEP_SUMMARY`: for a tool that checks nothing (a simulator serving tests), whose
    /// runs would otherwise fill the job's summary.
    pub fn summary_only_when_asked(mut self) -> Self {
        self.summary_by_default = false;
        self
    }

    /// A failed check: an `::error::` annotation, and exit 1 unless a worse code is set.
    pub fn fail(mut self, message: impl Into<String>) -> Self {
        self.annotations
            .push(Annotation::new(Level::Error, message));
        if self.exit == ExitCode::Success {
            self.exit = ExitCode::CheckFailed;
        }
        self
    }

    /// A warning: an `::warning::` annotation; the exit code is unchanged.
    pub fn warn(mut self, message: impl Into<String>) -> Self {
        self.annotations
            .push(Annotation::new(Level::Warning, message));
        self
    }

    /// Adds an annotation as it is (pinned to a file and line, say); the exit code is unchanged.
    pub fn annotate(mut self, annotation: Annotation) -> Self {
        self.annotations.push(annotation);
        self
    }

    /// Sets the exit code outright (a verdict the tool computed, an interrupt).
    pub fn exit(mut self, code: ExitCode) -> Self {
        self.exit = code;
        self
    }

    /// Writes the body only: no step summary and no annotations. A loop that reports every
    /// pass (`--watch`) uses it for all passes but its last, so a long run does not append a
    /// summary per pass.
    pub fn body_only(mut self) -> Self {
        self.step_summary = false;
        self
    }

    /// The exit code [`Report::finish`] will return.
    pub fn exit_code(&self) -> ExitCode {
        self.exit
    }

    /// Writes the report as `args` asks — to `--output` (a new file renamed into place), else
    /// to stdout unless `--quiet` — appends the step summary, prints the annotations under
    /// GitHub Actions, and returns the exit code.
    ///
    /// A format the body does not write is a usage error (exit 2) naming `--format`, found
    /// before anything is written. A reader that closes stdout early does not change the code.
    pub fn finish(self, args: &OutputArgs) -> anyhow::Result<ExitCode> {
        self.finish_with(args, &mut crate::stdout::stdout())
    }

    /// [`Report::finish`] writing to `out`, whose [`crate::stdout::Stdout::closed`] then tells
    /// a loop that the reader has gone (`tool --watch | head -1`).
    pub fn finish_with(
        self,
        args: &OutputArgs,
        out: &mut crate::stdout::Stdout,
    ) -> anyhow::Result<ExitCode> {
        let format = args.resolved_format();
        let mut rendered = Vec::new();
        self.body
            .write(format, &mut rendered)
            .map_err(|e| self.explain(format, e))?;
        if let Some(path) = &args.output {
            crate::outfile::write(path, &rendered)?;
        } else if !args.quiet {
            out.write_all(&rendered)?;
            out.flush()?;
        }
        if !self.step_summary {
            return Ok(self.exit);
        }
        let summary_path = if self.summary_by_default {
            gha::step_summary_path(args.summary_md.as_deref())
        } else {
            args.summary_md.clone()
        };
        if let Some(path) = summary_path {
            let heading = match (&self.title, &self.heading) {
                (Some(t), _) => format!("## {t}\n\n"),
                (None, Some(h)) => format!("## {} {h}\n\n", self.tool),
                (None, None) => format!("## {}\n\n", self.tool),
            };
            let md = self
                .body
                .markdown()
                .map_err(|e| self.explain(Format::Markdown, e))?;
            gha::append_step_summary(&path, &(heading + &md))?;
        }
        if gha::in_github_actions() {
            for a in &self.annotations {
                gha::emit(a);
            }
        }
        Ok(self.exit)
    }

    fn explain(&self, format: Format, err: io::Error) -> anyhow::Error {
        if err.kind() == io::ErrorKind::Unsupported {
            usage(format!(
                "--format {}: {} does not write this format here",
                format.name(),
                self.tool
            ))
        } else {
            anyhow::Error::new(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RecordType, Timestamp};

    fn body() -> RecordBody {
        let t = Timestamp::from_unix(0.0).expect("epoch");
        let rec = Record::at(RecordType::Finding, "t", t)
            .with("kind", "zombie")
            .with("pid", 7);
        let summary = Record::at(RecordType::Summary, "t", t)
            .with("zombies", 1)
            .with("ok", false);
        RecordBody::new(vec![rec], &["kind", "pid"]).summary(summary)
    }

    fn render(body: &RecordBody, format: Format) -> String {
        let mut out = Vec::new();
        body.write(format, &mut out).expect("write");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn machine_formats_carry_the_summary_last() {
        let jsonl = render(&body(), Format::Jsonl);
        let lines: Vec<&str> = jsonl.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with(r#"{"type":"summary""#), "{jsonl}");
        let json: serde_json::Value =
            serde_json::from_str(&render(&body(), Format::Json)).expect("json");
        assert_eq!(json.as_array().map(Vec::len), Some(2));
    }

    #[test]
    fn human_formats_show_the_table_and_then_notes_or_summary() {
        assert_eq!(
            render(&body(), Format::Table),
            "kind    pid\n------  ---\nzombie    7\nzombies=1 ok=false\n"
        );
        let noted = body().note("1 zombie: gate FAILED");
        assert!(render(&noted, Format::Table).ends_with("zombie    7\n1 zombie: gate FAILED\n"));
        assert_eq!(
            render(&noted, Format::Csv),
            "kind,pid\nzombie,7\n",
            "notes never enter CSV"
        );
        assert!(render(&noted, Format::Markdown).contains("| zombie | 7 |"));
        let t = Timestamp::from_unix(0.0).expect("epoch");
        let only_summary = RecordBody::new(Vec::new(), &[])
            .summary(Record::at(RecordType::Summary, "t", t).with("ok", true));
        assert_eq!(render(&only_summary, Format::Table), "ok=true\n");
    }

    #[test]
    fn an_unsupported_format_is_a_usage_error_before_anything_is_written() {
        let dir = tempfile::tempdir().expect("tmp");
        let target = dir.path().join("out.sarif");
        let args = OutputArgs {
            format: Some(Format::Sarif),
            output: Some(target.clone()),
            ..OutputArgs::default()
        };
        let err = Report::new("t", body()).finish(&args).expect_err("refused");
        assert_eq!(crate::exit::exit_code_for(&err), ExitCode::Usage);
        assert!(crate::exit::one_line(&err).contains("--format sarif"));
        assert!(!target.exists());
    }

    #[test]
    fn output_file_summary_and_exit_code() {
        let dir = tempfile::tempdir().expect("tmp");
        let args = OutputArgs {
            format: Some(Format::Table),
            output: Some(dir.path().join("out.txt")),
            summary_md: Some(dir.path().join("summary.md")),
            quiet: true,
        };
        let code = Report::new("t", body())
            .heading("scan")
            .fail("1 zombie")
            .finish(&args)
            .expect("finish");
        assert_eq!(code, ExitCode::CheckFailed);
        let text = std::fs::read_to_string(dir.path().join("out.txt")).expect("out");
        assert!(text.starts_with("kind    pid\n"), "{text}");
        let md = std::fs::read_to_string(dir.path().join("summary.md")).expect("md");
        assert!(md.starts_with("## t scan\n\n| kind | pid |"), "{md}");
        Report::new("t", body())
            .heading("scan")
            .title("t: 1 zombie")
            .finish(&args)
            .expect("finish");
        let md = std::fs::read_to_string(dir.path().join("summary.md")).expect("md");
        assert!(md.contains("\n## t: 1 zombie\n\n| kind | pid |"), "{md}");
    }

    #[test]
    fn body_only_writes_no_step_summary() {
        let dir = tempfile::tempdir().expect("tmp");
        let args = OutputArgs {
            format: Some(Format::Jsonl),
            output: Some(dir.path().join("out.jsonl")),
            summary_md: Some(dir.path().join("summary.md")),
            quiet: false,
        };
        let code = Report::new("t", body())
            .fail("1 zombie")
            .body_only()
            .finish(&args)
            .expect("finish");
        assert_eq!(code, ExitCode::CheckFailed);
        assert!(dir.path().join("out.jsonl").exists());
        assert!(!dir.path().join("summary.md").exists());
    }

    #[test]
    fn a_set_code_is_not_softened_by_a_failed_check() {
        let r = Report::new("t", body())
            .exit(ExitCode::Interrupted)
            .fail("late");
        assert_eq!(r.exit_code(), ExitCode::Interrupted);
    }
}
