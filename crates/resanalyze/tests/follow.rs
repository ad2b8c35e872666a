//! `--follow` against a file appended by another process (a python3 writer that also splits a
//! line across two writes): the leak finding comes long before the end of the trace.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::cargo::CommandCargoExt;
use resanalyze::tracegen::{Shape, TraceSpec, write_trace};
use serde_json::Value;

const WRITER: &str = r#"
import sys, time
src, dst = sys.argv[1], sys.argv[2]
lines = open(src).read().splitlines(keepends=True)
with open(dst, "a") as out:
    for i, line in enumerate(lines):
        if i % 25 == 7:
            out.write(line[:40]); out.flush(); time.sleep(0.05)
            out.write(line[40:])
        else:
            out.write(line)
        out.flush()
        if i % 25 == 0:
            time.sleep(0.05)
"#;

#[test]
fn follow_reports_a_leak_early_from_a_growing_file() {
    if StdCommand::new("python3")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: python3 not installed (used as the appending writer)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let src = dir.path().join("source.jsonl");
    let spec = TraceSpec::new(Shape::Linear, 12.0, 60.0);
    let mut f = BufWriter::new(File::create(&src).expect("create"));
    write_trace(&mut f, &spec).expect("write");
    f.flush().expect("flush");
    let live = dir.path().join("live.jsonl");
    File::create(&live).expect("create live");
    let follower = StdCommand::cargo_bin("resanalyze")
        .expect("bin")
        .arg("--follow")
        .arg(&live)
        .args(["--follow-idle", "4s", "--follow-every", "5"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn follower");
    let writer = StdCommand::new("python3")
        .args(["-c", WRITER])
        .arg(&src)
        .arg(&live)
        .status()
        .expect("writer");
    assert!(writer.success());
    let out = follower.wait_with_output().expect("follower");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a finding makes the exit status 1"
    );
    let recs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    let leak = recs
        .iter()
        .find(|r| r["type"] == "finding" && r["kind"] == "memory_leak")
        .expect("a memory_leak finding");
    let seen = leak["samples_seen"].as_u64().expect("samples_seen");
    assert!(
        seen >= 30 && seen < spec.samples() / 4,
        "spoke after {seen} samples"
    );
    let summary = recs.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["snapshot_count"], spec.samples());
    assert_eq!(summary["analysis"]["skipped_lines"]["other_type"], 1);
}

#[test]
fn follow_estimates_report_the_verdict_so_far_at_every_evaluation() {
    let dir = tempfile::tempdir().expect("tmp");
    let live = dir.path().join("live.jsonl");
    let spec = TraceSpec::new(Shape::Linear, 12.0, 60.0);
    let mut f = BufWriter::new(File::create(&live).expect("create"));
    write_trace(&mut f, &spec).expect("write");
    f.flush().expect("flush");
    drop(f);
    let out = StdCommand::cargo_bin("resanalyze")
        .expect("bin")
        .arg("--follow")
        .arg(&live)
        .args([
            "--follow-idle",
            "1s",
            "--follow-every",
            "10",
            "--follow-estimates",
        ])
        .output()
        .expect("run");
    let estimates: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("jsonl"))
        .filter(|r| r["type"] == "event" && r["event"] == "estimate")
        .collect();
    assert_eq!(
        estimates.len() as u64,
        spec.samples() / 10,
        "one per evaluation"
    );
    assert_eq!(estimates[0]["samples_seen"], 10);
    assert_eq!(
        estimates[0]["leak_verdict"], "insufficient_data",
        "ten samples are too few to speak"
    );
    let last = estimates.last().expect("estimates");
    assert_eq!(last["leak_verdict"], "leak");
    let slope = last["slope_mb_per_hour"].as_f64().expect("slope");
    assert!(
        (slope - spec.rate_mb_per_hour).abs() < 0.05 * spec.rate_mb_per_hour,
        "slope {slope} against the trace's {}",
        spec.rate_mb_per_hour
    );
}

#[test]
fn follow_waits_for_a_file_that_does_not_exist_yet() {
    let dir = tempfile::tempdir().expect("tmp");
    let live = dir.path().join("not-yet.jsonl");
    let follower = StdCommand::cargo_bin("resanalyze")
        .expect("bin")
        .arg("--follow")
        .arg(&live)
        .args(["--follow-idle", "3s"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn follower");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let spec = TraceSpec::new(Shape::Linear, 12.0, 60.0);
    let mut f = BufWriter::new(File::create(&live).expect("create"));
    write_trace(&mut f, &spec).expect("write");
    f.flush().expect("flush");
    drop(f);
    let out = follower.wait_with_output().expect("follower");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"kind\":\"memory_leak\""), "{text}");
    assert_eq!(out.status.code(), Some(1));
}

/// Ctrl-C ends a follow with its summary, then exit status 130.
#[test]
fn sigint_ends_a_follow_with_the_summary_and_130() {
    let dir = tempfile::tempdir().expect("tmp");
    let live = dir.path().join("live.jsonl");
    let spec = TraceSpec::new(Shape::Linear, 1.0, 60.0);
    let mut f = BufWriter::new(File::create(&live).expect("create"));
    write_trace(&mut f, &spec).expect("write");
    f.flush().expect("flush");
    drop(f);
    let follower = StdCommand::cargo_bin("resanalyze")
        .expect("bin")
        .arg("--follow")
        .arg(&live)
        .args(["--follow-idle", "60s", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn follower");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let killed = StdCommand::new("kill")
        .args(["-INT", &follower.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let out = follower.wait_with_output().expect("follower");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("\"type\":\"summary\""), "{text}");
    assert_eq!(out.status.code(), Some(130), "{text}");
}
