//! resmon against real processes, files and sockets. No timed assertions: every wait polls
//! with a generous deadline, and rates are checked with wide tolerances, so the tests hold
//! on a loaded 2-core machine.
#![cfg(target_os = "linux")]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::assert::OutputAssertExt;
use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;

use resmon::sample::SEED_FIELDS;

const DEADLINE: Duration = Duration::from_secs(120);

fn resmon() -> Command {
    Command::cargo_bin("resmon").expect("resmon binary")
}

fn records(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn records_of(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("every line is one JSON record"))
        .collect()
}

fn samples(recs: &[Value]) -> Vec<&Value> {
    recs.iter().filter(|r| r["type"] == "sample").collect()
}

fn events<'a>(recs: &'a [Value], name: &str) -> Vec<&'a Value> {
    recs.iter()
        .filter(|r| r["type"] == "event" && r["event"] == name)
        .collect()
}

/// Polls `path` until `done` holds for its records.
fn wait_for(path: &Path, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let recs = records(path);
        if done(&recs) {
            return recs;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "timed out waiting for {what}; got {recs:#?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kill(pid: u32, sig: &str) {
    let _ = Command::new("kill").args([sig, &pid.to_string()]).status();
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("process did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn samples_carry_every_seed_field_on_a_fixed_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("deep/er/res.jsonl");
    let assert = resmon()
        .args(["--interval", "200ms", "--duration", "2s", "--output"])
        .arg(&out)
        .args(["--watch-path"])
        .arg(dir.path().join("deep"))
        .assert()
        .success();
    assert!(
        assert.get_output().stdout.is_empty(),
        "samples go to the file"
    );
    let recs = records(&out);
    assert_eq!(recs[0]["event"], "start");
    assert_eq!(
        recs[0]["watch_paths"]["watch_deep_bytes"]
            .as_str()
            .map(|s| s.ends_with("deep")),
        Some(true)
    );
    let stop = recs.last().expect("records");
    assert_eq!(stop["event"], "stop");
    assert_eq!(stop["reason"], "duration");
    let s = samples(&recs);
    // Ticks 0..9 are due inside 2 s; a stalled machine may skip some, never add any.
    let seqs: Vec<u64> = s.iter().map(|r| r["seq"].as_u64().expect("seq")).collect();
    let missed: u64 = s
        .iter()
        .map(|r| r["missed_samples"].as_u64().expect("missed"))
        .sum();
    assert_eq!(seqs[0], 0);
    assert!(seqs.windows(2).all(|w| w[1] > w[0]), "{seqs:?}");
    assert!(*seqs.last().expect("some") <= 9, "{seqs:?}");
    assert!(seqs.len() as u64 + missed <= 10, "{seqs:?} missed {missed}");
    assert_eq!(stop["samples"].as_u64(), Some(seqs.len() as u64));
    let mut last_elapsed = -1.0;
    for r in &s {
        for f in SEED_FIELDS {
            assert!(r.get(f).is_some(), "field {f} missing in {r}");
        }
        assert_eq!(r["tool"], "resmon");
        for f in [
            "memory_used_mb",
            "memory_total_mb",
            "disk_total_gb",
            "cpu_percent",
        ] {
            assert!(r[f].as_f64().is_some(), "{f} is measured: {r}");
        }
        // No target: process fields are null and explained.
        assert!(r["process_memory_mb"].is_null());
        let why: Vec<&str> = r["unavailable"]
            .as_array()
            .expect("unavailable")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(why.contains(&"process_memory_mb: no target"), "{why:?}");
        // The output's directory exists and holds the output (a few hundred bytes at least).
        assert!(
            r["watch_deep_bytes"].as_u64().is_some_and(|b| b > 100),
            "{r}"
        );
        let e = r["elapsed_s"].as_f64().expect("elapsed");
        assert!(e > last_elapsed);
        last_elapsed = e;
    }
    // The first sample's CPU is measured over the warm-up, not a fake 0.
    assert!(s[0]["cpu_percent"].as_f64().is_some());
    assert!(s[0]["monitor_memory_mb"].as_f64().is_some_and(|m| m > 0.0));
}

const GROWER: &str = r#"
import subprocess, sys, time
kids = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
rate = 20 * 2**20          # bytes per second
chunk = 2**20
held = []
t0 = time.monotonic()
while True:
    t = time.monotonic() - t0
    if t >= 3.0:
        break
    while len(held) * chunk < rate * t:
        held.append(b"x" * chunk)   # bytes objects are written, so resident
    time.sleep(0.01)
time.sleep(0.6)
for k in kids:
    k.kill(); k.wait()
sys.exit(7)
"#;

fn ols_slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let num: f64 = points.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let den: f64 = points.iter().map(|(x, _)| (x - mx) * (x - mx)).sum();
    num / den
}

#[test]
fn launched_command_growth_tree_and_exit_status() {
    if Command::new("python3").arg("-V").output().is_err() {
        eprintln!("skipped: python3 is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("res.jsonl");
    let assert = resmon()
        .args(["--interval", "100ms", "--pss-every", "5", "--output"])
        .arg(&out)
        .args(["--", "python3", "-c", GROWER])
        .assert()
        .code(7);
    drop(assert);
    let recs = records(&out);
    let exit = events(&recs, "target_exit");
    assert_eq!(exit.len(), 1, "{recs:#?}");
    assert_eq!(exit[0]["exit_code"], 7);
    assert_eq!(recs.last().expect("stop")["reason"], "target_exit");
    let s = samples(&recs);
    let pid = recs[0]["pid"].as_i64().expect("start names the pid");
    assert!(s.iter().all(|r| r["pid"].as_i64() == Some(pid)));

    // Tree totals include the two children.
    let with_kids: Vec<&&Value> = s
        .iter()
        .filter(|r| r["tree_process_count"].as_u64() == Some(3))
        .collect();
    assert!(!with_kids.is_empty(), "python + 2 sleeps seen: {s:#?}");
    for r in &with_kids {
        let own = r["process_memory_mb"].as_f64().expect("rss");
        let tree = r["tree_memory_mb"].as_f64().expect("tree rss");
        assert!(tree > own, "tree {tree} > own {own}");
        assert!(r["tree_threads"].as_u64() >= Some(3));
        assert!(r["tree_fds"].as_u64() >= r["process_fds"].as_u64());
    }
    // PSS every 5th sample, null otherwise.
    for r in &s {
        let seq = r["seq"].as_u64().expect("seq");
        if seq % 5 != 0 {
            assert!(r["tree_pss_mb"].is_null());
        }
    }
    assert!(
        s.iter()
            .any(|r| r["tree_pss_mb"].as_f64().is_some_and(|v| v > 0.0))
    );

    // RSS grows at the script's 20 MB/s: slope over the growth phase within 35 %.
    let mem: Vec<(f64, f64)> = s
        .iter()
        .filter_map(|r| Some((r["elapsed_s"].as_f64()?, r["process_memory_mb"].as_f64()?)))
        .collect();
    let base = mem.iter().map(|m| m.1).fold(f64::MAX, f64::min);
    let peak = mem.iter().map(|m| m.1).fold(0.0, f64::max);
    assert!(peak - base > 40.0, "grew {base} → {peak}: {mem:?}");
    // The growth phase: after the start-up, before the peak (the exiting interpreter frees
    // its memory, and a sample may catch that).
    let peak_at = mem.iter().position(|m| m.1 >= peak).unwrap_or(mem.len());
    let growth: Vec<(f64, f64)> = mem[..peak_at]
        .iter()
        .copied()
        .filter(|m| m.1 > base + 6.0 && m.1 < peak - 6.0)
        .collect();
    assert!(growth.len() >= 4, "samples during growth: {mem:?}");
    let slope = ols_slope(&growth);
    assert!(
        (13.0..=27.0).contains(&slope),
        "slope {slope:.1} MB/s, expected 20: {growth:?}"
    );
}

fn spawn_resmon(args: &[&str], out: &Path) -> Child {
    resmon()
        .args(args)
        .arg("--output")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn resmon")
}

#[test]
fn sigterm_writes_a_last_sample_and_the_stop_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("res.jsonl");
    let mut child = spawn_resmon(&["--interval", "30s"], &out);
    wait_for(&out, "the first sample", |r| !samples(r).is_empty());
    kill(child.id(), "-TERM");
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(0));
    let recs = records(&out);
    let n = recs.len();
    assert_eq!(recs[n - 2]["type"], "sample", "a last sample: {recs:#?}");
    assert_eq!(recs[n - 2]["seq"], 1);
    assert_eq!(recs[n - 1]["event"], "stop");
    assert_eq!(recs[n - 1]["reason"], "signal");
    assert_eq!(recs[n - 1]["signal"], "SIGTERM");
}

#[test]
fn pid_target_ends_the_run_when_it_exits() {
    let mut target = Command::new("sleep").arg("1").spawn().expect("sleep");
    let pid = target.id().to_string();
    let out = resmon()
        .args(["--interval", "100ms", "--pid", &pid])
        .output()
        .expect("run");
    let _ = target.wait();
    assert_eq!(out.status.code(), Some(0));
    let recs = records_of(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        events(&recs, "target_exit")[0]["pid"].as_u64(),
        pid.parse().ok()
    );
    assert_eq!(recs.last().expect("stop")["reason"], "target_exit");
    let s = samples(&recs);
    assert!(s.iter().any(|r| r["process_memory_mb"].as_f64().is_some()));
}

#[test]
fn name_target_is_followed_across_a_restart() {
    let marker = format!("resmon-svc-{}", std::process::id());
    let start_service = || {
        Command::new("bash")
            .args(["-c", &format!("exec -a {marker} sleep 120")])
            .spawn()
            .expect("spawn service")
    };
    let mut first = start_service();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("res.jsonl");
    let mut mon = spawn_resmon(&["--interval", "100ms", "--name", &marker], &out);
    let p1 = u64::from(first.id());
    wait_for(&out, "a sample of the first service", |r| {
        samples(r).iter().any(|s| s["pid"].as_u64() == Some(p1))
    });
    first.kill().expect("kill first");
    first.wait().expect("reap first");
    let mut second = start_service();
    let p2 = u64::from(second.id());
    let recs = wait_for(&out, "the restart", |r| {
        samples(r).iter().any(|s| s["pid"].as_u64() == Some(p2))
    });
    kill(mon.id(), "-INT");
    let status = wait_exit(&mut mon);
    let _ = second.kill();
    let _ = second.wait();
    // SIGINT is 130, as in every tool of the kit (issue 16).
    assert_eq!(status.code(), Some(130));
    assert_eq!(events(&recs, "target_exit")[0]["pid"].as_u64(), Some(p1));
    let restart = events(&recs, "target_restart");
    assert_eq!(restart.len(), 1, "{recs:#?}");
    assert_eq!(restart[0]["old_pid"].as_u64(), Some(p1));
    assert_eq!(restart[0]["new_pid"].as_u64(), Some(p2));
    // While the service was down its fields were null and explained, never zero.
    for s in samples(&recs) {
        if s["pid"].is_null() {
            assert!(s["process_memory_mb"].is_null());
        } else {
            assert!(s["process_memory_mb"].as_f64().is_some_and(|m| m > 0.0));
        }
    }
}

#[test]
fn missing_pid_exits_2_naming_it() {
    let out = resmon()
        .args(["--pid", "2147483647", "--count", "1"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--pid 2147483647"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn bad_flags_exit_2() {
    for args in [
        &["--interval", "soon"][..],
        &["--interval", "0s"],
        &["--name", "("],
        &["--pid", "1", "--name", "x"],
    ] {
        let out = resmon().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn unwritable_output_exits_3_naming_the_path() {
    let out = resmon()
        .args(["--count", "1", "--output", "/proc/version/res.jsonl"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/proc/version/res.jsonl"), "{err}");
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut body = String::new();
    s.read_to_string(&mut body).expect("read");
    body
}

#[test]
fn metrics_endpoint_and_textfile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("res.jsonl");
    let prom: PathBuf = dir.path().join("resmon.prom");
    let mut mon = spawn_resmon(
        &[
            "--interval",
            "100ms",
            "--listen",
            "127.0.0.1:0",
            "--prom-textfile",
            prom.to_str().expect("utf-8"),
        ],
        &out,
    );
    let recs = wait_for(&out, "a sample", |r| !samples(r).is_empty());
    let addr = recs[0]["listen"]
        .as_str()
        .expect("bound address")
        .to_string();
    let mut response = String::new();
    for _ in 0..50 {
        response = http_get(&addr, "/metrics");
        if response.contains("resmon_memory_total_bytes") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let missing = http_get(&addr, "/nope");
    kill(mon.id(), "-TERM");
    let status = wait_exit(&mut mon);
    assert_eq!(status.code(), Some(0));
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("application/openmetrics-text; version=1.0.0"),
        "{response}"
    );
    assert!(response.contains("# TYPE resmon_memory_total_bytes gauge\n"));
    assert!(response.contains("# HELP resmon_memory_total_bytes "));
    assert!(response.contains("\nresmon_network_transmit_bytes_total "));
    assert!(response.ends_with("# EOF\n"), "{response}");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

    let text = std::fs::read_to_string(&prom).expect("textfile written");
    assert!(text.contains("\nresmon_memory_total_bytes "), "{text}");
    assert!(!text.contains("# EOF"));
    let memory_total = records(&out)
        .iter()
        .find_map(|r| r["memory_total_mb"].as_f64())
        .expect("memory_total_mb");
    let exported: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("resmon_memory_total_bytes "))
        .and_then(|v| v.trim().parse().ok())
        .expect("value");
    assert!(
        (exported / 1048576.0 - memory_total).abs() < 0.01,
        "base units"
    );
    match Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&prom).expect("open"))
        .output()
    {
        Ok(o) => {
            let said = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "promtool: {said}");
        }
        Err(_) => eprintln!("skipped promtool check: promtool is not installed"),
    }
}

#[test]
fn pid_file_is_reread_when_the_service_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("svc.pid");
    let out = dir.path().join("res.jsonl");
    let mut first = Command::new("sleep").arg("120").spawn().expect("first");
    std::fs::write(&pid_file, format!("{}\n", first.id())).expect("write pid");
    let mut mon = spawn_resmon(
        &[
            "--interval",
            "100ms",
            "--pid-file",
            pid_file.to_str().expect("utf-8"),
        ],
        &out,
    );
    let p1 = u64::from(first.id());
    wait_for(&out, "a sample of the first service", |r| {
        samples(r).iter().any(|s| s["pid"].as_u64() == Some(p1))
    });
    first.kill().expect("kill first");
    first.wait().expect("reap first");
    let mut second = Command::new("sleep").arg("120").spawn().expect("second");
    std::fs::write(&pid_file, format!("{}\n", second.id())).expect("rewrite pid");
    let p2 = u64::from(second.id());
    let recs = wait_for(&out, "the restart", |r| {
        !events(r, "target_restart").is_empty()
    });
    kill(mon.id(), "-TERM");
    let status = wait_exit(&mut mon);
    let _ = second.kill();
    let _ = second.wait();
    assert_eq!(status.code(), Some(0));
    let restart = events(&recs, "target_restart");
    assert_eq!(restart[0]["old_pid"].as_u64(), Some(p1));
    assert_eq!(restart[0]["new_pid"].as_u64(), Some(p2));
    assert_eq!(recs[0]["target"]["kind"], "pid_file");
}

/// A `--pid` that ends after resmon attached to it but before its first sample leaves
/// nothing recorded: never exit 0 (a pass on no data), but 2 naming the PID, after the stop
/// event (`samples: 0`). resmon is held between the two by its stdout: a pipe filled before
/// it starts, so it blocks writing its start event until the test has ended the target.
#[test]
fn pid_ended_before_the_first_sample_is_not_a_pass() {
    use nix::fcntl::{FcntlArg, OFlag, fcntl};

    let (mut reader, mut writer) = std::io::pipe().expect("pipe");
    let flags = OFlag::from_bits_truncate(fcntl(&writer, FcntlArg::F_GETFL).expect("getfl"));
    fcntl(&writer, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK)).expect("nonblocking");
    let chunk = [b'\n'; 4096];
    loop {
        match writer.write(&chunk) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the pipe: {e}"),
        }
    }
    fcntl(&writer, FcntlArg::F_SETFL(flags)).expect("blocking again");

    let mut target = Command::new("sleep").arg("300").spawn().expect("sleep");
    let pid = target.id();
    let mut run = resmon()
        .args(["--interval", "100ms", "--pid", &pid.to_string()])
        .stdout(Stdio::from(std::process::ChildStdout::from(
            std::os::fd::OwnedFd::from(writer),
        )))
        .stderr(Stdio::piped())
        .spawn()
        .expect("resmon");
    // Attached (the PID checked), now blocked writing the start event into the full pipe.
    let wchan = format!("/proc/{}/wchan", run.id());
    let start = Instant::now();
    loop {
        let now = std::fs::read_to_string(&wchan).unwrap_or_default();
        if now.contains("pipe_write") {
            break;
        }
        // A running process shows "0"; where wchan is hidden it never shows anything else.
        if start.elapsed() > Duration::from_secs(20) {
            let _ = run.kill();
            let _ = run.wait();
            let _ = target.kill();
            let _ = target.wait();
            eprintln!("SKIP: /proc/PID/wchan does not show a blocked pipe write here ({now:?})");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    target.kill().expect("kill the target");
    target.wait().expect("reap the target");
    let drain = std::thread::spawn(move || {
        let mut all = Vec::new();
        reader.read_to_end(&mut all).expect("read");
        all
    });
    let status = wait_exit(&mut run);
    let mut err = String::new();
    run.stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    let out = drain.join().expect("drain");
    let text = String::from_utf8_lossy(&out);
    let recs: Vec<Value> = text
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("--pid {pid}: ended before the first sample")),
        "{err}"
    );
    assert!(samples(&recs).is_empty());
    let stop = events(&recs, "stop");
    assert_eq!(stop[0]["samples"], 0);
    assert_eq!(stop[0]["exit_code"], 2);
}
