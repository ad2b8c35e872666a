//! `exchange-sim`: a loopback simulator of the Bybit v5 and Kraken spot order endpoints that
//! orphan-cancel uses, for tests and the soak demo.
//!
//! It verifies signatures exactly as the exchanges do (Bybit `X-BAPI-*` HMAC-SHA256 with the
//! receive window; Kraken `API-Sign` HMAC-SHA512 with strictly increasing nonces), keeps a book
//! of orders seeded from a file, paginates Bybit listings with cursors, enforces a rate limit
//! with Bybit's headers and both exchanges' error codes, arms Kraken's cancel-all-after timer,
//! and injects faults on request: late answers, 5xx, 429, dropped requests, partial batch
//! failures and clock skew.
//!
//! Control endpoints (no auth, for tests): `GET /sim/orders` (every order with its status and
//! who cancelled it), `GET /sim/stats` (request counts).
//!
//! - [`book`]: the orders;
//! - [`conditions`]: rate limiter and faults;
//! - [`bybit`], [`kraken`]: the endpoints.
#![deny(unsafe_code)]

pub mod book;
pub mod bybit;
pub mod conditions;
pub mod kraken;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Parser;
use serde_json::{Value, json};
use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, usage};
use soak_core::record::{Record, RecordType};
use soak_core::report::{RecordBody, Report};
use soak_core::signals::Termination;

use book::{Book, SimOrder, Venue};
use conditions::{Fault, FaultKind, Limiter};

/// Command line of `exchange-sim`.
#[derive(Debug, Parser)]
#[command(
    name = "exchange-sim",
    version,
    about = "Serve the Bybit v5 and Kraken order endpoints on loopback, with real signature checks, rate limits and faults",
    after_help = "Examples:
  BYBIT_API_KEY=k BYBIT_API_SECRET=s exchange-sim --orders fixtures/exchange-sim/orders.json
  exchange-sim --rate-limit 10/s --fault 5xx:4 --fault partial-batch:3 --skew 8s

Credentials the simulator accepts come from the same variables the clients use:
BYBIT_API_KEY/BYBIT_API_SECRET and KRAKEN_API_KEY/KRAKEN_API_SECRET (base64 secret).
The first line on stdout is a JSONL event with the listening URL."
)]
pub struct Cli {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Seed orders: a JSON array of {exchange, category, id, client_id, symbol, side, qty,
    /// price, created_ms}.
    #[arg(long, value_name = "FILE")]
    pub orders: Option<PathBuf>,
    /// Private requests allowed per exchange, in whole requests per second (`10/s`, `600/min`,
    /// or a bare number per second; 0: unlimited).
    #[arg(long, default_value = "0", value_name = "RATE", value_parser = parse_rate_limit)]
    pub rate_limit: u32,
    /// Inject a fault on every N-th private request: timeout, 5xx, 429, drop, partial-batch
    /// (`KIND:N`, repeatable).
    #[arg(long = "fault", value_name = "KIND:N")]
    pub faults: Vec<Fault>,
    /// How late a `timeout` fault answers, and how long a `drop` holds the request.
    #[arg(long, default_value = "3s", value_parser = soak_core::units::clap_duration)]
    pub fault_delay: Duration,
    /// Offset of the simulator's clock from the real one (clock-skew fault): a duration, `-` for
    /// a clock behind (`8s`, `-1500ms`), at most one year either way.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, value_parser = parse_skew)]
    pub skew: Option<i64>,
    // `--skew-ms N`, the flag's old spelling: whole milliseconds.
    #[arg(long, hide = true, conflicts_with = "skew", allow_hyphen_values = true, value_parser = parse_skew_ms)]
    #[doc(hidden)]
    pub skew_ms: Option<i64>,
    /// Another Kraken key of the same account, read from the environment variables named
    /// `KEY_VAR:SECRET_VAR` (e.g. a dedicated key for orphan-cancel and the dead-man switch);
    /// each key has its own nonce counter, all share the orders (repeatable).
    #[arg(long = "kraken-key", value_name = "KEY_VAR:SECRET_VAR", value_parser = parse_key_vars)]
    pub kraken_extra_keys: Vec<(String, String)>,
    /// Kraken's per-key "nonce window": a nonce up to this much below the highest one the key
    /// has used is accepted too (0, Kraken's default: strictly increasing).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub kraken_nonce_window: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 4)]
    pub threads: usize,
    /// Where and how the summary is written when the simulator stops (the `listening` and
    /// `dead_man_fired` events are always printed on stdout as they happen, unless --quiet).
    #[command(flatten)]
    pub output: OutputArgs,
}

impl Cli {
    /// The clock skew in milliseconds (`--skew`, or its old spelling `--skew-ms`; 0 without).
    pub fn skew_ms(&self) -> i64 {
        self.skew.or(self.skew_ms).unwrap_or(0)
    }
}

/// One HTTP request, as the handlers see it.
#[derive(Debug, Clone, Default)]
pub struct Req {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Raw query string (no `?`).
    pub query: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Raw body.
    pub body: String,
}

impl Req {
    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP answer.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// JSON body.
    pub body: String,
}

impl Resp {
    /// A 200 with a JSON body.
    pub fn json(v: &Value) -> Self {
        Resp {
            status: 200,
            headers: Vec::new(),
            body: v.to_string(),
        }
    }

