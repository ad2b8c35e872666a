//! Generated traces of every known shape, analysed by the real binary, checked against truth.

mod common;

use common::{analyse, trace};
use resanalyze::tracegen::{Shape, TraceSpec};
use serde_json::Value;

#[test]
fn every_shape_is_judged_right() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut wrong = Vec::new();
    for shape in Shape::ALL {
        let spec = TraceSpec::new(shape, 16.0, 30.0);
        let path = trace(dir.path(), spec.shape.name(), &spec);
        let (doc, code) = analyse(&[path.to_str().expect("utf8")]);
        let leak = doc["memory"]["leak_detected"] == Value::Bool(true);
        println!(
            "{:15} leak={leak} slope={} ols={} window={} p={}",
            shape.name(),
            doc["leak"]["slope_mb_per_hour"],
            doc["leak"]["ols_mb_per_hour"],
            doc["leak"]["window_reason"],
            doc["leak"]["p_value"]
        );
        if leak != shape.is_leak() {
            wrong.push(shape.name());
        }
        assert_eq!(
            code,
            if shape.is_leak() { 1 } else { 0 },
            "{}",
            shape.name()
        );
        assert_eq!(doc["leak"]["series"], "tree_memory_mb");
        assert_eq!(doc["memory_leak_detected"], doc["memory"]["leak_detected"]);
    }
    assert!(wrong.is_empty(), "misjudged: {wrong:?}");
}

#[test]
fn late_leak_is_reported_at_its_current_rate() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = TraceSpec::new(Shape::LateLeak, 16.0, 30.0);
    let path = trace(dir.path(), spec.shape.name(), &spec);
    let (doc, _) = analyse(&[path.to_str().expect("utf8")]);
    let slope = doc["leak"]["slope_mb_per_hour"].as_f64().expect("slope");
    assert!((slope - 40.0).abs() < 6.0, "slope {slope}");
    assert_eq!(doc["leak"]["window_reason"], "change_point");
    let start_h = doc["leak"]["window_start_s"].as_f64().expect("start") / 3600.0;
    assert!((start_h - 12.0).abs() < 1.5, "window starts at {start_h} h");
    let ols = doc["leak"]["ols_mb_per_hour"].as_f64().expect("ols");
    assert!(ols < 25.0, "OLS dilutes the late leak: {ols}");
}

#[test]
fn released_memory_is_falling_not_a_leak() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = trace(
        dir.path(),
        "t",
        &TraceSpec::new(Shape::Released, 10.0, 60.0),
    );
    let (doc, code) = analyse(&[path.to_str().expect("utf8")]);
    assert_eq!(doc["leak"]["trend"], "falling");
    assert_eq!(doc["leak"]["verdict"], "no_leak");
    assert_eq!(code, 0);
}

#[test]
fn too_short_a_run_is_insufficient_data() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = trace(dir.path(), "t", &TraceSpec::new(Shape::Linear, 0.1, 10.0));
    let (doc, _) = analyse(&[path.to_str().expect("utf8")]);
    assert_eq!(doc["leak"]["verdict"], "insufficient_data");
    assert_eq!(doc["memory"]["leak_detected"], Value::Bool(false));
}

#[test]
fn garbage_and_truncated_lines_are_counted_not_fatal() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = trace(dir.path(), "t", &TraceSpec::new(Shape::Flat, 2.0, 60.0));
    let mut text = std::fs::read_to_string(&path).expect("read");
    text.insert_str(
        0,
        "garbage line\n\n[1,2]\n{\"type\":\"finding\",\"tool\":\"x\"}\n",
    );
    text.push_str("{\"type\":\"sample\",\"tool\":\"resmon\",\"timestamp_unix\":17");
    std::fs::write(&path, text).expect("write");
    let (doc, code) = analyse(&[path.to_str().expect("utf8")]);
    assert_eq!(code, 0);
    assert_eq!(doc["snapshot_count"], 121);
    let sk = &doc["skipped_lines"];
    assert_eq!(sk["not_json"], 1);
    assert_eq!(sk["blank"], 1);
    assert_eq!(sk["wrong_shape"], 1);
    assert_eq!(sk["truncated"], 1);
    // the start event and the finding
    assert_eq!(sk["other_type"], 2);
}
