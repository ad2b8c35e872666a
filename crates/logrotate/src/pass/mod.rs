//! One pass over one directory, as named steps: [`scan`] what is there, decide the
//! [`policy`](policy_of) (aggressive when free space is low), carry out the
//! [`retention`] phase (cleanup, old runs, per-step retention, rotation, compression), then the
//! [`budget`] phase on the files as retention left them, and [`summarize`]. A dry run goes
//! through the same planner and the same executor, which then changes nothing.

mod execute;
mod records;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use soak_core::exit::usage;
use soak_core::pathtext::shown;
use soak_core::record::{Record, RecordType};
use soak_core::units::format_bytes;

use crate::TOOL;
use crate::cli::Cli;
use crate::codec::Codec;
use crate::compress;
use crate::inventory::{self, Entry, Grouping};
use crate::policy::{self, Effect, Policy, Step};
use crate::report::DirPass;
use crate::rotate;
use crate::safefs::{self, FileId};
use execute::{Applied, execute};
use records::{outcome_record, step_record};

/// What a pass found in its directory.
struct Scan {
    /// The regular files it manages (`--exclude`d ones left out).
    files: Vec<Entry>,
    /// The paths it could not read, and why.
    unreadable: Vec<(PathBuf, String)>,
    /// Whether the OS told which files are open for writing (only Linux does).
    writers_known: bool,
}

/// How the steps of a pass are carried out.
#[derive(Clone, Copy)]
struct Run<'a> {
    dry_run: bool,
    aggressive: bool,
    stop: compress::Stop<'a>,
}

/// The records of a pass so far and the bytes its steps freed.
struct Tally {
    records: Vec<Record>,
    freed: u64,
}

impl Tally {
    /// Adds the record of a step and its result; returns the bytes it freed.
    fn add(&mut self, step: &Step, result: &Applied, run: Run) -> u64 {
        let (record, freed) = outcome_record(step, result, run.dry_run, run.aggressive);
        self.records.push(record);
        self.freed += freed;
        freed
    }
}

/// One pass over one directory: its records, and whether it ends within budget.
pub(crate) fn pass(
    dir: &Path,
    cli: &Cli,
    grouping: &Grouping,
    stop: compress::Stop,
) -> anyhow::Result<DirPass> {
    let scan = scan(dir, cli, grouping)?;
    let free = soak_core::sys::free_bytes(dir);
    let aggressive = matches!((cli.min_free, free), (Some(min), Some(f)) if f < min);
    let policy = policy_of(cli, aggressive);
    let run = Run {
        dry_run: cli.dry_run,
        aggressive,
        stop,
    };
    let mut tally = Tally {
        records: skipped(&scan.unreadable, run),
        freed: 0,
    };
    let after = retention(dir, &scan.files, &policy, run, &mut tally);
    let total = budget(dir, &after, policy.max_total, run, &mut tally);
    let space = Space {
        free,
        aggressive,
        before: scan.files.iter().map(|f| f.size).sum(),
        total,
    };
    Ok(summarize(dir, cli, &scan, &after, space, tally))
}

/// The sizes a pass reports.
struct Space {
    /// Free bytes on the filesystem, when the OS tells.
    free: Option<u64>,
    /// Below `--min-free`: the pass was aggressive.
    aggressive: bool,
    /// The directory's total before the pass.
    before: u64,
    /// Its total after.
    total: u64,
}

/// The directory's files (without the `--exclude`d ones) and what could not be read. An
/// unreadable DIR, or one that is a symlink, is bad input.
fn scan(dir: &Path, cli: &Cli, grouping: &Grouping) -> anyhow::Result<Scan> {
    safefs::Dir::open(dir).map_err(|e| usage(format!("{}: {e}", shown(dir))))?;
    let open = inventory::open_for_write();
    let (mut files, unreadable) = inventory::scan(dir, grouping, open.as_ref()).map_err(usage)?;
    let excluded = |p: &Path| {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        cli.exclude.iter().any(|pat| pat.matches(&name))
    };
    files.retain(|f| !excluded(&f.path));
    Ok(Scan {
        files,
        unreadable,
        writers_known: open.is_some(),
    })
}

