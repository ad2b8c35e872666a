//! logscan against hostile input: huge lines, endless input, corrupt gzip, zero intervals, a
//! file that grows faster than it is read. Each case asserts the exit code, that no ordinary
//! line was lost, and that memory stayed bounded: peak RSS (VmHWM) read from /proc while the
//! process still runs, against a generous bound (the old reader held a whole line, twice).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Peak RSS bound for every case, far above logscan's ~15 MB and far below the 128 MB lines.
const PEAK_LIMIT_KB: u64 = 64 * 1024;
const HB: &[u8] = b"2026-12-06 19:24:36,000 - bot - INFO - [HB] alive\n";
const HB_LATER: &[u8] = b"2026-12-06 19:25:36,000 - bot - INFO - [HB] alive\n";

fn logscan() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("logscan"));
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

/// VmHWM of a running process, in kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

fn summary(out: &std::process::Output) -> Value {
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last().unwrap_or("");
    serde_json::from_str(last).unwrap_or_else(|e| panic!("no summary ({e}): {text}"))
}

/// Writes `chunks` to a `logscan --format jsonl --no-events ARGS -` through a pipe, reads
/// the peak RSS once `peek_after` bytes are written (or all of them), then closes the pipe.
fn through_stdin(
    args: &[&str],
    chunks: &mut dyn Iterator<Item = Vec<u8>>,
    peek_after: usize,
) -> (std::process::Output, u64) {
    let mut child = logscan()
        .args(["--format", "jsonl", "--no-events"])
        .args(args)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let (mut written, mut peak) = (0, None);
    for chunk in chunks {
        if stdin.write_all(&chunk).is_err() {
            break; // logscan stopped reading (endless input)
        }
        written += chunk.len();
        if peak.is_none() && written >= peek_after {
            peak = Some(peak_rss_kb(child.id()));
        }
    }
    let peak = peak.unwrap_or_else(|| peak_rss_kb(child.id()));
    drop(stdin);
    (child.wait_with_output().expect("wait"), peak)
}

/// `lines`, `line_too_long` and `heartbeat_count` of a summary.
fn counts(s: &Value) -> (Option<u64>, Option<u64>, Option<u64>) {
    (
        s["lines"].as_u64(),
        s["line_too_long"].as_u64(),
        s["heartbeat_count"].as_u64(),
    )
}

fn repeated(byte: u8, total: usize) -> impl Iterator<Item = Vec<u8>> {
    let chunk = 1 << 20;
    (0..total.div_ceil(chunk)).map(move |i| vec![byte; chunk.min(total - i * chunk)])
}

#[test]
fn a_128_mb_line_is_skipped_in_bounded_memory_and_nothing_else_is_lost() {
    let mut input = std::iter::once(HB.to_vec())
        .chain(repeated(b'x', 128 << 20))
        .chain([b"\n".to_vec(), HB_LATER.to_vec()]);
    let (out, peak) = through_stdin(&[], &mut input, usize::MAX);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out);
    assert_eq!(counts(&s), (Some(3), Some(1), Some(2)), "{s}");
    assert_eq!(s["heartbeat_max_gap_s"], 60.0);
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");
}

#[test]
fn max_line_skips_long_lines_inside_a_block_and_keeps_line_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("app.log");
    let mut text = HB.to_vec();
    text.extend_from_slice(format!("{} [HB] alive\n", "y".repeat(500)).as_bytes());
    text.extend_from_slice(b"2026-12-06 19:25:00,000 ERROR x [HANDLER_TIMEOUT] late\n");
    text.extend_from_slice(HB_LATER);
    std::fs::write(&p, &text).expect("write");
    let out = logscan()
        .args(["--format", "jsonl", "--max-line", "200"])
        .arg(&p)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let records: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let timeout = records
        .iter()
        .find(|r| r["kind"] == "handler_timeout")
        .expect("the line after the long one is read");
    assert_eq!(timeout["line"], 3, "line numbers count the skipped line");
    let s = records.last().expect("summary");
    assert_eq!(
        counts(s),
        (Some(4), Some(1), Some(2)),
        "the long line's [HB] is not read: {s}"
    );
}

