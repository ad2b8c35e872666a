//! What is in the directories: every regular file (symlinks are never followed and never
//! touched), its step group, its run directory, and whether some process holds it open for
//! writing (on Linux from /proc/*/fd and fdinfo; elsewhere the OS does not tell, and the
//! writers are unknown).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use regex::Regex;
use soak_core::pathtext::shown;

use crate::safefs::{self, FileId};

/// One file.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Last modification.
    pub mtime: SystemTime,
    /// Already `.gz` or `.zst`.
    pub compressed: bool,
    /// The step group: parent directory plus the name with numbers, dates and rotation
    /// suffixes taken out.
    pub group: String,
    /// Some process has it open for writing.
    pub open_for_write: bool,
    /// Which file it is (device and inode; volume and file index on Windows); `None` for an
    /// archive a dry run only predicts.
    pub id: Option<FileId>,
    /// Made by this pass (a rotated part): counted, but not deleted before the next pass.
    pub fresh: bool,
}

/// Files some process holds open for writing, by identity, or `None` where the OS does not
/// list them (only Linux does, in /proc).
pub fn open_for_write() -> Option<HashSet<FileId>> {
    #[cfg(target_os = "linux")]
    return Some(writers_from_proc());
    #[cfg(not(target_os = "linux"))]
    None
}

/// Every file open for writing in /proc/*/fdinfo that this user may read.
#[cfg(target_os = "linux")]
fn writers_from_proc() -> HashSet<FileId> {
    use std::os::unix::fs::MetadataExt;
    let mut set = HashSet::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return set;
    };
    for p in procs.filter_map(Result::ok) {
        if !p
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.filter_map(Result::ok) {
            let info = std::fs::read_to_string(p.path().join("fdinfo").join(fd.file_name()))
                .unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .unwrap_or(0);
            let accmode = flags & libc::O_ACCMODE as u32;
            if accmode != libc::O_WRONLY as u32 && accmode != libc::O_RDWR as u32 {
                continue;
            }
            if let Ok(m) = std::fs::metadata(fd.path())
                && m.is_file()
            {
                set.insert(FileId::from_dev_ino(m.dev(), m.ino()));
            }
        }
    }
    set
}

/// How file names are grouped into steps.
pub struct Grouping {
    custom: Option<Regex>,
    suffix: Regex,
    stamps: Regex,
    runs: Regex,
    index: Regex,
}

impl Grouping {
    /// The default grouping, or `--step-pattern` (its `step` group names the step).
    pub fn new(custom: Option<Regex>) -> Grouping {
        Grouping {
            custom,
            suffix: Regex::new(r"(\.(gz|zst|tmp))+$|(\.\d+)+$").unwrap_or_else(|_| unreachable!()),
            // Dates and times (2026-11-22, 20261122T101500, 2026-11-22_10-15) and any number of
            // six digits or more (Unix times, stamps).
            stamps: Regex::new(
                r"\d{6,}(?:T\d{4,6})?|\d{4}-\d{2}-\d{2}(?:[T_ ]\d{2}[:-]?\d{2}(?:[:-]?\d{2})?)?",
            )
            .unwrap_or_else(|_| unreachable!()),
            // Run, iteration and attempt numbers: run3, run-14, iter_2.
            runs: Regex::new(r"(?i)(run|iter|iteration|attempt|try|part|seq)[-_]?\d+")
                .unwrap_or_else(|_| unreachable!()),
            // A rotation index just before the extension: app_3.log, app-12.csv.
            index: Regex::new(r"[-_.]\d+(\.[A-Za-z][A-Za-z0-9]*)?$")
                .unwrap_or_else(|_| unreachable!()),
        }
    }