fn count(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The policy the flags ask for; when free space is low (aggressive), keep one per step and
/// one run, and compress everything old right away.
fn policy_of(cli: &Cli, aggressive: bool) -> Policy {
    let mut policy = Policy {
        keep_per_step: cli.keep_per_step.map(count),
        keep_runs: cli.keep_runs.map(count),
        compress: cli.compress,
        compress_after: cli.compress_after,
        max_size: cli.max_size,
        rotate: if cli.copytruncate {
            Some(rotate::Mode::CopyTruncate)
        } else if cli.rename {
            Some(rotate::Mode::Rename)
        } else {
            None
        },
        max_total: cli.max_total,
    };
    if aggressive {
        policy.keep_per_step = Some(policy.keep_per_step.unwrap_or(1).min(1));
        policy.keep_runs = Some(policy.keep_runs.unwrap_or(1).min(1));
        policy.compress = Some(policy.compress.unwrap_or(Codec::Gzip));
        policy.compress_after = None;
    }
    policy
}

/// The `skip` records of the paths the scan could not read.
fn skipped(unreadable: &[(PathBuf, String)], run: Run) -> Vec<Record> {
    unreadable
        .iter()
        .map(|(p, why)| {
            step_record(
                &Step::Skip(p.clone(), 0, why.clone()),
                run.dry_run,
                run.aggressive,
            )
        })
        .collect()
}

/// The identities the scan saw, for the executor to re-check before it acts.
fn identities(files: &[Entry]) -> HashMap<PathBuf, Option<FileId>> {
    files.iter().map(|f| (f.path.clone(), f.id)).collect()
}

/// Phase one: cleanup, runs, steps, rotation, compression. Returns the files as it leaves
/// them (or, dry, would leave them).
fn retention(
    dir: &Path,
    files: &[Entry],
    policy: &Policy,
    run: Run,
    tally: &mut Tally,
) -> Vec<Entry> {
    let steps = policy::plan_retention(dir, files, policy, SystemTime::now());
    let results = execute(dir, steps, &identities(files), run.dry_run, run.stop);
    for (step, result) in &results {
        tally.add(step, result, run);
    }
    policy::after_retention(files, &results)
}

/// Phase two: the budget, on the files as phase one left them. Returns the directory's total
/// afterwards.
fn budget(dir: &Path, files: &[Entry], max_total: Option<u64>, run: Run, tally: &mut Tally) -> u64 {
    let mut total: u64 = files.iter().map(|f| f.size).sum();
    if let Some(max) = max_total {
        let (steps, _) = policy::plan_budget(files, max);
        for (step, result) in execute(dir, steps, &identities(files), run.dry_run, run.stop) {
            let freed = tally.add(&step, &result, run);
            if result == Ok(Effect::Gone) {
                total = total.saturating_sub(freed);
            }
        }
    }
    total
}

/// The directory's summary record, the line under its table, and whether it is over budget.
fn summarize(
    dir: &Path,
    cli: &Cli,
    scan: &Scan,
    after: &[Entry],
    space: Space,
    tally: Tally,
) -> DirPass {
    let Space {
        free,
        aggressive,
        before,
        total,
    } = space;
    let freed = tally.freed;
    let mut largest: Vec<(&PathBuf, u64)> = after.iter().map(|f| (&f.path, f.size)).collect();
    largest.sort_by_key(|f| std::cmp::Reverse(f.1));
    let top: Vec<serde_json::Value> = largest
        .iter()
        .take(cli.top)
        .map(|(p, s)| serde_json::json!({"path": shown(p), "bytes": s}))
        .collect();
    let over = cli.max_total.is_some_and(|m| total > m);
    let line = format!(
        "{}: {} → {} ({} freed){}{}",
        shown(dir),
        format_bytes(before),
        format_bytes(total),
        format_bytes(freed),
        if over { ", STILL OVER BUDGET" } else { "" },
        if aggressive {
            ", aggressive (low free space)"
        } else {
            ""
        },
    );
    let mut summary = Record::new(RecordType::Summary, TOOL)
        .with("dir", shown(dir))
        .with("dry_run", cli.dry_run)
        .with("aggressive", aggressive)
        .with("free_bytes", free)
        .with("total_bytes_before", before)
        .with("bytes_freed", freed)
        .with("total_bytes_after", total)
        .with("max_total_bytes", cli.max_total)
        .with("over_budget", over)
        .with("largest", serde_json::Value::Array(top))
        .with("ok", !over);
    if !scan.writers_known {
        // Only Linux lists the files processes hold open for writing (in /proc).
        summary.insert("writers", "unknown");
    }
    DirPass {
        actions: tally.records,
        summary,
        line,
        dir: shown(dir),
        over: cli.max_total.filter(|_| over),
    }
}
