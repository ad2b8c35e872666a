//! `--follow FILE`: the file read as it is written (surviving rename and copytruncate), its
//! events streamed as they happen and a `hang` finding the moment the heartbeat has been
//! silent too long, until SIGINT/SIGTERM or a closed stdout; then the verdict.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use soak_core::exit::usage;
use soak_core::follow::{Follower, Until};
use soak_core::gha;
use soak_core::record::{Finding, Record, Severity, Timestamp};
use soak_core::report::Report;
use soak_core::signals::Termination;

use super::Session;
use crate::heartbeat;

/// Follows `path` until a signal or a closed stdout ends it, then returns the verdict (SIGINT
/// makes it 130, SIGTERM leaves it to the checks).
pub(crate) fn run(mut session: Session<'_>, path: &Path) -> anyhow::Result<Report> {
    let stopped_by = follow_file(&mut session, path)?;
    session.report(stopped_by)
}

/// The hang watchdog and event stream; returns the signal that ended it, if one did.
fn follow_file(session: &mut Session<'_>, path: &Path) -> anyhow::Result<Option<i32>> {
    let term = Termination::install().context("installing signal handlers")?;
    let name = path.display().to_string();
    let mut follower = Follower::new(path).with_max_line(session.max_line());
    let until = Until::every(session.cli.poll).signal(&term);
    let max_gap = session.cli.max_heartbeat_gap;
    let Session { scanner, sink, .. } = session;
    scanner.stats.files = 1;
    let mut last_beat = Instant::now();
    let mut beats = 0;
    let mut hang_reported = false;
    loop {
        follower
            .poll(&mut |n, line| scanner.feed(&name, n, line, &mut |e| sink.emit(e)))
            .map_err(|e| usage(format!("cannot read {name}: {e}")))?;
        if let Some(err) = sink.error.take() {
            return Err(err.into());
        }
        // `logscan --follow F | head`: nobody reads the events any more.
        if sink.out.closed() {
            scanner.finish(&mut |e| sink.emit(e));
            return Ok(None);
        }
        if scanner.stats.heartbeats != beats {
            beats = scanner.stats.heartbeats;
            last_beat = Instant::now();
            hang_reported = false;
        }
        // Silence counts only once the log has shown a heartbeat (the shared hang rule).
        let silent = last_beat.elapsed();
        if beats > 0
            && scanner
                .stats
                .live_gap
                .is_none_or(|(g, _)| silent.as_secs_f64() > g)
        {
            let began = Timestamp::now().unix() - silent.as_secs_f64();
            scanner.stats.live_gap = Some((silent.as_secs_f64(), began));
        }
        if let Some(gap) = max_gap {
            if heartbeat::overdue(beats, silent.as_secs_f64(), gap.as_secs_f64()) && !hang_reported
            {
                hang_reported = true;
                let finding = hang_finding(&name, silent, gap, scanner.stats.last_heartbeat);
                if gha::in_github_actions() {
                    gha::annotate(
                        gha::Level::Error,
                        finding.get_str("message").unwrap_or("hang"),
                    );
                }
                sink.out.write(&finding)?;
            }
        }
        // More of the file waiting: read on at once, but answer a signal first.
        if let Some(stop) = follower.wait(&until) {
            follower
                .poll(&mut |n, line| scanner.feed(&name, n, line, &mut |e| sink.emit(e)))
                .map_err(|e| usage(format!("cannot read {name}: {e}")))?;
            follower.finish(&mut |n, line| scanner.feed(&name, n, line, &mut |e| sink.emit(e)));
            scanner.finish(&mut |e| sink.emit(e));
            scanner.skipped_too_long(follower.too_long());
            return Ok(stop.signal());
        }
    }
}

/// The `hang` finding: no heartbeat in `file` for `silent`, more than the limit `gap`.
fn hang_finding(file: &str, silent: Duration, gap: Duration, last: Option<f64>) -> Record {
    let message = format!(
        "hang: no heartbeat in {file} for {} (limit {})",
        soak_core::units::format_duration(silent),
        soak_core::units::format_duration(gap)
    );
    Finding::new("hang", Severity::Critical, message)
        .with("file", file)
        .with("silent_s", (silent.as_secs_f64() * 1000.0).round() / 1000.0)
        .with("max_heartbeat_gap_s", gap.as_secs_f64())
        .with("heartbeat_rule", heartbeat::HeartbeatRule::Armed.as_str())
        .with(
            "last_heartbeat_utc",
            last.and_then(Timestamp::from_unix).map(|t| t.utc_string()),
        )
        .into_record(crate::TOOL)
}
