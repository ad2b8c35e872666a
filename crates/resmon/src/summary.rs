//! The Markdown summary of a recording (`--summary-md PATH`, else `$GITHUB_STEP_SUMMARY`
//! under GitHub Actions): samples, how long, why it ended, the target's peaks and the events,
//! all read from the records the run wrote. resmon records, it does not judge: the summary
//! fails nothing (resanalyze does).

use std::io::{self, Write};
use std::time::Duration;

use soak_core::output::{Format, Table, cell, unsupported};
use soak_core::record::{Record, RecordType};
use soak_core::report::Body;
use soak_core::units::format_duration;

/// The peaks the summary shows: field, what it is, unit.
const PEAKS: [(&str, &str, &str); 5] = [
    ("process_memory_mb", "target RSS", "MB"),
    ("process_cpu_percent", "target CPU", "%"),
    ("tree_memory_mb", "target tree RSS", "MB"),
    ("tree_cpu_percent", "target tree CPU", "%"),
    ("cgroup_memory_mb", "cgroup memory", "MB"),
];

/// What a run wrote, reduced to its summary.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    samples: u64,
    peaks: [Option<f64>; PEAKS.len()],
    events: Vec<(String, u64)>,
    stop: Option<Record>,
}

impl RunSummary {
    /// Takes in one record the run wrote.
    pub fn observe(&mut self, rec: &Record) {
        match rec.kind() {
            Some(RecordType::Sample) => {
                self.samples += 1;
                for (peak, (field, _, _)) in self.peaks.iter_mut().zip(PEAKS) {
                    if let Some(v) = rec.get_f64(field) {
                        *peak = Some(peak.map_or(v, |p| p.max(v)));
                    }
                }
            }
            Some(RecordType::Event) => {
                let name = rec.get_str("event").unwrap_or("event");
                match self.events.iter_mut().find(|(n, _)| n == name) {
                    Some((_, count)) => *count += 1,
                    None => self.events.push((name.to_string(), 1)),
                }
                if name == "stop" {
                    self.stop = Some(rec.clone());
                }
            }
            _ => {}
        }
    }

    fn overview(&self) -> Table {
        let stop = |k: &str| {
            self.stop
                .as_ref()
                .and_then(|s| s.get(k))
                .map_or_else(|| "-".to_string(), cell)
        };
        let duration = self
            .stop
            .as_ref()
            .and_then(|s| s.get_f64("elapsed_s"))
            .and_then(|s| Duration::try_from_secs_f64(s).ok())
            .map_or_else(|| "-".to_string(), format_duration);
        let mut t = Table::new(["samples", "missed", "duration", "ended by", "exit code"]);
        t.push_row([
            self.samples.to_string(),
            stop("missed_samples"),
            duration,
            stop("reason"),
            stop("exit_code"),
        ]);
        t
    }

    fn peaks(&self) -> Table {
        let mut t = Table::new(["peak", "value"]);
        for (peak, (field, what, unit)) in self.peaks.iter().zip(PEAKS) {
            if let Some(v) = peak {
                t.push_row([
                    format!("{what} (`{field}`)"),
                    format!("{} {unit}", cell(&serde_json::json!(v))),
                ]);
            }
        }
        t
    }
}

impl Body for RunSummary {
    fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        if format != Format::Markdown {
            return Err(unsupported(format));
        }
        self.overview().write_markdown(out)?;
        writeln!(out)?;
        let peaks = self.peaks();
        if peaks.rows.is_empty() {
            writeln!(out, "No target was followed: system samples only.\n")?;
        } else {
            peaks.write_markdown(out)?;
            writeln!(out)?;
        }
        let events: Vec<String> = self
            .events
            .iter()
            .map(|(name, n)| format!("`{name}` {n}"))
            .collect();
        writeln!(out, "Events: {}\n", events.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_read_from_the_records() {
        let mut s = RunSummary::default();
        s.observe(&Record::new(RecordType::Event, "resmon").with("event", "start"));
        for (rss, cpu) in [(100.0, 5.0), (180.5, 2.0), (150.0, 40.25)] {
            s.observe(
                &Record::new(RecordType::Sample, "resmon")
                    .with("process_memory_mb", rss)
                    .with("process_cpu_percent", cpu)
                    .with("tree_memory_mb", serde_json::Value::Null),
            );
        }
        s.observe(
            &Record::new(RecordType::Event, "resmon")
                .with("event", "stop")
                .with("elapsed_s", 90.2)
                .with("reason", "duration")
                .with("missed_samples", 0)
                .with("exit_code", 0),
        );
        let md = s.markdown().expect("markdown");
        assert!(md.contains("| 3 | 0 | 1m30s | duration | 0 |"), "{md}");
        assert!(
            md.contains("| target RSS (`process_memory_mb`) | 180.5 MB |"),
            "{md}"
        );
        assert!(
            md.contains("| target CPU (`process_cpu_percent`) | 40.25 % |"),
            "{md}"
        );
        assert!(
            !md.contains("tree_memory_mb"),
            "a field never read is not a peak: {md}"
        );
        assert!(md.ends_with("Events: `start` 1, `stop` 1\n\n"), "{md}");
        let mut out = Vec::new();
        assert!(s.write(Format::Jsonl, &mut out).is_err());
    }
}
