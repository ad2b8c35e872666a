//! `zombiereap`: finds zombie processes, kills process trees gracefully without ever hitting a
//! recycled PID, and runs a command as a subreaper so that a CI step leaves nothing behind.
//!
//! - [`scan`]: zombies and their parents; [`scan_report`]: its report on every OS;
//! - [`killtree`]: freeze, collect, ask, wait, force;
//! - [`supervise`]: `run -- CMD`, tini's job plus leftover cleanup and JSONL events;
//! - [`run_output`]: where `run` writes its events and summary (`-f`, `-o`, `--summary-md`, `-q`);
//! - [`target`]: PID + start time (+ pidfd) process handles;
//! - `portable` (Windows, macOS): the same commands through sysinfo, Job Objects (Windows)
//!   and process groups (macOS).

pub mod killtree;
#[cfg(not(target_os = "linux"))]
pub mod portable;
#[cfg(target_os = "linux")]
pub mod reap;
pub mod run_output;
pub mod scan;
pub mod scan_report;
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
use soak_core::cli::OutputArgs;
#[cfg(target_os = "linux")]
use soak_core::exit::usage;
use soak_core::exit::{ExitCode, environment};
#[cfg(target_os = "linux")]
use soak_core::proc::{ProcError, ProcessTable};
#[cfg(target_os = "linux")]
use soak_core::record::Record;
#[cfg(target_os = "linux")]
use soak_core::report::RecordBody;
use soak_core::report::Report;
use soak_core::signals::Termination;
use soak_core::units::clap_duration;
#[cfg(windows)]
pub use windows::console::{Signal, parse_signal};

#[cfg(target_os = "linux")]
use killtree::{Fate, KillOptions};

const TOOL: &str = "zombiereap";

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

/// Runs zombiereap: one dispatcher, each subcommand's work done by this platform's module
/// (the /proc readers here on Linux, [`portable`] elsewhere).
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Scan {
            tree,
            min_age,
            output,
        } => {
            let term = interruptible()?;
            let report = platform::scan(tree, min_age)?;
            interrupted(report, &term).finish(&output)
        }
        Cmd::KillTree {
            pid,
            signal,
            grace,
            dry_run,
            output,
        } => {
            let term = interruptible()?;
            let (report, all_denied) = platform::kill_tree(pid, signal, grace, dry_run)?;
            let code = interrupted(report, &term).finish(&output)?;
            if all_denied {
                return Err(environment(format!(
                    "PID {pid}: permission denied for every process in the tree"
                )));
            }
            Ok(code)
        }
        Cmd::Reap {
            tree,
            kill_parents,
            grace,
            dry_run,
            output,
        } => {
            let term = interruptible()?;
            let report = platform::reap(tree, kill_parents, grace, dry_run)?;
            interrupted(report, &term).finish(&output)
        }
        Cmd::Run {
            timeout,
            grace,
            group,
            events,
            output,
            command,
        } => {
            let mut out = run_output::RunOutput::open(output, events)?;
            let opts = supervise::RunOptions {
                timeout,
                grace,
                group,
            };
            let report = platform::supervise(&command, &opts, &mut |r| out.emit(r)).map_err(
                |e| match e {
                    supervise::RunError::Spawn { .. } => soak_core::exit::usage(e),
                    supervise::RunError::System { .. } => environment(e),
                },
            )?;
            out.finish(&report, supervise::summary(&report))
        }
    }
}

/// The Linux work of each subcommand, through /proc, pidfds and the subreaper.
#[cfg(target_os = "linux")]
mod platform {
    use std::time::Duration;

    use nix::sys::signal::Signal;
    use soak_core::report::Report;

    use crate::killtree::KillOptions;
    use crate::reap;

    pub(crate) use crate::scan_cmd as scan;
    pub(crate) use crate::supervise::run as supervise;

    /// `kill-tree`: its report, and whether no signal at all was permitted.
    pub fn kill_tree(
        pid: i32,
        signal: Signal,
        grace: Duration,
        dry_run: bool,
    ) -> anyhow::Result<(Report, bool)> {
        crate::kill_tree_cmd(
            pid,
            KillOptions {
                signal,
                timeout: grace,
                dry_run,
            },
        )
    }

