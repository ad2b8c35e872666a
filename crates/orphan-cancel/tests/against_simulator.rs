//! orphan-cancel (the real binary) against exchange-sim (a real loopback HTTP server started
//! in this test process): reconciliation, safe cancelling under every injected fault,
//! idempotent re-runs, the dead-man switch, and the refusals that protect real money.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use base64::Engine;
use exchange_sim::book::{SimOrder, Venue};
use exchange_sim::conditions::Fault;
use exchange_sim::{KeyPair, Running, SimConfig, start};
use serde_json::{Value, json};

const BYBIT_KEY: &str = "sim-bybit-key-0001";
const BYBIT_SECRET: &str = "sim-bybit-secret-DO-NOT-PRINT";
const KRAKEN_KEY: &str = "sim-kraken-key-0001";

fn kraken_secret() -> String {
    base64::engine::general_purpose::STANDARD.encode(b"sim-kraken-secret-DO-NOT-PRINT")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn order(venue: Venue, client: &str, symbol: &str) -> SimOrder {
    serde_json::from_value(json!({
        "exchange": venue,
        "category": if venue == Venue::Bybit { Some("linear") } else { None },
        "client_id": client,
        "symbol": symbol,
        "created_ms": now_ms() - 120_000,
    }))
    .expect("order")
}

struct Setup {
    rate_limit: u32,
    faults: Vec<&'static str>,
    fault_delay: Duration,
    skew_ms: i64,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            rate_limit: 0,
            faults: Vec::new(),
            fault_delay: Duration::from_millis(1500),
            skew_ms: 0,
        }
    }
}

fn sim_with(orders: Vec<SimOrder>, s: Setup) -> Running {
    start(SimConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        orders,
        rate_limit: s.rate_limit,
        faults: s
            .faults
            .iter()
            .map(|f| f.parse::<Fault>().expect("fault"))
            .collect(),
        fault_delay: s.fault_delay,
        skew_ms: s.skew_ms,
        threads: 4,
        bybit_keys: Some(KeyPair {
            key: BYBIT_KEY.into(),
            secret: BYBIT_SECRET.into(),
        }),
        kraken_keys: vec![KeyPair {
            key: KRAKEN_KEY.into(),
            secret: kraken_secret(),
        }],
        kraken_nonce_window: 0,
        read_only_keys: Vec::new(),
    })
    .expect("simulator starts")
}

/// 120 orders tagged BOT_ (the first 20 known to the bot), 3 manual ones, 2 on ETH.
fn bybit_book() -> Vec<SimOrder> {
    let mut v: Vec<SimOrder> = (0..120)
        .map(|i| order(Venue::Bybit, &format!("BOT_{i}"), "BTCUSDT"))
        .collect();
    v.extend((0..3).map(|i| order(Venue::Bybit, &format!("manual-{i}"), "BTCUSDT")));
    v.extend((0..2).map(|i| order(Venue::Bybit, &format!("BOT_eth{i}"), "ETHUSDT")));
    v
}

fn bot_state(
    dir: &std::path::Path,
    known: std::ops::Range<usize>,
    ghosts: usize,
) -> std::path::PathBuf {
    let mut state = serde_json::Map::new();
    for i in known {
        state.insert(
            format!("local-{i}"),
            json!({"orderLinkId": format!("BOT_{i}"), "symbol": "BTCUSDT", "side": "Buy", "status": "New", "createdTime": now_ms() - 120_000}),
        );
    }
    for g in 0..ghosts {
        state.insert(
            format!("ghost-{g}"),
            json!({"orderLinkId": format!("BOT_ghost{g}"), "symbol": "BTCUSDT", "side": "Buy", "status": "New", "createdTime": now_ms() - 60_000}),
        );
    }
    let path = dir.join("active_orders.json");
    std::fs::write(&path, serde_json::to_string(&state).expect("json")).expect("write state");
    path
}

fn oc() -> Command {
    common::oc_with([BYBIT_KEY, BYBIT_SECRET], [KRAKEN_KEY, &kraken_secret()])
}

fn records(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("every stdout line is JSON"))
        .collect()
}

fn summary(stdout: &[u8]) -> Value {
    records(stdout).pop().expect("a summary")
}

fn open_clients(sim: &Running) -> Vec<String> {
    let mut v: Vec<String> = sim
        .orders()
        .into_iter()
        .filter(|o| o.is_open())
        .filter_map(|o| o.client_id)
        .collect();
    v.sort();
    v
}

