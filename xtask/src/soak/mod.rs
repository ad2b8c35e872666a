//! `cargo xtask soak [OPTIONS] -- CMD ARGS...` (or `--demo`): the seeds' soak workflow in one
//! command, orchestrating the toolkit's binaries as processes (argv vectors, never shell
//! strings) over JSONL files kept in the run directory:
//!
//! 1. preflight: `seccheck deps` on the project's lockfiles, free disk space against
//!    `--max-total`, the exchange simulator for the demo, Kraken's dead-man switch armed;
//! 2. the service under `zombiereap run` (log to `service.log`), `resmon` attached to it,
//!    `logscan --follow` as the hang watchdog, `resanalyze --follow` for early leak warnings,
//!    `--health-url` polled for availability, a progress line on a terminal;
//! 3. after `--duration`, a hang, the service's own exit, or Ctrl-C (every path): graceful stop,
//!    `orphan-cancel reconcile` (and `cancel --execute` with `--cancel-orphans`), `zombiereap
//!    scan`, `resanalyze` (analysis JSON and plot), `logscan`;
//! 4. the verdict: the seed's Success Metrics table in `summary.{json,md,txt}` (and the job
//!    summary), `--notify URL` posted; exit 0 only when every row passes.

mod health;
mod judge;
mod preflight;
mod procs;
mod records;
pub mod report;
mod tail;
pub mod verdict;

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use soak_core::signals::Termination;
use soak_core::units::{format_duration, parse_duration, parse_size};

use judge::{Ending, Inputs, judge};
use procs::Proc;
use tail::Tail;
use verdict::{Verdict, last_summary, read_jsonl};

