//! One streaming pass over the samples: constant-memory statistics, the bucketed timeline,
//! CPU spike runs and network stalls. Nothing here grows with the number of samples.

use soak_core::jsonl::SkipCounts;

use crate::sample::RawSample;
use crate::stats::Stats;
use crate::timeline::{CHANNELS, Channel, Timeline};

/// At most this many spike / stall episodes are kept (later ones are only counted).
pub const MAX_EPISODES: usize = 200;

/// A time window where something held (a CPU spike, a network stall).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Episode {
    /// Start, s since the first sample.
    pub start_s: f64,
    /// Duration, s.
    pub duration_s: f64,
    /// Peak value during the episode (CPU percent; 0 for stalls).
    pub peak: f64,
}

/// Thresholds used while streaming.
#[derive(Debug, Clone, Copy)]
pub struct StreamConfig {
    /// CPU percent above which a sample is "high".
    pub cpu_threshold: f64,
    /// High CPU must last longer than this (s) to be a sustained spike.
    pub cpu_window_s: f64,
    /// No bytes received for longer than this (s) is a stall.
    pub net_stall_s: f64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            cpu_threshold: 80.0,
            cpu_window_s: 300.0,
            net_stall_s: 300.0,
        }
    }
}

#[derive(Debug, Default)]
struct Run {
    since: Option<f64>,
    peak: f64,
    episodes: Vec<Episode>,
    count: u64,
}

impl Run {
    fn step(&mut self, t: f64, active: bool, value: f64, min_len: f64) {
        match (self.since, active) {
            (None, true) => {
                self.since = Some(t);
                self.peak = value;
            }
            (Some(_), true) => self.peak = self.peak.max(value),
            (Some(s), false) => {
                self.close(s, t, min_len);
                self.since = None;
            }
            (None, false) => {}
        }
    }
    fn close(&mut self, start: f64, end: f64, min_len: f64) {
        let d = end - start;
        if d > min_len {
            self.count += 1;
            if self.episodes.len() < MAX_EPISODES {
                self.episodes.push(Episode {
                    start_s: start,
                    duration_s: d,
                    peak: self.peak,
                });
            }
        }
    }
    fn finish(&mut self, end: f64, min_len: f64) {
        if let Some(s) = self.since.take() {
            self.close(s, end, min_len);
        }
    }
}

/// Everything gathered from the samples.
#[derive(Debug, Default)]
pub struct Accumulator {
    /// Samples used.
    pub samples: u64,
    /// Lines skipped, by reason.
    pub skipped: SkipCounts,
    /// Lines skipped for being longer than `--max-line` (read past, never held whole).
    pub lines_too_long: u64,
    /// Whether the time axis is `elapsed_s` (else `timestamp_unix`).
    pub uses_elapsed: Option<bool>,
    offset: f64,
    last_raw: Option<f64>,
    last_unix: Option<f64>,
    /// Time of the first sample (on the chosen axis).
    pub first_t: Option<f64>,
    /// Time of the last sample.
    pub last_t: Option<f64>,
    /// Earliest and latest sample time (a recording whose clock went backwards has its
    /// earliest sample somewhere in the middle).
    bounds: Option<(f64, f64)>,
    /// System memory used.
    pub memory_used: Stats,
    /// System memory available.
    pub memory_available: Stats,
    /// Target RSS.
    pub process_memory: Stats,
    /// Tree RSS.
    pub tree_memory: Stats,
    /// System CPU.
    pub cpu: Stats,
    /// Target CPU.
    pub process_cpu: Stats,
    /// Threads (tree, else process).
    pub threads: Stats,
    /// Fds (tree, else process).
    pub fds: Stats,
    /// Disk used.
    pub disk_used: Stats,
    /// Disk free.
    pub disk_free: Stats,
    /// Bytes of the watched paths, GB.
    pub watched: Stats,
    /// The cgroup's memory in use, MB.
    pub cgroup_memory: Stats,
    /// The cgroup's limit, MB, as last seen (a limit that went away is `None` again).
    pub cgroup_limit_mb: Option<f64>,
    /// Highest memory in use over the limit seen in one sample, percent, and when (s from
    /// the first sample).
    pub cgroup_peak_percent: Option<(f64, f64)>,
    /// Whether any sample carried the cgroup's OOM counter.
    pub cgroup_oom_seen: bool,
    /// OOM kills during the recording (rises of the counter between samples; a counter that
    /// went down belongs to a recreated cgroup and starts again).
    pub oom_kills: u64,
    /// When the first OOM kill was seen, s from the first sample.
    pub first_oom_s: Option<f64>,
    last_oom: Option<f64>,
    /// Receive rate, bytes/s.
    pub net_recv_rate: Stats,
    /// Send rate, bytes/s.
    pub net_sent_rate: Stats,
    /// The bucketed series.
    pub timeline: Timeline,
    prev_net: Option<(f64, f64, f64)>,
    cpu_run: Run,
    stall_run: Run,
    cfg: StreamConfig,
}

impl Accumulator {
    /// A new accumulator.
    pub fn new(cfg: StreamConfig) -> Self {
        Accumulator {
            cfg,
            ..Accumulator::default()
        }
    }

    /// The time of a sample on the run's axis: `elapsed_s` (kept continuous across files and
    /// restarts using the wall-clock gap) when the first sample had it, else `timestamp_unix`.
    fn time_of(&mut self, s: &RawSample) -> Option<f64> {
        let use_elapsed = *self.uses_elapsed.get_or_insert(s.elapsed_s.is_some());
        let t = if use_elapsed {
            let e = s.elapsed_s?;
            if let Some(last) = self.last_raw {
                if e < last {
                    // resmon restarted: continue after the previous sample.
                    let gap = match (s.timestamp_unix, self.last_unix) {
                        (Some(a), Some(b)) if a > b => a - b,
                        _ => 0.0,
                    };
                    self.offset += last - e + gap;
                }
            }
            self.last_raw = Some(e);
            self.offset + e
        } else {
            s.timestamp_unix?
        };
        self.last_unix = s.timestamp_unix.or(self.last_unix);
        Some(t)
    }

