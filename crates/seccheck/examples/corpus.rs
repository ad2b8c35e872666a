//! Writes the labelled corpus and scores a tool's findings against it, for
//! `cargo xtask bench seccheck`:
//!
//! - `corpus write DIR [SEED]`: the files under DIR, the truth (planted secrets, decoys, the
//!   watched variables' values) to DIR/../truth.json;
//! - `corpus score DIR SEED seccheck|detect-secrets REPORT`: the score of a `seccheck secrets
//!   --format jsonl` output or a `detect-secrets scan` JSON report, as one JSON line.

use std::path::Path;

use anyhow::{Context, Result, bail};
use seccheck::corpus;
use serde_json::Value;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed =
        |i: usize| -> Result<u64> { args.get(i).map_or(Ok(22), |s| s.parse().context("SEED")) };
    match args.first().map(String::as_str) {
        Some("write") => {
            let dir = Path::new(args.get(1).context("corpus write DIR [SEED]")?);
            let c = corpus::generate(seed(2)?);
            std::fs::create_dir_all(dir)?;
            c.write_to(dir)?;
            let truth = dir.parent().unwrap_or(Path::new(".")).join("truth.json");
            std::fs::write(&truth, serde_json::to_string_pretty(&c)?)?;
            println!("{}", serde_json::to_string(&c.env)?);
        }
        Some("score") => {
            let [dir, _, tool, report] =
                [1, 2, 3, 4].map(|i| args.get(i).cloned().unwrap_or_default());
            let c = corpus::generate(seed(2)?);
            let text = std::fs::read_to_string(&report).with_context(|| report.clone())?;
            let rel = |f: &str| {
                Path::new(f)
                    .strip_prefix(&dir)
                    .map_or_else(|_| f.to_string(), |p| p.to_string_lossy().into_owned())
            };
            let findings: Vec<(String, u64)> = match tool.as_str() {
                "seccheck" => text
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .filter(|r| r["type"] == "finding")
                    .map(|r| {
                        (
                            rel(r["file"].as_str().unwrap_or("")),
                            r["line"].as_u64().unwrap_or(0),
                        )
                    })
                    .collect(),
                "detect-secrets" => {
                    let v: Value = serde_json::from_str(&text).context("detect-secrets JSON")?;
                    let mut out = Vec::new();
                    if let Some(results) = v["results"].as_object() {
                        for (file, list) in results {
                            for r in list.as_array().into_iter().flatten() {
                                out.push((rel(file), r["line_number"].as_u64().unwrap_or(0)));
                            }
                        }
                    }
                    out
                }
                other => bail!("unknown tool {other:?} (seccheck or detect-secrets)"),
            };
            let s = corpus::score(&c, &findings);
            println!(
                "{}",
                serde_json::json!({
                    "tool": tool, "found": s.found, "planted": s.planted,
                    "recall": s.recall(), "precision": s.precision(),
                    "false_findings": s.false_findings, "missed": s.missed, "false_at": s.false_at,
                })
            );
        }
        _ => bail!("usage: corpus write DIR [SEED] | corpus score DIR SEED TOOL REPORT"),
    }
    Ok(())
}
