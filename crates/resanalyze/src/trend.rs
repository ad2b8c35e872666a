//! The robust trend verdict: Theil-Sen slope with Sen's confidence interval, a Mann-Kendall
//! trend test, an optional warm-up cut, and a single change point (two-segment least squares)
//! so that a warm-up that plateaus is judged on its plateau and a late leak on the window where
//! it holds.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal};

use crate::timeline::{Point, thin};

/// At most this many points enter the O(n²) Theil-Sen / Mann-Kendall estimators.
pub const MAX_TREND_POINTS: usize = 600;

/// Fewest cycle floors for a verdict on them: with 4, a rise in every step gives Mann-Kendall
/// p = 0.04; with 3 no trend can be significant.
pub const MIN_FLOORS: usize = 4;

/// Requirements before a verdict is given.
#[derive(Debug, Clone, Copy)]
pub struct TrendConfig {
    /// Slope (units per hour) above which a significant rise is a leak.
    pub threshold_per_hour: f64,
    /// Seconds skipped at the start.
    pub warmup_s: f64,
    /// Fewest samples (raw) for a verdict.
    pub min_samples: u64,
    /// Shortest span (s) for a verdict.
    pub min_span_s: f64,
    /// Significance level of the Mann-Kendall test and the confidence interval.
    pub alpha: f64,
    /// Noise floor: a rise is a leak only when it adds at least this much (units) over the
    /// judged window. RSS moves in allocator and page steps; a short run must not extrapolate
    /// one 128 kB step into a leak.
    pub min_growth: f64,
}

/// The verdict on one series.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendVerdict {
    /// `leak`, `no_leak` or `insufficient_data`.
    pub verdict: String,
    /// `rising`, `flat`, `falling` or `unknown`.
    pub trend: String,
    /// Method name.
    pub method: String,
    /// Theil-Sen slope over the judged window, units per hour.
    pub slope_per_hour: Option<f64>,
    /// Lower bound of the slope's confidence interval.
    pub ci_low_per_hour: Option<f64>,
    /// Upper bound.
    pub ci_high_per_hour: Option<f64>,
    /// Confidence level of the interval.
    pub confidence: f64,
    /// One-sided Mann-Kendall p-value for an increasing trend.
    pub p_value: Option<f64>,
    /// Ordinary least-squares slope over the whole run (the seed's rule), per hour.
    pub ols_per_hour: Option<f64>,
    /// Start of the judged window, s since the first sample.
    pub window_start_s: Option<f64>,
    /// End of the judged window, s since the first sample.
    pub window_end_s: Option<f64>,
    /// Why the window starts where it does (`whole_run`, `warmup`, `change_point`).
    pub window_reason: String,
    /// Threshold used, per hour.
    pub threshold_per_hour: f64,
    /// The rate a rise had to beat on the judged window, per hour: the threshold, or higher
    /// when the window is so short that the threshold's rise would stay under the noise floor
    /// (`min_growth` / window length). Comparing `slope_per_hour` with it gives the verdict's
    /// rate test exactly.
    pub effective_threshold_per_hour: f64,
    /// What the slope was fitted to: `whole_series` (every bucket) or `cycle_floor` (one
    /// floor point per detected cycle, e.g. after each garbage collection).
    pub basis: String,
    /// Period of the detected cycles, s (with `cycle_floor`).
    pub cycle_period_s: Option<f64>,
    /// Points the slope was fitted to (floor points with `cycle_floor`).
    pub points_judged: usize,
    /// Rise over the judged window at the judged slope (units).
    pub growth: Option<f64>,
    /// Which rule decided: `insufficient_data`, `not_significant`, `falling`,
    /// `under_threshold`, `noise_floor` or `leak`.
    pub decided_by: String,
    /// Human-readable reason.
    pub reason: String,
}

impl TrendVerdict {
    /// The judged method in one word: `change_point` when a change point chose the window,
    /// else `floor` (cycle floors) or `whole` (every bucket).
    pub fn method_short(&self) -> &'static str {
        if self.window_reason == "change_point" {
            "change_point"
        } else if self.basis == "cycle_floor" {
            "floor"
        } else {
            "whole"
        }
    }
}

/// Ordinary least squares slope (per second) and intercept.
pub fn ols(points: &[Point]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mt = points.iter().map(|p| p.t).sum::<f64>() / n;
    let my = points.iter().map(|p| p.y).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.t - mt).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.t - mt) * (p.y - my)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let b = sxy / sxx;
    Some((b, my - b * mt))
}

fn sse(points: &[Point]) -> f64 {
    match ols(points) {
        Some((b, a)) => points.iter().map(|p| (p.y - a - b * p.t).powi(2)).sum(),
        None => 0.0,
    }
}

