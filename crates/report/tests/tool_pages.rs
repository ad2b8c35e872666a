//! One tool's page (`render_resources`, `render_log`) and `write_page`: what reaches the page,
//! what is refused, and that a tool's page has none of a run directory's sections.

use std::path::PathBuf;

use soak_report::inputs::{EventLine, Kind, VerdictRow};
use soak_report::{ReportError, render_log, render_resources, write_page};

fn log_event(t: f64, kind: &str, text: &str) -> EventLine {
    EventLine {
        kind: Kind::Event,
        tool: "logscan".into(),
        timestamp_unix: Some(t),
        what: Some(kind.into()),
        severity: Some("error".into()),
        text: Some(text.into()),
        file: Some("svc.log".into()),
        line: Some(7),
        ..EventLine::default()
    }
}

#[test]
fn a_log_page_marks_its_events_escaped_and_counts_far_ones() {
    let t0 = 1_700_000_000.0;
    let page = render_log(
        vec!["svc.log".into()],
        vec![
            log_event(t0 + 10.0, "ws_reconnect", "reconnect attempt 1"),
            log_event(
                t0 + 20.0,
                "logged_error",
                "<script>alert(1)</script> & more",
            ),
            // Years before the log: counted, not drawn.
            log_event(t0 - 3.0e8, "logged_error", "an old line"),
        ],
        Some((t0, t0 + 60.0)),
        vec![VerdictRow {
            metric: "errors_per_hour".into(),
            threshold: "<= 0 in any hour".into(),
            value: "2".into(),
            status: "fail".into(),
            detail: "2 errors in an hour".into(),
        }],
        vec![("error_count".into(), "2".into())],
    )
    .expect("page");
    assert!(page.contains("logscan report"));
    assert!(
        page.contains("badge verdict-fail"),
        "a failed row fails the page"
    );
    assert!(page.contains(r#"data-metric="errors_per_hour""#));
    assert!(page.contains(r#"data-lane="reconnect""#) && page.contains(r#"data-lane="error""#));
    assert!(!page.contains("<script>"), "log text is escaped");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"));
    assert!(!page.contains("an old line"));
    assert!(page.contains("1 dated far outside the run not drawn"));
    assert!(page.contains("<dt>error_count</dt><dd>2</dd>"));
    // Nothing of a run directory: no resource charts, findings or artifacts.
    for id in ["chart-memory", r#"id="findings""#, r#"id="artifacts""#] {
        assert!(!page.contains(id), "{id} on a log's page");
    }
}

#[test]
fn a_recording_page_needs_a_readable_recording_and_an_analysis_of_the_right_shape() {
    let missing = [PathBuf::from("/nonexistent/rec.jsonl")];
    let doc = serde_json::json!({"ok": true, "checks": []});
    let err = render_resources(&missing, &doc).expect_err("no recording");
    assert!(err.to_string().contains("/nonexistent/rec.jsonl"), "{err}");

    let dir = tempfile::tempdir().expect("tmp");
    let rec = dir.path().join("rec.jsonl");
    std::fs::write(
        &rec,
        "{\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_unix\":1700000000,\"tree_memory_mb\":10}\n\
         {\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_unix\":1700000060,\"tree_memory_mb\":12}\n",
    )
    .expect("write");
    let bad = serde_json::json!({"checks": "not a list"});
    assert!(matches!(
        render_resources(std::slice::from_ref(&rec), &bad),
        Err(ReportError::Result { .. })
    ));
    let ok = serde_json::json!({"ok": true, "checks": [
        {"name": "memory_growth", "ok": true, "value": 1.25, "threshold": 10, "detail": "flat"}
    ]});
    let page = render_resources(&[rec], &ok).expect("page");
    assert!(page.contains("resanalyze report") && page.contains("badge verdict-pass"));
    assert!(page.contains(r#"data-metric="memory_growth""#) && page.contains(">1.25<"));
    assert!(page.contains(r#"id="chart-memory""#));
    assert!(
        !page.contains(r#"id="chart-events""#),
        "no empty event lane"
    );
}

#[test]
fn write_page_creates_and_never_overwrites_or_follows() {
    let dir = tempfile::tempdir().expect("tmp");
    let page = dir.path().join("p.html");
    write_page(&page, "<!DOCTYPE html>one").expect("created");
    assert_eq!(
        std::fs::read_to_string(&page).expect("read"),
        "<!DOCTYPE html>one"
    );
    let again = write_page(&page, "two").expect_err("exists");
    assert!(again.to_string().contains("p.html"), "{again}");
    assert_eq!(
        std::fs::read_to_string(&page).expect("read"),
        "<!DOCTYPE html>one"
    );

    let target = dir.path().join("target.txt");
    std::fs::write(&target, "keep").expect("write");
    let link = dir.path().join("link.html");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    assert!(write_page(&link, "x").is_err());
    assert_eq!(std::fs::read_to_string(&target).expect("read"), "keep");
}
