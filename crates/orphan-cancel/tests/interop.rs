//! orphan-cancel beside a bot that trades through the exchanges' own client libraries, pybit
//! (Bybit's official SDK) and krakenex, unchanged, against exchange-sim on loopback. The bot's
//! orders are placed and listed by those libraries; orphan-cancel then shares the bot's API key,
//! as an emergency procedure or the soak's dead-man switch does, and the bot must be able to
//! trade on afterwards.
//!
//! The libraries come from a venv (`$SOAKKIT_PYVENV`, default `target/tmp/pyvenv-exchange`)
//! that the first test creates with pip; every test skips with a printed reason only when
//! python3, venv or pip cannot provide them.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command as StdCommand, Stdio};

use common::{
    KRAKEN_DEDICATED_KEY, bot, bot_run, client_python, kraken_dedicated_secret, oc_at, records, sim,
};
use serde_json::{Value, json};

fn strings(v: &Value, list: &str, field: &str) -> BTreeSet<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no {list} in {v}"))
        .iter()
        .map(|o| o[field].as_str().expect(field).to_string())
        .collect()
}

/// The bot's own record of the orders it knows: the first `known` BOT_ orders it placed.
fn state_file(dir: &Path, name: &str, orders: &[Value]) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(orders).expect("json")).expect("state");
    path
}

