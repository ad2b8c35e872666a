//! logrotate on Windows (run under wine in CI): a log held open by a real Windows process that
//! appends numbered CRLF lines is rotated by copy and truncate while it writes, and across the
//! rotated parts and the live file every line is whole, at most once and in order, a loss
//! possible only in the instant of each truncate (NTFS cannot cut a prefix; Linux's
//! collapse_range has no such window); the same held log refuses a rename and a deletion with
//! the reason, never by losing data; retention, compression and the budget work on
//! drive-letter paths written with backslashes or slashes, CRLF content byte for byte.
//!
//! The writer is this test executable started again (`--exact held_writer`) with the log's
//! path in `LOGROTATE_TEST_WRITER`: a separate Windows process that opens the log the way a
//! Windows service's runtime does, for appending and sharing reads and writes but not
//! deletion.
#![cfg(windows)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_logrotate");
/// FILE_SHARE_READ | FILE_SHARE_WRITE: the C runtime's and most services' sharing of a log.
const SHARE_READ_WRITE: u32 = 0x1 | 0x2;
/// FILE_SHARE_DELETE.
const SHARE_DELETE: u32 = 0x4;

/// The body of the writer process; does nothing unless started as the writer.
#[test]
fn held_writer() {
    let Some(path) = std::env::var_os("LOGROTATE_TEST_WRITER") else {
        return;
    };
    let lines: usize = std::env::var("LOGROTATE_TEST_LINES")
        .ok()
        .and_then(|n| n.parse().ok())
        .expect("LOGROTATE_TEST_LINES");
    // LOGROTATE_TEST_SHARE=all: also share deletion (as Rust's and .NET's FileShare.Delete
    // writers do), so the log can be renamed while held.
    let share = match std::env::var("LOGROTATE_TEST_SHARE").as_deref() {
        Ok("all") => SHARE_READ_WRITE | SHARE_DELETE,
        _ => SHARE_READ_WRITE,
    };
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .share_mode(share)
        .open(&path)
        .expect("open the log");
    // Says it holds the log, then waits for a line on stdin before writing (or, with 0
    // lines, before closing it).
    println!("holding");
    std::io::stdout().flush().expect("flush");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).expect("stdin");
    for i in 1..=lines {
        log.write_all(format!("line {i:06} of the held log\r\n").as_bytes())
            .expect("append");
        if i % 4 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A writer process holding `path` open (and its stdout, kept open so that the test harness
/// inside it can report); killed if a test fails half-way.
struct Writer(Child, BufReader<std::process::ChildStdout>);

impl Writer {
    /// Starts the writer on `path` and waits until it holds the file (sharing reads and
    /// writes, and deletion too with `share_delete`).
    fn hold(path: &Path, lines: usize) -> Writer {
        Writer::start(path, lines, false)
    }

    fn start(path: &Path, lines: usize, share_delete: bool) -> Writer {
        let mut child = Command::new(std::env::current_exe().expect("test exe"))
            .args(["--exact", "held_writer", "--nocapture", "--test-threads=1"])
            .env("LOGROTATE_TEST_WRITER", path)
            .env("LOGROTATE_TEST_LINES", lines.to_string())
            .env(
                "LOGROTATE_TEST_SHARE",
                if share_delete { "all" } else { "read-write" },
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the writer");
        let out = child.stdout.take().expect("stdout");
        let mut reader = BufReader::new(out);
        let mut line = String::new();
        while !line.contains("holding") {
            line.clear();
            assert!(
                reader.read_line(&mut line).expect("writer output") > 0,
                "the writer ended before holding the log"
            );
        }
        Writer(child, reader)
    }

    /// Lets it write its lines.
    fn go(&mut self) {
        let stdin = self.0.stdin.as_mut().expect("stdin");
        stdin.write_all(b"go\n").expect("go");
        stdin.flush().expect("flush");
    }

    /// True once it has written everything and exited.
    fn done(&mut self) -> bool {
        self.0.try_wait().expect("try_wait").is_some()
    }

    /// Waits for it (after `go`), asserting it succeeded.
    fn finish(mut self) {
        let mut rest = String::new();
        self.1.read_to_string(&mut rest).expect("writer output");
        let status = self.0.wait().expect("wait");
        assert!(status.success(), "writer: {status}");
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs logrotate with `args` then `dirs`; returns the exit code, the records and stderr.
fn run(args: &[&str], dirs: &[&Path]) -> (i32, Vec<Value>, String) {
    let out = Command::new(BIN)
        .args(["--format", "jsonl"])
        .args(args)
        .args(dirs)
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("run logrotate");
    let records = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSONL record"))
        .collect();
    let code = out.status.code().expect("exit code");
    (
        code,
        records,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn actions<'a>(records: &'a [Value], action: &str) -> Vec<&'a Value> {
    records
        .iter()
        .filter(|r| r["type"] == "action" && r["action"] == action)
        .collect()
}

fn summary(records: &[Value]) -> &Value {
    records
        .iter()
        .find(|r| r["type"] == "summary")
        .expect("a summary record")
}

/// The rotated parts of `live` in rotation order (`NAME.STAMP` then `NAME.STAMP.1`, ...).
fn rotated_parts(dir: &Path, live: &str) -> Vec<PathBuf> {
    let mut parts: Vec<((u64, u64), PathBuf)> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let rest = name.strip_prefix(&format!("{live}."))?;
            let mut nums = rest.split('.').map(|n| n.parse::<u64>());
            let stamp = nums.next()?.ok()?;
            let n = nums.next().transpose().ok()?.unwrap_or(0);
            Some(((stamp, n), p))
        })
        .collect();
    parts.sort();
    parts.into_iter().map(|(_, p)| p).collect()
}

/// A temporary directory and the directory `name` made in it, the one logrotate manages.
fn managed(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join(name);
    std::fs::create_dir(&dir).expect("mkdir");
    (tmp, dir)
}

fn age(path: &Path, age_s: u64) {
    let when = SystemTime::now() - Duration::from_secs(age_s);
    std::fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .expect("set mtime");
}

#[test]
fn copytruncate_of_a_held_log_keeps_every_crlf_line_exactly_once() {
    const LINES: usize = 4000;
    let (_tmp, dir) = managed("soak");
    let log = dir.join("service.log");
    let mut writer = Writer::hold(&log, LINES);
    writer.go();
    let mut rotations = 0;
    let mut passes = 0;
    loop {
        let finished = writer.done();
        let (code, records, stderr) =
            run(&["--max-size", "4KB", "--copytruncate"], &[dir.as_path()]);
        assert_eq!(code, 0, "{stderr}");
        passes += 1;
        for r in actions(&records, "rotate") {
            let detail = r["detail"].as_str().unwrap_or_default();
            // Held: copy_truncate; once the writer has exited: with no window.
            assert!(
                detail.starts_with("copy_truncate → ")
                    || detail.starts_with("copy_truncate_exclusive → "),
                "{r}"
            );
            rotations += 1;
        }
        assert!(
            actions(&records, "skip").is_empty(),
            "nothing is skipped: {records:?}"
        );
        assert_eq!(summary(&records)["writers"], "unknown");
        if finished {
            break;
        }
    }
    writer.finish();
    let parts = rotated_parts(&dir, "service.log");
    assert!(
        rotations >= 3 && parts.len() == rotations,
        "{rotations} rotations in {passes} passes, parts {parts:?}"
    );
    let mut all = Vec::new();
    for p in parts.iter().chain([&log]) {
        std::fs::File::open(p)
            .and_then(|mut f| f.read_to_end(&mut all))
            .expect("read a part");
    }
    // wine emulates an append by writing at the end it last knew: a write that straddles a
    // truncate lands past the new end and leaves a run of NULs before it (on Windows the file
    // system appends at the end atomically). The line after the run is whole.
    all.retain(|&b| b != 0);
    let text = String::from_utf8(all).expect("text");
    // Every line whole, with its CRLF, at most once and in order.
    let numbers: Vec<usize> = text
        .split_inclusive('\n')
        .map(|l| {
            l.strip_prefix("line ")
                .and_then(|l| l.strip_suffix(" of the held log\r\n"))
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("a mangled line: {l:?}"))
        })
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "a line twice or out of order"
    );
    // NTFS cannot cut a prefix out of a file: a line the writer appends between the last
    // check and the truncate (one system call apart) is lost, so losses can only come as one
    // run of consecutive lines per rotation. Everything written during the copy is kept.
    let mut expected = 1;
    let mut runs = Vec::new();
    for &n in numbers.iter().chain([LINES + 1].iter()) {
        if n != expected {
            runs.push(expected..n);
        }
        expected = n + 1;
    }
    let lost: usize = runs.iter().map(ExactSizeIterator::len).sum();
    eprintln!(
        "{lost} of {LINES} lines lost in {} of {rotations} truncates",
        runs.len()
    );
    assert!(
        runs.len() <= rotations,
        "losses outside the truncate windows: {runs:?} over {rotations} rotations"
    );
}

#[test]
fn a_log_nobody_holds_is_cut_with_no_window_crlf_byte_for_byte() {
    let (_tmp, dir) = managed("svc");
    let log = dir.join("api.log");
    let content: String = (1..=3000)
        .map(|i| format!("{i}\tGET /v1/orders 200\r\n"))
        .collect();
    std::fs::write(&log, &content).expect("write");
    let (code, records, stderr) = run(&["--max-size", "10KB", "--copytruncate"], &[dir.as_path()]);
    assert_eq!(code, 0, "{stderr}");
    let rotated = actions(&records, "rotate");
    assert_eq!(rotated.len(), 1, "{records:?}");
    let detail = rotated[0]["detail"].as_str().expect("detail");
    assert!(detail.starts_with("copy_truncate_exclusive → "), "{detail}");
    assert_eq!(std::fs::metadata(&log).expect("live").len(), 0);
    let parts = rotated_parts(&dir, "api.log");
    assert_eq!(parts.len(), 1, "{parts:?}");
    assert_eq!(std::fs::read(&parts[0]).expect("part"), content.as_bytes());
}

#[test]
fn a_held_log_is_neither_renamed_nor_deleted_and_says_why() {
    let (_tmp, dir) = managed("logs");
    let held = dir.join("bot_run1.log");
    let writer = Writer::hold(&held, 0);
    std::fs::write(&held, "x\r\n".repeat(2000)).expect("fill the held log");
    // --rename needs deletion sharing, which the writer does not give.
    let (code, records, stderr) = run(&["--max-size", "1KB", "--rename"], &[dir.as_path()]);
    assert_eq!(code, 0, "{stderr}");
    let skips = actions(&records, "skip");
    assert_eq!(skips.len(), 1, "{records:?}");
    let reason = skips[0]["reason"].as_str().expect("reason");
    assert!(reason.contains("held open by another process"), "{reason}");
    assert_eq!(std::fs::read(&held).expect("read").len(), 6000);
    // An older file of the step, held: its deletion is refused the same way, the newer stays.
    age(&held, 7200);
    let newer = dir.join("bot_run2.log");
    std::fs::write(&newer, "new\r\n").expect("newer");
    let (code, records, stderr) = run(&["--keep-per-step", "1"], &[dir.as_path()]);
    assert_eq!(code, 0, "{stderr}");
    let skips = actions(&records, "skip");
    assert_eq!(skips.len(), 1, "{records:?}");
    let reason = skips[0]["reason"].as_str().expect("reason");
    assert!(
        reason.starts_with("older than the 1 newest") && reason.contains("held open"),
        "{reason}"
    );
    assert!(held.exists() && newer.exists());
    drop(writer);
    // Released, the same pass deletes it.
    let (code, records, _) = run(&["--keep-per-step", "1"], &[dir.as_path()]);
    assert_eq!(code, 0);
    assert_eq!(actions(&records, "delete").len(), 1, "{records:?}");
    assert!(!held.exists() && newer.exists());
}

#[test]
fn retention_compression_and_budget_on_drive_letter_paths_keep_crlf_bytes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let base = tmp.path().join("artifacts");
    let text = |i: usize| format!("step {i}\r\nsecond line\r\n").repeat(200);
    for run_dir in ["run-1795371100", "run-1795371200", "run-1795371300"] {
        let d = base.join(run_dir);
        std::fs::create_dir_all(&d).expect("mkdir");
        for i in 0..3 {
            let p = d.join(format!("metrics_{i}.csv"));
            std::fs::write(&p, text(i)).expect("write");
            age(&p, 3600 * (3 - i as u64));
        }
    }
    let shown = base.to_str().expect("utf-8 temp path").to_string();
    assert!(
        shown.as_bytes().get(1) == Some(&b':') && shown.contains('\\'),
        "a drive-letter path with backslashes: {shown}"
    );
    // The same directory spelled with forward slashes names the same files.
    let slashed = PathBuf::from(shown.replace('\\', "/"));
    let (code, records, stderr) = run(
        &["--keep-runs", "2", "--compress", "--dry-run"],
        &[slashed.as_path()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(actions(&records, "delete_run").len(), 1, "{records:?}");
    let (code, records, stderr) = run(&["--keep-runs", "2", "--compress"], &[base.as_path()]);
    assert_eq!(code, 0, "{stderr}");
    let gone = actions(&records, "delete_run");
    assert_eq!(gone.len(), 1, "{records:?}");
    let gone_path = gone[0]["path"].as_str().expect("path");
    assert!(
        gone_path.ends_with(r"\\run-1795371100") && gone_path.starts_with(&shown[..2]),
        "shown as the Windows path it is: {gone_path}"
    );
    assert!(!base.join("run-1795371100").exists());
    let s = summary(&records);
    assert!(s["free_bytes"].as_u64().is_some_and(|b| b > 0), "{s}");
    // Two files per kept run compressed (the newest of each step stays), CRLF byte for byte.
    for run_dir in ["run-1795371200", "run-1795371300"] {
        let d = base.join(run_dir);
        for i in 0..2 {
            let gz = d.join(format!("metrics_{i}.csv.gz"));
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(std::fs::File::open(&gz).expect("archive"))
                .read_to_end(&mut back)
                .expect("gunzip");
            assert_eq!(back, text(i).into_bytes(), "{gz:?}");
            assert!(!d.join(format!("metrics_{i}.csv")).exists());
        }
        assert!(d.join("metrics_2.csv").exists());
    }
    // The budget deletes archives first and never the newest of a step.
    let (code, records, stderr) = run(&["--max-total", "1KB"], &[base.as_path()]);
    assert_eq!(
        code, 1,
        "still over: only the newest files are left {stderr}"
    );
    assert_eq!(actions(&records, "delete").len(), 4, "{records:?}");
    assert_eq!(summary(&records)["over_budget"], true);
}

#[test]
fn a_writer_sharing_deletion_is_renamed_under_and_keeps_writing_into_the_rotated_part() {
    let (_tmp, dir) = managed("svc");
    let log = dir.join("worker.log");
    let mut writer = Writer::start(&log, 100, true);
    std::fs::write(&log, "old\r\n".repeat(500)).expect("fill");
    let (code, records, stderr) = run(&["--max-size", "1KB", "--rename"], &[dir.as_path()]);
    assert_eq!(code, 0, "{stderr}");
    let rotated = actions(&records, "rotate");
    assert_eq!(rotated.len(), 1, "{records:?}");
    let detail = rotated[0]["detail"].as_str().expect("detail");
    assert!(detail.starts_with("rename → "), "{detail}");
    assert!(!log.exists(), "renamed away");
    // The writer's handle followed the file: its lines land in the rotated part, after the
    // old content, as on Unix until the writer reopens its log.
    writer.go();
    writer.finish();
    let parts = rotated_parts(&dir, "worker.log");
    assert_eq!(parts.len(), 1, "{parts:?}");
    let text = std::fs::read_to_string(&parts[0]).expect("part");
    assert!(
        text.starts_with(&"old\r\n".repeat(500)),
        "old content first"
    );
    assert!(
        text.ends_with("line 000100 of the held log\r\n"),
        "new lines after it"
    );
}

#[test]
fn a_symlinked_log_is_never_followed_compressed_or_deleted() {
    let (tmp, dir) = managed("logs");
    let outside = tmp.path().join("outside.log");
    std::fs::write(&outside, "precious\r\n").expect("outside");
    age(&outside, 7200);
    let link = dir.join("app.log.1");
    if let Err(e) = std::os::windows::fs::symlink_file(&outside, &link) {
        // Creating a symlink needs a privilege Windows does not give every user.
        eprintln!("skipped: cannot create a symlink here ({e})");
        return;
    }
    if std::fs::symlink_metadata(&link).is_err() {
        // wine 8's CreateSymbolicLinkW reports success without making the link.
        eprintln!("skipped: this system reported a symlink it did not create");
        return;
    }
    std::fs::write(dir.join("app.log"), "live\r\n").expect("live");
    let (code, records, stderr) = run(
        &["--keep-per-step", "1", "--compress", "--max-total", "1B"],
        &[dir.as_path()],
    );
    assert_eq!(code, 1, "the live log alone is over 1 B {stderr}");
    let skips = actions(&records, "skip");
    assert!(
        skips.iter().any(|r| r["reason"]
            .as_str()
            .unwrap_or("")
            .contains("symlink: never followed")),
        "{records:?}"
    );
    assert!(actions(&records, "delete").is_empty(), "{records:?}");
    assert!(actions(&records, "compress").is_empty(), "{records:?}");
    assert_eq!(std::fs::read(&outside).expect("outside"), b"precious\r\n");
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
}
