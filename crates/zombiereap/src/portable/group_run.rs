//! `zombiereap run` on macOS, which has no child subreaper: the command leads its own process
//! group, zombiereap forwards SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 to that
//! group, and when the command ends (or `--timeout` fires) every process left in the group
//! gets SIGTERM, then SIGKILL after `--grace`. A descendant that left the group (`setsid`,
//! a daemon) is out of its reach: `zombiereap kill-tree` on the command finds those by
//! parent while the command runs.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use soak_core::record::Record;

use super::leftovers::{Leftovers, end};
use crate::supervise::{
    FORWARDED, RunError, RunOptions, RunReport, catch, event, spawn, stop_signal,
};
use soak_core::portable_proc::Snapshot;

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

/// A process group's leftovers: SIGTERM to the group, SIGKILL to what is left after the grace.
struct Group(i32);

impl Leftovers for Group {
    const FORCE_NAME: &'static str = "SIGKILL";

    fn members(&self) -> Vec<i64> {
        members(self.0).into_iter().map(i64::from).collect()
    }

    fn ask(&self) -> Option<&'static str> {
        killpg(Pid::from_raw(self.0), Signal::SIGTERM)
            .is_ok()
            .then_some("SIGTERM")
    }

    fn force(&self) -> bool {
        killpg(Pid::from_raw(self.0), Signal::SIGKILL).is_ok()
    }
}

/// Runs `argv` as the leader of its own process group; every event is passed to `emit`.
pub fn run(
    argv: &[String],
    opts: &RunOptions,
    emit: &mut dyn FnMut(Record),
) -> Result<RunReport, RunError> {
    let mut signals = catch(&FORWARDED)?;
    let mut child = spawn(argv, |command| {
        command.process_group(0);
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
                    emit(report.forwarded(pid, s.as_str(), stop_signal(sig)));
                }
            }
        }
        if !report.timed_out && opts.timeout.is_some_and(|t| started.elapsed() >= t) {
            report.timed_out = true;
            emit(event("timeout").with("pid", pid));
            end(&Group(pid), opts.grace, false, &mut report, emit);
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
    end(&Group(pid), opts.grace, true, &mut report, emit);
    Ok(report)
}
