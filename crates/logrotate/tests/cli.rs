//! `logrotate` on real directory trees: retention, budget, dry-run, crash safety, concurrent
//! writers through copytruncate and rename, symlinks, open files, refused deletions.

// Unix only: symlinks, permission bits, python3 writers with O_APPEND, chattr and kill -TERM;
// the Windows forms of these cases are in tests/windows.rs.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, SystemTime};

use assert_cmd::Command;
use serde_json::Value;

fn lr() -> Command {
    let mut c = Command::cargo_bin("logrotate").expect("binary");
    c.args(["--format", "jsonl"]).env_remove("GITHUB_ACTIONS");
    c
}

/// Writes `name` with `size` bytes and an mtime `age_s` seconds ago.
fn file(dir: &Path, name: &str, size: usize, age_s: u64) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, "x".repeat(size)).expect("write");
    let t = SystemTime::now() - Duration::from_secs(age_s);
    std::fs::File::options()
        .write(true)
        .open(&p)
        .expect("open")
        .set_modified(t)
        .expect("mtime");
    p
}

/// Every path under `dir` with its content, for before/after comparisons.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    walk(dir)
        .into_iter()
        .map(|p| {
            (
                p.strip_prefix(dir).expect("under").display().to_string(),
                std::fs::read(&p).unwrap_or_default(),
            )
        })
        .collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir").filter_map(Result::ok) {
        let p = e.path();
        if e.file_type().expect("type").is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn names(dir: &Path) -> Vec<String> {
    tree(dir).into_keys().collect()
}

fn summary(out: &[u8]) -> Value {
    let last = String::from_utf8_lossy(out)
        .lines()
        .last()
        .expect("a line")
        .to_string();
    serde_json::from_str(&last).expect("json")
}

#[test]
fn per_step_and_run_retention_and_a_dry_run_that_changes_nothing() {
    let d = tempfile::tempdir().expect("tmp");
    for (i, age) in [10u64, 20, 30, 40].iter().enumerate() {
        file(d.path(), &format!("soak_windows.log.{}", i + 1), 100, *age);
        file(
            d.path(),
            &format!("metrics_run{i}_2026112{i}.csv"),
            50,
            *age,
        );
    }
    file(d.path(), "soak_windows.log", 100, 0);
    for (i, age) in [100u64, 200, 300, 400].iter().enumerate() {
        file(
            d.path(),
            &format!("run-17953{i}0000/resources.jsonl"),
            10,
            *age,
        );
    }
    let before = tree(d.path());
    let dry = lr()
        .args(["--keep-per-step", "2", "--keep-runs", "2", "--dry-run"])
        .arg(d.path())
        .output()
        .expect("dry");
    assert_eq!(dry.status.code(), Some(0));
    assert_eq!(tree(d.path()), before, "dry run changed nothing");
    let planned = String::from_utf8_lossy(&dry.stdout)
        .matches("\"action\":\"delete")
        .count();
    assert_eq!(planned, 3 + 2 + 2, "3 soak logs + 2 metrics + 2 runs");

    let real = lr()
        .args(["--keep-per-step", "2", "--keep-runs", "2"])
        .arg(d.path())
        .output()
        .expect("run");
    assert_eq!(real.status.code(), Some(0));
    assert_eq!(
        names(d.path()),
        vec![
            "metrics_run0_20261120.csv",
            "metrics_run1_20261121.csv",
            "run-1795320000/resources.jsonl",
            "run-1795330000/resources.jsonl",
            "soak_windows.log",
            "soak_windows.log.1",
        ]
    );
}

#[test]
fn budget_deletes_compressed_first_and_says_when_still_over() {
    let d = tempfile::tempdir().expect("tmp");
    file(d.path(), "app.log", 4000, 0);
    file(d.path(), "app.log.1", 4000, 10);
    file(d.path(), "app.log.2.gz", 1000, 20);
    file(d.path(), "app.log.3.gz", 1000, 30);
    let out = lr()
        .args(["--max-total", "9000B"])
        .arg(d.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        names(d.path()),
        vec!["app.log", "app.log.1", "app.log.2.gz"]
    );
    let out = lr()
        .args(["--max-total", "1000B"])
        .arg(d.path())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "the newest app.log alone is over 1000 B"
    );
    let s = summary(&out.stdout);
    assert_eq!(
        (s["over_budget"].clone(), s["total_bytes_after"].clone()),
        (Value::Bool(true), Value::from(4000))
    );
    assert_eq!(names(d.path()), vec!["app.log"]);
}

