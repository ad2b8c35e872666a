//! `--watch-path`: the size of a file or a directory tree in every sample (an artifacts
//! folder, a log directory, a SQLite `-wal` file), as flat fields `watch_<slug>_bytes`.
//!
//! The size is the sum of the apparent sizes (`st_size`) of regular files, symlinks not
//! followed, so it matches `du --apparent-size -sb`. A large directory costs a walk per
//! sample: watch the folders that matter, not `/`.

use std::path::{Path, PathBuf};

use crate::system::Metric;

/// A watched path and its field name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Watch {
    /// The path as given.
    pub path: PathBuf,
    /// `watch_<slug>_bytes`.
    pub field: String,
}

/// The slug of a path: its final component, lower-cased, every non-alphanumeric as `_`.
pub fn slug(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string_lossy().into_owned());
    let s = soak_core::record::field_name_part(&name);
    if s.is_empty() { "root".into() } else { s }
}

/// Field names for the watched paths; a slug taken twice gets `_2`, `_3`, ...
pub fn watches(paths: &[PathBuf]) -> Vec<Watch> {
    let mut out: Vec<Watch> = Vec::with_capacity(paths.len());
    for path in paths {
        let base = slug(path);
        let mut field = format!("watch_{base}_bytes");
        let mut n = 2;
        while out.iter().any(|w| w.field == field) {
            field = format!("watch_{base}_{n}_bytes");
            n += 1;
        }
        out.push(Watch {
            path: path.clone(),
            field,
        });
    }
    out
}

/// Apparent size of a file, or of every file under a directory.
pub fn size(path: &Path) -> Metric<u64> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| format!("{}: {e}", soak_core::pathtext::shown(path)))?;
    if !meta.is_dir() {
        return Ok(meta.len());
    }
    let mut total = 0u64;
    for entry in walkdir::WalkDir::new(path).follow_links(false) {
        // Files deleted during the walk (rotation) are simply not counted.
        let Ok(entry) = entry else { continue };
        if entry.file_type().is_file() {
            total += entry.metadata().map_or(0, |m| m.len());
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_flat_snake_case_and_unique() {
        assert_eq!(slug(Path::new("/var/lib/bot/State.db-wal")), "state_db_wal");
        assert_eq!(slug(Path::new("artifacts/soak/")), "soak");
        assert_eq!(slug(Path::new("/")), "_");
        let w = watches(&[PathBuf::from("a/logs"), PathBuf::from("b/logs")]);
        assert_eq!(w[0].field, "watch_logs_bytes");
        assert_eq!(w[1].field, "watch_logs_2_bytes");
    }

    #[test]
    fn sizes_files_and_trees() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("a.log"), vec![b'x'; 1000]).expect("write");
        std::fs::write(dir.path().join("sub/b.log"), vec![b'y'; 234]).expect("write");
        assert_eq!(size(dir.path()), Ok(1234));
        assert_eq!(size(&dir.path().join("a.log")), Ok(1000));
        assert!(size(&dir.path().join("missing")).is_err());
    }
}
