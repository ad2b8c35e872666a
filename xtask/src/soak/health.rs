//! Polls a health URL (seed 002's `/health/live`) and keeps availability and the longest outage.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the poller saw.
#[derive(Debug, Clone, Default)]
pub struct HealthStats {
    /// Polls made.
    pub polls: u64,
    /// Polls answered 2xx.
    pub up: u64,
    /// Longest run of failed polls, seconds (from the first failure to the next success).
    pub longest_outage_s: f64,
    /// The outage in progress, if any: when it began.
    outage_since: Option<Instant>,
}

impl HealthStats {
    /// Availability in percent (100 when nothing was polled).
    pub fn availability_percent(&self) -> f64 {
        if self.polls == 0 {
            100.0
        } else {
            self.up as f64 * 100.0 / self.polls as f64
        }
    }

    fn record(&mut self, ok: bool, now: Instant) {
        self.polls += 1;
        if ok {
            self.up += 1;
            if let Some(since) = self.outage_since.take() {
                self.longest_outage_s = self.longest_outage_s.max((now - since).as_secs_f64());
            }
        } else if self.outage_since.is_none() {
            self.outage_since = Some(now);
        }
    }

    /// Closes an outage still in progress at the end of the run.
    pub fn finish(&mut self) {
        if let Some(since) = self.outage_since.take() {
            self.longest_outage_s = self.longest_outage_s.max(since.elapsed().as_secs_f64());
        }
    }
}

/// True when `url` (`http://HOST:PORT/PATH`) answers 2xx within `timeout`.
pub fn probe(url: &str, timeout: Duration) -> bool {
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let Ok(addrs) = std::net::ToSocketAddrs::to_socket_addrs(authority) else {
        return false;
    };
    for addr in addrs {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(timeout));
        let _ = s.set_write_timeout(Some(timeout));
        if write!(s, "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n").is_err() {
            return false;
        }
        let mut head = [0u8; 16];
        let n = s.read(&mut head).unwrap_or(0);
        let text = String::from_utf8_lossy(&head[..n]);
        return text.starts_with("HTTP/1.") && text.get(9..10) == Some("2");
    }
    false
}

/// A background poller.
pub struct Poller {
    stats: Arc<Mutex<HealthStats>>,
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Poller {
    /// Polls `url` every `every` until stopped.
    pub fn start(url: String, every: Duration) -> Poller {
        let stats = Arc::new(Mutex::new(HealthStats::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (Arc::clone(&stats), Arc::clone(&stop));
        let handle = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                let ok = probe(&url, Duration::from_secs(2).min(every));
                if let Ok(mut g) = s.lock() {
                    g.record(ok, Instant::now());
                }
                let until = Instant::now() + every;
                while Instant::now() < until && !st.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(50));
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

    /// Stops polling and returns the final figures.
    pub fn finish(mut self) -> HealthStats {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let mut s = self.snapshot();
        s.finish();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_and_longest_outage() {
        let mut s = HealthStats::default();
        let t0 = Instant::now();
        for (i, ok) in [true, false, false, true, true, false, true]
            .iter()
            .enumerate()
        {
            s.record(*ok, t0 + Duration::from_secs(i as u64));
        }
        assert_eq!((s.polls, s.up), (7, 4));
        assert!((s.availability_percent() - 57.142857).abs() < 1e-3);
        assert_eq!(s.longest_outage_s, 2.0);
    }
}