#[test]
fn reconcile_reports_every_orphan_across_pages_and_the_ghost() {
    let sim = sim_with(bybit_book(), Setup::default());
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..20, 1);
    let out = oc()
        .args([
            "reconcile",
            "--exchange",
            "bybit",
            "--exchange-url",
            &sim.url,
            "--format",
            "jsonl",
        ])
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = summary(&out.stdout);
    // 125 open (3 pages of 50 for linear USDT), 20 matched, 105 orphans, 1 ghost
    assert_eq!(s["exchange_open"], 125);
    assert_eq!(
        (
            s["matched"].clone(),
            s["orphans"].clone(),
            s["ghosts"].clone()
        ),
        (json!(20), json!(105), json!(1))
    );
    let ghost: Vec<Value> = records(&out.stdout)
        .into_iter()
        .filter(|r| r["kind"] == "ghost")
        .collect();
    assert_eq!(ghost[0]["client_id"], "BOT_ghost0");
    assert!(sim.stats().by_path["/v5/order/realtime"] >= 3, "paginated");
}

/// `reconcile`'s JSONL against the simulator at `url` for the bot's `state`.
fn reconcile_jsonl(url: &str, state: &Path) -> Vec<u8> {
    oc().args(["reconcile", "--exchange", "bybit", "--exchange-url", url])
        .args(["--format", "jsonl", "--state-file"])
        .arg(state)
        .output()
        .expect("reconcile")
        .stdout
}

/// `cancel` of the bot's (`BOT_`) BTCUSDT orphans read from `findings`, a dry run unless
/// `execute`.
fn cancel_bots_btc(url: &str, findings: Vec<u8>, execute: bool) -> std::process::Output {
    oc().args(["cancel", "--exchange", "bybit", "--exchange-url", url])
        .args(["--symbol", "BTCUSDT", "--client-id-prefix", "BOT_"])
        .args(execute.then_some("--execute"))
        .args(["--format", "jsonl"])
        .write_stdin(findings)
        .output()
        .expect("cancel")
}

/// Findings as `reconcile` wrote them before issue 17: the kind under `finding`, no severity
/// or message.
fn in_the_old_shape(jsonl: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for mut r in records(jsonl) {
        if r["type"] == "finding" {
            let obj = r.as_object_mut().expect("an object");
            let kind = obj.shift_remove("kind").expect("a kind");
            obj.shift_remove("severity");
            obj.shift_remove("message");
            obj.insert("finding".into(), kind);
        }
        out.extend(serde_json::to_vec(&r).expect("serializes"));
        out.push(b'\n');
    }
    out
}

#[test]
fn cancel_reads_findings_in_the_old_shape_for_one_release() {
    let sim = sim_with(bybit_book(), Setup::default());
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..20, 0);
    let findings = reconcile_jsonl(&sim.url, &state);
    let targeted = |stdin: Vec<u8>| {
        let dry = cancel_bots_btc(&sim.url, stdin, false);
        assert_eq!(
            dry.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&dry.stderr)
        );
        let mut ids: Vec<String> = records(&dry.stdout)
            .iter()
            .filter(|r| r["type"] == "action")
            .map(|r| r["client_id"].as_str().expect("client id").to_string())
            .collect();
        ids.sort();
        ids
    };
    let old = in_the_old_shape(&findings);
    assert!(!String::from_utf8_lossy(&old).contains("\"kind\""));
    let now = targeted(findings);
    assert_eq!(now.len(), 100, "{now:?}");
    assert_eq!(targeted(old), now);
}

#[test]
fn dry_run_touches_nothing_then_execute_cancels_only_the_bots_orphans_and_verifies() {
    let sim = sim_with(bybit_book(), Setup::default());
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..20, 0);
    let findings = reconcile_jsonl(&sim.url, &state);
    let before = sim.orders();
    let dry = cancel_bots_btc(&sim.url, findings.clone(), false);
    assert_eq!(dry.status.code(), Some(0));
    assert_eq!(summary(&dry.stdout)["targeted"], 100);
    assert!(
        records(&dry.stdout)
            .iter()
            .filter(|r| r["type"] == "action")
            .all(|r| r["dry_run"] == true)
    );
    assert_eq!(sim.orders(), before, "a dry run changes nothing");

    let run = cancel_bots_btc(&sim.url, findings, true);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let s = summary(&run.stdout);
    assert_eq!(
        (s["cancelled"].clone(), s["still_open"].clone()),
        (json!(100), json!(0))
    );
    let mut expected: Vec<String> = (0..20).map(|i| format!("BOT_{i}")).collect();
    expected.extend(["BOT_eth0", "BOT_eth1", "manual-0", "manual-1", "manual-2"].map(String::from));
    expected.sort();
    assert_eq!(
        open_clients(&sim),
        expected,
        "known orders, other symbols and manual orders untouched"
    );
    assert!(
        sim.stats().by_path["/v5/order/cancel-batch"] == 5,
        "100 orders in batches of 20"
    );
}

