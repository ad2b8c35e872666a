//! `--follow FILE`: tails a JSONL that resmon is still writing and prints a `finding` record
//! the moment the evidence of a leak (memory, fds, threads) or of disk/memory exhaustion becomes
//! significant. Only whole lines are parsed (a line still being written waits for its `\n`).
//! The same verdict as the batch analysis is re-evaluated every `--follow-every` new samples,
//! so it cannot speak before `--min-samples` samples over `--min-span` (defaults 30 samples
//! over 30 minutes); a finding is printed once per kind. With `--follow-estimates` every
//! evaluation also prints an `estimate` event (the memory verdict so far and its slope), which
//! a progress display can show before the evidence is significant.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use soak_core::follow::{FollowError, Follower, Until};
use soak_core::jsonl::SkipReason;
use soak_core::record::{Finding, Record, RecordType, Severity};
use soak_core::signals::Termination;

use crate::accumulate::{Accumulator, StreamConfig};
use crate::analysis::{AnalysisConfig, analyze};
use crate::model::Analysis;
use crate::sample::RawSample;

/// Bytes read (and lines parsed) between two looks at the analysis and at signals.
const READ_CHUNK: u64 = 1 << 16;

/// How following behaves.
#[derive(Debug, Clone, Copy)]
pub struct FollowConfig {
    /// Re-evaluate after this many new samples.
    pub every: u64,
    /// Stop after this long without new data (None: until a signal or resmon's `stop`).
    pub idle: Option<Duration>,
    /// Poll interval.
    pub poll: Duration,
    /// Projected exhaustion closer than this (h) is a finding.
    pub exhaustion_horizon_h: f64,
    /// Also print an `estimate` event at every evaluation (for progress displays).
    pub estimates: bool,
    /// Longest line read (bytes, without its `\n`); longer ones are skipped and counted as
    /// `line_too_long` without being held in memory.
    pub max_line: usize,
}

/// The analysis settings of the early findings: the first `--min-span` (or `--warmup`, if
/// longer) is the service's warm-up and is not judged, so a JVM growing its heap in its first
/// seconds is not a "leak". A finding needs half a `--min-span` of evidence after it (the
/// verdict's own rule), so the earliest finding comes after 1.5 × `--min-span`.
pub fn early_config(cfg: &AnalysisConfig) -> AnalysisConfig {
    let mut early = *cfg;
    early.memory.warmup_s = cfg.memory.warmup_s.max(cfg.memory.min_span_s);
    early
}

/// The `estimate` event of one evaluation: the memory verdict so far and its current slope.
pub fn estimate(doc: &Analysis, samples_seen: u64, elapsed_hours: f64) -> Record {
    let leak = &doc.leak.trend;
    Record::new(RecordType::Event, "resanalyze")
        .with("event", "estimate")
        .with("samples_seen", samples_seen)
        .with("elapsed_hours", elapsed_hours)
        .with("series", leak.series.as_str())
        .with("leak_verdict", leak.verdict.as_str())
        .with("slope_mb_per_hour", leak.slope_per_hour)
        .with("ci_low_mb_per_hour", leak.ci_low_per_hour)
        .with("ci_high_mb_per_hour", leak.ci_high_per_hour)
        .with("basis", leak.basis.as_str())
        .with("decided_by", doc.leak.decided_by.as_str())
        .with("window_start_s", leak.window_start_s)
        .with("window_end_s", leak.window_end_s)
}

/// What one followed line is.
enum Parsed {
    /// A resmon sample.
    Sample(Box<RawSample>),
    /// resmon's `stop` event: the recording is over.
    Stop,
    /// Anything else, by reason.
    Skipped(SkipReason),
}

/// Reads one whole line (without its `\n`) as the batch reader does: the fast path, else serde.
fn parse_line(line: &[u8]) -> Parsed {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Parsed::Skipped(SkipReason::Blank);
    }
    let Ok(text) = std::str::from_utf8(line) else {
        return Parsed::Skipped(SkipReason::InvalidUtf8);
    };
    let sample = match crate::fastscan::scan(text.trim().as_bytes()) {
        Some(s) => Ok(s),
        None => serde_json::from_str::<RawSample>(text),
    };
    match sample {
        Ok(s) if s.is_sample() && s.from_monitor() => Parsed::Sample(Box::new(s)),
        Ok(_) => match serde_json::from_str::<EventProbe>(text) {
            Ok(ev)
                if ev.kind.as_deref() == Some("event") && ev.event.as_deref() == Some("stop") =>
            {
                Parsed::Stop
            }
            _ => Parsed::Skipped(SkipReason::OtherType),
        },
        Err(_) => Parsed::Skipped(SkipReason::NotJson),
    }
}

#[derive(serde::Deserialize)]
struct EventProbe {
    #[serde(rename = "type")]
    kind: Option<String>,
    event: Option<String>,
}

/// The JSON of a finding's figures.
fn fields<T: serde::Serialize>(block: &T) -> Value {
    serde_json::to_value(block).unwrap_or(Value::Null)
}

