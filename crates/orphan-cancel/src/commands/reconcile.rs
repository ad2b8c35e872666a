//! `orphan-cancel reconcile`.

use soak_core::exit::ExitCode;
use soak_core::report::{RecordBody, Report};

use super::{FINDING_COLUMNS, load_state};
use crate::TOOL;
use crate::cli::{ExchangeArgs, StateArgs};
use crate::connect::{connect, scope_of};
use crate::order::{self, Order};
use crate::reconcile::{self, FindingKind, Thresholds};

/// Why each kind of finding fails `reconcile`, as its annotation says it.
fn failing_kind(kind: FindingKind) -> Option<&'static str> {
    match kind {
        FindingKind::Orphan => Some("open on the exchange, not in the bot's state"),
        FindingKind::Ghost => Some("open in the bot's state, absent on the exchange"),
        FindingKind::Quarantine => {
            Some("absent on the exchange for longer than --quarantine-after")
        }
        FindingKind::Stale => None,
    }
}

/// `orphan-cancel reconcile`: a finding per difference between the bot's state and the
/// exchange, a failed check per kind of difference that matters.
pub fn reconcile(args: &ExchangeArgs, state: &StateArgs) -> anyhow::Result<Report> {
    let local = load_state(state)?;
    let mut conn = connect(args)?;
    let scope = scope_of(args);
    let open = conn.exchange.list_open(&scope).map_err(|e| conn.fail(e))?;
    let now = order::now_ms();
    let local: Vec<Order> = local
        .into_iter()
        .filter(|o| args.symbol.as_ref().is_none_or(|s| &o.symbol == s))
        .collect();
    let result = reconcile::reconcile(
        &local,
        &open,
        Thresholds {
            stale_after: state.stale_after,
            quarantine_after: state.quarantine_after,
            now_ms: now,
        },
    );
    let name = conn.venue.name();
    let records = result
        .findings
        .iter()
        .map(|f| reconcile::finding_record(f, name, now))
        .collect();
    let body = RecordBody::new(records, &FINDING_COLUMNS)
        .summary(reconcile::summary_record(&result, name)?);
    let mut report = Report::new(TOOL, body).heading("reconcile");
    for kind in [
        FindingKind::Orphan,
        FindingKind::Ghost,
        FindingKind::Quarantine,
    ] {
        let n = result.count(kind);
        if let Some(why) = failing_kind(kind).filter(|_| n > 0) {
            report = report.fail(format!("{n} {} order(s) on {name}: {why}", kind.as_str()));
        }
    }
    debug_assert_eq!(report.exit_code(), ExitCode::from_checks(result.ok()));
    Ok(report)
}
