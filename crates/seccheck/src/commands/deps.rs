//! `seccheck deps`: lockfiles against advisory databases, through the gate.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use soak_core::exit::{environment, usage};
use soak_core::record::{Finding, Record, RecordType};
use soak_core::report::Report;

use super::{finish, load_ignores, shown_paths, today};
use crate::TOOL;
use crate::audit;
use crate::cli::{GateArgs, SourceArgs};
use crate::report::Extra;
use crate::severity::Severity;
use crate::{db, dbage, dbupdate, lockfile};

/// Which databases `deps` reads: the `--db` directories, else the cache.
#[derive(Debug, Clone)]
pub struct DbChoice {
    /// `--db` directories (empty: the cache).
    pub dirs: Vec<PathBuf>,
    /// The cache and its sources.
    pub source: SourceArgs,
    /// `--offline`.
    pub offline: bool,
}

/// `seccheck deps`.
pub fn deps(
    paths: &[PathBuf],
    choice: &DbChoice,
    max_db_age: Option<Duration>,
    strict: bool,
    args: &GateArgs,
) -> anyhow::Result<Report> {
    let started = std::time::Instant::now();
    let (ignores, ignore_path) = load_ignores(args)?;
    let inv = lockfile::read_all(paths).map_err(usage)?;
    if inv.lockfiles.is_empty() {
        return Err(usage(format!(
            "no lockfile (Cargo.lock, requirements*.txt, poetry.lock, uv.lock) under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let crates: HashSet<String> = inv
        .packages
        .iter()
        .filter(|p| p.ecosystem == lockfile::Ecosystem::CratesIo)
        .map(|p| p.name.clone())
        .collect();
    let mut records = Vec::new();
    let from_cache = choice.dirs.is_empty();
    // With the cache, `_cached` holds its shared lock until the audit is done.
    let (db_dirs, _cached) = if from_cache {
        let ecosystems = inv.packages.iter().map(|p| p.ecosystem).collect();
        let policy = dbupdate::CachePolicy {
            max_age: max_db_age,
            offline: choice.offline,
        };
        let cached = dbupdate::cached_for(&ecosystems, &choice.source, policy, &mut records)?;
        (cached.dirs.clone(), Some(cached))
    } else {
        let dirs = choice
            .dirs
            .iter()
            .map(|d| dbupdate::DbDir {
                path: d.clone(),
                stamp: None,
            })
            .collect();
        (dirs, None)
    };
    let dbs: Vec<PathBuf> = db_dirs.iter().map(|d| d.path.clone()).collect();
    let database = db::load(&dbs, &crates, strict, max_db_age.is_some()).map_err(|e| match e {
        db::DbError::TooBroken { .. } => environment(e),
        _ => usage(e),
    })?;
    for b in &database.broken {
        eprintln!(
            "seccheck: warning: broken advisory skipped: {}: {}",
            b.file.display(),
            b.message
        );
        records.push(
            Record::new(RecordType::Event, TOOL)
                .with("event", "warning")
                .with("warning", "broken_advisory")
                .with("file", b.file.display().to_string())
                .with("message", b.message.as_str()),
        );
    }
    for s in &inv.skipped {
        records.push(
            Record::new(RecordType::Event, TOOL)
                .with("event", "skipped")
                .with("lockfile", s.lockfile.display().to_string())
                .with("package", s.what.as_str())
                .with("reason", s.reason.as_str()),
        );
    }
    let mut stale = Vec::new();
    let mut notes = Vec::new();
    if let Some(max) = max_db_age {
        for d in &db_dirs {
            let dir = &d.path;
            let stamp = match d.stamp {
                Some(s) => s,
                None => dbage::stamp(dir, database.newest_mtime).map_err(environment)?,
            };
            let now = SystemTime::now();
            if let Some(ahead) = stamp.ahead_of(now) {
                return Err(environment(format!(
                    "advisory database {}: its time ({}) is {} in the future; its age cannot be told",
                    dir.display(),
                    stamp.source(),
                    soak_core::units::format_duration(ahead)
                )));
            }
            let age = stamp.age(now);
            let fresh = age <= max;
            if !fresh {
                let msg = format!(
                    "advisory database {} is {} old ({}), older than --max-db-age {}",
                    dir.display(),
                    soak_core::units::format_duration(age),
                    stamp.source(),
                    soak_core::units::format_duration(max)
                );
                eprintln!("seccheck: {msg}");
                records.push(
                    Finding::new("stale_database", Severity::High, &msg)
                        .with("database", dir.display().to_string())
                        .with("age_s", age.as_secs())
                        .with("max_age_s", max.as_secs())
                        .with("age_source", stamp.source())
                        .with("fails_gate", true)
                        .into_record(TOOL),
                );
                notes.push(msg.clone());
                stale.push(msg);
            }
        }
    }
    let mut outcome = audit::audit(&inv, &database, args.unknown_severity);
    outcome.apply_ignores(&ignores, today());
    let skipped_note = if inv.skipped.is_empty() {
        String::new()
    } else {
        format!(", {} not checked (path/git/unpinned)", inv.skipped.len())
    };
    notes.insert(
        0,
        format!(
            "{} package(s) in {} lockfile(s){skipped_note}; {} advisories read from {} database(s), {} broken, {} withdrawn",
            inv.packages.len(),
            inv.lockfiles.len(),
            database.files_read,
            dbs.len(),
            database.broken.len(),
            database.withdrawn
        ),
    );
    let summary = Record::new(RecordType::Summary, TOOL)
        .with("command", "deps")
        .with("lockfiles", shown_paths(&inv.lockfiles))
        .with("packages", inv.packages.len())
        .with("packages_skipped", inv.skipped.len())
        .with("advisories_read", database.files_read)
        .with("advisories_broken", database.broken.len())
        .with("advisories_withdrawn", database.withdrawn)
        .with("database_ok", stale.is_empty())
        .with("databases", shown_paths(&dbs))
        .with("database_source", if from_cache { "cache" } else { "db" })
        .with("ignore_file", ignore_path.map(|p| p.display().to_string()))
        .with("elapsed_ms", started.elapsed().as_millis() as u64);
    Ok(finish(
        outcome,
        args,
        Extra {
            records,
            summary,
            notes,
        },
        &stale,
    ))
}
