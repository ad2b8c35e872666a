//! The run directory's files: a rotated log's parts in order, a file another process writes,
//! the free space left.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The parts of a rotated log in the order they were written: `name.STAMP[.N][.gz|.zst]`
/// oldest first (by stamp, then N), then the live file.
pub fn log_parts(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut parts: Vec<((u64, u64), PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            let rest = file.strip_prefix(name)?.strip_prefix('.')?;
            let rest = rest
                .strip_suffix(".gz")
                .or_else(|| rest.strip_suffix(".zst"))
                .unwrap_or(rest);
            let (stamp, n) = rest.split_once('.').unwrap_or((rest, "0"));
            Some(((stamp.parse().ok()?, n.parse().ok()?), e.path()))
        })
        .collect();
    parts.sort();
    let mut out: Vec<PathBuf> = parts.into_iter().map(|(_, p)| p).collect();
    out.push(dir.join(name));
    out
}

pub fn wait_for_file(path: &Path, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(t) = std::fs::read_to_string(path)
            && t.ends_with('\n')
        {
            return Some(t.trim().to_string());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}
