//! `--html FILE`: the recording as one self-contained page (soak-report draws it: memory with
//! the judged window and fitted trend, CPU, disk, fds/threads on one time axis, the checks).

use std::path::{Path, PathBuf};

use soak_core::exit::{environment, usage};
use soak_core::input::InputSource;

use crate::model::Analysis;

/// Refuses, before any reading, a page that could not be created: `path` already exists (a
/// file or a symlink: the page is never written over or through one), or an input is stdin or
/// a FIFO, which cannot be read again to draw the charts.
pub fn preflight<S: AsRef<std::ffi::OsStr>>(
    path: &Path,
    inputs: &[S],
) -> anyhow::Result<Vec<PathBuf>> {
    if std::fs::symlink_metadata(path).is_ok() {
        return Err(usage(format!(
            "--html {}: already exists (the page is created, never written over)",
            path.display()
        )));
    }
    crate::inputs::sources(inputs)?
        .into_iter()
        .map(|src| match src {
            InputSource::File(p) if std::fs::metadata(&p).is_ok_and(|m| m.is_file()) => Ok(p),
            other => Err(usage(format!(
                "--html: {} is not a regular file; the page reads the recording again to draw it",
                other.display_name()
            ))),
        })
        .collect()
}

/// Renders `files` with the analysis `doc` and creates the page at `path` (exit 2 when it
/// exists or is a symlink, 3 when it cannot be written).
pub fn write(path: &Path, files: &[PathBuf], doc: &Analysis) -> anyhow::Result<()> {
    // soak-report draws from the analysis as JSON (the shape `--write-analysis` writes).
    let doc = serde_json::to_value(doc)?;
    let page = soak_report::render_resources(files, &doc).map_err(environment)?;
    soak_report::write_page(path, &page).map_err(|e| match &e {
        soak_report::ReportError::Write { error, .. }
            // O_CREAT|O_EXCL: a symlink planted there is "exists" too.
            if error.kind() == std::io::ErrorKind::AlreadyExists =>
        {
            usage(format!("--html {e}"))
        }
        _ => environment(format!("--html {e}")),
    })
}
