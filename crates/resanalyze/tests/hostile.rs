//! Hostile inputs for the real binary (issue 16): huge lines in bounded memory (peak RSS read
//! from /proc while the process is still alive), `--follow` on a line that never ends answering
//! SIGTERM, reversed clocks, zero and negative intervals, corrupt and truncated gzip, devices.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_resanalyze"));
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

/// `n` flat sample lines, 10 s apart from `t0`, RSS 40 MB.
fn samples(t0: f64, n: u32) -> String {
    (0..n)
        .map(|k| {
            let t = t0 + f64::from(k) * 10.0;
            format!(
                "{{\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_unix\":{t},\"tree_memory_mb\":40.0,\"cpu_percent\":5.0}}\n"
            )
        })
        .collect()
}

/// Peak resident memory of a live process, MB (`VmHWM` in /proc/PID/status).
fn peak_rss_mb(child: &Child) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).expect("status");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb / 1024.0
}

/// Writes `len` bytes of `x` (no newline) in 1 MiB pieces.
fn write_long_line(out: &mut impl Write, len: usize) {
    let piece = vec![b'x'; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(piece.len());
        out.write_all(&piece[..n]).expect("write");
        left -= n;
    }
}

/// Trend minimums for a run of minutes.
const SHORT_RUN: [&str; 4] = ["--min-span", "1m", "--min-samples", "10"];

