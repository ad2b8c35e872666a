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

use sysinfo::{Pid, Process, ProcessStatus};

/// A sysinfo PID as resmon's `i32` (PIDs above `i32::MAX` do not occur on these systems).
fn pid_of(p: Pid) -> Option<i32> {
    i32::try_from(p.as_u32()).ok()
}

/// resmon's `i32` PID as sysinfo's.
fn sys_pid(pid: i32) -> Option<Pid> {
    u32::try_from(pid).ok().map(Pid::from_u32)
}

/// False for a process that has exited and waits to be reaped (macOS zombies; Windows has
/// none).
fn running(p: &Process) -> bool {
    !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead)
}

/// A fresh, empty sysinfo view; it only fails where sysinfo cannot work at all.
fn new_system() -> Result<sysinfo::System, String> {
    sysinfo::System::new().map_err(|e| format!("sysinfo: {e}"))
}
