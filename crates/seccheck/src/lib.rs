//! `seccheck`: gates a soak on vulnerable dependencies and on secrets leaking into the
//! artifacts it uploads, offline, in the toolkit's JSONL.
//!
//! Secrets: [`detect`] (what a secret looks like, with a fast prefilter) and [`scan`]
//! (block-wise file scanning and atomic redaction).
//!
//! Dependencies: [`lockfile`] (Cargo.lock, requirements.txt, poetry.lock, uv.lock), [`db`]
//! (RustSec and OSV advisory directories), [`osv`] (OSV ranges), [`severity`], [`ignore`]
//! (`.seccheck.toml`), [`dbage`], [`audit`] (matching and the gate), [`ingest`] (cargo-audit
//! and pip-audit reports), [`report`] (table, Markdown, JSON, JSONL, SARIF) and [`commands`].

pub mod audit;
pub mod commands;
pub mod db;
pub mod dbage;
pub mod detect;
pub mod ignore;
pub mod ingest;
pub mod lockfile;
pub mod osv;
pub mod pem;
pub mod replace;
pub mod report;
pub mod scan;
pub mod severity;
pub mod shapes;
pub mod watched;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use soak_core::exit::{ExitCode, usage};
use soak_core::output::{Format, write_records};
use soak_core::record::{Record, RecordType};

const TOOL: &str = "seccheck";

/// Command line of `seccheck`.
#[derive(Debug, Parser)]
#[command(
    name = "seccheck",
    version,
    about = "Gate a soak on vulnerable dependencies and on secrets leaking into its artifacts, offline",
    after_help = "Examples:
  # lockfiles under the project against local RustSec and PyPA databases; HIGH/CRITICAL fail
  seccheck deps --db ~/advisory-db --db ~/pypa-db --max-db-age 7d .
  # the same gate over reports the team already produces
  seccheck ingest cargo-audit.json pip-audit.json
  # before uploading a soak's artifacts: the live keys' values, key shapes, high-entropy tokens
  seccheck secrets --env BYBIT_API_KEY,BYBIT_API_SECRET artifacts/soak/
  # mask what was found, in place (atomically; .gz stays .gz)
  seccheck secrets --env BYBIT_API_SECRET --redact artifacts/soak/

Exit status: 0 nothing found (deps: the gate passed); 1 secrets found (or masked with --redact),
or a vulnerability at or above --fail-on, an expired ignore or a stale database; 2 bad usage, an
unreadable path, a malformed lockfile, a missing or empty database; 3 the database age cannot be
read."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Scan files and directories (logs, JSON, CSV, .gz) for secrets.
    Secrets {
        /// Files or directories (walked; symlinks are not followed).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Environment variables whose current values must not appear (literal or base64),
        /// comma-separated. The values are read from the environment, never from the command
        /// line.
        #[arg(long, value_delimiter = ',')]
        env: Vec<String>,
        /// Rewrite each file with its secrets masked (`[REDACTED:kind]`).
        #[arg(long)]
        redact: bool,
        /// Entropy (bits per character) a token next to key/secret/token/password needs.
        #[arg(long, default_value_t = 3.5)]
        min_entropy: f64,
        /// Output format (default: jsonl when piped, table on a terminal).
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
    /// Audit lockfiles against local advisory databases (RustSec, OSV JSON/YAML).
    Deps {
        /// Lockfiles or project directories (walked; target/, .git/, node_modules/ and
        /// virtualenvs skipped). Default: the current directory.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// An advisory database directory: a RustSec advisory-db checkout or a directory of
        /// OSV records (.json/.yaml). Repeatable.
        #[arg(long, required = true)]
        db: Vec<PathBuf>,
        /// Fail when a database is older than this (git HEAD commit time, else the newest
        /// advisory file), e.g. `7d`.
        #[arg(long, value_parser = soak_core::units::clap_duration)]
        max_db_age: Option<std::time::Duration>,
        /// A broken advisory is fatal (exit 2) instead of a warning.
        #[arg(long)]
        strict: bool,
        /// Gate and output options.
        #[command(flatten)]
        gate: commands::GateArgs,
    },
    /// Read `cargo audit --json` and `pip-audit -f json` reports into the same gate.
    Ingest {
        /// The report files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Gate and output options.
        #[command(flatten)]
        gate: commands::GateArgs,
    },
}

