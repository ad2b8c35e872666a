//! Output formats, exit codes, plots and Prometheus rules of the real binary.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use resanalyze::tracegen::{Shape, TraceSpec, write_trace};
use serde_json::Value;

fn trace(dir: &Path, shape: Shape, hours: f64) -> PathBuf {
    let path = dir.join(format!("{}.jsonl", shape.name()));
    let mut f = BufWriter::new(File::create(&path).expect("create"));
    write_trace(&mut f, &TraceSpec::new(shape, hours, 60.0)).expect("write");
    f.flush().expect("flush");
    path
}

fn bin() -> Command {
    let mut c = Command::cargo_bin("resanalyze").expect("bin");
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn have(tool: &str) -> bool {
    StdCommand::new(tool).arg("--version").output().is_ok()
}

#[test]
fn seed_recording_shape_analyses_with_seed_fields() {
    let out = bin()
        .args([
            "../../fixtures/resanalyze/seed_001_sample.jsonl",
            "--format",
            "json",
        ])
        .output()
        .expect("run");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    for key in [
        "snapshot_count",
        "duration_hours",
        "memory",
        "cpu",
        "disk",
        "memory_leak_detected",
        "memory_growth_mb_per_hour",
        "memory_stats",
        "checks",
        "skipped_lines",
    ] {
        assert!(doc.get(key).is_some(), "missing {key}");
    }
    for key in [
        "min_mb",
        "max_mb",
        "avg_mb",
        "leak_mb_per_hour",
        "leak_detected",
    ] {
        assert!(doc["memory"].get(key).is_some(), "missing memory.{key}");
    }
    assert_eq!(doc["leak"]["series"], "process_memory_mb");
    assert_eq!(doc["time_axis"], "timestamp_unix");
}

#[test]
fn markdown_table_write_analysis_and_summary() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = trace(dir.path(), Shape::Linear, 6.0);
    let analysis = dir.path().join("resources.analysis.json");
    let summary = dir.path().join("summary.md");
    let out = bin()
        .arg(&path)
        .args(["--format", "markdown", "--write-analysis"])
        .arg(&analysis)
        .arg("--summary-md")
        .arg(&summary)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a linear leak fails the memory check"
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("| memory_growth | fail"), "{md}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("::error::")
            || String::from_utf8_lossy(&out.stderr).contains("::error::")
    );
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&analysis).expect("analysis")).expect("json");
    assert_eq!(doc["memory_leak_detected"], Value::Bool(true));
    assert!(
        std::fs::read_to_string(&summary)
            .expect("summary")
            .contains("checks FAILED")
    );
    let table = bin()
        .arg(&path)
        .args(["--format", "table"])
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&table.stdout).contains("leak verdict"));
}

#[test]
fn bad_input_exits_2_and_names_it() {
    let out = bin()
        .args(["/nonexistent/run.jsonl"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/run.jsonl"));
    let dir = tempfile::tempdir().expect("tmp");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "not json\n{\"type\":\"event\"}\n").expect("write");
    let out = bin().arg(&empty).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no samples"));
}

#[test]
fn svg_plot_is_valid_xml_with_the_series() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = trace(dir.path(), Shape::LateLeak, 8.0);
    let svg = dir.path().join("plot.svg");
    bin()
        .arg(&path)
        .arg("--plot")
        .arg(&svg)
        .args(["--format", "json"])
        .assert()
        .code(1);
    let text = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        text.contains("tree_memory_mb (MB): leak"),
        "title names the judged series"
    );
    assert!(text.matches("<polyline").count() >= 4, "one line per panel");
    assert!(text.contains("cpu_percent") && text.contains("disk_used_gb"));
    if have("python3") {
        let ok = StdCommand::new("python3")
            .args([
                "-c",
                "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])",
            ])
            .arg(&svg)
            .status()
            .expect("python3");
        assert!(ok.success(), "SVG does not parse as XML");
    } else {
        eprintln!("skipping XML parse: python3 not installed");
    }
    let png = dir.path().join("plot.png");
    bin()
        .arg(&path)
        .arg("--plot")
        .arg(&png)
        .args(["--format", "json"])
        .assert()
        .code(1);
    let bytes = std::fs::read(&png).expect("png");
    assert_eq!(&bytes[1..4], b"PNG");
}

