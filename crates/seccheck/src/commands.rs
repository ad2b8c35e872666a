//! The `deps` and `ingest` subcommands: read, match, gate, report.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use soak_core::cli::OutputArgs;
use soak_core::exit::{environment, usage};
use soak_core::record::{Finding, Record, RecordType};
use soak_core::report::Report;

use crate::audit::{self, Outcome};
use crate::report::{AuditBody, Extra};
use crate::severity::Severity;
use crate::{db, dbage, dbupdate, ignore, ingest, lockfile};

const TOOL: &str = "seccheck";

/// The gate's options, shared by `deps` and `ingest`.
#[derive(Debug, Clone, clap::Args)]
pub struct GateArgs {
    /// The lowest severity that fails the gate.
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: Severity,
    /// How an advisory without a CVSS vector or database rating counts (fails closed by
    /// default: as HIGH).
    #[arg(long, value_enum, default_value = "high")]
    pub unknown_severity: Severity,
    /// Ignore file (default: `.seccheck.toml` in the current directory, when present).
    #[arg(long)]
    pub ignore_file: Option<PathBuf>,
    /// Output options (`--format sarif` for code scanning; no CSV).
    #[command(flatten)]
    pub output: OutputArgs,
}

fn load_ignores(args: &GateArgs) -> anyhow::Result<(Vec<ignore::Ignore>, Option<PathBuf>)> {
    let path = match &args.ignore_file {
        Some(p) => Some(p.clone()),
        None => Some(PathBuf::from(".seccheck.toml")).filter(|p| p.is_file()),
    };
    match path {
        Some(p) => Ok((ignore::load(&p).map_err(usage)?, Some(p))),
        None => Ok((Vec::new(), None)),
    }
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

fn severity_counts(o: &Outcome, mut summary: Record) -> Record {
    for s in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
    ] {
        let n = o
            .findings
            .iter()
            .filter(|f| f.ignored.is_none() && f.severity == s)
            .count();
        summary.insert(s.as_str(), n);
    }
    summary
}

/// The gate's report: the summary's counts and verdict, a note, and a failed check per
/// failing finding, expired ignore and `stale` (a stale database's message).
fn finish(o: Outcome, args: &GateArgs, mut extra: Extra, stale: &[String]) -> Report {
    let ok = o.passes(args.fail_on) && stale.is_empty();
    let failing = o.findings.iter().filter(|f| f.fails(args.fail_on)).count();
    let ignored = o
        .findings
        .iter()
        .chain(&o.warnings)
        .filter(|f| f.ignored.is_some())
        .count();
    extra.summary = severity_counts(&o, extra.summary)
        .with("vulnerabilities", o.findings.len())
        .with("failing", failing)
        .with("ignored", ignored)
        .with("warnings", o.warnings.len())
        .with("expired_ignores", o.expired.len())
        .with("fail_on", args.fail_on.as_str())
        .with("unknown_severity", args.unknown_severity.as_str())
        .with("ok", ok);
    extra.notes.push(format!(
        "{} vulnerabilit{} ({failing} at or above {}, {ignored} ignored), {} warning(s): {}",
        o.findings.len(),
        if o.findings.len() == 1 { "y" } else { "ies" },
        args.fail_on.as_str(),
        o.warnings.len(),
        if ok { "gate passed" } else { "gate FAILED" }
    ));
    let mut failed: Vec<String> = o
        .findings
        .iter()
        .filter(|f| f.fails(args.fail_on))
        .map(|f| {
            format!(
                "{} {} {}: {} ({})",
                f.package,
                f.version,
                f.id,
                f.title,
                f.severity.as_str()
            )
        })
        .collect();
    for ig in &o.expired {
        failed.push(format!("seccheck: ignore of {} expired", ig.id));
        eprintln!(
            "seccheck: ignore of {} expired on {} (reason: {}); it no longer applies and fails the gate",
            ig.id,
            ig.expires.map_or_else(String::new, |d| d.to_string()),
            ig.reason
        );
    }
    failed.extend(stale.iter().cloned());
    let heading = extra.summary_command().to_string();
    let body = AuditBody {
        outcome: o,
        fail_on: args.fail_on,
        extra,
    };
    let report = failed
        .into_iter()
        .fold(Report::new(TOOL, body).heading(heading), Report::fail);
    debug_assert_eq!(report.exit_code(), soak_core::ExitCode::from_checks(ok));
    report
}

/// Which databases `deps` reads: the `--db` directories, else the cache.
#[derive(Debug, Clone)]
pub struct DbChoice {
    /// `--db` directories (empty: the cache).
    pub dirs: Vec<PathBuf>,
    /// The cache and its sources.
    pub source: dbupdate::SourceArgs,
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
        .with(
            "lockfiles",
            inv.lockfiles
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>(),
        )
        .with("packages", inv.packages.len())
        .with("packages_skipped", inv.skipped.len())
        .with("advisories_read", database.files_read)
        .with("advisories_broken", database.broken.len())
        .with("advisories_withdrawn", database.withdrawn)
        .with("database_ok", stale.is_empty())
        .with(
            "databases",
            dbs.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>(),
        )
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

/// `seccheck ingest`.
pub fn ingest(files: &[PathBuf], args: &GateArgs) -> anyhow::Result<Report> {
    let (ignores, ignore_path) = load_ignores(args)?;
    let mut outcome = Outcome::default();
    let mut kinds = Vec::new();
    let mut deps = 0usize;
    let mut records = Vec::new();
    for f in files {
        let got = ingest::ingest_file(f, args.unknown_severity, &mut outcome).map_err(usage)?;
        kinds.push(got.kind.as_str());
        deps += got.dependencies;
        for (name, reason) in got.not_audited {
            eprintln!(
                "seccheck: warning: {}: {name} was not audited: {reason}",
                f.display()
            );
            records.push(
                Record::new(RecordType::Event, TOOL)
                    .with("event", "warning")
                    .with("warning", "not_audited")
                    .with("report", f.display().to_string())
                    .with("package", name)
                    .with("reason", reason),
            );
        }
    }
    outcome.apply_ignores(&ignores, today());
    let summary = Record::new(RecordType::Summary, TOOL)
        .with("command", "ingest")
        .with(
            "reports",
            files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>(),
        )
        .with("report_kinds", kinds)
        .with("dependencies", deps)
        .with("dependencies_not_audited", records.len())
        .with("ignore_file", ignore_path.map(|p| p.display().to_string()));
    let notes = vec![format!(
        "{} report(s), {deps} dependencies, {} not audited by the reporting tool",
        files.len(),
        records.len()
    )];
    Ok(finish(
        outcome,
        args,
        Extra {
            records,
            summary,
            notes,
        },
        &[],
    ))
}
