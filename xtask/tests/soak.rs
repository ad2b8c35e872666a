//! `cargo xtask soak --demo` end to end, with the debug binaries `cargo test --workspace` built:
//! a clean run passes every row and notifies a loopback receiver; each fault fails its own row;
//! a service killed by SIGKILL and a Ctrl-C still give a complete verdict; nothing is left
//! running afterwards.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Where `cargo test` put the workspace's binaries (next to this test's `deps/`).
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("profile dir")
        .to_path_buf();
    for tool in [
        "seccheck",
        "resmon",
        "resanalyze",
        "logscan",
        "zombiereap",
        "orphan-cancel",
        "exchange-sim",
        "soak-demo",
    ] {
        assert!(
            dir.join(tool).is_file(),
            "{tool} is not built in {}: run `cargo test --workspace`",
            dir.display()
        );
    }
    dir
}

fn soak(out: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(["soak", "--demo", "--fault-after", "4s", "--bin-dir"])
        .arg(bin_dir())
        .arg("--out")
        .arg(out)
        .args(extra)
        .env_remove("GITHUB_STEP_SUMMARY")
        .stdin(Stdio::null());
    c
}

fn run_dir(out: &Path) -> PathBuf {
    std::fs::read_dir(out)
        .expect("out dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("run-"))
        })
        .expect("a run directory")
}

fn summary(out: &Path) -> Value {
    let text = std::fs::read_to_string(run_dir(out).join("summary.json")).expect("summary.json");
    serde_json::from_str(&text).expect("json")
}

fn failing(s: &Value) -> Vec<String> {
    s["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["status"] == "fail")
        .map(|r| r["metric"].as_str().unwrap_or("").to_string())
        .collect()
}

/// Processes whose command line mentions `needle` (the run directory), other than us.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(Result::ok)
    {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let state = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit(')')
            .next()
            .is_some_and(|r| r.trim_start().starts_with('Z'));
        if cmd.contains(needle) && !zombie {
            found.push(format!("{pid}: {cmd}"));
        }
    }
    found
}

/// A loopback HTTP receiver for one request; its body arrives on the channel.
fn receiver() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            let mut reader = BufReader::new(stream);
            let mut len = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; len.min(1 << 20)];
            let _ = reader.read_exact(&mut body);
            let _ = reader
                .get_mut()
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            let _ = tx.send(String::from_utf8_lossy(&body).into_owned());
        }
    });
    (url, rx)
}

#[test]
fn a_clean_demo_passes_every_row_notifies_and_leaves_nothing_running() {
    let out = tempfile::tempdir().expect("tmp");
    let (url, rx) = receiver();
    let status = soak(out.path(), &["--duration", "20s", "--notify", &url])
        .status()
        .expect("run");
    let s = summary(out.path());
    assert_eq!(failing(&s), Vec::<String>::new(), "{s:#}");
    assert!(status.success());
    let dir = run_dir(out.path());
    for f in [
        "summary.md",
        "summary.txt",
        "service.log",
        "resources.jsonl",
        "resources.svg",
        "orders.jsonl",
        "logscan.jsonl",
        "zombiereap.jsonl",
    ] {
        let gz = dir.join(format!("{f}.gz"));
        assert!(dir.join(f).is_file() || gz.is_file(), "{f} missing");
    }
    let body: Value =
        serde_json::from_str(&rx.recv_timeout(Duration::from_secs(10)).expect("notified"))
            .expect("json");
    assert_eq!(body["ok"], true);
    assert!(
        body["text"]
            .as_str()
            .expect("text")
            .contains("verdict: PASS")
    );
    assert_eq!(
        processes_mentioning(&dir.display().to_string()),
        Vec::<String>::new()
    );
}

