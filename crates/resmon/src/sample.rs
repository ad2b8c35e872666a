//! Assembles one `sample` record: the seed's fields first, in the seed's order and units,
//! then resmon's additions (see the crate README for the full list). A metric that could not
//! be read is `null` and named in `unavailable` as `"field: reason"`.

use serde_json::Value;
use soak_core::record::{Record, RecordType, Timestamp};

use crate::cgroup::CgroupSample;
#[cfg(target_os = "linux")]
use crate::procfile::ProcFile;
use crate::system::{Metric, SystemSample};
#[cfg(target_os = "linux")]
use std::time::Instant;

#[cfg(not(target_os = "linux"))]
pub use crate::portable::own::SelfReader;

use crate::tree::TreeSample;

/// The tool's name in every record.
pub const TOOL: &str = "resmon";

/// Facts about the host, read once.
#[derive(Debug, Clone)]
pub struct Host {
    /// `hostname`.
    pub hostname: String,
    /// `platform`: `Linux-<release>-<machine>`, the shape of Python's `platform.platform()`.
    pub platform: String,
}

#[cfg(target_os = "linux")]
impl Host {
    /// Reads the host's name and kernel release.
    pub fn read() -> Host {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let hostname = read("/proc/sys/kernel/hostname");
        let release = read("/proc/sys/kernel/osrelease");
        Host {
            hostname,
            platform: format!("Linux-{release}-{}", std::env::consts::ARCH),
        }
    }
}

/// resmon's own CPU % (from `getrusage`, microsecond precision: its cost per sample is far
/// below one clock tick) and RSS (from `/proc/self/statm`, kept open: far cheaper to
/// generate than `stat`).
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub struct SelfReader {
    stat: Metric<ProcFile>,
    prev: Option<(f64, Instant)>,
    page_size: u64,
}

#[cfg(target_os = "linux")]
impl Default for SelfReader {
    fn default() -> Self {
        Self::new()
    }
}

/// CPU seconds (user + system) this process has used, all threads included.
#[cfg(unix)]
pub fn own_cpu_seconds() -> Option<f64> {
    use nix::sys::resource::{UsageWho, getrusage};
    use nix::sys::time::TimeValLike;
    let ru = getrusage(UsageWho::RUSAGE_SELF).ok()?;
    let secs = |t: nix::sys::time::TimeVal| t.num_microseconds() as f64 / 1e6;
    Some(secs(ru.user_time()) + secs(ru.system_time()))
}

#[cfg(target_os = "linux")]
impl SelfReader {
    /// Opens `/proc/self/stat`.
    pub fn new() -> Self {
        SelfReader {
            stat: ProcFile::open_single("/proc/self/statm")
                .map_err(|e| format!("/proc/self/statm: {e}")),
            prev: None,
            page_size: soak_core::proc::page_size(),
        }
    }

    /// (CPU % since the previous call, RSS in MB).
    pub fn sample(&mut self) -> (Metric<f64>, Metric<f64>) {
        let now = Instant::now();
        let cpu = match (own_cpu_seconds(), self.prev) {
            (None, _) => Err("getrusage failed".to_string()),
            (Some(c), prev) => {
                self.prev = Some((c, now));
                match prev {
                    Some((c0, t0)) if now > t0 => {
                        Ok((c - c0).max(0.0) / now.duration_since(t0).as_secs_f64() * 100.0)
                    }
                    _ => Err("no baseline yet".to_string()),
                }
            }
        };
        let page = self.page_size;
        let rss = match &mut self.stat {
            Err(e) => Err(e.clone()),
            Ok(f) => f
                .read()
                .map_err(|e| format!("/proc/self/statm: {e}"))
                .and_then(|t| {
                    t.split_ascii_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(|pages| SystemSample::mb(pages * page))
                        .ok_or_else(|| "/proc/self/statm: malformed".to_string())
                }),
        };
        (cpu, rss)
    }
}

/// Everything one sample is made of.
#[derive(Debug)]
pub struct Parts<'a> {
    /// Tick index.
    pub seq: u64,
    /// Ticks skipped since the previous sample.
    pub missed: u64,
    /// Monotonic seconds since resmon started.
    pub elapsed_s: f64,
    /// Host facts.
    pub host: &'a Host,
    /// System metrics.
    pub system: &'a SystemSample,
    /// Target and tree metrics (`None` with no target at all).
    pub tree: Option<&'a TreeSample>,
    /// resmon's own (CPU %, RSS MB).
    pub monitor: (Metric<f64>, Metric<f64>),
    /// Watched paths: (field, size).
    pub watches: &'a [(String, Metric<u64>)],
    /// The cgroup's reading (`--cgroup`, `--container`, `--unit`); its fields are left out
    /// without one.
    pub cgroup: Option<&'a CgroupSample>,
}

struct Builder {
    rec: Record,
    unavailable: Vec<Value>,
}

