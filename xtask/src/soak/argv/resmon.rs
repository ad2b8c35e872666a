//! `resmon`: the service's resources, sampled for the whole run.

use std::process::{Command, Stdio};

use anyhow::Result;

use super::super::SoakArgs;
use super::super::plan::Plan;
use super::duration;

/// resmon on `target` (`--pid N`, `--container NAME`, `--unit NAME`) every `--interval`, with
/// the run directory's growth (what the disk early warning projects, not the whole
/// filesystem, which other processes write too), into `resources.jsonl`.
pub fn follow(plan: &Plan, args: &SoakArgs, target: &[String]) -> Result<Command> {
    let mut c = plan.tool("resmon");
    c.args(target)
        .args(["--interval", &duration(args.interval)])
        .arg("--watch-path")
        .arg(&plan.dir)
        .arg("--output")
        .arg(plan.file("resources.jsonl"))
        .stdout(Stdio::null())
        .stderr(plan.out("resmon.stderr")?);
    Ok(c)
}
