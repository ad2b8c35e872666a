//! Starting the run: the service (launched under `zombiereap run`, or attached to), then the
//! tools that watch it while it runs, then the health poller.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use soak_core::units::format_duration;

use super::SoakArgs;
use super::argv::{logrotate, logscan, resanalyze, resmon, zombiereap};
use super::demo::{Credentials, pass_credentials};
use super::describe::shell_words;
use super::files::wait_for_file;
use super::health::Poller;
use super::plan::Plan;
use super::procs::Proc;
use super::service::Service;

/// The tools that run beside the service.
pub struct Monitors {
    /// resmon sampling it.
    pub resmon: Proc,
    /// `logscan --follow`, the hang watchdog.
    pub watchdog: Proc,
    /// `resanalyze --follow`, the early leak warnings.
    pub early: Proc,
    /// `logrotate --watch`, the disk budget.
    pub budget: Proc,
}

/// Starts the service: `command` under `zombiereap run` (its output in `service.log`), or the
/// attached one's log command feeding `service.log`.
pub fn service(
    plan: &Plan,
    args: &SoakArgs,
    command: &[String],
    creds: Option<&Credentials>,
) -> Result<Service> {
    // Append mode: logrotate's copytruncate cuts the copied prefix out of the live file, and
    // an O_APPEND writer goes on writing at the new end.
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(plan.file("service.log"))
        .with_context(|| format!("cannot create {}", plan.file("service.log").display()))?;
    // The Command holds the log's descriptors: it must not outlive the spawn.
    let service = if let Some(target) = plan.settings.attach.clone() {
        let log_cmd: Option<Vec<String>> = args
            .log_cmd
            .as_deref()
            .map(|c| c.split_whitespace().map(str::to_string).collect())
            .or_else(|| {
                args.log_file
                    .is_none()
                    .then(|| target.default_log_cmd())
                    .flatten()
            });
        let log = match log_cmd.filter(|c| !c.is_empty()) {
            Some(cmd) => {
                let mut c = Command::new(&cmd[0]);
                c.args(&cmd[1..])
                    .stdin(Stdio::null())
                    .stdout(log.try_clone()?)
                    .stderr(log);
                Some(Proc::spawn("log command", &mut c)?)
            }
            None => None,
        };
        Service::Attached { target, log }
    } else {
        let mut cmd = zombiereap::run(plan, command, log)?;
        pass_credentials(creds, &mut cmd);
        Service::Launched(Proc::spawn("service", &mut cmd)?)
    };
    announce(plan, args, &service, command);
    Ok(service)
}

fn announce(plan: &Plan, args: &SoakArgs, service: &Service, command: &[String]) {
    match &plan.settings.attach {
        Some(target) => eprintln!(
            "soak: attached to {} for {}; it is left running at the end{}",
            target.describe(),
            format_duration(plan.settings.duration),
            if args.stop {
                " unless --stop (given)"
            } else {
                ""
            }
        ),
        None => eprintln!(
            "soak: service PID {} for {}: {}",
            service.pid().unwrap_or_default(),
            format_duration(plan.settings.duration),
            shell_words(command)
        ),
    }
}

/// The log logscan follows: the attached service's own file, or `service.log`.
pub fn service_log(plan: &Plan, args: &SoakArgs) -> std::path::PathBuf {
    args.log_file
        .clone()
        .unwrap_or_else(|| plan.file("service.log"))
}

/// Starts resmon on the service, the watchdog on `log`, the early warnings and the budget.
pub fn monitors(plan: &Plan, args: &SoakArgs, service: &Service, log: &Path) -> Result<Monitors> {
    let resmon = Proc::spawn(
        "resmon",
        &mut resmon::follow(plan, args, &service.resmon_args())?,
    )?;
    let watchdog = Proc::spawn("logscan --follow", &mut logscan::watchdog(plan, args, log)?)?;
    let early = Proc::spawn("resanalyze --follow", &mut resanalyze::early(plan, args)?)?;
    let budget = Proc::spawn("logrotate --watch", &mut logrotate::watch(plan, args)?)?;
    Ok(Monitors {
        resmon,
        watchdog,
        early,
        budget,
    })
}

/// Polls `--health-url` (the demo's from the `health.url` file it writes), each poll into
/// `health.jsonl`.
pub fn health(plan: &Plan, args: &SoakArgs) -> Result<Option<Poller>> {
    let url = match &args.health_url {
        Some(u) => Some(u.clone()),
        None if args.demo => wait_for_file(&plan.file("health.url"), Duration::from_secs(15)),
        None => None,
    };
    url.map(|u| -> Result<Poller> {
        Ok(Poller::start(
            u,
            plan.settings.health_every,
            plan.settings.health_timeout,
            plan.out("health.jsonl")?,
        ))
    })
    .transpose()
}
