//! The output flags every soakkit tool shares (`-f/--format`, `-o/--output`, `--summary-md`,
//! `-q/--quiet`), the renamed flags (`--exchange-url`, `--state-file`) next to their old
//! spellings, and the `::error::` annotations of failed checks under GitHub Actions, against
//! the simulator.

mod common;

use std::path::{Path, PathBuf};

use common::{oc, records};
use exchange_sim::book::{SimOrder, Venue};
use exchange_sim::{Running, start};
use serde_json::json;

/// A simulator with 3 Bybit `BOT_` orders the bot's (empty) state does not know: orphans.
fn sim_with_three_orphans() -> Running {
    let mut cfg = common::sim_config(0);
    for i in 0..3 {
        let o: SimOrder = serde_json::from_value(json!({
            "exchange": Venue::Bybit,
            "category": "linear",
            "client_id": format!("BOT_{i}"),
            "symbol": "BTCUSDT",
        }))
        .expect("order");
        cfg.orders.push(o);
    }
    start(cfg).expect("simulator")
}

fn empty_state(dir: &Path) -> PathBuf {
    let p = dir.join("state.json");
    std::fs::write(&p, b"[]").expect("state");
    p
}

#[test]
fn new_and_old_spellings_give_the_same_reconciliation() {
    let sim = sim_with_three_orphans();
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let mut outputs = Vec::new();
    for (url_flag, state_flag) in [
        ("--exchange-url", "--state-file"),
        ("--base-url", "--state"),
    ] {
        let out = oc()
            .args(["reconcile", "--exchange", "bybit", url_flag, &sim.url])
            .arg(state_flag)
            .arg(&state)
            .args(["-f", "jsonl"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(1), "{url_flag} {state_flag}");
        let recs = records(&out.stdout);
        let orphans = recs.iter().filter(|r| r["kind"] == "orphan").count();
        assert_eq!(orphans, 3, "{url_flag}: {recs:?}");
        outputs.push(recs.last().expect("summary")["orphans"].clone());
    }
    assert_eq!(outputs, [json!(3), json!(3)]);
    let help = oc().args(["reconcile", "--help"]).output().expect("help");
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--exchange-url") && help.contains("--state-file"),
        "{help}"
    );
    assert!(
        !help.contains("--base-url <") && !help.contains("--state <"),
        "aliases stay hidden: {help}"
    );
}

#[test]
fn output_file_quiet_step_summary_and_annotations() {
    let sim = sim_with_three_orphans();
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let out_file = dir.path().join("findings.jsonl");
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "# earlier step\n").expect("summary");
    let out = oc()
        .args([
            "reconcile",
            "--exchange",
            "bybit",
            "--exchange-url",
            &sim.url,
        ])
        .arg("--state-file")
        .arg(&state)
        .arg("-o")
        .arg(&out_file)
        .arg("--summary-md")
        .arg(&summary)
        .arg("-q")
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    // Quiet: nothing on stdout; the failed check's annotation on stderr.
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines,
        ["::error::3 orphan order(s) on bybit: open on the exchange, not in the bot's state"],
        "{stderr}"
    );
    // The file gets JSONL (it is a file): the findings, then the summary.
    let recs = records(&std::fs::read(&out_file).expect("output"));
    assert_eq!(recs.len(), 4);
    assert_eq!(recs[3]["type"], "summary");
    assert_eq!(recs[3]["ok"], false);
    // The step summary is appended under the tool's heading, as a Markdown table.
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        md.starts_with("# earlier step\n## orphan-cancel reconcile\n\n| kind |"),
        "{md}"
    );
    assert_eq!(md.matches("| orphan |").count(), 3, "{md}");
    assert!(md.contains("orphans=3"), "{md}");
}

#[test]
fn a_dry_run_cancel_renders_in_every_format_and_refuses_sarif() {
    let sim = sim_with_three_orphans();
    let dir = tempfile::tempdir().expect("tmp");
    let state = empty_state(dir.path());
    let cancel = |format: &str| {
        oc().args(["cancel", "--exchange", "bybit", "--exchange-url", &sim.url])
            .arg("--state-file")
            .arg(&state)
            .args(["--format", format])
            .output()
            .expect("run")
    };
    let csv = cancel("csv");
    assert_eq!(csv.status.code(), Some(0));
    let csv = String::from_utf8_lossy(&csv.stdout);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "action,symbol,side,order_id,client_id,result,dry_run"
    );
    assert_eq!(
        rows.len(),
        4,
        "a header and 3 rows, nothing else in CSV: {csv}"
    );
    assert!(
        rows[1..]
            .iter()
            .all(|r| r.starts_with("cancel,BTCUSDT,Buy,") && r.ends_with(",would_cancel,true")),
        "{csv}"
    );
    let table = cancel("table");
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.trim_end().ends_with(
            "command=cancel exchange=bybit dry_run=true targeted=3 already_gone=0 ok=true"
        ),
        "{table}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&cancel("json").stdout).expect("one JSON document");
    assert_eq!(json.as_array().map(Vec::len), Some(4));
    let sarif = cancel("sarif");
    assert_eq!(sarif.status.code(), Some(2));
    let err = String::from_utf8_lossy(&sarif.stderr);
    assert!(err.contains("--format sarif"), "{err}");
    assert!(sarif.stdout.is_empty());
    assert!(
        sim.orders().iter().all(|o| o.is_open()),
        "a dry run cancels nothing"
    );
}
