//! `cargo xtask soak --demo` end to end, with the debug binaries `cargo test --workspace` built:
//! a clean run passes every row and notifies a loopback receiver; each fault fails its own row;
//! a service killed by SIGKILL and a Ctrl-C still give a complete verdict; nothing is left
//! running afterwards; a chatty service is held to the disk budget.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;
use common::{bin_dir, failing, processes_mentioning, row, run_dir, soak_cmd, summary};

/// The demo soak, its faults starting after 4 s.
fn soak(out: &Path, extra: &[&str]) -> Command {
    let mut c = soak_cmd(out);
    c.args(["--demo", "--fault-after", "4s"]).args(extra);
    c
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
        Some(13),
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

/// A run directory's file as text, whether or not the final pass compressed it.
fn artifact(dir: &Path, name: &str) -> String {
    if let Ok(t) = std::fs::read_to_string(dir.join(name)) {
        return t;
    }
    let raw = std::fs::read(dir.join(format!("{name}.gz"))).expect(name);
    let mut t = String::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_string(&mut t)
        .expect("gunzip");
    t
}

/// The numbered lines of a rotated log's parts that are left (`service.log.STAMP[.N][.gz]`
/// oldest first, then the live file, itself perhaps compressed by the final pass).
fn surviving_lines(dir: &Path) -> Vec<u64> {
    let mut parts: Vec<((u64, u64, bool), PathBuf)> = std::fs::read_dir(dir)
        .expect("run dir")
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let rest = name.strip_prefix("service.log")?;
            let rest = rest.strip_suffix(".gz").unwrap_or(rest);
            if rest.is_empty() {
                return Some(((u64::MAX, 0, true), e.path()));
            }
            let rest = rest.strip_prefix('.')?;
            let (stamp, n) = rest.split_once('.').unwrap_or((rest, "0"));
            Some(((stamp.parse().ok()?, n.parse().ok()?, false), e.path()))
        })
        .collect();
    parts.sort();
    let mut text = String::new();
    for (_, p) in parts {
        let raw = std::fs::read(&p).expect("part");
        if p.extension().is_some_and(|x| x == "gz") {
            flate2::read::MultiGzDecoder::new(&raw[..])
                .read_to_string(&mut text)
                .expect("gunzip");
        } else {
            text.push_str(&String::from_utf8_lossy(&raw));
        }
    }
    text.lines()
        .filter_map(|l| l.strip_prefix("line "))
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect()
}

#[test]
fn a_chatty_service_is_held_to_the_disk_budget_without_a_gap_in_its_log() {
    let out = tempfile::tempdir().expect("tmp");
    // ~400 kB/s of lines that compress only about 2x: more than the budget within seconds.
    let chatty = "import os, sys, time\n\
                  n = 0\n\
                  while True:\n\
                  \x20   for _ in range(400):\n\
                  \x20       n += 1\n\
                  \x20       sys.stdout.write('line %d %s\\n' % (n, os.urandom(40).hex()))\n\
                  \x20   sys.stdout.flush()\n\
                  \x20   time.sleep(0.1)\n";
    let status = soak_cmd(out.path())
        .args([
            "--duration",
            "15s",
            "--max-total",
            "1MB",
            "--max-log-size",
            "128KB",
            "--logrotate-every",
            "1s",
            "--",
            "python3",
            "-c",
            chatty,
        ])
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert!(status.code().is_some(), "{status:?}");
    let s = summary(out.path());
    let disk = row(&s, "Disk usage");
    assert_eq!(disk["status"], "pass", "{disk:#}");
    let dir = run_dir(out.path());
    let rotations = artifact(&dir, "logrotate.jsonl") + &artifact(&dir, "logrotate-final.jsonl");
    assert!(
        rotations.contains("\"action\":\"rotate\"") && rotations.contains("\"action\":\"delete\""),
        "the live log was rotated and old parts deleted: {rotations}"
    );
    let lines = surviving_lines(&dir);
    let (first, last) = (lines[0], *lines.last().expect("lines"));
    assert!(
        last > 20_000,
        "the service wrote {last} lines, more than the budget holds"
    );
    assert!(first > 1, "the oldest part was deleted for the budget");
    let expected: Vec<u64> = (first..=last).collect();
    assert!(
        lines == expected,
        "what is kept is one unbroken stretch of the log ({} lines from {first} to {last})",
        lines.len()
    );
    assert_eq!(
        processes_mentioning(&dir.display().to_string()),
        Vec::<String>::new()
    );
}

/// A child process killed when the test ends, however it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// exchange-sim as a process with Kraken credentials in its environment; its URL.
fn start_sim(key: &str, secret_b64: &str) -> (KillOnDrop, String) {
    let orders = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/exchange-sim/orders.json");
    let mut sim = Command::new(bin_dir().join("exchange-sim"))
        .arg("--orders")
        .arg(orders)
        .env("KRAKEN_API_KEY", key)
        .env("KRAKEN_API_SECRET", secret_b64)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("exchange-sim");
    let mut first = String::new();
    let mut stdout = BufReader::new(sim.stdout.take().expect("stdout"));
    stdout.read_line(&mut first).expect("url line");
    std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
    let url = serde_json::from_str::<Value>(&first).expect("json")["url"]
        .as_str()
        .expect("url")
        .to_string();
    (KillOnDrop(sim), url)
}

