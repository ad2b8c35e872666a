//! The Orphan orders row: orphan-cancel reconcile's summary after the run.

use super::super::exchange::Orders;
use super::super::verdict::Row;
use super::Inputs;

/// Orphans: open on the exchange and unknown to the bot after the run.
pub fn orders_row(i: &Inputs<'_>) -> Row {
    match i.orders {
        None => Row::skipped(
            "Orphan orders",
            "0".into(),
            "no exchange configured (--exchange, --state-file)",
        ),
        Some(Orders::Unchecked(why)) => {
            Row::measured("Orphan orders", "0".into(), "-".into(), false, why.clone())
        }
        Some(Orders::Reconciled(o)) => {
            let orphans = o.orphans;
            let tracked = o.matched;
            Row::measured(
                "Orphan orders",
                "0".into(),
                orphans.to_string(),
                orphans == 0,
                format!(
                    "open on the exchange and unknown to the bot (orphan-cancel reconcile); {tracked} more still open that the bot tracks; {} ghosts{}",
                    o.ghosts,
                    if i.args.cancel_orphans {
                        "; orphans cancelled, see cancel.jsonl"
                    } else {
                        ""
                    }
                ),
            )
        }
    }
}
