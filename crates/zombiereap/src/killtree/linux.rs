//! The Linux kill-tree: the four steps above over /proc, SIGSTOP and pidfd-pinned targets.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use soak_core::proc::{ProcError, ProcStat, ProcessTable, read_stat};
use soak_core::record::Record;

use super::{Fate, MemberAction};
use crate::target::Target;

/// How often the wait loop looks at the tree.
const POLL: Duration = Duration::from_millis(10);
/// How often it looks for newly forked members.
const RESCAN: Duration = Duration::from_millis(100);

/// Options of a tree kill.
#[derive(Debug, Clone, Copy)]
pub struct KillOptions {
    /// The graceful signal.
    pub signal: Signal,
    /// How long to wait after it before SIGKILL.
    pub timeout: Duration,
    /// Only collect and report.
    pub dry_run: bool,
}

/// One member's outcome.
#[derive(Debug)]
pub struct Outcome {
    /// The member.
    pub target: Target,
    /// What happened to it.
    pub fate: Fate,
    /// Seconds from the graceful signal to its exit, when seen.
    pub exit_after_s: Option<f64>,
}

/// Collects the tree of `root` from a fresh snapshot: root first, parents before children.
fn members(
    root: i32,
    group: Option<i32>,
    known: &BTreeMap<i32, Target>,
) -> Result<Vec<soak_core::proc::ProcStat>, ProcError> {
    let table = ProcessTable::snapshot()?;
    let mut pids = vec![root];
    pids.extend(table.descendants(root));
    // Descendants of members already captured, even once re-parented away from the root.
    for pid in known.keys() {
        pids.extend(table.descendants(*pid));
    }
    if let Some(g) = group {
        pids.extend(table.iter().filter(|s| s.pgrp == g).map(|s| s.pid));
    }
    let me = std::process::id() as i32;
    let mut seen = std::collections::HashSet::new();
    Ok(pids
        .into_iter()
        .filter(|p| *p != me && *p > 1 && seen.insert(*p))
        .filter_map(|p| table.get(p).cloned())
        .collect())
}

fn capture_new(
    root: i32,
    group: Option<i32>,
    known: &mut BTreeMap<i32, Target>,
    freeze: bool,
) -> Result<Vec<i32>, ProcError> {
    let mut added = Vec::new();
    for stat in members(root, group, known)? {
        if stat.is_zombie()
            || known
                .get(&stat.pid)
                .is_some_and(|t| t.identity.start_ticks == stat.start_ticks)
        {
            continue;
        }
        if let Ok(t) = Target::capture(&stat) {
            if freeze {
                let _ = t.signal(Signal::SIGSTOP);
            }
            added.push(t.pid());
            known.insert(t.pid(), t);
        }
    }
    Ok(added)
}