#[test]
fn prometheus_rules_pass_promtool() {
    let out = bin()
        .args(["--emit-prom-rules", "--leak-threshold", "5MB/h"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("deriv(resmon_process_resident_memory_bytes[2h]) * 3600 > 5242880"));
    assert!(text.contains("predict_linear(resmon_disk_free_bytes"));
    assert!(text.contains(
        "container_memory_working_set_bytes / container_spec_memory_limit_bytes > 0.8\n"
    ));
    assert!(text.contains("increase(container_oom_events_total[10m]) > 0"));
    if !have("promtool") {
        eprintln!("skipping promtool check: promtool not installed (Debian package prometheus)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, text.as_bytes()).expect("write");
    let check = StdCommand::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
        .expect("promtool");
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

#[test]
fn baseline_flags_a_higher_plateau() {
    let dir = tempfile::tempdir().expect("tmp");
    let old = trace(dir.path(), Shape::Flat, 6.0);
    let new = trace(dir.path(), Shape::WarmupPlateau, 6.0);
    let out = bin()
        .arg(&new)
        .arg("--baseline")
        .arg(&old)
        .args(["--regression", "10%", "--format", "json"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let rows = doc["baseline_comparison"].as_array().expect("rows");
    let plateau = rows
        .iter()
        .find(|r| r["metric"] == "rss_plateau_mb")
        .expect("plateau row");
    assert_eq!(plateau["regression"], Value::Bool(true));
    let cpu = rows
        .iter()
        .find(|r| r["metric"] == "cpu_avg_percent")
        .expect("cpu row");
    assert_eq!(cpu["regression"], Value::Bool(false));
    // the same run against itself is no regression
    bin()
        .arg(&old)
        .arg("--baseline")
        .arg(&old)
        .args(["--format", "json"])
        .assert()
        .code(0);
}

#[test]
fn split_gzip_and_stdin_inputs_read_as_one_run() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = trace(dir.path(), Shape::Linear, 6.0);
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let first = dir.path().join("part1.jsonl");
    std::fs::write(&first, a.join("\n") + "\n").expect("write");
    let second = dir.path().join("part2.jsonl");
    std::fs::write(&second, b.join("\n") + "\n").expect("write");
    if have("gzip") {
        assert!(
            StdCommand::new("gzip")
                .arg(&second)
                .status()
                .expect("gzip")
                .success()
        );
    } else {
        eprintln!("gzip not installed: testing the second part uncompressed");
    }
    let pattern = dir.path().join("part*.jsonl*");
    let out = bin()
        .arg(pattern.to_str().expect("utf8"))
        .args(["--format", "json"])
        .output()
        .expect("run");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let whole = bin()
        .arg("-")
        .args(["--format", "json"])
        .write_stdin(text.clone())
        .output()
        .expect("run");
    let whole: Value = serde_json::from_slice(&whole.stdout).expect("json");
    assert_eq!(doc["snapshot_count"], whole["snapshot_count"]);
    assert_eq!(doc["snapshot_count"], 361);
    assert_eq!(
        doc["leak"]["slope_mb_per_hour"],
        whole["leak"]["slope_mb_per_hour"]
    );
}

/// A 4.5-minute run whose RSS rises 12.9 MB/h in allocator-sized steps (0.97 MB in all): the
/// noise floor, not the 10 MB/h threshold, decides, and the check says so with a threshold its
/// value is compared against, so the row cannot read "12.9 MB/h < 10 MB/h: pass".
#[test]
fn memory_check_value_threshold_and_window_agree_with_its_verdict() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("short.jsonl");
    let mut text = String::new();
    for k in 0..55u32 {
        let t = f64::from(k) * 5.0;
        // 12.9 MB/h in 0.125 MB steps.
        let rss = 40.0 + ((12.9 * t / 3600.0) / 0.125).floor() * 0.125;
        text.push_str(&format!(
            "{{\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_unix\":{},\"elapsed_s\":{t},\"tree_memory_mb\":{rss}}}\n",
            1_760_000_000.0 + t
        ));
    }
    std::fs::write(&path, text).expect("write");
    let run = |format: &str| {
        let args = [
            "--min-span",
            "1m",
            "--min-samples",
            "10",
            "--format",
            format,
        ];
        bin().arg(&path).args(args).output().expect("run").stdout
    };
    let doc: Value = serde_json::from_slice(&run("json")).expect("json");
    let check = doc["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["name"] == "memory_growth"))
        .expect("memory_growth");
    let value = check["value"].as_f64().expect("value");
    let threshold = check["threshold"].as_f64().expect("threshold");
    assert_eq!(check["ok"], true, "{check}");
    assert_eq!(check["decided_by"], "noise_floor", "{check}");
    assert!(
        check["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("no_leak (noise floor) on tree_memory_mb")),
        "{check}"
    );
    assert!(value > 10.0, "the judged slope: {value}");
    assert!(
        value < threshold,
        "an ok row shows a value under its threshold: {check}"
    );
    assert_eq!(check["leak_threshold_mb_per_hour"], 10.0);
    assert_eq!(check["method"], "whole");
    assert!(check["growth_mb"].as_f64().expect("growth") < 1.0);
    assert_eq!(check["window_start_s"], 0.0);
    assert_eq!(check["window_end_s"], 270.0);
    // The terminal table names the window and the rate to beat.
    let table = run("table");
    let text = String::from_utf8_lossy(&table);
    assert!(text.contains("whole_run 0.00..0.07 h"), "{text}");
    assert!(text.contains("rate to beat (MB/h)"), "{text}");
}

#[test]
fn piped_output_is_jsonl_csv_is_the_checks_and_quiet_still_writes_the_file() {
    let dir = tempfile::tempdir().expect("tmp");
    let input = trace(dir.path(), Shape::Linear, 2.0);
    // Piped without --format: JSONL, as every tool: a finding per failed check, the summary last.
    let piped = bin().arg(&input).output().expect("run");
    assert_eq!(piped.status.code(), Some(1), "a linear leak fails");
    let records: Vec<Value> = String::from_utf8_lossy(&piped.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let (summary, findings) = records.split_last().expect("records");
    assert_eq!(summary["type"], "summary");
    assert_eq!(summary["leak_verdict"], "leak");
    assert!(findings.iter().any(|f| f["kind"] == "memory_growth"));

    // CSV: one row per check, read back by a CSV reader.
    let csv_out = bin().arg(&input).args(["-f", "csv"]).output().expect("csv");
    let mut reader = csv::Reader::from_reader(&csv_out.stdout[..]);
    let headers = reader.headers().expect("header").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        ["check", "status", "value", "threshold", "detail"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let checks = summary["analysis"]["checks"].as_array().expect("checks");
    assert_eq!(rows.len(), checks.len());
    assert_eq!(&rows[0][0], "memory_growth");
    assert_eq!(&rows[0][1], "fail");

    // -q with -o: nothing on stdout, the document in the file, the same exit code.
    let file = dir.path().join("analysis.json");
    let quiet = bin()
        .arg(&input)
        .args(["-q", "-f", "json", "-o"])
        .arg(&file)
        .output()
        .expect("quiet");
    assert_eq!(quiet.status.code(), Some(1));
    assert!(quiet.stdout.is_empty());
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("file")).expect("json");
    assert_eq!(doc, summary["analysis"]);
}
