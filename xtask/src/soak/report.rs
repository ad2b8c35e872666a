//! `report.html`: the run's one self-contained page (issue 20), written into the run
//! directory by the soak at its end and by `cargo xtask report RUN_DIR` for any run.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The page's file name inside the run directory.
pub const REPORT_FILE: &str = "report.html";

/// Renders the run directory `run_dir` into `run_dir/report.html`, created exclusively (an
/// existing file or a symlink planted there is an error, never overwritten or followed).
pub fn write_report(run_dir: &Path) -> Result<PathBuf> {
    let page = soak_report::render_run_dir(run_dir)
        .with_context(|| format!("cannot make the report of {}", run_dir.display()))?;
    let path = run_dir.join(REPORT_FILE);
    let mut file = crate::dist::safe_write::create_new(&path, 0o644)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(page.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}
