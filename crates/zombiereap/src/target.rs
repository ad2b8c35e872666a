//! A process to signal, pinned so that a recycled PID is never hit.
//!
//! A [`Target`] is captured from a stat (PID + start time). Where the kernel has pidfds
//! (Linux ≥ 5.3), a pidfd is opened and the start time re-checked *after* opening it: from then
//! on the fd names that very process and signals go through it. Without pidfds the start time
//! is re-checked right before each `kill(2)`, which leaves only a microseconds-wide window.

use std::os::fd::{AsFd, OwnedFd};

use nix::sys::signal::Signal;
use soak_core::proc::{ProcError, ProcStat, ProcessIdentity, read_stat};

/// A captured process.
#[derive(Debug)]
pub struct Target {
    /// PID and start time.
    pub identity: ProcessIdentity,
    /// Its parent when captured.
    pub ppid: i32,
    /// Its short name.
    pub comm: String,
    pidfd: Option<OwnedFd>,
}

impl Target {
    /// Pins the process described by `stat`. Fails with `Gone` when it has already exited or
    /// its PID was reused since `stat` was read.
    pub fn capture(stat: &ProcStat) -> Result<Target, ProcError> {
        let pidfd = soak_core::sys::pidfd_open(stat.pid);
        let now = read_stat(stat.pid)?;
        if now.start_ticks != stat.start_ticks {
            return Err(ProcError::Gone(stat.pid));
        }
        Ok(Target {
            identity: stat.identity(),
            ppid: now.ppid,
            comm: now.comm,
            pidfd,
        })
    }

    /// The PID.
    pub fn pid(&self) -> i32 {
        self.identity.pid
    }

    /// True when signals go through a pidfd.
    pub fn has_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    /// True once the process has exited: gone, a zombie, or its PID reused.
    pub fn has_exited(&self) -> bool {
        match read_stat(self.identity.pid) {
            Ok(s) => s.start_ticks != self.identity.start_ticks || s.is_zombie(),
            Err(_) => true,
        }
    }

    /// Sends `signal` to this very process: [`ProcError::Gone`] once it has exited (or its
    /// PID names another process), [`ProcError::PermissionDenied`] when not allowed.
    pub fn signal(&self, signal: Signal) -> Result<(), ProcError> {
        let pid = self.identity.pid;
        let errno = match &self.pidfd {
            Some(fd) => match soak_core::sys::pidfd_signal(fd.as_fd(), signal as i32) {
                Ok(()) => return Ok(()),
                Err(e) => nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)),
            },
            None => {
                if !self.identity.is_alive() {
                    return Err(ProcError::Gone(pid));
                }
                match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal) {
                    Ok(()) => return Ok(()),
                    Err(e) => e,
                }
            }
        };
        Err(match errno {
            nix::errno::Errno::ESRCH => ProcError::Gone(pid),
            nix::errno::Errno::EPERM => ProcError::PermissionDenied(pid),
            other => ProcError::Other {
                pid,
                message: other.desc().to_string(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn a_stale_identity_is_never_signalled() {
        let mut child = Command::new("sleep").arg("30").spawn().expect("spawn");
        let pid = child.id() as i32;
        let mut stat = read_stat(pid).expect("stat");
        // A stat from "before": same PID, another start time, as after PID reuse.
        stat.start_ticks += 1;
        assert!(matches!(Target::capture(&stat), Err(ProcError::Gone(_))));
        // The real one is captured, signalled, and seen to exit.
        let real = Target::capture(&read_stat(pid).expect("stat")).expect("capture");
        assert!(!real.has_exited());
        real.signal(Signal::SIGTERM).expect("signal");
        child.wait().expect("reap");
        assert!(real.has_exited());
        assert!(matches!(
            real.signal(Signal::SIGTERM),
            Err(ProcError::Gone(_))
        ));
    }
}
