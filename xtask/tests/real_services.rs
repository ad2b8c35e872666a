//! `cargo xtask soak` on software nobody here wrote: Python's http.server, redis-server under
//! redis-benchmark, nginx, a client of the `websockets` library whose server restarts, a
//! Python process churning garbage. Each healthy soak passes every row that applies; each
//! with one real fault (SIGKILL, a leak, a health endpoint answering 503, a log gone silent
//! while the process spins) fails only its own row (and Duration, when the fault ends the run
//! early). Each test skips with a printed reason only where its package is not installed.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{failing, processes_mentioning, row, run_dir, soak_cmd, summary};

/// A free loopback port (bound, read, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind")
        .port()
}

/// `program` if it is on PATH, else a printed reason to skip.
fn installed(program: &str, package: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!("skipped: {program} is not installed (apt-get install {package})");
    }
    found
}

/// A Python interpreter that can import `module` (see `soak_testkit::python_with`).
fn python_with(module: &str) -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pyvenv-real-services");
    soak_testkit::python_with(module, module, &venv)
}

/// Writes `text` to `dir/name` and returns its path.
fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write script");
    p
}

/// A soak of `service` with `flags`, its run directory under `out`; the service's project is
/// `project` (which holds no lockfile: the security row is skipped with that reason).
fn soak(out: &Path, project: &Path, flags: &[&str], service: &[&str]) -> Child {
    soak_cmd(out)
        .arg("--project")
        .arg(project)
        .args(flags)
        .arg("--")
        .args(service)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start cargo xtask soak")
}

/// Waits for the soak and returns its exit status and verdict; its stderr is printed.
fn finish(out: &Path, child: Child) -> (ExitStatus, Value) {
    let output = child.wait_with_output().expect("wait");
    eprintln!("{}", String::from_utf8_lossy(&output.stderr));
    let s = summary(out);
    eprintln!("{s:#}");
    (output.status, s)
}

