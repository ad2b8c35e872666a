//! A run directory read into what the page shows: the verdict, the series reduced to pixel
//! columns of the one shared time axis, the event marks, health, findings and artifacts.
//!
//! `resources.jsonl` is read twice, streaming (the first pass finds the time range, the second
//! bins every sample into its column), so a 72-hour run at 1 s takes memory in proportion to
//! the page's width, not to the run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use soak_core::jsonl::SkipCounts;

use crate::ReportError;
use crate::axis::TimeAxis;
use crate::envelope::Envelope;
use crate::events::{Lane, bin_events, event_text, lane_of, withheld_lines};
use crate::health::{Health, bin_health};
use crate::inputs::{
    self, Analysis, DepFinding, EventLine, HealthPoll, Kind, OrderFinding, ResourceLine,
    SecretFinding, Summary, ZombieFinding, artifact,
};

/// The plot area's left edge in the charts, px.
pub const PLOT_LEFT: f64 = 100.0;
/// The plot area's width, px (one column per pixel).
pub const PLOT_WIDTH: f64 = 1030.0;

/// The resource series the charts draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Tree RSS, MB.
    TreeMemory,
    /// Main process RSS, MB.
    ProcessMemory,
    /// Machine memory used, MB.
    MemoryUsed,
    /// cgroup memory in use, MB.
    CgroupMemory,
    /// cgroup limit, MB.
    CgroupLimit,
    /// The service's CPU (tree, or the main process), %.
    ServiceCpu,
    /// The machine's CPU, %.
    MachineCpu,
    /// Disk used, GB.
    DiskUsed,
    /// Open fds.
    Fds,
    /// Threads.
    Threads,
}

const METRICS: [Metric; 10] = [
    Metric::TreeMemory,
    Metric::ProcessMemory,
    Metric::MemoryUsed,
    Metric::CgroupMemory,
    Metric::CgroupLimit,
    Metric::ServiceCpu,
    Metric::MachineCpu,
    Metric::DiskUsed,
    Metric::Fds,
    Metric::Threads,
];

impl Metric {
    /// The sample's value of this metric.
    pub fn of(self, s: &ResourceLine) -> Option<f64> {
        match self {
            Metric::TreeMemory => s.tree_memory_mb,
            Metric::ProcessMemory => s.process_memory_mb,
            Metric::MemoryUsed => s.memory_used_mb,
            Metric::CgroupMemory => s.cgroup_memory_mb,
            Metric::CgroupLimit => s.cgroup_memory_limit_mb,
            Metric::ServiceCpu => s.tree_cpu_percent.or(s.process_cpu_percent),
            Metric::MachineCpu => s.cpu_percent,
            Metric::DiskUsed => s.disk_used_gb,
            Metric::Fds => s.tree_fds.or(s.process_fds),
            Metric::Threads => s.tree_threads.or(s.process_threads),
        }
    }

    /// The memory metric resanalyze names as its judged series.
    pub fn from_series(name: &str) -> Option<Metric> {
        match name {
            "tree_memory_mb" => Some(Metric::TreeMemory),
            "process_memory_mb" => Some(Metric::ProcessMemory),
            "memory_used_mb" => Some(Metric::MemoryUsed),
            "cgroup_memory_mb" => Some(Metric::CgroupMemory),
            _ => None,
        }
    }
}

/// resanalyze's judged window and fitted trend, placed on the time axis.
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// The judged series.
    pub metric: Metric,
    /// Window start, Unix s.
    pub start: f64,
    /// Window end, Unix s.
    pub end: f64,
    /// The fitted line's value at `start` and `end`, MB (`None` without a slope).
    pub line: Option<(f64, f64)>,
}

