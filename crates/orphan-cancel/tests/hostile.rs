//! Hostile and unlucky input to the orphan-cancel binary: every case asserts the documented
//! exit code (2 bad local input before any request, 3 the exchange refused, 1 a check failed),
//! a one-line message naming the flag, variable, file or line, that no secret is printed, and
//! from the simulator's own book and counters that nothing was sent or cancelled that should
//! not have been.

mod common;

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};

use common::{BYBIT_SECRET, kraken_secret, oc, oc_at, sim_config};
use exchange_sim::book::{SimOrder, Venue};
use exchange_sim::{Running, start};
use serde_json::json;

/// A simulator holding 30 Bybit and 30 Kraken `BOT_` orders nobody knows (orphans) and one
/// manual order on each.
fn sim_with_orphans(read_only: &[&str]) -> Running {
    start(orphans_config(read_only)).expect("simulator")
}

/// The configuration of [`sim_with_orphans`].
fn orphans_config(read_only: &[&str]) -> exchange_sim::SimConfig {
    let mut cfg = sim_config(0);
    for (venue, symbol) in [(Venue::Bybit, "BTCUSDT"), (Venue::Kraken, "XBTUSD")] {
        for i in 0..31 {
            let client = if i == 30 {
                "manual".to_string()
            } else {
                format!("BOT_{i}")
            };
            let o: SimOrder = serde_json::from_value(json!({
                "exchange": venue,
                "category": (venue == Venue::Bybit).then_some("linear"),
                "client_id": client,
                "symbol": symbol,
            }))
            .expect("order");
            cfg.orders.push(o);
        }
    }
    cfg.read_only_keys = read_only.iter().map(|k| k.to_string()).collect();
    cfg
}

fn open_orders(sim: &Running) -> usize {
    sim.orders().iter().filter(|o| o.is_open()).count()
}

fn private_requests(sim: &Running) -> u64 {
    sim.stats().private_requests
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write");
    p
}

/// Runs orphan-cancel; returns (exit code, stdout, stderr).
fn run(cmd: &mut assert_cmd::Command) -> (Option<i32>, String, String) {
    let out = cmd.output().expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The error is one line, contains every `needle`, and shows no secret.
fn one_line_naming(stderr: &str, needles: &[&str]) {
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr:?}");
    for n in needles {
        assert!(stderr.contains(n), "{n:?} not in {stderr:?}");
    }
    for secret in [BYBIT_SECRET.to_string(), kraken_secret()] {
        assert!(!stderr.contains(&secret), "secret printed: {stderr}");
    }
}

fn reconcile(sim: &Running, exchange: &str, state: &Path) -> assert_cmd::Command {
    let mut c = oc_at("reconcile", exchange, &sim.url);
    c.args(["--format", "jsonl"]).arg("--state").arg(state);
    c
}

fn empty_state(dir: &Path) -> PathBuf {
    write(dir, "state.json", b"[]")
}

#[test]
fn malformed_base_urls_are_exit_2_before_any_request() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let port = sim.url.rsplit(':').next().expect("port").to_string();
    for url in [
        "not a url".to_string(),
        "127.0.0.1:1".to_string(),
        format!("ftp://127.0.0.1:{port}"),
        "http://".to_string(),
        format!("http://user:pw@127.0.0.1:{port}"),
        format!("{}?category=spot", sim.url),
        format!("{}#x", sim.url),
        format!("http://127.0.0.1:{port}\n"),
    ] {
        for exchange in ["bybit", "kraken"] {
            let (code, _, err) = run(oc_at("reconcile", exchange, &url)
                .arg("--state")
                .arg(&state));
            assert_eq!(code, Some(2), "{url:?}: {err}");
            one_line_naming(&err, &["--exchange-url"]);
        }
    }
    assert_eq!(sim.stats().by_path.len(), 0, "nothing reached the exchange");
}

