//! The Linux tree reader: every member's /proc files kept open between samples.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::time::{Duration, Instant};

use soak_core::proc::descendants;

use super::{ProcReading, ProcessFigures, TreeSample, TreeTotals, parse_stat};
use crate::procfile::{ProcFile, field_u64, is_gone};
use crate::system::Metric;

/// Beyond this many processes, per-process files are opened for each read instead of being
/// kept open, so a huge tree cannot exhaust the descriptor limit.
const MAX_CACHED: usize = 256;

/// Reads trees; keeps per-process files open and the previous CPU ticks for the deltas.
#[derive(Debug)]
pub struct TreeReader {
    handles: HashMap<i32, Handle>,
    prev_ticks: HashMap<(i32, u64), u64>,
    prev_at: Option<f64>,
    ticks_per_s: f64,
    page_size: u64,
    follow_tree: bool,
    children_files: bool,
}

/// Seconds since boot on the clock that process start times use (CLOCK_BOOTTIME).
pub fn boot_clock_s() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_BOOTTIME)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0)
}

#[derive(Debug)]
struct Handle {
    pid: i32,
    stat: ProcFile,
    io: Result<ProcFile, String>,
    fd_dir: Result<File, String>,
    /// `children` files, one per thread, and the thread count they were listed for.
    children: Vec<ProcFile>,
    children_threads: u64,
    /// `schedstat`: the main thread's exact run time, to see that a process has not run.
    schedstat: Option<ProcFile>,
    cache: Option<Cached>,
}

/// The last full reading of a process and its run time then.
#[derive(Debug)]
struct Cached {
    runtime_ns: u64,
    at: Instant,
    reading: ProcReading,
    kids: Vec<i32>,
}

/// How long a full reading of an idle tree member may be reused. A single-threaded process
/// whose run time (`schedstat`, nanoseconds) has not moved has made no system call since:
/// no new descriptor, no I/O, no fork, no reaped child. Only its RSS can shrink meanwhile
/// (reclaim), and a subreaper can adopt orphans: both are caught by a full re-read at least
/// this often. At intervals of a second or more every sample is a full read; the shortcut
/// only pays at high rates (10 Hz), where it turns 4 reads of an idle process into 1.
const REFRESH: Duration = Duration::from_secs(1);

fn count_fds(pid: i32, dir: &Result<File, String>) -> Metric<u64> {
    let dir = dir.as_ref().map_err(Clone::clone)?;
    let n = dir
        .metadata()
        .map_err(|e| format!("/proc/{pid}/fd: {e}"))?
        .len();
    if n > 0 {
        return Ok(n);
    }
    // Kernels before 6.2 report 0 here: count the entries.
    let path = format!("/proc/{pid}/fd");
    Ok(std::fs::read_dir(&path)
        .map_err(|e| format!("{path}: {e}"))?
        .count() as u64)
}

fn parse_io(text: &str) -> Option<(u64, u64)> {
    Some((
        field_u64(text, "read_bytes")?,
        field_u64(text, "write_bytes")?,
    ))
}

impl Handle {
    fn open(pid: i32) -> Result<Handle, std::io::Error> {
        let stat = ProcFile::open_single(format!("/proc/{pid}/stat"))?;
        let io = ProcFile::open_single(format!("/proc/{pid}/io"))
            .map_err(|e| format!("/proc/{pid}/io: {e}"));
        let fd_dir =
            File::open(format!("/proc/{pid}/fd")).map_err(|e| format!("/proc/{pid}/fd: {e}"));
        Ok(Handle {
            pid,
            stat,
            io,
            fd_dir,
            children: Vec::new(),
            children_threads: 0,
            schedstat: ProcFile::open_single(format!("/proc/{pid}/schedstat")).ok(),
            cache: None,
        })
    }

