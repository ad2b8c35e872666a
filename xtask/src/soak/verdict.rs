//! The verdict: the seed's Success Metrics table, each row with threshold, measured value and
//! pass/fail, written as `summary.json`, `summary.md` and `summary.txt`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

/// A row's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Within the threshold.
    Pass,
    /// Outside it.
    Fail,
    /// Not measured in this run (says why in the detail).
    Skip,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One metric.
#[derive(Debug, Clone)]
pub struct Row {
    /// The seed's name for it.
    pub metric: &'static str,
    /// The threshold, in words (`< 10 MB/h`).
    pub threshold: String,
    /// What was measured.
    pub value: String,
    /// Pass, fail or skip.
    pub status: Status,
    /// Where the figure comes from, or why it is skipped.
    pub detail: String,
}

impl Row {
    /// A measured row.
    pub fn measured(
        metric: &'static str,
        threshold: String,
        value: String,
        pass: bool,
        detail: String,
    ) -> Row {
        Row {
            metric,
            threshold,
            value,
            status: if pass { Status::Pass } else { Status::Fail },
            detail,
        }
    }

    /// A row this run could not measure.
    pub fn skipped(metric: &'static str, threshold: String, why: &str) -> Row {
        Row {
            metric,
            threshold,
            value: "-".into(),
            status: Status::Skip,
            detail: why.to_string(),
        }
    }
}

/// `summary.json`: the verdict, its rows in the seed's order.
#[derive(Debug, Serialize)]
pub struct SummaryJson<'a> {
    /// No row failed.
    pub ok: bool,
    /// Why the run ended.
    pub stopped_because: &'a str,
    /// The run directory.
    pub run_dir: &'a str,
    /// Early warnings seen while the run went on.
    pub early_warnings: &'a [String],
    /// The rows.
    pub rows: Vec<RowJson<'a>>,
}

/// One row of `summary.json`.
#[derive(Debug, Serialize)]
pub struct RowJson<'a> {
    /// The seed's name for it.
    pub metric: &'a str,
    /// The threshold, in words.
    pub threshold: &'a str,
    /// What was measured.
    pub value: &'a str,
    /// `pass`, `fail` or `skip`.
    pub status: String,
    /// Where the figure comes from, or why it is skipped.
    pub detail: &'a str,
}

/// The whole verdict.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// The rows, in the seed's order.
    pub rows: Vec<Row>,
    /// Why the run ended (`duration reached`, `hang detected`, `SIGINT`, ...).
    pub stopped_because: String,
    /// The run directory.
    pub run_dir: String,
    /// Early warnings seen while the run went on (resanalyze --follow findings).
    pub warnings: Vec<String>,
}

impl Verdict {
    /// True when no row failed.
    pub fn ok(&self) -> bool {
        self.rows.iter().all(|r| r.status != Status::Fail)
    }

