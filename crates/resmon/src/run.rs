//! A run from start to end: the setup, the start event, the CPU warm-up, the sampling loop on
//! the fixed-rate clock, then the stop event, the summary and the exit code.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use soak_core::cli::OutputArgs;
use soak_core::exit::{ExitCode, environment, usage};
use soak_core::jsonl::JsonlWriter;
use soak_core::output::Format;
use soak_core::pathtext::shown;
use soak_core::report::Report;
use soak_core::signals::Termination;

use crate::cgtarget::CgroupTarget;
use crate::cli::Cli;
use crate::monitor::{Monitor, end_child, signal_name};
use crate::sample::{self, Host, SelfReader, TOOL};
use crate::schedule::Schedule;
use crate::setup::{check_listen, disk_path, open_cgroup, open_output, target_spec};
use crate::stream::{self, Stream};
use crate::summary::RunSummary;
use crate::system::SystemReader;
use crate::target::{self, TargetError, Targets};
use crate::tree::TreeReader;
use crate::waiter::{self, Waiter};
use crate::{prom, watch};

/// Longest CPU warm-up before the first sample (shorter when the interval is).
const WARMUP: Duration = Duration::from_millis(200);
fn exit_status_code(status: std::process::ExitStatus) -> u8 {
    match (status.code(), target::signal_of(status)) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
        (None, Some(s)) => u8::try_from((128 + s).min(255)).unwrap_or(255),
        _ => 1,
    }
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
    // Attached PIDs that all ended before the first sample leave nothing recorded of them:
    // never a pass (exit 0), but the same answer as a PID that was not there at all.
    let unsampled = reason == "target_exit" && targets.child_pid().is_none() && m.samples == 0;
    let code = match (reason, targets.child_status()) {
        _ if unsampled => ExitCode::Usage,
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
    let code = Report::new(TOOL, m.summary)
        .exit(code)
        .finish(&summary_only)?;
    if unsampled {
        let pids: Vec<String> = cli.pids.iter().map(i32::to_string).collect();
        return Err(usage(format!(
            "--pid {}: ended before the first sample; nothing of it was recorded",
            pids.join(",")
        )));
    }
    Ok(code)
}
