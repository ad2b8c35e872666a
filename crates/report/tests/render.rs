//! The page rendered from run directories written here in the tools' own record formats: a
//! 72-hour run at 1 s stays under 2 MB with its spike and its leak visible; health, event
//! marks, findings, hostile text and damaged lines are all shown for what they are.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use soak_report::Run;
use soak_report::run::{Metric, PLOT_WIDTH};

const T0: f64 = 1_796_590_000.0;

fn sample(t: f64, tree_mb: f64, cpu: f64) -> String {
    format!(
        r#"{{"type":"sample","tool":"resmon","timestamp_utc":"x","timestamp_unix":{t},"elapsed_s":{e},"cpu_percent":12.5,"memory_used_mb":2048.0,"disk_used_gb":41.2,"tree_memory_mb":{tree_mb},"tree_cpu_percent":{cpu},"tree_threads":8,"tree_fds":20}}"#,
        e = t - T0
    )
}

fn write_gz(path: &Path, text: &str) {
    let file = std::fs::File::create(path).expect("create");
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    gz.write_all(text.as_bytes()).expect("gzip");
    gz.finish().expect("finish");
}

fn summary(rows: &[(&str, &str, &str)]) -> String {
    let rows: Vec<String> = rows
        .iter()
        .map(|(metric, status, detail)| {
            format!(
                r#"{{"metric":"{metric}","threshold":"t","value":"v","status":"{status}","detail":"{detail}","added_by_a_newer_soak":1}}"#
            )
        })
        .collect();
    format!(
        r#"{{"ok":false,"stopped_because":"duration reached","run_dir":"r","early_warnings":[],"rows":[{}]}}"#,
        rows.join(",")
    )
}

