//! The processes a soak starts: each in its own process group (a Ctrl-C on the terminal
//! reaches only the xtask, which then stops everything in order), stopped politely with a
//! deadline, and killed as a whole (its group, on Windows its Job Object) when a guard is
//! dropped on any failure path.
//!
//! On Unix the polite request is SIGTERM and the force SIGKILL to the process group. On
//! Windows each process leads its own console process group (`CREATE_NEW_PROCESS_GROUP`)
//! inside a kill-on-close Job Object of its own (zombiereap's [`Job`]): the request is
//! `CTRL_BREAK_EVENT` to that group, the force `TerminateJobObject`, and should the xtask
//! itself die, Windows closes its job handles and ends every process it started. When the
//! request cannot be delivered at all (no console to send it on: wine refuses
//! `GenerateConsoleCtrlEvent` with `CTRL_BREAK_EVENT`), the process is ended by force at once
//! and [`Proc::forced`] says why, so the verdict reads it as the soak's stop, not a crash.

use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
#[cfg(windows)]
use zombiereap::windows::job::Job;

/// How the soak asks a process to stop.
#[cfg(unix)]
pub const GRACEFUL: &str = "SIGTERM";
/// How the soak asks a process to stop.
#[cfg(windows)]
pub const GRACEFUL: &str = "Ctrl+Break";
/// How the soak ends a process that did not stop: the whole group (or job) at once.
#[cfg(unix)]
const FORCE: &str = "SIGKILL to its process group";
#[cfg(windows)]
const FORCE: &str = "TerminateJobObject on its job";

/// A started process, killed (whole group) when dropped and not yet finished.
pub struct Proc {
    /// What it is, for messages.
    pub name: String,
    /// The child.
    pub child: Child,
    /// Its exit status once reaped.
    pub status: Option<ExitStatus>,
    /// Why the soak ended it by force without a polite request first, when it did.
    pub forced: Option<String>,
    /// The kill-on-close job holding it and everything it starts.
    #[cfg(windows)]
    job: Job,
}

