//! Before the service starts: the dependency audit of the project's lockfiles.

use anyhow::{Context, Result};
use serde_json::Value;

use super::verdict::{last_summary, read_jsonl};
use super::{Plan, SoakArgs};

/// How old seccheck's cache may be before the audit updates it, without `--max-db-age`.
const DEFAULT_CACHE_AGE: &str = "7d";

/// What the preflight audit found, for the Security row.
#[derive(Debug, Clone)]
pub enum Audit {
    /// Not run, and rightly so (the reason is the row's detail).
    Skipped(String),
    /// seccheck deps did not produce a verdict.
    Failed(String),
    /// seccheck deps' summary.
    Done(Value),
}

/// The preflight dependency audit: `seccheck deps` on the project's lockfiles against the
/// advisory databases, its records in `deps.jsonl`.
pub fn audit_dependencies(plan: &Plan, args: &SoakArgs) -> Result<Audit> {
    if args.no_deps_audit {
        return Ok(Audit::Skipped("--no-deps-audit".into()));
    }
    let (dbs, project) = if args.demo && args.advisory_db.is_empty() {
        let root = crate::workspace_root()?;
        (
            vec![root.join("fixtures/seccheck/advisory-db")],
            root.join("Cargo.lock"),
        )
    } else {
        (args.advisory_db.clone(), args.project.clone())
    };
    let lockfiles = seccheck::lockfile::discover(std::slice::from_ref(&project))
        .with_context(|| format!("--project {}", project.display()))?;
    if lockfiles.is_empty() {
        return Ok(Audit::Skipped(format!(
            "no lockfile (Cargo.lock, requirements*.txt, poetry.lock, uv.lock) under --project {}",
            project.display()
        )));
    }
    let mut cmd = plan.tool("seccheck");
    cmd.arg("deps");
    if dbs.is_empty() {
        // seccheck's own cache, updated first when older than the age (fails closed with the
        // command to run when it can be neither read nor updated).
        cmd.args([
            "--max-db-age",
            args.max_db_age.as_deref().unwrap_or(DEFAULT_CACHE_AGE),
        ]);
        if let Some(dir) = &args.advisory_cache {
            cmd.arg("--cache-dir").arg(dir);
        }
        if args.offline {
            cmd.arg("--offline");
        }
    } else {
        for db in &dbs {
            cmd.arg("--db").arg(db);
        }
        if let Some(age) = &args.max_db_age {
            cmd.args(["--max-db-age", age]);
        }
    }
    cmd.args(["--format", "jsonl"])
        .arg(&project)
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdout(plan.out("deps.jsonl")?)
        .stderr(plan.out("deps.stderr")?);
    let status = cmd.status().context("starting seccheck deps")?;
    let recs = read_jsonl(&plan.file("deps.jsonl"));
    Ok(match last_summary(&recs, "seccheck") {
        Some(s) => Audit::Done(s.clone()),
        None => {
            let err = std::fs::read_to_string(plan.file("deps.stderr")).unwrap_or_default();
            Audit::Failed(format!("seccheck deps failed ({status}): {}", err.trim()))
        }
    })
}
