//! The processes a soak starts: each in its own process group (a Ctrl-C on the terminal
//! reaches only the xtask, which then stops everything in order), stopped politely with a
//! deadline, and killed by group when a guard is dropped on any failure path.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// A started process, killed (whole group) when dropped and not yet finished.
pub struct Proc {
    /// What it is, for messages.
    pub name: String,
    /// The child.
    pub child: Child,
    /// Its exit status once reaped.
    pub status: Option<ExitStatus>,
}

impl Proc {
    /// Starts `cmd` in a new process group.
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Proc> {
        let child = cmd
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name} ({cmd:?})"))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            status: None,
        })
    }

    /// The PID.
    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Reaps it if it ended; true while it runs.
    pub fn running(&mut self) -> bool {
        if self.status.is_none()
            && let Ok(Some(s)) = self.child.try_wait()
        {
            self.status = Some(s);
        }
        self.status.is_none()
    }

    /// Sends `signal` to the process (not its group).
    pub fn signal(&self, signal: i32) {
        if self.status.is_none() {
            // Our own child, not reaped yet: its PID cannot have been reused.
            let _ = soak_core::sys::signal_pid(self.pid(), signal);
        }
    }

    /// Waits until it ends or `timeout` passes; true when it ended.
    pub fn wait_for(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.running() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        true
    }

    /// SIGTERM, wait up to `grace`, then SIGKILL the whole group; returns the exit status.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        if !self.wait_for(grace) {
            eprintln!(
                "soak: {} did not stop within {:.0?} of SIGTERM; killing its process group",
                self.name, grace
            );
            self.kill_group();
            self.wait_for(Duration::from_secs(5));
        }
        self.status
    }

    fn kill_group(&mut self) {
        // The process group we created for this child.
        let _ = soak_core::sys::signal_group(self.pid(), libc::SIGKILL);
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.running() {
            self.kill_group();
            let _ = self.child.wait();
        }
    }
}