impl Builder {
    fn put(&mut self, key: &str, v: Result<Value, &str>) {
        match v {
            Ok(v) => self.rec.insert(key, v),
            Err(reason) => {
                self.rec.insert(key, Value::Null);
                self.unavailable
                    .push(Value::from(format!("{key}: {reason}")));
            }
        }
    }

    fn num<T: Copy + Into<Value>, U>(&mut self, key: &str, m: &Metric<U>, f: impl Fn(&U) -> T) {
        self.put(key, m.as_ref().map(|u| f(u).into()).map_err(String::as_str));
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (v * p).round() / p
}

/// Every field of the seed's record (seed 001), in the seed's order; `python_version` became
/// `monitor_version`. Every sample carries them all, null when unreadable.
pub const SEED_FIELDS: [&str; 22] = [
    "timestamp_utc",
    "timestamp_unix",
    "cpu_percent",
    "cpu_count",
    "cpu_freq_mhz",
    "memory_total_mb",
    "memory_used_mb",
    "memory_available_mb",
    "memory_percent",
    "disk_total_gb",
    "disk_used_gb",
    "disk_free_gb",
    "disk_percent",
    "network_bytes_sent",
    "network_bytes_recv",
    "process_cpu_percent",
    "process_memory_mb",
    "process_memory_percent",
    "process_threads",
    "hostname",
    "platform",
    "monitor_version",
];

/// The monitor's version, written as `monitor_version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Builds the sample record.
pub fn build(parts: &Parts<'_>) -> Record {
    let sys = parts.system;
    let mut b = Builder {
        rec: Record::at(RecordType::Sample, TOOL, Timestamp::now()),
        unavailable: Vec::new(),
    };
    let mb = |v: u64| round(SystemSample::mb(v), 3);
    let gb = |v: u64| round(SystemSample::gb(v), 3);
    b.num("cpu_percent", &sys.cpu_percent, |v| round(*v, 2));
    b.num("cpu_count", &sys.cpu_count, |v| *v);
    b.num("cpu_freq_mhz", &sys.cpu_freq_mhz, |v| round(*v, 1));
    b.num("memory_total_mb", &sys.memory, |m| mb(m.total));
    b.num("memory_used_mb", &sys.memory, |m| mb(m.used));
    b.num("memory_available_mb", &sys.memory, |m| mb(m.available));
    b.num("memory_percent", &sys.memory, |m| round(m.percent, 2));
    b.num("disk_total_gb", &sys.disk, |d| gb(d.total));
    b.num("disk_used_gb", &sys.disk, |d| gb(d.used));
    b.num("disk_free_gb", &sys.disk, |d| gb(d.free));
    b.num("disk_percent", &sys.disk, |d| round(d.percent, 2));
    b.num("network_bytes_sent", &sys.network, |n| n.0);
    b.num("network_bytes_recv", &sys.network, |n| n.1);

    let (primary, totals) = match parts.tree {
        Some(t) => (
            t.primary.as_ref().map_err(Clone::clone),
            t.totals.as_ref().map_err(Clone::clone),
        ),
        None => (Err("no target".to_string()), Err("no target".to_string())),
    };
    let cpu = primary
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|p| p.cpu_percent.clone());
    b.num("process_cpu_percent", &cpu, |v| round(*v, 2));
    b.num("process_memory_mb", &primary, |p| mb(p.reading.rss_bytes));
    let mem_percent = match (&primary, &sys.memory) {
        (Ok(p), Ok(m)) if m.total > 0 => Ok(p.reading.rss_bytes as f64 / m.total as f64 * 100.0),
        (Err(e), _) | (_, Err(e)) => Err(e.clone()),
        _ => Err("MemTotal is 0".to_string()),
    };
    b.num("process_memory_percent", &mem_percent, |v| round(*v, 3));
    b.num("process_threads", &primary, |p| p.reading.threads);

    b.rec.insert("hostname", parts.host.hostname.as_str());
    b.rec.insert("platform", parts.host.platform.as_str());
    b.rec.insert("monitor_version", VERSION);

    b.rec.insert("elapsed_s", round(parts.elapsed_s, 3));
    b.rec.insert("seq", parts.seq);
    b.rec.insert("missed_samples", parts.missed);
    b.num("load_avg_1m", &sys.load, |l| l[0]);
    b.num("load_avg_5m", &sys.load, |l| l[1]);
    b.num("load_avg_15m", &sys.load, |l| l[2]);
    b.num("swap_total_mb", &sys.memory, |m| mb(m.swap_total));
    b.num("swap_used_mb", &sys.memory, |m| mb(m.swap_used));

