//! How old an advisory database is: the commit time of its git HEAD when it is a git
//! checkout, else the newest advisory file's modification time. Fails closed: an age that
//! cannot be told is an error, never "fresh".

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How far ahead of the local clock a database time may be (another machine's clock).
pub const CLOCK_SKEW: Duration = Duration::from_secs(3600);

/// Why the age cannot be told.
#[derive(Debug, thiserror::Error)]
pub enum AgeError {
    /// A git checkout whose HEAD commit time cannot be read.
    #[error("advisory database {0}: a git checkout, but its HEAD commit time cannot be read: {1}")]
    Git(String, String),
    /// No file times.
    #[error("advisory database {0}: no advisory file time to tell its age")]
    NoTime(String),
}

/// Where the time came from and the time itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// The HEAD commit's committer time.
    GitHead(SystemTime),
    /// The newest advisory file's modification time.
    FileMtime(SystemTime),
    /// When `seccheck db update` downloaded it (a cached OSV export).
    Downloaded(SystemTime),
}

impl Stamp {
    /// The time.
    pub fn time(self) -> SystemTime {
        match self {
            Stamp::GitHead(t) | Stamp::FileMtime(t) | Stamp::Downloaded(t) => t,
        }
    }

    /// `git_head`, `file_mtime` or `download_time`.
    pub fn source(self) -> &'static str {
        match self {
            Stamp::GitHead(_) => "git_head",
            Stamp::FileMtime(_) => "file_mtime",
            Stamp::Downloaded(_) => "download_time",
        }
    }

    /// How far the time is ahead of `now`, when it is more than [`CLOCK_SKEW`] ahead (a file
    /// time of 2099 must not read as "fresh").
    pub fn ahead_of(self, now: SystemTime) -> Option<Duration> {
        self.time()
            .duration_since(now)
            .ok()
            .filter(|d| *d > CLOCK_SKEW)
    }

    /// The age at `now` (zero for a time in the future).
    pub fn age(self, now: SystemTime) -> Duration {
        now.duration_since(self.time()).unwrap_or_default()
    }
}

/// The stamp of `dir`: git HEAD when `dir/.git` exists, else `newest_mtime`.
pub fn stamp(dir: &Path, newest_mtime: Option<SystemTime>) -> Result<Stamp, AgeError> {
    let name = dir.display().to_string();
    if dir.join(".git").exists() {
        let out = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(["log", "-1", "--format=%ct", "HEAD"])
            .output()
            .map_err(|e| AgeError::Git(name.clone(), e.to_string()))?;
        if !out.status.success() {
            return Err(AgeError::Git(
                name,
                String::from_utf8_lossy(&out.stderr).trim().to_string(),
            ));
        }
        let secs: u64 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| AgeError::Git(name.clone(), "unexpected git output".to_string()))?;
        return Ok(Stamp::GitHead(UNIX_EPOCH + Duration::from_secs(secs)));
    }
    newest_mtime
        .map(Stamp::FileMtime)
        .ok_or(AgeError::NoTime(name))
}
