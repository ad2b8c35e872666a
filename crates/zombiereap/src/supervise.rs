//! `zombiereap run`: run a command so that nothing it starts outlives it.
//!
//! zombiereap makes itself a *child subreaper* (`PR_SET_CHILD_SUBREAPER`), so every process the
//! command orphans (a daemonizing double fork, a crashed parent's workers) is re-parented to
//! zombiereap instead of init. It reaps them as they exit, forwards SIGINT, SIGTERM, SIGHUP,
//! SIGQUIT, SIGUSR1 and SIGUSR2 to the command (to its whole process group with `--group`), and
//! when the command ends (or `--timeout` fires, which kills the command's tree gracefully) it
//! kills every descendant left, gracefully with `--grace`, then by force. Its exit status is the
//! command's, or 128 + N when a signal N ended it, as tini's is.

use std::time::Duration;

#[cfg(unix)]
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

use serde::{Deserialize, Serialize};
use soak_core::record::{FieldsError, Record, RecordType};

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::run;

/// How `run` behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Kill the command's tree gracefully after this long.
    pub timeout: Option<Duration>,
    /// Time between SIGTERM and SIGKILL when killing leftovers or on timeout.
    pub grace: Duration,
    /// Start the command in its own process group and forward signals to the whole group.
    pub group: bool,
}

/// Why the supervisor could not do its job.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The command could not be started.
    #[error("cannot start '{command}': {source}")]
    Spawn {
        /// The command's name.
        command: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The system refused an operation the supervisor needs.
    #[error("{what}: {source}")]
    System {
        /// What was attempted.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// What happened, for the summary and the exit status.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The command's PID.
    pub pid: i32,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// `--timeout` fired.
    pub timed_out: bool,
    /// Orphaned descendants reaped while the command ran.
    pub reaped: u64,
    /// Descendants left when the command ended, then killed.
    pub killed: u64,
    /// Signals forwarded to the command.
    pub forwarded: u64,
    /// The last stop signal (SIGTERM, SIGINT, SIGHUP, SIGQUIT) forwarded to the command: its
    /// end by that signal is the stop someone asked for, not a failure.
    pub stop_requested: Option<i32>,
}

impl RunReport {
    /// The status to exit with: the command's, or 128 + signal.
    pub fn status(&self) -> u8 {
        match (self.exit_code, self.signal) {
            (Some(c), _) => u8::try_from(c).unwrap_or(1),
            (None, Some(s)) => u8::try_from(128 + s).unwrap_or(255),
            (None, None) => 1,
        }
    }

    /// The command ended as asked: exit 0, or by the stop signal forwarded to it (directly, or
    /// as the conventional 128 + N), and the timeout did not fire.
    pub fn ended_cleanly(&self) -> bool {
        if self.timed_out {
            return false;
        }
        let by_request = self
            .stop_requested
            .is_some_and(|sig| self.signal == Some(sig) || self.exit_code == Some(128 + sig));
        self.status() == 0 || by_request
    }
}

/// Signals passed on to the command (to its process group with `--group`, and always on
/// macOS).
#[cfg(unix)]
pub const FORWARDED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

impl RunReport {
    /// Notes a signal forwarded to the command `pid`: counted, remembered as the stop asked
    /// for when `stop` is that (SIGTERM, SIGINT, SIGHUP, SIGQUIT, a console event), and the
    /// `forwarded` event naming it.
    pub(crate) fn forwarded(
        &mut self,
        pid: impl Into<serde_json::Value>,
        name: &str,
        stop: Option<i32>,
    ) -> Record {
        self.forwarded += 1;
        if stop.is_some() {
            self.stop_requested = stop;
        }
        event("forwarded").with("pid", pid).with("signal", name)
    }
}

/// `sig` when it asks the command to stop (SIGTERM, SIGINT, SIGHUP, SIGQUIT).
#[cfg(unix)]
pub(crate) fn stop_signal(sig: i32) -> Option<i32> {
    matches!(sig, SIGTERM | SIGINT | SIGHUP | SIGQUIT).then_some(sig)
}

/// Starts the command `argv` names, after `prepare` has set how (its own process group, a
/// suspended start): a missing command or one that cannot start is a [`RunError::Spawn`]
/// naming it.
pub(crate) fn spawn(
    argv: &[String],
    prepare: impl FnOnce(&mut std::process::Command),
) -> Result<std::process::Child, RunError> {
    let (program, args) = argv.split_first().ok_or_else(|| RunError::Spawn {
        command: String::new(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "no command given"),
    })?;
    let mut command = std::process::Command::new(program);
    command.args(args);
    prepare(&mut command);
    command.spawn().map_err(|source| RunError::Spawn {
        command: program.clone(),
        source,
    })
}

/// The signal handlers for `wanted`, the failure to install them named.
#[cfg(unix)]
pub(crate) fn catch(wanted: &[i32]) -> Result<signal_hook::iterator::Signals, RunError> {
    signal_hook::iterator::Signals::new(wanted).map_err(|source| RunError::System {
        what: "installing signal handlers",
        source,
    })
}

/// An `event` record of a supervised run.
pub(crate) fn event(name: &str) -> Record {
    Record::new(RecordType::Event, "zombiereap").with("event", name)
}

/// `zombiereap run`'s summary, the last record of a supervised run: how the command ended.
/// Written through [`summary`]; a reader (the soak) reads it back as this type. Every field
/// has a default, so a summary that lacks one still reads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSummary {
    /// The subcommand, `run`.
    pub command: String,
    /// The command's PID.
    pub pid: i32,
    /// Its exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The number of the signal that ended it, when one did.
    pub signal: Option<i32>,
    /// The status zombiereap exits with: the command's, or 128 + N for signal N.
    pub exit_status: u8,
    /// `--timeout` fired and the command's tree was killed.
    pub timed_out: bool,
    /// Orphaned descendants reaped while the command ran.
    pub orphans_reaped: u64,
    /// Descendants left when the command ended, then killed.
    pub leftovers_killed: u64,
    /// Signals forwarded to the command.
    pub signals_forwarded: u64,
    /// The last stop signal forwarded to the command, when one was.
    pub stop_requested: Option<i32>,
    /// The command ended as asked (see [`RunReport::ended_cleanly`]).
    pub ok: bool,
}

