//! Polls a health URL (seed 002's `/health/live`) with a real HTTP client, reading every answer
//! to its end (a probe that drops the socket with the body unread makes the kernel reset the
//! connection, and servers such as Python's http.server then log tracebacks the soak itself
//! caused). Every poll is one `sample` record in `health.jsonl`.
//!
//! Availability counts from the first healthy answer: the time before it is the service's
//! startup, its own figure, judged against `--startup-grace`. A hang is the endpoint giving no
//! answer at all (time-outs, refused or reset connections) for longer than the heartbeat gap
//! after it once answered; an answer with an error status (503) is an outage, not a hang.

use std::fs::File;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use soak_core::jsonl::JsonlWriter;
use soak_core::record::Timestamp;

mod stats;

pub use stats::HealthStats;

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
