//! `seccheck`: gates a soak on vulnerable dependencies and on secrets leaking into the
//! artifacts it uploads, offline, in the toolkit's JSONL.
//!
//! [`cli`] is the command line (clap only); [`commands`] holds one module per subcommand
//! (`secrets`, `deps`, `ingest`, `db`), each returning its [`soak_core::report::Report`].
//!
//! Secrets: [`shapes`] (the kinds of secret and the tests that keep look-alikes out),
//! [`watched`] (the forms of a watched environment value), [`pem`] (a private key's extent),
//! [`detect`] (the prefilter and the hits), [`scan`] (block-wise reading and the masked copy),
//! [`replace`] (rewriting a file without writing through a planted path) and [`inputs`] (files,
//! directories and streams); [`corpus`] is the labelled corpus the tests and the benchmark
//! score.
//!
//! Dependencies: [`lockfile`] (Cargo.lock, requirements.txt, poetry.lock, uv.lock), [`db`]
//! (RustSec and OSV advisory directories), [`osv`] (OSV ranges), [`severity`], [`ignore`]
//! (`.seccheck.toml`), [`textfile`] (reading them, and their errors naming file and line),
//! [`dbage`], [`audit`] (matching and the gate), [`ingest`] (cargo-audit and pip-audit
//! reports) and [`report`] (table, Markdown, JSON, JSONL, SARIF).
//!
//! The advisory cache: [`cache`] (where, and the atomic swap), [`dburl`] (accepted and shown
//! URLs), [`fetch`] (git and the OSV zip) and [`dbupdate`] (updating one database, and the
//! cached databases `deps` uses by default).

pub mod audit;
pub mod cache;
pub mod cli;
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
pub mod severity;
pub mod shapes;
pub mod textfile;
pub mod watched;
#[cfg(windows)]
mod winfs;

use soak_core::exit::ExitCode;

pub use cli::{Cli, Cmd, DbCmd, GateArgs, SourceArgs};

/// The tool's name in its records.
pub(crate) const TOOL: &str = "seccheck";

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
        } => commands::secrets::run(&commands::secrets::SecretsArgs {
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
        } => commands::deps::deps(
            &paths,
            &commands::deps::DbChoice {
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
        } => commands::db::update(&source, &only)?.finish(&output),
        Cmd::Db {
            command: DbCmd::Status { cache_dir, output },
        } => commands::db::status(cache_dir.as_deref())?.finish(&output),
        Cmd::Ingest { files, gate } => {
            commands::ingest::ingest(&files, &gate)?.finish(&gate.output)
        }
    }
}
