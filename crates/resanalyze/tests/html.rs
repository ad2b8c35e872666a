//! `resanalyze --html FILE`: a real process (CPython leaking about 2 MB/s) recorded by the
//! real `resmon`, judged with `--html`, and the page opened in Debian's Chromium (headless):
//! the memory chart with its judged window and fitted trend, CPU, disk, fds/threads, and the
//! checks table with the failing `memory_growth` row are in the rendered DOM. The page is
//! created exclusively: an existing file or a planted symlink is refused with exit 2.
//!
//! Needs `python3`, the workspace's `resmon` (built beside `resanalyze` by `cargo test`) and,
//! for the browser part, `chromium` (skipped with a printed reason when absent).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use soak_report::browser::{chromium, dump_dom};

/// CPython leaking about 2 MB/s: 200 kB objects kept forever, ten a second.
const LEAK: &str = r#"
import time
keep = []
while True:
    keep.append(bytes(range(256)) * 800)
    time.sleep(0.1)
"#;

fn resmon() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_resanalyze")).with_file_name("resmon");
    assert!(
        path.is_file(),
        "{} is not built: run `cargo test` for the workspace, or `cargo build -p resmon` first",
        path.display()
    );
    path
}

fn have_python() -> bool {
    Command::new("python3")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Records the leaking process every 200 ms for 12 s into `DIR/leak.jsonl`.
fn record_leak(dir: &Path) -> PathBuf {
    let out = dir.join("leak.jsonl");
    let status = Command::new(resmon())
        .args(["--interval", "200ms", "--duration", "12s", "--output"])
        .arg(&out)
        .args(["--", "python3", "-c", LEAK])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run resmon");
    assert!(status.success(), "resmon: {status}");
    out
}

/// `resanalyze RECORDING --html PAGE`, with trend minimums fit for a 12 s recording.
fn analyse_html(recording: &Path, page: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_resanalyze"))
        .arg(recording)
        .args([
            "--min-span",
            "5s",
            "--min-samples",
            "20",
            "--format",
            "json",
        ])
        .arg("--html")
        .arg(page)
        .output()
        .expect("run resanalyze")
}

/// The `id="..."` element of `dom` up to the next chart.
fn element<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no element {id} in the rendered DOM"));
    let rest = &dom[start..];
    let end = rest[1..]
        .find(r#"class="chart""#)
        .map_or(rest.len(), |e| e + 1);
    &rest[..end]
}

#[test]
fn a_leaking_process_page_renders_in_chromium_with_its_trend_and_checks() {
    if !have_python() {
        eprintln!("skipped: python3 not installed (the leaking process)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let recording = record_leak(dir.path());
    let page = dir.path().join("leak.html");
    let out = analyse_html(&recording, &page);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the leak fails a check: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("analysis");
    assert_eq!(doc["leak"]["verdict"], "leak", "{}", doc["leak"]);
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.contains("Content-Security-Policy"));
    assert!(!html.contains("<script"), "the page has no script");

    let Some(exe) = chromium() else {
        eprintln!("skipped the browser part: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let dom = dump_dom(&exe, &page, &dir.path().join("profile")).expect("chromium");
    assert!(dom.contains(r#"<span id="verdict-badge" class="badge verdict-fail">FAIL</span>"#));
    assert!(dom.contains("resanalyze report"));

    // The checks table: every check of the analysis, memory_growth failing.
    let table = element(&dom, "verdict-table");
    for check in doc["checks"].as_array().expect("checks") {
        let name = check["name"].as_str().expect("name");
        assert!(
            table.contains(&format!(r#"data-metric="{name}""#)),
            "no row {name}"
        );
    }
    let row_start = table
        .find(r#"data-metric="memory_growth""#)
        .expect("memory_growth row");
    let row = &table[row_start..table[row_start..].find("</tr>").expect("row end") + row_start];
    assert!(row.contains("status-fail"), "memory_growth row: {row}");

    // The charts, on one time axis; memory failing with its window and trend.
    for id in ["chart-memory", "chart-cpu", "chart-disk", "chart-fds"] {
        assert!(element(&dom, id).contains("<path"), "{id} draws nothing");
    }
    assert!(dom.contains(r#"class="time-axis time-axis-top""#));
    let memory = element(&dom, "chart-memory");
    assert!(memory.contains("Memory — FAIL"), "{memory}");
    assert!(memory.contains(r#"class="judged-window""#));
    assert!(memory.contains(r#"<line class="trend""#));
    // No soak-run sections on one tool's page.
    assert!(!dom.contains(r#"id="findings""#) && !dom.contains(r#"id="artifacts""#));
}

#[test]
fn the_page_is_never_written_over_a_file_or_through_a_symlink() {
    if !have_python() {
        eprintln!("skipped: python3 not installed (the recorded process)");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let recording = record_leak(dir.path());

    let existing = dir.path().join("existing.html");
    std::fs::write(&existing, "keep").expect("write");
    let out = analyse_html(&recording, &existing);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("existing.html") && err.contains("already exists"),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "refused before any analysis");
    assert_eq!(std::fs::read_to_string(&existing).expect("read"), "keep");

    let target = dir.path().join("elsewhere.txt");
    std::fs::write(&target, "keep").expect("write");
    let planted = dir.path().join("planted.html");
    std::os::unix::fs::symlink(&target, &planted).expect("symlink");
    let out = analyse_html(&recording, &planted);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("planted.html"));
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");

    // A dangling symlink too (nothing to overwrite, but the page would land elsewhere).
    let dangling = dir.path().join("dangling.html");
    std::os::unix::fs::symlink(dir.path().join("nowhere.html"), &dangling).expect("symlink");
    assert_eq!(analyse_html(&recording, &dangling).status.code(), Some(2));
    assert!(!dir.path().join("nowhere.html").exists());

    // stdin cannot be read again to draw the charts: refused, naming it.
    let out = Command::new(env!("CARGO_BIN_EXE_resanalyze"))
        .args(["-", "--html"])
        .arg(dir.path().join("stdin.html"))
        .stdin(std::fs::File::open(&recording).expect("open"))
        .output()
        .expect("run resanalyze");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--html: - is not a regular file"));
    assert!(!dir.path().join("stdin.html").exists());
}
