//! The service's main loop: heartbeats, latencies, WebSocket reconnects, orders, and the
//! faults `--faults` switches on after `--fault-after`; the shutdown sequence.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use soak_core::ExitCode;
use soak_core::signals::Termination;

use crate::cli::{Cli, Fault};
use crate::health::{Health, HealthState};
use crate::logger::{Level, Logger};
use crate::trading;

const TICK: Duration = Duration::from_millis(100);
const STORM_PERIOD: Duration = Duration::from_secs(5);
const ZOMBIE_PERIOD: Duration = Duration::from_secs(3);
const MAX_ZOMBIES: usize = 20;

/// The running demo service, logging to `W`.
pub(crate) struct Service<W: Write> {
    cli: Cli,
    health: HealthState,
    log: Logger<W>,
    started: Instant,
    leaked: Vec<Vec<u8>>,
    leaked_bytes: f64,
    zombies: Vec<Child>,
    seq: u64,
    rng: u64,
    next_heartbeat: Duration,
    next_storm: Duration,
    next_zombie: Duration,
    next_order: Duration,
    reconnects: u64,
    pub(crate) trader: Option<trading::Trader>,
}

impl<W: Write> Service<W> {
    pub(crate) fn new(cli: Cli, health: HealthState, log: Logger<W>) -> Self {
        Service {
            cli,
            health,
            log,
            started: Instant::now(),
            leaked: Vec::new(),
            leaked_bytes: 0.0,
            zombies: Vec::new(),
            seq: 0,
            rng: 0x2545_f491_4f6c_dd1d,
            next_heartbeat: Duration::ZERO,
            next_storm: Duration::ZERO,
            next_zombie: Duration::ZERO,
            next_order: Duration::ZERO,
            reconnects: 0,
            trader: None,
        }
    }

    fn has(&self, f: Fault) -> bool {
        self.cli.faults.contains(&f)
    }

    /// A small xorshift generator: enough for plausible jitter, no dependency.
    fn next_random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    pub(crate) fn run(&mut self, term: &Termination) -> anyhow::Result<ExitCode> {
        self.start_up()?;
        loop {
            let now = self.started.elapsed();
            let faulty = now >= self.cli.fault_after;
            if faulty && self.has(Fault::Hang) {
                return self.hang();
            }
            if faulty && self.has(Fault::Crash) {
                return self.crash();
            }
            if term.requested().is_some() || self.cli.run_for.is_some_and(|d| now >= d) {
                return self.shut_down();
            }
            self.health.set(
                if faulty
                    && self.has(Fault::Outage)
                    && now < self.cli.fault_after + self.cli.outage_for
                {
                    Health::Outage
                } else {
                    Health::Live
                },
            );
            if now >= self.next_heartbeat {
                self.heartbeat()?;
                self.next_heartbeat += self.cli.heartbeat;
            }
            if faulty && self.has(Fault::ReconnectStorm) && now >= self.next_storm {
                self.reconnect_burst()?;
                self.next_storm = now + STORM_PERIOD;
            }
            if faulty && self.has(Fault::Zombies) && now >= self.next_zombie {
                self.spawn_zombie()?;
                self.next_zombie = now + ZOMBIE_PERIOD;
            }
            if self.trader.is_some() && now >= self.next_order {
                self.trade(!(faulty && self.has(Fault::Orphans)))?;
                self.next_order = now + self.cli.order_every;
            }
            if faulty && self.has(Fault::Leak) {
                self.leak_until(now - self.cli.fault_after);
            }
            term.sleep(TICK);
        }
    }

    fn start_up(&mut self) -> anyhow::Result<()> {
        self.log.log(Level::Info, "Starting demo-bot (soak-demo)")?;
        if self.has(Fault::SecretInLog) {
            let secret = std::env::var("BYBIT_API_SECRET").unwrap_or_default();
            self.log.log(
                Level::Debug,
                &format!("Loaded credentials api_key=demo-key api_secret={secret}"),
            )?;
        }
        self.ws_connected()
    }

    /// The line the bot logs each time its WebSocket (re)connects.
    fn ws_connected(&mut self) -> anyhow::Result<()> {
        self.log.log(
            Level::Info,
            "WebSocket connected (connection_id=ws-public-1)",
        )?;
        Ok(())
    }

