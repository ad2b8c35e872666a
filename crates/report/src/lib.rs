//! `soak-report`: one self-contained HTML page for a soak run (issue 20).
//!
//! [`render_run_dir`] reads a run directory (`summary.json`, `resources.jsonl`,
//! `resources.analysis.json`, `health.jsonl`, `logscan-follow.jsonl`, the findings; each
//! possibly gzip-compressed) and returns the page: the verdict table with each failed row's
//! reason and evidence links, the charts (memory with the judged window and fitted trend, the
//! service's CPU, disk, fds/threads, health latency and availability, log events as marks) on
//! one shared time axis, the findings, the run's configuration and links to the raw artifacts.
//! [`render_resources`] and [`render_log`] make the same page for one tool's view
//! (`resanalyze --html`, `logscan --html`), and [`write_page`] creates the file exclusively.
//! Nothing on the page is fetched: inline SVG and CSS, no script, a Content-Security-Policy
//! that forbids any request.
#![deny(unsafe_code)]

pub mod axis;
pub mod browser;
pub mod chart;
pub mod envelope;
pub mod events;
pub mod health;
pub mod html;
pub mod inputs;
pub mod page;
pub mod run;
mod strips;

use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use run::{Run, Sources, View};

use inputs::{Analysis, Summary};
use serde::Deserialize as _;

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The run directory cannot be read.
    #[error("{}: {error}", path.display())]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The run directory is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADir(PathBuf),
    /// An artifact cannot be read.
    #[error(transparent)]
    Read(soak_core::CoreError),
    /// The page's file cannot be created (it exists, is a symlink, or its directory is not
    /// writable) or written.
    #[error("{}: {error}", path.display())]
    Write {
        /// The page's file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// A tool's result is not the document the page expects.
    #[error("{what}: not the expected JSON: {error}")]
    Result {
        /// Which result.
        what: &'static str,
        /// The error.
        error: serde_json::Error,
    },
    /// A JSON document is malformed.
    #[error("{}: not the expected JSON: {error}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The error.
        error: serde_json::Error,
    },
}

/// The page for the run directory `dir`.
pub fn render_run_dir(dir: &Path) -> Result<String, ReportError> {
    Ok(page::render(&Run::load(dir)?))
}

/// The page for one resmon recording (`resanalyze --html`): `files` are the recordings in time
/// order (each read twice, streaming), `analysis` resanalyze's JSON document for them. Memory
/// with the judged window and fitted trend, CPU, disk, fds/threads on one time axis, and the
/// analysis' checks as the table.
pub fn render_resources(
    files: &[PathBuf],
    analysis: &serde_json::Value,
) -> Result<String, ReportError> {
    let analysis = Analysis::deserialize(analysis).map_err(|error| ReportError::Result {
        what: "resanalyze's analysis",
        error,
    })?;
    let mut sources = Sources::tool("resanalyze", names(files));
    sources.summary = Some(checks_summary(
        analysis.ok,
        analysis.checks.iter().map(inputs::AnalysisCheck::row),
    ));
    sources.analysis = Some(analysis);
    sources.resources = files.to_vec();
    Ok(page::render(&Run::build(sources)?))
}

/// The page for logs (`logscan --html`): `events` are logscan's `event` and `finding` records
/// (marks on the time axis), `span` the log's first and last timestamps (Unix s), `checks` its
/// checks as the table, `figures` the summary's headline figures (name, value).
pub fn render_log(
    inputs: Vec<String>,
    events: Vec<inputs::EventLine>,
    span: Option<(f64, f64)>,
    checks: Vec<inputs::VerdictRow>,
    figures: Vec<(String, String)>,
) -> Result<String, ReportError> {
    let mut sources = Sources::tool("logscan", inputs);
    sources.span = span;
    sources.summary = Some(checks_summary(None, checks.into_iter()));
    sources.events = events;
    sources.figures = figures;
    Ok(page::render(&Run::build(sources)?))
}

fn names(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|f| f.display().to_string()).collect()
}

/// A tool's checks as the page's table; `ok` when every row that ran passed, unless the tool
/// said otherwise.
fn checks_summary(ok: Option<bool>, rows: impl Iterator<Item = inputs::VerdictRow>) -> Summary {
    let rows: Vec<_> = rows.collect();
    Summary {
        ok: ok.unwrap_or_else(|| rows.iter().all(|r| r.status != "fail")),
        rows,
        ..Summary::default()
    }
}

/// Writes `page` as `path`, created exclusively: an existing file, or a symlink planted there,
/// is an error naming it, never overwritten or followed.
pub fn write_page(path: &Path, page: &str) -> Result<(), ReportError> {
    let fail = |error| ReportError::Write {
        path: path.to_path_buf(),
        error,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW).mode(0o644);
    }
    // A symlink or junction at the name is opened itself (and so is "already there").
    #[cfg(windows)]
    std::os::windows::fs::OpenOptionsExt::custom_flags(
        &mut options,
        windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT,
    );
    let mut file = options.open(path).map_err(fail)?;
    file.write_all(page.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(fail)
}
