//! From the run's records to the Success Metrics rows. Every row applies or says why not, from
//! evidence: no row fails for lack of a log convention, and each says which rule judged it.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use soak_core::units::{format_bytes, format_duration};

use super::SoakArgs;
use super::health::HealthStats;
use super::preflight::Audit;
use super::records::{
    Analysis, LogSummary, MonitorEvent, RunSummary, Sample, SecretFinding, SecretsSummary,
    last_summary_of, read_all,
};
use super::verdict::{Row, Verdict, read_artifact};

/// How the service's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The soak stopped it (duration, hang, Ctrl-C): what it then exits with is a clean stop.
    StoppedBySoak,
    /// It ended on its own before the soak asked.
    OnItsOwn,
}

/// Everything the verdict is judged from besides the run directory's files.
pub struct Inputs<'a> {
    /// The soak's options.
    pub args: &'a SoakArgs,
    /// The run directory.
    pub dir: &'a Path,
    /// Planned duration.
    pub duration: Duration,
    /// Longest silence allowed.
    pub gap: Duration,
    /// Disk budget.
    pub max_total: u64,
    /// Health answers may start this late.
    pub startup_grace: Duration,
    /// How long it ran.
    pub ran_for: Duration,
    /// Why it ended.
    pub stopped_because: &'a str,
    /// Whether the soak ended it.
    pub ending: Ending,
    /// When the soak began stopping the service (Unix seconds).
    pub stop_unix: f64,
    /// The already running service the soak attached to (`PID 4242`), if any.
    pub attached: Option<String>,
    /// The health poller's figures.
    pub health: Option<&'a HealthStats>,
    /// orphan-cancel reconcile's summary (or `{error}`).
    pub orders: Option<&'a Value>,
    /// The preflight dependency audit.
    pub audit: &'a Audit,
    /// Early warnings seen during the run.
    pub warnings: &'a [String],
}

impl Inputs<'_> {
    fn file(&self, name: &str) -> std::path::PathBuf {
        self.dir.join(name)
    }
}

/// The Success Metrics table from the run's records.
pub fn judge(i: &Inputs<'_>) -> Verdict {
    let samples: Vec<Sample> = read_all::<Sample>(&i.file("resources.jsonl"))
        .into_iter()
        .filter(|s| s.kind == "sample")
        .collect();
    let analysis: Option<Analysis> = read_artifact(&i.file("resources.analysis.json"))
        .and_then(|t| serde_json::from_str(&t).ok());
    let log: Option<LogSummary> = last_summary_of(&i.file("logscan.jsonl"), "logscan");
    let run: RunSummary =
        last_summary_of(&i.file("zombiereap.jsonl"), "zombiereap").unwrap_or_default();

    let rows = vec![
        duration_row(i),
        memory_row(analysis.as_ref()),
        cpu_row(i, &samples),
        disk_row(i),
        reconnects_row(i, log.as_ref()),
        orders_row(i),
        zombies_row(&samples, i.stop_unix, i.attached.is_some()),
        crashes_row(i, &run, log.as_ref(), &kills_and_restarts(i)),
        errors_row(i, log.as_ref()),
        hang_row(i, log.as_ref()),
        security_row(i),
        secrets_row(i),
        availability_row(i),
    ];
    Verdict {
        rows,
        stopped_because: i.stopped_because.to_string(),
        run_dir: i.dir.display().to_string(),
        warnings: i.warnings.to_vec(),
    }
}

fn duration_row(i: &Inputs<'_>) -> Row {
    let ran = i.ran_for.as_secs_f64();
    Row::measured(
        "Duration",
        format!(">= {}", format_duration(i.duration)),
        format_duration(Duration::from_secs(ran as u64)),
        i.stopped_because == "duration reached" && ran + 1.0 >= i.duration.as_secs_f64(),
        format!("stopped because: {}", i.stopped_because),
    )
}

