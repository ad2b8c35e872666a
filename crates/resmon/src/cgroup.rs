//! A control group's own accounting (`--cgroup`, `--container`, `--unit`): memory as
//! `docker stats` counts it, the limit, OOM kills, CPU and throttling, pids and memory
//! pressure, read from the cgroup's files under `/sys/fs/cgroup` (v2, or v1's per-controller
//! hierarchies; detected).
//!
//! - memory in use = usage − inactive file cache (v2 `memory.current − memory.stat
//!   inactive_file`; v1 `memory.usage_in_bytes − memory.stat total_inactive_file`), cAdvisor's
//!   working set;
//! - limit: v2 `memory.max` (`max` = unlimited), v1 `memory.limit_in_bytes` (the page
//!   counter's maximum, ~2^63, = unlimited);
//! - OOM kills: v2 `memory.events oom_kill`, v1 `memory.oom_control oom_kill`;
//! - CPU: v2 `cpu.stat usage_usec / nr_throttled / throttled_usec`; v1 `cpuacct.usage` (ns) and
//!   `cpu.stat nr_throttled / throttled_time` (ns);
//! - pids: `pids.current`; pressure: `memory.pressure` `some avg10` (v2, or the unified
//!   hierarchy's twin directory on a hybrid host).
//!
//! Every file is opened once and re-read with one `pread` per sample.

use std::path::{Component, Path, PathBuf};
use std::time::Instant;

use crate::procfile::ProcFile;
use crate::system::Metric;

/// The default cgroup mount point.
pub const DEFAULT_ROOT: &str = "/sys/fs/cgroup";

/// A v1 `memory.limit_in_bytes` at or above this is "no limit" (the kernel reports
/// `PAGE_COUNTER_MAX` pages, 0x7FFFFFFFFFFFF000 with 4 KiB pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// Which cgroup interface the files follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The legacy per-controller hierarchies.
    V1,
    /// The unified hierarchy.
    V2,
}

impl Version {
    /// `"v1"` / `"v2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
        }
    }
}

/// Why a cgroup cannot be followed.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// The path leaves the hierarchy or is not text.
    #[error("--cgroup {0}: a cgroup path may not contain '..'")]
    BadPath(String),
    /// Neither a v1 memory nor a v2 directory exists for it.
    #[error("--cgroup {path}: no such cgroup under {root} (looked for {looked})")]
    Missing {
        /// The path given.
        path: String,
        /// The cgroup root.
        root: String,
        /// The directories looked at.
        looked: String,
    },
}

/// Where a cgroup's files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The interface its memory files follow.
    pub version: Version,
    /// The cgroup's path inside the hierarchy (`/system.slice/x.service`).
    pub path: String,
    /// Directory with the memory files.
    pub memory: PathBuf,
    /// Directory with the CPU usage file (v2 `cpu.stat`, v1 `cpuacct.usage`).
    pub cpu_usage: Option<PathBuf>,
    /// Directory with the throttling counters (`cpu.stat`).
    pub cpu_throttle: Option<PathBuf>,
    /// Directory with `pids.current`.
    pub pids: Option<PathBuf>,
    /// Directory with `memory.pressure`.
    pub pressure: Option<PathBuf>,
}

/// The cgroup path inside the hierarchy: `PATH` as `/proc/PID/cgroup`, `docker inspect` or
/// `systemctl show` give it, or a directory under `root` (its mount point and, for v1, the
/// controller directory are taken off).
fn relative(root: &Path, given: &str) -> Result<PathBuf, CgroupError> {
    let p = Path::new(given);
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(CgroupError::BadPath(given.to_string()));
    }
    let inside = match p.strip_prefix(root) {
        Ok(rest) => {
            let mut comps = rest.components();
            let first = comps.clone().next().and_then(|c| c.as_os_str().to_str());
            // A v1 controller directory (memory, cpu,cpuacct, pids, ...) or the hybrid
            // host's `unified` holds the hierarchy; a pure v2 root has no such layer.
            let layered = !root.join("cgroup.controllers").exists()
                && first.is_some_and(|f| root.join(f).is_dir());
            if layered {
                comps.next();
            }
            comps.as_path().to_path_buf()
        }
        Err(_) => p
            .components()
            .filter(|c| matches!(c, Component::Normal(_)))
            .collect(),
    };
    Ok(inside)
}