/// Runs `cmd --format json`, which must exit 0, and returns the analysis.
fn passing_json(cmd: &mut Command) -> Value {
    let out = cmd.args(["--format", "json"]).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    serde_json::from_slice(&out.stdout).expect("json")
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn a_200_mb_line_on_stdin_is_skipped_and_counted_in_constant_memory() {
    let mut child = bin()
        .args(["-", "--format", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(samples(1_760_000_000.0, 50).as_bytes())
        .expect("write");
    write_long_line(&mut stdin, 200 << 20);
    stdin.write_all(b"\n").expect("write");
    stdin
        .write_all(samples(1_760_000_500.0, 50).as_bytes())
        .expect("write");
    stdin.flush().expect("flush");
    // Everything but the pipe's buffer has been read: the peak so far is the run's.
    let peak = peak_rss_mb(&child);
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    println!("peak RSS {peak:.1} MB after a 200 MB line");
    assert!(peak < 100.0, "peak RSS {peak:.1} MB");
    assert_eq!(out.status.code(), Some(0));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(doc["skipped_lines"]["line_too_long"], 1);
    assert_eq!(
        doc["snapshot_count"], 100,
        "no sample around the line was lost"
    );
}

#[test]
fn max_line_is_a_flag_and_lines_just_under_it_are_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("mixed.jsonl");
    let pad = "p".repeat(1500);
    let long = format!(
        "{{\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_unix\":1760000005.0,\"tree_memory_mb\":40.0,\"note\":\"{pad}\"}}\n"
    );
    let text = samples(1_760_000_000.0, 10) + &long + &samples(1_760_000_200.0, 10);
    std::fs::write(&path, text).expect("write");
    let run = |max: &str| {
        let out = bin()
            .arg(&path)
            .args(["--max-line", max, "--format", "json"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0));
        serde_json::from_slice::<Value>(&out.stdout).expect("json")
    };
    let strict = run("1KB");
    assert_eq!(strict["skipped_lines"]["line_too_long"], 1);
    assert_eq!(strict["snapshot_count"], 20);
    let roomy = run("2KB");
    assert_eq!(roomy["skipped_lines"]["line_too_long"], 0);
    assert_eq!(roomy["snapshot_count"], 21);
}

/// Reads the follower's stdout until an `estimate` with `samples_seen` >= `n`.
fn wait_for_estimate(lines: &mut impl Iterator<Item = String>, n: u64) -> Value {
    for line in lines {
        let rec: Value = serde_json::from_str(&line).expect("jsonl");
        if rec["event"] == "estimate" && rec["samples_seen"].as_u64() >= Some(n) {
            return rec;
        }
    }
    panic!("the follower ended before seeing {n} samples");
}

#[test]
fn follow_reads_past_a_50_mb_line_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("live.jsonl");
    let mut f = std::fs::File::create(&path).expect("create");
    f.write_all(samples(1_760_000_000.0, 30).as_bytes())
        .expect("write");
    write_long_line(&mut f, 50 << 20);
    f.write_all(b"\n").expect("write");
    f.write_all(samples(1_760_000_400.0, 30).as_bytes())
        .expect("write");
    drop(f);
    let mut child = bin()
        .arg("--follow")
        .arg(&path)
        .args(["--follow-estimates", "--follow-every", "1"])
        .args([
            "--min-samples",
            "5",
            "--min-span",
            "30s",
            "--format",
            "jsonl",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines().map(|l| l.expect("line"));
    wait_for_estimate(&mut lines, 60);
    let peak = peak_rss_mb(&child);
    sigterm(&child);
    let rest: Vec<Value> = lines
        .map(|l| serde_json::from_str(&l).expect("jsonl"))
        .collect();
    let status = child.wait().expect("wait");
    println!("follow: peak RSS {peak:.1} MB after a 50 MB line; {status}");
    assert!(peak < 100.0, "peak RSS {peak:.1} MB");
    let summary = rest
        .iter()
        .rfind(|r| r["type"] == "summary")
        .expect("a summary after SIGTERM");
    assert_eq!(summary["analysis"]["skipped_lines"]["line_too_long"], 1);
    assert_eq!(summary["snapshot_count"], 60);
}

#[test]
fn follow_answers_sigterm_while_a_line_keeps_growing() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("growing.jsonl");
    std::fs::write(&path, samples(1_760_000_000.0, 10)).expect("write");
    let mut child = bin()
        .arg("--follow")
        .arg(&path)
        .args(["--format", "jsonl"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    // A writer that keeps one line growing, 256 kB at a time, up to 400 MB.
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (done, stop, path) = (Arc::clone(&done), Arc::clone(&stop), path.clone());
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .expect("open");
            let piece = vec![b'y'; 256 << 10];
            for _ in 0..1600 {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                f.write_all(&piece).expect("write");
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            done.store(true, Ordering::SeqCst);
        })
    };
    while std::fs::metadata(&path).map_or(0, |m| m.len()) < 20 << 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    sigterm(&child);
    let out = wait_or_kill(&mut child, 60);
    let writer_finished = done.load(Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    let out = out.expect("the follower did not stop within 60 s of SIGTERM");
    assert!(
        !writer_finished,
        "the follower stopped only once the line stopped growing"
    );
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("\"type\":\"summary\""), "{text}");
}

/// Waits for `child` up to `secs` seconds (a liveness bound, not a speed check); kills it and
/// returns `None` if it is still running then.
fn wait_or_kill(child: &mut Child, secs: u64) -> Option<Vec<u8>> {
    for _ in 0..secs * 20 {
        if child.try_wait().expect("try_wait").is_some() {
            let mut out = Vec::new();
            if let Some(mut s) = child.stdout.take() {
                std::io::Read::read_to_end(&mut s, &mut out).expect("read");
            }
            return Some(out);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn reversed_timestamps_never_give_a_negative_duration() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("reversed.jsonl");
    let mut lines: Vec<String> = samples(1_760_000_000.0, 40)
        .lines()
        .map(String::from)
        .collect();
    lines.reverse();
    std::fs::write(&path, lines.join("\n") + "\n").expect("write");
    let out = bin()
        .arg(&path)
        .args(["--format", "json"])
        .output()
        .expect("run");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let hours = doc["duration_hours"].as_f64().expect("duration");
    assert!((hours - 390.0 / 3600.0).abs() < 1e-3, "duration {hours} h");
    assert_eq!(doc["snapshot_count"], 40);
}

#[test]
fn zero_and_negative_intervals_are_usage_errors() {
    for args in [
        &["--follow", "x.jsonl", "--poll", "0s"][..],
        &["--follow", "x.jsonl", "--poll", "0"],
        &["--follow", "x.jsonl", "--poll=-1s"],
        &["--follow", "x.jsonl", "--follow-idle", "0s"],
        &["--follow", "x.jsonl", "--follow-idle=-5m"],
        &["--follow", "x.jsonl", "--follow-every", "0"],
        &["--follow", "x.jsonl", "--max-line", "0"],
        &["--emit-prom-rules", "--prom-range", "0s"],
    ] {
        let out = bin().args(args).output().expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        let flag = args[2].split('=').next().unwrap_or_default();
        assert!(
            err.contains(flag),
            "{args:?}: the error names the flag: {err}"
        );
    }
}

fn gzip(data: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(data).ok()?;
    Some(child.wait_with_output().ok()?.stdout)
}

fn one_line_error_naming(path: &Path, args: &[&str]) -> String {
    let out = bin().arg(path).args(args).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{}: {err}", path.display());
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(out.stdout.is_empty());
    err
}

#[test]
fn corrupt_and_truncated_gzip_are_bad_input_naming_the_file() {
    let Some(gz) = gzip(samples(1_760_000_000.0, 2000).as_bytes()) else {
        eprintln!("skipping: gzip not installed (makes the compressed input)");
        return;
    };
    let dir = tempfile::tempdir().expect("tmp");
    let truncated = dir.path().join("truncated.jsonl.gz");
    std::fs::write(&truncated, &gz[..gz.len() / 2]).expect("write");
    one_line_error_naming(&truncated, &["--format", "json"]);
    let corrupt = dir.path().join("corrupt.jsonl.gz");
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(&corrupt, &bad).expect("write");
    one_line_error_naming(&corrupt, &["--format", "json"]);
    // The intact file reads.
    let good = dir.path().join("good.jsonl.gz");
    std::fs::write(&good, &gz).expect("write");
    let out = bin()
        .arg(&good)
        .args(["--format", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_device_is_refused_before_reading() {
    let err = one_line_error_naming(Path::new("/dev/zero"), &["--format", "json"]);
    assert!(err.contains("device"), "{err}");
}

#[test]
fn links_planted_at_the_output_names_are_replaced_never_written_through() {
    let dir = tempfile::tempdir().expect("tmp");
    let outside = tempfile::tempdir().expect("tmp");
    let input = dir.path().join("run.jsonl");
    std::fs::write(&input, samples(1_760_000_000.0, 50)).expect("write");
    let mut victims = Vec::new();
    for name in ["analysis.json", "plot.svg", "plot.png"] {
        let victim = outside.path().join(format!("victim-{name}"));
        std::fs::write(&victim, "precious").expect("write");
        std::os::unix::fs::symlink(&victim, dir.path().join(name)).expect("link");
        victims.push(victim);
    }
    for plot in ["plot.svg", "plot.png"] {
        passing_json(
            bin()
                .arg(&input)
                .arg("--write-analysis")
                .arg(dir.path().join("analysis.json"))
                .arg("--plot")
                .arg(dir.path().join(plot)),
        );
    }
    for v in &victims {
        assert_eq!(std::fs::read_to_string(v).expect("read"), "precious");
    }
    for name in ["analysis.json", "plot.svg", "plot.png"] {
        let meta = std::fs::symlink_metadata(dir.path().join(name)).expect("meta");
        assert!(meta.is_file(), "{name} is a new regular file");
    }
    let doc: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("analysis.json")).expect("read"))
            .expect("json");
    assert_eq!(doc["snapshot_count"], 50);
    // Only the input and the three outputs: no temporary file left behind.
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 4);
    // A directory that does not exist is the environment's failure, in one line.
    let out = bin()
        .arg(&input)
        .arg("--write-analysis")
        .arg(dir.path().join("missing/analysis.json"))
        .args(["--format", "json"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("missing/analysis.json"), "{err}");
}

/// Runs resanalyze on `input` with its stdout a pipe the reader closes at once: the exit status
/// is still the verdict's.
fn status_with_closed_stdout(input: &Path, format: &str) -> Option<i32> {
    let mut child = bin()
        .arg(input)
        .args(SHORT_RUN)
        .args(["--format", format])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    child.wait().expect("wait").code()
}

#[test]
fn a_closed_stdout_never_changes_the_verdict() {
    let dir = tempfile::tempdir().expect("tmp");
    let healthy = dir.path().join("healthy.jsonl");
    std::fs::write(&healthy, samples(1_760_000_000.0, 60)).expect("write");
    // 40 MB/min: a leak.
    let leaking = dir.path().join("leaking.jsonl");
    let text: String = (0..60u32)
        .map(|k| {
            let t = 1_760_000_000.0 + f64::from(k) * 10.0;
            format!(
                "{{\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_unix\":{t},\"tree_memory_mb\":{}}}\n",
                40.0 + f64::from(k) * 6.7
            )
        })
        .collect();
    std::fs::write(&leaking, text).expect("write");
    for format in ["json", "jsonl", "table", "markdown"] {
        assert_eq!(
            status_with_closed_stdout(&healthy, format),
            Some(0),
            "{format}"
        );
        assert_eq!(
            status_with_closed_stdout(&leaking, format),
            Some(1),
            "{format}"
        );
    }
}

/// Runs resanalyze ARGS on a FIFO that a thread fills with `n` samples and closes; `None`
/// (with the reason printed) when `mkfifo` is not available.
fn through_fifo(dir: &Path, n: u32, args: &[&str]) -> Option<std::process::Output> {
    let fifo = dir.join("live.fifo");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        eprintln!("skipping the FIFO case: mkfifo not available");
        return None;
    }
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            std::fs::write(&fifo, samples(1_760_000_000.0, n)).expect("write fifo")
        })
    };
    let out = bin().args(args).arg(&fifo).output().expect("run");
    writer.join().expect("writer");
    Some(out)
}

#[test]
fn odd_inputs_read_or_fail_in_one_line_naming_them() {
    let dir = tempfile::tempdir().expect("tmp");
    // A file name that is not UTF-8 is read.
    let odd = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"run-\xff\xfe.jsonl"));
    std::fs::write(&odd, samples(1_760_000_000.0, 20)).expect("write");
    assert_eq!(passing_json(bin().arg(&odd))["snapshot_count"], 20);
    // A FIFO is read as a stream.
    if let Some(out) = through_fifo(dir.path(), 25, &["--format", "json"]) {
        let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(doc["snapshot_count"], 25);
    }
    // Empty, a directory, only garbage, a missing name that is not UTF-8: exit 2, one line.
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").expect("write");
    one_line_error_naming(&empty, &["--format", "json"]);
    one_line_error_naming(dir.path(), &["--format", "json"]);
    let garbage = dir.path().join("garbage.jsonl");
    std::fs::write(
        &garbage,
        "\0\0\0\n{\"type\":\"sample\",\"timestamp_unix\":1e400}\n[[[[\n",
    )
    .expect("write");
    one_line_error_naming(&garbage, &["--format", "json"]);
    let missing = dir
        .path()
        .join(std::ffi::OsStr::from_bytes(b"gone-\xff.jsonl"));
    let out = bin().arg(&missing).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("gone-"));
}

#[test]
fn follow_refuses_a_device_and_ends_with_a_fifo_writer() {
    let out = bin()
        .args(["--follow", "/dev/zero", "--format", "jsonl"])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/zero") && err.contains("device"), "{err}");
    let dir = tempfile::tempdir().expect("tmp");
    let Some(out) = through_fifo(dir.path(), 40, &["--follow"]) else {
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let summary: Value = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|r| r["type"] == "summary")
        .expect("a summary once the writer closed the FIFO");
    assert_eq!(summary["snapshot_count"], 40);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
