//! logscan run as a real process on the fixtures in `fixtures/logs/` and on files it writes.

use std::io::Write;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/logs")
}

fn logscan() -> Command {
    let mut c = Command::cargo_bin("logscan").expect("binary");
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn summary_of(args: &[&str]) -> (Value, i32) {
    let out = logscan()
        .args(["--format", "json"])
        .args(args)
        .output()
        .expect("run");
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
    (v, out.status.code().expect("exit code"))
}

/// Checks a summary and exit code against a fixture's `.expected.json` (keys starting with
/// `_` are not summary fields).
fn assert_expected(
    stem: &str,
    summary: &Value,
    code: i32,
    expected: &serde_json::Map<String, Value>,
) {
    for (k, want) in expected.iter().filter(|(k, _)| !k.starts_with('_')) {
        let got = &summary[k];
        let same = match (got.as_f64(), want.as_f64()) {
            (Some(a), Some(b)) => (a - b).abs() < 1e-6,
            _ => got == want,
        };
        assert!(same, "{stem}: {k} = {got}, expected {want}");
    }
    let ok = expected["ok"].as_bool().expect("ok");
    assert_eq!(code, if ok { 0 } else { 1 }, "{stem}: exit code");
}

#[test]
fn every_fixture_gives_its_expected_summary() {
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures()).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(stem) = name.strip_suffix(".expected.json") else {
            continue;
        };
        let expected: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let log = fixtures().join(format!("{stem}.log"));
        let (summary, code) = summary_of(&[log.to_str().expect("utf8 path")]);
        assert_expected(stem, &summary, code, &expected);
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} fixtures found");
}

#[test]
fn jsonl_output_is_one_event_per_match_then_findings_then_the_summary() {
    let out = logscan()
        .arg(fixtures().join("crash_traceback.log"))
        .output()
        .expect("run");
    // A traceback the log shows is a logged error, not a crash: within the default limit.
    assert_eq!(out.status.code(), Some(0));
    let records: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let kinds: Vec<(&str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["type"].as_str().unwrap_or(""),
                r["kind"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("event", "heartbeat"),
            ("event", "heartbeat"),
            ("event", "exception"),
            ("event", "logged_error"),
            ("event", "traceback"),
            ("summary", ""),
        ]
    );
    let crash = &records[4];
    assert_eq!(crash["line"], 4);
    assert_eq!(crash["line_end"], 9);
    assert_eq!(
        crash["exception"],
        "ZeroDivisionError: float division by zero"
    );
    assert_eq!(crash["timestamp_utc"], "2025-10-01T12:00:41.123000+00:00");
    for r in &records {
        assert_eq!(r["tool"], "logscan");
        assert!(r["timestamp_unix"].is_f64());
    }
}

#[test]
fn gzip_stdin_and_several_files_read_alike() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = std::fs::read(fixtures().join("reconnect_storm.log")).expect("read");
    let gz = dir.path().join("storm.log.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).expect("create"),
        flate2::Compression::default(),
    );
    enc.write_all(&plain).expect("gz");
    enc.finish().expect("finish");
    let (from_gz, _) = summary_of(&[gz.to_str().expect("path")]);
    let out = logscan()
        .args(["--format", "json", "-"])
        .write_stdin(plain)
        .output()
        .expect("run");
    let from_stdin: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(from_gz["ws_reconnect_count"], 16);
    assert_eq!(from_stdin["ws_reconnect_count"], 16);
    let both = [
        fixtures().join("reconnect_storm.log"),
        fixtures().join("handler_timeouts.log"),
    ];
    let (sum, _) = summary_of(&[both[0].to_str().expect("p"), both[1].to_str().expect("p")]);
    assert_eq!(sum["files"], 2);
    assert_eq!(sum["handler_timeout_count"], 10);
}