#[test]
fn unknown_exchanges_are_usage_errors_naming_the_flag_before_any_request() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    for exchange in ["binance", "Bybit", "file:", "", "bybit testnet"] {
        for sub in ["reconcile", "cancel", "cancel-all", "dead-man"] {
            let mut c = oc_at(sub, exchange, &sim.url);
            if sub != "cancel-all" && sub != "dead-man" {
                c.arg("--state-file").arg(&state);
            }
            let (code, out, err) = run(&mut c);
            assert_eq!(code, Some(2), "{sub} --exchange {exchange:?}: {err}");
            assert!(
                out.is_empty(),
                "{sub} --exchange {exchange:?}: nothing on stdout: {out}"
            );
            one_line_naming(
                &err,
                &[
                    "--exchange",
                    "expected bybit, bybit-testnet, kraken or file:PATH",
                ],
            );
        }
    }
    assert_eq!(sim.stats().by_path.len(), 0, "nothing reached the exchange");
}

#[test]
fn credentials_that_cannot_be_sent_are_exit_2_naming_the_variable_not_the_value() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let cases: [(&str, &str, &OsStr, &[&str]); 7] = [
        (
            "kraken",
            "KRAKEN_API_SECRET",
            OsStr::new("not-base64!!"),
            &["KRAKEN_API_SECRET", "base64"],
        ),
        (
            "kraken",
            "KRAKEN_API_KEY",
            OsStr::new("key-part-one\nkey-part-two"),
            &["KRAKEN_API_KEY", "line break"],
        ),
        (
            "bybit",
            "BYBIT_API_KEY",
            OsStr::new("abc\rdef"),
            &["BYBIT_API_KEY", "line break"],
        ),
        (
            "bybit",
            "BYBIT_API_SECRET",
            OsStr::new("two words"),
            &["BYBIT_API_SECRET", "whitespace"],
        ),
        (
            "bybit",
            "BYBIT_API_SECRET",
            OsStr::new("nul\u{1}byte"),
            &["BYBIT_API_SECRET", "control character"],
        ),
        (
            "bybit",
            "BYBIT_API_SECRET",
            OsStr::from_bytes(b"caf\xe9-secret"),
            &["BYBIT_API_SECRET", "UTF-8"],
        ),
        (
            "kraken",
            "KRAKEN_API_KEY",
            OsStr::new("   "),
            &["KRAKEN_API_KEY", "not set"],
        ),
    ];
    for (exchange, var, value, needles) in cases {
        let (code, out, err) = run(reconcile(&sim, exchange, &state).env(var, value));
        assert_eq!(code, Some(2), "{var}={value:?}: {err}");
        one_line_naming(&err, needles);
        let shown = value.to_string_lossy();
        for part in shown.split_whitespace().filter(|p| p.len() > 3) {
            assert!(!err.contains(part), "the value is shown: {err}");
        }
        assert!(out.is_empty(), "{out}");
    }
    assert_eq!(private_requests(&sim), 0, "nothing was sent");
}

#[test]
fn a_credentials_file_with_a_broken_line_is_exit_2_naming_the_file() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let creds = write(dir.path(), "creds", b"key=abc\tdef\nsecret=s3cr3t-value\n");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let (code, _, err) = run(reconcile(&sim, "bybit", &state)
        .arg("--credentials-file")
        .arg(&creds));
    assert_eq!(code, Some(2), "{err}");
    one_line_naming(&err, &["creds: key", "whitespace"]);
    assert!(!err.contains("s3cr3t"), "{err}");
    assert_eq!(private_requests(&sim), 0);
}

