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
//! - [`cli`]: the command line (clap only) and its value parsers;
//! - [`sim`]: the simulated exchange's state, requests and answers (no I/O);
//! - [`book`]: the orders;
//! - [`conditions`]: rate limiter and faults;
//! - [`bybit`], [`kraken`]: the endpoints;
//! - [`server`]: serving it over HTTP ([`start`], [`Running`]);
//! - [`run`](mod@run): the command (events on stdout, the summary at the end).
#![deny(unsafe_code)]

pub mod book;
pub mod bybit;
pub mod cli;
pub mod conditions;
pub mod kraken;
pub mod run;
pub mod server;
pub mod sim;

pub use cli::{Cli, MAX_SKEW_MS};
pub use run::{load_orders, run};
pub use server::{Running, SimConfig, start};
pub use sim::{KeyPair, Req, Resp, Sim, Stats, real_now_ms};