    /// The main thread's run time in nanoseconds.
    fn runtime_ns(&mut self) -> Option<u64> {
        self.schedstat
            .as_mut()?
            .read()
            .ok()?
            .split_ascii_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// The cached reading, when this single-threaded process has not run since it was taken
    /// (less than [`REFRESH`] ago).
    fn unchanged(&mut self) -> Option<&Cached> {
        let fresh = self.cache.as_ref().is_some_and(|c| {
            c.reading.threads == 1 && c.reading.state != 'Z' && c.at.elapsed() < REFRESH
        });
        if !fresh {
            return None;
        }
        let now = self.runtime_ns()?;
        self.cache.as_ref().filter(|c| c.runtime_ns == now)
    }

    /// `None` when the process has gone.
    fn read(&mut self, page_size: u64) -> Option<ProcReading> {
        let pid = self.pid;
        let text = self.stat.read().ok()?;
        let mut r = parse_stat(pid, text, page_size)?;
        if r.state == 'Z' {
            // Zombies have no descriptors and no io worth reading.
            r.fds = Ok(0);
            r.io = Ok((0, 0));
            return Some(r);
        }
        r.fds = count_fds(pid, &self.fd_dir);
        r.io = match &mut self.io {
            Err(reason) => Err(reason.clone()),
            Ok(f) => match f.read() {
                Ok("") => return None,
                Ok(text) => parse_io(text).ok_or_else(|| format!("/proc/{pid}/io: malformed")),
                Err(e) if is_gone(&e) => return None,
                Err(e) => Err(format!("/proc/{pid}/io: {e}")),
            },
        };
        Some(r)
    }

    /// Direct children, from the `children` file of every thread. A single-threaded process
    /// keeps its one file open; a multi-threaded one lists its threads again each time
    /// (they come and go, and each thread has its own children).
    fn children(&mut self, threads: u64, out: &mut Vec<i32>) -> Option<()> {
        let pid = self.pid;
        if threads > 1 || self.children_threads != threads || self.children.is_empty() {
            self.children.clear();
            if threads <= 1 {
                self.children
                    .push(ProcFile::open(format!("/proc/{pid}/task/{pid}/children")).ok()?);
            } else {
                for entry in std::fs::read_dir(format!("/proc/{pid}/task"))
                    .ok()?
                    .flatten()
                {
                    if let Ok(f) = ProcFile::open(entry.path().join("children")) {
                        self.children.push(f);
                    }
                }
            }
            self.children_threads = threads;
        }
        for f in &mut self.children {
            if let Ok(text) = f.read() {
                out.extend(
                    text.split_ascii_whitespace()
                        .filter_map(|t| t.parse::<i32>().ok()),
                );
            }
        }
        if threads > 1 {
            // Keep only the main thread's file between samples: the others are re-listed.
            self.children.truncate(1);
            self.children_threads = 0;
        }
        Some(())
    }
}

/// PSS and USS of `pid` in bytes, from `smaps_rollup` (costly: walks every mapping).
pub fn pss_uss(pid: i32) -> Metric<(u64, u64)> {
    let path = format!("/proc/{pid}/smaps_rollup");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let kb = |k: &str| field_u64(&text, k).unwrap_or(0) * 1024;
    match field_u64(&text, "Pss") {
        Some(pss) => Ok((pss * 1024, kb("Private_Clean") + kb("Private_Dirty"))),
        None => Err(format!("{path}: no Pss line")),
    }
}

impl TreeReader {
    /// A reader; `follow_tree` false restricts the totals to the targets themselves.
    pub fn new(follow_tree: bool) -> Self {
        TreeReader {
            handles: HashMap::new(),
            prev_ticks: HashMap::new(),
            prev_at: None,
            ticks_per_s: soak_core::proc::ticks_per_second() as f64,
            page_size: soak_core::proc::page_size(),
            follow_tree,
            children_files: std::path::Path::new("/proc/thread-self/children").exists(),
        }
    }

