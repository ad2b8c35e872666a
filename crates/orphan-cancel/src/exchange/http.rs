//! HTTP transport shared by the exchange clients: one keep-alive agent, timeouts, pacing by the
//! exchange's rate-limit headers or a client-side rate, and retries with exponential backoff
//! and full jitter.

use std::thread;
use std::time::{Duration, Instant};

use rand::Rng;

use super::ExchangeError;

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Body text.
    pub body: String,
    /// Requests left in the current rate-limit window (Bybit `X-Bapi-Limit-Status`).
    pub limit_remaining: Option<i64>,
    /// When the window resets, Unix ms on the exchange's clock (`X-Bapi-Limit-Reset-Timestamp`).
    pub limit_reset_ms: Option<i64>,
    /// `Retry-After`, seconds.
    pub retry_after_s: Option<f64>,
}

/// A transport failure (no HTTP answer).
#[derive(Debug, Clone)]
pub struct NetError(pub String);

/// Retry settings.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Attempts in all (first try included).
    pub attempts: u32,
    /// First delay.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            attempts: 6,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based): full jitter over
    /// `[base/2, min(cap, base * 2^(attempt-1))]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        let hi = exp.min(self.cap);
        let lo = self.base / 2;
        if hi <= lo {
            return hi;
        }
        rand::rng().random_range(lo..=hi)
    }
}

/// What one attempt of a call came to.
pub enum Attempt<T> {
    /// Finished.
    Done(T),
    /// Worth another try; `after` overrides the backoff delay (rate-limit reset).
    Retry {
        /// Why, for the error if attempts run out.
        why: String,
        /// How long to wait, when the exchange said.
        after: Option<Duration>,
    },
    /// Retrying cannot help.
    Fail(ExchangeError),
}

/// Runs `call` until it is done, fails for good, or the attempts run out.
pub fn with_retries<T>(
    backoff: Backoff,
    mut call: impl FnMut(u32) -> Attempt<T>,
) -> Result<T, ExchangeError> {
    let mut last = String::new();
    for attempt in 1..=backoff.attempts.max(1) {
        match call(attempt) {
            Attempt::Done(v) => return Ok(v),
            Attempt::Fail(e) => return Err(e),
            Attempt::Retry { why, after } => {
                last = why;
                if attempt < backoff.attempts {
                    thread::sleep(after.unwrap_or_else(|| backoff.delay(attempt)));
                }
            }
        }
    }
    Err(ExchangeError::GaveUp {
        attempts: backoff.attempts,
        last,
    })
}

/// A keep-alive HTTP client for one base URL, pacing itself.
pub struct Http {
    agent: ureq::Agent,
    base: String,
    min_gap: Option<Duration>,
    next_send: Instant,
    requests: u64,
}

impl Http {
    /// A client for `base` (`https://api.bybit.com`), each request bounded by `timeout`, at most
    /// `max_rate` requests per second when given.
    pub fn new(base: &str, timeout: Duration, max_rate: Option<f64>) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent("orphan-cancel (soak toolkit)")
            .build();
        Http {
            agent: ureq::Agent::new_with_config(config),
            base: base.trim_end_matches('/').to_string(),
            min_gap: max_rate
                .filter(|r| *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            next_send: Instant::now(),
            requests: 0,
        }
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    /// Delays the next request by `wait` (a rate-limit window that is used up).
    pub fn hold(&mut self, wait: Duration) {
        let until = Instant::now() + wait;
        if until > self.next_send {
            self.next_send = until;
        }
    }

    /// Sends one request; `body` makes it a POST with `content_type`.
    pub fn send(
        &mut self,
        path_and_query: &str,
        headers: &[(&str, String)],
        body: Option<(&str, &str)>,
    ) -> Result<Reply, NetError> {
        let now = Instant::now();
        if self.next_send > now {
            thread::sleep(self.next_send - now);
        }
        if let Some(gap) = self.min_gap {
            self.next_send = Instant::now() + gap;
        }
        self.requests += 1;
        let url = format!("{}{}", self.base, path_and_query);
        let result = match body {
            None => {
                let mut req = self.agent.get(&url);
                for (k, v) in headers {
                    req = req.header(*k, v.as_str());
                }
                req.call()
            }
            Some((content_type, text)) => {
                let mut req = self.agent.post(&url).header("Content-Type", content_type);
                for (k, v) in headers {
                    req = req.header(*k, v.as_str());
                }
                req.send(text)
            }
        };
        let mut resp = result.map_err(|e| NetError(e.to_string()))?;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let limit_remaining = header("X-Bapi-Limit-Status").and_then(|v| v.parse().ok());
        let limit_reset_ms = header("X-Bapi-Limit-Reset-Timestamp").and_then(|v| v.parse().ok());
        let retry_after_s = header("Retry-After").and_then(|v| v.parse().ok());
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| NetError(e.to_string()))?;
        Ok(Reply {
            status,
            body,
            limit_remaining,
            limit_reset_ms,
            retry_after_s,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_within_bounds() {
        let b = Backoff {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_millis(800),
        };
        for attempt in 1..10 {
            let d = b.delay(attempt);
            assert!(
                d >= Duration::from_millis(50) && d <= Duration::from_millis(800),
                "{d:?}"
            );
        }
    }

    #[test]
    fn retries_stop_on_success_and_give_up_after_the_last_attempt() {
        let b = Backoff {
            attempts: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        };
        let mut calls = 0;
        let r = with_retries(b, |n| {
            calls += 1;
            if n < 2 {
                Attempt::Retry {
                    why: "busy".into(),
                    after: None,
                }
            } else {
                Attempt::Done(n)
            }
        });
        assert_eq!((r.expect("done"), calls), (2, 2));
        let r: Result<(), _> = with_retries(b, |_| Attempt::Retry {
            why: "503".into(),
            after: None,
        });
        assert!(matches!(r, Err(ExchangeError::GaveUp { attempts: 3, ref last }) if last == "503"));
    }
}
