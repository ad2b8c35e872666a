//! `orphan-cancel`: reconciles a trading bot's orders with the exchange and cancels what was
//! left behind, safely: dry-run unless `--execute`, mainnet only with `--live`, filtered to the
//! bot's own orders, limited in blast radius, verified by a final listing.
//!
//! - [`reconcile`]: orphans, ghosts, stale and quarantined orders;
//! - [`cancel`]: filter, re-check, batch cancel with retry rounds, verify;
//! - [`exchange`]: Bybit v5 and Kraken REST clients, and file snapshots;
//! - [`local_state`]: the bot's orders from JSON, JSONL or SQLite;
//! - [`signing`] and [`credentials`]: request signatures, and keys that never reach output;
//! - [`cli`] (the flags), [`connect`] (reaching the exchange) and [`commands`] (one module per
//!   subcommand, each returning its [`soak_core::report::Report`]).
#![deny(unsafe_code)]

pub mod cancel;
pub mod cli;
pub mod commands;
pub mod connect;
pub mod credentials;
pub mod exchange;
pub mod local_state;
pub mod order;
pub mod reconcile;
pub mod signing;

use soak_core::exit::ExitCode;

pub use cli::{ActArgs, Cli, Cmd, ExchangeArgs, StateArgs};
pub use connect::{Venue, check_exchange_url, is_loopback};

/// The tool's name in its records.
pub(crate) const TOOL: &str = "orphan-cancel";

/// Runs orphan-cancel.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Reconcile {
            exchange,
            state,
            output,
        } => commands::reconcile::reconcile(&exchange, &state)?.finish(&output),
        Cmd::Cancel {
            exchange,
            state,
            findings,
            client_id_prefix,
            max_orders,
            act,
            output,
        } => {
            let filters = cancel::Filters {
                symbol: exchange.symbol.clone(),
                category: Some(exchange.category.clone()),
                client_id_prefix,
            };
            commands::cancel::cancel(&exchange, &state, findings, &filters, max_orders, &act)?
                .finish(&output)
        }
        Cmd::CancelAll {
            exchange,
            act,
            output,
        } => commands::cancel_all::cancel_all(&exchange, &act)?.finish(&output),
        Cmd::DeadMan {
            exchange,
            timeout,
            every,
            pid,
        } => commands::dead_man::dead_man(&exchange, timeout, every, pid),
    }
}