/// Kills the tree of `root`; returns each member's outcome, root first.
pub fn kill_tree(root: i32, opts: KillOptions) -> Result<Vec<Outcome>, ProcError> {
    let root_stat = read_stat(root)?;
    // The root's process group, when it leads one: its members belong to the tree even after
    // the root has exited (a double-forked child keeps the group).
    let group = (root_stat.pgrp == root).then_some(root);
    let mut known: BTreeMap<i32, Target> = BTreeMap::new();
    if opts.dry_run {
        capture_new(root, group, &mut known, false)?;
        return Ok(order(root_stat.pid, known)
            .into_iter()
            .map(|t| Outcome {
                target: t,
                fate: Fate::Planned,
                exit_after_s: None,
            })
            .collect());
    }
    // 1. freeze and collect until stable
    while !capture_new(root, group, &mut known, true)?.is_empty() {}
    // 2. ask
    let asked = Instant::now();
    let mut fates: BTreeMap<i32, (Fate, Option<f64>)> = BTreeMap::new();
    let ask =
        |t: &Target, fates: &mut BTreeMap<i32, (Fate, Option<f64>)>| match t.signal(opts.signal) {
            Ok(()) => {
                let _ = t.signal(Signal::SIGCONT);
            }
            Err(ProcError::PermissionDenied(_)) => {
                fates.insert(t.pid(), (Fate::PermissionDenied, None));
            }
            Err(_) => {
                fates.insert(t.pid(), (Fate::AlreadyGone, None));
            }
        };
    for t in known.values() {
        if let Err(e) = t.signal(opts.signal) {
            let fate = match e {
                ProcError::PermissionDenied(_) => Fate::PermissionDenied,
                _ => Fate::AlreadyGone,
            };
            fates.insert(t.pid(), (fate, None));
        }
    }
    for t in known.values().rev().filter(|t| t.pid() != root) {
        let _ = t.signal(Signal::SIGCONT);
    }
    if let Some(r) = known.get(&root) {
        let _ = r.signal(Signal::SIGCONT);
    }
    // 3. wait, catching members forked while exiting
    let mut last_scan = Instant::now();
    loop {
        for t in known.values() {
            if !fates.contains_key(&t.pid()) && t.has_exited() {
                fates.insert(t.pid(), (Fate::Exited, Some(asked.elapsed().as_secs_f64())));
            }
        }
        if fates.len() == known.len() || asked.elapsed() >= opts.timeout {
            break;
        }
        if last_scan.elapsed() >= RESCAN {
            last_scan = Instant::now();
            for pid in capture_new(root, group, &mut known, false).unwrap_or_default() {
                if let Some(t) = known.get(&pid) {
                    ask(t, &mut fates);
                }
            }
        }
        std::thread::sleep(POLL);
    }
    // 4. force
    let _ = capture_new(root, group, &mut known, false);
    let killed_at = Instant::now();
    for t in known.values() {
        if let std::collections::btree_map::Entry::Vacant(slot) = fates.entry(t.pid()) {
            slot.insert(match t.signal(Signal::SIGKILL) {
                Ok(()) => (Fate::Killed, None),
                Err(ProcError::PermissionDenied(_)) => (Fate::PermissionDenied, None),
                Err(_) => (Fate::Exited, Some(asked.elapsed().as_secs_f64())),
            });
        }
    }
    // SIGKILL is not instant for a process in uninterruptible sleep: give it a moment.
    while killed_at.elapsed() < Duration::from_secs(2)
        && known
            .values()
            .any(|t| fates.get(&t.pid()).is_some_and(|f| f.0 == Fate::Killed) && !t.has_exited())
    {
        std::thread::sleep(POLL);
    }
    for t in known.values() {
        if let Some(f) = fates.get_mut(&t.pid()) {
            if f.0 == Fate::Killed && !t.has_exited() {
                f.0 = Fate::Survived;
            }
        }
    }
    Ok(order(root, known)
        .into_iter()
        .map(|t| {
            let (fate, exit_after_s) = fates
                .get(&t.pid())
                .copied()
                .unwrap_or((Fate::AlreadyGone, None));
            Outcome {
                target: t,
                fate,
                exit_after_s,
            }
        })
        .collect())
}

/// Terminates one process (not its tree): the graceful signal, then SIGKILL after the timeout.
pub fn kill_one(stat: &ProcStat, opts: KillOptions) -> Fate {
    let Ok(t) = Target::capture(stat) else {
        return Fate::AlreadyGone;
    };
    match t.signal(opts.signal) {
        Ok(()) => {}
        Err(ProcError::PermissionDenied(_)) => return Fate::PermissionDenied,
        Err(_) => return Fate::AlreadyGone,
    }
    let asked = Instant::now();
    while asked.elapsed() < opts.timeout {
        if t.has_exited() {
            return Fate::Exited;
        }
        std::thread::sleep(POLL);
    }
    match t.signal(Signal::SIGKILL) {
        Ok(()) => Fate::Killed,
        Err(ProcError::PermissionDenied(_)) => Fate::PermissionDenied,
        Err(_) => Fate::Exited,
    }
}

fn order(root: i32, mut known: BTreeMap<i32, Target>) -> Vec<Target> {
    let mut out = Vec::with_capacity(known.len());
    if let Some(r) = known.remove(&root) {
        out.push(r);
    }
    out.extend(known.into_values());
    out
}

/// The `action` record of one member's outcome.
pub fn action(o: &Outcome, opts: &KillOptions) -> Record {
    MemberAction {
        fate: o.fate,
        dry_run: opts.dry_run,
        pid: o.target.pid(),
        ppid: Some(o.target.ppid),
        name: &o.target.comm,
        start: ("start_ticks", o.target.identity.start_ticks),
        graceful: Some(opts.signal.as_str()),
        forced: "SIGKILL",
        exit_after_s: o.exit_after_s,
    }
    .record()
    .with("pidfd", o.target.has_pidfd())
}
