//! `zombiereap reap` against real parents holding real zombies. This test process makes itself
//! a child subreaper, so zombies whose parent is terminated are re-parented to it (not to a
//! PID 1 that may not reap in a container) and it reaps them, as init would.
#![cfg(target_os = "linux")]

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use serde_json::Value;
use soak_core::proc::{ProcessTable, read_stat};

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A python parent with three zombie children; `reaps_on_sigchld` installs a reaping SIGCHLD
/// handler only after they died, so only a later SIGCHLD gets them reaped.
fn parent_with_zombies(reaps_on_sigchld: bool) -> (Child, Vec<i32>) {
    let script = format!(
        "import os, signal, time\n\
for _ in range(3):\n    if os.fork() == 0: os._exit(0)\n\
time.sleep(0.3)\n\
def reap(*_):\n    while True:\n        try: pid, _ = os.waitpid(-1, os.WNOHANG)\n        except ChildProcessError: return\n        if pid == 0: return\n\
if {reaps_on_sigchld}: signal.signal(signal.SIGCHLD, reap)\n\
print('ready', flush=True)\n\
while True: time.sleep(0.1)\n",
        reaps_on_sigchld = if reaps_on_sigchld { "True" } else { "False" }
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn parent");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("ready");
    let ppid = child.id() as i32;
    let zombies = wait_for("three zombies", || {
        let t = ProcessTable::snapshot().ok()?;
        let z: Vec<i32> = t
            .children_of(ppid)
            .iter()
            .copied()
            .filter(|c| t.get(*c).is_some_and(|s| s.is_zombie()))
            .collect();
        (z.len() == 3).then_some(z)
    });
    (child, zombies)
}

fn reap(args: &[&str]) -> (Vec<Value>, i32) {
    let out = Command::new(cargo_bin("zombiereap"))
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .arg("reap")
        .args(args)
        .args(["--format", "jsonl"])
        .output()
        .expect("run");
    let recs = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    (recs, out.status.code().expect("code"))
}

#[test]
fn sigchld_gets_a_handler_parent_to_reap_and_kill_parents_handles_one_that_never_does() {
    nix::sys::prctl::set_child_subreaper(true).expect("subreaper");

    // 1. A parent that reaps on SIGCHLD: one signal is enough; nothing is killed.
    let (mut parent, zombies) = parent_with_zombies(true);
    let tree = parent.id().to_string();
    let (dry, code) = reap(&["--tree", &tree, "--dry-run"]);
    // Nothing was signalled, so the zombies are still there: `ok: false` and exit 1 (issue 16).
    assert_eq!(code, 1);
    assert_eq!(dry.last().expect("summary")["ok"], false);
    assert!(
        dry.iter()
            .any(|r| r["action"] == "sigchld" && r["dry_run"] == true),
        "{dry:?}"
    );
    assert!(
        zombies
            .iter()
            .all(|z| read_stat(*z).is_ok_and(|s| s.is_zombie())),
        "--dry-run changes nothing"
    );
    let (recs, code) = reap(&["--tree", &tree]);
    let summary = recs.last().expect("summary");
    assert_eq!(code, 0, "{recs:?}");
    assert_eq!(
        (
            summary["zombies_before"].as_u64(),
            summary["zombies_after"].as_u64()
        ),
        (Some(3), Some(0))
    );
    assert_eq!(summary["parents_signalled"], 1);
    assert_eq!(summary["parents_killed"], 0);
    assert!(
        read_stat(parent.id() as i32).is_ok_and(|s| !s.is_zombie()),
        "the parent lives on"
    );
    parent.kill().expect("kill");
    parent.wait().expect("wait");

    // 2. A parent that never reaps: SIGCHLD does nothing; --kill-parents terminates it, its
    //    zombies are re-parented to this subreaper, which reaps them.
    let (mut parent, zombies) = parent_with_zombies(false);
    let reaper_zombies = zombies.clone();
    let reaper = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut left = reaper_zombies;
        while !left.is_empty() && Instant::now() < deadline {
            left.retain(|z| {
                let reaped = waitpid(Pid::from_raw(*z), Some(WaitPidFlag::WNOHANG))
                    .is_ok_and(|s| s.pid().is_some());
                !reaped
            });
            std::thread::sleep(Duration::from_millis(10));
        }
        left.is_empty()
    });
    let tree = parent.id().to_string();
    let (recs, code) = reap(&["--tree", &tree, "--grace", "1s"]);
    assert_eq!(code, 1, "SIGCHLD alone leaves them: {recs:?}");
    let (recs, code) = reap(&["--tree", &tree, "--grace", "1s", "--kill-parents"]);
    let _ = parent.wait();
    assert_eq!(code, 0, "{recs:?}");
    let killed = recs
        .iter()
        .find(|r| r["action"] == "killed_parent")
        .expect("a killed parent");
    assert_eq!(killed["pid"].as_i64(), Some(i64::from(parent.id())));
    assert_eq!(killed["zombies_held"], 3);
    assert!(
        reaper.join().expect("reaper"),
        "the adopted zombies were reaped"
    );
    assert!(zombies.iter().all(|z| read_stat(*z).is_err()));
}