#[test]
fn each_refusal_has_its_own_line_and_code_exit_3_and_nothing_is_cancelled() {
    // The account also has a Kraken key that may only query.
    let read_only_kraken = "read-only-kraken";
    let mut cfg = orphans_config(&[read_only_kraken]);
    cfg.kraken_keys.push(exchange_sim::KeyPair {
        key: read_only_kraken.into(),
        secret: kraken_secret(),
    });
    let sim = start(cfg).expect("simulator");
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let cases: Vec<(&str, &str, String, &[&str])> = vec![
        (
            "bybit",
            "BYBIT_API_SECRET",
            "a-wrong-secret".into(),
            &["10004", "signature"],
        ),
        (
            "bybit",
            "BYBIT_API_KEY",
            "unknown-key".into(),
            &["10003", "key"],
        ),
        (
            "kraken",
            "KRAKEN_API_SECRET",
            common::kraken_dedicated_secret(),
            &["EAPI:Invalid signature"],
        ),
        (
            "kraken",
            "KRAKEN_API_KEY",
            "unknown-key".into(),
            &["EAPI:Invalid key"],
        ),
    ];
    for (exchange, var, value, needles) in cases {
        let before = private_requests(&sim);
        let (code, _, err) = run(oc_at("cancel", exchange, &sim.url)
            .args(["--execute", "--format", "jsonl"])
            .arg("--state")
            .arg(&state)
            .env(var, &value));
        assert_eq!(code, Some(3), "{var}: {err}");
        one_line_naming(&err, needles);
        assert!(!err.contains(&value), "{err}");
        assert_eq!(
            private_requests(&sim) - before,
            1,
            "a refusal is not retried"
        );
    }
    // A key that may read but not cancel: the listing works, the cancel is refused.
    let (code, _, err) = run(oc_at("cancel", "kraken", &sim.url)
        .args(["--execute", "--format", "jsonl"])
        .arg("--state")
        .arg(&state)
        .env("KRAKEN_API_KEY", read_only_kraken));
    assert_eq!(code, Some(3), "{err}");
    one_line_naming(&err, &["EGeneral:Permission denied", "permission"]);
    assert_eq!(
        sim.orders().iter().filter(|o| !o.is_open()).count(),
        0,
        "nothing was cancelled"
    );
}

#[test]
fn a_bybit_key_without_the_order_permission_is_exit_3_with_10005() {
    let sim = sim_with_orphans(&[common::BYBIT_KEY]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let (code, _, err) = run(oc_at("cancel", "bybit", &sim.url)
        .args(["--execute", "--format", "jsonl"])
        .arg("--state")
        .arg(&state));
    assert_eq!(code, Some(3), "{err}");
    one_line_naming(&err, &["10005", "permission"]);
    assert_eq!(open_orders(&sim), 62, "nothing was cancelled");
    assert_eq!(
        sim.stats().by_path.get("/v5/order/cancel-batch").copied(),
        Some(1),
        "stopped at the first refusal, no other batch tried"
    );
}

#[test]
fn a_nonce_refused_twice_stops_with_the_reason_in_one_line() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    // Another client of the key signs in nanoseconds: the key's counter is far ahead of ms.
    let (code, _, err) = run(reconcile(&sim, "kraken", &state).args(["--kraken-nonce-unit", "ns"]));
    assert_eq!(code, Some(1), "orphans found: {err}");
    let before = sim.stats().by_path["/0/private/OpenOrders"];
    let (code, out, err) = run(&mut reconcile(&sim, "kraken", &state));
    assert_eq!(code, Some(3), "{err}");
    one_line_naming(
        &err,
        &[
            "EAPI:Invalid nonce",
            "twice",
            "--kraken-nonce-unit",
            "separate API key",
        ],
    );
    assert!(out.is_empty());
    assert_eq!(sim.stats().by_path["/0/private/OpenOrders"] - before, 2);
    // The same unit as that client works again.
    let (code, _, err) = run(reconcile(&sim, "kraken", &state).args(["--kraken-nonce-unit", "ns"]));
    assert_eq!(code, Some(1), "{err}");
}

/// Runs `reconcile` with its stdout a pipe whose reader has already gone (`| head -0`).
fn reconcile_into_closed_pipe(sim: &Running, state: &Path, format: &str) -> Option<i32> {
    let bin = assert_cmd::cargo::cargo_bin("orphan-cancel");
    let mut child = StdCommand::new(bin)
        .args(["reconcile", "--exchange", "bybit", "--base-url", &sim.url])
        .args(["--format", format])
        .arg("--state")
        .arg(state)
        .env("BYBIT_API_KEY", common::BYBIT_KEY)
        .env("BYBIT_API_SECRET", BYBIT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut err).expect("stderr");
    }
    let status = child.wait().expect("wait");
    assert!(err.is_empty(), "a closed stdout is not an error: {err}");
    status.code()
}

