//! The command line of `exchange-sim` (clap only, with its value parsers: the simulator is
//! in [`crate::server`], the command in [`crate::run()`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use soak_core::cli::OutputArgs;

use crate::conditions::Fault;

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
