//! Kraken nonces that never lock out a bot sharing the API key.
//!
//! Kraken keeps one nonce counter per API key and refuses any request whose nonce is not larger
//! than the last one it accepted (`EAPI:Invalid nonce`). A tool that signs with a finer unit than
//! the bot (microseconds against the bot's milliseconds) jumps the key's counter 1000x ahead of
//! the bot's clock, and the bot can never trade on that key again. So the nonce here is the
//! current Unix time in a chosen unit (milliseconds by default, the most common client
//! convention: `krakenex`, ccxt), strictly increasing within the tool, and never ahead of the
//! clock: when two requests fall in the same tick, the second waits for the next tick instead
//! of counting past the clock.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The unit of a time-based nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum NonceUnit {
    /// Milliseconds since the Unix epoch (`krakenex`, ccxt): the default.
    #[default]
    Ms,
    /// Microseconds since the Unix epoch.
    Us,
    /// Nanoseconds since the Unix epoch.
    Ns,
}

impl NonceUnit {
    /// `ms`, `us` or `ns`, as the flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            NonceUnit::Ms => "ms",
            NonceUnit::Us => "us",
            NonceUnit::Ns => "ns",
        }
    }

    /// The time since the Unix epoch in this unit (0 before the epoch).
    pub fn of(self, since_epoch: Duration) -> u64 {
        let n = match self {
            NonceUnit::Ms => since_epoch.as_millis(),
            NonceUnit::Us => since_epoch.as_micros(),
            NonceUnit::Ns => since_epoch.as_nanos(),
        };
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    fn tick(self) -> Duration {
        match self {
            NonceUnit::Ms => Duration::from_micros(200),
            NonceUnit::Us | NonceUnit::Ns => Duration::from_micros(1),
        }
    }
}

/// Hands out strictly increasing nonces that follow the wall clock in one unit.
#[derive(Debug, Clone)]
pub struct NonceClock {
    unit: NonceUnit,
    last: u64,
}

impl NonceClock {
    /// A clock in `unit`.
    pub fn new(unit: NonceUnit) -> Self {
        NonceClock { unit, last: 0 }
    }

    /// The unit.
    pub fn unit(&self) -> NonceUnit {
        self.unit
    }

    fn now(&self) -> u64 {
        self.unit.of(SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default())
    }

    /// The next nonce: the current time in the unit, larger than every nonce handed out
    /// before. When the clock has not moved on since the last one, waits until it has (at most
    /// one tick), so the key's counter is never pushed ahead of the clock. A clock stepped
    /// backwards is the one case where it counts on from the last nonce instead of waiting.
    pub fn next_nonce(&mut self) -> u64 {
        let mut now = self.now();
        if now <= self.last && self.last - now <= 1 {
            while now <= self.last {
                thread::sleep(self.unit.tick());
                now = self.now();
            }
        }
        self.last = now.max(self.last.saturating_add(1));
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_scale_the_same_instant() {
        let t = Duration::new(1_700_000_000, 123_456_789);
        assert_eq!(NonceUnit::Ms.of(t), 1_700_000_000_123);
        assert_eq!(NonceUnit::Us.of(t), 1_700_000_000_123_456);
        assert_eq!(NonceUnit::Ns.of(t), 1_700_000_000_123_456_789);
    }

    #[test]
    fn nonces_increase_strictly_and_never_run_ahead_of_the_clock() {
        let mut clock = NonceClock::new(NonceUnit::Ms);
        let mut prev = 0;
        for _ in 0..50 {
            let n = clock.next_nonce();
            assert!(n > prev, "{n} after {prev}");
            let wall =
                NonceUnit::Ms.of(SystemTime::now().duration_since(UNIX_EPOCH).expect("clock"));
            assert!(n <= wall, "nonce {n} ahead of the clock {wall}");
            prev = n;
        }
    }
}
