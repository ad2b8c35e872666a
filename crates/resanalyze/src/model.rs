//! The analysis document as types: what `--format json` prints, what `--write-analysis` writes
//! (`resources.analysis.json`) and what the `summary` record carries under `analysis`. Field
//! order and names are the JSON's; figures that can be missing are `Option`s written as `null`.
//!
//! Two blocks name their figures after their unit (`slope_mb_per_hour`, `min_percent`); they
//! keep the unit beside the numbers ([`Trend::unit`], [`SeriesStats::unit`]) and are written
//! and read with those names.
//!
//! ```
//! use resanalyze::model::Analysis;
//!
//! let text = std::fs::read_to_string(concat!(
//!     env!("CARGO_MANIFEST_DIR"),
//!     "/../../fixtures/resanalyze/golden/seed.analysis.json"
//! ))
//! .unwrap();
//! let analysis: Analysis = serde_json::from_str(&text).unwrap();
//! assert_eq!(analysis.leak.trend.verdict, "no_leak");
//! assert_eq!(serde_json::to_string_pretty(&analysis).unwrap() + "\n", text);
//! ```

use serde::de::{self, DeserializeOwned, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Number, Value};

/// The whole analysis of one recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Samples read.
    pub snapshot_count: u64,
    /// Span of the run, hours.
    pub duration_hours: f64,
    /// `elapsed_s` or `timestamp_unix`: the time axis the samples were placed on.
    pub time_axis: String,
    /// Host memory figures and the leak headline (the seed's block).
    pub memory: MemoryBlock,
    /// CPU figures, sustained spikes and level shifts.
    pub cpu: CpuBlock,
    /// Disk use, its growth and the watched paths' trend.
    pub disk: DiskBlock,
    /// The cgroup's limit, peak and OOM kills.
    pub cgroup: CgroupBlock,
    /// The seed's leak flag (the judged series' verdict is `leak`).
    pub memory_leak_detected: bool,
    /// The seed's growth figure: the judged slope, MB/h.
    pub memory_growth_mb_per_hour: Option<f64>,
    /// First, last and highest value of the judged memory series, MB.
    pub memory_stats: MemoryStats,
    /// Distribution of every recorded series.
    pub series: SeriesBlock,
    /// The memory leak verdict in full.
    pub leak: Leak,
    /// The fd count's trend (when recorded).
    pub fd_trend: Option<Trend>,
    /// The thread count's trend (when recorded).
    pub thread_trend: Option<Trend>,
    /// When memory and disk run out at the present rates.
    pub projections: Projections,
    /// Network rates and stalls.
    pub network: Network,
    /// The checks, in order; `ok` is their conjunction.
    pub checks: Vec<Check>,
    /// Lines skipped, by reason.
    pub skipped_lines: SkippedLines,
    /// Relative error bound of the quantiles in `series`.
    pub quantile_relative_error: f64,
    /// Every check passed.
    pub ok: bool,
    /// With `--baseline`: the metrics compared with the earlier run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_comparison: Option<Vec<BaselineRow>>,
}

impl Analysis {
    /// The checks that failed.
    pub fn failed_checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }

    /// The check named `name`.
    pub fn check(&self, name: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Adds a check, failing the analysis when it failed.
    pub fn push_check(&mut self, check: Check) {
        self.ok &= check.ok;
        self.checks.push(check);
    }
}

/// Host memory figures (`memory_used_mb`) and the leak headline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryBlock {
    /// Lowest `memory_used_mb`.
    pub min_mb: Option<f64>,
    /// Highest `memory_used_mb`.
    pub max_mb: Option<f64>,
    /// Mean `memory_used_mb`.
    pub avg_mb: Option<f64>,
    /// The judged slope, MB/h.
    pub leak_mb_per_hour: Option<f64>,
    /// The verdict is `leak`.
    pub leak_detected: bool,
    /// The series judged.
    pub series: String,
}

/// CPU figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuBlock {
    /// Lowest CPU percent.
    pub min_percent: Option<f64>,
    /// Highest CPU percent.
    pub max_percent: Option<f64>,
    /// Mean CPU percent.
    pub avg_percent: Option<f64>,
    /// `--cpu-threshold`.
    pub spike_threshold_percent: f64,
    /// Spikes above the threshold longer than `--cpu-window`.
    pub sustained_spikes: Episodes,
    /// Level shifts of the CPU mean.
    pub level_shifts: Vec<LevelShift>,
}

