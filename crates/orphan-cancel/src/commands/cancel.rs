//! `orphan-cancel cancel`.

use std::path::PathBuf;

use anyhow::Context;
use soak_core::exit::usage;
use soak_core::input::InputSource;
use soak_core::record::{Finding, Record};
use soak_core::report::Report;

use super::{actions_report, cancel_failures, load_state, still_open_record, summary_base};
use crate::TOOL;
use crate::cli::{ActArgs, ExchangeArgs, StateArgs};
use crate::connect::{Venue, connect, refuse_mainnet, scope_of};
use crate::local_state::FieldMap;
use crate::order::{self, Order};
use crate::reconcile::{self, FindingKind, Thresholds};

/// Longest line `cancel` reads from findings: a finding is a few hundred bytes.
const MAX_FINDING_LINE: u64 = 1 << 20;

/// Reads orphan findings (`reconcile`'s output) from a file or stdin. Anything that is not
/// reconcile's JSONL (a line that is not a JSON object, a field of the wrong type, no record of
/// orphan-cancel at all) is bad input, exit 2 naming the line: it never reads as "no orphans".
/// An orphan is a finding of `kind` `orphan`; findings written before issue 17, which named it
/// in `finding`, are read too (for one release).
fn read_findings(path: Option<&PathBuf>, venue: &str) -> anyhow::Result<Vec<Order>> {
    use std::io::{BufRead, Read};
    let source = path.map_or(InputSource::Stdin, |p| InputSource::File(p.clone()));
    let name = source.display_name();
    let mut reader = source.open().map_err(usage)?;
    // A finding's own field names, over the defaults.
    let finding_fields = FieldMap::default()
        .with_overrides(&["id=order_id".into(), "created=created_ms".into()])
        .map_err(usage)?;
    let mut orders = Vec::new();
    let (mut line, mut ours) = (0u64, 0usize);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = (&mut reader)
            .take(MAX_FINDING_LINE + 1)
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("reading {name}"))?;
        if n == 0 {
            break;
        }
        line += 1;
        if buf.len() as u64 > MAX_FINDING_LINE {
            return Err(usage(format!(
                "{name}:{line}: a line longer than {MAX_FINDING_LINE} bytes: not reconcile's JSONL output"
            )));
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let r: Record = serde_json::from_slice(text).map_err(|e| {
            usage(format!(
                "{name}:{line}: not a JSON record ({e}); expected reconcile's JSONL output"
            ))
        })?;
        if r.tool() == Some(TOOL) {
            ours += 1;
        }
        // `kind`, or for one release the `finding` field reconcile wrote before issue 17.
        if r.tool() != Some(TOOL) || Finding::kind_of(&r) != Some("orphan") {
            continue;
        }
        if let Some(ex) = r
            .get_str("exchange")
            .filter(|e| *e != venue && *e != "file")
        {
            return Err(usage(format!(
                "{name}:{line}: finding is for exchange '{ex}', but --exchange is {venue}"
            )));
        }
        finding_fields
            .check_types(r.fields())
            .map_err(|wrong| usage(format!("{name}:{line}: {wrong}")))?;
        let order = finding_fields
            .order_from_object(r.fields(), None)
            .ok_or_else(|| {
                usage(format!(
                    "{name}:{line}: orphan finding has neither order_id nor client_id"
                ))
            })?;
        orders.push(order);
    }
    if ours == 0 {
        return Err(usage(format!(
            "{name}: no orphan-cancel record in it (expected the JSONL of `orphan-cancel reconcile`: findings and a summary); nothing was cancelled"
        )));
    }
    Ok(orders)
}

/// `orphan-cancel cancel`: the orphans (read from findings, or computed from the state),
/// filtered, re-checked and, with `--execute`, cancelled and verified.
pub fn cancel(
    args: &ExchangeArgs,
    state: &StateArgs,
    findings: Option<PathBuf>,
    filters: &crate::cancel::Filters,
    max_orders: Option<usize>,
    act: &ActArgs,
) -> anyhow::Result<Report> {
    let (execute, live) = (act.execute, act.live);
    let venue = Venue::parse(&args.exchange).map_err(usage)?;
    let local = match &state.state_file {
        Some(_) => Some(load_state(state)?),
        None => None,
    };
    let from_findings = match &local {
        Some(_) => None,
        None => Some(read_findings(findings.as_ref(), venue.name())?),
    };
    let mut conn = connect(args)?;
    refuse_mainnet(&conn, execute, live)?;
    let scope = scope_of(args);
    let open_now = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
    let candidates: Vec<Order> = match (local, from_findings) {
        (Some(local), _) => {
            let t = Thresholds {
                stale_after: state.stale_after,
                quarantine_after: state.quarantine_after,
                now_ms: order::now_ms(),
            };
            reconcile::reconcile(&local, &open_now, t)
                .findings
                .into_iter()
                .filter(|f| f.kind == FindingKind::Orphan)
                .map(|f| f.order)
                .collect()
        }
        (None, Some(f)) => f,
        (None, None) => Vec::new(),
    };
    let targets: Vec<Order> = candidates
        .into_iter()
        .filter(|o| filters.admits(o))
        .collect();
    if let Some(max) = max_orders
        && targets.len() > max
    {
        return Err(usage(format!(
            "{} orders match, more than --max-orders {max}; nothing was cancelled (narrow with --symbol/--client-id-prefix or raise the limit)",
            targets.len()
        )));
    }
    let (live_targets, gone) = crate::cancel::recheck(&targets, &open_now);
    let name = conn.venue.name();
    let mut records: Vec<Record> = gone
        .iter()
        .map(|o| crate::cancel::action_record(name, o, "already_gone", !execute, None))
        .collect();
    if !execute {
        records.extend(
            live_targets
                .iter()
                .map(|o| crate::cancel::action_record(name, o, "would_cancel", true, None)),
        );
        let summary = summary_base("cancel", name, true)
            .with("targeted", live_targets.len())
            .with("already_gone", gone.len())
            .with("ok", true);
        return Ok(actions_report("cancel", records, summary));
    }
    let report = crate::cancel::execute(conn.exchange.as_mut(), &scope, live_targets, &mut |r| {
        records.push(r)
    })
    .map_err(|e| conn.fail(e))?;
    for o in &report.still_open {
        records.push(still_open_record(name, o));
    }
    let ok = report.still_open.is_empty() && report.failed == 0;
    let summary = summary_base("cancel", name, false)
        .with("targeted", report.targeted)
        .with("cancelled", report.cancelled)
        .with("already_gone", report.already_gone + gone.len())
        .with("failed", report.failed)
        .with("still_open", report.still_open.len())
        .with("requests", report.requests)
        .with("elapsed_s", (report.elapsed_s * 1000.0).round() / 1000.0)
        .with("ok", ok);
    let verdict = actions_report("cancel", records, summary);
    Ok(cancel_failures(
        verdict,
        name,
        &report.still_open,
        report.failed,
    ))
}
