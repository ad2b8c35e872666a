//! Hostile inputs for zombiereap (issue 16): dry runs that must not hide live zombies, a
//! closed stdout that must not hide the verdict, bad PIDs and signals, event files at hostile
//! paths (symlinks, FIFOs, non-UTF-8 names, a file where a directory should be) and signals
//! mid-run. Each case runs the real binary on real processes and files and asserts the exit
//! code, the one-line error, and that nothing outside the test's directory changed.
#![cfg(target_os = "linux")]

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use soak_core::proc::{ProcessTable, read_stat};

const BIN: &str = env!("CARGO_BIN_EXE_zombiereap");

/// zombiereap, its runs kept out of the CI job's step summary and annotations.
fn zombiereap() -> Command {
    let mut c = Command::new(BIN);
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn zr(args: &[&OsStr]) -> Output {
    soak_testkit::run(BIN, args)
}

fn zr_str(args: &[&str]) -> Output {
    soak_testkit::run(BIN, args)
}

fn records(o: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// A process (`sleep`) holding one zombie child it never reaps: `sh` starts a short child and
/// then becomes `sleep` with exec, which never calls wait().
struct ZombieParent {
    parent: Child,
    zombie: i32,
}

impl ZombieParent {
    fn start() -> ZombieParent {
        let parent = Command::new("sh")
            .args(["-c", "true & exec sleep 120"])
            .spawn()
            .expect("spawn sh");
        let ppid = parent.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(30);
        let zombie = loop {
            let table = ProcessTable::snapshot().expect("proc");
            let z = table
                .children_of(ppid)
                .iter()
                .copied()
                .find(|c| table.get(*c).is_some_and(|s| s.is_zombie()));
            let parent_is_sleep = table.get(ppid).is_some_and(|s| s.comm == "sleep");
            if let (Some(z), true) = (z, parent_is_sleep) {
                break z;
            }
            assert!(Instant::now() < deadline, "no zombie appeared");
            std::thread::sleep(Duration::from_millis(10));
        };
        ZombieParent { parent, zombie }
    }

    fn pid(&self) -> String {
        self.parent.id().to_string()
    }
}

impl Drop for ZombieParent {
    fn drop(&mut self) {
        let _ = self.parent.kill();
        let _ = self.parent.wait();
    }
}

#[test]
fn issue_reap_dry_run_with_live_zombies_exits_1_like_its_summary() {
    let z = ZombieParent::start();
    let o = zr_str(&["reap", "--dry-run", "--tree", &z.pid(), "--format", "jsonl"]);
    let recs = records(&o);
    let summary = recs.last().expect("summary");
    assert_eq!(summary["ok"], false, "{recs:?}");
    assert_eq!(
        o.status.code(),
        Some(1),
        "the exit code agrees with ok: false"
    );
    assert!(
        read_stat(z.zombie).expect("zombie").is_zombie(),
        "nothing signalled"
    );
    assert!(
        recs.iter()
            .any(|r| r["action"] == "sigchld" && r["dry_run"] == true)
    );
}

#[test]
fn scan_with_a_closed_stdout_still_exits_1_when_zombies_exist() {
    let z = ZombieParent::start();
    let mut child = zombiereap()
        .args(["scan", "--tree", &z.pid(), "--format", "jsonl"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The reader goes away before zombiereap writes (`| head -0`).
    drop(child.stdout.take());
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "the verdict, not 0: {err}");
    assert!(err.is_empty(), "a closed pipe is no error: {err}");
}

#[test]
fn scan_and_reap_of_a_tree_that_does_not_exist_are_exit_2_naming_the_pid() {
    for sub in ["scan", "reap"] {
        let o = zr_str(&[sub, "--tree", "999999999"]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{sub}: {}",
            soak_testkit::stderr(&o)
        );
        soak_testkit::assert_one_line_error(&o, "999999999");
    }
}

#[test]
fn kill_tree_refuses_bad_pids_with_exit_2() {
    for pid in ["999999999", "1", "0"] {
        let o = zr_str(&["kill-tree", pid, "--timeout", "1s"]);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{pid}: {}",
            soak_testkit::stderr(&o)
        );
        soak_testkit::assert_one_line_error(&o, pid);
    }
    for args in [
        &["kill-tree", "-5"][..],
        &["kill-tree", "abc"][..],
        &["kill-tree", "123", "--signal", "NOPE"][..],
        &["kill-tree", "123", "--timeout=-1s"][..],
        &["scan", "--min-age=-1s"][..],
    ] {
        let o = zr_str(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{args:?}: {}",
            soak_testkit::stderr(&o)
        );
    }
}

#[test]
fn kill_tree_dry_run_signals_nothing() {
    let z = ZombieParent::start();
    let o = zr_str(&["kill-tree", &z.pid(), "--dry-run", "--format", "jsonl"]);
    assert_eq!(o.status.code(), Some(0), "{}", soak_testkit::stderr(&o));
    let state = read_stat(z.parent.id() as i32).expect("parent alive");
    assert!(!state.is_zombie(), "the parent was not killed");
}

#[test]
fn run_with_a_missing_command_is_exit_2_said_once() {
    let o = zr_str(&["run", "--", "/nonexistent/command-x"]);
    assert_eq!(o.status.code(), Some(2));
    soak_testkit::assert_one_line_error(&o, "/nonexistent/command-x");
}

#[test]
fn events_under_a_regular_file_is_exit_3_said_once_and_the_command_never_runs() {
    let d = tempfile::tempdir().expect("tmp");
    let file = d.path().join("plain");
    std::fs::write(&file, "x").expect("w");
    let marker = d.path().join("ran");
    let events = file.join("events.jsonl");
    let o = zr(&[
        OsStr::new("run"),
        OsStr::new("--events"),
        events.as_os_str(),
        OsStr::new("--"),
        OsStr::new("touch"),
        marker.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", soak_testkit::stderr(&o));
    soak_testkit::assert_one_line_error(&o, "events.jsonl");
    assert!(!marker.exists(), "the command was not started");
}

#[test]
fn events_at_a_symlink_is_refused_and_the_target_is_untouched() {
    let d = tempfile::tempdir().expect("tmp");
    let victim = d.path().join("victim");
    std::fs::write(&victim, "precious\n").expect("w");
    let link = d.path().join("events.jsonl");
    std::os::unix::fs::symlink(&victim, &link).expect("link");
    let o = zr(&[
        OsStr::new("run"),
        OsStr::new("--events"),
        link.as_os_str(),
        OsStr::new("--"),
        OsStr::new("true"),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", soak_testkit::stderr(&o));
    soak_testkit::assert_one_line_error(&o, "events.jsonl");
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious\n");
}

#[test]
fn events_at_a_fifo_nobody_reads_does_not_hang_the_run() {
    let d = tempfile::tempdir().expect("tmp");
    let fifo = d.path().join("events.fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o644)).expect("fifo");
    let mut child = Command::new(BIN)
        .args(["run", "--events"])
        .arg(&fifo)
        .args(["--", "true"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("zombiereap blocked on a FIFO nobody reads");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Opened read-write, a FIFO never blocks the open; the events wait in the pipe for a
    // reader and the command's own status comes through.
    assert_eq!(status.code(), Some(0));
}

#[test]
fn events_at_a_non_utf8_path_is_written_there_and_named_without_loss() {
    let d = tempfile::tempdir().expect("tmp");
    let events = d.path().join(OsStr::from_bytes(b"ev\xffents.jsonl"));
    let o = zr(&[
        OsStr::new("run"),
        OsStr::new("--events"),
        events.as_os_str(),
        OsStr::new("--"),
        OsStr::new("sh"),
        OsStr::new("-c"),
        OsStr::new("exit 7"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(7),
        "the command's status: {}",
        soak_testkit::stderr(&o)
    );
    let text = std::fs::read_to_string(&events).expect("events written at the exact name");
    assert!(
        text.lines().any(|l| l.contains("\"type\":\"summary\"")),
        "{text}"
    );
    // And a missing one is named byte for byte.
    let bad = d.path().join(OsStr::from_bytes(b"no\xffdir")).join("x/y");
    std::fs::write(d.path().join(OsStr::from_bytes(b"no\xffdir")), "file").expect("w");
    let o = zr(&[
        OsStr::new("run"),
        OsStr::new("--events"),
        bad.as_os_str(),
        OsStr::new("--"),
        OsStr::new("true"),
    ]);
    assert_eq!(o.status.code(), Some(3));
    soak_testkit::assert_one_line_error(&o, r"no\xffdir");
}

#[test]
fn sigterm_mid_run_is_forwarded_and_nothing_is_left_behind() {
    let d = tempfile::tempdir().expect("tmp");
    let events = d.path().join("events.jsonl");
    let marker = format!("zr-hostile-{}", std::process::id());
    let mut child = Command::new(BIN)
        .args(["run", "--grace", "2s", "--events"])
        .arg(&events)
        .args([
            "--",
            "bash",
            "-c",
            &format!("(exec -a {marker} sleep 300) & exec -a {marker} sleep 300"),
        ])
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(30);
    while count_named(&marker) < 2 {
        assert!(Instant::now() < deadline, "the command did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(128 + libc::SIGTERM),
        "143: the command died of SIGTERM"
    );
    assert_eq!(count_named(&marker), 0, "no leftover process");
}

fn count_named(marker: &str) -> usize {
    let Ok(table) = ProcessTable::snapshot() else {
        return 0;
    };
    table
        .iter()
        .filter(|s| {
            !s.is_zombie()
                && std::fs::read(format!("/proc/{}/cmdline", s.pid))
                    .is_ok_and(|c| c.starts_with(marker.as_bytes()))
        })
        .count()
}

#[test]
fn a_non_utf8_argument_is_a_usage_error_not_a_panic() {
    // Non-UTF-8 arguments anywhere are handled (clap takes OsStrings; the tree is a number).
    let o = zr(&[
        OsStr::new("scan"),
        OsStr::new("--tree"),
        OsStr::from_bytes(b"\xff"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        !soak_testkit::stderr(&o).contains("panicked"),
        "{}",
        soak_testkit::stderr(&o)
    );
}
