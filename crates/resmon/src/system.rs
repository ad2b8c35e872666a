//! System-wide metrics from the cheapest sources: the first line of `/proc/stat`,
//! `/proc/meminfo`, `/proc/loadavg`, `/proc/net/dev`, `statvfs(2)` and the CPU frequency
//! (cpufreq in sysfs, else `/proc/cpuinfo`). Every file is kept open and re-read in place.
//!
//! Definitions follow psutil's (the seed monitor's), so figures compare across the two:
//! `memory_used = total - free - buffers - cached - SReclaimable`, `memory_percent =
//! (total - available) / total`, `disk_percent = used / (used + free for non-root)`, CPU busy =
//! everything but `idle` and `iowait`. Network counters sum every interface but loopback.

#[cfg(unix)]
use std::path::Path;
#[cfg(target_os = "linux")]
use std::path::PathBuf;

#[cfg(target_os = "linux")]
use crate::procfile::ProcFile;

const MB: f64 = 1024.0 * 1024.0;
const GB: f64 = MB * 1024.0;

/// A metric's value, or why it could not be read (the `unavailable` entry's reason).
pub type Metric<T> = Result<T, String>;

/// Memory and swap, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// `MemTotal`.
    pub total: u64,
    /// psutil's `used`.
    pub used: u64,
    /// `MemAvailable`.
    pub available: u64,
    /// `(total - available) / total * 100`.
    pub percent: f64,
    /// `SwapTotal`.
    pub swap_total: u64,
    /// `SwapTotal - SwapFree`.
    pub swap_used: u64,
}

/// A filesystem's size, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Disk {
    /// Total size.
    pub total: u64,
    /// Used (total - free).
    pub used: u64,
    /// Free for unprivileged users.
    pub free: u64,
    /// `used / (used + free) * 100`, as `df` and psutil compute it.
    pub percent: f64,
}

impl Disk {
    /// A filesystem's figures from its total, used and (unprivileged) free bytes.
    pub fn new(total: u64, used: u64, free: u64) -> Disk {
        let percent = if used + free > 0 {
            used as f64 / (used + free) as f64 * 100.0
        } else {
            0.0
        };
        Disk {
            total,
            used,
            free,
            percent,
        }
    }
}

/// One reading of the system.
#[derive(Debug, Clone)]
pub struct SystemSample {
    /// Busy CPU % of all CPUs since the previous reading.
    pub cpu_percent: Metric<f64>,
    /// Logical CPUs online.
    pub cpu_count: Metric<u64>,
    /// Mean current CPU frequency.
    pub cpu_freq_mhz: Metric<f64>,
    /// Memory and swap.
    pub memory: Metric<Memory>,
    /// The watched filesystem.
    pub disk: Metric<Disk>,
    /// Cumulative bytes (sent, received) over non-loopback interfaces.
    pub network: Metric<(u64, u64)>,
    /// Load averages (1, 5, 15 minutes).
    pub load: Metric<[f64; 3]>,
}

impl SystemSample {
    /// Memory figures in MB (2^20 bytes).
    pub fn mb(bytes: u64) -> f64 {
        bytes as f64 / MB
    }
    /// Disk figures in GB (2^30 bytes).
    pub fn gb(bytes: u64) -> f64 {
        bytes as f64 / GB
    }
}

/// CPU time counters of the `cpu` line of `/proc/stat`, in ticks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuTimes {
    /// Everything (user..steal; guest time is already inside user).
    pub total: u64,
    /// `idle + iowait`.
    pub idle: u64,
}

impl CpuTimes {
    /// Parses the first line of `/proc/stat`.
    pub fn parse(stat: &str) -> Option<CpuTimes> {
        let line = stat.lines().next()?.strip_prefix("cpu ")?;
        let v: Vec<u64> = line
            .split_ascii_whitespace()
            .take(8)
            .map(|t| t.parse().ok())
            .collect::<Option<_>>()?;
        if v.len() < 4 {
            return None;
        }
        let idle = v[3] + v.get(4).copied().unwrap_or(0);
        Some(CpuTimes {
            total: v.iter().sum(),
            idle,
        })
    }