    /// Reads `pid` and, with `kids`, appends its direct children. `force` (the targets
    /// themselves) always reads in full; other members may reuse an idle process's reading.
    fn visit(&mut self, pid: i32, force: bool, kids: Option<&mut Vec<i32>>) -> Option<ProcReading> {
        let page = self.page_size;
        let mut h = match self.handles.remove(&pid) {
            Some(h) => h,
            None => Handle::open(pid).ok()?,
        };
        if !force {
            if let Some(c) = h.unchanged() {
                let r = c.reading.clone();
                if let Some(k) = kids {
                    k.extend_from_slice(&c.kids);
                }
                self.handles.insert(pid, h);
                return Some(r);
            }
        }
        let runtime = if force { None } else { h.runtime_ns() };
        let r = match h.read(page) {
            Some(r) => r,
            None => {
                // Gone: maybe the PID is already someone else's; open afresh.
                h = Handle::open(pid).ok()?;
                h.read(page)?
            }
        };
        let mut local = Vec::new();
        if kids.is_some() && r.state != 'Z' {
            h.children(r.threads, &mut local);
        }
        h.cache = runtime.map(|runtime_ns| Cached {
            runtime_ns,
            at: Instant::now(),
            reading: r.clone(),
            kids: local.clone(),
        });
        if let Some(k) = kids {
            k.extend_from_slice(&local);
        }
        if self.handles.len() < MAX_CACHED {
            self.handles.insert(pid, h);
        }
        Some(r)
    }

    /// Reads every member of the targets' trees, targets first, each PID once.
    fn walk(&mut self, roots: &[i32]) -> Vec<ProcReading> {
        let mut out = Vec::with_capacity(self.handles.len().max(roots.len()));
        let mut seen = HashSet::with_capacity(self.handles.len() + roots.len());
        let mut queue: VecDeque<i32> = roots.iter().copied().filter(|&p| seen.insert(p)).collect();
        if self.follow_tree && !self.children_files {
            for &root in roots {
                if let Ok(kids) = descendants(root) {
                    queue.extend(kids.into_iter().filter(|&p| seen.insert(p)));
                }
            }
            out.extend(
                queue
                    .into_iter()
                    .filter_map(|pid| self.visit(pid, roots.contains(&pid), None)),
            );
            return out;
        }
        let mut kids = Vec::new();
        while let Some(pid) = queue.pop_front() {
            kids.clear();
            let follow = self.follow_tree;
            let force = roots.contains(&pid);
            if let Some(r) = self.visit(pid, force, follow.then_some(&mut kids)) {
                out.push(r);
                queue.extend(kids.iter().copied().filter(|&p| seen.insert(p)));
            }
        }
        out
    }

    /// Takes the CPU baseline of the targets' trees (before the warm-up).
    pub fn prime(&mut self, roots: &[i32]) {
        let _ = self.sample(roots, false);
    }

