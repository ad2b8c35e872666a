//! The subcommands, one module each, each returning what it found as a [`Report`] (`db
//! update`, which fails after writing its report, as an [`db::UpdateReport`]), and what `deps`
//! and `ingest` share: the ignore file and the gate.

pub mod db;
pub mod deps;
pub mod ingest;
pub mod secrets;

use std::path::PathBuf;

use soak_core::exit::usage;
use soak_core::record::Record;
use soak_core::report::Report;

use crate::TOOL;
use crate::audit::Outcome;
use crate::cli::GateArgs;
use crate::ignore;
use crate::report::{AuditBody, Extra};
use crate::severity::Severity;

/// The ignores of `--ignore-file` (else `.seccheck.toml` when present) and the file read.
pub(crate) fn load_ignores(
    args: &GateArgs,
) -> anyhow::Result<(Vec<ignore::Ignore>, Option<PathBuf>)> {
    let path = match &args.ignore_file {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(".seccheck.toml")).filter(|p| p.is_file()),
    };
    match path {
        Some(p) => Ok((ignore::load(&p).map_err(usage)?, Some(p))),
        None => Ok((Vec::new(), None)),
    }
}

/// Paths as a summary lists them.
pub(crate) fn shown_paths(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.display().to_string()).collect()
}

/// Today's date (UTC), against which ignores expire.
pub(crate) fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

fn severity_counts(o: &Outcome, mut summary: Record) -> Record {
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let n = o
            .findings
            .iter()
            .filter(|f| f.ignored.is_none() && f.severity == s)
            .count();
        summary.insert(s.as_str(), n);
    }
    summary
}

/// The gate's report: the summary's counts and verdict, a note, and a failed check per
/// failing finding, expired ignore and `stale` (a stale database's message).
pub(crate) fn finish(o: Outcome, args: &GateArgs, mut extra: Extra, stale: &[String]) -> Report {
    let ok = o.passes(args.fail_on) && stale.is_empty();
    let failing = o.findings.iter().filter(|f| f.fails(args.fail_on)).count();
    let ignored = o
        .findings
        .iter()
        .chain(&o.warnings)
        .filter(|f| f.ignored.is_some())
        .count();
    extra.summary = severity_counts(&o, extra.summary)
        .with("vulnerabilities", o.findings.len())
        .with("failing", failing)
        .with("ignored", ignored)
        .with("warnings", o.warnings.len())
        .with("expired_ignores", o.expired.len())
        .with("fail_on", args.fail_on.as_str())
        .with("unknown_severity", args.unknown_severity.as_str())
        .with("ok", ok);
    extra.notes.push(format!(
        "{} vulnerabilit{} ({failing} at or above {}, {ignored} ignored), {} warning(s): {}",
        o.findings.len(),
        if o.findings.len() == 1 { "y" } else { "ies" },
        args.fail_on.as_str(),
        o.warnings.len(),
        if ok { "gate passed" } else { "gate FAILED" }
    ));
    let mut failed: Vec<String> = o
        .findings
        .iter()
        .filter(|f| f.fails(args.fail_on))
        .map(|f| {
            format!(
                "{} {} {}: {} ({})",
                f.package,
                f.version,
                f.id,
                f.title,
                f.severity.as_str()
            )
        })
        .collect();
    for ig in &o.expired {
        failed.push(format!("seccheck: ignore of {} expired", ig.id));
        eprintln!(
            "seccheck: ignore of {} expired on {} (reason: {}); it no longer applies and fails the gate",
            ig.id,
            ig.expires.map_or_else(String::new, |d| d.to_string()),
            ig.reason
        );
    }
    failed.extend(stale.iter().cloned());
    let heading = extra.summary_command().to_string();
    let body = AuditBody {
        outcome: o,
        fail_on: args.fail_on,
        extra,
    };
    let report = failed
        .into_iter()
        .fold(Report::new(TOOL, body).heading(heading), Report::fail);
    debug_assert_eq!(report.exit_code(), soak_core::ExitCode::from_checks(ok));
    report
}