fn cancel_everything_under(setup: Setup, extra: &[&str]) -> Running {
    let sim = sim_with(bybit_book(), setup);
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..0, 0);
    let out = oc()
        .args([
            "cancel",
            "--exchange",
            "bybit",
            "--exchange-url",
            &sim.url,
            "--client-id-prefix",
            "BOT_",
            "--execute",
            "--format",
            "jsonl",
            "--attempts",
            "8",
        ])
        .args(extra)
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}\nstdout tail: {:?}",
        String::from_utf8_lossy(&out.stderr),
        records(&out.stdout).last()
    );
    let s = summary(&out.stdout);
    assert_eq!(s["still_open"], 0);
    assert_eq!(
        open_clients(&sim),
        vec!["manual-0", "manual-1", "manual-2"],
        "every BOT_ orphan gone, nothing else touched"
    );
    sim
}

#[test]
fn end_state_is_right_under_5xx_and_429() {
    let sim = cancel_everything_under(
        Setup {
            faults: vec!["5xx:3", "429:5"],
            ..Default::default()
        },
        &[],
    );
    let f = sim.stats().faults;
    assert!(f["http5xx"] > 0 && f["http429"] > 0, "{f:?}");
}

#[test]
fn end_state_is_right_when_answers_are_late_or_never_come() {
    let sim = cancel_everything_under(
        Setup {
            faults: vec!["timeout:4", "drop:7"],
            fault_delay: Duration::from_millis(1500),
            ..Default::default()
        },
        &["--request-timeout", "1s"],
    );
    let f = sim.stats().faults;
    assert!(f["timeout"] > 0 && f["drop"] > 0, "{f:?}");
}

#[test]
fn end_state_is_right_with_partial_batch_failures() {
    let sim = cancel_everything_under(
        Setup {
            faults: vec!["partial-batch:2"],
            ..Default::default()
        },
        &[],
    );
    assert!(sim.stats().faults["partialbatch"] > 0);
}

#[test]
fn clock_skew_is_corrected_from_the_server_time() {
    let sim = cancel_everything_under(
        Setup {
            skew_ms: 9_000,
            ..Default::default()
        },
        &[],
    );
    assert!(
        sim.stats().auth_refused >= 1,
        "the first request is refused for its timestamp"
    );
    assert!(sim.stats().by_path.contains_key("/v5/market/time"));
}

#[test]
fn rate_limit_headers_are_respected_without_drawing_refusals() {
    let sim = cancel_everything_under(
        Setup {
            rate_limit: 5,
            ..Default::default()
        },
        &[],
    );
    assert_eq!(
        sim.stats().rate_limited,
        0,
        "paced by X-Bapi-Limit-Status, never refused"
    );
}

