//! `logrotate`: the run directory held to the disk budget while the service runs, and the
//! final compress/budget pass before the verdict.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::super::SoakArgs;
use super::super::plan::Plan;
use super::{duration, size};

/// `logrotate --watch`: the live log rotated loss-free (copytruncate) past `--max-log-size`,
/// old parts compressed, the directory held to `--max-total`, into `logrotate.jsonl`.
pub fn watch(plan: &Plan, args: &SoakArgs) -> Result<Command> {
    let every = args.logrotate_every.unwrap_or(if args.demo {
        Duration::from_secs(10)
    } else {
        Duration::from_secs(5 * 60)
    });
    let mut c = plan.tool("logrotate");
    c.args([
        "--watch",
        &duration(every),
        "--max-total",
        &size(args.max_total),
        "--max-size",
        &size(args.max_log_size),
        "--copytruncate",
        "--compress",
        "--format",
        "jsonl",
    ])
    .args(["--exclude", "summary.*"])
    .arg(&plan.dir)
    .stdout(plan.out("logrotate.jsonl")?)
    .stderr(plan.out("logrotate.stderr")?);
    Ok(c)
}

/// Before the verdict: what will be uploaded compressed and held to the budget, so the disk
/// row judges what is uploaded (the summaries and the plot stay as they are); into
/// `logrotate-final.jsonl`.
pub fn final_pass(plan: &Plan, args: &SoakArgs) -> Result<Command> {
    let mut c = plan.tool("logrotate");
    c.args([
        "--compress",
        "--compress-after",
        "0s",
        "--max-total",
        &size(args.max_total),
        "--format",
        "jsonl",
    ])
    .args([
        "--exclude",
        "summary.*",
        "--exclude",
        "*.svg",
        "--exclude",
        "logrotate-final.jsonl",
    ])
    .arg(&plan.dir)
    .stdout(plan.out("logrotate-final.jsonl")?);
    Ok(c)
}