fn cancel_orphans(url: &str, exchange: &str, state: &Path, extra: &[&str]) -> Value {
    let out = oc_at("cancel", exchange, url)
        .args(common::EXECUTE_BOTS)
        .args(extra)
        .arg("--state")
        .arg(state)
        .output()
        .expect("orphan-cancel");
    assert_eq!(
        out.status.code(),
        Some(0),
        "orphan-cancel cancel --exchange {exchange}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    records(&out.stdout).pop().expect("summary")
}

#[test]
fn pybit_and_krakenex_orphans_are_cancelled_and_krakenex_trades_on_with_the_same_key() {
    let Some(python) = client_python() else {
        return;
    };
    let sim = sim(0);
    let dir = tempfile::tempdir().expect("tmp");

    // 1. The bot places its orders through the libraries: 25 BOT_ and 3 manual on Bybit
    //    linear, 12 BOT_ and 2 manual on Kraken spot.
    let bybit = bot_run(&python, "bybit-place", &sim.url, &["25", "3"]);
    let kraken = bot_run(&python, "kraken-place", &sim.url, &["12", "2"]);
    assert_eq!(kraken["refused"], json!([]), "{kraken}");
    let bybit_placed = bybit["placed"].as_array().expect("placed");
    let kraken_placed = kraken["placed"].as_array().expect("placed");
    assert_eq!((bybit_placed.len(), kraken_placed.len()), (28, 14));

    // The bot's local state knows 5 Bybit and 4 Kraken orders; the other BOT_ ones are orphans.
    let bybit_known: Vec<Value> = bybit_placed[..5]
        .iter()
        .map(|o| json!({"orderId": o["orderId"], "orderLinkId": o["orderLinkId"], "symbol": "BTCUSDT", "status": "New"}))
        .collect();
    let kraken_known: Vec<Value> = kraken_placed[..4]
        .iter()
        .map(|o| json!({"txid": o["txid"], "cl_ord_id": o["cl_ord_id"], "pair": "XBTUSD", "status": "open"}))
        .collect();
    let bybit_state = state_file(dir.path(), "bybit_orders.json", &bybit_known);
    let kraken_state = state_file(dir.path(), "kraken_orders.json", &kraken_known);

    // 2. orphan-cancel cancels exactly the orphans, with the bot's own keys.
    let b = cancel_orphans(&sim.url, "bybit", &bybit_state, &[]);
    assert_eq!(
        (b["cancelled"].as_u64(), b["still_open"].as_u64()),
        (Some(20), Some(0)),
        "{b}"
    );
    let k = cancel_orphans(&sim.url, "kraken", &kraken_state, &[]);
    assert_eq!(
        (k["cancelled"].as_u64(), k["still_open"].as_u64()),
        (Some(8), Some(0)),
        "{k}"
    );

    // 3. The libraries list exactly the known and the manual orders as open ...
    let bybit_open = strings(
        &bot_run(&python, "bybit-open", &sim.url, &[]),
        "open",
        "orderLinkId",
    );
    let mut expected: BTreeSet<String> = (0..5).map(|i| format!("BOT_b{i}")).collect();
    expected.extend((0..3).map(|i| format!("manual-b{i}")));
    assert_eq!(bybit_open, expected);
    let kraken_open = bot_run(&python, "kraken-open", &sim.url, &[]);
    let mut expected: BTreeSet<String> = (0..4).map(|i| format!("BOT_k{i}")).collect();
    expected.extend((0..2).map(|i| format!("manual-k{i}")));
    assert_eq!(
        strings(&kraken_open, "open", "cl_ord_id"),
        expected,
        "{kraken_open}"
    );

    // ... and krakenex can still place an order with the key orphan-cancel just used.
    let again = bot_run(&python, "kraken-place", &sim.url, &["1", "0"]);
    assert_eq!(
        again["refused"],
        json!([]),
        "the bot is locked out of its key: {again}"
    );
    assert_eq!(again["placed"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        sim.stats().auth_refused,
        0,
        "no request of anyone was refused"
    );
}

/// A dead-man switch (`orphan-cancel dead-man`) armed beside a trading krakenex bot.
struct DeadMan {
    child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl DeadMan {
    fn start(url: &str, key: Option<(&str, String)>) -> DeadMan {
        let bin = assert_cmd::cargo::cargo_bin("orphan-cancel");
        let mut cmd = StdCommand::new(bin);
        cmd.args(["dead-man", "--exchange", "kraken", "--base-url", url])
            .args(["--timeout", "30s", "--every", "300ms"])
            .env("KRAKEN_API_KEY", common::KRAKEN_KEY)
            .env("KRAKEN_API_SECRET", common::kraken_secret())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((k, s)) = key {
            cmd.env("KRAKEN_API_KEY", k).env("KRAKEN_API_SECRET", s);
        }
        let mut child = cmd.spawn().expect("dead-man");
        let lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        DeadMan { child, lines }
    }

    /// Waits for the next `n` re-arms (each a request that the exchange accepted).
    fn armed(&mut self, n: usize) {
        let mut seen = 0;
        while seen < n {
            let line = self
                .lines
                .next()
                .expect("dead-man still running")
                .expect("read");
            let v: Value = serde_json::from_str(&line).expect("JSON");
            assert_ne!(v["type"], "summary", "dead-man stopped: {v}");
            if v["event"] == "armed" {
                seen += 1;
            }
        }
    }

    /// SIGTERM: disarms and exits 0.
    fn stop(mut self) -> Vec<Value> {
        let pid = self.child.id().to_string();
        StdCommand::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        let status = self.child.wait().expect("wait");
        let rest: Vec<Value> = self
            .lines
            .map_while(Result::ok)
            .map(|l| serde_json::from_str(&l).expect("JSON"))
            .collect();
        assert!(status.success(), "dead-man exit {status:?}: {rest:?}");
        rest
    }
}

/// Runs krakenex as a live bot (place, list, cancel) while the dead-man re-arms `arms` times;
/// returns the bot's report.
fn trade_beside(url: &str, python: &Path, dead_man: &mut DeadMan, arms: usize) -> Value {
    let dir = tempfile::tempdir().expect("tmp");
    let stop = dir.path().join("stop");
    dead_man.armed(1);
    let bot = bot(python, "kraken-trade", url)
        .arg(&stop)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("bot");
    dead_man.armed(arms);
    std::fs::write(&stop, "").expect("stop file");
    let out = bot.wait_with_output().expect("bot");
    assert!(
        out.status.success(),
        "bot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("bot JSON")
}

/// krakenex trades while the dead-man re-arms 5 times; no request of either is refused, and
/// SIGTERM disarms the switch.
fn trade_and_check_nothing_refused(
    sim: &exchange_sim::Running,
    python: &Path,
    mut dead_man: DeadMan,
) {
    let report = trade_beside(&sim.url, python, &mut dead_man, 5);
    let rest = dead_man.stop();
    assert!(report["requests"].as_u64() > Some(0), "{report}");
    assert_eq!(report["refused"], json!([]), "{report}");
    assert!(rest.iter().any(|r| r["event"] == "disarmed"), "{rest:?}");
    assert_eq!(sim.stats().auth_refused, 0);
}

#[test]
fn dead_man_on_a_dedicated_key_never_refuses_a_trading_krakenex() {
    let Some(python) = client_python() else {
        return;
    };
    let sim = sim(0);
    let dead_man = DeadMan::start(
        &sim.url,
        Some((KRAKEN_DEDICATED_KEY, kraken_dedicated_secret())),
    );
    trade_and_check_nothing_refused(&sim, &python, dead_man);
    assert!(
        sim.orders().iter().any(|o| o.is_open()),
        "the switch never fired: the bot's orders are still open"
    );
}

#[test]
fn dead_man_on_the_bots_own_key_never_refuses_a_trading_krakenex() {
    let Some(python) = client_python() else {
        return;
    };
    // Two clients of one key sign independently, so their requests may reach the exchange out
    // of order by a few milliseconds: Kraken's per-key nonce window is for exactly that. With
    // millisecond nonces both stay inside it; microseconds would not (see the next test).
    let sim = sim(5_000);
    let dead_man = DeadMan::start(&sim.url, None);
    trade_and_check_nothing_refused(&sim, &python, dead_man);
}

#[test]
fn microsecond_nonces_lock_a_millisecond_bot_out_and_orphan_cancel_says_why() {
    let Some(python) = client_python() else {
        return;
    };
    let sim = sim(5_000);
    let placed = bot_run(&python, "kraken-place", &sim.url, &["3", "0"]);
    assert_eq!(placed["refused"], json!([]), "{placed}");

    // What orphan-cancel did before milliseconds became the default: the key's counter jumps
    // 1000x ahead of the bot's clock, beyond any nonce window.
    let dir = tempfile::tempdir().expect("tmp");
    let state = state_file(dir.path(), "none.json", &[]);
    cancel_orphans(&sim.url, "kraken", &state, &["--kraken-nonce-unit", "us"]);
    let locked = bot_run(&python, "kraken-place", &sim.url, &["1", "0"]);
    assert_eq!(
        locked["refused"],
        json!([["EAPI:Invalid nonce"]]),
        "the lock-out the millisecond default prevents: {locked}"
    );

    // orphan-cancel in milliseconds on that poisoned key: refused twice, stops, says why.
    let listings_before = sim.stats().by_path["/0/private/OpenOrders"];
    let out = oc_at("reconcile", "kraken", &sim.url)
        .arg("--state")
        .arg(&state)
        .output()
        .expect("orphan-cancel");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("EAPI:Invalid nonce") && err.contains("--kraken-nonce-unit"),
        "{err}"
    );
    assert!(!err.contains(&common::kraken_secret()), "{err}");
    assert_eq!(
        sim.stats().by_path["/0/private/OpenOrders"] - listings_before,
        2,
        "refused twice, then stopped"
    );
}

#[test]
fn what_the_libraries_send_first_is_answered_as_the_exchanges_do() {
    let Some(python) = client_python() else {
        return;
    };
    let sim = sim(0);
    let v = bot_run(&python, "startup", &sim.url, &[]);
    // Supported: pybit's server time and its X-BAPI-* headers with a custom
    // X-BAPI-RECV-WINDOW; krakenex's public Time, OpenOrders filtered by userref, QueryOrders.
    assert_eq!(v["bybit_time"], json!({"retCode": 0}), "{v}");
    assert_eq!(v["bybit_wide_window"], json!({"retCode": 0}), "{v}");
    assert_eq!(v["kraken_time"]["error"], json!([]), "{v}");
    assert!(
        v["kraken_time"]["result"]["rfc1123"]
            .as_str()
            .is_some_and(|t| t.ends_with(" +0000")),
        "{v}"
    );
    let txid = v["kraken_query"]["txid"].as_str().expect("txid");
    let by_userref = &v["kraken_by_userref"]["result"]["open"];
    assert_eq!(by_userref.as_object().map(|o| o.len()), Some(1), "{v}");
    assert_eq!(by_userref[txid]["userref"], 42, "{v}");
    let queried = &v["kraken_query"]["answer"]["result"][txid];
    assert_eq!(
        (
            queried["status"].as_str(),
            queried["descr"]["type"].as_str()
        ),
        (Some("open"), Some("sell")),
        "{v}"
    );
    // Not simulated: each exchange's own error, with a body the library can read.
    assert_eq!(
        v["kraken_balance"],
        json!({"error": ["EGeneral:Unknown method"]}),
        "{v}"
    );
    assert_eq!(v["bybit_wallet"]["http_status"], 404, "{v}");
    assert_eq!(
        sim.stats().auth_refused,
        0,
        "every signature and header was accepted"
    );
}
