//! Fleet scale: the latest sample as Prometheus metrics, served as OpenMetrics text at
//! `/metrics` (`--listen`) and written in node_exporter's textfile-collector format
//! (`--prom-textfile`, atomically: a temporary file in the same directory, then a rename).
//!
//! Names follow Prometheus conventions: a `resmon_` prefix and base units, so `_mb` fields
//! become `_bytes`, `_gb` become `_bytes`, `_percent` become `_ratio` (0..1; a process using
//! two full cores is 2.0) and MHz become hertz. Cumulative counters are counters
//! (`_total`). A field that is null in the sample is left out, never exported as 0.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use soak_core::record::Record;

use crate::watch::Watch;

const MB: f64 = 1024.0 * 1024.0;
const GB: f64 = MB * 1024.0;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gauge,
    Counter,
}

/// (sample field, metric name, type, help, scale to base units)
const METRICS: &[(&str, &str, Kind, &str, f64)] = &[
    (
        "timestamp_unix",
        "resmon_sample_timestamp_seconds",
        Kind::Gauge,
        "Wall-clock time of the latest sample.",
        1.0,
    ),
    (
        "elapsed_s",
        "resmon_elapsed_seconds",
        Kind::Gauge,
        "Monotonic seconds since resmon started.",
        1.0,
    ),
    (
        "missed_samples",
        "resmon_missed_samples",
        Kind::Gauge,
        "Ticks skipped before the latest sample because the machine stalled.",
        1.0,
    ),
    (
        "cpu_percent",
        "resmon_cpu_usage_ratio",
        Kind::Gauge,
        "Busy fraction of all CPUs over the last interval.",
        0.01,
    ),
    (
        "cpu_count",
        "resmon_cpus_online",
        Kind::Gauge,
        "Logical CPUs online.",
        1.0,
    ),
    (
        "cpu_freq_mhz",
        "resmon_cpu_frequency_hertz",
        Kind::Gauge,
        "Mean current CPU frequency.",
        1e6,
    ),
    (
        "memory_total_mb",
        "resmon_memory_total_bytes",
        Kind::Gauge,
        "Total memory.",
        MB,
    ),
    (
        "memory_used_mb",
        "resmon_memory_used_bytes",
        Kind::Gauge,
        "Used memory (total - free - buffers - cache).",
        MB,
    ),
    (
        "memory_available_mb",
        "resmon_memory_available_bytes",
        Kind::Gauge,
        "Memory available to new work.",
        MB,
    ),
    (
        "memory_percent",
        "resmon_memory_usage_ratio",
        Kind::Gauge,
        "(total - available) / total.",
        0.01,
    ),
    (
        "swap_total_mb",
        "resmon_swap_total_bytes",
        Kind::Gauge,
        "Total swap.",
        MB,
    ),
    (
        "swap_used_mb",
        "resmon_swap_used_bytes",
        Kind::Gauge,
        "Used swap.",
        MB,
    ),
    (
        "disk_total_gb",
        "resmon_disk_total_bytes",
        Kind::Gauge,
        "Size of the watched filesystem.",
        GB,
    ),
    (
        "disk_used_gb",
        "resmon_disk_used_bytes",
        Kind::Gauge,
        "Used bytes of the watched filesystem.",
        GB,
    ),
    (
        "disk_free_gb",
        "resmon_disk_free_bytes",
        Kind::Gauge,
        "Free bytes of the watched filesystem (unprivileged).",
        GB,
    ),
    (
        "disk_percent",
        "resmon_disk_usage_ratio",
        Kind::Gauge,
        "Used fraction of the watched filesystem.",
        0.01,
    ),
    (
        "network_bytes_sent",
        "resmon_network_transmit_bytes",
        Kind::Counter,
        "Bytes sent on non-loopback interfaces.",
        1.0,
    ),
    (
        "network_bytes_recv",
        "resmon_network_receive_bytes",
        Kind::Counter,
        "Bytes received on non-loopback interfaces.",
        1.0,
    ),
    (
        "load_avg_1m",
        "resmon_load1",
        Kind::Gauge,
        "1-minute load average.",
        1.0,
    ),
    (
        "load_avg_5m",
        "resmon_load5",
        Kind::Gauge,
        "5-minute load average.",
        1.0,
    ),
    (
        "load_avg_15m",
        "resmon_load15",
        Kind::Gauge,
        "15-minute load average.",
        1.0,
    ),
    (
        "pid",
        "resmon_target_pid",
        Kind::Gauge,
        "PID of the target process.",
        1.0,
    ),
    (
        "process_cpu_percent",
        "resmon_process_cpu_usage_ratio",
        Kind::Gauge,
        "CPU of the target process over the last interval (1 = one core).",
        0.01,
    ),
    (
        "process_memory_mb",
        "resmon_process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory of the target process.",
        MB,
    ),
    (
        "process_memory_percent",
        "resmon_process_memory_usage_ratio",
        Kind::Gauge,
        "Resident memory of the target process over total memory.",
        0.01,
    ),
    (
        "process_threads",
        "resmon_process_threads",
        Kind::Gauge,
        "Threads of the target process.",
        1.0,
    ),
    (
        "process_fds",
        "resmon_process_open_fds",
        Kind::Gauge,
        "Open file descriptors of the target process.",
        1.0,
    ),
    (
        "process_read_bytes",
        "resmon_process_read_bytes",
        Kind::Counter,
        "Bytes the target process read from storage.",
        1.0,
    ),
    (
        "process_write_bytes",
        "resmon_process_written_bytes",
        Kind::Counter,
        "Bytes the target process wrote to storage.",
        1.0,
    ),
    (
        "tree_process_count",
        "resmon_tree_processes",
        Kind::Gauge,
        "Processes in the target's tree.",
        1.0,
    ),
    (
        "tree_memory_mb",
        "resmon_tree_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory summed over the target's tree.",
        MB,
    ),
    (
        "tree_cpu_percent",
        "resmon_tree_cpu_usage_ratio",
        Kind::Gauge,
        "CPU of the target's tree over the last interval (1 = one core).",
        0.01,
    ),
    (
        "tree_threads",
        "resmon_tree_threads",
        Kind::Gauge,
        "Threads summed over the target's tree.",
        1.0,
    ),
    (
        "tree_fds",
        "resmon_tree_open_fds",
        Kind::Gauge,
        "Open file descriptors summed over the target's tree.",
        1.0,
    ),
    (
        "tree_zombies",
        "resmon_tree_zombies",
        Kind::Gauge,
        "Zombie processes in the target's tree.",
        1.0,
    ),
    (
        "tree_read_bytes",
        "resmon_tree_read_bytes",
        Kind::Counter,
        "Bytes the target's tree read from storage.",
        1.0,
    ),
    (
        "tree_write_bytes",
        "resmon_tree_written_bytes",
        Kind::Counter,
        "Bytes the target's tree wrote to storage.",
        1.0,
    ),
    (
        "tree_pss_mb",
        "resmon_tree_proportional_memory_bytes",
        Kind::Gauge,
        "PSS summed over the target's tree.",
        MB,
    ),
    (
        "tree_uss_mb",
        "resmon_tree_unique_memory_bytes",
        Kind::Gauge,
        "USS summed over the target's tree.",
        MB,
    ),
    // The cgroup (--cgroup/--container/--unit): cAdvisor's names where it has one.
    (
        "cgroup_memory_mb",
        "container_memory_working_set_bytes",
        Kind::Gauge,
        "Memory in use by the cgroup minus inactive file cache (docker stats' figure).",
        MB,
    ),
    (
        "cgroup_memory_usage_mb",
        "container_memory_usage_bytes",
        Kind::Gauge,
        "Memory charged to the cgroup, page cache included.",
        MB,
    ),
    (
        "cgroup_memory_limit_mb",
        "container_spec_memory_limit_bytes",
        Kind::Gauge,
        "Memory limit of the cgroup (absent when unlimited).",
        MB,
    ),
    (
        "cgroup_memory_percent",
        "resmon_cgroup_memory_limit_ratio",
        Kind::Gauge,
        "Working set over the cgroup's memory limit.",
        0.01,
    ),
    (
        "cgroup_oom_kills",
        "container_oom_events",
        Kind::Counter,
        "Processes of the cgroup killed by the OOM killer.",
        1.0,
    ),
    (
        "cgroup_cpu_usage_s",
        "container_cpu_usage_seconds",
        Kind::Counter,
        "CPU time used by the cgroup.",
        1.0,
    ),
    (
        "cgroup_cpu_percent",
        "resmon_cgroup_cpu_usage_ratio",
        Kind::Gauge,
        "CPU of the cgroup over the last interval (1 = one core).",
        0.01,
    ),
    (
        "cgroup_cpu_throttled_periods",
        "container_cpu_cfs_throttled_periods",
        Kind::Counter,
        "CFS periods in which the cgroup was throttled by its CPU quota.",
        1.0,
    ),
    (
        "cgroup_cpu_throttled_s",
        "container_cpu_cfs_throttled_seconds",
        Kind::Counter,
        "Time the cgroup was throttled by its CPU quota.",
        1.0,
    ),
    (
        "cgroup_pids",
        "resmon_cgroup_tasks",
        Kind::Gauge,
        "Tasks (threads) in the cgroup: pids.current, docker stats' PIDS.",
        1.0,
    ),
    (
        "cgroup_memory_pressure_avg10_percent",
        "resmon_cgroup_memory_pressure_some_avg10_ratio",
        Kind::Gauge,
        "Share of the last 10 s some task of the cgroup stalled on memory (PSI).",
        0.01,
    ),
    (
        "monitor_cpu_percent",
        "resmon_self_cpu_usage_ratio",
        Kind::Gauge,
        "resmon's own CPU over the last interval.",
        0.01,
    ),
    (
        "monitor_memory_mb",
        "resmon_self_resident_memory_bytes",
        Kind::Gauge,
        "resmon's own resident memory.",
        MB,
    ),
];