/// Disk figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskBlock {
    /// Lowest disk use, GB.
    pub min_gb: Option<f64>,
    /// Highest disk use, GB.
    pub max_gb: Option<f64>,
    /// Last minus first, GB.
    pub growth_gb: Option<f64>,
    /// Robust slope of the disk use, GB/h.
    pub growth_gb_per_hour: Option<f64>,
    /// Last size of the watched paths, GB.
    pub watched_gb: Option<f64>,
    /// Slope of the watched paths' size, GB/h.
    pub watched_growth_gb_per_hour: Option<f64>,
    /// The watched paths' trend (when recorded).
    pub watched_trend: Option<Trend>,
}

/// The cgroup's memory limit, peak and OOM kills.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CgroupBlock {
    /// The limit, MB.
    pub memory_limit_mb: Option<f64>,
    /// Highest percent of the limit used.
    pub peak_limit_percent: Option<f64>,
    /// When that peak was, s since the start.
    pub peak_at_s: Option<f64>,
    /// OOM kills counted in the cgroup (when its counter was recorded).
    pub oom_kills: Option<u64>,
    /// When the first OOM kill was, s since the start.
    pub first_oom_at_s: Option<f64>,
}

/// First, last and highest value of the judged memory series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryStats {
    /// First value, MB.
    pub rss_start_mb: Option<f64>,
    /// Last value, MB.
    pub rss_end_mb: Option<f64>,
    /// Highest value, MB.
    pub rss_max_mb: Option<f64>,
}

/// Distribution of each recorded series (`None`: not recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SeriesBlock {
    pub memory_used_mb: Option<SeriesStats>,
    pub memory_available_mb: Option<SeriesStats>,
    pub process_memory_mb: Option<SeriesStats>,
    pub tree_memory_mb: Option<SeriesStats>,
    pub cgroup_memory_mb: Option<SeriesStats>,
    pub cpu_percent: Option<SeriesStats>,
    pub process_cpu_percent: Option<SeriesStats>,
    pub threads: Option<SeriesStats>,
    pub fds: Option<SeriesStats>,
    pub disk_used_gb: Option<SeriesStats>,
    pub network_recv_bytes_per_s: Option<SeriesStats>,
    pub network_sent_bytes_per_s: Option<SeriesStats>,
}

/// The memory leak verdict: the judged series' [`Trend`] (unit `mb`) and the figures only
/// the memory verdict has, written among the trend's own (`slope_mb_per_hour`, ...,
/// `seed_ols_memory_used_mb_per_hour`, the window, ..., `plateau_mb`, `threshold_mb_per_hour`).
#[derive(Debug, Clone, PartialEq)]
pub struct Leak {
    /// The verdict on the judged series (`cgroup_memory_mb`, `tree_memory_mb`, ...).
    pub trend: Trend,
    /// The seed's least-squares slope of `memory_used_mb`, MB/h.
    pub seed_ols_memory_used_mb_per_hour: Option<f64>,
    /// Rise over the judged window, MB.
    pub growth_mb: Option<f64>,
    /// The rule that decided.
    pub decided_by: String,
    /// The rate a rise had to beat on the judged window, MB/h.
    pub effective_threshold_mb_per_hour: Option<f64>,
    /// Mean of the judged series over the last quarter of the run, MB.
    pub plateau_mb: Option<f64>,
}

/// A count's or size's trend verdict (fds, threads, watched paths); its rates are named after
/// `unit` in the JSON (`slope_fds_per_hour`).
#[derive(Debug, Clone, PartialEq)]
pub struct Trend {
    /// The unit in the rate names: `fds`, `threads`, `gb`.
    pub unit: String,
    /// The series judged.
    pub series: String,
    /// `leak`, `no_leak` or `insufficient_data`.
    pub verdict: String,
    /// `rising`, `flat`, `falling` or `unknown`.
    pub trend: String,
    /// The method, in words.
    pub method: String,
    /// Slope over the judged window, per hour.
    pub slope_per_hour: Option<f64>,
    /// Lower bound of its confidence interval.
    pub ci_low_per_hour: Option<f64>,
    /// Upper bound.
    pub ci_high_per_hour: Option<f64>,
    /// Confidence level of the interval.
    pub confidence: f64,
    /// Mann-Kendall p-value for a rise.
    pub p_value: Option<f64>,
    /// Least-squares slope, per hour.
    pub ols_per_hour: Option<f64>,
    /// Start of the judged window, s.
    pub window_start_s: Option<f64>,
    /// End of the judged window, s.
    pub window_end_s: Option<f64>,
    /// Why the window starts where it does.
    pub window_reason: String,
    /// `whole_series` or `cycle_floor`.
    pub basis: String,
    /// Period of the detected cycles, s.
    pub cycle_period_s: Option<f64>,
    /// Points the slope was fitted to.
    pub points_judged: u64,
    /// The threshold, per hour.
    pub threshold_per_hour: f64,
    /// The reason, in words.
    pub reason: String,
}