    /// Another status with a text body.
    pub fn status(status: u16, body: &str) -> Self {
        Resp {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }
}

/// Counters for `/sim/stats`.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Stats {
    /// Private requests received.
    pub private_requests: u64,
    /// Requests refused by the rate limiter.
    pub rate_limited: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Requests by path.
    pub by_path: BTreeMap<String, u64>,
    /// Requests refused for a bad signature, key, timestamp or nonce.
    pub auth_refused: u64,
}

/// A key pair the simulator accepts.
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// Public key.
    pub key: String,
    /// Secret (Kraken: base64).
    pub secret: String,
}

/// The whole simulated exchange.
#[derive(Debug)]
pub struct Sim {
    /// The orders.
    pub book: Book,
    /// Bybit's rate limiter.
    pub bybit_limit: Limiter,
    /// Kraken's rate limiter.
    pub kraken_limit: Limiter,
    /// Accepted Bybit credentials.
    pub bybit_keys: Option<KeyPair>,
    /// Accepted Kraken credentials: the account's keys.
    pub kraken_keys: Vec<KeyPair>,
    /// Highest nonce each Kraken key has used, by public key.
    pub kraken_nonces: BTreeMap<String, u64>,
    /// Kraken's nonce window (0: strictly increasing per key).
    pub kraken_nonce_window: u64,
    /// Public keys (of either exchange) that may only query, not place or cancel: refused with
    /// the exchange's permission error (Bybit `10005`, Kraken `EGeneral:Permission denied`).
    pub read_only_keys: Vec<String>,
    /// Kraken's cancel-all-after deadline, simulator clock ms.
    pub kraken_deadline_ms: Option<i64>,
    /// Clock offset, ms.
    pub skew_ms: i64,
    /// Counters.
    pub stats: Stats,
}

impl Sim {
    /// True when `key` may only query.
    pub fn is_read_only(&self, key: Option<&str>) -> bool {
        key.is_some_and(|k| self.read_only_keys.iter().any(|r| r == k))
    }

    /// The simulator's clock, Unix ms.
    pub fn now_ms(&self) -> i64 {
        real_now_ms().saturating_add(self.skew_ms)
    }

    /// Fires Kraken's dead-man switch when its deadline passed.
    pub fn fire_dead_man(&mut self) -> usize {
        match self.kraken_deadline_ms {
            Some(d) if self.now_ms() >= d => {
                self.kraken_deadline_ms = None;
                self.book
                    .cancel_where(
                        Venue::Kraken,
                        |_| true,
                        "CancelAllOrdersAfter (timer fired)",
                    )
                    .len()
            }
            _ => 0,
        }
    }
}

/// Real wall-clock Unix ms.
pub fn real_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Longest clock skew `--skew` accepts, either way: one year.
pub const MAX_SKEW_MS: i64 = 366 * 86_400_000;

/// `--skew`: a duration with an optional `-` (a clock behind), in whole milliseconds.
fn parse_skew(s: &str) -> Result<i64, String> {
    let (sign, magnitude) = match s.trim().strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.trim().strip_prefix('+').unwrap_or(s.trim())),
    };
    let d = soak_core::cli::clap_duration(magnitude)?;
    let ms = i64::try_from(d.as_millis()).map_err(|_| too_much_skew(i64::MAX))?;
    within_a_year(sign * ms)
}

/// `--rate-limit`: a count rate (`10/s`, `600/min`) or a bare number per second, which must
/// come to whole requests per second (the simulator counts them in one-second windows).
fn parse_rate_limit(s: &str) -> Result<u32, String> {
    let per_s = match s.trim().parse::<u32>() {
        Ok(n) => return Ok(n),
        Err(_) => soak_core::cli::clap_count_rate(s)?.as_per_second(),
    };
    if per_s.fract() != 0.0 || !(0.0..=f64::from(u32::MAX)).contains(&per_s) {
        return Err(format!(
            "{s:?} is {per_s} requests per second; the simulator limits whole requests per second (e.g. 10/s, 600/min)"
        ));
    }
    Ok(per_s as u32)
}

