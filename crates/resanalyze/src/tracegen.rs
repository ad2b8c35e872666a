//! Generator of synthetic resmon traces of known shape, used by the tests, the README plots
//! and the benchmark (`cargo xtask bench resanalyze`). Lines follow the sample contract (the
//! seed's fields plus resmon's additions), so both readers' code paths are exercised.

use std::io::{self, Write};

use soak_core::record::Timestamp;

/// Memory shapes with a known truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Flat with noise: no leak.
    Flat,
    /// Linear growth at `rate` MB/h: leak.
    Linear,
    /// GC sawtooth, flat on average, ending near a peak: no leak.
    Sawtooth,
    /// Fast warm-up then a plateau: no leak.
    WarmupPlateau,
    /// Flat with a few huge outlier spikes: no leak.
    Spikes,
    /// Growth by steps: leak.
    Staircase,
    /// Memory being released (falling): no leak.
    Released,
    /// Flat for 3/4 of the run, then growth at `rate` MB/h: leak at that rate.
    LateLeak,
    /// A garbage collector's sawtooth ([`GcCycles`]: period, amplitude, where the run stops)
    /// over a floor rising at `rate` MB/h: a leak only when that rate is above the threshold.
    /// Not in [`Shape::ALL`], as its truth depends on the rate.
    GcSawtooth,
}

impl Shape {
    /// Every shape.
    pub const ALL: [Shape; 8] = [
        Shape::Flat,
        Shape::Linear,
        Shape::Sawtooth,
        Shape::WarmupPlateau,
        Shape::Spikes,
        Shape::Staircase,
        Shape::Released,
        Shape::LateLeak,
    ];

    /// The shape's name.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Flat => "flat",
            Shape::Linear => "linear",
            Shape::Sawtooth => "sawtooth",
            Shape::WarmupPlateau => "warmup_plateau",
            Shape::Spikes => "spikes",
            Shape::Staircase => "staircase",
            Shape::Released => "released",
            Shape::LateLeak => "late_leak",
            Shape::GcSawtooth => "gc_sawtooth",
        }
    }

    /// Whether the shape is a leak (the known truth).
    pub fn is_leak(self) -> bool {
        matches!(self, Shape::Linear | Shape::Staircase | Shape::LateLeak)
    }

    /// RSS (MB) at hour `h` of a run of `hours`, for leak rate `rate` MB/h, before noise.
    pub fn rss_mb(self, h: f64, hours: f64, rate: f64) -> f64 {
        let base = 300.0;
        match self {
            Shape::Flat | Shape::Spikes => base,
            Shape::Linear => base + rate * h,
            Shape::Sawtooth => {
                let period = hours / 9.7; // ends near a peak
                base + 120.0 * ((h / period).fract())
            }
            Shape::WarmupPlateau => base + 400.0 * (1.0 - (-h / (hours / 24.0)).exp()),
            Shape::Staircase => {
                let step = hours / 6.0;
                base + rate * step * (h / step).floor()
            }
            Shape::Released => base + 500.0 - 30.0 * h.min(hours),
            Shape::LateLeak => base + rate * (h - 0.75 * hours).max(0.0),
            // The floor (rising from the start; `write_trace` delays it with `floor_from`
            // and adds the cycles).
            Shape::GcSawtooth => base + rate * h,
        }
    }
}

/// Parameters of a generated trace.
#[derive(Debug, Clone, Copy)]
pub struct TraceSpec {
    /// Memory shape.
    pub shape: Shape,
    /// Run length, hours.
    pub hours: f64,
    /// Sampling interval, s.
    pub interval_s: f64,
    /// Leak rate for leaking shapes, MB/h.
    pub rate_mb_per_hour: f64,
    /// Disk growth, GB/h.
    pub disk_gb_per_hour: f64,
    /// Noise seed.
    pub seed: u64,
    /// Write resmon's `start` event first (the seed's `--analyze` cannot read events).
    pub start_event: bool,
    /// The cycles of [`Shape::GcSawtooth`].
    pub gc: GcCycles,
}

/// Where in its cycle a sawtooth trace stops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CyclePhase {
    /// Just after a collection (the lowest point).
    Trough,
    /// Halfway up a rise.
    MidRise,
    /// Just before a collection (the highest point).
    Peak,
}

