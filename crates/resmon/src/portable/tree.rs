//! The target's process tree off Linux, through sysinfo: one cheap listing of every process
//! gives the tree by parent PID, then only its members are read in full (CPU time, RSS, I/O,
//! handles or descriptors), plus their thread counts ([`super::threads`]).
//!
//! A PID recorded as a parent may since have been reused (Windows keeps a process's parent
//! PID after that parent exits): a process counts as a child only when it started no earlier
//! than its parent. CPU % is the CPU time delta over the wall time between samples (100 % =
//! one core); a process born since the previous sample counts in full, one seen for the
//! first time otherwise from the next sample on. On Windows the fd figures count handles
//! (`GetProcessHandleCount`) and the I/O figures all I/O transfers (`GetProcessIoCounters`).

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use soak_core::portable_proc::Snapshot;
use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::{new_system, running, sys_pid, threads};
use crate::system::Metric;
use crate::tree::{ProcReading, ProcessFigures, TreeSample, TreeTotals};

/// Why a member's open descriptors (handles on Windows) are unknown.
const NO_FDS: &str = "the OS did not count its open handles/descriptors";
/// Why PSS/USS are never there off Linux.
const NO_PSS: &str = "PSS/USS are read from Linux's smaps_rollup only";

/// Reads trees; keeps sysinfo's view and the previous CPU times for the deltas.
#[derive(Debug)]
pub struct TreeReader {
    system: Metric<System>,
    follow_tree: bool,
    /// CPU milliseconds by (PID, start time) at the previous sample.
    prev_cpu: HashMap<(i32, u64), u64>,
    /// When the previous sample was taken (monotonic, and in seconds since the epoch).
    prev_at: Option<(Instant, u64)>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TreeReader {
    /// A reader; `follow_tree` false restricts the totals to the targets themselves.
    pub fn new(follow_tree: bool) -> Self {
        TreeReader {
            system: new_system(),
            follow_tree,
            prev_cpu: HashMap::new(),
            prev_at: None,
        }
    }

    /// Takes the CPU baseline of the targets' trees (before the warm-up).
    pub fn prime(&mut self, roots: &[i32]) {
        let _ = self.sample(roots, false);
    }

    /// Reads the targets' trees; `pss` reports PSS/USS as unavailable (Linux only).
    pub fn sample(&mut self, roots: &[i32], pss: bool) -> TreeSample {
        let now = (Instant::now(), unix_now());
        let prev_at = self.prev_at.replace(now);
        let prev_cpu = std::mem::take(&mut self.prev_cpu);
        let Some(&primary_pid) = roots.first() else {
            return TreeSample {
                primary: Err("no target".into()),
                totals: Err("no target".into()),
            };
        };
        let s = match &mut self.system {
            Ok(s) => s,
            Err(e) => {
                return TreeSample {
                    primary: Err(e.clone()),
                    totals: Err(e.clone()),
                };
            }
        };
        let members = if self.follow_tree {
            s.refresh_processes_specifics(
                ProcessesToUpdate::All,
                true,
                ProcessRefreshKind::nothing(),
            );
            Snapshot::of(s).tree(roots).iter().map(|p| p.pid).collect()
        } else {
            roots.to_vec()
        };
        let wanted: Vec<Pid> = members.iter().filter_map(|&p| sys_pid(p)).collect();
        s.refresh_processes_specifics(
            ProcessesToUpdate::Some(&wanted),
            true,
            ProcessRefreshKind::nothing()
                .with_cpu()
                .with_memory()
                .with_disk_usage(),
        );
        let thread_counts = threads::counts(&members);
        let dt = prev_at.map(|(t, _)| now.0.duration_since(t).as_secs_f64());
        let mut primary: Metric<ProcessFigures> = Err(format!("PID {primary_pid}: not running"));
        let mut t = TreeTotals::new(pss.then(|| Err(NO_PSS.to_string())));
        for &pid in &members {
            let Some(p) = sys_pid(pid).and_then(|sp| s.process(sp)) else {
                continue;
            };
            let zombie = !running(p);
            let threads = match &thread_counts {
                Ok(counts) => match counts.get(&pid) {
                    Some(&n) => n,
                    None if zombie => 0,
                    // Exited since the listing, or not ours to inspect: not counted.
                    None => continue,
                },
                Err(e) => {
                    primary = Err(e.clone());
                    return TreeSample {
                        primary,
                        totals: Err(e.clone()),
                    };
                }
            };
            let disk = p.disk_usage();
            let r = ProcReading {
                pid,
                state: if zombie { 'Z' } else { 'R' },
                start_ticks: p.start_time(),
                cpu_ticks: p.accumulated_cpu_time(),
                threads,
                rss_bytes: p.memory(),
                // A live Windows process always holds handles: 0 is a count not taken
                // (wine reports 0), not a figure.
                fds: p
                    .open_files()
                    .filter(|&n| !(cfg!(windows) && n == 0))
                    .map(|n| n as u64)
                    .ok_or_else(|| NO_FDS.to_string()),
                io: Ok((disk.total_read_bytes, disk.total_written_bytes)),
            };
            let key = (pid, r.start_ticks);
            self.prev_cpu.insert(key, r.cpu_ticks);
            let base = match prev_cpu.get(&key) {
                Some(&b) => Some(b),
                // Born after the previous sample: all its CPU time is in this interval.
                None if prev_at.is_some_and(|(_, unix)| r.start_ticks > unix) => Some(0),
                None => None,
            };
            let cpu = match (base, dt) {
                (Some(b), Some(dt)) if dt > 0.0 => {
                    Ok(r.cpu_ticks.saturating_sub(b) as f64 / 1000.0 / dt * 100.0)
                }
                _ => Err("no CPU baseline yet (process just attached)".to_string()),
            };
            t.add(&r, &cpu);
            if pid == primary_pid {
                primary = Ok(ProcessFigures {
                    reading: r,
                    cpu_percent: cpu,
                });
            }
        }
        let totals = if t.count == 0 {
            Err("target not running".to_string())
        } else {
            Ok(t)
        };
        TreeSample { primary, totals }
    }
}
