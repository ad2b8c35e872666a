//! zombiereap against real processes: real zombies, real trees, real signals.
#![cfg(target_os = "linux")]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::cargo::cargo_bin;
use serde_json::Value;
use soak_core::proc::read_stat;

fn zombiereap() -> Command {
    let mut c = Command::new(cargo_bin("zombiereap"));
    // A test's runs stay out of the CI job's step summary and annotations.
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

/// zombiereap with its JSONL events (stderr) discarded, for tests that only need the status.
fn quiet() -> Command {
    let mut c = zombiereap();
    c.stderr(Stdio::null());
    c
}

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

/// Alive and not a zombie.
fn running(pid: i32) -> bool {
    read_stat(pid).is_ok_and(|s| !s.is_zombie())
}

fn jsonl(out: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn pids_in(file: &Path, n: usize) -> Vec<i32> {
    wait_for("the pid file", || {
        let text = std::fs::read_to_string(file).ok()?;
        let pids: Vec<i32> = text
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect();
        (pids.len() >= n).then_some(pids)
    })
}

fn python(script: &str) -> Command {
    let mut c = Command::new("python3");
    c.args(["-c", script]);
    c
}

#[test]
fn scan_finds_exactly_the_zombies_of_a_parent_that_never_waits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    let mut parent: Child = python(&format!(
        "import os,time\nfor _ in range(3):\n    if os.fork() == 0: os._exit(0)\nopen({:?},'w').write('x')\ntime.sleep(60)",
        ready.display().to_string()
    ))
    .spawn()
    .expect("spawn parent");
    let ppid = parent.id() as i32;
    wait_for("the children to die", || {
        let table = soak_core::proc::ProcessTable::snapshot().ok()?;
        let z = table
            .children_of(ppid)
            .iter()
            .filter(|c| table.get(**c).is_some_and(|s| s.is_zombie()))
            .count();
        (ready.exists() && z == 3).then_some(())
    });
    let out = zombiereap()
        .args(["scan", "--tree", &ppid.to_string(), "--format", "jsonl"])
        .output()
        .expect("run");
    parent.kill().expect("kill");
    parent.wait().expect("wait");
    assert_eq!(out.status.code(), Some(1));
    let recs = jsonl(&out.stdout);
    let findings: Vec<&Value> = recs.iter().filter(|r| r["type"] == "finding").collect();
    assert_eq!(findings.len(), 3, "{recs:?}");
    for f in &findings {
        assert_eq!(f["kind"], "zombie");
        assert_eq!(f["ppid"], ppid);
        assert_eq!(f["parent_name"], "python3");
        assert!(
            f["parent_cmdline"]
                .as_str()
                .is_some_and(|c| c.contains("python3") && c.contains(" -c "))
        );
    }
    let summary = recs.last().expect("summary");
    assert_eq!(
        (summary["type"].as_str(), summary["zombie_count"].as_u64()),
        (Some("summary"), Some(3))
    );

    // A tree without zombies passes; a missing PID is named with exit 2.
    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let clean = zombiereap()
        .args([
            "scan",
            "--tree",
            &sleeper.id().to_string(),
            "--format",
            "jsonl",
        ])
        .output()
        .expect("run");
    sleeper.kill().expect("kill");
    sleeper.wait().expect("wait");
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let missing = zombiereap()
        .args(["scan", "--tree", "999999999"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("999999999"));
}

/// root → A (ignores SIGTERM), root → B → C; C double-forks D when asked to stop.
const TREE: &str = r#"
import os, signal, sys, time
pids = sys.argv[1]
def note(): open(pids, 'a').write(f"{os.getpid()}\n")
note()
if os.fork() == 0:                      # A: ignores SIGTERM
    signal.signal(signal.SIGTERM, signal.SIG_IGN); note()
    open(pids + '.a', 'w').write(f"{os.getpid()}\n"); time.sleep(300); os._exit(0)
if os.fork() == 0:                      # B
    note()
    if os.fork() == 0:                  # C: escapes by double-forking on SIGTERM
        def escape(*_):
            if os.fork() == 0:          # D
                signal.signal(signal.SIGTERM, signal.SIG_DFL); note(); time.sleep(300); os._exit(0)
            time.sleep(0.05); os._exit(0)
        signal.signal(signal.SIGTERM, escape); note()
        while True: time.sleep(1)
    os.wait(); os._exit(0)
while True: time.sleep(1)
"#;

#[test]
fn kill_tree_ends_every_member_and_forces_the_stubborn_one() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("pids");
    let mut root = python(TREE)
        .arg(&pidfile)
        .process_group(0)
        .spawn()
        .expect("spawn tree");
    let pids = pids_in(&pidfile, 4);
    let rootpid = root.id() as i32;

    let dry = zombiereap()
        .args([
            "kill-tree",
            &rootpid.to_string(),
            "--dry-run",
            "--format",
            "jsonl",
        ])
        .output()
        .expect("dry run");
    assert_eq!(dry.status.code(), Some(0));
    let planned: Vec<i64> = jsonl(&dry.stdout)
        .iter()
        .filter(|r| r["type"] == "action")
        .filter_map(|r| r["pid"].as_i64())
        .collect();
    assert_eq!(planned.len(), 4, "{planned:?}");
    assert!(
        pids.iter().all(|p| running(*p)),
        "--dry-run signals nothing"
    );

    let out = zombiereap()
        .args([
            "kill-tree",
            &rootpid.to_string(),
            "--timeout",
            "2s",
            "--format",
            "jsonl",
        ])
        .output()
        .expect("kill-tree");
    let _ = root.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = jsonl(&out.stdout);
    let fate = |pid: i32| -> String {
        recs.iter()
            .find(|r| r["pid"] == pid)
            .and_then(|r| r["fate"].as_str())
            .unwrap_or("missing")
            .to_string()
    };
    // A and B note their PIDs concurrently: A's own file says which one it is.
    let a = pids_in(&dir.path().join("pids.a"), 1)[0];
    assert_eq!(fate(a), "killed", "A ignores SIGTERM: {recs:?}");
    assert_eq!(fate(rootpid), "exited");
    let all = pids_in(&pidfile, 5);
    for p in &all {
        wait_for("every member gone", || (!running(*p)).then_some(()));
    }
    let summary = recs.last().expect("summary");
    assert_eq!(summary["killed"], 1);
    assert!(
        summary["processes"].as_u64().expect("n") >= 5,
        "D was caught too: {summary}"
    );

    let missing = zombiereap()
        .args(["kill-tree", "999999999"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("PID 999999999"));
}

#[test]
fn run_leaves_no_daemonized_grandchild_behind() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("daemon.pid");
    let events = dir.path().join("events.jsonl");
    let script = format!("(sleep 300 & echo $! > {}) ; exit 0", pidfile.display());
    let status = quiet()
        .args(["run", "--grace", "2s", "--events"])
        .arg(&events)
        .args(["--", "sh", "-c", &script])
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(0));
    let daemon = pids_in(&pidfile, 1)[0];
    assert!(
        read_stat(daemon).is_err() || !running(daemon),
        "the daemonized sleep must be gone"
    );
    let recs = jsonl(&std::fs::read(&events).expect("events"));
    let summary = recs.last().expect("summary");
    assert_eq!(
        (
            summary["leftovers_killed"].as_u64(),
            summary["exit_status"].as_u64()
        ),
        (Some(1), Some(0))
    );
}

