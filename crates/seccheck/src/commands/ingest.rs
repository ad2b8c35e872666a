//! `seccheck ingest`: cargo-audit and pip-audit reports, through the same gate as `deps`.

use std::path::PathBuf;

use soak_core::exit::usage;
use soak_core::record::{Record, RecordType};
use soak_core::report::Report;

use super::{finish, load_ignores, shown_paths, today};
use crate::TOOL;
use crate::audit::Outcome;
use crate::cli::GateArgs;
use crate::ingest;
use crate::report::Extra;

/// `seccheck ingest`.
pub fn ingest(files: &[PathBuf], args: &GateArgs) -> anyhow::Result<Report> {
    let (ignores, ignore_path) = load_ignores(args)?;
    let mut outcome = Outcome::default();
    let mut kinds = Vec::new();
    let mut deps = 0usize;
    let mut records = Vec::new();
    for f in files {
        let got = ingest::ingest_file(f, args.unknown_severity, &mut outcome).map_err(usage)?;
        kinds.push(got.kind.as_str());
        deps += got.dependencies;
        for (name, reason) in got.not_audited {
            eprintln!(
                "seccheck: warning: {}: {name} was not audited: {reason}",
                f.display()
            );
            records.push(
                Record::new(RecordType::Event, TOOL)
                    .with("event", "warning")
                    .with("warning", "not_audited")
                    .with("report", f.display().to_string())
                    .with("package", name)
                    .with("reason", reason),
            );
        }
    }
    outcome.apply_ignores(&ignores, today());
    let summary = Record::new(RecordType::Summary, TOOL)
        .with("command", "ingest")
        .with("reports", shown_paths(files))
        .with("report_kinds", kinds)
        .with("dependencies", deps)
        .with("dependencies_not_audited", records.len())
        .with("ignore_file", ignore_path.map(|p| p.display().to_string()));
    let notes = vec![format!(
        "{} report(s), {deps} dependencies, {} not audited by the reporting tool",
        files.len(),
        records.len()
    )];
    Ok(finish(
        outcome,
        args,
        Extra {
            records,
            summary,
            notes,
        },
        &[],
    ))
}
