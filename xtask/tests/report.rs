//! `report.html` of a real demo soak (leak, health outage, reconnect storm), opened in
//! Debian's Chromium (headless): the verdict rows, every chart, the event marks, the outage and
//! the failing memory row with its fitted trend are in the rendered DOM, and the page made no
//! request. Skips, saying why, only where
//! no `chromium` is installed (`.ci/run` installs it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

mod common;
use common::{run_dir, soak_cmd};

use soak_report::browser::chromium;

/// The part of Chromium's NetLog this test reads.
#[derive(Deserialize)]
struct NetLog {
    events: Vec<NetEvent>,
}

#[derive(Deserialize)]
struct NetEvent {
    #[serde(default)]
    params: Option<NetParams>,
}

#[derive(Deserialize)]
struct NetParams {
    url: Option<String>,
    network_isolation_key: Option<String>,
}

/// A headless Chromium with a fresh profile and a resolver that resolves nothing.
struct Browser {
    exe: PathBuf,
    scratch: tempfile::TempDir,
}

impl Browser {
    fn new(exe: PathBuf) -> Browser {
        Browser {
            exe,
            scratch: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn command(&self, profile: &str) -> Command {
        soak_report::browser::headless(&self.exe, &self.scratch.path().join(profile))
    }

    /// The page's DOM after loading and layout, and every URL the page itself requested
    /// (from the NetLog: requests whose isolation key is the page's `file://` origin).
    fn dump_dom(&self, page: &Path, name: &str) -> (String, Vec<String>) {
        let netlog = self.scratch.path().join(format!("{name}.netlog.json"));
        let out = self
            .command(name)
            .arg(format!("--log-net-log={}", netlog.display()))
            .arg("--dump-dom")
            .arg(format!("file://{}", page.display()))
            .stderr(Stdio::null())
            .output()
            .expect("run chromium");
        assert!(out.status.success(), "chromium failed: {:?}", out.status);
        let log: NetLog = serde_json::from_slice(&std::fs::read(&netlog).expect("netlog"))
            .expect("chromium's netlog is JSON");
        let requested = log
            .events
            .into_iter()
            .filter_map(|e| e.params)
            .filter(|p| {
                p.network_isolation_key
                    .as_deref()
                    .is_some_and(|k| k.starts_with("file://"))
            })
            .filter_map(|p| p.url)
            .filter(|u| !u.starts_with("file:"))
            .collect();
        (String::from_utf8_lossy(&out.stdout).into_owned(), requested)
    }
}

#[derive(Deserialize)]
struct Summary {
    rows: Vec<Row>,
}

#[derive(Deserialize)]
struct Row {
    metric: String,
    value: String,
    status: String,
}

/// The `id="..."` element of `dom` up to its closing tag (the charts are flat `<g>`s with no
/// nested `<g>` except event lanes, which are closed inside).
fn element<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no element {id} in the rendered DOM"));
    let rest = &dom[start..];
    let end = rest.find(r#"class="chart""#).unwrap_or(rest.len());
    &rest[..end]
}

#[test]
fn a_leak_and_outage_demo_report_renders_in_chromium_with_every_section() {
    let Some(exe) = chromium() else {
        eprintln!("skipped: no chromium on PATH (apt-get install chromium)");
        return;
    };
    let out = tempfile::tempdir().expect("tempdir");
    let status = soak_cmd(out.path())
        .args(["--demo", "--fault-after", "4s", "--duration", "25s"])
        .args(["--demo-faults", "leak,outage,reconnect-storm"])
        .stdout(Stdio::null())
        .status()
        .expect("run the soak");
    assert_eq!(status.code(), Some(1), "the leak fails the soak");
    let run = run_dir(out.path());
    let page = run.join("report.html");
    if !page.exists() {
        // Until the soak writes it at its end, the subcommand does.
        let made = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("report")
            .arg(&run)
            .output()
            .expect("xtask report");
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&made.stdout).trim(),
            page.display().to_string()
        );
    }
    let html = std::fs::read_to_string(&page).expect("report.html");
    assert!(html.len() < 2 * 1024 * 1024);

    let browser = Browser::new(exe);
    let (dom, requested) = browser.dump_dom(&page, "report");
    assert!(requested.is_empty(), "the page requested {requested:?}");

