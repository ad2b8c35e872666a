//! `cargo xtask bench orphan-cancel [--orders 1000] [--rate 10] [--reps 3]`: cancelling
//! `--orders` orphans on exchange-sim limited to `--rate` requests per second, against the lower
//! bound that rate limit allows for the endpoints used.
//!
//! The endpoints: `GET /v5/order/realtime` (50 per page), `POST /v5/order/cancel-batch` (20 per
//! request), and the verifying listing (one page once everything is gone). With the simulator's
//! fixed one-second windows, N requests need at least `ceil(N / rate) - 1` seconds (the first
//! window is free); that is the bound reported.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};

use super::measure::{measure, median, release_build};

struct Opts {
    orders: usize,
    rate: u32,
    reps: usize,
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut o = Opts {
        orders: 1000,
        rate: 10,
        reps: 3,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().context(format!("{a} needs a value"));
        match a.as_str() {
            "--orders" => o.orders = val()?.parse()?,
            "--rate" => o.rate = val()?.parse()?,
            "--reps" => o.reps = val()?.parse()?,
            other => bail!(
                "unknown option '{other}' (cargo xtask bench orphan-cancel [--orders N] [--rate R] [--reps K])"
            ),
        }
    }
    if o.rate == 0 || o.orders == 0 {
        bail!("--orders and --rate must be positive");
    }
    Ok(o)
}

/// The simulator process; killed when dropped.
struct Sim(Child, String);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const KEY: &str = "bench-key";
const SECRET: &str = "bench-secret";

fn start_sim(bin: &std::path::Path, orders_file: &std::path::Path, rate: u32) -> Result<Sim> {
    let mut child = Command::new(bin.join("exchange-sim"))
        .arg("--orders")
        .arg(orders_file)
        .args(["--rate-limit", &rate.to_string()])
        .env("BYBIT_API_KEY", KEY)
        .env("BYBIT_API_SECRET", SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting exchange-sim")?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("stdout")?).read_line(&mut line)?;
    let url = line
        .split("\"url\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .context("no url in exchange-sim's first line")?
        .to_string();
    Ok(Sim(child, url))
}

/// Runs the benchmark.
pub fn run(args: &[String]) -> Result<()> {
    let o = parse(args)?;
    let bin = release_build(&["orphan-cancel", "exchange-sim"])?;
    let dir = std::env::temp_dir().join(format!("oc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let orders: Vec<String> = (0..o.orders)
        .map(|i| {
            format!(
                r#"{{"exchange":"bybit","category":"linear","client_id":"BOT_{i}","symbol":"BTCUSDT","created_ms":{}}}"#,
                now - 60_000
            )
        })
        .collect();
    let orders_file = dir.join("orders.json");
    std::fs::write(&orders_file, format!("[{}]", orders.join(",")))?;
    let state = dir.join("state.json");
    std::fs::write(&state, "[]")?;

    let pages = o.orders.div_ceil(50);
    let batches = o.orders.div_ceil(20);
    let requests = pages + batches + 1;
    let bound_s = (requests.div_ceil(o.rate as usize) - 1) as f64;
    println!(
        "orphan-cancel bench: {} orphans, rate limit {}/s; minimal requests {pages} list + {batches} cancel-batch + 1 verify = {requests}; lower bound {bound_s:.1} s",
        o.orders, o.rate
    );
    let mut walls = Vec::new();
    for rep in 1..=o.reps {
        let sim = start_sim(&bin, &orders_file, o.rate)?;
        // Let the simulator's rate window from start-up pass.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let cost = measure(
            Command::new(bin.join("orphan-cancel"))
                .args(["cancel", "--exchange", "bybit", "--exchange-url", &sim.1])
                .args([
                    "--client-id-prefix",
                    "BOT_",
                    "--execute",
                    "--format",
                    "jsonl",
                ])
                .arg("--state-file")
                .arg(&state)
                .env("BYBIT_API_KEY", KEY)
                .env("BYBIT_API_SECRET", SECRET),
        )?;
        let stats: String = http_get(&sim.1, "/sim/stats")?;
        let open = http_get(&sim.1, "/sim/orders")?
            .matches("\"status\":\"open\"")
            .count();
        if open != 0 {
            bail!("{open} orders still open after the run");
        }
        println!(
            "  rep {rep}: {:.2} s wall, {:.3} s CPU, {:.1} MB peak RSS; simulator: {stats}",
            cost.wall_s, cost.cpu_s, cost.peak_rss_mb
        );
        walls.push(cost.wall_s);
        drop(sim);
    }
    let m = median(walls);
    println!(
        "median {m:.2} s for {} orders = {:.2}x the lower bound ({bound_s:.1} s); target <= 1.2x",
        o.orders,
        m / bound_s
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A plain HTTP/1.0 GET over a TcpStream (the control endpoints need nothing more).
fn http_get(base: &str, path: &str) -> Result<String> {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    Ok(text.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}
