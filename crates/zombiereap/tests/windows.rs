//! zombiereap on Windows (run under wine64 in CI), against real processes: `scan` says there
//! are no zombies and passes, `run` leaves nothing its command started (the Job Object),
//! `kill-tree` ends a whole tree and `--dry-run` ends nothing. Every process the tests check
//! is held by a handle of their own, so its PID cannot be reused in between.
#![cfg(windows)]

use std::io::Write;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;
use soak_core::portable_proc::Snapshot;
use windows_sys::Win32::Foundation::WAIT_OBJECT_0;
use windows_sys::Win32::System::Threading::{
    OpenProcess, PROCESS_SYNCHRONIZE, WaitForSingleObject,
};

fn zombiereap() -> Command {
    Command::new(cargo_bin("zombiereap"))
}

fn lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect()
}

/// A process of the test's own, held open.
struct Held(OwnedHandle);

impl Held {
    fn open(pid: u32) -> Held {
        // SAFETY: OpenProcess returns a new handle or null (checked).
        let h = unsafe { OpenProcess(PROCESS_SYNCHRONIZE, 0, pid) };
        assert!(!h.is_null(), "PID {pid} can be opened");
        // SAFETY: non-null and ours.
        Held(unsafe { OwnedHandle::from_raw_handle(h) })
    }

    fn running(&self) -> bool {
        // SAFETY: the handle is open.
        unsafe { WaitForSingleObject(self.0.as_raw_handle(), 0) != WAIT_OBJECT_0 }
    }
}

/// The children of `parent`, waiting (up to a minute) until there is at least one.
fn children_of(parent: u32) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let kids: Vec<u32> = Snapshot::take()
            .expect("processes listed")
            .iter()
            .filter(|p| p.ppid.and_then(|pp| u32::try_from(pp).ok()) == Some(parent))
            .filter_map(|p| u32::try_from(p.pid).ok())
            .collect();
        if !kids.is_empty() {
            return kids;
        }
        assert!(
            Instant::now() < deadline,
            "PID {parent} never started a child"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `cmd` running a `ping` that lasts a minute: a two-process tree.
fn tree() -> (Child, Held, Vec<Held>) {
    let root = Command::new("cmd")
        .args(["/C", "ping -n 60 127.0.0.1 >NUL"])
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn cmd");
    let held = Held::open(root.id());
    let kids = children_of(root.id()).into_iter().map(Held::open).collect();
    (root, held, kids)
}

#[test]
fn scan_says_windows_has_no_zombies_and_passes() {
    let out = zombiereap()
        .args(["scan", "--format", "jsonl"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    let recs = lines(&out.stdout);
    let summary = recs.last().expect("a summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["zombie_count"], 0);
    assert!(
        summary["processes_scanned"]
            .as_u64()
            .is_some_and(|n| n >= 2)
    );
    assert!(
        summary["note"]
            .as_str()
            .is_some_and(|n| n.contains("no zombie"))
    );
    let bad = zombiereap()
        .args(["scan", "--tree", "2147483647"])
        .output()
        .expect("run");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--tree 2147483647: no such process"));
}

#[test]
fn run_leaves_nothing_its_command_started() {
    // cmd starts a minute-long ping in the background, then waits for a line on stdin and
    // exits 3, leaving the ping behind: the job must end it.
    let mut run = zombiereap()
        .args(["run", "--grace", "1s", "--", "cmd", "/C"])
        .arg("start /B ping -n 60 127.0.0.1 >NUL & set /p line= & exit 3")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zombiereap");
    let cmd = children_of(run.id());
    assert_eq!(cmd.len(), 1, "zombiereap started one command");
    let grandchildren: Vec<Held> = children_of(cmd[0]).into_iter().map(Held::open).collect();
    assert!(grandchildren.iter().all(Held::running));
    run.stdin
        .take()
        .expect("stdin")
        .write_all(b"go\r\n")
        .expect("let cmd exit");
    let out = run.wait_with_output().expect("zombiereap ends");
    assert_eq!(out.status.code(), Some(3), "the command's status");
    for g in &grandchildren {
        assert!(!g.running(), "the background ping outlived `run`");
    }
    let recs = lines(&out.stderr);
    let summary = recs.last().expect("summary");
    assert_eq!(summary["command"], "run");
    assert_eq!(summary["exit_status"], 3);
    assert!(
        summary["leftovers_killed"].as_u64().is_some_and(|n| n >= 1),
        "{summary}"
    );
    let killed: Vec<u64> = recs
        .iter()
        .filter(|r| r["type"] == "action")
        .filter_map(|r| r["pid"].as_u64())
        .collect();
    assert!(!killed.is_empty() && !killed.contains(&0), "{killed:?}");
}

#[test]
fn kill_tree_ends_the_whole_tree() {
    let (mut root, held_root, kids) = tree();
    let out = zombiereap()
        .args([
            "kill-tree",
            &root.id().to_string(),
            "--timeout",
            "1s",
            "--format",
            "jsonl",
        ])
        .output()
        .expect("run");
    let _ = root.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!held_root.running());
    assert!(kids.iter().all(|k| !k.running()));
    let recs = lines(&out.stdout);
    let summary = recs.last().expect("summary");
    assert_eq!(summary["processes"].as_u64(), Some(1 + kids.len() as u64));
    assert_eq!(summary["ok"], true);
    let fates: Vec<&str> = recs
        .iter()
        .filter(|r| r["type"] == "action")
        .filter_map(|r| r["fate"].as_str())
        .collect();
    assert!(
        fates.iter().all(|f| *f == "killed" || *f == "exited"),
        "{fates:?}"
    );
}

#[test]
fn kill_tree_dry_run_ends_nothing_and_bad_pids_are_refused() {
    let (mut root, held_root, kids) = tree();
    let out = zombiereap()
        .args([
            "kill-tree",
            &root.id().to_string(),
            "--dry-run",
            "--format",
            "jsonl",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(held_root.running() && kids.iter().all(Held::running));
    let planned = lines(&out.stdout)
        .iter()
        .filter(|r| r["type"] == "action" && r["fate"] == "planned")
        .count();
    assert_eq!(planned, 1 + kids.len());
    let _ = root.kill();
    let _ = root.wait();
    let missing = zombiereap()
        .args(["kill-tree", "2147483647"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    let me = zombiereap().args(["kill-tree", "4"]).output().expect("run");
    assert_eq!(me.status.code(), Some(2));
}