impl From<&RunReport> for RunSummary {
    fn from(r: &RunReport) -> Self {
        RunSummary {
            command: "run".into(),
            pid: r.pid,
            exit_code: r.exit_code,
            signal: r.signal,
            exit_status: r.status(),
            timed_out: r.timed_out,
            orphans_reaped: r.reaped,
            leftovers_killed: r.killed,
            signals_forwarded: r.forwarded,
            stop_requested: r.stop_requested,
            ok: r.ended_cleanly(),
        }
    }
}

/// The `summary` record of a supervised run: its [`RunSummary`].
pub fn summary(r: &RunReport) -> Result<Record, FieldsError> {
    Record::summary("zombiereap", &RunSummary::from(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_record_keeps_its_fields_and_reads_back_as_run_summary() {
        let report = RunReport {
            pid: 4242,
            exit_code: None,
            signal: Some(15),
            timed_out: false,
            reaped: 3,
            killed: 1,
            forwarded: 2,
            stop_requested: Some(15),
        };
        let rec = summary(&report).expect("summary record");
        assert_eq!(rec.kind(), Some(RecordType::Summary));
        assert!(rec.to_line().ends_with(concat!(
            r#","command":"run","pid":4242,"exit_code":null,"signal":15,"exit_status":143,"#,
            r#""timed_out":false,"orphans_reaped":3,"leftovers_killed":1,"signals_forwarded":2,"#,
            r#""stop_requested":15,"ok":true}"#
        )));
        let back: RunSummary = rec.body().expect("reads back");
        assert_eq!(back, RunSummary::from(&report));
        assert_eq!((back.exit_status, back.ok), (143, true));
    }
}