    /// `summary.json`'s content.
    pub fn to_json(&self) -> SummaryJson<'_> {
        SummaryJson {
            ok: self.ok(),
            stopped_because: &self.stopped_because,
            run_dir: &self.run_dir,
            early_warnings: &self.warnings,
            rows: self
                .rows
                .iter()
                .map(|r| RowJson {
                    metric: r.metric,
                    threshold: &r.threshold,
                    value: &r.value,
                    status: r.status.as_str().to_ascii_lowercase(),
                    detail: &r.detail,
                })
                .collect(),
        }
    }

    /// A Markdown table (the job summary).
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "## Soak verdict: {}\n\nStopped because: {}. Records: `{}`\n\n| Metric | Threshold | Measured | Status | Detail |\n|---|---|---|---|---|\n",
            if self.ok() { "PASS" } else { "FAIL" },
            self.stopped_because,
            self.run_dir
        );
        for r in &self.rows {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                r.metric,
                r.threshold,
                r.value,
                match r.status {
                    Status::Pass => "✅ pass",
                    Status::Fail => "❌ FAIL",
                    Status::Skip => "➖ skip",
                },
                r.detail.replace('|', "\\|")
            );
        }
        let _ = writeln!(
            s,
            "\nThe whole run on one page: `{}/report.html` (charts on one time axis, findings, \
             the raw artifacts), in the run directory's artifact.",
            self.run_dir
        );
        if !self.warnings.is_empty() {
            s.push_str("\nEarly warnings during the run:\n\n");
            for w in &self.warnings {
                let _ = writeln!(s, "- {w}");
            }
        }
        s
    }

    /// An aligned text table.
    pub fn to_text(&self) -> String {
        let headers = ["metric", "threshold", "measured", "status"];
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    r.metric.to_string(),
                    r.threshold.clone(),
                    r.value.clone(),
                    r.status.as_str().to_string(),
                ]
            })
            .collect();
        let mut widths = headers.map(str::len);
        for c in &cells {
            for (w, v) in widths.iter_mut().zip(c) {
                *w = (*w).max(v.chars().count());
            }
        }
        let mut s = String::new();
        let line = |s: &mut String, c: [&str; 4]| {
            let _ = writeln!(
                s,
                "{:<w0$}  {:<w1$}  {:>w2$}  {}",
                c[0],
                c[1],
                c[2],
                c[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2]
            );
        };
        line(&mut s, headers);
        line(
            &mut s,
            [
                "-".repeat(widths[0]).as_str(),
                "-".repeat(widths[1]).as_str(),
                "-".repeat(widths[2]).as_str(),
                "------",
            ],
        );
        for c in &cells {
            line(
                &mut s,
                [c[0].as_str(), c[1].as_str(), c[2].as_str(), c[3].as_str()],
            );
        }
        let _ = writeln!(
            s,
            "\nverdict: {} (stopped because: {})",
            if self.ok() { "PASS" } else { "FAIL" },
            self.stopped_because
        );
        for r in self.rows.iter().filter(|r| r.status != Status::Pass) {
            let _ = writeln!(s, "  {}: {}", r.metric, r.detail);
        }
        s
    }

    /// Writes the three files into `dir`, and the Markdown to `$GITHUB_STEP_SUMMARY` when set.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(
            dir.join("summary.json"),
            serde_json::to_string_pretty(&self.to_json())? + "\n",
        )?;
        std::fs::write(dir.join("summary.md"), self.to_markdown())?;
        std::fs::write(dir.join("summary.txt"), self.to_text())?;
        if let Some(p) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?;
            f.write_all(self.to_markdown().as_bytes())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_row_fails_the_verdict_and_skips_do_not() {
        let mut v = Verdict {
            rows: vec![
                Row::measured(
                    "Memory growth",
                    "< 10 MB/h".into(),
                    "1.2 MB/h".into(),
                    true,
                    "resanalyze".into(),
                ),
                Row::skipped(
                    "Security issues",
                    "0 CRITICAL/HIGH".into(),
                    "no advisory database",
                ),
            ],
            stopped_because: "duration reached".into(),
            run_dir: "r".into(),
            warnings: vec!["early warning: memory rising".into()],
        };
        assert!(v.ok());
        assert!(v.to_markdown().contains("- early warning: memory rising"));
        assert!(
            v.to_text()
                .contains("Security issues: no advisory database")
        );
        v.rows.push(Row::measured(
            "Crashes",
            "0".into(),
            "1".into(),
            false,
            "traceback".into(),
        ));
        assert!(!v.ok());
        let md = v.to_markdown();
        assert!(md.starts_with("## Soak verdict: FAIL"));
        assert!(md.contains("| Crashes | 0 | 1 | ❌ FAIL | traceback |"));
        assert!(
            md.contains("`r/report.html`"),
            "the summary links the report: {md}"
        );
        assert_eq!(v.to_json().rows[2].status, "fail");
        let json = serde_json::to_string(&v.to_json()).expect("json");
        assert!(
            json.starts_with("{\"ok\":false,\"stopped_because\":\"duration reached\",\"run_dir\":\"r\",\"early_warnings\":[\"early warning: memory rising\"],\"rows\":[{\"metric\":\"Memory growth\",\"threshold\":\"< 10 MB/h\",\"value\":\"1.2 MB/h\",\"status\":\"pass\",\"detail\":\"resanalyze\"}"),
            "summary.json keeps its field order: {json}"
        );
    }
}
