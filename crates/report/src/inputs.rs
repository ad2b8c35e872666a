//! The run directory's artifacts as typed records: what each tool wrote that the page shows.
//! Every JSONL artifact may have been gzip-compressed at the end of the soak (`NAME.gz`);
//! both forms read the same (core's input opens gzip by its magic bytes).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use soak_core::input::InputSource;
use soak_core::jsonl::{JsonlReader, SkipCounts};

use crate::ReportError;

/// A record's `type`, without allocating for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A measurement.
    Sample,
    /// Something that happened.
    Event,
    /// Something wrong that was found.
    Finding,
    /// Something a tool did.
    Action,
    /// A tool's final word.
    Summary,
    /// Anything else.
    #[default]
    #[serde(other)]
    Other,
}

/// One line of `resources.jsonl` (resmon): the fields the charts draw, and the start event's
/// facts about the host.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ResourceLine {
    /// `sample` or the `start` event.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The event's name (`start`).
    pub event: Option<String>,
    /// When.
    pub timestamp_unix: Option<f64>,
    /// Whole process tree's RSS, MB.
    pub tree_memory_mb: Option<f64>,
    /// The main process's RSS, MB.
    pub process_memory_mb: Option<f64>,
    /// The machine's used memory, MB.
    pub memory_used_mb: Option<f64>,
    /// The service's cgroup memory in use, MB (cgroup-aware resmon).
    pub cgroup_memory_mb: Option<f64>,
    /// The service's cgroup memory limit, MB (`null` when unlimited).
    pub cgroup_memory_limit_mb: Option<f64>,
    /// The process tree's CPU, percent of one core.
    pub tree_cpu_percent: Option<f64>,
    /// The main process's CPU, percent of one core.
    pub process_cpu_percent: Option<f64>,
    /// The whole machine's CPU, percent.
    pub cpu_percent: Option<f64>,
    /// Used space of the run directory's filesystem, GB.
    pub disk_used_gb: Option<f64>,
    /// Open fds of the tree.
    pub tree_fds: Option<f64>,
    /// Open fds of the main process.
    pub process_fds: Option<f64>,
    /// Threads of the tree.
    pub tree_threads: Option<f64>,
    /// Threads of the main process.
    pub process_threads: Option<f64>,
    /// Start event: sampling interval, s.
    pub interval_s: Option<f64>,
    /// Host name.
    pub hostname: Option<String>,
    /// Kernel and architecture.
    pub platform: Option<String>,
    /// resmon's version.
    pub monitor_version: Option<String>,
}

/// The parts of `resources.analysis.json` (resanalyze) the page shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Analysis {
    /// Every check passed.
    pub ok: Option<bool>,
    /// Samples analysed.
    pub snapshot_count: Option<u64>,
    /// `elapsed_s` or `timestamp_unix`: the axis the window offsets are measured on.
    pub time_axis: Option<String>,
    /// The leak verdict.
    pub leak: Option<Leak>,
    /// CPU block (its spike threshold).
    pub cpu: Option<CpuBlock>,
    /// The analysis' own checks.
    pub checks: Vec<AnalysisCheck>,
}

/// resanalyze's leak verdict on the judged memory series.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Leak {
    /// The judged series (`tree_memory_mb`, `process_memory_mb`, `memory_used_mb`, ...).
    pub series: String,
    /// `leak`, `no_leak`, `insufficient_data`, ...
    pub verdict: String,
    /// Robust slope, MB/h.
    pub slope_mb_per_hour: Option<f64>,
    /// Its confidence interval's low end, MB/h.
    pub ci_low_mb_per_hour: Option<f64>,
    /// Its high end, MB/h.
    pub ci_high_mb_per_hour: Option<f64>,
    /// The judged window's start, s after the first sample.
    pub window_start_s: Option<f64>,
    /// Its end, s after the first sample.
    pub window_end_s: Option<f64>,
    /// Why this window (`whole_run`, `warm_up`, `change_point`).
    pub window_reason: Option<String>,
    /// The growth allowed, MB/h.
    pub threshold_mb_per_hour: Option<f64>,
    /// The verdict in words.
    pub reason: String,
}

/// resanalyze's CPU block.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CpuBlock {
    /// CPU percent counted as a spike.
    pub spike_threshold_percent: Option<f64>,
}

/// One of resanalyze's checks.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct AnalysisCheck {
    /// Its name.
    pub name: String,
    /// Passed.
    pub ok: bool,
    /// `pass`, `fail` or `skip` (from `ok` when absent).
    pub status: Option<String>,
    /// What was measured (a number or words).
    pub value: Option<Scalar>,
    /// Its limit (a number or words).
    pub threshold: Option<Scalar>,
    /// In words.
    pub detail: String,
}

