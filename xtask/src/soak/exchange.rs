//! The exchange side of a soak: Kraken's dead-man switch kept armed while the service lives,
//! and the orders reconciled (and cancelled) after it.

use std::path::PathBuf;

use anyhow::{Context, Result};
use soak_core::units::format_duration;

use super::SoakArgs;
use super::args::Venue;
use super::argv::orphan_cancel;
use super::artifacts::last_summary_of;
use super::demo::Credentials;
use super::plan::Plan;
use super::procs::Proc;
use super::records::ReconcileSummary;

/// The exchange whose orders the soak checks.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Which exchange (`--exchange`).
    pub name: Venue,
    /// The base URL, when not the exchange's own.
    pub url: Option<String>,
    /// The service's order state file.
    pub state: Option<PathBuf>,
}

impl Exchange {
    /// The exchange `--exchange`, `--exchange-url` and `--state` name, if any.
    pub fn from_args(args: &SoakArgs) -> Option<Exchange> {
        args.exchange.map(|name| Exchange {
            name,
            url: args.exchange_url.clone(),
            state: args.state.clone(),
        })
    }
}

/// What the check of the orders after the run gave, for the Orphan orders row.
#[derive(Debug, Clone)]
pub enum Orders {
    /// orphan-cancel reconcile's summary.
    Reconciled(ReconcileSummary),
    /// Why there is none.
    Unchecked(String),
}

/// Preflight for an exchange: Kraken's cancel-all-after switch kept armed for as long as the
/// service lives (`orphan-cancel dead-man --pid`). Bybit has no REST timer (its DCP lives on
/// the bot's own WebSocket), so there the orphan check after the run is the safety net.
pub fn arm_dead_man(
    plan: &Plan,
    exchange: Option<&Exchange>,
    service_pid: i32,
    args: &SoakArgs,
) -> Result<Option<Proc>> {
    let Some(exchange) = exchange else {
        return Ok(None);
    };
    let name = exchange.name.as_str();
    if exchange.name != Venue::Kraken {
        eprintln!(
            "soak: {name} has no cancel-all-after timer over REST (Bybit's disconnection \
             protection lives on the bot's own WebSocket); orphans are checked after the run"
        );
        return Ok(None);
    }
    let timeout = plan.settings.dead_man_timeout;
    let mut cmd = orphan_cancel::dead_man(plan, args, exchange, timeout, service_pid)?;
    let p = Proc::spawn("orphan-cancel dead-man", &mut cmd)?;
    eprintln!(
        "soak: {name} dead-man switch armed: every order is cancelled {} after the service stops re-arming it",
        format_duration(timeout)
    );
    Ok(Some(p))
}

/// orphan-cancel reconcile (and cancel with --cancel-orphans); returns reconcile's summary.
pub fn check_orders(
    plan: &Plan,
    target: &Exchange,
    args: &SoakArgs,
    creds: Option<&Credentials>,
) -> Result<Orders> {
    let Some(state) = target.state.as_deref() else {
        return Ok(Orders::Unchecked(
            "no --state file: orphans cannot be told from the bot's own orders".into(),
        ));
    };
    let state_arg = if state.exists() {
        state.to_path_buf()
    } else {
        // A service that never placed an order has no state file: an empty one means "none".
        let empty = plan.file("active_orders.empty.json");
        std::fs::write(&empty, "{}")?;
        empty
    };
    let status = orphan_cancel::reconcile(plan, args, target, &state_arg, creds)?
        .status()
        .context("starting orphan-cancel")?;
    if !matches!(status.code(), Some(0 | 1)) {
        let err = std::fs::read_to_string(plan.file("orders.stderr")).unwrap_or_default();
        return Ok(Orders::Unchecked(format!(
            "orphan-cancel reconcile failed: {}",
            err.trim()
        )));
    }
    if args.cancel_orphans {
        orphan_cancel::cancel(plan, args, target, creds)?
            .status()
            .context("starting orphan-cancel cancel")?;
    }
    Ok(
        match last_summary_of::<ReconcileSummary>(&plan.file("orders.jsonl"), "orphan-cancel") {
            Some(s) => Orders::Reconciled(s),
            None => Orders::Unchecked("no summary from orphan-cancel".into()),
        },
    )
}