/// `{count, min, max, mean, stddev, p50, p95, p99}` of a series, named with `_unit` appended
/// (`min_mb`) unless the unit is empty.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub struct SeriesStats {
    /// The unit in the names: `mb`, `percent`, `gb` or empty.
    pub unit: String,
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub stddev: Option<f64>,
    pub p50: Option<f64>,
    pub p95: Option<f64>,
    pub p99: Option<f64>,
}

/// Projected exhaustion at the present rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projections {
    /// Host memory available at the end, MB.
    pub memory_available_mb: Option<f64>,
    /// Hours until memory runs out (the cgroup limit when there is one, else the host's).
    pub hours_until_memory_exhausted: Option<f64>,
    /// `cgroup_limit` or `host`.
    pub memory_exhausted_against: String,
    /// The cgroup limit, MB.
    pub memory_limit_mb: Option<f64>,
    /// Hours until the cgroup limit is reached.
    pub hours_until_memory_limit: Option<f64>,
    /// Hours until the host's available memory is used up.
    pub hours_until_host_memory_exhausted: Option<f64>,
    /// Disk free at the end, GB.
    pub disk_free_gb: Option<f64>,
    /// Hours until the disk is full at the filesystem's rate.
    pub hours_until_disk_full: Option<f64>,
    /// Hours until the disk is full at the watched paths' rate.
    pub hours_until_disk_full_watched: Option<f64>,
}

/// Network rates and stalls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// Mean receive rate, bytes/s.
    pub recv_bytes_per_s_avg: Option<f64>,
    /// Mean send rate, bytes/s.
    pub sent_bytes_per_s_avg: Option<f64>,
    /// Periods with nothing received for longer than `--net-stall`.
    pub stalls: Episodes,
}

/// Episodes (spikes, stalls): how many, and the first ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episodes {
    /// How many in all.
    pub count: u64,
    /// The episodes kept.
    pub episodes: Vec<Episode>,
}

/// One spike or stall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Episode {
    /// Start, s since the start of the run.
    pub start_s: Option<f64>,
    /// Start, hours.
    pub start_hours: Option<f64>,
    /// Length, s.
    pub duration_s: Option<f64>,
    /// A spike's peak, percent (absent for a stall).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub peak_percent: Option<Option<f64>>,
}

/// A CPU level shift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct LevelShift {
    pub start_s: f64,
    pub start_hours: f64,
    pub duration_s: f64,
    pub from_percent: f64,
    pub to_percent: f64,
}

/// One check: its verdict, the value measured against the threshold, and (for some) the
/// figures behind it. A check's extra fields are absent when it has none of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// `memory_growth`, `fd_growth`, `cpu_average`, `memory_limit`, `duration`, ...
    pub name: String,
    /// Passed.
    pub ok: bool,
    /// `pass` or `fail`.
    pub status: String,
    /// The value measured.
    pub value: Option<Number>,
    /// The threshold it was held to.
    pub threshold: Option<Number>,
    /// What was found, in words.
    pub detail: String,
    /// The value's unit (`MB/h`, `percent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// `memory_growth`: the judged method in one word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `memory_growth`: `whole_series` or `cycle_floor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// `memory_growth`: the rule that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    /// `memory_growth`: start of the judged window, s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub window_start_s: Option<Option<f64>>,
    /// `memory_growth`: end of the judged window, s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub window_end_s: Option<Option<f64>>,
    /// `memory_growth`: why the window starts where it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_reason: Option<String>,
    /// `memory_growth`: rise over the window, MB.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub growth_mb: Option<Option<f64>>,
    /// `memory_growth`: `--leak-threshold`, MB/h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leak_threshold_mb_per_hour: Option<f64>,
    /// `memory_growth`: `--min-growth`, MB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise_floor_mb: Option<f64>,
    /// `memory_growth`: period of the detected cycles, s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub cycle_period_s: Option<Option<f64>>,
    /// `memory_growth`: the series judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// `memory_limit`: the cgroup's limit, MB.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub limit_mb: Option<Option<f64>>,
    /// `memory_limit`: when the peak was, s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub at_s: Option<Option<f64>>,
    /// `oom_kills`: when the first kill was, s.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "present"
    )]
    pub first_at_s: Option<Option<f64>>,
}

