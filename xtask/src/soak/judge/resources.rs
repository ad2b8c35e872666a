//! The resources rows: memory growth (resanalyze's analysis), CPU (the tree's from resmon's
//! samples, the whole machine's from resanalyze's analysis), zombies (resmon's samples,
//! streamed), disk (the run directory as uploaded).
//!
//! What is still reduced here from the samples is what no tool's summary has: resanalyze
//! analyses the machine, the target process and the cgroup's memory, not the tree's or the
//! cgroup's CPU nor the tree's zombies, and the zombie rule (lasting two samples, before the
//! stop) is the soak's own.

use std::path::Path;

use soak_core::units::format_bytes;

use super::super::artifacts::for_each;
use super::super::records::{Analysis, MonitorEvent, Sample};
use super::super::verdict::Row;
use super::Inputs;

/// A running mean.
#[derive(Debug, Default)]
struct Mean {
    sum: f64,
    n: usize,
}

impl Mean {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.sum += v;
            self.n += 1;
        }
    }

    fn value(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// What resmon's recording says for the rows, gathered in one pass over its samples and one
/// over its events (never the whole file in memory).
#[derive(Debug, Default)]
pub struct ResourceFacts {
    tree_cpu: Mean,
    cgroup_cpu: Mean,
    /// Most zombies that lasted two samples in a row before the stop (or the one sample's).
    lasting_zombies: Option<u64>,
    /// The cgroup's OOM kills and the container's restarts resmon saw: each is a crash.
    pub kills_and_restarts: Vec<MonitorEvent>,
}

impl ResourceFacts {
    /// Reads `resources.jsonl` (or its `.gz`). Zombies count only in samples taken before
    /// `stop_unix`, and only when they outlived one sampling interval (see [`zombies_row`]).
    pub fn read(path: &Path, stop_unix: f64) -> ResourceFacts {
        let mut facts = ResourceFacts::default();
        let (mut first, mut previous) = (None, None);
        for_each::<Sample>(path, |s| {
            if s.kind != "sample" {
                return;
            }
            facts.tree_cpu.add(s.tree_cpu_percent);
            facts.cgroup_cpu.add(s.cgroup_cpu_percent);
            let before_stop = s.timestamp_unix.is_none_or(|t| t < stop_unix);
            if let Some(z) = s.tree_zombies.filter(|_| before_stop) {
                if let Some(p) = previous {
                    let lasted = u64::min(p, z);
                    facts.lasting_zombies =
                        Some(facts.lasting_zombies.map_or(lasted, |m| m.max(lasted)));
                }
                first = first.or(Some(z));
                previous = Some(z);
            }
        });
        facts.lasting_zombies = facts.lasting_zombies.or(first);
        for_each::<MonitorEvent>(path, |e| {
            if e.kind == "event" && matches!(e.event.as_str(), "oom_kill" | "container_restart") {
                facts.kills_and_restarts.push(e);
            }
        });
        facts
    }
}

/// Memory growth: resanalyze's `memory_growth` check (against the memory limit, under one).
pub fn memory_row(analysis: Option<&Analysis>) -> Row {
    const METRIC: &str = "Memory growth";
    let Some((a, c)) = analysis.and_then(|a| Some((a, a.check("memory_growth")?))) else {
        return Row::measured(
            METRIC,
            "< 10 MB/h".into(),
            "-".into(),
            false,
            "resanalyze produced no analysis".into(),
        );
    };
    let threshold = format!(
        "< {} MB/h",
        c.threshold
            .as_ref()
            .map_or_else(|| "null".to_string(), ToString::to_string)
    );
    if c.detail.starts_with("insufficient_data") {
        return Row::skipped(
            METRIC,
            threshold,
            &format!(
                "{} (a trend needs resanalyze's --min-samples and --min-span; the soak's \
                 --min-samples/--min-span lower them)",
                c.detail
            ),
        );
    }
    // Under a memory limit (a container, a unit, a cgroup) the limit decides, not the host.
    let limit = a.check("memory_limit").filter(|l| !l.ok);
    let mut detail = c.detail.clone();
    if a.projections.memory_exhausted_against == "cgroup_limit"
        && let Some(h) = a.projections.hours_until_memory_limit
    {
        detail = format!(
            "limit reached in {h:.1} h ({} MB limit); {detail}",
            a.projections
                .memory_limit_mb
                .map_or("?".into(), |m| format!("{m:.0}"))
        );
    }
    if let Some(l) = limit {
        detail = format!("{}; {detail}", l.detail);
    }
    Row::measured(
        METRIC,
        threshold,
        c.value_f64()
            .map_or_else(|| "-".into(), |v| format!("{v:.1} MB/h")),
        c.ok && limit.is_none(),
        detail,
    )
}

/// The mean CPU of the service's process tree (or, for a container or unit, its cgroup),
/// beside the whole machine's mean as resanalyze's analysis gives it.
pub fn cpu_row(i: &Inputs<'_>, facts: &ResourceFacts, analysis: Option<&Analysis>) -> Row {
    let (mean, what) = if facts.tree_cpu.n > 0 {
        (&facts.tree_cpu, "the service's process tree")
    } else {
        // A container or unit is measured by its cgroup.
        (&facts.cgroup_cpu, "the service's cgroup")
    };
    let threshold = format!("< {}%", i.args.max_cpu);
    match mean.value() {
        None => Row::measured(
            "CPU usage (avg)",
            threshold,
            "-".into(),
            false,
            "no samples of the service tree".into(),
        ),
        Some(avg) => Row::measured(
            "CPU usage (avg)",
            threshold,
            format!("{avg:.1}%"),
            avg < i.args.max_cpu,
            format!(
                "{what} over {} samples (whole machine: {:.1}%)",
                mean.n,
                analysis.and_then(|a| a.cpu.avg_percent).unwrap_or(f64::NAN)
            ),
        ),
    }
}

fn walk_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let m = e.metadata()?;
        total += if m.is_dir() {
            walk_bytes(&e.path())?
        } else {
            m.len()
        };
    }
    Ok(total)
}

