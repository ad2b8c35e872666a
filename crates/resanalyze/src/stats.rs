//! Bounded-memory summary statistics: exact min/max/mean/stddev (Welford) and quantiles from a
//! log-bucketed sketch with a guaranteed relative error (DDSketch-style, alpha = 0.5 %).
//! The sketch's buckets are a dense array over the keys seen (a few hundred for a series of
//! one order of magnitude, at most ~73,000 for values spanning 1e-9..1e308), so adding a value
//! is an index, not a tree insertion; a value equal to the previous one reuses its key.

/// Counts per sketch key, dense from the smallest key seen to the largest.
#[derive(Debug, Clone, Default)]
struct Buckets {
    first_key: i32,
    counts: Vec<u64>,
}

impl Buckets {
    fn add(&mut self, key: i32) {
        if self.counts.is_empty() {
            self.first_key = key;
        } else if key < self.first_key {
            let grow = (self.first_key - key) as usize;
            self.counts.splice(0..0, std::iter::repeat_n(0, grow));
            self.first_key = key;
        }
        let idx = (key - self.first_key) as usize;
        if idx >= self.counts.len() {
            self.counts.resize(idx + 1, 0);
        }
        self.counts[idx] += 1;
    }

    /// Non-empty buckets as (key, count), smallest key first.
    fn iter(&self) -> impl DoubleEndedIterator<Item = (i32, u64)> + '_ {
        let first = self.first_key;
        self.counts
            .iter()
            .enumerate()
            .filter(|&(_, &n)| n > 0)
            .map(move |(i, &n)| (first + i as i32, n))
    }

    /// Number of non-empty buckets.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.counts.iter().filter(|&&n| n > 0).count()
    }
}

/// Relative accuracy of the quantile sketch: a reported quantile q' of a true quantile q obeys
/// |q' - q| <= ALPHA * |q|.
pub const QUANTILE_RELATIVE_ERROR: f64 = 0.005;

/// Streaming statistics of one series in O(number of log buckets) memory (a few hundred).
#[derive(Debug, Clone)]
pub struct Stats {
    count: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    first: Option<f64>,
    last: Option<f64>,
    /// Sketch key of `last` (valid when `last` is a value off the zero bucket).
    last_key: i32,
    positive: Buckets,
    negative: Buckets,
    zeros: u64,
    gamma_ln: f64,
}

impl Default for Stats {
    fn default() -> Self {
        let gamma = (1.0 + QUANTILE_RELATIVE_ERROR) / (1.0 - QUANTILE_RELATIVE_ERROR);
        Stats {
            count: 0,
            mean: 0.0,
            m2: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            first: None,
            last: None,
            last_key: 0,
            positive: Buckets::default(),
            negative: Buckets::default(),
            zeros: 0,
            gamma_ln: gamma.ln(),
        }
    }
}

/// Values closer to zero than this are counted as zero by the sketch.
const MIN_MAGNITUDE: f64 = 1e-9;

impl Stats {
    /// Adds one value (non-finite values are ignored).
    pub fn push(&mut self, x: f64) {
        if !x.is_finite() {
            return;
        }
        self.count += 1;
        let d = x - self.mean;
        self.mean += d / self.count as f64;
        self.m2 += d * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
        if self.first.is_none() {
            self.first = Some(x);
        }
        let repeated = self.last == Some(x);
        self.last = Some(x);
        if x.abs() < MIN_MAGNITUDE {
            self.zeros += 1;
        } else {
            if !repeated {
                self.last_key = (x.abs().ln() / self.gamma_ln).ceil() as i32;
            }
            let buckets = if x > 0.0 {
                &mut self.positive
            } else {
                &mut self.negative
            };
            buckets.add(self.last_key);
        }
    }