/// Runs seccheck.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Secrets {
            paths,
            env,
            redact,
            min_entropy,
            format,
        } => secrets(&paths, &env, redact, min_entropy, Format::resolve(format)),
        Cmd::Deps {
            paths,
            db,
            max_db_age,
            strict,
            gate,
        } => commands::deps(&paths, &db, max_db_age, strict, &gate),
        Cmd::Ingest { files, gate } => commands::ingest(&files, &gate),
    }
}

/// The watched variables' values; unset or too-short ones are named on stderr.
fn env_values(names: &[String]) -> Vec<watched::Watched> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        match std::env::var_os(name) {
            Some(v) if v.len() >= watched::MIN_LEN => {
                out.push(watched::Watched::new(name, v.as_bytes()))
            }
            Some(_) => eprintln!(
                "seccheck: warning: {name} is shorter than 8 characters; not searched for"
            ),
            None => eprintln!("seccheck: warning: {name} is not set; not searched for"),
        }
    }
    out
}

/// Every regular file under `paths` (directories walked, symlinks skipped), sorted.
fn files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        let meta =
            std::fs::symlink_metadata(p).map_err(|e| usage(format!("{}: {e}", p.display())))?;
        if meta.is_file() {
            out.push(p.clone());
            continue;
        }
        if !meta.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(p)
            .follow_links(false)
            .sort_by_file_name()
        {
            let entry = entry.map_err(|e| {
                let at = e
                    .path()
                    .map_or_else(|| p.display().to_string(), |x| x.display().to_string());
                usage(format!(
                    "{at}: {}",
                    e.io_error()
                        .map_or_else(|| e.to_string(), |io| io.to_string())
                ))
            })?;
            if entry.file_type().is_file() {
                out.push(entry.into_path());
            }
        }
    }
    Ok(out)
}

fn secrets(
    paths: &[PathBuf],
    env: &[String],
    redact: bool,
    min_entropy: f64,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let values = env_values(env);
    let watched_count = values.len();
    let detector =
        detect::Detector::new(values, min_entropy).map_err(|e| usage(format!("pattern: {e}")))?;
    let files = files(paths)?;
    let started = std::time::Instant::now();
    let mut records = Vec::new();
    let (mut bytes, mut found, mut skipped, mut redacted) = (0u64, 0usize, 0usize, 0usize);
    for f in &files {
        let scan = match scan::scan_file(f, &detector) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // vanished meanwhile
            Err(e) => return Err(usage(format!("{}: {e}", f.display()))),
        };
        if let Some(e) = &scan.error {
            return Err(usage(format!("{}: {e}", f.display())));
        }
        bytes += scan.bytes;
        if scan.skipped.is_some() {
            skipped += 1;
            continue;
        }
        for hit in &scan.found {
            found += 1;
            records.push(
                Record::new(RecordType::Finding, TOOL)
                    .with("finding", "secret")
                    .with("kind", hit.kind.as_str())
                    .with("file", f.display().to_string())
                    .with("line", hit.line)
                    .with("end_line", hit.end_line)
                    .with("column", hit.column)
                    .with("masked", hit.masked.as_str())
                    .with("severity", "high"),
            );
        }
        if redact && !scan.found.is_empty() {
            let n = scan::redact_file(f, &detector)
                .map_err(|e| soak_core::exit::environment(format!("{}: {e}", f.display())))?;
            redacted += n;
            records.push(
                Record::new(RecordType::Action, TOOL)
                    .with("action", "redact")
                    .with("file", f.display().to_string())
                    .with("secrets_masked", n)
                    .with("dry_run", false),
            );
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let summary = Record::new(RecordType::Summary, TOOL)
        .with("command", "secrets")
        .with("files", files.len())
        .with("binary_files_skipped", skipped)
        .with("bytes", bytes)
        .with(
            "mb_per_s",
            if secs > 0.0 {
                ((bytes as f64 / 1e6 / secs) * 10.0).round() / 10.0
            } else {
                0.0
            },
        )
        .with("env_values_watched", watched_count)
        .with("secrets", found)
        .with("redacted", redacted)
        .with("ok", found == 0);
    let mut out = std::io::stdout().lock();
    if matches!(format, Format::Jsonl | Format::Json) {
        records.push(summary);
        write_records(&mut out, format, &records, None)?;
    } else {
        write_records(
            &mut out,
            format,
            &records,
            Some(&["kind", "file", "line", "column", "masked"]),
        )?;
        use std::io::Write;
        writeln!(
            out,
            "{found} secret(s) in {} file(s), {} bytes scanned",
            files.len(),
            bytes
        )?;
    }
    Ok(ExitCode::from_checks(found == 0))
}