impl Check {
    /// A check without extra fields; `status` follows `ok`.
    pub fn new(
        name: &str,
        ok: bool,
        value: Option<Number>,
        threshold: Option<Number>,
        detail: String,
    ) -> Self {
        Check {
            name: name.to_string(),
            ok,
            status: if ok { "pass" } else { "fail" }.to_string(),
            value,
            threshold,
            detail,
            unit: None,
            method: None,
            basis: None,
            decided_by: None,
            window_start_s: None,
            window_end_s: None,
            window_reason: None,
            growth_mb: None,
            leak_threshold_mb_per_hour: None,
            noise_floor_mb: None,
            cycle_period_s: None,
            series: None,
            limit_mb: None,
            at_s: None,
            first_at_s: None,
        }
    }

    /// The value as a float.
    pub fn value_f64(&self) -> Option<f64> {
        self.value.as_ref().and_then(Number::as_f64)
    }

    /// The threshold as a float.
    pub fn threshold_f64(&self) -> Option<f64> {
        self.threshold.as_ref().and_then(Number::as_f64)
    }
}

/// A JSON number of a float (`None`, written `null`, when it is not finite).
pub fn number(x: Option<f64>) -> Option<Number> {
    x.and_then(Number::from_f64)
}

/// One metric compared with the `--baseline` run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineRow {
    /// `rss_plateau_mb`, `rss_max_mb`, `cpu_avg_percent`, `disk_growth_gb_per_hour`.
    pub metric: String,
    /// The earlier run's value.
    pub baseline: f64,
    /// This run's value.
    pub current: f64,
    /// The change, percent of the baseline (none from a zero baseline).
    pub change_percent: Option<f64>,
    /// `--regression`, percent.
    pub allowed_percent: f64,
    /// The value rose beyond the allowance.
    pub regression: bool,
}

/// Lines skipped, by reason, in the order they were counted (core's reasons, then
/// `line_too_long`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkippedLines(pub Vec<(String, u64)>);

impl SkippedLines {
    /// Lines skipped in all.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|(_, n)| n).sum()
    }
}

impl Serialize for SkippedLines {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for SkippedLines {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Counts;
        impl<'de> Visitor<'de> for Counts {
            type Value = SkippedLines;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of skip reasons to counts")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, u64>()? {
                    out.push((k, v));
                }
                Ok(SkippedLines(out))
            }
        }
        d.deserialize_map(Counts)
    }
}

/// Reads a field that, when present, may be `null`: `Some(None)` for `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `name` with `_unit` appended, unless the unit is empty.
fn with_unit(name: &str, unit: &str) -> String {
    if unit.is_empty() {
        name.to_string()
    } else {
        format!("{name}_{unit}")
    }
}

/// Takes `key` out of `m` as a `T` (missing is `null`).
fn take<T: DeserializeOwned, E: de::Error>(m: &mut Map<String, Value>, key: &str) -> Result<T, E> {
    let v = m.remove(key).unwrap_or(Value::Null);
    serde_json::from_value(v).map_err(|e| E::custom(format!("{key}: {e}")))
}

/// The unit of a block whose rate names read `PREFIX{unit}SUFFIX`, found from the first key
/// that has the prefix and the suffix.
fn unit_of(m: &Map<String, Value>, prefix: &str, suffix: &str) -> Option<String> {
    m.keys().find_map(|k| {
        k.strip_prefix(prefix)
            .and_then(|rest| rest.strip_suffix(suffix))
            .map(str::to_string)
    })
}

impl Trend {
    fn rate(&self, name: &str) -> String {
        format!("{name}_{}_per_hour", self.unit)
    }

