//! What the simulator does to requests besides answering them: rate limits (fixed one-second
//! windows, as Bybit reports them in `X-Bapi-Limit*` headers) and injected faults.

use std::str::FromStr;
use std::time::Duration;

/// A fixed-window request limiter.
#[derive(Debug, Clone)]
pub struct Limiter {
    per_window: u32,
    window_ms: i64,
    start_ms: i64,
    used: u32,
}

/// The limiter's verdict on one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitStatus {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// The window's size.
    pub limit: u32,
    /// Requests left in the window after this one.
    pub remaining: u32,
    /// When the window resets, Unix ms.
    pub reset_ms: i64,
}

impl Limiter {
    /// `per_window` requests per `window`; 0 means unlimited.
    pub fn new(per_window: u32, window: Duration) -> Self {
        Limiter {
            per_window,
            window_ms: window.as_millis().max(1) as i64,
            start_ms: i64::MIN / 2,
            used: 0,
        }
    }

    /// Counts one request at `now_ms`.
    pub fn check(&mut self, now_ms: i64) -> LimitStatus {
        if self.per_window == 0 {
            return LimitStatus {
                allowed: true,
                limit: 0,
                remaining: u32::MAX,
                reset_ms: now_ms,
            };
        }
        if now_ms >= self.start_ms + self.window_ms {
            self.start_ms = now_ms;
            self.used = 0;
        }
        let allowed = self.used < self.per_window;
        if allowed {
            self.used += 1;
        }
        LimitStatus {
            allowed,
            limit: self.per_window,
            remaining: self.per_window - self.used,
            reset_ms: self.start_ms + self.window_ms,
        }
    }
}

/// The kinds of fault the simulator injects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Apply the request, then answer late (after the client's timeout).
    Timeout,
    /// HTTP 502 without applying the request.
    Http5xx,
    /// HTTP 429 without applying the request.
    Http429,
    /// Never answer, without applying the request.
    Drop,
    /// In a batch cancel, fail every other item with a transient error.
    PartialBatch,
}

/// A fault that fires on every `every`-th private request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// What happens.
    pub kind: FaultKind,
    /// Period, in private requests.
    pub every: u64,
}

impl Fault {
    /// True for the `n`-th (1-based) private request.
    pub fn fires(&self, n: u64) -> bool {
        self.every > 0 && n % self.every == 0
    }
}

impl FromStr for Fault {
    type Err = String;

    /// `KIND` or `KIND:EVERY`, KIND one of timeout, 5xx, 429, drop, partial-batch.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, every) = s.split_once(':').unwrap_or((s, "1"));
        let kind = match kind {
            "timeout" => FaultKind::Timeout,
            "5xx" => FaultKind::Http5xx,
            "429" => FaultKind::Http429,
            "drop" => FaultKind::Drop,
            "partial-batch" => FaultKind::PartialBatch,
            _ => {
                return Err(format!(
                    "unknown fault '{kind}': expected timeout, 5xx, 429, drop or partial-batch (with :EVERY)"
                ));
            }
        };
        let every = every
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("fault '{s}': EVERY must be a positive integer"))?;
        Ok(Fault { kind, every })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_allows_n_then_refuses_until_reset() {
        let mut l = Limiter::new(3, Duration::from_secs(1));
        let s: Vec<bool> = (0..4).map(|i| l.check(1000 + i).allowed).collect();
        assert_eq!(s, vec![true, true, true, false]);
        let refused = l.check(1500);
        assert_eq!(
            (refused.allowed, refused.remaining, refused.reset_ms),
            (false, 0, 2000)
        );
        assert!(l.check(2000).allowed, "a new window");
    }

    #[test]
    fn fault_specs() {
        assert_eq!(
            "5xx:3".parse(),
            Ok(Fault {
                kind: FaultKind::Http5xx,
                every: 3
            })
        );
        assert_eq!(
            "drop".parse(),
            Ok(Fault {
                kind: FaultKind::Drop,
                every: 1
            })
        );
        assert!("boom:2".parse::<Fault>().is_err());
        assert!("429:0".parse::<Fault>().is_err());
        let f: Fault = "timeout:4".parse().expect("fault");
        assert!(!f.fires(3) && f.fires(4) && f.fires(8));
    }
}
