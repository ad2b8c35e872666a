//! `resmon`: records a service's resources to JSONL through a long soak run: the system
//! (the seed monitor's fields), the target process and its whole tree, and resmon's own
//! overhead, one `sample` per tick of a fixed-rate clock, plus `event` records (start,
//! target_exit, target_restart, stop). Optionally exposes the latest sample to Prometheus.
//!
//! - [`system`]: system-wide metrics from /proc and statvfs;
//! - [`tree`]: the target's process tree, read from its own /proc files;
//! - [`target`]: PIDs, pid files, names and launched commands, re-attachment on restart;
//! - [`schedule`]: the fixed-rate clock and missed ticks;
//! - [`sample`]: assembling a record with the seed's field names;
//! - [`waiter`]: sleeping until the next tick, woken by signals and target exits;
//! - [`prom`]: OpenMetrics endpoint and node_exporter textfile;
//! - [`watch`]: sizes of watched files and directories;
//! - [`cgroup`], [`cgtarget`], [`resolve`]: a cgroup's own accounting (`--cgroup`,
//!   `--container`, `--unit`), its OOM kills and restarts;
//! - [`stream`]: the output stream, JSONL or CSV (`--format`);
//! - [`summary`]: the Markdown summary of a run (`--summary-md`);
//! - `portable` (Windows, macOS): the system, tree, target and self readers through sysinfo;
//!   `windows`: a launched command's Ctrl+Break, the wait on process handles, CPU times and
//!   volume sizes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use regex::Regex;
use serde_json::{Value, json};
use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, environment, usage};
use soak_core::jsonl::JsonlWriter;
use soak_core::output::Format;
use soak_core::pathtext::shown;
use soak_core::record::{Record, RecordType};
use soak_core::report::Report;
use soak_core::signals::Termination;

pub mod cgroup;
pub mod cgtarget;
#[cfg(not(target_os = "linux"))]
pub mod portable;
pub mod procfile;
pub mod prom;
pub mod resolve;
pub mod sample;
pub mod schedule;
pub mod stream;
pub mod summary;
pub mod system;
pub mod target;
pub mod tree;
#[cfg(unix)]
pub mod waiter;
pub mod watch;
#[cfg(windows)]
pub mod windows;
#[cfg(windows)]
pub use windows::waiter;

use cgtarget::{CgroupEvent, CgroupTarget, Source, TargetSetupError};
use sample::{Host, Parts, SelfReader, TOOL};
use schedule::Schedule;
use stream::Stream;
use summary::RunSummary;
use system::SystemReader;
use target::{Change, Spec, TargetError, Targets};
use tree::TreeReader;
use waiter::Waiter;

/// Longest CPU warm-up before the first sample (shorter when the interval is).
const WARMUP: Duration = Duration::from_millis(200);
/// How long a launched command gets to end after resmon forwards a signal to it.
const CHILD_GRACE: Duration = Duration::from_secs(10);

const AFTER_HELP: &str = "\
Examples:
  # Record the system every minute until stopped (Ctrl-C writes a last sample, exits 130)
  resmon --output artifacts/soak/resources.jsonl

  # Launch a service, record it and its children every second, exit with its status
  resmon --interval 1s --output res.jsonl -- python3 bot.py --config cfg.toml

  # Follow a service by name across restarts for 72 hours, with the size of its logs
  resmon --name 'run_bot\\.py' --duration 72h --watch-path logs/ -o res.jsonl

  # A container's cgroup as docker stats sees it (memory, limit, OOM kills, throttling)
  resmon --container novapulse --interval 10s --duration 72h -o res.jsonl

  # 10 Hz for 10 minutes on a PID, PSS every 50th sample, Prometheus scrape endpoint
  resmon --pid 4242 --interval 100ms --duration 10m --pss-every 50 --listen 127.0.0.1:9464

  # The samples as CSV for a spreadsheet, and a Markdown summary of the run (peaks, events)
  resmon --pid 4242 -i 10s -d 1h -f csv -o res.csv --summary-md summary.md

Every sample holds the seed monitor's fields (cpu_percent, memory_used_mb, process_memory_mb,
...) plus tree totals (tree_memory_mb, tree_fds, ...), elapsed_s and resmon's own overhead.
A metric that cannot be read is null and named in `unavailable`.
Exit codes: 0 done (duration, count, SIGTERM, target gone, stdout closed); 2 bad flag, zero
interval, bad --listen address, a --format other than jsonl or csv, or missing PID; 3
unwritable output or port in use; 130 SIGINT;
with a command: the command's own status (128+N for signal N).";

