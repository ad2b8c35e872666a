//! `seccheck`: gates a soak on vulnerable dependencies and on secrets leaking into the
//! artifacts it uploads, offline, in the toolkit's JSONL.
//!
//! Secrets: [`shapes`] (the kinds of secret and the tests that keep look-alikes out),
//! [`watched`] (the forms of a watched environment value), [`pem`] (a private key's extent),
//! [`detect`] (the prefilter and the hits), [`scan`] (block-wise reading and the masked copy),
//! [`replace`] (rewriting a file without writing through a planted path), [`inputs`] (files,
//! directories and streams) and [`secrets`] (the command); [`corpus`] is the labelled corpus
//! the tests and the benchmark score.
//!
//! Dependencies: [`lockfile`] (Cargo.lock, requirements.txt, poetry.lock, uv.lock), [`db`]
//! (RustSec and OSV advisory directories), [`osv`] (OSV ranges), [`severity`], [`ignore`]
//! (`.seccheck.toml`), [`dbage`], [`audit`] (matching and the gate), [`ingest`] (cargo-audit
//! and pip-audit reports), [`report`] (table, Markdown, JSON, JSONL, SARIF) and [`commands`].
//!
//! The advisory cache: [`cache`] (where, and the atomic swap), [`dburl`] (accepted and shown
//! URLs), [`fetch`] (git and the OSV zip) and [`dbupdate`] (`db update`, `db status`, and the
//! cached databases `deps` uses by default).

pub mod audit;
pub mod cache;
pub mod commands;
pub mod corpus;
pub mod db;
pub mod dbage;
pub mod dbupdate;
pub mod dburl;
pub mod detect;
pub mod fetch;
pub mod ignore;
pub mod ingest;
pub mod inputs;
pub mod lockfile;
pub mod osv;
pub mod pem;
pub mod replace;
pub mod report;
pub mod scan;
pub mod secrets;
pub mod severity;
pub mod shapes;
pub mod watched;
#[cfg(windows)]
mod winfs;

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use soak_core::cli::OutputArgs;
use soak_core::exit::ExitCode;

/// Command line of `seccheck`.
#[derive(Debug, Parser)]
#[command(
    name = "seccheck",
    version,
    about = "Gate a soak on vulnerable dependencies and on secrets leaking into its artifacts, offline",
    after_help = "Examples:
  # fetch RustSec and the OSV PyPI export into ~/.cache/soakkit (atomically), then audit from it
  seccheck db update
  seccheck deps --max-db-age 7d .          # updates first when older than 7d; fails closed
  seccheck deps --offline .                # never touches the network
  seccheck db status
  # lockfiles under the project against local RustSec and PyPA databases; HIGH/CRITICAL fail
  seccheck deps --db ~/advisory-db --db ~/pypa-db --max-db-age 7d .
  # the same gate over reports the team already produces
  seccheck ingest cargo-audit.json pip-audit.json
  # before uploading a soak's artifacts: the live keys' values, key shapes, high-entropy tokens
  seccheck secrets --env BYBIT_API_KEY,BYBIT_API_SECRET artifacts/soak/
  # mask what was found, in place (atomically; .gz stays .gz)
  seccheck secrets --env BYBIT_API_SECRET --redact artifacts/soak/

  # a soak with no exchange configured: the unset variables are warnings, not exit 2
  seccheck secrets --env BYBIT_API_KEY,BYBIT_API_SECRET --allow-missing-env artifacts/soak/