/// Findings due for the analysis `doc`, each with its figures under `detail`. A leak or the
/// limit share is high; an OOM kill, or memory or disk running out within the horizon, critical.
pub fn findings(doc: &Analysis, horizon_h: f64) -> Vec<Finding> {
    let found = |kind: &str, severity, message: &str, detail: Value| {
        Finding::new(kind, severity, message).with("detail", detail)
    };
    let mut out = Vec::new();
    if doc.leak.trend.verdict == "leak" {
        out.push(found(
            "memory_leak",
            Severity::High,
            &doc.leak.trend.reason,
            fields(&doc.leak),
        ));
    }
    for (trend, kind) in [
        (&doc.fd_trend, "fd_leak"),
        (&doc.thread_trend, "thread_leak"),
    ] {
        if let Some(t) = trend.as_ref().filter(|t| t.verdict == "leak") {
            out.push(found(kind, Severity::High, &t.reason, fields(t)));
        }
    }
    // The limit share and OOM kills are findings the moment their check fails.
    for (name, kind, severity) in [
        ("memory_limit", "memory_limit", Severity::High),
        ("oom_kills", "oom_kill", Severity::Critical),
    ] {
        if let Some(c) = doc.check(name).filter(|c| !c.ok) {
            out.push(found(kind, severity, &c.detail, fields(c)));
        }
    }
    let p = &doc.projections;
    let against_limit = p.memory_exhausted_against == "cgroup_limit";
    // Only what the service writes (resmon's --watch-path), never the whole filesystem's free
    // space, which other processes move.
    for (hours, kind) in [
        (p.hours_until_memory_exhausted, "memory_exhaustion"),
        (p.hours_until_disk_full_watched, "disk_exhaustion"),
    ] {
        let Some(h) = hours.filter(|h| *h < horizon_h) else {
            continue;
        };
        let message = match kind {
            "memory_exhaustion" if against_limit => {
                format!("memory reaches the cgroup limit in {h:.1} h at the current rate")
            }
            "memory_exhaustion" => {
                format!("available memory runs out in {h:.1} h at the current rate")
            }
            _ => format!(
                "disk space (at the watched paths' growth) runs out in {h:.1} h at the current rate"
            ),
        };
        out.push(found(kind, Severity::Critical, &message, fields(p)));
    }
    out
}

/// A follow error as the tool reports it: the file named, opening problems and devices as bad
/// input (exit 2).
fn follow_error(path: &Path, e: FollowError) -> anyhow::Error {
    match e {
        FollowError::DeviceOrSocket => soak_core::exit::usage(format!(
            "{}: a device or socket, not a recording (follow a file or a FIFO)",
            path.display()
        )),
        FollowError::Open(e) => soak_core::exit::usage(format!("{}: {e}", path.display())),
        FollowError::Read(e) => {
            anyhow::Error::new(e).context(format!("reading {}", path.display()))
        }
    }
}

/// How a follow ended.
#[derive(Debug)]
pub struct FollowEnd {
    /// The last analysis, when there were samples.
    pub doc: Option<Analysis>,
    /// Whether an early finding was reported.
    pub found: bool,
    /// The signal that ended it (SIGINT: exit 130 after the summary).
    pub signal: Option<i32>,
}

/// Follows `path` until idle, a signal, or resmon's `stop` event. Returns the last analysis,
/// whether any finding was printed, and whether Ctrl-C ended it.
pub fn follow(
    path: &Path,
    stream: StreamConfig,
    cfg: &AnalysisConfig,
    fc: &FollowConfig,
    out: &mut dyn Write,
) -> anyhow::Result<FollowEnd> {
    let term = Termination::install()?;
    let early = early_config(cfg);
    let mut acc = Accumulator::new(stream);
    // Waits for a file that is not there yet (resmon may not have created it), as `tail -F`
    // does; a FIFO cannot be truncated or rewound: its end is the writer closing it.
    // One read's worth of lines is parsed and held at a time.
    let mut follower = Follower::new(path)
        .with_max_line(fc.max_line)
        .with_quota(READ_CHUNK);
    let stopped = AtomicBool::new(false);
    let mut until = Until::every(fc.poll).signal(&term).writer_done(&stopped);
    if let Some(idle) = fc.idle {
        until = until.idle(idle);
    }
    let mut since_eval = 0u64;
    let mut said: BTreeSet<String> = BTreeSet::new();
    let mut last_doc = None;
    // A signal ends the loop after the next read, however fast data keeps arriving.
    loop {
        let mut parsed = Vec::new();
        follower
            .poll(&mut |_, line| parsed.push(parse_line(line)))
            .map_err(|e| follow_error(path, e))?;
        acc.lines_too_long = follower.too_long();
        for p in parsed {
            match p {
                Parsed::Sample(s) => {
                    if acc.push(&s) {
                        since_eval += 1;
                    }
                }
                Parsed::Stop => {
                    stopped.store(true, Ordering::SeqCst);
                    acc.skipped.add(SkipReason::OtherType);
                }
                Parsed::Skipped(reason) => acc.skipped.add(reason),
            }
            if since_eval < fc.every {
                continue;
            }
            since_eval = 0;
            let doc = analyze(&acc, &early);
            if fc.estimates {
                let rec = estimate(&doc, acc.samples, acc.span_s() / 3600.0);
                writeln!(out, "{}", rec.to_line())?;
                out.flush()?;
            }
            for finding in findings(&doc, fc.exhaustion_horizon_h) {
                if said.insert(finding.kind.clone()) {
                    let rec = finding
                        .with("samples_seen", acc.samples)
                        .with("elapsed_hours", acc.span_s() / 3600.0)
                        .into_record("resanalyze");
                    writeln!(out, "{}", rec.to_line())?;
                    out.flush()?;
                }
            }
            last_doc = Some(doc);
        }
        if follower.wait(&until).is_some() {
            break;
        }
    }
    if acc.samples > 0 {
        acc.finish();
        last_doc = Some(analyze(&acc, cfg));
    }
    Ok(FollowEnd {
        doc: last_doc,
        found: !said.is_empty(),
        signal: term.requested(),
    })
}
