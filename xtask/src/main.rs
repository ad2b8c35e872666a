//! `cargo xtask ...`: the project's own workflows, written in Rust so they run wherever cargo
//! does (the alias lives in `.cargo/config.toml`).

#![deny(unsafe_code)]

use std::process::{Command, ExitCode};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

pub mod bench;
mod dist;
mod soak;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Project workflows: checks, benchmarks, soak"
)]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run exactly what CI runs: `.ci/run` (installs the reference tools the tests drive,
    /// actionlint, the test suite, clippy with warnings denied, rustfmt check); its exit status
    /// is passed through.
    Ci,
    /// The whole soak workflow: `soak --demo`, or `soak [OPTIONS] -- CMD ARGS...`.
    Soak(Box<soak::SoakArgs>),
    /// Write RUN_DIR/report.html: the run's verdict, charts on one time axis, findings and
    /// artifacts in one self-contained page (the soak writes it itself at its end).
    Report {
        /// A soak's run directory (`artifacts/soak/run-...`).
        run_dir: std::path::PathBuf,
    },
    /// Benchmark a tool side by side with its reference tool (e.g. `bench resmon`).
    Bench {
        /// The tool to benchmark.
        tool: String,
        /// Arguments for that benchmark (see its --help).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Build the release archive target/dist/soakkit-VERSION-TARGET.tar.gz (every binary,
    /// bash/zsh/fish completions, man pages, README, licences) and its .sha256.
    Dist(dist::DistArgs),
    /// Install every binary, its completions and man pages under a prefix (default ~/.local).
    Install(dist::install::InstallArgs),
    /// Run `seccheck deps` and `cargo audit --no-fetch --json` on the same Cargo.lock and
    /// RustSec advisory-db checkout and check they report the same advisory ids (skipped with
    /// the reason when the database or cargo-audit is absent).
    AuditCompare {
        /// The RustSec advisory-db checkout (default: $SECCHECK_BENCH_DB).
        #[arg(long)]
        db: Option<String>,
        /// The Cargo.lock (default: the zola 0.16.0 fixture).
        #[arg(long)]
        lock: Option<String>,
    },
}

fn main() -> ExitCode {
    // A bad value (`--grace 5x`) is one line naming the flag, exit 2, before anything starts.
    let cli: Cli = soak_core::cli::parse_or_exit("xtask");
    let result = match cli.task {
        Task::Ci => return ci(),
        Task::Soak(args) => match soak::run(&args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Task::Report { run_dir } => match soak::report::write_report(&run_dir) {
            Ok(path) => {
                println!("{}", path.display());
                Ok(())
            }
            // Every failure here is the run directory's (missing, malformed, a report there).
            Err(e) => {
                eprintln!("xtask: error: {e:#}");
                return ExitCode::from(2);
            }
        },
        Task::Bench { tool, args } => bench::run(&tool, &args),
        Task::Dist(args) => return dist_exit(dist::run(&args)),
        Task::Install(args) => return dist_exit(dist::install::run(&args)),
        Task::AuditCompare { db, lock } => {
            let mut args = vec!["compare".to_string()];
            for (flag, v) in [("--db", db), ("--lock", lock)] {
                if let Some(v) = v {
                    args.extend([flag.to_string(), v]);
                }
            }
            bench::run("seccheck", &args)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// `dist` and `install` exit 2 on bad input, 3 when the environment failed them.
fn dist_exit(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            ExitCode::from(dist::exit_status(&e))
        }
    }
}

/// `.ci/run`, the one CI entry point, run from the workspace root with its exit status passed
/// through (a signal's death as 128 + N, as a shell reports it).
fn ci() -> ExitCode {
    let script = match workspace_root() {
        Ok(root) => root.join(".ci/run"),
        Err(e) => {
            eprintln!("xtask: error: {e:#}");
            return ExitCode::from(3);
        }
    };
    eprintln!("xtask: bash {}", script.display());
    match Command::new("bash").arg(&script).status() {
        Ok(status) => ExitCode::from(exit_byte(status)),
        Err(e) => {
            eprintln!("xtask: error: cannot start bash {}: {e}", script.display());
            ExitCode::from(3)
        }
    }
}

/// A child's status as this process's exit status: its code, or 128 + the signal that ended it.
fn exit_byte(status: std::process::ExitStatus) -> u8 {
    #[cfg(unix)]
    let signal = {
        use std::os::unix::process::ExitStatusExt;
        status.signal()
    };
    // Windows has no signals: every end is an exit code.
    #[cfg(not(unix))]
    let signal: Option<i32> = None;
    let code = status
        .code()
        .or_else(|| signal.map(|n| 128 + n))
        .unwrap_or(1);
    u8::try_from(code).unwrap_or(1)
}

/// The workspace root (xtask's manifest is one level below it).
pub fn workspace_root() -> Result<std::path::PathBuf> {
    let manifest = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(std::path::Path::to_path_buf)
        .context("xtask has no parent directory")
}

#[cfg(all(test, unix))]
mod tests {
    use super::exit_byte;
    use std::process::Command;

    fn sh(script: &str) -> std::process::ExitStatus {
        Command::new("sh")
            .args(["-c", script])
            .status()
            .expect("sh runs")
    }

    #[test]
    fn a_child_s_status_passes_through_and_a_signal_reads_as_128_plus_n() {
        assert_eq!(exit_byte(sh("exit 0")), 0);
        assert_eq!(exit_byte(sh("exit 3")), 3);
        assert_eq!(exit_byte(sh("kill -TERM $$")), 128 + 15);
    }
}