/// Facts about the run for the configuration section.
#[derive(Debug, Clone, Default)]
pub struct RunInfo {
    /// Samples in `resources.jsonl`.
    pub samples: u64,
    /// First and last sample, Unix s.
    pub sampled: Option<(f64, f64)>,
    /// resmon's interval, s.
    pub interval_s: Option<f64>,
    /// Host name.
    pub hostname: Option<String>,
    /// Kernel and architecture.
    pub platform: Option<String>,
    /// resmon's version.
    pub monitor_version: Option<String>,
    /// The service's command (zombiereap's start event).
    pub command: Option<String>,
    /// The health URL polled (`health.url`).
    pub health_url: Option<String>,
    /// Events dated well outside the measured time (not drawn).
    pub events_outside: usize,
}

/// Findings from the after-steps.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// Orphan and ghost orders.
    pub orders: Vec<OrderFinding>,
    /// Zombies.
    pub zombies: Vec<ZombieFinding>,
    /// Vulnerable dependencies.
    pub deps: Vec<DepFinding>,
    /// Leaked secrets, masked.
    pub secrets: Vec<SecretFinding>,
}

/// A file of the run directory.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Its name (a relative link).
    pub name: String,
    /// Its size.
    pub bytes: u64,
}

/// Everything the page shows.
#[derive(Debug, Clone)]
pub struct Run {
    /// Whose view the page is.
    pub view: View,
    /// The run directory.
    pub dir: PathBuf,
    /// The verdict (`None` when the soak did not get to write it).
    pub summary: Option<Summary>,
    /// resanalyze's analysis.
    pub analysis: Option<Analysis>,
    /// The shared time axis (`None` when nothing in the run has a time).
    pub axis: Option<TimeAxis>,
    /// Each resource metric per column.
    pub series: BTreeMap<Metric, Envelope>,
    /// Lines are broken where samples are further apart than this, s.
    pub max_gap_s: f64,
    /// The judged window and trend.
    pub trend: Option<Trend>,
    /// Health polls (`None` without `health.jsonl`).
    pub health: Option<Health>,
    /// Event lanes that have events.
    pub lanes: Vec<Lane>,
    /// Facts for the configuration section.
    pub info: RunInfo,
    /// Findings.
    pub findings: Findings,
    /// The run directory's files.
    pub artifacts: Vec<Artifact>,
    /// Lines skipped per file (none when every line read).
    pub skipped: Vec<(String, SkipCounts)>,
    /// A tool's headline figures (name, value).
    pub figures: Vec<(String, String)>,
}

fn note_skips(skipped: &mut Vec<(String, SkipCounts)>, path: &Path, counts: SkipCounts) {
    // Blank lines are not damage.
    let blank = counts.get(soak_core::jsonl::SkipReason::Blank);
    if counts.total() > blank {
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        skipped.push((name, counts));
    }
}

fn finite(t: Option<f64>) -> Option<f64> {
    t.filter(|t| t.is_finite() && *t > 0.0)
}

/// What a page is made from: a run directory's artifacts ([`Sources::run_dir`]) or one tool's
/// inputs and results (`resanalyze --html`, `logscan --html`).
#[derive(Debug, Clone)]
pub struct Sources {
    /// Whose view the page is.
    pub view: View,
    /// The run directory, or the directory the tool's page describes (named in the header).
    pub dir: PathBuf,
    /// The verdict rows.
    pub summary: Option<Summary>,
    /// resanalyze's analysis.
    pub analysis: Option<Analysis>,
    /// resmon recordings, in time order (each read twice, streaming).
    pub resources: Vec<PathBuf>,
    /// Health polls.
    pub health: Option<PathBuf>,
    /// The health URL polled.
    pub health_url: Option<String>,
    /// JSONL files of events worth a mark.
    pub event_files: Vec<PathBuf>,
    /// Events already in memory (logscan's own), marked like those of `event_files`.
    pub events: Vec<EventLine>,
    /// Findings from the after-steps.
    pub findings: Findings,
    /// The run directory's files.
    pub artifacts: Vec<Artifact>,
    /// Lines skipped so far, per file.
    pub skipped: Vec<(String, SkipCounts)>,
    /// A tool's headline figures (name, value), shown with the run's facts.
    pub figures: Vec<(String, String)>,
    /// The time a tool's input covers beyond its samples and polls (a log's first and last
    /// timestamps), Unix s: the axis spans it.
    pub span: Option<(f64, f64)>,
}