/// The first of `dirs` (under `root`) holding `file` for the cgroup `rel`.
fn find_dir(root: &Path, controllers: &[&str], rel: &Path, file: &str) -> Option<PathBuf> {
    controllers
        .iter()
        .map(|c| root.join(c).join(rel))
        .find(|d| d.join(file).exists())
}

/// Finds the cgroup `given` under `root` (normally [`DEFAULT_ROOT`]): v1 when the v1 memory
/// controller has it, else v2 (the root itself, or `unified/` on a hybrid host).
pub fn locate(root: &Path, given: &str) -> Result<Location, CgroupError> {
    let rel = relative(root, given)?;
    let shown_path = format!("/{}", rel.display());
    let pure_v2 = root.join("cgroup.controllers").exists();
    let v2_dir = if pure_v2 {
        Some(root.join(&rel))
    } else {
        Some(root.join("unified").join(&rel)).filter(|_| root.join("unified").is_dir())
    };
    let v2_dir = v2_dir.filter(|d| d.join("cgroup.procs").exists());
    let v1_memory = (!pure_v2)
        .then(|| root.join("memory").join(&rel))
        .filter(|d| d.join("memory.usage_in_bytes").exists());
    if let Some(memory) = v1_memory {
        let cpu_usage = find_dir(
            root,
            &["cpu,cpuacct", "cpuacct,cpu", "cpuacct"],
            &rel,
            "cpuacct.usage",
        );
        let cpu_throttle = find_dir(
            root,
            &["cpu,cpuacct", "cpuacct,cpu", "cpu"],
            &rel,
            "cpu.stat",
        );
        let pids = find_dir(root, &["pids"], &rel, "pids.current");
        let pressure = [Some(memory.clone()), v2_dir]
            .into_iter()
            .flatten()
            .find(|d| d.join("memory.pressure").exists());
        return Ok(Location {
            version: Version::V1,
            path: shown_path,
            memory,
            cpu_usage,
            cpu_throttle,
            pids,
            pressure,
        });
    }
    match v2_dir {
        Some(dir) => Ok(Location {
            version: Version::V2,
            path: shown_path,
            cpu_usage: Some(dir.clone()),
            cpu_throttle: Some(dir.clone()),
            pids: Some(dir.clone()),
            pressure: Some(dir.clone()),
            memory: dir,
        }),
        None => {
            let mut looked = Vec::new();
            if !pure_v2 {
                looked.push(root.join("memory").join(&rel));
                if root.join("unified").is_dir() {
                    looked.push(root.join("unified").join(&rel));
                }
            } else {
                looked.push(root.join(&rel));
            }
            Err(CgroupError::Missing {
                path: given.to_string(),
                root: root.display().to_string(),
                looked: looked
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
        }
    }
}

/// The cgroup of `pid` in `/proc/PID/cgroup` text: the v1 memory line when there is one,
/// else the v2 (`0::`) line.
pub fn path_of_pid(proc_cgroup: &str) -> Option<String> {
    let mut v2 = None;
    for line in proc_cgroup.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
        if ctrls.split(',').any(|c| c == "memory") {
            return Some(path.to_string());
        }
        if ctrls.is_empty() {
            v2 = Some(path.to_string());
        }
    }
    v2
}

/// The number on the line `key value` of a flat keyed file (`memory.stat`, `memory.events`,
/// `cpu.stat`, `memory.oom_control`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A single number, or `None` inside `Some` for v2's `max` (no limit).
pub fn number_or_max(text: &str) -> Option<Option<u64>> {
    match text.trim() {
        "max" => Some(None),
        t => t.parse().ok().map(Some),
    }
}

/// `some avg10` of a PSI file (`some avg10=1.23 avg60=... total=...`), percent.
pub fn psi_some_avg10(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("some "))?;
    line.split_ascii_whitespace()
        .find_map(|f| f.strip_prefix("avg10="))?
        .parse()
        .ok()
}

