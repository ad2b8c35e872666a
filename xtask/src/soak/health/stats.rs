//! The health poller's figures: availability from the first healthy answer, the startup time,
//! outages, the longest silence (the hang measure) and latency quantiles.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::Poll;

/// What the poller saw.
#[derive(Debug, Clone, Default)]
pub struct HealthStats {
    /// Every poll made, startup included.
    pub polls_total: u64,
    /// Seconds from the start of polling to the first healthy answer.
    pub startup_s: Option<f64>,
    /// Polls from the first healthy answer on (the availability's denominator).
    pub polls: u64,
    /// Of those, the ones answered 2xx.
    pub up: u64,
    /// Longest run of failed polls after startup, seconds (first failure to next success).
    pub longest_outage_s: f64,
    /// Longest time without any HTTP answer after startup, seconds (the hang measure).
    pub longest_silence_s: f64,
    /// Failed polls after startup by what was seen (`HTTP 503`, `timeout`), for the verdict.
    pub failures: BTreeMap<String, u64>,
    /// What the startup polls saw before the first healthy answer.
    pub startup_failures: BTreeMap<String, u64>,
    /// Latencies of answered polls, milliseconds.
    latencies_ms: Vec<f32>,
    /// What the failed polls since the last healthy answer saw.
    trailing: Vec<String>,
    started: Option<Instant>,
    outage_since: Option<Instant>,
    last_answer: Option<Instant>,
}

impl HealthStats {
    /// Figures from polling started at `now`.
    pub(super) fn new(now: Instant) -> Self {
        HealthStats {
            started: Some(now),
            ..HealthStats::default()
        }
    }

    /// Availability in percent from the first healthy answer; `None` before it.
    pub fn availability_percent(&self) -> Option<f64> {
        (self.startup_s.is_some() && self.polls > 0)
            .then(|| self.up as f64 * 100.0 / self.polls as f64)
    }

    /// The `q` quantile (0..=1) of answered polls' latency, milliseconds.
    pub fn latency_quantile_ms(&self, q: f64) -> Option<f64> {
        if self.latencies_ms.is_empty() {
            return None;
        }
        let mut v = self.latencies_ms.clone();
        v.sort_by(f32::total_cmp);
        let i = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        v.get(i).map(|x| f64::from(*x))
    }

    /// Time without any HTTP answer so far, once the service had answered healthy.
    pub fn silent_for(&self, now: Instant) -> Option<Duration> {
        self.startup_s?;
        self.last_answer.map(|t| now.saturating_duration_since(t))
    }

    /// Counts one poll answered (or not) at `now`.
    pub(super) fn record(&mut self, poll: &Poll, now: Instant) {
        self.polls_total += 1;
        if let Some(l) = poll.latency {
            self.latencies_ms.push(l.as_secs_f32() * 1000.0);
        }
        if self.startup_s.is_none() {
            if poll.healthy() {
                let since = self.started.unwrap_or(now);
                self.startup_s = Some(now.saturating_duration_since(since).as_secs_f64());
            } else {
                *self.startup_failures.entry(poll.label()).or_default() += 1;
                return;
            }
        }
        self.polls += 1;
        if poll.status.is_some() {
            // An answer ends a silence.
            if let Some(silence) = self.silent_for(now) {
                self.longest_silence_s = self.longest_silence_s.max(silence.as_secs_f64());
            }
            self.last_answer = Some(now);
        }
        if poll.healthy() {
            self.up += 1;
            self.trailing.clear();
            if let Some(since) = self.outage_since.take() {
                self.longest_outage_s = self
                    .longest_outage_s
                    .max(now.saturating_duration_since(since).as_secs_f64());
            }
        } else {
            *self.failures.entry(poll.label()).or_default() += 1;
            self.trailing.push(poll.label());
            self.outage_since.get_or_insert(now);
        }
    }

    /// Takes back the failed polls since the last healthy answer: when the service ended on
    /// its own, the outage at the end is its death, which the Crashes row judges.
    pub fn forgive_trailing_failures(&mut self) {
        for label in self.trailing.drain(..) {
            self.polls -= 1;
            if let Some(n) = self.failures.get_mut(&label) {
                *n -= 1;
                if *n == 0 {
                    self.failures.remove(&label);
                }
            }
        }
        self.outage_since = None;
        self.last_answer = None;
    }