    /// Busy % between `prev` and `self` (None when no tick elapsed).
    pub fn busy_percent_since(&self, prev: &CpuTimes) -> Option<f64> {
        let total = self.total.checked_sub(prev.total)?;
        let idle = self.idle.checked_sub(prev.idle)?;
        if total == 0 {
            return None;
        }
        Some((total.saturating_sub(idle)) as f64 / total as f64 * 100.0)
    }
}

/// Reads the system's metrics; keeps its files open between samples.
#[cfg(target_os = "linux")]
#[derive(Debug)]
pub struct SystemReader {
    stat: Metric<ProcFile>,
    meminfo: Metric<ProcFile>,
    loadavg: Metric<ProcFile>,
    netdev: Metric<ProcFile>,
    freq: FreqSource,
    disk_path: PathBuf,
    prev_cpu: Option<CpuTimes>,
    cpu_count: Metric<u64>,
    /// The last frequency read from /proc/cpuinfo and when.
    freq_cache: Option<(std::time::Instant, Metric<f64>)>,
}

/// `/proc/cpuinfo` is costly to generate (a formatted block per CPU, a third of a sample's
/// cost at 10 Hz): it is read at most this often, the value reused in between.
#[cfg(target_os = "linux")]
const CPUINFO_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

#[cfg(target_os = "linux")]
#[derive(Debug)]
enum FreqSource {
    Sysfs(Vec<ProcFile>),
    CpuInfo(ProcFile),
    None(String),
}

#[cfg(target_os = "linux")]
fn open(path: &str) -> Metric<ProcFile> {
    ProcFile::open(path).map_err(|e| format!("{path}: {e}"))
}

#[cfg(target_os = "linux")]
fn open_single(path: &str) -> Metric<ProcFile> {
    ProcFile::open_single(path).map_err(|e| format!("{path}: {e}"))
}

