//! What the target logic needs to know about any process off Linux: whether it runs and
//! since when (its identity against PID reuse), its parent, and which processes a `--name`
//! pattern matches.

use regex::Regex;
use sysinfo::{Process, ProcessRefreshKind, ProcessesToUpdate, UpdateKind};

use super::{new_system, pid_of, running, sys_pid};

/// `f` of the process `pid`, read alone, if it exists.
fn with_process<T>(pid: i32, f: impl FnOnce(&Process) -> Option<T>) -> Option<T> {
    let p = sys_pid(pid)?;
    let mut s = new_system().ok()?;
    s.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[p]),
        true,
        ProcessRefreshKind::nothing(),
    );
    s.process(p).and_then(f)
}

/// The start time (seconds since the epoch) of a running `pid`.
pub fn running_start(pid: i32) -> Option<u64> {
    with_process(pid, |p| running(p).then(|| p.start_time()))
}

/// The parent of `pid`, when it has one that the OS names.
pub fn parent_of(pid: i32) -> Option<i32> {
    with_process(pid, |p| p.parent().and_then(pid_of))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_a_child_its_parent_and_its_end() {
        let me = std::process::id() as i32;
        let start = running_start(me).expect("this process runs");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(start > 0 && start <= now, "{start} vs {now}");
        #[cfg(windows)]
        let mut child = std::process::Command::new("cmd")
            .args(["/C", "more"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        #[cfg(unix)]
        let mut child = std::process::Command::new("cat")
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let pid = child.id() as i32;
        assert_eq!(parent_of(pid), Some(me));
        assert!(running_start(pid).is_some_and(|s| s >= start));
        drop(child.stdin.take());
        child.wait().expect("wait");
        assert_eq!(running_start(pid), None, "an ended process is not running");
        assert_eq!(running_start(i32::MAX), None);
    }
}
