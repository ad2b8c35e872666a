//! From the run's records to the Success Metrics rows. Every row applies or says why not, from
//! evidence: no row fails for lack of a log convention, and each says which rule judged it.
//! The rows are judged by family: [`resources`] (memory, CPU, disk, zombies), [`crashes`] (the
//! service's end), [`logs`] (reconnections, errors, hangs), [`orders`], [`security`]
//! (dependencies, leaked secrets) and [`availability`].

mod availability;
mod crashes;
mod logs;
mod orders;
mod resources;
mod security;

use std::path::Path;
use std::time::Duration;

use soak_core::units::format_duration;

use super::SoakArgs;
use super::artifacts::{last_summary_of, read_document};
use super::exchange::Orders;
use super::health::HealthStats;
use super::preflight::Audit;
use super::records::{Analysis, LogSummary, RunSummary};
use super::verdict::{Row, Verdict};

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
    /// Why the soak ended the service by force without asking first, when it did.
    pub forced_stop: Option<&'a str>,
    /// The already running service the soak attached to (`PID 4242`), if any.
    pub attached: Option<String>,
    /// The health poller's figures.
    pub health: Option<&'a HealthStats>,
    /// The orders' check after the run, when there is an exchange.
    pub orders: Option<&'a Orders>,
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
    let resources = resources::ResourceFacts::read(&i.file("resources.jsonl"), i.stop_unix);
    // resanalyze's own type: a document it did not write whole is said, and judged as none.
    let analysis = read_document::<Analysis>(&i.file("resources.analysis.json"))
        .and_then(|read| read.map_err(|e| eprintln!("soak: {e}")).ok());
    let log: Option<LogSummary> = last_summary_of(&i.file("logscan.jsonl"), "logscan");
    // None when zombiereap wrote no summary (it was killed, or the service was attached).
    let run: Option<RunSummary> = last_summary_of(&i.file("zombiereap.jsonl"), "zombiereap");

    let rows = vec![
        duration_row(i),
        resources::memory_row(analysis.as_ref()),
        resources::cpu_row(i, &resources, analysis.as_ref()),
        resources::disk_row(i),
        logs::reconnects_row(i, log.as_ref()),
        orders::orders_row(i),
        resources::zombies_row(&resources, i.attached.is_some()),
        crashes::crashes_row(i, run.as_ref(), log.as_ref(), &resources.kills_and_restarts),
        logs::errors_row(i, log.as_ref()),
        logs::hang_row(i, log.as_ref()),
        security::security_row(i),
        security::secrets_row(i),
        availability::availability_row(i),
    ];
    Verdict {
        rows,
        stopped_because: i.stopped_because.to_string(),
        run_dir: i.dir.display().to_string(),
        warnings: i.warnings.to_vec(),
    }
}

/// Duration: the run reached `--duration`.
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