/// Options of `cargo xtask soak`.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// Soak the bundled demo service against the bundled exchange simulator.
    #[arg(long)]
    pub demo: bool,
    /// Faults for the demo service: leak, zombies, orphans, reconnect-storm, hang, crash,
    /// outage, secret-in-log (comma-separated).
    #[arg(long, default_value = "", requires = "demo")]
    pub demo_faults: String,
    /// When the demo's faults start.
    #[arg(long, default_value = "10s")]
    pub fault_after: String,
    /// How long the service runs (default: 3m with --demo, else 24h).
    #[arg(long)]
    pub duration: Option<String>,
    /// Where run directories are created.
    #[arg(long, default_value = "artifacts/soak")]
    pub out: PathBuf,
    /// Use the tools' binaries from this directory instead of building them.
    #[arg(long, value_name = "DIR")]
    pub bin_dir: Option<PathBuf>,
    /// resmon's sampling interval.
    #[arg(long, default_value = "1s")]
    pub interval: String,
    /// Heartbeat silence that counts as a hang and stops the run (default: 10s with --demo,
    /// else 5m). The watchdog arms once the log has shown a heartbeat (the built-in patterns or
    /// --heartbeat-regex); with --health-url, the endpoint giving no answer this long after it
    /// first answered is a hang too.
    #[arg(long)]
    pub max_heartbeat_gap: Option<String>,
    /// A line the service logs periodically, as a heartbeat for the hang watchdog (Rust regex
    /// syntax; repeatable), e.g. 'Bot heartbeat' or 'Background saving'.
    #[arg(long, value_name = "REGEX")]
    pub heartbeat_regex: Vec<String>,
    /// Time the service gets to stop after SIGTERM before its tree is killed.
    #[arg(long, default_value = "10s")]
    pub shutdown_timeout: String,
    /// Poll this URL (e.g. http://127.0.0.1:8080/health/live) for availability.
    #[arg(long)]
    pub health_url: Option<String>,
    /// How often the health URL is polled.
    #[arg(long, default_value = "2s")]
    pub health_every: String,
    /// How long one health poll may take before it counts as no answer.
    #[arg(long, default_value = "5s")]
    pub health_timeout: String,
    /// The service may take this long to answer its health URL for the first time; the
    /// availability counts from that first healthy answer.
    #[arg(long, default_value = "60s")]
    pub startup_grace: String,
    /// Availability needed, percent.
    #[arg(long, default_value_t = 99.5)]
    pub min_availability: f64,
    /// Disk budget for the run's artifacts.
    #[arg(long, default_value = "5GB")]
    pub max_total: String,
    /// The live service log is rotated (copytruncate, loss-free) and its old parts compressed
    /// once it grows past this, so a chatty service stays within --max-total.
    #[arg(long, default_value = "100MB")]
    pub max_log_size: String,
    /// How often logrotate --watch holds the run directory to --max-total (default: 10s with
    /// --demo, else 5m).
    #[arg(long)]
    pub logrotate_every: Option<String>,
    /// Average CPU of the service's process tree allowed, percent.
    #[arg(long, default_value_t = 80.0)]
    pub max_cpu: f64,
    /// WebSocket reconnections allowed in any hour.
    #[arg(long, default_value_t = 10)]
    pub max_reconnects_per_hour: u64,
    /// Errors the service logs and survives (tracebacks, exceptions, error lines) allowed in
    /// any hour.
    #[arg(long, default_value_t = 60)]
    pub max_errors_per_hour: u64,
    /// The exchange the service trades on, for the orphan check: bybit, bybit-testnet, kraken.
    #[arg(long)]
    pub exchange: Option<String>,
    /// The exchange's base URL (override).
    #[arg(long)]
    pub exchange_url: Option<String>,
    /// The service's order state file (its active_orders.json), for the orphan check.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Only the service's own orders (client-id prefix) are cancelled with --cancel-orphans.
    #[arg(long, default_value = "BOT_")]
    pub client_id_prefix: String,
    /// After the run, cancel the orphans the reconciliation found (`cancel --execute`).
    #[arg(long)]
    pub cancel_orphans: bool,
    /// With a Kraken exchange: the unit of the nonces orphan-cancel signs with (ms, us, ns).
    /// Use the bot's own unit when they share an API key (a larger one would lock the bot
    /// out), or better a dedicated key for orphan-cancel.
    #[arg(long, default_value = "ms", value_parser = ["ms", "us", "ns"])]
    pub kraken_nonce_unit: String,
    /// With a Kraken exchange: the exchange cancels every order this long after the service
    /// stops re-arming its dead-man switch (`orphan-cancel dead-man`, re-armed every third).
    #[arg(long, default_value = "60s")]
    pub dead_man_timeout: String,
    /// Advisory database for the preflight dependency audit (`seccheck deps --db`): a RustSec
    /// advisory-db or OSV checkout; repeatable. The demo uses the repository's fixture extract.
    #[arg(long, value_name = "DIR")]
    pub advisory_db: Vec<PathBuf>,
    /// The project whose lockfiles are audited (Cargo.lock, requirements*.txt, poetry.lock,
    /// uv.lock, found by walking it).
    #[arg(long, default_value = ".")]
    pub project: PathBuf,
    /// Fail the audit when an advisory database is older than this (e.g. 7d).
    #[arg(long)]
    pub max_db_age: Option<String>,
    /// Skip the dependency audit (the security row says so instead of failing).
    #[arg(long, conflicts_with = "advisory_db")]
    pub no_deps_audit: bool,
    /// POST the verdict (JSON with a Slack/Telegram-compatible `text`) to this URL.
    #[arg(long)]
    pub notify: Option<String>,
    /// resanalyze's minimum samples for a trend (default: 10 with --demo).
    #[arg(long)]
    pub min_samples: Option<u32>,
    /// resanalyze's minimum span for a trend (default: 10s with --demo).
    #[arg(long)]
    pub min_span: Option<String>,
    /// The service's command and arguments.
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

const TOOLS: [&str; 9] = [
    "logrotate",
    "seccheck",
    "resmon",
    "resanalyze",
    "logscan",
    "zombiereap",
    "orphan-cancel",
    "exchange-sim",
    "soak-demo",
];

/// The variables whose values must never reach the artifacts.
const SECRET_VARS: [&str; 4] = [
    "BYBIT_API_KEY",
    "BYBIT_API_SECRET",
    "KRAKEN_API_KEY",
    "KRAKEN_API_SECRET",
];

fn dur(flag: &str, v: &str) -> Result<Duration> {
    parse_duration(v).map_err(|e| anyhow::anyhow!("--{flag} {v}: {e}"))
}

