//! The command-line surface every tool shares, held across the workspace: each reporting
//! command takes the common output options (`-f/--format`, `-o/--output`, `--summary-md`,
//! `-q/--quiet`), and each tool interrupted by SIGINT in its long-running mode ends with 130.
//!
//! Tools another change is still converting are listed in [`PENDING`], one place: their cases
//! run, say on stderr what is still missing, and pass; a listed case that already holds fails,
//! so the list cannot go stale. Enabling a tool is deleting its entry.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use serde_json::Value;
use soak_tests::tool;

/// (tool, aspect) cases not expected to hold yet: `help` (the output options on every reporting
/// command) or `sigint` (exit 130).
const PENDING: &[(&str, &str)] = &[];

/// Every reporting command of every tool: the tool and the subcommand (empty: the tool itself).
const REPORTING: &[(&str, &[&str])] = &[
    ("resmon", &[]),
    ("resanalyze", &[]),
    ("logscan", &[]),
    ("logrotate", &[]),
    ("zombiereap", &["scan"]),
    ("zombiereap", &["kill-tree"]),
    ("zombiereap", &["reap"]),
    ("zombiereap", &["run"]),
    ("orphan-cancel", &["reconcile"]),
    ("orphan-cancel", &["cancel"]),
    ("orphan-cancel", &["cancel-all"]),
    ("exchange-sim", &[]),
    ("seccheck", &["secrets"]),
    ("seccheck", &["deps"]),
    ("seccheck", &["ingest"]),
    ("seccheck", &["db", "update"]),
    ("seccheck", &["db", "status"]),
];
// `zombiereap run` takes them too, its stdout being the command's: its events and summary go
// to stderr or `-o`. Not a reporting command: `orphan-cancel dead-man` (a stream of events
// while it holds the switch).

/// The shared output options as `--help` shows them.
const OUTPUT_OPTIONS: [&str; 4] = [
    "-f, --format",
    "-o, --output",
    "--summary-md",
    "-q, --quiet",
];

/// Holds a case to its expectation: a pending case reports what is missing and passes, until it
/// holds; any other case must hold.
fn expect(tool: &str, aspect: &str, problems: Vec<String>) {
    let pending = PENDING.contains(&(tool, aspect));
    match (pending, problems.is_empty()) {
        (false, true) => {}
        (false, false) => panic!("{tool} ({aspect}): {}", problems.join("; ")),
        (true, false) => eprintln!(
            "PENDING {tool} ({aspect}), listed in PENDING until converted: {}",
            problems.join("; ")
        ),
        (true, true) => panic!(
            "{tool} ({aspect}) now holds: remove (\"{tool}\", \"{aspect}\") from PENDING in tests/cli_surface.rs"
        ),
    }
}

#[test]
fn every_reporting_command_takes_the_shared_output_options() {
    for tool_name in ["resmon", "resanalyze", "logscan", "logrotate", "zombiereap"]
        .into_iter()
        .chain(["orphan-cancel", "exchange-sim", "seccheck"])
    {
        let mut problems = Vec::new();
        for (_, sub) in REPORTING.iter().filter(|(t, _)| *t == tool_name) {
            let out = Command::new(tool(tool_name))
                .args(*sub)
                .arg("--help")
                .output()
                .expect("run --help");
            assert!(out.status.success(), "{tool_name} {sub:?} --help: {out:?}");
            let help = String::from_utf8_lossy(&out.stdout);
            let missing: Vec<&str> = OUTPUT_OPTIONS
                .into_iter()
                .filter(|o| !help.contains(o))
                .collect();
            if !missing.is_empty() {
                problems.push(format!("`{tool_name} {}` lacks {missing:?}", sub.join(" ")));
            }
        }
        expect(tool_name, "help", problems);
    }
}

/// A tool started for a case, killed (if still running) when the case ends. Its stdout and
/// stderr are read by threads, line by line, so it never blocks on a full pipe.
struct Running {
    child: Child,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
}

