//! The modes of the command line: [`prom_rules`] (`--emit-prom-rules`), [`analyze`] (the
//! recordings read to their end) and [`follow`] (one recording as resmon writes it), the last two
//! ending in a [`Report`] built here ([`ending`]); and the flags turned into the analysis's
//! configuration.

pub(crate) mod analyze;
pub(crate) mod follow;
pub(crate) mod prom_rules;

use soak_core::exit::ExitCode;
use soak_core::report::Report;

use crate::accumulate::StreamConfig;
use crate::analysis::AnalysisConfig;
use crate::cli::Cli;
use crate::model::Analysis;
use crate::report::{self, AnalysisBody};
use crate::trend::TrendConfig;

impl Cli {
    /// `--max-line` in bytes.
    pub fn max_line_bytes(&self) -> usize {
        usize::try_from(self.max_line).unwrap_or(usize::MAX)
    }

    /// What the streaming pass tracks as it reads: CPU spikes and network stalls.
    pub(crate) fn stream_config(&self) -> StreamConfig {
        StreamConfig {
            cpu_threshold: self.cpu_threshold,
            cpu_window_s: self.cpu_window.as_secs_f64(),
            net_stall_s: self.net_stall.as_secs_f64(),
        }
    }

    /// The analysis thresholds.
    pub fn analysis_config(&self) -> AnalysisConfig {
        AnalysisConfig {
            memory: TrendConfig {
                threshold_per_hour: self.leak_threshold.as_mb_per_hour(),
                warmup_s: self.warmup.as_secs_f64(),
                min_samples: self.min_samples,
                min_span_s: self.min_span.as_secs_f64(),
                alpha: 0.05,
                min_growth: self.min_growth as f64 / (1024.0 * 1024.0),
            },
            fd_threshold_per_hour: self.fd_threshold.as_per_hour(),
            thread_threshold_per_hour: self.thread_threshold.as_per_hour(),
            max_cpu_avg: self.max_cpu_avg,
            max_disk_growth_gb: self.max_disk_growth as f64 / (1u64 << 30) as f64,
            min_duration_s: self.min_duration.as_secs_f64(),
            level_shift_min: self.level_shift,
            cpu_threshold: self.cpu_threshold,
            max_limit_percent: self.max_limit_percent,
        }
    }
}

/// The report of an analysis: its body, its verdict in the step summary's title, an
/// annotation per failed check; a signal that ended it decides first (SIGINT: 130).
fn ending(doc: Analysis, body: fn(Analysis) -> AnalysisBody, signal: Option<i32>) -> Report {
    let failures: Vec<String> = doc
        .failed_checks()
        .map(|c| format!("resanalyze: check {} failed: {}", c.name, c.detail))
        .collect();
    let mut report = Report::new(crate::TOOL, body(doc.clone())).title(report::title(&doc));
    if let Some(sig) = signal {
        report = report.exit(ExitCode::from_signal(sig));
    }
    for message in failures {
        report = report.fail(message);
    }
    report
}
