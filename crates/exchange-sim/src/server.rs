//! Serving the simulator over HTTP (tiny_http): one request's faults decided, its endpoint
//! answered; [`start`] runs the worker threads and the dead-man ticker, [`Running`] stops them
//! when dropped.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::book::{Book, SimOrder};
use crate::conditions::{Fault, FaultKind, Limiter};
use crate::sim::{KeyPair, Req, Resp, Sim, Stats, real_now_ms};
use crate::{bybit, kraken};

fn lock<T>(sim: &Mutex<T>) -> MutexGuard<'_, T> {
    sim.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the server does with one request after faults are decided.
enum Plan {
    Answer(Resp),
    AnswerLate(Resp, Duration),
    Hold(Duration),
}

fn plan(sim: &Mutex<Sim>, faults: &[Fault], delay: Duration, req: &Req) -> Plan {
    let mut s = lock(sim);
    s.fire_dead_man();
    *s.stats.by_path.entry(req.path.clone()).or_default() += 1;
    if req.path == "/sim/orders" {
        return Plan::Answer(Resp::json(&json!(s.book.all())));
    }
    if req.path == "/sim/stats" {
        return Plan::Answer(Resp::json(&json!(s.stats)));
    }
    let private = req.path.starts_with("/0/private/")
        || (req.path.starts_with("/v5/") && !req.path.starts_with("/v5/market/"));
    let mut partial = false;
    let mut late = None;
    if private {
        s.stats.private_requests += 1;
        let n = s.stats.private_requests;
        if let Some(f) = faults.iter().find(|f| f.fires(n)) {
            let name = format!("{:?}", f.kind).to_ascii_lowercase();
            *s.stats.faults.entry(name).or_default() += 1;
            match f.kind {
                FaultKind::Http5xx => {
                    return Plan::Answer(Resp::status(502, "<html>502 Bad Gateway</html>"));
                }
                FaultKind::Http429 => return Plan::Answer(Resp::status(429, "Too Many Requests")),
                FaultKind::Drop => return Plan::Hold(delay),
                FaultKind::Timeout => late = Some(delay),
                FaultKind::PartialBatch => partial = true,
            }
        }
    }
    let resp = if req.path.starts_with("/v5/") {
        bybit::handle(&mut s, req, partial)
    } else if req.path.starts_with("/0/") {
        kraken::handle(&mut s, req)
    } else {
        Resp::status(
            404,
            "{\"error\":\"not found: exchange-sim serves /v5/ (Bybit), /0/ (Kraken) and /sim/\"}",
        )
    };
    match late {
        Some(d) => Plan::AnswerLate(resp, d),
        None => Plan::Answer(resp),
    }
}

fn respond(request: tiny_http::Request, resp: Resp) {
    let mut r = tiny_http::Response::from_string(resp.body).with_status_code(resp.status);
    if let Ok(h) = tiny_http::Header::from_bytes("Content-Type", "application/json") {
        r.add_header(h);
    }
    for (k, v) in resp.headers {
        if let Ok(h) = tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()) {
            r.add_header(h);
        }
    }
    let _ = request.respond(r);
}

fn serve_one(mut request: tiny_http::Request, sim: &Mutex<Sim>, faults: &[Fault], delay: Duration) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let mut body = String::new();
    let _ = request.as_reader().take(1 << 20).read_to_string(&mut body);
    let req = Req {
        method: request.method().as_str().to_string(),
        path: path.to_string(),
        query: query.to_string(),
        headers: request
            .headers()
            .iter()
            .map(|h| {
                (
                    h.field.as_str().as_str().to_string(),
                    h.value.as_str().to_string(),
                )
            })
            .collect(),
        body,
    };
    match plan(sim, faults, delay, &req) {
        Plan::Answer(resp) => respond(request, resp),
        Plan::AnswerLate(resp, d) => {
            thread::sleep(d);
            respond(request, resp);
        }
        Plan::Hold(d) => {
            // Take the writer so no answer is ever sent, hold the request, then drop it.
            let mut writer = request.into_writer();
            thread::sleep(d);
            let _ = writer.flush();
        }
    }
}