/// Memory figures of one sample, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Usage including the page cache.
    pub usage: u64,
    /// Usage minus inactive file cache (what `docker stats` shows).
    pub working_set: u64,
}

/// One reading of the cgroup.
#[derive(Debug, Clone)]
pub struct CgroupSample {
    /// Memory in use.
    pub memory: Metric<Memory>,
    /// The limit, bytes (`None` = unlimited).
    pub limit: Metric<Option<u64>>,
    /// OOM kills so far.
    pub oom_kills: Metric<u64>,
    /// Cumulative CPU time, s.
    pub cpu_usage_s: Metric<f64>,
    /// CPU % since the previous sample (100 = one core).
    pub cpu_percent: Metric<f64>,
    /// Periods throttled by the CFS quota, and time throttled, s.
    pub throttled: Metric<(u64, f64)>,
    /// Tasks in the cgroup.
    pub pids: Metric<u64>,
    /// Memory PSI `some avg10`, percent.
    pub pressure: Metric<f64>,
}

/// A cgroup file kept open, or why it could not be opened.
#[derive(Debug)]
struct Kept {
    name: String,
    file: Result<ProcFile, String>,
}

impl Kept {
    fn open(dir: Option<&Path>, file: &str, missing: &str) -> Kept {
        let name = file.to_string();
        let file = match dir {
            None => Err(missing.to_string()),
            Some(d) => {
                let p = d.join(file);
                ProcFile::open(&p).map_err(|e| format!("{}: {e}", p.display()))
            }
        };
        Kept { name, file }
    }

    fn read<T>(&mut self, parse: impl FnOnce(&str) -> Option<T>) -> Metric<T> {
        let name = &self.name;
        match &mut self.file {
            Err(e) => Err(e.clone()),
            Ok(f) => {
                let text = f.read().map_err(|e| format!("{name}: {e}"))?;
                parse(text).ok_or_else(|| format!("{name}: malformed"))
            }
        }
    }
}

/// Reads one cgroup's files every sample.
#[derive(Debug)]
pub struct CgroupReader {
    location: Location,
    usage: Kept,
    stat: Kept,
    limit: Kept,
    events: Kept,
    cpu_usage: Kept,
    cpu_stat: Kept,
    pids: Kept,
    pressure: Kept,
    prev_cpu: Option<(f64, Instant)>,
}

impl CgroupReader {
    /// Opens the cgroup's files; a missing one is reported in every sample.
    pub fn new(location: Location) -> CgroupReader {
        let mem = Some(location.memory.as_path());
        let (usage, limit, events, cpu_usage) = match location.version {
            Version::V1 => (
                "memory.usage_in_bytes",
                "memory.limit_in_bytes",
                "memory.oom_control",
                "cpuacct.usage",
            ),
            Version::V2 => ("memory.current", "memory.max", "memory.events", "cpu.stat"),
        };
        let no_cpu = "no cpu/cpuacct controller for this cgroup";
        CgroupReader {
            usage: Kept::open(mem, usage, ""),
            stat: Kept::open(mem, "memory.stat", ""),
            limit: Kept::open(mem, limit, ""),
            events: Kept::open(mem, events, ""),
            cpu_usage: Kept::open(location.cpu_usage.as_deref(), cpu_usage, no_cpu),
            cpu_stat: Kept::open(location.cpu_throttle.as_deref(), "cpu.stat", no_cpu),
            pids: Kept::open(
                location.pids.as_deref(),
                "pids.current",
                "no pids controller for this cgroup",
            ),
            pressure: Kept::open(
                location.pressure.as_deref(),
                "memory.pressure",
                "no memory.pressure for this cgroup (PSI is a cgroup v2 file)",
            ),
            prev_cpu: None,
            location,
        }
    }

    /// Where the files are.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Takes the CPU baseline so the first sample's CPU % is measured.
    pub fn prime(&mut self) {
        let _ = self.sample();
    }

