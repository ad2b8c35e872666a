//! The service a soak watches: one it launched (under `zombiereap run`, its output in
//! `service.log`), or one already running that it attaches to (a PID, a container, a systemd
//! unit), whose log comes from a file or a log command and which is left running at the end
//! unless `--stop` (the soak never kills what it did not start).

use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Result, bail};

use soak_core::alive::is_running;

use super::procs::{Proc, stop_pid};

/// An already running service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// A process (and its tree).
    Pid(i32),
    /// A Docker or Podman container, by name or id.
    Container(String),
    /// A systemd unit.
    Unit(String),
}

impl Attach {
    /// How resmon finds it.
    pub fn resmon_args(&self) -> Vec<String> {
        match self {
            Attach::Pid(pid) => vec!["--pid".into(), pid.to_string()],
            Attach::Container(name) => vec!["--container".into(), name.clone()],
            Attach::Unit(name) => vec!["--unit".into(), name.clone()],
        }
    }

    /// Where its log comes from when neither `--log-file` nor `--log-cmd` says.
    pub fn default_log_cmd(&self) -> Option<Vec<String>> {
        match self {
            Attach::Pid(_) => None,
            Attach::Container(name) => Some(
                ["docker", "logs", "-f", "--since", "0s", name]
                    .map(str::to_string)
                    .to_vec(),
            ),
            Attach::Unit(name) => Some(
                [
                    "journalctl",
                    "-u",
                    name,
                    "-f",
                    "-o",
                    "short-iso",
                    "--since",
                    "now",
                ]
                .map(str::to_string)
                .to_vec(),
            ),
        }
    }

    /// What it is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Attach::Pid(pid) => format!("PID {pid}"),
            Attach::Container(name) => format!("container {name}"),
            Attach::Unit(name) => format!("unit {name}"),
        }
    }

    /// Refuses a target that is not there before anything starts.
    pub fn check(&self) -> Result<()> {
        if let Attach::Pid(pid) = self
            && !is_running(*pid)
        {
            bail!("--attach-pid {pid}: no such running process");
        }
        Ok(())
    }

    /// Its command to stop it, with `--stop`.
    fn stop_command(&self) -> Option<Command> {
        match self {
            Attach::Pid(_) => None,
            Attach::Container(name) => {
                let mut c = Command::new("docker");
                c.args(["stop", name]);
                Some(c)
            }
            Attach::Unit(name) => {
                let mut c = Command::new("systemctl");
                c.args(["stop", name]);
                Some(c)
            }
        }
    }
}

/// The service of this run.
pub enum Service {
    /// Launched by the soak under `zombiereap run`.
    Launched(Proc),
    /// Already running; the soak only watches it.
    Attached {
        /// What it is.
        target: Attach,
        /// The log command feeding `service.log`, when there is one.
        log: Option<Proc>,
    },
}

impl Service {
    /// The PID the dead-man switch and resmon follow, when there is one.
    pub fn pid(&self) -> Option<i32> {
        match self {
            Service::Launched(p) => Some(p.pid()),
            Service::Attached {
                target: Attach::Pid(pid),
                ..
            } => Some(*pid),
            Service::Attached { .. } => None,
        }
    }

    /// What resmon is given to follow.
    pub fn resmon_args(&self) -> Vec<String> {
        match self {
            Service::Launched(p) => vec!["--pid".into(), p.pid().to_string()],
            Service::Attached { target, .. } => target.resmon_args(),
        }
    }

    /// True while it runs (a container or unit is judged by resmon's events instead).
    pub fn running(&mut self) -> bool {
        match self {
            Service::Launched(p) => p.running(),
            Service::Attached {
                target: Attach::Pid(pid),
                ..
            } => is_running(*pid),
            Service::Attached { .. } => true,
        }
    }

    /// Why the soak ended the launched service by force without asking first, when it did.
    pub fn forced(&self) -> Option<&str> {
        match self {
            Service::Launched(p) => p.forced.as_deref(),
            Service::Attached { .. } => None,
        }
    }

    /// The launched service's exit status once it ended.
    pub fn status(&self) -> Option<ExitStatus> {
        match self {
            Service::Launched(p) => p.status,
            Service::Attached { .. } => None,
        }
    }

    /// Ends the run's hold on it: a launched service is stopped
    /// ([`GRACEFUL`](super::procs::GRACEFUL), then its group or job is killed after `grace`);
    /// an attached one is left running unless `stop_attached`; the log command is stopped
    /// either way.
    pub fn stop(&mut self, grace: Duration, stop_attached: bool) -> Option<ExitStatus> {
        match self {
            Service::Launched(p) => p.stop(grace),
            Service::Attached { target, log } => {
                if stop_attached {
                    stop_attached_target(target, grace);
                }
                if let Some(l) = log.as_mut() {
                    l.stop(Duration::from_secs(5));
                }
                None
            }
        }
    }
}

fn stop_attached_target(target: &Attach, grace: Duration) {
    if let Attach::Pid(pid) = target {
        stop_pid(*pid, grace);
    } else if let Some(mut c) = target.stop_command() {
        eprintln!("soak: --stop: {:?}", c);
        let _ = c.stdin(Stdio::null()).status();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_container_and_a_unit_get_their_log_commands() {
        assert_eq!(
            Attach::Container("novapulse".into()).default_log_cmd(),
            Some(
                ["docker", "logs", "-f", "--since", "0s", "novapulse"]
                    .map(str::to_string)
                    .to_vec()
            )
        );
        assert_eq!(
            Attach::Unit("bot.service".into()).resmon_args(),
            vec!["--unit".to_string(), "bot.service".to_string()]
        );
        assert_eq!(Attach::Pid(1).default_log_cmd(), None);
    }

    #[test]
    fn our_own_pid_is_alive_and_a_missing_one_is_refused() {
        assert!(is_running(std::process::id() as i32));
        assert!(Attach::Pid(i32::MAX).check().is_err());
    }
}
