//! Deciding what to do with a directory's files: per-step and per-run retention, compression,
//! rotation of live logs, and the disk budget, never touching a file open for writing, the
//! newest file of a step, or anything outside the directory.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::compress::{Codec, is_leftover_tmp};
use crate::inventory::Entry;
use crate::rotate::Mode;

/// The policy, from the flags.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// Keep the N newest files of each step group.
    pub keep_per_step: Option<usize>,
    /// Keep the K newest run directories directly under DIR.
    pub keep_runs: Option<usize>,
    /// Compress old files with this codec.
    pub compress: Option<Codec>,
    /// Only compress files untouched this long (then the newest of a group too).
    pub compress_after: Option<Duration>,
    /// Rotate live files larger than this.
    pub max_size: Option<u64>,
    /// How to rotate them.
    pub rotate: Option<Mode>,
    /// The disk budget.
    pub max_total: Option<u64>,
}

/// One thing to do.
#[derive(Debug, Clone)]
pub enum Step {
    /// Remove a leftover temporary file of an interrupted run.
    Cleanup(PathBuf, u64),
    /// Remove a whole old run directory.
    DeleteRun(PathBuf, u64, String),
    /// Remove a file.
    Delete(PathBuf, u64, String),
    /// Compress a file.
    Compress(PathBuf, u64, Codec),
    /// Rotate a live file.
    Rotate(PathBuf, u64, Mode),
    /// Leave a file alone, and why.
    Skip(PathBuf, u64, String),
}

/// A number in a name (`run-1795371109`, `20261122T1015`) to order run directories by.
fn name_stamp(name: &str) -> Option<u64> {
    let digits: String = name.chars().filter(char::is_ascii_digit).take(19).collect();
    (digits.len() >= 4).then(|| digits.parse().ok()).flatten()
}

fn within(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}

/// Orders the files of a step newest first. An archive is always made from an older file, so
/// uncompressed files come before archives whatever their mtimes (an archive stamped with the
/// time it was made, by another tool or an earlier version, can never make the live log look
/// old); within each kind, by the log's own time (its mtime, which compression keeps on the
/// archive); on a tie the shorter name first (`app.log` before `app.log.20261122...`).
fn newest_first(a: &Entry, b: &Entry) -> std::cmp::Ordering {
    a.compressed
        .cmp(&b.compressed)
        .then(b.mtime.cmp(&a.mtime))
        .then(a.path.as_os_str().len().cmp(&b.path.as_os_str().len()))
        .then(a.path.cmp(&b.path))
}

