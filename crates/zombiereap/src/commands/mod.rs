//! The subcommands, one module each, each returning its [`Report`] (with what the dispatcher
//! needs after writing it): the Linux work through /proc, pidfds and the subreaper here, the
//! same commands through [`crate::portable`] elsewhere.

pub mod kill_tree;
pub mod reap;
pub mod run;
pub mod scan;

#[cfg(target_os = "linux")]
use soak_core::exit::usage;
use soak_core::exit::{ExitCode, environment};
#[cfg(target_os = "linux")]
use soak_core::proc::ProcError;
use soak_core::report::Report;
use soak_core::signals::Termination;

/// Catches SIGINT, SIGTERM and SIGHUP for a command that must not stop half-way: a tree
/// frozen with SIGSTOP is always killed or let go, never left stopped.
pub(crate) fn interruptible() -> anyhow::Result<Termination> {
    Termination::install().map_err(|e| environment(format!("installing signal handlers: {e}")))
}

/// The report, ending with 130 when SIGINT arrived while the command ran (its work done).
pub(crate) fn interrupted(report: Report, term: &Termination) -> Report {
    match term.requested().map(ExitCode::from_signal) {
        Some(code) if code != ExitCode::Success => report.exit(code),
        _ => report,
    }
}

/// A /proc failure as the exit code it means: a vanished PID is bad usage, the rest the
/// environment's.
#[cfg(target_os = "linux")]
pub(crate) fn proc_error(e: ProcError) -> anyhow::Error {
    match e {
        ProcError::Gone(pid) => usage(format!("PID {pid}: no such process")),
        ProcError::PermissionDenied(_) => environment(e),
        ProcError::Other { .. } => environment(e),
    }
}
