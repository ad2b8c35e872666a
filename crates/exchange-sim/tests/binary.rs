//! The `exchange-sim` binary: prints its URL first, answers on loopback, refuses a bad
//! signature, and ends with a summary on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

fn get(url: &str, path: &str, headers: &str) -> String {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{headers}\r\n").expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text
}

#[test]
fn serves_on_loopback_and_stops_with_a_summary() {
    let bin = assert_cmd::cargo::cargo_bin("exchange-sim");
    let mut child = Command::new(bin)
        .args([
            "--orders",
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../fixtures/exchange-sim/orders.json"
            ),
        ])
        .env("BYBIT_API_KEY", "k")
        .env("BYBIT_API_SECRET", "s")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first: serde_json::Value =
        serde_json::from_str(&lines.next().expect("line").expect("read")).expect("json");
    assert_eq!(first["event"], "listening");
    assert_eq!(first["orders"], 6);
    let url = first["url"].as_str().expect("url").to_string();
    assert!(url.starts_with("http://127.0.0.1:"));

    let time = get(&url, "/v5/market/time", "");
    assert!(time.contains("\"retCode\":0"), "{time}");
    let refused = get(
        &url,
        "/v5/order/realtime?category=linear&settleCoin=USDT",
        "X-BAPI-API-KEY: k\r\nX-BAPI-TIMESTAMP: 1\r\nX-BAPI-SIGN: 00\r\n",
    );
    assert!(
        refused.contains("\"retCode\":10002"),
        "a timestamp from 1970: {refused}"
    );
    let orders = get(&url, "/sim/orders", "");
    assert_eq!(orders.matches("\"status\":\"open\"").count(), 6);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(child.wait().expect("wait").success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let summary: serde_json::Value =
        serde_json::from_str(rest.last().expect("summary")).expect("json");
    assert_eq!(
        (summary["type"].as_str(), summary["open_orders"].as_u64()),
        (Some("summary"), Some(6))
    );
}

fn sim_refuses(args: &[&str]) -> String {
    let out = Command::new(assert_cmd::cargo::cargo_bin("exchange-sim"))
        .args(args)
        .env("KRAKEN_API_KEY", "k")
        .env("KRAKEN_API_SECRET", "c2VjcmV0")
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(out.stdout.is_empty(), "{args:?}: never started");
    err
}

#[test]
fn a_clock_skew_beyond_a_year_or_a_broken_key_flag_is_refused_with_exit_2() {
    for skew in [
        "9223372036854775807",
        "-9223372036854775808",
        "31622400001",
        "1e3",
        "99999999999999999999",
    ] {
        let err = sim_refuses(&["--skew-ms", skew]);
        assert!(err.contains("--skew-ms"), "{err}");
    }
    for pair in ["ONLY_ONE", "A:B:C", ":B"] {
        let err = sim_refuses(&["--kraken-key", pair]);
        assert!(err.contains("--kraken-key"), "{err}");
    }
    let err = sim_refuses(&[
        "--kraken-key",
        "SOAKKIT_UNSET_KEY_VAR:SOAKKIT_UNSET_SECRET_VAR",
    ]);
    assert!(err.contains("SOAKKIT_UNSET_KEY_VAR"), "{err}");
}

/// Starts the simulator with `args`; its first line (the `listening` event).
fn serving_event(args: &[&str]) -> (Killed, serde_json::Value) {
    serving_event_with(args, &[])
}

