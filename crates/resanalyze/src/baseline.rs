//! `--baseline OLD.jsonl --regression 10%`: compares this run with an earlier one metric by
//! metric (RSS plateau, average CPU, disk growth rate) and flags increases beyond the allowed
//! fraction. A tiny absolute floor keeps a near-zero baseline from flagging noise.

use serde_json::{Value, json};

use crate::stats::round3;

/// (metric, JSON pointer into the analysis, absolute floor).
const METRICS: [(&str, &str, f64); 4] = [
    ("rss_plateau_mb", "/leak/plateau_mb", 1.0),
    ("rss_max_mb", "/memory_stats/rss_max_mb", 1.0),
    ("cpu_avg_percent", "/cpu/avg_percent", 1.0),
    ("disk_growth_gb_per_hour", "/disk/growth_gb_per_hour", 0.001),
];

/// The comparison rows; a row regresses when current > baseline × (1 + `allowed`) + floor.
pub fn compare(current: &Value, baseline: &Value, allowed: f64) -> Vec<Value> {
    METRICS
        .iter()
        .filter_map(|(name, ptr, floor)| {
            let cur = current.pointer(ptr)?.as_f64()?;
            let base = baseline.pointer(ptr)?.as_f64()?;
            let change = if base.abs() > f64::EPSILON {
                Some(round3(100.0 * (cur - base) / base.abs()))
            } else {
                None
            };
            let regression = cur > base + base.abs() * allowed + floor;
            Some(json!({
                "metric": name,
                "baseline": round3(base),
                "current": round3(cur),
                "change_percent": change,
                "allowed_percent": round3(allowed * 100.0),
                "regression": regression,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_only_increases_beyond_the_allowance() {
        let base = json!({"leak": {"plateau_mb": 100.0}, "cpu": {"avg_percent": 20.0}, "disk": {"growth_gb_per_hour": 0.0}});
        let cur = json!({"leak": {"plateau_mb": 125.0}, "cpu": {"avg_percent": 21.0}, "disk": {"growth_gb_per_hour": 0.0005}});
        let rows = compare(&cur, &base, 0.10);
        let flagged: Vec<&str> = rows
            .iter()
            .filter(|r| r["regression"] == true)
            .filter_map(|r| r["metric"].as_str())
            .collect();
        assert_eq!(flagged, ["rss_plateau_mb"]);
        assert_eq!(rows[0]["change_percent"], 25.0);
    }
}