    /// Reads every file once.
    pub fn sample(&mut self) -> CgroupSample {
        let v1 = self.location.version == Version::V1;
        let usage = self.usage.read(|t| t.trim().parse::<u64>().ok());
        let inactive_key = if v1 {
            "total_inactive_file"
        } else {
            "inactive_file"
        };
        let inactive = self.stat.read(|t| keyed(t, inactive_key));
        let memory = usage.and_then(|u| {
            inactive.map(|i| Memory {
                usage: u,
                working_set: u.saturating_sub(i),
            })
        });
        let limit = self
            .limit
            .read(|t| number_or_max(t).map(|l| l.filter(|&b| !(v1 && b >= V1_UNLIMITED))));
        let oom_kills = self.events.read(|t| keyed(t, "oom_kill"));
        let cpu_usage_s = if v1 {
            self.cpu_usage
                .read(|t| t.trim().parse::<u64>().ok().map(|ns| ns as f64 / 1e9))
        } else {
            self.cpu_usage
                .read(|t| keyed(t, "usage_usec").map(|us| us as f64 / 1e6))
        };
        let now = Instant::now();
        let cpu_percent = match (&cpu_usage_s, self.prev_cpu) {
            (Err(e), _) => Err(e.clone()),
            (Ok(_), None) => Err("no baseline yet".to_string()),
            (Ok(c), Some((c0, t0))) => {
                let dt = now.duration_since(t0).as_secs_f64();
                if dt > 0.0 {
                    Ok((c - c0).max(0.0) / dt * 100.0)
                } else {
                    Err("no time since the previous sample".to_string())
                }
            }
        };
        if let Ok(c) = cpu_usage_s {
            self.prev_cpu = Some((c, now));
        }
        let (time_key, scale) = if v1 {
            ("throttled_time", 1e9)
        } else {
            ("throttled_usec", 1e6)
        };
        let throttled = self.cpu_stat.read(|t| {
            Some((
                keyed(t, "nr_throttled")?,
                keyed(t, time_key)? as f64 / scale,
            ))
        });
        let pids = self.pids.read(|t| t.trim().parse().ok());
        let pressure = self.pressure.read(psi_some_avg10);
        CgroupSample {
            memory,
            limit,
            oom_kills,
            cpu_usage_s,
            cpu_percent,
            throttled,
            pids,
            pressure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_files_parse() {
        let stat = "cache 100\ninactive_file 4096\ntotal_inactive_file 8192\n";
        assert_eq!(keyed(stat, "inactive_file"), Some(4096));
        assert_eq!(keyed(stat, "total_inactive_file"), Some(8192));
        assert_eq!(keyed(stat, "active_file"), None);
        let oom = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(keyed(oom, "oom_kill"), Some(3));
    }

    #[test]
    fn limits_and_pressure_parse() {
        assert_eq!(number_or_max("max\n"), Some(None));
        assert_eq!(number_or_max("67108864\n"), Some(Some(67108864)));
        assert_eq!(number_or_max("lots\n"), None);
        let psi = "some avg10=12.50 avg60=3.00 avg300=0.10 total=123\n\
                   full avg10=1.00 avg60=0.00 avg300=0.00 total=5\n";
        assert_eq!(psi_some_avg10(psi), Some(12.5));
        assert_eq!(psi_some_avg10("full avg10=1.00\n"), None);
    }

    #[test]
    fn proc_cgroup_prefers_the_v1_memory_line() {
        let hybrid = "9:name=systemd:/\n4:memory:/process_api/x\n1:cpu:/\n0::/\n";
        assert_eq!(path_of_pid(hybrid).as_deref(), Some("/process_api/x"));
        assert_eq!(
            path_of_pid("0::/system.slice/a.service\n").as_deref(),
            Some("/system.slice/a.service")
        );
    }

    #[test]
    fn parent_components_are_refused() {
        let err = locate(Path::new("/sys/fs/cgroup"), "/a/../../etc").expect_err("refused");
        assert!(err.to_string().contains(".."), "{err}");
    }
}
