//! The output flags every soakkit tool shares (`-f/--format`, `-o/--output`, `--summary-md`,
//! `-q/--quiet`), the `::error::` annotation of a directory still over budget, and `--watch`
//! writing its step summary once, for its last pass.

use std::path::Path;
use std::process::Command;

fn lr() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("logrotate"));
    c.env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_STEP_SUMMARY");
    c
}

/// Writes `n` step files of `size` bytes each under `dir` (`app.log.1` ... `app.log.N`).
fn logs(dir: &Path, n: usize, size: usize) {
    for i in 1..=n {
        std::fs::write(dir.join(format!("app.log.{i}")), "x".repeat(size)).expect("write");
    }
}

#[test]
fn over_budget_with_output_file_quiet_summary_and_annotation() {
    let d = tempfile::tempdir().expect("tmp");
    let logs_dir = d.path().join("logs");
    std::fs::create_dir(&logs_dir).expect("mkdir");
    logs(&logs_dir, 3, 1000);
    let out_file = d.path().join("actions.jsonl");
    let summary = d.path().join("summary.md");
    let out = lr()
        .args(["--max-total", "1500B", "--dry-run", "-q"])
        .arg("-o")
        .arg(&out_file)
        .arg("--summary-md")
        .arg(&summary)
        .arg(&logs_dir)
        .env("GITHUB_ACTIONS", "true")
        .output()
        .expect("run");
    // 3 files of 1000 B in a dry run: the 2 older ones' deletions are planned, the budget met.
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "quiet");
    assert!(out.stderr.is_empty(), "within budget: no annotation");
    let text = std::fs::read_to_string(&out_file).expect("output");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("jsonl"))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[2]["type"], "summary");
    assert_eq!(lines[2]["over_budget"], false);
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert!(md.starts_with("## logrotate\n\n| action | path |"), "{md}");
    assert_eq!(md.matches("| delete |").count(), 2, "{md}");
    assert!(md.contains("→ 1000 B"), "{md}");

    // The newest file of a step is never deleted: still over budget, exit 1, annotated.
    let out = lr()
        .args(["--max-total", "500B", "-f", "table"])
        .arg(&logs_dir)
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("action  "), "{stdout}");
    assert!(
        stdout.trim_end().ends_with(", STILL OVER BUDGET"),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("::error::") && stderr.contains("still over --max-total 500 B"),
        "{stderr}"
    );
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert_eq!(md.matches("## logrotate\n").count(), 2, "appended: {md}");
}

#[test]
fn formats_every_dir_in_turn_and_refuses_sarif() {
    let d = tempfile::tempdir().expect("tmp");
    let (a, b) = (d.path().join("a"), d.path().join("b"));
    for dir in [&a, &b] {
        std::fs::create_dir(dir).expect("mkdir");
        logs(dir, 2, 10);
    }
    let run = |format: &str| {
        lr().args(["--keep-per-step", "1", "--dry-run", "--format", format])
            .arg(&a)
            .arg(&b)
            .output()
            .expect("run")
    };
    let csv = run("csv");
    assert_eq!(csv.status.code(), Some(0));
    let csv = String::from_utf8_lossy(&csv.stdout);
    let header = "action,path,bytes_before,bytes_after,reason";
    assert_eq!(csv.matches(header).count(), 2, "a table per DIR: {csv}");
    assert_eq!(csv.lines().count(), 4, "only tables in CSV: {csv}");
    let jsonl = run("jsonl");
    let types: Vec<String> = String::from_utf8_lossy(&jsonl.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["type"].to_string())
        .collect();
    assert_eq!(
        types,
        ["\"action\"", "\"summary\"", "\"action\"", "\"summary\""],
        "each DIR's actions, then its summary"
    );
    let sarif = run("sarif");
    assert_eq!(sarif.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&sarif.stderr).contains("--format sarif"));
    assert!(sarif.stdout.is_empty());
    assert_eq!(
        std::fs::read_dir(&a).expect("a").count(),
        2,
        "dry run: nothing changed"
    );
}

// Unix only: it ends the watch with SIGINT (Windows has console control events, not signals).
#[cfg(unix)]
#[test]
fn watch_writes_the_output_file_each_pass_and_the_step_summary_once() {
    let d = tempfile::tempdir().expect("tmp");
    let logs_dir = d.path().join("logs");
    std::fs::create_dir(&logs_dir).expect("mkdir");
    logs(&logs_dir, 1, 10);
    let out_file = d.path().join("latest.jsonl");
    let summary = d.path().join("summary.md");
    use std::io::Read;
    use std::process::Stdio;
    use std::time::Duration;
    let mut child = lr()
        .args(["--watch", "100ms", "--keep-per-step", "1", "-o"])
        .arg(&out_file)
        .arg("--summary-md")
        .arg(&summary)
        .arg(&logs_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait for the first pass's file, then give it a few more passes.
    let guard = std::time::Instant::now() + Duration::from_secs(30);
    while !out_file.exists() {
        assert!(std::time::Instant::now() < guard, "no pass written in 30 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(400));
    assert!(!summary.exists(), "no step summary while it watches");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid")),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("kill");
    let status = child.wait().expect("wait");
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .expect("read");
    assert_eq!(status.code(), Some(130), "SIGINT");
    assert!(stdout.is_empty(), "everything went to --output: {stdout}");
    let text = std::fs::read_to_string(&out_file).expect("output");
    assert_eq!(text.lines().count(), 1, "the latest pass only: {text}");
    let md = std::fs::read_to_string(&summary).expect("summary");
    assert_eq!(md.matches("## logrotate").count(), 1, "{md}");
}
