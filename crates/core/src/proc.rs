//! Linux process-tree helpers over /proc, shared by resmon, zombiereap and the xtask.
//!
//! Two ways to find a tree, each where it is cheapest:
//! - [`descendants`] walks `/proc/PID/task/TID/children` from the root: tens of microseconds
//!   for a small tree, the right tool for sampling a target many times a second;
//! - [`ProcessTable::snapshot`] reads every `/proc/PID/stat` once: a consistent whole-system
//!   view (zombie scans, reparenting, trees whose kernel lacks `children` files).
//!
//! A process can exit between any two reads: every function treats that as "gone"
//! ([`ProcError::Gone`]) rather than a failure, and nothing here panics on it.
//! A process is identified by PID *and* start time ([`ProcessIdentity`]), so a recycled PID is
//! never taken for the process that used to have it.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io;

use procfs::process::Process;
use procfs::{CurrentSI, ProcError as RawProcError};

/// Why a process could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// The process does not exist (or exited while being read).
    #[error("PID {0}: no such process")]
    Gone(i32),
    /// /proc refused to show it.
    #[error("PID {0}: permission denied")]
    PermissionDenied(i32),
    /// Anything else (a malformed /proc file, an I/O error).
    #[error("PID {pid}: {message}")]
    Other {
        /// The process.
        pid: i32,
        /// What went wrong.
        message: String,
    },
}

impl ProcError {
    fn from_raw(pid: i32, e: RawProcError) -> Self {
        match e {
            RawProcError::NotFound(_) => ProcError::Gone(pid),
            RawProcError::PermissionDenied(_) => ProcError::PermissionDenied(pid),
            RawProcError::Io(ref io, _) if io.raw_os_error() == Some(libc::ESRCH) => {
                ProcError::Gone(pid)
            }
            other => ProcError::Other {
                pid,
                message: other.to_string(),
            },
        }
    }
}

/// The fields of `/proc/PID/stat` that the tools use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    /// Process ID.
    pub pid: i32,
    /// Parent process ID (0 for the kernel's own).
    pub ppid: i32,
    /// The short name (`comm`), at most 15 bytes.
    pub comm: String,
    /// State letter: `R`, `S`, `D`, `Z` (zombie), `T`, `t`, `X`, `I`.
    pub state: char,
    /// Start time in clock ticks after boot (stable for the life of the process).
    pub start_ticks: u64,
    /// User CPU time in clock ticks.
    pub utime_ticks: u64,
    /// System CPU time in clock ticks.
    pub stime_ticks: u64,
    /// Number of threads.
    pub num_threads: i64,
    /// Resident set size in pages.
    pub rss_pages: u64,
    /// Process group ID.
    pub pgrp: i32,
}

impl ProcStat {
    /// True for a zombie (`Z`): exited, not yet reaped by its parent.
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z'
    }

    /// This process's identity (PID + start time).
    pub fn identity(&self) -> ProcessIdentity {
        ProcessIdentity {
            pid: self.pid,
            start_ticks: self.start_ticks,
        }
    }
}

/// Reads `/proc/PID/stat`.
pub fn read_stat(pid: i32) -> Result<ProcStat, ProcError> {
    let process = Process::new(pid).map_err(|e| ProcError::from_raw(pid, e))?;
    let s = process.stat().map_err(|e| ProcError::from_raw(pid, e))?;
    Ok(ProcStat {
        pid: s.pid,
        ppid: s.ppid,
        comm: s.comm,
        state: s.state,
        start_ticks: s.starttime,
        utime_ticks: s.utime,
        stime_ticks: s.stime,
        num_threads: s.num_threads,
        rss_pages: s.rss,
        pgrp: s.pgrp,
    })
}

/// A process named by PID and start time: two processes that ever had the same PID differ
/// in start time, so signals aimed at an identity never hit a recycled PID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProcessIdentity {
    /// Process ID.
    pub pid: i32,
    /// Start time in clock ticks after boot.
    pub start_ticks: u64,
}

impl ProcessIdentity {
    /// The identity of the process that has `pid` now.
    pub fn of(pid: i32) -> Result<Self, ProcError> {
        Ok(read_stat(pid)?.identity())
    }

    /// True while this very process exists (a zombie still counts): same PID, same start time.
    pub fn is_alive(&self) -> bool {
        read_stat(self.pid).is_ok_and(|s| s.start_ticks == self.start_ticks)
    }
}

