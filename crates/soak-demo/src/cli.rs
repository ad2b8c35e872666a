//! The command line of `soak-demo` (clap only: the service is in [`crate::run()`]).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use soak_core::units::{Rate, clap_duration, clap_rate};

/// A fault the demo service can be told to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Fault {
    /// Memory grows at `--leak-rate`.
    Leak,
    /// Children are started and never reaped.
    Zombies,
    /// The WebSocket disconnects and reconnects many times a minute.
    ReconnectStorm,
    /// Heartbeat and health stop; SIGTERM is ignored.
    Hang,
    /// A traceback, then exit status 1.
    Crash,
    /// The health endpoint answers 503 for a while.
    Outage,
    /// The API secret is written to the log.
    SecretInLog,
    /// Orders placed are no longer recorded in the state file: they become orphans.
    Orphans,
}

/// Command line of `soak-demo`.
#[derive(Debug, Parser)]
#[command(
    name = "soak-demo",
    version,
    about = "A demo trading-bot service with switchable faults, for the soak workflow",
    after_help = "Examples:\n  soak-demo --health-listen 127.0.0.1:8080\n  soak-demo --faults leak,reconnect-storm --fault-after 10s > service.log\n  BYBIT_API_SECRET=... soak-demo --faults secret-in-log"
)]
pub struct Cli {
    /// Faults to switch on (comma-separated).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub faults: Vec<Fault>,
    /// When the faults start, after start-up.
    #[arg(long, default_value = "20s", value_parser = clap_duration)]
    pub fault_after: Duration,
    /// Heartbeat (`[HB] alive`) period.
    #[arg(long, default_value = "1s", value_parser = clap_duration)]
    pub heartbeat: Duration,
    /// Memory kept per unit of time with the `leak` fault.
    #[arg(long, default_value = "20MB/min", value_parser = clap_rate)]
    pub leak_rate: Rate,
    /// How long the `outage` fault lasts.
    #[arg(long, default_value = "30s", value_parser = clap_duration)]
    pub outage_for: Duration,
    /// Address for `/health/live` (port 0 picks a free port, printed on stderr).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub health_listen: SocketAddr,
    /// Also write the bound health URL to this file (for scripts).
    #[arg(long)]
    pub health_url_file: Option<std::path::PathBuf>,
    /// A Bybit v5 base URL (the bundled exchange-sim) to trade on; credentials from
    /// BYBIT_API_KEY/BYBIT_API_SECRET.
    #[arg(long, value_name = "URL")]
    pub exchange_url: Option<String>,
    /// Where the bot keeps its open orders (the seed's active_orders.json).
    #[arg(long, value_name = "FILE")]
    pub state_file: Option<std::path::PathBuf>,
    /// How often an order is placed.
    #[arg(long, default_value = "2s", value_parser = clap_duration)]
    pub order_every: Duration,
    /// Stop by itself after this long (default: run until SIGINT/SIGTERM).
    #[arg(long, value_parser = clap_duration)]
    pub run_for: Option<Duration>,
}