#[test]
fn compression_survives_sigkill_and_the_rerun_finishes_it() {
    let d = tempfile::tempdir().expect("tmp");
    // Incompressible-ish content large enough to be mid-compression when killed.
    let big = d.path().join("big.log");
    let mut data = Vec::with_capacity(96 << 20);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while data.len() < (96 << 20) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(format!("{x:016x} seq\n").as_bytes());
    }
    std::fs::write(&big, &data).expect("write");
    file(d.path(), "big.log.0", 10, 0); // a newer file of the same step: big.log is old
    std::fs::File::options()
        .write(true)
        .open(&big)
        .expect("o")
        .set_modified(SystemTime::now() - Duration::from_secs(60))
        .expect("m");
    let bin = assert_cmd::cargo::cargo_bin("logrotate");
    let mut child = StdCommand::new(&bin)
        .args(["--compress", "--format", "jsonl"])
        .arg(d.path())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    // The archive is written under a random temporary name (`.big.log.gz.<hex>.logrotate-tmp`).
    let temp_of = |dir: &Path| {
        std::fs::read_dir(dir)
            .expect("list")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with(".logrotate-tmp"))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while temp_of(d.path()).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let tmp = temp_of(d.path()).expect("a temporary archive appeared");
    child.kill().expect("kill");
    let _ = child.wait();
    assert_eq!(std::fs::read(&big).expect("original intact"), data);
    let out = lr()
        .args(["--compress"])
        .arg(d.path())
        .output()
        .expect("rerun");
    assert_eq!(out.status.code(), Some(0));
    assert!(!big.exists() && !tmp.exists());
    let mut text = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(
            std::fs::File::open(d.path().join("big.log.gz")).expect("gz"),
        ),
        &mut text,
    )
    .expect("gunzip");
    assert_eq!(text, data);
}

/// A child process killed when dropped (also when a test fails half-way).
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A writer appending numbered lines (O_APPEND), as fast as it can, until killed; returned once
/// it has written 64 kB.
fn writer(path: &Path, reopen: bool) -> Killed {
    let script = if reopen {
        "import sys\npath=sys.argv[1]\ni=0\nwhile True:\n    with open(path,'a') as f: f.write(f'line {i:08d}\\n')\n    i+=1\n"
    } else {
        "import sys\nf=open(sys.argv[1],'a',buffering=1)\ni=0\nwhile True:\n    f.write(f'line {i:08d}\\n'); i+=1\n"
    };
    let w = Killed(
        StdCommand::new("python3")
            .args(["-c", script])
            .arg(path)
            .spawn()
            .expect("python3"),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(path).map_or(0, |m| m.len()) < 64 * 1024 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    w
}

fn every_line_once_in_order(dir: &Path, base: &str) {
    let mut rotated: Vec<PathBuf> = walk(dir)
        .into_iter()
        .filter(|p| {
            let n = p.file_name().expect("name").to_string_lossy().into_owned();
            n.starts_with(&format!("{base}.")) && !n.ends_with("-tmp")
        })
        .collect();
    rotated.sort();
    assert!(rotated.len() >= 2, "rotated several times: {rotated:?}");
    let mut stream = Vec::new();
    for p in rotated.iter().chain(std::iter::once(&dir.join(base))) {
        stream.extend(std::fs::read(p).expect("read"));
    }
    let text = String::from_utf8(stream).expect("utf8");
    let mut expected = 0u64;
    for line in text.lines() {
        let n: u64 = line
            .strip_prefix("line ")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("torn or foreign line {line:?}"));
        assert_eq!(n, expected, "line {expected} is missing or out of order");
        expected += 1;
    }
    assert!(expected > 1000, "the writer wrote {expected} lines");
}

#[test]
fn copytruncate_with_a_concurrent_writer_loses_no_line() {
    let d = tempfile::tempdir().expect("tmp");
    let log = d.path().join("bot.log");
    let w = writer(&log, false);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(300));
        let out = lr()
            .args(["--max-size", "32KB", "--copytruncate"])
            .arg(d.path())
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("collapse_range"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    drop(w);
    every_line_once_in_order(d.path(), "bot.log");
}

