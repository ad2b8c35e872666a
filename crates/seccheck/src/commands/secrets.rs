//! The `secrets` subcommand: the watched values, the inputs, a scan of each (and its
//! redaction), one record per outcome, the summary and the exit code. Nothing is skipped
//! silently: every input that is not scanned is a record with its reason, and a failure on one
//! input never hides the others' findings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use soak_core::exit::{ExitCode, usage};
use soak_core::gha::{Annotation, Level};
use soak_core::record::{Finding, Record, RecordType, Severity};
use soak_core::report::{RecordBody, Report};

use crate::TOOL;
use crate::detect::Detector;
use crate::inputs::{Input, Inputs};
use crate::replace::ReplaceError;
use crate::scan::{self, FileScan};
use crate::watched::{self, Watched};

/// The options of `seccheck secrets`, once parsed.
#[derive(Debug, Clone)]
pub struct SecretsArgs {
    /// Files, directories, `-` or streams.
    pub paths: Vec<PathBuf>,
    /// The watched variables' names.
    pub env: Vec<String>,
    /// A watched variable that is unset or too short is a warning, not exit 2.
    pub allow_missing_env: bool,
    /// Rewrite each file with its secrets masked.
    pub redact: bool,
    /// Entropy a keyword's token needs.
    pub min_entropy: f64,
}

/// The watched variables' values. A variable that is unset or shorter than
/// [`watched::MIN_LEN`] is exit 2 (a forgotten `export` must not pass the gate) unless
/// `allow_missing`; one that is not valid UTF-8 is watched as its bytes, with a warning.
pub fn env_values(names: &[String], allow_missing: bool) -> anyhow::Result<(Vec<Watched>, usize)> {
    let mut out = Vec::new();
    let mut missing = 0;
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let problem = match std::env::var_os(name) {
            Some(v) if v.len() >= watched::MIN_LEN => {
                if v.to_str().is_none() {
                    eprintln!(
                        "seccheck: warning: --env {name}: the value is not valid UTF-8; its bytes are watched as they are"
                    );
                }
                out.push(Watched::new(name, v.as_encoded_bytes()));
                continue;
            }
            Some(v) if v.is_empty() => "is set but empty",
            Some(_) => "is shorter than 8 bytes",
            None => "is not set",
        };
        if !allow_missing {
            return Err(usage(format!(
                "--env {name}: the variable {problem}; nothing to watch (pass --allow-missing-env to scan without it)"
            )));
        }
        missing += 1;
        eprintln!("seccheck: warning: --env {name}: the variable {problem}; not searched for");
    }
    Ok((out, missing))
}

/// Counts of the run, for the summary.
#[derive(Debug, Default)]
struct Tally {
    files: usize,
    scanned: usize,
    skipped: usize,
    binary: usize,
    failed: usize,
    links: usize,
    streams: usize,
    bytes: u64,
    found: usize,
    redacted: usize,
    input_error: bool,
    environment_error: bool,
}

fn shown(p: &Path) -> String {
    p.display().to_string()
}

fn event(kind: &str, path: &Path) -> Record {
    Record::new(RecordType::Event, TOOL)
        .with("event", kind)
        .with("file", shown(path))
}

/// The columns of the human formats.
const COLUMNS: [&str; 8] = [
    "type", "kind", "file", "line", "end_line", "masked", "reason", "message",
];

/// The annotation of a secret found: its kind, pinned to its file and line (never its value).
fn secret_annotation(finding: &Record) -> Option<Annotation> {
    if finding.kind() != Some(RecordType::Finding) {
        return None;
    }
    let kind = finding.get_str("kind").unwrap_or("secret");
    let mut a = Annotation::new(Level::Error, format!("seccheck: a {kind} secret"));
    a.file = finding.get_str("file").map(str::to_string);
    a.line = finding.get("line").and_then(serde_json::Value::as_u64);
    Some(a)
}

