//! Cancelling orphans safely: filter, limit the blast radius, re-check against the exchange,
//! cancel in batches with retry rounds, and verify with a final listing.

use std::collections::HashSet;
use std::time::Instant;

use soak_core::record::{Record, RecordType};

use crate::exchange::{CancelOutcome, CancelResult, Exchange, ExchangeError, Scope};
use crate::order::Order;

/// Which orphans may be cancelled.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    /// Only this instrument.
    pub symbol: Option<String>,
    /// Only this Bybit category.
    pub category: Option<String>,
    /// Only orders whose client id starts with this (orders the bot tagged).
    pub client_id_prefix: Option<String>,
}

impl Filters {
    /// True when `o` passes every filter.
    pub fn admits(&self, o: &Order) -> bool {
        self.symbol.as_ref().is_none_or(|s| &o.symbol == s)
            && self
                .category
                .as_ref()
                .is_none_or(|c| o.category.as_ref().is_none_or(|oc| oc == c))
            && self.client_id_prefix.as_ref().is_none_or(|p| {
                o.client_id
                    .as_ref()
                    .is_some_and(|c| c.starts_with(p.as_str()))
            })
    }
}

/// Totals of a cancel run.
#[derive(Debug, Clone, Default)]
pub struct CancelReport {
    /// Orders targeted after filtering.
    pub targeted: usize,
    /// Cancelled by this run.
    pub cancelled: usize,
    /// Already gone when we asked (or when re-checked).
    pub already_gone: usize,
    /// Still failing after every round.
    pub failed: usize,
    /// Targets the final listing still shows open.
    pub still_open: Vec<Order>,
    /// Requests sent.
    pub requests: u64,
    /// Wall time, seconds.
    pub elapsed_s: f64,
}

/// Retry rounds for orders whose cancel failed (each round is itself retried by the transport).
pub const ROUNDS: usize = 3;

fn key(o: &Order) -> (String, String) {
    (o.id.clone(), o.client_id.clone().unwrap_or_default())
}

fn is_same(a: &Order, b: &Order) -> bool {
    (!a.id.is_empty() && a.id == b.id)
        || (a.client_id.is_some()
            && a.client_id == b.client_id
            && !a.client_id.as_deref().unwrap_or("").is_empty())
}

/// The targets still open on the exchange now (fresh data: the findings may be old), each
/// replaced by the exchange's current view of it; and those already gone.
pub fn recheck(targets: &[Order], open_now: &[Order]) -> (Vec<Order>, Vec<Order>) {
    let mut live = Vec::new();
    let mut gone = Vec::new();
    for t in targets {
        match open_now.iter().find(|o| is_same(t, o)) {
            Some(o) => live.push(o.clone()),
            None => gone.push(t.clone()),
        }
    }
    (live, gone)
}

/// An `action` record for one order.
pub fn action_record(
    exchange: &str,
    o: &Order,
    result: &str,
    dry_run: bool,
    message: Option<&str>,
) -> Record {
    Record::new(RecordType::Action, "orphan-cancel")
        .with("action", "cancel")
        .with("exchange", exchange)
        .with("category", o.category.clone())
        .with("symbol", o.symbol.as_str())
        .with("side", o.side.as_str())
        .with("qty", o.qty.clone())
        .with("order_id", o.id.as_str())
        .with("client_id", o.client_id.clone())
        .with("result", result)
        .with("message", message.map(str::to_string))
        .with("dry_run", dry_run)
}

/// Cancels `live` (already re-checked) and verifies. `emit` receives each action record.
pub fn execute(
    ex: &mut dyn Exchange,
    scope: &Scope,
    live: Vec<Order>,
    emit: &mut dyn FnMut(Record),
) -> Result<CancelReport, ExchangeError> {
    let started = Instant::now();
    let name = ex.name();
    let mut report = CancelReport {
        targeted: live.len(),
        ..Default::default()
    };
    let targets = live.clone();
    let mut pending = live;
    for round in 1..=ROUNDS {
        if pending.is_empty() {
            break;
        }
        let mut failed: Vec<CancelOutcome> = Vec::new();
        ex.cancel(
            scope,
            &pending,
            &mut |out: CancelOutcome| match out.result {
                CancelResult::Failed => failed.push(out),
                r => {
                    if r == CancelResult::Cancelled {
                        report.cancelled += 1;
                    } else {
                        report.already_gone += 1;
                    }
                    emit(action_record(
                        name,
                        &out.order,
                        r.as_str(),
                        false,
                        out.message.as_deref(),
                    ));
                }
            },
        )?;
        if round == ROUNDS {
            for out in &failed {
                emit(action_record(
                    name,
                    &out.order,
                    "failed",
                    false,
                    out.message.as_deref(),
                ));
            }
            report.failed = failed.len();
        }
        pending = failed.into_iter().map(|o| o.order).collect();
    }
    let open_now = ex.list_open(scope)?;
    let wanted: HashSet<(String, String)> = targets.iter().map(key).collect();
    report.still_open = open_now
        .into_iter()
        .filter(|o| wanted.contains(&key(o)) || targets.iter().any(|t| is_same(t, o)))
        .collect();
    report.requests = ex.requests();
    report.elapsed_s = started.elapsed().as_secs_f64();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(id: &str, client: Option<&str>, symbol: &str) -> Order {
        Order {
            id: id.into(),
            client_id: client.map(str::to_string),
            symbol: symbol.into(),
            category: Some("linear".into()),
            ..Default::default()
        }
    }

    #[test]
    fn client_id_prefix_leaves_manual_orders_alone() {
        let f = Filters {
            client_id_prefix: Some("BOT_".into()),
            ..Default::default()
        };
        assert!(f.admits(&o("1", Some("BOT_7"), "BTCUSDT")));
        assert!(!f.admits(&o("2", Some("manual-hedge"), "BTCUSDT")));
        assert!(!f.admits(&o("3", None, "BTCUSDT")));
        let f = Filters {
            symbol: Some("ETHUSDT".into()),
            category: Some("spot".into()),
            ..Default::default()
        };
        assert!(!f.admits(&o("1", None, "BTCUSDT")));
        assert!(
            !f.admits(&o("1", None, "ETHUSDT")),
            "category linear is not spot"
        );
    }

    #[test]
    fn recheck_splits_live_and_gone_by_id_or_client_id() {
        let targets = vec![
            o("1", None, "X"),
            o("", Some("BOT_2"), "X"),
            o("3", None, "X"),
        ];
        let open = vec![o("1", None, "X"), o("2", Some("BOT_2"), "X")];
        let (live, gone) = recheck(&targets, &open);
        assert_eq!(
            live.iter().map(|o| o.id.as_str()).collect::<Vec<_>>(),
            vec!["1", "2"]
        );
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].id, "3");
    }
}
