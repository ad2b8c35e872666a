//! `zombiereap`: finds zombie processes, kills process trees gracefully without ever hitting a
//! recycled PID, and runs a command as a subreaper so that a CI step leaves nothing behind.
//!
//! - [`scan`]: zombies and their parents;
//! - [`killtree`]: freeze, collect, ask, wait, force;
//! - [`supervise`]: `run -- CMD`, tini's job plus leftover cleanup and JSONL events;
//! - [`target`]: PID + start time (+ pidfd) process handles;
//! - `portable` (Windows, macOS): the same commands through sysinfo, Job Objects (Windows)
//!   and process groups (macOS).

pub mod killtree;
#[cfg(not(target_os = "linux"))]
pub mod portable;
#[cfg(target_os = "linux")]
pub mod reap;
pub mod scan;
pub mod supervise;
#[cfg(target_os = "linux")]
pub mod target;
#[cfg(windows)]
pub mod windows;

use std::path::PathBuf;
#[cfg(unix)]
use std::str::FromStr;
use std::time::Duration;

use clap::{Parser, Subcommand};
#[cfg(unix)]
use nix::sys::signal::Signal;
use soak_core::exit::ExitCode;
#[cfg(target_os = "linux")]
use soak_core::exit::{environment, usage};
#[cfg(target_os = "linux")]
use soak_core::jsonl::JsonlWriter;
use soak_core::output::{Format, write_records};
#[cfg(target_os = "linux")]
use soak_core::proc::{ProcError, ProcessTable};
use soak_core::record::Record;
use soak_core::units::clap_duration;
#[cfg(windows)]
pub use windows::console::{Signal, parse_signal};

#[cfg(target_os = "linux")]
use killtree::{Fate, KillOptions};

/// Command line of `zombiereap`.
#[derive(Debug, Parser)]
#[command(
    name = "zombiereap",
    version,
    about = "Find zombies, kill process trees gracefully, run a command so nothing is left behind",
    after_help = "Examples:
  zombiereap scan                         # every zombie on the machine; exit 1 if any
  zombiereap scan --tree 4242 --min-age 1m
  zombiereap kill-tree 4242 --timeout 10s # SIGTERM the tree, SIGKILL what remains after 10s
  zombiereap kill-tree 4242 --dry-run     # show the tree that would be killed
  zombiereap reap --kill-parents          # SIGCHLD to parents; terminate those that don't reap
  zombiereap run --timeout 24h --grace 30s --events events.jsonl -- python3 bot.py

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
        /// Output format (default: jsonl when piped, table on a terminal).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Kill a process and all its descendants: graceful signal, wait, then SIGKILL.
    KillTree {
        /// The root of the tree.
        pid: i32,
        /// The graceful signal (TERM, INT, HUP, ... or a number).
        #[arg(long, default_value = "TERM", value_parser = parse_signal)]
        signal: Signal,
        /// How long to wait for graceful exits before SIGKILL.
        #[arg(long, default_value = "10s", value_parser = clap_duration)]
        timeout: Duration,
        /// Print the tree that would be killed; signal nothing.
        #[arg(long)]
        dry_run: bool,
        /// Output format (default: jsonl when piped, table on a terminal).
        #[arg(long, value_enum)]
        format: Option<Format>,
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
        /// Output format (default: jsonl when piped, table on a terminal).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Run a command as a subreaper: forward signals, reap orphans, kill leftovers at the end.
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
        /// Append the JSONL events and summary here instead of stderr (stdout stays the
        /// command's).
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
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

/// Runs zombiereap.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    #[cfg(target_os = "linux")]
    return run_linux(cli);
    #[cfg(not(target_os = "linux"))]
    portable::run(cli)
}

#[cfg(target_os = "linux")]
fn run_linux(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Scan {
            tree,
            min_age,
            format,
        } => scan_cmd(tree, min_age, Format::resolve(format)),
        Cmd::KillTree {
            pid,
            signal,
            timeout,
            dry_run,
            format,
        } => kill_tree_cmd(
            pid,
            KillOptions {
                signal,
                timeout,
                dry_run,
            },
            Format::resolve(format),
        ),
        Cmd::Reap {
            tree,
            kill_parents,
            grace,
            dry_run,
            format,
        } => {
            if let Some(root) = tree {
                soak_core::proc::read_stat(root)
                    .map_err(|_| usage(format!("--tree {root}: no such process")))?;
            }
            let opts = reap::ReapOptions {
                tree,
                kill_parents,
                grace,
                dry_run,
            };
            let mut records = Vec::new();
            let report = reap::reap(&opts, &mut |r| records.push(r)).map_err(proc_error)?;
            records.push(reap::summary(&report, dry_run));
            emit_all(
                Format::resolve(format),
                &records,
                &["action", "pid", "name", "zombies_held", "fate", "dry_run"],
            )?;
            // The verdict is the summary's `ok`, dry run or not: zombies still there fail.
            Ok(ExitCode::from_checks(report.zombies_after == 0))
        }
        Cmd::Run {
            timeout,
            grace,
            group,
            events,
            command,
        } => {
            let mut out = match &events {
                Some(path) => JsonlWriter::append_file(path, false)?,
                None => JsonlWriter::from_writer(std::io::stderr(), "stderr"),
            };
            let opts = supervise::RunOptions {
                timeout,
                grace,
                group,
            };
            let mut emit = |r: Record| {
                let _ = out.write(&r);
            };
            let report = supervise::run(&command, &opts, &mut emit).map_err(|e| match e {
                supervise::RunError::Spawn { .. } => usage(e),
                supervise::RunError::System { .. } => environment(e),
            })?;
            emit(supervise::summary(&report));
            Ok(ExitCode::Child(report.status()))
        }
    }
}

