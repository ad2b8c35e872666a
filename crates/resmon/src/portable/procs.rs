//! What the target logic needs to know about any process off Linux: whether it runs and
//! since when (its identity against PID reuse), its parent, and which processes a `--name`
//! pattern matches.

use regex::Regex;
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, UpdateKind};

use super::{new_system, pid_of, running};

/// The start time (seconds since the epoch) of a running `pid`.
pub fn running_start(pid: i32) -> Option<u64> {
    soak_core::portable_proc::read(pid).and_then(|p| p.running().then_some(p.start))
}

/// The parent of `pid`, when it has one that the OS names.
pub fn parent_of(pid: i32) -> Option<i32> {
    soak_core::portable_proc::read(pid).and_then(|p| p.ppid)
}

/// The running processes whose command line (arguments joined by spaces) matches `re`, as
/// (start time, PID, parent PID), from one snapshot of every process.
pub fn matching(re: &Regex, excluded: &[i32]) -> Option<Vec<(u64, i32, Option<i32>)>> {
    let mut s = new_system().ok()?;
    s.refresh_processes_specifics(
        ProcessesToUpdate::All,
        true,
        ProcessRefreshKind::nothing().with_cmd(UpdateKind::Always),
    );
    let found = s
        .processes()
        .values()
        .filter(|p| running(p))
        .filter_map(|p| {
            let pid = pid_of(p.pid())?;
            if excluded.contains(&pid) {
                return None;
            }
            let line = p
                .cmd()
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ");
            (!line.is_empty() && re.is_match(&line))
                .then(|| (p.start_time(), pid, p.parent().and_then(pid_of)))
        })
        .collect();
    Some(found)
}
