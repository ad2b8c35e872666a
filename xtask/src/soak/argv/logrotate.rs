//! `logrotate`: the run directory held to the disk budget while the service runs, and the
//! final compress/budget pass before the verdict.

use std::process::Command;

use anyhow::Result;

use super::super::SoakArgs;
use super::super::plan::Plan;

/// `logrotate --watch`: the live log rotated loss-free (copytruncate) past `--max-log-size`,
/// old parts compressed, the directory held to `--max-total`, into `logrotate.jsonl`.
pub fn watch(plan: &Plan, args: &SoakArgs) -> Result<Command> {
    let every = args
        .logrotate_every
        .clone()
        .unwrap_or_else(|| if args.demo { "10s".into() } else { "5m".into() });
    let mut c = plan.tool("logrotate");
    c.args([
        "--watch",
        &every,
        "--max-total",
        &args.max_total,
        "--max-size",
        &args.max_log_size,
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
        &args.max_total,
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
