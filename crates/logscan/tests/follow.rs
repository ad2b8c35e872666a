//! `logscan --follow` against a log appended, renamed and truncated by this (other) process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn hb(seq: u32) -> String {
    format!(
        "2025-10-01 12:00:{:02},000 - bot - INFO - [HB] alive seq={seq}\n",
        seq % 60
    )
}

#[test]
fn follows_rotation_reports_a_hang_and_summarises_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("service.log");
    std::fs::write(&path, format!("{}{}", hb(1), hb(2))).expect("write");
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("logscan"))
        .arg("--follow")
        .arg(&path)
        .args(["--poll", "50ms", "--max-heartbeat-gap", "2s"])
        .env_remove("GITHUB_ACTIONS")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = mpsc::channel::<Value>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str(&line) {
                let _ = tx.send(v);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let next = |what: &str| -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        rx.recv_timeout(left)
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    };
    let heartbeat_seq = || -> u64 {
        let v = next("a heartbeat event");
        assert_eq!(v["kind"], "heartbeat", "{v}");
        v["text"]
            .as_str()
            .and_then(|t| t.rsplit('=').next())
            .and_then(|s| s.parse().ok())
            .expect("seq")
    };
    assert_eq!(heartbeat_seq(), 1);
    assert_eq!(heartbeat_seq(), 2);

    // appended
    let mut w = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    w.write_all(hb(3).as_bytes()).expect("append");
    assert_eq!(heartbeat_seq(), 3);

    // renamed away, a new file in its place
    std::fs::rename(&path, dir.path().join("service.log.1")).expect("rename");
    std::fs::write(&path, hb(4)).expect("new file");
    assert_eq!(heartbeat_seq(), 4);

    // copytruncate: cut to zero, then written again
    let w = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    w.set_len(0).expect("truncate");
    drop(w);
    std::fs::write(&path, hb(5)).expect("rewrite");
    assert_eq!(heartbeat_seq(), 5);

    // silence: the watchdog speaks once the gap is exceeded
    let hang = next("the hang finding");
    assert_eq!(
        (hang["type"].as_str(), hang["kind"].as_str()),
        (Some("finding"), Some("hang")),
        "{hang}"
    );
    assert!(hang["silent_s"].as_f64().expect("silent_s") > 2.0);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let mut summary = next("the summary");
    while summary["type"] == "finding" {
        assert_eq!(summary["kind"], "heartbeat_gap", "{summary}");
        summary = next("the summary");
    }
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["heartbeat_count"], 5);
    assert_eq!(summary["check_heartbeat_gap"], "fail");
    assert_eq!(child.wait().expect("wait").code(), Some(1));
}