#[test]
fn a_closed_stdout_never_changes_the_verdict() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    for format in ["jsonl", "table", "csv", "json"] {
        assert_eq!(
            reconcile_into_closed_pipe(&sim, &state, format),
            Some(1),
            "--format {format}: 31 orphans, exit 1 even though nobody read them"
        );
    }
    // `| head -1` through a real shell pipeline.
    let bin = assert_cmd::cargo::cargo_bin("orphan-cancel");
    let script = format!(
        "{} reconcile --exchange bybit --base-url {} --state {} --format jsonl | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}",
        bin.display(),
        sim.url,
        state.display()
    );
    let status = StdCommand::new("bash")
        .args(["-c", &script])
        .env("BYBIT_API_KEY", common::BYBIT_KEY)
        .env("BYBIT_API_SECRET", BYBIT_SECRET)
        .status()
        .expect("bash");
    assert_eq!(status.code(), Some(1));
}

#[test]
fn findings_that_are_not_reconciles_output_are_exit_2_and_nothing_is_cancelled() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let random: Vec<u8> = (0u32..4096)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("random.bin", random, "random.bin:1:"),
        ("empty.jsonl", Vec::new(), "no orphan-cancel record"),
        (
            "other-tool.jsonl",
            b"{\"type\":\"sample\",\"tool\":\"resmon\",\"rss_bytes\":1}\n".to_vec(),
            "no orphan-cancel record",
        ),
        (
            "half.jsonl",
            b"{\"type\":\"summary\",\"tool\":\"orphan-cancel\",\"ok\":false}\n{\"type\":\"finding\",\"tool\":\"orphan-cancel\",\"finding\":\"orph"
                .to_vec(),
            "half.jsonl:2:",
        ),
        (
            "typed.jsonl",
            b"{\"type\":\"finding\",\"tool\":\"orphan-cancel\",\"finding\":\"orphan\",\"exchange\":\"bybit\",\"order_id\":123,\"symbol\":\"BTCUSDT\"}\n"
                .to_vec(),
            "typed.jsonl:1: order_id: expected a string, found a number",
        ),
        (
            "array-symbol.jsonl",
            b"\n{\"type\":\"finding\",\"tool\":\"orphan-cancel\",\"finding\":\"orphan\",\"exchange\":\"bybit\",\"order_id\":\"x\",\"symbol\":[\"x\"]}\n"
                .to_vec(),
            "array-symbol.jsonl:2: symbol: expected a string, found an array",
        ),
        (
            "not-utf8.jsonl",
            b"{\"type\":\"finding\",\"tool\":\"orphan-cancel\",\"client_id\":\"\xff\xfe\"}\n".to_vec(),
            "not-utf8.jsonl:1:",
        ),
    ];
    for (name, bytes, needle) in cases {
        let path = write(dir.path(), name, &bytes);
        let (code, out, err) = run(oc_at("cancel", "bybit", &sim.url)
            .args(common::EXECUTE_BOTS)
            .arg("--findings")
            .arg(&path));
        assert_eq!(code, Some(2), "{name}: {err}");
        one_line_naming(&err, &[needle]);
        assert!(out.is_empty(), "{name}: {out}");
    }
    // The same junk on stdin.
    let (code, _, err) = run(oc_at("cancel", "bybit", &sim.url)
        .arg("--execute")
        .write_stdin(b"\x00\x01binary\n".to_vec()));
    assert_eq!(code, Some(2), "{err}");
    one_line_naming(&err, &["-:1:"]);
    assert_eq!(open_orders(&sim), 62, "nothing was cancelled");
    assert_eq!(private_requests(&sim), 0, "nothing was even listed");
}