/// `seccheck secrets`' summary, the last record of a scan: what was read and what was found.
/// Written by [`run`]; a reader (the soak) reads it back as this type. Every field has a
/// default, so a summary that lacks one still reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretsSummary {
    /// The subcommand, `secrets`.
    pub command: String,
    /// Paths given or found, scanned or not.
    pub files: usize,
    /// Files scanned.
    pub files_scanned: usize,
    /// Files not scanned on purpose, binary files among them.
    pub files_skipped: usize,
    /// Of those, binary files.
    pub binary_files_skipped: usize,
    /// Files that could not be read.
    pub files_failed: usize,
    /// Symbolic links followed.
    pub symlinks_followed: usize,
    /// Streams (stdin, pipes, FIFOs) scanned.
    pub streams: usize,
    /// Bytes scanned.
    pub bytes: u64,
    /// Scan speed, MB (10^6 bytes) per second, one decimal.
    pub mb_per_s: f64,
    /// Values of `--env` variables watched for.
    pub env_values_watched: usize,
    /// `--env` variables that were not set.
    pub env_values_missing: usize,
    /// Secrets found.
    pub secrets: usize,
    /// Secrets masked in place (`--redact`).
    pub redacted: usize,
    /// No secret found and every input read.
    pub ok: bool,
}

impl SecretsSummary {
    fn new(t: &Tally, secs: f64, watched: usize, missing: usize, ok: bool) -> Self {
        SecretsSummary {
            command: "secrets".into(),
            files: t.files,
            files_scanned: t.scanned,
            files_skipped: t.skipped,
            binary_files_skipped: t.binary,
            files_failed: t.failed,
            symlinks_followed: t.links,
            streams: t.streams,
            bytes: t.bytes,
            mb_per_s: if secs > 0.0 {
                ((t.bytes as f64 / 1e6 / secs) * 10.0).round() / 10.0
            } else {
                0.0
            },
            env_values_watched: watched,
            env_values_missing: missing,
            secrets: t.found,
            redacted: t.redacted,
            ok,
        }
    }
}

/// Runs `seccheck secrets`.
pub fn run(args: &SecretsArgs) -> anyhow::Result<Report> {
    let (values, missing) = env_values(&args.env, args.allow_missing_env)?;
    let watched_count = values.len();
    let detector =
        Detector::new(values, args.min_entropy).map_err(|e| usage(format!("pattern: {e}")))?;
    let listed = Inputs::collect(&args.paths);
    if args.redact {
        if let Some(s) = listed
            .inputs
            .iter()
            .find(|i| matches!(i, Input::Stream { .. }))
        {
            return Err(usage(format!(
                "{}: --redact cannot rewrite a stream (stdin, pipe, FIFO, process substitution): scan it without --redact, or save it to a file first",
                shown(s.path())
            )));
        }
    }
    let started = std::time::Instant::now();
    let mut records = Vec::new();
    let mut t = Tally::default();
    for n in &listed.not_scanned {
        t.files += 1;
        if n.error {
            t.failed += 1;
            t.input_error = true;
            eprintln!("seccheck: error: {}: {}", shown(&n.path), n.reason);
            records.push(event("error", &n.path).with("message", n.reason.as_str()));
        } else {
            t.skipped += 1;
            records.push(event("skipped", &n.path).with("reason", n.reason.as_str()));
        }
    }
    for input in &listed.inputs {
        t.files += 1;
        scan_one(input, &detector, args.redact, &mut t, &mut records);
    }
    let secs = started.elapsed().as_secs_f64();
    let ok = t.found == 0 && !t.input_error && !t.environment_error;
    let summary = Record::summary(
        TOOL,
        &SecretsSummary::new(&t, secs, watched_count, missing, ok),
    )?;
    let annotations: Vec<Annotation> = records.iter().filter_map(secret_annotation).collect();
    let body = RecordBody::new(records, &COLUMNS)
        .summary(summary)
        .note(format!(
            "{} secret(s) in {} file(s) ({} scanned, {} skipped, {} failed), {} bytes scanned",
            t.found, t.files, t.scanned, t.skipped, t.failed, t.bytes
        ));
    let report = annotations
        .into_iter()
        .fold(Report::new(TOOL, body).heading("secrets"), Report::annotate);
    Ok(report.exit(if t.environment_error {
        ExitCode::Environment
    } else if t.input_error {
        ExitCode::Usage
    } else {
        ExitCode::from_checks(ok)
    }))
}

