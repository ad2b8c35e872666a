//! The `exchange-sim` command: seed the book, start the server, print the `listening` and
//! `dead_man_fired` events, and report the summary when a signal stops it.

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use soak_core::exit::{ExitCode, usage};
use soak_core::record::{Record, RecordType};
use soak_core::report::{RecordBody, Report};
use soak_core::signals::Termination;

use crate::book::SimOrder;
use crate::cli::Cli;
use crate::server::{SimConfig, start};
use crate::sim::KeyPair;

/// Loads seed orders.
pub fn load_orders(path: &std::path::Path) -> anyhow::Result<Vec<SimOrder>> {
    let text =
        std::fs::read_to_string(path).map_err(|e| usage(format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| usage(format!("{}:{}: {e}", path.display(), e.line())))
}

fn keys_from_env(key: &str, secret: &str) -> Option<KeyPair> {
    Some(KeyPair {
        key: std::env::var(key).ok().filter(|v| !v.is_empty())?,
        secret: std::env::var(secret).ok().filter(|v| !v.is_empty())?,
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
