//! Sleeping until the next tick, woken early by a termination signal or by a target's exit.
//!
//! Signals (SIGINT, SIGTERM, SIGHUP) write to a socket pair; each target has a pidfd
//! (`pidfd_open(2)`, Linux ≥ 5.3) that becomes readable when it exits, whether or not it is
//! resmon's child. One `poll(2)` waits on all of them, so a target's end is seen at once
//! instead of at the next tick (which may be a minute away). On macOS a kqueue watching the
//! process for `NOTE_EXIT` stands in for the pidfd. Without either the target's end is
//! noticed at the next tick.

use std::io::{self, Read};
#[cfg(target_os = "macos")]
use std::os::fd::FromRawFd;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

pub use crate::wake::Wake;

/// Waits on the signal pipe and the targets' pidfds.
#[derive(Debug)]
pub struct Waiter {
    signals: UnixStream,
    pidfds: Vec<(i32, OwnedFd)>,
}

/// macOS's counterpart of a pidfd: a kqueue watching `pid` for its exit
/// (`EVFILT_PROC`/`NOTE_EXIT`), readable once it has exited; `None` when it is gone.
#[cfg(target_os = "macos")]
pub fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: kqueue takes nothing and returns a new descriptor or -1.
    let kq = unsafe { libc::kqueue() };
    if kq < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this descriptor; nothing else owns it.
    let kq = unsafe { OwnedFd::from_raw_fd(kq) };
    // SAFETY: an all-zero kevent is valid; its fields are then set.
    let mut change: libc::kevent = unsafe { std::mem::zeroed() };
    change.ident = usize::try_from(pid).ok()?;
    change.filter = libc::EVFILT_PROC;
    change.flags = libc::EV_ADD | libc::EV_ONESHOT;
    change.fflags = libc::NOTE_EXIT;
    // SAFETY: one change in, no events out, no timeout; the descriptor is open.
    let rc = unsafe {
        libc::kevent(
            std::os::fd::AsRawFd::as_raw_fd(&kq),
            &change,
            1,
            std::ptr::null_mut(),
            0,
            std::ptr::null(),
        )
    };
    (rc == 0).then_some(kq)
}

/// Where there is neither a pidfd nor a kqueue: a target's end is noticed at the next tick.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub fn pidfd_open(_pid: i32) -> Option<OwnedFd> {
    None
}

/// A pidfd for `pid`, or `None` where the kernel has no `pidfd_open` or the process is gone.
#[cfg(target_os = "linux")]
pub use soak_core::sys::pidfd_open;

impl Waiter {
    /// Routes SIGINT/SIGTERM/SIGHUP to the wake pipe (call after `Termination::install`).
    pub fn new() -> io::Result<Self> {
        let (read, write) = UnixStream::pair()?;
        write.set_nonblocking(true)?;
        read.set_nonblocking(true)?;
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal_hook::low_level::pipe::register(sig, write.try_clone()?)?;
        }
        Ok(Waiter {
            signals: read,
            pidfds: Vec::new(),
        })
    }

    /// Wakes when `pid` exits (no-op without pidfd support).
    pub fn watch(&mut self, pid: i32) {
        if self.pidfds.iter().any(|(p, _)| *p == pid) {
            return;
        }
        if let Some(fd) = pidfd_open(pid) {
            self.pidfds.push((pid, fd));
        }
    }

    /// True when every one of `pids` has a pidfd: their exits wake [`Waiter::wait`], so
    /// nobody needs to poll /proc to notice them.
    pub fn covers(&self, pids: &[i32]) -> bool {
        pids.iter().all(|p| self.pidfds.iter().any(|(q, _)| q == p))
    }

    /// Stops watching `pid`.
    pub fn unwatch(&mut self, pid: i32) {
        self.pidfds.retain(|(p, _)| *p != pid);
    }

    /// Sleeps up to `timeout`; returns early on a signal or a watched exit.
    pub fn wait(&mut self, timeout: Duration) -> Wake {
        let mut fds = Vec::with_capacity(1 + self.pidfds.len());
        fds.push(PollFd::new(self.signals.as_fd(), PollFlags::POLLIN));
        for (_, fd) in &self.pidfds {
            fds.push(PollFd::new(fd.as_fd(), PollFlags::POLLIN));
        }
        // Round up so a wait never ends a hair before the tick is due.
        let ms = timeout.as_micros().div_ceil(1000);
        let timeout = PollTimeout::try_from(i32::try_from(ms).unwrap_or(i32::MAX))
            .unwrap_or(PollTimeout::MAX);
        match poll(&mut fds, timeout) {
            Ok(0) | Err(_) => return Wake::Timeout,
            Ok(_) => {}
        }
        let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
        if ready(&fds[0]) {
            drop(fds);
            let mut buf = [0u8; 64];
            while matches!((&self.signals).read(&mut buf), Ok(n) if n > 0) {}
            return Wake::Signal;
        }
        let exited = fds[1..].iter().position(ready).map(|i| self.pidfds[i].0);
        drop(fds);
        match exited {
            Some(pid) => {
                self.unwatch(pid);
                Wake::Exited(pid)
            }
            None => Wake::Timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_when_a_watched_process_exits() {
        let mut child = std::process::Command::new("sleep")
            .arg("0.2")
            .spawn()
            .expect("spawn sleep");
        let pid = child.id() as i32;
        let mut w = Waiter::new().expect("waiter");
        w.watch(pid);
        if w.pidfds.is_empty() {
            eprintln!("skipped: no pidfd_open on this kernel");
            let _ = child.wait();
            return;
        }
        let mut got = Wake::Timeout;
        for _ in 0..600 {
            got = w.wait(Duration::from_millis(100));
            if got != Wake::Timeout {
                break;
            }
        }
        let _ = child.wait();
        assert_eq!(got, Wake::Exited(pid));
        assert!(w.pidfds.is_empty());
    }
}
