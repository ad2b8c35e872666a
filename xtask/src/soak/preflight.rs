//! Before the service starts: the dependency audit of the project's lockfiles.

use anyhow::{Context, Result};

use super::SoakArgs;
use super::artifacts::last_summary_of;
use super::plan::Plan;
use super::records::DepsSummary;

/// What the preflight audit found, for the Security row.
#[derive(Debug, Clone)]
pub enum Audit {
    /// Not run, and rightly so (the reason is the row's detail).
    Skipped(String),
    /// seccheck deps did not produce a verdict.
    Failed(String),
    /// seccheck deps' summary.
    Done(DepsSummary),
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
    let status = super::argv::seccheck::deps(plan, args, &dbs, &project)?
        .status()
        .context("starting seccheck deps")?;
    Ok(
        match last_summary_of::<DepsSummary>(&plan.file("deps.jsonl"), "seccheck") {
            Some(s) => Audit::Done(s),
            None => {
                let err = std::fs::read_to_string(plan.file("deps.stderr")).unwrap_or_default();
                Audit::Failed(format!("seccheck deps failed ({status}): {}", err.trim()))
            }
        },
    )
}