fn open_input(input: &Input) -> std::io::Result<Box<dyn std::io::Read>> {
    Ok(match input {
        Input::Stream { path, .. } if path.as_os_str() == "-" => Box::new(std::io::stdin()),
        other => Box::new(std::fs::File::open(other.path())?),
    })
}

fn scan_one(
    input: &Input,
    detector: &Detector,
    redact: bool,
    t: &mut Tally,
    records: &mut Vec<Record>,
) {
    let path = input.path();
    match input {
        Input::File {
            link_target: Some(target),
            ..
        } => {
            t.links += 1;
            records.push(event("symlink_followed", path).with("target", shown(target)));
        }
        Input::Stream { what, .. } => {
            t.streams += 1;
            records.push(event("stream", path).with("stream", *what));
        }
        Input::File { .. } => {}
    }
    let scan: FileScan = match open_input(input) {
        Ok(src) => scan::scan_reader(src, detector),
        Err(e) => {
            fail_input(t, records, path, &e.to_string());
            return;
        }
    };
    t.bytes += scan.bytes;
    if let Some(why) = &scan.skipped {
        t.skipped += 1;
        t.binary += 1;
        records.push(event("skipped", path).with("reason", why.as_str()));
        return;
    }
    for hit in &scan.found {
        t.found += 1;
        let file = shown(path);
        let message = format!(
            "a {} secret in {file} at line {}, column {}",
            hit.kind, hit.line, hit.column
        );
        records.push(
            Finding::new(hit.kind.as_str(), Severity::High, message)
                .with("file", file)
                .with("line", hit.line)
                .with("end_line", hit.end_line)
                .with("column", hit.column)
                .with("masked", hit.masked.as_str())
                .into_record(TOOL),
        );
    }
    if let Some(e) = &scan.error {
        let what = if scan.gzip {
            format!("corrupt or truncated gzip: {e}")
        } else {
            e.to_string()
        };
        fail_input(t, records, path, &what);
        return; // a half-read file is not rewritten
    }
    t.scanned += 1;
    if redact && !scan.found.is_empty() {
        match scan::redact_file(path, detector) {
            Ok(n) => {
                t.redacted += n;
                records.push(
                    Record::new(RecordType::Action, TOOL)
                        .with("action", "redact")
                        .with("file", shown(path))
                        .with("secrets_masked", n)
                        .with("dry_run", false),
                );
            }
            Err(e) => {
                let message = format!("not redacted: {e}");
                eprintln!("seccheck: error: {}: {message}", shown(path));
                records.push(event("error", path).with("message", message));
                t.failed += 1;
                match e {
                    ReplaceError::NotRegular | ReplaceError::NoName => t.input_error = true,
                    _ => t.environment_error = true,
                }
            }
        }
    }
}

fn fail_input(t: &mut Tally, records: &mut Vec<Record>, path: &Path, message: &str) {
    t.failed += 1;
    t.input_error = true;
    eprintln!("seccheck: error: {}: {message}", shown(path));
    records.push(event("error", path).with("message", message));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_record_keeps_its_fields_and_reads_back_as_secrets_summary() {
        let t = Tally {
            files: 4,
            scanned: 2,
            skipped: 1,
            binary: 1,
            failed: 1,
            links: 0,
            streams: 1,
            bytes: 3_000_000,
            found: 2,
            redacted: 0,
            ..Tally::default()
        };
        let summary = SecretsSummary::new(&t, 2.0, 1, 0, false);
        let rec = Record::summary(TOOL, &summary).expect("summary record");
        assert_eq!(rec.kind(), Some(RecordType::Summary));
        assert!(rec.to_line().ends_with(concat!(
            r#","command":"secrets","files":4,"files_scanned":2,"files_skipped":1,"#,
            r#""binary_files_skipped":1,"files_failed":1,"symlinks_followed":0,"streams":1,"#,
            r#""bytes":3000000,"mb_per_s":1.5,"env_values_watched":1,"env_values_missing":0,"#,
            r#""secrets":2,"redacted":0,"ok":false}"#
        )));
        let back: SecretsSummary = rec.body().expect("reads back");
        assert_eq!(back, summary);
    }
}
