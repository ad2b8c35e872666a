//! The command: its flags checked and its directories resolved before anything is touched
//! ([`prepare`]), then a single pass ([`once`]) or a pass every interval ([`watch`]), each
//! returning the report it ends with.

mod once;
mod watch;

use std::path::{Path, PathBuf};

use anyhow::Context;
use soak_core::cli::OutputArgs;
use soak_core::exit::usage;
use soak_core::pathtext::shown;
use soak_core::report::Report;
use soak_core::signals::Termination;

use crate::cli::Cli;
use crate::inventory::Grouping;
use crate::pass::pass;
use crate::report::DirPass;
use crate::safefs;

/// A command line checked and ready to run.
pub(crate) struct Prepared {
    /// The flags.
    cli: Cli,
    /// How file names group into steps.
    grouping: Grouping,
    /// The directories, canonical.
    dirs: Vec<PathBuf>,
    /// SIGINT/SIGTERM/SIGHUP (Ctrl+C/Ctrl+Break on Windows), caught in every mode.
    term: Termination,
}

/// Runs the command the flags ask for; returns its report and the output options to finish
/// it with.
pub(crate) fn run(cli: Cli) -> anyhow::Result<(Report, OutputArgs)> {
    let prepared = prepare(cli)?;
    match prepared.cli.watch {
        Some(every) => watch::run(&prepared, every),
        None => Ok((once::run(&prepared)?, prepared.cli.output.clone())),
    }
}

/// Checks the flags that depend on each other, compiles `--step-pattern`, resolves every DIR
/// and installs the signal handlers: a pass asked to stop leaves what it has not done as it
/// was (a compression in progress is abandoned within one block, its temporary removed).
fn prepare(cli: Cli) -> anyhow::Result<Prepared> {
    if cli.max_size.is_some() && !cli.copytruncate && !cli.rename {
        return Err(usage(
            "--max-size needs --copytruncate or --rename (how the live file is rotated)",
        ));
    }
    let step_re = cli
        .step_pattern
        .as_deref()
        .map(|p| {
            let re = regex::Regex::new(p).map_err(|e| usage(format!("--step-pattern: {e}")))?;
            if re.capture_names().flatten().any(|n| n == "step") {
                Ok(re)
            } else {
                Err(usage("--step-pattern needs a named group (?P<step>...)"))
            }
        })
        .transpose()?;
    let dirs: Vec<PathBuf> = cli
        .dirs
        .iter()
        .map(|d| check_dir(d, cli.force))
        .collect::<anyhow::Result<_>>()?;
    let term = Termination::install().context("installing signal handlers")?;
    Ok(Prepared {
        grouping: Grouping::new(step_re),
        dirs,
        term,
        cli,
    })
}

/// One pass over every DIR in turn, stopping after the directory in progress when a signal
/// asks to stop.
fn pass_all(p: &Prepared) -> anyhow::Result<Vec<DirPass>> {
    let stop = || p.term.requested().is_some();
    let mut done = Vec::with_capacity(p.dirs.len());
    for d in &p.dirs {
        done.push(pass(d, &p.cli, &p.grouping, &stop)?);
        if stop() {
            break;
        }
    }
    Ok(done)
}

/// Refuses `/`, a home directory and their ancestors without --force.
fn check_dir(dir: &Path, force: bool) -> anyhow::Result<PathBuf> {
    let canon = safefs::canonical(dir).map_err(|e| usage(format!("{}: {e}", shown(dir))))?;
    if !canon.is_dir() {
        return Err(usage(format!("{}: not a directory", shown(dir))));
    }
    // The home directory: HOME, or on Windows USERPROFILE when HOME is not set.
    let home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE").filter(|_| cfg!(windows)))
        .map(PathBuf::from)
        .and_then(|h| safefs::canonical(&h).ok());
    // A filesystem root: `/`, or a drive or share root (`C:\`, `\\server\share\`).
    let root = canon.parent().is_none();
    let dangerous = root || home.as_ref().is_some_and(|h| h.starts_with(&canon));
    if dangerous && !force {
        return Err(usage(format!(
            "{}: refusing to manage / or a home directory (or one containing it) without --force",
            shown(dir)
        )));
    }
    Ok(canon)
}
