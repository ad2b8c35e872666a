//! The parts of the tools' JSONL the soak reads, as typed records: what a field means is
//! written once here, not as string-key lookups scattered through the stages. They are read
//! through [`super::artifacts`] (streamed, `.gz` transparently) and, while the run lasts,
//! core's line follower ([`soak_core::follow`], in [`super::watch`]).
//!
//! resanalyze's analysis is read as the crate's own [`Analysis`], the type it is written from,
//! and the run, reconcile and secrets summaries as their tools' own [`RunSummary`]
//! (zombiereap), [`ReconcileSummary`] (orphan-cancel) and [`SecretsSummary`] (seccheck),
//! each with every field defaulted. The other records (logscan's summary with its per-kind
//! keys, resmon's samples and events, ...) are built as `soak_core::record::Record`s with no
//! public typed struct to read them back: for those the views below name the fields the soak
//! judges. Every field of a view is optional (`#[serde(default)]`): a tool that wrote less is
//! judged on what it wrote. resmon's samples are read here rather than through
//! `resanalyze::sample::RawSample`, which lacks the tree's CPU and zombies and the cgroup's
//! CPU the rows need.

use serde::Deserialize;

pub use orphan_cancel::reconcile::ReconcileSummary;
pub use resanalyze::model::Analysis;
pub use seccheck::commands::secrets::SecretsSummary;
pub use zombiereap::supervise::RunSummary;

/// One resmon sample, the fields the soak judges.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Sample {
    /// `sample` for samples.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was taken.
    pub timestamp_unix: Option<f64>,
    /// CPU of the service's process tree, percent of one core.
    pub tree_cpu_percent: Option<f64>,
    /// CPU of the service's cgroup (container, unit), percent of one core.
    pub cgroup_cpu_percent: Option<f64>,
    /// Zombies in the service's tree.
    pub tree_zombies: Option<u64>,
    /// RSS of the tree.
    pub tree_memory_mb: Option<f64>,
}

/// One distinct error message the service logged, with how often.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TopError {
    /// The message (numbers and ids normalised by logscan).
    pub message: String,
    /// How many times.
    pub count: u64,
}

/// logscan's summary.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LogSummary {
    /// WebSocket reconnections in the whole log.
    pub ws_reconnect_count: Option<u64>,
    /// Most reconnections in any one-hour window.
    pub ws_reconnects_max_in_any_hour: Option<u64>,
    /// Fatal lines: panics, fatal errors, segfaults, OOM kills.
    pub crash_count: Option<u64>,
    /// Errors the service logged and survived: tracebacks, exceptions, error lines.
    pub error_count: Option<u64>,
    /// Most of those in any one-hour window.
    pub errors_max_in_any_hour: Option<u64>,
    /// The most frequent distinct error messages.
    pub top_errors: Vec<TopError>,
    /// Heartbeat lines.
    pub heartbeat_count: Option<u64>,
    /// Longest heartbeat silence, seconds (null without heartbeats).
    pub heartbeat_max_gap_s: Option<f64>,
    /// Which rule judged the heartbeat.
    pub heartbeat_rule: Option<String>,
    /// Lines read.
    pub lines: Option<u64>,
    /// Lines whose time could not be read.
    pub lines_without_time: Option<u64>,
}

/// A resmon event: the cgroup's OOM kills and the container's restarts are crashes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MonitorEvent {
    /// `event` for events.
    #[serde(rename = "type")]
    pub kind: String,
    /// `oom_kill`, `container_restart`, ...
    pub event: String,
    /// When.
    pub timestamp_utc: String,
    /// OOM kills that this event counts.
    pub new_oom_kills: Option<u64>,
}

/// A finding of seccheck secrets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SecretFinding {
    /// `finding` for findings.
    #[serde(rename = "type")]
    pub record: String,
    /// What was found (`aws_access_key`, `env:BYBIT_API_SECRET`).
    pub kind: String,
    /// Where.
    pub file: String,
    /// Its line.
    pub line: Option<u64>,
}

/// exchange-sim's first line: where it listens.
#[derive(Debug, Clone, Deserialize)]
pub struct SimListening {
    /// Its base URL.
    pub url: String,
}

/// A line of `logscan --follow`, the watchdog: a `hang` finding stops the run.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct WatchdogRecord {
    /// `event`, `finding`, ...
    #[serde(rename = "type")]
    pub record: String,
    /// The finding's kind (`hang`).
    pub kind: Option<String>,
    /// What it says.
    pub message: Option<String>,
}

/// A line of `resanalyze --follow`: its `estimate` events and its early findings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EarlyRecord {
    /// `event` or `finding`.
    #[serde(rename = "type")]
    pub record: String,
    /// The event's name (`estimate`).
    pub event: Option<String>,
    /// The finding's kind.
    pub kind: Option<String>,
    /// The finding's message.
    pub message: Option<String>,
    /// The estimate's leak verdict so far (`insufficient_data`, `no_leak`, `leak`).
    pub leak_verdict: Option<String>,
    /// The estimate's slope.
    pub slope_mb_per_hour: Option<f64>,
}

/// `seccheck deps`' summary.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DepsSummary {
    /// No finding at or above the failing severity.
    pub ok: bool,
    /// Findings at or above it.
    pub failing: u64,
    /// Packages read.
    pub packages: u64,
    /// The lockfiles read.
    pub lockfiles: Vec<String>,
    /// Findings by severity (ignored ones not counted).
    pub critical: u64,
    /// High.
    pub high: u64,
    /// Medium.
    pub medium: u64,
    /// Low.
    pub low: u64,
    /// Warnings (unmaintained, yanked, ...).
    pub warnings: u64,
}
