//! The command line of `zombiereap` (clap only, with its signal parser): the work is in
//! [`crate::commands`].

use std::path::PathBuf;
#[cfg(unix)]
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, Subcommand};
#[cfg(unix)]
pub use nix::sys::signal::Signal;
use soak_core::cli::OutputArgs;
use soak_core::units::clap_duration;

#[cfg(windows)]
pub use crate::windows::console::{Signal, parse_signal};

/// Command line of `zombiereap`.
#[derive(Debug, Parser)]
#[command(
    name = "zombiereap",
    version,
    about = "Find zombies, kill process trees gracefully, run a command so nothing is left behind",
    after_help = "Examples:
  zombiereap scan                         # every zombie on the machine; exit 1 if any
  zombiereap scan --tree 4242 --min-age 1m
  zombiereap kill-tree 4242 --grace 10s   # SIGTERM the tree, SIGKILL what remains after 10s
  zombiereap kill-tree 4242 --dry-run     # show the tree that would be killed
  zombiereap reap --kill-parents          # SIGCHLD to parents; terminate those that don't reap
  zombiereap run --timeout 24h --grace 30s -o events.jsonl -- python3 bot.py

Exit status: scan 1 when zombies exist; kill-tree 1 when a process survived; run: the
command's status, 128+N when signal N ended it; 2 bad usage or no such PID; 3 not permitted."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Report every zombie (or those in one tree) with its parent.
    Scan {
        /// Only the tree rooted at this PID.
        #[arg(long, value_name = "PID")]
        tree: Option<i32>,
        /// Only zombies at least this old (from their start time).
        #[arg(long, value_parser = clap_duration, default_value = "0s")]
        min_age: Duration,
        /// Where and how the report is written.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Kill a process and all its descendants: graceful signal, wait, then SIGKILL.
    KillTree {
        /// The root of the tree.
        pid: i32,
        /// The graceful signal (TERM, INT, HUP, ... or a number).
        #[arg(long, default_value = "TERM", value_parser = parse_signal)]
        signal: Signal,
        /// How long to wait for graceful exits before SIGKILL.
        // `--timeout` was this flag's name before every tool said `--grace` for it.
        #[arg(long, alias = "timeout", default_value = "10s", value_parser = clap_duration)]
        grace: Duration,
        /// Print the tree that would be killed; signal nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where and how the report is written.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Get zombies reaped: reap own, SIGCHLD other parents, optionally terminate parents that
    /// still do not reap (so init or a subreaper adopts and reaps the zombies).
    Reap {
        /// Only zombies (and parents) in the tree rooted at this PID.
        #[arg(long, value_name = "PID")]
        tree: Option<i32>,
        /// Terminate a parent that still holds zombies after SIGCHLD.
        #[arg(long)]
        kill_parents: bool,
        /// How long parents get to reap (and between SIGTERM and SIGKILL).
        #[arg(long, default_value = "2s", value_parser = clap_duration)]
        grace: Duration,
        /// Print the plan; signal nothing.
        #[arg(long)]
        dry_run: bool,
        /// Where and how the report is written.
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Run a command as a subreaper: forward signals, reap orphans, kill leftovers at the end.
    #[command(
        mut_arg("format", |a| a.hide_possible_values(true).help(
            "Events format: jsonl (each event as it happens, the summary last; the default) or \
             json, table, markdown, csv (everything once the command has ended)"
        )),
        mut_arg("output", |a| a.help(
            "Write the events and the summary here instead of stderr (jsonl: appended as they \
             happen, never through a symbolic link; other formats: a new file renamed into \
             place at the end)"
        )),
        mut_arg("quiet", |a| a.help(
            "Write no events on stderr: the exit status, --output and --summary-md still tell"
        )),
    )]
    Run {
        /// Kill the command's tree (gracefully) after this long.
        #[arg(long, value_parser = clap_duration)]
        timeout: Option<Duration>,
        /// Time between SIGTERM and SIGKILL for leftovers and on timeout.
        #[arg(long, default_value = "10s", value_parser = clap_duration)]
        grace: Duration,
        /// Start the command in its own process group and forward signals to the group.
        #[arg(long)]
        group: bool,
        /// The former name of `-o/--output` (kept for one release).
        #[arg(long, value_name = "FILE", hide = true, conflicts_with = "output")]
        events: Option<PathBuf>,
        /// Where and how the events and the summary are written (stdout stays the command's).
        #[command(flatten)]
        output: OutputArgs,
        /// The command and its arguments.
        #[arg(required = true, last = true, value_name = "CMD")]
        command: Vec<String>,
    },
}

/// Parses `TERM`, `SIGTERM` or `15`.
#[cfg(unix)]
pub fn parse_signal(s: &str) -> Result<Signal, String> {
    let up = s.trim().to_ascii_uppercase();
    if let Ok(n) = up.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("no signal number {n}"));
    }
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    Signal::from_str(&name).map_err(|_| format!("unknown signal '{s}'"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn signals_parse_by_name_and_number() {
        assert_eq!(parse_signal("TERM"), Ok(Signal::SIGTERM));
        assert_eq!(parse_signal("sigint"), Ok(Signal::SIGINT));
        assert_eq!(parse_signal("9"), Ok(Signal::SIGKILL));
        assert!(parse_signal("NOPE").is_err());
        assert!(parse_signal("999").is_err());
    }
}