#[test]
fn run_passes_exit_status_and_signal_deaths_through() {
    let code = quiet()
        .args(["run", "--", "sh", "-c", "exit 7"])
        .status()
        .expect("run");
    assert_eq!(code.code(), Some(7));
    let killed = quiet()
        .args(["run", "--", "sh", "-c", "kill -KILL $$"])
        .status()
        .expect("run");
    assert_eq!(killed.code(), Some(137));
    let missing = zombiereap()
        .args(["run", "--", "/nonexistent/cmd"])
        .output()
        .expect("run");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/cmd"));
}

#[test]
fn run_timeout_kills_a_command_that_ignores_sigterm_after_the_grace() {
    let out = zombiereap()
        .args(["run", "--timeout", "500ms", "--grace", "500ms", "--"])
        .args([
            "python3",
            "-c",
            "import signal,time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ntime.sleep(300)",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(137));
    let recs = jsonl(&out.stderr);
    let summary = recs.last().expect("summary");
    assert_eq!(summary["timed_out"], true);
    assert!(recs.iter().any(|r| r["fate"] == "killed"), "{recs:?}");
}

#[test]
fn run_forwards_sigterm_to_the_command() {
    let mut child = zombiereap()
        .args(["run", "--", "python3", "-c", "import signal,sys,time\nsignal.signal(signal.SIGTERM, lambda *a: sys.exit(42))\nprint('ready', flush=True)\ntime.sleep(300)"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("read");
    assert_eq!(line.trim(), "ready");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert_eq!(child.wait().expect("wait").code(), Some(42));
}

/// The summary of `run` whose command was stopped by a forwarded SIGTERM: `ok` when it
/// ended by that signal (143) or cleanly, not when it failed on its way out.
#[test]
fn a_command_ended_by_the_forwarded_sigterm_is_a_clean_stop() {
    for (handler, status, ok) in [
        ("pass", 143, true),
        (
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))",
            0,
            true,
        ),
        (
            "signal.signal(signal.SIGTERM, lambda *a: sys.exit(3))",
            3,
            false,
        ),
    ] {
        let events = tempfile::NamedTempFile::new().expect("tmp");
        let script = format!(
            "import signal,sys,time\n{handler}\nprint('ready', flush=True)\ntime.sleep(300)"
        );
        let mut child = zombiereap()
            .args(["run", "--events"])
            .arg(events.path())
            .args(["--", "python3", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("read");
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill");
        assert_eq!(
            child.wait().expect("wait").code(),
            Some(status),
            "{handler}"
        );
        let recs = jsonl(&std::fs::read(events.path()).expect("events"));
        let summary = recs.last().expect("summary");
        assert_eq!(summary["ok"], ok, "{handler}: {summary}");
        assert_eq!(summary["stop_requested"], 15, "{handler}");
    }
}

#[test]
fn compared_with_tini_same_statuses_but_no_leftovers() {
    let Ok(tini) = which("tini") else {
        eprintln!("SKIP: tini is not on PATH (Debian package tini; .ci/run installs it)");
        return;
    };
    for (script, want) in [("exit 3", 3), ("kill -TERM $$", 143)] {
        let t = Command::new(&tini)
            .args(["-s", "--", "sh", "-c", script])
            .status()
            .expect("tini");
        let z = quiet()
            .args(["run", "--", "sh", "-c", script])
            .status()
            .expect("zombiereap");
        assert_eq!((t.code(), z.code()), (Some(want), Some(want)), "{script}");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("d.pid");
    let script = format!("(sleep 300 & echo $! > {}) ; exit 0", pidfile.display());
    Command::new(&tini)
        .args(["-s", "--", "sh", "-c", &script])
        .status()
        .expect("tini");
    let daemon = pids_in(&pidfile, 1)[0];
    let left_by_tini = running(daemon);
    let _ = Command::new("kill").arg(daemon.to_string()).status();
    std::fs::remove_file(&pidfile).expect("rm");
    quiet()
        .args(["run", "--grace", "1s", "--", "sh", "-c", &script])
        .status()
        .expect("run");
    let daemon = pids_in(&pidfile, 1)[0];
    assert!(
        left_by_tini,
        "tini exits leaving the daemonized child running"
    );
    assert!(!running(daemon), "zombiereap run kills it");
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|c| c.is_file())
        })
        .ok_or(())
}

#[test]
fn kill_tree_takes_grace_and_writes_its_report_and_step_summary_where_told() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut sleeper = Command::new("sleep").arg("300").spawn().expect("sleep");
    let pid = sleeper.id().to_string();
    let (report, summary) = (dir.path().join("kill.md"), dir.path().join("summary.md"));
    let out = zombiereap()
        .args(["kill-tree", &pid, "--grace", "5s", "-f", "markdown", "-q"])
        .arg("-o")
        .arg(&report)
        .arg("--summary-md")
        .arg(&summary)
        .output()
        .expect("kill-tree");
    let _ = sleeper.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "-q prints nothing on stdout");
    assert!(!running(sleeper.id() as i32));
    let text = std::fs::read_to_string(&report).expect("report");
    assert!(
        text.starts_with("| pid | ppid | name | fate | signals | exit_after_s |"),
        "{text}"
    );
    assert!(
        text.contains(&format!("| {pid} |")) && text.contains("| exited |"),
        "{text}"
    );
    let md = std::fs::read_to_string(&summary).expect("step summary");
    assert!(md.starts_with("## zombiereap kill-tree\n\n| pid |"), "{md}");

    // The report file is made anew: a symbolic link planted at its name is not written through.
    let target = dir.path().join("elsewhere");
    std::fs::write(&target, "keep").expect("write");
    let link = dir.path().join("scan.jsonl");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let mut clean = Command::new("sleep").arg("30").spawn().expect("sleep");
    let scan = zombiereap()
        .args(["scan", "--tree", &clean.id().to_string(), "-o"])
        .arg(&link)
        .output()
        .expect("scan");
    clean.kill().expect("kill");
    clean.wait().expect("wait");
    assert_eq!(scan.status.code(), Some(0), "{scan:?}");
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");
    let written = std::fs::read_to_string(&link).expect("the new file");
    assert!(written.contains(r#""zombie_count":0"#), "{written}");
}

/// True once `pid` catches SIGINT (its handler is installed: `SigCgt` in /proc/PID/status).
fn catches_sigint(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("SigCgt:"))
                .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        })
        .is_some_and(|mask| mask & (1 << (2 - 1)) != 0)
}

