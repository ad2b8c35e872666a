//! Core's line follower (`soak_core::follow`, behind `logscan --follow`, `resanalyze --follow`
//! and the soak's watch) against real rotation: Debian's logrotate(8) in `create` and
//! `copytruncate` mode and soakkit's own `logrotate` (`--rename`, `--copytruncate`), each
//! rotating a log while a real writer process (python3) appends numbered lines as fast as it
//! can. The follower must see what the rotation preserves, in order, never twice.
//!
//! What each rotation guarantees, and so what is asserted:
//! - rename (`create`, `--rename`): the writer reopens on SIGHUP; nothing is cut, so the
//!   follower sees every line exactly once, in order;
//! - soakkit's `--copytruncate` cuts exactly the copied prefix out of the live file
//!   (`FALLOC_FL_COLLAPSE_RANGE`): every line exactly once, in order (where the filesystem
//!   cannot collapse it falls back to copy-then-truncate, judged as logrotate(8)'s below);
//! - logrotate(8)'s `copytruncate` copies, then truncates to zero: what is written between
//!   the follower's last read and the truncate is gone from the live file (logrotate(8) itself
//!   documents that lines written between copy and truncate are lost from the copy too), so
//!   the follower sees the lines in order, never twice, up to the writer's last line, and what
//!   it misses is at most one run of consecutive lines per rotation.

#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use soak_core::follow::{Follower, Stop, Until};

/// SIGHUP's number (the same on every Unix).
const SIGHUP: i32 = 1;
/// Rotations per test.
const ROUNDS: u64 = 4;
/// New lines the follower must have seen between two rotations (28 kB at 14 bytes a line).
const LINES_PER_ROUND: u64 = 2_000;

/// Appends `line NNNNNNNN\n` with one `write(2)` each (O_APPEND, so never torn), as fast as it
/// can, reopening the path on SIGHUP as a daemon does after a rename rotation.
const WRITER: &str = r#"
import os, signal, sys
path = sys.argv[1]
reopen = False
def hup(signum, frame):
    global reopen
    reopen = True
signal.signal(signal.SIGHUP, hup)
flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
fd = os.open(path, flags, 0o644)
print("ready", flush=True)
i = 0
while True:
    if reopen:
        reopen = False
        os.close(fd)
        fd = os.open(path, flags, 0o644)
    os.write(fd, b"line %08d\n" % i)
    i += 1
"#;

/// The writer process, killed when dropped (also when a test fails half-way).
struct Writer(Child);

