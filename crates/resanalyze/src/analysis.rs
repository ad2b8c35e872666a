//! From an [`Accumulator`] to the analysis document: the seed `001` and `000` shapes, the
//! richer per-series blocks, the trend verdicts, projections, CPU/disk/network findings and
//! the checks.

use crate::accumulate::{Accumulator, Episode};
use crate::model::{
    Analysis, CgroupBlock, Check, CpuBlock, DiskBlock, Episodes, Leak, LevelShift, MemoryBlock,
    MemoryStats, Network, Projections, SeriesBlock, SkippedLines, Trend, number,
};
use crate::stats::round3;
use crate::timeline::{Channel, Point, thin};
use crate::trend::{TrendConfig, TrendVerdict, judge, ols, theil_sen};

/// Thresholds of the analysis (every one a flag).
#[derive(Debug, Clone, Copy)]
pub struct AnalysisConfig {
    /// Memory trend settings (threshold in MB/h).
    pub memory: TrendConfig,
    /// Fd trend threshold, fds/h.
    pub fd_threshold_per_hour: f64,
    /// Thread trend threshold, threads/h.
    pub thread_threshold_per_hour: f64,
    /// Check: average CPU below this percent.
    pub max_cpu_avg: f64,
    /// Check: disk growth below this many GB.
    pub max_disk_growth_gb: f64,
    /// Check: run at least this long, s.
    pub min_duration_s: f64,
    /// Smallest CPU level shift reported, percentage points.
    pub level_shift_min: f64,
    /// CPU percent that counts as a spike (reported, and drawn in plots).
    pub cpu_threshold: f64,
    /// Check: the cgroup's memory stays below this percent of its limit.
    pub max_limit_percent: f64,
}

/// Which memory series the leak verdict judged.
pub fn judged_memory(acc: &Accumulator) -> (Channel, &'static str) {
    // The cgroup is what the kernel (and its OOM killer) counts: it is judged when recorded.
    if acc.cgroup_memory.count() > 0 {
        (Channel::CgroupMemory, "cgroup_memory_mb")
    } else if acc.tree_memory.count() > 0 {
        (Channel::TreeMemory, "tree_memory_mb")
    } else if acc.process_memory.count() > 0 {
        (Channel::ProcessMemory, "process_memory_mb")
    } else {
        (Channel::MemoryUsed, "memory_used_mb")
    }
}

/// A figure for the document: rounded to 3 decimals, `None` (null) when missing or not finite.
fn r(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite()).map(round3)
}

fn trend(v: &TrendVerdict, unit: &str, series: &str) -> Trend {
    Trend {
        unit: unit.to_string(),
        series: series.to_string(),
        verdict: v.verdict.clone(),
        trend: v.trend.clone(),
        method: v.method.clone(),
        slope_per_hour: r(v.slope_per_hour),
        ci_low_per_hour: r(v.ci_low_per_hour),
        ci_high_per_hour: r(v.ci_high_per_hour),
        confidence: v.confidence,
        p_value: v.p_value,
        ols_per_hour: r(v.ols_per_hour),
        window_start_s: r(v.window_start_s),
        window_end_s: r(v.window_end_s),
        window_reason: v.window_reason.clone(),
        basis: v.basis.clone(),
        cycle_period_s: r(v.cycle_period_s),
        points_judged: v.points_judged as u64,
        threshold_per_hour: v.threshold_per_hour,
        reason: v.reason.clone(),
    }
}

fn episodes(list: &[Episode], total: u64, with_peak: bool) -> Episodes {
    Episodes {
        count: total,
        episodes: list
            .iter()
            .map(|e| crate::model::Episode {
                start_s: r(Some(e.start_s)),
                start_hours: r(Some(e.start_s / 3600.0)),
                duration_s: r(Some(e.duration_s)),
                peak_percent: with_peak.then(|| r(Some(e.peak))),
            })
            .collect(),
    }
}

