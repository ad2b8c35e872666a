//! The one time axis every chart shares, and "nice" value axes: ticks at round steps,
//! labelled in wall-clock time (UTC) and in time elapsed since the run began.

use chrono::{DateTime, Utc};

/// Maps Unix time onto pixel columns of the plot area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeAxis {
    /// The run's first instant, Unix s.
    pub start: f64,
    /// Its last instant, Unix s (> start).
    pub end: f64,
    /// The plot area's left edge, px.
    pub left: f64,
    /// Its width, px; one column per pixel.
    pub width: f64,
}

/// One tick of the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeTick {
    /// Where, px.
    pub x: f64,
    /// Wall-clock label (UTC).
    pub wall: String,
    /// Elapsed label (`+2 h`, `+15 min`, `+20 s`).
    pub elapsed: String,
}

/// Steps the time ticks are chosen from, s.
const TIME_STEPS: [f64; 22] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
    10800.0, 21600.0, 43200.0, 86400.0, 172800.0, 604800.0, 1209600.0, 2592000.0,
];

impl TimeAxis {
    /// An axis over `[start, end]`; a zero-length run is widened to one second.
    pub fn new(start: f64, end: f64, left: f64, width: f64) -> TimeAxis {
        let end = if end > start { end } else { start + 1.0 };
        TimeAxis {
            start,
            end,
            left,
            width: width.max(1.0),
        }
    }

    /// The run's length, s.
    pub fn span(&self) -> f64 {
        self.end - self.start
    }

    /// Pixel columns of the plot area.
    pub fn columns(&self) -> usize {
        self.width as usize
    }

    /// Seconds one column covers.
    pub fn seconds_per_column(&self) -> f64 {
        self.span() / self.width
    }

    /// The x of `t`, px (outside the plot area when `t` is outside the run).
    pub fn x(&self, t: f64) -> f64 {
        self.left + (t - self.start) / self.span() * self.width
    }

    /// The column `t` falls in, `None` outside the run.
    pub fn column(&self, t: f64) -> Option<usize> {
        if !t.is_finite() || t < self.start || t > self.end {
            return None;
        }
        let c = ((t - self.start) / self.span() * self.width) as usize;
        Some(c.min(self.columns().saturating_sub(1)))
    }

    /// The x of column `c`'s centre, px.
    pub fn column_x(&self, c: usize) -> f64 {
        self.left + c as f64 + 0.5
    }

    /// Ticks at a round elapsed step giving 5 to 10 of them, each labelled with its wall-clock
    /// time and its elapsed time.
    pub fn ticks(&self) -> Vec<TimeTick> {
        let span = self.span();
        let step = TIME_STEPS
            .iter()
            .copied()
            .find(|s| span / s <= 8.0)
            .unwrap_or(span / 8.0);
        let with_seconds = step < 60.0;
        let with_date = span > 86400.0;
        let mut out = Vec::new();
        let mut k = 0.0;
        while k * step <= span + 1e-9 {
            let t = self.start + k * step;
            out.push(TimeTick {
                x: self.x(t),
                wall: wall_clock(t, with_seconds, with_date),
                elapsed: elapsed_label(k * step, step),
            });
            k += 1.0;
        }
        out
    }
}

/// `HH:MM[:SS]` UTC, with the day (`Dec 07 `) on runs longer than a day.
pub fn wall_clock(t: f64, with_seconds: bool, with_date: bool) -> String {
    let Some(dt) = DateTime::<Utc>::from_timestamp_millis((t * 1000.0).round() as i64) else {
        return format!("{t:.0}");
    };
    let fmt = match (with_date, with_seconds) {
        (true, true) => "%b %d %H:%M:%S",
        (true, false) => "%b %d %H:%M",
        (false, true) => "%H:%M:%S",
        (false, false) => "%H:%M",
    };
    dt.format(fmt).to_string()
}

