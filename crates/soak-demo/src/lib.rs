//! `soak-demo`: a small stand-in for a trading bot, so the soak workflow can be shown and
//! tested anywhere. It logs what the seeds' bots log (heartbeats, REST latencies, WebSocket
//! connects and reconnects, the shutdown sequence), serves `/health/live` on loopback, and can
//! switch on the faults a soak must catch, each after `--fault-after`:
//!
//! | fault             | what the service does                                            |
//! |-------------------|------------------------------------------------------------------|
//! | `leak`            | keeps and touches `--leak-rate` of memory (RSS grows steadily)   |
//! | `zombies`         | starts a child every few seconds and never waits for it          |
//! | `reconnect-storm` | disconnects and reconnects its WebSocket over and over           |
//! | `hang`            | stops its heartbeat and its health endpoint, ignores SIGTERM     |
//! | `crash`           | logs a Python-style traceback and exits with status 1            |
//! | `outage`          | `/health/live` answers 503 for `--outage-for`                    |
//! | `secret-in-log`   | logs the value of `$BYBIT_API_SECRET` at start-up                |
//! | `orphans`         | stops recording the orders it places (with `--exchange-url`)     |
//!
//! With `--exchange-url` (the bundled exchange simulator) the bot places a limit order every
//! `--order-every`, keeps about five open, tracks them in `--state-file` (the seed's
//! `active_orders.json`) and cancels them in its graceful shutdown.
#![deny(unsafe_code)]

pub mod cli;
pub mod health;
pub mod logger;
pub mod service;
pub mod trading;

use anyhow::Context;
use soak_core::ExitCode;
use soak_core::signals::Termination;

pub use cli::{Cli, Fault};
use health::HealthState;
use logger::Logger;
use service::Service;

/// Runs the demo service until a signal, `--run-for`, or a fault ends it.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let term = Termination::install().context("installing signal handlers")?;
    let health = HealthState::default();
    let addr = health::serve(cli.health_listen, health.clone())?;
    let url = format!("http://{addr}/health/live");
    eprintln!("soak-demo: health on {url}");
    if let Some(path) = &cli.health_url_file {
        std::fs::write(path, format!("{url}\n"))
            .with_context(|| format!("cannot write {}", path.display()))
            .map_err(|e| soak_core::exit::environment(format!("{e:#}")))?;
    }
    let trader = match &cli.exchange_url {
        Some(url) => Some(trading::Trader::new(url, cli.state_file.clone())?),
        None => None,
    };
    let stdout = std::io::stdout();
    let mut service = Service::new(cli, health, Logger::new(stdout.lock()));
    service.trader = trader;
    service.run(&term)
}
