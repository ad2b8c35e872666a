//! `--baseline OLD.jsonl --regression 10%`: compares this run with an earlier one metric by
//! metric (RSS plateau, average CPU, disk growth rate) and flags increases beyond the allowed
//! fraction. A tiny absolute floor keeps a near-zero baseline from flagging noise.

use crate::model::{Analysis, BaselineRow, Check, number};
use crate::stats::round3;

/// A compared figure of an analysis.
type Figure = fn(&Analysis) -> Option<f64>;

/// (metric, where it is in the analysis, absolute floor).
const METRICS: [(&str, Figure, f64); 4] = [
    ("rss_plateau_mb", |a| a.leak.plateau_mb, 1.0),
    ("rss_max_mb", |a| a.memory_stats.rss_max_mb, 1.0),
    ("cpu_avg_percent", |a| a.cpu.avg_percent, 1.0),
    (
        "disk_growth_gb_per_hour",
        |a| a.disk.growth_gb_per_hour,
        0.001,
    ),
];

/// The comparison rows; a row regresses when current > baseline × (1 + `allowed`) + floor.
pub fn compare(current: &Analysis, baseline: &Analysis, allowed: f64) -> Vec<BaselineRow> {
    METRICS
        .iter()
        .filter_map(|(name, figure, floor)| {
            let cur = figure(current)?;
            let base = figure(baseline)?;
            let change = if base.abs() > f64::EPSILON {
                Some(round3(100.0 * (cur - base) / base.abs()))
            } else {
                None
            };
            Some(BaselineRow {
                metric: name.to_string(),
                baseline: round3(base),
                current: round3(cur),
                change_percent: change,
                allowed_percent: round3(allowed * 100.0),
                regression: cur > base + base.abs() * allowed + floor,
            })
        })
        .collect()
}

/// Adds the comparison with `baseline` to `current`: its rows, and a `baseline_regression`
/// check that fails when a metric regressed (`regression`: the allowed increase, percent).
pub fn apply(current: &mut Analysis, baseline: &Analysis, regression: f64) {
    let rows = compare(current, baseline, regression / 100.0);
    let bad: Vec<&str> = rows
        .iter()
        .filter(|r| r.regression)
        .map(|r| r.metric.as_str())
        .collect();
    let check = Check::new(
        "baseline_regression",
        bad.is_empty(),
        Some(bad.len().into()),
        number(Some(regression)),
        if bad.is_empty() {
            "no regression against the baseline".to_string()
        } else {
            format!("regressed: {}", bad.join(", "))
        },
    );
    current.push_check(check);
    current.baseline_comparison = Some(rows);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed recording's analysis, with the compared figures set.
    fn analysis(plateau: f64, cpu: f64, disk: f64) -> Analysis {
        let text = include_str!("../../../fixtures/resanalyze/golden/seed.analysis.json");
        let mut a: Analysis = serde_json::from_str(text).expect("golden analysis");
        a.leak.plateau_mb = Some(plateau);
        a.memory_stats.rss_max_mb = None;
        a.cpu.avg_percent = Some(cpu);
        a.disk.growth_gb_per_hour = Some(disk);
        a
    }

    #[test]
    fn flags_only_increases_beyond_the_allowance() {
        let base = analysis(100.0, 20.0, 0.0);
        let cur = analysis(125.0, 21.0, 0.0005);
        let rows = compare(&cur, &base, 0.10);
        let flagged: Vec<&str> = rows
            .iter()
            .filter(|r| r.regression)
            .map(|r| r.metric.as_str())
            .collect();
        assert_eq!(flagged, ["rss_plateau_mb"]);
        assert_eq!(rows[0].change_percent, Some(25.0));
        assert_eq!(
            rows.len(),
            3,
            "a figure missing on either side is not compared"
        );

        let mut judged = cur.clone();
        let was_ok = judged.ok;
        apply(&mut judged, &base, 10.0);
        let check = judged.check("baseline_regression").expect("check");
        assert!(!check.ok && check.detail == "regressed: rss_plateau_mb");
        assert!(!judged.ok && was_ok == cur.ok);
    }
}
