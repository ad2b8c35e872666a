//! Pipelines of the real binaries, as a soak step chains them.

use std::fs::File;
use std::process::Command;

use serde_json::Value;
use soak_tests::tool;

fn records(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// resmon launches `zombiereap run -- soak-demo --faults zombies`, records the whole tree
/// (zombies included), zombiereap cleans up, and logscan judges the service log: each tool's
/// records land in their own file, in the one protocol.
#[test]
fn resmon_records_a_supervised_demo_service_that_logscan_then_judges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("service.log");
    let resources = dir.path().join("resources.jsonl");
    let events = dir.path().join("zombiereap.jsonl");
    let status = Command::new(tool("resmon"))
        .args(["--interval", "500ms", "--duration", "6s", "--output"])
        .arg(&resources)
        .arg("--")
        .arg(tool("zombiereap"))
        .args(["run", "--grace", "2s", "-o"])
        .arg(&events)
        .arg("--")
        .arg(tool("soak-demo"))
        .args([
            "--faults",
            "zombies",
            "--fault-after",
            "1s",
            "--heartbeat",
            "200ms",
        ])
        .stdout(File::create(&log).expect("log"))
        .status()
        .expect("resmon");
    assert_eq!(status.code(), Some(0));

    let samples: Vec<Value> = records(&resources)
        .into_iter()
        .filter(|r| r["type"] == "sample")
        .collect();
    assert!(samples.len() >= 10, "{} samples", samples.len());
    let most_procs = samples
        .iter()
        .filter_map(|s| s["tree_process_count"].as_u64())
        .max();
    let most_zombies = samples
        .iter()
        .filter_map(|s| s["tree_zombies"].as_u64())
        .max();
    assert!(
        most_procs >= Some(2),
        "zombiereap and soak-demo are in the tree"
    );
    assert!(
        most_zombies >= Some(1),
        "the zombies fault shows in resmon's tree figures"
    );

    let summary = records(&events).pop().expect("zombiereap summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(
        summary["exit_status"], 0,
        "SIGTERM from resmon was forwarded: {summary}"
    );

    let out = Command::new(tool("logscan"))
        .args(["--format", "json", "--require-clean-shutdown"])
        .arg(&log)
        .output()
        .expect("logscan");
    let verdict: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(verdict["shutdown_verdict"], "clean", "{verdict}");
    assert!(verdict["heartbeat_count"].as_u64() >= Some(10));
    assert_eq!(out.status.code(), Some(0));
}

/// Any tool's records can be concatenated and fed to another: logscan reading a JSONL stream
/// that mixes other tools' records as "log lines" still finds the events it knows and stays
/// well-formed, and `zombiereap scan` output is valid protocol JSONL.
#[test]
fn records_of_every_tool_share_the_protocol() {
    let dir = tempfile::tempdir().expect("tempdir");
    let res = dir.path().join("r.jsonl");
    let st = Command::new(tool("resmon"))
        .args(["--interval", "200ms", "--count", "3", "--output"])
        .arg(&res)
        .status()
        .expect("resmon");
    assert!(st.success());
    let scan = Command::new(tool("zombiereap"))
        .args(["scan", "--format", "jsonl"])
        .output()
        .expect("scan");
    let mut all = std::fs::read_to_string(&res).expect("read");
    all.push_str(&String::from_utf8_lossy(&scan.stdout));
    for line in all.lines() {
        let v: Value = serde_json::from_str(line).expect("every line is JSON");
        for key in ["type", "tool", "timestamp_utc", "timestamp_unix"] {
            assert!(!v[key].is_null(), "{key} missing in {line}");
        }
    }
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(
        &mixed,
        format!("{all}2025-10-01 12:00:00,000 - bot - INFO - [HB] alive\n"),
    )
    .expect("write");
    let out = Command::new(tool("logscan"))
        .args(["--format", "json"])
        .arg(&mixed)
        .output()
        .expect("logscan");
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["heartbeat_count"], 1);
}
