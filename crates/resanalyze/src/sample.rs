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
    /// The cgroup's memory in use (usage − inactive file cache), MB.
    pub cgroup_memory_mb: Option<f64>,
    /// The cgroup's memory limit, MB (`null` when unlimited).
    pub cgroup_memory_limit_mb: Option<f64>,
    /// OOM kills in the cgroup so far (the kernel's counter).
    pub cgroup_oom_kills: Option<f64>,
    /// Bytes of the paths resmon watches (`--watch-path`): the sum of every
    /// `watch_<slug>_bytes` field. What the service itself writes to disk, unlike the
    /// filesystem's `disk_used_gb`, which other processes move too.
    #[serde(flatten)]
    pub watched: WatchedBytes,
}

/// The sum of a sample's `watch_<slug>_bytes` fields (`None` when it has none).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WatchedBytes(pub Option<f64>);

/// Whether `key` names one of resmon's watched-path sizes.
pub fn is_watched_bytes_key(key: &[u8]) -> bool {
    key.len() > "watch__bytes".len() && key.starts_with(b"watch_") && key.ends_with(b"_bytes")
}

impl WatchedBytes {
    /// Adds one path's size.
    pub fn add(&mut self, bytes: f64) {
        self.0 = Some(self.0.unwrap_or(0.0) + bytes);
    }
}

impl<'de> Deserialize<'de> for WatchedBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = WatchedBytes;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sample's fields")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                let mut sum = WatchedBytes::default();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    if is_watched_bytes_key(key.as_bytes()) {
                        // A path resmon could not measure this time is null: not counted.
                        if let Some(v) = map.next_value::<Option<f64>>()? {
                            sum.add(v);
                        }
                    } else {
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(sum)
            }
        }
        d.deserialize_map(Visitor)
    }
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