/// Command-line interface of `resmon`.
#[derive(Debug, Parser)]
#[command(
    name = "resmon",
    version,
    about = "Record a service's resources (system, process tree, own overhead) to JSONL",
    after_help = AFTER_HELP,
    mut_arg("format", |a| a.hide_possible_values(true).help(
        "Stream format: jsonl (every record; the default, also on a terminal) or csv (the \
         samples, one row each under a header of the first sample's fields)"
    )),
    mut_arg("output", |a| a.help(
        "Append the stream here (parent directories created, never through a symbolic \
         link; a CSV header only into an empty file); stdout when absent"
    )),
    mut_arg("summary_md", |a| a.help(
        "At the end, append a Markdown summary here: samples, duration, why it ended, the \
         target's peak RSS and CPU, the events (default under GitHub Actions: \
         $GITHUB_STEP_SUMMARY)"
    )),
    mut_arg("quiet", |a| a.help(
        "Write no samples on stdout (with --listen or --prom-textfile alone); --output \
         and --summary-md still get theirs"
    )),
)]
pub struct Cli {
    /// Time between samples (sub-second allowed: 100ms).
    #[arg(long, short = 'i', default_value = "60s", value_parser = soak_core::units::clap_interval)]
    pub interval: Duration,

    /// Stop after this long (samples due at 0, interval, ... strictly before it).
    #[arg(long, short = 'd', value_parser = soak_core::units::clap_interval)]
    pub duration: Option<Duration>,

    /// Stop after this many samples.
    #[arg(long, short = 'n', value_parser = clap::value_parser!(u64).range(1..))]
    pub count: Option<u64>,

    /// The stream's format and destination, the run's summary, quiet (`-f`, `-o`,
    /// `--summary-md`, `-q`).
    #[command(flatten)]
    pub output: OutputArgs,

    /// fsync every line (power-loss safety; costs a disk flush per sample).
    #[arg(long)]
    pub fsync: bool,

    /// The filesystem whose disk_* fields are reported (default: the output's, else /).
    #[arg(long)]
    pub disk_path: Option<PathBuf>,

    /// Report the size of this file or directory as watch_<slug>_bytes (repeatable).
    #[arg(long = "watch-path", value_name = "PATH")]
    pub watch_paths: Vec<PathBuf>,

    /// Follow this process (repeatable; the first one fills the process_* fields).
    #[arg(long = "pid", value_name = "PID", conflicts_with_all = ["pid_file", "name", "command"])]
    pub pids: Vec<i32>,

    /// Follow the process whose PID this file holds (re-read when it restarts).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["name", "command"])]
    pub pid_file: Option<PathBuf>,

    /// Follow the oldest process whose command line matches REGEX, re-attaching after
    /// restarts.
    #[arg(long, value_name = "REGEX", conflicts_with = "command")]
    pub name: Option<String>,

    /// Count the target alone, not its descendants.
    #[arg(long)]
    pub no_tree: bool,

    /// Add PSS/USS of the tree (smaps_rollup, costly) every Nth sample.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pss_every: Option<u64>,

    /// Serve the latest sample as OpenMetrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// Write the latest sample to this node_exporter textfile (atomically) after each sample.
    #[arg(long, value_name = "PATH")]
    pub prom_textfile: Option<PathBuf>,

    /// Also record this cgroup's own accounting (memory as `docker stats` counts it, limit,
    /// OOM kills, CPU and throttling, pids, pressure): its path in the hierarchy
    /// (`/system.slice/x.service`) or its directory under /sys/fs/cgroup; v1 or v2 detected.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["container", "unit"])]
    pub cgroup: Option<String>,

    /// Record the cgroup of this container (`docker inspect`, else `podman inspect`); a new
    /// init PID is a `container_restart` event.
    #[arg(long, value_name = "NAME|ID", conflicts_with = "unit")]
    pub container: Option<String>,

    /// Record the cgroup of this systemd unit (`systemctl show -p ControlGroup -p MainPID`).
    #[arg(long, value_name = "NAME")]
    pub unit: Option<String>,

    /// Where the cgroup hierarchy is mounted (tests point it at a fixture tree).
    #[arg(long, value_name = "DIR", default_value = cgroup::DEFAULT_ROOT, hide = true)]
    pub cgroup_root: PathBuf,

