//! While the service runs: the JSONL the watching tools write is followed until the duration
//! is reached, the watchdog finds a hang, the health endpoint stays silent past the gap, the
//! service ends on its own, or a signal asks the soak to stop; a progress line meanwhile.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use soak_core::follow::Follower;
use soak_core::signals::Termination;
use soak_core::units::format_duration;

use super::describe::{estimate_text, status_text};
use super::health::Poller;
use super::plan::Plan;
use super::records::{EarlyRecord, Sample, WatchdogRecord};
use super::service::Service;

/// How the watch ended.
pub struct Watched {
    /// Why it stopped (`duration reached`, `hang detected (...)`, `SIGINT received`, ...).
    pub stopped_because: String,
    /// How long the service ran.
    pub ran_for: Duration,
    /// The early warnings seen.
    pub warnings: Vec<String>,
}

/// What the progress line shows.
struct Progress {
    samples: u64,
    tree_memory_mb: Option<f64>,
    leak_estimate: String,
    events: u64,
}

/// Follows the run from `started` until one of the reasons to stop.
pub fn follow(
    plan: &Plan,
    term: &Termination,
    service: &mut Service,
    poller: Option<&Poller>,
    started: Instant,
) -> Watched {
    // Each file through core's follower: only new complete lines, each through core's reader
    // into a typed record (a file not there yet gives none).
    let mut samples = Follower::new(plan.file("resources.jsonl"));
    let mut watch = Follower::new(plan.file("logscan-follow.jsonl"));
    let mut early_findings = Follower::new(plan.file("resanalyze-follow.jsonl"));
    let mut progress = Progress {
        samples: 0,
        tree_memory_mb: None,
        leak_estimate: "leak: not yet judged".to_string(),
        events: 0,
    };
    let mut warnings: Vec<String> = Vec::new();
    let tty = std::io::stderr().is_terminal();
    let mut next_progress = Instant::now() + Duration::from_secs(5);
    let stopped_because = loop {
        for s in records::<Sample>(&mut samples) {
            if s.kind == "sample" {
                progress.samples += 1;
                progress.tree_memory_mb = s.tree_memory_mb;
            }
        }
        let mut hang = None;
        for r in records::<WatchdogRecord>(&mut watch) {
            progress.events += 1;
            if r.record == "finding" && r.kind.as_deref() == Some("hang") {
                hang = Some(r.message.unwrap_or_else(|| "heartbeat silent".into()));
            }
        }
        for f in records::<EarlyRecord>(&mut early_findings) {
            if f.record == "event" && f.event.as_deref() == Some("estimate") {
                progress.leak_estimate = estimate_text(&f);
            }
            if f.record == "finding" {
                let msg = format!(
                    "early warning: {}",
                    f.message
                        .as_deref()
                        .or(f.kind.as_deref())
                        .unwrap_or("a finding without a message")
                );
                eprintln!("soak: {msg}");
                warnings.push(msg);
            }
        }
        if let Some(reason) = reason_to_stop(plan, term, service, poller, started, hang) {
            break reason;
        }
        if Instant::now() >= next_progress {
            next_progress += Duration::from_secs(5);
            let line = progress_line(plan, &progress, poller, started);
            if tty {
                eprint!("\r{line}\x1b[K");
            } else {
                eprintln!("{line}");
            }
        }
        term.sleep(Duration::from_millis(200));
    };
    let ran_for = started.elapsed();
    if tty {
        eprintln!();
    }
    eprintln!("soak: stopping: {stopped_because}");
    Watched {
        stopped_because,
        ran_for,
        warnings,
    }
}

/// The records completed in `file` since the last look. A read error gives none this time
/// (the progress line and the early warnings are advisory; the judge reads every file again).
fn records<T: serde::de::DeserializeOwned>(file: &mut Follower) -> Vec<T> {
    file.poll_records::<T>().unwrap_or_default()
}

/// Why the run stops now, if it does: a hang, the service's own end, the health endpoint's
/// silence, a signal, the duration.
fn reason_to_stop(
    plan: &Plan,
    term: &Termination,
    service: &mut Service,
    poller: Option<&Poller>,
    started: Instant,
    hang: Option<String>,
) -> Option<String> {
    if let Some(h) = hang {
        return Some(format!("hang detected ({h})"));
    }
    if !service.running() {
        return Some(match service.status() {
            Some(status) => format!(
                "the service exited on its own ({})",
                status_text(Some(status))
            ),
            None => "the service exited on its own (the attached process ended)".into(),
        });
    }
    if let Some(silent) = poller
        .and_then(|p| p.snapshot().silent_for(Instant::now()))
        .filter(|s| *s > plan.settings.gap)
    {
        return Some(format!(
            "hang detected (the health endpoint gave no answer for {})",
            format_duration(Duration::from_secs(silent.as_secs()))
        ));
    }
    if let Some(sig) = term.requested() {
        return Some(format!("{} received", Termination::name(sig)));
    }
    if started.elapsed() >= plan.settings.duration {
        return Some("duration reached".to_string());
    }
    None
}

fn progress_line(plan: &Plan, p: &Progress, poller: Option<&Poller>, started: Instant) -> String {
    let avail = poller.map(|p| {
        p.snapshot()
            .availability_percent()
            .map_or(", health: not answered yet".into(), |a| {
                format!(", up {a:.1} %")
            })
    });
    format!(
        "soak: {} / {}: {} samples, tree RSS {} MB, {}, {} log events{}",
        format_duration(Duration::from_secs(started.elapsed().as_secs())),
        format_duration(plan.settings.duration),
        p.samples,
        p.tree_memory_mb.map_or("-".into(), |m| format!("{m:.1}")),
        p.leak_estimate,
        p.events,
        avail.unwrap_or_default()
    )
}