Exit status: 0 nothing found (deps: the gate passed); 1 secrets found (or masked with --redact),
or a vulnerability at or above --fail-on, an expired ignore or a stale database; 2 bad usage, a
watched variable unset or too short, --redact on a stream, an unreadable input or corrupt .gz
(the others still scanned), a malformed or empty lockfile, a missing or empty database, a bad
URL scheme, a --cache-dir that is a symlink or a file; 3 a file that could not be rewritten, a
database age that cannot be read or lies in the future, a database too broken to use, a failed
db update (network: the URL is named; the last good copy is kept), no usable cached database.
db status: 0 every database cached, 1 one missing."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Scan files, directories and streams (logs, JSON, CSV, .gz) for secrets.
    Secrets {
        /// Files or directories (walked; symlinks inside are reported, not followed; a symlink
        /// named here is followed), `-` for stdin, FIFOs and `<(...)` (read as streams).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Environment variables whose current values must not appear (literally, escaped,
        /// URL-encoded, base64'd, hex'd or split), comma-separated. The values are read from the
        /// environment, never from the command line. An unset or too-short one is exit 2.
        #[arg(long, value_delimiter = ',')]
        env: Vec<String>,
        /// A variable of --env that is unset or shorter than 8 bytes is a warning, not exit 2
        /// (a soak that does not trade has no exchange keys).
        #[arg(long)]
        allow_missing_env: bool,
        /// Rewrite each file with its secrets masked (`[REDACTED:kind]`); not for streams.
        #[arg(long)]
        redact: bool,
        /// Entropy (bits per character) a token next to key/secret/token/password needs.
        #[arg(long, default_value_t = 3.5)]
        min_entropy: f64,
        /// Output options (no SARIF).
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Audit lockfiles against local advisory databases (RustSec, OSV JSON/YAML).
    Deps {
        /// Lockfiles or project directories (walked; target/, .git/, node_modules/ and
        /// virtualenvs skipped). Default: the current directory.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
        /// An advisory database directory: a RustSec advisory-db checkout or a directory of
        /// OSV records (.json/.yaml). Repeatable. Default: the advisory cache of
        /// `seccheck db update` (the databases the lockfiles' ecosystems need).
        #[arg(long)]
        db: Vec<PathBuf>,
        /// Fail when a database is older than this (git HEAD commit time, else the newest
        /// advisory file), e.g. `7d`. With the cache, an older copy is updated first (unless
        /// --offline); one still too old is exit 3.
        #[arg(long, value_parser = soak_core::units::clap_duration)]
        max_db_age: Option<std::time::Duration>,
        /// A broken advisory is fatal (exit 2) instead of a warning.
        #[arg(long)]
        strict: bool,
        /// With the cache (no --db): never touch the network, even when a database is
        /// missing or older than --max-db-age (then exit 3).
        #[arg(long, conflicts_with = "db")]
        offline: bool,
        /// The cache and its sources (used when no --db is given).
        #[command(flatten)]
        source: dbupdate::SourceArgs,
        /// Gate and output options.
        #[command(flatten)]
        gate: commands::GateArgs,
    },
    /// The advisory database cache: fetch it, or show what is in it.
    Db {
        /// What to do with the cache.
        #[command(subcommand)]
        command: DbCmd,
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

/// The `db` subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCmd {
    /// Clone or fast-forward the RustSec advisory-db and download the OSV PyPI export into the
    /// cache, each atomically (a failed update keeps the last good copy).
    Update {
        /// The cache and its sources.
        #[command(flatten)]
        source: dbupdate::SourceArgs,
        /// Update only this database (repeatable).
        #[arg(long, value_enum)]
        only: Vec<cache::Kind>,
        /// Output options (no SARIF).
        #[command(flatten)]
        output: OutputArgs,
    },
    /// What is cached, how old (git HEAD time / download time), where.
    Status {
        /// The advisory cache directory (default: $XDG_CACHE_HOME/soakkit, else
        /// ~/.cache/soakkit).
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Output options (no SARIF).
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// Runs seccheck.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Cmd::Secrets {
            paths,
            env,
            allow_missing_env,
            redact,
            min_entropy,
            output,
        } => secrets::run(&secrets::SecretsArgs {
            paths,
            env,
            allow_missing_env,
            redact,
            min_entropy,
        })?
        .finish(&output),
        Cmd::Deps {
            paths,
            db,
            max_db_age,
            strict,
            offline,
            source,
            gate,
        } => commands::deps(
            &paths,
            &commands::DbChoice {
                dirs: db,
                source,
                offline,
            },
            max_db_age,
            strict,
            &gate,
        )?
        .finish(&gate.output),
        Cmd::Db {
            command:
                DbCmd::Update {
                    source,
                    only,
                    output,
                },
        } => dbupdate::update(&source, &only, &output),
        Cmd::Db {
            command: DbCmd::Status { cache_dir, output },
        } => dbupdate::status(cache_dir.as_deref())?.finish(&output),
        Cmd::Ingest { files, gate } => commands::ingest(&files, &gate)?.finish(&gate.output),
    }
}
