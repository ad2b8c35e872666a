//! Downsampling for drawing: per pixel column the minimum and the maximum (in the order they
//! happened), so a one-second spike in a 72-hour run still reaches its full height, and the
//! drawn line is never longer than two points per column.

/// One column's extremes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Cell {
    min: f64,
    max: f64,
    /// The minimum came before the maximum.
    min_first: bool,
    first_t: f64,
    last_t: f64,
}

/// A series reduced to its per-column extremes.
#[derive(Debug, Clone, Default)]
pub struct Envelope {
    cells: Vec<Option<Cell>>,
    count: u64,
    min: f64,
    max: f64,
}

/// A run of columns drawn as one line: (column, value) points in time order.
pub type Segment = Vec<(usize, f64)>;

impl Envelope {
    /// An empty envelope over `columns` columns.
    pub fn new(columns: usize) -> Envelope {
        Envelope {
            cells: vec![None; columns],
            count: 0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    /// Adds value `v` at time `t` in column `col` (values that are not finite are ignored).
    pub fn add(&mut self, col: usize, t: f64, v: f64) {
        if !v.is_finite() {
            return;
        }
        let Some(slot) = self.cells.get_mut(col) else {
            return;
        };
        self.count += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        match slot {
            None => {
                *slot = Some(Cell {
                    min: v,
                    max: v,
                    min_first: true,
                    first_t: t,
                    last_t: t,
                });
            }
            Some(c) => {
                if v < c.min {
                    c.min = v;
                    c.min_first = false;
                }
                if v > c.max {
                    c.max = v;
                    c.min_first = true;
                }
                c.last_t = t;
            }
        }
    }

    /// Values added.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The smallest and largest value, `None` when empty.
    pub fn range(&self) -> Option<(f64, f64)> {
        (self.count > 0).then_some((self.min, self.max))
    }

    /// The line to draw, split where no value came for longer than `max_gap_s` (a monitor
    /// restart, a suspended machine): each segment has at most two points per column.
    pub fn segments(&self, max_gap_s: f64) -> Vec<Segment> {
        let mut out: Vec<Segment> = Vec::new();
        let mut current: Segment = Vec::new();
        let mut last_t: Option<f64> = None;
        for (col, cell) in self.cells.iter().enumerate() {
            let Some(c) = cell else { continue };
            if last_t.is_some_and(|t| c.first_t - t > max_gap_s) && !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            let (a, b) = if c.min_first {
                (c.min, c.max)
            } else {
                (c.max, c.min)
            };
            current.push((col, a));
            if b != a {
                current.push((col, b));
            }
            last_t = Some(c.last_t);
        }
        if !current.is_empty() {
            out.push(current);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_one_sample_spike_survives_downsampling() {
        let mut e = Envelope::new(10);
        for i in 0..10_000u32 {
            let v = if i == 4321 { 500.0 } else { 10.0 };
            e.add((i / 1000) as usize, f64::from(i), v);
        }
        let segs = e.segments(5.0);
        assert_eq!(segs.len(), 1);
        let points = &segs[0];
        assert!(points.len() <= 20);
        assert!(points.contains(&(4, 500.0)), "{points:?}");
        assert_eq!(e.range(), Some((10.0, 500.0)));
    }

    #[test]
    fn a_gap_longer_than_allowed_splits_the_line() {
        let mut e = Envelope::new(10);
        e.add(0, 0.0, 1.0);
        e.add(1, 1.0, 2.0);
        e.add(8, 8.0, 3.0);
        assert_eq!(e.segments(3.0).len(), 2);
        assert_eq!(e.segments(10.0).len(), 1);
    }

    #[test]
    fn order_within_a_column_follows_time() {
        let mut e = Envelope::new(1);
        e.add(0, 0.0, 5.0);
        e.add(0, 1.0, 9.0);
        e.add(0, 2.0, 1.0);
        // max (9) came before min (1): drawn max then min.
        assert_eq!(e.segments(10.0), vec![vec![(0, 9.0), (0, 1.0)]]);
    }
}
