//! A bounded log-bucketed histogram for latency percentiles: memory stays flat however long
//! the log, and every reported percentile is within 1 % of the exact sample value.

use std::collections::BTreeMap;

/// Relative width of a bucket: values within 1 % share one.
const GROWTH: f64 = 1.01;

/// Most buckets held in the flat array (32 KiB): a span of about 4e17 in value; buckets
/// outside it go to the map.
const MAX_DENSE: usize = 4096;

/// Counts of positive values in geometric buckets, plus exact count, min, max and sum.
/// Buckets near the values seen live in a flat array (an update is an index and an add);
/// outliers beyond `MAX_DENSE` buckets from them, in a map.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Counts of buckets `lo ..= lo + dense.len() - 1`.
    dense: Vec<u64>,
    lo: i32,
    /// Counts of buckets outside the dense range (never inside it).
    buckets: BTreeMap<i32, u64>,
    zeros: u64,
    count: u64,
    min: f64,
    max: f64,
    sum: f64,
    /// Buckets of values recorded before, by the value's bits (latencies repeat).
    memo: BucketMemo,
}

/// Slots of the [`BucketMemo`] (a power of two).
const MEMO_SLOTS: usize = 256;

/// A direct-mapped cache of [`bucket_of`]: a value's bits pick a slot that holds the last
/// value seen there and its bucket, so a repeated value is a load and a compare instead of a
/// logarithm. It only ever answers with what `bucket_of` gave for the same bits.
#[derive(Debug, Clone, Default)]
struct BucketMemo {
    /// `(bits, bucket)` per slot; bits 0 (the value 0, never bucketed) marks an empty slot.
    slots: Vec<(u64, i32)>,
}

impl BucketMemo {
    fn bucket(&mut self, v: f64) -> i32 {
        if self.slots.is_empty() {
            self.slots = vec![(0, 0); MEMO_SLOTS];
        }
        let bits = v.to_bits();
        // Fibonacci hashing: the top bits of the product mix every bit of the value's.
        let slot = (bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as usize % MEMO_SLOTS;
        match self.slots.get_mut(slot) {
            Some((seen, b)) if *seen == bits => *b,
            Some(entry) => {
                let b = bucket_of(v);
                *entry = (bits, b);
                b
            }
            None => bucket_of(v),
        }
    }
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
            return;
        }
        let b = self.memo.bucket(v);
        let index = i64::from(b) - i64::from(self.lo);
        match usize::try_from(index)
            .ok()
            .and_then(|i| self.dense.get_mut(i))
        {
            Some(n) => *n += 1,
            None => self.record_outside(b),
        }
    }

    /// A bucket outside the flat array: widen the array to it when it stays within
    /// [`MAX_DENSE`] buckets (taking in the map's buckets it now covers), else count it in
    /// the map.
    fn record_outside(&mut self, b: i32) {
        let (lo, hi) = if self.dense.is_empty() {
            (b.saturating_sub(64), b.saturating_add(64))
        } else {
            let hi = self.lo + self.dense.len() as i32 - 1;
            (self.lo.min(b), hi.max(b))
        };
        let span = (i64::from(hi) - i64::from(lo) + 1) as usize;
        if span > MAX_DENSE {
            *self.buckets.entry(b).or_insert(0) += 1;
            return;
        }
        let mut dense = vec![0u64; span];
        for (i, n) in self.dense.iter().enumerate() {
            dense[(i64::from(self.lo) - i64::from(lo)) as usize + i] = *n;
        }
        let inside: Vec<i32> = self.buckets.range(lo..=hi).map(|(k, _)| *k).collect();
        for k in inside {
            if let Some(n) = self.buckets.remove(&k) {
                dense[(i64::from(k) - i64::from(lo)) as usize] += n;
            }
        }
        dense[(i64::from(b) - i64::from(lo)) as usize] += 1;
        self.dense = dense;
        self.lo = lo;
    }

    /// Every non-empty bucket with its count, in order.
    fn ordered_buckets(&self) -> impl Iterator<Item = (i32, u64)> + '_ {
        let hi = self.lo + self.dense.len() as i32;
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (self.lo + i as i32, *n));
        let below = self.buckets.range(..self.lo).map(|(k, n)| (*k, *n));
        let above = self.buckets.range(hi..).map(|(k, n)| (*k, *n));
        below.chain(dense).chain(above)
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
        for (b, n) in self.ordered_buckets() {
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
    fn remembered_buckets_are_the_logarithms() {
        let mut memo = BucketMemo::default();
        // Values on both sides of bucket boundaries, each more than once, with slots shared.
        let mut values = Vec::new();
        for b in -300..300 {
            let edge = GROWTH.powi(b);
            for v in [
                edge,
                f64::from_bits(edge.to_bits() - 1),
                f64::from_bits(edge.to_bits() + 1),
            ] {
                values.push(v);
            }
        }
        for v in 1..5000 {
            values.push(f64::from(v) / 10.0);
        }
        for _ in 0..3 {
            for v in &values {
                assert_eq!(memo.bucket(*v), bucket_of(*v), "{v}");
            }
        }
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

    #[test]
    fn outliers_far_from_the_rest_keep_their_rank() {
        let mut h = Histogram::default();
        let mut values = vec![1e-200, 5e-9, 3.0, 1e250];
        for v in 1..=96 {
            values.push(f64::from(v));
        }
        values.push(1e12);
        for v in &values {
            h.record(*v);
        }
        values.sort_by(f64::total_cmp);
        for q in [0.01, 0.02, 0.03, 0.5, 0.99, 1.0] {
            let rank = ((q * values.len() as f64).ceil() as usize).max(1);
            let exact = values[rank - 1];
            let got = h.quantile(q).expect("data");
            assert!(
                (got - exact).abs() / exact <= 0.01,
                "q{q}: {got} vs {exact}"
            );
        }
    }
}
