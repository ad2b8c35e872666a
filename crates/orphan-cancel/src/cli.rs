//! The command line of `orphan-cancel` (clap only: no logic here).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use soak_core::cli::OutputArgs;
use soak_core::units::{Rate, clap_count_rate, clap_duration};

use crate::connect::Venue;
use crate::exchange::nonce::NonceUnit;
use crate::local_state::StateFormat;

/// Command line of `orphan-cancel`.
#[derive(Debug, Parser)]
#[command(
    name = "orphan-cancel",
    version,
    about = "Reconcile a bot's orders with the exchange and cancel what was left behind, safely",
    after_help = "Examples:
  # what differs between the bot's state and Bybit testnet (exit 1 on orphans or ghosts)
  orphan-cancel reconcile --exchange bybit-testnet --state-file active_orders.json
  # the same, offline, against a saved listing, with a Markdown step summary
  orphan-cancel reconcile --exchange file:open_orders.json --state-file active_orders.json --summary-md summary.md
  # dry-run, then cancel only the bot's own orphans, at most 50
  orphan-cancel reconcile --exchange bybit-testnet --state-file s.json | orphan-cancel cancel --exchange bybit-testnet --client-id-prefix BOT_ --max-orders 50
  orphan-cancel cancel --exchange bybit-testnet --state-file s.json --client-id-prefix BOT_ --execute -o cancelled.jsonl
  # the emergency stop, mainnet
  orphan-cancel cancel-all --exchange bybit --category linear --settle-coin USDT --execute --live
  # keep Kraken's dead-man switch armed while the bot (PID 4242) lives
  orphan-cancel dead-man --exchange kraken --timeout 60s --every 20s --pid 4242

Credentials come from BYBIT_API_KEY/BYBIT_API_SECRET or KRAKEN_API_KEY/KRAKEN_API_SECRET, or
--credentials-file (mode 0600, lines key=... and secret=...), never from the command line.

Exit status: 0 clean; 1 orphans/ghosts found, or an order still open after cancelling;
2 bad usage, state file or credentials; 3 exchange unreachable or refused; 130 dead-man
stopped by SIGINT (SIGTERM: 0)."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Where the exchange's orders come from, and how to reach it.
#[derive(Debug, Clone, Args)]
pub struct ExchangeArgs {
    /// `bybit`, `bybit-testnet`, `kraken`, or `file:PATH` (a saved listing; read-only).
    #[arg(long, value_name = "EXCHANGE", value_parser = Venue::parse)]
    pub exchange: Venue,
    /// Override the exchange's REST base URL (a simulator, a regional mirror). Formerly
    /// `--base-url` (still accepted).
    #[arg(long, alias = "base-url", value_name = "URL")]
    pub exchange_url: Option<String>,
    /// Read the key and secret from this file (mode 0600) instead of the environment.
    #[arg(long, value_name = "FILE")]
    pub credentials_file: Option<PathBuf>,
    /// Bybit category: linear, inverse, spot, option.
    #[arg(long, default_value = "linear")]
    pub category: String,
    /// Only this instrument.
    #[arg(long)]
    pub symbol: Option<String>,
    /// Bybit settle coin for linear/inverse listings without --symbol.
    #[arg(long, value_name = "COIN")]
    pub settle_coin: Option<String>,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = clap_duration)]
    pub request_timeout: Duration,
    /// Attempts per request (transient failures: network, 5xx, rate limits, clock skew).
    #[arg(long, default_value_t = 6)]
    pub attempts: u32,
    /// Client-side request rate cap (e.g. `10/s`), on top of the exchange's own headers.
    #[arg(long, value_parser = clap_count_rate, value_name = "RATE")]
    pub max_rate: Option<Rate>,
    /// Unit of the Kraken nonce (Unix time): use the bot's own when it shares this API key, or
    /// the key's counter runs ahead of the bot and Kraken refuses the bot's requests.
    /// `krakenex` and ccxt use ms; python-kraken-sdk uses a larger one (pass ns).
    #[arg(long, value_enum, default_value = "ms", value_name = "UNIT")]
    pub kraken_nonce_unit: NonceUnit,
}

/// The bot's own state.
#[derive(Debug, Clone, Args)]
pub struct StateArgs {
    /// The bot's orders: JSON, JSONL or SQLite (by extension, or --state-format). Formerly
    /// `--state` (still accepted).
    #[arg(long, alias = "state", value_name = "FILE")]
    pub state_file: Option<PathBuf>,
    /// Format of --state-file.
    #[arg(long, value_enum)]
    pub state_format: Option<StateFormat>,
    /// SQL for a SQLite --state-file (read-only).
    #[arg(long, default_value = "SELECT * FROM orders")]
    pub query: String,
    /// Map an order field to the state's own name: FIELD=NAME, FIELD one of id, client_id,
    /// symbol, side, qty, price, status, created, category (repeatable).
    #[arg(long = "field", value_name = "FIELD=NAME")]
    pub fields: Vec<String>,
    /// A local order pending longer than this while open on the exchange is `stale`.
    #[arg(long, default_value = "15m", value_parser = clap_duration)]
    pub stale_after: Duration,
    /// A local order missing on the exchange and older than this is to be quarantined.
    #[arg(long, default_value = "24h", value_parser = clap_duration)]
    pub quarantine_after: Duration,
}

/// The switches of a command that cancels.
#[derive(Debug, Clone, Args)]
pub struct ActArgs {
    /// Really cancel (otherwise: print the plan and change nothing).
    #[arg(long)]
    pub execute: bool,
    /// Required with --execute on a mainnet exchange.
    #[arg(long)]
    pub live: bool,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Compare the bot's orders with the exchange's open orders: a finding per difference.
    Reconcile {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// The bot's state (--state-file is required here).
        #[command(flatten)]
        state: StateArgs,
        /// Output options.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Cancel orphans: from `reconcile`'s JSONL on stdin (or --findings), or computed from
    /// --state-file. Dry-run unless --execute.
    Cancel {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// Compute the orphans from this state instead of reading findings.
        #[command(flatten)]
        state: StateArgs,
        /// Read findings from this file instead of stdin.
        #[arg(long, value_name = "FILE")]
        findings: Option<PathBuf>,
        /// Only orders whose client id starts with this (the bot's tag); others are left alone.
        #[arg(long, value_name = "PREFIX")]
        client_id_prefix: Option<String>,
        /// Refuse to act when more orders than this match (blast-radius limit).
        #[arg(long, value_name = "N")]
        max_orders: Option<usize>,
        /// Execution switches.
        #[command(flatten)]
        act: ActArgs,
        /// Output options.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Emergency stop: the exchange's cancel-all for the scope, then verify nothing is open.
    CancelAll {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// Execution switches.
        #[command(flatten)]
        act: ActArgs,
        /// Output options.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Keep the exchange's cancel-all-after switch armed; disarm on SIGINT/SIGTERM.
    DeadMan {
        /// The exchange.
        #[command(flatten)]
        exchange: ExchangeArgs,
        /// The exchange cancels everything this long after the last re-arm.
        #[arg(long, default_value = "60s", value_parser = clap_duration)]
        timeout: Duration,
        /// Re-arm this often (well under --timeout).
        #[arg(long, default_value = "20s", value_parser = clap_duration)]
        every: Duration,
        /// Re-arm only while this process lives; when it dies, stop re-arming so the switch
        /// fires.
        #[arg(long)]
        pid: Option<i32>,
    },
}
