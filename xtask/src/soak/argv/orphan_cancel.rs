//! `orphan-cancel`: Kraken's dead-man switch kept armed while the service lives, and the
//! orders reconciled (and cancelled) after it.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::super::SoakArgs;
use super::super::args::Venue;
use super::super::demo::{Credentials, pass_credentials};
use super::super::exchange::Exchange;
use super::super::plan::Plan;

/// `--exchange NAME` and what goes with it: Kraken's nonce unit, the base URL.
fn exchange_args(exchange: &Exchange, args: &SoakArgs) -> Vec<String> {
    let mut v = vec!["--exchange".to_string(), exchange.name.as_str().to_string()];
    if exchange.name == Venue::Kraken {
        v.extend([
            "--kraken-nonce-unit".into(),
            args.kraken_nonce_unit.as_str().to_string(),
        ]);
    }
    if let Some(u) = &exchange.url {
        v.extend(["--exchange-url".into(), u.clone()]);
    }
    v
}

/// `orphan-cancel dead-man --pid SERVICE`: the exchange cancels every order `timeout` after
/// the service stops re-arming (re-armed every third of it); into `dead-man.jsonl`.
pub fn dead_man(
    plan: &Plan,
    args: &SoakArgs,
    exchange: &Exchange,
    timeout: Duration,
    service_pid: i32,
) -> Result<Command> {
    let every = (timeout / 3).max(Duration::from_secs(1));
    let mut cmd = plan.tool("orphan-cancel");
    cmd.arg("dead-man")
        .args(exchange_args(exchange, args))
        .args([
            "--timeout",
            &format!("{}s", timeout.as_secs()),
            "--every",
            &format!("{}ms", every.as_millis()),
            "--pid",
            &service_pid.to_string(),
        ])
        .stdout(plan.out("dead-man.jsonl")?)
        .stderr(plan.out("dead-man.stderr")?);
    Ok(cmd)
}

/// `orphan-cancel reconcile --state STATE`, into `orders.jsonl`.
pub fn reconcile(
    plan: &Plan,
    args: &SoakArgs,
    exchange: &Exchange,
    state: &Path,
    creds: Option<&Credentials>,
) -> Result<Command> {
    let mut c = plan.tool("orphan-cancel");
    c.arg("reconcile")
        .args(exchange_args(exchange, args))
        .arg("--state-file")
        .arg(state)
        .args(["--format", "jsonl"]);
    pass_credentials(creds, &mut c);
    c.stdout(plan.out("orders.jsonl")?)
        .stderr(plan.out("orders.stderr")?);
    Ok(c)
}

/// `orphan-cancel cancel --execute` of the service's own orphans (`--client-id-prefix`),
/// reading reconcile's `orders.jsonl`, into `cancel.jsonl`.
pub fn cancel(
    plan: &Plan,
    args: &SoakArgs,
    exchange: &Exchange,
    creds: Option<&Credentials>,
) -> Result<Command> {
    let mut c = plan.tool("orphan-cancel");
    c.arg("cancel").args(exchange_args(exchange, args)).args([
        "--client-id-prefix",
        &args.client_id_prefix,
        "--execute",
        "--format",
        "jsonl",
    ]);
    pass_credentials(creds, &mut c);
    c.stdin(std::fs::File::open(plan.file("orders.jsonl"))?)
        .stdout(plan.out("cancel.jsonl")?)
        .stderr(plan.out("cancel.stderr")?);
    Ok(c)
}
