//! The subcommands, each returning what it found as a [`Report`] (dead-man, which streams,
//! returns its exit code), and what they share: the state, the columns, the summaries.

pub mod cancel;
pub mod cancel_all;
pub mod dead_man;
pub mod reconcile;

use soak_core::exit::usage;
use soak_core::record::{Finding, Record, RecordType, Severity};
use soak_core::report::{RecordBody, Report};

use crate::TOOL;
use crate::cli::StateArgs;
use crate::local_state::{self, FieldMap, StateFormat};
use crate::order::Order;

/// The bot's orders from `--state-file` (exit 2 naming the file and line when malformed).
pub(crate) fn load_state(state: &StateArgs) -> anyhow::Result<Vec<Order>> {
    let path = state
        .state_file
        .as_ref()
        .ok_or_else(|| usage("--state-file FILE is required (the bot's own orders)"))?;
    let map = FieldMap::default()
        .with_overrides(&state.fields)
        .map_err(usage)?;
    let format = state
        .state_format
        .unwrap_or_else(|| StateFormat::from_path(path));
    local_state::load(path, format, &state.query, &map).map_err(usage)
}

/// The columns of `reconcile`'s table.
pub(crate) const FINDING_COLUMNS: [&str; 9] = [
    "kind",
    "symbol",
    "side",
    "qty",
    "order_id",
    "client_id",
    "local_status",
    "age_s",
    "reason",
];
/// The columns of the cancelling commands' tables.
pub(crate) const ACTION_COLUMNS: [&str; 7] = [
    "action",
    "symbol",
    "side",
    "order_id",
    "client_id",
    "result",
    "dry_run",
];

/// The report of a command that cancels: its `action` (and `still_open`) records and summary.
pub(crate) fn actions_report(command: &str, records: Vec<Record>, summary: Record) -> Report {
    Report::new(
        TOOL,
        RecordBody::new(records, &ACTION_COLUMNS).summary(summary),
    )
    .heading(command)
}

/// Fails `report` for each order still open after cancelling and for cancels that failed.
pub(crate) fn cancel_failures(
    mut report: Report,
    exchange: &str,
    still_open: &[Order],
    failed: usize,
) -> Report {
    for o in still_open {
        report = report.fail(format!(
            "{} still open on {exchange} after cancelling",
            o.named()
        ));
    }
    if failed > 0 {
        report = report.fail(format!("{failed} cancel(s) failed on {exchange}"));
    }
    report
}

/// The fields every cancelling command's summary starts with.
pub(crate) fn summary_base(command: &str, exchange: &str, dry_run: bool) -> Record {
    Record::new(RecordType::Summary, TOOL)
        .with("command", command)
        .with("exchange", exchange)
        .with("dry_run", dry_run)
}

/// The finding of an order still open after cancelling (critical: the cancel did not take).
pub(crate) fn still_open_record(exchange: &str, o: &Order) -> Record {
    let reason = "still open on the exchange after cancelling";
    Finding::new(
        "still_open",
        Severity::Critical,
        format!("{} {reason}", o.named()),
    )
    .with("exchange", exchange)
    .with("symbol", o.symbol.as_str())
    .with("order_id", o.id.as_str())
    .with("client_id", o.client_id.clone())
    .with("reason", reason)
    .into_record(TOOL)
}
