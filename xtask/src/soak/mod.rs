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

mod args;
mod describe;
mod exchange;
mod files;
mod health;
mod judge;
mod notify;
mod preflight;
mod procs;
mod records;
pub mod report;
mod service;
mod tail;
pub mod verdict;

use std::fs::File;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use soak_core::signals::Termination;
use soak_core::units::{format_duration, parse_size};

pub use args::SoakArgs;
use args::{dur, regex_check};
use describe::{clean_stop, estimate_text, shell_words, status_text};
use exchange::{Exchange, arm_dead_man, check_orders, demo_credentials, start_simulator};
use files::{free_bytes, log_parts, wait_for_file};
use judge::{Ending, Inputs, judge};
use notify::notify;
use procs::Proc;
use service::{Attach, Service};
use tail::Tail;

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

/// Runs the soak; true when every row passed.
pub fn run(args: &SoakArgs) -> Result<bool> {
    let attach = match (&args.attach_pid, &args.attach_container, &args.attach_unit) {
        (Some(pid), _, _) => Some(Attach::Pid(*pid)),
        (_, Some(name), _) => Some(Attach::Container(name.clone())),
        (_, _, Some(name)) => Some(Attach::Unit(name.clone())),
        _ => None,
    };
    let modes = usize::from(args.demo)
        + usize::from(!args.command.is_empty())
        + usize::from(attach.is_some());
    if modes != 1 {
        bail!(
            "give one of --demo, a command after `--` (cargo xtask soak -- python3 bot.py), or \
             --attach-pid/--attach-container/--attach-unit"
        );
    }
    if attach.is_none() && (args.log_file.is_some() || args.log_cmd.is_some() || args.stop) {
        bail!(
            "--log-file, --log-cmd and --stop go with --attach-pid/--attach-container/--attach-unit"
        );
    }
    if let Some(a) = &attach {
        a.check()?;
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
    let mut exchange: Option<Exchange> = args.exchange.clone().map(|name| Exchange {
        name,
        url: args.exchange_url.clone(),
        state: args.state.clone(),
    });
    if args.demo {
        let (p, url) = start_simulator(&plan, &key, &secret)?;
        exchange = Some(Exchange {
            name: "bybit".into(),
            url: Some(url),
            state: Some(plan.file("active_orders.json")),
        });
        sim = Some(p);
    }

    // The service under zombiereap run.
    let command: Vec<String> = if args.demo {
        let url = exchange
            .as_ref()
            .and_then(|e| e.url.clone())
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
    let mut service = if let Some(target) = attach.clone() {
        let log_cmd: Option<Vec<String>> = args
            .log_cmd
            .as_deref()
            .map(|c| c.split_whitespace().map(str::to_string).collect())
            .or_else(|| {
                args.log_file
                    .is_none()
                    .then(|| target.default_log_cmd())
                    .flatten()
            });
        let log = match log_cmd.filter(|c| !c.is_empty()) {
            Some(cmd) => {
                let mut c = Command::new(&cmd[0]);
                c.args(&cmd[1..])
                    .stdin(Stdio::null())
                    .stdout(log.try_clone()?)
                    .stderr(log);
                Some(Proc::spawn("log command", &mut c)?)
            }
            None => None,
        };
        Service::Attached { target, log }
    } else {
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
        Service::Launched(Proc::spawn("service", &mut zr_cmd)?)
    };
    match &attach {
        Some(target) => eprintln!(
            "soak: attached to {} for {}; it is left running at the end{}",
            target.describe(),
            format_duration(plan.duration),
            if args.stop {
                " unless --stop (given)"
            } else {
                ""
            }
        ),
        None => eprintln!(
            "soak: service PID {} for {}: {}",
            service.pid().unwrap_or_default(),
            format_duration(plan.duration),
            shell_words(&command)
        ),
    }
    // The log logscan follows: the attached service's own file, or service.log.
    let service_log = args
        .log_file
        .clone()
        .unwrap_or_else(|| plan.file("service.log"));

    let mut dead_man = match service.pid() {
        Some(pid) => arm_dead_man(&plan, exchange.as_ref(), pid, args)?,
        None => None,
    };

    let mut resmon = Proc::spawn(
        "resmon",
        plan.tool("resmon")
            .args(service.resmon_args())
            .args(["--interval", &args.interval])
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
            .arg(&service_log)
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
            break match service.status() {
                Some(status) => format!(
                    "the service exited on its own ({})",
                    status_text(Some(status))
                ),
                None => "the service exited on its own (the attached process ended)".into(),
            };
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
    let service_status = service.stop(plan.shutdown + Duration::from_secs(5), args.stop);
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
        Some(e) => Some(check_orders(&plan, e, args, &key, &secret)?),
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
        .args(match &args.log_file {
            Some(f) => vec![f.clone()],
            None => log_parts(&plan.dir, "service.log"),
        })
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
        attached: attach.as_ref().map(Attach::describe),
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
    for pack in &args.log_pack {
        v.extend(["--pack".to_string(), pack.clone()]);
    }
    v
}