/// `--skew-ms`: whole milliseconds (the old spelling of `--skew`).
fn parse_skew_ms(s: &str) -> Result<i64, String> {
    let v: i64 = s
        .parse()
        .map_err(|e| format!("{s:?} is not a whole number of milliseconds: {e}"))?;
    within_a_year(v)
}

fn too_much_skew(v: i64) -> String {
    format!(
        "{v} ms is more than a year ({MAX_SKEW_MS} ms) either way: the simulator's clock would leave the range exchanges can answer"
    )
}

fn within_a_year(v: i64) -> Result<i64, String> {
    if v.checked_abs().is_none_or(|a| a > MAX_SKEW_MS) {
        return Err(too_much_skew(v));
    }
    Ok(v)
}

fn parse_key_vars(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((k, v)) if !k.is_empty() && !v.is_empty() && !v.contains(':') => {
            Ok((k.to_string(), v.to_string()))
        }
        _ => Err(format!(
            "{s:?}: expected KEY_VAR:SECRET_VAR, the names of two environment variables"
        )),
    }
}

fn keys_from_env(key: &str, secret: &str) -> Option<KeyPair> {
    Some(KeyPair {
        key: std::env::var(key).ok().filter(|v| !v.is_empty())?,
        secret: std::env::var(secret).ok().filter(|v| !v.is_empty())?,
    })
}

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

/// Loads seed orders.
pub fn load_orders(path: &std::path::Path) -> anyhow::Result<Vec<SimOrder>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| usage(format!("{}:{}: {e}", path.display(), e.line())))
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

/// Runs the simulator until SIGINT/SIGTERM.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let orders = match &cli.orders {
        Some(p) => load_orders(p)?,
        None => Vec::new(),
    };
    let mut kraken_keys: Vec<KeyPair> = keys_from_env("KRAKEN_API_KEY", "KRAKEN_API_SECRET")
        .into_iter()
        .collect();
    for (key_var, secret_var) in &cli.kraken_extra_keys {
        kraken_keys.push(keys_from_env(key_var, secret_var).ok_or_else(|| {
            usage(format!(
                "--kraken-key {key_var}:{secret_var}: both variables must be set and non-empty"
            ))
        })?);
    }
    let term = Termination::install().context("installing signal handlers")?;
    let running = start(SimConfig {
        listen: cli.listen,
        orders,
        rate_limit: cli.rate_limit,
        faults: cli.faults.clone(),
        fault_delay: cli.fault_delay,
        skew_ms: cli.skew_ms(),
        threads: cli.threads,
        bybit_keys: keys_from_env("BYBIT_API_KEY", "BYBIT_API_SECRET"),
        kraken_keys,
        kraken_nonce_window: cli.kraken_nonce_window,
        read_only_keys: Vec::new(),
    })?;
    let started = Record::new(RecordType::Event, "exchange-sim")
        .with("event", "listening")
        .with("url", running.url.as_str())
        .with("orders", running.orders().len())
        .with("rate_limit_per_s", cli.rate_limit);
    let quiet = cli.output.quiet;
    print_event(&started, quiet)?;
    let signal = loop {
        if let Some(sig) = term.sleep(Duration::from_millis(200)) {
            break sig;
        }
        for n in running.take_dead_man_firings() {
            let e = Record::new(RecordType::Event, "exchange-sim")
                .with("event", "dead_man_fired")
                .with("exchange", "kraken")
                .with("cancelled", n);
            // Whoever reads the events may be gone: the simulator keeps serving.
            let _ = print_event(&e, quiet);
        }
    };
    let stats = running.stats();
    let summary = Record::new(RecordType::Summary, "exchange-sim")
        .with("private_requests", stats.private_requests)
        .with("rate_limited", stats.rate_limited)
        .with("auth_refused", stats.auth_refused)
        .with(
            "open_orders",
            running.orders().iter().filter(|o| o.is_open()).count(),
        )
        .with("reason", Termination::name(signal))
        .with("ok", true);
    // SIGTERM is the ordinary way to stop it; SIGINT (Ctrl-C) ends with 130 like every tool.
    let report = Report::new(
        "exchange-sim",
        RecordBody::new(Vec::new(), &[]).summary(summary),
    )
    .exit(ExitCode::from_signal(signal))
    // A simulator checks nothing: its summary goes to a step summary only when asked.
    .summary_only_when_asked();
    // Whoever read the URL may be gone by now: a closed stdout is not an error (`finish`
    // tolerates it).
    report.finish(&cli.output)
}

/// Prints a live event on stdout at once (unless `quiet`): the first carries the URL to
/// connect to.
fn print_event(record: &Record, quiet: bool) -> std::io::Result<()> {
    if quiet {
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", record.to_line())?;
    out.flush()
}