#[cfg(target_os = "linux")]
impl SystemReader {
    /// A reader watching the filesystem that holds `disk_path`.
    pub fn new(disk_path: &Path) -> Self {
        let mut sysfs = Vec::new();
        if let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu/cpufreq") {
            for entry in dir.flatten() {
                if let Ok(f) = ProcFile::open(entry.path().join("scaling_cur_freq")) {
                    sysfs.push(f);
                }
            }
        }
        let freq = if !sysfs.is_empty() {
            FreqSource::Sysfs(sysfs)
        } else {
            match ProcFile::open("/proc/cpuinfo") {
                Ok(f) => FreqSource::CpuInfo(f),
                Err(e) => FreqSource::None(format!("/proc/cpuinfo: {e}")),
            }
        };
        let online = nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN);
        let cpu_count = online
            .ok()
            .flatten()
            .and_then(|n| u64::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or_else(|| "sysconf(_SC_NPROCESSORS_ONLN) failed".to_string());
        SystemReader {
            // Only the first line of /proc/stat is used: one read of 1 KiB holds it.
            stat: open_single("/proc/stat"),
            meminfo: open_single("/proc/meminfo"),
            loadavg: open_single("/proc/loadavg"),
            netdev: open("/proc/net/dev"),
            freq,
            disk_path: disk_path.to_path_buf(),
            prev_cpu: None,
            cpu_count,
            freq_cache: None,
        }
    }

    /// Takes the CPU baseline without producing a sample (before the warm-up).
    pub fn prime(&mut self) {
        self.prev_cpu = self.cpu_times().ok();
    }

    fn cpu_times(&mut self) -> Metric<CpuTimes> {
        let f = self.stat.as_mut().map_err(|e| e.clone())?;
        let text = f.read().map_err(|e| format!("/proc/stat: {e}"))?;
        CpuTimes::parse(text).ok_or_else(|| "/proc/stat: no cpu line".to_string())
    }

    /// Reads every system metric.
    pub fn sample(&mut self) -> SystemSample {
        let cpu_percent = self.cpu_times().and_then(|now| {
            let prev = self.prev_cpu.replace(now);
            prev.and_then(|p| now.busy_percent_since(&p))
                .ok_or_else(|| "no CPU tick elapsed since the previous reading".to_string())
        });
        SystemSample {
            cpu_percent,
            cpu_count: self.cpu_count.clone(),
            cpu_freq_mhz: self.freq(),
            memory: self.memory(),
            disk: disk_usage(&self.disk_path),
            network: self.network(),
            load: self.load(),
        }
    }

    fn memory(&mut self) -> Metric<Memory> {
        let f = self.meminfo.as_mut().map_err(|e| e.clone())?;
        let text = f.read().map_err(|e| format!("/proc/meminfo: {e}"))?;
        parse_meminfo(text).ok_or_else(|| "/proc/meminfo: MemTotal/MemFree missing".to_string())
    }

    fn network(&mut self) -> Metric<(u64, u64)> {
        let f = self.netdev.as_mut().map_err(|e| e.clone())?;
        let text = f.read().map_err(|e| format!("/proc/net/dev: {e}"))?;
        Ok(parse_net_dev(text))
    }

    fn load(&mut self) -> Metric<[f64; 3]> {
        let f = self.loadavg.as_mut().map_err(|e| e.clone())?;
        let text = f.read().map_err(|e| format!("/proc/loadavg: {e}"))?;
        let mut it = text.split_ascii_whitespace().map(|t| t.parse::<f64>().ok());
        match (it.next(), it.next(), it.next()) {
            (Some(Some(a)), Some(Some(b)), Some(Some(c))) => Ok([a, b, c]),
            _ => Err("/proc/loadavg: malformed".into()),
        }
    }

    fn freq(&mut self) -> Metric<f64> {
        if matches!(self.freq, FreqSource::CpuInfo(_)) {
            if let Some((at, v)) = &self.freq_cache {
                if at.elapsed() < CPUINFO_EVERY {
                    return v.clone();
                }
            }
            let v = self.read_freq();
            self.freq_cache = Some((std::time::Instant::now(), v.clone()));
            return v;
        }
        self.read_freq()
    }

    fn read_freq(&mut self) -> Metric<f64> {
        let (sum, n) = match &mut self.freq {
            FreqSource::None(reason) => return Err(reason.clone()),
            FreqSource::Sysfs(files) => files
                .iter_mut()
                .filter_map(|f| f.read().ok()?.trim().parse::<f64>().ok())
                .fold((0.0, 0u32), |(s, n), khz| (s + khz / 1000.0, n + 1)),
            FreqSource::CpuInfo(f) => f
                .read()
                .map_err(|e| format!("/proc/cpuinfo: {e}"))?
                .lines()
                .filter(|l| l.starts_with("cpu MHz"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
                .fold((0.0, 0u32), |(s, n), mhz| (s + mhz, n + 1)),
        };
        if n == 0 {
            return Err("the kernel reports no CPU frequency".into());
        }
        Ok(sum / f64::from(n))
    }
}

/// Parses `/proc/meminfo` with psutil's definitions.
pub fn parse_meminfo(text: &str) -> Option<Memory> {
    // One pass over the ~55 lines, keeping the eight that matter.
    const KEYS: [&str; 8] = [
        "MemTotal",
        "MemFree",
        "Buffers",
        "Cached",
        "SReclaimable",
        "MemAvailable",
        "SwapTotal",
        "SwapFree",
    ];
    let mut found = [None::<u64>; 8];
    for line in text.lines() {
        let Some((key, rest)) = line.split_once(':') else {
            continue;
        };
        if let Some(i) = KEYS.iter().position(|k| *k == key) {
            found[i] = rest
                .split_ascii_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok());
        }
    }
    let kb = |k: &str| {
        let i = KEYS.iter().position(|x| *x == k)?;
        found[i].map(|v| v * 1024)
    };
    let total = kb("MemTotal")?;
    let free = kb("MemFree")?;
    let buffers = kb("Buffers").unwrap_or(0);
    let cached = kb("Cached").unwrap_or(0) + kb("SReclaimable").unwrap_or(0);
    // Kernels before 3.14 lack MemAvailable; psutil then estimates it as free + cached.
    let available = kb("MemAvailable").unwrap_or(free + buffers + cached);
    let mut used = total.saturating_sub(free + buffers + cached);
    if used == 0 {
        used = total.saturating_sub(free);
    }
    let swap_total = kb("SwapTotal").unwrap_or(0);
    let swap_free = kb("SwapFree").unwrap_or(0);
    let percent = if total > 0 {
        total.saturating_sub(available) as f64 / total as f64 * 100.0
    } else {
        0.0
    };
    Some(Memory {
        total,
        used,
        available,
        percent,
        swap_total,
        swap_used: swap_total.saturating_sub(swap_free),
    })
}