impl Writer {
    fn start(python: &Path, log: &Path) -> Writer {
        let mut child = Command::new(python)
            .args(["-c", WRITER])
            .arg(log)
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the python3 writer");
        let mut ready = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut ready,
        )
        .expect("the writer's ready line");
        assert_eq!(ready.trim(), "ready", "the writer did not start");
        Writer(child)
    }

    fn pid(&self) -> i32 {
        i32::try_from(self.0.id()).expect("pid")
    }

    /// Asks the writer to reopen its log (what a postrotate script does).
    fn hup(&self) {
        soak_core::sys::signal_pid(self.pid(), SIGHUP).expect("SIGHUP the writer");
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the follower saw while the log was rotated under it.
struct Followed {
    /// The numbers of the lines it handed on, in order.
    seen: Vec<u64>,
    /// The writer's last line (the highest number in any of the files).
    last_written: u64,
    /// Rotations the follower noticed.
    rotations: u64,
}

/// Follows `dir/app.log` in a thread while `writer` appends, calling `rotate(round)` after
/// every [`LINES_PER_ROUND`] new lines; then stops the writer and lets the follower read to
/// the end (its `Until::writer_done`).
fn follow_while_rotating(
    dir: &Path,
    python: &Path,
    mut rotate: impl FnMut(&Writer, u64),
) -> Followed {
    let log = dir.join("app.log");
    let writer = Writer::start(python, &log);
    let done = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let follower = {
        let (done, count, log) = (done.clone(), count.clone(), log.clone());
        std::thread::spawn(move || {
            let mut follower = Follower::new(&log);
            let until = Until::every(Duration::from_millis(1)).writer_done(&done);
            let mut lines: Vec<Vec<u8>> = Vec::new();
            let stop = follower
                .follow(&until, &mut |_, line| {
                    lines.push(line.to_vec());
                    count.fetch_add(1, Ordering::SeqCst);
                })
                .expect("follow");
            assert_eq!(stop, Stop::WriterDone);
            (lines, follower.rotations())
        })
    };
    let wait_for = |n: u64| {
        let guard = Instant::now() + Duration::from_secs(120);
        while count.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < guard,
                "the follower saw {} lines, waiting for {n}",
                count.load(Ordering::SeqCst)
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    for round in 0..ROUNDS {
        wait_for(count.load(Ordering::SeqCst) + LINES_PER_ROUND);
        rotate(&writer, round);
    }
    wait_for(count.load(Ordering::SeqCst) + LINES_PER_ROUND);
    drop(writer);
    done.store(true, Ordering::SeqCst);
    let (lines, rotations) = follower.join().expect("the follower thread");
    let seen = lines.iter().map(|l| number(l)).collect();
    Followed {
        seen,
        last_written: last_written(dir),
        rotations,
    }
}

fn parse_number(line: &[u8]) -> Option<u64> {
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.strip_prefix("line "))
        .filter(|n| n.len() == 8)
        .and_then(|n| n.parse().ok())
}

fn number(line: &[u8]) -> u64 {
    parse_number(line)
        .unwrap_or_else(|| panic!("torn or foreign line {:?}", String::from_utf8_lossy(line)))
}

/// The highest line number in `app.log` and its rotated files. soakkit's copytruncate cuts at a
/// block boundary, so a rotated file may end with the head of a line whose tail starts the live
/// file: those pieces are not whole lines and are passed over.
fn last_written(dir: &Path) -> u64 {
    let mut last = 0;
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        if !name.is_some_and(|n| n.starts_with("app.log")) {
            continue;
        }
        let text = std::fs::read(&path).expect("read a log");
        for line in text.split(|b| *b == b'\n') {
            if let Some(n) = parse_number(line) {
                last = last.max(n);
            }
        }
    }
    last
}

/// Rotated files beside `app.log` (names starting `app.log.`).
fn rotated_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("app.log."))
        })
        .collect();
    out.sort();
    out
}

fn assert_every_line_once_in_order(f: &Followed) {
    assert!(f.last_written > ROUNDS * LINES_PER_ROUND, "too few lines");
    let expected: Vec<u64> = (0..=f.last_written).collect();
    if f.seen != expected {
        let first_bad = f
            .seen
            .iter()
            .zip(&expected)
            .position(|(a, b)| a != b)
            .unwrap_or(f.seen.len().min(expected.len()));
        panic!(
            "saw {} lines for {} written; first difference at index {first_bad}: saw {:?}, \
             expected {:?}",
            f.seen.len(),
            expected.len(),
            f.seen.get(first_bad),
            expected.get(first_bad)
        );
    }
    assert!(
        f.rotations >= ROUNDS,
        "{} rotations noticed of {ROUNDS}",
        f.rotations
    );
}

/// logrotate(8)'s copytruncate guarantee: in order, never twice, caught up with the writer;
/// what is missed lies in at most one run of consecutive lines per rotation.
fn assert_in_order_with_a_gap_per_rotation_at_most(f: &Followed) -> u64 {
    assert!(
        f.seen.windows(2).all(|w| w[0] < w[1]),
        "a line was seen twice or out of order"
    );
    assert_eq!(f.seen.last(), Some(&f.last_written), "the end was not read");
    let gaps = f.seen.windows(2).filter(|w| w[1] != w[0] + 1).count()
        + usize::from(f.seen.first() != Some(&0));
    assert!(
        gaps as u64 <= ROUNDS,
        "{gaps} runs of lost lines for {ROUNDS} rotations"
    );
    f.last_written + 1 - f.seen.len() as u64
}

