//! The one library every tool of the soak toolkit links.
//!
//! - [`record`]: the JSONL protocol (record kinds, common fields, the spec with an example);
//! - [`jsonl`]: the tolerant streaming reader and the whole-line writer;
//! - [`input`]: file arguments, globs, stdin and transparent gzip;
//! - [`units`]: durations, sizes, rates and percentages, parsed by one set of functions;
//! - [`output`]: `--format jsonl|json|table|markdown|csv` and the terminal/pipe default;
//! - [`exit`]: the exit-code convention and the `main` wrapper that applies it;
//! - [`gha`]: GitHub Actions annotations and step summaries;
//! - [`fileinfo`]: file identities, positional reads and device checks on every OS;
//! - [`follow`]: the line follower of a file still being written, across rename and truncation;
//! - [`alive`]: whether a PID is still running, on every OS;
//! - `proc` (Linux only): /proc process trees and PID-reuse-safe process identities;
//! - `portable_proc` (Windows, macOS): the process listing and trees by parent PID through
//!   sysinfo;
//! - [`signals`]: graceful termination on SIGINT/SIGTERM/SIGHUP (Ctrl+C/Ctrl+Break on Windows);
//! - [`sys`]: safe wrappers over process and filesystem system calls (signals and pidfds on
//!   Unix, free space everywhere);
//! - `winfs` (Windows only): creating, opening, renaming and locking files without following a
//!   symlink or junction, nor replacing anything.
//!
//! Everything but `proc`, `portable_proc` and `winfs` builds and is tested on Linux, Windows and
//! macOS.

pub mod alive;
pub mod cli;
pub mod error;
pub mod exit;
pub mod fileinfo;
pub mod follow;
pub mod gha;
pub mod input;
pub mod jsonl;
pub mod outfile;
pub mod output;
pub mod pathtext;
#[cfg(not(target_os = "linux"))]
pub mod portable_proc;
#[cfg(target_os = "linux")]
pub mod proc;
pub mod record;
pub mod report;
pub mod signals;
pub mod stdout;
pub mod sys;
pub mod units;
#[cfg(windows)]
pub mod winfs;

pub use error::CoreError;
pub use exit::ExitCode;
pub use record::{Finding, Record, RecordType, Severity, Timestamp};