#[test]
fn endless_input_ends_with_a_clear_error_in_bounded_memory() {
    // Through a pipe: the peak is read after 512 MiB of zeros, while logscan still reads.
    let mut zeros = repeated(0, 3 << 30);
    let (out, peak) = through_stdin(&[], &mut zeros, 512 << 20);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read -: line 1: a line runs on"),
        "{err}"
    );
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");

    let out = logscan().arg("/dev/zero").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("/dev/zero") && err.contains("not a log"),
        "{err}"
    );
}

#[test]
fn zero_intervals_and_limits_are_bad_usage() {
    for args in [
        &["--follow", "x.log", "--poll", "0s"][..],
        &["--follow", "x.log", "--poll", "0ms"],
        &["--follow", "x.log", "--poll=-1s"],
        &["--max-line", "0", "x.log"],
        &["--max-line", "lots", "x.log"],
    ] {
        let out = logscan().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--poll") || err.contains("--max-line"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn corrupt_and_truncated_gzip_are_bad_input_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let corrupt = dir.path().join("corrupt.log.gz");
    std::fs::write(&corrupt, b"\x1f\x8b\x08\x00junkjunkjunkjunk").expect("write");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for _ in 0..2000 {
        enc.write_all(HB).expect("gz");
    }
    let gz = enc.finish().expect("finish");
    let truncated = dir.path().join("truncated.log.gz");
    std::fs::write(&truncated, &gz[..gz.len() / 2]).expect("write");
    for p in [&corrupt, &truncated] {
        let out = logscan().arg(p).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{}", p.display());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(&p.display().to_string()), "{err}");
    }
}

fn spawn_follow(path: &Path) -> (Child, std::sync::mpsc::Receiver<Value>) {
    let mut child = logscan()
        .arg("--follow")
        .arg(path)
        .args(["--poll", "50ms", "--format", "jsonl"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                let _ = tx.send(v);
            }
        }
    });
    (child, rx)
}

fn next(rx: &std::sync::mpsc::Receiver<Value>, what: &str) -> Value {
    rx.recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn sigterm(child: &Child) {
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
}

#[test]
fn follow_skips_a_long_line_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("service.log");
    std::fs::write(&path, HB).expect("write");
    let (mut child, rx) = spawn_follow(&path);
    assert_eq!(next(&rx, "the first heartbeat")["kind"], "heartbeat");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    for chunk in repeated(b'z', 128 << 20) {
        f.write_all(&chunk).expect("append");
    }
    f.write_all(b"\n").expect("append");
    f.write_all(HB_LATER).expect("append");
    assert_eq!(
        next(&rx, "the heartbeat after the long line")["kind"],
        "heartbeat"
    );
    let peak = peak_rss_kb(child.id());
    sigterm(&child);
    let s = next(&rx, "the summary");
    assert_eq!(counts(&s), (Some(3), Some(1), Some(2)), "{s}");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
    assert!(peak < PEAK_LIMIT_KB, "peak RSS {peak} kB");
}

#[test]
fn follow_answers_sigterm_while_the_file_grows_faster_than_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("service.log");
    std::fs::write(&path, HB).expect("write");
    let (mut child, rx) = spawn_follow(&path);
    assert_eq!(next(&rx, "the first heartbeat")["kind"], "heartbeat");
    // A writer far faster than logscan reads: 1 MiB lines of plain text, up to 256 MiB.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let path = path.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            let mut line = vec![b'w'; 1 << 20];
            line.push(b'\n');
            let mut written = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) && written < (256 << 20) {
                f.write_all(&line).expect("append");
                written += line.len() as u64;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    sigterm(&child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "logscan --follow ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    writer.join().expect("writer");
    assert_eq!(status.code(), Some(0));
    let mut last = next(&rx, "the summary");
    while last["type"] != "summary" {
        last = next(&rx, "the summary");
    }
    assert!(last["lines"].as_u64().expect("lines") >= 2, "{last}");
}
