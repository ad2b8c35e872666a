//! The command line of `seccheck` (clap only: no logic here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use soak_core::cli::OutputArgs;

use crate::cache;
use crate::dburl;
use crate::severity::Severity;

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
        source: SourceArgs,
        /// Gate and output options.
        #[command(flatten)]
        gate: GateArgs,
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
        gate: GateArgs,
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
        source: SourceArgs,
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

/// The gate's options, shared by `deps` and `ingest`.
#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// The lowest severity that fails the gate.
    #[arg(long, value_enum, default_value = "high")]
    pub fail_on: Severity,
    /// How an advisory without a CVSS vector or database rating counts (fails closed by
    /// default: as HIGH).
    #[arg(long, value_enum, default_value = "high")]
    pub unknown_severity: Severity,
    /// Ignore file (default: `.seccheck.toml` in the current directory, when present).
    #[arg(long)]
    pub ignore_file: Option<PathBuf>,
    /// Output options (`--format sarif` for code scanning; no CSV).
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Where the cache is and where its databases come from.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// The advisory cache directory (default: $XDG_CACHE_HOME/soakkit, else ~/.cache/soakkit).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// The RustSec advisory-db git remote (https, http, ssh, git, file URL or an absolute path).
    #[arg(long, value_name = "URL", default_value = dburl::RUSTSEC_URL)]
    pub rustsec_url: String,
    /// The OSV PyPI export (a zip of JSON records; https or http).
    #[arg(long, value_name = "URL", default_value = dburl::OSV_PYPI_URL)]
    pub osv_pypi_url: String,
}