/// Sends the lines of `reader` until it ends.
fn lines_of(reader: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Running {
    fn start(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_STEP_SUMMARY")
            .spawn()
            .expect("spawn");
        let stdout = lines_of(child.stdout.take().expect("stdout"));
        let stderr = lines_of(child.stderr.take().expect("stderr"));
        Running {
            child,
            stdout,
            stderr,
        }
    }

    /// The next line on stdout (or stderr), as JSON; a tool silent for a minute fails the case
    /// rather than hanging it.
    fn line(&mut self, on_stderr: bool) -> Value {
        let rx = if on_stderr {
            &self.stderr
        } else {
            &self.stdout
        };
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("no first line from the tool ({e})"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Waits until the process catches SIGINT (its handler is installed: `SigCgt` in
    /// /proc/PID/status), or 10 s have passed (a tool that never installs one is then
    /// interrupted anyway, and dies of the signal).
    fn wait_for_sigint_handler(&self) {
        let status = format!("/proc/{}/status", self.child.id());
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let caught = std::fs::read_to_string(&status)
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("SigCgt:"))
                        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
                })
                .is_some_and(|mask| mask & (1 << (2 - 1)) != 0);
            if caught {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends SIGINT; the exit status, or a description of the death by a signal.
    fn interrupt(mut self) -> Result<i32, String> {
        self.wait_for_sigint_handler();
        self.signal_and_wait()
    }

    /// Sends SIGINT to a one-shot command that keeps the default action, as a filter should
    /// (it has nothing to finish: a shell seeing it die of SIGINT stops its script, which an
    /// `exit(130)` would not); the shell's status for that death is 130.
    fn interrupt_uncaught(mut self) -> Result<i32, String> {
        use std::os::unix::process::ExitStatusExt;
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = self.child.wait().expect("wait");
        match (status.code(), status.signal()) {
            (_, Some(2)) => Ok(130),
            (Some(code), _) => Ok(code),
            (None, other) => Err(format!("died of signal {other:?}, not SIGINT")),
        }
    }

    fn signal_and_wait(&mut self) -> Result<i32, String> {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(sent.success());
        let status = self.child.wait().expect("wait");
        let tail: Vec<String> = self
            .stdout
            .try_iter()
            .chain(self.stderr.try_iter())
            .collect();
        let tail = tail.join("\n");
        status
            .code()
            .ok_or_else(|| format!("died of a signal ({status}) instead of exiting; {tail}"))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Holds the `sigint` case of `tool`: exit status 130.
fn expect_130(tool_name: &str, status: Result<i32, String>) {
    let problems = match status {
        Ok(130) => Vec::new(),
        Ok(code) => vec![format!("exit status {code} after SIGINT, not 130")],
        Err(e) => vec![e],
    };
    expect(tool_name, "sigint", problems);
}

/// A resmon recording of a few samples, for resanalyze to follow.
fn recording(path: &Path) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/resanalyze/seed_001_sample.jsonl");
    let text = std::fs::read_to_string(fixture).expect("fixture");
    let first: Vec<&str> = text.lines().take(5).collect();
    std::fs::write(path, first.join("\n") + "\n").expect("write");
}

#[test]
fn resmon_monitoring_a_process_exits_130_on_sigint() {
    let mut sleeper = Command::new("sleep").arg("30").spawn().expect("sleep");
    let mut run = Running::start(
        Command::new(tool("resmon"))
            .args(["--interval", "100ms", "--pid"])
            .arg(sleeper.id().to_string()),
    );
    // resmon's `start` event, then the samples.
    while run.line(false)["type"] != "sample" {}
    let status = run.interrupt();
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    expect_130("resmon", status);
}

#[test]
fn resanalyze_following_a_recording_exits_130_on_sigint() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("resources.jsonl");
    recording(&file);
    let mut run = Running::start(
        Command::new(tool("resanalyze"))
            .args([
                "--follow-estimates",
                "--follow-every",
                "1",
                "--poll",
                "50ms",
            ])
            .arg("--follow")
            .arg(&file),
    );
    assert_eq!(run.line(false)["event"], "estimate");
    expect_130("resanalyze", run.interrupt());
}

#[test]
fn logscan_following_a_log_exits_130_on_sigint() {
    let dir = tempfile::tempdir().expect("tmp");
    let file = dir.path().join("service.log");
    std::fs::write(&file, "").expect("write");
    let run = Running::start(
        Command::new(tool("logscan"))
            .args(["--format", "jsonl", "--poll", "50ms", "--follow"])
            .arg(&file),
    );
    // `--follow` reads what is written after it started (as `tail -f`): an error line is
    // appended until its event shows that the follow is running.
    let mut log = std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .expect("open");
    let event = (0..300).find_map(|_| {
        writeln!(
            log,
            "2025-10-01 12:00:00,123 ERROR Traceback (most recent call last):"
        )
        .expect("append");
        run.stdout.recv_timeout(Duration::from_millis(200)).ok()
    });
    let event: Value =
        serde_json::from_str(&event.expect("an event within a minute")).expect("json");
    assert_eq!(event["type"], "event");
    expect_130("logscan", run.interrupt());
}

#[test]
fn logrotate_watching_a_directory_exits_130_on_sigint() {
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("step.log"), "a line\n").expect("write");
    let run = Running::start(
        Command::new(tool("logrotate"))
            .args(["--watch", "1s", "--format", "jsonl"])
            .arg(dir.path()),
    );
    expect_130("logrotate", run.interrupt());
}

#[test]
fn zombiereap_running_a_command_exits_130_on_sigint() {
    let mut run =
        Running::start(Command::new(tool("zombiereap")).args(["run", "--", "sleep", "30"]));
    // The first event (on stderr, stdout being the command's) says the command has started.
    assert_eq!(run.line(true)["event"], "start");
    expect_130("zombiereap", run.interrupt());
}

/// exchange-sim with a Kraken key of the account (the variables orphan-cancel reads too).
fn simulator() -> (Running, String) {
    let mut sim = Running::start(
        Command::new(tool("exchange-sim"))
            .env("KRAKEN_API_KEY", "cli-surface-key")
            .env("KRAKEN_API_SECRET", "c2VjcmV0"),
    );
    let first = sim.line(false);
    assert_eq!(first["event"], "listening");
    let url = first["url"].as_str().expect("url").to_string();
    (sim, url)
}

#[test]
fn exchange_sim_serving_exits_130_on_sigint() {
    let (sim, _) = simulator();
    expect_130("exchange-sim", sim.interrupt());
}

#[test]
fn orphan_cancel_holding_the_dead_man_switch_exits_130_on_sigint() {
    let (_sim, url) = simulator();
    let mut run = Running::start(
        Command::new(tool("orphan-cancel"))
            .args([
                "dead-man",
                "--exchange",
                "kraken",
                "--timeout",
                "60s",
                "--every",
                "1s",
            ])
            .args(["--base-url", &url])
            .env("KRAKEN_API_KEY", "cli-surface-key")
            .env("KRAKEN_API_SECRET", "c2VjcmV0"),
    );
    assert_eq!(run.line(false)["event"], "armed");
    expect_130("orphan-cancel", run.interrupt());
}

#[test]
fn seccheck_reading_a_stdin_pipe_exits_130_on_sigint() {
    let mut cmd = Command::new(tool("seccheck"));
    cmd.args(["secrets", "-"]).stdin(Stdio::piped());
    let mut run = Running::start(&mut cmd);
    // The pipe stays open (the writer is held here): seccheck waits for more input.
    let mut stdin = run.child.stdin.take().expect("stdin");
    stdin.write_all(b"a line without secrets\n").expect("write");
    stdin.flush().expect("flush");
    // Once the line is read (the reader has answered nothing, it waits), SIGINT ends it.
    std::thread::sleep(Duration::from_millis(300));
    let status = run.interrupt_uncaught();
    drop(stdin);
    expect_130("seccheck", status);
}
