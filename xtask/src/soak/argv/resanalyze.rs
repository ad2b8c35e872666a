//! `resanalyze`: early leak warnings while resmon records, and the analysis after the run.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;

use super::super::SoakArgs;
use super::super::plan::Plan;
use super::duration;

/// The trend's minimums, the same for both passes. A demo lasts minutes, not hours: trends
/// need 10 samples over 10 s there (resanalyze's 1 MB noise floor keeps allocator steps from
/// passing for leaks).
fn trend_args(args: &SoakArgs) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let Some(n) = args.min_samples.or(args.demo.then_some(10)) {
        v.extend(["--min-samples".into(), n.to_string()]);
    }
    if let Some(s) = args
        .min_span
        .or(args.demo.then_some(Duration::from_secs(10)))
    {
        v.extend(["--min-span".into(), duration(s)]);
    }
    v
}

/// `resanalyze --follow resources.jsonl --follow-estimates`, into `resanalyze-follow.jsonl`.
pub fn early(plan: &Plan, args: &SoakArgs) -> Result<Command> {
    let mut c = plan.tool("resanalyze");
    c.arg("--follow")
        .arg(plan.file("resources.jsonl"))
        .args(["--follow-estimates", "--format", "jsonl"])
        .args(trend_args(args))
        .stdout(plan.out("resanalyze-follow.jsonl")?)
        .stderr(plan.out("resanalyze-follow.stderr")?);
    Ok(c)
}

/// The analysis of the whole recording: `resanalyze.jsonl`, the analysis document
/// `resources.analysis.json` and the plot `resources.svg`.
pub fn final_pass(plan: &Plan, args: &SoakArgs) -> Result<Command> {
    let mut c = plan.tool("resanalyze");
    c.arg(plan.file("resources.jsonl"))
        .args(["--format", "jsonl", "--write-analysis"])
        .arg(plan.file("resources.analysis.json"))
        .arg("--plot")
        .arg(plan.file("resources.svg"))
        .args(trend_args(args))
        .stdout(plan.out("resanalyze.jsonl")?);
    Ok(c)
}
