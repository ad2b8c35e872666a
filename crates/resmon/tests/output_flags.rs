//! resmon's share of the flags every soakkit tool has: `-f/--format jsonl|csv` for the sample
//! stream, `-o/--output` appending, `-q/--quiet`, `--summary-md` with the run's summary, and
//! the formats a stream cannot be refused with exit 2. Real processes, real files.

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;

fn resmon() -> Command {
    let mut c = Command::cargo_bin("resmon").expect("resmon binary");
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn run(c: &mut Command) -> std::process::Output {
    let out = c.output().expect("run resmon");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn csv_rows(path: &Path) -> Vec<csv::StringRecord> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(path)
        .expect("csv")
        .records()
        .map(|r| r.expect("a CSV row"))
        .collect()
}

#[test]
fn csv_samples_appended_under_one_header_and_a_summary() {
    let d = tempfile::tempdir().expect("tmp");
    let csv_path = d.path().join("res.csv");
    let md = d.path().join("summary.md");
    for n in ["3", "2"] {
        let out = run(resmon()
            .args(["-n", n, "-i", "50ms", "-f", "csv", "-o"])
            .arg(&csv_path)
            .arg("--summary-md")
            .arg(&md));
        assert!(out.stdout.is_empty(), "the stream went to --output");
    }
    let rows = csv_rows(&csv_path);
    assert_eq!(
        rows.len(),
        1 + 3 + 2,
        "one header, a row per sample, no events"
    );
    let header: Vec<&str> = rows[0].iter().collect();
    assert_eq!(
        &header[..4],
        ["type", "tool", "timestamp_utc", "timestamp_unix"]
    );
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let seqs: Vec<&str> = rows[1..].iter().map(|r| &r[col("seq")]).collect();
    assert_eq!(seqs, ["0", "1", "2", "0", "1"]);
    for r in &rows[1..] {
        assert_eq!(r.len(), header.len());
        assert_eq!((&r[0], &r[1]), ("sample", "resmon"));
        assert!(
            r[col("memory_total_mb")]
                .parse::<f64>()
                .is_ok_and(|v| v > 0.0)
        );
        assert_eq!(&r[col("process_memory_mb")], "", "no target: an empty cell");
    }
    let md = std::fs::read_to_string(&md).expect("summary");
    assert_eq!(md.matches("## resmon\n\n| samples |").count(), 2, "{md}");
    assert!(md.contains("| 3 | 0 |") && md.contains("| 2 | 0 |"), "{md}");
    assert!(
        md.contains("| count | 0 |"),
        "ended by --count, exit 0: {md}"
    );
    assert!(md.contains("No target was followed"), "{md}");
    assert!(md.contains("Events: `start` 1, `stop` 1"), "{md}");
}

#[test]
fn quiet_with_a_command_writes_only_the_summary_of_its_peaks() {
    let d = tempfile::tempdir().expect("tmp");
    let md = d.path().join("summary.md");
    let out = run(resmon()
        .args(["-q", "-n", "2", "-i", "100ms", "--summary-md"])
        .arg(&md)
        .args(["--", "sleep", "30"]));
    assert!(
        out.stdout.is_empty(),
        "quiet: {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let md = std::fs::read_to_string(&md).expect("summary");
    assert!(md.contains("| 2 | 0 |"), "{md}");
    for peak in [
        "target RSS (`process_memory_mb`) | ",
        "target CPU (`process_cpu_percent`) | ",
    ] {
        assert!(md.contains(peak), "{peak} in {md}");
    }
    assert!(
        md.contains("`target_exit` 1"),
        "sleep stopped after the count: {md}"
    );
}

#[test]
fn jsonl_stays_the_default_and_documents_are_refused() {
    let out = run(resmon().args(["-n", "1", "-i", "50ms"]));
    let text = String::from_utf8_lossy(&out.stdout);
    let types: Vec<String> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).expect("a JSON line")["type"].to_string()
        })
        .collect();
    assert_eq!(types, ["\"event\"", "\"sample\"", "\"event\""], "{text}");
    for format in ["table", "markdown", "json", "sarif"] {
        let out = resmon()
            .args(["-n", "1", "--format", format])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "--format {format}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("--format {format}:")) && err.contains("csv"),
            "{err}"
        );
        assert!(out.stdout.is_empty(), "refused before anything is written");
    }
}