/// Phase one: cleanup, run retention, step retention, rotation and compression.
pub fn plan_retention(dir: &Path, files: &[Entry], policy: &Policy, now: SystemTime) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut gone: HashSet<PathBuf> = HashSet::new();

    for f in files.iter().filter(|f| is_leftover_tmp(&f.path)) {
        if f.open_for_write {
            steps.push(Step::Skip(
                f.path.clone(),
                f.size,
                "temporary file in use".into(),
            ));
        } else {
            steps.push(Step::Cleanup(f.path.clone(), f.size));
        }
        gone.insert(f.path.clone());
    }

    if let Some(keep) = policy.keep_runs {
        let mut runs: Vec<(PathBuf, u64, SystemTime)> = std::fs::read_dir(dir)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| {
                        let name = e.file_name().to_string_lossy().into_owned();
                        let mtime = e
                            .metadata()
                            .and_then(|m| m.modified())
                            .unwrap_or(SystemTime::UNIX_EPOCH);
                        (e.path(), name_stamp(&name).unwrap_or(0), mtime)
                    })
                    .collect()
            })
            .unwrap_or_default();
        // Newest first: by the number in the name, then mtime, then name (a tie of coarse
        // mtimes must not leave the choice to the directory's listing order).
        runs.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)).then(b.0.cmp(&a.0)));
        for (run, _, _) in runs.into_iter().skip(keep) {
            let inside: Vec<&Entry> = files.iter().filter(|f| within(&f.path, &run)).collect();
            let bytes = inside.iter().map(|f| f.size).sum();
            if let Some(open) = inside.iter().find(|f| f.open_for_write) {
                steps.push(Step::Skip(
                    run.clone(),
                    bytes,
                    format!(
                        "old run, but {} is open for writing",
                        soak_core::pathtext::shown(&open.path)
                    ),
                ));
                continue;
            }
            steps.push(Step::DeleteRun(
                run.clone(),
                bytes,
                format!("older than the {keep} newest runs"),
            ));
            gone.extend(inside.iter().map(|f| f.path.clone()));
        }
    }

    let mut groups: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for f in files.iter().filter(|f| !gone.contains(&f.path)) {
        groups.entry(f.group.as_str()).or_default().push(f);
    }
    for members in groups.values_mut() {
        members.sort_by(|a, b| newest_first(a, b));
        for (i, f) in members.iter().enumerate() {
            let newest = i == 0;
            if let Some(keep) = policy.keep_per_step
                && i >= keep
            {
                if f.open_for_write {
                    steps.push(Step::Skip(
                        f.path.clone(),
                        f.size,
                        "beyond --keep-per-step, but open for writing".into(),
                    ));
                } else {
                    steps.push(Step::Delete(
                        f.path.clone(),
                        f.size,
                        format!("older than the {keep} newest of its step"),
                    ));
                    continue;
                }
            }
            // Only the live file (the newest of its step) is rotated, never a rotated one.
            if let (Some(max), Some(mode)) = (policy.max_size, policy.rotate)
                && newest
                && f.size > max
                && !f.compressed
            {
                steps.push(Step::Rotate(f.path.clone(), f.size, mode));
                continue;
            }
            if let Some(codec) = policy.compress
                && !f.compressed
                && !f.open_for_write
            {
                let age = now.duration_since(f.mtime).unwrap_or_default();
                let eligible = match policy.compress_after {
                    Some(after) => age >= after,
                    None => !newest,
                };
                if eligible {
                    steps.push(Step::Compress(f.path.clone(), f.size, codec));
                }
            }
        }
    }
    steps
}

/// What carrying out a step did, or (in a dry run) would do: the planner's input for phase
/// two, the same in both modes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// The file or run directory is gone.
    Gone,
    /// The file was replaced by its archive, which keeps its time.
    Compressed {
        /// The archive.
        archive: PathBuf,
        /// Its size.
        bytes: u64,
        /// Its identity (`None` in a dry run: it is not on disk).
        id: Option<crate::safefs::FileId>,
    },
    /// The live file's first `moved` bytes are now in `to`.
    Rotated {
        /// The rotated part.
        to: PathBuf,
        /// Bytes moved.
        moved: u64,
        /// `rename`, `collapse_range` or `copy_truncate`.
        method: &'static str,
    },
    /// Nothing changed (a skip, or the file vanished meanwhile).
    Nothing,
}

/// The files as phase one leaves them: the scan with every step's effect applied (deleted
/// files and runs gone, archives in their originals' place with their times, rotated parts
/// added as made by this pass). Steps that failed leave their file as it was.
pub fn after_retention(files: &[Entry], done: &[(Step, Result<Effect, String>)]) -> Vec<Entry> {
    let mut effects: std::collections::HashMap<&Path, &Effect> = Default::default();
    let mut runs_gone: Vec<&Path> = Vec::new();
    for (step, result) in done {
        match (step, result) {
            (Step::DeleteRun(p, _, _), Ok(Effect::Gone)) => runs_gone.push(p),
            (
                Step::Cleanup(p, _)
                | Step::Delete(p, _, _)
                | Step::Compress(p, _, _)
                | Step::Rotate(p, _, _),
                Ok(effect),
            ) => {
                effects.insert(p, effect);
            }
            _ => {}
        }
    }
    // An archive that was already there (a crash before the original's removal, finished
    // now) is the compressed file's new self: listed once, not twice.
    let archives: HashSet<&Path> = effects
        .values()
        .filter_map(|e| match e {
            Effect::Compressed { archive, .. } => Some(archive.as_path()),
            _ => None,
        })
        .collect();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        if runs_gone.iter().any(|r| within(&f.path, r)) || archives.contains(f.path.as_path()) {
            continue;
        }
        match effects.get(f.path.as_path()) {
            Some(Effect::Gone) => {}
            Some(Effect::Compressed { archive, bytes, id }) => out.push(Entry {
                path: archive.clone(),
                size: *bytes,
                compressed: true,
                id: *id,
                ..f.clone()
            }),
            Some(Effect::Rotated { to, moved, method }) => {
                if *method != "rename" {
                    out.push(Entry {
                        size: f.size.saturating_sub(*moved),
                        ..f.clone()
                    });
                }
                out.push(Entry {
                    path: to.clone(),
                    size: *moved,
                    open_for_write: false,
                    fresh: true,
                    ..f.clone()
                });
            }
            Some(Effect::Nothing) | None => out.push(f.clone()),
        }
    }
    out
}