    /// Number of values.
    pub fn count(&self) -> u64 {
        self.count
    }
    /// Smallest value.
    pub fn min(&self) -> Option<f64> {
        (self.count > 0).then_some(self.min)
    }
    /// Largest value.
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }
    /// Arithmetic mean.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }
    /// Population standard deviation.
    pub fn stddev(&self) -> Option<f64> {
        (self.count > 0).then(|| (self.m2 / self.count as f64).sqrt())
    }
    /// First value pushed.
    pub fn first(&self) -> Option<f64> {
        self.first
    }
    /// Last value pushed.
    pub fn last(&self) -> Option<f64> {
        self.last
    }

    /// The q-quantile (0..=1), within [`QUANTILE_RELATIVE_ERROR`] of the true value.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * (self.count - 1) as f64).round() as u64;
        let gamma = self.gamma_ln.exp();
        let value = |key: i32| 2.0 * gamma.powi(key) / (gamma + 1.0);
        let mut seen = 0u64;
        for (key, n) in self.negative.iter().rev() {
            seen += n;
            if seen > rank {
                return Some((-value(key)).clamp(self.min, self.max));
            }
        }
        seen += self.zeros;
        if seen > rank {
            return Some(0.0);
        }
        for (key, n) in self.positive.iter() {
            seen += n;
            if seen > rank {
                return Some(value(key).clamp(self.min, self.max));
            }
        }
        self.max()
    }

    /// `{count, min, max, mean, stddev, p50, p95, p99}`, named with `unit` appended (e.g.
    /// `min_mb`), rounded to 3 decimals; `None` without data.
    pub fn summary(&self, unit: &str) -> Option<crate::model::SeriesStats> {
        (self.count > 0).then(|| crate::model::SeriesStats {
            unit: unit.to_string(),
            count: self.count,
            min: Some(round3(self.min)),
            max: Some(round3(self.max)),
            mean: self.mean().map(round3),
            stddev: self.stddev().map(round3),
            p50: self.quantile(0.5).map(round3),
            p95: self.quantile(0.95).map(round3),
            p99: self.quantile(0.99).map(round3),
        })
    }
}

/// Rounds to 3 decimals (output only).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_moments_and_bounded_quantiles() {
        let mut s = Stats::default();
        for i in 1..=10_000 {
            s.push(i as f64);
        }
        assert_eq!(s.count(), 10_000);
        assert_eq!(s.min(), Some(1.0));
        assert_eq!(s.max(), Some(10_000.0));
        assert!((s.mean().expect("mean") - 5000.5).abs() < 1e-9);
        for (q, truth) in [(0.5, 5000.0), (0.95, 9500.0), (0.99, 9900.0)] {
            let got = s.quantile(q).expect("q");
            assert!(
                (got - truth).abs() <= truth * 0.011,
                "q{q}: {got} vs {truth}"
            );
        }
        assert!(s.positive.len() < 2000);
    }

    #[test]
    fn descending_and_repeated_values_bucket_like_ascending_ones() {
        let values: Vec<f64> = (1..=5_000)
            .map(|i| f64::from(i % 700 + 1) * 0.37)
            .flat_map(|x| [x, x])
            .collect();
        let mut up = Stats::default();
        let mut down = Stats::default();
        for &x in &values {
            up.push(x);
        }
        for &x in values.iter().rev() {
            down.push(x);
        }
        for q in [0.0, 0.01, 0.25, 0.5, 0.95, 0.99, 1.0] {
            assert_eq!(up.quantile(q), down.quantile(q), "q{q}");
        }
        assert_eq!(up.positive.len(), down.positive.len());
        assert_eq!(up.positive.counts.iter().sum::<u64>(), 10_000);
    }

    #[test]
    fn negative_and_zero_values() {
        let mut s = Stats::default();
        for x in [-5.0, 0.0, 0.0, 0.0, 5.0] {
            s.push(x);
        }
        assert_eq!(s.quantile(0.5), Some(0.0));
        assert!(s.quantile(0.0).expect("q") < -4.9);
    }
}
