//! `seccheck`: the dependency audit before the run, and the artifacts scanned for secrets
//! after it, before anything is uploaded.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::super::SoakArgs;
use super::super::demo::{Credentials, pass_credentials};
use super::super::plan::Plan;
use super::duration;

/// The variables whose values must never reach the artifacts.
const SECRET_VARS: [&str; 4] = [
    "BYBIT_API_KEY",
    "BYBIT_API_SECRET",
    "KRAKEN_API_KEY",
    "KRAKEN_API_SECRET",
];

/// How old seccheck's cache may be before the audit updates it, without `--max-db-age`.
const DEFAULT_CACHE_AGE: Duration = Duration::from_secs(7 * 86_400);

/// `seccheck deps PROJECT` against `dbs` (or, with none, seccheck's own cache, updated first
/// when older than `--max-db-age`, failing closed with the command to run when it can be
/// neither read nor updated), into `deps.jsonl`.
pub fn deps(plan: &Plan, args: &SoakArgs, dbs: &[PathBuf], project: &Path) -> Result<Command> {
    let mut cmd = plan.tool("seccheck");
    cmd.arg("deps");
    if dbs.is_empty() {
        cmd.args([
            "--max-db-age",
            &duration(args.max_db_age.unwrap_or(DEFAULT_CACHE_AGE)),
        ]);
        if let Some(dir) = &args.advisory_cache {
            cmd.arg("--cache-dir").arg(dir);
        }
        if args.offline {
            cmd.arg("--offline");
        }
    } else {
        for db in dbs {
            cmd.arg("--db").arg(db);
        }
        if let Some(age) = args.max_db_age {
            cmd.args(["--max-db-age", &duration(age)]);
        }
    }
    cmd.args(["--format", "jsonl"])
        .arg(project)
        .stdout(plan.out("deps.jsonl")?)
        .stderr(plan.out("deps.stderr")?);
    Ok(cmd)
}

/// `seccheck secrets` over the run directory for the exchange keys' values and known key
/// shapes, into `secrets.jsonl`.
pub fn secrets(plan: &Plan, creds: Option<&Credentials>) -> Result<Command> {
    let mut scan = plan.tool("seccheck");
    scan.args(["secrets", "--format", "jsonl"]);
    // Only the variables this run has: an unset one is nothing to look for (and seccheck
    // refuses a watched variable that is not set).
    let watched: Vec<&str> = SECRET_VARS
        .iter()
        .copied()
        .filter(|v| {
            creds.is_some() && v.starts_with("BYBIT")
                || std::env::var_os(v).is_some_and(|x| !x.is_empty())
        })
        .collect();
    if !watched.is_empty() {
        // A set but too-short value is reported by seccheck as a warning, not a refusal: the
        // artifacts are still scanned for every key shape.
        scan.args(["--env", &watched.join(","), "--allow-missing-env"]);
    }
    scan.arg(&plan.dir)
        .stdout(plan.out("secrets.jsonl")?)
        .stderr(plan.out("secrets.stderr")?);
    pass_credentials(creds, &mut scan);
    Ok(scan)
}