#[test]
fn sigint_during_kill_tree_finishes_the_kill_then_exits_130() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ready = dir.path().join("ready");
    // A target that ignores SIGTERM: kill-tree waits out --grace, then SIGKILLs it.
    let mut target = python(&format!(
        "import signal,time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nopen({:?},'w').write('x')\ntime.sleep(300)",
        ready.display().to_string()
    ))
    .spawn()
    .expect("spawn target");
    wait_for("the target to ignore SIGTERM", || {
        ready.exists().then_some(())
    });
    let tpid = target.id() as i32;
    let reaper = zombiereap()
        .args([
            "kill-tree",
            &tpid.to_string(),
            "--grace",
            "2s",
            "-f",
            "jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kill-tree");
    wait_for("zombiereap to catch SIGINT", || {
        catches_sigint(reaper.id()).then_some(())
    });
    let sent = Command::new("kill")
        .args(["-INT", &reaper.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let out = reaper.wait_with_output().expect("wait");
    let _ = target.wait();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The kill was not abandoned half-way: the target, frozen and asked, was killed.
    assert!(!running(tpid));
    let recs = jsonl(&out.stdout);
    assert!(
        recs.iter()
            .any(|r| r["pid"] == tpid && r["fate"] == "killed"),
        "{recs:?}"
    );
    assert_eq!(
        recs.last().map(|r| &r["type"]),
        Some(&Value::from("summary"))
    );
}

/// `run`'s shared output options: stdout stays the command's whatever is asked.
fn run_output(args: &[&str], script: &str) -> std::process::Output {
    zombiereap()
        .arg("run")
        .args(args)
        .args(["--", "sh", "-c", script])
        .output()
        .expect("run")
}

#[test]
fn run_streams_jsonl_events_to_output_and_events_stays_its_alias() {
    let dir = tempfile::tempdir().expect("tempdir");
    let script = "(sleep 300 &) ; echo from-the-command";
    for flag in ["-o", "--events"] {
        let file = dir.path().join(format!("events{flag}.jsonl"));
        let out = zombiereap()
            .args(["run", "--grace", "1s", flag])
            .arg(&file)
            .args(["--", "sh", "-c", script])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        assert_eq!(out.stdout, b"from-the-command\n", "{flag}");
        assert!(out.stderr.is_empty(), "{flag}: {out:?}");
        let recs = jsonl(&std::fs::read(&file).expect("events"));
        let kinds: Vec<&str> = recs
            .iter()
            .map(|r| r["event"].as_str().or(r["type"].as_str()).unwrap_or(""))
            .collect();
        assert_eq!(kinds.first(), Some(&"start"), "{flag}: {kinds:?}");
        assert!(kinds.contains(&"target_exit"), "{flag}: {kinds:?}");
        assert!(
            kinds.contains(&"action"),
            "the orphaned sleep killed: {kinds:?}"
        );
        assert_eq!(kinds.last(), Some(&"summary"), "{flag}: {kinds:?}");
        assert_eq!(recs.last().expect("summary")["leftovers_killed"], 1);
    }
    // The stream appends: a second run adds its own lines after the first's.
    let file = dir.path().join("events-o.jsonl");
    let before = jsonl(&std::fs::read(&file).expect("events")).len();
    assert_eq!(
        run_output(&["-o", file.to_str().expect("utf8")], "true")
            .status
            .code(),
        Some(0)
    );
    let after = jsonl(&std::fs::read(&file).expect("events"));
    assert_eq!(
        after.len(),
        before + 3,
        "start, target_exit, summary appended"
    );
    let both = run_output(&["-o", "a.jsonl", "--events", "b.jsonl"], "true");
    assert_eq!(both.status.code(), Some(2), "{both:?}");
}

#[test]
fn run_writes_a_json_document_and_the_summary_md_at_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let doc = dir.path().join("run.json");
    let md = dir.path().join("summary.md");
    let out = zombiereap()
        .args(["run", "-f", "json", "-o"])
        .arg(&doc)
        .arg("--summary-md")
        .arg(&md)
        .args(["--", "sh", "-c", "echo out; exit 3"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "the command's status: {out:?}");
    assert_eq!(out.stdout, b"out\n");
    assert!(out.stderr.is_empty(), "{out:?}");
    let all: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&doc).expect("document")).expect("one JSON array");
    assert_eq!(all[0]["event"], "start");
    let summary = all.last().expect("summary");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["exit_status"], 3);
    assert_eq!(summary["ok"], false);
    let md = std::fs::read_to_string(&md).expect("summary md");
    assert!(
        md.starts_with("## zombiereap run\n\n| type | event |"),
        "{md}"
    );
    assert!(md.contains("exit_status=3"), "{md}");
}

