//! After the service stopped: the orders reconciled, zombies scanned, the recording analysed,
//! the whole log scanned, the artifacts checked for secrets before anything is uploaded, and
//! the final compress/budget pass, so the verdict reads what is uploaded.

use std::time::Duration;

use anyhow::{Context, Result};

use super::SoakArgs;
use super::argv::{logrotate, logscan, resanalyze, seccheck, zombiereap};
use super::demo::Credentials;
use super::exchange::{Exchange, Orders, check_orders};
use super::plan::Plan;
use super::procs::Proc;

/// Runs the after-steps; returns the orders' check when there is an exchange. The exchange
/// simulator `sim` is stopped once the orders are checked.
pub fn analyse(
    plan: &Plan,
    args: &SoakArgs,
    exchange: Option<&Exchange>,
    creds: Option<&Credentials>,
    stopped_unix: f64,
    sim: Option<Proc>,
) -> Result<Option<Orders>> {
    let orders = match exchange {
        Some(e) => Some(check_orders(plan, e, args, creds)?),
        None => None,
    };
    let _ = zombiereap::scan(plan)?.status();
    resanalyze::final_pass(plan, args)?
        .status()
        .context("starting resanalyze")?;
    logscan::final_pass(plan, args, stopped_unix)?
        .status()
        .context("starting logscan")?;
    if let Some(mut s) = sim {
        s.stop(Duration::from_secs(5));
    }
    seccheck::secrets(plan, creds)?
        .status()
        .context("starting seccheck")?;
    let _ = logrotate::final_pass(plan, args)?.status();
    Ok(orders)
}