impl Proc {
    /// Starts `cmd` in a new process group (on Windows: a new console process group in a new
    /// kill-on-close job).
    pub fn spawn(name: &str, cmd: &mut Command) -> Result<Proc> {
        #[cfg(unix)]
        let child = {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0)
                .spawn()
                .with_context(|| format!("cannot start {name} ({cmd:?})"))?
        };
        #[cfg(windows)]
        let (child, job) = {
            let job = Job::new().with_context(|| format!("cannot start {name}"))?;
            let child = job
                .spawn(cmd)
                .with_context(|| format!("cannot start {name} ({cmd:?})"))?;
            (child, job)
        };
        Ok(Proc {
            name: name.to_string(),
            child,
            status: None,
            forced: None,
            #[cfg(windows)]
            job,
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

    /// Asks it (not its group) to stop: SIGTERM, or Ctrl+Break to the group it leads.
    fn ask_to_stop(&self) -> std::io::Result<()> {
        // Our own child, not reaped yet: its PID cannot have been reused.
        #[cfg(unix)]
        return soak_core::sys::signal_pid(self.pid(), libc::SIGTERM);
        #[cfg(windows)]
        zombiereap::windows::console::ctrl_break(self.pid())
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

    /// Asks it to stop ([`GRACEFUL`]), waits up to `grace`, then ends its whole group by
    /// force; returns the exit status. A request that cannot be delivered is said in one line
    /// and kept in [`Proc::forced`], and the force follows at once.
    pub fn stop(&mut self, grace: Duration) -> Option<ExitStatus> {
        if !self.running() {
            return self.status;
        }
        match self.ask_to_stop() {
            Ok(()) if self.wait_for(grace) => return self.status,
            Ok(()) => eprintln!(
                "soak: {} did not stop within {:.0?} of {GRACEFUL}; {FORCE}",
                self.name, grace
            ),
            Err(e) => {
                let why = format!("{GRACEFUL} could not be delivered ({e})");
                eprintln!(
                    "soak: {} (PID {}): {why}; ending it by force ({FORCE})",
                    self.name,
                    self.pid()
                );
                self.forced = Some(why);
            }
        }
        self.kill_group();
        self.wait_for(Duration::from_secs(5));
        self.status
    }

    fn kill_group(&mut self) {
        // The process group we created for this child.
        #[cfg(unix)]
        let _ = soak_core::sys::signal_group(self.pid(), libc::SIGKILL);
        #[cfg(windows)]
        self.job.terminate();
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

/// Stops a process the soak did not start (`--attach-pid` with `--stop`): [`GRACEFUL`], then
/// after `grace` SIGKILL (on Windows `TerminateProcess` through a handle opened before the
/// request, so a reused PID is never hit). Ctrl+Break reaches it only when it leads a console
/// process group on the soak's console; otherwise the wait is skipped.
pub fn stop_pid(pid: i32, grace: Duration) {
    use soak_core::alive::is_running;
    let wait = |grace: Duration| {
        let deadline = Instant::now() + grace;
        while is_running(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    eprintln!("soak: --stop: {GRACEFUL} to PID {pid}");
    #[cfg(unix)]
    {
        let _ = soak_core::sys::signal_pid(pid, libc::SIGTERM);
        wait(grace);
        if is_running(pid) {
            eprintln!("soak: PID {pid} did not stop within the grace period; SIGKILL");
            let _ = soak_core::sys::signal_pid(pid, libc::SIGKILL);
        }
    }
    #[cfg(windows)]
    {
        let Some(handle) = zombiereap::windows::process::hold(pid) else {
            eprintln!("soak: --stop: PID {pid} cannot be opened (gone, or not permitted)");
            return;
        };
        match zombiereap::windows::console::ctrl_break(pid) {
            Ok(()) => wait(grace),
            Err(e) => eprintln!("soak: --stop: {GRACEFUL} to PID {pid}: {e}"),
        }
        if is_running(pid) {
            eprintln!("soak: PID {pid} did not stop; TerminateProcess");
            handle.force();
        }
    }
}

/// Windows: a real `cmd` with a `ping` child, in the job [`Proc::spawn`] made for it.
#[cfg(all(test, windows))]
mod tests {
    use super::*;
    use soak_core::alive::is_running;

    /// `cmd` running `ping` for a minute: a process and its child.
    fn cmd_with_a_child() -> (Proc, Vec<u32>) {
        let mut cmd = Command::new("cmd");
        cmd.args(["/C", "ping -n 60 127.0.0.1 >NUL"])
            .stdin(std::process::Stdio::null());
        let p = Proc::spawn("cmd", &mut cmd).expect("spawn cmd");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut pids = p.job.pids();
        while pids.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            pids = p.job.pids();
        }
        assert_eq!(pids.len(), 2, "cmd and ping in the job: {pids:?}");
        assert!(pids.contains(&p.child.id()));
        (p, pids)
    }

    fn gone(pids: &[u32]) -> bool {
        pids.iter()
            .all(|&pid| !is_running(i32::try_from(pid).expect("pid")))
    }

    #[test]
    fn stop_ends_the_process_and_its_child_and_says_when_it_had_to_force() {
        let (mut p, pids) = cmd_with_a_child();
        let status = p.stop(Duration::from_secs(2));
        assert!(status.is_some(), "cmd ended");
        assert!(gone(&pids), "nothing of the job is left: {pids:?}");
        // Under wine GenerateConsoleCtrlEvent refuses Ctrl+Break; on Windows with a console it
        // is delivered, and ping ignores it, so the job is terminated after the grace.
        if let Some(why) = &p.forced {
            assert!(
                why.starts_with("Ctrl+Break could not be delivered ("),
                "{why}"
            );
        }
        assert_eq!(
            p.stop(Duration::from_secs(2)),
            status,
            "a second stop changes nothing"
        );
    }

    /// Waits up to 10 s for every one of `pids` to have ended.
    fn all_end(pids: &[u32]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !gone(pids) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        gone(pids)
    }

    #[test]
    fn what_an_exited_process_left_behind_ends_with_its_proc() {
        // cmd starts ping in the background and exits: ping is left in the job alone.
        let mut cmd = Command::new("cmd");
        cmd.args(["/C", "start /B ping -n 60 127.0.0.1 >NUL"])
            .stdin(std::process::Stdio::null());
        let mut p = Proc::spawn("cmd", &mut cmd).expect("spawn cmd");
        assert!(p.wait_for(Duration::from_secs(20)), "cmd exits at once");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut left = p.job.pids();
        while left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = p.job.pids();
        }
        assert!(!left.is_empty(), "ping runs on in the job");
        assert!(!gone(&left));
        drop(p);
        assert!(all_end(&left), "the job's kill-on-close ended {left:?}");
    }
}