#[test]
fn binary_junk_is_counted_and_never_stops_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("junk.log");
    let mut bytes = b"2025-10-01 12:00:00,000 INFO [HB] alive\n".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0x00, 0x80, b'\n', 0x00, 0x00, b'\n']);
    bytes.extend_from_slice(b"2025-10-01 12:00:30,000 INFO [HB] alive\n");
    std::fs::write(&p, bytes).expect("write");
    let (sum, code) = summary_of(&[p.to_str().expect("p")]);
    assert_eq!(code, 0);
    assert_eq!(sum["heartbeat_count"], 2);
    assert_eq!(sum["invalid_utf8_lines"], 1);
    assert_eq!(sum["lines"], 4);
}

#[test]
fn thresholds_are_flags() {
    let storm = fixtures().join("reconnect_storm.log");
    let (_, code) = summary_of(&[
        "--max-reconnects-per-hour",
        "20",
        storm.to_str().expect("p"),
    ]);
    assert_eq!(code, 0);
    let unclean = fixtures().join("unclean_shutdown.log");
    let (sum, code) = summary_of(&["--require-clean-shutdown", unclean.to_str().expect("p")]);
    assert_eq!(
        (code, sum["failed_checks"].clone()),
        (1, serde_json::json!(["clean_shutdown"]))
    );
    let clean = fixtures().join("clean_shutdown.log");
    let (_, code) = summary_of(&["--require-clean-shutdown", clean.to_str().expect("p")]);
    assert_eq!(code, 0);
    // A run stopped 10 minutes after the last heartbeat: the silence at the end is a hang.
    let (sum, code) = summary_of(&[
        "--end-time",
        "2025-10-01T12:20:12Z",
        clean.to_str().expect("p"),
    ]);
    assert_eq!(code, 1);
    assert_eq!(
        sum["heartbeat_max_gap_s"].as_f64().map(f64::round),
        Some(637.0)
    );
    // Asking for a heartbeat check on a log without heartbeats fails it.
    let latency = fixtures().join("latency.log");
    let (sum, _) = summary_of(&[
        "--max-heartbeat-gap",
        "5m",
        "--max-p99-latency",
        "1s",
        latency.to_str().expect("p"),
    ]);
    assert_eq!(sum["failed_checks"], serde_json::json!(["heartbeat_gap"]));
}

/// `--end-time` is read by clap: a time it cannot read, or a number that is no time (`nan`
/// would silently pass the heartbeat check), is bad usage naming the flag, before any scan;
/// epoch seconds and RFC 3339 name the same instant.
#[test]
fn end_time_is_parsed_with_the_flags() {
    let clean = fixtures().join("clean_shutdown.log");
    let clean = clean.to_str().expect("p");
    for bad in ["yesterday", "nan", "inf", "2025-10-01 12:20:12"] {
        let out = logscan()
            .args(["--end-time", bad, clean])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(out.stdout.is_empty(), "{bad}: nothing scanned");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{bad}: {err}");
        assert!(
            err.contains("--end-time") && err.contains(&format!("'{bad}'")),
            "{bad}: {err}"
        );
    }
    let (rfc, code) = summary_of(&["--end-time", "2025-10-01T12:20:12Z", clean]);
    assert_eq!(code, 1);
    let (epoch, code) = summary_of(&["--end-time", "1759321212", clean]);
    assert_eq!(code, 1);
    assert_eq!(rfc["heartbeat_max_gap_s"], epoch["heartbeat_max_gap_s"]);
    assert_eq!(rfc["failed_checks"], serde_json::json!(["heartbeat_gap"]));
}