impl AnalysisCheck {
    /// The check as a row of the checks table.
    pub fn row(&self) -> VerdictRow {
        let shown = |v: &Option<Scalar>| v.as_ref().map_or_else(String::new, Scalar::to_string);
        VerdictRow {
            metric: self.name.clone(),
            threshold: shown(&self.threshold),
            value: shown(&self.value),
            status: self
                .status
                .clone()
                .unwrap_or_else(|| if self.ok { "pass" } else { "fail" }.to_string()),
            detail: self.detail.clone(),
        }
    }
}

/// A figure a check reports: a number, words, a flag, or nothing.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// `12.5`.
    Number(f64),
    /// `"10MB/h"`.
    Text(String),
    /// `true`.
    Flag(bool),
    /// Anything else (a list, an object) is not shown.
    Other(serde::de::IgnoredAny),
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Number(n) => {
                // Round to what a person reads; integers stay integers.
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    write!(f, "{n:.0}")
                } else {
                    write!(f, "{}", (n * 1000.0).round() / 1000.0)
                }
            }
            Scalar::Text(s) => f.write_str(s),
            Scalar::Flag(b) => write!(f, "{b}"),
            Scalar::Other(_) => Ok(()),
        }
    }
}

/// `summary.json`: the soak's verdict (rows rendered generically: any row the soak adds shows).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// No row failed.
    pub ok: bool,
    /// Why the run ended.
    pub stopped_because: String,
    /// The run directory as the soak named it.
    pub run_dir: String,
    /// Early warnings seen during the run.
    pub early_warnings: Vec<String>,
    /// The Success Metrics rows.
    pub rows: Vec<VerdictRow>,
}

/// One row of the verdict.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VerdictRow {
    /// The metric.
    pub metric: String,
    /// Its threshold, in words.
    pub threshold: String,
    /// What was measured.
    pub value: String,
    /// `pass`, `fail` or `skip`.
    pub status: String,
    /// Where the figure comes from, or why it failed or was skipped.
    pub detail: String,
}

/// One health poll (`health.jsonl`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct HealthPoll {
    /// `sample`.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// When.
    pub timestamp_unix: Option<f64>,
    /// Answered 2xx.
    pub ok: bool,
    /// HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Time to answer, ms.
    pub latency_ms: Option<f64>,
    /// Why it failed.
    pub error: Option<String>,
}

/// An event or finding that may become a mark on the time axis: logscan's (`kind`, `severity`,
/// `text` or `message`), resanalyze's early findings, zombiereap's service start and exit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventLine {
    /// `event` or `finding`.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The tool that wrote it.
    pub tool: String,
    /// When.
    pub timestamp_unix: Option<f64>,
    /// logscan's pattern kind, or a finding's kind.
    #[serde(rename = "kind")]
    pub what: Option<String>,
    /// Event name (zombiereap's `start`, `target_exit`).
    pub event: Option<String>,
    /// `info`, `warning`, `error`, `critical`.
    pub severity: Option<String>,
    /// The log line.
    pub text: Option<String>,
    /// A finding's message.
    pub message: Option<String>,
    /// The log file the line is in.
    pub file: Option<String>,
    /// The log line's number.
    pub line: Option<u64>,
    /// zombiereap: the service's exit code.
    pub exit_code: Option<i64>,
    /// zombiereap: the signal that ended the service (a number) or was forwarded (a name).
    pub signal: Option<Signal>,
    /// zombiereap's start event: the service's command (its summary names its own subcommand).
    pub command: Option<Command>,
}

/// A signal as zombiereap writes it: a number when it ended the service, a name when forwarded.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Signal {
    /// `9`.
    Number(i64),
    /// `SIGTERM`.
    Name(String),
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signal::Number(n) => write!(f, "signal {n}"),
            Signal::Name(s) => f.write_str(s),
        }
    }
}

/// A `command` field: the service's argv (zombiereap's start event) or a subcommand's name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Command {
    /// `["python3", "bot.py"]`.
    Argv(Vec<String>),
    /// `run`.
    Name(String),
}

impl Command {
    /// The command as one line.
    pub fn line(&self) -> String {
        match self {
            Command::Argv(a) => a.join(" "),
            Command::Name(n) => n.clone(),
        }
    }
}

/// An order finding (`orders.jsonl`, orphan-cancel reconcile).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderFinding {
    /// `finding`.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// `orphan`, `ghost`, `still_open`, ...: the finding's `kind` (named `finding` in records
    /// written before issue 17, read for one release).
    #[serde(rename = "kind", alias = "finding")]
    pub finding: String,
    /// The exchange.
    pub exchange: String,
    /// The symbol.
    pub symbol: String,
    /// buy or sell.
    pub side: Option<String>,
    /// Quantity.
    pub qty: Option<String>,
    /// Price.
    pub price: Option<String>,
    /// The exchange's order id.
    pub order_id: String,
    /// The bot's client id.
    pub client_id: Option<String>,
    /// Age, s.
    pub age_s: Option<f64>,
    /// Why it is a finding.
    pub reason: String,
}

