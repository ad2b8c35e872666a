//! The fixed-rate clock: sample k is due at `start + k × interval`, whatever the previous
//! samples cost, so 72 h at 60 s gives 4,320 samples and not fewer through drift. A tick
//! whose due time has passed by a whole interval (the machine stalled) is skipped and counted
//! as missed, never bunched up.

use std::time::Duration;

/// When samples are due and when the run ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Time between two due ticks.
    pub interval: Duration,
    /// Ticks due at or after this offset from the start are not taken.
    pub duration: Option<Duration>,
}

impl Schedule {
    /// Offset from the start at which tick `k` is due.
    pub fn due(&self, k: u64) -> Duration {
        let nanos = self.interval.as_nanos().saturating_mul(u128::from(k));
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// The tick to take after tick `k` when `elapsed` has passed since the start, and how
    /// many ticks are skipped to get there: the next tick is taken late rather than skipped
    /// while its successor is not yet due.
    pub fn next_after(&self, k: u64, elapsed: Duration) -> (u64, u64) {
        let interval = self.interval.as_nanos().max(1);
        let current = u64::try_from(elapsed.as_nanos() / interval).unwrap_or(u64::MAX);
        let next = current.max(k + 1);
        (next, next - k - 1)
    }

    /// True when tick `k` falls inside the run's duration.
    pub fn within(&self, k: u64) -> bool {
        self.duration.is_none_or(|d| self.due(k) < d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(interval_ms: u64, duration_ms: Option<u64>) -> Schedule {
        Schedule {
            interval: Duration::from_millis(interval_ms),
            duration: duration_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn thirty_seconds_at_one_second_is_thirty_ticks() {
        let sch = s(1000, Some(30_000));
        let taken = (0..100).take_while(|&k| sch.within(k)).count();
        assert_eq!(taken, 30);
        assert_eq!(sch.due(29), Duration::from_secs(29));
    }

    #[test]
    fn late_ticks_are_taken_stalled_ticks_are_missed() {
        let sch = s(1000, None);
        // On time or a little late: the next tick, nothing missed.
        assert_eq!(sch.next_after(0, Duration::from_millis(10)), (1, 0));
        assert_eq!(sch.next_after(0, Duration::from_millis(1900)), (1, 0));
        // Stalled for 3.5 intervals after tick 0: ticks 1 and 2 are gone, 3 is taken now.
        assert_eq!(sch.next_after(0, Duration::from_millis(3500)), (3, 2));
        // Sub-second intervals work the same.
        assert_eq!(
            s(100, None).next_after(5, Duration::from_millis(1050)),
            (10, 4)
        );
    }

    #[test]
    fn no_drift_over_72_hours() {
        let sch = s(60_000, Some(72 * 3600 * 1000));
        assert_eq!((0..10_000).take_while(|&k| sch.within(k)).count(), 4320);
        assert_eq!(sch.due(4319), Duration::from_secs(4319 * 60));
    }
}