/// python3, or `None` (with the reason printed) when it is absent.
fn python() -> Option<PathBuf> {
    let found = which("python3");
    if found.is_none() {
        eprintln!("skipping: python3 (the writer) is not installed");
    }
    found
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Debian's logrotate(8) (not soakkit's tool of the same name), or `None` with the reason.
fn system_logrotate() -> Option<PathBuf> {
    let candidates = ["/usr/sbin/logrotate", "/sbin/logrotate"].map(PathBuf::from);
    let found = candidates.into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).starts_with("logrotate 3"))
    });
    if found.is_none() {
        eprintln!("skipping: logrotate(8) is not installed (apt-get install logrotate)");
    }
    found
}

/// Runs logrotate(8) once, forced, with its own state file and a config for `dir/app.log`.
fn run_system_logrotate(logrotate: &Path, dir: &Path, mode: &str, writer: &Writer) {
    let conf = dir.join("logrotate.conf");
    let postrotate = if mode == "create" {
        // A daemon takes a while to reopen: the writer goes on in the renamed file meanwhile.
        format!(
            "    postrotate\n        sleep 0.1\n        kill -HUP {}\n    endscript\n",
            writer.pid()
        )
    } else {
        String::new()
    };
    std::fs::write(
        &conf,
        format!(
            "{}/app.log {{\n    rotate 20\n    {mode}\n    missingok\n    nocompress\n{postrotate}}}\n",
            dir.display()
        ),
    )
    .expect("write the config");
    let out = Command::new(logrotate)
        .arg("-f")
        .arg("-s")
        .arg(dir.join("logrotate.state"))
        .arg(&conf)
        .output()
        .expect("run logrotate(8)");
    assert!(
        out.status.success(),
        "logrotate(8) failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs soakkit's logrotate once over `dir`; returns its JSONL output.
fn run_soakkit_logrotate(dir: &Path, how: &str) -> String {
    let out = Command::new(soak_tests::tool("logrotate"))
        .args(["--max-size", "16KB", how, "--format", "jsonl"])
        .arg(dir)
        .output()
        .expect("run logrotate");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn logrotate8_create_mode_loses_and_repeats_no_line() {
    let (Some(python), Some(logrotate)) = (python(), system_logrotate()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let f = follow_while_rotating(dir.path(), &python, |w, _| {
        run_system_logrotate(&logrotate, dir.path(), "create", w)
    });
    assert!(rotated_files(dir.path()).len() as u64 >= ROUNDS);
    assert_every_line_once_in_order(&f);
}

#[test]
fn logrotate8_copytruncate_loses_only_what_it_cuts_before_it_is_read() {
    let (Some(python), Some(logrotate)) = (python(), system_logrotate()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let f = follow_while_rotating(dir.path(), &python, |w, _| {
        run_system_logrotate(&logrotate, dir.path(), "copytruncate", w)
    });
    assert!(rotated_files(dir.path()).len() as u64 >= ROUNDS);
    assert!(f.rotations >= ROUNDS, "{} rotations noticed", f.rotations);
    let lost = assert_in_order_with_a_gap_per_rotation_at_most(&f);
    eprintln!(
        "logrotate(8) copytruncate: {} lines written, {lost} cut before the follower read them",
        f.last_written + 1
    );
}

#[test]
fn soakkit_logrotate_rename_loses_and_repeats_no_line() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let f = follow_while_rotating(dir.path(), &python, |w, _| {
        let out = run_soakkit_logrotate(dir.path(), "--rename");
        assert!(out.contains("rename \u{2192}"), "{out}");
        w.hup();
    });
    assert!(rotated_files(dir.path()).len() as u64 >= ROUNDS);
    assert_every_line_once_in_order(&f);
}

#[test]
fn soakkit_logrotate_copytruncate_loses_and_repeats_no_line() {
    let Some(python) = python() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut collapsed = true;
    let f = follow_while_rotating(dir.path(), &python, |_, _| {
        let out = run_soakkit_logrotate(dir.path(), "--copytruncate");
        collapsed &= out.contains("collapse_range \u{2192}");
        assert!(
            out.contains("collapse_range") || out.contains("copy_truncate"),
            "{out}"
        );
    });
    assert!(rotated_files(dir.path()).len() as u64 >= ROUNDS);
    if collapsed {
        assert_every_line_once_in_order(&f);
    } else {
        eprintln!("this filesystem cannot collapse a range: judged as copy-then-truncate");
        assert_in_order_with_a_gap_per_rotation_at_most(&f);
    }
}