impl CyclePhase {
    /// Every phase.
    pub const ALL: [CyclePhase; 3] = [CyclePhase::Trough, CyclePhase::MidRise, CyclePhase::Peak];

    /// Fraction of the cycle elapsed at the end of the trace.
    pub fn fraction(self) -> f64 {
        match self {
            CyclePhase::Trough => 0.01,
            CyclePhase::MidRise => 0.5,
            CyclePhase::Peak => 0.99,
        }
    }

    /// The phase's name.
    pub fn name(self) -> &'static str {
        match self {
            CyclePhase::Trough => "trough",
            CyclePhase::MidRise => "mid_rise",
            CyclePhase::Peak => "peak",
        }
    }
}

/// A garbage collector's cycles: memory climbs linearly by `amplitude_mb` over one period,
/// then drops back to the floor. Periods vary by up to `jitter` (a fraction) from cycle to
/// cycle, as a real collector's do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GcCycles {
    /// Mean period, s.
    pub period_s: f64,
    /// Height of each rise, MB.
    pub amplitude_mb: f64,
    /// Where the trace stops.
    pub end: CyclePhase,
    /// Relative spread of the periods (0.2: each within ±20 % of `period_s`).
    pub jitter: f64,
    /// Fraction of the run after which the floor starts rising (0: from the start; 0.75: a
    /// late leak under the cycles).
    pub floor_from: f64,
}

impl Default for GcCycles {
    fn default() -> Self {
        GcCycles {
            period_s: 1800.0,
            amplitude_mb: 150.0,
            end: CyclePhase::Peak,
            jitter: 0.15,
            floor_from: 0.0,
        }
    }
}

impl GcCycles {
    /// Start times (s) of the cycles covering `[0, span_s]`, laid out backwards from the end
    /// so that the trace stops at `end`; the first start is at or before 0.
    fn starts(&self, span_s: f64, noise: &mut Noise) -> Vec<f64> {
        let mut starts = vec![span_s - self.end.fraction() * self.period_s];
        while let Some(&first) = starts.last() {
            if first <= 0.0 || starts.len() > 1_000_000 {
                break;
            }
            let period = self.period_s * (1.0 + self.jitter * noise.next());
            starts.push(first - period.max(self.period_s * 0.05));
        }
        starts.reverse();
        starts
    }
}

impl TraceSpec {
    /// A trace of `shape` over `hours` at `interval_s`, leaking 40 MB/h where it leaks.
    pub fn new(shape: Shape, hours: f64, interval_s: f64) -> Self {
        TraceSpec {
            shape,
            hours,
            interval_s,
            rate_mb_per_hour: 40.0,
            disk_gb_per_hour: 0.01,
            seed: 42,
            start_event: true,
            gc: GcCycles::default(),
        }
    }

    /// A GC sawtooth trace of `hours` at `interval_s` with `cycles`, over a floor rising at
    /// `floor_mb_per_hour`.
    pub fn gc(hours: f64, interval_s: f64, cycles: GcCycles, floor_mb_per_hour: f64) -> Self {
        TraceSpec {
            rate_mb_per_hour: floor_mb_per_hour,
            gc: cycles,
            ..TraceSpec::new(Shape::GcSawtooth, hours, interval_s)
        }
    }

    /// Number of samples.
    pub fn samples(&self) -> u64 {
        (self.hours * 3600.0 / self.interval_s).round() as u64 + 1
    }
}