/// Direct children of `pid`, from `/proc/PID/task/*/children` (Linux ≥ 3.5 with
/// `CONFIG_PROC_CHILDREN`). `Ok(None)` when the kernel has no such files.
pub fn children(pid: i32) -> Result<Option<Vec<i32>>, ProcError> {
    let task_dir = format!("/proc/{pid}/task");
    let entries = match std::fs::read_dir(&task_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ProcError::Gone(pid)),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            return Err(ProcError::PermissionDenied(pid));
        }
        Err(e) => {
            return Err(ProcError::Other {
                pid,
                message: e.to_string(),
            });
        }
    };
    let mut kids = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path().join("children");
        match std::fs::read_to_string(&path) {
            Ok(text) => kids.extend(
                text.split_ascii_whitespace()
                    .filter_map(|t| t.parse::<i32>().ok()),
            ),
            // The thread exited between listing and reading: its children moved elsewhere.
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    && path.parent().is_some_and(|p| !p.exists()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(_) => {}
        }
    }
    kids.sort_unstable();
    kids.dedup();
    Ok(Some(kids))
}

/// Every descendant of `root` (not `root` itself), parents before children, found by walking
/// `children` files; falls back to a full [`ProcessTable`] scan when the kernel lacks them.
/// Processes that exit during the walk are simply absent.
pub fn descendants(root: i32) -> Result<Vec<i32>, ProcError> {
    let mut out = Vec::new();
    let mut queue = VecDeque::from([root]);
    let mut seen = HashSet::from([root]);
    while let Some(pid) = queue.pop_front() {
        let kids = match children(pid) {
            Ok(Some(k)) => k,
            Ok(None) => return Ok(ProcessTable::snapshot()?.descendants(root)),
            Err(ProcError::Gone(_)) if pid != root => continue,
            Err(e) => return Err(e),
        };
        for k in kids {
            if seen.insert(k) {
                out.push(k);
                queue.push_back(k);
            }
        }
    }
    Ok(out)
}

/// A snapshot of every process's stat, with a parent → children index.
#[derive(Debug, Clone, Default)]
pub struct ProcessTable {
    procs: BTreeMap<i32, ProcStat>,
    children: BTreeMap<i32, Vec<i32>>,
}

impl ProcessTable {
    /// Reads `/proc/*/stat` for every process. Processes that vanish mid-scan are skipped.
    pub fn snapshot() -> Result<Self, ProcError> {
        let all = procfs::process::all_processes().map_err(|e| ProcError::from_raw(0, e))?;
        let mut procs = BTreeMap::new();
        for p in all.flatten() {
            if let Ok(s) = read_stat(p.pid) {
                procs.insert(s.pid, s);
            }
        }
        Ok(Self::from_stats(procs.into_values()))
    }

    /// Builds a table from stats (for tests and for callers that filtered them).
    pub fn from_stats(stats: impl IntoIterator<Item = ProcStat>) -> Self {
        let procs: BTreeMap<i32, ProcStat> = stats.into_iter().map(|s| (s.pid, s)).collect();
        let mut children: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
        for s in procs.values() {
            children.entry(s.ppid).or_default().push(s.pid);
        }
        ProcessTable { procs, children }
    }

    /// The stat of `pid`, if it was present.
    pub fn get(&self, pid: i32) -> Option<&ProcStat> {
        self.procs.get(&pid)
    }

    /// Every process, by PID.
    pub fn iter(&self) -> impl Iterator<Item = &ProcStat> {
        self.procs.values()
    }

    /// How many processes the snapshot holds.
    pub fn len(&self) -> usize {
        self.procs.len()
    }

    /// True when the snapshot holds no process.
    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    /// Direct children of `pid`.
    pub fn children_of(&self, pid: i32) -> &[i32] {
        self.children.get(&pid).map_or(&[], Vec::as_slice)
    }

    /// Every descendant of `root` (not `root` itself), parents before children.
    pub fn descendants(&self, root: i32) -> Vec<i32> {
        let mut out = Vec::new();
        let mut queue = VecDeque::from([root]);
        let mut seen = HashSet::from([root]);
        while let Some(pid) = queue.pop_front() {
            for &k in self.children_of(pid) {
                if seen.insert(k) {
                    out.push(k);
                    queue.push_back(k);
                }
            }
        }
        out
    }
}

/// The kernel's clock ticks per second (`USER_HZ`, normally 100).
pub fn ticks_per_second() -> u64 {
    procfs::ticks_per_second()
}

/// The memory page size in bytes.
pub fn page_size() -> u64 {
    procfs::page_size()
}

/// Boot time as Unix seconds (from `btime` in /proc/stat).
pub fn boot_time_unix() -> Result<u64, ProcError> {
    procfs::KernelStats::current()
        .map(|k| k.btime)
        .map_err(|e| ProcError::from_raw(0, e))
}

/// A process's start time as Unix seconds.
pub fn start_time_unix(stat: &ProcStat) -> Result<f64, ProcError> {
    Ok(boot_time_unix()? as f64 + stat.start_ticks as f64 / ticks_per_second() as f64)
}

