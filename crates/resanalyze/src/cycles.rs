//! Periodic cycles (a garbage collector's sawtooth) and their floor.
//!
//! A heap that fills and is collected every few minutes draws a sawtooth whose whole-series
//! slope depends on where the run stops: ending on a peak looks like growth, ending on a
//! trough like release, and with few cycles a trend test on every point is badly
//! over-confident (the points of one rise are not independent). What leaks under a GC is the
//! *floor*, the memory left after each collection. So: find the dominant period from the
//! autocorrelation of the detrended bucket means, then take one floor point per cycle, the
//! lowest value within half a period on each side. The leak test then runs on those floors.
//!
//! Periodicity is claimed only when it is plain: an autocorrelation peak of at least
//! [`MIN_PEAK_CORRELATION`] after the first zero crossing, at least [`MIN_CYCLES`] whole
//! cycles in the series, floors found all along it (no stretch of more than
//! [`MAX_GAP_PERIODS`] periods without one, which a trend bending away after a flat start
//! would show), and falls into the floors (the median floor lies at least one standard
//! deviation of the detrended series under the highest point of the half period before it; a
//! staircase, whose detrended form is periodic too, has none). Collections at irregular times
//! show no clear period: then the falls themselves mark the cycles (see [`MIN_FALL_SHARE`]).
//! Otherwise `None`, and the whole series is judged as before.

use crate::timeline::{Point, thin};
use crate::trend::ols;

/// Smallest autocorrelation at the period for a series to count as cyclic.
pub const MIN_PEAK_CORRELATION: f64 = 0.4;
/// Fewest whole cycles in the series (the largest period tried is a third of it).
pub const MIN_CYCLES: usize = 3;
/// Longest stretch without a floor point, in periods, and at either end.
pub const MAX_GAP_PERIODS: f64 = 2.5;
/// A fall is at least this share of the series' 5-95 % range...
pub const MIN_FALL_SHARE: f64 = 0.25;
/// ...and at least this many robust deviations of the step-to-step changes.
pub const MIN_FALL_SCALES: f64 = 8.0;
/// A step is part of a fall when it drops by more than this many robust deviations.
pub const STEEP_SCALES: f64 = 3.0;
/// At most this many points enter the autocorrelation (O(n²/3)).
const MAX_ACF_POINTS: usize = 2048;

/// The cycles found in a series.
#[derive(Debug, Clone, PartialEq)]
pub struct Cycles {
    /// Dominant period, s.
    pub period_s: f64,
    /// Autocorrelation of the detrended series at that period (`None` when the cycles were
    /// found by their falls).
    pub correlation: Option<f64>,
    /// One point per cycle: the lowest bucket minimum within half a period either side (`y`,
    /// `min` and `max` are that minimum; `t` is its bucket's time).
    pub floors: Vec<Point>,
}

/// The dominant period (s) of `points`, its autocorrelation and the standard deviation of the
/// detrended series, if the series is plainly cyclic. Points are bucket means on a regular
/// grid (gaps are ignored).
fn dominant_period(points: &[Point]) -> Option<(f64, f64, f64)> {
    let pts = thin(points, MAX_ACF_POINTS);
    let n = pts.len();
    if n < 4 * MIN_CYCLES {
        return None;
    }
    let (b, a) = ols(&pts)?;
    let x: Vec<f64> = pts.iter().map(|p| p.y - (a + b * p.t)).collect();
    let energy: f64 = x.iter().map(|v| v * v).sum();
    if energy <= 0.0 || !energy.is_finite() {
        return None;
    }
    let step = (pts[n - 1].t - pts[0].t) / (n - 1) as f64;
    if step <= 0.0 {
        return None;
    }
    let acf = |k: usize| x.iter().zip(&x[k..]).map(|(u, v)| u * v).sum::<f64>() / energy;
    let max_lag = n / MIN_CYCLES;
    let mut lag = 1;
    // Past the first zero crossing: before it the series only resembles itself shifted a little.
    while lag <= max_lag && acf(lag) > 0.0 {
        lag += 1;
    }
    let mut best: Option<(usize, f64)> = None;
    let mut prev = f64::NEG_INFINITY;
    let mut rising = false;
    for k in lag..=max_lag {
        let r = acf(k);
        // The first local maximum that clears the bar is the period (later ones are its
        // multiples, or weaker).
        if rising && r < prev {
            if let Some((_, br)) = best {
                if br >= MIN_PEAK_CORRELATION {
                    break;
                }
            }
        }
        if r >= prev {
            rising = true;
        }
        if best.is_none_or(|(_, br)| r > br) {
            best = Some((k, r));
        }
        prev = r;
    }
    let (k, r) = best?;
    let sd = (energy / n as f64).sqrt();
    (r >= MIN_PEAK_CORRELATION && k >= 2).then_some((k as f64 * step, r, sd))
}

