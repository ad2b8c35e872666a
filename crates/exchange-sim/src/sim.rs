//! The simulated exchange's state (the book, limiters, keys, nonces, the dead-man timer, the
//! clock and the counters) and the request and answer the endpoints exchange: no I/O here.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::book::{Book, Venue};
use crate::conditions::Limiter;

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