/// Order statistics of `values` (what `values[k]` is once sorted) for each `k` of `ks`, in
/// linear time: one selection at the median splits the rest, so the other ranks are selected
/// within one half. Reorders `values`; every `k` must be below `values.len()`.
fn order_statistics<const N: usize>(values: &mut [f64], ks: [usize; N]) -> [f64; N] {
    let mid = values.len() / 2;
    let (left, upper, right) = values.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *upper;
    ks.map(|k| match k.cmp(&mid) {
        std::cmp::Ordering::Equal => upper,
        std::cmp::Ordering::Less => *left.select_nth_unstable_by(k, f64::total_cmp).1,
        std::cmp::Ordering::Greater => *right.select_nth_unstable_by(k - mid - 1, f64::total_cmp).1,
    })
}

/// Theil-Sen slope (per second) with Sen's (1968) distribution-free confidence interval, and
/// the one-sided Mann-Kendall p-value for an increasing trend.
pub fn theil_sen(points: &[Point], alpha: f64) -> Option<(f64, f64, f64, f64)> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let mut slopes = Vec::with_capacity(n * (n - 1) / 2);
    let mut s: i64 = 0;
    for i in 0..n {
        for j in i + 1..n {
            let dt = points[j].t - points[i].t;
            let dy = points[j].y - points[i].y;
            if dt > 0.0 {
                slopes.push(dy / dt);
            }
            s += if dy > 0.0 {
                1
            } else if dy < 0.0 {
                -1
            } else {
                0
            };
        }
    }
    if slopes.is_empty() {
        return None;
    }
    let m = slopes.len();
    let nf = n as f64;
    let var_s = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let normal = Normal::standard();
    let z_ci = normal.inverse_cdf(1.0 - alpha / 2.0);
    let c = z_ci * var_s.sqrt();
    let lo_idx = (((m as f64 - c) / 2.0).floor().max(0.0) as usize).min(m - 1);
    let hi_idx = (((m as f64 + c) / 2.0).ceil() as usize).min(m - 1);
    // The median, and the ranks of the interval's ends.
    let [below, above, lo, hi] =
        order_statistics(&mut slopes, [(m - 1) / 2, m / 2, lo_idx, hi_idx]);
    let median = (below + above) / 2.0;
    let z = if s > 0 {
        (s as f64 - 1.0) / var_s.sqrt()
    } else if s < 0 {
        (s as f64 + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let p_up = 1.0 - normal.cdf(z);
    Some((median, lo, hi, p_up))
}

/// The best single change point: the split minimising the two-segment least-squares error,
/// with the fraction of the one-line error it removes. Segments keep at least 10 % of points.
pub fn change_point(points: &[Point]) -> Option<(usize, f64)> {
    let n = points.len();
    if n < 20 {
        return None;
    }
    let whole = sse(points);
    if whole <= 0.0 {
        return None;
    }
    let min_seg = (n / 10).max(5);
    let mut best: Option<(usize, f64)> = None;
    // Prefix sums make each split O(1).
    let mut pre = vec![[0.0f64; 5]; n + 1];
    for (i, p) in points.iter().enumerate() {
        let r = pre[i];
        pre[i + 1] = [
            r[0] + p.t,
            r[1] + p.y,
            r[2] + p.t * p.t,
            r[3] + p.t * p.y,
            r[4] + p.y * p.y,
        ];
    }
    let seg_sse = |a: usize, b: usize| {
        let k = (b - a) as f64;
        let d: Vec<f64> = (0..5).map(|c| pre[b][c] - pre[a][c]).collect();
        let sxx = d[2] - d[0] * d[0] / k;
        let sxy = d[3] - d[0] * d[1] / k;
        let syy = d[4] - d[1] * d[1] / k;
        if sxx <= 0.0 {
            syy.max(0.0)
        } else {
            (syy - sxy * sxy / sxx).max(0.0)
        }
    };
    for k in min_seg..=n - min_seg {
        let e = seg_sse(0, k) + seg_sse(k, n);
        if best.is_none_or(|(_, b)| e < b) {
            best = Some((k, e));
        }
    }
    best.map(|(k, e)| (k, 1.0 - e / whole))
}

/// Judges one bucketed series. `samples` is the raw sample count; `span_s` the raw span.
///
/// When the series is plainly cyclic (see [`crate::cycles`]), the slope is fitted to the cycle
/// floors (the level after each collection), not to every bucket: where a sawtooth stops
/// (peak, trough, mid-rise) then does not tilt the verdict, and a floor that rises under the
/// cycles is still a leak. Otherwise the whole series is judged.
pub fn judge(points: &[Point], samples: u64, span_s: f64, cfg: &TrendConfig) -> TrendVerdict {
    let confidence = 1.0 - cfg.alpha;
    let ols_all = ols(points).map(|(b, _)| b * 3600.0);
    let mut v = TrendVerdict {
        verdict: "insufficient_data".into(),
        trend: "unknown".into(),
        method: "theil_sen+mann_kendall+change_point".into(),
        slope_per_hour: None,
        ci_low_per_hour: None,
        ci_high_per_hour: None,
        confidence,
        p_value: None,
        ols_per_hour: ols_all,
        window_start_s: None,
        window_end_s: None,
        window_reason: "whole_run".into(),
        threshold_per_hour: cfg.threshold_per_hour,
        effective_threshold_per_hour: cfg.threshold_per_hour,
        basis: "whole_series".into(),
        cycle_period_s: None,
        points_judged: 0,
        growth: None,
        decided_by: "insufficient_data".into(),
        reason: String::new(),
    };
    let after_warmup: Vec<Point> = points
        .iter()
        .copied()
        .filter(|p| p.t >= cfg.warmup_s)
        .collect();
    let judged_span =
        after_warmup.last().map_or(0.0, |l| l.t) - after_warmup.first().map_or(0.0, |f| f.t);
    if samples < cfg.min_samples
        || span_s < cfg.min_span_s
        || after_warmup.len() < 10
        || judged_span < cfg.min_span_s / 2.0
    {
        v.reason = format!(
            "{samples} samples over {:.0} s (need at least {} samples over {:.0} s after warm-up)",
            span_s, cfg.min_samples, cfg.min_span_s
        );
        return v;
    }
    if cfg.warmup_s > 0.0 {
        v.window_reason = "warmup".into();
    }
    let pts = match crate::cycles::detect(&after_warmup) {
        Some(c) => {
            v.basis = "cycle_floor".into();
            v.method = "cycle_floor+theil_sen+mann_kendall+change_point".into();
            v.cycle_period_s = Some(c.period_s);
            c.floors
        }
        None => thin(&after_warmup, MAX_TREND_POINTS),
    };
    v.points_judged = pts.len();
    if v.basis == "cycle_floor" && pts.len() < MIN_FLOORS {
        // Three floors cannot show a trend at 5 % (Mann-Kendall's smallest p with n = 3 is
        // 0.15): say so rather than a confident "no leak".
        v.reason = format!(
            "cycles of {} but only {} cycle floors (need {MIN_FLOORS}): run longer",
            human_seconds(v.cycle_period_s.unwrap_or(0.0)),
            pts.len()
        );
        return v;
    }
    let Some(whole) = theil_sen(&pts, cfg.alpha) else {
        v.reason = "no time spread in the samples".into();
        return v;
    };
    let mut window = pts.clone();
    let mut est = whole;
    // A change point that explains most of the one-line error splits the run; the later
    // segment is judged: at its own rate when it rises (a late leak), and as a plateau only
    // when the flat part is long (a third of the run), since one tread of a staircase is flat
    // too.
    if let Some((k, gain)) = change_point(&pts) {
        if gain >= 0.6 {
            let right = pts[k..].to_vec();
            let right_span = right.last().map_or(0.0, |l| l.t) - right.first().map_or(0.0, |f| f.t);
            let total_span = pts.last().map_or(0.0, |l| l.t) - pts.first().map_or(0.0, |f| f.t);
            if let Some(r) = theil_sen(&right, cfg.alpha) {
                let rising = r.0 * 3600.0 > cfg.threshold_per_hour;
                let long_enough = if rising { 0.1 } else { 1.0 / 3.0 };
                if right_span >= long_enough * total_span {
                    window = right;
                    est = r;
                    v.window_reason = "change_point".into();
                }
            }
        }
    }
    let (slope, lo, hi, p) = est;
    let per_h = |x: f64| x * 3600.0;
    v.slope_per_hour = Some(per_h(slope));
    v.ci_low_per_hour = Some(per_h(lo));
    v.ci_high_per_hour = Some(per_h(hi));
    v.p_value = Some(p);
    v.window_start_s = window.first().map(|p| p.t);
    v.window_end_s = window.last().map(|p| p.t);
    let significant_up = p < cfg.alpha && lo > 0.0;
    let significant_down = hi < 0.0;
    v.trend = if significant_up {
        "rising"
    } else if significant_down {
        "falling"
    } else {
        "flat"
    }
    .into();
    let window_h = (v.window_end_s.unwrap_or(0.0) - v.window_start_s.unwrap_or(0.0)) / 3600.0;
    let grown = per_h(slope) * window_h;
    v.growth = Some(grown);
    // Rising by less than `min_growth` over the window is noise: the same as requiring the
    // slope to beat `min_growth / window` as well as the threshold.
    if window_h > 0.0 {
        v.effective_threshold_per_hour = cfg.threshold_per_hour.max(cfg.min_growth / window_h);
    }
    let on = match (v.basis.as_str(), v.cycle_period_s) {
        ("cycle_floor", Some(period)) => format!(
            " on {} cycle floors (period {})",
            pts.len(),
            human_seconds(period)
        ),
        _ => String::new(),
    };
    let window_text = format!(
        "{} window {}..{}",
        v.window_reason,
        human_seconds(v.window_start_s.unwrap_or(0.0)),
        human_seconds(v.window_end_s.unwrap_or(0.0))
    );
    if significant_up && per_h(slope) > cfg.threshold_per_hour && grown < cfg.min_growth {
        v.verdict = "no_leak".into();
        v.decided_by = "noise_floor".into();
        v.reason = format!(
            "rising {:.2}/h{on} but only {:.3} over the {window_text}, under the {:.3} noise floor (--min-growth): the rate would have to exceed {:.2}/h; threshold {:.2}/h",
            per_h(slope),
            grown,
            cfg.min_growth,
            v.effective_threshold_per_hour,
            cfg.threshold_per_hour
        );
    } else if significant_up && per_h(slope) > cfg.threshold_per_hour {
        v.verdict = "leak".into();
        v.decided_by = "leak".into();
        v.reason = format!(
            "rising {:.2}/h (CI {:.2}..{:.2}, p={:.2e}){on} over the {window_text}, above {:.2}/h",
            per_h(slope),
            per_h(lo),
            per_h(hi),
            p,
            cfg.threshold_per_hour
        );
    } else {
        v.verdict = "no_leak".into();
        v.decided_by = if significant_down {
            "falling"
        } else if !significant_up {
            "not_significant"
        } else {
            "under_threshold"
        }
        .into();
        v.reason = format!(
            "{} {:.2}/h (CI {:.2}..{:.2}, p={:.2e}){on} over the {window_text}; threshold {:.2}/h",
            v.trend,
            per_h(slope),
            per_h(lo),
            per_h(hi),
            p,
            cfg.threshold_per_hour
        );
    }
    v
}

/// `90 s`, `12.5 min`, `3.20 h`: a duration for a reason text.
pub fn human_seconds(s: f64) -> String {
    if s.abs() < 120.0 {
        format!("{s:.0} s")
    } else if s.abs() < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.2} h", s / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(min_growth: f64) -> TrendConfig {
        TrendConfig {
            threshold_per_hour: 10.0,
            warmup_s: 0.0,
            min_samples: 10,
            min_span_s: 10.0,
            alpha: 0.05,
            min_growth,
        }
    }

    fn point(t: f64, y: f64) -> Point {
        Point {
            t,
            y,
            min: y,
            max: y,
        }
    }

    /// The demo service's real RSS in a 30 s run: two 0.125 MB allocator steps.
    fn steps() -> Vec<Point> {
        (0..30)
            .map(|i| point(f64::from(i), 8.895 + 0.125 * f64::from(i / 10)))
            .collect()
    }

    #[test]
    fn allocator_steps_in_a_short_run_are_under_the_noise_floor() {
        let with_floor = judge(&steps(), 30, 29.0, &cfg(1.0));
        assert_eq!(with_floor.verdict, "no_leak", "{}", with_floor.reason);
        assert!(
            with_floor.reason.contains("noise floor"),
            "{}",
            with_floor.reason
        );
        let without = judge(&steps(), 30, 29.0, &cfg(0.0));
        assert_eq!(without.verdict, "leak", "{}", without.reason);
    }

    #[test]
    fn order_statistics_are_those_of_the_sorted_slopes() {
        for len in [1usize, 2, 3, 10, 1001, 1002] {
            let mut values: Vec<f64> = (0..len)
                .map(|i| ((i * 7919) % 1009) as f64 - 500.0)
                .collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let ks = [0, len / 3, (len - 1) / 2, len / 2, len - 1];
            assert_eq!(
                order_statistics(&mut values, ks),
                ks.map(|k| sorted[k]),
                "len {len}"
            );
        }
    }

    #[test]
    fn a_real_leak_clears_the_floor() {
        // 20 MB/min, as the demo's leak fault.
        let pts: Vec<Point> = (0..30)
            .map(|i| point(f64::from(i), 10.0 + f64::from(i) / 3.0))
            .collect();
        assert_eq!(judge(&pts, 30, 29.0, &cfg(1.0)).verdict, "leak");
    }
}
