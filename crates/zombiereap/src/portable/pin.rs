//! Members of a tree pinned to their processes, asked to stop and ended, per OS.

#[cfg(windows)]
pub use windows_impl::*;

#[cfg(unix)]
pub use unix_impl::*;

#[cfg(windows)]
mod windows_impl {
    pub use crate::windows::process::{Pinned, pin};

    use crate::Signal;

    /// The forced end, as the records name it.
    pub const FORCE: &str = "TerminateProcess";

    /// Ctrl+Break to `root`'s console process group. zombiereap swallows the event itself
    /// meanwhile (when the root leads no group Windows may deliver it to the whole console).
    pub fn ask(root: i32, signal: Signal, _members: &[&Pinned]) -> Result<&'static str, String> {
        let _swallow = soak_core::signals::Termination::install()
            .map_err(|e| format!("console handler: {e}"))?;
        crate::windows::console::ctrl_break(root)
            .map(|()| signal.as_str())
            .map_err(|e| format!("{} to PID {root}'s group: {e}", signal.as_str()))
    }
}

#[cfg(unix)]
mod unix_impl {
    use std::time::{Duration, Instant};

    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;

    use crate::killtree::Fate;

    /// The forced end, as the records name it.
    pub const FORCE: &str = "SIGKILL";

    /// A process known by PID and start time, re-checked before every signal.
    #[derive(Debug)]
    pub struct Pinned {
        pid: i32,
        start: u64,
    }

    /// `pid` if it still is the process that started at `start`.
    pub fn pin(pid: i32, start: u64) -> Result<Pinned, Fate> {
        let p = Pinned { pid, start };
        if p.exited() {
            return Err(Fate::AlreadyGone);
        }
        match kill(Pid::from_raw(pid), None) {
            Err(nix::errno::Errno::EPERM) => Err(Fate::PermissionDenied),
            Err(_) => Err(Fate::AlreadyGone),
            Ok(()) => Ok(p),
        }
    }

    impl Pinned {
        /// True once it has exited (a zombie has) or its PID names another process.
        pub fn exited(&self) -> bool {
            soak_core::portable_proc::read(self.pid)
                .is_none_or(|p| p.zombie || p.start != self.start)
        }

        fn send(&self, sig: Signal) -> bool {
            !self.exited() && kill(Pid::from_raw(self.pid), sig).is_ok()
        }

        /// Waits up to `timeout` for it to exit; true when it has.
        pub fn wait(&self, timeout: Duration) -> bool {
            let deadline = Instant::now() + timeout;
            while !self.exited() {
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            true
        }

        /// SIGKILL; false when it was refused.
        pub fn force(&self) -> bool {
            self.exited() || self.send(Signal::SIGKILL)
        }
    }

    /// `signal` to every member.
    pub fn ask(_root: i32, signal: Signal, members: &[&Pinned]) -> Result<&'static str, String> {
        for m in members {
            m.send(signal);
        }
        Ok(signal.as_str())
    }
}
