//! Renders the analysis document as Markdown (for `$GITHUB_STEP_SUMMARY`) or a terminal table.

use std::fmt::Write as _;

use serde_json::Value;
use soak_core::output::{Table, cell};

fn get<'a>(doc: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(doc, |v, k| &v[*k])
}

fn c(doc: &Value, path: &[&str]) -> String {
    cell(get(doc, path))
}

/// `change_point 3.20..16.00 h`: why the judged window starts where it does, and its bounds.
fn window_text(leak: &Value) -> String {
    match (
        leak["window_start_s"].as_f64(),
        leak["window_end_s"].as_f64(),
    ) {
        (Some(a), Some(b)) => format!(
            "{} {:.2}..{:.2} h",
            cell(&leak["window_reason"]),
            a / 3600.0,
            b / 3600.0
        ),
        _ => cell(&leak["window_reason"]),
    }
}

/// Key/value rows of the headline results.
fn headline(doc: &Value) -> Table {
    let mut t = Table::new(["metric", "value"]);
    let rows: [(&str, &[&str]); 16] = [
        ("samples", &["snapshot_count"]),
        ("duration (h)", &["duration_hours"]),
        ("leak verdict", &["leak", "verdict"]),
        ("judged series", &["leak", "series"]),
        ("memory slope (MB/h)", &["leak", "slope_mb_per_hour"]),
        ("CI low (MB/h)", &["leak", "ci_low_mb_per_hour"]),
        ("CI high (MB/h)", &["leak", "ci_high_mb_per_hour"]),
        ("p-value", &["leak", "p_value"]),
        ("OLS slope (MB/h)", &["leak", "ols_mb_per_hour"]),
        ("judged window", &["leak", "window_reason"]),
        ("judged basis", &["leak", "basis"]),
        (
            "rate to beat (MB/h)",
            &["leak", "effective_threshold_mb_per_hour"],
        ),
        ("CPU avg (%)", &["cpu", "avg_percent"]),
        ("disk growth (GB/h)", &["disk", "growth_gb_per_hour"]),
        (
            "hours until memory exhausted (limit or host)",
            &["projections", "hours_until_memory_exhausted"],
        ),
        (
            "hours until disk full",
            &["projections", "hours_until_disk_full"],
        ),
    ];
    for (name, path) in rows {
        let value = if name == "judged window" {
            window_text(&doc["leak"])
        } else {
            c(doc, path)
        };
        t.push_row([name.to_string(), value]);
    }
    for key in ["fd_trend", "thread_trend"] {
        if !doc[key].is_null() {
            t.push_row([format!("{key} verdict"), c(doc, &[key, "verdict"])]);
        }
    }
    t
}

fn checks(doc: &Value) -> Table {
    let mut t = Table::new(["check", "status", "value", "threshold", "detail"]);
    if let Some(list) = doc["checks"].as_array() {
        for ch in list {
            t.push_row([
                cell(&ch["name"]),
                cell(&ch["status"]),
                cell(&ch["value"]),
                cell(&ch["threshold"]),
                cell(&ch["detail"]),
            ]);
        }
    }
    t
}

/// Markdown summary.
pub fn markdown(doc: &Value) -> String {
    let mut out = String::new();
    let ok = doc["ok"] == Value::Bool(true);
    let _ = writeln!(
        out,
        "## resanalyze: {}\n",
        if ok {
            "all checks passed"
        } else {
            "checks FAILED"
        }
    );
    let mut buf = Vec::new();
    let _ = headline(doc).write_markdown(&mut buf);
    buf.push(b'\n');
    let _ = checks(doc).write_markdown(&mut buf);
    out.push_str(&String::from_utf8_lossy(&buf));
    let _ = writeln!(out, "\nskipped lines: {}", doc["skipped_lines"]);
    out
}

/// Terminal text.
pub fn table(doc: &Value) -> String {
    let mut buf = Vec::new();
    let _ = headline(doc).write_text(&mut buf);
    buf.push(b'\n');
    let _ = checks(doc).write_text(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}