#[test]
fn a_72_hour_run_at_1_s_stays_under_2_mb_with_its_spike_and_trend() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 259,200 samples: memory flat for 12 h, then +2 MB/h; one 1-second CPU spike at 50 h.
    let n = 259_200u32;
    let spike_at = 50 * 3600;
    let mut text = String::with_capacity(n as usize * 260);
    for i in 0..n {
        let t = T0 + f64::from(i);
        let h = f64::from(i) / 3600.0;
        let mem = 100.0 + if h > 12.0 { (h - 12.0) * 2.0 } else { 0.0 } + f64::from(i % 7) * 0.01;
        let cpu = if i == spike_at { 97.0 } else { 1.5 };
        text.push_str(&sample(t, mem, cpu));
        text.push('\n');
    }
    write_gz(&dir.path().join("resources.jsonl.gz"), &text);
    drop(text);
    std::fs::write(
        dir.path().join("resources.analysis.json"),
        r#"{"time_axis":"elapsed_s","leak":{"series":"tree_memory_mb","verdict":"leak","slope_mb_per_hour":2.0,"ci_low_mb_per_hour":1.99,"ci_high_mb_per_hour":2.01,"window_start_s":43200.0,"window_end_s":259199.0,"window_reason":"change_point","threshold_mb_per_hour":1.0,"reason":"rising"}}"#,
    )
    .expect("analysis");
    std::fs::write(
        dir.path().join("summary.json"),
        summary(&[("Memory growth", "fail", "leak on tree_memory_mb")]),
    )
    .expect("summary");

    let run = Run::load(dir.path()).expect("load");
    assert_eq!(run.info.samples, u64::from(n));
    let cpu = run.series.get(&Metric::ServiceCpu).expect("cpu series");
    assert_eq!(cpu.range(), Some((1.5, 97.0)), "the 1 s spike survives");
    let spike_points: usize = cpu
        .segments(run.max_gap_s)
        .iter()
        .map(|s| s.iter().filter(|(_, v)| *v == 97.0).count())
        .sum();
    assert_eq!(spike_points, 1);
    let mem_points: usize = run.series[&Metric::TreeMemory]
        .segments(run.max_gap_s)
        .iter()
        .map(Vec::len)
        .sum();
    assert!(mem_points <= 2 * PLOT_WIDTH as usize, "{mem_points} points");
    let trend = run.trend.as_ref().expect("trend");
    assert_eq!(trend.start, T0 + 43200.0);
    let (a, b) = trend.line.expect("fitted line");
    // Theil-Sen's intercept: at the window's start the line sits on the data (100 MB).
    assert!((a - 100.03).abs() < 0.05, "{a}");
    assert!((b - (a + 2.0 * 59.99972)).abs() < 0.05, "{b}");

    let page = soak_report::page::render(&run);
    assert!(page.len() < 2 * 1024 * 1024, "{} bytes", page.len());
    assert!(page.contains("+60 h"), "elapsed hours on the axis");
    assert!(page.contains(r#"class="trend""#));
    assert!(page.contains("trend +2.0 MB/h (CI 2.0..2.0), leak"));
    eprintln!("72 h at 1 s: {} bytes", page.len());
}

#[test]
fn health_events_findings_and_damage_are_all_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let mut res = String::new();
    for i in 0..60 {
        let _ = writeln!(res, "{}", sample(T0 + f64::from(i), 50.0, 2.0));
    }
    res.push_str("{\"type\":\"sample\",\"timestamp_unix\":\n");
    std::fs::write(d.join("resources.jsonl"), res).expect("resources");
    let mut health = String::new();
    for i in 0..12 {
        let t = T0 + f64::from(i) * 5.0;
        let ok = !(6..8).contains(&i);
        let line = if ok {
            format!(
                r#"{{"type":"sample","tool":"soak","timestamp_utc":"x","timestamp_unix":{t},"ok":true,"status":200,"latency_ms":{},"error":null}}"#,
                3.0 + f64::from(i)
            )
        } else {
            format!(
                r#"{{"type":"sample","tool":"soak","timestamp_utc":"x","timestamp_unix":{t},"ok":false,"status":null,"latency_ms":null,"error":"connection refused"}}"#
            )
        };
        let _ = writeln!(health, "{line}");
    }
    std::fs::write(d.join("health.jsonl"), health).expect("health");
    let ev = |t: f64, kind: &str, sev: &str, text: &str| {
        format!(
            r#"{{"type":"event","tool":"logscan","timestamp_utc":"x","timestamp_unix":{t},"event":"{kind}","kind":"{kind}","pattern":"{kind}","severity":"{sev}","file":"service.log","line":7,"text":"{text}"}}"#
        )
    };
    let events = [
        ev(T0 + 1.0, "heartbeat", "info", "[HB] alive"),
        ev(T0 + 30.0, "ws_reconnect", "warning", "reconnecting <script>alert(1)</script>"),
        ev(T0 + 30.001, "ws_reconnect", "warning", "reconnecting again"),
        ev(T0 + 40.0, "handler_timeout", "error", "handler timed out"),
        // logscan groups a traceback into one `traceback` event: an error the service logged.
        ev(T0 + 41.0, "traceback", "critical", "Traceback (most recent call last):"),
        // A line dated years before the run (a replayed log) does not stretch the axis.
        ev(T0 - 3.0e8, "order_error", "error", "from another decade"),
        r#"{"type":"event","tool":"logscan","timestamp_utc":"x","timestamp_unix":1796590045.0,"event":"auth_failure","kind":"auth_failure","severity":"error","file":"/run/x/service.log","line":3,"text":"401 for key AKIAIOSFODNN7EXAMPLE"}"#.to_string(),
        r#"{"type":"finding","tool":"logscan","timestamp_utc":"x","timestamp_unix":1796590050.0,"kind":"hang","severity":"critical","file":"service.log","silent_s":12.0,"message":"hang: no heartbeat in service.log for 12s (limit 10s)"}"#.to_string(),
    ];
    write_gz(
        &d.join("logscan-follow.jsonl.gz"),
        &(events.join("\n") + "\n"),
    );
    std::fs::write(
        d.join("secrets.jsonl"),
        r#"{"type":"finding","tool":"seccheck","timestamp_utc":"x","timestamp_unix":1.0,"kind":"aws_access_key","file":"service.log","line":3,"column":9,"masked":"AKIA************MPLE"}
"#,
    )
    .expect("secrets");
    std::fs::write(
        d.join("orders.jsonl"),
        r#"{"type":"finding","tool":"orphan-cancel","timestamp_utc":"x","timestamp_unix":1.0,"finding":"orphan","exchange":"bybit","category":"linear","symbol":"BTCUSDT","side":"Buy","qty":"0.001","price":"25000","order_id":"o-1","client_id":"BOT_1","status":"New","local_status":null,"created_ms":1,"age_s":12.5,"reason":"open on the exchange, unknown to the bot"}
"#,
    )
    .expect("orders");
    std::fs::write(
        d.join("summary.json"),
        summary(&[
            ("Availability", "fail", "10 of 12 health polls answered 2xx"),
            ("Leaked secrets", "fail", "1 (secrets.jsonl)"),
            ("A row added later", "pass", "from newer.jsonl"),
        ]),
    )
    .expect("summary");
    // A symlink planted among the artifacts is neither read nor listed.
    std::os::unix::fs::symlink("/etc/passwd", d.join("zombies.jsonl")).expect("symlink");

    let page = soak_report::render_run_dir(d).expect("render");
    for id in [
        "chart-memory",
        "chart-cpu",
        "chart-disk",
        "chart-fds",
        "chart-health-latency",
        "chart-availability",
        "chart-events",
    ] {
        assert!(page.contains(&format!(r#"id="{id}""#)), "{id} missing");
    }
    assert!(page.contains("Availability: 83.33 % of 12 polls answered 2xx"));
    assert_eq!(page.matches(r#"class="failed-poll""#).count(), 2);
    assert!(page.contains(r#"<rect class="avail down""#));
    assert!(page.contains("connection refused"));
    // Two reconnects 1 ms apart share a pixel: one mark that says so.
    assert_eq!(page.matches(r#"class="mark mark-reconnect""#).count(), 1);
    assert!(page.contains("(+1 more in this pixel)"));
    assert_eq!(page.matches(r#"class="mark mark-timeout""#).count(), 1);
    assert_eq!(
        page.matches(r#"class="mark mark-error""#).count(),
        2,
        "traceback, auth"
    );
    assert!(!page.contains("mark-other"));
    assert_eq!(page.matches(r#"class="mark mark-hang""#).count(), 1);
    assert!(
        page.contains(r#"class="rule rule-hang""#),
        "the hang is ruled across the charts"
    );
    assert!(
        !page.contains("mark-heartbeat"),
        "routine lines are not marks"
    );
    assert!(page.contains("; 1 dated far outside the run not drawn;"));
    assert!(!page.contains("from another decade"));
    assert!(
        page.contains(">+50 s<"),
        "the axis spans the minute measured"
    );
    assert!(!page.contains("<script>"), "log text is escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("AKIA************MPLE"));
    assert!(
        !page.contains("AKIAIOSFODNN7EXAMPLE"),
        "a log line with a secret in it is not quoted"
    );
    assert!(page.contains("auth_failure (log line 3): text withheld"));
    assert!(page.contains("BOT_1"));
    assert!(page.contains(r#"data-metric="A row added later""#));
    assert!(page.contains(r##"<a href="#chart-availability">"##));
    assert!(page.contains(r#"<a href="./secrets.jsonl">secrets.jsonl</a>"#));
    assert!(!page.contains("zombies.jsonl"), "the symlink is not listed");
    assert!(!page.contains("root:x:0:0"));
    assert!(
        page.contains("resources.jsonl (1 lines"),
        "the torn last line is reported"
    );
    assert!(!page.contains(" src="), "nothing is loaded from anywhere");
}

#[test]
fn a_run_without_a_verdict_says_so_and_bad_json_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let page = soak_report::render_run_dir(dir.path()).expect("render");
    assert!(page.contains("NO VERDICT"));
    assert!(page.contains("Nothing in this run has a time"));
    std::fs::write(dir.path().join("summary.json"), "{\"rows\": 3}").expect("write");
    let err = soak_report::render_run_dir(dir.path()).expect_err("malformed summary");
    assert!(
        err.to_string()
            .contains("summary.json: not the expected JSON"),
        "{err}"
    );
    let missing = dir.path().join("nope");
    let err = soak_report::render_run_dir(&missing).expect_err("missing dir");
    assert!(err.to_string().contains("nope"), "{err}");
}