/// Sums bytes (sent, received) over every interface of `/proc/net/dev` but `lo`.
pub fn parse_net_dev(text: &str) -> (u64, u64) {
    let mut sent = 0u64;
    let mut recv = 0u64;
    for line in text.lines().skip(2) {
        let Some((name, rest)) = line.split_once(':') else {
            continue;
        };
        if name.trim() == "lo" {
            continue;
        }
        let cols: Vec<&str> = rest.split_ascii_whitespace().collect();
        if cols.len() >= 9 {
            recv += cols[0].parse::<u64>().unwrap_or(0);
            sent += cols[8].parse::<u64>().unwrap_or(0);
        }
    }
    (sent, recv)
}

/// Size of the filesystem holding `path` (psutil's `disk_usage`).
#[cfg(unix)]
pub fn disk_usage(path: &Path) -> Metric<Disk> {
    let st = nix::sys::statvfs::statvfs(path)
        .map_err(|e| format!("{}: {e}", soak_core::pathtext::shown(path)))?;
    // Block counts are 32-bit on macOS, 64-bit on Linux.
    fn bytes(blocks: impl Into<u64>, size: impl Into<u64>) -> u64 {
        blocks.into() * size.into()
    }
    let blocks = |n| bytes(n, st.fragment_size());
    let total = blocks(st.blocks());
    let free = blocks(st.blocks_available());
    let used = blocks(st.blocks()).saturating_sub(blocks(st.blocks_free()));
    Ok(Disk::new(total, used, free))
}

#[cfg(not(target_os = "linux"))]
pub use crate::portable::system::SystemReader;
#[cfg(windows)]
pub use crate::windows::disk::disk_usage;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_busy_percent_counts_iowait_as_idle() {
        let a = CpuTimes::parse("cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 1\n").expect("parse");
        let b = CpuTimes::parse("cpu  150 0 150 800 200 0 0 0 0 0\n").expect("parse");
        assert_eq!(a.total, 1000);
        assert_eq!(b.busy_percent_since(&a), Some(100.0 / 300.0 * 100.0));
        assert_eq!(a.busy_percent_since(&a), None, "no tick elapsed");
        assert!(CpuTimes::parse("intr 1 2 3").is_none());
    }

    #[test]
    fn meminfo_follows_psutil() {
        let text = "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 600 kB\nBuffers: 50 kB\n\
                    Cached: 300 kB\nSReclaimable: 50 kB\nSwapTotal: 200 kB\nSwapFree: 150 kB\n";
        let m = parse_meminfo(text).expect("parse");
        assert_eq!(m.total, 1000 * 1024);
        assert_eq!(m.used, 500 * 1024);
        assert_eq!(m.available, 600 * 1024);
        assert!((m.percent - 40.0).abs() < 1e-9);
        assert_eq!((m.swap_total, m.swap_used), (200 * 1024, 50 * 1024));
    }

    #[test]
    fn net_dev_skips_loopback() {
        let text = "Inter-|   Receive |  Transmit\n face |bytes packets|bytes\n\
            lo: 3193 29 0 0 0 0 0 0 3193 29 0 0 0 0 0 0\n\
            eth0: 1000 4 0 0 0 0 0 0 200 3 0 0 0 0 0 0\n\
            wlan0:5 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n";
        assert_eq!(parse_net_dev(text), (207, 1005));
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_machine() {
        let mut r = SystemReader::new(Path::new("/"));
        r.prime();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let s = r.sample();
        let m = s.memory.expect("meminfo");
        assert!(m.total > 0 && m.used <= m.total && m.available <= m.total);
        let d = s.disk.expect("statvfs /");
        assert!(d.total > 0 && d.free <= d.total);
        assert!(s.cpu_count.expect("count") >= 1);
        assert!(s.load.is_ok());
        assert!(s.network.is_ok());
        if let Ok(p) = s.cpu_percent {
            assert!((0.0..=100.0).contains(&p), "{p}");
        }
        assert!(disk_usage(Path::new("/no/such/dir")).is_err());
    }
}