#[test]
fn run_tables_go_to_stderr_and_quiet_silences_them() {
    let table = run_output(&["-f", "table"], "echo hi; exit 5");
    assert_eq!(table.status.code(), Some(5));
    assert_eq!(table.stdout, b"hi\n", "stdout is the command's alone");
    let err = String::from_utf8_lossy(&table.stderr);
    assert!(err.starts_with("type "), "{err}");
    assert!(err.contains("target_exit"), "{err}");
    assert!(err.contains("exit_status=5"), "{err}");

    // Quiet under GitHub Actions: no events, the annotation and the step summary only.
    let dir = tempfile::tempdir().expect("tempdir");
    let step = dir.path().join("step.md");
    let quiet = zombiereap()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &step)
        .args(["run", "-q", "--", "sh", "-c", "echo hi; exit 5"])
        .output()
        .expect("run");
    assert_eq!(quiet.status.code(), Some(5));
    assert_eq!(quiet.stdout, b"hi\n");
    let err = String::from_utf8_lossy(&quiet.stderr);
    assert!(err.starts_with("::error"), "{err}");
    assert!(err.contains("the command exited with status 5"), "{err}");
    assert!(!err.contains("\"type\""), "no events: {err}");
    let md = std::fs::read_to_string(&step).expect("step summary");
    assert!(md.contains("## zombiereap run"), "{md}");
}

#[test]
fn run_refuses_sarif_before_starting_the_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("started");
    let out = run_output(&["-f", "sarif"], &format!("touch {}", marker.display()));
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--format sarif"));
    assert!(!marker.exists(), "the command never ran");
}
