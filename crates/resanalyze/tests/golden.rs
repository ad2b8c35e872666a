//! The typed analysis ([`resanalyze::Analysis`]) writes exactly the document resanalyze wrote
//! when it was built as an untyped `serde_json::Value`: the golden files in
//! `fixtures/resanalyze/golden/` were written by that earlier binary, on the fixtures and on
//! generated traces (fixed seeds). To write them again with a given binary:
//! `RESANALYZE_BLESS=1 RESANALYZE_BIN=/path/to/resanalyze cargo test -p resanalyze --test golden`.

mod common;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use resanalyze::Analysis;
use resanalyze::tracegen::{GcCycles, Shape, TraceSpec};
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/resanalyze")
}

fn binary() -> PathBuf {
    std::env::var_os("RESANALYZE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| assert_cmd::cargo::cargo_bin("resanalyze"))
}

/// The cases: a name and resanalyze's arguments (inputs and thresholds).
fn cases(dir: &Path) -> Vec<(&'static str, Vec<OsString>)> {
    let seed = fixtures().join("seed_001_sample.jsonl");
    let cgroup = fixtures().join("cgroup_limit_oom.jsonl");
    let linear = common::trace(dir, "linear", &TraceSpec::new(Shape::Linear, 6.0, 30.0));
    let late = common::trace(dir, "late", &TraceSpec::new(Shape::LateLeak, 8.0, 60.0));
    let spikes = common::trace(dir, "spikes", &TraceSpec::new(Shape::Spikes, 3.0, 20.0));
    let gc = common::trace(
        dir,
        "gc",
        &TraceSpec::gc(6.0, 15.0, GcCycles::default(), 2.0),
    );
    let os = |args: &[&dyn AsRef<std::ffi::OsStr>]| -> Vec<OsString> {
        args.iter().map(|a| a.as_ref().to_os_string()).collect()
    };
    vec![
        ("seed", os(&[&seed])),
        ("cgroup", os(&[&cgroup])),
        (
            "cgroup_baseline",
            os(&[&cgroup, &"--baseline", &seed, &"--regression", &"5%"]),
        ),
        ("linear", os(&[&linear, &"--min-duration", &"8h"])),
        ("late_leak", os(&[&late])),
        ("spikes", os(&[&spikes, &"--cpu-window", &"1m"])),
        ("gc_sawtooth", os(&[&gc, &"--warmup", &"20m"])),
    ]
}

fn run(args: &[OsString], format: &str) -> (String, Option<i32>) {
    let out = Command::new(binary())
        .args(args)
        .args(["--format", format])
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("run resanalyze");
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(!text.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    (text, out.status.code())
}

#[test]
fn the_typed_analysis_writes_the_untyped_documents_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tmp");
    let bless = std::env::var_os("RESANALYZE_BLESS").is_some();
    for (name, args) in cases(dir.path()) {
        let golden = fixtures()
            .join("golden")
            .join(format!("{name}.analysis.json"));
        let (json, code) = run(&args, "json");
        if bless {
            std::fs::write(&golden, &json).expect("bless");
            continue;
        }
        let want = std::fs::read_to_string(&golden).expect("golden file");
        assert_eq!(
            json, want,
            "{name}: --format json differs from the golden document"
        );

        // The type reads the document and writes it back unchanged: it is its exact shape.
        let typed: Analysis = serde_json::from_str(&want).expect("reads as Analysis");
        assert_eq!(
            serde_json::to_string_pretty(&typed).expect("write") + "\n",
            want,
            "{name}: the type does not round-trip"
        );
        assert_eq!(code, Some(if typed.ok { 0 } else { 1 }), "{name}");

        // The summary record carries the same document; a finding per failed check precedes it.
        let (jsonl, _) = run(&args, "jsonl");
        let records: Vec<Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSONL"))
            .collect();
        let (summary, findings) = records.split_last().expect("records");
        let want_value: Value = serde_json::from_str(&want).expect("json");
        assert_eq!(summary["analysis"], want_value, "{name}");
        let failed: Vec<&str> = typed.failed_checks().map(|c| c.name.as_str()).collect();
        let found: Vec<&str> = findings.iter().filter_map(|f| f["kind"].as_str()).collect();
        assert_eq!(found, failed, "{name}");
    }
    assert!(
        !bless,
        "golden files written; run again without RESANALYZE_BLESS"
    );
}
