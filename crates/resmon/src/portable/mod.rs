//! Off Linux (Windows, macOS): the system, the target's tree, resmon itself and the processes
//! `--name` looks at, read through `sysinfo`, the portable process-metrics crate, plus the
//! few figures it does not give (thread counts). Linux keeps its cheaper /proc readers.
//!
//! Each reader fills the same records as on Linux; a figure the OS does not give is an
//! `Err` with the reason, which the sample names in `unavailable` (never a zero).

pub mod own;
pub mod procs;
pub mod system;
pub mod threads;
pub mod tree;

pub(crate) use soak_core::portable_proc::{new_system, pid_of, sys_pid};
use sysinfo::{Process, ProcessStatus};

/// False for a process that has exited and waits to be reaped (macOS zombies; Windows has
/// none).
fn running(p: &Process) -> bool {
    !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead)
}