/// Whose view a page is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// A whole soak run directory (`report.html`).
    RunDir,
    /// One tool's view of its inputs.
    Tool {
        /// The tool (`resanalyze`, `logscan`).
        tool: &'static str,
        /// Its inputs as named on its command line.
        inputs: Vec<String>,
    },
}

impl Sources {
    /// A tool's view: nothing but what the caller sets.
    pub fn tool(tool: &'static str, inputs: Vec<String>) -> Sources {
        Sources {
            view: View::Tool { tool, inputs },
            dir: PathBuf::from("."),
            summary: None,
            analysis: None,
            resources: Vec::new(),
            health: None,
            health_url: None,
            event_files: Vec::new(),
            events: Vec::new(),
            findings: Findings::default(),
            artifacts: Vec::new(),
            skipped: Vec::new(),
            figures: Vec::new(),
            span: None,
        }
    }

    /// Everything the run directory `dir` holds.
    pub fn run_dir(dir: &Path) -> Result<Sources, ReportError> {
        let meta = std::fs::metadata(dir).map_err(|error| ReportError::Dir {
            path: dir.to_path_buf(),
            error,
        })?;
        if !meta.is_dir() {
            return Err(ReportError::NotADir(dir.to_path_buf()));
        }
        let mut skipped = Vec::new();
        let summary = artifact(dir, "summary.json")
            .map(|p| inputs::read_json::<Summary>(&p))
            .transpose()?;
        let analysis = artifact(dir, "resources.analysis.json")
            .map(|p| inputs::read_json::<Analysis>(&p))
            .transpose()?;
        let health_url = artifact(dir, "health.url")
            .and_then(|p| soak_core::input::InputSource::File(p).open().ok())
            .and_then(|mut r| {
                let mut s = String::new();
                std::io::Read::read_to_string(&mut r, &mut s).ok()?;
                Some(s.trim().to_string())
            })
            .filter(|s| !s.is_empty());
        let findings = read_findings(dir, &mut skipped)?;
        Ok(Sources {
            view: View::RunDir,
            dir: dir.to_path_buf(),
            summary,
            analysis,
            resources: artifact(dir, "resources.jsonl").into_iter().collect(),
            health: artifact(dir, "health.jsonl"),
            health_url,
            event_files: [
                "logscan-follow.jsonl",
                "resanalyze-follow.jsonl",
                "zombiereap.jsonl",
            ]
            .into_iter()
            .filter_map(|name| artifact(dir, name))
            .collect(),
            events: Vec::new(),
            findings,
            artifacts: list_artifacts(dir)?,
            skipped,
            figures: Vec::new(),
            span: None,
        })
    }
}

impl Run {
    /// Reads the run directory `dir`.
    pub fn load(dir: &Path) -> Result<Run, ReportError> {
        Run::build(Sources::run_dir(dir)?)
    }

