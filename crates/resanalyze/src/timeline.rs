//! A bounded time-bucketed copy of the series that need their shape over time (trend tests,
//! change points, level shifts, plots). At most [`MAX_BUCKETS`] buckets: when a sample falls
//! past the last one, the bucket width doubles and neighbouring buckets merge, so memory stays
//! constant however long the run is. Each bucket keeps count, sum (mean), min, max and last.

/// The series kept over time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// System memory used, MB.
    MemoryUsed = 0,
    /// System memory available, MB.
    MemoryAvailable,
    /// Target RSS, MB.
    ProcessMemory,
    /// Tree RSS, MB.
    TreeMemory,
    /// System CPU percent.
    Cpu,
    /// Disk used, GB.
    DiskUsed,
    /// Fds (tree, else process).
    Fds,
    /// Threads (tree, else process).
    Threads,
    /// Receive rate, bytes/s.
    NetRecv,
    /// Send rate, bytes/s.
    NetSent,
    /// Bytes of resmon's watched paths (`watch_*_bytes` summed), GB.
    Watched,
    /// The cgroup's memory in use, MB.
    CgroupMemory,
}

/// Number of channels.
pub const CHANNELS: usize = 12;
/// Upper bound on buckets.
pub const MAX_BUCKETS: usize = 4096;

/// Aggregate of one channel in one bucket.
#[derive(Debug, Clone, Copy)]
pub struct Agg {
    /// Values seen.
    pub n: u32,
    /// Sum of times (s) of those values.
    pub sum_t: f64,
    /// Sum of values.
    pub sum: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Default for Agg {
    fn default() -> Self {
        Agg {
            n: 0,
            sum_t: 0.0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }
}

impl Agg {
    fn push(&mut self, t: f64, x: f64) {
        self.n += 1;
        self.sum_t += t;
        self.sum += x;
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }
    fn merge(&mut self, o: &Agg) {
        self.n += o.n;
        self.sum_t += o.sum_t;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }
}

/// One point of a channel: mean time (s since start) and mean value of a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Seconds since the first sample.
    pub t: f64,
    /// Mean value.
    pub y: f64,
    /// Smallest value in the bucket.
    pub min: f64,
    /// Largest value in the bucket.
    pub max: f64,
}

/// The bucketed timeline.
#[derive(Debug, Clone)]
pub struct Timeline {
    t0: Option<f64>,
    width_s: f64,
    buckets: Vec<[Agg; CHANNELS]>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            t0: None,
            width_s: 1.0,
            buckets: Vec::new(),
        }
    }
}

impl Timeline {
    /// The time of the first sample (the origin).
    pub fn origin(&self) -> Option<f64> {
        self.t0
    }

    /// Current bucket width in seconds.
    pub fn width_s(&self) -> f64 {
        self.width_s
    }

    /// Adds the values of one sample (indexed by [`Channel`]; `None` and non-finite values
    /// are left out) at absolute time `t` (s). Times before the origin go to bucket 0.
    pub fn push_sample(&mut self, t: f64, values: &[Option<f64>; CHANNELS]) {
        if !t.is_finite() || !values.iter().flatten().any(|x| x.is_finite()) {
            return;
        }
        let t0 = *self.t0.get_or_insert(t);
        let rel = (t - t0).max(0.0);
        let mut idx = (rel / self.width_s) as usize;
        while idx >= MAX_BUCKETS {
            self.coarsen();
            idx = (rel / self.width_s) as usize;
        }
        if idx >= self.buckets.len() {
            self.buckets.resize(idx + 1, [Agg::default(); CHANNELS]);
        }
        let bucket = &mut self.buckets[idx];
        for (agg, x) in bucket.iter_mut().zip(values) {
            if let Some(x) = x.filter(|x| x.is_finite()) {
                agg.push(rel, x);
            }
        }
    }