    b.num("pid", &primary, |p| p.reading.pid);
    let fds = primary
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|p| p.reading.fds.clone());
    b.num("process_fds", &fds, |v| *v);
    let io = primary
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|p| p.reading.io.clone());
    b.num("process_read_bytes", &io, |v| v.0);
    b.num("process_write_bytes", &io, |v| v.1);

    b.num("tree_process_count", &totals, |t| t.count);
    b.num("tree_memory_mb", &totals, |t| mb(t.rss_bytes));
    b.num("tree_cpu_percent", &totals, |t| round(t.cpu_percent, 2));
    b.num("tree_threads", &totals, |t| t.threads);
    let tfds = totals
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|t| t.fds.clone());
    b.num("tree_fds", &tfds, |v| *v);
    b.num("tree_zombies", &totals, |t| t.zombies);
    let tio = totals
        .as_ref()
        .map_err(Clone::clone)
        .and_then(|t| t.io.clone());
    b.num("tree_read_bytes", &tio, |v| v.0);
    b.num("tree_write_bytes", &tio, |v| v.1);
    // PSS/USS only on the samples that ask for them; null (not "unavailable") otherwise.
    match totals.as_ref().ok().and_then(|t| t.pss_uss.clone()) {
        Some(m) => {
            b.num("tree_pss_mb", &m, |v| mb(v.0));
            b.num("tree_uss_mb", &m, |v| mb(v.1));
        }
        None => {
            b.rec.insert("tree_pss_mb", Value::Null);
            b.rec.insert("tree_uss_mb", Value::Null);
        }
    }

    b.num("monitor_cpu_percent", &parts.monitor.0, |v| round(*v, 4));
    b.num("monitor_memory_mb", &parts.monitor.1, |v| round(*v, 3));
    for (field, size) in parts.watches {
        b.num(field, size, |v| *v);
    }
    if let Some(cg) = parts.cgroup {
        cgroup_fields(&mut b, cg);
    }
    let unavailable = std::mem::take(&mut b.unavailable);
    b.rec.insert("unavailable", Value::Array(unavailable));
    b.rec
}

/// The cgroup's fields. The limit and its percent are `null` without being `unavailable`
/// when the cgroup has no limit.
fn cgroup_fields(b: &mut Builder, cg: &CgroupSample) {
    let mb = |v: u64| round(SystemSample::mb(v), 3);
    b.num("cgroup_memory_mb", &cg.memory, |m| mb(m.working_set));
    b.num("cgroup_memory_usage_mb", &cg.memory, |m| mb(m.usage));
    match &cg.limit {
        Ok(None) => {
            b.rec.insert("cgroup_memory_limit_mb", Value::Null);
            b.rec.insert("cgroup_memory_percent", Value::Null);
        }
        Ok(Some(limit)) => {
            let limit = *limit;
            b.rec.insert("cgroup_memory_limit_mb", mb(limit));
            let percent = cg
                .memory
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|m| match limit {
                    0 => Err("the limit is 0".to_string()),
                    l => Ok(m.working_set as f64 / l as f64 * 100.0),
                });
            b.num("cgroup_memory_percent", &percent, |v| round(*v, 2));
        }
        Err(e) => {
            let e: Metric<u64> = Err(e.clone());
            b.num("cgroup_memory_limit_mb", &e, |v| *v);
            b.num("cgroup_memory_percent", &e, |v| *v);
        }
    }
    b.num("cgroup_oom_kills", &cg.oom_kills, |v| *v);
    b.num("cgroup_cpu_percent", &cg.cpu_percent, |v| round(*v, 2));
    b.num("cgroup_cpu_usage_s", &cg.cpu_usage_s, |v| round(*v, 6));
    b.num("cgroup_cpu_throttled_periods", &cg.throttled, |v| v.0);
    b.num("cgroup_cpu_throttled_s", &cg.throttled, |v| round(v.1, 6));
    b.num("cgroup_pids", &cg.pids, |v| *v);
    b.num("cgroup_memory_pressure_avg10_percent", &cg.pressure, |v| *v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::SystemReader;
    use std::path::Path;

    #[test]
    fn without_target_process_fields_are_null_and_explained() {
        let host = Host::read();
        let mut sys = SystemReader::new(Path::new("/"));
        let system = sys.sample();
        let mut me = SelfReader::new();
        let rec = build(&Parts {
            seq: 0,
            missed: 0,
            elapsed_s: 0.2,
            host: &host,
            system: &system,
            tree: None,
            monitor: me.sample(),
            watches: &[("watch_x_bytes".into(), Err("x: gone".into()))],
            cgroup: None,
        });
        let keys: Vec<&str> = rec.fields().keys().map(String::as_str).collect();
        assert_eq!(
            &keys[..4],
            ["type", "tool", "timestamp_utc", "timestamp_unix"]
        );
        assert_eq!(
            &keys[2..24],
            SEED_FIELDS,
            "seed fields first, in the seed's order"
        );
        assert_eq!(rec.get("process_memory_mb"), Some(&Value::Null));
        let unavailable: Vec<&str> = rec
            .get("unavailable")
            .and_then(Value::as_array)
            .expect("list")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(unavailable.contains(&"process_memory_mb: no target"));
        assert!(unavailable.contains(&"watch_x_bytes: x: gone"));
        assert!(!unavailable.iter().any(|u| u.starts_with("memory_total_mb")));
        assert!(rec.get_f64("memory_total_mb").is_some_and(|v| v > 0.0));
    }
}
