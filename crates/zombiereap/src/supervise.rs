//! `zombiereap run`: run a command so that nothing it starts outlives it.
//!
//! zombiereap makes itself a *child subreaper* (`PR_SET_CHILD_SUBREAPER`), so every process the
//! command orphans (a daemonizing double fork, a crashed parent's workers) is re-parented to
//! zombiereap instead of init. It reaps them as they exit, forwards SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT, SIGUSR1 and SIGUSR2 to the command (to its whole process group with `--group`), and
//! when the command ends (or `--timeout` fires, which kills the command's tree gracefully) it
//! kills every descendant left, gracefully with `--grace`, then by force. Its exit status is the
//! command's, or 128 + N when a signal N ended it, as tini's is.

#[cfg(target_os = "linux")]
use std::process::Command;
use std::time::Duration;

#[cfg(target_os = "linux")]
use nix::sys::signal::{Signal, kill};
#[cfg(target_os = "linux")]
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
#[cfg(target_os = "linux")]
use nix::unistd::Pid;
#[cfg(target_os = "linux")]
use signal_hook::consts::{SIGALRM, SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
#[cfg(target_os = "linux")]
use signal_hook::iterator::Signals;
#[cfg(target_os = "linux")]
use soak_core::proc::ProcessTable;
use soak_core::record::{Record, RecordType};

#[cfg(target_os = "linux")]
use crate::killtree::{self, Fate, KillOptions};

/// Signals passed on to the command.
#[cfg(target_os = "linux")]
pub const FORWARDED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// How `run` behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Kill the command's tree gracefully after this long.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when killing leftovers or on timeout.
    pub grace: Duration,
    /// Start the command in its own process group and forward signals to the whole group.
    pub group: bool,
}

/// Why the supervisor could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command could not be started.
    #[error("cannot start '{command}': {source}")]
    Spawn {
        /// The command's name.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The system refused an operation the supervisor needs.
    #[error("{what}: {source}")]
    System {
        /// What was attempted.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What happened, for the summary and the exit status.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The command's PID.
    pub pid: i32,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// `--timeout` fired.
    pub timed_out: bool,
    /// Orphaned descendants reaped while the command ran.
    pub reaped: u64,
    /// Descendants left when the command ended, then killed.
    pub killed: u64,
    /// Signals forwarded to the command.
    pub forwarded: u64,
    /// The last stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT) forwarded to the command: its
    /// end by that signal is the stop someone asked for, not a failure.
    pub stop_requested: Option<i32>,
}

impl RunReport {
    /// The status to exit with: the command's, or 128 + signal.
    pub fn status(&self) -> u8 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => u8::try_from(c).unwrap_or(1),
            (None, Some(s)) => u8::try_from(128 + s).unwrap_or(255),
            (None, None) => 1,
        }
    }

    /// The command ended as asked: exit 0, or by the stop signal forwarded to it (directly, or
    /// as the conventional 128 + N), and the timeout did not fire.
    pub fn ended_cleanly(&self) -> bool {
        if self.timed_out {
            return false;
        }
        let by_request = self
            .stop_requested
            .is_some_and(|sig| self.signal == Some(sig) || self.exit_code == Some(128 + sig));
        self.status() == 0 || by_request
    }
}

/// An `event` record of a supervised run.
pub(crate) fn event(name: &str) -> Record {
    Record::new(RecordType::Event, "zombiereap").with("event", name)
}

/// Runs `argv` under supervision; every event is passed to `emit`.
#[cfg(target_os = "linux")]
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
    let mut signals = Signals::new(&wanted).map_err(|source| RunError::System {
        what: "installing signal handlers",
        source,
    })?;

    let (program, args) = argv.split_first().ok_or_else(|| RunError::Spawn {
        command: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"),
    })?;
    let mut command = Command::new(program);
    command.args(args);
    if opts.group {
        use std::os::unix::process::CommandExt;
        command.process_group(0);
    }
    // The Child handle is dropped without waiting: this module reaps with waitpid(-1).
    let child = command.spawn().map_err(|source| RunError::Spawn {
        command: program.clone(),
        source,
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
                        report.forwarded += 1;
                        if matches!(s, SIGTERM | SIGINT | SIGHUP | SIGQUIT) {
                            report.stop_requested = Some(s);
                        }
                        emit(
                            event("forwarded")
                                .with("pid", pid)
                                .with("signal", signal.as_str()),
                        );
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
#[cfg(target_os = "linux")]
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

#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
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

/// The `summary` record of a supervised run.
pub fn summary(r: &RunReport) -> Record {
    Record::new(RecordType::Summary, "zombiereap")
        .with("command", "run")
        .with("pid", r.pid)
        .with("exit_code", r.exit_code)
        .with("signal", r.signal)
        .with("exit_status", r.status())
        .with("timed_out", r.timed_out)
        .with("orphans_reaped", r.reaped)
        .with("leftovers_killed", r.killed)
        .with("signals_forwarded", r.forwarded)
        .with("stop_requested", r.stop_requested)
        .with("ok", r.ended_cleanly())
}
