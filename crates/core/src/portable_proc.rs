//! Processes off Linux (Windows, macOS), through `sysinfo`: one listing of every process and
//! the process tree by parent PID, shared by resmon and zombiereap (Linux has [`crate::proc`]
//! over /proc instead).
//!
//! A process is known by PID and start time (seconds since the epoch, one-second resolution):
//! with the PID, its identity. A PID recorded as a parent may since have been reused (Windows
//! keeps a process's parent PID after that parent exits), so a process counts as a child only
//! when it started no earlier than its parent.
//!
//! ```
//! use soak_core::portable_proc::Snapshot;
//!
//! let me = std::process::id() as i32;
//! let snap = Snapshot::take().expect("processes listed");
//! let tree = snap.tree(&[me]);
//! assert_eq!(tree.first().map(|p| p.pid), Some(me));
//! ```

use std::collections::{BTreeMap, HashSet, VecDeque};

use sysinfo::{Pid, Process, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System};

/// What one listing tells of one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// Its PID.
    pub pid: i32,
    /// Its parent's PID, when the OS names one.
    pub ppid: Option<i32>,
    /// Its name (the executable's file name).
    pub name: String,
    /// Start time, seconds since the epoch.
    pub start: u64,
    /// Exited, not yet reaped by its parent (macOS; never on Windows).
    pub zombie: bool,
    /// Exited and being torn down (`ProcessStatus::Dead`).
    dead: bool,
}

impl ProcInfo {
    /// Reads what `p` says of itself; `None` for a PID beyond `i32`.
    pub fn of(p: &Process) -> Option<ProcInfo> {
        Some(ProcInfo {
            pid: pid_of(p.pid())?,
            ppid: p.parent().and_then(pid_of),
            name: p.name().to_string_lossy().into_owned(),
            start: p.start_time(),
            zombie: p.status() == ProcessStatus::Zombie,
            dead: p.status() == ProcessStatus::Dead,
        })
    }

    /// Still running: neither a zombie nor dead.
    pub fn running(&self) -> bool {
        !self.zombie && !self.dead
    }
}

/// A sysinfo PID as the tools' `i32` (PIDs beyond `i32::MAX` do not occur on these systems).
pub fn pid_of(p: Pid) -> Option<i32> {
    i32::try_from(p.as_u32()).ok()
}

/// The tools' `i32` PID as sysinfo's; `None` for a negative one.
pub fn sys_pid(pid: i32) -> Option<Pid> {
    u32::try_from(pid).ok().map(Pid::from_u32)
}

/// A fresh, empty sysinfo view; it fails only where sysinfo cannot work at all.
pub fn new_system() -> Result<System, String> {
    System::new().map_err(|e| format!("sysinfo: {e}"))
}

/// The process `pid` read alone (its PID, parent, start time and state), if it exists.
pub fn read(pid: i32) -> Option<ProcInfo> {
    let p = sys_pid(pid)?;
    let mut s = new_system().ok()?;
    s.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[p]),
        true,
        ProcessRefreshKind::nothing(),
    );
    s.process(p).and_then(ProcInfo::of)
}

/// Every process at one moment.
#[derive(Debug, Default)]
pub struct Snapshot {
    procs: BTreeMap<i32, ProcInfo>,
}

impl Snapshot {
    /// Lists every process (the cheap listing: PIDs, parents, names, start times, states).
    pub fn take() -> Result<Snapshot, String> {
        let mut s = new_system().map_err(|e| format!("listing processes: {e}"))?;
        s.refresh_processes_specifics(ProcessesToUpdate::All, true, ProcessRefreshKind::nothing());
        Ok(Snapshot::of(&s))
    }

    /// The processes a sysinfo view already holds (refreshed by its owner).
    pub fn of(system: &System) -> Snapshot {
        let procs = system
            .processes()
            .values()
            .filter_map(ProcInfo::of)
            .map(|p| (p.pid, p))
            .collect();
        Snapshot { procs }
    }