#[test]
fn user_packs_add_kinds_and_bad_packs_exit_2_naming_pattern_and_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pack = dir.path().join("mybot.toml");
    std::fs::write(
        &pack,
        "[[pattern]]\nname = \"fills\"\nkind = \"fill\"\nseverity = \"info\"\nregex = 'Filled (?P<qty>[0-9.]+) (?P<symbol>[A-Z]+)'\n",
    )
    .expect("write");
    let log = dir.path().join("bot.log");
    std::fs::write(&log, "2025-10-01 12:00:00,000 Filled 0.5 BTCUSDT\n").expect("write");
    let out = logscan()
        .arg("--patterns")
        .arg(&pack)
        .arg(&log)
        .output()
        .expect("run");
    let first: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().expect("line"))
            .expect("json");
    assert_eq!(
        (
            first["kind"].as_str(),
            first["qty"].as_f64(),
            first["symbol"].as_str()
        ),
        (Some("fill"), Some(0.5), Some("BTCUSDT"))
    );

    let listed = logscan()
        .args(["--no-builtin", "--list-patterns", "--patterns"])
        .arg(&pack)
        .output()
        .expect("run");
    let text = String::from_utf8(listed.stdout).expect("utf8");
    assert!(
        text.contains("name = \"fills\"") && !text.contains("heartbeat"),
        "{text}"
    );

    std::fs::write(
        &pack,
        "[[pattern]]\nname = \"broken\"\nkind = \"x\"\nregex = 'a(b'\n",
    )
    .expect("write");
    let out = logscan()
        .arg("--patterns")
        .arg(&pack)
        .arg(&log)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).expect("utf8");
    assert!(
        err.contains("mybot.toml: pattern 'broken': invalid regex"),
        "{err}"
    );
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");

    let missing = dir.path().join("nope.log");
    let out = logscan().arg(&missing).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.log"));
}

#[test]
fn github_actions_gets_annotations_and_a_step_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let md = dir.path().join("summary.md");
    let out = logscan()
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &md)
        .arg(fixtures().join("hang.log"))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).expect("utf8");
    assert!(
        err.contains("::error::logscan: heartbeat_gap: measured 600 (threshold"),
        "{err}"
    );
    let summary = std::fs::read_to_string(&md).expect("summary written");
    assert!(
        summary.contains("| heartbeat_gap | <= 5m | 600 | fail |"),
        "{summary}"
    );
}

#[test]
fn json_lines_logs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("app.jsonl");
    std::fs::write(
        &p,
        "{\"time\":\"2025-10-01T12:00:00Z\",\"msg\":\"[HB] alive\"}\n{\"time\":\"2025-10-01T12:10:00Z\",\"msg\":\"[HB] alive\"}\n",
    )
    .expect("write");
    let (sum, code) = summary_of(&["--json-field", "msg", p.to_str().expect("p")]);
    assert_eq!(
        (
            sum["heartbeat_count"].as_u64(),
            sum["heartbeat_max_gap_s"].as_f64(),
            code
        ),
        (Some(2), Some(600.0), 1)
    );
}

fn timeouts_log(dir: &Path, name: &str, per_hour: u32) -> PathBuf {
    let mut text = String::new();
    for m in 0..60u32 {
        text.push_str(&format!(
            "2025-10-01 12:{m:02}:00,000 - bot - INFO - [HB] alive\n"
        ));
        if m < per_hour {
            text.push_str(&format!(
                "2025-10-01 12:{m:02}:30,000 - ws - ERROR - [HANDLER_TIMEOUT] WebSocket message handler timeout for ws-{m}\n"
            ));
        }
    }
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn baseline_comparison_and_expected_reduction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = timeouts_log(dir.path(), "before.log", 40);
    let fixed = timeouts_log(dir.path(), "fixed.log", 2);
    let half = timeouts_log(dir.path(), "half.log", 20);
    let args = |new: &Path| {
        vec![
            "--baseline".to_string(),
            before.display().to_string(),
            "--expect-reduction".to_string(),
            "HANDLER_TIMEOUT=90%".to_string(),
            new.display().to_string(),
        ]
    };
    let a = args(&fixed);
    let (sum, code) = summary_of(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{sum}");
    assert_eq!(sum["baseline_handler_timeout_count"], 40);
    assert_eq!(sum["handler_timeout_count"], 2);
    assert_eq!(sum["handler_timeout_change_percent"], -95.0);
    assert_eq!(sum["check_reduction_handler_timeout"], "pass");

    let a = args(&half);
    let (sum, code) = summary_of(&a.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        (code, sum["check_reduction_handler_timeout"].as_str()),
        (1, Some("fail"))
    );
    assert_eq!(
        sum["failed_checks"],
        serde_json::json!(["reduction_handler_timeout"])
    );

    let out = logscan()
        .args(["--baseline"])
        .arg(&before)
        .args(["--expect-reduction", "NOPE=10%"])
        .arg(&fixed)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no pattern of kind 'nope'"));
    let out = logscan()
        .args(["--expect-reduction", "HANDLER_TIMEOUT=90%"])
        .arg(&fixed)
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--expect-reduction needs --baseline"
    );
}