    /// Launch this command and follow it to its end (after `--`).
    #[arg(last = true, value_name = "CMD")]
    pub command: Vec<String>,
}

/// The cgroup named by `--cgroup`, `--container` or `--unit`: a name that does not exist
/// is bad input (2), a tool that cannot answer (no docker daemon, no systemd) the
/// environment's failure (3).
fn open_cgroup(cli: &Cli) -> anyhow::Result<Option<CgroupTarget>> {
    let source = match (&cli.cgroup, &cli.container, &cli.unit) {
        (Some(p), _, _) => Source::Path(p.clone()),
        (_, Some(c), _) => Source::Container(c.clone()),
        (_, _, Some(u)) => Source::Unit(u.clone()),
        _ => return Ok(None),
    };
    if !cfg!(target_os = "linux") {
        return Err(environment(
            "--cgroup/--container/--unit work on Linux only",
        ));
    }
    CgroupTarget::open(&cli.cgroup_root, source)
        .map(Some)
        .map_err(|e| match &e {
            TargetSetupError::Resolve(resolve::ResolveError::Environment { .. }) => environment(e),
            _ => usage(e),
        })
}

fn target_spec(cli: &Cli) -> anyhow::Result<Spec> {
    Ok(if !cli.command.is_empty() {
        Spec::Command(cli.command.clone())
    } else if let Some(re) = &cli.name {
        Spec::Name(Regex::new(re).map_err(|e| usage(format!("--name '{re}': {e}")))?)
    } else if let Some(p) = &cli.pid_file {
        Spec::PidFile(p.clone())
    } else if !cli.pids.is_empty() {
        Spec::Pids(cli.pids.clone())
    } else {
        Spec::None
    })
}

/// A listen address must be `IP:PORT` (or `localhost:PORT`): anything else is bad input
/// (exit 2), found before any socket is opened; only a failing bind is the environment's (3).
fn check_listen(addr: &str) -> anyhow::Result<()> {
    let local_port = addr
        .strip_prefix("localhost:")
        .is_some_and(|p| p.parse::<u16>().is_ok());
    if local_port || addr.parse::<std::net::SocketAddr>().is_ok() {
        Ok(())
    } else {
        Err(usage(format!(
            "--listen {addr}: expected IP:PORT, e.g. 127.0.0.1:9464, [::1]:9464 or 0.0.0.0:0"
        )))
    }
}

/// The output file, opened for appending; its failure named once (not the OS error twice)
/// and the path shown without loss.
fn open_output(path: &Path, fsync: bool) -> anyhow::Result<JsonlWriter> {
    JsonlWriter::append_file(path, fsync).map_err(|e| match e {
        soak_core::CoreError::Write { source, .. } => {
            environment(format!("cannot write {}: {source}", shown(path)))
        }
        other => environment(other),
    })
}

/// The filesystem to report: `--disk-path`, else the output's directory, else `/`.
fn disk_path(cli: &Cli) -> PathBuf {
    if let Some(p) = &cli.disk_path {
        return p.clone();
    }
    cli.output
        .output
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .or_else(|| cli.output.output.as_ref().map(|_| PathBuf::from(".")))
        .unwrap_or_else(|| PathBuf::from("/"))
}

fn exit_status_code(status: std::process::ExitStatus) -> u8 {
    match (status.code(), target::signal_of(status)) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
        (None, Some(s)) => u8::try_from((128 + s).min(255)).unwrap_or(255),
        _ => 1,
    }
}

/// Everything the loop writes to and reads from.
struct Monitor {
    out: Stream,
    summary: RunSummary,
    started: Instant,
    host: Host,
    system: SystemReader,
    tree: TreeReader,
    me: SelfReader,
    watches: Vec<watch::Watch>,
    latest: Option<prom::Latest>,
    textfile: Option<PathBuf>,
    textfile_warned: bool,
    pss_every: Option<u64>,
    samples: u64,
    missed_total: u64,
    cgroup: Option<CgroupTarget>,
    /// stdout was closed by its reader (`| head -1`): nothing more is written, the run ends.
    out_closed: bool,
}

impl Monitor {
    fn event(&mut self, name: &str) -> Record {
        Record::new(RecordType::Event, TOOL)
            .with("event", name)
            .with("elapsed_s", self.started.elapsed().as_secs_f64())
    }