/// Disk: the run directory's artifacts against `--max-total`.
pub fn disk_row(i: &Inputs<'_>) -> Row {
    let used = walk_bytes(i.dir).unwrap_or(0);
    Row::measured(
        "Disk usage",
        format!("< {}", format_bytes(i.max_total)),
        format_bytes(used),
        used < i.max_total,
        "the run directory's artifacts".into(),
    )
}

/// Why the zombies row does not apply on Windows (zombiereap scan says the same).
const WINDOWS_NO_ZOMBIES: &str =
    "Windows has no zombie processes: an exited process is gone once the last handle to it closes";

/// Zombies that outlived one sampling interval before the stop began: every process is a
/// zombie for the moment between its exit and its parent's wait, and a sample taken while the
/// soak stops the service catches exactly that.
pub fn zombies_row(facts: &ResourceFacts, attached: bool) -> Row {
    match facts.lasting_zombies {
        _ if cfg!(windows) => Row::skipped("Zombie processes", "0".into(), WINDOWS_NO_ZOMBIES),
        Some(z) => Row::measured(
            "Zombie processes",
            "0".into(),
            z.to_string(),
            z == 0,
            "most zombies in the service's tree that lasted two samples in a row, before the \
             stop (resmon)"
                .into(),
        ),
        None if attached => Row::skipped(
            "Zombie processes",
            "0".into(),
            "no process tree: a container or unit is watched through its cgroup (run `zombiereap \
             scan` inside it)",
        ),
        None => Row::measured(
            "Zombie processes",
            "0".into(),
            "-".into(),
            false,
            "no samples of the service tree".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resanalyze::model::{Check, number};

    /// resanalyze's analysis of the seed's recording, as it writes it (its golden file).
    fn seed_analysis() -> Analysis {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/resanalyze/golden/seed.analysis.json"
        );
        let text = std::fs::read_to_string(path).expect("golden analysis");
        serde_json::from_str(&text).expect("resanalyze's own type reads it")
    }

    /// The seed's analysis under a 2048 MB limit, memory at 92 % of it when `!limit_ok`.
    fn analysis(limit_ok: bool) -> Analysis {
        let mut a = seed_analysis();
        let mut growth = Check::new(
            "memory_growth",
            true,
            number(Some(4.0)),
            number(Some(10.0)),
            "no_leak (not significant) on cgroup_memory_mb".into(),
        );
        growth.unit = Some("MB/h".into());
        let limit = Check::new(
            "memory_limit",
            limit_ok,
            number(Some(if limit_ok { 40.0 } else { 92.0 })),
            number(Some(80.0)),
            "memory reached 92.0 % of the 2048 MB limit".into(),
        );
        a.checks = vec![growth, limit];
        a.projections.memory_exhausted_against = "cgroup_limit".into();
        a.projections.memory_limit_mb = Some(2048.0);
        a.projections.hours_until_memory_limit = Some(3.24);
        a
    }

    #[test]
    fn under_a_limit_the_memory_row_says_when_it_is_reached_and_fails_past_80_percent() {
        let row = memory_row(Some(&analysis(true)));
        assert_eq!(row.status, crate::soak::verdict::Status::Pass);
        assert!(
            row.detail
                .starts_with("limit reached in 3.2 h (2048 MB limit)"),
            "{}",
            row.detail
        );
        let row = memory_row(Some(&analysis(false)));
        assert_eq!(row.status, crate::soak::verdict::Status::Fail);
        assert!(
            row.detail.contains("92.0 % of the 2048 MB limit"),
            "{}",
            row.detail
        );
    }

    #[test]
    fn the_threshold_reads_as_resanalyze_wrote_it() {
        let a = seed_analysis();
        let row = memory_row(Some(&a));
        assert_eq!(row.threshold, "< 10.0 MB/h");
        assert_eq!(
            row.value, "0.0 MB/h",
            "the check's value, as resanalyze judged it"
        );
        assert_eq!(row.status, crate::soak::verdict::Status::Pass);
        assert_eq!(
            memory_row(None).detail,
            "resanalyze produced no analysis",
            "no analysis fails the row"
        );
    }

    #[test]
    fn the_cpu_row_quotes_the_whole_machine_as_resanalyze_averaged_it() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            soak: crate::soak::SoakArgs,
        }
        let args = Cli::parse_from(["soak", "--demo", "--max-cpu", "30%"]).soak;
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("resources.jsonl");
        let lines = [
            r#"{"type":"sample","timestamp_unix":1.0,"tree_cpu_percent":10.0,"cpu_percent":50.0}"#,
            r#"{"type":"sample","timestamp_unix":2.0,"tree_cpu_percent":40.0,"cpu_percent":70.0}"#,
        ];
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        let facts = ResourceFacts::read(&path, 5.0);
        let audit = crate::soak::preflight::Audit::Skipped("test".into());
        let i = Inputs {
            args: &args,
            dir: dir.path(),
            duration: std::time::Duration::from_secs(2),
            gap: std::time::Duration::from_secs(10),
            max_total: 1 << 30,
            startup_grace: std::time::Duration::from_secs(60),
            ran_for: std::time::Duration::from_secs(2),
            stopped_because: "duration reached",
            ending: super::super::Ending::StoppedBySoak,
            stop_unix: 5.0,
            forced_stop: None,
            attached: None,
            health: None,
            orders: None,
            audit: &audit,
            warnings: &[],
        };
        // The seed's analysis averaged the machine at 22.959 %; the samples here say 60 %:
        // the row quotes resanalyze, it does not average the samples again.
        let row = cpu_row(&i, &facts, Some(&seed_analysis()));
        assert_eq!(row.threshold, "< 30%", "--max-cpu 30% reads as 30");
        assert_eq!(row.value, "25.0%");
        assert_eq!(row.status, crate::soak::verdict::Status::Pass);
        assert_eq!(
            row.detail,
            "the service's process tree over 2 samples (whole machine: 23.0%)"
        );
        let row = cpu_row(&i, &facts, None);
        assert!(
            row.detail.ends_with("(whole machine: NaN%)"),
            "{}",
            row.detail
        );
    }

    #[test]
    fn one_pass_over_the_recording_gives_the_cpu_mean_the_lasting_zombies_and_the_kills() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("resources.jsonl");
        let lines = [
            r#"{"type":"sample","timestamp_unix":1.0,"tree_cpu_percent":10.0,"cpu_percent":50.0,"tree_zombies":0}"#,
            r#"{"type":"sample","timestamp_unix":2.0,"tree_cpu_percent":20.0,"cpu_percent":70.0,"tree_zombies":3}"#,
            r#"{"type":"event","event":"oom_kill","timestamp_utc":"2026-01-01T00:00:02Z","new_oom_kills":2}"#,
            r#"{"type":"sample","timestamp_unix":3.0,"tree_cpu_percent":30.0,"tree_zombies":2}"#,
            "not json",
            r#"{"type":"event","event":"target_exit","timestamp_utc":"2026-01-01T00:00:03Z"}"#,
            // Taken while the soak stopped the service: its zombie is the stop's, not a leak.
            r#"{"type":"sample","timestamp_unix":9.0,"tree_cpu_percent":40.0,"tree_zombies":9}"#,
            r#"{"type":"sample","timestamp_unix":10.0,"tree_zombies":9}"#,
        ];
        std::fs::write(&path, lines.join("\n") + "\n").expect("write");
        let facts = ResourceFacts::read(&path, 5.0);
        assert_eq!(facts.tree_cpu.value(), Some(25.0));
        assert_eq!(
            facts.lasting_zombies,
            Some(2),
            "min of 3 and 2, before the stop"
        );
        assert_eq!(facts.kills_and_restarts.len(), 1);
        assert_eq!(facts.kills_and_restarts[0].new_oom_kills, Some(2));
        assert_eq!(zombies_row(&facts, false).value, "2");

        std::fs::write(&path, lines[0].to_string() + "\n").expect("write");
        let one = ResourceFacts::read(&path, 5.0);
        assert_eq!(one.lasting_zombies, Some(0), "one sample: its own count");
        let none = ResourceFacts::read(&dir.path().join("missing.jsonl"), 5.0);
        assert_eq!(none.lasting_zombies, None);
        assert_eq!(
            zombies_row(&none, true).status,
            crate::soak::verdict::Status::Skip
        );
    }
}