/// Starts the simulator with `args` and `env`; its first line (the `listening` event).
fn serving_event_with(args: &[&str], env: &[(&str, &Path)]) -> (Killed, serde_json::Value) {
    let bin = assert_cmd::cargo::cargo_bin("exchange-sim");
    let mut cmd = Command::new(bin);
    cmd.args(args).stdout(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = Killed(cmd.spawn().expect("spawn"));
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout")).lines();
    let first: serde_json::Value =
        serde_json::from_str(&lines.next().expect("line").expect("read")).expect("json");
    (child, first)
}

/// Starts the simulator with `args`; its URL from the first line.
fn serving(args: &[&str]) -> (Killed, String) {
    let (child, first) = serving_event(args);
    (child, first["url"].as_str().expect("url").to_string())
}

/// The answer of Kraken's `/0/public/Time`.
fn kraken_time(url: &str) -> serde_json::Value {
    let time = get(url, "/0/public/Time", "");
    let body = time.split("\r\n\r\n").nth(1).expect("body");
    serde_json::from_str(body).expect("json")
}

/// Kills the simulator when the test ends, also when it fails (its stderr is the test's).
struct Killed(std::process::Child);

impl Killed {
    /// Sends SIGTERM (the ordinary stop) and waits for the exit.
    fn stop_with_sigterm(&mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill");
        self.0.wait().expect("wait")
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn unknown_paths_get_the_exchanges_error_bodies_never_an_empty_404() {
    let (mut child, url) = serving(&["--skew-ms", "-31622400000"]);
    // A year of skew either way still gives a positive, sane clock.
    let v = kraken_time(&url);
    assert!(
        v["result"]["unixtime"].as_i64() > Some(1_600_000_000),
        "{v}"
    );
    assert!(
        v["result"]["rfc1123"]
            .as_str()
            .is_some_and(|s| s.ends_with("+0000")),
        "{v}"
    );
    for (path, code) in [
        ("/v5/order/nonexistent", "\"retCode\":10001"),
        (
            "/v5/account/wallet-balance?accountType=UNIFIED",
            "\"retCode\":10001",
        ),
        ("/0/private", "EGeneral:Unknown method"),
        ("/somewhere/else", "error"),
    ] {
        let answer = get(&url, path, "");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains("404"), "{path}: {head}");
        assert!(body.contains(code), "{path}: {body:?}");
        serde_json::from_str::<serde_json::Value>(body).expect("a JSON body");
    }
    // Kraken answers an unknown public method with its error in a 200.
    let answer = get(&url, "/0/public/Nope", "");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "{answer}"
    );
    assert!(
        answer.ends_with("{\"error\":[\"EGeneral:Unknown method\"]}"),
        "{answer}"
    );
    assert!(child.stop_with_sigterm().success());
}

#[test]
fn sigint_ends_it_with_130_and_its_summary() {
    let bin = assert_cmd::cargo::cargo_bin("exchange-sim");
    let mut child = Killed(
        Command::new(bin)
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut lines = BufReader::new(child.0.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("line").expect("read");
    assert!(first.contains("\"listening\""), "{first}");
    Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .expect("kill");
    assert_eq!(child.0.wait().expect("wait").code(), Some(130));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(
        rest.last()
            .is_some_and(|l| l.contains("\"reason\":\"SIGINT\"")),
        "{rest:?}"
    );
}

/// The server's Kraken clock (whole seconds) with `args`, and the real time read just before
/// the request.
fn served_unixtime(args: &[&str]) -> (i64, i64) {
    let (_child, url) = serving(args);
    let real = exchange_sim::real_now_ms() / 1000;
    let v = kraken_time(&url);
    (v["result"]["unixtime"].as_i64().expect("unixtime"), real)
}

#[test]
fn skew_takes_a_signed_duration_and_the_old_milliseconds_spelling_still_works() {
    // Two hours behind, as a duration and as the old `--skew-ms` milliseconds: the served clock
    // is shifted by exactly that, give or take the second the request takes.
    for args in [&["--skew", "-2h"][..], &["--skew-ms", "-7200000"][..]] {
        let (served, real) = served_unixtime(args);
        let offset = served - real;
        assert!(
            (-7201..=-7199).contains(&offset),
            "{args:?}: offset {offset} s"
        );
    }
    let (served, real) = served_unixtime(&["--skew", "1h30m"]);
    assert!(
        (5399..=5401).contains(&(served - real)),
        "{}",
        served - real
    );
    for skew in ["2y", "400d", "-367d", "--", "soon"] {
        let err = sim_refuses(&["--skew", skew]);
        assert!(err.contains("--skew"), "{skew}: {err}");
    }
    let err = sim_refuses(&["--skew", "1s", "--skew-ms", "1000"]);
    assert!(err.contains("cannot be used with"), "{err}");
}

#[test]
fn rate_limit_takes_a_rate_or_a_bare_number_per_second() {
    for (arg, per_s) in [("10", 10), ("10/s", 10), ("600/min", 10), ("0", 0)] {
        let (_sim, first) = serving_event(&["--rate-limit", arg]);
        assert_eq!(first["rate_limit_per_s"], per_s, "--rate-limit {arg}");
    }
    for bad in ["5/min", "1.5/s", "-3/s", "fast"] {
        let err = sim_refuses(&[&format!("--rate-limit={bad}")]);
        assert!(err.contains("--rate-limit"), "{bad}: {err}");
    }
}

/// Starts the simulator with `GITHUB_STEP_SUMMARY` set and `args`, stops it with SIGTERM.
fn stopped_under_actions(step_summary: &Path, args: &[&str]) {
    let (mut child, first) = serving_event_with(args, &[("GITHUB_STEP_SUMMARY", step_summary)]);
    assert_eq!(first["event"], "listening");
    assert!(child.stop_with_sigterm().success());
}

#[test]
fn the_step_summary_is_written_only_when_asked() {
    let dir = tempfile::tempdir().expect("tmp");
    let job = dir.path().join("job-summary.md");
    stopped_under_actions(&job, &[]);
    assert!(
        !job.exists(),
        "a simulator's runs stay out of the job's summary"
    );
    let asked = dir.path().join("asked.md");
    stopped_under_actions(&job, &["--summary-md", asked.to_str().expect("utf-8")]);
    let md = std::fs::read_to_string(&asked).expect("--summary-md written");
    assert!(
        md.starts_with("## exchange-sim\n\n") && md.contains("reason=SIGTERM"),
        "{md}"
    );
    assert!(!job.exists());
}