#[test]
fn the_final_pass_judges_heartbeats_by_the_same_rule() {
    let latency = fixtures().join("latency.log");
    let latency = latency.to_str().expect("p");
    let (sum, code) = summary_of(&[
        "--max-heartbeat-gap",
        "5m",
        "--heartbeat-optional",
        "--max-p99-latency",
        "1s",
        latency,
    ]);
    assert_eq!(code, 0, "{sum}");
    assert_eq!(sum["check_heartbeat_gap"], "no_data");
    assert_eq!(sum["heartbeat_rule"], "no heartbeat in the log");
    assert_eq!(sum["heartbeat_max_gap_s"], Value::Null);
    // In JSONL, no finding with `measured: null` either.
    let out = logscan()
        .args(["--format", "jsonl", "--no-events", "--heartbeat-optional"])
        .args([
            "--max-heartbeat-gap",
            "5m",
            "--max-p99-latency",
            "1s",
            latency,
        ])
        .output()
        .expect("run");
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert_eq!(text.lines().count(), 1, "only the summary: {text}");
    let (sum, _) = summary_of(&[
        "--max-heartbeat-gap",
        "5m",
        "--max-p99-latency",
        "1s",
        latency,
    ]);
    assert_eq!(
        sum["heartbeat_rule"],
        "no heartbeat in the log, but one was required"
    );

    // Silence before the first heartbeat is not judged; after it, it is.
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("late.log");
    std::fs::write(
        &log,
        "2026-12-06 10:00:00,000 INFO starting, loading a large model\n\
2026-12-06 10:30:00,000 INFO tick\n2026-12-06 10:31:00,000 INFO tick\n",
    )
    .expect("write");
    let log = log.to_str().expect("p");
    let (sum, code) = summary_of(&["--heartbeat-regex", r"INFO tick$", log]);
    assert_eq!(
        (
            code,
            sum["heartbeat_count"].as_u64(),
            sum["heartbeat_max_gap_s"].as_f64()
        ),
        (0, Some(2), Some(60.0)),
        "{sum}"
    );
    let (sum, code) = summary_of(&[
        "--heartbeat-regex",
        r"INFO tick$",
        "--end-time",
        "2026-12-06T10:40:00Z",
        log,
    ]);
    assert_eq!(
        (code, sum["heartbeat_max_gap_s"].as_f64()),
        (1, Some(540.0))
    );
    let out = logscan()
        .args(["--heartbeat-regex", "a(b", log])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--heartbeat-regex 'a(b'"), "{err}");
}

// --- `--pack NAME`: the named packs on logs in each bot's own format (`fixtures/logs/packs/`).

fn pack_fixtures() -> PathBuf {
    fixtures().join("packs")
}

/// Each `NAME.expected.json` gives the flags (`_args`) and the summary figures for `NAME.log`.
#[test]
fn every_pack_fixture_gives_its_expected_summary() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(pack_fixtures()).expect("fixtures dir") {
        let path = entry.expect("entry").path();
        let Some(stem) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".expected.json"))
        else {
            continue;
        };
        let expected: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        let mut args: Vec<String> = expected["_args"]
            .as_array()
            .expect("_args")
            .iter()
            .map(|a| a.as_str().expect("string arg").to_string())
            .collect();
        let log = pack_fixtures().join(format!("{stem}.log"));
        args.push(log.to_str().expect("utf8 path").to_string());
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (summary, code) = summary_of(&argv);
        assert_expected(stem, &summary, code, &expected);
        checked.push(stem.to_string());
    }
    checked.sort();
    for needed in [
        "freqtrade",
        "freqtrade_crash",
        "freqtrade_hang",
        "hummingbot",
    ] {
        assert!(
            checked.iter().any(|c| c == needed),
            "{needed} not checked: {checked:?}"
        );
    }
}