/// A tiny deterministic PRNG (xorshift) for noise; uniform in [-1, 1).
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// Writes the trace as resmon sample lines (with a `start` event first).
pub fn write_trace<W: Write>(out: &mut W, spec: &TraceSpec) -> io::Result<()> {
    let t0 = 1_760_000_000.0;
    let mut noise = Noise(spec.seed.wrapping_mul(2_654_435_761).max(1));
    if spec.start_event {
        writeln!(
            out,
            r#"{{"type":"event","tool":"resmon","event":"start","timestamp_utc":"{}","timestamp_unix":{t0},"interval_s":{}}}"#,
            Timestamp::from_unix(t0)
                .map(|t| t.utc_string())
                .unwrap_or_default(),
            spec.interval_s
        )?;
    }
    let (mut sent, mut recv) = (0.0f64, 0.0f64);
    let n = spec.samples();
    let span_s = (n - 1) as f64 * spec.interval_s;
    let cycle_starts = if spec.shape == Shape::GcSawtooth {
        spec.gc
            .starts(span_s, &mut Noise(spec.seed.wrapping_mul(40_503).max(1)))
    } else {
        Vec::new()
    };
    let mut cycle = 0usize;
    let total_mb = 16384.0;
    for k in 0..n {
        let elapsed = k as f64 * spec.interval_s;
        let h = elapsed / 3600.0;
        let floor_h = if spec.shape == Shape::GcSawtooth {
            (h - spec.gc.floor_from * spec.hours).max(0.0)
        } else {
            h
        };
        let mut rss = spec
            .shape
            .rss_mb(floor_h, spec.hours, spec.rate_mb_per_hour)
            + 3.0 * noise.next();
        if let Some(&start) = cycle_starts.get(cycle) {
            while cycle_starts
                .get(cycle + 1)
                .is_some_and(|&next| next <= elapsed)
            {
                cycle += 1;
            }
            let start = cycle_starts.get(cycle).copied().unwrap_or(start);
            let end = cycle_starts
                .get(cycle + 1)
                .copied()
                .unwrap_or(start + spec.gc.period_s);
            rss += spec.gc.amplitude_mb * ((elapsed - start) / (end - start)).clamp(0.0, 1.0);
        }
        if spec.shape == Shape::Spikes && k % (n / 7).max(1) == 3 {
            rss += 2500.0;
        }
        let used = 2000.0 + rss;
        let cpu = (25.0 + 10.0 * noise.next()).clamp(0.0, 100.0);
        let disk_used = 40.0 + spec.disk_gb_per_hour * h;
        sent += 2000.0 * spec.interval_s;
        recv += 5000.0 * spec.interval_s;
        let ts = t0 + elapsed;
        let utc = Timestamp::from_unix(ts)
            .map(|t| t.utc_string())
            .unwrap_or_default();
        writeln!(
            out,
            concat!(
                r#"{{"type":"sample","tool":"resmon","timestamp_utc":"{}","timestamp_unix":{:.3},"elapsed_s":{:.3},"seq":{},"missed_samples":0,"#,
                r#""cpu_percent":{:.1},"cpu_count":2,"cpu_freq_mhz":2400.0,"memory_total_mb":{:.1},"memory_used_mb":{:.1},"memory_available_mb":{:.1},"memory_percent":{:.1},"#,
                r#""disk_total_gb":100.0,"disk_used_gb":{:.4},"disk_free_gb":{:.4},"disk_percent":{:.1},"network_bytes_sent":{},"network_bytes_recv":{},"#,
                r#""process_cpu_percent":{:.1},"process_memory_mb":{:.1},"process_memory_percent":{:.2},"process_threads":12,"#,
                r#""hostname":"bench","platform":"Linux","monitor_version":"0.1.0","load_avg_1m":0.5,"load_avg_5m":0.5,"load_avg_15m":0.5,"swap_total_mb":0.0,"swap_used_mb":0.0,"#,
                r#""pid":4242,"process_fds":40,"process_read_bytes":0,"process_write_bytes":0,"tree_process_count":1,"tree_memory_mb":{:.1},"tree_cpu_percent":{:.1},"tree_threads":12,"tree_fds":40,"tree_zombies":0,"#,
                r#""tree_read_bytes":0,"tree_write_bytes":0,"tree_pss_mb":null,"tree_uss_mb":null,"monitor_cpu_percent":0.3,"monitor_memory_mb":5.0,"unavailable":["tree_pss_mb: not this sample"]}}"#
            ),
            utc,
            ts,
            elapsed,
            k,
            cpu,
            total_mb,
            used,
            total_mb - used,
            100.0 * used / total_mb,
            disk_used,
            100.0 - disk_used,
            disk_used,
            sent as u64,
            recv as u64,
            cpu / 2.0,
            rss,
            100.0 * rss / total_mb,
            rss,
            cpu / 2.0,
        )?;
    }
    Ok(())
}
