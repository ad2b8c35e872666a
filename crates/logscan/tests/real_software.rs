//! logscan on logs written by software nobody here wrote, run for real on 127.0.0.1: a
//! `websockets` client whose server is restarted twice, Python's `http.server` with connections
//! reset under it, redis-server and nginx. Each test skips, saying why, only when its software
//! is not installed (`.ci/run`: `apt-get install redis-server nginx-light`, `pip install
//! websockets`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use soak_testkit::{python_importing, which};

/// A child process stopped and reaped when dropped, so no test leaves one behind: SIGTERM
/// first (nginx's master then stops its workers), SIGKILL if it is still there after 10 s.
/// Its output goes nowhere unless the test asked for it.
struct Running(Child);

impl Running {
    fn spawn(cmd: &mut Command) -> Running {
        cmd.stdin(Stdio::null());
        Running(cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}")))
    }

    /// SIGKILL: the process vanishes at once, as in a crash.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// SIGTERM, then SIGKILL after 10 s.
    fn stop(&mut self) {
        if matches!(self.0.try_wait(), Ok(Some(_))) {
            return;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.0.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

fn real_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real")
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// Waits (up to a minute: a generous bound, not a speed check) until `done` holds.
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count_in(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

fn logscan(args: &[&str]) -> (Value, i32) {
    let out = Command::new(assert_cmd::cargo::cargo_bin("logscan"))
        .args(["--format", "json"])
        .args(args)
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .expect("run logscan");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (v, out.status.code().expect("exit code"))
}

fn unix_of(summary: &Value, field: &str) -> f64 {
    let text = summary[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field}: {summary}"));
    let t = chrono::DateTime::parse_from_rfc3339(text).expect("rfc3339");
    t.timestamp() as f64
}

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64()
}

/// The log's times are the wall-clock times the software wrote them at: parsed right.
fn assert_times_within(summary: &Value, from: f64, to: f64) {
    let (first, last) = (
        unix_of(summary, "first_timestamp_utc"),
        unix_of(summary, "last_timestamp_utc"),
    );
    assert!(
        first >= from.floor() - 1.0 && last <= to.ceil() + 1.0 && first <= last,
        "times {first}..{last} outside the run {from}..{to}: {summary}"
    );
}

/// A Python with the `websockets` library (14 or later: its asyncio client reconnects).
fn python_with_websockets() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("venv-ws");
    soak_testkit::python_with("websockets.asyncio.client", "websockets", &venv)
}

#[test]
fn a_websockets_client_whose_server_restarts_twice() {
    let Some(python) = python_with_websockets() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("client.log");
    let port = free_port();
    let start_server = || {
        let mut server = Running::spawn(
            Command::new(&python)
                .arg(real_dir().join("ws_server.py"))
                .arg(port.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null()),
        );
        let out = server.0.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).expect("read");
        assert_eq!(line.trim(), "listening");
        server
    };
    let started = now();
    let mut server = start_server();
    // The library's backoff: first retry at once (initial delay 0), the next after 3 s. The
    // server is restarted only after the second failure is logged, and is back well within
    // those 3 s, so every outage is exactly two failed attempts, each logged as
    // "connect failed; reconnecting in D seconds: ConnectionRefusedError: ...".
    let _client = Running::spawn(
        Command::new(&python)
            .arg(real_dir().join("ws_client.py"))
            .arg(format!("ws://127.0.0.1:{port}/"))
            .arg(&log)
            .env("WEBSOCKETS_BACKOFF_INITIAL_DELAY", "0")
            .env("WEBSOCKETS_BACKOFF_MIN_DELAY", "3")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("the first session", || count_in(&log, "session open") == 1);
    for outage in 1..=2 {
        server.kill();
        wait_for("two failed attempts", || {
            count_in(&log, "connect failed") == 2 * outage
        });
        server = start_server();
        wait_for("the session after the restart", || {
            count_in(&log, "session open") == outage + 1
        });
    }
    let (sum, code) = logscan(&[log.to_str().expect("path")]);
    assert_eq!(code, 0, "{sum}");
    assert_eq!(
        sum["ws_reconnect_count"], 4,
        "2 restarts x 2 failed attempts: {sum}"
    );
    assert_eq!(sum["ws_reconnects_max_in_any_hour"], 4);
    assert_eq!(sum["lines_without_time"], 0);
    assert_eq!(sum["lines"], 7, "3 sessions and 4 failed attempts");
    assert_eq!(
        (sum["crash_count"].as_u64(), sum["error_count"].as_u64()),
        (Some(0), Some(0))
    );
    assert_times_within(&sum, started, now());

    // The events carry the library's own delays.
    let out = Command::new(assert_cmd::cargo::cargo_bin("logscan"))
        .args(["--format", "jsonl"])
        .arg(&log)
        .output()
        .expect("run");
    let delays: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["kind"] == "ws_reconnect")
        .filter_map(|v| v["delay_s"].as_f64())
        .collect();
    assert_eq!(delays, [0.0, 3.0, 0.0, 3.0]);
}

/// Python's `http.server` on 127.0.0.1 (stderr to `DIR/http.log`): 5 answered GETs and 4
/// connections reset under it, each logged with its traceback; the server is then killed.
fn http_server_log(python: &Path, dir: &Path) -> PathBuf {
    let www = dir.join("www");
    std::fs::create_dir(&www).expect("mkdir");
    std::fs::write(www.join("index.html"), "hello\n").expect("write");
    let log = dir.join("http.log");
    let port = free_port();
    let mut server = Running::spawn(
        Command::new(python)
            .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
            .arg(&www)
            .arg(port.to_string())
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log")),
    );
    wait_for("http.server to listen", || listening(port));
    let status = Command::new(python)
        .arg(real_dir().join("reset_client.py"))
        .args([&port.to_string(), "3", "4", "2"])
        .status()
        .expect("client");
    assert!(status.success());
    wait_for("5 answered GETs and 4 tracebacks", || {
        count_in(&log, "\"GET / HTTP/1.1\" 200") == 5
            && count_in(&log, "Connection reset by peer") == 4
    });
    server.kill();
    log
}

#[test]
fn http_server_tracebacks_are_logged_errors_not_crashes() {
    let Some(python) = which("python3") else {
        eprintln!("SKIP: python3 is not installed");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let started = now();
    let log = http_server_log(&python, dir.path());
    let (sum, code) = logscan(&[log.to_str().expect("path")]);
    assert_eq!(code, 0, "4 survived tracebacks are no crash: {sum}");
    assert_eq!(sum["crash_count"], 0);
    let text = std::fs::read_to_string(&log).expect("read log");
    assert_eq!(sum["error_count"], 4, "{sum}\n{text}");
    assert_eq!(sum["errors_max_in_any_hour"], 4);
    assert_eq!(
        sum["top_errors"],
        serde_json::json!([{
            "message": "ConnectionResetError: [Errno 104] Connection reset by peer",
            "count": 4
        }])
    );
    // Every access line has its time; only the traceback blocks' lines inherit one.
    let lines = sum["lines"].as_u64().expect("lines");
    assert_eq!(
        lines - sum["lines_without_time"].as_u64().expect("n"),
        5,
        "{sum}"
    );
    assert_times_within(&sum, started, now());
}

/// `logscan --html`: the same real log as a page, opened in Debian's Chromium (headless): the
/// four tracebacks as marks in the error lane of the time axis, every check as a row, the
/// summary's figures (skipped, saying why, without `chromium`).
#[test]
fn http_server_log_as_a_page_renders_in_chromium() {
    let Some(python) = which("python3") else {
        eprintln!("SKIP: python3 is not installed");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = http_server_log(&python, dir.path());
    let page = dir.path().join("http.html");
    let out = Command::new(assert_cmd::cargo::cargo_bin("logscan"))
        .arg(&log)
        .args(["--format", "json", "--html"])
        .arg(&page)
        .output()
        .expect("run logscan");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sum: Value = serde_json::from_slice(&out.stdout).expect("summary");
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.contains("Content-Security-Policy") && !html.contains("<script"));
    let Some(exe) = soak_report::browser::chromium() else {
        eprintln!("SKIP the browser part: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let dom =
        soak_report::browser::dump_dom(&exe, &page, &dir.path().join("profile")).expect("chromium");
    assert!(dom.contains("logscan report"));
    assert!(dom.contains(r#"<span id="verdict-badge" class="badge verdict-pass">PASS</span>"#));
    // Every check of the summary is a row of the table.
    let checks: Vec<&str> = sum
        .as_object()
        .expect("summary")
        .keys()
        .filter_map(|k| k.strip_prefix("check_"))
        .collect();
    assert!(checks.len() >= 3, "{sum}");
    for name in checks {
        assert!(
            dom.contains(&format!(r#"data-metric="{name}""#)),
            "no row {name}"
        );
    }
    // The four tracebacks: one lane of error marks on the shared time axis.
    let events = &dom[dom.find(r#"id="chart-events""#).expect("events chart")..];
    let lane = &events[events.find(r#"data-lane="error""#).expect("error lane")..];
    let lane = &lane[..lane.find("</g>").expect("lane end")];
    assert!(lane.contains(r#"class="mark mark-"#), "{lane}");
    assert!(
        lane.contains("ConnectionResetError") || lane.contains("Traceback"),
        "{lane}"
    );
    assert!(dom.contains(r#"class="time-axis time-axis-top""#));
    // The summary's figures.
    assert!(
        dom.contains("<dt>error_count</dt><dd>4</dd>"),
        "figures missing"
    );
}

#[test]
fn redis_server_log() {
    let (Some(redis), Some(cli)) = (which("redis-server"), which("redis-cli")) else {
        eprintln!("SKIP: redis-server is not installed (apt-get install redis-server)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("redis.log");
    let port = free_port().to_string();
    let started = now();
    let mut server = Running::spawn(
        Command::new(redis)
            .args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--daemonize", "no", "--dir"])
            .arg(dir.path())
            .arg("--logfile")
            .arg(&log)
            .env("TZ", "UTC")
            .stdout(Stdio::null()),
    );
    wait_for("redis to be ready", || {
        count_in(&log, "Ready to accept connections") == 1
    });
    for _ in 0..3 {
        let out = Command::new(&cli)
            .args(["-p", &port, "SAVE"])
            .output()
            .expect("redis-cli");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "OK");
    }
    let _ = Command::new(&cli)
        .args(["-p", &port, "SHUTDOWN", "NOSAVE"])
        .output();
    wait_for("redis to say goodbye", || count_in(&log, "bye bye") == 1);
    server.kill();
    let (sum, code) = logscan(&[
        "--heartbeat-regex",
        "DB saved on disk",
        "--heartbeat-optional",
        "--max-heartbeat-gap",
        "5m",
        log.to_str().expect("path"),
    ]);
    assert_eq!(code, 0, "{sum}");
    assert_eq!(sum["lines_without_time"], 0, "{sum}");
    assert_eq!(sum["heartbeat_count"], 3);
    assert_eq!(sum["heartbeat_rule"], "armed after first heartbeat");
    assert_eq!(
        (sum["crash_count"].as_u64(), sum["error_count"].as_u64()),
        (Some(0), Some(0))
    );
    assert!(sum["heartbeat_per_hour"].as_f64().expect("per hour") > 0.0);
    assert_times_within(&sum, started, now());
}

#[test]
fn nginx_access_and_error_logs() {
    let Some(nginx) = which("nginx") else {
        eprintln!("SKIP: nginx is not installed (apt-get install nginx-light)");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    // nginx's workers may run as another user: they must be able to read the document root.
    std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    std::fs::create_dir(root.join("html")).expect("mkdir");
    std::fs::write(root.join("html/index.html"), "hello\n").expect("write");
    let port = free_port();
    let conf = root.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\npid {r}/nginx.pid;\nerror_log {r}/error.log info;\n\
events {{ worker_connections 64; }}\n\
http {{\n  access_log {r}/access.log combined;\n  client_body_temp_path {r}/body;\n\
  proxy_temp_path {r}/proxy;\n  fastcgi_temp_path {r}/fastcgi;\n  uwsgi_temp_path {r}/uwsgi;\n\
  scgi_temp_path {r}/scgi;\n\
  server {{ listen 127.0.0.1:{port}; root {r}/html; }}\n}}\n",
            r = root.display()
        ),
    )
    .expect("conf");
    let started = now();
    let mut server = Running::spawn(
        Command::new(nginx)
            .arg("-p")
            .arg(root)
            .arg("-e")
            .arg(root.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off;"])
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(Stdio::null()),
    );
    wait_for("nginx to listen", || listening(port));
    for path in ["/", "/", "/nope", "/", "/nope", "/"] {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        std::io::Write::write_all(
            &mut s,
            format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes(),
        )
        .expect("send");
        let mut answer = Vec::new();
        std::io::Read::read_to_end(&mut s, &mut answer).expect("read all");
    }
    let access = root.join("access.log");
    let error = root.join("error.log");
    wait_for("6 access lines", || count_in(&access, "HTTP/1.0\"") == 6);
    server.stop();

    let (sum, code) = logscan(&[access.to_str().expect("path")]);
    assert_eq!(code, 0, "{sum}");
    assert_eq!(
        (sum["lines"].as_u64(), sum["lines_without_time"].as_u64()),
        (Some(6), Some(0)),
        "{sum}"
    );
    assert_times_within(&sum, started, now());

    let (sum, code) = logscan(&[error.to_str().expect("path")]);
    assert_eq!(code, 0, "{sum}");
    assert_eq!(sum["lines_without_time"], 0, "{sum}");
    assert_eq!(sum["crash_count"], 0);
    // The two misses: `[error] ... open() ".../html/nope" failed (2: No such file or directory)`.
    assert_eq!(sum["error_count"], 2, "{sum}");
    assert_eq!(sum["top_errors"][0]["count"], 2, "{sum}");
    assert!(
        sum["top_errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("No such file or directory")),
        "{sum}"
    );
    assert_times_within(&sum, started, now());
}

/// freqtrade's own exchange retrier, from the installed package, logs its retry, backoff and
/// give-up lines in freqtrade's format; `--pack freqtrade` counts each as its kind.
#[test]
fn freqtrade_retrier_lines_are_counted_by_its_pack() {
    let Some(python) = python_importing("freqtrade.exchange.common") else {
        eprintln!(
            "SKIP: no Python with freqtrade (pip install freqtrade==2026.9 into $SOAKKIT_PYTHON's venv)"
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("freqtrade.log");
    let status = Command::new(&python)
        .arg(real_dir().join("freqtrade_retrier.py"))
        .arg(&log)
        .status()
        .expect("run python");
    assert!(status.success(), "freqtrade_retrier.py failed");
    let log = log.to_str().expect("utf8 path");
    let (sum, code) = logscan(&["--pack", "freqtrade", log]);
    assert_eq!(code, 0, "{sum}");
    let counts: Vec<(&str, u64)> = [
        "exchange_retry",
        "exchange_backoff",
        "exchange_gave_up",
        "rate_limit",
        "auth_failure",
    ]
    .into_iter()
    .map(|k| (k, sum[format!("{k}_count")].as_u64().unwrap_or(0)))
    .collect();
    assert_eq!(
        counts,
        [
            ("exchange_retry", 2),
            ("exchange_backoff", 1),
            ("exchange_gave_up", 2),
            ("rate_limit", 2),
            ("auth_failure", 2),
        ],
        "{sum}"
    );
    // Without the pack only the built-in's generic matches remain.
    let (sum, _) = logscan(&[log]);
    assert_eq!(sum["exchange_retry_count"], Value::Null, "{sum}");
}