    /// Adds one sample. Returns false when it has no usable time.
    pub fn push(&mut self, s: &RawSample) -> bool {
        let Some(t) = self.time_of(s) else {
            return false;
        };
        let cfg = self.cfg;
        self.samples += 1;
        let first = *self.first_t.get_or_insert(t);
        self.last_t = Some(t);
        self.bounds = Some(
            self.bounds
                .map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))),
        );
        let rel = t - first;
        let mut series = [None; CHANNELS];
        let mut put = |stats: &mut Stats, ch: Option<Channel>, v: Option<f64>| {
            if let Some(v) = v {
                stats.push(v);
                if let Some(ch) = ch {
                    series[ch as usize] = Some(v);
                }
            }
        };
        put(
            &mut self.memory_used,
            Some(Channel::MemoryUsed),
            s.memory_used_mb,
        );
        put(
            &mut self.memory_available,
            Some(Channel::MemoryAvailable),
            s.memory_available_mb,
        );
        put(
            &mut self.process_memory,
            Some(Channel::ProcessMemory),
            s.process_memory_mb,
        );
        put(
            &mut self.tree_memory,
            Some(Channel::TreeMemory),
            s.tree_memory_mb,
        );
        put(
            &mut self.cgroup_memory,
            Some(Channel::CgroupMemory),
            s.cgroup_memory_mb,
        );
        self.push_cgroup(s, rel);
        put(&mut self.cpu, Some(Channel::Cpu), s.cpu_percent);
        put(&mut self.process_cpu, None, s.process_cpu_percent);
        put(
            &mut self.threads,
            Some(Channel::Threads),
            s.tree_threads.or(s.process_threads),
        );
        put(
            &mut self.fds,
            Some(Channel::Fds),
            s.tree_fds.or(s.process_fds),
        );
        put(&mut self.disk_used, Some(Channel::DiskUsed), s.disk_used_gb);
        put(&mut self.disk_free, None, s.disk_free_gb);
        put(
            &mut self.watched,
            Some(Channel::Watched),
            s.watched.0.map(|b| b / f64::from(1u32 << 30)),
        );
        if let (Some(sent), Some(recv)) = (s.network_bytes_sent, s.network_bytes_recv) {
            if let Some((pt, ps, pr)) = self.prev_net {
                let dt = t - pt;
                // A counter that goes backwards was reset (interface or reboot): no rate.
                if dt > 0.0 && sent >= ps && recv >= pr {
                    let (rs, rr) = ((sent - ps) / dt, (recv - pr) / dt);
                    put(&mut self.net_sent_rate, Some(Channel::NetSent), Some(rs));
                    put(&mut self.net_recv_rate, Some(Channel::NetRecv), Some(rr));
                    // A stall starts at the previous sample (the last time bytes arrived).
                    let stalled = recv == pr;
                    if stalled && self.stall_run.since.is_none() {
                        self.stall_run.since = Some(pt - first);
                    } else if !stalled {
                        self.stall_run.step(rel, false, 0.0, cfg.net_stall_s);
                    }
                }
            }
            self.prev_net = Some((t, sent, recv));
        }
        if let Some(c) = s.cpu_percent {
            self.cpu_run
                .step(rel, c >= cfg.cpu_threshold, c, cfg.cpu_window_s);
        }
        self.timeline.push_sample(t, &series);
        true
    }

    /// The limit, its highest share and the OOM counter of one sample at `rel` s.
    fn push_cgroup(&mut self, s: &RawSample, rel: f64) {
        if s.cgroup_memory_mb.is_some() || s.cgroup_oom_kills.is_some() {
            self.cgroup_limit_mb = s.cgroup_memory_limit_mb.filter(|l| *l > 0.0);
        }
        if let (Some(m), Some(l)) = (s.cgroup_memory_mb, self.cgroup_limit_mb) {
            let p = m / l * 100.0;
            if self.cgroup_peak_percent.is_none_or(|(peak, _)| p > peak) {
                self.cgroup_peak_percent = Some((p, rel));
            }
        }
        if let Some(k) = s.cgroup_oom_kills {
            self.cgroup_oom_seen = true;
            if let Some(last) = self.last_oom {
                if k > last {
                    self.oom_kills += (k - last).round() as u64;
                    self.first_oom_s.get_or_insert(rel);
                }
            }
            self.last_oom = Some(k);
        }
    }

    /// Closes open episodes at the last sample.
    pub fn finish(&mut self) {
        let cfg = self.cfg;
        let end = self.span_s();
        self.cpu_run.finish(end, cfg.cpu_window_s);
        self.stall_run.finish(end, cfg.net_stall_s);
    }

    /// Seconds between the earliest and the latest sample (never negative, even when the
    /// timestamps run backwards).
    pub fn span_s(&self) -> f64 {
        self.bounds.map_or(0.0, |(lo, hi)| hi - lo)
    }

    /// Sustained CPU spikes (kept, total count).
    pub fn cpu_spikes(&self) -> (&[Episode], u64) {
        (&self.cpu_run.episodes, self.cpu_run.count)
    }

    /// Network receive stalls (kept, total count).
    pub fn net_stalls(&self) -> (&[Episode], u64) {
        (&self.stall_run.episodes, self.stall_run.count)
    }
}