#[test]
fn an_interrupted_run_can_simply_be_run_again() {
    let sim = sim_with(
        bybit_book(),
        Setup {
            rate_limit: 2,
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..0, 0);
    let bin = assert_cmd::cargo::cargo_bin("orphan-cancel");
    let mut child = StdCommand::new(&bin)
        .args([
            "cancel",
            "--exchange",
            "bybit",
            "--exchange-url",
            &sim.url,
            "--client-id-prefix",
            "BOT_",
            "--execute",
            "--format",
            "jsonl",
        ])
        .arg("--state-file")
        .arg(&state)
        .env("BYBIT_API_KEY", BYBIT_KEY)
        .env("BYBIT_API_SECRET", BYBIT_SECRET)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn");
    // Kill it once some, but not all, batches went through.
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim
        .stats()
        .by_path
        .get("/v5/order/cancel-batch")
        .copied()
        .unwrap_or(0)
        < 2
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill");
    let _ = child.wait();
    let left = open_clients(&sim).len();
    assert!(left > 3 && left < 125, "interrupted part-way: {left} open");
    let out = oc()
        .args([
            "cancel",
            "--exchange",
            "bybit",
            "--exchange-url",
            &sim.url,
            "--client-id-prefix",
            "BOT_",
            "--execute",
            "--format",
            "jsonl",
        ])
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("rerun");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(open_clients(&sim), vec!["manual-0", "manual-1", "manual-2"]);
}

#[test]
fn kraken_reconcile_cancel_and_cancel_all() {
    let mut book: Vec<SimOrder> = (0..60)
        .map(|i| order(Venue::Kraken, &format!("BOT_{i}"), "XBTUSD"))
        .collect();
    book.push(order(Venue::Kraken, "manual", "XBTUSD"));
    book.push(order(Venue::Kraken, "BOT_eth", "ETHUSD"));
    let sim = sim_with(
        book,
        Setup {
            faults: vec!["5xx:4"],
            ..Default::default()
        },
    );
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("orders.jsonl");
    std::fs::write(
        &state,
        "{\"cl_ord_id\": \"BOT_0\", \"pair\": \"XBTUSD\", \"status\": \"open\"}\n",
    )
    .expect("state");
    let out = oc()
        .args([
            "cancel",
            "--exchange",
            "kraken",
            "--exchange-url",
            &sim.url,
            "--symbol",
            "XBTUSD",
            "--client-id-prefix",
            "BOT_",
            "--execute",
            "--format",
            "jsonl",
        ])
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("cancel");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(summary(&out.stdout)["cancelled"], 59);
    assert_eq!(open_clients(&sim), vec!["BOT_0", "BOT_eth", "manual"]);
    assert!(
        sim.stats().by_path["/0/private/CancelOrderBatch"] >= 2,
        "batches of 50"
    );
    let all = oc()
        .args([
            "cancel-all",
            "--exchange",
            "kraken",
            "--exchange-url",
            &sim.url,
            "--execute",
            "--format",
            "jsonl",
        ])
        .output()
        .expect("cancel-all");
    assert_eq!(all.status.code(), Some(0));
    assert!(open_clients(&sim).is_empty());
}

#[test]
fn kraken_dead_man_fires_when_the_bot_dies_and_disarms_on_sigterm() {
    let book: Vec<SimOrder> = (0..5)
        .map(|i| order(Venue::Kraken, &format!("BOT_{i}"), "XBTUSD"))
        .collect();
    let sim = sim_with(book, Setup::default());
    let bin = assert_cmd::cargo::cargo_bin("orphan-cancel");
    // The bot: a process that dies after a second.
    let mut bot = StdCommand::new("sleep").arg("1").spawn().expect("bot");
    let out = oc()
        .args([
            "dead-man",
            "--exchange",
            "kraken",
            "--exchange-url",
            &sim.url,
            "--timeout",
            "2s",
            "--every",
            "300ms",
        ])
        .args(["--pid", &bot.id().to_string()])
        .output()
        .expect("dead-man");
    let _ = bot.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = records(&out.stdout);
    assert!(
        recs.iter()
            .any(|r| r["event"] == "armed" && r["trigger_time"].is_string())
    );
    assert_eq!(
        recs.iter()
            .filter(|r| r["event"] == "target_exited")
            .count(),
        1
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !open_clients(&sim).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        open_clients(&sim).is_empty(),
        "the exchange's timer cancelled everything"
    );
    assert!(
        sim.orders()
            .iter()
            .all(|o| o.cancelled_by.as_deref() == Some("CancelAllOrdersAfter (timer fired)"))
    );

    // Armed, then SIGTERM: disarmed, nothing cancelled.
    let sim = sim_with(
        vec![order(Venue::Kraken, "BOT_x", "XBTUSD")],
        Setup::default(),
    );
    let mut dm = StdCommand::new(&bin)
        .args([
            "dead-man",
            "--exchange",
            "kraken",
            "--exchange-url",
            &sim.url,
            "--timeout",
            "2s",
            "--every",
            "500ms",
        ])
        .env("KRAKEN_API_KEY", KRAKEN_KEY)
        .env("KRAKEN_API_SECRET", kraken_secret())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(dm.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("read");
    assert!(first.contains("\"armed\""), "{first}");
    StdCommand::new("kill")
        .args(["-TERM", &dm.id().to_string()])
        .status()
        .expect("kill");
    let status = dm.wait().expect("wait");
    assert_eq!(status.code(), Some(0));
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("\"disarmed\"")), "{rest:?}");
    assert!(sim.sim.lock().expect("lock").kraken_deadline_ms.is_none());
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        open_clients(&sim),
        vec!["BOT_x"],
        "disarmed: the timer never fired"
    );
}