/// The cycle floors of `points`: for each point whose bucket minimum is the lowest within half
/// a period on each side, that minimum. Near either end of the series the window is cut
/// short; a floor there must also lie at least `fall` under the highest point before it (a
/// collection just happened), so the first point of a run that starts mid-rise is not taken
/// for a floor while a run that stops just after a collection keeps its last floor.
/// Neighbouring floors closer than half a period (ties) keep the lower one.
fn floors(points: &[Point], period_s: f64, fall: f64) -> Vec<Point> {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return Vec::new();
    };
    let half = period_s / 2.0;
    let mut out: Vec<Point> = Vec::new();
    let mut lo = 0;
    let mut hi = 0;
    for (i, p) in points.iter().enumerate() {
        while points[lo].t < p.t - half {
            lo += 1;
        }
        while hi + 1 < points.len() && points[hi + 1].t <= p.t + half {
            hi += 1;
        }
        if !points[lo..=hi].iter().all(|q| q.min >= p.min) {
            continue;
        }
        let clipped = p.t - half < first.t || p.t + half > last.t;
        if clipped {
            let before = points[lo..i]
                .iter()
                .map(|q| q.max)
                .fold(f64::NEG_INFINITY, f64::max);
            if before - p.min < fall {
                continue;
            }
        }
        let floor = Point {
            t: p.t,
            y: p.min,
            min: p.min,
            max: p.min,
        };
        match out.last_mut() {
            Some(prev) if p.t - prev.t < half => {
                if floor.y < prev.y {
                    *prev = floor;
                }
            }
            _ => out.push(floor),
        }
    }
    out
}

/// The cycles of `points` (bucketed, time-ordered), when the series is plainly cyclic and
/// floors are found all along it: by the autocorrelation's period when the cycles are regular,
/// else by the falls themselves (collections at irregular times, or too few cycles for the
/// autocorrelation to stand out).
pub fn detect(points: &[Point]) -> Option<Cycles> {
    by_autocorrelation(points).or_else(|| by_falls(points))
}

/// Whether `floors` cover the run: enough of them, none more than
/// [`MAX_GAP_PERIODS`] periods apart or from either end.
fn covered(floors: &[Point], points: &[Point], period_s: f64) -> bool {
    let (Some(start), Some(end)) = (points.first(), points.last()) else {
        return false;
    };
    let max_gap = MAX_GAP_PERIODS * period_s;
    floors.len() >= MIN_CYCLES
        && floors.first().is_some_and(|f| f.t - start.t <= max_gap)
        && floors.last().is_some_and(|f| end.t - f.t <= max_gap)
        && floors.windows(2).all(|w| w[1].t - w[0].t <= max_gap)
}

fn by_autocorrelation(points: &[Point]) -> Option<Cycles> {
    let (period_s, correlation, sd) = dominant_period(points)?;
    let floors = floors(points, period_s, sd);
    // A cycle ends in a fall: the floor lies well under what came just before it. A staircase
    // (detrended, also periodic) has no falls and is judged as a whole.
    let mut falls: Vec<f64> = floors
        .iter()
        .map(|f| {
            let lo = points.partition_point(|p| p.t < f.t - period_s / 2.0);
            let hi = points.partition_point(|p| p.t <= f.t);
            points[lo..hi]
                .iter()
                .map(|p| p.max)
                .fold(f64::NEG_INFINITY, f64::max)
                - f.y
        })
        .collect();
    falls.sort_by(f64::total_cmp);
    if falls.get(falls.len() / 2).is_none_or(|&median| median < sd) {
        return None;
    }
    covered(&floors, points, period_s).then_some(Cycles {
        period_s,
        correlation: Some(correlation),
        floors,
    })
}

/// The `q` quantile (0..1) of `values` (reordered).
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let k = ((values.len() - 1) as f64 * q).round() as usize;
    Some(*values.select_nth_unstable_by(k, f64::total_cmp).1)
}

