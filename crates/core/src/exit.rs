//! The exit-code convention shared by every tool, and the `main` wrapper that applies it.
//!
//! | code | meaning                                                                      |
//! |------|------------------------------------------------------------------------------|
//! | 0    | ran and every check passed                                                   |
//! | 1    | ran and a check failed (leak, zombie, orphan, vulnerability, cap exceeded)   |
//! | 2    | usage or input error (one line on stderr naming the file, line, flag or PID) |
//! | 3    | the environment failed (no permission, network, exchange down, disk full)    |
//! | 130  | interrupted by SIGINT                                                        |
//!
//! A closed stdout pipe (`tool | head`) is not an error: the tool stops quietly with 0.
//! A supervised child's own status is passed through (`128 + signal` when it died by one);
//! see [`ExitCode::Child`].

use std::fmt::Display;
use std::io;

use crate::error::CoreError;
use crate::gha;

/// An exit status under the toolkit's convention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: ran and every check passed.
    Success,
    /// 1: ran and a check failed.
    CheckFailed,
    /// 2: usage or input error.
    Usage,
    /// 3: the environment failed.
    Environment,
    /// 130: interrupted by SIGINT.
    Interrupted,
    /// A supervised child's own exit status, passed through (128 + n for signal n).
    Child(u8),
}

impl ExitCode {
    /// The numeric status.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::CheckFailed => 1,
            ExitCode::Usage => 2,
            ExitCode::Environment => 3,
            ExitCode::Interrupted => 130,
            ExitCode::Child(c) => c,
        }
    }

    /// The status of a tool that stopped because it was asked to by `signal`: 130 for an
    /// interrupt (SIGINT, Ctrl-C), 0 for a requested stop (SIGTERM, SIGHUP; Windows' close and
    /// shutdown events) — a monitor told to stop has ended its work cleanly.
    pub fn from_signal(signal: i32) -> Self {
        if crate::signals::Termination::is_interrupt(signal) {
            ExitCode::Interrupted
        } else {
            ExitCode::Success
        }
    }

    /// The status of a check that `signal` cut short before its verdict: 130 for an interrupt
    /// (SIGINT), else 128 + N as for a process ended by signal N. Unlike
    /// [`ExitCode::from_signal`], a requested stop is never 0: a scan that did not finish has
    /// not passed.
    pub fn from_cut_short(signal: i32) -> Self {
        match Self::from_signal(signal) {
            ExitCode::Interrupted => ExitCode::Interrupted,
            _ => ExitCode::Child(u8::try_from(128 + signal.clamp(0, 127)).unwrap_or(255)),
        }
    }

    /// 0 when `ok`, else 1: the verdict of a run whose checks were evaluated.
    pub fn from_checks(ok: bool) -> Self {
        if ok {
            ExitCode::Success
        } else {
            ExitCode::CheckFailed
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

/// An error that carries its exit code: usage (2) or environment (3).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The exit code to end with.
    pub code: ExitCode,
    /// The one-line message.
    pub message: String,
}

/// A usage or input error (exit 2). The message should name the flag, file, line or PID.
pub fn usage(message: impl Display) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code: ExitCode::Usage,
        message: message.to_string(),
    })
}

/// An environment failure (exit 3): no permission, network down, exchange unreachable.
pub fn environment(message: impl Display) -> anyhow::Error {
    anyhow::Error::new(Failure {
        code: ExitCode::Environment,
        message: message.to_string(),
    })
}

/// True when the error is (caused by) writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
            || cause.downcast_ref::<CoreError>().is_some_and(
                |e| matches!(e, CoreError::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe),
            )
    })
}

/// The exit code for an error: the first [`Failure`] or [`CoreError`] in its chain decides;
/// a bare I/O error is the environment's (3) unless it is a missing file (2); anything else
/// is reported as an environment failure (3).
pub fn exit_code_for(err: &anyhow::Error) -> ExitCode {
    if is_broken_pipe(err) {
        return ExitCode::Success;
    }
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            return f.code;
        }
        if let Some(c) = cause.downcast_ref::<CoreError>() {
            return c.exit_code();
        }
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            return match io.kind() {
                io::ErrorKind::NotFound => ExitCode::Usage,
                _ => ExitCode::Environment,
            };
        }
    }
    ExitCode::Environment
}

