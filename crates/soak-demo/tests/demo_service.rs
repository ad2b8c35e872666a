//! The demo service run as a real process: its log lines, health endpoint and faults.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use soak_core::proc::{ProcessTable, read_stat};

fn demo(args: &[&str], health_file: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_soak-demo"))
        .args(args)
        .arg("--health-url-file")
        .arg(health_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn soak-demo")
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET the health URL on loopback with a raw HTTP/1.0 request; `None` when it does not answer
/// within `timeout`.
fn get_status(url: &str, timeout: Duration) -> Option<u16> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    let mut s = TcpStream::connect(host).ok()?;
    s.set_read_timeout(Some(timeout)).ok()?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn health_url(file: &Path) -> String {
    wait_for("the health URL file", || {
        std::fs::read_to_string(file)
            .ok()
            .filter(|s| s.ends_with('\n'))
            .map(|s| s.trim().to_string())
    })
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn healthy_run_logs_heartbeats_and_shuts_down_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hf = dir.path().join("health");
    let mut child = demo(&["--heartbeat", "100ms"], &hf);
    let url = health_url(&hf);
    assert_eq!(get_status(&url, Duration::from_secs(10)), Some(200));
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|l: &&String| l.contains("[HB] alive"))
        .count()
        < 3
    {
        seen.push(lines.next().expect("more lines").expect("utf8"));
    }
    signal(&child, "TERM");
    seen.extend(lines.map_while(Result::ok));
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let text = seen.join("\n");
    assert!(text.contains("latency_ms{stage=\"rest\"} "), "{text}");
    assert!(
        text.contains("[SHUTDOWN] Cancelling all active orders..."),
        "{text}"
    );
    assert!(text.ends_with("[SHUTDOWN] Shutdown complete"), "{text}");
    assert!(
        !text.contains("HANDLER_TIMEOUT"),
        "no faults asked for: {text}"
    );
}

#[test]
fn crash_fault_prints_a_traceback_and_exits_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(env!("CARGO_BIN_EXE_soak-demo"))
        .args(["--faults", "crash", "--fault-after", "200ms"])
        .arg("--health-url-file")
        .arg(dir.path().join("h"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Traceback (most recent call last):"),
        "{text}"
    );
    assert!(
        text.trim_end()
            .ends_with("ZeroDivisionError: float division by zero")
    );
}

#[test]
fn leak_fault_grows_rss_and_zombie_fault_leaves_unreaped_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hf = dir.path().join("health");
    let mut child = demo(
        &[
            "--faults",
            "leak,zombies",
            "--fault-after",
            "0s",
            "--leak-rate",
            "600MB/min",
        ],
        &hf,
    );
    health_url(&hf);
    let pid = child.id() as i32;
    let page = soak_core::proc::page_size();
    let rss_mb = || {
        read_stat(pid)
            .map(|s| (s.rss_pages * page) as f64 / 1048576.0)
            .unwrap_or(0.0)
    };
    let start = rss_mb();
    // 600 MB/min = 10 MB/s: at least 20 MB more must show up well before the deadline.
    wait_for("RSS growth", || (rss_mb() - start > 20.0).then_some(()));
    let zombies = wait_for("a zombie child", || {
        let table = ProcessTable::snapshot().ok()?;
        let z: Vec<i32> = table
            .children_of(pid)
            .iter()
            .copied()
            .filter(|c| table.get(*c).is_some_and(|s| s.is_zombie()))
            .collect();
        (!z.is_empty()).then_some(z)
    });
    assert!(!zombies.is_empty());
    signal(&child, "TERM");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

#[test]
fn hang_fault_stops_heartbeat_and_health_and_ignores_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hf = dir.path().join("health");
    let mut child = demo(&["--faults", "hang", "--fault-after", "300ms"], &hf);
    let url = health_url(&hf);
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    wait_for("the hang to start", || {
        lines
            .next()
            .and_then(Result::ok)
            .filter(|l| l.contains("Waiting for order book lock"))
    });
    assert_eq!(
        get_status(&url, Duration::from_millis(500)),
        None,
        "a hung service answers nothing"
    );
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "SIGTERM must not end a hang"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
}

#[test]
fn outage_fault_answers_503_then_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hf = dir.path().join("health");
    let mut child = demo(
        &[
            "--faults",
            "outage",
            "--fault-after",
            "0s",
            "--outage-for",
            "1s",
        ],
        &hf,
    );
    let url = health_url(&hf);
    wait_for("a 503", || {
        (get_status(&url, Duration::from_secs(5)) == Some(503)).then_some(())
    });
    wait_for("recovery", || {
        (get_status(&url, Duration::from_secs(5)) == Some(200)).then_some(())
    });
    child.kill().expect("kill");
    child.wait().expect("wait");
}

#[test]
fn a_bad_health_listen_address_is_a_usage_error_naming_the_flag() {
    let d = tempfile::tempdir().expect("tmp");
    let url_file = d.path().join("health-url");
    for addr in ["notanaddr", "127.0.0.1", "127.0.0.1:99999", ":8080", ""] {
        let o = Command::new(env!("CARGO_BIN_EXE_soak-demo"))
            .args([
                "--health-listen",
                addr,
                "--run-for",
                "1s",
                "--health-url-file",
            ])
            .arg(&url_file)
            .output()
            .expect("run soak-demo");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{addr:?}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.contains("--health-listen"), "{addr:?}: {err}");
        assert!(o.stdout.is_empty(), "{addr:?}: the service never started");
        assert!(!url_file.exists(), "{addr:?}: no health URL written");
    }
}
