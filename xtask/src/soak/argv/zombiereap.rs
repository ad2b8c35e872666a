//! `zombiereap`: the launched service's supervisor, and the scan after the run.

use std::fs::File;
use std::process::Command;

use anyhow::Result;

use super::super::plan::Plan;

/// `zombiereap run`: the service as a subreaper's child, its events in `zombiereap.jsonl`, its
/// output into `log`; the service gets `--shutdown-timeout` to stop.
pub fn run(plan: &Plan, command: &[String], log: File) -> Result<Command> {
    let mut c = plan.tool("zombiereap");
    c.args([
        "run",
        "--grace",
        &format!("{}ms", plan.settings.shutdown.as_millis()),
        "--output",
    ])
    .arg(plan.file("zombiereap.jsonl"))
    .arg("--")
    .args(command)
    .stdout(log.try_clone()?)
    .stderr(log);
    Ok(c)
}

/// `zombiereap scan` after the run, into `zombies.jsonl`.
pub fn scan(plan: &Plan) -> Result<Command> {
    let mut c = plan.tool("zombiereap");
    c.args(["scan", "--format", "jsonl"])
        .stdout(plan.out("zombies.jsonl")?);
    Ok(c)
}
