//! `soak-report`: one self-contained HTML page for a soak run (issue 20).
//!
//! [`render_run_dir`] reads a run directory (`summary.json`, `resources.jsonl`,
//! `resources.analysis.json`, `health.jsonl`, `logscan-follow.jsonl`, the findings; each
//! possibly gzip-compressed) and returns the page: the verdict table with each failed row's
//! reason and evidence links, the charts (memory with the judged window and fitted trend, the
//! service's CPU, disk, fds/threads, health latency and availability, log events as marks) on
//! one shared time axis, the findings, the run's configuration and links to the raw artifacts.
//! Nothing on the page is fetched: inline SVG and CSS, no script, a Content-Security-Policy
//! that forbids any request.

pub mod axis;
pub mod chart;
pub mod envelope;
pub mod events;
pub mod health;
pub mod html;
pub mod inputs;
pub mod page;
pub mod run;
mod strips;

use std::path::{Path, PathBuf};

pub use run::Run;

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
