//! Polls a health URL (seed 002's `/health/live`) with a real HTTP client, reading every answer
//! to its end (a probe that drops the socket with the body unread makes the kernel reset the
//! connection, and servers such as Python's http.server then log tracebacks the soak itself
//! caused). Every poll is one `sample` record in `health.jsonl`.
//!
//! Availability counts from the first healthy answer: the time before it is the service's
//! startup, its own figure, judged against `--startup-grace`. A hang is the endpoint giving no
//! answer at all (time-outs, refused or reset connections) for longer than the heartbeat gap
//! after it once answered; an answer with an error status (503) is an outage, not a hang.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use soak_core::jsonl::JsonlWriter;
use soak_core::record::Timestamp;

/// Most of an answer's body read before it is dropped (health answers are small).
const BODY_LIMIT: u64 = 1 << 20;

/// One poll's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
    /// Time from the request to the end of the body, when the server answered.
    pub latency: Option<Duration>,
    /// Why there was no answer (`connection refused`, `timeout`, ...).
    pub error: Option<String>,
}

impl Poll {
    /// A 2xx answer.
    pub fn healthy(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }

    /// How the outcome is named in the verdict's list of what was seen (`503`, `timeout`).
    fn label(&self) -> String {
        match (self.status, &self.error) {
            (Some(s), _) => format!("HTTP {s}"),
            (None, Some(e)) => e.clone(),
            (None, None) => "no answer".into(),
        }
    }
}

/// `health.jsonl`'s line for one poll.
#[derive(Serialize)]
struct PollRecord<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    tool: &'static str,
    timestamp_utc: String,
    timestamp_unix: f64,
    url: &'a str,
    ok: bool,
    status: Option<u16>,
    latency_ms: Option<f64>,
    error: Option<&'a str>,
}

/// A client that keeps no connection between polls and never fails on an error status.
fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_idle_connections(0)
            .user_agent("soakkit-health/1")
            .build(),
    )
}

/// Polls `url` once, reading the whole answer.
pub fn probe(agent: &ureq::Agent, url: &str) -> Poll {
    let start = Instant::now();
    match agent.get(url).call() {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let mut sink = Vec::new();
            let read = resp
                .body_mut()
                .as_reader()
                .take(BODY_LIMIT)
                .read_to_end(&mut sink);
            Poll {
                status: Some(status),
                latency: Some(start.elapsed()),
                error: read.err().map(|e| format!("body: {e}")),
            }
        }
        Err(e) => Poll {
            status: None,
            latency: None,
            error: Some(error_label(&e)),
        },
    }
}

/// A short, stable name for a failed request.
fn error_label(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "timeout".into(),
        ureq::Error::Io(io) => match io.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
            std::io::ErrorKind::ConnectionReset => "connection reset".into(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timeout".into(),
            k => format!("{k}"),
        },
        ureq::Error::HostNotFound => "host not found".into(),
        other => other.to_string(),
    }
}

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
    fn new(now: Instant) -> Self {
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

    fn record(&mut self, poll: &Poll, now: Instant) {
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

/// A background poller.
pub struct Poller {
    stats: Arc<Mutex<HealthStats>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Poller {
    /// Polls `url` every `every` (each poll given at most `timeout`) until stopped, writing
    /// each poll to `log`.
    pub fn start(url: String, every: Duration, timeout: Duration, log: File) -> Poller {
        let stats = Arc::new(Mutex::new(HealthStats::new(Instant::now())));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&stats), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            let agent = agent(timeout);
            let mut out = JsonlWriter::from_writer(log, "health.jsonl");
            while !st.load(Ordering::SeqCst) {
                let started = Instant::now();
                let at = Timestamp::now();
                let poll = probe(&agent, &url);
                if st.load(Ordering::SeqCst) {
                    // The soak is stopping the service: what it answers now is not an outage.
                    break;
                }
                let _ = out.write(&PollRecord {
                    kind: "sample",
                    tool: "soak",
                    timestamp_utc: at.utc_string(),
                    timestamp_unix: at.unix(),
                    url: &url,
                    ok: poll.healthy(),
                    status: poll.status,
                    latency_ms: poll.latency.map(|l| (l.as_secs_f64() * 1e6).round() / 1e3),
                    error: poll.error.as_deref(),
                });
                if let Ok(mut g) = s.lock() {
                    g.record(&poll, Instant::now());
                }
                let until = started + every;
                while Instant::now() < until && !st.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(25));
                }
            }
        });
        Poller {
            stats,
            stop,
            handle: Some(handle),
        }
    }

    /// The figures so far.
    pub fn snapshot(&self) -> HealthStats {
        self.stats.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Stops polling and returns the final figures; `service_died` forgives the outage at
    /// the end (see [`HealthStats::forgive_trailing_failures`]).
    pub fn finish(mut self, service_died: bool) -> HealthStats {
        self.stop.store(true, Ordering::SeqCst);
        let now = Instant::now();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let mut s = self.snapshot();
        if service_died {
            s.forgive_trailing_failures();
        }
        s.finish(now);
        s
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