/// The peak resident set of `pid` so far in KiB (`VmHWM` of /proc/PID/status; it only grows,
/// so the last reading before the process exits is its peak). `None` once it has exited (a
/// zombie has no memory) or when it cannot be read. Tests poll it to bound a tool's memory:
/// `wait4`'s `ru_maxrss` cannot serve, it carries the spawning process's peak across `exec`.
pub fn peak_rss_kib(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The command line of `pid` (empty for kernel threads and zombies).
pub fn cmdline(pid: i32) -> Result<Vec<String>, ProcError> {
    Process::new(pid)
        .and_then(|p| p.cmdline())
        .map_err(|e| ProcError::from_raw(pid, e))
}

/// How many file descriptors `pid` has open.
pub fn fd_count(pid: i32) -> Result<usize, ProcError> {
    Process::new(pid)
        .and_then(|p| p.fd_count())
        .map_err(|e| ProcError::from_raw(pid, e))
}

/// Bytes `pid` caused to be read from and written to storage (`/proc/PID/io`).
pub fn io_bytes(pid: i32) -> Result<(u64, u64), ProcError> {
    Process::new(pid)
        .and_then(|p| p.io())
        .map(|io| (io.read_bytes, io.write_bytes))
        .map_err(|e| ProcError::from_raw(pid, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    fn stat(pid: i32, ppid: i32) -> ProcStat {
        ProcStat {
            pid,
            ppid,
            comm: format!("p{pid}"),
            state: 'S',
            start_ticks: pid as u64,
            utime_ticks: 0,
            stime_ticks: 0,
            num_threads: 1,
            rss_pages: 0,
            pgrp: pid,
        }
    }

    #[test]
    fn table_descendants_are_breadth_first() {
        let t = ProcessTable::from_stats([
            stat(1, 0),
            stat(10, 1),
            stat(11, 10),
            stat(12, 10),
            stat(20, 1),
            stat(13, 11),
        ]);
        assert_eq!(t.descendants(10), [11, 12, 13]);
        assert_eq!(t.descendants(1), [10, 20, 11, 12, 13]);
        assert!(t.descendants(13).is_empty());
    }

    #[test]
    fn real_tree_is_found_by_both_walks() {
        // sh → sleep, sh → sh → sleep
        let mut child = Command::new("sh")
            .args(["-c", "sleep 30 & sh -c 'sleep 30 & wait' & wait"])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let root = child.id() as i32;
        let mut found = Vec::new();
        for _ in 0..100 {
            found = descendants(root).expect("walk");
            if found.len() >= 3 {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let mut table_view = ProcessTable::snapshot()
            .expect("snapshot")
            .descendants(root);
        let _ = Command::new("pkill")
            .args(["-P", &root.to_string()])
            .status();
        for pid in &found {
            let _ = nix_kill(*pid);
        }
        let _ = child.kill();
        let _ = child.wait();
        found.sort_unstable();
        table_view.sort_unstable();
        assert_eq!(found.len(), 3, "{found:?}");
        assert_eq!(found, table_view);
    }

    fn nix_kill(pid: i32) -> io::Result<()> {
        Command::new("kill")
            .arg(pid.to_string())
            .status()
            .map(|_| ())
    }

    #[test]
    fn own_process_reads_and_identity_detects_reuse() {
        let me = std::process::id() as i32;
        let s = read_stat(me).expect("self");
        assert_eq!(s.pid, me);
        assert!(s.num_threads >= 1 && s.rss_pages > 0);
        assert!(fd_count(me).expect("fds") >= 3);
        let id = s.identity();
        assert!(id.is_alive());
        let fake = ProcessIdentity {
            pid: me,
            start_ticks: s.start_ticks + 1,
        };
        assert!(
            !fake.is_alive(),
            "a different start time is a different process"
        );
        let started = start_time_unix(&s).expect("start");
        let now = chrono::Utc::now().timestamp() as f64;
        assert!(started <= now + 1.0 && started > now - 86_400.0 * 365.0);
    }

    #[test]
    fn missing_pid_is_gone() {
        // PIDs above pid_max never exist.
        assert!(matches!(read_stat(i32::MAX), Err(ProcError::Gone(_))));
        assert!(matches!(children(i32::MAX), Err(ProcError::Gone(_))));
    }

    #[test]
    fn peak_rss_is_read_while_alive_and_none_once_gone() {
        let me = std::process::id() as i32;
        assert!(peak_rss_kib(me).is_some_and(|k| k > 0));
        let mut child = Command::new("true").spawn().expect("spawn");
        let pid = child.id() as i32;
        child.wait().expect("wait");
        assert_eq!(peak_rss_kib(pid), None);
    }
}
