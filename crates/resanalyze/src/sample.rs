//! The fields of a resmon sample that resanalyze reads (typed, everything optional so the
//! seed's own recordings, which lack the contract's additions, analyse too).

use std::borrow::Cow;

use serde::Deserialize;

/// One JSONL line as far as resanalyze cares; unknown fields are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct RawSample {
    /// Record type (`sample`); the seed's recordings have none.
    #[serde(rename = "type")]
    pub kind: Option<Cow<'static, str>>,
    /// Writing tool (`resmon`); the seed's recordings have none.
    pub tool: Option<Cow<'static, str>>,
    /// Monotonic seconds since resmon started.
    pub elapsed_s: Option<f64>,
    /// Wall-clock time.
    pub timestamp_unix: Option<f64>,
    /// System CPU percent.
    pub cpu_percent: Option<f64>,
    /// System memory used, MB.
    pub memory_used_mb: Option<f64>,
    /// System memory available, MB.
    pub memory_available_mb: Option<f64>,
    /// Disk used, GB.
    pub disk_used_gb: Option<f64>,
    /// Disk free, GB.
    pub disk_free_gb: Option<f64>,
    /// Cumulative bytes sent.
    pub network_bytes_sent: Option<f64>,
    /// Cumulative bytes received.
    pub network_bytes_recv: Option<f64>,
    /// Target process CPU percent.
    pub process_cpu_percent: Option<f64>,
    /// Target process RSS, MB.
    pub process_memory_mb: Option<f64>,
    /// Target process threads.
    pub process_threads: Option<f64>,
    /// Target process open fds.
    pub process_fds: Option<f64>,
    /// RSS summed over the target's tree, MB.
    pub tree_memory_mb: Option<f64>,
    /// Threads summed over the tree.
    pub tree_threads: Option<f64>,
    /// Open fds summed over the tree.
    pub tree_fds: Option<f64>,
}

impl RawSample {
    /// Whether this record is a sample (seed recordings have no `type`, and count as samples).
    pub fn is_sample(&self) -> bool {
        self.kind.as_deref().is_none_or(|k| k == "sample")
    }

    /// Whether it was written by resmon (or by the seed, which names no tool).
    pub fn from_monitor(&self) -> bool {
        self.tool.as_deref().is_none_or(|t| t == "resmon")
    }
}