    fn heartbeat(&mut self) -> anyhow::Result<()> {
        self.seq += 1;
        let latency = 15 + self.next_random() % 40;
        self.log
            .log(Level::Info, &format!("[HB] alive seq={}", self.seq))?;
        self.log.log(
            Level::Info,
            &format!("latency_ms{{stage=\"rest\"}} {latency}"),
        )?;
        Ok(())
    }

    fn reconnect_burst(&mut self) -> anyhow::Result<()> {
        self.log.log(
            Level::Error,
            "[HANDLER_TIMEOUT] WebSocket message handler timeout for ws-public-1",
        )?;
        self.log.log(
            Level::Error,
            "WebSocket disconnected (connection_id=ws-public-1)",
        )?;
        for attempt in 1..=3u32 {
            self.reconnects += 1;
            let delay = f64::from(1u32 << (attempt - 1));
            self.log.log(
                Level::Warning,
                &format!(
                    "Reconnect attempt {attempt}/10 for ws-public-1, backoff delay {delay:.1}s"
                ),
            )?;
        }
        self.ws_connected()
    }

    /// Places an order (recorded unless `record` is false) and trims the oldest beyond five.
    fn trade(&mut self, record: bool) -> anyhow::Result<()> {
        let price = 60_000 + self.next_random() % 2_000;
        let Some(trader) = self.trader.as_mut() else {
            return Ok(());
        };
        let placed = trader.place(record, price);
        let trimmed = trader.trim(5);
        for r in [placed.map(Some), trimmed] {
            match r {
                Ok(Some(line)) => self.log.log(Level::Info, &line)?,
                Ok(None) => {}
                Err(e) => self.log.log(Level::Error, &format!("Order error: {e}"))?,
            }
        }
        Ok(())
    }

    fn spawn_zombie(&mut self) -> anyhow::Result<()> {
        if self.zombies.len() >= MAX_ZOMBIES {
            return Ok(());
        }
        // The Child is kept and never waited for: once `true` exits it stays a zombie.
        let child = Command::new("true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting a worker process")?;
        self.log.log(
            Level::Info,
            &format!("Started order-sync worker pid={}", child.id()),
        )?;
        self.zombies.push(child);
        Ok(())
    }

    /// Keeps memory so that `elapsed × leak_rate` bytes are held, touching every page.
    fn leak_until(&mut self, elapsed: Duration) {
        let target = elapsed.as_secs_f64() * self.cli.leak_rate.as_per_second();
        let missing = target - self.leaked_bytes;
        if missing >= 64.0 * 1024.0 {
            let chunk = vec![0xA5u8; missing as usize];
            self.leaked_bytes += chunk.len() as f64;
            self.leaked.push(chunk);
        }
    }

    fn hang(&mut self) -> anyhow::Result<ExitCode> {
        self.log.log(
            Level::Warning,
            "Waiting for order book lock (ws-public-1 callback)",
        )?;
        self.health.set(Health::Hung);
        // A wedged event loop: no heartbeat, no health, deaf to SIGTERM; only SIGKILL ends it.
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }

    fn crash(&mut self) -> anyhow::Result<ExitCode> {
        self.log
            .log(Level::Error, "Unhandled exception in main loop")?;
        self.log.raw(&[
            "Traceback (most recent call last):",
            "  File \"/app/bot/main.py\", line 212, in run",
            "    await self.strategy.on_tick(tick)",
            "  File \"/app/bot/strategy.py\", line 88, in on_tick",
            "    qty = self.position.size / self.book.mid_price",
            "ZeroDivisionError: float division by zero",
        ])?;
        Ok(ExitCode::CheckFailed)
    }

    fn shut_down(&mut self) -> anyhow::Result<ExitCode> {
        self.log
            .log(Level::Info, "[SHUTDOWN] Cancelling all active orders...")?;
        let cancelled = self.trader.as_mut().map_or(0, |t| t.cancel_all_tracked());
        self.log.log(
            Level::Info,
            &format!("[SHUTDOWN] Cancelled {cancelled} orders"),
        )?;
        self.log.log(Level::Info, "[SHUTDOWN] Shutdown complete")?;
        Ok(ExitCode::Success)
    }
}
