//! Stopping, in order; every path comes through here. Health polling ends first (a service
//! being stopped on purpose is not an outage), then the service, the dead-man switch and the
//! tools that watched it.

use std::process::ExitStatus;
use std::time::Duration;

use soak_core::units::format_duration;

use super::SoakArgs;
use super::describe::{clean_stop, status_text};
use super::health::{HealthStats, Poller};
use super::judge::Ending;
use super::plan::Plan;
use super::procs::Proc;
use super::service::Service;
use super::start::Monitors;
use super::unix_now;
use super::verdict::Row;

/// What the stop left for the verdict.
pub struct Stopped {
    /// Whether the soak ended the service or it ended on its own.
    pub ending: Ending,
    /// The health poller's final figures.
    pub health: Option<HealthStats>,
    /// When the soak began stopping the service (Unix seconds).
    pub stopping_unix: f64,
    /// When the service had stopped (Unix seconds): the final log pass ends there.
    pub stopped_unix: f64,
    /// Why the soak ended the service by force without asking first, when it did.
    pub forced: Option<String>,
    /// Why live log rotation did not run, when `logrotate --watch` could not (exit 3).
    pub rotation_skipped: Option<String>,
}

impl Stopped {
    /// The row saying live rotation was skipped and why, when it was.
    pub fn rotation_row(&self) -> Option<Row> {
        self.rotation_skipped
            .as_deref()
            .map(|why| Row::skipped("Live log rotation", "runs".into(), why))
    }
}

/// Stops everything the run started but the exchange simulator (the orders are checked
/// against it afterwards).
pub fn stop(
    plan: &Plan,
    args: &SoakArgs,
    service: &mut Service,
    poller: Option<Poller>,
    dead_man: Option<Proc>,
    mut monitors: Monitors,
) -> Stopped {
    let stopping_unix = unix_now();
    let ending = if service.running() {
        Ending::StoppedBySoak
    } else {
        Ending::OnItsOwn
    };
    let health = poller.map(|p| p.finish(ending == Ending::OnItsOwn));
    let rotation_skipped = rotation_skipped(plan, &mut monitors.budget);
    let service_status = service.stop(plan.settings.shutdown + Duration::from_secs(5), args.stop);
    settle_dead_man(args, dead_man, ending, service_status);
    let stopped_unix = unix_now();
    if !monitors.resmon.wait_for(Duration::from_secs(10)) {
        monitors.resmon.stop(Duration::from_secs(5));
    }
    monitors.watchdog.stop(Duration::from_secs(5));
    monitors.early.stop(Duration::from_secs(5));
    monitors.budget.stop(Duration::from_secs(10));
    eprintln!(
        "soak: service stopped ({}{}); analysing",
        status_text(service_status),
        if service.forced().is_some() {
            ", ended by force"
        } else {
            ""
        }
    );
    Stopped {
        ending,
        health,
        stopping_unix,
        stopped_unix,
        forced: service.forced().map(str::to_string),
        rotation_skipped,
    }
}

/// When `logrotate --watch` ended on its own with exit 3 (the environment: on Windows its file
/// layer is not there yet), live rotation did not run: said in one line, and why (its stderr's
/// first line) is returned for a skipped row.
fn rotation_skipped(plan: &Plan, budget: &mut Proc) -> Option<String> {
    if budget.running() || budget.status.and_then(|s| s.code()) != Some(3) {
        return None;
    }
    let stderr = std::fs::read_to_string(plan.file("logrotate.stderr")).unwrap_or_default();
    let why = stderr
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("logrotate --watch exited 3 with no message");
    let why = format!("live rotation skipped: {why} (logrotate.stderr)");
    eprintln!("soak: {why}");
    Some(why)
}

/// A clean stop disarms the switch (SIGTERM); after a hard death it is left to fire, so the
/// exchange cancels what the service left open (SIGKILL: the dead-man cannot disarm).
fn settle_dead_man(
    args: &SoakArgs,
    dead_man: Option<Proc>,
    ending: Ending,
    service_status: Option<ExitStatus>,
) {
    if let Some(mut d) = dead_man {
        if ending == Ending::StoppedBySoak && service_status.is_some_and(clean_stop) {
            d.stop(Duration::from_secs(10));
        } else {
            eprintln!(
                "soak: the service did not stop cleanly: the dead-man switch is left to fire within {}",
                format_duration(args.dead_man_timeout)
            );
            drop(d);
        }
    }
}