/// Phase two: delete the oldest files (compressed ones first) until the directory fits
/// `max_total`; never the newest of a group, never an open file. Returns the steps and the
/// total afterwards.
pub fn plan_budget(files: &[Entry], max_total: u64) -> (Vec<Step>, u64) {
    let mut total: u64 = files.iter().map(|f| f.size).sum();
    let mut newest: BTreeMap<&str, &Entry> = BTreeMap::new();
    for f in files {
        let e = newest.entry(f.group.as_str()).or_insert(f);
        if newest_first(f, e).is_lt() {
            *e = f;
        }
    }
    let mut candidates: Vec<&Entry> = files
        .iter()
        .filter(|f| {
            !f.open_for_write
                && !f.fresh
                && newest
                    .get(f.group.as_str())
                    .is_none_or(|n| n.path != f.path)
        })
        .collect();
    candidates.sort_by(|a, b| {
        b.compressed
            .cmp(&a.compressed)
            .then_with(|| newest_first(b, a))
    });
    let mut steps = Vec::new();
    for f in candidates {
        if total <= max_total {
            break;
        }
        total -= f.size;
        steps.push(Step::Delete(
            f.path.clone(),
            f.size,
            "over --max-total: oldest first".into(),
        ));
    }
    (steps, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, size: u64, age_s: u64, compressed: bool, open: bool) -> Entry {
        let g = crate::inventory::Grouping::new(None);
        let p = PathBuf::from(path);
        Entry {
            group: format!(
                "{}/{}",
                p.parent()
                    .map(|x| x.display().to_string())
                    .unwrap_or_default(),
                g.key(
                    &p.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                )
            ),
            path: p,
            size,
            mtime: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_s),
            compressed,
            open_for_write: open,
            id: None,
            fresh: false,
        }
    }

    #[test]
    fn budget_deletes_compressed_first_then_oldest_and_spares_newest_and_open() {
        let files = vec![
            entry("/d/app.log", 100, 0, false, true),
            entry("/d/app.log.1", 100, 10, false, false),
            entry("/d/app.log.2.gz", 10, 20, true, false),
            entry("/d/app.log.3.gz", 10, 30, true, false),
            entry("/d/metrics_1.csv", 500, 40, false, false),
        ];
        let (steps, total) = plan_budget(&files, 200);
        let deleted: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Delete(p, _, _) => p.display().to_string(),
                other => panic!("{other:?}"),
            })
            .collect();
        // metrics_1.csv is the newest (only) file of its step: never deleted.
        assert_eq!(
            deleted,
            vec!["/d/app.log.3.gz", "/d/app.log.2.gz", "/d/app.log.1"]
        );
        assert_eq!(total, 600);
    }

    #[test]
    fn an_archive_stamped_now_never_makes_the_live_log_look_old() {
        // app.log.1.gz was made by another tool and carries the time it was made.
        let files = vec![
            entry("/d/app.log", 500, 3600, false, false),
            entry("/d/app.log.1.gz", 100, 0, true, false),
        ];
        let policy = Policy {
            keep_per_step: Some(1),
            compress: Some(Codec::Gzip),
            ..Policy::default()
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let steps = plan_retention(Path::new("/d"), &files, &policy, now);
        let touched: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Delete(p, _, _) => format!("delete {}", p.display()),
                Step::Compress(p, _, _) => format!("compress {}", p.display()),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(touched, vec!["delete /d/app.log.1.gz"]);
        let (budget, _) = plan_budget(&files, 100);
        assert!(
            budget
                .iter()
                .all(|s| !matches!(s, Step::Delete(p, _, _) if p == Path::new("/d/app.log"))),
            "{budget:?}"
        );
    }
}