/// A full UTC timestamp for titles and tables.
pub fn utc(t: f64) -> String {
    DateTime::<Utc>::from_timestamp_millis((t * 1000.0).round() as i64).map_or_else(
        || format!("{t:.3}"),
        |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// Elapsed time in the unit the tick step is counted in: hours from a 1 h step, minutes from
/// a 1 min step, seconds below.
pub fn elapsed_label(elapsed: f64, step: f64) -> String {
    if step >= 3600.0 {
        format!("+{} h", trim(elapsed / 3600.0))
    } else if step >= 60.0 {
        format!("+{} min", trim(elapsed / 60.0))
    } else {
        format!("+{} s", trim(elapsed))
    }
}

/// A run's length in words: `25 s`, `12.5 min`, `72.0 h`.
pub fn duration_words(seconds: f64) -> String {
    if seconds >= 7200.0 {
        format!("{:.1} h", seconds / 3600.0)
    } else if seconds >= 120.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{seconds:.0} s")
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A value axis from `lo` to `hi` at a round step (1, 2, 2.5 or 5 × 10^k), 3 to 6 gridlines.
#[derive(Debug, Clone, PartialEq)]
pub struct ValueAxis {
    /// Bottom value.
    pub lo: f64,
    /// Top value.
    pub hi: f64,
    /// Gridline step.
    pub step: f64,
}

impl ValueAxis {
    /// The smallest round axis holding `[min, max]`; `floor_zero` keeps 0 at the bottom when
    /// every value is positive (CPU, counts).
    pub fn fit(min: f64, max: f64, floor_zero: bool) -> ValueAxis {
        let (mut min, mut max) = if min.is_finite() && max.is_finite() {
            (min, max)
        } else {
            (0.0, 1.0)
        };
        if floor_zero && min > 0.0 {
            min = 0.0;
        }
        if max - min < 1e-9 {
            let pad = if max.abs() > 1e-9 {
                max.abs() * 0.05
            } else {
                1.0
            };
            min -= pad;
            max += pad;
            if floor_zero && min < 0.0 && max > 0.0 {
                min = 0.0;
            }
        }
        let raw = (max - min) / 4.0;
        let mag = power_of_ten(raw.log10().floor() as i32);
        let step = [1.0, 2.0, 2.5, 5.0, 10.0]
            .iter()
            .map(|m| m * mag)
            .find(|s| *s >= raw)
            .unwrap_or(10.0 * mag);
        let lo = (min / step).floor() * step;
        let mut hi = (max / step).ceil() * step;
        // Headroom: a line running along the top edge reads as clipped.
        if hi - max < step * 0.05 {
            hi += step;
        }
        ValueAxis { lo, hi, step }
    }

    /// The gridline values, bottom to top.
    pub fn ticks(&self) -> Vec<f64> {
        let n = ((self.hi - self.lo) / self.step).round() as i64;
        (0..=n).map(|i| self.lo + i as f64 * self.step).collect()
    }

    /// A tick's label, with as many decimals as the step needs.
    pub fn label(&self, v: f64) -> String {
        let decimals = (0..6)
            .find(|d| {
                let scaled = self.step * 10f64.powi(*d);
                (scaled - scaled.round()).abs() < 1e-6
            })
            .unwrap_or(6) as usize;
        let s = format!("{v:.decimals$}");
        if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
            s[1..].to_string()
        } else {
            s
        }
    }
}

/// 10^`exp`, exact where f64 can hold it (0.1 is 1/10, not `powf`'s result, which is
/// 0.10000000000000002 with the mingw C library on Windows).
fn power_of_ten(exp: i32) -> f64 {
    if exp >= 0 {
        10f64.powi(exp)
    } else {
        1.0 / 10f64.powi(-exp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_25_second_run_has_ticks_every_5_s_in_seconds() {
        let a = TimeAxis::new(1_796_590_293.0, 1_796_590_318.0, 60.0, 1000.0);
        let t = a.ticks();
        assert_eq!(t.len(), 6);
        assert_eq!(t[1].elapsed, "+5 s");
        assert_eq!(t[0].wall, "20:51:33");
        assert!((t[5].x - 1060.0).abs() < 1e-6);
    }

    #[test]
    fn a_72_hour_run_is_labelled_in_hours_with_dates() {
        let a = TimeAxis::new(
            1_796_590_293.0,
            1_796_590_293.0 + 72.0 * 3600.0,
            0.0,
            1000.0,
        );
        let t = a.ticks();
        assert_eq!(t[1].elapsed, "+12 h");
        assert_eq!(t.last().map(|t| t.elapsed.as_str()), Some("+72 h"));
        assert!(t[0].wall.starts_with("Dec 06 "), "{}", t[0].wall);
    }

    #[test]
    fn columns_cover_the_run_and_nothing_outside() {
        let a = TimeAxis::new(100.0, 200.0, 10.0, 50.0);
        assert_eq!(a.column(100.0), Some(0));
        assert_eq!(a.column(200.0), Some(49));
        assert_eq!(a.column(99.0), None);
        assert_eq!(a.column(f64::NAN), None);
    }

    #[test]
    fn value_axes_are_round() {
        let v = ValueAxis::fit(9.1, 15.98, false);
        assert_eq!((v.lo, v.hi, v.step), (8.0, 18.0, 2.0));
        let full = ValueAxis::fit(8.0, 20.0, true);
        assert_eq!(
            (full.lo, full.hi),
            (0.0, 25.0),
            "headroom above a line at the top"
        );
        assert_eq!(v.label(8.0), "8");
        let c = ValueAxis::fit(0.0, 0.31, true);
        assert_eq!(c.step, 0.1);
        assert_eq!(c.label(0.2), "0.2");
        let p = ValueAxis::fit(0.0, 0.0, true);
        assert!(p.hi > p.lo);
        let q = ValueAxis::fit(0.0, 1.0, true);
        assert_eq!(q.step, 0.25);
        assert_eq!(q.label(0.25), "0.25");
    }
}