/// The last logscan summary of the run.
fn log_summary(dir: &Path) -> Value {
    artifact(dir, "logscan.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .rfind(|r| r["type"] == "summary")
        .expect("logscan summary")
}

/// A run directory's file as text, whether or not the final pass compressed it.
fn artifact(dir: &Path, name: &str) -> String {
    use std::io::Read;
    if let Ok(t) = std::fs::read_to_string(dir.join(name)) {
        return t;
    }
    let raw = std::fs::read(dir.join(format!("{name}.gz"))).unwrap_or_default();
    let mut t = String::new();
    let _ = flate2::read::MultiGzDecoder::new(&raw[..]).read_to_string(&mut t);
    t
}

/// Sends HTTP GETs to `url` every `every` until dropped; counts the answers.
struct Load {
    stop: Arc<AtomicBool>,
    handle: Option<std::thread::JoinHandle<u64>>,
}

impl Load {
    fn start(url: String, every: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let st = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder()
                .timeout_global(Some(Duration::from_secs(2)))
                .http_status_as_error(false)
                .build()
                .into();
            let mut answered = 0;
            while !st.load(Ordering::SeqCst) {
                if let Ok(mut r) = agent.get(&url).call() {
                    let _ = r.body_mut().read_to_vec();
                    answered += 1;
                }
                std::thread::sleep(every);
            }
            answered
        });
        Load {
            stop,
            handle: Some(handle),
        }
    }

    fn finish(mut self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.take().map_or(0, |h| h.join().unwrap_or(0))
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A process the test started, killed when dropped.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `port` accepts connections.
fn wait_listening(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The PID of the process whose command line contains every one of `needles` and is not
/// zombiereap's (the service itself, below the soak's supervisor).
fn service_pid(needles: &[&str]) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = processes_mentioning(needles[0])
            .into_iter()
            .filter(|p| needles.iter().all(|n| p.contains(n)))
            .filter(|p| !p.contains("zombiereap") && !p.contains("xtask"))
            .find_map(|p| p.split(':').next()?.parse().ok());
        if let Some(pid) = found {
            return pid;
        }
        assert!(Instant::now() < deadline, "no service process {needles:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The log's timestamps were read: at most one line in ten without a time (a banner such as
/// http.server's `Serving HTTP on ...` has none), and the per-hour figures exist.
fn assert_nearly_every_line_timed(dir: &Path) {
    let s = log_summary(dir);
    let lines = s["lines"].as_u64().expect("lines");
    let untimed = s["lines_without_time"]
        .as_u64()
        .expect("lines_without_time");
    assert!(
        lines > 10 && untimed * 10 <= lines,
        "{untimed} of {lines} lines without a time"
    );
    assert!(s["ws_reconnects_max_in_any_hour"].is_u64(), "{s}");
}

fn assert_nothing_left(dir: &Path) {
    assert_eq!(
        processes_mentioning(&dir.display().to_string()),
        Vec::<String>::new()
    );
}

/// A 60 s soak of Python's http.server serving `www` on `port`, its health URL polled every
/// second.
fn http_server_soak(out: &Path, www: &Path, py: &Path, port: u16) -> Child {
    let url = format!("http://127.0.0.1:{port}/");
    soak(
        out,
        www,
        &[
            "--duration",
            "60s",
            "--health-url",
            &url,
            "--health-every",
            "1s",
        ],
        &[
            py.to_str().expect("utf-8"),
            "-u",
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--directory",
            www.to_str().expect("utf-8"),
        ],
    )
}

#[test]
fn python_http_server_with_health_url_and_load_passes_every_row() {
    let Some(py) = python_with("http.server") else {
        return;
    };
    let out = tempfile::tempdir().expect("tmp");
    let www = tempfile::tempdir().expect("www");
    std::fs::write(www.path().join("index.html"), "<h1>ok</h1>\n").expect("index");
    let port = free_port();
    let child = http_server_soak(out.path(), www.path(), &py, port);
    wait_listening(port);
    let load = Load::start(
        format!("http://127.0.0.1:{port}/"),
        Duration::from_millis(50),
    );
    let (status, s) = finish(out.path(), child);
    let answered = load.finish();
    assert!(answered > 100, "the load got {answered} answers");
    assert_eq!(failing(&s), Vec::<String>::new());
    assert!(status.success());
    let dir = run_dir(out.path());
    let log = artifact(&dir, "service.log");
    assert!(
        log.contains("\"GET / HTTP/1.1\" 200"),
        "access lines logged"
    );
    assert!(
        !log.contains("Traceback"),
        "the health poller made the service log tracebacks"
    );
    assert_eq!(row(&s, "Crashes")["value"], "0");
    assert_eq!(row(&s, "Logged errors")["status"], "pass");
    let security = row(&s, "Security issues");
    assert_eq!(security["status"], "skip");
    assert!(
        security["detail"]
            .as_str()
            .expect("detail")
            .contains("no lockfile")
    );
    let avail = row(&s, "Availability");
    assert_eq!(avail["status"], "pass", "{avail}");
    assert_eq!(avail["value"], "100.00%");
    let hang = row(&s, "Heartbeat gap (hang)");
    assert_eq!(hang["status"], "pass");
    assert!(
        hang["detail"]
            .as_str()
            .expect("detail")
            .contains("health endpoint")
    );
    assert_nearly_every_line_timed(&dir);
    // Every poll is on record, with its status and latency.
    let polls: Vec<Value> = artifact(&dir, "health.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(polls.len() >= 40, "{} polls", polls.len());
    // From the first healthy answer on (before it the server may not listen yet).
    let healthy: Vec<&Value> = polls.iter().skip_while(|p| p["status"] != 200).collect();
    assert!(healthy.len() + 3 >= polls.len(), "{polls:?}");
    assert!(
        healthy
            .iter()
            .all(|p| p["status"] == 200 && p["latency_ms"].is_number()),
        "{healthy:?}"
    );
    assert_nothing_left(&dir);
}

#[test]
fn redis_under_redis_benchmark_passes_and_is_not_judged_hung() {
    let (Some(redis), Some(bench)) = (
        installed("redis-server", "redis-server"),
        installed("redis-benchmark", "redis-tools"),
    ) else {
        return;
    };
    let out = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("data");
    let port = free_port();
    let child = soak(
        out.path(),
        data.path(),
        &["--duration", "60s"],
        &[
            redis.to_str().expect("utf-8"),
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            data.path().to_str().expect("utf-8"),
        ],
    );
    wait_listening(port);
    let stop = Arc::new(AtomicBool::new(false));
    let st = Arc::clone(&stop);
    let load = std::thread::spawn(move || {
        let mut rounds = 0;
        while !st.load(Ordering::SeqCst) {
            // redis-benchmark spins on a server that went away: each round is bounded.
            let mut b = Guard(
                Command::new(&bench)
                    .args([
                        "-p",
                        &port.to_string(),
                        "-q",
                        "-n",
                        "2000",
                        "-c",
                        "2",
                        "-t",
                        "set,get",
                    ])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .expect("redis-benchmark"),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            let ok = loop {
                match b.0.try_wait() {
                    Ok(Some(s)) => break s.success(),
                    _ if st.load(Ordering::SeqCst) || Instant::now() > deadline => break false,
                    _ => std::thread::sleep(Duration::from_millis(50)),
                }
            };
            rounds += u32::from(ok);
            std::thread::sleep(Duration::from_millis(500));
        }
        rounds
    });
    let (status, s) = finish(out.path(), child);
    stop.store(true, Ordering::SeqCst);
    let rounds = load.join().expect("load");
    assert!(rounds > 10, "{rounds} benchmark rounds");
    assert_eq!(failing(&s), Vec::<String>::new());
    assert!(status.success());
    assert_eq!(s["stopped_because"], "duration reached");
    assert_eq!(row(&s, "Heartbeat gap (hang)")["status"], "skip");
    let dir = run_dir(out.path());
    assert_nearly_every_line_timed(&dir);
    assert_nothing_left(&dir);
}

/// nginx in the foreground on `port`, everything under `prefix`, access log to stdout.
fn nginx_conf(prefix: &Path, port: u16) -> PathBuf {
    script(
        prefix,
        "nginx.conf",
        &format!(
            "pid {p}/nginx.pid;\nerror_log stderr info;\nevents {{ worker_connections 64; }}\n\
             http {{\n  access_log /dev/stdout;\n  client_body_temp_path {p}/body;\n  \
             proxy_temp_path {p}/proxy;\n  fastcgi_temp_path {p}/fastcgi;\n  \
             uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n  \
             server {{\n    listen 127.0.0.1:{port};\n    \
             location /health {{ return 200 \"ok\\n\"; }}\n    \
             location / {{ return 200 \"hello\\n\"; }}\n  }}\n}}\n",
            p = prefix.display()
        ),
    )
}

#[test]
fn nginx_with_health_url_passes_every_row() {
    let Some(nginx) = installed("nginx", "nginx") else {
        return;
    };
    let out = tempfile::tempdir().expect("tmp");
    let prefix = tempfile::tempdir().expect("prefix");
    let port = free_port();
    let conf = nginx_conf(prefix.path(), port);
    let health = format!("http://127.0.0.1:{port}/health");
    let child = soak(
        out.path(),
        prefix.path(),
        &[
            "--duration",
            "60s",
            "--health-url",
            &health,
            "--health-every",
            "1s",
        ],
        &[
            nginx.to_str().expect("utf-8"),
            "-p",
            prefix.path().to_str().expect("utf-8"),
            "-c",
            conf.to_str().expect("utf-8"),
            "-g",
            "daemon off;",
        ],
    );
    wait_listening(port);
    let load = Load::start(
        format!("http://127.0.0.1:{port}/"),
        Duration::from_millis(50),
    );
    let (status, s) = finish(out.path(), child);
    assert!(load.finish() > 100);
    assert_eq!(failing(&s), Vec::<String>::new());
    assert!(status.success());
    let dir = run_dir(out.path());
    assert_nearly_every_line_timed(&dir);
    assert_eq!(row(&s, "Availability")["value"], "100.00%");
    assert_nothing_left(&dir);
}

const WS_SERVER: &str = r#"
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1])) as server:
        print("listening", flush=True)
        await server.serve_forever()

asyncio.run(main())
"#;

const WS_CLIENT: &str = r#"
import asyncio, logging, sys
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

logging.basicConfig(format="%(asctime)s %(name)s %(levelname)s %(message)s", level=logging.INFO)
log = logging.getLogger("bot")

async def main():
    async for ws in connect(f"ws://127.0.0.1:{sys.argv[1]}"):
        log.info("connected")
        try:
            while True:
                await ws.send("ping")
                await ws.recv()
                await asyncio.sleep(0.5)
        except ConnectionClosed:
            continue

asyncio.run(main())
"#;

#[test]
fn a_websockets_client_whose_server_restarts_twice_counts_two_reconnections() {
    let Some(py) = python_with("websockets") else {
        return;
    };
    let out = tempfile::tempdir().expect("tmp");
    let work = tempfile::tempdir().expect("work");
    let server = script(work.path(), "server.py", WS_SERVER);
    let client = script(work.path(), "client.py", WS_CLIENT);
    let port = free_port();
    let start_server = || {
        let g = Guard(
            Command::new(&py)
                .arg(&server)
                .arg(port.to_string())
                .stdout(Stdio::null())
                .spawn()
                .expect("server"),
        );
        wait_listening(port);
        g
    };
    let mut srv = start_server();
    let child = soak(
        out.path(),
        work.path(),
        &["--duration", "50s"],
        &[
            py.to_str().expect("utf-8"),
            client.to_str().expect("utf-8"),
            &port.to_string(),
        ],
    );
    for _ in 0..2 {
        std::thread::sleep(Duration::from_secs(12));
        drop(srv);
        std::thread::sleep(Duration::from_secs(2));
        srv = start_server();
    }
    let (status, s) = finish(out.path(), child);
    drop(srv);
    let dir = run_dir(out.path());
    let log = artifact(&dir, "service.log");
    assert!(
        log.contains("websockets.client INFO connect failed; reconnecting in"),
        "{log}"
    );
    // The library logs one line per failed attempt (the first one after each restart, and one
    // more for each later attempt the server was still down for) and nothing on success: the
    // row counts every attempt, as the seed's storm threshold does.
    let attempts = log
        .lines()
        .filter(|l| l.contains("connect failed; reconnecting in"))
        .count();
    assert!(attempts >= 2, "{attempts} failed attempts logged");
    let reconnects = row(&s, "WS reconnections");
    assert_eq!(reconnects["value"], attempts.to_string(), "{reconnects}");
    assert!(
        reconnects["detail"]
            .as_str()
            .expect("detail")
            .contains(&format!("({attempts} in all)")),
        "{reconnects}"
    );
    assert_eq!(failing(&s), Vec::<String>::new());
    assert!(status.success());
    assert_nothing_left(&dir);
}

const CHURN: &str = r#"
import gc, sys, time
# RSS really cycles: 1 MB bytearrays are mmap'd and returned to the OS when freed.
print("churn started", flush=True)
while True:
    blocks = []
    for _ in range(40):
        blocks.append(bytearray(1 << 20))
        time.sleep(0.1)
    del blocks
    gc.collect()
    print("cycle done", flush=True)
    time.sleep(1)
"#;

const LEAK: &str = r#"
import time
kept = []
print("leaking", flush=True)
while True:
    kept.append(bytearray(1 << 20))
    time.sleep(0.5)
"#;

/// The flags a memory verdict needs in a one-minute soak (the defaults want 30 minutes).
const SHORT_TREND: [&str; 6] = [
    "--interval",
    "500ms",
    "--min-samples",
    "20",
    "--min-span",
    "20s",
];

#[test]
fn a_python_process_churning_garbage_is_not_a_leak() {
    let out = tempfile::tempdir().expect("tmp");
    let work = tempfile::tempdir().expect("work");
    let churn = script(work.path(), "churn.py", CHURN);
    let mut flags = vec!["--duration", "60s"];
    flags.extend(SHORT_TREND);
    let child = soak(
        out.path(),
        work.path(),
        &flags,
        &["python3", "-u", churn.to_str().expect("utf-8")],
    );
    let (status, s) = finish(out.path(), child);
    let mem = row(&s, "Memory growth");
    assert_eq!(mem["status"], "pass", "{mem}");
    assert_eq!(failing(&s), Vec::<String>::new());
    assert!(status.success());
    // The RSS really went up and down by tens of MB.
    let dir = run_dir(out.path());
    let rss: Vec<f64> = artifact(&dir, "resources.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|r| r["tree_memory_mb"].as_f64())
        .collect();
    let (lo, hi) = rss
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(*x), hi.max(*x)));
    assert!(hi - lo > 25.0, "RSS range {lo}..{hi}");
}

#[test]
fn a_real_leak_fails_only_the_memory_row() {
    let out = tempfile::tempdir().expect("tmp");
    let work = tempfile::tempdir().expect("work");
    let leak = script(work.path(), "leak.py", LEAK);
    let mut flags = vec!["--duration", "45s"];
    flags.extend(SHORT_TREND);
    let child = soak(
        out.path(),
        work.path(),
        &flags,
        &["python3", "-u", leak.to_str().expect("utf-8")],
    );
    let (status, s) = finish(out.path(), child);
    assert_eq!(failing(&s), vec!["Memory growth".to_string()]);
    assert_eq!(status.code(), Some(1));
}

#[test]
fn a_sigkilled_http_server_fails_only_crashes_and_duration() {
    let Some(py) = python_with("http.server") else {
        return;
    };
    let out = tempfile::tempdir().expect("tmp");
    let www = tempfile::tempdir().expect("www");
    let port = free_port();
    let child = http_server_soak(out.path(), www.path(), &py, port);
    wait_listening(port);
    std::thread::sleep(Duration::from_secs(15));
    let pid = service_pid(&["http.server", &port.to_string()]);
    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let (status, s) = finish(out.path(), child);
    let mut got = failing(&s);
    got.sort();
    assert_eq!(got, vec!["Crashes".to_string(), "Duration".to_string()]);
    assert_eq!(status.code(), Some(1));
    let crash = row(&s, "Crashes");
    assert!(
        crash["detail"]
            .as_str()
            .expect("detail")
            .contains("SIGKILL"),
        "{crash}"
    );
    assert_nothing_left(&run_dir(out.path()));
}

const TURNS_503: &str = r#"
import http.server, sys, time
started = time.monotonic()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200 if time.monotonic() - started < 12 else 503
        body = b"ok\n" if code == 200 else b"unavailable\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"#;

#[test]
fn a_health_endpoint_that_starts_answering_503_fails_only_availability() {
    let out = tempfile::tempdir().expect("tmp");
    let work = tempfile::tempdir().expect("work");
    let server = script(work.path(), "h503.py", TURNS_503);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/health");
    let child = soak(
        out.path(),
        work.path(),
        &[
            "--duration",
            "30s",
            "--health-url",
            &url,
            "--health-every",
            "1s",
        ],
        &[
            "python3",
            "-u",
            server.to_str().expect("utf-8"),
            &port.to_string(),
        ],
    );
    let (status, s) = finish(out.path(), child);
    assert_eq!(failing(&s), vec!["Availability".to_string()]);
    assert_eq!(status.code(), Some(1));
    let avail = row(&s, "Availability");
    assert!(
        avail["detail"]
            .as_str()
            .expect("detail")
            .contains("HTTP 503"),
        "{avail}"
    );
}

const SPINS_SILENTLY: &str = r#"
import time
end = time.monotonic() + 10
while time.monotonic() < end:
    print(time.strftime("%Y-%m-%d %H:%M:%S"), "worker tick", flush=True)
    time.sleep(0.5)
while True:
    pass
"#;

#[test]
fn a_log_gone_silent_while_the_process_spins_fails_only_the_hang_row() {
    let out = tempfile::tempdir().expect("tmp");
    let work = tempfile::tempdir().expect("work");
    let spin = script(work.path(), "spin.py", SPINS_SILENTLY);
    let child = soak(
        out.path(),
        work.path(),
        &[
            "--duration",
            "60s",
            "--heartbeat-regex",
            "worker tick",
            "--max-heartbeat-gap",
            "5s",
        ],
        &["python3", "-u", spin.to_str().expect("utf-8")],
    );
    let (status, s) = finish(out.path(), child);
    let mut got = failing(&s);
    got.sort();
    assert_eq!(
        got,
        vec!["Duration".to_string(), "Heartbeat gap (hang)".to_string()]
    );
    assert_eq!(status.code(), Some(1));
    assert!(
        s["stopped_because"]
            .as_str()
            .expect("why")
            .starts_with("hang detected")
    );
}

/// The slow one: a healthy service that logs no heartbeat runs past the default 5-minute gap.
#[test]
fn a_healthy_service_without_heartbeat_runs_six_minutes_with_the_defaults() {
    let Some(redis) = installed("redis-server", "redis-server") else {
        return;
    };
    let out = tempfile::tempdir().expect("tmp");
    let data = tempfile::tempdir().expect("data");
    let port = free_port().to_string();
    let child = soak(
        out.path(),
        data.path(),
        &["--duration", "6m"],
        &[
            redis.to_str().expect("utf-8"),
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            data.path().to_str().expect("utf-8"),
        ],
    );
    let (status, s) = finish(out.path(), child);
    assert_eq!(s["stopped_because"], "duration reached");
    assert_eq!(failing(&s), Vec::<String>::new());
    assert!(status.success());
    let mut stderr = std::io::stderr();
    let _ = writeln!(stderr, "six minutes: {}", row(&s, "Duration"));
}

const TICKS_TO_FILE: &str = r#"
import sys, time
with open(sys.argv[1], "a", buffering=1) as log:
    while True:
        log.write(time.strftime("%Y-%m-%dT%H:%M:%S") + " INFO worker tick\n")
        time.sleep(0.5)
"#;

/// A service the soak did not start: attached by PID with its own log file, judged like a
/// launched one, and left running at the end (the soak never stops what it did not start)
/// unless `--stop`.
#[test]
fn an_already_running_service_is_attached_by_pid_and_left_running() {
    let work = tempfile::tempdir().expect("work");
    let script_path = script(work.path(), "ticks.py", TICKS_TO_FILE);
    let log = work.path().join("service.log");
    let svc = Guard(
        Command::new("python3")
            .arg(&script_path)
            .arg(&log)
            .stdin(Stdio::null())
            .spawn()
            .expect("service"),
    );
    let pid = svc.0.id().to_string();
    for stop in [false, true] {
        let out = tempfile::tempdir().expect("tmp");
        let mut flags = vec![
            "--duration",
            "12s",
            "--attach-pid",
            &pid,
            "--log-file",
            log.to_str().expect("utf-8"),
            "--heartbeat-regex",
            "worker tick",
            "--max-heartbeat-gap",
            "5s",
        ];
        if stop {
            flags.push("--stop");
        }
        let child = soak_cmd(out.path())
            .arg("--project")
            .arg(work.path())
            .args(&flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("soak");
        let (status, s) = finish(out.path(), child);
        assert_eq!(failing(&s), Vec::<String>::new(), "stop={stop}");
        assert!(status.success());
        let hang = row(&s, "Heartbeat gap (hang)");
        assert_eq!(hang["status"], "pass", "{hang}");
        let crash = row(&s, "Crashes")["detail"].to_string();
        assert!(crash.contains(&format!("PID {pid}")), "{crash}");
        let alive = std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .unwrap_or_default()
                .contains(") Z");
        assert_eq!(alive, !stop, "left running without --stop, stopped with it");
    }
}

/// An attached process that dies during the soak is a crash, and ends the run.
#[test]
fn an_attached_process_that_dies_fails_crashes() {
    let work = tempfile::tempdir().expect("work");
    let out = tempfile::tempdir().expect("tmp");
    let svc = Guard(
        Command::new("sleep")
            .arg("6")
            .stdin(Stdio::null())
            .spawn()
            .expect("service"),
    );
    let pid = svc.0.id().to_string();
    let child = soak_cmd(out.path())
        .arg("--project")
        .arg(work.path())
        .args(["--duration", "40s", "--attach-pid", &pid])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("soak");
    // Reap it when it exits, as its real parent would.
    let mut svc = svc;
    let _ = svc.0.wait();
    let (status, s) = finish(out.path(), child);
    let mut got = failing(&s);
    got.sort();
    assert_eq!(got, vec!["Crashes".to_string(), "Duration".to_string()]);
    assert_eq!(status.code(), Some(1));
}
