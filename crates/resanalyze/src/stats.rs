//! Bounded-memory summary statistics: exact min/max/mean/stddev (Welford) and quantiles from a
//! log-bucketed sketch with a guaranteed relative error (DDSketch-style, alpha = 0.5 %).

use std::collections::BTreeMap;

use serde_json::{Value, json};

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
    positive: BTreeMap<i32, u64>,
    negative: BTreeMap<i32, u64>,
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
            positive: BTreeMap::new(),
            negative: BTreeMap::new(),
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
        self.last = Some(x);
        if x.abs() < MIN_MAGNITUDE {
            self.zeros += 1;
        } else {
            let key = (x.abs().ln() / self.gamma_ln).ceil() as i32;
            let map = if x > 0.0 {
                &mut self.positive
            } else {
                &mut self.negative
            };
            *map.entry(key).or_insert(0) += 1;
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
        for (&key, &n) in self.negative.iter().rev() {
            seen += n;
            if seen > rank {
                return Some((-value(key)).clamp(self.min, self.max));
            }
        }
        seen += self.zeros;
        if seen > rank {
            return Some(0.0);
        }
        for (&key, &n) in &self.positive {
            seen += n;
            if seen > rank {
                return Some(value(key).clamp(self.min, self.max));
            }
        }
        self.max()
    }

    /// `{count, min, max, mean, stddev, p50, p95, p99}` with `unit` appended to the names
    /// (e.g. `min_mb`), or null without data.
    pub fn to_json(&self, unit: &str) -> Value {
        if self.count == 0 {
            return Value::Null;
        }
        let k = |name: &str| {
            if unit.is_empty() {
                name.to_string()
            } else {
                format!("{name}_{unit}")
            }
        };
        let mut m = serde_json::Map::new();
        m.insert("count".into(), json!(self.count));
        m.insert(k("min"), json!(round3(self.min)));
        m.insert(k("max"), json!(round3(self.max)));
        m.insert(k("mean"), json!(self.mean().map(round3)));
        m.insert(k("stddev"), json!(self.stddev().map(round3)));
        m.insert(k("p50"), json!(self.quantile(0.5).map(round3)));
        m.insert(k("p95"), json!(self.quantile(0.95).map(round3)));
        m.insert(k("p99"), json!(self.quantile(0.99).map(round3)));
        Value::Object(m)
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
    fn negative_and_zero_values() {
        let mut s = Stats::default();
        for x in [-5.0, 0.0, 0.0, 0.0, 5.0] {
            s.push(x);
        }
        assert_eq!(s.quantile(0.5), Some(0.0));
        assert!(s.quantile(0.0).expect("q") < -4.9);
    }
}