#[test]
fn rename_with_a_reopening_writer_loses_no_line() {
    let d = tempfile::tempdir().expect("tmp");
    let log = d.path().join("bot.log");
    let w = writer(&log, true);
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(300));
        let out = lr()
            .args(["--max-size", "16KB", "--rename"])
            .arg(d.path())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0));
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(w);
    every_line_once_in_order(d.path(), "bot.log");
}

#[test]
fn symlinks_open_files_and_undeletable_files_are_left_alone() {
    let outside = tempfile::tempdir().expect("tmp");
    let secret = file(outside.path(), "keep-me.log.1", 100, 1000);
    let d = tempfile::tempdir().expect("tmp");
    std::os::unix::fs::symlink(&secret, d.path().join("keep-me.log.1")).expect("symlink");
    file(d.path(), "keep-me.log", 10, 0);
    // A process holding an old file open for writing.
    let held = file(d.path(), "held.log.3", 10, 500);
    file(d.path(), "held.log", 10, 0);
    let mut holder = StdCommand::new("python3")
        .args([
            "-c",
            "import sys,time; f=open(sys.argv[1],'a'); print('ready', flush=True); time.sleep(60)",
        ])
        .arg(&held)
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut ready = String::new();
    BufReader::new(holder.stdout.take().expect("stdout"))
        .read_line(&mut ready)
        .expect("ready");
    // An immutable file (root cannot delete it either).
    let stuck = file(d.path(), "stuck.log.5", 10, 500);
    file(d.path(), "stuck.log", 10, 0);
    let immutable = StdCommand::new("chattr")
        .arg("+i")
        .arg(&stuck)
        .status()
        .is_ok_and(|s| s.success());

    let out = lr()
        .args(["--keep-per-step", "1", "--compress"])
        .arg(d.path())
        .output()
        .expect("run");
    let _ = holder.kill();
    let _ = holder.wait();
    if immutable {
        let _ = StdCommand::new("chattr").arg("-i").arg(&stuck).status();
    }
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        secret.exists() && d.path().join("keep-me.log.1").is_symlink(),
        "symlink and its target untouched"
    );
    assert!(text.contains("symlink: never followed"), "{text}");
    assert!(held.exists() && text.contains("open for writing"), "{text}");
    if immutable {
        assert!(
            stuck.exists() && text.contains("Operation not permitted"),
            "{text}"
        );
    } else {
        eprintln!("chattr +i unavailable here: the refused-deletion case was not exercised");
    }
}

#[test]
fn refuses_root_and_home_without_force() {
    let out = lr().arg("/").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without --force"));
    let home = tempfile::tempdir().expect("tmp");
    std::fs::create_dir_all(home.path().join("user")).expect("mkdir");
    let out = lr()
        .env("HOME", home.path().join("user"))
        .arg(home.path())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "an ancestor of $HOME is refused too"
    );
    let out = lr().arg("/nonexistent/dir").output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir"));
}

#[test]
fn watch_applies_the_policy_every_interval_until_sigterm() {
    let d = tempfile::tempdir().expect("tmp");
    file(d.path(), "app.log", 10, 0);
    let bin = assert_cmd::cargo::cargo_bin("logrotate");
    let mut child = StdCommand::new(&bin)
        .args([
            "--watch",
            "200ms",
            "--keep-per-step",
            "1",
            "--format",
            "jsonl",
        ])
        .arg(d.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let lines = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<String>>()
    });
    // Files that appear while it watches are handled by a later pass.
    std::thread::sleep(Duration::from_millis(500));
    file(d.path(), "app.log.1", 10, 100);
    file(d.path(), "app.log.2", 10, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while d.path().join("app.log.2").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    StdCommand::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    let status = child.wait().expect("wait");
    let lines = lines.join().expect("lines");
    assert_eq!(status.code(), Some(0));
    assert_eq!(names(d.path()), vec!["app.log"]);
    let passes = lines
        .iter()
        .filter(|l| l.contains("\"type\":\"summary\""))
        .count();
    assert!(passes >= 3, "one summary per pass: {passes}");
}