/// CPU level shifts by binary segmentation of the bucket means: a split is kept when the mean
/// changes by at least `min_shift` points and each side holds 5 % of the points.
pub fn level_shifts(points: &[Point], min_shift: f64) -> Vec<LevelShift> {
    let pts = thin(points, 2000);
    let mut cuts = vec![0, pts.len()];
    let min_len = (pts.len() / 20).max(3);
    for _ in 0..6 {
        let mut added = false;
        let mut next = cuts.clone();
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b - a < 2 * min_len {
                continue;
            }
            let seg = &pts[a..b];
            let total: f64 = seg.iter().map(|p| p.y).sum();
            let mut left = 0.0;
            let mut best: Option<(usize, f64)> = None;
            for (i, p) in seg.iter().enumerate().take(seg.len() - min_len) {
                left += p.y;
                let k = i + 1;
                if k < min_len {
                    continue;
                }
                let ml = left / k as f64;
                let mr = (total - left) / (seg.len() - k) as f64;
                let score = (ml - mr).abs() * ((k * (seg.len() - k)) as f64).sqrt();
                if (ml - mr).abs() >= min_shift && best.is_none_or(|(_, s)| score > s) {
                    best = Some((a + k, score));
                }
            }
            if let Some((k, _)) = best {
                next.push(k);
                added = true;
            }
        }
        next.sort_unstable();
        next.dedup();
        cuts = next;
        if !added {
            break;
        }
    }
    let mean = |a: usize, b: usize| pts[a..b].iter().map(|p| p.y).sum::<f64>() / (b - a) as f64;
    let end_t = pts.last().map_or(0.0, |p| p.t);
    let mut out = Vec::new();
    for w in cuts.windows(3) {
        let (a, k, b) = (w[0], w[1], w[2]);
        let next_end = cuts.iter().find(|&&c| c > k).copied().unwrap_or(b);
        let end = if next_end < pts.len() {
            pts[next_end].t
        } else {
            end_t
        };
        out.push(LevelShift {
            start_s: round3(pts[k].t),
            start_hours: round3(pts[k].t / 3600.0),
            duration_s: round3(end - pts[k].t),
            from_percent: round3(mean(a, k)),
            to_percent: round3(mean(k, b)),
        });
    }
    out
}

/// One check row of float figures.
fn check(name: &str, ok: bool, value: Option<f64>, threshold: f64, detail: String) -> Check {
    Check::new(name, ok, number(r(value)), number(Some(threshold)), detail)
}

/// The `memory_growth` check: `value` is the slope the verdict judged (on the cycle floors when
/// the series cycles, over the change point's window when one split it), `threshold` the rate it
/// had to beat on that window (the `--leak-threshold`, or more when the window is so short that
/// the threshold's rise would stay under the `--min-growth` noise floor), and the window and
/// method are named, so a row showing `value` against `threshold` agrees with `ok`.
fn memory_check(v: &TrendVerdict, series: &str, min_growth_mb: f64) -> Check {
    Check {
        unit: Some("MB/h".into()),
        method: Some(v.method_short().into()),
        basis: Some(v.basis.clone()),
        decided_by: Some(v.decided_by.clone()),
        window_start_s: Some(r(v.window_start_s)),
        window_end_s: Some(r(v.window_end_s)),
        window_reason: Some(v.window_reason.clone()),
        growth_mb: Some(r(v.growth)),
        leak_threshold_mb_per_hour: Some(v.threshold_per_hour),
        noise_floor_mb: Some(min_growth_mb),
        cycle_period_s: Some(r(v.cycle_period_s)),
        series: Some(series.to_string()),
        ..Check::new(
            "memory_growth",
            v.verdict != "leak",
            number(r(v.slope_per_hour)),
            number(Some(round3(v.effective_threshold_per_hour))),
            // The deciding rule first: a slope above the threshold that passes because it is
            // not significant says so before its figures.
            format!(
                "{} ({}) on {series}: {}",
                v.verdict,
                v.decided_by.replace('_', " "),
                v.reason
            ),
        )
    }
}