/// The one-line form of an error: its context chain joined by `: `, newlines folded. A cause
/// whose text its parent already ends with (an error that prints its source and also returns
/// it from `source()`) is not repeated: one OS error, said once.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.replace(['\n', '\r'], " ")
}

/// Runs a tool's logic and turns its result into the process exit status: errors are printed
/// as one line `TOOL: error: ...` on stderr (and as a `::error::` annotation under GitHub
/// Actions); a closed stdout pipe ends quietly with 0.
///
/// ```no_run
/// fn main() -> std::process::ExitCode {
///     soak_core::exit::run_tool("mytool", || Ok(soak_core::exit::ExitCode::Success))
/// }
/// ```
pub fn run_tool(
    tool: &str,
    run: impl FnOnce() -> anyhow::Result<ExitCode>,
) -> std::process::ExitCode {
    match run() {
        Ok(code) => code.into(),
        Err(err) => {
            let code = exit_code_for(&err);
            if code != ExitCode::Success {
                let message = one_line(&err);
                eprintln!("{tool}: error: {message}");
                if gha::in_github_actions() {
                    gha::annotate(gha::Level::Error, &format!("{tool}: {message}"));
                }
            }
            code.into()
        }
    }
}

/// Parses the command line as `C` (a usage error is one line and exit 2, see
/// [`crate::cli::parse_or_exit`]) and runs the tool's logic with it through [`run_tool`]: the
/// whole of a tool's `main`.
///
/// ```no_run
/// #[derive(clap::Parser)]
/// struct Cli {}
/// fn main() -> std::process::ExitCode {
///     soak_core::exit::run_cli("mytool", |_cli: Cli| Ok(soak_core::exit::ExitCode::Success))
/// }
/// ```
pub fn run_cli<C: clap::Parser>(
    tool: &str,
    run: impl FnOnce(C) -> anyhow::Result<ExitCode>,
) -> std::process::ExitCode {
    let cli = crate::cli::parse_or_exit::<C>(tool);
    run_tool(tool, || run(cli))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_their_code_through_context() {
        let e = usage("--interval: invalid duration 'x'").context("parsing flags");
        assert_eq!(exit_code_for(&e), ExitCode::Usage);
        let e = environment("exchange unreachable").context("listing orders");
        assert_eq!(exit_code_for(&e), ExitCode::Environment);
        assert_eq!(one_line(&e), "listing orders: exchange unreachable");
    }

    #[test]
    fn an_os_error_is_said_once() {
        let e = anyhow::Error::new(CoreError::Write {
            path: "/x/y".into(),
            source: io::Error::from_raw_os_error(2),
        });
        let line = one_line(&e);
        assert_eq!(line.matches("os error 2").count(), 1, "{line}");
    }

    #[test]
    fn io_errors_and_broken_pipes() {
        let pipe = anyhow::Error::new(io::Error::from(io::ErrorKind::BrokenPipe));
        assert_eq!(exit_code_for(&pipe), ExitCode::Success);
        let denied = anyhow::Error::new(io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(exit_code_for(&denied), ExitCode::Environment);
        let core = anyhow::Error::new(CoreError::NoMatch("*.jsonl".into()));
        assert_eq!(exit_code_for(&core), ExitCode::Usage);
    }

    #[test]
    fn child_status_passes_through() {
        assert_eq!(ExitCode::Child(137).code(), 137);
        assert_eq!(ExitCode::from_checks(false).code(), 1);
    }

    #[test]
    fn an_interrupt_is_130_and_a_requested_stop_is_clean() {
        use crate::signals::{SIGINT, SIGTERM};
        assert_eq!(ExitCode::from_signal(SIGINT).code(), 130);
        assert_eq!(ExitCode::from_signal(SIGTERM).code(), 0);
        assert_eq!(ExitCode::from_cut_short(SIGINT).code(), 130);
        assert_eq!(ExitCode::from_cut_short(SIGTERM).code(), 128 + 15);
    }
}