    /// The step key of a file name.
    pub fn key(&self, name: &str) -> String {
        if let Some(re) = &self.custom
            && let Some(step) = re.captures(name).and_then(|c| c.name("step"))
        {
            return step.as_str().to_string();
        }
        let mut base = name.to_string();
        loop {
            let stripped = self.suffix.replace(&base, "").into_owned();
            if stripped == base {
                break;
            }
            base = stripped;
        }
        let base = self.stamps.replace_all(&base, "#");
        let base = self.runs.replace_all(&base, "${1}#");
        self.index.replace(&base, "#${1}").into_owned()
    }
}

/// Why a directory cannot be managed.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The directory itself cannot be read.
    #[error("{0}: {1}")]
    Unreadable(String, std::io::Error),
}

/// The regular files found, and the paths left alone with the reason.
pub type Inventory = (Vec<Entry>, Vec<(PathBuf, String)>);

/// Every regular file under `dir`, with the paths it could not read (skipped, with reasons).
pub fn scan(
    dir: &Path,
    grouping: &Grouping,
    open: Option<&HashSet<FileId>>,
) -> Result<Inventory, InventoryError> {
    std::fs::read_dir(dir).map_err(|e| InventoryError::Unreadable(shown(dir), e))?;
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    for item in walkdir::WalkDir::new(dir).follow_links(false) {
        let item = match item {
            Ok(i) => i,
            Err(e) => {
                let path = e
                    .path()
                    .map(Path::to_path_buf)
                    .unwrap_or_else(|| dir.to_path_buf());
                // Vanished while walking: not an error; unreadable: say so.
                if e.io_error()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound)
                {
                    continue;
                }
                skipped.push((
                    path,
                    format!(
                        "unreadable: {}",
                        e.io_error()
                            .map_or_else(|| e.to_string(), |io| io.to_string())
                    ),
                ));
                continue;
            }
        };
        if item.file_type().is_symlink() {
            skipped.push((
                item.path().to_path_buf(),
                "symlink: never followed or touched".into(),
            ));
            continue;
        }
        if !item.file_type().is_file() {
            continue;
        }
        let Ok(meta) = item.metadata() else { continue };
        // Names as lossless text: two names that differ only in non-UTF-8 bytes are two steps.
        let name = shown(Path::new(item.file_name()));
        let parent = item.path().parent().map(shown).unwrap_or_default();
        let Ok(id) = safefs::file_id(item.path(), &meta) else {
            continue;
        };
        files.push(Entry {
            path: item.path().to_path_buf(),
            size: meta.len(),
            mtime: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            compressed: name.ends_with(".gz") || name.ends_with(".zst"),
            group: format!("{parent}/{}", grouping.key(&name)),
            open_for_write: open.is_some_and(|o| o.contains(&id)),
            id: Some(id),
            fresh: false,
        });
    }
    Ok((files, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_keys_ignore_runs_dates_timestamps_and_rotation_suffixes() {
        let g = Grouping::new(None);
        let same = [
            "soak_windows.log",
            "soak_windows.log.1",
            "soak_windows.log.2.gz",
        ];
        assert!(
            same.iter().all(|n| g.key(n) == g.key(same[0])),
            "{:?}",
            same.map(|n| g.key(n))
        );
        assert_eq!(
            g.key("metrics_run3_20261122T101500.csv"),
            g.key("metrics_run14_20261123T000001.csv")
        );
        assert_ne!(g.key("metrics_run3.csv"), g.key("latency_run3.csv"));
        assert_eq!(g.key("step00_0.log"), g.key("step00_7.log"));
        assert_ne!(
            g.key("step00_0.log"),
            g.key("step01_0.log"),
            "step numbers are not run numbers"
        );
        assert_eq!(
            g.key("resources-1795371109.jsonl"),
            g.key("resources-1795371200.jsonl")
        );
        assert_eq!(
            g.key("bot_2026-11-22_10-15.log"),
            g.key("bot_2026-11-23_08-00.log")
        );
        let custom = Grouping::new(Regex::new(r"^(?P<step>[a-z]+)_").ok());
        assert_eq!(custom.key("resources_a1.jsonl"), "resources");
    }
}