/// Skipped lines by reason, with `line_too_long` (resanalyze's own reason) after core's.
fn skipped_lines(acc: &Accumulator) -> SkippedLines {
    // Core's counts write themselves as a map of reason to count, in its reasons' order.
    let mut counts: Vec<(String, u64)> = match serde_json::to_value(&acc.skipped) {
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .map(|(reason, n)| (reason, n.as_u64().unwrap_or(0)))
            .collect(),
        _ => Vec::new(),
    };
    counts.push(("line_too_long".into(), acc.lines_too_long));
    SkippedLines(counts)
}

/// Builds the analysis document.
pub fn analyze(acc: &Accumulator, cfg: &AnalysisConfig) -> Analysis {
    let span = acc.span_s();
    let hours = span / 3600.0;
    let tl = &acc.timeline;
    let (mem_ch, mem_name) = judged_memory(acc);
    let mem_stats = match mem_ch {
        Channel::CgroupMemory => &acc.cgroup_memory,
        Channel::TreeMemory => &acc.tree_memory,
        Channel::ProcessMemory => &acc.process_memory,
        _ => &acc.memory_used,
    };
    let mem_samples = mem_stats.count();
    let mem_v = judge(&tl.points(mem_ch), mem_samples, span, &cfg.memory);
    let sub = |threshold: f64| TrendConfig {
        threshold_per_hour: threshold,
        // Fds and threads are counted one by one: any significant rise counts.
        min_growth: 0.0,
        ..cfg.memory
    };
    let fd_v = acc.fds.count().gt(&0).then(|| {
        judge(
            &tl.points(Channel::Fds),
            acc.fds.count(),
            span,
            &sub(cfg.fd_threshold_per_hour),
        )
    });
    let th_v = acc.threads.count().gt(&0).then(|| {
        judge(
            &tl.points(Channel::Threads),
            acc.threads.count(),
            span,
            &sub(cfg.thread_threshold_per_hour),
        )
    });
    let leak = mem_v.verdict == "leak";
    // The level memory settled at: mean of the judged series over the last quarter of the run.
    let mem_pts = tl.points(mem_ch);
    let cut = mem_pts.last().map_or(0.0, |p| p.t) * 0.75;
    let tail: Vec<f64> = mem_pts.iter().filter(|p| p.t >= cut).map(|p| p.y).collect();
    let plateau = (!tail.is_empty()).then(|| tail.iter().sum::<f64>() / tail.len() as f64);
    let slope = mem_v.slope_per_hour;

    // Disk growth rate (robust slope of disk_used_gb).
    let disk_pts = thin(&tl.points(Channel::DiskUsed), 600);
    let disk_rate = theil_sen(&disk_pts, 0.05).map(|(b, ..)| b * 3600.0);
    let disk_growth = match (acc.disk_used.first(), acc.disk_used.last()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let hours_to_disk_full = match (disk_rate, acc.disk_free.last()) {
        (Some(rate), Some(free)) if rate > 0.0 => Some(free / rate),
        _ => None,
    };
    // Projected only on a significant rise: a noisy slope of a few samples is no forecast.
    let mem_rate = slope.filter(|s| *s > 0.0 && mem_v.trend == "rising");
    // What the service writes to disk: the paths resmon watches, not the whole filesystem
    // (which other processes fill and empty too). The same trend test (so a rotated log's
    // sawtooth is judged on its floor), any significant rise counts.
    let watched_v = acc.watched.count().gt(&0).then(|| {
        judge(
            &tl.points(Channel::Watched),
            acc.watched.count(),
            span,
            &TrendConfig {
                threshold_per_hour: 0.0,
                min_growth: 0.0,
                ..cfg.memory
            },
        )
    });
    let watched_rate = watched_v
        .as_ref()
        .filter(|v| v.trend == "rising")
        .and_then(|v| v.slope_per_hour);
    let hours_to_disk_full_watched = match (watched_rate, acc.disk_free.last()) {
        (Some(rate), Some(free)) if rate > 0.0 => Some(free / rate),
        _ => None,
    };
    let hours_to_host_oom = match (mem_rate, acc.memory_available.last()) {
        (Some(rate), Some(avail)) => Some(avail / rate),
        _ => None,
    };
    // Under a cgroup limit the limit is what runs out (a 2 GB container on a 24 GB host).
    let limit = acc
        .cgroup_limit_mb
        .filter(|_| mem_ch == Channel::CgroupMemory);
    let hours_to_limit = match (mem_rate, limit, acc.cgroup_memory.last()) {
        (Some(rate), Some(l), Some(now)) => Some((l - now).max(0.0) / rate),
        _ => None,
    };
    let hours_to_oom = if limit.is_some() {
        hours_to_limit
    } else {
        hours_to_host_oom
    };
    let seed_ols = ols(&tl.points(Channel::MemoryUsed)).map(|(b, _)| b * 3600.0);

    let mut checks = vec![memory_check(&mem_v, mem_name, cfg.memory.min_growth)];
    if let Some(v) = &fd_v {
        checks.push(check(
            "fd_growth",
            v.verdict != "leak",
            v.slope_per_hour,
            v.threshold_per_hour,
            v.reason.clone(),
        ));
    }
    if let Some(v) = &th_v {
        checks.push(check(
            "thread_growth",
            v.verdict != "leak",
            v.slope_per_hour,
            v.threshold_per_hour,
            v.reason.clone(),
        ));
    }
    if let Some(avg) = acc.cpu.mean() {
        checks.push(check(
            "cpu_average",
            avg < cfg.max_cpu_avg,
            Some(avg),
            cfg.max_cpu_avg,
            format!("average CPU {avg:.1} %"),
        ));
    }
    if let Some(g) = disk_growth {
        checks.push(check(
            "disk_growth",
            g < cfg.max_disk_growth_gb,
            Some(g),
            cfg.max_disk_growth_gb,
            format!("disk grew {g:.3} GB"),
        ));
    }
    if let (Some(l), Some((peak, at))) = (limit, acc.cgroup_peak_percent) {
        checks.push(Check {
            unit: Some("percent".into()),
            limit_mb: Some(r(Some(l))),
            at_s: Some(r(Some(at))),
            ..check(
                "memory_limit",
                peak < cfg.max_limit_percent,
                Some(peak),
                cfg.max_limit_percent,
                format!(
                    "cgroup memory peaked at {peak:.1} % of its {l:.0} MB limit at {:.2} h",
                    at / 3600.0
                ),
            )
        });
    }
    if acc.cgroup_oom_seen {
        checks.push(Check {
            first_at_s: Some(r(acc.first_oom_s)),
            ..Check::new(
                "oom_kills",
                acc.oom_kills == 0,
                Some(acc.oom_kills.into()),
                Some(0.into()),
                match acc.first_oom_s {
                    Some(at) => format!(
                        "{} process(es) OOM-killed in the cgroup, the first at {:.2} h",
                        acc.oom_kills,
                        at / 3600.0
                    ),
                    None => "no OOM kill in the cgroup".to_string(),
                },
            )
        });
    }
    checks.push(check(
        "duration",
        span >= cfg.min_duration_s,
        Some(hours),
        round3(cfg.min_duration_s / 3600.0),
        format!("ran {hours:.2} h"),
    ));
    let ok = checks.iter().all(|c| c.ok);

    let (spikes, spike_count) = acc.cpu_spikes();
    let (stalls, stall_count) = acc.net_stalls();
    Analysis {
        snapshot_count: acc.samples,
        duration_hours: round3(hours),
        time_axis: if acc.uses_elapsed == Some(true) {
            "elapsed_s"
        } else {
            "timestamp_unix"
        }
        .to_string(),
        memory: MemoryBlock {
            min_mb: r(acc.memory_used.min()),
            max_mb: r(acc.memory_used.max()),
            avg_mb: r(acc.memory_used.mean()),
            leak_mb_per_hour: r(slope),
            leak_detected: leak,
            series: mem_name.to_string(),
        },
        cpu: CpuBlock {
            min_percent: r(acc.cpu.min()),
            max_percent: r(acc.cpu.max()),
            avg_percent: r(acc.cpu.mean()),
            spike_threshold_percent: cfg.cpu_threshold,
            sustained_spikes: episodes(spikes, spike_count, true),
            level_shifts: level_shifts(&tl.points(Channel::Cpu), cfg.level_shift_min),
        },
        disk: DiskBlock {
            min_gb: r(acc.disk_used.min()),
            max_gb: r(acc.disk_used.max()),
            growth_gb: r(disk_growth),
            growth_gb_per_hour: r(disk_rate),
            watched_gb: r(acc.watched.last()),
            watched_growth_gb_per_hour: r(watched_v.as_ref().and_then(|v| v.slope_per_hour)),
            watched_trend: watched_v.as_ref().map(|v| trend(v, "gb", "watched_gb")),
        },
        cgroup: CgroupBlock {
            memory_limit_mb: r(acc.cgroup_limit_mb),
            peak_limit_percent: r(acc.cgroup_peak_percent.map(|p| p.0)),
            peak_at_s: r(acc.cgroup_peak_percent.map(|p| p.1)),
            oom_kills: acc.cgroup_oom_seen.then_some(acc.oom_kills),
            first_oom_at_s: r(acc.first_oom_s),
        },
        memory_leak_detected: leak,
        memory_growth_mb_per_hour: r(slope),
        memory_stats: MemoryStats {
            rss_start_mb: r(mem_stats.first()),
            rss_end_mb: r(mem_stats.last()),
            rss_max_mb: r(mem_stats.max()),
        },
        series: SeriesBlock {
            memory_used_mb: acc.memory_used.summary("mb"),
            memory_available_mb: acc.memory_available.summary("mb"),
            process_memory_mb: acc.process_memory.summary("mb"),
            tree_memory_mb: acc.tree_memory.summary("mb"),
            cgroup_memory_mb: acc.cgroup_memory.summary("mb"),
            cpu_percent: acc.cpu.summary("percent"),
            process_cpu_percent: acc.process_cpu.summary("percent"),
            threads: acc.threads.summary(""),
            fds: acc.fds.summary(""),
            disk_used_gb: acc.disk_used.summary("gb"),
            network_recv_bytes_per_s: acc.net_recv_rate.summary(""),
            network_sent_bytes_per_s: acc.net_sent_rate.summary(""),
        },
        leak: Leak {
            trend: trend(&mem_v, "mb", mem_name),
            seed_ols_memory_used_mb_per_hour: r(seed_ols),
            growth_mb: r(mem_v.growth),
            decided_by: mem_v.decided_by.clone(),
            effective_threshold_mb_per_hour: r(Some(mem_v.effective_threshold_per_hour)),
            plateau_mb: r(plateau),
        },
        fd_trend: fd_v.as_ref().map(|v| trend(v, "fds", "fds")),
        thread_trend: th_v.as_ref().map(|v| trend(v, "threads", "threads")),
        projections: Projections {
            memory_available_mb: r(acc.memory_available.last()),
            hours_until_memory_exhausted: r(hours_to_oom),
            memory_exhausted_against: if limit.is_some() {
                "cgroup_limit"
            } else {
                "host"
            }
            .to_string(),
            memory_limit_mb: r(limit),
            hours_until_memory_limit: r(hours_to_limit),
            hours_until_host_memory_exhausted: r(hours_to_host_oom),
            disk_free_gb: r(acc.disk_free.last()),
            hours_until_disk_full: r(hours_to_disk_full),
            hours_until_disk_full_watched: r(hours_to_disk_full_watched),
        },
        network: Network {
            recv_bytes_per_s_avg: r(acc.net_recv_rate.mean()),
            sent_bytes_per_s_avg: r(acc.net_sent_rate.mean()),
            stalls: episodes(stalls, stall_count, false),
        },
        checks,
        skipped_lines: skipped_lines(acc),
        quantile_relative_error: crate::stats::QUANTILE_RELATIVE_ERROR,
        ok,
        baseline_comparison: None,
    }
}