/// Cycles found by their falls: runs of steep decline (each step below
/// -[`STEEP_SCALES`] robust deviations of the step-to-step changes) that together fall by at
/// least [`MIN_FALL_SHARE`] of the series' 5-95 % range and [`MIN_FALL_SCALES`] deviations. A
/// floor is the lowest bucket minimum between one fall and the next (or the end): the level a
/// collection left. The part before the first fall is not a whole cycle and gives no floor.
fn by_falls(points: &[Point]) -> Option<Cycles> {
    if points.len() < 4 * MIN_CYCLES {
        return None;
    }
    let steps: Vec<f64> = points.windows(2).map(|w| w[1].y - w[0].y).collect();
    let mut scratch = steps.clone();
    let median = quantile(&mut scratch, 0.5)?;
    let mut dev: Vec<f64> = steps.iter().map(|d| (d - median).abs()).collect();
    let scale = 1.4826 * quantile(&mut dev, 0.5)?;
    let mut ys: Vec<f64> = points.iter().map(|p| p.y).collect();
    let spread = quantile(&mut ys, 0.95)? - quantile(&mut ys, 0.05)?;
    let limit = (MIN_FALL_SCALES * scale).max(MIN_FALL_SHARE * spread);
    if !(limit > 0.0 && limit.is_finite()) {
        return None;
    }
    let steep = (STEEP_SCALES * scale).min(limit / 4.0);
    // Index of the first bucket after each fall.
    let mut after_falls: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < steps.len() {
        if steps[i] < -steep {
            let mut total = 0.0;
            let mut j = i;
            while j < steps.len() && steps[j] < -steep {
                total += steps[j];
                j += 1;
            }
            if total <= -limit {
                after_falls.push(j);
            }
            i = j;
        } else {
            i += 1;
        }
    }
    let mut floors = Vec::with_capacity(after_falls.len());
    for (k, &a) in after_falls.iter().enumerate() {
        let b = after_falls.get(k + 1).map_or(points.len(), |&next| next);
        let lowest = points[a..b].iter().min_by(|p, q| p.min.total_cmp(&q.min))?;
        floors.push(Point {
            t: lowest.t,
            y: lowest.min,
            min: lowest.min,
            max: lowest.min,
        });
    }
    let mut gaps: Vec<f64> = after_falls
        .windows(2)
        .map(|w| points[w[1]].t - points[w[0]].t)
        .collect();
    let period_s = quantile(&mut gaps, 0.5)?;
    covered(&floors, points, period_s).then_some(Cycles {
        period_s,
        correlation: None,
        floors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize, f: impl Fn(f64) -> f64) -> Vec<Point> {
        (0..n)
            .map(|i| {
                let t = i as f64 * 10.0;
                let y = f(t);
                Point {
                    t,
                    y,
                    min: y,
                    max: y,
                }
            })
            .collect()
    }

    #[test]
    fn a_sawtooth_has_its_period_and_one_floor_per_cycle() {
        // 600 s cycles over 6 h, ending mid-rise, floor rising 15 MB/h.
        let pts = series(2200, |t| {
            300.0 + 15.0 * t / 3600.0 + 100.0 * (t / 600.0).fract()
        });
        let c = detect(&pts).expect("cyclic");
        assert!((c.period_s - 600.0).abs() <= 20.0, "{c:?}");
        let span = pts.last().map_or(0.0, |p| p.t);
        let expected = (span / 600.0) as usize;
        assert!(
            c.floors.len() + 2 >= expected && c.floors.len() <= expected + 1,
            "{} floors for {expected} cycles",
            c.floors.len()
        );
        // Every floor is a trough: just after a drop, at the rising floor's level.
        for f in &c.floors {
            assert!((f.y - (300.0 + 15.0 * f.t / 3600.0)).abs() < 1.0, "{f:?}");
        }
    }

    #[test]
    fn a_staircase_has_no_falls_and_is_not_cycles() {
        let pts = series(2000, |t| 300.0 + 50.0 * (t / 1800.0).floor());
        assert_eq!(detect(&pts), None);
    }

    #[test]
    fn noise_a_line_and_a_bend_are_not_cycles() {
        let mut s = 12345u64;
        let mut noise = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        };
        let flat: Vec<Point> = series(1000, |_| 0.0)
            .into_iter()
            .map(|mut p| {
                p.y = 300.0 + 3.0 * noise();
                p.min = p.y;
                p
            })
            .collect();
        assert_eq!(detect(&flat), None);
        assert_eq!(detect(&series(1000, |t| 300.0 + t / 100.0)), None);
        let bend = series(1000, |t| 300.0 + (t - 7500.0).max(0.0) / 50.0);
        assert_eq!(detect(&bend), None);
    }
}