/// A `--heartbeat-regex` that logscan would refuse, refused before the run starts.
fn regex_check(re: &str) -> Result<()> {
    regex::Regex::new(re).map_err(|e| anyhow::anyhow!("--heartbeat-regex {re:?}: {e}"))?;
    Ok(())
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Everything the run needs to know after it has started.
struct Plan {
    duration: Duration,
    gap: Duration,
    shutdown: Duration,
    health_every: Duration,
    health_timeout: Duration,
    startup_grace: Duration,
    max_total: u64,
    bin: PathBuf,
    dir: PathBuf,
}

impl Plan {
    fn tool(&self, name: &str) -> Command {
        let mut c = Command::new(self.bin.join(name));
        c.stdin(Stdio::null());
        c
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn out(&self, name: &str) -> Result<File> {
        File::create(self.file(name))
            .with_context(|| format!("cannot create {}", self.file(name).display()))
    }
}

/// The demo's credentials: fresh per run, only in the children's environment.
fn demo_credentials() -> (String, String) {
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

/// Runs the soak; true when every row passed.
pub fn run(args: &SoakArgs) -> Result<bool> {
    if args.demo != args.command.is_empty() {
        bail!("give either --demo or a command after `--` (cargo xtask soak -- python3 bot.py)");
    }
    let duration = dur(
        "duration",
        args.duration
            .as_deref()
            .unwrap_or(if args.demo { "3m" } else { "24h" }),
    )?;
    let gap = dur(
        "max-heartbeat-gap",
        args.max_heartbeat_gap
            .as_deref()
            .unwrap_or(if args.demo { "10s" } else { "5m" }),
    )?;
    // Every value is checked before anything is built or started.
    let shutdown = dur("shutdown-timeout", &args.shutdown_timeout)?;
    let health_every = dur("health-every", &args.health_every)?;
    let health_timeout = dur("health-timeout", &args.health_timeout)?;
    let startup_grace = dur("startup-grace", &args.startup_grace)?;
    let max_total = parse_size(&args.max_total).map_err(|e| anyhow::anyhow!("--max-total: {e}"))?;
    for (flag, v) in [
        ("interval", &args.interval),
        ("fault-after", &args.fault_after),
        ("dead-man-timeout", &args.dead_man_timeout),
    ] {
        dur(flag, v)?;
    }
    parse_size(&args.max_log_size).map_err(|e| anyhow::anyhow!("--max-log-size: {e}"))?;
    for re in &args.heartbeat_regex {
        regex_check(re)?;
    }
    let bin = match &args.bin_dir {
        Some(d) => d.clone(),
        None => crate::bench::measure::release_build(&TOOLS)?,
    };
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let dir = args.out.join(format!("run-{stamp}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let plan = Plan {
        duration,
        gap,
        shutdown,
        health_every,
        health_timeout,
        startup_grace,
        max_total,
        bin,
        dir: dir.clone(),
    };
    let term = Termination::install().context("installing signal handlers")?;
    eprintln!("soak: run directory {}", dir.display());
    let free = free_bytes(&dir);
    if let Some(free) = free
        && free < plan.max_total
    {
        eprintln!(
            "soak: warning: {} free on the artifacts' filesystem, less than --max-total {}",
            soak_core::units::format_bytes(free),
            args.max_total
        );
    }

    let audit = preflight::audit_dependencies(&plan, args)?;

    // The exchange: the simulator for the demo, else what the flags name.
    let (key, secret) = demo_credentials();
    let mut sim = None;
    let mut exchange: Option<(String, Option<String>, Option<PathBuf>)> = args
        .exchange
        .clone()
        .map(|e| (e, args.exchange_url.clone(), args.state.clone()));
    if args.demo {
        let mut cmd = plan.tool("exchange-sim");
        cmd.env("BYBIT_API_KEY", &key)
            .env("BYBIT_API_SECRET", &secret)
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
        exchange = Some((
            "bybit".into(),
            Some(url),
            Some(plan.file("active_orders.json")),
        ));
        sim = Some(p);
    }

    // The service under zombiereap run.
    let command: Vec<String> = if args.demo {
        let url = exchange
            .as_ref()
            .and_then(|e| e.1.clone())
            .unwrap_or_default();
        let mut c = vec![
            plan.bin.join("soak-demo").display().to_string(),
            "--heartbeat".into(),
            "1s".into(),
            "--fault-after".into(),
            args.fault_after.clone(),
            "--exchange-url".into(),
            url,
            "--state-file".into(),
            plan.file("active_orders.json").display().to_string(),
            "--health-url-file".into(),
            plan.file("health.url").display().to_string(),
        ];
        if !args.demo_faults.is_empty() {
            c.extend(["--faults".into(), args.demo_faults.clone()]);
        }
        c
    } else {
        args.command.clone()
    };
    // Append mode: logrotate's copytruncate cuts the copied prefix out of the live file, and
    // an O_APPEND writer goes on writing at the new end.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(plan.file("service.log"))
        .with_context(|| format!("cannot create {}", plan.file("service.log").display()))?;
    let started = Instant::now();
    // The Command holds the log's descriptors: it must not outlive the spawn.
    let mut service = {
        let mut zr_cmd = plan.tool("zombiereap");
        zr_cmd
            .args([
                "run",
                "--grace",
                &format!("{}ms", plan.shutdown.as_millis()),
                "--events",
            ])
            .arg(plan.file("zombiereap.jsonl"))
            .arg("--")
            .args(&command)
            .stdout(log.try_clone()?)
            .stderr(log);
        if args.demo {
            zr_cmd
                .env("BYBIT_API_KEY", &key)
                .env("BYBIT_API_SECRET", &secret);
        }
        Proc::spawn("service", &mut zr_cmd)?
    };
    eprintln!(
        "soak: service PID {} for {}: {}",
        service.pid(),
        format_duration(plan.duration),
        shell_words(&command)
    );

    let mut dead_man = arm_dead_man(&plan, exchange.as_ref(), service.pid(), args)?;

    let mut resmon = Proc::spawn(
        "resmon",
        plan.tool("resmon")
            .args([
                "--pid",
                &service.pid().to_string(),
                "--interval",
                &args.interval,
            ])
            // The run directory's growth is what the disk early warning projects (not the
            // whole filesystem, which other processes write too).
            .arg("--watch-path")
            .arg(&plan.dir)
            .arg("--output")
            .arg(plan.file("resources.jsonl"))
            .stdout(Stdio::null())
            .stderr(plan.out("resmon.stderr")?),
    )?;
    let mut watchdog = Proc::spawn(
        "logscan --follow",
        plan.tool("logscan")
            .arg("--follow")
            .arg(plan.file("service.log"))
            .args(heartbeat_args(&plan, args))
            .args(["--format", "jsonl"])
            .stdout(plan.out("logscan-follow.jsonl")?)
            .stderr(plan.out("logscan-follow.stderr")?),
    )?;
    let mut trend_args: Vec<String> = Vec::new();
    // A demo lasts minutes, not hours: trends need 10 samples over 10 s there (resanalyze's
    // 1 MB noise floor keeps allocator steps from passing for leaks).
    if let Some(n) = args.min_samples.or(args.demo.then_some(10)) {
        trend_args.extend(["--min-samples".into(), n.to_string()]);
    }
    if let Some(s) = args
        .min_span
        .clone()
        .or(args.demo.then(|| "10s".to_string()))
    {
        trend_args.extend(["--min-span".into(), s]);
    }
    let mut early = Proc::spawn(
        "resanalyze --follow",
        plan.tool("resanalyze")
            .arg("--follow")
            .arg(plan.file("resources.jsonl"))
            .args(["--follow-estimates", "--format", "jsonl"])
            .args(&trend_args)
            .stdout(plan.out("resanalyze-follow.jsonl")?)
            .stderr(plan.out("resanalyze-follow.stderr")?),
    )?;

    let rotate_every = args
        .logrotate_every
        .clone()
        .unwrap_or_else(|| if args.demo { "10s".into() } else { "5m".into() });
    let mut budget = Proc::spawn(
        "logrotate --watch",
        plan.tool("logrotate")
            .args([
                "--watch",
                &rotate_every,
                "--max-total",
                &args.max_total,
                "--max-size",
                &args.max_log_size,
                "--copytruncate",
                "--compress",
                "--format",
                "jsonl",
            ])
            .args(["--exclude", "summary.*"])
            .arg(&plan.dir)
            .stdout(plan.out("logrotate.jsonl")?)
            .stderr(plan.out("logrotate.stderr")?),
    )?;

    let health_url = match &args.health_url {
        Some(u) => Some(u.clone()),
        None if args.demo => wait_for_file(&plan.file("health.url"), Duration::from_secs(15)),
        None => None,
    };
    let poller = health_url
        .clone()
        .map(|u| -> Result<health::Poller> {
            Ok(health::Poller::start(
                u,
                plan.health_every,
                plan.health_timeout,
                plan.out("health.jsonl")?,
            ))
        })
        .transpose()?;

    // Watch until the end.
    let mut samples = Tail::new(plan.file("resources.jsonl"));
    let mut watch = Tail::new(plan.file("logscan-follow.jsonl"));
    let mut early_findings = Tail::new(plan.file("resanalyze-follow.jsonl"));
    let mut last_sample = Value::Null;
    let mut leak_estimate = "leak: not yet judged".to_string();
    let mut sample_count = 0u64;
    let mut events = 0u64;
    let mut warnings: Vec<String> = Vec::new();
    let tty = std::io::stderr().is_terminal();
    let mut next_progress = Instant::now() + Duration::from_secs(5);
    let stopped_because = loop {
        for s in samples.read_new() {
            if s["type"] == "sample" {
                sample_count += 1;
                last_sample = s;
            }
        }
        let mut hang = None;
        for r in watch.read_new() {
            events += 1;
            if r["type"] == "finding" && r["kind"] == "hang" {
                hang = Some(
                    r["message"]
                        .as_str()
                        .unwrap_or("heartbeat silent")
                        .to_string(),
                );
            }
        }
        for f in early_findings.read_new() {
            if f["type"] == "event" && f["event"] == "estimate" {
                leak_estimate = estimate_text(&f);
            }
            if f["type"] == "finding" {
                let msg = format!(
                    "early warning: {}",
                    f["message"].as_str().unwrap_or(&f.to_string())
                );
                eprintln!("soak: {msg}");
                warnings.push(msg);
            }
        }
        if let Some(h) = hang {
            break format!("hang detected ({h})");
        }
        if !service.running() {
            break format!(
                "the service exited on its own ({})",
                status_text(service.status)
            );
        }
        if let Some(silent) = poller
            .as_ref()
            .and_then(|p| p.snapshot().silent_for(Instant::now()))
            .filter(|s| *s > plan.gap)
        {
            break format!(
                "hang detected (the health endpoint gave no answer for {})",
                format_duration(Duration::from_secs(silent.as_secs()))
            );
        }
        if let Some(sig) = term.requested() {
            break format!("{} received", Termination::name(sig));
        }
        if started.elapsed() >= plan.duration {
            break "duration reached".to_string();
        }
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(5);
            let avail = poller.as_ref().map(|p| {
                p.snapshot()
                    .availability_percent()
                    .map_or(", health: not answered yet".into(), |a| {
                        format!(", up {a:.1} %")
                    })
            });
            let line = format!(
                "soak: {} / {}: {sample_count} samples, tree RSS {} MB, {leak_estimate}, {events} log events{}",
                format_duration(Duration::from_secs(started.elapsed().as_secs())),
                format_duration(plan.duration),
                last_sample["tree_memory_mb"]
                    .as_f64()
                    .map_or("-".into(), |m| format!("{m:.1}")),
                avail.unwrap_or_default()
            );
            if tty {
                eprint!("\r{line}\x1b[K");
            } else {
                eprintln!("{line}");
            }
        }
        term.sleep(Duration::from_millis(200));
    };
    let ran_for = started.elapsed();
    if tty {
        eprintln!();
    }
    eprintln!("soak: stopping: {stopped_because}");

    // Stop, in order; every path comes through here. Health polling ends first: a service
    // being stopped on purpose is not an outage.
    let stopping_unix = unix_now();
    let ending = if service.running() {
        Ending::StoppedBySoak
    } else {
        Ending::OnItsOwn
    };
    let health = poller.map(|p| p.finish(ending == Ending::OnItsOwn));
    let service_status = service.stop(plan.shutdown + Duration::from_secs(5));
    // A clean stop disarms the switch (SIGTERM); after a hard death it is left to fire, so
    // the exchange cancels what the service left open (SIGKILL: the dead-man cannot disarm).
    if let Some(mut d) = dead_man.take() {
        if ending == Ending::StoppedBySoak && service_status.is_some_and(clean_stop) {
            d.stop(Duration::from_secs(10));
        } else {
            eprintln!(
                "soak: the service did not stop cleanly: the dead-man switch is left to fire within {}",
                args.dead_man_timeout
            );
            drop(d);
        }
    }
    let stop_unix = unix_now();
    if !resmon.wait_for(Duration::from_secs(10)) {
        resmon.stop(Duration::from_secs(5));
    }
    watchdog.stop(Duration::from_secs(5));
    early.stop(Duration::from_secs(5));
    budget.stop(Duration::from_secs(10));
    eprintln!(
        "soak: service stopped ({}); analysing",
        status_text(service_status)
    );

    let orders = match &exchange {
        Some((name, url, state)) => Some(check_orders(
            &plan,
            name,
            url.as_deref(),
            state.as_deref(),
            args,
            &key,
            &secret,
        )?),
        None => None,
    };
    let _ = plan
        .tool("zombiereap")
        .args(["scan", "--format", "jsonl"])
        .stdout(plan.out("zombies.jsonl")?)
        .status();
    plan.tool("resanalyze")
        .arg(plan.file("resources.jsonl"))
        .args(["--format", "jsonl", "--write-analysis"])
        .arg(plan.file("resources.analysis.json"))
        .arg("--plot")
        .arg(plan.file("resources.svg"))
        .args(&trend_args)
        .stdout(plan.out("resanalyze.jsonl")?)
        .status()
        .context("starting resanalyze")?;
    plan.tool("logscan")
        .args(log_parts(&plan.dir, "service.log"))
        .args([
            "--format",
            "jsonl",
            "--no-events",
            "--end-time",
            &format!("{stop_unix:.3}"),
        ])
        .args(heartbeat_args(&plan, args))
        .args([
            "--max-errors-per-hour",
            &args.max_errors_per_hour.to_string(),
        ])
        .stdout(plan.out("logscan.jsonl")?)
        .status()
        .context("starting logscan")?;
    if let Some(mut s) = sim {
        s.stop(Duration::from_secs(5));
    }
    // Before anything is uploaded: the exchange keys' values and known key shapes.
    let mut scan = plan.tool("seccheck");
    scan.args(["secrets", "--format", "jsonl"]);
    // Only the variables this run has: an unset one is nothing to look for (and seccheck
    // refuses a watched variable that is not set).
    let watched: Vec<&str> = SECRET_VARS
        .iter()
        .copied()
        .filter(|v| {
            args.demo && v.starts_with("BYBIT")
                || std::env::var_os(v).is_some_and(|x| !x.is_empty())
        })
        .collect();
    if !watched.is_empty() {
        // A set but too-short value is reported by seccheck as a warning, not a refusal: the
        // artifacts are still scanned for every key shape.
        scan.args(["--env", &watched.join(","), "--allow-missing-env"]);
    }
    scan.arg(&plan.dir)
        .stdout(plan.out("secrets.jsonl")?)
        .stderr(plan.out("secrets.stderr")?);
    if args.demo {
        scan.env("BYBIT_API_KEY", &key)
            .env("BYBIT_API_SECRET", &secret);
    }
    scan.status().context("starting seccheck")?;
    drop(scan);

    // Before the verdict: compress what will be uploaded and hold it to the budget, so the
    // disk row judges what is uploaded (the summaries and the plot stay as they are).
    let _ = plan
        .tool("logrotate")
        .args([
            "--compress",
            "--compress-after",
            "0s",
            "--max-total",
            &args.max_total,
            "--format",
            "jsonl",
        ])
        .args([
            "--exclude",
            "summary.*",
            "--exclude",
            "*.svg",
            "--exclude",
            "logrotate-final.jsonl",
        ])
        .arg(&plan.dir)
        .stdout(plan.out("logrotate-final.jsonl")?)
        .status();
    let verdict = judge(&Inputs {
        args,
        dir: &plan.dir,
        duration: plan.duration,
        gap: plan.gap,
        max_total: plan.max_total,
        startup_grace: plan.startup_grace,
        ran_for,
        stopped_because: &stopped_because,
        ending,
        stop_unix: stopping_unix,
        health: health.as_ref(),
        orders: orders.as_ref(),
        audit: &audit,
        warnings: &warnings,
    });
    verdict.write(&dir)?;
    // The page a person opens; the verdict stands without it.
    match report::write_report(&dir) {
        Ok(path) => eprintln!("soak: report: {}", path.display()),
        Err(e) => eprintln!("soak: report.html not written: {e:#}"),
    }
    print!("\n{}", verdict.to_text());
    println!("records: {}", dir.display());
    if let Some(url) = &args.notify
        && let Err(e) = notify(url, &verdict)
    {
        eprintln!("soak: --notify {url}: {e:#}");
    }
    Ok(verdict.ok())
}

/// The progress line's leak estimate from resanalyze's `estimate` event.
fn estimate_text(e: &Value) -> String {
    match (e["leak_verdict"].as_str(), e["slope_mb_per_hour"].as_f64()) {
        (Some("insufficient_data") | None, _) => "leak: too little data yet".into(),
        (Some(verdict), Some(slope)) => {
            format!("leak est. {slope:+.1} MB/h ({})", verdict.replace('_', " "))
        }
        (Some(verdict), None) => format!("leak: {}", verdict.replace('_', " ")),
    }
}

/// The heartbeat flags both logscan passes get, so the live watchdog and the final verdict
/// judge by one rule: armed at the log's first heartbeat, silent logs never a hang.
fn heartbeat_args(plan: &Plan, args: &SoakArgs) -> Vec<String> {
    let mut v = vec![
        "--max-heartbeat-gap".to_string(),
        format!("{}ms", plan.gap.as_millis()),
        "--heartbeat-optional".to_string(),
    ];
    for re in &args.heartbeat_regex {
        v.extend(["--heartbeat-regex".to_string(), re.clone()]);
    }
    v
}

/// A stop the soak asked for: 0, or the conventional statuses of SIGTERM and SIGINT.
fn clean_stop(s: std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    matches!(s.code(), Some(0 | 130 | 143))
        || matches!(s.signal(), Some(libc::SIGTERM | libc::SIGINT))
}

/// The command as a shell would take it back: words with spaces or quotes are quoted.
fn shell_words(words: &[String]) -> String {
    words
        .iter()
        .map(|w| {
            let plain = !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
            if plain {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_text(s: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match s {
        Some(s) if s.code().is_some() => format!("exit status {}", s.code().unwrap_or_default()),
        Some(s) => format!("signal {}", s.signal().unwrap_or_default()),
        None => "still running".into(),
    }
}

/// The parts of a rotated log in the order they were written: `name.STAMP[.N][.gz|.zst]`
/// oldest first (by stamp, then N), then the live file.
fn log_parts(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut parts: Vec<((u64, u64), PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_str()?.to_string();
            let rest = file.strip_prefix(name)?.strip_prefix('.')?;
            let rest = rest
                .strip_suffix(".gz")
                .or_else(|| rest.strip_suffix(".zst"))
                .unwrap_or(rest);
            let (stamp, n) = rest.split_once('.').unwrap_or((rest, "0"));
            Some(((stamp.parse().ok()?, n.parse().ok()?), e.path()))
        })
        .collect();
    parts.sort();
    let mut out: Vec<PathBuf> = parts.into_iter().map(|(_, p)| p).collect();
    out.push(dir.join(name));
    out
}

fn wait_for_file(path: &Path, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(t) = std::fs::read_to_string(path)
            && t.ends_with('\n')
        {
            return Some(t.trim().to_string());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

fn free_bytes(dir: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).ok()?;
    let mut s = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: statvfs writes into the zeroed struct we own; the path is NUL-terminated.
    let rc = unsafe { libc::statvfs(c.as_ptr(), s.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs succeeded.
    let s = unsafe { s.assume_init() };
    Some(s.f_bavail * s.f_frsize)
}

/// Preflight for an exchange: Kraken's cancel-all-after switch kept armed for as long as the
/// service lives (`orphan-cancel dead-man --pid`). Bybit has no REST timer (its DCP lives on
/// the bot's own WebSocket), so there the orphan check after the run is the safety net.
fn arm_dead_man(
    plan: &Plan,
    exchange: Option<&(String, Option<String>, Option<PathBuf>)>,
    service_pid: i32,
    args: &SoakArgs,
) -> Result<Option<Proc>> {
    let Some((name, url, _)) = exchange else {
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
fn check_orders(
    plan: &Plan,
    exchange: &str,
    url: Option<&str>,
    state: Option<&Path>,
    args: &SoakArgs,
    key: &str,
    secret: &str,
) -> Result<Value> {
    let Some(state) = state else {
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

/// Posts the verdict: JSON with a `text` field (Slack and Telegram-bridge webhooks read it).
fn notify(url: &str, v: &Verdict) -> Result<()> {
    let mut body = v.to_json();
    body["text"] = Value::String(format!("```\n{}```", v.to_text()));
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build(),
    );
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .context("sending")?;
    if !resp.status().is_success() {
        bail!("HTTP {}", resp.status());
    }
    Ok(())
}