#[test]
fn each_fault_fails_its_own_row() {
    let cases: [(&str, &[&str]); 6] = [
        ("leak", &["Memory growth"]),
        ("zombies", &["Zombie processes"]),
        ("orphans", &["Orphan orders"]),
        ("reconnect-storm", &["WS reconnections"]),
        ("outage", &["Availability"]),
        ("secret-in-log", &["Leaked secrets"]),
    ];
    let mut wrong = Vec::new();
    for (fault, rows) in cases {
        let out = tempfile::tempdir().expect("tmp");
        let status = soak(out.path(), &["--duration", "20s", "--demo-faults", fault])
            .status()
            .expect("run");
        let got = failing(&summary(out.path()));
        if got != rows || status.code() != Some(1) {
            wrong.push(format!(
                "{fault}: failed rows {got:?}, exit {:?}",
                status.code()
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_crash_and_a_hang_stop_the_run_early_with_their_rows() {
    for (fault, row) in [("crash", "Crashes"), ("hang", "Heartbeat gap (hang)")] {
        let out = tempfile::tempdir().expect("tmp");
        let status = soak(
            out.path(),
            &[
                "--duration",
                "60s",
                "--demo-faults",
                fault,
                "--max-heartbeat-gap",
                "3s",
            ],
        )
        .status()
        .expect("run");
        assert_eq!(status.code(), Some(1));
        let s = summary(out.path());
        let got = failing(&s);
        assert!(got.contains(&row.to_string()), "{fault}: {got:?}");
        assert!(
            got.contains(&"Duration".to_string()),
            "{fault} ended the run early: {got:?}"
        );
        assert_eq!(
            processes_mentioning(&run_dir(out.path()).display().to_string()),
            Vec::<String>::new()
        );
    }
}

fn wait_for_samples(out: &Path, n: usize) -> PathBuf {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(dir) = std::fs::read_dir(out)
            .ok()
            .and_then(|mut d| d.next())
            .and_then(Result::ok)
            .map(|e| e.path())
        {
            let samples = std::fs::read_to_string(dir.join("resources.jsonl"))
                .unwrap_or_default()
                .matches("\"type\":\"sample\"")
                .count();
            if samples >= n {
                return dir;
            }
        }
        assert!(Instant::now() < deadline, "no samples");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A 90 s demo soak in the background, once resmon has written five samples.
fn start_long_soak(out: &Path) -> (std::process::Child, PathBuf) {
    let child = soak(out, &["--duration", "90s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    (child, wait_for_samples(out, 5))
}

#[test]
fn a_service_killed_by_sigkill_still_gets_a_complete_verdict() {
    let out = tempfile::tempdir().expect("tmp");
    let (mut child, dir) = start_long_soak(out.path());
    let demo: Vec<String> = processes_mentioning(&dir.display().to_string())
        .into_iter()
        .filter(|p| p.contains("soak-demo --heartbeat"))
        .filter(|p| !p.contains("zombiereap"))
        .collect();
    let pid = demo
        .first()
        .and_then(|p| p.split(':').next())
        .expect("the demo service");
    Command::new("kill")
        .args(["-KILL", pid])
        .status()
        .expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(1));
    let s = summary(out.path());
    assert_eq!(
        s["rows"].as_array().map(Vec::len),
        Some(12),
        "a complete table"
    );
    let got = failing(&s);
    assert!(
        got.contains(&"Crashes".to_string()) && got.contains(&"Duration".to_string()),
        "{got:?}"
    );
    assert_eq!(
        processes_mentioning(&dir.display().to_string()),
        Vec::<String>::new()
    );
}

#[test]
fn ctrl_c_still_produces_the_summary() {
    let out = tempfile::tempdir().expect("tmp");
    let (mut child, dir) = start_long_soak(out.path());
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(1),
        "stopped early: the duration row fails"
    );
    let s = summary(out.path());
    assert_eq!(s["stopped_because"], "SIGINT received");
    assert_eq!(failing(&s), vec!["Duration".to_string()]);
    assert!(dir.join("summary.md").is_file());
    assert_eq!(
        processes_mentioning(&dir.display().to_string()),
        Vec::<String>::new()
    );
}
