//! The exchange side of a soak: the demo's credentials, Kraken's dead-man switch kept armed
//! while the service lives, and the orders reconciled (and cancelled) after it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};
use soak_core::units::format_duration;

use super::args::{SoakArgs, dur};
use super::procs::Proc;
use super::verdict::{last_summary, read_jsonl};
use super::{Plan, unix_now};

/// The exchange whose orders the soak checks.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// `bybit`, `bybit-testnet`, `kraken`.
    pub name: String,
    /// The base URL, when not the exchange's own.
    pub url: Option<String>,
    /// The service's order state file.
    pub state: Option<PathBuf>,
}

/// Starts the demo's exchange simulator with the demo's credentials; returns it and its URL
/// (its first JSONL line, copied with the rest into `exchange-sim.jsonl`).
pub fn start_simulator(plan: &Plan, key: &str, secret: &str) -> Result<(Proc, String)> {
    let mut cmd = plan.tool("exchange-sim");
    cmd.env("BYBIT_API_KEY", key)
        .env("BYBIT_API_SECRET", secret)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut p = Proc::spawn("exchange-sim", &mut cmd)?;
    let stdout = p.child.stdout.take().context("exchange-sim stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let url = serde_json::from_str::<Value>(&first)
        .ok()
        .and_then(|v| v["url"].as_str().map(str::to_string))
        .context("exchange-sim did not print its URL")?;
    let mut copy = plan.out("exchange-sim.jsonl")?;
    copy.write_all(first.as_bytes())?;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut copy);
    });
    Ok((p, url))
}

/// The demo's credentials: fresh per run, only in the children's environment.
pub fn demo_credentials() -> (String, String) {
    let seed = format!("{}{}", std::process::id(), unix_now());
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut next = || {
        for b in seed.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h
    };
    (
        format!("demo-{:016x}", next()),
        format!("sk-demo-{:016x}{:016x}", next(), next()),
    )
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
    let Some(Exchange { name, url, .. }) = exchange else {
        return Ok(None);
    };
    if !name.starts_with("kraken") {
        eprintln!(
            "soak: {name} has no cancel-all-after timer over REST (Bybit's disconnection \
             protection lives on the bot's own WebSocket); orphans are checked after the run"
        );
        return Ok(None);
    }
    let timeout = dur("dead-man-timeout", &args.dead_man_timeout)?;
    let every = (timeout / 3).max(Duration::from_secs(1));
    let mut cmd = plan.tool("orphan-cancel");
    cmd.args(["dead-man", "--exchange", name])
        .args(["--kraken-nonce-unit", &args.kraken_nonce_unit]);
    if let Some(u) = url {
        cmd.args(["--base-url", u]);
    }
    cmd.args([
        "--timeout",
        &format!("{}s", timeout.as_secs()),
        "--every",
        &format!("{}ms", every.as_millis()),
        "--pid",
        &service_pid.to_string(),
    ])
    .stdout(plan.out("dead-man.jsonl")?)
    .stderr(plan.out("dead-man.stderr")?);
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
    key: &str,
    secret: &str,
) -> Result<Value> {
    let (exchange, url) = (target.name.as_str(), target.url.as_deref());
    let Some(state) = target.state.as_deref() else {
        return Ok(
            json!({"error": "no --state file: orphans cannot be told from the bot's own orders"}),
        );
    };
    let mut base = vec!["--exchange".to_string(), exchange.to_string()];
    if exchange.starts_with("kraken") {
        base.extend(["--kraken-nonce-unit".into(), args.kraken_nonce_unit.clone()]);
    }
    if let Some(u) = url {
        base.extend(["--base-url".into(), u.to_string()]);
    }
    let with_creds = |c: &mut Command| {
        if args.demo {
            c.env("BYBIT_API_KEY", key).env("BYBIT_API_SECRET", secret);
        }
    };
    let state_arg = if state.exists() {
        state.to_path_buf()
    } else {
        // A service that never placed an order has no state file: an empty one means "none".
        let empty = plan.file("active_orders.empty.json");
        std::fs::write(&empty, "{}")?;
        empty
    };
    let mut c = plan.tool("orphan-cancel");
    c.arg("reconcile")
        .args(&base)
        .arg("--state")
        .arg(&state_arg)
        .args(["--format", "jsonl"]);
    with_creds(&mut c);
    let status = c
        .stdout(plan.out("orders.jsonl")?)
        .stderr(plan.out("orders.stderr")?)
        .status()
        .context("starting orphan-cancel")?;
    if !matches!(status.code(), Some(0 | 1)) {
        let err = std::fs::read_to_string(plan.file("orders.stderr")).unwrap_or_default();
        return Ok(json!({"error": format!("orphan-cancel reconcile failed: {}", err.trim())}));
    }
    if args.cancel_orphans {
        let mut c = plan.tool("orphan-cancel");
        c.arg("cancel").args(&base).args([
            "--client-id-prefix",
            &args.client_id_prefix,
            "--execute",
            "--format",
            "jsonl",
        ]);
        with_creds(&mut c);
        c.stdin(File::open(plan.file("orders.jsonl"))?)
            .stdout(plan.out("cancel.jsonl")?)
            .stderr(plan.out("cancel.stderr")?)
            .status()
            .context("starting orphan-cancel cancel")?;
    }
    let recs = read_jsonl(&plan.file("orders.jsonl"));
    Ok(last_summary(&recs, "orphan-cancel")
        .cloned()
        .unwrap_or(json!({"error": "no summary from orphan-cancel"})))
}