    /// `reap`.
    pub fn reap(
        tree: Option<i32>,
        kill_parents: bool,
        grace: Duration,
        dry_run: bool,
    ) -> anyhow::Result<Report> {
        crate::reap_cmd(reap::ReapOptions {
            tree,
            kill_parents,
            grace,
            dry_run,
        })
    }
}

#[cfg(not(target_os = "linux"))]
use portable as platform;

#[cfg(target_os = "linux")]
fn proc_error(e: ProcError) -> anyhow::Error {
    match e {
        ProcError::Gone(pid) => usage(format!("PID {pid}: no such process")),
        ProcError::PermissionDenied(_) => environment(e),
        ProcError::Other { .. } => environment(e),
    }
}

/// Catches SIGINT, SIGTERM and SIGHUP for a command that must not stop half-way: a tree
/// frozen with SIGSTOP is always killed or let go, never left stopped.
pub(crate) fn interruptible() -> anyhow::Result<Termination> {
    Termination::install().map_err(|e| environment(format!("installing signal handlers: {e}")))
}

/// The report, ending with 130 when SIGINT arrived while the command ran (its work done).
pub(crate) fn interrupted(report: Report, term: &Termination) -> Report {
    match term.requested().map(ExitCode::from_signal) {
        Some(code) if code != ExitCode::Success => report.exit(code),
        _ => report,
    }
}

/// The report of `reap`: an action per parent signalled or zombie reaped, then the summary.
#[cfg(target_os = "linux")]
fn reap_cmd(opts: reap::ReapOptions) -> anyhow::Result<Report> {
    if let Some(root) = opts.tree {
        soak_core::proc::read_stat(root)
            .map_err(|_| usage(format!("--tree {root}: no such process")))?;
    }
    let mut records = Vec::new();
    let outcome = reap::reap(&opts, &mut |r| records.push(r)).map_err(proc_error)?;
    let body = RecordBody::new(
        records,
        &["action", "pid", "name", "zombies_held", "fate", "dry_run"],
    )
    .summary(reap::summary(&outcome, opts.dry_run));
    let mut report = Report::new(TOOL, body).heading("reap");
    // The verdict is the summary's `ok`, dry run or not: zombies still there fail.
    if outcome.zombies_after > 0 {
        report = report.fail(format!(
            "{} zombie(s) still not reaped",
            outcome.zombies_after
        ));
    }
    Ok(report)
}

/// The report of `scan`: a finding per zombie, then the summary.
#[cfg(target_os = "linux")]
fn scan_cmd(tree: Option<i32>, min_age: Duration) -> anyhow::Result<Report> {
    let table = ProcessTable::snapshot().map_err(proc_error)?;
    if let Some(root) = tree {
        if table.get(root).is_none() {
            return Err(usage(format!("--tree {root}: no such process")));
        }
    }
    let zombies = scan::find_zombies(&table, tree, min_age);
    let summary = scan::summary(&zombies, table.len());
    Ok(scan_report::scan_report(
        &zombies,
        table.len(),
        summary,
        None,
    ))
}

/// The report of `kill-tree` (an action per process, then the summary), and whether no signal
/// at all was permitted (an environment failure once the report is written).
#[cfg(target_os = "linux")]
fn kill_tree_cmd(pid: i32, opts: KillOptions) -> anyhow::Result<(Report, bool)> {
    let me = std::process::id() as i32;
    if pid <= 1 || pid == me {
        return Err(usage(format!(
            "PID {pid}: refusing to kill init or zombiereap itself"
        )));
    }
    let outcomes = killtree::kill_tree(pid, opts).map_err(proc_error)?;
    let records: Vec<Record> = outcomes
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
    let summary = Record::new(soak_core::RecordType::Summary, TOOL)
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
    let body = RecordBody::new(
        records,
        &["pid", "ppid", "name", "fate", "signals", "exit_after_s"],
    )
    .summary(summary);
    let mut report = Report::new(TOOL, body).heading("kill-tree");
    if survived > 0 {
        report = report.fail(format!(
            "PID {pid}: {survived} process(es) survived SIGKILL"
        ));
    }
    if denied > 0 {
        report = report.fail(format!(
            "PID {pid}: {denied} process(es) could not be signalled (permission denied)"
        ));
    }
    Ok((report, denied > 0 && denied == outcomes.len()))
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