#[cfg(target_os = "linux")]
fn proc_error(e: ProcError) -> anyhow::Error {
    match e {
        ProcError::Gone(pid) => usage(format!("PID {pid}: no such process")),
        ProcError::PermissionDenied(_) => environment(e),
        ProcError::Other { .. } => environment(e),
    }
}

/// Writes the records to stdout. A reader that closed it (`| head -1`) ends the output, never
/// the verdict: the caller still returns the exit code the complete output would have had.
fn emit_all(format: Format, records: &[Record], columns: &[&str]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    let cols = (format != Format::Jsonl && format != Format::Json).then_some(columns);
    match write_records(&mut stdout, format, records, cols) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(target_os = "linux")]
fn scan_cmd(tree: Option<i32>, min_age: Duration, format: Format) -> anyhow::Result<ExitCode> {
    let table = ProcessTable::snapshot().map_err(proc_error)?;
    if let Some(root) = tree {
        if table.get(root).is_none() {
            return Err(usage(format!("--tree {root}: no such process")));
        }
    }
    let zombies = scan::find_zombies(&table, tree, min_age);
    let mut records: Vec<Record> = zombies.iter().map(scan::finding).collect();
    let summary = scan::summary(&zombies, table.len());
    if matches!(format, Format::Jsonl | Format::Json) {
        records.push(summary);
        emit_all(format, &records, &[])?;
    } else {
        emit_all(
            format,
            &records,
            &[
                "pid",
                "name",
                "ppid",
                "parent_name",
                "parent_state",
                "age_s",
                "parent_cmdline",
            ],
        )?;
        eprintln!(
            "zombiereap: {} zombie(s) among {} processes",
            zombies.len(),
            table.len()
        );
    }
    Ok(ExitCode::from_checks(zombies.is_empty()))
}

#[cfg(target_os = "linux")]
fn kill_tree_cmd(pid: i32, opts: KillOptions, format: Format) -> anyhow::Result<ExitCode> {
    let me = std::process::id() as i32;
    if pid <= 1 || pid == me {
        return Err(usage(format!(
            "PID {pid}: refusing to kill init or zombiereap itself"
        )));
    }
    let outcomes = killtree::kill_tree(pid, opts).map_err(proc_error)?;
    let mut records: Vec<Record> = outcomes
        .iter()
        .map(|o| killtree::action(o, &opts))
        .collect();
    let count = |f: Fate| outcomes.iter().filter(|o| o.fate == f).count();
    let denied = count(Fate::PermissionDenied);
    let survived = count(Fate::Survived);
    let slowest = outcomes
        .iter()
        .filter_map(|o| o.exit_after_s)
        .fold(0.0f64, f64::max);
    let summary = Record::new(soak_core::RecordType::Summary, "zombiereap")
        .with("command", "kill-tree")
        .with("root_pid", pid)
        .with("dry_run", opts.dry_run)
        .with("processes", outcomes.len())
        .with("exited", count(Fate::Exited))
        .with("killed", count(Fate::Killed))
        .with("survived", survived)
        .with("permission_denied", denied)
        .with("already_gone", count(Fate::AlreadyGone))
        .with("slowest_exit_s", (slowest * 1000.0).round() / 1000.0)
        .with("ok", survived == 0 && denied == 0);
    if matches!(format, Format::Jsonl | Format::Json) {
        records.push(summary);
        emit_all(format, &records, &[])?;
    } else {
        emit_all(
            format,
            &records,
            &["pid", "ppid", "name", "fate", "signals", "exit_after_s"],
        )?;
    }
    if denied > 0 && denied == outcomes.len() {
        return Err(environment(format!(
            "PID {pid}: permission denied for every process in the tree"
        )));
    }
    Ok(ExitCode::from_checks(survived == 0 && denied == 0))
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
