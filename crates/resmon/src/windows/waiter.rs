//! Sleeping until the next tick, woken early by a console event (Ctrl+C, Ctrl+Break, the
//! console closing) or by a target's exit: each target's process handle is signalled when it
//! exits, whether or not it is resmon's child, and `WaitForMultipleObjects` waits on them in
//! short slices between which the console flag is looked at (a console handler cannot wake
//! a waiting thread itself).

use std::io;
use std::os::windows::io::{AsRawHandle, OwnedHandle};
use std::time::{Duration, Instant};

use soak_core::signals::Termination;
use windows_sys::Win32::Foundation::{WAIT_OBJECT_0, WAIT_TIMEOUT};
use windows_sys::Win32::System::Threading::PROCESS_SYNCHRONIZE;
use windows_sys::Win32::System::Threading::WaitForMultipleObjects;

/// At most this many targets are waited on (`MAXIMUM_WAIT_OBJECTS`); more are noticed at the
/// next tick.
const MAX_HANDLES: usize = 64;
/// How often the console flag is looked at during a wait.
const SLICE: Duration = Duration::from_millis(20);

pub use crate::wake::Wake;

/// Waits on the console flag and the targets' process handles.
#[derive(Debug)]
pub struct Waiter {
    term: Termination,
    /// The console event already reported, so it wakes one wait, not every one after it.
    seen: Option<i32>,
    handles: Vec<(i32, OwnedHandle)>,
}

impl Waiter {
    /// Watches the console events (the handler `Termination::install` set).
    pub fn new() -> io::Result<Self> {
        Ok(Waiter {
            term: Termination::install()?,
            seen: None,
            handles: Vec::new(),
        })
    }

    /// Wakes when `pid` exits (no-op when it cannot be opened).
    pub fn watch(&mut self, pid: i32) {
        if self.handles.len() >= MAX_HANDLES || self.handles.iter().any(|(p, _)| *p == pid) {
            return;
        }
        if let Some(h) = super::open_process(pid, PROCESS_SYNCHRONIZE) {
            self.handles.push((pid, h));
        }
    }

    /// True when every one of `pids` has a handle: their exits wake [`Waiter::wait`].
    pub fn covers(&self, pids: &[i32]) -> bool {
        pids.iter()
            .all(|p| self.handles.iter().any(|(q, _)| q == p))
    }

    /// Stops watching `pid`.
    pub fn unwatch(&mut self, pid: i32) {
        self.handles.retain(|(p, _)| *p != pid);
    }

    /// Sleeps up to `timeout`; returns early on a console event or a watched exit.
    pub fn wait(&mut self, timeout: Duration) -> Wake {
        let deadline = Instant::now() + timeout;
        let raw: Vec<_> = self
            .handles
            .iter()
            .map(|(_, h)| h.as_raw_handle())
            .collect();
        loop {
            let now = self.term.requested();
            if now.is_some() && now != self.seen {
                self.seen = now;
                return Wake::Signal;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Wake::Timeout;
            }
            let slice = left.min(SLICE);
            if raw.is_empty() {
                std::thread::sleep(slice);
                continue;
            }
            let ms = u32::try_from(slice.as_millis().max(1)).unwrap_or(u32::MAX);
            // SAFETY: every handle in `raw` is owned by `self.handles`, open for this call.
            let r = unsafe { WaitForMultipleObjects(raw.len() as u32, raw.as_ptr(), 0, ms) };
            if r == WAIT_TIMEOUT {
                continue;
            }
            let i = r.wrapping_sub(WAIT_OBJECT_0) as usize;
            match self.handles.get(i).map(|(pid, _)| *pid) {
                Some(pid) => {
                    self.unwatch(pid);
                    return Wake::Exited(pid);
                }
                // WAIT_FAILED: wait out the slice rather than spin.
                None => std::thread::sleep(slice),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_when_a_watched_process_exits() {
        let mut child = std::process::Command::new("cmd")
            .args(["/C", "ping -n 2 127.0.0.1 >NUL"])
            .spawn()
            .expect("spawn cmd");
        let pid = child.id() as i32;
        let mut w = Waiter::new().expect("waiter");
        w.watch(pid);
        assert!(w.covers(&[pid]), "a child can be opened");
        let mut got = Wake::Timeout;
        for _ in 0..600 {
            got = w.wait(Duration::from_millis(100));
            if got != Wake::Timeout {
                break;
            }
        }
        let status = child.wait().expect("wait");
        assert!(status.success());
        assert_eq!(got, Wake::Exited(pid));
        assert!(!w.covers(&[pid]));
    }
}