    fn write(&mut self, rec: &Record) -> anyhow::Result<()> {
        self.summary.observe(rec);
        if self.out_closed {
            return Ok(());
        }
        match self.out.write(rec) {
            Err(soak_core::CoreError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe =>
            {
                self.out_closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    fn sample(&mut self, seq: u64, missed: u64, targets: &Targets) -> anyhow::Result<()> {
        let system = self.system.sample();
        let pids = targets.pids();
        let pss = self.pss_every.is_some_and(|n| seq % n == 0);
        let tree = targets.has_target().then(|| self.tree.sample(&pids, pss));
        let sizes: Vec<(String, system::Metric<u64>)> = self
            .watches
            .iter()
            .map(|w| (w.field.clone(), watch::size(&w.path)))
            .collect();
        let (cg, cg_events) = match &mut self.cgroup {
            Some(t) => {
                let (s, e) = t.sample();
                (Some(s), e)
            }
            None => (None, Vec::new()),
        };
        let rec = sample::build(&Parts {
            seq,
            missed,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            host: &self.host,
            system: &system,
            tree: tree.as_ref(),
            monitor: self.me.sample(),
            watches: &sizes,
            cgroup: cg.as_ref(),
        });
        self.write(&rec)?;
        for e in cg_events {
            let ev = self.cgroup_event(e);
            self.write(&ev)?;
        }
        self.samples += 1;
        self.missed_total += missed;
        self.publish(&rec)
    }

    fn cgroup_event(&mut self, e: CgroupEvent) -> Record {
        match e {
            CgroupEvent::OomKill {
                total,
                new,
                memory_mb,
                limit_mb,
            } => self
                .event("oom_kill")
                .with("oom_kills", total)
                .with("new_oom_kills", new)
                .with("cgroup_memory_mb", memory_mb)
                .with("cgroup_memory_limit_mb", limit_mb),
            CgroupEvent::Restart {
                old_pid,
                new_pid,
                restart_count,
                cgroup,
            } => self
                .event("container_restart")
                .with("old_pid", old_pid)
                .with("new_pid", new_pid)
                .with("restart_count", restart_count)
                .with("cgroup", cgroup),
        }
        .with(
            "target",
            self.cgroup
                .as_ref()
                .map_or(Value::Null, CgroupTarget::describe),
        )
    }

    fn publish(&mut self, rec: &Record) -> anyhow::Result<()> {
        if let Some(latest) = &self.latest {
            let text = prom::render(rec, &self.watches, prom::Format::OpenMetrics);
            if let Ok(mut slot) = latest.lock() {
                *slot = text;
            }
        }
        if let Some(path) = &self.textfile {
            let text = prom::render(rec, &self.watches, prom::Format::Text);
            if let Err(e) = prom::write_textfile(path, &text) {
                // The first write decides whether the path works at all; a later failure
                // (a full disk) must not end a 72-hour recording.
                if self.samples <= 1 {
                    return Err(environment(e));
                }
                if !self.textfile_warned {
                    eprintln!("resmon: warning: {e}");
                    self.textfile_warned = true;
                }
            }
        }
        Ok(())
    }

    fn changes(
        &mut self,
        changes: Vec<Change>,
        waiter: &mut Waiter,
        targets: &Targets,
    ) -> anyhow::Result<()> {
        for change in changes {
            let rec = match change {
                Change::Exited {
                    pid,
                    exit_code,
                    signal,
                } => {
                    waiter.unwatch(pid);
                    self.event("target_exit")
                        .with("pid", pid)
                        .with("exit_code", exit_code)
                        .with("signal", signal)
                        .with("signal_name", signal.map(signal_name))
                }
                Change::Attached { old, new } => {
                    waiter.watch(new);
                    match old {
                        Some(old) => self
                            .event("target_restart")
                            .with("old_pid", old)
                            .with("new_pid", new),
                        None => self.event("target_attach").with("pid", new),
                    }
                    .with("target", targets.describe())
                }
            };
            self.write(&rec)?;
        }
        Ok(())
    }
}

/// Sends `sig` to a launched command still running, waits for it ([`CHILD_GRACE`], then
/// SIGKILL) and records its exit.
fn end_child(
    m: &mut Monitor,
    targets: &mut Targets,
    waiter: &mut Waiter,
    sig: i32,
) -> anyhow::Result<()> {
    if targets.child_pid().is_none() || targets.child_status().is_some() {
        return Ok(());
    }
    targets.forward_signal(sig);
    let deadline = Instant::now() + CHILD_GRACE;
    let mut killed = false;
    while targets.child_status().is_none() {
        if !killed && Instant::now() >= deadline {
            targets.forward_signal(target::SIGKILL);
            killed = true;
        }
        waiter.wait(Duration::from_millis(50));
        let changes = targets.refresh();
        m.changes(changes, waiter, targets)?;
    }
    Ok(())
}

fn signal_name(sig: i32) -> String {
    #[cfg(windows)]
    return soak_core::signals::Termination::name(sig).to_string();
    #[cfg(unix)]
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("SIG{sig}"))
}

/// The sampling loop: returns why it ended (`target_exit`, `signal`, `duration`, `count`,
/// `stdout_closed`).
fn record(
    m: &mut Monitor,
    targets: &mut Targets,
    waiter: &mut Waiter,
    term: &Termination,
    schedule: &Schedule,
    count: Option<u64>,
) -> anyhow::Result<&'static str> {
    let clock = Instant::now();
    let mut next = 0u64;
    let mut missed = 0u64;
    // Targets are checked when a wait ends early (a signal, a pidfd saying one exited), and
    // at each tick only when something cannot wake us: no pidfd, or a service to look for.
    let mut check = true;
    let needs_check = |wake: waiter::Wake, waiter: &Waiter, targets: &Targets| {
        wake != waiter::Wake::Timeout || targets.searching() || !waiter.covers(&targets.pids())
    };
    let reason = loop {
        if m.out_closed {
            break "stdout_closed";
        }
        if check {
            let changes = targets.refresh();
            m.changes(changes, waiter, targets)?;
            check = false;
        }
        if targets.finished() {
            break "target_exit";
        }
        if let Some(sig) = term.requested() {
            end_child(m, targets, waiter, sig)?;
            m.sample(next, 0, targets)?;
            break "signal";
        }
        let now = clock.elapsed();
        if !schedule.within(next) {
            let end = schedule.duration.unwrap_or_default();
            match end.checked_sub(now).filter(|d| !d.is_zero()) {
                Some(left) => {
                    let wake = waiter.wait(left);
                    check = needs_check(wake, waiter, targets);
                    continue;
                }
                None => break "duration",
            }
        }
        let due = schedule.due(next);
        if let Some(left) = due.checked_sub(now).filter(|d| !d.is_zero()) {
            let wake = waiter.wait(left);
            check = needs_check(wake, waiter, targets);
            continue;
        }
        m.sample(next, missed, targets)?;
        if count.is_some_and(|c| m.samples >= c) {
            break "count";
        }
        (next, missed) = schedule.next_after(next, clock.elapsed());
    };
    Ok(reason)
}

/// Runs resmon until its duration, count, target or a signal ends it.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let spec = target_spec(&cli)?;
    // A recorder streams: JSONL unless told, also on a terminal.
    let format = cli.output.format.unwrap_or(Format::Jsonl);
    stream::check_format(format).map_err(usage)?;
    if let Some(addr) = &cli.listen {
        check_listen(addr)?;
    }
    let cgroup = open_cgroup(&cli)?;
    let term = Termination::install().context("installing signal handlers")?;
    let mut waiter = Waiter::new().context("installing signal handlers")?;

    let (out, header_due) = match &cli.output.output {
        Some(path) => {
            let empty = std::fs::symlink_metadata(path).map_or(true, |m| m.len() == 0);
            (open_output(path, cli.fsync)?, empty)
        }
        None if cli.output.quiet => (JsonlWriter::from_writer(std::io::sink(), "-"), true),
        // A recorder whose reader has gone stops (`resmon | head`), so it needs the closed
        // pipe's error, not core's stdout that absorbs it for the checking tools.
        None => (JsonlWriter::from_writer(std::io::stdout(), "-"), true),
    };
    let out = match format {
        Format::Csv => Stream::csv(out, header_due),
        _ => Stream::jsonl(out),
    };
    let stdout_is_ours = cli.output.output.is_none() && !cli.output.quiet;
    let disk = disk_path(&cli);
    let (latest, listen_addr) = match &cli.listen {
        Some(addr) => {
            let (latest, bound) = prom::serve(addr).map_err(environment)?;
            (Some(latest), Some(bound.to_string()))
        }
        None => (None, None),
    };
    let mut targets = Targets::start(spec, stdout_is_ours).map_err(|e| match &e {
        TargetError::Spawn { source, .. } if source.kind() != std::io::ErrorKind::NotFound => {
            environment(e)
        }
        _ => usage(e),
    })?;
    if let Some(re) = &cli.name {
        if targets.pids().is_empty() {
            eprintln!("resmon: no process matches --name '{re}' yet; waiting for one");
        }
    }
    for pid in targets.pids() {
        waiter.watch(pid);
    }

    let watches = watch::watches(&cli.watch_paths);
    let mut m = Monitor {
        out,
        summary: RunSummary::default(),
        started,
        host: Host::read(),
        system: SystemReader::new(&disk),
        tree: TreeReader::new(!cli.no_tree),
        me: SelfReader::new(),
        watches,
        latest,
        textfile: cli.prom_textfile.clone(),
        textfile_warned: false,
        pss_every: cli.pss_every,
        samples: 0,
        missed_total: 0,
        cgroup,
        out_closed: false,
    };
    let watch_map: serde_json::Map<String, Value> = m
        .watches
        .iter()
        .map(|w| (w.field.clone(), Value::from(shown(&w.path))))
        .collect();
    let start = m
        .event("start")
        .with("interval_s", cli.interval.as_secs_f64())
        .with("duration_s", cli.duration.map(|d| d.as_secs_f64()))
        .with("count", cli.count)
        .with("target", targets.describe())
        .with("pid", targets.pids().first().copied())
        .with("tree", !cli.no_tree)
        .with(
            "cgroup",
            m.cgroup
                .as_ref()
                .map_or(Value::Null, CgroupTarget::describe),
        )
        .with("pss_every", cli.pss_every)
        .with("output", cli.output.output.as_deref().map(shown))
        .with("disk_path", shown(&disk))
        .with("watch_paths", Value::Object(watch_map))
        .with("listen", listen_addr)
        .with("prom_textfile", cli.prom_textfile.as_deref().map(shown))
        .with("fsync", cli.fsync)
        .with("hostname", m.host.hostname.clone())
        .with("platform", m.host.platform.clone())
        .with("monitor_version", sample::VERSION)
        .with(
            "config",
            json!({"argv": std::env::args_os().map(|a| shown(Path::new(&a))).collect::<Vec<_>>()}),
        );
    m.write(&start)?;

    // CPU baselines, then a short warm-up so the first sample's CPU % is measured.
    m.system.prime();
    m.tree.prime(&targets.pids());
    let _ = m.me.sample();
    let warmup = WARMUP.min(cli.interval);
    let warm_end = Instant::now() + warmup;
    while let Some(left) = warm_end.checked_duration_since(Instant::now()) {
        if left.is_zero() || waiter.wait(left) == waiter::Wake::Signal {
            break;
        }
    }

    let schedule = Schedule {
        interval: cli.interval,
        duration: cli.duration,
    };
    let recorded = record(
        &mut m,
        &mut targets,
        &mut waiter,
        &term,
        &schedule,
        cli.count,
    );
    let reason = match recorded {
        Ok(reason) => reason,
        Err(e) => {
            // The output failed: stop a launched command rather than orphan it.
            let _ = end_child(
                &mut m,
                &mut targets,
                &mut waiter,
                soak_core::signals::SIGTERM,
            );
            return Err(e);
        }
    };

    // A command that outlives the recording (duration, count) is stopped like `timeout`
    // stops it; its own status is passed through only when it ended by itself.
    end_child(
        &mut m,
        &mut targets,
        &mut waiter,
        soak_core::signals::SIGTERM,
    )?;
    let code = match (reason, targets.child_status()) {
        ("target_exit", Some(status)) => ExitCode::Child(exit_status_code(status)),
        // 130 for SIGINT, 0 for a requested stop (SIGTERM, SIGHUP).
        ("signal", _) => term
            .requested()
            .map_or(ExitCode::Success, ExitCode::from_signal),
        _ => ExitCode::Success,
    };
    let stop = m
        .event("stop")
        .with("reason", reason)
        .with("signal", term.requested().map(signal_name))
        .with("samples", m.samples)
        .with("missed_samples", m.missed_total)
        .with("exit_code", code.code());
    m.write(&stop)?;
    // The stream is written; the Markdown summary goes only to --summary-md (or the step
    // summary), never to stdout.
    let summary_only = OutputArgs {
        format: Some(Format::Markdown),
        output: None,
        quiet: true,
        summary_md: cli.output.summary_md.clone(),
    };
    Report::new(TOOL, m.summary)
        .exit(code)
        .finish(&summary_only)
}