    fn coarsen(&mut self) {
        let merged: Vec<[Agg; CHANNELS]> = self
            .buckets
            .chunks(2)
            .map(|pair| {
                let mut a = pair[0];
                if let Some(b) = pair.get(1) {
                    for (x, y) in a.iter_mut().zip(b.iter()) {
                        x.merge(y);
                    }
                }
                a
            })
            .collect();
        self.buckets = merged;
        self.width_s *= 2.0;
    }

    /// The non-empty buckets of `ch`, in time order.
    pub fn points(&self, ch: Channel) -> Vec<Point> {
        self.buckets
            .iter()
            .map(|b| b[ch as usize])
            .filter(|a| a.n > 0)
            .map(|a| Point {
                t: a.sum_t / f64::from(a.n),
                y: a.sum / f64::from(a.n),
                min: a.min,
                max: a.max,
            })
            .collect()
    }

    /// Whether `ch` has any value.
    pub fn has(&self, ch: Channel) -> bool {
        self.buckets.iter().any(|b| b[ch as usize].n > 0)
    }
}

/// Merges consecutive points so at most `max` remain (for O(n²) estimators).
pub fn thin(points: &[Point], max: usize) -> Vec<Point> {
    if points.len() <= max || max == 0 {
        return points.to_vec();
    }
    let group = points.len().div_ceil(max);
    points
        .chunks(group)
        .map(|c| {
            let n = c.len() as f64;
            Point {
                t: c.iter().map(|p| p.t).sum::<f64>() / n,
                y: c.iter().map(|p| p.y).sum::<f64>() / n,
                min: c.iter().map(|p| p.min).fold(f64::INFINITY, f64::min),
                max: c.iter().map(|p| p.max).fold(f64::NEG_INFINITY, f64::max),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_count_is_bounded_and_means_survive_merging() {
        let mut tl = Timeline::default();
        for i in 0..100_000 {
            let mut values = [None; CHANNELS];
            values[Channel::Cpu as usize] = Some(50.0);
            tl.push_sample(f64::from(i), &values);
        }
        let pts = tl.points(Channel::Cpu);
        assert!(pts.len() <= MAX_BUCKETS);
        assert!(pts.len() > MAX_BUCKETS / 4);
        assert!(pts.iter().all(|p| (p.y - 50.0).abs() < 1e-9));
        assert!(thin(&pts, 100).len() <= 100);
    }

    #[test]
    fn each_value_lands_in_its_bucket_and_gaps_do_not_poison_others() {
        let mut tl = Timeline::default();
        let n = 20_000;
        for i in 0..n {
            let mut values = [None; CHANNELS];
            values[Channel::Cpu as usize] = Some(f64::from(i % 97));
            values[Channel::Fds as usize] = (i % 3 != 0).then_some(40.0);
            values[Channel::NetRecv as usize] = Some(if i == 7 { f64::NAN } else { 5.0 });
            tl.push_sample(1000.0 + f64::from(i) * 1.5, &values);
        }
        // 30,000 s need buckets of 8 s to stay under MAX_BUCKETS.
        assert_eq!(tl.width_s(), 8.0);
        let mut sums: Vec<(f64, f64)> = Vec::new();
        for i in 0..n {
            let k = (f64::from(i) * 1.5 / 8.0) as usize;
            if sums.len() <= k {
                sums.resize(k + 1, (0.0, 0.0));
            }
            sums[k].0 += f64::from(i % 97);
            sums[k].1 += 1.0;
        }
        let cpu = tl.points(Channel::Cpu);
        assert_eq!(cpu.len(), sums.len());
        for (p, (sum, count)) in cpu.iter().zip(&sums) {
            assert!((p.y - sum / count).abs() < 1e-9, "{p:?}");
        }
        assert!(tl.points(Channel::Fds).iter().all(|p| p.y == 40.0));
        let recv = tl.points(Channel::NetRecv);
        assert_eq!(recv.len(), sums.len());
        assert!(recv.iter().all(|p| p.y == 5.0));
        assert!(!tl.has(Channel::DiskUsed));
    }
}