#[test]
fn state_fields_of_the_wrong_type_are_exit_2_naming_file_line_and_field() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let cases: [(&str, &str, &str); 7] = [
        (
            "id.json",
            "[\n  {\n    \"orderId\": 123,\n    \"symbol\": \"BTCUSDT\"\n  }\n]\n",
            "id.json:3: orderId: expected a string, found a number",
        ),
        (
            "symbol.json",
            "[\n  {\"orderId\": \"a\", \"symbol\": \"BTCUSDT\"},\n  {\n    \"orderId\": \"b\",\n    \"symbol\": [\"x\"]\n  }\n]\n",
            "symbol.json:5: symbol: expected a string, found an array",
        ),
        (
            "keyed.json",
            "{\n  \"a1\": {\"symbol\": \"BTCUSDT\"},\n  \"a2\": {\"symbol\": \"BTCUSDT\", \"orderLinkId\": true}\n}\n",
            "keyed.json:3: orderLinkId: expected a string, found a boolean",
        ),
        (
            "wrapped.json",
            "{\"orders\": [\n {\"orderId\": \"a\",\n  \"side\": {\"b\": 1}}\n]}\n",
            "wrapped.json:3: side: expected a string, found an object",
        ),
        (
            "lines.jsonl",
            "{\"orderId\": \"a\"}\n{\"orderId\": \"b\", \"status\": 7}\n",
            "lines.jsonl:2: status: expected a string, found a number",
        ),
        (
            "userref.jsonl",
            "{\"txid\": \"O1\", \"userref\": 1.5}\n",
            "userref.jsonl:1: userref: expected an integer or a string, found a number",
        ),
        (
            "qty.json",
            "[{\"orderId\": \"a\", \"qty\": [1]}]",
            "qty.json:1: qty: expected a string or a number, found an array",
        ),
    ];
    for (name, text, needle) in cases {
        let path = write(dir.path(), name, text.as_bytes());
        let (code, out, err) = run(&mut reconcile(&sim, "bybit", &path));
        assert_eq!(code, Some(2), "{name}: {err}");
        one_line_naming(&err, &[needle]);
        assert!(out.is_empty());
    }
    // Numbers where numbers belong are fine: a Kraken userref, a time, a quantity.
    let ok = write(
        dir.path(),
        "fine.json",
        b"[{\"txid\": \"O1\", \"userref\": 42, \"opentm\": 1700000000.5, \"vol\": 0.01, \"pair\": \"XBTUSD\"}]",
    );
    let (code, _, err) = run(&mut reconcile(&sim, "kraken", &ok));
    assert_eq!(code, Some(1), "orphans, no input error: {err}");
    assert_eq!(
        private_requests(&sim),
        1,
        "only the last run reached the exchange"
    );
}

#[test]
fn unbounded_or_strange_state_files_end_with_exit_2() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let long_line = {
        let mut v = b"{\"orderId\": \"".to_vec();
        v.extend(std::iter::repeat_n(b'a', 2 << 20));
        v.extend(b"\"}\n");
        v
    };
    let long = write(dir.path(), "long.jsonl", &long_line);
    let not_utf8 = write(dir.path(), "latin1.json", b"[{\"orderId\": \"caf\xe9\"}]");
    let cases: Vec<(PathBuf, &str, &[&str])> = vec![
        ("/dev/zero".into(), "json", &["/dev/zero", "larger than"]),
        ("/dev/zero".into(), "jsonl", &["/dev/zero:1", "larger than"]),
        (long, "jsonl", &["long.jsonl:1", "larger than"]),
        (not_utf8, "json", &["latin1.json"]),
        (dir.path().to_path_buf(), "json", &[""]),
        (dir.path().join("missing.json"), "json", &["missing.json"]),
    ];
    for (path, format, needles) in cases {
        let mut cmd = reconcile(&sim, "bybit", &path);
        let (code, _, err) = run(cmd.args(["--state-format", format]));
        assert_eq!(code, Some(2), "{}: {err}", path.display());
        one_line_naming(&err, needles);
    }
    assert_eq!(private_requests(&sim), 0);
}