    /// The process `pid`, if it was listed.
    pub fn get(&self, pid: i32) -> Option<&ProcInfo> {
        self.procs.get(&pid)
    }

    /// Every process, by PID.
    pub fn iter(&self) -> impl Iterator<Item = &ProcInfo> {
        self.procs.values()
    }

    /// How many processes were listed.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// True when nothing was listed.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// The `roots` that were listed (each once, in order), then their descendants, parents
    /// before children; a child counts only when it started no earlier than its parent.
    pub fn tree(&self, roots: &[i32]) -> Vec<&ProcInfo> {
        let mut children: BTreeMap<i32, Vec<&ProcInfo>> = BTreeMap::new();
        for p in self.procs.values() {
            if let Some(pp) = p.ppid.filter(|&pp| pp != p.pid) {
                children.entry(pp).or_default().push(p);
            }
        }
        let mut seen = HashSet::new();
        let mut queue: VecDeque<&ProcInfo> = roots
            .iter()
            .filter_map(|&r| self.get(r))
            .filter(|p| seen.insert(p.pid))
            .collect();
        let mut out = Vec::new();
        while let Some(p) = queue.pop_front() {
            out.push(p);
            for &kid in children.get(&p.pid).map_or(&[][..], Vec::as_slice) {
                if kid.start >= p.start && seen.insert(kid.pid) {
                    queue.push_back(kid);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A child that runs until its stdin closes.
    fn waiting_child() -> std::process::Child {
        #[cfg(windows)]
        let mut cmd = std::process::Command::new("cmd");
        #[cfg(windows)]
        cmd.args(["/C", "more"]);
        #[cfg(unix)]
        let mut cmd = std::process::Command::new("cat");
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn")
    }

    #[test]
    fn a_child_is_read_alone_listed_and_in_this_process_tree() {
        let me = std::process::id() as i32;
        let mut child = waiting_child();
        let kid = child.id() as i32;
        let alone = read(kid).expect("the child is read alone");
        let snap = Snapshot::take().expect("snapshot");
        drop(child.stdin.take());
        child.wait().expect("wait");

        let info = snap.get(me).expect("this process is listed");
        assert!(info.running() && info.start > 0);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(info.start <= now, "{} vs {now}", info.start);
        assert_eq!(alone.ppid, Some(me));
        assert!(alone.running() && alone.start >= info.start);
        assert_eq!(snap.get(kid).map(|k| k.start), Some(alone.start));
        let tree: Vec<i32> = snap.tree(&[me]).iter().map(|p| p.pid).collect();
        assert_eq!(tree.first(), Some(&me));
        assert!(tree.contains(&kid), "{tree:?}");
        assert!(snap.tree(&[i32::MAX]).is_empty());
        // Gone once it has exited and been waited for.
        assert!(read(kid).is_none_or(|k| !k.running() || k.start != alone.start));
        assert!(read(i32::MAX).is_none());
    }

    #[test]
    fn a_tree_takes_children_started_no_earlier_than_their_parent() {
        let p = |pid, ppid, start| ProcInfo {
            pid,
            ppid: Some(ppid),
            name: format!("p{pid}"),
            start,
            zombie: false,
            dead: false,
        };
        let snap = Snapshot {
            procs: [
                p(1, 0, 10),
                p(2, 1, 20),
                p(3, 2, 30),
                p(4, 1, 5),
                p(5, 5, 40),
            ]
            .into_iter()
            .map(|i| (i.pid, i))
            .collect(),
        };
        let pids = |roots: &[i32]| -> Vec<i32> { snap.tree(roots).iter().map(|i| i.pid).collect() };
        // 4 names 1 as its parent but started before it: a reused PID, not a child.
        assert_eq!(pids(&[1]), [1, 2, 3]);
        assert_eq!(pids(&[2, 1, 2]), [2, 1, 3]);
        assert_eq!(pids(&[5]), [5], "its own parent is not its child");
        assert!(pids(&[9]).is_empty());
    }
}
