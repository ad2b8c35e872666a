//! The soak as the list of its stages; each lives in its own module.

use std::time::Instant;

use anyhow::{Context, Result};
use soak_core::signals::Termination;

use super::SoakArgs;
use super::analyse::analyse;
use super::args::Settings;
use super::demo::{self, Credentials};
use super::exchange::{Exchange, arm_dead_man};
use super::judge::{Inputs, judge};
use super::notify::notify;
use super::plan::Plan;
use super::preflight::audit_dependencies;
use super::report;
use super::service::Attach;
use super::stop::stop;
use super::verdict::Verdict;
use super::{start, watch};

/// Runs the soak; true when every row passed.
pub fn run(args: &SoakArgs) -> Result<bool> {
    // Every value is checked before anything is built or started.
    let settings = Settings::check(args)?;
    let plan = Plan::prepare(args, settings)?;
    let term = Termination::install().context("installing signal handlers")?;
    eprintln!("soak: run directory {}", plan.dir.display());
    plan.warn_if_short_of_space(args);

    let audit = audit_dependencies(&plan, args)?;

    // The exchange: the simulator for the demo, else what the flags name.
    let creds = args.demo.then(Credentials::fresh);
    let (sim, exchange) = match &creds {
        Some(c) => {
            let (sim, exchange) = demo::start_exchange(&plan, c)?;
            (Some(sim), Some(exchange))
        }
        None => (None, Exchange::from_args(args)),
    };
    let command = match (&creds, &exchange) {
        (Some(_), Some(e)) => demo::service_command(&plan, args, e.url.as_deref().unwrap_or("")),
        _ => args.command.clone(),
    };

    let started = Instant::now();
    let mut service = start::service(&plan, args, &command, creds.as_ref())?;
    let service_log = start::service_log(&plan, args);
    let dead_man = match service.pid() {
        Some(pid) => arm_dead_man(&plan, exchange.as_ref(), pid, args)?,
        None => None,
    };
    let monitors = start::monitors(&plan, args, &service, &service_log)?;
    let poller = start::health(&plan, args)?;

    let watched = watch::follow(&plan, &term, &mut service, poller.as_ref(), started);
    let stopped = stop(&plan, args, &mut service, poller, dead_man, monitors);
    let orders = analyse(
        &plan,
        args,
        exchange.as_ref(),
        creds.as_ref(),
        stopped.stopped_unix,
        sim,
    )?;

    let mut verdict = judge(&Inputs {
        args,
        dir: &plan.dir,
        duration: plan.settings.duration,
        gap: plan.settings.gap,
        max_total: plan.settings.max_total,
        startup_grace: plan.settings.startup_grace,
        ran_for: watched.ran_for,
        stopped_because: &watched.stopped_because,
        ending: stopped.ending,
        stop_unix: stopped.stopping_unix,
        forced_stop: stopped.forced.as_deref(),
        attached: plan.settings.attach.as_ref().map(Attach::describe),
        health: stopped.health.as_ref(),
        orders: orders.as_ref(),
        audit: &audit,
        warnings: &watched.warnings,
    });
    verdict.rows.extend(stopped.rotation_row());
    publish(&plan, args, &verdict)?;
    Ok(verdict.ok())
}

/// The verdict's files, the report page, the table on stdout, the webhook.
fn publish(plan: &Plan, args: &SoakArgs, verdict: &Verdict) -> Result<()> {
    verdict.write(&plan.dir)?;
    // The page a person opens; the verdict stands without it.
    match report::write_report(&plan.dir) {
        Ok(path) => eprintln!("soak: report: {}", path.display()),
        Err(e) => eprintln!("soak: report.html not written: {e:#}"),
    }
    print!("\n{}", verdict.to_text());
    println!("records: {}", plan.dir.display());
    if let Some(url) = &args.notify
        && let Err(e) = notify(url, verdict)
    {
        eprintln!("soak: --notify {url}: {e:#}");
    }
    Ok(())
}