    // Every verdict row, as summary.json has it.
    let summary: Summary = serde_json::from_str(
        &std::fs::read_to_string(run.join("summary.json")).expect("summary.json"),
    )
    .expect("summary");
    assert!(dom.contains(r#"<span id="verdict-badge" class="badge verdict-fail">FAIL</span>"#));
    for r in &summary.rows {
        let status = r.status.as_str();
        assert!(
            dom.contains(&format!(
                r#"<tr class="row row-{status}" data-metric="{}">"#,
                r.metric
            )),
            "row {} ({status}) not rendered",
            r.metric
        );
    }
    let memory_row = summary
        .rows
        .iter()
        .find(|r| r.metric == "Memory growth")
        .expect("memory row");
    assert_eq!(memory_row.status, "fail");
    let availability = summary
        .rows
        .iter()
        .find(|r| r.metric == "Availability")
        .expect("availability row");
    assert_eq!(availability.status, "fail", "the outage fails availability");

    // Every chart, on one time axis.
    for id in [
        "chart-memory",
        "chart-cpu",
        "chart-disk",
        "chart-fds",
        "chart-events",
    ] {
        let chart = element(&dom, id);
        assert!(
            chart.contains("<path") || chart.contains("mark"),
            "{id} draws nothing"
        );
    }
    // The soak polls the demo's health endpoint (health.jsonl): its two charts.
    for id in ["chart-health-latency", "chart-availability"] {
        assert!(dom.contains(&format!(r#"id="{id}""#)), "no {id}");
    }
    assert!(dom.contains(r#"class="time-axis time-axis-top""#));
    assert!(dom.contains(">+5 s<"), "elapsed ticks");

    // The memory chart: failing, its judged window shaded and the fitted trend drawn, with
    // the slope the verdict row reports.
    let memory = element(&dom, "chart-memory");
    assert!(memory.contains("Memory — FAIL: growing"));
    assert!(memory.contains(r#"class="judged-window""#));
    assert!(memory.contains(r#"<line class="trend""#));
    assert!(
        memory.contains(&format!("trend +{}", memory_row.value)),
        "trend label with {}: {memory}",
        memory_row.value
    );

    // The event marks: the service's start and exit, its shutdown sequence, the early warning.
    let events = element(&dom, "chart-events");
    for lane in [
        "service",
        "shutdown",
        "early-warning",
        "reconnect",
        "timeout",
    ] {
        assert!(
            events.contains(&format!(r#"class="mark mark-{lane}""#)),
            "no {lane} mark"
        );
    }

    // The outage: failed polls on the latency chart, a down stretch on the availability strip.
    assert!(element(&dom, "chart-health-latency").contains(r#"class="failed-poll""#));
    assert!(element(&dom, "chart-availability").contains(r#"class="avail down""#));

    // Nothing on the page points off it.
    for attr in [" src=\"", " href=\"http", " href=\"//", "url("] {
        assert!(!html.contains(attr), "the page has {attr}");
    }

    // The check above can fail: the same browser reports a page that does load something.
    let canary = out.path().join("canary.html");
    std::fs::write(
        &canary,
        r#"<!DOCTYPE html><img src="http://soak-report-canary.invalid/x.png">"#,
    )
    .expect("canary");
    let (_, requested) = browser.dump_dom(&canary, "canary");
    assert!(
        requested
            .iter()
            .any(|u| u.contains("soak-report-canary.invalid")),
        "the NetLog check sees requests: {requested:?}"
    );
}

#[test]
fn the_report_is_never_written_over_a_file_or_through_a_symlink() {
    let run = tempfile::tempdir().expect("tempdir");
    let xtask = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
        c.arg("report").arg(run.path());
        c
    };
    let first = xtask().output().expect("xtask report");
    assert!(first.status.success());
    let page = std::fs::read_to_string(run.path().join("report.html")).expect("page");
    assert!(
        page.contains("NO VERDICT"),
        "an empty run says it has no verdict"
    );
    let again = xtask().output().expect("xtask report");
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("report.html: File exists"));

    std::fs::remove_file(run.path().join("report.html")).expect("rm");
    let target = run.path().join("elsewhere.txt");
    std::fs::write(&target, "keep").expect("target");
    std::os::unix::fs::symlink(&target, run.path().join("report.html")).expect("symlink");
    let planted = xtask().output().expect("xtask report");
    assert_eq!(planted.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&target).expect("target"), "keep");

    let missing = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["report", "/nonexistent/run-1"])
        .output()
        .expect("xtask report");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/run-1"));
}
