//! `kill-tree` off Linux: the tree by parent PID from one listing, every member pinned to
//! its process ([`pin`]: a handle on Windows, PID + start time on macOS), then:
//!
//! 1. **Ask**: the graceful signal. On Windows that is Ctrl+Break to the root's console
//!    process group (a console program started with `CREATE_NEW_PROCESS_GROUP`, and the
//!    children it did not put in groups of their own); on macOS `--signal` to each member.
//! 2. **Wait** up to `--timeout`, re-listing every 100 ms to pin children forked meanwhile.
//! 3. **Force**, children first: `TerminateProcess` (Windows) or SIGKILL (macOS).
//!
//! Windows has no way to freeze a tree as Linux's SIGSTOP does; a child started during step
//! 3 by a parent not yet terminated is caught by the final re-listing.

use std::time::{Duration, Instant};

use soak_core::record::{Record, RecordType};

use super::pin::{self, Pinned};
use crate::Signal;
use crate::killtree::{Fate, MemberAction};
use soak_core::portable_proc::{ProcInfo as Info, Snapshot};

/// How often the wait looks at the members.
const POLL: Duration = Duration::from_millis(10);
/// How often it lists processes again for new children.
const RESCAN: Duration = Duration::from_millis(100);
/// How long a forced member gets to be gone before it counts as surviving.
const FORCE_WAIT: Duration = Duration::from_secs(2);

/// One member and what happened to it.
#[derive(Debug)]
pub struct Member {
    /// The member as listed.
    pub info: Info,
    /// Its fate.
    pub fate: Fate,
    /// Seconds from the graceful signal to its exit, when seen.
    pub exit_after_s: Option<f64>,
    pinned: Option<Pinned>,
}

/// The outcome of a tree kill.
#[derive(Debug)]
pub struct Outcome {
    /// Every member, root first.
    pub members: Vec<Member>,
    /// The graceful signal as sent (`None`: it could not be delivered, so nothing was waited
    /// for), and why not.
    pub asked: Result<&'static str, String>,
}

impl Outcome {
    /// How many members met `fate`.
    pub fn count(&self, fate: Fate) -> usize {
        self.members.iter().filter(|m| m.fate == fate).count()
    }

    /// Nothing survived and nothing was refused.
    pub fn ok(&self) -> bool {
        self.count(Fate::Survived) == 0 && self.count(Fate::PermissionDenied) == 0
    }
}

fn member(info: &Info) -> Member {
    let pinned = pin::pin(info.pid, info.start);
    Member {
        info: info.clone(),
        fate: match &pinned {
            Ok(_) => Fate::Planned,
            Err(f) => *f,
        },
        exit_after_s: None,
        pinned: pinned.ok(),
    }
}

/// Pins the members of `root`'s tree (and of every member's) not pinned yet.
fn capture_new(root: i32, members: &mut Vec<Member>) {
    let Ok(snap) = Snapshot::take() else { return };
    let roots: Vec<i32> = std::iter::once(root)
        .chain(members.iter().map(|m| m.info.pid))
        .collect();
    for r in roots {
        for info in snap.tree(&[r]) {
            let known = members
                .iter()
                .any(|m| m.info.pid == info.pid && m.info.start == info.start);
            if !known && !info.zombie {
                members.push(member(info));
            }
        }
    }
}

/// Kills `root`'s tree (see the module doc); `None` when `root` does not exist.
pub fn kill_tree(
    root: i32,
    signal: Signal,
    timeout: Duration,
    dry_run: bool,
) -> Result<Option<Outcome>, String> {
    let snap = Snapshot::take()?;
    let tree = snap.tree(&[root]);
    if tree.is_empty() {
        return Ok(None);
    }
    if dry_run {
        let members = tree
            .into_iter()
            .map(|info| Member {
                info: info.clone(),
                fate: Fate::Planned,
                exit_after_s: None,
                pinned: None,
            })
            .collect();
        return Ok(Some(Outcome {
            members,
            asked: Ok(signal.as_str()),
        }));
    }
    let mut members: Vec<Member> = tree.into_iter().map(member).collect();
    let live: Vec<&Pinned> = members.iter().filter_map(|m| m.pinned.as_ref()).collect();
    let asked = pin::ask(root, signal, &live);
    let started = Instant::now();
    let mut last_scan = started;
    while asked.is_ok() && started.elapsed() < timeout {
        for m in &mut members {
            if let (Fate::Planned, Some(p)) = (m.fate, &m.pinned) {
                if p.exited() {
                    m.fate = Fate::Exited;
                    m.exit_after_s = Some(started.elapsed().as_secs_f64());
                }
            }
        }
        if members.iter().all(|m| m.fate != Fate::Planned) {
            break;
        }
        if last_scan.elapsed() >= RESCAN {
            capture_new(root, &mut members);
            last_scan = Instant::now();
        }
        std::thread::sleep(POLL);
    }
    capture_new(root, &mut members);
    // Children first: a parent ended before its child cannot start another one meanwhile,
    // but a child ended first may be restarted by a parent still running.
    for m in members.iter_mut().rev() {
        if let (Fate::Planned, Some(p)) = (m.fate, &m.pinned) {
            if p.exited() {
                m.fate = Fate::Exited;
                m.exit_after_s = Some(started.elapsed().as_secs_f64());
            } else if !p.force() {
                m.fate = Fate::PermissionDenied;
            } else {
                m.fate = if p.wait(FORCE_WAIT) {
                    Fate::Killed
                } else {
                    Fate::Survived
                };
            }
        }
    }
    Ok(Some(Outcome { members, asked }))
}

/// The `action` record of one member (the Linux record's fields; the start time in seconds
/// since the epoch instead of clock ticks after boot).
pub fn action(m: &Member, asked: &Result<&'static str, String>, dry_run: bool) -> Record {
    MemberAction {
        fate: m.fate,
        dry_run,
        pid: m.info.pid,
        ppid: m.info.ppid,
        name: &m.info.name,
        start: ("start_time_unix", m.info.start),
        graceful: asked.as_ref().ok().copied(),
        forced: pin::FORCE,
        exit_after_s: m.exit_after_s,
    }
    .record()
}

/// The `summary` record of a tree kill.
pub fn summary(root: i32, o: &Outcome, dry_run: bool) -> Record {
    let slowest = o
        .members
        .iter()
        .filter_map(|m| m.exit_after_s)
        .fold(0.0f64, f64::max);
    Record::new(RecordType::Summary, "zombiereap")
        .with("command", "kill-tree")
        .with("root_pid", root)
        .with("dry_run", dry_run)
        .with("processes", o.members.len())
        .with("exited", o.count(Fate::Exited))
        .with("killed", o.count(Fate::Killed))
        .with("survived", o.count(Fate::Survived))
        .with("permission_denied", o.count(Fate::PermissionDenied))
        .with("already_gone", o.count(Fate::AlreadyGone))
        .with("slowest_exit_s", (slowest * 1000.0).round() / 1000.0)
        .with("graceful_signal_error", o.asked.as_ref().err().cloned())
        .with("ok", o.ok())
}
