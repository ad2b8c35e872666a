//! The Linux `run`: zombiereap as a child subreaper, signals forwarded, orphans reaped,
//! leftovers killed through the /proc kill-tree.

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::{SIGALRM, SIGCHLD};
use soak_core::proc::ProcessTable;
use soak_core::record::Record;

use super::{FORWARDED, RunError, RunOptions, RunReport, catch, event, spawn, stop_signal};
use crate::killtree::{self, Fate, KillOptions};

/// Runs `argv` under supervision; every event is passed to `emit`.
pub fn run(
    argv: &[String],
    opts: &RunOptions,
    emit: &mut dyn FnMut(Record),
) -> Result<RunReport, RunError> {
    let sys = |what| {
        move |e: nix::errno::Errno| RunError::System {
            what,
            source: e.into(),
        }
    };
    nix::sys::prctl::set_child_subreaper(true).map_err(sys("PR_SET_CHILD_SUBREAPER"))?;
    let mut wanted: Vec<i32> = FORWARDED.to_vec();
    wanted.extend([SIGCHLD, SIGALRM]);
    let mut signals = catch(&wanted)?;
    // The Child handle is dropped without waiting: this module reaps with waitpid(-1).
    let child = spawn(argv, |command| {
        if opts.group {
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
    })?;
    let pid = child.id() as i32;
    drop(child);
    emit(
        event("start")
            .with("pid", pid)
            .with("command", argv.to_vec())
            .with("group", opts.group),
    );

    if let Some(timeout) = opts.timeout {
        std::thread::spawn(move || {
            std::thread::sleep(timeout);
            let _ = signal_hook::low_level::raise(SIGALRM);
        });
    }
    let mut report = RunReport {
        pid,
        ..RunReport::default()
    };
    'supervise: for sig in signals.forever() {
        match sig {
            SIGCHLD => {
                reap(pid, &mut report, emit);
                if report.exit_code.is_some() || report.signal.is_some() {
                    break 'supervise;
                }
            }
            SIGALRM => {
                report.timed_out = true;
                emit(event("timeout").with("pid", pid));
                kill_tree_of(pid, opts.grace, &mut report, emit, false);
            }
            s => {
                let target = if opts.group {
                    Pid::from_raw(-pid)
                } else {
                    Pid::from_raw(pid)
                };
                if let Ok(signal) = Signal::try_from(s) {
                    if kill(target, signal).is_ok() {
                        emit(report.forwarded(pid, signal.as_str(), stop_signal(s)));
                    }
                }
            }
        }
    }
    emit(
        event("target_exit")
            .with("pid", pid)
            .with("exit_code", report.exit_code)
            .with("signal", report.signal),
    );
    cleanup(opts.grace, &mut report, emit);
    Ok(report)
}

/// Reaps every exited child; notes the command's own status.
fn reap(pid: i32, report: &mut RunReport, emit: &mut dyn FnMut(Record)) {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) => {
                if p.as_raw() == pid {
                    report.exit_code = Some(code);
                } else {
                    report.reaped += 1;
                    emit(
                        event("reaped")
                            .with("pid", p.as_raw())
                            .with("exit_code", code),
                    );
                }
            }
            Ok(WaitStatus::Signaled(p, s, _)) => {
                if p.as_raw() == pid {
                    report.signal = Some(s as i32);
                } else {
                    report.reaped += 1;
                    emit(
                        event("reaped")
                            .with("pid", p.as_raw())
                            .with("signal", s.as_str()),
                    );
                }
            }
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

fn kill_tree_of(
    root: i32,
    grace: Duration,
    report: &mut RunReport,
    emit: &mut dyn FnMut(Record),
    leftovers: bool,
) {
    let opts = KillOptions {
        signal: Signal::SIGTERM,
        timeout: grace,
        dry_run: false,
    };
    if let Ok(outcomes) = killtree::kill_tree(root, opts) {
        for o in &outcomes {
            if leftovers && matches!(o.fate, Fate::Exited | Fate::Killed) {
                report.killed += 1;
            }
            emit(killtree::action(o, &opts));
        }
    }
}

/// Kills whatever descendants are left (all re-parented to us by now) and reaps them.
fn cleanup(grace: Duration, report: &mut RunReport, emit: &mut dyn FnMut(Record)) {
    let me = std::process::id() as i32;
    for _round in 0..5 {
        let children: Vec<i32> = match ProcessTable::snapshot() {
            Ok(t) => t
                .children_of(me)
                .iter()
                .copied()
                .filter(|c| t.get(*c).is_some_and(|s| !s.is_zombie()))
                .collect(),
            Err(_) => Vec::new(),
        };
        let mut reaped_any = false;
        for c in &children {
            kill_tree_of(*c, grace, report, emit, true);
        }
        // Reap what was killed (and any zombie left from before), quietly: each was reported.
        while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            if matches!(status, WaitStatus::StillAlive) {
                break;
            }
            reaped_any = true;
        }
        if children.is_empty() && !reaped_any {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
