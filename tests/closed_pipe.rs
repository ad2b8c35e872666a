//! A reader that closes the pipe early (`tool | head -1`) never changes a tool's verdict: each
//! tool, given input on which a check fails and more output than a pipe holds, exits 1 with
//! its stdout closed after the first line, exactly as with the whole output read.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use soak_tests::tool;

/// The exit status of `cmd` when its reader takes one line and closes the pipe.
fn status_after_one_line(cmd: &mut Command) -> Option<i32> {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    assert!(!first.is_empty(), "no output at all");
    // The reader is dropped here: the pipe is closed with the rest unread.
    child.wait().expect("wait").code()
}

fn status_reading_all(cmd: &mut Command) -> Option<i32> {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run")
        .code()
}

/// A log with a fatal line after 20,000 reconnect attempts (a storm and a crash).
fn failing_log(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("bad.log");
    let mut f = std::fs::File::create(&p).expect("log");
    for i in 0..20_000 {
        writeln!(
            f,
            "2026-12-06 10:{:02}:{:02},000 WARNING reconnect attempt #{i} backoff 1s",
            (i / 60) % 60,
            i % 60
        )
        .expect("write");
    }
    writeln!(f, "2026-12-06 11:00:00,000 CRITICAL segmentation fault").expect("write");
    p
}

#[test]
fn logscan_keeps_its_verdict_when_the_reader_closes_the_pipe() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = failing_log(dir.path());
    for format in ["jsonl", "table"] {
        let mut all = Command::new(tool("logscan"));
        all.args(["--format", format]).arg(&log);
        assert_eq!(status_reading_all(&mut all), Some(1), "{format}");
        let mut one = Command::new(tool("logscan"));
        one.args(["--format", format]).arg(&log);
        assert_eq!(status_after_one_line(&mut one), Some(1), "{format}");
    }
}

#[test]
fn seccheck_keeps_its_verdict_when_the_reader_closes_the_pipe() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut f = std::fs::File::create(dir.path().join("a.log")).expect("log");
    for i in 0..3000 {
        writeln!(f, "line {i} key AKIAIOSFODNN7EXAMPLE in the log").expect("write");
    }
    drop(f);
    let mut all = Command::new(tool("seccheck"));
    all.args(["secrets", "--format", "jsonl"]).arg(dir.path());
    assert_eq!(status_reading_all(&mut all), Some(1));
    let mut one = Command::new(tool("seccheck"));
    one.args(["secrets", "--format", "jsonl"]).arg(dir.path());
    assert_eq!(status_after_one_line(&mut one), Some(1));
}

/// A follower streams only: once its reader has gone (`logscan --follow F | head -1`), it
/// ends at its next event, as `tail -f | head` does, instead of following forever.
#[test]
fn logscan_follow_ends_when_its_reader_has_gone() {
    let dir = tempfile::tempdir().expect("tmp");
    let log = dir.path().join("service.log");
    std::fs::write(&log, "2026-12-06 10:00:00,000 INFO [HB] alive\n").expect("log");
    let mut child = Command::new(tool("logscan"))
        .args(["--follow"])
        .arg(&log)
        .args(["--poll", "50ms", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("read");
    assert!(first.contains("heartbeat"), "{first}");
    // The reader is gone; more events come.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("append");
    let status = loop {
        writeln!(f, "2026-12-06 10:00:01,000 INFO [HB] alive").expect("write");
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("logscan --follow went on following with nobody reading");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        status.code().is_some(),
        "it ended by itself, not by a signal: {status:?}"
    );
}