/// A plain GET on loopback; the body.
fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").expect("http url");
    let (host, path) = rest.split_once('/').expect("path");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn a_kraken_soak_keeps_the_dead_man_switch_armed_and_it_fires_when_the_service_dies() {
    let out = tempfile::tempdir().expect("tmp");
    let (key, secret) = ("soak-test-key", "c29hay10ZXN0LXNlY3JldC12YWx1ZQ==");
    let (sim, url) = start_sim(key, secret);
    let state = out.path().join("active_orders.json");
    std::fs::write(&state, "{}").expect("state");
    // The service dies hard after 3 s, as a bot killed by the OOM killer would.
    let status = soak_cmd(out.path())
        .args([
            "--duration",
            "30s",
            "--exchange",
            "kraken",
            "--exchange-url",
            &url,
        ])
        .arg("--state-file")
        .arg(&state)
        .args([
            "--dead-man-timeout",
            "3s",
            "--",
            "sh",
            "-c",
            "sleep 3; kill -KILL $$",
        ])
        .env("KRAKEN_API_KEY", key)
        .env("KRAKEN_API_SECRET", secret)
        .stdout(Stdio::null())
        .status()
        .expect("run");
    assert_eq!(status.code(), Some(1), "the run ended early");
    let dir = run_dir(out.path());
    let events = artifact(&dir, "dead-man.jsonl");
    assert!(events.contains("\"event\":\"armed\""), "{events}");
    assert!(!events.contains("\"event\":\"disarmed\""), "{events}");
    let s = summary(out.path());
    let orphans = row(&s, "Orphan orders");
    assert_eq!(orphans["status"], "fail", "{orphans:#}");
    // Within the timeout of the last re-arm, the exchange cancels every Kraken order itself.
    let deadline = Instant::now() + Duration::from_secs(15);
    let cancelled_by_timer = |book: &str| {
        let v: Value = serde_json::from_str(book).unwrap_or(Value::Null);
        let kraken: Vec<&Value> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| o["exchange"] == "kraken")
            .collect();
        !kraken.is_empty()
            && kraken
                .iter()
                .all(|o| o["cancelled_by"] == "CancelAllOrdersAfter (timer fired)")
    };
    let mut book = http_get(&format!("{url}/sim/orders"));
    while !cancelled_by_timer(&book) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(300));
        book = http_get(&format!("{url}/sim/orders"));
    }
    drop(sim);
    assert!(cancelled_by_timer(&book), "{book}");
}

#[test]
fn a_vulnerable_lockfile_fails_the_security_row_and_only_it() {
    let out = tempfile::tempdir().expect("tmp");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seccheck");
    let status = soak(out.path(), &["--duration", "15s", "--advisory-db"])
        .arg(fixtures.join("advisory-db"))
        .arg("--project")
        .arg(fixtures.join("lockfiles/zola-0.16.0"))
        .stdout(Stdio::null())
        .status()
        .expect("run");
    let s = summary(out.path());
    assert_eq!(failing(&s), vec!["Security issues".to_string()], "{s:#}");
    assert_eq!(status.code(), Some(1));
    let deps = artifact(&run_dir(out.path()), "deps.jsonl");
    assert!(deps.contains("\"type\":\"finding\""), "{deps}");
}

/// Without `--advisory-db` the audit reads seccheck's cache: filled by `seccheck db update`
/// from a git remote (a local one here), it finds the lockfile's vulnerabilities offline; an
/// empty cache offline fails the row closed, naming the command that fills it.
#[test]
fn without_a_database_the_audit_reads_seccheck_s_cache_and_fails_closed_when_empty() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("skipped: git is not installed");
        return;
    }
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/seccheck");
    let zola = fixtures.join("lockfiles/zola-0.16.0");
    let work = tempfile::tempdir().expect("tmp");
    // An advisory-db remote: the fixture's advisories committed to a fresh repository.
    let remote = work.path().join("advisory-db");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(fixtures.join("advisory-db"))
        .arg(&remote)
        .status()
        .expect("cp");
    assert!(copied.success());
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "advisories",
        ],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(&remote)
            .status()
            .expect("git");
        assert!(ok.success(), "git {args:?}");
    }

    // A short offline soak of the zola project with `cache`: only the security row fails.
    let soak_with_cache = |cache: &Path| {
        let out = tempfile::tempdir().expect("tmp");
        let status = soak_cmd(out.path())
            .args(["--duration", "5s", "--offline", "--project"])
            .arg(&zola)
            .arg("--advisory-cache")
            .arg(cache)
            .args(["--", "sleep", "60"])
            .stdout(Stdio::null())
            .status()
            .expect("run");
        let s = summary(out.path());
        assert_eq!(failing(&s), vec!["Security issues".to_string()], "{s:#}");
        assert_eq!(status.code(), Some(1));
        s
    };

    // An empty cache, offline: the row fails, and says how to fill it.
    let s = soak_with_cache(&work.path().join("empty-cache"));
    let detail = row(&s, "Security issues")["detail"].to_string();
    assert!(detail.contains("seccheck db update"), "{detail}");

    // Filled from the remote, the cache audits the lockfile offline.
    let cache = work.path().join("cache");
    let filled = Command::new(bin_dir().join("seccheck"))
        .args(["db", "update", "--only", "rustsec", "--cache-dir"])
        .arg(&cache)
        .arg("--rustsec-url")
        .arg(format!("file://{}", remote.display()))
        .stdout(Stdio::null())
        .status()
        .expect("seccheck db update");
    assert!(filled.success());
    let s = soak_with_cache(&cache);
    let security = row(&s, "Security issues");
    assert_ne!(security["value"], "0", "{security}");
    assert!(
        security["detail"]
            .as_str()
            .expect("detail")
            .starts_with("seccheck deps:"),
        "{security}"
    );
}