    /// Reads what `sources` names into what the page shows.
    pub fn build(sources: Sources) -> Result<Run, ReportError> {
        let Sources {
            view,
            dir,
            summary,
            analysis,
            resources,
            health,
            health_url,
            event_files,
            events: events_in_memory,
            findings,
            artifacts,
            mut skipped,
            figures,
            span,
        } = sources;
        let mut info = RunInfo {
            health_url,
            ..RunInfo::default()
        };
        let withheld = withheld_lines(&findings.secrets);

        // Events worth a mark, from every tool that writes them.
        let mut events: Vec<(f64, &'static str, String)> = Vec::new();
        let mut mark = |e: EventLine, info: &mut RunInfo| {
            if e.tool == "zombiereap" && e.event.as_deref() == Some("start") {
                info.command = e.command.as_ref().map(inputs::Command::line);
            }
            if let (Some(t), Some(lane)) = (finite(e.timestamp_unix), lane_of(&e)) {
                events.push((t, lane, event_text(&e, &withheld)));
            }
        };
        for path in &event_files {
            let counts = inputs::for_each(path, |e: EventLine| mark(e, &mut info))?;
            note_skips(&mut skipped, path, counts);
        }
        for e in events_in_memory {
            mark(e, &mut info);
        }

        let health_polls = match health {
            None => None,
            Some(path) => {
                let (polls, counts) = inputs::read_all(&path, |p: &HealthPoll| {
                    p.kind == Kind::Sample && finite(p.timestamp_unix).is_some()
                })?;
                note_skips(&mut skipped, &path, counts);
                Some(polls)
            }
        };

        // First pass over the samples: their time range and the monitor's facts.
        let mut first_last: Option<(f64, f64)> = None;
        for path in &resources {
            let counts = inputs::for_each(path, |s: ResourceLine| match s.kind {
                Kind::Event if s.event.as_deref() == Some("start") => {
                    info.interval_s = s.interval_s.or(info.interval_s);
                    info.hostname = s.hostname.or(info.hostname.take());
                    info.platform = s.platform.or(info.platform.take());
                    info.monitor_version = s.monitor_version.or(info.monitor_version.take());
                }
                Kind::Sample => {
                    if let Some(t) = finite(s.timestamp_unix) {
                        info.samples += 1;
                        first_last = Some(match first_last {
                            None => (t, t),
                            Some((a, b)) => (a.min(t), b.max(t)),
                        });
                        if info.hostname.is_none() {
                            info.hostname = s.hostname;
                        }
                    }
                }
                _ => {}
            })?;
            note_skips(&mut skipped, path, counts);
        }
        info.sampled = first_last;

        // The axis spans what was measured (samples, polls); events stretch it only a little
        // (the service starts just before the first sample), so a log line with a wrong or
        // historical date cannot squash every chart. Events further out are counted instead.
        let span_of = |ts: &mut dyn Iterator<Item = f64>| {
            ts.fold(None, |acc: Option<(f64, f64)>, t| {
                Some(acc.map_or((t, t), |(a, b)| (a.min(t), b.max(t))))
            })
        };
        let measured = span_of(
            &mut first_last
                .into_iter()
                .chain(span.filter(|(a, b)| finite(Some(*a)).is_some() && b >= a))
                .flat_map(|(a, b)| [a, b])
                .chain(
                    health_polls
                        .iter()
                        .flatten()
                        .filter_map(|p| p.timestamp_unix),
                ),
        );
        let range = match measured {
            Some((a, b)) => {
                let slack = ((b - a) * 0.05).max(60.0);
                let near = |t: f64| t >= a - slack && t <= b + slack;
                let before = events.len();
                events.retain(|e| near(e.0));
                info.events_outside = before - events.len();
                span_of(&mut [a, b].into_iter().chain(events.iter().map(|e| e.0)))
            }
            None => span_of(&mut events.iter().map(|e| e.0)),
        };
        let axis = range.map(|(a, b)| TimeAxis::new(a, b, PLOT_LEFT, PLOT_WIDTH));

        let interval = info.interval_s.or_else(|| {
            first_last
                .filter(|_| info.samples > 1)
                .map(|(a, b)| (b - a) / (info.samples - 1) as f64)
        });
        let max_gap_s = axis.map_or(0.0, |a| {
            (3.0 * interval.unwrap_or(1.0)).max(2.5 * a.seconds_per_column())
        });

        // The judged window on the Unix axis: resanalyze measures it from the first sample.
        let leak = analysis.as_ref().and_then(|a| a.leak.as_ref());
        let judged = leak.and_then(|l| {
            let metric = Metric::from_series(&l.series)?;
            let origin = first_last?.0;
            Some((
                metric,
                origin + l.window_start_s?,
                origin + l.window_end_s?,
                l.slope_mb_per_hour.filter(|s| s.is_finite()),
            ))
        });

        let mut series = BTreeMap::new();
        let mut residuals = Vec::new();
        if let (false, Some(axis)) = (resources.is_empty(), axis) {
            let columns = axis.columns();
            let mut env: Vec<Envelope> = METRICS.iter().map(|_| Envelope::new(columns)).collect();
            for path in &resources {
                inputs::for_each(path, |s: ResourceLine| {
                    if s.kind != Kind::Sample {
                        return;
                    }
                    let Some(t) = finite(s.timestamp_unix) else {
                        return;
                    };
                    let Some(col) = axis.column(t) else { return };
                    for (m, e) in METRICS.iter().zip(env.iter_mut()) {
                        if let Some(v) = m.of(&s) {
                            e.add(col, t, v);
                        }
                    }
                    if let Some((m, a, b, Some(slope))) = judged {
                        if let Some(v) = m.of(&s).filter(|_| t >= a - 1e-6 && t <= b + 1e-6) {
                            residuals.push(v - slope / 3600.0 * (t - a));
                        }
                    }
                })?;
            }
            for (m, e) in METRICS.iter().zip(env) {
                if e.count() > 0 {
                    series.insert(*m, e);
                }
            }
        }
        let trend = judged.map(|(metric, start, end, slope)| Trend {
            metric,
            start,
            end,
            line: slope
                .zip(median(&mut residuals))
                .map(|(slope, at_start)| (at_start, at_start + slope / 3600.0 * (end - start))),
        });

        let health = match (health_polls, axis) {
            (Some(polls), Some(axis)) => Some(bin_health(&polls, &axis)),
            _ => None,
        };

        let lanes = axis.map_or_else(Vec::new, |axis| bin_events(&events, &axis));
        Ok(Run {
            view,
            dir,
            summary,
            analysis,
            axis,
            series,
            max_gap_s,
            trend,
            health,
            lanes,
            info,
            findings,
            artifacts,
            skipped,
            figures,
        })
    }
}

/// The median (Theil-Sen's intercept: the median of `y - slope * t`).
fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

fn read_findings(
    dir: &Path,
    skipped: &mut Vec<(String, SkipCounts)>,
) -> Result<Findings, ReportError> {
    fn findings_in<T: serde::de::DeserializeOwned>(
        dir: &Path,
        name: &str,
        is_finding: impl Fn(&T) -> bool,
        skipped: &mut Vec<(String, SkipCounts)>,
    ) -> Result<Vec<T>, ReportError> {
        let Some(path) = artifact(dir, name) else {
            return Ok(Vec::new());
        };
        let (found, counts) = inputs::read_all(&path, is_finding)?;
        note_skips(skipped, &path, counts);
        Ok(found)
    }
    Ok(Findings {
        orders: findings_in(
            dir,
            "orders.jsonl",
            |f: &OrderFinding| f.kind == Kind::Finding,
            skipped,
        )?,
        zombies: findings_in(
            dir,
            "zombies.jsonl",
            |f: &ZombieFinding| f.kind == Kind::Finding,
            skipped,
        )?,
        deps: findings_in(
            dir,
            "deps.jsonl",
            |f: &DepFinding| f.kind == Kind::Finding,
            skipped,
        )?,
        secrets: findings_in(
            dir,
            "secrets.jsonl",
            |f: &SecretFinding| f.kind == Kind::Finding,
            skipped,
        )?,
    })
}

fn list_artifacts(dir: &Path) -> Result<Vec<Artifact>, ReportError> {
    let entries = std::fs::read_dir(dir).map_err(|error| ReportError::Dir {
        path: dir.to_path_buf(),
        error,
    })?;
    let mut out: Vec<Artifact> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok()?;
            (meta.is_file() && e.file_name() != "report.html").then(|| Artifact {
                name: e.file_name().to_string_lossy().into_owned(),
                bytes: meta.len(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}
