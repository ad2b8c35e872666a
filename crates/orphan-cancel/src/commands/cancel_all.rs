//! `orphan-cancel cancel-all`, the emergency stop.

use soak_core::record::Record;
use soak_core::report::Report;

use super::{actions_report, cancel_failures, still_open_record, summary_base};
use crate::cli::{ActArgs, ExchangeArgs};
use crate::connect::{connect, refuse_mainnet, scope_of};

/// `orphan-cancel cancel-all`: the exchange's cancel-all for the scope, then a listing that
/// verifies nothing is left open.
pub fn cancel_all(args: &ExchangeArgs, act: &ActArgs) -> anyhow::Result<Report> {
    let (execute, live) = (act.execute, act.live);
    let mut conn = connect(args)?;
    refuse_mainnet(&conn, execute, live)?;
    let scope = scope_of(args);
    let name = conn.venue.name();
    let open = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
    let mut records: Vec<Record> = Vec::new();
    if !execute {
        records.extend(
            open.iter()
                .map(|o| crate::cancel::action_record(name, o, "would_cancel", true, None)),
        );
        let summary = summary_base("cancel-all", name, true)
            .with("open", open.len())
            .with("ok", true);
        return Ok(actions_report("cancel-all", records, summary));
    }
    let reported = conn.exchange.cancel_all(&scope).map_err(|e| conn.fail(e))?;
    let (cancelled, failed, still_open) = match reported {
        Some(n) => {
            let after = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
            for o in &open {
                let left = after.iter().any(|a| a.id == o.id);
                records.push(crate::cancel::action_record(
                    name,
                    o,
                    if left { "failed" } else { "cancelled" },
                    false,
                    None,
                ));
            }
            (n, 0, after)
        }
        None => {
            let report =
                crate::cancel::execute(conn.exchange.as_mut(), &scope, open.clone(), &mut |r| {
                    records.push(r)
                })
                .map_err(|e| conn.fail(e))?;
            (report.cancelled, report.failed, report.still_open)
        }
    };
    for o in &still_open {
        records.push(still_open_record(name, o));
    }
    let ok = still_open.is_empty() && failed == 0;
    let summary = summary_base("cancel-all", name, false)
        .with("open_before", open.len())
        .with("cancelled", cancelled)
        .with("still_open", still_open.len())
        .with("requests", conn.exchange.requests())
        .with("ok", ok);
    let verdict = actions_report("cancel-all", records, summary);
    Ok(cancel_failures(verdict, name, &still_open, failed))
}
