//! Renders the analysis as Markdown (for `$GITHUB_STEP_SUMMARY`), a terminal table, CSV, or
//! protocol records, through [`AnalysisBody`].

use std::io::{self, Write};

use serde_json::Value;
use soak_core::output::{Format, Table, cell, unsupported};
use soak_core::record::{Finding, Record, RecordType, Severity};
use soak_core::report::Body;

use crate::model::{Analysis, Check};

/// A figure as a table cell (`-` when missing).
fn fig<T: Into<Value>>(x: T) -> String {
    cell(&x.into())
}

/// `change_point 3.20..16.00 h`: why the judged window starts where it does, and its bounds.
fn window_text(doc: &Analysis) -> String {
    let leak = &doc.leak.trend;
    match (leak.window_start_s, leak.window_end_s) {
        (Some(a), Some(b)) => format!(
            "{} {:.2}..{:.2} h",
            leak.window_reason,
            a / 3600.0,
            b / 3600.0
        ),
        _ => leak.window_reason.clone(),
    }
}

/// Key/value rows of the headline results.
fn headline(doc: &Analysis) -> Table {
    let leak = &doc.leak.trend;
    let mut t = Table::new(["metric", "value"]);
    let rows: [(&str, String); 16] = [
        ("samples", fig(doc.snapshot_count)),
        ("duration (h)", fig(doc.duration_hours)),
        ("leak verdict", leak.verdict.clone()),
        ("judged series", leak.series.clone()),
        ("memory slope (MB/h)", fig(leak.slope_per_hour)),
        ("CI low (MB/h)", fig(leak.ci_low_per_hour)),
        ("CI high (MB/h)", fig(leak.ci_high_per_hour)),
        ("p-value", fig(leak.p_value)),
        ("OLS slope (MB/h)", fig(leak.ols_per_hour)),
        ("judged window", window_text(doc)),
        ("judged basis", leak.basis.clone()),
        (
            "rate to beat (MB/h)",
            fig(doc.leak.effective_threshold_mb_per_hour),
        ),
        ("CPU avg (%)", fig(doc.cpu.avg_percent)),
        ("disk growth (GB/h)", fig(doc.disk.growth_gb_per_hour)),
        (
            "hours until memory exhausted (limit or host)",
            fig(doc.projections.hours_until_memory_exhausted),
        ),
        (
            "hours until disk full",
            fig(doc.projections.hours_until_disk_full),
        ),
    ];
    for (name, value) in rows {
        t.push_row([name.to_string(), value]);
    }
    for (key, trend) in [
        ("fd_trend", &doc.fd_trend),
        ("thread_trend", &doc.thread_trend),
    ] {
        if let Some(trend) = trend {
            t.push_row([format!("{key} verdict"), trend.verdict.clone()]);
        }
    }
    t
}

fn checks(doc: &Analysis) -> Table {
    let mut t = Table::new(["check", "status", "value", "threshold", "detail"]);
    for ch in &doc.checks {
        t.push_row([
            ch.name.clone(),
            ch.status.clone(),
            fig(ch.value.clone()),
            fig(ch.threshold.clone()),
            ch.detail.clone(),
        ]);
    }
    t
}

/// The Markdown summary's heading: the verdict.
pub fn title(doc: &Analysis) -> String {
    format!(
        "resanalyze: {}",
        if doc.ok {
            "all checks passed"
        } else {
            "checks FAILED"
        }
    )
}

/// The Markdown summary under its heading: the headline, the checks, the skipped lines.
fn markdown_tables(doc: &Analysis) -> String {
    let mut buf = Vec::new();
    let _ = headline(doc).write_markdown(&mut buf);
    buf.push(b'\n');
    let _ = checks(doc).write_markdown(&mut buf);
    let skipped = serde_json::to_string(&doc.skipped_lines).unwrap_or_default();
    let _ = writeln!(buf, "\nskipped lines: {skipped}");
    String::from_utf8_lossy(&buf).into_owned()
}

/// Markdown summary.
pub fn markdown(doc: &Analysis) -> String {
    format!("## {}\n\n{}", title(doc), markdown_tables(doc))
}