    /// Reads the targets' trees; `pss` adds PSS/USS (every Nth sample).
    pub fn sample(&mut self, roots: &[i32], pss: bool) -> TreeSample {
        let now = boot_clock_s();
        let prev_at = self.prev_at.replace(now);
        let dt = prev_at.map(|p| now - p).filter(|d| *d > 0.0);
        let mut next_ticks = HashMap::with_capacity(self.prev_ticks.len() + 4);
        let Some(&primary_pid) = roots.first() else {
            self.prev_ticks = next_ticks;
            return TreeSample {
                primary: Err("no target".into()),
                totals: Err("no target".into()),
            };
        };
        let members = self.walk(roots);
        let mut primary: Metric<ProcessFigures> = Err(format!("PID {primary_pid}: not running"));
        let mut t = TreeTotals::new(pss.then_some(Ok((0, 0))));
        let mut alive = Vec::with_capacity(members.len());
        for r in members {
            let pid = r.pid;
            let key = (pid, r.start_ticks);
            next_ticks.insert(key, r.cpu_ticks);
            let base = match self.prev_ticks.get(&key) {
                Some(&b) => Some(b),
                // Born after the previous sample: all its CPU time is in this interval.
                None if prev_at
                    .is_some_and(|p| r.start_ticks as f64 / self.ticks_per_s >= p - 0.01) =>
                {
                    Some(0)
                }
                None => None,
            };
            let cpu = match (base, dt) {
                (Some(b), Some(dt)) => {
                    Ok(r.cpu_ticks.saturating_sub(b) as f64 / self.ticks_per_s / dt * 100.0)
                }
                _ => Err("no CPU baseline yet (process just attached)".to_string()),
            };
            t.add(&r, &cpu);
            alive.push(pid);
            if pid == primary_pid {
                primary = Ok(ProcessFigures {
                    reading: r,
                    cpu_percent: cpu,
                });
            }
        }
        if pss {
            let mut sum: Metric<(u64, u64)> = Ok((0, 0));
            for &pid in &alive {
                match (pss_uss(pid), &sum) {
                    (Ok(v), Ok(s)) => sum = Ok((s.0 + v.0, s.1 + v.1)),
                    // Exited since: not counted. Zombies have no mappings.
                    (Err(_), _) if !std::path::Path::new(&format!("/proc/{pid}")).exists() => {}
                    (Err(e), Ok(_)) => sum = Err(e),
                    (_, Err(_)) => {}
                }
            }
            t.pss_uss = Some(sum);
        }
        self.handles.retain(|pid, _| alive.contains(pid));
        self.prev_ticks = next_ticks;
        let totals = if t.count == 0 {
            Err("target not running".to_string())
        } else {
            Ok(t)
        };
        TreeSample { primary, totals }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    #[test]
    fn parses_stat_with_a_hostile_name() {
        let text = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 4 0 12345 \
                    1000000 250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
        let r = parse_stat(42, text, 4096).expect("parse");
        assert_eq!(r.state, 'S');
        assert_eq!(r.cpu_ticks, 10);
        assert_eq!(r.threads, 4);
        assert_eq!(r.start_ticks, 12345);
        assert_eq!(r.rss_bytes, 250 * 4096);
        assert!(parse_stat(1, "garbage", 4096).is_none());
    }

    #[test]
    fn totals_include_children_and_survive_their_death() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 60 & sleep 60 & wait"])
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let root = child.id() as i32;
        let mut reader = TreeReader::new(true);
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = 0;
        while Instant::now() < deadline {
            let s = reader.sample(&[root], true);
            seen = s.totals.as_ref().map_or(0, |t| t.count);
            if seen == 3 {
                let t = s.totals.as_ref().expect("totals");
                assert!(t.rss_bytes > 0 && t.threads >= 3);
                assert!(*t.fds.as_ref().expect("fds") >= 3);
                let (pss, uss) = t
                    .pss_uss
                    .clone()
                    .expect("asked")
                    .expect("smaps_rollup readable");
                assert!(pss > 0 && uss <= pss + 4096 * 1024, "{pss} {uss}");
                assert_eq!(s.primary.as_ref().expect("primary").reading.pid, root);
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = Command::new("pkill")
            .args(["-P", &root.to_string()])
            .status();
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(seen, 3, "sh and its two sleeps");
        let after = reader.sample(&[root], false);
        assert!(after.primary.is_err() && after.totals.is_err());
        assert!(reader.handles.is_empty(), "files of gone processes closed");
    }

    #[test]
    fn no_tree_counts_the_target_alone() {
        let me = std::process::id() as i32;
        let mut reader = TreeReader::new(false);
        reader.prime(&[me]);
        let s = reader.sample(&[me], false);
        let t = s.totals.expect("totals");
        assert_eq!(t.count, 1);
        let p = s.primary.expect("self");
        assert_eq!(p.reading.rss_bytes, t.rss_bytes);
        assert!(p.cpu_percent.is_ok(), "baseline taken by prime");
    }
}
