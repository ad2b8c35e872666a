//! Ending what a supervised command left behind, off Linux (a Job Object's processes on
//! Windows, the command's process group on macOS): ask them once to stop, wait up to the
//! grace period for each to go, end the rest at once, and report each one.

use std::time::{Duration, Instant};

use soak_core::record::{Record, RecordType};

use crate::killtree::Fate;
use crate::supervise::RunReport;

/// How often the members are listed while they are given time to go.
const POLL: Duration = Duration::from_millis(20);

/// The operations on one set of leftovers (a process group, a Job Object).
pub trait Leftovers {
    /// The forced end's name in the records.
    const FORCE_NAME: &'static str;
    /// The PIDs of the members still running.
    fn members(&self) -> Vec<i64>;
    /// Asks them to stop: the name of what was sent, or `None` when it could not be sent
    /// (then nothing is waited for).
    fn ask(&self) -> Option<&'static str>;
    /// Ends every member left at once; false when the OS refused.
    fn force(&self) -> bool;
}

/// Ends the leftovers and emits an `action` record for each; `count` (the command has
/// exited: these are leftovers, not the command itself) adds those ended to the report.
pub fn end<L: Leftovers>(
    l: &L,
    grace: Duration,
    count: bool,
    report: &mut RunReport,
    emit: &mut dyn FnMut(Record),
) {
    let left = l.members();
    if left.is_empty() {
        return;
    }
    let asked = l.ask();
    let started = Instant::now();
    let mut gone_after: Vec<(i64, Option<f64>)> = left.iter().map(|&p| (p, None)).collect();
    while asked.is_some() && started.elapsed() < grace {
        let now = l.members();
        for (pid, after) in &mut gone_after {
            if after.is_none() && !now.contains(pid) {
                *after = Some(started.elapsed().as_secs_f64());
            }
        }
        if now.is_empty() {
            break;
        }
        std::thread::sleep(POLL);
    }
    let forced = !l.members().is_empty() && l.force();
    for (pid, after) in gone_after {
        let fate = match after {
            Some(_) => Fate::Exited,
            None if forced => Fate::Killed,
            None => Fate::Survived,
        };
        let mut signals: Vec<&str> = asked.into_iter().collect();
        if fate != Fate::Exited {
            signals.push(L::FORCE_NAME);
        }
        if count && fate != Fate::Survived {
            report.killed += 1;
        }
        emit(
            Record::new(RecordType::Action, "zombiereap")
                .with("action", "killed")
                .with("dry_run", false)
                .with("pid", pid)
                .with("fate", fate.as_str())
                .with("signals", signals)
                .with("exit_after_s", after.map(|s| (s * 1000.0).round() / 1000.0)),
        );
    }
}
