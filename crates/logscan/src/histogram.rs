//! A bounded log-bucketed histogram for latency percentiles: memory stays flat however long
//! the log, and every reported percentile is within 1 % of the exact sample value.

use std::collections::BTreeMap;

/// Relative width of a bucket: values within 1 % share one.
const GROWTH: f64 = 1.01;

/// Counts of positive values in geometric buckets, plus exact count, min, max and sum.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    buckets: BTreeMap<i32, u64>,
    zeros: u64,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
}

impl Histogram {
    /// Records a value (negative and non-finite values are ignored).
    pub fn record(&mut self, v: f64) {
        if !v.is_finite() || v < 0.0 {
            return;
        }
        if self.count == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.count += 1;
        self.sum += v;
        if v == 0.0 {
            self.zeros += 1;
        } else {
            *self.buckets.entry(bucket_of(v)).or_insert(0) += 1;
        }
    }

    /// How many values were recorded.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The largest value (exact).
    pub fn max(&self) -> Option<f64> {
        (self.count > 0).then_some(self.max)
    }

    /// The mean (exact).
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }

    /// The `q`-quantile (0 ≤ q ≤ 1) by the nearest-rank method, within 1 %.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank <= self.zeros {
            return Some(0.0);
        }
        let mut seen = self.zeros;
        for (&b, &n) in &self.buckets {
            seen += n;
            if seen >= rank {
                // The bucket's geometric middle, clamped to the exact extremes.
                let mid = GROWTH.powf(f64::from(b) + 0.5);
                return Some(mid.clamp(self.min, self.max));
            }
        }
        Some(self.max)
    }
}

fn bucket_of(v: f64) -> i32 {
    (v.ln() / GROWTH.ln()).floor() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_one_percent() {
        let mut h = Histogram::default();
        for v in 1..=1000 {
            h.record(f64::from(v));
        }
        for (q, exact) in [(0.5, 500.0), (0.95, 950.0), (0.99, 990.0)] {
            let got = h.quantile(q).expect("data");
            assert!(
                (got - exact).abs() / exact <= 0.01,
                "q{q}: {got} vs {exact}"
            );
        }
        assert_eq!(h.max(), Some(1000.0));
        assert_eq!(h.count(), 1000);
        assert_eq!(h.mean(), Some(500.5));
    }

    #[test]
    fn empty_and_zeros() {
        let mut h = Histogram::default();
        assert_eq!(h.quantile(0.5), None);
        h.record(0.0);
        h.record(0.0);
        h.record(10.0);
        assert_eq!(h.quantile(0.5), Some(0.0));
        assert_eq!(h.quantile(1.0).map(|v| v.round()), Some(10.0));
        h.record(f64::NAN);
        assert_eq!(h.count(), 3);
    }
}