/// Without the pack, a freqtrade log shows no heartbeat: what issue 19 found.
#[test]
fn without_the_pack_freqtrade_heartbeats_are_not_seen() {
    let log = pack_fixtures().join("freqtrade.log");
    let log = log.to_str().expect("p");
    let (sum, code) = summary_of(&["--max-heartbeat-gap", "90s", log]);
    assert_eq!(code, 1, "{sum}");
    assert_eq!(sum["heartbeat_count"], 0);
    assert_eq!(
        sum["heartbeat_rule"],
        "no heartbeat in the log, but one was required"
    );
    let (sum, code) = summary_of(&["--pack", "freqtrade", "--max-heartbeat-gap", "90s", log]);
    assert_eq!((code, sum["heartbeat_count"].as_u64()), (0, Some(20)));
}

#[test]
fn heartbeat_events_carry_pid_and_state() {
    let log = pack_fixtures().join("freqtrade_crash.log");
    let out = logscan()
        .args(["--format", "jsonl", "--pack", "freqtrade"])
        .arg(&log)
        .output()
        .expect("run");
    let beats: Vec<Value> = String::from_utf8(out.stdout)
        .expect("utf8")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|r| r["type"] == "event" && r["kind"] == "heartbeat")
        .collect();
    let states: Vec<&str> = beats.iter().filter_map(|b| b["state"].as_str()).collect();
    assert_eq!(states, ["RUNNING", "RUNNING", "STOPPED"]);
    assert_eq!(beats[0]["pid"], 1);
    assert_eq!(beats[0]["pattern"], "freqtrade_heartbeat");
}

#[test]
fn list_packs_and_unknown_pack() {
    let out = logscan().arg("--list-packs").output().expect("run");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf8");
    for name in ["freqtrade\t", "hummingbot\t"] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{text}");
    }

    // --list-patterns shows the pack's patterns after the built-in ones.
    let out = logscan()
        .args(["--pack", "freqtrade", "--list-patterns"])
        .output()
        .expect("run");
    let text = String::from_utf8(out.stdout).expect("utf8");
    assert!(text.contains("name = \"freqtrade_heartbeat\""), "{text}");
    assert!(
        text.contains("name = \"heartbeat\""),
        "built-in kept: {text}"
    );

    let out = logscan()
        .args(["--pack", "freqtrad", "x.log"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--pack 'freqtrad': no such pack (known: freqtrade, hummingbot)"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn output_file_gets_the_findings_and_summary_and_quiet_prints_nothing() {
    let dir = tempfile::tempdir().expect("tmp");
    let (file, md) = (dir.path().join("hang.jsonl"), dir.path().join("summary.md"));
    let log = fixtures().join("hang.log");
    let out = logscan()
        .arg(&log)
        .arg("-q")
        .arg("-o")
        .arg(&file)
        .arg("--summary-md")
        .arg(&md)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "the hang fixture fails a check");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = std::fs::read_to_string(&file).expect("output file");
    let records: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect();
    let (last, findings) = records.split_last().expect("records");
    assert_eq!(last["type"], "summary");
    assert!(!findings.is_empty() && findings.iter().all(|r| r["type"] == "finding"));
    // Only the findings and the summary: the streamed events stay on stdout's side.
    let streamed = logscan().arg(&log).output().expect("run");
    let on_stdout = String::from_utf8_lossy(&streamed.stdout);
    let streamed: Vec<Value> = on_stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSONL"))
        .collect();
    assert!(streamed.iter().any(|r| r["type"] == "event"));
    assert_eq!(
        streamed.last().map(|r| &r["failed_checks"]),
        Some(&last["failed_checks"])
    );
    let summary = std::fs::read_to_string(&md).expect("step summary");
    assert!(summary.starts_with("## logscan\n\n| check |"), "{summary}");
}
