//! `zombiereap run` on macOS, which has no child subreaper: the command leads its own process
//! group, zombiereap forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to that
//! group, and when the command ends (or `--timeout` fires) every process left in the group
//! gets SIGTERM, then SIGKILL after `--grace`. A descendant that left the group (`setsid`,
//! a daemon) is out of its reach: `zombiereap kill-tree` on the command finds those by
//! parent while the command runs.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use soak_core::record::Record;

use super::leftovers::{Leftovers, end};
use crate::supervise::{RunError, RunOptions, RunReport, event};
use soak_core::portable_proc::Snapshot;

/// Signals passed on to the command's group.
const FORWARDED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];
/// How often the command, the signals and the timeout are looked at.
const POLL: Duration = Duration::from_millis(20);

/// The live processes whose process group is `group`.
fn members(group: i32) -> Vec<i32> {
    let Ok(snap) = Snapshot::take() else {
        return Vec::new();
    };
    snap.iter()
        .filter(|p| !p.zombie)
        // SAFETY: getpgid takes a PID and returns its group or -1.
        .filter(|p| unsafe { libc::getpgid(p.pid) } == group)
        .map(|p| p.pid)
        .collect()
}

/// SIGTERM to the group, up to `grace` for it to empty, then SIGKILL; `leftovers` (the
/// command has exited) counts them in the report.
fn end_group(
    group: i32,
    grace: Duration,
    leftovers: bool,
    report: &mut RunReport,
    emit: &mut dyn FnMut(Record),
) {
    let pg = Pid::from_raw(group);
    let members = || members(group).into_iter().map(i64::from).collect();
    let ask = || killpg(pg, Signal::SIGTERM).is_ok().then_some("SIGTERM");
    let force = || killpg(pg, Signal::SIGKILL).is_ok();
    let l = Leftovers {
        members: &members,
        ask: &ask,
        force: &force,
        force_name: "SIGKILL",
    };
    end(&l, grace, leftovers, report, emit);
}

/// Runs `argv` as the leader of its own process group; every event is passed to `emit`.
pub fn run(
    argv: &[String],
    opts: &RunOptions,
    emit: &mut dyn FnMut(Record),
) -> Result<RunReport, RunError> {
    let mut signals = Signals::new(FORWARDED).map_err(|source| RunError::System {
        what: "installing signal handlers",
        source,
    })?;
    let (program, args) = argv.split_first().ok_or_else(|| RunError::Spawn {
        command: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"),
    })?;
    let mut child = Command::new(program)
        .args(args)
        .process_group(0)
        .spawn()
        .map_err(|source| RunError::Spawn {
            command: program.clone(),
            source,
        })?;
    let pid = child.id() as i32;
    let mut report = RunReport {
        pid,
        ..RunReport::default()
    };
    emit(
        event("start")
            .with("pid", pid)
            .with("command", argv.to_vec())
            .with("group", true),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) => {}
            Err(_) => break None,
        }
        for sig in signals.pending() {
            if let Ok(s) = Signal::try_from(sig) {
                if killpg(Pid::from_raw(pid), s).is_ok() {
                    report.forwarded += 1;
                    if matches!(sig, SIGINT | SIGTERM | SIGHUP | SIGQUIT) {
                        report.stop_requested = Some(sig);
                    }
                    emit(
                        event("forwarded")
                            .with("pid", pid)
                            .with("signal", s.as_str()),
                    );
                }
            }
        }
        if !report.timed_out && opts.timeout.is_some_and(|t| started.elapsed() >= t) {
            report.timed_out = true;
            emit(event("timeout").with("pid", pid));
            end_group(pid, opts.grace, false, &mut report, emit);
        }
        std::thread::sleep(POLL);
    };
    report.exit_code = status.and_then(|s| s.code());
    report.signal = status.and_then(|s| s.signal());
    emit(
        event("target_exit")
            .with("pid", pid)
            .with("exit_code", report.exit_code)
            .with("signal", report.signal),
    );
    end_group(pid, opts.grace, true, &mut report, emit);
    Ok(report)
}