#[test]
fn mainnet_needs_live_and_limits_refuse_before_any_cancel() {
    let out = oc()
        .args([
            "cancel-all",
            "--exchange",
            "bybit",
            "--execute",
            "--request-timeout",
            "1s",
            "--attempts",
            "1",
        ])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--live"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let sim = sim_with(bybit_book(), Setup::default());
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..0, 0);
    let out = oc()
        .args([
            "cancel",
            "--exchange",
            "bybit",
            "--exchange-url",
            &sim.url,
            "--execute",
            "--max-orders",
            "10",
        ])
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("more than --max-orders 10"));
    assert_eq!(open_clients(&sim).len(), 125, "nothing cancelled");
}

#[test]
fn credentials_errors_name_the_variable_and_never_show_secrets() {
    let out = oc()
        .env_remove("BYBIT_API_SECRET")
        .args([
            "reconcile",
            "--exchange",
            "bybit-testnet",
            "--state",
            "x.json",
        ])
        .output()
        .expect("run");
    // the state file is checked first: missing file is an input error
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..1, 0);
    let out = oc()
        .env_remove("BYBIT_API_SECRET")
        .args(["reconcile", "--exchange", "bybit-testnet"])
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("BYBIT_API_SECRET is not set"));

    let sim = sim_with(bybit_book(), Setup::default());
    let out = oc()
        .env("BYBIT_API_SECRET", "a-wrong-secret-value-XYZ")
        .args([
            "reconcile",
            "--exchange",
            "bybit",
            "--exchange-url",
            &sim.url,
        ])
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3), "auth refused is exit 3");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("10004"), "{all}");
    for secret in ["a-wrong-secret-value-XYZ", BYBIT_SECRET, BYBIT_KEY] {
        assert!(!all.contains(secret), "leaked {secret}: {all}");
    }
}

#[test]
fn unreachable_exchange_and_malformed_state_get_their_exit_codes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let dir = tempfile::tempdir().expect("tmp");
    let state = bot_state(dir.path(), 0..1, 0);
    let out = oc()
        .args([
            "reconcile",
            "--exchange",
            "bybit",
            "--exchange-url",
            &format!("http://127.0.0.1:{port}"),
            "--attempts",
            "2",
        ])
        .arg("--state-file")
        .arg(&state)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let bad = dir.path().join("broken.jsonl");
    std::fs::write(&bad, "{\"orderId\": \"1\"}\n{\"orderId\": \n").expect("write");
    let out = oc()
        .args(["reconcile", "--exchange", "file:/nonexistent.json"])
        .arg("--state-file")
        .arg(&bad)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("broken.jsonl:2:"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn offline_reconciliation_against_a_saved_bybit_listing() {
    let dir = tempfile::tempdir().expect("tmp");
    let listing = dir.path().join("open.json");
    std::fs::write(
        &listing,
        r#"{"retCode":0,"result":{"category":"linear","list":[
            {"orderId":"a1","orderLinkId":"BOT_1","symbol":"BTCUSDT","side":"Buy","qty":"0.01","orderStatus":"New","createdTime":"1700000000000"},
            {"orderId":"a2","orderLinkId":"BOT_2","symbol":"BTCUSDT","side":"Buy","qty":"0.01","orderStatus":"New","createdTime":"1700000000000"}],"nextPageCursor":""}}"#,
    )
    .expect("write");
    let state = dir.path().join("state.json");
    std::fs::write(
        &state,
        r#"[{"orderId": "a1", "symbol": "BTCUSDT", "status": "New"}]"#,
    )
    .expect("write");
    let out = oc()
        .arg("reconcile")
        .arg("--exchange")
        .arg(format!("file:{}", listing.display()))
        .arg("--state-file")
        .arg(&state)
        .args(["--format", "jsonl"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let recs = records(&out.stdout);
    assert_eq!(recs.len(), 2);
    assert_eq!(
        (recs[0]["kind"].clone(), recs[0]["order_id"].clone()),
        (json!("orphan"), json!("a2"))
    );
}