/// The two text formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// OpenMetrics 1.0 (`/metrics`): counter families without `_total`, `# EOF` at the end.
    OpenMetrics,
    /// Prometheus text 0.0.4 (node_exporter's textfile collector).
    Text,
}

fn escape_label(v: &str) -> String {
    v.replace('\\', r"\\")
        .replace('"', "\\\"")
        .replace('\n', r"\n")
}

fn family(out: &mut String, format: Format, name: &str, kind: Kind, help: &str) -> String {
    let sample = match kind {
        Kind::Counter => format!("{name}_total"),
        Kind::Gauge => name.to_string(),
    };
    let (fam, ty) = match (format, kind) {
        (Format::OpenMetrics, Kind::Counter) => (name, "counter"),
        (Format::Text, Kind::Counter) => (sample.as_str(), "counter"),
        (_, Kind::Gauge) => (name, "gauge"),
    };
    out.push_str(&format!("# HELP {fam} {help}\n# TYPE {fam} {ty}\n"));
    sample
}

/// Renders a sample as metrics text.
pub fn render(rec: &Record, watches: &[Watch], format: Format) -> String {
    let mut out = String::with_capacity(4096);
    for &(field, name, kind, help, scale) in METRICS {
        let Some(v) = rec.get(field).and_then(Value::as_f64) else {
            continue;
        };
        let sample = family(&mut out, format, name, kind, help);
        out.push_str(&format!("{sample} {}\n", v * scale));
    }
    let present: Vec<(&Watch, f64)> = watches
        .iter()
        .filter_map(|w| Some((w, rec.get(&w.field)?.as_f64()?)))
        .collect();
    if !present.is_empty() {
        let name = "resmon_watch_path_bytes";
        family(
            &mut out,
            format,
            name,
            Kind::Gauge,
            "Apparent size of a watched file or directory.",
        );
        for (w, v) in present {
            let path = escape_label(&soak_core::pathtext::shown(&w.path));
            out.push_str(&format!("{name}{{path=\"{path}\"}} {v}\n"));
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// The OpenMetrics content type.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Why the metrics endpoint or the textfile failed.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// `--listen` could not bind.
    #[error("--listen {addr}: {reason}")]
    Bind {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The textfile could not be written.
    #[error("cannot write {}: {source}", soak_core::pathtext::shown(path))]
    Textfile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The latest sample's OpenMetrics text, shared with the server thread.
pub type Latest = Arc<Mutex<String>>;

/// Serves `latest` at `http://ADDR/metrics` from a background thread.
pub fn serve(addr: std::net::SocketAddr) -> Result<(Latest, std::net::SocketAddr), PromError> {
    let server = tiny_http::Server::http(addr).map_err(|e| PromError::Bind {
        addr: addr.to_string(),
        reason: e.to_string(),
    })?;
    let bound = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| PromError::Bind {
            addr: addr.to_string(),
            reason: "not an IP address".into(),
        })?;
    let latest: Latest = Arc::new(Mutex::new(String::from("# EOF\n")));
    let shared = Arc::clone(&latest);
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for request in server.incoming_requests() {
                let path = request.url().split('?').next().unwrap_or("");
                let response = if path == "/metrics" {
                    let body = shared.lock().map(|s| s.clone()).unwrap_or_default();
                    let header = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        OPENMETRICS_CONTENT_TYPE.as_bytes(),
                    );
                    let mut r = tiny_http::Response::from_string(body);
                    if let Ok(h) = header {
                        r = r.with_header(h);
                    }
                    r
                } else {
                    tiny_http::Response::from_string("resmon: metrics are at /metrics\n")
                        .with_status_code(404)
                };
                let _ = request.respond(response);
            }
        })
        .map_err(|e| PromError::Bind {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?;
    Ok((latest, bound))
}

/// Writes `text` to `path` atomically: a temporary file beside it, then a rename, so
/// node_exporter never reads half a file.
pub fn write_textfile(path: &Path, text: &str) -> Result<(), PromError> {
    let err = |source| PromError::Textfile {
        path: path.to_path_buf(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .unwrap_or(std::ffi::OsStr::new("resmon.prom"));
    let (tmp, mut file) = create_temp(dir, name).map_err(err)?;
    let result = file
        .write_all(text.as_bytes())
        .and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// A new file `.NAME.<random>.tmp` in `dir`, created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`,
/// mode 0644 for node_exporter): a path planted under that name, a symlink above all, is never
/// opened or followed; the rename then replaces the textfile's own directory entry only.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> std::io::Result<(PathBuf, std::fs::File)> {
    let mut last = std::io::Error::from(std::io::ErrorKind::AlreadyExists);
    for _ in 0..16 {
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{:016x}.tmp", rand::random::<u64>()));
        let tmp = dir.join(tmp_name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        // Windows: CREATE_NEW already fails on any existing entry, a symlink included.
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options
                .mode(0o644)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
        }
        match options.open(&tmp) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = e,
            Err(e) => return Err(e),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use soak_core::record::RecordType;

    fn rec() -> Record {
        Record::new(RecordType::Sample, "resmon")
            .with("process_memory_mb", 512.0)
            .with("cpu_percent", 25.0)
            .with("network_bytes_sent", 1000)
            .with("process_fds", Value::Null)
            .with("watch_logs_bytes", 42)
    }

    #[test]
    fn openmetrics_uses_base_units_and_ends_with_eof() {
        let w = vec![Watch {
            path: PathBuf::from("/var/log/\"bot\""),
            field: "watch_logs_bytes".into(),
        }];
        let text = render(&rec(), &w, Format::OpenMetrics);
        assert!(
            text.contains("\nresmon_process_resident_memory_bytes 536870912\n"),
            "{text}"
        );
        assert!(text.contains("\nresmon_cpu_usage_ratio 0.25\n"), "{text}");
        assert!(text.contains("# TYPE resmon_network_transmit_bytes counter\n"));
        assert!(text.contains("\nresmon_network_transmit_bytes_total 1000\n"));
        assert!(!text.contains("open_fds"), "null fields are left out");
        assert!(text.contains("resmon_watch_path_bytes{path=\"/var/log/\\\"bot\\\"\"} 42\n"));
        assert!(text.ends_with("# EOF\n"));
        let plain = render(&rec(), &w, Format::Text);
        assert!(plain.contains("# TYPE resmon_network_transmit_bytes_total counter\n"));
        assert!(!plain.contains("# EOF"));
    }

    #[test]
    fn textfile_is_replaced_atomically() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("resmon.prom");
        write_textfile(&path, "a 1\n").expect("write");
        write_textfile(&path, "a 2\n").expect("rewrite");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "a 2\n");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("ls")
            .flatten()
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left behind");
        assert!(write_textfile(Path::new("/proc/version/x.prom"), "").is_err());
    }
}
