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
    let (mut child, rx) = spawn_follow(&path, &["--poll", "50ms", "--max-heartbeat-gap", "2s"]);
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

    sigterm(&child);
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

/// Spawns `logscan --follow` with `args`, returning the child and a channel of its records.
fn spawn_follow(
    path: &std::path::Path,
    args: &[&str],
) -> (std::process::Child, mpsc::Receiver<Value>) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("logscan"))
        .arg("--follow")
        .arg(path)
        .args(args)
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
    (child, rx)
}

fn recv(rx: &mpsc::Receiver<Value>, what: &str) -> Value {
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn sigterm(child: &std::process::Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

fn append(path: &std::path::Path, text: &str) {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open")
        .write_all(text.as_bytes())
        .expect("append");
}

/// The soak's watchdog flags, with a gap short enough for a test.
const WATCHDOG: [&str; 5] = [
    "--poll",
    "50ms",
    "--max-heartbeat-gap",
    "1s",
    "--heartbeat-optional",
];

#[test]
fn the_watchdog_arms_only_after_the_first_heartbeat() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("redis.log");
    // A service that prints no `[HB] alive`: silence before its first heartbeat is no hang.
    std::fs::write(
        &path,
        "1234:M 06 Dec 2026 19:24:36.123 # WARNING overcommit_memory is set to 0!\n",
    )
    .expect("write");
    let (child, rx) = spawn_follow(
        &path,
        &[&WATCHDOG[..], &["--heartbeat-regex", r"DB saved on disk"]].concat(),
    );
    append(
        &path,
        "1234:M 06 Dec 2026 19:24:37.000 ERROR first sign of life\n",
    );
    let first = recv(&rx, "the logged_error event");
    assert_eq!(first["kind"], "logged_error", "{first}");
    let beat = silence_then_armed_by(
        child,
        &rx,
        &path,
        "1234:M 06 Dec 2026 19:24:39.000 * DB saved on disk\n",
    );
    assert_eq!(beat["pattern"], "heartbeat_regex_1");
}

/// Lets twice the watchdog's gap pass with no heartbeat yet (an armed watchdog would speak),
/// appends `beat_line`, and checks that its heartbeat event comes before any hang, that the
/// watchdog is armed by it (a `hang` finding follows), and that SIGTERM ends the follow with
/// the failed heartbeat check. Returns the heartbeat event.
fn silence_then_armed_by(
    mut child: std::process::Child,
    rx: &mpsc::Receiver<Value>,
    path: &std::path::Path,
    beat_line: &str,
) -> Value {
    std::thread::sleep(Duration::from_millis(2000));
    append(path, beat_line);
    let beat = recv(rx, "the heartbeat event");
    assert_eq!(
        (beat["type"].as_str(), beat["kind"].as_str()),
        (Some("event"), Some("heartbeat")),
        "no hang may come before the first heartbeat: {beat}"
    );
    // Now armed: the silence after the heartbeat is a hang.
    let hang = recv(rx, "the hang finding");
    assert_eq!(hang["kind"], "hang", "{hang}");
    assert_eq!(hang["heartbeat_rule"], "armed after first heartbeat");
    sigterm(&child);
    let mut summary = recv(rx, "the summary");
    while summary["type"] == "finding" {
        assert_eq!(summary["kind"], "heartbeat_gap", "{summary}");
        summary = recv(rx, "the summary");
    }
    assert_eq!(summary["heartbeat_rule"], "armed after first heartbeat");
    assert_eq!(summary["heartbeat_count"], 1);
    assert_eq!(summary["check_heartbeat_gap"], "fail");
    assert!(summary["heartbeat_max_gap_s"].as_f64().expect("gap") > 1.0);
    assert_eq!(child.wait().expect("wait").code(), Some(1));
    beat
}

#[test]
fn a_log_without_heartbeats_is_never_hung_and_gives_no_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("service.log");
    std::fs::write(&path, "2026-12-06 19:24:36,000 INFO listening on :8080\n").expect("write");
    let (mut child, rx) = spawn_follow(&path, &WATCHDOG);
    append(&path, "2026-12-06 19:24:37,000 ERROR one logged error\n");
    assert_eq!(recv(&rx, "the event")["kind"], "logged_error");
    std::thread::sleep(Duration::from_millis(2000));
    sigterm(&child);
    let summary = recv(&rx, "the summary");
    assert_eq!(summary["type"], "summary", "no hang finding: {summary}");
    assert_eq!(summary["heartbeat_rule"], "no heartbeat in the log");
    assert_eq!(summary["check_heartbeat_gap"], "no_data");
    assert_eq!(summary["heartbeat_max_gap_s"], Value::Null);
    assert_eq!(summary["error_count"], 1);
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

/// Ctrl-C ends a follow with its summary, then exit status 130 (SIGTERM: the verdict's 0/1).
#[test]
fn sigint_ends_a_follow_with_the_summary_and_130() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("service.log");
    std::fs::write(&path, "2026-12-06 19:24:36,000 INFO [HB] alive\n").expect("write");
    let (mut child, rx) = spawn_follow(&path, &WATCHDOG);
    assert_eq!(recv(&rx, "the heartbeat")["kind"], "heartbeat");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let summary = recv(&rx, "the summary");
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["heartbeat_count"], 1);
    assert_eq!(child.wait().expect("wait").code(), Some(130));
}

/// The soak's watchdog flags on a freqtrade log with `--pack freqtrade`: silent before the
/// bot's first heartbeat, armed by `Bot heartbeat. ...`, then a hang once it stops.
#[test]
fn the_watchdog_arms_on_the_freqtrade_heartbeat_of_its_pack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("freqtrade.log");
    std::fs::write(
        &path,
        "2026-12-06 19:00:00,180 - freqtrade.worker - INFO - Starting worker 2024.10\n",
    )
    .expect("write");
    let (child, rx) = spawn_follow(&path, &[&WATCHDOG[..], &["--pack", "freqtrade"]].concat());
    let beat = silence_then_armed_by(
        child,
        &rx,
        &path,
        "2026-12-06 19:00:00,412 - freqtrade.worker - INFO - Bot heartbeat. PID=1, version='2024.10', state='RUNNING'\n",
    );
    assert_eq!(beat["pattern"], "freqtrade_heartbeat");
    assert_eq!(beat["state"], "RUNNING");
}
