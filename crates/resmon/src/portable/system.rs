//! System-wide metrics off Linux, through sysinfo: CPU busy % and frequency, memory and swap,
//! network counters; the disk from `statvfs` (macOS) or `GetDiskFreeSpaceExW` (Windows). On
//! Windows the busy % comes from `GetSystemTimes`, as on Linux from cumulative idle and total
//! times: sysinfo reads it through performance counters (PDH), slow to open and missing
//! under wine.
//!
//! Definitions follow the Linux reader's where the OS allows: `memory_percent = (total -
//! available) / total`, network bytes summed over every interface but loopback. Windows has
//! no load average: it is reported unavailable with that reason.

use std::path::{Path, PathBuf};

use sysinfo::{CpuRefreshKind, MemoryRefreshKind, Networks, System};

use crate::system::{Memory, Metric, SystemSample, disk_usage};

/// Reads the system's metrics; keeps sysinfo's views between samples (CPU % is a delta).
#[derive(Debug)]
pub struct SystemReader {
    system: Metric<System>,
    networks: Metric<Networks>,
    disk_path: PathBuf,
    busy: Busy,
}

/// The CPU busy % since the previous reading, from the OS's cumulative CPU times.
#[cfg(windows)]
#[derive(Debug, Default)]
struct Busy {
    prev: Option<crate::system::CpuTimes>,
}

#[cfg(windows)]
impl Busy {
    fn cpu_kind() -> CpuRefreshKind {
        CpuRefreshKind::nothing()
    }

    fn prime(&mut self, _: &mut System) {
        self.prev = crate::windows::cpu::system_times().ok();
    }

    fn read(&mut self, _: &mut System) -> Metric<f64> {
        let now = crate::windows::cpu::system_times()?;
        self.prev
            .replace(now)
            .and_then(|p| now.busy_percent_since(&p))
            .ok_or_else(|| "no CPU time elapsed since the previous reading".to_string())
    }
}

/// The CPU busy % since the previous reading, sysinfo's (a delta of the CPU's tick counts).
#[cfg(not(windows))]
#[derive(Debug, Default)]
struct Busy {
    primed: bool,
}

#[cfg(not(windows))]
impl Busy {
    fn cpu_kind() -> CpuRefreshKind {
        CpuRefreshKind::nothing().with_usage()
    }

    fn prime(&mut self, s: &mut System) {
        s.refresh_cpu_specifics(Self::cpu_kind());
        self.primed = true;
    }

    fn read(&mut self, s: &mut System) -> Metric<f64> {
        if std::mem::replace(&mut self.primed, true) {
            Ok(f64::from(s.global_cpu_usage()))
        } else {
            Err("no baseline yet".to_string())
        }
    }
}

fn cpu_kind() -> CpuRefreshKind {
    Busy::cpu_kind()
}

impl SystemReader {
    /// A reader watching the filesystem that holds `disk_path`.
    pub fn new(disk_path: &Path) -> Self {
        let system = super::new_system().map(|mut s| {
            s.refresh_cpu_list(cpu_kind().with_frequency());
            s
        });
        SystemReader {
            system,
            networks: Networks::new_with_refreshed_list().map_err(|e| format!("sysinfo: {e}")),
            disk_path: disk_path.to_path_buf(),
            busy: Busy::default(),
        }
    }

    /// Takes the CPU baseline without producing a sample (before the warm-up).
    pub fn prime(&mut self) {
        if let Ok(s) = &mut self.system {
            self.busy.prime(s);
        }
    }

    /// Reads every system metric.
    pub fn sample(&mut self) -> SystemSample {
        let network = self.network();
        let disk = disk_usage(&self.disk_path);
        let load = load();
        let s = match &mut self.system {
            Ok(s) => s,
            Err(e) => {
                return SystemSample {
                    cpu_percent: Err(e.clone()),
                    cpu_count: Err(e.clone()),
                    cpu_freq_mhz: Err(e.clone()),
                    memory: Err(e.clone()),
                    disk,
                    network,
                    load,
                };
            }
        };
        s.refresh_cpu_specifics(cpu_kind().with_frequency());
        s.refresh_memory_specifics(MemoryRefreshKind::everything());
        let cpu_percent = self.busy.read(s);
        let cpus = s.cpus();
        let cpu_count = match cpus.len() {
            0 => Err("the OS lists no CPU".to_string()),
            n => Ok(n as u64),
        };
        let freqs: Vec<u64> = cpus
            .iter()
            .map(|c| c.frequency())
            .filter(|&f| f > 0)
            .collect();
        let cpu_freq_mhz = match freqs.len() {
            0 => Err("the OS reports no CPU frequency".to_string()),
            n => Ok(freqs.iter().sum::<u64>() as f64 / n as f64),
        };
        SystemSample {
            cpu_percent,
            cpu_count,
            cpu_freq_mhz,
            memory: memory(s),
            disk,
            network,
            load,
        }
    }

    fn network(&mut self) -> Metric<(u64, u64)> {
        let nets = self.networks.as_mut().map_err(|e| e.clone())?;
        nets.refresh(true);
        Ok(nets
            .iter()
            .filter(|(name, data)| !is_loopback(&name.to_string_lossy(), data))
            .fold((0, 0), |(sent, recv), (_, d)| {
                (sent + d.total_transmitted(), recv + d.total_received())
            }))
    }
}

/// Loopback interfaces (`lo0` on macOS, `Loopback Pseudo-Interface 1` on Windows), left out
/// of the network counters as on Linux.
fn is_loopback(name: &str, data: &sysinfo::NetworkData) -> bool {
    let ips = data.ip_networks();
    name == "lo"
        || name == "lo0"
        || name.contains("Loopback")
        || (!ips.is_empty() && ips.iter().all(|n| n.addr.is_loopback()))
}

fn memory(s: &System) -> Metric<Memory> {
    let total = s.total_memory();
    if total == 0 {
        return Err("the OS reports no memory".to_string());
    }
    let available = s.available_memory().min(total);
    Ok(Memory {
        total,
        used: s.used_memory().min(total),
        available,
        percent: (total - available) as f64 / total as f64 * 100.0,
        swap_total: s.total_swap(),
        swap_used: s.used_swap(),
    })
}

fn load() -> Metric<[f64; 3]> {
    if cfg!(windows) {
        return Err("Windows has no load average".to_string());
    }
    System::load_average()
        .map(|l| [l.one, l.five, l.fifteen])
        .map_err(|e| format!("load average: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_machine() {
        let here = std::env::current_dir().expect("cwd");
        let mut r = SystemReader::new(&here);
        let unprimed = r.sample();
        assert!(unprimed.cpu_percent.is_err(), "no baseline, no figure");
        r.prime();
        std::thread::sleep(std::time::Duration::from_millis(300));
        let s = r.sample();
        let m = s.memory.expect("memory");
        assert!(m.total > 0 && m.used <= m.total && m.available <= m.total);
        let d = s.disk.expect("disk of the working directory");
        assert!(d.total > 0 && d.free <= d.total && d.used <= d.total);
        assert!(s.cpu_count.expect("count") >= 1);
        assert!(s.network.is_ok());
        let p = s.cpu_percent.expect("primed");
        assert!((0.0..=100.0).contains(&p), "{p}");
        if cfg!(windows) {
            assert_eq!(s.load, Err("Windows has no load average".to_string()));
        }
        assert!(disk_usage(&here.join("no-such-dir")).is_err());
    }
}
