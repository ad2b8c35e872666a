//! The `exchange-sim` binary: prints its URL first, answers on loopback, refuses a bad
//! signature, and ends with a summary on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
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