fn memory_row(analysis: Option<&Analysis>) -> Row {
    const METRIC: &str = "Memory growth";
    let Some(c) = analysis.and_then(|a| a.check("memory_growth")) else {
        return Row::measured(
            METRIC,
            "< 10 MB/h".into(),
            "-".into(),
            false,
            "resanalyze produced no analysis".into(),
        );
    };
    let threshold = format!("< {} MB/h", c.threshold);
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
    let a = analysis.unwrap_or(&EMPTY_ANALYSIS);
    let limit = a.check("memory_limit").filter(|l| !l.ok);
    let mut detail = c.detail.clone();
    if a.projections.memory_exhausted_against.as_deref() == Some("cgroup_limit")
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
        c.value
            .map_or_else(|| "-".into(), |v| format!("{v:.1} MB/h")),
        c.ok && limit.is_none(),
        detail,
    )
}

static EMPTY_ANALYSIS: std::sync::LazyLock<Analysis> = std::sync::LazyLock::new(Analysis::default);

/// The cgroup's OOM kills and the container's restarts resmon saw: each is a crash.
fn kills_and_restarts(i: &Inputs<'_>) -> Vec<MonitorEvent> {
    read_all::<MonitorEvent>(&i.file("resources.jsonl"))
        .into_iter()
        .filter(|e| {
            e.kind == "event" && matches!(e.event.as_str(), "oom_kill" | "container_restart")
        })
        .collect()
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn cpu_row(i: &Inputs<'_>, samples: &[Sample]) -> Row {
    let mut tree: Vec<f64> = samples.iter().filter_map(|s| s.tree_cpu_percent).collect();
    let mut what = "the service's process tree";
    if tree.is_empty() {
        // A container or unit is measured by its cgroup.
        tree = samples
            .iter()
            .filter_map(|s| s.cgroup_cpu_percent)
            .collect();
        what = "the service's cgroup";
    }
    let system: Vec<f64> = samples.iter().filter_map(|s| s.cpu_percent).collect();
    let threshold = format!("< {}%", i.args.max_cpu);
    match mean(&tree) {
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
                tree.len(),
                mean(&system).unwrap_or(f64::NAN)
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

fn disk_row(i: &Inputs<'_>) -> Row {
    let used = walk_bytes(i.dir).unwrap_or(0);
    Row::measured(
        "Disk usage",
        format!("< {}", format_bytes(i.max_total)),
        format_bytes(used),
        used < i.max_total,
        "the run directory's artifacts".into(),
    )
}

fn reconnects_row(i: &Inputs<'_>, log: Option<&LogSummary>) -> Row {
    let threshold = format!("< {} per hour", i.args.max_reconnects_per_hour);
    match log.and_then(|l| l.ws_reconnects_max_in_any_hour.map(|n| (n, l))) {
        Some((n, l)) => Row::measured(
            "WS reconnections",
            threshold,
            n.to_string(),
            n < i.args.max_reconnects_per_hour,
            format!(
                "most in any hour of the log ({} in all)",
                l.ws_reconnect_count.unwrap_or(n)
            ),
        ),
        None => Row::measured(
            "WS reconnections",
            threshold,
            "-".into(),
            false,
            "logscan produced no summary".into(),
        ),
    }
}

fn orders_row(i: &Inputs<'_>) -> Row {
    match i.orders {
        None => Row::skipped(
            "Orphan orders",
            "0".into(),
            "no exchange configured (--exchange, --state)",
        ),
        Some(o) if o.get("error").is_some() => Row::measured(
            "Orphan orders",
            "0".into(),
            "-".into(),
            false,
            o["error"].as_str().unwrap_or("").to_string(),
        ),
        Some(o) => {
            let orphans = o["orphans"].as_u64().unwrap_or(0);
            let tracked = o["matched"].as_u64().unwrap_or(0);
            Row::measured(
                "Orphan orders",
                "0".into(),
                orphans.to_string(),
                orphans == 0,
                format!(
                    "open on the exchange and unknown to the bot (orphan-cancel reconcile); {tracked} more still open that the bot tracks; {} ghosts{}",
                    o["ghosts"],
                    if i.args.cancel_orphans {
                        "; orphans cancelled, see cancel.jsonl"
                    } else {
                        ""
                    }
                ),
            )
        }
    }
}

/// Zombies that outlived one sampling interval before the stop began: every process is a
/// zombie for the moment between its exit and its parent's wait, and a sample taken while the
/// soak stops the service catches exactly that.
fn zombies_row(samples: &[Sample], stop_unix: f64, attached: bool) -> Row {
    let before_stop: Vec<u64> = samples
        .iter()
        .filter(|s| s.timestamp_unix.is_none_or(|t| t < stop_unix))
        .filter_map(|s| s.tree_zombies)
        .collect();
    let lasting = before_stop
        .windows(2)
        .map(|w| w[0].min(w[1]))
        .max()
        .or_else(|| before_stop.first().copied());
    match lasting {
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

/// A signal's name: `SIGKILL` for 9.
fn signal_name(n: i32) -> String {
    match n {
        libc::SIGHUP => "SIGHUP".into(),
        libc::SIGINT => "SIGINT".into(),
        libc::SIGQUIT => "SIGQUIT".into(),
        libc::SIGABRT => "SIGABRT".into(),
        libc::SIGKILL => "SIGKILL".into(),
        libc::SIGSEGV => "SIGSEGV".into(),
        libc::SIGPIPE => "SIGPIPE".into(),
        libc::SIGTERM => "SIGTERM".into(),
        libc::SIGBUS => "SIGBUS".into(),
        n => format!("signal {n}"),
    }
}

/// How the service's end reads: `exit status 1`, `SIGKILL (signal 9)`.
fn end_text(run: &RunSummary) -> String {
    match (run.signal, run.exit_code, run.exit_status) {
        (Some(sig), _, _) if sig == libc::SIGKILL => format!(
            "{} (signal {sig}; not sent by the soak: the OOM killer or another process)",
            signal_name(sig)
        ),
        (Some(sig), _, _) => format!("{} (signal {sig})", signal_name(sig)),
        (None, Some(code), _) => format!("exit status {code}"),
        (None, None, Some(status)) => format!("exit status {status}"),
        (None, None, None) => "an unknown status (no zombiereap summary)".into(),
    }
}

/// A stop the soak asked for: exit 0, or the conventional statuses of SIGTERM/SIGINT.
fn clean_stop(run: &RunSummary) -> bool {
    matches!(run.signal, Some(libc::SIGTERM | libc::SIGINT))
        || matches!(run.exit_code.or(run.exit_status), Some(0 | 130 | 143))
}

fn crashes_row(
    i: &Inputs<'_>,
    run: &RunSummary,
    log: Option<&LogSummary>,
    kills: &[MonitorEvent],
) -> Row {
    if !kills.is_empty() {
        let what: Vec<String> = kills
            .iter()
            .map(|e| match e.event.as_str() {
                "oom_kill" => format!(
                    "{} OOM kill(s) at {}",
                    e.new_oom_kills.unwrap_or(1),
                    e.timestamp_utc
                ),
                _ => format!("a restart at {}", e.timestamp_utc),
            })
            .collect();
        return Row::measured(
            "Crashes",
            "0".into(),
            kills.len().to_string(),
            false,
            format!("{} (resources.jsonl)", what.join("; ")),
        );
    }
    let fatal = log.and_then(|l| l.crash_count).unwrap_or(0);
    let fatal_note = if fatal > 0 {
        format!("; {fatal} fatal lines in the log (logscan.jsonl)")
    } else {
        String::new()
    };
    let (crashed, why) = match i.ending {
        Ending::OnItsOwn => (
            true,
            format!(
                "the service ended on its own after {} with {}{fatal_note}",
                format_duration(Duration::from_secs(i.ran_for.as_secs())),
                match &i.attached {
                    Some(what) =>
                        format!("its status unknown ({what} was not started by the soak)"),
                    None => end_text(run),
                }
            ),
        ),
        Ending::StoppedBySoak if run.timed_out => (
            false,
            format!(
                "stopped by the soak; it did not stop within --shutdown-timeout {} and was killed",
                i.args.shutdown_timeout
            ),
        ),
        Ending::StoppedBySoak if i.attached.is_some() => (
            false,
            format!(
                "{} ran through the soak{}{fatal_note}",
                i.attached.as_deref().unwrap_or("the service"),
                if i.args.stop {
                    " and was stopped (--stop)"
                } else {
                    " and was left running"
                }
            ),
        ),
        Ending::StoppedBySoak if clean_stop(run) || run.exit_status.is_none() => (
            false,
            format!(
                "ran until the soak stopped it (SIGTERM; {}: a clean stop){fatal_note}",
                end_text(run)
            ),
        ),
        Ending::StoppedBySoak => (
            false,
            format!(
                "ran until the soak stopped it; it then ended with {}{fatal_note}",
                end_text(run)
            ),
        ),
    };
    Row::measured(
        "Crashes",
        "0".into(),
        u64::from(crashed).to_string(),
        !crashed,
        why,
    )
}

fn errors_row(i: &Inputs<'_>, log: Option<&LogSummary>) -> Row {
    const METRIC: &str = "Logged errors";
    let threshold = format!("<= {} per hour", i.args.max_errors_per_hour);
    let Some((count, max_hour)) =
        log.and_then(|l| Some((l.error_count?, l.errors_max_in_any_hour?)))
    else {
        return Row::skipped(METRIC, threshold, "logscan reported no error count");
    };
    let top: Vec<String> = log
        .map(|l| {
            l.top_errors
                .iter()
                .take(3)
                .map(|e| format!("{} ×{}", e.message, e.count))
                .collect()
        })
        .unwrap_or_default();
    Row::measured(
        METRIC,
        threshold,
        max_hour.to_string(),
        max_hour <= i.args.max_errors_per_hour,
        if count == 0 {
            "tracebacks, exceptions and error lines the service logged and survived: none".into()
        } else {
            format!(
                "most in any hour; {count} in all (tracebacks, exceptions, error lines the service survived): {}",
                top.join("; ")
            )
        },
    )
}

fn hang_row(i: &Inputs<'_>, log: Option<&LogSummary>) -> Row {
    const METRIC: &str = "Heartbeat gap (hang)";
    let threshold = format!("<= {}", format_duration(i.gap));
    let hung = i.stopped_because.starts_with("hang");
    let gap = i.gap.as_secs_f64();
    let heartbeat = log
        .filter(|l| l.heartbeat_count.unwrap_or(0) > 0)
        .and_then(|l| l.heartbeat_max_gap_s);
    let silence = i
        .health
        .filter(|h| h.startup_s.is_some())
        .map(|h| h.longest_silence_s);
    match (heartbeat, silence) {
        (None, None) if hung => Row::measured(
            METRIC,
            threshold,
            "-".into(),
            false,
            format!("stopped because: {}", i.stopped_because),
        ),
        (None, None) => Row::skipped(
            METRIC,
            threshold,
            "not watched: the log showed no heartbeat and no health endpoint answered; give \
             --heartbeat-regex REGEX (a line the service logs periodically) or --health-url URL",
        ),
        (Some(g), s) => Row::measured(
            METRIC,
            threshold,
            format!("{g:.1}s"),
            g <= gap && s.is_none_or(|s| s <= gap) && !hung,
            format!(
                "rule: the log's heartbeat, armed at its first line; longest silence between heartbeats{}",
                s.map_or(String::new(), |s| format!(
                    "; health endpoint's longest time without an answer {s:.1}s"
                ))
            ),
        ),
        (None, Some(s)) => Row::measured(
            METRIC,
            threshold,
            format!("{s:.1}s"),
            s <= gap && !hung,
            "rule: the health endpoint answering (no heartbeat in the log); longest time \
             without any HTTP answer after it first answered"
                .into(),
        ),
    }
}

fn security_row(i: &Inputs<'_>) -> Row {
    const METRIC: &str = "Security issues";
    let threshold = || "0 CRITICAL/HIGH".to_string();
    match i.audit {
        Audit::Skipped(why) => Row::skipped(METRIC, threshold(), why),
        Audit::Failed(e) => Row::measured(METRIC, threshold(), "-".into(), false, e.clone()),
        Audit::Done(a) => Row::measured(
            METRIC,
            threshold(),
            a["failing"].as_u64().unwrap_or(0).to_string(),
            a["ok"] == true,
            format!(
                "seccheck deps: {} packages of {} lockfile(s); {} critical, {} high, {} medium, {} low; {} warnings (deps.jsonl)",
                a["packages"],
                a["lockfiles"].as_array().map_or(0, Vec::len),
                a["critical"],
                a["high"],
                a["medium"],
                a["low"],
                a["warnings"]
            ),
        ),
    }
}

fn secrets_row(i: &Inputs<'_>) -> Row {
    const METRIC: &str = "Leaked secrets";
    let path = i.file("secrets.jsonl");
    let Some(s) = last_summary_of::<SecretsSummary>(&path, "seccheck") else {
        let err = read_artifact(&i.file("secrets.stderr")).unwrap_or_default();
        return Row::measured(
            METRIC,
            "0".into(),
            "-".into(),
            false,
            format!("seccheck produced no summary: {}", err.trim()),
        );
    };
    let n = s.secrets.unwrap_or(0);
    let kinds: Vec<String> = read_all::<SecretFinding>(&path)
        .into_iter()
        .filter(|r| r.record == "finding")
        .take(3)
        .map(|r| {
            let name = r.file.rsplit('/').next().unwrap_or(&r.file).to_string();
            format!(
                "{} in {name}:{}",
                r.kind,
                r.line.map_or("?".into(), |l| l.to_string())
            )
        })
        .collect();
    Row::measured(
        METRIC,
        "0".into(),
        n.to_string(),
        n == 0,
        if n == 0 {
            format!(
                "seccheck secrets over {} artifact files",
                s.files.unwrap_or(0)
            )
        } else {
            format!(
                "{} (secrets.jsonl; mask them with seccheck secrets --redact)",
                kinds.join(", ")
            )
        },
    )
}

fn availability_row(i: &Inputs<'_>) -> Row {
    const METRIC: &str = "Availability";
    let threshold = format!(">= {}%", i.args.min_availability);
    let Some(h) = i.health else {
        return Row::skipped(METRIC, threshold, "no --health-url");
    };
    let Some(startup) = h.startup_s else {
        return Row::measured(
            METRIC,
            threshold,
            "0.00%".into(),
            false,
            format!(
                "never answered 2xx in {} polls: {}",
                h.polls_total,
                HealthStats::failures_text(&h.startup_failures)
            ),
        );
    };
    let avail = h.availability_percent().unwrap_or(0.0);
    let late = startup > i.startup_grace.as_secs_f64();
    let latency = match (h.latency_quantile_ms(0.5), h.latency_quantile_ms(0.99)) {
        (Some(p50), Some(p99)) => format!("; latency p50 {p50:.1} ms, p99 {p99:.1} ms"),
        _ => String::new(),
    };
    let failures = if h.failures.is_empty() {
        String::new()
    } else {
        format!(
            "; failed polls: {}",
            HealthStats::failures_text(&h.failures)
        )
    };
    Row::measured(
        METRIC,
        threshold,
        format!("{avail:.2}%"),
        avail >= i.args.min_availability && !late,
        format!(
            "{} of {} polls since the first healthy answer were 2xx; first healthy after {startup:.1}s{}{latency}; longest outage {:.0}s{failures}",
            h.up,
            h.polls,
            if late {
                format!(
                    " (beyond --startup-grace {})",
                    format_duration(i.startup_grace)
                )
            } else {
                String::new()
            },
            h.longest_outage_s
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soak::records::{AnalysisCheck, Projections};

    fn analysis(limit_ok: bool) -> Analysis {
        Analysis {
            checks: vec![
                AnalysisCheck {
                    name: "memory_growth".into(),
                    threshold: serde_json::json!(10.0),
                    value: Some(4.0),
                    ok: true,
                    detail: "no_leak (not significant) on cgroup_memory_mb".into(),
                },
                AnalysisCheck {
                    name: "memory_limit".into(),
                    threshold: serde_json::json!(80.0),
                    value: Some(if limit_ok { 40.0 } else { 92.0 }),
                    ok: limit_ok,
                    detail: "memory reached 92.0 % of the 2048 MB limit".into(),
                },
            ],
            projections: Projections {
                memory_exhausted_against: Some("cgroup_limit".into()),
                memory_limit_mb: Some(2048.0),
                hours_until_memory_limit: Some(3.24),
            },
        }
    }

    #[test]
    fn under_a_limit_the_memory_row_says_when_it_is_reached_and_fails_past_80_percent() {
        let row = memory_row(Some(&analysis(true)));
        assert_eq!(row.status, super::super::verdict::Status::Pass);
        assert!(
            row.detail
                .starts_with("limit reached in 3.2 h (2048 MB limit)"),
            "{}",
            row.detail
        );
        let row = memory_row(Some(&analysis(false)));
        assert_eq!(row.status, super::super::verdict::Status::Fail);
        assert!(
            row.detail.contains("92.0 % of the 2048 MB limit"),
            "{}",
            row.detail
        );
    }
}
