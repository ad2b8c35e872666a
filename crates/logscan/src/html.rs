//! `--html FILE`: the log as one self-contained page (soak-report draws it: the events as marks
//! on a time axis, the checks table, the summary's figures).

use std::path::Path;

use soak_core::exit::{environment, usage};
use soak_report::inputs::{EventLine, Kind, VerdictRow};

use crate::report::{Check, Outcome};
use crate::scan::Event;

/// Refuses, before any scanning, a page that could not be created: `path` already exists (a
/// file or a symlink: the page is never written over or through one).
pub fn preflight(path: &Path) -> anyhow::Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(usage(format!(
            "--html {}: already exists (the page is created, never written over)",
            path.display()
        )));
    }
    Ok(())
}

/// The event as a mark; `None` when its line had no time of its own or before it.
pub fn mark(e: &Event) -> Option<EventLine> {
    Some(EventLine {
        kind: Kind::Event,
        tool: "logscan".into(),
        timestamp_unix: Some(e.time?),
        what: Some(e.kind.clone()),
        severity: Some(e.severity.clone()),
        text: Some(e.text.clone()),
        file: Some(e.file.clone()),
        line: Some(e.line),
        ..EventLine::default()
    })
}

/// Renders the page and creates it at `path` (exit 2 when it exists or is a symlink, 3 when
/// it cannot be written).
pub fn write(
    path: &Path,
    inputs: &[String],
    marks: Vec<EventLine>,
    span: Option<(f64, f64)>,
    checks: &[Check],
    figures: Vec<(String, String)>,
) -> anyhow::Result<()> {
    let rows = checks
        .iter()
        .map(|c| VerdictRow {
            metric: c.name.clone(),
            threshold: c.threshold.clone(),
            value: soak_core::output::cell(&c.measured),
            status: c.outcome.as_str().to_string(),
            detail: if c.outcome == Outcome::Fail {
                crate::report::finding_for(c)
                    .get_str("message")
                    .unwrap_or_default()
                    .to_string()
            } else {
                String::new()
            },
        })
        .collect();
    let page = soak_report::render_log(inputs.to_vec(), marks, span, rows, figures)
        .map_err(environment)?;
    soak_report::write_page(path, &page).map_err(|e| match &e {
        // O_CREAT|O_EXCL: a symlink planted there is "exists" too.
        soak_report::ReportError::Write { error, .. }
            if error.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            usage(format!("--html {e}"))
        }
        _ => environment(format!("--html {e}")),
    })
}

/// Marks kept for the page while the log is scanned.
pub type Marks = Option<Vec<EventLine>>;

/// Keeps `e` as a mark when a page is wanted.
pub fn keep(marks: &mut Marks, e: &Event) {
    if let (Some(kept), Some(m)) = (marks.as_mut(), mark(e)) {
        kept.push(m);
    }
}