    /// `series` to the least-squares slope.
    fn write_head<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("series", &self.series)?;
        m.serialize_entry("verdict", &self.verdict)?;
        m.serialize_entry("trend", &self.trend)?;
        m.serialize_entry("method", &self.method)?;
        m.serialize_entry(&self.rate("slope"), &self.slope_per_hour)?;
        m.serialize_entry(&self.rate("ci_low"), &self.ci_low_per_hour)?;
        m.serialize_entry(&self.rate("ci_high"), &self.ci_high_per_hour)?;
        m.serialize_entry("confidence", &self.confidence)?;
        m.serialize_entry("p_value", &self.p_value)?;
        m.serialize_entry(&self.rate("ols"), &self.ols_per_hour)
    }

    /// The judged window to the points judged.
    fn write_window<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry("window_start_s", &self.window_start_s)?;
        m.serialize_entry("window_end_s", &self.window_end_s)?;
        m.serialize_entry("window_reason", &self.window_reason)?;
        m.serialize_entry("basis", &self.basis)?;
        m.serialize_entry("cycle_period_s", &self.cycle_period_s)?;
        m.serialize_entry("points_judged", &self.points_judged)
    }

    /// The threshold and the reason.
    fn write_tail<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        m.serialize_entry(&self.rate("threshold"), &self.threshold_per_hour)?;
        m.serialize_entry("reason", &self.reason)
    }

    /// Reads a trend's fields out of `m` (the rest is left there).
    fn take_from<E: de::Error>(m: &mut Map<String, Value>) -> Result<Self, E> {
        let unit = unit_of(m, "slope_", "_per_hour")
            .ok_or_else(|| E::missing_field("slope_UNIT_per_hour"))?;
        let rate = |name: &str| format!("{name}_{unit}_per_hour");
        Ok(Trend {
            series: take(m, "series")?,
            verdict: take(m, "verdict")?,
            trend: take(m, "trend")?,
            method: take(m, "method")?,
            slope_per_hour: take(m, &rate("slope"))?,
            ci_low_per_hour: take(m, &rate("ci_low"))?,
            ci_high_per_hour: take(m, &rate("ci_high"))?,
            confidence: take(m, "confidence")?,
            p_value: take(m, "p_value")?,
            ols_per_hour: take(m, &rate("ols"))?,
            window_start_s: take(m, "window_start_s")?,
            window_end_s: take(m, "window_end_s")?,
            window_reason: take(m, "window_reason")?,
            basis: take(m, "basis")?,
            cycle_period_s: take(m, "cycle_period_s")?,
            points_judged: take(m, "points_judged")?,
            threshold_per_hour: take(m, &rate("threshold"))?,
            reason: take(m, "reason")?,
            unit,
        })
    }
}

impl Serialize for Trend {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(18))?;
        self.write_head(&mut m)?;
        self.write_window(&mut m)?;
        self.write_tail(&mut m)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Trend {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Trend::take_from(&mut Map::<String, Value>::deserialize(d)?)
    }
}

impl Serialize for Leak {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(23))?;
        self.trend.write_head(&mut m)?;
        m.serialize_entry(
            "seed_ols_memory_used_mb_per_hour",
            &self.seed_ols_memory_used_mb_per_hour,
        )?;
        self.trend.write_window(&mut m)?;
        m.serialize_entry("growth_mb", &self.growth_mb)?;
        m.serialize_entry("decided_by", &self.decided_by)?;
        m.serialize_entry(
            "effective_threshold_mb_per_hour",
            &self.effective_threshold_mb_per_hour,
        )?;
        m.serialize_entry("plateau_mb", &self.plateau_mb)?;
        self.trend.write_tail(&mut m)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for Leak {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut m = Map::<String, Value>::deserialize(d)?;
        Ok(Leak {
            seed_ols_memory_used_mb_per_hour: take(&mut m, "seed_ols_memory_used_mb_per_hour")?,
            growth_mb: take(&mut m, "growth_mb")?,
            decided_by: take(&mut m, "decided_by")?,
            effective_threshold_mb_per_hour: take(&mut m, "effective_threshold_mb_per_hour")?,
            plateau_mb: take(&mut m, "plateau_mb")?,
            trend: Trend::take_from(&mut m)?,
        })
    }
}

impl Serialize for SeriesStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let k = |name: &str| with_unit(name, &self.unit);
        let mut m = s.serialize_map(Some(8))?;
        m.serialize_entry("count", &self.count)?;
        m.serialize_entry(&k("min"), &self.min)?;
        m.serialize_entry(&k("max"), &self.max)?;
        m.serialize_entry(&k("mean"), &self.mean)?;
        m.serialize_entry(&k("stddev"), &self.stddev)?;
        m.serialize_entry(&k("p50"), &self.p50)?;
        m.serialize_entry(&k("p95"), &self.p95)?;
        m.serialize_entry(&k("p99"), &self.p99)?;
        m.end()
    }
}

impl<'de> Deserialize<'de> for SeriesStats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut m = Map::<String, Value>::deserialize(d)?;
        let unit = if m.contains_key("min") {
            String::new()
        } else {
            unit_of(&m, "min_", "").ok_or_else(|| de::Error::missing_field("min"))?
        };
        let k = |name: &str| with_unit(name, &unit);
        Ok(SeriesStats {
            count: take(&mut m, "count")?,
            min: take(&mut m, &k("min"))?,
            max: take(&mut m, &k("max"))?,
            mean: take(&mut m, &k("mean"))?,
            stddev: take(&mut m, &k("stddev"))?,
            p50: take(&mut m, &k("p50"))?,
            p95: take(&mut m, &k("p95"))?,
            p99: take(&mut m, &k("p99"))?,
            unit,
        })
    }
}