/// A zombie (`zombies.jsonl`, zombiereap scan).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ZombieFinding {
    /// `finding`.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// Its PID.
    pub pid: i64,
    /// Its name.
    pub name: String,
    /// Its parent's PID.
    pub ppid: i64,
    /// Its parent's name.
    pub parent_name: Option<String>,
    /// How long it has been a zombie, s.
    pub age_s: Option<f64>,
}

/// A vulnerable dependency (`deps.jsonl`, seccheck deps).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DepFinding {
    /// `finding`.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// `vulnerable_dependency`, `expired_ignore`, ...: the finding's `kind` (named `finding` in
    /// records written before issue 17, read for one release).
    #[serde(rename = "kind", alias = "finding")]
    pub finding: String,
    /// The advisory.
    pub id: String,
    /// The package.
    pub package: String,
    /// Its locked version.
    pub version: String,
    /// The lockfile.
    pub lockfile: String,
    /// critical, high, medium, low, unknown.
    pub severity: String,
    /// CVSS score.
    pub score: Option<f64>,
    /// Fixed versions.
    pub fixed: Vec<String>,
    /// The advisory's title.
    pub title: String,
    /// Ignored by `.seccheck.toml`.
    pub ignored: bool,
    /// Fails the gate.
    pub fails_gate: bool,
}

/// A leaked secret (`secrets.jsonl`, seccheck secrets): only its masked form is ever shown.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SecretFinding {
    /// `finding`.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The secret's shape.
    #[serde(rename = "kind")]
    pub shape: String,
    /// Where.
    pub file: String,
    /// Line.
    pub line: Option<u64>,
    /// Column.
    pub column: Option<u64>,
    /// The masked value seccheck printed.
    pub masked: String,
}

/// The artifact `name` in `dir`: the file itself, or its `.gz` once the soak compressed it.
/// Only regular files count (a symlink planted in the run directory is not followed).
pub fn artifact(dir: &Path, name: &str) -> Option<PathBuf> {
    [name.to_string(), format!("{name}.gz")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.is_file()))
}

/// Lines of one JSONL artifact that did not parse, by reason.
#[derive(Debug, Clone)]
pub struct Skipped {
    /// The file.
    pub file: String,
    /// Its skipped lines by reason.
    pub counts: SkipCounts,
}

/// Reads every record of `path` that has `T`'s shape, calling `each` on it; returns the skipped
/// lines (blank, not JSON, other shapes, truncated).
pub fn for_each<T: DeserializeOwned>(
    path: &Path,
    mut each: impl FnMut(T),
) -> Result<SkipCounts, ReportError> {
    let source = InputSource::File(path.to_path_buf());
    let mut reader = JsonlReader::open(&source).map_err(ReportError::Read)?;
    while let Some(rec) = reader.next_as::<T>().map_err(ReportError::Read)? {
        each(rec);
    }
    Ok(reader.skipped().clone())
}

/// Every record of `path` with `T`'s shape that `keep` accepts, and the skipped lines.
pub fn read_all<T: DeserializeOwned>(
    path: &Path,
    keep: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, SkipCounts), ReportError> {
    let mut out = Vec::new();
    let skipped = for_each(path, |r: T| {
        if keep(&r) {
            out.push(r);
        }
    })?;
    Ok((out, skipped))
}

/// A whole JSON document (`summary.json`, `resources.analysis.json`), compressed or not.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ReportError> {
    let source = InputSource::File(path.to_path_buf());
    let reader = source.open().map_err(ReportError::Read)?;
    serde_json::from_reader(reader).map_err(|e| ReportError::Json {
        path: path.to_path_buf(),
        error: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_dependency_findings_name_their_kind_in_kind_or_the_old_finding() {
        for line in [
            r#"{"type":"finding","tool":"orphan-cancel","kind":"orphan","severity":"high","message":"m","order_id":"o-1"}"#,
            r#"{"type":"finding","tool":"orphan-cancel","finding":"orphan","order_id":"o-1"}"#,
        ] {
            let f: OrderFinding = serde_json::from_str(line).expect(line);
            assert_eq!((f.kind, f.finding.as_str()), (Kind::Finding, "orphan"));
            assert_eq!(f.order_id, "o-1");
        }
        for line in [
            r#"{"type":"finding","tool":"seccheck","kind":"expired_ignore","severity":"high","message":"m","id":"X"}"#,
            r#"{"type":"finding","tool":"seccheck","finding":"expired_ignore","id":"X"}"#,
        ] {
            let f: DepFinding = serde_json::from_str(line).expect(line);
            assert_eq!((f.finding.as_str(), f.id.as_str()), ("expired_ignore", "X"));
        }
    }
}