#[test]
fn zero_intervals_and_timeouts_are_exit_2() {
    let sim = sim_with_orphans(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let (code, _, err) = run(oc().args([
        "dead-man",
        "--exchange",
        "kraken",
        "--base-url",
        &sim.url,
        "--every",
        "0s",
        "--timeout",
        "60s",
    ]));
    assert_eq!(code, Some(2), "{err}");
    one_line_naming(&err, &["--every"]);
    let (code, _, err) = run(reconcile(&sim, "bybit", &state).args(["--request-timeout", "0s"]));
    assert_eq!(code, Some(2), "{err}");
    one_line_naming(&err, &["--request-timeout"]);
    for (flag, value) in [
        ("--kraken-nonce-unit", "s"),
        ("--request-timeout", "-1s"),
        ("--attempts", "-1"),
        ("--max-rate", "0/s"),
        ("--max-rate", "-5/s"),
    ] {
        let (code, _, err) = run(reconcile(&sim, "kraken", &state).arg(format!("{flag}={value}")));
        assert_eq!(code, Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag) || err.contains(value), "{err}");
    }
    assert_eq!(private_requests(&sim), 0);
}

#[test]
fn the_exchange_answering_junk_is_exit_3_not_a_panic() {
    // A server that answers every request with HTML and status 200: not the exchange.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        for stream in listener.incoming().take(12) {
            let Ok(mut s) = stream else { break };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut s, &mut buf);
            let body = "<html>maintenance</html>";
            let _ = std::io::Write::write_all(
                &mut s,
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            );
        }
    });
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let (code, _, err) = run(oc_at("reconcile", "kraken", &url)
        .args(["--attempts", "2"])
        .arg("--state")
        .arg(&state));
    assert_eq!(code, Some(3), "{err}");
    one_line_naming(&err, &["not JSON"]);
    assert!(!err.contains("panicked"));
    drop(server);
}

#[test]
fn sigint_disarms_the_dead_man_switch_and_exits_130() {
    use std::io::BufRead;
    let sim = sim_with_orphans(&[]);
    let bin = assert_cmd::cargo::cargo_bin("orphan-cancel");
    let mut child = StdCommand::new(bin)
        .args(["dead-man", "--exchange", "kraken", "--base-url", &sim.url])
        .args(["--timeout", "60s", "--every", "20s"])
        .env("KRAKEN_API_KEY", common::KRAKEN_KEY)
        .env("KRAKEN_API_SECRET", kraken_secret())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let armed = lines.next().expect("a line").expect("read");
    assert!(armed.contains("\"armed\""), "{armed}");
    assert!(
        sim.sim.lock().expect("sim").kraken_deadline_ms.is_some(),
        "armed on the exchange"
    );
    StdCommand::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert_eq!(child.wait().expect("wait").code(), Some(130));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("\"disarmed\"")), "{rest:?}");
    assert!(
        sim.sim.lock().expect("sim").kraken_deadline_ms.is_none(),
        "disarmed on the exchange"
    );
    assert_eq!(open_orders(&sim), 62, "nothing was cancelled");
}

#[test]
fn dev_zero_as_state_or_findings_stays_within_a_memory_limit() {
    // Under a 1 GiB address-space limit, unbounded reading of /dev/zero would abort; bounded
    // reading ends with exit 2 and the reason.
    let sim = sim_with_orphans(&[]);
    let bin = assert_cmd::cargo::cargo_bin("orphan-cancel");
    for (args, needle) in [
        (
            format!(
                "reconcile --exchange bybit --base-url {} --state /dev/zero --state-format json",
                sim.url
            ),
            "/dev/zero: file larger than",
        ),
        (
            format!(
                "reconcile --exchange bybit --base-url {} --state /dev/zero --state-format jsonl",
                sim.url
            ),
            "/dev/zero:1: line larger than",
        ),
        (
            format!(
                "cancel --exchange bybit --base-url {} --execute --findings /dev/zero",
                sim.url
            ),
            "/dev/zero:1: a line longer than",
        ),
    ] {
        let script = format!("ulimit -v 1048576; exec {} {args}", bin.display());
        let out = StdCommand::new("bash")
            .args(["-c", &script])
            .env("BYBIT_API_KEY", common::BYBIT_KEY)
            .env("BYBIT_API_SECRET", BYBIT_SECRET)
            .output()
            .expect("bash");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args}: {err}");
        one_line_naming(&err, &[needle]);
    }
    assert_eq!(private_requests(&sim), 0);
}
