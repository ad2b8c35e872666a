//! `--demo`: the bundled demo bot against the bundled exchange simulator, with credentials
//! made fresh for the run that live only in the children's environment.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};

use super::SoakArgs;
use super::args::Venue;
use super::argv::{duration, values};
use super::exchange::Exchange;
use super::plan::Plan;
use super::procs::Proc;
use super::records::SimListening;
use super::unix_now;

/// The demo's exchange credentials.
pub struct Credentials {
    key: String,
    secret: String,
}

impl Credentials {
    /// Fresh per run, only ever in the children's environment.
    pub fn fresh() -> Credentials {
        let seed = format!("{}{}", std::process::id(), unix_now());
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut next = || {
            for b in seed.bytes() {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
            h
        };
        Credentials {
            key: format!("demo-{:016x}", next()),
            secret: format!("sk-demo-{:016x}{:016x}", next(), next()),
        }
    }

    /// Gives `cmd` the credentials in the variables the simulator, the bot and the tools read.
    pub fn pass_to(&self, cmd: &mut Command) {
        cmd.env("BYBIT_API_KEY", &self.key)
            .env("BYBIT_API_SECRET", &self.secret);
    }
}

/// Gives `cmd` the demo's credentials when there are any.
pub fn pass_credentials(creds: Option<&Credentials>, cmd: &mut Command) {
    if let Some(c) = creds {
        c.pass_to(cmd);
    }
}

/// Starts the exchange simulator with the demo's credentials: the process and the exchange
/// the bot trades on (its URL is the simulator's first JSONL line, copied with the rest into
/// `exchange-sim.jsonl`; the bot's order state is `active_orders.json`).
pub fn start_exchange(plan: &Plan, creds: &Credentials) -> Result<(Proc, Exchange)> {
    let mut cmd = plan.tool("exchange-sim");
    creds.pass_to(&mut cmd);
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    let mut p = Proc::spawn("exchange-sim", &mut cmd)?;
    let stdout = p.child.stdout.take().context("exchange-sim stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut first = String::new();
    reader.read_line(&mut first)?;
    let url = serde_json::from_str::<SimListening>(&first)
        .map(|l| l.url)
        .ok()
        .context("exchange-sim did not print its URL")?;
    let mut copy = plan.out("exchange-sim.jsonl")?;
    copy.write_all(first.as_bytes())?;
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut reader, &mut copy);
    });
    let exchange = Exchange {
        name: Venue::Bybit,
        url: Some(url),
        state: Some(plan.file("active_orders.json")),
    };
    Ok((p, exchange))
}

/// The demo bot's command: a heartbeat every second, its faults from `--demo-faults` after
/// `--fault-after`, trading on `exchange_url`, its health URL written to `health.url`.
pub fn service_command(plan: &Plan, args: &SoakArgs, exchange_url: &str) -> Vec<String> {
    let mut c = vec![
        plan.bin.join("soak-demo").display().to_string(),
        "--heartbeat".into(),
        "1s".into(),
        "--fault-after".into(),
        duration(args.fault_after),
        "--exchange-url".into(),
        exchange_url.to_string(),
        "--state-file".into(),
        plan.file("active_orders.json").display().to_string(),
        "--health-url-file".into(),
        plan.file("health.url").display().to_string(),
    ];
    if !args.demo_faults.is_empty() {
        c.extend(["--faults".into(), values(&args.demo_faults)]);
    }
    c
}
