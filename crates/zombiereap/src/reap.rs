//! `zombiereap reap`: get zombies reaped.
//!
//! Only a zombie's parent can reap it. So: zombiereap reaps its own zombie children; to every
//! other parent holding zombies it sends SIGCHLD (a parent that reaps in a SIGCHLD handler but
//! missed a coalesced signal reaps on it) and re-checks; with `--kill-parents`, a parent that
//! still holds zombies is terminated (SIGTERM, then SIGKILL after `--grace`), so its zombies are
//! re-parented to init or the nearest subreaper, which reaps them. PID 1, zombiereap itself and
//! anything outside `--tree` are never signalled.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use soak_core::proc::{ProcError, ProcessTable, read_stat};
use soak_core::record::{Record, RecordType};

use crate::killtree::{self, Fate, KillOptions};
use crate::scan::find_zombies;
use crate::target::Target;

/// How `reap` behaves.
#[derive(Debug, Clone, Copy)]
pub struct ReapOptions {
    /// Only zombies and parents in the tree of this PID.
    pub tree: Option<i32>,
    /// Terminate parents that still hold zombies after SIGCHLD.
    pub kill_parents: bool,
    /// How long to wait for parents to reap (and, when killing, between SIGTERM and SIGKILL).
    pub grace: Duration,
    /// Report what would be done; signal nothing.
    pub dry_run: bool,
}

/// What `reap` did.
#[derive(Debug, Default)]
pub struct ReapReport {
    /// Zombies found at the start.
    pub zombies_before: usize,
    /// Zombies still there at the end.
    pub zombies_after: usize,
    /// Own zombie children reaped directly.
    pub reaped_own: usize,
    /// Parents sent SIGCHLD.
    pub parents_signalled: usize,
    /// Parents terminated.
    pub parents_killed: usize,
}

fn action(name: &str, dry_run: bool) -> Record {
    Record::new(RecordType::Action, "zombiereap")
        .with("action", name)
        .with("dry_run", dry_run)
}

fn zombies_by_parent(tree: Option<i32>) -> Result<BTreeMap<i32, Vec<i32>>, ProcError> {
    let table = ProcessTable::snapshot()?;
    let mut by_parent: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
    for z in find_zombies(&table, tree, Duration::ZERO) {
        by_parent.entry(z.ppid).or_default().push(z.pid);
    }
    Ok(by_parent)
}

/// Runs `reap`; every action is passed to `emit`.
pub fn reap(opts: &ReapOptions, emit: &mut dyn FnMut(Record)) -> Result<ReapReport, ProcError> {
    let me = std::process::id() as i32;
    let mut report = ReapReport::default();
    let before = zombies_by_parent(opts.tree)?;
    report.zombies_before = before.values().map(Vec::len).sum();

    // Our own zombie children: reap them ourselves.
    if let Some(own) = before.get(&me) {
        for &z in own {
            if opts.dry_run {
                emit(action("reap", true).with("pid", z));
            } else if let Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) =
                waitpid(nix::unistd::Pid::from_raw(z), Some(WaitPidFlag::WNOHANG))
            {
                report.reaped_own += 1;
                emit(action("reaped", false).with("pid", z));
            }
        }
    }

    // Other parents: SIGCHLD, then wait for them to reap.
    let parents: Vec<(i32, usize)> = before
        .iter()
        .filter(|(p, _)| **p > 1 && **p != me)
        .map(|(p, zs)| (*p, zs.len()))
        .collect();
    for &(parent, held) in &parents {
        let stat = match read_stat(parent) {
            Ok(s) => s,
            Err(_) => continue,
        };
        let record = action("sigchld", opts.dry_run)
            .with("pid", parent)
            .with("name", stat.comm.clone())
            .with("zombies_held", held);
        if opts.dry_run {
            emit(record);
            continue;
        }
        if let Ok(t) = Target::capture(&stat) {
            if t.signal(Signal::SIGCHLD).is_ok() {
                report.parents_signalled += 1;
                emit(record);
            }
        }
    }
    if !opts.dry_run && !parents.is_empty() {
        let deadline = Instant::now() + opts.grace;
        while Instant::now() < deadline {
            let now = zombies_by_parent(opts.tree)?;
            if parents.iter().all(|(p, _)| !now.contains_key(p)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // Parents that still do not reap: terminate them so init or a subreaper adopts the zombies.
    if opts.kill_parents {
        let still = if opts.dry_run {
            before.clone()
        } else {
            zombies_by_parent(opts.tree)?
        };
        for (&parent, zs) in still.iter().filter(|(p, _)| **p > 1 && **p != me) {
            let kill = KillOptions {
                signal: Signal::SIGTERM,
                timeout: opts.grace,
                dry_run: opts.dry_run,
            };
            // Only the parent itself: its other children are not ours to end.
            let Ok(stat) = read_stat(parent) else {
                continue;
            };
            let record = action(
                if opts.dry_run {
                    "kill_parent"
                } else {
                    "killed_parent"
                },
                opts.dry_run,
            )
            .with("pid", parent)
            .with("name", stat.comm.clone())
            .with("zombies_held", zs.len());
            if opts.dry_run {
                emit(record);
                continue;
            }
            let fate = killtree::kill_one(&stat, kill);
            if matches!(fate, Fate::Exited | Fate::Killed) {
                report.parents_killed += 1;
            }
            emit(record.with("fate", fate.as_str()));
        }
        if !opts.dry_run {
            // Give init or the subreaper a moment to reap the re-parented zombies.
            let deadline = Instant::now() + opts.grace;
            while Instant::now() < deadline && remaining(&before) > 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    // Counted by the zombies first seen, wherever they were re-parented to since.
    report.zombies_after = remaining(&before);
    Ok(report)
}

/// How many of the zombies first seen are still zombies.
fn remaining(before: &BTreeMap<i32, Vec<i32>>) -> usize {
    before
        .values()
        .flatten()
        .filter(|z| read_stat(**z).is_ok_and(|s| s.is_zombie()))
        .count()
}

/// The `summary` record of a reap.
pub fn summary(r: &ReapReport, dry_run: bool) -> Record {
    Record::new(RecordType::Summary, "zombiereap")
        .with("command", "reap")
        .with("dry_run", dry_run)
        .with("zombies_before", r.zombies_before)
        .with("zombies_after", r.zombies_after)
        .with("reaped_own", r.reaped_own)
        .with("parents_signalled", r.parents_signalled)
        .with("parents_killed", r.parents_killed)
        .with("ok", r.zombies_after == 0)
}