    /// Closes an outage or silence still in progress at the end of the run.
    pub fn finish(&mut self, now: Instant) {
        if let Some(since) = self.outage_since.take() {
            self.longest_outage_s = self
                .longest_outage_s
                .max(now.saturating_duration_since(since).as_secs_f64());
        }
        if let Some(silence) = self.silent_for(now) {
            self.longest_silence_s = self.longest_silence_s.max(silence.as_secs_f64());
        }
    }

    /// `HTTP 503 ×12, timeout ×3`: what the failed polls saw, most frequent first.
    pub fn failures_text(map: &BTreeMap<String, u64>) -> String {
        let mut v: Vec<(&String, &u64)> = map.iter().collect();
        v.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        v.iter()
            .map(|(k, n)| format!("{k} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16) -> Poll {
        Poll {
            status: Some(status),
            latency: Some(Duration::from_millis(3)),
            error: None,
        }
    }

    fn refused() -> Poll {
        Poll {
            status: None,
            latency: None,
            error: Some("connection refused".into()),
        }
    }

    #[test]
    fn availability_counts_from_the_first_healthy_answer() {
        let t0 = Instant::now();
        let mut s = HealthStats::new(t0);
        let polls = [refused(), refused(), answer(200), answer(503), answer(503)];
        for (i, p) in polls.iter().enumerate() {
            s.record(p, t0 + Duration::from_secs(i as u64));
        }
        s.record(&answer(200), t0 + Duration::from_secs(5));
        assert_eq!(s.startup_s, Some(2.0));
        assert_eq!((s.polls_total, s.polls, s.up), (6, 4, 2));
        assert_eq!(s.availability_percent(), Some(50.0));
        assert_eq!(s.longest_outage_s, 2.0);
        assert_eq!(
            HealthStats::failures_text(&s.failures),
            "HTTP 503 ×2".to_string()
        );
        assert_eq!(
            HealthStats::failures_text(&s.startup_failures),
            "connection refused ×2"
        );
        // 503 is an answer: no silence.
        assert_eq!(s.longest_silence_s, 1.0);
    }

    #[test]
    fn silence_is_time_without_any_answer_after_startup() {
        let t0 = Instant::now();
        let mut s = HealthStats::new(t0);
        assert_eq!(s.silent_for(t0 + Duration::from_secs(100)), None);
        s.record(&answer(200), t0);
        for i in 1..=4 {
            s.record(&refused(), t0 + Duration::from_secs(i));
        }
        assert_eq!(
            s.silent_for(t0 + Duration::from_secs(5)),
            Some(Duration::from_secs(5))
        );
        s.finish(t0 + Duration::from_secs(6));
        assert_eq!(s.longest_silence_s, 6.0);
        assert_eq!(s.availability_percent(), Some(20.0));
    }

    #[test]
    fn the_outage_of_a_service_that_died_is_forgiven() {
        let t0 = Instant::now();
        let mut s = HealthStats::new(t0);
        s.record(&answer(200), t0);
        s.record(&answer(503), t0 + Duration::from_secs(1));
        s.record(&answer(200), t0 + Duration::from_secs(2));
        s.record(&refused(), t0 + Duration::from_secs(3));
        s.record(&refused(), t0 + Duration::from_secs(4));
        s.forgive_trailing_failures();
        s.finish(t0 + Duration::from_secs(5));
        assert_eq!((s.polls, s.up), (3, 2));
        assert_eq!(HealthStats::failures_text(&s.failures), "HTTP 503 ×1");
        assert_eq!(s.longest_outage_s, 1.0);
        assert_eq!(s.longest_silence_s, 1.0);
    }

    #[test]
    fn never_healthy_has_no_availability() {
        let t0 = Instant::now();
        let mut s = HealthStats::new(t0);
        s.record(&answer(403), t0);
        assert_eq!(s.availability_percent(), None);
        assert_eq!(
            HealthStats::failures_text(&s.startup_failures),
            "HTTP 403 ×1"
        );
    }
}
