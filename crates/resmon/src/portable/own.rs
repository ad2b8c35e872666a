//! The host's facts and resmon's own overhead, off Linux.

use std::time::Instant;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use super::new_system;
use crate::sample::Host;
use crate::system::{Metric, SystemSample};

impl Host {
    /// The host's name and `<OS>-<kernel version>-<machine>` (`Windows-19045-x86_64`,
    /// `Darwin-23.2.0-aarch64`), the shape of the Linux `platform`.
    pub fn read() -> Host {
        let os = System::name().unwrap_or_else(|_| std::env::consts::OS.to_string());
        let kernel = System::kernel_version().unwrap_or_default();
        Host {
            hostname: System::host_name().unwrap_or_default(),
            platform: format!("{os}-{kernel}-{}", std::env::consts::ARCH),
        }
    }
}

/// resmon's own CPU % (its CPU time over the wall time between two samples) and RSS.
#[derive(Debug)]
pub struct SelfReader {
    system: Metric<System>,
    me: Pid,
    prev: Option<(u64, Instant)>,
}

impl Default for SelfReader {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfReader {
    /// A reader of this process.
    pub fn new() -> Self {
        SelfReader {
            system: new_system(),
            me: Pid::from_u32(std::process::id()),
            prev: None,
        }
    }

    /// (CPU % since the previous call, RSS in MB).
    pub fn sample(&mut self) -> (Metric<f64>, Metric<f64>) {
        let system = match &mut self.system {
            Ok(s) => s,
            Err(e) => return (Err(e.clone()), Err(e.clone())),
        };
        system.refresh_processes_specifics(
            ProcessesToUpdate::Some(&[self.me]),
            false,
            ProcessRefreshKind::nothing().with_cpu().with_memory(),
        );
        let Some(me) = system.process(self.me) else {
            let e = "sysinfo does not list resmon itself".to_string();
            return (Err(e.clone()), Err(e));
        };
        let now = Instant::now();
        let cpu_ms = me.accumulated_cpu_time();
        let cpu = match self.prev.replace((cpu_ms, now)) {
            Some((ms0, t0)) if now > t0 => Ok(cpu_ms.saturating_sub(ms0) as f64
                / 1000.0
                / now.duration_since(t0).as_secs_f64()
                * 100.0),
            _ => Err("no baseline yet".to_string()),
        };
        (cpu, Ok(SystemSample::mb(me.memory())))
    }
}