/// Everything a simulator needs to start.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Seed orders.
    pub orders: Vec<SimOrder>,
    /// Private requests per second per exchange (0: unlimited).
    pub rate_limit: u32,
    /// Faults to inject.
    pub faults: Vec<Fault>,
    /// Lateness of `timeout` faults and hold time of `drop` faults.
    pub fault_delay: Duration,
    /// Clock offset, ms.
    pub skew_ms: i64,
    /// Worker threads.
    pub threads: usize,
    /// Accepted Bybit credentials.
    pub bybit_keys: Option<KeyPair>,
    /// Accepted Kraken credentials: the account's keys (each with its own nonce counter).
    pub kraken_keys: Vec<KeyPair>,
    /// Kraken's nonce window (0: strictly increasing per key, as Kraken's default).
    pub kraken_nonce_window: u64,
    /// Public keys that may only query (the exchanges' read-only API keys).
    pub read_only_keys: Vec<String>,
}

/// A running simulator; dropping it stops the server.
pub struct Running {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The shared state.
    pub sim: Arc<Mutex<Sim>>,
    server: Arc<tiny_http::Server>,
    stopped: Arc<AtomicBool>,
    fired: Arc<Mutex<Vec<usize>>>,
}

impl Running {
    /// A copy of every order with its status.
    pub fn orders(&self) -> Vec<SimOrder> {
        lock(&self.sim).book.all().to_vec()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        lock(&self.sim).stats.clone()
    }

    /// Times Kraken's dead-man switch fired since the last call, with the orders each cancelled.
    pub fn take_dead_man_firings(&self) -> Vec<usize> {
        std::mem::take(&mut *lock(&self.fired))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.server.unblock();
    }
}

/// Starts the server threads and the dead-man ticker; returns at once.
pub fn start(cfg: SimConfig) -> anyhow::Result<Running> {
    let now = real_now_ms().saturating_add(cfg.skew_ms);
    let sim = Arc::new(Mutex::new(Sim {
        book: Book::new(cfg.orders, now),
        bybit_limit: Limiter::new(cfg.rate_limit, Duration::from_secs(1)),
        kraken_limit: Limiter::new(cfg.rate_limit, Duration::from_secs(1)),
        bybit_keys: cfg.bybit_keys,
        kraken_keys: cfg.kraken_keys,
        kraken_nonces: BTreeMap::new(),
        kraken_nonce_window: cfg.kraken_nonce_window,
        read_only_keys: cfg.read_only_keys,
        kraken_deadline_ms: None,
        skew_ms: cfg.skew_ms,
        stats: Stats::default(),
    }));
    let server = tiny_http::Server::http(cfg.listen)
        .map_err(|e| soak_core::exit::environment(format!("--listen {}: {e}", cfg.listen)))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| soak_core::exit::environment("no IP listening address"))?;
    let server = Arc::new(server);
    let faults = Arc::new(cfg.faults);
    for _ in 0..cfg.threads.max(1) {
        let (server, sim, faults) = (Arc::clone(&server), Arc::clone(&sim), Arc::clone(&faults));
        let delay = cfg.fault_delay;
        thread::spawn(move || {
            while let Ok(request) = server.recv() {
                serve_one(request, &sim, &faults, delay);
            }
        });
    }
    let stopped = Arc::new(AtomicBool::new(false));
    let fired = Arc::new(Mutex::new(Vec::new()));
    {
        // Fires Kraken's dead-man switch on time even when no request arrives.
        let (sim, stopped, fired) = (Arc::clone(&sim), Arc::clone(&stopped), Arc::clone(&fired));
        thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                thread::sleep(Duration::from_millis(50));
                let n = lock(&sim).fire_dead_man();
                if n > 0 {
                    lock(&fired).push(n);
                }
            }
        });
    }
    Ok(Running {
        url: format!("http://{addr}"),
        sim,
        server,
        stopped,
        fired,
    })
}
