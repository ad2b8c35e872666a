//! `logscan`: the hang watchdog following the live log, and the final pass over every part of
//! it.

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use super::super::SoakArgs;
use super::super::files::log_parts;
use super::super::plan::Plan;

/// The heartbeat flags both passes get, so the live watchdog and the final verdict judge by
/// one rule: armed at the log's first heartbeat, silent logs never a hang.
fn heartbeat_args(plan: &Plan, args: &SoakArgs) -> Vec<String> {
    let mut v = vec![
        "--max-heartbeat-gap".to_string(),
        format!("{}ms", plan.settings.gap.as_millis()),
        "--heartbeat-optional".to_string(),
    ];
    for re in &args.heartbeat_regex {
        v.extend(["--heartbeat-regex".to_string(), re.clone()]);
    }
    for pack in &args.log_pack {
        v.extend(["--pack".to_string(), pack.clone()]);
    }
    v
}

/// `logscan --follow LOG`: the watchdog, into `logscan-follow.jsonl`.
pub fn watchdog(plan: &Plan, args: &SoakArgs, log: &Path) -> Result<Command> {
    let mut c = plan.tool("logscan");
    c.arg("--follow")
        .arg(log)
        .args(heartbeat_args(plan, args))
        .args(["--format", "jsonl"])
        .stdout(plan.out("logscan-follow.jsonl")?)
        .stderr(plan.out("logscan-follow.stderr")?);
    Ok(c)
}

/// The final pass over the attached service's log file, or every part of `service.log` in
/// the order written, up to `stop_unix`, into `logscan.jsonl`.
pub fn final_pass(plan: &Plan, args: &SoakArgs, stop_unix: f64) -> Result<Command> {
    let mut c = plan.tool("logscan");
    c.args(match &args.log_file {
        Some(f) => vec![f.clone()],
        None => log_parts(&plan.dir, "service.log"),
    })
    .args([
        "--format",
        "jsonl",
        "--no-events",
        "--end-time",
        &format!("{stop_unix:.3}"),
    ])
    .args(heartbeat_args(plan, args))
    .args([
        "--max-errors-per-hour",
        &args.max_errors_per_hour.to_string(),
    ])
    .stdout(plan.out("logscan.jsonl")?);
    Ok(c)
}