/// Terminal text.
pub fn table(doc: &Analysis) -> String {
    let mut buf = Vec::new();
    let _ = headline(doc).write_text(&mut buf);
    buf.push(b'\n');
    let _ = checks(doc).write_text(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// How bad a failed check is: an OOM kill is an outage; growth, the limit share and anything
/// unnamed are high; CPU, a regression against the baseline and a run too short to judge are
/// medium.
fn check_severity(name: &str) -> Severity {
    match name {
        "oom_kills" => Severity::Critical,
        "cpu_average" | "baseline_regression" | "duration" => Severity::Medium,
        _ => Severity::High,
    }
}

/// The `finding` of a failed check: `kind` the check's name.
fn finding(c: &Check) -> Record {
    Finding::new(c.name.as_str(), check_severity(&c.name), &c.detail)
        .with("value", c.value.clone())
        .with("threshold", c.threshold.clone())
        .into_record("resanalyze")
}

/// The `summary` record: the headline figures flat and the whole analysis under `analysis`.
pub fn summary(doc: &Analysis) -> Record {
    Record::new(RecordType::Summary, "resanalyze")
        .with("ok", doc.ok)
        .with("snapshot_count", doc.snapshot_count)
        .with("duration_hours", doc.duration_hours)
        .with("leak_verdict", doc.leak.trend.verdict.as_str())
        .with("leak_mb_per_hour", doc.leak.trend.slope_per_hour)
        .with("analysis", serde_json::to_value(doc).unwrap_or(Value::Null))
}

/// The analysis as protocol records: a `finding` per failed check, then the `summary`.
pub fn records(doc: &Analysis) -> Vec<Record> {
    let mut out: Vec<Record> = doc.failed_checks().map(finding).collect();
    out.push(summary(doc));
    out
}

/// What resanalyze prints: JSONL the records (the findings and the summary; after `--follow`,
/// whose findings were printed as they came, the summary only), JSON the analysis document,
/// a table or Markdown the headline and the checks, CSV the checks.
pub struct AnalysisBody {
    doc: Analysis,
    findings_in_jsonl: bool,
}

impl AnalysisBody {
    /// The body of a finished analysis.
    pub fn new(doc: Analysis) -> Self {
        AnalysisBody {
            doc,
            findings_in_jsonl: true,
        }
    }

    /// The body at the end of `--follow`: its JSONL is the summary alone.
    pub fn after_follow(doc: Analysis) -> Self {
        AnalysisBody {
            doc,
            findings_in_jsonl: false,
        }
    }
}

impl Body for AnalysisBody {
    fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Json => {
                serde_json::to_writer_pretty(&mut *out, &self.doc).map_err(io::Error::other)?;
                writeln!(out)
            }
            Format::Jsonl if self.findings_in_jsonl => {
                for rec in records(&self.doc) {
                    writeln!(out, "{}", rec.to_line())?;
                }
                Ok(())
            }
            Format::Jsonl => writeln!(out, "{}", summary(&self.doc).to_line()),
            Format::Markdown => out.write_all(markdown(&self.doc).as_bytes()),
            Format::Table => out.write_all(table(&self.doc).as_bytes()),
            Format::Csv => checks(&self.doc).write_csv(out),
            Format::Sarif => Err(unsupported(format)),
        }
    }

    /// The step summary under the report's title (see [`title`]).
    fn markdown(&self) -> io::Result<String> {
        Ok(markdown_tables(&self.doc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_check_is_a_finding_of_its_name_graded_by_what_it_means() {
        let c = Check::new(
            "oom_kills",
            false,
            Some(2.into()),
            Some(0.into()),
            "2 OOM kills in the cgroup\nthe last at 3.1 h".into(),
        );
        let f = soak_core::record::Finding::from_record(&finding(&c)).expect("a finding");
        assert_eq!(
            (f.kind.as_str(), f.severity),
            ("oom_kills", Severity::Critical)
        );
        assert_eq!(f.message, "2 OOM kills in the cgroup the last at 3.1 h");
        assert_eq!(f.get("value"), Some(&2.into()));
        assert_eq!(check_severity("memory_growth"), Severity::High);
        assert_eq!(check_severity("duration"), Severity::Medium);
    }
}
